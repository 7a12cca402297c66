#!/usr/bin/env bash
# Build BuildKit's official Dockerfile frontend (`dockerfile-frontend`, BuildKit
# v0.13 as shipped in Debian trixie's golang-github-docker-docker-dev) from
# Debian source packages, without a container registry or the Go module proxy,
# and package it as a `# syntax=` image.
#
#   bench/dockerfile-frontend/build.sh            # build (cached) + import if an engine answers
#   DOCKER_HOST=unix:///path/d26.sock bench/dockerfile-frontend/build.sh
#
# What it does (each phase is timed):
#   1. apt-update  private apt state for trixie under $WORK/apt (the system's
#                  /var/lib/apt and dpkg database are never touched).
#   2. resolve     recursive golang-* dependency closure of the root packages
#                  below; the exact package versions form the build stamp.
#   3. download    `apt-get download` of the missing .debs into $WORK/debs.
#   4. extract     `dpkg -x` of every .deb into $WORK/root (a GOPATH + GOROOT).
#   5. go-build    GOPATH build (GO111MODULE=off CGO_ENABLED=0) with trixie's
#                  static Go toolchain, flags as in upstream's Dockerfile.
#   6. rootfs      $WORK/rootfs.tar holding only /bin/dockerfile-frontend.
#   7. import      `docker import` as $IMAGE with ENTRYPOINT and the labels of
#                  the official docker/dockerfile image, when `docker version`
#                  answers (DOCKER_HOST as set by the caller).
# Phases 3-5 are skipped when $WORK/out/dockerfile-frontend exists and the
# stamp (package versions + build flags) is unchanged; 7 is skipped when the
# image already carries the binary's sha256.
#
# Environment knobs:
#   STRATA_DF_WORK     work/cache dir     (default /var/tmp/strata/dockerfile-frontend)
#   STRATA_DF_IMAGE    image reference    (default local/dockerfile-frontend:debian)
#   STRATA_DF_MIRROR   Debian mirror URL  (default: the system's debian.sources, else deb.debian.org)
#   STRATA_DF_SUITE    Debian suite       (default trixie)
#   STRATA_DF_GO       Go toolchain pkg   (default golang-1.24-go)
#   STRATA_DF_FORCE=1  rebuild even if the stamp matches
#   STRATA_DF_IMPORT   auto (default) | 0 (never import) | 1 (fail if no engine)
#   STRATA_DF_KEEP_ROOT=1  keep the 1.4 GB extracted tree after a build
#                          (default: removed; the .debs stay cached)
set -euo pipefail

WORK=${STRATA_DF_WORK:-/var/tmp/strata/dockerfile-frontend}
IMAGE=${STRATA_DF_IMAGE:-local/dockerfile-frontend:debian}
SUITE=${STRATA_DF_SUITE:-trixie}
GO_PKG=${STRATA_DF_GO:-golang-1.24-go}
FORCE=${STRATA_DF_FORCE:-0}
IMPORT=${STRATA_DF_IMPORT:-auto}
KEEP_ROOT=${STRATA_DF_KEEP_ROOT:-0}

# Root packages. docker-docker-dev carries the BuildKit source under
# /usr/share/gocode/src/github.com/moby/buildkit, but its Depends only cover
# what moby itself imports: the frontend also needs the four libraries below
# (found with `go list -e -deps`; the build stops with a list if more are missing).
ROOT_PKGS=(
  golang-github-docker-docker-dev
  "$GO_PKG"
  golang-github-agext-levenshtein-dev             # github.com/agext/levenshtein
  golang-github-google-shlex-dev                  # github.com/google/shlex
  golang-github-gofrs-flock-dev                   # github.com/gofrs/flock
  golang-github-containerd-stargz-snapshotter-dev # .../stargz-snapshotter/estargz
)
# golang-github-golang-protobuf-1-3-dev and -1-5-dev ship the same files under
# github.com/golang/protobuf ("Buffer redeclared" when both are unpacked):
# keep 1-5 only.
EXCLUDE_RE='^golang-github-golang-protobuf-1-3-dev$'

# Upstream: frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile
GO_TAGS="netgo static_build osusergo"
SRC_PKG=github.com/moby/buildkit
MAIN_PKG=./frontend/dockerfile/cmd/dockerfile-frontend

LABEL_NETWORK='moby.buildkit.frontend.network.none=true'
LABEL_CAPS='moby.buildkit.frontend.caps=moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts'
LABEL_SHA=org.strata.dockerfile-frontend.sha256

log() { printf '[dockerfile-frontend] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

T_ALL=$(date +%s.%N)
TIMINGS=()
phase_start() { PHASE=$1; T0=$(date +%s.%N); log "== $PHASE"; }
phase_end() {
  local dt; dt=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  TIMINGS+=("$(printf '%-11s %6ss  %s' "$PHASE" "$dt" "${1:-}")")
  log "   $PHASE: ${dt}s ${1:-}"
}

[ "$(id -u)" = 0 ] || die "run as root (apt-get download / dpkg -x into $WORK)"
for t in apt-get apt-cache dpkg tar sha256sum flock od; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done

mkdir -p "$WORK"
exec 9>"$WORK/.lock"
flock -n 9 || { log "another build holds $WORK/.lock; waiting"; flock 9; }

# ---------------------------------------------------------------- apt setup
if [ -z "${STRATA_DF_MIRROR:-}" ]; then
  STRATA_DF_MIRROR=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$STRATA_DF_MIRROR" ]; then
    STRATA_DF_MIRROR=$(awk '$1=="deb" && $0 ~ /bookworm/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list 2>/dev/null || true)
  fi
  : "${STRATA_DF_MIRROR:=http://deb.debian.org/debian}"
fi
APT_DIR=$WORK/apt
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/preferences.d" "$WORK/debs"
echo "deb [target=Packages] $STRATA_DF_MIRROR $SUITE main" > "$APT_DIR/sources.list"
: > "$APT_DIR/status"   # empty dpkg status: nothing counts as installed
APT_OPTS=(
  -o "Dir::Etc::sourcelist=$APT_DIR/sources.list"
  -o "Dir::Etc::sourceparts=-"
  -o "Dir::Etc::preferencesparts=$APT_DIR/preferences.d"
  -o "Dir::Etc::preferences=$APT_DIR/preferences"
  -o "Dir::State::Lists=$APT_DIR/lists"
  -o "Dir::State::status=$APT_DIR/status"
  -o "Dir::Cache=$APT_DIR/cache"
  -o "APT::Architectures::=amd64"
  -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=root"
)
: > "$APT_DIR/preferences"

# ---------------------------------------------------------------- 1. update
phase_start apt-update
if apt-get "${APT_OPTS[@]}" -qq update >"$WORK/apt-update.log" 2>&1; then
  phase_end "$SUITE from $STRATA_DF_MIRROR"
else
  if ls "$APT_DIR"/lists/*_Packages* >/dev/null 2>&1; then
    log "apt-get update failed (see $WORK/apt-update.log); using the cached lists"
    phase_end "FAILED, cached lists used"
  else
    cat "$WORK/apt-update.log" >&2
    die "apt-get update for $SUITE failed and no cached lists exist"
  fi
fi

# ---------------------------------------------------------------- 2. resolve
phase_start resolve
mapfile -t PKGS < <(
  apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances "${ROOT_PKGS[@]}" |
    grep -E '^golang-' | grep -Ev "$EXCLUDE_RE" | LC_ALL=C sort -u)
[ "${#PKGS[@]}" -gt 50 ] || die "dependency closure suspiciously small (${#PKGS[@]} packages)"
# "URI" filename size hash, one line per package; the file names carry the versions.
apt-get "${APT_OPTS[@]}" -qq --print-uris download "${PKGS[@]}" > "$WORK/uris.txt"
[ "$(wc -l < "$WORK/uris.txt")" -eq "${#PKGS[@]}" ] ||
  die "apt-get --print-uris returned $(wc -l < "$WORK/uris.txt") lines for ${#PKGS[@]} packages"
mapfile -t DEBS < <(awk '{print $2}' "$WORK/uris.txt" | LC_ALL=C sort)
DOCKER_DEV_DEB=$(printf '%s\n' "${DEBS[@]}" | grep '^golang-github-docker-docker-dev_')
DOCKER_DEV_VERSION=${DOCKER_DEV_DEB#*_}; DOCKER_DEV_VERSION=${DOCKER_DEV_VERSION%_*}
DOCKER_DEV_VERSION=${DOCKER_DEV_VERSION//%3a/:}
GO_VERSION_DEB=$(printf '%s\n' "${DEBS[@]}" | grep "^${GO_PKG}_"); GO_VERSION_DEB=${GO_VERSION_DEB#*_}; GO_VERSION_DEB=${GO_VERSION_DEB%_*}
FE_VERSION="debian-${DOCKER_DEV_VERSION}"
LDFLAGS="-d -s -w -X main.Version=${FE_VERSION} -X main.Revision=${SUITE}-golang-github-docker-docker-dev"
STAMP=$( { printf '%s\n' "${DEBS[@]}"; echo "tags=$GO_TAGS"; echo "ldflags=$LDFLAGS"; echo "main=$MAIN_PKG"; } |
  sha256sum | cut -c1-64)
phase_end "${#PKGS[@]} packages; docker-dev $DOCKER_DEV_VERSION, $GO_PKG $GO_VERSION_DEB"

OUT=$WORK/out/dockerfile-frontend
ROOT=$WORK/root
GOROOT_DIR=$ROOT/usr/lib/go-${GO_PKG#golang-}; GOROOT_DIR=${GOROOT_DIR%-go}
GOPATH_DIR=$ROOT/usr/share/gocode

is_static_elf() {  # no PT_INTERP program header => statically linked
  local f=$1 magic phoff phentsize phnum i type
  magic=$(od -An -tx1 -N4 "$f" | tr -d ' \n')
  [ "$magic" = 7f454c46 ] || return 1
  phoff=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
  phentsize=$(od -An -tu2 -j54 -N2 "$f" | tr -d ' ')
  phnum=$(od -An -tu2 -j56 -N2 "$f" | tr -d ' ')
  for ((i = 0; i < phnum; i++)); do
    type=$(od -An -tu4 -j$((phoff + i * phentsize)) -N4 "$f" | tr -d ' ')
    [ "$type" = 3 ] && return 1
  done
  return 0
}

if [ "$FORCE" != 1 ] && [ -x "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$STAMP" ]; then
  log "binary cached and stamp unchanged ($FE_VERSION): skipping download/extract/go-build"
  TIMINGS+=("$(printf '%-11s %6s   %s' download - cached)" "$(printf '%-11s %6s   %s' extract - cached)" "$(printf '%-11s %6s   %s' go-build - cached)")
else
  # ------------------------------------------------------------ 3. download
  phase_start download
  MISSING=()
  while read -r _uri file _size _hash; do
    [ -s "$WORK/debs/$file" ] || MISSING+=("${file%%_*}=$(v=${file#*_}; v=${v%_*}; echo "${v//%3a/:}")")
  done < "$WORK/uris.txt"
  if [ "${#MISSING[@]}" -gt 0 ]; then
    (cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" -qq download "${MISSING[@]}") >"$WORK/download.log" 2>&1 ||
      { cat "$WORK/download.log" >&2; die "apt-get download failed"; }
  fi
  # Every .deb of the closure is there, whole: size and SHA256 as the archive lists them. A short or
  # missing download fails here, not later in dpkg -x.
  while read -r _uri file size hash; do
    [ -f "$WORK/debs/$file" ] || die "download of $file is missing (see $WORK/download.log)"
    [ "$(stat -c %s "$WORK/debs/$file")" = "$size" ] ||
      die "download of $file is incomplete: $(stat -c %s "$WORK/debs/$file") of $size bytes"
    case "$hash" in
      SHA256:*) [ "$(sha256sum "$WORK/debs/$file" | cut -c1-64)" = "${hash#SHA256:}" ] ||
        die "download of $file does not match its SHA256" ;;
    esac
  done < "$WORK/uris.txt"
  # Drop .debs that are no longer part of the closure (older versions). A lookup table, not
  # `printf | grep -q` in a loop: grep -q exits at the first match, printf then dies of SIGPIPE,
  # and with pipefail that failure deleted files of the closure at random.
  declare -A WANTED=()
  for f in "${DEBS[@]}"; do WANTED[$f]=1; done
  for f in "$WORK/debs"/*.deb; do
    [ -n "${WANTED[${f##*/}]:-}" ] || rm -f "$f"
  done
  phase_end "${#MISSING[@]} fetched, $(du -sh "$WORK/debs" | cut -f1) cached"

  # ------------------------------------------------------------ 4. extract
  phase_start extract
  rm -rf "$ROOT" "$ROOT.new"
  mkdir -p "$ROOT.new"
  # No two unpacked packages share a file (protobuf-1-3 is excluded), so order
  # does not matter and the unpacking can run in parallel.
  # shellcheck disable=SC2016  # $f/$0 belong to the inner sh
  printf '%s\n' "${DEBS[@]}" | (cd "$WORK/debs" && xargs -P "$(nproc)" -n 16 \
    sh -c 'for f; do dpkg -x "$f" "$0" || exit 255; done' "$ROOT.new")
  mv "$ROOT.new" "$ROOT"
  phase_end "$(du -sh "$ROOT" | cut -f1) in $ROOT"

  # ------------------------------------------------------------ 5. go build
  phase_start go-build
  [ -x "$GOROOT_DIR/bin/go" ] || die "no Go toolchain at $GOROOT_DIR"
  [ -d "$GOPATH_DIR/src/$SRC_PKG/${MAIN_PKG#./}" ] || die "no $SRC_PKG/${MAIN_PKG#./} in $DOCKER_DEV_DEB"
  GOENV=(env -i "PATH=$GOROOT_DIR/bin:/usr/bin:/bin" "HOME=$WORK" "TMPDIR=${TMPDIR:-/tmp}"
         "GOROOT=$GOROOT_DIR" "GOPATH=$GOPATH_DIR" "GOCACHE=$WORK/gocache"
         GO111MODULE=off CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOTOOLCHAIN=local
         GOPROXY=off GOFLAGS= GOENV=off)
  cd "$GOPATH_DIR/src/$SRC_PKG"
  BROKEN=$("${GOENV[@]}" go list -e -deps -tags "$GO_TAGS" \
             -f '{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}' "$MAIN_PKG" 2>&1 || true)
  if [ -n "$BROKEN" ]; then
    printf '%s\n' "$BROKEN" >&2
    die "unresolved imports: add the Debian package providing them to ROOT_PKGS"
  fi
  mkdir -p "$WORK/out"
  "${GOENV[@]}" go build -trimpath -o "$OUT.new" -tags "$GO_TAGS" -ldflags "$LDFLAGS" "$MAIN_PKG"
  cd "$WORK"
  is_static_elf "$OUT.new" || die "$OUT.new is not a static ELF"
  "$OUT.new" --version | grep -qF "$FE_VERSION" || die "$OUT.new --version does not report $FE_VERSION"
  mv "$OUT.new" "$OUT"
  echo "$STAMP" > "$OUT.stamp"
  printf '%s\n' "${DEBS[@]}" > "$WORK/out/packages.txt"
  if [ "$KEEP_ROOT" != 1 ]; then rm -rf "$ROOT"; fi
  phase_end "$(du -h "$OUT" | cut -f1), go $GO_VERSION_DEB"
fi

is_static_elf "$OUT" || die "$OUT is not a static ELF"
log "binary: $("$OUT" --version)"
SHA=$(sha256sum "$OUT" | cut -c1-64)

# ---------------------------------------------------------------- 6. rootfs
phase_start rootfs
TARBALL=$WORK/rootfs.tar
if [ -f "$TARBALL" ] && [ -f "$TARBALL.sha256" ] && [ "$(cat "$TARBALL.sha256")" = "$SHA" ]; then
  phase_end "up to date: $TARBALL"
else
  STAGE=$WORK/rootfs.stage
  rm -rf "$STAGE"; mkdir -p "$STAGE/bin"
  install -m 0755 "$OUT" "$STAGE/bin/dockerfile-frontend"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
      -C "$STAGE" -cf "$TARBALL.new" bin
  rm -rf "$STAGE"
  mv "$TARBALL.new" "$TARBALL"
  echo "$SHA" > "$TARBALL.sha256"
  phase_end "$(du -h "$TARBALL" | cut -f1) $TARBALL"
fi

# ---------------------------------------------------------------- 7. import
IMPORTED=no
if [ "$IMPORT" = 0 ]; then
  log "import disabled (STRATA_DF_IMPORT=0)"
elif ! command -v docker >/dev/null || ! timeout 20 docker version >/dev/null 2>&1; then
  [ "$IMPORT" = 1 ] && die "no Docker engine reachable (DOCKER_HOST=${DOCKER_HOST:-unset})"
  log "no Docker engine reachable (DOCKER_HOST=${DOCKER_HOST:-unset}): skipping import"
else
  phase_start import
  have=$(docker image inspect -f "{{index .Config.Labels \"$LABEL_SHA\"}}" "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$SHA" ] && [ "$FORCE" != 1 ]; then
    phase_end "$IMAGE already holds this binary"
  else
    id=$(docker import \
      --change 'ENTRYPOINT ["/bin/dockerfile-frontend"]' \
      --change "LABEL $LABEL_NETWORK" \
      --change "LABEL $LABEL_CAPS" \
      --change "LABEL $LABEL_SHA=$SHA" \
      --change "LABEL org.strata.dockerfile-frontend.source=golang-github-docker-docker-dev=$DOCKER_DEV_VERSION" \
      --message "dockerfile-frontend $FE_VERSION (BuildKit v0.13, Debian $SUITE)" \
      "$TARBALL" "$IMAGE")
    phase_end "$IMAGE ${id:0:19}"
  fi
  IMPORTED=yes
fi

TOTAL=$(awk -v a="$T_ALL" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
{
  echo "---- dockerfile-frontend timings"
  printf '%s\n' "${TIMINGS[@]}"
  printf '%-11s %6ss\n' total "$TOTAL"
  echo "binary:  $OUT ($(stat -c %s "$OUT") bytes, sha256 ${SHA:0:16}…)"
  echo "rootfs:  $TARBALL"
  echo "image:   $IMAGE (imported: $IMPORTED)"
} >&2
