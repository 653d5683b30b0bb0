/* Packet decoding: link layer, IPv4/IPv6 and the TCP header.
 *
 * Every byte is read through bounds checks against the captured length;
 * lengths come from the IP header, not the frame, because short frames
 * carry padding. Decoding never allocates.
 */
#ifndef RP_DECODE_H
#define RP_DECODE_H

#include <stdint.h>

/* Outcome of rp_decode_packet; everything but RP_DECODE_TCP is a reason to
 * skip the packet, counted by the caller. */
typedef enum rp_decode_result {
    RP_DECODE_TCP = 0,        /* a TCP segment: rp_packet is filled */
    RP_DECODE_NOT_IP,         /* ARP, LLDP and other non-IP frames */
    RP_DECODE_NOT_TCP,        /* UDP, ICMP and other IP protocols */
    RP_DECODE_FRAGMENT,       /* an IPv4 or IPv6 fragment (not reassembled) */
    RP_DECODE_SHORT,          /* cut off before the end of the TCP header */
    RP_DECODE_BAD_HEADER,     /* impossible IP or TCP header lengths */
    RP_DECODE_UNSUPPORTED_LINK,
    RP_DECODE_RESULT_COUNT
} rp_decode_result;

#define RP_TCP_FIN 0x01
#define RP_TCP_SYN 0x02
#define RP_TCP_RST 0x04
#define RP_TCP_PSH 0x08
#define RP_TCP_ACK 0x10

/* A decoded TCP segment. Addresses are in network order; an IPv4 address
 * takes the first 4 bytes and the rest are zero. */
typedef struct rp_packet {
    uint8_t ip_version;       /* 4 or 6 */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;    /* host order */
    uint32_t seq, ack;        /* host order */
    uint8_t flags;            /* RP_TCP_* */
    const uint8_t *payload;   /* captured payload bytes */
    uint32_t payload_len;     /* bytes present in the capture */
    uint32_t wire_len;        /* payload bytes on the wire, from the IP
                                 header; larger than payload_len when the
                                 snap length cut the packet */
} rp_packet;

/* Decodes one captured frame of link type dlt (a pcap DLT_ value).
 * caplen is the number of bytes in data. */
rp_decode_result rp_decode_packet(int dlt, const uint8_t *data,
                                  uint32_t caplen, rp_packet *out);

/* Nonzero when rp_decode_packet understands link type dlt. */
int rp_decode_link_supported(int dlt);

/* A short name for a skip reason, for summaries ("not-tcp", ...). */
const char *rp_decode_result_name(rp_decode_result r);

#endif
