#include "formats/hdrhist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define V2_COOKIE 0x1c849313u
#define V2_COMPRESSED_COOKIE 0x1c849314u
#define COOKIE_BASE_MASK (~0xf0u)
#define HEADER_BYTES 40
#define MAX_LEB_BYTES 9
/* Longest uncompressed form accepted when decoding: far above the 212 KB
 * a 1-hour, 3-digit histogram can need, far below a decompression bomb. */
#define MAX_RAW_BYTES (64u << 20)

/* The counts array layout of an HdrHistogram with lowest discernible
 * value 1, computed as rp_hist_new and HdrHistogram do. */
typedef struct layout {
    uint64_t highest;
    int sig_figs;
    int sub_half_magnitude;
    uint64_t sub_half;
    uint64_t sub_mask;
    size_t counts_len;
} layout;

static int layout_init(layout *l, uint64_t highest, int sig_figs)
{
    int sub_magnitude, buckets;
    if (rp_hist_layout(highest, sig_figs, &sub_magnitude, &buckets) < 0)
        return -1;
    uint64_t sub_count = (uint64_t)1 << sub_magnitude;

    l->highest = highest;
    l->sig_figs = sig_figs;
    l->sub_half_magnitude = sub_magnitude - 1;
    l->sub_half = sub_count / 2;
    l->sub_mask = sub_count - 1;
    l->counts_len = (size_t)(buckets + 1) * (sub_count / 2);
    return 0;
}

static size_t layout_index(const layout *l, uint64_t v)
{
    int bucket = 64 - __builtin_clzll(v | l->sub_mask) - (l->sub_half_magnitude + 1);
    uint64_t sub = v >> bucket;
    return ((size_t)(bucket + 1) << l->sub_half_magnitude) + (size_t)(sub - l->sub_half);
}

/* Highest value that lands in slot i. */
static uint64_t layout_high(const layout *l, size_t i)
{
    int bucket = (int)(i >> l->sub_half_magnitude) - 1;
    uint64_t sub = (i & (l->sub_half - 1)) + l->sub_half;
    if (bucket < 0) {
        sub -= l->sub_half;
        bucket = 0;
    }
    return (sub << bucket) + ((uint64_t)1 << bucket) - 1;
}

/* ---- byte buffers ---- */

typedef struct buf {
    uint8_t *data;
    size_t len, cap;
    int failed;
} buf;

static void buf_reserve(buf *b, size_t extra)
{
    if (b->failed || b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return;
    }
    b->data = p;
    b->cap = cap;
}

static void put_be(buf *b, uint64_t v, int bytes)
{
    buf_reserve(b, (size_t)bytes);
    if (b->failed)
        return;
    for (int i = bytes - 1; i >= 0; i--)
        b->data[b->len++] = (uint8_t)(v >> (8 * i));
}

/* ZigZag, then LEB128 with at most 9 bytes: the ninth carries 8 bits. */
static void put_zigzag(buf *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    buf_reserve(b, MAX_LEB_BYTES);
    if (b->failed)
        return;
    for (int i = 0; i < 8; i++) {
        if ((u >> 7) == 0) {
            b->data[b->len++] = (uint8_t)u;
            return;
        }
        b->data[b->len++] = (uint8_t)((u & 0x7f) | 0x80);
        u >>= 7;
    }
    b->data[b->len++] = (uint8_t)u;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads one ZigZag LEB128 number at *pos. Returns 0, or -1 when it runs
 * past end. */
static int get_zigzag(const uint8_t *p, size_t end, size_t *pos, int64_t *out)
{
    uint64_t u = 0;
    for (int i = 0; i < MAX_LEB_BYTES; i++) {
        if (*pos >= end)
            return -1;
        uint8_t byte = p[(*pos)++];
        if (i == 8) {
            u |= (uint64_t)byte << 56;
            break;
        }
        u |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0)
            break;
    }
    *out = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

/* ---- encoding ---- */

typedef struct encoder {
    const layout *l;
    buf *b;
    size_t next_index;   /* first slot not yet written */
} encoder;

static void encode_slot(void *ctx, uint64_t low, uint64_t high, uint64_t count)
{
    encoder *e = ctx;
    size_t index = layout_index(e->l, low);
    size_t zeros = index - e->next_index;
    if (zeros == 1)
        put_zigzag(e->b, 0);
    else if (zeros > 1)
        put_zigzag(e->b, -(int64_t)zeros);
    put_zigzag(e->b, (int64_t)count);
    e->next_index = index + 1;
}

int rp_hdrhist_encode_raw(const rp_hist *h, uint64_t highest, int sig_figs,
                          uint8_t **out, size_t *len, char *err, size_t errlen)
{
    layout l;
    if (layout_init(&l, highest, sig_figs) != 0) {
        snprintf(err, errlen, "cannot encode a histogram with highest value %llu and %d "
                 "significant digits", (unsigned long long)highest, sig_figs);
        return RP_HDRHIST_ELAYOUT;
    }

    buf b = { 0 };
    put_be(&b, V2_COOKIE, 4);
    put_be(&b, 0, 4);            /* payload length, filled in below */
    put_be(&b, 0, 4);            /* normalizing index offset */
    put_be(&b, (uint64_t)sig_figs, 4);
    put_be(&b, 1, 8);            /* lowest discernible value */
    put_be(&b, highest, 8);
    uint64_t ratio_bits;
    double ratio = 1.0;
    memcpy(&ratio_bits, &ratio, sizeof ratio_bits);
    put_be(&b, ratio_bits, 8);

    encoder e = { .l = &l, .b = &b, .next_index = 0 };
    rp_hist_foreach(h, encode_slot, &e);
    if (e.next_index == 0)
        put_zigzag(&b, 0);       /* empty: HdrHistogram writes slot 0's count */
    if (b.failed) {
        free(b.data);
        snprintf(err, errlen, "out of memory encoding a histogram");
        return RP_HDRHIST_ENOMEM;
    }

    uint64_t payload = b.len - HEADER_BYTES;
    for (int i = 0; i < 4; i++)
        b.data[4 + i] = (uint8_t)(payload >> (8 * (3 - i)));
    *out = b.data;
    *len = b.len;
    return 0;
}

int rp_hdrhist_encode(const rp_hist *h, uint64_t highest, int sig_figs,
                      char **out, char *err, size_t errlen)
{
    uint8_t *raw;
    size_t raw_len;
    int rc = rp_hdrhist_encode_raw(h, highest, sig_figs, &raw, &raw_len, err, errlen);
    if (rc != 0)
        return rc;

    uLongf zlen = compressBound((uLong)raw_len);
    uint8_t *packed = malloc(8 + zlen);
    if (packed == NULL ||
        compress2(packed + 8, &zlen, raw, (uLong)raw_len, Z_DEFAULT_COMPRESSION) != Z_OK) {
        free(raw);
        free(packed);
        snprintf(err, errlen, "out of memory compressing a histogram");
        return RP_HDRHIST_ENOMEM;
    }
    free(raw);
    for (int i = 0; i < 4; i++) {
        packed[i] = (uint8_t)(V2_COMPRESSED_COOKIE >> (8 * (3 - i)));
        packed[4 + i] = (uint8_t)((uint64_t)zlen >> (8 * (3 - i)));
    }

    *out = rp_base64_encode(packed, 8 + zlen);
    free(packed);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory encoding a histogram");
        return RP_HDRHIST_ENOMEM;
    }
    return 0;
}

/* ---- decoding ---- */

/* Base64-decodes text and inflates it into *raw. */
static int unpack(const char *text, uint8_t **raw, size_t *raw_len, char *err, size_t errlen)
{
    uint8_t *packed;
    long n = rp_base64_decode(text, &packed);
    if (n < 0) {
        snprintf(err, errlen, "histogram is not valid base64");
        return RP_HDRHIST_EFORMAT;
    }
    if (n < 8 || (get_be(packed, 4) & COOKIE_BASE_MASK) != (V2_COMPRESSED_COOKIE & COOKIE_BASE_MASK)) {
        free(packed);
        snprintf(err, errlen, "histogram is not in HdrHistogram's compressed V2 encoding "
                 "(expected base64 text starting with HISTFAAA)");
        return RP_HDRHIST_EFORMAT;
    }
    uint64_t zlen = get_be(packed + 4, 4);
    if (zlen > (uint64_t)n - 8) {
        free(packed);
        snprintf(err, errlen, "histogram is truncated: %llu compressed bytes announced, %ld present",
                 (unsigned long long)zlen, n - 8);
        return RP_HDRHIST_EFORMAT;
    }

    z_stream z = { 0 };
    buf out = { 0 };
    int zrc = inflateInit(&z);
    z.next_in = packed + 8;
    z.avail_in = (uInt)zlen;
    while (zrc == Z_OK) {
        buf_reserve(&out, 4096);
        if (out.failed || out.cap > MAX_RAW_BYTES)
            break;
        z.next_out = out.data + out.len;
        z.avail_out = (uInt)(out.cap - out.len);
        zrc = inflate(&z, Z_NO_FLUSH);
        out.len = out.cap - z.avail_out;
        if (zrc == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    inflateEnd(&z);
    free(packed);
    if (zrc != Z_STREAM_END) {
        free(out.data);
        snprintf(err, errlen, "histogram's compressed data is damaged (zlib: %s)",
                 out.failed ? "out of memory" : zrc == Z_OK ? "too large" :
                 zError(zrc == Z_BUF_ERROR ? Z_DATA_ERROR : zrc));
        return out.failed ? RP_HDRHIST_ENOMEM : RP_HDRHIST_EFORMAT;
    }
    *raw = out.data;
    *raw_len = out.len;
    return 0;
}

/* Checks the uncompressed header and fills l. */
static int read_header(const uint8_t *raw, size_t len, layout *l, size_t *payload_end,
                       char *err, size_t errlen)
{
    if (len < HEADER_BYTES || (get_be(raw, 4) & COOKIE_BASE_MASK) != (V2_COOKIE & COOKIE_BASE_MASK)) {
        snprintf(err, errlen, "histogram's inner header is not HdrHistogram V2");
        return RP_HDRHIST_EFORMAT;
    }
    uint64_t payload = get_be(raw + 4, 4);
    uint64_t offset = get_be(raw + 8, 4);
    int sig_figs = (int)get_be(raw + 12, 4);
    uint64_t lowest = get_be(raw + 16, 8);
    uint64_t highest = get_be(raw + 24, 8);
    if (payload > len - HEADER_BYTES) {
        snprintf(err, errlen, "histogram payload is truncated");
        return RP_HDRHIST_EFORMAT;
    }
    if (offset != 0 || lowest != 1 || layout_init(l, highest, sig_figs) != 0) {
        snprintf(err, errlen, "histogram layout (lowest %llu, highest %llu, %d digits, "
                 "index offset %llu) is not supported: reprise reads lowest 1, offset 0, "
                 "1 to 5 digits", (unsigned long long)lowest, (unsigned long long)highest,
                 sig_figs, (unsigned long long)offset);
        return RP_HDRHIST_ELAYOUT;
    }
    *payload_end = HEADER_BYTES + (size_t)payload;
    return 0;
}

/* Values that decoded counts are recorded at. With exact set, the
 * extremes go to min and max and the other counts to slot middles.
 * Without it, every count goes to its slot's highest equivalent value,
 * the value HdrHistogram reports. */
typedef struct placement {
    int exact;
    const uint64_t *min, *max;
    size_t first, last;          /* lowest and highest non-empty slots */
} placement;

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return v;
}

static void record_slot(rp_hist *dst, const layout *l, const placement *pl, size_t index,
                        uint64_t count)
{
    uint64_t high = layout_high(l, index);
    if (!pl->exact) {
        rp_hist_record_n(dst, high, count);
        return;
    }
    int bucket = (int)(index >> l->sub_half_magnitude) - 1;
    uint64_t width = (uint64_t)1 << (bucket > 0 ? bucket : 0);
    uint64_t low = high - (width - 1);
    uint64_t lo = low, hi = high;
    if (index == pl->first && pl->min != NULL && *pl->min >= low && *pl->min <= high && count > 0) {
        rp_hist_record_n(dst, *pl->min, 1);
        count--;
        lo = *pl->min;
    }
    /* A saturated top slot counts values above its range, so max may
     * exceed high. */
    if (index == pl->last && pl->max != NULL && *pl->max >= low && count > 0) {
        rp_hist_record_n(dst, *pl->max, 1);
        count--;
        hi = *pl->max < high ? *pl->max : high;
    }
    if (count > 0)
        rp_hist_record_n(dst, clamp_u64(low + (width - 1) / 2, lo, hi), count);
}

/* Walks the counts; with dst NULL it only validates them and finds the
 * lowest and highest non-empty slots. */
static int walk_counts(const uint8_t *raw, size_t end, const layout *l, rp_hist *dst,
                       placement *pl, char *err, size_t errlen)
{
    size_t pos = HEADER_BYTES;
    size_t index = 0;
    int seen = 0;
    while (pos < end) {
        int64_t v;
        if (get_zigzag(raw, end, &pos, &v) != 0) {
            snprintf(err, errlen, "histogram counts end inside a number");
            return RP_HDRHIST_EFORMAT;
        }
        if (v < 0) {
            uint64_t zeros = (uint64_t)0 - (uint64_t)v;
            if (zeros > l->counts_len - index) {
                snprintf(err, errlen, "histogram counts run past the layout's %zu slots",
                         l->counts_len);
                return RP_HDRHIST_EFORMAT;
            }
            index += (size_t)zeros;
            continue;
        }
        if (index >= l->counts_len) {
            snprintf(err, errlen, "histogram counts run past the layout's %zu slots", l->counts_len);
            return RP_HDRHIST_EFORMAT;
        }
        if (v > 0 && dst == NULL) {
            if (!seen)
                pl->first = index;
            pl->last = index;
            seen = 1;
        }
        if (v > 0 && dst != NULL)
            record_slot(dst, l, pl, index, (uint64_t)v);
        index++;
    }
    return 0;
}

static int decode_layout(const char *text, uint8_t **raw, size_t *end, layout *l,
                         placement *pl, char *err, size_t errlen)
{
    size_t raw_len;
    int rc = unpack(text, raw, &raw_len, err, errlen);
    if (rc != 0)
        return rc;
    rc = read_header(*raw, raw_len, l, end, err, errlen);
    if (rc == 0)
        rc = walk_counts(*raw, *end, l, NULL, pl, err, errlen);
    if (rc != 0) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

int rp_hdrhist_peek(const char *text, uint64_t *highest, int *sig_figs,
                    char *err, size_t errlen)
{
    uint8_t *raw;
    size_t end;
    layout l;
    placement pl = { 0 };
    int rc = decode_layout(text, &raw, &end, &l, &pl, err, errlen);
    if (rc != 0)
        return rc;
    free(raw);
    *highest = l.highest;
    *sig_figs = l.sig_figs;
    return 0;
}

int rp_hdrhist_decode_add_exact(const char *text, rp_hist *dst, const uint64_t *min,
                                const uint64_t *max, char *err, size_t errlen)
{
    uint8_t *raw;
    size_t end;
    layout l;
    placement pl = { .exact = 1, .min = min, .max = max };
    int rc = decode_layout(text, &raw, &end, &l, &pl, err, errlen);
    if (rc != 0)
        return rc;
    walk_counts(raw, end, &l, dst, &pl, err, errlen);
    free(raw);
    return 0;
}

int rp_hdrhist_decode_add(const char *text, rp_hist *dst, char *err, size_t errlen)
{
    uint8_t *raw;
    size_t end;
    layout l;
    placement pl = { 0 };
    int rc = decode_layout(text, &raw, &end, &l, &pl, err, errlen);
    if (rc != 0)
        return rc;
    walk_counts(raw, end, &l, dst, &pl, err, errlen);
    free(raw);
    return 0;
}

int rp_hdrhist_decode(const char *text, rp_hist **out, char *err, size_t errlen)
{
    uint8_t *raw;
    size_t end;
    layout l;
    placement pl = { 0 };
    int rc = decode_layout(text, &raw, &end, &l, &pl, err, errlen);
    if (rc != 0)
        return rc;
    rp_hist *h = rp_hist_new(l.highest, l.sig_figs);
    if (h == NULL) {
        free(raw);
        snprintf(err, errlen, "out of memory decoding a histogram");
        return RP_HDRHIST_ENOMEM;
    }
    walk_counts(raw, end, &l, h, &pl, err, errlen);
    free(raw);
    *out = h;
    return 0;
}

/* ---- base64 ---- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rp_base64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = b64_chars[(v >> 18) & 63];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_chars[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_chars, c) : NULL;
    return p ? (int)(p - b64_chars) : -1;
}

long rp_base64_decode(const char *text, uint8_t **out)
{
    size_t len = strlen(text);
    if (len % 4 != 0)
        return -1;
    uint8_t *data = malloc(len / 4 * 3 + 1);
    if (data == NULL)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = (text[i + 2] == '=') + (text[i + 3] == '=');
        int last = i + 4 == len;
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = k >= 4 - pad ? 0 : b64_value(text[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 || (pad && !last) ||
            (text[i + 2] == '=' && text[i + 3] != '=')) {
            free(data);
            return -1;
        }
        uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                        (uint32_t)v[2] << 6 | (uint32_t)v[3];
        data[o++] = (uint8_t)(bits >> 16);
        if (pad < 2)
            data[o++] = (uint8_t)(bits >> 8);
        if (pad < 1)
            data[o++] = (uint8_t)bits;
    }
    *out = data;
    return (long)o;
}

/* ---- interval log ---- */

int rp_hdrlog_write_header(FILE *f, double start_epoch_s, const char *comment)
{
    /* The date is informational: readers parse the number before it.
     * HdrHistogram's Java writer prints java.util.Date.toString(). */
    time_t secs = (time_t)start_epoch_s;
    struct tm tm;
    char date[64] = "";
    if (gmtime_r(&secs, &tm) != NULL)
        strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);

    if (comment != NULL && comment[0] != '\0')
        fprintf(f, "#[%s]\n", comment);
    fprintf(f, "#[Histogram log format version 1.3]\n");
    fprintf(f, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_epoch_s, date);
    fprintf(f, "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s);
    fprintf(f, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
               "\"Interval_Compressed_Histogram\"\n");
    return ferror(f) ? RP_HDRHIST_EIO : 0;
}

int rp_hdrlog_write_interval(FILE *f, double start_s, double length_s,
                             double max_value, double max_unit_ratio,
                             const char *histogram_b64)
{
    fprintf(f, "%.3f,%.3f,%.3f,%s\n", start_s, length_s,
            max_unit_ratio > 0 ? max_value / max_unit_ratio : max_value, histogram_b64);
    return ferror(f) ? RP_HDRHIST_EIO : 0;
}
