#!/usr/bin/env bash
# base-images.sh 28|26|20 [busybox|python|node|rust|debian ...] -- make the local base images the
# tests use instead of official images (no registry is reachable here), in that engine's image
# store (without flavors: busybox, python, node; the Rust tests ask for rust and debian):
#
#   local/strata-busybox:test  busybox-static, /bin/sh and applets (tiny, for fast tests)
#   local/strata-python:test   bookworm minbase + python3, python3-venv, python-is-python3
#   local/strata-node:test     bookworm minbase + nodejs, npm
#   local/strata-rust:test     trixie minbase + rustc, cargo (1.85), gcc, libc6-dev; CARGO_HOME and
#                              PATH as in the official rust image (a stand-in for rust:1-slim-bookworm)
#   local/strata-debian:test   bookworm minbase (a stand-in for debian:bookworm-slim)
#
# The Debian images carry ca-certificates plus the HOST's CA bundle over
# /etc/ssl/certs/ca-certificates.crt: HTTPS to PyPI, npm and crates.io goes through an
# intercepting proxy whose CA only the host bundle holds.
#
# The rootfs tarballs are cached under $STRATA_CACHE (default /var/tmp/strata/rootfs) for all
# engines: the first run debootstraps (about 1.5 min), later runs and the other engines only
# import (seconds). The cached tarball a given image is imported from is keyed on the host CA
# bundle's sha256, so a bundle that changed since (new boot, new proxy CA) is never baked in.
# Idempotent: an image is skipped when this script imported it from the same recipe and CA
# bundle and it is still there; FORCE=1 re-imports. Starts the engine if it is not up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"
strata_engine_init "${1:-}"
shift
flavors=("$@")
[ ${#flavors[@]} -gt 0 ] || flavors=(busybox python node)

"$here/docker-up.sh" "$STRATA_ENGINE"

# The Debian release of each flavor: bookworm, except where a toolchain version needs a newer one.
suite() {
  case "$1" in
    rust) echo trixie ;; # rustc/cargo 1.85 (bookworm has 1.63)
    *) echo bookworm ;;
  esac
}
HOST_CA=${STRATA_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
CA_SHA=$(sha256sum "$HOST_CA" | cut -c1-64)
MIRROR=$(strata_mirror)
SECURITY_MIRROR=${STRATA_DEBIAN_SECURITY_MIRROR:-$(awk '/^URIs:/ && /security/ { print $2; exit }' \
  /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Bump when the way a rootfs is made changes, so cached tarballs are rebuilt.
RECIPE_REV=2
# The official images' PATH; tests and the frontend inherit it from the image config.
ENV_PATH=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

mkdir -p "$CACHE" "$STATE/images"

packages() {
  case "$1" in
    busybox) echo busybox-static ;;
    # python-is-python3: official images have `python`, and recipes call `python -m venv`.
    python) echo python3 python3-venv python-is-python3 ;;
    # `debootstrap --include=nodejs,npm` fails (unconfigured dependencies), so these are
    # installed with apt in a chroot of the finished minbase.
    node) echo nodejs npm ;;
    # gcc and libc6-dev: rustc links through cc, as in the official image.
    rust) echo rustc cargo gcc libc6-dev ;;
    debian) ;;
    *) strata_die "unknown image '$1' (busybox, python, node, rust, debian)" ;;
  esac
}

# Image config as in the official images: PATH, LANG for python, the default command.
changes() {
  printf '%s\n' "ENV $ENV_PATH"
  case "$1" in
    busybox) printf '%s\n' 'CMD ["sh"]' ;;
    python)
      printf '%s\n' 'ENV LANG=C.UTF-8'
      # Debian's pip (also in a `python3 -m venv`) already reads the system bundle, and pip >= 24.2
      # uses the system store through truststore. But uv (webpki roots) and requests/poetry
      # (certifi) inside builds only trust the proxy's CA when pointed at the system bundle.
      # Official images don't set these; STRATA_CA_ENV=0 leaves them out.
      if [ "${STRATA_CA_ENV:-1}" != 0 ]; then
        printf '%s\n' 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
          'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt'
      fi
      printf '%s\n' 'CMD ["python3"]'
      ;;
    node) printf '%s\n' 'CMD ["node"]' ;;
    # Debian's cargo is /usr/bin/cargo; CARGO_HOME (registry, git) where the official image has it.
    rust) printf '%s\n' 'ENV CARGO_HOME=/usr/local/cargo' \
      'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'CMD ["bash"]' ;;
    debian) printf '%s\n' 'CMD ["bash"]' ;;
  esac
}

# Names the cached rootfs: only what goes into the filesystem, not the image config.
recipe_key() {
  printf '%s|%s|%s|%s' "$1" "$(suite "$1")" "$(packages "$1")" "$RECIPE_REV" | sha256sum | cut -c1-12
}

uses_host_ca() { [ "$1" != busybox ]; }

# Where this script records what it imported. No labels on the images: tests compare image
# configs, and official images carry none of ours.
stamp_file() { echo "$STATE/images/$1"; }
stamp() {
  local ca=-
  uses_host_ca "$1" && ca=$CA_SHA
  echo "$(recipe_key "$1") $(changes "$1" | sha256sum | cut -c1-12) $ca $2"
}

image_current() {
  local flavor=$1 id want
  id=$(strata_docker image inspect --format '{{.Id}}' "local/strata-$flavor:test" 2>/dev/null) || return 1
  want=$(stamp "$flavor" "$id")
  [ "$(cat "$(stamp_file "$flavor")" 2>/dev/null)" = "$want" ]
}

# ---------------------------------------------------------------------------------------------
# rootfs building (only when a cached tarball is missing)

WORK=
cleanup() {
  [ -n "$WORK" ] || return 0
  # Mounts debootstrap or our chroot left if a step failed: deepest first, never rm through them.
  awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

workdir() {
  [ -n "$WORK" ] || WORK=$(mktemp -d "$CACHE/.work.XXXXXX")
}

# minbase SUITE: debootstrap once per run and suite, into $WORK/minbase-SUITE; the flavors of that
# suite are derived from copies of it.
minbase() {
  local suite=$1 mb
  workdir
  mb=$WORK/minbase-$suite
  [ -d "$mb" ] && return 0
  strata_apt_install debootstrap
  local t0
  t0=$(strata_now)
  mkdir -p "$CACHE/debootstrap"
  strata_log "debootstrap --variant=minbase $suite (debs cached in $CACHE/debootstrap)"
  # ca-certificates here: every Debian flavor needs it, and the host bundle is
  # written over its output later.
  debootstrap --variant=minbase --include=ca-certificates --cache-dir="$CACHE/debootstrap" \
    "$suite" "$mb" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 40 "$WORK/debootstrap.log" >&2
    strata_die "debootstrap failed"
  }
  # debootstrap writes only `deb <mirror> <suite> main`; an official image also has updates
  # and security, and tests that apt-get install in a build expect the same versions.
  rm -f "$mb/etc/apt/sources.list"
  cat >"$mb/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # As in the official images: package scripts must never try to start services in a build.
  printf '#!/bin/sh\nexit 101\n' >"$mb/usr/sbin/policy-rc.d"
  chmod 755 "$mb/usr/sbin/policy-rc.d"
  strata_log "minbase $suite ready in $(strata_since "$t0")"
}

# chroot_apt ROOT PKG...: apt-get install in the rootfs, .debs cached across runs.
chroot_apt() {
  local root=$1
  shift
  [ $# -gt 0 ] || return 0
  mkdir -p "$CACHE/apt-archives/partial"
  mount -t proc proc "$root/proc"
  mount --bind "$CACHE/apt-archives" "$root/var/cache/apt/archives"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  local run=(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
    DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-unsafe-io)
  { "${run[@]}" update -qq && "${run[@]}" install -y -qq --no-install-recommends "$@"; } \
    >"$WORK/apt.log" 2>&1 || {
    tail -n 40 "$WORK/apt.log" >&2
    strata_die "apt-get install $* in the ${root##*/} chroot failed"
  }
  umount "$root/var/cache/apt/archives"
  umount "$root/proc"
}

# strip ROOT: what official images don't ship, and host details debootstrap copied in.
strip_rootfs() {
  local r=${1:?}
  # debootstrap leaves its .debs in the target even with --cache-dir.
  rm -rf "${r:?}"/var/lib/apt/lists/* "${r:?}"/var/cache/apt/*.bin "${r:?}"/var/log/apt/* \
    "${r:?}"/var/cache/apt/archives/*.deb "${r:?}/debootstrap" "${r:?}"/dev/* "${r:?}"/tmp/* \
    "${r:?}"/root/.cache
  # docker mounts its own resolv.conf/hostname over these in every container and build step.
  : >"$r/etc/resolv.conf"
  : >"$r/etc/hostname"
}

# tar_rootfs ROOT OUT: reproducible-enough, numeric owners, written atomically.
tar_rootfs() {
  tar --numeric-owner -C "$1" -cf "$2.tmp" . && mv "$2.tmp" "$2"
}

build_busybox() {
  local out=$1 deb root
  workdir
  mkdir -p "$WORK/bb-deb"
  # The host's lists may be missing on a fresh machine: refresh once and retry.
  (cd "$WORK/bb-deb" && { apt-get -qq download busybox-static 2>/dev/null ||
    { apt-get "${STRATA_APT_OPTS[@]}" update -qq && apt-get -qq download busybox-static; }; }) ||
    strata_die "apt-get download busybox-static failed"
  deb=$(echo "$WORK"/bb-deb/busybox-static_*.deb)
  dpkg -x "$deb" "$WORK/bb-x"
  root=$WORK/busybox
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,var/tmp} "$root/tmp"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  cp "$WORK/bb-x/bin/busybox" "$root/bin/busybox"
  local a
  for a in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar_rootfs "$root" "$out"
}

build_debian() {
  local flavor=$1 out=$2 root suite
  suite=$(suite "$flavor")
  minbase "$suite"
  root=$WORK/$flavor
  cp -a "$WORK/minbase-$suite" "$root"
  local t0
  t0=$(strata_now)
  # shellcheck disable=SC2046 # package list is a word list
  chroot_apt "$root" $(packages "$flavor")
  strata_log "$flavor: apt-get install $(packages "$flavor") in $(strata_since "$t0")"
  strip_rootfs "$root"
  tar_rootfs "$root" "$out"
  rm -rf "$root"
}

# base_tar FLAVOR: sets TAR to the cached rootfs (Debian's own CA bundle), built if missing.
# Results go through a global, not $(...): a subshell would lose WORK (and its minbase, which
# python and node share) and skip the cleanup trap.
base_tar() {
  local flavor=$1 key
  key=$(recipe_key "$flavor")
  TAR=$CACHE/$flavor-$key.tar
  [ -s "$TAR" ] && return 0
  local t0
  t0=$(strata_now)
  strata_log "building rootfs for $flavor (no cached ${TAR##*/})"
  if [ "$flavor" = busybox ]; then build_busybox "$TAR"; else build_debian "$flavor" "$TAR"; fi
  # Tarballs of older recipes (and their CA variants) are dead weight.
  find "$CACHE" -maxdepth 1 -name "$flavor-*.tar" ! -name "$flavor-$key.*" -delete
  strata_log "rootfs ${TAR##*/} ($(du -m "$TAR" | cut -f1) MB) built in $(strata_since "$t0")"
}

# ca_tar FLAVOR: sets TAR to base_tar with the host CA bundle swapped in, keyed on the bundle's
# sha256. Rewriting one member of a copy takes seconds; rebuilding the rootfs, a minute or more.
ca_tar() {
  local flavor=$1 base stage
  base_tar "$flavor"
  base=$TAR
  TAR=${base%.tar}.ca-${CA_SHA:0:16}.tar
  [ -s "$TAR" ] && return 0
  local t0
  t0=$(strata_now)
  workdir
  stage=$WORK/ca-$flavor
  mkdir -p "$stage/etc/ssl/certs"
  install -m 0644 "$HOST_CA" "$stage/etc/ssl/certs/ca-certificates.crt"
  cp "$base" "$TAR.tmp"
  tar --delete -f "$TAR.tmp" ./etc/ssl/certs/ca-certificates.crt
  tar --numeric-owner --owner=0 --group=0 -rf "$TAR.tmp" -C "$stage" ./etc/ssl/certs/ca-certificates.crt
  mv "$TAR.tmp" "$TAR"
  # Variants for other (older) bundles would never be used again.
  local b=${base##*/}
  find "$CACHE" -maxdepth 1 -name "${b%.tar}.ca-*.tar" ! -name "${TAR##*/}" -delete
  strata_log "host CA bundle ${CA_SHA:0:16} put into ${TAR##*/} in $(strata_since "$t0")"
}

# ---------------------------------------------------------------------------------------------

t_all=$(strata_now)
for flavor in "${flavors[@]}"; do
  packages "$flavor" >/dev/null
  name=local/strata-$flavor:test
  if [ "${FORCE:-0}" != 1 ] && image_current "$flavor"; then
    strata_log "$name is current; skipped (FORCE=1 re-imports)"
    continue
  fi
  t0=$(strata_now)
  # Several engines' runs may build at once; the cache is shared, so one builder at a time.
  exec 7>"$CACHE/.lock"
  flock -w 1800 7 || strata_die "timeout waiting for $CACHE/.lock"
  if uses_host_ca "$flavor"; then ca_tar "$flavor"; else base_tar "$flavor"; fi
  exec 7>&-
  t1=$(strata_now)
  old_id=$(strata_docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
  args=()
  while IFS= read -r c; do args+=(--change "$c"); done < <(changes "$flavor")
  strata_docker import "${args[@]}" --message "strata test base image ($flavor, $(suite "$flavor"))" \
    "$TAR" "$name" >/dev/null
  id=$(strata_docker image inspect --format '{{.Id}}' "$name")
  stamp "$flavor" "$id" >"$(stamp_file "$flavor")"
  # The replaced image would linger as <none> (hundreds of MB); keep it only if a container uses it.
  if [ -n "$old_id" ] && [ "$old_id" != "$id" ]; then
    strata_docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
  strata_log "$name imported from ${TAR##*/} in $(strata_since "$t1") (total $(strata_since "$t0"))"
done
strata_log "base images done in $(strata_since "$t_all")"
