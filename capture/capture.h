/* Capture driver: reads a pcap or pcapng file through libpcap, decodes
 * each packet, reassembles TCP, extracts HTTP requests and writes them to a
 * trace. */
#ifndef RP_CAPTURE_H
#define RP_CAPTURE_H

#include <signal.h>
#include <stdint.h>

#include "capture/decode.h"
#include "capture/http.h"
#include "capture/tcp.h"

typedef struct rp_capture_stats {
    uint64_t packets;
    uint64_t bytes;                         /* captured bytes read */
    uint64_t decode[RP_DECODE_RESULT_COUNT];/* packets by decode outcome */
    uint64_t first_ts_ns, last_ts_ns;
    uint64_t out_of_time_order;             /* packets older than the one before */
    int link_type;
    const char *link_name;
    uint32_t snaplen;
    int input_error;                        /* the input ended with an error */
    char input_error_text[256];             /* libpcap's description of it */
    rp_tcp_stats tcp;
    rp_http_stats http;
} rp_capture_stats;

/* Called about twice a second while reading, when set. */
typedef void (*rp_capture_progress_fn)(void *ctx, const rp_capture_stats *s,
                                       uint64_t file_pos, uint64_t file_size);

typedef struct rp_capture_opts {
    const char *input;          /* pcap or pcapng file */
    const char *output;         /* trace to create */
    const char *filter;         /* BPF filter, or NULL */
    int keep_truncated;         /* keep requests cut by snaplen or gaps, flagged */
    int zstd_level;             /* 0: the trace writer's default */
    rp_capture_progress_fn progress;
    void *progress_ctx;
    volatile sig_atomic_t *stop;   /* set by a signal handler to end early */
} rp_capture_opts;

/* Error codes of rp_capture_file. */
enum {
    RP_CAPTURE_OK = 0,
    RP_CAPTURE_EINPUT = -1,     /* cannot open or read the input at all */
    RP_CAPTURE_EFILTER = -2,    /* the BPF filter does not compile */
    RP_CAPTURE_ELINK = -3,      /* unsupported link type */
    RP_CAPTURE_EOUTPUT = -4,    /* cannot write the trace */
    RP_CAPTURE_ENOMEM = -5,
    RP_CAPTURE_PARTIAL = 1      /* the input ended with an error (e.g. a
                                   truncated file); the trace holds what
                                   came before it */
};

/* Runs a whole capture. Fills *stats in every case (as far as it got) and
 * err with a sentence on failure or on RP_CAPTURE_PARTIAL. */
int rp_capture_file(const rp_capture_opts *opts, rp_capture_stats *stats,
                    char *err, size_t errlen);

#endif
