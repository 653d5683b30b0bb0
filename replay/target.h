/* The replay target: where every request goes, whatever host or absolute
 * URI the capture saw. */
#ifndef RP_TARGET_H
#define RP_TARGET_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp_target {
    char scheme[8];          /* "http" or "https" */
    char host[256];          /* as given; an IPv6 address without brackets */
    uint16_t port;           /* explicit, or the scheme's default */
    char base_path[1024];    /* prepended to each request-target; "" or
                                "/a/b" without a trailing slash */
    char origin[300];        /* "scheme://host:port", brackets around IPv6 */
    char address[64];        /* numeric address of host, after rp_target_resolve */
} rp_target;

/* Parses url as http[s]://HOST[:PORT][/BASE-PATH]. User info, query and
 * fragment are rejected. Returns 0, or -1 with err naming what is wrong. */
int rp_target_parse(const char *url, rp_target *out, char *err, size_t errlen);

/* Resolves t->host once (blocking) and stores the first address in
 * t->address, so that every connection of the run goes to the same
 * address. Returns 0, or -1 with err filled. */
int rp_target_resolve(rp_target *t, char *err, size_t errlen);

/* Opens one TCP connection to the resolved t->address and closes it, to
 * learn before a long run that the target listens. Waits at most
 * timeout_ms. Returns 0, or -1 with err naming the target and the socket
 * error (e.g. connection refused). */
int rp_target_probe(const rp_target *t, int timeout_ms, char *err, size_t errlen);

#endif
