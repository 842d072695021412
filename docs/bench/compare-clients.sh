#!/usr/bin/env bash
# The bench's load clients before and after a change, against one and the same server:
#
#   docs/bench/compare-clients.sh OLD_SWITCHBOARD NEW_SWITCHBOARD OUT_DIR [ROUNDS]
#
# NEW_SWITCHBOARD also serves (one server on a seeded temporary SQLite database, with the
# bench's own settings: every middleware on, budgets out of reach). Each round runs
# `bench rest ws-echo --url ...` with the old client and then the new one (their order
# alternates between rounds), 10 s per case. Each run's JSON goes to OUT_DIR/<client>-<round>/,
# and its client CPU (user + system seconds, from /usr/bin/time) to OUT_DIR/<client>-<round>.cpu.
# The server's CPU for the same interval is in OUT_DIR/<client>-<round>.server-cpu.
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
    before=$(ticks "$server")
    SWITCHBOARD_BENCH_ADMIN_PASSWORD=$admin_password /usr/bin/time -f '%U %S' -o "$out/$client-$round.cpu" \
      "$bin" bench rest ws-echo --url "http://127.0.0.1:$port" --duration 10 \
      --http-concurrency 64 --connections 100 --out "$out/$client-$round" >"$out/$client-$round.log" 2>&1
    echo "$(( $(ticks "$server") - before ))" >"$out/$client-$round.server-cpu"
    echo "round $round $client: client cpu $(cat "$out/$client-$round.cpu") s"
  done
done
