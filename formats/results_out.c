#include "formats/results_out.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hdrhist.h"

/* Locust's PERCENTILES_TO_REPORT (locust/stats.py, 2.x) with its column
 * names. */
static const double locust_pcts[] = { 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100 };
static const char locust_pct_header[] = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
#define LOCUST_PCTS (sizeof locust_pcts / sizeof locust_pcts[0])
/* Python's csv module, which Locust writes with, ends rows with CRLF. */
#define CRLF "\r\n"

const char *rp_results_fmt_us(uint64_t us, char *buf, size_t len)
{
    if (us < 1000)
        snprintf(buf, len, "%" PRIu64 "us", us);
    else if (us < 1000000)
        snprintf(buf, len, "%.2fms", (double)us / 1e3);
    else
        snprintf(buf, len, "%.3fs", (double)us / 1e6);
    return buf;
}

static FILE *open_out(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path, char *err, size_t errlen)
{
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Writes s as one CSV field, quoted when it contains a comma, quote or
 * line break. */
static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* ---- series CSV ---- */

int rp_results_write_series_csv(rp_results *r, const char *path, char *err, size_t errlen)
{
    rp_results_finish(r);
    FILE *f = open_out(path, err, errlen);
    if (f == NULL)
        return -1;
    fprintf(f, "time,t,due,sent,completed,responses,failures,mismatches,in_flight");
    for (int k = RP_RES_CONNECT; k < RP_RES_KINDS; k++)
        fprintf(f, ",%s", rp_results_kind_name(k));
    fprintf(f, ",rt_count,rt_p50_ms,rt_p95_ms,rt_p99_ms,rt_max_ms,send_lag_mean_ms,"
               "send_lag_max_ms,bytes_received\n");

    size_t n = rp_results_second_count(r);
    int64_t start = n ? rp_results_second_at(r, 0)->epoch_s : 0;
    for (size_t i = 0; i < n; i++) {
        const rp_results_second *s = rp_results_second_at(r, i);
        fprintf(f, "%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, s->epoch_s, s->epoch_s - start, s->due,
                s->sent, s->completed, s->responses, s->failures, s->mismatches, s->in_flight);
        for (int k = RP_RES_CONNECT; k < RP_RES_KINDS; k++)
            fprintf(f, ",%" PRIu64, s->kinds[k]);
        double lag_mean = s->lag_count ? (double)s->lag_sum_us / (double)s->lag_count : 0;
        fprintf(f, ",%" PRIu64 ",%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%" PRIu64 "\n", s->rt_count,
                ms(s->rt_p50_us), ms(s->rt_p95_us), ms(s->rt_p99_us), ms(s->rt_max_us),
                lag_mean / 1000.0, ms(s->lag_max_us), s->bytes_received);
    }
    return close_out(f, path, err, errlen);
}

/* ---- Locust layout ---- */

/* Requests that ran, as Locust counts them: responses and errors. */
static uint64_t locust_requests(const rp_results_group *g)
{
    uint64_t n = 0;
    for (int k = RP_RES_RESPONSE; k <= RP_RES_CLIENT; k++)
        n += g->kinds[k];
    return n;
}

static void locust_percentiles(FILE *f, const rp_hist *h, uint64_t requests)
{
    for (size_t i = 0; i < LOCUST_PCTS; i++) {
        if (requests == 0)
            fprintf(f, ",N/A");
        else
            fprintf(f, ",%.0f", ms(rp_results_percentile(h, locust_pcts[i])));
    }
}

/* Count, failures, median, average, min, max and average size, in the
 * order both stats files use. */
static void locust_totals(FILE *f, const rp_results_group *g, const rp_hist *h)
{
    uint64_t requests = locust_requests(g);
    int has = h != NULL && rp_hist_count(h) > 0;
    fprintf(f, "%" PRIu64 ",%" PRIu64 ",%.0f,%.3f,%.3f,%.3f,%.1f", requests, g->failures,
            ms(rp_results_percentile(h, 50)), has ? rp_hist_mean(h) / 1000.0 : 0.0,
            has ? ms(rp_hist_min(h)) : 0.0, has ? ms(rp_hist_max(h)) : 0.0,
            requests ? (double)g->bytes_received / (double)requests : 0.0);
}

static void locust_stats_row(FILE *f, const char *method, const char *name,
                             const rp_results_group *g, double secs)
{
    uint64_t requests = locust_requests(g);
    csv_field(f, method);
    fputc(',', f);
    csv_field(f, name);
    fputc(',', f);
    locust_totals(f, g, g->response_time);
    fprintf(f, ",%.6f,%.6f", secs > 0 ? (double)requests / secs : 0.0,
            secs > 0 ? (double)g->failures / secs : 0.0);
    locust_percentiles(f, g->response_time, requests);
    fputs(CRLF, f);
}

static int by_name_then_method(const void *a, const void *b)
{
    const rp_results_group *x = *(const rp_results_group *const *)a;
    const rp_results_group *y = *(const rp_results_group *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->method, y->method);
}

/* Endpoints in Locust's order: by name, then method. NULL when out of
 * memory. */
static const rp_results_group **sorted_endpoints(const rp_results *r, size_t *n)
{
    *n = rp_results_endpoint_count(r);
    const rp_results_group **v = malloc((*n ? *n : 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        v[i] = rp_results_endpoint(r, i);
    qsort(v, *n, sizeof *v, by_name_then_method);
    return v;
}

static int write_locust_stats(const rp_results *r, const char *path, char *err, size_t errlen)
{
    size_t n;
    const rp_results_group **eps = sorted_endpoints(r, &n);
    FILE *f = eps ? open_out(path, err, errlen) : NULL;
    if (f == NULL) {
        if (eps == NULL)
            snprintf(err, errlen, "out of memory writing %s", path);
        free(eps);
        return -1;
    }
    fprintf(f, "Type,Name,Request Count,Failure Count,Median Response Time,"
               "Average Response Time,Min Response Time,Max Response Time,"
               "Average Content Size,Requests/s,Failures/s,%s" CRLF, locust_pct_header);
    double secs = rp_results_duration_s(r);
    for (size_t i = 0; i < n; i++)
        locust_stats_row(f, eps[i]->method, eps[i]->name, eps[i], secs);
    locust_stats_row(f, "", "Aggregated", rp_results_total(r), secs);
    free(eps);
    return close_out(f, path, err, errlen);
}

/* One row per second for the aggregate, as Locust writes without
 * --csv-full-history: the second's rates, and percentiles and totals
 * since the start. User Count is the number of requests in flight. */
static int write_locust_history(const rp_results *r, const char *path, char *err, size_t errlen)
{
    rp_hist *cum = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    FILE *f = cum ? open_out(path, err, errlen) : NULL;
    if (f == NULL) {
        if (cum == NULL)
            snprintf(err, errlen, "out of memory writing %s", path);
        rp_hist_free(cum);
        return -1;
    }
    fprintf(f, "Timestamp,User Count,Type,Name,Requests/s,Failures/s,%s,Total Request Count,"
               "Total Failure Count,Total Median Response Time,Total Average Response Time,"
               "Total Min Response Time,Total Max Response Time,Total Average Content Size"
               CRLF, locust_pct_header);

    rp_results_group so_far = { 0 };
    for (size_t i = 0; i < rp_results_second_count(r); i++) {
        const rp_results_second *s = rp_results_second_at(r, i);
        char hist_err[128];
        if (s->rt_hist != NULL)
            rp_hdrhist_decode_add_exact(s->rt_hist, cum, NULL, &s->rt_max_us, hist_err,
                                        sizeof hist_err);
        for (int k = RP_RES_RESPONSE; k <= RP_RES_CLIENT; k++)
            so_far.kinds[k] += s->kinds[k];
        so_far.failures += s->failures;
        so_far.bytes_received += s->bytes_received;

        fprintf(f, "%" PRId64 ",%" PRIu64 ",,Aggregated,%.6f,%.6f", s->epoch_s, s->in_flight,
                (double)s->completed, (double)s->failures);
        locust_percentiles(f, cum, locust_requests(&so_far));
        fputc(',', f);
        locust_totals(f, &so_far, cum);
        fputs(CRLF, f);
    }
    rp_hist_free(cum);
    return close_out(f, path, err, errlen);
}

static void failure_row(FILE *f, const rp_results_group *g, const char *error, uint64_t count)
{
    if (count == 0)
        return;
    csv_field(f, g->method);
    fputc(',', f);
    csv_field(f, g->name);
    fputc(',', f);
    csv_field(f, error);
    fprintf(f, ",%" PRIu64 CRLF, count);
}

static int write_locust_failures(const rp_results *r, const char *path, char *err, size_t errlen)
{
    static const char *kind_errors[] = {
        [RP_RES_CONNECT] = "connect error: no connection (refused, unreachable or timed out)",
        [RP_RES_TIMEOUT] = "timeout: no complete response in time",
        [RP_RES_RESET] = "connection reset or closed mid-exchange",
        [RP_RES_OTHER] = "transport error (malformed response, TLS)",
    };
    size_t n;
    const rp_results_group **eps = sorted_endpoints(r, &n);
    FILE *f = eps ? open_out(path, err, errlen) : NULL;
    if (f == NULL) {
        if (eps == NULL)
            snprintf(err, errlen, "out of memory writing %s", path);
        free(eps);
        return -1;
    }
    fprintf(f, "Method,Name,Error,Occurrences" CRLF);
    const rp_status_set *fail = &rp_results_config_of(r)->fail_status;
    for (size_t i = 0; i < n; i++) {
        const rp_results_group *g = eps[i];
        for (int k = RP_RES_CONNECT; k <= RP_RES_OTHER; k++)
            failure_row(f, g, kind_errors[k], g->kinds[k]);
        for (int v = 0; g->status != NULL && v < RP_RESULTS_MAX_STATUS; v++) {
            char text[48];
            snprintf(text, sizeof text, "HTTP status %d", v);
            if (rp_status_set_has(fail, v))
                failure_row(f, g, text, g->status[v]);
        }
        failure_row(f, g, "status differs from the recorded one", g->mismatch_failures);
    }
    free(eps);
    return close_out(f, path, err, errlen);
}

int rp_results_write_locust_csv(rp_results *r, const char *prefix, char *err, size_t errlen)
{
    rp_results_finish(r);
    char path[4096];
    snprintf(path, sizeof path, "%s_stats.csv", prefix);
    if (write_locust_stats(r, path, err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s_stats_history.csv", prefix);
    if (write_locust_history(r, path, err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s_failures.csv", prefix);
    return write_locust_failures(r, path, err, errlen);
}

/* ---- interval log ---- */

int rp_results_write_hlog(rp_results *r, const char *path, char *err, size_t errlen)
{
    rp_results_finish(r);
    FILE *f = open_out(path, err, errlen);
    if (f == NULL)
        return -1;
    size_t n = rp_results_second_count(r);
    int64_t start = n ? rp_results_second_at(r, 0)->epoch_s : 0;
    rp_hdrlog_write_header(f, (double)start,
                           "Logged with reprise: response time from the due time, in microseconds");
    for (size_t i = 0; i < n; i++) {
        const rp_results_second *s = rp_results_second_at(r, i);
        if (s->rt_hist != NULL)
            rp_hdrlog_write_interval(f, (double)(s->epoch_s - start), 1.0, (double)s->rt_max_us,
                                     1000.0, s->rt_hist);
    }
    return close_out(f, path, err, errlen);
}

/* ---- terminal tables ---- */

static const char *mismatch_rule(int mode)
{
    switch (mode) {
    case RP_MISMATCH_COUNT: return "counted";
    case RP_MISMATCH_FAIL: return "failures";
    default: return "not compared";
    }
}

void rp_results_print_failures(const rp_results *r, FILE *out)
{
    const rp_results_group *t = rp_results_total(r);
    const rp_results_config *cfg = rp_results_config_of(r);
    char rules[1024];
    rp_status_set_format(&cfg->fail_status, rules, sizeof rules);

    fprintf(out, "  failures    %" PRIu64 " of %" PRIu64 " requests due, error rate %.2f%%",
            t->failures, t->requests, 100.0 * rp_results_error_rate(t));
    const char *sep = ": ";
    for (int k = RP_RES_CONNECT; k <= RP_RES_OTHER; k++) {
        if (t->kinds[k] == 0)
            continue;
        fprintf(out, "%s%s %" PRIu64, sep, rp_results_kind_name(k), t->kinds[k]);
        sep = ", ";
    }
    for (int v = 0; t->status != NULL && v < RP_RESULTS_MAX_STATUS; v++) {
        if (t->status[v] == 0 || !rp_status_set_has(&cfg->fail_status, v))
            continue;
        fprintf(out, "%sHTTP %d: %" PRIu64, sep, v, t->status[v]);
        sep = ", ";
    }
    if (t->mismatch_failures)
        fprintf(out, "%smismatch %" PRIu64, sep, t->mismatch_failures);
    fprintf(out, "\n              (failing statuses %s; transport errors fail; status "
            "mismatches %s)\n", rules[0] ? rules : "none", mismatch_rule(cfg->mismatch));

    if (cfg->mismatch != RP_MISMATCH_OFF)
        fprintf(out, "  mismatches  %" PRIu64 " of %" PRIu64 " responses differ from the "
                "recorded status\n", t->mismatches, t->responses);
    uint64_t client = t->kinds[RP_RES_CLIENT] + t->kinds[RP_RES_NOT_SENT];
    if (client || t->kinds[RP_RES_SKIPPED] || t->kinds[RP_RES_CANCELLED])
        fprintf(out, "  not failures: client errors %" PRIu64 ", not sent %" PRIu64
                ", skipped %" PRIu64 ", cancelled %" PRIu64 "\n", t->kinds[RP_RES_CLIENT],
                t->kinds[RP_RES_NOT_SENT], t->kinds[RP_RES_SKIPPED], t->kinds[RP_RES_CANCELLED]);
}

static void endpoint_row(FILE *out, const rp_results_group *g)
{
    char p50[24], p95[24], p99[24], name[48];
    size_t len = strlen(g->name);
    if (len > 38)
        snprintf(name, sizeof name, "...%s", g->name + len - 35);
    else
        snprintf(name, sizeof name, "%s", g->name);
    int has = g->response_time != NULL && rp_hist_count(g->response_time) > 0;
    fprintf(out, "  %-7.7s %-38s %9" PRIu64 " %9s %9s %9s %7.2f%%\n", g->method, name,
            g->requests, has ? rp_results_fmt_us(rp_results_percentile(g->response_time, 50), p50, sizeof p50) : "-",
            has ? rp_results_fmt_us(rp_results_percentile(g->response_time, 95), p95, sizeof p95) : "-",
            has ? rp_results_fmt_us(rp_results_percentile(g->response_time, 99), p99, sizeof p99) : "-",
            100.0 * rp_results_error_rate(g));
}

void rp_results_print_endpoints(const rp_results *r, FILE *out, size_t top)
{
    size_t n = rp_results_endpoint_count(r);
    if (n == 0)
        return;
    size_t named = 0;
    while (named < n && strcmp(rp_results_endpoint(r, named)->name, RP_RESULTS_OTHER) != 0)
        named++;
    size_t shown = named < top ? named : top;

    fprintf(out, "  endpoints   %zu by requests%s (response time from the due time)\n", shown,
            n > shown ? ", the rest in (other)" : "");
    fprintf(out, "  %-7s %-38s %9s %9s %9s %9s %8s\n", "method", "endpoint", "requests", "p50",
            "p95", "p99", "errors");
    for (size_t i = 0; i < shown; i++)
        endpoint_row(out, rp_results_endpoint(r, i));
    if (n > shown) {
        rp_results_group *rest = rp_results_endpoints_from(r, shown);
        if (rest != NULL)
            endpoint_row(out, rest);
        rp_results_group_free(rest);
    }
}
