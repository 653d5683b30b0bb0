"""`reprise report CAPACITY.json --html OUT.html --markdown OUT.md` renders a
capacity report from reprise ramp.

The report is written here with known figures (five rate steps, a latency
knee at step 5, a recovery and a steady soak), so every figure the pages
show can be checked. Headless Chromium must render the HTML with one point
per step on the capacity curve and the step charts. The result table must
contain the stable rate, and the screenshot must show the p95 line in its
color. The Markdown must contain the same figures, and bad uses of the
command must be rejected.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import browser  # noqa: E402
import rptest as rt  # noqa: E402

P95_COLOR = (0xd6, 0x27, 0x28)
STEP_CHARTS = ["capacity-curve", "latency-steps", "rate-steps", "errors-steps"]


def step(n, pace, achieved, p95, errors=0.0, signal="none"):
    return {"step": n, "pace": pace, "pace_unit": "requests/s", "asked_rate": pace,
            "achieved_rate": achieved, "p50_ms": p95 * 0.8, "p95_ms": p95,
            "p99_ms": p95 * 1.1, "requests": int(pace * 8), "responses": int(pace * 8),
            "failures": 0, "error_rate": errors, "connections": int(pace / 50),
            "generator_saturated": False, "dispatch_lag_p99_us": 90, "signal": signal}


def make_report(tmp):
    steps = [step(1, 100, 100.0, 10.3), step(2, 200, 199.5, 10.6),
             step(3, 300, 298.7, 11.9), step(4, 400, 391.2, 14.8),
             step(5, 500, 402.4, 96.5, signal="latency")]
    report = {
        "trace": "trace.rpz", "target": "http://127.0.0.1:8080", "pace_unit": "requests/s",
        "hold_s": 10.0, "warmup": 0.2, "knee_factor": 2.0, "max_error_rate": 0.01,
        "capacity": {"stable_rate": 391.2, "stable_pace": 400.0, "connections": 8,
                     "knee": {"step": 5, "pace": 500.0, "signal": "latency"},
                     "limited_by": "target"},
        "steps": steps,
        "recovery": {"ran": True, "pace": 250.0, "drain_s": 0.4, "recovered_after_s": 3.0,
                     "threshold_p95_ms": 12.36, "leak_suspected": False,
                     "p95_ms_per_second": [80.0, 30.5, 11.0, 10.9, None, 10.7]},
        "soak": {"ran": True, "pace": 400.0, "duration_s": 9.0, "achieved_rate": 390.5,
                 "error_rate": 0.0, "first_p95_ms": 14.7, "last_p95_ms": 14.9,
                 "degrading": False,
                 "p95_ms_per_second": [14.6, 14.7, 14.8, 14.7, 14.9, 14.8, 14.9, 15.0, 14.9]},
    }
    path = os.path.join(tmp, "capacity.json")
    with open(path, "w") as f:
        json.dump(report, f)
    return path, report


def check_terminal(out):
    rt.check("capacity: 391.2 requests/s at 400/s, 8 connections in use" in out,
             "terminal summary names the capacity (%r)" % out[-600:])
    rt.check("knee: step 5 (500/s), signal latency" in out, "terminal summary names the knee")
    rt.check("within 3 s of the drop" in out and "steady" in out,
             "terminal summary has recovery and soak")
    rows = [line for line in out.splitlines() if re.match(r"\d+/s +\d", line)]
    rt.check_eq(len(rows), 5, "the text chart has a row per step")


def check_markdown(md):
    with open(md) as f:
        text = f.read()
    rt.check(text.startswith("# Capacity report"), "Markdown starts with its title")
    for section in ("## Result", "## Steps", "## Capacity curve"):
        rt.check(section in text, "Markdown has %s" % section)
    rows = re.findall(r"^\| \d+ \| \d+/s \|", text, re.M)
    rt.check_eq(len(rows), 5, "Markdown step table has five rows")
    rt.check("| 5 | 500/s | 500.0 | 402.4 |" in text, "Markdown row of the knee step")
    rt.check("knee (latency)" in text, "Markdown marks the knee")
    rt.check("capacity: 391.2 requests/s at 400/s" in text, "Markdown states the capacity")


def check_dom(html):
    rc, dom, err = browser.dump_dom(html)
    rt.check_eq(rc, 0, "chromium --dump-dom exit status (stderr %r)" % err[-300:])
    for chart in STEP_CHARTS + ["recovery", "soak"]:
        rt.check('data-chart="%s"' % chart in dom, "chart %s rendered" % chart)
    curve = re.search(r'data-chart="capacity-curve".*?data-series="p95" data-points="(\d+)"',
                      dom, re.S)
    rt.check(curve is not None and curve.group(1) == "5",
             "capacity curve has a point per step (%s)" % (curve.group(1) if curve else None))
    rec = re.search(r'data-chart="recovery".*?data-points="(\d+)"', dom, re.S)
    rt.check(rec is not None and rec.group(1) == "5",
             "recovery chart leaves out the second without a response")
    m = re.search(r'data-key="stable_rate" data-value="([\d.]+)"', dom)
    rt.check(m is not None and abs(float(m.group(1)) - 391.2) < 0.01,
             "result table shows the stable rate")
    m = re.search(r'data-key="knee_step" data-value="(\d+)"', dom)
    rt.check(m is not None and m.group(1) == "5", "result table shows the knee step")
    table = re.search(r'<table id="steps">(.*?)</table>', dom, re.S)
    rt.check(table is not None and table.group(1).count("<tr>") == 6,
             "step table: a header and five steps")


def check_screenshot(html, tmp):
    png = os.path.join(tmp, "capacity.png")
    rc, err = browser.screenshot(html, png, height=1600)
    rt.check(rc == 0 and os.path.exists(png), "chromium --screenshot (stderr %r)" % err[-300:])
    if not os.path.exists(png):
        return
    width, height, rows = browser.read_png(png)
    red = sum(1 for row in rows for px in row
              if all(abs(a - b) <= 40 for a, b in zip(px, P95_COLOR)))
    rt.check_between(red, 300, None, "the p95 lines are drawn in red")


def check_rejections(path, tmp):
    rc, _, err = rt.run(["report", path, "--csv", os.path.join(tmp, "x")])
    rt.check_eq(rc, 2, "report --csv on a capacity report exit status")
    rt.check("capacity report" in err and "--html and --markdown" in err,
             "the rejection says what a capacity report takes (%r)" % err.strip())
    not_cap = os.path.join(tmp, "other.json")
    with open(not_cap, "w") as f:
        f.write('{"steps": 3}')
    rc, _, err = rt.run(["report", not_cap, "--markdown", os.path.join(tmp, "x.md")])
    rt.check(rc in (1, 2), "report --markdown on a file that is no report fails (%d)" % rc)
    rt.check(not_cap in err, "the message names the file (%r)" % err.strip())


def main():
    tmp = rt.temp_dir()
    path, _ = make_report(tmp)
    html = os.path.join(tmp, "capacity.html")
    md = os.path.join(tmp, "capacity.md")
    rc, out, err = rt.run(["report", path, "--html", html, "--markdown", md])
    rt.check_eq(rc, 0, "report exit status (stderr %r)" % err.strip())
    check_terminal(out)
    check_markdown(md)
    check_rejections(path, tmp)
    rt.check(browser.available(), "chromium is installed (make deps installs it)")
    if browser.available() and os.path.exists(html):
        check_dom(html)
        check_screenshot(html, tmp)
    rt.finish()


main()
