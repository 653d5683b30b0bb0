/* Endpoint templates: a request's method and path with the segments that
 * vary per resource folded into placeholders, so that requests to
 * /users/17/orders and /users/42/orders count as one endpoint,
 * "GET /users/{id}/orders".
 *
 * A path segment is folded when it is, in full:
 *   - decimal digits:                          {id}
 *   - a UUID (8-4-4-4-12 hexadecimal digits):   {uuid}
 *   - 8 or more hexadecimal digits with at
 *     least one decimal digit among them:       {hex}
 * Other segments are kept as they are, byte for byte (no percent
 * decoding). The query string and fragment are dropped. An absolute-form
 * target (http://host/path) keeps only its path; an authority-form one
 * (CONNECT host:port) and the asterisk form (OPTIONS *) are kept whole.
 */
#ifndef RP_ENDPOINT_H
#define RP_ENDPOINT_H

#include <stddef.h>

/* Writes the template of target's path into out (NUL-terminated, at most
 * outlen - 1 bytes; outlen must be at least 1). Returns the template's
 * full length, as snprintf does: a value >= outlen means out contains a
 * truncated copy. An empty path gives "/". */
size_t rp_endpoint_normalize_path(const char *target, size_t target_len,
                                  char *out, size_t outlen);

/* Writes "METHOD template" into out, as rp_endpoint_normalize_path does
 * for the path. */
size_t rp_endpoint_normalize(const char *method, size_t method_len,
                             const char *target, size_t target_len,
                             char *out, size_t outlen);

#endif
