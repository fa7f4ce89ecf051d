#!/usr/bin/env bash
# Runs the supabase-js monorepo's own storage-js and postgrest-js tests against a Plinth server
# started from this checkout, and prints pass/fail counts per test file and in total.
#
#   scripts/client-suites.sh <supabase-js checkout or git dir> [storage|postgrest|all] [commit]
#
# Nothing of theirs is copied into this repository: the tests are exported (git archive) into a
# temporary directory. By default they run the way upstream runs them: jest + ts-jest with each
# package's own jest config, all files of a suite in one `jest --runInBand` (their testSequencer
# orders them; later files see the rows earlier ones wrote, as in their CI), strict snapshots (`--ci`,
# not the `-u` of their test:run script). The jest toolchain (the versions of the monorepo's pnpm
# catalog) is installed once with npm into $PLINTH_SUITE_TOOLS (~/.cache/plinth-client-suites).
# PLINTH_SUITE_RUNNER=bun runs each file with this checkout's `bun test` instead (no npm needed;
# retry.test.ts's jest fake timers and Bun's Blob types then fail for reasons of the runner).
# Their tests hard-code http://127.0.0.1:54321 and keys signed with the Supabase CLI's demo secret,
# so the server listens on 54321 with that secret and its own data dir.
# The fixtures (postgrest-js's test/supabase/migrations + seed.sql, storage-js's test/supabase/seed.sql)
# are applied with `plinth migrate` after edits that are the whole difference from the Supabase CLI's
# database: no PostGIS in the embedded PostgreSQL (the geometry column becomes text), and the
# `extensions` schema with pgcrypto in it that the CLI's image has (the seed's crypt()/gen_salt()
# are qualified with it, as the image's search_path would find them).
#
# PLINTH_DB_URL=postgres://… runs the server on that (empty) database instead of the embedded one;
# with PLINTH_SUITE_POSTGIS=1 the fixtures keep their PostGIS parts (the database must offer the
# extension). Against a PostgreSQL configured like the Supabase CLI's image (PostGIS,
# effective_cache_size = 128MB, compute_query_id = on) nothing is left to differ from what the
# suites' snapshots recorded; README "Compatibility" gives the commands.
set -euo pipefail
SRC=${1:?usage: scripts/client-suites.sh <supabase-js checkout or git dir> [storage|postgrest|all] [commit]}
WHICH=${2:-all}
REV=${3:-HEAD}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUN="$ROOT/node_modules/.bin/bun"
if [ -d "$SRC/.git" ]; then GITDIR="$SRC/.git"; else GITDIR="$SRC"; fi
RUNNER=${PLINTH_SUITE_RUNNER:-jest}
TOOLS=${PLINTH_SUITE_TOOLS:-$HOME/.cache/plinth-client-suites}
# Not under /tmp: TypeScript (ts-jest) looks for @types in every parent's node_modules, and a stray
# /tmp/node_modules would put other type packages (bun-types) into their type check.
WORK=$(mktemp -d "${PLINTH_SUITE_TMP:-/var/tmp}/plinth-suites.XXXXXX")
PORT=54321
SECRET=super-secret-jwt-token-with-at-least-32-characters-long
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "supabase-js $(git --git-dir="$GITDIR" rev-parse --short "$REV") → $WORK"
git --git-dir="$GITDIR" archive "$REV" tsconfig.base.json tsconfig.json packages/core/storage-js packages/core/postgrest-js | tar -x -C "$WORK"
if [ "$RUNNER" = jest ]; then
  if [ ! -x "$TOOLS/node_modules/.bin/jest" ]; then
    echo "installing the jest toolchain into $TOOLS"
    mkdir -p "$TOOLS"
    [ -f "$TOOLS/package.json" ] || echo '{"name":"plinth-client-suites-tools","private":true}' >"$TOOLS/package.json"
    (cd "$TOOLS" && npm install --no-audit --no-fund --save-exact jest@30.4.2 ts-jest@29.4.9 ts-node@10.9.2 \
      @jest/types@30.5.1 @types/jest@30.0.0 @types/node@20.19.9 typescript@5.8.3 prettier@3.6.2 \
      zod@3.25.76 type-fest@4.41.0 tslib@2.8.1 iceberg-js@0.8.1 >/dev/null)
  fi
  ln -s "$TOOLS/node_modules" "$WORK/node_modules"
else
  ln -s "$ROOT/node_modules" "$WORK/node_modules"
fi

# --- fixtures as a Plinth migration ------------------------------------------------------------
MIG="$WORK/migrations"
mkdir -p "$MIG"
PG="$WORK/packages/core/postgrest-js/test/supabase"
{
  echo "create schema if not exists extensions;"
  echo "create extension if not exists pgcrypto with schema extensions;"
  if [ "${PLINTH_SUITE_POSTGIS:-}" = 1 ]; then cat "$PG"/migrations/*.sql
  else sed -e '/create extension if not exists postgis/d' -e 's/extensions\.geometry(POINT, 4326)/text/' "$PG"/migrations/*.sql; fi
  cat "$PG/seed.sql"
  sed -e 's/\bcrypt(/extensions.crypt(/' -e 's/\bgen_salt(/extensions.gen_salt(/' "$WORK/packages/core/storage-js/test/supabase/seed.sql"
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

cat >"$WORK/add-apikey.cjs" <<'JS'
// The same for jest (a setupFiles entry: jest's node environment has its own fetch global).
const original = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (!/^http:\/\/(127\.0\.0\.1|localhost):54321\//.test(url)) return original(input, init);
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  if (!headers.has("apikey")) headers.set("apikey", process.env.PLINTH_SUITE_ANON);
  return original(input, { ...init, headers });
};
JS

# --- run -----------------------------------------------------------------------------------------
TOTAL_PASS=0
TOTAL_FAIL=0
echo "runner: $RUNNER"
# jest: one run over the suite's files with the package's own config (plus the apikey setup file for
# postgrest-js); per-file counts and failing tests come from jest's --json report.
run_suite_jest() {
  local name=$1 dir=$2 config=$3 setup=$4
  shift 4
  local entry=""
  if [ -n "$setup" ]; then entry="'$setup'"; fi
  cat >"$dir/jest.plinth.config.ts" <<TS
const base = require('./$config')
module.exports = { ...base, setupFiles: [...(base.setupFiles ?? []), $entry] }
TS
  (cd "$dir" && timeout 1800 "$WORK/node_modules/.bin/jest" --config jest.plinth.config.ts --ci --runInBand \
    --json --outputFile="$WORK/$name.json" "$@" >"$WORK/$name.log" 2>&1) || true
  if [ ! -s "$WORK/$name.json" ]; then echo "$name: jest produced no report:"; tail -30 "$WORK/$name.log"; return; fi
  local counts
  counts=$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const rel = (p) => p.slice(p.indexOf("/test/") + 1);
    for (const f of r.testResults.sort((a, b) => a.name.localeCompare(b.name))) {
      const a = f.assertionResults;
      const p = a.filter((t) => t.status === "passed").length, x = a.filter((t) => t.status === "failed").length;
      console.log("  " + rel(f.name).padEnd(55) + String(p).padStart(5) + " pass " + String(x).padStart(4) + " fail");
      for (const t of a.filter((t) => t.status === "failed")) console.log("      (fail) " + t.fullName);
      if (!a.length && f.message) console.log("      (suite failed) " + f.message.split("\n").find((l) => l.trim()).trim());
    }
    console.log("#", r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites ? 0 : 0));
  ' "$WORK/$name.json")
  echo "$counts" | grep -v '^#'
  local p f2
  read -r p f2 <<<"$(echo "$counts" | grep '^#' | cut -c3-)"
  echo "$name: $p of $((p + f2)) pass (jest)"
  TOTAL_PASS=$((TOTAL_PASS + p))
  TOTAL_FAIL=$((TOTAL_FAIL + f2))
}
run_suite_bun() {
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
    echo "$out" | grep -E '^\(fail\)' | sort -u | sed 's/^/      /' || true
    pass=$((pass + p))
    fail=$((fail + f2))
  done
  echo "$name: $pass of $((pass + fail)) pass (bun test)"
  TOTAL_PASS=$((TOTAL_PASS + pass))
  TOTAL_FAIL=$((TOTAL_FAIL + fail))
}

# The storage-js files that talk to a storage server (the others test the client against mocks).
STORAGE_FILES="test/storageFileApi.test.ts test/storageBucketApi.test.ts test/storageApi.test.ts test/storageFileApiNode.test.ts"
if [ "$WHICH" = all ] || [ "$WHICH" = storage ]; then
  D="$WORK/packages/core/storage-js"
  # shellcheck disable=SC2086
  if [ "$RUNNER" = jest ]; then run_suite_jest storage-js "$D" jest.config.js "" $STORAGE_FILES
  else run_suite_bun storage-js "$D" "" $STORAGE_FILES; fi
fi
if [ "$WHICH" = all ] || [ "$WHICH" = postgrest ]; then
  D="$WORK/packages/core/postgrest-js"
  files=$(cd "$D" && ls test/*.test.ts | sort)
  # shellcheck disable=SC2086
  if [ "$RUNNER" = jest ]; then run_suite_jest postgrest-js "$D" jest.config.ts "$WORK/add-apikey.cjs" $files
  else run_suite_bun postgrest-js "$D" "--preload $WORK/add-apikey.ts" $files; fi
fi
echo "total: $TOTAL_PASS of $((TOTAL_PASS + TOTAL_FAIL)) pass ($(date -u +%Y-%m-%d), runner $RUNNER)"
