"""`reprise compare` on reports of real replays: a run against a target
with a 40 ms service time is a regression over one against a 10 ms target
(exit status 1), and two runs against identical 10 ms targets show none
(exit status 0).

Each replay sends 240 requests over 2.4 s. The comparisons use
--tolerance 50%: the known slowdown is +300%, while on a shared 2-core
machine the p99 of two identical runs can differ by tens of percent.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rptest as rt  # noqa: E402

T0 = 1700000000000000000
MS = 1000000
REQUESTS = 240


def make_trace(tmp):
    src = os.path.join(tmp, "t.jsonl")
    with open(src, "w") as f:
        for i in range(REQUESTS):
            f.write(json.dumps({
                "ts_ns": T0 + i * 10 * MS, "conn_id": i % 8, "method": "GET",
                "target": "/api/item/%d" % i if i % 3 else "/search", "version": "1.1",
                "headers": [["Host", "prod.example"]], "body": "", "flags": []}) + "\n")
    trace = os.path.join(tmp, "t.rpz")
    rc, _, err = rt.run(["import", src, "-o", trace])
    rt.check_eq(rc, 0, "import (stderr %r)" % err.strip())
    return trace


def replay(trace, tmp, name, delay_ms):
    report = os.path.join(tmp, name + ".json")
    with rt.Target("--delay", str(delay_ms)) as target:
        rc, _, err = rt.run(["replay", trace, "--target", target.url, "--report", report],
                            timeout=60)
    rt.check_eq(rc, 0, "replay %s against a %d ms target (stderr %r)"
                % (name, delay_ms, err.strip()))
    return report


def main():
    tmp = rt.temp_dir()
    trace = make_trace(tmp)
    base = replay(trace, tmp, "base", 10)
    same = replay(trace, tmp, "same", 10)
    slow = replay(trace, tmp, "slow", 40)

    rc, out, err = rt.run(["compare", base, slow, "--tolerance", "50%"])
    rt.check_eq(rc, 1, "40 ms against 10 ms: a regression, exit status 1 (stderr %r)"
                % err.strip())
    overall = [line for line in out.splitlines() if line.startswith("overall")]
    flagged = [line for line in overall if line.rstrip().endswith("REGRESSION")]
    rt.check(any(" p50 " in line for line in flagged), "overall p50 flagged:\n%s"
             % "\n".join(overall))
    rt.check(any(" p95 " in line for line in flagged), "overall p95 flagged")

    rc, out, err = rt.run(["compare", base, same, "--tolerance", "50%"])
    rt.check_eq(rc, 0, "identical targets: no regression, exit status 0 (stderr %r)\n%s"
                % (err.strip(), out))
    rt.check("REGRESSION" not in out, "no row flagged between identical targets")
    rt.finish()


main()
