/* The plan of a replay: one pass over the trace before the run, which
 * fixes what the schedule needs to know in advance.
 *
 * It counts the requests that will be sent (after --skip and the
 * filters). It numbers the captured connections in order of first request
 * (their dense index) and notes each one's last request, so that a
 * transport can close a connection when its captured one is done. It
 * derives the pace of --rate and the length of one pass, by which each
 * loop is shifted.
 */
#ifndef RP_PLAN_H
#define RP_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "replay/rules.h"
#include "replay/u64map.h"

#define RP_NO_MAX_GAP UINT64_MAX

/* Pacing modes. */
enum rp_pace {
    RP_PACE_SPEED = 0,     /* captured timestamps divided by speed */
    RP_PACE_RATE,          /* captured timestamps scaled to a mean rate */
    RP_PACE_UNIFORM,       /* evenly spaced at a rate */
    RP_PACE_MAX            /* closed loop: next request when one completes */
};

typedef struct rp_plan_opts {
    int pace;              /* enum rp_pace */
    double speed;          /* RP_PACE_SPEED; > 0 */
    double rate;           /* requests per second, RP_PACE_RATE and _UNIFORM */
    uint64_t max_gap_ns;   /* cap on each replayed gap; RP_NO_MAX_GAP for none */
    uint64_t skip_ns;      /* captured time skipped at the start */
    const rp_rules *rules; /* filters; NULL for none */
} rp_plan_opts;

typedef struct rp_plan {
    rp_plan_opts opts;
    uint64_t records;      /* requests in one pass */
    uint64_t skipped;      /* records before the --skip offset */
    uint64_t filtered;     /* records the filters removed */
    uint64_t connections;  /* distinct captured connections in a pass */
    uint64_t first_ts_ns, last_ts_ns;   /* of the requests kept */
    uint64_t mutating[4];  /* POST, PUT, PATCH, DELETE kept */
    uint64_t connects;     /* CONNECT requests kept (never sent) */
    uint64_t bad_blocks;   /* damaged trace blocks */

    double speed;          /* the divisor applied to captured gaps: speed,
                              or the one --rate solves for; 0 for
                              RP_PACE_UNIFORM and RP_PACE_MAX */
    int rate_as_uniform;   /* --rate on a trace whose timestamps are all
                              equal: spaced evenly instead */
    uint64_t gaps_shortened;  /* per pass, by max_gap */
    uint64_t last_offset_ns;  /* offset of the last request in a pass */
    uint64_t pass_ns;      /* offset of pass k is k * pass_ns: the pass's
                              span plus one mean gap */

    rp_u64map dense;       /* captured conn_id -> dense index */
    uint64_t *last_index;  /* dense index -> index in the pass of the
                              connection's last request */
} rp_plan;

/* Reads the trace at path once and fills p. Returns 0, a negative
 * RP_TRACE_E* code with err filled, or RP_PLAN_EOPTS when the options
 * cannot be met (err names the conflict). A damaged block is skipped and
 * counted, as the run will skip it too. */
int rp_plan_build(rp_plan *p, const char *path, const rp_plan_opts *opts,
                  char *err, size_t errlen);

void rp_plan_free(rp_plan *p);

#define RP_PLAN_EOPTS (-100)

/* Mean gap between requests of the replayed schedule, in nanoseconds; 0
 * for closed loop or a single request. */
uint64_t rp_plan_mean_gap_ns(const rp_plan *p);

#endif
