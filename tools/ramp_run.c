/* Runs the steps of reprise ramp through the replay engine and measures
 * them.
 *
 * Paced steps (speed or rate) run twice: a warm-up run that is not
 * measured, then the measured run, so the warm-up's figures never mix in.
 * A users step runs once. Its users start evenly over the warm-up part,
 * because users that all start at once send their first requests as one
 * burst. The step is measured over the whole seconds after the warm-up,
 * merging those seconds' response-time histograms. */
#include "tools/ramp.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hdrhist.h"
#include "replay/engine.h"
#include "tools/cli.h"

#define DEFAULT_MAX_INFLIGHT 1024
#define RECOVERY_MARGIN 1.2          /* within 20% of the first step's p95 */
#define SOAK_MARGIN 1.2              /* last third 20% above the first: degrading */
#define SOAK_MIN_RISE_MS 1.0         /* and by more than this, above timer noise */
#define USERS_LAG_GAP_NS 1000000000ull /* users: judge lag against 1 ms, as open loop */
#define MIN_OVERLOAD_NS 1000000000ull  /* recovery: the knee pace for at least 1 s */
#define MIN_RECOVERY_NS 5000000000ull  /* and half of it for at least 5 s */

/* One engine run: the pace, how long, how the users start, and an
 * optional pace change. */
typedef struct run_spec {
    const char *label;           /* for the progress line, e.g. "step at 150/s" */
    double pace;
    uint64_t duration_ns;
    uint64_t spawn_ns;           /* users start over this */
    uint64_t change_at_ns;       /* 0: no pace change */
    double change_factor;        /* gaps times this after the change */
    uint64_t second_at_ns;       /* results' seconds start here; 0: wall clock */
} run_spec;

typedef struct run_out {
    rp_stats stats;
    rp_results *results;
    rp_engine_result res;
    uint64_t mean_gap_ns;
    double asked_rate;
} run_out;

static void free_run(run_out *r)
{
    rp_stats_free(&r->stats);
    rp_results_free(r->results);
    r->results = NULL;
}

static int build_plan(const ramp_opts *o, double pace, rp_plan *plan)
{
    int by_rate = o->unit == RP_CAPACITY_RATE;
    int mode = RP_PACE_SPEED;
    if (by_rate)
        mode = o->uniform ? RP_PACE_UNIFORM : RP_PACE_RATE;
    rp_plan_opts po = {
        .pace = mode,
        .speed = o->unit == RP_CAPACITY_SPEED ? pace : 1.0,
        .rate = by_rate ? pace : 0,
        .max_gap_ns = RP_NO_MAX_GAP,
        .rules = &o->rules,
    };
    char err[512];
    int rc = rp_plan_build(plan, o->trace, &po, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "reprise ramp: %s\n", err);
        return rc == RP_PLAN_EOPTS ? RP_EXIT_USAGE : RP_EXIT_FAIL;
    }
    if (plan->records < 2) {
        rp_plan_free(plan);
        fprintf(stderr, "reprise ramp: %s has fewer than two requests to send, so it has no "
                "pace to step up; use a longer trace\n", o->trace);
        return RP_EXIT_USAGE;
    }
    return 0;
}

static void engine_config(const ramp_opts *o, const rp_plan *plan, const run_spec *spec,
                          rp_engine_config *cfg)
{
    int users = o->unit == RP_CAPACITY_USERS;
    double pace = spec->pace;
    *cfg = (rp_engine_config){
        .trace_path = o->trace,
        .plan = plan,
        .rules = &o->rules,
        .target = &o->target,
        .passes = 0,
        .duration_ns = spec->duration_ns,
        .pace_change_at_ns = spec->change_at_ns,
        .pace_change_factor = spec->change_factor,
        .results_second_at_ns = spec->second_at_ns,
        .users = users ? (uint32_t)pace : 0,
        .users_spawn_ns = users ? spec->spawn_ns : 0,
        /* A user waits for its response, so it needs one connection. */
        .max_inflight = users ? (uint32_t)pace : DEFAULT_MAX_INFLIGHT,
        .conn_mode = RP_CONN_POOL,
        .max_connections = users ? (uint32_t)pace : o->connections,
        .timeout_ns = o->timeout_ns,
        .connect_timeout_ns = 5000000000ull,
        .threads = 1,
        .stop_signal = SIGINT,
    };
}

/* Shows the run's progress on one terminal line, rewritten every second. */
static void on_progress(void *ctx, const rp_engine_progress *p)
{
    const run_spec *spec = ctx;
    if (p->elapsed_ns <= spec->duration_ns)
        fprintf(stderr, "\r  %s: %.0f of %.0f s", spec->label, (double)p->elapsed_ns / 1e9,
                (double)spec->duration_ns / 1e9);
    else
        fprintf(stderr, "\r  %s: waiting for the last responses", spec->label);
    fprintf(stderr, ", sent %.0f/s, done %.0f/s, in flight %" PRIu64, p->sent_per_s,
            p->responses_per_s, p->in_flight);
    if (p->recent_p95_us > 0)
        fprintf(stderr, ", p95 %.2f ms", (double)p->recent_p95_us / 1000.0);
    fprintf(stderr, "\033[K");
    fflush(stderr);
}

/* Replays the trace under spec, looping it. */
static int run_spec_once(const ramp_opts *o, const run_spec *spec, run_out *out)
{
    rp_plan plan;
    double pace = spec->pace;
    int rc = build_plan(o, pace, &plan);
    if (rc != 0)
        return rc;
    out->mean_gap_ns = o->unit == RP_CAPACITY_USERS ? USERS_LAG_GAP_NS
                                                     : rp_plan_mean_gap_ns(&plan);
    out->asked_rate = o->unit != RP_CAPACITY_USERS && out->mean_gap_ns > 0
                          ? 1e9 / (double)out->mean_gap_ns : 0;
    memset(&out->res, 0, sizeof out->res);
    out->results = NULL;
    if (rp_stats_init(&out->stats) != 0 || (out->results = rp_results_new(NULL)) == NULL) {
        rp_plan_free(&plan);
        fprintf(stderr, "reprise ramp: out of memory\n");
        return RP_EXIT_FAIL;
    }

    rp_engine_config cfg;
    engine_config(o, &plan, spec, &cfg);
    cfg.results = out->results;
    if (rp_cli_is_tty()) {
        cfg.progress = on_progress;
        cfg.progress_ctx = (void *)spec;
    }
    char err[512];
    rc = rp_engine_run(&cfg, &out->stats, &out->res, err, sizeof err);
    if (cfg.progress != NULL)
        fprintf(stderr, "\r\033[K");
    rp_plan_free(&plan);
    if (rc == RP_ENGINE_ETRACE || rc == RP_ENGINE_ESETUP) {
        fprintf(stderr, "reprise ramp: %s\n", err);
        free_run(out);
        return RP_EXIT_FAIL;
    }
    rp_results_finish(out->results);
    return 0;
}

/* Replays the trace at pace for duration_ns, looping it. what names the
 * run on the progress line: "warm-up", "soak"... */
static int run_pace(const ramp_opts *o, const char *what, double pace, uint64_t duration_ns,
                    uint64_t spawn_ns, run_out *out)
{
    char label[96], text[32];
    rp_capacity_format_pace(o->unit, pace, text, sizeof text);
    snprintf(label, sizeof label, "%s at %s", what, text);
    /* A users run's seconds start once all its users have started. */
    run_spec spec = { label, pace, duration_ns, spawn_ns, 0, 1.0, spawn_ns };
    return run_spec_once(o, &spec, out);
}

/* ---- figures ---- */

static double ms(uint64_t us) { return (double)us / 1000.0; }

static void generator_figures(const run_out *r, rp_capacity_step *s)
{
    rp_saturation sat;
    rp_engine_saturation(&r->stats, r->mean_gap_ns, &sat);
    s->saturated = sat.saturated;
    s->dispatch_lag_p99_us = sat.dispatch_lag_p99_us;
}

/* The figures of a whole measured run. */
static void whole_run_figures(const ramp_opts *o, const run_out *r, uint64_t measured_ns,
                              rp_capacity_step *s)
{
    const rp_results_group *t = rp_results_total(r->results);
    /* Responses over the time to the last completion: an overloaded
     * target is still responding after the sending stopped, so this is its
     * throughput rather than the asked rate. */
    uint64_t span_ns = r->res.duration_ns > measured_ns ? r->res.duration_ns : measured_ns;
    s->achieved_rate = (double)t->responses / ((double)span_ns / 1e9);
    s->p50_ms = ms(rp_results_percentile(t->response_time, 50));
    s->p95_ms = ms(rp_results_percentile(t->response_time, 95));
    s->p99_ms = ms(rp_results_percentile(t->response_time, 99));
    s->requests = t->requests;
    s->responses = t->responses;
    s->failures = t->failures;
    s->error_rate = rp_results_error_rate(t);
    s->connections = r->res.max_in_flight < o->connections ? r->res.max_in_flight
                                                            : o->connections;
}

/* The figures of the whole seconds from from_ns to to_ns after the run's
 * start (all seconds from from_ns when none fits whole). */
static int window_figures(const run_out *r, uint64_t from_ns, uint64_t to_ns,
                          rp_capacity_step *s)
{
    uint64_t start = r->res.results_wall_ns;
    int64_t first = (int64_t)((start + from_ns + 999999999ull) / 1000000000ull);
    int64_t last = (int64_t)((start + to_ns) / 1000000000ull);   /* exclusive */
    if (last <= first)
        last = INT64_MAX;
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    if (h == NULL)
        return -1;
    size_t n = rp_results_second_count(r->results), seconds = 0;
    for (size_t i = 0; i < n; i++) {
        const rp_results_second *sec = rp_results_second_at(r->results, i);
        if (sec->epoch_s < first || sec->epoch_s >= last)
            continue;
        seconds++;
        s->requests += sec->due;
        s->responses += sec->responses;
        s->failures += sec->failures;
        char err[128];
        if (sec->rt_hist != NULL && rp_hdrhist_decode_add(sec->rt_hist, h, err, sizeof err) != 0)
            fprintf(stderr, "reprise ramp: note: a second's histogram was skipped: %s\n", err);
    }
    s->achieved_rate = seconds > 0 ? (double)s->responses / (double)seconds : 0;
    s->error_rate = s->requests > 0 ? (double)s->failures / (double)s->requests : 0;
    s->p50_ms = ms(rp_hist_percentile(h, 50));
    s->p95_ms = ms(rp_hist_percentile(h, 95));
    s->p99_ms = ms(rp_hist_percentile(h, 99));
    rp_hist_free(h);
    return 0;
}

/* ---- steps ---- */

static int run_paced_step(const ramp_opts *o, double pace, rp_capacity_step *s, ramp_extra *x)
{
    run_out r;
    uint64_t warm_ns = (uint64_t)((double)o->hold_ns * o->warmup);
    if (warm_ns >= 1000000) {
        int rc = run_pace(o, "warm-up", pace, warm_ns, 0, &r);
        if (rc != 0)
            return rc;
        x->interrupted = r.res.interrupted;
        free_run(&r);
        if (x->interrupted)
            return 0;
    }
    uint64_t measured_ns = o->hold_ns - warm_ns;
    int rc = run_pace(o, "step", pace, measured_ns, 0, &r);
    if (rc != 0)
        return rc;
    x->interrupted = r.res.interrupted;
    s->asked_rate = r.asked_rate;
    whole_run_figures(o, &r, measured_ns, s);
    generator_figures(&r, s);
    x->drain_s = r.res.duration_ns > measured_ns ? (double)(r.res.duration_ns - measured_ns) / 1e9
                                                 : 0;
    free_run(&r);
    return 0;
}

static int run_users_step(const ramp_opts *o, double users, rp_capacity_step *s, ramp_extra *x)
{
    run_out r;
    uint64_t warm_ns = (uint64_t)((double)o->hold_ns * o->warmup);
    int rc = run_pace(o, "step", users, o->hold_ns, warm_ns, &r);
    if (rc != 0)
        return rc;
    x->interrupted = r.res.interrupted;
    if (window_figures(&r, warm_ns, o->hold_ns, s) != 0) {
        free_run(&r);
        fprintf(stderr, "reprise ramp: out of memory\n");
        return RP_EXIT_FAIL;
    }
    s->connections = r.res.max_in_flight;
    generator_figures(&r, s);
    x->drain_s = r.res.duration_ns > o->hold_ns ? (double)(r.res.duration_ns - o->hold_ns) / 1e9
                                                : 0;
    free_run(&r);
    return 0;
}

int ramp_run_step(const ramp_opts *o, double pace, rp_capacity_step *s, ramp_extra *x)
{
    memset(s, 0, sizeof *s);
    memset(x, 0, sizeof *x);
    s->pace = pace;
    if (o->unit == RP_CAPACITY_USERS)
        return run_users_step(o, pace, s, x);
    return run_paced_step(o, pace, s, x);
}

/* ---- recovery and soak ---- */

/* The p95 of each whole second from from_ns after the run's start; -1 for
 * a second without a response. *lead_s is the time from from_ns to the
 * first of those seconds. */
static int seconds_after(const run_out *r, uint64_t from_ns, rp_capacity_series *out,
                         double *lead_s)
{
    uint64_t from_wall = r->res.results_wall_ns + from_ns;
    int64_t first = (int64_t)((from_wall + 999999999ull) / 1000000000ull);
    *lead_s = ((double)first * 1e9 - (double)from_wall) / 1e9;
    size_t n = rp_results_second_count(r->results), count = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t k = rp_results_second_at(r->results, i)->epoch_s - first;
        if (k >= 0 && (size_t)k + 1 > count)
            count = (size_t)k + 1;
    }
    out->count = 0;
    out->p95_ms = malloc((count > 0 ? count : 1) * sizeof *out->p95_ms);
    if (out->p95_ms == NULL)
        return -1;
    for (size_t k = 0; k < count; k++)
        out->p95_ms[k] = -1;
    for (size_t i = 0; i < n; i++) {
        const rp_results_second *sec = rp_results_second_at(r->results, i);
        int64_t k = sec->epoch_s - first;
        if (k >= 0 && sec->rt_count > 0)
            out->p95_ms[k] = ms(sec->rt_p95_us);
    }
    out->count = count;
    return 0;
}

int ramp_run_recovery(const ramp_opts *o, double knee_pace, double first_p95_ms,
                      rp_capacity_recovery *rec, ramp_extra *x)
{
    run_out r;
    int users = o->unit == RP_CAPACITY_USERS;
    rec->pace = knee_pace / 2;
    if (o->unit == RP_CAPACITY_SPEED && rec->pace < 0.1)
        rec->pace = 0.1;
    if (users)
        rec->pace = rec->pace < 1 ? 1 : floor(rec->pace);

    /* The knee pace runs again for the warm-up share of a hold (users first
     * start over that much), so the overload builds up. The drop follows in
     * the same run, on the same connections and with no drain in between. */
    uint64_t warm_ns = (uint64_t)((double)o->hold_ns * o->warmup);
    uint64_t spawn_ns = users ? warm_ns : 0;
    uint64_t overload_ns = (warm_ns > MIN_OVERLOAD_NS ? warm_ns : MIN_OVERLOAD_NS) + spawn_ns;
    uint64_t after_ns = o->hold_ns > MIN_RECOVERY_NS ? o->hold_ns : MIN_RECOVERY_NS;
    run_spec spec = { "recovery: knee pace, then half", knee_pace, overload_ns + after_ns,
                      spawn_ns, overload_ns, knee_pace / rec->pace, overload_ns };
    int rc = run_spec_once(o, &spec, &r);
    if (rc != 0)
        return rc;
    x->interrupted = r.res.interrupted;
    rec->ran = 1;
    rec->overload_s = (double)overload_ns / 1e9;
    rec->threshold_p95_ms = first_p95_ms * RECOVERY_MARGIN;
    double lead_s = 0;
    rc = seconds_after(&r, overload_ns, &rec->series, &lead_s);
    free_run(&r);
    if (rc != 0) {
        fprintf(stderr, "reprise ramp: out of memory\n");
        return RP_EXIT_FAIL;
    }
    for (size_t i = 0; i < rec->series.count; i++) {
        double p95 = rec->series.p95_ms[i];
        if (p95 >= 0 && p95 <= rec->threshold_p95_ms) {
            rec->recovered = 1;
            rec->recovered_after_s = lead_s + (double)(i + 1);
            break;
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the non-negative values of v[from..to); -1 when none. */
static double median(const double *v, size_t from, size_t to)
{
    double *tmp = malloc((to > from ? to - from : 1) * sizeof *tmp);
    size_t n = 0;
    if (tmp == NULL)
        return -1;
    for (size_t i = from; i < to; i++)
        if (v[i] >= 0)
            tmp[n++] = v[i];
    qsort(tmp, n, sizeof *tmp, cmp_double);
    double m = -1;
    if (n % 2 == 1)
        m = tmp[n / 2];
    else if (n > 0)
        m = (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
    free(tmp);
    return m;
}

int ramp_run_soak(const ramp_opts *o, double pace, rp_capacity_soak *soak, ramp_extra *x)
{
    run_out r;
    int users = o->unit == RP_CAPACITY_USERS;
    /* Users start first, over the warm-up share of a hold, and the soak is
     * measured after that, so their start does not count as a trend. */
    uint64_t spawn_ns = users ? (uint64_t)((double)o->hold_ns * o->warmup) : 0;
    soak->pace = pace;
    int rc = run_pace(o, "soak", pace, spawn_ns + o->soak_ns, spawn_ns, &r);
    if (rc != 0)
        return rc;
    x->interrupted = r.res.interrupted;
    soak->ran = 1;

    rp_capacity_step w;
    memset(&w, 0, sizeof w);
    double lead_s = 0;
    if (window_figures(&r, spawn_ns, spawn_ns + o->soak_ns, &w) != 0 ||
        seconds_after(&r, spawn_ns, &soak->series, &lead_s) != 0) {
        free_run(&r);
        fprintf(stderr, "reprise ramp: out of memory\n");
        return RP_EXIT_FAIL;
    }
    uint64_t ran_ns = r.res.duration_ns > spawn_ns ? r.res.duration_ns - spawn_ns : 0;
    soak->duration_s = (double)(x->interrupted ? ran_ns : o->soak_ns) / 1e9;
    soak->achieved_rate = w.achieved_rate;
    soak->error_rate = w.error_rate;
    free_run(&r);

    /* Thirds of the seconds; a soak shorter than 3 s has no trend. */
    size_t n = soak->series.count, third = n / 3;
    soak->first_p95_ms = third > 0 ? median(soak->series.p95_ms, 0, third) : -1;
    soak->last_p95_ms = third > 0 ? median(soak->series.p95_ms, n - third, n) : -1;
    int rising = soak->first_p95_ms >= 0 && soak->last_p95_ms >= 0 &&
                 soak->last_p95_ms > soak->first_p95_ms * SOAK_MARGIN &&
                 soak->last_p95_ms - soak->first_p95_ms > SOAK_MIN_RISE_MS;
    soak->degrading = rising || soak->error_rate > o->max_error_rate;
    return 0;
}
