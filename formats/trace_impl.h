/* Internals shared by the trace writer (trace.c), the reader
 * (trace_read.c), the block codec (trace_block.c) and repair
 * (trace_repair.c). Not part of the public API: docs/trace-format.md
 * specifies every constant and layout below. */
#ifndef RP_TRACE_IMPL_H
#define RP_TRACE_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <zstd.h>

#include "formats/trace.h"

/* File header: magic, u16 major, u16 minor, u32 header length, then the
 * fields, then an XXH64 of everything before it. */
#define FILE_FIXED_LEN   16
#define FILE_MIN_LEN     (FILE_FIXED_LEN + 8)
#define FIELD_HDR_LEN    6      /* u16 id, u32 length */

#define BLOCK_MAGIC      "RPBK"
#define BLOCK_HDR_LEN    56

#define INDEX_MAGIC      "RPIX"
#define INDEX_FIXED_LEN  16     /* magic, u32 entry size, u64 entry count */
#define INDEX_ENTRY_LEN  32
#define TRAILER_MAGIC    "RPRZEND1"
#define TRAILER_LEN      24

enum {
    FIELD_SOURCE = 1,
    FIELD_FILTER = 2,
    FIELD_TOOL = 3,
    FIELD_CREATED_NS = 4,
    FIELD_LINK_TYPE = 5,
    FIELD_SNAPLEN = 6,
    FIELD_REDACTION = 7,
    FIELD_SAMPLE = 8,
    FIELD_HISTORY = 9
};

/* Sanity limits on lengths read from a file, so a corrupt length cannot
 * cause a huge allocation. */
#define MAX_HEADER_LEN     (16u << 20)
#define MAX_FIELD_LEN      65535u
#define MAX_INDEX_ENTRIES  (1u << 24)
#define MAX_COMPRESSED     ZSTD_COMPRESSBOUND(RP_TRACE_MAX_BLOCK_BYTES)

/* Columns of a format 1 block payload, in order. A newer minor version
 * may append columns; a reader skips those. */
enum {
    COL_TS,          /* varint: (ts_ns - previous ts_ns) / time unit */
    COL_CONN,        /* varint conn_id */
    COL_FLAGS,       /* varint flags */
    COL_VERSION,     /* varint http_major, varint http_minor */
    COL_LENGTHS,     /* varint method, target, headers and body lengths */
    COL_METHOD,      /* bytes */
    COL_TARGET,
    COL_HEADERS,
    COL_BODY,
    COL_STATUS,      /* varint resp_status, records with a response only */
    COL_TTFB,        /* varint resp_ttfb_ns / time unit, same records */
    COL_TTLB,        /* zigzag varint (resp_ttlb_ns - resp_ttfb_ns) / time unit */
    COL_RESP_BYTES,  /* varint resp_bytes, same records */
    COL_COUNT
};

#define MAX_TIME_EXPONENT 9     /* the time unit is 10^e ns, e in 0..9 */

struct index_entry {
    uint64_t offset;
    uint32_t records;
    uint64_t first_ts, last_ts;
};

struct block_header {
    uint32_t flags;
    uint32_t records;
    uint32_t comp_size;
    uint32_t raw_size;
    uint64_t first_ts, last_ts;
    uint64_t payload_sum;
};

int rp_trace_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- little-endian integers and varints ---- */

static inline void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads an unsigned LEB128 varint of at most 10 bytes. Returns -1 when it
 * runs past end or overflows 64 bits. */
static inline int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) {     /* the common one-byte case */
        *out = *p;
        *pp = p + 1;
        return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p == end)
            return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t zigzag_encode(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zigzag_decode(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- block headers (trace_block.c) ---- */

void rp_trace_encode_block_header(uint8_t *b, const struct block_header *h);

/* Decodes a block header. Returns 0 when its magic and checksum match. */
int rp_trace_decode_block_header(const uint8_t *b, struct block_header *h);

/* ---- block payloads (trace_block.c) ---- */

/* The fixed-size fields of one record while its block is being filled. */
struct block_row {
    uint64_t ts_ns, conn_id;
    uint64_t resp_ttfb_ns, resp_ttlb_ns, resp_bytes;
    uint32_t flags;
    uint32_t method_len, target_len, headers_len, body_len;
    uint16_t resp_status;
    uint8_t http_major, http_minor;
};

struct byte_buf {
    uint8_t *p;
    size_t len, cap;
};

int rp_trace_buf_reserve(struct byte_buf *b, size_t need);

/* A format 1 block being filled: its rows and its four byte columns. */
struct block_builder {
    struct block_row *rows;
    size_t n_rows, cap_rows;
    struct byte_buf bytes[4];     /* method, target, headers, body */
    struct byte_buf varints;      /* the encoded varint columns, at close */
    uint64_t raw_bound;           /* upper bound of the raw payload size */
};

/* Upper bound of the raw payload bytes rec adds to a format 1 block. */
uint64_t rp_trace_row_bound(const rp_record *rec);

/* Size of the raw payload of a block holding rec alone, time unit 1 ns:
 * the largest a record can make it. */
uint64_t rp_trace_single_block_size(const rp_record *rec);

/* Appends rec (copied) to the block. Returns -1 when out of memory. */
int rp_trace_builder_add(struct block_builder *b, const rp_record *rec);

/* Empties the block, keeping its buffers. */
void rp_trace_builder_reset(struct block_builder *b);
void rp_trace_builder_free(struct block_builder *b);

/* Compresses the block into one zstd frame in *out (grown as needed).
 * Returns the raw payload size and sets *comp_len, or 0 with err set. */
size_t rp_trace_builder_compress(struct block_builder *b, ZSTD_CCtx *cctx,
                                 struct byte_buf *out, size_t *comp_len,
                                 char *err, size_t errlen);

/* Decoding state of one decompressed block payload. */
struct block_cursor {
    int columns;                  /* 1: format 1 columns; 0: format 0 rows */
    uint32_t left;                /* records not yet delivered */
    uint64_t ts;                  /* ts_ns of the last record delivered */
    uint64_t unit;                /* time unit in ns (format 1) */
    const uint8_t *col[COL_COUNT], *col_end[COL_COUNT];
    const uint8_t *row, *row_end; /* format 0 */
    int started;
};

/* Checks that raw (a decompressed payload) contains exactly h->records
 * well-formed records from h->first_ts to h->last_ts, in the layout of
 * major version `major`, and sets c up to deliver them. Returns 0, or -1
 * when the payload is malformed. */
int rp_trace_cursor_init(struct block_cursor *c, int major, const uint8_t *raw,
                         size_t len, const struct block_header *h);

/* Delivers the next record of a block that rp_trace_cursor_init
 * accepted. The caller checks c->left first. */
void rp_trace_cursor_next(struct block_cursor *c, rp_record *rec);

/* ---- index (trace.c) ---- */

/* Builds the index and trailer for entries, which end at index_offset.
 * Returns a malloc'd buffer of *len bytes, or NULL when out of memory. */
uint8_t *rp_trace_build_index(const struct index_entry *entries, size_t n,
                              uint64_t index_offset, size_t *len);

/* Builds the file header for meta into *out (malloc'd, *len bytes).
 * Returns 0, or RP_TRACE_EINVAL when a string is longer than a field
 * can store, or RP_TRACE_ENOMEM, with err naming path. */
int rp_trace_build_header(const rp_trace_meta *meta, uint8_t **out, size_t *len,
                          const char *path, char *err, size_t errlen);

/* ---- reader internals for repair (trace_read.c) ---- */

/* Loads the next valid block and returns its header and compressed
 * payload (valid until the next call), without delivering its records.
 * Damaged blocks are reported and counted as rp_trace_reader_next does. */
int rp_trace_reader_next_raw_block(rp_trace_reader *r, struct block_header *h,
                                   const uint8_t **payload, char *err, size_t errlen);

/* Copies the file header's bytes into *out (malloc'd), or sets *out to
 * NULL when the header is damaged. Returns -1 when reading fails. */
int rp_trace_reader_header_bytes(rp_trace_reader *r, uint8_t **out, size_t *len);

#endif
