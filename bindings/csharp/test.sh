#!/usr/bin/env bash
# Compiles the C# binding with its tests and sample (mcs), builds its NuGet package
# (build-nupkg.sh), starts two emulators (plain HTTP, and HTTPS with a CA of its own:
# --tls-self-signed), runs the tests (mono).
# Usage: bindings/csharp/test.sh [LIB_DIR] [EMULATOR_BIN]
#   LIB_DIR holds libocrcloud.so (default <repo>/target/debug); EMULATOR_BIN defaults to
#   LIB_DIR/ocrcloud-emulator.
# The last line is "N passed, M failed"; the exit status is non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$repo/target/debug}" && pwd)
emulator=${2:-$lib_dir/ocrcloud-emulator}
build=$here/build

rm -rf "$build"
mkdir -p "$build"
# No .NET SDK here: the SDK-style projects are checked by reading them (well-formed XML, the .NET
# SDK, net8.0), so that they stay valid for `dotnet build`.
if ! python3 - "$here/Ocrcloud.csproj" "$here/examples/Sample.csproj" <<'PYTHON'
import sys
import xml.etree.ElementTree as ElementTree
for path in sys.argv[1:]:
    try:
        project = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        sys.exit(f"{path} is not well-formed XML: {error}")
    frameworks = [element.text for element in project.iter("TargetFramework")]
    if project.tag != "Project" or project.get("Sdk") != "Microsoft.NET.Sdk" or frameworks != ["net8.0"]:
        sys.exit(f"{path} is not an SDK-style project for net8.0")
PYTHON
then
  echo "0 passed, 1 failed"
  exit 1
fi
if ! { mcs -target:library -unsafe -warnaserror -out:"$build/Ocrcloud.dll" "$here"/src/*.cs &&
       mcs -warnaserror -r:"$build/Ocrcloud.dll" -out:"$build/Sample.exe" "$here/examples/Sample.cs" &&
       mcs -warnaserror -r:"$build/Ocrcloud.dll" -r:System.IO.Compression -r:System.IO.Compression.FileSystem \
         -out:"$build/BindingTests.exe" "$here/tests/BindingTests.cs" &&
       nupkg=$("$here/build-nupkg.sh" "$lib_dir" "$build"); }; then
  echo "0 passed, 1 failed"
  exit 1
fi

work=$(mktemp -d) log=$(mktemp)
# A PostgreSQL of its own for the shared batch's test, outside $work (which its user cannot enter).
pg_dir=$(mktemp -u /tmp/ocrcloud-pg-cs-XXXXXX)
trap 'for p in "$work"/*.pid; do [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; rm -rf "$work" "$log"; "$repo/scripts/postgres.sh" remove "$pg_dir"' EXIT
OCR_TEST_PG_URL=$("$repo/scripts/postgres.sh" start "$pg_dir" $$)
export OCR_TEST_PG_URL
url=$("$repo/scripts/start-emulator.sh" "$emulator" "$work/emulator.pid" --pending-ms 100 --processing-ms 100)
tls_url=$("$repo/scripts/start-emulator.sh" "$emulator" "$work/tls-emulator.pid" --pending-ms 100 \
  --processing-ms 100 --tls-self-signed "$work/ca.pem")

status=0

# [DllImport("ocrcloud")] finds libocrcloud.so through the library path.
LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  mono --debug "$build/BindingTests.exe" "$url" "$repo/examples/sample.pdf" "$build/Sample.exe" \
    "$repo/include/ocrcloud.h" "$tls_url" "$work/ca.pem" "$nupkg" 2>&1 | tee "$log" || status=$?
# A crash ends the run before the tests' own summary.
if ! tail -n 1 "$log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  echo "the tests did not finish (status $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
exit "$status"
