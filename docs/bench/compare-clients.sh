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

old=$(realpath "$1") new=$(realpath "$2") rounds=${4:-3}
# shellcheck source=serve.sh
. "$(dirname "$0")/serve.sh"
begin "$3"

seed "$new" "$work/bench.db"
serve "$new" "$work/bench.db" "$work/server.log"

for round in $(seq 1 "$rounds"); do
  order="old new"
  [ $((round % 2)) -eq 0 ] && order="new old"
  for client in $order; do
    bin=$old
    [ "$client" = new ] && bin=$new
    # One process per scenario, so that its CPU is the CPU of that protocol's client.
    for scenario in rest ws-echo; do
      load "$bin" "$scenario" "$client-$scenario-$round"
      echo "round $round $client $scenario: client cpu $(cat "$out/$client-$scenario-$round.cpu") s"
    done
  done
done
