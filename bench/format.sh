#!/usr/bin/env bash
# Trace format benchmark: size of the same requests as a reprise trace, as
# GoReplay-style text compressed with gzip -6, and as raw HTTP compressed
# with zstd -19; and the read speed of 'reprise export --format jsonl'.
#
#   bench/format.sh                 300 MB synthetic pcap and the corpus
#   SIZE_MB=50 bench/format.sh      a smaller synthetic pcap
#
# Environment: SIZE_MB (default 300), RUNS (default 3, export runs; the
# median is reported), SEED (default 1), CORPUS (the directory of pcaps;
# default ../shared/corpus/pcap when it exists, else tests/data/corpus).
# The synthetic traffic is bench/gen_http_pcap.c's, as bench/capture.sh
# uses it, and the generated pcap is shared with that script. Files go to
# build/bench/ only; nothing is sent over the network.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
    echo "usage: [SIZE_MB=N] [RUNS=N] [SEED=N] [CORPUS=DIR] bench/format.sh" >&2
    exit 2
fi
SIZE_MB=${SIZE_MB:-300}
RUNS=${RUNS:-3}
SEED=${SEED:-1}
if [ -z "${CORPUS:-}" ]; then
    CORPUS=tests/data/corpus
    [ -d ../shared/corpus/pcap ] && CORPUS=../shared/corpus/pcap
fi
DIR=build/bench
for var in SIZE_MB RUNS SEED; do
    value=${!var}
    if ! [[ $value =~ ^[0-9]{1,9}$ ]] || { [ "$var" != SEED ] && ((10#$value == 0)); }; then
        echo "bench/format.sh: invalid $var='$value': use a positive whole number" >&2
        exit 2
    fi
done
if [ -z "${EPOCHREALTIME:-}" ]; then
    echo "bench/format.sh: needs bash 5 or later (EPOCHREALTIME)" >&2
    exit 1
fi
for tool in gzip zstd cc python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench/format.sh: $tool not found: install it with 'apt-get install gzip zstd gcc python3'" >&2
        exit 1
    fi
done
mkdir -p "$DIR"

echo "== build"
make -s
gen=$DIR/gen_http_pcap
if [ ! -x "$gen" ] || [ bench/gen_http_pcap.c -nt "$gen" ]; then
    cc -O2 -o "$gen" bench/gen_http_pcap.c
fi
# Named as bench/capture.sh names it, so either script reuses the file.
gen_id=$(sha256sum bench/gen_http_pcap.c | cut -c1-12)
pcap=$DIR/http-seed$SEED-${SIZE_MB}mb-$gen_id.pcap
if [ ! -s "$pcap" ] || [ ! -s "${pcap%.pcap}.totals" ]; then
    echo "generating $pcap"
    "$gen" --seed "$SEED" --size-mb "$SIZE_MB" --out "$pcap.tmp" >"${pcap%.pcap}.totals.tmp"
    mv "$pcap.tmp" "$pcap"
    mv "${pcap%.pcap}.totals.tmp" "${pcap%.pcap}.totals"
fi

# Prints "bytes bytes_per_request" for a file and a request count.
per_request() {
    local bytes
    bytes=$(stat -c %s "$1")
    awk -v b="$bytes" -v n="$2" 'BEGIN { printf "%d %.1f", b, n ? b / n : 0 }'
}

# Measures one set of traces: their sizes, and the same requests as gzip -6
# GoReplay text and zstd -19 raw HTTP, each compressed per trace. Prints a
# table row per form and the ratio against the targets.
measure() {
    local label=$1
    shift
    local requests=0 trace_bytes=0 gor_bytes=0 raw_bytes=0 t n
    for t in "$@"; do
        n=$(./reprise inspect --json "$t" | awk -F'[:,]' '/"records"/ { gsub(/ /, "", $2); print $2; exit }')
        requests=$((requests + n))
        trace_bytes=$((trace_bytes + $(stat -c %s "$t")))
        ./reprise export "$t" --format gor | gzip -6 >"$DIR/format.gor.gz"
        gor_bytes=$((gor_bytes + $(stat -c %s "$DIR/format.gor.gz")))
        ./reprise export "$t" --format raw | zstd -q -19 -c >"$DIR/format.raw.zst"
        raw_bytes=$((raw_bytes + $(stat -c %s "$DIR/format.raw.zst")))
    done
    echo "== size: $label ($# trace$( [ $# -gt 1 ] && echo s), $requests requests)"
    awk -v n="$requests" -v t="$trace_bytes" -v g="$gor_bytes" -v r="$raw_bytes" 'BEGIN {
        printf "  %-34s %12s %10s\n", "form", "bytes", "B/request"
        printf "  %-34s %12d %10.1f\n", "reprise trace", t, t / n
        printf "  %-34s %12d %10.1f\n", "GoReplay text, gzip -6", g, g / n
        printf "  %-34s %12d %10.1f\n", "raw requests, zstd -19", r, r / n
        printf "  gzip text / reprise: %.2f (target: at least 2, %s)\n", g / t, (g / t >= 2) ? "pass" : "miss"
    }'
}

# Runs export --format jsonl RUNS times; prints the median requests/s.
read_speed() {
    local trace=$1 requests=$2 walls=() t0 t1 i
    cat "$trace" >/dev/null
    for ((i = 0; i < RUNS; i++)); do
        t0=$EPOCHREALTIME
        ./reprise export "$trace" --format jsonl >/dev/null
        t1=$EPOCHREALTIME
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -g |
             awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    awk -v n="$requests" -v w="$median" -v runs="${walls[*]}" 'BEGIN {
        printf "  export --format jsonl > /dev/null: %d requests in %.3f s (median of: %s): %.0f requests/s (target: over 1000000, %s)\n",
               n, w, runs, n / w, (n / w > 1000000) ? "pass" : "miss"
    }'
}

echo "== synthetic traffic: $pcap"
trace=$DIR/format-synthetic.rpz
./reprise capture -q -r "$pcap" -w "$trace"
measure "synthetic traffic" "$trace"
trace19=$DIR/format-synthetic-level19.rpz
./reprise capture -q --level 19 -r "$pcap" -w "$trace19"
echo "  reprise trace at --level 19: $(per_request "$trace19" "$(awk '$1 == "requests" { print $2 }' "${pcap%.pcap}.totals")" | awk '{ print $1 " bytes, " $2 " B/request" }')"
requests=$(./reprise inspect --json "$trace" | awk -F'[:,]' '/"records"/ { gsub(/ /, "", $2); print $2; exit }')
echo "== read speed: synthetic traffic"
read_speed "$trace" "$requests"

echo "== corpus: $CORPUS"
traces=()
rm -rf "$DIR/format-corpus"
mkdir -p "$DIR/format-corpus"
for p in "$CORPUS"/*.pcap "$CORPUS"/*.pcapng; do
    [ -e "$p" ] || continue
    t=$DIR/format-corpus/$(basename "$p").rpz
    if ./reprise capture -q -r "$p" -w "$t" 2>/dev/null &&
       ./reprise inspect --json "$t" | grep -q '"records": [1-9]'; then
        traces+=("$t")
    fi
done
measure "corpus, one trace per capture" "${traces[@]}"
merged=$DIR/format-corpus-merged.rpz
./reprise merge -o "$merged" "${traces[@]}" 2>/dev/null
measure "corpus, merged into one trace" "$merged"
# The corpus has too few requests for a stable read speed, so its
# requests are repeated 300 times, 1 us apart, with connection ids kept
# apart per copy. The repeats compress far better than real traffic, so
# this figure is for corpus-shaped records, not corpus-sized files.
./reprise export "$merged" >"$DIR/format-corpus.jsonl"
python3 - "$DIR/format-corpus.jsonl" "$DIR/format-corpus-x300.jsonl" <<'PY'
import json, sys
recs = [json.loads(line) for line in open(sys.argv[1])]
with open(sys.argv[2], "w") as out:
    i = 0
    for k in range(300):
        for r in recs:
            r = dict(r, ts_ns=1700000000000000000 + i * 1000,
                     conn_id=(int(r["conn_id"]) & ((1 << 48) - 1)) + (k << 48))
            r.pop("time", None)
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
            i += 1
PY
repeated=$DIR/format-corpus-x300.rpz
./reprise import "$DIR/format-corpus-x300.jsonl" -o "$repeated" 2>/dev/null
requests=$(./reprise inspect --json "$repeated" | awk -F'[:,]' '/"records"/ { gsub(/ /, "", $2); print $2; exit }')
echo "== read speed: corpus requests repeated 300 times"
read_speed "$repeated" "$requests"
