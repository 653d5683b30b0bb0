#include "replay/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/trace.h"
#include "replay/sched.h"

/* What the pass over the trace collects beside the plan itself. */
typedef struct collect {
    rp_sched_clock clock;    /* RP_PACE_SPEED: the offsets as the run
                                will compute them */
    double *gaps;            /* RP_PACE_RATE with a max gap: captured gaps */
    size_t gap_count, gap_cap;
    uint64_t prev_ts;
    uint64_t last_cap;       /* entries of p->last_index */
} collect;

static int note_connection(rp_plan *p, collect *c, uint64_t conn_id, uint64_t index)
{
    uint64_t *dense = rp_u64map_get(&p->dense, conn_id);
    if (dense == NULL) {
        if (p->connections == c->last_cap) {
            uint64_t cap = c->last_cap ? c->last_cap * 2 : 1024;
            uint64_t *grown = realloc(p->last_index, cap * sizeof *grown);
            if (grown == NULL)
                return -1;
            p->last_index = grown;
            c->last_cap = cap;
        }
        if (rp_u64map_put(&p->dense, conn_id, p->connections) != 0)
            return -1;
        p->last_index[p->connections++] = index;
        return 0;
    }
    p->last_index[*dense] = index;
    return 0;
}

static int note_gap(collect *c, uint64_t gap_ns)
{
    if (c->gap_count == c->gap_cap) {
        size_t cap = c->gap_cap ? c->gap_cap * 2 : 4096;
        double *grown = realloc(c->gaps, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        c->gaps = grown;
        c->gap_cap = cap;
    }
    c->gaps[c->gap_count++] = (double)gap_ns;
    return 0;
}

static void count_method(rp_plan *p, const rp_record *rec)
{
    static const char *const names[4] = { "POST", "PUT", "PATCH", "DELETE" };
    for (int i = 0; i < 4; i++)
        if (rec->method_len == strlen(names[i]) && memcmp(rec->method, names[i], rec->method_len) == 0)
            p->mutating[i]++;
    if (rec->flags & RP_REC_CONNECT)
        p->connects++;
}

/* Accounts for one record that passed --skip and the filters. */
static int keep_record(rp_plan *p, collect *c, const rp_record *rec)
{
    uint64_t index = p->records++;
    uint64_t ts = rec->ts_ns < c->prev_ts ? c->prev_ts : rec->ts_ns;
    if (index == 0)
        p->first_ts_ns = ts;
    else if (p->opts.pace == RP_PACE_RATE && p->opts.max_gap_ns != RP_NO_MAX_GAP &&
             note_gap(c, ts - c->prev_ts) != 0)
        return -1;
    p->last_ts_ns = ts;
    c->prev_ts = ts;
    count_method(p, rec);
    if (p->opts.pace == RP_PACE_SPEED)
        p->last_offset_ns = rp_sched_clock_offset(&c->clock, ts);
    return note_connection(p, c, rec->conn_id, index);
}

static int read_all(rp_plan *p, collect *c, const char *path, char *err, size_t errlen)
{
    rp_trace_reader *r = NULL;
    int rc = rp_trace_reader_open(&r, path, err, errlen);
    if (rc != 0)
        return rc;

    uint64_t cut = 0;
    int first = 1;
    rp_record rec;
    char msg[512];
    while ((rc = rp_trace_reader_next(r, &rec, msg, sizeof msg)) != RP_TRACE_EOF) {
        if (rc == RP_TRACE_ECORRUPT)
            continue;
        if (rc < 0) {
            snprintf(err, errlen, "%s", msg);
            break;
        }
        if (first) {
            cut = rec.ts_ns + p->opts.skip_ns;
            first = 0;
        }
        if (rec.ts_ns < cut) {
            p->skipped++;
            continue;
        }
        if (p->opts.rules != NULL && !rp_rules_accept(p->opts.rules, &rec)) {
            p->filtered++;
            continue;
        }
        if (keep_record(p, c, &rec) != 0) {
            snprintf(err, errlen, "out of memory planning the replay of %s", path);
            rc = RP_TRACE_ENOMEM;
            break;
        }
    }
    p->bad_blocks = rp_trace_reader_bad_blocks(r);
    rp_trace_reader_close(r);
    return rc == RP_TRACE_EOF ? 0 : rc;
}

/* Sum of the replayed gaps at speed s: each captured gap divided by s,
 * then capped. */
static double replayed_span(const collect *c, double s, double cap)
{
    double sum = 0;
    for (size_t i = 0; i < c->gap_count; i++) {
        double g = c->gaps[i] / s;
        sum += g < cap ? g : cap;
    }
    return sum;
}

/* Finds the speed whose capped gaps add up to want_ns, by bisection on a
 * log scale (the span falls as the speed rises). */
static double solve_speed(const collect *c, double want_ns, double cap)
{
    double lo = log(1e-12), hi = log(1e12);
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (replayed_span(c, exp(mid), cap) > want_ns)
            lo = mid;
        else
            hi = mid;
    }
    return exp((lo + hi) / 2);
}

/* Runs the schedule's clock over the collected gaps, as the run will. */
static void replay_clock(rp_plan *p, const collect *c)
{
    rp_sched_opts so = { .speed = p->speed, .max_gap_ns = p->opts.max_gap_ns };
    rp_sched_clock clock;
    rp_sched_clock_init(&clock, &so);
    uint64_t ts = p->first_ts_ns;
    rp_sched_clock_offset(&clock, ts);
    for (size_t i = 0; i < c->gap_count; i++) {
        ts += (uint64_t)c->gaps[i];
        p->last_offset_ns = rp_sched_clock_offset(&clock, ts);
    }
    p->gaps_shortened = clock.gaps_shortened;
}

static int derive_rate(rp_plan *p, const collect *c, char *err, size_t errlen)
{
    double gap_ns = 1e9 / p->opts.rate;
    uint64_t span = p->last_ts_ns - p->first_ts_ns;
    p->pass_ns = (uint64_t)llround((double)p->records * gap_ns);
    if (p->records < 2 || span == 0) {
        p->rate_as_uniform = 1;
        p->last_offset_ns = p->records ? (uint64_t)llround((double)(p->records - 1) * gap_ns) : 0;
        return 0;
    }

    double want = (double)(p->records - 1) * gap_ns;
    if (p->opts.max_gap_ns == RP_NO_MAX_GAP) {
        p->speed = (double)span / want;
        p->last_offset_ns = (uint64_t)llround(want);
        return 0;
    }
    if ((double)p->opts.max_gap_ns < gap_ns) {
        snprintf(err, errlen, "a max gap of %.6f s is shorter than the mean gap of %.6f s "
                 "that a rate of %g requests/s needs", (double)p->opts.max_gap_ns / 1e9,
                 gap_ns / 1e9, p->opts.rate);
        return RP_PLAN_EOPTS;
    }
    p->speed = solve_speed(c, want, (double)p->opts.max_gap_ns);
    replay_clock(p, c);
    return 0;
}

static int derive(rp_plan *p, const collect *c, char *err, size_t errlen)
{
    switch (p->opts.pace) {
    case RP_PACE_SPEED:
        p->speed = p->opts.speed;
        p->gaps_shortened = c->clock.gaps_shortened;
        p->pass_ns = p->records > 1
            ? p->last_offset_ns + p->last_offset_ns / (p->records - 1) : 0;
        return 0;
    case RP_PACE_RATE:
        return derive_rate(p, c, err, errlen);
    case RP_PACE_UNIFORM: {
        double gap_ns = 1e9 / p->opts.rate;
        if (p->opts.max_gap_ns != RP_NO_MAX_GAP && (double)p->opts.max_gap_ns < gap_ns) {
            snprintf(err, errlen, "a max gap of %.6f s is shorter than the gap of %.6f s "
                     "between requests at %g requests/s", (double)p->opts.max_gap_ns / 1e9,
                     gap_ns / 1e9, p->opts.rate);
            return RP_PLAN_EOPTS;
        }
        p->pass_ns = (uint64_t)llround((double)p->records * gap_ns);
        p->last_offset_ns = p->records ? (uint64_t)llround((double)(p->records - 1) * gap_ns) : 0;
        return 0;
    }
    default:
        return 0;
    }
}

int rp_plan_build(rp_plan *p, const char *path, const rp_plan_opts *opts,
                  char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->opts = *opts;
    if ((opts->pace == RP_PACE_RATE || opts->pace == RP_PACE_UNIFORM) && !(opts->rate > 0)) {
        snprintf(err, errlen, "a rate must be above 0 requests/s");
        return RP_PLAN_EOPTS;
    }
    if (rp_u64map_init(&p->dense, 1024) != 0) {
        snprintf(err, errlen, "out of memory planning the replay of %s", path);
        return RP_TRACE_ENOMEM;
    }

    collect c = { 0 };
    rp_sched_opts so = { .speed = opts->speed > 0 ? opts->speed : 1.0,
                         .max_gap_ns = opts->max_gap_ns };
    rp_sched_clock_init(&c.clock, &so);
    int rc = read_all(p, &c, path, err, errlen);
    if (rc == 0)
        rc = derive(p, &c, err, errlen);
    free(c.gaps);
    if (rc != 0)
        rp_plan_free(p);
    return rc;
}

void rp_plan_free(rp_plan *p)
{
    rp_u64map_free(&p->dense);
    free(p->last_index);
    p->last_index = NULL;
}

uint64_t rp_plan_mean_gap_ns(const rp_plan *p)
{
    if (p->opts.pace == RP_PACE_MAX || p->records < 2)
        return 0;
    return p->last_offset_ns / (p->records - 1);
}
