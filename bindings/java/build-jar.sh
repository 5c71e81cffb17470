#!/usr/bin/env bash
# Builds the Java binding's jar with native libraries inside, where JNA looks for them on the
# classpath (its resource prefix per platform: linux-x86-64/libocrcloud.so,
# linux-aarch64/libocrcloud.so, win32-x86-64/ocrcloud.dll), so `java -cp
# ocrcloud-<version>.jar:jna.jar` needs no library path. javac and jar only (Maven's
# `mvn package` packs the same, see pom.xml).
# Usage: bindings/java/build-jar.sh [LIB_DIR [OUTPUT_DIR [PREFIX=LIBRARY]...]]
#   LIB_DIR holds the linux-x86-64 libocrcloud.so (default <repo>/target/release); OUTPUT_DIR
#   defaults to bindings/java/build; each PREFIX=LIBRARY adds the library file LIBRARY under
#   JNA's resource prefix PREFIX (scripts/packages.sh adds linux-aarch64 and win32-x86-64).
#   JNA comes from $JNA_JAR (default /usr/share/java/jna.jar).
# Prints the jar's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$repo/target/release}" && pwd)
out=${2:-$here/build}
natives=("linux-x86-64=$lib_dir/libocrcloud.so" "${@:3}")
jna=${JNA_JAR:-/usr/share/java/jna.jar}
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$here/pom.xml")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/classes" "$out"
javac -Xlint:all -Werror --release 17 -d "$work/classes" -cp "$jna" $(find "$here/src/main" -name '*.java')
for native in "${natives[@]}"; do
  prefix=${native%%=*}
  library=${native#*=}
  mkdir -p "$work/classes/$prefix"
  "$repo/packaging/strip-debug.sh" "$library" "$work/classes/$prefix/$(basename "$library")"
done
jar --create --file "$out/ocrcloud-$version.jar" -C "$work/classes" .
echo "$out/ocrcloud-$version.jar"
