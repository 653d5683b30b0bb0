#include "tools/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* The splitmix64 finalizer: spreads sequential ids over all 64 bits. */
uint64_t rp_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- distinct values ---- */

#define SET_SLOTS (2 * RP_DISTINCT_EXACT)   /* load factor at most 1/2 */

int rp_distinct_init(rp_distinct *d)
{
    memset(d, 0, sizeof *d);
    d->set = calloc(SET_SLOTS, sizeof *d->set);
    return d->set ? 0 : -1;
}

static void hll_add(rp_distinct *d, uint64_t v)
{
    uint64_t h = rp_mix64(v);
    size_t idx = h >> (64 - RP_HLL_BITS);
    uint64_t rest = h << RP_HLL_BITS;
    uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : 64 - RP_HLL_BITS + 1;
    if (rank > d->reg[idx])
        d->reg[idx] = rank;
}

void rp_distinct_add(rp_distinct *d, uint64_t v)
{
    hll_add(d, v);
    if (d->overflowed)
        return;
    if (v == 0) {
        d->has_zero = 1;
        return;
    }
    size_t i = rp_mix64(v) & (SET_SLOTS - 1);
    while (d->set[i] != 0 && d->set[i] != v)
        i = (i + 1) & (SET_SLOTS - 1);
    if (d->set[i] == v)
        return;
    if (d->used == RP_DISTINCT_EXACT) {
        d->overflowed = 1;
        free(d->set);
        d->set = NULL;
        return;
    }
    d->set[i] = v;
    d->used++;
}

uint64_t rp_distinct_count(const rp_distinct *d, int *estimated)
{
    *estimated = d->overflowed;
    if (!d->overflowed)
        return d->used + (uint64_t)d->has_zero;

    const double m = (double)(1u << RP_HLL_BITS);
    double sum = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < (1u << RP_HLL_BITS); i++) {
        sum += ldexp(1.0, -d->reg[i]);
        zeros += d->reg[i] == 0;
    }
    double alpha = 0.7213 / (1 + 1.079 / m);
    double e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros > 0)
        e = m * log(m / (double)zeros);
    return (uint64_t)llround(e);
}

void rp_distinct_free(rp_distinct *d)
{
    free(d->set);
    d->set = NULL;
}

/* ---- top k ---- */

struct counter {
    rp_topk_item item;
    size_t key_len;
    uint64_t hash;
    int32_t next;             /* next counter in the hash chain, or -1 */
    size_t heap_pos;
};

struct rp_topk {
    struct counter *c;
    size_t k, used;
    int32_t *buckets;         /* hash chains, 2k of them */
    size_t n_buckets;
    size_t *heap;             /* counter indexes, min-heap by count */
    uint64_t distinct;
    int approximate;
};

rp_topk *rp_topk_new(size_t k)
{
    rp_topk *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->k = k;
    t->n_buckets = 2 * k;
    t->c = calloc(k, sizeof *t->c);
    t->buckets = malloc(t->n_buckets * sizeof *t->buckets);
    t->heap = malloc(k * sizeof *t->heap);
    if (t->c == NULL || t->buckets == NULL || t->heap == NULL) {
        rp_topk_free(t);
        return NULL;
    }
    for (size_t i = 0; i < t->n_buckets; i++)
        t->buckets[i] = -1;
    return t;
}

void rp_topk_free(rp_topk *t)
{
    if (t == NULL)
        return;
    free(t->c);
    free(t->buckets);
    free(t->heap);
    free(t);
}

static void heap_swap(rp_topk *t, size_t a, size_t b)
{
    size_t x = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = x;
    t->c[t->heap[a]].heap_pos = a;
    t->c[t->heap[b]].heap_pos = b;
}

static uint64_t heap_count(const rp_topk *t, size_t pos)
{
    return t->c[t->heap[pos]].item.count;
}

/* Restores the heap after the count at pos grew. */
static void sift_down(rp_topk *t, size_t pos)
{
    for (;;) {
        size_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < t->used && heap_count(t, l) < heap_count(t, m))
            m = l;
        if (r < t->used && heap_count(t, r) < heap_count(t, m))
            m = r;
        if (m == pos)
            return;
        heap_swap(t, pos, m);
        pos = m;
    }
}

static void chain_remove(rp_topk *t, size_t idx)
{
    int32_t *link = &t->buckets[t->c[idx].hash % t->n_buckets];
    while (*link != (int32_t)idx)
        link = &t->c[*link].next;
    *link = t->c[idx].next;
}

static void set_key(rp_topk *t, size_t idx, const char *key, size_t len, uint64_t h)
{
    struct counter *c = &t->c[idx];
    memcpy(c->item.key, key, len);
    c->item.key[len] = '\0';
    c->key_len = len;
    c->hash = h;
    int32_t *head = &t->buckets[h % t->n_buckets];
    c->next = *head;
    *head = (int32_t)idx;
}

void rp_topk_add(rp_topk *t, const char *key, size_t len)
{
    if (len > RP_TOPK_KEY_MAX)
        len = RP_TOPK_KEY_MAX;
    uint64_t h = XXH64(key, len, 0);
    for (int32_t i = t->buckets[h % t->n_buckets]; i >= 0; i = t->c[i].next) {
        struct counter *c = &t->c[i];
        if (c->hash == h && c->key_len == len && memcmp(c->item.key, key, len) == 0) {
            c->item.count++;
            sift_down(t, c->heap_pos);
            return;
        }
    }

    t->distinct++;
    if (t->used < t->k) {
        size_t idx = t->used++;
        set_key(t, idx, key, len, h);
        t->c[idx].item.count = 1;
        t->c[idx].item.overcount = 0;
        /* A count of 1 is the smallest possible: the new leaf needs no
         * move up past a parent of count 1 or more. */
        t->heap[idx] = idx;
        t->c[idx].heap_pos = idx;
        for (size_t pos = idx; pos > 0 && heap_count(t, (pos - 1) / 2) > 1; pos = (pos - 1) / 2)
            heap_swap(t, pos, (pos - 1) / 2);
        return;
    }

    /* Take over the counter with the smallest count. */
    t->approximate = 1;
    size_t idx = t->heap[0];
    chain_remove(t, idx);
    uint64_t min = t->c[idx].item.count;
    set_key(t, idx, key, len, h);
    t->c[idx].item.count = min + 1;
    t->c[idx].item.overcount = min;
    sift_down(t, 0);
}

static int by_count(const void *a, const void *b)
{
    const rp_topk_item *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->key, y->key);
}

size_t rp_topk_top(const rp_topk *t, rp_topk_item *out, size_t n)
{
    rp_topk_item *all = malloc((t->used ? t->used : 1) * sizeof *all);
    if (all == NULL)
        return 0;
    for (size_t i = 0; i < t->used; i++)
        all[i] = t->c[i].item;
    qsort(all, t->used, sizeof *all, by_count);
    size_t m = t->used < n ? t->used : n;
    memcpy(out, all, m * sizeof *all);
    free(all);
    return m;
}

int rp_topk_approximate(const rp_topk *t)
{
    return t->approximate;
}

uint64_t rp_topk_distinct(const rp_topk *t)
{
    return t->distinct;
}
