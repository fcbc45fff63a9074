#!/usr/bin/env bash
# Runs schemathesis against a freshly started slipway server: every
# operation of every API's document (the native /api/v1/openapi.json and
# each dialect's /api/v1/openapi/NAME.json), with the checks that the
# document tells the truth (no 5xx, no schema-valid request refused, every answer within
# its documented status codes, content type and schema).
#
#   scripts/fuzz.sh [MAX_EXAMPLES] [MAX_SECONDS]
#
# The checks and their exceptions are in scripts/schemathesis.toml.
# MAX_EXAMPLES (default 100) bounds the examples per operation; MAX_SECONDS
# (default 900) bounds each document's wall time. Installs what it needs: python3
# with venv (apt-get on Debian when missing) and schemathesis, pinned, in
# .venv-fuzz/ (ignored by git). Builds the debug binary with cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${1:-100}
MAX_SECONDS=${2:-900}
VENV=.venv-fuzz
TARGET_DIR=${CARGO_TARGET_DIR:-target}

# Python with venv and pip.
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  else
    echo "fuzz: python3 with the venv module is needed" >&2
    exit 1
  fi
fi
if [ ! -x "$VENV/bin/schemathesis" ] ||
   ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --locked -p slipway --bin slipway
BIN="$TARGET_DIR/debug/slipway"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A fresh server on a free loopback port; it prints its address and the
# first admin token.
env -u SLIPWAY_ADMIN_TOKEN -u SLIPWAY_DATABASE_URL -u SLIPWAY_CONFIG \
  SLIPWAY_LOG=warn "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
BASE= TOKEN=
for _ in $(seq 1 600); do
  BASE=$(sed -n 's/^listening on //p' "$WORK/stdout" | head -n 1)
  TOKEN=$(sed -n 's/^admin token (shown once, keep it): //p' "$WORK/stdout" | head -n 1)
  [ -n "$BASE" ] && [ -n "$TOKEN" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$BASE" ] || [ -z "$TOKEN" ]; then
  echo "fuzz: the server did not start" >&2
  cat "$WORK/stdout" "$WORK/stderr" >&2
  exit 1
fi
echo "fuzz: server at $BASE (pid $SERVER_PID)"

# Every API's document the server serves (the native one and each enabled
# dialect's, found by name, so that a new dialect needs no line here),
# with the token in every header style the APIs read (each API ignores
# the others' headers).
status=0
for name in openapi.json openapi/serverless-devs.json openapi/daocloud.json \
  openapi/codearts.json openapi/zadig.json openapi/deploy-api.json; do
  doc="/api/v1/$name"
  if ! python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1])' \
    "$BASE$doc" 2>/dev/null; then
    continue
  fi
  echo "fuzz: $doc"
  timeout "$((MAX_SECONDS + 120))" "$VENV/bin/schemathesis" \
    --config-file scripts/schemathesis.toml run "$BASE$doc" \
    --url "$BASE" \
    --header "Authorization: Bearer $TOKEN" \
    --header "cd_token: $TOKEN" \
    --header "X-Auth-Token: $TOKEN" \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_SECONDS" \
    --request-timeout 30 \
    --suppress-health-check all \
    --no-color \
    --seed 1 || status=$?
done

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "fuzz: the server died during the run" >&2
  cat "$WORK/stderr" >&2
  status=1
fi
exit "$status"
