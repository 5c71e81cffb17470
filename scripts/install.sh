#!/usr/bin/env bash
# Installs the C library into PREFIX, the way C libraries are installed:
#   lib/libocrcloud.so.X.Y.Z (soname libocrcloud.so.X) and the links libocrcloud.so.X, libocrcloud.so
#   lib/libocrcloud.a
#   include/ocrcloud.h, include/ocrcloud.hpp
#   lib/pkgconfig/ocrcloud.pc                 (pkg-config --cflags --libs ocrcloud)
#   lib/cmake/ocrcloud/ocrcloudConfig*.cmake  (find_package(ocrcloud), target ocrcloud::ocrcloud)
#
# Usage: scripts/install.sh PREFIX   (or: make install PREFIX=...)
# It builds the release libraries with the soname in a target folder of their own
# (target/install, or $CARGO_TARGET_DIR/install), so that the libraries of ordinary builds, which
# programs in this tree link against, keep having none. DESTDIR, if set, is put in front of every
# path written (for packagers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:?usage: scripts/install.sh PREFIX}
[[ $prefix == /* ]] || prefix=$PWD/$prefix

version=$(awk -F'"' '/^\[package\]/ { in_package = 1; next } /^\[/ { in_package = 0 }
  in_package && $1 ~ /^version *= *$/ { print $2; exit }' "$root/Cargo.toml")
major=${version%%.*}

target=${CARGO_TARGET_DIR:-$root/target}/install
cargo rustc --quiet --release -p ocrcloud --lib --crate-type cdylib,staticlib \
  --manifest-path "$root/Cargo.toml" --target-dir "$target" \
  -- -C "link-arg=-Wl,-soname,libocrcloud.so.$major"
lib_dir=$target/release

dest=${DESTDIR:-}$prefix
install -d "$dest/include" "$dest/lib/pkgconfig" "$dest/lib/cmake/ocrcloud"
install -m 755 "$lib_dir/libocrcloud.so" "$dest/lib/libocrcloud.so.$version"
ln -sfn "libocrcloud.so.$version" "$dest/lib/libocrcloud.so.$major"
ln -sfn "libocrcloud.so.$major" "$dest/lib/libocrcloud.so"
install -m 644 "$lib_dir/libocrcloud.a" "$dest/lib/libocrcloud.a"
install -m 644 "$root/include/ocrcloud.h" "$root/include/ocrcloud.hpp" "$dest/include/"

# Writes packaging/NAME.in to PATH with @PREFIX@, @VERSION@ and @MAJOR@ filled in.
fill() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    "$root/packaging/$1.in" >"$2"
}
fill ocrcloud.pc "$dest/lib/pkgconfig/ocrcloud.pc"
fill ocrcloudConfig.cmake "$dest/lib/cmake/ocrcloud/ocrcloudConfig.cmake"
fill ocrcloudConfigVersion.cmake "$dest/lib/cmake/ocrcloud/ocrcloudConfigVersion.cmake"
echo "installed ocrcloud $version into $dest"
