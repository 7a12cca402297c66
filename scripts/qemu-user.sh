#!/usr/bin/env bash
# qemu-user.sh ARCH -- print the path of qemu-ARCH-static (e.g. aarch64), Debian's user-mode
# emulator, to run one binary of another architecture directly: `qemu-aarch64-static ./strata plan
# DIR`. Taken from qemu-user-static with dpkg -x into $STRATA_ROOT/qemu (default
# /var/tmp/strata/qemu) once; nothing is installed and no binfmt handler is registered, so nothing
# else on the machine changes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh source-path=SCRIPTDIR
. "$here/lib/common.sh"

arch=${1:?usage: $0 ARCH (e.g. aarch64)}
dir=${STRATA_ROOT:-/var/tmp/strata}/qemu
bin=$dir/qemu-$arch-static
if [ ! -x "$bin" ]; then
  mkdir -p "$(dirname "$dir")"
  exec 8>"$dir.lock"
  flock -w 600 8 || strata_die "timeout waiting for $dir.lock"
  if [ ! -x "$bin" ]; then
    t=$(mktemp -d "$(dirname "$dir")/.qemu.XXXXXX")
    # The host's lists may be missing on a fresh machine: refresh once and retry.
    (cd "$t" && { apt-get -qq download qemu-user-static 2>/dev/null ||
      { apt-get "${STRATA_APT_OPTS[@]}" update -qq && apt-get -qq download qemu-user-static; }; }) ||
      strata_die "apt-get download qemu-user-static failed"
    dpkg -x "$t"/qemu-user-static_*.deb "$t/root"
    [ -x "$t/root/usr/bin/qemu-$arch-static" ] || strata_die "qemu-user-static has no qemu-$arch-static"
    # Only this architecture's emulator is kept (the package holds them all, 370 MB).
    mkdir -p "$dir"
    mv "$t/root/usr/bin/qemu-$arch-static" "$bin"
    rm -rf "$t"
  fi
  exec 8>&-
fi
echo "$bin"
