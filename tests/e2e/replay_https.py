"""HTTPS and HTTP/2 replay through libcurl, against nginx from Debian on
127.0.0.1 with a self-signed certificate made here with openssl.

- Without --insecure or --cacert the certificate is not trusted: every
  request fails (errors.other) and the run still ends with exit 0.
- --insecure and --cacert CERT both get every response.
- --http2 speaks HTTP/2 (nginx logs HTTP/2.0); the captured requests carry
  Connection headers, which HTTP/2 forbids, so this also checks that they
  are left out.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")
REQUESTS = 17


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_cert(work):
    cert = os.path.join(work, "cert.pem")
    key = os.path.join(work, "key.pem")
    rc, _, err = rt.run_cmd([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                             "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1"], timeout=30)
    rt.check_eq(rc, 0, "openssl made a certificate (stderr %r)" % err.strip())
    return cert, key


def start_nginx(work, port, cert, key):
    os.makedirs(os.path.join(work, "www"), exist_ok=True)
    with open(os.path.join(work, "www", "index.html"), "w") as f:
        f.write("hello\n")
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
daemon off;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/error.log;
events { worker_connections 256; }
http {
    log_format proto '$server_protocol $request_method $request_uri $status';
    access_log %(w)s/access.log proto;
    client_body_temp_path %(w)s/body;
    proxy_temp_path %(w)s/proxy;
    fastcgi_temp_path %(w)s/fastcgi;
    uwsgi_temp_path %(w)s/uwsgi;
    scgi_temp_path %(w)s/scgi;
    server {
        listen 127.0.0.1:%(p)d ssl http2;
        ssl_certificate %(c)s;
        ssl_certificate_key %(k)s;
        root %(w)s/www;
        location / { try_files $uri /index.html; }
    }
}
""" % {"w": work, "p": port, "c": cert, "k": key})
    proc = subprocess.Popen([NGINX, "-c", conf, "-p", work], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc


def access_lines(work, start):
    time.sleep(0.2)   # nginx writes the log line after the response
    with open(os.path.join(work, "access.log")) as f:
        return f.read().splitlines()[start:]


def replay(trace, work, port, *options):
    report = os.path.join(work, "run.json")
    rc, out, err = rt.run(["replay", trace, "--target", "https://127.0.0.1:%d" % port,
                           "--speed", "50", "--max-gap", "50ms", "--report", report]
                          + list(options), timeout=60)
    rt.check_eq(rc, 0, "%s: exit code (stderr %r)" % (" ".join(options), err.strip()))
    with open(report) as f:
        return json.load(f)


def main():
    rt.check(os.path.exists(NGINX), "nginx is installed (run 'make deps')")
    rt.check(os.path.exists(OPENSSL), "openssl is installed")
    if not (os.path.exists(NGINX) and os.path.exists(OPENSSL)):
        rt.finish()
    work = rt.temp_dir()
    cert, key = make_cert(work)
    trace = os.path.join(work, "browse.rpz")
    rc, _, err = rt.run(["capture", "-q", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())

    port = free_port()
    nginx = start_nginx(work, port, cert, key)
    try:
        data = replay(trace, work, port)
        rt.check_eq(data["responses"], 0, "untrusted certificate: no response")
        rt.check_eq(data["errors"]["total"], REQUESTS, "untrusted certificate: errors")
        rt.check_eq(data["transport"], "libcurl", "https: transport")

        seen = len(access_lines(work, 0))
        data = replay(trace, work, port, "--insecure")
        rt.check_eq(data["responses"], REQUESTS, "--insecure: responses")
        rt.check_eq(data["setup"]["insecure"], True, "--insecure: setup.insecure")
        lines = access_lines(work, seen)
        rt.check_eq(len(lines), REQUESTS, "--insecure: nginx logged every request")
        rt.check(all(line.startswith("HTTP/1.1 GET ") for line in lines),
                 "--insecure: HTTP/1.1 (%r)" % lines[:1])

        data = replay(trace, work, port, "--cacert", cert)
        rt.check_eq(data["responses"], REQUESTS, "--cacert: responses")
        seen += len(lines) + REQUESTS

        data = replay(trace, work, port, "--cacert", cert, "--http2")
        rt.check_eq(data["responses"], REQUESTS, "--http2: responses")
        rt.check_eq(data["errors"]["total"], 0, "--http2: errors")
        rt.check_eq(data["setup"]["http2"], True, "--http2: setup.http2")
        lines = access_lines(work, seen)
        rt.check_eq(len(lines), REQUESTS, "--http2: nginx logged every request")
        rt.check(all(line.startswith("HTTP/2.0 GET ") for line in lines),
                 "--http2: nginx saw HTTP/2.0 (%r)" % lines[:1])
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
    rt.finish()


main()
