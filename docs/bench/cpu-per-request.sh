#!/usr/bin/env bash
# cpu-per-request.sh BIN OUT [ROUNDS]: server CPU per request the way issue 15 defines it:
# `wrk -t1 -c64 -d10s` against one case at a time, the server process's CPU ticks (utime +
# stime) over the run divided by the requests wrk completed. Cases: /healthz, a product by
# id, the GraphQL seed query and the 50-users query (as an admin), on a fresh SQLite
# `seed --bench` database. Needs wrk and jq (Debian packages). CASES and DURATION (seconds)
# narrow a run. Writes OUT/<round>-<case>.wrk and prints one JSON line per case and round.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
# shellcheck source=serve.sh
. "$here/serve.sh"
bin=$(realpath "$1")
begin "$2"
rounds=${3:-1}
db=$work/bench.db
seed "$bin" "$db"
serve "$bin" "$db" "$work/server.log"
graphql_lua "$work/seed.lua" 'query { user(id: "1") { name posts { title } } }'
graphql_lua "$work/users50.lua" '{ users(first: 50) { edges { node { name posts { title } } } } }'

case_args() {
  case $1 in
    healthz) echo "/healthz" ;;
    product) echo "/api/v1/products/5" ;;
    graphql-seed) echo "-s $work/seed.lua /graphql" ;;
    graphql-users50) echo "-s $work/users50.lua /graphql" ;;
  esac
}

for round in $(seq 1 "$rounds"); do
  for c in ${CASES:-healthz product graphql-seed graphql-users50}; do
    read -r -a args <<<"$(case_args "$c")"
    path=${args[-1]}
    unset 'args[-1]'
    before=$(ticks "$server")
    wrk -t1 -c64 -d"${DURATION:-10}"s --latency "${args[@]}" "http://127.0.0.1:$port$path" \
      >"$out/$round-$c.wrk"
    after=$(ticks "$server")
    python3 - "$out/$round-$c.wrk" "$round" "$c" "$((after - before))" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
p99 = re.search(r"99%\s+(\S+)", text).group(1)
ticks = int(sys.argv[4])
print(json.dumps({"round": int(sys.argv[2]), "case": sys.argv[3], "requests": requests,
  "req_per_s": rps, "p99": p99, "non_2xx": int(errors.group(1)) if errors else 0,
  "server_ticks": ticks, "server_us_per_request": round(ticks * 10000 / max(requests, 1), 1)}))
PY
  done
done | tee "$out/summary.jsonl"
