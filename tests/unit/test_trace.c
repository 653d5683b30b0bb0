/* Trace writer and reader: round trips, the writer's checks, and reading
 * damaged, truncated and foreign files. Files are built in a temporary
 * directory under /tmp and removed at the end of each test. Some tests
 * edit the bytes of a written trace, so they follow the layout of
 * docs/trace-format.md. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "check.h"
#include "formats/trace.h"

#define BASE_TS 1700000000123456789ull
#define BLOCK_HDR 56

/* ---- temporary files ---- */

struct tmpdir {
    char dir[64];
    char path[128];           /* dir/trace.rpz */
    char other[128];          /* dir/other */
};

static void tmp_make(struct tmpdir *t)
{
    strcpy(t->dir, "/tmp/rp-test-trace-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(t->path, sizeof t->path, "%s/trace.rpz", t->dir);
    snprintf(t->other, sizeof t->other, "%s/other", t->dir);
}

static void tmp_cleanup(struct tmpdir *t)
{
    DIR *d = opendir(t->dir);
    struct dirent *e;
    char p[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(t->dir);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(fwrite(buf, 1, len, f) == len);
    fclose(f);
}

static uint64_t le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- test records ---- */

/* Storage for the fields of one generated record. */
struct genbuf {
    char target[4096];
    char headers[32768];
    uint8_t body[8192];
};

static const char *const methods[] = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "CCM_POST", "OPTIONS"
};

static uint64_t gen_ts(uint64_t i)
{
    /* Three records share each timestamp; a three-day gap after 500. */
    return BASE_TS + (i / 3) * 1234567u + (i >= 500 ? 259200ull * 1000000000u : 0);
}

/* Fills rec with record number i; the same i always gives the same
 * record, and the target starts with "/items/<i>" to identify it. */
static void gen_record(uint64_t i, rp_record *rec, struct genbuf *b)
{
    memset(rec, 0, sizeof *rec);
    rec->ts_ns = gen_ts(i);
    rec->conn_id = i % 7 == 0 ? (1ull << 40) + i : i % 13;
    rec->http_major = 1;
    rec->http_minor = i % 6 == 0 ? 0 : 1;
    rec->method = i % 19 == 0 ? "CONNECT" : methods[i % 7];
    rec->method_len = (uint32_t)strlen(rec->method);

    int n = snprintf(b->target, sizeof b->target, "/items/%" PRIu64 "?pad=", i);
    if (i % 97 == 0) {
        memset(b->target + n, 'x', 3000);
        n += 3000;
    }
    rec->target = b->target;
    rec->target_len = (uint32_t)n;

    n = 0;
    if (i % 9 != 0)
        n = snprintf(b->headers, sizeof b->headers,
                     "Host: h%d.example.test\r\nUser-Agent: rp-test\r\nX-Seq: %" PRIu64 "\r\n",
                     (int)(i % 3), i);
    if (i % 50 == 7) {
        memcpy(b->headers + n, "Cookie: ", 8);
        memset(b->headers + n + 8, 'c', 20000);
        memcpy(b->headers + n + 20008, "\r\n", 2);
        n += 20010;
    }
    rec->headers = b->headers;
    rec->headers_len = (uint32_t)n;

    if (i % 4 == 1) {
        uint32_t len = (uint32_t)(i % 300);
        for (uint32_t k = 0; k < len; k++)
            b->body[k] = (uint8_t)(i + k * 31);   /* binary, with NUL bytes */
        rec->body_len = len;
    } else if (i % 4 >= 2) {
        rec->body_len = (uint32_t)snprintf((char *)b->body, sizeof b->body,
                                           "name=value&i=%" PRIu64, i);
    }
    rec->body = b->body;

    if (i % 4 == 3)
        rec->flags |= RP_REC_CHUNKED;
    if (i % 11 == 0)
        rec->flags |= RP_REC_TRUNCATED;
    if (i % 17 == 0)
        rec->flags |= RP_REC_UPGRADE;
    if (i % 19 == 0)
        rec->flags |= RP_REC_CONNECT;
    if (i % 5 != 0) {
        rec->flags |= RP_REC_HAS_RESPONSE;
        rec->resp_status = (uint16_t)(100 + (i * 7) % 500);
        rec->resp_ttfb_ns = i * 1000 + 7;
        rec->resp_ttlb_ns = rec->resp_ttfb_ns + (1ull << 33);
        rec->resp_bytes = i * i;
        if (i % 23 == 0)
            rec->flags |= RP_REC_RESP_TRUNCATED;
    }
}

static int same_bytes(const void *a, uint32_t alen, const void *b, uint32_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Checks got against the generated record it names; returns its number. */
static uint64_t check_record(const rp_record *got)
{
    uint64_t i = 0;
    char prefix[32];
    int n = got->target_len < sizeof prefix ? (int)got->target_len : (int)sizeof prefix - 1;
    memcpy(prefix, got->target, (size_t)n);
    prefix[n] = '\0';
    CHECK(sscanf(prefix, "/items/%" SCNu64, &i) == 1);

    rp_record want;
    struct genbuf *b = malloc(sizeof *b);
    gen_record(i, &want, b);
    int ok = got->ts_ns == want.ts_ns && got->conn_id == want.conn_id &&
             got->flags == want.flags && got->http_major == want.http_major &&
             got->http_minor == want.http_minor &&
             same_bytes(got->method, got->method_len, want.method, want.method_len) &&
             same_bytes(got->target, got->target_len, want.target, want.target_len) &&
             same_bytes(got->headers, got->headers_len, want.headers, want.headers_len) &&
             same_bytes(got->body, got->body_len, want.body, want.body_len) &&
             got->resp_status == want.resp_status &&
             got->resp_ttfb_ns == want.resp_ttfb_ns &&
             got->resp_ttlb_ns == want.resp_ttlb_ns && got->resp_bytes == want.resp_bytes;
    if (!ok)
        fprintf(stderr, "  record %" PRIu64 " differs from what was written\n", i);
    CHECK(ok);
    free(b);
    return i;
}

static const rp_trace_meta test_meta = {
    .source = "capture.pcap", .filter = "tcp port 80", .tool = "reprise-test",
    .created_ns = 1690000000000000001ull, .link_type = 1, .snaplen = 65535,
};

/* Writes records 0..n-1 to path. */
static void write_trace(const char *path, uint64_t n, const rp_trace_writer_opts *opts)
{
    char err[512] = "";
    rp_trace_writer *w = NULL;
    struct genbuf *b = malloc(sizeof *b);
    rp_record rec;

    int rc = rp_trace_writer_open(&w, path, &test_meta, opts, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  %s\n", err);
        free(b);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        gen_record(i, &rec, b);
        rc = rp_trace_writer_add(w, &rec, err, sizeof err);
        if (rc != 0) {
            CHECK_EQ_INT(rc, 0);
            fprintf(stderr, "  %s\n", err);
            break;
        }
    }
    CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);
    free(b);
}

/* What reading a whole trace gave. */
struct readout {
    int open_rc;
    char open_err[512];
    rp_trace_info info;
    uint64_t *ids;            /* record numbers in the order read */
    size_t n;
    int corrupt;              /* RP_TRACE_ECORRUPT returns */
    char corrupt_err[4][512];
    int end_rc;               /* the return that ended reading */
    uint64_t bad_blocks, lost, good_blocks;
};

static void read_trace(const char *path, struct readout *ro)
{
    memset(ro, 0, sizeof *ro);
    rp_trace_reader *r = NULL;
    ro->open_rc = rp_trace_reader_open(&r, path, ro->open_err, sizeof ro->open_err);
    if (ro->open_rc != 0) {
        CHECK(r == NULL);
        return;
    }
    ro->info = *rp_trace_reader_info(r);

    size_t cap = 1024;
    ro->ids = malloc(cap * sizeof *ro->ids);
    char err[512];
    rp_record rec;
    uint64_t prev_ts = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        int rc = rp_trace_reader_next(r, &rec, err, sizeof err);
        if (rc == RP_TRACE_ECORRUPT) {
            if (ro->corrupt < 4)
                strcpy(ro->corrupt_err[ro->corrupt], err);
            ro->corrupt++;
            continue;
        }
        if (rc != 0) {
            ro->end_rc = rc;
            if (rc != RP_TRACE_EOF)
                fprintf(stderr, "  read ended with %d: %s\n", rc, err);
            break;
        }
        CHECK(rec.ts_ns >= prev_ts);
        prev_ts = rec.ts_ns;
        if (ro->n == cap)
            ro->ids = realloc(ro->ids, (cap *= 2) * sizeof *ro->ids);
        ro->ids[ro->n++] = check_record(&rec);
    }
    ro->bad_blocks = rp_trace_reader_bad_blocks(r);
    ro->lost = rp_trace_reader_lost_records(r);
    ro->good_blocks = rp_trace_reader_good_blocks(r);
    rp_trace_reader_close(r);
}

/* Checks that the records read are 0..n-1 in order, without [lo, hi). */
static void check_ids_except(const struct readout *ro, uint64_t n, uint64_t lo, uint64_t hi)
{
    uint64_t want = hi > lo ? n - (hi - lo) : n;
    CHECK_EQ_INT(ro->n, want);
    size_t k = 0;
    for (uint64_t i = 0; i < n && k < ro->n; i++) {
        if (i >= lo && i < hi)
            continue;
        if (ro->ids[k] != i) {
            fprintf(stderr, "  record %zu read is %" PRIu64 ", expected %" PRIu64 "\n",
                    k, ro->ids[k], i);
            CHECK(ro->ids[k] == i);
            return;
        }
        k++;
    }
}

/* Block layout of a trace file, found by walking its block headers. */
struct layout {
    size_t n;
    uint64_t off[256];
    uint32_t records[256];
    uint64_t first_id[256];   /* number of the block's first record */
    uint64_t blocks_end;      /* where the index starts */
    uint64_t header_len;
};

static void walk_blocks(const uint8_t *f, size_t len, struct layout *l)
{
    memset(l, 0, sizeof *l);
    l->header_len = le(f + 12, 4);
    uint64_t off = l->header_len, id = 0;
    while (off + BLOCK_HDR <= len && memcmp(f + off, "RPBK", 4) == 0 && l->n < 256) {
        l->off[l->n] = off;
        l->records[l->n] = (uint32_t)le(f + off + 8, 4);
        l->first_id[l->n] = id;
        id += l->records[l->n];
        l->n++;
        off += BLOCK_HDR + le(f + off + 12, 4);
    }
    l->blocks_end = off;
}

/* Writes n records in blocks of per_block, and returns the file's bytes
 * and layout. */
static uint8_t *make_trace(const char *path, uint64_t n, uint32_t per_block,
                           size_t *len, struct layout *l)
{
    rp_trace_writer_opts opts = { 0, per_block, 0 };
    write_trace(path, n, &opts);
    uint8_t *f = slurp(path, len);
    CHECK(f != NULL);
    walk_blocks(f, *len, l);
    return f;
}

static void reseal_block_header(uint8_t *h)
{
    put_le(h + 48, XXH64(h, 48, 0), 8);
}

static int contains(const char *s, const char *part)
{
    if (strstr(s, part) != NULL)
        return 1;
    fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", s, part);
    return 0;
}

/* Checks one reported damaged block: its message names the file and the
 * block's offset. */
static void check_damage_reported(const struct readout *ro, const char *path, uint64_t off)
{
    char at[64];
    snprintf(at, sizeof at, "byte %" PRIu64, off);
    CHECK_EQ_INT(ro->corrupt, 1);
    CHECK_EQ_INT(ro->bad_blocks, 1);
    CHECK_EQ_INT(ro->end_rc, RP_TRACE_EOF);
    CHECK(contains(ro->corrupt_err[0], path));
    CHECK(contains(ro->corrupt_err[0], at));
}

/* ---- round trips ---- */

TEST(trace_round_trip_many_blocks)
{
    struct tmpdir t;
    tmp_make(&t);
    rp_trace_writer_opts opts = { 5, 500, 0 };
    write_trace(t.path, 10000, &opts);

    struct readout ro;
    read_trace(t.path, &ro);
    CHECK_EQ_INT(ro.open_rc, 0);
    check_ids_except(&ro, 10000, 0, 0);
    CHECK_EQ_INT(ro.corrupt, 0);
    CHECK_EQ_INT(ro.end_rc, RP_TRACE_EOF);
    CHECK_EQ_INT(ro.good_blocks, 20);

    CHECK_EQ_INT(ro.info.version_major, RP_TRACE_VERSION_MAJOR);
    CHECK_EQ_INT(ro.info.version_minor, RP_TRACE_VERSION_MINOR);
    CHECK_EQ_STR(ro.info.source, "capture.pcap");
    CHECK_EQ_STR(ro.info.filter, "tcp port 80");
    CHECK_EQ_STR(ro.info.tool, "reprise-test");
    CHECK(ro.info.created_ns == 1690000000000000001ull);
    CHECK_EQ_INT(ro.info.link_type, 1);
    CHECK_EQ_INT(ro.info.snaplen, 65535);
    CHECK_EQ_INT(ro.info.has_index, 1);
    CHECK_EQ_INT(ro.info.header_damaged, 0);
    CHECK_EQ_INT(ro.info.index_damaged, 0);
    CHECK_EQ_INT(ro.info.records, 10000);
    CHECK_EQ_INT(ro.info.blocks, 20);
    CHECK(ro.info.first_ts_ns == gen_ts(0));
    CHECK(ro.info.last_ts_ns == gen_ts(9999));

    struct stat st;
    CHECK(stat(t.path, &st) == 0);
    CHECK(ro.info.file_bytes == (uint64_t)st.st_size);
    free(ro.ids);
    tmp_cleanup(&t);
}

TEST(trace_rewind_reads_again)
{
    struct tmpdir t;
    tmp_make(&t);
    rp_trace_writer_opts opts = { 0, 100, 0 };
    write_trace(t.path, 350, &opts);

    char err[512];
    rp_trace_reader *r = NULL;
    rp_record rec;
    CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
    if (r == NULL) {
        tmp_cleanup(&t);
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        int n = 0, rc;
        while ((rc = rp_trace_reader_next(r, &rec, err, sizeof err)) == 0)
            CHECK(check_record(&rec) == (uint64_t)n++);
        CHECK_EQ_INT(rc, RP_TRACE_EOF);
        CHECK_EQ_INT(n, 350);
        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), RP_TRACE_EOF);
        CHECK_EQ_INT(rp_trace_reader_good_blocks(r), 4);
        CHECK_EQ_INT(rp_trace_reader_rewind(r, err, sizeof err), 0);
    }
    rp_trace_reader_close(r);
    tmp_cleanup(&t);
}

TEST(trace_byte_limit_splits_blocks)
{
    struct tmpdir t;
    tmp_make(&t);
    char err[512];
    rp_trace_writer *w = NULL;
    rp_trace_writer_opts opts = { 1, 0, 64 * 1024 };
    CHECK_EQ_INT(rp_trace_writer_open(&w, t.path, NULL, &opts, err, sizeof err), 0);

    /* 40 records of 10 KB bodies, then one of 200 KB, larger than a block. */
    size_t big = 200 * 1024;
    uint8_t *body = malloc(big);
    for (size_t k = 0; k < big; k++)
        body[k] = (uint8_t)(k * 7 + k / 251);
    rp_record rec = { .method = "POST", .method_len = 4, .target = "/upload",
                      .target_len = 7, .body = body, .http_major = 1, .http_minor = 1 };
    for (int i = 0; i <= 40; i++) {
        rec.ts_ns = 1000 + (uint64_t)i;
        rec.conn_id = (uint64_t)i;
        rec.body_len = i < 40 ? 10 * 1024 : (uint32_t)big;
        CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), 0);
    }
    CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);

    rp_trace_reader *r = NULL;
    CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
    if (r != NULL) {
        const rp_trace_info *info = rp_trace_reader_info(r);
        CHECK_EQ_INT(info->records, 41);
        CHECK(info->blocks >= 7);     /* about 6 per 64 KB, then the large one */
        CHECK_EQ_STR(info->source, "");
        CHECK(info->created_ns > 0);  /* created_ns 0 means now */
        int n = 0;
        while (rp_trace_reader_next(r, &rec, err, sizeof err) == 0) {
            CHECK_EQ_INT(rec.conn_id, n);
            CHECK_EQ_INT(rec.body_len, n < 40 ? 10 * 1024 : big);
            CHECK(memcmp(rec.body, body, rec.body_len) == 0);
            CHECK_EQ_INT(rec.flags, 0);
            CHECK_EQ_INT(rec.resp_status, 0);
            n++;
        }
        CHECK_EQ_INT(n, 41);
        rp_trace_reader_close(r);
    }
    free(body);
    tmp_cleanup(&t);
}

TEST(trace_empty_trace_round_trip)
{
    struct tmpdir t;
    tmp_make(&t);
    write_trace(t.path, 0, NULL);

    struct readout ro;
    read_trace(t.path, &ro);
    CHECK_EQ_INT(ro.open_rc, 0);
    CHECK_EQ_INT(ro.n, 0);
    CHECK_EQ_INT(ro.end_rc, RP_TRACE_EOF);
    CHECK_EQ_INT(ro.info.has_index, 1);
    CHECK_EQ_INT(ro.info.records, 0);
    CHECK_EQ_INT(ro.info.blocks, 0);
    free(ro.ids);
    tmp_cleanup(&t);
}

/* Two records as a newer minor version could write them: length, ts
 * delta, conn_id, flags, major, minor, method, target, headers, body, the
 * response fields when flagged, then bytes a 0.1 reader skips. */
static const uint8_t hand_rec1[] = { 19, 0, 5, 0, 1, 1, 3, 'G', 'E', 'T', 2, '/', 'a',
                                     0, 2, 'h', 'i', 9, 9, 9 };
static const uint8_t hand_rec2[] = { 21, 10, 6, 2, 1, 0, 4, 'H', 'E', 'A', 'D', 1, '/',
                                     0, 0, 0xc8, 0x01, 5, 6, 7, 0xaa, 0xbb };

/* Writes by hand a trace of format major.minor with an unknown header
 * field and one block holding raw, declared as count records from first
 * to last ts, and no index. */
static void write_handmade_version(const char *path, int major, int minor, const uint8_t *raw,
                                   size_t raw_len, uint32_t count, uint64_t first,
                                   uint64_t last)
{
    uint8_t f[4096];
    size_t n = 16;
    static const struct { uint16_t id; const char *value; } fields[] = {
        { 1, "handmade.pcap" }, { 200, "unknown to 0.1" }, { 3, "hand" },
    };
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(fields[k].value);
        put_le(f + n, fields[k].id, 2);
        put_le(f + n + 2, len, 4);
        memcpy(f + n + 6, fields[k].value, len);
        n += 6 + len;
    }
    memcpy(f, "RPRZTRC1", 8);
    put_le(f + 8, (uint64_t)major, 2);
    put_le(f + 10, (uint64_t)minor, 2);
    put_le(f + 12, n + 8, 4);
    put_le(f + n, XXH64(f, n, 0), 8);
    n += 8;

    uint8_t *b = f + n;
    size_t comp = ZSTD_compress(b + BLOCK_HDR, sizeof f - n - BLOCK_HDR, raw, raw_len, 3);
    CHECK(!ZSTD_isError(comp));
    memset(b, 0, BLOCK_HDR);
    memcpy(b, "RPBK", 4);
    put_le(b + 8, count, 4);
    put_le(b + 12, comp, 4);
    put_le(b + 16, raw_len, 4);
    put_le(b + 24, first, 8);
    put_le(b + 32, last, 8);
    put_le(b + 40, XXH64(b + BLOCK_HDR, comp, 0), 8);
    reseal_block_header(b);
    spit(path, f, n + BLOCK_HDR + comp);
}

/* A format 0.9 trace, as a 0.x writer of a newer minor version makes. */
static void write_handmade(const char *path, const uint8_t *raw, size_t raw_len,
                           uint32_t count, uint64_t first, uint64_t last)
{
    write_handmade_version(path, 0, 9, raw, raw_len, count, first, last);
}

TEST(trace_newer_minor_is_read)
{
    struct tmpdir t;
    tmp_make(&t);
    uint8_t raw[256];
    memcpy(raw, hand_rec1, sizeof hand_rec1);
    memcpy(raw + sizeof hand_rec1, hand_rec2, sizeof hand_rec2);
    write_handmade(t.path, raw, sizeof hand_rec1 + sizeof hand_rec2, 2, 5000, 5010);

    char err[512];
    rp_trace_reader *r = NULL;
    rp_record rec;
    CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
    if (r != NULL) {
        const rp_trace_info *info = rp_trace_reader_info(r);
        CHECK_EQ_INT(info->version_minor, 9);
        CHECK_EQ_STR(info->source, "handmade.pcap");
        CHECK_EQ_STR(info->tool, "hand");
        CHECK_EQ_INT(info->has_index, 0);
        CHECK_EQ_INT(info->header_damaged, 0);

        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
        CHECK(rec.ts_ns == 5000);
        CHECK_EQ_INT(rec.conn_id, 5);
        CHECK_EQ_MEM(rec.method, rec.method_len, "GET");
        CHECK_EQ_MEM(rec.target, rec.target_len, "/a");
        CHECK_EQ_INT(rec.headers_len, 0);
        CHECK_EQ_MEM(rec.body, rec.body_len, "hi");

        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
        CHECK(rec.ts_ns == 5010);
        CHECK_EQ_INT(rec.http_minor, 0);
        CHECK_EQ_MEM(rec.method, rec.method_len, "HEAD");
        CHECK_EQ_INT(rec.flags, RP_REC_HAS_RESPONSE);
        CHECK_EQ_INT(rec.resp_status, 200);
        CHECK_EQ_INT(rec.resp_ttfb_ns, 5);
        CHECK_EQ_INT(rec.resp_ttlb_ns, 6);
        CHECK_EQ_INT(rec.resp_bytes, 7);
        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), RP_TRACE_EOF);
        rp_trace_reader_close(r);
    }
    tmp_cleanup(&t);
}

/* Blocks whose checksums match but whose records do not agree with the
 * block header are damaged. */
TEST(trace_malformed_records_rejected)
{
    struct tmpdir t;
    tmp_make(&t);
    uint8_t raw[256];
    size_t n1 = sizeof hand_rec1, n2 = sizeof hand_rec2;
    memcpy(raw, hand_rec1, n1);
    memcpy(raw + n1, hand_rec2, n2);
    raw[n1 + n2] = 0x55;

    const struct {
        size_t start, len; uint32_t count; uint64_t first, last; const char *what;
    } cases[] = {
        { 0, n1 + n2 + 1, 2, 5000, 5010, "a byte after the last record" },
        { 0, n1 + n2, 2, 5000, 5011, "last ts not as declared" },
        { n1, n2, 1, 5000, 5010, "first ts not as declared" },
        { 0, n1 + n2, 3, 5000, 5010, "fewer records than declared" },
        { 0, n1 - 4, 1, 5000, 5000, "a record cut short" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_handmade(t.path, raw + cases[c].start, cases[c].len, cases[c].count,
                       cases[c].first, cases[c].last);
        struct readout ro;
        read_trace(t.path, &ro);
        if (ro.corrupt != 1 || ro.n != 0)
            fprintf(stderr, "  case: %s\n", cases[c].what);
        CHECK_EQ_INT(ro.open_rc, 0);
        CHECK_EQ_INT(ro.n, 0);
        check_damage_reported(&ro, t.path, 16 + 6 * 3 + 13 + 14 + 4 + 8);
        CHECK(contains(ro.corrupt_err[0], "records are malformed"));
        free(ro.ids);
    }
    tmp_cleanup(&t);
}

/* ---- writer checks ---- */

TEST(trace_writer_rejects_earlier_ts)
{
    struct tmpdir t;
    tmp_make(&t);
    char err[512] = "";
    rp_trace_writer *w = NULL;
    rp_record rec = { .method = "GET", .method_len = 3, .target = "/", .target_len = 1 };
    CHECK_EQ_INT(rp_trace_writer_open(&w, t.path, NULL, NULL, err, sizeof err), 0);

    rec.ts_ns = 100;
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), 0);
    rec.ts_ns = 99;
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), RP_TRACE_EINVAL);
    CHECK(contains(err, "earlier than the previous"));
    CHECK(contains(err, t.path));
    rec.ts_ns = 100;    /* equal timestamps are allowed */
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), 0);
    CHECK_EQ_INT(rp_trace_writer_flush(w, err, sizeof err), 0);
    rec.ts_ns = 50;     /* also across a block boundary */
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), RP_TRACE_EINVAL);
    CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);

    rp_trace_reader *r = NULL;
    CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
    if (r != NULL) {
        CHECK_EQ_INT(rp_trace_reader_info(r)->records, 2);
        CHECK_EQ_INT(rp_trace_reader_info(r)->blocks, 1);
        rp_trace_reader_close(r);
    }
    tmp_cleanup(&t);
}

TEST(trace_writer_rejects_bad_input)
{
    struct tmpdir t;
    tmp_make(&t);
    char err[512] = "";
    rp_trace_writer *w = NULL;
    rp_trace_writer_opts bad_level = { 99, 0, 0 };
    CHECK_EQ_INT(rp_trace_writer_open(&w, t.path, NULL, &bad_level, err, sizeof err),
                 RP_TRACE_EINVAL);
    CHECK(w == NULL);
    CHECK(contains(err, "zstd level 99"));

    CHECK_EQ_INT(rp_trace_writer_open(&w, t.path, NULL, NULL, err, sizeof err), 0);
    rp_record rec = { .ts_ns = 1, .method = "PUT", .method_len = 3, .target = "/",
                      .target_len = 1 };
    rec.body_len = 5;   /* length without data */
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), RP_TRACE_EINVAL);

    uint8_t *huge = calloc(1, RP_TRACE_MAX_BLOCK_BYTES);
    rec.body = huge;
    rec.body_len = RP_TRACE_MAX_BLOCK_BYTES;
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), RP_TRACE_EINVAL);
    CHECK(contains(err, "too large"));
    rec.body_len = RP_TRACE_MAX_BLOCK_BYTES - 100;   /* the largest that fits */
    CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), 0);
    CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);
    free(huge);

    CHECK_EQ_INT(rp_trace_writer_open(&w, "/nonexistent-dir/x.rpz", NULL, NULL, err,
                                      sizeof err), RP_TRACE_EIO);
    CHECK(contains(err, "/nonexistent-dir/x.rpz"));
    tmp_cleanup(&t);
}

TEST(trace_file_mode_0600)
{
    struct tmpdir t;
    tmp_make(&t);
    spit(t.path, "old content", 11);
    CHECK(chmod(t.path, 0644) == 0);
    mode_t old = umask(0);
    write_trace(t.path, 3, NULL);
    umask(old);

    struct stat st;
    CHECK(stat(t.path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    struct readout ro;
    read_trace(t.path, &ro);
    check_ids_except(&ro, 3, 0, 0);
    free(ro.ids);
    tmp_cleanup(&t);
}

/* ---- truncated files ---- */

TEST(trace_truncated_at_block_boundary)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    CHECK_EQ_INT(l.n, 10);

    for (size_t k = 0; k <= l.n; k++) {
        uint64_t cut = k < l.n ? l.off[k] : l.blocks_end;
        spit(t.other, f, cut);
        struct readout ro;
        read_trace(t.other, &ro);
        CHECK_EQ_INT(ro.open_rc, 0);
        CHECK_EQ_INT(ro.info.has_index, 0);
        CHECK_EQ_INT(ro.info.index_damaged, 0);
        check_ids_except(&ro, 1000, k < l.n ? l.first_id[k] : 1000, 1000);
        CHECK_EQ_INT(ro.corrupt, 0);
        CHECK_EQ_INT(ro.end_rc, RP_TRACE_EOF);
        free(ro.ids);
    }
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_truncated_mid_block)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    size_t k = 6;
    uint64_t block_len = (k + 1 < l.n ? l.off[k + 1] : l.blocks_end) - l.off[k];

    /* Inside the payload: the block's record count is known. */
    spit(t.other, f, l.off[k] + BLOCK_HDR + (block_len - BLOCK_HDR) / 2);
    struct readout ro;
    read_trace(t.other, &ro);
    check_ids_except(&ro, 1000, l.first_id[k], 1000);
    check_damage_reported(&ro, t.other, l.off[k]);
    CHECK(contains(ro.corrupt_err[0], "truncated"));
    CHECK_EQ_INT(ro.lost, l.records[k]);
    free(ro.ids);

    /* Inside the block header. */
    spit(t.other, f, l.off[k] + 20);
    read_trace(t.other, &ro);
    check_ids_except(&ro, 1000, l.first_id[k], 1000);
    check_damage_reported(&ro, t.other, l.off[k]);
    CHECK(contains(ro.corrupt_err[0], "truncated"));
    free(ro.ids);
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_truncated_in_index_or_header)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 300, 100, &len, &l);
    struct readout ro;

    /* In the index and in the trailer: every block is still there. */
    uint64_t cuts[] = { l.blocks_end + 3, l.blocks_end + 20, len - 5 };
    for (size_t c = 0; c < 3; c++) {
        spit(t.other, f, cuts[c]);
        read_trace(t.other, &ro);
        check_ids_except(&ro, 300, 0, 0);
        CHECK_EQ_INT(ro.corrupt, 0);
        CHECK_EQ_INT(ro.info.has_index, 0);
        free(ro.ids);
    }

    /* In the file header: nothing to read. */
    uint64_t header_cuts[] = { 12, l.header_len - 1 };
    for (size_t c = 0; c < 2; c++) {
        spit(t.other, f, header_cuts[c]);
        read_trace(t.other, &ro);
        CHECK_EQ_INT(ro.open_rc, RP_TRACE_ECORRUPT);
        CHECK(contains(ro.open_err, "truncated"));
        CHECK(contains(ro.open_err, t.other));
    }
    free(f);
    tmp_cleanup(&t);
}

/* ---- damaged bytes ---- */

/* Damages block k of a 1000-record trace with edit, then reads it with and
 * without its index. header_ok is 1 when the block header checksum still
 * matches, so that the reader knows the block's record count. */
static void check_damaged_block(void (*edit)(uint8_t *block, uint64_t block_len),
                                int header_ok, const char *why)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    size_t k = 4;
    uint64_t block_len = l.off[k + 1] - l.off[k];
    edit(f + l.off[k], block_len);

    for (int with_index = 1; with_index >= 0; with_index--) {
        spit(t.other, f, with_index ? len : l.blocks_end);
        struct readout ro;
        read_trace(t.other, &ro);
        CHECK_EQ_INT(ro.open_rc, 0);
        CHECK_EQ_INT(ro.info.has_index, with_index);
        check_ids_except(&ro, 1000, l.first_id[k], l.first_id[k + 1]);
        check_damage_reported(&ro, t.other, l.off[k]);
        CHECK(contains(ro.corrupt_err[0], why));
        CHECK_EQ_INT(ro.lost, with_index || header_ok ? l.records[k] : 0);
        CHECK_EQ_INT(ro.good_blocks, l.n - 1);
        free(ro.ids);
    }
    free(f);
    tmp_cleanup(&t);
}

static void flip_payload_byte(uint8_t *b, uint64_t len)
{
    b[BLOCK_HDR + (len - BLOCK_HDR) / 2] ^= 0x20;
}

static void flip_header_byte(uint8_t *b, uint64_t len)
{
    (void)len;
    b[30] ^= 0x01;    /* inside first_ts */
}

static void break_zstd_frame(uint8_t *b, uint64_t len)
{
    b[BLOCK_HDR] ^= 0xff;    /* the zstd magic; checksums made to match */
    put_le(b + 40, XXH64(b + BLOCK_HDR, len - BLOCK_HDR, 0), 8);
    reseal_block_header(b);
}

static void declare_huge_raw_size(uint8_t *b, uint64_t len)
{
    (void)len;
    put_le(b + 16, 0xfffffff0u, 4);
    reseal_block_header(b);
}

TEST(trace_flipped_payload_byte)
{
    check_damaged_block(flip_payload_byte, 1, "checksum does not match");
}

TEST(trace_flipped_block_header_byte)
{
    check_damaged_block(flip_header_byte, 0, "header is invalid");
}

TEST(trace_zstd_error_in_block)
{
    check_damaged_block(break_zstd_frame, 1, "zstd frame");
}

TEST(trace_huge_declared_size)
{
    check_damaged_block(declare_huge_raw_size, 1, "invalid sizes");
}

TEST(trace_two_adjacent_damaged_headers)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    f[l.off[2] + 30] ^= 1;
    f[l.off[3] + 30] ^= 1;

    /* With the index, each block is reported; without it, the scan skips
     * both in one step. */
    struct readout ro;
    spit(t.path, f, len);
    read_trace(t.path, &ro);
    check_ids_except(&ro, 1000, l.first_id[2], l.first_id[4]);
    CHECK_EQ_INT(ro.corrupt, 2);
    CHECK_EQ_INT(ro.lost, l.records[2] + l.records[3]);
    free(ro.ids);

    spit(t.other, f, l.blocks_end);
    read_trace(t.other, &ro);
    check_ids_except(&ro, 1000, l.first_id[2], l.first_id[4]);
    check_damage_reported(&ro, t.other, l.off[2]);
    CHECK(contains(ro.corrupt_err[0], "skipped"));
    free(ro.ids);
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_block_out_of_order_rejected)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);

    /* Swap blocks 2 and 3 in a copy without index: 3 is read, then 2 is
     * earlier than what was delivered and counts as damaged. */
    uint8_t *g = malloc(l.blocks_end);
    uint64_t len2 = l.off[3] - l.off[2], len3 = l.off[4] - l.off[3];
    memcpy(g, f, l.off[2]);
    memcpy(g + l.off[2], f + l.off[3], len3);
    memcpy(g + l.off[2] + len3, f + l.off[2], len2);
    memcpy(g + l.off[4], f + l.off[4], l.blocks_end - l.off[4]);
    spit(t.other, g, l.blocks_end);

    struct readout ro;
    read_trace(t.other, &ro);
    CHECK_EQ_INT(ro.n, 900);
    check_damage_reported(&ro, t.other, l.off[2] + len3);
    CHECK(contains(ro.corrupt_err[0], "earlier"));
    free(ro.ids);
    free(g);
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_flipped_index_byte)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);

    /* An entry's offset, the entry count, and the trailer's index offset. */
    uint64_t spots[] = { l.blocks_end + 16 + 3 * 32 + 1, l.blocks_end + 8, len - 24 };
    for (size_t s = 0; s < 3; s++) {
        f[spots[s]] ^= 0x04;
        spit(t.other, f, len);
        f[spots[s]] ^= 0x04;

        struct readout ro;
        read_trace(t.other, &ro);
        CHECK_EQ_INT(ro.open_rc, 0);
        CHECK_EQ_INT(ro.info.has_index, 0);
        CHECK_EQ_INT(ro.info.index_damaged, 1);
        CHECK_EQ_INT(ro.info.records, 0);
        check_ids_except(&ro, 1000, 0, 0);
        CHECK_EQ_INT(ro.corrupt, 0);
        CHECK_EQ_INT(ro.end_rc, RP_TRACE_EOF);
        free(ro.ids);
    }
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_damaged_file_header)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 500, 100, &len, &l);

    /* A byte of the source field, then the header length made larger than
     * the file and larger than the limit, each with and without the index. */
    uint64_t spots[] = { 25, 14, 15 };
    for (size_t s = 0; s < 3; s++) {
        f[spots[s]] ^= 0x10;
        for (int with_index = 1; with_index >= 0; with_index--) {
            spit(t.other, f, with_index ? len : l.blocks_end);
            struct readout ro;
            read_trace(t.other, &ro);
            CHECK_EQ_INT(ro.open_rc, 0);
            CHECK_EQ_INT(ro.info.header_damaged, 1);
            CHECK_EQ_STR(ro.info.source, "");
            CHECK_EQ_INT(ro.info.has_index, with_index);
            check_ids_except(&ro, 500, 0, 0);
            CHECK_EQ_INT(ro.corrupt, 0);
            free(ro.ids);
        }
        f[spots[s]] ^= 0x10;
    }
    free(f);
    tmp_cleanup(&t);
}

/* ---- files that are not traces ---- */

TEST(trace_not_a_trace)
{
    struct tmpdir t;
    tmp_make(&t);
    static const uint8_t pcap[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
    spit(t.path, pcap, sizeof pcap);
    struct readout ro;
    read_trace(t.path, &ro);
    CHECK_EQ_INT(ro.open_rc, RP_TRACE_EFORMAT);
    CHECK(contains(ro.open_err, t.path));
    CHECK(contains(ro.open_err, "not a reprise trace (bad magic)"));
    CHECK(contains(ro.open_err, "reprise capture -r FILE.pcap -w FILE.rpz"));

    spit(t.path, "RPRZ", 4);
    read_trace(t.path, &ro);
    CHECK_EQ_INT(ro.open_rc, RP_TRACE_EFORMAT);

    read_trace(t.dir, &ro);
    CHECK_EQ_INT(ro.open_rc, RP_TRACE_EFORMAT);
    CHECK(contains(ro.open_err, "not a regular file"));
    tmp_cleanup(&t);
}

TEST(trace_empty_file)
{
    struct tmpdir t;
    tmp_make(&t);
    spit(t.path, "", 0);
    struct readout ro;
    read_trace(t.path, &ro);
    CHECK_EQ_INT(ro.open_rc, RP_TRACE_EFORMAT);
    CHECK(contains(ro.open_err, t.path));
    CHECK(contains(ro.open_err, "empty"));
    tmp_cleanup(&t);
}

TEST(trace_missing_file)
{
    struct readout ro;
    read_trace("/tmp/rp-test-no-such-trace.rpz", &ro);
    CHECK_EQ_INT(ro.open_rc, RP_TRACE_EIO);
    CHECK(contains(ro.open_err, "/tmp/rp-test-no-such-trace.rpz"));
    CHECK(contains(ro.open_err, "No such file"));
}

TEST(trace_future_major_version)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 10, 0, &len, &l);
    put_le(f + 8, 2, 2);
    put_le(f + 10, 0, 2);
    spit(t.other, f, len);

    struct readout ro;
    read_trace(t.other, &ro);
    CHECK_EQ_INT(ro.open_rc, RP_TRACE_EFORMAT);
    CHECK(contains(ro.open_err, t.other));
    CHECK(contains(ro.open_err, "written by a newer reprise (format 2.0); "
                                "this reprise reads formats 0.x and 1.x"));
    free(f);
    tmp_cleanup(&t);
}

/* ---- format 1 columns ---- */

/* Records whose time values need each unit from 1 ns to 1 s, and the
 * extremes of each field, written and read back exactly. */
TEST(trace_time_values_round_trip)
{
    struct tmpdir t;
    tmp_make(&t);
    static const struct {
        uint64_t ts, ttfb, ttlb;
    } cases[] = {
        { 1000000000000000000ull, 1000, 2000 },                 /* microseconds */
        { 1000000000000001000ull, 5000000, 4000000 },           /* ttlb before ttfb */
        { 1000000000000001000ull, 0, 0 },                       /* equal timestamps */
        { 1000000001000001000ull, 1000000000, 3000000000 },     /* whole seconds */
        { 1000000001000001001ull, 7, 3 },                       /* nanoseconds */
        { 1000000001000001001ull, UINT64_MAX, 0 },              /* extremes */
        { 1000000001000001001ull, 0, UINT64_MAX },
        { 1000000001000001001ull, 1ull << 63, 1 },
        { UINT64_MAX - 5, 123, 456 },
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (int per_block = 1; per_block <= 9; per_block += 8) {
        char err[512];
        rp_trace_writer *w = NULL;
        rp_trace_writer_opts opts = { 0, (uint32_t)per_block, 0 };
        CHECK_EQ_INT(rp_trace_writer_open(&w, t.path, NULL, &opts, err, sizeof err), 0);
        for (size_t i = 0; i < n; i++) {
            rp_record rec = { .ts_ns = cases[i].ts, .conn_id = UINT64_MAX - i,
                              .flags = RP_REC_HAS_RESPONSE | 0x80000000u, .http_major = 255,
                              .http_minor = (uint8_t)i, .method = "GET", .method_len = 3,
                              .target = "/", .target_len = 1, .resp_status = 65535,
                              .resp_ttfb_ns = cases[i].ttfb, .resp_ttlb_ns = cases[i].ttlb,
                              .resp_bytes = UINT64_MAX - i };
            CHECK_EQ_INT(rp_trace_writer_add(w, &rec, err, sizeof err), 0);
        }
        CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);

        rp_trace_reader *r = NULL;
        rp_record rec;
        CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
        for (size_t i = 0; r != NULL && i < n; i++) {
            CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
            CHECK(rec.ts_ns == cases[i].ts);
            CHECK(rec.resp_ttfb_ns == cases[i].ttfb);
            CHECK(rec.resp_ttlb_ns == cases[i].ttlb);
            CHECK(rec.conn_id == UINT64_MAX - i);
            CHECK(rec.resp_bytes == UINT64_MAX - i);
            CHECK_EQ_INT(rec.resp_status, 65535);
            CHECK_EQ_INT(rec.flags, RP_REC_HAS_RESPONSE | 0x80000000u);
            CHECK_EQ_INT(rec.http_major, 255);
            CHECK_EQ_INT(rec.http_minor, i);
        }
        if (r != NULL)
            CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), RP_TRACE_EOF);
        rp_trace_reader_close(r);
    }
    tmp_cleanup(&t);
}

static uint8_t *put_vint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* The payload of a format 1 block of two records, "GET /a" and "HEAD /",
 * 10 us apart, the second with a 200 response. extra appends a 14th
 * column of that many bytes, as a newer minor version could; bad 1 makes
 * a column too long and bad 2 adds a byte after the columns. */
static size_t columns_payload(uint8_t *raw, int unit_exp, size_t extra, int bad)
{
    uint8_t col[14][32];
    size_t len[14] = { 0 };
    uint8_t *p;
#define COL(k, ...) do { uint8_t v_[] = { __VA_ARGS__ }; memcpy(col[k] + len[k], v_, sizeof v_); \
                         len[k] += sizeof v_; } while (0)
    uint64_t unit = 1;
    for (int i = 0; i < unit_exp; i++)
        unit *= 10;
    p = put_vint(col[0], 0);
    p = put_vint(p, 10000 / unit);
    len[0] = (size_t)(p - col[0]);
    COL(1, 5, 6);                       /* conn ids */
    COL(2, 0, 2);                       /* flags */
    COL(3, 1, 1, 1, 0);                 /* versions */
    COL(4, 3, 2, 0, 2, 4, 1, 0, 0);     /* lengths */
    memcpy(col[5], "GETHEAD", 7);
    len[5] = 7;
    memcpy(col[6], "/a/", 3);
    len[6] = 3;
    memcpy(col[8], "hi", 2);
    len[8] = 2;
    COL(9, 0xc8, 0x01);                 /* status 200 */
    p = put_vint(col[10], 250000 / unit);
    len[10] = (size_t)(p - col[10]);
    p = put_vint(col[11], 2 * (50000 / unit));    /* zigzag of +50 us */
    len[11] = (size_t)(p - col[11]);
    COL(12, 120);
    memset(col[13], 0xee, extra);
    len[13] = extra;
#undef COL
    if (bad == 1)
        len[8]++;           /* the body column declares a byte too many */
    int ncols = extra ? 14 : 13;
    p = raw;
    p = put_vint(p, (uint64_t)unit_exp);
    p = put_vint(p, (uint64_t)ncols);
    for (int k = 0; k < ncols; k++)
        p = put_vint(p, len[k]);
    for (int k = 0; k < ncols; k++) {
        memcpy(p, col[k], len[k]);
        p += len[k];
    }
    if (bad == 2)
        *p++ = 0;           /* a byte after the columns */
    return (size_t)(p - raw);
}

TEST(trace_columns_read_with_newer_column)
{
    struct tmpdir t;
    tmp_make(&t);
    uint8_t raw[512];
    for (int exp = 0; exp <= 3; exp++) {
        size_t n = columns_payload(raw, exp, exp == 3 ? 9 : 0, 0);
        write_handmade_version(t.path, 1, 4, raw, n, 2, 5000, 15000);

        char err[512];
        rp_trace_reader *r = NULL;
        rp_record rec;
        CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
        if (r == NULL)
            continue;
        CHECK_EQ_INT(rp_trace_reader_info(r)->version_minor, 4);
        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
        CHECK(rec.ts_ns == 5000);
        CHECK_EQ_INT(rec.conn_id, 5);
        CHECK_EQ_MEM(rec.method, rec.method_len, "GET");
        CHECK_EQ_MEM(rec.target, rec.target_len, "/a");
        CHECK_EQ_MEM(rec.body, rec.body_len, "hi");
        CHECK_EQ_INT(rec.flags, 0);
        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
        CHECK(rec.ts_ns == 15000);
        CHECK_EQ_MEM(rec.method, rec.method_len, "HEAD");
        CHECK_EQ_MEM(rec.target, rec.target_len, "/");
        CHECK_EQ_INT(rec.http_minor, 0);
        CHECK_EQ_INT(rec.resp_status, 200);
        CHECK(rec.resp_ttfb_ns == 250000);
        CHECK(rec.resp_ttlb_ns == 300000);
        CHECK_EQ_INT(rec.resp_bytes, 120);
        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), RP_TRACE_EOF);
        rp_trace_reader_close(r);
    }
    tmp_cleanup(&t);
}

TEST(trace_malformed_columns_rejected)
{
    struct tmpdir t;
    tmp_make(&t);
    uint8_t raw[512];
    const struct {
        int exp, bad; uint32_t count; uint64_t last; const char *what;
    } cases[] = {
        { 0, 1, 2, 15000, "a column longer than its records use" },
        { 0, 2, 2, 15000, "a byte after the columns" },
        { 0, 0, 3, 15000, "more records declared than the columns hold" },
        { 0, 0, 1, 5000, "fewer records declared than the columns hold" },
        { 0, 0, 2, 15001, "last ts not as declared" },
        { 10, 0, 2, 15000, "a time exponent above 9" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = columns_payload(raw, cases[c].exp == 10 ? 0 : cases[c].exp, 0, cases[c].bad);
        if (cases[c].exp == 10)
            raw[0] = 10;
        write_handmade_version(t.path, 1, 0, raw, n, cases[c].count, 5000, cases[c].last);
        struct readout ro;
        read_trace(t.path, &ro);
        if (ro.corrupt != 1 || ro.n != 0)
            fprintf(stderr, "  case: %s\n", cases[c].what);
        CHECK_EQ_INT(ro.open_rc, 0);
        CHECK_EQ_INT(ro.n, 0);
        CHECK_EQ_INT(ro.corrupt, 1);
        CHECK(contains(ro.corrupt_err[0], "records are malformed"));
        free(ro.ids);
    }
    tmp_cleanup(&t);
}

/* ---- history ---- */

TEST(trace_history_round_trip)
{
    struct tmpdir t;
    tmp_make(&t);
    rp_trace_meta meta = test_meta;
    meta.history = "reprise 1.0.0: slice a.rpz -o b.rpz --from 5m\nreprise 1.0.0: sample 10";
    meta.redaction = "headers authorization";
    meta.sample = "10%";
    char err[512];
    rp_trace_writer *w = NULL;
    CHECK_EQ_INT(rp_trace_writer_open(&w, t.path, &meta, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);
    struct readout ro;
    read_trace(t.path, &ro);
    CHECK_EQ_STR(ro.info.history, meta.history);
    CHECK_EQ_STR(ro.info.redaction, "headers authorization");
    CHECK_EQ_STR(ro.info.sample, "10%");
    CHECK_EQ_STR(ro.info.source, "capture.pcap");
    free(ro.ids);
    tmp_cleanup(&t);
}

/* ---- seeking ---- */

/* Seeks to each probe time and checks the first record read. */
static void check_seeks(const char *path, uint64_t n)
{
    char err[512];
    rp_trace_reader *r = NULL;
    rp_record rec;
    CHECK_EQ_INT(rp_trace_reader_open(&r, path, err, sizeof err), 0);
    if (r == NULL)
        return;
    uint64_t probes[] = { 0, 1, 2, 3, 150, 299, 499, 500, 501, 777, n - 1 };
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        uint64_t i = probes[k];
        CHECK_EQ_INT(rp_trace_reader_seek(r, gen_ts(i), err, sizeof err), 0);
        CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
        /* Records share timestamps: the first with this one comes. */
        uint64_t first = i;
        while (first > 0 && gen_ts(first - 1) == gen_ts(i))
            first--;
        CHECK_EQ_INT(check_record(&rec), first);
    }
    /* Between two timestamps: the later one. */
    CHECK_EQ_INT(rp_trace_reader_seek(r, gen_ts(30) + 1, err, sizeof err), 0);
    CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
    CHECK_EQ_INT(check_record(&rec), 33);
    /* Before the start, and after the end. */
    CHECK_EQ_INT(rp_trace_reader_seek(r, 0, err, sizeof err), 0);
    CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
    CHECK_EQ_INT(check_record(&rec), 0);
    CHECK_EQ_INT(rp_trace_reader_seek(r, gen_ts(n - 1) + 1, err, sizeof err), 0);
    CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), RP_TRACE_EOF);
    rp_trace_reader_close(r);
}

TEST(trace_seek_with_and_without_index)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    check_seeks(t.path, 1000);
    spit(t.other, f, l.blocks_end);     /* the same blocks, no index */
    check_seeks(t.other, 1000);
    free(f);
    tmp_cleanup(&t);
}

/* Seeking decompresses only the block that holds the time: with the
 * blocks before it damaged, it still finds its record and reports
 * nothing. */
TEST(trace_seek_skips_blocks_before)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    for (int with_index = 1; with_index >= 0; with_index--) {
        uint8_t *g = malloc(len);
        memcpy(g, f, len);
        for (size_t k = 0; k < 5; k++)
            g[l.off[k] + BLOCK_HDR + 3] ^= 0x20;    /* payload bytes */
        spit(t.other, g, with_index ? len : l.blocks_end);
        char err[512];
        rp_trace_reader *r = NULL;
        rp_record rec;
        CHECK_EQ_INT(rp_trace_reader_open(&r, t.other, err, sizeof err), 0);
        if (r != NULL) {
            CHECK_EQ_INT(rp_trace_reader_seek(r, gen_ts(l.first_id[6] + 4), err, sizeof err), 0);
            CHECK_EQ_INT(rp_trace_reader_next(r, &rec, err, sizeof err), 0);
            uint64_t first = l.first_id[6] + 4;
            while (gen_ts(first - 1) == gen_ts(l.first_id[6] + 4))
                first--;
            CHECK_EQ_INT(check_record(&rec), first);
            CHECK_EQ_INT(rp_trace_reader_bad_blocks(r), 0);
            CHECK_EQ_INT(rp_trace_reader_good_blocks(r), 1);
            rp_trace_reader_close(r);
        }
        free(g);
    }
    free(f);
    tmp_cleanup(&t);
}

/* ---- repair ---- */

struct damage_log {
    int n;
    char first[512];
};

static void log_damage(void *ctx, const char *msg)
{
    struct damage_log *d = ctx;
    if (d->n++ == 0)
        snprintf(d->first, sizeof d->first, "%s", msg);
}

TEST(trace_repair_truncated_trace)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    char out[160], err[512];
    snprintf(out, sizeof out, "%s/repaired.rpz", t.dir);

    /* Cut in the middle of block 7: blocks 0 to 6 survive. */
    spit(t.other, f, l.off[7] + 100);
    struct damage_log d = { 0 };
    rp_trace_repair_opts opts = { "reprise test: repair", log_damage, &d };
    rp_trace_repair_stats st;
    CHECK_EQ_INT(rp_trace_repair(t.other, out, &opts, &st, err, sizeof err), 0);
    CHECK_EQ_INT(st.blocks, 7);
    CHECK_EQ_INT(st.records, 700);
    CHECK_EQ_INT(st.bad_blocks, 1);
    CHECK_EQ_INT(st.lost_records, 100);
    CHECK_EQ_INT(st.had_index, 0);
    CHECK_EQ_INT(d.n, 1);
    CHECK(contains(d.first, "truncated"));

    struct readout ro;
    read_trace(out, &ro);
    CHECK_EQ_INT(ro.info.has_index, 1);
    CHECK_EQ_INT(ro.info.records, 700);
    CHECK_EQ_STR(ro.info.source, "capture.pcap");
    CHECK_EQ_STR(ro.info.history, "reprise test: repair");
    check_ids_except(&ro, 1000, 700, 1000);
    CHECK_EQ_INT(ro.corrupt, 0);
    free(ro.ids);

    struct stat sb;
    CHECK(stat(out, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_repair_damaged_block_and_header)
{
    struct tmpdir t;
    tmp_make(&t);
    size_t len;
    struct layout l;
    uint8_t *f = make_trace(t.path, 1000, 100, &len, &l);
    char out[160], err[512];
    snprintf(out, sizeof out, "%s/repaired.rpz", t.dir);

    f[l.off[3] + BLOCK_HDR + 10] ^= 0x01;     /* block 3's payload */
    f[20] ^= 0x01;                            /* the header's source */
    spit(t.other, f, len);
    rp_trace_repair_stats st;
    CHECK_EQ_INT(rp_trace_repair(t.other, out, NULL, &st, err, sizeof err), 0);
    CHECK_EQ_INT(st.records, 900);
    CHECK_EQ_INT(st.bad_blocks, 1);
    CHECK_EQ_INT(st.had_index, 1);
    CHECK_EQ_INT(st.header_damaged, 1);

    struct readout ro;
    read_trace(out, &ro);
    CHECK_EQ_INT(ro.info.header_damaged, 0);
    CHECK_EQ_INT(ro.info.has_index, 1);
    CHECK_EQ_STR(ro.info.source, "");
    CHECK_EQ_INT(ro.info.version_major, RP_TRACE_VERSION_MAJOR);
    check_ids_except(&ro, 1000, l.first_id[3], l.first_id[4]);
    free(ro.ids);
    free(f);
    tmp_cleanup(&t);
}

TEST(trace_repair_rejects_same_file)
{
    struct tmpdir t;
    tmp_make(&t);
    write_trace(t.path, 10, NULL);
    char err[512], alias[200];
    snprintf(alias, sizeof alias, "%s/../%s/trace.rpz", t.dir, strrchr(t.dir, '/') + 1);
    CHECK_EQ_INT(rp_trace_repair(t.path, t.path, NULL, NULL, err, sizeof err), RP_TRACE_EINVAL);
    CHECK_EQ_INT(rp_trace_repair(t.path, alias, NULL, NULL, err, sizeof err), RP_TRACE_EINVAL);
    CHECK(contains(err, "into itself"));
    struct readout ro;
    read_trace(t.path, &ro);
    check_ids_except(&ro, 10, 0, 0);
    free(ro.ids);
    tmp_cleanup(&t);
}

/* ---- format 0.1 and golden files ---- */

/* Format 0.1 files, as the 0.1 writer made them, read with their rows. */
TEST(trace_reads_format_0_1_golden)
{
    static const struct { const char *path; uint64_t records; } files[] = {
        { "tests/data/golden/v0.1-pipelined.rpz", 40 },
        { "tests/data/golden/v0.1-browse.rpz", 17 },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char err[512];
        rp_trace_reader *r = NULL;
        rp_record rec;
        CHECK_EQ_INT(rp_trace_reader_open(&r, files[i].path, err, sizeof err), 0);
        if (r == NULL) {
            fprintf(stderr, "  %s\n", err);
            continue;
        }
        CHECK_EQ_INT(rp_trace_reader_info(r)->version_major, 0);
        CHECK_EQ_INT(rp_trace_reader_info(r)->version_minor, 1);
        uint64_t n = 0;
        while (rp_trace_reader_next(r, &rec, err, sizeof err) == 0)
            n++;
        CHECK_EQ_INT(n, files[i].records);
        CHECK_EQ_INT(rp_trace_reader_bad_blocks(r), 0);
        rp_trace_reader_close(r);
    }
}

TEST(trace_reader_counts_bytes)
{
    struct tmpdir t;
    tmp_make(&t);
    write_trace(t.path, 300, &(rp_trace_writer_opts){ 0, 100, 0 });
    char err[512];
    rp_trace_reader *r = NULL;
    rp_record rec;
    CHECK_EQ_INT(rp_trace_reader_open(&r, t.path, err, sizeof err), 0);
    if (r != NULL) {
        while (rp_trace_reader_next(r, &rec, err, sizeof err) == 0)
            ;
        uint64_t comp, raw;
        rp_trace_reader_bytes(r, &comp, &raw);
        const rp_trace_info *info = rp_trace_reader_info(r);
        /* Blocks fill the file but for the header, index and trailer. */
        CHECK(comp > 3 * 56);
        CHECK(comp < info->file_bytes);
        CHECK(raw > comp);
        rp_trace_reader_close(r);
    }
    tmp_cleanup(&t);
}
