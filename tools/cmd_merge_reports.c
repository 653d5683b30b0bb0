/* reprise merge-reports: combines the run reports of shards (or of runs
 * to be judged together) into one, with exactly merged histograms. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/results_json.h"
#include "tools/cli.h"

/* Top-level counters of the core report, summed across reports. */
static const char *const sum_keys[] = {
    "requests_due", "requests_sent", "responses", "cancelled", "submit_failed",
    "bytes_received", "gaps_shortened", "trace_damaged_blocks", "max_in_flight",
};
/* Objects of counters, summed member by member. */
static const char *const sum_objects[] = { "errors", "skipped", "status" };

static void usage(FILE *out)
{
    fprintf(out,
        "usage: reprise merge-reports REPORT.json... -o OUT.json\n"
        "\n"
        "Merges run reports, e.g. of the shards of one replay, into one report. Counts\n"
        "add up; histograms (whole run, endpoints, status classes, each second) merge\n"
        "exactly, so the merged percentiles are those of all requests together. Seconds\n"
        "are matched by wall-clock time, so shards started together line up. The reports\n"
        "must count failures by the same rules (--ok-status, --fail-status).\n"
        "\n"
        "  -o, --output FILE      the merged report (required)\n"
        "\n"
        "max_in_flight becomes the sum of the reports' maxima, an upper bound; setup\n"
        "and other keys come from the first report.\n"
        "\n"
        "Exit status: 0, 1 when a report cannot be read or merged or OUT cannot be\n"
        "written, 2 for a usage error.\n");
}

static const struct option long_opts[] = {
    { "output", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

static void add_integer(json_t *dst, const char *key, const json_t *src_value)
{
    const json_t *have = json_object_get(dst, key);
    json_int_t sum = json_integer_value(src_value) + (json_is_integer(have) ? json_integer_value(have) : 0);
    json_object_set_new(dst, key, json_integer(sum));
}

/* Adds the core counters of src into out. */
static void sum_core(json_t *out, const json_t *src)
{
    for (size_t i = 0; i < sizeof sum_keys / sizeof sum_keys[0]; i++) {
        const json_t *v = json_object_get(src, sum_keys[i]);
        if (json_is_integer(v))
            add_integer(out, sum_keys[i], v);
    }
    for (size_t i = 0; i < sizeof sum_objects / sizeof sum_objects[0]; i++) {
        const json_t *obj = json_object_get(src, sum_objects[i]);
        json_t *dst = json_object_get(out, sum_objects[i]);
        if (!json_is_object(obj))
            continue;
        if (!json_is_object(dst)) {
            dst = json_object();
            json_object_set_new(out, sum_objects[i], dst);
        }
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v)
            if (json_is_integer(v))
                add_integer(dst, key, v);
    }

    const char *start = json_string_value(json_object_get(src, "start_time"));
    const char *have = json_string_value(json_object_get(out, "start_time"));
    /* ISO 8601 UTC times of one format sort as text. */
    if (start != NULL && (have == NULL || strcmp(start, have) < 0))
        json_object_set_new(out, "start_time", json_string(start));
    if (json_is_true(json_object_get(src, "interrupted")))
        json_object_set_new(out, "interrupted", json_true());
}

/* Starts out from a copy of the first report with the counters zeroed. */
static json_t *empty_core(const json_t *first)
{
    json_t *out = json_deep_copy(first);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof sum_keys / sizeof sum_keys[0]; i++)
        if (json_object_get(out, sum_keys[i]) != NULL)
            json_object_set_new(out, sum_keys[i], json_integer(0));
    for (size_t i = 0; i < sizeof sum_objects / sizeof sum_objects[0]; i++)
        if (json_is_object(json_object_get(out, sum_objects[i])))
            json_object_set_new(out, sum_objects[i], json_object());
    json_object_del(out, "start_time");
    json_object_set_new(out, "interrupted", json_false());
    return out;
}

/* Sets the figures derived from the merged results. */
static void set_derived(json_t *out, const rp_results *r, char **paths, int count)
{
    const rp_results_group *t = rp_results_total(r);
    double secs = rp_results_duration_s(r);
    json_object_set_new(out, "latency_us", rp_results_percentiles_json(t->response_time));
    json_object_set_new(out, "service_time_us", rp_results_percentiles_json(t->service_time));
    json_object_set_new(out, "ttfb_us", rp_results_percentiles_json(t->ttfb));
    json_object_set_new(out, "send_lag_us", rp_results_percentiles_json(rp_results_send_lag(r)));
    json_object_set_new(out, "duration_s", json_real(secs));
    json_int_t sent = json_integer_value(json_object_get(out, "requests_sent"));
    json_int_t responses = json_integer_value(json_object_get(out, "responses"));
    json_object_set_new(out, "send_rate_per_s", json_real(secs > 0 ? (double)sent / secs : 0));
    json_object_set_new(out, "response_rate_per_s",
                        json_real(secs > 0 ? (double)responses / secs : 0));

    json_t *from = json_array();
    for (int i = 0; i < count; i++)
        json_array_append_new(from, json_string(paths[i]));
    json_object_set_new(out, "merged_from", from);
}

/* Loads each report into reports[i] and results[i]. Returns 0 or -1. */
static int load_all(char **paths, int count, json_t **reports, rp_results **results)
{
    char err[1024];
    for (int i = 0; i < count; i++) {
        if (rp_results_load_report(paths[i], &reports[i], err, sizeof err) != 0 ||
            rp_results_from_json(reports[i], paths[i], &results[i], err, sizeof err) != 0) {
            fprintf(stderr, "reprise merge-reports: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static int merge(char **paths, int count, const char *output)
{
    json_t **reports = calloc((size_t)count, sizeof *reports);
    rp_results **results = calloc((size_t)count, sizeof *results);
    json_t *out = NULL;
    int rc = RP_EXIT_FAIL;
    char err[1024];
    if (reports == NULL || results == NULL) {
        fprintf(stderr, "reprise merge-reports: out of memory\n");
        goto done;
    }
    if (load_all(paths, count, reports, results) != 0)
        goto done;

    out = empty_core(reports[0]);
    for (int i = 0; out != NULL && i < count; i++) {
        if (i > 0 && rp_results_merge(results[0], results[i], err, sizeof err) != 0) {
            fprintf(stderr, "reprise merge-reports: cannot merge %s into %s: %s\n", paths[i],
                    paths[0], err);
            goto done;
        }
        sum_core(out, reports[i]);
    }
    if (out == NULL || rp_results_to_json(results[0], out, err, sizeof err) != 0) {
        fprintf(stderr, "reprise merge-reports: %s\n", out ? err : "out of memory");
        goto done;
    }
    set_derived(out, results[0], paths, count);
    if (rp_results_save_report(output, out, err, sizeof err) != 0) {
        fprintf(stderr, "reprise merge-reports: %s; check the path and its directory's "
                "permissions\n", err);
        goto done;
    }
    printf("merged %d reports into %s: %llu requests due, error rate %.2f%%\n", count, output,
           (unsigned long long)rp_results_total(results[0])->requests,
           100.0 * rp_results_error_rate(rp_results_total(results[0])));
    rc = RP_EXIT_OK;

done:
    for (int i = 0; i < count; i++) {
        if (reports != NULL)
            json_decref(reports[i]);
        if (results != NULL)
            rp_results_free(results[i]);
    }
    free(reports);
    free(results);
    json_decref(out);
    return rc;
}

int cmd_merge_reports(int argc, char **argv)
{
    const char *output = NULL;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":ho:", long_opts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return RP_EXIT_OK;
        }
        if (opt == 'o') {
            output = optarg;
            continue;
        }
        fprintf(stderr, "reprise merge-reports: %s option '%s'; run 'reprise merge-reports "
                "--help' for the list\n", opt == ':' ? "missing value for" : "unknown",
                argv[optind - 1]);
        return RP_EXIT_USAGE;
    }
    if (output == NULL || optind >= argc) {
        fprintf(stderr, "reprise merge-reports: %s; usage: reprise merge-reports REPORT.json... "
                "-o OUT.json\n", output == NULL ? "missing -o OUT.json" : "no report to merge");
        return RP_EXIT_USAGE;
    }
    return merge(argv + optind, argc - optind, output);
}
