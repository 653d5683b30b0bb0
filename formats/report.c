#include "formats/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "replay/sched.h"

/* Percentiles of h, in its unit (microseconds). */
static json_t *percentiles(const rp_hist *h)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I}",
                     "p50", (json_int_t)rp_hist_percentile(h, 50),
                     "p90", (json_int_t)rp_hist_percentile(h, 90),
                     "p95", (json_int_t)rp_hist_percentile(h, 95),
                     "p99", (json_int_t)rp_hist_percentile(h, 99),
                     "p999", (json_int_t)rp_hist_percentile(h, 99.9),
                     "max", (json_int_t)rp_hist_max(h),
                     "min", (json_int_t)rp_hist_min(h),
                     "mean", rp_hist_mean(h),
                     "count", (json_int_t)rp_hist_count(h));
}

static json_t *errors_object(const rp_stats *s)
{
    json_t *o = json_object();
    for (int k = RP_ERR_CONNECT; k < RP_ERR_KINDS; k++)
        json_object_set_new(o, rp_stats_error_name(k), json_integer((json_int_t)s->errors[k]));
    json_object_set_new(o, "total", json_integer((json_int_t)rp_stats_errors_total(s)));
    return o;
}

static json_t *status_object(const rp_stats *s)
{
    json_t *o = json_object();
    for (int code = 0; code < RP_STATS_MAX_STATUS; code++) {
        if (s->status[code] == 0)
            continue;
        char key[8];
        snprintf(key, sizeof key, "%d", code);
        json_object_set_new(o, key, json_integer((json_int_t)s->status[code]));
    }
    return o;
}

static json_t *iso_time(uint64_t epoch_ns)
{
    time_t secs = (time_t)(epoch_ns / 1000000000ull);
    struct tm tm;
    char buf[40];
    if (gmtime_r(&secs, &tm) == NULL)
        return json_null();
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03uZ",
             (unsigned)(epoch_ns % 1000000000ull / 1000000));
    return json_string(buf);
}

static json_t *setup_object(const rp_report_meta *m)
{
    json_t *max_gap = m->max_gap_ns == RP_SCHED_NO_MAX_GAP
        ? json_null() : json_real((double)m->max_gap_ns / 1e9);
    return json_pack("{s:s, s:s, s:s, s:f, s:o, s:b, s:f, s:f, s:I}",
                     "trace", m->trace_path ? m->trace_path : "",
                     "target", m->target_url ? m->target_url : "",
                     "target_address", m->target_address ? m->target_address : "",
                     "speed", m->speed,
                     "max_gap_s", max_gap,
                     "keep_host", m->keep_host,
                     "timeout_s", (double)m->timeout_ns / 1e9,
                     "connect_timeout_s", (double)m->connect_timeout_ns / 1e9,
                     "max_connections", (json_int_t)m->max_connections);
}

json_t *rp_report_build(const rp_stats *s, const rp_report_meta *m)
{
    double secs = (double)m->duration_ns / 1e9;
    json_t *r = json_object();
    if (r == NULL)
        return NULL;

    json_object_set_new(r, "format", json_string("reprise-run-report"));
    json_object_set_new(r, "format_version", json_integer(RP_REPORT_FORMAT_VERSION));
    json_object_set_new(r, "requests_due", json_integer((json_int_t)s->due));
    json_object_set_new(r, "requests_sent", json_integer((json_int_t)s->sent));
    json_object_set_new(r, "responses", json_integer((json_int_t)s->responses));
    json_object_set_new(r, "skipped", json_pack("{s:I, s:I}",
                        "connect", (json_int_t)s->skipped_connect,
                        "total", (json_int_t)rp_stats_skipped_total(s)));
    json_object_set_new(r, "cancelled", json_integer((json_int_t)s->cancelled));
    json_object_set_new(r, "submit_failed", json_integer((json_int_t)s->submit_failed));
    json_object_set_new(r, "errors", errors_object(s));
    json_object_set_new(r, "status", status_object(s));
    json_object_set_new(r, "latency_us", percentiles(s->latency));
    json_object_set_new(r, "service_time_us", percentiles(s->service));
    json_object_set_new(r, "send_lag_us", percentiles(s->send_lag));
    json_object_set_new(r, "ttfb_us", percentiles(s->ttfb));
    json_object_set_new(r, "duration_s", json_real(secs));
    json_object_set_new(r, "send_rate_per_s", json_real(secs > 0 ? (double)s->sent / secs : 0));
    json_object_set_new(r, "response_rate_per_s",
                        json_real(secs > 0 ? (double)s->responses / secs : 0));
    json_object_set_new(r, "bytes_received", json_integer((json_int_t)s->bytes_received));
    json_object_set_new(r, "max_in_flight", json_integer((json_int_t)m->max_in_flight));
    json_object_set_new(r, "interrupted", json_boolean(m->interrupted));
    json_object_set_new(r, "gaps_shortened", json_integer((json_int_t)m->gaps_shortened));
    json_object_set_new(r, "trace_damaged_blocks", json_integer((json_int_t)m->trace_bad_blocks));
    json_object_set_new(r, "start_time", iso_time(m->start_wall_ns));
    json_object_set_new(r, "setup", setup_object(m));
    json_object_set_new(r, "transport", json_string(m->transport ? m->transport : ""));
    json_object_set_new(r, "transport_version",
                        json_string(m->transport_version ? m->transport_version : ""));
    if (m->libcurl_version != NULL)
        json_object_set_new(r, "libcurl_version", json_string(m->libcurl_version));
    json_object_set_new(r, "reprise_version",
                        json_string(m->reprise_version ? m->reprise_version : ""));
    return r;
}

int rp_report_write(const char *path, const rp_stats *s, const rp_report_meta *m,
                    char *err, size_t errlen)
{
    json_t *r = rp_report_build(s, m);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory building the report for %s", path);
        return -1;
    }

    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write report %s: %s", path, strerror(errno));
        json_decref(r);
        return -1;
    }
    int rc = json_dumpf(r, f, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    json_decref(r);
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "cannot write report %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
