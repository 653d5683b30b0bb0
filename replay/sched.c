#include "replay/sched.h"

#include <stdio.h>
#include <stdlib.h>

struct rp_sched {
    rp_trace_reader *reader;
    rp_sched_clock clock;
    rp_record rec;
    int have_rec;            /* rec contains the next record, not yet consumed */
    uint64_t rec_offset_ns;
    uint64_t consumed;
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

int rp_sched_open(rp_sched **out, const char *path, const rp_sched_opts *opts,
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
    rp_sched_clock_init(&s->clock, opts);
    *out = s;
    return 0;
}

int rp_sched_peek(rp_sched *s, const rp_record **rec, uint64_t *offset_ns,
                  char *msg, size_t msglen)
{
    if (msg != NULL && msglen > 0)
        msg[0] = '\0';
    if (!s->have_rec) {
        char text[512] = "";
        int rc = rp_trace_reader_next(s->reader, &s->rec, text, sizeof text);
        if (msg != NULL && msglen > 0 && rc != RP_TRACE_EOF)
            snprintf(msg, msglen, "%s", text);
        if (rc != 0)
            return rc;
        s->rec_offset_ns = rp_sched_clock_offset(&s->clock, s->rec.ts_ns);
        s->have_rec = 1;
    }
    *rec = &s->rec;
    *offset_ns = s->rec_offset_ns;
    return 0;
}

void rp_sched_advance(rp_sched *s)
{
    if (s->have_rec) {
        s->have_rec = 0;
        s->consumed++;
    }
}

const rp_trace_info *rp_sched_trace_info(const rp_sched *s)
{
    return rp_trace_reader_info(s->reader);
}

uint64_t rp_sched_consumed(const rp_sched *s) { return s->consumed; }
uint64_t rp_sched_gaps_shortened(const rp_sched *s) { return s->clock.gaps_shortened; }
uint64_t rp_sched_bad_blocks(const rp_sched *s) { return rp_trace_reader_bad_blocks(s->reader); }

void rp_sched_close(rp_sched *s)
{
    if (s == NULL)
        return;
    rp_trace_reader_close(s->reader);
    free(s);
}
