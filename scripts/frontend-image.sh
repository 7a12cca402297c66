#!/usr/bin/env bash
# frontend-image.sh [TAG] -- build the Strata frontend as a static binary with this machine's cargo
# and import it into the current Docker engine as TAG (default local/strata:dev).
#
# No registry is needed: `docker import` of a rootfs holding only the binary, with the same
# entrypoint and labels as frontend.Dockerfile gives the published image. With the engine's local
# image store (the `docker` driver), `# syntax=local/strata:dev` then finds it.
#
# Env: DOCKER_HOST etc. from scripts/docker-env.sh; STRATA_SKIP_IMPORT=1 only builds the binary.
set -euo pipefail
tag=${1:-local/strata:dev}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=x86_64-unknown-linux-gnu
# A separate target dir: static and normal builds use different RUSTFLAGS and would evict each
# other's artefacts.
export CARGO_TARGET_DIR=${STRATA_STATIC_TARGET_DIR:-$root/target/static}
# Static glibc: the frontend runs in a FROM-scratch image with no libc. It never resolves host
# names (its only connection is stdio), so glibc's NSS is never needed.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$target" \
  --manifest-path "$root/Cargo.toml" --bin strata
bin=$CARGO_TARGET_DIR/$target/release/strata
echo "frontend binary: $bin ($(stat -c %s "$bin") bytes)"

[ "${STRATA_SKIP_IMPORT:-0}" = 1 ] && exit 0

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$bin" "$stage/strata"
# Fixed owner and mtime: the same binary gives the same layer.
tar -C "$stage" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$stage/rootfs.tar" strata
caps=$(sed -n 's/^LABEL moby.buildkit.frontend.caps="\(.*\)"$/\1/p' "$root/frontend.Dockerfile")
docker import \
  --change 'ENTRYPOINT ["/strata", "frontend"]' \
  --change 'LABEL moby.buildkit.frontend.network.none="true"' \
  --change "LABEL moby.buildkit.frontend.caps=\"$caps\"" \
  --change "LABEL org.opencontainers.image.source=\"strata\"" \
  "$stage/rootfs.tar" "$tag" >/dev/null
echo "imported $tag into $(docker context inspect -f '{{.Endpoints.docker.Host}}' 2>/dev/null || echo "$DOCKER_HOST")"
