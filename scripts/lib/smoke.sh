#!/usr/bin/env bash
# scripts/lib/smoke.sh 28|26|20 -- end-to-end check of one engine made by docker-up.sh and
# base-images.sh: BuildKit (not the legacy builder) builds with cache mounts, pip and npm through
# the HTTPS proxy, DNS in containers, a container reachable from the host by its IP, and on 28
# and 26 (and on 20 through the trixie plugin) `docker buildx build` / `docker buildx bake`.
# Prints one timing line per step (STRATA_SMOKE_VERBOSE=1: and each step's output); exits
# non-zero at the first failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$here/common.sh"
strata_engine_init "${1:-}"
eval "$("$here/../docker-env.sh" "$STRATA_INSTANCE")"

ctx=$(mktemp -d)
cname=strata-smoke-http-$STRATA_INSTANCE
trap 'docker rm -f "$cname" >/dev/null 2>&1 || true; rm -rf "$ctx"' EXIT

step() {
  local name=$1 t0 rc=0
  shift
  t0=$(strata_now)
  "$@" >"$ctx/out" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    strata_log "FAIL $name (rc $rc, $(strata_since "$t0")):"
    tail -n 40 "$ctx/out" >&2
    exit 1
  fi
  strata_log "ok   $name ($(strata_since "$t0"))"
  [ "${STRATA_SMOKE_VERBOSE:-0}" != 1 ] || sed 's/^/    | /' "$ctx/out" >&2
}

# BuildKit prints "#N ..." vertex lines; the legacy builder prints "Step 1/3" and, in the 26+
# CLIs, a DEPRECATED notice. RUN --mount alone would already fail on the legacy builder.
assert_buildkit() {
  grep -qE '^#[0-9]+ ' "$ctx/out" || { strata_log "no BuildKit progress lines in the output"; return 1; }
  if grep -qE 'legacy builder|^Step [0-9]+/[0-9]+' "$ctx/out"; then
    strata_log "the legacy builder was used"; return 1
  fi
}

build() { # build DIR TAG [docker build|docker buildx build]
  local dir=$1 tag=$2
  shift 2
  "$@" --progress=plain --no-cache -t "$tag" "$dir" && assert_buildkit
}

mkdir -p "$ctx/pip" "$ctx/npm" "$ctx/bake"
cat >"$ctx/pip/Dockerfile" <<'EOF'
FROM local/strata-python:test
RUN --mount=type=cache,target=/root/.cache/pip python3 -m venv /v && /v/bin/pip install six
RUN /v/bin/python -c 'import six; print("six", six.__version__)'
EOF
cat >"$ctx/npm/Dockerfile" <<'EOF'
FROM local/strata-node:test
WORKDIR /app
RUN --mount=type=cache,target=/root/.npm npm install is-number && node -e 'console.log("is-number", require("is-number")(5))'
EOF
cat >"$ctx/bake/Dockerfile" <<'EOF'
FROM local/strata-busybox:test
ARG MSG=hello
RUN echo "$MSG" > /msg
EOF
cat >"$ctx/bake/docker-bake.hcl" <<'EOF'
group "default" { targets = ["a", "b"] }
target "a" {
  context = "."
  tags = ["strata-smoke/bake-a"]
  args = { MSG = "a" }
}
target "b" {
  context = "."
  tags = ["strata-smoke/bake-b"]
  args = { MSG = "b" }
}
EOF

http_check() {
  docker run -d --name "$cname" local/strata-python:test python3 -m http.server 80 >/dev/null
  local ip
  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$cname")
  echo "container ip $ip"
  curl -sS --retry 30 --retry-delay 0 --retry-connrefused --max-time 5 -o /dev/null \
    -w 'HTTP %{http_code}\n' "http://$ip:80/"
}

step "docker version ($(docker version --format '{{.Client.Version}} -> {{.Server.Version}}'))" docker version
step "DNS + HTTPS (pypi.org) in a container" docker run --rm local/strata-python:test \
  python3 -c 'import socket, urllib.request; print(socket.gethostbyname("pypi.org")); urllib.request.urlopen("https://pypi.org/simple/six/").read()'
step "docker build: pip install six (venv, cache mount)" build "$ctx/pip" strata-smoke/pip docker build
step "docker build: npm install is-number" build "$ctx/npm" strata-smoke/npm docker build
step "docker run -d + curl http://<container ip>:80/" http_check
step "docker buildx build" build "$ctx/pip" strata-smoke/pip-buildx docker buildx build --load
step "docker buildx bake (2 targets)" bash -c "cd '$ctx/bake' && docker buildx bake --progress=plain --load"
grep -qE '^#[0-9]+ ' "$ctx/out"
docker rmi strata-smoke/pip strata-smoke/npm strata-smoke/pip-buildx strata-smoke/bake-a strata-smoke/bake-b >/dev/null
strata_log "smoke test of engine $STRATA_INSTANCE passed"
