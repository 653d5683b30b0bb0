/* The capacity report as JSON: written by `reprise ramp --report`, read
 * back by `reprise report` to render Markdown or HTML later. */
#include "formats/capacity.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const signal_names[] = { "none", "latency", "errors", "generator" };
static const char *const unit_names[] = { "speed", "requests/s", "users" };
static const char *const stop_names[] = { "", "steps", "recovery", "soak" };

void rp_capacity_init(rp_capacity *c)
{
    memset(c, 0, sizeof *c);
    c->knee = -1;
    c->stable = -1;
}

void rp_capacity_free(rp_capacity *c)
{
    free(c->trace);
    free(c->target);
    free(c->recovery.series.p95_ms);
    free(c->soak.series.p95_ms);
    rp_capacity_init(c);
}

const char *rp_capacity_signal_name(int signal)
{
    return signal >= 0 && signal <= RP_CAPACITY_GENERATOR ? signal_names[signal] : "none";
}

const char *rp_capacity_unit_name(int unit)
{
    return unit >= 0 && unit <= RP_CAPACITY_USERS ? unit_names[unit] : "speed";
}

const char *rp_capacity_stop_name(int stopped)
{
    return stopped >= 0 && stopped <= RP_CAPACITY_STOPPED_SOAK ? stop_names[stopped] : "";
}

const char *rp_capacity_limited_by(const rp_capacity *c)
{
    if (c->knee < 0)
        return c->stopped == RP_CAPACITY_STOPPED_STEPS ? "interrupted" : "max_step";
    return c->steps[c->knee].signal == RP_CAPACITY_GENERATOR ? "generator" : "target";
}

void rp_capacity_format_pace(int unit, double pace, char *buf, size_t len)
{
    if (unit == RP_CAPACITY_RATE)
        snprintf(buf, len, "%g/s", pace);
    else if (unit == RP_CAPACITY_USERS)
        snprintf(buf, len, "%.0f users", pace);
    else
        snprintf(buf, len, "%gx", pace);
}

/* ---- writing ---- */

/* A number, or null for a negative "no value" marker. */
static json_t *real_or_null(double v)
{
    return v >= 0 && isfinite(v) ? json_real(v) : json_null();
}

static json_t *series_json(const rp_capacity_series *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->count; i++)
        json_array_append_new(a, real_or_null(s->p95_ms[i]));
    return a;
}

static json_t *step_json(const rp_capacity *c, size_t i)
{
    const rp_capacity_step *s = &c->steps[i];
    return json_pack("{s:I, s:f, s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f, s:I, s:b,"
                     " s:I, s:s}",
                     "step", (json_int_t)(i + 1), "pace", s->pace,
                     "pace_unit", rp_capacity_unit_name(c->unit),
                     "asked_rate", s->asked_rate, "achieved_rate", s->achieved_rate,
                     "p50_ms", s->p50_ms, "p95_ms", s->p95_ms, "p99_ms", s->p99_ms,
                     "requests", (json_int_t)s->requests,
                     "responses", (json_int_t)s->responses,
                     "failures", (json_int_t)s->failures, "error_rate", s->error_rate,
                     "connections", (json_int_t)s->connections,
                     "generator_saturated", s->saturated,
                     "dispatch_lag_p99_us", (json_int_t)s->dispatch_lag_p99_us,
                     "signal", rp_capacity_signal_name(s->signal));
}

static json_t *capacity_json(const rp_capacity *c)
{
    const rp_capacity_step *st = c->stable >= 0 ? &c->steps[c->stable] : NULL;
    json_t *knee = c->knee >= 0
        ? json_pack("{s:I, s:f, s:s}", "step", (json_int_t)(c->knee + 1),
                    "pace", c->steps[c->knee].pace,
                    "signal", rp_capacity_signal_name(c->steps[c->knee].signal))
        : json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:s}",
        "stable_rate", st != NULL ? json_real(st->achieved_rate) : json_null(),
        "stable_pace", st != NULL ? json_real(st->pace) : json_null(),
        "connections", st != NULL ? json_integer((json_int_t)st->connections) : json_null(),
        "knee", knee, "limited_by", rp_capacity_limited_by(c));
}

static json_t *recovery_json(const rp_capacity_recovery *r)
{
    if (!r->ran)
        return json_pack("{s:b}", "ran", 0);
    return json_pack("{s:b, s:f, s:f, s:f, s:o, s:f, s:b, s:o}", "ran", 1, "pace", r->pace,
                     "drain_s", r->drain_s, "overload_s", r->overload_s,
                     "recovered_after_s", r->recovered ? json_real(r->recovered_after_s)
                                                       : json_null(),
                     "threshold_p95_ms", r->threshold_p95_ms, "leak_suspected", !r->recovered,
                     "p95_ms_per_second", series_json(&r->series));
}

static json_t *soak_json(const rp_capacity_soak *s)
{
    if (!s->ran)
        return json_pack("{s:b}", "ran", 0);
    return json_pack("{s:b, s:f, s:f, s:f, s:f, s:o, s:o, s:b, s:o}", "ran", 1,
                     "pace", s->pace, "duration_s", s->duration_s,
                     "achieved_rate", s->achieved_rate, "error_rate", s->error_rate,
                     "first_p95_ms", real_or_null(s->first_p95_ms),
                     "last_p95_ms", real_or_null(s->last_p95_ms),
                     "degrading", s->degrading,
                     "p95_ms_per_second", series_json(&s->series));
}

int rp_capacity_write_json(const rp_capacity *c, const char *path, char *err, size_t errlen)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < c->step_count; i++)
        json_array_append_new(steps, step_json(c, i));
    json_t *stopped = c->stopped != RP_CAPACITY_RAN ? json_string(rp_capacity_stop_name(c->stopped))
                                                    : json_null();
    json_t *root = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:o, s:o, s:o, s:o, s:o}",
        "trace", c->trace != NULL ? c->trace : "", "target", c->target != NULL ? c->target : "",
        "pace_unit", rp_capacity_unit_name(c->unit), "hold_s", c->hold_s,
        "warmup", c->warmup, "knee_factor", c->knee_factor,
        "max_error_rate", c->max_error_rate, "interrupted_in", stopped,
        "capacity", capacity_json(c), "steps", steps,
        "recovery", recovery_json(&c->recovery), "soak", soak_json(&c->soak));
    /* Ten digits keep every figure and print 0.2 as 0.2, not 0.20000000000000001. */
    int rc = -1;
    FILE *f = root != NULL ? fopen(path, "w") : NULL;
    if (f != NULL) {
        rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', f);
        if (fclose(f) != 0)
            rc = -1;
    }
    json_decref(root);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s; check that its directory exists and is "
                 "writable", path, root != NULL ? strerror(errno) : "out of memory");
        return -1;
    }
    return 0;
}

/* ---- reading ---- */

static double num(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static double num_or(const json_t *o, const char *key, double fallback)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : fallback;
}

static uint64_t count(const json_t *o, const char *key)
{
    double d = num(o, key);
    return d > 0 ? (uint64_t)d : 0;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s != NULL && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return 0;
}

static void read_step(const json_t *o, rp_capacity_step *s)
{
    s->pace = num(o, "pace");
    s->asked_rate = num(o, "asked_rate");
    s->achieved_rate = num(o, "achieved_rate");
    s->p50_ms = num(o, "p50_ms");
    s->p95_ms = num(o, "p95_ms");
    s->p99_ms = num(o, "p99_ms");
    s->requests = count(o, "requests");
    s->responses = count(o, "responses");
    s->failures = count(o, "failures");
    s->error_rate = num(o, "error_rate");
    s->connections = count(o, "connections");
    s->saturated = json_is_true(json_object_get(o, "generator_saturated"));
    s->dispatch_lag_p99_us = count(o, "dispatch_lag_p99_us");
    s->signal = name_index(signal_names, 4, json_string_value(json_object_get(o, "signal")));
}

static int read_series(const json_t *o, rp_capacity_series *s)
{
    const json_t *a = json_object_get(o, "p95_ms_per_second");
    size_t n = json_array_size(a);
    if (n == 0)
        return 0;
    s->p95_ms = malloc(n * sizeof *s->p95_ms);
    if (s->p95_ms == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        s->p95_ms[i] = json_is_number(v) ? json_number_value(v) : -1;
    }
    s->count = n;
    return 0;
}

static int read_tail(const json_t *root, rp_capacity *c)
{
    const json_t *rec = json_object_get(root, "recovery");
    rp_capacity_recovery *r = &c->recovery;
    r->ran = json_is_true(json_object_get(rec, "ran"));
    r->pace = num(rec, "pace");
    r->drain_s = num(rec, "drain_s");
    r->overload_s = num(rec, "overload_s");
    r->recovered = json_is_number(json_object_get(rec, "recovered_after_s"));
    r->recovered_after_s = num(rec, "recovered_after_s");
    r->threshold_p95_ms = num(rec, "threshold_p95_ms");

    const json_t *soak = json_object_get(root, "soak");
    rp_capacity_soak *s = &c->soak;
    s->ran = json_is_true(json_object_get(soak, "ran"));
    s->pace = num(soak, "pace");
    s->duration_s = num(soak, "duration_s");
    s->achieved_rate = num(soak, "achieved_rate");
    s->error_rate = num(soak, "error_rate");
    s->first_p95_ms = num_or(soak, "first_p95_ms", -1);
    s->last_p95_ms = num_or(soak, "last_p95_ms", -1);
    s->degrading = json_is_true(json_object_get(soak, "degrading"));
    return read_series(rec, &r->series) != 0 || read_series(soak, &s->series) != 0 ? -1 : 0;
}

/* The knee and stable step from the capacity object: the knee by its step
 * number, the stable step as the one before it (or the last). */
static void read_capacity(const json_t *root, rp_capacity *c)
{
    const json_t *knee = json_object_get(json_object_get(root, "capacity"), "knee");
    double k = num(knee, "step");
    c->knee = json_is_object(knee) && k >= 1 && k <= (double)c->step_count ? (long)k - 1 : -1;
    c->stable = c->knee >= 0 ? c->knee - 1 : (long)c->step_count - 1;
}

int rp_capacity_read_json(rp_capacity *c, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    rp_capacity_init(c);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (root == NULL) {
        snprintf(err, errlen, "%s is not valid JSON: line %d: %s; expected a report from "
                 "reprise ramp --report", path, jerr.line, jerr.text);
        return -1;
    }
    const json_t *steps = json_object_get(root, "steps");
    if (!json_is_array(steps) || !json_is_object(json_object_get(root, "capacity"))) {
        json_decref(root);
        snprintf(err, errlen, "%s is not a capacity report: it has no \"capacity\" and "
                 "\"steps\"; expected a report from reprise ramp --report", path);
        return -1;
    }
    c->trace = strdup(str(root, "trace"));
    c->target = strdup(str(root, "target"));
    c->unit = name_index(unit_names, 3,
                         json_string_value(json_object_get(root, "pace_unit")));
    c->hold_s = num(root, "hold_s");
    c->warmup = num(root, "warmup");
    c->knee_factor = num(root, "knee_factor");
    c->max_error_rate = num(root, "max_error_rate");
    c->stopped = name_index(stop_names, 4, str(root, "interrupted_in"));
    for (size_t i = 0; i < json_array_size(steps) && i < RP_CAPACITY_MAX_STEPS; i++)
        read_step(json_array_get(steps, i), &c->steps[c->step_count++]);
    read_capacity(root, c);
    int rc = read_tail(root, c);
    json_decref(root);
    if (rc != 0 || c->trace == NULL || c->target == NULL) {
        rp_capacity_free(c);
        snprintf(err, errlen, "out of memory reading %s", path);
        return -1;
    }
    return 0;
}

int rp_capacity_is_report(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    int yes = root != NULL && json_is_object(json_object_get(root, "capacity")) &&
              json_is_array(json_object_get(root, "steps"));
    json_decref(root);
    return yes;
}
