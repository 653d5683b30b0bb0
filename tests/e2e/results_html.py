"""`reprise report RUN.json --html OUT.html` makes a self-contained page
that headless Chromium renders with the run's figures: the charts carry
one point per second, the summary the run's percentiles, and the
screenshot shows the chart lines in their colors.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import browser  # noqa: E402
import hdrh  # noqa: E402
import rptest as rt  # noqa: E402

CHARTS = ["percentile-curve", "latency-over-time", "rates-over-time", "errors-over-time"]
# Line colors of the page: p95 orange, p99 red, the percentile curve blue.
COLORS = {"p95": (0xff, 0x7f, 0x0e), "p99": (0xd6, 0x27, 0x28), "blue": (0x1f, 0x77, 0xb4)}


def make_html(tmp):
    samples = hdrh.synthetic_samples(20, seed=5, seconds=25, rate=40, timeout_share=0.02)
    report, per_second, whole = hdrh.make_report(samples)
    path = os.path.join(tmp, "run.json")
    with open(path, "w") as f:
        json.dump(report, f)
    html = os.path.join(tmp, "run.html")
    rc, _, err = rt.run(["report", path, "--html", html, "--fail-if", "p95 > 1s"])
    rt.check_eq(rc, 0, "report --html exit status (stderr %r)" % err.strip())
    return html, report, whole


def check_self_contained(html):
    with open(html) as f:
        text = f.read()
    for pattern in (r"<script", r"\bsrc\s*=", r"<link\b", r"@import", r"url\(", r"\bhref\s*="):
        rt.check(re.search(pattern, text, re.I) is None,
                 "page has no external resource or script (%s)" % pattern)


def check_dom(html, report, whole):
    rc, dom, err = browser.dump_dom(html)
    rt.check_eq(rc, 0, "chromium --dump-dom exit status (stderr %r)" % err[-300:])
    seconds = len(report["series"]["rows"])
    for chart in CHARTS:
        rt.check('data-chart="%s"' % chart in dom, "chart %s rendered" % chart)
    for series in ("p50", "p95", "p99"):
        m = re.search(r'data-series="%s" data-points="(\d+)"' % series, dom)
        rt.check(m is not None and int(m.group(1)) == seconds,
                 "%s line has a point per second (%s of %d)"
                 % (series, m.group(1) if m else "none", seconds))
    m = re.search(r'data-series="timeout" data-points="(\d+)"', dom)
    rt.check(m is not None and int(m.group(1)) == seconds, "errors chart has a timeout line")

    for key, p in (("p50_us", 50), ("p95_us", 95), ("p99_us", 99)):
        m = re.search(r'data-key="%s" data-value="([\d.e+]+)"' % key, dom)
        rt.check(m is not None and int(float(m.group(1))) == whole.percentile(p),
                 "summary %s is %d (%s)" % (key, whole.percentile(p), m.group(1) if m else "?"))
    m = re.search(r'data-key="requests" data-value="(\d+)"', dom)
    rt.check(m is not None and int(m.group(1)) == report["outcomes"]["requests"],
             "summary requests")
    table = re.search(r'<table id="endpoints">(.*?)</table>', dom, re.S)
    rt.check(table is not None and table.group(1).count("<tr>") == 4,
             "endpoint table: a header and three endpoints")
    for _, endpoint, _ in hdrh.ENDPOINTS:
        rt.check(endpoint in (table.group(1) if table else ""), "table lists " + endpoint)
    rt.check(re.search(r'<li class="pass">pass\s+p95 &gt; 1s', dom) is not None,
             "threshold shown as passed")


def count_near(rows, color, tolerance=40):
    n = 0
    for row in rows:
        for px in row:
            if all(abs(a - b) <= tolerance for a, b in zip(px, color)):
                n += 1
    return n


def check_screenshot(html, tmp):
    png = os.path.join(tmp, "run.png")
    rc, err = browser.screenshot(html, png)
    rt.check(rc == 0 and os.path.exists(png), "chromium --screenshot (stderr %r)" % err[-300:])
    if not os.path.exists(png):
        return
    width, height, rows = browser.read_png(png)
    rt.check_eq((width, height), (1000, 2600), "screenshot size")
    white = sum(1 for row in rows for px in row if px == (255, 255, 255))
    rt.check_between(round(white / (width * height), 2), 0.6, 0.99,
                     "mostly white page with content")
    for name, color in COLORS.items():
        rt.check_between(count_near(rows, color), 300, None, "%s lines drawn" % name)


def main():
    rt.check(browser.available(), "chromium is installed (make deps installs it)")
    tmp = rt.temp_dir()
    html, report, whole = make_html(tmp)
    check_self_contained(html)
    if browser.available():
        check_dom(html, report, whole)
        check_screenshot(html, tmp)
    rt.finish()


main()
