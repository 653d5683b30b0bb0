/* The interface between the replay engine and whatever sends requests.
 *
 * The engine decides when a request goes out and measures what happened;
 * a transport only sends. It runs on the engine's libuv loop, takes
 * prepared requests through submit, and reports each one exactly once
 * through the done callback with an rp_outcome carrying its timestamps.
 * Times are on the uv_hrtime() clock, in nanoseconds.
 */
#ifndef RP_TRANSPORT_H
#define RP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "replay/request.h"
#include "replay/target.h"

/* Error kinds of a request that got no complete response. HTTP statuses,
 * 5xx included, are responses, not errors. */
enum rp_error_kind {
    RP_ERR_NONE = 0,
    RP_ERR_CONNECT,   /* no connection: refused, unreachable, connect timed out */
    RP_ERR_TIMEOUT,   /* connected, but no complete response within the timeout */
    RP_ERR_RESET,     /* the peer reset or closed the connection mid-exchange */
    RP_ERR_OTHER,     /* anything else (malformed response, TLS failure...) */
    RP_ERR_CLIENT,    /* the generator's own limits: no free descriptor
                         (EMFILE, ENFILE), no free local port
                         (EADDRNOTAVAIL), no buffer memory (ENOBUFS) */
    RP_ERR_KINDS
};

typedef struct rp_outcome {
    int error;               /* enum rp_error_kind */
    int cancelled;           /* stopped by rp_transport_ops.cancel_all */
    int status;              /* final HTTP status; 0 without a response */
    int detail;              /* transport's own code (a CURLcode for libcurl,
                                a negative libuv code for lean) */
    int client_errno;        /* RP_ERR_CLIENT: the errno (EMFILE...) */
    uint64_t send_ns;        /* the request started going out on its
                                connection; 0 if it never did */
    uint64_t first_byte_ns;  /* first response byte; 0 if none came */
    uint64_t done_ns;        /* the transport finished with the request */
    uint64_t bytes_received; /* response bytes: status line, headers, body */
    uint8_t conn_opened;     /* the connection was opened for this request */
    uint8_t conn_moved;      /* preserve mode: sent on another connection than
                                its captured one's, which was busy */
} rp_outcome;

/* How requests map to connections. */
enum rp_conn_mode {
    RP_CONN_PRESERVE = 0,    /* one connection per captured connection */
    RP_CONN_POOL,            /* any free connection of a pool */
    RP_CONN_NEW              /* a new connection per request */
};

/* Called once per submitted request, never from inside submit. The
 * transport no longer uses req after the call. The callback must not call
 * submit or flush: it may be running inside the transport's event
 * processing. */
typedef void (*rp_transport_done_fn)(void *ctx, rp_request *req, const rp_outcome *out);

typedef struct rp_transport_config {
    uv_loop_t *loop;
    const rp_target *target;     /* resolved; must outlive the transport */
    uint64_t timeout_ns;         /* whole request, connect included */
    uint64_t connect_timeout_ns;
    int conn_mode;               /* enum rp_conn_mode */
    uint32_t max_connections;    /* open connections at most; the engine
                                    keeps in-flight requests at or below it */
    int http2;                   /* libcurl: HTTP/2 (h2 over TLS, h2c with
                                    prior knowledge over http) */
    int insecure;                /* libcurl: skip TLS certificate checks */
    const char *cacert;          /* libcurl: CA bundle file, or NULL */
    rp_transport_done_fn done;
    void *done_ctx;
} rp_transport_config;

typedef struct rp_transport rp_transport;

typedef struct rp_transport_ops {
    const char *name;            /* e.g. "libcurl", shown in reports */
    int can_pin;                 /* honours RP_CONN_PRESERVE; otherwise
                                    preserve falls back to a pool */

    /* Queues req to go out now. req stays owned by the engine, which keeps
     * it unchanged until the done callback. Returns 0, or -1 with err
     * filled, in which case done is not called for req. */
    int (*submit)(rp_transport *t, rp_request *req, char *err, size_t errlen);

    /* Starts sending what was submitted without waiting for the next loop
     * turn. May be NULL. */
    void (*flush)(rp_transport *t);

    /* Completes every request in flight with cancelled set. */
    void (*cancel_all)(rp_transport *t);

    /* Releases the transport. Nothing may be in flight. Its libuv handles
     * close asynchronously: the caller runs the loop until it has no
     * handles left, after which the memory is freed. */
    void (*close)(rp_transport *t);

    /* Writes the library versions behind the transport, for reports. */
    void (*version)(rp_transport *t, char *buf, size_t len);
} rp_transport_ops;

/* Every transport starts with this member, so that a pointer to it is a
 * pointer to the transport. */
struct rp_transport {
    const rp_transport_ops *ops;
};

#endif
