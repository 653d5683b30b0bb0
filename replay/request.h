/* A captured request prepared for sending: the record copied into memory
 * the engine owns, with its request-target rewritten for the target. */
#ifndef RP_REQUEST_H
#define RP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"

typedef struct rp_request {
    uint64_t seq;            /* position in the trace, from 0 */
    uint64_t conn_id;        /* captured client connection; a transport that
                                pins connections keys on it */
    uint64_t due_ns;         /* when it is due, on the uv_hrtime() clock */
    uint32_t flags;          /* RP_REC_* */
    uint8_t http_major, http_minor;

    const char *method;      /* NUL-terminated, as captured */
    const char *path;        /* request-target to send, NUL-terminated */
    const char *headers;     /* captured header lines, each ending in CRLF */
    uint32_t headers_len;
    const uint8_t *body;     /* decoded body; NULL when body_len is 0 */
    uint32_t body_len;

    char *storage;           /* owns the bytes above; grows, never shrinks */
    size_t storage_cap;
} rp_request;

/* Writes the request-target to send for a captured one into out (outlen
 * bytes, NUL-terminated) and returns its length, or the length it would
 * need when outlen is too small. An absolute-form target
 * ("http://host/p?q") is reduced to its path and query; "*" stays as is;
 * any other target gets base_path ("" or "/a/b") prepended. */
size_t rp_request_target(const char *captured, size_t len, const char *base_path,
                         char *out, size_t outlen);

/* Copies rec into req, reusing req's storage. The times and sequence
 * number are left for the caller. Returns 0, or -1 when out of memory. */
int rp_request_fill(rp_request *req, const rp_record *rec, const char *base_path);

/* Frees req's storage. */
void rp_request_release(rp_request *req);

#endif
