"""Replays a captured trace against nginx from Debian on 127.0.0.1 and
checks nginx's access log: every request arrives once, with its method and
target, and the report counts nginx's answers."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
rt.check(os.path.exists(NGINX), "nginx is installed (run 'make deps')")
if not os.path.exists(NGINX):
    rt.finish()

work = rt.temp_dir()
os.makedirs(os.path.join(work, "www"))
with open(os.path.join(work, "www", "index.html"), "w") as f:
    f.write("hello\n")

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()

conf = os.path.join(work, "nginx.conf")
with open(conf, "w") as f:
    f.write("""
daemon off;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/error.log;
events { worker_connections 1024; }
http {
    access_log %(w)s/access.log;
    client_body_temp_path %(w)s/body;
    proxy_temp_path %(w)s/proxy;
    fastcgi_temp_path %(w)s/fastcgi;
    uwsgi_temp_path %(w)s/uwsgi;
    scgi_temp_path %(w)s/scgi;
    server {
        listen 127.0.0.1:%(p)d;
        root %(w)s/www;
        location / { try_files $uri /index.html; }
    }
}
""" % {"w": work, "p": port})

nginx = subprocess.Popen([NGINX, "-c", conf, "-p", work], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)

    trace = os.path.join(work, "t.rpz")
    rc, _, err = rt.run(["capture", "-q", "-r", rt.data_path("data", "corpus", "zeek-workshop-browse.pcap"),
                         "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (%s)" % err.strip())
    report = os.path.join(work, "run.json")
    rc, out, err = rt.run(["replay", trace, "--target", "http://127.0.0.1:%d" % port,
                           "--speed", "20", "--max-gap", "100ms", "--report", report], timeout=60)
    rt.check_eq(rc, 0, "replay exit code (%s)" % err.strip())
    time.sleep(0.2)   # nginx writes its access log line after the response

    with open(os.path.join(work, "access.log")) as f:
        lines = f.read().splitlines()
    rt.check_eq(len(lines), 17, "nginx logged every request once")
    rc, out, _ = rt.run(["inspect", "--records", trace])
    expected = sorted("GET " + row.split("\t")[3] for row in out.splitlines()[1:])
    got = sorted(line.split('"')[1].rsplit(" ", 1)[0] for line in lines)
    rt.check_eq(got, expected, "nginx saw the captured methods and targets")

    with open(report) as f:
        rep = json.load(f)
    rt.check_eq(rep["requests_sent"], 17, "report: requests_sent")
    rt.check_eq(rep["errors"]["total"], 0, "report: no errors")
    statuses = sum(rep["status"].values())
    rt.check_eq(statuses, 17, "report: one status per request")
finally:
    nginx.terminate()
    try:
        nginx.wait(timeout=10)
    except subprocess.TimeoutExpired:
        nginx.kill()
rt.finish()
