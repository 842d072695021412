#!/usr/bin/env bash
# profile.sh BIN CASE OUT: records the server under `wrk -t1 -c64` with perf (DWARF call
# graphs, 999 Hz, 6 s after a 3 s warm-up) into OUT/perf.data, wrk's report in OUT/wrk.txt.
# CASE is a path (`/api/v1/products/5`) or a GraphQL query, which is posted as an admin.
# Read the result with, for example:
#   perf report -i OUT/perf.data --no-children -g none --sort dso,symbol --stdio | head -60
#   perf report -i OUT/perf.data --children -g none --sort symbol --stdio | grep switchboard::
set -euo pipefail
here=$(dirname "$(realpath "$0")")
# shellcheck source=serve.sh
. "$here/serve.sh"
bin=$(realpath "$1")
begin "$3"
seed "$bin" "$work/bench.db"
serve "$bin" "$work/bench.db" "$work/server.log"
args=()
path=$2
if [[ "$2" != /* ]]; then
  graphql_lua "$work/query.lua" "$2"
  args=(-s "$work/query.lua")
  path=/graphql
fi
wrk -t1 -c64 -d3s "${args[@]}" "http://127.0.0.1:$port$path" >/dev/null
perf record -F 999 --call-graph dwarf,16384 -p "$server" -o "$out/perf.data" -- sleep 6 \
  2>/dev/null &
recorder=$!
wrk -t1 -c64 -d8s "${args[@]}" "http://127.0.0.1:$port$path" | tee "$out/wrk.txt"
wait "$recorder"
