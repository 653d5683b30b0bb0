"""Capture options that choose and clean what reaches the trace: sampling
by connection, a port list, redaction of headers, query parameters and
bodies, and --max-requests / --duration."""

import collections
import os
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

work = rt.temp_dir()
busy = rt.data_path("data", "corpus", "zeek-bro-org-keepalive.pcap")
post = rt.data_path("data", "corpus", "zeek-post-form.pcap")


def capture(pcap, name, *extra):
    trace = os.path.join(work, name + ".rpz")
    rc, out, err = rt.run(["capture", "-r", pcap, "-w", trace] + list(extra))
    rt.check_eq(rc, 0, "capture %s exit code (%s)" % (name, err.strip()))
    return trace, out


def rows(trace, headers=False):
    args = ["inspect", "--records", trace] + (["--headers"] if headers else [])
    rc, out, err = rt.run(args)
    lines = out.splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:]]


full = rows(capture(busy, "full")[0])
by_conn = collections.Counter(r["conn_id"] for r in full)

# Sampling keeps whole connections, the same ones every run.
trace, out = capture(busy, "sample", "--sample", "50")
half = rows(trace)
kept = collections.Counter(r["conn_id"] for r in half)
rt.check(0 < len(kept) < len(by_conn), "sample 50%%: some connections kept, some not (%d of %d)"
         % (len(kept), len(by_conn)))
rt.check(all(kept[c] == by_conn[c] for c in kept), "sample 50%: every kept connection is whole")
rt.check("by --sample" in out, "sample 50%: summary counts connections left out")
again = rows(capture(busy, "sample2", "--sample", "50")[0])
rt.check_eq([r["target"] for r in again], [r["target"] for r in half], "sample 50%: same choice every run")
rc, out, _ = rt.run(["inspect", trace])
rt.check("sampling     50%" in out, "sample 50%: inspect shows the sampling")

# A port list: nothing on port 80 is kept when only 8080 is listed.
trace, out = capture(busy, "ports8080", "--ports", "8080")
rt.check_eq(len(rows(trace)), 0, "--ports 8080: no request kept")
trace, out = capture(busy, "ports80", "--ports", "443,80")
rt.check_eq(len(rows(trace)), len(full), "--ports 443,80: every request kept")

# Redaction before anything reaches the disk.
secret_pcap = os.path.join(work, "secret.pcap")
trace, out = capture(post, "plain")
plain = rows(trace, headers=True)[0]
rt.check("User-Agent: curl/7.29.0" in plain["headers"], "without redaction the header is kept")
trace, out = capture(post, "redacted", "--redact-header", "user-agent", "--redact-header", "Host",
                     "--redact-query", "x", "--drop-bodies")
red = rows(trace, headers=True)[0]
rt.check("User-Agent: REDACTED" in red["headers"], "redacted header value replaced by the marker")
rt.check("Host: REDACTED" in red["headers"], "second redacted header replaced")
rt.check("curl/7.29.0" not in red["headers"], "redacted value absent from the trace")
rt.check("Content-Type: application/x-www-form-urlencoded" in red["headers"],
         "other headers kept as captured")
rt.check_eq(red["body_len"], "0", "--drop-bodies empties the body")
rt.check("redacted" in red["flags"].split(","), "record flagged redacted")
rc, out, _ = rt.run(["inspect", trace])
rt.check("headers user-agent,Host" in out and "bodies dropped" in out,
         "inspect shows the redaction rules: %r" % [l for l in out.splitlines() if "redaction" in l])
raw = open(trace, "rb").read()
rt.check(b"curl/7.29.0" not in raw, "redacted value absent from the raw file")
rt.check_eq(stat.S_IMODE(os.stat(trace).st_mode), 0o600, "trace file mode 0600")

# Query parameters: craft a trace through the capture of a request with a token.
import struct  # noqa: E402


def pcap_with(payloads):
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101)]
    seq = 1000
    for i, data in enumerate(payloads):
        tcp = struct.pack("!HHIIBBHHH", 40000, 80, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 0, 0, 64, 6, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        pkt = ip + tcp + data
        out.append(struct.pack("<IIII", 100 + i, 0, len(pkt), len(pkt)) + pkt)
        seq += len(data)
    return b"".join(out)


with open(secret_pcap, "wb") as f:
    f.write(pcap_with([b"GET /login?user=ann&token=s3cr3t&x=1 HTTP/1.1\r\nHost: h\r\n"
                       b"Authorization: Bearer abc.def\r\nCookie: sid=42\r\n\r\n"]))
trace, out = capture(secret_pcap, "query", "--redact-query", "token", "--redact-header", "authorization")
r = rows(trace, headers=True)[0]
rt.check_eq(r["target"], "/login?user=ann&token=REDACTED&x=1", "query parameter value replaced")
rt.check("Authorization: REDACTED" in r["headers"], "Authorization replaced")
rt.check("warning:" in out and "--redact-header" in out, "summary warns that Cookie stays: %r" % out)
raw = open(trace, "rb").read()
rt.check(b"s3cr3t" not in raw and b"abc.def" not in raw, "secrets absent from the raw file")
rc, out, err = rt.run(["capture", "-q", "-r", secret_pcap, "-w", os.path.join(work, "x.rpz")])
rt.check("abc.def" not in out + err and "sid=42" not in out + err, "no header value is ever printed")

# Stop conditions.
trace, out = capture(busy, "max10", "--max-requests", "10")
got = rows(trace)
rt.check_eq(len(got), 10, "--max-requests 10 writes 10 requests")
rt.check_eq([r["target"] for r in got], [r["target"] for r in full[:10]], "--max-requests keeps the first 10")
trace, out = capture(busy, "dur", "--duration", "1s")
first = int(full[0]["ts_ns"])
got = rows(trace)
rt.check(0 < len(got) < len(full), "--duration 1s keeps a part (%d of %d)" % (len(got), len(full)))
rt.check(all(int(r["ts_ns"]) - first <= 1_000_000_000 for r in got), "--duration 1s: times within 1 s")

for bad in (["--sample", "0"], ["--sample", "101"], ["--ports", "http"], ["--duration", "soon"],
            ["--max-requests", "-1"]):
    rc, out, err = rt.run(["capture", "-r", busy, "-w", os.path.join(work, "bad.rpz")] + bad)
    rt.check_eq(rc, 2, "bad option %s: exit code 2" % " ".join(bad))
    rt.check(bad[0] in err, "bad option %s: message names it: %r" % (" ".join(bad), err.strip()))

rt.finish()
