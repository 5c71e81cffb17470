#!/usr/bin/env bash
# Copies the library, archive or program IN to OUT without its debug information, with a strip
# that reads IN's format: this machine's binutils read x86-64 ELF and PE (Windows) files; arm64
# ELF files need aarch64-linux-gnu-strip (Debian's binutils-aarch64-linux-gnu). readelf reads
# the headers of any ELF file.
# Usage: packaging/strip-debug.sh IN OUT
set -euo pipefail
in=$1 out=$2
strip=strip
if readelf -h "$in" 2>/dev/null | grep '^ *Machine: *AArch64$' >/dev/null; then
  strip=aarch64-linux-gnu-strip
fi
"$strip" --strip-debug -o "$out" "$in"
