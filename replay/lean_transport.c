/* Lean HTTP/1.1 transport on libuv and llhttp.
 *
 * A connection carries one request at a time. Its state goes CONNECTING
 * (a request waits for the connect), BUSY (request written or being
 * written, response being read), IDLE (kept open for the next request),
 * CLOSING (uv_close called, memory freed in the close callback).
 *
 * Connection choice, by mode:
 * - preserve: a map from the request's conn_key to the connection opened
 *   for the first request of that captured connection. When that
 *   connection is busy, the request goes on a spare connection (an idle
 *   one, or a new one) and counts as moved. The connection closes after
 *   the captured connection's last request.
 * - pool: the least recently used idle connection, else a new one.
 * - new: a new connection, closed after the response.
 * When max_connections are open, the least recently used idle connection
 * is closed to make room.
 *
 * Timeouts: every request has the same timeout counted from submit, so
 * the in-flight list, kept in submit order, is also in deadline order and
 * one timer armed for its head is enough. Connects work the same way.
 *
 * Reading uses one buffer per transport: each read is parsed at once.
 */
#include "replay/lean_transport.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/u64map.h"

#define READ_BUF_SIZE (64 * 1024)

typedef struct dlink {
    struct dlink *prev, *next;
} dlink;

static void list_init(dlink *head) { head->prev = head->next = head; }
static int list_empty(const dlink *head) { return head->next == head; }
static int linked(const dlink *l) { return l->next != NULL && l->next != l; }

static void list_append(dlink *head, dlink *item)
{
    item->prev = head->prev;
    item->next = head;
    head->prev->next = item;
    head->prev = item;
}

static void list_unlink(dlink *item)
{
    if (!linked(item))
        return;
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->prev = item->next = item;
}

#define CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum { C_CONNECTING, C_BUSY, C_IDLE, C_CLOSING };

typedef struct lean lean;

typedef struct conn {
    uv_tcp_t tcp;                /* first member: the handle's address is the conn's */
    uv_connect_t connect_req;
    uv_write_t write_req;
    llhttp_t parser;
    lean *t;
    int state;
    uint64_t key;                /* preserve: the conn_key it is bound to */
    uint8_t bound, spare, close_after, writing;
    uint64_t served;             /* requests completed on it */
    uint64_t connect_start_ns;

    /* The request in flight and what is known about its response. */
    rp_request *req;
    uint64_t submit_ns, send_ns, first_byte_ns, bytes;
    uint8_t complete, upgraded, opened_for_req, moved;

    dlink idle_link;              /* t->idle or t->spares */
    dlink flight_link;            /* t->in_flight, in submit order */
    dlink connect_link;           /* t->connecting, in connect order */
} conn;

/* A request that failed inside submit, reported on the next loop turn. */
typedef struct deferred {
    rp_request *req;
    rp_outcome out;
} deferred;

struct lean {
    rp_transport base;
    rp_transport_config cfg;
    struct sockaddr_storage addr;
    llhttp_settings_t settings;

    dlink idle;                   /* pool, or preserve's bound connections */
    dlink spares;                 /* preserve: unbound idle connections */
    dlink in_flight;
    dlink connecting;
    rp_u64map bound;             /* preserve: conn_key -> conn * */
    size_t open;                 /* connections not CLOSING */
    size_t handles;              /* uv handles not yet closed */

    uv_timer_t timeout_timer;
    uv_timer_t connect_timer;
    uv_timer_t defer_timer;
    deferred *deferred;
    size_t deferred_count, deferred_cap;
    int closing;
    char rbuf[READ_BUF_SIZE];
};

static void close_conn(conn *c);
static void send_request(conn *c, uint64_t now);

/* ---- completion ---- */

/* Error kind of a failed connect: the generator's own limits are client
 * errors, everything else a connect error. */
static int connect_kind(int uv_err)
{
    switch (uv_err) {
    case UV_EMFILE: case UV_ENFILE: case UV_EADDRNOTAVAIL: case UV_ENOBUFS: case UV_ENOMEM:
        return RP_ERR_CLIENT;
    default:
        return RP_ERR_CONNECT;
    }
}

/* Error kind of a failed read or write on an established connection. */
static int io_kind(int uv_err)
{
    switch (uv_err) {
    case UV_ECONNRESET: case UV_EPIPE: case UV_ECONNABORTED: case UV_EOF:
        return RP_ERR_RESET;
    case UV_ETIMEDOUT:
        return RP_ERR_TIMEOUT;
    case UV_ENOBUFS: case UV_ENOMEM:
        return RP_ERR_CLIENT;
    default:
        return RP_ERR_OTHER;
    }
}

static void fill_outcome(const conn *c, rp_outcome *o, uint64_t now)
{
    memset(o, 0, sizeof *o);
    o->send_ns = c->send_ns;
    o->first_byte_ns = c->first_byte_ns;
    o->done_ns = now;
    o->bytes_received = c->bytes;
    o->conn_opened = c->opened_for_req;
    o->conn_moved = c->moved;
}

/* Detaches the request from c and reports o for it. */
static void report(conn *c, rp_outcome *o)
{
    lean *t = c->t;
    rp_request *req = c->req;
    c->req = NULL;
    list_unlink(&c->flight_link);
    t->cfg.done(t->cfg.done_ctx, req, o);
}

/* Ends c's request with an error and closes c. */
static void fail(conn *c, int kind, int uv_err)
{
    rp_outcome o;
    fill_outcome(c, &o, uv_hrtime());
    o.error = kind;
    o.detail = uv_err;
    if (kind == RP_ERR_CLIENT)
        o.client_errno = -uv_err;
    close_conn(c);
    report(c, &o);
}

/* Puts a connection that is done with its request back where the next
 * request will find it. */
static void make_idle(conn *c)
{
    lean *t = c->t;
    c->state = C_IDLE;
    list_append(c->spare ? &t->spares : &t->idle, &c->idle_link);
}

/* Reports c's request complete at now. */
static void succeed(conn *c, uint64_t now)
{
    lean *t = c->t;
    rp_outcome o;
    fill_outcome(c, &o, now);
    o.status = llhttp_get_status_code(&c->parser);
    c->served++;

    int keep = llhttp_should_keep_alive(&c->parser) && !c->upgraded && !c->close_after &&
               !c->writing && t->cfg.conn_mode != RP_CONN_NEW &&
               !(c->bound && c->req->last_on_conn);
    if (keep) {
        llhttp_resume(&c->parser);
        c->complete = 0;
        make_idle(c);
    } else {
        close_conn(c);
    }
    report(c, &o);
}

/* ---- llhttp callbacks ---- */

/* A response has no body after HEAD, and with status 1xx, 204 or 304,
 * whatever its headers declare. llhttp 8.1 cannot know the first case and
 * does not apply the rule to every 1xx status. */
static int on_headers_complete(llhttp_t *p)
{
    conn *c = p->data;
    int status = p->status_code;
    if (c->req != NULL && c->req->is_head)
        return 1;
    if ((status >= 100 && status < 200 && status != 101) || status == 204 || status == 304)
        return 1;
    return 0;
}

/* An interim 1xx response (100 Continue, 103 Early Hints) is skipped:
 * the request waits for its final response. */
static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    int status = p->status_code;
    if (status >= 100 && status < 200 && status != 101)
        return 0;
    c->complete = 1;
    return HPE_PAUSED;
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = (conn *)h;
    *buf = uv_buf_init(c->t->rbuf, sizeof c->t->rbuf);
}

static void on_eof(conn *c)
{
    if (c->req == NULL) {
        close_conn(c);          /* the server closed an idle connection */
        return;
    }
    /* A response delimited by the end of the connection completes here. */
    llhttp_errno_t err = llhttp_finish(&c->parser);
    if (c->complete && (err == HPE_OK || err == HPE_PAUSED)) {
        c->close_after = 1;
        succeed(c, uv_hrtime());
        return;
    }
    fail(c, RP_ERR_RESET, UV_EOF);
}

static void on_data(conn *c, const char *data, size_t len)
{
    if (c->req == NULL || c->state != C_BUSY) {
        close_conn(c);          /* bytes without a request in flight */
        return;
    }
    /* One clock read per read call: a response that arrives whole has its
     * first and last byte at the same time. */
    uint64_t now = uv_hrtime();
    if (c->first_byte_ns == 0)
        c->first_byte_ns = now;
    c->bytes += len;

    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    if (c->complete) {
        if (err == HPE_PAUSED_UPGRADE)
            c->upgraded = 1;
        else if (err == HPE_PAUSED && llhttp_get_error_pos(&c->parser) != data + len)
            c->close_after = 1; /* bytes after the response */
        if (err != HPE_PAUSED)
            c->close_after = 1;
        succeed(c, now);
        return;
    }
    if (err != HPE_OK)
        fail(c, RP_ERR_OTHER, UV_EPROTO);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = (conn *)s;
    if (c->state == C_CLOSING)
        return;
    if (nread > 0) {
        on_data(c, buf->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        on_eof(c);
    } else if (nread < 0) {
        if (c->req != NULL)
            fail(c, io_kind((int)nread), (int)nread);
        else
            close_conn(c);
    }
}

/* ---- writing ---- */

static void on_write(uv_write_t *w, int status)
{
    conn *c = CONTAINER_OF(w, conn, write_req);
    c->writing = 0;
    if (status < 0 && c->state != C_CLOSING && c->req != NULL)
        fail(c, io_kind(status), status);
}

/* Writes the request, which starts going out at now; what the socket does
 * not take at once goes through uv_write. */
static void send_request(conn *c, uint64_t now)
{
    rp_request *req = c->req;
    c->state = C_BUSY;
    c->send_ns = now;
    uv_buf_t buf = uv_buf_init((char *)req->wire, (unsigned)req->wire_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n == (int)req->wire_len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        fail(c, io_kind(n), n);
        return;
    }
    if (n > 0)
        buf = uv_buf_init(buf.base + n, buf.len - (unsigned)n);
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc != 0) {
        fail(c, io_kind(rc), rc);
        return;
    }
    c->writing = 1;
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = (conn *)h;
    lean *t = c->t;
    free(c);
    if (--t->handles == 0 && t->closing) {
        rp_u64map_free(&t->bound);
        free(t->deferred);
        free(t);
    }
}

/* Closes c. Its request, if any, must be reported by the caller. */
static void close_conn(conn *c)
{
    lean *t = c->t;
    if (c->state == C_CLOSING)
        return;
    list_unlink(&c->idle_link);
    list_unlink(&c->connect_link);
    if (c->bound) {
        uint64_t *v = rp_u64map_get(&t->bound, c->key);
        if (v != NULL && *v == (uint64_t)(uintptr_t)c)
            rp_u64map_delete(&t->bound, c->key);
        c->bound = 0;
    }
    c->state = C_CLOSING;
    t->open--;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_connect(uv_connect_t *cr, int status)
{
    conn *c = CONTAINER_OF(cr, conn, connect_req);
    if (c->state == C_CLOSING)
        return;
    list_unlink(&c->connect_link);
    if (status < 0) {
        fail(c, connect_kind(status), status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0) {
        fail(c, RP_ERR_OTHER, rc);
        return;
    }
    send_request(c, uv_hrtime());
}

static uint64_t ms_until(uint64_t deadline_ns)
{
    uint64_t now = uv_hrtime();
    return deadline_ns > now ? (deadline_ns - now + 999999) / 1000000 : 0;
}

static void on_connect_timer(uv_timer_t *timer);

static void arm_connect_timer(lean *t)
{
    if (list_empty(&t->connecting) || uv_is_active((uv_handle_t *)&t->connect_timer))
        return;
    conn *head = CONTAINER_OF(t->connecting.next, conn, connect_link);
    uv_timer_start(&t->connect_timer, on_connect_timer,
                   ms_until(head->connect_start_ns + t->cfg.connect_timeout_ns), 0);
}

static void on_connect_timer(uv_timer_t *timer)
{
    lean *t = timer->data;
    uint64_t now = uv_hrtime();
    while (!list_empty(&t->connecting)) {
        conn *c = CONTAINER_OF(t->connecting.next, conn, connect_link);
        if (c->connect_start_ns + t->cfg.connect_timeout_ns > now)
            break;
        fail(c, RP_ERR_CONNECT, UV_ETIMEDOUT);
    }
    arm_connect_timer(t);
}

/* Closes the least recently used idle connection, spares first. Returns
 * 0, or -1 when none is idle. */
static int evict_idle(lean *t)
{
    dlink *head = !list_empty(&t->spares) ? &t->spares : &t->idle;
    if (list_empty(head))
        return -1;
    close_conn(CONTAINER_OF(head->next, conn, idle_link));
    return 0;
}

/* Opens a connection. Returns it in C_CONNECTING, or NULL with *uv_err
 * set. */
static conn *open_conn(lean *t, int *uv_err)
{
    if (t->open >= t->cfg.max_connections)
        evict_idle(t);
    conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        *uv_err = UV_ENOMEM;
        return NULL;
    }
    c->t = t;
    list_init(&c->idle_link);
    list_init(&c->flight_link);
    list_init(&c->connect_link);
    uv_tcp_init(t->cfg.loop, &c->tcp);
    t->handles++;
    t->open++;
    c->state = C_CONNECTING;
    llhttp_init(&c->parser, HTTP_RESPONSE, &t->settings);
    c->parser.data = c;

    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&t->addr,
                            on_connect);
    if (rc != 0) {
        *uv_err = rc;
        close_conn(c);
        return NULL;
    }
    c->connect_start_ns = uv_hrtime();
    list_append(&t->connecting, &c->connect_link);
    arm_connect_timer(t);
    return c;
}

/* An idle spare, or a new one. */
static conn *take_spare(lean *t, int *uv_err)
{
    if (!list_empty(&t->spares)) {
        conn *c = CONTAINER_OF(t->spares.next, conn, idle_link);
        list_unlink(&c->idle_link);
        return c;
    }
    conn *c = open_conn(t, uv_err);
    if (c != NULL)
        c->spare = 1;
    return c;
}

/* Chooses req's connection. Returns NULL with *uv_err set when a needed
 * connection could not be opened. */
static conn *pick(lean *t, rp_request *req, int *opened, int *moved, int *uv_err)
{
    conn *c;
    switch (t->cfg.conn_mode) {
    case RP_CONN_NEW:
        *opened = 1;
        return open_conn(t, uv_err);
    case RP_CONN_POOL:
        if (!list_empty(&t->idle)) {
            c = CONTAINER_OF(t->idle.next, conn, idle_link);
            list_unlink(&c->idle_link);
            return c;
        }
        *opened = 1;
        return open_conn(t, uv_err);
    default:
        break;
    }

    uint64_t *v = rp_u64map_get(&t->bound, req->conn_key);
    if (v == NULL) {
        *opened = 1;
        c = open_conn(t, uv_err);
        if (c == NULL)
            return NULL;
        if (rp_u64map_put(&t->bound, req->conn_key, (uint64_t)(uintptr_t)c) == 0) {
            c->bound = 1;
            c->key = req->conn_key;
        }
        return c;
    }
    c = (conn *)(uintptr_t)*v;
    if (c->state == C_IDLE) {
        list_unlink(&c->idle_link);
        return c;
    }
    /* Open loop wins: the captured connection is busy. */
    *moved = 1;
    if (req->last_on_conn)
        c->close_after = 1;
    c = take_spare(t, uv_err);
    if (c != NULL && c->state == C_CONNECTING)
        *opened = 1;
    return c;
}

/* ---- timeouts ---- */

static void on_timeout_timer(uv_timer_t *timer);

static void arm_timeout_timer(lean *t)
{
    if (list_empty(&t->in_flight) || uv_is_active((uv_handle_t *)&t->timeout_timer))
        return;
    conn *head = CONTAINER_OF(t->in_flight.next, conn, flight_link);
    uv_timer_start(&t->timeout_timer, on_timeout_timer,
                   ms_until(head->submit_ns + t->cfg.timeout_ns), 0);
}

/* A request that timed out before it was sent never got a connection. */
static void on_timeout_timer(uv_timer_t *timer)
{
    lean *t = timer->data;
    uint64_t now = uv_hrtime();
    while (!list_empty(&t->in_flight)) {
        conn *c = CONTAINER_OF(t->in_flight.next, conn, flight_link);
        if (c->submit_ns + t->cfg.timeout_ns > now)
            break;
        fail(c, c->send_ns != 0 ? RP_ERR_TIMEOUT : RP_ERR_CONNECT, UV_ETIMEDOUT);
    }
    arm_timeout_timer(t);
}

/* ---- requests that failed inside submit ---- */

static void on_defer_timer(uv_timer_t *timer)
{
    lean *t = timer->data;
    /* done() may not submit, so the list cannot grow while it drains. */
    for (size_t i = 0; i < t->deferred_count; i++)
        t->cfg.done(t->cfg.done_ctx, t->deferred[i].req, &t->deferred[i].out);
    t->deferred_count = 0;
}

static int defer_failure(lean *t, rp_request *req, int kind, int uv_err)
{
    if (t->deferred_count == t->deferred_cap) {
        size_t cap = t->deferred_cap ? t->deferred_cap * 2 : 16;
        deferred *grown = realloc(t->deferred, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        t->deferred = grown;
        t->deferred_cap = cap;
    }
    deferred *d = &t->deferred[t->deferred_count++];
    memset(&d->out, 0, sizeof d->out);
    d->req = req;
    d->out.error = kind;
    d->out.detail = uv_err;
    d->out.client_errno = kind == RP_ERR_CLIENT ? -uv_err : 0;
    d->out.done_ns = uv_hrtime();
    d->out.conn_opened = 1;
    uv_timer_start(&t->defer_timer, on_defer_timer, 0, 0);
    return 0;
}

/* ---- transport operations ---- */

static int lt_submit(rp_transport *base, rp_request *req, char *err, size_t errlen)
{
    lean *t = (lean *)base;
    int opened = 0, moved = 0, uv_err = 0;
    conn *c = pick(t, req, &opened, &moved, &uv_err);
    if (c == NULL) {
        if (defer_failure(t, req, connect_kind(uv_err), uv_err) != 0) {
            snprintf(err, errlen, "out of memory queueing the failure of request %llu",
                     (unsigned long long)req->seq);
            return -1;
        }
        return 0;
    }

    c->req = req;
    c->submit_ns = uv_hrtime();
    c->send_ns = c->first_byte_ns = c->bytes = 0;
    c->complete = c->upgraded = 0;
    c->opened_for_req = (uint8_t)opened;
    c->moved = (uint8_t)moved;
    if (t->cfg.conn_mode == RP_CONN_NEW || (req->flags & RP_REC_UPGRADE))
        c->close_after = 1;
    list_append(&t->in_flight, &c->flight_link);
    arm_timeout_timer(t);

    if (c->state == C_IDLE)
        send_request(c, c->submit_ns);
    /* A connecting connection sends from on_connect. */
    return 0;
}

static void lt_cancel_all(rp_transport *base)
{
    lean *t = (lean *)base;
    uint64_t now = uv_hrtime();
    on_defer_timer(&t->defer_timer);
    while (!list_empty(&t->in_flight)) {
        conn *c = CONTAINER_OF(t->in_flight.next, conn, flight_link);
        rp_outcome o;
        fill_outcome(c, &o, now);
        o.cancelled = 1;
        close_conn(c);
        report(c, &o);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    lean *t = h->data;
    if (--t->handles == 0) {
        rp_u64map_free(&t->bound);
        free(t->deferred);
        free(t);
    }
}

static void lt_close(rp_transport *base)
{
    lean *t = (lean *)base;
    lt_cancel_all(base);
    while (evict_idle(t) == 0)
        ;
    t->closing = 1;
    uv_close((uv_handle_t *)&t->timeout_timer, on_timer_closed);
    uv_close((uv_handle_t *)&t->connect_timer, on_timer_closed);
    uv_close((uv_handle_t *)&t->defer_timer, on_timer_closed);
}

static void lt_version(rp_transport *base, char *buf, size_t len)
{
    snprintf(buf, len, "libuv/%s llhttp/%d.%d.%d", uv_version_string(),
             LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
}

static const rp_transport_ops lean_ops = {
    .name = "lean",
    .can_pin = 1,
    .submit = lt_submit,
    .flush = NULL,
    .cancel_all = lt_cancel_all,
    .close = lt_close,
    .version = lt_version,
};

static int resolve_addr(lean *t, char *err, size_t errlen)
{
    const rp_target *tg = t->cfg.target;
    int rc;
    if (strchr(tg->address, ':') != NULL)
        rc = uv_ip6_addr(tg->address, tg->port, (struct sockaddr_in6 *)&t->addr);
    else
        rc = uv_ip4_addr(tg->address, tg->port, (struct sockaddr_in *)&t->addr);
    if (rc != 0) {
        snprintf(err, errlen, "target address '%s' is not a numeric address: %s",
                 tg->address, uv_strerror(rc));
        return -1;
    }
    return 0;
}

int rp_lean_transport_new(rp_transport **out, const rp_transport_config *cfg,
                          char *err, size_t errlen)
{
    *out = NULL;
    if (strcmp(cfg->target->scheme, "http") != 0 || cfg->http2) {
        snprintf(err, errlen, "the lean transport speaks HTTP/1.1 over http:// only; "
                 "use --transport curl for %s%s", cfg->target->origin,
                 cfg->http2 ? " with --http2" : "");
        return -1;
    }
    lean *t = calloc(1, sizeof *t);
    if (t == NULL || rp_u64map_init(&t->bound, 64) != 0) {
        free(t);
        snprintf(err, errlen, "out of memory creating the lean transport");
        return -1;
    }
    t->base.ops = &lean_ops;
    t->cfg = *cfg;
    if (t->cfg.max_connections == 0)
        t->cfg.max_connections = 1;
    if (resolve_addr(t, err, errlen) != 0) {
        rp_u64map_free(&t->bound);
        free(t);
        return -1;
    }
    llhttp_settings_init(&t->settings);
    t->settings.on_headers_complete = on_headers_complete;
    t->settings.on_message_complete = on_message_complete;
    list_init(&t->idle);
    list_init(&t->spares);
    list_init(&t->in_flight);
    list_init(&t->connecting);

    uv_timer_init(cfg->loop, &t->timeout_timer);
    uv_timer_init(cfg->loop, &t->connect_timer);
    uv_timer_init(cfg->loop, &t->defer_timer);
    t->timeout_timer.data = t->connect_timer.data = t->defer_timer.data = t;
    t->handles = 3;
    *out = &t->base;
    return 0;
}
