#include "capture/decode.h"

#include <string.h>

/* Link types, as pcap_datalink() returns them on Linux. LINKTYPE_RAW (101)
 * in a file comes back as DLT_RAW, which is 12 on Linux and 14 on some
 * BSDs; both are accepted, as are the LINKTYPE values themselves. */
enum {
    DLT_NULL_ = 0, DLT_EN10MB_ = 1, DLT_RAW_12 = 12, DLT_RAW_14 = 14,
    DLT_LOOP_ = 108, DLT_RAW_101 = 101, DLT_LINUX_SLL_ = 113,
    DLT_IPV4_ = 228, DLT_IPV6_ = 229, DLT_LINUX_SLL2_ = 276
};

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

#define IPPROTO_TCP_ 6
#define MAX_VLAN_TAGS 4
#define MAX_IPV6_EXT_HEADERS 8

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *const result_names[RP_DECODE_RESULT_COUNT] = {
    [RP_DECODE_TCP] = "tcp",
    [RP_DECODE_NOT_IP] = "not-ip",
    [RP_DECODE_NOT_TCP] = "not-tcp",
    [RP_DECODE_FRAGMENT] = "ip-fragment",
    [RP_DECODE_SHORT] = "truncated-header",
    [RP_DECODE_BAD_HEADER] = "bad-ip-or-tcp-header",
    [RP_DECODE_UNSUPPORTED_LINK] = "unsupported-link-type",
};

const char *rp_decode_result_name(rp_decode_result r)
{
    return (unsigned)r < RP_DECODE_RESULT_COUNT ? result_names[r] : "unknown";
}

int rp_decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_NULL_: case DLT_EN10MB_: case DLT_RAW_12: case DLT_RAW_14:
    case DLT_LOOP_: case DLT_RAW_101: case DLT_LINUX_SLL_: case DLT_IPV4_:
    case DLT_IPV6_: case DLT_LINUX_SLL2_:
        return 1;
    default:
        return 0;
    }
}

static rp_decode_result decode_tcp(const uint8_t *p, uint32_t caplen,
                                   uint32_t wire_len, rp_packet *out)
{
    if (caplen < 20)
        return RP_DECODE_SHORT;
    uint32_t hlen = (uint32_t)(p[12] >> 4) * 4;
    if (hlen < 20 || hlen > wire_len)
        return RP_DECODE_BAD_HEADER;
    if (hlen > caplen)
        return RP_DECODE_SHORT;

    out->sport = get_be16(p);
    out->dport = get_be16(p + 2);
    out->seq = get_be32(p + 4);
    out->ack = get_be32(p + 8);
    out->flags = p[13] & 0x1f;
    out->payload = p + hlen;
    out->wire_len = wire_len - hlen;
    out->payload_len = caplen - hlen < out->wire_len ? caplen - hlen : out->wire_len;
    return RP_DECODE_TCP;
}

static rp_decode_result decode_ipv4(const uint8_t *p, uint32_t caplen, rp_packet *out)
{
    if (caplen < 20)
        return RP_DECODE_SHORT;
    if (p[0] >> 4 != 4)
        return RP_DECODE_BAD_HEADER;
    uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
    uint32_t total = get_be16(p + 2);
    /* Some capture setups (TSO offload) record 0 as the total length. */
    if (total == 0)
        total = caplen;
    if (ihl < 20 || total < ihl)
        return RP_DECODE_BAD_HEADER;
    if (ihl > caplen)
        return RP_DECODE_SHORT;

    /* NOTE: fragments are counted and skipped, not reassembled, so a
     * request carried in fragmented IP packets is lost. */
    uint16_t frag = get_be16(p + 6);
    if ((frag & 0x2000) || (frag & 0x1fff))   /* more fragments, or an offset */
        return RP_DECODE_FRAGMENT;
    if (p[9] != IPPROTO_TCP_)
        return RP_DECODE_NOT_TCP;

    out->ip_version = 4;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    uint32_t avail = caplen < total ? caplen : total;
    return decode_tcp(p + ihl, avail - ihl, total - ihl, out);
}

/* Walks the IPv6 extension header chain to the TCP header. */
static rp_decode_result decode_ipv6(const uint8_t *p, uint32_t caplen, rp_packet *out)
{
    if (caplen < 40)
        return RP_DECODE_SHORT;
    if (p[0] >> 4 != 6)
        return RP_DECODE_BAD_HEADER;
    uint32_t payload = get_be16(p + 4);
    if (payload == 0)   /* jumbogram or offload: trust the capture */
        payload = caplen - 40;
    uint32_t total = 40 + payload;
    uint32_t avail = caplen < total ? caplen : total;

    uint8_t next = p[6];
    uint32_t off = 40;
    for (int i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
        if (next == IPPROTO_TCP_)
            break;
        if (next == 44)                        /* fragment header */
            return RP_DECODE_FRAGMENT;
        if (next != 0 && next != 43 && next != 60 && next != 51)
            return RP_DECODE_NOT_TCP;          /* UDP, ICMPv6, ESP, none... */
        if (off + 8 > avail)
            return RP_DECODE_SHORT;
        uint32_t len = next == 51 ? ((uint32_t)p[off + 1] + 2) * 4
                                  : ((uint32_t)p[off + 1] + 1) * 8;
        next = p[off];
        off += len;
        if (off > total)
            return RP_DECODE_BAD_HEADER;
    }
    if (next != IPPROTO_TCP_)
        return RP_DECODE_NOT_TCP;
    if (off > avail)
        return RP_DECODE_SHORT;

    out->ip_version = 6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    return decode_tcp(p + off, avail - off, total - off, out);
}

static rp_decode_result decode_ip(const uint8_t *p, uint32_t caplen, rp_packet *out)
{
    if (caplen < 1)
        return RP_DECODE_SHORT;
    switch (p[0] >> 4) {
    case 4: return decode_ipv4(p, caplen, out);
    case 6: return decode_ipv6(p, caplen, out);
    default: return RP_DECODE_NOT_IP;
    }
}

static rp_decode_result decode_ethertype(uint16_t type, const uint8_t *p,
                                         uint32_t caplen, rp_packet *out)
{
    if (type == ETHERTYPE_IPV4)
        return decode_ipv4(p, caplen, out);
    if (type == ETHERTYPE_IPV6)
        return decode_ipv6(p, caplen, out);
    return RP_DECODE_NOT_IP;
}

/* Ethernet II with up to MAX_VLAN_TAGS 802.1Q / 802.1ad tags. */
static rp_decode_result decode_ethernet(const uint8_t *p, uint32_t caplen, rp_packet *out)
{
    if (caplen < 14)
        return RP_DECODE_SHORT;
    uint32_t off = 12;
    uint16_t type = get_be16(p + off);
    for (int tags = 0; type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
                       type == ETHERTYPE_QINQ_OLD; tags++) {
        if (tags == MAX_VLAN_TAGS)
            return RP_DECODE_NOT_IP;
        off += 4;
        if (off + 2 > caplen)
            return RP_DECODE_SHORT;
        type = get_be16(p + off);
    }
    off += 2;
    return decode_ethertype(type, p + off, caplen - off, out);
}

/* BSD loopback: a 4-byte address family in the writer's byte order. */
static rp_decode_result decode_null(const uint8_t *p, uint32_t caplen, rp_packet *out)
{
    if (caplen < 4)
        return RP_DECODE_SHORT;
    uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t family = le < 0x10000 ? le : get_be32(p);
    /* AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 by OS. */
    if (family == 2 || family == 10 || family == 24 || family == 28 || family == 30)
        return decode_ip(p + 4, caplen - 4, out);
    return RP_DECODE_NOT_IP;
}

rp_decode_result rp_decode_packet(int dlt, const uint8_t *data, uint32_t caplen,
                                  rp_packet *out)
{
    switch (dlt) {
    case DLT_EN10MB_:
        return decode_ethernet(data, caplen, out);
    case DLT_NULL_:
    case DLT_LOOP_:
        return decode_null(data, caplen, out);
    case DLT_RAW_12: case DLT_RAW_14: case DLT_RAW_101:
        return decode_ip(data, caplen, out);
    case DLT_IPV4_:
        return decode_ipv4(data, caplen, out);
    case DLT_IPV6_:
        return decode_ipv6(data, caplen, out);
    case DLT_LINUX_SLL_:   /* 16-byte header, protocol at offset 14 */
        if (caplen < 16)
            return RP_DECODE_SHORT;
        return decode_ethertype(get_be16(data + 14), data + 16, caplen - 16, out);
    case DLT_LINUX_SLL2_:  /* 20-byte header, protocol at offset 0 */
        if (caplen < 20)
            return RP_DECODE_SHORT;
        return decode_ethertype(get_be16(data), data + 20, caplen - 20, out);
    default:
        return RP_DECODE_UNSUPPORTED_LINK;
    }
}
