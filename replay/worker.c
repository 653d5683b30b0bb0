#include "replay/worker.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "replay/curl_transport.h"
#include "replay/lean_transport.h"

#define TICK_MS 100                /* snapshot period for the progress line */

typedef struct user {
    uint64_t due_ns;
    size_t session;                /* index into the sessions */
    size_t next_req;               /* index into the sessions' requests */
    uint64_t pass;
    uint32_t heap_pos;
} user;

struct rp_worker {
    rp_shared *sh;
    uint32_t index;
    pthread_t thread;
    int started;

    uv_loop_t loop;
    uv_async_t stop_async;         /* initialised by rp_worker_new */
    pthread_mutex_t stop_lock;     /* guards async_open */
    int async_open;
    uv_idle_t kick;                /* dispatch at the next loop turn */
    int due_fd;                    /* timerfd armed at the next due time */
    uv_poll_t due_poll;
    uv_timer_t tick_timer;
    uv_timer_t end_timer;          /* the run's duration */
    int handles_ready;
    rp_transport *transport;
    rp_sched *sched;

    rp_request *slots;
    rp_request **free_slots;
    size_t free_count;
    uint32_t slot_count;
    uint64_t in_flight;

    user *users;                   /* users mode */
    uint32_t user_count;
    user **heap;                   /* users waiting, earliest due first */
    uint32_t heap_len;
    uint64_t session_cursor;       /* sessions of this worker taken in the pass */
    uint64_t session_pass;

    int pace;
    int users_mode;
    uint64_t armed_ns;             /* the timerfd's expiry; 0 when not armed */
    uint64_t last_event_ns;        /* last completion or skip */
    int waiting_for_slot;
    uint64_t wait_release_ns;      /* last time a slot freed up while a due
                                      request waited for one */
    int sending_done;
    int stopping;
    int shut_down;
    int error;
    char errmsg[512];

    rp_stats stats;
    rp_results *results;           /* NULL when the run collects none */
    rp_engine_result res;
    rp_worker_snapshot snap;
};

static void dispatch(rp_worker *w);

/* ---- timing ---- */

static void on_kick(uv_idle_t *h)
{
    rp_worker *w = h->data;
    uv_idle_stop(h);
    dispatch(w);
}

/* Runs dispatch on the next loop turn, once however many completions ask
 * for it in this one. */
static void kick(rp_worker *w)
{
    if (!w->shut_down && !uv_is_active((uv_handle_t *)&w->kick))
        uv_idle_start(&w->kick, on_kick);
}

static void on_due(uv_poll_t *p, int status, int events)
{
    rp_worker *w = p->data;
    uint64_t expirations;
    /* Clears the readiness. EAGAIN, when nothing expired, is harmless. */
    ssize_t n = read(w->due_fd, &expirations, sizeof expirations);
    (void)n;
    w->armed_ns = 0;
    dispatch(w);
}

/* Wakes the loop at due_ns. The timerfd runs on CLOCK_MONOTONIC, the clock
 * of uv_hrtime(), with nanosecond resolution. It fires at most the
 * thread's timer slack late. */
static void arm(rp_worker *w, uint64_t due_ns)
{
    if (w->armed_ns == due_ns)
        return;
    w->armed_ns = due_ns;
    struct itimerspec when = {
        .it_value = { .tv_sec = (time_t)(due_ns / 1000000000ull),
                      .tv_nsec = (long)(due_ns % 1000000000ull) },
    };
    timerfd_settime(w->due_fd, TFD_TIMER_ABSTIME, &when, NULL);
}

/* ---- results ---- */

/* Accounts for a due request that never reached the transport (kind
 * RP_RES_NOT_SENT, _SKIPPED or _CLIENT), named by its captured target. */
static void result_unsent(rp_worker *w, const rp_record *rec, uint64_t due, uint64_t now,
                          int kind)
{
    if (w->results == NULL)
        return;
    rp_request_result rr = {
        .due_ns = due, .done_ns = now,
        .method = rec->method, .method_len = rec->method_len,
        .target = rec->target, .target_len = rec->target_len,
        .recorded_status = (rec->flags & RP_REC_HAS_RESPONSE) ? rec->resp_status : 0,
        .kind = kind,
    };
    /* A length of 0 means NUL-terminated to rp_results_add. */
    if (rr.method_len == 0)
        rr.method = "";
    if (rr.target_len == 0)
        rr.target = "";
    rp_results_add(w->results, &rr);
}

/* Accounts for a request the transport finished with. The transport's
 * error kinds share their values with the first result kinds. */
static void result_done(rp_worker *w, const rp_request *req, const rp_outcome *out)
{
    if (w->results == NULL)
        return;
    int kind = out->cancelled ? RP_RES_CANCELLED
             : out->error >= RP_ERR_NONE && out->error <= RP_ERR_CLIENT ? out->error
             : RP_RES_OTHER;
    rp_request_result rr = {
        .due_ns = req->due_ns, .send_ns = out->send_ns, .first_byte_ns = out->first_byte_ns,
        .done_ns = out->done_ns,
        .method = req->method, .target = req->captured_target,
        .status = out->status, .recorded_status = req->recorded_status,
        .kind = kind, .bytes_received = out->bytes_received,
    };
    rp_results_add(w->results, &rr);
}

/* ---- handing requests to the transport ---- */

static void count_window(rp_worker *w, uint64_t now)
{
    uint64_t ms = (now - w->sh->start_ns) / 1000000u;
    atomic_fetch_add_explicit(&w->sh->window[ms % RP_WINDOW_RING_MS], 1, memory_order_relaxed);
}

/* Builds and submits one request on a free slot. Its dispatch lag
 * counts unless it waited for the in-flight limit, which is not the
 * generator's own lateness. Returns 0, or -1 when it could not be built or
 * taken (counted as submit_failed). */
static int submit(rp_worker *w, const rp_record *rec, uint64_t due, uint64_t seq,
                  uint64_t conn_key, int last, void *owner, uint64_t now, int waited)
{
    rp_request *req = w->free_slots[--w->free_count];
    char err[256];
    int rc = rp_request_build(req, rec, w->sh->rules);
    if (rc == 0) {
        req->seq = seq;
        req->due_ns = due;
        req->conn_key = conn_key;
        req->last_on_conn = (uint8_t)last;
        req->owner = owner;
        rc = w->transport->ops->submit(w->transport, req, err, sizeof err);
    }
    if (rc != 0) {
        w->stats.submit_failed++;
        result_unsent(w, rec, due, now, RP_RES_CLIENT);
        w->free_slots[w->free_count++] = req;
        return -1;
    }
    w->stats.submitted++;
    w->in_flight++;
    if (w->in_flight > w->res.max_in_flight)
        w->res.max_in_flight = w->in_flight;
    if (!waited)
        rp_hist_record(w->stats.dispatch_lag, now > due ? (now - due + 500) / 1000 : 0);
    if (w->pace != RP_PACE_MAX && !w->users_mode)
        count_window(w, now);
    return 0;
}

static void note_warning(rp_worker *w, const char *msg)
{
    if (msg[0] != '\0')
        snprintf(w->res.warning, sizeof w->res.warning, "%s", msg);
}

/* The due time of schedule offset offset_ns, after the pace change. */
static uint64_t due_at(const rp_worker *w, uint64_t offset_ns)
{
    const rp_engine_config *cfg = w->sh->cfg;
    uint64_t at = cfg->pace_change_at_ns;
    if (at != 0 && offset_ns > at)
        offset_ns = at + (uint64_t)((double)(offset_ns - at) * cfg->pace_change_factor);
    return w->sh->start_ns + offset_ns;
}

/* Whether user u stops at the pace change: after it, the first
 * user_count / factor users of this worker go on. */
static int user_leaves(const rp_worker *w, const user *u, uint64_t now)
{
    const rp_engine_config *cfg = w->sh->cfg;
    if (cfg->pace_change_at_ns == 0 || now < w->sh->start_ns + cfg->pace_change_at_ns)
        return 0;
    double keep = ceil((double)w->user_count / cfg->pace_change_factor);
    return (double)(u - w->users) >= keep;
}

/* Whether a request whose due time is due_ns may still start. */
static int within_duration(const rp_worker *w, uint64_t due_ns)
{
    uint64_t d = w->sh->cfg->duration_ns;
    return d == 0 || due_ns < w->sh->start_ns + d;
}

static void end_sending(rp_worker *w, int by_duration)
{
    w->sending_done = 1;
    if (by_duration)
        w->res.hit_duration = 1;
}

/* Open and closed loop: sends every request that is due, then arms the
 * wait for the next one. Returns the number handed to the transport. */
static int sched_dispatch(rp_worker *w)
{
    int submitted = 0;
    /* A closed loop sends at once, so one clock read serves the batch. */
    uint64_t batch_now = w->pace == RP_PACE_MAX ? uv_hrtime() : 0;
    for (;;) {
        rp_sched_item it;
        char msg[512];
        int rc = rp_sched_peek(w->sched, &it, msg, sizeof msg);
        if (rc != 0) {
            end_sending(w, 0);
            if (rc < 0) {
                w->error = RP_ENGINE_EREAD;
                snprintf(w->errmsg, sizeof w->errmsg, "%s", msg);
            }
            break;
        }
        note_warning(w, msg);

        uint64_t now = batch_now ? batch_now : uv_hrtime();
        uint64_t due = w->pace == RP_PACE_MAX ? now : due_at(w, it.offset_ns);
        if (!within_duration(w, due)) {
            end_sending(w, 1);
            break;
        }
        if (due > now) {
            arm(w, due);
            break;
        }
        if (w->free_count == 0) {
            if (w->sh->cfg->drop_over_limit && w->pace != RP_PACE_MAX) {
                w->stats.due++;
                w->stats.not_sent++;
                result_unsent(w, it.rec, due, now, RP_RES_NOT_SENT);
                w->last_event_ns = now;
                rp_sched_advance(w->sched);
                continue;
            }
            w->waiting_for_slot = 1;
            break;
        }

        w->stats.due++;
        if (it.rec->flags & RP_REC_CONNECT) {
            w->stats.skipped_connect++;
            result_unsent(w, it.rec, due, now, RP_RES_SKIPPED);
            w->last_event_ns = now;
            rp_sched_advance(w->sched);
            continue;
        }
        /* Every request due before the last release of a slot it waited
         * for went out late because of the limit. */
        int waited = w->pace != RP_PACE_MAX && due < w->wait_release_ns;
        w->stats.waited += waited;
        int ok = submit(w, it.rec, due, it.seq, it.conn_key, it.last_on_conn, NULL, now,
                        waited) == 0;
        rp_sched_advance(w->sched);
        submitted += ok;
    }
    return submitted;
}

/* ---- users ---- */

static int heap_before(const user *a, const user *b) { return a->due_ns < b->due_ns; }

static void heap_swap(rp_worker *w, uint32_t i, uint32_t j)
{
    user *t = w->heap[i];
    w->heap[i] = w->heap[j];
    w->heap[j] = t;
    w->heap[i]->heap_pos = i;
    w->heap[j]->heap_pos = j;
}

static void heap_push(rp_worker *w, user *u)
{
    uint32_t i = w->heap_len++;
    w->heap[i] = u;
    u->heap_pos = i;
    while (i > 0 && heap_before(w->heap[i], w->heap[(i - 1) / 2])) {
        heap_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static user *heap_pop(rp_worker *w)
{
    user *top = w->heap[0];
    w->heap[0] = w->heap[--w->heap_len];
    w->heap[0]->heap_pos = 0;
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_len && heap_before(w->heap[l], w->heap[m]))
            m = l;
        if (r < w->heap_len && heap_before(w->heap[r], w->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(w, i, m);
        i = m;
    }
    return top;
}

/* Gives u the next session of this worker, due at now. Returns 0 when none
 * is left. */
static int take_session(rp_worker *w, user *u, uint64_t now)
{
    const rp_sessions *ss = w->sh->sessions;
    const rp_engine_config *cfg = w->sh->cfg;
    for (;;) {
        uint64_t s = w->index + w->session_cursor * w->sh->threads;
        if (s < ss->count)
            break;
        if (ss->count <= w->index || (cfg->passes != 0 && w->session_pass + 1 >= cfg->passes))
            return 0;
        w->session_pass++;
        w->session_cursor = 0;
    }
    u->session = w->index + w->session_cursor++ * w->sh->threads;
    u->next_req = ss->first[u->session];
    u->pass = w->session_pass;
    u->due_ns = now;
    w->res.sessions++;
    if (w->session_pass + 1 > w->res.passes)
        w->res.passes = w->session_pass + 1;
    return 1;
}

/* The captured think time before request k, paced like the gaps. */
static uint64_t think_time(const rp_worker *w, size_t k)
{
    const rp_plan *p = w->sh->plan;
    uint64_t t = w->sh->sessions->reqs[k].think_ns;
    if (p->opts.pace == RP_PACE_MAX)
        return 0;
    t = (uint64_t)((double)t / p->speed + 0.5);
    return t > p->opts.max_gap_ns ? p->opts.max_gap_ns : t;
}

/* Moves u on after its request ended at done_ns. */
static void user_next(rp_worker *w, user *u, uint64_t done_ns)
{
    const rp_sessions *ss = w->sh->sessions;
    u->next_req++;
    if (u->next_req < ss->first[u->session + 1]) {
        u->due_ns = done_ns + think_time(w, u->next_req);
        heap_push(w, u);
    } else if (take_session(w, u, done_ns)) {
        heap_push(w, u);
    }
}

static int users_dispatch(rp_worker *w)
{
    const rp_sessions *ss = w->sh->sessions;
    int submitted = 0;
    while (w->heap_len > 0) {
        user *u = w->heap[0];
        uint64_t now = uv_hrtime();
        if (!within_duration(w, u->due_ns)) {
            end_sending(w, 1);
            break;
        }
        if (u->due_ns > now) {
            arm(w, u->due_ns);
            break;
        }
        if (w->free_count == 0) {
            w->waiting_for_slot = 1;
            break;
        }
        heap_pop(w);
        if (user_leaves(w, u, now))
            continue;
        w->stats.due++;
        const rp_record *rec = &ss->reqs[u->next_req].rec;
        int last = u->next_req + 1 == ss->first[u->session + 1];
        uint64_t key = u->pass * w->sh->plan->connections + u->session;
        if ((rec->flags & RP_REC_CONNECT) ||
            submit(w, rec, u->due_ns, u->next_req, key, last, u, now, 0) != 0) {
            if (rec->flags & RP_REC_CONNECT) {
                w->stats.skipped_connect++;
                result_unsent(w, rec, u->due_ns, now, RP_RES_SKIPPED);
            }
            w->last_event_ns = now;
            user_next(w, u, now);
            continue;
        }
        submitted++;
    }
    if (w->heap_len == 0 && w->in_flight == 0)
        end_sending(w, 0);
    return submitted;
}

/* ---- the loop ---- */

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void close_handles(rp_worker *w)
{
    if (w->handles_ready) {
        uv_close((uv_handle_t *)&w->kick, on_handle_closed);
        uv_poll_stop(&w->due_poll);
        uv_close((uv_handle_t *)&w->due_poll, on_handle_closed);
        uv_close((uv_handle_t *)&w->tick_timer, on_handle_closed);
        uv_close((uv_handle_t *)&w->end_timer, on_handle_closed);
    }
    pthread_mutex_lock(&w->stop_lock);
    w->async_open = 0;
    uv_close((uv_handle_t *)&w->stop_async, on_handle_closed);
    pthread_mutex_unlock(&w->stop_lock);
    if (w->transport != NULL)
        w->transport->ops->close(w->transport);
    w->transport = NULL;
}

static void publish(rp_worker *w);

/* Closes every handle so that uv_run returns. */
static void shut_down(rp_worker *w)
{
    if (w->shut_down)
        return;
    w->shut_down = 1;
    publish(w);
    close_handles(w);
}

static void dispatch(rp_worker *w)
{
    if (w->shut_down)
        return;
    w->waiting_for_slot = 0;

    if (!w->stopping && !w->sending_done) {
        int submitted = w->users_mode ? users_dispatch(w) : sched_dispatch(w);
        if (submitted > 0 && w->transport->ops->flush != NULL)
            w->transport->ops->flush(w->transport);
    }
    if ((w->stopping || w->sending_done) && w->in_flight == 0) {
        if (w->stopping)
            w->last_event_ns = uv_hrtime();
        shut_down(w);
    }
}

static void on_done(void *ctx, rp_request *req, const rp_outcome *out)
{
    rp_worker *w = ctx;
    rp_stats_record(&w->stats, req, out);
    result_done(w, req, out);
    w->free_slots[w->free_count++] = req;
    w->in_flight--;
    if (out->done_ns > w->last_event_ns)
        w->last_event_ns = out->done_ns;
    if (w->waiting_for_slot)
        w->wait_release_ns = out->done_ns;
    if (w->users_mode && !out->cancelled)
        user_next(w, req->owner, out->done_ns);

    /* Dispatch runs on the next turn: calling back into the transport
     * from its own completion is not allowed. In a busy loop that turn
     * comes before the timerfd's, which keeps due requests from waiting
     * behind the responses being read. */
    kick(w);
}

/* Counts the requests due before until that were still waiting for the
 * in-flight limit when the run stopped sending: they were due, and are
 * neither sent nor dropped by --over-limit drop. */
static void count_left(rp_worker *w, uint64_t until)
{
    if (w->pace == RP_PACE_MAX || w->sending_done)
        return;
    uint64_t end = w->sh->start_ns + w->sh->cfg->duration_ns;
    if (w->sh->cfg->duration_ns != 0 && end < until)
        until = end;
    if (w->users_mode) {
        for (uint32_t i = 0; i < w->heap_len; i++) {
            if (w->heap[i]->due_ns < until) {
                w->stats.due++;
                w->stats.left_at_stop++;
                result_unsent(w, &w->sh->sessions->reqs[w->heap[i]->next_req].rec,
                              w->heap[i]->due_ns, until, RP_RES_NOT_SENT);
            }
        }
        return;
    }
    rp_sched_item it;
    while (rp_sched_peek(w->sched, &it, NULL, 0) == 0 && due_at(w, it.offset_ns) < until) {
        w->stats.due++;
        w->stats.left_at_stop++;
        result_unsent(w, it.rec, due_at(w, it.offset_ns), until, RP_RES_NOT_SENT);
        rp_sched_advance(w->sched);
    }
}

static void on_stop(uv_async_t *h)
{
    rp_worker *w = h->data;
    if (w->stopping || w->shut_down)
        return;
    count_left(w, uv_hrtime());
    w->stopping = 1;
    w->res.interrupted = 1;
    if (w->transport != NULL)
        w->transport->ops->cancel_all(w->transport);
    kick(w);
}

/* libuv timers count whole milliseconds from a cached loop time, so the
 * end timer can fire before the duration is up: then it waits again. */
static void on_end(uv_timer_t *t)
{
    rp_worker *w = t->data;
    uint64_t end = w->sh->start_ns + w->sh->cfg->duration_ns, now = uv_hrtime();
    if (now < end) {
        uv_timer_start(t, on_end, (end - now + 999999) / 1000000, 0);
        return;
    }
    if (!w->sending_done && !w->stopping) {
        count_left(w, end);
        end_sending(w, 1);
        kick(w);
    }
}

/* ---- progress snapshots ---- */

static void publish(rp_worker *w)
{
    rp_worker_snapshot *s = &w->snap;
    pthread_mutex_lock(&s->lock);
    atomic_store_explicit(&s->due, w->stats.due, memory_order_relaxed);
    /* stats.sent is counted when a request ends; the progress line wants
     * the requests that went out, so it shows the pace kept under load. */
    atomic_store_explicit(&s->sent, w->stats.submitted, memory_order_relaxed);
    atomic_store_explicit(&s->responses, w->stats.responses, memory_order_relaxed);
    atomic_store_explicit(&s->errors, rp_stats_errors_total(&w->stats), memory_order_relaxed);
    atomic_store_explicit(&s->in_flight, w->in_flight, memory_order_relaxed);
    atomic_store_explicit(&s->not_sent, w->stats.not_sent, memory_order_relaxed);
    atomic_store_explicit(&s->next_due_ns, w->armed_ns, memory_order_relaxed);
    atomic_store_explicit(&s->at_ns, uv_hrtime(), memory_order_relaxed);
    rp_hist_merge(s->recent, w->stats.recent);
    pthread_mutex_unlock(&s->lock);
    rp_hist_reset(w->stats.recent);
}

static void on_tick(uv_timer_t *t) { publish(t->data); }

/* ---- setup ---- */

static int alloc_slots(rp_worker *w, uint32_t n)
{
    w->slot_count = n;
    w->slots = calloc(n, sizeof *w->slots);
    w->free_slots = calloc(n, sizeof *w->free_slots);
    if (w->slots == NULL || w->free_slots == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        w->free_slots[i] = &w->slots[n - 1 - i];
    w->free_count = n;
    return 0;
}

/* This worker's share of n: n / threads, the first n % threads workers
 * one more, at least 1. */
static uint32_t share(const rp_worker *w, uint32_t n)
{
    uint32_t t = w->sh->threads;
    uint32_t s = n / t + (w->index < n % t ? 1 : 0);
    return s > 0 ? s : 1;
}

static int start_transport(rp_worker *w)
{
    const rp_engine_config *cfg = w->sh->cfg;
    rp_transport_config tc = {
        .loop = &w->loop,
        .target = cfg->target,
        .timeout_ns = cfg->timeout_ns,
        .connect_timeout_ns = cfg->connect_timeout_ns,
        .conn_mode = cfg->conn_mode,
        .max_connections = share(w, cfg->max_connections),
        .http2 = cfg->http2,
        .insecure = cfg->insecure,
        .cacert = cfg->cacert,
        .done = on_done,
        .done_ctx = w,
    };
    rp_transport_new_fn make = cfg->transport_new;
    if (make == NULL) {
        int lean = cfg->transport == RP_TRANSPORT_LEAN ||
                   (cfg->transport == RP_TRANSPORT_AUTO && !cfg->http2 &&
                    strcmp(cfg->target->scheme, "http") == 0);
        make = lean ? rp_lean_transport_new : rp_curl_transport_new;
    }
    if (make(&w->transport, &tc, w->errmsg, sizeof w->errmsg) != 0)
        return -1;
    snprintf(w->res.transport, sizeof w->res.transport, "%s", w->transport->ops->name);
    w->transport->ops->version(w->transport, w->res.transport_version,
                               sizeof w->res.transport_version);
    w->res.conn_mode_used = cfg->conn_mode == RP_CONN_PRESERVE && !w->transport->ops->can_pin
        ? RP_CONN_POOL : cfg->conn_mode;
    return 0;
}

static int init_handles(rp_worker *w)
{
    w->due_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->due_fd < 0) {
        snprintf(w->errmsg, sizeof w->errmsg, "cannot create the dispatch timer: %s",
                 strerror(errno));
        return -1;
    }
    uv_idle_init(&w->loop, &w->kick);
    uv_poll_init(&w->loop, &w->due_poll, w->due_fd);
    uv_timer_init(&w->loop, &w->tick_timer);
    uv_timer_init(&w->loop, &w->end_timer);
    w->kick.data = w->due_poll.data = w->tick_timer.data = w->end_timer.data = w;
    w->handles_ready = 1;
    uv_poll_start(&w->due_poll, UV_READABLE, on_due);
    uv_timer_start(&w->tick_timer, on_tick, TICK_MS, TICK_MS);
    return 0;
}

static int init_users(rp_worker *w)
{
    uint32_t n = share(w, w->sh->cfg->users);
    w->users = calloc(n, sizeof *w->users);
    w->heap = calloc(n, sizeof *w->heap);
    if (w->users == NULL || w->heap == NULL)
        return -1;
    w->user_count = n;
    return 0;
}

static int setup(rp_worker *w)
{
    const rp_engine_config *cfg = w->sh->cfg;
    w->pace = w->sh->plan->opts.pace;
    w->users_mode = cfg->users > 0;
    w->stats.latency_from_send = w->users_mode || w->pace == RP_PACE_MAX;
    w->res.threads = w->sh->threads;

    uint32_t limit = cfg->max_inflight;
    if (cfg->conn_mode != RP_CONN_NEW && cfg->max_connections < limit)
        limit = cfg->max_connections;
    if (alloc_slots(w, share(w, limit)) != 0 || (w->users_mode && init_users(w) != 0)) {
        snprintf(w->errmsg, sizeof w->errmsg, "out of memory allocating request slots");
        return RP_ENGINE_ESETUP;
    }
    if (!w->users_mode) {
        /* Connection d belongs to shard d % shards and, within it, to
         * thread (d / shards) % threads: one modulus covers both. */
        uint32_t shards = cfg->shard_count > 1 ? cfg->shard_count : 1;
        uint32_t shard = shards > 1 ? cfg->shard_index : 0;
        int rc = rp_sched_open(&w->sched, cfg->trace_path, w->sh->plan, cfg->passes,
                               shard + shards * w->index, shards * w->sh->threads,
                               w->errmsg, sizeof w->errmsg);
        if (rc != 0)
            return RP_ENGINE_ETRACE;
    }
    if (init_handles(w) != 0 || start_transport(w) != 0)
        return RP_ENGINE_ESETUP;
    return 0;
}

/* Starts the users, spread evenly over users_spawn_ns. */
static void start_users(rp_worker *w)
{
    uint64_t spawn = w->sh->cfg->users_spawn_ns;
    for (uint32_t i = 0; i < w->user_count; i++) {
        uint64_t at = w->sh->start_ns + (uint64_t)((double)spawn * i / w->user_count);
        if (take_session(w, &w->users[i], at))
            heap_push(w, &w->users[i]);
    }
}

static void *worker_main(void *arg)
{
    rp_worker *w = arg;
    w->error = setup(w);
    if (w->error != 0)
        atomic_store(&w->sh->abort_start, 1);
    pthread_mutex_lock(&w->sh->gate_lock);
    w->sh->ready++;
    pthread_cond_broadcast(&w->sh->gate);
    while (!w->sh->go)
        pthread_cond_wait(&w->sh->gate, &w->sh->gate_lock);
    pthread_mutex_unlock(&w->sh->gate_lock);

    if (w->error == 0 && !atomic_load(&w->sh->abort_start)) {
        w->last_event_ns = w->sh->start_ns;
        if (w->results != NULL)
            rp_results_set_clock(w->results, w->sh->start_ns, w->sh->results_wall_ns);
        if (w->users_mode)
            start_users(w);
        if (w->sh->cfg->duration_ns != 0)
            uv_timer_start(&w->end_timer, on_end, (w->sh->cfg->duration_ns + 999999) / 1000000, 0);
        dispatch(w);
    } else {
        close_handles(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);

    w->res.duration_ns = w->last_event_ns > w->sh->start_ns ? w->last_event_ns - w->sh->start_ns : 0;
    if (w->sched != NULL) {
        w->res.gaps_shortened = rp_sched_gaps_shortened(w->sched);
        w->res.bad_blocks = rp_sched_bad_blocks(w->sched);
        w->res.passes = rp_sched_passes(w->sched);
    }
    atomic_fetch_add(&w->sh->done, 1);
    uv_async_send(w->sh->finished);
    return NULL;
}

/* ---- public ---- */

rp_worker *rp_worker_new(rp_shared *shared, uint32_t index)
{
    rp_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->sh = shared;
    w->index = index;
    w->due_fd = -1;
    pthread_mutex_init(&w->stop_lock, NULL);
    pthread_mutex_init(&w->snap.lock, NULL);
    if (rp_stats_init(&w->stats) != 0 ||
        (w->snap.recent = rp_hist_new(RP_HIST_HOUR_US, 2)) == NULL ||
        (shared->cfg->results != NULL &&
         (w->results = rp_results_new(rp_results_config_of(shared->cfg->results))) == NULL) ||
        uv_loop_init(&w->loop) != 0) {
        rp_results_free(w->results);
        rp_stats_free(&w->stats);
        rp_hist_free(w->snap.recent);
        free(w);
        return NULL;
    }
    uv_async_init(&w->loop, &w->stop_async, on_stop);
    w->stop_async.data = w;
    w->async_open = 1;
    return w;
}

int rp_worker_start(rp_worker *w)
{
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    w->started = rc == 0;
    return rc;
}

void rp_worker_stop(rp_worker *w)
{
    pthread_mutex_lock(&w->stop_lock);
    if (w->async_open)
        uv_async_send(&w->stop_async);
    pthread_mutex_unlock(&w->stop_lock);
}

void rp_worker_join(rp_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = 0;
}

rp_worker_snapshot *rp_worker_snapshot_of(rp_worker *w) { return &w->snap; }
rp_stats *rp_worker_stats(rp_worker *w) { return &w->stats; }
rp_results *rp_worker_results(rp_worker *w) { return w->results; }
const rp_engine_result *rp_worker_result(const rp_worker *w) { return &w->res; }

int rp_worker_error(const rp_worker *w, const char **message)
{
    *message = w->errmsg;
    return w->error;
}

void rp_worker_free(rp_worker *w)
{
    if (w == NULL)
        return;
    if (w->async_open) {
        /* The thread never ran: close what rp_worker_new opened. */
        w->async_open = 0;
        uv_close((uv_handle_t *)&w->stop_async, on_handle_closed);
        uv_run(&w->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&w->loop);
    if (w->due_fd >= 0)
        close(w->due_fd);
    if (w->slots != NULL)
        for (uint32_t i = 0; i < w->slot_count; i++)
            rp_request_release(&w->slots[i]);
    free(w->slots);
    free(w->free_slots);
    free(w->users);
    free(w->heap);
    rp_sched_close(w->sched);
    rp_stats_free(&w->stats);
    rp_results_free(w->results);
    rp_hist_free(w->snap.recent);
    pthread_mutex_destroy(&w->stop_lock);
    pthread_mutex_destroy(&w->snap.lock);
    free(w);
}
