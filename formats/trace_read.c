/* Trace files: the streaming reader. See trace.h for the contract and
 * docs/trace-format.md, "Reading a damaged or incomplete file", for the
 * recovery rules it follows. */
#include "formats/trace_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#define fail rp_trace_fail

/* Bytes read per step when scanning for the next block magic. */
#define SCAN_WINDOW        (64u << 10)

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

    struct byte_buf comp, raw;

    /* The block being delivered, and the seek target: records before
     * skip_before are passed over. */
    struct block_cursor cur;
    uint64_t skip_before;

    /* Position of the next block: an index entry when the file has a
     * valid index, else a file offset. */
    size_t next_entry;
    uint64_t next_pos;
    int have_last;
    uint64_t last_ts;         /* last ts_ns of the last block delivered */

    uint64_t good_blocks, bad_blocks, lost_records;
    uint64_t comp_bytes, raw_bytes;   /* of the good blocks */
    struct block_header cur_header;   /* of the last good block */
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
        else if (id == FIELD_HISTORY)
            copy_field(info->history, sizeof info->history, p, n);
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
                    "reads formats 0.x and %d.x: upgrade reprise to read it", r->path, r->info.version_major,
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
        memset(r->info.redaction, 0, sizeof r->info.redaction);
        memset(r->info.sample, 0, sizeof r->info.sample);
        memset(r->info.history, 0, sizeof r->info.history);
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
    return rp_trace_decode_block_header(b, h);
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
    free(r->comp.p);
    free(r->raw.p);
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

/* Reads, verifies and decompresses the payload of the block at pos, and
 * sets up the cursor over its records. */
static const char *load_payload(rp_trace_reader *r, uint64_t pos,
                                const struct block_header *h, int *io_error)
{
    if (rp_trace_buf_reserve(&r->comp, h->comp_size) != 0 ||
        rp_trace_buf_reserve(&r->raw, h->raw_size ? h->raw_size : 1) != 0)
        return "out of memory for it";
    if (read_at(r->fd, r->comp.p, h->comp_size, pos + BLOCK_HDR_LEN) != 0) {
        *io_error = errno;
        return "reading it failed";
    }
    if (XXH64(r->comp.p, h->comp_size, 0) != h->payload_sum)
        return "its payload checksum does not match";
    if (ZSTD_findFrameCompressedSize(r->comp.p, h->comp_size) != h->comp_size)
        return "its payload is not one zstd frame of the declared size";
    size_t n = ZSTD_decompressDCtx(r->dctx, r->raw.p, r->raw.cap, r->comp.p, h->comp_size);
    if (ZSTD_isError(n) || n != h->raw_size)
        return "its payload does not decompress to the declared size";
    if (rp_trace_cursor_init(&r->cur, r->info.version_major, r->raw.p, n, h) != 0)
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
                    "the writer was probably interrupted; 'reprise repair' keeps the "
                    "rest and writes a new index)", r->path, pos,
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

    r->have_last = 1;
    r->last_ts = h.last_ts;
    r->cur_header = h;
    r->good_blocks++;
    r->comp_bytes += BLOCK_HDR_LEN + (uint64_t)h.comp_size;
    r->raw_bytes += h.raw_size;
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
                    "at byte %" PRIu64 " (the writer was probably interrupted; "
                    "'reprise repair' keeps the rest and writes a new index)",
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
    for (;;) {
        while (r->cur.left == 0) {
            int rc = next_block(r, err, errlen);
            if (rc != 0)
                return rc;
        }
        rp_trace_cursor_next(&r->cur, rec);
        if (rec->ts_ns >= r->skip_before)
            return 0;
    }
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
    r->cur.left = 0;
    r->next_entry = 0;
    r->next_pos = r->data_start;
    r->have_last = 0;
    r->skip_before = 0;
    r->good_blocks = r->bad_blocks = r->lost_records = 0;
    r->comp_bytes = r->raw_bytes = 0;
    return 0;
}

void rp_trace_reader_bytes(const rp_trace_reader *r, uint64_t *compressed, uint64_t *raw)
{
    *compressed = r->comp_bytes;
    *raw = r->raw_bytes;
}

/* Finds, without decompressing, the first block in file order from
 * data_start whose last_ts reaches ts_ns. The walk stops at the first
 * header it cannot use, where sequential reading then reports it. */
static uint64_t find_block_sequential(rp_trace_reader *r, uint64_t ts_ns)
{
    uint64_t pos = r->data_start;
    struct block_header h;
    while (block_header_at(r, pos, &h) == 0 && h.last_ts < ts_ns &&
           h.comp_size <= MAX_COMPRESSED &&
           r->data_end - pos - BLOCK_HDR_LEN >= h.comp_size)
        pos += BLOCK_HDR_LEN + (uint64_t)h.comp_size;
    return pos;
}

int rp_trace_reader_seek(rp_trace_reader *r, uint64_t ts_ns, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    r->cur.left = 0;
    r->have_last = 0;
    r->skip_before = ts_ns;
    if (r->index != NULL) {
        size_t lo = 0, hi = r->n_index;     /* first entry with last_ts >= ts_ns */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (r->index[mid].last_ts < ts_ns)
                lo = mid + 1;
            else
                hi = mid;
        }
        r->next_entry = lo;
    } else {
        r->next_pos = find_block_sequential(r, ts_ns);
    }
    return 0;
}

/* ---- for repair ---- */

int rp_trace_reader_next_raw_block(rp_trace_reader *r, struct block_header *h,
                                   const uint8_t **payload, char *err, size_t errlen)
{
    r->cur.left = 0;
    int rc = next_block(r, err, errlen);
    if (rc != 0)
        return rc;
    r->cur.left = 0;
    *h = r->cur_header;
    *payload = r->comp.p;
    return 0;
}

int rp_trace_reader_header_bytes(rp_trace_reader *r, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (r->info.header_damaged)
        return 0;
    uint8_t fixed[FILE_FIXED_LEN];
    if (read_at(r->fd, fixed, sizeof fixed, 0) != 0)
        return -1;
    size_t n = (size_t)get_le(fixed + 12, 4);
    uint8_t *h = malloc(n);
    if (h == NULL || read_at(r->fd, h, n, 0) != 0) {
        free(h);
        return -1;
    }
    *out = h;
    *len = n;
    return 0;
}
