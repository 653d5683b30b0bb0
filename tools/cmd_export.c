/* reprise export: a trace's requests as JSON Lines, HAR 1.2, curl
 * command lines, GoReplay files or raw HTTP. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/export.h"
#include "tools/trace_tool.h"

#define CURL_DEFAULT_LIMIT 10
#define MAX_RANGES 256

static const char usage_line[] =
    "usage: reprise export TRACE [--format jsonl|har|curl|gor|raw] [-o FILE]\n"
    "                      [--limit N] [--index LIST] [--base-url URL]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Writes a trace's requests in another format, to standard output or FILE\n"
            "(created with mode 0600). The output holds the headers and bodies the trace\n"
            "holds, secrets included, unless the capture redacted them.\n\n"
            "  -f, --format F     jsonl (default): one JSON object per request and line,\n"
            "                     bodies that are not UTF-8 in base64;\n"
            "                     har: HAR 1.2, for browsers' developer tools and HAR viewers;\n"
            "                     curl: one curl command line per request (the first %d\n"
            "                     unless --limit or --index is given);\n"
            "                     gor: GoReplay's file format (requests only);\n"
            "                     raw: the requests as sent, back to back\n"
            "  -o, --output FILE  write to FILE instead of standard output\n"
            "      --limit N      write at most N requests\n"
            "      --index LIST   only the requests at these positions in the trace,\n"
            "                     counted from 0, e.g. 0,5,10-19\n"
            "      --base-url URL scheme://host:port for the URLs of har and curl, e.g.\n"
            "                     http://127.0.0.1:8080 (default: http:// and each\n"
            "                     request's Host header)\n\n"
            "A damaged block is reported on stderr and skipped.\n",
            usage_line, CURL_DEFAULT_LIMIT);
}

enum format { FMT_JSONL, FMT_HAR, FMT_CURL, FMT_GOR, FMT_RAW };

struct range {
    uint64_t lo, hi;          /* inclusive */
};

struct options {
    const char *path;
    const char *output;
    const char *base_url;
    enum format format;
    uint64_t limit;           /* 0: no limit */
    int limit_set;
    struct range ranges[MAX_RANGES];
    size_t n_ranges;
};

static int bad_value(const char *option, const char *value, const char *expected)
{
    fprintf(stderr, "reprise export: invalid %s '%s': %s\n%s\n", option, value, expected,
            usage_line);
    return -1;
}

static int parse_u64(const char *s, const char **end, uint64_t *v)
{
    char *e;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno != 0)
        return -1;
    *v = x;
    *end = e;
    return 0;
}

/* Parses "0,5,10-19" into ranges. */
static int parse_index(const char *text, struct options *o)
{
    const char *p = text;
    while (*p) {
        struct range r;
        if (o->n_ranges == MAX_RANGES || parse_u64(p, &p, &r.lo) != 0)
            return -1;
        r.hi = r.lo;
        if (*p == '-' && (parse_u64(p + 1, &p, &r.hi) != 0 || r.hi < r.lo))
            return -1;
        o->ranges[o->n_ranges++] = r;
        if (*p == ',' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            return -1;
    }
    return o->n_ranges > 0 ? 0 : -1;
}

static int parse_format(const char *v, enum format *f)
{
    static const char *const names[] = { "jsonl", "har", "curl", "gor", "raw" };
    for (int i = 0; i < 5; i++) {
        if (strcmp(v, names[i]) == 0) {
            *f = (enum format)i;
            return 0;
        }
    }
    return -1;
}

/* Returns -1 after a usage error, 1 after printing help. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        { "limit", required_argument, NULL, 'l' },
        { "index", required_argument, NULL, 'x' },
        { "base-url", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
        const char *end;
        switch (c) {
        case 'f':
            if (parse_format(optarg, &o->format) != 0)
                return bad_value("--format", optarg, "expected jsonl, har, curl, gor or raw");
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'l':
            if (parse_u64(optarg, &end, &o->limit) != 0 || *end != '\0' || o->limit == 0)
                return bad_value("--limit", optarg, "expected a positive whole number");
            o->limit_set = 1;
            break;
        case 'x':
            if (parse_index(optarg, o) != 0)
                return bad_value("--index", optarg, "expected positions such as 0,5,10-19 "
                                 "(at most 256 items)");
            break;
        case 'b':
            if (strstr(optarg, "://") == NULL)
                return bad_value("--base-url", optarg, "expected scheme://host:port, e.g. "
                                 "http://127.0.0.1:8080");
            o->base_url = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            fprintf(stderr, "reprise export: %s needs a value\n%s\n", argv[optind - 1],
                    usage_line);
            return -1;
        default:
            fprintf(stderr, "reprise export: unknown option '%s'\n%s\n", argv[optind - 1],
                    usage_line);
            return -1;
        }
    }
    if (optind == argc) {
        fprintf(stderr, "reprise export: missing TRACE\n%s\n", usage_line);
        return -1;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "reprise export: one trace at a time (got '%s' and '%s')\n%s\n",
                argv[optind], argv[optind + 1], usage_line);
        return -1;
    }
    o->path = argv[optind];
    return 0;
}

/* Returns 1 to write the record at position i, 0 to skip it, -1 when no
 * later position is selected. */
static int selected(const struct options *o, uint64_t i)
{
    if (o->n_ranges == 0)
        return 1;
    int later = 0;
    for (size_t k = 0; k < o->n_ranges; k++) {
        if (i >= o->ranges[k].lo && i <= o->ranges[k].hi)
            return 1;
        later |= o->ranges[k].hi > i;
    }
    return later ? 0 : -1;
}

static void write_record(rp_export *x, enum format f, const rp_record *rec)
{
    switch (f) {
    case FMT_JSONL: rp_export_jsonl(x, rec); break;
    case FMT_HAR:   rp_export_har(x, rec); break;
    case FMT_CURL:  rp_export_curl(x, rec); break;
    case FMT_GOR:   rp_export_gor(x, rec); break;
    case FMT_RAW:   rp_export_raw(x, rec); break;
    }
}

static int export_all(rp_trace_reader *r, const struct options *o, rp_export *x)
{
    rp_record rec;
    if (o->format == FMT_HAR)
        rp_export_har_begin(x, rp_trace_reader_info(r));
    for (uint64_t i = 0;; i++) {
        if (o->limit && x->written >= o->limit)
            break;
        int rc = rp_tool_next("export", r, &rec);
        if (rc < 0)
            return RP_EXIT_FAIL;
        if (rc > 0)
            break;
        int sel = selected(o, i);
        if (sel < 0)
            break;
        if (sel == 0)
            continue;
        x->index = i;
        write_record(x, o->format, &rec);
        if (x->out->error)
            break;
    }
    if (o->format == FMT_HAR)
        rp_export_har_end(x);
    return RP_EXIT_OK;
}

int cmd_export(int argc, char **argv)
{
    struct options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
    if (o.format == FMT_CURL && !o.limit_set && o.n_ranges == 0) {
        o.limit = CURL_DEFAULT_LIMIT;
        fprintf(stderr, "reprise export: writing the first %d requests as curl commands; "
                "use --limit N or --index LIST for others\n", CURL_DEFAULT_LIMIT);
    }
    if (o.output != NULL && rp_tool_same_file(o.path, o.output)) {
        fprintf(stderr, "reprise export: the output %s is the input trace: write to "
                "another file\n", o.output);
        return RP_EXIT_USAGE;
    }

    rp_trace_reader *r;
    if (rp_tool_open("export", o.path, &r) != 0)
        return RP_EXIT_FAIL;
    rp_out out;
    if (rp_out_open(&out, o.output) != 0) {
        fprintf(stderr, "reprise export: cannot create %s: %s\n", o.output, strerror(errno));
        rp_trace_reader_close(r);
        return RP_EXIT_FAIL;
    }

    rp_export x = { .out = &out, .base_url = o.base_url };
    rc = export_all(r, &o, &x);
    if (rp_out_close(&out) != 0 && rc == RP_EXIT_OK) {
        fprintf(stderr, "reprise export: cannot write %s: %s\n",
                o.output ? o.output : "standard output", strerror(out.error));
        rc = RP_EXIT_FAIL;
    }
    rp_export_free(&x);
    rp_trace_reader_close(r);
    return rc;
}
