/* Counters and latency histograms of a replay. The module does no I/O, so
 * the same figures feed the terminal summary, the JSON report and merges
 * across threads or shards.
 *
 * Histograms are in microseconds, 1 us to 1 hour at 3 significant digits.
 */
#ifndef RP_STATS_H
#define RP_STATS_H

#include <stdint.h>

#include "replay/hist.h"
#include "replay/transport.h"

#define RP_STATS_MAX_STATUS 1000   /* statuses 0..999 are counted one by one */

typedef struct rp_stats {
    uint64_t due;              /* requests whose due time came, skipped ones included */
    uint64_t submitted;        /* handed to the transport */
    uint64_t sent;             /* started going out on a connection */
    uint64_t responses;        /* complete responses, any status */
    uint64_t skipped_connect;  /* CONNECT requests, never sent */
    uint64_t submit_failed;    /* the transport refused them (out of memory) */
    uint64_t not_sent;         /* due while --max-inflight were in flight,
                                  dropped by --over-limit drop */
    uint64_t waited;           /* due while the in-flight limit was reached,
                                  sent late */
    uint64_t left_at_stop;     /* due, still waiting for the in-flight limit
                                  when --duration or the stop signal ended
                                  the sending */
    uint64_t cancelled;        /* in flight when the run was stopped */
    uint64_t errors[RP_ERR_KINDS];   /* by enum rp_error_kind; [0] unused */
    uint64_t client_emfile;    /* RP_ERR_CLIENT by errno: EMFILE or ENFILE */
    uint64_t client_eaddrnotavail;
    uint64_t client_other;     /* ENOBUFS, ENOMEM */
    uint64_t conn_opened;      /* requests that opened their connection */
    uint64_t conn_reused;      /* requests sent on a connection opened before */
    uint64_t conn_moved;       /* preserve: sent on another connection than
                                  their captured one's, which was busy */
    uint64_t status[RP_STATS_MAX_STATUS];
    uint64_t bytes_received;
    int latency_from_send;     /* closed loop: latency counts from the
                                  actual send, not the due time */

    rp_hist *latency;          /* response complete minus due time */
    rp_hist *service;          /* response complete minus actual send */
    rp_hist *send_lag;         /* actual send minus due time, every sent request */
    rp_hist *dispatch_lag;     /* hand-over to the transport minus due time,
                                  over the requests that did not wait for
                                  the in-flight limit: the generator's own
                                  lateness */
    rp_hist *ttfb;             /* first response byte minus actual send */
    rp_hist *recent;           /* latency since the last progress report,
                                  2 significant digits */
} rp_stats;

/* Allocates the histograms. Returns 0, or -1 when out of memory (s is
 * then left empty and safe to free). */
int rp_stats_init(rp_stats *s);

void rp_stats_free(rp_stats *s);

/* Accounts for one request the transport finished with. */
void rp_stats_record(rp_stats *s, const rp_request *req, const rp_outcome *out);

/* Adds src into dst. Returns 0, or -1 on mismatched histograms. */
int rp_stats_merge(rp_stats *dst, const rp_stats *src);

uint64_t rp_stats_errors_total(const rp_stats *s);
uint64_t rp_stats_skipped_total(const rp_stats *s);

/* Records that a due request was dropped by the in-flight limit. */
void rp_stats_not_sent(rp_stats *s);

/* Name of an error kind as used in reports: "connect", "timeout"... */
const char *rp_stats_error_name(int kind);

#endif
