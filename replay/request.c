#include "replay/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t rp_request_target(const char *captured, size_t len, const char *base_path,
                         char *out, size_t outlen)
{
    int star = len == 1 && captured[0] == '*';
    size_t prefix_len = star ? 0 : strlen(base_path);
    size_t rest_len = rp_rules_origin_target(captured, len, NULL, 0);
    size_t need = prefix_len + rest_len;
    if (need + 1 <= outlen) {
        memcpy(out, base_path, prefix_len);
        rp_rules_origin_target(captured, len, out + prefix_len, outlen - prefix_len);
    }
    return need;
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 512;
    while (n < need)
        n *= 2;
    char *grown = realloc(*buf, n);
    if (grown == NULL)
        return -1;
    *buf = grown;
    *cap = n;
    return 0;
}

/* Builds the request-target to send into req->scratch. Returns its length,
 * or -1 when out of memory. */
static long build_path(rp_request *req, const rp_record *rec, const rp_rules *rules)
{
    size_t need = rp_request_target(rec->target, rec->target_len, rules->base_path, NULL, 0);
    if (rules->rewrite_count == 0 || (rec->target_len == 1 && rec->target[0] == '*')) {
        if (grow(&req->scratch, &req->scratch_cap, need + 1) != 0)
            return -1;
        rp_request_target(rec->target, rec->target_len, rules->base_path, req->scratch, need + 1);
        return (long)need;
    }

    /* Rewrites see the origin form; the base path goes in front after. */
    size_t olen = rp_rules_origin_target(rec->target, rec->target_len, NULL, 0);
    char *origin = malloc(olen + 1);
    if (origin == NULL)
        return -1;
    rp_rules_origin_target(rec->target, rec->target_len, origin, olen + 1);
    long len = rp_rules_rewrite(rules, origin, &req->scratch, &req->scratch_cap);
    free(origin);
    size_t base_len = strlen(rules->base_path);
    if (len < 0 || grow(&req->scratch, &req->scratch_cap, (size_t)len + base_len + 1) != 0)
        return -1;
    memmove(req->scratch + base_len, req->scratch, (size_t)len + 1);
    memcpy(req->scratch, rules->base_path, base_len);
    return len + (long)base_len;
}

/* ---- header lines ---- */

typedef struct line_writer {
    char *p;                 /* next byte to write */
    uint32_t emitted_edits;  /* bit i: edit i was written (RP_RULES_MAX_EDITS) */
} line_writer;

static void put(line_writer *w, const char *s, size_t len)
{
    memcpy(w->p, s, len);
    w->p += len;
}

/* Writes "Name: value" (or "Name:" for an empty value) and CRLF. */
static void put_line(line_writer *w, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
    put(w, name, name_len);
    put(w, ":", 1);
    if (value_len > 0) {
        put(w, " ", 1);
        put(w, value, value_len);
    }
    put(w, "\r\n", 2);
}

/* Writes value with each line break, and the whitespace around it,
 * replaced by one space, as RFC 9112 section 5.2 allows for obsolete line
 * folding. */
static void put_unfolded(line_writer *w, const char *v, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (v[i] != '\r' && v[i] != '\n') {
            *w->p++ = v[i++];
            continue;
        }
        while (w->p[-1] == ' ' || w->p[-1] == '\t')
            w->p--;
        while (i < len && (v[i] == '\r' || v[i] == '\n' || v[i] == ' ' || v[i] == '\t'))
            i++;
        *w->p++ = ' ';
    }
}

static int name_is(const char *name, size_t len, const char *want, size_t want_len)
{
    return len == want_len && strncasecmp(name, want, len) == 0;
}

/* Index of the edit for this header name, or -1. */
static int find_edit(const rp_rules *rules, const char *name, size_t len)
{
    for (size_t i = 0; i < rules->edit_count; i++)
        if (name_is(name, len, rules->edits[i].name, strlen(rules->edits[i].name)))
            return (int)i;
    return -1;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' ||
                        (*s)[*len - 1] == '\r'))
        (*len)--;
}

enum { KIND_OTHER, KIND_HOST, KIND_FRAMING };

static int classify(const char *name, size_t len)
{
    if (name_is(name, len, "Host", 4))
        return KIND_HOST;
    if (name_is(name, len, "Content-Length", 14) || name_is(name, len, "Transfer-Encoding", 17))
        return KIND_FRAMING;
    return KIND_OTHER;
}

/* Writes one captured header (value still folded) as the rules require.
 * Returns its KIND_*. */
static int put_captured(line_writer *w, const rp_rules *rules, const char *name,
                        size_t name_len, const char *value, size_t value_len)
{
    int kind = classify(name, name_len);
    int edit = find_edit(rules, name, name_len);
    if (kind == KIND_FRAMING || (kind == KIND_HOST && !rules->keep_host && edit < 0))
        return kind;      /* written elsewhere */
    if (edit >= 0) {
        const rp_header_edit *e = &rules->edits[edit];
        unsigned bit = 1u << edit;
        if (e->value != NULL && kind != KIND_HOST && !(w->emitted_edits & bit))
            put_line(w, e->name, strlen(e->name), e->value, strlen(e->value));
        w->emitted_edits |= bit;
        return kind;
    }
    put(w, name, name_len);
    put(w, ":", 1);
    if (value_len > 0) {
        put(w, " ", 1);
        put_unfolded(w, value, value_len);
    }
    put(w, "\r\n", 2);
    return kind;
}

/* Walks the captured header block and writes each line. Returns nonzero
 * when it held Content-Length or Transfer-Encoding. */
static int put_captured_block(line_writer *w, const rp_rules *rules, const rp_record *rec)
{
    int framed = 0;
    const char *p = rec->headers, *end = rec->headers + rec->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *next = eol ? eol + 1 : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));

        /* A folded value goes on until a line that does not start with
         * whitespace. */
        while (next < end && (*next == ' ' || *next == '\t')) {
            const char *e2 = memchr(next, '\n', (size_t)(end - next));
            line_end = e2 ? e2 : end;
            next = e2 ? e2 + 1 : end;
        }
        if (colon != NULL && colon != p) {
            const char *value = colon + 1;
            size_t value_len = (size_t)(line_end - value);
            trim(&value, &value_len);
            if (put_captured(w, rules, p, (size_t)(colon - p), value, value_len) == KIND_FRAMING)
                framed = 1;
        }
        p = next;
    }
    return framed;
}

/* The Host line that goes first, unless keep_host keeps the captured one
 * in place. */
static void put_host(line_writer *w, const rp_rules *rules)
{
    int edit = find_edit(rules, "Host", 4);
    if (edit >= 0) {
        const rp_header_edit *e = &rules->edits[edit];
        if (e->value != NULL)
            put_line(w, "Host", 4, e->value, strlen(e->value));
        return;
    }
    if (!rules->keep_host)
        put_line(w, "Host", 4, rules->host, strlen(rules->host));
}

/* Edits whose header the capture did not have go after the captured
 * lines. */
static void put_new_edits(line_writer *w, const rp_rules *rules)
{
    for (size_t i = 0; i < rules->edit_count; i++) {
        const rp_header_edit *e = &rules->edits[i];
        if (e->value == NULL || (w->emitted_edits & (1u << i)) ||
            classify(e->name, strlen(e->name)) == KIND_HOST)
            continue;
        put_line(w, e->name, strlen(e->name), e->value, strlen(e->value));
    }
}

/* Bytes the header lines can take at most: the captured block, each line
 * gaining at most ": " over it, plus Host, the edits and Content-Length. */
static size_t headers_bound(const rp_record *rec, const rp_rules *rules)
{
    size_t n = (size_t)rec->headers_len * 2 + strlen(rules->host) + 16 + 48;
    for (size_t i = 0; i < rules->edit_count; i++)
        n += strlen(rules->edits[i].name) + (rules->edits[i].value ? strlen(rules->edits[i].value) : 0) + 4;
    return n;
}

int rp_request_build(rp_request *req, const rp_record *rec, const rp_rules *rules)
{
    long path_len = build_path(req, rec, rules);
    if (path_len < 0)
        return -1;

    size_t need = rec->method_len + 1 + (size_t)path_len + 1 +               /* copies */
                  rec->target_len + 1 +
                  rec->method_len + 1 + (size_t)path_len + 11 +              /* request line */
                  headers_bound(rec, rules) + 2 + rec->body_len + 1;
    if (grow(&req->storage, &req->storage_cap, need) != 0)
        return -1;

    char *p = req->storage;
    memcpy(p, rec->method, rec->method_len);
    p[rec->method_len] = '\0';
    req->method = p;
    p += rec->method_len + 1;
    memcpy(p, req->scratch, (size_t)path_len + 1);
    req->path = p;
    p += path_len + 1;
    if (rec->target_len > 0)
        memcpy(p, rec->target, rec->target_len);
    p[rec->target_len] = '\0';
    req->captured_target = p;
    p += rec->target_len + 1;

    line_writer w = { .p = p };
    req->wire = p;
    put(&w, rec->method, rec->method_len);
    put(&w, " ", 1);
    put(&w, req->path, (size_t)path_len);
    put(&w, rec->http_major == 1 && rec->http_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n", 11);

    req->headers = w.p;
    put_host(&w, rules);
    int framed = put_captured_block(&w, rules, rec);
    put_new_edits(&w, rules);

    req->is_head = rec->method_len == 4 && memcmp(rec->method, "HEAD", 4) == 0;
    req->body_framed = !req->is_head &&
                       (rec->body_len > 0 || (rec->flags & RP_REC_CHUNKED) || framed);
    if (req->body_framed)
        w.p += sprintf(w.p, "Content-Length: %u\r\n", (unsigned)rec->body_len);
    req->headers_len = (uint32_t)(w.p - req->headers);
    put(&w, "\r\n", 2);

    /* A HEAD request's captured body, if any, is not sent. */
    uint32_t body_len = req->is_head ? 0 : rec->body_len;
    req->body = body_len ? (const uint8_t *)w.p : NULL;
    if (body_len)
        put(&w, (const char *)rec->body, body_len);
    req->body_len = body_len;
    req->wire_len = (size_t)(w.p - req->wire);

    req->conn_key = rec->conn_id;
    req->flags = rec->flags;
    req->recorded_status = (rec->flags & RP_REC_HAS_RESPONSE) ? rec->resp_status : 0;
    req->http_major = rec->http_major;
    req->http_minor = rec->http_minor;
    req->last_on_conn = 0;
    return 0;
}

void rp_request_release(rp_request *req)
{
    free(req->storage);
    free(req->scratch);
    req->storage = req->scratch = NULL;
    req->storage_cap = req->scratch_cap = 0;
}
