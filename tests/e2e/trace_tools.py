#!/usr/bin/env python3
"""The trace tools end to end: export, import, slice, filter, merge,
sample, repair and inspect, on traces captured from the corpus in
tests/data/corpus and on the golden edge-case trace.

Expected results are computed here from the JSON Lines export (checked
first against the records inspect prints), so each tool is checked
against an independent reading of the same requests. The curl export is
run against a reprise-target on 127.0.0.1.
"""
import base64
import json
import os
import stat
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

TMP = rt.temp_dir("rp-e2e-tools-")
CORPUS = rt.data_path("data", "corpus")
EDGE = rt.data_path("data", "golden", "v1.0-edge-cases.rpz")


def path(name):
    return os.path.join(TMP, name)


def reprise(*args, ok=True, what=None):
    """Runs reprise; with ok, checks the exit status is 0."""
    rc, out, err = rt.run([str(a) for a in args])
    if ok:
        rt.check(rc == 0, "%s: exit 0 (got %r, stderr %r)" % (what or args[0], rc, err[-400:]))
    return rc, out, err


def export_jsonl(trace):
    p = subprocess.run([rt.REPRISE, "export", trace], capture_output=True, timeout=120)
    rt.check(p.returncode == 0, "export %s: exit 0 (%r)" % (os.path.basename(trace), p.stderr))
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def body_of(rec):
    if "body_base64" in rec:
        return base64.b64decode(rec["body_base64"])
    return rec.get("body", "").encode()


def target_of(rec):
    if "target_base64" in rec:
        return base64.b64decode(rec["target_base64"]).decode("latin-1")
    return rec["target"]


def host_of(rec):
    for name, value in rec.get("headers", []):
        if name.lower() == "host":
            return value.strip()
    return None


def mode_of(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def history(trace):
    rc, out, _ = reprise("inspect", "--json", trace)
    return json.loads(out) if rc == 0 else {}


# ---- inputs ----

def capture(pcap, name, *opts):
    out = path(name)
    reprise("capture", "-q", *opts, "-r", os.path.join(CORPUS, pcap), "-w", out,
            what="capture " + pcap)
    return out


browse = capture("zeek-workshop-browse.pcap", "browse.rpz")
pipelined = capture("sv-pipelined-nodup.pcap", "pipelined.rpz")
ipv6 = capture("zeek-1000-requests-ipv6.pcap", "ipv6.rpz")
chunked = capture("zeek-body-match-chunked-req.pcap", "chunked.rpz")


# ---- export and import ----

def check_jsonl_matches_records(trace):
    """The JSON Lines export has what inspect --records shows."""
    recs = export_jsonl(trace)
    p = subprocess.run([rt.REPRISE, "inspect", "--records", trace], capture_output=True)
    lines = p.stdout.decode("latin-1").splitlines()[1:]
    rt.check_eq(len(recs), len(lines), "%s: export and inspect count" % os.path.basename(trace))
    bad = 0
    for rec, line in zip(recs, lines):
        cols = line.split("\t")
        ok = (str(rec["ts_ns"]) == cols[0] and str(rec["conn_id"]) == cols[1]
              and rec["version"] == cols[4] and str(len(body_of(rec))) == cols[6]
              and (("response" in rec and str(rec["response"]["status"]) == cols[8])
                   or ("response" not in rec and cols[8] == "")))
        bad += not ok
    rt.check_eq(bad, 0, "%s: export fields agree with inspect" % os.path.basename(trace))
    return recs


def check_round_trip(trace, fmt, name):
    """export FORMAT, import it back, export again: the same JSON Lines."""
    exported = path(name + "." + fmt)
    reprise("export", trace, "--format", fmt, "-o", exported, what="export " + fmt)
    rt.check_eq(mode_of(exported), 0o600, "export -o %s: mode 0600" % fmt)
    back = path(name + "-back.rpz")
    reprise("import", exported, "-o", back, what="import " + fmt)
    return export_jsonl(back)


for trace in (EDGE, browse, pipelined, chunked, ipv6):
    name = os.path.basename(trace)[:-4]
    recs = check_jsonl_matches_records(trace)
    again = check_round_trip(trace, "jsonl", name)
    rt.check(again == recs, "%s: JSON Lines round trip gives the same records" % name)
    p1 = subprocess.run([rt.REPRISE, "inspect", "--records", "--headers", trace],
                        capture_output=True).stdout
    p2 = subprocess.run([rt.REPRISE, "inspect", "--records", "--headers",
                         path(name + "-back.rpz")], capture_output=True).stdout
    rt.check(p1 == p2, "%s: JSON Lines round trip: same bytes in every field" % name)

# GoReplay: requests back with their bytes; responses are not exported.
recs = export_jsonl(browse)
gor_back = check_round_trip(browse, "gor", "browse")
rt.check_eq([(r["method"], r["target"], r["headers"], r["ts_ns"]) for r in gor_back],
            [(r["method"], r["target"], r["headers"], r["ts_ns"]) for r in recs],
            "browse: GoReplay round trip keeps methods, targets, headers and times")
recs = export_jsonl(chunked)
gor_back = check_round_trip(chunked, "gor", "chunked")
rt.check_eq([(body_of(r), r["flags"]) for r in gor_back],
            [(body_of(r), [f for f in r["flags"] if f == "chunked"]) for r in recs],
            "chunked: GoReplay round trip keeps decoded bodies and the chunked flag")

# HAR: valid JSON, one entry per request, readable by the importer.
har_path = path("edge.har")
reprise("export", EDGE, "--format", "har", "-o", har_path)
with open(har_path, "rb") as f:
    har = json.loads(f.read().decode("utf-8"))
edge = export_jsonl(EDGE)
rt.check_eq(har["log"]["version"], "1.2", "HAR: log.version")
rt.check_eq(len(har["log"]["entries"]), len(edge), "HAR: one entry per request")
e = har["log"]["entries"][2]
rt.check_eq((e["request"]["method"], e["request"]["url"], e["response"]["status"]),
            ("POST", "http://127.0.0.1:8080/api/v1/orders", 201), "HAR: a POST entry")
rt.check_eq(e["request"]["postData"]["text"], edge[2]["body"], "HAR: UTF-8 body as text")
e = har["log"]["entries"][3]
rt.check_eq(base64.b64decode(e["request"]["postData"]["_base64"]), body_of(edge[3]),
            "HAR: binary body kept exactly in _base64")
e = har["log"]["entries"][1]
rt.check_eq(e["request"]["queryString"], [{"name": "page", "value": "2"},
                                          {"name": "sort", "value": "-date"}],
            "HAR: query string")
har_back = check_round_trip(EDGE, "har", "edge-har")
rt.check_eq([(r["ts_ns"], body_of(r)) for r in har_back if r["method"] != "CONNECT"][:4],
            [(r["ts_ns"], body_of(r)) for r in edge][:4], "HAR round trip: times and bodies")

# raw: the requests as sent.
out = subprocess.run([rt.REPRISE, "export", pipelined, "--format", "raw", "--limit", "2"],
                     capture_output=True).stdout
rt.check(out.startswith(b"GET /postinfo.html HTTP/1.1\r\nHost: ") and out.count(b"\r\n\r\n") == 2,
         "raw: two requests as sent: %r" % out[:60])

# Selection: --index and --limit.
rc, out, _ = reprise("export", EDGE, "--index", "1,5-6,10")
got = [json.loads(line)["conn_id"] for line in out.splitlines()]
rt.check_eq(got, [edge[i]["conn_id"] for i in (1, 5, 6, 10)], "--index 1,5-6,10")
rc, out, _ = reprise("export", EDGE, "--limit", "3")
rt.check_eq(len(out.splitlines()), 3, "--limit 3")
rc, out, err = reprise("export", browse, "--format", "curl")
rt.check_eq(out.count("\ncurl ") + out.startswith("curl "), 10,
            "curl: the first 10 requests by default")
rt.check("--limit" in err, "curl: says how to get more: %r" % err)

# curl: the commands run against a local reprise-target, bodies intact.
with rt.Target() as target:
    rc, script, _ = reprise("export", EDGE, "--format", "curl", "--index", "2-3",
                            "--base-url", target.url)
    p = subprocess.run(["bash", "-c", script.replace("curl -sS", "curl -sS -o /dev/null")],
                       capture_output=True, timeout=60)
    rt.check(p.returncode == 0, "curl commands ran: %r" % p.stderr[-300:])
    rows = target.read_log()
rt.check_eq([(r["method"], r["target"]) for r in rows],
            [("POST", "/api/v1/orders"), ("PUT", "/blobs/507f1f77bcf86cd799439011")],
            "curl: the target saw both requests")
rt.check_eq([r["body_len"] for r in rows], [len(body_of(edge[2])), 16],
            "curl: bodies arrived whole, NUL bytes included")


# ---- slice ----

first = edge[0]["ts_ns"]
out = path("slice.rpz")
reprise("slice", EDGE, "-o", out, "--from", "2ms", "--to", "2h")
got = export_jsonl(out)
want = [r for r in edge if first + 2000000 <= r["ts_ns"] < first + 7200 * 10**9]
rt.check_eq([r["ts_ns"] for r in got], [r["ts_ns"] for r in want], "slice --from 2ms --to 2h")
rt.check_eq(mode_of(out), 0o600, "slice output: mode 0600")
info = history(out)
rt.check("slice" in info.get("history", "") and info.get("source") == "edge-cases.jsonl",
         "slice keeps the source and notes itself in the history: %r" % info.get("history"))
reprise("slice", EDGE, "-o", out, "--from", "2024-12-03T11:00:00+01:00",
        "--to", "2024-12-03T10:00:00.004Z")
got = export_jsonl(out)
rt.check_eq([r["ts_ns"] for r in got],
            [r["ts_ns"] for r in edge if first - 1000 <= r["ts_ns"] < first - 1000 + 4000000],
            "slice with RFC 3339 times and an offset")
no_index = rt.data_path("data", "golden", "v1.0-no-index.rpz")
reprise("slice", no_index, "-o", out, "--from", "4ms")
rt.check_eq([r["ts_ns"] for r in export_jsonl(out)],
            [r["ts_ns"] for r in edge if r["ts_ns"] >= first + 4000000],
            "slice of a trace without an index")


# ---- filter ----

def check_filter(args, keep, what):
    out = path("filter.rpz")
    reprise("filter", EDGE, "-o", out, *args, what="filter " + what)
    got = [(r["ts_ns"], r["conn_id"]) for r in export_jsonl(out)]
    rt.check_eq(got, [(r["ts_ns"], r["conn_id"]) for r in edge if keep(r)], "filter " + what)


def status_of(r):
    return r["response"]["status"] if "response" in r else None


check_filter(["--method", "GET"], lambda r: r.get("method") == "GET", "--method GET")
check_filter(["--method", "PUT,DELETE"], lambda r: r.get("method") in ("PUT", "DELETE"),
             "--method PUT,DELETE")
check_filter(["--path", "/api/"], lambda r: target_of(r).startswith("/api/"), "--path /api/")
check_filter(["--path-regex", "^/(users|blobs)/[0-9a-f]+"],
             lambda r: target_of(r).startswith(("/users/", "/blobs/")), "--path-regex")
check_filter(["--status", "2xx"], lambda r: status_of(r) is not None and 200 <= status_of(r) < 300,
             "--status 2xx")
check_filter(["--status", "none"], lambda r: status_of(r) is None, "--status none")
check_filter(["--status", "400-599,101"],
             lambda r: status_of(r) is not None and (400 <= status_of(r) <= 599 or status_of(r) == 101),
             "--status 400-599,101")
check_filter(["--host", "127.0.0.1"], lambda r: (host_of(r) or "").split(":")[0] == "127.0.0.1",
             "--host without port")
check_filter(["--host", "127.0.0.1:443"], lambda r: host_of(r) == "127.0.0.1:443",
             "--host with port")
check_filter(["--method", "GET", "--exclude-path", "/users", "--exclude-status", "none"],
             lambda r: r.get("method") == "GET" and not target_of(r).startswith("/users")
             and status_of(r) is not None, "include and exclude combined")


# A history line longer than the field a reader keeps is cut, and older
# lines make room for it.
out = path("long.rpz")
rc, _, err = rt.run(["filter", EDGE, "-o", out, "--path", "/" + "x" * 3000], timeout=20)
rt.check_eq(rc, 0, "filter with a 3000-byte argument: exit 0 (%r)" % err[-200:])
h = history(out).get("history", "")
rt.check(h.startswith("reprise ") and "filter" in h and len(h.encode()) <= 1023,
         "a long history line is cut to what a reader keeps: %d bytes" % len(h.encode()))

# ---- merge ----

out = path("merged.rpz")
reprise("merge", "-o", out, browse, pipelined, EDGE)
got = export_jsonl(out)
parts = [export_jsonl(t) for t in (browse, pipelined, EDGE)]
rt.check_eq(len(got), sum(len(p) for p in parts), "merge: every request")
rt.check(all(a["ts_ns"] <= b["ts_ns"] for a, b in zip(got, got[1:])), "merge: time-ordered")
conns = {int(r["conn_id"]) for r in got}
rt.check_eq(len(conns), sum(len({int(r["conn_id"]) for r in p}) for p in parts),
            "merge: connection ids stay distinct")
rt.check_eq(sorted({int(r["conn_id"]) >> 56 for r in got}), [1, 2, 3],
            "merge: input number in the top 8 bits")
info = history(out)
rt.check("zeek-workshop-browse.pcap" in info.get("source", "")
         and "sv-pipelined-nodup.pcap" in info.get("source", ""),
         "merge: sources listed: %r" % info.get("source"))


# ---- sample ----

ipv6_recs = export_jsonl(ipv6)
many = path("many-conns.rpz")
# One connection per request, so that sampling has many to choose from.
lines = []
for i, r in enumerate(ipv6_recs):
    r = dict(r)
    r["conn_id"] = i + 1
    lines.append(json.dumps(r))
with open(path("many.jsonl"), "w") as f:
    f.write("\n".join(lines) + "\n")
reprise("import", path("many.jsonl"), "-o", many)
all_recs = export_jsonl(many)
out = path("sample.rpz")
reprise("sample", "25", many, "-o", out)
kept = export_jsonl(out)
rt.check_between(len(kept), 180, 320, "sample 25: about a quarter of 1000 connections")
ids = {r["conn_id"] for r in kept}
rt.check(all(r in all_recs for r in kept), "sample: kept requests are unchanged")
reprise("sample", "25", many, "-o", path("sample2.rpz"))
rt.check_eq({r["conn_id"] for r in export_jsonl(path("sample2.rpz"))}, ids,
            "sample: the same percentage keeps the same connections")
reprise("sample", "10", many, "-o", path("sample3.rpz"))
rt.check({r["conn_id"] for r in export_jsonl(path("sample3.rpz"))} <= ids,
         "sample: 10% keeps a subset of what 25% keeps")
reprise("sample", "50", out, "-o", path("sample4.rpz"))
rt.check_eq(history(path("sample4.rpz")).get("sample"), "12.5%",
            "sample of a sample: the metadata gives the share of the original")
out = path("browse-sample.rpz")
reprise("sample", "50", browse, "-o", out, "--seed", "3")
by_conn = {}
for r in export_jsonl(browse):
    by_conn.setdefault(r["conn_id"], []).append(r["ts_ns"])
kept = export_jsonl(out)
rt.check(all(sorted(by_conn[c]) == sorted(r["ts_ns"] for r in kept if r["conn_id"] == c)
             for c in {r["conn_id"] for r in kept}), "sample keeps connections whole")
reprise("sample", "100", browse, "-o", out)
rt.check_eq(len(export_jsonl(out)), len(by_conn and export_jsonl(browse)), "sample 100 keeps all")


# ---- repair ----

def block_offsets(data):
    """Offsets of the blocks, walking their headers (docs/trace-format.md)."""
    offs, off = [], struct.unpack_from("<I", data, 12)[0]
    while off + 56 <= len(data) and data[off:off + 4] == b"RPBK":
        offs.append(off)
        off += 56 + struct.unpack_from("<I", data, off + 12)[0]
    return offs, off


with open(EDGE, "rb") as f:
    data = f.read()
offs, blocks_end = block_offsets(data)
rt.check_eq(len(offs), 3, "edge-case trace: 3 blocks")
counts = [struct.unpack_from("<I", data, o + 8)[0] for o in offs]
cuts = [(o, sum(counts[:k])) for k, o in enumerate(offs)] + [(blocks_end, len(edge))]
cuts += [(o + 60, sum(counts[:k])) for k, o in enumerate(offs)]      # inside a block
for cut, n in cuts:
    broken = path("broken.rpz")
    with open(broken, "wb") as f:
        f.write(data[:cut])
    fixed = path("fixed.rpz")
    rc, _, err = reprise("repair", broken, "-o", fixed, what="repair cut at %d" % cut)
    info = history(fixed)
    rt.check(info.get("has_index") is True and info.get("records") == n,
             "repair of a trace cut at byte %d: index and %d records (%r)"
             % (cut, n, (info.get("has_index"), info.get("records"))))
    rt.check_eq([r["ts_ns"] for r in export_jsonl(fixed)], [r["ts_ns"] for r in edge[:n]],
                "repaired trace cut at %d: the complete blocks' records" % cut)
# In place: the trace is replaced once the repaired copy is complete.
broken = path("inplace.rpz")
with open(broken, "wb") as f:
    f.write(data[:offs[2] + 30])
reprise("repair", broken)
info = history(broken)
rt.check(info.get("has_index") and info.get("records") == sum(counts[:2])
         and "repair" in info.get("history", ""), "repair in place")
rt.check(not os.path.exists(broken + ".repair-tmp"), "repair in place leaves no temporary file")


# ---- inspect ----

rc, out, err = reprise("inspect", EDGE)
rt.check("rate" in out and "#" in out, "inspect: rate chart in ASCII when not a terminal")
rt.check("idle gap" in out and "--max-gap" in out, "inspect: warns about the 2 h gap, "
         "naming --max-gap: %r" % out[-300:])
rt.check("GET /users/{id}/orders" in out, "inspect: endpoint template")
s = history(EDGE)
rt.check_eq(s["gaps"]["over_threshold"], 1, "inspect --json: one gap over 1 h")
rt.check(s["endpoints"][0] == {"endpoint": "GET /", "count": 2, "max_overcount": 0},
         "inspect --json: top endpoint %r" % s["endpoints"][:1])
rt.check_eq(s["request_size"]["count"], len(edge), "inspect --json: request sizes")
rt.check_eq(s["body_size"]["max"], max(len(body_of(r)) for r in edge),
            "inspect --json: largest body")
rt.check(s["compression_ratio"] > 0 and s["raw_bytes"] > 0, "inspect --json: compression")
rt.check_eq(sum(s["rate"]["counts"]), len(edge), "inspect --json: rate counts add up")
rc, out, _ = reprise("inspect", EDGE, "--gap", "3h")
rt.check("idle gap" not in out, "inspect --gap 3h: no warning for a 2 h gap")

# Bounded counting: 70,000 connections and 2,000 endpoints.
lines = []
for i in range(70000):
    lines.append('{"ts_ns":%d,"conn_id":%d,"method":"GET","target":"/%s/x","headers":[]}'
                 % (10**18 + i * 1000, i * 7919 + 1, "p%d" % (i % 2000) if i % 4 else "hot"))
with open(path("big.jsonl"), "w") as f:
    f.write("\n".join(lines) + "\n")
reprise("import", path("big.jsonl"), "-o", path("big.rpz"))
s = history(path("big.rpz"))
rt.check(s["connections_estimated"] is True, "inspect: connections estimated past 65,536")
rt.check_between(s["connections"], 70000 * 0.97, 70000 * 1.03,
                 "inspect: HyperLogLog estimate within 3%")
rt.check(s["endpoints_approximate"] is True, "inspect: endpoint counts approximate past 1024")
top = s["endpoints"][0]
rt.check(top["endpoint"] == "GET /hot/x" and top["count"] - top["max_overcount"] <= 17500
         <= top["count"], "inspect: the hot endpoint's true count within its bound: %r" % top)
rc, out, _ = reprise("inspect", path("big.rpz"))
rt.check("about 7" in out and "HyperLogLog" in out, "inspect text says the count is an estimate")


# ---- usage errors ----

for args, part in ((["export"], "missing TRACE"),
                   (["export", EDGE, "--format", "xml"], "jsonl, har, curl, gor or raw"),
                   (["export", EDGE, "--index", "5-2"], "--index"),
                   (["slice", EDGE], "missing -o OUT"),
                   (["slice", EDGE, "-o", path("x.rpz"), "--from", "yesterday"], "--from"),
                   (["slice", EDGE, "-o", path("x.rpz"), "--from", "5s", "--to", "1s"], "before"),
                   (["filter", EDGE, "-o", path("x.rpz"), "--path-regex", "(["], "regular expression"),
                   (["filter", EDGE, "-o", path("x.rpz"), "--status", "6xx6"], "invalid status"),
                   (["merge", "-o", path("x.rpz"), EDGE], "at least two"),
                   (["sample", "0", EDGE, "-o", path("x.rpz")], "PERCENT"),
                   (["sample", "150", EDGE, "-o", path("x.rpz")], "PERCENT"),
                   (["import", EDGE], "missing -o OUT"),
                   (["import", har_path, "-o", path("x.rpz"), "--format", "pcap"], "--format"),
                   (["slice", EDGE, "-o", EDGE], "is the input")):
    rc, out, err = reprise(*args, ok=False)
    rt.check(rc == 2 and part in err, "%s: usage error naming %r (rc %r, %r)"
             % (" ".join(os.path.basename(a) for a in args), part, rc, err.strip()[:200]))

rt.finish()
