/* Bounded-memory summaries for inspect, so that reading a trace of tens
 * of millions of requests takes the same memory as reading a small one.
 *
 * rp_distinct counts distinct 64-bit values: exactly up to
 * RP_DISTINCT_EXACT of them, then with a HyperLogLog of 2^14 registers
 * (with linear counting for small ranges), whose standard error is
 * 1.04 / sqrt(2^14), about 0.8%.
 *
 * rp_topk finds the most frequent strings with the space-saving
 * algorithm, which keeps k counters. A string without a counter takes
 * over the smallest one and inherits its count as a possible overcount.
 * Counts are exact while there are at most k distinct strings. After
 * that, every string more frequent than N / k is among the counters, and
 * each count exceeds the true one by at most its recorded overcount. */
#ifndef RP_SKETCH_H
#define RP_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define RP_DISTINCT_EXACT 65536
#define RP_HLL_BITS 14

typedef struct rp_distinct {
    uint64_t *set;            /* open addressing, 0 marks an empty slot */
    size_t used;
    int has_zero;
    int overflowed;           /* more than RP_DISTINCT_EXACT: set freed */
    uint8_t reg[1u << RP_HLL_BITS];
} rp_distinct;

/* Returns 0, or -1 when out of memory. */
int rp_distinct_init(rp_distinct *d);
void rp_distinct_add(rp_distinct *d, uint64_t v);
/* Returns the count; *estimated is set when it comes from the HLL. */
uint64_t rp_distinct_count(const rp_distinct *d, int *estimated);
void rp_distinct_free(rp_distinct *d);

#define RP_TOPK_KEY_MAX 200   /* longer strings are cut to this many bytes */

typedef struct rp_topk_item {
    char key[RP_TOPK_KEY_MAX + 1];
    uint64_t count;
    uint64_t overcount;       /* upper bound of count - true count */
} rp_topk_item;

typedef struct rp_topk rp_topk;

rp_topk *rp_topk_new(size_t k);
void rp_topk_add(rp_topk *t, const char *key, size_t len);
/* Fills out with up to n items, most frequent first; returns how many. */
size_t rp_topk_top(const rp_topk *t, rp_topk_item *out, size_t n);
/* Nonzero when more than k distinct strings were seen. */
int rp_topk_approximate(const rp_topk *t);
/* Number of distinct strings seen, exact while not approximate. */
uint64_t rp_topk_distinct(const rp_topk *t);
void rp_topk_free(rp_topk *t);

uint64_t rp_mix64(uint64_t x);

#endif
