#include "tools/out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <unistd.h>

#define OUT_BUF_SIZE (1u << 20)

int rp_out_open(rp_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->fd = STDOUT_FILENO;
    if (path != NULL && strcmp(path, "-") != 0) {
        /* Exports hold request headers, which may carry credentials. */
        o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (o->fd < 0 || fchmod(o->fd, 0600) != 0)
            return -1;
    }
    o->cap = OUT_BUF_SIZE;
    o->buf = malloc(o->cap);
    if (o->buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int rp_out_flush(rp_out *o)
{
    const char *p = o->buf;
    size_t left = o->len;
    while (left > 0 && o->error == 0) {
        ssize_t n = write(o->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            o->error = errno;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    o->len = 0;
    return o->error ? -1 : 0;
}

int rp_out_close(rp_out *o)
{
    int rc = rp_out_flush(o);
    if (o->fd != STDOUT_FILENO && close(o->fd) != 0 && rc == 0) {
        o->error = errno;
        rc = -1;
    }
    free(o->buf);
    o->buf = NULL;
    return rc;
}

char *rp_out_room(rp_out *o, size_t n)
{
    if (o->cap - o->len >= n)
        return o->buf + o->len;
    rp_out_flush(o);
    if (n > o->cap) {
        char *b = realloc(o->buf, n);
        if (b == NULL)
            abort();    /* a record is at most 64 MiB: treat as fatal */
        o->buf = b;
        o->cap = n;
    }
    return o->buf;
}

void rp_out_str(rp_out *o, const char *s)
{
    rp_out_bytes(o, s, strlen(s));
}

void rp_out_u64(rp_out *o, uint64_t v)
{
    char tmp[20];
    int i = 20;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    rp_out_bytes(o, tmp + i, (size_t)(20 - i));
}

/* ---- UTF-8 ---- */

/* Returns the length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    size_t n = end - p;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
            return 0;   /* overlong, or a surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
            (p[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
            return 0;   /* overlong, or above U+10FFFF */
        return 4;
    }
    return 0;
}

int rp_utf8_valid(const void *data, size_t n)
{
    const uint8_t *p = data, *end = p + n;
    while (p < end) {
        while (end - p >= 8) {     /* skip ASCII 8 bytes at a time */
            uint64_t x;
            memcpy(&x, p, 8);
            if (x & 0x8080808080808080ull)
                break;
            p += 8;
        }
        if (p == end)
            break;
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_seq(p, end);
        if (k == 0)
            return 0;
        p += k;
    }
    return 1;
}

/* ---- JSON strings ---- */

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when any of the 8 bytes in x is below 0x20, '"', '\\' or at
 * least 0x80: the bytes a JSON string cannot copy as they are. */
static inline uint64_t needs_care(uint64_t x)
{
    uint64_t below = (x - ONES * 0x20) & ~x;
    uint64_t q = x ^ (ONES * '"');
    uint64_t b = x ^ (ONES * '\\');
    uint64_t quote = (q - ONES) & ~q;
    uint64_t bslash = (b - ONES) & ~b;
    return (below | quote | bslash | x) & HIGHS;
}

/* What json_body does with each byte: 0 copy, 1 escape, 2 start of a
 * multi-byte sequence to validate. */
static uint8_t byte_class[256];

static void init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        if (c < 0x20 || c == '"' || c == '\\')
            byte_class[c] = 1;
        else if (c >= 0x80)
            byte_class[c] = 2;
        else
            byte_class[c] = 0;
    }
}

static const char hexdig[] = "0123456789abcdef";

static char *escape_ascii(char *d, uint8_t c)
{
    *d++ = '\\';
    switch (c) {
    case '"': *d++ = '"'; break;
    case '\\': *d++ = '\\'; break;
    case '\n': *d++ = 'n'; break;
    case '\r': *d++ = 'r'; break;
    case '\t': *d++ = 't'; break;
    default:
        *d++ = 'u';
        *d++ = '0';
        *d++ = '0';
        *d++ = hexdig[c >> 4];
        *d++ = hexdig[c & 15];
    }
    return d;
}

/* Escapes [p, end) into d, which has room for 6 bytes per input byte.
 * Returns the end of the output, or NULL at an invalid UTF-8 byte when
 * not lossy; lossy writes U+FFFD for it. *stop is where input ended: a
 * multi-byte sequence cut by end is left for the next call. */
static char *escape_chunk(char *d, const uint8_t *p, const uint8_t *end,
                          const uint8_t *limit, int lossy, const uint8_t **stop)
{
    while (p < end) {
        /* Copy 8 bytes at a time up to the first byte that needs care:
         * the lowest flagged byte of needs_care is always a real one. The
         * store may write up to 8 bytes past what is kept, which the
         * caller's room allows. */
        uint8_t c;
        if (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            memcpy(d, &x, 8);
            uint64_t m = needs_care(x);
            if (m == 0) {
                d += 8;
                p += 8;
                continue;
            }
            unsigned k = (unsigned)__builtin_ctzll(m) >> 3;
            d += k;
            p += k;
            c = *p;
        } else {
            c = *p;
            if (byte_class[c] == 0) {
                *d++ = (char)c;
                p++;
                continue;
            }
        }
        if (c == '"' || c == '\\') {       /* the common case in JSON bodies */
            d[0] = '\\';
            d[1] = (char)c;
            d += 2;
            p++;
            continue;
        }
        if (byte_class[c] == 1) {
            d = escape_ascii(d, c);
            p++;
            continue;
        }
        size_t k = utf8_seq(p, limit);
        if (k == 0) {
            if (!lossy)
                return NULL;
            memcpy(d, "\xef\xbf\xbd", 3);
            d += 3;
            p++;
            continue;
        }
        memcpy(d, p, k);
        d += k;
        p += k;
    }
    *stop = p;
    return d;
}

#define CHUNK 4096

/* Writes the string body in chunks, each with room for its worst case,
 * so no check is needed per byte. Returns -1 at an invalid UTF-8 byte
 * when not lossy; what was written before it stays in the buffer. */
static int json_body(rp_out *o, const uint8_t *p, size_t n, int lossy)
{
    if (byte_class['"'] == 0)
        init_classes();
    const uint8_t *end = p + n;
    while (p < end) {
        const uint8_t *chunk_end = end - p > CHUNK ? p + CHUNK : end;
        char *d = rp_out_room(o, 6 * CHUNK + 16);
        const uint8_t *stop;
        char *e = escape_chunk(d, p, chunk_end, end, lossy, &stop);
        if (e == NULL)
            return -1;
        o->len += (size_t)(e - d);
        p = stop;
    }
    return 0;
}

int rp_out_json_utf8(rp_out *o, const void *p, size_t n)
{
    /* Short strings are validated while they are escaped, and rolled back
     * if invalid, which needs the whole string in the buffer at once.
     * Longer ones are validated first. */
    if (n <= CHUNK) {
        rp_out_room(o, 6 * n + 6 * CHUNK + 16);
        size_t mark = o->len;
        rp_out_char(o, '"');
        if (json_body(o, p, n, 0) != 0) {
            o->len = mark;
            return -1;
        }
        rp_out_char(o, '"');
        return 0;
    }
    if (!rp_utf8_valid(p, n))
        return -1;
    rp_out_char(o, '"');
    json_body(o, p, n, 0);
    rp_out_char(o, '"');
    return 0;
}

void rp_out_json_lossy(rp_out *o, const void *p, size_t n)
{
    rp_out_char(o, '"');
    json_body(o, p, n, 1);
    rp_out_char(o, '"');
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void rp_out_base64(rp_out *o, const void *data, size_t n)
{
    const uint8_t *p = data;
    char *d = rp_out_room(o, (n + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = b64[v >> 18];
        *d++ = b64[(v >> 12) & 63];
        *d++ = b64[(v >> 6) & 63];
        *d++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *d++ = b64[v >> 18];
        *d++ = b64[(v >> 12) & 63];
        *d++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *d++ = '=';
    }
    o->len = (size_t)(d - o->buf);
}

void rp_out_json_base64(rp_out *o, const void *p, size_t n)
{
    rp_out_char(o, '"');
    rp_out_base64(o, p, n);
    rp_out_char(o, '"');
}

/* ---- time ---- */

void rp_format_time(uint64_t ns, int digits, char out[32])
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        strcpy(out, "invalid");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    uint64_t frac = ns % 1000000000u;
    if (digits == 3)
        snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(frac / 1000000u));
    else
        snprintf(out + n, 32 - n, ".%09uZ", (unsigned)frac);
}
