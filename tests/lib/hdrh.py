"""HdrHistogram in Python for the tests: the counts layout, the compressed
V2 encoding ("HISTFAAA..." base64) and reprise's percentile rule. It is
written from HdrHistogram's published format, apart from reprise's C code.
A builder of synthetic reprise run reports with the results keys
(docs/report-results.md) lets report, compare and merge-reports be tested
without a replay.

    h = Hist()
    h.record(1500)
    text = h.encode()
    back = Hist.decode(text)
"""

import base64
import struct
import zlib

HIGHEST = 3600000000      # 1 hour in microseconds
DIGITS = 3
V2_COOKIE = 0x1C849313
V2_COMPRESSED_COOKIE = 0x1C849314


def _layout(highest=HIGHEST, digits=DIGITS):
    single = 2 * 10 ** digits
    sub_magnitude = (single - 1).bit_length()
    sub_count = 1 << sub_magnitude
    buckets = 1
    untrackable = sub_count
    while untrackable <= highest:
        untrackable <<= 1
        buckets += 1
    return sub_magnitude - 1, sub_count // 2, (buckets + 1) * (sub_count // 2)


HALF_MAGNITUDE, SUB_HALF, COUNTS_LEN = _layout()
SUB_MASK = 2 * SUB_HALF - 1


def index_of(value):
    bucket = max((value | SUB_MASK).bit_length() - (HALF_MAGNITUDE + 1), 0)
    sub = value >> bucket
    return ((bucket + 1) << HALF_MAGNITUDE) + (sub - SUB_HALF)


def slot_range(index):
    """Lowest and highest value of slot index."""
    bucket = (index >> HALF_MAGNITUDE) - 1
    sub = (index & (SUB_HALF - 1)) + SUB_HALF
    if bucket < 0:
        sub -= SUB_HALF
        bucket = 0
    low = sub << bucket
    return low, low + (1 << bucket) - 1


TOP = slot_range(COUNTS_LEN - 1)[1]


def _zigzag(value):
    u = ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    for _ in range(8):
        if u >> 7 == 0:
            out.append(u)
            return bytes(out)
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u & 0xFF)
    return bytes(out)


def _unzigzag(data, pos):
    u = 0
    for i in range(9):
        byte = data[pos]
        pos += 1
        if i == 8:
            u |= byte << 56
            break
        u |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            break
    return (u >> 1) ^ -(u & 1), pos


class Hist:
    """Counts by slot, with the exact min and max of recorded values."""

    def __init__(self):
        self.counts = {}
        self.total = 0
        self.min = None
        self.max = None

    def record(self, value, count=1):
        index = index_of(min(value, TOP))
        self.counts[index] = self.counts.get(index, 0) + count
        self.total += count
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)

    def add(self, other):
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.total += other.total
        for v in (other.min, other.max):
            if v is not None:
                self.min = v if self.min is None else min(self.min, v)
                self.max = v if self.max is None else max(self.max, v)

    def percentile(self, p):
        """reprise's rule (HdrHistogram's): the slot holding rank
        round(p/100 * n), at least 1; its highest value, capped at max."""
        if self.total == 0:
            return 0
        rank = max(int(p / 100.0 * self.total + 0.5), 1)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(slot_range(index)[1], self.max)
        return self.max

    def summary(self):
        """The *_us object of a report."""
        if self.total == 0:
            return {k: 0 for k in ("p50", "p90", "p95", "p99", "p999", "max", "min",
                                   "count")} | {"mean": 0.0}
        mean = sum(((slot_range(i)[0] + slot_range(i)[1]) / 2) * c
                   for i, c in self.counts.items()) / self.total
        return {"p50": self.percentile(50), "p90": self.percentile(90),
                "p95": self.percentile(95), "p99": self.percentile(99),
                "p999": self.percentile(99.9), "max": self.max, "min": self.min,
                "mean": mean, "count": self.total}

    def encode(self):
        payload = bytearray()
        last = max(self.counts) if self.counts else 0
        index = 0
        while index <= last:
            count = self.counts.get(index, 0)
            if count == 0:
                zeros = 1
                while index + zeros <= last and self.counts.get(index + zeros, 0) == 0:
                    zeros += 1
                payload += _zigzag(-zeros if zeros > 1 else 0)
                index += zeros
                continue
            payload += _zigzag(count)
            index += 1
        header = struct.pack(">iiiiqqd", V2_COOKIE, len(payload), 0, DIGITS, 1, HIGHEST, 1.0)
        packed = zlib.compress(header + bytes(payload))
        return base64.b64encode(struct.pack(">ii", V2_COMPRESSED_COOKIE, len(packed))
                                + packed).decode()

    @classmethod
    def decode(cls, text):
        """Counts only: min and max become those of the slots."""
        raw = base64.b64decode(text)
        cookie, length = struct.unpack(">ii", raw[:8])
        if cookie != V2_COMPRESSED_COOKIE:
            raise ValueError("not a compressed V2 histogram: cookie %#x" % cookie)
        data = zlib.decompress(raw[8:8 + length])
        cookie, payload, offset, digits, lowest, highest, _ = struct.unpack(">iiiiqqd",
                                                                            data[:40])
        if (cookie, offset, digits, lowest, highest) != (V2_COOKIE, 0, DIGITS, 1, HIGHEST):
            raise ValueError("unexpected histogram header")
        h = cls()
        pos, index, end = 40, 0, 40 + payload
        while pos < end:
            value, pos = _unzigzag(data, pos)
            if value < 0:
                index += -value
                continue
            if value:
                h.counts[index] = value
                h.total += value
                low, high = slot_range(index)
                h.min = low if h.min is None else min(h.min, low)
                h.max = high if h.max is None else max(h.max, high)
            index += 1
        return h


# ---- synthetic run reports ----

KINDS = ["response", "connect", "timeout", "reset", "other", "client", "not_sent",
         "skipped", "cancelled"]
CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]


class Sample:
    """One due request: due (seconds after the run's start), latency (ms,
    responses only), status, method, endpoint template, kind."""

    def __init__(self, due, latency_ms=None, status=200, method="GET", endpoint="/",
                 kind="response"):
        self.due = due
        self.latency_ms = latency_ms
        self.status = status
        self.method = method
        self.endpoint = endpoint
        self.kind = kind


LAG_US = 200              # send lag of every sent request
ERROR_US = 30000          # time to a transport error
BYTES = 100               # bytes of every response


def _failed(s):
    if s.kind in ("connect", "timeout", "reset", "other"):
        return True
    return s.kind == "response" and 500 <= s.status <= 599


class _Group:
    def __init__(self):
        self.requests = self.responses = self.failures = 0
        self.kinds = {k: 0 for k in KINDS}
        self.status = {}
        self.rt, self.service, self.ttfb = Hist(), Hist(), Hist()

    def add(self, s, rt_us):
        self.requests += 1
        self.kinds[s.kind] += 1
        self.failures += _failed(s)
        if s.kind == "response":
            self.responses += 1
            self.status[str(s.status)] = self.status.get(str(s.status), 0) + 1
            self.rt.record(rt_us)
            self.service.record(rt_us - LAG_US)
            self.ttfb.record((rt_us - LAG_US) // 2)

    def json(self):
        hists = {"response_time": None, "service_time": None, "ttfb": None}
        if self.responses:
            hists = {"response_time": self.rt.encode(), "service_time": self.service.encode(),
                     "ttfb": self.ttfb.encode()}
        return {"requests": self.requests, "responses": self.responses,
                "failures": self.failures,
                "error_rate": self.failures / self.requests if self.requests else 0.0,
                "mismatches": 0, "mismatch_failures": 0, "kinds": dict(self.kinds),
                "status": dict(self.status), "bytes_received": BYTES * self.responses,
                "response_time_us": self.rt.summary(),
                "service_time_us": self.service.summary(), "ttfb_us": self.ttfb.summary(),
                "histograms": hists}


def _second(table, epoch):
    if epoch not in table:
        table[epoch] = {"due": 0, "sent": 0, "completed": 0, "responses": 0, "failures": 0,
                        "started": 0, "finished": 0, "kinds": {k: 0 for k in KINDS},
                        "lag": [0, 0, 0], "rt": Hist()}
    return table[epoch]


def make_report(samples, start_epoch=1700000000.25):
    """A reprise run report (a dict) with the core keys the tools read and
    every results key, from samples. Returns (report, per-second Hists of
    response time by epoch second, whole-run response time Hist)."""
    total, endpoints, classes = _Group(), {}, {}
    seconds = {}
    lag = Hist()
    first = last = None
    for s in samples:
        due_us = int(round((start_epoch + s.due) * 1e6))
        rt_us = int(round(s.latency_ms * 1000)) if s.kind == "response" else 0
        sent = s.kind not in ("not_sent", "skipped")
        done_us = due_us
        if s.kind == "response":
            done_us += rt_us
        elif sent:
            done_us += ERROR_US
        total.add(s, rt_us)
        endpoints.setdefault((s.method, s.endpoint), _Group()).add(s, rt_us)
        if s.kind == "response":
            cls = CLASSES[s.status // 100 - 1] if 100 <= s.status <= 599 else "other"
            classes.setdefault(cls, _Group()).add(s, rt_us)
        first = due_us if first is None else min(first, due_us)
        last = done_us if last is None else max(last, done_us)

        _second(seconds, due_us // 1000000)["due"] += 1
        if sent:
            lag.record(LAG_US)
            row = _second(seconds, (due_us + LAG_US) // 1000000)
            row["sent"] += 1
            row["started"] += 1
            row["lag"][0] += 1
            row["lag"][1] += LAG_US
            row["lag"][2] = LAG_US
        row = _second(seconds, done_us // 1000000)
        row["kinds"][s.kind] += 1
        row["failures"] += _failed(s)
        row["finished"] += sent
        if s.kind in ("response", "connect", "timeout", "reset", "other", "client"):
            row["completed"] += 1
        if s.kind == "response":
            row["responses"] += 1
            row["rt"].record(rt_us)

    rows, in_flight = [], 0
    start = min(seconds)
    for epoch in range(start, max(seconds) + 1):
        row = _second(seconds, epoch)
        in_flight += row["started"] - row["finished"]
        rt = row["rt"]
        rows.append({
            "t": epoch - start, "time": epoch, "due": row["due"], "sent": row["sent"],
            "completed": row["completed"], "responses": row["responses"],
            "failures": row["failures"], "mismatches": 0, "in_flight": in_flight,
            "started": row["started"], "finished": row["finished"], "kinds": row["kinds"],
            "bytes_received": BYTES * row["responses"],
            "send_lag_us": {"count": row["lag"][0], "sum": row["lag"][1],
                            "mean": row["lag"][1] / row["lag"][0] if row["lag"][0] else 0.0,
                            "max": row["lag"][2]},
            "response_time_us": {"count": rt.total, "p50": rt.percentile(50),
                                 "p95": rt.percentile(95), "p99": rt.percentile(99),
                                 "max": rt.max or 0},
            "histogram": rt.encode() if rt.total else None,
        })

    duration = (last - first) / 1e6
    failures = {"total": total.failures, "mismatch": 0,
                "status": {k: v for k, v in total.status.items() if 500 <= int(k) <= 599},
                "rules": {"fail_status": "500-599", "mismatch": "off"}}
    for k in ("connect", "timeout", "reset", "other"):
        failures[k] = total.kinds[k]

    def bounds(h):
        return {"min": h.min, "max": h.max} if h.total else None

    report = {
        "format": "reprise-run-report", "format_version": 1,
        "requests_due": total.requests,
        "requests_sent": sum(1 for s in samples if s.kind not in ("not_sent", "skipped")),
        "responses": total.responses, "cancelled": 0, "submit_failed": 0,
        "skipped": {"connect": 0, "total": 0},
        "errors": {k: total.kinds[k] for k in ("connect", "timeout", "reset", "other")}
                  | {"total": sum(total.kinds[k] for k in ("connect", "timeout", "reset",
                                                           "other"))},
        "status": dict(total.status), "latency_us": total.rt.summary(),
        "duration_s": duration, "bytes_received": BYTES * total.responses,
        "max_in_flight": 4, "interrupted": False, "gaps_shortened": 0,
        "trace_damaged_blocks": 0,
        "start_time": "2023-11-14T22:13:20.250Z",
        "setup": {"trace": "synthetic.rpz", "target": "http://127.0.0.1:8080"},
        "transport": "synthetic",
        "error_rate": total.failures / total.requests if total.requests else 0.0,
        "failures": failures,
        "outcomes": {"requests": total.requests, "responses": total.responses,
                     "kinds": dict(total.kinds), "mismatches": 0,
                     "bytes_received": BYTES * total.responses, "status": dict(total.status)},
        "histograms": {
            "unit": "us", "lowest_discernible": 1, "highest_trackable": HIGHEST,
            "significant_digits": DIGITS, "encoding": "HdrHistogram compressed V2, base64",
            "response_time": total.rt.encode() if total.responses else None,
            "service_time": total.service.encode() if total.responses else None,
            "ttfb": total.ttfb.encode() if total.responses else None,
            "send_lag": lag.encode() if lag.total else None,
            "bounds_us": {"response_time": bounds(total.rt),
                          "service_time": bounds(total.service),
                          "ttfb": bounds(total.ttfb), "send_lag": bounds(lag)},
        },
        "endpoints": [dict(g.json(), method=m, endpoint=e) for (m, e), g in
                      sorted(endpoints.items(), key=lambda kv: -kv[1].requests)],
        "status_classes": {c: g.json() for c, g in classes.items()},
        "series": {"interval_s": 1, "start": start, "first_due_ns": first * 1000,
                   "last_done_ns": last * 1000, "duration_s": duration, "rows": rows},
    }
    per_second = {r["time"]: seconds[r["time"]]["rt"] for r in rows if r["time"] in seconds}
    return report, per_second, total.rt


ENDPOINTS = [("GET", "/api/items/{id}", 1.0), ("GET", "/api/search", 1.5),
             ("POST", "/api/orders", 1.0)]


def synthetic_samples(base_ms, seed, seconds=30, rate=40, timeout_share=0.0,
                      status_503_share=0.01):
    """Samples of a run at rate requests per second over three endpoints:
    response times lognormal around base_ms (1.5 times it for /api/search),
    a share of 503 responses and of timeouts. random.Random(seed) makes
    them reproducible."""
    import random
    rnd = random.Random(seed)
    samples = []
    for i in range(seconds * rate):
        method, endpoint, factor = ENDPOINTS[i % len(ENDPOINTS)]
        due = i / rate
        if rnd.random() < timeout_share:
            samples.append(Sample(due, method=method, endpoint=endpoint, kind="timeout"))
            continue
        latency = base_ms * factor * rnd.lognormvariate(0, 0.15)
        status = 503 if rnd.random() < status_503_share else 200
        samples.append(Sample(due, latency, status, method, endpoint))
    return samples
