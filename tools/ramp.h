/* reprise ramp in two parts. cmd_ramp.c reads the options and walks the
 * steps. ramp_run.c replays one step, the recovery step or the soak, and
 * turns the replay's results into the capacity report's figures. */
#ifndef RP_RAMP_H
#define RP_RAMP_H

#include <stdint.h>

#include "formats/capacity.h"
#include "replay/rules.h"
#include "replay/target.h"

typedef struct ramp_opts {
    const char *trace, *target_url, *report, *markdown, *html;
    int unit;                    /* enum rp_capacity_unit */
    int uniform;                 /* rate steps evenly spaced */
    double start, step, max;     /* in the unit */
    uint64_t hold_ns;
    uint64_t soak_ns;            /* 0: no soak */
    double warmup;               /* share of --hold not measured, 0..0.9 */
    double knee_factor;
    double max_error_rate;       /* share, 0..1 */
    uint32_t connections;
    uint64_t timeout_ns;
    rp_target target;
    rp_rules rules;
} ramp_opts;

/* What a step's run leaves besides its figures. */
typedef struct ramp_extra {
    int interrupted;             /* SIGINT ended the run */
    double drain_s;              /* responses still arriving after sending stopped */
} ramp_extra;

/* Each returns 0, or an exit code after printing why. */

/* Runs one step at pace for --hold and fills s (signal left NONE). */
int ramp_run_step(const ramp_opts *o, double pace, rp_capacity_step *s, ramp_extra *x);

/* Runs at half the knee pace for --hold without warm-up and fills rec. */
int ramp_run_recovery(const ramp_opts *o, double knee_pace, double first_p95_ms,
                      rp_capacity_recovery *rec, ramp_extra *x);

/* Holds pace for --soak and fills soak. */
int ramp_run_soak(const ramp_opts *o, double pace, rp_capacity_soak *soak, ramp_extra *x);

#endif
