/* Open-loop schedule: speed, max-gap and reading a trace in order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "replay/plan.h"
#include "replay/sched.h"

#define S 1000000000ull
#define MS 1000000ull
#define T0 1700000000000000000ull

static rp_sched_clock clock_with(double speed, uint64_t max_gap_ns)
{
    rp_sched_opts o = { .speed = speed, .max_gap_ns = max_gap_ns };
    rp_sched_clock c;
    rp_sched_clock_init(&c, &o);
    return c;
}

TEST(sched_speed_one_keeps_gaps)
{
    rp_sched_clock c = clock_with(1.0, RP_SCHED_NO_MAX_GAP);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0), 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 250 * MS), 250 * MS);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 3 * S), 3 * S);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 3 * S), 3 * S);
    CHECK_EQ_INT(c.gaps_shortened, 0);
}

TEST(sched_speed_divides_offsets)
{
    rp_sched_clock c = clock_with(4.0, RP_SCHED_NO_MAX_GAP);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0), 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 1 * S), 250 * MS);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 5500 * MS), 1375 * MS);

    rp_sched_clock slow = clock_with(0.5, RP_SCHED_NO_MAX_GAP);
    rp_sched_clock_offset(&slow, T0);
    CHECK_EQ_INT(rp_sched_clock_offset(&slow, T0 + 3 * S), 6 * S);
}

/* The cap applies to the replayed gap, after division by speed. */
TEST(sched_max_gap_after_speed)
{
    rp_sched_clock c = clock_with(2.0, 5 * S);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0), 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 8 * S), 4 * S);            /* 8 s / 2 = 4 s, kept */
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 68 * S), 9 * S);           /* 60 s / 2 = 30 s -> 5 s */
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 70 * S), 10 * S);          /* then 2 s / 2 = 1 s */
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 70 * S + 10 * 86400 * S), 15 * S);  /* ten days */
    CHECK_EQ_INT(c.gaps_shortened, 2);
}

TEST(sched_max_gap_exactly_at_limit_kept)
{
    rp_sched_clock c = clock_with(1.0, 5 * S);
    rp_sched_clock_offset(&c, T0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 5 * S), 5 * S);
    CHECK_EQ_INT(c.gaps_shortened, 0);
}

TEST(sched_max_gap_zero_sends_at_once)
{
    rp_sched_clock c = clock_with(1.0, 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0), 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 1 * S), 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 1 * S), 0);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 9 * S), 0);
}

TEST(sched_backwards_timestamp_is_zero_gap)
{
    rp_sched_clock c = clock_with(1.0, RP_SCHED_NO_MAX_GAP);
    rp_sched_clock_offset(&c, T0 + 10 * S);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 12 * S), 2 * S);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 1 * S), 2 * S);
    CHECK_EQ_INT(rp_sched_clock_offset(&c, T0 + 13 * S), 3 * S);
}

/* A million 1 ns gaps at speed 3: the last offset is rounded once, not a
 * million times. */
TEST(sched_rounding_does_not_accumulate)
{
    rp_sched_clock c = clock_with(3.0, RP_SCHED_NO_MAX_GAP);
    uint64_t offset = 0, prev = 0;
    int monotonic = 1;
    for (uint64_t i = 0; i < 1000000; i++) {
        offset = rp_sched_clock_offset(&c, T0 + i);
        if (offset < prev)
            monotonic = 0;
        prev = offset;
    }
    CHECK(monotonic);
    CHECK_EQ_INT(offset, 333333);   /* 999999 / 3 */
}

/* ---- over a real trace file ---- */

static void write_trace(const char *path, const uint64_t *ts, size_t n)
{
    rp_trace_meta meta = { .source = "test_sched", .filter = "", .tool = "unit" };
    rp_trace_writer_opts opts = { .block_records = 3 };   /* several blocks */
    rp_trace_writer *w = NULL;
    char err[256];
    int rc = rp_trace_writer_open(&w, path, &meta, &opts, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  %s\n", err);
    CHECK_EQ_INT(rc, 0);
    for (size_t i = 0; i < n && w != NULL; i++) {
        char target[32];
        snprintf(target, sizeof target, "/r%zu", i);
        rp_record r = {
            .ts_ns = ts[i], .conn_id = i % 2, .http_major = 1, .http_minor = 1,
            .method = "GET", .method_len = 3,
            .target = target, .target_len = (uint32_t)strlen(target),
            .headers = "Host: a\r\n", .headers_len = 9,
        };
        CHECK_EQ_INT(rp_trace_writer_add(w, &r, err, sizeof err), 0);
    }
    if (w != NULL)
        CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);
}

static rp_plan plan_for(const char *path, int pace, double speed, double rate,
                        uint64_t max_gap_ns)
{
    rp_plan_opts o = { .pace = pace, .speed = speed, .rate = rate, .max_gap_ns = max_gap_ns };
    rp_plan p;
    char err[256] = "";
    int rc = rp_plan_build(&p, path, &o, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  plan: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    return p;
}

TEST(sched_reads_trace_in_order)
{
    char path[] = "/tmp/test_sched_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    const uint64_t ts[] = { T0, T0 + 1 * S, T0 + 2 * S, T0 + 100 * S, T0 + 101 * S,
                            T0 + 101 * S, T0 + 103 * S };
    const uint64_t want[] = { 0, 500 * MS, 1000 * MS, 1500 * MS, 2000 * MS,
                              2000 * MS, 2500 * MS };   /* 2 s / 2 = 1 s, cut to 0.5 s */
    size_t n = sizeof ts / sizeof ts[0];
    write_trace(path, ts, n);

    rp_plan plan = plan_for(path, RP_PACE_SPEED, 2.0, 0, 500 * MS);
    rp_sched *s = NULL;
    char err[256];
    CHECK_EQ_INT(rp_sched_open(&s, path, &plan, 1, 0, 1, err, sizeof err), 0);
    for (size_t i = 0; s != NULL && i < n; i++) {
        rp_sched_item it, again;
        CHECK_EQ_INT(rp_sched_peek(s, &it, err, sizeof err), 0);
        CHECK_EQ_INT(rp_sched_peek(s, &again, err, sizeof err), 0);
        CHECK(it.rec == again.rec);
        CHECK_EQ_INT(it.offset_ns, want[i]);
        CHECK_EQ_INT(again.offset_ns, want[i]);
        CHECK_EQ_INT(it.seq, i);
        char expect_target[32];
        snprintf(expect_target, sizeof expect_target, "/r%zu", i);
        CHECK_EQ_MEM(it.rec->target, it.rec->target_len, expect_target);
        CHECK_EQ_INT(rp_sched_consumed(s), i);
        rp_sched_advance(s);
    }
    rp_sched_item it;
    if (s != NULL) {
        CHECK_EQ_INT(rp_sched_peek(s, &it, err, sizeof err), RP_TRACE_EOF);
        CHECK_EQ_INT(rp_sched_consumed(s), n);
        CHECK_EQ_INT(rp_sched_gaps_shortened(s), 2);
        CHECK_EQ_INT(rp_sched_bad_blocks(s), 0);
    }
    CHECK_EQ_INT(plan.records, n);
    CHECK_EQ_INT(plan.last_offset_ns, 2500 * MS);
    CHECK_EQ_INT(plan.gaps_shortened, 2);
    rp_sched_close(s);
    rp_plan_free(&plan);
    unlink(path);
}

TEST(sched_missing_trace_names_file)
{
    rp_plan_opts opts = { .pace = RP_PACE_SPEED, .speed = 1.0,
                          .max_gap_ns = RP_SCHED_NO_MAX_GAP };
    rp_plan plan;
    char err[256] = "";
    int rc = rp_plan_build(&plan, "/nonexistent/trace.rpz", &opts, err, sizeof err);
    CHECK(rc < 0);
    CHECK(strstr(err, "/nonexistent/trace.rpz") != NULL);
}
