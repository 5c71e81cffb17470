#!/usr/bin/env bash
# Builds the Java binding with Maven and runs its JUnit 5 tests (`mvn verify` in bindings/java: the
# jar with the library inside, then the tests, which start two emulators of their own: plain HTTP,
# and HTTPS with a CA of its own). Reports: bindings/java/target/failsafe-reports/.
# Usage: bindings/java/test.sh [LIB_DIR] [EMULATOR_BIN]
#   LIB_DIR holds libocrcloud.so (default <repo>/target/debug); EMULATOR_BIN defaults to
#   LIB_DIR/ocrcloud-emulator. Needs Maven (Debian's `maven`: scripts/install-deps.sh installs
#   it); the first run downloads JNA, JUnit and the plugins from Maven Central into ~/.m2.
# The exit status is non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$repo/target/debug}" && pwd)
emulator=$(realpath "${2:-$lib_dir/ocrcloud-emulator}")
[ -f "$lib_dir/libocrcloud.so" ] ||
  { echo "bindings/java/test.sh: no libocrcloud.so in $lib_dir (cargo build)" >&2; exit 1; }
command -v mvn >/dev/null ||
  { echo "bindings/java/test.sh: mvn not found: install Maven (Debian: maven; scripts/install-deps.sh)" >&2; exit 1; }

# A fresh build: target/classes may hold another platform's library from an earlier build.
rm -rf "$here/target"
# The tests stop their emulators; should their JVM die first, the emulators' .pid files remain.
trap 'for p in "$here"/target/emulator-*.pid; do [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; true' EXIT
cd "$here"
mvn -B --no-transfer-progress -Docrcloud.lib.dir="$lib_dir" -Docrcloud.emulator="$emulator" verify
