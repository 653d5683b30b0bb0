/* reprise import: a trace from JSON Lines, HAR, a GoReplay file or an
 * access log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import.h"
#include "tools/cli.h"
#include "tools/trace_tool.h"

#define SHOWN_WARNINGS 10
#define REORDER_RECORDS 100000
#define REORDER_BYTES (256u << 20)

static const char usage_line[] =
    "usage: reprise import FILE -o OUT [--format auto|jsonl|har|gor|access-log] [--level N]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Makes a trace OUT (mode 0600) from another recording of HTTP requests:\n\n"
            "  jsonl       JSON Lines as 'reprise export' writes them; the round trip\n"
            "              gives back the same requests, byte for byte\n"
            "  har         HAR 1.x, as browsers' developer tools save it; entries served\n"
            "              from the browser cache and non-HTTP URLs are left out, and\n"
            "              HTTP/2 and HTTP/3 requests are stored as HTTP/1.1\n"
            "  gor         GoReplay files: requests, with the status and time to first\n"
            "              byte of their recorded response\n"
            "  access-log  nginx or Apache access logs in the common or combined format:\n"
            "              method, target and time (to the second) only, without\n"
            "              headers, bodies or responses\n\n"
            "  -o, --output OUT  trace to create\n"
            "  -f, --format F    the input's format (default: guessed from its start)\n"
            "      --level N     zstd level of OUT, 1 to 19 (default 3)\n"
            "      --block-records N  records per block of OUT (default 16384); smaller\n"
            "                    blocks compress less but lose less when one is damaged\n\n"
            "Requests are written in timestamp order; one that comes more than %d\n"
            "requests after a later one is given that later time, and counted. A line\n"
            "or entry that cannot be read is reported and skipped.\n",
            usage_line, REORDER_RECORDS);
}

struct options {
    const char *path, *output;
    rp_import_format format;
    int level;
    uint32_t block_records;
};

static int usage_error(const char *fmt, const char *a)
{
    fputs("reprise import: ", stderr);
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n%s\n", usage_line);
    return -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        int takes = strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
                    strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0 ||
                    strcmp(a, "--level") == 0 || strcmp(a, "--block-records") == 0;
        if (takes && i + 1 == argc)
            return usage_error("missing value after %s", a);
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o->output = argv[++i];
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0) {
            if (rp_import_format_parse(argv[++i], &o->format) != 0)
                return usage_error("invalid --format '%s': expected auto, jsonl, har, gor or "
                                   "access-log", argv[i]);
        } else if (strcmp(a, "--level") == 0) {
            if (rp_tool_parse_level(argv[++i], &o->level) != 0)
                return usage_error("invalid --level '%s': expected 1 to 19", argv[i]);
        } else if (strcmp(a, "--block-records") == 0) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || n == 0 || n > RP_TRACE_MAX_BLOCK_RECORDS)
                return usage_error("invalid --block-records '%s': expected 1 to 1048576",
                                   argv[i]);
            o->block_records = (uint32_t)n;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else if (o->path != NULL) {
            return usage_error("one file at a time; unexpected '%s'", a);
        } else {
            o->path = a;
        }
    }
    if (o->path == NULL)
        return usage_error("missing FILE%s", "");
    if (o->output == NULL)
        return usage_error("missing -o OUT%s", "");
    return 0;
}

struct run {
    const struct options *o;
    rp_trace_writer *w;
    rp_import_order *order;
    uint64_t shown;
};

static int write_ordered(void *ctx, const rp_record *rec)
{
    struct run *r = ctx;
    return rp_tool_write("import", r->w, rec) == 0 ? 0 : -1;
}

static int take_record(void *ctx, const rp_record *rec)
{
    struct run *r = ctx;
    int rc = rp_import_order_add(r->order, rec);
    if (rc == -1 && rp_trace_writer_records(r->w) == 0)
        fprintf(stderr, "reprise import: out of memory reordering requests\n");
    return rc;
}

static void on_skipped(void *ctx, const char *unit, uint64_t where, const char *why)
{
    struct run *r = ctx;
    if (r->shown++ < SHOWN_WARNINGS)
        fprintf(stderr, "reprise import: warning: %s %s %" PRIu64 ": %s; skipped\n",
                r->o->path, unit, where, why);
}

static const char *items_name(rp_import_format f)
{
    if (f == RP_IMPORT_HAR)
        return "entries";
    if (f == RP_IMPORT_GOR)
        return "payloads";
    return "lines";
}

static void report(const struct run *r, rp_import_format f, const rp_import_stats *st)
{
    const char *path = r->o->path;
    if (st->skipped > SHOWN_WARNINGS)
        fprintf(stderr, "reprise import: warning: %s: %" PRIu64 " more %s skipped\n", path,
                st->skipped - SHOWN_WARNINGS, items_name(f));
    uint64_t shift;
    uint64_t late = rp_import_order_late(r->order, &shift);
    if (late > 0)
        fprintf(stderr, "reprise import: warning: %s: %" PRIu64 " request%s came too late for "
                "timestamp order and got a later time (by up to %.3f s)\n", path, late,
                late == 1 ? "" : "s", (double)shift / 1e9);
    if (f == RP_IMPORT_ACCESS_LOG)
        fprintf(stderr, "reprise import: note: an access log records only each request's "
                "method, target and time (to the second): the trace has no headers (not even "
                "Host), no bodies and no responses\n");
    if (st->http2 > 0)
        fprintf(stderr, "reprise import: note: %" PRIu64 " HTTP/2 or HTTP/3 request%s stored "
                "as HTTP/1.1\n", st->http2, st->http2 == 1 ? "" : "s");
    if (f == RP_IMPORT_GOR)
        fprintf(stderr, "reprise import: note: %" PRIu64 " response%s paired with their "
                "request, %" PRIu64 " without one\n", st->responses,
                st->responses == 1 ? "" : "s", st->unpaired);
    fprintf(stderr, "reprise import: wrote %" PRIu64 " request%s from %s (%s%s%s) to %s; %"
            PRIu64 " of %" PRIu64 " %s skipped, %" PRIu64 " left out on purpose\n",
            rp_trace_writer_records(r->w), rp_trace_writer_records(r->w) == 1 ? "" : "s",
            path, rp_import_format_name(f), st->version[0] ? " " : "", st->version,
            r->o->output, st->skipped, st->items, items_name(f), st->ignored);
}

static int run_import(struct run *r, char *line)
{
    const struct options *o = r->o;
    rp_import_format used = o->format;
    rp_import_stats st;
    char err[512];
    rp_import_sink sink = { take_record, on_skipped, r };

    rp_trace_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.source, sizeof info.source, "%s", o->path);
    snprintf(info.tool, sizeof info.tool, "%s", RP_VERSION_STRING);
    if (rp_tool_writer_open("import", o->output, &info, line, o->level, o->block_records, &r->w) != 0)
        return -1;
    r->order = rp_import_order_new(REORDER_RECORDS, REORDER_BYTES, write_ordered, r);
    if (r->order == NULL) {
        fprintf(stderr, "reprise import: out of memory\n");
        return -1;
    }
    int rc = rp_import_file(o->path, o->format, &used, &sink, &st, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "reprise import: %s\n", err);
        return -1;
    }
    if (rc != 0 || rp_import_order_drain(r->order) != 0)
        return -1;
    report(r, used, &st);
    if (rp_trace_writer_records(r->w) == 0 && st.skipped > 0) {
        fprintf(stderr, "reprise import: no request in %s could be read\n", o->path);
        return -1;
    }
    return 0;
}

int cmd_import(int argc, char **argv)
{
    struct options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
    if (rp_tool_same_file(o.path, o.output)) {
        fprintf(stderr, "reprise import: the output %s is the input file: write to another "
                "file\n", o.output);
        return RP_EXIT_USAGE;
    }

    char *line = rp_tool_history_line("import", argc, argv);
    struct run r = { .o = &o };
    rc = run_import(&r, line);
    free(line);
    if (r.w != NULL && rp_tool_writer_close("import", r.w) != 0)
        rc = -1;
    rp_import_order_free(r.order);
    if (rc != 0) {
        if (r.w != NULL)
            remove(o.output);
        return RP_EXIT_FAIL;
    }
    return RP_EXIT_OK;
}
