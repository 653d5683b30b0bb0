#include "replay/request.h"

#include <stdlib.h>
#include <string.h>

/* Returns the offset of the path in an absolute-form target, or -1 when
 * captured is not absolute-form. */
static long absolute_path_start(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len && t[i] != ':' && t[i] != '/' && t[i] != '?')
        i++;
    if (i == 0 || i + 2 >= len || t[i] != ':' || t[i + 1] != '/' || t[i + 2] != '/')
        return -1;

    size_t p = i + 3;
    while (p < len && t[p] != '/' && t[p] != '?')
        p++;
    return (long)p;
}

size_t rp_request_target(const char *captured, size_t len, const char *base_path,
                         char *out, size_t outlen)
{
    const char *prefix = base_path;
    const char *rest = captured;
    size_t rest_len = len;
    const char *glue = "";

    long start = absolute_path_start(captured, len);
    if (start >= 0) {
        rest = captured + start;
        rest_len = len - (size_t)start;
        if (rest_len == 0 || rest[0] == '?')
            glue = "/";
    } else if (len == 1 && captured[0] == '*') {
        prefix = "";
    } else if (len == 0 || captured[0] != '/') {
        glue = "/";
    }

    size_t prefix_len = strlen(prefix), glue_len = strlen(glue);
    size_t need = prefix_len + glue_len + rest_len;
    if (need + 1 <= outlen) {
        memcpy(out, prefix, prefix_len);
        memcpy(out + prefix_len, glue, glue_len);
        memcpy(out + prefix_len + glue_len, rest, rest_len);
        out[need] = '\0';
    }
    return need;
}

int rp_request_fill(rp_request *req, const rp_record *rec, const char *base_path)
{
    size_t path_len = rp_request_target(rec->target, rec->target_len, base_path, NULL, 0);
    size_t need = (size_t)rec->method_len + 1 + path_len + 1 +
                  rec->headers_len + 1 + rec->body_len;
    if (need > req->storage_cap) {
        char *grown = realloc(req->storage, need);
        if (grown == NULL)
            return -1;
        req->storage = grown;
        req->storage_cap = need;
    }

    char *p = req->storage;
    memcpy(p, rec->method, rec->method_len);
    p[rec->method_len] = '\0';
    req->method = p;
    p += rec->method_len + 1;

    rp_request_target(rec->target, rec->target_len, base_path, p, path_len + 1);
    req->path = p;
    p += path_len + 1;

    if (rec->headers_len > 0)
        memcpy(p, rec->headers, rec->headers_len);
    p[rec->headers_len] = '\0';
    req->headers = p;
    req->headers_len = rec->headers_len;
    p += rec->headers_len + 1;

    if (rec->body_len > 0) {
        memcpy(p, rec->body, rec->body_len);
        req->body = (const uint8_t *)p;
    } else {
        req->body = NULL;
    }
    req->body_len = rec->body_len;

    req->conn_id = rec->conn_id;
    req->flags = rec->flags;
    req->http_major = rec->http_major;
    req->http_minor = rec->http_minor;
    return 0;
}

void rp_request_release(rp_request *req)
{
    free(req->storage);
    req->storage = NULL;
    req->storage_cap = 0;
}
