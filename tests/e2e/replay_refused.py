"""Replay to a port where nothing listens: every request is a connect
error, the run still goes to the end of the trace and exits 0, and the
summary and report count the errors. The port is found by binding a socket on
127.0.0.1, reading its port and closing it.
"""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    tmp = rt.temp_dir()
    trace = os.path.join(tmp, "browse.rpz")
    report = os.path.join(tmp, "run.json")
    rc, _, err = rt.run(["capture", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())

    rc, out, err = rt.run(["replay", trace, "--target",
                           "http://127.0.0.1:%d" % free_port(),
                           "--speed", "8", "--report", report], timeout=60)
    rt.check_eq(rc, 0, "replay exit code")
    rt.check_eq(err.strip(), "", "replay stderr")
    rt.check("connect 17, timeout 0, reset 0, other 0, client 0 (total 17)" in out,
             "summary lists 17 connect errors")
    rt.check("due 17, sent 0, responses 0" in out,
             "summary: 17 due, none sent")

    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["requests_due"], 17, "report requests_due")
    rt.check_eq(data["errors"]["connect"], data["requests_due"],
                "report errors.connect equals the requests")
    rt.check_eq(data["errors"]["total"], 17, "report errors.total")
    rt.check_eq(data["requests_sent"], 0, "report requests_sent")
    rt.check_eq(data["responses"], 0, "report responses")
    rt.check_eq(data["status"], {}, "report status")
    rt.finish()


main()
