"""Bad input to reprise capture: every case gives a one-line message naming
the input and the problem and the documented exit code, and a damaged
capture still yields what came before the damage."""

import os
import random
import stat
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

work = rt.temp_dir()
sample = rt.data_path("data", "corpus", "zeek-1000-requests-ipv6.pcap")


def capture(*args):
    return rt.run(["capture"] + list(args))


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return len(lines) == 1


def pcap_header(linktype, snaplen=65535):
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(data, ts=1, usec=0):
    return struct.pack("<IIII", ts, usec, len(data), len(data)) + data


def count_records(trace):
    rc, out, err = rt.run(["inspect", "--records", trace])
    rt.check_eq(rc, 0, "inspect %s exit code (%s)" % (trace, err.strip()))
    return max(0, len(out.splitlines()) - 1)


# Missing input file.
out_trace = os.path.join(work, "missing.rpz")
rc, out, err = capture("-r", os.path.join(work, "nope.pcap"), "-w", out_trace)
rt.check_eq(rc, 1, "missing file: exit code")
rt.check("nope.pcap" in err and "No such file" in err, "missing file: message names file and problem: %r" % err)
rt.check(one_line(err), "missing file: one line")

# A file that is not a capture.
text = os.path.join(work, "notes.txt")
with open(text, "w") as f:
    f.write("this is not a pcap\n" * 20)
rc, out, err = capture("-r", text, "-w", out_trace)
rt.check_eq(rc, 1, "not a pcap: exit code")
rt.check("notes.txt" in err and "pcap" in err, "not a pcap: message: %r" % err)
rt.check(one_line(err), "not a pcap: one line")

# An empty file.
empty = os.path.join(work, "empty.pcap")
open(empty, "w").close()
rc, out, err = capture("-r", empty, "-w", out_trace)
rt.check_eq(rc, 1, "empty file: exit code")
rt.check("empty.pcap" in err, "empty file: message names it: %r" % err)

# A capture cut in the middle of a packet record still yields the
# requests before the cut, and exits 1 with a message.
data = open(sample, "rb").read()
cut = os.path.join(work, "cut.pcap")
with open(cut, "wb") as f:
    f.write(data[: len(data) // 2 + 7])
cut_trace = os.path.join(work, "cut.rpz")
rc, out, err = capture("-q", "-r", cut, "-w", cut_trace)
rt.check_eq(rc, 1, "truncated pcap: exit code")
rt.check("cut.pcap" in err and "truncated" in err, "truncated pcap: message: %r" % err)
n = count_records(cut_trace)
rt.check_between(n, 300, 700, "truncated pcap: requests before the cut are kept")

# An unknown link type is named, with the supported ones.
odd = os.path.join(work, "usb.pcap")
with open(odd, "wb") as f:
    f.write(pcap_header(189) + pcap_record(b"\x00" * 64))
rc, out, err = capture("-r", odd, "-w", out_trace)
rt.check_eq(rc, 1, "unknown link type: exit code")
rt.check("usb.pcap" in err and "link type 189" in err and "not supported" in err,
         "unknown link type: message: %r" % err)

# Garbage link headers and impossible IP/TCP lengths are counted, never a crash.
rng = random.Random(7)
junk = os.path.join(work, "junk.pcap")
with open(junk, "wb") as f:
    f.write(pcap_header(1))
    for i in range(3000):
        f.write(pcap_record(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))), ts=i + 1))
    # IPv4 with a header length longer than the packet, and TCP data offset 4.
    eth = b"\x00" * 12 + b"\x08\x00"
    f.write(pcap_record(eth + b"\x4f" + b"\x00" * 40, ts=5000))
    ip = bytearray(b"\x45\x00\x00\x28" + b"\x00" * 5 + b"\x06" + b"\x00" * 10)
    f.write(pcap_record(eth + bytes(ip) + b"\x00" * 12 + b"\x40" + b"\x00" * 7, ts=5001))
junk_trace = os.path.join(work, "junk.rpz")
rc, out, err = capture("-r", junk, "-w", junk_trace)
rt.check_eq(rc, 0, "garbage packets: exit code (%s)" % err.strip())
rt.check("bad-ip-or-tcp-header" in out, "garbage packets: summary counts bad headers: %r" % out)
rt.check("packets:       3002" in out, "garbage packets: all packets read")

# Non-HTTP bytes on port 80 are passed over and counted.
def tcp_packet(payload, seq, flags=0x18):
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, seq, 1, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return ip + tcp + payload

noise = os.path.join(work, "noise.pcap")
with open(noise, "wb") as f:
    f.write(pcap_header(101))
    seq = 1000
    for i in range(50):
        payload = bytes(rng.getrandbits(8) for _ in range(500))
        f.write(pcap_record(tcp_packet(payload, seq), ts=i + 1))
        seq += len(payload)
    req = b"GET /after-noise HTTP/1.1\r\nHost: h\r\n\r\n"
    f.write(pcap_record(tcp_packet(req, seq), ts=100))
noise_trace = os.path.join(work, "noise.rpz")
rc, out, err = capture("-r", noise, "-w", noise_trace)
rt.check_eq(rc, 0, "non-HTTP bytes: exit code (%s)" % err.strip())
rt.check("non-HTTP stream bytes passed over" in out, "non-HTTP bytes: counted in summary: %r" % out)
rc, out, err = rt.run(["inspect", "--records", noise_trace])
rt.check("/after-noise" in out, "non-HTTP bytes: request after the noise is found")

# A 1 MB request line and a header block that never ends: counted, bounded.
big = os.path.join(work, "big.pcap")
with open(big, "wb") as f:
    f.write(pcap_header(101))
    seq = 1000
    stream = b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: h\r\n\r\n"
    stream += b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
    stream += b"GET /endless HTTP/1.1\r\n" + b"X-Filler: " + b"b" * 100 + b"\r\n" * 1
    stream += b"".join(b"X-%d: %s\r\n" % (i, b"c" * 200) for i in range(8000))
    for off in range(0, len(stream), 1400):
        chunk = stream[off:off + 1400]
        n = off // 1400
        f.write(pcap_record(tcp_packet(chunk, seq), ts=1 + n // 1000, usec=(n % 1000) * 1000))
        seq += len(chunk)
big_trace = os.path.join(work, "big.rpz")
rc, out, err = capture("-r", big, "-w", big_trace)
rt.check_eq(rc, 0, "huge request line: exit code (%s)" % err.strip())
rt.check("start line too long" in out, "huge request line: counted: %r" % out)
rt.check("header block too large" in out, "endless header block: counted: %r" % out)
rc, out, err = rt.run(["inspect", "--records", big_trace])
rt.check("/ok" in out, "huge request line: the next request is kept")

# A request body cut by the snap length: dropped and counted by default,
# kept and flagged with --keep-truncated, never stored as if complete.
def tcp_packet_from(payload, seq, sport, dport, flags=0x18):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]) if sport != 80 and sport != 443 else bytes([10, 0, 0, 2]),
                     bytes([10, 0, 0, 2]) if sport != 80 and sport != 443 else bytes([10, 0, 0, 1]))
    return ip + tcp + payload

snap = os.path.join(work, "snap.pcap")
with open(snap, "wb") as f:
    f.write(pcap_header(101, snaplen=120))
    head = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 300\r\n\r\n"
    pkt = tcp_packet_from(head + b"z" * 300, 1000, 40000, 80)
    f.write(struct.pack("<IIII", 1, 0, 120, len(pkt)) + pkt[:120])
    nxt = tcp_packet_from(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n", 1000 + len(head) + 300, 40000, 80)
    f.write(pcap_record(nxt, ts=2))
snap_trace = os.path.join(work, "snap.rpz")
rc, out, err = capture("-r", snap, "-w", snap_trace)
rt.check_eq(rc, 0, "snap length: exit code (%s)" % err.strip())
rt.check("request cut by missing packets or snap length" in out, "snap length: cut request counted: %r" % out)
rc, out, _ = rt.run(["inspect", "--records", snap_trace])
rt.check("/upload" not in out and "/next" in out, "snap length: cut request dropped, next kept")
rc, out, err = capture("-q", "--keep-truncated", "-r", snap, "-w", snap_trace)
rc, out, _ = rt.run(["inspect", "--records", snap_trace])
rows = [l.split("\t") for l in out.splitlines()[1:]]
upload = [r for r in rows if r[3] == "/upload"]
rt.check(len(upload) == 1 and "truncated" in upload[0][11].split(","),
         "--keep-truncated: cut request kept with the truncated flag: %r" % upload)

# TLS connections are recognised, counted and skipped in one summary line.
tls = os.path.join(work, "tls.pcap")
with open(tls, "wb") as f:
    f.write(pcap_header(101))
    hello = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\x00" * 100
    f.write(pcap_record(tcp_packet_from(hello, 5000, 40001, 443), ts=1))
    f.write(pcap_record(tcp_packet_from(b"\x16\x03\x03\x00\x40" + b"\x02" * 64, 9000, 443, 40001), ts=2))
rc, out, err = capture("-r", tls, "-w", os.path.join(work, "tls.rpz"))
rt.check_eq(rc, 0, "TLS: exit code")
rt.check("TLS (encrypted, not readable)" in out and "1 connections" in out, "TLS: one summary line: %r" % out)
rt.check("bad request line" not in out and "non-HTTP" not in out, "TLS: not reported as parse errors")

# Bad options.
rc, out, err = capture("-r", sample)
rt.check_eq(rc, 2, "missing -w: exit code")
rt.check("-w" in err, "missing -w: message names the option")
rc, out, err = capture("-r", sample, "-w", out_trace, "tcp", "port", "eighty")
rt.check_eq(rc, 2, "bad BPF filter: exit code")
rt.check("BPF filter" in err and "eighty" in err, "bad BPF filter: message: %r" % err)
rc, out, err = capture("-r", sample, "-w", out_trace, "--level", "99")
rt.check_eq(rc, 2, "bad --level: exit code")

# An output that cannot be created.
rc, out, err = capture("-r", sample, "-w", os.path.join(work, "no", "such", "dir", "t.rpz"))
rt.check_eq(rc, 1, "unwritable output: exit code")
rt.check("t.rpz" in err, "unwritable output: message names the file: %r" % err)

# Traces hold production data: mode 0600.
ok_trace = os.path.join(work, "ok.rpz")
rc, out, err = capture("-q", "-r", sample, "-w", ok_trace, "tcp", "port", "80")
rt.check_eq(rc, 0, "filter capture: exit code (%s)" % err.strip())
rt.check_eq(stat.S_IMODE(os.stat(ok_trace).st_mode), 0o600, "trace file mode")
rt.check_eq(count_records(ok_trace), 1000, "capture with a BPF filter keeps every request")

rt.finish()
