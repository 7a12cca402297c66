#!/usr/bin/env bash
# test.sh -- everything CI checks, in the order a failure is cheapest to find:
# formatting and lints, unit tests of the core, gateway tests (the real binary against an
# in-process LLBBridge), then end-to-end tests on three real Docker engines (28.5/BuildKit v0.25,
# 26.1/BuildKit v0.13 and 20.10/BuildKit v0.8), which install and start the engines themselves
# and fail if they cannot. Needs root (apt, dockerd). Takes 5-10 minutes on a fresh 2-core machine
# (measured with engines 26 and 20: 5.5 min; engine 28 alone: about 10 s to install and start,
# 1.5 min of tests, up to 4 min on a busy machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
step "unit and gateway tests"
cargo test --locked --lib --bins --test cli --test gateway --test bridge_selftest
step "fuzz targets, 10 s each from their committed corpora"
# cargo-fuzz from crates.io (49 s to install here) and the stable toolchain with RUSTC_BOOTSTRAP=1;
# the instrumented build took 5 min from scratch on a busy 2-core machine, the runs 1.5 min. The
# long runs are `STRATA_FUZZ_MERGE=1 scripts/fuzz.sh 600` by hand. `cargo test --lib` above
# already replayed the committed corpora without cargo-fuzz.
scripts/fuzz.sh 10
step "end-to-end tests on Docker 28.5, 26.1 and 20.10"
# --nocapture: the measured build times and script timings belong in the CI log.
cargo test --locked --test e2e -- --nocapture
