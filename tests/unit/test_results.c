/* Results layer: failure rules, endpoint names, per-second series, exact
 * merges and the JSON round trip. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "formats/html_report.h"
#include "formats/results_json.h"
#include "formats/results_out.h"
#include "replay/results.h"

#define SEC 1000000000ull
#define MS 1000000ull
/* Monotonic time MONO_BASE is Unix time WALL_BASE. */
#define MONO_BASE (1000 * SEC)
#define WALL_BASE (1700000000 * SEC)

static rp_results *new_results(const rp_results_config *cfg)
{
    rp_results *r = rp_results_new(cfg);
    rp_results_set_clock(r, MONO_BASE, WALL_BASE);
    return r;
}

/* A response due at due_ms (after MONO_BASE), sent 1 ms late, taking
 * took_ms. */
static void add_response(rp_results *r, const char *method, const char *target,
                         uint64_t due_ms, uint64_t took_ms, int status)
{
    rp_request_result o = {
        .due_ns = MONO_BASE + due_ms * MS,
        .send_ns = MONO_BASE + (due_ms + 1) * MS,
        .first_byte_ns = MONO_BASE + (due_ms + 1 + took_ms / 2) * MS,
        .done_ns = MONO_BASE + (due_ms + 1 + took_ms) * MS,
        .method = method, .target = target, .status = status,
        .kind = RP_RES_RESPONSE, .bytes_received = 100,
    };
    rp_results_add(r, &o);
}

static void add_error(rp_results *r, const char *target, uint64_t due_ms, int kind)
{
    rp_request_result o = {
        .due_ns = MONO_BASE + due_ms * MS,
        .send_ns = kind == RP_RES_NOT_SENT ? 0 : MONO_BASE + due_ms * MS,
        .done_ns = kind == RP_RES_NOT_SENT ? 0 : MONO_BASE + (due_ms + 30) * MS,
        .method = "GET", .target = target, .kind = kind,
    };
    rp_results_add(r, &o);
}

/* A deterministic mix over about 5 seconds: three endpoints, 2xx, 4xx,
 * 5xx and transport errors. Request i goes to r[i % n]. */
static void feed_mix(rp_results **r, int n)
{
    uint64_t x = 12345;
    for (int i = 0; i < 600; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        rp_results *dst = r[i % n];
        uint64_t due = (uint64_t)i * 8;
        uint64_t took = 5 + (x >> 33) % 200;
        char target[64];
        snprintf(target, sizeof target, "/api/items/%d?page=%d", i % 17, i % 3);
        if (i % 50 == 7)
            add_error(dst, target, due, RP_RES_TIMEOUT);
        else if (i % 97 == 3)
            add_error(dst, "/api/search", due, RP_RES_NOT_SENT);
        else if (i % 3 == 0)
            add_response(dst, "GET", "/api/search?q=x", due, took, i % 40 == 0 ? 503 : 200);
        else if (i % 3 == 1)
            add_response(dst, "GET", target, due, took * 2, i % 25 == 1 ? 404 : 200);
        else
            add_response(dst, "POST", "/api/orders", due, took / 2, 201);
    }
}

TEST(status_set_parse_forms)
{
    rp_status_set s = { { 0 } };
    char err[512];
    CHECK_EQ_INT(rp_status_set_parse(&s, "404, 429,500-502 ,3xx", err, sizeof err), 0);
    CHECK(rp_status_set_has(&s, 404));
    CHECK(rp_status_set_has(&s, 429));
    CHECK(rp_status_set_has(&s, 500));
    CHECK(rp_status_set_has(&s, 502));
    CHECK(!rp_status_set_has(&s, 503));
    CHECK(rp_status_set_has(&s, 300));
    CHECK(rp_status_set_has(&s, 399));
    CHECK(!rp_status_set_has(&s, 430));
    char text[256];
    rp_status_set_format(&s, text, sizeof text);
    CHECK_EQ_STR(text, "300-399,404,429,500-502");
}

TEST(status_set_rejects_bad_items)
{
    static const char *bad[] = { "abc", "600-500", "99", "1000", "", "404,", "5x", "4xxx",
                                 "404-", "-404", "0xx" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_status_set s = { { 0 } };
        char err[512] = "";
        CHECK_EQ_INT(rp_status_set_parse(&s, bad[i], err, sizeof err), -1);
        CHECK(strstr(err, "expected a status (404), a range (500-599) or a class (5xx)") != NULL);
    }
}

TEST(failure_rules_ok_and_fail_lists)
{
    rp_results_config cfg;
    rp_results_config_init(&cfg);
    char err[512];
    CHECK(rp_status_set_has(&cfg.fail_status, 500));
    CHECK(!rp_status_set_has(&cfg.fail_status, 404));
    CHECK_EQ_INT(rp_results_config_apply_status(&cfg, "404,429", "503", err, sizeof err), 0);
    CHECK(rp_status_set_has(&cfg.fail_status, 404));
    CHECK(rp_status_set_has(&cfg.fail_status, 429));
    CHECK(rp_status_set_has(&cfg.fail_status, 502));
    CHECK(!rp_status_set_has(&cfg.fail_status, 503));

    rp_results_config_init(&cfg);
    CHECK_EQ_INT(rp_results_config_apply_status(&cfg, "400-450", "429", err, sizeof err), -1);
    CHECK(strstr(err, "status 429 is in both") != NULL);
    CHECK_EQ_INT(rp_results_config_apply_status(&cfg, NULL, "5x", err, sizeof err), -1);
    CHECK(strstr(err, "--ok-status") != NULL);
}

TEST(normalize_target_folds_ids)
{
    static const char *cases[][2] = {
        { "/api/items/123?x=1", "/api/items/{id}" },
        { "/u/550e8400-e29b-41d4-a716-446655440000/x", "/u/{uuid}/x" },
        { "/o/5f2b3c4d1a9e", "/o/{hex}" },
        { "/o/facade/decade", "/o/facade/decade" },
        { "/v1/a1b2", "/v1/a1b2" },
        { "http://127.0.0.1:8080/a/1#frag", "/a/{id}" },
        { "http://127.0.0.1:8080", "/" },
        { "*", "*" },
        { "", "/" },
        { "/", "/" },
        { "/a//b/", "/a//b/" },
        { "/a/12/b/34.json", "/a/{id}/b/34.json" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[128];
        rp_results_normalize_target(cases[i][0], out, sizeof out);
        CHECK_EQ_STR(out, cases[i][1]);
    }
    char small[8];
    CHECK_EQ_INT(rp_results_normalize_target("/abcdefghijk", small, sizeof small), 7);
    CHECK_EQ_STR(small, "/abcdef");
}

TEST(results_counts_and_failures)
{
    rp_results *r = new_results(NULL);
    add_response(r, "GET", "/a/1", 0, 10, 200);
    add_response(r, "GET", "/a/2", 100, 20, 503);
    add_response(r, "GET", "/a/3", 200, 30, 404);
    add_error(r, "/b", 300, RP_RES_CONNECT);
    add_error(r, "/b", 400, RP_RES_NOT_SENT);
    add_error(r, "/b", 500, RP_RES_CLIENT);
    CHECK_EQ_INT(rp_results_finish(r), 0);

    const rp_results_group *t = rp_results_total(r);
    CHECK_EQ_INT(t->requests, 6);
    CHECK_EQ_INT(t->responses, 3);
    CHECK_EQ_INT(t->failures, 2);            /* 503 and connect */
    CHECK(rp_results_error_rate(t) > 0.333);
    CHECK(rp_results_error_rate(t) < 0.334);
    CHECK_EQ_INT(t->kinds[RP_RES_NOT_SENT], 1);
    CHECK_EQ_INT(t->kinds[RP_RES_CLIENT], 1);
    CHECK_EQ_INT(t->status[503], 1);
    CHECK_EQ_INT(rp_hist_count(t->response_time), 3);
    /* Response time counts from the due time: 1 ms late plus 10 ms. */
    CHECK_EQ_INT(rp_hist_min(t->response_time), 11000);
    CHECK_EQ_INT(rp_hist_min(t->service_time), 10000);
    CHECK_EQ_INT(rp_hist_min(t->ttfb), 5000);
    CHECK_EQ_INT(rp_hist_count(rp_results_send_lag(r)), 5);

    CHECK_EQ_INT(rp_results_endpoint_count(r), 2);
    CHECK_EQ_STR(rp_results_endpoint(r, 0)->name, "/a/{id}");
    CHECK_EQ_INT(rp_results_endpoint(r, 0)->requests, 3);
    CHECK_EQ_INT(rp_results_endpoint(r, 1)->failures, 1);
    CHECK_EQ_INT(rp_results_status_class(r, 1)->responses, 1);
    CHECK_EQ_INT(rp_results_status_class(r, 3)->responses, 1);
    CHECK_EQ_INT(rp_results_status_class(r, 4)->failures, 1);
    CHECK(rp_results_duration_s(r) > 0.529);
    CHECK(rp_results_duration_s(r) < 0.531);
    rp_results_free(r);
}

TEST(results_ok_status_and_mismatch)
{
    rp_results_config cfg;
    rp_results_config_init(&cfg);
    char err[512];
    CHECK_EQ_INT(rp_results_config_apply_status(&cfg, "429", "503", err, sizeof err), 0);
    cfg.mismatch = RP_MISMATCH_FAIL;
    rp_results *r = new_results(&cfg);
    rp_request_result o = { .due_ns = MONO_BASE, .send_ns = MONO_BASE, .done_ns = MONO_BASE + MS,
                            .method = "GET", .target = "/x", .kind = RP_RES_RESPONSE };
    o.status = 503, o.recorded_status = 503;    /* ok by --ok-status */
    rp_results_add(r, &o);
    o.status = 429, o.recorded_status = 429;    /* fails by --fail-status */
    rp_results_add(r, &o);
    o.status = 200, o.recorded_status = 304;    /* a mismatch, failing */
    rp_results_add(r, &o);
    o.status = 200, o.recorded_status = 0;      /* not recorded: no mismatch */
    rp_results_add(r, &o);
    const rp_results_group *t = rp_results_total(r);
    CHECK_EQ_INT(t->failures, 2);
    CHECK_EQ_INT(t->mismatches, 1);
    CHECK_EQ_INT(t->mismatch_failures, 1);
    rp_results_free(r);

    cfg.mismatch = RP_MISMATCH_COUNT;
    r = new_results(&cfg);
    o.status = 200, o.recorded_status = 304;
    rp_results_add(r, &o);
    CHECK_EQ_INT(rp_results_total(r)->mismatches, 1);
    CHECK_EQ_INT(rp_results_total(r)->failures, 0);
    rp_results_free(r);
}

TEST(results_series_per_second)
{
    rp_results *r = new_results(NULL);
    /* Second 0: two due and sent; one finishes in second 0, one in 1. */
    add_response(r, "GET", "/a", 100, 50, 200);
    add_response(r, "GET", "/a", 900, 400, 200);
    /* Second 2: a timeout finishing 30 ms later, and one dropped. */
    add_error(r, "/a", 2100, RP_RES_TIMEOUT);
    add_error(r, "/a", 2200, RP_RES_NOT_SENT);
    rp_results_finish(r);

    CHECK_EQ_INT(rp_results_second_count(r), 3);
    const rp_results_second *s0 = rp_results_second_at(r, 0);
    const rp_results_second *s1 = rp_results_second_at(r, 1);
    const rp_results_second *s2 = rp_results_second_at(r, 2);
    CHECK_EQ_INT(s0->epoch_s, 1700000000);
    CHECK_EQ_INT(s0->due, 2);
    CHECK_EQ_INT(s0->sent, 2);
    CHECK_EQ_INT(s0->completed, 1);
    CHECK_EQ_INT(s0->in_flight, 1);
    CHECK_EQ_INT(s0->rt_count, 1);
    CHECK_EQ_INT(s0->rt_p99_us, 51000);
    CHECK(s0->rt_hist != NULL);
    CHECK(s0->rt_hist == NULL || strncmp(s0->rt_hist, "HISTFAAA", 8) == 0);
    CHECK_EQ_INT(s0->lag_count, 2);
    CHECK_EQ_INT(s0->lag_max_us, 1000);
    CHECK_EQ_INT(s1->completed, 1);
    CHECK_EQ_INT(s1->in_flight, 0);
    CHECK_EQ_INT(s1->rt_p50_us, 401000);        /* one value: its exact max */
    CHECK_EQ_INT(s2->due, 2);
    CHECK_EQ_INT(s2->failures, 1);
    CHECK_EQ_INT(s2->kinds[RP_RES_TIMEOUT], 1);
    CHECK_EQ_INT(s2->kinds[RP_RES_NOT_SENT], 1);
    CHECK_EQ_INT(s2->in_flight, 0);
    rp_results_free(r);
}

TEST(results_late_completion_reopens_second)
{
    /* Completions for seconds 0..9, then one more for second 0 after it
     * was closed: it must land in second 0's histogram. */
    rp_results *late = new_results(NULL), *ordered = new_results(NULL);
    for (int s = 0; s < 10; s++) {
        add_response(late, "GET", "/a", (uint64_t)s * 1000, 20, 200);
        add_response(ordered, "GET", "/a", (uint64_t)s * 1000, 20, 200);
        if (s == 0)
            add_response(ordered, "GET", "/a", 500, 300, 200);
    }
    add_response(late, "GET", "/a", 500, 300, 200);
    rp_results_finish(late);
    rp_results_finish(ordered);
    const rp_results_second *a = rp_results_second_at(late, 0);
    const rp_results_second *b = rp_results_second_at(ordered, 0);
    CHECK_EQ_INT(a->rt_count, 2);
    CHECK_EQ_INT(a->rt_p99_us, b->rt_p99_us);
    CHECK_EQ_STR(a->rt_hist, b->rt_hist);
    rp_results_free(late);
    rp_results_free(ordered);
}

TEST(results_endpoint_limit_uses_other)
{
    rp_results_config cfg;
    rp_results_config_init(&cfg);
    cfg.max_endpoints = 2;
    rp_results *r = new_results(&cfg);
    add_response(r, "GET", "/a", 0, 10, 200);
    add_response(r, "GET", "/b", 0, 10, 200);
    add_response(r, "GET", "/c", 0, 10, 200);
    add_response(r, "GET", "/d", 0, 10, 500);
    add_response(r, "GET", "/a", 0, 10, 200);
    rp_results_finish(r);
    CHECK_EQ_INT(rp_results_endpoint_count(r), 3);
    CHECK_EQ_STR(rp_results_endpoint(r, 0)->name, "/a");
    CHECK_EQ_INT(rp_results_endpoint(r, 0)->requests, 2);
    CHECK_EQ_STR(rp_results_endpoint(r, 2)->name, RP_RESULTS_OTHER);
    CHECK_EQ_INT(rp_results_endpoint(r, 2)->requests, 2);
    CHECK_EQ_INT(rp_results_endpoint(r, 2)->failures, 1);

    rp_results_group *rest = rp_results_endpoints_from(r, 1);
    CHECK_EQ_INT(rest->requests, 3);
    rp_results_group_free(rest);
    rp_results_free(r);
}

TEST(results_find_endpoint_by_path)
{
    rp_results *r = new_results(NULL);
    add_response(r, "GET", "/api/items/1", 0, 10, 200);
    add_response(r, "PUT", "/api/items/2", 0, 30, 200);
    add_response(r, "GET", "/api/other", 0, 10, 200);
    rp_results_group *g = NULL;
    CHECK_EQ_INT(rp_results_find_endpoint(r, NULL, "/api/items/77", &g), 0);
    CHECK_EQ_INT(g->requests, 2);
    rp_results_group_free(g);
    CHECK_EQ_INT(rp_results_find_endpoint(r, "put", "/api/items/{id}", &g), 0);
    CHECK_EQ_INT(g->requests, 1);
    CHECK_EQ_INT(rp_hist_min(g->response_time), 31000);
    rp_results_group_free(g);
    CHECK_EQ_INT(rp_results_find_endpoint(r, NULL, "/nope", &g), -1);
    rp_results_free(r);
}

static void check_same_group(const rp_results_group *a, const rp_results_group *b)
{
    CHECK_EQ_STR(a->name, b->name);
    CHECK_EQ_STR(a->method, b->method);
    CHECK_EQ_INT(a->requests, b->requests);
    CHECK_EQ_INT(a->responses, b->responses);
    CHECK_EQ_INT(a->failures, b->failures);
    CHECK_EQ_INT(a->bytes_received, b->bytes_received);
    for (int k = 0; k < RP_RES_KINDS; k++)
        CHECK_EQ_INT(a->kinds[k], b->kinds[k]);
    for (int v = 0; a->status && b->status && v < RP_RESULTS_MAX_STATUS; v++)
        CHECK_EQ_INT(a->status[v], b->status[v]);
    CHECK((a->response_time == NULL) == (b->response_time == NULL));
    static const double pcts[] = { 1, 50, 90, 95, 99, 99.9, 100 };
    for (size_t i = 0; a->response_time && i < sizeof pcts / sizeof pcts[0]; i++) {
        CHECK_EQ_INT(rp_hist_percentile(a->response_time, pcts[i]),
                     rp_hist_percentile(b->response_time, pcts[i]));
        CHECK_EQ_INT(rp_hist_percentile(a->service_time, pcts[i]),
                     rp_hist_percentile(b->service_time, pcts[i]));
        CHECK_EQ_INT(rp_hist_percentile(a->ttfb, pcts[i]), rp_hist_percentile(b->ttfb, pcts[i]));
    }
}

/* Same figures, with seconds compared by count and closed histogram. */
static void check_same_results(rp_results *a, rp_results *b)
{
    rp_results_finish(a);
    rp_results_finish(b);
    check_same_group(rp_results_total(a), rp_results_total(b));
    CHECK_EQ_INT(rp_results_endpoint_count(a), rp_results_endpoint_count(b));
    for (size_t i = 0; i < rp_results_endpoint_count(a) && i < rp_results_endpoint_count(b); i++)
        check_same_group(rp_results_endpoint(a, i), rp_results_endpoint(b, i));
    for (int c = 0; c < RP_RESULTS_CLASSES; c++)
        check_same_group(rp_results_status_class(a, c), rp_results_status_class(b, c));
    CHECK_EQ_INT(rp_results_second_count(a), rp_results_second_count(b));
    for (size_t i = 0; i < rp_results_second_count(a) && i < rp_results_second_count(b); i++) {
        const rp_results_second *x = rp_results_second_at(a, i), *y = rp_results_second_at(b, i);
        CHECK_EQ_INT(x->epoch_s, y->epoch_s);
        CHECK_EQ_INT(x->due, y->due);
        CHECK_EQ_INT(x->sent, y->sent);
        CHECK_EQ_INT(x->completed, y->completed);
        CHECK_EQ_INT(x->failures, y->failures);
        CHECK_EQ_INT(x->in_flight, y->in_flight);
        CHECK_EQ_INT(x->lag_sum_us, y->lag_sum_us);
        CHECK_EQ_INT(x->rt_count, y->rt_count);
        CHECK_EQ_INT(x->rt_p50_us, y->rt_p50_us);
        CHECK_EQ_INT(x->rt_p99_us, y->rt_p99_us);
        CHECK((x->rt_hist == NULL) == (y->rt_hist == NULL));
        if (x->rt_hist && y->rt_hist)
            CHECK_EQ_STR(x->rt_hist, y->rt_hist);
    }
    CHECK(rp_results_duration_s(a) == rp_results_duration_s(b));
}

TEST(results_merge_is_exact)
{
    rp_results *whole = new_results(NULL);
    feed_mix(&whole, 1);
    rp_results *parts[3] = { new_results(NULL), new_results(NULL), new_results(NULL) };
    feed_mix(parts, 3);
    char err[512];
    CHECK_EQ_INT(rp_results_merge(parts[0], parts[1], err, sizeof err), 0);
    CHECK_EQ_INT(rp_results_merge(parts[0], parts[2], err, sizeof err), 0);
    CHECK(rp_results_total(whole)->requests == 600);
    CHECK(rp_results_second_count(whole) >= 5);
    check_same_results(whole, parts[0]);
    for (int i = 0; i < 3; i++)
        rp_results_free(parts[i]);
    rp_results_free(whole);
}

TEST(results_merge_rejects_other_rules)
{
    rp_results_config cfg;
    rp_results_config_init(&cfg);
    char err[512];
    rp_results_config_apply_status(&cfg, "404", NULL, err, sizeof err);
    rp_results *a = new_results(NULL), *b = new_results(&cfg);
    CHECK_EQ_INT(rp_results_merge(a, b, err, sizeof err), -1);
    CHECK(strstr(err, "'404,500-599'") != NULL);
    rp_results_free(a);
    rp_results_free(b);
}

TEST(results_json_round_trip)
{
    rp_results_config cfg;
    rp_results_config_init(&cfg);
    char err[512];
    rp_results_config_apply_status(&cfg, "404", NULL, err, sizeof err);
    cfg.mismatch = RP_MISMATCH_COUNT;
    rp_results *r = new_results(&cfg);
    feed_mix(&r, 1);
    json_t *report = json_object();
    CHECK_EQ_INT(rp_results_to_json(r, report, err, sizeof err), 0);

    /* Through text, as a file would carry it. */
    char *text = json_dumps(report, JSON_REAL_PRECISION(17));
    json_t *parsed = json_loads(text, 0, NULL);
    CHECK(parsed != NULL);
    rp_results *back = NULL;
    CHECK_EQ_INT(rp_results_from_json(parsed, "run.json", &back, err, sizeof err), 0);
    if (back != NULL) {
        check_same_results(r, back);
        CHECK_EQ_INT(rp_results_config_of(back)->mismatch, RP_MISMATCH_COUNT);
        CHECK(rp_status_set_has(&rp_results_config_of(back)->fail_status, 404));
        CHECK(!rp_status_set_has(&rp_results_config_of(back)->fail_status, 403));
    }

    json_t *h = json_object_get(json_object_get(report, "histograms"), "response_time");
    CHECK(json_is_string(h));
    CHECK(json_is_string(h));
    CHECK(!json_is_string(h) || strncmp(json_string_value(h), "HISTFAAA", 8) == 0);
    CHECK(json_real_value(json_object_get(report, "error_rate")) > 0);
    CHECK_EQ_INT(json_array_size(json_object_get(report, "endpoints")), 3);

    free(text);
    json_decref(parsed);
    json_decref(report);
    rp_results_free(back);
    rp_results_free(r);
}

TEST(results_json_rejects_damage)
{
    rp_results *r = new_results(NULL);
    feed_mix(&r, 1);
    json_t *report = json_object();
    char err[512];
    rp_results_to_json(r, report, err, sizeof err);
    rp_results *back = NULL;

    json_t *copy = json_deep_copy(report);
    json_object_del(json_object_get(copy, "outcomes"), "requests");
    CHECK_EQ_INT(rp_results_from_json(copy, "a.json", &back, err, sizeof err), -1);
    CHECK_EQ_STR(err, "a.json: outcomes.requests is missing");
    json_decref(copy);

    copy = json_deep_copy(report);
    json_object_set_new(json_object_get(copy, "histograms"), "ttfb", json_string("HISTFAAAxx=="));
    CHECK_EQ_INT(rp_results_from_json(copy, "b.json", &back, err, sizeof err), -1);
    CHECK(strstr(err, "b.json: histograms.ttfb is invalid") != NULL);
    json_decref(copy);

    copy = json_deep_copy(report);
    json_object_del(copy, "histograms");
    CHECK_EQ_INT(rp_results_from_json(copy, "c.json", &back, err, sizeof err), -1);
    CHECK(strstr(err, "c.json has no 'histograms' key") != NULL);
    json_decref(copy);

    json_decref(report);
    rp_results_free(r);
}

TEST(results_takes_counted_strings)
{
    /* An rp_record's fields are not NUL-terminated: lengths bound them. */
    rp_results *r = new_results(NULL);
    const char *wire = "GETX/api/items/7?q=1 trailing";
    rp_request_result o = { .due_ns = MONO_BASE, .method = wire, .method_len = 3,
                            .target = wire + 4, .target_len = 16, .kind = RP_RES_NOT_SENT };
    rp_results_add(r, &o);
    rp_results_finish(r);
    CHECK_EQ_INT(rp_results_endpoint_count(r), 1);
    CHECK_EQ_STR(rp_results_endpoint(r, 0)->method, "GET");
    CHECK_EQ_STR(rp_results_endpoint(r, 0)->name, "/api/items/{id}");
    CHECK_EQ_INT(rp_results_total(r)->kinds[RP_RES_NOT_SENT], 1);
    CHECK_EQ_INT(rp_results_second_at(r, 0)->due, 1);
    CHECK_EQ_INT(rp_results_second_at(r, 0)->in_flight, 0);
    rp_results_free(r);
}

TEST(results_empty_run_outputs)
{
    /* A run in which nothing was due still writes every output. */
    rp_results *r = new_results(NULL);
    json_t *report = json_object();
    char err[512];
    CHECK_EQ_INT(rp_results_to_json(r, report, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(report, "series"), "rows")), 0);
    rp_results *back = NULL;
    CHECK_EQ_INT(rp_results_from_json(report, "empty.json", &back, err, sizeof err), 0);
    CHECK(back != NULL);
    CHECK_EQ_INT(rp_results_total(back)->requests, 0);
    CHECK(rp_results_error_rate(rp_results_total(back)) == 0.0);
    CHECK(rp_results_duration_s(back) == 0.0);

    char dir[] = "/tmp/rp-results-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/run", dir);
    CHECK_EQ_INT(rp_results_write_locust_csv(back, path, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/series.csv", dir);
    CHECK_EQ_INT(rp_results_write_series_csv(back, path, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/run.hlog", dir);
    CHECK_EQ_INT(rp_results_write_hlog(back, path, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/run.html", dir);
    CHECK_EQ_INT(rp_html_report_write(path, back, report, NULL, 0, 10, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    char page[65536];
    size_t n = f ? fread(page, 1, sizeof page - 1, f) : 0;
    page[n] = '\0';
    if (f)
        fclose(f);
    CHECK(strstr(page, "no data") != NULL);
    CHECK(strstr(page, "</html>") != NULL);

    snprintf(path, sizeof path, "%s/missing/run.html", dir);
    CHECK_EQ_INT(rp_html_report_write(path, back, report, NULL, 0, 10, err, sizeof err), -1);
    CHECK(strstr(err, "cannot write") != NULL);
    static const char *names[] = { "run_stats.csv", "run_stats_history.csv", "run_failures.csv",
                                   "series.csv", "run.hlog", "run.html" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK_EQ_INT(remove(path), 0);
    }
    rmdir(dir);
    json_decref(report);
    rp_results_free(back);
    rp_results_free(r);
}
