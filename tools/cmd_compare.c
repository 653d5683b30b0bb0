/* reprise compare: two run reports side by side, overall and per endpoint,
 * with regressions flagged when beyond the tolerance and unlikely to be
 * noise (formats/compare.h states the tests). */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/compare.h"
#include "formats/html_report.h"
#include "formats/results_json.h"
#include "formats/results_out.h"
#include "tools/cli.h"

/* Exit codes, as diff(1) has them. */
enum { EXIT_SAME = 0, EXIT_REGRESSION = 1, EXIT_TROUBLE = 2 };

typedef struct compare_opts {
    const char *base_path, *cand_path;
    const char *html;
    int markdown;
    rp_compare_opts cmp;
} compare_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise compare BASE.json CANDIDATE.json [options]\n"
        "\n"
        "Compares two run reports: p50, p95, p99 of response time and the error rate,\n"
        "overall and per endpoint, with absolute and relative change. A change is a\n"
        "regression when it exceeds the tolerance and a one-sided test finds it unlikely\n"
        "to be noise: Mann-Whitney U on per-second percentiles (overall, when each\n"
        "run has %d seconds with %d or more responses), else non-overlapping\n"
        "order-statistic confidence intervals; a two-proportion z test for error\n"
        "rates. Each of the m rows is tested at alpha / m, so alpha bounds the chance\n"
        "of any false alarm.\n"
        "\n"
        "  --tolerance X          relative latency change allowed, e.g. 10%% or 0.1\n"
        "                         (default 10%%)\n"
        "  --error-tolerance X    error-rate rise allowed, in percentage points, e.g.\n"
        "                         0.5%% or 0.005 (default 0.5%%)\n"
        "  --alpha X              significance level of the whole comparison, 0.0001 to\n"
        "                         0.5 (default 0.01)\n"
        "  --top N                endpoints compared, by base requests (default 10)\n"
        "  --markdown             print a Markdown table instead of the terminal table\n"
        "  --html FILE            also write a self-contained HTML comparison\n"
        "\n"
        "Exit status: 0 when no regression is found, 1 when at least one is, 2 for a\n"
        "usage error or a report that cannot be read (or a file that cannot be written).\n",
        RP_COMPARE_MIN_SECONDS, RP_COMPARE_MIN_SECOND_RESPONSES);
}

/* "10%" is 0.1; "0.1" too. */
static int parse_fraction(const char *text, double max, double *out)
{
    char number[64];
    size_t len = strlen(text);
    int percent = len > 0 && text[len - 1] == '%';
    snprintf(number, sizeof number, "%.*s", (int)(percent ? len - 1 : len), text);
    double v;
    if (rp_cli_parse_double(number, &v) != 0)
        return -1;
    if (percent)
        v /= 100.0;
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

enum { OPT_TOLERANCE = 1000, OPT_ERROR_TOLERANCE, OPT_ALPHA, OPT_TOP, OPT_MARKDOWN, OPT_HTML,
       OPT_HELP };

static const struct option long_opts[] = {
    { "tolerance", required_argument, NULL, OPT_TOLERANCE },
    { "error-tolerance", required_argument, NULL, OPT_ERROR_TOLERANCE },
    { "alpha", required_argument, NULL, OPT_ALPHA },
    { "top", required_argument, NULL, OPT_TOP },
    { "markdown", no_argument, NULL, OPT_MARKDOWN },
    { "html", required_argument, NULL, OPT_HTML },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

static int bad_value(const char *option, const char *value, const char *expected)
{
    fprintf(stderr, "reprise compare: invalid %s '%s': expected %s\n", option, value, expected);
    return EXIT_TROUBLE;
}

static int apply_option(compare_opts *o, int opt, const char *arg)
{
    double d;
    switch (opt) {
    case OPT_TOLERANCE:
        if (parse_fraction(arg, 10, &o->cmp.tolerance) != 0)
            return bad_value("--tolerance", arg, "a percentage such as 10% or a fraction such as 0.1");
        return 0;
    case OPT_ERROR_TOLERANCE:
        if (parse_fraction(arg, 1, &o->cmp.error_tolerance) != 0)
            return bad_value("--error-tolerance", arg, "percentage points such as 0.5% or a "
                             "fraction such as 0.005");
        return 0;
    case OPT_ALPHA:
        if (rp_cli_parse_double(arg, &d) != 0 || d < 0.0001 || d > 0.5)
            return bad_value("--alpha", arg, "a number from 0.0001 to 0.5, such as 0.01");
        o->cmp.alpha = d;
        return 0;
    case OPT_TOP:
        if (rp_cli_parse_double(arg, &d) != 0 || d < 1 || d > 10000 || d != (double)(size_t)d)
            return bad_value("--top", arg, "a whole number from 1 to 10000");
        o->cmp.top = (size_t)d;
        return 0;
    case OPT_MARKDOWN:
        o->markdown = 1;
        return 0;
    case OPT_HTML:
        o->html = arg;
        return 0;
    default:
        return EXIT_TROUBLE;
    }
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, compare_opts *o)
{
    rp_compare_opts_init(&o->cmp);
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            usage(stdout);
            return EXIT_SAME;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "reprise compare: %s option '%s'; run 'reprise compare --help' for "
                    "the list\n", opt == ':' ? "missing value for" : "unknown", argv[optind - 1]);
            return EXIT_TROUBLE;
        }
        int rc = apply_option(o, opt, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind != argc - 2) {
        fprintf(stderr, "reprise compare: expected two reports, BASE.json and CANDIDATE.json, "
                "got %d\n", argc - optind);
        return EXIT_TROUBLE;
    }
    o->base_path = argv[optind];
    o->cand_path = argv[optind + 1];
    return -1;
}

/* ---- cells ---- */

static const char *verdict_text(int v)
{
    switch (v) {
    case RP_CMP_REGRESSION: return "REGRESSION";
    case RP_CMP_IMPROVED: return "improved";
    case RP_CMP_NOISE: return "noise";
    case RP_CMP_NO_DATA: return "no data";
    default: return "ok";
    }
}

static void value_text(const rp_compare_row *row, double v, char *buf, size_t len)
{
    if (row->verdict == RP_CMP_NO_DATA)
        snprintf(buf, len, "-");
    else if (row->is_rate)
        snprintf(buf, len, "%.2f%%", 100.0 * v);
    else
        rp_results_fmt_us((uint64_t)llround(v), buf, len);
}

static void change_text(const rp_compare_row *row, char *buf, size_t len)
{
    char abs_buf[32];
    if (row->verdict == RP_CMP_NO_DATA) {
        snprintf(buf, len, "-");
        return;
    }
    if (row->is_rate) {
        snprintf(buf, len, "%+.2f pts", 100.0 * row->change);
        return;
    }
    rp_results_fmt_us((uint64_t)llround(fabs(row->change)), abs_buf, sizeof abs_buf);
    if (row->base > 0)
        snprintf(buf, len, "%s%s (%+.1f%%)", row->change < 0 ? "-" : "+", abs_buf,
                 100.0 * row->rel_change);
    else
        snprintf(buf, len, "%s%s", row->change < 0 ? "-" : "+", abs_buf);
}

static void test_text(const rp_compare_row *row, char *buf, size_t len)
{
    char a[24], b[24], c[24], d[24];
    switch (row->test) {
    case RP_CMP_TEST_U:
        snprintf(buf, len, "U p=%.4f (%zu/%zu s)", row->p_value, row->base_n, row->cand_n);
        break;
    case RP_CMP_TEST_PROPORTIONS:
        snprintf(buf, len, "z p=%.4f", row->p_value);
        break;
    case RP_CMP_TEST_QUANTILE_CI:
        snprintf(buf, len, "CI %s-%s vs %s-%s",
                 rp_results_fmt_us((uint64_t)row->base_lo, a, sizeof a),
                 rp_results_fmt_us((uint64_t)row->base_hi, b, sizeof b),
                 rp_results_fmt_us((uint64_t)row->cand_lo, c, sizeof c),
                 rp_results_fmt_us((uint64_t)row->cand_hi, d, sizeof d));
        break;
    default:
        snprintf(buf, len, "-");
    }
}

static void scope_text(const rp_compare_row *row, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", row->method, row->method[0] ? " " : "", row->scope);
}

typedef struct cells {
    char scope[560], base[32], cand[32], change[48], test[96];
} cells;

static void row_cells(const rp_compare_row *row, cells *c)
{
    scope_text(row, c->scope, sizeof c->scope);
    value_text(row, row->base, c->base, sizeof c->base);
    value_text(row, row->cand, c->cand, sizeof c->cand);
    change_text(row, c->change, sizeof c->change);
    test_text(row, c->test, sizeof c->test);
}

/* ---- outputs ---- */

static void print_intro(FILE *out, const compare_opts *o, const rp_compare *c,
                        const rp_results *base, const rp_results *cand)
{
    fprintf(out, "compare %s (%" PRIu64 " requests, %.1fs) with %s (%" PRIu64 " requests, %.1fs)\n",
            o->base_path, rp_results_total(base)->requests, rp_results_duration_s(base),
            o->cand_path, rp_results_total(cand)->requests, rp_results_duration_s(cand));
    fprintf(out, "tolerance %.3g%% (latency, relative), %.3g points (error rate); one-sided "
            "tests, alpha %g over all rows (%.2g each)\n", 100.0 * o->cmp.tolerance,
            100.0 * o->cmp.error_tolerance, o->cmp.alpha, c->row_alpha);
}

static void print_terminal(FILE *out, const compare_opts *o, const rp_compare *c,
                           const rp_results *base, const rp_results *cand)
{
    print_intro(out, o, c, base, cand);
    fprintf(out, "\n%-36s %-10s %10s %10s  %-20s  %-38s %s\n", "scope", "metric", "base",
            "candidate", "change", "test", "verdict");
    for (size_t i = 0; i < c->count; i++) {
        cells t;
        row_cells(&c->rows[i], &t);
        size_t len = strlen(t.scope);
        fprintf(out, "%-36s %-10s %10s %10s  %-20s  %-38s %s\n",
                len > 36 ? t.scope + len - 36 : t.scope, c->rows[i].metric, t.base, t.cand,
                t.change, t.test, verdict_text(c->rows[i].verdict));
    }
    if (c->only_base || c->only_cand)
        fprintf(out, "\n%zu endpoints only in the base run, %zu only in the candidate (not "
                "compared)\n", c->only_base, c->only_cand);
    fprintf(out, "\n%zu regression%s\n", c->regressions, c->regressions == 1 ? "" : "s");
}

static void md_cell(FILE *out, const char *s)
{
    fputs("| ", out);
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc(' ', out);
}

static void print_markdown(FILE *out, const compare_opts *o, const rp_compare *c,
                           const rp_results *base, const rp_results *cand)
{
    fprintf(out, "### reprise compare\n\n");
    print_intro(out, o, c, base, cand);
    fprintf(out, "\n| scope | metric | base | candidate | change | test | verdict |\n"
                 "|---|---|---:|---:|---:|---|---|\n");
    for (size_t i = 0; i < c->count; i++) {
        cells t;
        row_cells(&c->rows[i], &t);
        md_cell(out, t.scope);
        md_cell(out, c->rows[i].metric);
        md_cell(out, t.base);
        md_cell(out, t.cand);
        md_cell(out, t.change);
        md_cell(out, t.test);
        fprintf(out, "| %s%s%s |\n", c->rows[i].verdict == RP_CMP_REGRESSION ? "**" : "",
                verdict_text(c->rows[i].verdict),
                c->rows[i].verdict == RP_CMP_REGRESSION ? "**" : "");
    }
    fprintf(out, "\n**%zu regression%s**\n", c->regressions, c->regressions == 1 ? "" : "s");
}

static void html_table(FILE *f, const rp_compare *c)
{
    fputs("<table id=\"comparison\"><tr><th class=\"name\">scope</th><th class=\"name\">"
          "metric</th><th>base</th><th>candidate</th><th>change</th><th class=\"name\">test"
          "</th><th class=\"name\">verdict</th></tr>\n", f);
    for (size_t i = 0; i < c->count; i++) {
        const rp_compare_row *row = &c->rows[i];
        cells t;
        row_cells(row, &t);
        fprintf(f, "<tr data-verdict=\"%s\"><td class=\"name\">", verdict_text(row->verdict));
        rp_html_text(f, t.scope);
        fprintf(f, "</td><td class=\"name\">%s</td><td>%s</td><td>%s</td><td>", row->metric,
                t.base, t.cand);
        rp_html_text(f, t.change);
        fputs("</td><td class=\"name\">", f);
        rp_html_text(f, t.test);
        fprintf(f, "</td><td class=\"name%s\">%s</td></tr>\n",
                row->verdict == RP_CMP_REGRESSION ? " bad" : "", verdict_text(row->verdict));
    }
    fputs("</table>\n", f);
}

/* Per-second p95 of a run, x in seconds since its first second. */
static size_t p95_series(const rp_results *r, double *x, double *y, size_t max)
{
    size_t n = rp_results_second_count(r), k = 0;
    int64_t start = n ? rp_results_second_at(r, 0)->epoch_s : 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const rp_results_second *s = rp_results_second_at(r, i);
        if (s->rt_count == 0)
            continue;
        x[k] = (double)(s->epoch_s - start);
        y[k] = (double)s->rt_p95_us / 1000.0;
        k++;
    }
    return k;
}

static int html_charts(FILE *f, const rp_results *base, const rp_results *cand)
{
    double bx[201], by[201], cx[201], cy[201];
    size_t bn = rp_html_percentile_curve(rp_results_total(base)->response_time, bx, by, 201);
    size_t cn = rp_html_percentile_curve(rp_results_total(cand)->response_time, cx, cy, 201);
    rp_html_series curves[] = { { "base", "#1f77b4", bx, by, bn, 0 },
                                { "candidate", "#d62728", cx, cy, cn, 0 } };
    rp_html_chart chart = { "percentile-curve", "Response time by percentile", "percentile",
                            "milliseconds", RP_HTML_X_PERCENTILE, curves, 2 };
    rp_html_chart_write(f, &chart);

    size_t max = rp_results_second_count(base) > rp_results_second_count(cand)
               ? rp_results_second_count(base) : rp_results_second_count(cand);
    double *v = calloc(4 * (max ? max : 1), sizeof *v);
    if (v == NULL)
        return -1;
    size_t n1 = p95_series(base, v, v + max, max);
    size_t n2 = p95_series(cand, v + 2 * max, v + 3 * max, max);
    rp_html_series lines[] = { { "base", "#1f77b4", v, v + max, n1, 0 },
                               { "candidate", "#d62728", v + 2 * max, v + 3 * max, n2, 0 } };
    chart = (rp_html_chart){ "p95-over-time", "p95 response time per second",
                             "seconds since start", "milliseconds", RP_HTML_X_LINEAR, lines, 2 };
    rp_html_chart_write(f, &chart);
    free(v);
    return 0;
}

static int write_html(const compare_opts *o, const rp_compare *c, const rp_results *base,
                      const rp_results *cand)
{
    FILE *f = fopen(o->html, "w");
    if (f == NULL) {
        perror(o->html);
        return -1;
    }
    rp_html_begin(f, "reprise compare");
    fputs("<h1>reprise compare</h1>\n<p class=\"meta\">", f);
    char *intro = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&intro, &len);
    if (mem != NULL) {
        print_intro(mem, o, c, base, cand);
        fclose(mem);
        rp_html_text(f, intro);
        free(intro);
    }
    fprintf(f, "</p>\n<p class=\"meta\" id=\"regressions\" data-count=\"%zu\">%zu regression%s"
            "</p>\n", c->regressions, c->regressions, c->regressions == 1 ? "" : "s");
    html_table(f, c);
    int rc = html_charts(f, base, cand);
    char err[512];
    if (rp_html_end(f, o->html, rc != 0, err, sizeof err) != 0) {
        fprintf(stderr, "reprise compare: %s\n", err);
        return -1;
    }
    return 0;
}

static rp_results *load(const char *path)
{
    char err[1024];
    json_t *report = NULL;
    rp_results *r = NULL;
    if (rp_results_load_report(path, &report, err, sizeof err) != 0 ||
        rp_results_from_json(report, path, &r, err, sizeof err) != 0)
        fprintf(stderr, "reprise compare: %s\n", err);
    json_decref(report);
    return r;
}

int cmd_compare(int argc, char **argv)
{
    compare_opts o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    rp_results *base = load(o.base_path);
    rp_results *cand = base ? load(o.cand_path) : NULL;
    rp_compare c = { 0 };
    if (cand == NULL) {
        rc = EXIT_TROUBLE;
    } else if (rp_compare_run(base, cand, &o.cmp, &c) != 0) {
        fprintf(stderr, "reprise compare: out of memory comparing the runs\n");
        rc = EXIT_TROUBLE;
    } else {
        if (o.markdown)
            print_markdown(stdout, &o, &c, base, cand);
        else
            print_terminal(stdout, &o, &c, base, cand);
        rc = c.regressions > 0 ? EXIT_REGRESSION : EXIT_SAME;
        if (o.html != NULL && write_html(&o, &c, base, cand) != 0)
            rc = EXIT_TROUBLE;
    }
    fflush(stdout);
    rp_compare_free(&c);
    rp_results_free(base);
    rp_results_free(cand);
    return rc;
}
