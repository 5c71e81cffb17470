#!/usr/bin/env bash
# Builds the NuGet package of the C# binding with mono's mcs (dotnet and NuGet are not needed): a
# zip of Ocrcloud.nuspec, lib/net8.0/Ocrcloud.dll with Ocrcloud.dll.config (mono's dllmap) and
# runtimes/RID/native/ with each platform's library, the layout that `dotnet pack` makes from
# Ocrcloud.csproj. Applications that reference the package get the library in
# runtimes/RID/native/ of their output folder, where the binding finds it.
# Usage: bindings/csharp/build-nupkg.sh [LIB_DIR [OUTPUT_DIR [RID=LIBRARY]...]]
#   LIB_DIR holds the linux-x64 libocrcloud.so (default <repo>/target/release); OUTPUT_DIR
#   defaults to bindings/csharp/build; each RID=LIBRARY adds the library file LIBRARY as
#   runtimes/RID/native/ (scripts/packages.sh adds linux-arm64 and win-x64). Prints the
#   package's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$repo/target/release}" && pwd)
out=$(mkdir -p "${2:-$here/build}" && cd "${2:-$here/build}" && pwd)
natives=("linux-x64=$lib_dir/libocrcloud.so" "${@:3}")
version=$(sed -n 's:^    <Version>\(.*\)</Version>$:\1:p' "$here/Ocrcloud.csproj")
description=$(sed -n 's:^    <Description>\(.*\)</Description>$:\1:p' "$here/Ocrcloud.csproj")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib/net8.0"
mcs -target:library -unsafe -warnaserror -out:"$work/lib/net8.0/Ocrcloud.dll" "$here"/src/*.cs
cp "$here/Ocrcloud.dll.config" "$work/lib/net8.0/"
for native in "${natives[@]}"; do
  rid=${native%%=*}
  library=${native#*=}
  mkdir -p "$work/runtimes/$rid/native"
  "$repo/packaging/strip-debug.sh" "$library" "$work/runtimes/$rid/native/$(basename "$library")"
done
cat > "$work/Ocrcloud.nuspec" <<NUSPEC
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>Ocrcloud</id>
    <version>$version</version>
    <authors>ocrcloud</authors>
    <description>$description</description>
    <license type="expression">MIT</license>
    <dependencies>
      <group targetFramework="net8.0" />
    </dependencies>
  </metadata>
</package>
NUSPEC
cat > "$work/[Content_Types].xml" <<'TYPES'
<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="config" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
</Types>
TYPES
package="$out/Ocrcloud.$version.nupkg"
rm -f "$package"
(cd "$work" && python3 -m zipfile -c "$package" Ocrcloud.nuspec "[Content_Types].xml" lib runtimes)
echo "$package"
