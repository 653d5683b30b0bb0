/* libcurl multi_socket on libuv.
 *
 * One uv_poll_t per socket libcurl wants watched, one uv_timer_t for
 * libcurl's timeout, and after every curl_multi_socket_action a drain of
 * curl_multi_info_read. The engine never submits more requests than
 * max_connections, so libcurl never queues a transfer as pending, whose
 * queue time would count into CURLOPT_TIMEOUT_MS.
 *
 * Sockets: libcurl does not promise that CURL_POLL_REMOVE arrives while the
 * socket is still open, and libuv aborts when a descriptor it watches is
 * closed under it. The close-socket callback therefore stops and releases
 * any poll still attached to the descriptor before closing it.
 */
#include "replay/curl_transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct curl_transport curl_transport;

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    curl_transport *t;
} sock_ctx;

/* One easy handle with what a transfer must keep alive until it is done. */
typedef struct xfer {
    CURL *easy;
    curl_transport *t;
    rp_request *req;
    uint64_t send_ns, first_byte_ns, bytes;
    int in_101;             /* the current response is 101 Switching Protocols */
    int upgraded;           /* stopped reading after a 101 on purpose */
    int retry_blocked;      /* on_prereq refused libcurl's resend */

    char *text;             /* header lines handed to libcurl, NUL-separated */
    size_t text_cap;
    struct curl_slist *nodes;   /* list nodes owned here, pointing into text;
                                   never given to curl_slist_free_all */
    size_t nodes_cap;

    struct xfer *next;      /* free list, or in-flight list */
    struct xfer *prev;      /* in-flight list only */
    struct xfer *all_next;  /* every xfer, for cleanup */
} xfer;

struct curl_transport {
    rp_transport base;
    rp_transport_config cfg;
    CURLM *multi;
    uv_timer_t timer;
    struct curl_slist *resolve;
    char resolve_entry[400];

    xfer *free_list;
    xfer *in_flight;
    xfer *all;

    sock_ctx **by_fd;       /* poll attached to each descriptor */
    size_t by_fd_len;
    size_t open_handles;    /* uv handles not yet closed */
    int closing;
};

static void drain(curl_transport *t);

/* ---- sockets and timer ---- */

static void on_handle_closed(uv_handle_t *h)
{
    curl_transport *t = h->data;
    if ((void *)h != (void *)&t->timer)
        free(h);   /* a sock_ctx: its poll is its first member */
    if (--t->open_handles == 0 && t->closing) {
        free(t->by_fd);
        free(t);
    }
}

static void sock_release(curl_transport *t, sock_ctx *sc)
{
    if ((size_t)sc->fd < t->by_fd_len && t->by_fd[sc->fd] == sc)
        t->by_fd[sc->fd] = NULL;
    curl_multi_assign(t->multi, sc->fd, NULL);
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, on_handle_closed);
}

static sock_ctx *sock_new(curl_transport *t, curl_socket_t fd)
{
    if ((size_t)fd >= t->by_fd_len) {
        size_t len = t->by_fd_len ? t->by_fd_len : 64;
        while (len <= (size_t)fd)
            len *= 2;
        sock_ctx **grown = realloc(t->by_fd, len * sizeof *grown);
        if (grown == NULL)
            return NULL;
        memset(grown + t->by_fd_len, 0, (len - t->by_fd_len) * sizeof *grown);
        t->by_fd = grown;
        t->by_fd_len = len;
    }

    sock_ctx *sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return NULL;
    if (uv_poll_init_socket(t->cfg.loop, &sc->poll, fd) != 0) {
        free(sc);
        return NULL;
    }
    sc->poll.data = t;
    sc->fd = fd;
    sc->t = t;
    t->open_handles++;
    t->by_fd[fd] = sc;
    return sc;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_ctx *sc = (sock_ctx *)p;
    curl_transport *t = sc->t;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;

    int running = 0;
    curl_multi_socket_action(t->multi, sc->fd, flags, &running);
    drain(t);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    curl_transport *t = userp;
    sock_ctx *sc = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (sc != NULL)
            sock_release(t, sc);
        return 0;
    }
    if (sc == NULL) {
        sc = sock_new(t, fd);
        if (sc == NULL)
            return -1;
        curl_multi_assign(t->multi, fd, sc);
    }

    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sc->poll, events, on_poll);
    return 0;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    curl_transport *t = clientp;
    if ((size_t)fd < t->by_fd_len && t->by_fd[fd] != NULL)
        sock_release(t, t->by_fd[fd]);
    return close(fd);
}

static void on_timer(uv_timer_t *timer)
{
    curl_transport *t = timer->data;
    int running = 0;
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(t);
}

/* libcurl requests a timeout; calling back into libcurl from here is not
 * allowed, so a 0 ms request runs on the next loop turn. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    curl_transport *t = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&t->timer);
    else
        uv_timer_start(&t->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- per-transfer callbacks ---- */

/* Runs when the request is about to go out on its connection. libcurl
 * 7.88 silently sends a request again on a new connection when a reused
 * one closed or reset before any response byte, so the server receives the
 * request twice. A second call is such a resend: it is aborted, and the
 * transfer ends as the reset it was. */
static int on_prereq(void *clientp, char *primary_ip, char *local_ip,
                     int primary_port, int local_port)
{
    xfer *x = clientp;
    if (x->send_ns != 0) {
        x->retry_blocked = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    x->send_ns = uv_hrtime();
    return CURL_PREREQFUNC_OK;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    xfer *x = userp;
    x->bytes += size * n;
    return size * n;
}

/* Returns the status of a status line, or 0 when line is not one. */
static int status_of(const char *line, size_t len)
{
    if (len < 12 || strncmp(line, "HTTP/", 5) != 0)
        return 0;
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL || (size_t)(sp - line) + 4 > len)
        return 0;
    return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

/* Called once per response header line. A 101 response to an Upgrade
 * request ends the exchange after its header block: the connection now
 * speaks another protocol, which replay does not follow. Returning a
 * short count makes libcurl stop with CURLE_WRITE_ERROR, which finish()
 * turns back into a response. */
static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    xfer *x = userp;
    size_t len = size * n;
    if (x->first_byte_ns == 0)
        x->first_byte_ns = uv_hrtime();
    x->bytes += len;

    if (x->req->flags & RP_REC_UPGRADE) {
        int status = status_of(data, len);
        if (status != 0)
            x->in_101 = status == 101;
        else if (x->in_101 && (len == 2 || len == 1) && (data[0] == '\r' || data[0] == '\n')) {
            x->upgraded = 1;
            return 0;
        }
    }
    return len;
}

/* ---- request headers ---- */

/* Header names libcurl would add, or that depend on the framing. */
enum {
    SEEN_HOST = 1, SEEN_ACCEPT = 2, SEEN_EXPECT = 4, SEEN_CONTENT_TYPE = 8,
    SEEN_CONTENT_LENGTH = 16, SEEN_HOP_BY_HOP = 32
};

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Grows x's buffers to hold text_len bytes of lines and that many nodes. */
static int reserve(xfer *x, size_t text_len, size_t lines)
{
    if (text_len > x->text_cap) {
        char *grown = realloc(x->text, text_len);
        if (grown == NULL)
            return -1;
        x->text = grown;
        x->text_cap = text_len;
    }
    if (lines > x->nodes_cap) {
        struct curl_slist *grown = realloc(x->nodes, lines * sizeof *grown);
        if (grown == NULL)
            return -1;
        x->nodes = grown;
        x->nodes_cap = lines;
    }
    return 0;
}

typedef struct header_builder {
    xfer *x;
    size_t used;        /* bytes of x->text */
    size_t count;       /* nodes of x->nodes */
} header_builder;

/* Adds one line; value NULL makes "Name:", which stops libcurl from
 * sending its own Name header, and an empty value "Name;", which libcurl
 * sends as an empty header. */
static void add_line(header_builder *b, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
    char *p = b->x->text + b->used;
    memcpy(p, name, name_len);
    if (value == NULL || value_len == 0) {
        p[name_len] = value == NULL ? ':' : ';';
        p[name_len + 1] = '\0';
        b->used += name_len + 2;
    } else {
        p[name_len] = ':';
        p[name_len + 1] = ' ';
        memcpy(p + name_len + 2, value, value_len);
        p[name_len + 2 + value_len] = '\0';
        b->used += name_len + 3 + value_len;
    }
    b->x->nodes[b->count].data = p;
    b->x->nodes[b->count].next = NULL;
    b->count++;
}

static int classify(const char *name, size_t len)
{
    if (name_is(name, len, "Host")) return SEEN_HOST;
    if (name_is(name, len, "Accept")) return SEEN_ACCEPT;
    if (name_is(name, len, "Expect")) return SEEN_EXPECT;
    if (name_is(name, len, "Content-Type")) return SEEN_CONTENT_TYPE;
    if (name_is(name, len, "Content-Length")) return SEEN_CONTENT_LENGTH;
    if (name_is(name, len, "Connection") || name_is(name, len, "Keep-Alive") ||
        name_is(name, len, "Proxy-Connection") || name_is(name, len, "Upgrade") ||
        name_is(name, len, "TE"))
        return SEEN_HOP_BY_HOP;
    return 0;
}

/* Hands the prepared header lines to libcurl. Content-Length is left out
 * because libcurl writes it from CURLOPT_POSTFIELDSIZE; HTTP/2 forbids
 * connection-specific headers, so they are left out over HTTP/2. */
static int build_headers(xfer *x, int http2)
{
    const rp_request *req = x->req;
    size_t lines = 5;
    for (uint32_t i = 0; i < req->headers_len; i++)
        if (req->headers[i] == '\n')
            lines++;
    if (reserve(x, req->headers_len + lines * 2 + 64, lines) != 0)
        return -1;

    header_builder b = { .x = x };
    int seen = 0;
    const char *p = req->headers, *end = req->headers + req->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t name_len = (size_t)(colon - p);
        const char *value = colon + 1;
        if (value < eol && *value == ' ')
            value++;
        int kind = classify(p, name_len);
        seen |= kind;
        if (kind != SEEN_CONTENT_LENGTH && !(http2 && kind == SEEN_HOP_BY_HOP))
            add_line(&b, p, name_len, value, (size_t)(eol - value));
        p = eol + 2;
    }

    if (!(seen & SEEN_ACCEPT))
        add_line(&b, "Accept", 6, NULL, 0);
    if (!(seen & SEEN_EXPECT))
        add_line(&b, "Expect", 6, NULL, 0);
    if (req->body_framed && !(seen & SEEN_CONTENT_TYPE))
        add_line(&b, "Content-Type", 12, NULL, 0);
    if (!(seen & SEEN_HOST))
        add_line(&b, "Host", 4, NULL, 0);

    for (size_t i = 0; i + 1 < b.count; i++)
        x->nodes[i].next = &x->nodes[i + 1];
    return 0;
}

/* ---- transfers ---- */

static xfer *xfer_new(curl_transport *t)
{
    xfer *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->easy = curl_easy_init();
    if (x->easy == NULL) {
        free(x);
        return NULL;
    }
    x->t = t;
    x->all_next = t->all;
    t->all = x;

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_URL, t->cfg.target->origin);
    curl_easy_setopt(e, CURLOPT_RESOLVE, t->resolve);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(t->cfg.timeout_ns / 1000000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(t->cfg.connect_timeout_ns / 1000000));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, t);
    if (t->cfg.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (t->cfg.cacert != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->cfg.cacert);
    return x;
}

/* Sets the method so that exactly the captured one reaches the server:
 * HEAD through CURLOPT_NOBODY (libcurl then expects no response body),
 * a body through CURLOPT_POSTFIELDS with its size (libcurl writes the
 * Content-Length), any other method name through CURLOPT_CUSTOMREQUEST. */
static void set_method(CURL *e, const rp_request *req)
{
    int body = req->body_framed;
    const char *m = req->method;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(m, "POST") == 0 ? NULL : m);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(m, "GET") == 0 ? NULL : m);
    }
}

/* HTTP/2 over TLS (negotiated by ALPN) or, for http://, with prior
 * knowledge; otherwise the captured 1.0 or 1.1. */
static long http_version(const curl_transport *t, const rp_request *req)
{
    if (t->cfg.http2)
        return strcmp(t->cfg.target->scheme, "https") == 0
            ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    return req->http_major == 1 && req->http_minor == 0
        ? (long)CURL_HTTP_VERSION_1_0 : (long)CURL_HTTP_VERSION_1_1;
}

static int ct_submit(rp_transport *base, rp_request *req, char *err, size_t errlen)
{
    curl_transport *t = (curl_transport *)base;
    xfer *x = t->free_list;
    if (x != NULL)
        t->free_list = x->next;
    else if ((x = xfer_new(t)) == NULL) {
        snprintf(err, errlen, "out of memory creating a libcurl handle for request %llu",
                 (unsigned long long)req->seq);
        return -1;
    }

    x->req = req;
    x->send_ns = x->first_byte_ns = x->bytes = 0;
    x->in_101 = x->upgraded = x->retry_blocked = 0;
    if (build_headers(x, t->cfg.http2) != 0) {
        x->next = t->free_list;
        t->free_list = x;
        snprintf(err, errlen, "out of memory building the headers of request %llu",
                 (unsigned long long)req->seq);
        return -1;
    }

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->nodes);
    curl_easy_setopt(e, CURLOPT_REQUEST_TARGET, req->path);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, http_version(t, req));
    long fresh = t->cfg.conn_mode == RP_CONN_NEW;
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, fresh || (req->flags & RP_REC_UPGRADE) ? 1L : 0L);
    set_method(e, req);

    CURLMcode mc = curl_multi_add_handle(t->multi, e);
    if (mc != CURLM_OK) {
        x->next = t->free_list;
        t->free_list = x;
        snprintf(err, errlen, "libcurl refused request %llu: %s",
                 (unsigned long long)req->seq, curl_multi_strerror(mc));
        return -1;
    }

    x->prev = NULL;
    x->next = t->in_flight;
    if (t->in_flight != NULL)
        t->in_flight->prev = x;
    t->in_flight = x;
    return 0;
}

static void ct_flush(rp_transport *base)
{
    curl_transport *t = (curl_transport *)base;
    int running = 0;
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(t);
}

/* Maps a libcurl result to an error kind. A timeout before the request
 * started going out means the connection was never established, so it
 * counts as a connect error. A connection closed before a complete
 * response (nothing at all, or part of the body) counts as a reset. A
 * connect that failed for lack of a descriptor, local port or buffer is
 * the generator's own limit. */
static int error_kind(CURLcode res, long os_errno, int was_sent)
{
    switch (res) {
    case CURLE_OK:
        return RP_ERR_NONE;
    case CURLE_COULDNT_CONNECT:
        if (os_errno == EMFILE || os_errno == ENFILE || os_errno == EADDRNOTAVAIL ||
            os_errno == ENOBUFS)
            return RP_ERR_CLIENT;
        return RP_ERR_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
        return RP_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return was_sent ? RP_ERR_TIMEOUT : RP_ERR_CONNECT;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return RP_ERR_RESET;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (os_errno == 0 || os_errno == ECONNRESET || os_errno == EPIPE ||
            os_errno == ECONNABORTED)
            return RP_ERR_RESET;
        return RP_ERR_OTHER;
    default:
        return RP_ERR_OTHER;
    }
}

/* Reports x's outcome and returns it to the free list. Reads everything
 * from the handle before removing it from the multi handle. */
static void finish(curl_transport *t, xfer *x, CURLcode res, uint64_t now, int cancelled)
{
    long status = 0, os_errno = 0, connects = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
    if (res == CURLE_WRITE_ERROR && x->upgraded)
        res = CURLE_OK;

    rp_outcome o = {
        .cancelled = cancelled,
        .detail = (int)res,
        .send_ns = x->send_ns,
        .first_byte_ns = x->first_byte_ns,
        .done_ns = now,
        .bytes_received = x->bytes,
        .conn_opened = connects > 0,
    };
    if (!cancelled) {
        o.error = x->retry_blocked ? RP_ERR_RESET : error_kind(res, os_errno, x->send_ns != 0);
        o.status = o.error == RP_ERR_NONE ? (int)status : 0;
        if (o.error == RP_ERR_CLIENT)
            o.client_errno = (int)os_errno;
    }
    curl_multi_remove_handle(t->multi, x->easy);

    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        t->in_flight = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;

    rp_request *req = x->req;
    x->req = NULL;
    x->next = t->free_list;
    t->free_list = x;
    t->cfg.done(t->cfg.done_ctx, req, &o);
}

static void drain(curl_transport *t)
{
    CURLMsg *msg;
    int left = 0;
    uint64_t now = 0;
    while ((msg = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode res = msg->data.result;
        xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (now == 0)
            now = uv_hrtime();
        finish(t, x, res, now, 0);
    }
}

static void ct_cancel_all(rp_transport *base)
{
    curl_transport *t = (curl_transport *)base;
    uint64_t now = uv_hrtime();
    while (t->in_flight != NULL)
        finish(t, t->in_flight, CURLE_ABORTED_BY_CALLBACK, now, 1);
}

static void ct_close(rp_transport *base)
{
    curl_transport *t = (curl_transport *)base;
    ct_cancel_all(base);

    /* Closing the multi handle closes its connections through
     * on_close_socket, which releases their polls. */
    curl_multi_cleanup(t->multi);
    t->multi = NULL;
    while (t->all != NULL) {
        xfer *x = t->all;
        t->all = x->all_next;
        curl_easy_cleanup(x->easy);
        free(x->text);
        free(x->nodes);
        free(x);
    }
    curl_slist_free_all(t->resolve);
    curl_global_cleanup();

    for (size_t fd = 0; fd < t->by_fd_len; fd++)
        if (t->by_fd[fd] != NULL)
            sock_release(t, t->by_fd[fd]);
    t->closing = 1;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, on_handle_closed);
}

static void ct_version(rp_transport *base, char *buf, size_t len)
{
    snprintf(buf, len, "%s", curl_version());
}

static const rp_transport_ops curl_ops = {
    .name = "libcurl",
    .can_pin = 0,
    .submit = ct_submit,
    .flush = ct_flush,
    .cancel_all = ct_cancel_all,
    .close = ct_close,
    .version = ct_version,
};

static int setup_multi(curl_transport *t)
{
    long max = (long)t->cfg.max_connections;
    t->multi = curl_multi_init();
    if (t->multi == NULL)
        return -1;
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    /* Explicit, because libcurl's defaults changed across versions. */
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, max);
    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max);
    curl_multi_setopt(t->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max);
    return 0;
}

int rp_curl_transport_new(rp_transport **out, const rp_transport_config *cfg,
                          char *err, size_t errlen)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl failed to initialise");
        return -1;
    }
    curl_transport *t = calloc(1, sizeof *t);
    if (t == NULL) {
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory creating the libcurl transport");
        return -1;
    }
    t->base.ops = &curl_ops;
    t->cfg = *cfg;

    /* The target was resolved once; every connection uses that address. A
     * numeric host needs no entry, and libcurl 7.88 cannot parse one whose
     * host is an IPv6 address. */
    const rp_target *tg = cfg->target;
    int numeric = strcmp(tg->host, tg->address) == 0;
    if (!numeric) {
        int v6 = strchr(tg->address, ':') != NULL;
        snprintf(t->resolve_entry, sizeof t->resolve_entry, "%s:%u:%s%s%s", tg->host,
                 (unsigned)tg->port, v6 ? "[" : "", tg->address, v6 ? "]" : "");
        t->resolve = curl_slist_append(NULL, t->resolve_entry);
    }

    if ((!numeric && t->resolve == NULL) || setup_multi(t) != 0) {
        curl_slist_free_all(t->resolve);
        free(t);
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory creating the libcurl transport");
        return -1;
    }
    uv_timer_init(cfg->loop, &t->timer);
    t->timer.data = t;
    t->open_handles = 1;
    *out = &t->base;
    return 0;
}
