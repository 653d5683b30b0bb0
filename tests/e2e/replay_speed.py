"""Pacing of a replay, measured at the target: the span between the first
and last arrival follows the captured span divided by --speed, and
--max-gap caps each pause of the replayed timeline (after the division by
speed).

Tolerance: 15% of the expected span or 100 ms, whichever is larger, to
absorb scheduling noise on a shared 2-core machine.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")


def captured_times(trace):
    rc, out, err = rt.run(["inspect", "--records", trace])
    rt.check_eq(rc, 0, "inspect --records exit code (stderr %r)" % err.strip())
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[0].split("\t")
    col = header.index("ts_ns")
    return sorted(int(line.split("\t")[col]) for line in lines[1:])


def expected_span_ns(times, speed, max_gap_ns=None):
    """The schedule's rule: each gap divided by speed, then capped."""
    span = 0
    for prev, cur in zip(times, times[1:]):
        gap = (cur - prev) / speed
        if max_gap_ns is not None and gap > max_gap_ns:
            gap = max_gap_ns
        span += gap
    return span


def arrival_span_ns(trace, *options):
    with rt.Target() as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url]
                              + list(options))
        rt.check_eq(rc, 0, "replay %s exit code (stderr %r)"
                    % (" ".join(options), err.strip()))
        rows = target.read_log()
    arrivals = sorted(r["arrival_ns"] for r in rows)
    rt.check(len(arrivals) > 1, "replay %s: requests arrived"
             % " ".join(options))
    return arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0


def check_span(label, got_ns, want_ns):
    slack = max(0.15 * want_ns, 100e6)
    rt.check_between(round(got_ns / 1e6, 1), round((want_ns - slack) / 1e6, 1),
                     round((want_ns + slack) / 1e6, 1),
                     "%s: arrival span in ms (expected %.1f)"
                     % (label, want_ns / 1e6))


def main():
    tmp = rt.temp_dir()
    trace = os.path.join(tmp, "browse.rpz")
    rc, _, err = rt.run(["capture", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())
    times = captured_times(trace)
    captured = times[-1] - times[0]
    rt.check_between(captured / 1e9, 5.0, 6.0, "captured span in seconds")

    check_span("--speed 4", arrival_span_ns(trace, "--speed", "4"),
               expected_span_ns(times, 4))

    # At speed 2 the capture's longest pauses are cut to 100 ms. The
    # expected span applies the same rule to the captured timestamps, and
    # it must differ from the uncapped one for the check to mean anything.
    capped = expected_span_ns(times, 2, 100e6)
    rt.check(capped < expected_span_ns(times, 2) - 500e6,
             "--max-gap 100ms shortens this capture by more than 500 ms")
    check_span("--speed 2 --max-gap 100ms",
               arrival_span_ns(trace, "--speed", "2", "--max-gap", "100ms"),
               capped)
    rt.finish()


main()
