"""Compares reprise's capture of a pcap with the truth table tshark made.

Each truth row (one HTTP request as tshark saw it) is matched with a
record of `reprise inspect --records` with the same method, URI and Host,
the nearest in time. Then body length and paired status are compared.
Every difference must be covered by an expected difference of that file,
with its reason and its exact count; anything else fails.
"""

import os
import re

import rptest as rt

TRUTH_COLUMNS = ("frame_time_epoch", "first_seg_time_epoch", "frame",
                 "tcp_stream", "src", "dst", "method", "uri", "version",
                 "host", "content_length", "body_len", "resp_frame",
                 "resp_status", "note")


def unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append({"t": "\t", "r": "\r", "n": "\n", "\\": "\\"}.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_tsv(text):
    lines = text.splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, (unescape(v) for v in line.split("\t"))))
            for line in lines[1:] if line]


def read_truth(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return read_tsv(f.read())


def capture_records(pcap, workdir, extra_args=()):
    """Capture pcap into a trace and return (rc, stderr, records)."""
    trace = os.path.join(workdir, os.path.basename(pcap) + ".rpz")
    rc, _, err = rt.run(["capture", "-q", "-r", pcap, "-w", trace] + list(extra_args))
    if rc != 0:
        return rc, err, []
    rc2, out, err2 = rt.run(["inspect", "--records", trace])
    if rc2 != 0:
        return rc2, err2, []
    return 0, err, read_tsv(out)


def match(truth, mine):
    """Pairs truth rows with records; returns (pairs, truth_only, mine_only)."""
    free = {}
    for rec in mine:
        free.setdefault((rec["method"], rec["target"], rec["host"]), []).append(rec)
    pairs, truth_only = [], []
    for row in truth:
        cands = free.get((row["method"], row["uri"], row["host"]), [])
        if not cands:
            truth_only.append(row)
            continue
        t = float(row["first_seg_time_epoch"] or row["frame_time_epoch"]) * 1e9
        best = min(cands, key=lambda r: abs(int(r["ts_ns"]) - t))
        cands.remove(best)
        pairs.append((row, best))
    mine_only = [r for lst in free.values() for r in lst]
    return pairs, truth_only, mine_only


def differences(pairs, truth_only, mine_only):
    """Lists each difference as (kind, truth_row, record)."""
    diffs = []
    for row, rec in pairs:
        if int(row["body_len"] or 0) != int(rec["body_len"]):
            diffs.append(("body_len", row, rec))
        t_status = row["resp_status"] or "0"
        m_status = rec["resp_status"] or "0"
        if t_status != m_status:
            diffs.append(("status", row, rec))
    diffs += [("only_tshark", row, None) for row in truth_only]
    diffs += [("only_reprise", None, rec) for rec in mine_only]
    return diffs


class Expect:
    """An expected difference: kind, a predicate on (truth_row, record),
    the exact count, and the reason."""

    def __init__(self, kind, count, reason, when=None):
        self.kind, self.count, self.reason = kind, count, reason
        self.when = when or (lambda row, rec: True)


def has_flag(rec, flag):
    return rec is not None and flag in rec["flags"].split(",")


# Reusable predicates for the common, explained differences.
def response_cut(row, rec):
    """tshark reports no response when the response body is incomplete in
    the capture; reprise saw the status line and keeps it, flagged."""
    return (row["resp_status"] or "0") == "0" and has_flag(rec, "resp_truncated")


def check_file(name, pcap, truth_path, expects, workdir):
    """Captures one file and checks it against its truth; returns a summary
    line."""
    rc, err, mine = capture_records(pcap, workdir)
    rt.check_eq(rc, 0, "%s: capture exit code (%s)" % (name, err.strip()[:200]))
    truth = read_truth(truth_path)
    pairs, truth_only, mine_only = match(truth, mine)
    diffs = differences(pairs, truth_only, mine_only)

    used = [0] * len(expects)
    for kind, row, rec in diffs:
        for i, e in enumerate(expects):
            if e.kind == kind and e.when(row, rec):
                used[i] += 1
                break
        else:
            what = row or rec
            rt.check(False, "%s: unexpected %s difference for %s %s: tshark %s, reprise %s" % (
                name, kind, what.get("method"), (what.get("uri") or what.get("target", ""))[:80],
                _show(kind, row), _show(kind, rec)))
    for i, e in enumerate(expects):
        rt.check_eq(used[i], e.count, "%s: count of expected %s differences (%s)" % (
            name, e.kind, e.reason))

    agree = sum(1 for row, rec in pairs
                if int(row["body_len"] or 0) == int(rec["body_len"])
                and (row["resp_status"] or "0") == (rec["resp_status"] or "0"))
    return ("%-36s tshark %4d  reprise %4d  both %4d  only tshark %3d  only reprise %3d  "
            "all fields agree %4d  expected differences %d" % (
                name, len(truth), len(mine), len(pairs), len(truth_only), len(mine_only),
                agree, sum(used)))


def _show(kind, r):
    if r is None:
        return "-"
    if kind == "body_len":
        return r.get("body_len")
    if kind == "status":
        return r.get("resp_status") or "none"
    return "present"
