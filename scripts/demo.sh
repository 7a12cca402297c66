#!/usr/bin/env bash
# demo.sh [fastapi|express] -- the main job, on a fresh machine: start a Docker engine (26.1 with
# buildx, BuildKit v0.13), build the Strata frontend image from this checkout, build an example
# through it with `docker buildx build -f examples/<name>/strata.toml`, run it and call it.
#
# The examples use the official base images (python:3.12-slim, node:22-slim). Where no registry is
# reachable (this project's CI machines) the demo replaces the base image with a local one through a
# named context (`--build-context python:3.12-slim=docker-image://…`), the spec untouched, and says so.
set -euo pipefail
example=${1:-fastapi}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$example" in
  fastapi) official=python:3.12-slim flavor=python port=80 ;;
  express) official=node:22-slim flavor=node port=3000 ;;
  *) echo "usage: $0 [fastapi|express]" >&2; exit 2 ;;
esac

"$root/scripts/docker-up.sh" 26
eval "$("$root/scripts/docker-env.sh" 26)"
"$root/scripts/frontend-image.sh" local/strata:dev

dir=$root/examples/$example
replace=()
if ! docker image inspect "$official" >/dev/null 2>&1 && ! docker pull -q "$official" >/dev/null 2>&1; then
  local_base=local/strata-$flavor:test
  echo "demo: $official cannot be pulled here; replacing it with $local_base (--build-context)"
  "$root/scripts/base-images.sh" 26 "$flavor"
  replace=(--build-context "$official=docker-image://$local_base")
fi

tag=strata-examples/$example:dev
docker buildx build "${replace[@]}" -t "$tag" -f "$dir/strata.toml" "$dir"

id=$(docker run -d --rm "$tag")
trap 'docker rm -f "$id" >/dev/null 2>&1 || true' EXIT
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
for _ in $(seq 1 50); do
  if body=$(curl -fsS "http://$ip:$port/" 2>/dev/null); then
    echo "demo: $tag answers GET / on $ip:$port with $body"
    exit 0
  fi
  sleep 0.2
done
echo "demo: $tag did not answer on $ip:$port" >&2
docker logs "$id" >&2
exit 1
