/* The replay engine: sends each request of the schedule through a
 * transport and accounts for every outcome in rp_stats.
 *
 * Modes:
 * - open loop (RP_PACE_SPEED, _RATE, _UNIFORM): each request goes out at
 *   its due time whether or not earlier responses came back;
 * - closed loop (RP_PACE_MAX): the next request goes out as soon as one of
 *   max_inflight completes, timestamps ignored;
 * - users (users > 0): that many virtual users, each replaying one
 *   captured session after another, waiting the captured think time
 *   (divided by the speed, capped by max_gap) after each response.
 *
 * Each thread runs its own libuv loop and transport. Thread t takes the
 * captured connections whose dense index modulo threads is t, and all
 * start from one shared start time. Their figures are merged at the end.
 * Within a loop, one timerfd
 * wakes the loop at the next due time (libuv's own timers have
 * millisecond granularity) and every request due by then goes out.
 *
 * At most max_inflight requests are in flight (per thread, its share). A
 * request due while the limit is reached waits and goes out, still
 * measured from its due time, when one completes; with drop_over_limit
 * it is counted as not sent instead.
 */
#ifndef RP_ENGINE_H
#define RP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "replay/plan.h"
#include "replay/results.h"
#include "replay/rules.h"
#include "replay/sched.h"
#include "replay/stats.h"
#include "replay/target.h"
#include "replay/transport.h"

typedef struct rp_engine_progress {
    uint64_t elapsed_ns;
    uint64_t total_ns;           /* planned length of the run; 0 unknown */
    uint64_t due, sent, responses, errors, in_flight, not_sent;
    double sent_per_s;           /* over the last progress period */
    double responses_per_s;
    uint64_t recent_p95_us;      /* latency p95 of the responses of the
                                    last period; 0 when none came */
    uint64_t next_due_in_ns;     /* wait until the next request; 0 when
                                    none is pending or it is already due */
} rp_engine_progress;

typedef int (*rp_transport_new_fn)(rp_transport **out, const rp_transport_config *cfg,
                                   char *err, size_t errlen);

enum rp_transport_kind {
    RP_TRANSPORT_AUTO = 0,       /* lean for http://, libcurl otherwise */
    RP_TRANSPORT_LEAN,
    RP_TRANSPORT_CURL
};

typedef struct rp_engine_config {
    const char *trace_path;
    const rp_plan *plan;         /* from the same trace; NULL builds one
                                    from plan_opts */
    rp_plan_opts plan_opts;
    const rp_rules *rules;       /* NULL: the target's Host, no edits */
    const rp_target *target;     /* resolved */
    uint64_t passes;             /* 1 replays the trace once; 0 repeats it
                                    until duration_ns or the stop signal */
    uint64_t duration_ns;        /* no request starts after this; 0: none */
    /* A pace change at pace_change_at_ns after the start (0: none): the
     * paced schedule's remaining gaps are multiplied by pace_change_factor
     * (2 halves the pace), and in users mode only users / factor users go
     * on. The change needs no new connections and no drain, so a queue
     * built before it carries over. */
    uint64_t pace_change_at_ns;
    double pace_change_factor;   /* >= 1 */
    uint32_t users;              /* > 0: closed-loop virtual users */
    uint64_t users_spawn_ns;     /* users mode: user i of n starts at
                                    i * users_spawn_ns / n, so they do not
                                    all send their first request at once;
                                    0 starts all at once */
    uint32_t max_inflight;       /* > 0 */
    int drop_over_limit;
    int conn_mode;               /* enum rp_conn_mode */
    uint32_t max_connections;    /* open connections at most (the pool size
                                    for RP_CONN_POOL); > 0 */
    uint64_t timeout_ns;         /* whole request, connect included */
    uint64_t connect_timeout_ns;
    int transport;               /* enum rp_transport_kind */
    int http2, insecure;
    const char *cacert;
    uint32_t threads;            /* 0 or 1: one loop */
    /* Shard shard_index of shard_count (0 or 1: the whole trace): the
     * captured connections whose dense index modulo shard_count is
     * shard_index, on the whole trace's schedule. Open and closed loop
     * only, not users mode. */
    uint32_t shard_index, shard_count;
    uint64_t start_wall_ns;      /* Unix time (ns) to start sending at, once
                                    set up; 0 or a past time: at once */
    rp_transport_new_fn transport_new;   /* overrides transport */
    int stop_signal;             /* a signal that ends the run early, e.g.
                                    SIGINT; 0 for none */
    /* Called once a second while the run lasts, from the calling thread;
     * may be NULL. */
    void (*progress)(void *ctx, const rp_engine_progress *p);
    void *progress_ctx;
    /* Receives every due request's outcome (each thread fills its own,
     * merged in at the end) under the failure rules it was created with;
     * NULL for none. It should be empty: its clock is set to the run's. */
    rp_results *results;
    /* When nonzero, the results' seconds start at this offset from the
     * start (and each second after it) instead of at whole wall-clock
     * seconds: their clock runs up to a second behind the wall clock.
     * Used to measure whole seconds from a given point of the run. */
    uint64_t results_second_at_ns;
} rp_engine_config;

typedef struct rp_engine_result {
    uint64_t start_wall_ns;      /* wall-clock time the run started */
    uint64_t results_wall_ns;    /* the results' clock at the start: as
                                    start_wall_ns unless results_second_at_ns
                                    shifted it */
    uint64_t duration_ns;        /* from then to the last completion, or the stop */
    int interrupted;             /* ended by stop_signal */
    int hit_duration;            /* stopped sending at duration_ns */
    char transport[32];
    char transport_version[256];
    int conn_mode_used;          /* RP_CONN_POOL when the transport cannot pin */
    uint32_t threads;
    uint64_t max_in_flight;      /* per-thread maxima, added up */
    uint64_t gaps_shortened;     /* gaps cut to max_gap */
    uint64_t bad_blocks;         /* damaged trace blocks skipped */
    uint64_t passes;             /* passes started */
    uint64_t sessions;           /* users mode: sessions started */
    uint64_t window_max;         /* most requests handed to the transport
                                    in any 10 ms window (open loop) */
    double window_mean;          /* mean requests per 10 ms window */
    double cpu_user_s, cpu_system_s;   /* the process's CPU time during the run */
    char warning[512];           /* the last trace warning, or "" */
} rp_engine_result;

enum {
    RP_ENGINE_ETRACE = -1,       /* the trace could not be opened: nothing ran */
    RP_ENGINE_ESETUP = -2,       /* the loop or transport could not start */
    RP_ENGINE_EREAD = -3         /* reading the trace failed mid-run; the run
                                    ended early and stats hold what was done */
};

/* Replays cfg->trace_path. stats must come from rp_stats_init; the run
 * adds to it. Returns 0 when the schedule ran to its end, hit its
 * duration or stop_signal ended it, or an RP_ENGINE_E* code with err
 * filled. */
int rp_engine_run(const rp_engine_config *cfg, rp_stats *stats,
                  rp_engine_result *res, char *err, size_t errlen);

/* One request of a dry run. */
typedef struct rp_dry_row {
    uint64_t seq;
    uint64_t pass;
    uint64_t conn;               /* conn_key; the session in users mode */
    int has_time;                /* offset_ns is meaningful */
    uint64_t offset_ns;          /* due time from the start; in users mode
                                    the think time before the request */
    const rp_request *req;       /* the bytes that would be sent */
    int skipped;                 /* a CONNECT request, never sent */
} rp_dry_row;

/* Walks the schedule without sending: calls row once per request, in
 * order, and stops early when row returns nonzero. A schedule without end
 * (passes 0) stops at duration_ns. Returns 0, or an RP_ENGINE_E* code with
 * err filled. */
int rp_engine_dry_run(const rp_engine_config *cfg,
                      int (*row)(void *ctx, const rp_dry_row *r), void *ctx,
                      char *err, size_t errlen);

/* Whether the generator kept up with the schedule. */
typedef struct rp_saturation {
    int saturated;
    uint64_t dispatch_lag_p99_us;
    uint64_t threshold_us;       /* the smaller of 1 ms and 5 mean gaps */
    uint64_t mean_gap_us;        /* of the schedule; 0 for closed loop */
} rp_saturation;

/* Judges an open-loop run. It is saturated when the dispatch lag p99
 * (due time to hand-over to the transport, so connection set-up is not
 * counted) exceeds 1 ms or five mean gaps of the schedule, whichever is
 * smaller. A request that late goes out together with the ones due after
 * it, so the schedule's spacing is lost. Closed-loop runs (mean gap 0)
 * are never called saturated here. */
void rp_engine_saturation(const rp_stats *s, uint64_t mean_gap_ns, rp_saturation *out);

#endif
