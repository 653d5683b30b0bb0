/* Files and terminal tables made from rp_results: the per-second series
 * as CSV, Locust's CSV layout, the HdrHistogram interval log, and the
 * failure and endpoint tables of the summary. docs/report-results.md
 * describes the columns. */
#ifndef RP_RESULTS_OUT_H
#define RP_RESULTS_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/results.h"

#define RP_RESULTS_DEFAULT_TOP 10   /* endpoints a table shows */

/* The per-second series, one CSV row per second. Returns 0, or -1 with err
 * naming the file. */
int rp_results_write_series_csv(rp_results *r, const char *path, char *err, size_t errlen);

/* PREFIX_stats.csv, PREFIX_stats_history.csv and PREFIX_failures.csv with
 * the column headers of Locust 2.x, so tools made for Locust's --csv
 * output read them. Returns 0, or -1 with err naming the file. */
int rp_results_write_locust_csv(rp_results *r, const char *prefix, char *err, size_t errlen);

/* Response time of each second as an HdrHistogram interval log, format
 * version 1.3: values in microseconds, Interval_Max in milliseconds. */
int rp_results_write_hlog(rp_results *r, const char *path, char *err, size_t errlen);

/* Failures, error rate and the failure rules, a few lines for a summary. */
void rp_results_print_failures(const rp_results *r, FILE *out);

/* The top endpoints by requests, with p50/p95/p99 of response time and
 * error rate; the rest in one "(other)" row. */
void rp_results_print_endpoints(const rp_results *r, FILE *out, size_t top);

/* Formats microseconds as 850us, 12.34ms or 1.520s. */
const char *rp_results_fmt_us(uint64_t us, char *buf, size_t len);

#endif
