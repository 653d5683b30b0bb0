"""reprise ramp against a target of known capacity.

reprise-target with --workers 2 --delay 10 serves at most 2 * 1000 / 10 =
200 requests/s. The ramp steps the rate by 25 requests/s from 100, so the
highest stable step is 175 or 200 requests/s, depending on where the
queue starts to grow. The found capacity (capacity.stable_rate, the
achieved rate of that step) must be within 15% of 200 requests/s, that
is 170 to 230. The knee must be marked by latency (no queue limit) or by
errors (--queue-limit 4 makes the target respond 503 once the queue is
full, and --knee-factor 5 keeps latency from marking it first), never by
the generator. Each step lasts 2 s, so each of the two ramps takes about
15 s.

The same target is then ramped in concurrent users (60 to 150, 10 more a
step). A user's captured session sends a request every 500 ms, so 100
users ask for the target's 200 requests/s. The capacity must again be
within 15% of 200 requests/s. A 6 s soak at 150 requests/s, below the
capacity, must be steady. Last, a target that slows down by 3 ms a second (--slowdown 3, a
leaking service) must be reported as not recovering and as degrading
during the soak.
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

CAPACITY = 200.0
TOLERANCE = 0.15
STEPS = ["--start-rate", "100", "--step-rate", "25", "--max-rate", "300",
         "--hold", "2s", "--warmup", "25%"]


def make_trace(directory):
    """3000 GETs 10 ms apart on 50 connections, imported from JSON Lines."""
    jsonl = os.path.join(directory, "requests.jsonl")
    t0 = 1700000000000000000
    with open(jsonl, "w") as f:
        for i in range(3000):
            f.write(json.dumps({"ts_ns": t0 + i * 10000000, "conn_id": i % 50,
                                "method": "GET", "target": "/item/%d" % i,
                                "version": "1.1",
                                "headers": [["Host", "example.test"]]}) + "\n")
    trace = os.path.join(directory, "trace.rpz")
    rc, out, err = rt.run(["import", jsonl, "-o", trace])
    rt.check_eq(rc, 0, "import exit code (stderr %r)" % err.strip())
    return trace


def check_report(report, expected_signal, label):
    cap = report.get("capacity", {})
    for key in ("stable_rate", "connections", "knee", "limited_by"):
        rt.check(key in cap, "%s: capacity.%s in the report" % (label, key))
    knee = cap.get("knee") or {}
    steps = report.get("steps", [])
    rows = ["step %s: %.0f/s p95 %.2f ms errors %.2f%% lag p99 %s us%s" % (
        s.get("step"), s.get("asked_rate", 0), s.get("p95_ms", 0),
        100 * s.get("error_rate", 0), s.get("dispatch_lag_p99_us"),
        " saturated" if s.get("generator_saturated") else "") for s in steps]
    rt.check_eq(knee.get("signal"), expected_signal,
                "%s: knee signal (%s)" % (label, "; ".join(rows)))
    rt.check_eq(cap.get("limited_by"), "target", "%s: capacity.limited_by" % label)

    stable = cap.get("stable_rate")
    rt.check(isinstance(stable, (int, float)), "%s: stable_rate is a number" % label)
    if isinstance(stable, (int, float)):
        rt.check_between(stable, CAPACITY * (1 - TOLERANCE),
                         CAPACITY * (1 + TOLERANCE),
                         "%s: stable_rate (requests/s) against the known 200" % label)

    rt.check(len(steps) >= 2, "%s: at least two steps ran" % label)
    for s in steps:
        for key in ("asked_rate", "achieved_rate", "p50_ms", "p95_ms", "p99_ms",
                    "error_rate", "generator_saturated", "connections"):
            rt.check(key in s, "%s: step %s has %s" % (label, s.get("step"), key))
    if steps:
        rt.check_eq(steps[-1].get("step"), knee.get("step"),
                    "%s: the ramp stopped at the knee" % label)

    rec = report.get("recovery", {})
    rt.check_eq(rec.get("ran"), True, "%s: the recovery step ran" % label)
    rt.check("recovered_after_s" in rec and "leak_suspected" in rec,
             "%s: recovery has recovered_after_s and leak_suspected" % label)
    knee_pace = knee.get("pace") or 0
    rt.check(abs(rec.get("pace", 0) - knee_pace / 2) <= 1,
             "%s: recovery drops to half the knee pace (%s of %s)"
             % (label, rec.get("pace"), knee_pace))
    rt.check(rec.get("overload_s", 0) >= 1, "%s: recovery first overloads for 1 s or more"
             % label)
    # A target that does not leak comes back within the 5 s after the drop.
    rt.check_eq(rec.get("leak_suspected"), False,
                "%s: no leak suspected (p95 per second after the drop %s)"
                % (label, rec.get("p95_ms_per_second")))


def ramp(trace, directory, name, *target_args, ramp_args=(), steps=STEPS, knee=True):
    report_path = os.path.join(directory, name + ".json")
    with rt.Target("--workers", "2", "--delay", "10", *target_args,
                   log=False) as target:
        rc, out, err = rt.run(["ramp", trace, "--target", target.url, *steps,
                               *ramp_args, "--report", report_path], timeout=120)
    rt.check_eq(rc, 0, "%s: ramp exit code (stderr %r)" % (name, err.strip()))
    rt.check("\r" not in err, "%s: no progress line without a terminal" % name)
    if knee:
        rt.check("capacity:" in out and "knee:" in out and "recovery:" in out,
                 "%s: the terminal summary names capacity, knee and recovery" % name)
    else:
        rt.check("capacity:" in out and "no knee up to the last step" in out,
                 "%s: the terminal summary names the capacity and no knee" % name)
    print(out)
    if rc != 0 or not os.path.exists(report_path):
        return None
    with open(report_path) as f:
        return json.load(f)


def bad_options(trace):
    cases = [
        (["--bogus"], "--bogus"),
        (["--start-rate", "100", "--step-rate", "25", "--max-rate", "300",
          "--warmup", "120%"], "--warmup"),
        (["--start-rate", "100", "--step-rate", "0", "--max-rate", "300"],
         "--step-rate"),
        (["--start", "1x", "--max", "4x"], "--step"),
        (["--users-start", "0", "--users-step", "10"], "--users-start"),
        (["--users-start", "50", "--users-step", "50", "--start-rate", "100",
          "--step-rate", "10"], "cannot be combined"),
        (["--users-start", "50", "--users-step", "50", "--uniform"], "--uniform"),
        (["--start", "1x", "--step", "1x", "--soak", "1s"], "--soak"),
        (["--users-start", "10", "--users-step", "10", "--hold", "2s"], "--hold"),
    ]
    for args, named in cases:
        rc, out, err = rt.run(["ramp", trace, "--target", "http://127.0.0.1:9",
                               *args])
        rt.check_eq(rc, 2, "ramp %s exit code" % " ".join(args))
        rt.check(named in err, "ramp %s message names %s (stderr %r)"
                 % (" ".join(args), named, err.strip()))


def early_failures(trace, directory):
    """A target that does not listen and a report that cannot be written
    are reported before the first step."""
    with rt.Target(log=False) as target:
        port = target.url.rsplit(":", 1)[1]
    closed = "http://127.0.0.1:%s" % port
    start = time.monotonic()
    rc, out, err = rt.run(["ramp", trace, "--target", closed, *STEPS])
    rt.check_eq(rc, 1, "closed target: exit code")
    rt.check("cannot connect to" in err and "start the target" in err,
             "closed target: the message names the failure and the fix (%r)" % err.strip())
    rt.check(time.monotonic() - start < 10, "closed target: ramp stops before any step")
    with rt.Target(log=False) as target:
        bad = os.path.join(directory, "no-such-dir", "cap.json")
        rc, out, err = rt.run(["ramp", trace, "--target", target.url, *STEPS,
                               "--report", bad])
    rt.check_eq(rc, 1, "unwritable --report: exit code")
    rt.check("--report" in err and "no-such-dir" in err,
             "unwritable --report: the message names the path (%r)" % err.strip())
    rt.check_eq(out, "", "unwritable --report: no step ran")


def interrupted_ramp(trace, directory):
    """SIGINT during the second step: exit 130, and a report that states the
    interruption instead of claiming no knee up to the last step."""
    path = os.path.join(directory, "interrupted.json")
    with rt.Target("--workers", "2", "--delay", "10", log=False) as target:
        proc = subprocess.Popen([rt.REPRISE, "ramp", trace, "--target", target.url,
                                 "--start-rate", "100", "--step-rate", "25", "--max-rate",
                                 "175", "--hold", "2s", "--report", path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3.5)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    rt.check_eq(proc.returncode, 130, "interrupted ramp: exit code (stderr %r)" % err.strip())
    rt.check("interrupted" in out, "interrupted ramp: the summary says so (%r)" % out[-300:])
    if not os.path.exists(path):
        rt.check(False, "interrupted ramp: the report was written")
        return
    with open(path) as f:
        report = json.load(f)
    rt.check_eq(report.get("interrupted_in"), "steps", "interrupted ramp: interrupted_in")
    rt.check_eq(report["capacity"].get("limited_by"), "interrupted",
                "interrupted ramp: capacity.limited_by")
    rt.check_eq(len(report.get("steps", [])), 1, "interrupted ramp: the finished step is kept")


def progress_line(trace):
    """On a terminal, a progress line names the run and its figures once a
    second. The other ramps here run without a terminal and show none."""
    with rt.Target("--workers", "2", "--delay", "10", log=False) as target:
        rc, text = rt.read_pty([rt.REPRISE, "ramp", trace, "--target", target.url,
                                "--start-rate", "100", "--step-rate", "100",
                                "--max-rate", "200", "--hold", "3s", "--warmup", "50%"], 60)
    rt.check_eq(rc, 0, "progress: exit code")
    lines = [part for part in text.split("\r") if "sent" in part and "in flight" in part]
    rt.check(any("step at 100/s" in line for line in lines),
             "progress: the line names the step (%r)" % lines[:3])
    rt.check(any("warm-up at 200/s" in line for line in lines),
             "progress: the line names the warm-up")


def check_outputs(directory, report_path, md, html):
    """The ramp's Markdown equals what reprise report makes from its JSON,
    and its HTML states the stable rate."""
    again = os.path.join(directory, "again.md")
    rc, _, err = rt.run(["report", report_path, "--markdown", again])
    rt.check_eq(rc, 0, "report --markdown exit status (stderr %r)" % err.strip())
    for path in (md, html, again):
        rt.check(os.path.exists(path), "%s was written" % os.path.basename(path))
    if not all(os.path.exists(p) for p in (md, html, again)):
        return
    with open(md) as f, open(again) as g:
        rt.check_eq(f.read(), g.read(), "ramp --markdown equals report --markdown of its JSON")
    with open(report_path) as f:
        stable = json.load(f)["capacity"]["stable_rate"]
    with open(html) as f:
        text = f.read()
    rt.check(stable is not None and 'data-key="stable_rate" data-value="%.6g"' % stable in text,
             "the HTML report states stable_rate %s" % stable)
    rt.check('data-chart="capacity-curve"' in text, "the HTML report has the capacity curve")


def users_ramp(trace, directory):
    steps = ["--users-start", "60", "--users-step", "10", "--users-max", "150",
             "--hold", "3s", "--warmup", "30%", "--soak", "4s"]
    report = ramp(trace, directory, "users", steps=steps)
    if report is None:
        return
    rt.check_eq(report.get("pace_unit"), "users", "users: pace_unit")
    check_report(report, "latency", "users")
    soak = report.get("soak", {})
    rt.check_eq(soak.get("ran"), True, "users: the soak ran")
    rt.check_eq(soak.get("pace"), report["capacity"].get("stable_pace"),
                "users: the soak holds the stable step")
    rt.check("degrading" in soak, "users: the soak is judged")


def steady_soak(trace, directory):
    """Below the target's capacity (150 of 200 requests/s, no knee), a
    soak must be steady. At the highest stable step, close to capacity, the
    queue comes and goes, so a short soak there may rise by chance."""
    steps = ["--start-rate", "100", "--step-rate", "50", "--max-rate", "150",
             "--hold", "2s", "--warmup", "25%", "--soak", "6s"]
    report = ramp(trace, directory, "steady", steps=steps, knee=False)
    if report is None:
        return
    rt.check_eq(report["capacity"].get("limited_by"), "max_step", "steady: no knee")
    soak = report.get("soak", {})
    rt.check_eq(soak.get("pace"), 150.0, "steady: the soak holds the last step")
    rt.check_eq(soak.get("degrading"), False,
                "steady: a soak below capacity is steady (first %s ms, last %s ms)"
                % (soak.get("first_p95_ms"), soak.get("last_p95_ms")))


def leaking_ramp(trace, directory):
    steps = ["--start-rate", "100", "--step-rate", "50", "--max-rate", "300",
             "--hold", "2s", "--warmup", "25%", "--soak", "4s"]
    report = ramp(trace, directory, "leak", "--slowdown", "3", steps=steps)
    if report is None:
        return
    rec = report.get("recovery", {})
    rt.check_eq(rec.get("leak_suspected"), True,
                "leak: the recovery step flags a possible leak (p95 per second %s)"
                % rec.get("p95_ms_per_second"))
    soak = report.get("soak", {})
    rt.check_eq(soak.get("degrading"), True,
                "leak: the soak is degrading (first %s ms, last %s ms)"
                % (soak.get("first_p95_ms"), soak.get("last_p95_ms")))


def main():
    directory = rt.temp_dir()
    trace = make_trace(directory)
    bad_options(trace)
    early_failures(trace, directory)
    progress_line(trace)
    interrupted_ramp(trace, directory)

    md = os.path.join(directory, "latency.md")
    html = os.path.join(directory, "latency.html")
    report = ramp(trace, directory, "latency", ramp_args=["--markdown", md, "--html", html])
    if report is not None:
        check_report(report, "latency", "latency")
        check_outputs(directory, os.path.join(directory, "latency.json"), md, html)

    # With 4 requests queued at most, a response takes at most about
    # (4 / 2 + 1) * 10 = 30 ms, 3 times the first step's p95, so a knee
    # factor of 5 leaves the knee to the 503 responses.
    report = ramp(trace, directory, "errors", "--queue-limit", "4",
                  ramp_args=["--knee-factor", "5"])
    if report is not None:
        check_report(report, "errors", "errors")

    users_ramp(trace, directory)
    steady_soak(trace, directory)
    leaking_ramp(trace, directory)
    rt.finish()


main()
