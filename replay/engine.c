#include "replay/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "replay/curl_transport.h"

#define PROGRESS_MS 1000

typedef struct engine {
    const rp_engine_config *cfg;
    rp_stats *stats;
    rp_engine_result *res;
    uv_loop_t loop;
    uv_timer_t dispatch_timer;   /* kicks: dispatch on the next loop turn */
    int due_fd;                  /* timerfd armed at the next due time */
    uv_poll_t due_poll;
    uv_timer_t progress_timer;
    uv_signal_t signal;
    rp_sched *sched;
    rp_transport *transport;

    rp_request *slots;           /* max_connections requests */
    rp_request **free_slots;
    size_t free_count;
    uint64_t in_flight;

    uint64_t start_ns;
    uint64_t last_event_ns;      /* last completion or skip */
    uint64_t next_due_ns;        /* 0 when nothing is waiting on a timer */
    int waiting_for_slot;
    int sched_done;
    int stopping;
    int shut_down;
    int read_error;
    char read_err[512];
} engine;

static void dispatch(engine *e);

static void on_dispatch_timer(uv_timer_t *t) { dispatch(t->data); }

static void on_due(uv_poll_t *p, int status, int events)
{
    engine *e = p->data;
    uint64_t expirations;
    /* Clears the readiness. EAGAIN, when nothing expired, is harmless. */
    ssize_t n = read(e->due_fd, &expirations, sizeof expirations);
    (void)n;
    dispatch(e);
}

/* Runs dispatch on the next loop turn. */
static void kick(engine *e)
{
    uv_timer_start(&e->dispatch_timer, on_dispatch_timer, 0, 0);
}

/* Wakes the loop at due_ns. The timerfd runs on CLOCK_MONOTONIC, the clock
 * of uv_hrtime(), with nanosecond resolution (libuv timers have
 * milliseconds). It fires at most the thread's timer slack late. */
static void arm(engine *e, uint64_t due_ns)
{
    e->next_due_ns = due_ns;
    struct itimerspec when = {
        .it_value = { .tv_sec = (time_t)(due_ns / 1000000000ull),
                      .tv_nsec = (long)(due_ns % 1000000000ull) },
    };
    timerfd_settime(e->due_fd, TFD_TIMER_ABSTIME, &when, NULL);
}

static void disarm(engine *e)
{
    struct itimerspec never = { 0 };
    if (e->next_due_ns != 0)
        timerfd_settime(e->due_fd, 0, &never, NULL);
    e->next_due_ns = 0;
}

static void note_warning(engine *e, const char *msg)
{
    if (msg[0] != '\0')
        snprintf(e->res->warning, sizeof e->res->warning, "%s", msg);
}

/* Hands one due record to the transport. */
static void submit(engine *e, const rp_record *rec, uint64_t due_ns)
{
    rp_request *req = e->free_slots[--e->free_count];
    uint64_t seq = rp_sched_consumed(e->sched);
    int rc = rp_request_fill(req, rec, e->cfg->target->base_path);
    rp_sched_advance(e->sched);

    char err[256];
    if (rc == 0) {
        req->seq = seq;
        req->due_ns = due_ns;
        rc = e->transport->ops->submit(e->transport, req, err, sizeof err);
    }
    if (rc != 0) {
        e->stats->submit_failed++;
        e->free_slots[e->free_count++] = req;
        return;
    }
    e->stats->submitted++;
    e->in_flight++;
    if (e->in_flight > e->res->max_in_flight)
        e->res->max_in_flight = e->in_flight;
}

/* Sends every request that is due and arms the wait for the next one.
 * Returns the number handed to the transport. */
static int send_due(engine *e)
{
    int submitted = 0;
    for (;;) {
        if (e->free_count == 0) {
            e->waiting_for_slot = 1;
            break;
        }
        const rp_record *rec;
        uint64_t offset;
        char msg[512];
        int rc = rp_sched_peek(e->sched, &rec, &offset, msg, sizeof msg);
        if (rc != 0) {
            e->sched_done = 1;
            if (rc < 0) {
                e->read_error = rc;
                snprintf(e->read_err, sizeof e->read_err, "%s", msg);
            }
            break;
        }
        note_warning(e, msg);

        uint64_t due = e->start_ns + offset;
        uint64_t now = uv_hrtime();
        if (due > now) {
            arm(e, due);
            break;
        }
        e->stats->due++;
        if (rec->flags & RP_REC_CONNECT) {
            e->stats->skipped_connect++;
            e->last_event_ns = now;
            rp_sched_advance(e->sched);
            continue;
        }
        submit(e, rec, due);
        submitted++;
    }
    return submitted;
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

/* Closes every handle so that uv_run returns. */
static void shut_down(engine *e)
{
    if (e->shut_down)
        return;
    e->shut_down = 1;
    uv_close((uv_handle_t *)&e->dispatch_timer, on_handle_closed);
    uv_poll_stop(&e->due_poll);
    uv_close((uv_handle_t *)&e->due_poll, on_handle_closed);
    uv_close((uv_handle_t *)&e->progress_timer, on_handle_closed);
    uv_close((uv_handle_t *)&e->signal, on_handle_closed);
    e->transport->ops->close(e->transport);
    e->transport = NULL;
}

static void dispatch(engine *e)
{
    if (e->shut_down)
        return;
    uv_timer_stop(&e->dispatch_timer);
    disarm(e);
    e->waiting_for_slot = 0;

    if (!e->stopping && !e->sched_done) {
        int submitted = send_due(e);
        if (submitted > 0 && e->transport->ops->flush != NULL)
            e->transport->ops->flush(e->transport);
    }
    if ((e->stopping || e->sched_done) && e->in_flight == 0) {
        if (e->stopping)
            e->last_event_ns = uv_hrtime();
        shut_down(e);
    }
}

static void on_done(void *ctx, rp_request *req, const rp_outcome *out)
{
    engine *e = ctx;
    rp_stats_record(e->stats, req, out);
    e->free_slots[e->free_count++] = req;
    e->in_flight--;
    if (out->done_ns > e->last_event_ns)
        e->last_event_ns = out->done_ns;

    /* Dispatch runs on the next turn: calling back into the transport
     * from its own completion is not allowed. */
    if (e->waiting_for_slot || ((e->stopping || e->sched_done) && e->in_flight == 0))
        kick(e);
}

static void on_signal(uv_signal_t *h, int signum)
{
    engine *e = h->data;
    if (e->stopping) {
        /* A second signal: give the default action back, so a third one
         * ends the process even if shutting down hangs. */
        uv_signal_stop(h);
        return;
    }
    e->stopping = 1;
    e->res->interrupted = 1;
    if (e->transport != NULL)
        e->transport->ops->cancel_all(e->transport);
    kick(e);
}

static void on_progress(uv_timer_t *t)
{
    engine *e = t->data;
    uint64_t now = uv_hrtime();
    rp_engine_progress p = {
        .elapsed_ns = now - e->start_ns,
        .due = e->stats->due,
        .sent = e->stats->sent,
        .responses = e->stats->responses,
        .errors = rp_stats_errors_total(e->stats),
        .in_flight = e->in_flight,
        .next_due_in_ns = e->next_due_ns > now ? e->next_due_ns - now : 0,
    };
    e->cfg->progress(e->cfg->progress_ctx, &p);
}

static int alloc_slots(engine *e, uint32_t n)
{
    e->slots = calloc(n, sizeof *e->slots);
    e->free_slots = calloc(n, sizeof *e->free_slots);
    if (e->slots == NULL || e->free_slots == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        e->free_slots[i] = &e->slots[n - 1 - i];
    e->free_count = n;
    return 0;
}

static void free_slots(engine *e, uint32_t n)
{
    if (e->slots != NULL)
        for (uint32_t i = 0; i < n; i++)
            rp_request_release(&e->slots[i]);
    free(e->slots);
    free(e->free_slots);
}

static int start_transport(engine *e, char *err, size_t errlen)
{
    const rp_engine_config *cfg = e->cfg;
    rp_transport_config tc = {
        .loop = &e->loop,
        .target = cfg->target,
        .keep_host = cfg->keep_host,
        .timeout_ns = cfg->timeout_ns,
        .connect_timeout_ns = cfg->connect_timeout_ns,
        .max_connections = cfg->max_connections,
        .done = on_done,
        .done_ctx = e,
    };
    rp_transport_new_fn make = cfg->transport_new ? cfg->transport_new : rp_curl_transport_new;
    if (make(&e->transport, &tc, err, errlen) != 0)
        return -1;
    snprintf(e->res->transport, sizeof e->res->transport, "%s", e->transport->ops->name);
    e->transport->ops->version(e->transport, e->res->transport_version,
                               sizeof e->res->transport_version);
    return 0;
}

/* Creates the loop's handles. Returns 0, or -1 with err filled. */
static int init_handles(engine *e, char *err, size_t errlen)
{
    e->due_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (e->due_fd < 0) {
        snprintf(err, errlen, "cannot create the dispatch timer: %s", strerror(errno));
        return -1;
    }
    uv_timer_init(&e->loop, &e->dispatch_timer);
    uv_poll_init(&e->loop, &e->due_poll, e->due_fd);
    uv_timer_init(&e->loop, &e->progress_timer);
    uv_signal_init(&e->loop, &e->signal);
    e->dispatch_timer.data = e->due_poll.data = e->progress_timer.data = e->signal.data = e;

    uv_poll_start(&e->due_poll, UV_READABLE, on_due);
    if (e->cfg->stop_signal != 0)
        uv_signal_start(&e->signal, on_signal, e->cfg->stop_signal);
    if (e->cfg->progress != NULL)
        uv_timer_start(&e->progress_timer, on_progress, PROGRESS_MS, PROGRESS_MS);
    return 0;
}

static void run_loop(engine *e)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    e->res->start_wall_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
    e->start_ns = uv_hrtime();
    e->last_event_ns = e->start_ns;
    dispatch(e);
    uv_run(&e->loop, UV_RUN_DEFAULT);

    e->res->duration_ns = e->last_event_ns - e->start_ns;
    e->res->gaps_shortened = rp_sched_gaps_shortened(e->sched);
    e->res->bad_blocks = rp_sched_bad_blocks(e->sched);
}

int rp_engine_run(const rp_engine_config *cfg, rp_stats *stats,
                  rp_engine_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    engine e = { .cfg = cfg, .stats = stats, .res = res, .due_fd = -1 };
    uint32_t n = cfg->max_connections > 0 ? cfg->max_connections : 1;

    if (rp_sched_open(&e.sched, cfg->trace_path, &cfg->sched, err, errlen) != 0)
        return RP_ENGINE_ETRACE;

    int rc = RP_ENGINE_ESETUP;
    int uv_rc = uv_loop_init(&e.loop);
    if (uv_rc != 0) {
        snprintf(err, errlen, "cannot start the event loop: %s", uv_strerror(uv_rc));
        goto out;
    }
    if (alloc_slots(&e, n) != 0) {
        snprintf(err, errlen, "out of memory allocating %u request slots", n);
        goto out_loop;
    }
    if (init_handles(&e, err, errlen) != 0)
        goto out_loop;
    if (start_transport(&e, err, errlen) != 0) {
        /* Nothing ran: close the handles through the normal shutdown. */
        e.shut_down = 1;
        uv_close((uv_handle_t *)&e.dispatch_timer, on_handle_closed);
        uv_close((uv_handle_t *)&e.due_poll, on_handle_closed);
        uv_close((uv_handle_t *)&e.progress_timer, on_handle_closed);
        uv_close((uv_handle_t *)&e.signal, on_handle_closed);
        uv_run(&e.loop, UV_RUN_DEFAULT);
        goto out_loop;
    }

    run_loop(&e);
    rc = 0;
    if (e.read_error != 0) {
        snprintf(err, errlen, "%s", e.read_err);
        rc = RP_ENGINE_EREAD;
    }
out_loop:
    uv_loop_close(&e.loop);
out:
    if (e.due_fd >= 0)
        close(e.due_fd);
    free_slots(&e, n);
    rp_sched_close(e.sched);
    return rc;
}
