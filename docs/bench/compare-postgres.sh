#!/usr/bin/env bash
# compare-postgres.sh CONFIGS OUT [ROUNDS]: the product read on PostgreSQL under several
# builds and settings, taking turns. CONFIGS has one line per setting,
# `label|binary|pool size|database URL`, where `{db}` in the URL stands for a scratch
# database this script creates on $PG (default postgres://postgres@127.0.0.1:5432/postgres),
# fills with the first binary's `seed --bench` and drops at exit. Each setting gets a fresh
# server, a 2 s warm-up and `wrk -t1 -c64 -d${DURATION:-8}s` on /api/v1/products/5; printed
# per round and setting: requests/s, the server's CPU and every PostgreSQL backend's CPU of
# that database per request (from /proc, µs), and the machine's idle ticks over the run.
# Needs wrk, psql and curl. Writes OUT/summary.jsonl.
set -euo pipefail
configs=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
rounds=${3:-3}
pg=${PG:-postgres://postgres@127.0.0.1:5432/postgres}
db="switchboard_cmp_$(od -An -N6 -tx8 /dev/urandom | tr -d ' \n')"
port=18${RANDOM: -3}
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  psql "$pg" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
first_url=$(head -1 "$configs" | cut -d'|' -f4)
"$(head -1 "$configs" | cut -d'|' -f2)" seed --bench --database-url "${first_url//\{db\}/$db}" \
  --admin-email admin@example.com --admin-password "cmp-$RANDOM$RANDOM" \
  --user-password switchboard --log-level warn >/dev/null

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
backends() {
  local sum=0 p
  for p in $(pgrep -f "postgres: .* postgres $db " || true); do sum=$((sum + $(ticks "$p"))); done
  echo "$sum"
}
idle() { awk '/^cpu /{print $5 + $6}' /proc/stat; }

for round in $(seq 1 "$rounds"); do
  while IFS='|' read -r label bin pool url; do
    [ -n "$label" ] || continue
    "$bin" serve --port "$port" --database-url "${url//\{db\}/$db}" --db-pool-size "$pool" \
      --rate-limit 1000000 --rate-limit-burst 1000000 \
      --jwt-secret "cmp-$(od -An -N16 -tx8 /dev/urandom | tr -d ' \n')" \
      --log-level warn >"$out/server.log" 2>&1 &
    server=$!
    until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
      kill -0 "$server" || { cat "$out/server.log"; exit 1; }
      sleep 0.1
    done
    wrk -t1 -c64 -d2s "http://127.0.0.1:$port/api/v1/products/5" >/dev/null
    s0=$(ticks "$server"); p0=$(backends); i0=$(idle)
    wrk -t1 -c64 -d"${DURATION:-8}"s "http://127.0.0.1:$port/api/v1/products/5" \
      >"$out/$round-$label.wrk"
    s1=$(ticks "$server"); p1=$(backends); i1=$(idle)
    kill "$server"; wait "$server" 2>/dev/null || true; server=
    requests=$(awk '/requests in/{print $1}' "$out/$round-$label.wrk")
    echo "{\"round\":$round,\"label\":\"$label\",\"requests\":$requests,\"req_per_s\":$((requests / ${DURATION:-8})),\"server_us_per_request\":$(((s1 - s0) * 10000 / requests)),\"postgres_us_per_request\":$(((p1 - p0) * 10000 / requests)),\"idle_ticks\":$((i1 - i0))}"
  done <"$configs"
done | tee "$out/summary.jsonl"
