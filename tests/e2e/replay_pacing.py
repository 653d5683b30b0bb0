"""Pacing modes of reprise replay, checked from reprise-target's arrival
log (arrival_ns, CLOCK_REALTIME) and from the run report.

Traces are made with `reprise import` from JSON Lines written here.
Tolerances allow for a shared 2-core machine: spans within 15% or 40 ms,
single gaps within 60 ms, rates within 2%.

- --rate N keeps the trace's relative gaps and scales the pass to N/s.
  With --max-gap the long gap is capped, and the mean rate still holds.
- --rate N --uniform spaces requests evenly.
- --loop N continues the pace across passes; --loop forever stops at
  --duration.
- --skip leaves out the start of the capture.
- --speed max is a closed loop bounded by the pool.
- --users N replays sessions, one connection each, with think times;
  --spawn D starts the users evenly over D.
- --max-inflight with --over-limit late (default) and drop.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

T0 = 1700000000000000000
MS = 1000000


def make_trace(tmp, name, rows):
    """rows: (offset_ms, conn_id, method, target). Returns the trace path."""
    src = os.path.join(tmp, name + ".jsonl")
    with open(src, "w") as f:
        for offset_ms, conn, method, target in rows:
            f.write(json.dumps({
                "ts_ns": T0 + int(offset_ms * MS), "conn_id": conn,
                "method": method, "target": target, "version": "1.1",
                "headers": [["Host", "prod.example"], ["User-Agent", "t"]],
                "body": "", "flags": []}) + "\n")
    trace = os.path.join(tmp, name + ".rpz")
    rc, _, err = rt.run(["import", src, "-o", trace])
    rt.check_eq(rc, 0, "import %s (stderr %r)" % (name, err.strip()))
    return trace


def replay(trace, tmp, target_args, *options, timeout=60):
    """Replays trace against a new reprise-target; returns (rc, report,
    arrival rows, stderr)."""
    report = os.path.join(tmp, "run.json")
    if os.path.exists(report):
        os.unlink(report)
    with rt.Target(*target_args) as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url,
                               "--report", report] + list(options),
                              timeout=timeout)
        rows = target.read_log()
    label = " ".join(options)
    rt.check_eq(rc, 0, "%s: exit code (stderr %r)" % (label, err.strip()))
    data = {}
    if os.path.exists(report):
        with open(report) as f:
            data = json.load(f)
    return rc, data, rows, err


def arrivals_ms(rows):
    times = sorted(r["arrival_ns"] for r in rows)
    return [(t - times[0]) / MS for t in times] if times else []


def near(value, want, label, rel=0.15, floor=40.0):
    slack = max(rel * want, floor)
    rt.check_between(round(value, 1), round(want - slack, 1),
                     round(want + slack, 1), label)


BURSTY = [(0, 1, "GET", "/b0"), (10, 1, "GET", "/b1"), (20, 2, "GET", "/b2"),
          (1020, 2, "GET", "/b3"), (1030, 3, "GET", "/b4"),
          (1040, 1, "GET", "/b5")]


def check_rate(tmp):
    trace = make_trace(tmp, "bursty", BURSTY)
    # 6 requests at 10/s: the pass's 5 gaps add up to 500 ms, and the
    # lull stays 100 times a short gap.
    _, data, rows, _ = replay(trace, tmp, [], "--rate", "10")
    t = arrivals_ms(rows)
    rt.check_eq(len(t), 6, "--rate 10: arrivals")
    if len(t) == 6:
        near(t[5], 500.0, "--rate 10: arrival span in ms")
        near(t[3] - t[2], 480.8, "--rate 10: the lull in ms")
        rt.check_between(round(t[2] - t[0], 1), 0, 40,
                         "--rate 10: the first burst stays a burst (ms)")
    rt.check_eq(data.get("setup", {}).get("pace"), "rate", "--rate 10: setup.pace")

    # A 150 ms cap on the lull: the short gaps stretch to keep 10/s.
    _, data, rows, _ = replay(trace, tmp, [], "--rate", "10", "--max-gap", "150ms")
    t = arrivals_ms(rows)
    if rt.check_eq(len(t), 6, "--rate 10 --max-gap 150ms: arrivals"):
        near(t[5], 500.0, "--rate 10 --max-gap 150ms: arrival span in ms")
        near(t[3] - t[2], 150.0, "--rate 10 --max-gap 150ms: capped lull in ms")
    rt.check_eq(data.get("gaps_shortened"), 1, "--max-gap with --rate: gaps_shortened")


def check_uniform(tmp):
    rows = [(i * 3, i % 20, "GET", "/u%d" % i) for i in range(3000)]
    trace = make_trace(tmp, "uniform", rows)
    _, data, rows, _ = replay(trace, tmp, [], "--rate", "2000", "--uniform",
                              "--connections", "pool:16")
    t = arrivals_ms(rows)
    rt.check_eq(len(t), 3000, "--rate 2000 --uniform: arrivals")
    gaps = sorted(b - a for a, b in zip(t, t[1:]))
    if gaps:
        rt.check_between(round(gaps[len(gaps) // 2], 3), 0.4, 0.6,
                         "--uniform: median gap between arrivals (ms)")
    rate = data.get("send_rate_per_s", 0)
    rt.check_between(round(rate, 1), 1960, 2040, "--uniform: achieved rate (/s)")
    window = data.get("send_window", {})
    rt.check_between(window.get("mean", 0), 19, 21,
                     "--uniform: mean requests per 10 ms window")
    rt.check(window.get("max", 0) >= 20, "--uniform: max window %r is at least "
             "the mean" % window.get("max"))


def check_loops(tmp):
    trace = make_trace(tmp, "four", [(i * 100, 1 + i // 2, "GET", "/l%d" % i)
                                     for i in range(4)])
    _, data, rows, _ = replay(trace, tmp, [], "--loop", "3")
    t = arrivals_ms(rows)
    rt.check_eq(len(t), 12, "--loop 3: arrivals")
    gaps = [b - a for a, b in zip(t, t[1:])]
    rt.check(all(40 <= g <= 160 for g in gaps),
             "--loop 3: every gap near 100 ms, across passes too: %r"
             % [round(g) for g in gaps])
    rt.check_eq(data.get("passes"), 3, "--loop 3: passes")
    rt.check_eq(len(set(r["conn_id"] for r in rows)), 6,
                "--loop 3: each pass has connections of its own")

    _, data, rows, _ = replay(trace, tmp, [], "--rate", "50", "--uniform",
                              "--loop", "forever", "--duration", "1s")
    rt.check_between(len(rows), 48, 50, "--loop forever --duration 1s: arrivals")
    rt.check_eq(data.get("hit_duration"), True, "--duration: hit_duration")
    rt.check_eq(data.get("setup", {}).get("passes"), None,
                "--loop forever: setup.passes is null")


def check_skip(tmp):
    trace = make_trace(tmp, "skip", [(i * 100, 1, "GET", "/s%d" % i)
                                     for i in range(6)])
    _, data, rows, _ = replay(trace, tmp, [], "--skip", "250ms", "--speed", "2")
    targets = [r["target"] for r in sorted(rows, key=lambda r: r["arrival_ns"])]
    rt.check_eq(targets, ["/s3", "/s4", "/s5"], "--skip 250ms: the requests after it")
    rt.check_eq(data.get("before_skip"), 3, "--skip: before_skip")
    t = arrivals_ms(rows)
    if len(t) == 3:
        near(t[2], 100.0, "--skip --speed 2: span in ms")


def check_closed_loop(tmp):
    rows = [(i * 100, i % 8, "GET", "/m%d" % i) for i in range(200)]
    trace = make_trace(tmp, "max", rows)
    _, data, rows, _ = replay(trace, tmp, ["--delay", "2"], "--speed", "max",
                              "--connections", "pool:4")
    rt.check_eq(len(rows), 200, "--speed max: arrivals")
    rt.check_eq(data.get("mode"), "closed-loop", "--speed max: mode")
    rt.check_eq(data.get("latency_from"), "send", "--speed max: latency_from")
    rt.check_between(data.get("max_in_flight"), 1, 4, "--speed max pool:4: max in flight")
    rt.check_eq(len(set(r["conn_id"] for r in rows)), 4, "--speed max pool:4: connections")
    # The capture spans 20 s; 200 requests of 2 ms on 4 connections take
    # about 0.1 s.
    rt.check_between(data.get("duration_s", 99), 0, 5, "--speed max: duration_s")


def check_users(tmp):
    # Three sessions of three requests, 200 ms apart in the capture.
    rows = []
    for s in range(3):
        for k in range(3):
            rows.append((k * 200 + s * 5, s + 1, "GET", "/u%d-%d" % (s, k)))
    trace = make_trace(tmp, "sessions", sorted(rows))
    _, data, rows, _ = replay(trace, tmp, ["--delay", "10"], "--users", "2",
                              "--speed", "2")
    rt.check_eq(len(rows), 9, "--users 2: arrivals")
    rt.check_eq(data.get("mode"), "users", "--users: mode")
    rt.check_eq(data.get("latency_from"), "send", "--users: latency_from")
    rt.check_eq(data.get("sessions"), 3, "--users: sessions")
    rt.check_between(data.get("max_in_flight"), 1, 2, "--users 2: max in flight")

    by_conn = {}
    for r in sorted(rows, key=lambda r: r["arrival_ns"]):
        by_conn.setdefault(r["conn_id"], []).append(r)
    rt.check_eq(len(by_conn), 3, "--users: one connection per session")
    for conn, reqs in by_conn.items():
        sessions = set(r["target"].split("-")[0] for r in reqs)
        rt.check_eq(len(sessions), 1, "--users: connection %d carries one session" % conn)
        t = [r["arrival_ns"] / MS for r in reqs]
        # Think time 200 ms / 2 after a 10 ms response: 110 ms apart.
        for a, b in zip(t, t[1:]):
            near(b - a, 110.0, "--users: time between a session's requests (ms)",
                 floor=60.0)

    # The third session starts when a user is free, after the first two.
    first = {c: reqs[0]["arrival_ns"] for c, reqs in by_conn.items()}
    last_start = max(first.values())
    rt.check((last_start - min(first.values())) / MS > 200,
             "--users 2: the third session waits for a free user")


def check_spawn(tmp):
    # Ten one-request sessions; ten users started over 900 ms send their
    # requests 100 ms apart, where without --spawn all go out at once.
    trace = make_trace(tmp, "spawn", [(i, i + 1, "GET", "/p%d" % i) for i in range(10)])
    _, _, rows, _ = replay(trace, tmp, [], "--users", "10", "--spawn", "1s")
    t = arrivals_ms(rows)
    rt.check_eq(len(t), 10, "--spawn: arrivals")
    if len(t) == 10:
        near(t[-1], 900.0, "--users 10 --spawn 1s: first to last arrival (ms)")
        gaps = [b - a for a, b in zip(t, t[1:])]
        rt.check_between(min(gaps), 40.0, None, "--spawn: no two users start together (ms)")
    _, _, rows, _ = replay(trace, tmp, [], "--users", "10")
    t = arrivals_ms(rows)
    rt.check(len(t) == 10 and t[-1] < 100.0,
             "--users 10 without --spawn: all start at once (%s ms)" % (t[-1:] or "none"))


def check_inflight(tmp):
    trace = make_trace(tmp, "burst", [(0, i, "GET", "/f%d" % i) for i in range(8)])
    _, data, rows, _ = replay(trace, tmp, ["--delay", "200"], "--max-inflight", "2")
    rt.check_eq(len(rows), 8, "--max-inflight 2 (late): arrivals")
    rt.check_eq(data.get("waited"), 6, "--max-inflight 2 (late): waited")
    rt.check_eq(data.get("not_sent"), 0, "--max-inflight 2 (late): not_sent")
    rt.check_between(data.get("latency_us", {}).get("max", 0), 750000, None,
                     "late: the last request's latency includes its wait (us)")

    _, data, rows, _ = replay(trace, tmp, ["--delay", "200"], "--max-inflight", "2",
                              "--over-limit", "drop")
    rt.check_eq(len(rows), 2, "--over-limit drop: arrivals")
    rt.check_eq(data.get("not_sent"), 6, "--over-limit drop: not_sent")
    rt.check_eq(data.get("requests_due"), 8, "--over-limit drop: requests_due")


def main():
    tmp = rt.temp_dir()
    check_rate(tmp)
    check_uniform(tmp)
    check_loops(tmp)
    check_skip(tmp)
    check_closed_loop(tmp)
    check_users(tmp)
    check_spawn(tmp)
    check_inflight(tmp)
    rt.finish()


main()
