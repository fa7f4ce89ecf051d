#!/usr/bin/env bash
# Runs the supabase-js monorepo's own storage-js and postgrest-js tests against a Plinth server
# started from this checkout, and prints pass/fail counts per test file and in total.
#
#   scripts/client-suites.sh <supabase-js checkout or git dir> [storage|postgrest|all] [commit]
#
# Nothing of theirs is copied into this repository: the tests are exported (git archive) into a
# temporary directory, which gets a node_modules link to this checkout's (bun test runs them; jest
# is not installed). Their tests hard-code http://127.0.0.1:54321 and keys signed with the Supabase
# CLI's demo secret, so the server listens on 54321 with that secret and its own data dir.
# postgrest-js's fixture schema (test/supabase/migrations + seed.sql) is applied with `plinth migrate`
# after two edits that are the whole difference: no PostGIS in the embedded PostgreSQL (the
# geometry column becomes text), and the `extensions` schema the Supabase CLI creates.
set -euo pipefail
SRC=${1:?usage: scripts/client-suites.sh <supabase-js checkout or git dir> [storage|postgrest|all] [commit]}
WHICH=${2:-all}
REV=${3:-HEAD}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUN="$ROOT/node_modules/.bin/bun"
if [ -d "$SRC/.git" ]; then GITDIR="$SRC/.git"; else GITDIR="$SRC"; fi
WORK=$(mktemp -d /tmp/plinth-suites.XXXXXX)
PORT=54321
SECRET=super-secret-jwt-token-with-at-least-32-characters-long
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "supabase-js $(git --git-dir="$GITDIR" rev-parse --short "$REV") → $WORK"
git --git-dir="$GITDIR" archive "$REV" packages/core/storage-js packages/core/postgrest-js | tar -x -C "$WORK"
ln -s "$ROOT/node_modules" "$WORK/node_modules"

# --- fixtures as a Plinth migration ------------------------------------------------------------
MIG="$WORK/migrations"
mkdir -p "$MIG"
PG="$WORK/packages/core/postgrest-js/test/supabase"
{
  echo "create schema if not exists extensions;"
  sed -e '/create extension if not exists postgis/d' -e 's/extensions\.geometry(POINT, 4326)/text/' "$PG"/migrations/*.sql
  cat "$PG/seed.sql"
} >"$MIG/20000101000000_postgrest_js_fixture.up.sql"
echo "select 1;" >"$MIG/20000101000000_postgrest_js_fixture.down.sql"

export PLINTH_DATA_DIR="$WORK/data" PLINTH_PORT=$PORT PLINTH_JWT_SECRET=$SECRET PLINTH_MIGRATIONS_DIR="$MIG" \
  PLINTH_REST_SCHEMAS=public,personal PLINTH_REST_PLAN_ENABLED=true PLINTH_RATE_LIMIT_ENABLED=false PLINTH_LOG_LEVEL=warn
if curl -s "http://127.0.0.1:$PORT/health" >/dev/null; then echo "port $PORT is already in use"; exit 1; fi
# exec: SERVER_PID is the server itself, so the cleanup really stops it.
(cd "$ROOT" && exec "$BUN" src/main.ts serve >"$WORK/serve.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 1; done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$WORK/serve.log"; exit 1; }
(cd "$ROOT" && "$BUN" src/main.ts migrate up) >"$WORK/migrate.log" 2>&1 || { echo "fixture migration failed:"; tail -20 "$WORK/migrate.log"; }

# postgrest-js's tests send no apikey (the Supabase CLI's gateway lets them through as anon);
# Plinth requires one on /rest/v1, as self-hosted Supabase's Kong does. A preload adds the anon key
# to requests for this server that carry none: the requests are otherwise sent as the tests make them.
export PLINTH_SUITE_ANON
PLINTH_SUITE_ANON=$(cd "$ROOT" && "$BUN" src/main.ts keys --json | "$BUN" -e 'console.log(JSON.parse(await Bun.stdin.text()).anon)')
cat >"$WORK/add-apikey.ts" <<'TS'
const original = globalThis.fetch;
globalThis.fetch = Object.assign(
  (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!/^http:\/\/(127\.0\.0\.1|localhost):54321\//.test(url)) return original(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has("apikey")) headers.set("apikey", process.env.PLINTH_SUITE_ANON!);
    return original(input, { ...init, headers });
  },
  { preconnect: original.preconnect },
) as typeof fetch;
TS

# --- run -----------------------------------------------------------------------------------------
TOTAL_PASS=0
TOTAL_FAIL=0
run_suite() {
  local name=$1 dir=$2 preload=$3
  shift 3
  local pass=0 fail=0
  for f in "$@"; do
    local out
    out=$(cd "$dir" && timeout 300 "$BUN" test $preload --timeout 30000 "$f" 2>&1 || true)
    local p f2
    p=$(echo "$out" | grep -Eo '^ *[0-9]+ pass' | grep -Eo '[0-9]+' | tail -1 || true)
    f2=$(echo "$out" | grep -Eo '^ *[0-9]+ fail' | grep -Eo '[0-9]+' | tail -1 || true)
    p=${p:-0}
    f2=${f2:-0}
    printf '  %-55s %4s pass %4s fail\n' "$f" "$p" "$f2"
    echo "$out" | grep -E '^\(fail\)' | sed 's/^/      /' || true
    pass=$((pass + p))
    fail=$((fail + f2))
  done
  echo "$name: $pass of $((pass + fail)) pass"
  TOTAL_PASS=$((TOTAL_PASS + pass))
  TOTAL_FAIL=$((TOTAL_FAIL + fail))
}

if [ "$WHICH" = all ] || [ "$WHICH" = storage ]; then
  D="$WORK/packages/core/storage-js"
  # The files that talk to a storage server (the others test the client against mocks).
  run_suite storage-js "$D" "" test/storageFileApi.test.ts test/storageBucketApi.test.ts test/storageApi.test.ts test/storageFileApiNode.test.ts
fi
if [ "$WHICH" = all ] || [ "$WHICH" = postgrest ]; then
  D="$WORK/packages/core/postgrest-js"
  files=$(cd "$D" && ls test/*.test.ts | sort)
  # shellcheck disable=SC2086
  run_suite postgrest-js "$D" "--preload $WORK/add-apikey.ts" $files
fi
echo "total: $TOTAL_PASS of $((TOTAL_PASS + TOTAL_FAIL)) pass ($(date -u +%Y-%m-%d))"
