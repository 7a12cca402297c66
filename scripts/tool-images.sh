#!/usr/bin/env bash
# tool-images.sh 28|28c|26|20 TOOL:VERSION... -- make local stand-ins for package managers'
# official images (no container registry is reachable here), from the binaries the language
# registries ship, in that engine's image store:
#
#   uv:VERSION   local/strata-uv:VERSION, a stand-in for ghcr.io/astral-sh/uv:VERSION (distroless:
#                /uv and /uvx and nothing else), from the uv wheel on PyPI
#                (uv-VERSION.data/scripts/{uv,uvx})
#   bun:VERSION  local/strata-bun:VERSION, a stand-in for oven/bun:VERSION: Bun at
#                /usr/local/bin/bun with /usr/local/bin/bunx a link to it, as in the official
#                image (which is Debian besides; a build copies only the binary), from npm's
#                @oven/bun-linux-x64 (or -baseline on a CPU without AVX2)
#
# A build then takes the tool from the stand-in instead of installing it from the registry:
#   docker buildx build --build-context ghcr.io/astral-sh/uv:0.13.9=docker-image://local/strata-uv:0.13.9 …
#
# Downloads are cached under $STRATA_CACHE/tools (default /var/tmp/strata/rootfs/tools) for all
# engines. Idempotent: an image that exists is kept; FORCE=1 imports again. linux/amd64 only.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"
strata_engine_init "${1:-}"
shift
[ $# -gt 0 ] || strata_die "usage: $0 ENGINE uv:VERSION|bun:VERSION..."
[ "$(uname -m)" = x86_64 ] || strata_die "the stand-ins are made for linux/amd64 only"

"$here/docker-up.sh" "$STRATA_INSTANCE"

downloads=$CACHE/tools
mkdir -p "$downloads"

# uv_binaries VERSION ROOT: /uv and /uvx of the release into ROOT.
uv_binaries() {
  local version=$1 root=$2 wheel
  wheel=$(find "$downloads" -maxdepth 1 -name "uv-$version-py3-none-manylinux*x86_64*.whl" | head -1)
  if [ -z "$wheel" ]; then
    strata_log "downloading the uv $version wheel from PyPI"
    pip download "uv==$version" --no-deps --only-binary=:all: \
      --platform manylinux_2_17_x86_64 --python-version 3.12 -d "$downloads" -q >&2
    wheel=$(find "$downloads" -maxdepth 1 -name "uv-$version-py3-none-manylinux*x86_64*.whl" | head -1)
  fi
  [ -n "$wheel" ] || strata_die "no manylinux x86_64 wheel of uv $version"
  unzip -q -o -j "$wheel" "uv-$version.data/scripts/uv" "uv-$version.data/scripts/uvx" -d "$root"
  chmod 755 "$root/uv" "$root/uvx"
}

# bun_binary VERSION ROOT: usr/local/bin/bun of the release, and the bunx link, into ROOT.
bun_binary() {
  local version=$1 root=$2 package tarball
  package=@oven/bun-linux-x64
  grep -qw avx2 /proc/cpuinfo || package=@oven/bun-linux-x64-baseline
  # npm pack's file name: the scope's @ dropped, its / made a -.
  tarball=$downloads/$(printf %s "${package#@}" | tr / -)-$version.tgz
  if [ ! -s "$tarball" ]; then
    strata_log "downloading $package@$version from npm"
    (cd "$downloads" && npm pack "$package@$version" --silent >/dev/null)
  fi
  [ -s "$tarball" ] || strata_die "npm pack $package@$version left no $tarball"
  mkdir -p "$root/usr/local/bin"
  tar -xzf "$tarball" -C "$root/usr/local/bin" --strip-components=2 package/bin/bun
  chmod 755 "$root/usr/local/bin/bun"
  ln -s /usr/local/bin/bun "$root/usr/local/bin/bunx"
}

for wanted in "$@"; do
  tool=${wanted%%:*}
  version=${wanted#*:}
  if [ "$tool" = "$wanted" ] || [ -z "$version" ]; then
    strata_die "$wanted: expected TOOL:VERSION"
  fi
  image=local/strata-$tool:$version
  if [ "${FORCE:-0}" = 0 ] && strata_docker image inspect "$image" >/dev/null 2>&1; then
    strata_log "$image is there"
    continue
  fi
  root=$(mktemp -d "$downloads/.root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  case "$tool" in
    uv) uv_binaries "$version" "$root" ;;
    bun) bun_binary "$version" "$root" ;;
    *) strata_die "$tool: no official image to stand in for (uv and bun have one)" ;;
  esac
  started=$(strata_now)
  # Owned by root, like the official images' files; the binaries keep their mode.
  tar --owner=0 --group=0 --numeric-owner -C "$root" -c . |
    strata_docker import - "$image" >/dev/null
  strata_log "imported $image ($(strata_since "$started"))"
  rm -rf "$root"
  trap - EXIT
done
