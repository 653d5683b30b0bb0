/* The lean transport: HTTP/1.1 over plain TCP on libuv, responses parsed
 * with llhttp. It writes each request's prepared bytes as they are, one
 * request at a time per connection (no pipelining), and keeps its own
 * connections, so it can pin a request to the connection of its captured
 * one (RP_CONN_PRESERVE). It speaks http:// only: https and HTTP/2 go
 * through libcurl.
 */
#ifndef RP_LEAN_TRANSPORT_H
#define RP_LEAN_TRANSPORT_H

#include <stddef.h>

#include "replay/transport.h"

/* Creates the transport. cfg is copied; cfg->target must stay valid until
 * the transport is closed. Returns 0, or -1 with err filled. */
int rp_lean_transport_new(rp_transport **out, const rp_transport_config *cfg,
                          char *err, size_t errlen);

#endif
