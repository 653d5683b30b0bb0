/* Import: format detection and dispatch, and the helpers the readers
 * share (lines, record building, base64, RFC 3339 times, HTTP request
 * messages). */
#include "formats/import_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "formats/headers.h"
#include "formats/trace_impl.h"

#define fail rp_trace_fail

static const char *const format_names[] = { "auto", "jsonl", "har", "gor", "access-log" };

const char *rp_import_format_name(rp_import_format f)
{
    return (unsigned)f < sizeof format_names / sizeof format_names[0] ? format_names[f] : "?";
}

int rp_import_format_parse(const char *name, rp_import_format *f)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *f = (rp_import_format)i;
            return 0;
        }
    }
    return -1;
}

void rp_import_skip(struct import_run *x, uint64_t where, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    x->st->skipped++;
    if (x->sink->skipped != NULL)
        x->sink->skipped(x->sink->ctx, x->unit, where, why);
}

int rp_import_emit(struct import_run *x, const rp_record *rec)
{
    x->st->records++;
    return x->sink->record(x->sink->ctx, rec);
}

int rp_import_io_error(struct import_run *x)
{
    return fail(x->err, x->errlen, RP_TRACE_EIO, "cannot read %s: %s", x->path,
                strerror(errno));
}

/* ---- detection ---- */

/* The first line of head, without its line ending. */
static size_t first_line(const uint8_t *head, size_t n)
{
    const uint8_t *nl = memchr(head, '\n', n);
    size_t len = nl ? (size_t)(nl - head) : n;
    if (len > 0 && head[len - 1] == '\r')
        len--;
    return len;
}

/* "1 8f3b... 1700000000000000000": a GoReplay payload header. */
static int looks_like_gor(const char *s, size_t n)
{
    if (n < 5 || (s[0] != '1' && s[0] != '2' && s[0] != '3') || s[1] != ' ')
        return 0;
    size_t i = 2, hex = 0, digits = 0;
    for (; i < n && isxdigit((unsigned char)s[i]); i++)
        hex++;
    if (hex == 0 || i == n || s[i] != ' ')
        return 0;
    for (i++; i < n && isdigit((unsigned char)s[i]); i++)
        digits++;
    return digits > 0 && (i == n || s[i] == ' ');
}

/* host ident user [time] "request" ...: the common log format, which the
 * combined format extends. */
static int looks_like_access_log(const char *s, size_t n)
{
    const char *open = memchr(s, '[', n);
    if (open == NULL || open == s)
        return 0;
    const char *close = memchr(open, ']', (size_t)(s + n - open));
    return close != NULL && (size_t)(s + n - close) >= 3 && close[1] == ' ' &&
           close[2] == '"';
}

rp_import_format rp_import_detect(const uint8_t *head, size_t n, const char **why)
{
    static const uint8_t pcap_magics[][4] = {
        { 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 }, { 0x4d, 0x3c, 0xb2, 0xa1 },
        { 0xa1, 0xb2, 0x3c, 0x4d }, { 0x0a, 0x0d, 0x0d, 0x0a },
    };
    *why = "neither JSON, a GoReplay payload header nor an access log line; "
           "if it is one of them, name the format with --format";
    if (n >= 8 && memcmp(head, RP_TRACE_MAGIC, 8) == 0) {
        *why = "already a reprise trace";
        return RP_IMPORT_AUTO;
    }
    for (size_t k = 0; k < sizeof pcap_magics / sizeof pcap_magics[0]; k++) {
        if (n >= 4 && memcmp(head, pcap_magics[k], 4) == 0) {
            *why = "a packet capture (pcap or pcapng): use 'reprise capture -r' for it";
            return RP_IMPORT_AUTO;
        }
    }
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        *why = "gzip-compressed: decompress it first";
        return RP_IMPORT_AUTO;
    }

    size_t i = 0;
    if (n >= 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0)   /* a UTF-8 byte order mark */
        i = 3;
    while (i < n && isspace(head[i]))
        i++;
    if (i < n && head[i] == '{') {
        /* HAR is one object whose first key is "log"; JSON Lines objects
         * of reprise start with "ts_ns". */
        size_t j = i + 1;
        while (j < n && isspace(head[j]))
            j++;
        if (n - j >= 5 && memcmp(head + j, "\"log\"", 5) == 0)
            return RP_IMPORT_HAR;
        return RP_IMPORT_JSONL;
    }
    size_t len = first_line(head + i, n - i);
    if (looks_like_gor((const char *)head + i, len))
        return RP_IMPORT_GOR;
    if (looks_like_access_log((const char *)head + i, len))
        return RP_IMPORT_ACCESS_LOG;
    return RP_IMPORT_AUTO;
}

int rp_import_file(const char *path, rp_import_format format, rp_import_format *format_used,
                   const rp_import_sink *sink, rp_import_stats *stats,
                   char *err, size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    struct import_run x = { path, NULL, sink, stats, err, errlen, "line" };
    x.f = fopen(path, "rb");
    if (x.f == NULL)
        return fail(err, errlen, RP_TRACE_EIO, "cannot open %s: %s", path, strerror(errno));

    uint8_t head[4096];
    size_t n = fread(head, 1, sizeof head, x.f);
    int rc = 0;
    if (ferror(x.f))
        rc = rp_import_io_error(&x);
    else if (n == 0)
        rc = fail(err, errlen, RP_TRACE_EFORMAT, "%s is empty: there is nothing to import",
                  path);
    const char *why;
    rp_import_format detected = n > 0 ? rp_import_detect(head, n, &why) : RP_IMPORT_AUTO;
    if (rc == 0 && format == RP_IMPORT_AUTO) {
        format = detected;
        if (format == RP_IMPORT_AUTO)
            rc = fail(err, errlen, RP_TRACE_EFORMAT, "cannot import %s: it is %s", path, why);
    }
    if (format_used != NULL)
        *format_used = format;
    if (rc == 0 && fseek(x.f, 0, SEEK_SET) != 0)
        rc = rp_import_io_error(&x);

    x.unit = "line";
    if (format == RP_IMPORT_HAR)
        x.unit = "entry";
    else if (format == RP_IMPORT_GOR)
        x.unit = "payload";
    if (rc == 0) {
        switch (format) {
        case RP_IMPORT_JSONL: rc = rp_import_jsonl(&x); break;
        case RP_IMPORT_HAR: rc = rp_import_har(&x); break;
        case RP_IMPORT_GOR: rc = rp_import_gor(&x); break;
        case RP_IMPORT_ACCESS_LOG: rc = rp_import_access_log(&x); break;
        default: break;
        }
    }
    fclose(x.f);
    return rc;
}

/* ---- lines ---- */

#define READ_SIZE (64u << 10)

/* Reads more of the file after the bytes kept in [start, end), moving
 * them to the buffer's start. Returns the bytes read, 0 at the end of
 * the file, -1 on a read error. */
static long fill(struct line_reader *lr)
{
    if (lr->start > 0) {
        memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
        lr->end -= lr->start;
        lr->start = 0;
    }
    if (lr->cap - lr->end < READ_SIZE) {
        size_t cap = lr->cap ? 2 * lr->cap : 4 * READ_SIZE;
        char *b = realloc(lr->buf, cap);
        if (b == NULL)
            return -1;
        lr->buf = b;
        lr->cap = cap;
    }
    size_t n = fread(lr->buf + lr->end, 1, lr->cap - lr->end, lr->f);
    if (n == 0 && ferror(lr->f))
        return -1;
    lr->end += n;
    return (long)n;
}

int rp_line_next(struct line_reader *lr, char **line, size_t *len, int *too_long, int *last)
{
    size_t scanned = 0;
    *too_long = 0;
    *last = 0;
    for (;;) {
        char *from = lr->buf + lr->start + scanned;
        char *nl = lr->end > lr->start + scanned
                       ? memchr(from, '\n', lr->end - lr->start - scanned) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - (lr->buf + lr->start));
            *line = lr->buf + lr->start;
            *len = *too_long ? 0 : n;
            lr->start += n + 1;
            lr->lineno++;
            return 1;
        }
        scanned = lr->end - lr->start;
        /* Past the limit, the line's bytes are dropped as they are read,
         * so memory stays bounded. */
        if (scanned > RP_IMPORT_MAX_ITEM) {
            *too_long = 1;
            lr->start = lr->end;
            scanned = 0;
        }
        long got = fill(lr);
        if (got < 0)
            return -1;
        if (got == 0) {
            if (lr->end == lr->start && !*too_long)
                return 0;
            *line = lr->buf + lr->start;
            *len = *too_long ? 0 : lr->end - lr->start;
            *last = 1;
            lr->start = lr->end;
            lr->lineno++;
            return 1;
        }
    }
}

void rp_line_free(struct line_reader *lr)
{
    free(lr->buf);
    lr->buf = NULL;
}

/* ---- building a record ---- */

void rb_reset(struct rec_builder *b)
{
    b->len = 0;
    b->oom = 0;
    memset(b->off, 0, sizeof b->off);
    memset(b->n, 0, sizeof b->n);
}

static int rb_reserve(struct rec_builder *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? 2 * b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void rb_set(struct rec_builder *b, int field, const void *data, size_t len)
{
    b->off[field] = b->len;
    b->n[field] = 0;
    rb_append(b, field, data, len);
}

void rb_append(struct rec_builder *b, int field, const void *data, size_t len)
{
    if (len == 0 || data == NULL || rb_reserve(b, len) != 0)
        return;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->n[field] += len;
}

void rb_finish(struct rec_builder *b, rp_record *rec)
{
    const char *base = (const char *)b->p;
    rec->method = base ? base + b->off[RB_METHOD] : "";
    rec->method_len = (uint32_t)b->n[RB_METHOD];
    rec->target = base ? base + b->off[RB_TARGET] : "";
    rec->target_len = (uint32_t)b->n[RB_TARGET];
    rec->headers = base ? base + b->off[RB_HEADERS] : "";
    rec->headers_len = (uint32_t)b->n[RB_HEADERS];
    rec->body = base ? b->p + b->off[RB_BODY] : (const uint8_t *)"";
    rec->body_len = (uint32_t)b->n[RB_BODY];
}

void rb_free(struct rec_builder *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- base64 ---- */

long rp_import_base64_decode(const char *in, size_t n, uint8_t *out)
{
    static int8_t val[256];
    if (val['B'] == 0) {
        memset(val, -1, sizeof val);
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; i++)
            val[(unsigned char)a[i]] = (int8_t)i;
    }
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    long o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = val[(unsigned char)in[i]];
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

/* ---- times ---- */

/* Reads exactly `digits` decimal digits. */
static int get_digits(const char **p, const char *end, int digits, int *v)
{
    *v = 0;
    for (int i = 0; i < digits; i++, (*p)++) {
        if (*p == end || !isdigit((unsigned char)**p))
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

int rp_parse_rfc3339(const char *text, size_t len, uint64_t *ns)
{
    const char *p = text, *end = text + len;
    int y, mo, d, h, mi, s;
    if (get_digits(&p, end, 4, &y) || p == end || *p++ != '-' ||
        get_digits(&p, end, 2, &mo) || p == end || *p++ != '-' ||
        get_digits(&p, end, 2, &d) || p == end || (*p != 'T' && *p != 't' && *p != ' ') ||
        (++p, get_digits(&p, end, 2, &h)) || p == end || *p++ != ':' ||
        get_digits(&p, end, 2, &mi) || p == end || *p++ != ':' ||
        get_digits(&p, end, 2, &s))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    uint64_t frac = 0;
    if (p < end && *p == '.') {
        int digits = 0;
        for (p++; p < end && isdigit((unsigned char)*p); p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (uint64_t)(*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    long offset = 0;
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (get_digits(&p, end, 2, &oh) || p == end || *p++ != ':' ||
            get_digits(&p, end, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = sign * (long)(oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (p != end)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t - offset < 0)
        return -1;
    *ns = (uint64_t)(t - offset) * 1000000000u + frac;
    return 0;
}

/* ---- HTTP request messages ---- */

/* Decodes a chunked body from [p, end) into b's body field. Returns NULL
 * or what is wrong. Trailer fields are dropped. */
static const char *decode_chunked(const char *p, const char *end, struct rec_builder *b)
{
    rb_set(b, RB_BODY, NULL, 0);
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return "its chunked body is cut off";
        char *stop;
        unsigned long long size = strtoull(p, &stop, 16);
        if (stop == p || (*stop != '\r' && *stop != ';' && *stop != '\n' && *stop != ' '))
            return "its chunked body has an invalid chunk size";
        p = nl + 1;
        if (size == 0)
            return NULL;
        if (size > (unsigned long long)(end - p))
            return "its chunked body is cut off";
        rb_append(b, RB_BODY, p, (size_t)size);
        p += size;
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n')
            p++;
    }
}

static const char *parse_request_line(const char *p, const char *eol, struct rec_builder *b,
                                      rp_record *rec)
{
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (sp1 == NULL || sp1 == p)
        return "its request line has no method and target";
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(eol - t));
    const char *tend = sp2 ? sp2 : eol;
    if (tend == t)
        return "its request line has no target";
    rec->http_major = rec->http_minor = 0;
    if (sp2 != NULL) {
        const char *v = sp2 + 1;
        if (eol - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) ||
            v[6] != '.' || !isdigit((unsigned char)v[7]))
            return "its request line does not end in HTTP/x.y";
        rec->http_major = (uint8_t)(v[5] - '0');
        rec->http_minor = (uint8_t)(v[7] - '0');
    }
    rb_set(b, RB_METHOD, p, (size_t)(sp1 - p));
    rb_set(b, RB_TARGET, t, (size_t)(tend - t));
    return NULL;
}

const char *rp_parse_http_request(const char *msg, size_t len, struct rec_builder *b,
                                  rp_record *rec)
{
    const char *end = msg + len;
    const char *nl = memchr(msg, '\n', len);
    if (nl == NULL)
        return "it has no complete request line";
    const char *eol = nl > msg && nl[-1] == '\r' ? nl - 1 : nl;
    const char *why = parse_request_line(msg, eol, b, rec);
    if (why != NULL)
        return why;

    /* The header section: lines up to the first empty one, stored with
     * CRLF endings as a trace stores them. */
    const char *p = nl + 1;
    rb_set(b, RB_HEADERS, NULL, 0);
    for (;;) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return "its header section does not end with an empty line";
        eol = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (eol == p)
            break;
        rb_append(b, RB_HEADERS, p, (size_t)(eol - p));
        rb_append(b, RB_HEADERS, "\r\n", 2);
        p = nl + 1;
    }
    p = nl + 1;

    const char *te, *cl;
    size_t hlen = b->n[RB_HEADERS];
    const char *h = (const char *)b->p + b->off[RB_HEADERS];
    size_t te_len = rp_headers_find(h, hlen, "transfer-encoding", &te);
    size_t cl_len = rp_headers_find(h, hlen, "content-length", &cl);
    rec->flags &= ~RP_REC_CHUNKED;
    if (te_len >= 7 && strncasecmp(te + te_len - 7, "chunked", 7) == 0) {
        rec->flags |= RP_REC_CHUNKED;
        why = decode_chunked(p, end, b);
    } else {
        size_t body = (size_t)(end - p);
        if (cl_len > 0) {
            char num[24];
            snprintf(num, sizeof num, "%.*s", (int)(cl_len < 20 ? cl_len : 20), cl);
            char *stop;
            unsigned long long v = strtoull(num, &stop, 10);
            if (*stop == '\0' && v < body)
                body = (size_t)v;
            else if (*stop == '\0' && v > body)
                rec->flags |= RP_REC_TRUNCATED;     /* the body was cut short */
        }
        rb_set(b, RB_BODY, p, body);
    }
    return b->oom ? "out of memory" : why;
}

/* ---- timestamp order ---- */

struct held {
    rp_record rec;
    uint64_t seq;             /* arrival order, for equal timestamps */
    uint8_t *data;
    size_t size;
};

struct rp_import_order {
    struct held *heap;
    size_t n, cap, max_records;
    size_t bytes, max_bytes;
    uint64_t seq;
    rp_import_order_out out;
    void *ctx;
    int have_last;
    uint64_t last_ts;
    uint64_t late, max_shift;
};

rp_import_order *rp_import_order_new(size_t max_records, size_t max_bytes, rp_import_order_out out,
                           void *ctx)
{
    rp_import_order *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->max_records = max_records ? max_records : 1;
    r->max_bytes = max_bytes;
    r->out = out;
    r->ctx = ctx;
    return r;
}

static int earlier(const struct held *a, const struct held *b)
{
    return a->rec.ts_ns < b->rec.ts_ns || (a->rec.ts_ns == b->rec.ts_ns && a->seq < b->seq);
}

static void heap_up(rp_import_order *r, size_t i)
{
    while (i > 0 && earlier(&r->heap[i], &r->heap[(i - 1) / 2])) {
        struct held t = r->heap[i];
        r->heap[i] = r->heap[(i - 1) / 2];
        r->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void heap_down(rp_import_order *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->n && earlier(&r->heap[l], &r->heap[m]))
            m = l;
        if (l + 1 < r->n && earlier(&r->heap[l + 1], &r->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        struct held t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

/* Passes the earliest record on. */
static int pop(rp_import_order *r)
{
    struct held h = r->heap[0];
    r->heap[0] = r->heap[--r->n];
    heap_down(r, 0);
    r->bytes -= h.size;
    if (r->have_last && h.rec.ts_ns < r->last_ts) {
        r->late++;
        if (r->last_ts - h.rec.ts_ns > r->max_shift)
            r->max_shift = r->last_ts - h.rec.ts_ns;
        h.rec.ts_ns = r->last_ts;
    }
    r->have_last = 1;
    r->last_ts = h.rec.ts_ns;
    int rc = r->out(r->ctx, &h.rec);
    free(h.data);
    return rc;
}

static uint8_t *copy_field(uint8_t *p, const void *data, uint32_t len)
{
    if (len > 0)
        memcpy(p, data, len);
    return p + len;
}

int rp_import_order_add(rp_import_order *r, const rp_record *rec)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        struct held *h = realloc(r->heap, cap * sizeof *h);
        if (h == NULL)
            return -1;
        r->heap = h;
        r->cap = cap;
    }
    size_t size = (size_t)rec->method_len + rec->target_len + rec->headers_len + rec->body_len;
    struct held h = { *rec, r->seq++, malloc(size ? size : 1), size };
    if (h.data == NULL)
        return -1;
    uint8_t *p = h.data;
    h.rec.method = (const char *)p;
    p = copy_field(p, rec->method, rec->method_len);
    h.rec.target = (const char *)p;
    p = copy_field(p, rec->target, rec->target_len);
    h.rec.headers = (const char *)p;
    p = copy_field(p, rec->headers, rec->headers_len);
    h.rec.body = p;
    copy_field(p, rec->body, rec->body_len);

    r->heap[r->n++] = h;
    heap_up(r, r->n - 1);
    r->bytes += size;
    while (r->n > r->max_records || (r->max_bytes && r->bytes > r->max_bytes && r->n > 1)) {
        int rc = pop(r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int rp_import_order_drain(rp_import_order *r)
{
    while (r->n > 0) {
        int rc = pop(r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

uint64_t rp_import_order_late(const rp_import_order *r, uint64_t *max_shift_ns)
{
    if (max_shift_ns != NULL)
        *max_shift_ns = r->max_shift;
    return r->late;
}

void rp_import_order_free(rp_import_order *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->heap[i].data);
    free(r->heap);
    free(r);
}
