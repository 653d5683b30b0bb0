#include "replay/u64map.h"

#include <stdlib.h>
#include <string.h>

/* A 64-bit finaliser (from MurmurHash3): consecutive keys spread over the
 * whole table. */
static size_t slot_of(const rp_u64map *m, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return (size_t)key & m->mask;
}

static int alloc_table(rp_u64map *m, size_t capacity)
{
    m->keys = malloc(capacity * sizeof *m->keys);
    m->values = malloc(capacity * sizeof *m->values);
    if (m->keys == NULL || m->values == NULL) {
        free(m->keys);
        free(m->values);
        m->keys = m->values = NULL;
        return -1;
    }
    memset(m->keys, 0xff, capacity * sizeof *m->keys);
    m->mask = capacity - 1;
    m->count = 0;
    return 0;
}

int rp_u64map_init(rp_u64map *m, size_t expected)
{
    size_t capacity = 16;
    while (capacity < expected * 2)
        capacity *= 2;
    return alloc_table(m, capacity);
}

void rp_u64map_free(rp_u64map *m)
{
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

static int grow(rp_u64map *m)
{
    rp_u64map old = *m;
    if (alloc_table(m, (old.mask + 1) * 2) != 0) {
        *m = old;
        return -1;
    }
    for (size_t i = 0; i <= old.mask; i++)
        if (old.keys[i] != RP_U64MAP_EMPTY)
            rp_u64map_put(m, old.keys[i], old.values[i]);
    free(old.keys);
    free(old.values);
    return 0;
}

int rp_u64map_put(rp_u64map *m, uint64_t key, uint64_t value)
{
    /* Load factor at most one half. */
    if ((m->count + 1) * 2 > m->mask + 1 && grow(m) != 0)
        return -1;
    size_t i = slot_of(m, key);
    while (m->keys[i] != RP_U64MAP_EMPTY && m->keys[i] != key)
        i = (i + 1) & m->mask;
    if (m->keys[i] == RP_U64MAP_EMPTY)
        m->count++;
    m->keys[i] = key;
    m->values[i] = value;
    return 0;
}

uint64_t *rp_u64map_get(const rp_u64map *m, uint64_t key)
{
    if (m->keys == NULL)
        return NULL;
    size_t i = slot_of(m, key);
    while (m->keys[i] != RP_U64MAP_EMPTY) {
        if (m->keys[i] == key)
            return &m->values[i];
        i = (i + 1) & m->mask;
    }
    return NULL;
}

void rp_u64map_delete(rp_u64map *m, uint64_t key)
{
    if (m->keys == NULL)
        return;
    size_t i = slot_of(m, key);
    while (m->keys[i] != key) {
        if (m->keys[i] == RP_U64MAP_EMPTY)
            return;
        i = (i + 1) & m->mask;
    }
    m->count--;

    /* Moves back each following entry of the run that may sit in the
     * freed slot, so that every key stays reachable from its home slot. */
    size_t j = i;
    for (;;) {
        m->keys[i] = RP_U64MAP_EMPTY;
        for (;;) {
            j = (j + 1) & m->mask;
            if (m->keys[j] == RP_U64MAP_EMPTY)
                return;
            size_t home = slot_of(m, m->keys[j]);
            /* The entry at j can move to i unless its home lies
             * cyclically in (i, j]. */
            int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        m->keys[i] = m->keys[j];
        m->values[i] = m->values[j];
        i = j;
    }
}
