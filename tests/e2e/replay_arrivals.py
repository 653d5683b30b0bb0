"""Replay of captured traces against reprise-target: every captured request
arrives exactly once, with its method, request-target and body length, and
with the target's Host header.

The captures are real: a browsing session, a form POST and a chunked
request body (which replay sends decoded, with a Content-Length).
Expected values come from `reprise inspect --records` of the same trace.
No timing is asserted here, so each replay runs under valgrind, which
must report no error (set VALGRIND=0 to run without it; a sanitizer build,
SAN=1, runs without it because ASan already checks memory).
"""

import collections
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

CAPTURES = ["zeek-workshop-browse.pcap", "zeek-post-form.pcap",
            "zeek-body-match-chunked-req.pcap"]
USE_VALGRIND = os.environ.get("VALGRIND", "1") == "1" and not rt.SAN


def inspect_records(trace):
    """Rows of `reprise inspect --records` as dicts keyed by its header."""
    rc, out, err = rt.run(["inspect", "--records", trace])
    rt.check_eq(rc, 0, "inspect --records %s exit code (stderr %r)"
                % (os.path.basename(trace), err.strip()))
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[0].split("\t") if lines else []
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def replay(trace, target, report):
    args = ["replay", trace, "--target", target.url, "--speed", "50",
            "--max-gap", "100ms", "--report", report]
    if USE_VALGRIND:
        cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite", "-q", rt.REPRISE] + args
        return rt.run_cmd(cmd, timeout=300)
    return rt.run(args)


def check_capture(name, tmp):
    pcap = rt.data_path("data", "corpus", name)
    trace = os.path.join(tmp, name + ".rpz")
    rc, _, err = rt.run(["capture", "-r", pcap, "-w", trace])
    if not rt.check_eq(rc, 0, "%s: capture exit code (stderr %r)"
                       % (name, err.strip())):
        return
    records = inspect_records(trace)
    rt.check(len(records) > 0, "%s: trace has records" % name)
    sent = [r for r in records if r.get("method") != "CONNECT"]

    report = os.path.join(tmp, name + ".json")
    with rt.Target() as target:
        rc, out, err = replay(trace, target, report)
        rt.check_eq(rc, 0, "%s: replay exit code (stderr %r)"
                    % (name, err.strip()))
        rows = target.read_log()

    want = collections.Counter((r["method"], r["target"], int(r["body_len"]))
                               for r in sent)
    got = collections.Counter((r["method"], r["target"], r["body_len"])
                              for r in rows)
    rt.check_eq(sum(got.values()), sum(want.values()),
                "%s: requests that arrived" % name)
    missing = want - got
    extra = got - want
    rt.check_eq(dict(missing), {}, "%s: captured requests that did not "
                "arrive (method, target, body length)" % name)
    rt.check_eq(dict(extra), {}, "%s: arrivals not in the capture" % name)
    # A chunked request is sent with its decoded body and a Content-Length.
    if any(r.get("chunked") == "1" for r in sent):
        rt.check_eq(sorted(set(r["chunked"] for r in rows)), [0],
                    "%s: chunked requests arrive with a Content-Length" % name)
    hosts = set(r["host"] for r in rows)
    rt.check_eq(hosts, {target.address}, "%s: Host header follows --target"
                % name)

    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["requests_sent"], len(sent), "%s: report requests_sent"
                % name)
    rt.check_eq(data["responses"], len(sent), "%s: report responses" % name)
    rt.check_eq(data["errors"]["total"], 0, "%s: report errors.total" % name)
    rt.check_eq(data["status"], {"200": len(sent)}, "%s: report status" % name)
    if "==" in err:
        rt.check(False, "%s: valgrind reported errors: %s" % (name, err))


def main():
    if USE_VALGRIND:
        rt.check(shutil.which("valgrind") is not None,
                 "valgrind is installed (run 'make deps')")
    tmp = rt.temp_dir()
    for name in CAPTURES:
        check_capture(name, tmp)
    rt.finish()


main()
