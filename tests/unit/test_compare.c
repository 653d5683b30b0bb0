/* Run comparison: the statistical tests against hand-computed values, and
 * verdicts on runs with a known shift and on equal runs. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "formats/compare.h"
#include "replay/results.h"

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol))

TEST(mann_whitney_known_values)
{
    /* No ties: U = 9 of 9, mean 4.5, variance 5.25, z = 1.7457. */
    double a[] = { 1, 2, 3 }, b[] = { 4, 5, 6 };
    double greater, less;
    rp_mann_whitney(a, 3, b, 3, &greater, &less);
    CHECK(NEAR(greater, 0.040428, 1e-5));
    CHECK(less > 0.98);

    /* Ties: rank sum of b 47.5, U 26.5, tie term 18, variance 29.5909,
     * z = 2.02214, p = 0.021583. */
    double c[] = { 1, 1, 2, 3, 5 }, d[] = { 2, 4, 6, 7, 7, 8 };
    rp_mann_whitney(c, 5, d, 6, &greater, &less);
    CHECK(NEAR(greater, 0.021583, 1e-5));
    rp_mann_whitney(d, 6, c, 5, &greater, &less);
    CHECK(NEAR(less, 0.021583, 1e-5));

    double same[] = { 7, 7, 7 };
    rp_mann_whitney(same, 3, same, 3, &greater, &less);
    CHECK(greater == 1.0);
    CHECK(less == 1.0);
    rp_mann_whitney(a, 3, b, 0, &greater, &less);
    CHECK(greater == 1.0);
}

TEST(normal_quantile_and_proportions)
{
    CHECK(NEAR(rp_normal_upper_quantile(0.005), 2.575829, 1e-5));
    CHECK(NEAR(rp_normal_upper_quantile(0.5), 0.0, 1e-9));
    /* 10/1000 against 30/1000: pooled 0.02, z = 3.1944. */
    CHECK(NEAR(rp_two_proportion_p(10, 1000, 30, 1000), 0.000700, 2e-6));
    CHECK(rp_two_proportion_p(30, 1000, 10, 1000) > 0.99);
    CHECK(rp_two_proportion_p(0, 1000, 0, 1000) == 1.0);
    CHECK(rp_two_proportion_p(0, 1000, 1, 1000) > 0.1);
}

TEST(quantile_ci_ranks)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    for (uint64_t v = 1; v <= 1000; v++)
        rp_hist_record(h, v);
    uint64_t lo, hi;
    /* n 1000, median: half width 2.5758 * sqrt(250) = 40.73, ranks 459
     * and 542; values below 2048 are exact, so value = rank. */
    CHECK_EQ_INT(rp_quantile_ci(h, 50, 0.01, &lo, &hi), 0);
    CHECK_EQ_INT(lo, 459);
    CHECK_EQ_INT(hi, 542);
    CHECK_EQ_INT(rp_quantile_ci(h, 99, 0.01, &lo, &hi), 0);
    CHECK(lo < 990);
    CHECK(hi > 990);
    CHECK(hi <= 1000);
    rp_hist_reset(h);
    CHECK_EQ_INT(rp_quantile_ci(h, 50, 0.01, &lo, &hi), -1);
    rp_hist_free(h);
}

/* A 30-second run at 50 requests per second to two endpoints, response
 * time base_ms plus noise, and failures per mille of the requests. */
static rp_results *run(double base_ms, uint64_t seed, int failures_per_mille)
{
    rp_results *r = rp_results_new(NULL);
    uint64_t mono = 1000ull * 1000000000ull;
    rp_results_set_clock(r, mono, 1700000000ull * 1000000000ull);
    uint64_t x = seed;
    for (int i = 0; i < 1500; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double noise = (double)(x >> 40) / (double)(1ull << 24);   /* 0 to 1 */
        uint64_t due = mono + (uint64_t)i * 20000000ull;
        uint64_t took = (uint64_t)((base_ms * (0.9 + 0.2 * noise)) * 1e6);
        int fail = (int)((x >> 20) % 1000) < failures_per_mille;
        rp_request_result o = { .due_ns = due, .send_ns = due, .first_byte_ns = due + took / 2,
                                .done_ns = due + took, .method = "GET",
                                .target = i % 2 ? "/a/1" : "/b", .status = fail ? 500 : 200,
                                .kind = RP_RES_RESPONSE };
        rp_results_add(r, &o);
    }
    rp_results_finish(r);
    return r;
}

static const rp_compare_row *row_of(const rp_compare *c, const char *scope, const char *metric)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->rows[i].scope, scope) == 0 && strcmp(c->rows[i].metric, metric) == 0)
            return &c->rows[i];
    return NULL;
}

TEST(compare_flags_known_slowdown)
{
    rp_results *base = run(20, 1, 0), *cand = run(30, 2, 0);
    rp_compare_opts o;
    rp_compare_opts_init(&o);
    rp_compare c;
    CHECK_EQ_INT(rp_compare_run(base, cand, &o, &c), 0);
    const rp_compare_row *p95 = row_of(&c, "overall", "p95");
    CHECK(p95 != NULL);
    CHECK_EQ_INT(p95->test, RP_CMP_TEST_U);
    CHECK_EQ_INT(p95->base_n, 30);
    CHECK(p95->rel_change > 0.45);
    CHECK(p95->rel_change < 0.55);
    CHECK(p95->p_value < 1e-6);
    CHECK_EQ_INT(p95->verdict, RP_CMP_REGRESSION);
    const rp_compare_row *ep = row_of(&c, "/a/{id}", "p50");
    CHECK(ep != NULL);
    CHECK_EQ_INT(ep->test, RP_CMP_TEST_QUANTILE_CI);
    CHECK_EQ_INT(ep->verdict, RP_CMP_REGRESSION);
    CHECK(ep->cand_lo > ep->base_hi);
    /* Overall and both endpoints, p50, p95 and p99. */
    CHECK_EQ_INT(c.regressions, 9);
    rp_compare_free(&c);

    /* The other way round it is an improvement, not a regression. */
    CHECK_EQ_INT(rp_compare_run(cand, base, &o, &c), 0);
    CHECK_EQ_INT(c.regressions, 0);
    CHECK_EQ_INT(row_of(&c, "overall", "p95")->verdict, RP_CMP_IMPROVED);
    rp_compare_free(&c);
    rp_results_free(base);
    rp_results_free(cand);
}

TEST(compare_equal_runs_no_regression)
{
    rp_results *base = run(20, 1, 5), *cand = run(20, 99, 5);
    rp_compare_opts o;
    rp_compare_opts_init(&o);
    rp_compare c;
    CHECK_EQ_INT(rp_compare_run(base, cand, &o, &c), 0);
    CHECK_EQ_INT(c.regressions, 0);
    for (size_t i = 0; i < c.count; i++)
        CHECK(c.rows[i].verdict == RP_CMP_OK);
    CHECK_EQ_INT(c.count, 12);
    rp_compare_free(&c);
    rp_results_free(base);
    rp_results_free(cand);
}

TEST(compare_error_rate_rise)
{
    rp_results *base = run(20, 1, 2), *cand = run(20, 3, 40);
    rp_compare_opts o;
    rp_compare_opts_init(&o);
    rp_compare c;
    CHECK_EQ_INT(rp_compare_run(base, cand, &o, &c), 0);
    const rp_compare_row *e = row_of(&c, "overall", "error rate");
    CHECK(e != NULL);
    CHECK_EQ_INT(e->test, RP_CMP_TEST_PROPORTIONS);
    CHECK(e->change > 0.03);
    CHECK_EQ_INT(e->verdict, RP_CMP_REGRESSION);
    CHECK_EQ_INT(row_of(&c, "overall", "p95")->verdict, RP_CMP_OK);

    /* A tolerance above the rise accepts it. */
    o.error_tolerance = 0.05;
    rp_compare_free(&c);
    CHECK_EQ_INT(rp_compare_run(base, cand, &o, &c), 0);
    CHECK_EQ_INT(row_of(&c, "overall", "error rate")->verdict, RP_CMP_OK);
    rp_compare_free(&c);
    rp_results_free(base);
    rp_results_free(cand);
}
