/* Trace files: the on-disk form of captured HTTP requests.
 *
 * A trace is a header, then blocks of records (each block one independent
 * zstd frame), then an index. This reprise writes format 1.0 and reads
 * formats 0.x and 1.x. docs/trace-format.md is the byte-level
 * specification. Capture writes traces, replay and the other verbs read
 * them; the two sides meet only here.
 *
 * Functions return 0 or a negative RP_TRACE_E* code and, on error, fill
 * the caller's err buffer with a sentence naming the file and the problem.
 *
 * Reading streams one block at a time: memory holds one block's compressed
 * and raw bytes (at most RP_TRACE_MAX_BLOCK_BYTES raw) plus the index. The
 * reader needs no index, because a writer that was killed leaves none: it
 * then reads every complete block in file order and reports a truncated
 * tail. A damaged block (bad checksum, zstd error, bad sizes or record
 * encoding) costs that block only. rp_trace_reader_next returns
 * RP_TRACE_ECORRUPT once for it, with err naming the file and the block's
 * byte offset, and the next call continues with the next block. The reader
 * finds that block through the index when the file has a valid one, else
 * through the compressed size in the damaged block's header when the
 * header checksum matches, else by scanning forward for the next block
 * magic whose header checksum matches. A file that ends inside a block
 * is reported the same way, once, before RP_TRACE_EOF. A damaged index or
 * file header loses no records: rp_trace_info flags it and reading goes
 * on.
 */
#ifndef RP_TRACE_H
#define RP_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define RP_TRACE_MAGIC "RPRZTRC1"   /* 8 bytes at offset 0 */
#define RP_TRACE_VERSION_MAJOR 1
#define RP_TRACE_VERSION_MINOR 0

/* Writer defaults and the limits a reader enforces. A record is stored
 * whole in one block, so its encoded size (the sum of its field lengths
 * plus at most 130 bytes) must not exceed RP_TRACE_MAX_BLOCK_BYTES. */
#define RP_TRACE_DEFAULT_BLOCK_RECORDS 16384u
#define RP_TRACE_DEFAULT_BLOCK_BYTES   (4u << 20)
#define RP_TRACE_DEFAULT_ZSTD_LEVEL    3
#define RP_TRACE_MAX_BLOCK_RECORDS     (1u << 20)
#define RP_TRACE_MAX_BLOCK_BYTES       (64u << 20)

/* Record flags. */
#define RP_REC_CHUNKED      0x0001u /* the request body was sent chunked; body contains it decoded */
#define RP_REC_HAS_RESPONSE 0x0002u /* resp_* fields are valid */
#define RP_REC_TRUNCATED    0x0004u /* the capture lost part of the request (snaplen, gap) */
#define RP_REC_UPGRADE      0x0008u /* the request asked for a protocol upgrade */
#define RP_REC_CONNECT      0x0010u /* a CONNECT request */
#define RP_REC_RESP_TRUNCATED 0x0020u /* the response was cut off before its end */
#define RP_REC_REDACTED     0x0040u /* a header value, query value or the body was
                                       replaced at capture (see the trace's
                                       redaction metadata) */

/* One captured request with its paired response. Pointers refer to memory
 * owned by the producer of the record (the capture, or a reader until its
 * next call); copy what must outlive that. */
typedef struct rp_record {
    uint64_t ts_ns;         /* capture time of the first packet carrying a byte
                               of the request, nanoseconds since the Unix epoch */
    uint64_t conn_id;       /* client connection, unique within the trace */
    uint32_t flags;         /* RP_REC_* */
    uint8_t  http_major;
    uint8_t  http_minor;

    const char *method;     /* as captured, not NUL-terminated */
    uint32_t method_len;
    const char *target;     /* request-target as sent */
    uint32_t target_len;
    const char *headers;    /* header lines as captured, each ending in CRLF,
                               without the empty line that ends the block */
    uint32_t headers_len;
    const uint8_t *body;    /* decoded body (chunked framing removed) */
    uint32_t body_len;

    uint16_t resp_status;   /* 0 when RP_REC_HAS_RESPONSE is not set */
    uint64_t resp_ttfb_ns;  /* first response byte minus ts_ns */
    uint64_t resp_ttlb_ns;  /* last response byte minus ts_ns */
    uint64_t resp_bytes;    /* response size on the wire: status line,
                               headers and body as framed */
} rp_record;

/* Capture metadata stored in the trace header. Strings are NUL-terminated
 * and may be empty; the writer copies them. */
typedef struct rp_trace_meta {
    const char *source;       /* input file name or interface */
    const char *filter;       /* BPF filter used, or "" */
    const char *tool;         /* e.g. "reprise 0.1.0" */
    uint64_t created_ns;      /* wall-clock time the trace was written */
    uint32_t link_type;       /* DLT of the source, 0 if several or unknown */
    uint32_t snaplen;
    const char *redaction;    /* redaction rules applied at capture, or "" */
    const char *sample;       /* connection sampling, e.g. "25%", or "" for all */
    const char *history;      /* operations applied after capture, one per
                                 line, e.g. "reprise 1.0.0 slice --from 30s",
                                 or "" */
} rp_trace_meta;

enum {
    RP_TRACE_OK = 0,
    RP_TRACE_EIO = -1,        /* open, read or write failed (errno in err) */
    RP_TRACE_EFORMAT = -2,    /* not a trace, or a newer major version */
    RP_TRACE_ECORRUPT = -3,   /* a damaged or truncated block, or a file
                                 header cut short */
    RP_TRACE_ENOMEM = -4,
    RP_TRACE_EINVAL = -5,     /* caller error, e.g. records out of order */
    RP_TRACE_EOF = 1          /* rp_trace_reader_next: no more records */
};

typedef struct rp_trace_writer rp_trace_writer;
typedef struct rp_trace_reader rp_trace_reader;

/* Writer options; a zero field means its RP_TRACE_DEFAULT_* value. A block
 * is written when it holds block_records records or block_bytes raw
 * bytes, whichever comes first. */
typedef struct rp_trace_writer_opts {
    int zstd_level;           /* ZSTD_minCLevel() .. ZSTD_maxCLevel() */
    uint32_t block_records;   /* max records per block, at most
                                 RP_TRACE_MAX_BLOCK_RECORDS */
    uint32_t block_bytes;     /* max raw bytes per block, at most
                                 RP_TRACE_MAX_BLOCK_BYTES; a larger record
                                 gets a block of its own */
} rp_trace_writer_opts;

/* Creates path (mode 0600, truncating it) and writes the header. meta and
 * opts may be NULL; meta->created_ns 0 means now. An option out of range
 * gives RP_TRACE_EINVAL. On success *out owns the open file. */
int rp_trace_writer_open(rp_trace_writer **out, const char *path,
                         const rp_trace_meta *meta,
                         const rp_trace_writer_opts *opts,
                         char *err, size_t errlen);

/* Appends one record (copied). Records must come in non-decreasing ts_ns
 * order; an earlier one is rejected with RP_TRACE_EINVAL, as is a record
 * too large for one block. The resp_* fields are stored only when
 * RP_REC_HAS_RESPONSE is set. After an RP_TRACE_EIO the writer accepts
 * nothing more; rp_trace_writer_close still frees it, and the file keeps
 * every block written before the error. */
int rp_trace_writer_add(rp_trace_writer *w, const rp_record *rec,
                        char *err, size_t errlen);

/* Number of records added so far. */
uint64_t rp_trace_writer_records(const rp_trace_writer *w);

/* Writes out the current block, even if not full, and fsyncs nothing; used
 * by live capture to bound what a crash can lose. */
int rp_trace_writer_flush(rp_trace_writer *w, char *err, size_t errlen);

/* Flushes, writes the index and trailer, closes and frees w (also on
 * error). w may be NULL. */
int rp_trace_writer_close(rp_trace_writer *w, char *err, size_t errlen);

/* Summary the reader knows from the header and, if present, the index. */
typedef struct rp_trace_info {
    uint16_t version_major, version_minor;
    char source[256];
    char filter[256];
    char tool[64];
    char redaction[512];      /* "" when nothing was redacted */
    char sample[32];          /* "" when every connection was kept */
    char history[1024];       /* "" when the trace is as captured */
    uint64_t created_ns;
    uint32_t link_type;
    uint32_t snaplen;
    int has_index;            /* 0 for a trace whose writer was killed */
    uint64_t records;         /* from the index; 0 if no index */
    uint64_t blocks;          /* from the index; 0 if no index */
    uint64_t first_ts_ns, last_ts_ns;   /* from the index; 0 if none */
    uint64_t file_bytes;
    int header_damaged;       /* the header checksum does not match or its
                                 length is invalid, so the metadata fields
                                 above are empty or zero */
    int index_damaged;        /* the trailer or index is invalid, so the
                                 file is read as if it had no index */
} rp_trace_info;

/* Opens a trace for sequential reading, one block in memory at a time.
 * Returns RP_TRACE_EFORMAT for an empty file, a file without the trace
 * magic or one of a newer major version; RP_TRACE_ECORRUPT when the file
 * ends inside its header; RP_TRACE_EIO when it cannot be opened or read. */
int rp_trace_reader_open(rp_trace_reader **out, const char *path,
                         char *err, size_t errlen);

const rp_trace_info *rp_trace_reader_info(const rp_trace_reader *r);

/* Reads the next record into *rec; its pointers stay valid until the next
 * call or close. Returns 0, RP_TRACE_EOF at the end, or a negative code.
 * RP_TRACE_ECORRUPT reports one damaged or truncated block, with err
 * naming the file and the block's offset; the block is counted and the
 * next call goes on with the following block. RP_TRACE_EIO means a read
 * failed, and reading should stop. Records come in non-decreasing ts_ns
 * order: a block that would break the order counts as damaged. */
int rp_trace_reader_next(rp_trace_reader *r, rp_record *rec,
                         char *err, size_t errlen);

/* Number of damaged or truncated blocks skipped so far. A run of bytes
 * skipped by the scan for the next block magic counts as one block. */
uint64_t rp_trace_reader_bad_blocks(const rp_trace_reader *r);

/* Number of records known lost in the damaged blocks so far: the record
 * count of each whose header checksum matched or whose index entry was
 * valid. Records in a region skipped by the scan are not known. */
uint64_t rp_trace_reader_lost_records(const rp_trace_reader *r);

/* Number of blocks read and decoded without error so far. */
uint64_t rp_trace_reader_good_blocks(const rp_trace_reader *r);

/* Bytes of the blocks read without error so far: in the file (block
 * headers included) and once decompressed. */
void rp_trace_reader_bytes(const rp_trace_reader *r, uint64_t *compressed,
                           uint64_t *raw);

/* Restarts reading at the first record and resets the counts above. */
int rp_trace_reader_rewind(rp_trace_reader *r, char *err, size_t errlen);

/* Positions the reader so that the next record is the first one with
 * ts_ns >= the given time. With an index it decompresses only the block
 * that holds that record; without one it walks the block headers from
 * the start of the file, decompressing nothing before that block. The
 * counts above are kept. Returns 0. */
int rp_trace_reader_seek(rp_trace_reader *r, uint64_t ts_ns,
                         char *err, size_t errlen);

void rp_trace_reader_close(rp_trace_reader *r);

/* What rp_trace_repair did. */
typedef struct rp_trace_repair_stats {
    uint64_t blocks;          /* blocks copied to the output */
    uint64_t records;         /* records in them */
    uint64_t bad_blocks;      /* damaged or truncated blocks left out */
    uint64_t lost_records;    /* records known lost in those */
    int had_index;            /* the input had a valid index */
    int header_damaged;       /* the input's metadata was unreadable */
} rp_trace_repair_stats;

/* Options of rp_trace_repair; every field may be 0 or NULL. */
typedef struct rp_trace_repair_opts {
    const char *history;      /* a line appended to the output's history */
    /* Called with the message of each damaged or truncated block left
     * out, as rp_trace_reader_next reports it. */
    void (*on_damage)(void *ctx, const char *message);
    void *ctx;
} rp_trace_repair_opts;

/* Copies every valid block of the trace in_path to a new trace out_path
 * (mode 0600), byte for byte and without recompressing, then writes a
 * fresh index. This is how a trace whose writer was killed, or whose
 * index or some blocks are damaged, gets a complete index again. The
 * output keeps the input's version and header fields when the header is
 * intact, else it gets a header with empty metadata. out_path must not
 * name the input file (RP_TRACE_EINVAL). Returns 0 or a negative code;
 * on error out_path is removed. */
int rp_trace_repair(const char *in_path, const char *out_path,
                    const rp_trace_repair_opts *opts, rp_trace_repair_stats *stats,
                    char *err, size_t errlen);

#endif
