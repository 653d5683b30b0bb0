/* gen_http_pcap: writes a deterministic synthetic HTTP/1.1 capture for the
 * capture benchmark.
 *
 * The output is a classic pcap file (microsecond timestamps, little-endian
 * on x86, LINKTYPE_ETHERNET) of browser-like clients in 10.0.0.0/8 talking
 * to three servers (ports 80 and 8080). The capture point is the server
 * side: client packets carry the client's round-trip time, server packets
 * leave at once. Every connection does a three-way handshake, 1 to 60
 * keep-alive requests, each answered before the next one, and a FIN/ACK
 * teardown. A fixed number of connections is open at any time; when one
 * closes, another opens. Output is the same for the same --seed and
 * --size-mb: the program uses only integer arithmetic and its own PRNG.
 *
 * Standalone: builds with `cc -O2 -o gen_http_pcap gen_http_pcap.c`.
 * Prints the totals it wrote, one "name value" pair per line. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSS            1448u     /* payload per segment: 1500 MTU, 20 IP, 20 TCP, 12 timestamps */
#define INIT_CWND      10u       /* segments in a sender's first flight */
#define CLIENTS        4000u     /* distinct client addresses */
#define BASE_EPOCH     1733220000u  /* 2024-12-03 10:00:00 UTC, the first packet's second */
#define OUT_BUF_SIZE   (4u << 20)
#define FILLER_SIZE    (128u << 10)

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };

/* ---- PRNG: splitmix64 ---- */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

/* True with probability per_million / 1e6. */
static int rng_chance(rng_t *r, uint32_t per_million)
{
    return rng_below(r, 1000000) < per_million;
}

/* A value in [lo, hi] with each doubling equally likely, so small values
 * are common and large ones rare, as with real object sizes and delays. */
static uint32_t rng_spread(rng_t *r, uint32_t lo, uint32_t hi)
{
    uint32_t octaves = 0;
    for (uint64_t v = lo; v < hi; v *= 2)
        octaves++;
    if (octaves == 0)
        return lo;
    uint64_t a = (uint64_t)lo << rng_below(r, octaves);
    uint64_t b = a * 2 > hi ? hi : a * 2;
    return (uint32_t)(a + rng_below(r, (uint32_t)(b - a) + 1));
}

/* ---- growable byte buffer ---- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void die(const char *context)
{
    fprintf(stderr, "gen_http_pcap: %s: %s\n", context, strerror(errno));
    exit(1);
}

static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL)
        die("out of memory");
    b->cap = cap;
}

static void buf_add(buf_t *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    buf_reserve(b, 256);
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* ---- model ---- */

typedef struct {
    uint64_t ts_us;        /* absolute, microseconds since the epoch */
    uint32_t seq, ack;
    uint32_t off, len;     /* payload: bytes [off, off+len) of the sender's message */
    uint32_t order;        /* creation order, breaks timestamp ties */
    uint8_t from_client;
    uint8_t flags;
} pkt_t;

typedef struct {
    uint32_t ip;
    uint16_t next_port;
    uint8_t agent, language;
    uint32_t user_id;
    char cookie[256];
} client_t;

typedef struct {
    uint32_t ip;
    uint16_t port;
    const char *host;      /* Host header value */
} server_t;

enum phase { PH_HANDSHAKE, PH_EXCHANGE, PH_TEARDOWN };

typedef struct {
    int slot;
    int active;
    enum phase phase;
    client_t *client;
    const server_t *server;
    uint16_t cport;
    uint32_t c_isn, s_isn;
    uint32_t cseq, sseq;          /* next sequence number each side sends */
    uint64_t c_bytes, s_bytes;    /* sequence space used, for wraparound counting */
    uint16_t c_ipid, s_ipid;
    uint32_t rtt_us, client_gap_us;
    uint32_t ts_base_c, ts_base_s;  /* TCP timestamp option clocks (ms) */
    uint32_t requests_total, requests_done;
    uint64_t phase_end;           /* latest packet time of the current phase */
    uint64_t next_start;          /* planned start of the next phase */
    int last_unacked;             /* the request's last segment is not acknowledged yet */
    buf_t req, resp;
    pkt_t *pkts;
    size_t npkts, pcap, next;
    uint32_t referer_product;
} conn_t;

typedef struct {
    uint64_t connections, requests, gets, posts, packets, bytes;
    uint64_t data_segments, swapped_segments, retransmissions;
    uint64_t seq_wraps, chunked_responses, split_posts, multi_segment_requests;
    uint64_t status[5];           /* 200, 201, 304, 404, 500 */
    uint64_t first_ts, last_ts;
    uint32_t max_open;
} totals_t;

typedef struct {
    rng_t rng;
    FILE *out;
    unsigned char *obuf;
    size_t olen;
    uint64_t target_bytes;
    int stopping;
    uint32_t open;
    uint32_t pkt_order;
    client_t *clients;
    conn_t *conns;
    conn_t **heap;
    size_t heap_len;
    uint64_t last_ts;
    char *filler_text;            /* JS/CSS/HTML-like text for bodies */
    unsigned char *filler_bin;    /* random bytes for image bodies */
    time_t date_sec;
    char date[40];                /* Date header value for date_sec */
    totals_t t;
} gen_t;

static const server_t servers[] = {
    { (10u << 24) | 10, 80, "shop.example.com" },
    { (10u << 24) | 11, 80, "api.example.com" },
    { (10u << 24) | 12, 8080, "internal.example.com:8080" },
};

static const char *const user_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
};

static const char *const languages[] = {
    "en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    "es-ES,es;q=0.9", "ja,en-US;q=0.9,en;q=0.8", "en-GB,en;q=0.9",
};

static const char *const build_hashes[] = { "4f3a2b", "9c1d7e", "a03f55", "17be42" };

static const char *const words[] = {
    "red", "shoes", "lamp", "desk", "chair", "blue", "jacket", "coffee", "mug", "phone",
    "case", "cable", "garden", "hose", "book", "wool", "socks", "travel", "bag", "watch",
};
#define N_WORDS (sizeof words / sizeof words[0])

static void hex_string(rng_t *r, char *out, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        out[i] = digits[rng_below(r, 16)];
    out[n] = '\0';
}

/* ---- output ---- */

static void out_flush(gen_t *g)
{
    if (g->olen && fwrite(g->obuf, 1, g->olen, g->out) != g->olen)
        die("write failed");
    g->olen = 0;
}

static void put16be(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }

static void put32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void put32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static void write_pcap_header(gen_t *g)
{
    unsigned char h[24] = { 0 };
    put32le(h, 0xa1b2c3d4u);            /* microsecond pcap */
    h[4] = 2; h[6] = 4;                 /* version 2.4, little-endian fields */
    put32le(h + 16, 65535);             /* snap length */
    put32le(h + 20, 1);                 /* LINKTYPE_ETHERNET */
    memcpy(g->obuf, h, sizeof h);
    g->olen = sizeof h;
    g->t.bytes += sizeof h;
}

static uint16_t ipv4_checksum(const unsigned char *h)
{
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Writes one packet as a pcap record: Ethernet, IPv4, TCP with options. */
static void write_packet(gen_t *g, conn_t *c, const pkt_t *p)
{
    static const unsigned char mac_server[6] = { 0x02, 0x42, 0x0a, 0x00, 0x00, 0x0a };
    static const unsigned char mac_router[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0x01 };
    size_t tcp_hlen = (p->flags & TH_SYN) ? 40 : 32;
    size_t frame = 14 + 20 + tcp_hlen + p->len;

    if (g->olen + 16 + frame > OUT_BUF_SIZE)
        out_flush(g);
    unsigned char *r = g->obuf + g->olen;
    memset(r, 0, 16 + 14 + 20 + tcp_hlen);

    put32le(r, (uint32_t)(p->ts_us / 1000000));
    put32le(r + 4, (uint32_t)(p->ts_us % 1000000));
    put32le(r + 8, (uint32_t)frame);
    put32le(r + 12, (uint32_t)frame);

    unsigned char *eth = r + 16;
    memcpy(eth, p->from_client ? mac_server : mac_router, 6);
    memcpy(eth + 6, p->from_client ? mac_router : mac_server, 6);
    put16be(eth + 12, 0x0800);

    unsigned char *ip = eth + 14;
    uint32_t src = p->from_client ? c->client->ip : c->server->ip;
    uint32_t dst = p->from_client ? c->server->ip : c->client->ip;
    ip[0] = 0x45;
    put16be(ip + 2, (uint16_t)(20 + tcp_hlen + p->len));
    put16be(ip + 4, p->from_client ? c->c_ipid++ : c->s_ipid++);
    ip[6] = 0x40;                       /* don't fragment */
    ip[8] = p->from_client ? 52 : 64;
    ip[9] = 6;
    put32be(ip + 12, src);
    put32be(ip + 16, dst);
    put16be(ip + 10, ipv4_checksum(ip));

    unsigned char *tcp = ip + 20;
    put16be(tcp, p->from_client ? c->cport : c->server->port);
    put16be(tcp + 2, p->from_client ? c->server->port : c->cport);
    put32be(tcp + 4, p->seq);
    put32be(tcp + 8, p->ack);
    tcp[12] = (unsigned char)((tcp_hlen / 4) << 4);
    tcp[13] = p->flags;
    put16be(tcp + 14, 64240);           /* window; checksum stays 0 */

    uint32_t ms = (uint32_t)(p->ts_us / 1000);
    uint32_t tsval = ms + (p->from_client ? c->ts_base_c : c->ts_base_s);
    uint32_t tsecr = (p->flags == TH_SYN) ? 0 : ms + (p->from_client ? c->ts_base_s : c->ts_base_c);
    unsigned char *opt = tcp + 20;
    if (p->flags & TH_SYN) {
        opt[0] = 2; opt[1] = 4; put16be(opt + 2, 1460);           /* MSS */
        opt[4] = 4; opt[5] = 2;                                    /* SACK permitted */
        opt[6] = 8; opt[7] = 10; put32be(opt + 8, tsval); put32be(opt + 12, tsecr);
        opt[16] = 1; opt[17] = 3; opt[18] = 3; opt[19] = 7;        /* NOP, window scale 7 */
    } else {
        opt[0] = 1; opt[1] = 1;
        opt[2] = 8; opt[3] = 10; put32be(opt + 4, tsval); put32be(opt + 8, tsecr);
    }
    if (p->len) {
        const buf_t *msg = p->from_client ? &c->req : &c->resp;
        memcpy(tcp + tcp_hlen, msg->p + p->off, p->len);
    }

    g->olen += 16 + frame;
    g->t.packets++;
    g->t.bytes += 16 + frame;
    if (g->t.first_ts == 0)
        g->t.first_ts = p->ts_us;
    g->t.last_ts = p->ts_us;
}

/* ---- packet lists ---- */

static void add_pkt(gen_t *g, conn_t *c, uint64_t ts, int from_client, uint8_t flags,
                    uint32_t seq, uint32_t ack, uint32_t off, uint32_t len)
{
    if (c->npkts == c->pcap) {
        c->pcap = c->pcap ? c->pcap * 2 : 64;
        c->pkts = realloc(c->pkts, c->pcap * sizeof *c->pkts);
        if (c->pkts == NULL)
            die("out of memory");
    }
    c->pkts[c->npkts++] = (pkt_t){ .ts_us = ts, .seq = seq, .ack = ack, .off = off, .len = len,
                                   .order = g->pkt_order++, .from_client = (uint8_t)from_client,
                                   .flags = flags };
    if (ts > c->phase_end)
        c->phase_end = ts;
}

static int pkt_before(const pkt_t *a, const pkt_t *b)
{
    return a->ts_us != b->ts_us ? a->ts_us < b->ts_us : a->order < b->order;
}

/* Insertion sort: the lists are short and nearly in order already. */
static void sort_pkts(conn_t *c)
{
    for (size_t i = 1; i < c->npkts; i++) {
        pkt_t p = c->pkts[i];
        size_t j = i;
        while (j > 0 && pkt_before(&p, &c->pkts[j - 1])) {
            c->pkts[j] = c->pkts[j - 1];
            j--;
        }
        c->pkts[j] = p;
    }
}

/* Appends the data segments for bytes [from, to) of the current message
 * of one side, sent from time t in flights that start at INIT_CWND
 * segments and double every round trip. The receiver acknowledges every
 * second segment: at once when the receiver is the server (the capture
 * point), one round trip later when it is the client. A pair of segments
 * is sometimes swapped (about 1% of all data segments overall) and a
 * segment is sometimes sent twice. Returns the time of the last segment. */
static uint64_t send_data(gen_t *g, conn_t *c, int from_client, uint32_t from, uint32_t to,
                          uint64_t t, int push)
{
    uint32_t base = from_client ? c->cseq : c->sseq;
    uint32_t ack = from_client ? c->sseq : c->cseq;
    uint32_t peer_seq = ack;
    uint32_t gap = from_client ? c->client_gap_us : 12;
    uint32_t ack_delay = from_client ? 30 : c->rtt_us;
    uint32_t nseg = (to - from + MSS - 1) / MSS;
    uint32_t cwnd = INIT_CWND, in_flight = 0;
    uint64_t flight_start = t, last = t;

    for (uint32_t i = 0; i < nseg; i += 2) {
        uint32_t n = (i + 1 < nseg) ? 2 : 1;
        uint32_t off[2], len[2];
        uint64_t when[2];
        for (uint32_t k = 0; k < n; k++) {
            if (in_flight == cwnd) {
                flight_start = flight_start + c->rtt_us > last + gap ? flight_start + c->rtt_us
                                                                    : last + gap;
                cwnd *= 2;
                in_flight = 0;
                last = flight_start;
            } else if (i + k > 0) {
                last += gap;
            }
            off[k] = from + (i + k) * MSS;
            len[k] = (off[k] + MSS <= to) ? MSS : to - off[k];
            when[k] = last;
            in_flight++;
        }
        g->t.data_segments += n;

        /* Keep the swapped share near 1% of all data segments. */
        int swap = n == 2 && g->t.swapped_segments * 100 < g->t.data_segments &&
                   rng_below(&g->rng, 8) == 0;
        if (swap)
            g->t.swapped_segments += 2;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t s = swap ? 1 - k : k;
            uint8_t flags = TH_ACK | ((push && off[s] + len[s] == to) ? TH_PSH : 0);
            add_pkt(g, c, when[k], from_client, flags, base + off[s], ack, off[s], len[s]);
            if (rng_chance(&g->rng, 1000)) {
                add_pkt(g, c, when[k] + c->rtt_us + 200 + rng_below(&g->rng, 1000), from_client,
                        flags, base + off[s], ack, off[s], len[s]);
                g->t.retransmissions++;
            }
        }

        /* A lone last segment from the client is acknowledged with the
         * response (or by the delayed-ACK rule in build_exchange). */
        uint32_t end = off[n - 1] + len[n - 1];
        if (n == 2 || !from_client)
            add_pkt(g, c, when[n - 1] + ack_delay, !from_client, TH_ACK, peer_seq, base + end, 0, 0);
        c->last_unacked = n == 1 && from_client;
    }
    return last;
}

/* ---- HTTP messages ---- */

enum kind { K_API, K_STATIC, K_PAGE, K_POST };

static void fill_date(gen_t *g, uint64_t ts_us)
{
    time_t sec = (time_t)(ts_us / 1000000);
    if (sec == g->date_sec)
        return;
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(g->date, sizeof g->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    g->date_sec = sec;
}

static void add_common_request_headers(gen_t *g, conn_t *c, buf_t *b, const char *accept)
{
    client_t *cl = c->client;
    buf_printf(b, "Host: %s\r\nUser-Agent: %s\r\nAccept: %s\r\nAccept-Language: %s\r\n"
               "Accept-Encoding: gzip, deflate, br\r\n",
               c->server->host, user_agents[cl->agent], accept, languages[cl->language]);
    if (c->referer_product)
        buf_printf(b, "Referer: http://shop.example.com/products/%u\r\n", c->referer_product);
    else
        buf_str(b, "Referer: http://shop.example.com/\r\n");
    buf_printf(b, "Cookie: %s\r\nConnection: keep-alive\r\n", cl->cookie);
    (void)g;
}

/* Appends a JSON document of `size` bytes: a header object, array items
 * while they fit, and a "note" string that pads to the size. A size below
 * about 72 bytes comes out longer, at the shortest such document. */
static void json_body(gen_t *g, buf_t *b, uint32_t size, int is_request)
{
    rng_t *r = &g->rng;
    size_t start = b->len;
    if (is_request)
        buf_printf(b, "{\"client_ts\":%llu,\"cart_id\":\"%08x\",\"items\":[",
                   (unsigned long long)BASE_EPOCH * 1000 + rng_below(r, 100000), (unsigned)rng_next(r));
    else
        buf_printf(b, "{\"page\":%u,\"per_page\":20,\"data\":[", rng_range(r, 1, 40));

    static const char closing[] = "],\"note\":\"\"}";
    char item[256];
    for (int first = 1;; first = 0) {
        const char *w1 = words[rng_below(r, N_WORDS)], *w2 = words[rng_below(r, N_WORDS)];
        int n = snprintf(item, sizeof item, "%s{\"id\":%u,\"sku\":\"SKU-%05u\",\"name\":\"%s %s\","
                         "\"qty\":%u,\"price\":%u.%02u,\"tags\":[\"%s\",\"%s\"]}",
                         first ? "" : ",", rng_range(r, 1, 999999), rng_below(r, 100000), w1, w2,
                         rng_range(r, 1, 5), rng_range(r, 1, 499), rng_below(r, 100), w2, w1);
        if (b->len - start + (size_t)n + sizeof closing - 1 > size)
            break;
        buf_add(b, item, (size_t)n);
    }

    buf_str(b, "],\"note\":\"");
    size_t used = b->len - start + 2;
    if (used < size)
        buf_add(b, g->filler_text + rng_below(r, FILLER_SIZE / 2), size - used);
    buf_str(b, "\"}");
}

/* Appends `size` bytes of filler, starting at a random offset. */
static void filler_body(gen_t *g, buf_t *b, uint32_t size, int binary)
{
    const char *src = binary ? (const char *)g->filler_bin : g->filler_text;
    while (size > 0) {
        uint32_t off = rng_below(&g->rng, FILLER_SIZE / 2);
        uint32_t n = size < FILLER_SIZE / 2 ? size : FILLER_SIZE / 2;
        buf_add(b, src + off, n);
        size -= n;
    }
}

/* Builds the request into c->req; returns the header length. */
static uint32_t build_request(gen_t *g, conn_t *c, enum kind kind, int *not_modified)
{
    rng_t *r = &g->rng;
    buf_t *b = &c->req;
    client_t *cl = c->client;
    b->len = 0;
    *not_modified = 0;

    switch (kind) {
    case K_API:
        switch (rng_below(r, 5)) {
        case 0: buf_printf(b, "GET /api/v1/users/%u/orders?page=%u HTTP/1.1\r\n", cl->user_id, rng_range(r, 1, 12)); break;
        case 1: buf_printf(b, "GET /api/v1/products/%u HTTP/1.1\r\n", rng_range(r, 1, 99999)); break;
        case 2: buf_printf(b, "GET /api/v1/search?q=%s+%s&limit=20&offset=%u HTTP/1.1\r\n",
                           words[rng_below(r, N_WORDS)], words[rng_below(r, N_WORDS)], 20 * rng_below(r, 5)); break;
        case 3: buf_str(b, "GET /api/v1/cart HTTP/1.1\r\n"); break;
        default: buf_printf(b, "GET /api/v2/recommendations?user=%u&slot=home HTTP/1.1\r\n", cl->user_id); break;
        }
        add_common_request_headers(g, c, b, "application/json, text/plain, */*");
        break;
    case K_STATIC: {
        const char *h = build_hashes[rng_below(r, 4)];
        const char *accept = "*/*";
        switch (rng_below(r, 4)) {
        case 0: buf_printf(b, "GET /static/app.%s.js HTTP/1.1\r\n", h); break;
        case 1: buf_printf(b, "GET /static/vendor.%s.js HTTP/1.1\r\n", h); break;
        case 2: buf_printf(b, "GET /static/css/main.%s.css HTTP/1.1\r\n", h); accept = "text/css,*/*;q=0.1"; break;
        default: buf_printf(b, "GET /static/img/product-%u.webp HTTP/1.1\r\n", rng_range(r, 1, 5000));
                 accept = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"; break;
        }
        add_common_request_headers(g, c, b, accept);
        if (rng_below(r, 100) < 35) {
            buf_printf(b, "If-None-Match: \"%s-%x\"\r\n", h, rng_below(r, 0xffff));
            *not_modified = 1;
        }
        break;
    }
    case K_PAGE:
        c->referer_product = rng_range(r, 1, 99999);
        if (rng_below(r, 2))
            buf_printf(b, "GET /products/%u/%s-%s HTTP/1.1\r\n", c->referer_product,
                       words[rng_below(r, N_WORDS)], words[rng_below(r, N_WORDS)]);
        else
            buf_printf(b, "GET /category/%s?sort=price&page=%u HTTP/1.1\r\n",
                       words[rng_below(r, N_WORDS)], rng_range(r, 1, 9));
        add_common_request_headers(g, c, b, "text/html,application/xhtml+xml,application/xml;"
                                            "q=0.9,image/avif,image/webp,*/*;q=0.8");
        buf_str(b, "Upgrade-Insecure-Requests: 1\r\n");
        break;
    case K_POST: {
        static const char *const paths[] = { "/api/v1/cart/items", "/api/v1/orders", "/api/v1/events",
                                             "/graphql" };
        int p = (int)rng_below(r, 5);
        if (p == 4)
            buf_printf(b, "POST /api/v1/users/%u/preferences HTTP/1.1\r\n", cl->user_id);
        else
            buf_printf(b, "POST %s HTTP/1.1\r\n", paths[p]);
        add_common_request_headers(g, c, b, "application/json, text/plain, */*");
        break;
    }
    }

    if (kind != K_POST) {
        buf_str(b, "\r\n");
        return (uint32_t)b->len;
    }

    /* 85% of JSON bodies are 100 B to 2 KB, the rest up to 20 KB. */
    uint32_t size = rng_below(r, 100) < 85 ? rng_spread(r, 100, 2048) : rng_spread(r, 2048, 20480);
    buf_t body = { 0 };
    json_body(g, &body, size, 1);
    buf_printf(b, "Content-Type: application/json\r\nOrigin: http://shop.example.com\r\n"
               "Content-Length: %zu\r\n\r\n", body.len);
    uint32_t hlen = (uint32_t)b->len;
    buf_add(b, body.p, body.len);
    free(body.p);
    return hlen;
}

static void add_chunked(gen_t *g, buf_t *b, const buf_t *body)
{
    size_t off = 0;
    while (off < body->len) {
        size_t n = rng_range(&g->rng, 256, 8192);
        if (n > body->len - off)
            n = body->len - off;
        buf_printf(b, "%zx\r\n", n);
        buf_add(b, body->p + off, n);
        buf_str(b, "\r\n");
        off += n;
    }
    buf_str(b, "0\r\n\r\n");
}

/* Index of a status in totals_t.status and in the reason phrases. */
static int status_index(int status)
{
    switch (status) {
    case 200: return 0;
    case 201: return 1;
    case 304: return 2;
    case 404: return 3;
    default: return 4;
    }
}

/* Builds the response to a request of the given kind into c->resp. */
static void build_response(gen_t *g, conn_t *c, enum kind kind, int not_modified, uint64_t ts)
{
    rng_t *r = &g->rng;
    buf_t *b = &c->resp;
    buf_t body = { 0 };
    const char *ctype = "application/json";
    int status = 200, chunkable = 0;
    uint32_t roll = rng_below(r, 1000);
    b->len = 0;

    if (not_modified) {
        status = 304;
    } else if (roll < 30) {
        status = 404;
    } else if (roll < 40) {
        status = 500;
    } else if (kind == K_POST) {
        status = rng_below(r, 3) == 0 ? 201 : 200;
        json_body(g, &body, rng_spread(r, 60, 600), 0);
    } else if (kind == K_API) {
        json_body(g, &body, rng_spread(r, 100, 4096), 0);
        chunkable = 1;
    } else if (kind == K_PAGE) {
        ctype = "text/html; charset=utf-8";
        buf_str(&body, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>"
                       "<script src=\"/static/app.4f3a2b.js\" defer></script></head><body><main>");
        filler_body(g, &body, rng_spread(r, 2000, 20000), 0);
        buf_str(&body, "</main></body></html>");
        chunkable = 1;
    } else {
        int image = rng_below(r, 4) == 0;
        ctype = image ? "image/webp" : "application/javascript";
        filler_body(g, &body, rng_spread(r, 1024, 65536), image);
    }

    if (status == 404) {
        ctype = "text/html";
        buf_str(&body, "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
                       "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
                       "</body>\r\n</html>\r\n");
    } else if (status == 500) {
        buf_printf(&body, "{\"error\":\"internal server error\",\"request_id\":\"%016llx\"}",
                   (unsigned long long)rng_next(r));
    }

    static const char *const reasons[] = { "OK", "Created", "Not Modified", "Not Found",
                                           "Internal Server Error" };
    int si = status_index(status);
    g->t.status[si]++;
    fill_date(g, ts);
    buf_printf(b, "HTTP/1.1 %d %s\r\nServer: nginx/1.22.1\r\nDate: %s\r\n", status, reasons[si], g->date);
    if (status == 304) {
        buf_printf(b, "ETag: \"%s-%x\"\r\nCache-Control: public, max-age=31536000\r\n"
                      "Connection: keep-alive\r\n\r\n",
                   build_hashes[rng_below(r, 4)], rng_below(r, 0xffff));
        return;
    }
    buf_printf(b, "Content-Type: %s\r\n", ctype);
    if (kind == K_STATIC && status == 200)
        buf_printf(b, "ETag: \"%x-%x\"\r\nCache-Control: public, max-age=31536000\r\n",
                   (unsigned)(rng_next(r) & 0xffffff), rng_below(r, 0xffff));
    if (chunkable && status == 200 && rng_below(r, 100) < 20) {
        buf_str(b, "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
        add_chunked(g, b, &body);
        g->t.chunked_responses++;
    } else {
        buf_printf(b, "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n", body.len);
        buf_add(b, body.p, body.len);
    }
    free(body.p);
}

/* ---- connection phases ---- */

static void start_phase(conn_t *c, enum phase ph)
{
    c->phase = ph;
    c->npkts = 0;
    c->next = 0;
}

static void build_handshake(gen_t *g, conn_t *c, uint64_t t)
{
    start_phase(c, PH_HANDSHAKE);
    add_pkt(g, c, t, 1, TH_SYN, c->c_isn, 0, 0, 0);
    add_pkt(g, c, t + 25, 0, TH_SYN | TH_ACK, c->s_isn, c->c_isn + 1, 0, 0);
    c->cseq = c->c_isn + 1;
    c->sseq = c->s_isn + 1;
    add_pkt(g, c, t + 25 + c->rtt_us, 1, TH_ACK, c->cseq, c->sseq, 0, 0);
    c->next_start = c->phase_end + rng_below(&g->rng, 60);
}

/* One request and its response, with the ACKs around them. */
static void build_exchange(gen_t *g, conn_t *c, uint64_t t)
{
    rng_t *r = &g->rng;
    start_phase(c, PH_EXCHANGE);

    uint32_t roll = rng_below(r, 100);
    enum kind kind = K_PAGE;
    if (roll < 25)
        kind = K_POST;
    else if (roll < 77)
        kind = K_API;
    else if (roll < 91)
        kind = K_STATIC;
    int not_modified;
    uint32_t hlen = build_request(g, c, kind, &not_modified);
    uint32_t rlen = (uint32_t)c->req.len;
    g->t.requests++;
    if (kind == K_POST)
        g->t.posts++;
    else
        g->t.gets++;

    /* Some clients write a POST's headers and body separately. */
    uint64_t last;
    if (kind == K_POST && rng_below(r, 100) < 30) {
        last = send_data(g, c, 1, 0, hlen, t, 1);
        last = send_data(g, c, 1, hlen, rlen, last + c->client_gap_us, 1);
        g->t.split_posts++;
    } else {
        last = send_data(g, c, 1, 0, rlen, t, 1);
    }
    if (rlen > MSS)
        g->t.multi_segment_requests++;

    /* Server think time; past 40 ms the delayed-ACK timer acknowledges
     * the request before the response. */
    uint32_t think = rng_spread(r, 150, 120000);
    if (think > 40000 && c->last_unacked)
        add_pkt(g, c, last + 40000, 0, TH_ACK, c->sseq, c->cseq + rlen, 0, 0);
    c->cseq += rlen;
    c->c_bytes += rlen;

    build_response(g, c, kind, not_modified, last + think);
    uint32_t slen = (uint32_t)c->resp.len;
    uint64_t resp_last = send_data(g, c, 0, 0, slen, last + think, 1);
    c->sseq += slen;
    c->s_bytes += slen;

    sort_pkts(c);
    uint64_t next = resp_last + c->rtt_us + rng_spread(r, 300, 250000);
    c->next_start = next > c->phase_end ? next : c->phase_end + 1;
}

static void build_teardown(gen_t *g, conn_t *c, uint64_t t)
{
    start_phase(c, PH_TEARDOWN);
    if (rng_below(&g->rng, 100) < 70) {
        add_pkt(g, c, t, 1, TH_FIN | TH_ACK, c->cseq, c->sseq, 0, 0);
        add_pkt(g, c, t + 30, 0, TH_FIN | TH_ACK, c->sseq, c->cseq + 1, 0, 0);
        add_pkt(g, c, t + 30 + c->rtt_us, 1, TH_ACK, c->cseq + 1, c->sseq + 1, 0, 0);
    } else {
        /* The server's keep-alive timeout closes the connection. */
        uint64_t ts = t + rng_spread(&g->rng, 200000, 2000000);
        add_pkt(g, c, ts, 0, TH_FIN | TH_ACK, c->sseq, c->cseq, 0, 0);
        add_pkt(g, c, ts + c->rtt_us, 1, TH_FIN | TH_ACK, c->cseq, c->sseq + 1, 0, 0);
        add_pkt(g, c, ts + c->rtt_us + 20, 0, TH_ACK, c->sseq + 1, c->cseq + 1, 0, 0);
    }
    c->c_bytes += 1;
    c->s_bytes += 1;
}

static void open_connection(gen_t *g, conn_t *c, uint64_t t)
{
    rng_t *r = &g->rng;
    c->active = 1;
    c->client = &g->clients[rng_below(r, CLIENTS)];
    c->server = &servers[rng_below(r, 100) < 45 ? 0 : rng_below(r, 100) < 70 ? 1 : 2];
    c->cport = c->client->next_port;
    c->client->next_port = c->cport >= 60999 ? 32768 : c->cport + 1;

    /* On each side, 2% of initial sequence numbers lie just below 2^32,
     * so that most of those connections wrap; the rest are uniform. */
    c->c_isn = (uint32_t)rng_next(r);
    c->s_isn = (uint32_t)rng_next(r);
    if (rng_below(r, 100) < 2)
        c->c_isn = 0u - rng_range(r, 1, 4000);
    if (rng_below(r, 100) < 2)
        c->s_isn = 0u - rng_range(r, 1, 60000);
    c->c_bytes = c->s_bytes = 1;
    c->c_ipid = (uint16_t)rng_next(r);
    c->s_ipid = (uint16_t)rng_next(r);
    c->rtt_us = rng_spread(r, 300, 80000);
    c->client_gap_us = rng_range(r, 15, 90);
    c->ts_base_c = (uint32_t)rng_next(r);
    c->ts_base_s = (uint32_t)rng_next(r);
    c->referer_product = 0;

    /* Requests per connection: half make one, a few up to 60. */
    uint32_t roll = rng_below(r, 100);
    if (roll < 55)
        c->requests_total = 1;
    else if (roll < 78)
        c->requests_total = rng_range(r, 2, 4);
    else if (roll < 92)
        c->requests_total = rng_range(r, 5, 12);
    else
        c->requests_total = rng_range(r, 13, 60);
    c->requests_done = 0;
    c->phase_end = 0;
    g->t.connections++;
    g->open++;
    if (g->open > g->t.max_open)
        g->t.max_open = g->open;
    build_handshake(g, c, t);
}

static void close_connection(gen_t *g, conn_t *c)
{
    if ((uint64_t)c->c_isn + c->c_bytes > (1ull << 32) || (uint64_t)c->s_isn + c->s_bytes > (1ull << 32))
        g->t.seq_wraps++;
    c->active = 0;
    g->open--;
}

/* Builds the connection's next phase after its current one was written.
 * Returns 0 when the connection slot has nothing more to send. */
static int advance(gen_t *g, conn_t *c)
{
    if (!g->stopping && g->t.bytes >= g->target_bytes)
        g->stopping = 1;
    uint64_t end = c->phase_end;

    switch (c->phase) {
    case PH_HANDSHAKE:
        build_exchange(g, c, c->next_start);
        return 1;
    case PH_EXCHANGE:
        c->requests_done++;
        if (c->requests_done < c->requests_total && !g->stopping)
            build_exchange(g, c, c->next_start);
        else
            build_teardown(g, c, c->next_start);
        return 1;
    case PH_TEARDOWN:
        close_connection(g, c);
        if (g->stopping)
            return 0;
        open_connection(g, c, end + rng_below(&g->rng, 3000));
        return 1;
    }
    return 0;
}

/* ---- scheduling: a min-heap of connections by their next packet time ---- */

static int heap_less(const conn_t *a, const conn_t *b)
{
    const pkt_t *pa = &a->pkts[a->next], *pb = &b->pkts[b->next];
    return pa->ts_us != pb->ts_us ? pa->ts_us < pb->ts_us : a->slot < b->slot;
}

static void heap_down(gen_t *g, size_t i)
{
    conn_t **h = g->heap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < g->heap_len && heap_less(h[l], h[m]))
            m = l;
        if (l + 1 < g->heap_len && heap_less(h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        conn_t *tmp = h[i]; h[i] = h[m]; h[m] = tmp;
        i = m;
    }
}

static void heap_up(gen_t *g, size_t i)
{
    conn_t **h = g->heap;
    while (i > 0 && heap_less(h[i], h[(i - 1) / 2])) {
        conn_t *tmp = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static void run(gen_t *g, uint32_t open_target)
{
    uint64_t t0 = (uint64_t)BASE_EPOCH * 1000000;
    for (uint32_t i = 0; i < open_target; i++) {
        conn_t *c = &g->conns[i];
        c->slot = (int)i;
        open_connection(g, c, t0 + rng_below(&g->rng, 1000000));
        g->heap[g->heap_len++] = c;
        heap_up(g, g->heap_len - 1);
    }

    while (g->heap_len > 0) {
        conn_t *c = g->heap[0];
        const pkt_t *p = &c->pkts[c->next];
        if (p->ts_us < g->last_ts) {
            fprintf(stderr, "gen_http_pcap: internal error: time went backwards\n");
            exit(1);
        }
        g->last_ts = p->ts_us;
        write_packet(g, c, p);
        c->next++;
        if (c->next == c->npkts && !advance(g, c)) {
            g->heap[0] = g->heap[--g->heap_len];
        }
        heap_down(g, 0);
    }
    out_flush(g);
}

/* ---- setup ---- */

static void init_clients(gen_t *g)
{
    rng_t *r = &g->rng;
    g->clients = calloc(CLIENTS, sizeof *g->clients);
    if (g->clients == NULL)
        die("out of memory");
    for (uint32_t i = 0; i < CLIENTS; i++) {
        client_t *cl = &g->clients[i];
        char sid[33], csrf[33];
        cl->ip = (10u << 24) | (rng_range(r, 1, 254) << 16) | (rng_below(r, 256) << 8) | rng_range(r, 1, 254);
        cl->next_port = (uint16_t)rng_range(r, 32768, 60999);
        cl->agent = (uint8_t)rng_below(r, sizeof user_agents / sizeof user_agents[0]);
        cl->language = (uint8_t)rng_below(r, sizeof languages / sizeof languages[0]);
        cl->user_id = rng_range(r, 1000, 999999);
        hex_string(r, sid, 32);
        hex_string(r, csrf, 32);
        snprintf(cl->cookie, sizeof cl->cookie,
                 "sessionid=%s; csrftoken=%s; _ga=GA1.2.%u.%u; theme=%s; cart_items=%u",
                 sid, csrf, rng_range(r, 100000000, 999999999), BASE_EPOCH - rng_below(r, 9000000),
                 rng_below(r, 2) ? "dark" : "light", rng_below(r, 6));
    }
}

/* Filler text looks like minified JavaScript; filler_bin is random. */
static void init_filler(gen_t *g)
{
    rng_t *r = &g->rng;
    buf_t b = { 0 };
    while (b.len < FILLER_SIZE)
        buf_printf(&b, "function %s_%u(e,t){var n=e.%s||[];return n.map(function(r){return r*%u+t})}",
                   words[rng_below(r, N_WORDS)], rng_below(r, 10000), words[rng_below(r, N_WORDS)],
                   rng_below(r, 100));
    g->filler_text = b.p;
    g->filler_bin = malloc(FILLER_SIZE);
    if (g->filler_bin == NULL)
        die("out of memory");
    for (size_t i = 0; i < FILLER_SIZE; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(g->filler_bin + i, &v, 8);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: gen_http_pcap --out FILE [--seed N] [--size-mb N] [--open N]\n"
        "\n"
        "Writes a synthetic HTTP/1.1 pcap, the same for the same seed and size,\n"
        "then prints its totals (connections, requests, packets, bytes, ...).\n"
        "\n"
        "  --out FILE    pcap file to write\n"
        "  --seed N      PRNG seed (default 1)\n"
        "  --size-mb N   once the file reaches N * 1,000,000 bytes, end each open\n"
        "                connection after its current request (default 300)\n"
        "  --open N      connections open at once (default 1000)\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *v = x;
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    uint64_t seed = 1, size_mb = 300, open_target = 1000;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gen_http_pcap: option '%s' is unknown or its value is missing\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (strcmp(a, "--out") == 0)
            out = v;
        else if (strcmp(a, "--seed") == 0)
            bad = parse_u64(v, &seed);
        else if (strcmp(a, "--size-mb") == 0)
            bad = parse_u64(v, &size_mb) || size_mb == 0 || size_mb > 100000;
        else if (strcmp(a, "--open") == 0)
            bad = parse_u64(v, &open_target) || open_target == 0 || open_target > 100000;
        else {
            fprintf(stderr, "gen_http_pcap: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "gen_http_pcap: invalid value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (out == NULL) {
        fprintf(stderr, "gen_http_pcap: --out FILE is missing\n");
        usage(stderr);
        return 2;
    }

    gen_t g = { 0 };
    g.rng.s = seed;
    g.target_bytes = size_mb * 1000000;
    g.out = fopen(out, "wb");
    if (g.out == NULL) {
        fprintf(stderr, "gen_http_pcap: failed to create %s: %s\n", out, strerror(errno));
        return 1;
    }
    g.obuf = malloc(OUT_BUF_SIZE);
    g.conns = calloc(open_target, sizeof *g.conns);
    g.heap = calloc(open_target, sizeof *g.heap);
    if (g.obuf == NULL || g.conns == NULL || g.heap == NULL)
        die("out of memory");
    init_clients(&g);
    init_filler(&g);
    write_pcap_header(&g);

    run(&g, (uint32_t)open_target);
    if (fclose(g.out) != 0)
        die("closing the output failed");

    for (uint64_t i = 0; i < open_target; i++) {
        free(g.conns[i].req.p);
        free(g.conns[i].resp.p);
        free(g.conns[i].pkts);
    }
    free(g.conns);
    free(g.heap);
    free(g.clients);
    free(g.filler_text);
    free(g.filler_bin);
    free(g.obuf);

    const totals_t *t = &g.t;
    printf("connections %llu\n", (unsigned long long)t->connections);
    printf("requests %llu\n", (unsigned long long)t->requests);
    printf("packets %llu\n", (unsigned long long)t->packets);
    printf("bytes %llu\n", (unsigned long long)t->bytes);
    printf("get %llu\n", (unsigned long long)t->gets);
    printf("post %llu\n", (unsigned long long)t->posts);
    printf("post_split_headers_body %llu\n", (unsigned long long)t->split_posts);
    printf("multi_segment_requests %llu\n", (unsigned long long)t->multi_segment_requests);
    printf("status_200 %llu\n", (unsigned long long)t->status[0]);
    printf("status_201 %llu\n", (unsigned long long)t->status[1]);
    printf("status_304 %llu\n", (unsigned long long)t->status[2]);
    printf("status_404 %llu\n", (unsigned long long)t->status[3]);
    printf("status_500 %llu\n", (unsigned long long)t->status[4]);
    printf("chunked_responses %llu\n", (unsigned long long)t->chunked_responses);
    printf("data_segments %llu\n", (unsigned long long)t->data_segments);
    printf("swapped_segments %llu\n", (unsigned long long)t->swapped_segments);
    printf("retransmissions %llu\n", (unsigned long long)t->retransmissions);
    printf("seq_wrap_connections %llu\n", (unsigned long long)t->seq_wraps);
    printf("max_open_connections %u\n", t->max_open);
    double span = (double)(t->last_ts - t->first_ts) / 1e6;
    printf("span_s %.3f\n", span);
    printf("requests_per_s %.0f\n", span > 0 ? (double)t->requests / span : 0.0);
    return 0;
}
