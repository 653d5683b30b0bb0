#!/usr/bin/env bash
# Replay benchmark: starts nginx on 127.0.0.1 (one worker, keep-alive, a
# 5-byte static file), measures wrk, h2load, locust (FastHttpUser) and
# `reprise replay --speed max` against it, then reprise at fixed uniform
# rates. Prints medians of RUNS runs with reprise's ratios and targets.
#
#   bench/replay.sh                  3 runs of each, about 4 minutes
#   RUNS=1 DURATION=2 RATE_DURATION=3 bench/replay.sh     a quick look
#
# Environment: RUNS (default 3), DURATION (seconds per throughput run,
# default 5), CONNECTIONS (default 64), RATES (requests/s, default
# "1000 10000 20000 50000"), RATE_DURATION (seconds per rate run, default 10).
# Traffic goes to 127.0.0.1 only; files go to build/bench/replay/.
set -euo pipefail

cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
RATES=${RATES:-"1000 10000 20000 50000"}
RATE_DURATION=${RATE_DURATION:-10}
DIR=build/bench/replay

for var in RUNS DURATION CONNECTIONS RATE_DURATION; do
    value=${!var}
    if ! [[ $value =~ ^[0-9]{1,6}$ ]] || ((10#$value == 0)); then
        echo "bench/replay.sh: invalid $var='$value': use a positive whole number" >&2
        exit 2
    fi
done
for rate in $RATES; do
    if ! [[ $rate =~ ^[0-9]{1,7}$ ]] || ((10#$rate == 0)); then
        echo "bench/replay.sh: invalid rate '$rate' in RATES: use positive whole numbers" >&2
        exit 2
    fi
done

missing=
for tool in nginx wrk h2load locust /usr/bin/time python3; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "bench/replay.sh: not found:$missing. Install them with 'apt-get install nginx-light" \
         "wrk nghttp2-client python3-locust time'" >&2
    exit 1
fi

make -s
rm -rf "$DIR"
mkdir -p "$DIR/www" "$DIR/runs"
echo -n hello > "$DIR/www/index.html"
ABS=$(cd "$DIR" && pwd)

# ---- nginx ----

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/index.html
cat > "$DIR/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $ABS/nginx.pid;
error_log $ABS/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path $ABS/body;
    proxy_temp_path $ABS/proxy;
    fastcgi_temp_path $ABS/fastcgi;
    uwsgi_temp_path $ABS/uwsgi;
    scgi_temp_path $ABS/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $ABS/www;
    }
}
EOF
nginx -c "$ABS/nginx.conf" -p "$ABS" &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null || true; wait $NGINX_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

# ---- the trace: the same request, on CONNECTIONS captured connections ----

python3 - "$DIR/request.jsonl" "$PORT" "$CONNECTIONS" <<'EOF'
import json, sys
path, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for i in range(100000):
        f.write(json.dumps({
            "ts_ns": 1700000000000000000 + i * 1000000, "conn_id": i % conns + 1,
            "method": "GET", "target": "/index.html", "version": "1.1",
            "headers": [["Host", "127.0.0.1:%d" % port], ["User-Agent", "bench"],
                        ["Accept", "*/*"]], "body": "", "flags": []}) + "\n")
EOF
if ! ./reprise import "$DIR/request.jsonl" -o "$DIR/request.rpz" >"$DIR/import.out" 2>&1; then
    echo "bench/replay.sh: reprise import failed; its output is in $DIR/import.out" >&2
    exit 1
fi
TRACE=$DIR/request.rpz

cat > "$DIR/locustfile.py" <<'EOF'
from locust import FastHttpUser, task


class Bench(FastHttpUser):
    @task
    def index(self):
        self.client.get("/index.html")
EOF

# ---- throughput: each generator RUNS times ----

# Runs a command under /usr/bin/time; the CPU seconds (user + system) go
# to $1.cpu, its output to $1.out. Ends the script when it fails.
timed() {
    local base=$1; shift
    if ! /usr/bin/time -f '%U %S' -o "$base.cpu" timeout $((DURATION + 60)) "$@" \
            >"$base.out" 2>&1; then
        echo "bench/replay.sh: $1 failed; its output is in $base.out" >&2
        exit 1
    fi
}

echo "== throughput: $DURATION s per run, $CONNECTIONS connections, $RUNS runs, nginx on 127.0.0.1:$PORT"
for run in $(seq "$RUNS"); do
    timed "$DIR/runs/wrk.$run" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL"
    timed "$DIR/runs/h2load.$run" h2load --h1 -D "$DURATION" -c "$CONNECTIONS" -t 1 "$URL"
    timed "$DIR/runs/locust.$run" locust -f "$DIR/locustfile.py" --headless \
        -u "$CONNECTIONS" -r "$CONNECTIONS" -t "${DURATION}s" --host "http://127.0.0.1:$PORT" \
        --only-summary --csv "$DIR/runs/locust.$run"
    timed "$DIR/runs/reprise.$run" ./reprise replay "$TRACE" --target "http://127.0.0.1:$PORT" \
        --speed max --connections "pool:$CONNECTIONS" --loop forever --duration "${DURATION}s" \
        --report "$DIR/runs/reprise.$run.json"
    echo "  run $run done"
done

# ---- fixed rates ----

echo "== fixed rates: $RATE_DURATION s per run, --uniform, $RUNS runs"
for rate in $RATES; do
    pool=$((rate / 200 > CONNECTIONS ? rate / 200 : CONNECTIONS))
    for run in $(seq "$RUNS"); do
        out=$DIR/runs/rate.$rate.$run.out
        if ! timeout $((RATE_DURATION + 60)) ./reprise replay "$TRACE" \
                --target "http://127.0.0.1:$PORT" --rate "$rate" --uniform --loop forever \
                --duration "${RATE_DURATION}s" --connections "pool:$pool" \
                --report "$DIR/runs/rate.$rate.$run.json" >"$out" 2>&1; then
            echo "bench/replay.sh: reprise at $rate/s failed; its output is in $out" >&2
            exit 1
        fi
    done
    echo "  $rate/s done"
done

python3 - "$DIR/runs" "$RUNS" "$DURATION" "$RATES" <<'EOF'
import csv, json, os, re, statistics, sys

runs_dir, runs, duration, rates = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split()


def cpu(base):
    user, system = open(base + ".cpu").read().split()[-2:]
    return float(user) + float(system)


def parse(tool, run):
    """Returns (completed requests, their seconds) of one run."""
    base = os.path.join(runs_dir, "%s.%d" % (tool, run))
    out = open(base + ".out").read()
    if tool == "wrk":
        m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
        secs = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
        return int(m.group(1)), secs
    if tool == "h2load":
        done = int(re.search(r"requests: .*?(\d+) succeeded", out).group(1))
        secs = float(re.search(r"finished in ([\d.]+)s", out).group(1))
        return done, secs
    if tool == "locust":
        with open(base + "_stats.csv") as f:
            row = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"][0]
        count = int(row["Request Count"])
        rps = float(row["Requests/s"])
        return count, count / rps if rps else duration
    data = json.load(open(base + ".json"))
    return data["responses"], data["duration_s"]


def med(values):
    return statistics.median(values)


print("\n== results (median of %d runs)" % runs)
print("%-8s %14s %22s %14s" % ("tool", "requests/s", "requests/CPU-second", "CPU s/run"))
per_cpu = {}
for tool in ["wrk", "h2load", "locust", "reprise"]:
    rps, rpc, cpus = [], [], []
    for run in range(1, runs + 1):
        done, secs = parse(tool, run)
        c = cpu(os.path.join(runs_dir, "%s.%d" % (tool, run)))
        rps.append(done / secs)
        rpc.append(done / c)
        cpus.append(c)
    per_cpu[tool] = med(rpc)
    print("%-8s %14.0f %22.0f %14.2f" % (tool, med(rps), med(rpc), med(cpus)))


def verdict(ok):
    return "pass" if ok else "miss"


r_wrk = per_cpu["reprise"] / per_cpu["wrk"]
r_locust = per_cpu["reprise"] / per_cpu["locust"]
print("reprise/wrk    requests per CPU-second: %.2f (target >= 0.8: %s)" % (r_wrk, verdict(r_wrk >= 0.8)))
print("reprise/h2load requests per CPU-second: %.2f" % (per_cpu["reprise"] / per_cpu["h2load"]))
print("reprise/locust requests per CPU-second: %.1f (target >= 10: %s)" % (r_locust, verdict(r_locust >= 10)))

print("\n== fixed rates, --uniform (median of %d runs)" % runs)
print("%8s %10s %8s %9s %9s %9s %11s %12s %10s %9s" % (
    "asked/s", "achieved/s", "error", "lag p50", "lag p99", "lag max", "max/10ms",
    "1.5 x mean", "saturated", "CPU s"))
for rate in rates:
    rows = []
    for run in range(1, runs + 1):
        d = json.load(open(os.path.join(runs_dir, "rate.%s.%d.json" % (rate, run))))
        lag = d["send_lag_us"]
        rows.append((d["send_rate_per_s"], lag["p50"], lag["p99"], lag["max"],
                     d["send_window"]["max"], 1.5 * d["send_window"]["mean"],
                     d["saturation"]["saturated"], d["generator"]["cpu_s"]))
    achieved = med([r[0] for r in rows])
    error = (achieved - float(rate)) / float(rate) * 100
    print("%8s %10.1f %7.2f%% %7dus %7dus %7dus %11.0f %12.0f %10s %9.2f" % (
        rate, achieved, error, med([r[1] for r in rows]), med([r[2] for r in rows]),
        med([r[3] for r in rows]), med([r[4] for r in rows]), med([r[5] for r in rows]),
        "%d of %d" % (sum(1 for r in rows if r[6]), runs), med([r[7] for r in rows])))
    if rate == "10000":
        ok_rate = abs(error) <= 1
        ok_lag = med([r[2] for r in rows]) < 1000
        ok_window = med([r[4] for r in rows]) <= med([r[5] for r in rows])
        print("10000/s targets: rate within 1%%: %s, send lag p99 under 1 ms: %s, "
              "no 10 ms window over 1.5 x mean: %s" % (verdict(ok_rate), verdict(ok_lag),
                                                        verdict(ok_window)))
EOF
