"""reprise replay rejects bad input before sending anything.

A bad option value exits 2 with one line naming the option and the value;
so does a combination of options that does not make sense, naming the
options. A missing trace, or a file that is not a trace, exits 1 with one
line naming the file.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import rptest as rt  # noqa: E402

PCAP = rt.data_path("data", "corpus", "zeek-workshop-browse.pcap")
GOOD_TARGET = "http://127.0.0.1:9"   # never contacted: every case fails first

USAGE_CASES = [
    ("--target", "ftp://127.0.0.1"),
    ("--target", "127.0.0.1:8080"),
    ("--target", "http://"),
    ("--target", "http://127.0.0.1:70000"),
    ("--target", "http://127.0.0.1/?q=1"),
    ("--speed", "0"),
    ("--speed", "0.05"),
    ("--speed", "1001"),
    ("--speed", "fast"),
    ("--speed", "-2"),
    ("--max-gap", "5x"),
    ("--max-gap", "-1s"),
    ("--max-gap", ""),
    ("--timeout", "0"),
    ("--connect-timeout", "soon"),
    ("--max-connections", "0"),
    ("--max-connections", "2.5"),
    ("--speed", "maximum"),
    ("--rate", "0"),
    ("--rate", "fast"),
    ("--loop", "0"),
    ("--loop", "always"),
    ("--duration", "0"),
    ("--skip", "soon"),
    ("--users", "0"),
    ("--spawn", "0"),
    ("--max-inflight", "-1"),
    ("--over-limit", "queue"),
    ("--threads", "0"),
    ("--threads", "1000"),
    ("--connections", "pool:0"),
    ("--connections", "reuse"),
    ("--transport", "fast"),
    ("--header", "Content-Length: 3"),
    ("--header", "NoColon"),
    ("--remove-header", "Transfer-Encoding"),
    ("--rewrite-path", "no-equals"),
    ("--rewrite-path", "(=x"),
    ("--include-method", "GET,,POST"),
    ("--exclude-path", "(["),
    ("--cacert", "/nonexistent/ca.pem"),
]

# Combinations rejected with exit 2; each message names the first option.
COMBINATION_CASES = [
    (["--speed", "2", "--rate", "10"], "--speed"),
    (["--uniform"], "--uniform"),
    (["--users", "2", "--rate", "10"], "--users"),
    (["--users", "2", "--over-limit", "drop"], "--over-limit"),
    (["--spawn", "5s"], "--spawn"),
    (["--users", "2", "--spawn", "5s", "--duration", "2s"], "--spawn"),
    (["--transport", "lean", "--http2"], "--transport lean"),
    (["--insecure"], "--insecure"),
    (["--dry-run", "--loop", "forever"], "--dry-run"),
    (["--rate", "10", "--max-gap", "10ms"], "--max-gap"),
]


def check_one_line(text, label):
    lines = [line for line in text.splitlines() if line.strip()]
    rt.check_eq(len(lines), 1, "%s: stderr is one line (%r)" % (label, text))


def main():
    tmp = rt.temp_dir()
    trace = os.path.join(tmp, "browse.rpz")
    rc, _, err = rt.run(["capture", "-r", PCAP, "-w", trace])
    rt.check_eq(rc, 0, "capture exit code (stderr %r)" % err.strip())

    for option, value in USAGE_CASES:
        args = ["replay", trace, "--target", GOOD_TARGET, option, value]
        rc, out, err = rt.run(args, timeout=30)
        label = "%s %r" % (option, value)
        rt.check_eq(rc, 2, "%s: exit code" % label)
        rt.check(option in err, "%s: message names the option (%r)"
                 % (label, err.strip()))
        if value:
            rt.check(value in err, "%s: message shows the value" % label)
        check_one_line(err, label)
        rt.check_eq(out, "", "%s: nothing on stdout" % label)

    for extra, named in COMBINATION_CASES:
        label = " ".join(extra)
        rc, out, err = rt.run(["replay", trace, "--target", GOOD_TARGET] + extra, timeout=30)
        rt.check_eq(rc, 2, "%s: exit code" % label)
        rt.check(named in err, "%s: message names %s (%r)" % (label, named, err.strip()))
        check_one_line(err, label)

    rc, _, err = rt.run(["replay", trace, "--target", "https://127.0.0.1:9",
                         "--transport", "lean"], timeout=30)
    rt.check_eq(rc, 2, "--transport lean with https://: exit code")
    rt.check("--transport curl" in err, "--transport lean with https://: names the fix")

    rc, _, err = rt.run(["replay", trace], timeout=30)
    rt.check_eq(rc, 2, "missing --target: exit code")
    rt.check("--target" in err, "missing --target: message names it")

    missing = os.path.join(tmp, "no-such.rpz")
    rc, out, err = rt.run(["replay", missing, "--target", GOOD_TARGET])
    rt.check_eq(rc, 1, "missing trace: exit code")
    rt.check(missing in err, "missing trace: message names the file (%r)"
             % err.strip())
    check_one_line(err, "missing trace")

    rc, out, err = rt.run(["replay", PCAP, "--target", GOOD_TARGET])
    rt.check_eq(rc, 1, "a pcap given as trace: exit code")
    rt.check(PCAP in err, "a pcap given as trace: message names the file "
             "(%r)" % err.strip())
    check_one_line(err, "a pcap given as trace")
    rt.finish()


main()
