/* reprise ramp: a stepped capacity test. It replays a trace at a rising
 * pace, one step at a time, until the knee: latency, errors or the
 * generator's own limit. The highest stable step is the capacity, and a
 * last step at half the knee pace checks that the target recovers. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <jansson.h>

#include "replay/engine.h"
#include "tools/cli.h"

#define MAX_STEPS 200
#define RATE_MAX 10000000.0
#define SPEED_MAX 1000.0
#define DEFAULT_CONNECTIONS 256
#define DEFAULT_MAX_INFLIGHT 1024
#define RECOVERY_MARGIN 1.2     /* within 20% of the first step's p95 */
#define GENERATOR_LAG_SHARE 4   /* generator lag that counts: 1/4 of the first p95 */

enum signal_kind { SIGNAL_NONE = 0, SIGNAL_LATENCY, SIGNAL_ERRORS, SIGNAL_GENERATOR };

static const char *const signal_names[] = { "none", "latency", "errors", "generator" };

typedef struct ramp_opts {
    const char *trace, *target_url, *report;
    int by_rate;                 /* steps in requests/s (--rate) instead of speed */
    int uniform;
    double start, step, max;     /* speed multipliers or requests/s */
    uint64_t hold_ns;
    double warmup;               /* share of --hold run before measuring, 0..0.9 */
    double knee_factor;
    double max_error_rate;       /* share, 0..1 */
    uint32_t connections;
    uint64_t timeout_ns;
    rp_target target;
    rp_rules rules;
} ramp_opts;

typedef struct step_result {
    double pace;                 /* requested speed multiplier or requests/s */
    double asked_rate;           /* the schedule's mean requests/s */
    double achieved_rate;        /* responses per second, to the last completion */
    uint64_t p50_us, p95_us, p99_us;
    uint64_t requests, responses, failures;
    double error_rate;
    uint64_t connections;        /* requests in flight at most, so connections in use */
    int saturated;
    uint64_t dispatch_lag_p99_us;
    int signal;                  /* enum signal_kind: why this step is the knee */
} step_result;

typedef struct recovery_result {
    int ran;
    double pace;
    int recovered;
    double recovered_after_s;    /* from the start of the step */
    double threshold_p95_ms;
    size_t seconds;
} recovery_result;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise ramp TRACE --target URL (--start Nx --step Nx --max Nx |\n"
        "                          --start-rate N --step-rate N --max-rate N) [options]\n"
        "\n"
        "Replays TRACE at a rising pace, one step at a time, each step for --hold\n"
        "(the trace loops so a step lasts --hold). The knee is the first step whose\n"
        "p95 reaches --knee-factor times the first step's, whose error rate exceeds\n"
        "--max-error-rate, or at which the generator itself falls behind. The highest\n"
        "step before the knee is the capacity. A last step at half the knee pace\n"
        "shows how long p95 takes to come back within 20%% of the first step's.\n"
        "\n"
        "  --target URL           http://HOST[:PORT] or https://HOST[:PORT]\n"
        "  --start Nx, --step Nx, --max Nx\n"
        "                         steps as multiples of the captured pace (e.g. 1x)\n"
        "  --start-rate N, --step-rate N, --max-rate N\n"
        "                         steps in requests/s, the trace's relative timing kept\n"
        "  --uniform              with the rate steps: evenly spaced requests\n"
        "  --hold D               length of each step (default 30s)\n"
        "  --warmup P%%            first part of each step not measured (default 20%%)\n"
        "  --knee-factor F        p95 growth that marks the knee (default 2)\n"
        "  --max-error-rate P%%    failures (5xx, connection errors, timeouts) that\n"
        "                         mark the knee (default 1%%)\n"
        "  --connections N        shared connections to the target (default %d)\n"
        "  --timeout D            limit for a whole request (default 10s)\n"
        "  --report FILE          write the capacity report as JSON to FILE\n"
        "\n"
        "Exit status: 0 when the ramp ran, 1 when the trace could not be read or\n"
        "the report not written, 2 for a usage error.\n", DEFAULT_CONNECTIONS);
}

static int bad_value(const char *option, const char *value, const char *accepted)
{
    fprintf(stderr, "reprise ramp: invalid %s '%s': %s\n", option, value, accepted);
    return RP_EXIT_USAGE;
}

/* Parses "2x" or "2" as a speed multiplier. */
static int parse_multiplier(const char *option, const char *arg, double *out)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", arg);
    size_t n = strlen(buf);
    if (n > 0 && (buf[n - 1] == 'x' || buf[n - 1] == 'X'))
        buf[n - 1] = '\0';
    if (rp_cli_parse_double(buf, out) != 0 || *out < 0.1 || *out > SPEED_MAX)
        return bad_value(option, arg, "expected a multiple of the captured pace from 0.1x "
                         "to 1000x, such as 1x or 2.5x");
    return 0;
}

static int parse_rate(const char *option, const char *arg, double *out)
{
    if (rp_cli_parse_double(arg, out) != 0 || *out <= 0 || *out > RATE_MAX)
        return bad_value(option, arg, "expected requests per second above 0 and at most "
                         "10000000");
    return 0;
}

/* Parses "20%" or "20" as a share 0..max_share. */
static int parse_percent(const char *option, const char *arg, double max_share, double *out)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", arg);
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '%')
        buf[n - 1] = '\0';
    double d;
    if (rp_cli_parse_double(buf, &d) != 0 || d / 100.0 > max_share) {
        char accepted[96];
        snprintf(accepted, sizeof accepted, "expected a percentage from 0%% to %g%%, such as 5%%",
                 max_share * 100.0);
        return bad_value(option, arg, accepted);
    }
    *out = d / 100.0;
    return 0;
}

enum {
    OPT_TARGET = 1000, OPT_START, OPT_STEP, OPT_MAX, OPT_START_RATE, OPT_STEP_RATE,
    OPT_MAX_RATE, OPT_UNIFORM, OPT_HOLD, OPT_WARMUP, OPT_KNEE_FACTOR, OPT_MAX_ERROR_RATE,
    OPT_CONNECTIONS, OPT_TIMEOUT, OPT_REPORT, OPT_HELP
};

static const struct option long_opts[] = {
    { "target", required_argument, NULL, OPT_TARGET },
    { "start", required_argument, NULL, OPT_START },
    { "step", required_argument, NULL, OPT_STEP },
    { "max", required_argument, NULL, OPT_MAX },
    { "start-rate", required_argument, NULL, OPT_START_RATE },
    { "step-rate", required_argument, NULL, OPT_STEP_RATE },
    { "max-rate", required_argument, NULL, OPT_MAX_RATE },
    { "uniform", no_argument, NULL, OPT_UNIFORM },
    { "hold", required_argument, NULL, OPT_HOLD },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "knee-factor", required_argument, NULL, OPT_KNEE_FACTOR },
    { "max-error-rate", required_argument, NULL, OPT_MAX_ERROR_RATE },
    { "connections", required_argument, NULL, OPT_CONNECTIONS },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "report", required_argument, NULL, OPT_REPORT },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

static int apply_steps(ramp_opts *o, int opt, const char *arg, int *speed_seen, int *rate_seen)
{
    switch (opt) {
    case OPT_START: *speed_seen |= 1; return parse_multiplier("--start", arg, &o->start);
    case OPT_STEP:  *speed_seen |= 2; return parse_multiplier("--step", arg, &o->step);
    case OPT_MAX:   *speed_seen |= 4; return parse_multiplier("--max", arg, &o->max);
    case OPT_START_RATE: *rate_seen |= 1; return parse_rate("--start-rate", arg, &o->start);
    case OPT_STEP_RATE:  *rate_seen |= 2; return parse_rate("--step-rate", arg, &o->step);
    case OPT_MAX_RATE:   *rate_seen |= 4; return parse_rate("--max-rate", arg, &o->max);
    default: return -1;
    }
}

static int apply_option(ramp_opts *o, int opt, const char *arg)
{
    char err[512];
    double d;
    switch (opt) {
    case OPT_TARGET:
        o->target_url = arg;
        if (rp_target_parse(arg, &o->target, err, sizeof err) != 0) {
            fprintf(stderr, "reprise ramp: invalid --target: %s; expected "
                    "http://HOST[:PORT] or https://HOST[:PORT]\n", err);
            return RP_EXIT_USAGE;
        }
        return 0;
    case OPT_UNIFORM:
        o->uniform = 1;
        return 0;
    case OPT_HOLD:
        if (rp_cli_parse_duration(arg, &o->hold_ns) != 0 || o->hold_ns < 1000000000ull)
            return bad_value("--hold", arg, "expected a duration of at least 1s, such as "
                             "30s or 3m");
        return 0;
    case OPT_WARMUP:
        return parse_percent("--warmup", arg, 0.9, &o->warmup);
    case OPT_KNEE_FACTOR:
        if (rp_cli_parse_double(arg, &d) != 0 || d <= 1.0 || d > 1000)
            return bad_value("--knee-factor", arg, "expected a number above 1, such as 2");
        o->knee_factor = d;
        return 0;
    case OPT_MAX_ERROR_RATE:
        return parse_percent("--max-error-rate", arg, 1.0, &o->max_error_rate);
    case OPT_CONNECTIONS:
        if (rp_cli_parse_double(arg, &d) != 0 || d < 1 || d > 100000 || d != floor(d))
            return bad_value("--connections", arg, "expected a whole number from 1 to 100000");
        o->connections = (uint32_t)d;
        return 0;
    case OPT_TIMEOUT:
        if (rp_cli_parse_duration(arg, &o->timeout_ns) != 0 || o->timeout_ns < 1000000)
            return bad_value("--timeout", arg, "expected a duration of at least 1ms, such "
                             "as 10s");
        return 0;
    case OPT_REPORT:
        o->report = arg;
        return 0;
    default:
        return -1;
    }
}

static int usage_error(const char *message)
{
    fprintf(stderr, "reprise ramp: %s\n", message);
    return RP_EXIT_USAGE;
}

static int check_steps(ramp_opts *o, int speed_seen, int rate_seen)
{
    if (speed_seen && rate_seen)
        return usage_error("--start/--step/--max and --start-rate/--step-rate/--max-rate "
                           "cannot be combined: choose speed steps or rate steps");
    if (!speed_seen && !rate_seen)
        return usage_error("missing steps: give --start 1x --step 1x --max 20x, or "
                           "--start-rate N --step-rate N --max-rate N");
    /* Bits 1, 2 and 4: start, step and max were given. */
    int seen = speed_seen ? speed_seen : rate_seen;
    if (seen != 7)
        return usage_error(speed_seen ? "--start, --step and --max must be given together"
                                      : "--start-rate, --step-rate and --max-rate must be "
                                        "given together");
    o->by_rate = rate_seen != 0;
    if (o->max < o->start)
        return usage_error("the maximum step is below the start: raise --max (or --max-rate)");
    if ((o->max - o->start) / o->step + 1 > MAX_STEPS)
        return usage_error("more than 200 steps: raise --step (or --step-rate)");
    if (o->uniform && !o->by_rate)
        return usage_error("--uniform needs rate steps (--start-rate, --step-rate, --max-rate)");
    return 0;
}

/* Returns -1 when the options are usable, or an exit code. */
static int parse_args(int argc, char **argv, ramp_opts *o)
{
    int opt, speed_seen = 0, rate_seen = 0;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP || opt == 'h') {
            usage(stdout);
            return RP_EXIT_OK;
        }
        if (opt == '?' || opt == ':') {
            const char *name = argv[optind - 1];
            fprintf(stderr, "reprise ramp: %s option '%s'; run 'reprise ramp --help' for "
                    "the list\n", opt == '?' ? "unknown" : "missing value for", name);
            return RP_EXIT_USAGE;
        }
        int rc = apply_steps(o, opt, optarg, &speed_seen, &rate_seen);
        if (rc == -1)
            rc = apply_option(o, opt, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind != argc - 1)
        return usage_error(optind >= argc ? "missing TRACE; usage: reprise ramp TRACE "
                                            "--target URL ..." : "give one TRACE only");
    o->trace = argv[optind];
    if (o->target_url == NULL)
        return usage_error("missing --target URL, e.g. --target http://127.0.0.1:8080");
    int rc = check_steps(o, speed_seen, rate_seen);
    return rc != 0 ? rc : -1;
}

/* ---- running one step ---- */

typedef struct run_out {
    rp_stats stats;
    rp_results *results;
    rp_engine_result res;
    uint64_t mean_gap_ns;
    double asked_rate;
} run_out;

static void set_rules_target(ramp_opts *o)
{
    const rp_target *t = &o->target;
    int v6 = strchr(t->host, ':') != NULL;
    snprintf(o->rules.host, sizeof o->rules.host, "%s%s%s:%u", v6 ? "[" : "", t->host,
             v6 ? "]" : "", (unsigned)t->port);
    snprintf(o->rules.base_path, sizeof o->rules.base_path, "%s", t->base_path);
}

static void free_run(run_out *r)
{
    rp_stats_free(&r->stats);
    rp_results_free(r->results);
    r->results = NULL;
}

/* Replays the trace at pace for duration_ns, looping it. Returns 0, or an
 * exit code after printing why. */
static int run_pace(const ramp_opts *o, double pace, uint64_t duration_ns, run_out *out)
{
    rp_plan_opts po = {
        .pace = o->by_rate ? (o->uniform ? RP_PACE_UNIFORM : RP_PACE_RATE) : RP_PACE_SPEED,
        .speed = o->by_rate ? 1.0 : pace,
        .rate = o->by_rate ? pace : 0,
        .max_gap_ns = RP_NO_MAX_GAP,
        .rules = &o->rules,
    };
    rp_plan plan;
    char err[512];
    int rc = rp_plan_build(&plan, o->trace, &po, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "reprise ramp: %s\n", err);
        return rc == RP_PLAN_EOPTS ? RP_EXIT_USAGE : RP_EXIT_FAIL;
    }
    if (plan.records < 2) {
        rp_plan_free(&plan);
        fprintf(stderr, "reprise ramp: %s has fewer than two requests to send, so it has no "
                "pace to step up; use a longer trace\n", o->trace);
        return RP_EXIT_USAGE;
    }
    out->mean_gap_ns = rp_plan_mean_gap_ns(&plan);
    out->asked_rate = out->mean_gap_ns > 0 ? 1e9 / (double)out->mean_gap_ns : 0;

    memset(&out->res, 0, sizeof out->res);
    out->results = NULL;
    if (rp_stats_init(&out->stats) != 0 || (out->results = rp_results_new(NULL)) == NULL) {
        rp_plan_free(&plan);
        fprintf(stderr, "reprise ramp: out of memory\n");
        return RP_EXIT_FAIL;
    }
    rp_engine_config cfg = {
        .trace_path = o->trace,
        .plan = &plan,
        .rules = &o->rules,
        .target = &o->target,
        .passes = 0,
        .duration_ns = duration_ns,
        .max_inflight = DEFAULT_MAX_INFLIGHT,
        .conn_mode = RP_CONN_POOL,
        .max_connections = o->connections,
        .timeout_ns = o->timeout_ns,
        .connect_timeout_ns = 5000000000ull,
        .threads = 1,
        .stop_signal = SIGINT,
        .results = out->results,
    };
    rc = rp_engine_run(&cfg, &out->stats, &out->res, err, sizeof err);
    rp_plan_free(&plan);
    if (rc == RP_ENGINE_ETRACE || rc == RP_ENGINE_ESETUP) {
        fprintf(stderr, "reprise ramp: %s\n", err);
        free_run(out);
        return RP_EXIT_FAIL;
    }
    rp_results_finish(out->results);
    return 0;
}

/* Runs one step: a warm-up run that is not measured, then the measured
 * run. The warm-up ends before the measured run starts, so connections are
 * opened again. */
static int run_step(const ramp_opts *o, double pace, step_result *s, int *interrupted)
{
    run_out r;
    uint64_t warm_ns = (uint64_t)((double)o->hold_ns * o->warmup);
    if (warm_ns >= 1000000) {
        int rc = run_pace(o, pace, warm_ns, &r);
        if (rc != 0)
            return rc;
        *interrupted = r.res.interrupted;
        free_run(&r);
        if (*interrupted)
            return 0;
    }

    uint64_t measured_ns = o->hold_ns - warm_ns;
    int rc = run_pace(o, pace, measured_ns, &r);
    if (rc != 0)
        return rc;
    *interrupted = r.res.interrupted;

    const rp_results_group *t = rp_results_total(r.results);
    memset(s, 0, sizeof *s);
    s->pace = pace;
    s->asked_rate = r.asked_rate;
    /* Responses over the time to the last completion: an overloaded
     * target is still answering after the sending stopped, so this is its
     * throughput rather than the asked rate. */
    uint64_t span_ns = r.res.duration_ns > measured_ns ? r.res.duration_ns : measured_ns;
    s->achieved_rate = (double)t->responses / ((double)span_ns / 1e9);
    s->p50_us = rp_results_percentile(t->response_time, 50);
    s->p95_us = rp_results_percentile(t->response_time, 95);
    s->p99_us = rp_results_percentile(t->response_time, 99);
    s->requests = t->requests;
    s->responses = t->responses;
    s->failures = t->failures;
    s->error_rate = rp_results_error_rate(t);
    s->connections = r.res.max_in_flight < o->connections ? r.res.max_in_flight
                                                           : o->connections;
    rp_saturation sat;
    rp_engine_saturation(&r.stats, r.mean_gap_ns, &sat);
    s->saturated = sat.saturated;
    s->dispatch_lag_p99_us = sat.dispatch_lag_p99_us;
    free_run(&r);
    return 0;
}

/* The signal that makes s the knee, given the first step. The generator
 * comes first because a late generator makes the latency figures
 * meaningless. It counts only when its dispatch lag p99 also reaches a
 * quarter of the first step's p95: a lag above rp_engine_saturation's
 * 1 ms threshold but small beside the target's response time (a busy
 * machine) moves p95 too little to hide the target's knee. */
static int knee_signal(const ramp_opts *o, const step_result *first, const step_result *s)
{
    if (s->saturated && s->dispatch_lag_p99_us * GENERATOR_LAG_SHARE >= first->p95_us)
        return SIGNAL_GENERATOR;
    if (s->error_rate > o->max_error_rate)
        return SIGNAL_ERRORS;
    if (s != first && (double)s->p95_us >= o->knee_factor * (double)first->p95_us)
        return SIGNAL_LATENCY;
    return SIGNAL_NONE;
}

/* Runs at half the knee pace for --hold and finds the first second whose
 * p95 is back within 20% of the first step's. */
static int run_recovery(const ramp_opts *o, double knee_pace, const step_result *first,
                        recovery_result *rec)
{
    run_out r;
    memset(rec, 0, sizeof *rec);
    rec->pace = knee_pace / 2;
    if (!o->by_rate && rec->pace < 0.1)
        rec->pace = 0.1;
    int rc = run_pace(o, rec->pace, o->hold_ns, &r);
    if (rc != 0)
        return rc;
    rec->ran = 1;
    rec->threshold_p95_ms = (double)first->p95_us * RECOVERY_MARGIN / 1000.0;
    rec->seconds = rp_results_second_count(r.results);
    for (size_t i = 0; i < rec->seconds; i++) {
        const rp_results_second *sec = rp_results_second_at(r.results, i);
        if (sec->rt_count == 0)
            continue;
        if ((double)sec->rt_p95_us / 1000.0 <= rec->threshold_p95_ms) {
            rec->recovered = 1;
            rec->recovered_after_s = (double)(i + 1);
            break;
        }
    }
    free_run(&r);
    return 0;
}

/* ---- output ---- */

static void format_pace(const ramp_opts *o, double pace, char *buf, size_t len)
{
    if (o->by_rate)
        snprintf(buf, len, "%g/s", pace);
    else
        snprintf(buf, len, "%gx", pace);
}

static void print_header(void)
{
    printf("%-5s %-10s %10s %10s %9s %9s %9s %8s %6s %s\n", "step", "pace", "asked/s",
           "achieved/s", "p50 ms", "p95 ms", "p99 ms", "errors", "conns", "note");
}

static void print_step(const ramp_opts *o, size_t i, const step_result *s)
{
    char pace[32];
    format_pace(o, s->pace, pace, sizeof pace);
    printf("%-5zu %-10s %10.1f %10.1f %9.2f %9.2f %9.2f %7.2f%% %6" PRIu64 " %s%s\n", i + 1,
           pace, s->asked_rate, s->achieved_rate, (double)s->p50_us / 1000.0,
           (double)s->p95_us / 1000.0, (double)s->p99_us / 1000.0, s->error_rate * 100.0,
           s->connections, s->saturated ? "generator saturated " : "",
           s->signal != SIGNAL_NONE ? "<- knee" : "");
    fflush(stdout);
}

static void print_summary(const ramp_opts *o, const step_result *steps, size_t n, long knee,
                          long stable, const recovery_result *rec)
{
    char pace[32];
    printf("\n");
    if (stable >= 0) {
        format_pace(o, steps[stable].pace, pace, sizeof pace);
        printf("capacity: %.1f requests/s at %s, %" PRIu64 " connections in use%s\n",
               steps[stable].achieved_rate, pace, steps[stable].connections,
               knee < 0 ? " (no knee up to the last step: the capacity is at least this)" : "");
    } else {
        printf("capacity: not found, the first step is already past the knee; lower --start\n");
    }
    if (knee >= 0) {
        format_pace(o, steps[knee].pace, pace, sizeof pace);
        printf("knee: step %ld (%s), signal %s%s\n", knee + 1, pace,
               signal_names[steps[knee].signal],
               steps[knee].signal == SIGNAL_GENERATOR
                   ? ": the load generator fell behind its schedule, so this is the "
                     "generator's limit, not the target's" : "");
    }
    if (rec->ran) {
        format_pace(o, rec->pace, pace, sizeof pace);
        if (rec->recovered)
            printf("recovery: at %s, p95 came back within 20%% of the first step's "
                   "(%.2f ms) after %.0f s\n", pace, rec->threshold_p95_ms,
                   rec->recovered_after_s);
        else
            printf("recovery: at %s, p95 did not come back within 20%% of the first step's "
                   "(%.2f ms) during the hold: possible leak or lasting degradation\n",
                   pace, rec->threshold_p95_ms);
    }
    (void)n;
}

static json_t *step_json(const ramp_opts *o, size_t i, const step_result *s)
{
    return json_pack("{s:I, s:f, s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:I, s:b,"
                     " s:I, s:s}",
                     "step", (json_int_t)(i + 1), "pace", s->pace,
                     "pace_unit", o->by_rate ? "requests/s" : "speed",
                     "asked_rate", s->asked_rate, "achieved_rate", s->achieved_rate,
                     "p50_ms", (double)s->p50_us / 1000.0, "p95_ms", (double)s->p95_us / 1000.0,
                     "p99_ms", (double)s->p99_us / 1000.0, "requests", (json_int_t)s->requests,
                     "responses", (json_int_t)s->responses, "failures", (json_int_t)s->failures,
                     "error_rate", s->error_rate, "connections", (json_int_t)s->connections,
                     "generator_saturated", s->saturated,
                     "dispatch_lag_p99_us", (json_int_t)s->dispatch_lag_p99_us,
                     "signal", signal_names[s->signal]);
}

static int write_report(const ramp_opts *o, const step_result *steps, size_t n, long knee,
                        long stable, const recovery_result *rec)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, step_json(o, i, &steps[i]));

    json_t *knee_obj = knee >= 0
        ? json_pack("{s:I, s:f, s:s}", "step", (json_int_t)(knee + 1), "pace", steps[knee].pace,
                    "signal", signal_names[steps[knee].signal])
        : json_null();
    json_t *cap = json_pack("{s:o, s:o, s:o, s:o, s:s}",
        "stable_rate", stable >= 0 ? json_real(steps[stable].achieved_rate) : json_null(),
        "stable_pace", stable >= 0 ? json_real(steps[stable].pace) : json_null(),
        "connections", stable >= 0 ? json_integer((json_int_t)steps[stable].connections)
                                   : json_null(),
        "knee", knee_obj,
        "limited_by", knee < 0 ? "max_step"
                               : steps[knee].signal == SIGNAL_GENERATOR ? "generator" : "target");
    json_t *rec_obj = rec->ran
        ? json_pack("{s:b, s:f, s:o, s:f, s:b}", "ran", 1, "pace", rec->pace,
                    "recovered_after_s", rec->recovered ? json_real(rec->recovered_after_s)
                                                        : json_null(),
                    "threshold_p95_ms", rec->threshold_p95_ms, "leak_suspected", !rec->recovered)
        : json_pack("{s:b}", "ran", 0);
    json_t *root = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:o, s:o, s:o}",
        "trace", o->trace, "target", o->target_url, "hold_s", (double)o->hold_ns / 1e9,
        "warmup", o->warmup, "knee_factor", o->knee_factor, "max_error_rate", o->max_error_rate,
        "capacity", cap, "steps", list, "recovery", rec_obj);
    int rc = root != NULL ? json_dump_file(root, o->report, JSON_INDENT(2)) : -1;
    json_decref(root);
    if (rc != 0) {
        fprintf(stderr, "reprise ramp: cannot write --report %s; check that its directory "
                "exists and is writable\n", o->report);
        return RP_EXIT_FAIL;
    }
    return 0;
}

/* ---- the ramp ---- */

static int ramp(ramp_opts *o)
{
    step_result steps[MAX_STEPS];
    size_t n = 0;
    long knee = -1;
    int interrupted = 0;

    print_header();
    for (double pace = o->start; pace <= o->max * (1 + 1e-9) && n < MAX_STEPS;
         pace = o->start + o->step * (double)n) {
        int rc = run_step(o, pace, &steps[n], &interrupted);
        /* One late burst (another process took the CPU) is enough to call
         * a run saturated, so a saturated step runs once more before the
         * generator is named as the limit. */
        if (rc == 0 && !interrupted && knee_signal(o, n > 0 ? &steps[0] : &steps[n],
                                                   &steps[n]) == SIGNAL_GENERATOR)
            rc = run_step(o, pace, &steps[n], &interrupted);
        if (rc != 0)
            return rc;
        if (interrupted)
            break;
        steps[n].signal = knee_signal(o, &steps[0], &steps[n]);
        print_step(o, n, &steps[n]);
        n++;
        if (steps[n - 1].signal != SIGNAL_NONE) {
            knee = (long)(n - 1);
            break;
        }
    }
    long stable = knee >= 0 ? knee - 1 : (long)n - 1;

    recovery_result rec;
    memset(&rec, 0, sizeof rec);
    if (knee >= 0 && !interrupted) {
        int rc = run_recovery(o, steps[knee].pace, &steps[0], &rec);
        if (rc != 0)
            return rc;
    }
    print_summary(o, steps, n, knee, stable, &rec);
    if (o->report != NULL && write_report(o, steps, n, knee, stable, &rec) != 0)
        return RP_EXIT_FAIL;
    return interrupted ? 130 : RP_EXIT_OK;
}

int cmd_ramp(int argc, char **argv)
{
    ramp_opts o;
    memset(&o, 0, sizeof o);
    o.hold_ns = 30000000000ull;
    o.warmup = 0.2;
    o.knee_factor = 2.0;
    o.max_error_rate = 0.01;
    o.connections = DEFAULT_CONNECTIONS;
    o.timeout_ns = 10000000000ull;
    rp_rules_init(&o.rules);

    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        rp_rules_free(&o.rules);
        return rc;
    }
    char err[512];
    if (rp_target_resolve(&o.target, err, sizeof err) != 0) {
        fprintf(stderr, "reprise ramp: %s; check --target %s\n", err, o.target_url);
        rp_rules_free(&o.rules);
        return RP_EXIT_FAIL;
    }
    set_rules_target(&o);
    /* Keeps timer wake-ups precise, as reprise replay does. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    rc = ramp(&o);
    rp_rules_free(&o.rules);
    return rc;
}
