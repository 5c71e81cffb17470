#!/usr/bin/env bash
# Removes what scripts/install.sh wrote into PREFIX, as its manifest
# (PREFIX/share/ocrcloud/install-manifest.txt) lists it: the files and links it wrote, then the
# folders it created, each only if it is empty (a file someone else put there keeps its folder).
# Nothing else in PREFIX is touched. DESTDIR, if set, is put in front of every path.
#
# Usage: scripts/uninstall.sh PREFIX   (or: make uninstall PREFIX=...)
set -euo pipefail
prefix=${1:?usage: scripts/uninstall.sh PREFIX}
[[ $prefix == /* ]] || prefix=$PWD/$prefix
dest=${DESTDIR:-}$prefix
manifest=$dest/share/ocrcloud/install-manifest.txt
if [[ ! -f $manifest ]]; then
  echo "scripts/uninstall.sh: no ocrcloud installation in $dest ($manifest is missing)" >&2
  exit 1
fi

echo "==> removing ocrcloud from $dest"
mapfile -t files < <(sed -n 's/^file //p' "$manifest")
mapfile -t folders < <(sed -n 's/^dir //p' "$manifest" | sort -r)
for file in "${files[@]}"; do
  # The manifest goes last, so that a failed run can be repeated.
  if [[ $dest/$file != "$manifest" && ( -f $dest/$file || -L $dest/$file ) ]]; then
    rm -f "$dest/$file"
    echo "    removed $dest/$file"
  fi
done
rm -f "$manifest"
for folder in "${folders[@]}"; do
  if [[ -d $dest/$folder ]] && rmdir "$dest/$folder" 2>/dev/null; then
    echo "    removed $dest/$folder/"
  fi
done
echo "uninstalled ocrcloud from $dest"
