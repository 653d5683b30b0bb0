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

static json_t *string_array(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *seconds_or_null(uint64_t ns, int is_null)
{
    return is_null ? json_null() : json_real((double)ns / 1e9);
}

static json_t *setup_object(const rp_report_meta *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "trace", json_string(m->trace_path ? m->trace_path : ""));
    json_object_set_new(o, "target", json_string(m->target_url ? m->target_url : ""));
    json_object_set_new(o, "target_address",
                        json_string(m->target_address ? m->target_address : ""));
    json_object_set_new(o, "pace", json_string(m->pace ? m->pace : ""));
    json_object_set_new(o, "speed", json_real(m->speed));
    json_object_set_new(o, "rate", json_real(m->rate));
    json_object_set_new(o, "applied_speed", json_real(m->applied_speed));
    json_object_set_new(o, "max_gap_s", seconds_or_null(m->max_gap_ns,
                                                        m->max_gap_ns == RP_SCHED_NO_MAX_GAP));
    json_object_set_new(o, "skip_s", json_real((double)m->skip_ns / 1e9));
    json_object_set_new(o, "duration_s", seconds_or_null(m->duration_limit_ns,
                                                         m->duration_limit_ns == 0));
    json_object_set_new(o, "passes", m->passes ? json_integer((json_int_t)m->passes) : json_null());
    json_object_set_new(o, "users", json_integer((json_int_t)m->users));
    json_object_set_new(o, "max_inflight", json_integer((json_int_t)m->max_inflight));
    json_object_set_new(o, "over_limit", json_string(m->drop_over_limit ? "drop" : "late"));
    json_object_set_new(o, "connections", json_string(m->conn_mode ? m->conn_mode : ""));
    json_object_set_new(o, "max_connections", json_integer((json_int_t)m->max_connections));
    json_object_set_new(o, "threads", json_integer((json_int_t)m->threads));
    if (m->shard_count > 1) {
        char shard[32];
        snprintf(shard, sizeof shard, "%u/%u", (unsigned)m->shard_index + 1,
                 (unsigned)m->shard_count);
        json_object_set_new(o, "shard", json_string(shard));
    } else {
        json_object_set_new(o, "shard", json_null());
    }
    json_object_set_new(o, "keep_host", json_boolean(m->keep_host));
    json_object_set_new(o, "headers_set", string_array(m->header_names, m->header_count));
    json_object_set_new(o, "headers_removed", string_array(m->removed_headers, m->removed_count));
    json_object_set_new(o, "path_rewrites", string_array(m->rewrites, m->rewrite_count));
    json_object_set_new(o, "filters", string_array(m->filters, m->filter_count));
    json_object_set_new(o, "timeout_s", json_real((double)m->timeout_ns / 1e9));
    json_object_set_new(o, "connect_timeout_s", json_real((double)m->connect_timeout_ns / 1e9));
    json_object_set_new(o, "http2", json_boolean(m->http2));
    json_object_set_new(o, "insecure", json_boolean(m->insecure));
    return o;
}

static json_t *connections_object(const rp_stats *s, const rp_report_meta *m)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I}",
                     "mode", m->conn_mode ? m->conn_mode : "",
                     "mode_used", m->conn_mode_used ? m->conn_mode_used : "",
                     "opened", (json_int_t)s->conn_opened,
                     "reused", (json_int_t)s->conn_reused,
                     "moved", (json_int_t)s->conn_moved);
}

static json_t *generator_object(const rp_stats *s, const rp_report_meta *m)
{
    double cpu = m->cpu_user_s + m->cpu_system_s;
    double secs = (double)m->duration_ns / 1e9;
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:I}",
                     "cpu_user_s", m->cpu_user_s,
                     "cpu_system_s", m->cpu_system_s,
                     "cpu_s", cpu,
                     "cpu_use", secs > 0 ? cpu / secs : 0.0,
                     "requests_per_cpu_s", cpu > 0 ? (double)s->responses / cpu : 0.0,
                     "threads", (json_int_t)m->threads);
}

static json_t *saturation_object(const rp_stats *s, const rp_report_meta *m)
{
    return json_pack("{s:b, s:I, s:I, s:I}",
                     "saturated", m->saturated,
                     "dispatch_lag_p99_us", (json_int_t)rp_hist_percentile(s->dispatch_lag, 99),
                     "threshold_us", (json_int_t)m->saturation_threshold_us,
                     "mean_gap_us", (json_int_t)m->mean_gap_us);
}

static void add_counts(json_t *r, const rp_stats *s)
{
    json_object_set_new(r, "requests_due", json_integer((json_int_t)s->due));
    json_object_set_new(r, "requests_sent", json_integer((json_int_t)s->sent));
    json_object_set_new(r, "responses", json_integer((json_int_t)s->responses));
    json_object_set_new(r, "skipped", json_pack("{s:I, s:I}",
                        "connect", (json_int_t)s->skipped_connect,
                        "total", (json_int_t)rp_stats_skipped_total(s)));
    json_object_set_new(r, "not_sent", json_integer((json_int_t)s->not_sent));
    json_object_set_new(r, "waited", json_integer((json_int_t)s->waited));
    json_object_set_new(r, "left_at_stop", json_integer((json_int_t)s->left_at_stop));
    json_object_set_new(r, "cancelled", json_integer((json_int_t)s->cancelled));
    json_object_set_new(r, "submit_failed", json_integer((json_int_t)s->submit_failed));
    json_object_set_new(r, "errors", errors_object(s));
    json_object_set_new(r, "client_errors", json_pack("{s:I, s:I, s:I}",
                        "emfile", (json_int_t)s->client_emfile,
                        "eaddrnotavail", (json_int_t)s->client_eaddrnotavail,
                        "other", (json_int_t)s->client_other));
    json_object_set_new(r, "status", status_object(s));
}

static void add_timings(json_t *r, const rp_stats *s, const rp_report_meta *m)
{
    double secs = (double)m->duration_ns / 1e9;
    json_object_set_new(r, "latency_us", percentiles(s->latency));
    json_object_set_new(r, "latency_from", json_string(s->latency_from_send ? "send" : "due"));
    json_object_set_new(r, "service_time_us", percentiles(s->service));
    json_object_set_new(r, "send_lag_us", percentiles(s->send_lag));
    json_object_set_new(r, "dispatch_lag_us", percentiles(s->dispatch_lag));
    json_object_set_new(r, "ttfb_us", percentiles(s->ttfb));
    json_object_set_new(r, "duration_s", json_real(secs));
    json_object_set_new(r, "send_rate_per_s", json_real(secs > 0 ? (double)s->sent / secs : 0));
    json_object_set_new(r, "response_rate_per_s",
                        json_real(secs > 0 ? (double)s->responses / secs : 0));
    if (m->paced)
        json_object_set_new(r, "send_window", json_pack("{s:i, s:I, s:f}",
                            "window_ms", 10, "max", (json_int_t)m->window_max,
                            "mean", m->window_mean));
}

static void add_run(json_t *r, const rp_stats *s, const rp_report_meta *m)
{
    json_object_set_new(r, "bytes_received", json_integer((json_int_t)s->bytes_received));
    json_object_set_new(r, "max_in_flight", json_integer((json_int_t)m->max_in_flight));
    json_object_set_new(r, "interrupted", json_boolean(m->interrupted));
    json_object_set_new(r, "hit_duration", json_boolean(m->hit_duration));
    json_object_set_new(r, "passes", json_integer((json_int_t)m->passes_started));
    if (m->users > 0)
        json_object_set_new(r, "sessions", json_integer((json_int_t)m->sessions_started));
    json_object_set_new(r, "gaps_shortened", json_integer((json_int_t)m->gaps_shortened));
    json_object_set_new(r, "filtered", json_integer((json_int_t)m->filtered));
    json_object_set_new(r, "before_skip", json_integer((json_int_t)m->before_skip));
    json_object_set_new(r, "trace_damaged_blocks", json_integer((json_int_t)m->trace_bad_blocks));
    json_object_set_new(r, "connections", connections_object(s, m));
    json_object_set_new(r, "generator", generator_object(s, m));
    json_object_set_new(r, "saturation", saturation_object(s, m));
    json_object_set_new(r, "start_time", iso_time(m->start_wall_ns));
}

json_t *rp_report_build(const rp_stats *s, const rp_report_meta *m)
{
    json_t *r = json_object();
    if (r == NULL)
        return NULL;

    json_object_set_new(r, "format", json_string("reprise-run-report"));
    json_object_set_new(r, "format_version", json_integer(RP_REPORT_FORMAT_VERSION));
    json_object_set_new(r, "mode", json_string(m->mode ? m->mode : ""));
    add_counts(r, s);
    add_timings(r, s, m);
    add_run(r, s, m);
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
