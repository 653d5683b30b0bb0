"""`reprise replay` feeds the results layer: --fail-if thresholds judged
after a real run against reprise-target (exit status 3 when one fails, 0
otherwise, a bad expression rejected before the run with the grammar),
the report's results keys (histograms, endpoints, series), the Locust CSV
files, and `reprise report RUN.json --html` on the saved report.

Each run sends 100 requests over about 1 s to a target with a 20 ms
service time.
"""

import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rptest as rt  # noqa: E402

T0 = 1700000000000000000
MS = 1000000
REQUESTS = 100


def make_trace(tmp):
    """REQUESTS requests 10 ms apart on 4 connections, on two endpoints:
    /api/item/N (folded into /api/item/{id}) and /search."""
    src = os.path.join(tmp, "t.jsonl")
    with open(src, "w") as f:
        for i in range(REQUESTS):
            target = "/api/item/%d?q=1" % i if i % 2 else "/search"
            f.write(json.dumps({
                "ts_ns": T0 + i * 10 * MS, "conn_id": i % 4, "method": "GET",
                "target": target, "version": "1.1",
                "headers": [["Host", "prod.example"]], "body": "", "flags": []}) + "\n")
    trace = os.path.join(tmp, "t.rpz")
    rc, _, err = rt.run(["import", src, "-o", trace])
    rt.check_eq(rc, 0, "import (stderr %r)" % err.strip())
    return trace


def threshold_line(out, expr):
    for line in out.splitlines():
        if line.strip().endswith(")") and expr in line:
            return line.strip()
    return ""


def check_thresholds(trace, url, tmp):
    rc, out, err = rt.run(["replay", trace, "--target", url, "--fail-if", "p95 > 1ms",
                           "--fail-if", "error_rate > 1%"], timeout=60)
    rt.check_eq(rc, 3, "p95 > 1ms against a 20 ms target: exit status 3 (stderr %r)"
                % err.strip())
    rt.check("thresholds" in out, "the summary has a thresholds section")
    rt.check(threshold_line(out, "p95 > 1ms").startswith("FAIL"),
             "p95 > 1ms marked FAIL: %r" % threshold_line(out, "p95 > 1ms"))
    rt.check(threshold_line(out, "error_rate > 1%").startswith("pass"),
             "error_rate > 1%% marked pass: %r" % threshold_line(out, "error_rate > 1%"))

    rc, out, err = rt.run(["replay", trace, "--target", url, "--fail-if", "p95 > 5s",
                           "--fail-if", "endpoint /search p99 > 5s",
                           "--fail-if", "p(95)<5000"], timeout=60)
    rt.check_eq(rc, 0, "p95 > 5s holds for no run against a 20 ms target: exit 0 (stderr %r)"
                % err.strip())
    rt.check(threshold_line(out, "p95 > 5s").startswith("pass"),
             "p95 > 5s marked pass: %r" % threshold_line(out, "p95 > 5s"))
    rt.check(threshold_line(out, "/search p99 > 5s").startswith("pass"),
             "endpoint threshold marked pass")
    rt.check(threshold_line(out, "p(95)<5000").startswith("pass"),
             "k6 form p(95)<5000 (a pass condition) marked pass")


def check_bad_threshold(trace, url):
    started = time.monotonic()
    rc, out, err = rt.run(["replay", trace, "--target", url, "--fail-if", "p95 >> fast"],
                          timeout=30)
    rt.check_eq(rc, 2, "a bad --fail-if is a usage error")
    rt.check("p95 >> fast" in err, "the message names the expression: %r" % err[:200])
    rt.check("grammar" in err.lower() or "error_rate" in err,
             "the message shows the accepted grammar: %r" % err[:300])
    rt.check(out == "", "nothing ran: no summary on stdout (%r)" % out[:200])
    rt.check(time.monotonic() - started < 0.9, "rejected before the 1 s run")


def check_missing_dir(trace, url, tmp):
    missing = os.path.join(tmp, "missing", "run.html")
    started = time.monotonic()
    rc, _, err = rt.run(["replay", trace, "--target", url, "--html", missing], timeout=30)
    rt.check_eq(rc, 1, "--html in a missing directory fails")
    rt.check("--html" in err and "missing" in err, "the message names --html: %r" % err.strip())
    rt.check(time.monotonic() - started < 0.9, "rejected before the 1 s run")


def check_outputs(trace, url, tmp):
    report = os.path.join(tmp, "run.json")
    prefix = os.path.join(tmp, "loc")
    rc, _, err = rt.run(["replay", trace, "--target", url, "--report", report,
                         "--csv", prefix], timeout=60)
    rt.check_eq(rc, 0, "replay with --report and --csv (stderr %r)" % err.strip())
    with open(report) as f:
        data = json.load(f)
    for key in ("histograms", "endpoints", "series", "error_rate", "failures", "outcomes",
                "latency_us"):
        rt.check(key in data, "report has key %s" % key)
    names = sorted((e.get("method"), e.get("endpoint")) for e in data.get("endpoints", []))
    rt.check_eq(names, [("GET", "/api/item/{id}"), ("GET", "/search")], "endpoints")
    rt.check_eq(sum(e.get("requests", 0) for e in data.get("endpoints", [])), REQUESTS,
                "endpoint requests add up")
    series = data.get("series", {})
    rows = series.get("rows") if isinstance(series, dict) else None
    rt.check(isinstance(rows, list) and 1 <= len(rows) <= 4,
             "series has a row per second of the ~1 s run (%d)" % len(rows or []))

    for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv"):
        rt.check(os.path.exists(prefix + suffix), "--csv wrote %s" % suffix)
    with open(prefix + "_stats.csv") as f:
        stats = list(csv.DictReader(f))
    agg = [r for r in stats if r.get("Name") == "Aggregated"]
    rt.check(len(agg) == 1 and int(agg[0]["Request Count"]) == REQUESTS,
             "Locust stats: Aggregated row with %d requests" % REQUESTS)
    if agg:
        rt.check(15 <= float(agg[0]["Median Response Time"]) <= 500,
                 "median response time in ms near the 20 ms delay (%s)"
                 % agg[0]["Median Response Time"])

    html = os.path.join(tmp, "run.html")
    rc, out, err = rt.run(["report", report, "--html", html])
    rt.check_eq(rc, 0, "reprise report RUN.json --html (stderr %r)" % err.strip())
    with open(html) as f:
        page = f.read()
    rt.check("<svg" in page and "/api/item/{id}" in page,
             "the page has charts and the endpoint table")
    rt.check("<script src" not in page and "<link" not in page,
             "the page loads nothing from elsewhere")


def main():
    tmp = rt.temp_dir()
    trace = make_trace(tmp)
    with rt.Target("--delay", "20") as target:
        check_thresholds(trace, target.url, tmp)
        check_bad_threshold(trace, target.url)
        check_missing_dir(trace, target.url, tmp)
        check_outputs(trace, target.url, tmp)
    rt.finish()


main()
