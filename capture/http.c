#include "capture/http.h"

#include <llhttp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "capture/reorder.h"

#define DEFAULT_MAX_LINE      (64u << 10)
#define DEFAULT_MAX_HEADERS   (1u << 20)
#define DEFAULT_MAX_BODY      (16u << 20)
#define DEFAULT_RESP_TIMEOUT  (120ull * 1000000000ull)
#define DEFAULT_MAX_BUFFERED  (64ull << 20)
/* Ready records wait this long (capture time) before being written, so
 * that packets stored slightly out of time order still sort correctly. */
#define ORDER_HORIZON_NS      (100ull * 1000000ull)
#define MAX_METHOD_LEN        32

enum { CLIENT = 0, SERVER = 1 };

typedef enum state {
    ST_LINE,          /* at a message boundary, reading a start line */
    ST_RESYNC,        /* looking for the next start line after garbage or a gap */
    ST_MSG,           /* inside a message, fed to llhttp */
    ST_CHUNKED,       /* inside a chunked body, decoded by this module */
    ST_WAIT_UPGRADE,  /* client sent Upgrade or CONNECT; waiting for the response */
    ST_TUNNEL         /* not HTTP any more (upgrade, CONNECT, TLS) */
} state;

/* Where the chunked decoder is inside a body. */
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

struct hconn;

typedef struct req {
    rp_reorder_node node;
    struct hconn *conn;        /* NULL once the connection is gone */
    struct req *next;          /* connection queue, in request order */
    uint64_t conn_id;
    buf method, target, headers, body;
    uint8_t major, minor;
    uint32_t flags;            /* RP_REC_* */
    uint32_t start_seq, end_seq;
    uint32_t client_ack;       /* ack of the segment carrying the first byte */
    int client_ack_valid;
    int headers_done, complete, resp_final, is_head;
    int has_authorization, has_cookie;
    uint16_t status;
    uint64_t ttfb_ns, ttlb_ns, resp_bytes;
    size_t accounted;          /* bytes counted in rp_http.buffered */
} req;

/* Position of the data being parsed, for callbacks and message ends. */
typedef struct seginfo {
    uint64_t ts_ns;
    uint32_t seq;
    uint32_t ack;
    int ack_valid;
} seginfo;

typedef struct side {
    struct hconn *conn;
    int role;
    state st;
    int at_line_start;
    buf line;
    seginfo line_at;           /* where the start line began */
    llhttp_t parser;
    req *cur;                  /* client: request being parsed; server: its request */
    uint64_t msg_ts_ns, msg_bytes, last_ts_ns;
    int header_error;
    size_t field_start;        /* offset of the header name being read */
    int in_field;
    int chunked_next;          /* headers ended with chunked framing: decode it here */
    int chunk_state;           /* CH_* */
    uint64_t chunk_left;
    buf chunk_line;
} side;

typedef struct hconn {
    struct rp_http *h;
    uint64_t id;
    int client_dir;            /* TCP direction of the client, -1 until known */
    side s[2];                 /* by role */
    req *head, *tail;          /* requests waiting for their final response */
    int pipelined;
    int server_gap;            /* server bytes lost since the last pairing */
    int client_seq_known;
    int tls;
    int ignored;               /* left out by sampling or the port list */
} hconn;

struct rp_http {
    rp_http_opts o;
    rp_http_emit_fn emit;
    void *emit_ctx;
    int failed;
    rp_http_stats stats;
    rp_reorder *order;
    llhttp_settings_t settings;
    uint64_t buffered;
    uint64_t last_emit_ts;
    uint64_t max_ts;
};

static const char *const skip_names[RP_SKIP_COUNT] = {
    [RP_SKIP_BAD_REQUEST_LINE] = "bad request line",
    [RP_SKIP_BAD_STATUS_LINE] = "bad status line",
    [RP_SKIP_REQUEST_PARSE] = "request rejected by the HTTP parser",
    [RP_SKIP_RESPONSE_PARSE] = "response rejected by the HTTP parser",
    [RP_SKIP_LINE_TOO_LONG] = "start line too long",
    [RP_SKIP_HEADERS_TOO_LARGE] = "header block too large",
    [RP_SKIP_REQUEST_GAP] = "request cut by missing packets or snap length",
    [RP_SKIP_REQUEST_UNFINISHED] = "connection ended inside a request",
    [RP_SKIP_REQUEST_STALLED] = "request incomplete after the response timeout",
    [RP_SKIP_RESPONSE_UNPAIRED] = "response without a captured request",
};

const char *rp_http_skip_name(rp_http_skip s)
{
    return (unsigned)s < RP_SKIP_COUNT ? skip_names[s] : "unknown";
}

const rp_http_stats *rp_http_get_stats(const rp_http *h) { return &h->stats; }
int rp_http_failed(const rp_http *h) { return h->failed; }

/* ---- buffers ---- */

static int buf_append(buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- start lines ---- */

static int is_tchar(unsigned char c)
{
    if (c >= 'a' && c <= 'z') return 1;
    if (c >= 'A' && c <= 'Z') return 1;
    if (c >= '0' && c <= '9') return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* llhttp 8.1 parses only these request methods. Others are fed to it as
 * GET, so the headers and body are still framed, and the captured method
 * is kept. */
#define RP_METHOD_NAME(num, name, string) #string,
static const char *const llhttp_methods[] = { HTTP_METHOD_MAP(RP_METHOD_NAME) };
#undef RP_METHOD_NAME

static int llhttp_knows_method(const char *m, size_t n)
{
    for (size_t i = 0; i < sizeof llhttp_methods / sizeof llhttp_methods[0]; i++)
        if (strlen(llhttp_methods[i]) == n && memcmp(llhttp_methods[i], m, n) == 0)
            return 1;
    return 0;
}

/* A parsed start line: pointers into the line buffer. */
typedef struct start_line {
    const char *method, *target, *reason;
    size_t method_len, target_len, reason_len;
    int major, minor, status;
} start_line;

static size_t line_content_len(const buf *line)
{
    size_t n = line->len;
    if (n && line->p[n - 1] == '\n') n--;
    if (n && line->p[n - 1] == '\r') n--;
    return n;
}

/* Parses "HTTP/d.d" at p; returns bytes used or 0. */
static size_t parse_version(const char *p, size_t n, int *major, int *minor)
{
    if (n < 8 || memcmp(p, "HTTP/", 5) != 0)
        return 0;
    if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
        return 0;
    *major = p[5] - '0';
    *minor = p[7] - '0';
    return 8;
}

/* Parses "METHOD SP request-target SP HTTP/d.d". With lenient set (at a
 * message boundary, where framing is clear) it also takes what real
 * clients send and servers respond to: a version cut to "HTTP/1.", no
 * version, or a method alone. Version 0.0 then records that none was valid. */
static int parse_request_line(const buf *line, start_line *sl, int lenient)
{
    const char *p = line->p;
    size_t n = line_content_len(line), i = 0;
    while (i < n && i <= MAX_METHOD_LEN && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i > MAX_METHOD_LEN)
        return -1;
    sl->method = p;
    sl->method_len = i;
    sl->target = p + i;
    sl->target_len = 0;
    sl->major = sl->minor = 0;
    if (i == n)
        return lenient ? 0 : -1;
    if (p[i] != ' ')
        return -1;

    size_t t = ++i;
    while (i < n && p[i] != ' ' && (unsigned char)p[i] > 0x20 && p[i] != 0x7f)
        i++;
    sl->target = p + t;
    sl->target_len = i - t;
    if (i == n)
        return lenient && i > t ? 0 : -1;
    if (i == t || p[i] != ' ')
        return -1;

    i++;
    size_t v = parse_version(p + i, n - i, &sl->major, &sl->minor);
    if (v != 0 && i + v == n)
        return 0;
    if (lenient && n - i == 7 && memcmp(p + i, "HTTP/", 5) == 0 &&
        p[i + 5] >= '0' && p[i + 5] <= '9' && p[i + 6] == '.') {
        sl->major = sl->minor = 0;
        return 0;
    }
    return -1;
}

/* HTTP-version SP 3DIGIT [SP reason] */
static int parse_status_line(const buf *line, start_line *sl)
{
    const char *p = line->p;
    size_t n = line_content_len(line);
    size_t v = parse_version(p, n, &sl->major, &sl->minor);
    if (v == 0 || n < v + 4 || p[v] != ' ')
        return -1;
    const char *d = p + v + 1;
    if (d[0] < '1' || d[0] > '9' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9')
        return -1;
    if (n > v + 4 && p[v + 4] != ' ')
        return -1;
    sl->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    sl->reason = n > v + 5 ? p + v + 5 : "";
    sl->reason_len = n > v + 5 ? n - v - 5 : 0;
    return 0;
}

/* Nonzero while the first bytes of a line can still begin a start line,
 * so binary garbage is rejected without buffering a whole line of it. */
static int line_plausible(int role, const buf *line)
{
    if (role == SERVER) {
        size_t n = line->len < 5 ? line->len : 5;
        return memcmp(line->p, "HTTP/", n) == 0;
    }
    for (size_t i = 0; i < line->len && i <= MAX_METHOD_LEN; i++) {
        if (line->p[i] == ' ' || line->p[i] == '\r' || line->p[i] == '\n')
            return i > 0;
        if (!is_tchar((unsigned char)line->p[i]))
            return 0;
    }
    return line->len <= MAX_METHOD_LEN;
}

/* ---- requests ---- */

static size_t req_size(const req *r)
{
    return sizeof *r + r->method.cap + r->target.cap + r->headers.cap + r->body.cap;
}

static void req_account(rp_http *h, req *r)
{
    size_t now = req_size(r);
    h->buffered += now - r->accounted;
    r->accounted = now;
}

static void req_free(rp_http *h, req *r)
{
    h->buffered -= r->accounted;
    buf_free(&r->method);
    buf_free(&r->target);
    buf_free(&r->headers);
    buf_free(&r->body);
    free(r);
}

static void queue_unlink(hconn *c, req *r)
{
    req **pp = &c->head;
    req *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = r->next;
    if (c->tail == r)
        c->tail = prev;
    r->next = NULL;
}

/* Hands r to the ordering stage once both its request and its response
 * side are final. */
static void req_maybe_ready(rp_http *h, req *r)
{
    if (r->complete && r->resp_final && !r->node.ready) {
        req_account(h, r);
        rp_reorder_ready(h->order, &r->node);
    }
}

/* Drops a request that cannot be kept, counting why. */
static void req_drop(rp_http *h, req *r, rp_http_skip why)
{
    h->stats.skipped[why]++;
    if (r->conn) {
        queue_unlink(r->conn, r);
        if (r->conn->s[SERVER].cur == r)
            r->conn->s[SERVER].cur = NULL;
        if (r->conn->s[CLIENT].cur == r)
            r->conn->s[CLIENT].cur = NULL;
    }
    rp_reorder_remove(h->order, &r->node);
    req_free(h, r);
}

/* Ends a request that lost its tail: kept with RP_REC_TRUNCATED when the
 * options allow and its headers are whole, else dropped. */
static void req_abort(rp_http *h, req *r, rp_http_skip why)
{
    if (r->conn && r->conn->s[CLIENT].cur == r)
        r->conn->s[CLIENT].cur = NULL;
    if (h->o.keep_truncated && r->headers_done) {
        r->flags |= RP_REC_TRUNCATED;
        r->complete = 1;
        req_maybe_ready(h, r);
        return;
    }
    req_drop(h, r, why);
}

/* Marks r as having no response and takes it off the queue. */
static void req_no_response(rp_http *h, req *r)
{
    if (r->conn) {
        queue_unlink(r->conn, r);
        if (r->conn->s[SERVER].cur == r)
            r->conn->s[SERVER].cur = NULL;
    }
    r->resp_final = 1;
    req_maybe_ready(h, r);
}

static req *req_new(hconn *c, const start_line *sl, const seginfo *at)
{
    rp_http *h = c->h;
    req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->conn = c;
    r->conn_id = c->id;
    r->major = (uint8_t)sl->major;
    r->minor = (uint8_t)sl->minor;
    r->start_seq = at->seq;
    r->is_head = sl->method_len == 4 && memcmp(sl->method, "HEAD", 4) == 0;
    if (sl->method_len == 7 && memcmp(sl->method, "CONNECT", 7) == 0)
        r->flags |= RP_REC_CONNECT;
    if (buf_append(&r->method, sl->method, sl->method_len) < 0 ||
        buf_append(&r->target, sl->target, sl->target_len) < 0 ||
        rp_reorder_add(h->order, &r->node, at->ts_ns) < 0) {
        buf_free(&r->method);
        buf_free(&r->target);
        free(r);
        return NULL;
    }
    req_account(h, r);

    /* Pipelining: the client sent this request without having received
     * any server byte since the previous one (same acknowledgement). The
     * capture may miss the response itself, so its absence proves nothing. */
    r->client_ack = at->ack;
    r->client_ack_valid = at->ack_valid;
    if (c->tail && c->tail->client_ack_valid && at->ack_valid && c->tail->client_ack == at->ack)
        c->pipelined = 1;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    return r;
}

/* Picks the request that a response starting in a segment with this ack
 * belongs to. Without pipelining, a response's first segment acknowledges
 * exactly the end of its request. When that request is not the oldest
 * waiting one, the older ones lost their responses in a hole in the
 * capture. The hole may precede the first captured byte, so it is not
 * always seen as a gap. A response never belongs to a request whose first
 * byte the server had not yet acknowledged. */
static req *pair_candidate(hconn *c, const seginfo *at)
{
    req *r = c->head;
    if (r == NULL || !at->ack_valid || !c->client_seq_known)
        return r;

    if (!c->pipelined && !(r->complete && r->end_seq == at->ack)) {
        for (req *q = r->next; q; q = q->next)
            if (q->complete && q->end_seq == at->ack) {
                while (c->head != q)
                    req_no_response(c->h, c->head);
                return q;
            }
    }
    if ((int32_t)(at->ack - r->start_seq) <= 0)
        return NULL;
    return r;
}

/* ---- llhttp callbacks ---- */

static side *side_of(llhttp_t *p) { return p->data; }

static int header_append(llhttp_t *p, const char *at, size_t n)
{
    side *s = side_of(p);
    if (s->role != CLIENT || s->cur == NULL)
        return 0;
    rp_http *h = s->conn->h;
    if (s->cur->headers.len + n > h->o.max_headers || buf_append(&s->cur->headers, at, n) < 0) {
        s->header_error = 1;
        return -1;
    }
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    side *s = side_of(p);
    if (!s->in_field && s->cur) {
        s->in_field = 1;
        s->field_start = s->cur->headers.len;
    }
    return header_append(p, at, n);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) { return header_append(p, at, n); }

/* Notes credentials while the name is at hand, so capture can warn about
 * secrets going into the trace without scanning every record again. */
static void note_credential(side *s)
{
    req *r = s->cur;
    const char *name = r->headers.p + s->field_start;
    size_t n = r->headers.len - s->field_start;
    if ((n == 13 && strncasecmp(name, "authorization", 13) == 0) ||
        (n == 19 && strncasecmp(name, "proxy-authorization", 19) == 0))
        r->has_authorization = 1;
    else if (n == 6 && strncasecmp(name, "cookie", 6) == 0)
        r->has_cookie = 1;
}

static int on_header_field_complete(llhttp_t *p)
{
    side *s = side_of(p);
    s->in_field = 0;
    if (s->role == CLIENT && s->cur && s->cur->headers.len >= s->field_start)
        note_credential(s);
    return header_append(p, ": ", 2);
}
static int on_header_value_complete(llhttp_t *p) { return header_append(p, "\r\n", 2); }

/* Chunked bodies are decoded by this module rather than llhttp: real
 * clients send chunk-size lines that llhttp 8.1 rejects (a bare LF, a space
 * before ";ext"), yet their framing is clear. llhttp is paused after the
 * headers and the module's decoder takes over. */
static int take_chunked(side *s, llhttp_t *p)
{
    if (!(p->flags & F_CHUNKED) || p->upgrade)
        return 0;
    s->chunked_next = 1;
    return HPE_PAUSED;
}

static int on_headers_complete(llhttp_t *p)
{
    side *s = side_of(p);
    req *r = s->cur;
    if (s->role == CLIENT) {
        if (r) {
            r->headers_done = 1;
            if (p->flags & F_CHUNKED)
                r->flags |= RP_REC_CHUNKED;
            if (p->upgrade && !(r->flags & RP_REC_CONNECT))
                r->flags |= RP_REC_UPGRADE;
        }
        return take_chunked(s, p);
    }

    /* A response to HEAD, and 1xx, 204 and 304 responses, have no body
     * whatever their headers contain. Neither has a 2xx response to
     * CONNECT, after which the tunnel starts. */
    int status = p->status_code;
    if ((r && r->is_head) || (status >= 100 && status < 200) || status == 204 || status == 304)
        return 1;
    if (r && (r->flags & RP_REC_CONNECT) && status >= 200 && status < 300)
        return 1;
    return take_chunked(s, p);
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    side *s = side_of(p);
    req *r = s->cur;
    if (s->role != CLIENT || r == NULL)
        return 0;
    rp_http *h = s->conn->h;
    size_t room = h->o.max_body - r->body.len;
    if (n > room) {
        r->flags |= RP_REC_TRUNCATED;
        n = room;
    }
    if (n && buf_append(&r->body, at, n) < 0)
        r->flags |= RP_REC_TRUNCATED;
    return 0;
}

/* Stops llhttp right after each message, so the next start line is read
 * by this module. */
static int on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED;
}

/* ---- message boundaries ---- */

static void enter_resync(side *s, int at_line_start)
{
    s->st = ST_RESYNC;
    s->at_line_start = at_line_start;
    s->line.len = 0;
    s->conn->h->stats.resyncs++;
}

static void open_tunnel(hconn *c)
{
    c->s[CLIENT].st = ST_TUNNEL;
    c->s[SERVER].st = ST_TUNNEL;
    c->h->stats.upgrades++;
}

static void client_message_done(hconn *c, const seginfo *end)
{
    rp_http *h = c->h;
    side *s = &c->s[CLIENT];
    req *r = s->cur;
    s->cur = NULL;
    s->st = ST_LINE;
    s->line.len = 0;
    if (r == NULL)
        return;
    r->complete = 1;
    r->end_seq = end->seq;
    if (r->flags & RP_REC_CHUNKED)
        h->stats.chunked++;
    if (r->flags & RP_REC_CONNECT)
        h->stats.connect++;
    if (r->flags & (RP_REC_CONNECT | RP_REC_UPGRADE))
        s->st = ST_WAIT_UPGRADE;
    req_maybe_ready(h, r);
}

static void server_message_done(hconn *c, int truncated)
{
    rp_http *h = c->h;
    side *s = &c->s[SERVER];
    int status = s->parser.status_code;
    req *r = s->cur;
    s->cur = NULL;
    s->st = ST_LINE;
    s->line.len = 0;

    if (status >= 100 && status < 200 && status != 101) {
        h->stats.interim_responses++;   /* the final response follows */
        return;
    }
    if (r == NULL) {
        h->stats.skipped[RP_SKIP_RESPONSE_UNPAIRED]++;
        return;
    }

    queue_unlink(c, r);
    r->status = (uint16_t)status;
    r->flags |= RP_REC_HAS_RESPONSE;
    if (truncated)
        r->flags |= RP_REC_RESP_TRUNCATED;
    r->ttfb_ns = s->msg_ts_ns > r->node.ts_ns ? s->msg_ts_ns - r->node.ts_ns : 0;
    r->ttlb_ns = s->last_ts_ns > r->node.ts_ns ? s->last_ts_ns - r->node.ts_ns : 0;
    r->resp_bytes = s->msg_bytes;
    r->resp_final = 1;
    h->stats.responses++;
    c->server_gap = 0;

    int tunnel = status == 101 ||
                 ((r->flags & RP_REC_CONNECT) && status >= 200 && status < 300);
    req_maybe_ready(h, r);
    if (tunnel)
        open_tunnel(c);
    else if (c->s[CLIENT].st == ST_WAIT_UPGRADE)
        c->s[CLIENT].st = ST_LINE;   /* upgrade refused: HTTP goes on */
}

static int feed_llhttp(side *s, const char *p, size_t n)
{
    return llhttp_execute(&s->parser, p, n);
}

/* Real clients end header lines with a bare LF (zeek-methods.pcap has
 * them), which llhttp 8.1 rejects unless header parsing is lenient. A
 * passive observer records what was sent rather than judging it. */
static void set_lenient(llhttp_t *p)
{
    llhttp_set_lenient_headers(p, 1);
}

static void start_request(hconn *c, const start_line *sl)
{
    rp_http *h = c->h;
    side *s = &c->s[CLIENT];
    req *r = req_new(c, sl, &s->line_at);
    if (r == NULL) {
        enter_resync(s, 1);
        return;
    }

    /* llhttp frames the headers and body, and this module keeps the
     * method, target and version. llhttp is fed a start line it accepts:
     * the captured method when llhttp supports it, else GET (CONNECT too,
     * because the tunnel is handled here), and "/" as target. */
    const char *method = sl->method;
    size_t method_len = sl->method_len;
    if ((r->flags & RP_REC_CONNECT) || !llhttp_knows_method(sl->method, sl->method_len)) {
        if (!(r->flags & RP_REC_CONNECT))
            h->stats.recovered_methods++;
        method = "GET";
        method_len = 3;
    }
    char rest[32];
    snprintf(rest, sizeof rest, " / HTTP/%d.%d\r\n",
             sl->major ? sl->major : 1, sl->major ? sl->minor : 1);

    llhttp_init(&s->parser, HTTP_REQUEST, &h->settings);
    set_lenient(&s->parser);
    s->parser.data = s;
    s->header_error = 0;
    s->cur = r;
    s->st = ST_MSG;
    int err = feed_llhttp(s, method, method_len);
    if (err == HPE_OK)
        err = feed_llhttp(s, rest, strlen(rest));
    if (err != HPE_OK) {
        req_drop(h, r, RP_SKIP_BAD_REQUEST_LINE);
        enter_resync(s, 1);
    }
}

static void start_response(hconn *c, const start_line *sl)
{
    rp_http *h = c->h;
    side *s = &c->s[SERVER];
    s->cur = pair_candidate(c, &s->line_at);
    s->msg_ts_ns = s->line_at.ts_ns;
    s->last_ts_ns = s->line_at.ts_ns;
    s->msg_bytes = s->line.len;

    char line[64];
    snprintf(line, sizeof line, "HTTP/%d.%d %03d X\r\n", sl->major, sl->minor, sl->status);
    llhttp_init(&s->parser, HTTP_RESPONSE, &h->settings);
    set_lenient(&s->parser);
    s->parser.data = s;
    s->st = ST_MSG;
    if (feed_llhttp(s, line, strlen(line)) != HPE_OK) {
        h->stats.skipped[RP_SKIP_BAD_STATUS_LINE]++;
        s->cur = NULL;
        enter_resync(s, 1);
    }
}

/* Acts on a whole start line in s->line. */
static void handle_line(hconn *c, side *s)
{
    rp_http *h = c->h;
    start_line sl;
    int ok = s->role == CLIENT ? parse_request_line(&s->line, &sl, s->st == ST_LINE)
                               : parse_status_line(&s->line, &sl);
    if (ok == 0) {
        if (s->role == CLIENT)
            start_request(c, &sl);
        else
            start_response(c, &sl);
        s->line.len = 0;
        return;
    }

    h->stats.skipped_bytes += s->line.len;
    if (s->st == ST_LINE) {
        h->stats.skipped[s->role == CLIENT ? RP_SKIP_BAD_REQUEST_LINE : RP_SKIP_BAD_STATUS_LINE]++;
        enter_resync(s, 1);
    }
    s->line.len = 0;
    s->at_line_start = 1;
}

/* ---- stream input ---- */

/* Reads start-line bytes; returns how many of data it used. */
static size_t scan_line(hconn *c, side *s, const uint8_t *data, size_t len, const seginfo *at)
{
    rp_http *h = c->h;
    size_t i = 0;

    if (s->line.len == 0) {
        if (s->st == ST_LINE) {
            while (i < len && (data[i] == '\r' || data[i] == '\n'))
                i++;               /* blank lines between messages */
        } else if (!s->at_line_start) {
            const uint8_t *nl = memchr(data, '\n', len);
            size_t skip = nl ? (size_t)(nl - data) + 1 : len;
            h->stats.skipped_bytes += skip;
            s->at_line_start = nl != NULL;
            return skip;
        }
        if (i == len)
            return i;
        s->line_at = *at;
        s->line_at.seq = at->seq + (uint32_t)i;
    }

    const uint8_t *nl = memchr(data + i, '\n', len - i);
    size_t take = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
    if (s->line.len + take > h->o.max_line) {
        /* Counted even while resynchronising: the line looked like a start
         * line until it grew too long. */
        h->stats.skipped[RP_SKIP_LINE_TOO_LONG]++;
        if (s->st == ST_LINE)
            enter_resync(s, 0);
        h->stats.skipped_bytes += s->line.len;
        s->line.len = 0;
        s->at_line_start = 0;
        return i;
    }
    if (buf_append(&s->line, data + i, take) < 0)
        return len;
    i += take;

    if (!line_plausible(s->role, &s->line)) {
        h->stats.skipped_bytes += s->line.len;
        if (s->st == ST_LINE) {
            h->stats.skipped[s->role == CLIENT ? RP_SKIP_BAD_REQUEST_LINE : RP_SKIP_BAD_STATUS_LINE]++;
            enter_resync(s, 0);
        }
        s->line.len = 0;
        s->at_line_start = nl != NULL;
        return i;
    }
    if (nl)
        handle_line(c, s);
    return i;
}

/* Runs llhttp over data; returns how many bytes belong to the message. */
static size_t feed_message(hconn *c, side *s, const uint8_t *data, size_t len, const seginfo *at)
{
    rp_http *h = c->h;
    s->last_ts_ns = at->ts_ns;
    int err = feed_llhttp(s, (const char *)data, len);
    if (err == HPE_OK) {
        s->msg_bytes += len;
        return len;
    }

    const char *pos = llhttp_get_error_pos(&s->parser);
    size_t used = pos && pos >= (const char *)data && pos <= (const char *)data + len
                  ? (size_t)(pos - (const char *)data) : len;
    if (err == HPE_PAUSED && s->chunked_next) {
        s->chunked_next = 0;
        s->msg_bytes += used;
        s->st = ST_CHUNKED;
        s->chunk_state = CH_SIZE;
        s->chunk_line.len = 0;
        return used;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        s->msg_bytes += used;
        seginfo end = *at;
        end.seq = at->seq + (uint32_t)used;
        if (s->role == CLIENT)
            client_message_done(c, &end);
        else
            server_message_done(c, 0);
        return used;
    }

    if (s->role == CLIENT) {
        if (s->cur)
            req_drop(h, s->cur, s->header_error ? RP_SKIP_HEADERS_TOO_LARGE : RP_SKIP_REQUEST_PARSE);
    } else {
        h->stats.skipped[RP_SKIP_RESPONSE_PARSE]++;
        s->cur = NULL;
    }
    enter_resync(s, 0);
    return used;
}

#define MAX_CHUNK_LINE 4096

/* Parses a chunk-size line: hex digits, optional spaces or tabs, an
 * optional ";extension", then CRLF or LF. Returns 0 or -1. */
static int parse_chunk_size(const buf *line, uint64_t *size)
{
    size_t n = line_content_len(line), i = 0, digits = 0;
    const char *p = line->p;
    uint64_t v = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    for (; i < n; i++, digits++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (digits == 15)
            return -1;   /* over 2^60 bytes: not a real chunk */
        v = v * 16 + (uint64_t)d;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (digits == 0 || (i < n && p[i] != ';'))
        return -1;
    *size = v;
    return 0;
}

/* Collects one line of framing into s->chunk_line; returns bytes used and
 * sets *done when the line is whole. */
static size_t chunk_take_line(side *s, const uint8_t *data, size_t len, int *done, int *toolong)
{
    const uint8_t *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) + 1 : len;
    *done = nl != NULL;
    *toolong = s->chunk_line.len + take > MAX_CHUNK_LINE;
    if (!*toolong)
        buf_append(&s->chunk_line, data, take);
    return take;
}

static void chunked_failed(hconn *c, side *s)
{
    rp_http *h = c->h;
    if (s->role == CLIENT) {
        if (s->cur)
            req_drop(h, s->cur, RP_SKIP_REQUEST_PARSE);
    } else {
        h->stats.skipped[RP_SKIP_RESPONSE_PARSE]++;
        s->cur = NULL;
    }
    enter_resync(s, 0);
}

/* Decodes chunked framing; returns bytes used. */
static size_t feed_chunked(hconn *c, side *s, const uint8_t *data, size_t len, const seginfo *at)
{
    size_t used = 0;
    s->last_ts_ns = at->ts_ns;
    while (used < len && s->st == ST_CHUNKED) {
        if (s->chunk_state == CH_DATA) {
            size_t n = len - used < s->chunk_left ? len - used : (size_t)s->chunk_left;
            if (s->role == CLIENT)
                on_body(&s->parser, (const char *)data + used, n);
            s->chunk_left -= n;
            used += n;
            if (s->chunk_left == 0)
                s->chunk_state = CH_DATA_END;
            continue;
        }

        int done, toolong;
        used += chunk_take_line(s, data + used, len - used, &done, &toolong);
        if (toolong) {
            chunked_failed(c, s);
            break;
        }
        if (!done)
            break;
        size_t content = line_content_len(&s->chunk_line);
        if (s->chunk_state == CH_SIZE) {
            uint64_t size;
            if (parse_chunk_size(&s->chunk_line, &size) < 0) {
                chunked_failed(c, s);
                break;
            }
            s->chunk_left = size;
            s->chunk_state = size ? CH_DATA : CH_TRAILER;
        } else if (s->chunk_state == CH_DATA_END) {
            if (content != 0) {
                chunked_failed(c, s);
                break;
            }
            s->chunk_state = CH_SIZE;
        } else if (content == 0) {            /* the empty line after trailers */
            s->msg_bytes += used;
            seginfo end = *at;
            end.seq = at->seq + (uint32_t)used;
            s->chunk_line.len = 0;
            if (s->role == CLIENT)
                client_message_done(c, &end);
            else
                server_message_done(c, 0);
            return used;
        }
        s->chunk_line.len = 0;
    }
    if (s->st == ST_CHUNKED)
        s->msg_bytes += used;
    return used;
}

static void side_input(hconn *c, int role, const uint8_t *data, size_t len, seginfo at)
{
    /* Messages usually start at a segment boundary: while resynchronising,
     * a segment start is a candidate even without a line break before it. */
    side *first = &c->s[role];
    if (first->st == ST_RESYNC && first->line.len == 0)
        first->at_line_start = 1;

    while (len > 0) {
        side *s = &c->s[role];
        size_t used;
        switch (s->st) {
        case ST_TUNNEL:
        case ST_WAIT_UPGRADE:
            return;        /* tunnel bytes, or bytes sent before the response */
        case ST_MSG:
            used = feed_message(c, s, data, len, &at);
            break;
        case ST_CHUNKED:
            used = feed_chunked(c, s, data, len, &at);
            break;
        default:
            used = scan_line(c, s, data, len, &at);
            break;
        }
        data += used;
        len -= used;
        at.seq += (uint32_t)used;
    }
}

/* ---- connections ---- */

static int looks_like_request(const uint8_t *d, size_t n)
{
    size_t i = 0;
    while (i < n && i <= MAX_METHOD_LEN && is_tchar(d[i]))
        i++;
    return i > 0 && i < n && d[i] == ' ';
}

static int looks_like_tls(const uint8_t *d, size_t n)
{
    return n >= 3 && d[0] == 0x16 && d[1] == 0x03 && d[2] <= 0x04;
}

/* Decides which side is the client from the first payload seen. */
static void decide_roles(hconn *c, const rp_tcp_conn *tc, int dir, const uint8_t *d, size_t n)
{
    if (tc->syn_seen)
        c->client_dir = 0;
    else if (n >= 5 && memcmp(d, "HTTP/", 5) == 0)
        c->client_dir = !dir;
    else if (looks_like_request(d, n) || looks_like_tls(d, n))
        c->client_dir = dir;
    else
        c->client_dir = tc->port[dir] > tc->port[!dir] ? dir : !dir;

    /* Without the handshake the stream may start inside a message. */
    if (!tc->syn_seen) {
        c->s[CLIENT].st = ST_RESYNC;
        c->s[CLIENT].at_line_start = 1;
        c->s[SERVER].st = ST_RESYNC;
        c->s[SERVER].at_line_start = 1;
    }
}

/* Keeps a connection's share of sampling stable whatever its direction:
 * the hash covers both endpoints in a canonical order. */
static int sampled_in(const rp_http *h, const rp_tcp_conn *tc)
{
    if (h->o.sample_percent <= 0 || h->o.sample_percent >= 100)
        return 1;
    uint8_t key[36];
    int a = memcmp(tc->addr[0], tc->addr[1], 16) < 0 ||
            (memcmp(tc->addr[0], tc->addr[1], 16) == 0 && tc->port[0] <= tc->port[1]);
    memcpy(key, tc->addr[a ? 0 : 1], 16);
    memcpy(key + 16, tc->addr[a ? 1 : 0], 16);
    memcpy(key + 32, &tc->port[a ? 0 : 1], 2);
    memcpy(key + 34, &tc->port[a ? 1 : 0], 2);
    uint64_t v = XXH3_64bits(key, sizeof key) % 1000000;
    return (double)v < h->o.sample_percent * 10000.0;
}

static int port_listed(const rp_http *h, uint16_t port)
{
    if (h->o.nports == 0)
        return 1;
    for (size_t i = 0; i < h->o.nports; i++)
        if (h->o.ports[i] == port)
            return 1;
    return 0;
}

static hconn *conn_get(rp_http *h, rp_tcp_conn *tc)
{
    if (tc->user)
        return tc->user;
    hconn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->h = h;
    c->id = tc->id;
    c->client_dir = -1;
    for (int role = 0; role < 2; role++) {
        c->s[role].conn = c;
        c->s[role].role = role;
        c->s[role].st = ST_LINE;
    }
    tc->user = c;
    return c;
}

static void on_data(void *ctx, rp_tcp_conn *tc, int dir, const uint8_t *data,
                    uint32_t len, uint32_t seq, uint64_t ts_ns, uint32_t ack, int ack_valid)
{
    rp_http *h = ctx;
    hconn *c = conn_get(h, tc);
    if (c == NULL)
        return;
    if (ts_ns > h->max_ts)
        h->max_ts = ts_ns;
    if (c->ignored)
        return;
    if (c->client_dir < 0) {
        decide_roles(c, tc, dir, data, len);
        if (!port_listed(h, tc->port[!c->client_dir])) {
            c->ignored = 1;
            h->stats.port_filtered++;
            return;
        }
        if (!sampled_in(h, tc)) {
            c->ignored = 1;
            h->stats.sampled_out++;
            return;
        }
        if (dir == c->client_dir && looks_like_tls(data, len)) {
            h->stats.tls_connections++;
            c->tls = 1;
            c->s[CLIENT].st = c->s[SERVER].st = ST_TUNNEL;
        }
    }
    int role = dir == c->client_dir ? CLIENT : SERVER;
    if (c->tls)
        h->stats.tls_bytes += len;
    if (role == CLIENT)
        c->client_seq_known = 1;

    seginfo at = { ts_ns, seq, ack, ack_valid };
    side_input(c, role, data, len, at);
}

static void on_gap(void *ctx, rp_tcp_conn *tc, int dir, uint32_t len, uint64_t ts_ns)
{
    rp_http *h = ctx;
    hconn *c = tc->user;
    if (c == NULL || c->client_dir < 0 || c->ignored)
        return;
    int role = dir == c->client_dir ? CLIENT : SERVER;
    side *s = &c->s[role];
    if (s->st == ST_TUNNEL || s->st == ST_WAIT_UPGRADE)
        return;

    if (role == CLIENT) {
        if ((s->st == ST_MSG || s->st == ST_CHUNKED) && s->cur)
            req_abort(h, s->cur, RP_SKIP_REQUEST_GAP);
        s->cur = NULL;
    } else {
        c->server_gap = 1;
        if ((s->st == ST_MSG || s->st == ST_CHUNKED) && s->cur)
            server_message_done(c, 1);   /* status known, the rest lost */
        s->cur = NULL;
    }
    enter_resync(s, 1);
}

/* The server closed its side: a response framed by the end of the
 * connection is complete now. */
static void finish_server(hconn *c)
{
    side *s = &c->s[SERVER];
    if (s->st == ST_CHUNKED) {
        if (s->cur)
            server_message_done(c, 1);
        s->st = ST_LINE;
        return;
    }
    if (s->st != ST_MSG)
        return;
    int err = llhttp_finish(&s->parser);
    if (err == HPE_PAUSED || (err == HPE_OK && s->parser.finish == HTTP_FINISH_SAFE && s->st == ST_MSG))
        server_message_done(c, 0);
    else if (s->cur)
        server_message_done(c, 1);
    s->st = ST_LINE;
}

static void on_fin(void *ctx, rp_tcp_conn *tc, int dir, uint64_t ts_ns)
{
    hconn *c = tc->user;
    (void)ctx;
    (void)ts_ns;
    if (c && c->client_dir >= 0 && dir != c->client_dir)
        finish_server(c);
}

static void on_close(void *ctx, rp_tcp_conn *tc, rp_tcp_close_reason why, uint64_t ts_ns)
{
    rp_http *h = ctx;
    hconn *c = tc->user;
    (void)why;
    (void)ts_ns;
    if (c == NULL)
        return;
    if (c->client_dir >= 0 && c->s[SERVER].st != ST_TUNNEL)
        finish_server(c);
    if (c->s[CLIENT].cur)
        req_abort(h, c->s[CLIENT].cur, RP_SKIP_REQUEST_UNFINISHED);
    while (c->head)
        req_no_response(h, c->head);
    for (int role = 0; role < 2; role++) {
        buf_free(&c->s[role].line);
        buf_free(&c->s[role].chunk_line);
    }
    free(c);
    tc->user = NULL;
}

void rp_http_tcp_callbacks(rp_http *h, rp_tcp_callbacks *cb)
{
    cb->ctx = h;
    cb->on_data = on_data;
    cb->on_gap = on_gap;
    cb->on_fin = on_fin;
    cb->on_close = on_close;
}

/* ---- output ---- */

static int emit_req(rp_http *h, req *r)
{
    uint64_t ts = r->node.ts_ns;
    if (ts < h->last_emit_ts) {
        h->stats.timestamp_clamped++;
        ts = h->last_emit_ts;
    }
    h->last_emit_ts = ts;

    rp_record rec = {
        .ts_ns = ts,
        .conn_id = r->conn_id,
        .flags = r->flags,
        .http_major = r->major,
        .http_minor = r->minor,
        .method = r->method.p, .method_len = (uint32_t)r->method.len,
        .target = r->target.p, .target_len = (uint32_t)r->target.len,
        .headers = r->headers.p ? r->headers.p : "", .headers_len = (uint32_t)r->headers.len,
        .body = (const uint8_t *)(r->body.p ? r->body.p : ""), .body_len = (uint32_t)r->body.len,
        .resp_status = r->status,
        .resp_ttfb_ns = r->ttfb_ns,
        .resp_ttlb_ns = r->ttlb_ns,
        .resp_bytes = r->resp_bytes,
    };
    h->stats.requests++;
    h->stats.with_authorization += (uint64_t)r->has_authorization;
    h->stats.with_cookie += (uint64_t)r->has_cookie;
    if (!(r->flags & RP_REC_HAS_RESPONSE))
        h->stats.no_response++;
    if (r->flags & RP_REC_TRUNCATED)
        h->stats.truncated++;
    if (h->failed)
        return -1;
    if (h->emit(h->emit_ctx, &rec) != 0) {
        h->failed = 1;
        return -1;
    }
    return 0;
}

/* Stops waiting on the oldest pending request: too old, or the ordering
 * buffer is over its limit. */
static void give_up_oldest(rp_http *h, req *r)
{
    if (!r->complete) {
        req_abort(h, r, RP_SKIP_REQUEST_STALLED);
        return;
    }
    h->stats.response_timeouts++;
    req_no_response(h, r);
}

void rp_http_flush(rp_http *h, uint64_t now_ns, int final)
{
    rp_reorder_node *n;
    for (;;) {
        n = rp_reorder_oldest_pending(h->order);
        if (n == NULL)
            break;
        req *r = (req *)((char *)n - offsetof(req, node));
        int too_old = now_ns > n->ts_ns && now_ns - n->ts_ns > h->o.response_timeout_ns;
        if (!final && !too_old && h->buffered <= h->o.max_buffered_bytes)
            break;
        give_up_oldest(h, r);
    }

    uint64_t horizon = final ? UINT64_MAX
                     : now_ns > ORDER_HORIZON_NS ? now_ns - ORDER_HORIZON_NS : 0;
    while ((n = rp_reorder_pop(h->order, horizon)) != NULL) {
        req *r = (req *)((char *)n - offsetof(req, node));
        emit_req(h, r);
        req_free(h, r);
    }
}

rp_http *rp_http_new(const rp_http_opts *opts, rp_http_emit_fn emit, void *ctx)
{
    rp_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    if (opts)
        h->o = *opts;
    if (h->o.max_line == 0) h->o.max_line = DEFAULT_MAX_LINE;
    if (h->o.max_headers == 0) h->o.max_headers = DEFAULT_MAX_HEADERS;
    if (h->o.max_body == 0) h->o.max_body = DEFAULT_MAX_BODY;
    if (h->o.response_timeout_ns == 0) h->o.response_timeout_ns = DEFAULT_RESP_TIMEOUT;
    if (h->o.max_buffered_bytes == 0) h->o.max_buffered_bytes = DEFAULT_MAX_BUFFERED;
    h->emit = emit;
    h->emit_ctx = ctx;
    h->order = rp_reorder_new();
    if (h->order == NULL) {
        free(h);
        return NULL;
    }

    llhttp_settings_init(&h->settings);
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_value = on_header_value;
    h->settings.on_header_field_complete = on_header_field_complete;
    h->settings.on_header_value_complete = on_header_value_complete;
    h->settings.on_headers_complete = on_headers_complete;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    return h;
}

void rp_http_free(rp_http *h)
{
    if (h == NULL)
        return;
    rp_http_flush(h, UINT64_MAX, 1);
    rp_reorder_free(h->order);
    free(h);
}
