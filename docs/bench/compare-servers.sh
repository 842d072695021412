#!/usr/bin/env bash
# Two server builds under the same load, taking turns:
#
#   docs/bench/compare-servers.sh OLD_SWITCHBOARD NEW_SWITCHBOARD OUT_DIR [ROUNDS] [SCENARIO]
#
# Each round starts OLD and then NEW (their order alternates between rounds), each on a fresh
# copy of one seeded SQLite database with the bench's settings (every middleware on, budgets out
# of reach), and runs NEW's `bench SCENARIO --url ...` (default `rest`) against it, DURATION
# seconds per case (default 10). Each run's JSON goes to OUT_DIR/<server>-<scenario>-<round>/,
# the load client's CPU to <run>.cpu and the server's CPU over the run (clock ticks, from
# /proc) to <run>.server-ticks, so docs/bench/compare-clients.py sums these up as well.
set -euo pipefail

old=$(realpath "$1") new=$(realpath "$2") out=$3 rounds=${4:-3} scenario=${5:-rest}
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d)
server=
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

admin_password="compare-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$new" seed --bench --database-url "$work/seeded.db" --admin-email admin@example.com \
  --admin-password "$admin_password" --user-password switchboard --log-level warn >/dev/null

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for round in $(seq 1 "$rounds"); do
  order="old new"
  [ $((round % 2)) -eq 0 ] && order="new old"
  for which in $order; do
    bin=$old
    [ "$which" = new ] && bin=$new
    run=$which-$scenario-$round
    cp "$work/seeded.db" "$work/run.db"
    port=18${RANDOM: -3}
    "$bin" serve --port "$port" --database-url "$work/run.db" \
      --rate-limit 1000000 --rate-limit-burst 1000000 \
      --auth-rate-limit 1000000 --auth-rate-limit-burst 1000000 \
      --ws-rate 1000000 --ws-burst 1000000 --ws-queue 1024 \
      --jwt-secret "compare-$(od -An -N16 -tx8 /dev/urandom | tr -d ' ')" \
      --log-level warn >"$out/$run.server.log" 2>&1 &
    server=$!
    until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
      kill -0 "$server" || { cat "$out/$run.server.log"; exit 1; }
      sleep 0.2
    done
    before=$(ticks "$server")
    SWITCHBOARD_BENCH_ADMIN_PASSWORD=$admin_password /usr/bin/time -f '%U %S' -o "$out/$run.cpu" \
      "$new" bench "$scenario" --url "http://127.0.0.1:$port" --duration "${DURATION:-10}" \
      --http-concurrency 64 --connections 100 --out "$out/$run" >"$out/$run.log" 2>&1
    echo "$(( $(ticks "$server") - before ))" >"$out/$run.server-ticks"
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
    echo "round $round $which: $(grep -E '^rest|^graphql|^ws' "$out/$run.log" | awk '{printf "%s %s/s  ", $2, $4}')"
  done
done
