"""`reprise report` on a run report: the summary, --fail-if thresholds and
their exit status, Locust's CSV layout (headers from the installed Locust
itself), the per-second CSV, and the HdrHistogram interval log as
HdrHistogram's own Java tools read it. The report is synthetic, made by
tests/lib/hdrh.py, an encoder written apart from reprise's C code.
"""

import csv
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hdrh  # noqa: E402
import rptest as rt  # noqa: E402

HDR_JAR = "/usr/share/java/hdrhistogram.jar"   # Debian's libhdrhistogram-java


def write_report(tmp):
    samples = hdrh.synthetic_samples(20, seed=1, seconds=20, rate=40, timeout_share=0.01)
    report, per_second, whole = hdrh.make_report(samples)
    path = os.path.join(tmp, "run.json")
    with open(path, "w") as f:
        json.dump(report, f)
    return path, report, per_second, whole


def check_summary(path, report, whole):
    rc, out, err = rt.run(["report", path])
    rt.check_eq(rc, 0, "report exit status (stderr %r)" % err.strip())
    rt.check("requests    due 800" in out, "summary counts 800 requests due")
    p95 = "%.2fms" % (whole.percentile(95) / 1000.0)
    found = re.search(r"response\s+\S+\s+\S+\s+" + re.escape(p95), out) is not None
    rt.check(found, "response p95 %s in the latency table%s" % (p95, "" if found else ":\n" + out))
    failures = report["failures"]["total"]
    rt.check("failures    %d of 800 requests due" % failures in out,
             "failures line shows %d of 800" % failures)
    for _, endpoint, _ in hdrh.ENDPOINTS:
        rt.check(endpoint in out, "endpoint table lists %s" % endpoint)


def check_thresholds(path, whole):
    p95_ms = whole.percentile(95) / 1000.0
    above, below = "%.1fms" % (p95_ms * 1.2), "%.1fms" % (p95_ms * 0.8)
    rc, out, err = rt.run(["report", path, "--fail-if", "p95 > " + above,
                           "--fail-if", "p(95)<%d" % int(p95_ms * 1.2 + 1),
                           "--fail-if", "endpoint /api/search error_rate > 50%"])
    rt.check_eq(rc, 0, "thresholds that hold: exit status (stderr %r)" % err.strip())
    rt.check_eq(out.count("    pass  "), 3, "three pass lines")

    rc, out, err = rt.run(["report", path, "--fail-if", "p95 > " + below,
                           "--fail-if", "p(95)<%d" % int(p95_ms * 0.8),
                           "--fail-if", "p99 > 10s"])
    rt.check_eq(rc, 3, "failing thresholds: exit status 3 (stderr %r)" % err.strip())
    rt.check_eq(out.count("    FAIL  "), 2, "two FAIL lines")
    rt.check("2 of 3 thresholds failed" in err, "stderr counts the failed thresholds")

    rc, out, err = rt.run(["report", path, "--fail-if", "endpoint /nowhere p95 > 1s"])
    rt.check_eq(rc, 3, "threshold on a missing endpoint fails")
    rt.check("no such endpoint" in out, "missing endpoint is named as such")

    rc, out, err = rt.run(["report", path, "--fail-if", "p95 > 250"])
    rt.check_eq(rc, 2, "bad threshold: usage error")
    rt.check("invalid threshold 'p95 > 250'" in err and "accepted forms" in err
             and "p(N)|avg|med|min|max|rate|count" in err,
             "bad threshold message shows the grammar: %r" % err[:300])


def locust_columns(tmp):
    """The CSV headers of the installed Locust, from its own classes."""
    code = (
        "import json, sys\n"
        "from locust import stats\n"
        "pct = stats.PERCENTILES_TO_REPORT\n"
        "w = stats.StatsCSVFileWriter(None, pct, sys.argv[1])\n"
        "print(json.dumps({'stats': w.requests_csv_columns, 'history': "
        "w.stats_history_csv_columns, 'failures': w.failures_columns}))\n"
        "w.close_files()\n")
    proc = subprocess.run(["/usr/bin/python3", "-c", code, os.path.join(tmp, "locust-ref")],
                          capture_output=True, text=True, timeout=120)
    rt.check_eq(proc.returncode, 0, "Locust's column definitions load (stderr %r)"
                % proc.stderr[-300:])
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def check_locust_csv(path, tmp, report, whole):
    prefix = os.path.join(tmp, "run")
    rc, _, err = rt.run(["report", path, "--csv", prefix])
    rt.check_eq(rc, 0, "--csv exit status (stderr %r)" % err.strip())
    ref = locust_columns(tmp)
    if ref is None:
        return
    stats = read_csv(prefix + "_stats.csv")
    history = read_csv(prefix + "_stats_history.csv")
    failures = read_csv(prefix + "_failures.csv")
    rt.check_eq(stats[0], ref["stats"], "_stats.csv header is Locust's")
    rt.check_eq(history[0], ref["history"], "_stats_history.csv header is Locust's")
    rt.check_eq(failures[0], ref["failures"], "_failures.csv header is Locust's")
    with open(prefix + "_stats.csv", "rb") as f:
        rt.check(f.readline().endswith(b"\r\n"), "rows end in CRLF as Python's csv writes them")

    rows = {row[1]: dict(zip(stats[0], row)) for row in stats[1:]}
    total = rows.get("Aggregated")
    rt.check(total is not None and total["Type"] == "", "Aggregated row with an empty Type")
    if total:
        completed = sum(report["outcomes"]["kinds"][k] for k in ("response", "timeout"))
        rt.check_eq(int(total["Request Count"]), completed, "Aggregated Request Count")
        rt.check_eq(int(total["Failure Count"]), report["failures"]["total"],
                    "Aggregated Failure Count")
        rt.check_eq(int(total["95%"]), round(whole.percentile(95) / 1000.0),
                    "Aggregated 95% in milliseconds")
    rt.check_eq(sorted(r for r in rows if r != "Aggregated"),
                sorted(e for _, e, _ in hdrh.ENDPOINTS), "one row per endpoint")
    rt.check_eq(len(history) - 1, len(report["series"]["rows"]), "one history row a second")
    rt.check_eq(int(history[-1][ref["history"].index("Total Request Count")]),
                int(total["Request Count"]) if total else -1,
                "last history row totals every request")
    errors = {(r[1], r[2]): int(r[3]) for r in failures[1:]}
    rt.check_eq(sum(errors.values()), report["failures"]["total"],
                "_failures.csv occurrences add up to the failures")


def check_series_csv(path, tmp, report):
    out = os.path.join(tmp, "series.csv")
    rc, _, err = rt.run(["report", path, "--series-csv", out])
    rt.check_eq(rc, 0, "--series-csv exit status (stderr %r)" % err.strip())
    rows = read_csv(out)
    header = rows[0]
    rt.check_eq(header[:4], ["time", "t", "due", "sent"], "series CSV header start")
    rt.check_eq(len(rows) - 1, len(report["series"]["rows"]), "series CSV: a row a second")
    for want, row in zip(report["series"]["rows"], rows[1:]):
        got = dict(zip(header, row))
        if int(got["due"]) != want["due"] or \
                abs(float(got["rt_p95_ms"]) * 1000 - want["response_time_us"]["p95"]) > 1:
            rt.check(False, "series CSV row %s matches the report: %r" % (got["time"], got))
            return
    rt.check(True, "series CSV rows match the report's due counts and p95")


def check_hlog(path, tmp, per_second):
    out = os.path.join(tmp, "run.hlog")
    rc, _, err = rt.run(["report", path, "--hlog", out])
    rt.check_eq(rc, 0, "--hlog exit status (stderr %r)" % err.strip())
    with open(out) as f:
        text = f.read()
    rt.check("#[Histogram log format version 1.3]" in text, "log format version 1.3")
    rt.check('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
             in text, "log legend")

    # HdrHistogram's Java HistogramLogProcessor reads the log; its last
    # percentile table covers every interval, in milliseconds here.
    proc = subprocess.run(["java", "-cp", HDR_JAR, "org.HdrHistogram.HistogramLogProcessor",
                           "-i", out, "-outputValueUnitRatio", "1000"],
                          capture_output=True, text=True, timeout=120)
    rt.check_eq(proc.returncode, 0, "HistogramLogProcessor exit status (stderr %r)"
                % proc.stderr[-300:])
    whole = hdrh.Hist()
    for h in per_second.values():
        whole.add(h)
    match = re.search(r"Total count\s*=\s*(\d+)", proc.stdout)
    rt.check(match is not None and int(match.group(1)) == whole.total,
             "Java counts %d values (%s)" % (whole.total, match.group(0) if match else "none"))
    # The processor prints percentiles on its own ladder (0.5, 0.9, 0.99...
    # are not all on it); its values are slot tops, as reprise's are.
    for p in (0.5, 0.75, 0.9):
        m = re.search(r"^\s*([\d.]+)\s+%.12f\s" % p, proc.stdout, re.M)
        want = hdrh.slot_range(hdrh.index_of(whole.percentile(p * 100)))[1] / 1000.0
        rt.check(m is not None and abs(float(m.group(1)) - want) <= 0.002 * want,
                 "Java p%g %s ms, expected %.3f" % (p * 100, m.group(1) if m else "?", want))


def check_bad_input(tmp):
    missing = os.path.join(tmp, "missing.json")
    rc, _, err = rt.run(["report", missing])
    rt.check_eq(rc, 1, "missing report: exit status 1")
    rt.check(missing in err, "message names the file: %r" % err.strip())
    old = os.path.join(tmp, "old.json")
    with open(old, "w") as f:
        json.dump({"format": "reprise-run-report", "format_version": 1}, f)
    rc, _, err = rt.run(["report", old])
    rt.check_eq(rc, 1, "report without histograms: exit status 1")
    rt.check("no 'histograms' key" in err, "message says the histograms are missing")


def main():
    tmp = rt.temp_dir()
    path, report, per_second, whole = write_report(tmp)
    check_summary(path, report, whole)
    check_thresholds(path, whole)
    check_locust_csv(path, tmp, report, whole)
    check_series_csv(path, tmp, report)
    check_hlog(path, tmp, per_second)
    check_bad_input(tmp)
    rt.finish()


main()
