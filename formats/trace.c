/* Trace files: the writer, and the file header and index that repair
 * writes too. docs/trace-format.md specifies the layout; the reader is in
 * trace_read.c, the block codec in trace_block.c. */
#include "formats/trace_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#define fail rp_trace_fail

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

/* ---- file header and index ---- */

static size_t add_field(uint8_t *p, uint16_t id, const void *data, uint32_t len)
{
    put_le(p, id, 2);
    put_le(p + 2, len, 4);
    memcpy(p + FIELD_HDR_LEN, data, len);
    return FIELD_HDR_LEN + len;
}

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int rp_trace_build_header(const rp_trace_meta *meta, uint8_t **out, size_t *len,
                          const char *path, char *err, size_t errlen)
{
    enum { N_STRINGS = 6 };
    const char *strs[N_STRINGS] = { "", "", "", "", "", "" };
    static const uint16_t ids[N_STRINGS] = { FIELD_SOURCE, FIELD_FILTER, FIELD_TOOL,
                                             FIELD_REDACTION, FIELD_SAMPLE, FIELD_HISTORY };
    uint64_t created = 0;
    uint32_t link_type = 0, snaplen = 0;
    if (meta != NULL) {
        const char *given[N_STRINGS] = { meta->source, meta->filter, meta->tool,
                                         meta->redaction, meta->sample, meta->history };
        for (int i = 0; i < N_STRINGS; i++)
            strs[i] = given[i] ? given[i] : "";
        created = meta->created_ns;
        link_type = meta->link_type;
        snaplen = meta->snaplen;
    }
    if (created == 0)
        created = now_ns();

    size_t total = FILE_MIN_LEN + 3 * (FIELD_HDR_LEN + 8);
    for (int i = 0; i < N_STRINGS; i++) {
        if (strlen(strs[i]) > MAX_FIELD_LEN)
            return fail(err, errlen, RP_TRACE_EINVAL,
                        "cannot write %s: a metadata string is longer than %u bytes",
                        path, MAX_FIELD_LEN);
        total += FIELD_HDR_LEN + strlen(strs[i]);
    }
    uint8_t *h = malloc(total);
    if (h == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", path);

    uint8_t num[8];
    size_t n = FILE_FIXED_LEN;
    /* Source, filter and tool are always written; the others when set. */
    for (int i = 0; i < N_STRINGS; i++)
        if (i < 3 || strs[i][0] != '\0')
            n += add_field(h + n, ids[i], strs[i], (uint32_t)strlen(strs[i]));
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
    *out = h;
    *len = n;
    return 0;
}

uint8_t *rp_trace_build_index(const struct index_entry *entries, size_t count,
                              uint64_t index_offset, size_t *len)
{
    size_t index_len = INDEX_FIXED_LEN + count * INDEX_ENTRY_LEN + 8;
    uint8_t *b = malloc(index_len + TRAILER_LEN);
    if (b == NULL)
        return NULL;

    memcpy(b, INDEX_MAGIC, 4);
    put_le(b + 4, INDEX_ENTRY_LEN, 4);
    put_le(b + 8, count, 8);
    for (size_t i = 0; i < count; i++) {
        uint8_t *e = b + INDEX_FIXED_LEN + i * INDEX_ENTRY_LEN;
        put_le(e, entries[i].offset, 8);
        put_le(e + 8, entries[i].records, 4);
        put_le(e + 12, 0, 4);
        put_le(e + 16, entries[i].first_ts, 8);
        put_le(e + 24, entries[i].last_ts, 8);
    }
    put_le(b + index_len - 8, XXH64(b, index_len - 8, 0), 8);

    uint8_t *t = b + index_len;
    put_le(t, index_offset, 8);
    put_le(t + 8, index_len, 8);
    memcpy(t + 16, TRAILER_MAGIC, 8);
    *len = index_len + TRAILER_LEN;
    return b;
}

/* ---- writer ---- */

struct rp_trace_writer {
    int fd;
    char *path;
    ZSTD_CCtx *cctx;
    uint32_t block_records;
    uint32_t block_bytes;
    int failed;               /* a write failed: later calls are rejected */

    struct block_builder block;   /* records of the block being filled */
    struct byte_buf comp;
    uint64_t first_ts, last_ts;

    int have_prev;
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

static int write_file_header(rp_trace_writer *w, const rp_trace_meta *meta,
                             char *err, size_t errlen)
{
    size_t n;
    uint8_t *h;
    int rc = rp_trace_build_header(meta, &h, &n, w->path, err, errlen);
    if (rc != 0)
        return rc;
    rc = write_all(w->fd, h, n);
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
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
    return 0;
}

static void writer_free(rp_trace_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    ZSTD_freeCCtx(w->cctx);
    rp_trace_builder_free(&w->block);
    free(w->comp.p);
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

static int append_index_entry(rp_trace_writer *w, uint64_t offset, uint32_t records)
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
        offset, records, w->first_ts, w->last_ts
    };
    return 0;
}

/* Compresses and writes the block being filled, if it holds records. */
static int write_block(rp_trace_writer *w, char *err, size_t errlen)
{
    struct block_builder *b = &w->block;
    if (b->n_rows == 0)
        return 0;
    uint32_t records = (uint32_t)b->n_rows;
    if (append_index_entry(w, w->offset, records) != 0)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);

    size_t comp = 0;
    char why[160];
    size_t raw = rp_trace_builder_compress(b, w->cctx, &w->comp, &comp, why, sizeof why);
    if (raw == 0) {
        w->n_index--;
        w->failed = 1;
        return fail(err, errlen, RP_TRACE_EIO, "%s: %s", w->path, why);
    }

    struct block_header h = {
        .records = records, .comp_size = (uint32_t)comp, .raw_size = (uint32_t)raw,
        .first_ts = w->first_ts, .last_ts = w->last_ts,
        .payload_sum = XXH64(w->comp.p, comp, 0)
    };
    uint8_t hb[BLOCK_HDR_LEN];
    rp_trace_encode_block_header(hb, &h);
    if (write_all(w->fd, hb, sizeof hb) != 0 || write_all(w->fd, w->comp.p, comp) != 0)
        return writer_io_error(w, err, errlen, "block");

    w->offset += BLOCK_HDR_LEN + comp;
    rp_trace_builder_reset(b);
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
    if (w->have_prev && rec->ts_ns < w->prev_ts)
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "record at ts_ns %" PRIu64 " for %s is earlier than the previous "
                    "one (%" PRIu64 "); records must be added in timestamp order",
                    rec->ts_ns, w->path, w->prev_ts);
    uint64_t size = rp_trace_single_block_size(rec);
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

    /* raw_bound overestimates the payload, by up to 130 bytes per record,
     * so a block closes a little before block_bytes of raw payload. */
    struct block_builder *b = &w->block;
    uint64_t bound = rp_trace_row_bound(rec);
    if (b->n_rows > 0 && (b->raw_bound + bound > w->block_bytes ||
                          b->raw_bound + bound > RP_TRACE_MAX_BLOCK_BYTES)) {
        if ((rc = write_block(w, err, errlen)) != 0)
            return rc;
    }

    if (rp_trace_builder_add(b, rec) != 0)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);
    if (b->n_rows == 1)
        w->first_ts = rec->ts_ns;
    w->last_ts = rec->ts_ns;
    w->prev_ts = rec->ts_ns;
    w->have_prev = 1;

    if (b->n_rows >= w->block_records || b->raw_bound >= w->block_bytes)
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
    size_t len;
    uint8_t *b = rp_trace_build_index(w->index, w->n_index, w->offset, &len);
    if (b == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", w->path);
    int rc = write_all(w->fd, b, len);
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

uint64_t rp_trace_writer_records(const rp_trace_writer *w)
{
    uint64_t n = w->block.n_rows;
    for (size_t i = 0; i < w->n_index; i++)
        n += w->index[i].records;
    return n;
}
