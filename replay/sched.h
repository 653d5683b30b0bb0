/* The schedule: which request goes next and when it is due.
 *
 * In a pass, request i of the plan is due at start + offset_i:
 * - RP_PACE_SPEED and RP_PACE_RATE: the captured timestamps divided by the
 *   plan's speed, with every replayed gap longer than max_gap shortened to
 *   max_gap. The cap applies to the replayed timeline, after the division:
 *   at speed 2 with max_gap 5 s, a captured gap of 8 s becomes 4 s and one
 *   of 60 s becomes 5 s.
 * - RP_PACE_UNIFORM: i / rate.
 * - RP_PACE_MAX: no due time; the engine sends when a request completes.
 * Pass k adds k * pass_ns, so that a looped trace keeps its pace.
 *
 * The schedule streams the trace one block at a time and holds one record
 * (the next one due), so its memory does not grow with the trace.
 * NOTE: decoding a block happens on the sending thread, in the peek that
 * crosses into it: about 0.8 ms for a 1 MB block on a 2-core VM, so the
 * requests due meanwhile go out up to that late. A
 * schedule can take one part of the trace: the requests whose captured
 * connection's dense index modulo parts equals part. Every part still
 * computes the offsets over the whole trace, so parts keep one timeline.
 */
#ifndef RP_SCHED_H
#define RP_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"
#include "replay/plan.h"

#define RP_SCHED_NO_MAX_GAP RP_NO_MAX_GAP

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

/* The next request of a schedule. */
typedef struct rp_sched_item {
    const rp_record *rec;    /* valid until rp_sched_advance or close */
    uint64_t offset_ns;      /* due time from the start; 0 for RP_PACE_MAX */
    uint64_t seq;            /* index in the whole schedule, passes counted */
    uint64_t pass;           /* from 0 */
    uint64_t conn_key;       /* unique per captured connection and pass */
    int last_on_conn;        /* the last request of its captured connection
                                in this pass */
} rp_sched_item;

/* Opens the trace at path for scheduling under plan (built from the same
 * trace, and which must outlive the schedule). passes is the number of
 * passes, 0 for no end. Returns 0 or a negative RP_TRACE_E* code with err
 * filled. */
int rp_sched_open(rp_sched **out, const char *path, const rp_plan *plan,
                  uint64_t passes, uint32_t part, uint32_t parts,
                  char *err, size_t errlen);

/* Fills *item with the next request of this part without consuming it;
 * repeated calls return the same request. Returns 0, RP_TRACE_EOF after
 * the last pass, or a negative RP_TRACE_E* code with msg filled. On 0,
 * msg may hold a warning about a damaged block that was skipped (msg[0]
 * is 0 otherwise). msg may be NULL. */
int rp_sched_peek(rp_sched *s, rp_sched_item *item, char *msg, size_t msglen);

/* Consumes the request returned by the last rp_sched_peek. */
void rp_sched_advance(rp_sched *s);

/* Requests of this part consumed, passes started, gaps shortened by
 * max_gap (all parts count every gap), damaged blocks met. */
uint64_t rp_sched_consumed(const rp_sched *s);
uint64_t rp_sched_passes(const rp_sched *s);
uint64_t rp_sched_gaps_shortened(const rp_sched *s);
uint64_t rp_sched_bad_blocks(const rp_sched *s);

void rp_sched_close(rp_sched *s);

#endif
