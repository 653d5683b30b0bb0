#include "capture/reorder.h"

#include <stdlib.h>

typedef struct heap {
    rp_reorder_node **items;
    size_t len, cap;
} heap;

struct rp_reorder {
    heap pending, ready;
    uint64_t next_order;
};

static int before(const rp_reorder_node *a, const rp_reorder_node *b)
{
    return a->ts_ns < b->ts_ns || (a->ts_ns == b->ts_ns && a->order < b->order);
}

static void place(heap *h, size_t i, rp_reorder_node *n)
{
    h->items[i] = n;
    n->pos = i;
}

static void sift_up(heap *h, size_t i)
{
    rp_reorder_node *n = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(n, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(heap *h, size_t i)
{
    rp_reorder_node *n = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h->items[child + 1], h->items[child]))
            child++;
        if (!before(h->items[child], n))
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, n);
}

static int heap_push(heap *h, rp_reorder_node *n)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        rp_reorder_node **items = realloc(h->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        h->items = items;
        h->cap = cap;
    }
    place(h, h->len++, n);
    sift_up(h, h->len - 1);
    return 0;
}

static void heap_remove(heap *h, size_t i)
{
    h->len--;
    if (i == h->len)
        return;
    rp_reorder_node *moved = h->items[h->len];
    place(h, i, moved);
    sift_down(h, i);
    sift_up(h, moved->pos);
}

rp_reorder *rp_reorder_new(void)
{
    return calloc(1, sizeof(rp_reorder));
}

void rp_reorder_free(rp_reorder *r)
{
    if (r == NULL)
        return;
    free(r->pending.items);
    free(r->ready.items);
    free(r);
}

int rp_reorder_add(rp_reorder *r, rp_reorder_node *n, uint64_t ts_ns)
{
    n->ts_ns = ts_ns;
    n->order = r->next_order++;
    n->ready = 0;
    return heap_push(&r->pending, n);
}

int rp_reorder_ready(rp_reorder *r, rp_reorder_node *n)
{
    heap_remove(&r->pending, n->pos);
    n->ready = 1;
    return heap_push(&r->ready, n);
}

void rp_reorder_remove(rp_reorder *r, rp_reorder_node *n)
{
    heap_remove(n->ready ? &r->ready : &r->pending, n->pos);
}

rp_reorder_node *rp_reorder_pop(rp_reorder *r, uint64_t horizon_ns)
{
    if (r->ready.len == 0)
        return NULL;
    rp_reorder_node *n = r->ready.items[0];
    if (n->ts_ns > horizon_ns)
        return NULL;
    if (r->pending.len > 0 && before(r->pending.items[0], n))
        return NULL;
    heap_remove(&r->ready, 0);
    return n;
}

rp_reorder_node *rp_reorder_oldest_pending(const rp_reorder *r)
{
    return r->pending.len ? r->pending.items[0] : NULL;
}

size_t rp_reorder_pending_count(const rp_reorder *r) { return r->pending.len; }
size_t rp_reorder_ready_count(const rp_reorder *r) { return r->ready.len; }
