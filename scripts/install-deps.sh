#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those that are missing; with arguments, only
# the packages named (the cross builds name theirs: scripts/portable.sh).
# postgresql: the server the shared journal's tests start (scripts/postgres.sh), and psql.
set -euo pipefail

packages=(gcc g++ make binutils patchelf pkg-config valgrind curl jq time python3-venv openjdk-17-jdk-headless maven mono-mcs mono-runtime libmono-system-io-compression4.0-cil libmono-system-io-compression-filesystem4.0-cil libjna-java cmake doxygen postgresql)
[ $# -eq 0 ] || packages=("$@")
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
