#!/usr/bin/env bash
# bench/apps/make-dep-edits.sh -- makes bench/apps/<app>/dep-edit/: each example's manifest and
# lockfile with one package added (or, without a lockfile of its own, a version changed), written
# by the package manager itself, so the benchmark's dependency edit is what a user's `uv add` or
# `cargo add` leaves behind, and no tool runs on the host at bench time.
#
#   bench/apps/make-dep-edits.sh [APP...]     (root; needs engine 26 with the python and node bases)
#
# Python and Node tools run in a container of the bench's base image, at the version Strata's
# recipe installs (so the lockfile format is the one the build's tool accepts): Python apps add
# six==1.16.0, Node apps is-number@7.0.0 (exact). npm, Go and Cargo run on the host (npm for
# express as the old bench did; `go get` of another uuid release; `cargo add itoa` to the server
# crate). Maven has no lockfile: pom.xml's org.json dependency goes to another release.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
eval "$(scripts/docker-env.sh 26)"
apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(fastapi uv poetry pipenv pdm express pnpm yarn-classic yarn-berry bun go rust java-maven)
PY_DEP=six==1.16.0
NPM_DEP=is-number@7.0.0

# Runs a shell command in a copy of examples/APP inside IMAGE; prints the copy's path.
in_container() {
  local app=$1 image=$2 cmd=$3 dir
  dir=$(mktemp -d)
  cp -a "examples/$app/." "$dir/"
  docker run --rm -v "$dir:/w" -w /w -e PIP_DISABLE_PIP_VERSION_CHECK=1 -e PIP_ROOT_USER_ACTION=ignore \
    -e npm_config_update_notifier=false -e npm_config_fund=false -e npm_config_audit=false \
    -e NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$image" sh -ec "$cmd" >&2
  echo "$dir"
}

# Keeps FILES (relative paths) of DIR as bench/apps/APP/dep-edit/.
keep() {
  local app=$1 dir=$2 out=bench/apps/$1/dep-edit f
  shift 2
  rm -rf "$out"
  for f in "$@"; do
    mkdir -p "$out/$(dirname "$f")"
    cp "$dir/$f" "$out/$f"
  done
  rm -rf "$dir"
  for f in "$@"; do
    echo "[make-dep-edits] $app: $f $(git diff --no-index --numstat "examples/$app/$f" "$out/$f" | cut -f1,2 | tr '\t' ' ' | sed 's/^/+/; s/ / -/')" >&2
  done
}

py=local/strata-python:test node=local/strata-node:test
for app in "${apps[@]}"; do
  case "$app" in
    fastapi)
      dir=$(mktemp -d); cp -a examples/fastapi/. "$dir/"; echo "$PY_DEP" >>"$dir/requirements.txt"
      keep fastapi "$dir" requirements.txt ;;
    uv) keep uv "$(in_container uv $py "pip install -q uv==0.13.9 && uv add --no-sync '$PY_DEP'")" pyproject.toml uv.lock ;;
    poetry) keep poetry "$(in_container poetry $py "pip install -q poetry==2.5.1 && poetry add --lock '$PY_DEP'")" pyproject.toml poetry.lock ;;
    pipenv)
      keep pipenv "$(in_container pipenv $py "pip install -q pipenv==2026.10.3 && sed -i '/^uvicorn = /a six = \"==1.16.0\"' Pipfile && PIPENV_VERBOSITY=-1 pipenv lock")" Pipfile Pipfile.lock ;;
    pdm) keep pdm "$(in_container pdm $py "pip install -q pdm==2.29.4 'hishel<2' && PDM_CHECK_UPDATE=false pdm add --no-sync '$PY_DEP'")" pyproject.toml pdm.lock ;;
    express)
      dir=$(mktemp -d); cp -a examples/express/. "$dir/"
      (cd "$dir" && npm install --package-lock-only --save-exact --ignore-scripts --no-audit --no-fund "$NPM_DEP" >/dev/null)
      keep express "$dir" package.json package-lock.json ;;
    pnpm) keep pnpm "$(in_container pnpm $node "npm install -g -s pnpm@9.15.9 && pnpm add --save-exact --lockfile-only $NPM_DEP")" package.json pnpm-lock.yaml ;;
    yarn-classic) keep yarn-classic "$(in_container yarn-classic $node "npm install -g -s yarn@1.22.22 && yarn add --exact --ignore-scripts $NPM_DEP && rm -rf node_modules")" package.json yarn.lock ;;
    yarn-berry) keep yarn-berry "$(in_container yarn-berry $node "npm install -g -s @yarnpkg/cli-dist@4.18.1 && YARN_ENABLE_TELEMETRY=0 yarn add --exact $NPM_DEP --mode=update-lockfile && rm -rf .yarn .pnp.*")" package.json yarn.lock ;;
    bun) keep bun "$(in_container bun $node "npm install -g -s bun@1.4.5 && bun add --exact $NPM_DEP && rm -rf node_modules")" package.json bun.lock ;;
    go)
      dir=$(mktemp -d); cp -a examples/go/. "$dir/"
      (cd "$dir" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go get github.com/google/uuid@v1.5.0 && GOTOOLCHAIN=local go mod tidy) >&2
      keep go "$dir" go.mod go.sum ;;
    rust)
      dir=$(mktemp -d); cp -a examples/rust/. "$dir/"
      (cd "$dir" && cargo add -q -p server itoa@1.0.11 && cargo update -q -p itoa --precise 1.0.11 --offline 2>/dev/null || true) >&2
      keep rust "$dir" Cargo.lock crates/server/Cargo.toml ;;
    java-maven)
      dir=$(mktemp -d); cp -a examples/java-maven/. "$dir/"
      grep -q '<version>20240303</version>' "$dir/pom.xml"
      sed -i 's|<version>20240303</version>|<version>20231013</version>|' "$dir/pom.xml"
      keep java-maven "$dir" pom.xml ;;
    *) echo "unknown app $app" >&2; exit 2 ;;
  esac
done
