"""The JSON run report of `reprise replay --report FILE` has every key
docs/report-format.md promises, with consistent values, and SIGINT ends a
run early with exit status 130 while still printing the summary and
writing the report.
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

PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")
PERCENTILES = ["p50", "p90", "p95", "p99", "p999", "max"]
INT_KEYS = ["requests_due", "requests_sent", "responses", "cancelled",
            "max_in_flight", "gaps_shortened", "bytes_received", "not_sent",
            "waited", "submit_failed", "passes", "filtered", "before_skip",
            "trace_damaged_blocks"]


def check_percentiles(data, key):
    obj = data.get(key)
    if not rt.check(isinstance(obj, dict), "%s is an object" % key):
        return
    for p in PERCENTILES + ["min", "count"]:
        rt.check(isinstance(obj.get(p), int) and obj[p] >= 0,
                 "%s.%s is a non-negative integer (%r)" % (key, p, obj.get(p)))
    values = [obj[p] for p in PERCENTILES if isinstance(obj.get(p), int)]
    rt.check(values == sorted(values), "%s percentiles do not decrease: %r"
             % (key, values))


def check_keys(data, sent):
    for key in INT_KEYS:
        rt.check(isinstance(data.get(key), int), "%s is an integer" % key)
    rt.check_eq(data["format"], "reprise-run-report", "format")
    rt.check_eq(data["format_version"], 1, "format_version")
    rt.check_eq(data["requests_sent"], sent, "requests_sent")
    rt.check_eq(data["responses"], sent, "responses")
    rt.check_eq(sorted(data["errors"]),
                ["client", "connect", "other", "reset", "timeout", "total"], "errors keys")
    rt.check_eq(data["errors"]["total"], 0, "errors.total")
    rt.check_eq(data["status"], {"200": sent}, "status by code")
    for key in ["latency_us", "send_lag_us", "dispatch_lag_us", "service_time_us", "ttfb_us"]:
        check_percentiles(data, key)
    rt.check_eq(data["mode"], "open-loop", "mode")
    rt.check_eq(data["latency_from"], "due", "latency_from")
    rt.check_eq(sorted(data["client_errors"]), ["eaddrnotavail", "emfile", "other"],
                "client_errors keys")
    conns = data["connections"]
    rt.check_eq((conns["mode"], conns["mode_used"]), ("preserve", "preserve"),
                "connections mode and mode_used")
    rt.check_eq(conns["opened"] + conns["reused"], sent, "connections opened + reused")
    gen = data["generator"]
    rt.check_eq(sorted(gen), ["cpu_s", "cpu_system_s", "cpu_use", "cpu_user_s",
                              "requests_per_cpu_s", "threads"], "generator keys")
    sat = data["saturation"]
    rt.check_eq(sorted(sat), ["dispatch_lag_p99_us", "mean_gap_us", "saturated",
                              "threshold_us"], "saturation keys")
    rt.check(isinstance(sat["saturated"], bool), "saturation.saturated is a boolean")
    window = data["send_window"]
    rt.check_eq(window["window_ms"], 10, "send_window.window_ms")
    rt.check(window["max"] >= 1 and window["mean"] > 0, "send_window max and mean")
    rt.check_eq(data["latency_us"]["count"], sent, "latency_us.count")
    rt.check(isinstance(data["duration_s"], float) and data["duration_s"] > 0,
             "duration_s is a positive number")
    rt.check_eq(sorted(data["skipped"]), ["connect", "total"], "skipped keys")
    setup = data["setup"]
    rt.check_eq(setup["speed"], 20.0, "setup.speed")
    rt.check_eq(setup["max_gap_s"], 2.0, "setup.max_gap_s")
    rt.check_eq(setup["keep_host"], False, "setup.keep_host")
    rt.check_eq(setup["timeout_s"], 30.0, "setup.timeout_s")
    rt.check_eq(setup["connect_timeout_s"], 5.0, "setup.connect_timeout_s")
    rt.check_eq(setup["pace"], "speed", "setup.pace")
    rt.check_eq(setup["passes"], 1, "setup.passes")
    rt.check_eq(setup["connections"], "preserve", "setup.connections")
    rt.check_eq(setup["over_limit"], "late", "setup.over_limit")
    rt.check_eq(setup["headers_set"], ["X-Replay"], "setup.headers_set has names only")
    rt.check_eq(setup["threads"], 1, "setup.threads")
    rt.check_eq(data["transport"], "lean", "transport")
    rt.check(data["libcurl_version"].count(".") == 2, "libcurl_version")
    rt.check(data["transport_version"].startswith("libuv/"),
             "transport_version: %r" % data["transport_version"])
    rt.check(data["reprise_version"].startswith("reprise "), "reprise_version")
    rt.check(data["start_time"].endswith("Z"), "start_time is UTC")
    rt.check_eq(data["interrupted"], False, "interrupted")


def check_sigint(trace, tmp):
    report = os.path.join(tmp, "interrupted.json")
    with rt.Target() as target:
        # At speed 0.2 the 5.5 s capture lasts about 27 s.
        proc = subprocess.Popen([rt.REPRISE, "replay", trace, "--target",
                                 target.url, "--speed", "0.2", "--report",
                                 report], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        stop_s = time.monotonic() - start
    rt.check_eq(proc.returncode, 130, "SIGINT: exit status (stderr %r)"
                % err.strip())
    rt.check_between(round(stop_s, 2), 0, 2.0, "SIGINT: seconds to stop")
    rt.check("interrupted" in out and "latency" in out,
             "SIGINT: summary printed")
    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["interrupted"], True, "SIGINT: report interrupted")
    rt.check_between(data["requests_due"], 1, 16,
                     "SIGINT: requests due before the stop")
    rt.check_eq(data["responses"] + data["cancelled"] + data["errors"]["total"],
                data["requests_due"], "SIGINT: every due request accounted for")


def main():
    tmp = rt.temp_dir()
    trace = os.path.join(tmp, "browse.rpz")
    report = os.path.join(tmp, "run.json")
    rc, _, err = rt.run(["capture", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())

    with rt.Target(log=False) as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url,
                               "--speed", "20", "--max-gap", "2s",
                               "--header", "X-Replay: secret-value",
                               "--report", report])
    rt.check_eq(rc, 0, "replay exit code (stderr %r)" % err.strip())
    with open(report) as f:
        data = json.load(f)
    check_keys(data, 17)
    with open(report) as f:
        rt.check("secret-value" not in f.read(), "a --header value stays out of the report")
    check_sigint(trace, tmp)
    rt.finish()


main()
