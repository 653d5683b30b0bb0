"""Capture sources beyond what libpcap reads: a pcapng file whose
interfaces differ in link type and timestamp resolution, gzip-compressed
pcap and pcapng files, and a pcapng file with block types reprise does not
know. Each must give the same requests as the original capture."""

import gzip
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

work = rt.temp_dir()
original = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")


def same(got, expected, msg):
    diff = ""
    if got != expected:
        pairs = zip(got + [None] * len(expected), expected + [None] * len(got))
        diff = "; first difference: {!r}".format(next((p for p in pairs if p[0] != p[1]), None))
    rt.check(got == expected, "%s (%d records, %d expected%s)" % (msg, len(got), len(expected), diff))


def records(path, *extra):
    trace = os.path.join(work, os.path.basename(path) + ".rpz")
    rc, out, err = rt.run(["capture", "-q", "-r", path, "-w", trace] + list(extra))
    rt.check_eq(rc, 0, "capture %s exit code (%s)" % (os.path.basename(path), err.strip()))
    rc, out, err = rt.run(["inspect", "--records", trace])
    rows = out.splitlines()[1:]
    # conn_id numbering may differ; compare everything else.
    return sorted(tuple(c for i, c in enumerate(r.split("\t")) if i != 1) for r in rows)


def read_pcap(path):
    data = open(path, "rb").read()
    magic, = struct.unpack("<I", data[:4])
    assert magic == 0xa1b2c3d4, "test expects a little-endian microsecond pcap"
    off, pkts = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        pkts.append((sec, usec, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return pkts


def block(btype, body):
    pad = (-len(body)) % 4
    total = 12 + len(body) + pad
    return struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total)


def option(code, value):
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def build_pcapng(pkts, path):
    """Interface 0: Ethernet, microseconds. Interface 1: raw IP (101),
    nanoseconds (if_tsresol 9). Odd packets go to interface 1 without their
    Ethernet header. An unknown block type sits between them."""
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
           block(1, struct.pack("<HHI", 1, 0, 65535)),
           block(1, struct.pack("<HHI", 101, 0, 65535) + option(9, b"\x09") + option(0, b"")),
           block(0x0BADF00D, b"reprise test: an unknown block type")]
    for i, (sec, usec, orig, frame) in enumerate(pkts):
        if i % 2:
            ts = sec * 10**9 + usec * 1000
            data, iface, wire = frame[14:], 1, orig - 14
        else:
            ts = sec * 10**6 + usec
            data, iface, wire = frame, 0, orig
        body = struct.pack("<IIIII", iface, ts >> 32, ts & 0xffffffff, len(data), wire) + data
        out.append(block(6, body))
    with open(path, "wb") as f:
        f.write(b"".join(out))


base = records(original)
rt.check_eq(len(base), 17, "original capture: 17 requests")

mixed = os.path.join(work, "mixed.pcapng")
build_pcapng(read_pcap(original), mixed)
same(records(mixed), base, "pcapng with two link types and resolutions: same requests and times")
same(records(mixed, "tcp", "port", "80"), base, "pcapng with two link types: BPF filter per interface")

rc, out, _ = rt.run(["inspect", os.path.join(work, "mixed.pcapng.rpz")])
rt.check("link type    EN10MB (1)" in out, "pcapng: the first interface's link type is in the trace header: %r"
         % [l for l in out.splitlines() if l.startswith("link type")])

gz_pcap = os.path.join(work, "browse.pcap.gz")
with open(original, "rb") as f, gzip.open(gz_pcap, "wb") as g:
    g.write(f.read())
same(records(gz_pcap), base, "gzip-compressed pcap: same requests")

gz_ng = os.path.join(work, "mixed.pcapng.gz")
with open(mixed, "rb") as f, gzip.open(gz_ng, "wb") as g:
    g.write(f.read())
same(records(gz_ng), base, "gzip-compressed pcapng: same requests")

# A pcapng cut inside a block keeps the packets before the cut.
cut = os.path.join(work, "cut.pcapng")
data = open(mixed, "rb").read()
with open(cut, "wb") as f:
    f.write(data[: int(len(data) * 0.6)])
trace = os.path.join(work, "cut.rpz")
rc, out, err = rt.run(["capture", "-q", "-r", cut, "-w", trace])
rt.check_eq(rc, 1, "cut pcapng: exit code 1")
rt.check("cut.pcapng" in err and "cut short" in err, "cut pcapng: message: %r" % err.strip())
rc, out, _ = rt.run(["inspect", "--records", trace])
rt.check_between(len(out.splitlines()) - 1, 1, 16, "cut pcapng: requests before the cut kept")

# A damaged pcapng block length is reported with the file name.
bad = os.path.join(work, "bad.pcapng")
data = bytearray(open(mixed, "rb").read())
shb_len = struct.unpack("<I", data[4:8])[0]
struct.pack_into("<I", data, shb_len + 4, 7)   # first IDB: length 7 is impossible
with open(bad, "wb") as f:
    f.write(data)
rc, out, err = rt.run(["capture", "-q", "-r", bad, "-w", os.path.join(work, "bad.rpz")])
rt.check(rc != 0, "damaged pcapng block: non-zero exit")
rt.check("bad.pcapng" in err, "damaged pcapng block: message names the file: %r" % err.strip())

rt.finish()
