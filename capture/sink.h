/* A trace writer on its own thread: capture hands over finished records in
 * batches and goes on parsing while another core compresses and writes.
 * The queue is bounded, so a slow disk slows capture instead of growing
 * memory. */
#ifndef RP_SINK_H
#define RP_SINK_H

#include <stddef.h>

#include "formats/trace.h"

typedef struct rp_sink rp_sink;

/* Creates the trace (as rp_trace_writer_open does) and starts the thread. */
int rp_sink_open(rp_sink **out, const char *path, const rp_trace_meta *meta,
                 const rp_trace_writer_opts *opts, char *err, size_t errlen);

/* Copies rec into the current batch. Returns 0, or -1 once the writer has
 * failed (err then holds its message). */
int rp_sink_add(rp_sink *s, const rp_record *rec, char *err, size_t errlen);

/* Hands over the current batch and has the writer write out its block, so
 * what was captured so far is on disk shortly after. */
int rp_sink_flush(rp_sink *s, char *err, size_t errlen);

/* Writes everything, closes the trace, stops the thread and frees s (also
 * on error). */
int rp_sink_close(rp_sink *s, char *err, size_t errlen);

#endif
