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

old=$(realpath "$1") new=$(realpath "$2") rounds=${4:-3} scenario=${5:-rest}
# shellcheck source=serve.sh
. "$(dirname "$0")/serve.sh"
begin "$3"

seed "$new" "$work/seeded.db"

for round in $(seq 1 "$rounds"); do
  order="old new"
  [ $((round % 2)) -eq 0 ] && order="new old"
  for which in $order; do
    bin=$old
    [ "$which" = new ] && bin=$new
    run=$which-$scenario-$round
    cp "$work/seeded.db" "$work/run.db"
    serve "$bin" "$work/run.db" "$out/$run.server.log"
    load "$new" "$scenario" "$run"
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=
    echo "round $round $which: $(grep -E '^(rest|graphql|ws)' "$out/$run.log" | awk '{printf "%s %s/s  ", $2, $4}')"
  done
done
