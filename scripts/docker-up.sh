#!/usr/bin/env bash
# docker-up.sh 28|28c|26|20 -- install (first time) and start one of the three test engines.
#
#   28: Docker 28.5.2 + buildx 0.29 (BuildKit v0.25) + containerd 2.1 from Debian forky, unpacked
#       into $STRATA_DOCKER28_PREFIX (default /opt/strata/docker28), run on bookworm's runc/tini.
#   26: Docker 26.1.5 + buildx 0.13 (BuildKit v0.13) from Debian trixie, unpacked into
#       $STRATA_DOCKER26_PREFIX (default /opt/strata/docker26), run on bookworm's containerd/runc.
#  28c: engine 28 again, a second daemon with the containerd image store (multi-platform images,
#       OCI export).
#   20: Debian bookworm's docker.io 20.10 (BuildKit v0.8), installed with apt.
#
# All can run at once: each has its own socket, data-root, exec-root, pidfile, managed
# containerd (own socket under its exec-root, own namespace) and bridge (strata28 172.30.28.1/24,
# strata28c 172.30.128.1/24, strata26 172.30.26.1/24, strata20 172.30.20.1/24). State lives in
# $STRATA_STATE (default /var/tmp/strata/<engine>).
# Idempotent: exits 0 at once when the engine already answers. Use the engine with
#   eval "$(scripts/docker-env.sh 26)"
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"
strata_engine_init "${1:-}"

[ "$(id -u)" = 0 ] || strata_die "must run as root (dockerd, bridges, iptables)"
# Docker 28 keeps images in its classic store (overlay2) unless told otherwise; instance 28c
# (or STRATA_CONTAINERD_STORE=1 with 28) is the same engine with the containerd image store,
# with its own state, socket and bridge. Only read when the daemon starts (an engine already up
# stays as it is).
containerd_store=$CONTAINERD_STORE
mkdir -p "$STATE"

# Callers (test harness, CI, a human) may race; one start at a time per engine.
exec 9>"$STATE/up.lock"
flock -w 600 9 || strata_die "timeout waiting for $STATE/up.lock"

t_all=$(strata_now)

# The CLI-side files are cheap and must exist even when someone else started the daemon.
setup_cli_dirs() {
  mkdir -p "$BIN_DIR" "$CONFIG_DIR/cli-plugins"
  ln -sfn "$CLI" "$BIN_DIR/docker"
  # 28/26: without the plugin their CLIs refuse DOCKER_BUILDKIT=1 ("buildx component is missing")
  # and the stray 28 client silently falls back to the legacy builder. 20: buildx is optional
  # (`docker build` uses the 20.10 CLI's own BuildKit client) but lets tests run bake/buildx.
  ln -sfn "$BUILDX_PLUGIN" "$CONFIG_DIR/cli-plugins/docker-buildx"
  [ -e "$CONFIG_DIR/config.json" ] || echo '{}' >"$CONFIG_DIR/config.json"
}

if strata_engine_answers; then
  setup_cli_dirs
  strata_log "engine $STRATA_INSTANCE already up on $SOCK"
  exit 0
fi

# --- install ---------------------------------------------------------------------------------
t0=$(strata_now)
case "$STRATA_ENGINE" in
  28)
    # runc 1.1.5 and tini (docker-init) from bookworm; containerd comes with the forky prefix.
    strata_apt_install runc tini iptables iproute2
    strata_ensure_prefix28
    ;;
  26)
    # containerd 1.6.20, runc 1.1.5 and tini (docker-init) from bookworm; iptables for our NAT.
    strata_apt_install containerd runc tini iptables iproute2
    strata_ensure_prefix26
    ;;
  20)
    # docker.io pulls containerd, runc, tini and iptables itself.
    strata_apt_install docker.io iptables iproute2
    strata_ensure_prefix26   # for its buildx plugin
    ;;
esac
setup_cli_dirs
t_install=$(strata_since "$t0")

# --- network ---------------------------------------------------------------------------------
strata_ensure_network

# --- start -----------------------------------------------------------------------------------
# A dockerd killed with -9 leaves its pidfile; dockerd refuses to start while the pid in it is
# alive, and a recycled pid can belong to anything. strata_daemon_pid checks it is a dockerd.
if pid=$(strata_daemon_pid); then
  strata_log "dockerd pid $pid is alive but does not answer yet; waiting for it"
else
  rm -f "$PIDFILE"
  # Leftovers of a crashed run would make the new daemon fail on "device or resource busy".
  strata_unmount_leftovers

  # Own config file: never read /etc/docker/daemon.json (it may belong to another daemon).
  # features.buildkit makes even a plain `docker build` (no DOCKER_BUILDKIT) use BuildKit on 20.10.
  features='"buildkit": true'
  storage=overlay2
  if [ "$containerd_store" != 0 ]; then
    features+=', "containerd-snapshotter": true'
    # The containerd store takes containerd's snapshotter name: with `overlay2` every image
    # unpack fails ("snapshotter not loaded: overlay2").
    storage=overlayfs
  fi
  printf '{\n  "features": { %s }\n}\n' "$features" >"$DAEMON_JSON"

  args=(
    --config-file "$DAEMON_JSON"
    --host "unix://$SOCK"
    --data-root "$DATA"
    --exec-root "$EXEC"
    --pidfile "$PIDFILE"
    --containerd-namespace "$CTR_NS"
    --containerd-plugins-namespace "$CTR_NS-plugins"
    --bridge "$BRIDGE" --iptables=false --ip-masq=false
    # Fail loudly rather than fall back to vfs, which would make every build crawl.
    --storage-driver "$storage"
    # Keep the engines' container cgroups apart (cgroup v1 here).
    --cgroup-parent "/$CTR_NS"
    # Tests' containers often ignore SIGTERM as pid 1 (python -m http.server); don't let a
    # docker-down wait the default 15 s for each.
    --shutdown-timeout 5
  )
  # Docker 27+ defaults to --ip6tables=true, independently of --iptables: dockerd 28 then adds
  # DOCKER* chains and jumps to the host's shared ip6tables filter and nat tables (as seen on
  # this machine). 20.10 and 26.1 default to false; their command lines are left as tested.
  [ "$STRATA_ENGINE" != 28 ] || args+=(--ip6tables=false)
  # A system containerd socket would be picked up instead of a managed containerd; the distinct
  # namespace above keeps the engines apart even then, but say so.
  [ ! -S /run/containerd/containerd.sock ] ||
    strata_log "note: /run/containerd/containerd.sock exists; dockerd will use that containerd (namespace $CTR_NS)"

  printf '\n===== %s strata docker-up %s: %s %s\n' "$(date -Is)" "$STRATA_INSTANCE" "$DOCKERD" "${args[*]}" >>"$LOG"
  # env -i: the caller's DOCKER_HOST, PATH (with /usr/local/bin/docker 28) etc. must not leak in.
  # setsid: the daemon must survive the caller's session/process group (test runners kill those).
  # strata_daemon: it must not inherit the lock, or the next docker-up would wait on it forever.
  # shellcheck disable=SC2086 # STRATA_DOCKERD_EXTRA_ARGS is a word list on purpose
  (strata_daemon env -i PATH="$DAEMON_PATH" HOME=/root LANG=C.UTF-8 \
    "$DOCKERD" "${args[@]}" ${STRATA_DOCKERD_EXTRA_ARGS:-}) </dev/null >>"$LOG" 2>&1 &
  pid=$!
fi

# --- wait ------------------------------------------------------------------------------------
t0=$(strata_now)
timeout=${STRATA_START_TIMEOUT:-60}
deadline=$(( $(date +%s) + timeout ))
until strata_engine_answers; do
  if ! kill -0 "$pid" 2>/dev/null; then
    strata_log "dockerd exited before answering; last 40 lines of $LOG:"
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    strata_log "dockerd did not answer within ${timeout} s; stopping it. Last 40 lines of $LOG:"
    tail -n 40 "$LOG" >&2
    kill -TERM "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
done
t_start=$(strata_since "$t0")

server=$(strata_docker version --format '{{.Server.Version}}')
strata_log "engine $STRATA_INSTANCE up: dockerd $server pid $(cat "$PIDFILE") on $SOCK," \
  "bridge $BRIDGE $BRIDGE_IP (install/check $t_install, start $t_start, total $(strata_since "$t_all"))"
