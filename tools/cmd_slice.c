/* reprise slice: the requests of a trace between two times. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/trace_tool.h"

static const char usage_line[] =
    "usage: reprise slice TRACE -o OUT [--from T] [--to T] [--level N]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Writes the requests of TRACE from --from (included) to --to (excluded) to\n"
            "a new trace OUT (mode 0600), with TRACE's metadata and this command\n"
            "added to its history. With an index, reading starts at the block that\n"
            "holds --from without decompressing the blocks before it.\n\n"
            "  -o, --output OUT  trace to create\n"
            "      --from T      start: a duration from the first request (30s, 5m, 2h)\n"
            "                    or an RFC 3339 time (2024-12-03T10:00:00Z,\n"
            "                    2024-12-03T11:00:00.5+01:00); default: the start\n"
            "      --to T        end, in the same forms; default: the end\n"
            "      --level N     zstd level of OUT, 1 to 19 (default 3)\n",
            usage_line);
}

struct options {
    const char *path, *output, *from, *to;
    int level;
};

static int usage_error(const char *what, const char *value)
{
    fprintf(stderr, "reprise slice: %s%s%s\n%s\n", what, value ? value : "",
            value ? "'" : "", usage_line);
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
                    strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 ||
                    strcmp(a, "--level") == 0;
        if (takes && i + 1 == argc)
            return usage_error("missing value after ", a);
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            o->output = argv[++i];
        else if (strcmp(a, "--from") == 0)
            o->from = argv[++i];
        else if (strcmp(a, "--to") == 0)
            o->to = argv[++i];
        else if (strcmp(a, "--level") == 0) {
            if (rp_tool_parse_level(argv[++i], &o->level) != 0)
                return usage_error("invalid --level: expected 1 to 19, got '", argv[i]);
        } else if (a[0] == '-' && a[1] != '\0')
            return usage_error("unknown option '", a);
        else if (o->path != NULL)
            return usage_error("one trace at a time; unexpected '", a);
        else
            o->path = a;
    }
    if (o->path == NULL)
        return usage_error("missing TRACE", NULL);
    if (o->output == NULL)
        return usage_error("missing -o OUT", NULL);
    return 0;
}

/* The first request's time: from the index, else from the first
 * record, after which the reader is rewound. */
static int first_timestamp(rp_trace_reader *r, uint64_t *first)
{
    const rp_trace_info *info = rp_trace_reader_info(r);
    rp_record rec;
    *first = 0;
    if (info->has_index) {
        *first = info->first_ts_ns;
        return 0;
    }
    int rc = rp_tool_next("slice", r, &rec);
    if (rc < 0)
        return -1;
    if (rc == 0)
        *first = rec.ts_ns;
    char err[256];
    rp_trace_reader_rewind(r, err, sizeof err);
    return 0;
}

static int bounds(const struct options *o, uint64_t first, uint64_t *from, uint64_t *to)
{
    *from = 0;
    *to = UINT64_MAX;
    if (o->from != NULL && rp_tool_parse_time(o->from, first, from) != 0)
        return usage_error("invalid --from: expected a duration such as 30s or an RFC 3339 "
                           "time such as 2024-12-03T10:00:00Z, got '", o->from);
    if (o->to != NULL && rp_tool_parse_time(o->to, first, to) != 0)
        return usage_error("invalid --to: expected a duration such as 5m or an RFC 3339 "
                           "time such as 2024-12-03T10:05:00Z, got '", o->to);
    if (*to < *from)
        return usage_error("--to is before --from", NULL);
    return 0;
}

static int copy_range(rp_trace_reader *r, rp_trace_writer *w, uint64_t from, uint64_t to,
                      uint64_t *n)
{
    char err[256];
    rp_record rec;
    rp_trace_reader_seek(r, from, err, sizeof err);
    for (;;) {
        int rc = rp_tool_next("slice", r, &rec);
        if (rc < 0)
            return -1;
        if (rc > 0 || rec.ts_ns >= to)
            return 0;
        if (rp_tool_write("slice", w, &rec) != 0)
            return -1;
        (*n)++;
    }
}

int cmd_slice(int argc, char **argv)
{
    struct options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
    if (rp_tool_same_file(o.path, o.output)) {
        fprintf(stderr, "reprise slice: the output %s is the input trace: write to another "
                "file\n", o.output);
        return RP_EXIT_USAGE;
    }

    rp_trace_reader *r;
    if (rp_tool_open("slice", o.path, &r) != 0)
        return RP_EXIT_FAIL;
    uint64_t first, from, to, n = 0;
    if (first_timestamp(r, &first) != 0) {
        rp_trace_reader_close(r);
        return RP_EXIT_FAIL;
    }
    if (bounds(&o, first, &from, &to) != 0) {
        rp_trace_reader_close(r);
        return RP_EXIT_USAGE;
    }

    char *line = rp_tool_history_line("slice", argc, argv);
    rp_trace_writer *w = NULL;
    rc = rp_tool_writer_open("slice", o.output, rp_trace_reader_info(r), line, o.level, 0, &w);
    free(line);
    if (rc == 0)
        rc = copy_range(r, w, from, to, &n);
    if (w != NULL && rp_tool_writer_close("slice", w) != 0)
        rc = -1;
    rp_trace_reader_close(r);
    if (rc != 0) {
        if (w != NULL)
            remove(o.output);
        return RP_EXIT_FAIL;
    }
    fprintf(stderr, "reprise slice: wrote %" PRIu64 " request%s to %s\n", n,
            n == 1 ? "" : "s", o.output);
    return RP_EXIT_OK;
}
