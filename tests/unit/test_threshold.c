/* Thresholds: both forms parse into the same model, bad expressions are
 * rejected, evaluation fails exactly when it should. */
#include <string.h>

#include "check.h"
#include "formats/threshold.h"
#include "replay/results.h"

#define MS 1000000ull
#define BASE (1000ull * 1000000000ull)

static rp_threshold parsed(const char *text)
{
    rp_threshold t;
    char err[1024];
    int rc = rp_threshold_parse(text, &t, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  parse '%s': %s\n", text, err);
    CHECK_EQ_INT(rc, 0);
    return t;
}

TEST(threshold_parse_reprise_forms)
{
    rp_threshold t = parsed("p95 > 250ms");
    CHECK_EQ_INT(t.k6, 0);
    CHECK_EQ_INT(t.stat, RP_TH_PERCENTILE);
    CHECK(t.percentile == 95);
    CHECK_EQ_INT(t.op, RP_TH_GT);
    CHECK(t.value == 250000);
    CHECK_EQ_INT(t.source, RP_TH_RESPONSE_TIME);

    t = parsed("error_rate > 1%");
    CHECK_EQ_INT(t.stat, RP_TH_ERROR_RATE);
    CHECK(t.value == 0.01);
    t = parsed("error_rate>=0.05");
    CHECK(t.value == 0.05);
    CHECK_EQ_INT(t.op, RP_TH_GE);

    t = parsed("endpoint /api/search p99 > 1s");
    CHECK_EQ_STR(t.endpoint, "/api/search");
    CHECK_EQ_STR(t.method, "");
    CHECK(t.value == 1e6);
    t = parsed("endpoint POST /api/orders?x=1 error_rate > 0.5%");
    CHECK_EQ_STR(t.method, "POST");
    CHECK_EQ_STR(t.endpoint, "/api/orders?x=1");
    CHECK(t.value == 0.005);

    t = parsed("rps < 100");
    CHECK_EQ_INT(t.stat, RP_TH_RPS);
    CHECK(t.value == 100);
    t = parsed("rps<100/s");
    CHECK(t.value == 100);
    t = parsed("service_time p99.9 >= 1.5s");
    CHECK_EQ_INT(t.source, RP_TH_SERVICE_TIME);
    CHECK(t.percentile == 99.9);
    CHECK(t.value == 1.5e6);
    t = parsed("ttfb max > 800us");
    CHECK_EQ_INT(t.source, RP_TH_TTFB);
    CHECK_EQ_INT(t.stat, RP_TH_MAX);
    CHECK_EQ_INT(t.k6, 0);
    t = parsed("mean != 2m");
    CHECK_EQ_INT(t.stat, RP_TH_MEAN);
    CHECK(t.value == 120e6);
    t = parsed("failures > 10");
    CHECK_EQ_INT(t.stat, RP_TH_FAILURES);
}

TEST(threshold_parse_k6_forms)
{
    rp_threshold t = parsed("p(95)<250");
    CHECK_EQ_INT(t.k6, 1);
    CHECK_EQ_INT(t.stat, RP_TH_PERCENTILE);
    CHECK(t.percentile == 95);
    CHECK(t.value == 250000);
    CHECK_EQ_INT(t.op, RP_TH_LT);

    t = parsed("rate<0.01");
    CHECK_EQ_INT(t.k6, 1);
    CHECK_EQ_INT(t.stat, RP_TH_ERROR_RATE);
    CHECK(t.value == 0.01);
    t = parsed("avg<200");
    CHECK_EQ_INT(t.stat, RP_TH_MEAN);
    CHECK(t.value == 200000);
    t = parsed("max<1000");
    CHECK_EQ_INT(t.k6, 1);
    CHECK_EQ_INT(t.stat, RP_TH_MAX);
    CHECK(t.value == 1e6);
    t = parsed("med < 20");
    CHECK(t.percentile == 50);
    t = parsed("http_req_duration: p(99.9)<1500");
    CHECK_EQ_INT(t.source, RP_TH_SERVICE_TIME);
    CHECK(t.percentile == 99.9);
    t = parsed("http_req_waiting p(90) < 40");
    CHECK_EQ_INT(t.source, RP_TH_TTFB);
    t = parsed("http_req_failed: rate<0.01");
    CHECK_EQ_INT(t.stat, RP_TH_ERROR_RATE);
    t = parsed("http_reqs : rate>100");
    CHECK_EQ_INT(t.stat, RP_TH_RPS);
    t = parsed("http_reqs: count>1000");
    CHECK_EQ_INT(t.stat, RP_TH_REQUESTS);
    t = parsed("endpoint GET /api/search p(95)<250");
    CHECK_EQ_INT(t.k6, 1);
    CHECK_EQ_STR(t.endpoint, "/api/search");
}

TEST(threshold_rejects_bad_expressions)
{
    static const struct { const char *text; const char *why; } bad[] = {
        { "p95 > 250", "not a time with a unit" },
        { "p95 250ms", "expected STATISTIC OPERATOR VALUE" },
        { "p95 >> 250ms", "expected STATISTIC OPERATOR VALUE" },
        { "p101 > 1s", "unknown statistic 'p101'" },
        { "latency > 1s", "unknown statistic 'latency'" },
        { "error_rate > 5", "not an error rate" },
        { "error_rate > 150%", "not an error rate" },
        { "p(95)<250ms", "k6 forms take a plain number" },
        { "avg > 200ms", "k6 forms take a plain number" },
        { "rate > 1%", "k6 forms take a plain number" },
        { "rate<2", "a k6 rate is a fraction" },
        { "http_req_failed: p(95)<250", "not an aggregation of http_req_failed" },
        { "http_req_duration: rate<0.1", "not an aggregation of a k6 trend" },
        { "service_time p(95)<250", "is a k6 aggregation" },
        { "endpoint api p95 > 1s", "'endpoint' must be followed by a path" },
        { "endpoint", "'endpoint' must be followed by a path" },
        { "", "expected STATISTIC OPERATOR VALUE" },
        { "p95 > -1ms", "not a time with a unit" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_threshold t;
        char err[1024] = "";
        int rc = rp_threshold_parse(bad[i].text, &t, err, sizeof err);
        CHECK_EQ_INT(rc, -1);
        if (strstr(err, bad[i].why) == NULL || strstr(err, "invalid threshold") == NULL)
            fprintf(stderr, "  '%s': message '%s' lacks '%s'\n", bad[i].text, err, bad[i].why);
        CHECK(strstr(err, bad[i].why) != NULL);
    }
    CHECK(strstr(rp_threshold_grammar(), "p(N)|avg|med|min|max|rate|count") != NULL);
}

/* 100 responses to /api/search at 1..100 ms, 10 of them 503, and 20
 * fast responses to /api/items/{id}, all over 10 seconds. */
static rp_results *sample_results(void)
{
    rp_results *r = rp_results_new(NULL);
    rp_results_set_clock(r, BASE, 1700000000ull * 1000000000ull);
    for (int i = 1; i <= 100; i++) {
        uint64_t due = BASE + (uint64_t)i * 100 * MS;
        rp_request_result o = { .due_ns = due, .send_ns = due, .first_byte_ns = due + MS,
                                .done_ns = due + (uint64_t)i * MS, .method = "GET",
                                .target = "/api/search?q=1", .status = i % 10 == 0 ? 503 : 200,
                                .kind = RP_RES_RESPONSE };
        rp_results_add(r, &o);
    }
    for (int i = 0; i < 20; i++) {
        uint64_t due = BASE + (uint64_t)i * 50 * MS;
        rp_request_result o = { .due_ns = due, .send_ns = due, .done_ns = due + MS / 2,
                                .method = "GET", .target = "/api/items/42",
                                .status = 200, .kind = RP_RES_RESPONSE };
        rp_results_add(r, &o);
    }
    rp_results_finish(r);
    return r;
}

static int fails(const rp_results *r, const char *text)
{
    rp_threshold t = parsed(text);
    rp_threshold_outcome o;
    CHECK_EQ_INT(rp_threshold_evaluate(&t, r, &o), 0);
    return o.failed;
}

TEST(threshold_evaluates_both_polarities)
{
    rp_results *r = sample_results();
    /* /api/search's p95 is 95 ms, 95.04 ms at 3 significant digits. */
    CHECK(!fails(r, "endpoint /api/search p95 > 96ms"));
    CHECK(fails(r, "endpoint /api/search p95 > 94ms"));
    CHECK(fails(r, "endpoint /api/search/ p95 > 94ms") == 1);   /* no such endpoint */
    CHECK(!fails(r, "endpoint /api/items/7 max > 1ms"));
    CHECK(fails(r, "endpoint POST /api/items/7 max > 1ms"));     /* no POST: no data */
    /* 10 failures of 120 requests: 8.33%. */
    CHECK(fails(r, "error_rate > 8%"));
    CHECK(!fails(r, "error_rate > 9%"));
    CHECK(fails(r, "rate<0.08"));
    CHECK(!fails(r, "rate<0.09"));
    CHECK(fails(r, "endpoint /api/search error_rate >= 10%"));
    /* k6 forms must hold. */
    CHECK(!fails(r, "endpoint /api/search p(95)<96"));
    CHECK(fails(r, "endpoint /api/search p(95)<94"));
    CHECK(!fails(r, "max<101"));
    CHECK(fails(r, "max<99"));
    CHECK(fails(r, "requests == 120"));
    CHECK(!fails(r, "requests != 120"));
    CHECK(fails(r, "http_reqs: count<100"));
    CHECK(!fails(r, "failures > 10"));
    CHECK(fails(r, "failures >= 10"));
    /* 120 completed over the 10.1 s from the first due to the last done. */
    CHECK(fails(r, "rps < 12"));
    CHECK(!fails(r, "rps < 11.8"));
    CHECK(!fails(r, "http_reqs: rate>11.8"));
    CHECK(!fails(r, "ttfb max > 1.1ms"));
    rp_results_free(r);
}

TEST(threshold_describe_line)
{
    rp_results *r = sample_results();
    rp_threshold t = parsed("endpoint /api/search p95 > 90ms");
    rp_threshold_outcome o;
    rp_threshold_evaluate(&t, r, &o);
    char line[512];
    rp_threshold_describe(&t, &o, line, sizeof line);
    CHECK_EQ_STR(line, "FAIL  endpoint /api/search p95 > 90ms  (p95 response time of "
                       "/api/search: 95.04ms; fails when 95.04ms > 90.00ms)");
    t = parsed("p(99)<200");
    rp_threshold_evaluate(&t, r, &o);
    rp_threshold_describe(&t, &o, line, sizeof line);
    CHECK_EQ_STR(line, "pass  p(99)<200  (p99 response time: 99.01ms; k6 form, must hold: "
                       "99.01ms < 200.00ms)");
    t = parsed("endpoint /nope p99 > 1s");
    rp_threshold_evaluate(&t, r, &o);
    rp_threshold_describe(&t, &o, line, sizeof line);
    CHECK_EQ_STR(line, "FAIL  endpoint /nope p99 > 1s  (no data: the run has no such endpoint)");
    rp_results_free(r);
}
