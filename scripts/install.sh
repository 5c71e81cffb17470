#!/usr/bin/env bash
# Installs the C library into PREFIX, the way C libraries are installed:
#   lib/libocrcloud.so.X.Y.Z (soname libocrcloud.so.X) and the links libocrcloud.so.X, libocrcloud.so
#   lib/libocrcloud.a
#   include/ocrcloud.h, include/ocrcloud.hpp
#   lib/pkgconfig/ocrcloud.pc                 (pkg-config --cflags --libs ocrcloud)
#   lib/cmake/ocrcloud/ocrcloudConfig*.cmake  (find_package(ocrcloud), target ocrcloud::ocrcloud)
#   share/ocrcloud/install-manifest.txt       (what was written, for scripts/uninstall.sh)
#
# Usage: scripts/install.sh PREFIX   (or: make install PREFIX=...)
# The libraries come from the release build (`cargo build --release`, run here, which reuses a
# build that is current and shows its progress); the installed copy gets its soname from
# patchelf, so that the libraries in target/, which programs in this tree link against, keep
# having none. Without patchelf, the release libraries are linked with the soname in a target
# folder of their own (target/install: a full build). OCRCLOUD_LIB_DIR names a folder that
# already holds libocrcloud.so and libocrcloud.a to install instead (no build). DESTDIR, if set,
# is put in front of every path written (for packagers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:?usage: scripts/install.sh PREFIX}
[[ $prefix == /* ]] || prefix=$PWD/$prefix

version=$(awk -F'"' '/^\[package\]/ { in_package = 1; next } /^\[/ { in_package = 0 }
  in_package && $1 ~ /^version *= *$/ { print $2; exit }' "$root/Cargo.toml")
major=${version%%.*}
soname=libocrcloud.so.$major

set_soname=patchelf
if [[ -n ${OCRCLOUD_LIB_DIR:-} ]]; then
  lib_dir=$OCRCLOUD_LIB_DIR
  if ! command -v patchelf >/dev/null; then
    echo "scripts/install.sh: OCRCLOUD_LIB_DIR needs patchelf to give the library its soname" >&2
    exit 1
  fi
  echo "==> installing the libraries in $lib_dir"
elif command -v patchelf >/dev/null; then
  echo "==> building the release library (cargo build --release; nothing to do if it is current)"
  cargo build --release -p ocrcloud --lib --manifest-path "$root/Cargo.toml"
  lib_dir=${CARGO_TARGET_DIR:-$root/target}/release
else
  echo "==> patchelf is missing: building the release library with its soname in target/install"
  echo "    (a full build of a few minutes; install patchelf to reuse the release build instead)"
  target=${CARGO_TARGET_DIR:-$root/target}/install
  cargo rustc --release -p ocrcloud --lib --crate-type cdylib,staticlib \
    --manifest-path "$root/Cargo.toml" --target-dir "$target" \
    -- -C "link-arg=-Wl,-soname,$soname"
  lib_dir=$target/release
  set_soname=""
fi

dest=${DESTDIR:-}$prefix
manifest=share/ocrcloud/install-manifest.txt
# Folders an earlier install created stay recorded as created by the installer.
entries=()
if [[ -f $dest/$manifest ]]; then
  mapfile -t entries < <(grep '^dir ' "$dest/$manifest")
fi

# Creates the folder PREFIX/$1 and its missing parents, recording each one it creates.
folder() {
  local path=$1 missing=()
  while [[ ! -e $dest/$path && $path != . ]]; do
    missing=("$path" "${missing[@]}")
    path=$(dirname "$path")
  done
  local made
  for made in "${missing[@]}"; do
    mkdir -p "$dest" && mkdir "$dest/$made"
    entries+=("dir $made")
  done
}

# Records PREFIX/$1 as written and shows it.
wrote() {
  entries+=("file $1")
  echo "    $dest/$1"
}

echo "==> installing ocrcloud $version into $dest"
folder include
folder lib/pkgconfig
folder lib/cmake/ocrcloud
install -m 755 "$lib_dir/libocrcloud.so" "$dest/lib/libocrcloud.so.$version"
if [[ -n $set_soname ]]; then
  patchelf --set-soname "$soname" "$dest/lib/libocrcloud.so.$version"
fi
wrote "lib/libocrcloud.so.$version"
ln -sfn "libocrcloud.so.$version" "$dest/lib/$soname"
wrote "lib/$soname"
ln -sfn "$soname" "$dest/lib/libocrcloud.so"
wrote lib/libocrcloud.so
install -m 644 "$lib_dir/libocrcloud.a" "$dest/lib/libocrcloud.a"
wrote lib/libocrcloud.a
for header in ocrcloud.h ocrcloud.hpp; do
  install -m 644 "$root/include/$header" "$dest/include/$header"
  wrote "include/$header"
done

# Writes packaging/NAME.in to PREFIX/PATH with @PREFIX@, @VERSION@ and @MAJOR@ filled in.
fill() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    "$root/packaging/$1.in" >"$dest/$2"
  wrote "$2"
}
fill ocrcloud.pc lib/pkgconfig/ocrcloud.pc
fill ocrcloudConfig.cmake lib/cmake/ocrcloud/ocrcloudConfig.cmake
fill ocrcloudConfigVersion.cmake lib/cmake/ocrcloud/ocrcloudConfigVersion.cmake

folder share/ocrcloud
entries+=("file $manifest")
printf '%s\n' "${entries[@]}" | awk '!seen[$0]++' >"$dest/$manifest"
echo "    $dest/$manifest"
echo "installed ocrcloud $version into $dest (scripts/uninstall.sh $prefix removes it)"
