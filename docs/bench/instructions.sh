#!/usr/bin/env bash
# instructions.sh BIN OUT [N]: user-space instructions per request, counted by callgrind, for
# /healthz, a product by id, the GraphQL seed query and the 50-users query (as an admin) on a
# fresh `seed --bench` SQLite database. Unlike CPU time, an instruction count does not move
# with the machine's speed or with whatever else runs beside it, so two builds can be
# compared on a busy machine, one after the other. The server runs under valgrind (about 50x
# slower, instrumenting only while a case runs): each case gets 50 requests to warm up, then
# N (default 300) counted ones, on one keep-alive connection. Prints one JSON line per case;
# callgrind's files stay in OUT.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
# shellcheck source=serve.sh
. "$here/serve.sh"
bin=$(realpath "$1")
begin "$2"
n=${3:-300}
db=$work/bench.db
seed "$bin" "$db"
# serve.sh's server, under callgrind, on one worker.
cat >"$work/under-callgrind" <<SH
#!/bin/sh
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.%p" \\
  "$bin" "\$@" --workers 1
SH
chmod +x "$work/under-callgrind"
serve "$work/under-callgrind" "$db" "$work/server.log"
token=$(admin_token)
for c in ${CASES:-healthz product graphql-seed graphql-users50}; do
  python3 - "$port" "$token" "$c" "$n" "$server" <<'PY'
import http.client, json, subprocess, sys
port, token, case, n, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
queries = {"graphql-seed": 'query { user(id: "1") { name posts { title } } }',
           "graphql-users50": "{ users(first: 50) { edges { node { name posts { title } } } } }"}
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
def one():
    if case in queries:
        conn.request("POST", "/graphql", json.dumps({"query": queries[case]}),
                     {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    else:
        conn.request("GET", "/healthz" if case == "healthz" else "/api/v1/products/5")
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
for _ in range(50): one()
subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
for _ in range(5): one()
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
for _ in range(n): one()
subprocess.run(["callgrind_control", "-d", case, pid], check=True, capture_output=True)
subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
PY
  file=$(ls -t "$out"/callgrind.* | head -1)
  total=$(grep -m1 '^summary:\|^totals:' "$file" | awk '{print $2}')
  mv "$file" "$out/$c.callgrind"
  echo "{\"case\": \"$c\", \"requests\": $n, \"instructions\": $total, \"per_request\": $((total / n))}"
done | tee "$out/summary.jsonl"
