"""Latency as replay reports it, against reprise-target with a known
service time.

1. --delay 50: the reported p50 latency is 50 ms. Bounds: 48 ms (the
   service time less timer rounding) to 80 ms (slack for a busy machine).
2. --serial --delay 100 with --max-connections 1: requests wait on the
   client side for the one connection, so latency from the due time grows
   with that queue while the service time from the actual send stays near
   100 ms. Checked from the report: service time p50 and p99 within
   95-160 ms, latency p90 above 3 times the service p90, and send lag
   (time spent waiting) p90 above 200 ms.
3. --serial --delay 100 with the default connection limit: libcurl opens
   parallel connections, so the queue forms at the server and the service
   time from the send includes it (service p90 above 200 ms).
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")


def replay_report(trace, tmp, target_args, *options):
    report = os.path.join(tmp, "run.json")
    if os.path.exists(report):
        os.unlink(report)
    with rt.Target(*target_args, log=False) as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url,
                               "--speed", "4", "--report", report]
                              + list(options))
    label = " ".join(list(target_args) + list(options))
    rt.check_eq(rc, 0, "%s: replay exit code (stderr %r)" % (label, err.strip()))
    with open(report) as f:
        data = json.load(f)
    rt.check_eq(data["responses"], 17, "%s: responses" % label)
    return data


def main():
    tmp = rt.temp_dir()
    trace = os.path.join(tmp, "browse.rpz")
    rc, _, err = rt.run(["capture", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())

    r = replay_report(trace, tmp, ["--delay", "50"])
    rt.check_between(r["latency_us"]["p50"], 48000, 80000,
                     "--delay 50: latency p50 (us)")
    rt.check_between(r["service_time_us"]["p50"], 48000, 80000,
                     "--delay 50: service time p50 (us)")

    r = replay_report(trace, tmp, ["--serial", "--delay", "100"],
                      "--max-connections", "1")
    service = r["service_time_us"]
    latency = r["latency_us"]
    rt.check_between(service["p50"], 95000, 160000,
                     "serial, one connection: service time p50 (us)")
    rt.check_between(service["p99"], 95000, 160000,
                     "serial, one connection: service time p99 (us)")
    rt.check(latency["p90"] > 3 * service["p90"],
             "serial, one connection: latency p90 %d us above 3 x service "
             "p90 %d us" % (latency["p90"], service["p90"]))
    rt.check_between(r["send_lag_us"]["p90"], 200000, None,
                     "serial, one connection: send lag p90 (us)")
    rt.check_eq(r["max_in_flight"], 1, "serial, one connection: max in flight")

    r = replay_report(trace, tmp, ["--serial", "--delay", "100"])
    rt.check_between(r["service_time_us"]["p90"], 200000, None,
                     "serial, parallel connections: service time p90 (us)")
    rt.check(r["max_in_flight"] > 1,
             "serial, parallel connections: more than one in flight (%d)"
             % r["max_in_flight"])
    rt.finish()


main()
