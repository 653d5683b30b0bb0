/* Unit tests for TCP reassembly and HTTP extraction, fed with hand-built
 * segments so each case controls order, loss and timing exactly. */
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/http.h"
#include "capture/tcp.h"
#include "check.h"

#define MAX_RECS 32

typedef struct got {
    char method[32], target[128], headers[512];
    uint32_t body_len, flags;
    char body[256];
    uint16_t status;
    uint64_t ts_ns, ttfb_ns, conn_id, resp_bytes;
} got;

typedef struct sim {
    rp_tcp_table *tcp;
    rp_http *http;
    got recs[MAX_RECS];
    int n;
    uint32_t seq[2];     /* next sequence number per direction */
    uint64_t now;
} sim;

static int collect(void *ctx, const rp_record *r)
{
    sim *s = ctx;
    if (s->n == MAX_RECS)
        return 0;
    got *g = &s->recs[s->n++];
    snprintf(g->method, sizeof g->method, "%.*s", (int)r->method_len, r->method);
    snprintf(g->target, sizeof g->target, "%.*s", (int)r->target_len, r->target);
    snprintf(g->headers, sizeof g->headers, "%.*s", (int)r->headers_len, r->headers);
    g->body_len = r->body_len;
    if (r->body_len > 0 && r->body_len < sizeof g->body)
        memcpy(g->body, r->body, r->body_len);
    g->flags = r->flags;
    g->status = r->resp_status;
    g->ts_ns = r->ts_ns;
    g->ttfb_ns = r->resp_ttfb_ns;
    g->conn_id = r->conn_id;
    g->resp_bytes = r->resp_bytes;
    return 0;
}

static void sim_init(sim *s, int keep_truncated)
{
    memset(s, 0, sizeof *s);
    rp_http_opts o = { .keep_truncated = keep_truncated };
    s->http = rp_http_new(&o, collect, s);
    rp_tcp_callbacks cb;
    rp_http_tcp_callbacks(s->http, &cb);
    s->tcp = rp_tcp_table_new(NULL, &cb);
    s->seq[0] = 1000;
    s->seq[1] = 5000;
    s->now = 1000000000ull;
}

/* Sends a segment from dir (0 client, 1 server) at sequence offset off
 * from the direction's current position, without advancing it. */
static void seg_at(sim *s, int dir, uint32_t seq, uint8_t flags, const char *payload, size_t len)
{
    rp_packet p;
    memset(&p, 0, sizeof p);
    p.ip_version = 4;
    p.src[0] = 10; p.src[3] = (uint8_t)(dir ? 2 : 1);
    p.dst[0] = 10; p.dst[3] = (uint8_t)(dir ? 1 : 2);
    p.sport = dir ? 80 : 40000;
    p.dport = dir ? 40000 : 80;
    p.seq = seq;
    p.ack = s->seq[!dir];
    p.flags = flags | RP_TCP_ACK;
    p.payload = (const uint8_t *)payload;
    p.payload_len = p.wire_len = (uint32_t)len;
    s->now += 1000000;   /* 1 ms per segment */
    rp_tcp_table_input(s->tcp, &p, s->now);
}

/* Sends payload from dir in sequence and advances the direction. */
static void sendp(sim *s, int dir, const char *payload)
{
    size_t len = strlen(payload);
    seg_at(s, dir, s->seq[dir], RP_TCP_PSH, payload, len);
    s->seq[dir] += (uint32_t)len;
}

static void handshake(sim *s)
{
    rp_packet p;
    memset(&p, 0, sizeof p);
    p.ip_version = 4;
    p.src[0] = 10; p.src[3] = 1;
    p.dst[0] = 10; p.dst[3] = 2;
    p.sport = 40000; p.dport = 80;
    p.seq = s->seq[0] - 1;
    p.flags = RP_TCP_SYN;
    rp_tcp_table_input(s->tcp, &p, s->now);
    p.src[3] = 2; p.dst[3] = 1; p.sport = 80; p.dport = 40000;
    p.seq = s->seq[1] - 1;
    p.ack = s->seq[0];
    p.flags = RP_TCP_SYN | RP_TCP_ACK;
    rp_tcp_table_input(s->tcp, &p, s->now);
}

static void sim_finish(sim *s)
{
    rp_tcp_table_free(s->tcp, s->now, NULL);
    rp_http_flush(s->http, UINT64_MAX, 1);
    rp_http_free(s->http);
}

static const char GET1[] = "GET /a?x=1 HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n";
static const char OK2[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(capture_single_request_and_response)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, GET1);
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.recs[0].method, "GET");
    CHECK_EQ_STR(s.recs[0].target, "/a?x=1");
    CHECK_EQ_STR(s.recs[0].headers, "Host: example.test\r\nAccept: */*\r\n");
    CHECK_EQ_INT(s.recs[0].status, 200);
    CHECK_EQ_INT(s.recs[0].body_len, 0);
    CHECK_EQ_INT(s.recs[0].ttfb_ns, 1000000);
    CHECK_EQ_INT(s.recs[0].resp_bytes, strlen(OK2));
    CHECK(s.recs[0].flags & RP_REC_HAS_RESPONSE);
}

TEST(capture_request_split_over_segments)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "POST /p HTTP/1.1\r\nHo");
    uint64_t first_ts = s.now;
    sendp(&s, 0, "st: h\r\nContent-Length: 5\r\n\r\nab");
    sendp(&s, 0, "cde");
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.recs[0].method, "POST");
    CHECK_EQ_INT(s.recs[0].body_len, 5);
    CHECK_EQ_MEM(s.recs[0].body, 5, "abcde");
    CHECK_EQ_INT(s.recs[0].ts_ns, first_ts);   /* time of the first byte */
}

TEST(capture_retransmitted_and_duplicate_segments)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    uint32_t start = s.seq[0];
    sendp(&s, 0, GET1);
    seg_at(&s, 0, start, RP_TCP_PSH, GET1, strlen(GET1));          /* full retransmission */
    seg_at(&s, 0, start + 10, RP_TCP_PSH, GET1 + 10, 20);           /* overlap inside */
    sendp(&s, 1, OK2);
    sendp(&s, 1, "");
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.recs[0].target, "/a?x=1");
    CHECK_EQ_INT(s.recs[0].status, 200);
}

TEST(capture_out_of_order_segments)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    const char *req = "GET /ooo HTTP/1.1\r\nHost: h\r\n\r\n";
    uint32_t base = s.seq[0];
    seg_at(&s, 0, base + 10, RP_TCP_PSH, req + 10, strlen(req) - 10);   /* second half first */
    seg_at(&s, 0, base, RP_TCP_PSH, req, 10);
    s.seq[0] += (uint32_t)strlen(req);
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.recs[0].target, "/ooo");
    CHECK_EQ_INT(s.recs[0].status, 200);
}

TEST(capture_sequence_wraparound)
{
    sim s;
    sim_init(&s, 0);
    s.seq[0] = 0xfffffff0u;
    handshake(&s);
    sendp(&s, 0, GET1);                 /* crosses 2^32 */
    sendp(&s, 1, OK2);
    sendp(&s, 0, "GET /second HTTP/1.1\r\nHost: h\r\n\r\n");
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.recs[1].target, "/second");
    CHECK_EQ_INT(s.recs[1].status, 200);
}

TEST(capture_pipelined_requests_pair_in_order)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                 "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nabc");
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.recs[0].target, "/1");
    CHECK_EQ_INT(s.recs[0].status, 200);
    CHECK_EQ_STR(s.recs[1].target, "/2");
    CHECK_EQ_INT(s.recs[1].status, 404);
    CHECK_EQ_STR(s.recs[2].target, "/3");
    CHECK_EQ_INT(s.recs[2].status, 500);
}

/* A response to HEAD, and 204 and 304 responses, carry no body whatever
 * their Content-Length. A parser that read one would swallow the next
 * response and shift the pairing. */
TEST(capture_head_204_304_have_no_body)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    sendp(&s, 0, "DELETE /d HTTP/1.1\r\nHost: h\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n");
    sendp(&s, 0, "GET /c HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 304 Not Modified\r\nContent-Length: 70\r\n\r\n");
    sendp(&s, 0, "GET /last HTTP/1.1\r\nHost: h\r\n\r\n");
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_STR(s.recs[0].method, "HEAD");
    CHECK_EQ_INT(s.recs[0].status, 200);
    CHECK_EQ_INT(s.recs[1].status, 204);
    CHECK_EQ_INT(s.recs[2].status, 304);
    CHECK_EQ_STR(s.recs[3].target, "/last");
    CHECK_EQ_INT(s.recs[3].status, 200);
}

TEST(capture_chunked_body_decoded)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n");
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.recs[0].body_len, 7);
    CHECK_EQ_MEM(s.recs[0].body, 7, "abcdefg");
    CHECK(s.recs[0].flags & RP_REC_CHUNKED);
    CHECK_EQ_INT(s.recs[0].status, 200);
}

/* Chunk-size lines as real clients send them: bare LF line ends and a
 * space before the extension, which llhttp 8.1 rejects. */
TEST(capture_lenient_chunked_framing)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "POST /c HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n"
                 "8 ; ext=1\ntototata\n4\ntiti\n0\nX-Trailer: t\n\n");
    sendp(&s, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "2\r\nok\r\n0\r\n\r\n");
    sendp(&s, 0, GET1);
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.recs[0].body_len, 12);
    CHECK_EQ_MEM(s.recs[0].body, 12, "tototatatiti");
    CHECK(s.recs[0].flags & RP_REC_CHUNKED);
    CHECK_EQ_INT(s.recs[0].status, 200);
    CHECK_EQ_INT(s.recs[1].status, 200);   /* the chunked response ended where it should */
}

TEST(capture_bad_chunk_size_skips_request)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "POST /bad HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "zz\r\nabc\r\n");
    sendp(&s, 0, GET1);
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.recs[0].target, "/a?x=1");
}

TEST(capture_100_continue_is_not_the_response)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "PUT /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 100 Continue\r\n\r\n");
    sendp(&s, 0, "xyz");
    sendp(&s, 1, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.recs[0].status, 201);
    CHECK_EQ_INT(s.recs[0].body_len, 3);
}

TEST(capture_unknown_method_kept)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "CCM_POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi");
    sendp(&s, 1, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    sendp(&s, 0, GET1);
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.recs[0].method, "CCM_POST");
    CHECK_EQ_INT(s.recs[0].body_len, 2);
    CHECK_EQ_INT(s.recs[0].status, 405);
    CHECK_EQ_STR(s.recs[1].method, "GET");
    CHECK_EQ_INT(s.recs[1].status, 200);
}

TEST(capture_garbage_then_request_resyncs)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "\x01\x02\x03 binary junk\r\nmore junk\n");
    sendp(&s, 0, GET1);
    sendp(&s, 1, OK2);
    sim_finish(&s);

    const rp_http_stats *st;
    (void)st;
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_STR(s.recs[0].target, "/a?x=1");
    CHECK_EQ_INT(s.recs[0].status, 200);
}

TEST(capture_gap_loses_only_that_request)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, GET1);
    sendp(&s, 1, OK2);
    /* The second request's middle segment is never captured. */
    const char *lost = "POST /lost HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
    seg_at(&s, 0, s.seq[0], RP_TCP_PSH, lost, 20);
    s.seq[0] += (uint32_t)strlen(lost);                     /* bytes 20.. never seen */
    sendp(&s, 1, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    sendp(&s, 0, "GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.recs[0].target, "/a?x=1");
    CHECK_EQ_STR(s.recs[1].target, "/after");
    CHECK_EQ_INT(s.recs[1].status, 200);
}

TEST(capture_records_in_timestamp_order)
{
    /* Two connections: the first request's response comes last, yet its
     * record must come first. */
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");

    rp_packet p;
    memset(&p, 0, sizeof p);
    p.ip_version = 4;
    p.src[0] = 10; p.src[3] = 3; p.dst[0] = 10; p.dst[3] = 2;
    p.sport = 41000; p.dport = 80; p.seq = 77; p.flags = RP_TCP_ACK | RP_TCP_PSH;
    const char *fast = "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n";
    p.payload = (const uint8_t *)fast;
    p.payload_len = p.wire_len = (uint32_t)strlen(fast);
    s.now += 1000000;
    rp_tcp_table_input(s.tcp, &p, s.now);
    p.src[3] = 2; p.dst[3] = 3; p.sport = 80; p.dport = 41000; p.seq = 900; p.ack = 77 + p.wire_len;
    p.payload = (const uint8_t *)OK2;
    p.payload_len = p.wire_len = (uint32_t)strlen(OK2);
    s.now += 1000000;
    rp_tcp_table_input(s.tcp, &p, s.now);
    rp_http_flush(s.http, s.now + 10000000000ull, 0);

    sendp(&s, 1, OK2);
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_STR(s.recs[0].target, "/slow");
    CHECK_EQ_STR(s.recs[1].target, "/fast");
    CHECK(s.recs[0].ts_ns <= s.recs[1].ts_ns);
    CHECK(s.recs[0].conn_id != s.recs[1].conn_id);
}

TEST(capture_upgrade_stops_http_parsing)
{
    sim s;
    sim_init(&s, 0);
    handshake(&s);
    sendp(&s, 0, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    sendp(&s, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    sendp(&s, 0, "GET /not-http HTTP/1.1\r\n\r\n");   /* inside the tunnel */
    sendp(&s, 1, "\x81\x05hello");
    sim_finish(&s);

    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.recs[0].status, 101);
    CHECK(s.recs[0].flags & RP_REC_UPGRADE);
}

/* ---- packet decoding ---- */

static size_t build_ipv4_tcp(uint8_t *f, const char *payload, int ihl_words)
{
    size_t plen = strlen(payload);
    size_t ihl = (size_t)ihl_words * 4;
    memset(f, 0, ihl + 20);
    f[0] = (uint8_t)(0x40 | ihl_words);
    size_t total = ihl + 20 + plen;
    f[2] = (uint8_t)(total >> 8); f[3] = (uint8_t)total;
    f[8] = 64; f[9] = 6;
    f[12] = 10; f[15] = 1; f[16] = 10; f[19] = 2;
    uint8_t *t = f + ihl;
    t[0] = 0x9c; t[1] = 0x40; t[2] = 0; t[3] = 80;
    t[7] = 1;
    t[12] = 5 << 4; t[13] = RP_TCP_ACK | RP_TCP_PSH;
    memcpy(t + 20, payload, plen);
    return total;
}

TEST(decode_ethernet_vlan_ipv4)
{
    uint8_t f[256];
    memset(f, 0, 18);
    f[12] = 0x81; f[13] = 0x00;          /* 802.1Q */
    f[16] = 0x08; f[17] = 0x00;
    size_t n = 18 + build_ipv4_tcp(f + 18, "GET", 5);
    memset(f + n, 0xee, 6);              /* Ethernet padding after the IP packet */
    rp_packet p;
    CHECK_EQ_INT(rp_decode_packet(1, f, (uint32_t)n + 6, &p), RP_DECODE_TCP);
    CHECK_EQ_INT(p.dport, 80);
    CHECK_EQ_INT(p.seq, 1);
    CHECK_EQ_INT(p.payload_len, 3);      /* padding excluded */
    CHECK_EQ_MEM(p.payload, 3, "GET");
}

TEST(decode_stacked_qinq_tags)
{
    uint8_t f[256];
    memset(f, 0, 22);
    f[12] = 0x88; f[13] = 0xa8;          /* 802.1ad outer tag */
    f[16] = 0x81; f[17] = 0x00;          /* 802.1Q inner tag */
    f[20] = 0x08; f[21] = 0x00;
    size_t n = 22 + build_ipv4_tcp(f + 22, "GET", 5);
    rp_packet p;
    CHECK_EQ_INT(rp_decode_packet(1, f, (uint32_t)n, &p), RP_DECODE_TCP);
    CHECK_EQ_MEM(p.payload, 3, "GET");
}

TEST(decode_link_types)
{
    uint8_t f[256], ip[128];
    size_t n = build_ipv4_tcp(ip, "x", 5);
    rp_packet p;

    memcpy(f + 4, ip, n);                /* BSD loopback, little-endian AF_INET */
    f[0] = 2; f[1] = f[2] = f[3] = 0;
    CHECK_EQ_INT(rp_decode_packet(0, f, (uint32_t)(n + 4), &p), RP_DECODE_TCP);

    memset(f, 0, 16);                    /* Linux cooked v1 */
    f[14] = 0x08; f[15] = 0x00;
    memcpy(f + 16, ip, n);
    CHECK_EQ_INT(rp_decode_packet(113, f, (uint32_t)(n + 16), &p), RP_DECODE_TCP);

    memset(f, 0, 20);                    /* Linux cooked v2 */
    f[0] = 0x08; f[1] = 0x00;
    memcpy(f + 20, ip, n);
    CHECK_EQ_INT(rp_decode_packet(276, f, (uint32_t)(n + 20), &p), RP_DECODE_TCP);

    CHECK_EQ_INT(rp_decode_packet(12, ip, (uint32_t)n, &p), RP_DECODE_TCP);    /* raw */
    CHECK_EQ_INT(rp_decode_packet(101, ip, (uint32_t)n, &p), RP_DECODE_TCP);
    CHECK_EQ_INT(rp_decode_packet(228, ip, (uint32_t)n, &p), RP_DECODE_TCP);
    CHECK_EQ_INT(rp_decode_packet(147, ip, (uint32_t)n, &p), RP_DECODE_UNSUPPORTED_LINK);
}

TEST(decode_rejects_bad_lengths)
{
    uint8_t ip[128];
    size_t n = build_ipv4_tcp(ip, "abc", 5);
    rp_packet p;

    CHECK_EQ_INT(rp_decode_packet(12, ip, 10, &p), RP_DECODE_SHORT);
    ip[0] = 0x43;                         /* IHL 12 bytes: impossible */
    CHECK_EQ_INT(rp_decode_packet(12, ip, (uint32_t)n, &p), RP_DECODE_BAD_HEADER);
    ip[0] = 0x45;
    ip[20 + 12] = 2 << 4;                 /* TCP data offset 8 bytes */
    CHECK_EQ_INT(rp_decode_packet(12, ip, (uint32_t)n, &p), RP_DECODE_BAD_HEADER);
    ip[20 + 12] = 5 << 4;
    ip[6] = 0x20;                         /* more fragments */
    CHECK_EQ_INT(rp_decode_packet(12, ip, (uint32_t)n, &p), RP_DECODE_FRAGMENT);
    ip[6] = 0;
    ip[9] = 17;                           /* UDP */
    CHECK_EQ_INT(rp_decode_packet(12, ip, (uint32_t)n, &p), RP_DECODE_NOT_TCP);
}

TEST(decode_snaplen_cut_payload)
{
    uint8_t ip[128];
    size_t n = build_ipv4_tcp(ip, "GET /long HTTP/1.1", 5);
    rp_packet p;
    CHECK_EQ_INT(rp_decode_packet(12, ip, (uint32_t)n - 10, &p), RP_DECODE_TCP);
    CHECK_EQ_INT(p.payload_len, 8);
    CHECK_EQ_INT(p.wire_len, 18);
}

TEST(decode_ipv6_extension_header)
{
    uint8_t f[256];
    memset(f, 0, sizeof f);
    f[0] = 0x60;
    size_t plen = 8 + 20 + 2;
    f[4] = 0; f[5] = (uint8_t)plen;
    f[6] = 0;                             /* hop-by-hop options first */
    f[7] = 64;
    f[40] = 6;                            /* then TCP; ext header length 8 */
    uint8_t *t = f + 48;
    t[1] = 1; t[3] = 80;
    t[12] = 5 << 4;
    t[13] = RP_TCP_ACK;
    t[20] = 'h'; t[21] = 'i';
    rp_packet p;
    CHECK_EQ_INT(rp_decode_packet(229, f, (uint32_t)(40 + plen), &p), RP_DECODE_TCP);
    CHECK_EQ_INT(p.ip_version, 6);
    CHECK_EQ_INT(p.payload_len, 2);
}

/* ---- TCP table limits and connection reuse ---- */

typedef struct tcp_events {
    int data, closes, evicted, idle, reused;
} tcp_events;

static void ev_data(void *ctx, rp_tcp_conn *c, int dir, const uint8_t *d, uint32_t len,
                    uint32_t seq, uint64_t ts, uint32_t ack, int ack_valid)
{
    ((tcp_events *)ctx)->data++;
}

static void ev_close(void *ctx, rp_tcp_conn *c, rp_tcp_close_reason why, uint64_t ts)
{
    tcp_events *e = ctx;
    e->closes++;
    e->evicted += why == RP_TCP_CLOSE_EVICTED;
    e->idle += why == RP_TCP_CLOSE_IDLE;
    e->reused += why == RP_TCP_CLOSE_REUSED;
}

static void tcp_seg(rp_tcp_table *t, uint16_t sport, uint32_t seq, uint8_t flags,
                    const char *payload, uint64_t ts)
{
    rp_packet p;
    memset(&p, 0, sizeof p);
    p.ip_version = 4;
    p.src[0] = 10; p.src[3] = 1; p.dst[0] = 10; p.dst[3] = 2;
    p.sport = sport; p.dport = 80; p.seq = seq; p.flags = flags;
    p.payload = (const uint8_t *)payload;
    p.payload_len = p.wire_len = (uint32_t)strlen(payload);
    rp_tcp_table_input(t, &p, ts);
}

TEST(tcp_table_evicts_oldest_when_full)
{
    tcp_events e = { 0 };
    rp_tcp_callbacks cb = { .ctx = &e, .on_data = ev_data, .on_close = ev_close };
    rp_tcp_limits lim = { .max_connections = 4 };
    rp_tcp_table *t = rp_tcp_table_new(&lim, &cb);
    for (uint16_t i = 0; i < 10; i++)
        tcp_seg(t, (uint16_t)(40000 + i), 1, RP_TCP_ACK | RP_TCP_PSH, "x", 1000 + i);
    CHECK_EQ_INT(rp_tcp_table_size(t), 4);
    CHECK_EQ_INT(e.evicted, 6);
    CHECK_EQ_INT(rp_tcp_table_stats(t)->evicted, 6);
    rp_tcp_table_free(t, 2000, NULL);
    CHECK_EQ_INT(e.closes, 10);
}

TEST(tcp_table_closes_idle_connections)
{
    tcp_events e = { 0 };
    rp_tcp_callbacks cb = { .ctx = &e, .on_data = ev_data, .on_close = ev_close };
    rp_tcp_limits lim = { .idle_timeout_ns = 1000 };
    rp_tcp_table *t = rp_tcp_table_new(&lim, &cb);
    tcp_seg(t, 40000, 1, RP_TCP_ACK | RP_TCP_PSH, "a", 100);
    tcp_seg(t, 40001, 1, RP_TCP_ACK | RP_TCP_PSH, "b", 900);
    rp_tcp_table_expire(t, 1500);
    CHECK_EQ_INT(e.idle, 1);
    CHECK_EQ_INT(rp_tcp_table_size(t), 1);
    rp_tcp_table_free(t, 3000, NULL);
}

TEST(tcp_reused_tuple_new_connection)
{
    tcp_events e = { 0 };
    rp_tcp_callbacks cb = { .ctx = &e, .on_data = ev_data, .on_close = ev_close };
    rp_tcp_table *t = rp_tcp_table_new(NULL, &cb);
    tcp_seg(t, 40000, 100, RP_TCP_SYN, "", 1);
    tcp_seg(t, 40000, 101, RP_TCP_ACK | RP_TCP_PSH, "first", 2);
    tcp_seg(t, 40000, 100, RP_TCP_SYN, "", 3);            /* SYN retransmission: same */
    CHECK_EQ_INT(e.reused, 0);
    tcp_seg(t, 40000, 90000, RP_TCP_SYN, "", 4);          /* new ISN: a new connection */
    CHECK_EQ_INT(e.reused, 1);
    tcp_seg(t, 40000, 90001, RP_TCP_ACK | RP_TCP_PSH, "second", 5);
    CHECK_EQ_INT(e.data, 2);
    CHECK_EQ_INT(rp_tcp_table_stats(t)->connections, 2);
    rp_tcp_table_free(t, 10, NULL);
}

TEST(tcp_queue_limit_skips_hole)
{
    tcp_events e = { 0 };
    rp_tcp_callbacks cb = { .ctx = &e, .on_data = ev_data, .on_close = ev_close };
    rp_tcp_limits lim = { .max_queued_per_dir = 10 };
    rp_tcp_table *t = rp_tcp_table_new(&lim, &cb);
    tcp_seg(t, 40000, 100, RP_TCP_SYN, "", 1);
    tcp_seg(t, 40000, 111, RP_TCP_ACK | RP_TCP_PSH, "after-hole", 2);   /* 10 bytes queued */
    CHECK_EQ_INT(e.data, 0);
    tcp_seg(t, 40000, 121, RP_TCP_ACK | RP_TCP_PSH, "more", 3);         /* over the limit */
    CHECK_EQ_INT(rp_tcp_table_stats(t)->queue_overflows, 1);
    CHECK_EQ_INT(rp_tcp_table_stats(t)->gaps, 1);
    CHECK_EQ_INT(e.data, 2);
    rp_tcp_table_free(t, 10, NULL);
}
