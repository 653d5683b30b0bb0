#include "replay/stats.h"

#include <errno.h>
#include <string.h>

int rp_stats_init(rp_stats *s)
{
    memset(s, 0, sizeof *s);
    s->latency = rp_hist_new(RP_HIST_HOUR_US, 3);
    s->service = rp_hist_new(RP_HIST_HOUR_US, 3);
    s->send_lag = rp_hist_new(RP_HIST_HOUR_US, 3);
    s->ttfb = rp_hist_new(RP_HIST_HOUR_US, 3);
    s->dispatch_lag = rp_hist_new(RP_HIST_HOUR_US, 3);
    s->recent = rp_hist_new(RP_HIST_HOUR_US, 2);
    if (!s->latency || !s->service || !s->send_lag || !s->ttfb || !s->recent ||
        !s->dispatch_lag) {
        rp_stats_free(s);
        return -1;
    }
    return 0;
}

void rp_stats_free(rp_stats *s)
{
    rp_hist_free(s->latency);
    rp_hist_free(s->service);
    rp_hist_free(s->send_lag);
    rp_hist_free(s->ttfb);
    rp_hist_free(s->recent);
    rp_hist_free(s->dispatch_lag);
    s->latency = s->service = s->send_lag = s->ttfb = s->recent = s->dispatch_lag = NULL;
}

/* Microseconds from a to b, rounded; 0 when b is not after a. */
static uint64_t span_us(uint64_t a_ns, uint64_t b_ns)
{
    return b_ns > a_ns ? (b_ns - a_ns + 500) / 1000 : 0;
}

static void count_client(rp_stats *s, int err)
{
    if (err == EMFILE || err == ENFILE)
        s->client_emfile++;
    else if (err == EADDRNOTAVAIL)
        s->client_eaddrnotavail++;
    else
        s->client_other++;
}

void rp_stats_not_sent(rp_stats *s)
{
    s->not_sent++;
}

void rp_stats_record(rp_stats *s, const rp_request *req, const rp_outcome *out)
{
    s->bytes_received += out->bytes_received;
    if (out->send_ns != 0) {
        s->sent++;
        rp_hist_record(s->send_lag, span_us(req->due_ns, out->send_ns));
        if (out->conn_opened)
            s->conn_opened++;
        else
            s->conn_reused++;
        s->conn_moved += out->conn_moved;
    }
    if (out->cancelled) {
        s->cancelled++;
        return;
    }
    if (out->error != RP_ERR_NONE) {
        int kind = out->error > 0 && out->error < RP_ERR_KINDS ? out->error : RP_ERR_OTHER;
        s->errors[kind]++;
        if (kind == RP_ERR_CLIENT)
            count_client(s, out->client_errno);
        return;
    }

    s->responses++;
    if (out->status >= 0 && out->status < RP_STATS_MAX_STATUS)
        s->status[out->status]++;
    uint64_t from = s->latency_from_send && out->send_ns != 0 ? out->send_ns : req->due_ns;
    uint64_t latency = span_us(from, out->done_ns);
    rp_hist_record(s->latency, latency);
    rp_hist_record(s->recent, latency);
    if (out->send_ns != 0) {
        rp_hist_record(s->service, span_us(out->send_ns, out->done_ns));
        if (out->first_byte_ns != 0)
            rp_hist_record(s->ttfb, span_us(out->send_ns, out->first_byte_ns));
    }
}

int rp_stats_merge(rp_stats *dst, const rp_stats *src)
{
    if (rp_hist_merge(dst->latency, src->latency) != 0 ||
        rp_hist_merge(dst->service, src->service) != 0 ||
        rp_hist_merge(dst->send_lag, src->send_lag) != 0 ||
        rp_hist_merge(dst->ttfb, src->ttfb) != 0 ||
        rp_hist_merge(dst->recent, src->recent) != 0 ||
        rp_hist_merge(dst->dispatch_lag, src->dispatch_lag) != 0)
        return -1;

    dst->due += src->due;
    dst->submitted += src->submitted;
    dst->sent += src->sent;
    dst->responses += src->responses;
    dst->skipped_connect += src->skipped_connect;
    dst->submit_failed += src->submit_failed;
    dst->not_sent += src->not_sent;
    dst->latency_from_send |= src->latency_from_send;
    dst->waited += src->waited;
    dst->left_at_stop += src->left_at_stop;
    dst->client_emfile += src->client_emfile;
    dst->client_eaddrnotavail += src->client_eaddrnotavail;
    dst->client_other += src->client_other;
    dst->conn_opened += src->conn_opened;
    dst->conn_reused += src->conn_reused;
    dst->conn_moved += src->conn_moved;
    dst->cancelled += src->cancelled;
    dst->bytes_received += src->bytes_received;
    for (int k = 0; k < RP_ERR_KINDS; k++)
        dst->errors[k] += src->errors[k];
    for (int i = 0; i < RP_STATS_MAX_STATUS; i++)
        dst->status[i] += src->status[i];
    return 0;
}

uint64_t rp_stats_errors_total(const rp_stats *s)
{
    uint64_t total = 0;
    for (int k = 1; k < RP_ERR_KINDS; k++)
        total += s->errors[k];
    return total;
}

uint64_t rp_stats_skipped_total(const rp_stats *s)
{
    return s->skipped_connect;
}

const char *rp_stats_error_name(int kind)
{
    switch (kind) {
    case RP_ERR_CONNECT: return "connect";
    case RP_ERR_TIMEOUT: return "timeout";
    case RP_ERR_RESET: return "reset";
    case RP_ERR_OTHER: return "other";
    case RP_ERR_CLIENT: return "client";
    default: return "none";
    }
}
