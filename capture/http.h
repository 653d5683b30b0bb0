/* HTTP/1.x over reassembled TCP streams: turns each connection's client
 * stream into requests and its server stream into responses, pairs them in
 * order, and hands out finished records in timestamp order.
 *
 * Parsing uses llhttp. Each message's start line is read by this module
 * first, so that a request line llhttp 8.1 rejects but whose framing is
 * clear (an extension method such as CCM_POST) is still kept, and so that
 * parsing can resynchronise at the next start line after garbage, a gap in
 * the capture or a mid-connection start.
 */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stdint.h>

#include "capture/tcp.h"
#include "formats/trace.h"

typedef struct rp_http rp_http;

/* Receives each finished record, in non-decreasing ts_ns order. The record
 * is valid during the call only. A non-zero return stops further output
 * (rp_http_failed then returns nonzero). */
typedef int (*rp_http_emit_fn)(void *ctx, const rp_record *rec);

/* Limits; 0 picks the default. */
typedef struct rp_http_opts {
    uint32_t max_line;          /* start line, default 64 KiB */
    uint32_t max_headers;       /* header block, default 1 MiB */
    uint32_t max_body;          /* stored body bytes, default 16 MiB; more is cut and flagged */
    uint64_t response_timeout_ns;  /* capture time to wait for a response, default 120 s */
    uint64_t max_buffered_bytes;   /* records held for ordering, default 64 MiB */
    int keep_truncated;         /* keep requests cut by snaplen or gaps, flagged */
    double sample_percent;      /* keep this share of connections, chosen by a
                                   hash of their addresses; 0 or 100 keeps all */
    const uint16_t *ports;      /* when nports > 0, only connections whose
                                   server uses one of these ports */
    size_t nports;
} rp_http_opts;

/* Skip reasons, counted per request or message lost. */
typedef enum rp_http_skip {
    RP_SKIP_BAD_REQUEST_LINE,   /* a line that is not METHOD SP TARGET SP HTTP/x.y */
    RP_SKIP_BAD_STATUS_LINE,
    RP_SKIP_REQUEST_PARSE,      /* llhttp rejected the headers or body framing */
    RP_SKIP_RESPONSE_PARSE,
    RP_SKIP_LINE_TOO_LONG,
    RP_SKIP_HEADERS_TOO_LARGE,
    RP_SKIP_REQUEST_GAP,        /* part of the request missing from the capture */
    RP_SKIP_REQUEST_UNFINISHED, /* the connection ended inside the request */
    RP_SKIP_REQUEST_STALLED,    /* still incomplete after the response timeout */
    RP_SKIP_RESPONSE_UNPAIRED,  /* a response with no request to pair with */
    RP_SKIP_COUNT
} rp_http_skip;

typedef struct rp_http_stats {
    uint64_t requests;            /* records emitted */
    uint64_t responses;           /* final responses paired with a request */
    uint64_t interim_responses;   /* 1xx other than 101 */
    uint64_t no_response;         /* records emitted without a response */
    uint64_t truncated;           /* records emitted with RP_REC_TRUNCATED */
    uint64_t chunked;
    uint64_t connect;             /* CONNECT requests */
    uint64_t upgrades;            /* tunnels opened by 101 or CONNECT 2xx */
    uint64_t tls_connections, tls_bytes;
    uint64_t skipped_bytes;       /* stream bytes passed over while resynchronising */
    uint64_t resyncs;
    uint64_t recovered_methods;   /* request lines llhttp rejects, kept by the fallback */
    uint64_t timestamp_clamped;   /* records whose time went backwards, set to the previous one */
    uint64_t response_timeouts;   /* records written without waiting longer for a response */
    uint64_t with_authorization;  /* requests carrying Authorization or
                                     Proxy-Authorization */
    uint64_t with_cookie;         /* requests carrying Cookie */
    uint64_t sampled_out;         /* connections left out by --sample */
    uint64_t port_filtered;       /* connections left out by the port list */
    uint64_t skipped[RP_SKIP_COUNT];
} rp_http_stats;

rp_http *rp_http_new(const rp_http_opts *opts, rp_http_emit_fn emit, void *ctx);

/* Frees everything; call rp_http_flush(h, now, 1) first to emit what is
 * left. */
void rp_http_free(rp_http *h);

/* The rp_tcp_callbacks for this HTTP layer, with ctx = h. */
void rp_http_tcp_callbacks(rp_http *h, rp_tcp_callbacks *cb);

/* Emits every record that can be written at capture time now_ns. With
 * final set, emits everything left (end of input). */
void rp_http_flush(rp_http *h, uint64_t now_ns, int final);

const rp_http_stats *rp_http_get_stats(const rp_http *h);

const char *rp_http_skip_name(rp_http_skip s);

/* Nonzero after the emit callback failed. */
int rp_http_failed(const rp_http *h);

#endif
