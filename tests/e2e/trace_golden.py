#!/usr/bin/env python3
"""Golden traces: every file in tests/data/golden must read exactly as the
format 1.0 reader read it (tests/data/golden/README.md).

For each NAME.rpz, `reprise inspect --records --headers` must print
NAME.records.txt, and `reprise export` must print NAME.export.jsonl when
that file exists, byte for byte, with nothing on stderr.
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

GOLDEN = rt.data_path("data", "golden")


def first_difference(got, want):
    for i, (g, w) in enumerate(zip(got.split(b"\n"), want.split(b"\n"))):
        if g != w:
            return "line %d:\n  got  %r\n  want %r" % (i + 1, g, w)
    return "lengths differ: %d and %d lines" % (got.count(b"\n"), want.count(b"\n"))


def compare(args, expected_path, what):
    """Compares bytes: the outputs hold bytes that are not UTF-8."""
    with open(expected_path, "rb") as f:
        want = f.read()
    p = subprocess.run([rt.REPRISE] + args, capture_output=True, timeout=60)
    out, err = p.stdout, p.stderr.decode(errors="replace")
    rt.check_eq(p.returncode, 0, what + ": exit status")
    rt.check_eq(err, "", what + ": nothing on stderr")
    if out == want:
        rt.check(True, what + ": output as expected")
    else:
        rt.check(False, what + ": output differs from %s, %s"
                 % (os.path.basename(expected_path), first_difference(out, want)))


traces = sorted(glob.glob(os.path.join(GOLDEN, "*.rpz")))
rt.check(len(traces) >= 6, "golden traces found: %d" % len(traces))
for trace in traces:
    name = trace[:-len(".rpz")]
    base = os.path.basename(name)
    compare(["inspect", "--records", "--headers", trace], name + ".records.txt",
            base + " records")
    if os.path.exists(name + ".export.jsonl"):
        compare(["export", trace], name + ".export.jsonl", base + " export")

# The same capture read from format 0.1 and 1.0 files gives the same
# records.
with open(os.path.join(GOLDEN, "v0.1-browse.records.txt"), "rb") as a, \
        open(os.path.join(GOLDEN, "v1.0-browse.records.txt"), "rb") as b:
    rt.check(a.read() == b.read(), "browse: format 0.1 and 1.0 give the same records")

rt.finish()
