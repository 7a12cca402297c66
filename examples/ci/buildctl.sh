#!/bin/sh
# buildctl.sh CONTEXT_DIR -- build a Strata spec with BuildKit alone, no Docker engine, as CI systems
# without Docker run builds (GitLab runners with BuildKit's image, Tekton, Jenkins or Kubernetes
# agents): buildctl runs the Strata frontend image through BuildKit's gateway.v0, pushes the image,
# and imports and exports the dependency cache from a registry, so a fresh runner re-uses the
# install layers of an earlier one.
#
#   IMAGE=registry.example.com/app:1.2 CACHE=registry.example.com/app:buildcache \
#     examples/ci/buildctl.sh examples/fastapi
#
# Environment:
#   IMAGE            the image to build and push (required)
#   CACHE            a registry reference for the cache (optional). mode=max exports the layers of
#                    every step, the dependency install's too.
#   SPEC             the spec, relative to CONTEXT_DIR (default strata.toml)
#   STRATA_FRONTEND  the Strata frontend image (default: the spec's `# syntax=` line)
#   BUILDCTL         the buildctl to run (default buildctl; buildctl-daemonless.sh starts a
#                    buildkitd for the job)
#   BUILDKIT_HOST    the buildkitd to use (buildctl's own default otherwise)
#   BUILDCTL_ARGS    more buildctl arguments, split on spaces, e.g.
#                    "--opt build-arg:VERSION=3 --opt platform=linux/arm64"
set -eu

context=${1:?usage: buildctl.sh CONTEXT_DIR}
: "${IMAGE:?IMAGE names the image to push}"
spec=${SPEC:-strata.toml}
frontend=${STRATA_FRONTEND:-$(sed -n '1s/^#[[:space:]]*syntax[[:space:]]*=[[:space:]]*//p' "$context/$spec")}
[ -n "$frontend" ] || { echo "buildctl.sh: $context/$spec has no '# syntax=' line; set STRATA_FRONTEND" >&2; exit 2; }

set -- build --progress plain \
  --frontend gateway.v0 --opt source="$frontend" \
  --local context="$context" \
  --local dockerfile="$(dirname "$context/$spec")" --opt filename="$(basename "$spec")" \
  --output type=image,name="$IMAGE",push=true
if [ -n "${CACHE:-}" ]; then
  set -- "$@" --import-cache type=registry,ref="$CACHE" \
    --export-cache type=registry,ref="$CACHE",mode=max
fi
# shellcheck disable=SC2086 # BUILDCTL_ARGS is a word list on purpose
exec ${BUILDCTL:-buildctl} "$@" ${BUILDCTL_ARGS:-}
