/* A captured request prepared for sending: the bytes that go on the wire,
 * built once from the record and the replay's rules, so that every
 * transport sends the same request.
 *
 * What reaches the server (docs/replay.md lists it for users):
 * - request line: the captured method, the request-target rewritten by
 *   the rules with the target's base path prepended, HTTP/1.0 when
 *   captured as 1.0 and HTTP/1.1 otherwise;
 * - Host first: the target's host and port, or the value of a Host edit;
 *   with keep_host the captured Host line stays where it was (a request
 *   captured without one gets none);
 * - the captured header lines in captured order, folded values joined
 *   with single spaces, edits applied, captured Content-Length and
 *   Transfer-Encoding lines removed;
 * - a Content-Length line last, for the decoded body, whenever the capture
 *   had a body or body framing (HEAD excepted);
 * - the empty line, then the body.
 */
#ifndef RP_REQUEST_H
#define RP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"
#include "replay/rules.h"

typedef struct rp_request {
    uint64_t seq;            /* position in the schedule, from 0 */
    uint64_t conn_key;       /* replay connection of the captured one: unique
                                per captured connection and pass */
    uint64_t due_ns;         /* when it is due, on the uv_hrtime() clock */
    uint32_t flags;          /* RP_REC_* */
    uint8_t http_major, http_minor;
    uint8_t last_on_conn;    /* the last request of its captured connection,
                                so a pinning transport closes it after */
    uint8_t is_head;         /* its response has no body */
    uint8_t body_framed;     /* headers end with a Content-Length line */

    const char *method;      /* NUL-terminated */
    const char *path;        /* request-target as sent, NUL-terminated */
    const char *captured_target;  /* request-target as captured, before
                                 rewrites and the base path; NUL-terminated.
                                 Results name endpoints by it, as they do
                                 for requests that were never built. */
    int recorded_status;     /* captured response status; 0 when none */
    const char *wire;        /* the whole request: line, headers, body */
    size_t wire_len;
    const char *headers;     /* the header lines inside wire, each ending in
                                CRLF, without the empty line */
    uint32_t headers_len;
    const uint8_t *body;     /* inside wire; NULL when body_len is 0 */
    uint32_t body_len;

    void *owner;             /* free for the engine's use */
    char *storage;           /* owns the bytes above; grows, never shrinks */
    size_t storage_cap;
    char *scratch;           /* request-target rewriting */
    size_t scratch_cap;
} rp_request;

/* Writes the request-target to send for a captured one into out (outlen
 * bytes, NUL-terminated) and returns its length, or the length it would
 * need when outlen is too small. An absolute-form target
 * ("http://host/p?q") is reduced to its path and query; "*" stays as is;
 * any other target gets base_path ("" or "/a/b") prepended. */
size_t rp_request_target(const char *captured, size_t len, const char *base_path,
                         char *out, size_t outlen);

/* Builds req from rec under rules, reusing req's memory. The times,
 * sequence number and connection fields are left for the caller. Returns
 * 0, or -1 when out of memory. */
int rp_request_build(rp_request *req, const rp_record *rec, const rp_rules *rules);

/* Frees req's memory. */
void rp_request_release(rp_request *req);

#endif
