#!/usr/bin/env bash
# Installs the Debian packages tshub's tests use (as root): the real single-user server and kernel,
# Postgres, Chromium for the real-browser page tests, a Docker engine (with Swarm) and docker-compose
# for the Docker spawners, openssl for the CAS test's throwaway CA. Skips apt entirely when everything is already there.
set -euo pipefail
PKGS=(jupyterhub python3-notebook python3-ipykernel python3-pamela postgresql chromium docker.io docker-compose openssl)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "need root to install: ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
