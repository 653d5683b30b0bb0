/* Trace files: the writer and the streaming reader. docs/trace-format.md
 * specifies the layout; the constants below are its field widths. */
#include "formats/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

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
    FIELD_SAMPLE = 8
};

/* Sanity limits on lengths read from a file, so a corrupt length cannot
 * cause a huge allocation. */
#define MAX_HEADER_LEN     (16u << 20)
#define MAX_FIELD_LEN      65535u
#define MAX_INDEX_ENTRIES  (1u << 24)
#define MAX_COMPRESSED     ZSTD_COMPRESSBOUND(RP_TRACE_MAX_BLOCK_BYTES)

/* Bytes read per step when scanning for the next block magic. */
#define SCAN_WINDOW        (64u << 10)

struct index_entry {
    uint64_t offset;
    uint32_t records;
    uint64_t first_ts, last_ts;
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- little-endian integers and varints ---- */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
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
static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
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

/* ---- file I/O ---- */

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes at off. Returns 0, or -1 with errno set (EIO
 * for a short read, which callers rule out by checking the file size). */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Grows *buf to at least need bytes. */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? 2 * *cap : 4096;
    if (n < need)
        n = need;
    uint8_t *p = realloc(*buf, n);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* ---- block headers ---- */

struct block_header {
    uint32_t flags;
    uint32_t records;
    uint32_t comp_size;
    uint32_t raw_size;
    uint64_t first_ts, last_ts;
    uint64_t payload_sum;
};

static void encode_block_header(uint8_t *b, const struct block_header *h)
{
    memcpy(b, BLOCK_MAGIC, 4);
    put_le(b + 4, h->flags, 4);
    put_le(b + 8, h->records, 4);
    put_le(b + 12, h->comp_size, 4);
    put_le(b + 16, h->raw_size, 4);
    put_le(b + 20, 0, 4);
    put_le(b + 24, h->first_ts, 8);
    put_le(b + 32, h->last_ts, 8);
    put_le(b + 40, h->payload_sum, 8);
    put_le(b + 48, XXH64(b, 48, 0), 8);
}

/* Decodes a block header. Returns 0 when its magic and checksum match. */
static int decode_block_header(const uint8_t *b, struct block_header *h)
{
    if (memcmp(b, BLOCK_MAGIC, 4) != 0 || get_le(b + 48, 8) != XXH64(b, 48, 0))
        return -1;
    h->flags = (uint32_t)get_le(b + 4, 4);
    h->records = (uint32_t)get_le(b + 8, 4);
    h->comp_size = (uint32_t)get_le(b + 12, 4);
    h->raw_size = (uint32_t)get_le(b + 16, 4);
    h->first_ts = get_le(b + 24, 8);
    h->last_ts = get_le(b + 32, 8);
    h->payload_sum = get_le(b + 40, 8);
    return 0;
}

/* ---- records ---- */

/* Encoded size of rec's fields (without the leading record length), with
 * its timestamp stored as ts_delta. */
static uint64_t record_fields_len(const rp_record *rec, uint64_t ts_delta)
{
    uint64_t n = varint_len(ts_delta) + varint_len(rec->conn_id) +
                 varint_len(rec->flags) + varint_len(rec->http_major) +
                 varint_len(rec->http_minor);
    n += varint_len(rec->method_len) + (uint64_t)rec->method_len;
    n += varint_len(rec->target_len) + (uint64_t)rec->target_len;
    n += varint_len(rec->headers_len) + (uint64_t)rec->headers_len;
    n += varint_len(rec->body_len) + (uint64_t)rec->body_len;
    if (rec->flags & RP_REC_HAS_RESPONSE)
        n += varint_len(rec->resp_status) + varint_len(rec->resp_ttfb_ns) +
             varint_len(rec->resp_ttlb_ns) + varint_len(rec->resp_bytes);
    return n;
}

static uint8_t *put_bytes(uint8_t *p, const void *data, uint32_t len)
{
    p = put_varint(p, len);
    if (len > 0)
        memcpy(p, data, len);
    return p + len;
}

static uint8_t *encode_record(uint8_t *p, const rp_record *rec,
                              uint64_t ts_delta, uint64_t fields_len)
{
    p = put_varint(p, fields_len);
    p = put_varint(p, ts_delta);
    p = put_varint(p, rec->conn_id);
    p = put_varint(p, rec->flags);
    p = put_varint(p, rec->http_major);
    p = put_varint(p, rec->http_minor);
    p = put_bytes(p, rec->method, rec->method_len);
    p = put_bytes(p, rec->target, rec->target_len);
    p = put_bytes(p, rec->headers, rec->headers_len);
    p = put_bytes(p, rec->body, rec->body_len);
    if (rec->flags & RP_REC_HAS_RESPONSE) {
        p = put_varint(p, rec->resp_status);
        p = put_varint(p, rec->resp_ttfb_ns);
        p = put_varint(p, rec->resp_ttlb_ns);
        p = put_varint(p, rec->resp_bytes);
    }
    return p;
}

static int get_u32(const uint8_t **pp, const uint8_t *end, uint32_t max,
                   uint32_t *out)
{
    uint64_t v;
    if (get_varint(pp, end, &v) != 0 || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int get_bytes(const uint8_t **pp, const uint8_t *end,
                     const uint8_t **data, uint32_t *len)
{
    if (get_u32(pp, end, UINT32_MAX, len) != 0 || *len > (size_t)(end - *pp))
        return -1;
    *data = *pp;
    *pp += *len;
    return 0;
}

/* Decodes the record at *pp, whose timestamp is prev_ts plus its stored
 * delta, and advances *pp past it. Bytes after the known fields inside
 * the record's length belong to a newer minor version and are skipped.
 * Returns -1 on a malformed record. */
static int decode_record(const uint8_t **pp, const uint8_t *end,
                         uint64_t prev_ts, rp_record *rec)
{
    uint64_t len, delta, conn_id, v;
    const uint8_t *p = *pp;
    if (get_varint(&p, end, &len) != 0 || len > (uint64_t)(end - p))
        return -1;
    const uint8_t *rend = p + len;

    memset(rec, 0, sizeof *rec);
    uint32_t major, minor;
    if (get_varint(&p, rend, &delta) != 0 || delta > UINT64_MAX - prev_ts ||
        get_varint(&p, rend, &conn_id) != 0 ||
        get_u32(&p, rend, UINT32_MAX, &rec->flags) != 0 ||
        get_u32(&p, rend, 255, &major) != 0 ||
        get_u32(&p, rend, 255, &minor) != 0)
        return -1;
    rec->ts_ns = prev_ts + delta;
    rec->conn_id = conn_id;
    rec->http_major = (uint8_t)major;
    rec->http_minor = (uint8_t)minor;

    const uint8_t *method, *target, *headers;
    if (get_bytes(&p, rend, &method, &rec->method_len) != 0 ||
        get_bytes(&p, rend, &target, &rec->target_len) != 0 ||
        get_bytes(&p, rend, &headers, &rec->headers_len) != 0 ||
        get_bytes(&p, rend, &rec->body, &rec->body_len) != 0)
        return -1;
    rec->method = (const char *)method;
    rec->target = (const char *)target;
    rec->headers = (const char *)headers;

    if (rec->flags & RP_REC_HAS_RESPONSE) {
        uint32_t status;
        if (get_u32(&p, rend, 65535, &status) != 0 ||
            get_varint(&p, rend, &rec->resp_ttfb_ns) != 0 ||
            get_varint(&p, rend, &rec->resp_ttlb_ns) != 0 ||
            get_varint(&p, rend, &v) != 0)
            return -1;
        rec->resp_status = (uint16_t)status;
        rec->resp_bytes = v;
    }

    *pp = rend;
    return 0;
}

/* ---- writer ---- */

struct rp_trace_writer {
    int fd;
    char *path;
    ZSTD_CCtx *cctx;
    uint32_t block_records;
    uint32_t block_bytes;
    int failed;               /* a write failed: later calls are rejected */

    uint8_t *raw;             /* records of the block being filled */
    size_t raw_len, raw_cap;
    uint8_t *comp;
    size_t comp_cap;
    uint32_t count;
    uint64_t first_ts, last_ts;

    uint64_t prev_ts;         /* of the last record added, in any block */
    uint64_t offset;          /* file offset of the next byte written */

    struct index_entry *index;
    size_t n_index, cap_index;
};

static int writer_io_error(rp_trace_writer *w, char *err, size_t errlen,
                           const char *what)
{
    w->failed = 1;
    return fail(err, errlen, RP_TRACE_EIO, "cannot write %s %s: %s",
                w->path, what, strerror(errno));
}

static size_t add_field(uint8_t *p, uint16_t id, const void *data, uint32_t len)
{
    put_le(p, id, 2);
    put_le(p + 2, len, 4);
    memcpy(p + FIELD_HDR_LEN, data, len);
    return FIELD_HDR_LEN + len;
}

static int write_file_header(rp_trace_writer *w, const rp_trace_meta *meta,
                             char *err, size_t errlen)
{
    const char *strs[5] = { "", "", "", "", "" };
    uint64_t created = 0;
    uint32_t link_type = 0, snaplen = 0;
    if (meta != NULL) {
        strs[0] = meta->source ? meta->source : "";
        strs[1] = meta->filter ? meta->filter : "";
        strs[2] = meta->tool ? meta->tool : "";
        strs[3] = meta->redaction ? meta->redaction : "";
        strs[4] = meta->sample ? meta->sample : "";
        created = meta->created_ns;
        link_type = meta->link_type;
        snaplen = meta->snaplen;
    }
    if (created == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        created = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    }

    size_t total = FILE_MIN_LEN + 3 * (FIELD_HDR_LEN + 8);
    for (int i = 0; i < 5; i++) {
        if (strlen(strs[i]) > MAX_FIELD_LEN)
            return fail(err, errlen, RP_TRACE_EINVAL,
                        "cannot write %s: a metadata string is longer than %u bytes",
                        w->path, MAX_FIELD_LEN);
        total += FIELD_HDR_LEN + strlen(strs[i]);
    }
    uint8_t *h = malloc(total);
    if (h == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);

    static const uint16_t str_ids[5] = { FIELD_SOURCE, FIELD_FILTER, FIELD_TOOL,
                                         FIELD_REDACTION, FIELD_SAMPLE };
    uint8_t num[8];
    size_t n = FILE_FIXED_LEN;
    /* Redaction and sampling are written only when set. */
    for (int i = 0; i < 5; i++)
        if (i < 3 || strs[i][0] != '\0')
            n += add_field(h + n, str_ids[i], strs[i], (uint32_t)strlen(strs[i]));
    put_le(num, created, 8);
    n += add_field(h + n, FIELD_CREATED_NS, num, 8);
    put_le(num, link_type, 4);
    n += add_field(h + n, FIELD_LINK_TYPE, num, 4);
    put_le(num, snaplen, 4);
    n += add_field(h + n, FIELD_SNAPLEN, num, 4);
    n += 8;

    memcpy(h, RP_TRACE_MAGIC, 8);
    put_le(h + 8, RP_TRACE_VERSION_MAJOR, 2);
    put_le(h + 10, RP_TRACE_VERSION_MINOR, 2);
    put_le(h + 12, n, 4);
    put_le(h + n - 8, XXH64(h, n - 8, 0), 8);

    int rc = write_all(w->fd, h, n);
    free(h);
    if (rc != 0)
        return writer_io_error(w, err, errlen, "header");
    w->offset = n;
    return 0;
}

static int apply_opts(rp_trace_writer *w, const rp_trace_writer_opts *opts,
                      const char *path, char *err, size_t errlen)
{
    rp_trace_writer_opts o = { 0, 0, 0 };
    if (opts != NULL)
        o = *opts;
    int level = o.zstd_level ? o.zstd_level : RP_TRACE_DEFAULT_ZSTD_LEVEL;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "invalid zstd level %d for %s: use %d to %d",
                    level, path, ZSTD_minCLevel(), ZSTD_maxCLevel());
    if (o.block_records > RP_TRACE_MAX_BLOCK_RECORDS ||
        o.block_bytes > RP_TRACE_MAX_BLOCK_BYTES)
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "invalid block size for %s: at most %u records and %u bytes",
                    path, RP_TRACE_MAX_BLOCK_RECORDS, RP_TRACE_MAX_BLOCK_BYTES);
    w->block_records = o.block_records ? o.block_records : RP_TRACE_DEFAULT_BLOCK_RECORDS;
    w->block_bytes = o.block_bytes ? o.block_bytes : RP_TRACE_DEFAULT_BLOCK_BYTES;

    w->cctx = ZSTD_createCCtx();
    if (w->cctx == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", path);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    return 0;
}

static void writer_free(rp_trace_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    ZSTD_freeCCtx(w->cctx);
    free(w->raw);
    free(w->comp);
    free(w->index);
    free(w->path);
    free(w);
}

int rp_trace_writer_open(rp_trace_writer **out, const char *path,
                         const rp_trace_meta *meta,
                         const rp_trace_writer_opts *opts,
                         char *err, size_t errlen)
{
    *out = NULL;
    rp_trace_writer *w = calloc(1, sizeof *w);
    if (w == NULL || (w->path = strdup(path)) == NULL) {
        free(w);
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory opening %s", path);
    }
    w->fd = -1;
    int rc = apply_opts(w, opts, path, err, errlen);
    if (rc != 0) {
        writer_free(w);
        return rc;
    }

    /* fchmod because O_CREAT's mode does not apply to an existing file:
     * traces hold request headers, which may carry credentials. */
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->fd < 0 || fchmod(w->fd, 0600) != 0) {
        rc = fail(err, errlen, RP_TRACE_EIO, "cannot create %s: %s",
                  path, strerror(errno));
        writer_free(w);
        return rc;
    }

    rc = write_file_header(w, meta, err, errlen);
    if (rc != 0) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int append_index_entry(rp_trace_writer *w, uint64_t offset)
{
    if (w->n_index == w->cap_index) {
        size_t cap = w->cap_index ? 2 * w->cap_index : 64;
        struct index_entry *e = realloc(w->index, cap * sizeof *e);
        if (e == NULL)
            return -1;
        w->index = e;
        w->cap_index = cap;
    }
    w->index[w->n_index++] = (struct index_entry){
        offset, w->count, w->first_ts, w->last_ts
    };
    return 0;
}

/* Compresses and writes the block being filled, if it holds records. */
static int write_block(rp_trace_writer *w, char *err, size_t errlen)
{
    if (w->count == 0)
        return 0;
    if (reserve(&w->comp, &w->comp_cap, ZSTD_compressBound(w->raw_len)) != 0 ||
        append_index_entry(w, w->offset) != 0)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);

    size_t n = ZSTD_compress2(w->cctx, w->comp, w->comp_cap, w->raw, w->raw_len);
    if (ZSTD_isError(n)) {
        w->n_index--;
        w->failed = 1;
        return fail(err, errlen, RP_TRACE_EIO, "cannot compress a block of %s: %s",
                    w->path, ZSTD_getErrorName(n));
    }

    struct block_header h = {
        .records = w->count, .comp_size = (uint32_t)n,
        .raw_size = (uint32_t)w->raw_len, .first_ts = w->first_ts,
        .last_ts = w->last_ts, .payload_sum = XXH64(w->comp, n, 0)
    };
    uint8_t hb[BLOCK_HDR_LEN];
    encode_block_header(hb, &h);
    if (write_all(w->fd, hb, sizeof hb) != 0 || write_all(w->fd, w->comp, n) != 0)
        return writer_io_error(w, err, errlen, "block");

    w->offset += BLOCK_HDR_LEN + n;
    w->count = 0;
    w->raw_len = 0;
    return 0;
}

static int check_record(const rp_trace_writer *w, const rp_record *rec,
                        char *err, size_t errlen)
{
    if ((rec->method_len && rec->method == NULL) ||
        (rec->target_len && rec->target == NULL) ||
        (rec->headers_len && rec->headers == NULL) ||
        (rec->body_len && rec->body == NULL))
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "invalid record for %s: a field has a length but no data", w->path);
    if (rec->ts_ns < w->prev_ts)
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "record at ts_ns %" PRIu64 " for %s is earlier than the previous "
                    "one (%" PRIu64 "); records must be added in timestamp order",
                    rec->ts_ns, w->path, w->prev_ts);
    uint64_t size = record_fields_len(rec, UINT64_MAX) + 10;
    if (size > RP_TRACE_MAX_BLOCK_BYTES)
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "record at ts_ns %" PRIu64 " for %s is too large (%" PRIu64
                    " bytes encoded, limit %u)", rec->ts_ns, w->path, size,
                    RP_TRACE_MAX_BLOCK_BYTES);
    return 0;
}

int rp_trace_writer_add(rp_trace_writer *w, const rp_record *rec,
                        char *err, size_t errlen)
{
    if (w->failed)
        return fail(err, errlen, RP_TRACE_EIO,
                    "cannot write %s: an earlier write failed", w->path);
    int rc = check_record(w, rec, err, errlen);
    if (rc != 0)
        return rc;

    uint64_t delta = w->count ? rec->ts_ns - w->last_ts : 0;
    uint64_t fields = record_fields_len(rec, delta);
    if (w->count > 0 && w->raw_len + varint_len(fields) + fields > w->block_bytes) {
        if ((rc = write_block(w, err, errlen)) != 0)
            return rc;
        delta = 0;
        fields = record_fields_len(rec, 0);
    }

    size_t size = varint_len(fields) + fields;
    if (reserve(&w->raw, &w->raw_cap, w->raw_len + size) != 0)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);
    encode_record(w->raw + w->raw_len, rec, delta, fields);
    w->raw_len += size;
    if (w->count == 0)
        w->first_ts = rec->ts_ns;
    w->last_ts = rec->ts_ns;
    w->prev_ts = rec->ts_ns;
    w->count++;

    if (w->count >= w->block_records || w->raw_len >= w->block_bytes)
        return write_block(w, err, errlen);
    return 0;
}

int rp_trace_writer_flush(rp_trace_writer *w, char *err, size_t errlen)
{
    if (w->failed)
        return fail(err, errlen, RP_TRACE_EIO,
                    "cannot write %s: an earlier write failed", w->path);
    return write_block(w, err, errlen);
}

static int write_index(rp_trace_writer *w, char *err, size_t errlen)
{
    size_t index_len = INDEX_FIXED_LEN + w->n_index * INDEX_ENTRY_LEN + 8;
    uint8_t *b = malloc(index_len + TRAILER_LEN);
    if (b == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);

    memcpy(b, INDEX_MAGIC, 4);
    put_le(b + 4, INDEX_ENTRY_LEN, 4);
    put_le(b + 8, w->n_index, 8);
    for (size_t i = 0; i < w->n_index; i++) {
        uint8_t *e = b + INDEX_FIXED_LEN + i * INDEX_ENTRY_LEN;
        put_le(e, w->index[i].offset, 8);
        put_le(e + 8, w->index[i].records, 4);
        put_le(e + 12, 0, 4);
        put_le(e + 16, w->index[i].first_ts, 8);
        put_le(e + 24, w->index[i].last_ts, 8);
    }
    put_le(b + index_len - 8, XXH64(b, index_len - 8, 0), 8);

    uint8_t *t = b + index_len;
    put_le(t, w->offset, 8);
    put_le(t + 8, index_len, 8);
    memcpy(t + 16, TRAILER_MAGIC, 8);

    int rc = write_all(w->fd, b, index_len + TRAILER_LEN);
    free(b);
    if (rc != 0)
        return writer_io_error(w, err, errlen, "index");
    return 0;
}

int rp_trace_writer_close(rp_trace_writer *w, char *err, size_t errlen)
{
    if (w == NULL)
        return 0;
    int rc = w->failed ? fail(err, errlen, RP_TRACE_EIO,
                              "cannot finish %s: an earlier write failed", w->path)
                       : 0;
    if (rc == 0)
        rc = write_block(w, err, errlen);
    if (rc == 0)
        rc = write_index(w, err, errlen);

    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0 && rc == 0)
        rc = fail(err, errlen, RP_TRACE_EIO, "cannot close %s: %s",
                  w->path, strerror(errno));
    writer_free(w);
    return rc;
}

/* ---- reader ---- */

struct rp_trace_reader {
    int fd;
    char *path;
    rp_trace_info info;
    uint64_t data_start;      /* offset of the first block */
    uint64_t data_end;        /* end of the block region: index offset or
                                 file size */
    struct index_entry *index;  /* NULL when the file has no valid index */
    size_t n_index;
    ZSTD_DCtx *dctx;

    uint8_t *comp;
    size_t comp_cap;
    uint8_t *raw;
    size_t raw_cap;

    /* Position of the block being delivered. */
    const uint8_t *cur, *cur_end;
    uint32_t cur_left;
    uint64_t cur_ts;

    /* Position of the next block: an index entry when the file has a
     * valid index, else a file offset. */
    size_t next_entry;
    uint64_t next_pos;
    int have_last;
    uint64_t last_ts;         /* last ts_ns of the last block delivered */

    uint64_t good_blocks, bad_blocks, lost_records;
};

static void copy_field(char *dst, size_t cap, const uint8_t *src, uint32_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Fills info from the header fields in [p, end). Unknown ids, and known
 * ids with an unexpected length, are skipped: a newer minor version may
 * add them. Returns -1 when a field runs past the end. */
static int parse_fields(rp_trace_info *info, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        if ((size_t)(end - p) < FIELD_HDR_LEN)
            return -1;
        uint16_t id = (uint16_t)get_le(p, 2);
        uint64_t len = get_le(p + 2, 4);
        p += FIELD_HDR_LEN;
        if (len > (uint64_t)(end - p))
            return -1;

        uint32_t n = (uint32_t)len;
        if (id == FIELD_SOURCE)
            copy_field(info->source, sizeof info->source, p, n);
        else if (id == FIELD_FILTER)
            copy_field(info->filter, sizeof info->filter, p, n);
        else if (id == FIELD_TOOL)
            copy_field(info->tool, sizeof info->tool, p, n);
        else if (id == FIELD_CREATED_NS && n == 8)
            info->created_ns = get_le(p, 8);
        else if (id == FIELD_LINK_TYPE && n == 4)
            info->link_type = (uint32_t)get_le(p, 4);
        else if (id == FIELD_SNAPLEN && n == 4)
            info->snaplen = (uint32_t)get_le(p, 4);
        else if (id == FIELD_REDACTION)
            copy_field(info->redaction, sizeof info->redaction, p, n);
        else if (id == FIELD_SAMPLE)
            copy_field(info->sample, sizeof info->sample, p, n);
        p += n;
    }
    return 0;
}

static const char not_a_trace_fix[] =
    "capture one with 'reprise capture -r FILE.pcap -w FILE.rpz'";

/* Checks the magic and version, then reads and verifies the header. A
 * header whose checksum does not match, or whose length is invalid, sets
 * info.header_damaged and leaves data_start at 0 for the caller to find
 * the first block. *past_end is set when the length exceeds the file. */
static int read_file_header(rp_trace_reader *r, uint64_t size, int *past_end,
                            char *err, size_t errlen)
{
    uint8_t fixed[FILE_FIXED_LEN];
    size_t got = size < FILE_FIXED_LEN ? (size_t)size : FILE_FIXED_LEN;
    if (size == 0)
        return fail(err, errlen, RP_TRACE_EFORMAT,
                    "%s is empty, not a reprise trace; %s", r->path, not_a_trace_fix);
    if (read_at(r->fd, fixed, got, 0) != 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot read %s: %s", r->path, strerror(errno));
    if (got < 8 || memcmp(fixed, RP_TRACE_MAGIC, 8) != 0)
        return fail(err, errlen, RP_TRACE_EFORMAT,
                    "%s is not a reprise trace (bad magic); %s", r->path, not_a_trace_fix);
    if (got < FILE_FIXED_LEN)
        return fail(err, errlen, RP_TRACE_ECORRUPT,
                    "%s is truncated: it ends inside the trace header, at byte %" PRIu64,
                    r->path, size);

    r->info.version_major = (uint16_t)get_le(fixed + 8, 2);
    r->info.version_minor = (uint16_t)get_le(fixed + 10, 2);
    if (r->info.version_major > RP_TRACE_VERSION_MAJOR)
        return fail(err, errlen, RP_TRACE_EFORMAT,
                    "%s was written by a newer reprise (format %u.%u); this reprise "
                    "reads format %d.x", r->path, r->info.version_major,
                    r->info.version_minor, RP_TRACE_VERSION_MAJOR);
    if (r->info.version_major != RP_TRACE_VERSION_MAJOR)
        return fail(err, errlen, RP_TRACE_EFORMAT,
                    "%s is in trace format %u.%u, which this reprise no longer reads "
                    "(it reads format %d.x)", r->path, r->info.version_major,
                    r->info.version_minor, RP_TRACE_VERSION_MAJOR);

    uint64_t hlen = get_le(fixed + 12, 4);
    *past_end = hlen > size;
    if (hlen < FILE_MIN_LEN || hlen > MAX_HEADER_LEN || hlen > size) {
        r->info.header_damaged = 1;
        return 0;
    }

    uint8_t *h = malloc(hlen);
    if (h == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory reading %s", r->path);
    if (read_at(r->fd, h, hlen, 0) != 0) {
        free(h);
        return fail(err, errlen, RP_TRACE_EIO, "cannot read %s: %s", r->path, strerror(errno));
    }
    if (get_le(h + hlen - 8, 8) != XXH64(h, hlen - 8, 0) ||
        parse_fields(&r->info, h + FILE_FIXED_LEN, h + hlen - 8) != 0) {
        memset(r->info.source, 0, sizeof r->info.source);
        memset(r->info.filter, 0, sizeof r->info.filter);
        memset(r->info.tool, 0, sizeof r->info.tool);
        r->info.created_ns = 0;
        r->info.link_type = 0;
        r->info.snaplen = 0;
        r->info.header_damaged = 1;
    } else {
        r->data_start = hlen;
    }
    free(h);
    return 0;
}

/* Decodes and checks the index entries in b (count entries of entry_size
 * bytes). Returns -1 when any entry is inconsistent. */
static int parse_index(rp_trace_reader *r, const uint8_t *b, uint64_t count,
                       uint32_t entry_size, uint64_t min_offset, uint64_t index_offset)
{
    r->index = malloc((count ? count : 1) * sizeof *r->index);
    if (r->index == NULL)
        return -1;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *e = b + i * entry_size;
        struct index_entry x = {
            get_le(e, 8), (uint32_t)get_le(e + 8, 4), get_le(e + 16, 8), get_le(e + 24, 8)
        };
        uint64_t floor = i ? r->index[i - 1].offset + BLOCK_HDR_LEN : min_offset;
        if (x.offset < floor || x.offset > index_offset ||
            index_offset - x.offset < BLOCK_HDR_LEN ||
            x.records == 0 || x.first_ts > x.last_ts ||
            (i > 0 && x.first_ts < r->index[i - 1].last_ts))
            return -1;
        r->index[i] = x;
    }
    r->n_index = (size_t)count;
    return 0;
}

/* Loads the index through the trailer when the file has both and they
 * check out. Sets data_end; flags a present but invalid index. */
static int load_index(rp_trace_reader *r, uint64_t size, char *err, size_t errlen)
{
    uint64_t min_offset = r->data_start ? r->data_start : FILE_FIXED_LEN;
    r->data_end = size;
    uint8_t t[TRAILER_LEN];
    if (size < min_offset + INDEX_FIXED_LEN + 8 + TRAILER_LEN)
        return 0;
    if (read_at(r->fd, t, TRAILER_LEN, size - TRAILER_LEN) != 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot read %s: %s", r->path, strerror(errno));
    if (memcmp(t + 16, TRAILER_MAGIC, 8) != 0)
        return 0;

    uint64_t off = get_le(t, 8), len = get_le(t + 8, 8);
    r->info.index_damaged = 1;
    if (off < min_offset || len < INDEX_FIXED_LEN + 8 ||
        len > (uint64_t)MAX_INDEX_ENTRIES * 64 || off + len != size - TRAILER_LEN)
        return 0;
    r->data_end = off;

    uint8_t *b = malloc(len);
    if (b == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory reading %s", r->path);
    if (read_at(r->fd, b, len, off) != 0) {
        free(b);
        return fail(err, errlen, RP_TRACE_EIO, "cannot read %s: %s", r->path, strerror(errno));
    }
    uint32_t entry_size = (uint32_t)get_le(b + 4, 4);
    uint64_t count = get_le(b + 8, 8);
    int ok = memcmp(b, INDEX_MAGIC, 4) == 0 && get_le(b + len - 8, 8) == XXH64(b, len - 8, 0) &&
             entry_size >= INDEX_ENTRY_LEN && entry_size <= 64 &&
             count <= MAX_INDEX_ENTRIES &&
             count * entry_size == len - INDEX_FIXED_LEN - 8 &&
             parse_index(r, b + INDEX_FIXED_LEN, count, entry_size, min_offset, off) == 0;
    free(b);
    if (!ok) {
        free(r->index);
        r->index = NULL;
        r->n_index = 0;
        return 0;
    }
    r->info.index_damaged = 0;
    return 0;
}

/* Returns 0 when a block header with a matching checksum starts at pos. */
static int block_header_at(rp_trace_reader *r, uint64_t pos, struct block_header *h)
{
    uint8_t b[BLOCK_HDR_LEN];
    if (pos > r->data_end || r->data_end - pos < BLOCK_HDR_LEN ||
        read_at(r->fd, b, sizeof b, pos) != 0)
        return -1;
    return decode_block_header(b, h);
}

/* Returns the offset of the first valid block header at or after from, or
 * data_end when there is none. */
static uint64_t scan_for_block(rp_trace_reader *r, uint64_t from)
{
    uint8_t *win = malloc(SCAN_WINDOW);
    if (win == NULL)
        return r->data_end;
    uint64_t pos = from;
    while (pos + 4 <= r->data_end) {
        uint64_t left = r->data_end - pos;
        size_t n = left < SCAN_WINDOW ? (size_t)left : SCAN_WINDOW;
        if (read_at(r->fd, win, n, pos) != 0)
            break;
        const uint8_t *p = win;
        while ((p = memmem(p, n - (size_t)(p - win), BLOCK_MAGIC, 4)) != NULL) {
            struct block_header h;
            uint64_t at = pos + (uint64_t)(p - win);
            if (block_header_at(r, at, &h) == 0) {
                free(win);
                return at;
            }
            p++;
        }
        if (n < SCAN_WINDOW)
            break;
        pos += n - 3;   /* overlap so a magic across windows is found */
    }
    free(win);
    return r->data_end;
}

static void summarize_index(rp_trace_reader *r)
{
    r->info.has_index = r->index != NULL;
    r->info.blocks = r->n_index;
    for (size_t i = 0; i < r->n_index; i++)
        r->info.records += r->index[i].records;
    if (r->n_index > 0) {
        r->info.first_ts_ns = r->index[0].first_ts;
        r->info.last_ts_ns = r->index[r->n_index - 1].last_ts;
    }
}

/* Finds the first block of a file whose header is damaged: the index's
 * first entry, else the offset the header length gives if a valid block
 * starts there, else the first valid block header found by scanning. */
static void locate_first_block(rp_trace_reader *r)
{
    struct block_header h;
    uint8_t fixed[FILE_FIXED_LEN];
    if (r->index != NULL) {
        r->data_start = r->n_index ? r->index[0].offset : r->data_end;
        return;
    }
    if (read_at(r->fd, fixed, sizeof fixed, 0) == 0) {
        uint64_t hlen = get_le(fixed + 12, 4);
        if (hlen >= FILE_MIN_LEN && block_header_at(r, hlen, &h) == 0) {
            r->data_start = hlen;
            return;
        }
    }
    r->data_start = scan_for_block(r, FILE_FIXED_LEN);
}

void rp_trace_reader_close(rp_trace_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->comp);
    free(r->raw);
    free(r->index);
    free(r->path);
    free(r);
}

static int reader_setup(rp_trace_reader *r, char *err, size_t errlen)
{
    struct stat st;
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot open %s: %s",
                    r->path, strerror(errno));
    if (fstat(r->fd, &st) != 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot read %s: %s",
                    r->path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(err, errlen, RP_TRACE_EFORMAT,
                    "%s is not a regular file, so not a reprise trace; %s",
                    r->path, not_a_trace_fix);
    uint64_t size = (uint64_t)st.st_size;
    r->info.file_bytes = size;

    int past_end = 0;
    int rc = read_file_header(r, size, &past_end, err, errlen);
    if (rc == 0)
        rc = load_index(r, size, err, errlen);
    if (rc != 0)
        return rc;
    if (r->info.header_damaged)
        locate_first_block(r);

    /* A header length beyond the end, and no block anywhere: most likely
     * the file was cut inside its header. */
    if (past_end && r->index == NULL && r->data_start >= r->data_end)
        return fail(err, errlen, RP_TRACE_ECORRUPT,
                    "%s is truncated: it ends at byte %" PRIu64 ", inside the "
                    "trace header", r->path, size);
    summarize_index(r);

    r->dctx = ZSTD_createDCtx();
    if (r->dctx == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory reading %s", r->path);
    r->next_pos = r->data_start;
    return 0;
}

int rp_trace_reader_open(rp_trace_reader **out, const char *path,
                         char *err, size_t errlen)
{
    *out = NULL;
    rp_trace_reader *r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory opening %s", path);
    }
    r->fd = -1;
    int rc = reader_setup(r, err, errlen);
    if (rc != 0) {
        rp_trace_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

const rp_trace_info *rp_trace_reader_info(const rp_trace_reader *r)
{
    return &r->info;
}

/* Decodes every record of the block in raw once, so that a damaged block
 * is rejected before any of its records is delivered. */
static int check_records(const uint8_t *raw, size_t len, const struct block_header *h)
{
    const uint8_t *p = raw, *end = raw + len;
    uint64_t ts = h->first_ts;
    rp_record rec;
    for (uint32_t i = 0; i < h->records; i++) {
        if (decode_record(&p, end, ts, &rec) != 0)
            return -1;
        if (i == 0 && rec.ts_ns != h->first_ts)
            return -1;
        ts = rec.ts_ns;
    }
    return p == end && ts == h->last_ts ? 0 : -1;
}

/* Checks what the header declares against the limits, the index entry
 * (when reading through the index) and the records already delivered. */
static const char *check_block_header(const rp_trace_reader *r, const struct block_header *h,
                                      const struct index_entry *e)
{
    if (h->records == 0 || h->records > RP_TRACE_MAX_BLOCK_RECORDS ||
        h->raw_size > RP_TRACE_MAX_BLOCK_BYTES || h->records > h->raw_size ||
        h->comp_size == 0 || h->comp_size > MAX_COMPRESSED || h->first_ts > h->last_ts)
        return "its header declares invalid sizes or timestamps";
    if (e != NULL && (e->records != h->records || e->first_ts != h->first_ts ||
                      e->last_ts != h->last_ts))
        return "its header does not match the index";
    if (r->have_last && h->first_ts < r->last_ts)
        return "its records are earlier than those of the previous block";
    return NULL;
}

/* Reads, verifies and decompresses the payload of the block at pos. */
static const char *load_payload(rp_trace_reader *r, uint64_t pos,
                                const struct block_header *h, int *io_error)
{
    if (reserve(&r->comp, &r->comp_cap, h->comp_size) != 0 ||
        reserve(&r->raw, &r->raw_cap, h->raw_size ? h->raw_size : 1) != 0)
        return "out of memory for it";
    if (read_at(r->fd, r->comp, h->comp_size, pos + BLOCK_HDR_LEN) != 0) {
        *io_error = errno;
        return "reading it failed";
    }
    if (XXH64(r->comp, h->comp_size, 0) != h->payload_sum)
        return "its payload checksum does not match";
    if (ZSTD_findFrameCompressedSize(r->comp, h->comp_size) != h->comp_size)
        return "its payload is not one zstd frame of the declared size";
    size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, r->raw_cap, r->comp, h->comp_size);
    if (ZSTD_isError(n) || n != h->raw_size)
        return "its payload does not decompress to the declared size";
    if (check_records(r->raw, n, h) != 0)
        return "its records are malformed";
    return NULL;
}

/* Reports the block at pos as damaged: counts it and fills err. */
static int block_damaged(rp_trace_reader *r, uint64_t pos, uint64_t lost,
                         const char *why, char *err, size_t errlen)
{
    r->bad_blocks++;
    r->lost_records += lost;
    char count[48] = "";
    if (lost > 0)
        snprintf(count, sizeof count, " (%" PRIu64 " record%s lost)", lost,
                 lost == 1 ? "" : "s");
    return fail(err, errlen, RP_TRACE_ECORRUPT, "%s: damaged block at byte %" PRIu64
                "%s: %s", r->path, pos, count, why);
}

/* Loads the block at pos, e its index entry or NULL. On success the
 * block's records are ready; *next is where the following block starts,
 * or 0 when the header is unreadable and the caller must find it. */
static int load_block(rp_trace_reader *r, uint64_t pos, const struct index_entry *e,
                      uint64_t *next, char *err, size_t errlen)
{
    struct block_header h;
    uint64_t lost = e ? e->records : 0;
    *next = 0;
    if (block_header_at(r, pos, &h) != 0)
        return block_damaged(r, pos, lost, "its header is invalid (bad magic or checksum)",
                             err, errlen);

    *next = pos + BLOCK_HDR_LEN + h.comp_size;
    const char *why = check_block_header(r, &h, e);
    if (why != NULL)
        return block_damaged(r, pos, lost ? lost : h.records, why, err, errlen);
    if (*next > r->data_end) {
        *next = r->data_end;
        r->bad_blocks++;
        r->lost_records += h.records;
        return fail(err, errlen, RP_TRACE_ECORRUPT,
                    "%s is truncated: the block at byte %" PRIu64 " needs %" PRIu64
                    " bytes but the file ends after %" PRIu64 " (%u record%s lost; "
                    "the writer was probably interrupted)", r->path, pos,
                    (uint64_t)BLOCK_HDR_LEN + h.comp_size, r->data_end - pos, h.records,
                    h.records == 1 ? "" : "s");
    }

    int io_error = 0;
    why = load_payload(r, pos, &h, &io_error);
    if (io_error)
        return fail(err, errlen, RP_TRACE_EIO, "cannot read %s at byte %" PRIu64 ": %s",
                    r->path, pos, strerror(io_error));
    if (why != NULL)
        return block_damaged(r, pos, h.records, why, err, errlen);

    r->cur = r->raw;
    r->cur_end = r->raw + h.raw_size;
    r->cur_left = h.records;
    r->cur_ts = h.first_ts;
    r->have_last = 1;
    r->last_ts = h.last_ts;
    r->good_blocks++;
    return 0;
}

/* Reads the next block in file order, for a file without a valid index. */
static int next_block_sequential(rp_trace_reader *r, char *err, size_t errlen)
{
    uint64_t pos = r->next_pos;
    uint8_t magic[4];
    if (pos >= r->data_end)
        return RP_TRACE_EOF;
    uint64_t left = r->data_end - pos;

    /* An index without a valid trailer: the writer stopped while closing.
     * Fewer than 4 bytes count as its start only when they cannot be the
     * start of a block. */
    size_t m = left < 4 ? (size_t)left : 4;
    if (read_at(r->fd, magic, m, pos) == 0 && memcmp(magic, INDEX_MAGIC, m) == 0 &&
        (m == 4 || memcmp(magic, BLOCK_MAGIC, m) != 0)) {
        r->next_pos = r->data_end;
        return RP_TRACE_EOF;
    }
    if (left < BLOCK_HDR_LEN) {
        r->next_pos = r->data_end;
        r->bad_blocks++;
        return fail(err, errlen, RP_TRACE_ECORRUPT,
                    "%s is truncated: it ends %" PRIu64 " bytes into the block header "
                    "at byte %" PRIu64 " (the writer was probably interrupted)",
                    r->path, left, pos);
    }

    uint64_t next;
    int rc = load_block(r, pos, NULL, &next, err, errlen);
    if (rc != RP_TRACE_ECORRUPT || next != 0) {
        r->next_pos = next;
        return rc;
    }

    r->next_pos = scan_for_block(r, pos + 1);
    size_t used = err ? strlen(err) : 0;
    if (err != NULL && used < errlen) {
        if (r->next_pos < r->data_end)
            snprintf(err + used, errlen - used, "; skipped %" PRIu64
                     " bytes to the next block", r->next_pos - pos);
        else
            snprintf(err + used, errlen - used, "; no valid block after it");
    }
    return rc;
}

static int next_block(rp_trace_reader *r, char *err, size_t errlen)
{
    if (r->index == NULL)
        return next_block_sequential(r, err, errlen);
    if (r->next_entry == r->n_index)
        return RP_TRACE_EOF;
    const struct index_entry *e = &r->index[r->next_entry++];
    uint64_t next;
    return load_block(r, e->offset, e, &next, err, errlen);
}

int rp_trace_reader_next(rp_trace_reader *r, rp_record *rec,
                         char *err, size_t errlen)
{
    while (r->cur_left == 0) {
        int rc = next_block(r, err, errlen);
        if (rc != 0)
            return rc;
    }

    /* check_records accepted this block, so decoding cannot fail here. */
    decode_record(&r->cur, r->cur_end, r->cur_ts, rec);
    r->cur_ts = rec->ts_ns;
    r->cur_left--;
    return 0;
}

uint64_t rp_trace_reader_bad_blocks(const rp_trace_reader *r)
{
    return r->bad_blocks;
}

uint64_t rp_trace_reader_lost_records(const rp_trace_reader *r)
{
    return r->lost_records;
}

uint64_t rp_trace_reader_good_blocks(const rp_trace_reader *r)
{
    return r->good_blocks;
}

int rp_trace_reader_rewind(rp_trace_reader *r, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    r->cur_left = 0;
    r->next_entry = 0;
    r->next_pos = r->data_start;
    r->have_last = 0;
    r->good_blocks = r->bad_blocks = r->lost_records = 0;
    return 0;
}
