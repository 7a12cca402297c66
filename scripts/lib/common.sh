# shellcheck shell=bash disable=SC2034 # the variables set here are used by the sourcing scripts
# Shared by scripts/docker-{up,down,env}.sh and scripts/base-images.sh; source it, don't run it.
#
# Three engines live side by side on one machine, so every path, socket, bridge and containerd
# namespace below is per engine. Nothing here touches /var/lib/docker, /run/docker.sock or
# /run/containerd/containerd.sock: another daemon may own them (dev machines), and CI must not
# depend on them.

# ---------------------------------------------------------------------------------------------
# logging

strata_log() { printf '[strata%s] %s\n' "${STRATA_INSTANCE:+ $STRATA_INSTANCE}" "$*" >&2; }
strata_die() { strata_log "ERROR: $*"; exit 1; }

# Seconds since the epoch with millisecond precision; used to report step timings.
strata_now() { date +%s.%N; }
strata_since() { awk -v a="$1" -v b="$(strata_now)" 'BEGIN { printf "%.1f s", b - a }'; }

# ---------------------------------------------------------------------------------------------
# engine configuration

# strata_engine_init ENGINE: sets the per-engine variables every script uses.
#
# ENGINE 28c is a second instance of engine 28 (same binaries) that keeps its images in the
# containerd image store: the one that builds and stores multi-platform images and exports OCI
# archives. It has everything of its own (state /var/tmp/strata/28c, bridge strata28c on
# 172.30.128.1/24, containerd namespace), so it runs beside engine 28. `STRATA_CONTAINERD_STORE=1`
# with ENGINE 28 (the older spelling) means 28c too.
strata_engine_init() {
  local engine=${1:-}
  case "$engine" in
    28|28c|26|20) ;;
    *) strata_die "usage: $0 28|28c|26|20 (Docker 28.5/BuildKit v0.25, the same with the containerd image store, 26.1/v0.13 or 20.10/v0.8)" ;;
  esac
  if [ "$engine" = 28 ] && [ "${STRATA_CONTAINERD_STORE:-0}" != 0 ]; then
    engine=28c
  fi
  [ "${STRATA_CONTAINERD_STORE:-0}" = 0 ] || [ "$engine" = 28c ] ||
    strata_die "STRATA_CONTAINERD_STORE=1 is only for engine 28 (that is, 28c)"
  # STRATA_INSTANCE names the daemon (28c); STRATA_ENGINE the Docker release it runs (28).
  STRATA_INSTANCE=$engine
  STRATA_ENGINE=${engine%c}
  CONTAINERD_STORE=0
  [ "$engine" != 28c ] || CONTAINERD_STORE=1

  # Unix socket paths are limited to 108 bytes and containerd puts its socket under the
  # exec-root, so the state dir must stay short: no deep $TMPDIR-style paths.
  STATE=${STRATA_STATE:-/var/tmp/strata/$engine}
  STRATA_ROOT=$(dirname "$STATE")
  # Rootfs tarballs and .deb caches are shared by all engines (the later ones only import).
  CACHE=${STRATA_CACHE:-$STRATA_ROOT/rootfs}
  # The trixie engine is unpacked here once; engine 20 also takes its buildx plugin from it.
  PREFIX26=${STRATA_DOCKER26_PREFIX:-/opt/strata/docker26}
  # The forky engine (Docker 28.5, buildx 0.29, containerd 2.1), unpacked the same way.
  PREFIX28=${STRATA_DOCKER28_PREFIX:-/opt/strata/docker28}

  SOCK=$STATE/docker.sock
  DATA=$STATE/data
  EXEC=$STATE/exec
  PIDFILE=$STATE/dockerd.pid
  LOG=$STATE/dockerd.log
  DAEMON_JSON=$STATE/daemon.json
  CONFIG_DIR=$STATE/config   # DOCKER_CONFIG: holds cli-plugins/docker-buildx and buildx state
  BIN_DIR=$STATE/bin         # holds only a `docker` symlink to the right CLI; goes first in PATH

  # Own bridge + subnet per engine: dockerd's default docker0/172.17.0.0/16 would be shared.
  BRIDGE=strata$engine
  local net=$engine
  [ "$engine" != 28c ] || net=128
  BRIDGE_IP=172.30.$net.1
  SUBNET=172.30.$net.0/24

  # Distinct containerd namespaces: if a system containerd ever appears at
  # /run/containerd/containerd.sock, dockerd uses it instead of starting its own, and both
  # engines would otherwise share the default "moby" namespace (same container ids, same images).
  CTR_NS=strata$engine

  case "$STRATA_ENGINE" in
    28)
      DOCKERD=$PREFIX28/usr/sbin/dockerd
      CLI=$PREFIX28/usr/bin/docker
      # As for 26, but the prefix also holds forky's containerd 2.1 and its shim, which come
      # first; runc and tini (docker-init) are bookworm's from /usr (forky's need glibc 2.38).
      DAEMON_PATH=$PREFIX28/usr/sbin:$PREFIX28/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin
      # buildx 0.29, forky's own: engine 28 is tested with the client it ships with.
      BUILDX_PLUGIN=$PREFIX28/usr/libexec/docker/cli-plugins/docker-buildx
      ;;
    26)
      DOCKERD=$PREFIX26/usr/sbin/dockerd
      CLI=$PREFIX26/usr/bin/docker
      # dockerd finds containerd, containerd-shim-runc-v2, runc, docker-init and docker-proxy on
      # PATH. Prefix first (dockerd, docker-proxy, docker-init); bookworm's containerd/runc/tini
      # from /usr. /usr/local/bin is left out on purpose (it holds a stray docker 28 client).
      DAEMON_PATH=$PREFIX26/usr/sbin:$PREFIX26/usr/bin:/usr/sbin:/usr/bin:/sbin:/bin
      BUILDX_PLUGIN=$PREFIX26/usr/libexec/docker/cli-plugins/docker-buildx
      ;;
    20)
      DOCKERD=/usr/sbin/dockerd
      CLI=/usr/bin/docker
      DAEMON_PATH=/usr/sbin:/usr/bin:/sbin:/bin
      # trixie's buildx 0.13, from the 26 prefix.
      BUILDX_PLUGIN=$PREFIX26/usr/libexec/docker/cli-plugins/docker-buildx
      ;;
  esac
}

# The engine's CLI pointed at the engine's socket, whatever the caller's environment says.
strata_docker() {
  DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$CONFIG_DIR DOCKER_BUILDKIT=1 \
    BUILDX_NO_DEFAULT_ATTESTATIONS=1 "$CLI" "$@"
}

strata_engine_answers() {
  [ -x "$CLI" ] && [ -S "$SOCK" ] && strata_docker version >/dev/null 2>&1
}

# The pid in the pidfile, if it is a live dockerd (guards against a recycled pid).
strata_daemon_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

# ---------------------------------------------------------------------------------------------
# packages

strata_mirror() {
  local m=${STRATA_DEBIAN_MIRROR:-}
  if [ -z "$m" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# Both engines' scripts may run in parallel: wait for dpkg's lock instead of failing on it.
STRATA_APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)

# strata_apt_install PKG...: installs the missing ones from the host's (bookworm) sources.
strata_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  strata_log "apt-get install ${missing[*]}"
  local t0 added_policy=
  t0=$(strata_now)
  # Package scripts (docker.io, containerd) would start system daemons where an init system
  # runs. Those would grab /run/containerd/containerd.sock and /run/docker.sock, which we want
  # free. Debian's policy-rc.d hook makes invoke-rc.d/deb-systemd-invoke skip every start.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  # A fresh machine may have no package lists at all, so always refresh before installing. A
  # broken third-party source makes update fail although Debian's lists are fine: go on then,
  # and let the install say what is really missing.
  apt-get "${STRATA_APT_OPTS[@]}" update -qq || strata_log "warning: apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive apt-get "${STRATA_APT_OPTS[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
  strata_log "installed ${missing[*]} in $(strata_since "$t0")"
}

# strata_ensure_prefix PREFIX SUITE VERSION PACKAGE...: a newer Docker from a later Debian suite,
# unpacked with dpkg -x into PREFIX (its dockerd must report VERSION, e.g. 26.1). Not installed
# with apt: that would pull the newer libc into a bookworm machine. The prefix binaries need only
# glibc >= 2.34; runc and tini from trixie/forky would need 2.38, so bookworm's are used (those
# packages are never downloaded; any copies are deleted anyway).
strata_prefix_ready() {
  [ -x "$1/usr/sbin/dockerd" ] && [ -x "$1/usr/bin/docker" ] &&
    [ -x "$1/usr/libexec/docker/cli-plugins/docker-buildx" ]
}
strata_ensure_prefix() {
  local prefix=$1 suite=$2 want=$3
  shift 3
  strata_prefix_ready "$prefix" && return 0
  mkdir -p "$(dirname "$prefix")"
  exec 8>"$prefix.lock"
  flock -w 600 8 || strata_die "timeout waiting for $prefix.lock"
  if strata_prefix_ready "$prefix"; then
    exec 8>&-; return 0
  fi
  local t0 t mirror
  t0=$(strata_now)
  t=$(mktemp -d "$(dirname "$prefix")/.$suite.XXXXXX")
  mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$t/debs" "$t/root"
  mirror=$(strata_mirror)
  echo "deb $mirror $suite main" >"$t/sources.list"
  # Private lists/cache dirs: the host's apt state never learns about $suite.
  local a=(-o APT::Sandbox::User=root -o "Dir::Etc::sourcelist=$t/sources.list"
    -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$t/lists" -o "Dir::Cache=$t/cache")
  strata_log "downloading $* from $mirror $suite"
  apt-get "${a[@]}" update -qq || strata_die "apt-get update ($suite) failed"
  (cd "$t/debs" && apt-get "${a[@]}" -qq download "$@") ||
    strata_die "apt-get download ($suite) failed"
  local d
  for d in "$t"/debs/*.deb; do dpkg -x "$d" "$t/root"; done
  rm -f "$t/root/usr/sbin/runc" "$t/root/usr/bin/runc" "$t/root/usr/bin/tini" "$t/root/usr/bin/tini-static"
  # The suite's docker-init points at its own tini-static (not unpacked); use bookworm's.
  ln -sfn /usr/bin/tini-static "$t/root/usr/bin/docker-init"
  # Init scripts, units and default configs (forky's containerd ships /etc/containerd) are of no
  # use in a prefix and must never be picked up by anything.
  rm -rf "$t/root/etc" "$t/root/usr/lib/systemd" "$t/root/usr/lib/udev" "$t/root/usr/lib/sysusers.d"
  local v
  v=$("$t/root/usr/sbin/dockerd" --version) || strata_die "unpacked dockerd does not run"
  case "$v" in *" $want."*) ;; *) strata_die "expected Docker $want.x from $suite, got: $v" ;; esac
  if [ -e "$t/root/usr/bin/containerd" ]; then
    "$t/root/usr/bin/containerd" --version >/dev/null || strata_die "unpacked containerd does not run"
  fi
  "$t/root/usr/libexec/docker/cli-plugins/docker-buildx" version >/dev/null ||
    strata_die "unpacked docker-buildx does not run"
  # Swap in atomically so a half-unpacked prefix is never taken for a good one.
  rm -rf "$prefix"
  mv "$t/root" "$prefix"
  rm -rf "$t"
  strata_log "unpacked $v into $prefix in $(strata_since "$t0")"
  exec 8>&-
}

# Docker 26.1.5 + buildx 0.13 from trixie, on bookworm's containerd 1.6 (engines 26 and 20).
strata_ensure_prefix26() {
  strata_ensure_prefix "$PREFIX26" trixie 26.1 docker.io docker-cli docker-buildx
}

# Docker 28.5.2 + buildx 0.29 + containerd 2.1 from forky (engine 28).
strata_ensure_prefix28() {
  strata_ensure_prefix "$PREFIX28" forky 28.5 docker.io docker-cli docker-buildx containerd
}

# ---------------------------------------------------------------------------------------------
# network

# The bridge, forwarding and NAT are ours because dockerd runs with --iptables=false: with
# iptables on, two daemons would both rewrite the shared DOCKER / DOCKER-ISOLATION chains.
strata_ensure_network() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip -4 addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_IP/24" ||
    ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  echo 1 >/proc/sys/net/ipv4/ip_forward
  local ipt=(iptables -w 30)
  "${ipt[@]}" -t nat -L POSTROUTING -n >/dev/null 2>&1 ||
    strata_die "iptables does not work here ($("${ipt[@]}" -t nat -L POSTROUTING -n 2>&1 | tail -1))"
  # -C first so repeated runs never stack duplicate rules.
  "${ipt[@]}" -t nat -C POSTROUTING -s "$SUBNET" ! -o "$BRIDGE" -j MASQUERADE 2>/dev/null ||
    "${ipt[@]}" -t nat -A POSTROUTING -s "$SUBNET" ! -o "$BRIDGE" -j MASQUERADE
  # Inserted at the top: another daemon's FORWARD policy may be DROP.
  "${ipt[@]}" -C FORWARD -i "$BRIDGE" -j ACCEPT 2>/dev/null || "${ipt[@]}" -I FORWARD 1 -i "$BRIDGE" -j ACCEPT
  "${ipt[@]}" -C FORWARD -o "$BRIDGE" -j ACCEPT 2>/dev/null || "${ipt[@]}" -I FORWARD 1 -o "$BRIDGE" -j ACCEPT
}

strata_remove_network() {
  local ipt=(iptables -w 30)
  while "${ipt[@]}" -t nat -D POSTROUTING -s "$SUBNET" ! -o "$BRIDGE" -j MASQUERADE 2>/dev/null; do :; done
  while "${ipt[@]}" -D FORWARD -i "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  while "${ipt[@]}" -D FORWARD -o "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  ip link del "$BRIDGE" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# cleanup

# Mounts a dead daemon leaves behind: nsfs bind mounts under exec-root/netns (dockerd 26 keeps
# netns/default), overlay mounts of containers killed with it, containerd's shm mounts, and the
# bind mount of the data-root onto itself that dockerd 26 makes (and only undoes on a clean
# shutdown). Deepest first. Only call this when the daemon is not running.
strata_unmount_leftovers() {
  local m
  awk -v e="$EXEC" -v d="$DATA" \
    '$5 == e || $5 == d || index($5, e "/") == 1 || index($5, d "/") == 1 { print $5 }' \
    /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || strata_log "could not unmount $m"
  done
}

# strata_daemon CMD...: exec CMD in a session of its own with only stdin, stdout and stderr open.
# A daemon outlives its caller: any other descriptor it inherited (this script's lock, the lock of
# a caller's `flock FILE cmd`, a CI runner's pipe) would stay held or open as long as it runs, and
# whoever waits on it would wait forever. Run it in a background subshell:
#   (strata_daemon env -i PATH=... daemon args...) </dev/null >>"$LOG" 2>&1 &
strata_daemon() {
  local me=$BASHPID fd
  for fd in $(ls "/proc/$me/fd"); do
    [ "$fd" -gt 2 ] && eval "exec $fd>&-"
  done
  exec setsid "$@"
}
