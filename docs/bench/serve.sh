# Sourced by compare-clients.sh and compare-servers.sh: seeding and starting a server the way
# `switchboard bench` does (every middleware on, budgets out of reach).

# begin OUT: makes OUT (its absolute path in $out) and a scratch directory ($work); at exit
# the server started last ($server) is stopped and the scratch directory removed.
begin() {
  mkdir -p "$1"
  out=$(realpath "$1")
  work=$(mktemp -d)
  server=
  trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
}

# A random secret of `n` bytes, in hex.
random_hex() { od -An -N"$1" -tx8 /dev/urandom | tr -d ' \n'; }

admin_password="compare-$(random_hex 8)"

# seed BIN DB: the bench's data set, with admin@example.com / $admin_password.
seed() {
  "$1" seed --bench --database-url "$2" --admin-email admin@example.com \
    --admin-password "$admin_password" --user-password switchboard --log-level warn >/dev/null
}

# serve BIN DB LOG: starts a server on a free-ish port; sets $server (its pid) and $port,
# and returns once it answers /healthz.
serve() {
  port=18${RANDOM: -3}
  "$1" serve --port "$port" --database-url "$2" \
    --rate-limit 1000000 --rate-limit-burst 1000000 \
    --auth-rate-limit 1000000 --auth-rate-limit-burst 1000000 \
    --ws-rate 1000000 --ws-burst 1000000 --ws-queue 1024 \
    --jwt-secret "compare-$(random_hex 16)" \
    --log-level warn >"$3" 2>&1 &
  server=$!
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$server" || { cat "$3"; exit 1; }
    sleep 0.2
  done
}

# admin_token: an access token for admin@example.com from the server on $port.
admin_token() {
  curl -fsS "http://127.0.0.1:$port/api/v1/auth/token" -d grant_type=password \
    -d username=admin@example.com -d "password=$admin_password" | jq -r .access_token
}

# graphql_lua FILE QUERY: a wrk script that posts QUERY to /graphql as the admin.
graphql_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $(admin_token)"
wrk.body = [[$(jq -cn --arg q "$2" '{query: $q}')]]
LUA
}

# utime + stime of a process, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# load BIN SCENARIO RUN: BIN's bench client runs SCENARIO against $port; its JSON goes to
# $out/RUN/, its CPU to RUN.cpu, and the server's CPU over the run to RUN.server-ticks.
load() {
  local before
  before=$(ticks "$server")
  SWITCHBOARD_BENCH_ADMIN_PASSWORD=$admin_password /usr/bin/time -f '%U %S' -o "$out/$3.cpu" \
    "$1" bench "$2" --url "http://127.0.0.1:$port" --duration "${DURATION:-10}" \
    --http-concurrency 64 --connections 100 --out "$out/$3" >"$out/$3.log" 2>&1
  echo "$(( $(ticks "$server") - before ))" >"$out/$3.server-ticks"
}
