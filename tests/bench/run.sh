#!/usr/bin/env bash
# Latchkey benchmark: a release build on SQLite driven by wrk over loopback for fixed short runs.
# Prints req/s, p50 and p99 per case, the hashing limit, and the server's peak RSS.
# Needs: wrk, python3, curl (Debian packages). Usage: tests/bench/run.sh [seconds-per-case]
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/bench
duration="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latchkey-target}"
for tool in wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y $tool)" >&2; exit 1; }
done

cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/latchkey"
work=$(mktemp -d)
port=18900
base="http://127.0.0.1:$port"
secret="bench-secret-0123456789-0123456789-0123456789"
cores=$(nproc)
threads=2
conns=64

# start_server [VAR=value ...]: the release binary on the bench database, with these settings.
start_server() {
  (cd "$work" && exec env LATCHKEY_SECRET_KEY="$secret" LATCHKEY_BIND="127.0.0.1:$port" \
    LATCHKEY_THROTTLE_ENABLED=false LATCHKEY_LOG=warn LATCHKEY_ACCESS_TOKEN_LIFETIME=3600 \
    LATCHKEY_HASH_WORKERS="${LATCHKEY_HASH_WORKERS:-$(nproc)}" "$@" \
    "$bin" serve >>"$work/server.log" 2>&1) &
  server=$!
  for _ in $(seq 1 100); do curl -fs "$base/health" >/dev/null 2>&1 && break; sleep 0.05; done
}
stop_server() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT
start_server

password="bench password that is long enough"
curl -fsS -X POST "$base/auth/users/" -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"username\":\"bench\",\"password\":\"$password\"}" >/dev/null
# The login cases come from many accounts, as a real flood does.
users=32
for i in $(seq 0 $((users - 1))); do
  curl -fsS -X POST "$base/auth/users/" -H 'content-type: application/json' \
    -d "{\"email\":\"bench$i@example.com\",\"username\":\"bench$i\",\"password\":\"$password\"}" >/dev/null
done
login=$(curl -fsS -X POST "$base/auth/jwt/create/" -H 'content-type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$password\"}")
access=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access"])' "$login")

# wrk --latency output -> "req/s p50 p99"
summarise() {
  awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} END {printf "%10.0f %10s %10s", rps, p50, p99}'
}
row() { printf "%-38s %s   [rss %s]\n" "$1" "$2" "$(awk "/VmRSS/ {printf \"%.0fM\", \$2/1024}" /proc/$server/status)"; }

echo "Latchkey benchmark — $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), SQLite, ${duration}s per case, wrk -t$threads -c$conns"
printf '%-38s %10s %10s %10s\n' "case" "req/s" "p50" "p99"

row "GET /health" "$(wrk -t$threads -c$conns -d"${duration}s" --latency "$base/health" | summarise)"
row "GET /auth/users/me/ (bearer)" "$(wrk -t$threads -c$conns -d"${duration}s" --latency \
  -H "Authorization: Bearer $access" "$base/auth/users/me/" | summarise)"
row "POST /auth/jwt/verify/" "$(TARGET_PATH=/auth/jwt/verify/ BODY="{\"token\":\"$access\"}" \
  wrk -t$threads -c$conns -d"${duration}s" --latency -s $here/post.lua "$base" | summarise)"

# Refresh: every request rotates a fresh pre-minted token (rotation on, the default).
user_id=$(python3 -c 'import json,sys,base64; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"=="))["user_id"])' "$access")
python3 $here/mint_refresh_tokens.py "$work/latchkey.sqlite3" "$secret" "$user_id" 120000 "$work/tokens"
row "POST /auth/jwt/refresh/ (rotating)" "$(TOKENS_FILE=$work/tokens WRK_THREADS=$threads \
  wrk -t$threads -c$conns -d"${duration}s" --latency -s $here/refresh.lua "$base" | summarise)"

# The hashing limit: one login at a time measures one argon2id verification (plus overhead).
one=$(TARGET_PATH=/auth/jwt/create/ BODY="{\"username\":\"bench\",\"password\":\"wrong\"}" \
  wrk -t1 -c1 -d3s --latency -s $here/post.lua "$base" | awk '/Requests\/sec/ {print $2}')
workers="${LATCHKEY_HASH_WORKERS:-$cores}"
limit=$(python3 -c "print(round(min($cores, $workers) * $one))")
echo "hashing limit: min($cores cores, $workers hash workers) x $one logins/s at concurrency 1 = $limit logins/s"
for case in "right:$password" "wrong:not the password"; do
  name=${case%%:*}; pw=${case#*:}
  report=$(USERS=$users PASSWORD="$pw" \
    wrk -t$threads -c16 -d"${duration}s" --latency -s $here/logins.lua "$base")
  out=$(echo "$report" | summarise)
  rps=$(echo "$out" | awk '{print $1}')
  # Wrong passwords answer 401 (non-2xx) by design; right ones must all be 200.
  refused=$(echo "$report" | awk '/Non-2xx/ {print $5}')
  note=""
  if [ "$name" = right ] && [ -n "$refused" ]; then note=" ($refused refused!)"; fi
  row "POST /auth/jwt/create/ ($name password)" "$out  ($(python3 -c "print(round(100*$rps/$limit))")% of limit)$note"
done

# /auth/users/me/ while a login flood (many accounts) runs beside it.
USERS=$users PASSWORD=wrong \
  wrk -t1 -c32 -d"$((duration + 2))s" -s $here/logins.lua "$base" >/dev/null &
flood=$!
sleep 1
row "GET /auth/users/me/ during login flood" "$(wrk -t1 -c$conns -d"${duration}s" --latency \
  -H "Authorization: Bearer $access" "$base/auth/users/me/" | summarise)"
wait "$flood"

# The OpenID token endpoint: every request exchanges a fresh pre-minted code for an RS256 ID
# token, an RS256 access token and a refresh token (a new grant session each).
client=$(cd "$work" && LATCHKEY_SECRET_KEY="$secret" "$bin" clients add Bench --first-party \
  --redirect-uri http://127.0.0.1:9/cb --json)
client_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$client")
client_secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$client")
verifier="bench-verifier-0123456789-0123456789-0123456789"
python3 $here/mint_codes.py "$work/latchkey.sqlite3" "$client_id" "$user_id" \
  http://127.0.0.1:9/cb "$verifier" 60000 "$work/codes"
basic="Basic $(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
report=$(CODES_FILE=$work/codes WRK_THREADS=$threads BASIC="$basic" \
  REDIRECT_URI=http%3A%2F%2F127.0.0.1%3A9%2Fcb VERIFIER="$verifier" \
  wrk -t$threads -c$conns -d"${duration}s" --latency -s $here/exchange.lua "$base")
refused=$(echo "$report" | awk '/Non-2xx/ {print " (" $5 " refused!)"}')
row "POST /oauth/token (code exchange)" "$(echo "$report" | summarise)$refused"

echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$server/status)"

# The same database served by a server signing the API's tokens with RS256: each request's
# token is checked against the published RSA key instead of the HMAC key.
stop_server
start_server LATCHKEY_JWT_ALGORITHM=RS256
login=$(curl -fsS -X POST "$base/auth/jwt/create/" -H 'content-type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$password\"}")
access_rs256=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access"])' "$login")
row "GET /auth/users/me/ (RS256 bearer)" "$(wrk -t$threads -c$conns -d"${duration}s" --latency \
  -H "Authorization: Bearer $access_rs256" "$base/auth/users/me/" | summarise)"
row "GET /auth/users/me/ (HS256 bearer, same)" "$(wrk -t$threads -c$conns -d"${duration}s" --latency \
  -H "Authorization: Bearer $access" "$base/auth/users/me/" | summarise)"
