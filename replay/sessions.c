#include "replay/sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record as read, its byte fields stored as offsets into the byte
 * buffer, which moves while it grows. */
typedef struct loaded {
    rp_record rec;
    uint64_t dense;
    size_t method, target, headers, body;   /* offsets */
} loaded;

typedef struct loader {
    loaded *recs;
    size_t count, cap;
    char *bytes;
    size_t used, bytes_cap;
} loader;

static int append_bytes(loader *l, const void *data, size_t len, size_t *offset)
{
    if (l->used + len > l->bytes_cap) {
        size_t cap = l->bytes_cap ? l->bytes_cap : 1 << 16;
        while (cap < l->used + len)
            cap *= 2;
        char *grown = realloc(l->bytes, cap);
        if (grown == NULL)
            return -1;
        l->bytes = grown;
        l->bytes_cap = cap;
    }
    *offset = l->used;
    if (len > 0)
        memcpy(l->bytes + l->used, data, len);
    l->used += len;
    return 0;
}

static int keep(loader *l, const rp_record *rec, uint64_t dense)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        loaded *grown = realloc(l->recs, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        l->recs = grown;
        l->cap = cap;
    }
    loaded *d = &l->recs[l->count];
    d->rec = *rec;
    d->dense = dense;
    if (append_bytes(l, rec->method, rec->method_len, &d->method) != 0 ||
        append_bytes(l, rec->target, rec->target_len, &d->target) != 0 ||
        append_bytes(l, rec->headers, rec->headers_len, &d->headers) != 0 ||
        append_bytes(l, rec->body, rec->body_len, &d->body) != 0)
        return -1;
    l->count++;
    return 0;
}

/* Reads the records the plan keeps, in trace order. */
static int read_records(loader *l, const char *path, const rp_plan *plan,
                        char *err, size_t errlen)
{
    rp_trace_reader *r = NULL;
    int rc = rp_trace_reader_open(&r, path, err, errlen);
    if (rc != 0)
        return rc;
    rp_record rec;
    char msg[512];
    uint64_t cut = 0;
    int first = 1;
    while ((rc = rp_trace_reader_next(r, &rec, msg, sizeof msg)) != RP_TRACE_EOF) {
        if (rc == RP_TRACE_ECORRUPT)
            continue;
        if (rc < 0) {
            snprintf(err, errlen, "%s", msg);
            break;
        }
        if (first) {
            cut = rec.ts_ns + plan->opts.skip_ns;
            first = 0;
        }
        if (rec.ts_ns < cut ||
            (plan->opts.rules != NULL && !rp_rules_accept(plan->opts.rules, &rec)))
            continue;
        uint64_t *dense = rp_u64map_get(&plan->dense, rec.conn_id);
        if (keep(l, &rec, dense ? *dense : 0) != 0) {
            snprintf(err, errlen, "out of memory loading the sessions of %s", path);
            rc = RP_TRACE_ENOMEM;
            break;
        }
    }
    rp_trace_reader_close(r);
    return rc == RP_TRACE_EOF ? 0 : rc;
}

static void set_think_times(rp_sessions *s)
{
    for (size_t i = 0; i < s->count; i++) {
        for (size_t k = s->first[i] + 1; k < s->first[i + 1]; k++) {
            const rp_record *prev = &s->reqs[k - 1].rec, *cur = &s->reqs[k].rec;
            uint64_t from = prev->ts_ns;
            if (prev->flags & RP_REC_HAS_RESPONSE)
                from += prev->resp_ttlb_ns;
            s->reqs[k].think_ns = cur->ts_ns > from ? cur->ts_ns - from : 0;
        }
    }
}

/* Groups the records by session (a stable counting sort on the dense
 * index, which numbers sessions by first request) and points them into
 * the byte buffer. */
static int group(rp_sessions *s, loader *l, uint64_t sessions)
{
    s->count = (size_t)sessions;
    s->total = l->count;
    s->first = calloc(s->count + 1, sizeof *s->first);
    s->reqs = calloc(l->count ? l->count : 1, sizeof *s->reqs);
    if (s->first == NULL || s->reqs == NULL)
        return -1;
    for (size_t i = 0; i < l->count; i++)
        s->first[l->recs[i].dense + 1]++;
    for (size_t i = 0; i < s->count; i++)
        s->first[i + 1] += s->first[i];

    size_t *next = malloc((s->count + 1) * sizeof *next);
    if (next == NULL)
        return -1;
    memcpy(next, s->first, (s->count + 1) * sizeof *next);
    s->bytes = l->bytes;
    l->bytes = NULL;
    for (size_t i = 0; i < l->count; i++) {
        const loaded *d = &l->recs[i];
        rp_session_req *q = &s->reqs[next[d->dense]++];
        q->rec = d->rec;
        q->rec.method = s->bytes + d->method;
        q->rec.target = s->bytes + d->target;
        q->rec.headers = s->bytes + d->headers;
        q->rec.body = (const uint8_t *)s->bytes + d->body;
    }
    free(next);
    set_think_times(s);
    return 0;
}

int rp_sessions_load(rp_sessions *out, const char *path, const rp_plan *plan,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    loader l = { 0 };
    int rc = read_records(&l, path, plan, err, errlen);
    if (rc == 0 && group(out, &l, plan->connections) != 0) {
        snprintf(err, errlen, "out of memory grouping the sessions of %s", path);
        rc = RP_TRACE_ENOMEM;
    }
    free(l.recs);
    free(l.bytes);
    if (rc != 0)
        rp_sessions_free(out);
    return rc;
}

void rp_sessions_free(rp_sessions *s)
{
    free(s->first);
    free(s->reqs);
    free(s->bytes);
    memset(s, 0, sizeof *s);
}
