/* HDR-style histogram: precision against exact percentiles, range, merge. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "replay/hist.h"

/* Exact percentile of sorted values, with HdrHistogram's rank rule. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    uint64_t rank = (uint64_t)(p / 100.0 * (double)n + 0.5);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Relative difference within 0.1%, or exact for small values. */
static int close_enough(uint64_t got, uint64_t want)
{
    double diff = fabs((double)got - (double)want);
    return diff <= 0.001 * (double)want || diff < 1.0;
}

static const double pcts[] = { 1, 10, 50, 90, 95, 99, 99.9, 99.99, 100 };

TEST(hist_empty)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    CHECK(h != NULL);
    CHECK_EQ_INT(rp_hist_count(h), 0);
    CHECK_EQ_INT(rp_hist_percentile(h, 50), 0);
    CHECK_EQ_INT(rp_hist_max(h), 0);
    CHECK(rp_hist_mean(h) == 0.0);
    rp_hist_free(h);
}

TEST(hist_bad_arguments)
{
    CHECK(rp_hist_new(RP_HIST_HOUR_US, 0) == NULL);
    CHECK(rp_hist_new(RP_HIST_HOUR_US, 6) == NULL);
    CHECK(rp_hist_new(1, 3) == NULL);
}

TEST(hist_small_values_exact)
{
    /* Below 2048 every value has its own slot at 3 significant digits. */
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    for (uint64_t v = 0; v < 2000; v++)
        rp_hist_record(h, v);
    CHECK_EQ_INT(rp_hist_percentile(h, 50), 999);
    CHECK_EQ_INT(rp_hist_percentile(h, 90), 1799);
    CHECK_EQ_INT(rp_hist_min(h), 0);
    CHECK_EQ_INT(rp_hist_max(h), 1999);
    CHECK_EQ_INT(rp_hist_percentile(h, 100), 1999);
    rp_hist_free(h);
}

TEST(hist_uniform_percentiles)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    const uint64_t n = 1000000;
    for (uint64_t v = 1; v <= n; v++)
        rp_hist_record(h, v);

    CHECK_EQ_INT(rp_hist_count(h), n);
    CHECK_EQ_INT(rp_hist_min(h), 1);
    CHECK_EQ_INT(rp_hist_max(h), n);
    CHECK(fabs(rp_hist_mean(h) - 500000.5) < 1e-6);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        uint64_t want = (uint64_t)(pcts[i] / 100.0 * (double)n + 0.5);
        uint64_t got = rp_hist_percentile(h, pcts[i]);
        if (!close_enough(got, want))
            fprintf(stderr, "  p%g: got %llu, exact %llu\n", pcts[i],
                    (unsigned long long)got, (unsigned long long)want);
        CHECK(close_enough(got, want));
        CHECK(got >= want);   /* the slot's highest equivalent value */
    }
    rp_hist_free(h);
}

/* A long-tailed distribution from 10 us to about an hour, drawn from a
 * fixed-seed generator, compared with exact order statistics. */
TEST(hist_log_uniform_percentiles)
{
    const size_t n = 200000;
    uint64_t *values = malloc(n * sizeof *values);
    CHECK(values != NULL);
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    uint64_t state = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double u = (double)(state >> 11) / 9007199254740992.0;
        values[i] = (uint64_t)(10.0 * pow(3.6e8, u));
        rp_hist_record(h, values[i]);
    }
    qsort(values, n, sizeof *values, cmp_u64);

    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        uint64_t want = exact_percentile(values, n, pcts[i]);
        uint64_t got = rp_hist_percentile(h, pcts[i]);
        if (!close_enough(got, want))
            fprintf(stderr, "  p%g: got %llu, exact %llu\n", pcts[i],
                    (unsigned long long)got, (unsigned long long)want);
        CHECK(close_enough(got, want));
    }
    CHECK_EQ_INT(rp_hist_max(h), values[n - 1]);
    CHECK_EQ_INT(rp_hist_min(h), values[0]);
    free(values);
    rp_hist_free(h);
}

TEST(hist_covers_an_hour)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    rp_hist_record(h, 1);
    rp_hist_record(h, RP_HIST_HOUR_US);
    CHECK_EQ_INT(rp_hist_saturated(h), 0);
    CHECK_EQ_INT(rp_hist_max(h), RP_HIST_HOUR_US);
    CHECK(close_enough(rp_hist_percentile(h, 99), RP_HIST_HOUR_US));
    CHECK_EQ_INT(rp_hist_percentile(h, 10), 1);
    rp_hist_free(h);
}

TEST(hist_saturates_above_range)
{
    rp_hist *h = rp_hist_new(1000000, 3);
    rp_hist_record(h, 5000000);
    rp_hist_record(h, 10);
    CHECK_EQ_INT(rp_hist_saturated(h), 1);
    CHECK_EQ_INT(rp_hist_count(h), 2);
    CHECK_EQ_INT(rp_hist_max(h), 5000000);
    CHECK(rp_hist_percentile(h, 100) >= 1000000);
    CHECK(fabs(rp_hist_mean(h) - 2500005.0) < 1e-6);
    rp_hist_free(h);
}

TEST(hist_merge_equals_single)
{
    rp_hist *a = rp_hist_new(RP_HIST_HOUR_US, 3);
    rp_hist *b = rp_hist_new(RP_HIST_HOUR_US, 3);
    rp_hist *all = rp_hist_new(RP_HIST_HOUR_US, 3);
    for (uint64_t v = 1; v <= 300000; v++) {
        rp_hist *half = v % 3 == 0 ? a : b;
        rp_hist_record(half, v * 7);
        rp_hist_record(all, v * 7);
    }
    CHECK_EQ_INT(rp_hist_merge(a, b), 0);
    CHECK_EQ_INT(rp_hist_count(a), rp_hist_count(all));
    CHECK_EQ_INT(rp_hist_min(a), rp_hist_min(all));
    CHECK_EQ_INT(rp_hist_max(a), rp_hist_max(all));
    CHECK(fabs(rp_hist_mean(a) - rp_hist_mean(all)) < 1e-6);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        CHECK_EQ_INT(rp_hist_percentile(a, pcts[i]), rp_hist_percentile(all, pcts[i]));
    rp_hist_free(a);
    rp_hist_free(b);
    rp_hist_free(all);
}

TEST(hist_merge_into_empty_and_mismatch)
{
    rp_hist *empty = rp_hist_new(RP_HIST_HOUR_US, 3);
    rp_hist *src = rp_hist_new(RP_HIST_HOUR_US, 3);
    rp_hist *other = rp_hist_new(RP_HIST_HOUR_US, 2);
    rp_hist_record(src, 42);
    rp_hist_record(src, 4200);
    CHECK_EQ_INT(rp_hist_merge(empty, src), 0);
    CHECK_EQ_INT(rp_hist_min(empty), 42);
    CHECK_EQ_INT(rp_hist_max(empty), 4200);
    CHECK_EQ_INT(rp_hist_merge(other, src), -1);
    CHECK_EQ_INT(rp_hist_count(other), 0);
    rp_hist_free(empty);
    rp_hist_free(src);
    rp_hist_free(other);
}

struct walk { uint64_t total, last_high; int ordered; };

static void walk_bucket(void *ctx, uint64_t low, uint64_t high, uint64_t count)
{
    struct walk *w = ctx;
    if (low > high || (w->total > 0 && low <= w->last_high))
        w->ordered = 0;
    w->last_high = high;
    w->total += count;
}

TEST(hist_foreach_and_reset)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    for (uint64_t v = 0; v < 100000; v += 13)
        rp_hist_record(h, v * v);
    struct walk w = { .ordered = 1 };
    rp_hist_foreach(h, walk_bucket, &w);
    CHECK_EQ_INT(w.total, rp_hist_count(h));
    CHECK(w.ordered);

    rp_hist_reset(h);
    CHECK_EQ_INT(rp_hist_count(h), 0);
    CHECK_EQ_INT(rp_hist_percentile(h, 99), 0);
    rp_hist_record(h, 7);
    CHECK_EQ_INT(rp_hist_percentile(h, 50), 7);
    rp_hist_free(h);
}
