/* Import of HAR 1.x files (HTTP Archive, as browsers' developer tools
 * save them). The file is one JSON object, so it is read through a
 * window: a skimmer finds log.entries, then each entry is parsed on its
 * own (jansson with JSON_DISABLE_EOF_CHECK stops after one value), and
 * only the entry being parsed is in memory. After an entry that is not
 * valid JSON, reading resumes at the next '{' that starts an entry. */
#include "formats/import_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <xxhash.h>

#include "formats/headers.h"
#include "formats/trace_impl.h"

#define READ_SIZE (256u << 10)

struct window {
    FILE *f;
    char *buf;
    size_t start, end, cap;   /* unread bytes are [start, end) */
    int eof;
};

/* Reads more after the unread bytes. Returns 1 if bytes came, 0 at the
 * end of the file, -1 on a read error or when the unread bytes already
 * fill RP_IMPORT_MAX_ITEM. */
static int more(struct window *w)
{
    if (w->eof)
        return 0;
    if (w->start > 0) {
        memmove(w->buf, w->buf + w->start, w->end - w->start);
        w->end -= w->start;
        w->start = 0;
    }
    if (w->end >= RP_IMPORT_MAX_ITEM)
        return -1;
    if (w->cap - w->end < READ_SIZE || w->end == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4 * READ_SIZE;
        char *b = realloc(w->buf, cap);
        if (b == NULL)
            return -1;
        w->buf = b;
        w->cap = cap;
    }
    size_t n = fread(w->buf + w->end, 1, w->cap - w->end, w->f);
    if (n == 0) {
        if (ferror(w->f))
            return -1;
        w->eof = 1;
        return 0;
    }
    w->end += n;
    return 1;
}

/* Returns the next unread byte without consuming it, or -1 at the end. */
static int peek(struct window *w)
{
    if (w->start == w->end && more(w) <= 0)
        return -1;
    return (unsigned char)w->buf[w->start];
}

/* ---- finding log.entries ---- */

struct skim {
    int depth;                /* open objects and arrays */
    char kinds[4];            /* '{' or '[' for depths 1 to 3 */
    char key[3][16];          /* the last key read at depths 1 and 2 */
    int expect_key;           /* the next string in this object is a key */
    int in_string, escaped;
    char str[16];             /* the string being read, cut to 15 bytes */
    size_t str_len;
    int str_is_key, str_is_version;
};

static void end_string(struct skim *s, rp_import_stats *st)
{
    s->str[s->str_len < 15 ? s->str_len : 15] = '\0';
    if (s->str_is_key && s->depth >= 1 && s->depth <= 2)
        memcpy(s->key[s->depth], s->str, sizeof s->key[0]);
    if (s->str_is_version)
        snprintf(st->version, sizeof st->version, "%s", s->str);
    s->in_string = 0;
}

/* Consumes bytes up to and including the '[' that opens log.entries.
 * Returns 0 there, 1 when the file ends first, -1 on a read error, -2
 * when the file does not start with an object. */
static int find_entries(struct window *w, rp_import_stats *st)
{
    struct skim s;
    memset(&s, 0, sizeof s);
    for (int c; (c = peek(w)) >= 0; w->start++) {
        if (s.in_string) {
            if (s.escaped)
                s.escaped = 0;
            else if (c == '\\')
                s.escaped = 1;
            else if (c == '"')
                end_string(&s, st);
            if (s.in_string && s.str_len < sizeof s.str - 1)
                s.str[s.str_len++] = (char)c;
            continue;
        }
        if (isspace(c))
            continue;
        if (s.depth == 0 && c != '{')
            return -2;
        if (c == '"') {
            s.in_string = 1;
            s.str_len = 0;
            s.str_is_key = s.expect_key;
            s.str_is_version = !s.expect_key && s.depth == 2 &&
                               strcmp(s.key[1], "log") == 0 && strcmp(s.key[2], "version") == 0;
        } else if (c == '{' || c == '[') {
            if (c == '[' && s.depth == 2 && s.kinds[1] == '{' && s.kinds[2] == '{' &&
                strcmp(s.key[1], "log") == 0 && strcmp(s.key[2], "entries") == 0) {
                w->start++;
                return 0;
            }
            s.depth++;
            if (s.depth <= 3)
                s.kinds[s.depth] = (char)c;
            s.expect_key = c == '{';
        } else if (c == '}' || c == ']') {
            s.depth--;
            s.expect_key = 0;
            if (s.depth == 0)
                return 1;       /* the root closed without log.entries */
        } else if (c == ',') {
            s.expect_key = s.depth <= 3 && s.kinds[s.depth] == '{';
        } else if (c == ':') {
            s.expect_key = 0;
        }
    }
    return w->eof ? 1 : -1;
}

/* ---- one entry ---- */

struct har {
    struct import_run *x;
    struct window w;
    struct rec_builder b;
    uint8_t *tmp;
    size_t tmp_cap;
};

static double get_number(json_t *o, const char *key, double fallback)
{
    json_t *j = json_object_get(o, key);
    return json_is_number(j) ? json_number_value(j) : fallback;
}

static uint64_t ms_to_ns(double ms)
{
    return ms > 0 && ms < 1e12 ? (uint64_t)llround(ms * 1e6) : 0;
}

/* Splits an absolute http(s) URL into its authority and its target (path
 * and query, without the fragment). Returns -1 for other URLs. */
static int split_url(const char *url, const char **auth, size_t *auth_len,
                     const char **target, size_t *target_len)
{
    const char *rest;
    if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return -1;
    size_t a = strcspn(rest, "/?#");
    *auth = rest;
    *auth_len = a;
    *target = rest + a;
    *target_len = strcspn(rest + a, "#");
    return a > 0 ? 0 : -1;
}

static void set_version(const char *v, rp_record *rec, rp_import_stats *st)
{
    rec->http_major = 1;
    rec->http_minor = 1;
    if (v == NULL)
        return;
    if (strcasecmp(v, "HTTP/1.0") == 0) {
        rec->http_minor = 0;
    } else if (strncasecmp(v, "h2", 2) == 0 || strncasecmp(v, "h3", 2) == 0 ||
               strncasecmp(v, "HTTP/2", 6) == 0 || strncasecmp(v, "HTTP/3", 6) == 0) {
        st->http2++;    /* replayed as HTTP/1.1: reprise speaks HTTP/1.x */
    }
}

/* Writes the header lines; HTTP/2 pseudo-headers (":authority", ...) are
 * left out, and a Host line from the URL's authority leads when the
 * entry has none. */
static const char *add_headers(struct har *h, json_t *req, const char *auth, size_t auth_len)
{
    json_t *list = json_object_get(req, "headers"), *hd;
    size_t i;
    int has_host = 0;
    if (list != NULL && !json_is_array(list))
        return "request.headers is not an array";
    json_array_foreach(list, i, hd) {
        const char *name = json_string_value(json_object_get(hd, "name"));
        has_host |= name != NULL && strcasecmp(name, "host") == 0;
    }
    rb_set(&h->b, RB_HEADERS, NULL, 0);
    if (!has_host) {
        rb_append(&h->b, RB_HEADERS, "Host: ", 6);
        rb_append(&h->b, RB_HEADERS, auth, auth_len);
        rb_append(&h->b, RB_HEADERS, "\r\n", 2);
    }
    json_array_foreach(list, i, hd) {
        json_t *name = json_object_get(hd, "name"), *value = json_object_get(hd, "value");
        if (!json_is_string(name) || !json_is_string(value))
            return "a request header lacks a string name or value";
        if (json_string_value(name)[0] == ':')
            continue;
        rb_append(&h->b, RB_HEADERS, json_string_value(name), json_string_length(name));
        rb_append(&h->b, RB_HEADERS, ": ", 2);
        rb_append(&h->b, RB_HEADERS, json_string_value(value), json_string_length(value));
        rb_append(&h->b, RB_HEADERS, "\r\n", 2);
    }
    return NULL;
}

/* The body: postData.text, or reprise's exact _base64 copy, or the form
 * parameters joined as name=value&... when there is no text. */
static const char *add_body(struct har *h, json_t *req)
{
    json_t *post = json_object_get(req, "postData");
    rb_set(&h->b, RB_BODY, NULL, 0);
    if (post == NULL)
        return NULL;
    json_t *b64 = json_object_get(post, "_base64"), *text = json_object_get(post, "text");
    if (json_is_string(b64)) {
        size_t n = json_string_length(b64);
        if (n / 4 * 3 + 3 > h->tmp_cap) {
            uint8_t *t = realloc(h->tmp, n / 4 * 3 + 3);
            if (t == NULL)
                return "out of memory";
            h->tmp = t;
            h->tmp_cap = n / 4 * 3 + 3;
        }
        long len = rp_import_base64_decode(json_string_value(b64), n, h->tmp);
        if (len < 0)
            return "request.postData._base64 is not valid base64";
        rb_set(&h->b, RB_BODY, h->tmp, (size_t)len);
    } else if (json_is_string(text)) {
        rb_set(&h->b, RB_BODY, json_string_value(text), json_string_length(text));
    } else {
        json_t *params = json_object_get(post, "params"), *p;
        size_t i;
        json_array_foreach(params, i, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *value = json_string_value(json_object_get(p, "value"));
            if (name == NULL)
                continue;
            if (h->b.n[RB_BODY] > 0)
                rb_append(&h->b, RB_BODY, "&", 1);
            rb_append(&h->b, RB_BODY, name, strlen(name));
            rb_append(&h->b, RB_BODY, "=", 1);
            rb_append(&h->b, RB_BODY, value ? value : "", value ? strlen(value) : 0);
        }
    }
    return NULL;
}

static void add_response(json_t *entry, rp_record *rec)
{
    json_t *resp = json_object_get(entry, "response");
    json_t *timings = json_object_get(entry, "timings");
    double status = get_number(resp, "status", 0);
    if (status < 1 || status > 65535)
        return;     /* browsers write 0 for a request that got no response */
    rec->flags |= RP_REC_HAS_RESPONSE;
    rec->resp_status = (uint16_t)status;
    double wait = get_number(timings, "wait", -1), receive = get_number(timings, "receive", -1);
    rec->resp_ttfb_ns = ms_to_ns(wait);
    rec->resp_ttlb_ns = rec->resp_ttfb_ns + ms_to_ns(receive);
    double transfer = get_number(resp, "_transferSize", -1);
    double hsize = get_number(resp, "headersSize", -1), bsize = get_number(resp, "bodySize", -1);
    if (transfer >= 0)
        rec->resp_bytes = (uint64_t)transfer;
    else if (hsize >= 0 && bsize >= 0)
        rec->resp_bytes = (uint64_t)(hsize + bsize);
}

/* The connection id: Chrome's "connection" member (a number as a string),
 * a hash of any other string, or the entry number with the top bit set
 * when the entry has none, which makes each such request its own
 * connection. */
static uint64_t connection_id(json_t *entry, uint64_t number)
{
    const char *c = json_string_value(json_object_get(entry, "connection"));
    if (c == NULL || c[0] == '\0')
        return (1ull << 63) | number;
    char *end;
    unsigned long long v = strtoull(c, &end, 10);
    if (*end == '\0' && isdigit((unsigned char)c[0]))
        return v;
    return XXH64(c, strlen(c), 0) | (1ull << 62);
}

/* Builds rec from one entry. Returns NULL, "" to leave the entry out on
 * purpose, or what is wrong. */
static const char *decode_entry(struct har *h, json_t *entry, uint64_t number, rp_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rb_reset(&h->b);
    if (!json_is_object(entry))
        return "it is not an object";
    json_t *req = json_object_get(entry, "request");
    const char *started = json_string_value(json_object_get(entry, "startedDateTime"));
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *url = json_string_value(json_object_get(req, "url"));
    if (started == NULL || method == NULL || url == NULL)
        return "it lacks startedDateTime, request.method or request.url";
    if (json_object_get(entry, "_fromCache") != NULL)
        return "";          /* served from the browser's cache: never sent */
    const char *auth, *target;
    size_t auth_len, target_len;
    if (split_url(url, &auth, &auth_len, &target, &target_len) != 0)
        return "";          /* data:, blob:, chrome-extension: ... */

    json_t *ts = json_object_get(entry, "_ts_ns");
    if (json_is_integer(ts) && json_integer_value(ts) >= 0)
        rec->ts_ns = (uint64_t)json_integer_value(ts);
    else if (rp_parse_rfc3339(started, strlen(started), &rec->ts_ns) != 0)
        return "startedDateTime is not an ISO 8601 time such as 2024-12-03T10:00:00.123Z";
    rec->conn_id = connection_id(entry, number);
    set_version(json_string_value(json_object_get(req, "httpVersion")), rec, h->x->st);

    const char *why;
    rb_set(&h->b, RB_METHOD, method, strlen(method));
    rb_set(&h->b, RB_TARGET, target_len ? target : "/", target_len ? target_len : 1);
    if ((why = add_headers(h, req, auth, auth_len)) != NULL || (why = add_body(h, req)) != NULL)
        return why;
    add_response(entry, rec);
    json_t *flags = json_object_get(entry, "_flags");
    if (json_is_integer(flags) && json_integer_value(flags) >= 0 &&
        json_integer_value(flags) <= UINT32_MAX)
        rec->flags = (uint32_t)json_integer_value(flags) |
                     (rec->flags & RP_REC_HAS_RESPONSE);
    if (h->b.oom)
        return "out of memory";
    rb_finish(&h->b, rec);
    return NULL;
}

/* ---- the entries ---- */

/* Whether a parse failed because the bytes in the window ran out, so that
 * reading more may complete the value. jansson also reports a NUL byte
 * outside a string as the end of its input: that one is damage. */
static int at_end(const struct window *w, const json_error_t *e)
{
    return json_error_code(e) == json_error_premature_end_of_input &&
           (size_t)e->position + 1 >= w->end - w->start;
}

/* Moves past the next '{' that starts an object with a "request" member,
 * after a damaged entry. Returns 0 when one is found (left unread), 1 at
 * the end of the file, -1 on a read error. */
static int resync(struct window *w)
{
    size_t from = w->start + 1;
    for (;;) {
        char *p = from < w->end ? memchr(w->buf + from, '{', w->end - from) : NULL;
        if (p == NULL) {
            w->start = w->end;
            int rc = more(w);
            if (rc <= 0)
                return rc < 0 ? -1 : 1;
            from = w->start;
            continue;
        }
        w->start = (size_t)(p - w->buf);
        json_error_t e;
        json_t *o;
        for (;;) {
            o = json_loadb(w->buf + w->start, w->end - w->start,
                           JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &e);
            if (o != NULL || !at_end(w, &e) || more(w) <= 0)
                break;
        }
        int ok = json_is_object(o) && json_object_get(o, "request") != NULL &&
                 json_object_get(o, "startedDateTime") != NULL;
        json_decref(o);
        if (ok)
            return 0;
        from = w->start + 1;
    }
}

/* Parses the entry at the window's start. Returns the entry, or NULL with
 * *cut set when the file ends inside it. */
static json_t *parse_entry(struct window *w, json_error_t *e, int *cut, int *io_error)
{
    *cut = *io_error = 0;
    for (;;) {
        json_t *o = json_loadb(w->buf + w->start, w->end - w->start,
                               JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, e);
        if (o != NULL) {
            w->start += (size_t)e->position;
            return o;
        }
        if (!at_end(w, e))
            return NULL;
        int rc = more(w);
        if (rc == 0)
            *cut = 1;
        if (rc < 0)
            *io_error = 1;
        if (rc <= 0)
            return NULL;
    }
}

static int read_entries(struct har *h)
{
    struct import_run *x = h->x;
    for (uint64_t number = 1;; ) {
        int c;
        while ((c = peek(&h->w)) >= 0 && (isspace(c) || c == ','))
            h->w.start++;
        if (c == ']')
            return 0;
        if (c < 0) {
            if (!h->w.eof)
                return rp_import_io_error(x);
            rp_import_skip(x, number, "the file ends before log.entries is closed "
                           "(truncated?)");
            return 0;
        }
        x->st->items++;
        json_error_t e;
        int cut, io_error;
        json_t *entry = parse_entry(&h->w, &e, &cut, &io_error);
        if (io_error)
            return rp_import_io_error(x);
        if (entry == NULL) {
            if (cut) {
                rp_import_skip(x, number, "the file ends inside this entry (truncated?)");
                return 0;
            }
            rp_import_skip(x, number, "invalid JSON: %s", e.text);
            number++;
            int rc = resync(&h->w);
            if (rc != 0)
                return rc < 0 ? rp_import_io_error(x) : 0;
            continue;
        }
        rp_record rec;
        const char *why = decode_entry(h, entry, number, &rec);
        int rc = 0;
        if (why != NULL && why[0] == '\0')
            x->st->ignored++;
        else if (why != NULL)
            rp_import_skip(x, number, "not a usable request: %s", why);
        else
            rc = rp_import_emit(x, &rec);
        json_decref(entry);
        if (rc != 0)
            return rc;
        number++;
    }
}

int rp_import_har(struct import_run *x)
{
    struct har h = { .x = x, .w = { .f = x->f } };
    int rc = find_entries(&h.w, x->st);
    if (rc == -1)
        rc = rp_import_io_error(x);
    else if (rc == -2)
        rc = rp_trace_fail(x->err, x->errlen, RP_TRACE_EFORMAT,
                           "%s is not a HAR file: it does not start with a JSON object", x->path);
    else if (rc == 1)
        rc = rp_trace_fail(x->err, x->errlen, RP_TRACE_EFORMAT,
                           "%s is not a HAR file, or is cut off before its entries: no "
                           "log.entries array found", x->path);
    else if (x->st->version[0] != '\0' && atoi(x->st->version) > 1)
        rc = rp_trace_fail(x->err, x->errlen, RP_TRACE_EFORMAT,
                           "%s is HAR version %s; this reprise reads HAR 1.x", x->path,
                           x->st->version);
    if (rc == 0)
        rc = read_entries(&h);
    free(h.w.buf);
    free(h.tmp);
    rb_free(&h.b);
    return rc;
}
