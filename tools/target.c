/* reprise-target: a small HTTP/1.1 server on libuv + llhttp that the tests,
 * the demo and the benchmarks use as the replay target. It listens on
 * loopback only and can delay responses, limit how many requests are in
 * service at once, return a chosen status, inject faults and log every
 * request it receives.
 *
 * Service model. Each connection serves its requests one at a time and in
 * order, as nginx does with pipelined requests: a request starts service
 * once the response to the previous one on its connection has been written.
 * Service takes --delay, then the response (or the fault) goes out. With
 * --workers N at most N requests are in service across all connections; the
 * others wait in arrival order. Because the delay never shrinks (it is
 * fixed, or grows with --slowdown), requests finish in the order they
 * started, so one FIFO and one timerfd (microsecond precision, unlike
 * libuv's millisecond timers) schedule every service end.
 *
 * Log (--log FILE, mode 0600): a header line with the column names, then one
 * tab-separated row per request. A row is written when its request starts
 * service or is dropped. Service starts right after arrival unless the
 * request waits for a worker or for an earlier request on its connection.
 * Columns:
 *   arrival_ns        CLOCK_REALTIME ns when the read carrying the request's
 *                     first byte was processed
 *   conn_id           connection number, from 1 in accept order
 *   request_id        request number, from 1 in order of complete arrival
 *                     across all connections (--fault-every counts these)
 *   method            as llhttp names it (GET, POST, ...)
 *   target            request-target as received
 *   version           1.0 or 1.1
 *   body_len          request body bytes after chunked decoding
 *   chunked           1 when the body was sent chunked, else 0
 *   host              Host header value, empty when absent
 *   service_start_ns  CLOCK_REALTIME ns when service started, empty when it
 *                     never did
 *   action            ok, a fault mode (reset close stall partial flood),
 *                     rejected (503 because --queue-limit requests already
 *                     waited), dropped (the connection closed first) or
 *                     pending (still queued when the server stopped)
 * Tab, newline, carriage return and backslash inside target and host are
 * written as \t \n \r \\. A request's row reaches the file before its
 * response or fault goes out, so a client that has seen the response can
 * read the row; other rows are flushed at the end of the event-loop
 * iteration that wrote them.
 *
 * Input that llhttp rejects, including request methods outside llhttp 8.1's
 * fixed list (an extension method such as CCM_POST), gets a 400 response
 * after the responses already due on that connection, then the connection
 * closes. Such input has no log row. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <llhttp.h>
#include <uv.h>

#define PROG "reprise-target"

#define READ_BUF_SIZE   (64 * 1024)
#define BODY_CHUNK_SIZE (256 * 1024)      /* largest body slice per write */
#define MAX_TARGET_LEN  (64 * 1024)       /* longer targets get 414 */
#define MAX_HOST_LEN    1024              /* longer Host values get 431 */
#define QUEUE_PAUSE     64                /* stop reading at this many queued requests */
#define QUEUE_RESUME    16                /* and start again below this many */
#define STRBUF_PAUSE    (1024 * 1024)     /* or when queued strings take this many bytes */
#define LINGER_NS       (2 * 1000000000ull) /* drain time after our FIN */
#define LISTEN_BACKLOG  1024

/* ---- intrusive doubly linked lists ---- */

struct link {
    struct link *prev, *next;
};

#define CONTAINER_OF(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

static void list_init(struct link *head) { head->prev = head->next = head; }
static bool list_empty(const struct link *head) { return head->next == head; }

static void list_insert_after(struct link *pos, struct link *item)
{
    item->prev = pos;
    item->next = pos->next;
    pos->next->prev = item;
    pos->next = item;
}

static void list_append(struct link *head, struct link *item)
{
    list_insert_after(head->prev, item);
}

static void list_remove(struct link *item)
{
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->prev = item->next = item;
}

/* ---- options and global state ---- */

enum action {
    ACT_OK, ACT_RESET, ACT_CLOSE, ACT_STALL, ACT_PARTIAL, ACT_FLOOD,
    ACT_REJECTED, ACT_DROPPED, ACT_PENDING
};

static const char *const action_names[] = {
    "ok", "reset", "close", "stall", "partial", "flood",
    "rejected", "dropped", "pending"
};

struct options {
    const char *listen;
    uint64_t delay_ns;
    uint64_t slowdown_ns;   /* service time added per second of uptime */
    uint64_t workers;       /* 0: unlimited */
    uint64_t queue_limit;   /* 0: unlimited */
    int status;
    uint64_t body_bytes;
    uint64_t flood_bytes;
    enum action fault;      /* ACT_OK: no fault */
    uint64_t fault_every;
    const char *log_path;
    double lifetime_s;      /* 0: run until a signal */
};

static struct options opt = {
    .listen = "127.0.0.1:0",
    .status = 200,
    .body_bytes = 2,
    .flood_bytes = 1ull << 30,
    .fault = ACT_OK,
    .fault_every = 1,
};

struct stats {
    uint64_t accepted, open, max_open, accept_errors;
    uint64_t requests, responses, faults, rejected, dropped;
    uint64_t bad_requests, incomplete;
};

static struct stats stats;

/* A prebuilt response head: status line and header fields. */
struct text {
    char *data;
    size_t len;
};

enum head_kind { HEAD_OK, HEAD_PARTIAL, HEAD_FLOOD, HEAD_400, HEAD_414, HEAD_431, HEAD_503, HEAD_KINDS };

static struct text heads[HEAD_KINDS][2];   /* [kind][keep_alive] */
static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";
static bool status_has_body;                /* false for 204 and 304 */
static uint64_t partial_declared;           /* Content-Length of a partial response */

/* Response bodies are slices of this buffer: "okok...", one spare byte so a
 * slice can start at an odd offset and keep the pattern. */
static char body_pattern[BODY_CHUNK_SIZE + 1];
static char read_buf[READ_BUF_SIZE];

static uv_loop_t *loop;
static uv_tcp_t listener;
static uv_signal_t sig_term, sig_int;
static uv_timer_t linger_timer, lifetime_timer;
static uv_check_t log_flush_check;
static uv_poll_t service_poll;
static int service_tfd = -1;
static bool stopping;

static FILE *log_file;
static bool log_dirty;

static struct link all_conns;     /* every open connection */
static struct link service_fifo;  /* connections in service, by end time */
static struct link waiters;       /* connections waiting for a worker, by request id */
static struct link lingering;     /* connections draining after our FIN, by deadline */
static uint64_t in_service, waiting;
static uint64_t next_conn_id;
static llhttp_settings_t parser_settings;

/* ---- connections ---- */

struct request {
    uint64_t arrival_ns;
    uint64_t id;
    uint64_t body_len;
    uint32_t target_off, target_len;   /* in the connection's strbuf */
    uint32_t host_off, host_len;
    uint8_t method, http_major, http_minor;
    bool keep_alive, chunked, logged;
    enum action action;
};

enum conn_state { ST_OPEN, ST_SHUTTING, ST_LINGERING, ST_CLOSING };
enum conn_where { WHERE_NONE, WHERE_SERVICE, WHERE_WAITING, WHERE_LINGER };
enum after_write { AFTER_NONE, AFTER_SHUTDOWN };
enum header_field { FIELD_OTHER, FIELD_HOST, FIELD_EXPECT };

struct conn {
    uv_tcp_t tcp;
    llhttp_t parser;
    uint64_t id;
    enum conn_state state;
    enum conn_where where;
    struct link all_link;
    struct link sched_link;     /* in service_fifo, waiters or lingering */
    uint64_t due_ns;            /* CLOCK_MONOTONIC: service end or linger end */

    /* Ring buffer of parsed requests that have no response yet. */
    struct request *queue;
    uint32_t qhead, qlen, qcap;
    /* Targets and Host values of queued requests and of the one being parsed. */
    char *strbuf;
    uint32_t str_len, str_cap;

    struct request cur;         /* request being parsed */
    bool in_message;
    char field[16];             /* lowercased start of the current header name */
    uint32_t field_len;
    enum header_field field_kind;
    char expect[16];
    uint32_t expect_len;

    bool reading, peer_eof, input_done, stalled, writing;
    int reject_status;          /* 400, 414 or 431 to send once the queue drains */

    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    const char *out_head;       /* unsent part of the response head */
    size_t out_head_len;
    uint64_t out_body_left, out_body_off;
    enum after_write after;
};

static void conn_close(struct conn *c, bool reset);
static void conn_shutdown(struct conn *c);
static void conn_pump(struct conn *c);
static void dispatch_waiters(void);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- request log ---- */

static void log_field(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\\': esc = "\\\\"; break;
        default: continue;
        }
        fwrite(s + start, 1, i - start, log_file);
        fputs(esc, log_file);
        start = i + 1;
    }
    fwrite(s + start, 1, len - start, log_file);
}

static void log_request(struct conn *c, struct request *r, enum action act,
                        uint64_t service_start_ns)
{
    r->logged = true;
    if (!log_file)
        return;

    fprintf(log_file, "%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t",
            r->arrival_ns, c->id, r->id, llhttp_method_name(r->method));
    log_field(c->strbuf + r->target_off, r->target_len);
    fprintf(log_file, "\t%u.%u\t%" PRIu64 "\t%d\t",
            r->http_major, r->http_minor, r->body_len, r->chunked ? 1 : 0);
    log_field(c->strbuf + r->host_off, r->host_len);
    if (service_start_ns)
        fprintf(log_file, "\t%" PRIu64 "\t%s\n", service_start_ns, action_names[act]);
    else
        fprintf(log_file, "\t\t%s\n", action_names[act]);
    log_dirty = true;
}

static void log_flush(void)
{
    if (log_dirty) {
        fflush(log_file);
        log_dirty = false;
    }
}

static void on_log_check(uv_check_t *handle)
{
    (void)handle;
    log_flush();
}

static int log_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    log_file = fdopen(fd, "w");
    if (!log_file) {
        int e = errno;
        close(fd);
        return -e;
    }
    setvbuf(log_file, NULL, _IOFBF, 1 << 16);
    fputs("arrival_ns\tconn_id\trequest_id\tmethod\ttarget\tversion\tbody_len\t"
          "chunked\thost\tservice_start_ns\taction\n", log_file);
    fflush(log_file);
    return 0;
}

/* ---- prebuilt responses ---- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Status";
    }
}

/* Builds a response head; with_length false omits Content-Length (204, 304). */
static void build_head(struct text *t, int status, bool with_length,
                       uint64_t length, bool keep_alive)
{
    char buf[256];
    char length_line[64] = "";
    if (with_length)
        snprintf(length_line, sizeof length_line,
                 "Content-Type: text/plain\r\nContent-Length: %" PRIu64 "\r\n", length);
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nServer: reprise-target\r\n%sConnection: %s\r\n\r\n",
                     status, reason_phrase(status), length_line,
                     keep_alive ? "keep-alive" : "close");
    t->data = malloc((size_t)n + 1);
    if (!t->data) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    memcpy(t->data, buf, (size_t)n + 1);
    t->len = (size_t)n;
}

static void build_responses(void)
{
    status_has_body = opt.status != 204 && opt.status != 304;
    partial_declared = opt.body_bytes < 2 ? 2 : opt.body_bytes;

    for (int ka = 0; ka < 2; ka++) {
        build_head(&heads[HEAD_OK][ka], opt.status, status_has_body, opt.body_bytes, ka);
        build_head(&heads[HEAD_PARTIAL][ka], opt.status, true, partial_declared, ka);
        build_head(&heads[HEAD_FLOOD][ka], opt.status, true, opt.flood_bytes, ka);
        build_head(&heads[HEAD_400][ka], 400, true, 0, false);
        build_head(&heads[HEAD_414][ka], 414, true, 0, false);
        build_head(&heads[HEAD_431][ka], 431, true, 0, false);
        build_head(&heads[HEAD_503][ka], 503, true, 0, ka);
    }

    for (size_t i = 0; i < sizeof body_pattern; i++)
        body_pattern[i] = (i % 2) ? 'k' : 'o';
}

/* ---- writing responses ---- */

/* Fills bufs with what is left of the response; returns the buffer count. */
static unsigned out_bufs(struct conn *c, uv_buf_t bufs[2])
{
    unsigned n = 0;
    if (c->out_head_len)
        bufs[n++] = uv_buf_init((char *)c->out_head, (unsigned)c->out_head_len);
    if (c->out_body_left) {
        uint64_t len = c->out_body_left < BODY_CHUNK_SIZE ? c->out_body_left : BODY_CHUNK_SIZE;
        bufs[n++] = uv_buf_init(body_pattern + (c->out_body_off % 2), (unsigned)len);
    }
    return n;
}

/* Marks written bytes as sent. Before a uv_write, the whole request is
 * marked, because uv_write sends every byte or fails. */
static void out_advance(struct conn *c, size_t written)
{
    size_t from_head = written < c->out_head_len ? written : c->out_head_len;
    c->out_head += from_head;
    c->out_head_len -= from_head;
    c->out_body_left -= written - from_head;
    c->out_body_off += written - from_head;
}

static void after_write(struct conn *c)
{
    stats.responses++;
    if (c->after == AFTER_SHUTDOWN)
        conn_shutdown(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    if (c->state == ST_CLOSING)
        return;
    if (status < 0) {
        conn_close(c, false);
        return;
    }

    uv_buf_t bufs[2];
    unsigned n = out_bufs(c, bufs);
    if (n > 0) {
        out_advance(c, bufs[0].len + (n > 1 ? bufs[1].len : 0));
        c->writing = true;
        if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, n, on_write) < 0) {
            c->writing = false;
            conn_close(c, false);
        }
        return;
    }

    after_write(c);
    if (c->state == ST_OPEN)
        conn_pump(c);
}

/* Sends a response head and body_len body bytes. A synchronous write goes
 * first and usually completes a small response without a write request.
 * Whatever is left goes out through uv_write, and conn_pump resumes when
 * that completes. */
static void conn_send(struct conn *c, const struct text *head, uint64_t body_len,
                      enum after_write after)
{
    log_flush();
    c->out_head = head->data;
    c->out_head_len = head->len;
    c->out_body_left = body_len;
    c->out_body_off = 0;
    c->after = after;

    uv_buf_t bufs[2];
    unsigned n = out_bufs(c, bufs);
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (r < 0 && r != UV_EAGAIN) {
        conn_close(c, false);
        return;
    }
    if (r > 0)
        out_advance(c, (size_t)r);

    n = out_bufs(c, bufs);
    if (n == 0) {
        after_write(c);
        return;
    }
    out_advance(c, bufs[0].len + (n > 1 ? bufs[1].len : 0));
    c->write_req.data = c;
    c->writing = true;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, n, on_write) < 0) {
        c->writing = false;
        conn_close(c, false);
    }
}

/* ---- closing ---- */

static void on_conn_closed(uv_handle_t *handle)
{
    struct conn *c = handle->data;
    free(c->queue);
    free(c->strbuf);
    free(c);
}

static void sched_remove(struct conn *c)
{
    switch (c->where) {
    case WHERE_SERVICE: in_service--; break;
    case WHERE_WAITING: waiting--; break;
    case WHERE_LINGER:
    case WHERE_NONE: break;
    }
    if (c->where != WHERE_NONE)
        list_remove(&c->sched_link);
    c->where = WHERE_NONE;
}

/* Logs every queued request that has no row yet with action act. */
static void drop_queued(struct conn *c, enum action act)
{
    for (uint32_t i = 0; i < c->qlen; i++) {
        struct request *r = &c->queue[(c->qhead + i) % c->qcap];
        if (!r->logged) {
            log_request(c, r, act, 0);
            if (act == ACT_DROPPED)
                stats.dropped++;
        }
    }
    c->qlen = 0;
}

/* Closes the connection now; reset sends RST (SO_LINGER 0) instead of FIN.
 * Safe to call more than once; the memory is freed in the close callback. */
static void conn_close(struct conn *c, bool reset)
{
    if (c->state == ST_CLOSING)
        return;
    bool held_worker = c->where == WHERE_SERVICE;
    c->state = ST_CLOSING;
    sched_remove(c);
    drop_queued(c, stopping ? ACT_PENDING : ACT_DROPPED);
    log_flush();
    list_remove(&c->all_link);
    stats.open--;

    if (!reset || uv_tcp_close_reset(&c->tcp, on_conn_closed) < 0)
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);

    if (held_worker)
        dispatch_waiters();
}

static void on_linger_timer(uv_timer_t *timer)
{
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    while (!list_empty(&lingering)) {
        struct conn *c = CONTAINER_OF(lingering.next, struct conn, sched_link);
        if (c->due_ns > now)
            break;
        conn_close(c, false);
    }
    if (list_empty(&lingering))
        uv_timer_stop(timer);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state == ST_CLOSING)
        return;
    if (status < 0 || c->peer_eof) {
        conn_close(c, false);
        return;
    }

    /* Reading on until the peer closes (or LINGER_NS passes) keeps unread
     * input from turning our close into an RST that could destroy the
     * response before the client reads it. */
    c->state = ST_LINGERING;
    c->where = WHERE_LINGER;
    c->due_ns = clock_ns(CLOCK_MONOTONIC) + LINGER_NS;
    list_append(&lingering, &c->sched_link);
    if (!uv_is_active((uv_handle_t *)&linger_timer))
        uv_timer_start(&linger_timer, on_linger_timer, 200, 200);
}

/* Sends FIN after the queued writes, then drains input until the peer closes. */
static void conn_shutdown(struct conn *c)
{
    if (c->state != ST_OPEN)
        return;
    c->state = ST_SHUTTING;
    drop_queued(c, stopping ? ACT_PENDING : ACT_DROPPED);
    log_flush();
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        conn_close(c, false);
        return;
    }
    if (!c->reading && !c->peer_eof) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

/* ---- service: workers, delay, faults ---- */

static void service_arm(void)
{
    struct itimerspec its = { 0 };
    if (!list_empty(&service_fifo)) {
        struct conn *c = CONTAINER_OF(service_fifo.next, struct conn, sched_link);
        its.it_value.tv_sec = (time_t)(c->due_ns / 1000000000ull);
        its.it_value.tv_nsec = (long)(c->due_ns % 1000000000ull);
    }
    timerfd_settime(service_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static struct request *queue_head(struct conn *c)
{
    return &c->queue[c->qhead];
}

/* Removes the head request. Once the queue is empty, the strings of the
 * request being parsed (if any) move to the start of strbuf, so strbuf does
 * not grow on a long-lived connection. */
static void queue_pop(struct conn *c)
{
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    if (c->qlen > 0)
        return;

    c->qhead = 0;
    if (!c->in_message) {
        c->str_len = 0;
        return;
    }
    uint32_t shift = c->cur.target_off;
    memmove(c->strbuf, c->strbuf + shift, c->str_len - shift);
    c->str_len -= shift;
    c->cur.target_off -= shift;
    c->cur.host_off -= shift;     /* the Host value follows the target */
}

/* Starts service of the head request, which occupies a worker from now on. */
static void service_start(struct conn *c)
{
    struct request *r = queue_head(c);
    in_service++;
    log_request(c, r, r->action, log_file ? clock_ns(CLOCK_REALTIME) : 0);
}

static void service_finish(struct conn *c)
{
    struct request r = *queue_head(c);
    in_service--;
    queue_pop(c);
    if (r.action != ACT_OK)
        stats.faults++;

    bool head_only = r.method == HTTP_HEAD;
    int ka = r.keep_alive;
    enum after_write after = ka ? AFTER_NONE : AFTER_SHUTDOWN;

    switch (r.action) {
    case ACT_RESET:
        conn_close(c, true);
        break;
    case ACT_CLOSE:
        conn_shutdown(c);
        break;
    case ACT_STALL:
        c->stalled = true;
        break;
    case ACT_PARTIAL:
        conn_send(c, &heads[HEAD_PARTIAL][ka], head_only ? 0 : partial_declared / 2,
                  AFTER_SHUTDOWN);
        break;
    case ACT_FLOOD:
        conn_send(c, &heads[HEAD_FLOOD][ka], head_only ? 0 : opt.flood_bytes, after);
        break;
    default:
        conn_send(c, &heads[HEAD_OK][ka],
                  head_only || !status_has_body ? 0 : opt.body_bytes, after);
        break;
    }
}

/* Sends 503 for the head request at once, because --queue-limit requests
 * already wait for a worker. */
static void service_reject(struct conn *c)
{
    struct request r = *queue_head(c);
    log_request(c, queue_head(c), ACT_REJECTED, 0);
    stats.rejected++;
    queue_pop(c);
    conn_send(c, &heads[HEAD_503][r.keep_alive], 0,
              r.keep_alive ? AFTER_NONE : AFTER_SHUTDOWN);
}

static uint64_t waiter_head_id(struct link *pos)
{
    return queue_head(CONTAINER_OF(pos, struct conn, sched_link))->id;
}

/* Inserts c into the worker queue, ordered by its head request's id. The
 * scan starts at the tail, where a new request almost always belongs. */
static void waiters_insert(struct conn *c)
{
    uint64_t id = queue_head(c)->id;
    struct link *pos = waiters.prev;
    while (pos != &waiters && waiter_head_id(pos) > id)
        pos = pos->prev;
    list_insert_after(pos, &c->sched_link);
    c->where = WHERE_WAITING;
    waiting++;
}

static uint64_t started_ns;     /* CLOCK_MONOTONIC at start, for --slowdown */

/* --delay plus --slowdown for each second since the start. It never
 * shrinks, so service ends stay in the order service started. */
static uint64_t service_time_ns(uint64_t now)
{
    double up_s = (double)(now - started_ns) / 1e9;
    return opt.delay_ns + (uint64_t)((double)opt.slowdown_ns * up_s);
}

static bool timed_service(void)
{
    return opt.delay_ns != 0 || opt.slowdown_ns != 0;
}

static void service_fifo_push(struct conn *c)
{
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    c->where = WHERE_SERVICE;
    c->due_ns = now + service_time_ns(now);
    list_append(&service_fifo, &c->sched_link);
    if (service_fifo.next == &c->sched_link)
        service_arm();
}

/* Gives free workers to waiting connections, oldest request first. */
static void dispatch_waiters(void)
{
    static bool dispatching;
    if (dispatching || stopping)
        return;
    dispatching = true;
    while (in_service < opt.workers && !list_empty(&waiters)) {
        struct conn *c = CONTAINER_OF(waiters.next, struct conn, sched_link);
        list_remove(&c->sched_link);
        c->where = WHERE_NONE;
        waiting--;
        service_start(c);
        if (timed_service()) {
            service_fifo_push(c);
        } else {
            service_finish(c);
            if (c->state == ST_OPEN)
                conn_pump(c);
        }
    }
    dispatching = false;
}

static void on_service_timer(uv_poll_t *handle, int status, int events)
{
    (void)handle; (void)status; (void)events;
    uint64_t expirations;
    if (read(service_tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;

    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    while (!list_empty(&service_fifo)) {
        struct conn *c = CONTAINER_OF(service_fifo.next, struct conn, sched_link);
        if (c->due_ns > now)
            break;
        list_remove(&c->sched_link);
        c->where = WHERE_NONE;
        service_finish(c);
        if (c->state == ST_OPEN)
            conn_pump(c);
        dispatch_waiters();
    }
    service_arm();
}

static void conn_update_reading(struct conn *c)
{
    if (c->state != ST_OPEN || c->peer_eof)
        return;
    bool full = c->qlen >= QUEUE_PAUSE || c->str_len >= STRBUF_PAUSE;
    if (c->reading && full) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    } else if (!c->reading && c->qlen < QUEUE_RESUME && c->str_len < STRBUF_PAUSE) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

/* Called when c has no request left to serve. */
static void conn_idle(struct conn *c)
{
    if (c->reject_status) {
        enum head_kind kind = c->reject_status == 414 ? HEAD_414
                            : c->reject_status == 431 ? HEAD_431 : HEAD_400;
        c->reject_status = 0;
        stats.bad_requests++;
        conn_send(c, &heads[kind][0], 0, AFTER_SHUTDOWN);
    } else if (c->peer_eof) {
        conn_close(c, false);
    }
}

/* Serves as many of c's queued requests as its state allows. */
static void conn_pump(struct conn *c)
{
    while (c->state == ST_OPEN && !c->writing && !c->stalled &&
           c->where == WHERE_NONE && c->qlen > 0) {
        if (opt.workers) {
            bool busy = in_service >= opt.workers || !list_empty(&waiters);
            if (busy && opt.queue_limit && waiting >= opt.queue_limit) {
                service_reject(c);
                continue;
            }
            waiters_insert(c);
            dispatch_waiters();
            break;
        }
        service_start(c);
        if (timed_service()) {
            service_fifo_push(c);
            break;
        }
        service_finish(c);
    }

    if (c->state == ST_OPEN && !c->writing && !c->stalled &&
        c->where == WHERE_NONE && c->qlen == 0)
        conn_idle(c);
    if (c->state == ST_OPEN)
        conn_update_reading(c);
}

/* ---- request parsing ---- */

static int strbuf_append(struct conn *c, const char *at, size_t len)
{
    if (c->str_len + len > c->str_cap) {
        size_t cap = c->str_cap ? c->str_cap : 256;
        while (cap < c->str_len + len)
            cap *= 2;
        char *p = realloc(c->strbuf, cap);
        if (!p)
            return -1;
        c->strbuf = p;
        c->str_cap = (uint32_t)cap;
    }
    memcpy(c->strbuf + c->str_len, at, len);
    c->str_len += (uint32_t)len;
    return 0;
}

static int queue_push(struct conn *c, const struct request *r)
{
    if (c->qlen == c->qcap) {
        uint32_t cap = c->qcap ? c->qcap * 2 : 4;
        struct request *q = malloc(cap * sizeof *q);
        if (!q)
            return -1;
        for (uint32_t i = 0; i < c->qlen; i++)
            q[i] = c->queue[(c->qhead + i) % c->qcap];
        free(c->queue);
        c->queue = q;
        c->qcap = cap;
        c->qhead = 0;
    }
    c->queue[(c->qhead + c->qlen) % c->qcap] = *r;
    c->qlen++;
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;
    c->in_message = true;
    memset(&c->cur, 0, sizeof c->cur);
    c->cur.arrival_ns = clock_ns(CLOCK_REALTIME);
    c->cur.target_off = c->str_len;
    c->cur.host_off = c->str_len;
    c->field_len = 0;
    c->field_kind = FIELD_OTHER;
    c->expect_len = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->cur.target_len + len > MAX_TARGET_LEN) {
        c->reject_status = 414;
        return -1;
    }
    if (strbuf_append(c, at, len) < 0)
        return -1;
    c->cur.target_len += (uint32_t)len;
    c->cur.host_off = c->str_len;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    for (size_t i = 0; i < len && c->field_len < sizeof c->field; i++) {
        char ch = at[i];
        c->field[c->field_len++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->field_kind = FIELD_OTHER;
    if (c->field_len == 4 && memcmp(c->field, "host", 4) == 0)
        c->field_kind = FIELD_HOST;
    else if (c->field_len == 6 && memcmp(c->field, "expect", 6) == 0)
        c->field_kind = FIELD_EXPECT;
    c->field_len = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    if (c->field_kind == FIELD_HOST) {
        if (c->cur.host_len + len > MAX_HOST_LEN) {
            c->reject_status = 431;
            return -1;
        }
        if (strbuf_append(c, at, len) < 0)
            return -1;
        c->cur.host_len += (uint32_t)len;
    } else if (c->field_kind == FIELD_EXPECT) {
        for (size_t i = 0; i < len && c->expect_len < sizeof c->expect; i++) {
            char ch = at[i];
            c->expect[c->expect_len++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->cur.chunked = (p->flags & F_CHUNKED) != 0;

    /* A client that sent "Expect: 100-continue" waits for this before it
     * sends the body. It goes out only when no earlier response is due on
     * the connection, because an interim response must not overtake a
     * final one. */
    bool expects = c->expect_len == 12 && memcmp(c->expect, "100-continue", 12) == 0;
    if (expects && c->qlen == 0 && !c->writing && c->where == WHERE_NONE &&
        (p->content_length > 0 || c->cur.chunked)) {
        uv_buf_t buf = uv_buf_init((char *)continue_100, sizeof continue_100 - 1);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    (void)at;
    struct conn *c = p->data;
    c->cur.body_len += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    struct request *r = &c->cur;
    r->method = (uint8_t)llhttp_get_method(p);
    r->http_major = llhttp_get_http_major(p);
    r->http_minor = llhttp_get_http_minor(p);
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    r->id = ++stats.requests;
    r->action = (opt.fault != ACT_OK && r->id % opt.fault_every == 0) ? opt.fault : ACT_OK;
    c->in_message = false;
    if (queue_push(c, r) < 0)
        return -1;

    /* Nothing after a request that ends the connection is served. */
    if (!r->keep_alive) {
        c->input_done = true;
        return HPE_PAUSED;
    }
    return 0;
}

static void conn_parse(struct conn *c, const char *data, size_t len)
{
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    switch (err) {
    case HPE_OK:
        break;
    case HPE_PAUSED:
        /* on_message_complete stopped parsing after a closing request */
        break;
    case HPE_PAUSED_UPGRADE:
        /* Upgrade and CONNECT: what follows is another protocol, so the
         * request gets the usual response, then the connection closes. */
        if (c->qlen > 0)
            c->queue[(c->qhead + c->qlen - 1) % c->qcap].keep_alive = false;
        c->input_done = true;
        break;
    default:
        if (!c->reject_status)
            c->reject_status = 400;
        c->input_done = true;
        break;
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle; (void)suggested;
    /* One buffer serves every connection: on_read consumes it before the
     * loop reads again. */
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void conn_on_eof(struct conn *c)
{
    if (c->state != ST_OPEN) {
        conn_close(c, false);
        return;
    }
    if (c->in_message && !c->input_done)
        stats.incomplete++;
    c->peer_eof = true;
    c->input_done = true;
    c->reading = false;
    uv_read_stop((uv_stream_t *)&c->tcp);
    conn_pump(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF)
            conn_on_eof(c);
        else
            conn_close(c, false);
        return;
    }
    if (c->state != ST_OPEN || c->input_done)
        return;     /* draining, or after the last request we serve */

    conn_parse(c, buf->base, (size_t)nread);
    conn_pump(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        stats.accept_errors++;
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c || uv_tcp_init(loop, &c->tcp) < 0) {
        free(c);
        stats.accept_errors++;
        return;
    }
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        stats.accept_errors++;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }

    c->id = ++next_conn_id;
    stats.accepted++;
    if (++stats.open > stats.max_open)
        stats.max_open = stats.open;
    list_init(&c->sched_link);
    list_append(&all_conns, &c->all_link);
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- startup and shutdown ---- */

static void on_handle_closed(uv_handle_t *handle)
{
    if (handle == (uv_handle_t *)&service_poll && service_tfd >= 0) {
        close(service_tfd);
        service_tfd = -1;
    }
}

static void stop_server(void)
{
    if (stopping)
        return;
    stopping = true;

    /* Close every connection; their queued requests are logged as pending. */
    while (!list_empty(&all_conns))
        conn_close(CONTAINER_OF(all_conns.next, struct conn, all_link), false);

    uv_close((uv_handle_t *)&listener, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&linger_timer, NULL);
    uv_close((uv_handle_t *)&lifetime_timer, NULL);
    uv_close((uv_handle_t *)&log_flush_check, NULL);
    uv_close((uv_handle_t *)&service_poll, on_handle_closed);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    (void)handle; (void)signum;
    stop_server();
}

static void on_lifetime(uv_timer_t *timer)
{
    (void)timer;
    fprintf(stderr, PROG ": --lifetime %g s elapsed, stopping\n", opt.lifetime_s);
    stop_server();
}

static void usage(FILE *out)
{
    fprintf(out,
"usage: " PROG " [options]\n"
"A test HTTP/1.1 server for reprise. Listens on loopback only and prints\n"
"'listening ADDR:PORT' on stdout once ready. SIGTERM or SIGINT stops it and\n"
"prints a stats line on stderr.\n"
"\n"
"  --listen ADDR:PORT  127.0.0.0/8, localhost or [::1] (default 127.0.0.1:0,\n"
"                      an ephemeral port)\n"
"  --delay MS          service time per request in milliseconds, fractions\n"
"                      allowed (default 0)\n"
"  --slowdown MS       add MS to the service time for every second the server\n"
"                      has run, as a leaking service slows down (default 0)\n"
"  --workers N         at most N requests in service at once; the others wait\n"
"                      in arrival order (default unlimited)\n"
"  --serial            same as --workers 1\n"
"  --queue-limit N     with --workers: answer 503 at once when N requests\n"
"                      already wait (default unlimited)\n"
"  --status CODE       response status, 200 to 599 (default 200)\n"
"  --body-bytes N      response body size in bytes (default 2, \"ok\")\n"
"  --fault MODE        on the requests picked by --fault-every:\n"
"                        reset    close with RST (SO_LINGER 0), no response\n"
"                        close    close with FIN, no response\n"
"                        stall    never respond, keep the connection open\n"
"                        partial  send a head whose Content-Length is larger\n"
"                                 than the body sent (half of it), then FIN\n"
"                        flood    respond with a --flood-bytes body\n"
"  --fault-every N     apply --fault to requests whose request_id is a\n"
"                      multiple of N (default 1: every request)\n"
"  --flood-bytes N     body size of a flood response (default 1073741824)\n"
"  --log FILE          one tab-separated row per request (columns in the\n"
"                      header line; file created with mode 0600)\n"
"  --lifetime SECONDS  stop by itself after this long (default: never)\n"
"  --help, --version\n"
"\n"
"Faults happen after --delay, when the response would be sent.\n");
}

static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int usage_error(const char *option, const char *value, const char *expected)
{
    fprintf(stderr, PROG ": invalid %s '%s': expected %s; see " PROG " --help\n",
            option, value, expected);
    return 2;
}

static int parse_fault(const char *text)
{
    for (int a = ACT_RESET; a <= ACT_FLOOD; a++)
        if (strcmp(text, action_names[a]) == 0)
            return a;
    return -1;
}

static int parse_options(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_DELAY, O_SLOWDOWN, O_WORKERS, O_SERIAL, O_QUEUE_LIMIT, O_STATUS,
           O_BODY, O_FAULT, O_FAULT_EVERY, O_FLOOD, O_LOG, O_LIFETIME, O_HELP, O_VERSION };
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, O_LISTEN },
        { "delay", required_argument, NULL, O_DELAY },
        { "slowdown", required_argument, NULL, O_SLOWDOWN },
        { "workers", required_argument, NULL, O_WORKERS },
        { "serial", no_argument, NULL, O_SERIAL },
        { "queue-limit", required_argument, NULL, O_QUEUE_LIMIT },
        { "status", required_argument, NULL, O_STATUS },
        { "body-bytes", required_argument, NULL, O_BODY },
        { "fault", required_argument, NULL, O_FAULT },
        { "fault-every", required_argument, NULL, O_FAULT_EVERY },
        { "flood-bytes", required_argument, NULL, O_FLOOD },
        { "log", required_argument, NULL, O_LOG },
        { "lifetime", required_argument, NULL, O_LIFETIME },
        { "help", no_argument, NULL, O_HELP },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 }
    };

    int ch;
    uint64_t v;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case O_LISTEN:
            opt.listen = optarg;
            break;
        case O_DELAY: {
            char *end;
            double ms = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(ms) || ms < 0 || ms > 3600e3)
                return usage_error("--delay", optarg, "milliseconds from 0 to 3600000, e.g. 50 or 0.5");
            opt.delay_ns = (uint64_t)llround(ms * 1e6);
            break;
        }
        case O_SLOWDOWN: {
            char *end;
            double ms = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(ms) || ms < 0 || ms > 60e3)
                return usage_error("--slowdown", optarg, "milliseconds from 0 to 60000, e.g. 2");
            opt.slowdown_ns = (uint64_t)llround(ms * 1e6);
            break;
        }
        case O_WORKERS:
            if (parse_u64(optarg, 1, 1000000, &opt.workers) < 0)
                return usage_error("--workers", optarg, "a count from 1 to 1000000");
            break;
        case O_SERIAL:
            opt.workers = 1;
            break;
        case O_QUEUE_LIMIT:
            if (parse_u64(optarg, 1, UINT32_MAX, &opt.queue_limit) < 0)
                return usage_error("--queue-limit", optarg, "a positive count");
            break;
        case O_STATUS:
            if (parse_u64(optarg, 200, 599, &v) < 0)
                return usage_error("--status", optarg, "a status code from 200 to 599");
            opt.status = (int)v;
            break;
        case O_BODY:
            if (parse_u64(optarg, 0, 1ull << 40, &opt.body_bytes) < 0)
                return usage_error("--body-bytes", optarg, "a byte count from 0 to 2^40");
            break;
        case O_FLOOD:
            if (parse_u64(optarg, 1, 1ull << 40, &opt.flood_bytes) < 0)
                return usage_error("--flood-bytes", optarg, "a byte count from 1 to 2^40");
            break;
        case O_FAULT: {
            int f = parse_fault(optarg);
            if (f < 0)
                return usage_error("--fault", optarg, "one of reset, close, stall, partial, flood");
            opt.fault = (enum action)f;
            break;
        }
        case O_FAULT_EVERY:
            if (parse_u64(optarg, 1, UINT64_MAX, &opt.fault_every) < 0)
                return usage_error("--fault-every", optarg, "a positive count");
            break;
        case O_LOG:
            opt.log_path = optarg;
            break;
        case O_LIFETIME: {
            char *end;
            double s = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(s) || s <= 0 || s > 1e7)
                return usage_error("--lifetime", optarg, "seconds greater than 0, e.g. 600");
            opt.lifetime_s = s;
            break;
        }
        case O_HELP:
            usage(stdout);
            exit(0);
        case O_VERSION:
            printf(PROG " 0.1.0\n");
            exit(0);
        default:
            fprintf(stderr, PROG ": unknown option or missing value in '%s'; see " PROG " --help\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'; see " PROG " --help\n", argv[optind]);
        return 2;
    }
    return 0;
}

/* Parses HOST:PORT, accepting only loopback hosts: this is a test server
 * and must never be reachable from another machine. */
static int parse_listen(const char *text, struct sockaddr_storage *addr)
{
    char host[64];
    const char *port_text;

    if (text[0] == '[') {
        const char *close_bracket = strchr(text, ']');
        if (!close_bracket || close_bracket[1] != ':' ||
            (size_t)(close_bracket - text - 1) >= sizeof host)
            goto bad_form;
        memcpy(host, text + 1, (size_t)(close_bracket - text - 1));
        host[close_bracket - text - 1] = '\0';
        port_text = close_bracket + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof host)
            goto bad_form;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }

    uint64_t port;
    if (parse_u64(port_text, 0, 65535, &port) < 0)
        goto bad_form;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");

    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
    memset(addr, 0, sizeof *addr);
    if (uv_ip4_addr(host, (int)port, a4) == 0) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            goto not_loopback;
        return 0;
    }
    if (uv_ip6_addr(host, (int)port, a6) == 0) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            goto not_loopback;
        return 0;
    }

bad_form:
    fprintf(stderr, PROG ": invalid --listen '%s': expected HOST:PORT with a loopback "
            "host, e.g. 127.0.0.1:8080 or [::1]:8080\n", text);
    return 2;
not_loopback:
    fprintf(stderr, PROG ": --listen '%s' is not a loopback address; this test server "
            "listens only on 127.0.0.0/8 or [::1], e.g. --listen 127.0.0.1:8080\n", text);
    return 2;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int start_listening(const struct sockaddr_storage *addr)
{
    unsigned flags = addr->ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    int r = uv_tcp_init(loop, &listener);
    if (r == 0)
        r = uv_tcp_bind(&listener, (const struct sockaddr *)addr, flags);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&listener, LISTEN_BACKLOG, on_connection);
    if (r < 0) {
        fprintf(stderr, PROG ": cannot listen on %s: %s; choose another port or use "
                "port 0 for an ephemeral one\n", opt.listen, uv_strerror(r));
        return 1;
    }

    struct sockaddr_storage bound;
    int len = sizeof bound;
    char ip[INET6_ADDRSTRLEN] = "";
    uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
    if (bound.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&bound;
        uv_ip6_name(a6, ip, sizeof ip);
        printf("listening [%s]:%u\n", ip, ntohs(a6->sin6_port));
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&bound;
        uv_ip4_name(a4, ip, sizeof ip);
        printf("listening %s:%u\n", ip, ntohs(a4->sin_port));
    }
    fflush(stdout);
    return 0;
}

static int init_handles(void)
{
    service_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (service_tfd < 0) {
        fprintf(stderr, PROG ": timerfd_create failed: %s\n", strerror(errno));
        return 1;
    }
    uv_poll_init(loop, &service_poll, service_tfd);
    uv_poll_start(&service_poll, UV_READABLE, on_service_timer);

    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_init(loop, &linger_timer);
    uv_timer_init(loop, &lifetime_timer);
    started_ns = clock_ns(CLOCK_MONOTONIC);
    if (opt.lifetime_s > 0)
        uv_timer_start(&lifetime_timer, on_lifetime, (uint64_t)(opt.lifetime_s * 1000), 0);
    uv_check_init(loop, &log_flush_check);
    if (log_file)
        uv_check_start(&log_flush_check, on_log_check);
    return 0;
}

static void init_parser_settings(void)
{
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_field_complete = on_header_field_complete;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
}

static void print_stats(void)
{
    fprintf(stderr, PROG ": stopped: connections=%" PRIu64 " requests=%" PRIu64
            " responses=%" PRIu64 " faults=%" PRIu64 " rejected=%" PRIu64
            " dropped=%" PRIu64 " bad_requests=%" PRIu64 " incomplete=%" PRIu64
            " max_open=%" PRIu64 " accept_errors=%" PRIu64 "\n",
            stats.accepted, stats.requests, stats.responses, stats.faults,
            stats.rejected, stats.dropped, stats.bad_requests, stats.incomplete,
            stats.max_open, stats.accept_errors);
}

int main(int argc, char **argv)
{
    int rc = parse_options(argc, argv);
    if (rc)
        return rc;
    struct sockaddr_storage addr;
    if ((rc = parse_listen(opt.listen, &addr)) != 0)
        return rc;

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    build_responses();
    init_parser_settings();
    list_init(&all_conns);
    list_init(&service_fifo);
    list_init(&waiters);
    list_init(&lingering);

    if (opt.log_path && (rc = log_open(opt.log_path)) < 0) {
        fprintf(stderr, PROG ": cannot open --log '%s': %s; check the directory exists "
                "and is writable\n", opt.log_path, strerror(-rc));
        return 1;
    }

    loop = uv_default_loop();
    if (init_handles() != 0 || start_listening(&addr) != 0)
        return 1;

    uv_run(loop, UV_RUN_DEFAULT);

    print_stats();
    if (log_file && fclose(log_file) != 0)
        fprintf(stderr, PROG ": writing --log '%s' failed: %s\n", opt.log_path, strerror(errno));
    for (int k = 0; k < HEAD_KINDS; k++)
        for (int ka = 0; ka < 2; ka++)
            free(heads[k][ka].data);
    uv_loop_close(loop);
    return 0;
}
