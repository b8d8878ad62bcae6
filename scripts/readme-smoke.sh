#!/usr/bin/env bash
# Runs the README's start line exactly as written (in a clean checkout), then walks a person's first
# visit: the one-time admin link from the log, setting the password, starting a server, reaching it
# through the proxy. Stops the hub (and with it its servers and proxy) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
line=$(awk '/^```/{n++; next} n==1 && !/^#/ && NF' README.md | sed -n 1p)
[ -n "$line" ] || { echo "no start line found in README.md" >&2; exit 1; }
echo "README start line: $line"
for d in tshub-data tshub-homes; do [ -e "$d" ] && { echo "$d exists here; run this in a clean checkout" >&2; exit 1; }; done
log=$(mktemp)
setsid bash -c "$line" >"$log" 2>&1 &
pid=$!
cleanup() {
  # SIGTERM lets the hub stop its servers and proxy; wait for the whole process group to finish.
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -rf tshub-data tshub-homes "$log"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q 'setup-admin?token=' "$log" && break
  kill -0 "$pid" 2>/dev/null || { echo "the hub exited:"; cat "$log"; exit 1; }
  sleep 0.5
done
grep -q 'setup-admin?token=' "$log" || { echo "no admin set-up link within 300 s:"; cat "$log"; exit 1; }
node test/smoke/readme-first-login.mjs "$log" || { echo "--- hub log"; cat "$log"; exit 1; }
