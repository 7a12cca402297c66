#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...] -- runs each cargo-fuzz target of fuzz/ (all by default) for
# SECONDS (default 20), one at a time under `nice -n 19` (the machine is shared), over a scratch
# copy of its committed corpus fuzz/corpus/TARGET, with libFuzzer's memory and per-input time
# limits; fails on the first crash, hang or leak (the input is left in fuzz/artifacts/TARGET/: add
# it to the corpus and fix the reader).
#
# STRATA_FUZZ_MERGE=1 also merges what the run found back into fuzz/corpus/TARGET, minimized
# (libFuzzer -merge=1 keeps only inputs that add coverage): for the long runs whose corpus is
# committed.
#
# Needs: cargo-fuzz (installed from crates.io if missing: about 1 min) and a C++ compiler for
# libFuzzer. cargo-fuzz passes nightly flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them, so no nightly toolchain is needed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-20}
shift || true
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in "$root"/fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}/fuzz
cd "$root/fuzz"
cargo fuzz build -O
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp "$root/fuzz/corpus/$t/"* "$work/"
  echo "==> fuzz $t for ${secs}s ($(ls "$work" | wc -l) corpus inputs)"
  start=$(date +%s)
  log=$(mktemp)
  status=0
  nice -n 19 cargo fuzz run -O "$t" "$work" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  if [ "$status" = 0 ]; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|INFO: seed corpus|Done)' "$log" || true
  else
    tail -n 60 "$log"
  fi
  rm -f "$log"
  echo "    $t: $(( $(date +%s) - start ))s, exit $status"
  if [ "$status" != 0 ]; then
    rm -rf "$work"
    echo "fuzz target $t failed: see fuzz/artifacts/$t/" >&2
    exit 1
  fi
  if [ "${STRATA_FUZZ_MERGE:-0}" = 1 ]; then
    merged=$(mktemp -d)
    nice -n 19 cargo fuzz run -O "$t" "$merged" "$work" -- -merge=1 -rss_limit_mb=2048 -timeout=10 >/dev/null 2>&1
    rm -rf "$root/fuzz/corpus/$t"
    mkdir -p "$root/fuzz/corpus/$t"
    cp "$merged"/* "$root/fuzz/corpus/$t/"
    echo "    $t: corpus $(ls "$root/fuzz/corpus/$t" | wc -l) inputs, $(du -sk "$root/fuzz/corpus/$t" | cut -f1) KiB"
    rm -rf "$merged"
  fi
  rm -rf "$work"
done
