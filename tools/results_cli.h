/* Command-line pieces around rp_results shared by the verbs that show
 * results (replay, report): --fail-if thresholds and the summary tables. */
#ifndef RP_RESULTS_CLI_H
#define RP_RESULTS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "formats/threshold.h"
#include "replay/results.h"

/* Exit status when the run completed but a --fail-if threshold failed. */
#define RP_EXIT_THRESHOLD 3

typedef struct rp_cli_thresholds {
    rp_threshold *items;
    size_t count, cap;
    char **lines;             /* after rp_cli_thresholds_check: one line each */
} rp_cli_thresholds;

/* Parses one --fail-if expression and keeps it. On a bad expression,
 * prints "reprise VERB: invalid threshold ...", the accepted grammar, and
 * returns RP_EXIT_USAGE; returns 0 otherwise. */
int rp_cli_thresholds_add(rp_cli_thresholds *t, const char *verb, const char *text);

/* Evaluates every threshold against r and prints one pass/FAIL line each
 * under a "thresholds" heading. Returns the number that failed, or -1
 * when out of memory. */
int rp_cli_thresholds_check(rp_cli_thresholds *t, const rp_results *r, FILE *out);

void rp_cli_thresholds_free(rp_cli_thresholds *t);

/* Response time, service time, time to first byte and send lag:
 * p50 p90 p95 p99 p99.9 max. */
void rp_cli_print_latency(const rp_results *r, FILE *out);

/* The results part of a run summary: latency table, failures, endpoints. */
void rp_cli_print_results(const rp_results *r, FILE *out, size_t top);

#endif
