#!/usr/bin/env bash
# Builds the API reference (build output, ignored by git):
# - target/doc/c-api/index.html: Doxygen HTML of include/ocrcloud.h (docs/Doxyfile, docs/api.dox);
#   any Doxygen warning fails the build;
# - target/doc/ocrcloud/index.html: rustdoc of the crate, with rustdoc's warnings denied.
# Needs doxygen (scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/doc/c-api
rm -rf "$out"
mkdir -p "$out"
(cd docs && { cat Doxyfile; echo "OUTPUT_DIRECTORY = ../$out"; echo "HTML_OUTPUT = ."; } | doxygen -)
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p ocrcloud --quiet
echo "the C API: $out/index.html; the Rust crate: target/doc/ocrcloud/index.html"
