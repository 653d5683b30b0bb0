#!/usr/bin/env bash
# Capture benchmark: runs tcpdump, tshark and reprise capture one after
# another on the same synthetic HTTP pcap and prints MB/s, requests/s and
# peak RSS for each, with reprise's ratios against its targets.
#
#   bench/capture.sh                 300 MB file, 3 runs per tool
#   SIZE_MB=50 bench/capture.sh      quick mode (same as --quick)
#
# Environment: SIZE_MB (default 300), RUNS (default 3), SEED (default 1),
# TSHARK_MB (default SIZE_MB: tshark reads a separate file of that size,
# generated with the same seed) and TSHARK_RUNS (default RUNS).
# Files go to build/bench/ only; nothing is sent over the network.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "${1:-}" = "--quick" ]; then
    SIZE_MB=${SIZE_MB:-50}
    shift
fi
if [ $# -gt 0 ]; then
    echo "usage: [SIZE_MB=N] [RUNS=N] [SEED=N] [TSHARK_MB=N] [TSHARK_RUNS=N] bench/capture.sh [--quick]" >&2
    exit 2
fi

SIZE_MB=${SIZE_MB:-300}
RUNS=${RUNS:-3}
SEED=${SEED:-1}
TSHARK_MB=${TSHARK_MB:-$SIZE_MB}
TSHARK_RUNS=${TSHARK_RUNS:-$RUNS}
DIR=build/bench

# Whole numbers, read as decimal even with leading zeros; only SEED may be 0.
for var in SIZE_MB RUNS SEED TSHARK_MB TSHARK_RUNS; do
    value=${!var}
    if ! [[ $value =~ ^[0-9]{1,9}$ ]] || { [ "$var" != SEED ] && ((10#$value == 0)); }; then
        echo "bench/capture.sh: invalid $var='$value': use a positive whole number" >&2
        exit 2
    fi
    printf -v "$var" '%d' "$((10#$value))"
done
if [ "$TSHARK_MB" -gt "$SIZE_MB" ]; then
    echo "bench/capture.sh: TSHARK_MB=$TSHARK_MB is larger than SIZE_MB=$SIZE_MB: use at most $SIZE_MB" >&2
    exit 2
fi

# Wall times come from bash's EPOCHREALTIME (microseconds): /usr/bin/time's
# %e has 10 ms steps, which is 10% of tcpdump's time on a 300 MB file.
if [ -z "${EPOCHREALTIME:-}" ]; then
    echo "bench/capture.sh: needs bash 5 or later (EPOCHREALTIME)" >&2
    exit 1
fi
missing=
for tool in tcpdump tshark /usr/bin/time cc; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "bench/capture.sh: not found:$missing. Install them with 'apt-get install tcpdump tshark time gcc'" >&2
    exit 1
fi

mkdir -p "$DIR"

echo "== build"
make -s
gen=$DIR/gen_http_pcap
if [ ! -x "$gen" ] || [ bench/gen_http_pcap.c -nt "$gen" ]; then
    cc -O2 -o "$gen" bench/gen_http_pcap.c
fi

# Generated files are named by seed, size and a hash of the generator's
# source, so a changed generator never reuses a stale file. Files of
# older generator versions are removed.
gen_id=$(sha256sum bench/gen_http_pcap.c | cut -c1-12)
for old in "$DIR"/http-seed*-*mb-*.pcap; do
    [ -e "$old" ] || continue
    case $old in
        *-"$gen_id".pcap) ;;
        *) rm -f "$old" "${old%.pcap}.totals" ;;
    esac
done

# Prints the path of the pcap for a size, generating it (and its .totals,
# the generator's output) when missing.
pcap_for() {
    local size=$1
    local base=$DIR/http-seed$SEED-${size}mb-$gen_id
    if [ ! -s "$base.pcap" ] || [ ! -s "$base.totals" ]; then
        echo "generating $base.pcap ($size MB, seed $SEED)" >&2
        "$gen" --seed "$SEED" --size-mb "$size" --out "$base.pcap.tmp" >"$base.totals.tmp"
        mv "$base.pcap.tmp" "$base.pcap"
        mv "$base.totals.tmp" "$base.totals"
    fi
    echo "$base.pcap"
}

# Prints one value of a .totals file.
total() {
    awk -v k="$2" '$1 == k { print $2 }' "${1%.pcap}.totals"
}

file=$(pcap_for "$SIZE_MB")
tfile=$file
if [ "$TSHARK_MB" -lt "$SIZE_MB" ]; then
    tfile=$(pcap_for "$TSHARK_MB")
fi
file_bytes=$(stat -c %s "$file")
tfile_bytes=$(stat -c %s "$tfile")
generated=$(total "$file" requests)

echo "== input"
echo "file:        $file ($file_bytes bytes)"
printf 'generated:   %s connections (%s open at most), %s requests (%s GET, %s POST), %s packets\n' \
    "$(total "$file" connections)" "$(total "$file" max_open_connections)" "$generated" \
    "$(total "$file" get)" "$(total "$file" post)" "$(total "$file" packets)"
printf '             %s of %s data segments swapped, %s retransmitted, %s connections with a sequence wrap\n' \
    "$(total "$file" swapped_segments)" "$(total "$file" data_segments)" \
    "$(total "$file" retransmissions)" "$(total "$file" seq_wrap_connections)"
printf '             %s s of traffic, %s requests/s\n' "$(total "$file" span_s)" "$(total "$file" requests_per_s)"

# Reads the input files once so that every tool finds them in the page cache.
cat "$file" "$tfile" >/dev/null

# Runs a command once under /usr/bin/time; sets run_wall (seconds) and
# run_rss (KB). Stdout goes to $DIR/stdout.txt.
run_once() {
    local t0 t1
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$@" >"$DIR/stdout.txt" 2>"$DIR/stderr.txt"; then
        echo "bench/capture.sh: '$*' failed:" >&2
        cat "$DIR/stderr.txt" >&2
        exit 1
    fi
    t1=$EPOCHREALTIME
    run_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    run_rss=$(awk 'END { print $2 }' "$DIR/time.txt")
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Runs a tool `runs` times; sets med_wall and med_rss (medians). The
# trace is removed before each run, untimed, so reprise always creates it.
measure() {
    local name=$1 runs=$2
    shift 2
    local walls=() rsss=()
    for ((i = 1; i <= runs; i++)); do
        rm -f "$trace"
        run_once "$@"
        walls+=("$run_wall")
        rsss+=("$run_rss")
        printf '  %-8s run %d: %8.3f s %8d KB\n' "$name" "$i" "$run_wall" "$run_rss"
    done
    med_wall=$(median "${walls[@]}")
    med_rss=$(median "${rsss[@]}")
}

trace=$DIR/capture.rpz

echo "== runs (median of each tool's runs is reported)"
measure tcpdump "$RUNS" tcpdump -r "$file" -w /dev/null
tcpdump_wall=$med_wall tcpdump_rss=$med_rss

# tshark's field output goes to a file instead of /dev/null, so that its
# request count can be shown.
measure tshark "$TSHARK_RUNS" tshark -r "$tfile" -Y http.request -T fields -e http.request.method
tshark_wall=$med_wall tshark_rss=$med_rss
tshark_found=$(wc -l <"$DIR/stdout.txt")
tshark_generated=$(total "$tfile" requests)

measure reprise "$RUNS" ./reprise capture -q -r "$file" -w "$trace"
reprise_wall=$med_wall reprise_rss=$med_rss
inspect_json=$DIR/capture-inspect.json
./reprise inspect "$trace" --json >"$inspect_json"
read -r reprise_found reprise_get reprise_post < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
m = s.get("methods", {})
print(s["records"], m.get("GET", 0), m.get("POST", 0))' "$inspect_json")
trace_bytes=$(stat -c %s "$trace")

echo
echo "== results"
awk -v fb="$file_bytes" -v tfb="$tfile_bytes" -v gen="$generated" \
    -v dw="$tcpdump_wall" -v dr="$tcpdump_rss" \
    -v sw="$tshark_wall" -v sr="$tshark_rss" -v sf="$tshark_found" \
    -v rw="$reprise_wall" -v rr="$reprise_rss" -v rf="$reprise_found" \
    -v runs="$RUNS" -v truns="$TSHARK_RUNS" '
function row(name, n, bytes, wall, found, rss, mark) {
    printf "%-8s %4d %9.1f %9.3f %9.1f %9d%s %10.0f%s %9.1f\n", name, n, bytes / 1e6, wall,
           bytes / 1e6 / wall, found, mark, found / wall, mark, rss / 1024
}
BEGIN {
    printf "%-8s %4s %9s %9s %9s %10s %11s %9s\n", "tool", "runs", "file MB", "wall s", "MB/s",
           "requests", "req/s", "RSS MB"
    row("tcpdump", runs, fb, dw, gen, dr, "*")
    row("tshark", truns, tfb, sw, sf, sr, " ")
    row("reprise", runs, fb, rw, rf, rr, " ")
    print "* tcpdump does not parse HTTP: its requests are the generated count, for reference."
}'
if [ "$tfile" != "$file" ]; then
    echo "tshark read $tfile, a ${TSHARK_MB} MB file generated with the same seed and traffic mix."
fi

echo
echo "requests:    generated $generated, reprise $reprise_found (GET $reprise_get of $(total "$file" get), POST $reprise_post of $(total "$file" post))"
echo "             tshark $tshark_found of $tshark_generated generated in its file (default preferences, which do not reassemble out-of-order segments)"
awk -v b="$trace_bytes" -v n="$reprise_found" \
    'BEGIN { printf "trace:       %.1f MB, %.0f bytes per request\n", b / 1e6, n ? b / n : 0 }'

echo
awk -v fb="$file_bytes" -v tfb="$tfile_bytes" \
    -v dw="$tcpdump_wall" -v sw="$tshark_wall" -v sf="$tshark_found" \
    -v rw="$reprise_wall" -v rr="$reprise_rss" -v rf="$reprise_found" '
function verdict(ok) { return ok ? "pass" : "miss" }
BEGIN {
    mb = (fb / rw) / (fb / dw)
    req = (rf / rw) / (sf / sw)
    rss = rr / 1024
    printf "%-40s %9s %8s  %s\n", "ratio", "value", "target", "result"
    printf "%-40s %9.2f %8s  %s\n", "reprise MB/s / tcpdump MB/s", mb, ">= 0.25", verdict(mb >= 0.25)
    printf "%-40s %9.1f %8s  %s\n", "reprise req/s / tshark req/s", req, ">= 50", verdict(req >= 50)
    printf "%-40s %9.1f %8s  %s\n", "reprise peak RSS MB", rss, "< 100", verdict(rss < 100)
}'

if [ "$reprise_found" != "$generated" ]; then
    echo
    echo "MISMATCH: reprise found $reprise_found requests, the generator wrote $generated." \
         "Run './reprise capture -r $file -w $trace' for its summary counters."
    exit 1
fi
