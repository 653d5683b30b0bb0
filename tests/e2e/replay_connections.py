"""Connection handling of reprise replay, checked by the connections
reprise-target saw (its conn_id column) and by the run report.

- preserve (default): requests of one captured connection share one
  connection, in captured order. When that connection is still busy at a
  request's due time, the request goes on another one and counts as moved.
- pool:N: N connections; new: one per request.
- libcurl cannot pin: preserve falls back to its pool, and the summary states it.
- A target killed mid-run: the replay goes to the end of the trace,
  counts the errors and exits 0.
- An IPv6 target ([::1]) works through both transports.
- --connect-timeout: a listener whose accept queue is full drops new
  connections' SYNs, so their connects time out; each counts as a
  connect error, through both transports.
"""

import json
import os
import socket
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


def replay(trace, tmp, target_args, *options):
    report = os.path.join(tmp, "run.json")
    if os.path.exists(report):
        os.unlink(report)
    with rt.Target(*target_args) as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url,
                               "--report", report] + list(options))
        rows = target.read_log()
    rt.check_eq(rc, 0, "%s: exit code (stderr %r)" % (" ".join(options), err.strip()))
    with open(report) as f:
        return json.load(f), rows, out


# Three captured connections of four requests each, 200 ms apart within a
# connection, so that none is busy when its next request is due.
CONNS = sorted((k * 200 + c * 10, c + 1, "/c%d/r%d" % (c, k))
               for c in range(3) for k in range(4))


def captured_of(row):
    return row["target"].split("/")[1]


def check_preserve(trace, tmp):
    data, rows, _ = replay(trace, tmp, [], "--speed", "4")
    rt.check_eq(len(rows), 12, "preserve: arrivals")
    groups = {}
    for r in sorted(rows, key=lambda r: r["request_id"]):
        groups.setdefault(r["conn_id"], []).append(r["target"])
    rt.check_eq(len(groups), 3, "preserve: connections at the target")
    for conn, targets in groups.items():
        rt.check_eq(len(set(t.split("/")[1] for t in targets)), 1,
                    "preserve: target connection %d carries one captured one" % conn)
        rt.check_eq(targets, sorted(targets), "preserve: captured order on connection %d" % conn)
    c = data["connections"]
    rt.check_eq((c["mode"], c["mode_used"]), ("preserve", "preserve"), "preserve: modes")
    rt.check_eq((c["opened"], c["reused"], c["moved"]), (3, 9, 0),
                "preserve: opened, reused, moved")


def check_moved(trace, tmp):
    # At speed 4 a connection's requests are 50 ms apart, and each takes
    # 100 ms: every second one finds its connection busy.
    data, rows, _ = replay(trace, tmp, ["--delay", "100"], "--speed", "4")
    rt.check_eq(len(rows), 12, "busy connections: arrivals")
    c = data["connections"]
    rt.check(c["moved"] > 0, "busy connections: requests moved (%d)" % c["moved"])
    seen = len(set(r["conn_id"] for r in rows))
    rt.check_eq(seen, c["opened"], "busy connections: target connections equal opened")
    rt.check(seen > 3, "busy connections: more connections than captured (%d)" % seen)


def check_pool_and_new(trace, tmp):
    # The pool opens connections as requests overlap: with 20 ms of
    # service, the 3 requests 2.5 ms apart need more than the 2 allowed.
    data, rows, _ = replay(trace, tmp, ["--delay", "20"], "--speed", "4",
                           "--connections", "pool:2")
    rt.check_eq(len(rows), 12, "pool:2: arrivals")
    rt.check_eq(len(set(r["conn_id"] for r in rows)), 2, "pool:2: connections at the target")
    rt.check_eq(data["max_in_flight"], 2, "pool:2: max in flight")
    rt.check_eq(data["connections"]["mode"], "pool", "pool:2: mode")
    rt.check_eq(data["setup"]["max_connections"], 2, "pool:2: setup.max_connections")

    data, rows, _ = replay(trace, tmp, [], "--speed", "4", "--connections", "new")
    rt.check_eq(len(set(r["conn_id"] for r in rows)), 12, "new: connections at the target")
    rt.check_eq(data["connections"]["opened"], 12, "new: opened")


def check_curl_fallback(trace, tmp):
    data, rows, out = replay(trace, tmp, [], "--speed", "4", "--transport", "curl")
    rt.check_eq(len(rows), 12, "libcurl: arrivals")
    rt.check_eq(data["transport"], "libcurl", "libcurl: transport")
    rt.check_eq(data["connections"]["mode_used"], "pool", "libcurl: preserve falls back to pool")
    rt.check("libcurl cannot pin" in out, "libcurl: the summary says why")


def check_killed_target(tmp):
    # 60 requests over 3 s on 6 connections; the target dies after 1 s.
    rows = sorted((i * 50, i % 6, "/k%d" % i) for i in range(60))
    trace = make_trace(tmp, "kill", rows)
    report = os.path.join(tmp, "kill.json")
    target = rt.Target()
    target.start()
    proc = subprocess.Popen([rt.REPRISE, "replay", trace, "--target", target.url,
                             "--report", report, "--timeout", "2s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    target.kill()
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    rt.check_eq(proc.returncode, 0, "killed target: replay exit code (stderr %r)" % err.strip())
    rt.check("errors" in out and "latency" in out, "killed target: summary printed")
    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["requests_due"], 60, "killed target: every request was due")
    rt.check_between(data["responses"], 10, 30, "killed target: responses before the kill")
    errors = data["errors"]
    rt.check_eq(errors["connect"] + errors["reset"], errors["total"],
                "killed target: errors are connect or reset errors %r" % errors)
    rt.check_eq(data["responses"] + errors["total"], 60,
                "killed target: every request accounted for")
    rt.check(errors["connect"] > 20, "killed target: later requests are refused")


def check_ipv6(trace, tmp):
    report = os.path.join(tmp, "v6.json")
    for transport in ["lean", "curl"]:
        with rt.Target(listen="[::1]:0") as target:
            rc, out, err = rt.run(["replay", trace, "--target", target.url, "--speed", "8",
                                   "--transport", transport, "--report", report])
            rows = target.read_log()
        rt.check_eq(rc, 0, "[::1] (%s): exit code (stderr %r)" % (transport, err.strip()))
        rt.check_eq(len(rows), 12, "[::1] (%s): arrivals" % transport)
        rt.check_eq(set(r["host"] for r in rows), {target.address},
                    "[::1] (%s): Host header" % transport)


def check_connect_timeout(trace, tmp):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.2)
    report = os.path.join(tmp, "connect.json")
    for transport in ["lean", "curl"]:
        start = time.monotonic()
        rc, out, err = rt.run(["replay", trace, "--target", "http://127.0.0.1:%d" % port,
                               "--max-gap", "0", "--connect-timeout", "300ms",
                               "--transport", transport, "--report", report])
        seconds = time.monotonic() - start
        rt.check_eq(rc, 0, "--connect-timeout (%s): exit code (stderr %r)"
                    % (transport, err.strip()))
        with open(report) as f:
            data = json.load(f)
        rt.check_eq(data["errors"]["connect"], 12, "--connect-timeout (%s): connect errors"
                    % transport)
        rt.check_between(round(seconds, 2), 0.25, 5.0,
                         "--connect-timeout (%s): seconds until the end" % transport)
    for s in fillers:
        s.close()
    listener.close()


def main():
    tmp = rt.temp_dir()
    trace = make_trace(tmp, "conns", CONNS)
    check_preserve(trace, tmp)
    check_moved(trace, tmp)
    check_pool_and_new(trace, tmp)
    check_curl_fallback(trace, tmp)
    check_ipv6(trace, tmp)
    check_connect_timeout(trace, tmp)
    check_killed_target(tmp)
    rt.finish()


main()
