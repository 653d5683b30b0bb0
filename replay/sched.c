#include "replay/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct rp_sched {
    rp_trace_reader *reader;
    const rp_plan *plan;
    uint64_t passes;         /* 0: no end */
    uint32_t part, parts;

    rp_sched_clock clock;
    uint64_t pass;
    uint64_t index;          /* next request's index in the pass */
    uint64_t cut_ns;         /* --skip: records before this are left out */
    int cut_known;

    rp_record rec;
    int have_rec;            /* item contains the next request */
    rp_sched_item item;
    uint64_t consumed;
    uint64_t seq_base;       /* requests of the earlier passes */
    uint64_t gaps_shortened; /* of the earlier passes */
    uint64_t bad_blocks;     /* of the earlier passes */
};

void rp_sched_clock_init(rp_sched_clock *c, const rp_sched_opts *opts)
{
    c->speed = opts->speed > 0 ? opts->speed : 1.0;
    c->max_gap_ns = opts->max_gap_ns;
    c->started = 0;
    c->prev_ts_ns = 0;
    c->base_ts_ns = 0;
    c->base_offset_ns = 0;
    c->prev_offset_ns = 0;
    c->gaps_shortened = 0;
}

static uint64_t scale(uint64_t captured_ns, double speed)
{
    return (uint64_t)((double)captured_ns / speed + 0.5);
}

uint64_t rp_sched_clock_offset(rp_sched_clock *c, uint64_t ts_ns)
{
    if (!c->started) {
        c->started = 1;
        c->prev_ts_ns = ts_ns;
        c->base_ts_ns = ts_ns;
        return 0;
    }
    if (ts_ns < c->prev_ts_ns)
        ts_ns = c->prev_ts_ns;

    uint64_t gap = scale(ts_ns - c->prev_ts_ns, c->speed);
    uint64_t offset;
    if (c->max_gap_ns != RP_SCHED_NO_MAX_GAP && gap > c->max_gap_ns) {
        /* Restart the linear mapping after the shortened gap. */
        offset = c->prev_offset_ns + c->max_gap_ns;
        c->base_ts_ns = ts_ns;
        c->base_offset_ns = offset;
        c->gaps_shortened++;
    } else {
        offset = c->base_offset_ns + scale(ts_ns - c->base_ts_ns, c->speed);
        if (offset < c->prev_offset_ns)   /* rounding; never go backwards */
            offset = c->prev_offset_ns;
    }
    c->prev_ts_ns = ts_ns;
    c->prev_offset_ns = offset;
    return offset;
}

static void start_pass(rp_sched *s)
{
    const rp_plan *p = s->plan;
    rp_sched_opts so = { .speed = p->speed > 0 ? p->speed : 1.0,
                         .max_gap_ns = p->opts.max_gap_ns };
    rp_sched_clock_init(&s->clock, &so);
    s->index = 0;
    s->cut_known = 0;
}

int rp_sched_open(rp_sched **out, const char *path, const rp_plan *plan,
                  uint64_t passes, uint32_t part, uint32_t parts,
                  char *err, size_t errlen)
{
    *out = NULL;
    rp_sched *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory opening schedule for %s", path);
        return RP_TRACE_ENOMEM;
    }
    int rc = rp_trace_reader_open(&s->reader, path, err, errlen);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->plan = plan;
    s->passes = passes;
    s->parts = parts ? parts : 1;
    s->part = part;
    start_pass(s);
    *out = s;
    return 0;
}

/* Offset of the request with capture time ts, within its pass. */
static uint64_t pass_offset(rp_sched *s, uint64_t ts)
{
    const rp_plan *p = s->plan;
    switch (p->opts.pace) {
    case RP_PACE_MAX:
        return 0;
    case RP_PACE_UNIFORM:
        return (uint64_t)llround((double)s->index * 1e9 / p->opts.rate);
    case RP_PACE_RATE:
        if (p->rate_as_uniform)
            return (uint64_t)llround((double)s->index * 1e9 / p->opts.rate);
        return rp_sched_clock_offset(&s->clock, ts);
    default:
        return rp_sched_clock_offset(&s->clock, ts);
    }
}

/* Moves to the next pass at the end of the trace. Returns 0, or
 * RP_TRACE_EOF after the last pass, or a negative code. */
static int next_pass(rp_sched *s, char *msg, size_t msglen)
{
    if (s->plan->records == 0 || (s->passes != 0 && s->pass + 1 >= s->passes))
        return RP_TRACE_EOF;
    s->seq_base += s->plan->records;
    s->gaps_shortened += s->clock.gaps_shortened;
    s->bad_blocks += rp_trace_reader_bad_blocks(s->reader);
    s->pass++;
    start_pass(s);
    return rp_trace_reader_rewind(s->reader, msg, msglen);
}

/* read_next's return for a damaged block that was skipped: a warning,
 * after which reading goes on. Distinct from RP_TRACE_EOF. */
#define DAMAGED_BLOCK 2

/* Reads records until one of this part passes --skip and the filters. */
static int read_next(rp_sched *s, char *msg, size_t msglen)
{
    const rp_plan *p = s->plan;
    for (;;) {
        int rc = rp_trace_reader_next(s->reader, &s->rec, msg, msglen);
        if (rc == RP_TRACE_EOF) {
            if (msg != NULL && msglen > 0)
                msg[0] = '\0';
            rc = next_pass(s, msg, msglen);
            if (rc != 0)
                return rc;
            continue;
        }
        if (rc == RP_TRACE_ECORRUPT)
            return DAMAGED_BLOCK;
        if (rc < 0)
            return rc;
        if (!s->cut_known) {
            s->cut_ns = s->rec.ts_ns + p->opts.skip_ns;
            s->cut_known = 1;
        }
        if (s->rec.ts_ns < s->cut_ns)
            continue;
        if (p->opts.rules != NULL && !rp_rules_accept(p->opts.rules, &s->rec))
            continue;

        uint64_t offset = pass_offset(s, s->rec.ts_ns);
        uint64_t index = s->index++;
        uint64_t *dense = rp_u64map_get(&p->dense, s->rec.conn_id);
        uint64_t d = dense ? *dense : 0;
        if (d % s->parts != s->part)
            continue;

        rp_sched_item *it = &s->item;
        it->rec = &s->rec;
        it->offset_ns = p->opts.pace == RP_PACE_MAX ? 0 : s->pass * p->pass_ns + offset;
        it->seq = s->seq_base + index;
        it->pass = s->pass;
        it->conn_key = s->pass * p->connections + d;
        it->last_on_conn = dense != NULL && p->last_index[d] == index;
        return 0;
    }
}

int rp_sched_peek(rp_sched *s, rp_sched_item *item, char *msg, size_t msglen)
{
    char text[512], warning[512];
    warning[0] = '\0';
    if (!s->have_rec) {
        int rc;
        while ((rc = read_next(s, text, sizeof text)) == DAMAGED_BLOCK)
            snprintf(warning, sizeof warning, "%s", text);
        if (rc != 0) {
            if (msg != NULL && msglen > 0)
                snprintf(msg, msglen, "%s", rc == RP_TRACE_EOF ? "" : text);
            return rc;
        }
        s->have_rec = 1;
    }
    if (msg != NULL && msglen > 0) {
        msg[0] = '\0';
        if (warning[0] != '\0')
            snprintf(msg, msglen, "%s", warning);
    }
    *item = s->item;
    return 0;
}

void rp_sched_advance(rp_sched *s)
{
    if (s->have_rec) {
        s->have_rec = 0;
        s->consumed++;
    }
}

uint64_t rp_sched_consumed(const rp_sched *s) { return s->consumed; }
uint64_t rp_sched_passes(const rp_sched *s) { return s->pass + 1; }

uint64_t rp_sched_gaps_shortened(const rp_sched *s)
{
    return s->gaps_shortened + s->clock.gaps_shortened;
}

uint64_t rp_sched_bad_blocks(const rp_sched *s)
{
    return s->bad_blocks + rp_trace_reader_bad_blocks(s->reader);
}

void rp_sched_close(rp_sched *s)
{
    if (s == NULL)
        return;
    rp_trace_reader_close(s->reader);
    free(s);
}
