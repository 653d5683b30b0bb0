/* reprise filter: the requests of a trace that match conditions on
 * method, target, host and response status. */
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/headers.h"
#include "tools/cli.h"
#include "tools/trace_tool.h"

#define MAX_VALUES 64         /* values per kind of condition */

static const char usage_line[] =
    "usage: reprise filter TRACE -o OUT [--method M] [--path PREFIX] [--path-regex RE]\n"
    "                      [--host H] [--status S] [--exclude-...] [--level N]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Writes the requests of TRACE that match to a new trace OUT (mode 0600),\n"
            "with TRACE's metadata and this command added to its history.\n\n"
            "  --method M        the method, e.g. GET (case-sensitive)\n"
            "  --path PREFIX     the request target starts with PREFIX, e.g. /api/\n"
            "  --path-regex RE   the request target, query string included, matches the\n"
            "                    POSIX extended regular expression RE, e.g. '^/users/[0-9]+$'\n"
            "  --host H          the Host header is H, with or without its :port\n"
            "                    (ASCII case-insensitive)\n"
            "  --status S        the response status: 404, 5xx, 400-499, or 'none' for\n"
            "                    requests without a captured response\n"
            "  --exclude-method, --exclude-path, --exclude-path-regex, --exclude-host,\n"
            "  --exclude-status  the same conditions, for requests to leave out\n"
            "  -o, --output OUT  trace to create\n"
            "      --level N     zstd level of OUT, 1 to 19 (default 3)\n\n"
            "Each option can be repeated and takes a comma-separated list (except the\n"
            "regular expressions). A request is kept when, for every kind of include\n"
            "condition given, it matches one of its values, and it matches no exclude\n"
            "condition.\n", usage_line);
}

enum kind { K_METHOD, K_PATH, K_REGEX, K_HOST, K_STATUS, K_COUNT };

static const char *const kind_names[K_COUNT] = {
    "method", "path", "path-regex", "host", "status"
};

struct status_range {
    int lo, hi;               /* lo = hi = -1 for "none" */
};

struct cond {
    const char *text[MAX_VALUES];
    size_t n;
    regex_t re[MAX_VALUES];
    struct status_range status[MAX_VALUES];
};

struct options {
    const char *path, *output;
    int level;
    struct cond include[K_COUNT], exclude[K_COUNT];
};

static int usage_error(const char *fmt, const char *a)
{
    fputs("reprise filter: ", stderr);
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n%s\n", usage_line);
    return -1;
}

/* Parses "404", "5xx" or "400-499"; HTTP status codes run from 100 to
 * 599, so anything outside is rejected as a typo. */
static int parse_status(const char *s, struct status_range *r)
{
    if (strcasecmp(s, "none") == 0) {
        r->lo = r->hi = -1;
        return 0;
    }
    int a, b, used = 0;
    if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
        (s[2] == 'x' || s[2] == 'X')) {
        r->lo = (s[0] - '0') * 100;
        r->hi = r->lo + 99;
        return 0;
    }
    if (sscanf(s, "%d-%d%n", &a, &b, &used) == 2 && s[used] == '\0' && a >= 100 &&
        b >= a && b <= 599) {
        r->lo = a;
        r->hi = b;
        return 0;
    }
    if (sscanf(s, "%d%n", &a, &used) == 1 && s[used] == '\0' && a >= 100 && a <= 599) {
        r->lo = r->hi = a;
        return 0;
    }
    return -1;
}

static int add_value(struct cond *c, enum kind k, const char *v)
{
    if (c->n == MAX_VALUES)
        return usage_error("too many values for one condition (at most 64): '%s'", v);
    if (k == K_REGEX) {
        int rc = regcomp(&c->re[c->n], v, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &c->re[c->n], msg, sizeof msg);
            fprintf(stderr, "reprise filter: invalid regular expression '%s': %s\n", v, msg);
            return -1;
        }
    } else if (k == K_STATUS && parse_status(v, &c->status[c->n]) != 0) {
        return usage_error("invalid status '%s': expected a code from 100 to 599 (404), a class (5xx), a range (400-499) or none", v);
    } else if (v[0] == '\0') {
        return usage_error("empty value%s", "");
    }
    c->text[c->n++] = v;
    return 0;
}

/* Adds the values of one option: a list, except for regular
 * expressions, which may contain commas. The list is split in place. */
static int add_values(struct cond *c, enum kind k, char *list)
{
    if (k == K_REGEX)
        return add_value(c, k, list);
    char *save = NULL;
    for (char *v = strtok_r(list, ",", &save); v != NULL; v = strtok_r(NULL, ",", &save))
        if (add_value(c, k, v) != 0)
            return -1;
    return 0;
}

/* Returns the kind named by option a ("--method" or "--exclude-method"),
 * or -1. */
static int option_kind(const char *a, int *exclude)
{
    *exclude = strncmp(a, "--exclude-", 10) == 0;
    const char *name = *exclude ? a + 10 : (strncmp(a, "--", 2) == 0 ? a + 2 : a);
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        int exclude, k = option_kind(a, &exclude);
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        int takes = k >= 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 ||
                    strcmp(a, "--level") == 0;
        if (takes && i + 1 == argc)
            return usage_error("missing value after %s", a);
        if (k >= 0) {
            struct cond *c = exclude ? &o->exclude[k] : &o->include[k];
            if (add_values(c, (enum kind)k, argv[++i]) != 0)
                return -1;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o->output = argv[++i];
        } else if (strcmp(a, "--level") == 0) {
            if (rp_tool_parse_level(argv[++i], &o->level) != 0)
                return usage_error("invalid --level '%s': expected 1 to 19", argv[i]);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else if (o->path != NULL) {
            return usage_error("one trace at a time; unexpected '%s'", a);
        } else {
            o->path = a;
        }
    }
    if (o->path == NULL)
        return usage_error("missing TRACE%s", "");
    if (o->output == NULL)
        return usage_error("missing -o OUT%s", "");
    return 0;
}

/* ---- matching ---- */

static int host_matches(const char *want, const char *host, size_t len)
{
    size_t n = strlen(want);
    if (len < n || strncasecmp(host, want, n) != 0)
        return 0;
    return len == n || host[n] == ':';    /* "host" matches "host:8080" */
}

/* Matches the target without a NUL-terminated copy where regexec takes
 * the string's bounds (REG_STARTEND, in glibc and the BSDs). */
static int target_matches(const regex_t *re, const char *target, size_t len)
{
#ifdef REG_STARTEND
    regmatch_t m[1] = { { 0, (regoff_t)len } };
    return regexec(re, target, 0, m, REG_STARTEND) == 0;
#else
    char *t = strndup(target, len);
    int ok = t != NULL && regexec(re, t, 0, NULL, 0) == 0;
    free(t);
    return ok;
#endif
}

static int matches(const struct cond *c, enum kind k, const rp_record *rec,
                   const char *host, size_t host_len)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *v = c->text[i];
        size_t n = strlen(v);
        switch (k) {
        case K_METHOD:
            if (rec->method_len == n && memcmp(rec->method, v, n) == 0)
                return 1;
            break;
        case K_PATH:
            if (rec->target_len >= n && memcmp(rec->target, v, n) == 0)
                return 1;
            break;
        case K_REGEX:
            if (target_matches(&c->re[i], rec->target, rec->target_len))
                return 1;
            break;
        case K_HOST:
            if (host != NULL && host_matches(v, host, host_len))
                return 1;
            break;
        case K_STATUS: {
            int resp = (rec->flags & RP_REC_HAS_RESPONSE) != 0;
            int s = resp ? rec->resp_status : -1;
            if (s >= c->status[i].lo && s <= c->status[i].hi && (resp || c->status[i].lo < 0))
                return 1;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static int keep(const struct options *o, const rp_record *rec)
{
    const char *host;
    size_t host_len = rp_headers_find(rec->headers, rec->headers_len, "host", &host);
    for (int k = 0; k < K_COUNT; k++) {
        if (o->include[k].n > 0 && !matches(&o->include[k], (enum kind)k, rec, host, host_len))
            return 0;
        if (o->exclude[k].n > 0 && matches(&o->exclude[k], (enum kind)k, rec, host, host_len))
            return 0;
    }
    return 1;
}

static void free_options(struct options *o)
{
    for (size_t i = 0; i < o->include[K_REGEX].n; i++)
        regfree(&o->include[K_REGEX].re[i]);
    for (size_t i = 0; i < o->exclude[K_REGEX].n; i++)
        regfree(&o->exclude[K_REGEX].re[i]);
}

static int run(const struct options *o, rp_trace_reader *r, rp_trace_writer *w,
               uint64_t *kept, uint64_t *read)
{
    rp_record rec;
    for (;;) {
        int rc = rp_tool_next("filter", r, &rec);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        (*read)++;
        if (!keep(o, &rec))
            continue;
        if (rp_tool_write("filter", w, &rec) != 0)
            return -1;
        (*kept)++;
    }
}

int cmd_filter(int argc, char **argv)
{
    static struct options o;    /* large: 10 conditions of 64 regexes */
    memset(&o, 0, sizeof o);
    char *line = rp_tool_history_line("filter", argc, argv);  /* before strtok_r */
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        free(line);
        free_options(&o);
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;
    }
    if (rp_tool_same_file(o.path, o.output)) {
        fprintf(stderr, "reprise filter: the output %s is the input trace: write to another "
                "file\n", o.output);
        free(line);
        free_options(&o);
        return RP_EXIT_USAGE;
    }

    rp_trace_reader *r;
    rp_trace_writer *w = NULL;
    uint64_t kept = 0, read = 0;
    rc = rp_tool_open("filter", o.path, &r);
    if (rc == 0) {
        rc = rp_tool_writer_open("filter", o.output, rp_trace_reader_info(r), line, o.level, 0, &w);
        if (rc == 0)
            rc = run(&o, r, w, &kept, &read);
        if (w != NULL && rp_tool_writer_close("filter", w) != 0)
            rc = -1;
        rp_trace_reader_close(r);
    }
    free(line);
    free_options(&o);
    if (rc != 0) {
        if (w != NULL)
            remove(o.output);
        return RP_EXIT_FAIL;
    }
    fprintf(stderr, "reprise filter: kept %" PRIu64 " of %" PRIu64 " requests in %s\n", kept,
            read, o.output);
    return RP_EXIT_OK;
}
