"""`reprise compare BASE.json CANDIDATE.json` flags a known slowdown and a
rise in errors as regressions, and nothing between two runs of the same
service. It also checks --tolerance, --markdown, --html and the exit
statuses 0, 1 and 2. The runs are synthetic (tests/lib/hdrh.py): a run at
30 ms against one at 20 ms, each with lognormal noise, and two 20 ms runs
with different seeds.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import browser  # noqa: E402
import hdrh  # noqa: E402
import rptest as rt  # noqa: E402


def write(tmp, name, samples):
    report, _, _ = hdrh.make_report(samples)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(report, f)
    return path


def rows(out):
    """(scope, metric) -> (change text, verdict) from the terminal table."""
    table = {}
    for line in out.splitlines():
        m = re.match(r"(\S.*?)\s+(p50|p95|p99|error rate)\s+\S+\s+\S+\s+(\S+(?: \(\S+\))?(?: pts)?)"
                     r"\s+.*?\s(REGRESSION|ok|noise|improved|no data)$", line)
        if m:
            table[(m.group(1), m.group(2))] = (m.group(3), m.group(4))
    return table


def check_slowdown(base, slow):
    rc, out, err = rt.run(["compare", base, slow])
    rt.check_eq(rc, 1, "slower candidate: exit status 1 (stderr %r)" % err.strip())
    table = rows(out)
    for metric in ("p50", "p95", "p99"):
        change, verdict = table.get(("overall", metric), ("?", "?"))
        rt.check_eq(verdict, "REGRESSION", "overall %s flagged" % metric)
        m = re.search(r"\(\+([\d.]+)%\)", change)
        rt.check(m is not None and 40 <= float(m.group(1)) <= 60,
                 "overall %s rose by about 50%% (%s)" % (metric, change))
    rt.check("U p=" in out, "overall rows use the Mann-Whitney U test")
    rt.check_eq(table.get(("GET /api/search", "p95"), ("", ""))[1], "REGRESSION",
                "endpoint /api/search p95 flagged")
    rt.check("CI " in out, "endpoint rows use the quantile interval test")
    rt.check_eq(table.get(("overall", "error rate"), ("", ""))[1], "ok", "error rate unchanged")
    rt.check(re.search(r"^12 regressions$", out, re.M) is not None,
             "p50, p95 and p99 of overall and three endpoints: 12 regressions")

    rc, out, _ = rt.run(["compare", base, slow, "--tolerance", "60%"])
    rt.check_eq(rc, 0, "a 60% tolerance accepts a 50% rise")
    rt.check("0 regressions" in out, "no regression within tolerance")

    rc, out, _ = rt.run(["compare", slow, base])
    rt.check_eq(rc, 0, "faster candidate: exit status 0")
    rt.check_eq(rows(out).get(("overall", "p95"), ("", ""))[1], "improved", "improvement shown")


def check_same(base, same):
    rc, out, err = rt.run(["compare", base, same])
    rt.check_eq(rc, 0, "same service: exit status 0 (stderr %r)" % err.strip())
    table = rows(out)
    rt.check_eq(len(table), 16, "overall and three endpoints, four rows each")
    rt.check("REGRESSION" not in out, "no regression between equal runs")
    rt.check(all(v == "ok" for _, v in table.values()), "every row within tolerance")


def check_errors(base, errs):
    rc, out, _ = rt.run(["compare", base, errs])
    rt.check_eq(rc, 1, "more errors: exit status 1")
    table = rows(out)
    rt.check_eq(table.get(("overall", "error rate"), ("", ""))[1], "REGRESSION",
                "error rate flagged")
    rt.check_eq(table.get(("overall", "p95"), ("", ""))[1], "ok", "latency unchanged")
    rc, out, _ = rt.run(["compare", base, errs, "--error-tolerance", "20%"])
    rt.check_eq(rc, 0, "a 20-point error tolerance accepts it")


def check_short_runs(tmp):
    base = write(tmp, "short-base.json", hdrh.synthetic_samples(20, 11, seconds=3))
    slow = write(tmp, "short-slow.json", hdrh.synthetic_samples(30, 12, seconds=3))
    rc, out, _ = rt.run(["compare", base, slow])
    rt.check_eq(rc, 1, "3-second runs: slowdown still found")
    rt.check_eq(rows(out).get(("overall", "p50"), ("", ""))[1], "REGRESSION",
                "3-second runs: overall p50 flagged")
    rt.check("U p=" not in out, "3-second runs fall back to the interval test")


def check_formats(base, slow, tmp):
    rc, out, _ = rt.run(["compare", base, slow, "--markdown"])
    rt.check_eq(rc, 1, "--markdown exit status")
    rt.check("| scope | metric | base | candidate | change | test | verdict |" in out,
             "Markdown table header")
    rt.check(out.count("| **REGRESSION** |") == 12, "Markdown marks 12 regressions")

    html = os.path.join(tmp, "compare.html")
    rc, _, err = rt.run(["compare", base, slow, "--html", html])
    rt.check_eq(rc, 1, "--html exit status (stderr %r)" % err.strip())
    rt.check(browser.available(), "chromium is installed (make deps installs it)")
    if not browser.available():
        return
    rc, dom, err = browser.dump_dom(html)
    rt.check_eq(rc, 0, "chromium renders the comparison (stderr %r)" % err[-300:])
    rt.check_eq(dom.count('data-verdict="REGRESSION"'), 12, "HTML table: 12 regression rows")
    rt.check('id="regressions" data-count="12"' in dom, "HTML states 12 regressions")
    for series in ("base", "candidate"):
        m = re.search(r'data-chart="percentile-curve".*?data-series="%s" data-points="(\d+)"'
                      % series, dom, re.S)
        rt.check(m is not None and int(m.group(1)) > 50, "percentile curve of the " + series)


def check_usage(base, tmp):
    rc, _, err = rt.run(["compare", base])
    rt.check_eq(rc, 2, "one report: exit status 2")
    rt.check("expected two reports" in err, "one report: message")
    rc, _, err = rt.run(["compare", base, base, "--tolerance", "abc"])
    rt.check_eq(rc, 2, "bad --tolerance: exit status 2")
    rt.check("invalid --tolerance 'abc'" in err, "bad --tolerance: message")
    missing = os.path.join(tmp, "missing.json")
    rc, _, err = rt.run(["compare", base, missing])
    rt.check_eq(rc, 2, "missing report: exit status 2")
    rt.check(missing in err, "missing report named: %r" % err.strip())


def main():
    tmp = rt.temp_dir()
    base = write(tmp, "base.json", hdrh.synthetic_samples(20, 1))
    slow = write(tmp, "slow.json", hdrh.synthetic_samples(30, 2))
    same = write(tmp, "same.json", hdrh.synthetic_samples(20, 3))
    errs = write(tmp, "errs.json", hdrh.synthetic_samples(20, 4, timeout_share=0.05))
    check_slowdown(base, slow)
    check_same(base, same)
    check_errors(base, errs)
    check_short_runs(tmp)
    check_formats(base, slow, tmp)
    check_usage(base, tmp)
    rt.finish()


main()
