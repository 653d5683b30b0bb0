/* The replay engine: reads the schedule, sends each request when it is
 * due through a transport, and accounts for every outcome in rp_stats.
 *
 * One libuv loop and one dispatch timer: each wake-up sends everything
 * that is due, then re-arms the timer for the next due time. The timer is
 * a timerfd watched by the loop, because libuv's own timers have
 * millisecond granularity. Requests in flight never exceed
 * max_connections: a request due while the limit is reached waits in the
 * schedule and goes out, still measured from its due time, as soon as a
 * request completes.
 */
#ifndef RP_ENGINE_H
#define RP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "replay/sched.h"
#include "replay/stats.h"
#include "replay/target.h"
#include "replay/transport.h"

typedef struct rp_engine_progress {
    uint64_t elapsed_ns;
    uint64_t due, sent, responses, errors, in_flight;
    uint64_t next_due_in_ns;     /* wait until the next request; 0 when
                                    none is pending or it is already due */
} rp_engine_progress;

typedef int (*rp_transport_new_fn)(rp_transport **out, const rp_transport_config *cfg,
                                   char *err, size_t errlen);

typedef struct rp_engine_config {
    const char *trace_path;
    rp_sched_opts sched;
    const rp_target *target;     /* resolved */
    int keep_host;
    uint64_t timeout_ns;
    uint64_t connect_timeout_ns;
    uint32_t max_connections;    /* > 0 */
    rp_transport_new_fn transport_new;   /* NULL: libcurl */
    int stop_signal;             /* a signal that ends the run early, e.g.
                                    SIGINT; 0 for none */
    /* Called once a second while the run lasts; may be NULL. */
    void (*progress)(void *ctx, const rp_engine_progress *p);
    void *progress_ctx;
} rp_engine_config;

typedef struct rp_engine_result {
    uint64_t start_wall_ns;      /* wall-clock time the first request was due */
    uint64_t duration_ns;        /* from then to the last completion, or the stop */
    int interrupted;             /* ended by stop_signal */
    char transport[32];
    char transport_version[256];
    uint64_t max_in_flight;
    uint64_t gaps_shortened;     /* gaps cut to max_gap */
    uint64_t bad_blocks;         /* damaged trace blocks skipped */
    char warning[512];           /* the last trace warning, or "" */
} rp_engine_result;

enum {
    RP_ENGINE_ETRACE = -1,       /* the trace could not be opened: nothing ran */
    RP_ENGINE_ESETUP = -2,       /* the loop or transport could not start */
    RP_ENGINE_EREAD = -3         /* reading the trace failed mid-run; the run
                                    ended early and stats hold what was done */
};

/* Replays cfg->trace_path. stats must come from rp_stats_init; the run
 * adds to it. Returns 0 when the schedule ran to its end or stop_signal
 * ended it, or an RP_ENGINE_E* code with err filled. */
int rp_engine_run(const rp_engine_config *cfg, rp_stats *stats,
                  rp_engine_result *res, char *err, size_t errlen);

#endif
