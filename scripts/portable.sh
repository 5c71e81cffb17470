#!/usr/bin/env bash
# Builds the release library and CLI for Linux so that they run on every glibc from 2.17 on (the
# manylinux_2_17 floor, = manylinux2014; $glibc_floor in packaging/platforms.sh): cargo-zigbuild
# links them against zig's stubs of that glibc, so no newer symbol can be referenced
# (scripts/test-portable.sh checks it).
#
#   scripts/portable.sh x86-64   (make linux-x86-64)
#       target/x86_64-unknown-linux-gnu/release/libocrcloud.so, libocrcloud.a, ocrcloud
#   scripts/portable.sh arm64    (make linux-arm64)
#       target/aarch64-unknown-linux-gnu/release/libocrcloud.so, libocrcloud.a, ocrcloud
#
# The shared libraries carry the soname libocrcloud.so.MAJOR, as those of `make install` do.
# Tools, installed on first use: ziglang and cargo-zigbuild (both from PyPI, pinned; PyPI ships
# cargo-zigbuild built, which saves compiling it) in the venv target/tools/venv; for arm64
# Debian's rustc-web, cargo-web and rust-web-src, which build the standard library for the
# target (-Zbuild-std) since rustup cannot add targets here. x86-64 uses the rustup toolchain of the other builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. packaging/platforms.sh

zig_version=0.15.2
zigbuild_version=0.24.0
tools=$root/target/tools

case "${1:-}" in
  x86-64) triple=x86_64-unknown-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-gnu ;;
  *) echo "usage: scripts/portable.sh x86-64|arm64" >&2; exit 2 ;;
esac

if [ "$1" = arm64 ]; then
  scripts/install-deps.sh python3-venv rustc-web cargo-web rust-web-src
else
  scripts/install-deps.sh python3-venv
fi
if ! "$tools/venv/bin/python3" -m ziglang version 2>/dev/null | grep -qx "$zig_version" ||
  ! "$tools/venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -q " $zigbuild_version\$"; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet "ziglang==$zig_version" "cargo-zigbuild==$zigbuild_version"
fi

version=$(awk -F'"' '/^\[package\]/ { in_package = 1; next } /^\[/ { in_package = 0 }
  in_package && $1 ~ /^version *= *$/ { print $2; exit }' Cargo.toml)
export OCRCLOUD_SONAME=libocrcloud.so.${version%%.*}
# cargo-zigbuild runs `python3 -m ziglang` when no zig is installed: the venv's python comes first.
export PATH=$tools/venv/bin:$PATH
# No debug information: these builds are for shipping (the packages strip it anyway), and
# without it they build faster.
export CARGO_PROFILE_RELEASE_DEBUG=0
build=(zigbuild --release --locked -p ocrcloud -p ocrcloud-cli --target "$triple.$glibc_floor")
if [ "$1" = arm64 ]; then
  # Debian's cargo and its own compiler (rustup's rustc in PATH has no source of std to build).
  CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    "$tools/venv/bin/cargo-zigbuild" "${build[@]}" -Zbuild-std=std,panic_unwind
else
  "$tools/venv/bin/cargo-zigbuild" "${build[@]}"
fi
echo "built target/$triple/release/libocrcloud.so and target/$triple/release/ocrcloud"
