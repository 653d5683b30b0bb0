/* The engine's own thread. It starts one worker per thread from one
 * start time and turns SIGINT into a stop for each. While they run, it
 * reports progress from their snapshots and counts requests per 10 ms
 * window from the ring they fill. At the end it merges their figures.
 */
#include "replay/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "replay/worker.h"

#define PROGRESS_MS 1000
#define WINDOW_SCAN_MS 100
#define WINDOW_MS 10
/* Milliseconds of the ring left alone while workers may still write them. */
#define WINDOW_MARGIN_MS 200

typedef struct engine {
    const rp_engine_config *cfg;
    rp_shared sh;
    rp_plan own_plan;
    int own_plan_built;
    rp_sessions sessions;
    rp_rules default_rules;
    rp_worker **workers;
    uint32_t n;

    uv_loop_t loop;
    uv_async_t finished;
    uv_signal_t signal;
    uv_timer_t progress_timer;
    uv_timer_t window_timer;
    int loop_ready;
    int handles_closed;
    int stopping;

    /* Sliding count of requests over the last WINDOW_MS milliseconds. */
    uint64_t window_ms_done;
    uint32_t last[WINDOW_MS];
    uint64_t window_sum, window_max, window_total;

    uint64_t total_ns;
    struct prev_snapshot {
        uint64_t sent, responses, at_ns;
    } *prev;                   /* per worker, at the last progress report */
    rp_hist *recent;
} engine;

/* ---- windows ---- */

/* Moves the ring's counts for milliseconds before upto_ms into the
 * sliding window. */
static void scan_windows(engine *e, uint64_t upto_ms)
{
    for (; e->window_ms_done < upto_ms; e->window_ms_done++) {
        uint64_t ms = e->window_ms_done;
        uint32_t v = atomic_exchange_explicit(&e->sh.window[ms % RP_WINDOW_RING_MS], 0,
                                              memory_order_relaxed);
        e->window_sum += v;
        e->window_sum -= e->last[ms % WINDOW_MS];
        e->last[ms % WINDOW_MS] = v;
        e->window_total += v;
        if (e->window_sum > e->window_max)
            e->window_max = e->window_sum;
    }
}

static void on_window_timer(uv_timer_t *t)
{
    engine *e = t->data;
    uint64_t now_ms = (uv_hrtime() - e->sh.start_ns) / 1000000u;
    if (now_ms > WINDOW_MARGIN_MS)
        scan_windows(e, now_ms - WINDOW_MARGIN_MS);
}

/* ---- progress ---- */

/* Adds worker i's rates since the last report, from the times its
 * snapshots were taken. */
static void add_rates(engine *e, uint32_t i, rp_worker_snapshot *s, rp_engine_progress *p)
{
    struct prev_snapshot *prev = &e->prev[i];
    uint64_t sent = atomic_load_explicit(&s->sent, memory_order_relaxed);
    uint64_t responses = atomic_load_explicit(&s->responses, memory_order_relaxed);
    uint64_t at = atomic_load_explicit(&s->at_ns, memory_order_relaxed);
    if (at == 0)
        at = e->sh.start_ns;
    double secs = (double)(at - (prev->at_ns ? prev->at_ns : e->sh.start_ns)) / 1e9;
    if (secs > 0) {
        p->sent_per_s += (double)(sent - prev->sent) / secs;
        p->responses_per_s += (double)(responses - prev->responses) / secs;
    }
    prev->sent = sent;
    prev->responses = responses;
    prev->at_ns = at;
    p->sent += sent;
    p->responses += responses;
}

static void on_progress(uv_timer_t *t)
{
    engine *e = t->data;
    uint64_t now = uv_hrtime();
    rp_engine_progress p = { .elapsed_ns = now - e->sh.start_ns, .total_ns = e->total_ns };
    uint64_t next_due = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        rp_worker_snapshot *s = rp_worker_snapshot_of(e->workers[i]);
        pthread_mutex_lock(&s->lock);
        add_rates(e, i, s, &p);
        p.due += atomic_load_explicit(&s->due, memory_order_relaxed);
        p.errors += atomic_load_explicit(&s->errors, memory_order_relaxed);
        p.in_flight += atomic_load_explicit(&s->in_flight, memory_order_relaxed);
        p.not_sent += atomic_load_explicit(&s->not_sent, memory_order_relaxed);
        uint64_t nd = atomic_load_explicit(&s->next_due_ns, memory_order_relaxed);
        if (nd != 0 && (next_due == 0 || nd < next_due))
            next_due = nd;
        rp_hist_merge(e->recent, s->recent);
        rp_hist_reset(s->recent);
        pthread_mutex_unlock(&s->lock);
    }
    p.recent_p95_us = rp_hist_percentile(e->recent, 95);
    p.next_due_in_ns = next_due > now ? next_due - now : 0;
    rp_hist_reset(e->recent);
    e->cfg->progress(e->cfg->progress_ctx, &p);
}

/* ---- loop ---- */

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void close_handles(engine *e)
{
    if (e->handles_closed)
        return;
    e->handles_closed = 1;
    uv_close((uv_handle_t *)&e->finished, on_handle_closed);
    uv_close((uv_handle_t *)&e->signal, on_handle_closed);
    uv_close((uv_handle_t *)&e->progress_timer, on_handle_closed);
    uv_close((uv_handle_t *)&e->window_timer, on_handle_closed);
}

static void on_finished(uv_async_t *h)
{
    engine *e = h->data;
    if (atomic_load(&e->sh.done) == e->n)
        close_handles(e);
}

static void on_signal(uv_signal_t *h, int signum)
{
    engine *e = h->data;
    if (e->stopping) {
        /* A second signal: give the default action back, so a third one
         * ends the process even if shutting down hangs. */
        uv_signal_stop(h);
        return;
    }
    e->stopping = 1;
    for (uint32_t i = 0; i < e->n; i++)
        rp_worker_stop(e->workers[i]);
}

static int init_loop(engine *e, char *err, size_t errlen)
{
    int rc = uv_loop_init(&e->loop);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the event loop: %s", uv_strerror(rc));
        return -1;
    }
    uv_async_init(&e->loop, &e->finished, on_finished);
    uv_signal_init(&e->loop, &e->signal);
    uv_timer_init(&e->loop, &e->progress_timer);
    uv_timer_init(&e->loop, &e->window_timer);
    e->finished.data = e->signal.data = e->progress_timer.data = e->window_timer.data = e;
    e->sh.finished = &e->finished;
    e->loop_ready = 1;
    return 0;
}

/* ---- setup ---- */

/* Planned length of the run, for the progress line; 0 when unknown. */
static uint64_t planned_ns(const engine *e)
{
    const rp_engine_config *cfg = e->cfg;
    const rp_plan *p = e->sh.plan;
    uint64_t total = 0;
    if (cfg->users == 0 && p->opts.pace != RP_PACE_MAX && cfg->passes != 0)
        total = (cfg->passes - 1) * p->pass_ns + p->last_offset_ns;
    if (cfg->duration_ns != 0 && (total == 0 || cfg->duration_ns < total))
        total = cfg->duration_ns;
    return total;
}

/* The plan, the rules and, for users, the sessions. */
static int prepare(engine *e, char *err, size_t errlen)
{
    const rp_engine_config *cfg = e->cfg;
    rp_rules_init(&e->default_rules);
    rp_rules_set_target(&e->default_rules, cfg->target);
    e->sh.rules = cfg->rules ? cfg->rules : &e->default_rules;

    e->sh.plan = cfg->plan;
    if (e->sh.plan == NULL) {
        rp_plan_opts po = cfg->plan_opts;
        if (po.rules == NULL)
            po.rules = cfg->rules;
        if (rp_plan_build(&e->own_plan, cfg->trace_path, &po, err, errlen) != 0)
            return RP_ENGINE_ETRACE;
        e->own_plan_built = 1;
        e->sh.plan = &e->own_plan;
    }
    if (cfg->users > 0) {
        if (rp_sessions_load(&e->sessions, cfg->trace_path, e->sh.plan, err, errlen) != 0)
            return RP_ENGINE_ETRACE;
        e->sh.sessions = &e->sessions;
    }
    return 0;
}

static int create_workers(engine *e, char *err, size_t errlen)
{
    e->n = e->cfg->threads > 1 ? e->cfg->threads : 1;
    e->sh.threads = e->n;
    e->workers = calloc(e->n, sizeof *e->workers);
    e->prev = calloc(e->n, sizeof *e->prev);
    if (e->workers == NULL || e->prev == NULL) {
        snprintf(err, errlen, "out of memory creating %u workers", e->n);
        return -1;
    }
    for (uint32_t i = 0; i < e->n; i++) {
        e->workers[i] = rp_worker_new(&e->sh, i);
        if (e->workers[i] == NULL) {
            snprintf(err, errlen, "out of memory creating worker %u", i);
            return -1;
        }
    }
    return 0;
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Sleeps until Unix time wall_ns (0: returns at once). The realtime clock
 * is the one that machines running shards of one replay share. */
static void wait_for_start(uint64_t wall_ns)
{
    if (wall_ns == 0)
        return;
    struct timespec at = { .tv_sec = (time_t)(wall_ns / 1000000000ull),
                           .tv_nsec = (long)(wall_ns % 1000000000ull) };
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
        ;
}

/* Starts the workers, lets them all start from one time and runs the
 * engine's loop until they end. */
static int run_workers(engine *e, rp_engine_result *res, char *err, size_t errlen)
{
    uint32_t started = 0;
    for (; started < e->n; started++) {
        int rc = rp_worker_start(e->workers[started]);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker thread %u: %s", started, strerror(rc));
            atomic_store(&e->sh.abort_start, 1);
            atomic_fetch_add(&e->sh.done, e->n - started);
            break;
        }
    }

    /* Waits until every started worker is set up. */
    pthread_mutex_lock(&e->sh.gate_lock);
    while (e->sh.ready < started)
        pthread_cond_wait(&e->sh.gate, &e->sh.gate_lock);
    pthread_mutex_unlock(&e->sh.gate_lock);

    wait_for_start(e->cfg->start_wall_ns);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    res->start_wall_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
    e->sh.start_ns = uv_hrtime();
    e->sh.start_wall_ns = res->start_wall_ns;
    /* Shifts the results' clock back by under a second, so that their
     * seconds start at results_second_at_ns after the start. */
    uint64_t at = res->start_wall_ns + e->cfg->results_second_at_ns;
    e->sh.results_wall_ns = res->start_wall_ns;
    if (e->cfg->results_second_at_ns != 0)
        e->sh.results_wall_ns -= at % 1000000000ull;
    res->results_wall_ns = e->sh.results_wall_ns;
    if (e->cfg->results != NULL)
        rp_results_set_clock(e->cfg->results, e->sh.start_ns, e->sh.results_wall_ns);
    if (e->cfg->stop_signal != 0)
        uv_signal_start(&e->signal, on_signal, e->cfg->stop_signal);
    if (e->cfg->progress != NULL)
        uv_timer_start(&e->progress_timer, on_progress, PROGRESS_MS, PROGRESS_MS);
    uv_timer_start(&e->window_timer, on_window_timer, WINDOW_SCAN_MS, WINDOW_SCAN_MS);

    pthread_mutex_lock(&e->sh.gate_lock);
    e->sh.go = 1;
    pthread_cond_broadcast(&e->sh.gate);
    pthread_mutex_unlock(&e->sh.gate_lock);

    if (started > 0)
        uv_run(&e->loop, UV_RUN_DEFAULT);
    for (uint32_t i = 0; i < started; i++)
        rp_worker_join(e->workers[i]);
    getrusage(RUSAGE_SELF, &after);
    res->cpu_user_s = seconds(after.ru_utime) - seconds(before.ru_utime);
    res->cpu_system_s = seconds(after.ru_stime) - seconds(before.ru_stime);
    return started == e->n ? 0 : RP_ENGINE_ESETUP;
}

/* ---- results ---- */

/* Merges what the workers did into stats and res. Returns the first
 * worker error, or 0. */
static int merge(engine *e, rp_stats *stats, rp_engine_result *res, char *err, size_t errlen)
{
    int rc = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        rp_worker *w = e->workers[i];
        const rp_engine_result *r = rp_worker_result(w);
        const char *msg;
        int werr = rp_worker_error(w, &msg);
        if (werr != 0 && rc == 0) {
            rc = werr;
            snprintf(err, errlen, "%s", msg);
        }
        rp_stats_merge(stats, rp_worker_stats(w));
        /* Out of memory here leaves the results incomplete, not the run
         * failed: the warning states that. */
        char merr[256];
        if (e->cfg->results != NULL &&
            rp_results_merge(e->cfg->results, rp_worker_results(w), merr, sizeof merr) != 0)
            snprintf(res->warning, sizeof res->warning,
                     "the results of thread %u are incomplete: %s", i, merr);
        if (i == 0 || res->transport[0] == '\0') {
            memcpy(res->transport, r->transport, sizeof res->transport);
            memcpy(res->transport_version, r->transport_version, sizeof res->transport_version);
            res->conn_mode_used = r->conn_mode_used;
        }
        res->interrupted |= r->interrupted;
        res->hit_duration |= r->hit_duration;
        res->max_in_flight += r->max_in_flight;
        res->sessions += r->sessions;
        if (r->duration_ns > res->duration_ns)
            res->duration_ns = r->duration_ns;
        if (r->gaps_shortened > res->gaps_shortened)
            res->gaps_shortened = r->gaps_shortened;
        if (r->bad_blocks > res->bad_blocks)
            res->bad_blocks = r->bad_blocks;
        if (r->passes > res->passes)
            res->passes = r->passes;
        if (r->warning[0] != '\0')
            memcpy(res->warning, r->warning, sizeof res->warning);
    }
    res->threads = e->n;
    return rc;
}

static void finish_windows(engine *e, rp_engine_result *res)
{
    uint64_t end_ms = res->duration_ns / 1000000u + 1;
    scan_windows(e, end_ms);
    if (e->sh.plan->opts.pace == RP_PACE_MAX || e->cfg->users > 0)
        return;
    res->window_max = e->window_max;
    res->window_mean = end_ms > 0 ? (double)e->window_total * WINDOW_MS / (double)end_ms : 0;
}

static void cleanup(engine *e)
{
    if (e->loop_ready) {
        close_handles(e);
        uv_run(&e->loop, UV_RUN_DEFAULT);
        uv_loop_close(&e->loop);
    }
    for (uint32_t i = 0; e->workers != NULL && i < e->n; i++)
        rp_worker_free(e->workers[i]);
    free(e->workers);
    free(e->prev);
    rp_hist_free(e->recent);
    rp_sessions_free(&e->sessions);
    if (e->own_plan_built)
        rp_plan_free(&e->own_plan);
    rp_rules_free(&e->default_rules);
    pthread_mutex_destroy(&e->sh.gate_lock);
    pthread_cond_destroy(&e->sh.gate);
}

int rp_engine_run(const rp_engine_config *cfg, rp_stats *stats,
                  rp_engine_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    engine *e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(err, errlen, "out of memory starting the replay");
        return RP_ENGINE_ESETUP;
    }
    e->cfg = cfg;
    e->sh.cfg = cfg;
    pthread_mutex_init(&e->sh.gate_lock, NULL);
    pthread_cond_init(&e->sh.gate, NULL);

    int rc = prepare(e, err, errlen);
    if (rc == 0) {
        rc = RP_ENGINE_ESETUP;
        e->recent = rp_hist_new(RP_HIST_HOUR_US, 2);
        if (e->recent != NULL && init_loop(e, err, errlen) == 0 &&
            create_workers(e, err, errlen) == 0) {
            e->total_ns = planned_ns(e);
            rc = run_workers(e, res, err, errlen);
            int werr = merge(e, stats, res, rc == 0 ? err : (char[512]){ 0 }, 512);
            if (rc == 0)
                rc = werr;
            finish_windows(e, res);
        } else if (e->recent == NULL) {
            snprintf(err, errlen, "out of memory starting the replay");
        }
    }
    cleanup(e);
    free(e);
    return rc;
}

/* ---- dry run ---- */

static int dry_users(engine *e, int (*row)(void *, const rp_dry_row *), void *ctx,
                     rp_request *req)
{
    const rp_sessions *ss = e->sh.sessions;
    uint64_t passes = e->cfg->passes ? e->cfg->passes : 1;
    uint64_t seq = 0;
    for (uint64_t pass = 0; pass < passes; pass++) {
        for (size_t s = 0; s < ss->count; s++) {
            for (size_t k = ss->first[s]; k < ss->first[s + 1]; k++) {
                const rp_record *rec = &ss->reqs[k].rec;
                if (rp_request_build(req, rec, e->sh.rules) != 0)
                    return RP_ENGINE_ESETUP;
                rp_dry_row r = { .seq = seq++, .pass = pass,
                                 .conn = pass * e->sh.plan->connections + s, .has_time = 1,
                                 .offset_ns = ss->reqs[k].think_ns, .req = req,
                                 .skipped = (rec->flags & RP_REC_CONNECT) != 0 };
                if (row(ctx, &r) != 0)
                    return 0;
            }
        }
    }
    return 0;
}

static int dry_sched(engine *e, int (*row)(void *, const rp_dry_row *), void *ctx,
                     rp_request *req, char *err, size_t errlen)
{
    const rp_engine_config *cfg = e->cfg;
    int timed = e->sh.plan->opts.pace != RP_PACE_MAX;
    rp_sched *s = NULL;
    uint32_t shards = cfg->shard_count > 1 ? cfg->shard_count : 1;
    if (rp_sched_open(&s, cfg->trace_path, e->sh.plan, cfg->passes,
                      shards > 1 ? cfg->shard_index : 0, shards, err, errlen) != 0)
        return RP_ENGINE_ETRACE;
    int rc = 0;
    for (;;) {
        rp_sched_item it;
        char msg[512];
        int prc = rp_sched_peek(s, &it, msg, sizeof msg);
        if (prc < 0) {
            snprintf(err, errlen, "%s", msg);
            rc = RP_ENGINE_EREAD;
        }
        if (prc != 0)
            break;
        if (timed && cfg->duration_ns != 0 && it.offset_ns >= cfg->duration_ns)
            break;
        if (rp_request_build(req, it.rec, e->sh.rules) != 0) {
            snprintf(err, errlen, "out of memory building request %llu",
                     (unsigned long long)it.seq);
            rc = RP_ENGINE_ESETUP;
            break;
        }
        rp_dry_row r = { .seq = it.seq, .pass = it.pass, .conn = it.conn_key,
                         .has_time = timed, .offset_ns = it.offset_ns, .req = req,
                         .skipped = (it.rec->flags & RP_REC_CONNECT) != 0 };
        if (row(ctx, &r) != 0)
            break;
        rp_sched_advance(s);
    }
    rp_sched_close(s);
    return rc;
}

int rp_engine_dry_run(const rp_engine_config *cfg,
                      int (*row)(void *ctx, const rp_dry_row *r), void *ctx,
                      char *err, size_t errlen)
{
    int open_ended = cfg->passes == 0 &&
        (cfg->users > 0 || cfg->duration_ns == 0 ||
         (cfg->plan ? cfg->plan->opts.pace : cfg->plan_opts.pace) == RP_PACE_MAX);
    if (open_ended) {
        snprintf(err, errlen, "a dry run of a schedule without end needs a number of passes "
                 "or, for an open-loop pace, a duration");
        return RP_ENGINE_ESETUP;
    }
    engine *e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(err, errlen, "out of memory starting the dry run");
        return RP_ENGINE_ESETUP;
    }
    e->cfg = cfg;
    e->sh.cfg = cfg;
    pthread_mutex_init(&e->sh.gate_lock, NULL);
    pthread_cond_init(&e->sh.gate, NULL);
    int rc = prepare(e, err, errlen);
    if (rc == 0) {
        rp_request req = { 0 };
        rc = cfg->users > 0 ? dry_users(e, row, ctx, &req)
                            : dry_sched(e, row, ctx, &req, err, errlen);
        if (rc == RP_ENGINE_ESETUP && err[0] == '\0')
            snprintf(err, errlen, "out of memory building a request");
        rp_request_release(&req);
    }
    cleanup(e);
    free(e);
    return rc;
}

void rp_engine_saturation(const rp_stats *s, uint64_t mean_gap_ns, rp_saturation *out)
{
    memset(out, 0, sizeof *out);
    out->dispatch_lag_p99_us = rp_hist_percentile(s->dispatch_lag, 99);
    out->mean_gap_us = mean_gap_ns / 1000;
    if (mean_gap_ns == 0)
        return;
    out->threshold_us = 5 * out->mean_gap_us < 1000 ? 5 * out->mean_gap_us : 1000;
    if (out->threshold_us == 0)
        out->threshold_us = 1;
    /* Below 100 samples the p99 is the single worst send, which one
     * scheduler hiccup decides: too few to call the generator saturated. */
    out->saturated = rp_hist_count(s->dispatch_lag) >= 100 &&
                     out->dispatch_lag_p99_us > out->threshold_us;
}
