/* The results keys of the JSON run report (docs/report-results.md):
 * error_rate, failures, outcomes, histograms, endpoints, status_classes
 * and series. They hold every histogram in HdrHistogram's compressed V2
 * encoding, so a report read back gives the same figures and reports of
 * shards merge exactly. */
#ifndef RP_RESULTS_JSON_H
#define RP_RESULTS_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "replay/results.h"

/* Finishes r and adds its keys to report (replacing keys of the same
 * name). Returns 0, or -1 with err filled (out of memory). */
int rp_results_to_json(rp_results *r, json_t *report, char *err, size_t errlen);

/* Rebuilds results from a report that has the keys above. name labels
 * messages (e.g. the file name). Returns 0, or -1 with err naming the key
 * that is missing or invalid. */
int rp_results_from_json(const json_t *report, const char *name, rp_results **out,
                         char *err, size_t errlen);

/* Reads a JSON report file into *out (caller decrefs). Returns 0, or with
 * err naming the file and the problem -1, or -2 when the file is JSON but
 * not a run report. */
int rp_results_load_report(const char *path, json_t **out, char *err, size_t errlen);

/* Writes report to path with two-space indentation and a final newline.
 * Returns 0, or -1 with err filled. */
int rp_results_save_report(const char *path, const json_t *report, char *err, size_t errlen);

/* Percentile object of h in microseconds, with the keys of the core
 * report's latency_us: p50 p90 p95 p99 p999 max min mean count. */
json_t *rp_results_percentiles_json(const rp_hist *h);

#endif
