/* reprise sample: a share of a trace's connections, whole. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tools/cli.h"
#include "tools/trace_tool.h"

static const char usage_line[] =
    "usage: reprise sample PERCENT TRACE -o OUT [--seed N] [--level N]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Writes the requests of about PERCENT %% of TRACE's connections (0 < PERCENT\n"
            "<= 100, e.g. 10 or 2.5) to a new trace OUT (mode 0600). A connection is\n"
            "kept or left out whole, by a hash of its id: the same PERCENT and seed\n"
            "always keep the same connections, and a smaller PERCENT keeps a subset of\n"
            "what a larger one keeps. OUT's sampling metadata gives the share of the\n"
            "original traffic that remains.\n\n"
            "  -o, --output OUT  trace to create\n"
            "      --seed N      hash seed, to draw another sample (default 0)\n"
            "      --level N     zstd level of OUT, 1 to 19 (default 3)\n", usage_line);
}

struct options {
    const char *path, *output;
    double percent;
    int have_percent;
    uint64_t seed;
    int level;
};

static int usage_error(const char *fmt, const char *a)
{
    fputs("reprise sample: ", stderr);
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
                    strcmp(a, "--seed") == 0 || strcmp(a, "--level") == 0;
        if (takes && i + 1 == argc)
            return usage_error("missing value after %s", a);
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o->output = argv[++i];
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            o->seed = strtoull(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0')
                return usage_error("invalid --seed '%s': expected a whole number", argv[i]);
        } else if (strcmp(a, "--level") == 0) {
            if (rp_tool_parse_level(argv[++i], &o->level) != 0)
                return usage_error("invalid --level '%s': expected 1 to 19", argv[i]);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else if (!o->have_percent) {
            if (rp_cli_parse_double(a, &o->percent) != 0 || o->percent <= 0 ||
                o->percent > 100)
                return usage_error("invalid PERCENT '%s': expected a number above 0 and at "
                                   "most 100", a);
            o->have_percent = 1;
        } else if (o->path == NULL) {
            o->path = a;
        } else {
            return usage_error("one trace at a time; unexpected '%s'", a);
        }
    }
    if (!o->have_percent || o->path == NULL)
        return usage_error("missing %s", o->have_percent ? "TRACE" : "PERCENT and TRACE");
    if (o->output == NULL)
        return usage_error("missing -o OUT%s", "");
    return 0;
}

/* Keeps a connection when its hash, as a fraction of 2^64, is below
 * percent / 100. */
static int keep(uint64_t conn_id, uint64_t seed, double percent)
{
    uint64_t h = XXH64(&conn_id, sizeof conn_id, seed);
    return ldexp((double)(h >> 11), -53) * 100.0 < percent;
}

/* The sampling metadata of the output: the share of the original
 * connections, when the input's is a plain percentage too. */
static void combined_sample(const char *old, double percent, char *out, size_t len)
{
    char *end;
    double prev = old[0] ? strtod(old, &end) : 100;
    if (old[0] == '\0' || (end != old && strcmp(end, "%") == 0))
        snprintf(out, len, "%g%%", prev * percent / 100);
    else
        snprintf(out, len, "%g%% of %.12s", percent, old);
}

static int run(const struct options *o, rp_trace_reader *r, rp_trace_writer *w,
               uint64_t *kept, uint64_t *read)
{
    rp_record rec;
    for (;;) {
        int rc = rp_tool_next("sample", r, &rec);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        (*read)++;
        if (!keep(rec.conn_id, o->seed, o->percent))
            continue;
        if (rp_tool_write("sample", w, &rec) != 0)
            return -1;
        (*kept)++;
    }
}

int cmd_sample(int argc, char **argv)
{
    struct options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
    if (rp_tool_same_file(o.path, o.output)) {
        fprintf(stderr, "reprise sample: the output %s is the input trace: write to another "
                "file\n", o.output);
        return RP_EXIT_USAGE;
    }

    rp_trace_reader *r;
    if (rp_tool_open("sample", o.path, &r) != 0)
        return RP_EXIT_FAIL;
    static rp_trace_info info;
    info = *rp_trace_reader_info(r);
    combined_sample(rp_trace_reader_info(r)->sample, o.percent, info.sample, sizeof info.sample);

    char *line = rp_tool_history_line("sample", argc, argv);
    rp_trace_writer *w = NULL;
    uint64_t kept = 0, read = 0;
    rc = rp_tool_writer_open("sample", o.output, &info, line, o.level, 0, &w);
    free(line);
    if (rc == 0)
        rc = run(&o, r, w, &kept, &read);
    if (w != NULL && rp_tool_writer_close("sample", w) != 0)
        rc = -1;
    rp_trace_reader_close(r);
    if (rc != 0) {
        if (w != NULL)
            remove(o.output);
        return RP_EXIT_FAIL;
    }
    fprintf(stderr, "reprise sample: kept %" PRIu64 " of %" PRIu64 " requests in %s\n", kept,
            read, o.output);
    if (kept == 0 && read > 0)
        fprintf(stderr, "reprise sample: note: connections are kept or left out whole, so a "
                "trace with few connections may keep none; try a larger PERCENT\n");
    return RP_EXIT_OK;
}
