#!/usr/bin/env bash
# Runs every suite against the real components: installs what is missing (Debian packages, npm
# dependencies), starts a throwaway Postgres, runs `npm test` with TSHUB_TEST_REQUIRE_ALL=1 so no
# suite can silently skip, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -d node_modules ] || npm ci
# A cluster that was already running (a developer's) is left running.
if bash scripts/test-postgres.sh status >/dev/null 2>&1; then
  PG_URL=$(bash scripts/test-postgres.sh start)
else
  PG_URL=$(bash scripts/test-postgres.sh start)
  trap 'bash scripts/test-postgres.sh stop' EXIT
fi
export TSHUB_TEST_POSTGRES_URL="$PG_URL" TSHUB_TEST_REQUIRE_ALL=1
npm test
# The hub-level suites once more, on Postgres instead of the embedded PGlite.
TSHUB_TEST_DB=postgres npx tap $(ls test/*.test.ts | grep -v -e cli.test.ts -e -pglite.test.ts)
