"""Request rewriting, filters, --dry-run and the note about requests that
change the target's state, checked at reprise-target (its log has the
request-target and the Host header of each request).

The exact bytes under header edits are checked by the unit tests
(tests/unit/test_replay.c) for both transports; here the command-line
options are checked end to end.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

T0 = 1700000000000000000
MS = 1000000

ROWS = [
    (0, 1, "GET", "/api/users?page=1", ""),
    (10, 1, "POST", "/api/users", "name=x"),
    (20, 2, "GET", "/static/app.css", ""),
    (30, 2, "DELETE", "/api/users/7", ""),
    (40, 3, "GET", "http://prod.example/api/items?debug=1", ""),
    (50, 3, "PUT", "/api/items/3", "{}"),
]


def make_trace(tmp):
    src = os.path.join(tmp, "mixed.jsonl")
    with open(src, "w") as f:
        for offset_ms, conn, method, target, body in ROWS:
            f.write(json.dumps({
                "ts_ns": T0 + offset_ms * MS, "conn_id": conn, "method": method,
                "target": target, "version": "1.1",
                "headers": [["Host", "prod.example"], ["User-Agent", "t"]],
                "body": body, "flags": []}) + "\n")
    trace = os.path.join(tmp, "mixed.rpz")
    rc, _, err = rt.run(["import", src, "-o", trace])
    rt.check_eq(rc, 0, "import (stderr %r)" % err.strip())
    return trace


def replay(trace, *options):
    with rt.Target() as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url + "/v2",
                               "--speed", "10"] + list(options))
        rows = target.read_log()
    rt.check_eq(rc, 0, "%s: exit code (stderr %r)" % (" ".join(options), err.strip()))
    return sorted(rows, key=lambda r: r["arrival_ns"]), err, target


def check_targets_and_host(trace):
    rows, err, target = replay(trace)
    rt.check_eq([(r["method"], r["target"]) for r in rows],
                [("GET", "/v2/api/users?page=1"), ("POST", "/v2/api/users"),
                 ("GET", "/v2/static/app.css"), ("DELETE", "/v2/api/users/7"),
                 ("GET", "/v2/api/items?debug=1"), ("PUT", "/v2/api/items/3")],
                "base path prepended, absolute form reduced")
    rt.check_eq(set(r["host"] for r in rows), {target.address}, "Host follows --target")
    rt.check("POST 1, PUT 1, DELETE 1" in err and "3 requests" in err,
             "the note counts the requests that change state: %r" % err.strip())

    rows, _, _ = replay(trace, "--keep-host")
    rt.check_eq(set(r["host"] for r in rows), {"prod.example"}, "--keep-host")
    rows, _, _ = replay(trace, "--header", "Host: edited.example")
    rt.check_eq(set(r["host"] for r in rows), {"edited.example"}, "--header Host")
    rows, _, _ = replay(trace, "--remove-header", "host")
    rt.check_eq(set(r["host"] for r in rows), {""}, "--remove-header host")


def check_rewrite(trace):
    rows, _, _ = replay(trace, "--rewrite-path", "^/api/([a-z]+)=/api/v9/\\1",
                        "--rewrite-path", "page\\=1=page=2")
    rt.check_eq([r["target"] for r in rows],
                ["/v2/api/v9/users?page=2", "/v2/api/v9/users", "/v2/static/app.css",
                 "/v2/api/v9/users/7", "/v2/api/v9/items?debug=1", "/v2/api/v9/items/3"],
                "--rewrite-path applied in order, before the base path")


def check_filters(trace):
    rows, err, _ = replay(trace, "--include-method", "GET,PUT")
    rt.check_eq([r["method"] for r in rows], ["GET", "GET", "GET", "PUT"], "--include-method")
    rt.check("PUT 1" in err and "POST" not in err, "the note counts what is left: %r"
             % err.strip())
    rows, err, _ = replay(trace, "--exclude-method", "POST,PUT,DELETE")
    rt.check_eq(len(rows), 3, "--exclude-method")
    rt.check("change the target" not in err, "no note without such requests")
    rows, _, _ = replay(trace, "--include-path", "^/api/", "--exclude-path", "debug=")
    rt.check_eq([r["target"] for r in rows],
                ["/v2/api/users?page=1", "/v2/api/users", "/v2/api/users/7", "/v2/api/items/3"],
                "--include-path and --exclude-path")


def check_dry_run(trace):
    with rt.Target() as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url, "--dry-run",
                               "--rate", "100", "--uniform", "--loop", "2",
                               "--exclude-method", "DELETE"])
        rows = target.read_log()
    rt.check_eq(rc, 0, "--dry-run: exit code (stderr %r)" % err.strip())
    rt.check_eq(rows, [], "--dry-run: nothing reaches the target")
    lines = out.splitlines()
    rt.check_eq(lines[0].split("\t"),
                ["seq", "pass", "conn", "due_s", "method", "url", "bytes", "action"],
                "--dry-run: header")
    body = [line.split("\t") for line in lines[1:]]
    rt.check_eq(len(body), 10, "--dry-run: 5 requests in each of 2 passes")
    rt.check_eq([b[3] for b in body[:3]], ["0.000000", "0.010000", "0.020000"],
                "--dry-run: due times at 100/s")
    rt.check_eq(body[5][1], "1", "--dry-run: the second pass")
    rt.check_eq(body[0][5], target.url + "/api/users?page=1", "--dry-run: URL")
    rt.check(all(int(b[6]) > 20 for b in body), "--dry-run: sizes in bytes")
    rt.check("the trace holds" in err, "--dry-run: the note about state changes")

    rc, out, err = rt.run(["replay", trace, "--target", target.url, "--dry-run",
                           "--users", "2"])
    lines = out.splitlines()
    rt.check_eq(rc, 0, "--dry-run --users: exit code")
    rt.check_eq(lines[0].split("\t")[3], "think_s", "--dry-run --users: think time column")
    rt.check_eq(len(lines), 7, "--dry-run --users: one line per request")


def main():
    tmp = rt.temp_dir()
    trace = make_trace(tmp)
    check_targets_and_host(trace)
    check_rewrite(trace)
    check_filters(trace)
    check_dry_run(trace)
    rt.finish()


main()
