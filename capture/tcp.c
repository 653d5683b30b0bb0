#include "capture/tcp.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define DEFAULT_MAX_CONNECTIONS   262144u
#define DEFAULT_MAX_QUEUED_PER_DIR (1u << 20)
#define DEFAULT_MAX_QUEUED_TOTAL  (64ull << 20)
#define DEFAULT_IDLE_TIMEOUT_NS   (300ull * 1000000000ull)
#define INITIAL_BUCKETS           1024u

/* An out-of-order segment waiting for the hole before it to fill. */
typedef struct seg {
    struct seg *next;
    uint32_t seq;
    uint32_t len;          /* captured bytes in data */
    uint32_t wire_len;     /* bytes on the wire; the rest were cut by snaplen */
    uint32_t ack;
    int ack_valid;
    uint64_t ts_ns;
    uint8_t data[];
} seg;

typedef struct half {
    int init;              /* next_seq is known */
    uint32_t isn;          /* initial sequence number, when a SYN was seen */
    int syn;
    uint32_t next_seq;
    int fin_seen, fin_done;
    uint32_t fin_seq;
    seg *queue;            /* sorted by sequence number */
    uint32_t queued_bytes;
} half;

typedef struct conn {
    rp_tcp_conn pub;
    half h[2];
    uint64_t hash;
    uint64_t last_ts_ns;
    struct conn *hash_next;
    struct conn *prev, *next;   /* activity list, least recent first */
} conn;

struct rp_tcp_table {
    rp_tcp_limits lim;
    rp_tcp_callbacks cb;
    rp_tcp_stats stats;
    conn **buckets;
    size_t nbuckets, count;
    conn *oldest, *newest;
    uint64_t queued_total;
    uint64_t next_id;
};

/* The hash covers both endpoints in a canonical order, so both directions
 * of a connection land in the same bucket. */
static uint64_t hash_endpoints(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
    uint8_t key[36];
    int swap = memcmp(a, b, 16) > 0 || (memcmp(a, b, 16) == 0 && pa > pb);
    const uint8_t *lo = swap ? b : a, *hi = swap ? a : b;
    uint16_t plo = swap ? pb : pa, phi = swap ? pa : pb;
    memcpy(key, lo, 16);
    memcpy(key + 16, hi, 16);
    memcpy(key + 32, &plo, 2);
    memcpy(key + 34, &phi, 2);
    return XXH3_64bits(key, sizeof key);
}

rp_tcp_table *rp_tcp_table_new(const rp_tcp_limits *limits, const rp_tcp_callbacks *cb)
{
    rp_tcp_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    if (limits)
        t->lim = *limits;
    if (t->lim.max_connections == 0)
        t->lim.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (t->lim.max_queued_per_dir == 0)
        t->lim.max_queued_per_dir = DEFAULT_MAX_QUEUED_PER_DIR;
    if (t->lim.max_queued_total == 0)
        t->lim.max_queued_total = DEFAULT_MAX_QUEUED_TOTAL;
    if (t->lim.idle_timeout_ns == 0)
        t->lim.idle_timeout_ns = DEFAULT_IDLE_TIMEOUT_NS;
    t->cb = *cb;
    t->nbuckets = INITIAL_BUCKETS;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

const rp_tcp_stats *rp_tcp_table_stats(const rp_tcp_table *t) { return &t->stats; }
size_t rp_tcp_table_size(const rp_tcp_table *t) { return t->count; }

/* ---- connection table ---- */

static void list_unlink(rp_tcp_table *t, conn *c)
{
    if (c->prev) c->prev->next = c->next; else t->oldest = c->next;
    if (c->next) c->next->prev = c->prev; else t->newest = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(rp_tcp_table *t, conn *c)
{
    c->prev = t->newest;
    c->next = NULL;
    if (t->newest) t->newest->next = c; else t->oldest = c;
    t->newest = c;
}

static void grow_buckets(rp_tcp_table *t)
{
    size_t n = t->nbuckets * 2;
    conn **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;   /* keep the old size: slower, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        conn *c = t->buckets[i];
        while (c) {
            conn *next = c->hash_next;
            size_t j = c->hash & (n - 1);
            c->hash_next = b[j];
            b[j] = c;
            c = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Finds the connection of pkt and the direction pkt travels in. */
static conn *lookup(rp_tcp_table *t, const rp_packet *p, uint64_t h, int *dir)
{
    for (conn *c = t->buckets[h & (t->nbuckets - 1)]; c; c = c->hash_next) {
        if (c->hash != h || c->pub.ip_version != p->ip_version)
            continue;
        if (c->pub.port[0] == p->sport && c->pub.port[1] == p->dport &&
            memcmp(c->pub.addr[0], p->src, 16) == 0 &&
            memcmp(c->pub.addr[1], p->dst, 16) == 0) {
            *dir = 0;
            return c;
        }
        if (c->pub.port[0] == p->dport && c->pub.port[1] == p->sport &&
            memcmp(c->pub.addr[0], p->dst, 16) == 0 &&
            memcmp(c->pub.addr[1], p->src, 16) == 0) {
            *dir = 1;
            return c;
        }
    }
    return NULL;
}

static void free_queue(rp_tcp_table *t, half *h)
{
    while (h->queue) {
        seg *s = h->queue;
        h->queue = s->next;
        t->queued_total -= s->len;
        free(s);
    }
    h->queued_bytes = 0;
}

static void drain(rp_tcp_table *t, conn *c, int dir);

/* Reports the hole before the first queued segment as a gap and delivers
 * what follows it. */
static void skip_hole(rp_tcp_table *t, conn *c, int dir, uint64_t ts_ns)
{
    half *h = &c->h[dir];
    if (h->queue == NULL)
        return;
    uint32_t hole = h->queue->seq - h->next_seq;
    if ((int32_t)hole > 0) {
        t->stats.gaps++;
        t->stats.gap_bytes += hole;
        if (t->cb.on_gap)
            t->cb.on_gap(t->cb.ctx, &c->pub, dir, hole, ts_ns);
        h->next_seq = h->queue->seq;
    }
    drain(t, c, dir);
}

static void remove_conn(rp_tcp_table *t, conn *c, rp_tcp_close_reason why, uint64_t ts_ns)
{
    /* Deliver what waits behind holes: it is still data the HTTP layer
     * can use after resynchronising. */
    for (int dir = 0; dir < 2; dir++)
        while (c->h[dir].queue)
            skip_hole(t, c, dir, ts_ns);

    conn **pp = &t->buckets[c->hash & (t->nbuckets - 1)];
    while (*pp != c)
        pp = &(*pp)->hash_next;
    *pp = c->hash_next;
    list_unlink(t, c);
    t->count--;

    if (t->cb.on_close)
        t->cb.on_close(t->cb.ctx, &c->pub, why, ts_ns);
    free_queue(t, &c->h[0]);
    free_queue(t, &c->h[1]);
    free(c);
}

static conn *create_conn(rp_tcp_table *t, const rp_packet *p, uint64_t h,
                         uint64_t ts_ns, int *dir)
{
    if (t->count >= t->lim.max_connections && t->oldest) {
        t->stats.evicted++;
        remove_conn(t, t->oldest, RP_TCP_CLOSE_EVICTED, ts_ns);
    }
    if (t->count >= t->nbuckets)
        grow_buckets(t);

    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    /* A SYN+ACK comes from the side that accepted the connection. */
    int from_acceptor = (p->flags & RP_TCP_SYN) && (p->flags & RP_TCP_ACK);
    int s = from_acceptor ? 1 : 0;
    c->pub.id = ++t->next_id;
    c->pub.ip_version = p->ip_version;
    memcpy(c->pub.addr[s], p->src, 16);
    memcpy(c->pub.addr[!s], p->dst, 16);
    c->pub.port[s] = p->sport;
    c->pub.port[!s] = p->dport;
    c->pub.syn_seen = (p->flags & RP_TCP_SYN) && !from_acceptor;
    c->pub.first_ts_ns = ts_ns;
    c->hash = h;

    size_t b = h & (t->nbuckets - 1);
    c->hash_next = t->buckets[b];
    t->buckets[b] = c;
    list_append(t, c);
    t->count++;
    t->stats.connections++;
    if (t->count > t->stats.peak_connections)
        t->stats.peak_connections = t->count;
    *dir = s;
    return c;
}

/* ---- reassembly ---- */

static void deliver(rp_tcp_table *t, conn *c, int dir, const uint8_t *data,
                    uint32_t len, uint32_t wire_len, uint32_t seq,
                    uint64_t ts_ns, uint32_t ack, int ack_valid)
{
    half *h = &c->h[dir];
    uint32_t skip = h->next_seq - seq;   /* bytes already delivered */
    if (skip > 0)
        t->stats.overlaps++;
    if (skip < len && t->cb.on_data)
        t->cb.on_data(t->cb.ctx, &c->pub, dir, data + skip, len - skip,
                      seq + skip, ts_ns, ack, ack_valid);

    /* Bytes the snap length cut off are a hole the parser must know of. */
    uint32_t start_missing = skip > len ? skip : len;
    if (wire_len > start_missing) {
        uint32_t missing = wire_len - start_missing;
        t->stats.gaps++;
        t->stats.gap_bytes += missing;
        if (t->cb.on_gap)
            t->cb.on_gap(t->cb.ctx, &c->pub, dir, missing, ts_ns);
    }
    h->next_seq = seq + wire_len;
}

static void check_fin(rp_tcp_table *t, conn *c, int dir, uint64_t ts_ns)
{
    half *h = &c->h[dir];
    if (h->fin_seen && !h->fin_done && h->queue == NULL &&
        (int32_t)(h->next_seq - h->fin_seq) >= 0) {
        h->fin_done = 1;
        if (t->cb.on_fin)
            t->cb.on_fin(t->cb.ctx, &c->pub, dir, ts_ns);
    }
}

/* Delivers queued segments that the stream has caught up with. */
static void drain(rp_tcp_table *t, conn *c, int dir)
{
    half *h = &c->h[dir];
    while (h->queue && (int32_t)(h->queue->seq - h->next_seq) <= 0) {
        seg *s = h->queue;
        h->queue = s->next;
        h->queued_bytes -= s->len;
        t->queued_total -= s->len;
        if ((int32_t)(s->seq + s->wire_len - h->next_seq) > 0)
            deliver(t, c, dir, s->data, s->len, s->wire_len, s->seq,
                    s->ts_ns, s->ack, s->ack_valid);
        else
            t->stats.retransmitted++;
        free(s);
    }
}

static void enqueue(rp_tcp_table *t, conn *c, int dir, const rp_packet *p, uint64_t ts_ns)
{
    half *h = &c->h[dir];
    seg **pp = &h->queue;
    while (*pp && (int32_t)((*pp)->seq - p->seq) < 0)
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == p->seq && (*pp)->wire_len >= p->wire_len) {
        t->stats.retransmitted++;   /* same segment queued already */
        return;
    }

    seg *s = malloc(sizeof *s + p->payload_len);
    if (s == NULL)
        return;
    s->seq = p->seq;
    s->len = p->payload_len;
    s->wire_len = p->wire_len;
    s->ack = p->ack;
    s->ack_valid = (p->flags & RP_TCP_ACK) != 0;
    s->ts_ns = ts_ns;
    memcpy(s->data, p->payload, p->payload_len);
    s->next = *pp;
    *pp = s;
    h->queued_bytes += s->len;
    t->queued_total += s->len;
    if (t->queued_total > t->stats.peak_queued_bytes)
        t->stats.peak_queued_bytes = t->queued_total;
    t->stats.out_of_order++;
}

static void input_payload(rp_tcp_table *t, conn *c, int dir, const rp_packet *p, uint64_t ts_ns)
{
    half *h = &c->h[dir];
    int32_t off = (int32_t)(p->seq - h->next_seq);

    if ((int64_t)off + p->wire_len <= 0) {
        t->stats.retransmitted++;
        return;
    }
    if (off <= 0) {
        deliver(t, c, dir, p->payload, p->payload_len, p->wire_len, p->seq,
                ts_ns, p->ack, (p->flags & RP_TCP_ACK) != 0);
        drain(t, c, dir);
        return;
    }

    /* A hole before this segment: queue it, within the limits. */
    while (h->queue && (h->queued_bytes + p->payload_len > t->lim.max_queued_per_dir ||
                        t->queued_total + p->payload_len > t->lim.max_queued_total)) {
        t->stats.queue_overflows++;
        skip_hole(t, c, dir, ts_ns);
    }
    off = (int32_t)(p->seq - h->next_seq);
    if (off <= 0) {
        input_payload(t, c, dir, p, ts_ns);
        return;
    }
    enqueue(t, c, dir, p, ts_ns);
}

/* The peer acknowledged bytes of direction dir that the capture never
 * delivered: the receiver has them, so no retransmission will fill the
 * hole. Report it now instead of waiting for the queue limit or the end
 * of the connection. */
static void skip_acked_holes(rp_tcp_table *t, conn *c, int dir, uint32_t ack, uint64_t ts_ns)
{
    half *h = &c->h[dir];
    while (h->init && (int32_t)(ack - h->next_seq) > 0) {
        if (h->queue && (int32_t)(h->queue->seq - ack) < 0) {
            skip_hole(t, c, dir, ts_ns);
            continue;
        }
        if (h->fin_seen && (int32_t)(ack - h->fin_seq) > 0)
            ack = h->fin_seq;         /* the FIN takes one sequence number */
        uint32_t hole = ack - h->next_seq;
        if ((int32_t)hole <= 0)
            break;
        t->stats.gaps++;
        t->stats.gap_bytes += hole;
        if (t->cb.on_gap)
            t->cb.on_gap(t->cb.ctx, &c->pub, dir, hole, ts_ns);
        h->next_seq = ack;
        drain(t, c, dir);
        check_fin(t, c, dir, ts_ns);
        break;
    }
}

void rp_tcp_table_input(rp_tcp_table *t, const rp_packet *p, uint64_t ts_ns)
{
    t->stats.segments++;
    uint64_t hv = hash_endpoints(p->src, p->sport, p->dst, p->dport);
    int dir = 0;
    conn *c = lookup(t, p, hv, &dir);

    int syn_only = (p->flags & RP_TCP_SYN) && !(p->flags & RP_TCP_ACK);
    if (c && syn_only && c->h[dir].syn && c->h[dir].isn != p->seq) {
        remove_conn(t, c, RP_TCP_CLOSE_REUSED, ts_ns);
        c = NULL;
    }
    if (c == NULL) {
        /* Bare ACKs, FINs and RSTs of unknown connections (often the tail
         * of one already closed) carry nothing to keep. */
        if (!(p->flags & RP_TCP_SYN) && p->wire_len == 0)
            return;
        c = create_conn(t, p, hv, ts_ns, &dir);
        if (c == NULL)
            return;
    }

    c->last_ts_ns = ts_ns;
    list_unlink(t, c);
    list_append(t, c);

    half *h = &c->h[dir];
    if (p->flags & RP_TCP_SYN) {
        if (!h->init) {
            h->init = 1;
            h->syn = 1;
            h->isn = p->seq;
            h->next_seq = p->seq + 1;
        }
        return;   /* data on a SYN (TCP Fast Open) is not reassembled */
    }
    if (p->flags & RP_TCP_RST) {
        remove_conn(t, c, RP_TCP_CLOSE_RST, ts_ns);
        return;
    }

    if (p->flags & RP_TCP_ACK)
        skip_acked_holes(t, c, !dir, p->ack, ts_ns);

    if (!h->init && (p->wire_len > 0 || (p->flags & RP_TCP_FIN))) {
        h->init = 1;              /* the capture started mid-connection */
        h->next_seq = p->seq;
    }
    if (p->wire_len > 0)
        input_payload(t, c, dir, p, ts_ns);
    if (p->flags & RP_TCP_FIN) {
        h->fin_seen = 1;
        h->fin_seq = p->seq + p->wire_len;
    }
    check_fin(t, c, dir, ts_ns);
    if (c->h[0].fin_done && c->h[1].fin_done)
        remove_conn(t, c, RP_TCP_CLOSE_FIN, ts_ns);
}

void rp_tcp_table_expire(rp_tcp_table *t, uint64_t now_ns)
{
    while (t->oldest && now_ns > t->oldest->last_ts_ns &&
           now_ns - t->oldest->last_ts_ns > t->lim.idle_timeout_ns) {
        t->stats.idle_closed++;
        remove_conn(t, t->oldest, RP_TCP_CLOSE_IDLE, now_ns);
    }
}

void rp_tcp_table_free(rp_tcp_table *t, uint64_t now_ns, rp_tcp_stats *final_stats)
{
    if (t == NULL)
        return;
    while (t->oldest)
        remove_conn(t, t->oldest, RP_TCP_CLOSE_END, now_ns);
    if (final_stats)
        *final_stats = t->stats;
    free(t->buckets);
    free(t);
}
