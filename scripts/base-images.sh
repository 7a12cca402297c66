#!/usr/bin/env bash
# base-images.sh 28|28c|26|20 [busybox|python|node|rust|debian|go|static|java|jre|gradle|python+386 ...] -- make
# the local base images the tests use instead of official images (no registry is reachable here),
# in that engine's image store (without flavors: busybox, python, node; the Rust tests ask for
# rust and debian, the Go tests for go and static, the Java tests for java and jre (Gradle's for
# gradle and jre), the
# multi-platform tests for python+386):
#
#   local/strata-busybox:test  busybox-static, /bin/sh and applets (tiny, for fast tests)
#   local/strata-python:test   bookworm minbase + python3, python3-venv, python3-pip (no EXTERNALLY-MANAGED), python-is-python3
#   local/strata-node:test     bookworm minbase + nodejs, npm
#   local/strata-rust:test     trixie minbase + rustc, cargo (1.85), gcc, libc6-dev; CARGO_HOME and
#                              PATH as in the official rust image (a stand-in for rust:1-slim-bookworm)
#   local/strata-debian:test   bookworm minbase (a stand-in for debian:bookworm-slim)
#   local/strata-go:test       trixie minbase + golang-go (Go 1.24), laid out like the official
#                              golang image (GOPATH=/go, its PATH, GOTOOLCHAIN=local)
#   local/strata-static:test   a stand-in for gcr.io/distroless/static-debian12:nonroot: no shell,
#                              only /etc/passwd (root, nonroot), /tmp and a CA bundle
#   local/strata-java:test     trixie minbase + openjdk-21-jdk-headless, maven (3.9): a stand-in for
#                              maven:3-eclipse-temurin-21 (JAVA_HOME, MAVEN_HOME, CMD mvn)
#   local/strata-jre:test      trixie minbase + openjdk-21-jre-headless: a stand-in for
#                              eclipse-temurin:21-jre
#   local/strata-gradle:test   trixie minbase + openjdk-21-jdk-headless, gradle (Debian's 4.4.1, the
#                              only Gradle that installs without services.gradle.org; it runs on
#                              trixie's JDK 21): a stand-in for gradle:<version>-jdk21
#
# Java reads its own truststore, /etc/ssl/certs/java/cacerts (ca-certificates-java builds it from
# Debian's bundle when the JDK is installed), not the PEM bundle: for java, jre and gradle the host CAs
# Debian lacks (the proxy's) are imported into it too, with the host's keytool.
# FLAVOR+386 (python only) adds a linux/386 variant, made with `debootstrap --arch=i386` (i386
# binaries run natively on an x86_64 kernel, so it is a real second platform, no emulation). In
# the containerd image store (engine 28c) local/strata-FLAVOR:test then is one multi-platform
# image (linux/amd64 + linux/386), loaded from an OCI archive this script writes; the classic
# store holds one platform per tag, so there the i386 variant is local/strata-FLAVOR:test-386.
#
# Python and node carry ca-certificates plus the HOST's CA bundle over
# /etc/ssl/certs/ca-certificates.crt: HTTPS to PyPI and npm goes through an intercepting proxy
# whose CA only the host bundle holds.
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

"$here/docker-up.sh" "$STRATA_INSTANCE"

# The Debian release of each flavor: bookworm, except where a toolchain version needs a newer one.
# SUITE is set to it for the flavor being made.
suite() {
  case "$1" in
    rust) echo trixie ;; # rustc/cargo 1.85 (bookworm has 1.63)
    go) echo trixie ;;   # Go 1.24 (bookworm has 1.19)
    java | jre | gradle) echo trixie ;; # OpenJDK 21 (bookworm has 17)
    *) echo bookworm ;;
  esac
}
SUITE=bookworm
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
    # python-is-python3: official images have `python`. python3-pip, and no EXTERNALLY-MANAGED
    # marker (removed below): like the official images, whose pip installs anywhere, and which
    # Strata's pip-less virtualenvs rely on (recipe/python: make_venv).
    python) echo python3 python3-venv python3-pip python-is-python3 ;;
    # `debootstrap --include=nodejs,npm` fails (unconfigured dependencies), so these are
    # installed with apt in a chroot of the finished minbase.
    node) echo nodejs npm ;;
    # gcc and libc6-dev: rustc links through cc, as in the official image.
    rust) echo rustc cargo gcc libc6-dev ;;
    debian) ;;
    # Without recommends: no gcc, so cgo is off unless a build installs a C toolchain.
    go) echo golang-go ;;
    static) echo - ;;
    java) echo openjdk-21-jdk-headless maven ;;
    jre) echo openjdk-21-jre-headless ;;
    gradle) echo openjdk-21-jdk-headless gradle ;;
    *) strata_die "unknown image '$1' (busybox, python, node, rust, debian, go, static, java, jre, gradle)" ;;
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
    # As docker-library/golang sets it up (Debian's go is /usr/bin/go, also on this PATH).
    go)
      printf '%s\n' 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        'ENV GOPATH=/go' 'ENV GOTOOLCHAIN=local' 'WORKDIR /go' 'CMD ["bash"]'
      ;;
    # As the maven and eclipse-temurin images set them up (Debian's java and mvn are in /usr/bin).
    java)
      printf '%s\n' 'ENV JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64' 'ENV MAVEN_HOME=/usr/share/maven' \
        'ENV LANG=C.UTF-8' 'CMD ["mvn"]'
      ;;
    jre) printf '%s\n' 'ENV JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64' 'ENV LANG=C.UTF-8' ;;
    # As the gradle image sets them up (Debian's gradle is /usr/bin/gradle).
    gradle)
      printf '%s\n' 'ENV JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64' 'ENV GRADLE_HOME=/usr/share/gradle' \
        'ENV LANG=C.UTF-8' 'CMD ["gradle"]'
      ;;
    # What distroless static:nonroot's config says.
    static)
      printf '%s\n' 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' 'USER 65532:65532' \
        'WORKDIR /home/nonroot'
      ;;
  esac
}

# The Debian architecture rootfs functions build for: amd64, or i386 for the +386 variants.
ARCH=amd64

# Names the cached rootfs: only what goes into the filesystem, not the image config. Tarballs of
# other architectures are named FLAVOR-ARCH-KEY.tar; amd64 keeps the names it always had.
recipe_key() {
  local arch=
  [ "$ARCH" = amd64 ] || arch="|$ARCH"
  printf '%s|%s|%s|%s%s' "$1" "$SUITE" "$(packages "$1")" "$RECIPE_REV" "$arch" | sha256sum | cut -c1-12
}
tar_prefix() {
  if [ "$ARCH" = amd64 ]; then echo "$1"; else echo "$1-$ARCH"; fi
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

# image_current STAMP_NAME IMAGE FLAVOR: whether IMAGE is what this script last made for it.
image_current() {
  local id want
  id=$(strata_docker image inspect --format '{{.Id}}' "$2" 2>/dev/null) || return 1
  want=$(stamp "$3" "$id")
  [ "$(cat "$(stamp_file "$1")" 2>/dev/null)" = "$want" ]
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

# debootstrap once per run and architecture; python and node are derived from copies of it.
# MINBASE is set to its directory.
minbase() {
  workdir
  MINBASE=$WORK/$(tar_prefix minbase)-$SUITE
  [ -d "$MINBASE" ] && return 0
  strata_apt_install debootstrap
  local t0
  t0=$(strata_now)
  mkdir -p "$CACHE/debootstrap"
  strata_log "debootstrap --variant=minbase --arch=$ARCH $SUITE (debs cached in $CACHE/debootstrap)"
  # ca-certificates here: every Debian flavor needs it, and the host bundle is
  # written over its output later. The .deb names carry their architecture, so one cache
  # directory serves both.
  debootstrap --variant=minbase --arch="$ARCH" --include=ca-certificates \
    --cache-dir="$CACHE/debootstrap" "$SUITE" "$MINBASE" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 40 "$WORK/debootstrap.log" >&2
    strata_die "debootstrap failed"
  }
  # debootstrap writes only `deb <mirror> <suite> main`; an official image also has updates
  # and security, and tests that apt-get install in a build expect the same versions.
  rm -f "$MINBASE/etc/apt/sources.list"
  cat >"$MINBASE/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # As in the official images: package scripts must never try to start services in a build.
  printf '#!/bin/sh\nexit 101\n' >"$MINBASE/usr/sbin/policy-rc.d"
  chmod 755 "$MINBASE/usr/sbin/policy-rc.d"
  strata_log "minbase ($ARCH) ready in $(strata_since "$t0")"
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
  # A mirror may serve one stale index (seen: bookworm-security's i386 Packages.xz, whose size
  # no longer matched the Release file). apt then ignores that index and says so: go
  # on, as strata_apt_install does, and let the install say whether anything is really missing.
  "${run[@]}" update -qq >"$WORK/apt.log" 2>&1 || {
    strata_log "warning: apt-get update in the $SUITE chroot ($ARCH) failed; installing from the lists it got:"
    grep '^[EW]:' "$WORK/apt.log" | head -n 5 >&2 || true
  }
  "${run[@]}" install -y -qq --no-install-recommends "$@" >>"$WORK/apt.log" 2>&1 || {
    tail -n 40 "$WORK/apt.log" >&2
    strata_die "apt-get install $* in the $SUITE chroot failed"
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
# build_static OUT: distroless static's layout without Debian: users, /tmp, a CA bundle (the
# host's goes over it in ca_tar). No shell, no libc: only static binaries run on it.
build_static() {
  local out=$1 root=$WORK/static
  workdir
  mkdir -p "$root"/{etc/ssl/certs,tmp,root,home/nonroot}
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  chown 65532:65532 "$root/home/nonroot"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$root/etc/group"
  install -m 0644 "$HOST_CA" "$root/etc/ssl/certs/ca-certificates.crt"
  tar_rootfs "$root" "$out"
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
  local flavor=$1 out=$2 root
  minbase
  root=$WORK/$(tar_prefix "$flavor")
  cp -a "$MINBASE" "$root"
  local t0
  t0=$(strata_now)
  # shellcheck disable=SC2046 # package list is a word list
  chroot_apt "$root" $(packages "$flavor")
  if [ "$flavor" = python ]; then
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  fi
  if [ "$flavor" = go ]; then
    # The official image's GOPATH, writable by any user.
    mkdir -p "$root/go/src" "$root/go/bin"
    chmod -R 1777 "$root/go"
  fi
  strata_log "$flavor ($ARCH): apt-get install $(packages "$flavor") in $(strata_since "$t0")"
  strip_rootfs "$root"
  tar_rootfs "$root" "$out"
  rm -rf "$root"
}

# base_tar FLAVOR: sets TAR to the cached rootfs (Debian's own CA bundle), built if missing.
# Results go through a global, not $(...): a subshell would lose WORK (and its minbase, which
# python and node share) and skip the cleanup trap.
base_tar() {
  local flavor=$1 key prefix
  key=$(recipe_key "$flavor")
  prefix=$(tar_prefix "$flavor")
  TAR=$CACHE/$prefix-$key.tar
  [ -s "$TAR" ] && return 0
  local t0
  t0=$(strata_now)
  strata_log "building rootfs for $flavor, $ARCH (no cached ${TAR##*/})"
  case "$flavor" in
    busybox) build_busybox "$TAR" ;;
    static) build_static "$TAR" ;;
    *) build_debian "$flavor" "$TAR" ;;
  esac
  # Tarballs of older recipes (and their CA variants) are dead weight; other architectures' are not.
  local others=()
  [ "$ARCH" != amd64 ] || others=(! -name "$flavor-i386-*")
  find "$CACHE" -maxdepth 1 -name "$prefix-*.tar" ! -name "$prefix-$key.*" "${others[@]}" -delete
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
  stage=$WORK/ca-$(tar_prefix "$flavor")
  mkdir -p "$stage/etc/ssl/certs"
  install -m 0644 "$HOST_CA" "$stage/etc/ssl/certs/ca-certificates.crt"
  cp "$base" "$TAR.tmp"
  tar --delete -f "$TAR.tmp" ./etc/ssl/certs/ca-certificates.crt
  tar --numeric-owner --owner=0 --group=0 -rf "$TAR.tmp" -C "$stage" ./etc/ssl/certs/ca-certificates.crt
  if [ "$flavor" = java ] || [ "$flavor" = jre ] || [ "$flavor" = gradle ]; then
    java_truststore "$base" "$stage"
    tar --delete -f "$TAR.tmp" ./etc/ssl/certs/java/cacerts
    tar --numeric-owner --owner=0 --group=0 -rf "$TAR.tmp" -C "$stage" ./etc/ssl/certs/java/cacerts
  fi
  mv "$TAR.tmp" "$TAR"
  # Variants for other (older) bundles would never be used again.
  local b=${base##*/}
  find "$CACHE" -maxdepth 1 -name "${b%.tar}.ca-*.tar" ! -name "${TAR##*/}" -delete
  strata_log "host CA bundle ${CA_SHA:0:16} put into ${TAR##*/} in $(strata_since "$t0")"
}

# split_pem BUNDLE DIR: one file per certificate, DIR/0001.pem…
split_pem() {
  mkdir -p "$2"
  awk -v d="$2" '/-----BEGIN CERTIFICATE-----/ { n++; f = sprintf("%s/%04d.pem", d, n) }
    f { print > f } /-----END CERTIFICATE-----/ { close(f); f = "" }' "$1"
}

# java_truststore BASE_TAR STAGE: STAGE/etc/ssl/certs/java/cacerts, the rootfs's own Java
# truststore plus every certificate of the host bundle that the rootfs's Debian bundle lacks.
java_truststore() {
  local base=$1 stage=$2 ex=$WORK/java-ca f sum n=0
  # keytool puts the host CA into Java's truststore; a fresh machine may lack a JDK.
  command -v keytool >/dev/null || strata_apt_install default-jre-headless
  command -v keytool >/dev/null || strata_die "keytool (a JRE) is needed on the host to put the host CA into Java's truststore"
  rm -rf "$ex"
  mkdir -p "$ex/rootfs" "$stage/etc/ssl/certs/java"
  tar -xf "$base" -C "$ex/rootfs" ./etc/ssl/certs/ca-certificates.crt ./etc/ssl/certs/java/cacerts
  split_pem "$ex/rootfs/etc/ssl/certs/ca-certificates.crt" "$ex/debian"
  split_pem "$HOST_CA" "$ex/host"
  for f in "$ex"/debian/*.pem; do tr -d ' \r\n\t' <"$f" | sha256sum | cut -c1-64; done >"$ex/known"
  cp "$ex/rootfs/etc/ssl/certs/java/cacerts" "$stage/etc/ssl/certs/java/cacerts"
  for f in "$ex"/host/*.pem; do
    sum=$(tr -d ' \r\n\t' <"$f" | sha256sum | cut -c1-64)
    grep -qx "$sum" "$ex/known" && continue
    n=$((n + 1))
    keytool -importcert -noprompt -trustcacerts -alias "strata-host-$n" -file "$f" \
      -keystore "$stage/etc/ssl/certs/java/cacerts" -storepass changeit >"$ex/keytool.log" 2>&1 || {
      cat "$ex/keytool.log" >&2
      strata_die "keytool could not import ${f##*/} of the host bundle into Java's truststore"
    }
  done
  chmod 0644 "$stage/etc/ssl/certs/java/cacerts"
  strata_log "$n host CA certificate(s) imported into Java's truststore"
}

# ---------------------------------------------------------------------------------------------
# importing

# flavor_tar FLAVOR: sets TAR to the tarball the FLAVOR image of $ARCH is made from.
flavor_tar() {
  # Several engines' runs may build at once; the cache is shared, so one builder at a time.
  exec 7>"$CACHE/.lock"
  flock -w 1800 7 || strata_die "timeout waiting for $CACHE/.lock"
  if uses_host_ca "$1"; then ca_tar "$1"; else base_tar "$1"; fi
  exec 7>&-
}

# import_tar FLAVOR TAR NAME [PLATFORM]: `docker import` with the flavor's config.
import_tar() {
  local args=()
  while IFS= read -r c; do args+=(--change "$c"); done < <(changes "$1")
  [ -z "${4:-}" ] || args+=(--platform "$4")
  strata_docker import "${args[@]}" --message "strata test base image ($1, $SUITE)" "$2" "$3" >/dev/null
}

# The replaced image would linger as <none> (hundreds of MB); keep it only if a container uses it.
remove_replaced() {
  if [ -n "$1" ] && [ "$1" != "$2" ]; then
    strata_docker rmi "$1" >/dev/null 2>&1 || true
  fi
}

# oci_image_config FLAVOR ARCH DIFF_ID: the image config of one platform: the Env and Cmd the
# `docker import --change` lines give the other images, and no time, so the same rootfs always
# gives the same config digest.
oci_image_config() {
  local env=() cmd=null line
  while IFS= read -r line; do
    case "$line" in
      ENV\ *) env+=("${line#ENV }") ;;
      CMD\ *) cmd=${line#CMD } ;;
    esac
  done < <(changes "$1")
  jq -cn --arg arch "$2" --arg diff "$3" --argjson cmd "$cmd" --arg by "strata test base image ($1, $SUITE)" \
    '{architecture: $arch, os: "linux", config: {Env: $ARGS.positional, Cmd: $cmd},
      rootfs: {type: "layers", diff_ids: [$diff]}, history: [{created_by: $by}]}' \
    --args "${env[@]}"
}

# blob DIR FILE: stores FILE in the OCI layout DIR (hard-linked: the rootfs tarballs are large);
# prints its digest and size.
blob() {
  local sum size
  sum=$(sha256sum "$2" | cut -c1-64)
  size=$(stat -c %s "$2")
  ln -f "$2" "$1/blobs/sha256/$sum" 2>/dev/null || cp "$2" "$1/blobs/sha256/$sum"
  echo "sha256:$sum $size"
}

# load_multi FLAVOR NAME TAR_AMD64 TAR_I386: NAME as one image for linux/amd64 and linux/386, from
# an OCI layout (an index of two manifests, each one uncompressed layer) streamed to `docker load`.
# Only the containerd image store keeps such an image whole.
load_multi() {
  local flavor=$1 name=$2 oci digest size entries=() arch tar d s
  workdir
  oci=$WORK/oci-$flavor
  rm -rf "$oci"
  mkdir -p "$oci/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
  for arch in amd64 386; do
    tar=$3
    [ "$arch" = amd64 ] || tar=$4
    read -r digest size < <(blob "$oci" "$tar")
    local layer="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$digest\",\"size\":$size}"
    oci_image_config "$flavor" "$arch" "$digest" >"$oci/config.json"
    read -r d s < <(blob "$oci" "$oci/config.json")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
      "$d" "$s" "$layer" >"$oci/manifest.json"
    read -r d s < <(blob "$oci" "$oci/manifest.json")
    entries+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$d\",\"size\":$s,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}")
    rm -f "$oci/config.json" "$oci/manifest.json"
  done
  local IFS=,
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
    "${entries[*]}" >"$oci/list.json"
  unset IFS
  read -r d s < <(blob "$oci" "$oci/list.json")
  rm -f "$oci/list.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$d" "$s" "$name" "${name##*:}" >"$oci/index.json"
  tar -C "$oci" -cf - . | strata_docker load >/dev/null
  rm -rf "$oci"
}

t_all=$(strata_now)
for want in "${flavors[@]}"; do
  flavor=${want%+386}
  SUITE=$(suite "$flavor")
  packages "$flavor" >/dev/null
  name=local/strata-$flavor:test
  if [ "$want" = "$flavor" ]; then
    if [ "${FORCE:-0}" != 1 ] && image_current "$flavor" "$name" "$flavor"; then
      strata_log "$name is current; skipped (FORCE=1 re-imports)"
      continue
    fi
    t0=$(strata_now)
    flavor_tar "$flavor"
    t1=$(strata_now)
    old_id=$(strata_docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
    import_tar "$flavor" "$TAR" "$name"
    id=$(strata_docker image inspect --format '{{.Id}}' "$name")
    stamp "$flavor" "$id" >"$(stamp_file "$flavor")"
    remove_replaced "$old_id" "$id"
    strata_log "$name imported from ${TAR##*/} in $(strata_since "$t1") (total $(strata_since "$t0"))"
    continue
  fi

  # FLAVOR+386
  [ "$want" = python+386 ] || strata_die "unknown image '$want' (a linux/386 variant is made of python only)"
  multi=$name
  [ "$CONTAINERD_STORE" = 1 ] || multi=local/strata-$flavor:test-386
  if [ "${FORCE:-0}" != 1 ] && ARCH=i386 image_current "$want" "$multi" "$flavor"; then
    strata_log "$multi (linux/386) is current; skipped (FORCE=1 re-imports)"
    continue
  fi
  t0=$(strata_now)
  flavor_tar "$flavor"
  tar_amd64=$TAR
  ARCH=i386
  flavor_tar "$flavor"
  tar_i386=$TAR
  t1=$(strata_now)
  old_id=$(strata_docker image inspect --format '{{.Id}}' "$multi" 2>/dev/null || true)
  if [ "$CONTAINERD_STORE" = 1 ]; then
    strata_apt_install jq
    load_multi "$flavor" "$multi" "$tar_amd64" "$tar_i386"
    what="linux/amd64 + linux/386"
  else
    import_tar "$flavor" "$tar_i386" "$multi" linux/386
    what="linux/386"
  fi
  id=$(strata_docker image inspect --format '{{.Id}}' "$multi")
  stamp "$flavor" "$id" >"$(stamp_file "$want")"
  ARCH=amd64
  # The plain tag was made by the other branch; it is no longer what that stamp says.
  [ "$multi" != "$name" ] || rm -f "$(stamp_file "$flavor")"
  remove_replaced "$old_id" "$id"
  strata_log "$multi ($what) imported in $(strata_since "$t1") (total $(strata_since "$t0"))"
done
strata_log "base images done in $(strata_since "$t_all")"
