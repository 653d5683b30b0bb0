/* reprise inspect's summary: the counts it keeps while reading a trace,
 * all in memory that does not grow with the trace (see tools/sketch.h),
 * and their text and JSON forms. */
#ifndef RP_INSPECT_H
#define RP_INSPECT_H

#include <stdint.h>

#include "formats/trace.h"
#include "replay/hist.h"
#include "tools/sketch.h"

#define INSPECT_MAX_METHODS 64    /* distinct methods counted by name; the
                                     rest are counted as "(other)" */
#define INSPECT_RATE_ROWS   24    /* rows of the rate chart */
#define INSPECT_TOPK        1024  /* endpoint counters */
#define INSPECT_MAX_GAPS    5     /* idle gaps listed */

struct inspect_method {
    char *name;
    uint64_t n;
};

struct inspect_gap {
    uint64_t at_ns;           /* ts_ns of the request after the gap */
    uint64_t len_ns;
};

struct inspect_stats {
    uint64_t records;
    uint64_t first_ts, last_ts, prev_ts;
    struct inspect_method methods[INSPECT_MAX_METHODS + 1];
    size_t n_methods;
    uint64_t *status;         /* by code, 65536 entries */
    uint64_t no_response;
    uint64_t chunked, truncated, upgrade, connect, resp_truncated, redacted;
    uint64_t body_bytes;
    rp_distinct conns;
    rp_topk *endpoints;
    rp_hist *request_size;    /* bytes: request line, headers, body */
    rp_hist *body_size;       /* bytes, requests with a body only */

    /* Requests per time bucket; widths step through multiples so that
     * buckets merge exactly when the trace outgrows the chart. */
    uint64_t rate_origin, rate_width;
    size_t rate_step;
    uint64_t rate[INSPECT_RATE_ROWS];
    size_t rate_used;

    uint64_t gap_threshold_ns;
    uint64_t gaps_over;       /* gaps longer than the threshold */
    uint64_t max_gap_ns, max_gap_at;
    struct inspect_gap gaps[INSPECT_MAX_GAPS];
    size_t n_gaps;
    uint64_t backwards;       /* records earlier than the one before */
    uint64_t max_backwards_ns;
};

/* The summary's inputs besides the counts. */
struct inspect_summary {
    const char *path;
    const rp_trace_info *info;
    uint64_t blocks, damaged_blocks, lost_records;
    uint64_t block_bytes, raw_bytes;  /* of the blocks read */
    size_t top;                       /* endpoints to list */
    int tty;                          /* standard output is a terminal */
    struct inspect_stats *st;
};

/* Returns 0, or -1 when out of memory. */
int inspect_stats_init(struct inspect_stats *st, uint64_t gap_threshold_ns);
void inspect_count(struct inspect_stats *st, const rp_record *rec);
void inspect_stats_free(struct inspect_stats *st);

void inspect_print_text(const struct inspect_summary *s);
void inspect_print_json(const struct inspect_summary *s);

#endif
