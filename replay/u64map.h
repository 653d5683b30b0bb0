/* A hash map from 64-bit keys to 64-bit values: open addressing with
 * linear probing and backward-shift deletion, so lookups never walk over
 * tombstones. The key UINT64_MAX is reserved (it marks empty slots). */
#ifndef RP_U64MAP_H
#define RP_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp_u64map {
    uint64_t *keys;
    uint64_t *values;
    size_t mask;             /* capacity - 1; capacity is a power of two */
    size_t count;
} rp_u64map;

#define RP_U64MAP_EMPTY UINT64_MAX

/* Returns 0, or -1 when out of memory. */
int rp_u64map_init(rp_u64map *m, size_t expected);
void rp_u64map_free(rp_u64map *m);

/* Sets key to value, adding it when absent. Returns 0, or -1 when out of
 * memory (the map is then unchanged). */
int rp_u64map_put(rp_u64map *m, uint64_t key, uint64_t value);

/* Returns a pointer to key's value, valid until the next put or delete,
 * or NULL when key is absent. */
uint64_t *rp_u64map_get(const rp_u64map *m, uint64_t key);

/* Removes key; does nothing when it is absent. */
void rp_u64map_delete(rp_u64map *m, uint64_t key);

#endif
