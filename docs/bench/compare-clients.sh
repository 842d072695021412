#!/usr/bin/env bash
# The bench's load clients before and after a change, against one and the same server:
#
#   docs/bench/compare-clients.sh OLD_SWITCHBOARD NEW_SWITCHBOARD OUT_DIR [ROUNDS]
#
# NEW_SWITCHBOARD also serves (one server on a seeded temporary SQLite database, with the
# bench's own settings: every middleware on, budgets out of reach). Each round runs
# `bench rest --url ...` and `bench ws-echo --url ...` with the old client and then the new
# one (their order alternates between rounds), DURATION seconds per case (default 10). Each
# run's JSON goes to OUT_DIR/<client>-<scenario>-<round>/, its client CPU (user and system
# seconds, from /usr/bin/time) to <run>.cpu, and the server's CPU over the same run (clock
# ticks, from /proc) to <run>.server-ticks. docs/bench/compare-clients.py sums them up.
set -euo pipefail

old=$(realpath "$1") new=$(realpath "$2") out=$3 rounds=${4:-3}
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

admin_password="compare-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$new" seed --bench --database-url "$work/bench.db" --admin-email admin@example.com \
  --admin-password "$admin_password" --user-password switchboard --log-level warn >/dev/null
port=18${RANDOM: -3}
"$new" serve --port "$port" --database-url "$work/bench.db" \
  --rate-limit 1000000 --rate-limit-burst 1000000 \
  --auth-rate-limit 1000000 --auth-rate-limit-burst 1000000 \
  --ws-rate 1000000 --ws-burst 1000000 --ws-queue 1024 \
  --jwt-secret "compare-$(od -An -N16 -tx8 /dev/urandom | tr -d ' ')" \
  --log-level warn >"$work/server.log" 2>&1 &
server=$!
until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  kill -0 "$server" || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done

# utime + stime of a process, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for round in $(seq 1 "$rounds"); do
  order="old new"
  [ $((round % 2)) -eq 0 ] && order="new old"
  for client in $order; do
    bin=$old
    [ "$client" = new ] && bin=$new
    # One process per scenario, so that its CPU is the CPU of that protocol's client.
    for scenario in rest ws-echo; do
      run=$client-$scenario-$round
      before=$(ticks "$server")
      SWITCHBOARD_BENCH_ADMIN_PASSWORD=$admin_password /usr/bin/time -f '%U %S' -o "$out/$run.cpu" \
        "$bin" bench "$scenario" --url "http://127.0.0.1:$port" --duration "${DURATION:-10}" \
        --http-concurrency 64 --connections 100 --out "$out/$run" >"$out/$run.log" 2>&1
      echo "$(( $(ticks "$server") - before ))" >"$out/$run.server-ticks"
      echo "round $round $client $scenario: client cpu $(cat "$out/$run.cpu") s"
    done
  done
done
