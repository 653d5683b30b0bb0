"""`reprise merge-reports` of four shard reports equals the report of the
whole run: same counts, the same histograms slot for slot, the same
per-second rows. Reports counting failures by other rules are rejected.
The reports are synthetic (tests/lib/hdrh.py), split by request as a
shard split by connection would be.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hdrh  # noqa: E402
import rptest as rt  # noqa: E402


def write(path, report):
    with open(path, "w") as f:
        json.dump(report, f)
    return path


def check_merged(merged, whole, shards):
    for key in ("requests_due", "requests_sent", "responses", "bytes_received"):
        rt.check_eq(merged[key], whole[key], key)
    # The report stores reals with 9 significant digits.
    rt.check(abs(merged["error_rate"] - whole["error_rate"]) < 1e-9,
             "error_rate %r" % merged["error_rate"])
    rt.check_eq(merged["errors"], whole["errors"], "errors by kind")
    rt.check_eq(merged["status"], whole["status"], "responses by status")
    rt.check_eq(merged["max_in_flight"], 4 * whole["max_in_flight"],
                "max_in_flight is the sum of the shards'")
    rt.check_eq(merged["merged_from"], shards, "merged_from lists the inputs")
    rt.check_eq(merged["outcomes"], whole["outcomes"], "outcomes")
    rt.check_eq(merged["failures"], whole["failures"], "failures")
    for key in ("p50", "p95", "p99", "max", "min", "count"):
        rt.check_eq(merged["latency_us"][key], whole["latency_us"][key], "latency_us." + key)
    for name in ("response_time", "service_time", "ttfb", "send_lag"):
        got = hdrh.Hist.decode(merged["histograms"][name]).counts
        want = hdrh.Hist.decode(whole["histograms"][name]).counts
        rt.check(got == want, "histogram %s equal slot for slot" % name)

    ends = {(e["method"], e["endpoint"]): e for e in merged["endpoints"]}
    for e in whole["endpoints"]:
        m = ends.get((e["method"], e["endpoint"]))
        rt.check(m is not None and m["requests"] == e["requests"]
                 and m["response_time_us"]["p99"] == e["response_time_us"]["p99"]
                 and hdrh.Hist.decode(m["histograms"]["response_time"]).counts
                 == hdrh.Hist.decode(e["histograms"]["response_time"]).counts,
                 "endpoint %s %s merged exactly" % (e["method"], e["endpoint"]))

    rows_m, rows_w = merged["series"]["rows"], whole["series"]["rows"]
    rt.check_eq(len(rows_m), len(rows_w), "series length")
    differing = [w["time"] for m, w in zip(rows_m, rows_w)
                 if (m["due"], m["completed"], m["in_flight"], m["response_time_us"])
                 != (w["due"], w["completed"], w["in_flight"], w["response_time_us"])]
    rt.check_eq(differing, [], "per-second rows equal")
    rt.check(abs(merged["series"]["duration_s"] - whole["series"]["duration_s"]) < 1e-6,
             "duration")


def main():
    tmp = rt.temp_dir()
    samples = hdrh.synthetic_samples(25, seed=9, seconds=20, rate=60, timeout_share=0.01)
    whole, _, _ = hdrh.make_report(samples)
    whole_path = write(os.path.join(tmp, "whole.json"), whole)
    shards = []
    for k in range(4):
        report, _, _ = hdrh.make_report([s for i, s in enumerate(samples) if i % 4 == k])
        shards.append(write(os.path.join(tmp, "shard%d.json" % k), report))

    out = os.path.join(tmp, "merged.json")
    rc, stdout, err = rt.run(["merge-reports"] + shards + ["-o", out])
    rt.check_eq(rc, 0, "merge-reports exit status (stderr %r)" % err.strip())
    rt.check("merged 4 reports into" in stdout, "summary line")
    with open(out) as f:
        merged = json.load(f)
    check_merged(merged, whole, shards)

    rc, stdout, _ = rt.run(["compare", whole_path, out])
    rt.check_eq(rc, 0, "merged report compares equal to the whole run")
    rt.check("0 regressions" in stdout and "+0us (+0.0%)" in stdout, "no change at all")
    rc, _, err = rt.run(["report", out, "--fail-if", "requests != %d" % len(samples)])
    rt.check_eq(rc, 0, "merged report reads back with all requests (stderr %r)" % err.strip())

    other = json.loads(json.dumps(json.load(open(shards[1]))))
    other["failures"]["rules"]["fail_status"] = "404,500-599"
    other_path = write(os.path.join(tmp, "other-rules.json"), other)
    rc, _, err = rt.run(["merge-reports", shards[0], other_path, "-o", out])
    rt.check_eq(rc, 1, "reports with other failure rules: exit status 1")
    rt.check("count failures differently" in err and other_path in err,
             "message names the report and the rule difference: %r" % err.strip())

    rc, _, err = rt.run(["merge-reports"] + shards)
    rt.check_eq(rc, 2, "missing -o: exit status 2")
    rt.check("missing -o OUT.json" in err, "missing -o: message")
    rt.finish()


main()
