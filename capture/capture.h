/* Capture driver: reads packets from a source (file or live interface),
 * decodes them, reassembles TCP, extracts HTTP requests and writes them,
 * redacted as asked, to a trace. */
#ifndef RP_CAPTURE_H
#define RP_CAPTURE_H

#include <signal.h>
#include <stdint.h>

#include "capture/decode.h"
#include "capture/http.h"
#include "capture/redact.h"
#include "capture/source.h"
#include "capture/tcp.h"

typedef struct rp_capture_stats {
    uint64_t packets;
    uint64_t bytes;                         /* captured bytes read */
    uint64_t decode[RP_DECODE_RESULT_COUNT];/* packets by decode outcome */
    uint64_t first_ts_ns, last_ts_ns;
    uint64_t out_of_time_order;             /* packets older than the one before */
    uint64_t written;                       /* records written to the trace */
    uint64_t over_max_requests;             /* records not written: --max-requests reached */
    uint64_t unredacted_authorization;      /* requests whose Authorization no rule redacts */
    uint64_t unredacted_cookie;             /* requests whose Cookie no rule redacts */
    int link_type;
    const char *link_name;
    uint32_t snaplen;
    int input_error;                        /* the input ended with an error */
    char input_error_text[256];
    int stopped;                            /* ended by a signal, --duration or --max-requests */
    rp_source_stats source;
    rp_tcp_stats tcp;
    rp_http_stats http;
} rp_capture_stats;

/* Called about once a second while reading, when set. */
typedef void (*rp_capture_progress_fn)(void *ctx, const rp_capture_stats *s);

typedef struct rp_capture_opts {
    const char *output;         /* trace to create */
    const char *source_name;    /* stored in the trace header */
    const char *filter;         /* stored in the trace header; the source applies it */
    int keep_truncated;         /* keep requests cut by snaplen or gaps, flagged */
    int zstd_level;             /* 0: the trace writer's default */
    double sample_percent;      /* keep this share of connections; 0 or 100 keeps all */
    const uint16_t *ports;      /* only connections with a server on these ports */
    size_t nports;
    rp_redact *redact;          /* NULL: no redaction */
    uint64_t duration_ns;       /* stop after this much capture time; 0: no limit */
    uint64_t max_requests;      /* stop after writing this many; 0: no limit */
    rp_capture_progress_fn progress;
    void *progress_ctx;
    volatile sig_atomic_t *stop;   /* set by a signal handler to end early */
} rp_capture_opts;

/* Error codes of rp_capture_run. */
enum {
    RP_CAPTURE_OK = 0,
    RP_CAPTURE_ELINK = -3,      /* unsupported link type */
    RP_CAPTURE_EOUTPUT = -4,    /* cannot write the trace */
    RP_CAPTURE_ENOMEM = -5,
    RP_CAPTURE_PARTIAL = 1      /* the input ended with an error (e.g. a
                                   truncated file); the trace holds what
                                   came before it */
};

/* Runs a whole capture from src, which stays owned by the caller. Fills
 * *stats in every case (as far as it got) and err with a sentence on
 * failure or on RP_CAPTURE_PARTIAL. */
int rp_capture_run(rp_source *src, const rp_capture_opts *opts, rp_capture_stats *stats,
                   char *err, size_t errlen);

#endif
