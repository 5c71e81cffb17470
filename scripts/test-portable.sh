#!/usr/bin/env bash
# The portable Linux builds and the packages of every platform (run by scripts/test.sh):
#   1. make packages: builds linux-x86-64, linux-arm64 and windows once each (release), packs;
#   2. no library or CLI of the Linux builds needs a glibc symbol newer than the floor of
#      packaging/platforms.sh (objdump -T), while the ordinary build of this machine does (so
#      the check can fail), and the libraries carry their soname;
#   3. tests/portable.rs: the C test programs and the CLI against the emulator, the x86-64 build
#      natively and the arm64 build under qemu-user;
#   4. tests/packages/test_packages.py: each package holds each platform's library where its
#      loader looks, and loads here.
# Usage: scripts/test-portable.sh [EMULATOR_BIN] (default target/debug/ocrcloud-emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/platforms.sh
emulator=${1:-target/debug/ocrcloud-emulator}

scripts/install-deps.sh qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-mingw-w64-x86-64
make --no-print-directory packages
[ -x target/tools/venv/bin/auditwheel ] || target/tools/venv/bin/pip install --quiet "auditwheel==6.8.2"

# The newest GLIBC_x.y symbol version that FILE needs, by OBJDUMP.
newest_glibc() {
  "$1" -T "$2" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}
# Whether version $1 is at most version $2.
at_most() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$2" ]; }

failed=0
for file in "objdump $linux_x86_64_dir/libocrcloud.so" "objdump $linux_x86_64_dir/ocrcloud" \
  "aarch64-linux-gnu-objdump $linux_aarch64_dir/libocrcloud.so" \
  "aarch64-linux-gnu-objdump $linux_aarch64_dir/ocrcloud"; do
  set -- $file
  newest=$(newest_glibc "$1" "$2")
  if [ -n "$newest" ] && at_most "$newest" "$glibc_floor"; then
    echo "ok: $2 needs GLIBC_$newest at most"
  else
    echo "FAILED: $2 needs GLIBC_$newest, newer than GLIBC_$glibc_floor"; failed=1
  fi
done
newest=$(newest_glibc objdump target/debug/libocrcloud.so)
if at_most "$newest" "$glibc_floor"; then
  echo "FAILED: the check passes target/debug/libocrcloud.so (GLIBC_$newest) too: it checks nothing"
  failed=1
fi
major=$(sed -n 's/^version = "\([0-9]*\)\..*"$/\1/p' Cargo.toml | head -n 1)
for library in "readelf $linux_x86_64_dir/libocrcloud.so" \
  "aarch64-linux-gnu-readelf $linux_aarch64_dir/libocrcloud.so"; do
  set -- $library
  if "$1" -d "$2" | grep -qF "Library soname: [libocrcloud.so.$major]"; then
    echo "ok: $2 has the soname libocrcloud.so.$major"
  else
    echo "FAILED: $2 has no soname libocrcloud.so.$major"; failed=1
  fi
done
[ "$failed" -eq 0 ]

# --workspace: the features of the workspace build that the Rust tests used (the emulator's
# turn on more of tokio and rustls), so that nothing is compiled again.
cargo test --quiet --workspace --test portable -- --ignored
python3 tests/packages/test_packages.py "$emulator"
