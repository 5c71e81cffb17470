#!/usr/bin/env bash
# Builds the Java binding's jar with the native library inside, where JNA looks for it on the
# classpath (linux-x86-64/libocrcloud.so), so `java -cp ocrcloud-<version>.jar:jna.jar` needs no
# library path. javac and jar only (Maven's `mvn package` packs the same, see pom.xml).
# Usage: bindings/java/build-jar.sh [LIB_DIR [OUTPUT_DIR]]
#   LIB_DIR holds libocrcloud.so (default <repo>/target/release); OUTPUT_DIR defaults to
#   bindings/java/build. JNA comes from $JNA_JAR (default /usr/share/java/jna.jar).
# Prints the jar's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$repo/target/release}" && pwd)
out=${2:-$here/build}
jna=${JNA_JAR:-/usr/share/java/jna.jar}
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$here/pom.xml")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/classes/linux-x86-64" "$out"
javac -Xlint:all -Werror --release 17 -d "$work/classes" -cp "$jna" $(find "$here/src/main" -name '*.java')
strip --strip-debug -o "$work/classes/linux-x86-64/libocrcloud.so" "$lib_dir/libocrcloud.so"
jar --create --file "$out/ocrcloud-$version.jar" -C "$work/classes" .
echo "$out/ocrcloud-$version.jar"
