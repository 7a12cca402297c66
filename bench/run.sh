#!/usr/bin/env bash
# bench/run.sh -- the Strata benchmark, end to end, in one command (root; see bench/README.md).
#
#   bench/run.sh [--engine 26|20] [--reps N] [--compiled-reps N] [--apps A,B] [--name NAME] [driver options...]
#
# Sets up what it needs through the project's scripts (engine, local base images, the frontend
# image built from this tree, the Dockerfile frontend image), then:
#   1. the frontend micro-benchmark (no daemon): cargo bench --bench frontend
#   2. the edit-rebuild benchmark on the engine: bench/driver.py
#   3. (engine 26) the frontend's RPCs on the daemon, timed one by one: bench/rpc_profile.py
#   4. bench/report.py: bench/results/NAME.{json,md,svg}
# Build logs go to bench/results/logs/NAME/ (not committed).
#
# Options (defaults in brackets):
#   --engine 26|20        Docker 26.1 + BuildKit v0.13 [26], or Docker 20.10 + BuildKit v0.8
#                         (no `best-syntax` variant there: the v0.13 Dockerfile frontend image)
#   --reps N              repetitions of every interpreted app x variant sequence [3]
#   --compiled-reps N     the same for go, rust and java-maven [2] (a cold Rust best build
#                         compiles cargo-chef: minutes)
#   --apps A,B,...        a subset of fastapi,uv,poetry,pipenv,pdm,express,pnpm,yarn-classic,
#                         yarn-berry,bun,go,rust,java-maven [all]
#   --frontend TAG        the frontend image built from this tree [local/strata:bench]
#   --name NAME           results name [docker<engine>]
#   --fe-runs N           runs per case of the frontend micro-benchmark [30]
#   --skip-frontend-bench reuse the last frontend micro-benchmark result of this name
#   anything else         passed to bench/driver.py (--app-edits, --noops, --compiled-noops,
#                         --timeline-runs, --timeline-apps, --variants; bench/driver.py --help)
#
# Env: STRATA_BENCH_WORK (default /var/tmp/strata/bench): venv, workspaces, intermediate files.
set -euo pipefail
t_start=$(date +%s)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

engine=26 reps=3 compiled_reps=2 apps='' name='' fe_runs=30 skip_fe=0 driver_args=()
frontend_tag=local/strata:bench
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --compiled-reps) compiled_reps=$2; shift 2 ;;
    --apps) apps=$2; shift 2 ;;
    --frontend) frontend_tag=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --fe-runs) fe_runs=$2; shift 2 ;;
    --skip-frontend-bench) skip_fe=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$repo/bench/run.sh" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) driver_args+=("$1"); shift ;;
  esac
done
case "$engine" in 26 | 20) ;; *) echo "--engine: 26 or 20" >&2; exit 2 ;; esac
name=${name:-docker$engine}
work=${STRATA_BENCH_WORK:-/var/tmp/strata/bench}
results=$repo/bench/results
logs=$results/logs/$name
[ -z "$apps" ] || driver_args+=(--apps "$apps")
mkdir -p "$work" "$results"

step() { printf '\n[bench %s] == %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "bench/run.sh must run as root (it starts dockerd)" >&2; exit 1; }

step "engine $engine, base images"
scripts/docker-up.sh "$engine"
eval "$(scripts/docker-env.sh "$engine")"
# The local stand-ins of every example's images (python, node; the compiled languages' toolchain
# and runtime images).
scripts/base-images.sh "$engine" python node go static rust debian java jre
# The python and node bases under tags of the bench's own, so another worktree's base-images.sh
# (an older recipe: python without pip) cannot swap them during the run; the python base must be
# like the official image (pip, no EXTERNALLY-MANAGED marker), which the pip row's best relies on.
docker run --rm local/strata-python:test sh -c 'command -v pip >/dev/null && ! ls /usr/lib/python3*/EXTERNALLY-MANAGED >/dev/null 2>&1' || {
  echo "local/strata-python:test has no pip or has EXTERNALLY-MANAGED: FORCE=1 scripts/base-images.sh $engine python" >&2
  exit 1
}
docker tag local/strata-python:test local/strata-bench-python:test
docker tag local/strata-node:test local/strata-bench-node:test

step "frontend image $frontend_tag from this tree"
scripts/frontend-image.sh "$frontend_tag"
# The binary the image was made from; the micro-benchmark runs exactly this one. Copied, since
# other builds (tests) write the same target directory.
static_bin=${STRATA_STATIC_TARGET_DIR:-$repo/target/static}/x86_64-unknown-linux-gnu/release/strata
cp "$static_bin" "$work/strata-frontend"

variants=strata,naive,seed,best,best-cachemount,best-syntax
if [ "$engine" = 26 ]; then
  step "Dockerfile frontend image (BuildKit v0.13's, built from Debian's source)"
  STRATA_DF_IMPORT=1 bench/dockerfile-frontend/build.sh
else
  variants=strata,naive,seed,best,best-cachemount
fi

step "tools: python venv with matplotlib (the dependency edits are committed: bench/apps/*/dep-edit)"
venv=$work/venv
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv" 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q -r bench/requirements.txt
fi

fe_json=$work/$name.frontend.json
if [ "$skip_fe" = 1 ] && [ -s "$fe_json" ]; then
  step "frontend micro-benchmark: reusing $fe_json"
else
  step "frontend micro-benchmark (release binary, fake BuildKit), $fe_runs runs per case"
  STRATA_BENCH_BIN=$work/strata-frontend cargo bench --locked --bench frontend -- \
    --runs "$fe_runs" --out "$fe_json"
fi

step "edit-rebuild benchmark on Docker $engine: $reps repetitions ($compiled_reps for compiled apps)"
"$venv/bin/python" bench/driver.py --engine "$engine" --reps "$reps" --compiled-reps "$compiled_reps" \
  --variants "$variants" \
  --frontend "$frontend_tag" --work "$work/work" --logs "$logs" --out "$work/$name.raw.json" \
  "${driver_args[@]}"

rpc=()
if [ "$engine" = 26 ]; then
  step "the frontend's gateway session on the daemon, call by call (bench/rpc_profile.py)"
  "$venv/bin/python" bench/rpc_profile.py --work "$work" --binary "$work/strata-frontend" \
    --sequence-from "$fe_json" --dockerd-log "${STRATA_STATE:-/var/tmp/strata/$engine}/dockerd.log" \
    --out "$work/$name.rpc.json"
  rpc=(--rpc "$work/$name.rpc.json")
fi

step "report"
"$venv/bin/python" bench/report.py --raw "$work/$name.raw.json" --frontend "$fe_json" \
  "${rpc[@]}" --out "$results/$name"
step "done in $(( ($(date +%s) - t_start) / 60 )) min $(( ($(date +%s) - t_start) % 60 )) s:" \
  "bench/results/$name.{json,md,svg}"
