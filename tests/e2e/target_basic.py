"""reprise-target itself, checked with raw sockets on loopback: status,
delay, worker limits, keep-alive and pipelining, request bodies, fault
modes, the request log, the stats line and listen address checks.

Timing checks have lower bounds that follow from the server's contract (a
50 ms service time cannot finish sooner) and upper bounds with hundreds of
milliseconds of slack, so that a busy 2-core machine does not fail them.
"""

import os
import resource
import socket
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

MS = 1e-3


def request(path="/", method="GET", host="test.local", version="1.1",
            headers=(), body=b""):
    lines = ["%s %s HTTP/%s" % (method, path, version), "Host: " + host]
    lines += list(headers)
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def timed_get(port, path="/"):
    start = time.monotonic()
    resp = rt.get(port, path)
    return resp, time.monotonic() - start


def scenario_status_and_log():
    t0 = time.time_ns()
    with rt.Target("--status", "404", "--body-bytes", "5") as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/x?q=1", host="example.test"))
            resp = conn.response()
            rt.check_eq(resp.status, 404, "status: --status 404 is returned")
            rt.check_eq(resp.body, b"okoko", "status: body of --body-bytes 5")
            rt.check_eq(resp.headers.get("content-length"), "5",
                        "status: Content-Length matches the body")
        rows = target.read_log()
    t1 = time.time_ns()

    rt.check_eq(len(rows), 1, "log: one row per request")
    if rows:
        row = rows[0]
        rt.check_eq((row["method"], row["target"], row["version"], row["host"]),
                    ("GET", "/x?q=1", "1.1", "example.test"),
                    "log: method, target, version and host")
        rt.check_eq((row["conn_id"], row["request_id"], row["body_len"],
                     row["chunked"], row["action"]),
                    (1, 1, 0, 0, "ok"), "log: ids, body and action")
        rt.check(t0 <= row["arrival_ns"] <= row["service_start_ns"] <= t1,
                 "log: arrival_ns <= service_start_ns, both inside the test's "
                 "CLOCK_REALTIME window")
    rt.check_eq(target.returncode, 0, "stop: exit code 0 after SIGTERM")
    rt.check_eq((target.stats.get("connections"), target.stats.get("requests")),
                (1, 1), "stop: stats line counts connections and requests")
    rt.check_eq(oct(os.stat(target.log_path).st_mode & 0o777), "0o600",
                "log: file mode 0600")


def scenario_no_body_statuses():
    with rt.Target("--status", "204", log=False) as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/a") + request("/b"))
            first, second = conn.response(), conn.response()
            rt.check_eq((first.status, second.status), (204, 204),
                        "204: two pipelined responses parse without bodies")
            rt.check("content-length" not in first.headers,
                     "204: no Content-Length header")


def scenario_delay():
    with rt.Target("--delay", "50") as target:
        resp, elapsed = timed_get(target.port)
        rt.check_eq(resp.status, 200, "delay: response status")
        rt.check_between(elapsed, 50 * MS, 1.0,
                         "delay: 50 ms delay, request time in seconds")
    with rt.Target("--delay", "2.5", log=False) as target:
        resp, elapsed = timed_get(target.port)
        rt.check_between(elapsed, 2.5 * MS, 1.0,
                         "delay: fractional 2.5 ms delay, request time in seconds")


def concurrent_gets(port, count):
    """Open count connections, send one GET on each at once, wait for all
    responses. Returns (statuses, seconds)."""
    conns = [rt.HttpConn(port) for _ in range(count)]
    start = time.monotonic()
    for i, conn in enumerate(conns):
        conn.send(request("/c%d" % i))
    statuses = [conn.response().status for conn in conns]
    elapsed = time.monotonic() - start
    for conn in conns:
        conn.close()
    return statuses, elapsed


def service_overlap(rows, delay_ns):
    """Maximum number of requests in service at the same instant, from the
    log's service start times and the fixed service time."""
    events = []
    for row in rows:
        events.append((row["service_start_ns"], 1))
        events.append((row["service_start_ns"] + delay_ns, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def scenario_workers():
    # Starts of consecutive services are compared with 1 ms less than the
    # delay, because the log uses CLOCK_REALTIME, which NTP may slew.
    with rt.Target("--delay", "50", "--serial") as target:
        statuses, elapsed = concurrent_gets(target.port, 3)
        rows = target.read_log()
    rt.check_eq(statuses, [200, 200, 200], "serial: all three answered")
    rt.check_between(elapsed, 150 * MS, 1.5,
                     "serial: 3 requests of 50 ms one at a time, seconds")
    rt.check_eq(service_overlap(rows, 49 * 1000000), 1,
                "serial: at most one request in service (from the log)")

    with rt.Target("--delay", "50") as target:
        statuses, elapsed = concurrent_gets(target.port, 3)
    rt.check_eq(statuses, [200, 200, 200], "unlimited: all three answered")
    rt.check_between(elapsed, 50 * MS, 140 * MS,
                     "unlimited: 3 concurrent 50 ms requests overlap, seconds")

    with rt.Target("--delay", "50", "--workers", "2") as target:
        statuses, elapsed = concurrent_gets(target.port, 4)
        rows = target.read_log()
    rt.check_eq(statuses, [200] * 4, "workers 2: all four answered")
    rt.check_between(elapsed, 100 * MS, 1.5,
                     "workers 2: 4 requests of 50 ms, two at a time, seconds")
    rt.check_eq(service_overlap(rows, 49 * 1000000), 2,
                "workers 2: at most two requests in service (from the log)")
    by_arrival = sorted(rows, key=lambda r: r["request_id"])
    starts = [r["service_start_ns"] for r in by_arrival]
    rt.check(starts == sorted(starts),
             "workers 2: service starts in arrival order")


def scenario_queue_limit():
    with rt.Target("--delay", "300", "--workers", "1",
                   "--queue-limit", "1") as target:
        a, b, c = (rt.HttpConn(target.port) for _ in range(3))
        a.send(request("/a"))
        time.sleep(0.05)
        b.send(request("/b"))
        time.sleep(0.05)
        start = time.monotonic()
        c.send(request("/c"))
        rc = c.response()
        c_elapsed = time.monotonic() - start
        ra, rb = a.response(), b.response()
        for conn in (a, b, c):
            conn.close()
        rows = target.read_log()
    rt.check_eq((ra.status, rb.status, rc.status), (200, 200, 503),
                "queue limit: third request gets 503")
    rt.check_between(c_elapsed, 0, 200 * MS,
                     "queue limit: 503 sent without waiting for a worker, seconds")
    actions = {r["target"]: r["action"] for r in rows}
    rt.check_eq(actions, {"/a": "ok", "/b": "ok", "/c": "rejected"},
                "queue limit: log actions")


def scenario_keepalive_pipelining():
    with rt.Target() as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/first") + request("/second", method="HEAD") +
                      request("/third"))
            responses = [conn.response(), conn.response(head=True),
                         conn.response()]
            rt.check_eq([r.status for r in responses], [200, 200, 200],
                        "pipelining: three responses")
            rt.check_eq([r.body for r in responses], [b"ok", b"", b"ok"],
                        "pipelining: HEAD response has no body, others have")
            rt.check_eq(responses[1].headers.get("content-length"), "2",
                        "pipelining: HEAD response keeps Content-Length")
            conn.send(request("/fourth"))
            rt.check_eq(conn.response().status, 200,
                        "keep-alive: connection reused after pipelined batch")
        rows = target.read_log()
    rt.check_eq([r["target"] for r in rows],
                ["/first", "/second", "/third", "/fourth"],
                "pipelining: log rows in request order")
    rt.check_eq({r["conn_id"] for r in rows}, {1},
                "keep-alive: all four on one connection")

    with rt.Target("--delay", "30", log=False) as target:
        with rt.HttpConn(target.port) as conn:
            start = time.monotonic()
            conn.send(request("/a") + request("/b"))
            conn.response()
            conn.response()
            elapsed = time.monotonic() - start
    rt.check_between(elapsed, 60 * MS, 1.0,
                     "pipelining: requests of one connection served in turn "
                     "(2 x 30 ms), seconds")


def scenario_http10():
    with rt.Target(log=False) as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/old", version="1.0"))
            resp = conn.response()
            rt.check_eq((resp.status, resp.headers.get("connection")),
                        (200, "close"), "HTTP/1.0: answered with Connection: close")
            rt.check(conn.at_eof(), "HTTP/1.0: connection closed after response")

        with rt.HttpConn(target.port) as conn:
            ka = request("/ka", version="1.0", headers=["Connection: keep-alive"])
            conn.send(ka)
            first = conn.response()
            conn.send(ka)
            second = conn.response()
            rt.check_eq((first.headers.get("connection"), second.status),
                        ("keep-alive", 200),
                        "HTTP/1.0 keep-alive: connection stays open")

        with rt.HttpConn(target.port) as conn:
            conn.send(request("/last", headers=["Connection: close"]) +
                      request("/ignored"))
            resp = conn.response()
            rt.check_eq(resp.status, 200, "Connection: close: request answered")
            rt.check(conn.at_eof(),
                     "Connection: close: later pipelined request not served")


def scenario_bodies():
    chunked = (b"POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n3;ext=1\r\nabc\r\n3e8\r\n" + b"x" * 1000 +
               b"\r\n0\r\n\r\n")
    with rt.Target() as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(chunked)
            rt.check_eq(conn.response().status, 200, "chunked POST answered")
            conn.send(request("/length", method="PUT", body=b"y" * 123))
            rt.check_eq(conn.response().status, 200, "Content-Length PUT answered")
            conn.send(request("/tab", host="a\tb"))
            conn.response()
        rows = target.read_log()
    got = [(r["method"], r["body_len"], r["chunked"]) for r in rows[:2]]
    rt.check_eq(got, [("POST", 1008, 1), ("PUT", 123, 0)],
                "log: decoded body lengths and chunked flag")
    if len(rows) == 3:
        rt.check_eq(rows[2]["host"], "a\tb", "log: tab in Host escaped and read back")
    else:
        rt.check(False, "log: expected 3 rows, got %d" % len(rows))


def scenario_bad_input():
    with rt.Target() as target:
        cases = [
            (b"GARBAGE\r\n\r\n", 400, "garbage"),
            (b"CCM_POST / HTTP/1.1\r\nHost: z\r\n\r\n", 400, "unknown method"),
            (b"GET /" + b"a" * (70 * 1024) + b" HTTP/1.1\r\n\r\n", 414, "long target"),
        ]
        for data, status, name in cases:
            with rt.HttpConn(target.port) as conn:
                conn.send(data)
                resp = conn.response()
                rt.check_eq(resp.status if resp else None, status,
                            "bad input (%s): status" % name)
                rt.check(conn.at_eof(), "bad input (%s): connection closed" % name)

        with rt.HttpConn(target.port) as conn:
            conn.send(request("/good") + b"NOT HTTP\r\n\r\n")
            first, second = conn.response(), conn.response()
            rt.check_eq((first.status, second.status), (200, 400),
                        "bad input after a good request: 200 first, then 400")

        # A client that leaves in the middle of a request.
        conn = rt.HttpConn(target.port)
        conn.send(b"GET /cut HTTP/1.1\r\nHost: x\r\n")
        conn.close()
        time.sleep(0.05)
        resp = rt.get(target.port, "/after")
        rt.check_eq(resp.status, 200, "client gone mid-request: server still serves")
        rows = target.read_log()
    rt.check_eq([r["target"] for r in rows], ["/good", "/after"],
                "bad input: only complete requests are logged")
    rt.check_eq((target.stats.get("bad_requests"), target.stats.get("incomplete")),
                (4, 1), "stats: bad_requests and incomplete")


def scenario_faults():
    with rt.Target("--fault", "reset") as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/r"))
            try:
                conn.response()
                rt.check(False, "reset: expected ECONNRESET, got a response or EOF")
            except ConnectionResetError:
                rt.check(True, "reset: client reads ECONNRESET")
        rows = target.read_log()
    rt.check_eq([r["action"] for r in rows], ["reset"], "reset: log action")

    with rt.Target("--fault", "close", log=False) as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/c"))
            rt.check_eq(conn.response(), None, "close: EOF without a response")

    with rt.Target("--fault", "stall") as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/s"))
            conn.settimeout(0.5)
            try:
                resp = conn.response()
                rt.check(False, "stall: expected a read timeout, got %r" % resp)
            except socket.timeout:
                rt.check(True, "stall: read times out, connection open")
        rows = target.read_log()
    rt.check_eq([r["action"] for r in rows], ["stall"], "stall: log action")

    with rt.Target("--fault", "partial", "--body-bytes", "1000", log=False) as target:
        with rt.HttpConn(target.port) as conn:
            conn.send(request("/p"))
            resp = conn.response()
            rt.check_eq((resp.status, resp.headers.get("content-length"),
                         len(resp.body), resp.complete),
                        (200, "1000", 500, False),
                        "partial: Content-Length 1000, 500 bytes, then EOF")

    flood = 20 * 1000 * 1000
    with rt.Target("--fault", "flood", "--flood-bytes", str(flood), log=False) as target:
        with rt.HttpConn(target.port, timeout=30) as conn:
            conn.send(request("/f"))
            resp = conn.response()
            rt.check_eq((resp.headers.get("content-length"), len(resp.body),
                         resp.body[:4]),
                        (str(flood), flood, b"okok"), "flood: full 20 MB body")
            conn.send(request("/f2"))
            rt.check_eq(len(conn.response().body), flood,
                        "flood: keep-alive connection serves a second flood")

    with rt.Target("--fault", "reset", "--fault-every", "3") as target:
        outcomes = []
        for i in range(6):
            with rt.HttpConn(target.port) as conn:
                conn.send(request("/e%d" % i))
                try:
                    outcomes.append(conn.response().status)
                except ConnectionResetError:
                    outcomes.append("reset")
        rows = target.read_log()
    rt.check_eq(outcomes, [200, 200, "reset", 200, 200, "reset"],
                "fault-every 3: requests 3 and 6 reset")
    rt.check_eq([r["action"] for r in rows], ["ok", "ok", "reset"] * 2,
                "fault-every 3: log actions")
    rt.check_eq(target.stats.get("faults"), 2, "fault-every 3: stats faults")


def scenario_dropped_and_pending():
    with rt.Target("--delay", "200") as target:
        conn = rt.HttpConn(target.port)
        conn.send(request("/in-service") + request("/queued"))
        time.sleep(0.05)
        # SO_LINGER 0 makes close() send RST, so the server reads an error.
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        time.sleep(0.05)
        rows = target.read_log()
    actions = [(r["target"], r["action"], r["service_start_ns"] is not None)
               for r in rows]
    rt.check_eq(actions, [("/in-service", "ok", True), ("/queued", "dropped", False)],
                "client reset: queued request logged as dropped")

    with rt.Target("--delay", "400", "--serial") as target:
        a, b = rt.HttpConn(target.port), rt.HttpConn(target.port)
        a.send(request("/first"))
        time.sleep(0.05)
        b.send(request("/second"))
        time.sleep(0.05)
        target.stop()
        rows = target.read_log()
        a.close()
        b.close()
    actions = [(r["target"], r["action"]) for r in rows]
    rt.check_eq(actions, [("/first", "ok"), ("/second", "pending")],
                "stop: request still waiting for a worker logged as pending")


def scenario_many_connections():
    count = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 100), hard))
    with rt.Target(log=False) as target:
        conns = [rt.HttpConn(target.port, timeout=20) for _ in range(count)]
        for i, conn in enumerate(conns):
            conn.send(request("/m%d" % i))
        statuses = [conn.response().status for conn in conns]
        for conn in conns:
            conn.close()
    rt.check_eq(statuses.count(200), count,
                "many connections: %d open at once, all answered" % count)
    rt.check_eq(target.stats.get("max_open"), count,
                "many connections: stats max_open")


def scenario_listen_addresses():
    for address in ("10.0.0.1:8080", "0.0.0.0:0", "[::]:0", "example.com:80",
                    "127.0.0.1"):
        rc, out, err = rt.run_cmd([rt.REPRISE_TARGET, "--listen", address],
                                  timeout=10)
        rt.check_eq(rc, 2, "listen %s: rejected with exit 2" % address)
        rt.check(out == "" and err.count("\n") == 1 and address in err,
                 "listen %s: one-line message naming the value (%r)" %
                 (address, err.strip()))
    rc, out, err = rt.run_cmd([rt.REPRISE_TARGET, "--listen", "10.0.0.1:8080"],
                              timeout=10)
    rt.check("loopback" in err, "listen 10.0.0.1: message says loopback only")

    rc, out, err = rt.run_cmd([rt.REPRISE_TARGET, "--delay", "soon"], timeout=10)
    rt.check_eq(rc, 2, "bad --delay: exit 2")

    if not socket.has_ipv6:
        print("note: no IPv6 in this Python, [::1] not tried")
        return
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        print("note: ::1 is not configured here, [::1] not tried")
        return
    with rt.Target(listen="[::1]:0", log=False) as target:
        rt.check(target.url.startswith("http://[::1]:"),
                 "listen [::1]: url %s" % target.url)
        resp = rt.get(target.port, host="[::1]")
        rt.check_eq(resp.status, 200, "listen [::1]: request answered")


SCENARIOS = [
    scenario_status_and_log,
    scenario_no_body_statuses,
    scenario_delay,
    scenario_workers,
    scenario_queue_limit,
    scenario_keepalive_pipelining,
    scenario_http10,
    scenario_bodies,
    scenario_bad_input,
    scenario_faults,
    scenario_dropped_and_pending,
    scenario_many_connections,
    scenario_listen_addresses,
]

if __name__ == "__main__":
    for scenario in SCENARIOS:
        print("# " + scenario.__name__)
        try:
            scenario()
        except Exception:
            traceback.print_exc()
            rt.check(False, "%s raised an exception" % scenario.__name__)
    rt.finish()
