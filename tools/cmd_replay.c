/* reprise replay: sends a trace's requests to a target at the pace the
 * options set, and prints what happened. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "formats/html_report.h"
#include "formats/report.h"
#include "formats/results_json.h"
#include "formats/results_out.h"
#include "replay/engine.h"
#include "tools/cli.h"
#include "tools/results_cli.h"

#define SPEED_MIN 0.1
#define SPEED_MAX 1000.0
#define RATE_MAX 10000000.0
#define DEFAULT_MAX_INFLIGHT 1024
#define DEFAULT_MAX_CONNECTIONS 1024
#define COUNT_LIMIT 1000000
#define THREADS_LIMIT 256
/* Descriptors kept free beside the connections, per thread: stdio, the
 * trace, the report, the loop's epoll, timer and signal descriptors. */
#define FD_RESERVE 32
#define MAX_LISTED 64          /* --header, --rewrite-path... kept for the report */

typedef struct replay_opts {
    const char *trace;
    const char *target_url;
    const char *report;
    int speed_given, rate_given, uniform;
    double speed;              /* 0 with --speed max */
    double rate;
    uint64_t max_gap_ns;
    uint64_t skip_ns;
    uint64_t duration_ns;
    uint64_t passes;           /* 0: forever */
    uint32_t users;
    uint64_t spawn_ns;            /* --spawn: users start over this time */
    uint32_t max_inflight;
    int drop;
    int conn_mode;
    uint32_t max_connections;
    int max_connections_given;
    uint64_t timeout_ns;
    uint64_t connect_timeout_ns;
    int transport;
    int http2, insecure;
    const char *cacert;
    int dry_run;
    uint32_t threads;
    rp_target target;
    rp_rules rules;
    const char *headers_set[MAX_LISTED];
    size_t headers_set_count;
    const char *headers_removed[MAX_LISTED];
    size_t headers_removed_count;
    const char *rewrites[MAX_LISTED];
    size_t rewrite_count;
    char *filters[MAX_LISTED];
    size_t filter_count;
    /* Results: failure rules, thresholds and the files made from them. */
    const char *ok_status, *fail_status;
    int mismatch;              /* enum rp_mismatch_mode */
    rp_results_config results_cfg;
    rp_cli_thresholds thresholds;
    const char *csv_prefix, *series_csv, *hlog, *html;
    uint32_t shard_index, shard_count;   /* --shard K/N as K-1 and N */
    uint64_t start_wall_ns;              /* --start-at; 0: at once */
} replay_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise replay TRACE --target URL [options]\n"
        "\n"
        "Sends the requests of TRACE to URL. By default each goes out at its\n"
        "captured time, whether or not earlier responses came back (open loop).\n"
        "\n"
        "Target and transport:\n"
        "  --target URL           http://HOST[:PORT][/BASE-PATH] or https://...; every\n"
        "                         request goes there, BASE-PATH is prepended to its path\n"
        "  --transport lean|curl  lean (libuv + llhttp, http:// only) or libcurl;\n"
        "                         default: lean for http://, libcurl for https:// and --http2\n"
        "  --http2                HTTP/2 through libcurl (h2 over TLS, h2c otherwise)\n"
        "  --insecure             do not verify the target's TLS certificate\n"
        "  --cacert FILE          verify it against the CA certificates in FILE\n"
        "  --timeout D            limit for a whole request (default 30s)\n"
        "  --connect-timeout D    limit for opening a connection (default 5s)\n"
        "\n"
        "Pacing (durations such as 500ms, 5s, 2m):\n"
        "  --speed X|max          captured pace times X, 0.1 to 1000 (default 1); max:\n"
        "                         closed loop, up to --max-inflight requests in flight,\n"
        "                         the next one sent as soon as one completes\n"
        "  --rate N               N requests/s on average, keeping the trace's order and\n"
        "                         relative burstiness\n"
        "  --uniform              with --rate: evenly spaced requests\n"
        "  --max-gap D            shorten every pause of the replay to at most D\n"
        "  --loop N|forever       replay the trace N times, each pass after the previous\n"
        "                         one at the same pace (default 1)\n"
        "  --duration D           start no request after D\n"
        "  --skip D               leave out the first D of the capture\n"
        "  --users N              closed loop: N virtual users, each replaying one\n"
        "                         captured connection's requests after another, with\n"
        "                         the captured pauses (divided by --speed) between them\n"
        "  --spawn D              with --users: start the users evenly over D rather\n"
        "                         than all at once\n"
        "  --max-inflight N       requests in flight at most (default %d)\n"
        "  --over-limit late|drop a request due at that limit waits and goes out late\n"
        "                         (default), or is dropped and counted as not sent\n"
        "  --threads N            event loops, one per thread (default 1)\n"
        "  --shard K/N            replay only the K-th of N parts of the trace, split by\n"
        "                         captured connection, on the whole trace's schedule;\n"
        "                         run K = 1..N at once and merge their reports with\n"
        "                         reprise merge-reports (docs/shards.md)\n"
        "  --start-at TIME        start sending at TIME, RFC 3339 (2026-01-31T12:00:00Z)\n"
        "                         or Unix seconds, so shards on several machines start\n"
        "                         together; at most 24 hours ahead\n"
        "\n"
        "Connections:\n"
        "  --connections preserve|pool:N|new\n"
        "                         preserve (default): one per captured connection;\n"
        "                         pool:N: N shared connections; new: one per request\n"
        "  --max-connections N    open connections at most (default %d)\n"
        "\n"
        "Requests:\n"
        "  --keep-host            send the captured Host header instead of the target's\n"
        "  --header 'NAME: VALUE' set a header, replacing the captured one (repeatable)\n"
        "  --remove-header NAME   remove a header (repeatable)\n"
        "  --rewrite-path 'REGEX=REPLACEMENT'\n"
        "                         rewrite the request-target (POSIX extended regex,\n"
        "                         \\1..\\9 in REPLACEMENT; repeatable)\n"
        "  --include-method LIST, --exclude-method LIST\n"
        "                         keep or leave out methods, e.g. GET,HEAD\n"
        "  --include-path REGEX, --exclude-path REGEX\n"
        "                         keep or leave out request-targets (repeatable)\n"
        "\n"
        "Failures and thresholds (docs/report-results.md, docs/thresholds.md):\n"
        "  --fail-status LIST     statuses that count as failures besides 500-599,\n"
        "                         e.g. 429 or 4xx (connection errors, timeouts and\n"
        "                         resets are failures too)\n"
        "  --ok-status LIST       statuses that do not count as failures, e.g. 503\n"
        "  --status-mismatch off|count|fail\n"
        "                         compare each status with the recorded one: off\n"
        "                         (default), count the mismatches, or count them as\n"
        "                         failures\n"
        "  --fail-if EXPR         a threshold, e.g. 'p95 > 250ms', 'error_rate > 1%%',\n"
        "                         'endpoint /api/search p99 > 1s', or k6's 'p(95)<250';\n"
        "                         the run completes, and the exit status is 3 when a\n"
        "                         threshold fails (repeatable)\n"
        "\n"
        "Output:\n"
        "  --report FILE          also write the results as JSON to FILE, histograms\n"
        "                         included (reprise report, compare and merge-reports\n"
        "                         read it)\n"
        "  --html FILE            a self-contained HTML report\n"
        "  --csv PREFIX           Locust's CSV layout: PREFIX_stats.csv,\n"
        "                         PREFIX_stats_history.csv, PREFIX_failures.csv\n"
        "  --series-csv FILE      the per-second series as CSV\n"
        "  --hlog FILE            response time per second as an HdrHistogram interval\n"
        "                         log (format 1.3)\n"
        "  --dry-run              print what would be sent, send nothing\n"
        "\n"
        "Exit status: 0 when the run completed (request errors are results),\n"
        "1 when the trace could not be read or an output file could not be\n"
        "written, 2 for a usage error, 3 when the run completed and a --fail-if\n"
        "threshold failed, 130 when interrupted by SIGINT (the summary and\n"
        "report still cover what was done; thresholds are shown but do not set\n"
        "the exit status).\n",
        DEFAULT_MAX_INFLIGHT, DEFAULT_MAX_CONNECTIONS);
}

static int bad_value(const char *option, const char *value, const char *accepted)
{
    fprintf(stderr, "reprise replay: invalid %s '%s': %s\n", option, value, accepted);
    return RP_EXIT_USAGE;
}

static int usage_error(const char *message)
{
    fprintf(stderr, "reprise replay: %s\n", message);
    return RP_EXIT_USAGE;
}

static int parse_positive_duration(const char *option, const char *value, uint64_t *out)
{
    if (rp_cli_parse_duration(value, out) != 0 || *out < 1000000)
        return bad_value(option, value,
                         "expected a duration of at least 1ms, such as 500ms, 5s or 2m");
    return 0;
}

static int parse_count(const char *option, const char *value, uint32_t max, uint32_t *out)
{
    double d;
    if (rp_cli_parse_double(value, &d) != 0 || d < 1 || d > max || d != (double)(uint32_t)d) {
        char accepted[64];
        snprintf(accepted, sizeof accepted, "expected a whole number from 1 to %u", max);
        return bad_value(option, value, accepted);
    }
    *out = (uint32_t)d;
    return 0;
}

enum {
    OPT_TARGET = 1000, OPT_SPEED, OPT_RATE, OPT_UNIFORM, OPT_MAX_GAP, OPT_LOOP, OPT_DURATION,
    OPT_SKIP, OPT_USERS, OPT_SPAWN, OPT_MAX_INFLIGHT, OPT_OVER_LIMIT, OPT_THREADS, OPT_CONNECTIONS,
    OPT_MAX_CONNECTIONS, OPT_KEEP_HOST, OPT_HEADER, OPT_REMOVE_HEADER, OPT_REWRITE_PATH,
    OPT_INCLUDE_METHOD, OPT_EXCLUDE_METHOD, OPT_INCLUDE_PATH, OPT_EXCLUDE_PATH, OPT_TRANSPORT,
    OPT_HTTP2, OPT_INSECURE, OPT_CACERT, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_REPORT,
    OPT_DRY_RUN, OPT_OK_STATUS, OPT_FAIL_STATUS, OPT_STATUS_MISMATCH, OPT_FAIL_IF, OPT_CSV,
    OPT_SERIES_CSV, OPT_HLOG, OPT_HTML, OPT_SHARD, OPT_START_AT, OPT_HELP
};

static const struct option long_opts[] = {
    { "target", required_argument, NULL, OPT_TARGET },
    { "speed", required_argument, NULL, OPT_SPEED },
    { "rate", required_argument, NULL, OPT_RATE },
    { "uniform", no_argument, NULL, OPT_UNIFORM },
    { "max-gap", required_argument, NULL, OPT_MAX_GAP },
    { "loop", required_argument, NULL, OPT_LOOP },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "skip", required_argument, NULL, OPT_SKIP },
    { "users", required_argument, NULL, OPT_USERS },
    { "spawn", required_argument, NULL, OPT_SPAWN },
    { "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
    { "over-limit", required_argument, NULL, OPT_OVER_LIMIT },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "connections", required_argument, NULL, OPT_CONNECTIONS },
    { "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
    { "keep-host", no_argument, NULL, OPT_KEEP_HOST },
    { "header", required_argument, NULL, OPT_HEADER },
    { "remove-header", required_argument, NULL, OPT_REMOVE_HEADER },
    { "rewrite-path", required_argument, NULL, OPT_REWRITE_PATH },
    { "include-method", required_argument, NULL, OPT_INCLUDE_METHOD },
    { "exclude-method", required_argument, NULL, OPT_EXCLUDE_METHOD },
    { "include-path", required_argument, NULL, OPT_INCLUDE_PATH },
    { "exclude-path", required_argument, NULL, OPT_EXCLUDE_PATH },
    { "transport", required_argument, NULL, OPT_TRANSPORT },
    { "http2", no_argument, NULL, OPT_HTTP2 },
    { "insecure", no_argument, NULL, OPT_INSECURE },
    { "cacert", required_argument, NULL, OPT_CACERT },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "report", required_argument, NULL, OPT_REPORT },
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "ok-status", required_argument, NULL, OPT_OK_STATUS },
    { "fail-status", required_argument, NULL, OPT_FAIL_STATUS },
    { "status-mismatch", required_argument, NULL, OPT_STATUS_MISMATCH },
    { "fail-if", required_argument, NULL, OPT_FAIL_IF },
    { "csv", required_argument, NULL, OPT_CSV },
    { "series-csv", required_argument, NULL, OPT_SERIES_CSV },
    { "hlog", required_argument, NULL, OPT_HLOG },
    { "html", required_argument, NULL, OPT_HTML },
    { "shard", required_argument, NULL, OPT_SHARD },
    { "start-at", required_argument, NULL, OPT_START_AT },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

/* ---- options ---- */

static int apply_pacing(replay_opts *o, int opt, const char *arg)
{
    double d;
    switch (opt) {
    case OPT_SPEED:
        o->speed_given = 1;
        if (strcmp(arg, "max") == 0) {
            o->speed = 0;
            return 0;
        }
        if (rp_cli_parse_double(arg, &d) != 0 || d < SPEED_MIN || d > SPEED_MAX)
            return bad_value("--speed", arg,
                             "expected 'max' or a number from 0.1 to 1000, such as 2 or 0.5");
        o->speed = d;
        return 0;
    case OPT_RATE:
        if (rp_cli_parse_double(arg, &d) != 0 || d <= 0 || d > RATE_MAX)
            return bad_value("--rate", arg,
                             "expected requests per second above 0 and at most 10000000");
        o->rate = d;
        o->rate_given = 1;
        return 0;
    case OPT_UNIFORM:
        o->uniform = 1;
        return 0;
    case OPT_MAX_GAP:
        if (rp_cli_parse_duration(arg, &o->max_gap_ns) != 0)
            return bad_value("--max-gap", arg, "expected a duration such as 5s, 250ms or 0");
        return 0;
    case OPT_LOOP: {
        uint32_t n;
        if (strcmp(arg, "forever") == 0) {
            o->passes = 0;
            return 0;
        }
        if (rp_cli_parse_double(arg, &d) != 0 || d < 1 || d != (double)(uint32_t)d)
            return bad_value("--loop", arg, "expected 'forever' or a whole number from 1");
        n = (uint32_t)d;
        o->passes = n;
        return 0;
    }
    case OPT_DURATION:
        return parse_positive_duration("--duration", arg, &o->duration_ns);
    case OPT_SKIP:
        if (rp_cli_parse_duration(arg, &o->skip_ns) != 0)
            return bad_value("--skip", arg, "expected a duration such as 90s or 10m");
        return 0;
    default:
        return -1;
    }
}

static int apply_load(replay_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_USERS:
        return parse_count("--users", arg, COUNT_LIMIT, &o->users);
    case OPT_SPAWN:
        return parse_positive_duration("--spawn", arg, &o->spawn_ns);
    case OPT_MAX_INFLIGHT:
        return parse_count("--max-inflight", arg, COUNT_LIMIT, &o->max_inflight);
    case OPT_OVER_LIMIT:
        if (strcmp(arg, "late") != 0 && strcmp(arg, "drop") != 0)
            return bad_value("--over-limit", arg, "expected 'late' or 'drop'");
        o->drop = strcmp(arg, "drop") == 0;
        return 0;
    case OPT_THREADS:
        return parse_count("--threads", arg, THREADS_LIMIT, &o->threads);
    case OPT_CONNECTIONS:
        if (strcmp(arg, "preserve") == 0) {
            o->conn_mode = RP_CONN_PRESERVE;
        } else if (strcmp(arg, "new") == 0) {
            o->conn_mode = RP_CONN_NEW;
        } else if (strncmp(arg, "pool:", 5) == 0) {
            double d;
            if (rp_cli_parse_double(arg + 5, &d) != 0 || d < 1 || d > COUNT_LIMIT ||
                d != (double)(uint32_t)d)
                return bad_value("--connections", arg,
                                 "expected pool:N with N a whole number from 1 to 1000000");
            o->max_connections = (uint32_t)d;
            o->conn_mode = RP_CONN_POOL;
            o->max_connections_given = 1;
        } else {
            return bad_value("--connections", arg, "expected preserve, pool:N or new");
        }
        return 0;
    case OPT_MAX_CONNECTIONS:
        o->max_connections_given = 1;
        return parse_count("--max-connections", arg, COUNT_LIMIT, &o->max_connections);
    default:
        return -1;
    }
}

/* Keeps arg for the report; at most MAX_LISTED of each. */
static void remember(const char **list, size_t *count, const char *arg)
{
    if (*count < MAX_LISTED)
        list[(*count)++] = arg;
}

static void remember_filter(replay_opts *o, const char *kind, const char *arg)
{
    if (o->filter_count >= MAX_LISTED)
        return;
    size_t n = strlen(kind) + strlen(arg) + 2;
    char *text = malloc(n);
    if (text == NULL)
        return;
    snprintf(text, n, "%s %s", kind, arg);
    o->filters[o->filter_count++] = text;
}

static int rules_error(const char *option, const char *value, const char *err)
{
    fprintf(stderr, "reprise replay: invalid %s '%s': %s\n", option, value, err);
    return RP_EXIT_USAGE;
}

static int apply_request(replay_opts *o, int opt, const char *arg)
{
    char err[512];
    switch (opt) {
    case OPT_KEEP_HOST:
        o->rules.keep_host = 1;
        return 0;
    case OPT_HEADER:
        if (rp_rules_set_header(&o->rules, arg, err, sizeof err) != 0)
            return rules_error("--header", arg, err);
        remember(o->headers_set, &o->headers_set_count, arg);
        return 0;
    case OPT_REMOVE_HEADER:
        if (rp_rules_remove_header(&o->rules, arg, err, sizeof err) != 0)
            return rules_error("--remove-header", arg, err);
        remember(o->headers_removed, &o->headers_removed_count, arg);
        return 0;
    case OPT_REWRITE_PATH:
        if (rp_rules_add_rewrite(&o->rules, arg, err, sizeof err) != 0)
            return rules_error("--rewrite-path", arg, err);
        remember(o->rewrites, &o->rewrite_count, arg);
        return 0;
    case OPT_INCLUDE_METHOD:
    case OPT_EXCLUDE_METHOD: {
        int exclude = opt == OPT_EXCLUDE_METHOD;
        if (rp_rules_add_methods(&o->rules, exclude, arg, err, sizeof err) != 0)
            return rules_error(exclude ? "--exclude-method" : "--include-method", arg, err);
        remember_filter(o, exclude ? "exclude-method" : "include-method", arg);
        return 0;
    }
    case OPT_INCLUDE_PATH:
    case OPT_EXCLUDE_PATH: {
        int exclude = opt == OPT_EXCLUDE_PATH;
        if (rp_rules_add_path_filter(&o->rules, exclude, arg, err, sizeof err) != 0)
            return rules_error(exclude ? "--exclude-path" : "--include-path", arg, err);
        remember_filter(o, exclude ? "exclude-path" : "include-path", arg);
        return 0;
    }
    default:
        return -1;
    }
}

static int apply_target(replay_opts *o, int opt, const char *arg)
{
    char err[512];
    switch (opt) {
    case OPT_TARGET:
        o->target_url = arg;
        if (rp_target_parse(arg, &o->target, err, sizeof err) != 0) {
            fprintf(stderr, "reprise replay: invalid --target: %s; expected "
                    "http://HOST[:PORT][/BASE-PATH] or https://HOST[:PORT][/BASE-PATH]\n", err);
            return RP_EXIT_USAGE;
        }
        return 0;
    case OPT_TRANSPORT:
        if (strcmp(arg, "lean") == 0)
            o->transport = RP_TRANSPORT_LEAN;
        else if (strcmp(arg, "curl") == 0)
            o->transport = RP_TRANSPORT_CURL;
        else
            return bad_value("--transport", arg, "expected 'lean' or 'curl'");
        return 0;
    case OPT_HTTP2:
        o->http2 = 1;
        return 0;
    case OPT_INSECURE:
        o->insecure = 1;
        return 0;
    case OPT_CACERT:
        if (access(arg, R_OK) != 0) {
            fprintf(stderr, "reprise replay: cannot read --cacert %s: %s; give a PEM file "
                    "of CA certificates\n", arg, strerror(errno));
            return RP_EXIT_USAGE;
        }
        o->cacert = arg;
        return 0;
    case OPT_TIMEOUT:
        return parse_positive_duration("--timeout", arg, &o->timeout_ns);
    case OPT_CONNECT_TIMEOUT:
        return parse_positive_duration("--connect-timeout", arg, &o->connect_timeout_ns);
    case OPT_REPORT:
        o->report = arg;
        return 0;
    case OPT_DRY_RUN:
        o->dry_run = 1;
        return 0;
    default:
        return -1;
    }
}

static int parse_shard(replay_opts *o, const char *arg)
{
    unsigned k, n;
    char extra;
    if (sscanf(arg, "%u/%u%c", &k, &n, &extra) != 2 || n < 1 || n > THREADS_LIMIT ||
        k < 1 || k > n)
        return bad_value("--shard", arg, "expected K/N with 1 <= K <= N <= 256, e.g. 2/4");
    o->shard_index = k - 1;
    o->shard_count = n;
    return 0;
}

/* Parses an RFC 3339 time (2026-01-31T12:00:00Z, fractional seconds and
 * a +HH:MM offset allowed, 't' or ' ' for 'T') or Unix seconds into Unix
 * nanoseconds. Returns 0 or -1. */
static int parse_time(const char *arg, uint64_t *out)
{
    char *end;
    double secs = strtod(arg, &end);
    if (end != arg && *end == '\0' && strchr(arg, '-') == NULL) {
        if (!(secs > 0 && secs < 1e11))
            return -1;
        *out = (uint64_t)(secs * 1e9);
        return 0;
    }
    struct tm tm = { 0 };
    int used = 0;
    char sep;
    if (sscanf(arg, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 7 ||
        (sep != 'T' && sep != 't' && sep != ' ') || used < 19)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = arg + used;
    uint64_t frac_ns = 0;
    if (*p == '.') {
        uint64_t scale = 100000000u;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac_ns += (uint64_t)(*p - '0') * scale;
    }
    long offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5)
            return -1;
        offset_s = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
        p += 6;
    } else {
        return -1;
    }
    time_t t = timegm(&tm);
    if (*p != '\0' || t == (time_t)-1 || t - offset_s <= 0)
        return -1;
    *out = (uint64_t)(t - offset_s) * 1000000000ull + frac_ns;
    return 0;
}

static int parse_start_at(replay_opts *o, const char *arg)
{
    if (parse_time(arg, &o->start_wall_ns) != 0)
        return bad_value("--start-at", arg, "expected an RFC 3339 time such as "
                         "2026-01-31T12:00:00Z or 2026-01-31T13:00:00.5+01:00, or Unix "
                         "seconds such as 1769860800");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (o->start_wall_ns > (uint64_t)now.tv_sec * 1000000000ull + 86400000000000ull)
        return bad_value("--start-at", arg, "more than 24 hours ahead; check the date and "
                         "the time zone");
    return 0;
}

static int apply_results(replay_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_OK_STATUS:
        o->ok_status = arg;
        return 0;
    case OPT_FAIL_STATUS:
        o->fail_status = arg;
        return 0;
    case OPT_STATUS_MISMATCH:
        if (strcmp(arg, "off") == 0)
            o->mismatch = RP_MISMATCH_OFF;
        else if (strcmp(arg, "count") == 0)
            o->mismatch = RP_MISMATCH_COUNT;
        else if (strcmp(arg, "fail") == 0)
            o->mismatch = RP_MISMATCH_FAIL;
        else
            return bad_value("--status-mismatch", arg, "expected off, count or fail");
        return 0;
    case OPT_FAIL_IF:
        return rp_cli_thresholds_add(&o->thresholds, "replay", arg);
    case OPT_CSV:
        o->csv_prefix = arg;
        return 0;
    case OPT_SERIES_CSV:
        o->series_csv = arg;
        return 0;
    case OPT_HLOG:
        o->hlog = arg;
        return 0;
    case OPT_HTML:
        o->html = arg;
        return 0;
    case OPT_SHARD:
        return parse_shard(o, arg);
    case OPT_START_AT:
        return parse_start_at(o, arg);
    default:
        return -1;
    }
}

/* Applies one option. Returns 0, or an exit code. */
static int apply_option(replay_opts *o, int opt, const char *arg)
{
    int rc = apply_results(o, opt, arg);
    if (rc < 0)
        rc = apply_pacing(o, opt, arg);
    if (rc < 0)
        rc = apply_load(o, opt, arg);
    if (rc < 0)
        rc = apply_request(o, opt, arg);
    if (rc < 0)
        rc = apply_target(o, opt, arg);
    return rc < 0 ? RP_EXIT_USAGE : rc;
}

/* Rejects combinations that do not make sense. Returns 0 or 2. */
static int check_combinations(replay_opts *o)
{
    if (o->speed_given && o->rate_given)
        return usage_error("--speed and --rate both set the pace: give one of them");
    if (o->uniform && !o->rate_given)
        return usage_error("--uniform spaces requests evenly at a --rate: add --rate N");
    if (o->users > 0 && o->rate_given)
        return usage_error("--users is a closed loop and --rate an open one: give one of them");
    if (o->users > 0 && o->shard_count > 1)
        return usage_error("--shard splits the open- or closed-loop schedule, not --users: "
                           "give one of them");
    if (o->spawn_ns > 0 && o->users == 0)
        return usage_error("--spawn spreads the start of --users: add --users N");
    if (o->spawn_ns > 0 && o->duration_ns > 0 && o->spawn_ns >= o->duration_ns)
        return usage_error("--spawn is not shorter than --duration, so some users would "
                           "start after the end: shorten --spawn or lengthen --duration");
    if (o->users > 0 && o->drop)
        return usage_error("--over-limit drop applies to the open loop, not to --users");
    int https = strcmp(o->target.scheme, "https") == 0;
    if (o->transport == RP_TRANSPORT_LEAN && (https || o->http2))
        return usage_error("--transport lean speaks HTTP/1.1 over http:// only: use "
                           "--transport curl for https:// or --http2");
    if ((o->insecure || o->cacert != NULL) && !https)
        return usage_error("--insecure and --cacert apply to https:// targets only");
    if (o->dry_run && o->passes == 0 && (o->duration_ns == 0 || o->users > 0 ||
                                         (o->speed_given && o->speed == 0)))
        return usage_error("--dry-run with --loop forever needs an end: give --loop N, or "
                           "--duration D with an open-loop pace");
    return 0;
}

/* Parses argv into o. Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, replay_opts *o)
{
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
    if (o->target_url == NULL)
        return usage_error("missing --target; add e.g. --target http://127.0.0.1:8080");
    char err[512];
    o->results_cfg.mismatch = o->mismatch;
    if (rp_results_config_apply_status(&o->results_cfg, o->fail_status, o->ok_status, err,
                                       sizeof err) != 0)
        return usage_error(err);
    int rc = check_combinations(o);
    return rc != 0 ? rc : -1;
}

static void init_opts(replay_opts *o)
{
    memset(o, 0, sizeof *o);
    o->speed = 1.0;
    o->max_gap_ns = RP_SCHED_NO_MAX_GAP;
    o->passes = 1;
    o->max_inflight = DEFAULT_MAX_INFLIGHT;
    o->max_connections = DEFAULT_MAX_CONNECTIONS;
    o->conn_mode = RP_CONN_PRESERVE;
    o->timeout_ns = 30000000000ull;
    o->connect_timeout_ns = 5000000000ull;
    o->threads = 1;
    rp_rules_init(&o->rules);
    rp_results_config_init(&o->results_cfg);
}

static void free_opts(replay_opts *o)
{
    rp_cli_thresholds_free(&o->thresholds);
    rp_rules_free(&o->rules);
    for (size_t i = 0; i < o->filter_count; i++)
        free(o->filters[i]);
}


/* ---- setup ---- */

/* Raises the descriptor limit to the hard limit and lowers the
 * connection limits when even that cannot hold them. */
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
    uint32_t want = o->conn_mode == RP_CONN_NEW ? o->max_inflight : o->max_connections;
    rlim_t reserve = (rlim_t)FD_RESERVE * o->threads;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)want + reserve)
        return;
    uint32_t fit = rl.rlim_cur > reserve + 1 ? (uint32_t)(rl.rlim_cur - reserve) : 1;
    fprintf(stderr, "reprise replay: warning: the open-file limit (%llu) allows %u "
            "connections, not %u; raise it with 'ulimit -n' to use more\n",
            (unsigned long long)rl.rlim_cur, fit, want);
    if (o->max_connections > fit)
        o->max_connections = fit;
    if (o->max_inflight > fit)
        o->max_inflight = fit;
}

static int pace_of(const replay_opts *o)
{
    if (o->rate_given)
        return o->uniform ? RP_PACE_UNIFORM : RP_PACE_RATE;
    return o->speed_given && o->speed == 0 ? RP_PACE_MAX : RP_PACE_SPEED;
}

/* Builds the plan. Returns 0, or an exit code after printing why. */
static int build_plan(replay_opts *o, rp_plan *plan)
{
    rp_plan_opts po = {
        .pace = pace_of(o),
        .speed = o->speed > 0 ? o->speed : 1.0,
        .rate = o->rate,
        .max_gap_ns = o->max_gap_ns,
        .skip_ns = o->skip_ns,
        .rules = &o->rules,
    };
    char err[512];
    int rc = rp_plan_build(plan, o->trace, &po, err, sizeof err);
    if (rc == RP_PLAN_EOPTS) {
        fprintf(stderr, "reprise replay: %s; raise --max-gap, or raise --rate\n", err);
        return RP_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "reprise replay: %s\n", err);
        return RP_EXIT_FAIL;
    }
    int timed = po.pace == RP_PACE_SPEED && o->users == 0;
    if (timed && plan->records == 1 && o->passes != 1) {
        rp_plan_free(plan);
        return usage_error("the trace has one request, so a pass has no length to loop "
                           "over: use --rate N to set the pace");
    }
    return 0;
}

/* Says before the run how many requests change state on the target. */
static void warn_mutating(const replay_opts *o, const rp_plan *p)
{
    static const char *const names[4] = { "POST", "PUT", "PATCH", "DELETE" };
    uint64_t total = p->mutating[0] + p->mutating[1] + p->mutating[2] + p->mutating[3];
    if (total == 0)
        return;
    char list[128] = "";
    size_t used = 0;
    for (int i = 0; i < 4; i++)
        if (p->mutating[i] > 0 && used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s %" PRIu64,
                                     used ? ", " : "", names[i], p->mutating[i]);
    fprintf(stderr, "reprise replay: note: %s %" PRIu64 " request%s that can change the "
            "target's state (%s)%s; filter them out with --exclude-method if the target "
            "must stay unchanged\n", o->dry_run ? "the trace holds" : "sending", total,
            total == 1 ? "" : "s", list, o->passes != 1 ? " in each pass" : "");
}

static void fill_engine_config(const replay_opts *o, const rp_plan *plan, rp_engine_config *cfg)
{
    *cfg = (rp_engine_config){
        .trace_path = o->trace,
        .plan = plan,
        .rules = &o->rules,
        .target = &o->target,
        .passes = o->passes,
        .duration_ns = o->duration_ns,
        .users = o->users,
        .users_spawn_ns = o->spawn_ns,
        .max_inflight = o->max_inflight,
        .drop_over_limit = o->drop,
        .conn_mode = o->conn_mode,
        .max_connections = o->max_connections,
        .timeout_ns = o->timeout_ns,
        .connect_timeout_ns = o->connect_timeout_ns,
        .transport = o->transport,
        .http2 = o->http2,
        .insecure = o->insecure,
        .cacert = o->cacert,
        .threads = o->threads,
        .shard_index = o->shard_index,
        .shard_count = o->shard_count,
        .start_wall_ns = o->start_wall_ns,
        .stop_signal = SIGINT,
    };
}

/* ---- dry run ---- */

static int print_dry_row(void *ctx, const rp_dry_row *r)
{
    const replay_opts *o = ctx;
    char due[32] = "-";
    if (r->has_time)
        snprintf(due, sizeof due, "%.6f", (double)r->offset_ns / 1e9);
    printf("%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\t%s%s\t%zu\t%s\n", r->seq, r->pass,
           r->conn, due, r->req->method, o->target.origin, r->req->path, r->req->wire_len,
           r->skipped ? "skipped" : "send");
    return ferror(stdout) ? 1 : 0;
}

static int dry_run(const replay_opts *o, const rp_plan *plan)
{
    rp_engine_config cfg;
    fill_engine_config(o, plan, &cfg);
    printf("seq\tpass\tconn\t%s\tmethod\turl\tbytes\taction\n",
           o->users > 0 ? "think_s" : "due_s");
    char err[512] = "";
    int rc = rp_engine_dry_run(&cfg, print_dry_row, (void *)o, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "reprise replay: %s\n", err);
        return RP_EXIT_FAIL;
    }
    return fflush(stdout) == 0 ? RP_EXIT_OK : RP_EXIT_FAIL;
}

/* ---- summary ---- */

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

static const char *conn_mode_name(int mode)
{
    switch (mode) {
    case RP_CONN_POOL: return "pool";
    case RP_CONN_NEW: return "new";
    default: return "preserve";
    }
}

static const char *mode_name(const replay_opts *o)
{
    if (o->users > 0)
        return "users";
    return pace_of(o) == RP_PACE_MAX ? "closed-loop" : "open-loop";
}

/* Requests in flight at most: the slots, as the engine sizes them. */
static uint32_t inflight_limit(const replay_opts *o)
{
    if (o->conn_mode == RP_CONN_NEW || o->max_inflight < o->max_connections)
        return o->max_inflight;
    return o->max_connections;
}

/* One phrase for the pacing: "speed 2", "rate 1000/s uniform"... */
static void describe_pace(const replay_opts *o, const rp_plan *p, char *buf, size_t len)
{
    char gap[32] = "none";
    if (o->max_gap_ns != RP_SCHED_NO_MAX_GAP)
        fmt_us(o->max_gap_ns / 1000, gap, sizeof gap);
    int pace = pace_of(o);
    if (o->users > 0 && pace == RP_PACE_MAX)
        snprintf(buf, len, "%u users, no think time", o->users);
    else if (o->users > 0 && o->speed == 1.0)
        snprintf(buf, len, "%u users, captured think time, max gap %s", o->users, gap);
    else if (o->users > 0)
        snprintf(buf, len, "%u users, think time / %g, max gap %s", o->users, o->speed, gap);
    else if (pace == RP_PACE_MAX)
        snprintf(buf, len, "speed max, %u in flight", inflight_limit(o));
    else if (pace == RP_PACE_SPEED)
        snprintf(buf, len, "speed %g, max gap %s", o->speed, gap);
    else
        snprintf(buf, len, "rate %g/s%s, max gap %s", o->rate,
                 pace == RP_PACE_UNIFORM || p->rate_as_uniform ? " uniform" : "", gap);
}

static void print_requests(const rp_stats *s)
{
    printf("  requests    due %" PRIu64 ", sent %" PRIu64 ", responses %" PRIu64
           ", skipped %" PRIu64 " (CONNECT %" PRIu64 ")", s->due, s->sent, s->responses,
           rp_stats_skipped_total(s), s->skipped_connect);
    if (s->not_sent)
        printf(", not sent (over --max-inflight) %" PRIu64, s->not_sent);
    if (s->waited)
        printf(", waited for the in-flight limit %" PRIu64, s->waited);
    if (s->left_at_stop)
        printf(", still waiting at the end %" PRIu64, s->left_at_stop);
    if (s->cancelled)
        printf(", cancelled %" PRIu64, s->cancelled);
    if (s->submit_failed)
        printf(", not sent (out of memory) %" PRIu64, s->submit_failed);
    printf("\n");
}

static void print_generator(const rp_stats *s, const rp_engine_result *r)
{
    double cpu = r->cpu_user_s + r->cpu_system_s;
    double secs = (double)r->duration_ns / 1e9;
    printf("  generator   %.2fs CPU (user %.2fs, system %.2fs), %.0f%% of one core, "
           "%.0f responses per CPU-second, %u thread%s\n", cpu, r->cpu_user_s, r->cpu_system_s,
           secs > 0 ? 100 * cpu / secs : 0, cpu > 0 ? (double)s->responses / cpu : 0,
           r->threads, r->threads == 1 ? "" : "s");
}

static void print_summary(const replay_opts *o, const rp_plan *p, const rp_stats *s,
                          const rp_engine_result *r)
{
    double secs = (double)r->duration_ns / 1e9;
    char pace[160];
    describe_pace(o, p, pace, sizeof pace);
    printf("replay of %s to %s (%s), %s: %s%s%s\n", o->trace, o->target.origin,
           o->target.address, mode_name(o), pace, r->hit_duration ? ", stopped at --duration" : "",
           r->interrupted ? ", interrupted" : "");
    print_requests(s);
    printf("  duration    %.3fs, %.1f requests/s sent, %.1f responses/s, "
           "at most %" PRIu64 " in flight", secs, secs > 0 ? (double)s->sent / secs : 0,
           secs > 0 ? (double)s->responses / secs : 0, r->max_in_flight);
    if (r->passes > 1 || o->passes != 1)
        printf(", %" PRIu64 " pass%s", r->passes, r->passes == 1 ? "" : "es");
    if (o->users > 0)
        printf(", %" PRIu64 " sessions", r->sessions);
    printf("\n  %-12s %9s %9s %9s %9s %9s %9s\n", "", "p50", "p90", "p95", "p99", "p99.9", "max");
    print_hist_row("latency", s->latency);
    print_hist_row("service", s->service);
    print_hist_row("send lag", s->send_lag);
    print_hist_row("dispatch lag", s->dispatch_lag);
    printf("              (latency from the %s, service time from the actual send)\n",
           s->latency_from_send ? "actual send (closed loop)" : "due time");
    printf("  errors      connect %" PRIu64 ", timeout %" PRIu64 ", reset %" PRIu64
           ", other %" PRIu64 ", client %" PRIu64 " (total %" PRIu64 ")\n",
           s->errors[RP_ERR_CONNECT], s->errors[RP_ERR_TIMEOUT], s->errors[RP_ERR_RESET],
           s->errors[RP_ERR_OTHER], s->errors[RP_ERR_CLIENT], rp_stats_errors_total(s));
    print_status_counts(s);
    printf("  connections %s%s: %" PRIu64 " opened, %" PRIu64 " requests on a reused one, %"
           PRIu64 " moved off a busy captured connection\n", conn_mode_name(r->conn_mode_used),
           r->conn_mode_used != o->conn_mode ? " (libcurl cannot pin a connection)" : "",
           s->conn_opened, s->conn_reused, s->conn_moved);
    if (r->window_max > 0)
        printf("  pacing      at most %" PRIu64 " requests in a 10 ms window, %.1f on average\n",
               r->window_max, r->window_mean);
    if (r->gaps_shortened || r->bad_blocks || p->filtered || p->skipped)
        printf("  trace       %" PRIu64 " gaps shortened, %" PRIu64 " damaged blocks skipped, %"
               PRIu64 " requests filtered out, %" PRIu64 " before --skip\n", r->gaps_shortened,
               r->bad_blocks, p->filtered, p->skipped);
    print_generator(s, r);
    printf("  transport   %s (%s)\n", r->transport, r->transport_version);
}

/* Warnings that change how the figures read, on stderr after the summary. */
static void print_warnings(const replay_opts *o, const rp_stats *s, const rp_saturation *sat)
{
    char p99[32], limit[32];
    if (sat->saturated)
        fprintf(stderr, "reprise replay: warning: the generator could not keep up: dispatch "
                "lag p99 %s is above %s, so requests went out later and less bursty than "
                "scheduled and the latency figures understate what the schedule would have "
                "caused; lower the rate or add --threads\n",
                fmt_us(sat->dispatch_lag_p99_us, p99, sizeof p99),
                fmt_us(sat->threshold_us, limit, sizeof limit));
    if (s->waited)
        fprintf(stderr, "reprise replay: warning: %" PRIu64 " requests waited for the "
                "in-flight limit of %u: responses came back slower than the schedule sent "
                "requests, so these went out late (their latency counts from their due "
                "time); raise --max-inflight or the connections, or use --over-limit drop\n",
                s->waited, inflight_limit(o));
    if (s->client_emfile)
        fprintf(stderr, "reprise replay: warning: %" PRIu64 " requests failed on the client "
                "side with EMFILE (no free file descriptor): raise the limit with 'ulimit -n' "
                "or lower --max-connections; these are not server errors\n", s->client_emfile);
    if (s->client_eaddrnotavail)
        fprintf(stderr, "reprise replay: warning: %" PRIu64 " requests failed on the client "
                "side with EADDRNOTAVAIL (no free local port): reuse connections "
                "(--connections pool:N) or widen net.ipv4.ip_local_port_range; these are not "
                "server errors\n", s->client_eaddrnotavail);
    if (s->client_other)
        fprintf(stderr, "reprise replay: warning: %" PRIu64 " requests failed on the client "
                "side for lack of memory or socket buffers; these are not server errors\n",
                s->client_other);
}

/* ---- progress ---- */

static void fmt_wait(uint64_t ns, char *buf, size_t len)
{
    uint64_t s = ns / 1000000000ull;
    if (s >= 3600)
        snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else
        snprintf(buf, len, "%" PRIu64 "s", s);
}

static void on_progress(void *ctx, const rp_engine_progress *p)
{
    char total[32] = "", p95[32] = "-", wait[32];
    if (p->total_ns > 0)
        snprintf(total, sizeof total, "/%.1fs", (double)p->total_ns / 1e9);
    if (p->recent_p95_us > 0)
        fmt_us(p->recent_p95_us, p95, sizeof p95);
    fprintf(stderr, "\r%6.1fs%s  sent %.0f/s  done %.0f/s  in flight %" PRIu64
            "  p95 %s  errors %" PRIu64, (double)p->elapsed_ns / 1e9, total, p->sent_per_s,
            p->responses_per_s, p->in_flight, p95, p->errors);
    if (p->not_sent)
        fprintf(stderr, "  not sent %" PRIu64, p->not_sent);
    if (p->next_due_in_ns >= 2000000000ull && p->in_flight == 0) {
        fmt_wait(p->next_due_in_ns, wait, sizeof wait);
        fprintf(stderr, "  waiting %s for the next request", wait);
    }
    fprintf(stderr, "\033[K");
    fflush(stderr);
}

/* ---- report ---- */

/* Builds the run report (the core keys) as a new JSON object, or returns
 * NULL when out of memory. */
static json_t *build_report(const replay_opts *o, const rp_plan *p, const rp_stats *s,
                            const rp_engine_result *r, const rp_saturation *sat)
{
    int pace = pace_of(o);
    static const char *const pace_names[] = { "speed", "rate", "uniform", "max" };
    rp_report_meta m = {
        .reprise_version = RP_VERSION_STRING,
        .trace_path = o->trace,
        .target_url = o->target_url,
        .target_address = o->target.address,
        .mode = mode_name(o),
        .pace = pace_names[pace],
        .speed = pace == RP_PACE_SPEED ? o->speed : 0,
        .rate = o->rate_given ? o->rate : 0,
        .applied_speed = p->speed,
        .max_gap_ns = o->max_gap_ns,
        .skip_ns = o->skip_ns,
        .duration_limit_ns = o->duration_ns,
        .passes = o->passes,
        .passes_started = r->passes,
        .users = o->users,
        .sessions_started = r->sessions,
        .max_inflight = o->max_inflight,
        .drop_over_limit = o->drop,
        .conn_mode = conn_mode_name(o->conn_mode),
        .conn_mode_used = conn_mode_name(r->conn_mode_used),
        .max_connections = o->max_connections,
        .threads = r->threads,
        .shard_index = o->shard_index,
        .shard_count = o->shard_count,
        .keep_host = o->rules.keep_host,
        .header_names = NULL,
        .removed_headers = o->headers_removed,
        .removed_count = o->headers_removed_count,
        .rewrites = o->rewrites,
        .rewrite_count = o->rewrite_count,
        .filters = (const char *const *)o->filters,
        .filter_count = o->filter_count,
        .filtered = p->filtered,
        .before_skip = p->skipped,
        .timeout_ns = o->timeout_ns,
        .connect_timeout_ns = o->connect_timeout_ns,
        .http2 = o->http2,
        .insecure = o->insecure,
        .transport = r->transport,
        .transport_version = r->transport_version,
        .libcurl_version = curl_version_info(CURLVERSION_NOW)->version,
        .start_wall_ns = r->start_wall_ns,
        .duration_ns = r->duration_ns,
        .interrupted = r->interrupted,
        .hit_duration = r->hit_duration,
        .max_in_flight = r->max_in_flight,
        .gaps_shortened = r->gaps_shortened,
        .trace_bad_blocks = r->bad_blocks,
        .cpu_user_s = r->cpu_user_s,
        .cpu_system_s = r->cpu_system_s,
        .paced = o->users == 0 && pace != RP_PACE_MAX,
        .window_max = r->window_max,
        .window_mean = r->window_mean,
        .saturated = sat->saturated,
        .saturation_threshold_us = sat->threshold_us,
        .mean_gap_us = sat->mean_gap_us,
    };

    /* Header names only: a value may be a secret (Authorization...). */
    const char *names[MAX_LISTED];
    char name_buf[MAX_LISTED][128];
    for (size_t i = 0; i < o->headers_set_count; i++) {
        snprintf(name_buf[i], sizeof name_buf[i], "%.*s",
                 (int)strcspn(o->headers_set[i], ":"), o->headers_set[i]);
        names[i] = name_buf[i];
    }
    m.header_names = names;
    m.header_count = o->headers_set_count;
    return rp_report_build(s, &m);
}

/* Writes the report and the files made from the results. Returns 0, or -1
 * after printing which file failed. */
static int write_outputs(const replay_opts *o, const rp_plan *p, const rp_stats *s,
                         const rp_engine_result *r, const rp_saturation *sat,
                         rp_results *results)
{
    char err[1024] = "";
    int rc = 0;
    json_t *report = NULL;
    if (o->report != NULL || o->html != NULL) {
        report = build_report(o, p, s, r, sat);
        if (report == NULL) {
            snprintf(err, sizeof err, "out of memory building the run report");
            rc = -1;
        }
        if (rc == 0)
            rc = rp_results_to_json(results, report, err, sizeof err);
    }
    if (rc == 0 && o->report != NULL)
        rc = rp_results_save_report(o->report, report, err, sizeof err);
    if (rc == 0 && o->csv_prefix != NULL)
        rc = rp_results_write_locust_csv(results, o->csv_prefix, err, sizeof err);
    if (rc == 0 && o->series_csv != NULL)
        rc = rp_results_write_series_csv(results, o->series_csv, err, sizeof err);
    if (rc == 0 && o->hlog != NULL)
        rc = rp_results_write_hlog(results, o->hlog, err, sizeof err);
    if (rc == 0 && o->html != NULL)
        rc = rp_html_report_write(o->html, results, report,
                                  (const char *const *)o->thresholds.lines,
                                  o->thresholds.lines ? o->thresholds.count : 0,
                                  RP_RESULTS_DEFAULT_TOP, err, sizeof err);
    json_decref(report);
    if (rc != 0)
        fprintf(stderr, "reprise replay: %s; check the path and its directory's permissions\n",
                err);
    return rc;
}

/* Checks before the run that an output file (what names it) can be
 * created, so that a long run does not end without it. */
static int check_output_path(const char *what, const char *path)
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
        fprintf(stderr, "reprise replay: cannot write %s %s: directory %s is missing "
                "or not writable\n", what, path, dir);
        return -1;
    }
    return 0;
}

/* Checks every output file's directory before the run. Returns 0 or -1. */
static int check_outputs(const replay_opts *o)
{
    const char *whats[] = { "report", "--html file", "--csv files", "--series-csv file",
                            "--hlog file" };
    const char *paths[] = { o->report, o->html, o->csv_prefix, o->series_csv, o->hlog };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (paths[i] != NULL && check_output_path(whats[i], paths[i]) != 0)
            return -1;
    return 0;
}

/* ---- the run ---- */

/* A shard that starts after the others leaves its requests late against
 * the shared schedule: say so before it runs. */
static void warn_late_start(const replay_opts *o)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    if (o->start_wall_ns != 0 && now_ns > o->start_wall_ns + 1000000000ull)
        fprintf(stderr, "reprise replay: warning: --start-at was %.1fs ago, starting now; "
                "shards started together need a start time far enough ahead for each "
                "to load its trace\n", (double)(now_ns - o->start_wall_ns) / 1e9);
}

static int run(replay_opts *o, const rp_plan *plan)
{
    fit_descriptors(o);
    /* Linux lets this thread's timers fire up to the timer slack late,
     * 50 us by default; 1 us keeps that out of the send lag. Threads
     * created later inherit it. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

    rp_stats stats;
    if (rp_stats_init(&stats) != 0) {
        fprintf(stderr, "reprise replay: out of memory\n");
        return RP_EXIT_FAIL;
    }
    rp_results *results = rp_results_new(&o->results_cfg);
    if (results == NULL) {
        fprintf(stderr, "reprise replay: out of memory\n");
        rp_stats_free(&stats);
        return RP_EXIT_FAIL;
    }
    rp_engine_config cfg;
    fill_engine_config(o, plan, &cfg);
    cfg.progress = rp_cli_is_tty() ? on_progress : NULL;
    cfg.results = results;
    warn_late_start(o);

    rp_engine_result res;
    char err[512];
    int rc = rp_engine_run(&cfg, &stats, &res, err, sizeof err);
    if (cfg.progress != NULL)
        fprintf(stderr, "\r\033[K");
    if (rc == RP_ENGINE_ETRACE || rc == RP_ENGINE_ESETUP) {
        fprintf(stderr, "reprise replay: %s\n", err);
        rp_stats_free(&stats);
        rp_results_free(results);
        return RP_EXIT_FAIL;
    }

    if (res.warning[0] != '\0')
        fprintf(stderr, "reprise replay: warning: %s\n", res.warning);
    rp_saturation sat;
    int paced = o->users == 0 && pace_of(o) != RP_PACE_MAX;
    rp_engine_saturation(&stats, paced ? rp_plan_mean_gap_ns(plan) : 0, &sat);
    print_summary(o, plan, &stats, &res);
    if (rp_results_finish(results) != 0)
        fprintf(stderr, "reprise replay: warning: memory ran out while collecting results: "
                "some per-second or per-endpoint figures are incomplete\n");
    rp_results_print_failures(results, stdout);
    rp_results_print_endpoints(results, stdout, RP_RESULTS_DEFAULT_TOP);
    int failed = rp_cli_thresholds_check(&o->thresholds, results, stdout);
    fflush(stdout);
    print_warnings(o, &stats, &sat);

    int exit_code = RP_EXIT_OK;
    if (rc == RP_ENGINE_EREAD)
        fprintf(stderr, "reprise replay: the run stopped early: %s\n", err);
    if (res.interrupted) {
        exit_code = 130;
    } else if (rc == RP_ENGINE_EREAD) {
        exit_code = RP_EXIT_FAIL;
    } else if (failed < 0) {
        fprintf(stderr, "reprise replay: out of memory judging the thresholds\n");
        exit_code = RP_EXIT_FAIL;
    } else if (failed > 0) {
        exit_code = RP_EXIT_THRESHOLD;
    }
    if (write_outputs(o, plan, &stats, &res, &sat, results) != 0 && exit_code != 130)
        exit_code = RP_EXIT_FAIL;
    rp_stats_free(&stats);
    rp_results_free(results);
    return exit_code;
}

int cmd_replay(int argc, char **argv)
{
    replay_opts o;
    init_opts(&o);
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        free_opts(&o);
        return rc;
    }
    if (check_outputs(&o) != 0) {
        free_opts(&o);
        return RP_EXIT_FAIL;
    }

    char err[512];
    if (rp_target_resolve(&o.target, err, sizeof err) != 0) {
        fprintf(stderr, "reprise replay: %s; check --target %s\n", err, o.target_url);
        free_opts(&o);
        return RP_EXIT_FAIL;
    }
    rp_rules_set_target(&o.rules, &o.target);

    rp_plan plan;
    rc = build_plan(&o, &plan);
    if (rc != 0) {
        free_opts(&o);
        return rc;
    }
    warn_mutating(&o, &plan);
    if (plan.records == 0)
        fprintf(stderr, "reprise replay: warning: no request of %s is left to send after "
                "--skip and the filters\n", o.trace);
    rc = o.dry_run ? dry_run(&o, &plan) : run(&o, &plan);
    rp_plan_free(&plan);
    free_opts(&o);
    return rc;
}
