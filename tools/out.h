/* Buffered output for the verbs that write a lot (export, inspect
 * --records): a large buffer written with write(2), and the encoders the
 * export formats share: JSON strings, base64 and decimal numbers. These
 * are on export's hot path, so they avoid stdio and jansson. */
#ifndef RP_OUT_H
#define RP_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rp_out {
    int fd;
    char *buf;
    size_t len, cap;
    int error;                /* errno of the first failed write, or 0 */
} rp_out;

/* Opens path for writing (mode 0600, truncated), or standard output for
 * NULL or "-". Returns 0, or -1 with errno set. */
int rp_out_open(rp_out *o, const char *path);

/* Writes what is buffered. Returns 0, or -1 when a write failed (now or
 * earlier), with o->error set. */
int rp_out_flush(rp_out *o);

/* Flushes, closes a file that rp_out_open opened and frees the buffer.
 * Returns 0 or -1 as rp_out_flush. */
int rp_out_close(rp_out *o);

/* Makes room for n more bytes, flushing when the buffer is full. Returns
 * where they go; a request larger than the buffer grows it. */
char *rp_out_room(rp_out *o, size_t n);

static inline void rp_out_bytes(rp_out *o, const void *p, size_t n)
{
    if (o->cap - o->len < n)
        rp_out_room(o, n);
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static inline void rp_out_char(rp_out *o, char c)
{
    if (o->len == o->cap)
        rp_out_room(o, 1);
    o->buf[o->len++] = c;
}

#define rp_out_lit(o, s) rp_out_bytes((o), (s), sizeof(s) - 1)

void rp_out_str(rp_out *o, const char *s);
void rp_out_u64(rp_out *o, uint64_t v);

/* Writes p as a quoted JSON string if it is valid UTF-8 and returns 0;
 * otherwise writes nothing and returns -1. NUL and other control
 * characters are escaped, so any valid UTF-8 gives valid JSON. */
int rp_out_json_utf8(rp_out *o, const void *p, size_t n);

/* Writes p as a quoted JSON string, with each byte that is not part of
 * valid UTF-8 replaced by U+FFFD. For text shown to people (HAR). */
void rp_out_json_lossy(rp_out *o, const void *p, size_t n);

/* Writes p as quoted standard base64 (RFC 4648, with padding). */
void rp_out_json_base64(rp_out *o, const void *p, size_t n);

/* Writes the base64 of p, without quotes. */
void rp_out_base64(rp_out *o, const void *p, size_t n);

/* Returns 1 when p is valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
int rp_utf8_valid(const void *p, size_t n);

/* Formats ns since the epoch as RFC 3339 UTC with nanoseconds,
 * e.g. 2024-12-03T10:00:00.007211000Z (30 bytes and a NUL). digits is 3
 * for milliseconds or 9 for nanoseconds. */
void rp_format_time(uint64_t ns, int digits, char out[32]);

#endif
