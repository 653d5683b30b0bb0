/* Thresholds for CI: expressions such as 'p95 > 250ms', 'error_rate > 1%',
 * 'endpoint /api/search p99 > 1s' or k6's 'p(95)<250', parsed once before a
 * run and evaluated against its results. docs/thresholds.md is the grammar.
 *
 * Two forms, distinguished by spelling:
 *   reprise form  [endpoint [METHOD] PATH] [SOURCE] STAT OP VALUE
 *                 states a failure: the threshold fails when it is true.
 *                 Times carry a unit (250ms), rates a % or a fraction.
 *   k6 form       [endpoint [METHOD] PATH] [K6METRIC[:]] AGG OP NUMBER
 *                 with AGG one of p(N), avg, med, min, max, rate, count and
 *                 NUMBER unitless (times in milliseconds): states what must
 *                 hold, as in k6, so the threshold fails when it is false.
 * min and max followed by a unitless number are read as k6 forms; the
 * other k6 spellings with a unit are rejected.
 */
#ifndef RP_THRESHOLD_H
#define RP_THRESHOLD_H

#include <stddef.h>

#include "replay/results.h"

enum rp_threshold_source {
    RP_TH_RESPONSE_TIME,      /* done - due */
    RP_TH_SERVICE_TIME,       /* done - send */
    RP_TH_TTFB                /* first byte - send */
};

enum rp_threshold_stat {
    RP_TH_PERCENTILE,         /* value in microseconds */
    RP_TH_MEAN,
    RP_TH_MIN,
    RP_TH_MAX,
    RP_TH_ERROR_RATE,         /* failures / requests due, a fraction */
    RP_TH_RPS,                /* completed requests per second of the run */
    RP_TH_REQUESTS,           /* requests due */
    RP_TH_FAILURES
};

enum rp_threshold_op { RP_TH_LT, RP_TH_LE, RP_TH_GT, RP_TH_GE, RP_TH_EQ, RP_TH_NE };

typedef struct rp_threshold {
    char text[256];           /* the expression as given */
    int k6;                   /* k6 form: fails when the comparison is false */
    char method[16];          /* endpoint scope: a method, or "" for any */
    char endpoint[512];       /* endpoint scope: a path; "" for the whole run */
    int source;               /* enum rp_threshold_source */
    int stat;                 /* enum rp_threshold_stat */
    double percentile;        /* RP_TH_PERCENTILE: 0 to 100 */
    int op;                   /* enum rp_threshold_op */
    double value;             /* in the stat's unit (see above) */
} rp_threshold;

enum { RP_TH_NO_RESPONSES = 1, RP_TH_NO_ENDPOINT = 2 };

typedef struct rp_threshold_outcome {
    int failed;
    int no_data;              /* 0, or why nothing could be measured (the
                                 threshold then fails): RP_TH_NO_RESPONSES
                                 for a time statistic, RP_TH_NO_ENDPOINT */
    double observed;          /* in the stat's unit */
} rp_threshold_outcome;

/* The accepted grammar with examples, several lines, for error messages
 * and help text. */
const char *rp_threshold_grammar(void);

/* Parses text into t. Returns 0, or -1 with err saying what is wrong (the
 * caller adds rp_threshold_grammar()). */
int rp_threshold_parse(const char *text, rp_threshold *t, char *err, size_t errlen);

/* Evaluates t against r (finished). Returns 0, or -1 when out of memory. */
int rp_threshold_evaluate(const rp_threshold *t, const rp_results *r, rp_threshold_outcome *out);

/* Writes one line: "pass" or "FAIL", the expression, and what was
 * measured, e.g. "FAIL  p95 > 250ms  (p95 response time: 312.0ms)". */
void rp_threshold_describe(const rp_threshold *t, const rp_threshold_outcome *o,
                           char *buf, size_t len);

#endif
