/* Helpers of the trace verbs (export, slice, filter, merge, sample,
 * repair, import): opening and reading a trace with the warnings on
 * stderr, and writing an output trace that keeps its source's metadata
 * and notes the operation in the history field. */
#ifndef RP_TRACE_TOOL_H
#define RP_TRACE_TOOL_H

#include <stdint.h>

#include "formats/trace.h"

/* Opens path, printing an error ("reprise VERB: ...") and returning -1
 * when it cannot be read, and a warning when its header or index is
 * damaged. */
int rp_tool_open(const char *verb, const char *path, rp_trace_reader **r);

/* Reads the next record. A damaged block is reported on stderr and
 * skipped. Returns 0, 1 at the end, or -1 after printing a read error. */
int rp_tool_next(const char *verb, rp_trace_reader *r, rp_record *rec);

/* Returns "reprise X.Y.Z: VERB ARGS" (malloc'd): the line an output
 * trace's history gets. Arguments are joined with spaces as given. */
char *rp_tool_history_line(const char *verb, int argc, char **argv);

/* Creates the output trace out_path with src's metadata (src may be
 * NULL), its history extended by line. Prints the error and returns -1
 * on failure. zstd_level 0 means the default, as does block_records 0. */
int rp_tool_writer_open(const char *verb, const char *out_path, const rp_trace_info *src,
                        const char *line, int zstd_level, uint32_t block_records,
                        rp_trace_writer **w);

/* Adds rec; prints the error and returns -1 on failure. */
int rp_tool_write(const char *verb, rp_trace_writer *w, const rp_record *rec);

/* Closes w; prints the error and returns -1 on failure. */
int rp_tool_writer_close(const char *verb, rp_trace_writer *w);

/* Nonzero when a and b name the same existing file. */
int rp_tool_same_file(const char *a, const char *b);

/* Parses a zstd level for --level (1 to 19). Returns 0 or -1. */
int rp_tool_parse_level(const char *text, int *level);

/* Parses a time for --from and --to: a duration from the trace's first
 * record in one unit ("30s", "5m", "1.5h"), or an RFC 3339 time such as
 * 2024-12-03T10:00:00Z or 2024-12-03T11:00:00.5+01:00. Returns 0 and
 * sets *ns (absolute, ns since the epoch), or -1. */
int rp_tool_parse_time(const char *text, uint64_t first_ts, uint64_t *ns);

#endif
