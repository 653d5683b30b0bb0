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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "replay/engine.h"
#include "replay/rules.h"
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

typedef struct client { int fd; char buf[65536]; size_t len; int closing; } client;

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

/* Responses that exercise the response parser, chosen by the request
 * line: a request for /r/NAME gets the response named NAME. */
static const struct scripted {
    const char *request_line;
    const char *reply;
    int close_after;       /* the server ends the connection after it */
} scripted[] = {
    { "GET /base/r/204 ", "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 0 },
    { "GET /base/r/304 ", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0 },
    { "HEAD /base/r/head ", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0 },
    { "GET /base/r/continue ", "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 0 },
    { "GET /base/r/chunked ", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n", 0 },
    { "GET /base/r/close ", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", 1 },
    { "GET /base/r/after ", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0 },
};

static const char *scripted_reply(const char *req, size_t len, int *close_after)
{
    for (size_t i = 0; i < sizeof scripted / sizeof scripted[0]; i++) {
        size_t n = strlen(scripted[i].request_line);
        if (len >= n && memcmp(req, scripted[i].request_line, n) == 0) {
            *close_after = scripted[i].close_after;
            return scripted[i].reply;
        }
    }
    return NULL;
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

        int close_after = 0;
        const char *reply = scripted_reply(c->buf, n, &close_after);
        if (reply == NULL)
            reply = memmem(c->buf, n, "\r\nUpgrade: ", 11) != NULL
                ? "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if (write(c->fd, reply, strlen(reply)) < 0)
            break;
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
        if (close_after) {
            shutdown(c->fd, SHUT_WR);
            c->closing = 1;
            break;
        }
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
    uint64_t conn;          /* captured connection; 0: one per request */
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
            .ts_ns = T0 + i * 1000000ull, .conn_id = sp->conn ? sp->conn : i,
            .flags = sp->flags,
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

/* The engine configuration every test starts from: speed 1, no gap cap,
 * one pass, connections preserved. */
static rp_engine_config base_config(const char *path, const rp_target *target, int transport)
{
    rp_engine_config cfg = {
        .trace_path = path,
        .plan_opts = { .pace = RP_PACE_SPEED, .speed = 1.0, .max_gap_ns = RP_NO_MAX_GAP },
        .target = target,
        .passes = 1,
        .max_inflight = 8,
        .max_connections = 8,
        .conn_mode = RP_CONN_PRESERVE,
        .timeout_ns = 5000000000ull,
        .connect_timeout_ns = 2000000000ull,
        .transport = transport,
    };
    return cfg;
}

/* Replays specs against a fresh raw server through the given transport,
 * with the captured Host kept when keep_host; the caller stops the
 * server. */
static int replay_specs_with(raw_server *srv, const rec_spec *specs, size_t n, int keep_host,
                             int transport, void (*setup)(rp_rules *), rp_stats *stats,
                             rp_engine_result *res)
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

    rp_rules rules;
    rp_rules_init(&rules);
    rules.keep_host = keep_host;
    snprintf(rules.host, sizeof rules.host, "127.0.0.1:%u", (unsigned)srv->port);
    snprintf(rules.base_path, sizeof rules.base_path, "/base");
    if (setup != NULL)
        setup(&rules);
    rp_engine_config cfg = base_config(path, &target, transport);
    cfg.rules = &rules;
    int rc = rp_engine_run(&cfg, stats, res, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  engine: %s\n", err);
    rp_rules_free(&rules);
    unlink(path);
    return rc;
}

static int replay_specs(raw_server *srv, const rec_spec *specs, size_t n, int keep_host,
                        int transport, rp_stats *stats, rp_engine_result *res)
{
    return replay_specs_with(srv, specs, n, keep_host, transport, NULL, stats, res);
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
    { 0, "GET", "/a?x=1", "Host: example.com\r\nUser-Agent: t\r\nAccept: text/html\r\n", NULL, 1, 0 },
    { 0, "POST", "/form", "Host: example.com\r\nContent-Length: 7\r\nX-Empty:\r\n", "a=1&b=2", 1, 0 },
    { 0, "HEAD", "http://example.com:81/h", "Host: example.com\r\n", NULL, 1, 0 },
    { RP_REC_CHUNKED, "PUT", "/c", "Host: example.com\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: text/plain\r\nX-Fold: a\r\n  b\r\n", "hello world", 1, 0 },
    { 0, "DELETE", "/d", "Host: example.com\r\n", NULL, 0, 0 },
    { RP_REC_CONNECT, "CONNECT", "example.com:443", "Host: example.com:443\r\n", NULL, 1, 0 },
    { 0, "POST", "/empty", "Host: example.com\r\nContent-Length: 0\r\n", NULL, 1, 0 },
    { 0, "OPTIONS", "*", "Host: example.com\r\n", NULL, 1, 0 },
    { RP_REC_UPGRADE, "GET", "/up", "Host: example.com\r\nUpgrade: test\r\nConnection: Upgrade\r\n", NULL, 1, 0 },
    { 0, "PATCH", "/p", "Host: example.com\r\nContent-Length: 3\r\nContent-Type: x/y\r\n", "abc", 1, 0 },
};

static void check_wire_counts(int transport, const char *name)
{
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    size_t n = sizeof wire_specs / sizeof wire_specs[0];
    CHECK_EQ_INT(replay_specs(&srv, wire_specs, n, 0, transport, &stats, &res), 0);
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
    CHECK_EQ_STR(res.transport, name);
    rp_stats_free(&stats);
}

static void check_wire_bytes(int transport)
{
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(replay_specs(&srv, wire_specs, sizeof wire_specs / sizeof wire_specs[0], 0,
                              transport, &stats, &res), 0);
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

static void check_wire_keep_host(int transport)
{
    static const rec_spec specs[] = {
        { 0, "GET", "/k", "Host: example.com\r\n", NULL, 1, 0 },
        { 0, "GET", "/nohost", "X-A: 1\r\n", NULL, 0, 0 },
    };
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(replay_specs(&srv, specs, 2, 1, transport, &stats, &res), 0);
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

TEST(replay_wire_counts_lean) { check_wire_counts(RP_TRANSPORT_LEAN, "lean"); }
TEST(replay_wire_counts_curl) { check_wire_counts(RP_TRANSPORT_CURL, "libcurl"); }
TEST(replay_wire_bytes_lean) { check_wire_bytes(RP_TRANSPORT_LEAN); }
TEST(replay_wire_bytes_curl) { check_wire_bytes(RP_TRANSPORT_CURL); }
TEST(replay_wire_keep_host_lean) { check_wire_keep_host(RP_TRANSPORT_LEAN); }
TEST(replay_wire_keep_host_curl) { check_wire_keep_host(RP_TRANSPORT_CURL); }

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
        { 0, "GET", "/1", "Host: a\r\n", NULL, 1, 0 },
        { 0, "GET", "/2", "Host: a\r\n", NULL, 1, 0 },
        { 0, "POST", "/3", "Host: a\r\nContent-Length: 1\r\n", "x", 1, 0 },
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
    for (int transport = RP_TRANSPORT_LEAN; transport <= RP_TRANSPORT_CURL; transport++) {
        rp_engine_config cfg = base_config(path, &target, transport);
        rp_engine_result res;
        CHECK_EQ_INT(rp_stats_init(&stats), 0);
        CHECK_EQ_INT(rp_engine_run(&cfg, &stats, &res, err, sizeof err), 0);
        CHECK_EQ_INT(stats.due, 3);
        CHECK_EQ_INT(stats.errors[RP_ERR_CONNECT], 3);
        CHECK_EQ_INT(rp_stats_errors_total(&stats), 3);
        CHECK_EQ_INT(stats.sent, 0);
        CHECK_EQ_INT(stats.responses, 0);
        rp_stats_free(&stats);
    }
    unlink(path);
}

/* ---- rules ---- */

TEST(replay_rules_reject_bad_arguments)
{
    rp_rules r;
    rp_rules_init(&r);
    char err[256];
    static const char *bad_headers[] = {
        "NoColon", "Bad Name: x", ": x", "Content-Length: 5", "transfer-encoding: chunked",
        "X-A: one\r\nX-B: two",
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(rp_rules_set_header(&r, bad_headers[i], err, sizeof err), -1);
        CHECK(err[0] != '\0');
    }
    CHECK_EQ_INT(rp_rules_remove_header(&r, "Content-Length", err, sizeof err), -1);
    CHECK_EQ_INT(rp_rules_remove_header(&r, "Bad Name", err, sizeof err), -1);
    CHECK_EQ_INT(rp_rules_add_rewrite(&r, "no-equals-sign", err, sizeof err), -1);
    CHECK_EQ_INT(rp_rules_add_rewrite(&r, "=/x", err, sizeof err), -1);
    CHECK_EQ_INT(rp_rules_add_rewrite(&r, "([a-=/x", err, sizeof err), -1);
    CHECK(strstr(err, "([a-") != NULL);
    CHECK_EQ_INT(rp_rules_add_methods(&r, 0, "GET,,POST", err, sizeof err), -1);
    CHECK_EQ_INT(rp_rules_add_path_filter(&r, 1, "(", err, sizeof err), -1);
    CHECK_EQ_INT(r.edit_count, 0);
    CHECK_EQ_INT(r.rewrite_count, 0);
    CHECK_EQ_INT(rp_rules_has_filters(&r), 0);
    rp_rules_free(&r);
}

static rp_record record_of(const char *method, const char *target, const char *headers,
                           const char *body)
{
    rp_record rec = {
        .http_major = 1, .http_minor = 1,
        .method = method, .method_len = (uint32_t)strlen(method),
        .target = target, .target_len = (uint32_t)strlen(target),
        .headers = headers, .headers_len = (uint32_t)strlen(headers),
        .body = (const uint8_t *)body, .body_len = body ? (uint32_t)strlen(body) : 0,
    };
    return rec;
}

TEST(replay_rules_filters)
{
    rp_rules r;
    rp_rules_init(&r);
    char err[256];
    CHECK_EQ_INT(rp_rules_add_methods(&r, 0, "GET,POST", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_add_path_filter(&r, 0, "^/api/", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_add_path_filter(&r, 1, "[?&]debug=", err, sizeof err), 0);
    CHECK(rp_rules_has_filters(&r));

    rp_record a = record_of("GET", "/api/users", "", NULL);
    rp_record b = record_of("DELETE", "/api/users", "", NULL);
    rp_record c = record_of("GET", "/static/x.css", "", NULL);
    rp_record d = record_of("GET", "/api/x?debug=1", "", NULL);
    rp_record e = record_of("POST", "http://example.com/api/form", "", NULL);
    CHECK(rp_rules_accept(&r, &a));
    CHECK(!rp_rules_accept(&r, &b));
    CHECK(!rp_rules_accept(&r, &c));
    CHECK(!rp_rules_accept(&r, &d));
    CHECK(rp_rules_accept(&r, &e));           /* absolute form seen as /api/form */
    rp_rules_free(&r);

    CHECK(rp_method_is_mutating("PATCH", 5));
    CHECK(rp_method_is_mutating("DELETE", 6));
    CHECK(!rp_method_is_mutating("GET", 3));
    CHECK(!rp_method_is_mutating("post", 4));
}

/* The exact bytes the request builder writes under edits and rewrites. */
TEST(replay_request_build_with_rules)
{
    rp_rules r;
    rp_rules_init(&r);
    char err[256];
    snprintf(r.host, sizeof r.host, "127.0.0.1:8080");
    snprintf(r.base_path, sizeof r.base_path, "/b");
    CHECK_EQ_INT(rp_rules_set_header(&r, "User-Agent: replayed", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_set_header(&r, "X-Run:  7", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_remove_header(&r, "cookie", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_add_rewrite(&r, "^/v1/([a-z]+)=/v2/\\1/x", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_add_rewrite(&r, "a\\=b=c", err, sizeof err), 0);

    rp_record rec = record_of("POST", "/v1/users?a=b",
                              "Accept: */*\r\nHost: example.com\r\nCookie: s=1\r\n"
                              "User-Agent: curl\r\nUser-Agent: dup\r\n"
                              "Transfer-Encoding: chunked\r\nX-Fold: a\r\n\tb\r\n", "hello");
    rec.flags = RP_REC_CHUNKED;
    rp_request req = { 0 };
    CHECK_EQ_INT(rp_request_build(&req, &rec, &r), 0);
    CHECK_EQ_STR(req.path, "/b/v2/users/x?c");
    CHECK_EQ_MEM(req.wire, req.wire_len,
                 "POST /b/v2/users/x?c HTTP/1.1\r\n"
                 "Host: 127.0.0.1:8080\r\n"
                 "Accept: */*\r\n"
                 "User-Agent: replayed\r\n"
                 "X-Fold: a b\r\n"
                 "X-Run: 7\r\n"
                 "Content-Length: 5\r\n"
                 "\r\n"
                 "hello");
    CHECK(req.body_framed);
    CHECK_EQ_INT(req.body_len, 5);

    /* A Host edit wins over the target; keep_host keeps the captured one
     * in place; removing Host sends none. */
    CHECK_EQ_INT(rp_rules_set_header(&r, "Host: edited", err, sizeof err), 0);
    rp_record get = record_of("GET", "/p", "A: 1\r\nHost: cap\r\n", NULL);
    CHECK_EQ_INT(rp_request_build(&req, &get, &r), 0);
    CHECK_EQ_MEM(req.wire, req.wire_len,
                 "GET /b/p HTTP/1.1\r\nHost: edited\r\nA: 1\r\nUser-Agent: replayed\r\n"
                 "X-Run: 7\r\n\r\n");
    CHECK_EQ_INT(rp_rules_remove_header(&r, "Host", err, sizeof err), 0);
    CHECK_EQ_INT(rp_request_build(&req, &get, &r), 0);
    CHECK_EQ_MEM(req.wire, req.wire_len,
                 "GET /b/p HTTP/1.1\r\nA: 1\r\nUser-Agent: replayed\r\nX-Run: 7\r\n\r\n");
    rp_rules_free(&r);

    rp_rules plain;
    rp_rules_init(&plain);
    plain.keep_host = 1;
    CHECK_EQ_INT(rp_request_build(&req, &get, &plain), 0);
    CHECK_EQ_MEM(req.wire, req.wire_len, "GET /p HTTP/1.1\r\nA: 1\r\nHost: cap\r\n\r\n");
    rp_request_release(&req);
    rp_rules_free(&plain);
}

static void edit_rules(rp_rules *r)
{
    char err[256];
    CHECK_EQ_INT(rp_rules_set_header(r, "User-Agent: replayed", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_set_header(r, "X-Added: yes", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_remove_header(r, "Accept", err, sizeof err), 0);
    CHECK_EQ_INT(rp_rules_add_rewrite(r, "^/a=/renamed", err, sizeof err), 0);
}

/* Both transports send the edited headers and the rewritten target; libcurl
 * adds no Accept of its own when the rules removed the captured one. */
static void check_wire_rules(int transport)
{
    raw_server srv;
    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(replay_specs_with(&srv, wire_specs, 1, 0, transport, edit_rules, &stats, &res), 0);
    CHECK_EQ_INT(stats.responses, 1);
    rp_stats_free(&stats);
    const char *r = find_seen(&srv, "GET /base/renamed?x=1 HTTP/1.1\r\n");
    CHECK(r != NULL);
    if (r) {
        CHECK(has_line(r, "User-Agent: replayed"));
        CHECK(has_line(r, "X-Added: yes"));
        CHECK(!has_header(r, "Accept"));
        CHECK_EQ_INT(header_lines(r), 3);
    }
    server_stop(&srv);
}

TEST(replay_wire_rules_lean) { check_wire_rules(RP_TRANSPORT_LEAN); }
TEST(replay_wire_rules_curl) { check_wire_rules(RP_TRANSPORT_CURL); }

/* ---- the generator's own limits ---- */

/* Connections that cannot get a descriptor count as client errors with
 * EMFILE, not as connect errors. The target port has no listener, so the
 * connections that do get a descriptor are refused. */
TEST(replay_emfile_is_client_error)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);

    rec_spec specs[16];
    for (int i = 0; i < 16; i++)
        specs[i] = (rec_spec){ 0, "GET", "/", "Host: a\r\n", NULL, 1, 0 };
    char path[] = "/tmp/test_replay_XXXXXX";
    int tfd = mkstemp(path);
    close(tfd);
    write_specs(path, specs, 16);

    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    rp_target target;
    CHECK_EQ_INT(rp_target_parse(url, &target, err, sizeof err), 0);
    CHECK_EQ_INT(rp_target_resolve(&target, err, sizeof err), 0);
    rp_engine_config cfg = base_config(path, &target, RP_TRANSPORT_LEAN);
    cfg.plan_opts.max_gap_ns = 0;            /* all due at once */
    cfg.conn_mode = RP_CONN_NEW;
    cfg.max_inflight = 16;
    cfg.max_connections = 16;

    /* This test runs in a child process of its own: use up every
     * descriptor but 12, enough for the engine's loops and a few
     * connections. */
    struct rlimit rl = { 256, 256 };
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int held[256], count = 0;
    while (count < 256 && (held[count] = dup(0)) >= 0)
        count++;
    for (int i = 0; i < 12 && count > 0; i++)
        close(held[--count]);

    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(rp_stats_init(&stats), 0);
    int rc = rp_engine_run(&cfg, &stats, &res, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  engine: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(stats.due, 16);
    CHECK(stats.errors[RP_ERR_CLIENT] > 0);
    CHECK_EQ_INT(stats.client_emfile, stats.errors[RP_ERR_CLIENT]);
    CHECK_EQ_INT(stats.errors[RP_ERR_CLIENT] + stats.errors[RP_ERR_CONNECT], 16);
    rp_stats_free(&stats);
    while (count > 0)
        close(held[--count]);
    unlink(path);
}

TEST(replay_saturation_rule)
{
    rp_stats s;
    CHECK_EQ_INT(rp_stats_init(&s), 0);
    for (int i = 0; i < 98; i++)
        rp_hist_record(s.dispatch_lag, 20);
    rp_hist_record(s.dispatch_lag, 5000);
    rp_hist_record(s.dispatch_lag, 5000);
    rp_saturation sat;
    rp_engine_saturation(&s, 100000000, &sat);   /* 10 requests/s: 1 ms limit */
    CHECK_EQ_INT(sat.threshold_us, 1000);
    CHECK(sat.saturated);
    rp_hist_reset(s.dispatch_lag);
    for (int i = 0; i < 100; i++)
        rp_hist_record(s.dispatch_lag, 60);
    rp_engine_saturation(&s, 100000000, &sat);
    CHECK(!sat.saturated);
    rp_engine_saturation(&s, 50000, &sat);       /* 20,000/s: 5 gaps are 250 us */
    CHECK_EQ_INT(sat.threshold_us, 250);
    CHECK(!sat.saturated);
    rp_engine_saturation(&s, 10000, &sat);       /* 100,000/s: 5 gaps are 50 us */
    CHECK_EQ_INT(sat.threshold_us, 50);
    CHECK(sat.saturated);
    rp_engine_saturation(&s, 0, &sat);           /* closed loop */
    CHECK(!sat.saturated);
    rp_stats_free(&s);
}

/* ---- responses the parser must frame right ---- */

/* Responses that must complete at once, with their status: no body
 * after 204, 304 and HEAD whatever their Content-Length declares, interim
 * 1xx responses before the final one, a chunked body with an extension
 * and trailers, and a body delimited by the end of the connection.
 * The requests share one captured connection and go one at a time, so
 * only the response that closes the connection opens another. */
static void check_response_framing(int transport)
{
    static const rec_spec specs[] = {
        { 0, "GET", "/r/204", "Host: a\r\n", NULL, 1, 1 },
        { 0, "GET", "/r/304", "Host: a\r\n", NULL, 1, 1 },
        { 0, "HEAD", "/r/head", "Host: a\r\n", NULL, 1, 1 },
        { 0, "GET", "/r/continue", "Host: a\r\n", NULL, 1, 1 },
        { 0, "GET", "/r/chunked", "Host: a\r\n", NULL, 1, 1 },
        { 0, "GET", "/r/close", "Host: a\r\n", NULL, 1, 1 },
        { 0, "GET", "/r/after", "Host: a\r\n", NULL, 1, 1 },
    };
    char path[] = "/tmp/test_replay_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_specs(path, specs, 7);
    raw_server srv;
    CHECK_EQ_INT(server_start(&srv), 0);

    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/base", (unsigned)srv.port);
    rp_target target;
    CHECK_EQ_INT(rp_target_parse(url, &target, err, sizeof err), 0);
    CHECK_EQ_INT(rp_target_resolve(&target, err, sizeof err), 0);
    rp_engine_config cfg = base_config(path, &target, transport);
    cfg.plan_opts.pace = RP_PACE_MAX;
    cfg.max_inflight = 1;
    rp_stats stats;
    rp_engine_result res;
    CHECK_EQ_INT(rp_stats_init(&stats), 0);
    CHECK_EQ_INT(rp_engine_run(&cfg, &stats, &res, err, sizeof err), 0);
    server_stop(&srv);

    CHECK_EQ_INT(stats.responses, 7);
    CHECK_EQ_INT(rp_stats_errors_total(&stats), 0);
    CHECK_EQ_INT(stats.status[204], 1);
    CHECK_EQ_INT(stats.status[304], 1);
    CHECK_EQ_INT(stats.status[201], 1);
    CHECK_EQ_INT(stats.status[200], 3);
    CHECK_EQ_INT(stats.status[404], 1);
    CHECK_EQ_INT(stats.status[100] + stats.status[103], 0);
    CHECK(res.duration_ns < 2000000000ull);   /* no response waited for a timeout */
    CHECK_EQ_INT(srv.connections, 2);
    CHECK_EQ_INT(stats.conn_opened, 2);
    rp_stats_free(&stats);
    unlink(path);
}

TEST(replay_response_framing_lean) { check_response_framing(RP_TRANSPORT_LEAN); }
TEST(replay_response_framing_curl) { check_response_framing(RP_TRANSPORT_CURL); }
