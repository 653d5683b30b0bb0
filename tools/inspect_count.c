/* reprise inspect: the counts kept per record. */
#include "tools/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "formats/endpoint.h"

/* Largest request a trace can hold: the histograms cover it. */
#define SIZE_HIGHEST (64ull << 20)

/* Chart bucket widths in ns. Each is a multiple of the one before, so
 * that the buckets of one width merge exactly into those of the next.
 * After the table the width doubles. */
static const uint64_t rate_widths[] = {
    1000000ull, 2000000ull, 10000000ull, 20000000ull, 100000000ull, 200000000ull,
    1000000000ull, 2000000000ull, 10000000000ull, 20000000000ull, 60000000000ull,
    120000000000ull, 600000000000ull, 1200000000000ull, 3600000000000ull,
    7200000000000ull, 21600000000000ull, 43200000000000ull, 86400000000000ull,
    172800000000000ull,
};
#define N_RATE_WIDTHS (sizeof rate_widths / sizeof rate_widths[0])

static uint64_t width_at(size_t step)
{
    if (step < N_RATE_WIDTHS)
        return rate_widths[step];
    uint64_t w = rate_widths[N_RATE_WIDTHS - 1];
    for (size_t i = N_RATE_WIDTHS - 1; i < step && w < UINT64_MAX / 2; i++)
        w *= 2;
    return w;
}

int inspect_stats_init(struct inspect_stats *st, uint64_t gap_threshold_ns)
{
    memset(st, 0, sizeof *st);
    st->gap_threshold_ns = gap_threshold_ns;
    st->rate_width = width_at(0);
    st->status = calloc(65536, sizeof *st->status);
    st->endpoints = rp_topk_new(INSPECT_TOPK);
    st->request_size = rp_hist_new(SIZE_HIGHEST, 3);
    st->body_size = rp_hist_new(SIZE_HIGHEST, 3);
    if (st->status == NULL || st->endpoints == NULL || st->request_size == NULL ||
        st->body_size == NULL || rp_distinct_init(&st->conns) != 0) {
        inspect_stats_free(st);
        return -1;
    }
    return 0;
}

void inspect_stats_free(struct inspect_stats *st)
{
    for (size_t i = 0; i <= INSPECT_MAX_METHODS; i++)
        free(st->methods[i].name);
    free(st->status);
    rp_topk_free(st->endpoints);
    rp_hist_free(st->request_size);
    rp_hist_free(st->body_size);
    rp_distinct_free(&st->conns);
    memset(st, 0, sizeof *st);
}

static void count_method(struct inspect_stats *st, const char *m, uint32_t len)
{
    size_t i;
    for (i = 0; i < st->n_methods; i++)
        if (strlen(st->methods[i].name) == len && memcmp(st->methods[i].name, m, len) == 0)
            break;
    if (i == st->n_methods) {
        if (st->n_methods == INSPECT_MAX_METHODS) {
            i = INSPECT_MAX_METHODS;
            if (st->methods[i].name == NULL)
                st->methods[i].name = strdup("(other)");
        } else {
            st->methods[i].name = strndup(m, len);
            st->n_methods++;
        }
    }
    st->methods[i].n++;
}

/* Moves to wider buckets until ts fits in the chart. */
static void count_rate(struct inspect_stats *st, uint64_t ts)
{
    if (st->records == 1)
        st->rate_origin = ts / st->rate_width * st->rate_width;
    while ((ts - st->rate_origin) / st->rate_width >= INSPECT_RATE_ROWS) {
        uint64_t w = width_at(++st->rate_step);
        uint64_t origin = st->rate_origin / w * w;
        uint64_t merged[INSPECT_RATE_ROWS] = { 0 };
        size_t used = 0;
        for (size_t i = 0; i < st->rate_used; i++) {
            size_t j = (size_t)((st->rate_origin + i * st->rate_width - origin) / w);
            merged[j] += st->rate[i];
            used = j + 1;
        }
        memcpy(st->rate, merged, sizeof merged);
        st->rate_used = used;
        st->rate_origin = origin;
        st->rate_width = w;
    }
    size_t i = (size_t)((ts - st->rate_origin) / st->rate_width);
    st->rate[i]++;
    if (i + 1 > st->rate_used)
        st->rate_used = i + 1;
}

static void count_gap(struct inspect_stats *st, uint64_t ts)
{
    if (st->records == 1)
        return;
    if (ts < st->prev_ts) {
        st->backwards++;
        if (st->prev_ts - ts > st->max_backwards_ns)
            st->max_backwards_ns = st->prev_ts - ts;
        return;
    }
    uint64_t gap = ts - st->prev_ts;
    if (gap > st->max_gap_ns) {
        st->max_gap_ns = gap;
        st->max_gap_at = ts;
    }
    if (st->gap_threshold_ns > 0 && gap > st->gap_threshold_ns) {
        if (st->n_gaps < INSPECT_MAX_GAPS)
            st->gaps[st->n_gaps++] = (struct inspect_gap){ ts, gap };
        st->gaps_over++;
    }
}

void inspect_count(struct inspect_stats *st, const rp_record *rec)
{
    st->records++;
    if (st->records == 1)
        st->first_ts = rec->ts_ns;
    if (rec->ts_ns > st->last_ts)
        st->last_ts = rec->ts_ns;
    count_gap(st, rec->ts_ns);
    /* Records earlier than the chart's start (which a trace cannot hold,
     * as readers check the order) are left out of it. */
    if (rec->ts_ns >= st->rate_origin)
        count_rate(st, rec->ts_ns);
    st->prev_ts = rec->ts_ns;

    count_method(st, rec->method, rec->method_len);
    if (rec->flags & RP_REC_HAS_RESPONSE)
        st->status[rec->resp_status]++;
    else
        st->no_response++;
    st->chunked += (rec->flags & RP_REC_CHUNKED) != 0;
    st->truncated += (rec->flags & RP_REC_TRUNCATED) != 0;
    st->upgrade += (rec->flags & RP_REC_UPGRADE) != 0;
    st->connect += (rec->flags & RP_REC_CONNECT) != 0;
    st->redacted += (rec->flags & RP_REC_REDACTED) != 0;
    st->resp_truncated += (rec->flags & RP_REC_RESP_TRUNCATED) != 0;
    st->body_bytes += rec->body_len;
    rp_distinct_add(&st->conns, rec->conn_id);

    char endpoint[RP_TOPK_KEY_MAX + 1];
    size_t n = rp_endpoint_normalize(rec->method, rec->method_len, rec->target,
                                     rec->target_len, endpoint, sizeof endpoint);
    rp_topk_add(st->endpoints, endpoint, n < sizeof endpoint ? n : sizeof endpoint - 1);

    /* The request's size on the wire: "METHOD TARGET HTTP/x.y\r\n", the
     * header lines, the empty line and the body as decoded. */
    uint64_t size = (uint64_t)rec->method_len + rec->target_len + 12 + rec->headers_len +
                    2 + rec->body_len;
    rp_hist_record(st->request_size, size);
    if (rec->body_len > 0)
        rp_hist_record(st->body_size, rec->body_len);
}
