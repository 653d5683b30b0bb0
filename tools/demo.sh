#!/usr/bin/env bash
# The main job on a bundled sample: capture a real pcap into a trace, show
# what is in it, replay it at twice the captured pace against a local
# reprise-target on 127.0.0.1, and print the run summary.
set -eu
cd "$(dirname "$0")/.."

sample=tests/data/corpus/zeek-workshop-browse.pcap
work=$(mktemp -d /tmp/reprise-demo.XXXXXX)
target_pid=
cleanup() {
  if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== reprise capture -r $sample -w sample.rpz"
./reprise capture -r "$sample" -w "$work/sample.rpz"

echo
echo "== reprise inspect sample.rpz"
./reprise inspect "$work/sample.rpz"

# The target picks a free port and prints it; it adds 20 ms of service
# time so the latency figures have something to show.
./reprise-target --listen 127.0.0.1:0 --delay 20 --lifetime 120 >"$work/target.out" 2>"$work/target.err" &
target_pid=$!
for _ in $(seq 50); do
  grep -q '^listening ' "$work/target.out" 2>/dev/null && break
  sleep 0.1
done
addr=$(sed -n 's/^listening //p' "$work/target.out")
if [ -z "$addr" ]; then
  echo "demo: reprise-target did not start: $(cat "$work/target.err")" >&2
  exit 1
fi

echo
echo "== reprise replay sample.rpz --target http://$addr --speed 2 --max-gap 5s --report run.json"
./reprise replay "$work/sample.rpz" --target "http://$addr" --speed 2 --max-gap 5s --report "$work/run.json"

echo
echo "== run.json (first lines)"
head -c 600 "$work/run.json"
echo
