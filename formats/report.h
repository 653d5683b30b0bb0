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
    double speed;
    uint64_t max_gap_ns;           /* RP_SCHED_NO_MAX_GAP for none */
    int keep_host;
    uint64_t timeout_ns, connect_timeout_ns;
    uint32_t max_connections;
    const char *transport;         /* e.g. "libcurl" */
    const char *transport_version; /* e.g. curl_version() */
    const char *libcurl_version;   /* e.g. "7.88.1"; NULL leaves the key out */
    uint64_t start_wall_ns;        /* Unix epoch nanoseconds */
    uint64_t duration_ns;
    int interrupted;
    uint64_t max_in_flight;
    uint64_t gaps_shortened;
    uint64_t trace_bad_blocks;
} rp_report_meta;

/* Builds the report as a new JSON object (caller owns the reference), or
 * returns NULL when out of memory. */
json_t *rp_report_build(const rp_stats *s, const rp_report_meta *m);

/* Writes the report to path (replacing it) with a final newline. Returns
 * 0, or -1 with err naming the file and the problem. */
int rp_report_write(const char *path, const rp_stats *s, const rp_report_meta *m,
                    char *err, size_t errlen);

#endif
