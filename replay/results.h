/* Results of a replay, fed one finished request at a time: latency
 * histograms for the whole run, per endpoint, per status class and per
 * second, and failure counts by the user's rules. The module does no I/O:
 * formats/results_json.c writes and reads its report keys,
 * formats/results_out.c its CSV files, interval log and terminal tables.
 * docs/report-results.md describes the figures and the failure rules.
 *
 * Times are nanoseconds on CLOCK_MONOTONIC (the uv_hrtime() clock).
 * Histograms are microseconds, 1 us to 1 hour at 3 significant digits
 * (RP_HIST_HOUR_US, 3), in HdrHistogram's layout, about 190 KB each. There
 * are three for the run, three per status class and per tracked endpoint
 * once it has a response, one for send lag, and RP_RESULTS_OPEN_SECONDS for
 * the seconds still receiving completions. A closed second keeps its
 * histogram compressed (HdrHistogram V2, typically a few hundred bytes).
 *
 * Not thread-safe: give each engine thread its own rp_results and merge
 * them with rp_results_merge when the threads are done.
 */
#ifndef RP_RESULTS_H
#define RP_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "replay/hist.h"

#define RP_RESULTS_MAX_STATUS 1000          /* statuses 0..999 counted one by one */
#define RP_RESULTS_DEFAULT_MAX_ENDPOINTS 50 /* endpoints with histograms of their own */
#define RP_RESULTS_OPEN_SECONDS 4
#define RP_RESULTS_OTHER "(other)"
#define RP_RESULTS_HIST_DIGITS 3

/* Outcome of a due request. The transport error kinds keep the values of
 * enum rp_error_kind in replay/transport.h. */
enum rp_result_kind {
    RP_RES_RESPONSE = 0,   /* a complete response, any status */
    RP_RES_CONNECT,        /* no connection: refused, unreachable, connect timed out */
    RP_RES_TIMEOUT,        /* no complete response within the timeout */
    RP_RES_RESET,          /* the peer reset or closed the connection mid-exchange */
    RP_RES_OTHER,          /* any other transport error (malformed response, TLS) */
    RP_RES_CLIENT,         /* the client failed: no descriptor, no local port */
    RP_RES_NOT_SENT,       /* dropped at its due time, e.g. too many in flight */
    RP_RES_SKIPPED,        /* never sent by design, e.g. a CONNECT request */
    RP_RES_CANCELLED,      /* in flight when the run was stopped */
    RP_RES_KINDS
};

/* Whether a replayed status that differs from the recorded one counts. */
enum rp_mismatch_mode {
    RP_MISMATCH_OFF = 0,   /* not compared */
    RP_MISMATCH_COUNT,     /* counted, not a failure */
    RP_MISMATCH_FAIL       /* counted and a failure */
};

/* One due request, as the engine saw it. */
typedef struct rp_request_result {
    uint64_t due_ns;          /* when it was due */
    uint64_t send_ns;         /* it started going out; 0 if it never did */
    uint64_t first_byte_ns;   /* first response byte; 0 if none came */
    uint64_t done_ns;         /* the transport finished with it; 0 means
                                 due_ns (not sent and skipped requests) */
    /* The method and request-target, whose path is normalised into the
     * endpoint. A length of 0 means the string is NUL-terminated (as in
     * rp_request); give the lengths for an rp_record's fields. NULL
     * counts as "". */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int status;               /* final HTTP status; 0 without a response */
    int recorded_status;      /* status in the trace; 0 when not recorded */
    int kind;                 /* enum rp_result_kind */
    uint64_t bytes_received;  /* response bytes: status line, headers, body */
} rp_request_result;

/* A set of HTTP statuses 0..999. */
typedef struct rp_status_set {
    uint8_t bits[RP_RESULTS_MAX_STATUS / 8];
} rp_status_set;

typedef struct rp_results_config {
    /* Statuses that count as failures: rp_results_config_init puts 500-599
     * in it, rp_results_config_apply_status adds the --fail-status list
     * and removes the --ok-status list. */
    rp_status_set fail_status;
    int mismatch;             /* enum rp_mismatch_mode */
    uint32_t max_endpoints;   /* 0 means RP_RESULTS_DEFAULT_MAX_ENDPOINTS */
} rp_results_config;

/* Counters and histograms of one group of requests: the whole run, an
 * endpoint or a status class. A histogram pointer is NULL until the group
 * has a response. */
typedef struct rp_results_group {
    char *method;             /* endpoints only; "" elsewhere */
    char *name;               /* endpoint template, "(other)", or "2xx" */
    uint64_t requests;        /* due requests, every kind (status classes:
                                 responses) */
    uint64_t responses;
    uint64_t failures;        /* by the failure rules */
    uint64_t mismatches;      /* responses whose status differs from the
                                 recorded one */
    uint64_t mismatch_failures; /* failures only because of a mismatch */
    uint64_t kinds[RP_RES_KINDS];
    uint64_t bytes_received;
    uint64_t *status;         /* [RP_RESULTS_MAX_STATUS] response counts, or NULL */
    rp_hist *response_time;   /* done - due, responses only */
    rp_hist *service_time;    /* done - send */
    rp_hist *ttfb;            /* first byte - send */
} rp_results_group;

/* One wall-clock second of the run. Each request counts in the second of
 * each of its events: due, sent, finished. */
typedef struct rp_results_second {
    int64_t epoch_s;          /* Unix time of the second's start */
    uint64_t due, sent;
    uint64_t completed;       /* responses, transport and client errors */
    uint64_t responses;
    uint64_t failures;
    uint64_t mismatches;
    uint64_t kinds[RP_RES_KINDS];
    uint64_t started;         /* requests that went in flight */
    uint64_t finished;        /* requests in flight that ended */
    uint64_t in_flight;       /* at the end of the second, from the two above */
    uint64_t bytes_received;
    uint64_t lag_count, lag_sum_us, lag_max_us;   /* send lag of the sent */
    uint64_t rt_count;        /* response times recorded in this second */
    uint64_t rt_p50_us, rt_p95_us, rt_p99_us, rt_max_us;
    char *rt_hist;            /* closed second's response times: HdrHistogram
                                 compressed V2 base64, or NULL */
} rp_results_second;

typedef struct rp_results rp_results;

/* Sets the default rules: 500-599 fail, mismatches not compared, the
 * default endpoint limit. */
void rp_results_config_init(rp_results_config *cfg);

/* Adds a status list such as "404,429,500-599" or "4xx" (statuses 100 to
 * 999, ranges inclusive, Nxx a class) to set. Returns 0, or -1 with err
 * naming the bad item and the accepted forms. */
int rp_status_set_parse(rp_status_set *set, const char *text, char *err, size_t errlen);

int rp_status_set_has(const rp_status_set *set, int status);
void rp_status_set_add(rp_status_set *set, int status);

/* Writes set as a list of ranges, e.g. "429,500-599" ("" when empty). */
void rp_status_set_format(const rp_status_set *set, char *out, size_t outlen);

/* Applies --fail-status and --ok-status lists (either may be NULL) to
 * cfg->fail_status. A status in both lists is rejected. Returns 0 or -1
 * with err filled. */
int rp_results_config_apply_status(rp_results_config *cfg, const char *fail_list,
                                   const char *ok_list, char *err, size_t errlen);

/* Creates empty results; cfg NULL means the defaults. Returns NULL when
 * out of memory. Monotonic times map to the wall clock through one
 * reading of both clocks taken here; rp_results_set_clock replaces it. */
rp_results *rp_results_new(const rp_results_config *cfg);

void rp_results_free(rp_results *r);

/* Declares that monotonic time mono_ns was Unix time wall_ns (both in
 * nanoseconds). Call it before the first rp_results_add. */
void rp_results_set_clock(rp_results *r, uint64_t mono_ns, uint64_t wall_ns);

/* Accounts for one due request. A request whose endpoint cannot get its
 * own group (limit reached, out of memory) counts in "(other)". */
void rp_results_add(rp_results *r, const rp_request_result *o);

/* Closes the open seconds (percentiles, compressed histogram), sorts the
 * endpoints by requests and fills in_flight. Adding afterwards still
 * works. Returns 0, or -1 when memory ran out at any point, in which case
 * some per-second or per-endpoint figures are incomplete. */
int rp_results_finish(rp_results *r);

/* Adds src into dst exactly: counts, histograms, endpoints by method and
 * name, seconds by wall-clock second. Finishes both. Returns 0, or -1 with
 * err filled when their failure rules differ or memory runs out. */
int rp_results_merge(rp_results *dst, rp_results *src, char *err, size_t errlen);

/* ---- reading ---- */

const rp_results_config *rp_results_config_of(const rp_results *r);
const rp_results_group *rp_results_total(const rp_results *r);
const rp_hist *rp_results_send_lag(const rp_results *r);

/* Endpoints, sorted by requests (most first) by rp_results_finish, then
 * "(other)" when it has requests. */
size_t rp_results_endpoint_count(const rp_results *r);
const rp_results_group *rp_results_endpoint(const rp_results *r, size_t i);

/* Status classes: 0 = "1xx" ... 4 = "5xx", 5 = "other" (outside 100-599). */
#define RP_RESULTS_CLASSES 6
const rp_results_group *rp_results_status_class(const rp_results *r, int cls);
int rp_results_class_of(int status);

/* Name of a kind as used in reports and tables: "response", "connect",
 * "timeout", "reset", "other", "client", "not_sent", "skipped",
 * "cancelled". rp_results_kind_parse returns the kind or -1. */
const char *rp_results_kind_name(int kind);
int rp_results_kind_parse(const char *name);

/* Seconds from the first to the last with an event. */
size_t rp_results_second_count(const rp_results *r);
const rp_results_second *rp_results_second_at(const rp_results *r, size_t i);

/* Unix times (ns) of the earliest due time and the latest completion; both
 * 0 before the first request. */
void rp_results_span(const rp_results *r, int64_t *first_wall_ns, int64_t *last_wall_ns);
double rp_results_duration_s(const rp_results *r);

/* Failures divided by requests due; 0 when none was due. */
double rp_results_error_rate(const rp_results_group *g);

/* Percentile p of h, 0 when h is NULL or empty. */
uint64_t rp_results_percentile(const rp_hist *h, double p);

/* Writes the endpoint name of a request-target into out, by
 * rp_endpoint_normalize_path (formats/endpoint.h): the path without scheme,
 * host and query, numeric, UUID and long hex segments folded into {id},
 * {uuid} and {hex}. Returns the length written (truncated to outlen - 1). */
size_t rp_results_normalize_target(const char *target, char *out, size_t outlen);

/* Merges every endpoint that matches method (NULL or "" for any) and the
 * normalised form of path into a new group (free it with
 * rp_results_group_free). Returns 0, -1 when none matches, -2 when out of
 * memory. */
int rp_results_find_endpoint(const rp_results *r, const char *method, const char *path,
                             rp_results_group **out);
void rp_results_group_free(rp_results_group *g);

/* Merges the endpoints from index first on (in rp_results_endpoint order,
 * "(other)" included) into a new group named "(other)", for tables that
 * show the top endpoints and one row for the rest. NULL when out of
 * memory. */
rp_results_group *rp_results_endpoints_from(const rp_results *r, size_t first);

/* ---- building, for readers of stored results (formats/results_json.c) ---- */

rp_results_group *rp_results_total_mut(rp_results *r);
rp_results_group *rp_results_class_mut(rp_results *r, int cls);
rp_hist *rp_results_send_lag_mut(rp_results *r);

/* Returns the endpoint group of (method, name), creating it when needed;
 * name "(other)" returns the other group. NULL when out of memory or at
 * the endpoint limit. */
rp_results_group *rp_results_endpoint_mut(rp_results *r, const char *method, const char *name);

/* Allocates g's histograms or status counts. Returns 0 or -1. */
int rp_results_group_alloc_hists(rp_results_group *g);
int rp_results_group_alloc_status(rp_results_group *g);

/* Returns the second starting at epoch_s, creating it (and the seconds
 * between) when needed; NULL when out of memory. The pointer is valid
 * until the next call that adds a second. */
rp_results_second *rp_results_second_mut(rp_results *r, int64_t epoch_s);

/* Widens the span to include [first_wall_ns, last_wall_ns]. */
void rp_results_widen_span(rp_results *r, int64_t first_wall_ns, int64_t last_wall_ns);

#endif
