/* HdrHistogram V2 encoding: a vector made by HdrHistogram's Java library
 * (2.1.11, Debian's libhdrhistogram-java), round trips, damaged input,
 * base64 and the interval log lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formats/hdrhist.h"

/* Java: new Histogram(1, 3600000000L, 3), values 0, 1, 2, 2, 1000 x5,
 * 2047, 2048, 2049, 123456, 3000000 x3, 3600000000; encodeIntoByteBuffer
 * (hex) and encodeIntoCompressedByteBuffer (base64). */
static const char java_raw_hex[] =
    "1c849313000000140000000000000003000000000000000100000000d693a4003ff0000000000000"
    "020204c90f0aab1002048f5e02db4806f5a30102";
static const char java_b64[] =
    "HISTFAAAADV4nJNpmSzMwMAgwgABzFCaEURcm7yEwf4DRICJieUkP9dqASaW/jim2x5sXxczMgEA3+0J+Q==";

static rp_hist *vector_hist(void)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    rp_hist_record(h, 0);
    rp_hist_record(h, 1);
    rp_hist_record_n(h, 2, 2);
    rp_hist_record_n(h, 1000, 5);
    rp_hist_record(h, 2047);
    rp_hist_record(h, 2048);
    rp_hist_record(h, 2049);
    rp_hist_record(h, 123456);
    rp_hist_record_n(h, 3000000, 3);
    rp_hist_record(h, 3600000000ull);
    return h;
}

static char *hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

TEST(hdrhist_raw_matches_java)
{
    rp_hist *h = vector_hist();
    uint8_t *raw;
    size_t len;
    char err[256];
    CHECK_EQ_INT(rp_hdrhist_encode_raw(h, RP_HIST_HOUR_US, 3, &raw, &len, err, sizeof err), 0);
    char *text = hex(raw, len);
    CHECK_EQ_STR(text, java_raw_hex);
    free(text);
    free(raw);
    rp_hist_free(h);
}

TEST(hdrhist_compressed_matches_java)
{
    /* zlib at its default level produces the same stream as Java's
     * Deflater, which wraps the same library. */
    rp_hist *h = vector_hist();
    char *b64;
    char err[256];
    CHECK_EQ_INT(rp_hdrhist_encode(h, RP_HIST_HOUR_US, 3, &b64, err, sizeof err), 0);
    CHECK_EQ_STR(b64, java_b64);
    CHECK(strncmp(b64, "HISTFAAA", 8) == 0);
    free(b64);
    rp_hist_free(h);
}

TEST(hdrhist_decodes_java_vector)
{
    rp_hist *h = NULL;
    char err[256];
    CHECK_EQ_INT(rp_hdrhist_decode(java_b64, &h, err, sizeof err), 0);
    CHECK(h != NULL);
    CHECK_EQ_INT(rp_hist_count(h), 17);
    /* Java reports 1000, 3000319, 3600809983 for p50, p90, p99. */
    CHECK_EQ_INT(rp_hist_percentile(h, 50), 1000);
    CHECK_EQ_INT(rp_hist_percentile(h, 90), 3000319);
    CHECK_EQ_INT(rp_hist_percentile(h, 99), 3600809983ull);
    CHECK_EQ_INT(rp_hist_min(h), 0);

    uint64_t highest;
    int digits;
    CHECK_EQ_INT(rp_hdrhist_peek(java_b64, &highest, &digits, err, sizeof err), 0);
    CHECK_EQ_INT(highest, 3600000000ull);
    CHECK_EQ_INT(digits, 3);
    rp_hist_free(h);
}

static void same_slots(void *ctx, uint64_t low, uint64_t high, uint64_t count)
{
    /* Collects "low:count," pairs for comparison. */
    char *s = ctx;
    size_t n = strlen(s);
    snprintf(s + n, 65536 - n, "%llu-%llu:%llu,", (unsigned long long)low,
             (unsigned long long)high, (unsigned long long)count);
}

TEST(hdrhist_round_trip_keeps_slots)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    uint64_t v = 1;
    for (int i = 0; i < 3000; i++) {
        v = v * 6364136223846793005ull + 1442695040888963407ull;
        rp_hist_record_n(h, (v >> 20) % 5000000, 1 + (v >> 60));
    }
    char *b64;
    char err[256];
    CHECK_EQ_INT(rp_hdrhist_encode(h, RP_HIST_HOUR_US, 3, &b64, err, sizeof err), 0);
    rp_hist *back = rp_hist_new(RP_HIST_HOUR_US, 3);
    CHECK_EQ_INT(rp_hdrhist_decode_add(b64, back, err, sizeof err), 0);

    char *a = calloc(1, 65536 * 4), *b = calloc(1, 65536 * 4);
    rp_hist_foreach(h, same_slots, a);
    rp_hist_foreach(back, same_slots, b);
    CHECK(strlen(a) > 1000);
    CHECK(strcmp(a, b) == 0);
    CHECK_EQ_INT(rp_hist_count(back), rp_hist_count(h));
    for (double p = 1; p < 100; p += 7.5)
        CHECK_EQ_INT(rp_hist_percentile(back, p), rp_hist_percentile(h, p));

    /* Decoding into a histogram that has counts adds to them. */
    CHECK_EQ_INT(rp_hdrhist_decode_add(b64, back, err, sizeof err), 0);
    CHECK_EQ_INT(rp_hist_count(back), 2 * rp_hist_count(h));
    free(a);
    free(b);
    free(b64);
    rp_hist_free(h);
    rp_hist_free(back);
}

TEST(hdrhist_decode_exact_keeps_extremes)
{
    /* Values spread over wide slots (width 1024 around 3 s): a plain
     * decode reports slot edges, an exact one the recorded extremes. */
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    uint64_t v = 7;
    for (int i = 0; i < 500; i++) {
        v = v * 6364136223846793005ull + 1442695040888963407ull;
        rp_hist_record(h, 3000000 + (v >> 40) % 2000000);
    }
    uint64_t min = rp_hist_min(h), max = rp_hist_max(h);
    char *b64;
    char err[256];
    CHECK_EQ_INT(rp_hdrhist_encode(h, RP_HIST_HOUR_US, 3, &b64, err, sizeof err), 0);

    rp_hist *plain = rp_hist_new(RP_HIST_HOUR_US, 3), *exact = rp_hist_new(RP_HIST_HOUR_US, 3);
    CHECK_EQ_INT(rp_hdrhist_decode_add(b64, plain, err, sizeof err), 0);
    CHECK_EQ_INT(rp_hdrhist_decode_add_exact(b64, exact, &min, &max, err, sizeof err), 0);
    CHECK(rp_hist_max(plain) > max);
    CHECK_EQ_INT(rp_hist_min(exact), min);
    CHECK_EQ_INT(rp_hist_max(exact), max);
    for (double p = 0.5; p <= 100; p += 4.5)
        CHECK_EQ_INT(rp_hist_percentile(exact, p), rp_hist_percentile(h, p));
    CHECK_EQ_INT(rp_hist_percentile(exact, 100), max);
    double drift = rp_hist_mean(exact) / rp_hist_mean(h) - 1;
    CHECK(drift < 0.001);
    CHECK(drift > -0.001);

    /* Without a min, only the max is pinned. */
    rp_hist_reset(exact);
    CHECK_EQ_INT(rp_hdrhist_decode_add_exact(b64, exact, NULL, &max, err, sizeof err), 0);
    CHECK_EQ_INT(rp_hist_max(exact), max);
    CHECK_EQ_INT(rp_hist_count(exact), 500);
    free(b64);
    rp_hist_free(h);
    rp_hist_free(plain);
    rp_hist_free(exact);
}

TEST(hdrhist_empty_round_trip)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    char *b64;
    char err[256];
    CHECK_EQ_INT(rp_hdrhist_encode(h, RP_HIST_HOUR_US, 3, &b64, err, sizeof err), 0);
    rp_hist *back = NULL;
    CHECK_EQ_INT(rp_hdrhist_decode(b64, &back, err, sizeof err), 0);
    CHECK_EQ_INT(rp_hist_count(back), 0);
    free(b64);
    rp_hist_free(h);
    rp_hist_free(back);
}

TEST(hdrhist_rejects_damaged_input)
{
    rp_hist *h = rp_hist_new(RP_HIST_HOUR_US, 3);
    char err[256];
    CHECK(rp_hdrhist_decode_add("not base64!", h, err, sizeof err) == RP_HDRHIST_EFORMAT);
    CHECK(strstr(err, "base64") != NULL);
    /* Valid base64, wrong cookie. */
    CHECK(rp_hdrhist_decode_add("AAAAAAAAAAAA", h, err, sizeof err) == RP_HDRHIST_EFORMAT);
    CHECK(strstr(err, "HISTFAAA") != NULL);

    /* The Java vector cut short, then with one byte of its zlib data changed. */
    char cut[sizeof java_b64];
    memcpy(cut, java_b64, sizeof java_b64);
    memcpy(cut + 40, "====", 5);
    CHECK(rp_hdrhist_decode_add(cut, h, err, sizeof err) == RP_HDRHIST_EFORMAT);
    uint8_t *bytes;
    long n = rp_base64_decode(java_b64, &bytes);
    CHECK(n > 20);
    bytes[20] ^= 0x55;
    char *bad = rp_base64_encode(bytes, (size_t)n);
    CHECK(rp_hdrhist_decode_add(bad, h, err, sizeof err) < 0);
    CHECK_EQ_INT(rp_hist_count(h), 0);
    free(bad);
    free(bytes);
    rp_hist_free(h);
}

TEST(base64_round_trip)
{
    const uint8_t data[] = { 0, 1, 2, 250, 251, 252, 253, 254, 255, 42 };
    for (size_t n = 0; n <= sizeof data; n++) {
        char *text = rp_base64_encode(data, n);
        CHECK_EQ_INT(strlen(text), (n + 2) / 3 * 4);
        uint8_t *back;
        CHECK_EQ_INT(rp_base64_decode(text, &back), (long)n);
        CHECK(memcmp(back, data, n) == 0);
        free(back);
        free(text);
    }
    char *text = rp_base64_encode((const uint8_t *)"Man", 3);
    CHECK_EQ_STR(text, "TWFu");
    free(text);
    uint8_t *out;
    CHECK_EQ_INT(rp_base64_decode("TQ==", &out), 1);
    free(out);
    CHECK_EQ_INT(rp_base64_decode("TQ=", &out), -1);
    CHECK_EQ_INT(rp_base64_decode("T=Q=", &out), -1);
    CHECK_EQ_INT(rp_base64_decode("TQ==TWFu", &out), -1);
}

TEST(hdrlog_lines)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK_EQ_INT(rp_hdrlog_write_header(f, 1700000000.25, "reprise"), 0);
    CHECK_EQ_INT(rp_hdrlog_write_interval(f, 1.0, 1.0, 2500.0, 1000.0, "HISTFAAAx"), 0);
    fclose(f);
    CHECK(strstr(text, "#[Histogram log format version 1.3]\n") != NULL);
    CHECK(strstr(text, "#[StartTime: 1700000000.250 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n") != NULL);
    CHECK(strstr(text, "#[BaseTime: 1700000000.250 (seconds since epoch)]\n") != NULL);
    CHECK(strstr(text, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                       "\"Interval_Compressed_Histogram\"\n") != NULL);
    CHECK(strstr(text, "\n1.000,1.000,2.500,HISTFAAAx\n") != NULL);
    free(text);
}
