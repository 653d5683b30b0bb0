/* The plan (the pass before a replay), the schedule's pacing modes, loops
 * and parts, the users' sessions, and the hash map they use. Traces are
 * written with the trace writer into temporary files. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "replay/plan.h"
#include "replay/sched.h"
#include "replay/sessions.h"
#include "replay/u64map.h"

#define S 1000000000ull
#define MS 1000000ull
#define T0 1700000000000000000ull

typedef struct spec {
    uint64_t ts;             /* offset from T0 */
    uint64_t conn;
    const char *method;
    const char *target;
    uint64_t ttlb;           /* response end after ts; 0: no response */
} spec;

/* Writes specs to a new temporary trace and returns its path (static). */
static const char *write_specs(const spec *specs, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_plan_XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    rp_trace_meta meta = { .source = "test_plan", .filter = "", .tool = "unit" };
    rp_trace_writer_opts opts = { .block_records = 4 };   /* several blocks */
    rp_trace_writer *w = NULL;
    char err[256];
    CHECK_EQ_INT(rp_trace_writer_open(&w, path, &meta, &opts, err, sizeof err), 0);
    for (size_t i = 0; w != NULL && i < n; i++) {
        const spec *sp = &specs[i];
        rp_record r = {
            .ts_ns = T0 + sp->ts, .conn_id = sp->conn, .http_major = 1, .http_minor = 1,
            .method = sp->method, .method_len = (uint32_t)strlen(sp->method),
            .target = sp->target, .target_len = (uint32_t)strlen(sp->target),
            .headers = "Host: a\r\n", .headers_len = 9,
            .flags = sp->ttlb ? RP_REC_HAS_RESPONSE : 0,
            .resp_status = sp->ttlb ? 200 : 0, .resp_ttlb_ns = sp->ttlb,
        };
        CHECK_EQ_INT(rp_trace_writer_add(w, &r, err, sizeof err), 0);
    }
    if (w != NULL)
        CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);
    return path;
}

static int build(rp_plan *p, const char *path, int pace, double speed, double rate,
                 uint64_t max_gap, uint64_t skip, const rp_rules *rules)
{
    rp_plan_opts o = { .pace = pace, .speed = speed, .rate = rate, .max_gap_ns = max_gap,
                       .skip_ns = skip, .rules = rules };
    char err[256] = "";
    int rc = rp_plan_build(p, path, &o, err, sizeof err);
    if (rc != 0 && rc != RP_PLAN_EOPTS)
        fprintf(stderr, "  plan: %s\n", err);
    return rc;
}

/* Request-targets of the items offsets() collected last; an item's record
 * is only valid until the schedule moves on. */
static char targets[32][16];

/* Offsets of every request of the schedule, up to max. */
static size_t offsets(const char *path, const rp_plan *p, uint64_t passes, uint32_t part,
                      uint32_t parts, rp_sched_item *items, size_t max)
{
    rp_sched *s = NULL;
    char err[256];
    CHECK_EQ_INT(rp_sched_open(&s, path, p, passes, part, parts, err, sizeof err), 0);
    size_t n = 0;
    while (s != NULL && n < max && rp_sched_peek(s, &items[n], err, sizeof err) == 0) {
        snprintf(targets[n], sizeof targets[n], "%.*s", (int)items[n].rec->target_len,
                 items[n].rec->target);
        n++;
        rp_sched_advance(s);
    }
    rp_sched_close(s);
    return n;
}

static const spec bursty[] = {
    { 0, 1, "GET", "/a", 0 }, { 10 * MS, 1, "GET", "/b", 0 }, { 20 * MS, 2, "POST", "/c", 0 },
    { 1020 * MS, 2, "GET", "/d", 0 }, { 1030 * MS, 3, "DELETE", "/e", 0 },
    { 1040 * MS, 1, "GET", "/f", 0 },
};
#define BURSTY_N (sizeof bursty / sizeof bursty[0])

TEST(plan_counts_and_connections)
{
    const char *path = write_specs(bursty, BURSTY_N);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_SPEED, 2.0, 0, RP_NO_MAX_GAP, 0, NULL), 0);
    CHECK_EQ_INT(p.records, 6);
    CHECK_EQ_INT(p.connections, 3);
    CHECK_EQ_INT(p.mutating[0], 1);          /* POST */
    CHECK_EQ_INT(p.mutating[3], 1);          /* DELETE */
    CHECK_EQ_INT(p.last_offset_ns, 520 * MS);
    CHECK_EQ_INT(p.pass_ns, 520 * MS + 104 * MS);   /* span plus one mean gap */
    CHECK_EQ_INT(p.last_index[0], 5);        /* connection 1 ends with /f */
    CHECK_EQ_INT(p.last_index[1], 3);
    CHECK_EQ_INT(p.last_index[2], 4);
    rp_plan_free(&p);
    unlink(path);
}

/* --rate keeps the relative gaps and scales the whole pass to the rate. */
TEST(plan_rate_keeps_burstiness)
{
    const char *path = write_specs(bursty, BURSTY_N);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_RATE, 1, 10.0, RP_NO_MAX_GAP, 0, NULL), 0);
    rp_sched_item it[8];
    size_t n = offsets(path, &p, 1, 0, 1, it, 8);
    CHECK_EQ_INT(n, 6);
    /* 6 requests at 10/s: the pass's first 5 gaps add up to 0.5 s. */
    CHECK(llabs((long long)it[5].offset_ns - (long long)(500 * MS)) < 1000);
    CHECK_EQ_INT(p.pass_ns, 600 * MS);
    /* The 1 s lull stays 100 times longer than a 10 ms gap. */
    double ratio = (double)(it[3].offset_ns - it[2].offset_ns) /
                   (double)(it[1].offset_ns - it[0].offset_ns);
    CHECK(fabs(ratio - 100.0) < 0.01);
    rp_plan_free(&p);
    unlink(path);
}

/* With a max gap, --rate solves for the speed whose capped gaps still
 * give the rate. */
TEST(plan_rate_with_max_gap)
{
    const char *path = write_specs(bursty, BURSTY_N);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_RATE, 1, 10.0, 150 * MS, 0, NULL), 0);
    rp_sched_item it[8];
    size_t n = offsets(path, &p, 1, 0, 1, it, 8);
    CHECK_EQ_INT(n, 6);
    CHECK(llabs((long long)it[5].offset_ns - (long long)(500 * MS)) < 10000);
    CHECK_EQ_INT(it[3].offset_ns - it[2].offset_ns, 150 * MS);
    CHECK_EQ_INT(p.gaps_shortened, 1);
    rp_plan_free(&p);

    /* A cap below the mean gap cannot give the rate. */
    CHECK_EQ_INT(build(&p, path, RP_PACE_RATE, 1, 10.0, 50 * MS, 0, NULL), RP_PLAN_EOPTS);
    unlink(path);
}

TEST(plan_uniform_and_loops)
{
    const char *path = write_specs(bursty, BURSTY_N);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_UNIFORM, 1, 100.0, RP_NO_MAX_GAP, 0, NULL), 0);
    rp_sched_item it[20];
    size_t n = offsets(path, &p, 3, 0, 1, it, 20);
    CHECK_EQ_INT(n, 18);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(it[i].offset_ns, i * 10 * MS);
        CHECK_EQ_INT(it[i].seq, i);
        CHECK_EQ_INT(it[i].pass, i / 6);
    }
    /* Each pass has connections of its own. */
    CHECK_EQ_INT(it[0].conn_key, 0);
    CHECK_EQ_INT(it[6].conn_key, 3);
    CHECK_EQ_INT(it[13].conn_key, 6);
    CHECK(it[5].last_on_conn);
    CHECK(!it[0].last_on_conn);
    CHECK(it[11].last_on_conn);
    rp_plan_free(&p);
    unlink(path);
}

/* Looping at a speed keeps the pace across passes: the next pass starts
 * one mean gap after the last request. */
TEST(plan_speed_loops_continue_pace)
{
    static const spec even[] = {
        { 0, 1, "GET", "/1", 0 }, { 100 * MS, 1, "GET", "/2", 0 }, { 200 * MS, 2, "GET", "/3", 0 },
    };
    const char *path = write_specs(even, 3);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_SPEED, 1.0, 0, RP_NO_MAX_GAP, 0, NULL), 0);
    rp_sched_item it[10];
    size_t n = offsets(path, &p, 3, 0, 1, it, 10);
    CHECK_EQ_INT(n, 9);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(it[i].offset_ns, i * 100 * MS);
    rp_plan_free(&p);
    unlink(path);
}

TEST(plan_skip_and_filters)
{
    const char *path = write_specs(bursty, BURSTY_N);
    rp_rules r;
    rp_rules_init(&r);
    char err[256];
    CHECK_EQ_INT(rp_rules_add_methods(&r, 1, "DELETE,POST", err, sizeof err), 0);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_SPEED, 1.0, 0, RP_NO_MAX_GAP, 15 * MS, &r), 0);
    CHECK_EQ_INT(p.skipped, 2);
    CHECK_EQ_INT(p.filtered, 2);
    CHECK_EQ_INT(p.records, 2);               /* /d and /f */
    rp_sched_item it[8];
    size_t n = offsets(path, &p, 1, 0, 1, it, 8);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(targets[0], "/d");
    CHECK_EQ_INT(it[0].offset_ns, 0);
    CHECK_EQ_INT(it[1].offset_ns, 20 * MS);
    rp_plan_free(&p);
    rp_rules_free(&r);
    unlink(path);
}

/* Parts split the trace by connection but keep one timeline. */
TEST(plan_parts_share_timeline)
{
    const char *path = write_specs(bursty, BURSTY_N);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_SPEED, 1.0, 0, RP_NO_MAX_GAP, 0, NULL), 0);
    rp_sched_item a[8], b[8];
    size_t na = offsets(path, &p, 1, 0, 2, a, 8);
    size_t nb = offsets(path, &p, 1, 1, 2, b, 8);
    CHECK_EQ_INT(na + nb, 6);
    CHECK_EQ_INT(nb, 2);                      /* connection 2: /c and /d */
    CHECK_EQ_STR(targets[0], "/c");
    CHECK_EQ_INT(b[0].offset_ns, 20 * MS);
    CHECK_EQ_INT(b[1].offset_ns, 1020 * MS);
    CHECK_EQ_INT(a[3].offset_ns, 1040 * MS);
    rp_plan_free(&p);
    unlink(path);
}

TEST(sessions_group_by_connection)
{
    static const spec s[] = {
        { 0, 7, "GET", "/a1", 30 * MS }, { 5 * MS, 8, "GET", "/b1", 0 },
        { 100 * MS, 7, "GET", "/a2", 0 }, { 300 * MS, 8, "GET", "/b2", 0 },
        { 400 * MS, 7, "GET", "/a3", 0 },
    };
    const char *path = write_specs(s, 5);
    rp_plan p;
    CHECK_EQ_INT(build(&p, path, RP_PACE_SPEED, 1.0, 0, RP_NO_MAX_GAP, 0, NULL), 0);
    rp_sessions ss;
    char err[256];
    CHECK_EQ_INT(rp_sessions_load(&ss, path, &p, err, sizeof err), 0);
    CHECK_EQ_INT(ss.count, 2);
    CHECK_EQ_INT(ss.total, 5);
    CHECK_EQ_INT(ss.first[1] - ss.first[0], 3);
    CHECK_EQ_MEM(ss.reqs[0].rec.target, ss.reqs[0].rec.target_len, "/a1");
    CHECK_EQ_MEM(ss.reqs[2].rec.target, ss.reqs[2].rec.target_len, "/a3");
    CHECK_EQ_MEM(ss.reqs[3].rec.target, ss.reqs[3].rec.target_len, "/b1");
    CHECK_EQ_INT(ss.reqs[0].think_ns, 0);
    CHECK_EQ_INT(ss.reqs[1].think_ns, 70 * MS);   /* after the 30 ms response */
    CHECK_EQ_INT(ss.reqs[2].think_ns, 300 * MS);  /* response not captured */
    CHECK_EQ_INT(ss.reqs[4].think_ns, 295 * MS);
    rp_sessions_free(&ss);
    rp_plan_free(&p);
    unlink(path);
}

TEST(u64map_put_get_delete)
{
    rp_u64map m;
    CHECK_EQ_INT(rp_u64map_init(&m, 4), 0);
    for (uint64_t k = 0; k < 5000; k++)
        CHECK_EQ_INT(rp_u64map_put(&m, k * 7, k), 0);
    CHECK_EQ_INT(m.count, 5000);
    for (uint64_t k = 0; k < 5000; k += 2)
        rp_u64map_delete(&m, k * 7);
    CHECK_EQ_INT(m.count, 2500);
    int missing = 0, wrong = 0;
    for (uint64_t k = 0; k < 5000; k++) {
        uint64_t *v = rp_u64map_get(&m, k * 7);
        if (k % 2 == 0 && v != NULL)
            wrong++;
        if (k % 2 == 1 && (v == NULL || *v != k))
            missing++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(missing, 0);
    rp_u64map_delete(&m, 123456789);          /* absent: no change */
    CHECK_EQ_INT(m.count, 2500);
    CHECK_EQ_INT(rp_u64map_put(&m, 7, 99), 0);
    CHECK_EQ_INT(*rp_u64map_get(&m, 7), 99);
    CHECK_EQ_INT(m.count, 2500);
    rp_u64map_free(&m);
}
