#!/usr/bin/env bash
# registry.sh up|down|addr -- a real image registry on a loopback port: Debian's docker-registry
# (the CNCF distribution registry 2.8), plain HTTP on 127.0.0.1, storage in its own state dir.
#
# The frontend image is pushed there and named in `# syntax=localhost:PORT/strata:…`; builders
# that run in their own container or without Docker (buildx docker-container, buildkitd) pull it,
# their base images and their `--cache-to/--cache-from type=registry` caches from it. Docker and
# BuildKit treat localhost registries as plain HTTP (buildkitd.sh writes `http = true` for it too).
#
#   up    install (first time) and start it; idempotent. Prints nothing but log lines.
#   down  stop it; STRATA_REGISTRY_PURGE=1 also deletes what it stored.
#   addr  print localhost:PORT.
#
# Env: STRATA_REGISTRY_PORT (default 5044), STRATA_REGISTRY_STATE (default
# /var/tmp/strata/ci-registry).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"

PORT=${STRATA_REGISTRY_PORT:-5044}
STATE=${STRATA_REGISTRY_STATE:-${STRATA_ROOT:-/var/tmp/strata}/ci-registry}
PIDFILE=$STATE/registry.pid
LOG=$STATE/registry.log

answers() { curl -fsS -m 2 "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1; }

registry_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ] || return 1
  echo "$pid"
}

up() {
  [ "$(id -u)" = 0 ] || strata_die "must run as root (apt)"
  mkdir -p "$STATE/data"
  exec 9>"$STATE/up.lock"
  flock -w 120 9 || strata_die "timeout waiting for $STATE/up.lock"
  if answers; then
    registry_pid >/dev/null || strata_die "port $PORT answers as a registry, but not ours ($PIDFILE)"
    return 0
  fi
  strata_apt_install docker-registry curl
  local t0 pid
  t0=$(strata_now)
  # delete: tests remove what they pushed; the cache tests push one cache per run.
  cat >"$STATE/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
  (strata_daemon env -i PATH=/usr/bin:/bin /usr/bin/docker-registry serve "$STATE/config.yml") \
    </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  for _ in $(seq 1 100); do
    answers && { strata_log "registry up on localhost:$PORT (pid $pid, $(strata_since "$t0"))"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$LOG" >&2
  strata_die "docker-registry did not answer on 127.0.0.1:$PORT"
}

down() {
  local pid
  if pid=$(registry_pid); then
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    strata_log "registry $pid stopped"
  fi
  rm -f "$PIDFILE"
  if [ "${STRATA_REGISTRY_PURGE:-0}" = 1 ]; then
    rm -rf "$STATE"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  addr) echo "localhost:$PORT" ;;
  *) strata_die "usage: $0 up|down|addr" ;;
esac
