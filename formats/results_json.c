#include "formats/results_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hdrhist.h"

#define HIST_ENCODING "HdrHistogram compressed V2, base64"

/* ---- writing ---- */

/* Collects the first allocation failure while a report is built. */
typedef struct writer {
    int failed;
} writer;

static void set(writer *w, json_t *obj, const char *key, json_t *value)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        w->failed = 1;
}

static json_t *uint_json(uint64_t v)
{
    return json_integer((json_int_t)v);
}

json_t *rp_results_percentiles_json(const rp_hist *h)
{
    int empty = h == NULL || rp_hist_count(h) == 0;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I}",
                     "p50", (json_int_t)rp_results_percentile(h, 50),
                     "p90", (json_int_t)rp_results_percentile(h, 90),
                     "p95", (json_int_t)rp_results_percentile(h, 95),
                     "p99", (json_int_t)rp_results_percentile(h, 99),
                     "p999", (json_int_t)rp_results_percentile(h, 99.9),
                     "max", (json_int_t)(empty ? 0 : rp_hist_max(h)),
                     "min", (json_int_t)(empty ? 0 : rp_hist_min(h)),
                     "mean", empty ? 0.0 : rp_hist_mean(h),
                     "count", (json_int_t)(empty ? 0 : rp_hist_count(h)));
}

static json_t *hist_json(writer *w, const rp_hist *h)
{
    if (h == NULL)
        return json_null();
    char *text;
    char err[128];
    if (rp_hdrhist_encode(h, RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS, &text, err, sizeof err) != 0) {
        w->failed = 1;
        return NULL;
    }
    json_t *s = json_string(text);
    free(text);
    return s;
}

/* The exact extremes, which the encoding keeps only to its precision. */
static json_t *bounds_json(const rp_hist *h)
{
    if (h == NULL || rp_hist_count(h) == 0)
        return json_null();
    return json_pack("{s:I, s:I}", "min", (json_int_t)rp_hist_min(h),
                     "max", (json_int_t)rp_hist_max(h));
}

static json_t *kinds_json(const uint64_t *kinds)
{
    json_t *o = json_object();
    for (int k = 0; k < RP_RES_KINDS && o != NULL; k++)
        json_object_set_new(o, rp_results_kind_name(k), uint_json(kinds[k]));
    return o;
}

static json_t *status_json(const uint64_t *status, const rp_status_set *only)
{
    json_t *o = json_object();
    for (int v = 0; status != NULL && o != NULL && v < RP_RESULTS_MAX_STATUS; v++) {
        if (status[v] == 0 || (only != NULL && !rp_status_set_has(only, v)))
            continue;
        char key[12];
        snprintf(key, sizeof key, "%d", v);
        json_object_set_new(o, key, uint_json(status[v]));
    }
    return o;
}

/* The counters and histograms of an endpoint or status class. */
static json_t *group_json(writer *w, const rp_results_group *g)
{
    json_t *o = json_object();
    if (o == NULL) {
        w->failed = 1;
        return NULL;
    }
    set(w, o, "requests", uint_json(g->requests));
    set(w, o, "responses", uint_json(g->responses));
    set(w, o, "failures", uint_json(g->failures));
    set(w, o, "error_rate", json_real(rp_results_error_rate(g)));
    set(w, o, "mismatches", uint_json(g->mismatches));
    set(w, o, "mismatch_failures", uint_json(g->mismatch_failures));
    set(w, o, "kinds", kinds_json(g->kinds));
    set(w, o, "status", status_json(g->status, NULL));
    set(w, o, "bytes_received", uint_json(g->bytes_received));
    set(w, o, "response_time_us", rp_results_percentiles_json(g->response_time));
    set(w, o, "service_time_us", rp_results_percentiles_json(g->service_time));
    set(w, o, "ttfb_us", rp_results_percentiles_json(g->ttfb));

    json_t *hists = json_object();
    set(w, o, "histograms", hists);
    if (hists != NULL) {
        set(w, hists, "response_time", hist_json(w, g->response_time));
        set(w, hists, "service_time", hist_json(w, g->service_time));
        set(w, hists, "ttfb", hist_json(w, g->ttfb));
    }
    return o;
}

static const char *mismatch_names[] = { "off", "count", "fail" };

static json_t *failures_json(writer *w, const rp_results *r)
{
    const rp_results_group *t = rp_results_total(r);
    const rp_results_config *cfg = rp_results_config_of(r);
    char fail_status[1024];
    rp_status_set_format(&cfg->fail_status, fail_status, sizeof fail_status);

    json_t *o = json_object();
    if (o == NULL) {
        w->failed = 1;
        return NULL;
    }
    set(w, o, "total", uint_json(t->failures));
    for (int k = RP_RES_CONNECT; k <= RP_RES_OTHER; k++)
        set(w, o, rp_results_kind_name(k), uint_json(t->kinds[k]));
    set(w, o, "status", status_json(t->status, &cfg->fail_status));
    set(w, o, "mismatch", uint_json(t->mismatch_failures));
    set(w, o, "rules", json_pack("{s:s, s:s}", "fail_status", fail_status,
                                 "mismatch", mismatch_names[cfg->mismatch]));
    return o;
}

static json_t *outcomes_json(writer *w, const rp_results_group *t)
{
    json_t *o = json_object();
    if (o == NULL) {
        w->failed = 1;
        return NULL;
    }
    set(w, o, "requests", uint_json(t->requests));
    set(w, o, "responses", uint_json(t->responses));
    set(w, o, "kinds", kinds_json(t->kinds));
    set(w, o, "mismatches", uint_json(t->mismatches));
    set(w, o, "bytes_received", uint_json(t->bytes_received));
    set(w, o, "status", status_json(t->status, NULL));
    return o;
}

static json_t *histograms_json(writer *w, const rp_results *r)
{
    const rp_results_group *t = rp_results_total(r);
    json_t *o = json_pack("{s:s, s:i, s:I, s:i, s:s}", "unit", "us",
                          "lowest_discernible", 1,
                          "highest_trackable", (json_int_t)RP_HIST_HOUR_US,
                          "significant_digits", RP_RESULTS_HIST_DIGITS,
                          "encoding", HIST_ENCODING);
    if (o == NULL) {
        w->failed = 1;
        return NULL;
    }
    set(w, o, "response_time", hist_json(w, t->response_time));
    set(w, o, "service_time", hist_json(w, t->service_time));
    set(w, o, "ttfb", hist_json(w, t->ttfb));
    set(w, o, "send_lag", hist_json(w, rp_results_send_lag(r)));

    json_t *bounds = json_object();
    set(w, o, "bounds_us", bounds);
    if (bounds != NULL) {
        set(w, bounds, "response_time", bounds_json(t->response_time));
        set(w, bounds, "service_time", bounds_json(t->service_time));
        set(w, bounds, "ttfb", bounds_json(t->ttfb));
        set(w, bounds, "send_lag", bounds_json(rp_results_send_lag(r)));
    }
    return o;
}

static json_t *row_json(writer *w, const rp_results_second *s, int64_t start)
{
    json_t *o = json_object();
    if (o == NULL) {
        w->failed = 1;
        return NULL;
    }
    set(w, o, "t", json_integer(s->epoch_s - start));
    set(w, o, "time", json_integer(s->epoch_s));
    set(w, o, "due", uint_json(s->due));
    set(w, o, "sent", uint_json(s->sent));
    set(w, o, "completed", uint_json(s->completed));
    set(w, o, "responses", uint_json(s->responses));
    set(w, o, "failures", uint_json(s->failures));
    set(w, o, "mismatches", uint_json(s->mismatches));
    set(w, o, "in_flight", uint_json(s->in_flight));
    set(w, o, "started", uint_json(s->started));
    set(w, o, "finished", uint_json(s->finished));
    set(w, o, "kinds", kinds_json(s->kinds));
    set(w, o, "bytes_received", uint_json(s->bytes_received));
    set(w, o, "send_lag_us", json_pack("{s:I, s:I, s:f, s:I}",
        "count", (json_int_t)s->lag_count, "sum", (json_int_t)s->lag_sum_us,
        "mean", s->lag_count ? (double)s->lag_sum_us / (double)s->lag_count : 0.0,
        "max", (json_int_t)s->lag_max_us));
    set(w, o, "response_time_us", json_pack("{s:I, s:I, s:I, s:I, s:I}",
        "count", (json_int_t)s->rt_count, "p50", (json_int_t)s->rt_p50_us,
        "p95", (json_int_t)s->rt_p95_us, "p99", (json_int_t)s->rt_p99_us,
        "max", (json_int_t)s->rt_max_us));
    set(w, o, "histogram", s->rt_hist ? json_string(s->rt_hist) : json_null());
    return o;
}

static json_t *series_json(writer *w, const rp_results *r)
{
    size_t n = rp_results_second_count(r);
    int64_t start = n ? rp_results_second_at(r, 0)->epoch_s : 0;
    int64_t first, last;
    rp_results_span(r, &first, &last);

    json_t *rows = json_array();
    if (rows == NULL)
        w->failed = 1;
    for (size_t i = 0; i < n && rows != NULL; i++)
        if (json_array_append_new(rows, row_json(w, rp_results_second_at(r, i), start)) != 0)
            w->failed = 1;
    json_t *o = json_pack("{s:i, s:I, s:I, s:I, s:f, s:o*}", "interval_s", 1,
                          "start", (json_int_t)start,
                          "first_due_ns", (json_int_t)first, "last_done_ns", (json_int_t)last,
                          "duration_s", rp_results_duration_s(r), "rows", rows);
    if (o == NULL)
        w->failed = 1;
    return o;
}

int rp_results_to_json(rp_results *r, json_t *report, char *err, size_t errlen)
{
    writer w = { 0 };
    if (rp_results_finish(r) != 0)
        w.failed = 1;
    const rp_results_group *t = rp_results_total(r);

    set(&w, report, "error_rate", json_real(rp_results_error_rate(t)));
    set(&w, report, "failures", failures_json(&w, r));
    set(&w, report, "outcomes", outcomes_json(&w, t));
    set(&w, report, "histograms", histograms_json(&w, r));

    json_t *endpoints = json_array();
    for (size_t i = 0; endpoints != NULL && i < rp_results_endpoint_count(r); i++) {
        const rp_results_group *g = rp_results_endpoint(r, i);
        json_t *e = group_json(&w, g);
        if (e != NULL) {
            json_object_set_new(e, "method", json_string(g->method));
            json_object_set_new(e, "endpoint", json_string(g->name));
        }
        if (json_array_append_new(endpoints, e) != 0)
            w.failed = 1;
    }
    set(&w, report, "endpoints", endpoints);

    json_t *classes = json_object();
    for (int c = 0; classes != NULL && c < RP_RESULTS_CLASSES; c++) {
        const rp_results_group *g = rp_results_status_class(r, c);
        if (g->responses > 0)
            set(&w, classes, g->name, group_json(&w, g));
    }
    set(&w, report, "status_classes", classes);
    set(&w, report, "series", series_json(&w, r));

    if (w.failed) {
        snprintf(err, errlen, "out of memory adding the results to the report");
        return -1;
    }
    return 0;
}

/* ---- reading ---- */

typedef struct reader {
    const char *name;
    char *err;
    size_t errlen;
    int failed;
} reader;

static int fail(reader *rd, const char *path, const char *problem)
{
    if (!rd->failed)
        snprintf(rd->err, rd->errlen, "%s: %s %s", rd->name, path, problem);
    rd->failed = 1;
    return -1;
}

static const json_t *get(reader *rd, const json_t *obj, const char *key, json_type type,
                         const char *path)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", path, key);
        fail(rd, full, "is missing");
        return NULL;
    }
    int ok = json_typeof(v) == type || (type == JSON_REAL && json_is_integer(v));
    if (!ok) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", path, key);
        fail(rd, full, type == JSON_OBJECT ? "is not an object" : type == JSON_ARRAY ?
             "is not an array" : type == JSON_STRING ? "is not a string" : "is not a number");
        return NULL;
    }
    return v;
}

static uint64_t get_u64(reader *rd, const json_t *obj, const char *key, const char *path)
{
    const json_t *v = get(rd, obj, key, JSON_INTEGER, path);
    if (v == NULL)
        return 0;
    if (json_integer_value(v) < 0) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", path, key);
        fail(rd, full, "is negative");
        return 0;
    }
    return (uint64_t)json_integer_value(v);
}

static void read_kinds(reader *rd, const json_t *obj, uint64_t *kinds, const char *path)
{
    const json_t *o = get(rd, obj, "kinds", JSON_OBJECT, path);
    char sub[256];
    snprintf(sub, sizeof sub, "%skinds.", path);
    for (int k = 0; o != NULL && k < RP_RES_KINDS; k++)
        kinds[k] = get_u64(rd, o, rp_results_kind_name(k), sub);
}

static void read_status(reader *rd, const json_t *obj, rp_results_group *g, const char *path)
{
    const json_t *o = get(rd, obj, "status", JSON_OBJECT, path);
    if (o == NULL || json_object_size(o) == 0)
        return;
    if (rp_results_group_alloc_status(g) != 0) {
        fail(rd, path, "could not be read: out of memory");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        char *end;
        long code = strtol(key, &end, 10);
        if (*end != '\0' || code < 0 || code >= RP_RESULTS_MAX_STATUS || !json_is_integer(v) ||
            json_integer_value(v) < 0) {
            char full[256];
            snprintf(full, sizeof full, "%sstatus.%s", path, key);
            fail(rd, full, "is not a status from 0 to 999 with a count");
            return;
        }
        g->status[code] = (uint64_t)json_integer_value(v);
    }
}

/* Reads {"min": N, "max": N} into min and max; returns 1 when present. */
static int read_bounds(const json_t *obj, uint64_t *min, uint64_t *max)
{
    const json_t *lo = json_object_get(obj, "min"), *hi = json_object_get(obj, "max");
    if (!json_is_integer(lo) || !json_is_integer(hi) || json_integer_value(lo) < 0 ||
        json_integer_value(hi) < json_integer_value(lo))
        return 0;
    *min = (uint64_t)json_integer_value(lo);
    *max = (uint64_t)json_integer_value(hi);
    return 1;
}

/* Decodes the histogram hists[key] (a string or null) into *h, allocating
 * it. bounds, when it has min and max, restores the exact extremes. */
static void read_hist(reader *rd, const json_t *hists, const char *key, const json_t *bounds,
                      rp_hist **h, const char *path)
{
    const json_t *v = json_object_get(hists, key);
    char full[256];
    snprintf(full, sizeof full, "%s%s", path, key);
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_string(v)) {
        fail(rd, full, "is not a string");
        return;
    }
    if (*h == NULL)
        *h = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    if (*h == NULL) {
        fail(rd, full, "could not be read: out of memory");
        return;
    }
    uint64_t min, max;
    int exact = bounds != NULL && read_bounds(bounds, &min, &max);
    char err[256];
    if (rp_hdrhist_decode_add_exact(json_string_value(v), *h, exact ? &min : NULL,
                                    exact ? &max : NULL, err, sizeof err) != 0) {
        char problem[300];
        snprintf(problem, sizeof problem, "is invalid: %s", err);
        fail(rd, full, problem);
    }
}

/* Reads a group's three histograms. Their exact min and max come from
 * bounds[key] when bounds is given, else from the group's *_us objects. */
static void read_group_hists(reader *rd, const json_t *hists, const json_t *group,
                             const json_t *bounds, rp_results_group *g, const char *path)
{
    static const char *keys[] = { "response_time", "service_time", "ttfb" };
    static const char *summary_keys[] = { "response_time_us", "service_time_us", "ttfb_us" };
    rp_hist **targets[] = { &g->response_time, &g->service_time, &g->ttfb };
    for (int i = 0; i < 3; i++) {
        const json_t *b = bounds ? json_object_get(bounds, keys[i])
                          : group ? json_object_get(group, summary_keys[i]) : NULL;
        read_hist(rd, hists, keys[i], b, targets[i], path);
    }
    if (g->response_time != NULL && rp_results_group_alloc_hists(g) != 0)
        fail(rd, path, "could not be read: out of memory");
}

static void read_group(reader *rd, const json_t *obj, rp_results_group *g, const char *path)
{
    g->requests = get_u64(rd, obj, "requests", path);
    g->responses = get_u64(rd, obj, "responses", path);
    g->failures = get_u64(rd, obj, "failures", path);
    g->mismatches = get_u64(rd, obj, "mismatches", path);
    g->mismatch_failures = get_u64(rd, obj, "mismatch_failures", path);
    g->bytes_received = get_u64(rd, obj, "bytes_received", path);
    read_kinds(rd, obj, g->kinds, path);
    read_status(rd, obj, g, path);
    const json_t *hists = get(rd, obj, "histograms", JSON_OBJECT, path);
    char sub[256];
    snprintf(sub, sizeof sub, "%shistograms.", path);
    if (hists != NULL)
        read_group_hists(rd, hists, obj, NULL, g, sub);
}

/* Reads the failure rules into cfg. */
static void read_rules(reader *rd, const json_t *report, rp_results_config *cfg)
{
    const json_t *failures = get(rd, report, "failures", JSON_OBJECT, "");
    const json_t *rules = failures ? get(rd, failures, "rules", JSON_OBJECT, "failures.") : NULL;
    if (rules == NULL)
        return;
    const json_t *fs = get(rd, rules, "fail_status", JSON_STRING, "failures.rules.");
    const json_t *mm = get(rd, rules, "mismatch", JSON_STRING, "failures.rules.");
    if (fs == NULL || mm == NULL)
        return;

    memset(&cfg->fail_status, 0, sizeof cfg->fail_status);
    char err[384];
    if (json_string_length(fs) > 0 &&
        rp_status_set_parse(&cfg->fail_status, json_string_value(fs), err, sizeof err) != 0)
        fail(rd, "failures.rules.fail_status", "is not a status list");
    cfg->mismatch = -1;
    for (int m = 0; m < 3; m++)
        if (strcmp(json_string_value(mm), mismatch_names[m]) == 0)
            cfg->mismatch = m;
    if (cfg->mismatch < 0)
        fail(rd, "failures.rules.mismatch", "is not one of off, count, fail");
}

static void check_layout(reader *rd, const json_t *hists)
{
    const json_t *unit = get(rd, hists, "unit", JSON_STRING, "histograms.");
    uint64_t lowest = get_u64(rd, hists, "lowest_discernible", "histograms.");
    uint64_t highest = get_u64(rd, hists, "highest_trackable", "histograms.");
    uint64_t digits = get_u64(rd, hists, "significant_digits", "histograms.");
    if (rd->failed)
        return;
    if (strcmp(json_string_value(unit), "us") != 0 || lowest != 1 || highest != RP_HIST_HOUR_US ||
        digits != RP_RESULTS_HIST_DIGITS)
        fail(rd, "histograms", "use a layout other than microseconds, 1 to 3600000000, "
             "3 significant digits, which this reprise reads");
}

static void read_total(reader *rd, const json_t *report, rp_results *r)
{
    rp_results_group *t = rp_results_total_mut(r);
    const json_t *outcomes = get(rd, report, "outcomes", JSON_OBJECT, "");
    const json_t *failures = get(rd, report, "failures", JSON_OBJECT, "");
    const json_t *hists = get(rd, report, "histograms", JSON_OBJECT, "");
    if (outcomes == NULL || failures == NULL || hists == NULL)
        return;
    check_layout(rd, hists);
    t->requests = get_u64(rd, outcomes, "requests", "outcomes.");
    t->responses = get_u64(rd, outcomes, "responses", "outcomes.");
    t->mismatches = get_u64(rd, outcomes, "mismatches", "outcomes.");
    t->bytes_received = get_u64(rd, outcomes, "bytes_received", "outcomes.");
    read_kinds(rd, outcomes, t->kinds, "outcomes.");
    read_status(rd, outcomes, t, "outcomes.");
    t->failures = get_u64(rd, failures, "total", "failures.");
    t->mismatch_failures = get_u64(rd, failures, "mismatch", "failures.");
    /* Without bounds_us the extremes are those of the slots. */
    const json_t *bounds = json_object_get(hists, "bounds_us");
    read_group_hists(rd, hists, NULL, bounds, t, "histograms.");
    rp_hist *lag = rp_results_send_lag_mut(r);
    read_hist(rd, hists, "send_lag", json_object_get(bounds, "send_lag"), &lag, "histograms.");
}

static void read_endpoints(reader *rd, const json_t *report, rp_results *r)
{
    const json_t *arr = get(rd, report, "endpoints", JSON_ARRAY, "");
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        char path[64];
        snprintf(path, sizeof path, "endpoints[%zu].", i);
        if (!json_is_object(e)) {
            fail(rd, path, "is not an object");
            return;
        }
        const json_t *method = get(rd, e, "method", JSON_STRING, path);
        const json_t *name = get(rd, e, "endpoint", JSON_STRING, path);
        if (method == NULL || name == NULL)
            return;
        rp_results_group *g = rp_results_endpoint_mut(r, json_string_value(method),
                                                      json_string_value(name));
        if (g == NULL || g->requests != 0) {
            fail(rd, path, g ? "repeats an endpoint" : "could not be read: out of memory");
            return;
        }
        read_group(rd, e, g, path);
    }
}

static void read_classes(reader *rd, const json_t *report, rp_results *r)
{
    const json_t *obj = get(rd, report, "status_classes", JSON_OBJECT, "");
    for (int c = 0; obj != NULL && c < RP_RESULTS_CLASSES; c++) {
        rp_results_group *g = rp_results_class_mut(r, c);
        const json_t *e = json_object_get(obj, g->name);
        char path[64];
        snprintf(path, sizeof path, "status_classes.%s.", g->name);
        if (e != NULL && json_is_object(e))
            read_group(rd, e, g, path);
        else if (e != NULL)
            fail(rd, path, "is not an object");
    }
}

static void read_row(reader *rd, const json_t *row, rp_results *r, const char *path)
{
    int64_t epoch = (int64_t)get_u64(rd, row, "time", path);
    if (rd->failed)
        return;
    rp_results_second *s = rp_results_second_mut(r, epoch);
    if (s == NULL) {
        fail(rd, path, "could not be read: out of memory");
        return;
    }
    s->due = get_u64(rd, row, "due", path);
    s->sent = get_u64(rd, row, "sent", path);
    s->completed = get_u64(rd, row, "completed", path);
    s->responses = get_u64(rd, row, "responses", path);
    s->failures = get_u64(rd, row, "failures", path);
    s->mismatches = get_u64(rd, row, "mismatches", path);
    s->started = get_u64(rd, row, "started", path);
    s->finished = get_u64(rd, row, "finished", path);
    s->bytes_received = get_u64(rd, row, "bytes_received", path);
    read_kinds(rd, row, s->kinds, path);

    char sub[96];
    const json_t *lag = get(rd, row, "send_lag_us", JSON_OBJECT, path);
    snprintf(sub, sizeof sub, "%ssend_lag_us.", path);
    if (lag != NULL) {
        s->lag_count = get_u64(rd, lag, "count", sub);
        s->lag_sum_us = get_u64(rd, lag, "sum", sub);
        s->lag_max_us = get_u64(rd, lag, "max", sub);
    }
    const json_t *rt = get(rd, row, "response_time_us", JSON_OBJECT, path);
    snprintf(sub, sizeof sub, "%sresponse_time_us.", path);
    if (rt != NULL) {
        s->rt_count = get_u64(rd, rt, "count", sub);
        s->rt_p50_us = get_u64(rd, rt, "p50", sub);
        s->rt_p95_us = get_u64(rd, rt, "p95", sub);
        s->rt_p99_us = get_u64(rd, rt, "p99", sub);
        s->rt_max_us = get_u64(rd, rt, "max", sub);
    }
    const json_t *h = json_object_get(row, "histogram");
    if (h != NULL && json_is_string(h)) {
        char err[256];
        uint64_t highest;
        int digits;
        if (rp_hdrhist_peek(json_string_value(h), &highest, &digits, err, sizeof err) != 0) {
            char problem[300];
            snprintf(problem, sizeof problem, "has an invalid histogram: %s", err);
            fail(rd, path, problem);
            return;
        }
        s->rt_hist = strdup(json_string_value(h));
        if (s->rt_hist == NULL)
            fail(rd, path, "could not be read: out of memory");
    }
}

static void read_series(reader *rd, const json_t *report, rp_results *r)
{
    const json_t *series = get(rd, report, "series", JSON_OBJECT, "");
    const json_t *rows = series ? get(rd, series, "rows", JSON_ARRAY, "series.") : NULL;
    if (rows == NULL)
        return;
    const json_t *first = get(rd, series, "first_due_ns", JSON_INTEGER, "series.");
    const json_t *last = get(rd, series, "last_done_ns", JSON_INTEGER, "series.");
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        char path[64];
        snprintf(path, sizeof path, "series.rows[%zu].", i);
        if (!json_is_object(row)) {
            fail(rd, path, "is not an object");
            return;
        }
        read_row(rd, row, r, path);
        if (rd->failed)
            return;
    }
    if (first != NULL && last != NULL && rp_results_total(r)->requests > 0)
        rp_results_widen_span(r, json_integer_value(first), json_integer_value(last));
}

int rp_results_from_json(const json_t *report, const char *name, rp_results **out,
                         char *err, size_t errlen)
{
    reader rd = { .name = name, .err = err, .errlen = errlen };
    if (!json_is_object(report))
        return fail(&rd, "the report", "is not a JSON object");
    if (json_object_get(report, "histograms") == NULL) {
        snprintf(err, errlen, "%s has no 'histograms' key: it was written by a reprise that "
                 "did not record histograms; replay again with this version", name);
        return -1;
    }

    rp_results_config cfg;
    rp_results_config_init(&cfg);
    read_rules(&rd, report, &cfg);
    const json_t *endpoints = json_object_get(report, "endpoints");
    if (json_is_array(endpoints) && json_array_size(endpoints) > cfg.max_endpoints)
        cfg.max_endpoints = (uint32_t)json_array_size(endpoints);
    if (rd.failed)
        return -1;

    rp_results *r = rp_results_new(&cfg);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory reading %s", name);
        return -1;
    }
    read_total(&rd, report, r);
    if (!rd.failed)
        read_endpoints(&rd, report, r);
    if (!rd.failed)
        read_classes(&rd, report, r);
    if (!rd.failed)
        read_series(&rd, report, r);
    if (rd.failed || rp_results_finish(r) != 0) {
        if (!rd.failed)
            snprintf(err, errlen, "out of memory reading %s", name);
        rp_results_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int rp_results_load_report(const char *path, json_t **out, char *err, size_t errlen)
{
    json_error_t jerr;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    json_t *report = json_loadf(f, 0, &jerr);
    fclose(f);
    if (report == NULL) {
        if (jerr.line <= 0)
            snprintf(err, errlen, "cannot read %s: %s", path, jerr.text);
        else
            snprintf(err, errlen, "%s is not valid JSON: line %d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_object(report) ||
        !json_is_string(json_object_get(report, "format")) ||
        strcmp(json_string_value(json_object_get(report, "format")), "reprise-run-report") != 0) {
        snprintf(err, errlen, "%s is not a reprise run report (no \"format\": "
                 "\"reprise-run-report\")", path);
        json_decref(report);
        return -2;
    }
    *out = report;
    return 0;
}

int rp_results_save_report(const char *path, const json_t *report, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = json_dumpf(report, f, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
