#!/usr/bin/env bash
# docker-env.sh 28|28c|26|20 [--plain] -- print the environment that points `docker` at one test engine.
#
#   eval "$(scripts/docker-env.sh 28)"   # docker, docker buildx, docker build (via buildx 0.29)
#   eval "$(scripts/docker-env.sh 26)"   # docker, docker buildx, docker build (via buildx 0.13)
#   eval "$(scripts/docker-env.sh 20)"   # docker build (20.10 CLI's own BuildKit client)
#
# --plain prints KEY=VALUE lines without quoting or `export` (no value contains spaces), for
# programs that read the environment themselves (the Rust test harness, `env $(...)`).
#
# PATH: /usr/local/bin/docker is a 28.2.2 client that silently uses the legacy builder when it
# finds no buildx plugin, so a directory holding only the engine's own `docker` goes first, and
# any other engine's such directory is dropped (eval 26 then 20 in one shell gives 20).
# Only prints; does not start anything (docker-up.sh does).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"
strata_engine_init "${1:-}"
mode=${2:-}

path=$BIN_DIR
IFS=: read -r -a parts <<<"${PATH:-}"
for p in "${parts[@]}"; do
  case "$p" in
    "$BIN_DIR" | "$STRATA_ROOT"/2[068]/bin | "$STRATA_ROOT"/28c/bin | "") ;;
    *) path+=":$p" ;;
  esac
done

vars=(
  "DOCKER_HOST=unix://$SOCK"
  "DOCKER_CONFIG=$CONFIG_DIR"
  "PATH=$path"
  # 20: turns on the CLI's BuildKit client. 28/26: `docker build` goes through the buildx plugin.
  "DOCKER_BUILDKIT=1"
  # Keeps buildx from adding provenance attestations (they need a registry-style exporter).
  "BUILDX_NO_DEFAULT_ATTESTATIONS=1"
  "STRATA_ENGINE=$STRATA_INSTANCE"
)

if [ "$mode" = --plain ]; then
  printf '%s\n' "${vars[@]}"
  exit 0
fi
[ -z "$mode" ] || strata_die "unknown option $mode (only --plain)"

# A context or TLS settings from the caller's shell would win over DOCKER_HOST or break it;
# BUILDX_BUILDER would select a builder of the other engine.
echo "unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH BUILDX_BUILDER"
for v in "${vars[@]}"; do
  printf 'export %s=%q\n' "${v%%=*}" "${v#*=}"
done
strata_engine_answers || strata_log "warning: engine $STRATA_INSTANCE does not answer on $SOCK (run scripts/docker-up.sh $STRATA_INSTANCE)"
