/* reprise inspect: what a trace contains, as a summary (text or JSON) or
 * as one tab-separated line per record. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/headers.h"
#include "formats/trace.h"
#include "tools/cli.h"
#include "tools/inspect.h"
#include "tools/trace_tool.h"

#define DEFAULT_TOP 10
#define DEFAULT_GAP_NS (3600ull * 1000000000u)

static const char usage_line[] =
    "usage: reprise inspect TRACE [--json] [--top N] [--gap D] | [--records [--headers]]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Shows what a trace contains: capture metadata, time span, requests,\n"
            "connections, the request rate over time, methods, response statuses, the\n"
            "most frequent endpoints (paths with numeric, UUID and hexadecimal segments\n"
            "folded into {id}, {uuid} and {hex}), request and body sizes, and the\n"
            "compression ratio. Memory stays bounded: past %d distinct connections the\n"
            "count is a HyperLogLog estimate, and past %d distinct endpoints their\n"
            "counts are upper bounds (both are marked as such).\n\n"
            "  --json      print the summary as one JSON object\n"
            "  --top N     endpoints to list (default %d, at most %d)\n"
            "  --gap D     warn about pauses between requests longer than D\n"
            "              (default 1h; 0 turns the warning off)\n"
            "  --records   print one tab-separated line per record instead, after a\n"
            "              header line: ts_ns conn_id method target version host\n"
            "              body_len chunked resp_status ttfb_us resp_bytes flags\n"
            "  --headers   with --records, add a last column with the header lines\n"
            "              (they may contain secrets such as cookies)\n\n"
            "A damaged block is reported on stderr and counted; reading goes on\n"
            "with the next block.\n", usage_line, RP_DISTINCT_EXACT, INSPECT_TOPK,
            DEFAULT_TOP, INSPECT_TOPK);
}

/* ---- --records ---- */

/* Writes value with backslash, tab, CR and LF escaped as \\ \t \r \n, so
 * that it fits in one tab-separated column. */
static void put_escaped(FILE *out, const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (c == '\\')
            fputs("\\\\", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\n')
            fputs("\\n", out);
        else
            putc(c, out);
    }
}

static void put_flag_names(FILE *out, uint32_t flags)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        { RP_REC_CHUNKED, "chunked" }, { RP_REC_HAS_RESPONSE, "response" },
        { RP_REC_TRUNCATED, "truncated" }, { RP_REC_UPGRADE, "upgrade" },
        { RP_REC_CONNECT, "connect" }, { RP_REC_RESP_TRUNCATED, "resp_truncated" },
        { RP_REC_REDACTED, "redacted" },
    };
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (flags & names[i].bit) {
            fprintf(out, "%s%s", sep, names[i].name);
            sep = ",";
            flags &= ~names[i].bit;
        }
    }
    if (flags != 0)
        fprintf(out, "%s0x%" PRIx32, sep, flags);
}

static void print_record_header(FILE *out, int headers)
{
    fputs("ts_ns\tconn_id\tmethod\ttarget\tversion\thost\tbody_len\tchunked\t"
          "resp_status\tttfb_us\tresp_bytes\tflags", out);
    fputs(headers ? "\theaders\n" : "\n", out);
}

static void print_record(FILE *out, const rp_record *rec, int headers)
{
    const char *host = NULL;
    size_t host_len = rp_headers_find(rec->headers, rec->headers_len, "host", &host);

    fprintf(out, "%" PRIu64 "\t%" PRIu64 "\t", rec->ts_ns, rec->conn_id);
    put_escaped(out, rec->method, rec->method_len);
    putc('\t', out);
    put_escaped(out, rec->target, rec->target_len);
    fprintf(out, "\t%u.%u\t", rec->http_major, rec->http_minor);
    put_escaped(out, host, host_len);
    fprintf(out, "\t%" PRIu32 "\t%d\t", rec->body_len, (rec->flags & RP_REC_CHUNKED) != 0);
    if (rec->flags & RP_REC_HAS_RESPONSE)
        fprintf(out, "%u\t%" PRIu64 "\t%" PRIu64 "\t", rec->resp_status,
                rec->resp_ttfb_ns / 1000u, rec->resp_bytes);
    else
        fputs("\t\t\t", out);
    put_flag_names(out, rec->flags);
    if (headers) {
        putc('\t', out);
        put_escaped(out, rec->headers, rec->headers_len);
    }
    putc('\n', out);
}

/* ---- the verb ---- */

struct options {
    const char *path;
    int records;
    int headers;
    int json;
    size_t top;
    uint64_t gap_ns;
};

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fputs("reprise inspect: ", stderr);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n%s\n", usage_line);
    return -1;
}

/* Returns -1 after printing a usage error, 1 after printing help. */
static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--records") == 0) {
            o->records = 1;
        } else if (strcmp(a, "--headers") == 0) {
            o->headers = 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--top") == 0 || strcmp(a, "--gap") == 0) {
            if (i + 1 == argc)
                return usage_error("%s needs a value%s", a, "");
            const char *v = argv[++i];
            char *end;
            if (a[2] == 't') {
                long n = strtol(v, &end, 10);
                if (end == v || *end != '\0' || n < 0 || n > INSPECT_TOPK)
                    return usage_error("invalid --top '%s': expected 0 to %s", v, "1024");
                o->top = (size_t)n;
            } else if (rp_cli_parse_duration(v, &o->gap_ns) != 0) {
                return usage_error("invalid --gap '%s': expected a duration such as 1h, "
                                   "30m or 0%s", v, "");
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'%s", a, "");
        } else if (o->path != NULL) {
            return usage_error("one trace at a time (got '%s' and '%s')", o->path, a);
        } else {
            o->path = a;
        }
    }
    if (o->path == NULL)
        return usage_error("missing TRACE%s%s", "", "");
    if (o->headers && !o->records)
        return usage_error("--headers goes with --records%s%s", "", "");
    if (o->records && o->json)
        return usage_error("--records and --json cannot be combined%s%s", "", "");
    return 0;
}

/* Reads every record, printing or counting it. Returns an exit code. */
static int read_all(rp_trace_reader *r, const struct options *o, struct inspect_stats *st)
{
    rp_record rec;
    if (o->records)
        print_record_header(stdout, o->headers);
    for (;;) {
        int rc = rp_tool_next("inspect", r, &rec);
        if (rc > 0)
            return RP_EXIT_OK;
        if (rc < 0)
            return RP_EXIT_FAIL;
        if (o->records)
            print_record(stdout, &rec, o->headers);
        else
            inspect_count(st, &rec);
    }
}

static void print_summary(rp_trace_reader *r, const struct options *o,
                          struct inspect_stats *st)
{
    const rp_trace_info *info = rp_trace_reader_info(r);
    uint64_t damaged = rp_trace_reader_bad_blocks(r);
    struct inspect_summary s = {
        .path = o->path, .info = info,
        .blocks = info->has_index ? info->blocks : rp_trace_reader_good_blocks(r) + damaged,
        .damaged_blocks = damaged, .lost_records = rp_trace_reader_lost_records(r),
        .top = o->top, .tty = isatty(STDOUT_FILENO), .st = st,
    };
    rp_trace_reader_bytes(r, &s.block_bytes, &s.raw_bytes);
    if (o->json)
        inspect_print_json(&s);
    else
        inspect_print_text(&s);
}

int cmd_inspect(int argc, char **argv)
{
    struct options o = { .top = DEFAULT_TOP, .gap_ns = DEFAULT_GAP_NS };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;

    rp_trace_reader *r = NULL;
    if (rp_tool_open("inspect", o.path, &r) != 0)
        return RP_EXIT_FAIL;
    struct inspect_stats st;
    if (inspect_stats_init(&st, o.gap_ns) != 0) {
        fprintf(stderr, "reprise inspect: out of memory reading %s\n", o.path);
        rp_trace_reader_close(r);
        return RP_EXIT_FAIL;
    }

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    rc = read_all(r, &o, &st);
    if (rc == RP_EXIT_OK && !o.records)
        print_summary(r, &o, &st);
    if (fflush(stdout) != 0 && rc == RP_EXIT_OK) {
        perror("reprise inspect: writing output");
        rc = RP_EXIT_FAIL;
    }
    inspect_stats_free(&st);
    rp_trace_reader_close(r);
    return rc;
}
