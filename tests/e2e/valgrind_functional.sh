#!/usr/bin/env bash
# Runs capture, inspect, replay and a short ramp (against reprise-target on
# 127.0.0.1), and renders the ramp's capacity report, under valgrind's
# memcheck and fails on any error or definite leak. It has
# no timing checks, because valgrind slows everything down. Valgrind cannot
# run sanitizer builds, so it always uses the optimised build in
# build/opt, building it when missing.
set -eu
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind not found: run 'make deps'"; exit 1; }
[ -x build/opt/reprise ] && [ -x build/opt/reprise-target ] || make -s BUILD=build/opt SAN=0 all >/dev/null
bin=build/opt/reprise
work=$(mktemp -d /tmp/reprise-vg.XXXXXX)
target_pid=
cleanup() {
  if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

vg() {
  valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --track-fds=no "$@"
}

vg "$bin" capture -q -r tests/data/corpus/zeek-workshop-browse.pcap -w "$work/t.rpz"
vg "$bin" capture -q -r tests/data/corpus/zeek-body-match-chunked-req.pcap -w "$work/c.rpz"
vg "$bin" inspect "$work/t.rpz" >/dev/null
vg "$bin" inspect --records "$work/c.rpz" >/dev/null

build/opt/reprise-target --listen 127.0.0.1:0 --lifetime 300 >"$work/target.out" &
target_pid=$!
for _ in $(seq 50); do grep -q '^listening ' "$work/target.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^listening //p' "$work/target.out")
[ -n "$addr" ] || { echo "reprise-target did not start"; exit 1; }

vg "$bin" replay "$work/t.rpz" --target "http://$addr" --speed 20 --max-gap 100ms --report "$work/run.json" >/dev/null
vg "$bin" replay "$work/c.rpz" --target "http://$addr" --speed 1000 --max-gap 10ms >/dev/null
grep -q '"requests_sent": 17' "$work/run.json" || { echo "report does not show 17 requests sent"; cat "$work/run.json"; exit 1; }

# Two short rate steps and a soak; under valgrind the figures mean nothing,
# only the memory checks count.
vg "$bin" ramp "$work/t.rpz" --target "http://$addr" --start-rate 10 --step-rate 10 \
  --max-rate 20 --hold 1s --soak 3s --report "$work/cap.json" --markdown "$work/cap.md" \
  --html "$work/cap.html" >/dev/null
vg "$bin" report "$work/cap.json" --html "$work/cap2.html" --markdown "$work/cap2.md" >/dev/null
cmp -s "$work/cap.md" "$work/cap2.md" || { echo "capacity Markdown differs after reprise report"; exit 1; }
echo "valgrind: capture, inspect, replay, ramp and report clean"
