#!/usr/bin/env bash
# Starts (or stops) a throwaway Postgres cluster for the test suites, on 127.0.0.1:${PGPORT:-55432},
# owned by the 'postgres' system user, trust auth on loopback only. Prints the URL to use as
# TSHUB_TEST_POSTGRES_URL.
set -euo pipefail
PGPORT=${PGPORT:-55432}
PGDIR=${TSHUB_PG_DIR:-/tmp/tshub-test-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "postgresql is not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
  start)
    if [ ! -f "$PGDIR/PG_VERSION" ]; then
      mkdir -p "$PGDIR"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDIR"
      as_pg "$BIN/initdb" -D "$PGDIR" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    if as_pg "$BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
      echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"; exit 0
    fi
    as_pg "$BIN/pg_ctl" -D "$PGDIR" -w -l "$PGDIR/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k /tmp -c max_connections=300 -c fsync=off -c synchronous_commit=off" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
    ;;
  status)
    as_pg "$BIN/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1
    ;;
  stop)
    [ -f "$PGDIR/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
