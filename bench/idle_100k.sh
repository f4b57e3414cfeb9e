#!/usr/bin/env bash
# 100,000 idle connections on one machine: 7 native echo processes share one port
# (SO_REUSEPORT, `examples/echo --reuse-port`), 6 load generator processes open 16,667
# connections each, hold them 30 s, echo once on each and close. One process may hold at
# most 20,000 descriptors here, hence the processes on both sides.
#
#   bench/idle_100k.sh        # after cargo build --release -p wshd-server --example echo -p wshd-loadgen
#
# Prints the established connections, the servers' RSS growth and the kernel slab growth
# per connection, sampled while every connection is open.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
E=./target/release/examples/echo
L=./target/release/wshd-load
OUT="$(mktemp -d)"
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$OUT"' EXIT
"$E" -H 127.0.0.1 --port 0 --threads 1 --reuse-port >"$OUT/e0.out" 2>&1 &
pids=($!)
for _ in $(seq 50); do
  port=$(grep -o 'listening on [0-9.:]*' "$OUT/e0.out" | sed 's/.*://' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
for i in 1 2 3 4 5 6; do
  "$E" -H 127.0.0.1 --port "$port" --threads 1 --reuse-port >"$OUT/e$i.out" 2>&1 &
  pids+=($!)
done
sleep 1
rss() { local t=0 p; for p in "${pids[@]}"; do t=$((t + $(awk '/VmRSS/{print $2}' /proc/"$p"/status))); done; echo "$t"; }
slab() { awk '/^Slab:/{print $2}' /proc/meminfo; }
base=$(rss)
sbase=$(slab)
lp=()
for i in 1 2 3 4 5 6; do
  "$L" idle --url "ws://127.0.0.1:$port/" -c 16667 --server-pid "${pids[0]}" --hold-secs 30 >"$OUT/l$i.out" 2>&1 &
  lp+=($!)
done
sleep 28
now=$(rss)
snow=$(slab)
open=$(ss -Htn state established "( sport = :$port )" | wc -l)
echo "established server-side connections: $open (7 server processes)"
echo "server RSS: +$((now - base)) kB, $(((now - base) * 1024 / open)) B per connection"
echo "kernel slab (both ends): +$((snow - sbase)) kB, $(((snow - sbase) * 1024 / open)) B per connection"
wait "${lp[@]}"
for i in 1 2 3 4 5 6; do tail -1 "$OUT/l$i.out" | cut -d'|' -f1; done
