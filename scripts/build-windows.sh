#!/usr/bin/env bash
# `make windows`: the Windows x64 build (x86_64-pc-windows-gnu, release), cross-compiled here:
#   target/x86_64-pc-windows-gnu/release/ocrcloud.dll       the library
#   target/x86_64-pc-windows-gnu/release/libocrcloud.dll.a  its import library (MinGW; MSVC's
#                                                            link.exe accepts it too)
#   target/x86_64-pc-windows-gnu/release/ocrcloud.exe       the command line
# The header is include/ocrcloud.h, the same as on Linux.
#
# rustup cannot add targets on this machine, so the standard library is built from source with
# Debian's Rust (rustc-web, cargo-web, rust-web-src: Rust 1.96) and `-Zbuild-std`, linked by
# MinGW-w64's gcc. Installs those Debian packages when missing. The Linux build in target/ is
# left alone: everything goes under target/x86_64-pc-windows-gnu/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64

# Debian's cargo with Debian's rustc: a rustup rustc earlier in PATH has no source of std to
# build (-Zbuild-std fails with "rust-src ... does not exist").
export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
# No debug information: this build is for shipping, and it builds faster without.
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
/usr/bin/cargo build --release --locked -Zbuild-std=std,panic_unwind \
  --target x86_64-pc-windows-gnu -p ocrcloud -p ocrcloud-cli "$@"

out=target/x86_64-pc-windows-gnu/release
for file in ocrcloud.dll libocrcloud.dll.a ocrcloud.exe; do
  [ -f "$out/$file" ] || { echo "missing $out/$file" >&2; exit 1; }
done
echo "built $out/ocrcloud.dll, $out/libocrcloud.dll.a and $out/ocrcloud.exe"
