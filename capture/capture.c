#include "capture/capture.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "formats/trace.h"

#define EXPIRE_INTERVAL_NS   1000000000ull
#define PROGRESS_EVERY_PKTS  65536

typedef struct run {
    const rp_capture_opts *o;
    rp_capture_stats *st;
    rp_trace_writer *w;
    char werr[256];
} run;

static int write_record(void *ctx, const rp_record *rec)
{
    run *r = ctx;
    return rp_trace_writer_add(r->w, rec, r->werr, sizeof r->werr);
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_input(const rp_capture_opts *o, pcap_t **out, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(o->input, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (p == NULL) {
        snprintf(err, errlen, "%s: cannot read as a pcap or pcapng file: %s", o->input, pcap_err);
        return RP_CAPTURE_EINPUT;
    }

    if (o->filter && *o->filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            snprintf(err, errlen, "invalid BPF filter '%s': %s", o->filter, pcap_geterr(p));
            pcap_close(p);
            return RP_CAPTURE_EFILTER;
        }
        int rc = pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
        if (rc < 0) {
            snprintf(err, errlen, "cannot apply BPF filter '%s': %s", o->filter, pcap_geterr(p));
            pcap_close(p);
            return RP_CAPTURE_EFILTER;
        }
    }

    int dlt = pcap_datalink(p);
    if (!rp_decode_link_supported(dlt)) {
        const char *name = pcap_datalink_val_to_name(dlt);
        snprintf(err, errlen, "%s: link type %d (%s) is not supported; reprise reads Ethernet, "
                 "Linux cooked (SLL, SLL2), BSD loopback and raw IP captures",
                 o->input, dlt, name ? name : "unknown");
        pcap_close(p);
        return RP_CAPTURE_ELINK;
    }
    *out = p;
    return 0;
}

static void handle_packet(rp_tcp_table *tcp, rp_capture_stats *st, int dlt,
                          const struct pcap_pkthdr *hdr, const uint8_t *data)
{
    /* Opened at nanosecond precision: tv_usec holds nanoseconds. */
    uint64_t ts = (uint64_t)hdr->ts.tv_sec * 1000000000ull + (uint64_t)hdr->ts.tv_usec;
    st->packets++;
    st->bytes += hdr->caplen;
    if (st->first_ts_ns == 0 || ts < st->first_ts_ns)
        st->first_ts_ns = ts;
    if (ts < st->last_ts_ns)
        st->out_of_time_order++;
    else
        st->last_ts_ns = ts;

    rp_packet pkt;
    rp_decode_result res = rp_decode_packet(dlt, data, hdr->caplen, &pkt);
    st->decode[res]++;
    if (res == RP_DECODE_TCP)
        rp_tcp_table_input(tcp, &pkt, ts);
}

/* Reads every packet; returns 0, or RP_CAPTURE_PARTIAL on a read error. */
static int read_packets(pcap_t *p, rp_tcp_table *tcp, rp_http *http, const run *r,
                        uint64_t file_size)
{
    rp_capture_stats *st = r->st;
    int dlt = pcap_datalink(p);
    uint64_t next_expire = 0;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc;

    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        handle_packet(tcp, st, dlt, hdr, data);
        uint64_t now = st->last_ts_ns;
        if (now >= next_expire) {
            rp_tcp_table_expire(tcp, now);
            next_expire = now + EXPIRE_INTERVAL_NS;
        }
        rp_http_flush(http, now, 0);
        if (rp_http_failed(http))
            return RP_CAPTURE_EOUTPUT;
        if (r->o->stop && *r->o->stop)
            break;
        if (r->o->progress && st->packets % PROGRESS_EVERY_PKTS == 0) {
            FILE *f = pcap_file(p);
            st->tcp = *rp_tcp_table_stats(tcp);
            st->http = *rp_http_get_stats(http);
            r->o->progress(r->o->progress_ctx, st, f ? (uint64_t)ftello(f) : 0, file_size);
        }
    }
    if (rc == PCAP_ERROR) {
        st->input_error = 1;
        snprintf(st->input_error_text, sizeof st->input_error_text, "%s", pcap_geterr(p));
        return RP_CAPTURE_PARTIAL;
    }
    return 0;
}

int rp_capture_file(const rp_capture_opts *o, rp_capture_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    pcap_t *p = NULL;
    int rc = open_input(o, &p, err, errlen);
    if (rc < 0)
        return rc;
    st->link_type = pcap_datalink(p);
    st->link_name = pcap_datalink_val_to_name(st->link_type);
    st->snaplen = (uint32_t)pcap_snapshot(p);

    struct stat sb;
    uint64_t file_size = stat(o->input, &sb) == 0 ? (uint64_t)sb.st_size : 0;

    run r = { .o = o, .st = st };
    rp_trace_meta meta = {
        .source = o->input, .filter = o->filter ? o->filter : "",
        .tool = "reprise 0.1.0", .created_ns = wall_ns(),
        .link_type = (uint32_t)st->link_type, .snaplen = st->snaplen,
    };
    rp_trace_writer_opts wopts = { .zstd_level = o->zstd_level };
    char werr[256];
    if (rp_trace_writer_open(&r.w, o->output, &meta, &wopts, werr, sizeof werr) < 0) {
        snprintf(err, errlen, "%s", werr);
        pcap_close(p);
        return RP_CAPTURE_EOUTPUT;
    }

    rp_http_opts hopts = { .keep_truncated = o->keep_truncated };
    rp_http *http = rp_http_new(&hopts, write_record, &r);
    rp_tcp_callbacks cb;
    rp_tcp_table *tcp = NULL;
    if (http) {
        rp_http_tcp_callbacks(http, &cb);
        tcp = rp_tcp_table_new(NULL, &cb);
    }
    if (http == NULL || tcp == NULL) {
        rp_http_free(http);
        rp_trace_writer_close(r.w, werr, sizeof werr);
        pcap_close(p);
        snprintf(err, errlen, "out of memory");
        return RP_CAPTURE_ENOMEM;
    }

    rc = read_packets(p, tcp, http, &r, file_size);

    /* End of input: close every connection, then write what is left. */
    rp_tcp_table_free(tcp, st->last_ts_ns, &st->tcp);
    rp_http_flush(http, UINT64_MAX, 1);
    st->http = *rp_http_get_stats(http);
    int failed = rp_http_failed(http);
    rp_http_free(http);
    pcap_close(p);

    int crc = rp_trace_writer_close(r.w, werr, sizeof werr);
    if (failed || crc < 0) {
        snprintf(err, errlen, "%s", failed ? r.werr : werr);
        return RP_CAPTURE_EOUTPUT;
    }
    if (rc == RP_CAPTURE_PARTIAL)
        snprintf(err, errlen, "%s: input ends with an error after %llu packets: %s",
                 o->input, (unsigned long long)st->packets, st->input_error_text);
    return rc;
}
