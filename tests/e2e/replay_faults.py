"""Replay against a target that misbehaves on every second request
(reprise-target --fault MODE --fault-every 2).

Each failure counts under its error kind, closes its connection, and the
other requests get their responses, through both transports. No request
reaches the server twice: the lean transport never resends, and replay
blocks libcurl's silent resend on a dead reused connection.

Error kinds: reset (RST) and close (FIN before any response) and partial
(FIN in the middle of the body) count as "reset"; stall (no response) counts
as "timeout" once --timeout 1s passes.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")
REQUESTS = 17
FAULTED = REQUESTS // 2     # request ids 2, 4, ... 16 at the server


def run_fault(trace, tmp, mode, kind, transport):
    report = os.path.join(tmp, mode + ".json")
    label = "%s (%s)" % (mode, transport)
    with rt.Target("--fault", mode, "--fault-every", "2") as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url,
                               "--speed", "10", "--timeout", "1s",
                               "--transport", transport,
                               "--report", report], timeout=60)
        rows = target.read_log()
    rt.check_eq(rc, 0, "%s: replay exit code (stderr %r)" % (label, err.strip()))
    rt.check_eq(len(rows), REQUESTS, "%s: arrivals at the target" % label)
    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["errors"][kind], FAULTED, "%s: errors.%s" % (label, kind))
    rt.check_eq(data["errors"]["total"], FAULTED, "%s: errors.total" % label)
    rt.check_eq(data["responses"], REQUESTS - FAULTED, "%s: responses" % label)
    rt.check_eq(data["requests_sent"], REQUESTS, "%s: requests_sent" % label)


def main():
    tmp = rt.temp_dir()
    trace = os.path.join(tmp, "browse.rpz")
    rc, _, err = rt.run(["capture", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())
    for transport in ["lean", "curl"]:
        for mode, kind in [("reset", "reset"), ("close", "reset"),
                           ("partial", "reset"), ("stall", "timeout")]:
            run_fault(trace, tmp, mode, kind, transport)
    rt.finish()


main()
