#!/usr/bin/env bash
# buildkitd.sh bin|up|down|env|image ENGINE -- BuildKit without Docker: a standalone buildkitd and
# buildctl, as CI systems without a Docker engine run them, and the BuildKit image a buildx
# `docker-container` builder runs.
#
#   bin           build buildkitd and buildctl once (Go modules through the Go module proxy, no
#                 cgo: static binaries) into $STRATA_ROOT/buildkit/$VERSION/bin; print that dir.
#                 About 3-6 min on a 2-core machine; cached afterwards, like the rootfs tarballs.
#   up            start a standalone buildkitd (OCI worker, the host's runc, overlayfs) with its
#                 own state dir, socket and config; idempotent.
#   down          stop it; STRATA_BUILDKITD_PURGE=1 also deletes its state (a fresh builder).
#   env           print BUILDKIT_HOST=…, PATH=… (with buildctl) and STRATA_BUILDKIT_VERSION=…,
#                 one per line.
#   image ENGINE  import local/strata-buildkit:$VERSION into engine 28|26|20: a bookworm minbase
#                 with runc, git and the two binaries, ENTRYPOINT buildkitd (what
#                 moby/buildkit:$VERSION is, for machines that cannot pull it).
#
# Env: STRATA_BUILDKIT_VERSION (default below), STRATA_BUILDKITD_STATE (default
# /var/tmp/strata/ci-buildkitd: several buildkitds run side by side with different ones),
# STRATA_REGISTRY (host:port of a plain-HTTP registry the daemon may use, e.g. localhost:5044).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"

VERSION=${STRATA_BUILDKIT_VERSION:-v0.34.2}
ROOT=${STRATA_ROOT:-/var/tmp/strata}
BK=$ROOT/buildkit/$VERSION
BIN=$BK/bin
BKD_STATE=${STRATA_BUILDKITD_STATE:-$ROOT/ci-buildkitd}
BKD_SOCK=$BKD_STATE/buildkitd.sock
BKD_PIDFILE=$BKD_STATE/buildkitd.pid
BKD_LOG=$BKD_STATE/buildkitd.log
BKD_CONFIG=$BKD_STATE/buildkitd.toml

[ "$(id -u)" = 0 ] || strata_die "must run as root (buildkitd, image import)"

bins_ready() { [ -x "$BIN/buildkitd" ] && [ -x "$BIN/buildctl" ]; }

# A Go toolchain: the machine's (any Go >= 1.21 fetches the toolchain BuildKit's go.mod asks for
# from the module proxy, GOTOOLCHAIN=auto), else Debian trixie's Go 1.24 unpacked with dpkg -x.
find_go() {
  local g
  for g in "${STRATA_GO:-}" "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go; do
    [ -n "$g" ] && [ -x "$g" ] && { echo "$g"; return 0; }
  done
  local prefix=$ROOT/buildkit/go-trixie
  if [ ! -x "$prefix/usr/lib/go-1.24/bin/go" ]; then
    local t mirror
    t=$(mktemp -d "$ROOT/buildkit/.go.XXXXXX")
    mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$t/debs"
    mirror=$(strata_mirror)
    echo "deb $mirror trixie main" >"$t/sources.list"
    local a=(-o APT::Sandbox::User=root -o "Dir::Etc::sourcelist=$t/sources.list"
      -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$t/lists" -o "Dir::Cache=$t/cache")
    strata_log "no Go toolchain here; unpacking trixie's golang-1.24-go"
    apt-get "${a[@]}" update -qq >&2 || strata_die "apt-get update (trixie) failed"
    (cd "$t/debs" && apt-get "${a[@]}" -qq download golang-1.24-go golang-1.24-src >&2) ||
      strata_die "apt-get download golang-1.24-go failed"
    local d
    for d in "$t"/debs/*.deb; do dpkg -x "$d" "$t/root"; done
    rm -rf "$prefix"
    mv "$t/root" "$prefix"
    rm -rf "$t"
  fi
  echo "$prefix/usr/lib/go-1.24/bin/go"
}

build_bins() {
  bins_ready && return 0
  mkdir -p "$ROOT/buildkit"
  exec 8>"$ROOT/buildkit/.lock"
  flock -w 1800 8 || strata_die "timeout waiting for $ROOT/buildkit/.lock"
  if bins_ready; then
    exec 8>&-
    return 0
  fi
  local t0 go work
  t0=$(strata_now)
  go=$(find_go)
  work=$(mktemp -d "$ROOT/buildkit/.build.XXXXXX")
  strata_log "building buildkitd and buildctl $VERSION with $("$go" version | cut -d' ' -f3) (once; cached in $BIN)"
  # Own module and build caches (deleted afterwards): nothing shared with other Go users here.
  # BuildKit's go.mod has exclude directives, so `go install …@version` refuses it: download the
  # module, build inside it. CGO off and these tags are how BuildKit's own Dockerfile builds the
  # release binaries.
  local goenv=(env GOPATH="$work/gopath" GOMODCACHE="$work/mod" GOCACHE="$work/cache"
    GOFLAGS="-modcacherw -mod=mod" GOTOOLCHAIN=auto CGO_ENABLED=0
    GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}")
  local src
  src=$("${goenv[@]}" "$go" mod download -json "github.com/moby/buildkit@$VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
  if [ -z "$src" ] || [ ! -d "$src" ]; then
    rm -rf "$work"
    strata_die "cannot download github.com/moby/buildkit@$VERSION from the Go module proxy"
  fi
  mkdir -p "$work/bin"
  (cd "$src" && "${goenv[@]}" "$go" build -trimpath -tags "osusergo netgo static_build seccomp" \
    -ldflags "-s -w -X github.com/moby/buildkit/version.Version=$VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit" \
    -o "$work/bin/" ./cmd/buildkitd ./cmd/buildctl) >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    rm -rf "$work"
    strata_die "go build of BuildKit $VERSION failed"
  }
  "$work/bin/buildctl" --version >/dev/null || strata_die "the built buildctl does not run"
  mkdir -p "$BK"
  rm -rf "$BIN"
  mv "$work/bin" "$BIN"
  rm -rf "$work"
  strata_log "buildkitd and buildctl $VERSION built in $(strata_since "$t0"): $("$BIN/buildctl" --version)"
  exec 8>&-
}

daemon_pid() {
  local pid
  pid=$(cat "$BKD_PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = buildkitd ] || return 1
  echo "$pid"
}

answers() { [ -S "$BKD_SOCK" ] && "$BIN/buildctl" --addr "unix://$BKD_SOCK" debug workers >/dev/null 2>&1; }

write_config() {
  {
    echo "# written by scripts/buildkitd.sh"
    echo "root = \"$BKD_STATE/root\""
    echo "[grpc]"
    echo "  address = [\"unix://$BKD_SOCK\"]"
    # Its own tracing socket: the default, /run/buildkit/otel-grpc.sock, is one per machine.
    echo "[otel]"
    echo "  socketPath = \"$BKD_STATE/otel-grpc.sock\""
    echo "[worker.oci]"
    echo "  enabled = true"
    echo "  snapshotter = \"overlayfs\""
    echo "[worker.containerd]"
    echo "  enabled = false"
    if [ -n "${STRATA_REGISTRY:-}" ]; then
      echo "[registry.\"$STRATA_REGISTRY\"]"
      echo "  http = true"
    fi
  } >"$BKD_CONFIG"
}

up() {
  build_bins
  mkdir -p "$BKD_STATE"
  exec 9>"$BKD_STATE/up.lock"
  flock -w 600 9 || strata_die "timeout waiting for $BKD_STATE/up.lock"
  if answers; then
    strata_log "buildkitd already up on $BKD_SOCK"
    return 0
  fi
  # runc from Debian (bookworm's 1.1.5, as the Docker engines here use); git for Git contexts.
  strata_apt_install runc git
  write_config
  local pid t0
  t0=$(strata_now)
  if ! pid=$(daemon_pid); then
    rm -f "$BKD_PIDFILE" "$BKD_SOCK"
    printf '\n===== %s strata buildkitd.sh up: %s\n' "$(date -Is)" "$VERSION" >>"$BKD_LOG"
    # env -i and strata_daemon as for dockerd: the caller's environment stays out, the daemon
    # outlives the caller's process group, and it inherits no lock.
    (strata_daemon env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      "$BIN/buildkitd" --config "$BKD_CONFIG") </dev/null >>"$BKD_LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$BKD_PIDFILE"
  fi
  local deadline=$(($(date +%s) + 60))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$BKD_LOG" >&2
      strata_die "buildkitd exited before answering"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { tail -n 40 "$BKD_LOG" >&2; strata_die "buildkitd did not answer within 60 s"; }
    sleep 0.1
  done
  strata_log "buildkitd $VERSION up on $BKD_SOCK (pid $pid, $(strata_since "$t0"))"
}

down() {
  local pid t0
  t0=$(strata_now)
  if pid=$(daemon_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    strata_log "buildkitd $pid stopped in $(strata_since "$t0")"
  fi
  rm -f "$BKD_PIDFILE" "$BKD_SOCK"
  # Snapshot mounts of steps that were running when it stopped: deepest first.
  awk -v s="$BKD_STATE/" 'index($5, s) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  if [ "${STRATA_BUILDKITD_PURGE:-0}" = 1 ]; then
    rm -rf "$BKD_STATE"
    strata_log "removed $BKD_STATE"
  fi
}

# The BuildKit image for `docker buildx create --driver docker-container --driver-opt image=…`.
image() {
  strata_engine_init "${1:-}"
  "$here/docker-up.sh" "$STRATA_ENGINE"
  build_bins
  local name=local/strata-buildkit:$VERSION id stamp_file want
  stamp_file=$STATE_IMAGES/buildkit-$VERSION
  # The rootfs: a cached tarball, shared by all engines and versions (binaries are added at import).
  local pkgs="runc git ca-certificates" key tar
  key=$(printf 'buildkit|bookworm|%s|1' "$pkgs" | sha256sum | cut -c1-12)
  tar=$CACHE/buildkit-$key.tar
  want="$key $(sha256sum "$BIN/buildkitd" "$BIN/buildctl" | cut -c1-12 | tr '\n' ' ')"
  if id=$(strata_docker image inspect --format '{{.Id}}' "$name" 2>/dev/null) &&
    [ "$(cat "$stamp_file" 2>/dev/null)" = "$want $id" ]; then
    strata_log "$name is current"
    return 0
  fi
  mkdir -p "$CACHE" "$STATE_IMAGES"
  local t0 work
  t0=$(strata_now)
  exec 7>"$CACHE/.lock"
  flock -w 1800 7 || strata_die "timeout waiting for $CACHE/.lock"
  if [ ! -s "$tar" ]; then
    strata_apt_install debootstrap
    work=$(mktemp -d "$CACHE/.work.XXXXXX")
    mkdir -p "$CACHE/debootstrap"
    # shellcheck disable=SC2086 # a word list
    debootstrap --variant=minbase --include="$(echo $pkgs | tr ' ' ,)" \
      --cache-dir="$CACHE/debootstrap" bookworm "$work/root" "$(strata_mirror)" >"$work/log" 2>&1 || {
      tail -n 40 "$work/log" >&2
      rm -rf "$work"
      strata_die "debootstrap of the BuildKit image failed"
    }
    rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/archives/"*.deb \
      "$work/root/debootstrap" "$work/root/dev/"*
    : >"$work/root/etc/resolv.conf"
    tar --numeric-owner -C "$work/root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$work"
    strata_log "BuildKit image rootfs ${tar##*/} built in $(strata_since "$t0")"
  fi
  exec 7>&-
  work=$(mktemp -d)
  cp "$tar" "$work/rootfs.tar"
  mkdir -p "$work/add/usr/bin"
  install -m 0755 "$BIN/buildkitd" "$BIN/buildctl" "$work/add/usr/bin/"
  tar --numeric-owner --owner=0 --group=0 -rf "$work/rootfs.tar" -C "$work/add" ./usr/bin/buildkitd ./usr/bin/buildctl
  strata_docker import --change 'ENTRYPOINT ["buildkitd"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'VOLUME /var/lib/buildkit' \
    "$work/rootfs.tar" "$name" >/dev/null
  rm -rf "$work"
  id=$(strata_docker image inspect --format '{{.Id}}' "$name")
  echo "$want $id" >"$stamp_file"
  strata_log "$name imported into engine $STRATA_ENGINE in $(strata_since "$t0")"
}

case "${1:-}" in
  bin)
    build_bins
    echo "$BIN"
    ;;
  up) up ;;
  down) down ;;
  env)
    build_bins >&2
    echo "BUILDKIT_HOST=unix://$BKD_SOCK"
    echo "PATH=$BIN:$PATH"
    echo "STRATA_BUILDKIT_VERSION=$VERSION"
    ;;
  image)
    STATE_IMAGES=$BKD_STATE/images
    image "${2:-}"
    ;;
  *) strata_die "usage: $0 bin|up|down|env|image 28|26|20" ;;
esac
