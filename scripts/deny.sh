#!/usr/bin/env bash
# deny.sh -- cargo-deny on Strata's own dependency graph (deny.toml): licenses, bans (wildcards;
# duplicate versions as warnings) and sources. Advisories are not checked here: they need the
# RustSec advisory database, a git repository on GitHub that these machines cannot reach, and no
# package on the reachable registries ships a copy. Where GitHub is reachable,
# `cargo deny check advisories` fetches it (into ~/.cargo/advisory-db) and keeps it current on
# every run.
#
# cargo-deny is installed from crates.io when missing (`cargo install cargo-deny --locked`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked
cd "$root"
cargo deny --locked check licenses bans sources
