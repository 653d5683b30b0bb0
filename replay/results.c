#include "replay/results.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <xxhash.h>

#include "formats/endpoint.h"
#include "formats/hdrhist.h"

/* A run's series covers at most 31 days; an event further out (a broken
 * clock) is counted in the nearest second inside that range. */
#define MAX_SERIES_SECONDS (31 * 86400)
#define NAME_MAX_BYTES 512

typedef struct open_second {
    int used;
    int64_t epoch_s;
    rp_hist *h;
} open_second;

struct rp_results {
    rp_results_config cfg;
    int64_t clock_offset_ns;     /* wall = monotonic + offset */

    rp_results_group total;
    rp_results_group classes[RP_RESULTS_CLASSES];
    rp_results_group other;
    rp_results_group **endpoints;   /* max_endpoints pointers */
    size_t endpoint_count;
    int32_t *table;              /* open addressing: index into endpoints, -1 empty */
    size_t table_size;           /* a power of two, at least 2 * max_endpoints */
    rp_hist *send_lag;

    rp_results_second *seconds;
    size_t second_count, second_cap;
    int64_t second_base;         /* epoch_s of seconds[0] */
    open_second open[RP_RESULTS_OPEN_SECONDS];
    rp_hist *scratch;            /* merges of closed seconds */

    int has_span;
    int64_t first_wall_ns, last_wall_ns;
    int out_of_memory;
};

/* The per-request figures every group it belongs to counts. */
typedef struct sample {
    int kind;
    int status;
    int failed;
    int mismatch;
    int mismatch_failure;
    uint64_t bytes;
    uint64_t rt_us;
    int has_service;
    uint64_t service_us;
    int has_ttfb;
    uint64_t ttfb_us;
} sample;

static const char *class_names[RP_RESULTS_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx", "other" };

/* ---- status sets ---- */

int rp_status_set_has(const rp_status_set *set, int status)
{
    if (status < 0 || status >= RP_RESULTS_MAX_STATUS)
        return 0;
    return (set->bits[status / 8] >> (status % 8)) & 1;
}

void rp_status_set_add(rp_status_set *set, int status)
{
    if (status >= 0 && status < RP_RESULTS_MAX_STATUS)
        set->bits[status / 8] |= (uint8_t)(1u << (status % 8));
}

static void status_set_remove(rp_status_set *set, int status)
{
    if (status >= 0 && status < RP_RESULTS_MAX_STATUS)
        set->bits[status / 8] &= (uint8_t)~(1u << (status % 8));
}

/* Parses a whole number of 3 digits from 100 to 999 in [s, e). */
static int parse_status(const char *s, const char *e, int *out)
{
    if (e - s != 3)
        return -1;
    int v = 0;
    for (const char *p = s; p < e; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 100)
        return -1;
    *out = v;
    return 0;
}

/* Parses one list item: "404", "500-599" or "5xx". */
static int parse_status_item(const char *s, const char *e, int *low, int *high)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    if (e - s == 3 && s[0] >= '1' && s[0] <= '9' && tolower((unsigned char)s[1]) == 'x' &&
        tolower((unsigned char)s[2]) == 'x') {
        *low = (s[0] - '0') * 100;
        *high = *low + 99;
        return 0;
    }
    const char *dash = memchr(s, '-', (size_t)(e - s));
    if (dash == NULL)
        return parse_status(s, e, low) == 0 ? (*high = *low, 0) : -1;

    const char *a_end = dash, *b = dash + 1;
    while (a_end > s && isspace((unsigned char)a_end[-1]))
        a_end--;
    while (b < e && isspace((unsigned char)*b))
        b++;
    if (parse_status(s, a_end, low) != 0 || parse_status(b, e, high) != 0 || *high < *low)
        return -1;
    return 0;
}

int rp_status_set_parse(rp_status_set *set, const char *text, char *err, size_t errlen)
{
    rp_status_set parsed = { { 0 } };
    const char *s = text ? text : "";
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        int low, high;
        if (parse_status_item(s, e, &low, &high) != 0) {
            snprintf(err, errlen, "invalid status list item '%.*s' in '%s': expected a status "
                     "(404), a range (500-599) or a class (5xx), from 100 to 999, separated "
                     "by commas", (int)(e - s), s, text ? text : "");
            return -1;
        }
        for (int v = low; v <= high; v++)
            rp_status_set_add(&parsed, v);
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    for (size_t i = 0; i < sizeof set->bits; i++)
        set->bits[i] |= parsed.bits[i];
    return 0;
}

void rp_status_set_format(const rp_status_set *set, char *out, size_t outlen)
{
    size_t n = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (int v = 0; v < RP_RESULTS_MAX_STATUS; v++) {
        if (!rp_status_set_has(set, v))
            continue;
        int end = v;
        while (end + 1 < RP_RESULTS_MAX_STATUS && rp_status_set_has(set, end + 1))
            end++;
        int w = end == v ? snprintf(out + n, outlen - n, "%s%d", n ? "," : "", v)
                         : snprintf(out + n, outlen - n, "%s%d-%d", n ? "," : "", v, end);
        if (w < 0 || (size_t)w >= outlen - n)
            return;
        n += (size_t)w;
        v = end;
    }
}

void rp_results_config_init(rp_results_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int v = 500; v <= 599; v++)
        rp_status_set_add(&cfg->fail_status, v);
    cfg->mismatch = RP_MISMATCH_OFF;
    cfg->max_endpoints = RP_RESULTS_DEFAULT_MAX_ENDPOINTS;
}

int rp_results_config_apply_status(rp_results_config *cfg, const char *fail_list,
                                   const char *ok_list, char *err, size_t errlen)
{
    rp_status_set fail = { { 0 } }, ok = { { 0 } };
    char msg[384];
    if (fail_list != NULL && rp_status_set_parse(&fail, fail_list, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "--fail-status: %s", msg);
        return -1;
    }
    if (ok_list != NULL && rp_status_set_parse(&ok, ok_list, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "--ok-status: %s", msg);
        return -1;
    }
    for (int v = 0; v < RP_RESULTS_MAX_STATUS; v++) {
        if (rp_status_set_has(&fail, v) && rp_status_set_has(&ok, v)) {
            snprintf(err, errlen, "status %d is in both --fail-status and --ok-status; "
                     "keep it in one of them", v);
            return -1;
        }
    }
    for (int v = 0; v < RP_RESULTS_MAX_STATUS; v++) {
        if (rp_status_set_has(&fail, v))
            rp_status_set_add(&cfg->fail_status, v);
        if (rp_status_set_has(&ok, v))
            status_set_remove(&cfg->fail_status, v);
    }
    return 0;
}

/* ---- endpoint names ---- */

size_t rp_results_normalize_target(const char *target, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    const char *t = target ? target : "";
    size_t len = rp_endpoint_normalize_path(t, strlen(t), out, outlen);
    return len < outlen ? len : outlen - 1;
}

/* ---- groups ---- */

static void group_clear(rp_results_group *g)
{
    free(g->method);
    free(g->name);
    free(g->status);
    rp_hist_free(g->response_time);
    rp_hist_free(g->service_time);
    rp_hist_free(g->ttfb);
    memset(g, 0, sizeof *g);
}

void rp_results_group_free(rp_results_group *g)
{
    if (g == NULL)
        return;
    group_clear(g);
    free(g);
}

static int group_init(rp_results_group *g, const char *method, const char *name)
{
    memset(g, 0, sizeof *g);
    g->method = strdup(method);
    g->name = strdup(name);
    return g->method && g->name ? 0 : -1;
}

int rp_results_group_alloc_hists(rp_results_group *g)
{
    if (g->response_time == NULL)
        g->response_time = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    if (g->service_time == NULL)
        g->service_time = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    if (g->ttfb == NULL)
        g->ttfb = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    return g->response_time && g->service_time && g->ttfb ? 0 : -1;
}

int rp_results_group_alloc_status(rp_results_group *g)
{
    if (g->status == NULL)
        g->status = calloc(RP_RESULTS_MAX_STATUS, sizeof *g->status);
    return g->status ? 0 : -1;
}

/* Counts one request in g. Returns -1 when a histogram or the status
 * counts could not be allocated (the counters are still updated). */
static int group_count(rp_results_group *g, const sample *s)
{
    int rc = 0;
    g->requests++;
    g->kinds[s->kind]++;
    g->failures += (uint64_t)s->failed;
    g->mismatches += (uint64_t)s->mismatch;
    g->mismatch_failures += (uint64_t)s->mismatch_failure;
    g->bytes_received += s->bytes;
    if (s->kind != RP_RES_RESPONSE)
        return 0;

    g->responses++;
    if (rp_results_group_alloc_status(g) == 0) {
        if (s->status >= 0 && s->status < RP_RESULTS_MAX_STATUS)
            g->status[s->status]++;
    } else {
        rc = -1;
    }
    if (rp_results_group_alloc_hists(g) != 0)
        return -1;
    rp_hist_record(g->response_time, s->rt_us);
    if (s->has_service)
        rp_hist_record(g->service_time, s->service_us);
    if (s->has_ttfb)
        rp_hist_record(g->ttfb, s->ttfb_us);
    return rc;
}

/* Adds src's counts and histograms into dst. Returns 0 or -1. */
static int group_merge(rp_results_group *dst, const rp_results_group *src)
{
    dst->requests += src->requests;
    dst->responses += src->responses;
    dst->failures += src->failures;
    dst->mismatches += src->mismatches;
    dst->mismatch_failures += src->mismatch_failures;
    dst->bytes_received += src->bytes_received;
    for (int k = 0; k < RP_RES_KINDS; k++)
        dst->kinds[k] += src->kinds[k];
    if (src->status != NULL) {
        if (rp_results_group_alloc_status(dst) != 0)
            return -1;
        for (int v = 0; v < RP_RESULTS_MAX_STATUS; v++)
            dst->status[v] += src->status[v];
    }
    if (src->response_time != NULL) {
        if (rp_results_group_alloc_hists(dst) != 0 ||
            rp_hist_merge(dst->response_time, src->response_time) != 0 ||
            rp_hist_merge(dst->service_time, src->service_time) != 0 ||
            rp_hist_merge(dst->ttfb, src->ttfb) != 0)
            return -1;
    }
    return 0;
}

/* ---- endpoint table ---- */

static uint64_t key_hash(const char *method, const char *name)
{
    return XXH3_64bits_withSeed(name, strlen(name), XXH3_64bits(method, strlen(method)));
}

/* Finds (method, name); with create, adds it while under the limit.
 * Returns NULL when absent and not created.
 * NOTE: endpoints get their own group in the order they first appear, so a
 * busy endpoint first seen after max_endpoints others counts in "(other)". */
static rp_results_group *endpoint_lookup(rp_results *r, const char *method, const char *name,
                                         int create)
{
    size_t mask = r->table_size - 1;
    size_t i = (size_t)key_hash(method, name) & mask;
    for (; r->table[i] >= 0; i = (i + 1) & mask) {
        rp_results_group *g = r->endpoints[r->table[i]];
        if (strcmp(g->name, name) == 0 && strcmp(g->method, method) == 0)
            return g;
    }
    if (!create || r->endpoint_count >= r->cfg.max_endpoints)
        return NULL;

    rp_results_group *g = malloc(sizeof *g);
    if (g == NULL || group_init(g, method, name) != 0) {
        rp_results_group_free(g);
        r->out_of_memory = 1;
        return NULL;
    }
    r->table[i] = (int32_t)r->endpoint_count;
    r->endpoints[r->endpoint_count++] = g;
    return g;
}

static void table_rebuild(rp_results *r)
{
    size_t mask = r->table_size - 1;
    for (size_t i = 0; i < r->table_size; i++)
        r->table[i] = -1;
    for (size_t k = 0; k < r->endpoint_count; k++) {
        const rp_results_group *g = r->endpoints[k];
        size_t i = (size_t)key_hash(g->method, g->name) & mask;
        while (r->table[i] >= 0)
            i = (i + 1) & mask;
        r->table[i] = (int32_t)k;
    }
}

static int by_requests_desc(const void *a, const void *b)
{
    const rp_results_group *x = *(rp_results_group *const *)a;
    const rp_results_group *y = *(rp_results_group *const *)b;
    if (x->requests != y->requests)
        return x->requests > y->requests ? -1 : 1;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->method, y->method);
}

rp_results_group *rp_results_endpoint_mut(rp_results *r, const char *method, const char *name)
{
    if (strcmp(name, RP_RESULTS_OTHER) == 0)
        return &r->other;
    return endpoint_lookup(r, method ? method : "", name, 1);
}

/* ---- lifetime ---- */

rp_results *rp_results_new(const rp_results_config *cfg)
{
    rp_results *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (cfg != NULL)
        r->cfg = *cfg;
    else
        rp_results_config_init(&r->cfg);
    if (r->cfg.max_endpoints == 0)
        r->cfg.max_endpoints = RP_RESULTS_DEFAULT_MAX_ENDPOINTS;

    r->table_size = 16;
    while (r->table_size < 2 * (size_t)r->cfg.max_endpoints)
        r->table_size *= 2;
    r->endpoints = calloc(r->cfg.max_endpoints, sizeof *r->endpoints);
    r->table = malloc(r->table_size * sizeof *r->table);
    r->send_lag = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    int ok = r->endpoints && r->table && r->send_lag &&
             group_init(&r->total, "", "") == 0 && group_init(&r->other, "", RP_RESULTS_OTHER) == 0;
    for (int c = 0; c < RP_RESULTS_CLASSES; c++)
        ok = ok && group_init(&r->classes[c], "", class_names[c]) == 0;
    if (!ok) {
        rp_results_free(r);
        return NULL;
    }
    table_rebuild(r);

    struct timespec mono, wall;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &wall);
    rp_results_set_clock(r, (uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec,
                         (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec);
    return r;
}

void rp_results_free(rp_results *r)
{
    if (r == NULL)
        return;
    group_clear(&r->total);
    group_clear(&r->other);
    for (int c = 0; c < RP_RESULTS_CLASSES; c++)
        group_clear(&r->classes[c]);
    for (size_t i = 0; i < r->endpoint_count; i++)
        rp_results_group_free(r->endpoints[i]);
    free(r->endpoints);
    free(r->table);
    rp_hist_free(r->send_lag);
    for (size_t i = 0; i < r->second_count; i++)
        free(r->seconds[i].rt_hist);
    free(r->seconds);
    for (int i = 0; i < RP_RESULTS_OPEN_SECONDS; i++)
        rp_hist_free(r->open[i].h);
    rp_hist_free(r->scratch);
    free(r);
}

void rp_results_set_clock(rp_results *r, uint64_t mono_ns, uint64_t wall_ns)
{
    r->clock_offset_ns = (int64_t)wall_ns - (int64_t)mono_ns;
}

/* ---- seconds ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void second_init(rp_results_second *s, int64_t epoch_s)
{
    memset(s, 0, sizeof *s);
    s->epoch_s = epoch_s;
}

static int seconds_reserve(rp_results *r, size_t count)
{
    if (count <= r->second_cap)
        return 0;
    size_t cap = r->second_cap ? r->second_cap : 64;
    while (cap < count)
        cap *= 2;
    rp_results_second *p = realloc(r->seconds, cap * sizeof *p);
    if (p == NULL)
        return -1;
    r->seconds = p;
    r->second_cap = cap;
    return 0;
}

rp_results_second *rp_results_second_mut(rp_results *r, int64_t epoch_s)
{
    if (r->second_count == 0) {
        if (seconds_reserve(r, 1) != 0)
            goto oom;
        r->second_base = epoch_s;
        r->second_count = 1;
        second_init(&r->seconds[0], epoch_s);
        return &r->seconds[0];
    }

    int64_t last = r->second_base + (int64_t)r->second_count - 1;
    if (epoch_s < r->second_base) {
        if (last - epoch_s >= MAX_SERIES_SECONDS)
            return &r->seconds[0];
        size_t gap = (size_t)(r->second_base - epoch_s);
        if (seconds_reserve(r, r->second_count + gap) != 0)
            goto oom;
        memmove(r->seconds + gap, r->seconds, r->second_count * sizeof *r->seconds);
        for (size_t i = 0; i < gap; i++)
            second_init(&r->seconds[i], epoch_s + (int64_t)i);
        r->second_base = epoch_s;
        r->second_count += gap;
        return &r->seconds[0];
    }
    if (epoch_s > last) {
        if (epoch_s - r->second_base >= MAX_SERIES_SECONDS)
            return &r->seconds[r->second_count - 1];
        size_t count = (size_t)(epoch_s - r->second_base) + 1;
        if (seconds_reserve(r, count) != 0)
            goto oom;
        for (size_t i = r->second_count; i < count; i++)
            second_init(&r->seconds[i], r->second_base + (int64_t)i);
        r->second_count = count;
    }
    return &r->seconds[epoch_s - r->second_base];

oom:
    r->out_of_memory = 1;
    return NULL;
}

static int64_t wall_ns_of(const rp_results *r, uint64_t mono_ns)
{
    return (int64_t)mono_ns + r->clock_offset_ns;
}

static int64_t epoch_of(const rp_results *r, uint64_t mono_ns)
{
    return floor_div(wall_ns_of(r, mono_ns), 1000000000);
}

/* Computes a second's response-time figures from h and stores h
 * compressed. */
static int second_close(rp_results *r, rp_results_second *s, const rp_hist *h)
{
    char err[128];
    char *text = NULL;
    if (rp_hdrhist_encode(h, RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS, &text, err, sizeof err) != 0) {
        r->out_of_memory = 1;
        return -1;
    }
    free(s->rt_hist);
    s->rt_hist = text;
    s->rt_count = rp_hist_count(h);
    s->rt_p50_us = rp_results_percentile(h, 50);
    s->rt_p95_us = rp_results_percentile(h, 95);
    s->rt_p99_us = rp_results_percentile(h, 99);
    s->rt_max_us = rp_hist_max(h);
    return 0;
}

static void open_close(rp_results *r, open_second *o)
{
    rp_results_second *s = rp_results_second_mut(r, o->epoch_s);
    if (s != NULL)
        second_close(r, s, o->h);
    o->used = 0;
}

/* Returns the open histogram of second epoch_s, opening it (and closing
 * the oldest open second when all are in use). A second closed before
 * is reopened from its compressed histogram. */
static open_second *open_get(rp_results *r, int64_t epoch_s)
{
    open_second *slot = NULL;
    for (int i = 0; i < RP_RESULTS_OPEN_SECONDS; i++) {
        open_second *o = &r->open[i];
        if (o->used && o->epoch_s == epoch_s)
            return o;
        if (!o->used && slot == NULL)
            slot = o;
    }
    if (slot == NULL) {
        slot = &r->open[0];
        for (int i = 1; i < RP_RESULTS_OPEN_SECONDS; i++)
            if (r->open[i].epoch_s < slot->epoch_s)
                slot = &r->open[i];
        open_close(r, slot);
    }
    if (slot->h == NULL)
        slot->h = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    if (slot->h == NULL)
        return NULL;
    rp_hist_reset(slot->h);

    rp_results_second *s = rp_results_second_mut(r, epoch_s);
    if (s == NULL)
        return NULL;
    if (s->rt_hist != NULL) {
        char err[128];
        if (rp_hdrhist_decode_add_exact(s->rt_hist, slot->h, NULL, &s->rt_max_us,
                                        err, sizeof err) != 0)
            return NULL;
        free(s->rt_hist);
        s->rt_hist = NULL;
    }
    slot->used = 1;
    slot->epoch_s = epoch_s;
    return slot;
}

/* Counts r's per-second events of one request. */
static void series_count(rp_results *r, const rp_request_result *o, const sample *x,
                         uint64_t done_ns)
{
    rp_results_second *s = rp_results_second_mut(r, epoch_of(r, o->due_ns));
    if (s != NULL)
        s->due++;

    if (o->send_ns != 0 && (s = rp_results_second_mut(r, epoch_of(r, o->send_ns))) != NULL) {
        uint64_t lag = o->send_ns > o->due_ns ? (o->send_ns - o->due_ns + 500) / 1000 : 0;
        s->sent++;
        s->lag_count++;
        s->lag_sum_us += lag;
        if (lag > s->lag_max_us)
            s->lag_max_us = lag;
    }

    int in_flight = x->kind != RP_RES_NOT_SENT && x->kind != RP_RES_SKIPPED;
    if (in_flight) {
        uint64_t start = o->send_ns ? o->send_ns : o->due_ns;
        if ((s = rp_results_second_mut(r, epoch_of(r, start))) != NULL)
            s->started++;
    }

    int64_t done_epoch = epoch_of(r, done_ns);
    if ((s = rp_results_second_mut(r, done_epoch)) == NULL)
        return;
    s->finished += (uint64_t)in_flight;
    s->kinds[x->kind]++;
    s->failures += (uint64_t)x->failed;
    s->mismatches += (uint64_t)x->mismatch;
    s->bytes_received += x->bytes;
    if (x->kind <= RP_RES_CLIENT)
        s->completed++;
    if (x->kind == RP_RES_RESPONSE) {
        s->responses++;
        open_second *open = open_get(r, done_epoch);
        if (open != NULL)
            rp_hist_record(open->h, x->rt_us);
        else
            r->out_of_memory = 1;
    }
}

/* ---- adding ---- */

static uint64_t span_us(uint64_t a_ns, uint64_t b_ns)
{
    return b_ns > a_ns ? (b_ns - a_ns + 500) / 1000 : 0;
}

static int is_failure(const rp_results *r, const sample *x)
{
    switch (x->kind) {
    case RP_RES_CONNECT:
    case RP_RES_TIMEOUT:
    case RP_RES_RESET:
    case RP_RES_OTHER:
        return 1;
    case RP_RES_RESPONSE:
        return rp_status_set_has(&r->cfg.fail_status, x->status) ||
               (x->mismatch && r->cfg.mismatch == RP_MISMATCH_FAIL);
    default:
        return 0;
    }
}

static const char *kind_names[RP_RES_KINDS] = {
    "response", "connect", "timeout", "reset", "other", "client", "not_sent", "skipped",
    "cancelled"
};

const char *rp_results_kind_name(int kind)
{
    return kind >= 0 && kind < RP_RES_KINDS ? kind_names[kind] : "other";
}

int rp_results_kind_parse(const char *name)
{
    for (int k = 0; k < RP_RES_KINDS; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

int rp_results_class_of(int status)
{
    return status >= 100 && status <= 599 ? status / 100 - 1 : RP_RESULTS_CLASSES - 1;
}

static void make_sample(const rp_results *r, const rp_request_result *o, uint64_t done_ns,
                        sample *x)
{
    memset(x, 0, sizeof *x);
    x->kind = o->kind >= 0 && o->kind < RP_RES_KINDS ? o->kind : RP_RES_OTHER;
    x->bytes = o->bytes_received;
    if (x->kind == RP_RES_RESPONSE) {
        x->status = o->status;
        x->mismatch = r->cfg.mismatch != RP_MISMATCH_OFF && o->recorded_status > 0 &&
                      o->status != o->recorded_status;
        x->rt_us = span_us(o->due_ns, done_ns);
        x->has_service = o->send_ns != 0;
        x->service_us = x->has_service ? span_us(o->send_ns, done_ns) : 0;
        x->has_ttfb = o->send_ns != 0 && o->first_byte_ns != 0;
        x->ttfb_us = x->has_ttfb ? span_us(o->send_ns, o->first_byte_ns) : 0;
    }
    x->failed = is_failure(r, x);
    x->mismatch_failure = x->failed && x->mismatch &&
                          !rp_status_set_has(&r->cfg.fail_status, x->status);
}

static size_t text_len(const char *s, size_t len)
{
    if (s == NULL)
        return 0;
    return len ? len : strlen(s);
}

static rp_results_group *endpoint_of(rp_results *r, const rp_request_result *o)
{
    char method[32], name[NAME_MAX_BYTES];
    size_t method_len = text_len(o->method, o->method_len);
    size_t target_len = text_len(o->target, o->target_len);
    snprintf(method, sizeof method, "%.*s", (int)method_len, method_len ? o->method : "");
    /* A template longer than name is kept truncated. */
    rp_endpoint_normalize_path(target_len ? o->target : "", target_len, name, sizeof name);
    rp_results_group *g = endpoint_lookup(r, method, name, 1);
    return g ? g : &r->other;
}

void rp_results_add(rp_results *r, const rp_request_result *o)
{
    uint64_t done_ns = o->done_ns ? o->done_ns : o->due_ns;
    sample x;
    make_sample(r, o, done_ns, &x);

    int rc = group_count(&r->total, &x);
    rc |= group_count(endpoint_of(r, o), &x);
    if (x.kind == RP_RES_RESPONSE) {
        rc |= group_count(&r->classes[rp_results_class_of(x.status)], &x);
    }
    if (rc != 0)
        r->out_of_memory = 1;
    if (o->send_ns != 0)
        rp_hist_record(r->send_lag, span_us(o->due_ns, o->send_ns));

    series_count(r, o, &x, done_ns);
    rp_results_widen_span(r, wall_ns_of(r, o->due_ns), wall_ns_of(r, done_ns));
}

void rp_results_widen_span(rp_results *r, int64_t first_wall_ns, int64_t last_wall_ns)
{
    if (!r->has_span || first_wall_ns < r->first_wall_ns)
        r->first_wall_ns = first_wall_ns;
    if (!r->has_span || last_wall_ns > r->last_wall_ns)
        r->last_wall_ns = last_wall_ns;
    r->has_span = 1;
}

/* ---- finishing and merging ---- */

int rp_results_finish(rp_results *r)
{
    for (int i = 0; i < RP_RESULTS_OPEN_SECONDS; i++)
        if (r->open[i].used)
            open_close(r, &r->open[i]);

    qsort(r->endpoints, r->endpoint_count, sizeof *r->endpoints, by_requests_desc);
    table_rebuild(r);

    int64_t in_flight = 0;
    for (size_t i = 0; i < r->second_count; i++) {
        rp_results_second *s = &r->seconds[i];
        in_flight += (int64_t)s->started - (int64_t)s->finished;
        s->in_flight = in_flight > 0 ? (uint64_t)in_flight : 0;
    }
    return r->out_of_memory ? -1 : 0;
}

/* Merges the closed histogram of src into dst's. */
static int second_merge_hist(rp_results *r, rp_results_second *dst, const rp_results_second *src)
{
    if (src->rt_hist == NULL)
        return 0;
    if (dst->rt_hist == NULL) {
        dst->rt_hist = strdup(src->rt_hist);
        if (dst->rt_hist == NULL)
            return -1;
        dst->rt_count = src->rt_count;
        dst->rt_p50_us = src->rt_p50_us;
        dst->rt_p95_us = src->rt_p95_us;
        dst->rt_p99_us = src->rt_p99_us;
        dst->rt_max_us = src->rt_max_us;
        return 0;
    }
    if (r->scratch == NULL)
        r->scratch = rp_hist_new(RP_HIST_HOUR_US, RP_RESULTS_HIST_DIGITS);
    if (r->scratch == NULL)
        return -1;
    rp_hist_reset(r->scratch);
    char err[128];
    if (rp_hdrhist_decode_add_exact(dst->rt_hist, r->scratch, NULL, &dst->rt_max_us,
                                    err, sizeof err) != 0 ||
        rp_hdrhist_decode_add_exact(src->rt_hist, r->scratch, NULL, &src->rt_max_us,
                                    err, sizeof err) != 0)
        return -1;
    return second_close(r, dst, r->scratch);
}

static int second_merge(rp_results *r, const rp_results_second *src)
{
    rp_results_second *dst = rp_results_second_mut(r, src->epoch_s);
    if (dst == NULL)
        return -1;
    dst->due += src->due;
    dst->sent += src->sent;
    dst->completed += src->completed;
    dst->responses += src->responses;
    dst->failures += src->failures;
    dst->mismatches += src->mismatches;
    for (int k = 0; k < RP_RES_KINDS; k++)
        dst->kinds[k] += src->kinds[k];
    dst->started += src->started;
    dst->finished += src->finished;
    dst->bytes_received += src->bytes_received;
    dst->lag_count += src->lag_count;
    dst->lag_sum_us += src->lag_sum_us;
    if (src->lag_max_us > dst->lag_max_us)
        dst->lag_max_us = src->lag_max_us;
    return second_merge_hist(r, dst, src);
}

static int same_rules(const rp_results *a, const rp_results *b, char *err, size_t errlen)
{
    if (memcmp(&a->cfg.fail_status, &b->cfg.fail_status, sizeof a->cfg.fail_status) == 0 &&
        a->cfg.mismatch == b->cfg.mismatch)
        return 1;
    char fa[256], fb[256];
    rp_status_set_format(&a->cfg.fail_status, fa, sizeof fa);
    rp_status_set_format(&b->cfg.fail_status, fb, sizeof fb);
    snprintf(err, errlen, "the results count failures differently (failing statuses '%s', "
             "mismatch mode %d versus '%s', mode %d): rerun with the same --fail-status, "
             "--ok-status and mismatch options", fa, a->cfg.mismatch, fb, b->cfg.mismatch);
    return 0;
}

int rp_results_merge(rp_results *dst, rp_results *src, char *err, size_t errlen)
{
    if (!same_rules(dst, src, err, errlen))
        return -1;
    rp_results_finish(dst);
    rp_results_finish(src);

    int rc = group_merge(&dst->total, &src->total);
    for (int c = 0; c < RP_RESULTS_CLASSES; c++)
        rc |= group_merge(&dst->classes[c], &src->classes[c]);
    rc |= group_merge(&dst->other, &src->other);
    for (size_t i = 0; i < src->endpoint_count; i++) {
        const rp_results_group *g = src->endpoints[i];
        rp_results_group *d = endpoint_lookup(dst, g->method, g->name, 1);
        rc |= group_merge(d ? d : &dst->other, g);
    }
    if (rp_hist_merge(dst->send_lag, src->send_lag) != 0)
        rc = -1;
    for (size_t i = 0; i < src->second_count; i++)
        rc |= second_merge(dst, &src->seconds[i]);
    if (src->has_span)
        rp_results_widen_span(dst, src->first_wall_ns, src->last_wall_ns);

    if (rp_results_finish(dst) != 0 || rc != 0) {
        snprintf(err, errlen, "out of memory merging results");
        return -1;
    }
    return 0;
}

/* ---- reading ---- */

const rp_results_config *rp_results_config_of(const rp_results *r) { return &r->cfg; }
const rp_results_group *rp_results_total(const rp_results *r) { return &r->total; }
const rp_hist *rp_results_send_lag(const rp_results *r) { return r->send_lag; }
rp_results_group *rp_results_total_mut(rp_results *r) { return &r->total; }
rp_hist *rp_results_send_lag_mut(rp_results *r) { return r->send_lag; }

size_t rp_results_endpoint_count(const rp_results *r)
{
    return r->endpoint_count + (r->other.requests > 0);
}

const rp_results_group *rp_results_endpoint(const rp_results *r, size_t i)
{
    return i < r->endpoint_count ? r->endpoints[i] : &r->other;
}

const rp_results_group *rp_results_status_class(const rp_results *r, int cls)
{
    return &r->classes[cls >= 0 && cls < RP_RESULTS_CLASSES ? cls : RP_RESULTS_CLASSES - 1];
}

rp_results_group *rp_results_class_mut(rp_results *r, int cls)
{
    return &r->classes[cls >= 0 && cls < RP_RESULTS_CLASSES ? cls : RP_RESULTS_CLASSES - 1];
}

size_t rp_results_second_count(const rp_results *r) { return r->second_count; }

const rp_results_second *rp_results_second_at(const rp_results *r, size_t i)
{
    return i < r->second_count ? &r->seconds[i] : NULL;
}

void rp_results_span(const rp_results *r, int64_t *first_wall_ns, int64_t *last_wall_ns)
{
    *first_wall_ns = r->has_span ? r->first_wall_ns : 0;
    *last_wall_ns = r->has_span ? r->last_wall_ns : 0;
}

double rp_results_duration_s(const rp_results *r)
{
    return r->has_span ? (double)(r->last_wall_ns - r->first_wall_ns) / 1e9 : 0.0;
}

double rp_results_error_rate(const rp_results_group *g)
{
    return g->requests ? (double)g->failures / (double)g->requests : 0.0;
}

uint64_t rp_results_percentile(const rp_hist *h, double p)
{
    return h != NULL && rp_hist_count(h) > 0 ? rp_hist_percentile(h, p) : 0;
}

int rp_results_find_endpoint(const rp_results *r, const char *method, const char *path,
                             rp_results_group **out)
{
    char name[NAME_MAX_BYTES];
    if (strcmp(path, RP_RESULTS_OTHER) == 0)
        snprintf(name, sizeof name, "%s", path);
    else
        rp_results_normalize_target(path, name, sizeof name);
    int any_method = method == NULL || method[0] == '\0';

    rp_results_group *g = malloc(sizeof *g);
    if (g == NULL || group_init(g, any_method ? "" : method, name) != 0) {
        rp_results_group_free(g);
        return -2;
    }
    int found = 0;
    for (size_t i = 0; i < rp_results_endpoint_count(r); i++) {
        const rp_results_group *e = rp_results_endpoint(r, i);
        if (strcmp(e->name, name) != 0 || (!any_method && strcasecmp(e->method, method) != 0))
            continue;
        if (group_merge(g, e) != 0) {
            rp_results_group_free(g);
            return -2;
        }
        found = 1;
    }
    if (!found) {
        rp_results_group_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

rp_results_group *rp_results_endpoints_from(const rp_results *r, size_t first)
{
    rp_results_group *g = malloc(sizeof *g);
    if (g == NULL || group_init(g, "", RP_RESULTS_OTHER) != 0) {
        rp_results_group_free(g);
        return NULL;
    }
    for (size_t i = first; i < rp_results_endpoint_count(r); i++) {
        if (group_merge(g, rp_results_endpoint(r, i)) != 0) {
            rp_results_group_free(g);
            return NULL;
        }
    }
    return g;
}
