/* The JSON run report that `reprise replay --report FILE` writes.
 * docs/report-format.md describes every key. */
#ifndef RP_REPORT_H
#define RP_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/stats.h"

#define RP_REPORT_FORMAT_VERSION 1

/* How the run was set up and what happened around it, beside the stats. */
typedef struct rp_report_meta {
    const char *reprise_version;   /* e.g. "reprise 0.1.0" */
    const char *trace_path;
    const char *target_url;        /* as given on the command line */
    const char *target_address;    /* the address it resolved to */
    const char *mode;              /* "open-loop", "closed-loop" or "users" */
    const char *pace;              /* "speed", "rate", "uniform" or "max" */
    double speed;                  /* 0 when the pace is not "speed" */
    double rate;                   /* requests per second; 0 unless rate or uniform */
    double applied_speed;          /* divisor applied to captured gaps; 0 when none */
    uint64_t max_gap_ns;           /* RP_SCHED_NO_MAX_GAP for none */
    uint64_t skip_ns;
    uint64_t duration_limit_ns;    /* 0 for none */
    uint64_t passes;               /* requested; 0 for no end */
    uint64_t passes_started;
    uint32_t users;                /* 0 outside users mode */
    uint64_t sessions_started;
    uint32_t max_inflight;
    int drop_over_limit;
    const char *conn_mode;         /* requested: "preserve", "pool" or "new" */
    const char *conn_mode_used;    /* what the transport did */
    uint32_t max_connections;
    uint32_t threads;
    uint32_t shard_index, shard_count;  /* --shard K/N as K-1 and N; count
                                           0 or 1: the whole trace */
    int keep_host;
    const char *const *header_names;    /* set with --header; values left out */
    size_t header_count;
    const char *const *removed_headers;
    size_t removed_count;
    const char *const *rewrites;   /* as given */
    size_t rewrite_count;
    const char *const *filters;    /* e.g. "include-method GET" */
    size_t filter_count;
    uint64_t filtered;             /* records the filters removed, per pass */
    uint64_t before_skip;          /* records before the --skip offset */
    uint64_t timeout_ns, connect_timeout_ns;
    int http2, insecure;
    const char *transport;         /* e.g. "lean" */
    const char *transport_version; /* e.g. curl_version() */
    const char *libcurl_version;   /* e.g. "7.88.1"; NULL leaves the key out */
    uint64_t start_wall_ns;        /* Unix epoch nanoseconds */
    uint64_t duration_ns;
    int interrupted;
    int hit_duration;
    uint64_t max_in_flight;
    uint64_t gaps_shortened;
    uint64_t trace_bad_blocks;
    double cpu_user_s, cpu_system_s;
    int paced;                     /* open loop: the window keys are written */
    uint64_t window_max;
    double window_mean;
    int saturated;
    uint64_t saturation_threshold_us;
    uint64_t mean_gap_us;
} rp_report_meta;

/* Builds the report as a new JSON object (caller owns the reference), or
 * returns NULL when out of memory. */
json_t *rp_report_build(const rp_stats *s, const rp_report_meta *m);

/* Writes the report to path (replacing it) with a final newline. Returns
 * 0, or -1 with err naming the file and the problem. */
int rp_report_write(const char *path, const rp_stats *s, const rp_report_meta *m,
                    char *err, size_t errlen);

#endif
