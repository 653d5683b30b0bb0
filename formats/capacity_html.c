/* The capacity report as one self-contained HTML file: the result, the
 * capacity curve (p95 against achieved rate), p95, rate and errors across
 * steps, the recovery and soak seconds, and the step table. The charts
 * come from formats/html_report.c. */
#include "formats/capacity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "formats/html_report.h"

#define COLOR_P50 "#6baed6"
#define COLOR_P95 "#d62728"
#define COLOR_P99 "#8c564b"
#define COLOR_ASKED "#9e9e9e"
#define COLOR_ACHIEVED "#1f77b4"
#define COLOR_ERRORS "#ff7f0e"
#define COLOR_LIMIT "#2ca02c"

/* Per-step columns as arrays, for the charts. */
typedef struct columns {
    double *pace, *achieved, *asked, *p50, *p95, *p99, *errors;
} columns;

static void columns_free(columns *k)
{
    free(k->pace);
    free(k->achieved);
    free(k->asked);
    free(k->p50);
    free(k->p95);
    free(k->p99);
    free(k->errors);
}

static int columns_fill(const rp_capacity *c, columns *k)
{
    size_t n = c->step_count > 0 ? c->step_count : 1;
    double **all[] = { &k->pace, &k->achieved, &k->asked, &k->p50, &k->p95, &k->p99,
                       &k->errors };
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++)
        if ((*all[j] = calloc(n, sizeof(double))) == NULL)
            return -1;
    for (size_t i = 0; i < c->step_count; i++) {
        const rp_capacity_step *s = &c->steps[i];
        k->pace[i] = s->pace;
        k->achieved[i] = s->achieved_rate;
        k->asked[i] = s->asked_rate;
        k->p50[i] = s->p50_ms;
        k->p95[i] = s->p95_ms;
        k->p99[i] = s->p99_ms;
        k->errors[i] = 100.0 * s->error_rate;
    }
    return 0;
}

static void pace_label(const rp_capacity *c, char *buf, size_t len)
{
    if (c->unit == RP_CAPACITY_USERS)
        snprintf(buf, len, "step (concurrent users)");
    else if (c->unit == RP_CAPACITY_RATE)
        snprintf(buf, len, "step (asked requests/s)");
    else
        snprintf(buf, len, "step (times the captured pace)");
}

static void step_charts(FILE *f, const rp_capacity *c, const columns *k)
{
    size_t n = c->step_count;
    char xlabel[64];
    pace_label(c, xlabel, sizeof xlabel);

    rp_html_series curve[] = { { "p95", COLOR_P95, k->achieved, k->p95, n, 1 } };
    rp_html_chart cc = { "capacity-curve", "Capacity curve: p95 against achieved rate",
                         "achieved requests/s", "p95 (ms)", RP_HTML_X_LINEAR, curve, 1 };
    rp_html_chart_write(f, &cc);

    rp_html_series lat[] = { { "p50", COLOR_P50, k->pace, k->p50, n, 1 },
                             { "p95", COLOR_P95, k->pace, k->p95, n, 1 },
                             { "p99", COLOR_P99, k->pace, k->p99, n, 1 } };
    rp_html_chart lc = { "latency-steps", "Response time across steps", xlabel, "ms",
                         RP_HTML_X_LINEAR, lat, 3 };
    rp_html_chart_write(f, &lc);

    rp_html_series rate[] = { { "achieved", COLOR_ACHIEVED, k->pace, k->achieved, n, 1 },
                              { "asked", COLOR_ASKED, k->pace, k->asked, n, 1 } };
    rp_html_chart rc = { "rate-steps", "Request rate across steps", xlabel, "requests/s",
                         RP_HTML_X_LINEAR, rate, c->unit == RP_CAPACITY_USERS ? 1 : 2 };
    rp_html_chart_write(f, &rc);

    double limit_y[2] = { 100.0 * c->max_error_rate, 100.0 * c->max_error_rate };
    double limit_x[2] = { n > 0 ? k->pace[0] : 0, n > 0 ? k->pace[n - 1] : 0 };
    rp_html_series err[] = { { "error rate", COLOR_ERRORS, k->pace, k->errors, n, 1 },
                             { "limit", COLOR_LIMIT, limit_x, limit_y, n > 0 ? 2 : 0, 0 } };
    rp_html_chart ec = { "errors-steps", "Error rate across steps", xlabel, "% of requests",
                         RP_HTML_X_LINEAR, err, 2 };
    rp_html_chart_write(f, &ec);
}

/* A per-second p95 chart, the seconds without a response left out. */
static int series_chart(FILE *f, const char *id, const char *title, const char *x_label,
                        const rp_capacity_series *s, double threshold_ms)
{
    size_t n = s->count;
    double *x = calloc(n + 2, sizeof *x), *y = calloc(n + 2, sizeof *y);
    if (x == NULL || y == NULL) {
        free(x);
        free(y);
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s->p95_ms[i] < 0)
            continue;
        x[m] = (double)(i + 1);
        y[m++] = s->p95_ms[i];
    }
    double tx[2] = { 1, (double)(n > 1 ? n : 2) }, ty[2] = { threshold_ms, threshold_ms };
    rp_html_series se[] = { { "p95 per second", COLOR_P95, x, y, m, 0 },
                            { "20% above the first step", COLOR_LIMIT, tx, ty, 2, 0 } };
    rp_html_chart ch = { id, title, x_label, "p95 (ms)", RP_HTML_X_LINEAR, se,
                         threshold_ms > 0 ? 2 : 1 };
    rp_html_chart_write(f, &ch);
    free(x);
    free(y);
    return 0;
}

static void result_row(FILE *f, const char *label, const char *key, double value,
                       const char *shown)
{
    fprintf(f, "<tr><td class=\"name\">%s</td><td data-key=\"%s\" data-value=\"%.6g\">",
            label, key, value);
    rp_html_text(f, shown);
    fputs("</td></tr>\n", f);
}

static void recovery_rows(FILE *f, const rp_capacity *c)
{
    const rp_capacity_recovery *r = &c->recovery;
    char buf[160], pace[32];
    rp_capacity_format_pace(c->unit, r->pace, pace, sizeof pace);
    snprintf(buf, sizeof buf, "%.1f s more at the knee pace, then %s", r->overload_s, pace);
    result_row(f, "recovery run", "recovery_pace", r->pace, buf);
    if (r->recovered)
        snprintf(buf, sizeof buf, "p95 within 20%% of the first step's (%.2f ms) within %.0f s "
                 "of the drop", r->threshold_p95_ms, r->recovered_after_s);
    else
        snprintf(buf, sizeof buf, "p95 not back within 20%% of the first step's (%.2f ms): "
                 "possible leak", r->threshold_p95_ms);
    result_row(f, "recovery", "recovered_after_s", r->recovered ? r->recovered_after_s : -1,
               buf);
}

static void soak_rows(FILE *f, const rp_capacity *c)
{
    const rp_capacity_soak *s = &c->soak;
    char buf[160], pace[32];
    rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
    snprintf(buf, sizeof buf, "%s for %.0f s: %.1f requests/s, errors %.2f%%", pace,
             s->duration_s, s->achieved_rate, 100.0 * s->error_rate);
    result_row(f, "soak run", "soak_error_rate", s->error_rate, buf);
    if (s->first_p95_ms >= 0 && s->last_p95_ms >= 0)
        snprintf(buf, sizeof buf, "%s: median p95 per second %.2f ms in the first third, "
                 "%.2f ms in the last", s->degrading ? "degrading" : "steady", s->first_p95_ms,
                 s->last_p95_ms);
    else
        snprintf(buf, sizeof buf, "%s", s->degrading ? "degrading" : "steady");
    result_row(f, "soak", "soak_degrading", s->degrading, buf);
}

static void result_table(FILE *f, const rp_capacity *c)
{
    char buf[160];
    fputs("<h2>Result</h2>\n<table id=\"result\"><tr><th class=\"name\">figure</th>"
          "<th>value</th></tr>\n", f);
    if (c->stable >= 0) {
        const rp_capacity_step *s = &c->steps[c->stable];
        snprintf(buf, sizeof buf, "%.1f requests/s", s->achieved_rate);
        result_row(f, "highest stable rate", "stable_rate", s->achieved_rate, buf);
        rp_capacity_format_pace(c->unit, s->pace, buf, sizeof buf);
        result_row(f, "at pace", "stable_pace", s->pace, buf);
        snprintf(buf, sizeof buf, "%" PRIu64, s->connections);
        result_row(f, "connections in use", "connections", (double)s->connections, buf);
    } else if (c->knee < 0) {
        result_row(f, "highest stable rate", "stable_rate", -1,
                   "not found: the ramp was interrupted before its first step ended");
    } else {
        result_row(f, "highest stable rate", "stable_rate", -1,
                   "not found: the first step is already past the knee");
    }
    if (c->knee >= 0) {
        char pace[32];
        rp_capacity_format_pace(c->unit, c->steps[c->knee].pace, pace, sizeof pace);
        snprintf(buf, sizeof buf, "step %ld (%s), signal %s", c->knee + 1, pace,
                 rp_capacity_signal_name(c->steps[c->knee].signal));
        result_row(f, "knee", "knee_step", (double)(c->knee + 1), buf);
    }
    const char *limited = rp_capacity_limited_by(c);
    if (c->knee < 0 && c->stopped == RP_CAPACITY_RAN)
        limited = "max_step: no knee up to the last step, the capacity is at least this";
    else if (c->knee < 0 && c->stopped == RP_CAPACITY_STOPPED_STEPS)
        limited = "interrupted before a knee: the capacity is at least this";
    result_row(f, "limited by", "limited_by", c->knee >= 0 ? 1 : 0, limited);
    if (c->stopped != RP_CAPACITY_RAN) {
        snprintf(buf, sizeof buf, "stopped during the %s", rp_capacity_stop_name(c->stopped));
        result_row(f, "interrupted", "interrupted_in", c->stopped, buf);
    }
    if (c->recovery.ran)
        recovery_rows(f, c);
    if (c->soak.ran)
        soak_rows(f, c);
    fputs("</table>\n", f);
}

static void step_table(FILE *f, const rp_capacity *c)
{
    fprintf(f, "<h2>Steps</h2>\n<table id=\"steps\"><tr><th>step</th><th>%s</th>"
            "<th>asked/s</th><th>achieved/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
            "<th>errors</th><th>conns</th><th class=\"name\">note</th></tr>\n",
            c->unit == RP_CAPACITY_USERS ? "users" : "pace");
    for (size_t i = 0; i < c->step_count; i++) {
        const rp_capacity_step *s = &c->steps[i];
        char pace[32];
        rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
        fprintf(f, "<tr><td>%zu</td><td>%s</td>", i + 1, pace);
        if (c->unit == RP_CAPACITY_USERS)
            fputs("<td>-</td>", f);
        else
            fprintf(f, "<td>%.1f</td>", s->asked_rate);
        fprintf(f, "<td>%.1f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                "<td class=\"%s\">%.2f%%</td><td>%" PRIu64 "</td><td class=\"name\">%s",
                s->achieved_rate, s->p50_ms, s->p95_ms, s->p99_ms,
                s->error_rate > c->max_error_rate ? "bad" : "good", 100.0 * s->error_rate,
                s->connections, s->saturated ? "generator saturated " : "");
        if (s->signal != RP_CAPACITY_NONE)
            fprintf(f, "knee (%s)", rp_capacity_signal_name(s->signal));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void header(FILE *f, const rp_capacity *c)
{
    fputs("<h1>reprise capacity report</h1>\n<p class=\"meta\">Ramp of <b>", f);
    rp_html_text(f, c->trace);
    fputs("</b> to <b>", f);
    rp_html_text(f, c->target);
    fprintf(f, "</b></p>\n<p class=\"meta\">Steps in %s, each held %.0f s with the first "
            "%.0f%% not measured. Knee: p95 at %g times the first step's, errors above "
            "%.2f%%, or the generator falling behind.</p>\n", rp_capacity_unit_name(c->unit),
            c->hold_s, 100.0 * c->warmup, c->knee_factor, 100.0 * c->max_error_rate);
}

static int body(FILE *f, const rp_capacity *c)
{
    columns k;
    memset(&k, 0, sizeof k);
    if (columns_fill(c, &k) != 0) {
        columns_free(&k);
        return -1;
    }
    header(f, c);
    result_table(f, c);
    fputs("<h2>Charts</h2>\n", f);
    step_charts(f, c, &k);
    columns_free(&k);
    int rc = 0;
    if (c->recovery.ran) {
        fputs("<h2>Recovery</h2>\n", f);
        rc |= series_chart(f, "recovery", "p95 per second after the drop to half the knee pace",
                           "second after the drop", &c->recovery.series,
                           c->recovery.threshold_p95_ms);
    }
    if (c->soak.ran) {
        fputs("<h2>Soak</h2>\n", f);
        rc |= series_chart(f, "soak", "p95 per second during the soak", "second of the soak",
                           &c->soak.series, 0);
    }
    step_table(f, c);
    return rc;
}

int rp_capacity_write_html(const rp_capacity *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    rp_html_begin(f, "reprise capacity report");
    int rc = body(f, c);
    return rp_html_end(f, path, rc != 0, err, errlen);
}
