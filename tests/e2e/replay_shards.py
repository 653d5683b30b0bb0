"""`reprise replay --shard K/N --start-at TIME`: four shards run at once
against one reprise-target (20 ms service time) send the same requests as
one unsharded run, each shard its own connections' requests, all from the
given start time; `reprise merge-reports` of the four gives the request
count of the unsharded run and a p99 consistent with it.

Tolerance: the merged p99 response time is within 50% of the unsharded
run's (both runs are about 20 ms plus scheduling noise on a shared
machine). Exactness of the merge: the merged p99 lies between the
smallest and largest shard p99, and the merged response count is the sum.
Also checks bad --shard and --start-at values.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rptest as rt  # noqa: E402

T0 = 1700000000000000000
MS = 1000000
REQUESTS = 200
CONNS = 8
SHARDS = 4


def make_trace(tmp):
    """REQUESTS requests 10 ms apart, request i on captured connection
    i % CONNS, so each shard of four gets two connections' 50 requests."""
    src = os.path.join(tmp, "t.jsonl")
    with open(src, "w") as f:
        for i in range(REQUESTS):
            f.write(json.dumps({
                "ts_ns": T0 + i * 10 * MS, "conn_id": 100 + i % CONNS, "method": "GET",
                "target": "/c%d/r%d" % (i % CONNS, i), "version": "1.1",
                "headers": [["Host", "prod.example"]], "body": "", "flags": []}) + "\n")
    trace = os.path.join(tmp, "t.rpz")
    rc, _, err = rt.run(["import", src, "-o", trace])
    rt.check_eq(rc, 0, "import (stderr %r)" % err.strip())
    return trace


def load(path):
    with open(path) as f:
        return json.load(f)


def run_shards(trace, url, tmp):
    """Starts the shards together; returns their reports' paths and the
    start time given."""
    start = int(time.time()) + 2
    procs, reports = [], []
    for k in range(1, SHARDS + 1):
        report = os.path.join(tmp, "shard%d.json" % k)
        reports.append(report)
        cmd = [rt.REPRISE, "replay", trace, "--target", url, "--shard", "%d/%d" % (k, SHARDS),
               "--start-at", str(start), "--report", report]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for k, p in enumerate(procs, 1):
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        rt.check_eq(p.returncode, 0, "shard %d/%d exit status (stderr %r)"
                    % (k, SHARDS, err.decode(errors="replace").strip()))
    return reports, start


def check_shards(reports, start):
    total = 0
    for k, path in enumerate(reports, 1):
        data = load(path)
        due = data.get("requests_due")
        rt.check_eq(due, REQUESTS // SHARDS, "shard %d: its two connections' requests" % k)
        total += due or 0
        rt.check_eq(data["setup"].get("shard"), "%d/%d" % (k, SHARDS), "setup.shard")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start))
        rt.check(data.get("start_time", "").startswith(stamp),
                 "shard %d started at --start-at %s (%s)" % (k, stamp, data.get("start_time")))
    rt.check_eq(total, REQUESTS, "the shards' requests add up to the trace's")


def check_merged(reports, whole, tmp):
    merged = os.path.join(tmp, "merged.json")
    rc, out, err = rt.run(["merge-reports"] + reports + ["-o", merged])
    rt.check_eq(rc, 0, "merge-reports (stderr %r)" % err.strip())
    m, w = load(merged), load(whole)
    rt.check_eq(m["requests_due"], w["requests_due"], "merged requests = unsharded requests")
    rt.check_eq(m["responses"], REQUESTS, "merged responses")
    p99_m, p99_w = m["latency_us"]["p99"], w["latency_us"]["p99"]
    rt.check(abs(p99_m - p99_w) <= 0.5 * p99_w,
             "merged p99 %d us within 50%% of the unsharded run's %d us" % (p99_m, p99_w))
    rt.check(p99_m >= 20000, "merged p99 at least the 20 ms service time (%d us)" % p99_m)
    shard_p99 = [load(r)["latency_us"]["p99"] for r in reports]
    rt.check(min(shard_p99) <= p99_m <= max(shard_p99),
             "merged p99 %d us between the shards' %r" % (p99_m, shard_p99))


def check_bad_values(trace, url):
    for value in ("0/4", "5/4", "2", "1/0", "a/b"):
        rc, _, err = rt.run(["replay", trace, "--target", url, "--shard", value])
        rt.check_eq(rc, 2, "--shard %s is a usage error (%r)" % (value, err.strip()))
    for value in ("tomorrow", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00",
                  str(int(time.time()) + 3 * 86400)):
        rc, _, err = rt.run(["replay", trace, "--target", url, "--start-at", value])
        rt.check_eq(rc, 2, "--start-at %s is a usage error (%r)" % (value, err.strip()))
    rc, _, err = rt.run(["replay", trace, "--target", url, "--shard", "1/2", "--users", "2"])
    rt.check_eq(rc, 2, "--shard with --users is a usage error")


def main():
    tmp = rt.temp_dir()
    trace = make_trace(tmp)
    with rt.Target("--delay", "20") as target:
        check_bad_values(trace, target.url)
        reports, start = run_shards(trace, target.url, tmp)
        whole = os.path.join(tmp, "whole.json")
        rc, _, err = rt.run(["replay", trace, "--target", target.url, "--report", whole],
                            timeout=60)
        rt.check_eq(rc, 0, "unsharded replay (stderr %r)" % err.strip())
    check_shards(reports, start)
    check_merged(reports, whole, tmp)
    rt.finish()


main()
