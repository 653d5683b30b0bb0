/* reprise inspect: the summary as text or JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "tools/inspect.h"
#include "tools/out.h"

#define BAR_WIDTH 40
#define LABEL_WIDTH 13

static const char *link_name(uint32_t link_type)
{
    const char *name = pcap_datalink_val_to_name((int)link_type);
    return name ? name : "unknown";
}

static const char *format_time(uint64_t ns, char *buf)
{
    rp_format_time(ns, 3, buf);
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

/* A short form for gaps: "3d 00:00:00", "1h 05m", "42.0 s". */
static const char *format_span(uint64_t ns, char *buf, size_t len)
{
    uint64_t s = ns / 1000000000u;
    if (s >= 86400)
        snprintf(buf, len, "%" PRIu64 "d %02u:%02u:%02u", s / 86400, (unsigned)(s / 3600 % 24),
                 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
    else if (s >= 3600)
        snprintf(buf, len, "%" PRIu64 "h %02um", s / 3600, (unsigned)(s / 60 % 60));
    else
        snprintf(buf, len, "%.1f s", (double)ns / 1e9);
    return buf;
}

/* Formats a rate with 3 significant digits below 100 (0.00153, 42.5) and
 * as a whole number above (6497). */
static const char *format_rate(double per_s, char *buf, size_t len)
{
    if (per_s < 100)
        snprintf(buf, len, "%.3g", per_s);
    else
        snprintf(buf, len, "%.0f", per_s);
    return buf;
}

/* Writes s with control characters shown as '?', for names taken from
 * the trace (methods, paths) that a terminal would otherwise act on. */
static void put_clean(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* ---- text ---- */

static void print_metadata(const struct inspect_summary *s)
{
    const rp_trace_info *info = s->info;
    char t[64];
    printf("%-*s%s (format %u.%u%s)\n", LABEL_WIDTH, "trace", s->path, info->version_major,
           info->version_minor, info->has_index ? "" : ", no index");
    printf("%-*s%s\n", LABEL_WIDTH, "source", info->source[0] ? info->source : "(none)");
    printf("%-*s%s\n", LABEL_WIDTH, "filter", info->filter[0] ? info->filter : "(none)");
    printf("%-*s%s\n", LABEL_WIDTH, "tool", info->tool[0] ? info->tool : "(none)");
    printf("%-*s%s\n", LABEL_WIDTH, "created",
           info->created_ns ? format_time(info->created_ns, t) : "(unknown)");
    printf("%-*s%s (%" PRIu32 ")\n", LABEL_WIDTH, "link type", link_name(info->link_type),
           info->link_type);
    printf("%-*s%" PRIu32 "\n", LABEL_WIDTH, "snaplen", info->snaplen);
    printf("%-*s%s\n", LABEL_WIDTH, "redaction", info->redaction[0] ? info->redaction : "none");
    printf("%-*s%s\n", LABEL_WIDTH, "sampling",
           info->sample[0] ? info->sample : "all connections kept");
    if (info->history[0]) {
        const char *line = info->history;
        for (int first = 1; *line; first = 0) {
            const char *nl = strchr(line, '\n');
            int n = nl ? (int)(nl - line) : (int)strlen(line);
            printf("%-*s%.*s\n", LABEL_WIDTH, first ? "history" : "", n, line);
            line += n + (nl != NULL);
        }
    }
}

static void print_counts(const struct inspect_stats *st)
{
    printf("%-*s", LABEL_WIDTH, "methods");
    for (size_t i = 0; i <= INSPECT_MAX_METHODS; i++) {
        if (st->methods[i].name == NULL)
            continue;
        fputs(i ? ", " : "", stdout);
        put_clean(st->methods[i].name);
        printf(" %" PRIu64, st->methods[i].n);
    }
    printf("\n%-*s", LABEL_WIDTH, "status");
    const char *sep = "";
    for (size_t code = 0; code < 65536; code++) {
        if (st->status[code] == 0)
            continue;
        printf("%s%zu %" PRIu64, sep, code, st->status[code]);
        sep = ", ";
    }
    if (st->no_response > 0)
        printf("%sno response %" PRIu64, sep, st->no_response);
    printf("\n%-*schunked %" PRIu64 ", truncated %" PRIu64 ", upgrade %" PRIu64
           ", connect %" PRIu64 ", response truncated %" PRIu64 ", redacted %" PRIu64 "\n",
           LABEL_WIDTH, "flags", st->chunked, st->truncated, st->upgrade, st->connect,
           st->resp_truncated, st->redacted);
}

static void print_sizes(const char *label, const rp_hist *h)
{
    if (rp_hist_count(h) == 0) {
        printf("%-*snone\n", LABEL_WIDTH, label);
        return;
    }
    printf("%-*smin %" PRIu64 ", median %" PRIu64 ", p90 %" PRIu64 ", p99 %" PRIu64
           ", max %" PRIu64 " bytes (%" PRIu64 " requests)\n", LABEL_WIDTH, label,
           rp_hist_min(h), rp_hist_percentile(h, 50), rp_hist_percentile(h, 90),
           rp_hist_percentile(h, 99), rp_hist_max(h), rp_hist_count(h));
}

static void print_endpoints(const struct inspect_summary *s)
{
    size_t n = s->top;
    if (n == 0)
        return;
    rp_topk_item *items = malloc(n * sizeof *items);
    if (items == NULL)
        return;
    n = rp_topk_top(s->st->endpoints, items, n);
    int approx = rp_topk_approximate(s->st->endpoints);
    if (approx)
        printf("%-*smore than %d distinct, so the counts are upper bounds; (+N) is the "
               "most a count can exceed the true one\n", LABEL_WIDTH, "endpoints", INSPECT_TOPK);
    else
        printf("%-*s%" PRIu64 " distinct\n", LABEL_WIDTH, "endpoints",
               rp_topk_distinct(s->st->endpoints));
    for (size_t i = 0; i < n; i++) {
        printf("%-*s%10" PRIu64 "  ", LABEL_WIDTH, "", items[i].count);
        put_clean(items[i].key);
        if (items[i].overcount > 0)
            printf("  (+%" PRIu64 ")", items[i].overcount);
        putchar('\n');
    }
    free(items);
}

/* One bar of width value/max * BAR_WIDTH: Unicode eighth blocks on a
 * terminal, '#' characters otherwise so that a file stays plain ASCII. */
static void print_bar(uint64_t value, uint64_t max, int tty)
{
    static const char *const eighths[] = { "", "\u258f", "\u258e", "\u258d", "\u258c",
                                           "\u258b", "\u258a", "\u2589" };
    if (max == 0)
        return;
    uint64_t units = (value * BAR_WIDTH * 8 + max - 1) / max;
    if (!tty) {
        for (uint64_t i = 0; i < (units + 7) / 8; i++)
            putchar('#');
        return;
    }
    for (uint64_t i = 0; i < units / 8; i++)
        fputs("\u2588", stdout);
    fputs(eighths[units % 8], stdout);
}

static void print_rate(const struct inspect_summary *s)
{
    const struct inspect_stats *st = s->st;
    if (st->records == 0)
        return;
    uint64_t max = 0;
    for (size_t i = 0; i < st->rate_used; i++)
        if (st->rate[i] > max)
            max = st->rate[i];
    double secs = (double)st->rate_width / 1e9;
    char w[32];
    printf("%-*srequests per %s bucket (UTC start time, count, rate)\n", LABEL_WIDTH, "rate",
           format_span(st->rate_width, w, sizeof w));
    int long_span = st->last_ts - st->first_ts >= 86400ull * 1000000000u;
    for (size_t i = 0; i < st->rate_used; i++) {
        char t[32];
        rp_format_time(st->rate_origin + i * st->rate_width, 3, t);
        /* 2024-12-03T10:00:00.000Z: keep the date only for long traces
         * and the milliseconds only for sub-second buckets. */
        int from = long_span ? 0 : 11, len = st->rate_width < 1000000000u ? 23 : 19;
        char rate[32];
        printf("  %-*.*s %9" PRIu64 " %10s/s ", len - from, len - from, t + from,
               st->rate[i], format_rate((double)st->rate[i] / secs, rate, sizeof rate));
        print_bar(st->rate[i], max, s->tty);
        putchar('\n');
    }
}

static void print_warnings(const struct inspect_summary *s)
{
    const struct inspect_stats *st = s->st;
    char a[48], b[48];
    if (st->gaps_over > 0) {
        printf("warning: %" PRIu64 " idle gap%s longer than %s between requests; the "
               "longest is %s, before the request at %s. A replay waits through each "
               "gap; 'reprise replay --max-gap 5s' shortens them\n", st->gaps_over,
               st->gaps_over == 1 ? "" : "s",
               format_span(st->gap_threshold_ns, a, sizeof a),
               format_span(st->max_gap_ns, b, sizeof b),
               format_time(st->max_gap_at, (char[32]){ 0 }));
    }
    if (st->backwards > 0)
        printf("warning: %" PRIu64 " request%s earlier than the one before (by up to %s); "
               "a replay sends them without waiting\n", st->backwards,
               st->backwards == 1 ? " is" : "s are",
               format_span(st->max_backwards_ns, a, sizeof a));
}

void inspect_print_text(const struct inspect_summary *s)
{
    const struct inspect_stats *st = s->st;
    char t[64];
    print_metadata(s);
    printf("%-*s%" PRIu64 "\n", LABEL_WIDTH, "records", st->records);
    printf("%-*s%" PRIu64 " (%" PRIu64 " damaged, %" PRIu64 " records known lost)\n",
           LABEL_WIDTH, "blocks", s->blocks, s->damaged_blocks, s->lost_records);
    if (st->records > 0) {
        printf("%-*s%s\n", LABEL_WIDTH, "first", format_time(st->first_ts, t));
        printf("%-*s%s\n", LABEL_WIDTH, "last", format_time(st->last_ts, t));
        printf("%-*s%s\n", LABEL_WIDTH, "duration",
               format_duration(st->last_ts - st->first_ts, t, sizeof t));
        if (st->last_ts > st->first_ts)
            printf("%-*s%s requests/s\n", LABEL_WIDTH, "mean rate",
                   format_rate((double)st->records /
                               ((double)(st->last_ts - st->first_ts) / 1e9), t, sizeof t));
    }
    int estimated;
    uint64_t conns = rp_distinct_count(&st->conns, &estimated);
    printf("%-*s%s%" PRIu64 "%s\n", LABEL_WIDTH, "connections", estimated ? "about " : "",
           conns, estimated ? " (HyperLogLog estimate, standard error 0.8%)" : "");
    print_counts(st);
    print_sizes("request size", st->request_size);
    print_sizes("body size", st->body_size);
    printf("%-*s%" PRIu64 " (request bodies, decoded)\n", LABEL_WIDTH, "body bytes",
           st->body_bytes);
    printf("%-*s%" PRIu64 " bytes", LABEL_WIDTH, "file size", s->info->file_bytes);
    if (st->records > 0)
        printf(", %.1f bytes per request", (double)s->info->file_bytes / (double)st->records);
    putchar('\n');
    if (s->block_bytes > 0)
        printf("%-*s%.2f (%" PRIu64 " bytes of records in %" PRIu64 " bytes of blocks)\n",
               LABEL_WIDTH, "compression", (double)s->raw_bytes / (double)s->block_bytes,
               s->raw_bytes, s->block_bytes);
    print_endpoints(s);
    print_rate(s);
    print_warnings(s);
}

/* ---- JSON ---- */

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
    char t[32];
    return present ? json_string(format_time(ns, t)) : json_null();
}

static json_t *json_u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *counts_json(const struct inspect_stats *st, json_t **status, json_t **flags)
{
    json_t *methods = json_object();
    for (size_t i = 0; i <= INSPECT_MAX_METHODS; i++) {
        if (st->methods[i].name == NULL)
            continue;
        json_t *key = json_text(st->methods[i].name, strlen(st->methods[i].name));
        json_object_set_new(methods, json_string_value(key) ? json_string_value(key) : "?",
                            json_u64(st->methods[i].n));
        json_decref(key);
    }
    *status = json_object();
    for (size_t code = 0; code < 65536; code++) {
        char key[8];
        if (st->status[code] == 0)
            continue;
        snprintf(key, sizeof key, "%zu", code);
        json_object_set_new(*status, key, json_u64(st->status[code]));
    }
    json_object_set_new(*status, "none", json_u64(st->no_response));
    *flags = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "chunked", (json_int_t)st->chunked,
                       "truncated", (json_int_t)st->truncated,
                       "upgrade", (json_int_t)st->upgrade, "connect", (json_int_t)st->connect,
                       "response_truncated", (json_int_t)st->resp_truncated,
                       "redacted", (json_int_t)st->redacted);
    return methods;
}

static json_t *sizes_json(const rp_hist *h)
{
    if (rp_hist_count(h) == 0)
        return json_null();
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                     "count", (json_int_t)rp_hist_count(h),
                     "min", (json_int_t)rp_hist_min(h),
                     "median", (json_int_t)rp_hist_percentile(h, 50),
                     "p90", (json_int_t)rp_hist_percentile(h, 90),
                     "p99", (json_int_t)rp_hist_percentile(h, 99),
                     "max", (json_int_t)rp_hist_max(h), "mean", rp_hist_mean(h));
}

static json_t *endpoints_json(const struct inspect_summary *s)
{
    json_t *list = json_array();
    size_t n = s->top;
    rp_topk_item *items = malloc((n ? n : 1) * sizeof *items);
    if (items == NULL)
        return list;
    n = rp_topk_top(s->st->endpoints, items, n);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:o, s:I, s:I}", "endpoint",
                                              json_text(items[i].key, strlen(items[i].key)),
                                              "count", (json_int_t)items[i].count,
                                              "max_overcount",
                                              (json_int_t)items[i].overcount));
    free(items);
    return list;
}

static json_t *rate_json(const struct inspect_stats *st)
{
    json_t *counts = json_array();
    for (size_t i = 0; i < st->rate_used; i++)
        json_array_append_new(counts, json_u64(st->rate[i]));
    return json_pack("{s:f, s:I, s:o, s:o}", "bucket_s", (double)st->rate_width / 1e9,
                     "start_ns", (json_int_t)st->rate_origin, "start",
                     json_time(st->rate_origin, st->records > 0), "counts", counts);
}

static json_t *gaps_json(const struct inspect_stats *st)
{
    json_t *list = json_array();
    for (size_t i = 0; i < st->n_gaps; i++)
        json_array_append_new(list, json_pack("{s:o, s:f}", "before",
                                              json_time(st->gaps[i].at_ns, 1), "seconds",
                                              (double)st->gaps[i].len_ns / 1e9));
    return json_pack("{s:f, s:I, s:f, s:o, s:I, s:f}",
                     "threshold_s", (double)st->gap_threshold_ns / 1e9,
                     "over_threshold", (json_int_t)st->gaps_over,
                     "longest_s", (double)st->max_gap_ns / 1e9, "first", list,
                     "backwards", (json_int_t)st->backwards,
                     "max_backwards_s", (double)st->max_backwards_ns / 1e9);
}

static void set_metadata_json(json_t *o, const struct inspect_summary *s)
{
    const rp_trace_info *info = s->info;
    char version[16];
    snprintf(version, sizeof version, "%u.%u", info->version_major, info->version_minor);
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
    json_object_set_new(o, "history", json_text(info->history, strlen(info->history)));
    json_object_set_new(o, "has_index", json_boolean(info->has_index));
    json_object_set_new(o, "index_damaged", json_boolean(info->index_damaged));
    json_object_set_new(o, "header_damaged", json_boolean(info->header_damaged));
}

void inspect_print_json(const struct inspect_summary *s)
{
    const struct inspect_stats *st = s->st;
    json_t *o = json_object();
    set_metadata_json(o, s);
    json_object_set_new(o, "records", json_u64(st->records));
    json_object_set_new(o, "blocks", json_u64(s->blocks));
    json_object_set_new(o, "damaged_blocks", json_u64(s->damaged_blocks));
    json_object_set_new(o, "lost_records", json_u64(s->lost_records));
    json_object_set_new(o, "first_ts", json_time(st->first_ts, st->records > 0));
    json_object_set_new(o, "last_ts", json_time(st->last_ts, st->records > 0));
    json_object_set_new(o, "first_ts_ns", json_u64(st->first_ts));
    json_object_set_new(o, "last_ts_ns", json_u64(st->last_ts));
    json_object_set_new(o, "duration_s", json_real((double)(st->last_ts - st->first_ts) / 1e9));

    int estimated;
    json_object_set_new(o, "connections", json_u64(rp_distinct_count(&st->conns, &estimated)));
    json_object_set_new(o, "connections_estimated", json_boolean(estimated));

    json_t *status, *flags;
    json_object_set_new(o, "methods", counts_json(st, &status, &flags));
    json_object_set_new(o, "status", status);
    json_object_set_new(o, "flags", flags);
    json_object_set_new(o, "request_size", sizes_json(st->request_size));
    json_object_set_new(o, "body_size", sizes_json(st->body_size));
    json_object_set_new(o, "body_bytes", json_u64(st->body_bytes));
    json_object_set_new(o, "file_bytes", json_u64(s->info->file_bytes));
    json_object_set_new(o, "bytes_per_request",
                        st->records ? json_real((double)s->info->file_bytes / (double)st->records)
                                    : json_null());
    json_object_set_new(o, "block_bytes", json_u64(s->block_bytes));
    json_object_set_new(o, "raw_bytes", json_u64(s->raw_bytes));
    json_object_set_new(o, "compression_ratio",
                        s->block_bytes ? json_real((double)s->raw_bytes / (double)s->block_bytes)
                                       : json_null());
    json_object_set_new(o, "endpoints", endpoints_json(s));
    json_object_set_new(o, "endpoints_distinct", json_u64(rp_topk_distinct(st->endpoints)));
    json_object_set_new(o, "endpoints_approximate",
                        json_boolean(rp_topk_approximate(st->endpoints)));
    json_object_set_new(o, "rate", rate_json(st));
    json_object_set_new(o, "gaps", gaps_json(st));
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    putchar('\n');
    json_decref(o);
}
