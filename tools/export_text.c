/* Text exports: curl command lines, GoReplay files and raw requests. */
#include "tools/export.h"

#include <stdio.h>
#include <stdlib.h>

#include "formats/headers.h"

/* ---- URLs ---- */

static void scratch_add(rp_export *x, size_t *len, const char *p, size_t n)
{
    if (*len + n > x->scratch_cap) {
        size_t cap = 2 * (*len + n) + 256;
        char *s = realloc(x->scratch, cap);
        if (s == NULL)
            abort();    /* a URL is at most a record's size: treat as fatal */
        x->scratch = s;
        x->scratch_cap = cap;
    }
    memcpy(x->scratch + *len, p, n);
    *len += n;
}

/* Returns the length of scheme://authority at the start of s, or 0. */
static size_t origin_len(const char *s, size_t n)
{
    const char *sep = n >= 3 ? memmem(s, n, "://", 3) : NULL;
    if (sep == NULL || sep == s || memchr(s, '/', (size_t)(sep - s)) != NULL)
        return 0;
    const char *path = memchr(sep + 3, '/', (size_t)(s + n - sep - 3));
    return path ? (size_t)(path - s) : n;
}

size_t rp_export_url(rp_export *x, const rp_record *rec)
{
    size_t len = 0;
    size_t abs = origin_len(rec->target, rec->target_len);
    const char *path = rec->target + abs;
    size_t path_len = rec->target_len - abs;

    if (x->base_url != NULL) {
        size_t b = strlen(x->base_url);
        while (b > 0 && x->base_url[b - 1] == '/')
            b--;
        scratch_add(x, &len, x->base_url, b);
    } else if (abs > 0) {
        scratch_add(x, &len, rec->target, abs);
    } else {
        const char *host;
        size_t host_len = rp_headers_find(rec->headers, rec->headers_len, "host", &host);
        scratch_add(x, &len, "http://", 7);
        if (host_len > 0)
            scratch_add(x, &len, host, host_len);
        else
            scratch_add(x, &len, "127.0.0.1", 9);
    }
    if (path_len == 0 || path[0] != '/')
        scratch_add(x, &len, "/", 1);
    scratch_add(x, &len, path, path_len);
    return len;
}

void rp_export_free(rp_export *x)
{
    free(x->scratch);
    x->scratch = NULL;
}

/* ---- the request on the wire ---- */

void rp_export_wire(rp_out *o, const rp_record *rec)
{
    rp_out_bytes(o, rec->method, rec->method_len);
    rp_out_char(o, ' ');
    rp_out_bytes(o, rec->target, rec->target_len);
    if (rec->http_major != 0 || rec->http_minor != 0) {
        rp_out_lit(o, " HTTP/");
        rp_out_u64(o, rec->http_major);
        rp_out_char(o, '.');
        rp_out_u64(o, rec->http_minor);
    }
    rp_out_lit(o, "\r\n");
    rp_out_bytes(o, rec->headers, rec->headers_len);
    rp_out_lit(o, "\r\n");
    if (!(rec->flags & RP_REC_CHUNKED)) {
        rp_out_bytes(o, rec->body, rec->body_len);
        return;
    }
    if (rec->body_len > 0) {
        char size[16];
        snprintf(size, sizeof size, "%x\r\n", (unsigned)rec->body_len);
        rp_out_str(o, size);
        rp_out_bytes(o, rec->body, rec->body_len);
        rp_out_lit(o, "\r\n");
    }
    rp_out_lit(o, "0\r\n\r\n");
}

void rp_export_raw(rp_export *x, const rp_record *rec)
{
    rp_export_wire(x->out, rec);
    x->written++;
}

void rp_export_gor(rp_export *x, const rp_record *rec)
{
    /* GoReplay ids are 24 hexadecimal digits; this one is the record's
     * position and its connection, so it is unique within the file. */
    char head[96];
    int n = snprintf(head, sizeof head, "1 %016llx%08llx %llu 0\n",
                     (unsigned long long)x->index,
                     (unsigned long long)(rec->conn_id & 0xffffffffu),
                     (unsigned long long)rec->ts_ns);
    rp_out_bytes(x->out, head, (size_t)n);
    rp_export_wire(x->out, rec);
    rp_out_lit(x->out, "\n\xf0\x9f\x90\xb5\xf0\x9f\x99\x88\xf0\x9f\x99\x89\n");
    x->written++;
}

/* ---- curl ---- */

/* Writes p as one shell word: in single quotes when it holds only
 * printable characters, else in bash's $'...' form with \xHH escapes. */
static void put_shell_word(rp_out *o, const char *p, size_t n)
{
    int plain = 1;
    for (size_t i = 0; i < n && plain; i++) {
        unsigned char c = (unsigned char)p[i];
        plain = c >= 0x20 && c != 0x7f;
    }
    if (plain) {
        rp_out_char(o, '\'');
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '\'')
                rp_out_lit(o, "'\\''");
            else
                rp_out_char(o, p[i]);
        }
        rp_out_char(o, '\'');
        return;
    }
    rp_out_lit(o, "$'");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\'' || c == '\\') {
            rp_out_char(o, '\\');
            rp_out_char(o, (char)c);
        } else if (c >= 0x20 && c < 0x7f) {
            rp_out_char(o, (char)c);
        } else {
            char e[8];
            snprintf(e, sizeof e, "\\x%02x", c);
            rp_out_str(o, e);
        }
    }
    rp_out_char(o, '\'');
}

/* Writes body as a printf format that prints it back: printf is the one
 * portable way to pass NUL bytes, which no shell argument can hold. */
static void put_printf_body(rp_out *o, const uint8_t *p, size_t n)
{
    rp_out_lit(o, "printf '");
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '%') {
            rp_out_lit(o, "%%");
        } else if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            rp_out_char(o, (char)c);
        } else {
            char e[8];
            snprintf(e, sizeof e, "\\%03o", c);
            rp_out_str(o, e);
        }
    }
    rp_out_lit(o, "' | ");
}

void rp_export_curl(rp_export *x, const rp_record *rec)
{
    rp_out *o = x->out;
    char note[96];
    char t[32];
    rp_format_time(rec->ts_ns, 3, t);
    snprintf(note, sizeof note, "# request %llu, %s, connection %llu\n",
             (unsigned long long)x->index, t, (unsigned long long)rec->conn_id);
    rp_out_str(o, note);

    int nul_body = rec->body_len > 0 && memchr(rec->body, 0, rec->body_len) != NULL;
    if (nul_body)
        put_printf_body(o, rec->body, rec->body_len);
    int head = rec->method_len == 4 && memcmp(rec->method, "HEAD", 4) == 0;
    int get = rec->method_len == 3 && memcmp(rec->method, "GET", 3) == 0;
    rp_out_lit(o, "curl -sS");
    if (rec->http_major == 1 && rec->http_minor == 0)
        rp_out_lit(o, " --http1.0");
    if (head) {
        rp_out_lit(o, " --head");
    } else if (!get || rec->body_len > 0) {
        rp_out_lit(o, " -X ");
        put_shell_word(o, rec->method, rec->method_len);
    }
    rp_out_char(o, ' ');
    size_t url_len = rp_export_url(x, rec);
    put_shell_word(o, x->scratch, url_len);

    rp_header_iter it;
    rp_header h;
    rp_header_iter_init(&it, rec->headers, rec->headers_len);
    while (rp_header_next(&it, &h)) {
        rp_out_lit(o, " -H ");
        if (h.has_colon && h.value_len == 0) {
            /* curl drops a header given as "Name:"; "Name;" sends it
             * with an empty value. */
            size_t len = 0;
            scratch_add(x, &len, h.name, h.name_len);
            scratch_add(x, &len, ";", 1);
            put_shell_word(o, x->scratch, len);
            continue;
        }
        put_shell_word(o, h.line, h.line_len);
    }
    /* --data-raw, unlike --data-binary, reads no file for a leading @. */
    if (nul_body) {
        rp_out_lit(o, " --data-binary @-");
    } else if (rec->body_len > 0) {
        rp_out_lit(o, " --data-raw ");
        put_shell_word(o, (const char *)rec->body, rec->body_len);
    }
    rp_out_char(o, '\n');
    x->written++;
}
