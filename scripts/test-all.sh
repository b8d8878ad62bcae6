#!/usr/bin/env bash
# Runs every suite against the real components: installs what is missing (Debian packages, npm
# dependencies), starts a throwaway Postgres, runs `npm test` with TSHUB_TEST_REQUIRE_ALL=1 so no
# suite can silently skip, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -d node_modules ] || npm ci
# A Postgres cluster or Docker engine that was already running (a developer's) is left running.
cleanup=()
bash scripts/test-postgres.sh status >/dev/null 2>&1 || cleanup+=('bash scripts/test-postgres.sh stop')
bash scripts/test-docker.sh status >/dev/null 2>&1 || cleanup+=('bash scripts/test-docker.sh stop')
stop_started() { for c in "${cleanup[@]}"; do $c || true; done; }
trap stop_started EXIT
PG_URL=$(bash scripts/test-postgres.sh start)
bash scripts/test-docker.sh start >/dev/null
export TSHUB_TEST_POSTGRES_URL="$PG_URL" TSHUB_TEST_REQUIRE_ALL=1
npm test
# The hub-level suites once more, on Postgres instead of the embedded PGlite (the plugin suites —
# Docker, Swarm, Kubernetes, the login providers, deployment files — do not depend on the database).
TSHUB_TEST_DB=postgres npx tap $(ls test/*.test.ts | grep -v -e cli.test.ts -e -pglite.test.ts \
  -e /docker- -e /swarm- -e /kube -e /compose- -e /image- -e /auth-oidc -e /auth-github -e /auth-cas -e /auth-pam \
  -e /auth-local -e /auth-pipeline-form -e /auth-pipeline-redirect -e /auth-pipeline-startup -e /browser-)
