/* The export formats: each writes one record at a time to an rp_out, so
 * export streams whatever the trace's size. */
#ifndef RP_EXPORT_H
#define RP_EXPORT_H

#include <stdint.h>

#include "formats/trace.h"
#include "tools/out.h"

typedef struct rp_export {
    rp_out *out;
    const char *base_url;     /* scheme://authority for URLs, or NULL to
                                 use each request's Host header */
    uint64_t index;           /* position of the record in the trace */
    uint64_t written;         /* records written so far */
    uint64_t time_sec;        /* cache of the last formatted second */
    char time_text[32];
    char *scratch;            /* a URL being built */
    size_t scratch_cap;
} rp_export;

/* One JSON object per line; docs/trace-tools.md lists the members. */
void rp_export_jsonl(rp_export *x, const rp_record *rec);

/* HAR 1.2: a header, one entry per record, and a footer. */
void rp_export_har_begin(rp_export *x, const rp_trace_info *info);
void rp_export_har(rp_export *x, const rp_record *rec);
void rp_export_har_end(rp_export *x);

/* A curl command line that sends the request again. */
void rp_export_curl(rp_export *x, const rp_record *rec);

/* GoReplay's file format: a "1 ID TIMESTAMP LATENCY" line, the request as
 * sent, and the separator line. */
void rp_export_gor(rp_export *x, const rp_record *rec);

/* The request as sent on the wire, requests back to back. */
void rp_export_raw(rp_export *x, const rp_record *rec);

/* Writes the request line, headers, the empty line and the body, with a
 * chunked body framed again in one chunk. */
void rp_export_wire(rp_out *o, const rp_record *rec);

/* Builds the URL of rec in x->scratch and returns its length: an
 * absolute-form target as it is, else base_url (or "http://" and the Host
 * header, or http://127.0.0.1 without one) followed by the target, with
 * base_url's scheme and authority replacing an absolute target's. */
size_t rp_export_url(rp_export *x, const rp_record *rec);

void rp_export_free(rp_export *x);

#endif
