"""What replay reports about itself: the open-file limit, the saturation
warning, the generator's CPU use, --threads, and the progress line.

- With a hard open-file limit of 64, a replay asked for 500 connections
  warns, names 'ulimit -n', lowers its limits and still completes.
- Requests that wait for --max-inflight are counted and named on stderr;
  a rate the generator cannot keep up with is reported as saturated, in
  the report and on stderr.
- --threads 2 sends every request, split by connection, and merges the
  figures.
- On a terminal, a progress line comes once a second and shows a long
  wait for the next request; without a terminal there is none.
"""

import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

T0 = 1700000000000000000
MS = 1000000


def make_trace(tmp, name, rows):
    """rows: (offset_ms, conn_id, target). Returns the trace path."""
    src = os.path.join(tmp, name + ".jsonl")
    with open(src, "w") as f:
        for offset_ms, conn, target in rows:
            f.write(json.dumps({
                "ts_ns": T0 + int(offset_ms * MS), "conn_id": conn,
                "method": "GET", "target": target, "version": "1.1",
                "headers": [["Host", "prod.example"]], "body": "",
                "flags": []}) + "\n")
    trace = os.path.join(tmp, name + ".rpz")
    rc, _, err = rt.run(["import", src, "-o", trace])
    rt.check_eq(rc, 0, "import %s (stderr %r)" % (name, err.strip()))
    return trace


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def check_nofile(trace, tmp):
    report = os.path.join(tmp, "nofile.json")
    with rt.Target() as target:
        proc = subprocess.run([rt.REPRISE, "replay", trace, "--target", target.url,
                               "--max-gap", "0", "--max-connections", "500",
                               "--max-inflight", "500", "--connections", "new",
                               "--report", report],
                              capture_output=True, text=True, timeout=60,
                              preexec_fn=low_nofile)
        rows = target.read_log()
    rt.check_eq(proc.returncode, 0, "open-file limit 64: exit code")
    rt.check("open-file limit (64)" in proc.stderr and "ulimit -n" in proc.stderr,
             "open-file limit 64: warning names the limit and the fix (%r)"
             % proc.stderr.strip())
    rt.check_eq(len(rows), 200, "open-file limit 64: every request arrived")
    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["errors"]["total"], 0, "open-file limit 64: no errors")
    rt.check(data["setup"]["max_connections"] < 64,
             "open-file limit 64: limit lowered to %d" % data["setup"]["max_connections"])


def check_limit_wait(trace, tmp):
    report = os.path.join(tmp, "wait.json")
    with rt.Target("--delay", "20") as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url, "--rate", "400",
                               "--uniform", "--max-inflight", "1", "--duration", "500ms",
                               "--report", report])
    rt.check_eq(rc, 0, "in-flight limit: exit code")
    with open(report) as f:
        data = json.load(f)
    # 200 requests are due in 0.5 s and 25 of them can be served: the
    # others wait, and those still waiting at the end are counted too.
    rt.check_between(data["waited"], 10, 30, "in-flight limit: waited")
    rt.check_between(data["left_at_stop"], 150, 190, "in-flight limit: left_at_stop")
    rt.check_eq(data["requests_due"], data["responses"] + data["errors"]["total"] +
                data["left_at_stop"] + data["cancelled"],
                "in-flight limit: every due request accounted for")
    rt.check_eq(data["max_in_flight"], 1, "in-flight limit: max_in_flight")
    rt.check("waited for the in-flight limit of 1" in err and "--over-limit drop" in err,
             "in-flight limit: warning on stderr names the limit and the fixes (%r)"
             % err.strip())
    gen = data["generator"]
    rt.check(gen["cpu_s"] > 0 and gen["requests_per_cpu_s"] > 0,
             "generator CPU use in the report: %r" % gen)
    rt.check_eq(gen["threads"], 1, "generator.threads")


def check_saturation(trace, tmp):
    # A million requests a second leaves 1 us between requests, which no
    # write system call keeps up with.
    report = os.path.join(tmp, "sat.json")
    with rt.Target() as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url, "--rate", "1000000",
                               "--uniform", "--report", report])
    rt.check_eq(rc, 0, "saturated run: exit code")
    with open(report) as f:
        data = json.load(f)
    sat = data["saturation"]
    rt.check_eq(sat["saturated"], True, "saturated run: saturation.saturated")
    rt.check_eq(sat["mean_gap_us"], 1, "saturated run: saturation.mean_gap_us")
    rt.check_eq(sat["threshold_us"], 5, "saturated run: saturation.threshold_us")
    rt.check("could not keep up" in err and "understate" in err,
             "saturated run: warning on stderr (%r)" % err.strip())


def check_threads(trace, tmp):
    report = os.path.join(tmp, "threads.json")
    with rt.Target() as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url, "--rate", "1000",
                               "--threads", "2", "--report", report])
        rows = target.read_log()
    rt.check_eq(rc, 0, "--threads 2: exit code (stderr %r)" % err.strip())
    rt.check_eq(len(rows), 200, "--threads 2: arrivals")
    rt.check_eq(sorted(r["target"] for r in rows), sorted("/n%d" % i for i in range(200)),
                "--threads 2: every request once")
    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["generator"]["threads"], 2, "--threads 2: generator.threads")
    rt.check_eq(data["responses"], 200, "--threads 2: merged responses")
    rt.check_eq(data["latency_us"]["count"], 200, "--threads 2: merged latency histogram")
    rt.check_eq(data["connections"]["opened"], 20, "--threads 2: one connection per captured one")
    rt.check("2 threads" in out, "--threads 2: summary names the threads")


def check_progress(tmp):
    # Two requests 3.5 s apart: the progress line shows the wait.
    trace = make_trace(tmp, "pause", [(0, 1, "/p0"), (3500, 1, "/p1")])
    with rt.Target() as target:
        rc, text = rt.read_pty([rt.REPRISE, "replay", trace, "--target", target.url], 30)
        rows = target.read_log()
        rc2, out, err = rt.run(["replay", trace, "--target", target.url, "--speed", "10"])
    rt.check_eq(rc, 0, "progress: exit code")
    rt.check_eq(len(rows), 2, "progress: arrivals")
    lines = [part for part in text.split("\r") if "sent" in part and "/s" in part]
    rt.check_between(len(lines), 2, 4, "progress: one line a second (%r)" % lines)
    rt.check(any("/3.5s" in line for line in lines), "progress: elapsed and total time")
    rt.check(any("waiting" in line and "for the next request" in line for line in lines),
             "progress: the long wait shows")
    rt.check(all("in flight" in line and "p95" in line and "errors" in line for line in lines),
             "progress: in flight, p95 and errors")
    rt.check_eq(rc2, 0, "no terminal: exit code")
    rt.check("sent" not in err and "\r" not in err, "no terminal: no progress line (%r)" % err)


def main():
    tmp = rt.temp_dir()
    trace = make_trace(tmp, "many", [(i * 2, i % 20, "/n%d" % i) for i in range(200)])
    check_nofile(trace, tmp)
    check_limit_wait(trace, tmp)
    check_saturation(trace, tmp)
    check_threads(trace, tmp)
    check_progress(tmp)
    rt.finish()


main()
