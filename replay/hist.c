#include "replay/hist.h"

#include <stdlib.h>
#include <string.h>

struct rp_hist {
    uint64_t highest;            /* as created */
    int sig_figs;
    int sub_bucket_half_magnitude;
    uint32_t sub_bucket_count;   /* linear slots per bucket, a power of two */
    uint32_t sub_bucket_half;
    uint64_t sub_bucket_mask;
    int bucket_count;
    size_t counts_len;

    uint64_t total;
    uint64_t min, max;
    uint64_t saturated;
    uint64_t top;                /* largest value with its own slot */
    double sum;
    uint64_t counts[];
};

static int bucket_index(const rp_hist *h, uint64_t v)
{
    int pow2ceiling = 64 - __builtin_clzll(v | h->sub_bucket_mask);
    return pow2ceiling - (h->sub_bucket_half_magnitude + 1);
}

static size_t counts_index(const rp_hist *h, int bucket, uint64_t sub_bucket)
{
    size_t base = (size_t)(bucket + 1) << h->sub_bucket_half_magnitude;
    return base + (size_t)(sub_bucket - h->sub_bucket_half);
}

static size_t index_of(const rp_hist *h, uint64_t v)
{
    int b = bucket_index(h, v);
    return counts_index(h, b, v >> b);
}

/* Lowest value that lands in slot i, and the width of that slot. */
static void slot_range(const rp_hist *h, size_t i, uint64_t *low, uint64_t *width)
{
    int b = (int)(i >> h->sub_bucket_half_magnitude) - 1;
    uint64_t sub = (i & (h->sub_bucket_half - 1)) + h->sub_bucket_half;
    if (b < 0) {
        sub -= h->sub_bucket_half;
        b = 0;
    }
    *low = sub << b;
    *width = (uint64_t)1 << b;
}

int rp_hist_layout(uint64_t highest, int sig_figs, int *sub_magnitude, int *bucket_count)
{
    if (sig_figs < 1 || sig_figs > 5 || highest < 2)
        return -1;

    uint64_t single_unit_max = 2;
    for (int i = 0; i < sig_figs; i++)
        single_unit_max *= 10;
    int magnitude = 0;
    while (((uint64_t)1 << magnitude) < single_unit_max)
        magnitude++;
    uint64_t sub_count = (uint64_t)1 << magnitude;

    /* Buckets double the covered range until it exceeds highest. */
    int buckets = 1;
    uint64_t untrackable = sub_count;
    while (untrackable <= highest) {
        if (untrackable > (UINT64_MAX >> 2)) {
            buckets++;
            break;
        }
        untrackable <<= 1;
        buckets++;
    }
    *sub_magnitude = magnitude;
    *bucket_count = buckets;
    return 0;
}

rp_hist *rp_hist_new(uint64_t highest, int sig_figs)
{
    int sub_magnitude, buckets;
    if (rp_hist_layout(highest, sig_figs, &sub_magnitude, &buckets) < 0)
        return NULL;
    uint64_t sub_count = (uint64_t)1 << sub_magnitude;

    size_t len = (size_t)(buckets + 1) * (sub_count / 2);
    rp_hist *h = calloc(1, sizeof *h + len * sizeof h->counts[0]);
    if (h == NULL)
        return NULL;
    h->highest = highest;
    h->sig_figs = sig_figs;
    h->sub_bucket_half_magnitude = sub_magnitude - 1;
    h->sub_bucket_count = (uint32_t)sub_count;
    h->sub_bucket_half = (uint32_t)(sub_count / 2);
    h->sub_bucket_mask = sub_count - 1;
    h->bucket_count = buckets;
    h->counts_len = len;

    uint64_t low, width;
    slot_range(h, len - 1, &low, &width);
    h->top = low + width - 1;
    return h;
}

void rp_hist_free(rp_hist *h)
{
    free(h);
}

void rp_hist_reset(rp_hist *h)
{
    memset(h->counts, 0, h->counts_len * sizeof h->counts[0]);
    h->total = 0;
    h->min = 0;
    h->max = 0;
    h->saturated = 0;
    h->sum = 0;
}

void rp_hist_record(rp_hist *h, uint64_t value)
{
    uint64_t slot_value = value;
    if (value > h->top) {
        slot_value = h->top;
        h->saturated++;
    }
    h->counts[index_of(h, slot_value)]++;

    if (h->total == 0 || value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->total++;
    h->sum += (double)value;
}

int rp_hist_merge(rp_hist *dst, const rp_hist *src)
{
    if (dst->highest != src->highest || dst->sig_figs != src->sig_figs)
        return -1;
    if (src->total == 0)
        return 0;

    for (size_t i = 0; i < dst->counts_len; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
    dst->saturated += src->saturated;
    dst->sum += src->sum;
    return 0;
}

uint64_t rp_hist_count(const rp_hist *h) { return h->total; }
uint64_t rp_hist_min(const rp_hist *h) { return h->min; }
uint64_t rp_hist_max(const rp_hist *h) { return h->max; }
uint64_t rp_hist_saturated(const rp_hist *h) { return h->saturated; }

double rp_hist_mean(const rp_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

uint64_t rp_hist_percentile(const rp_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p < 0)
        p = 0;
    if (p > 100)
        p = 100;

    /* The rank of the wanted value, rounded to the nearest count and at
     * least 1, as HdrHistogram computes it. */
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;

    uint64_t seen = 0;
    for (size_t i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t low, width;
            slot_range(h, i, &low, &width);
            uint64_t high = low + width - 1;
            return high < h->max ? high : h->max;
        }
    }
    return h->max;
}

void rp_hist_foreach(const rp_hist *h,
                     void (*fn)(void *ctx, uint64_t low, uint64_t high,
                                uint64_t count),
                     void *ctx)
{
    for (size_t i = 0; i < h->counts_len; i++) {
        if (h->counts[i] == 0)
            continue;
        uint64_t low, width;
        slot_range(h, i, &low, &width);
        fn(ctx, low, low + width - 1, h->counts[i]);
    }
}

void rp_hist_record_n(rp_hist *h, uint64_t value, uint64_t count)
{
    if (count == 0)
        return;
    uint64_t slot_value = value;
    if (value > h->top) {
        slot_value = h->top;
        h->saturated += count;
    }
    h->counts[index_of(h, slot_value)] += count;

    if (h->total == 0 || value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->total += count;
    h->sum += (double)value * (double)count;
}
