#include "formats/html_report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/results_out.h"

/* Chart geometry in SVG user units. */
#define CHART_W 880.0
#define CHART_H 280.0
#define MARGIN_LEFT 70.0
#define MARGIN_RIGHT 20.0
#define MARGIN_TOP 34.0
#define MARGIN_BOTTOM 46.0
#define MAX_NINES 5.0         /* the percentile axis ends at 99.999% */

static const char style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:940px;color:#222;background:#fff}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}"
    ".meta{color:#555;font-size:13px;margin:2px 0}"
    "table{border-collapse:collapse;font-size:13px;margin:6px 0}"
    "th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}"
    "th:first-child,td:first-child,td.name,th.name{text-align:left}"
    "th{background:#f5f5f5;font-weight:600}"
    "td.bad{color:#b00020;font-weight:600}td.good{color:#1b7f3a}"
    "figure{margin:10px 0 18px}svg{display:block;background:#fff}"
    "svg text{font-family:inherit;font-size:11px;fill:#444}"
    "svg .title{font-size:13px;font-weight:600;fill:#222}"
    "svg .grid{stroke:#e6e6e6;stroke-width:1}svg .axis{stroke:#888;stroke-width:1}"
    "svg polyline{fill:none;stroke-width:1.8;stroke-linejoin:round}"
    "ul.thresholds{font-family:ui-monospace,monospace;font-size:12px;padding-left:18px}"
    "li.fail{color:#b00020}footer{color:#777;font-size:12px;margin-top:30px}";

void rp_html_text(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

void rp_html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>", f);
    rp_html_text(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
}

int rp_html_end(FILE *f, const char *path, int body_failed, char *err, size_t errlen)
{
    fputs("<footer>Written by reprise. Self-contained: no script, no external resource. "
          "Latency figures come from HdrHistogram-layout histograms at 3 significant "
          "digits.</footer>\n</body>\n</html>\n", f);
    int failed = ferror(f) || body_failed;
    if (fclose(f) != 0 || failed) {
        snprintf(err, errlen, "cannot write %s: %s", path,
                 body_failed ? "out of memory" : strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

/* ---- charts ---- */

/* A step of 1, 2 or 5 times a power of ten giving about target ticks. */
static double nice_step(double range, int target)
{
    if (range <= 0)
        return 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double step = 10;
    if (norm < 1.5)
        step = 1;
    else if (norm < 3.5)
        step = 2;
    else if (norm < 7.5)
        step = 5;
    return step * mag;
}

static double nines(double percentile)
{
    if (percentile >= 100)
        return MAX_NINES;
    double t = log10(100.0 / (100.0 - percentile));
    return t > MAX_NINES ? MAX_NINES : t;
}

typedef struct frame {
    double x_min, x_max, y_max;
    int percentile_axis;
} frame;

static double px(const frame *fr, double x)
{
    double v = fr->percentile_axis ? nines(x) : x;
    double span = fr->x_max - fr->x_min;
    double u = span > 0 ? (v - fr->x_min) / span : 0;
    return MARGIN_LEFT + u * (CHART_W - MARGIN_LEFT - MARGIN_RIGHT);
}

static double py(const frame *fr, double y)
{
    double u = fr->y_max > 0 ? y / fr->y_max : 0;
    return CHART_H - MARGIN_BOTTOM - u * (CHART_H - MARGIN_TOP - MARGIN_BOTTOM);
}

/* The ranges of all series; returns the number of points. */
static size_t chart_frame(const rp_html_chart *c, frame *fr)
{
    size_t points = 0;
    fr->percentile_axis = c->x_axis == RP_HTML_X_PERCENTILE;
    fr->x_min = INFINITY;
    fr->x_max = -INFINITY;
    fr->y_max = 0;
    for (size_t s = 0; s < c->series_count; s++) {
        const rp_html_series *se = &c->series[s];
        for (size_t i = 0; i < se->count; i++) {
            double x = fr->percentile_axis ? nines(se->x[i]) : se->x[i];
            fr->x_min = x < fr->x_min ? x : fr->x_min;
            fr->x_max = x > fr->x_max ? x : fr->x_max;
            fr->y_max = se->y[i] > fr->y_max ? se->y[i] : fr->y_max;
        }
        points += se->count;
    }
    if (points == 0 || fr->percentile_axis) {
        fr->x_min = 0;
        fr->x_max = fr->percentile_axis && points ? ceil(fr->x_max) : 1;
    }
    if (fr->x_max <= fr->x_min)
        fr->x_max = fr->x_min + 1;
    double step = nice_step(fr->y_max, 5);
    fr->y_max = fr->y_max > 0 ? ceil(fr->y_max / step) * step : 1;
    return points;
}

static void chart_axes(FILE *f, const rp_html_chart *c, const frame *fr)
{
    double left = MARGIN_LEFT, right = CHART_W - MARGIN_RIGHT;
    double top = MARGIN_TOP, bottom = CHART_H - MARGIN_BOTTOM;
    double ystep = nice_step(fr->y_max, 5);
    for (double y = 0; y <= fr->y_max + ystep / 2; y += ystep) {
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", left, py(fr, y),
                right, py(fr, y), left - 6, py(fr, y) + 4, y);
    }

    if (fr->percentile_axis) {
        static const char *labels[] = { "0%", "90%", "99%", "99.9%", "99.99%", "99.999%" };
        for (int t = 0; t <= (int)fr->x_max && t <= (int)MAX_NINES; t++) {
            double x = left + (t - fr->x_min) / (fr->x_max - fr->x_min) * (right - left);
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                    x, top, x, bottom, x, bottom + 16, labels[t]);
        }
    } else {
        double xstep = nice_step(fr->x_max - fr->x_min, 8);
        for (double x = ceil(fr->x_min / xstep) * xstep; x <= fr->x_max + xstep / 1e6; x += xstep)
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                    px(fr, x), top, px(fr, x), bottom, px(fr, x), bottom + 16, x);
    }

    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
            "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            left, bottom, right, bottom, left, top, left, bottom);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (left + right) / 2,
            CHART_H - 8);
    rp_html_text(f, c->x_label);
    fprintf(f, "</text><text transform=\"translate(14 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">", (top + bottom) / 2);
    rp_html_text(f, c->y_label);
    fputs("</text>\n", f);
}

static void chart_legend(FILE *f, const rp_html_chart *c)
{
    double x = CHART_W - MARGIN_RIGHT;
    for (size_t s = c->series_count; s-- > 0;) {
        const rp_html_series *se = &c->series[s];
        x -= 12 + 7.0 * (double)strlen(se->name) + 14;
        fprintf(f, "<rect x=\"%.1f\" y=\"12\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"21\">", x, se->color, x + 14);
        rp_html_text(f, se->name);
        fputs("</text>\n", f);
    }
}

void rp_html_chart_write(FILE *f, const rp_html_chart *c)
{
    frame fr;
    size_t points = chart_frame(c, &fr);
    fprintf(f, "<figure>\n<svg data-chart=\"%s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" role=\"img\" aria-label=\"", c->id, CHART_W, CHART_H, CHART_W, CHART_H);
    rp_html_text(f, c->title);
    fputs("\">\n<text class=\"title\" x=\"8\" y=\"20\">", f);
    rp_html_text(f, c->title);
    fputs("</text>\n", f);
    chart_axes(f, c, &fr);
    chart_legend(f, c);

    for (size_t s = 0; s < c->series_count; s++) {
        const rp_html_series *se = &c->series[s];
        fprintf(f, "<polyline data-series=\"");
        rp_html_text(f, se->name);
        fprintf(f, "\" data-points=\"%zu\" stroke=\"%s\" points=\"", se->count, se->color);
        for (size_t i = 0; i < se->count; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(&fr, se->x[i]), py(&fr, se->y[i]));
        fputs("\"/>\n", f);
        for (size_t i = 0; se->markers && i < se->count; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    px(&fr, se->x[i]), py(&fr, se->y[i]), se->color);
    }
    if (points == 0)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>\n",
                CHART_W / 2, CHART_H / 2);
    fputs("</svg>\n</figure>\n", f);
}

size_t rp_html_percentile_curve(const rp_hist *h, double *x, double *y, size_t max)
{
    if (h == NULL || rp_hist_count(h) == 0 || max < 2)
        return 0;
    /* A run of n values resolves percentiles up to about 1 - 1/n. */
    double top = log10((double)rp_hist_count(h));
    if (top > MAX_NINES)
        top = MAX_NINES;
    if (top < 1)
        top = 1;
    size_t n = 0;
    for (size_t i = 0; i < max; i++) {
        double t = top * (double)i / (double)(max - 1);
        double p = 100.0 - 100.0 / pow(10, t);
        x[n] = p;
        y[n] = (double)rp_hist_percentile(h, p) / 1000.0;
        n++;
    }
    return n;
}

/* ---- the run report ---- */

static const char *json_str(const json_t *report, const char *key, const char *sub)
{
    const json_t *v = json_object_get(report, key);
    if (sub != NULL)
        v = json_object_get(v, sub);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void summary_row(FILE *f, const char *label, const char *key, double value,
                        const char *shown)
{
    fprintf(f, "<tr><td class=\"name\">%s</td><td data-key=\"%s\" data-value=\"%.6g\">%s</td>"
            "</tr>\n", label, key, value, shown);
}

static void time_row(FILE *f, const char *label, const char *key, uint64_t us)
{
    char buf[32];
    summary_row(f, label, key, (double)us, rp_results_fmt_us(us, buf, sizeof buf));
}

static void write_summary(FILE *f, const rp_results *r)
{
    const rp_results_group *t = rp_results_total(r);
    double secs = rp_results_duration_s(r);
    uint64_t completed = 0;
    for (int k = RP_RES_RESPONSE; k <= RP_RES_CLIENT; k++)
        completed += t->kinds[k];
    char buf[64];

    fputs("<h2>Summary</h2>\n<table id=\"summary\"><tr><th class=\"name\">figure</th>"
          "<th>value</th></tr>\n", f);
    snprintf(buf, sizeof buf, "%" PRIu64, t->requests);
    summary_row(f, "requests due", "requests", (double)t->requests, buf);
    snprintf(buf, sizeof buf, "%" PRIu64, t->responses);
    summary_row(f, "responses", "responses", (double)t->responses, buf);
    snprintf(buf, sizeof buf, "%" PRIu64, t->failures);
    summary_row(f, "failures", "failures", (double)t->failures, buf);
    snprintf(buf, sizeof buf, "%.2f%%", 100.0 * rp_results_error_rate(t));
    summary_row(f, "error rate", "error_rate", rp_results_error_rate(t), buf);
    snprintf(buf, sizeof buf, "%.3fs", secs);
    summary_row(f, "duration", "duration_s", secs, buf);
    snprintf(buf, sizeof buf, "%.1f/s", secs > 0 ? (double)completed / secs : 0);
    summary_row(f, "completed per second", "rps", secs > 0 ? (double)completed / secs : 0, buf);
    time_row(f, "response time p50", "p50_us", rp_results_percentile(t->response_time, 50));
    time_row(f, "response time p95", "p95_us", rp_results_percentile(t->response_time, 95));
    time_row(f, "response time p99", "p99_us", rp_results_percentile(t->response_time, 99));
    time_row(f, "response time max", "max_us",
             t->response_time && rp_hist_count(t->response_time) ? rp_hist_max(t->response_time) : 0);
    time_row(f, "service time p95", "service_p95_us", rp_results_percentile(t->service_time, 95));
    time_row(f, "send lag p99", "send_lag_p99_us", rp_results_percentile(rp_results_send_lag(r), 99));
    fputs("</table>\n", f);
}

/* Series over the seconds: x is seconds since the first second. */
typedef struct time_series {
    size_t n;
    double *x;
    double *y[8];
} time_series;

static int time_series_alloc(time_series *ts, size_t n, int lines)
{
    memset(ts, 0, sizeof *ts);
    ts->n = n;
    ts->x = calloc(n ? n : 1, sizeof *ts->x);
    int ok = ts->x != NULL;
    for (int i = 0; i < lines; i++)
        ok = ok && (ts->y[i] = calloc(n ? n : 1, sizeof *ts->y[i])) != NULL;
    return ok ? 0 : -1;
}

static void time_series_free(time_series *ts)
{
    free(ts->x);
    for (int i = 0; i < 8; i++)
        free(ts->y[i]);
}

static void write_time_charts(FILE *f, const time_series *ts)
{
    rp_html_series lat[] = {
        { "p50", "#1f77b4", ts->x, ts->y[0], ts->n, 0 },
        { "p95", "#ff7f0e", ts->x, ts->y[1], ts->n, 0 },
        { "p99", "#d62728", ts->x, ts->y[2], ts->n, 0 },
    };
    rp_html_chart c = { "latency-over-time", "Response time percentiles per second",
                        "seconds since start", "milliseconds", RP_HTML_X_LINEAR, lat, 3 };
    rp_html_chart_write(f, &c);

    rp_html_series rates[] = {
        { "due/s", "#7f7f7f", ts->x, ts->y[3], ts->n, 0 },
        { "sent/s", "#2ca02c", ts->x, ts->y[4], ts->n, 0 },
        { "completed/s", "#1f77b4", ts->x, ts->y[5], ts->n, 0 },
        { "in flight", "#9467bd", ts->x, ts->y[6], ts->n, 0 },
    };
    c = (rp_html_chart){ "rates-over-time", "Requests per second and in flight",
                         "seconds since start", "requests", RP_HTML_X_LINEAR, rates, 4 };
    rp_html_chart_write(f, &c);
}

static void write_error_chart(FILE *f, const rp_results *r, const time_series *ts)
{
    static const char *colors[] = { "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                                    "#17becf", "#7f7f7f" };
    static const int kinds[] = { RP_RES_CONNECT, RP_RES_TIMEOUT, RP_RES_RESET, RP_RES_OTHER,
                                 RP_RES_CLIENT, RP_RES_NOT_SENT };
    double *y[7] = { ts->y[7] };
    rp_html_series lines[7] = { { "failures/s", colors[0], ts->x, ts->y[7], ts->n, 0 } };
    size_t count = 1;
    const rp_results_group *t = rp_results_total(r);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (t->kinds[kinds[k]] == 0)
            continue;
        y[count] = calloc(ts->n ? ts->n : 1, sizeof *y[count]);
        if (y[count] == NULL)
            break;
        for (size_t i = 0; i < ts->n; i++)
            y[count][i] = (double)rp_results_second_at(r, i)->kinds[kinds[k]];
        lines[count] = (rp_html_series){ rp_results_kind_name(kinds[k]), colors[count], ts->x,
                                         y[count], ts->n, 0 };
        count++;
    }
    rp_html_chart c = { "errors-over-time", "Failures and errors per second",
                        "seconds since start", "requests", RP_HTML_X_LINEAR, lines, count };
    rp_html_chart_write(f, &c);
    for (size_t i = 1; i < count; i++)
        free(y[i]);
}

static int write_charts(FILE *f, const rp_results *r)
{
    double cx[201], cy[201];
    const rp_results_group *t = rp_results_total(r);
    size_t n = rp_html_percentile_curve(t->response_time, cx, cy, 201);
    rp_html_series curve = { "response time", "#1f77b4", cx, cy, n, 0 };
    rp_html_chart c = { "percentile-curve", "Response time by percentile (whole run)",
                        "percentile", "milliseconds", RP_HTML_X_PERCENTILE, &curve, 1 };
    fputs("<h2>Latency and rates</h2>\n", f);
    rp_html_chart_write(f, &c);

    time_series ts;
    size_t seconds = rp_results_second_count(r);
    if (time_series_alloc(&ts, seconds, 8) != 0) {
        time_series_free(&ts);
        return -1;
    }
    int64_t start = seconds ? rp_results_second_at(r, 0)->epoch_s : 0;
    for (size_t i = 0; i < seconds; i++) {
        const rp_results_second *s = rp_results_second_at(r, i);
        ts.x[i] = (double)(s->epoch_s - start);
        ts.y[0][i] = (double)s->rt_p50_us / 1000.0;
        ts.y[1][i] = (double)s->rt_p95_us / 1000.0;
        ts.y[2][i] = (double)s->rt_p99_us / 1000.0;
        ts.y[3][i] = (double)s->due;
        ts.y[4][i] = (double)s->sent;
        ts.y[5][i] = (double)s->completed;
        ts.y[6][i] = (double)s->in_flight;
        ts.y[7][i] = (double)s->failures;
    }
    write_time_charts(f, &ts);
    fputs("<h2>Errors</h2>\n", f);
    write_error_chart(f, r, &ts);
    time_series_free(&ts);
    return 0;
}

static void group_cells(FILE *f, const rp_results_group *g)
{
    char p50[24], p95[24], p99[24];
    int has = g->response_time != NULL && rp_hist_count(g->response_time) > 0;
    double rate = rp_results_error_rate(g);
    fprintf(f, "<td>%" PRIu64 "</td><td>%s</td><td>%s</td><td>%s</td>"
            "<td class=\"%s\" data-value=\"%.6g\">%.2f%%</td>", g->requests,
            has ? rp_results_fmt_us(rp_results_percentile(g->response_time, 50), p50, sizeof p50) : "-",
            has ? rp_results_fmt_us(rp_results_percentile(g->response_time, 95), p95, sizeof p95) : "-",
            has ? rp_results_fmt_us(rp_results_percentile(g->response_time, 99), p99, sizeof p99) : "-",
            rate > 0 ? "bad" : "good", rate, 100.0 * rate);
}

static void endpoint_row(FILE *f, const rp_results_group *g)
{
    fputs("<tr><td class=\"name\">", f);
    rp_html_text(f, g->method);
    fputs("</td><td class=\"name\">", f);
    rp_html_text(f, g->name);
    fputs("</td>", f);
    group_cells(f, g);
    fputs("</tr>\n", f);
}

static void write_tables(FILE *f, const rp_results *r, size_t top)
{
    size_t n = rp_results_endpoint_count(r);
    size_t named = 0;
    while (named < n && strcmp(rp_results_endpoint(r, named)->name, RP_RESULTS_OTHER) != 0)
        named++;
    size_t shown = named < top ? named : top;

    fprintf(f, "<h2>Endpoints</h2>\n<p class=\"meta\">The %zu endpoints with the most "
            "requests%s. Response time from the due time.</p>\n", shown,
            n > shown ? "; the rest in (other)" : "");
    fputs("<table id=\"endpoints\"><tr><th class=\"name\">method</th><th class=\"name\">"
          "endpoint</th><th>requests</th><th>p50</th><th>p95</th><th>p99</th>"
          "<th>error rate</th></tr>\n", f);
    for (size_t i = 0; i < shown; i++)
        endpoint_row(f, rp_results_endpoint(r, i));
    if (n > shown) {
        rp_results_group *rest = rp_results_endpoints_from(r, shown);
        if (rest != NULL)
            endpoint_row(f, rest);
        rp_results_group_free(rest);
    }
    fputs("</table>\n", f);

    fputs("<h2>Status classes</h2>\n<table id=\"status-classes\"><tr><th class=\"name\">"
          "class</th><th>responses</th><th>p50</th><th>p95</th><th>p99</th>"
          "<th>failing</th></tr>\n", f);
    for (int c = 0; c < RP_RESULTS_CLASSES; c++) {
        const rp_results_group *g = rp_results_status_class(r, c);
        if (g->responses == 0)
            continue;
        fprintf(f, "<tr><td class=\"name\">%s</td>", g->name);
        group_cells(f, g);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void write_header(FILE *f, const json_t *report)
{
    const char *trace = json_str(report, "setup", "trace");
    const char *target = json_str(report, "setup", "target");
    const char *start = json_str(report, "start_time", NULL);
    const char *transport = json_str(report, "transport", NULL);
    fputs("<h1>reprise run report</h1>\n", f);
    if (trace || target) {
        fputs("<p class=\"meta\">Replay of <b>", f);
        rp_html_text(f, trace ? trace : "?");
        fputs("</b> to <b>", f);
        rp_html_text(f, target ? target : "?");
        fputs("</b></p>\n", f);
    }
    if (start || transport) {
        fputs("<p class=\"meta\">Started ", f);
        rp_html_text(f, start ? start : "(unknown)");
        if (transport) {
            fputs(", transport ", f);
            rp_html_text(f, transport);
        }
        if (json_is_true(json_object_get(report, "interrupted")))
            fputs(", <b>interrupted</b>", f);
        fputs("</p>\n", f);
    }
}

int rp_html_report_write(const char *path, rp_results *r, const json_t *report,
                         const char *const *threshold_lines, size_t threshold_count,
                         size_t top, char *err, size_t errlen)
{
    rp_results_finish(r);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    rp_html_begin(f, "reprise run report");
    write_header(f, report);
    write_summary(f, r);
    if (threshold_count > 0) {
        fputs("<h2>Thresholds</h2>\n<ul class=\"thresholds\" id=\"thresholds\">\n", f);
        for (size_t i = 0; i < threshold_count; i++) {
            fprintf(f, "<li class=\"%s\">", strncmp(threshold_lines[i], "FAIL", 4) == 0
                    ? "fail" : "pass");
            rp_html_text(f, threshold_lines[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    int rc = write_charts(f, r);
    write_tables(f, r, top);
    return rp_html_end(f, path, rc != 0, err, errlen);
}
