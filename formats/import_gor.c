/* Import of GoReplay .gor files. Payloads are separated by the line
 * "\U0001F435\U0001F648\U0001F649" (three monkey emoji). Each is a header
 * line "TYPE ID TIMESTAMP LATENCY", then the HTTP message as captured.
 * Type 1 is a request, 2 the original response and 3 a replayed
 * response; the timestamp and the latency are in ns, and the latency may
 * be absent.
 *
 * A request waits (up to RP_IMPORT_GOR_PENDING of them, or 64 MiB) for
 * the response with its id, which gives its status and time to first
 * byte; the oldest leaves without one when the window is full. GoReplay
 * records no connections, so each request gets a connection of its
 * own. */
#include "formats/import_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "formats/trace_impl.h"

#define SEPARATOR "\n\xf0\x9f\x90\xb5\xf0\x9f\x99\x88\xf0\x9f\x99\x89\n"
#define SEPARATOR_LEN (sizeof SEPARATOR - 1)
#define READ_SIZE (256u << 10)
#define PENDING_BYTES (64u << 20)

struct pending {
    rp_record rec;
    struct rec_builder b;
    uint64_t id_hash;
    size_t bytes;
};

struct gor {
    struct import_run *x;
    char *buf;
    size_t start, end, cap;
    int eof;

    struct pending ring[RP_IMPORT_GOR_PENDING];
    size_t head, count;       /* oldest slot, slots in use */
    size_t bytes;
    uint64_t requests;
};

/* ---- the pending requests ---- */

static int emit_oldest(struct gor *g)
{
    struct pending *p = &g->ring[g->head];
    g->head = (g->head + 1) % RP_IMPORT_GOR_PENDING;
    g->count--;
    g->bytes -= p->bytes;
    rb_finish(&p->b, &p->rec);
    return rp_import_emit(g->x, &p->rec);
}

/* Takes a slot for a new request, emitting the oldest when full. */
static struct pending *new_slot(struct gor *g, int *rc)
{
    *rc = 0;
    while (g->count == RP_IMPORT_GOR_PENDING || (g->count > 0 && g->bytes > PENDING_BYTES))
        if ((*rc = emit_oldest(g)) != 0)
            return NULL;
    struct pending *p = &g->ring[(g->head + g->count) % RP_IMPORT_GOR_PENDING];
    g->count++;
    return p;
}

/* Finds the waiting request with this id, newest first: a response
 * usually follows its request closely. */
static struct pending *find_pending(struct gor *g, uint64_t id_hash)
{
    for (size_t k = g->count; k-- > 0;) {
        struct pending *p = &g->ring[(g->head + k) % RP_IMPORT_GOR_PENDING];
        if (p->id_hash == id_hash && !(p->rec.flags & RP_REC_HAS_RESPONSE))
            return p;
    }
    return NULL;
}

/* ---- payloads ---- */

struct payload_head {
    int type;
    const char *id;
    size_t id_len;
    uint64_t ts_ns;
    int64_t latency_ns;       /* -1 when absent */
};

static const char *parse_head(const char *p, size_t len, struct payload_head *h)
{
    const char *end = p + len;
    if (len < 2 || p[0] < '1' || p[0] > '3' || p[1] != ' ')
        return "its header line does not start with a payload type 1, 2 or 3";
    h->type = p[0] - '0';
    p += 2;
    h->id = p;
    while (p < end && *p != ' ')
        p++;
    h->id_len = (size_t)(p - h->id);
    if (h->id_len == 0 || p == end)
        return "its header line has no id and timestamp";
    char num[32];
    size_t n = 0;
    for (p++; p < end && isdigit((unsigned char)*p) && n < sizeof num - 1; p++)
        num[n++] = *p;
    num[n] = '\0';
    if (n == 0 || n > 19)
        return "its header line has no valid timestamp";
    h->ts_ns = strtoull(num, NULL, 10);
    h->latency_ns = -1;
    if (p < end && *p == ' ') {
        char *stop;
        long long v = strtoll(p + 1, &stop, 10);
        if (stop != p + 1 && v >= 0)
            h->latency_ns = v;
    }
    return NULL;
}

static int take_request(struct gor *g, const struct payload_head *h, const char *msg,
                        size_t len, uint64_t number, int cut)
{
    int rc;
    struct pending *p = new_slot(g, &rc);
    if (p == NULL)
        return rc;
    rb_reset(&p->b);
    memset(&p->rec, 0, sizeof p->rec);
    const char *why = rp_parse_http_request(msg, len, &p->b, &p->rec);
    if (why != NULL) {
        g->count--;     /* give the slot back: it was the newest */
        rp_import_skip(g->x, number, "not a usable request: %s%s", why,
                       cut ? " (the file ends inside it: truncated?)" : "");
        return 0;
    }
    p->rec.ts_ns = h->ts_ns;
    p->rec.conn_id = ++g->requests;
    p->id_hash = XXH64(h->id, h->id_len, 0);
    p->bytes = p->b.len;
    g->bytes += p->bytes;
    return 0;
}

static void take_response(struct gor *g, const struct payload_head *h, const char *msg,
                          size_t len, uint64_t number)
{
    unsigned status;
    if (len < 12 || memcmp(msg, "HTTP/", 5) != 0 || sscanf(msg + 8, " %3u", &status) != 1) {
        rp_import_skip(g->x, number, "not a usable response: no HTTP/x.y status line");
        return;
    }
    struct pending *p = find_pending(g, XXH64(h->id, h->id_len, 0));
    if (p == NULL) {
        g->x->st->unpaired++;
        return;
    }
    p->rec.flags |= RP_REC_HAS_RESPONSE;
    p->rec.resp_status = (uint16_t)status;
    p->rec.resp_bytes = len;
    if (h->latency_ns > 0)
        p->rec.resp_ttfb_ns = (uint64_t)h->latency_ns;
    else if (h->ts_ns > p->rec.ts_ns)
        p->rec.resp_ttfb_ns = h->ts_ns - p->rec.ts_ns;
    p->rec.resp_ttlb_ns = p->rec.resp_ttfb_ns;
    g->x->st->responses++;
}

static int take_payload(struct gor *g, const char *p, size_t len, uint64_t number, int cut)
{
    const char *nl = memchr(p, '\n', len);
    struct payload_head h;
    const char *why = nl ? parse_head(p, (size_t)(nl - p), &h) : "it has no header line";
    if (why != NULL) {
        rp_import_skip(g->x, number, "not a GoReplay payload: %s%s", why,
                       cut ? " (the file ends inside it: truncated?)" : "");
        return 0;
    }
    const char *msg = nl + 1;
    size_t msg_len = len - (size_t)(msg - p);
    if (h.type == 1)
        return take_request(g, &h, msg, msg_len, number, cut);
    if (h.type == 2)
        take_response(g, &h, msg, msg_len, number);
    else
        g->x->st->ignored++;    /* a replayed response */
    return 0;
}

/* Reads more after the unread bytes. Returns 1, 0 at the end of the
 * file, -1 on a read error, -2 when a payload exceeds the limit. */
static int more(struct gor *g)
{
    if (g->start > 0) {
        memmove(g->buf, g->buf + g->start, g->end - g->start);
        g->end -= g->start;
        g->start = 0;
    }
    if (g->end > RP_IMPORT_MAX_ITEM)
        return -2;
    if (g->cap - g->end < READ_SIZE) {
        size_t cap = g->cap ? 2 * g->cap : 4 * READ_SIZE;
        char *b = realloc(g->buf, cap);
        if (b == NULL)
            return -1;
        g->buf = b;
        g->cap = cap;
    }
    size_t n = fread(g->buf + g->end, 1, g->cap - g->end, g->x->f);
    if (n == 0) {
        g->eof = 1;
        return ferror(g->x->f) ? -1 : 0;
    }
    g->end += n;
    return 1;
}

static int read_payloads(struct gor *g)
{
    size_t scanned = 0;
    for (uint64_t number = 1;;) {
        size_t avail = g->end - g->start;
        char *from = g->buf + g->start + scanned;
        char *sep = avail - scanned >= SEPARATOR_LEN
                        ? memmem(from, avail - scanned, SEPARATOR, SEPARATOR_LEN) : NULL;
        int rc;
        if (sep != NULL) {
            size_t len = (size_t)(sep - (g->buf + g->start));
            g->x->st->items++;
            rc = take_payload(g, g->buf + g->start, len, number++, 0);
            g->start += len + SEPARATOR_LEN;
            scanned = 0;
            if (rc != 0)
                return rc;
            continue;
        }
        scanned = avail >= SEPARATOR_LEN ? avail - SEPARATOR_LEN + 1 : 0;
        rc = more(g);
        if (rc == -1)
            return rp_import_io_error(g->x);
        if (rc == -2) {
            rp_import_skip(g->x, number, "the payload is longer than %u bytes; the rest of "
                           "the file is not read", RP_IMPORT_MAX_ITEM);
            return 0;
        }
        if (rc == 0) {
            /* GoReplay ends every payload with the separator, so bytes
             * left at the end are a payload cut short, or blank. */
            size_t left = g->end - g->start;
            while (left > 0 && isspace((unsigned char)g->buf[g->start + left - 1]))
                left--;
            if (left == 0)
                return 0;
            g->x->st->items++;
            return take_payload(g, g->buf + g->start, left, number, 1);
        }
    }
}

int rp_import_gor(struct import_run *x)
{
    struct gor *g = calloc(1, sizeof *g);
    if (g == NULL)
        return rp_trace_fail(x->err, x->errlen, RP_TRACE_ENOMEM, "out of memory reading %s",
                             x->path);
    g->x = x;
    int rc = read_payloads(g);
    while (rc == 0 && g->count > 0)
        rc = emit_oldest(g);
    for (size_t i = 0; i < RP_IMPORT_GOR_PENDING; i++)
        rb_free(&g->ring[i].b);
    free(g->buf);
    free(g);
    return rc;
}
