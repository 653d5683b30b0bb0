/* Replay: target parsing, request-target rewriting, and the exact bytes
 * the engine's libcurl transport puts on the wire, checked with a raw TCP
 * server on 127.0.0.1 running in a thread of the test. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "replay/engine.h"
#include "replay/request.h"
#include "replay/target.h"

/* ---- request-target rewriting ---- */

static void check_target(const char *captured, const char *base, const char *want)
{
    char out[256];
    size_t n = rp_request_target(captured, strlen(captured), base, out, sizeof out);
    CHECK_EQ_INT(n, strlen(want));
    CHECK_EQ_STR(out, want);
}

TEST(replay_request_target_forms)
{
    check_target("/a?x=1", "", "/a?x=1");
    check_target("/a?x=1", "/base", "/base/a?x=1");
    check_target("http://example.com/p/q?z", "", "/p/q?z");
    check_target("http://example.com:8080/p", "/b", "/b/p");
    check_target("HTTPS://example.com", "", "/");
    check_target("http://example.com?q=1", "", "/?q=1");
    check_target("*", "/base", "*");
    check_target("odd", "", "/odd");
    check_target("/a/../b", "", "/a/../b");
}

TEST(replay_request_target_reports_needed_size)
{
    char small[4];
    size_t n = rp_request_target("/abcdef", 7, "/base", small, sizeof small);
    CHECK_EQ_INT(n, 12);
}

/* ---- --target parsing ---- */

TEST(replay_target_parse_valid)
{
    rp_target t;
    char err[256];
    CHECK_EQ_INT(rp_target_parse("http://127.0.0.1:8080", &t, err, sizeof err), 0);
    CHECK_EQ_STR(t.scheme, "http");
    CHECK_EQ_STR(t.host, "127.0.0.1");
    CHECK_EQ_INT(t.port, 8080);
    CHECK_EQ_STR(t.base_path, "");
    CHECK_EQ_STR(t.origin, "http://127.0.0.1:8080");

    CHECK_EQ_INT(rp_target_parse("https://localhost/api/v1/", &t, err, sizeof err), 0);
    CHECK_EQ_INT(t.port, 443);
    CHECK_EQ_STR(t.base_path, "/api/v1");

    CHECK_EQ_INT(rp_target_parse("http://[::1]:9000/x", &t, err, sizeof err), 0);
    CHECK_EQ_STR(t.host, "::1");
    CHECK_EQ_STR(t.origin, "http://[::1]:9000");
    CHECK_EQ_INT(rp_target_resolve(&t, err, sizeof err), 0);
    CHECK_EQ_STR(t.address, "::1");
}

TEST(replay_target_parse_invalid)
{
    static const char *bad[] = {
        "ftp://127.0.0.1", "127.0.0.1:8080", "http://", "http://127.0.0.1:99999",
        "http://user:pw@127.0.0.1", "http://127.0.0.1/?q=1", "http://127.0.0.1/#f", "",
        "not a url",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_target t;
        char err[256] = "";
        int rc = rp_target_parse(bad[i], &t, err, sizeof err);
        if (rc == 0)
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK(rc != 0);
        CHECK(err[0] != '\0');
    }
}

/* ---- a raw server that records what arrives ---- */

#define MAX_SEEN 64
#define MAX_CLIENTS 32

typedef struct raw_server {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    char *seen[MAX_SEEN];   /* each request's bytes, NUL-terminated */
    int seen_count;
    int connections;
} raw_server;

typedef struct client { int fd; char buf[65536]; size_t len; } client;

/* Returns the length of the first complete request in buf, or 0. */
static size_t request_length(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    size_t body = 0;
    const char *cl = memmem(buf, head, "Content-Length: ", 16);
    if (cl != NULL)
        body = strtoul(cl + 16, NULL, 10);
    return head + body <= len ? head + body : 0;
}

static void answer(raw_server *s, client *c)
{
    size_t n;
    while ((n = request_length(c->buf, c->len)) > 0) {
        char *copy = malloc(n + 1);
        memcpy(copy, c->buf, n);
        copy[n] = '\0';
        pthread_mutex_lock(&s->lock);
        if (s->seen_count < MAX_SEEN)
            s->seen[s->seen_count++] = copy;
        else
            free(copy);
        pthread_mutex_unlock(&s->lock);

        const char *reply = memmem(c->buf, n, "\r\nUpgrade: ", 11) != NULL
            ? "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n"
            : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if (write(c->fd, reply, strlen(reply)) < 0)
            break;
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
    }
}

static void *serve(void *arg)
{
    raw_server *s = arg;
    client *clients = calloc(MAX_CLIENTS, sizeof *clients);
    int count = 0;
    while (!atomic_load(&s->stop)) {
        struct pollfd fds[MAX_CLIENTS + 1] = { { .fd = s->listen_fd, .events = POLLIN } };
        for (int i = 0; i < count; i++)
            fds[i + 1] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN };
        if (poll(fds, (nfds_t)count + 1, 20) <= 0)
            continue;
        if ((fds[0].revents & POLLIN) && count < MAX_CLIENTS) {
            int fd = accept(s->listen_fd, NULL, NULL);
            if (fd >= 0) {
                clients[count++] = (client){ .fd = fd };
                s->connections++;
            }
        }
        for (int i = 0; i < count; i++) {
            if (!(fds[i + 1].revents & (POLLIN | POLLHUP)))
                continue;
            client *c = &clients[i];
            ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (r <= 0) {
                close(c->fd);
                c->fd = -1;
                continue;
            }
            c->len += (size_t)r;
            answer(s, c);
        }
        int kept = 0;
        for (int i = 0; i < count; i++)
            if (clients[i].fd >= 0)
                clients[kept++] = clients[i];
        count = kept;
    }
    for (int i = 0; i < count; i++)
        close(clients[i].fd);
    free(clients);
    return NULL;
}

static int server_start(raw_server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(s->listen_fd, 64) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    s->port = ntohs(addr.sin_port);
    return pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(raw_server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    for (int i = 0; i < s->seen_count; i++)
        free(s->seen[i]);
}

/* The request whose request line starts with prefix, or NULL. */
static const char *find_seen(raw_server *s, const char *prefix)
{
    for (int i = 0; i < s->seen_count; i++)
        if (strncmp(s->seen[i], prefix, strlen(prefix)) == 0)
            return s->seen[i];
    return NULL;
}

/* ---- engine and libcurl transport against the raw server ---- */

#define T0 1700000000000000000ull

typedef struct rec_spec {
    uint32_t flags;
    const char *method, *target, *headers, *body;
    int minor;
} rec_spec;

static void write_specs(const char *path, const rec_spec *specs, size_t n)
{
    rp_trace_meta meta = { .source = "test_replay", .filter = "", .tool = "unit" };
    rp_trace_writer *w = NULL;
    char err[256];
    CHECK_EQ_INT(rp_trace_writer_open(&w, path, &meta, NULL, err, sizeof err), 0);
    for (size_t i = 0; w != NULL && i < n; i++) {
        const rec_spec *sp = &specs[i];
        rp_record r = {
            .ts_ns = T0 + i * 1000000ull, .conn_id = i, .flags = sp->flags,
            .http_major = 1, .http_minor = (uint8_t)sp->minor,
            .method = sp->method, .method_len = (uint32_t)strlen(sp->method),
            .target = sp->target, .target_len = (uint32_t)strlen(sp->target),
            .headers = sp->headers, .headers_len = (uint32_t)strlen(sp->headers),
            .body = (const uint8_t *)sp->body,
            .body_len = sp->body ? (uint32_t)strlen(sp->body) : 0,
        };
        CHECK_EQ_INT(rp_trace_writer_add(w, &r, err, sizeof err), 0);
    }
    if (w != NULL)
        CHECK_EQ_INT(rp_trace_writer_close(w, err, sizeof err), 0);
}

/* Replays specs against a fresh raw server; the caller stops it. */
static int replay_specs(raw_server *srv, const rec_spec *specs, size_t n, int keep_host,
                        rp_stats *stats, rp_engine_result *res)
{
    char path[] = "/tmp/test_replay_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_specs(path, specs, n);
    CHECK_EQ_INT(server_start(srv), 0);

    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/base", (unsigned)srv->port);
    rp_target target;
    CHECK_EQ_INT(rp_target_parse(url, &target, err, sizeof err), 0);
    CHECK_EQ_INT(rp_target_resolve(&target, err, sizeof err), 0);
    CHECK_EQ_INT(rp_stats_init(stats), 0);

    rp_engine_config cfg = {
        .trace_path = path,
        .sched = { .speed = 1.0, .max_gap_ns = RP_SCHED_NO_MAX_GAP },
        .target = &target,
        .keep_host = keep_host,
        .timeout_ns = 5000000000ull,
        .connect_timeout_ns = 2000000000ull,
        .max_connections = 8,
    };
    int rc = rp_engine_run(&cfg, stats, res, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  engine: %s\n", err);
    unlink(path);
    return rc;
}

static int header_lines(const char *req)
{
    int lines = 0;
    const char *end = strstr(req, "\r\n\r\n");
    for (const char *p = strstr(req, "\r\n"); p != NULL && p < end; p = strstr(p + 2, "\r\n"))
        lines++;
    return lines;
}

static int has_line(const char *req, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\r\n%s\r\n", line);
    return strstr(req, want) != NULL;
}

static int has_header(const char *req, const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "\r\n%s:", name);
    const char *end = strstr(req, "\r\n\r\n");
    const char *p = strcasestr(req, want);
    return p != NULL && p < end;
}

static const char *body_of(const char *req)
{
    const char *end = strstr(req, "\r\n\r\n");
    return end ? end + 4 : "";
}

static const rec_spec wire_specs[] = {
    { 0, "GET", "/a?x=1", "Host: example.com\r\nUser-Agent: t\r\nAccept: text/html\r\n", NULL, 1 },
    { 0, "POST", "/form", "Host: example.com\r\nContent-Length: 7\r\nX-Empty:\r\n", "a=1&b=2", 1 },
    { 0, "HEAD", "http://example.com:81/h", "Host: example.com\r\n", NULL, 1 },
    { RP_REC_CHUNKED, "PUT", "/c", "Host: example.com\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: text/plain\r\nX-Fold: a\r\n  b\r\n", "hello world", 1 },
    { 0, "DELETE", "/d", "Host: example.com\r\n", NULL, 0 },
    { RP_REC_CONNECT, "CONNECT", "example.com:443", "Host: example.com:443\r\n", NULL, 1 },
    { 0, "POST", "/empty", "Host: example.com\r\nContent-Length: 0\r\n", NULL, 1 },
    { 0, "OPTIONS", "*", "Host: example.com\r\n", NULL, 1 },
    { RP_REC_UPGRADE, "GET", "/up", "Host: example.com\r\nUpgrade: test\r\nConnection: Upgrade\r\n", NULL, 1 },
    { 0, "PATCH", "/p", "Host: example.com\r\nContent-Length: 3\r\nContent-Type: x/y\r\n", "abc", 1 },
};

TEST(replay_wire_counts)
{
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    size_t n = sizeof wire_specs / sizeof wire_specs[0];
    CHECK_EQ_INT(replay_specs(&srv, wire_specs, n, 0, &stats, &res), 0);
    server_stop(&srv);

    CHECK_EQ_INT(stats.due, n);
    CHECK_EQ_INT(stats.skipped_connect, 1);
    CHECK_EQ_INT(stats.sent, n - 1);
    CHECK_EQ_INT(stats.responses, n - 1);
    CHECK_EQ_INT(stats.status[200], n - 2);
    CHECK_EQ_INT(stats.status[101], 1);   /* the Upgrade, ended after the 101 */
    CHECK_EQ_INT(rp_stats_errors_total(&stats), 0);
    CHECK_EQ_INT(rp_hist_count(stats.latency), n - 1);
    CHECK_EQ_INT(rp_hist_count(stats.send_lag), n - 1);
    CHECK(res.duration_ns < 3000000000ull);   /* did not wait for a timeout */
    CHECK_EQ_STR(res.transport, "libcurl");
    rp_stats_free(&stats);
}

TEST(replay_wire_bytes)
{
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(replay_specs(&srv, wire_specs, sizeof wire_specs / sizeof wire_specs[0], 0,
                              &stats, &res), 0);
    rp_stats_free(&stats);
    char host[64];
    snprintf(host, sizeof host, "Host: 127.0.0.1:%u", (unsigned)srv.port);

    const char *r = find_seen(&srv, "GET /base/a?x=1 HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(has_line(r, host));
        CHECK(has_line(r, "User-Agent: t"));
        CHECK(has_line(r, "Accept: text/html"));
        CHECK_EQ_INT(header_lines(r), 3);
    }
    r = find_seen(&srv, "POST /base/form HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(has_line(r, "X-Empty:"));
        CHECK(has_line(r, "Content-Length: 7"));
        CHECK(!has_header(r, "Content-Type"));
        CHECK(!has_header(r, "Expect"));
        CHECK(!has_header(r, "Accept"));
        CHECK_EQ_INT(header_lines(r), 3);
        CHECK_EQ_STR(body_of(r), "a=1&b=2");
    }
    r = find_seen(&srv, "HEAD /base/h HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r)
        CHECK_EQ_INT(header_lines(r), 1);
    r = find_seen(&srv, "PUT /base/c HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(!has_header(r, "Transfer-Encoding"));
        CHECK(has_line(r, "Content-Length: 11"));
        CHECK(has_line(r, "Content-Type: text/plain"));
        CHECK(has_line(r, "X-Fold: a b"));
        CHECK_EQ_STR(body_of(r), "hello world");
    }
    r = find_seen(&srv, "DELETE /base/d HTTP/1.0\r\n");
    CHECK(r != NULL);
    if (r)
        CHECK(!has_header(r, "Content-Length"));
    r = find_seen(&srv, "POST /base/empty HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r)
        CHECK(has_line(r, "Content-Length: 0"));
    CHECK(find_seen(&srv, "OPTIONS * HTTP/1.1\r\n") != NULL);
    CHECK(find_seen(&srv, "CONNECT") == NULL);
    r = find_seen(&srv, "GET /base/up HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r)
        CHECK(has_line(r, "Upgrade: test"));
    r = find_seen(&srv, "PATCH /base/p HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(has_line(r, "Content-Type: x/y"));
        CHECK_EQ_STR(body_of(r), "abc");
    }
    CHECK_EQ_INT(srv.seen_count, 9);
    server_stop(&srv);
}

TEST(replay_wire_keep_host)
{
    static const rec_spec specs[] = {
        { 0, "GET", "/k", "Host: example.com\r\n", NULL, 1 },
        { 0, "GET", "/nohost", "X-A: 1\r\n", NULL, 0 },
    };
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(replay_specs(&srv, specs, 2, 1, &stats, &res), 0);
    CHECK_EQ_INT(stats.responses, 2);
    rp_stats_free(&stats);

    const char *r = find_seen(&srv, "GET /base/k HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(has_line(r, "Host: example.com"));
        CHECK_EQ_INT(header_lines(r), 1);
    }
    r = find_seen(&srv, "GET /base/nohost HTTP/1.0\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(!has_header(r, "Host"));
        CHECK(has_line(r, "X-A: 1"));
    }
    server_stop(&srv);
}

TEST(replay_connect_refused_counts_errors)
{
    /* A port that was just free: bind, read the port, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);

    static const rec_spec specs[] = {
        { 0, "GET", "/1", "Host: a\r\n", NULL, 1 },
        { 0, "GET", "/2", "Host: a\r\n", NULL, 1 },
        { 0, "POST", "/3", "Host: a\r\nContent-Length: 1\r\n", "x", 1 },
    };
    char path[] = "/tmp/test_replay_XXXXXX";
    int tfd = mkstemp(path);
    close(tfd);
    write_specs(path, specs, 3);

    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    rp_target target;
    CHECK_EQ_INT(rp_target_parse(url, &target, err, sizeof err), 0);
    CHECK_EQ_INT(rp_target_resolve(&target, err, sizeof err), 0);
    rp_stats stats;
    CHECK_EQ_INT(rp_stats_init(&stats), 0);
    rp_engine_config cfg = {
        .trace_path = path,
        .sched = { .speed = 1.0, .max_gap_ns = RP_SCHED_NO_MAX_GAP },
        .target = &target, .timeout_ns = 5000000000ull,
        .connect_timeout_ns = 2000000000ull, .max_connections = 4,
    };
    rp_engine_result res;
    CHECK_EQ_INT(rp_engine_run(&cfg, &stats, &res, err, sizeof err), 0);
    CHECK_EQ_INT(stats.due, 3);
    CHECK_EQ_INT(stats.errors[RP_ERR_CONNECT], 3);
    CHECK_EQ_INT(rp_stats_errors_total(&stats), 3);
    CHECK_EQ_INT(stats.sent, 0);
    CHECK_EQ_INT(stats.responses, 0);
    rp_stats_free(&stats);
    unlink(path);
}
