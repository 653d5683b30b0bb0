/* One thread of a replay: its own libuv loop, transport and statistics,
 * sending the requests of its part of the trace. Internal to the engine
 * (engine.c starts the workers and merges what they did).
 */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "replay/engine.h"
#include "replay/sessions.h"

/* Requests handed over per millisecond since the start, in a ring the
 * engine's own thread drains into sliding 10 ms windows. */
#define RP_WINDOW_RING_MS 4096

/* What every worker reads, and the few counters they share. */
typedef struct rp_shared {
    const rp_engine_config *cfg;
    const rp_plan *plan;
    const rp_sessions *sessions;     /* users mode */
    const rp_rules *rules;
    uint32_t threads;
    uint64_t start_ns;               /* set before the workers start sending */
    uint64_t start_wall_ns;          /* Unix time (ns) at start_ns */
    uint64_t results_wall_ns;        /* the results' clock at start_ns */
    atomic_int abort_start;          /* a worker failed to set up: none sends */
    pthread_mutex_t gate_lock;       /* guards ready and go */
    pthread_cond_t gate;             /* signalled when either changes */
    uint32_t ready;                  /* workers set up */
    int go;                          /* start_ns is set: workers may send */
    _Atomic uint32_t window[RP_WINDOW_RING_MS];
    uv_async_t *finished;            /* signalled by each worker at its end,
                                        after counting itself in done */
    atomic_uint done;
} rp_shared;

/* A worker's counters for the progress line, published a few times a
 * second. */
typedef struct rp_worker_snapshot {
    _Atomic uint64_t due, sent, responses, errors, in_flight, not_sent;
    _Atomic uint64_t next_due_ns;
    _Atomic uint64_t at_ns;           /* when the counters above were taken */
    pthread_mutex_t lock;            /* guards recent */
    rp_hist *recent;                 /* latency since the engine last read it */
} rp_worker_snapshot;

typedef struct rp_worker rp_worker;

/* Creates worker index of shared->threads; nothing runs yet. Returns
 * NULL when out of memory. */
rp_worker *rp_worker_new(rp_shared *shared, uint32_t index);

/* Starts the worker's thread. Returns 0, or an errno value. */
int rp_worker_start(rp_worker *w);

/* Asks the worker to stop early; safe from any thread. */
void rp_worker_stop(rp_worker *w);

/* Waits for the thread to end. */
void rp_worker_join(rp_worker *w);

rp_worker_snapshot *rp_worker_snapshot_of(rp_worker *w);
rp_stats *rp_worker_stats(rp_worker *w);
/* The worker's results, NULL when the run collects none. */
rp_results *rp_worker_results(rp_worker *w);
const rp_engine_result *rp_worker_result(const rp_worker *w);

/* The worker's setup or trace error: 0, or an RP_ENGINE_E* code with
 * message. */
int rp_worker_error(const rp_worker *w, const char **message);

void rp_worker_free(rp_worker *w);

#endif
