#!/usr/bin/env bash
# Compiles the Java binding with its tests and sample, builds its jar (build-jar.sh), starts two
# emulators (plain HTTP, and HTTPS with a CA of its own: --tls-self-signed), runs the tests.
# Usage: bindings/java/test.sh [LIB_DIR] [EMULATOR_BIN]
#   LIB_DIR holds libocrcloud.so (default <repo>/target/debug); EMULATOR_BIN defaults to
#   LIB_DIR/ocrcloud-emulator. JNA comes from $JNA_JAR (default /usr/share/java/jna.jar).
# The last line is "N passed, M failed"; the exit status is non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$repo/target/debug}" && pwd)
emulator=${2:-$lib_dir/ocrcloud-emulator}
jna=${JNA_JAR:-/usr/share/java/jna.jar}
classes=$here/build/classes

rm -rf "$classes"
mkdir -p "$classes"
if ! javac -Xlint:all -Werror -d "$classes" -cp "$jna" \
    $(find "$here/src" "$here/examples" -name '*.java') ||
   ! jar=$("$here/build-jar.sh" "$lib_dir" "$here/build"); then
  echo "0 passed, 1 failed"
  exit 1
fi

work=$(mktemp -d) log=$(mktemp)
trap 'for p in "$work"/*.pid; do [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; rm -rf "$work" "$log"' EXIT
url=$("$repo/scripts/start-emulator.sh" "$emulator" "$work/emulator.pid" --pending-ms 100 --processing-ms 100)
tls_url=$("$repo/scripts/start-emulator.sh" "$emulator" "$work/tls-emulator.pid" --pending-ms 100 \
  --processing-ms 100 --tls-self-signed "$work/ca.pem")

status=0

# The memory test reads the RSS: a fixed, pre-touched heap keeps Java's heap out of it, and C1
# alone avoids the C2 compiler's bursts of tens of MiB that would drown a leak (or fake one).
java -Xms64m -Xmx64m -XX:TieredStopAtLevel=1 -XX:+AlwaysPreTouch -cp "$classes:$jna" -Djna.library.path="$lib_dir" \
  -Docrcloud.jar="$jar" -Docrcloud.jna="$jna" -Docrcloud.sample="$here/examples/Sample.java" \
  cloud.ocr.ocrcloud.BindingTests "$url" "$repo/examples/sample.pdf" "$repo/include/ocrcloud.h" \
  "$tls_url" "$work/ca.pem" 2>&1 |
  tee "$log" || status=$?
# A crash ends the run before the tests' own summary.
if ! tail -n 1 "$log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  echo "the tests did not finish (status $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
exit "$status"
