#include "capture/sink.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_RECORDS 1024
#define BATCH_BYTES   (1u << 20)
#define MAX_QUEUED    4          /* batches waiting for the writer */

/* Records whose strings live in one arena, stored as offsets so the arena
 * can grow. */
typedef struct batch {
    struct batch *next;
    rp_record *recs;
    size_t nrecs;
    uint8_t *arena;
    size_t used, cap;
    int flush;                   /* write out the block after this batch */
} batch;

struct rp_sink {
    rp_trace_writer *w;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t ready, space;
    batch *head, *tail;          /* queue, oldest first */
    size_t queued;
    int closing;
    int failed;
    char err[256];
    batch *cur;                  /* being filled by the capture thread */
};

static batch *batch_new(void)
{
    batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->recs = malloc(BATCH_RECORDS * sizeof *b->recs);
    b->cap = BATCH_BYTES;
    b->arena = malloc(b->cap);
    if (b->recs == NULL || b->arena == NULL) {
        free(b->recs);
        free(b->arena);
        free(b);
        return NULL;
    }
    return b;
}

static void batch_free(batch *b)
{
    if (b == NULL)
        return;
    free(b->recs);
    free(b->arena);
    free(b);
}

/* Appends n bytes to the arena and returns their offset, or SIZE_MAX. */
static size_t arena_put(batch *b, const void *p, size_t n)
{
    if (b->used + n > b->cap) {
        size_t cap = b->cap;
        while (cap < b->used + n)
            cap *= 2;
        uint8_t *a = realloc(b->arena, cap);
        if (a == NULL)
            return SIZE_MAX;
        b->arena = a;
        b->cap = cap;
    }
    if (n)
        memcpy(b->arena + b->used, p, n);
    size_t off = b->used;
    b->used += n;
    return off;
}

static int write_batch(rp_sink *s, batch *b)
{
    for (size_t i = 0; i < b->nrecs; i++) {
        rp_record rec = b->recs[i];
        rec.method = (const char *)b->arena + (uintptr_t)rec.method;
        rec.target = (const char *)b->arena + (uintptr_t)rec.target;
        rec.headers = (const char *)b->arena + (uintptr_t)rec.headers;
        rec.body = b->arena + (uintptr_t)rec.body;
        if (rp_trace_writer_add(s->w, &rec, s->err, sizeof s->err) < 0)
            return -1;
    }
    if (b->flush && rp_trace_writer_flush(s->w, s->err, sizeof s->err) < 0)
        return -1;
    return 0;
}

static void *writer_main(void *arg)
{
    rp_sink *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->head == NULL && !s->closing)
            pthread_cond_wait(&s->ready, &s->lock);
        batch *b = s->head;
        if (b == NULL)
            break;                      /* closing and drained */
        s->head = b->next;
        if (s->head == NULL)
            s->tail = NULL;
        s->queued--;
        pthread_cond_signal(&s->space);
        int failed = s->failed;
        pthread_mutex_unlock(&s->lock);

        int rc = failed ? 0 : write_batch(s, b);
        batch_free(b);

        pthread_mutex_lock(&s->lock);
        if (rc < 0)
            s->failed = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int rp_sink_open(rp_sink **out, const char *path, const rp_trace_meta *meta,
                 const rp_trace_writer_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    rp_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return RP_TRACE_ENOMEM;
    }
    int rc = rp_trace_writer_open(&s->w, path, meta, opts, err, errlen);
    if (rc < 0) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->ready, NULL);
    pthread_cond_init(&s->space, NULL);
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        rp_trace_writer_close(s->w, err, errlen);
        snprintf(err, errlen, "cannot start the trace writer thread");
        free(s);
        return RP_TRACE_EIO;
    }
    *out = s;
    return 0;
}

/* Queues the current batch, waiting while the queue is full. */
static int hand_over(rp_sink *s, int flush, char *err, size_t errlen)
{
    batch *b = s->cur;
    if (b == NULL) {
        if (!flush)
            return 0;
        b = batch_new();        /* an empty batch still carries the flush */
        if (b == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    s->cur = NULL;
    b->flush = flush;

    pthread_mutex_lock(&s->lock);
    while (s->queued >= MAX_QUEUED && !s->failed)
        pthread_cond_wait(&s->space, &s->lock);
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    s->queued++;
    int failed = s->failed;
    if (failed)
        snprintf(err, errlen, "%s", s->err);
    pthread_cond_signal(&s->ready);
    pthread_mutex_unlock(&s->lock);
    return failed ? -1 : 0;
}

int rp_sink_add(rp_sink *s, const rp_record *rec, char *err, size_t errlen)
{
    if (s->cur == NULL && (s->cur = batch_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    batch *b = s->cur;
    rp_record r = *rec;
    size_t m = arena_put(b, rec->method, rec->method_len);
    size_t t = arena_put(b, rec->target, rec->target_len);
    size_t h = arena_put(b, rec->headers, rec->headers_len);
    size_t d = arena_put(b, rec->body, rec->body_len);
    if (m == SIZE_MAX || t == SIZE_MAX || h == SIZE_MAX || d == SIZE_MAX) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r.method = (const char *)(uintptr_t)m;
    r.target = (const char *)(uintptr_t)t;
    r.headers = (const char *)(uintptr_t)h;
    r.body = (const uint8_t *)(uintptr_t)d;
    b->recs[b->nrecs++] = r;

    if (b->nrecs == BATCH_RECORDS || b->used >= BATCH_BYTES)
        return hand_over(s, 0, err, errlen);
    return 0;
}

int rp_sink_flush(rp_sink *s, char *err, size_t errlen)
{
    return hand_over(s, 1, err, errlen);
}

int rp_sink_close(rp_sink *s, char *err, size_t errlen)
{
    int rc = hand_over(s, 0, err, errlen);
    pthread_mutex_lock(&s->lock);
    s->closing = 1;
    pthread_cond_signal(&s->ready);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);

    if (s->failed && rc == 0) {
        snprintf(err, errlen, "%s", s->err);
        rc = -1;
    }
    char cerr[256];
    if (rp_trace_writer_close(s->w, cerr, sizeof cerr) < 0 && rc == 0) {
        snprintf(err, errlen, "%s", cerr);
        rc = -1;
    }
    batch_free(s->cur);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->ready);
    pthread_cond_destroy(&s->space);
    free(s);
    return rc;
}
