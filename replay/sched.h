/* Open-loop schedule: when each request of a trace is due.
 *
 * Request i is due at start + offset_i, where offsets follow the captured
 * timestamps divided by the speed, and where every gap between consecutive
 * requests that would last longer than max_gap in the replay is shortened
 * to max_gap. The cap applies to the replayed timeline, that is after the
 * division by speed: at speed 2 with max_gap 5 s, a captured gap of 8 s
 * becomes 4 s and a captured gap of 60 s becomes 5 s.
 *
 * The schedule reads the trace one block at a time and holds one record
 * (the next one due), so its memory does not grow with the trace.
 */
#ifndef RP_SCHED_H
#define RP_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"

#define RP_SCHED_NO_MAX_GAP UINT64_MAX

typedef struct rp_sched_opts {
    double speed;            /* > 0; 1 replays at the captured pace */
    uint64_t max_gap_ns;     /* RP_SCHED_NO_MAX_GAP for no cap; 0 sends
                                every request at once */
} rp_sched_opts;

/* The offset arithmetic alone, without a trace: feed it the timestamps in
 * record order. */
typedef struct rp_sched_clock {
    double speed;
    uint64_t max_gap_ns;
    int started;
    uint64_t prev_ts_ns;     /* timestamp of the previous record */
    uint64_t base_ts_ns;     /* timestamp at the last shortened gap */
    uint64_t base_offset_ns; /* offset of the record at base_ts_ns */
    uint64_t prev_offset_ns;
    uint64_t gaps_shortened;
} rp_sched_clock;

void rp_sched_clock_init(rp_sched_clock *c, const rp_sched_opts *opts);

/* Returns the offset from the start of the replay, in nanoseconds, of the
 * record with capture time ts_ns. The first record's offset is 0. A
 * timestamp earlier than the previous one counts as a gap of 0. Offsets
 * are computed from the last shortened gap, so rounding does not
 * accumulate across the trace. */
uint64_t rp_sched_clock_offset(rp_sched_clock *c, uint64_t ts_ns);

typedef struct rp_sched rp_sched;

/* Opens the trace at path for scheduling. Returns 0 or a negative
 * RP_TRACE_E* code with err filled. */
int rp_sched_open(rp_sched **out, const char *path, const rp_sched_opts *opts,
                  char *err, size_t errlen);

/* Points *rec at the next record and sets *offset_ns to its offset, without
 * consuming it; repeated calls return the same record. The record's
 * pointers stay valid until rp_sched_advance or rp_sched_close. Returns 0,
 * RP_TRACE_EOF after the last record, or a negative RP_TRACE_E* code with
 * msg filled. On 0, msg may hold a warning about a damaged block that was
 * skipped (msg[0] is 0 otherwise). msg may be NULL. */
int rp_sched_peek(rp_sched *s, const rp_record **rec, uint64_t *offset_ns,
                  char *msg, size_t msglen);

/* Consumes the record returned by the last rp_sched_peek. */
void rp_sched_advance(rp_sched *s);

const rp_trace_info *rp_sched_trace_info(const rp_sched *s);

/* Records consumed so far, gaps shortened by max_gap, damaged blocks. */
uint64_t rp_sched_consumed(const rp_sched *s);
uint64_t rp_sched_gaps_shortened(const rp_sched *s);
uint64_t rp_sched_bad_blocks(const rp_sched *s);

void rp_sched_close(rp_sched *s);

#endif
