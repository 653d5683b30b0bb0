#include "replay/target.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Copies one part of u into out. Returns 1 when the part is present. */
static int url_part(CURLU *u, CURLUPart part, unsigned flags, char *out, size_t outlen)
{
    char *value = NULL;
    if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == NULL)
        return 0;
    snprintf(out, outlen, "%s", value);
    curl_free(value);
    return 1;
}

static int check_parts(CURLU *u, const char *url, rp_target *t, char *err, size_t errlen)
{
    char buf[1024];

    if (!url_part(u, CURLUPART_SCHEME, 0, t->scheme, sizeof t->scheme) ||
        (strcmp(t->scheme, "http") != 0 && strcmp(t->scheme, "https") != 0)) {
        snprintf(err, errlen, "scheme of '%s' is not http or https", url);
        return -1;
    }
    if (url_part(u, CURLUPART_USER, 0, buf, sizeof buf) ||
        url_part(u, CURLUPART_PASSWORD, 0, buf, sizeof buf)) {
        snprintf(err, errlen, "'%s' contains user information, which a target does not take", url);
        return -1;
    }
    if (url_part(u, CURLUPART_QUERY, 0, buf, sizeof buf) ||
        url_part(u, CURLUPART_FRAGMENT, 0, buf, sizeof buf)) {
        snprintf(err, errlen, "'%s' contains a query or fragment, which a target does not take", url);
        return -1;
    }
    if (!url_part(u, CURLUPART_HOST, 0, buf, sizeof buf) || buf[0] == '\0') {
        snprintf(err, errlen, "'%s' has no host", url);
        return -1;
    }

    /* curl returns an IPv6 host in brackets. */
    const char *host = buf;
    size_t n = strlen(buf);
    if (buf[0] == '[' && n > 2 && buf[n - 1] == ']') {
        host = buf + 1;
        n -= 2;
    }
    if (n >= sizeof t->host) {
        snprintf(err, errlen, "host of '%s' is longer than %zu bytes", url, sizeof t->host - 1);
        return -1;
    }
    memcpy(t->host, host, n);
    t->host[n] = '\0';
    return 0;
}

int rp_target_parse(const char *url, rp_target *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(err, errlen, "out of memory parsing '%s'", url);
        return -1;
    }

    int rc = -1;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        snprintf(err, errlen, "'%s' is not a valid URL (%s)", url, curl_url_strerror(uc));
        goto done;
    }
    if (check_parts(u, url, out, err, errlen) != 0)
        goto done;

    char buf[1024];
    if (!url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, buf, sizeof buf)) {
        snprintf(err, errlen, "'%s' has no usable port", url);
        goto done;
    }
    long port = strtol(buf, NULL, 10);
    if (port < 1 || port > 65535) {
        snprintf(err, errlen, "port of '%s' is not between 1 and 65535", url);
        goto done;
    }
    out->port = (uint16_t)port;

    if (url_part(u, CURLUPART_PATH, 0, out->base_path, sizeof out->base_path)) {
        size_t n = strlen(out->base_path);
        while (n > 0 && out->base_path[n - 1] == '/')
            out->base_path[--n] = '\0';
    }

    int v6 = strchr(out->host, ':') != NULL;
    snprintf(out->origin, sizeof out->origin, "%s://%s%s%s:%u", out->scheme,
             v6 ? "[" : "", out->host, v6 ? "]" : "", (unsigned)out->port);
    rc = 0;
done:
    curl_url_cleanup(u);
    return rc;
}

int rp_target_resolve(rp_target *t, char *err, size_t errlen)
{
    unsigned char probe[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, t->host, probe) == 1 || inet_pton(AF_INET6, t->host, probe) == 1) {
        /* A numeric address is at most INET6_ADDRSTRLEN bytes long. */
        memcpy(t->address, t->host, strlen(t->host) + 1);
        return 0;
    }

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(t->host, NULL, &hints, &res);
    if (gai != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve target host '%s': %s", t->host,
                 gai != 0 ? gai_strerror(gai) : "no address");
        return -1;
    }

    const void *addr = res->ai_family == AF_INET6
        ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
        : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    const char *text = inet_ntop(res->ai_family, addr, t->address, sizeof t->address);
    freeaddrinfo(res);
    if (text == NULL) {
        snprintf(err, errlen, "cannot format the address of target host '%s'", t->host);
        return -1;
    }
    return 0;
}

/* Fills sa from t->address and t->port. Returns its length, or 0. */
static socklen_t target_sockaddr(const rp_target *t, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, t->address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(t->port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, t->address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(t->port);
        return sizeof *v6;
    }
    return 0;
}

/* Waits for a nonblocking connect on fd. Returns 0 or an errno value. */
static int connect_wait(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int n = poll(&p, 1, timeout_ms);
    if (n == 0)
        return ETIMEDOUT;
    if (n < 0)
        return errno;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        return errno;
    return so_error;
}

int rp_target_probe(const rp_target *t, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen = target_sockaddr(t, &sa);
    if (salen == 0) {
        snprintf(err, errlen, "target %s has no resolved address", t->origin);
        return -1;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open a socket to probe %s: %s", t->origin,
                 strerror(errno));
        return -1;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, salen) == 0 ? 0 : errno;
    if (rc == EINPROGRESS)
        rc = connect_wait(fd, timeout_ms);
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot connect to %s (%s): %s", t->origin, t->address,
                 strerror(rc));
        return -1;
    }
    return 0;
}
