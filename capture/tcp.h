/* TCP reassembly: a table of connections keyed by their 4-tuple, each with
 * two half-streams put back in sequence order.
 *
 * Policy for overlapping data: the first bytes delivered for a sequence
 * number win. A retransmission or overlap that brings other bytes for data
 * already delivered is ignored and counted. Out-of-order segments wait in a
 * bounded queue; when it overflows, or when the connection ends with a hole,
 * the hole is reported as a gap and delivery resumes after it.
 */
#ifndef RP_TCP_H
#define RP_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"

typedef struct rp_tcp_table rp_tcp_table;

/* Why a connection left the table. */
typedef enum rp_tcp_close_reason {
    RP_TCP_CLOSE_FIN,       /* both sides sent FIN, or one FIN then idle */
    RP_TCP_CLOSE_RST,
    RP_TCP_CLOSE_IDLE,      /* no packet for the idle timeout */
    RP_TCP_CLOSE_EVICTED,   /* the table was full */
    RP_TCP_CLOSE_REUSED,    /* a new SYN on the same 4-tuple */
    RP_TCP_CLOSE_END        /* end of input */
} rp_tcp_close_reason;

/* A connection. dir 0 is the side believed to have opened it: the sender of
 * a SYN without ACK when one was seen, else the sender of the first packet
 * (the HTTP layer may decide otherwise from the content). */
typedef struct rp_tcp_conn {
    uint64_t id;              /* 1, 2, ... in order of first packet */
    uint8_t ip_version;
    uint8_t addr[2][16];      /* addr[dir] is the sender of direction dir */
    uint16_t port[2];
    int syn_seen;             /* the opening SYN was captured */
    uint64_t first_ts_ns;
    void *user;               /* owned by the callbacks */
} rp_tcp_conn;

/* Stream events. data and the segment's ack stay valid only during the
 * call. ack is the acknowledgement number carried by the segment that
 * delivered the first byte of data, and ack_valid is set when its ACK flag
 * was. The HTTP layer uses it to pair responses with requests across gaps. */
typedef struct rp_tcp_callbacks {
    void *ctx;
    void (*on_data)(void *ctx, rp_tcp_conn *c, int dir, const uint8_t *data,
                    uint32_t len, uint32_t seq, uint64_t ts_ns,
                    uint32_t ack, int ack_valid);
    /* len bytes of direction dir are missing from the capture. */
    void (*on_gap)(void *ctx, rp_tcp_conn *c, int dir, uint32_t len,
                   uint64_t ts_ns);
    /* Direction dir ended with a FIN, in sequence. */
    void (*on_fin)(void *ctx, rp_tcp_conn *c, int dir, uint64_t ts_ns);
    /* The connection leaves the table; free c->user here. */
    void (*on_close)(void *ctx, rp_tcp_conn *c, rp_tcp_close_reason why,
                     uint64_t ts_ns);
} rp_tcp_callbacks;

/* Limits; 0 picks the default. */
typedef struct rp_tcp_limits {
    uint32_t max_connections;      /* default 262144 */
    uint32_t max_queued_per_dir;   /* out-of-order bytes per direction, default 1 MiB */
    uint64_t max_queued_total;     /* out-of-order bytes in all, default 64 MiB */
    uint64_t idle_timeout_ns;      /* default 300 s of capture time */
} rp_tcp_limits;

/* Counters, all cumulative. */
typedef struct rp_tcp_stats {
    uint64_t connections;          /* created */
    uint64_t segments;             /* TCP segments seen */
    uint64_t retransmitted;        /* segments whose bytes were all delivered before */
    uint64_t overlaps;             /* segments partly delivered before */
    uint64_t out_of_order;         /* segments queued until a hole filled */
    uint64_t gaps, gap_bytes;      /* holes skipped */
    uint64_t evicted;              /* connections dropped because the table was full */
    uint64_t idle_closed;
    uint64_t queue_overflows;      /* holes skipped because a queue was full */
    uint64_t peak_connections;
    uint64_t peak_queued_bytes;
} rp_tcp_stats;

/* Returns NULL when out of memory. limits may be NULL. */
rp_tcp_table *rp_tcp_table_new(const rp_tcp_limits *limits,
                               const rp_tcp_callbacks *cb);

/* Feeds one decoded segment captured at ts_ns. */
void rp_tcp_table_input(rp_tcp_table *t, const rp_packet *pkt, uint64_t ts_ns);

/* Closes connections idle for longer than the idle timeout at time now_ns. */
void rp_tcp_table_expire(rp_tcp_table *t, uint64_t now_ns);

/* Flushes every queue (reporting holes as gaps), closes every connection
 * with RP_TCP_CLOSE_END, copies the final counters to *final_stats when
 * it is not NULL, then frees the table. */
void rp_tcp_table_free(rp_tcp_table *t, uint64_t now_ns, rp_tcp_stats *final_stats);

const rp_tcp_stats *rp_tcp_table_stats(const rp_tcp_table *t);

/* Number of connections now in the table. */
size_t rp_tcp_table_size(const rp_tcp_table *t);

#endif
