#!/usr/bin/env python3
"""reprise inspect on traces written by an independent Python writer.

The writer below follows docs/trace-format.md only (pure-Python XXH64,
zstd frames made of raw blocks), so this test also checks that the spec
is enough to produce files reprise reads. It then feeds reprise inspect
good, damaged, truncated and foreign files and checks the output, the
messages and the exit codes.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPRISE = os.environ.get("REPRISE", os.path.join(os.path.dirname(__file__), "..", "..", "reprise"))

M64 = (1 << 64) - 1
P1, P2, P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
P4, P5 = 9650029242287828579, 2870177450012600261


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def xxh64_round(acc, lane):
    acc = (acc + lane * P2) & M64
    return (rotl(acc, 31) * P1) & M64


def xxh64(data, seed=0):
    """XXH64 as specified by the xxHash project (XXH64 algorithm)."""
    n, i = len(data), 0
    le = lambda a, w: int.from_bytes(data[a:a + w], "little")
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            v = [xxh64_round(v[k], le(i + 8 * k, 8)) for k in range(4)]
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M64
        for k in range(4):
            h = ((h ^ xxh64_round(0, v[k])) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h = (rotl(h ^ xxh64_round(0, le(i, 8)), 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ ((le(i, 4) * P1) & M64), 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h = (rotl(h ^ ((data[i] * P5) & M64), 11) * P1) & M64
        i += 1
    h = ((h ^ (h >> 33)) * P2) & M64
    h = ((h ^ (h >> 29)) * P3) & M64
    return h ^ (h >> 32)


def u(v, width):
    return v.to_bytes(width, "little")


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zstd_raw_frame(data):
    """One zstd frame (RFC 8878) storing data in raw blocks: single
    segment, 4-byte content size, no checksum."""
    out = bytearray(b"\x28\xb5\x2f\xfd" + bytes([0xA0]) + u(len(data), 4))
    chunks = [data[k:k + 131072] for k in range(0, len(data), 131072)] or [b""]
    for k, chunk in enumerate(chunks):
        last = 1 if k == len(chunks) - 1 else 0
        out += u((len(chunk) << 3) | last, 3) + chunk
    return bytes(out)


HAS_RESPONSE, CHUNKED = 0x2, 0x1


def encode_record(rec, delta):
    f = varint(delta) + varint(rec["conn"]) + varint(rec["flags"]) + varint(1) + varint(rec["minor"])
    for key in ("method", "target", "headers", "body"):
        f += varint(len(rec[key])) + rec[key]
    if rec["flags"] & HAS_RESPONSE:
        f += varint(rec["status"]) + varint(rec["ttfb"]) + varint(rec["ttfb"] + 5000) + varint(rec["rbytes"])
    return varint(len(f)) + f


def build_trace(records, per_block, major=0, minor=1, index=True):
    """Returns (file bytes, block offsets)."""
    fields = b""
    for fid, value in ((1, b"py.pcap"), (2, b"tcp port 80"), (3, b"python-writer"),
                       (4, u(1700000000000000000, 8)), (5, u(1, 4)), (6, u(65535, 4)), (77, b"future")):
        fields += u(fid, 2) + u(len(value), 4) + value
    head = b"RPRZTRC1" + u(major, 2) + u(minor, 2) + u(16 + len(fields) + 8, 4) + fields
    out = bytearray(head + u(xxh64(head), 8))

    entries, offsets = [], []
    for k in range(0, len(records), per_block):
        block = records[k:k + per_block]
        raw, prev = b"", block[0]["ts"]
        for rec in block:
            raw += encode_record(rec, rec["ts"] - prev)
            prev = rec["ts"]
        payload = zstd_raw_frame(raw)
        hdr = (b"RPBK" + u(0, 4) + u(len(block), 4) + u(len(payload), 4) + u(len(raw), 4) + u(0, 4)
               + u(block[0]["ts"], 8) + u(block[-1]["ts"], 8) + u(xxh64(payload), 8))
        offsets.append(len(out))
        entries.append(u(len(out), 8) + u(len(block), 4) + u(0, 4) + u(block[0]["ts"], 8) + u(block[-1]["ts"], 8))
        out += hdr + u(xxh64(hdr), 8) + payload
    if index:
        idx = b"RPIX" + u(32, 4) + u(len(entries), 8) + b"".join(entries)
        idx += u(xxh64(idx), 8)
        out += idx + u(len(out), 8) + u(len(idx), 8) + b"RPRZEND1"
    return bytes(out), offsets


def make_records():
    recs = []
    methods = [b"GET", b"POST", b"HEAD", b"CCM_POST"]
    for i in range(25):
        headers = b"Host: h%d.test\r\nAccept: */*\r\n" % (i % 3)
        if i % 5 == 1:
            headers = b"User-Agent: x\r\nhOsT: \t spaced.test \r\nHost: second\r\n"
        if i % 5 == 2:
            headers = b""
        rec = {
            "ts": 1186341404199471000 + (i // 2) * 1000003,
            "conn": (1 << 40) + i // 4,
            "flags": 0,
            "minor": i % 2,
            "method": methods[i % 4],
            "target": b"/t/%d" % i + (b"?a=\tb\\c\r\nd" if i % 6 == 0 else b""),
            "headers": headers,
            "body": bytes(range(i * 7 % 256)) if i % 3 == 0 else b"",
            "status": 200 + (i % 3) * 100, "ttfb": 1500000 + i * 1000, "rbytes": 300 + i,
        }
        if i % 4 != 3:
            rec["flags"] |= HAS_RESPONSE
        if i % 7 == 5:
            rec["flags"] |= CHUNKED
        recs.append(rec)
    return recs


def escape(b):
    s = b.decode("latin-1")
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def expected_line(rec):
    host = ""
    for line in rec["headers"].split(b"\r\n"):
        if line.lower().startswith(b"host:"):
            host = escape(line[5:].strip(b" \t"))
            break
    resp = rec["flags"] & HAS_RESPONSE
    names = [n for bit, n in ((CHUNKED, "chunked"), (HAS_RESPONSE, "response")) if rec["flags"] & bit]
    cols = [str(rec["ts"]), str(rec["conn"]), escape(rec["method"]), escape(rec["target"]),
            "1.%d" % rec["minor"], host, str(len(rec["body"])), "1" if rec["flags"] & CHUNKED else "0",
            str(rec["status"]) if resp else "", str(rec["ttfb"] // 1000) if resp else "",
            str(rec["rbytes"]) if resp else "", ",".join(names)]
    return "\t".join(cols)


HEADER_LINE = "ts_ns\tconn_id\tmethod\ttarget\tversion\thost\tbody_len\tchunked\tresp_status\tttfb_us\tresp_bytes\tflags"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def inspect(*args):
    p = subprocess.run([REPRISE, "inspect", *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")


def check_records(path, recs, what):
    rc, out, err = inspect(path, "--records")
    lines = out.split("\n")
    check(lines[0] == HEADER_LINE, what + ": header line")
    want = [expected_line(r) for r in recs]
    got = [line for line in lines[1:] if line]
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            check(False, "%s: record %d\n  got  %r\n  want %r" % (what, k, g, w))
            break
    check(len(got) == len(want), "%s: %d records, expected %d" % (what, len(got), len(want)))
    return rc, err


def one_line_error(args, rc_want, parts, what):
    rc, out, err = inspect(*args)
    lines = err.strip().split("\n")
    check(rc == rc_want, "%s: exit %d, expected %d" % (what, rc, rc_want))
    check(out == "", what + ": nothing on stdout")
    check(len(lines) == (1 if rc_want == 1 else 2), what + ": message lines: %r" % err)
    for part in parts:
        check(part in lines[0], "%s: message %r lacks %r" % (what, lines[0], part))


def main():
    tmp = tempfile.mkdtemp(prefix="rp-e2e-trace-", dir="/tmp")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp)
    if failures:
        print("%d checks failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


def write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def run(tmp):
    recs = make_records()
    data, offs = build_trace(recs, 10)
    good = write(tmp, "good.rpz", data)

    # A well-formed file: every record, escaped columns, summary counts.
    rc, err = check_records(good, recs, "good trace")
    check(rc == 0 and err == "", "good trace: exit 0, no stderr (%d, %r)" % (rc, err))
    rc, out, err = inspect(good, "--json")
    check(rc == 0, "good trace --json: exit 0")
    s = json.loads(out)
    check(s["records"] == 25 and s["blocks"] == 3 and s["damaged_blocks"] == 0, "json: counts %r" % s)
    check(s["source"] == "py.pcap" and s["tool"] == "python-writer", "json: metadata")
    check(s["connections"] == 7, "json: connections %r" % s["connections"])
    check(s["methods"] == {"GET": 7, "POST": 6, "HEAD": 6, "CCM_POST": 6}, "json: methods %r" % s["methods"])
    check(s["status"] == {"200": 7, "300": 6, "400": 6, "none": 6}, "json: status %r" % s["status"])
    check(s["first_ts"] == "2007-08-05T19:16:44.199Z", "json: first_ts %r" % s["first_ts"])
    check(s["flags"]["chunked"] == 3, "json: chunked %r" % s["flags"])
    check(s["body_bytes"] == sum(len(r["body"]) for r in recs), "json: body_bytes")
    rc, out, err = inspect(good)
    check(rc == 0 and "records      25" in out and "GET 7" in out, "text summary: %r" % out)

    # A newer minor version with an unknown header field reads the same.
    newer = write(tmp, "minor.rpz", build_trace(recs, 10, minor=7)[0])
    rc, err = check_records(newer, recs, "minor 0.7")
    check(rc == 0, "minor 0.7: exit 0")

    # A flipped payload byte costs block 1 only, with a warning naming it.
    bad = bytearray(data)
    bad[offs[1] + 70] ^= 0x40
    path = write(tmp, "flipped.rpz", bytes(bad))
    rc, err = check_records(path, recs[:10] + recs[20:], "flipped byte")
    check(rc == 0, "flipped byte: exit 0")
    check(err.count("\n") == 1 and path in err and "byte %d" % offs[1] in err,
          "flipped byte: one warning naming file and offset: %r" % err)
    s = json.loads(inspect(path, "--json")[1])
    check(s["damaged_blocks"] == 1 and s["lost_records"] == 10 and s["records"] == 15, "flipped byte: json %r" % s)

    # A killed writer: no index, the last block cut in the middle.
    path = write(tmp, "cut.rpz", data[:offs[2] + 80])
    rc, err = check_records(path, recs[:20], "truncated")
    check(rc == 0 and "truncated" in err and path in err, "truncated: warning %r" % err)
    s = json.loads(inspect(path, "--json")[1])
    check(s["has_index"] is False and s["records"] == 20 and s["damaged_blocks"] == 1, "truncated: json %r" % s)

    # Files that are not traces, and usage errors.
    pcap = write(tmp, "capture.pcap", bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    one_line_error([pcap], 1, [pcap, "not a reprise trace", "reprise capture -r"], "pcap file")
    empty = write(tmp, "empty.rpz", b"")
    one_line_error([empty], 1, [empty, "empty"], "empty file")
    missing = os.path.join(tmp, "missing.rpz")
    one_line_error([missing], 1, [missing, "No such file"], "missing file")
    future = write(tmp, "future.rpz", build_trace(recs, 10, major=2, minor=0)[0])
    one_line_error([future], 1, [future, "newer reprise (format 2.0)"], "future major")
    one_line_error([], 2, ["missing TRACE"], "no argument")
    one_line_error([good, "--frobnicate"], 2, ["--frobnicate"], "unknown option")


if __name__ == "__main__":
    sys.exit(main())
