#!/usr/bin/env python3
"""The trace tools on bad input: damaged and truncated traces, files of
another format, empty files, a future version, and damaged import files.
Each must end with a clear message naming the file, keep every request it
can, and exit 1 only when it could keep nothing (2 for usage errors)."""
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rptest as rt  # noqa: E402

TMP = rt.temp_dir("rp-e2e-tools-bad-")
EDGE = rt.data_path("data", "golden", "v1.0-edge-cases.rpz")
IMPORT = rt.data_path("data", "import")


def path(name):
    return os.path.join(TMP, name)


def write(name, data):
    p = path(name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def run(*args):
    p = subprocess.run([rt.REPRISE] + [str(a) for a in args], capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def count_jsonl(trace):
    rc, out, err = run("export", trace)
    return len(out.splitlines()) if rc == 0 else -1


with open(EDGE, "rb") as f:
    edge = f.read()
n_edge = count_jsonl(EDGE)
header_len = struct.unpack_from("<I", edge, 12)[0]
index_offset = struct.unpack_from("<Q", edge, len(edge) - 24)[0]
block1 = header_len + 56 + struct.unpack_from("<I", edge, header_len + 12)[0]
block1_records = struct.unpack_from("<I", edge, block1 + 8)[0]

# ---- damaged traces: every tool warns once, keeps the rest, exits 0 ----

flipped_block = bytearray(edge)
flipped_block[block1 + 60] ^= 0x10
flipped_header = bytearray(edge)
flipped_header[20] ^= 0x10
flipped_index = bytearray(edge)
flipped_index[index_offset + 20] ^= 0x10
cases = [
    ("flipped-block.rpz", bytes(flipped_block), n_edge - block1_records, "damaged block"),
    ("flipped-header.rpz", bytes(flipped_header), n_edge, "header is damaged"),
    ("flipped-index.rpz", bytes(flipped_index), n_edge, "index is damaged"),
    ("cut-mid-block.rpz", edge[:block1 + 70], 4, "truncated"),
]
for name, data, kept, warning in cases:
    src = write(name, data)
    out = path("out.rpz")
    for args in (["export", src], ["slice", src, "-o", out, "--from", "0s"],
                 ["filter", src, "-o", out, "--method", "GET,POST,PUT,DELETE,CONNECT,OPTIONS,"
                  "CCM_POST,\xc7"], ["sample", "100", src, "-o", out],
                 ["merge", "-o", out, src, rt.data_path("data", "golden", "v1.0-chunked.rpz")],
                 ["repair", src, "-o", out], ["inspect", src]):
        rc, stdout, err = run(*args)
        what = "%s on %s" % (args[0], name)
        rt.check(rc == 0, "%s: exit 0 (%r)" % (what, err[-300:]))
        rt.check(warning in err and name in err, "%s: warning names the file and the damage: %r"
                 % (what, err[:300]))
        if args[0] == "export":
            rt.check_eq(len(stdout.splitlines()), kept, what + ": requests kept")
        elif args[0] in ("slice", "sample", "repair"):
            rt.check_eq(count_jsonl(out), kept, what + ": requests kept")

# ---- not traces ----

empty = write("empty.rpz", b"")
pcap = write("capture.pcap", bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
future = bytearray(edge[:header_len])
future[8:10] = struct.pack("<H", 2)
future = write("future.rpz", bytes(future) + edge[header_len:])
for src, part in ((empty, "empty"), (pcap, "not a reprise trace"),
                  (future, "newer reprise (format 2.0)"),
                  (path("missing.rpz"), "No such file")):
    for args in (["export", src], ["slice", src, "-o", path("o.rpz")],
                 ["filter", src, "-o", path("o.rpz")], ["sample", "10", src, "-o", path("o.rpz")],
                 ["merge", "-o", path("o.rpz"), EDGE, src], ["repair", src, "-o", path("o.rpz")]):
        rc, stdout, err = run(*args)
        what = "%s on %s" % (args[0], os.path.basename(src))
        rt.check(rc == 1 and part in err and os.path.basename(src) in err and stdout == b"",
                 "%s: exit 1, message naming file and problem (rc %r, %r)" % (what, rc, err[:200]))
        rt.check(not os.path.exists(path("o.rpz")), what + ": no output left behind")

# ---- import ----

def import_file(src, *opts):
    out = path("imported.rpz")
    if os.path.exists(out):
        os.unlink(out)
    rc, _, err = run("import", src, "-o", out, *opts)
    n = count_jsonl(out) if os.path.exists(out) else None
    return rc, err, n


for src, part in ((empty, "is empty"), (EDGE, "already a reprise trace"),
                  (pcap, "reprise capture -r"),
                  (write("text.txt", b"hello\nworld\n"), "--format")):
    rc, err, n = import_file(src)
    rt.check(rc == 1 and part in err and n is None,
             "import %s: exit 1, %r, no output (rc %r, %r)" % (os.path.basename(src), part, rc, err))

with open(os.path.join(IMPORT, "chrome.har"), "rb") as f:
    har = f.read()
rc, err, n = import_file(write("future.har", har.replace(b'"version": "1.2"', b'"version": "3.0"')))
rt.check(rc == 1 and "HAR version 3.0" in err, "import HAR 3.0: rejected: %r" % err)

# Cut inside the third entry: two requests kept, the cut reported.
third = har.index(b'"startedDateTime": "2024-12-03T10:15:03.402')
rc, err, n = import_file(write("cut.har", har[:third]))
rt.check(rc == 0 and n == 1 and "truncated?" in err, "import of a cut HAR: the first request "
         "kept, the cut reported (rc %r, n %r, %r)" % (rc, n, err))

with open(os.path.join(IMPORT, "sample.gor"), "rb") as f:
    gor = f.read()
rc, err, n = import_file(write("cut.gor", gor[:len(gor) - 30]))
rt.check(rc == 0 and n == 3 and "truncated?" in err,
         "import of a cut GoReplay file (rc %r, n %r, %r)" % (rc, n, err))

lines = [json.dumps({"ts_ns": 1000 + i, "method": "GET", "target": "/%d" % i}) for i in range(30)]
text = "\n".join(lines[:10] + ["{not json"] * 14 + lines[10:]) + "\n"
rc, err, n = import_file(write("some-bad.jsonl", text.encode()), "--format", "jsonl")
rt.check(rc == 0 and n == 30, "import: good lines kept around 14 bad ones (rc %r, n %r)" % (rc, n))
rt.check(err.count("warning:") == 11 and "4 more lines skipped" in err,
         "import: the first 10 bad lines shown, the rest counted: %r" % err[-300:])
rc, err, n = import_file(write("all-bad.jsonl", b"{x\n{y\n"), "--format", "jsonl")
rt.check(rc == 1 and "no request" in err and n is None,
         "import of only bad lines: exit 1, no output (rc %r, %r)" % (rc, err[-200:]))

rt.finish()
