/* Comparison of two runs for `reprise compare`: overall and per endpoint,
 * p50/p95/p99 of response time and the error rate, side by side, each
 * change judged against a tolerance and a significance test.
 *
 * A latency row is a regression when the candidate is slower by more than
 * the tolerance (relative) and a one-sided test at level alpha finds the
 * rise unlikely to be noise:
 *   - overall, when both runs have at least RP_COMPARE_MIN_SECONDS seconds
 *     with at least RP_COMPARE_MIN_SECOND_RESPONSES responses: the
 *     Mann-Whitney U test on the per-second values of that percentile
 *     (normal approximation, tie and continuity corrections), so that the
 *     second-to-second variation of each run sets the noise level;
 *   - otherwise (endpoints, short or slow runs): the distribution-free
 *     confidence intervals of the percentile (order statistics, binomial
 *     normal approximation, level 1 - alpha) of the two runs' histograms
 *     must not overlap. Requests within a run are not independent, so this
 *     test is the weaker of the two; the tolerance guards against it.
 * An error-rate row is a regression when the candidate's rate exceeds the
 * base's by more than error_tolerance (absolute) and a one-sided pooled
 * two-proportion z test gives p < alpha.
 * alpha is the family-wise level of the whole comparison: each of the m
 * rows is tested at alpha / m (Bonferroni), so that comparing many
 * endpoints does not turn chance differences into regressions.
 */
#ifndef RP_COMPARE_H
#define RP_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "replay/results.h"

#define RP_COMPARE_MIN_SECONDS 5
#define RP_COMPARE_MIN_SECOND_RESPONSES 10

typedef struct rp_compare_opts {
    double tolerance;         /* relative latency change, e.g. 0.10 */
    double error_tolerance;   /* absolute error-rate change, e.g. 0.005 */
    double alpha;             /* family-wise significance level, e.g. 0.01 */
    size_t top;               /* endpoints compared, by base requests */
} rp_compare_opts;

enum rp_compare_verdict {
    RP_CMP_OK,                /* within tolerance */
    RP_CMP_NOISE,             /* beyond tolerance, not significant */
    RP_CMP_REGRESSION,
    RP_CMP_IMPROVED,          /* better beyond tolerance, significant */
    RP_CMP_NO_DATA            /* a side has nothing to measure */
};

enum rp_compare_test {
    RP_CMP_TEST_NONE,
    RP_CMP_TEST_U,            /* Mann-Whitney U on per-second values */
    RP_CMP_TEST_QUANTILE_CI,  /* non-overlapping order-statistic intervals */
    RP_CMP_TEST_PROPORTIONS   /* two-proportion z test */
};

typedef struct rp_compare_row {
    char method[16];          /* "" for the whole run */
    char scope[512];          /* "overall" or an endpoint name */
    char metric[16];          /* "p50", "p95", "p99", "error rate" */
    int is_rate;              /* values are fractions, else microseconds */
    double base, cand;
    double change;            /* cand - base */
    double rel_change;        /* change / base; 0 when base is 0 */
    int test;                 /* enum rp_compare_test */
    double p_value;           /* one-sided, towards the observed direction;
                                 1 when not computed */
    double base_lo, base_hi, cand_lo, cand_hi;   /* quantile CI bounds */
    size_t base_n, cand_n;    /* samples the test used: seconds or requests */
    int verdict;              /* enum rp_compare_verdict */
} rp_compare_row;

typedef struct rp_compare {
    rp_compare_row *rows;
    size_t count, cap;
    size_t regressions;
    size_t only_base, only_cand;   /* endpoints in one run only (not compared) */
    double row_alpha;              /* the level each row was tested at */
} rp_compare;

void rp_compare_opts_init(rp_compare_opts *o);

/* Compares cand with base (both finished). Returns 0, or -1 when out of
 * memory. */
int rp_compare_run(const rp_results *base, const rp_results *cand,
                   const rp_compare_opts *o, rp_compare *out);

void rp_compare_free(rp_compare *c);

/* One-sided p-values of the Mann-Whitney U test for b being larger than a
 * (*p_greater) and smaller (*p_less). Both 1 when a side is empty or all
 * values tie. */
void rp_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                     double *p_greater, double *p_less);

/* Confidence interval, level 1 - alpha, of percentile p of h's values.
 * Returns -1 when h is empty. */
int rp_quantile_ci(const rp_hist *h, double p, double alpha, uint64_t *lo, uint64_t *hi);

/* One-sided p-value that rate x2/n2 exceeds x1/n1 (pooled z test). */
double rp_two_proportion_p(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2);

/* The standard normal upper quantile: z with P(Z > z) = q, 0 < q < 1. */
double rp_normal_upper_quantile(double q);

#endif
