/* Block headers and block payloads: the column layout of format 1 and
 * the row layout of format 0, which 1.x readers still read. See the
 * "Blocks" and "Records" sections of docs/trace-format.md. */
#include "formats/trace_impl.h"

#include <stdlib.h>

#include <xxhash.h>

int rp_trace_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int rp_trace_buf_reserve(struct byte_buf *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t n = b->cap ? 2 * b->cap : 4096;
    if (n < need)
        n = need;
    uint8_t *p = realloc(b->p, n);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = n;
    return 0;
}

/* ---- block headers ---- */

void rp_trace_encode_block_header(uint8_t *b, const struct block_header *h)
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

int rp_trace_decode_block_header(const uint8_t *b, struct block_header *h)
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

/* ---- building a format 1 block ---- */

/* Per record: the field bytes and at most 82 bytes of varints. The
 * rounding up to 130 also covers the payload preamble (at most 67 bytes)
 * once a block holds two records; a lone record is checked exactly by
 * rp_trace_single_block_size. */
uint64_t rp_trace_row_bound(const rp_record *rec)
{
    return 130 + (uint64_t)rec->method_len + rec->target_len + rec->headers_len +
           rec->body_len;
}

uint64_t rp_trace_single_block_size(const rp_record *rec)
{
    int resp = (rec->flags & RP_REC_HAS_RESPONSE) != 0;
    uint64_t col[COL_COUNT] = {
        [COL_TS] = 1,
        [COL_CONN] = varint_len(rec->conn_id),
        [COL_FLAGS] = varint_len(rec->flags),
        [COL_VERSION] = varint_len(rec->http_major) + varint_len(rec->http_minor),
        [COL_LENGTHS] = varint_len(rec->method_len) + varint_len(rec->target_len) +
                        varint_len(rec->headers_len) + varint_len(rec->body_len),
        [COL_METHOD] = rec->method_len, [COL_TARGET] = rec->target_len,
        [COL_HEADERS] = rec->headers_len, [COL_BODY] = rec->body_len,
        [COL_STATUS] = resp ? varint_len(rec->resp_status) : 0,
        [COL_TTFB] = resp ? varint_len(rec->resp_ttfb_ns) : 0,
        [COL_TTLB] = resp ? varint_len(zigzag_encode((int64_t)(rec->resp_ttlb_ns -
                                                               rec->resp_ttfb_ns))) : 0,
        [COL_RESP_BYTES] = resp ? varint_len(rec->resp_bytes) : 0,
    };
    uint64_t n = 2;     /* time exponent and column count */
    for (int k = 0; k < COL_COUNT; k++)
        n += varint_len(col[k]) + col[k];
    return n;
}

static int append_bytes(struct byte_buf *b, const void *data, uint32_t len)
{
    if (len == 0)
        return 0;
    if (rp_trace_buf_reserve(b, b->len + len) != 0)
        return -1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

int rp_trace_builder_add(struct block_builder *b, const rp_record *rec)
{
    if (b->n_rows == b->cap_rows) {
        size_t cap = b->cap_rows ? 2 * b->cap_rows : 256;
        struct block_row *rows = realloc(b->rows, cap * sizeof *rows);
        if (rows == NULL)
            return -1;
        b->rows = rows;
        b->cap_rows = cap;
    }
    if (append_bytes(&b->bytes[0], rec->method, rec->method_len) != 0 ||
        append_bytes(&b->bytes[1], rec->target, rec->target_len) != 0 ||
        append_bytes(&b->bytes[2], rec->headers, rec->headers_len) != 0 ||
        append_bytes(&b->bytes[3], rec->body, rec->body_len) != 0)
        return -1;

    int resp = (rec->flags & RP_REC_HAS_RESPONSE) != 0;
    b->rows[b->n_rows++] = (struct block_row){
        .ts_ns = rec->ts_ns, .conn_id = rec->conn_id,
        .resp_ttfb_ns = resp ? rec->resp_ttfb_ns : 0,
        .resp_ttlb_ns = resp ? rec->resp_ttlb_ns : 0,
        .resp_bytes = resp ? rec->resp_bytes : 0,
        .flags = rec->flags, .method_len = rec->method_len,
        .target_len = rec->target_len, .headers_len = rec->headers_len,
        .body_len = rec->body_len, .resp_status = resp ? rec->resp_status : 0,
        .http_major = rec->http_major, .http_minor = rec->http_minor,
    };
    b->raw_bound += rp_trace_row_bound(rec);
    return 0;
}

void rp_trace_builder_reset(struct block_builder *b)
{
    b->n_rows = 0;
    for (int i = 0; i < 4; i++)
        b->bytes[i].len = 0;
    b->varints.len = 0;
    b->raw_bound = 0;
}

void rp_trace_builder_free(struct block_builder *b)
{
    free(b->rows);
    for (int i = 0; i < 4; i++)
        free(b->bytes[i].p);
    free(b->varints.p);
    memset(b, 0, sizeof *b);
}

static uint64_t abs_diff(uint64_t ttlb, uint64_t ttfb)
{
    int64_t d = (int64_t)(ttlb - ttfb);
    return d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
}

/* Returns the largest e such that 10^e divides every time value the block
 * stores: the gaps between timestamps, each ttfb, and each ttlb - ttfb.
 * Captures from pcap files have microsecond timestamps, so dividing by
 * the unit saves about a byte per value. */
static int time_exponent(const struct block_builder *b)
{
    uint64_t unit = 1000000000u;
    int e = MAX_TIME_EXPONENT;
    for (size_t i = 0; i < b->n_rows && e > 0; i++) {
        const struct block_row *r = &b->rows[i];
        uint64_t v[3] = { i ? r->ts_ns - b->rows[i - 1].ts_ns : 0, r->resp_ttfb_ns,
                          abs_diff(r->resp_ttlb_ns, r->resp_ttfb_ns) };
        for (int k = 0; k < 3; k++) {
            while (e > 0 && v[k] % unit != 0) {
                unit /= 10;
                e--;
            }
        }
    }
    return e;
}

/* Encodes the varint columns, one after the other, into b->varints and
 * their lengths into len[]. */
static int encode_varint_columns(struct block_builder *b, uint64_t unit,
                                 size_t len[COL_COUNT])
{
    /* A row takes at most 13 varints of 10 bytes. */
    if (rp_trace_buf_reserve(&b->varints, b->n_rows * 130 + 1) != 0)
        return -1;
    static const int order[] = { COL_TS, COL_CONN, COL_FLAGS, COL_VERSION, COL_LENGTHS,
                                 COL_STATUS, COL_TTFB, COL_TTLB, COL_RESP_BYTES };
    uint8_t *p = b->varints.p;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        uint8_t *start = p;
        for (size_t i = 0; i < b->n_rows; i++) {
            const struct block_row *r = &b->rows[i];
            int resp = (r->flags & RP_REC_HAS_RESPONSE) != 0;
            switch (order[k]) {
            case COL_TS:
                p = put_varint(p, (i ? r->ts_ns - b->rows[i - 1].ts_ns : 0) / unit);
                break;
            case COL_CONN:
                p = put_varint(p, r->conn_id);
                break;
            case COL_FLAGS:
                p = put_varint(p, r->flags);
                break;
            case COL_VERSION:
                p = put_varint(p, r->http_major);
                p = put_varint(p, r->http_minor);
                break;
            case COL_LENGTHS:
                p = put_varint(p, r->method_len);
                p = put_varint(p, r->target_len);
                p = put_varint(p, r->headers_len);
                p = put_varint(p, r->body_len);
                break;
            case COL_STATUS:
                if (resp)
                    p = put_varint(p, r->resp_status);
                break;
            case COL_TTFB:
                if (resp)
                    p = put_varint(p, r->resp_ttfb_ns / unit);
                break;
            case COL_TTLB:
                if (resp)
                    p = put_varint(p, zigzag_encode((int64_t)(r->resp_ttlb_ns -
                                                              r->resp_ttfb_ns) / (int64_t)unit));
                break;
            case COL_RESP_BYTES:
                if (resp)
                    p = put_varint(p, r->resp_bytes);
                break;
            }
        }
        len[order[k]] = (size_t)(p - start);
    }
    b->varints.len = (size_t)(p - b->varints.p);
    return 0;
}

/* Feeds one piece of the payload to the streaming compressor. */
static int compress_piece(ZSTD_CCtx *cctx, struct byte_buf *out, const void *src,
                          size_t len, ZSTD_EndDirective mode, size_t *err_code)
{
    ZSTD_inBuffer in = { src, len, 0 };
    for (;;) {
        if (out->cap - out->len < ZSTD_CStreamOutSize() &&
            rp_trace_buf_reserve(out, out->len + ZSTD_CStreamOutSize()) != 0)
            return -1;
        ZSTD_outBuffer o = { out->p, out->cap, out->len };
        size_t left = ZSTD_compressStream2(cctx, &o, &in, mode);
        out->len = o.pos;
        if (ZSTD_isError(left)) {
            *err_code = left;
            return -1;
        }
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

/* The payload is: varint time exponent, varint column count, one varint
 * length per column, then the columns. It is compressed as it is
 * assembled, so the byte columns are not copied. */
size_t rp_trace_builder_compress(struct block_builder *b, ZSTD_CCtx *cctx,
                                 struct byte_buf *out, size_t *comp_len,
                                 char *err, size_t errlen)
{
    int e = time_exponent(b);
    uint64_t unit = 1;
    for (int i = 0; i < e; i++)
        unit *= 10;
    size_t len[COL_COUNT];
    if (encode_varint_columns(b, unit, len) != 0)
        return (size_t)rp_trace_fail(err, errlen, 0, "out of memory compressing a block");
    len[COL_METHOD] = b->bytes[0].len;
    len[COL_TARGET] = b->bytes[1].len;
    len[COL_HEADERS] = b->bytes[2].len;
    len[COL_BODY] = b->bytes[3].len;

    uint8_t pre[2 + 10 * COL_COUNT], *p = pre;
    p = put_varint(p, (uint64_t)e);
    p = put_varint(p, COL_COUNT);
    size_t raw = 0;
    for (int k = 0; k < COL_COUNT; k++) {
        p = put_varint(p, len[k]);
        raw += len[k];
    }
    raw += (size_t)(p - pre);

    /* The varint columns are stored in column order around the byte
     * columns: TS..LENGTHS, then METHOD..BODY, then STATUS..RESP_BYTES. */
    size_t head = len[COL_TS] + len[COL_CONN] + len[COL_FLAGS] + len[COL_VERSION] +
                  len[COL_LENGTHS];
    size_t code = 0;
    out->len = 0;
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    ZSTD_CCtx_setPledgedSrcSize(cctx, raw);
    int rc = compress_piece(cctx, out, pre, (size_t)(p - pre), ZSTD_e_continue, &code);
    if (rc == 0)
        rc = compress_piece(cctx, out, b->varints.p, head, ZSTD_e_continue, &code);
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = compress_piece(cctx, out, b->bytes[i].p, b->bytes[i].len, ZSTD_e_continue, &code);
    if (rc == 0)
        rc = compress_piece(cctx, out, b->varints.p + head, b->varints.len - head,
                            ZSTD_e_end, &code);
    if (rc != 0)
        return (size_t)rp_trace_fail(err, errlen, 0, "cannot compress a block: %s",
                                     code ? ZSTD_getErrorName(code) : "out of memory");
    *comp_len = out->len;
    return raw;
}

/* ---- decoding ---- */

static int get_u32(const uint8_t **pp, const uint8_t *end, uint32_t max, uint32_t *out)
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

/* Decodes the format 0 record at *pp, whose timestamp is prev_ts plus its
 * stored delta, and advances *pp past it. Bytes after the known fields
 * inside the record's length belong to a newer minor version and are
 * skipped. Returns -1 on a malformed record. */
static int decode_row(const uint8_t **pp, const uint8_t *end, uint64_t prev_ts,
                      rp_record *rec)
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

static int check_rows(struct block_cursor *c, const struct block_header *h)
{
    const uint8_t *p = c->row;
    uint64_t ts = h->first_ts;
    rp_record rec;
    for (uint32_t i = 0; i < h->records; i++) {
        if (decode_row(&p, c->row_end, ts, &rec) != 0)
            return -1;
        if (i == 0 && rec.ts_ns != h->first_ts)
            return -1;
        ts = rec.ts_ns;
    }
    return p == c->row_end && ts == h->last_ts ? 0 : -1;
}

/* Reads the preamble and points each column cursor at its bytes. */
static int locate_columns(struct block_cursor *c, const uint8_t *raw, size_t len)
{
    const uint8_t *p = raw, *end = raw + len;
    uint64_t e, ncols;
    if (get_varint(&p, end, &e) != 0 || e > MAX_TIME_EXPONENT ||
        get_varint(&p, end, &ncols) != 0 || ncols < COL_COUNT || ncols > 1024)
        return -1;
    c->unit = 1;
    for (uint64_t i = 0; i < e; i++)
        c->unit *= 10;

    uint64_t lens[1024];
    uint64_t total = 0;
    for (uint64_t k = 0; k < ncols; k++) {
        if (get_varint(&p, end, &lens[k]) != 0 || lens[k] > len)
            return -1;
        total += lens[k];
    }
    if (total != (uint64_t)(end - p))
        return -1;
    /* Columns after the known ones come from a newer minor version. */
    for (int k = 0; k < COL_COUNT; k++) {
        c->col[k] = p;
        p += lens[k];
        c->col_end[k] = p;
    }
    return 0;
}

/* Decodes the next record from the columns without checks beyond those
 * that keep reads in bounds. Returns -1 when a column is malformed. */
static int decode_columns(struct block_cursor *c, rp_record *rec)
{
    const uint8_t **col = c->col, *const *end = c->col_end;
    uint64_t delta, v[4];
    uint32_t major, minor;
    memset(rec, 0, sizeof *rec);
    if (get_varint(&col[COL_TS], end[COL_TS], &delta) != 0 ||
        get_varint(&col[COL_CONN], end[COL_CONN], &rec->conn_id) != 0 ||
        get_u32(&col[COL_FLAGS], end[COL_FLAGS], UINT32_MAX, &rec->flags) != 0 ||
        get_u32(&col[COL_VERSION], end[COL_VERSION], 255, &major) != 0 ||
        get_u32(&col[COL_VERSION], end[COL_VERSION], 255, &minor) != 0)
        return -1;
    if (c->started && (delta > (UINT64_MAX - c->ts) / c->unit))
        return -1;
    rec->ts_ns = c->started ? c->ts + delta * c->unit : c->ts;
    if (!c->started && delta != 0)
        return -1;
    rec->http_major = (uint8_t)major;
    rec->http_minor = (uint8_t)minor;

    for (int k = 0; k < 4; k++)
        if (get_varint(&col[COL_LENGTHS], end[COL_LENGTHS], &v[k]) != 0 ||
            v[k] > (uint64_t)(end[COL_METHOD + k] - col[COL_METHOD + k]))
            return -1;
    rec->method = (const char *)col[COL_METHOD];
    rec->method_len = (uint32_t)v[0];
    rec->target = (const char *)col[COL_TARGET];
    rec->target_len = (uint32_t)v[1];
    rec->headers = (const char *)col[COL_HEADERS];
    rec->headers_len = (uint32_t)v[2];
    rec->body = col[COL_BODY];
    rec->body_len = (uint32_t)v[3];
    for (int k = 0; k < 4; k++)
        col[COL_METHOD + k] += v[k];

    if (rec->flags & RP_REC_HAS_RESPONSE) {
        uint32_t status;
        uint64_t ttfb, ttlb;
        if (get_u32(&col[COL_STATUS], end[COL_STATUS], 65535, &status) != 0 ||
            get_varint(&col[COL_TTFB], end[COL_TTFB], &ttfb) != 0 ||
            get_varint(&col[COL_TTLB], end[COL_TTLB], &ttlb) != 0 ||
            get_varint(&col[COL_RESP_BYTES], end[COL_RESP_BYTES], &rec->resp_bytes) != 0)
            return -1;
        int64_t d = zigzag_decode(ttlb);
        if (ttfb > UINT64_MAX / c->unit || d > INT64_MAX / (int64_t)c->unit ||
            d < INT64_MIN / (int64_t)c->unit)
            return -1;
        rec->resp_status = (uint16_t)status;
        rec->resp_ttfb_ns = ttfb * c->unit;
        rec->resp_ttlb_ns = rec->resp_ttfb_ns + (uint64_t)(d * (int64_t)c->unit);
    }
    c->ts = rec->ts_ns;
    c->started = 1;
    return 0;
}

/* Decodes every record once, so that a damaged block is rejected before
 * any of its records is delivered; each column must be used up exactly. */
static int check_columns(struct block_cursor *c, const struct block_header *h)
{
    struct block_cursor probe = *c;
    rp_record rec;
    for (uint32_t i = 0; i < h->records; i++)
        if (decode_columns(&probe, &rec) != 0)
            return -1;
    for (int k = 0; k < COL_COUNT; k++)
        if (probe.col[k] != probe.col_end[k])
            return -1;
    return probe.ts == h->last_ts ? 0 : -1;
}

int rp_trace_cursor_init(struct block_cursor *c, int major, const uint8_t *raw,
                         size_t len, const struct block_header *h)
{
    memset(c, 0, sizeof *c);
    c->ts = h->first_ts;
    c->columns = major >= 1;
    if (c->columns) {
        if (locate_columns(c, raw, len) != 0 || check_columns(c, h) != 0)
            return -1;
    } else {
        c->row = raw;
        c->row_end = raw + len;
        if (check_rows(c, h) != 0)
            return -1;
    }
    c->left = h->records;
    return 0;
}

void rp_trace_cursor_next(struct block_cursor *c, rp_record *rec)
{
    /* rp_trace_cursor_init accepted this block, so decoding cannot fail. */
    if (c->columns) {
        decode_columns(c, rec);
    } else {
        decode_row(&c->row, c->row_end, c->ts, rec);
        c->ts = rec->ts_ns;
    }
    c->left--;
}
