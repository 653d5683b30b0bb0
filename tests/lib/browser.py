"""Headless Chromium for the tests (Debian's chromium package), run as
its packagers document for containers: no sandbox, no GPU, no background
networking, a fresh profile. Only local files are opened."""

import os
import shutil
import struct
import subprocess
import tempfile
import zlib

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--mute-audio"]


def _run(args, timeout=90):
    profile = tempfile.mkdtemp(prefix="rptest-chromium-")
    try:
        proc = subprocess.run([CHROMIUM] + FLAGS + ["--user-data-dir=" + profile] + args,
                              capture_output=True, timeout=timeout, text=True,
                              errors="replace")
        return proc.returncode, proc.stdout, proc.stderr
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def available():
    return os.access(CHROMIUM, os.X_OK)


def dump_dom(html_path):
    """Return (rc, the DOM Chromium built from the file, stderr)."""
    return _run(["--dump-dom", "file://" + os.path.abspath(html_path)])


def screenshot(html_path, png_path, width=1000, height=2600):
    """Render the file to png_path; return (rc, stderr)."""
    rc, _, err = _run(["--window-size=%d,%d" % (width, height),
                       "--screenshot=" + png_path, "file://" + os.path.abspath(html_path)])
    return rc, err


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def read_png(path):
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG. Return (width,
    height, rows) with rows a list of lists of (r, g, b) tuples."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG file" % path)
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length

    width, height, depth, color, _, _, interlace = header
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d, color type %d" % (depth, color))
    bpp = 3 if color == 2 else 4

    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 0xFF
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows
