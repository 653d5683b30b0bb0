/* reprise replay: sends a trace's requests to a target at the captured
 * pace and prints what happened. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "formats/report.h"
#include "replay/engine.h"
#include "tools/cli.h"

#define SPEED_MIN 0.1
#define SPEED_MAX 1000.0
#define DEFAULT_MAX_CONNECTIONS 256
#define MAX_CONNECTIONS_LIMIT 65536
/* Descriptors kept free beside the connections: stdio, the trace, the
 * report, libuv's own. */
#define FD_RESERVE 32

typedef struct replay_opts {
    const char *trace;
    const char *target_url;
    const char *report;
    double speed;
    uint64_t max_gap_ns;
    int keep_host;
    uint64_t timeout_ns;
    uint64_t connect_timeout_ns;
    uint32_t max_connections;
    rp_target target;
} replay_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise replay TRACE --target URL [options]\n"
        "\n"
        "Sends every request of TRACE to URL, each at its captured time\n"
        "divided by --speed, whether or not earlier responses came back.\n"
        "\n"
        "  --target URL           http://HOST[:PORT][/BASE-PATH] or https://...; every\n"
        "                         request goes there, BASE-PATH is prepended to its path\n"
        "  --speed X              pace multiplier, 0.1 to 1000 (default 1)\n"
        "  --max-gap D            shorten every pause between requests in the replay\n"
        "                         to at most D, e.g. 5s or 250ms (default: no limit)\n"
        "  --report FILE          also write the results as JSON to FILE\n"
        "  --keep-host            send the captured Host header instead of the target's\n"
        "  --timeout D            limit for a whole request (default 30s)\n"
        "  --connect-timeout D    limit for opening a connection (default 5s)\n"
        "  --max-connections N    requests in flight at most, each on its own\n"
        "                         connection (default %d)\n"
        "\n"
        "Exit status: 0 when the run completed (request errors are results),\n"
        "1 when the trace or report could not be read or written, 2 for a\n"
        "usage error, 130 when interrupted by SIGINT (the summary and report\n"
        "still cover what was done).\n",
        DEFAULT_MAX_CONNECTIONS);
}

static int bad_value(const char *option, const char *value, const char *accepted)
{
    fprintf(stderr, "reprise replay: invalid %s '%s': %s\n", option, value, accepted);
    return RP_EXIT_USAGE;
}

static int parse_positive_duration(const char *option, const char *value, uint64_t *out)
{
    if (rp_cli_parse_duration(value, out) != 0 || *out < 1000000)
        return bad_value(option, value,
                         "expected a duration of at least 1ms, such as 500ms, 5s or 2m");
    return 0;
}

enum { OPT_TARGET = 1000, OPT_SPEED, OPT_MAX_GAP, OPT_REPORT, OPT_KEEP_HOST,
       OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_MAX_CONNECTIONS, OPT_HELP };

static const struct option long_opts[] = {
    { "target", required_argument, NULL, OPT_TARGET },
    { "speed", required_argument, NULL, OPT_SPEED },
    { "max-gap", required_argument, NULL, OPT_MAX_GAP },
    { "report", required_argument, NULL, OPT_REPORT },
    { "keep-host", no_argument, NULL, OPT_KEEP_HOST },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

/* Applies one option. Returns 0, or an exit code. */
static int apply_option(replay_opts *o, int opt, const char *arg)
{
    char err[512];
    double d;
    switch (opt) {
    case OPT_TARGET:
        o->target_url = arg;
        if (rp_target_parse(arg, &o->target, err, sizeof err) != 0) {
            fprintf(stderr, "reprise replay: invalid --target: %s; expected "
                    "http://HOST[:PORT][/BASE-PATH] or https://HOST[:PORT][/BASE-PATH]\n", err);
            return RP_EXIT_USAGE;
        }
        return 0;
    case OPT_SPEED:
        if (rp_cli_parse_double(arg, &d) != 0 || d < SPEED_MIN || d > SPEED_MAX)
            return bad_value("--speed", arg, "expected a number from 0.1 to 1000, such as 2 or 0.5");
        o->speed = d;
        return 0;
    case OPT_MAX_GAP:
        if (rp_cli_parse_duration(arg, &o->max_gap_ns) != 0)
            return bad_value("--max-gap", arg, "expected a duration such as 5s, 250ms or 0");
        return 0;
    case OPT_REPORT:
        o->report = arg;
        return 0;
    case OPT_KEEP_HOST:
        o->keep_host = 1;
        return 0;
    case OPT_TIMEOUT:
        return parse_positive_duration("--timeout", arg, &o->timeout_ns);
    case OPT_CONNECT_TIMEOUT:
        return parse_positive_duration("--connect-timeout", arg, &o->connect_timeout_ns);
    case OPT_MAX_CONNECTIONS:
        if (rp_cli_parse_double(arg, &d) != 0 || d < 1 || d > MAX_CONNECTIONS_LIMIT ||
            d != (double)(uint32_t)d)
            return bad_value("--max-connections", arg, "expected a whole number from 1 to 65536");
        o->max_connections = (uint32_t)d;
        return 0;
    default:
        return RP_EXIT_USAGE;
    }
}

/* Parses argv into o. Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, replay_opts *o)
{
    *o = (replay_opts){
        .speed = 1.0,
        .max_gap_ns = RP_SCHED_NO_MAX_GAP,
        .timeout_ns = 30000000000ull,
        .connect_timeout_ns = 5000000000ull,
        .max_connections = DEFAULT_MAX_CONNECTIONS,
    };
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            usage(stdout);
            return RP_EXIT_OK;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "reprise replay: %s option '%s'; run 'reprise replay --help' for the list\n",
                    opt == ':' ? "missing value for" : "unknown", argv[optind - 1]);
            return RP_EXIT_USAGE;
        }
        int rc = apply_option(o, opt, optarg);
        if (rc != 0)
            return rc;
    }

    if (optind != argc - 1) {
        fprintf(stderr, "reprise replay: expected one TRACE file, got %d; usage: "
                "reprise replay TRACE --target URL [options]\n", argc - optind);
        return RP_EXIT_USAGE;
    }
    o->trace = argv[optind];
    if (o->target_url == NULL) {
        fprintf(stderr, "reprise replay: missing --target; add e.g. --target http://127.0.0.1:8080\n");
        return RP_EXIT_USAGE;
    }
    return -1;
}

/* Raises the descriptor limit to the hard limit and lowers
 * max_connections when even that cannot hold them. */
static void fit_descriptors(replay_opts *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)o->max_connections + FD_RESERVE) {
        uint32_t fit = rl.rlim_cur > FD_RESERVE + 1 ? (uint32_t)(rl.rlim_cur - FD_RESERVE) : 1;
        fprintf(stderr, "reprise replay: warning: the open-file limit (%llu) allows %u "
                "connections, not %u; raise it with 'ulimit -n' to use more\n",
                (unsigned long long)rl.rlim_cur, fit, o->max_connections);
        o->max_connections = fit;
    }
}

/* Formats a duration in microseconds for the summary: 850us, 12.3ms, 1.52s. */
static const char *fmt_us(uint64_t us, char *buf, size_t len)
{
    if (us < 1000)
        snprintf(buf, len, "%" PRIu64 "us", us);
    else if (us < 1000000)
        snprintf(buf, len, "%.2fms", (double)us / 1e3);
    else
        snprintf(buf, len, "%.3fs", (double)us / 1e6);
    return buf;
}

static void print_hist_row(const char *name, const rp_hist *h)
{
    static const double pcts[] = { 50, 90, 95, 99, 99.9 };
    char buf[32];
    printf("  %-12s", name);
    if (rp_hist_count(h) == 0) {
        printf(" (none)\n");
        return;
    }
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        printf(" %9s", fmt_us(rp_hist_percentile(h, pcts[i]), buf, sizeof buf));
    printf(" %9s\n", fmt_us(rp_hist_max(h), buf, sizeof buf));
}

static void print_status_counts(const rp_stats *s)
{
    printf("  status      ");
    int any = 0;
    for (int code = 0; code < RP_STATS_MAX_STATUS; code++) {
        if (s->status[code] == 0)
            continue;
        printf("%s%d: %" PRIu64, any ? ", " : "", code, s->status[code]);
        any = 1;
    }
    printf("%s\n", any ? "" : "(no responses)");
}

static void print_summary(const replay_opts *o, const rp_stats *s, const rp_engine_result *r)
{
    double secs = (double)r->duration_ns / 1e9;
    char gap[32] = "none";
    if (o->max_gap_ns != RP_SCHED_NO_MAX_GAP)
        fmt_us(o->max_gap_ns / 1000, gap, sizeof gap);

    printf("replay of %s to %s (%s), speed %g, max gap %s%s\n", o->trace, o->target.origin,
           o->target.address, o->speed, gap, r->interrupted ? ", interrupted" : "");
    printf("  requests    due %" PRIu64 ", sent %" PRIu64 ", responses %" PRIu64
           ", skipped %" PRIu64 " (CONNECT %" PRIu64 ")", s->due, s->sent, s->responses,
           rp_stats_skipped_total(s), s->skipped_connect);
    if (s->cancelled)
        printf(", cancelled %" PRIu64, s->cancelled);
    if (s->submit_failed)
        printf(", not sent (out of memory) %" PRIu64, s->submit_failed);
    printf("\n  duration    %.3fs, %.1f requests/s sent, %.1f responses/s, "
           "at most %" PRIu64 " in flight\n", secs, secs > 0 ? (double)s->sent / secs : 0,
           secs > 0 ? (double)s->responses / secs : 0, r->max_in_flight);
    printf("  %-12s %9s %9s %9s %9s %9s %9s\n", "", "p50", "p90", "p95", "p99", "p99.9", "max");
    print_hist_row("latency", s->latency);
    print_hist_row("service", s->service);
    print_hist_row("send lag", s->send_lag);
    printf("              (latency from the due time, service time from the actual send)\n");
    printf("  errors      connect %" PRIu64 ", timeout %" PRIu64 ", reset %" PRIu64
           ", other %" PRIu64 " (total %" PRIu64 ")\n", s->errors[RP_ERR_CONNECT],
           s->errors[RP_ERR_TIMEOUT], s->errors[RP_ERR_RESET], s->errors[RP_ERR_OTHER],
           rp_stats_errors_total(s));
    print_status_counts(s);
    if (r->gaps_shortened || r->bad_blocks)
        printf("  trace       %" PRIu64 " gaps shortened, %" PRIu64 " damaged blocks skipped\n",
               r->gaps_shortened, r->bad_blocks);
    printf("  transport   %s (%s)\n", r->transport, r->transport_version);
}

static void on_progress(void *ctx, const rp_engine_progress *p)
{
    fprintf(stderr, "\r%7.1fs  due %" PRIu64 "  sent %" PRIu64 "  responses %" PRIu64
            "  in flight %" PRIu64 "  errors %" PRIu64, (double)p->elapsed_ns / 1e9, p->due,
            p->sent, p->responses, p->in_flight, p->errors);
    if (p->next_due_in_ns >= 2000000000ull)
        fprintf(stderr, "  next in %.0fs", (double)p->next_due_in_ns / 1e9);
    fprintf(stderr, "\033[K");
    fflush(stderr);
}

static int write_report(const replay_opts *o, const rp_stats *s, const rp_engine_result *r)
{
    rp_report_meta m = {
        .reprise_version = RP_VERSION_STRING,
        .trace_path = o->trace,
        .target_url = o->target_url,
        .target_address = o->target.address,
        .speed = o->speed,
        .max_gap_ns = o->max_gap_ns,
        .keep_host = o->keep_host,
        .timeout_ns = o->timeout_ns,
        .connect_timeout_ns = o->connect_timeout_ns,
        .max_connections = o->max_connections,
        .transport = r->transport,
        .transport_version = r->transport_version,
        .libcurl_version = curl_version_info(CURLVERSION_NOW)->version,
        .start_wall_ns = r->start_wall_ns,
        .duration_ns = r->duration_ns,
        .interrupted = r->interrupted,
        .max_in_flight = r->max_in_flight,
        .gaps_shortened = r->gaps_shortened,
        .trace_bad_blocks = r->bad_blocks,
    };
    char err[512];
    if (rp_report_write(o->report, s, &m, err, sizeof err) != 0) {
        fprintf(stderr, "reprise replay: %s; check the path and its directory's permissions\n", err);
        return -1;
    }
    return 0;
}

/* Checks before the run that the report can be created, so that a long
 * run does not end without its report. */
static int check_report_path(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "reprise replay: cannot write report %s: directory %s is missing "
                "or not writable\n", path, dir);
        return -1;
    }
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    replay_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.report != NULL && check_report_path(o.report) != 0)
        return RP_EXIT_FAIL;

    char err[512];
    if (rp_target_resolve(&o.target, err, sizeof err) != 0) {
        fprintf(stderr, "reprise replay: %s; check --target %s\n", err, o.target_url);
        return RP_EXIT_FAIL;
    }
    fit_descriptors(&o);
    /* Linux lets this thread's timers fire up to the timer slack late,
     * 50 us by default; 1 us keeps that out of the send lag. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    rp_stats stats;
    if (rp_stats_init(&stats) != 0) {
        fprintf(stderr, "reprise replay: out of memory\n");
        return RP_EXIT_FAIL;
    }
    rp_engine_config cfg = {
        .trace_path = o.trace,
        .sched = { .speed = o.speed, .max_gap_ns = o.max_gap_ns },
        .target = &o.target,
        .keep_host = o.keep_host,
        .timeout_ns = o.timeout_ns,
        .connect_timeout_ns = o.connect_timeout_ns,
        .max_connections = o.max_connections,
        .stop_signal = SIGINT,
        .progress = rp_cli_is_tty() ? on_progress : NULL,
    };
    rp_engine_result res;
    rc = rp_engine_run(&cfg, &stats, &res, err, sizeof err);
    if (cfg.progress != NULL)
        fprintf(stderr, "\r\033[K");
    if (rc == RP_ENGINE_ETRACE || rc == RP_ENGINE_ESETUP) {
        fprintf(stderr, "reprise replay: %s\n", err);
        rp_stats_free(&stats);
        return RP_EXIT_FAIL;
    }

    if (res.warning[0] != '\0')
        fprintf(stderr, "reprise replay: warning: %s\n", res.warning);
    print_summary(&o, &stats, &res);
    int exit_code = res.interrupted ? 130 : RP_EXIT_OK;
    if (rc == RP_ENGINE_EREAD) {
        fprintf(stderr, "reprise replay: the run stopped early: %s\n", err);
        exit_code = RP_EXIT_FAIL;
    }
    if (o.report != NULL && write_report(&o, &stats, &res) != 0)
        exit_code = RP_EXIT_FAIL;
    rp_stats_free(&stats);
    return exit_code;
}
