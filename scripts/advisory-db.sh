#!/usr/bin/env bash
# advisory-db.sh [ADVISORY_DB_GIT_DIR] -- refreshes the vendored copy of the RustSec advisory
# database in third_party/rustsec-advisory-db/ that scripts/deny.sh checks Cargo.lock against.
#
# The copy holds the advisories (crates/NAME/*.md) of the crates Cargo.lock names, the list of
# those crate names (CRATES: deny.sh fails when Cargo.lock gains a crate the copy was not made
# for), the database's commit and date (SNAPSHOT: cargo-deny fails once that date is older than
# deny.toml's maximum-db-staleness) and its CC0 license.
#
# ADVISORY_DB_GIT_DIR is a clone of https://github.com/rustsec/advisory-db (a bare or a normal
# one); without it the script clones that URL (shallow) where GitHub is reachable. Run it when
# Cargo.lock gains a crate, and at least every few weeks to pick up new advisories; commit the
# result.
set -euo pipefail
export LC_ALL=C
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/third_party/rustsec-advisory-db
src=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$src" ]; then
  git clone --quiet --depth 1 https://github.com/rustsec/advisory-db "$tmp/clone"
  src=$tmp/clone
fi
gitdir=$src
[ -d "$src/.git" ] && gitdir=$src/.git
commit=$(git --git-dir="$gitdir" rev-parse HEAD)
date=$(git --git-dir="$gitdir" show -s --format=%cI HEAD)
sed -n 's/^name = "\(.*\)"$/\1/p' "$root/Cargo.lock" | sort -u >"$tmp/crate-names"
git --git-dir="$gitdir" archive --format=tar HEAD crates LICENSE.txt | tar -x -C "$tmp"
rm -rf "$out"
mkdir -p "$out/crates"
while read -r name; do
  if [ -d "$tmp/crates/$name" ]; then
    cp -r "$tmp/crates/$name" "$out/crates/"
  fi
done <"$tmp/crate-names"
cp "$tmp/LICENSE.txt" "$out/LICENSE.txt"
cp "$tmp/crate-names" "$out/CRATES"
printf 'commit %s\ndate %s\n' "$commit" "$date" >"$out/SNAPSHOT"
echo "advisory database $commit ($date): $(find "$out/crates" -name '*.md' | wc -l) advisories for $(wc -l <"$out/CRATES") crates of Cargo.lock"
