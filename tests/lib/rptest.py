"""Helpers for the end-to-end tests in tests/e2e.

A test script imports this module, starts servers with Target, runs reprise
with run() and records each check with check(), check_eq() or
check_between(). It ends with finish(), which prints the failed checks and
exits 1 if any failed or if no check ran.

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    import rptest as rt

    with rt.Target("--delay", "50") as target:
        rc, out, err = rt.run(["replay", trace, "--target", target.url])
        rt.check_eq(rc, 0, "replay exit code")
        rows = target.read_log()
    rt.finish()

Paths come from the environment that tests/run sets (REPRISE,
REPRISE_TARGET, TESTS_DIR), with defaults in build/opt of this checkout so
a script can also run on its own from the repository root.
"""

import atexit
import os
import pty
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD", "build/opt")
REPRISE = os.environ.get("REPRISE") or os.path.join(REPO, BUILD, "reprise")
REPRISE_TARGET = (os.environ.get("REPRISE_TARGET")
                  or os.path.join(REPO, BUILD, "reprise-target"))
TESTS_DIR = os.environ.get("TESTS_DIR") or os.path.join(REPO, "tests")
SAN = os.environ.get("SAN") == "1"

# Columns of reprise-target's --log file, in order (tools/target.c documents
# each one). Integer columns are converted by Target.read_log(); an empty
# integer field becomes None.
LOG_COLUMNS = ("arrival_ns", "conn_id", "request_id", "method", "target",
               "version", "body_len", "chunked", "host", "service_start_ns",
               "action")
LOG_INT_COLUMNS = {"arrival_ns", "conn_id", "request_id", "body_len",
                   "chunked", "service_start_ns"}

_failures = []
_checks = 0
_temp_dirs = []


# ---- checks ----

def check(cond, msg):
    """Record one check: cond true passes, false fails with msg."""
    global _checks
    _checks += 1
    if cond:
        print("ok   " + msg)
    else:
        print("FAIL " + msg)
        _failures.append(msg)
    sys.stdout.flush()
    return bool(cond)


def check_eq(actual, expected, msg):
    """Record a check that actual == expected, showing both on failure."""
    ok = actual == expected
    if ok:
        return check(True, "%s: %r" % (msg, actual))
    return check(False, "%s: got %r, expected %r" % (msg, actual, expected))


def check_between(value, low, high, msg):
    """Record a check that low <= value <= high (either bound may be None)."""
    ok = ((low is None or value >= low) and (high is None or value <= high))
    bounds = "[%s, %s]" % ("-inf" if low is None else low,
                           "inf" if high is None else high)
    return check(ok, "%s: %r in %s" % (msg, value, bounds))


def finish():
    """Print the summary and exit: 1 if any check failed or none ran."""
    if _checks == 0:
        print("FAIL no check ran")
        sys.exit(1)
    print("%d checks, %d failed" % (_checks, len(_failures)))
    for msg in _failures:
        print("  failed: " + msg)
    sys.stdout.flush()
    sys.exit(1 if _failures else 0)


# ---- files and processes ----

def _remove_temp_dirs():
    if os.environ.get("RPTEST_KEEP") == "1":
        for path in _temp_dirs:
            print("kept temporary directory " + path)
        return
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_remove_temp_dirs)


def temp_dir(prefix="rptest-"):
    """Create a temporary directory, removed when the script exits unless
    RPTEST_KEEP=1 is set."""
    path = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(path)
    return path


def data_path(*parts):
    """Path of a file under TESTS_DIR, e.g. data_path("data", "x.pcap")."""
    return os.path.join(TESTS_DIR, *parts)


def run_cmd(cmd, timeout=120, env=None, input=None):
    """Run cmd (a list) with a timeout. Return (rc, stdout, stderr) as text;
    rc is None when the command timed out and was killed."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout,
                              env=full_env, input=input,
                              text=True, errors="replace")
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        err = exc.stderr or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        return None, out, err + "\n[rptest: timed out after %gs]" % timeout
    return proc.returncode, proc.stdout, proc.stderr


def run(args, timeout=120, env=None, input=None):
    """Run reprise with args (a list). Return (rc, stdout, stderr); rc is
    None when it timed out and was killed."""
    return run_cmd([REPRISE] + list(args), timeout=timeout, env=env,
                   input=input)


class Target:
    """A reprise-target process on loopback, as a context manager.

    Target("--delay", "50", "--serial") starts it on an ephemeral port with
    --log in a temporary directory (log=False leaves the log out) and a
    --lifetime safety limit, so a server orphaned by a crashed test still
    exits. wrapper (a list, e.g. ["valgrind", "-q"]) runs the server under
    another program that keeps its process id. Attributes: url, host, port,
    log_path, pid, and after stop(): returncode, stderr_text and stats (the
    stats line as a dict of ints).
    """

    def __init__(self, *args, log=True, listen="127.0.0.1:0", lifetime=600,
                 start_timeout=10, program=None, wrapper=None):
        self.args = [str(a) for a in args]
        self.listen = listen
        self.lifetime = lifetime
        self.start_timeout = start_timeout
        self.program = program or REPRISE_TARGET
        self.wrapper = list(wrapper or [])
        self.dir = temp_dir("rptarget-")
        self.log_path = os.path.join(self.dir, "target.log") if log else None
        self.stderr_path = os.path.join(self.dir, "target.stderr")
        self.proc = None
        self.returncode = None
        self.stderr_text = ""
        self.stats = {}

    def start(self):
        cmd = self.wrapper + [self.program, "--listen", self.listen,
               "--lifetime", str(self.lifetime)]
        if self.log_path:
            cmd += ["--log", self.log_path]
        cmd += self.args
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        self.pid = self.proc.pid
        line = self._read_first_line()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError("reprise-target did not start (%s): stdout %r, "
                               "stderr %r" % (" ".join(cmd), line,
                                              self.stderr_text))
        address = line.split(" ", 1)[1].strip()
        host, _, port = address.rpartition(":")
        self.host = host
        self.port = int(port)
        self.address = address
        self.url = "http://%s" % address
        return self

    def _read_first_line(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.start_timeout
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            data += chunk
        sel.close()
        return data.decode(errors="replace").split("\n", 1)[0]

    def stop(self, timeout=10):
        """Send SIGTERM, then SIGKILL after timeout seconds. Return the exit
        code (negative for a signal, as subprocess reports it)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._collect()
        return self.returncode

    def kill(self):
        """SIGKILL the server at once, as a crash would end it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._collect()

    def _collect(self):
        self.returncode = self.proc.returncode
        self.proc.stdout.close()
        self._stderr.close()
        self.proc = None
        with open(self.stderr_path, "r", errors="replace") as f:
            self.stderr_text = f.read()
        report = sanitizer_report(self.stderr_text)
        if report:
            check(False, "reprise-target %s: sanitizer report: %s"
                  % (" ".join(self.args), report))
        for line in self.stderr_text.splitlines():
            if line.startswith("reprise-target: stopped:"):
                for item in line.split()[2:]:
                    key, _, value = item.partition("=")
                    self.stats[key] = int(value)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def read_log(self):
        """Return the log rows so far as dicts keyed by LOG_COLUMNS."""
        return read_target_log(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "WARNING: ThreadSanitizer")


def sanitizer_report(text):
    """Return the first line of an ASan, LSan, UBSan or TSan report in text,
    or None."""
    for line in text.splitlines():
        if any(marker in line for marker in SANITIZER_MARKERS):
            return line.strip()
    return None


def _unescape(text):
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
                       .get(text[i + 1], "\\" + text[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def read_target_log(path):
    """Parse a reprise-target log file into a list of dicts."""
    rows = []
    with open(path, "r", errors="replace", newline="\n") as f:
        header = f.readline().rstrip("\n").split("\t")
        if tuple(header) != LOG_COLUMNS:
            raise ValueError("%s: unexpected log header %r" % (path, header))
        for line in f:
            if not line.endswith("\n"):
                break       # a row still being written
            fields = line[:-1].split("\t")
            row = {}
            for name, value in zip(LOG_COLUMNS, fields):
                if name in LOG_INT_COLUMNS:
                    row[name] = int(value) if value else None
                else:
                    row[name] = _unescape(value)
            rows.append(row)
    return rows


# ---- raw HTTP/1.1 over sockets ----

class Response:
    """One parsed HTTP response. complete is False when the connection
    ended before the body that the head announced."""

    def __init__(self, status, reason, headers, body, complete):
        self.status = status
        self.reason = reason
        self.headers = headers      # lowercased names -> last value
        self.body = body
        self.complete = complete

    def __repr__(self):
        return "Response(%d, %d body bytes%s)" % (
            self.status, len(self.body), "" if self.complete else ", cut")


class HttpConn:
    """A client connection for raw HTTP tests: send bytes, read responses.
    Socket errors (ConnectionResetError, socket.timeout) propagate."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host.strip("[]"), port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def _fill(self):
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return len(chunk)

    def _readline(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                break
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_chunked(self):
        body = b""
        while True:
            line = self._readline()
            if line is None:
                return body, False
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while True:
                    trailer = self._readline()
                    if trailer is None:
                        return body, False
                    if trailer == b"":
                        return body, True
            data = self._read_exact(size)
            body += data
            if len(data) < size or self._readline() is None:
                return body, False

    def response(self, head=False):
        """Read one response; head=True for a response to HEAD. Return None
        when the connection closed before a status line."""
        status_line = self._readline()
        if status_line is None:
            return None
        parts = status_line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        while True:
            line = self._readline()
            if line is None:
                return Response(status, reason, headers, b"", False)
            if line == b"":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()

        if head or status in (204, 304) or 100 <= status < 200:
            return Response(status, reason, headers, b"", True)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, complete = self._read_chunked()
            return Response(status, reason, headers, body, complete)
        if "content-length" in headers:
            length = int(headers["content-length"])
            body = self._read_exact(length)
            return Response(status, reason, headers, body, len(body) == length)
        body = self._read_until_eof()
        return Response(status, reason, headers, body, True)

    def _read_until_eof(self):
        while self._fill():
            pass
        data, self.buf = self.buf, b""
        return data

    def at_eof(self):
        """True when the peer has closed: no buffered byte and recv gives
        end of file."""
        return not self.buf and not self._fill()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def get(port, path="/", host="127.0.0.1", headers=None, timeout=5.0):
    """Send one GET on a new connection and return its Response."""
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port)]
    lines += ["%s: %s" % kv for kv in (headers or {}).items()]
    with HttpConn(port, host, timeout) as conn:
        conn.send("\r\n".join(lines) + "\r\n\r\n")
        return conn.response()


def read_pty(cmd, timeout):
    """Run cmd with stderr on a pseudo-terminal, so it behaves as on a
    terminal. Return (rc, everything written to stderr).
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    proc.wait(timeout=10)
    os.close(master)
    return proc.returncode, data.decode(errors="replace")
