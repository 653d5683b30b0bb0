"""Live capture on the loopback interface while the test sends requests to
a reprise-target of its own: every request the target logged is in the
trace, the trace is readable while the capture runs, SIGINT and SIGTERM
leave a complete trace, and --duration, --max-requests and -Z work."""

import os
import pwd
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

work = rt.temp_dir()
os.chmod(work, 0o777)   # capture -Z nobody writes its trace here


def start_capture(trace, port, *extra):
    cmd = [rt.REPRISE, "capture", "-i", "lo", "-w", trace, "--immediate"] + list(extra) + \
          ["tcp", "port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    rt.check("listening on lo" in line, "capture announces it is listening: %r" % line.strip())
    return proc


def stop(proc, sig=signal.SIGINT):
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        rt.check(False, "capture did not stop within 30 s of signal %d" % sig)
    return proc.returncode, out, err


def send_requests(port, count, tag):
    """Sends count requests over a few keep-alive connections; every third
    is a POST with a body."""
    sent = []
    conns = [rt.HttpConn(port) for _ in range(3)]
    for i in range(count):
        c = conns[i % 3]
        if i % 3 == 2:
            body = ("x" * (i + 1)).encode()
            req = b"POST /%s/%d HTTP/1.1\r\nHost: live.test\r\nContent-Length: %d\r\n\r\n" % (
                tag.encode(), i, len(body)) + body
            sent.append(("POST", "/%s/%d" % (tag, i), len(body)))
        else:
            req = b"GET /%s/%d?q=%d HTTP/1.1\r\nHost: live.test\r\n\r\n" % (tag.encode(), i, i)
            sent.append(("GET", "/%s/%d?q=%d" % (tag, i, i), 0))
        c.send(req)
        resp = c.response()
        rt.check(resp.status == 200, "request %d answered" % i) if resp.status != 200 else None
    for c in conns:
        c.close()
    return sent


def records(trace):
    rc, out, err = rt.run(["inspect", "--records", trace])
    lines = out.splitlines()
    head = lines[0].split("\t") if lines else []
    return rc, [dict(zip(head, l.split("\t"))) for l in lines[1:]]


with rt.Target() as target:
    # Every request, while the trace stays readable mid-run.
    trace = os.path.join(work, "live.rpz")
    proc = start_capture(trace, target.port)
    sent = send_requests(target.port, 60, "a")
    time.sleep(2.5)   # past the 1 s flush of the current block
    rc, mid = records(trace)
    rt.check_eq(rc, 0, "trace readable while the capture runs")
    rt.check(len(mid) > 0, "requests on disk before the capture ends (%d)" % len(mid))
    rc, out, err = stop(proc)
    rt.check_eq(rc, 0, "SIGINT: exit code 0 (%s)" % err.strip())
    rt.check("stopped by a signal" in err, "SIGINT: says it was stopped")
    rt.check("kernel:" in out and " 0 dropped," in out, "summary shows no kernel drops: %r" % out)
    rc, got = records(trace)
    rt.check_eq(rc, 0, "inspect after SIGINT")
    logged = [(r["method"], r["target"], r["body_len"]) for r in target.read_log() if r["action"] == "ok"]
    rt.check_eq(len(logged), 60, "target logged every request")
    rt.check_eq(sorted((r["method"], r["target"], int(r["body_len"])) for r in got),
                sorted(sent), "trace holds every request sent, with method, target and body length")
    rt.check(all(r["resp_status"] == "200" for r in got), "every request paired with its 200")
    rt.check_eq(len({r["conn_id"] for r in got}), 3, "three client connections")
    rc, out, _ = rt.run(["inspect", trace])
    rt.check("has_index" not in out and "no index" not in out.split("\n")[0],
             "SIGINT leaves a trace with its index")

    # SIGTERM likewise.
    trace2 = os.path.join(work, "term.rpz")
    proc = start_capture(trace2, target.port)
    send_requests(target.port, 9, "b")
    time.sleep(0.5)
    rc, out, err = stop(proc, signal.SIGTERM)
    rt.check_eq(rc, 0, "SIGTERM: exit code 0")
    rt.check_eq(len(records(trace2)[1]), 9, "SIGTERM: complete trace")

    # --max-requests ends the capture by itself.
    trace3 = os.path.join(work, "max.rpz")
    proc = start_capture(trace3, target.port, "--max-requests", "5")
    send_requests(target.port, 12, "c")
    try:
        out, err = proc.communicate(timeout=20)
        rt.check_eq(proc.returncode, 0, "--max-requests: exit code")
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        rt.check(False, "--max-requests 5 did not end the capture")
    rt.check_eq(len(records(trace3)[1]), 5, "--max-requests 5: five requests")

    # --duration ends it too, even with no traffic.
    trace4 = os.path.join(work, "dur.rpz")
    t0 = time.time()
    proc = start_capture(trace4, target.port, "--duration", "2s")
    send_requests(target.port, 3, "d")
    try:
        proc.communicate(timeout=20)
        rt.check_between(time.time() - t0, 1.5, 10, "--duration 2s: ends after about 2 s")
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        rt.check(False, "--duration 2s did not end the capture")

    # -Z drops root once the interface is open: the trace belongs to user nobody.
    if os.geteuid() == 0:
        trace5 = os.path.join(work, "nobody.rpz")
        proc = start_capture(trace5, target.port, "-Z", "nobody")
        send_requests(target.port, 3, "e")
        time.sleep(0.5)
        rc, out, err = stop(proc)
        rt.check_eq(rc, 0, "-Z nobody: exit code (%s)" % err.strip())
        rt.check_eq(os.stat(trace5).st_uid, pwd.getpwnam("nobody").pw_uid, "-Z nobody: trace owned by nobody")
        rt.check_eq(len(records(trace5)[1]), 3, "-Z nobody: requests captured")
    else:
        rt.check(False, "live capture test must run as root")

# Bad interface.
rc, out, err = rt.run(["capture", "-i", "rp-no-such-if", "-w", os.path.join(work, "x.rpz")])
rt.check_eq(rc, 1, "unknown interface: exit code 1")
rt.check("rp-no-such-if" in err, "unknown interface: message names it: %r" % err.strip())

rt.finish()
