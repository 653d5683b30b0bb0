/* HDR-style histogram of non-negative integer values (reprise records
 * microseconds). Buckets double in width while each keeps the same number
 * of linear sub-buckets, so every recorded value is known to a relative
 * precision set by the significant digits, in memory fixed at creation.
 *
 * Layout follows Gil Tene's HdrHistogram with a lowest discernible value
 * of 1: two histograms created with the same highest value and significant
 * digits have the same layout and can be merged exactly.
 */
#ifndef RP_HIST_H
#define RP_HIST_H

#include <stddef.h>
#include <stdint.h>

/* One hour in microseconds: the range every latency histogram covers. */
#define RP_HIST_HOUR_US 3600000000ull

typedef struct rp_hist rp_hist;

/* Creates an empty histogram for values 0..highest with sig_figs (1 to 5)
 * significant decimal digits. Returns NULL on bad arguments or when out of
 * memory. With highest = 1 hour in microseconds and 3 digits it uses
 * about 190 KB. */
rp_hist *rp_hist_new(uint64_t highest, int sig_figs);

void rp_hist_free(rp_hist *h);

/* Computes HdrHistogram's layout for values 0..highest at sig_figs
 * digits: each bucket has 2^sub_magnitude sub-buckets, and bucket_count
 * buckets cover the range. Returns 0, or -1 on bad arguments. Encoders of
 * the standard format use it to match the counts array exactly. */
int rp_hist_layout(uint64_t highest, int sig_figs, int *sub_magnitude, int *bucket_count);

/* Empties h, keeping its layout. */
void rp_hist_reset(rp_hist *h);

/* Records one value. A value above the highest trackable one is counted
 * in the top bucket and in rp_hist_saturated(); min, max and mean still
 * use the exact value. */
void rp_hist_record(rp_hist *h, uint64_t value);

/* Records value count times, as count calls of rp_hist_record would; used
 * to rebuild a histogram from a stored one. */
void rp_hist_record_n(rp_hist *h, uint64_t value, uint64_t count);

/* Adds every count of src into dst. Returns 0, or -1 when the two were
 * created with different arguments (dst is then unchanged). */
int rp_hist_merge(rp_hist *dst, const rp_hist *src);

uint64_t rp_hist_count(const rp_hist *h);
uint64_t rp_hist_min(const rp_hist *h);      /* 0 when empty */
uint64_t rp_hist_max(const rp_hist *h);      /* exact; 0 when empty */
double rp_hist_mean(const rp_hist *h);       /* exact; 0 when empty */
uint64_t rp_hist_saturated(const rp_hist *h);

/* Returns the value at percentile p (0 to 100): the largest value that is
 * equivalent, at the histogram's precision, to the recorded value below
 * which p percent of the counts fall, capped at the exact max. Returns 0
 * when empty. */
uint64_t rp_hist_percentile(const rp_hist *h, double p);

/* Calls fn once per non-empty bucket, in increasing value order, with the
 * bucket's lowest and highest equivalent values and its count. This is the
 * raw form a report can store so that histograms merge after the run. */
void rp_hist_foreach(const rp_hist *h,
                     void (*fn)(void *ctx, uint64_t low, uint64_t high,
                                uint64_t count),
                     void *ctx);

#endif
