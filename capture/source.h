/* Packet sources: capture files (pcap or pcapng, optionally gzip
 * compressed) and live interfaces, behind one reader interface.
 *
 * Files go through libpcap when it can read them. libpcap 1.10 rejects
 * pcapng files whose interfaces differ in link type or snap length, and
 * does not read compressed files; those are read by this module's own
 * block reader over zlib, which also reads uncompressed files. Each packet
 * carries its own link type, since one pcapng file may mix several.
 */
#ifndef RP_SOURCE_H
#define RP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp_source rp_source;

typedef struct rp_source_packet {
    uint64_t ts_ns;          /* capture time, nanoseconds since the epoch */
    uint32_t caplen;         /* bytes in data */
    uint32_t wirelen;        /* bytes on the wire */
    int linktype;            /* DLT_ value */
    const uint8_t *data;     /* valid until the next call */
} rp_source_packet;

typedef struct rp_live_opts {
    const char *interface;
    int snaplen;             /* 0: 262144 */
    int buffer_mb;           /* kernel buffer, 0: 32 MiB */
    int immediate;           /* deliver packets as they arrive */
} rp_live_opts;

typedef struct rp_source_stats {
    uint64_t file_pos, file_size;   /* progress through a file, in file bytes */
    uint64_t received, dropped, if_dropped;   /* live: from pcap_stats */
    int live;
} rp_source_stats;

enum {
    RP_SOURCE_EOF = 0,       /* rp_source_next: no more packets */
    RP_SOURCE_PACKET = 1,
    RP_SOURCE_TIMEOUT = 2,   /* live: nothing arrived within the read timeout */
    RP_SOURCE_EOPEN = -1,    /* cannot open or not a capture */
    RP_SOURCE_EFILTER = -2,  /* the BPF filter does not compile */
    RP_SOURCE_EREAD = -3,    /* a read error or a damaged file; packets before it were returned */
    RP_SOURCE_EPERM = -4     /* not allowed to capture on the interface */
};

/* Opens a capture file. filter may be NULL. */
int rp_source_open_file(rp_source **out, const char *path, const char *filter,
                        char *err, size_t errlen);

/* Opens a live interface (libpcap). filter may be NULL. */
int rp_source_open_live(rp_source **out, const rp_live_opts *o, const char *filter,
                        char *err, size_t errlen);

/* Reads the next packet that passes the filter. Returns RP_SOURCE_PACKET,
 * RP_SOURCE_TIMEOUT, RP_SOURCE_EOF or a negative code with err filled. */
int rp_source_next(rp_source *s, rp_source_packet *p, char *err, size_t errlen);

/* Link type of the first interface; 0 when it is not known yet. */
int rp_source_linktype(const rp_source *s);
uint32_t rp_source_snaplen(const rp_source *s);

/* Nonzero when the file was read by libpcap. */
int rp_source_uses_libpcap(const rp_source *s);

void rp_source_get_stats(rp_source *s, rp_source_stats *st);

/* Makes a blocked live read return soon; safe from a signal handler. */
void rp_source_break(rp_source *s);

void rp_source_close(rp_source *s);

#endif
