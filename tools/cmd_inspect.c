/* reprise inspect: what a trace contains, as a summary (text or JSON) or
 * as one tab-separated line per record. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "formats/trace.h"
#include "tools/cli.h"

#define MAX_METHODS 64        /* distinct methods counted by name; the rest
                                 are counted as "(other)" */

static const char usage_line[] = "usage: reprise inspect TRACE [--records [--headers]] [--json]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Shows what a trace contains: capture metadata, timestamps, connections,\n"
            "methods, response statuses and sizes.\n\n"
            "  --records   print one tab-separated line per record instead, after a\n"
            "              header line: ts_ns conn_id method target version host\n"
            "              body_len chunked resp_status ttfb_us resp_bytes flags\n"
            "  --headers   with --records, add a last column with the header lines\n"
            "              (they may contain secrets such as cookies)\n"
            "  --json      print the summary as one JSON object\n\n"
            "A damaged block is reported on stderr and counted; reading goes on\n"
            "with the next block.\n", usage_line);
}

/* ---- counting ---- */

struct method_count {
    char *name;
    uint64_t n;
};

/* A set of conn_id values: open addressing, empty slots hold 0, and
 * conn_id 0 is tracked apart. */
struct conn_set {
    uint64_t *slots;
    size_t cap, used;
    int has_zero;
};

struct stats {
    uint64_t records;
    uint64_t first_ts, last_ts;
    struct method_count methods[MAX_METHODS + 1];
    size_t n_methods;
    uint64_t *status;         /* by code, 65536 entries */
    uint64_t no_response;
    uint64_t chunked, truncated, upgrade, connect, resp_truncated, redacted;
    uint64_t body_bytes;
    struct conn_set conns;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void conn_insert_slot(struct conn_set *s, uint64_t id)
{
    size_t i = mix64(id) & (s->cap - 1);
    while (s->slots[i] != 0 && s->slots[i] != id)
        i = (i + 1) & (s->cap - 1);
    if (s->slots[i] == 0) {
        s->slots[i] = id;
        s->used++;
    }
}

static int conn_add(struct conn_set *s, uint64_t id)
{
    if (id == 0) {
        s->has_zero = 1;
        return 0;
    }
    if (2 * (s->used + 1) > s->cap) {
        struct conn_set bigger = { calloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)),
                                   s->cap ? 2 * s->cap : 1024, 0, s->has_zero };
        if (bigger.slots == NULL)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i] != 0)
                conn_insert_slot(&bigger, s->slots[i]);
        free(s->slots);
        *s = bigger;
    }
    conn_insert_slot(s, id);
    return 0;
}

static void count_method(struct stats *st, const char *m, uint32_t len)
{
    size_t i;
    for (i = 0; i < st->n_methods; i++)
        if (strlen(st->methods[i].name) == len && memcmp(st->methods[i].name, m, len) == 0)
            break;
    if (i == st->n_methods) {
        if (st->n_methods == MAX_METHODS) {
            i = MAX_METHODS;
            if (st->methods[i].name == NULL)
                st->methods[i].name = strdup("(other)");
        } else {
            st->methods[i].name = strndup(m, len);
            st->n_methods++;
        }
    }
    st->methods[i].n++;
}

static int count_record(struct stats *st, const rp_record *rec)
{
    if (st->records == 0)
        st->first_ts = rec->ts_ns;
    st->last_ts = rec->ts_ns;
    st->records++;
    count_method(st, rec->method, rec->method_len);
    if (rec->flags & RP_REC_HAS_RESPONSE)
        st->status[rec->resp_status]++;
    else
        st->no_response++;
    st->chunked += (rec->flags & RP_REC_CHUNKED) != 0;
    st->truncated += (rec->flags & RP_REC_TRUNCATED) != 0;
    st->upgrade += (rec->flags & RP_REC_UPGRADE) != 0;
    st->connect += (rec->flags & RP_REC_CONNECT) != 0;
    st->redacted += (rec->flags & RP_REC_REDACTED) != 0;
    st->resp_truncated += (rec->flags & RP_REC_RESP_TRUNCATED) != 0;
    st->body_bytes += rec->body_len;
    return conn_add(&st->conns, rec->conn_id);
}

static uint64_t conn_count(const struct stats *st)
{
    return st->conns.used + (uint64_t)st->conns.has_zero;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct method_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void stats_free(struct stats *st)
{
    for (size_t i = 0; i <= MAX_METHODS; i++)
        free(st->methods[i].name);
    free(st->status);
    free(st->conns.slots);
}

/* ---- formatting ---- */

/* Formats ns since the epoch as UTC ISO-8601 with milliseconds. */
static const char *format_time(uint64_t ns, char *buf, size_t len)
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    char day[32];
    if (gmtime_r(&secs, &tm) == NULL)
        return "invalid";
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", day, (unsigned)(ns / 1000000u % 1000u));
    return buf;
}

static const char *format_duration(uint64_t ns, char *buf, size_t len)
{
    uint64_t s = ns / 1000000000u;
    int n = snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    if (s >= 60 && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (%" PRIu64 "d %02u:%02u:%02u)", s / 86400,
                 (unsigned)(s / 3600 % 24), (unsigned)(s / 60 % 60), (unsigned)(s % 60));
    return buf;
}

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

/* Finds the value of the first Host header line, without surrounding
 * spaces or tabs. Returns its length, 0 when there is none. */
static size_t find_host(const char *h, size_t len, const char **value)
{
    const char *end = h + len;
    while (h < end) {
        const char *eol = memchr(h, '\n', (size_t)(end - h));
        const char *line_end = eol ? eol : end;
        if (line_end > h && line_end[-1] == '\r')
            line_end--;
        if (line_end - h >= 5 && strncasecmp(h, "host:", 5) == 0) {
            const char *v = h + 5;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            while (line_end > v && (line_end[-1] == ' ' || line_end[-1] == '\t'))
                line_end--;
            *value = v;
            return (size_t)(line_end - v);
        }
        h = eol ? eol + 1 : end;
    }
    return 0;
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
    size_t host_len = find_host(rec->headers, rec->headers_len, &host);

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

/* ---- the summary ---- */

struct summary {
    const char *path;
    const rp_trace_info *info;
    uint64_t blocks, damaged_blocks, lost_records;
    struct stats *st;
};

static const char *link_name(uint32_t link_type)
{
    const char *name = pcap_datalink_val_to_name((int)link_type);
    return name ? name : "unknown";
}

static void print_counts_text(const struct summary *s)
{
    const struct stats *st = s->st;
    printf("%-13s", "methods");
    for (size_t i = 0; i <= MAX_METHODS; i++)
        if (st->methods[i].name != NULL)
            printf("%s%s %" PRIu64, i ? ", " : "", st->methods[i].name, st->methods[i].n);
    printf("\n%-13s", "status");
    const char *sep = "";
    for (size_t code = 0; code < 65536; code++) {
        if (st->status[code] == 0)
            continue;
        printf("%s%zu %" PRIu64, sep, code, st->status[code]);
        sep = ", ";
    }
    if (st->no_response > 0)
        printf("%sno response %" PRIu64, sep, st->no_response);
    printf("\n%-13schunked %" PRIu64 ", truncated %" PRIu64 ", upgrade %" PRIu64
           ", connect %" PRIu64 ", response truncated %" PRIu64 ", redacted %" PRIu64 "\n",
           "flags", st->chunked, st->truncated, st->upgrade, st->connect, st->resp_truncated,
           st->redacted);
}

static void print_summary_text(const struct summary *s)
{
    const rp_trace_info *info = s->info;
    const struct stats *st = s->st;
    char t[64];

    printf("%-13s%s (format %u.%u%s)\n", "trace", s->path, info->version_major,
           info->version_minor, info->has_index ? "" : ", no index");
    printf("%-13s%s\n", "source", info->source[0] ? info->source : "(none)");
    printf("%-13s%s\n", "filter", info->filter[0] ? info->filter : "(none)");
    printf("%-13s%s\n", "tool", info->tool[0] ? info->tool : "(none)");
    printf("%-13s%s\n", "created", info->created_ns ? format_time(info->created_ns, t, sizeof t)
                                                    : "(unknown)");
    printf("%-13s%s (%" PRIu32 ")\n", "link type", link_name(info->link_type), info->link_type);
    printf("%-13s%" PRIu32 "\n", "snaplen", info->snaplen);
    printf("%-13s%s\n", "redaction", info->redaction[0] ? info->redaction : "none");
    printf("%-13s%s\n", "sampling", info->sample[0] ? info->sample : "all connections kept");
    printf("%-13s%" PRIu64 "\n", "records", st->records);
    printf("%-13s%" PRIu64 " (%" PRIu64 " damaged, %" PRIu64 " records known lost)\n",
           "blocks", s->blocks, s->damaged_blocks, s->lost_records);
    if (st->records > 0) {
        printf("%-13s%s\n", "first", format_time(st->first_ts, t, sizeof t));
        printf("%-13s%s\n", "last", format_time(st->last_ts, t, sizeof t));
        printf("%-13s%s\n", "duration", format_duration(st->last_ts - st->first_ts, t, sizeof t));
    }
    printf("%-13s%" PRIu64 "\n", "connections", conn_count(st));
    print_counts_text(s);
    printf("%-13s%" PRIu64 " (request bodies, decoded)\n", "body bytes", st->body_bytes);
    printf("%-13s%" PRIu64 " bytes", "file size", info->file_bytes);
    if (st->records > 0)
        printf(", %.1f bytes per request", (double)info->file_bytes / (double)st->records);
    putchar('\n');
}

/* Returns a JSON string of value, with bytes that are not valid UTF-8
 * replaced by '?' so that the output stays valid JSON. */
static json_t *json_text(const char *value, size_t len)
{
    json_t *j = json_stringn(value, len);
    if (j != NULL)
        return j;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return json_null();
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)value[i] < 0x80 && value[i] != '\0' ? value[i] : '?';
    copy[len] = '\0';
    j = json_string(copy);
    free(copy);
    return j ? j : json_null();
}

static json_t *json_time(uint64_t ns, int present)
{
    char t[64];
    return present ? json_string(format_time(ns, t, sizeof t)) : json_null();
}

static json_t *counts_json(const struct stats *st, json_t **status, json_t **flags)
{
    json_t *methods = json_object();
    for (size_t i = 0; i <= MAX_METHODS; i++) {
        if (st->methods[i].name == NULL)
            continue;
        json_t *key = json_text(st->methods[i].name, strlen(st->methods[i].name));
        json_object_set_new(methods, json_string_value(key) ? json_string_value(key) : "?",
                            json_integer((json_int_t)st->methods[i].n));
        json_decref(key);
    }
    *status = json_object();
    for (size_t code = 0; code < 65536; code++) {
        char key[8];
        if (st->status[code] == 0)
            continue;
        snprintf(key, sizeof key, "%zu", code);
        json_object_set_new(*status, key, json_integer((json_int_t)st->status[code]));
    }
    json_object_set_new(*status, "none", json_integer((json_int_t)st->no_response));
    *flags = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "chunked", (json_int_t)st->chunked,
                       "truncated", (json_int_t)st->truncated,
                       "upgrade", (json_int_t)st->upgrade, "connect", (json_int_t)st->connect,
                       "response_truncated", (json_int_t)st->resp_truncated,
                       "redacted", (json_int_t)st->redacted);
    return methods;
}

static void print_summary_json(const struct summary *s)
{
    const rp_trace_info *info = s->info;
    const struct stats *st = s->st;
    char version[16];
    snprintf(version, sizeof version, "%u.%u", info->version_major, info->version_minor);

    json_t *o = json_object();
    json_object_set_new(o, "file", json_text(s->path, strlen(s->path)));
    json_object_set_new(o, "format_version", json_string(version));
    json_object_set_new(o, "source", json_text(info->source, strlen(info->source)));
    json_object_set_new(o, "filter", json_text(info->filter, strlen(info->filter)));
    json_object_set_new(o, "tool", json_text(info->tool, strlen(info->tool)));
    json_object_set_new(o, "created", json_time(info->created_ns, info->created_ns != 0));
    json_object_set_new(o, "link_type", json_integer(info->link_type));
    json_object_set_new(o, "link_type_name", json_string(link_name(info->link_type)));
    json_object_set_new(o, "snaplen", json_integer(info->snaplen));
    json_object_set_new(o, "redaction", json_text(info->redaction, strlen(info->redaction)));
    json_object_set_new(o, "sample", json_text(info->sample, strlen(info->sample)));
    json_object_set_new(o, "has_index", json_boolean(info->has_index));
    json_object_set_new(o, "index_damaged", json_boolean(info->index_damaged));
    json_object_set_new(o, "header_damaged", json_boolean(info->header_damaged));
    json_object_set_new(o, "records", json_integer((json_int_t)st->records));
    json_object_set_new(o, "blocks", json_integer((json_int_t)s->blocks));
    json_object_set_new(o, "damaged_blocks", json_integer((json_int_t)s->damaged_blocks));
    json_object_set_new(o, "lost_records", json_integer((json_int_t)s->lost_records));
    json_object_set_new(o, "first_ts", json_time(st->first_ts, st->records > 0));
    json_object_set_new(o, "last_ts", json_time(st->last_ts, st->records > 0));
    json_object_set_new(o, "first_ts_ns", json_integer((json_int_t)st->first_ts));
    json_object_set_new(o, "last_ts_ns", json_integer((json_int_t)st->last_ts));
    json_object_set_new(o, "duration_s", json_real((double)(st->last_ts - st->first_ts) / 1e9));
    json_object_set_new(o, "connections", json_integer((json_int_t)conn_count(st)));

    json_t *status, *flags;
    json_object_set_new(o, "methods", counts_json(st, &status, &flags));
    json_object_set_new(o, "status", status);
    json_object_set_new(o, "flags", flags);
    json_object_set_new(o, "body_bytes", json_integer((json_int_t)st->body_bytes));
    json_object_set_new(o, "file_bytes", json_integer((json_int_t)info->file_bytes));
    json_object_set_new(o, "bytes_per_request",
                        st->records ? json_real((double)info->file_bytes / (double)st->records)
                                    : json_null());
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    putchar('\n');
    json_decref(o);
}

/* ---- the verb ---- */

struct options {
    const char *path;
    int records;
    int headers;
    int json;
};

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
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "reprise inspect: unknown option '%s'\n%s\n", a, usage_line);
            return -1;
        } else if (o->path != NULL) {
            fprintf(stderr, "reprise inspect: one trace at a time (got '%s' and '%s')\n%s\n",
                    o->path, a, usage_line);
            return -1;
        } else {
            o->path = a;
        }
    }
    if (o->path == NULL) {
        fprintf(stderr, "reprise inspect: missing TRACE\n%s\n", usage_line);
        return -1;
    }
    if (o->headers && !o->records) {
        fprintf(stderr, "reprise inspect: --headers goes with --records\n%s\n", usage_line);
        return -1;
    }
    if (o->records && o->json) {
        fprintf(stderr, "reprise inspect: --records and --json cannot be combined\n%s\n",
                usage_line);
        return -1;
    }
    return 0;
}

static void warn_info(const char *path, const rp_trace_info *info)
{
    if (info->header_damaged)
        fprintf(stderr, "reprise inspect: warning: %s: the trace header is damaged "
                "(checksum mismatch), so its capture metadata is not shown; the records "
                "are read anyway\n", path);
    if (info->index_damaged)
        fprintf(stderr, "reprise inspect: warning: %s: the index is damaged; the blocks "
                "are read in file order instead\n", path);
}

/* Reads every record, printing or counting it. Returns an exit code. */
static int read_all(rp_trace_reader *r, const struct options *o, struct stats *st)
{
    char err[512];
    rp_record rec;
    if (o->records)
        print_record_header(stdout, o->headers);
    for (;;) {
        int rc = rp_trace_reader_next(r, &rec, err, sizeof err);
        if (rc == RP_TRACE_EOF)
            return RP_EXIT_OK;
        if (rc == RP_TRACE_ECORRUPT) {
            fprintf(stderr, "reprise inspect: warning: %s\n", err);
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "reprise inspect: %s\n", err);
            return RP_EXIT_FAIL;
        }
        if (o->records)
            print_record(stdout, &rec, o->headers);
        else if (count_record(st, &rec) != 0) {
            fprintf(stderr, "reprise inspect: out of memory counting connections in %s\n",
                    o->path);
            return RP_EXIT_FAIL;
        }
    }
}

int cmd_inspect(int argc, char **argv)
{
    struct options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;

    char err[512];
    rp_trace_reader *r = NULL;
    if (rp_trace_reader_open(&r, o.path, err, sizeof err) != 0) {
        fprintf(stderr, "reprise inspect: %s\n", err);
        return RP_EXIT_FAIL;
    }
    const rp_trace_info *info = rp_trace_reader_info(r);
    warn_info(o.path, info);

    struct stats st;
    memset(&st, 0, sizeof st);
    st.status = calloc(65536, sizeof *st.status);
    if (st.status == NULL) {
        fprintf(stderr, "reprise inspect: out of memory reading %s\n", o.path);
        rp_trace_reader_close(r);
        return RP_EXIT_FAIL;
    }

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    rc = read_all(r, &o, &st);
    if (rc == RP_EXIT_OK && !o.records) {
        qsort(st.methods, st.n_methods, sizeof st.methods[0], by_count_desc);
        uint64_t damaged = rp_trace_reader_bad_blocks(r);
        struct summary s = {
            o.path, info,
            info->has_index ? info->blocks : rp_trace_reader_good_blocks(r) + damaged,
            damaged, rp_trace_reader_lost_records(r), &st
        };
        if (o.json)
            print_summary_json(&s);
        else
            print_summary_text(&s);
    }
    if (fflush(stdout) != 0 && rc == RP_EXIT_OK) {
        perror("reprise inspect: writing output");
        rc = RP_EXIT_FAIL;
    }
    stats_free(&st);
    rp_trace_reader_close(r);
    return rc;
}
