/* The capacity report of `reprise ramp`: the steps, the knee, the
 * capacity, the recovery check and the soak. One structure, written as
 * JSON (capacity.c, read back too, so `reprise report` can render a saved
 * report), as a terminal summary and Markdown (capacity_text.c) and as
 * self-contained HTML (capacity_html.c). docs/ramp.md describes the keys.
 */
#ifndef RP_CAPACITY_H
#define RP_CAPACITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RP_CAPACITY_MAX_STEPS 200

/* The unit of a step's pace. */
enum rp_capacity_unit {
    RP_CAPACITY_SPEED = 0,        /* multiple of the captured pace */
    RP_CAPACITY_RATE,             /* requests/s */
    RP_CAPACITY_USERS             /* concurrent virtual users */
};

/* The part of the ramp that SIGINT stopped. */
enum rp_capacity_stop {
    RP_CAPACITY_RAN = 0,          /* not interrupted */
    RP_CAPACITY_STOPPED_STEPS,
    RP_CAPACITY_STOPPED_RECOVERY,
    RP_CAPACITY_STOPPED_SOAK
};

/* The signal that marks a step as the knee. */
enum rp_capacity_signal {
    RP_CAPACITY_NONE = 0,
    RP_CAPACITY_LATENCY,          /* p95 reached knee_factor times the first step's */
    RP_CAPACITY_ERRORS,           /* error rate above max_error_rate */
    RP_CAPACITY_GENERATOR         /* the load generator fell behind */
};

typedef struct rp_capacity_step {
    double pace;                  /* in the report's unit */
    double asked_rate;            /* the schedule's mean requests/s; 0 for users */
    double achieved_rate;         /* responses per second */
    double p50_ms, p95_ms, p99_ms;
    uint64_t requests, responses, failures;
    double error_rate;            /* failures / requests, 0..1 */
    uint64_t connections;         /* connections in use at most */
    int saturated;                /* the generator fell behind */
    uint64_t dispatch_lag_p99_us;
    int signal;                   /* enum rp_capacity_signal */
} rp_capacity_step;

/* A per-second series, for the recovery and soak charts. */
typedef struct rp_capacity_series {
    double *p95_ms;               /* one per second; negative: no response */
    size_t count;
} rp_capacity_series;

typedef struct rp_capacity_recovery {
    int ran;
    double pace;
    double drain_s;               /* the knee step's answers still coming
                                     after its sending stopped */
    double overload_s;            /* at the knee pace again before the drop */
    int recovered;
    double recovered_after_s;     /* from the drop to half the knee pace */
    double threshold_p95_ms;      /* 1.2 times the first step's p95 */
    rp_capacity_series series;    /* whole seconds after the drop */
} rp_capacity_recovery;

typedef struct rp_capacity_soak {
    int ran;
    double pace;
    double duration_s;
    double achieved_rate;
    double error_rate;
    double first_p95_ms;          /* median per-second p95, first third */
    double last_p95_ms;           /* median per-second p95, last third */
    int degrading;                /* last third 20% above the first, or
                                     errors above max_error_rate */
    rp_capacity_series series;
} rp_capacity_soak;

typedef struct rp_capacity {
    char *trace, *target;
    int unit;                     /* enum rp_capacity_unit */
    double hold_s, warmup, knee_factor, max_error_rate;
    rp_capacity_step steps[RP_CAPACITY_MAX_STEPS];
    size_t step_count;
    long knee;                    /* index into steps, or -1 */
    long stable;                  /* the highest step before the knee, or -1 */
    int stopped;                  /* enum rp_capacity_stop */
    rp_capacity_recovery recovery;
    rp_capacity_soak soak;
} rp_capacity;

/* Sets c empty: no steps, no knee, nothing run. */
void rp_capacity_init(rp_capacity *c);

/* Frees the strings and series; c is empty afterwards. */
void rp_capacity_free(rp_capacity *c);

/* "none", "latency", "errors" or "generator". */
const char *rp_capacity_signal_name(int signal);

/* "speed", "requests/s" or "users". */
const char *rp_capacity_unit_name(int unit);

/* null-free names of enum rp_capacity_stop: "", "steps", "recovery",
 * "soak". */
const char *rp_capacity_stop_name(int stopped);

/* "target", "generator", "max_step" (no knee) or "interrupted" (stopped
 * before a knee). */
const char *rp_capacity_limited_by(const rp_capacity *c);

/* Writes pace in the unit: "2x", "150/s" or "50 users". */
void rp_capacity_format_pace(int unit, double pace, char *buf, size_t len);

/* Writes or reads the JSON report. Each returns 0, or -1 with err naming
 * the file and the problem. */
int rp_capacity_write_json(const rp_capacity *c, const char *path, char *err, size_t errlen);
int rp_capacity_read_json(rp_capacity *c, const char *path, char *err, size_t errlen);

/* Whether the JSON file at path looks like a capacity report (has
 * "capacity" and "steps"). */
int rp_capacity_is_report(const char *path);

/* Terminal output: the step table's header and one row, and the summary
 * with the capacity curve as a text chart. */
void rp_capacity_print_header(FILE *f, int unit);
void rp_capacity_print_step(FILE *f, const rp_capacity *c, size_t i);
void rp_capacity_print_summary(FILE *f, const rp_capacity *c);

/* Writes the report as Markdown or as self-contained HTML to path.
 * Returns 0, or -1 with err naming the file. */
int rp_capacity_write_markdown(const rp_capacity *c, const char *path, char *err, size_t errlen);
int rp_capacity_write_html(const rp_capacity *c, const char *path, char *err, size_t errlen);

#endif
