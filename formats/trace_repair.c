/* Repair: copies the valid blocks of a trace into a new file with a
 * complete index. */
#include "formats/trace_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
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

/* Rewrites the header in orig (intact, n bytes) with history appended to
 * its history field, keeping every other field, unknown ones included,
 * and its version. */
static uint8_t *append_history(const uint8_t *orig, size_t n, const char *history,
                               size_t *out_len)
{
    size_t add = strlen(history);
    uint8_t *h = malloc(n + FIELD_HDR_LEN + add + 1);
    if (h == NULL)
        return NULL;
    memcpy(h, orig, FILE_FIXED_LEN);
    size_t o = FILE_FIXED_LEN;
    const uint8_t *old = NULL;
    uint32_t old_len = 0;

    /* The reader checked that the fields fill [16, n - 8) exactly. */
    for (size_t p = FILE_FIXED_LEN; p + FIELD_HDR_LEN <= n - 8;) {
        uint16_t id = (uint16_t)get_le(orig + p, 2);
        uint32_t len = (uint32_t)get_le(orig + p + 2, 4);
        if (id == FIELD_HISTORY) {
            old = orig + p + FIELD_HDR_LEN;
            old_len = len;
        } else {
            memcpy(h + o, orig + p, FIELD_HDR_LEN + len);
            o += FIELD_HDR_LEN + len;
        }
        p += FIELD_HDR_LEN + len;
    }

    size_t total = old_len + (old_len ? 1 : 0) + add;
    if (total > MAX_FIELD_LEN) {
        free(h);
        return NULL;
    }
    put_le(h + o, FIELD_HISTORY, 2);
    put_le(h + o + 2, total, 4);
    o += FIELD_HDR_LEN;
    if (old_len) {
        memcpy(h + o, old, old_len);
        h[o + old_len] = '\n';
        o += old_len + 1;
    }
    memcpy(h + o, history, add);
    o += add + 8;
    put_le(h + 12, o, 4);
    put_le(h + o - 8, XXH64(h, o - 8, 0), 8);
    *out_len = o;
    return h;
}

/* Returns the header for the output: the input's, with the history line
 * appended, or a new one with empty metadata when the input's is
 * damaged. A new header keeps the input's major version, because the
 * copied blocks are in that version's layout. */
static int output_header(rp_trace_reader *r, const char *history, uint8_t **out,
                         size_t *len, const char *path, char *err, size_t errlen)
{
    uint8_t *orig;
    size_t n;
    if (rp_trace_reader_header_bytes(r, &orig, &n) != 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot read the header of %s: %s",
                    path, strerror(errno));
    if (orig != NULL) {
        if (history == NULL || history[0] == '\0') {
            *out = orig;
            *len = n;
            return 0;
        }
        *out = append_history(orig, n, history, len);
        free(orig);
        if (*out == NULL)
            return fail(err, errlen, RP_TRACE_ENOMEM,
                        "cannot rewrite the header of %s: out of memory or history "
                        "longer than %u bytes", path, MAX_FIELD_LEN);
        return 0;
    }

    rp_trace_meta meta = { .history = history };
    int rc = rp_trace_build_header(&meta, out, len, path, err, errlen);
    if (rc != 0)
        return rc;
    const rp_trace_info *info = rp_trace_reader_info(r);
    if (info->version_major != RP_TRACE_VERSION_MAJOR) {
        put_le(*out + 8, info->version_major, 2);
        put_le(*out + 10, info->version_minor, 2);
        put_le(*out + *len - 8, XXH64(*out, *len - 8, 0), 8);
    }
    return 0;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

struct repair {
    rp_trace_reader *r;
    int fd;
    uint64_t offset;
    struct index_entry *index;
    size_t n_index, cap_index;
};

static int copy_blocks(struct repair *x, const rp_trace_repair_opts *o,
                       rp_trace_repair_stats *st, const char *out_path,
                       char *err, size_t errlen)
{
    for (;;) {
        struct block_header h;
        const uint8_t *payload;
        char msg[512];
        int rc = rp_trace_reader_next_raw_block(x->r, &h, &payload, msg, sizeof msg);
        if (rc == RP_TRACE_EOF)
            return 0;
        if (rc == RP_TRACE_ECORRUPT) {
            if (o != NULL && o->on_damage != NULL)
                o->on_damage(o->ctx, msg);
            continue;
        }
        if (rc != 0)
            return fail(err, errlen, rc, "%s", msg);

        if (x->n_index == x->cap_index) {
            size_t cap = x->cap_index ? 2 * x->cap_index : 64;
            struct index_entry *e = realloc(x->index, cap * sizeof *e);
            if (e == NULL)
                return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s",
                            out_path);
            x->index = e;
            x->cap_index = cap;
        }
        x->index[x->n_index++] = (struct index_entry){ x->offset, h.records, h.first_ts,
                                                       h.last_ts };
        uint8_t hb[BLOCK_HDR_LEN];
        rp_trace_encode_block_header(hb, &h);
        if (write_all(x->fd, hb, sizeof hb) != 0 || write_all(x->fd, payload, h.comp_size) != 0)
            return fail(err, errlen, RP_TRACE_EIO, "cannot write %s: %s", out_path,
                        strerror(errno));
        x->offset += BLOCK_HDR_LEN + (uint64_t)h.comp_size;
        st->blocks++;
        st->records += h.records;
    }
}

static int repair_run(struct repair *x, const char *in_path, const char *out_path,
                      const rp_trace_repair_opts *o, rp_trace_repair_stats *st,
                      char *err, size_t errlen)
{
    uint8_t *hdr = NULL;
    size_t len;
    int rc = output_header(x->r, o ? o->history : NULL, &hdr, &len, in_path, err, errlen);
    if (rc != 0)
        return rc;
    x->fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (x->fd < 0 || fchmod(x->fd, 0600) != 0) {
        free(hdr);
        return fail(err, errlen, RP_TRACE_EIO, "cannot create %s: %s", out_path,
                    strerror(errno));
    }
    rc = write_all(x->fd, hdr, len);
    free(hdr);
    if (rc != 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot write %s: %s", out_path,
                    strerror(errno));
    x->offset = len;

    if ((rc = copy_blocks(x, o, st, out_path, err, errlen)) != 0)
        return rc;

    uint8_t *idx = rp_trace_build_index(x->index, x->n_index, x->offset, &len);
    if (idx == NULL)
        return fail(err, errlen, RP_TRACE_ENOMEM, "out of memory writing %s", out_path);
    rc = write_all(x->fd, idx, len);
    free(idx);
    if (rc != 0)
        return fail(err, errlen, RP_TRACE_EIO, "cannot write %s: %s", out_path,
                    strerror(errno));
    return 0;
}

int rp_trace_repair(const char *in_path, const char *out_path,
                    const rp_trace_repair_opts *opts, rp_trace_repair_stats *stats,
                    char *err, size_t errlen)
{
    rp_trace_repair_stats local;
    rp_trace_repair_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (strcmp(in_path, out_path) == 0 || same_file(in_path, out_path))
        return fail(err, errlen, RP_TRACE_EINVAL,
                    "cannot repair %s into itself: write to another file", in_path);

    struct repair x = { .fd = -1 };
    int rc = rp_trace_reader_open(&x.r, in_path, err, errlen);
    if (rc != 0)
        return rc;
    const rp_trace_info *info = rp_trace_reader_info(x.r);
    st->had_index = info->has_index;
    st->header_damaged = info->header_damaged;

    rc = repair_run(&x, in_path, out_path, opts, st, err, errlen);
    st->bad_blocks = rp_trace_reader_bad_blocks(x.r);
    st->lost_records = rp_trace_reader_lost_records(x.r);
    if (x.fd >= 0 && close(x.fd) != 0 && rc == 0)
        rc = fail(err, errlen, RP_TRACE_EIO, "cannot close %s: %s", out_path,
                  strerror(errno));
    if (rc != 0 && x.fd >= 0)
        unlink(out_path);
    free(x.index);
    rp_trace_reader_close(x.r);
    return rc;
}
