#!/usr/bin/env bash
# Packs the release builds of the three platforms (make linux-x86-64, make linux-arm64,
# make windows; `make packages` runs them first) into target/packages/:
#   ocrcloud-VERSION-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl, the same for
#       aarch64, ...-win_amd64.whl (bindings/python/build_wheel.py: setuptools through
#       `python -m build`; the library beside the package's modules)
#   ocrcloud-VERSION.jar      linux-x86-64/, linux-aarch64/, win32-x86-64/ (JNA's prefixes;
#                             Maven's build of bindings/java: java_jar below)
#   Ocrcloud.VERSION.nupkg    runtimes/{linux-x64,linux-arm64,win-x64}/native/
#   ocrcloud-VERSION-linux-x86_64.tar.gz, ocrcloud-VERSION-linux-aarch64.tar.gz,
#   ocrcloud-VERSION-windows-x86_64.zip   the C release archives: see c_archive below.
# scripts/test-portable.sh checks every package (tests/packages/test_packages.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. packaging/platforms.sh
scripts/install-deps.sh binutils-aarch64-linux-gnu openjdk-17-jdk-headless maven libjna-java mono-mcs

version=$(awk -F'"' '/^\[package\]/ { in_package = 1; next } /^\[/ { in_package = 0 }
  in_package && $1 ~ /^version *= *$/ { print $2; exit }' Cargo.toml)
major=${version%%.*}
linux_x86_64=$linux_x86_64_dir/libocrcloud.so
linux_aarch64=$linux_aarch64_dir/libocrcloud.so
windows_x86_64=$windows_x86_64_dir/ocrcloud.dll
for file in "$linux_x86_64" "$linux_aarch64" "$windows_x86_64" "$windows_x86_64_dir/libocrcloud.dll.a" \
  "$windows_x86_64_dir/ocrcloud.exe" "$linux_x86_64_dir/ocrcloud" "$linux_aarch64_dir/ocrcloud"; do
  [ -f "$file" ] || { echo "packages.sh: $file is missing (make linux-x86-64 linux-arm64 windows)" >&2; exit 1; }
done

# The jar of Maven's build of bindings/java (no tests: the binding's tests ran on the debug build),
# with each platform's library stripped of its debug information; copied into OUT.
# Usage: java_jar OUT
java_jar() {
  local natives
  natives=$(mktemp -d)
  mkdir "$natives/linux-x86-64" "$natives/linux-aarch64" "$natives/win32-x86-64"
  packaging/strip-debug.sh "$linux_x86_64" "$natives/linux-x86-64/libocrcloud.so"
  packaging/strip-debug.sh "$linux_aarch64" "$natives/linux-aarch64/libocrcloud.so"
  packaging/strip-debug.sh "$windows_x86_64" "$natives/win32-x86-64/ocrcloud.dll"
  # A fresh build, removed afterwards: target/classes keeps the libraries it was given.
  rm -rf bindings/java/target
  (cd bindings/java && mvn -B -q --no-transfer-progress -Dmaven.test.skip=true \
    -Docrcloud.lib.dir="$natives/linux-x86-64" -Docrcloud.lib.linux-aarch64.dir="$natives/linux-aarch64" \
    -Docrcloud.lib.win32-x86-64.dir="$natives/win32-x86-64" package)
  cp "bindings/java/target/ocrcloud-$version.jar" "$1/" ||
    { echo "packages.sh: bindings/java/pom.xml's version is not $version (Cargo.toml's)" >&2; exit 1; }
  rm -rf bindings/java/target "$natives"
}

out=target/packages
rm -rf "$out"
mkdir -p "$out"
manylinux=manylinux_${glibc_floor/./_}
python3 bindings/python/build_wheel.py "$linux_x86_64" "$out" "${manylinux}_x86_64" >/dev/null
python3 bindings/python/build_wheel.py "$linux_aarch64" "$out" "${manylinux}_aarch64" >/dev/null
python3 bindings/python/build_wheel.py "$windows_x86_64" "$out" win_amd64 >/dev/null
java_jar "$out"
bindings/csharp/build-nupkg.sh "$linux_x86_64_dir" "$out" \
  "linux-arm64=$linux_aarch64" "win-x64=$windows_x86_64" >/dev/null

# Writes packaging/NAME.in to PATH for a tree that may be moved: pkg-config finds the prefix from
# the .pc file's place, CMake from the config file's.
fill() {
  sed -e 's|@PREFIX@|${pcfiledir}/../..|g' -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    "packaging/$1.in" >"$2"
}

# The C release archive of one platform, laid out as `make install` lays out a prefix:
#   include/ocrcloud.h, include/ocrcloud.hpp
#   Linux:   lib/libocrcloud.so.VERSION (soname libocrcloud.so.MAJOR) and the links
#            libocrcloud.so.MAJOR and libocrcloud.so, lib/libocrcloud.a, bin/ocrcloud
#   Windows: bin/ocrcloud.dll, lib/libocrcloud.dll.a (its import library), bin/ocrcloud.exe
#   lib/pkgconfig/ocrcloud.pc, lib/cmake/ocrcloud/ocrcloudConfig*.cmake
# Usage: c_archive PLATFORM BUILD_DIR (PLATFORM: linux-x86_64, linux-aarch64, windows-x86_64).
c_archive() {
  local platform=$1 build=$2
  local name=ocrcloud-$version-$platform
  local tree=$out/$name
  install -d "$tree/bin" "$tree/include" "$tree/lib/pkgconfig" "$tree/lib/cmake/ocrcloud"
  install -m 644 include/ocrcloud.h include/ocrcloud.hpp "$tree/include/"
  fill ocrcloud.pc "$tree/lib/pkgconfig/ocrcloud.pc"
  fill ocrcloudConfig.cmake "$tree/lib/cmake/ocrcloud/ocrcloudConfig.cmake"
  fill ocrcloudConfigVersion.cmake "$tree/lib/cmake/ocrcloud/ocrcloudConfigVersion.cmake"
  if [ "$platform" = windows-x86_64 ]; then
    packaging/strip-debug.sh "$build/ocrcloud.dll" "$tree/bin/ocrcloud.dll"
    packaging/strip-debug.sh "$build/ocrcloud.exe" "$tree/bin/ocrcloud.exe"
    install -m 644 "$build/libocrcloud.dll.a" "$tree/lib/"
    # The DLL needs no library to be named when linking against it.
    sed -i '/^Libs.private:/d' "$tree/lib/pkgconfig/ocrcloud.pc"
    (cd "$out" && python3 -m zipfile -c "$name.zip" "$name")
  else
    packaging/strip-debug.sh "$build/libocrcloud.so" "$tree/lib/libocrcloud.so.$version"
    ln -s "libocrcloud.so.$version" "$tree/lib/libocrcloud.so.$major"
    ln -s "libocrcloud.so.$major" "$tree/lib/libocrcloud.so"
    packaging/strip-debug.sh "$build/libocrcloud.a" "$tree/lib/libocrcloud.a"
    packaging/strip-debug.sh "$build/ocrcloud" "$tree/bin/ocrcloud"
    tar -C "$out" -czf "$out/$name.tar.gz" "$name"
  fi
  rm -rf "$tree"
}
c_archive linux-x86_64 "$linux_x86_64_dir"
c_archive linux-aarch64 "$linux_aarch64_dir"
c_archive windows-x86_64 "$windows_x86_64_dir"
ls -1 "$out"
