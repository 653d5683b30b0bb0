#include "capture/capture.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capture/sink.h"
#include "formats/trace.h"

#define EXPIRE_INTERVAL_NS 1000000000ull
#define FLUSH_INTERVAL_NS  1000000000ull   /* wall time: a crash costs at most this */

typedef struct run {
    const rp_capture_opts *o;
    rp_capture_stats *st;
    rp_sink *w;
    char werr[256];
} run;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Receives each finished record in timestamp order. */
static int write_record(void *ctx, const rp_record *rec)
{
    run *r = ctx;
    if (r->o->max_requests && r->st->written >= r->o->max_requests) {
        r->st->over_max_requests++;
        return 0;
    }
    rp_record copy = *rec;
    if (r->o->redact && rp_redact_active(r->o->redact) && rp_redact_apply(r->o->redact, &copy) < 0) {
        snprintf(r->werr, sizeof r->werr, "out of memory redacting a request");
        return -1;
    }
    int rc = rp_sink_add(r->w, &copy, r->werr, sizeof r->werr);
    if (rc == 0)
        r->st->written++;
    return rc;
}

static int open_writer(rp_source *src, run *r, char *err, size_t errlen)
{
    const rp_capture_opts *o = r->o;
    char redaction[512] = "", sample[32] = "";
    if (o->redact)
        rp_redact_describe(o->redact, redaction, sizeof redaction);
    if (o->sample_percent > 0 && o->sample_percent < 100)
        snprintf(sample, sizeof sample, "%g%%", o->sample_percent);

    rp_trace_meta meta = {
        .source = o->source_name, .filter = o->filter ? o->filter : "",
        .tool = "reprise 0.1.0", .created_ns = clock_ns(CLOCK_REALTIME),
        .link_type = (uint32_t)rp_source_linktype(src), .snaplen = rp_source_snaplen(src),
        .redaction = redaction, .sample = sample,
    };
    rp_trace_writer_opts wopts = { .zstd_level = o->zstd_level };
    if (rp_sink_open(&r->w, o->output, &meta, &wopts, err, errlen) < 0)
        return RP_CAPTURE_EOUTPUT;
    return 0;
}

static void count_packet(rp_capture_stats *st, const rp_source_packet *p)
{
    st->packets++;
    st->bytes += p->caplen;
    if (st->first_ts_ns == 0 || p->ts_ns < st->first_ts_ns)
        st->first_ts_ns = p->ts_ns;
    if (p->ts_ns < st->last_ts_ns)
        st->out_of_time_order++;
    else
        st->last_ts_ns = p->ts_ns;
}

static void snapshot(rp_capture_stats *st, rp_source *src, rp_tcp_table *tcp, rp_http *http)
{
    rp_source_get_stats(src, &st->source);
    st->tcp = *rp_tcp_table_stats(tcp);
    st->http = *rp_http_get_stats(http);
}

/* Reads packets until the end, a stop condition or an error. Returns 0,
 * RP_CAPTURE_PARTIAL or RP_CAPTURE_EOUTPUT. */
static int read_packets(rp_source *src, rp_tcp_table *tcp, rp_http *http, run *r)
{
    rp_capture_stats *st = r->st;
    const rp_capture_opts *o = r->o;
    uint64_t next_expire = 0, next_tick = clock_ns(CLOCK_MONOTONIC) + FLUSH_INTERVAL_NS;
    uint64_t started = clock_ns(CLOCK_REALTIME);
    rp_source_stats ss;
    rp_source_get_stats(src, &ss);
    int live = ss.live;
    rp_source_packet p;
    char err[256];

    for (;;) {
        int rc = rp_source_next(src, &p, err, sizeof err);
        if (rc == RP_SOURCE_EOF)
            return 0;
        if (rc < 0) {
            st->input_error = 1;
            snprintf(st->input_error_text, sizeof st->input_error_text, "%s", err);
            return RP_CAPTURE_PARTIAL;
        }
        if (rc == RP_SOURCE_PACKET) {
            count_packet(st, &p);
            rp_packet pkt;
            rp_decode_result res = rp_decode_packet(p.linktype, p.data, p.caplen, &pkt);
            st->decode[res]++;
            if (res == RP_DECODE_TCP)
                rp_tcp_table_input(tcp, &pkt, p.ts_ns);
        }

        /* Live packets carry wall-clock times, so between packets the clock
         * replaces them. Records then get written and limits apply even
         * when traffic stops. */
        uint64_t now = st->last_ts_ns;
        if (live) {
            uint64_t wall = clock_ns(CLOCK_REALTIME);
            if (wall > now)
                now = wall;
        }
        if (now >= next_expire) {
            rp_tcp_table_expire(tcp, now);
            next_expire = now + EXPIRE_INTERVAL_NS;
        }
        rp_http_flush(http, now, 0);
        if (rp_http_failed(http))
            return RP_CAPTURE_EOUTPUT;

        uint64_t elapsed = live ? now - started : now - st->first_ts_ns;
        if ((o->stop && *o->stop) ||
            (o->duration_ns && (live || st->packets) && elapsed >= o->duration_ns) ||
            (o->max_requests && st->written >= o->max_requests)) {
            st->stopped = 1;
            return 0;
        }

        /* Once a second of wall time: write out the current block, so a
         * crash loses little, and report progress. NOTE: requests still
         * waiting for their response are not in that block yet, so a crash
         * also loses them. Reading a file, the
         * clock is looked at every 256 packets only: it costs. */
        if (!live && (st->packets & 255) != 0)
            continue;
        uint64_t wall = clock_ns(CLOCK_MONOTONIC);
        if (wall >= next_tick) {
            next_tick = wall + FLUSH_INTERVAL_NS;
            if (rp_sink_flush(r->w, r->werr, sizeof r->werr) < 0)
                return RP_CAPTURE_EOUTPUT;
            if (o->progress) {
                snapshot(st, src, tcp, http);
                o->progress(o->progress_ctx, st);
            }
        }
    }
}

static int check_link(rp_source *src, const rp_capture_opts *o, char *err, size_t errlen)
{
    int dlt = rp_source_linktype(src);
    if (dlt == 0 && !rp_source_uses_libpcap(src))
        return 0;   /* pcapng: each interface is checked per packet */
    if (rp_decode_link_supported(dlt))
        return 0;
    const char *name = pcap_datalink_val_to_name(dlt);
    snprintf(err, errlen, "%s: link type %d (%s) is not supported; reprise reads Ethernet, "
             "Linux cooked (SLL, SLL2), BSD loopback and raw IP captures",
             o->source_name, dlt, name ? name : "unknown");
    return RP_CAPTURE_ELINK;
}

int rp_capture_run(rp_source *src, const rp_capture_opts *o, rp_capture_stats *st,
                   char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->link_type = rp_source_linktype(src);
    st->link_name = pcap_datalink_val_to_name(st->link_type);
    st->snaplen = rp_source_snaplen(src);
    int rc = check_link(src, o, err, errlen);
    if (rc < 0)
        return rc;

    run r = { .o = o, .st = st };
    rc = open_writer(src, &r, err, errlen);
    if (rc < 0)
        return rc;

    rp_http_opts hopts = {
        .keep_truncated = o->keep_truncated,
        .sample_percent = o->sample_percent,
        .ports = o->ports, .nports = o->nports,
    };
    rp_http *http = rp_http_new(&hopts, write_record, &r);
    rp_tcp_callbacks cb;
    rp_tcp_table *tcp = NULL;
    if (http) {
        rp_http_tcp_callbacks(http, &cb);
        tcp = rp_tcp_table_new(NULL, &cb);
    }
    if (http == NULL || tcp == NULL) {
        rp_http_free(http);
        rp_sink_close(r.w, r.werr, sizeof r.werr);
        snprintf(err, errlen, "out of memory");
        return RP_CAPTURE_ENOMEM;
    }

    rc = read_packets(src, tcp, http, &r);

    /* End of input: close every connection, then write what is left. */
    rp_source_get_stats(src, &st->source);
    rp_tcp_table_free(tcp, st->last_ts_ns, &st->tcp);
    rp_http_flush(http, UINT64_MAX, 1);
    st->http = *rp_http_get_stats(http);
    int failed = rp_http_failed(http);
    rp_http_free(http);
    st->unredacted_authorization = o->redact && rp_redact_covers_header(o->redact, "authorization")
                                   ? 0 : st->http.with_authorization;
    st->unredacted_cookie = o->redact && rp_redact_covers_header(o->redact, "cookie")
                            ? 0 : st->http.with_cookie;

    char werr[256];
    int crc = rp_sink_close(r.w, werr, sizeof werr);
    if (failed || rc == RP_CAPTURE_EOUTPUT || crc < 0) {
        snprintf(err, errlen, "%s", failed || rc == RP_CAPTURE_EOUTPUT ? r.werr : werr);
        return RP_CAPTURE_EOUTPUT;
    }
    if (rc == RP_CAPTURE_PARTIAL)
        snprintf(err, errlen, "%s (after %llu packets)", st->input_error_text,
                 (unsigned long long)st->packets);
    return rc;
}
