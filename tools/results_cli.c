#include "tools/results_cli.h"

#include <stdlib.h>
#include <string.h>

#include "formats/results_out.h"
#include "tools/cli.h"

int rp_cli_thresholds_add(rp_cli_thresholds *t, const char *verb, const char *text)
{
    rp_threshold th;
    char err[1024];
    if (rp_threshold_parse(text, &th, err, sizeof err) != 0) {
        fprintf(stderr, "reprise %s: %s\n%s\n", verb, err, rp_threshold_grammar());
        return RP_EXIT_USAGE;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        rp_threshold *items = realloc(t->items, cap * sizeof *items);
        if (items == NULL) {
            fprintf(stderr, "reprise %s: out of memory\n", verb);
            return RP_EXIT_FAIL;
        }
        t->items = items;
        t->cap = cap;
    }
    t->items[t->count++] = th;
    return 0;
}

int rp_cli_thresholds_check(rp_cli_thresholds *t, const rp_results *r, FILE *out)
{
    if (t->count == 0)
        return 0;
    free(t->lines);
    t->lines = calloc(t->count, sizeof *t->lines);
    if (t->lines == NULL)
        return -1;

    int failed = 0;
    fprintf(out, "  thresholds\n");
    for (size_t i = 0; i < t->count; i++) {
        rp_threshold_outcome o;
        if (rp_threshold_evaluate(&t->items[i], r, &o) != 0)
            return -1;
        char line[1024];
        rp_threshold_describe(&t->items[i], &o, line, sizeof line);
        t->lines[i] = strdup(line);
        if (t->lines[i] == NULL)
            return -1;
        fprintf(out, "    %s\n", line);
        failed += o.failed;
    }
    return failed;
}

void rp_cli_thresholds_free(rp_cli_thresholds *t)
{
    for (size_t i = 0; t->lines != NULL && i < t->count; i++)
        free(t->lines[i]);
    free(t->lines);
    free(t->items);
    memset(t, 0, sizeof *t);
}

static void latency_row(FILE *out, const char *name, const rp_hist *h)
{
    static const double pcts[] = { 50, 90, 95, 99, 99.9 };
    char buf[32];
    fprintf(out, "  %-12s", name);
    if (h == NULL || rp_hist_count(h) == 0) {
        fprintf(out, " (none)\n");
        return;
    }
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        fprintf(out, " %9s", rp_results_fmt_us(rp_hist_percentile(h, pcts[i]), buf, sizeof buf));
    fprintf(out, " %9s\n", rp_results_fmt_us(rp_hist_max(h), buf, sizeof buf));
}

void rp_cli_print_latency(const rp_results *r, FILE *out)
{
    const rp_results_group *t = rp_results_total(r);
    fprintf(out, "  %-12s %9s %9s %9s %9s %9s %9s\n", "", "p50", "p90", "p95", "p99", "p99.9",
            "max");
    latency_row(out, "response", t->response_time);
    latency_row(out, "service", t->service_time);
    latency_row(out, "first byte", t->ttfb);
    latency_row(out, "send lag", rp_results_send_lag(r));
    fprintf(out, "              (response time from the due time, service time and first "
            "byte from the actual send)\n");
}

void rp_cli_print_results(const rp_results *r, FILE *out, size_t top)
{
    rp_cli_print_latency(r, out);
    rp_results_print_failures(r, out);
    rp_results_print_endpoints(r, out, top);
}
