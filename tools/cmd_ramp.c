/* reprise ramp: a stepped capacity test. It replays a trace at a rising
 * pace (a speed, a request rate or a number of users), one step at a
 * time, until the knee: latency, errors or the generator's own limit. The
 * highest stable step is the capacity. A recovery run drops from the knee
 * pace to half of it to check that the target recovers, and --soak runs the
 * stable step longer to see whether it keeps degrading. tools/ramp_run.c
 * runs the steps, and formats/capacity*.c writes the report. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/ramp.h"

#define RATE_MAX 10000000.0
#define SPEED_MAX 1000.0
#define USERS_MAX 100000.0
#define DEFAULT_STEPS 20        /* steps when the maximum is not given */
#define DEFAULT_CONNECTIONS 256
#define GENERATOR_LAG_SHARE 4   /* generator lag that counts: 1/4 of the first p95 */
#define USERS_MIN_MEASURED_NS 2000000000ull /* users steps: a whole second at least */
#define PROBE_TIMEOUT_MS 5000

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise ramp TRACE --target URL STEPS [options]\n"
        "\n"
        "Replays TRACE at a rising pace, one step at a time, each step for --hold\n"
        "(the trace loops so a step lasts --hold). The knee is the first step whose\n"
        "p95 reaches --knee-factor times the first step's, whose error rate exceeds\n"
        "--max-error-rate, or at which the generator itself falls behind. The highest\n"
        "step before the knee is the capacity. A recovery run then overloads the\n"
        "target at the knee pace again, drops to half of it, and shows how long p95\n"
        "takes to come back within 20%% of the first step's.\n"
        "\n"
        "STEPS, one kind (the maximum defaults to 20 steps):\n"
        "  --start Nx --step Nx [--max Nx]\n"
        "                         multiples of the captured pace (e.g. 1x)\n"
        "  --start-rate N --step-rate N [--max-rate N]\n"
        "                         requests/s, the trace's relative timing kept\n"
        "  --users-start N --users-step N [--users-max N]\n"
        "                         concurrent virtual users (closed loop, as\n"
        "                         reprise replay --users), started evenly over the\n"
        "                         warm-up part of each step\n"
        "\n"
        "Options:\n"
        "  --target URL           http://HOST[:PORT] or https://HOST[:PORT]\n"
        "  --uniform              with the rate steps: evenly spaced requests\n"
        "  --hold D               length of each step (default 30s)\n"
        "  --warmup P%%            first part of each step not measured (default 20%%)\n"
        "  --knee-factor F        p95 growth that marks the knee (default 2)\n"
        "  --max-error-rate P%%    failures (5xx, connection errors, timeouts) that\n"
        "                         mark the knee (default 1%%)\n"
        "  --soak D               after the ramp, hold the highest stable step for D\n"
        "                         and report whether p95 or errors keep rising\n"
        "  --connections N        shared connections for the paced steps (default %d;\n"
        "                         a user keeps a connection of its own)\n"
        "  --timeout D            limit for a whole request (default 10s)\n"
        "  --report FILE          the capacity report as JSON\n"
        "  --markdown FILE        the capacity report as Markdown\n"
        "  --html FILE            the capacity report as self-contained HTML, with\n"
        "                         the capacity curve and the per-step charts\n"
        "\n"
        "Exit status: 0 when the ramp ran, 1 when the trace could not be read or a\n"
        "report not written, 2 for a usage error, 130 when interrupted (the steps\n"
        "done so far are still reported).\n", DEFAULT_CONNECTIONS);
}

static int bad_value(const char *option, const char *value, const char *accepted)
{
    fprintf(stderr, "reprise ramp: invalid %s '%s': %s\n", option, value, accepted);
    return RP_EXIT_USAGE;
}

static int usage_error(const char *message)
{
    fprintf(stderr, "reprise ramp: %s\n", message);
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

static int parse_users(const char *option, const char *arg, double *out)
{
    if (rp_cli_parse_double(arg, out) != 0 || *out < 1 || *out > USERS_MAX || *out != floor(*out))
        return bad_value(option, arg, "expected a whole number of users from 1 to 100000");
    return 0;
}

/* Parses "20%" as a share 0..max_share; example shows the form. */
static int parse_percent(const char *option, const char *arg, double max_share,
                         const char *example, double *out)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", arg);
    size_t n = strlen(buf);
    int has_sign = n > 0 && buf[n - 1] == '%';
    if (has_sign)
        buf[n - 1] = '\0';
    double d;
    /* The % sign is required: a bare 0.2 could mean 0.2% or 20%. */
    if (!has_sign || rp_cli_parse_double(buf, &d) != 0 || d / 100.0 > max_share) {
        char accepted[128];
        snprintf(accepted, sizeof accepted, "expected a percentage with its %% sign, from 0%% "
                 "to %g%%, such as %s", max_share * 100.0, example);
        return bad_value(option, arg, accepted);
    }
    *out = d / 100.0;
    return 0;
}

enum {
    OPT_TARGET = 1000, OPT_START, OPT_STEP, OPT_MAX, OPT_START_RATE, OPT_STEP_RATE,
    OPT_MAX_RATE, OPT_USERS_START, OPT_USERS_STEP, OPT_USERS_MAX, OPT_UNIFORM, OPT_HOLD,
    OPT_WARMUP, OPT_KNEE_FACTOR, OPT_MAX_ERROR_RATE, OPT_SOAK, OPT_CONNECTIONS, OPT_TIMEOUT,
    OPT_REPORT, OPT_MARKDOWN, OPT_HTML, OPT_HELP
};

static const struct option long_opts[] = {
    { "target", required_argument, NULL, OPT_TARGET },
    { "start", required_argument, NULL, OPT_START },
    { "step", required_argument, NULL, OPT_STEP },
    { "max", required_argument, NULL, OPT_MAX },
    { "start-rate", required_argument, NULL, OPT_START_RATE },
    { "step-rate", required_argument, NULL, OPT_STEP_RATE },
    { "max-rate", required_argument, NULL, OPT_MAX_RATE },
    { "users-start", required_argument, NULL, OPT_USERS_START },
    { "users-step", required_argument, NULL, OPT_USERS_STEP },
    { "users-max", required_argument, NULL, OPT_USERS_MAX },
    { "uniform", no_argument, NULL, OPT_UNIFORM },
    { "hold", required_argument, NULL, OPT_HOLD },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "knee-factor", required_argument, NULL, OPT_KNEE_FACTOR },
    { "max-error-rate", required_argument, NULL, OPT_MAX_ERROR_RATE },
    { "soak", required_argument, NULL, OPT_SOAK },
    { "connections", required_argument, NULL, OPT_CONNECTIONS },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "report", required_argument, NULL, OPT_REPORT },
    { "markdown", required_argument, NULL, OPT_MARKDOWN },
    { "html", required_argument, NULL, OPT_HTML },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

/* Which of start (bit 1), step (2) and max (4) each kind of step got. */
typedef struct steps_seen {
    int speed, rate, users;
} steps_seen;

static int apply_steps(ramp_opts *o, int opt, const char *arg, steps_seen *seen)
{
    switch (opt) {
    case OPT_START: seen->speed |= 1; return parse_multiplier("--start", arg, &o->start);
    case OPT_STEP:  seen->speed |= 2; return parse_multiplier("--step", arg, &o->step);
    case OPT_MAX:   seen->speed |= 4; return parse_multiplier("--max", arg, &o->max);
    case OPT_START_RATE: seen->rate |= 1; return parse_rate("--start-rate", arg, &o->start);
    case OPT_STEP_RATE:  seen->rate |= 2; return parse_rate("--step-rate", arg, &o->step);
    case OPT_MAX_RATE:   seen->rate |= 4; return parse_rate("--max-rate", arg, &o->max);
    case OPT_USERS_START: seen->users |= 1; return parse_users("--users-start", arg, &o->start);
    case OPT_USERS_STEP:  seen->users |= 2; return parse_users("--users-step", arg, &o->step);
    case OPT_USERS_MAX:   seen->users |= 4; return parse_users("--users-max", arg, &o->max);
    default: return -1;
    }
}

static int apply_limits(ramp_opts *o, int opt, const char *arg)
{
    double d;
    switch (opt) {
    case OPT_HOLD:
        if (rp_cli_parse_duration(arg, &o->hold_ns) != 0 || o->hold_ns < 1000000000ull)
            return bad_value("--hold", arg, "expected a duration of at least 1s, such as "
                             "30s or 3m");
        return 0;
    case OPT_SOAK:
        if (rp_cli_parse_duration(arg, &o->soak_ns) != 0 || o->soak_ns < 3000000000ull)
            return bad_value("--soak", arg, "expected a duration of at least 3s, such as "
                             "10m");
        return 0;
    case OPT_WARMUP:
        return parse_percent("--warmup", arg, 0.9, "20%", &o->warmup);
    case OPT_KNEE_FACTOR:
        if (rp_cli_parse_double(arg, &d) != 0 || d <= 1.0 || d > 1000)
            return bad_value("--knee-factor", arg, "expected a number above 1, such as 2");
        o->knee_factor = d;
        return 0;
    case OPT_MAX_ERROR_RATE:
        return parse_percent("--max-error-rate", arg, 1.0, "1%", &o->max_error_rate);
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
    default:
        return -1;
    }
}

static int apply_option(ramp_opts *o, int opt, const char *arg)
{
    char err[512];
    switch (opt) {
    case OPT_TARGET:
        o->target_url = arg;
        if (rp_target_parse(arg, &o->target, err, sizeof err) != 0) {
            fprintf(stderr, "reprise ramp: invalid --target: %s; expected "
                    "http://HOST[:PORT] or https://HOST[:PORT]\n", err);
            return RP_EXIT_USAGE;
        }
        return 0;
    case OPT_UNIFORM: o->uniform = 1; return 0;
    case OPT_REPORT: o->report = arg; return 0;
    case OPT_MARKDOWN: o->markdown = arg; return 0;
    case OPT_HTML: o->html = arg; return 0;
    default: return apply_limits(o, opt, arg);
    }
}

static const char *const step_names[3][3] = {
    { "--start", "--step", "--max" },
    { "--start-rate", "--step-rate", "--max-rate" },
    { "--users-start", "--users-step", "--users-max" },
};

static int check_steps(ramp_opts *o, const steps_seen *seen)
{
    int kinds = (seen->speed != 0) + (seen->rate != 0) + (seen->users != 0);
    if (kinds > 1)
        return usage_error("speed steps (--start, --step, --max), rate steps (--start-rate, "
                           "...) and user steps (--users-start, ...) cannot be combined: "
                           "choose one kind");
    if (kinds == 0)
        return usage_error("missing steps: give --start 1x --step 1x, --start-rate N "
                           "--step-rate N, or --users-start N --users-step N");
    o->unit = seen->rate ? RP_CAPACITY_RATE : seen->users ? RP_CAPACITY_USERS
                                                           : RP_CAPACITY_SPEED;
    int bits = seen->speed | seen->rate | seen->users;
    const char *const *names = step_names[o->unit];
    if ((bits & 3) != 3) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s and %s must be given together", names[0], names[1]);
        return usage_error(msg);
    }
    if (!(bits & 4))
        o->max = o->start + o->step * (DEFAULT_STEPS - 1);
    if (o->max < o->start) {
        char msg[200];
        snprintf(msg, sizeof msg, "the maximum step (%s %g) is below the start (%s %g): raise "
                 "%s", names[2], o->max, names[0], o->start, names[2]);
        return usage_error(msg);
    }
    if ((o->max - o->start) / o->step + 1 > RP_CAPACITY_MAX_STEPS) {
        char msg[160];
        snprintf(msg, sizeof msg, "more than 200 steps: raise %s", names[1]);
        return usage_error(msg);
    }
    if (o->uniform && o->unit != RP_CAPACITY_RATE)
        return usage_error("--uniform needs rate steps (--start-rate, --step-rate)");
    return 0;
}

/* A users step is measured over the whole seconds after its warm-up, so
 * it needs at least one. */
static int check_users_hold(const ramp_opts *o)
{
    double measured_ns = (double)o->hold_ns * (1.0 - o->warmup);
    if (o->unit != RP_CAPACITY_USERS || measured_ns >= (double)USERS_MIN_MEASURED_NS)
        return 0;
    fprintf(stderr, "reprise ramp: --hold %.3gs with --warmup %.0f%% leaves %.3gs to measure; "
            "a users step is measured over the whole seconds after its warm-up, so the "
            "measured part must be at least 2s: raise --hold or lower --warmup\n",
            (double)o->hold_ns / 1e9, o->warmup * 100.0, measured_ns / 1e9);
    return RP_EXIT_USAGE;
}

/* Returns -1 when the options are usable, or an exit code. */
static int parse_args(int argc, char **argv, ramp_opts *o)
{
    int opt;
    steps_seen seen = { 0, 0, 0 };
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
        int rc = apply_steps(o, opt, optarg, &seen);
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
    int rc = check_steps(o, &seen);
    if (rc == 0)
        rc = check_users_hold(o);
    return rc != 0 ? rc : -1;
}

/* ---- the ramp ---- */

/* The signal that makes s the knee, given the first step. The generator
 * comes first because a late generator makes the latency figures
 * meaningless. It counts only when its dispatch lag p99 also reaches a
 * quarter of the first step's p95: a lag above rp_engine_saturation's
 * 1 ms threshold but small beside the target's response time (a busy
 * machine) moves p95 too little to hide the target's knee. */
static int knee_signal(const ramp_opts *o, const rp_capacity_step *first,
                       const rp_capacity_step *s)
{
    if (s->saturated &&
        (double)s->dispatch_lag_p99_us * GENERATOR_LAG_SHARE >= first->p95_ms * 1000.0)
        return RP_CAPACITY_GENERATOR;
    if (s->error_rate > o->max_error_rate)
        return RP_CAPACITY_ERRORS;
    if (s != first && s->p95_ms >= o->knee_factor * first->p95_ms)
        return RP_CAPACITY_LATENCY;
    return RP_CAPACITY_NONE;
}

/* Runs the steps up to the knee. Returns 0 or an exit code; x gets the
 * last step's drain time. */
static int run_steps(const ramp_opts *o, rp_capacity *c, ramp_extra *x)
{
    for (double pace = o->start; pace <= o->max * (1 + 1e-9) && c->step_count < RP_CAPACITY_MAX_STEPS;
         pace = o->start + o->step * (double)c->step_count) {
        rp_capacity_step *s = &c->steps[c->step_count];
        const rp_capacity_step *first = c->step_count > 0 ? &c->steps[0] : s;
        int rc = ramp_run_step(o, pace, s, x);
        /* One late burst (another process took the CPU) is enough to call
         * a run saturated, so a saturated step runs once more before the
         * generator is named as the limit. */
        if (rc == 0 && !x->interrupted && knee_signal(o, first, s) == RP_CAPACITY_GENERATOR)
            rc = ramp_run_step(o, pace, s, x);
        if (rc != 0)
            return rc;
        if (x->interrupted) {
            c->stopped = RP_CAPACITY_STOPPED_STEPS;
            return 0;
        }
        s->signal = knee_signal(o, first, s);
        /* The header waits for the first row, so a trace error comes alone. */
        if (c->step_count == 0)
            rp_capacity_print_header(stdout, o->unit);
        c->step_count++;
        rp_capacity_print_step(stdout, c, c->step_count - 1);
        if (s->signal != RP_CAPACITY_NONE) {
            c->knee = (long)c->step_count - 1;
            return 0;
        }
    }
    return 0;
}

static int write_outputs(const ramp_opts *o, const rp_capacity *c)
{
    char err[512];
    int failed = 0;
    if (o->report != NULL && rp_capacity_write_json(c, o->report, err, sizeof err) != 0)
        failed = 1, fprintf(stderr, "reprise ramp: --report: %s\n", err);
    if (o->markdown != NULL && rp_capacity_write_markdown(c, o->markdown, err, sizeof err) != 0)
        failed = 1, fprintf(stderr, "reprise ramp: --markdown: %s\n", err);
    if (o->html != NULL && rp_capacity_write_html(c, o->html, err, sizeof err) != 0)
        failed = 1, fprintf(stderr, "reprise ramp: --html: %s\n", err);
    return failed ? RP_EXIT_FAIL : RP_EXIT_OK;
}

static int ramp(const ramp_opts *o, rp_capacity *c)
{
    ramp_extra x;
    memset(&x, 0, sizeof x);
    int rc = run_steps(o, c, &x);
    if (rc != 0)
        return rc;
    c->stable = c->knee >= 0 ? c->knee - 1 : (long)c->step_count - 1;

    if (c->knee >= 0 && !x.interrupted) {
        double drain_s = x.drain_s;
        rc = ramp_run_recovery(o, c->steps[c->knee].pace, c->steps[0].p95_ms, &c->recovery, &x);
        c->recovery.drain_s = drain_s;
        if (rc != 0)
            return rc;
        /* A partial recovery step proves nothing either way. */
        if (x.interrupted) {
            c->stopped = RP_CAPACITY_STOPPED_RECOVERY;
            c->recovery.ran = 0;
        }
    }
    if (o->soak_ns > 0 && c->stable >= 0 && !x.interrupted) {
        char pace[32];
        rp_capacity_format_pace(o->unit, c->steps[c->stable].pace, pace, sizeof pace);
        printf("soak: holding %s for %.0f s\n", pace, (double)o->soak_ns / 1e9);
        fflush(stdout);
        rc = ramp_run_soak(o, c->steps[c->stable].pace, &c->soak, &x);
        if (rc != 0)
            return rc;
        if (x.interrupted)
            c->stopped = RP_CAPACITY_STOPPED_SOAK;
    }
    rp_capacity_print_summary(stdout, c);
    rc = write_outputs(o, c);
    if (rc != 0)
        return rc;
    return x.interrupted ? 130 : RP_EXIT_OK;
}

/* Checks that an output can be written, so a long ramp does not end
 * unable to write its report. It opens the file for writing without
 * truncating it, and removes it again when it did not exist. */
static int check_output(const char *option, const char *path)
{
    if (path == NULL)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int created = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        if (created)
            unlink(path);
        return 0;
    }
    fprintf(stderr, "reprise ramp: cannot write %s %s: %s; give a file path in a writable "
            "directory\n", option, path, strerror(errno));
    return -1;
}

static int check_outputs(const ramp_opts *o)
{
    return check_output("--report", o->report) | check_output("--markdown", o->markdown) |
           check_output("--html", o->html);
}

/* Fails early, with the socket error, when nothing listens at the target:
 * otherwise every step fails and the first is called the knee. */
static int probe_target(const ramp_opts *o)
{
    char err[512];
    if (rp_target_probe(&o->target, PROBE_TIMEOUT_MS, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "reprise ramp: %s; start the target or check --target\n", err);
    return -1;
}

static void init_report(const ramp_opts *o, rp_capacity *c)
{
    rp_capacity_init(c);
    c->trace = strdup(o->trace);
    c->target = strdup(o->target_url);
    c->unit = o->unit;
    c->hold_s = (double)o->hold_ns / 1e9;
    c->warmup = o->warmup;
    c->knee_factor = o->knee_factor;
    c->max_error_rate = o->max_error_rate;
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
    if (check_outputs(&o) != 0 || probe_target(&o) != 0) {
        rp_rules_free(&o.rules);
        return RP_EXIT_FAIL;
    }
    rp_rules_set_target(&o.rules, &o.target);
    /* Keeps timer wake-ups precise, as reprise replay does. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    rp_capacity *c = malloc(sizeof *c);
    if (c == NULL) {
        rp_rules_free(&o.rules);
        fprintf(stderr, "reprise ramp: out of memory\n");
        return RP_EXIT_FAIL;
    }
    init_report(&o, c);
    rc = ramp(&o, c);
    rp_capacity_free(c);
    free(c);
    rp_rules_free(&o.rules);
    return rc;
}
