#!/usr/bin/env bash
# A throwaway Docker engine for the tests: `start` runs dockerd (no bridge, no iptables: containers use
# host networking on 127.0.0.1, so no traffic reaches private address ranges), makes it a one-node
# Swarm manager and builds the local test image; `stop` ends what `start` started (by pid). `status`
# exits 0 when an engine answers. Prints nothing on stdout but the socket path (start).
set -euo pipefail
state=/tmp/tshub-test-docker
sock=/var/run/docker.sock
case "${1:-}" in
  status)
    docker -H "unix://$sock" info >/dev/null 2>&1
    ;;
  start)
    if ! docker -H "unix://$sock" info >/dev/null 2>&1; then
      mkdir -p "$state"
      dockerd --bridge=none --iptables=false --ip6tables=false --host "unix://$sock" \
        --pidfile "$state/dockerd.pid" --data-root /var/lib/docker >"$state/dockerd.log" 2>&1 &
      echo $! >"$state/started-by-us"
      for _ in $(seq 1 120); do
        docker -H "unix://$sock" info >/dev/null 2>&1 && break
        sleep 0.5
      done
      docker -H "unix://$sock" info >/dev/null 2>&1 || { echo "dockerd did not start; its log:" >&2; tail -30 "$state/dockerd.log" >&2; exit 1; }
    fi
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
      docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    fi
    bash "$(dirname "$0")/build-test-image.sh" >/dev/null
    echo "$sock"
    ;;
  stop)
    if [ -f "$state/started-by-us" ]; then
      pid=$(cat "$state/started-by-us")
      docker swarm leave --force >/dev/null 2>&1 || true
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      rm -f "$state/started-by-us"
    fi
    ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
