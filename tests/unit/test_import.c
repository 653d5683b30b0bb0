/* Import readers: each format on the hand-made files in tests/data/import,
 * then bad input: every truncation, flipped bytes, empty files, other
 * formats and a future HAR version. Paths are relative to the
 * repository root, where tests/run starts the unit tests. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "formats/import.h"

#define DATA "tests/data/import/"

/* ---- collecting what an import gives ---- */

struct got_rec {
    uint64_t ts, conn;
    char method[16];
    char target[128];
    char headers[1024];
    uint8_t body[256];
    uint32_t body_len, flags;
    uint16_t status;
    uint64_t ttfb, ttlb, bytes;
    uint8_t major, minor;
};

struct result {
    int rc;
    char err[512];
    rp_import_format used;
    rp_import_stats st;
    struct got_rec rec[64];
    size_t n;
    char first_skip[512];
};

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int take(void *ctx, const rp_record *rec)
{
    struct result *r = ctx;
    if (r->n == sizeof r->rec / sizeof r->rec[0])
        return 0;
    struct got_rec *g = &r->rec[r->n++];
    g->ts = rec->ts_ns;
    g->conn = rec->conn_id;
    copy_str(g->method, sizeof g->method, rec->method, rec->method_len);
    copy_str(g->target, sizeof g->target, rec->target, rec->target_len);
    copy_str(g->headers, sizeof g->headers, rec->headers, rec->headers_len);
    g->body_len = rec->body_len < sizeof g->body ? rec->body_len : sizeof g->body;
    if (g->body_len > 0)
        memcpy(g->body, rec->body, g->body_len);
    g->flags = rec->flags;
    g->status = rec->resp_status;
    g->ttfb = rec->resp_ttfb_ns;
    g->ttlb = rec->resp_ttlb_ns;
    g->bytes = rec->resp_bytes;
    g->major = rec->http_major;
    g->minor = rec->http_minor;
    return 0;
}

static void skipped(void *ctx, const char *unit, uint64_t where, const char *why)
{
    struct result *r = ctx;
    if (r->first_skip[0] == '\0')
        snprintf(r->first_skip, sizeof r->first_skip, "%s %llu: %s", unit,
                 (unsigned long long)where, why);
}

static void import(const char *path, rp_import_format f, struct result *r)
{
    memset(r, 0, sizeof *r);
    rp_import_sink sink = { take, skipped, r };
    r->rc = rp_import_file(path, f, &r->used, &sink, &r->st, r->err, sizeof r->err);
}

static int contains(const char *s, const char *part)
{
    if (strstr(s, part) != NULL)
        return 1;
    fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", s, part);
    return 0;
}

/* ---- temporary files ---- */

static char tmp_dir[64];

static const char *tmp_file(const char *name)
{
    static char path[128];
    if (tmp_dir[0] == '\0') {
        strcpy(tmp_dir, "/tmp/rp-test-import-XXXXXX");
        if (mkdtemp(tmp_dir) == NULL)
            exit(1);
    }
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static void tmp_cleanup(void)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char p[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(tmp_dir);
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

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* ---- the formats ---- */

TEST(import_har_from_chrome)
{
    struct result r;
    import(DATA "chrome.har", RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.used, RP_IMPORT_HAR);
    CHECK_EQ_STR(r.st.version, "1.2");
    CHECK_EQ_INT(r.st.items, 5);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.st.ignored, 2);      /* from the cache, and a data: URL */
    CHECK_EQ_INT(r.st.skipped, 0);
    CHECK_EQ_INT(r.st.http2, 1);

    /* In file order: the page, the POST, the HTTP/2 request. */
    struct got_rec *g = &r.rec[0];
    CHECK(g->ts == 1733220902117000000ull);
    CHECK_EQ_INT(g->conn, 31742);
    CHECK_EQ_STR(g->method, "GET");
    CHECK_EQ_STR(g->target, "/products/8812?ref=home&utm_source=mail");
    CHECK(contains(g->headers, "Cookie: sessionid=4c1f0a9e2b7d; theme=dark\r\n"));
    CHECK_EQ_INT(g->flags, RP_REC_HAS_RESPONSE);
    CHECK_EQ_INT(g->status, 200);
    CHECK_EQ_INT(g->ttfb, 71834000);
    CHECK_EQ_INT(g->ttlb, 81614000);
    CHECK_EQ_INT(g->bytes, 5419);

    g = &r.rec[1];
    CHECK_EQ_STR(g->method, "POST");
    CHECK(g->ts == 1733220903402000000ull);
    CHECK_EQ_INT(g->body_len, 53);
    CHECK(memcmp(g->body, "{\"sku\":\"SKU-08812\",\"qty\":2,\"note\":\"gift \\\"wrap\\\" \xc3\xa9\"}",
                 53) == 0);
    CHECK_EQ_INT(g->status, 201);

    g = &r.rec[2];
    CHECK_EQ_STR(g->target, "/v2/recommendations/3f2504e0-4f89-11d3-9a0c-0305e82c3301?limit=4");
    CHECK_EQ_INT(g->conn, 40118);
    CHECK_EQ_INT(g->major, 1);
    CHECK_EQ_INT(g->minor, 1);
    CHECK_EQ_INT(g->flags, 0);          /* status 0: no response */
    /* Pseudo-headers left out, Host from :authority first. */
    CHECK(strncmp(g->headers, "Host: api.example.com\r\naccept: application/json\r\n", 48) == 0);
    CHECK(strstr(g->headers, ":authority") == NULL);
}

TEST(import_gor_pairs_responses)
{
    struct result r;
    import(DATA "sample.gor", RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.used, RP_IMPORT_GOR);
    CHECK_EQ_INT(r.st.items, 7);
    CHECK_EQ_INT(r.n, 4);
    CHECK_EQ_INT(r.st.responses, 2);
    CHECK_EQ_INT(r.st.ignored, 1);      /* the replayed response */
    CHECK_EQ_INT(r.st.unpaired, 0);

    CHECK_EQ_STR(r.rec[0].target, "/api/v1/products/8812?fields=name,price");
    CHECK_EQ_INT(r.rec[0].status, 200);
    CHECK_EQ_INT(r.rec[0].ttfb, 12500000);
    CHECK_EQ_STR(r.rec[1].method, "POST");
    CHECK_EQ_INT(r.rec[1].body_len, 40);
    CHECK_EQ_INT(r.rec[1].status, 201);
    CHECK_EQ_INT(r.rec[1].ttfb, 40000000);
    CHECK_EQ_INT(r.rec[1].flags, RP_REC_HAS_RESPONSE);
    /* The chunked body is stored decoded, and flagged. */
    CHECK_EQ_STR(r.rec[2].method, "PUT");
    CHECK_EQ_INT(r.rec[2].flags, RP_REC_CHUNKED);
    CHECK_EQ_INT(r.rec[2].body_len, 8);
    CHECK(memcmp(r.rec[2].body, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK_EQ_STR(r.rec[3].target, "/healthz");
    CHECK_EQ_INT(r.rec[3].minor, 0);
    CHECK_EQ_STR(r.rec[3].headers, "");
    /* Each request is its own connection. */
    CHECK(r.rec[0].conn != r.rec[1].conn);
    CHECK(r.rec[1].conn != r.rec[2].conn);
}

TEST(import_access_logs)
{
    struct result r;
    import(DATA "nginx-combined.log", RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.used, RP_IMPORT_ACCESS_LOG);
    CHECK_EQ_INT(r.st.items, 8);
    CHECK_EQ_INT(r.n, 6);
    CHECK_EQ_INT(r.st.skipped, 2);      /* a TLS probe and "-" */
    CHECK(contains(r.first_skip, "line 5"));
    CHECK(r.rec[0].ts == 1733220902000000000ull);
    CHECK_EQ_STR(r.rec[4].target, "/search?q=\"lamp\"");
    CHECK_EQ_STR(r.rec[5].method, "HEAD");
    CHECK(r.rec[5].ts == 1733220907000000000ull);      /* +0100 */
    CHECK_EQ_INT(r.rec[5].minor, 0);
    CHECK_EQ_STR(r.rec[0].headers, "");
    CHECK_EQ_INT(r.rec[0].flags, 0);

    import(DATA "apache-common.log", RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.n, 4);
    CHECK(r.rec[0].ts == 971211336000000000ull);       /* 2000-10-10T20:55:36Z */
    CHECK_EQ_STR(r.rec[2].target, "*");
    CHECK_EQ_STR(r.rec[3].target, "/cgi-bin/q.cgi?name=\"x\"");
}

TEST(import_jsonl_members)
{
    const char *path = tmp_file("members.jsonl");
    const char *text =
        "{\"ts_ns\":5,\"conn_id\":\"18446744073709551615\",\"method\":\"GET\",\"target\":\"/a\","
        "\"version\":\"1.0\",\"headers\":[[\"Host\",\"x\"],[\"X-Pad\",\"  two\"]],\"body\":\"\","
        "\"flags\":[\"chunked\",\"0x100\"],\"response\":{\"status\":404,\"ttfb_ns\":7,"
        "\"ttlb_ns\":\"18446744073709551614\",\"bytes\":9}}\n"
        "\n"
        "{\"time\":\"1970-01-01T00:00:00.000000010Z\",\"method_base64\":\"/w==\",\"target\":\"/\","
        "\"headers_raw\":\"Host:y\\r\\nbare\\n\",\"body_base64\":\"AAEC\"}\n"
        "{\"ts_ns\":11,\"method\":\"GET\",\"target\":\"/\",\"flags\":[\"bogus\"]}\n"
        "[1,2]\n"
        "{\"ts_ns\":12,\"method\":\"GET\"}\n"
        "{\"ts_ns\":-1,\"method\":\"GET\",\"target\":\"/\"}\n"
        "{\"ts_ns\":13,\"method\":\"GET\",\"target\":\"/\",\"body_base64\":\"@@\"}\n"
        "{\"ts_ns\":14,\"method\":\"GET\",\"target\":\"/\"";
    spit(path, text, strlen(text));

    struct result r;
    import(path, RP_IMPORT_JSONL, &r);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.st.items, 9);
    CHECK_EQ_INT(r.st.ignored, 1);      /* the empty line */
    CHECK_EQ_INT(r.st.skipped, 6);

    CHECK(r.rec[0].conn == UINT64_MAX);
    CHECK(r.rec[0].ttlb == UINT64_MAX - 1);
    CHECK_EQ_STR(r.rec[0].headers, "Host: x\r\nX-Pad:   two\r\n");
    CHECK_EQ_INT(r.rec[0].flags, RP_REC_CHUNKED | 0x100 | RP_REC_HAS_RESPONSE);
    CHECK_EQ_INT(r.rec[0].minor, 0);

    CHECK_EQ_INT(r.rec[1].ts, 10);
    CHECK_EQ_INT(r.rec[1].conn, 3);     /* no conn_id: the line number */
    CHECK_EQ_STR(r.rec[1].method, "\xff");
    CHECK_EQ_STR(r.rec[1].headers, "Host:y\r\nbare\n");
    CHECK_EQ_INT(r.rec[1].body_len, 3);
    CHECK(memcmp(r.rec[1].body, "\0\1\2", 3) == 0);
    tmp_cleanup();
}

/* ---- bad input ---- */

TEST(import_empty_and_foreign_files)
{
    struct result r;
    const char *path = tmp_file("empty");
    spit(path, "", 0);
    import(path, RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, RP_TRACE_EFORMAT);
    CHECK(contains(r.err, "is empty"));
    CHECK(contains(r.err, path));
    import(path, RP_IMPORT_HAR, &r);
    CHECK_EQ_INT(r.rc, RP_TRACE_EFORMAT);

    static const struct { const char *bytes; size_t len; const char *why; } foreign[] = {
        { "RPRZTRC1\1\0\0\0", 12, "already a reprise trace" },
        { "\xd4\xc3\xb2\xa1\2\0\4\0", 8, "reprise capture -r" },
        { "\x1f\x8b\x08\0", 4, "gzip" },
        { "hello world\n", 12, "--format" },
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        spit(path, foreign[i].bytes, foreign[i].len);
        import(path, RP_IMPORT_AUTO, &r);
        CHECK_EQ_INT(r.rc, RP_TRACE_EFORMAT);
        CHECK(contains(r.err, foreign[i].why));
    }

    /* Forced formats on the wrong input: nothing usable, each item
     * reported, or the file rejected. */
    import(DATA "sample.gor", RP_IMPORT_HAR, &r);
    CHECK_EQ_INT(r.rc, RP_TRACE_EFORMAT);
    CHECK(contains(r.err, "not a HAR file"));
    import(DATA "chrome.har", RP_IMPORT_ACCESS_LOG, &r);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.n, 0);
    CHECK(r.st.skipped > 0);
    import("/tmp/rp-test-no-such-file.har", RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, RP_TRACE_EIO);
    CHECK(contains(r.err, "No such file"));
    tmp_cleanup();
}

TEST(import_har_future_version)
{
    size_t len;
    uint8_t *har = slurp(DATA "chrome.har", &len);
    CHECK(har != NULL);
    if (har == NULL)
        return;
    char *v = strstr((char *)har, "\"version\": \"1.2\"");
    CHECK(v != NULL);
    if (v != NULL)
        v[12] = '2';
    const char *path = tmp_file("future.har");
    spit(path, har, len);
    struct result r;
    import(path, RP_IMPORT_AUTO, &r);
    CHECK_EQ_INT(r.rc, RP_TRACE_EFORMAT);
    CHECK(contains(r.err, "HAR version 2.2"));
    CHECK(contains(r.err, "reads HAR 1.x"));
    free(har);
    tmp_cleanup();
}

/* Writes the JSON Lines form of the HAR requests, so that every format
 * has a multi-record file to cut. */
static const char *jsonl_sample(void)
{
    const char *path = tmp_file("sample.jsonl");
    const char *text =
        "{\"ts_ns\":1000,\"conn_id\":1,\"method\":\"GET\",\"target\":\"/a\",\"headers\":[[\"Host\",\"h\"]]}\n"
        "{\"ts_ns\":2000,\"conn_id\":1,\"method\":\"POST\",\"target\":\"/b\",\"body\":\"x=1\"}\n"
        "{\"ts_ns\":3000,\"conn_id\":2,\"method\":\"GET\",\"target\":\"/c\",\"response\":{\"status\":200}}\n"
        "{\"ts_ns\":4000,\"conn_id\":2,\"method\":\"PUT\",\"target\":\"/d\",\"body_base64\":\"AAEC\"}\n";
    spit(path, text, strlen(text));
    return path;
}

/* Cuts the file at every length, and checks that each import gives a
 * prefix of the full one's requests and does not fail outright except on
 * the format itself. */
static void check_truncations(const char *src, rp_import_format f)
{
    size_t len;
    uint8_t *data = slurp(src, &len);
    CHECK(data != NULL);
    if (data == NULL)
        return;
    struct result full, r;
    import(src, f, &full);
    CHECK_EQ_INT(full.rc, 0);
    const char *path = tmp_file("cut");
    size_t prev = 0;
    for (size_t cut = 0; cut < len; cut++) {
        spit(path, data, cut);
        import(path, f, &r);
        if (r.rc != 0) {
            /* The empty file, or a HAR cut before its entries. */
            CHECK(r.rc == RP_TRACE_EFORMAT);
            CHECK(r.n == 0);
            continue;
        }
        CHECK(r.n <= full.n);
        CHECK(r.n >= prev || f == RP_IMPORT_GOR);   /* a request may wait for its response */
        for (size_t i = 0; i < r.n && i < full.n; i++) {
            if (strcmp(r.rec[i].target, full.rec[i].target) != 0 ||
                (r.rec[i].ts != full.rec[i].ts && f != RP_IMPORT_GOR)) {
                fprintf(stderr, "  %s cut at %zu: request %zu is %s, expected %s\n", src, cut,
                        i, r.rec[i].target, full.rec[i].target);
                CHECK(0);
                break;
            }
        }
        prev = r.n;
    }
    free(data);
}

TEST(import_truncated_at_every_byte)
{
    check_truncations(jsonl_sample(), RP_IMPORT_JSONL);
    check_truncations(DATA "chrome.har", RP_IMPORT_HAR);
    check_truncations(DATA "sample.gor", RP_IMPORT_GOR);
    check_truncations(DATA "nginx-combined.log", RP_IMPORT_ACCESS_LOG);
    tmp_cleanup();
}

/* Flips one byte at each position in turn: the import never fails after
 * the format is known, and loses at most two requests. */
static void check_flips(const char *src, rp_import_format f, size_t from)
{
    size_t len;
    uint8_t *data = slurp(src, &len);
    CHECK(data != NULL);
    if (data == NULL)
        return;
    struct result full, r;
    import(src, f, &full);
    const char *path = tmp_file("flipped");
    int reported = 0;
    for (size_t pos = from; pos < len; pos++) {
        static const uint8_t masks[] = { 0x01, 0x20, 0x80 };
        for (size_t m = 0; m < sizeof masks; m++) {
            data[pos] ^= masks[m];
            spit(path, data, len);
            import(path, f, &r);
            data[pos] ^= masks[m];
            if (r.rc != 0 || r.n + 2 < full.n) {
                if (reported++ < 3)
                    fprintf(stderr, "  %s, byte %zu ^ 0x%02x: rc %d, %zu of %zu requests: %s\n",
                            src, pos, masks[m], r.rc, r.n, full.n, r.err);
                CHECK(r.rc == 0);
                CHECK(r.n + 2 >= full.n);
            }
        }
    }
    free(data);
}

TEST(import_flipped_bytes)
{
    check_flips(jsonl_sample(), RP_IMPORT_JSONL, 0);
    /* A HAR with a damaged log or entries key is not a HAR file any more:
     * flips start inside the first entry. */
    size_t len;
    uint8_t *har = slurp(DATA "chrome.har", &len);
    const char *entries = har ? strstr((char *)har, "\"entries\": [") : NULL;
    CHECK(entries != NULL);
    if (entries != NULL)
        check_flips(DATA "chrome.har", RP_IMPORT_HAR, (size_t)(entries - (char *)har) + 13);
    free(har);
    check_flips(DATA "sample.gor", RP_IMPORT_GOR, 0);
    check_flips(DATA "nginx-combined.log", RP_IMPORT_ACCESS_LOG, 0);
    tmp_cleanup();
}

/* ---- helpers ---- */

TEST(import_rfc3339_times)
{
    uint64_t ns;
    CHECK_EQ_INT(rp_parse_rfc3339("1970-01-01T00:00:00Z", 20, &ns), 0);
    CHECK_EQ_INT(ns, 0);
    CHECK_EQ_INT(rp_parse_rfc3339("2024-12-03T11:00:00.5+01:00", 27, &ns), 0);
    CHECK(ns == 1733220000500000000ull);
    CHECK_EQ_INT(rp_parse_rfc3339("2024-12-03 10:00:00.123456789z", 30, &ns), 0);
    CHECK(ns == 1733220000123456789ull);
    static const char *const bad[] = {
        "2024-12-03T10:00:00", "2024-12-03T10:00Z", "2024-13-03T10:00:00Z",
        "1969-12-31T23:59:59Z", "2024-12-03T10:00:00.Z", "2024-12-03T10:00:00Zjunk",
        "x", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (rp_parse_rfc3339(bad[i], strlen(bad[i]), &ns) != -1)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK_EQ_INT(rp_parse_rfc3339(bad[i], strlen(bad[i]), &ns), -1);
    }
}

struct order_log {
    uint64_t ts[16];
    char target[16];
    size_t n;
};

static int order_out(void *ctx, const rp_record *rec)
{
    struct order_log *l = ctx;
    l->ts[l->n] = rec->ts_ns;
    l->target[l->n++] = rec->target[0];
    return 0;
}

TEST(import_order_window)
{
    struct order_log l = { 0 };
    rp_import_order *o = rp_import_order_new(3, 0, order_out, &l);
    static const struct { uint64_t ts; char name; } in[] = {
        { 50, 'a' }, { 20, 'b' }, { 30, 'c' }, { 20, 'd' }, { 90, 'e' }, { 10, 'f' }, { 95, 'g' },
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        rp_record rec = { .ts_ns = in[i].ts, .target = &in[i].name, .target_len = 1 };
        CHECK_EQ_INT(rp_import_order_add(o, &rec), 0);
    }
    CHECK_EQ_INT(rp_import_order_drain(o), 0);
    /* f (10) comes after 20 and 20 have left: it gets their time. */
    CHECK_EQ_INT(l.n, 7);
    CHECK(memcmp(l.target, "bdfcaeg", 7) == 0);
    static const uint64_t want[] = { 20, 20, 20, 30, 50, 90, 95 };
    for (size_t i = 0; i < 7; i++)
        CHECK_EQ_INT(l.ts[i], want[i]);
    uint64_t shift;
    CHECK_EQ_INT(rp_import_order_late(o, &shift), 1);
    CHECK_EQ_INT(shift, 10);
    rp_import_order_free(o);
}
