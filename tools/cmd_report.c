/* reprise report: shows a saved JSON run report, checks thresholds
 * against it and converts it to HTML, CSV and HdrHistogram log files. A
 * capacity report from reprise ramp is shown and converted to HTML or
 * Markdown. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/capacity.h"
#include "formats/html_report.h"
#include "formats/results_json.h"
#include "formats/results_out.h"
#include "tools/cli.h"
#include "tools/results_cli.h"

#define TOP_LIMIT 10000

typedef struct report_opts {
    const char *input;
    const char *html;
    const char *markdown;        /* capacity reports only */
    const char *csv_prefix;
    const char *series_csv;
    const char *hlog;
    size_t top;
    rp_cli_thresholds thresholds;
} report_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise report RUN.json [options]\n"
        "       reprise report CAPACITY.json [--html FILE] [--markdown FILE]\n"
        "\n"
        "Shows the results of a run report written by 'reprise replay --report' or\n"
        "'reprise merge-reports', checks thresholds against it, and writes it in\n"
        "other formats. A capacity report from 'reprise ramp --report' is shown\n"
        "and written as HTML or Markdown.\n"
        "\n"
        "  --html FILE            a self-contained HTML report (charts and tables, no\n"
        "                         network access needed to open it)\n"
        "  --markdown FILE        capacity reports: the report as Markdown\n"
        "  --csv PREFIX           Locust's CSV layout: PREFIX_stats.csv,\n"
        "                         PREFIX_stats_history.csv, PREFIX_failures.csv\n"
        "  --series-csv FILE      the per-second series as CSV\n"
        "  --hlog FILE            response time per second as an HdrHistogram interval\n"
        "                         log (format 1.3, values in microseconds)\n"
        "  --fail-if EXPR         a threshold, e.g. 'p95 > 250ms', 'error_rate > 1%%' or\n"
        "                         k6's 'p(95)<250'; repeatable (docs/thresholds.md)\n"
        "  --top N                endpoints shown in tables (default %d)\n"
        "\n"
        "Exit status: 0, or %d when a --fail-if threshold failed, 1 when the report\n"
        "cannot be read or a file cannot be written, 2 for a usage error.\n",
        RP_RESULTS_DEFAULT_TOP, RP_EXIT_THRESHOLD);
}

enum { OPT_HTML = 1000, OPT_MARKDOWN, OPT_CSV, OPT_SERIES_CSV, OPT_HLOG, OPT_FAIL_IF, OPT_TOP, OPT_HELP };

static const struct option long_opts[] = {
    { "html", required_argument, NULL, OPT_HTML },
    { "markdown", required_argument, NULL, OPT_MARKDOWN },
    { "csv", required_argument, NULL, OPT_CSV },
    { "series-csv", required_argument, NULL, OPT_SERIES_CSV },
    { "hlog", required_argument, NULL, OPT_HLOG },
    { "fail-if", required_argument, NULL, OPT_FAIL_IF },
    { "top", required_argument, NULL, OPT_TOP },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

static int parse_top(const char *verb, const char *arg, size_t *top)
{
    double d;
    if (rp_cli_parse_double(arg, &d) != 0 || d < 1 || d > TOP_LIMIT || d != (double)(size_t)d) {
        fprintf(stderr, "reprise %s: invalid --top '%s': expected a whole number from 1 to %d\n",
                verb, arg, TOP_LIMIT);
        return RP_EXIT_USAGE;
    }
    *top = (size_t)d;
    return 0;
}

/* Parses argv into o. Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, report_opts *o)
{
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'h':
        case OPT_HELP: usage(stdout); return RP_EXIT_OK;
        case OPT_HTML: o->html = optarg; break;
        case OPT_MARKDOWN: o->markdown = optarg; break;
        case OPT_CSV: o->csv_prefix = optarg; break;
        case OPT_SERIES_CSV: o->series_csv = optarg; break;
        case OPT_HLOG: o->hlog = optarg; break;
        case OPT_FAIL_IF: rc = rp_cli_thresholds_add(&o->thresholds, "report", optarg); break;
        case OPT_TOP: rc = parse_top("report", optarg, &o->top); break;
        default:
            fprintf(stderr, "reprise report: %s option '%s'; run 'reprise report --help' for "
                    "the list\n", opt == ':' ? "missing value for" : "unknown", argv[optind - 1]);
            return RP_EXIT_USAGE;
        }
        if (rc != 0)
            return rc;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "reprise report: expected one RUN.json, got %d; usage: reprise report "
                "RUN.json [--html OUT.html] [--fail-if EXPR]...\n", argc - optind);
        return RP_EXIT_USAGE;
    }
    o->input = argv[optind];
    return -1;
}

static void print_header(const char *path, const json_t *report, const rp_results *r)
{
    const json_t *setup = json_object_get(report, "setup");
    const char *trace = json_string_value(json_object_get(setup, "trace"));
    const char *target = json_string_value(json_object_get(setup, "target"));
    const char *start = json_string_value(json_object_get(report, "start_time"));
    printf("run report %s", path);
    if (trace != NULL && target != NULL)
        printf(": replay of %s to %s", trace, target);
    printf("%s%s, %.3fs%s\n", start ? ", started " : "", start ? start : "",
           rp_results_duration_s(r),
           json_is_true(json_object_get(report, "interrupted")) ? ", interrupted" : "");

    const rp_results_group *t = rp_results_total(r);
    uint64_t completed = 0;
    for (int k = RP_RES_RESPONSE; k <= RP_RES_CLIENT; k++)
        completed += t->kinds[k];
    double secs = rp_results_duration_s(r);
    printf("  requests    due %" PRIu64 ", completed %" PRIu64 ", responses %" PRIu64
           ", %.1f completed/s\n", t->requests, completed, t->responses,
           secs > 0 ? (double)completed / secs : 0.0);
}

/* Writes every file asked for. Returns 0 or RP_EXIT_FAIL. */
static int write_outputs(report_opts *o, rp_results *r, const json_t *report)
{
    char err[512];
    int rc = 0;
    if (o->csv_prefix != NULL)
        rc = rp_results_write_locust_csv(r, o->csv_prefix, err, sizeof err);
    if (rc == 0 && o->series_csv != NULL)
        rc = rp_results_write_series_csv(r, o->series_csv, err, sizeof err);
    if (rc == 0 && o->hlog != NULL)
        rc = rp_results_write_hlog(r, o->hlog, err, sizeof err);
    if (rc == 0 && o->html != NULL)
        rc = rp_html_report_write(o->html, r, report,
                                  (const char *const *)o->thresholds.lines, o->thresholds.count,
                                  o->top, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "reprise report: %s; check the path and its directory's permissions\n", err);
        return RP_EXIT_FAIL;
    }
    return 0;
}

/* A capacity report: the step table and summary, then HTML or Markdown. */
static int capacity_report(const report_opts *o)
{
    if (o->csv_prefix != NULL || o->series_csv != NULL || o->hlog != NULL ||
        o->thresholds.count > 0) {
        fprintf(stderr, "reprise report: %s is a capacity report from reprise ramp; it "
                "takes --html and --markdown only (--csv, --series-csv, --hlog and "
                "--fail-if need a run report from reprise replay)\n", o->input);
        return RP_EXIT_USAGE;
    }
    char err[1024];
    rp_capacity *c = malloc(sizeof *c);
    if (c == NULL || rp_capacity_read_json(c, o->input, err, sizeof err) != 0) {
        fprintf(stderr, "reprise report: %s\n", c != NULL ? err : "out of memory");
        free(c);
        return RP_EXIT_FAIL;
    }
    printf("capacity report %s: ramp of %s to %s\n", o->input, c->trace, c->target);
    rp_capacity_print_header(stdout, c->unit);
    for (size_t i = 0; i < c->step_count; i++)
        rp_capacity_print_step(stdout, c, i);
    rp_capacity_print_summary(stdout, c);
    int rc = 0;
    if (o->html != NULL)
        rc = rp_capacity_write_html(c, o->html, err, sizeof err);
    if (rc == 0 && o->markdown != NULL)
        rc = rp_capacity_write_markdown(c, o->markdown, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "reprise report: %s; check the path and its directory's "
                "permissions\n", err);
    rp_capacity_free(c);
    free(c);
    return rc != 0 ? RP_EXIT_FAIL : RP_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
    report_opts o = { .top = RP_RESULTS_DEFAULT_TOP };
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        rp_cli_thresholds_free(&o.thresholds);
        return rc;
    }
    if (rp_capacity_is_report(o.input)) {
        rc = capacity_report(&o);
        rp_cli_thresholds_free(&o.thresholds);
        return rc;
    }
    if (o.markdown != NULL) {
        fprintf(stderr, "reprise report: --markdown writes capacity reports from reprise "
                "ramp; %s is not one (for a run report, use --html)\n", o.input);
        rp_cli_thresholds_free(&o.thresholds);
        return RP_EXIT_USAGE;
    }

    char err[1024];
    json_t *report = NULL;
    rp_results *r = NULL;
    int load = rp_results_load_report(o.input, &report, err, sizeof err);
    if (load != 0 || rp_results_from_json(report, o.input, &r, err, sizeof err) != 0) {
        fprintf(stderr, "reprise report: %s%s\n", err, load == -2
                ? " and not a capacity report (no \"capacity\" and \"steps\"); reprise report "
                  "reads the JSON of reprise replay --report and of reprise ramp --report" : "");
        json_decref(report);
        rp_cli_thresholds_free(&o.thresholds);
        return RP_EXIT_FAIL;
    }

    print_header(o.input, report, r);
    rp_cli_print_results(r, stdout, o.top);
    int failed = rp_cli_thresholds_check(&o.thresholds, r, stdout);
    if (failed < 0) {
        fprintf(stderr, "reprise report: out of memory checking thresholds\n");
        rc = RP_EXIT_FAIL;
    } else {
        rc = write_outputs(&o, r, report);
        if (rc == 0 && failed > 0) {
            fprintf(stderr, "reprise report: %d of %zu thresholds failed\n", failed,
                    o.thresholds.count);
            rc = RP_EXIT_THRESHOLD;
        }
    }
    fflush(stdout);
    rp_results_free(r);
    json_decref(report);
    rp_cli_thresholds_free(&o.thresholds);
    return rc;
}
