/* Redaction of secrets before a record reaches the trace: header values
 * by header name, query parameter values by parameter name, and request
 * bodies. A redacted value is replaced by the marker "REDACTED", so the
 * request keeps its shape; a dropped body becomes empty. Records that were
 * changed carry RP_REC_REDACTED. */
#ifndef RP_REDACT_H
#define RP_REDACT_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"

#define RP_REDACT_MARKER "REDACTED"

typedef struct rp_redact rp_redact;

rp_redact *rp_redact_new(void);
void rp_redact_free(rp_redact *r);

/* Names are matched case-insensitively for headers, exactly for query
 * parameters. Return 0 or -1 (no memory). */
int rp_redact_add_header(rp_redact *r, const char *name);
int rp_redact_add_query(rp_redact *r, const char *param);
void rp_redact_drop_bodies(rp_redact *r, int drop);

/* Nonzero when any rule is set. */
int rp_redact_active(const rp_redact *r);

/* Rewrites rec in place. Its pointers then refer to buffers owned by r,
 * valid until the next call. Returns 0 or -1 (no memory; rec unchanged). */
int rp_redact_apply(rp_redact *r, rp_record *rec);

/* Writes a description of the rules, e.g.
 * "headers authorization,cookie; query token; bodies dropped", for the
 * trace header. */
void rp_redact_describe(const rp_redact *r, char *buf, size_t len);

/* Nonzero when a rule replaces the values of header name (any case). */
int rp_redact_covers_header(const rp_redact *r, const char *name);

#endif
