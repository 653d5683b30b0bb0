/* Readers of other recordings of HTTP requests, for reprise import:
 * JSON Lines as reprise export writes it, HAR 1.x (browsers' developer
 * tools), GoReplay .gor files, and nginx or Apache access logs in the
 * combined or common format.
 *
 * Each reader streams its file: memory keeps one line, entry or payload
 * at a time (at most RP_IMPORT_MAX_ITEM bytes), plus, for GoReplay, the
 * requests still waiting for their response (RP_IMPORT_GOR_PENDING). It
 * hands each request to a callback in file order; rp_import_order then puts
 * them in timestamp order within a bounded window. An item that cannot
 * be used (a malformed line, an entry cut off by the end of the file) is
 * reported through another callback and skipped; reading goes on.
 */
#ifndef RP_IMPORT_H
#define RP_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"

#define RP_IMPORT_MAX_ITEM   (128u << 20)  /* bytes of one line, entry or payload */
#define RP_IMPORT_GOR_PENDING 4096         /* GoReplay requests awaiting a response */

typedef enum rp_import_format {
    RP_IMPORT_AUTO = 0,
    RP_IMPORT_JSONL,
    RP_IMPORT_HAR,
    RP_IMPORT_GOR,
    RP_IMPORT_ACCESS_LOG
} rp_import_format;

/* "jsonl", "har", "gor", "access-log"; "auto" for RP_IMPORT_AUTO. */
const char *rp_import_format_name(rp_import_format f);

/* Parses a format name as rp_import_format_name returns it. Returns 0 or
 * -1. */
int rp_import_format_parse(const char *name, rp_import_format *f);

typedef struct rp_import_sink {
    /* Receives each request, in file order; its pointers are valid during
     * the call. A nonzero return stops the import with that value. */
    int (*record)(void *ctx, const rp_record *rec);
    /* Receives each item skipped, with why a sentence. unit and where
     * are "line" and a line number (JSON Lines, access logs), "entry" and
     * an entry number from 1 (HAR), or "payload" and a payload number
     * from 1 (GoReplay). May be NULL. */
    void (*skipped)(void *ctx, const char *unit, uint64_t where, const char *why);
    void *ctx;
} rp_import_sink;

typedef struct rp_import_stats {
    uint64_t items;           /* lines, entries or payloads read */
    uint64_t records;         /* requests passed to the sink */
    uint64_t skipped;         /* items reported as skipped */
    uint64_t ignored;         /* items left out on purpose: HAR entries
                                 served from the browser cache or with a
                                 non-HTTP URL, GoReplay replayed responses,
                                 empty lines */
    uint64_t responses;       /* GoReplay responses paired with a request */
    uint64_t unpaired;        /* GoReplay responses without their request */
    uint64_t http2;           /* HAR entries of HTTP/2 or HTTP/3, stored as
                                 HTTP/1.1 */
    char version[32];         /* HAR log.version, "" if absent */
} rp_import_stats;

/* Reads path as format (RP_IMPORT_AUTO: guessed from its first bytes).
 * Returns 0 when the file was read to its end, even if items were
 * skipped, and the sink's nonzero value if it stopped the import.
 * Otherwise it returns a negative RP_TRACE_E* code with err naming the
 * file and the problem: it cannot be opened or read, is empty, is not of
 * the format, or is of an unsupported version. *format_used gets the
 * format read (may be NULL). */
int rp_import_file(const char *path, rp_import_format format, rp_import_format *format_used,
                   const rp_import_sink *sink, rp_import_stats *stats,
                   char *err, size_t errlen);

/* Guesses the format from the first bytes of a file. Returns
 * RP_IMPORT_AUTO when it cannot tell, and sets *why to a sentence naming
 * what the bytes look like ("a reprise trace", "a pcap file", ...). */
rp_import_format rp_import_detect(const uint8_t *head, size_t n, const char **why);

/* Parses an RFC 3339 time such as 2024-12-03T10:00:00Z or
 * 2024-12-03T11:00:00.123456789+01:00 (a space may replace the T) into
 * ns since the epoch. Returns 0, or -1 when text is not such a time or
 * lies before 1970. */
int rp_parse_rfc3339(const char *text, size_t len, uint64_t *ns);

/* ---- timestamp order ---- */

/* A bounded reorder buffer: records are kept, copied, in a min-heap by
 * ts_ns, and the earliest leaves whenever the buffer has more than
 * max_records records or max_bytes bytes. A record earlier than one that
 * already left is passed on with the timestamp of the last one that left,
 * and counted as late. Records with equal timestamps leave in the order
 * they came. */
typedef struct rp_import_order rp_import_order;

typedef int (*rp_import_order_out)(void *ctx, const rp_record *rec);

rp_import_order *rp_import_order_new(size_t max_records, size_t max_bytes, rp_import_order_out out,
                           void *ctx);

/* Adds a copy of rec. Returns 0, -1 when out of memory, or out's nonzero
 * return. */
int rp_import_order_add(rp_import_order *r, const rp_record *rec);

/* Passes every held record on. Returns 0 or out's nonzero return. */
int rp_import_order_drain(rp_import_order *r);

/* Records passed on late, with a raised timestamp, and the most any was
 * raised by, in ns. */
uint64_t rp_import_order_late(const rp_import_order *r, uint64_t *max_shift_ns);

void rp_import_order_free(rp_import_order *r);

#endif
