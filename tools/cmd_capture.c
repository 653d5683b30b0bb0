/* reprise capture: a pcap or pcapng file, or a live interface -> trace. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "tools/cli.h"

#define MAX_PORTS 64

static volatile sig_atomic_t stop_requested;
static rp_source *active_source;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    rp_source_break(active_source);
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise capture (-r FILE | -i INTERFACE) -w TRACE [options] [BPF filter]\n"
        "\n"
        "Reads HTTP/1.x requests and their responses from a pcap or pcapng file\n"
        "(gzip-compressed too) or a live interface, and writes them to TRACE\n"
        "(created with mode 0600).\n"
        "\n"
        "  -r, --read FILE          capture file to read\n"
        "  -i, --interface NAME     capture live on NAME (needs root, or CAP_NET_RAW\n"
        "                           and CAP_NET_ADMIN)\n"
        "  -w, --write TRACE        trace file to create\n"
        "\n"
        "what to keep:\n"
        "      --ports LIST         only connections to these server ports, e.g. 80,8080\n"
        "                           (default: any port, HTTP found by content)\n"
        "      --sample PERCENT     keep this share of connections, whole, chosen by a\n"
        "                           hash of their addresses (default 100)\n"
        "      --keep-truncated     keep requests cut by the snap length or by lost\n"
        "                           packets, flagged as truncated (default: drop them)\n"
        "      --max-requests N     stop after writing N requests\n"
        "      --duration D         stop after D of capture time, e.g. 30s or 5m\n"
        "\n"
        "redaction, applied before anything reaches the disk:\n"
        "      --redact-header NAME replace this header's value with REDACTED\n"
        "                           (repeatable; e.g. Authorization, Cookie)\n"
        "      --redact-query NAME  replace this query parameter's value (repeatable)\n"
        "      --drop-bodies        store no request bodies\n"
        "\n"
        "live capture:\n"
        "  -s, --snaplen BYTES      bytes kept per packet (default 262144)\n"
        "  -B, --buffer-size MB     kernel capture buffer (default 32)\n"
        "      --immediate          deliver packets as they arrive, without batching\n"
        "  -Z, --user USER          drop root privileges to USER once the interface is open\n"
        "\n"
        "      --level N            zstd compression level, 1 to 19 (default 3)\n"
        "  -q, --quiet              print no summary\n"
        "\n"
        "A trailing filter uses tcpdump's syntax, e.g. 'tcp port 80'. SIGINT or\n"
        "SIGTERM ends a capture cleanly with a complete trace.\n");
}

static double since_s(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static struct timespec started;

static void show_progress(void *ctx, const rp_capture_stats *s)
{
    (void)ctx;
    double t = since_s(&started);
    if (s->source.live) {
        fprintf(stderr, "\r%6.0fs  %llu packets  %llu requests  %llu dropped by the kernel   ",
                t, (unsigned long long)s->packets, (unsigned long long)s->written,
                (unsigned long long)(s->source.dropped + s->source.if_dropped));
        return;
    }
    double pct = s->source.file_size ? 100.0 * (double)s->source.file_pos / (double)s->source.file_size : 0;
    fprintf(stderr, "\r%5.1f%%  %llu packets  %llu requests  %.0f MB/s   ", pct,
            (unsigned long long)s->packets, (unsigned long long)s->written,
            t > 0 ? (double)s->bytes / 1e6 / t : 0.0);
}

/* Joins the trailing arguments into one filter string, as tcpdump does. */
static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = calloc(1, n);
    if (s == NULL)
        return NULL;
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static int parse_ports(const char *text, uint16_t *ports, size_t *n)
{
    char *copy = strdup(text), *save = NULL;
    if (copy == NULL)
        return -1;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end != '\0' || v < 1 || v > 65535 || *n == MAX_PORTS) {
            free(copy);
            return -1;
        }
        ports[(*n)++] = (uint16_t)v;
    }
    free(copy);
    return *n > 0 ? 0 : -1;
}

static int drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        fprintf(stderr, "reprise capture: -Z %s: no such user\n", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "reprise capture: -Z %s: cannot switch to that user: %s\n",
                user, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_skips(const rp_capture_stats *s)
{
    int any = 0;
    const char *head = "skipped:\n";
    for (int i = 0; i < RP_DECODE_RESULT_COUNT; i++) {
        if (i == RP_DECODE_TCP || s->decode[i] == 0)
            continue;
        printf("%s    %-44s %llu packets\n", any++ ? "" : head,
               rp_decode_result_name((rp_decode_result)i), (unsigned long long)s->decode[i]);
    }
    for (int i = 0; i < RP_SKIP_COUNT; i++) {
        if (s->http.skipped[i] == 0)
            continue;
        printf("%s    %-44s %llu\n", any++ ? "" : head,
               rp_http_skip_name((rp_http_skip)i), (unsigned long long)s->http.skipped[i]);
    }
    if (s->http.tls_connections)
        printf("%s    %-44s %llu connections, %llu bytes\n", any++ ? "" : head,
               "TLS (encrypted, not readable)", (unsigned long long)s->http.tls_connections,
               (unsigned long long)s->http.tls_bytes);
    if (s->http.skipped_bytes)
        printf("%s    %-44s %llu bytes\n", any++ ? "" : head, "non-HTTP stream bytes passed over",
               (unsigned long long)s->http.skipped_bytes);
}

static void print_summary(const char *out, const rp_capture_stats *s, double secs)
{
    const rp_http_stats *h = &s->http;
    const rp_tcp_stats *t = &s->tcp;
    printf("link type:     %s (%d), snap length %u\n", s->link_name ? s->link_name : "?",
           s->link_type, s->snaplen);
    printf("packets:       %llu (%llu TCP), %.1f MB in %.2f s\n", (unsigned long long)s->packets,
           (unsigned long long)s->decode[RP_DECODE_TCP], (double)s->bytes / 1e6, secs);
    if (s->source.live)
        printf("kernel:        %llu packets received, %llu dropped, %llu dropped by the interface\n",
               (unsigned long long)s->source.received, (unsigned long long)s->source.dropped,
               (unsigned long long)s->source.if_dropped);
    printf("tcp:           %llu connections, %llu retransmitted, %llu out of order, "
           "%llu gaps (%llu bytes)\n",
           (unsigned long long)t->connections, (unsigned long long)t->retransmitted,
           (unsigned long long)t->out_of_order, (unsigned long long)t->gaps,
           (unsigned long long)t->gap_bytes);
    if (t->evicted || t->queue_overflows)
        printf("limits:        %llu connections evicted (table full), %llu holes skipped "
               "(queue full)\n", (unsigned long long)t->evicted,
               (unsigned long long)t->queue_overflows);
    printf("requests:      %llu written to %s (%llu chunked, %llu truncated, %llu CONNECT)\n",
           (unsigned long long)s->written, out, (unsigned long long)h->chunked,
           (unsigned long long)h->truncated, (unsigned long long)h->connect);
    printf("responses:     %llu paired, %llu requests without a response, %llu interim (1xx)\n",
           (unsigned long long)h->responses, (unsigned long long)h->no_response,
           (unsigned long long)h->interim_responses);
    if (h->sampled_out || h->port_filtered)
        printf("left out:      %llu connections by --sample, %llu by --ports\n",
               (unsigned long long)h->sampled_out, (unsigned long long)h->port_filtered);
    if (s->over_max_requests)
        printf("left out:      %llu requests after --max-requests\n",
               (unsigned long long)s->over_max_requests);
    if (h->recovered_methods)
        printf("note:          %llu requests use a method llhttp does not know; kept as captured\n",
               (unsigned long long)h->recovered_methods);
    if (h->upgrades)
        printf("tunnels:       %llu (WebSocket or other upgrade, CONNECT); their bytes are not HTTP\n",
               (unsigned long long)h->upgrades);
    if (h->timestamp_clamped || s->out_of_time_order)
        printf("note:          %llu packets out of time order; %llu request times raised to keep "
               "the trace in order\n", (unsigned long long)s->out_of_time_order,
               (unsigned long long)h->timestamp_clamped);
    print_skips(s);
    if (s->unredacted_authorization)
        printf("warning:       %llu requests carry Authorization headers, kept in the trace; "
               "add --redact-header Authorization to replace them\n",
               (unsigned long long)s->unredacted_authorization);
    if (s->unredacted_cookie)
        printf("warning:       %llu requests carry Cookie headers, kept in the trace; "
               "add --redact-header Cookie to replace them\n",
               (unsigned long long)s->unredacted_cookie);
}

typedef struct cli {
    rp_capture_opts o;
    rp_live_opts live;
    const char *input;
    const char *user;
    int quiet;
    uint16_t ports[MAX_PORTS];
    rp_redact *redact;
} cli;

static int bad_value(const char *opt, const char *value, const char *expected)
{
    fprintf(stderr, "reprise capture: invalid %s '%s': %s\n", opt, value, expected);
    return RP_EXIT_USAGE;
}

/* Parses the options into c; returns -1 when done, else an exit code. */
static int parse_options(int argc, char **argv, cli *c)
{
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "write", required_argument, NULL, 'w' },
        { "interface", required_argument, NULL, 'i' },
        { "snaplen", required_argument, NULL, 's' },
        { "buffer-size", required_argument, NULL, 'B' },
        { "user", required_argument, NULL, 'Z' },
        { "immediate", no_argument, NULL, 'I' },
        { "keep-truncated", no_argument, NULL, 'k' },
        { "level", required_argument, NULL, 'L' },
        { "ports", required_argument, NULL, 'P' },
        { "sample", required_argument, NULL, 'S' },
        { "duration", required_argument, NULL, 'D' },
        { "max-requests", required_argument, NULL, 'M' },
        { "redact-header", required_argument, NULL, 'H' },
        { "redact-query", required_argument, NULL, 'Q' },
        { "drop-bodies", no_argument, NULL, 'b' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    char *end;
    opterr = 0;   /* unknown options get this verb's own message */
    while ((ch = getopt_long(argc, argv, "+:r:w:i:s:B:Z:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r': c->input = optarg; break;
        case 'w': c->o.output = optarg; break;
        case 'i': c->live.interface = optarg; break;
        case 'Z': c->user = optarg; break;
        case 'I': c->live.immediate = 1; break;
        case 'k': c->o.keep_truncated = 1; break;
        case 'b': rp_redact_drop_bodies(c->redact, 1); break;
        case 'q': c->quiet = 1; break;
        case 'h': usage(stdout); return RP_EXIT_OK;
        case 's': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 64 || v > 262144)
                return bad_value("--snaplen", optarg, "use a byte count from 64 to 262144");
            c->live.snaplen = (int)v;
            break;
        }
        case 'B': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 4096)
                return bad_value("--buffer-size", optarg, "use megabytes from 1 to 4096");
            c->live.buffer_mb = (int)v;
            break;
        }
        case 'L': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 19)
                return bad_value("--level", optarg, "use a whole number from 1 to 19");
            c->o.zstd_level = (int)v;
            break;
        }
        case 'P':
            if (parse_ports(optarg, c->ports, &c->o.nports) < 0)
                return bad_value("--ports", optarg, "use a comma-separated list of ports from 1 to 65535");
            c->o.ports = c->ports;
            break;
        case 'S':
            if (rp_cli_parse_double(optarg, &c->o.sample_percent) < 0 ||
                c->o.sample_percent <= 0 || c->o.sample_percent > 100)
                return bad_value("--sample", optarg, "use a percentage above 0 and at most 100");
            break;
        case 'D':
            if (rp_cli_parse_duration(optarg, &c->o.duration_ns) < 0 || c->o.duration_ns == 0)
                return bad_value("--duration", optarg, "use a positive duration such as 30s or 5m");
            break;
        case 'M': {
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 1)
                return bad_value("--max-requests", optarg, "use a positive whole number");
            c->o.max_requests = (uint64_t)v;
            break;
        }
        case 'H':
            if (rp_redact_add_header(c->redact, optarg) < 0)
                return RP_EXIT_FAIL;
            break;
        case 'Q':
            if (rp_redact_add_query(c->redact, optarg) < 0)
                return RP_EXIT_FAIL;
            break;
        default:
            fprintf(stderr, "reprise capture: %s option '%s'; run 'reprise capture --help' "
                    "for the list\n", ch == ':' ? "missing value for" : "unknown",
                    argv[optind - 1]);
            return RP_EXIT_USAGE;
        }
    }
    if ((c->input == NULL) == (c->live.interface == NULL)) {
        fprintf(stderr, "reprise capture: give exactly one of -r FILE and -i INTERFACE\n");
        return RP_EXIT_USAGE;
    }
    if (c->o.output == NULL) {
        fprintf(stderr, "reprise capture: -w TRACE is missing: name the trace file to create\n");
        return RP_EXIT_USAGE;
    }
    return -1;
}

static int open_source(cli *c, const char *filter, rp_source **src)
{
    char err[512];
    int rc = c->input ? rp_source_open_file(src, c->input, filter, err, sizeof err)
                      : rp_source_open_live(src, &c->live, filter, err, sizeof err);
    if (rc == 0)
        return -1;
    fprintf(stderr, "reprise capture: %s\n", err);
    return rc == RP_SOURCE_EFILTER ? RP_EXIT_USAGE : RP_EXIT_FAIL;
}

static int finish(cli *c, int rc, const char *err, const rp_capture_stats *st, double secs)
{
    if (rc < 0) {
        fprintf(stderr, "reprise capture: %s\n", err);
        return RP_EXIT_FAIL;
    }
    if (!c->quiet)
        print_summary(c->o.output, st, secs);
    if (rc == RP_CAPTURE_PARTIAL) {
        fprintf(stderr, "reprise capture: %s; %s contains the %llu requests read before it\n",
                err, c->o.output, (unsigned long long)st->written);
        return RP_EXIT_FAIL;
    }
    if (stop_requested)
        fprintf(stderr, "reprise capture: stopped by a signal; %s contains the %llu requests "
                "captured\n", c->o.output, (unsigned long long)st->written);
    return RP_EXIT_OK;
}

int cmd_capture(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    c.redact = rp_redact_new();
    if (c.redact == NULL)
        return RP_EXIT_FAIL;
    int rc = parse_options(argc, argv, &c);
    if (rc >= 0) {
        rp_redact_free(c.redact);
        return rc;
    }

    char *filter = join_args(argc - optind, argv + optind);
    rp_source *src = NULL;
    rc = open_source(&c, filter, &src);
    if (rc >= 0) {
        free(filter);
        rp_redact_free(c.redact);
        return rc;
    }
    if (c.user && drop_privileges(c.user) < 0) {
        rp_source_close(src);
        free(filter);
        rp_redact_free(c.redact);
        return RP_EXIT_FAIL;
    }

    if (c.live.interface) {
        /* Scripts wait for this line before sending traffic, as with tcpdump. */
        fprintf(stderr, "reprise capture: listening on %s, link type %d, snapshot length %u\n",
                c.live.interface, rp_source_linktype(src), rp_source_snaplen(src));
        fflush(stderr);
    }
    c.o.source_name = c.input ? c.input : c.live.interface;
    c.o.filter = filter;
    c.o.redact = c.redact;
    c.o.stop = &stop_requested;
    active_source = src;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    clock_gettime(CLOCK_MONOTONIC, &started);
    if (rp_cli_is_tty() && !c.quiet)
        c.o.progress = show_progress;

    rp_capture_stats st;
    char err[512] = "";
    rc = rp_capture_run(src, &c.o, &st, err, sizeof err);
    double secs = since_s(&started);
    if (c.o.progress)
        fprintf(stderr, "\r%70s\r", "");
    active_source = NULL;
    rp_source_close(src);

    int code = finish(&c, rc, err, &st, secs);
    free(filter);
    rp_redact_free(c.redact);
    return code;
}
