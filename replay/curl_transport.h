/* A transport on libcurl's multi_socket API driven by the engine's libuv
 * loop. It sends HTTP/1.x over http and https, reusing connections from
 * libcurl's pool. It does not pin requests to the captured connection
 * (libcurl 7.88 cannot choose a connection for a transfer).
 */
#ifndef RP_CURL_TRANSPORT_H
#define RP_CURL_TRANSPORT_H

#include <stddef.h>

#include "replay/transport.h"

/* Creates the transport. cfg is copied; cfg->target must stay valid until
 * the transport is closed. Returns 0, or -1 with err filled. */
int rp_curl_transport_new(rp_transport **out, const rp_transport_config *cfg,
                          char *err, size_t errlen);

#endif
