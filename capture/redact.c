#include "capture/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

struct rp_redact {
    char **headers;
    size_t nheaders;
    char **params;
    size_t nparams;
    int drop_bodies;
    strbuf hdr_out, target_out;
};

static int buf_add(strbuf *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

rp_redact *rp_redact_new(void)
{
    return calloc(1, sizeof(rp_redact));
}

void rp_redact_free(rp_redact *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i]);
    free(r->headers);
    free(r->params);
    free(r->hdr_out.p);
    free(r->target_out.p);
    free(r);
}

static int add_name(char ***list, size_t *n, const char *name)
{
    char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (l == NULL)
        return -1;
    *list = l;
    l[*n] = strdup(name);
    if (l[*n] == NULL)
        return -1;
    (*n)++;
    return 0;
}

int rp_redact_add_header(rp_redact *r, const char *name) { return add_name(&r->headers, &r->nheaders, name); }
int rp_redact_add_query(rp_redact *r, const char *param) { return add_name(&r->params, &r->nparams, param); }
void rp_redact_drop_bodies(rp_redact *r, int drop) { r->drop_bodies = drop; }

int rp_redact_active(const rp_redact *r)
{
    return r->nheaders || r->nparams || r->drop_bodies;
}

static int header_listed(const rp_redact *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strlen(r->headers[i]) == n && strncasecmp(r->headers[i], name, n) == 0)
            return 1;
    return 0;
}

/* Copies the header lines, replacing listed values; returns the number
 * replaced or -1. */
static int redact_headers(rp_redact *r, const rp_record *rec)
{
    const char *p = rec->headers, *end = rec->headers + rec->headers_len;
    int replaced = 0;
    if (r->nheaders == 0)
        return 0;
    r->hdr_out.len = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        const char *colon = memchr(p, ':', (size_t)(next - p));
        size_t name_len = colon ? (size_t)(colon - p) : 0;
        if (colon && header_listed(r, p, name_len)) {
            const char *line_end = eol && eol > p && eol[-1] == '\r' ? eol - 1 : (eol ? eol : end);
            if (buf_add(&r->hdr_out, p, name_len + 1) < 0 ||
                buf_add(&r->hdr_out, " " RP_REDACT_MARKER, strlen(RP_REDACT_MARKER) + 1) < 0 ||
                buf_add(&r->hdr_out, line_end, (size_t)(next - line_end)) < 0)
                return -1;
            replaced++;
        } else if (buf_add(&r->hdr_out, p, (size_t)(next - p)) < 0) {
            return -1;
        }
        p = next;
    }
    return replaced;
}

static int param_listed(const rp_redact *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strlen(r->params[i]) == n && memcmp(r->params[i], name, n) == 0)
            return 1;
    return 0;
}

/* Copies the target, replacing the values of listed query parameters. */
static int redact_query(rp_redact *r, const rp_record *rec)
{
    const char *t = rec->target, *end = t + rec->target_len;
    const char *q = memchr(t, '?', rec->target_len);
    r->target_out.len = 0;
    if (q == NULL)
        return 0;
    const char *frag = memchr(q, '#', (size_t)(end - q));
    const char *qend = frag ? frag : end;
    int replaced = 0;
    if (buf_add(&r->target_out, t, (size_t)(q + 1 - t)) < 0)
        return -1;
    for (const char *p = q + 1; p < qend;) {
        const char *amp = memchr(p, '&', (size_t)(qend - p));
        const char *pend = amp ? amp : qend;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        size_t name_len = (size_t)((eq ? eq : pend) - p);
        if (eq && param_listed(r, p, name_len)) {
            if (buf_add(&r->target_out, p, name_len + 1) < 0 ||
                buf_add(&r->target_out, RP_REDACT_MARKER, strlen(RP_REDACT_MARKER)) < 0)
                return -1;
            replaced++;
        } else if (buf_add(&r->target_out, p, (size_t)(pend - p)) < 0) {
            return -1;
        }
        if (amp && buf_add(&r->target_out, "&", 1) < 0)
            return -1;
        p = amp ? amp + 1 : qend;
    }
    if (buf_add(&r->target_out, qend, (size_t)(end - qend)) < 0)
        return -1;
    return replaced;
}

int rp_redact_apply(rp_redact *r, rp_record *rec)
{
    int h = redact_headers(r, rec);
    int q = r->nparams ? redact_query(r, rec) : 0;
    if (h < 0 || q < 0)
        return -1;

    if (h > 0) {
        rec->headers = r->hdr_out.p;
        rec->headers_len = (uint32_t)r->hdr_out.len;
    }
    if (q > 0) {
        rec->target = r->target_out.p;
        rec->target_len = (uint32_t)r->target_out.len;
    }
    int body = r->drop_bodies && rec->body_len > 0;
    if (body) {
        rec->body = (const uint8_t *)"";
        rec->body_len = 0;
    }
    if (h > 0 || q > 0 || body)
        rec->flags |= RP_REC_REDACTED;
    return 0;
}

static void append_list(char *buf, size_t len, const char *label, char **names, size_t n)
{
    if (n == 0)
        return;
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s ", used ? "; " : "", label);
    for (size_t i = 0; i < n; i++) {
        used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i ? "," : "", names[i]);
    }
}

void rp_redact_describe(const rp_redact *r, char *buf, size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    append_list(buf, len, "headers", r->headers, r->nheaders);
    append_list(buf, len, "query", r->params, r->nparams);
    if (r->drop_bodies) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%sbodies dropped", used ? "; " : "");
    }
}

int rp_redact_covers_header(const rp_redact *r, const char *name)
{
    return header_listed(r, name, strlen(name));
}
