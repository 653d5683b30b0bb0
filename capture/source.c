#include "capture/source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_IDB 1u
#define PCAPNG_PB  2u      /* obsolete packet block */
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define MAX_BLOCK_LEN (64u << 20)
#define MAX_INTERFACES 4096
#define LIVE_TIMEOUT_MS 100
#define DEFAULT_LIVE_SNAPLEN 262144
/* libpcap's 2 MiB default holds only a few dozen frames of a large snap
 * length once immediate mode forces fixed-size frames: bursts get dropped. */
#define DEFAULT_LIVE_BUFFER_MB 32

/* One interface of a pcapng section (or the single one of a pcap file). */
typedef struct iface {
    int linktype;
    uint32_t snaplen;
    int res_pow2;            /* timestamp unit is 2^-res, else 10^-res seconds */
    int res;
    int64_t offset_s;        /* if_tsoffset */
    struct bpf_program prog;
    int has_prog;
} iface;

struct rp_source {
    /* libpcap handle, for files libpcap reads and for live capture */
    pcap_t *pcap;
    int live;
    int nano;                /* libpcap delivers nanoseconds */

    /* own reader */
    gzFile gz;
    int pcapng, swap;
    iface *ifaces;
    size_t niface;
    uint8_t *buf;
    size_t cap;
    uint64_t last_ts_ns;

    char *filter;
    char *path;
    uint64_t file_size;
    int first_linktype;
    uint32_t first_snaplen;
};

/* ---- helpers ---- */

static uint32_t rd32(const rp_source *s, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return s->swap ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const rp_source *s, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return s->swap ? __builtin_bswap16(v) : v;
}

static int ensure(rp_source *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    uint8_t *b = realloc(s->buf, n);
    if (b == NULL)
        return -1;
    s->buf = b;
    s->cap = n;
    return 0;
}

/* Reads exactly n bytes; returns 1, 0 at a clean end before any byte, or
 * -1 for a short read (a cut file) or an error. */
static int read_exact(rp_source *s, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = gzread(s->gz, (char *)p + got, (unsigned)(n - got));
        if (r < 0)
            return -1;
        if (r == 0)
            return got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

static int compile_filter(rp_source *s, iface *f, char *err, size_t errlen)
{
    if (s->filter == NULL || *s->filter == '\0')
        return 0;
    /* Files store LINKTYPE_ values, libpcap takes DLT_ ones; they differ
     * only for a few old types, of which raw IP is the one in use. */
    int dlt = f->linktype == 101 ? DLT_RAW : f->linktype;
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(dlt, (int)f->snaplen,
                                                        PCAP_TSTAMP_PRECISION_NANO);
    if (dead == NULL) {
        snprintf(err, errlen, "cannot prepare BPF filter for link type %d", f->linktype);
        return RP_SOURCE_EFILTER;
    }
    int rc = pcap_compile(dead, &f->prog, s->filter, 1, PCAP_NETMASK_UNKNOWN);
    if (rc < 0)
        snprintf(err, errlen, "invalid BPF filter '%s': %s", s->filter, pcap_geterr(dead));
    pcap_close(dead);
    if (rc < 0)
        return RP_SOURCE_EFILTER;
    f->has_prog = 1;
    return 0;
}

static void free_ifaces(rp_source *s)
{
    for (size_t i = 0; i < s->niface; i++)
        if (s->ifaces[i].has_prog)
            pcap_freecode(&s->ifaces[i].prog);
    free(s->ifaces);
    s->ifaces = NULL;
    s->niface = 0;
}

static int add_iface(rp_source *s, int linktype, uint32_t snaplen, char *err, size_t errlen)
{
    if (s->niface == MAX_INTERFACES) {
        snprintf(err, errlen, "%s: more than %d interfaces in one section", s->path, MAX_INTERFACES);
        return RP_SOURCE_EREAD;
    }
    iface *n = realloc(s->ifaces, (s->niface + 1) * sizeof *n);
    if (n == NULL) {
        snprintf(err, errlen, "out of memory");
        return RP_SOURCE_EREAD;
    }
    s->ifaces = n;
    iface *f = &s->ifaces[s->niface++];
    memset(f, 0, sizeof *f);
    f->linktype = linktype;
    f->snaplen = snaplen ? snaplen : 262144;
    f->res = 6;
    if (s->niface == 1 && s->first_linktype == 0) {
        s->first_linktype = linktype;
        s->first_snaplen = snaplen;   /* 0 in pcapng means no limit */
    }
    return compile_filter(s, f, err, errlen);
}

/* Converts a timestamp in the interface's units to nanoseconds. */
static uint64_t units_to_ns(const iface *f, uint64_t t)
{
    unsigned __int128 v = t;
    if (f->res_pow2) {
        v = v * 1000000000u;
        v >>= f->res;
    } else if (f->res <= 9) {
        for (int i = f->res; i < 9; i++)
            v *= 10;
    } else {
        for (int i = 9; i < f->res; i++)
            v /= 10;
    }
    return (uint64_t)v + (uint64_t)(f->offset_s * 1000000000);
}

/* ---- pcapng ---- */

static void parse_idb_options(rp_source *s, iface *f, const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 4) {
        uint16_t code = rd16(s, p), len = rd16(s, p + 2);
        p += 4;
        if (code == 0 || (size_t)(end - p) < len)
            break;
        if (code == 9 && len >= 1) {            /* if_tsresol */
            f->res_pow2 = (p[0] & 0x80) != 0;
            f->res = p[0] & 0x7f;
            if ((f->res_pow2 && f->res > 63) || (!f->res_pow2 && f->res > 19))
                f->res = 6;                     /* nonsense: keep microseconds */
        } else if (code == 14 && len >= 8) {    /* if_tsoffset, seconds */
            uint64_t off;
            memcpy(&off, p, 8);
            f->offset_s = (int64_t)(s->swap ? __builtin_bswap64(off) : off);
        }
        p += (len + 3u) & ~3u;
    }
}

static int read_section_header(rp_source *s, const uint8_t *first8, char *err, size_t errlen)
{
    uint8_t rest[4];
    if (read_exact(s, rest, 4) != 1) {
        snprintf(err, errlen, "%s: pcapng section header cut short", s->path);
        return RP_SOURCE_EREAD;
    }
    uint32_t bom;
    memcpy(&bom, rest, 4);
    if (bom == BYTE_ORDER_MAGIC)
        s->swap = 0;
    else if (__builtin_bswap32(bom) == BYTE_ORDER_MAGIC)
        s->swap = 1;
    else {
        snprintf(err, errlen, "%s: damaged pcapng section header (bad byte-order magic)", s->path);
        return RP_SOURCE_EREAD;
    }
    uint32_t total = rd32(s, first8 + 4);
    if (total < 28 || total > MAX_BLOCK_LEN || total % 4) {
        snprintf(err, errlen, "%s: pcapng section header has an invalid length %u", s->path, total);
        return RP_SOURCE_EREAD;
    }
    if (ensure(s, total) < 0 || read_exact(s, s->buf, total - 12) != 1) {
        snprintf(err, errlen, "%s: pcapng section header cut short", s->path);
        return RP_SOURCE_EREAD;
    }
    free_ifaces(s);   /* interface ids restart in each section */
    return 0;
}

/* Reads pcapng blocks until a packet; unknown block types are skipped.
 * With stop_after_iface set, it returns RP_SOURCE_TIMEOUT after the first
 * interface block instead, so the link type is known before any packet. */
static int read_pcapng(rp_source *s, rp_source_packet *p, int stop_after_iface,
                       char *err, size_t errlen)
{
    for (;;) {
        uint8_t h[8];
        int r = read_exact(s, h, 8);
        if (r == 0)
            return RP_SOURCE_EOF;
        if (r < 0) {
            snprintf(err, errlen, "%s: truncated file: a pcapng block header is cut short", s->path);
            return RP_SOURCE_EREAD;
        }
        uint32_t type;
        memcpy(&type, h, 4);
        if (type == PCAPNG_SHB) {
            int rc = read_section_header(s, h, err, errlen);
            if (rc < 0)
                return rc;
            continue;
        }
        type = rd32(s, h);
        uint32_t total = rd32(s, h + 4);
        if (total < 12 || total > MAX_BLOCK_LEN || total % 4) {
            snprintf(err, errlen, "%s: damaged pcapng block (type %u, length %u)", s->path, type, total);
            return RP_SOURCE_EREAD;
        }
        uint32_t body = total - 12;
        if (ensure(s, body + 4) < 0 || read_exact(s, s->buf, body + 4) != 1) {
            snprintf(err, errlen, "%s: truncated file: a pcapng block (type %u) is cut short", s->path, type);
            return RP_SOURCE_EREAD;
        }
        const uint8_t *b = s->buf, *end = s->buf + body;

        if (type == PCAPNG_IDB) {
            if (body < 8) {
                snprintf(err, errlen, "%s: damaged pcapng interface block", s->path);
                return RP_SOURCE_EREAD;
            }
            int rc = add_iface(s, rd16(s, b), rd32(s, b + 4), err, errlen);
            if (rc < 0)
                return rc;
            parse_idb_options(s, &s->ifaces[s->niface - 1], b + 8, end);
            if (stop_after_iface)
                return RP_SOURCE_TIMEOUT;
            continue;
        }
        if (stop_after_iface && (type == PCAPNG_EPB || type == PCAPNG_PB || type == PCAPNG_SPB)) {
            snprintf(err, errlen, "%s: damaged pcapng file: a packet block comes before any "
                     "interface description block", s->path);
            return RP_SOURCE_EREAD;
        }

        uint32_t ifid, caplen, wirelen;
        uint64_t ts = 0;
        const uint8_t *data;
        if (type == PCAPNG_EPB && body >= 20) {
            ifid = rd32(s, b);
            ts = (uint64_t)rd32(s, b + 4) << 32 | rd32(s, b + 8);
            caplen = rd32(s, b + 12);
            wirelen = rd32(s, b + 16);
            data = b + 20;
        } else if (type == PCAPNG_PB && body >= 20) {
            ifid = rd16(s, b);
            ts = (uint64_t)rd32(s, b + 4) << 32 | rd32(s, b + 8);
            caplen = rd32(s, b + 12);
            wirelen = rd32(s, b + 16);
            data = b + 20;
        } else if (type == PCAPNG_SPB && body >= 4) {
            ifid = 0;
            wirelen = rd32(s, b);
            data = b + 4;
            caplen = (uint32_t)(end - data);
            if (s->niface && caplen > s->ifaces[0].snaplen)
                caplen = s->ifaces[0].snaplen;
            if (caplen > wirelen)
                caplen = wirelen;
        } else {
            continue;   /* statistics, name resolution, custom and unknown blocks */
        }
        if (ifid >= s->niface || caplen > (uint32_t)(end - data)) {
            snprintf(err, errlen, "%s: damaged pcapng packet block (interface %u of %zu, "
                     "length %u)", s->path, ifid, s->niface, caplen);
            return RP_SOURCE_EREAD;
        }

        iface *f = &s->ifaces[ifid];
        p->ts_ns = type == PCAPNG_SPB ? s->last_ts_ns : units_to_ns(f, ts);
        s->last_ts_ns = p->ts_ns;
        p->caplen = caplen;
        p->wirelen = wirelen;
        p->linktype = f->linktype;
        p->data = data;
        if (f->has_prog) {
            struct pcap_pkthdr ph = { .caplen = caplen, .len = wirelen };
            if (pcap_offline_filter(&f->prog, &ph, data) == 0)
                continue;
        }
        return RP_SOURCE_PACKET;
    }
}

static int next_pcapng(rp_source *s, rp_source_packet *p, char *err, size_t errlen)
{
    return read_pcapng(s, p, 0, err, errlen);
}

/* ---- classic pcap through zlib (gzip-compressed files) ---- */

static int open_own_pcap(rp_source *s, const uint8_t *hdr, char *err, size_t errlen)
{
    uint32_t magic;
    memcpy(&magic, hdr, 4);
    int nano;
    if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du)
        s->swap = 0;
    else if (__builtin_bswap32(magic) == 0xa1b2c3d4u || __builtin_bswap32(magic) == 0xa1b23c4du)
        s->swap = 1;
    else {
        snprintf(err, errlen, "%s: not a pcap or pcapng file (unknown magic number)", s->path);
        return RP_SOURCE_EOPEN;
    }
    nano = (s->swap ? __builtin_bswap32(magic) : magic) == 0xa1b23c4du;
    int rc = add_iface(s, (int)(rd32(s, hdr + 20) & 0x0fffffff), rd32(s, hdr + 16), err, errlen);
    if (rc < 0)
        return rc;
    s->ifaces[0].res = nano ? 9 : 6;
    return 0;
}

static int next_own_pcap(rp_source *s, rp_source_packet *p, char *err, size_t errlen)
{
    for (;;) {
        uint8_t h[16];
        int r = read_exact(s, h, 16);
        if (r == 0)
            return RP_SOURCE_EOF;
        if (r < 0) {
            snprintf(err, errlen, "%s: truncated file: a packet header is cut short", s->path);
            return RP_SOURCE_EREAD;
        }
        uint32_t caplen = rd32(s, h + 8);
        if (caplen > MAX_BLOCK_LEN) {
            snprintf(err, errlen, "%s: damaged packet header (captured length %u)", s->path, caplen);
            return RP_SOURCE_EREAD;
        }
        if (ensure(s, caplen + 1) < 0 || (caplen && read_exact(s, s->buf, caplen) != 1)) {
            snprintf(err, errlen, "%s: truncated file: a packet of %u bytes is cut short", s->path, caplen);
            return RP_SOURCE_EREAD;
        }
        iface *f = &s->ifaces[0];
        uint64_t frac = rd32(s, h + 4);
        p->ts_ns = (uint64_t)rd32(s, h) * 1000000000ull + (f->res == 9 ? frac : frac * 1000);
        p->caplen = caplen;
        p->wirelen = rd32(s, h + 12);
        p->linktype = f->linktype;
        p->data = s->buf;
        if (f->has_prog) {
            struct pcap_pkthdr ph = { .caplen = caplen, .len = p->wirelen };
            if (pcap_offline_filter(&f->prog, &ph, s->buf) == 0)
                continue;
        }
        return RP_SOURCE_PACKET;
    }
}

/* ---- opening ---- */

static rp_source *source_new(const char *path, const char *filter)
{
    rp_source *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->path = strdup(path ? path : "");
    s->filter = filter && *filter ? strdup(filter) : NULL;
    if (s->path == NULL || (filter && *filter && s->filter == NULL)) {
        free(s->path);
        free(s->filter);
        free(s);
        return NULL;
    }
    return s;
}

static int set_pcap_filter(rp_source *s, bpf_u_int32 netmask, char *err, size_t errlen)
{
    if (s->filter == NULL)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(s->pcap, &prog, s->filter, 1, netmask) < 0) {
        snprintf(err, errlen, "invalid BPF filter '%s': %s", s->filter, pcap_geterr(s->pcap));
        return RP_SOURCE_EFILTER;
    }
    int rc = pcap_setfilter(s->pcap, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "cannot apply BPF filter '%s': %s", s->filter, pcap_geterr(s->pcap));
        return RP_SOURCE_EFILTER;
    }
    return 0;
}

/* Opens with the module's own reader: gzip files, and pcapng files
 * libpcap rejects. */
static int open_own(rp_source *s, char *err, size_t errlen)
{
    s->gz = gzopen(s->path, "rb");
    if (s->gz == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", s->path, strerror(errno ? errno : ENOMEM));
        return RP_SOURCE_EOPEN;
    }
    gzbuffer(s->gz, 256 * 1024);
    uint8_t h[24];
    int r = read_exact(s, h, 8);
    if (r != 1) {
        snprintf(err, errlen, "%s: empty or too short to be a capture file", s->path);
        return RP_SOURCE_EOPEN;
    }
    uint32_t magic;
    memcpy(&magic, h, 4);
    if (magic == PCAPNG_SHB) {
        s->pcapng = 1;
        int rc = read_section_header(s, h, err, errlen);
        if (rc < 0)
            return RP_SOURCE_EOPEN;
        /* Read up to the first interface, so the link type and snap length
         * are known when the trace header is written. */
        rp_source_packet unused;
        rc = read_pcapng(s, &unused, 1, err, errlen);
        if (rc == RP_SOURCE_EOF) {
            snprintf(err, errlen, "%s: the pcapng file describes no interface and holds no packet", s->path);
            return RP_SOURCE_EOPEN;
        }
        return rc < 0 ? RP_SOURCE_EOPEN : 0;
    }
    if (read_exact(s, h + 8, 16) != 1) {
        snprintf(err, errlen, "%s: not a pcap or pcapng file (too short)", s->path);
        return RP_SOURCE_EOPEN;
    }
    return open_own_pcap(s, h, err, errlen);
}

static int file_magic(const char *path, uint8_t m[4])
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 ? 0 : -1;
}

int rp_source_open_file(rp_source **out, const char *path, const char *filter,
                        char *err, size_t errlen)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return RP_SOURCE_EOPEN;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a capture file", path);
        return RP_SOURCE_EOPEN;
    }
    rp_source *s = source_new(path, filter);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return RP_SOURCE_EOPEN;
    }
    s->file_size = (uint64_t)sb.st_size;

    /* pcapng always goes to the own reader: libpcap 1.10 opens a file whose
     * interfaces differ in link type, then fails at the second interface
     * block, in the middle of reading. */
    uint8_t m[4] = { 0 };
    int have_magic = file_magic(path, m) == 0;
    int gz = have_magic && m[0] == 0x1f && m[1] == 0x8b;
    int pcapng = have_magic && m[0] == 0x0a && m[1] == 0x0d && m[2] == 0x0d && m[3] == 0x0a;
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    if (!gz && !pcapng)
        s->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, pcap_err);

    int rc;
    if (s->pcap) {
        s->nano = 1;
        s->first_linktype = pcap_datalink(s->pcap);
        s->first_snaplen = (uint32_t)pcap_snapshot(s->pcap);
        rc = set_pcap_filter(s, PCAP_NETMASK_UNKNOWN, err, errlen);
    } else if (gz || pcapng) {
        rc = open_own(s, err, errlen);
    } else {
        snprintf(err, errlen, "%s: cannot read as a pcap or pcapng file: %s", path,
                 sb.st_size == 0 ? "the file is empty" : pcap_err);
        rc = RP_SOURCE_EOPEN;
    }
    if (rc < 0) {
        rp_source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int rp_source_open_live(rp_source **out, const rp_live_opts *o, const char *filter,
                        char *err, size_t errlen)
{
    *out = NULL;
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    rp_source *s = source_new(o->interface, filter);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return RP_SOURCE_EOPEN;
    }
    s->live = 1;
    s->pcap = pcap_create(o->interface, pcap_err);
    if (s->pcap == NULL) {
        snprintf(err, errlen, "interface %s: %s", o->interface, pcap_err);
        rp_source_close(s);
        return RP_SOURCE_EOPEN;
    }
    pcap_set_snaplen(s->pcap, o->snaplen ? o->snaplen : DEFAULT_LIVE_SNAPLEN);
    pcap_set_timeout(s->pcap, LIVE_TIMEOUT_MS);
    pcap_set_buffer_size(s->pcap, (o->buffer_mb > 0 ? o->buffer_mb : DEFAULT_LIVE_BUFFER_MB) << 20);
    if (o->immediate)
        pcap_set_immediate_mode(s->pcap, 1);
    pcap_set_tstamp_precision(s->pcap, PCAP_TSTAMP_PRECISION_NANO);

    int rc = pcap_activate(s->pcap);
    if (rc < 0) {
        int perm = rc == PCAP_ERROR_PERM_DENIED;
        snprintf(err, errlen, "interface %s: %s%s", o->interface,
                 rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface; list them with 'ip link'"
                 : pcap_geterr(s->pcap),
                 perm ? "; run as root or grant CAP_NET_RAW and CAP_NET_ADMIN" : "");
        rp_source_close(s);
        return perm ? RP_SOURCE_EPERM : RP_SOURCE_EOPEN;
    }
    /* The packet buffer timeout is no read timeout (immediate mode ignores
     * it), so reads are non-blocking and rp_source_next polls with its own
     * timeout: a quiet interface still lets the caller tick. */
    if (pcap_setnonblock(s->pcap, 1, pcap_err) < 0 || pcap_get_selectable_fd(s->pcap) < 0) {
        snprintf(err, errlen, "interface %s: cannot read without blocking: %s", o->interface,
                 pcap_err[0] ? pcap_err : "no selectable descriptor");
        rp_source_close(s);
        return RP_SOURCE_EOPEN;
    }
    s->nano = pcap_get_tstamp_precision(s->pcap) == PCAP_TSTAMP_PRECISION_NANO;
    s->first_linktype = pcap_datalink(s->pcap);
    s->first_snaplen = (uint32_t)pcap_snapshot(s->pcap);

    bpf_u_int32 net = 0, mask = PCAP_NETMASK_UNKNOWN;
    if (pcap_lookupnet(o->interface, &net, &mask, pcap_err) < 0)
        mask = PCAP_NETMASK_UNKNOWN;
    rc = set_pcap_filter(s, mask, err, errlen);
    if (rc < 0) {
        rp_source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- reading ---- */

static int next_pcap(rp_source *s, rp_source_packet *p, char *err, size_t errlen)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(s->pcap, &h, &data);
    if (rc == 0 && s->live) {
        struct pollfd pfd = { .fd = pcap_get_selectable_fd(s->pcap), .events = POLLIN };
        if (poll(&pfd, 1, LIVE_TIMEOUT_MS) > 0)
            rc = pcap_next_ex(s->pcap, &h, &data);
    }
    if (rc == 1) {
        uint64_t frac = (uint64_t)h->ts.tv_usec;
        p->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (s->nano ? frac : frac * 1000);
        p->caplen = h->caplen;
        p->wirelen = h->len;
        p->linktype = s->first_linktype;
        p->data = data;
        return RP_SOURCE_PACKET;
    }
    if (rc == 0)
        return RP_SOURCE_TIMEOUT;
    if (rc == PCAP_ERROR_BREAK)
        return s->live ? RP_SOURCE_TIMEOUT : RP_SOURCE_EOF;
    snprintf(err, errlen, "%s: %s", s->path, pcap_geterr(s->pcap));
    return RP_SOURCE_EREAD;
}

int rp_source_next(rp_source *s, rp_source_packet *p, char *err, size_t errlen)
{
    if (s->pcap)
        return next_pcap(s, p, err, errlen);
    return s->pcapng ? next_pcapng(s, p, err, errlen) : next_own_pcap(s, p, err, errlen);
}

int rp_source_linktype(const rp_source *s) { return s->first_linktype; }
uint32_t rp_source_snaplen(const rp_source *s) { return s->first_snaplen; }
int rp_source_uses_libpcap(const rp_source *s) { return s->pcap != NULL; }

void rp_source_get_stats(rp_source *s, rp_source_stats *st)
{
    memset(st, 0, sizeof *st);
    st->live = s->live;
    st->file_size = s->file_size;
    if (s->live) {
        struct pcap_stat ps;
        if (pcap_stats(s->pcap, &ps) == 0) {
            st->received = ps.ps_recv;
            st->dropped = ps.ps_drop;
            st->if_dropped = ps.ps_ifdrop;
        }
    } else if (s->pcap) {
        FILE *f = pcap_file(s->pcap);
        st->file_pos = f ? (uint64_t)ftello(f) : 0;
    } else if (s->gz) {
        long off = gzoffset(s->gz);
        st->file_pos = off > 0 ? (uint64_t)off : 0;
    }
}

void rp_source_break(rp_source *s)
{
    if (s && s->pcap)
        pcap_breakloop(s->pcap);
}

void rp_source_close(rp_source *s)
{
    if (s == NULL)
        return;
    if (s->pcap)
        pcap_close(s->pcap);
    if (s->gz)
        gzclose(s->gz);
    free_ifaces(s);
    free(s->buf);
    free(s->filter);
    free(s->path);
    free(s);
}
