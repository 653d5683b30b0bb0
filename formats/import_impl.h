/* Internals shared by the import readers (formats/import_*.c). */
#ifndef RP_IMPORT_IMPL_H
#define RP_IMPORT_IMPL_H

#include <stdio.h>

#include "formats/import.h"

struct import_run {
    const char *path;
    FILE *f;
    const rp_import_sink *sink;
    rp_import_stats *st;
    char *err;
    size_t errlen;
    const char *unit;         /* what a skipped item is: "line", ... */
};

int rp_import_jsonl(struct import_run *x);
int rp_import_har(struct import_run *x);
int rp_import_gor(struct import_run *x);
int rp_import_access_log(struct import_run *x);

/* Reports an item as skipped and counts it. */
void rp_import_skip(struct import_run *x, uint64_t where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Passes rec to the sink and counts it. Returns the sink's value. */
int rp_import_emit(struct import_run *x, const rp_record *rec);

/* Fills err with "cannot read PATH: strerror" and returns RP_TRACE_EIO. */
int rp_import_io_error(struct import_run *x);

/* ---- lines ---- */

/* Reads a file line by line through its own buffer. Start with
 * { .f = file } and every other field 0. */
struct line_reader {
    FILE *f;
    char *buf;
    size_t cap, start, end;   /* unread bytes are [start, end) */
    uint64_t lineno;          /* of the line last returned, from 1 */
};

/* Reads the next line (without its LF; a CR before it is kept; NUL bytes
 * are kept). Returns 1 with *line and *len set, valid until the next
 * call; 0 at the end of the file; -1 on a read error or out of memory.
 * A line longer than RP_IMPORT_MAX_ITEM is consumed and returned with
 * *too_long set and *len 0. *last is set for a final line without a
 * newline. */
int rp_line_next(struct line_reader *lr, char **line, size_t *len, int *too_long, int *last);
void rp_line_free(struct line_reader *lr);

/* ---- building a record ---- */

enum { RB_METHOD, RB_TARGET, RB_HEADERS, RB_BODY, RB_FIELDS };

/* Owns the bytes of one record being built: each field is a range of one
 * buffer, so appending to a field is allowed only for the last one set. */
struct rec_builder {
    uint8_t *p;
    size_t len, cap;
    size_t off[RB_FIELDS], n[RB_FIELDS];
    int oom;                  /* an allocation failed */
};

void rb_reset(struct rec_builder *b);
/* Starts field (method, target, headers or body) with data. */
void rb_set(struct rec_builder *b, int field, const void *data, size_t len);
/* Appends to the field started last. */
void rb_append(struct rec_builder *b, int field, const void *data, size_t len);
/* Points rec's four fields into the builder; other fields are left. */
void rb_finish(struct rec_builder *b, rp_record *rec);
void rb_free(struct rec_builder *b);

/* Decodes standard base64 (RFC 4648, padding optional, no whitespace)
 * into out, which has room for n * 3 / 4 + 3 bytes. Returns the decoded
 * length, or -1 on an invalid character. */
long rp_import_base64_decode(const char *in, size_t n, uint8_t *out);

/* Parses an HTTP/1.x request message: request line, header lines, the
 * empty line, and a body framed by chunked coding or Content-Length, or
 * else everything after the header section. Fills b and rec (method,
 * target, headers, body, version, RP_REC_CHUNKED, and RP_REC_TRUNCATED
 * when the body is shorter than its Content-Length). Returns NULL, or a
 * sentence saying what is wrong. */
const char *rp_parse_http_request(const char *msg, size_t len, struct rec_builder *b,
                                  rp_record *rec);

#endif
