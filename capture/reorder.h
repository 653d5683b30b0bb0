/* Puts finished records back in timestamp order.
 *
 * Requests finish out of order: a slow response delays its request while
 * later ones on other connections complete. Each request registers when
 * its first byte is seen (pending) and moves to the ready set when its
 * record is final. A ready record may be written once no pending record
 * has an earlier timestamp. Both sets are binary heaps keyed by
 * (ts_ns, registration order), so ties keep capture order.
 */
#ifndef RP_REORDER_H
#define RP_REORDER_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in the caller's record; the caller recovers its record from the
 * node with offsetof. */
typedef struct rp_reorder_node {
    uint64_t ts_ns;
    uint64_t order;
    size_t pos;          /* index in the heap it is in */
    int ready;
} rp_reorder_node;

typedef struct rp_reorder rp_reorder;

rp_reorder *rp_reorder_new(void);
void rp_reorder_free(rp_reorder *r);

/* Registers n as pending with timestamp ts_ns. Returns 0 or -1 (no memory). */
int rp_reorder_add(rp_reorder *r, rp_reorder_node *n, uint64_t ts_ns);

/* Moves pending n to the ready set. Returns 0 or -1 (no memory). */
int rp_reorder_ready(rp_reorder *r, rp_reorder_node *n);

/* Removes n from whichever set it is in (a request that was dropped). */
void rp_reorder_remove(rp_reorder *r, rp_reorder_node *n);

/* Removes and returns the earliest ready node if no pending node is
 * earlier and its ts_ns is at most horizon_ns; else NULL. */
rp_reorder_node *rp_reorder_pop(rp_reorder *r, uint64_t horizon_ns);

/* The earliest pending node, or NULL. */
rp_reorder_node *rp_reorder_oldest_pending(const rp_reorder *r);

size_t rp_reorder_pending_count(const rp_reorder *r);
size_t rp_reorder_ready_count(const rp_reorder *r);

#endif
