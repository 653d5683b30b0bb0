/* reprise capture: pcap or pcapng file -> trace. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/capture.h"
#include "tools/cli.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise capture -r FILE -w TRACE [options] [BPF filter]\n"
        "\n"
        "Reads HTTP/1.x requests and their responses from a pcap or pcapng file\n"
        "and writes them to TRACE (created with mode 0600).\n"
        "\n"
        "  -r, --read FILE        pcap or pcapng file to read\n"
        "  -w, --write TRACE      trace file to create\n"
        "      --keep-truncated   keep requests cut by the snap length or by lost\n"
        "                         packets, flagged as truncated (default: drop them)\n"
        "      --level N          zstd compression level, 1 to 19 (default 3)\n"
        "  -q, --quiet            print no summary\n"
        "\n"
        "A trailing filter uses tcpdump's syntax, e.g. 'tcp port 80'.\n");
}

static double elapsed_s(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static struct timespec started;

static void show_progress(void *ctx, const rp_capture_stats *s, uint64_t pos, uint64_t size)
{
    (void)ctx;
    double t = elapsed_s(&started);
    double pct = size ? 100.0 * (double)pos / (double)size : 0;
    fprintf(stderr, "\r%5.1f%%  %llu packets  %llu requests  %.0f MB/s   ",
            pct, (unsigned long long)s->packets, (unsigned long long)s->http.requests,
            t > 0 ? (double)s->bytes / 1e6 / t : 0.0);
}

static void print_skips(const rp_capture_stats *s)
{
    int any = 0;
    for (int i = 0; i < RP_DECODE_RESULT_COUNT; i++) {
        if (i == RP_DECODE_TCP || s->decode[i] == 0)
            continue;
        printf("%s    %-44s %llu packets\n", any ? "" : "skipped:\n",
               rp_decode_result_name((rp_decode_result)i), (unsigned long long)s->decode[i]);
        any = 1;
    }
    for (int i = 0; i < RP_SKIP_COUNT; i++) {
        if (s->http.skipped[i] == 0)
            continue;
        printf("%s    %-44s %llu\n", any ? "" : "skipped:\n",
               rp_http_skip_name((rp_http_skip)i), (unsigned long long)s->http.skipped[i]);
        any = 1;
    }
    if (s->http.tls_connections)
        printf("%s    %-44s %llu connections, %llu bytes\n", any ? "" : "skipped:\n",
               "TLS (encrypted, not readable)", (unsigned long long)s->http.tls_connections,
               (unsigned long long)s->http.tls_bytes);
    if (s->http.skipped_bytes)
        printf("    %-44s %llu bytes\n", "non-HTTP stream bytes passed over",
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
    printf("tcp:           %llu connections, %llu retransmitted, %llu out of order, "
           "%llu gaps (%llu bytes)\n",
           (unsigned long long)t->connections, (unsigned long long)t->retransmitted,
           (unsigned long long)t->out_of_order, (unsigned long long)t->gaps,
           (unsigned long long)t->gap_bytes);
    printf("requests:      %llu written to %s (%llu chunked, %llu truncated, %llu CONNECT)\n",
           (unsigned long long)h->requests, out, (unsigned long long)h->chunked,
           (unsigned long long)h->truncated, (unsigned long long)h->connect);
    printf("responses:     %llu paired, %llu requests without a response, %llu interim (1xx)\n",
           (unsigned long long)h->responses, (unsigned long long)h->no_response,
           (unsigned long long)h->interim_responses);
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

int cmd_capture(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "write", required_argument, NULL, 'w' },
        { "interface", required_argument, NULL, 'i' },
        { "keep-truncated", no_argument, NULL, 'k' },
        { "level", required_argument, NULL, 'L' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    rp_capture_opts o = { 0 };
    int quiet = 0, c;

    while ((c = getopt_long(argc, argv, "+r:w:i:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o.input = optarg; break;
        case 'w': o.output = optarg; break;
        case 'i':
            fprintf(stderr, "reprise capture: live capture (-i %s) is not available in this "
                    "version; record with 'tcpdump -i %s -w FILE.pcap' and run "
                    "'reprise capture -r FILE.pcap'\n", optarg, optarg);
            return RP_EXIT_USAGE;
        case 'k': o.keep_truncated = 1; break;
        case 'L': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 19) {
                fprintf(stderr, "reprise capture: invalid --level '%s': use a whole number from 1 to 19\n", optarg);
                return RP_EXIT_USAGE;
            }
            o.zstd_level = (int)v;
            break;
        }
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return RP_EXIT_OK;
        default: usage(stderr); return RP_EXIT_USAGE;
        }
    }
    if (o.input == NULL || o.output == NULL) {
        fprintf(stderr, "reprise capture: %s is missing\n", o.input == NULL ? "-r FILE" : "-w TRACE");
        usage(stderr);
        return RP_EXIT_USAGE;
    }
    char *filter = join_args(argc - optind, argv + optind);
    o.filter = filter;
    o.stop = &stop_requested;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (rp_cli_is_tty() && !quiet) {
        o.progress = show_progress;
        clock_gettime(CLOCK_MONOTONIC, &started);
    }

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rp_capture_stats st;
    char err[512] = "";
    int rc = rp_capture_file(&o, &st, err, sizeof err);
    double secs = elapsed_s(&t0);
    if (o.progress)
        fprintf(stderr, "\r%60s\r", "");
    free(filter);

    if (rc < 0) {
        fprintf(stderr, "reprise capture: %s\n", err);
        return rc == RP_CAPTURE_EFILTER ? RP_EXIT_USAGE : RP_EXIT_FAIL;
    }
    if (!quiet)
        print_summary(o.output, &st, secs);
    if (rc == RP_CAPTURE_PARTIAL) {
        fprintf(stderr, "reprise capture: %s; %s holds the %llu requests read before it\n",
                err, o.output, (unsigned long long)st.http.requests);
        return RP_EXIT_FAIL;
    }
    if (stop_requested)
        fprintf(stderr, "reprise capture: interrupted; %s holds the %llu requests read so far\n",
                o.output, (unsigned long long)st.http.requests);
    return RP_EXIT_OK;
}
