#!/usr/bin/env bash
# docker-down.sh 28|28c|26|20 -- stop one test engine started by docker-up.sh.
#
# Stops the dockerd named in its pidfile (TERM, up to 30 s, then KILL), which stops its
# containers and its managed containerd; then unmounts what the daemon left under its
# exec-root/data-root (dockerd 26 leaves an nsfs mount at exec/netns/default).
# Images, build cache, the bridge and the iptables rules are kept, so the next docker-up is a
# ~1 s restart. STRATA_DOWN_NET=1 also deletes the bridge and its iptables rules.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"
strata_engine_init "${1:-}"
[ "$(id -u)" = 0 ] || strata_die "must run as root"

t0=$(strata_now)
if pid=$(strata_daemon_pid); then
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    strata_log "dockerd $pid still running after 30 s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    # A killed dockerd cannot stop its containerd and shims. Find exactly this engine's: the
    # managed containerd by its own pidfile, the shims by this engine's containerd socket path.
    ctr_sock=$EXEC/containerd/containerd.sock
    for p in $(cat "$EXEC/containerd/containerd.pid" 2>/dev/null) $(grep -lsF -- "$ctr_sock" /proc/[0-9]*/cmdline | cut -d/ -f3); do
      case "$(cat "/proc/$p/comm" 2>/dev/null)" in
        containerd|containerd-shim*) kill -KILL "$p" 2>/dev/null || true ;;
      esac
    done
    sleep 0.5
  fi
  strata_log "dockerd $pid stopped in $(strata_since "$t0")"
else
  strata_log "no running dockerd for engine $STRATA_INSTANCE (pidfile $PIDFILE)"
fi
rm -f "$PIDFILE" "$SOCK"
strata_unmount_leftovers

if [ "${STRATA_DOWN_NET:-0}" = 1 ]; then
  strata_remove_network
  strata_log "removed bridge $BRIDGE and its iptables rules"
fi
