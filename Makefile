# The two commands of the quick start, and the developer tasks around them.

.PHONY: demo test install uninstall windows linux-x86-64 linux-arm64 packages

# Where `make install` puts the C library.
PREFIX ?= /usr/local

# Builds everything, starts the emulator, runs examples/demo.c against it.
demo:
	scripts/demo.sh

# Every test (installs missing Debian packages first).
test:
	scripts/test.sh

# Installs the release library (built, or reused when current) into PREFIX with its headers, a
# pkg-config file and a CMake package (scripts/install.sh).
install:
	scripts/install.sh "$(PREFIX)"

# Removes exactly what `make install` wrote into PREFIX (scripts/uninstall.sh).
uninstall:
	scripts/uninstall.sh "$(PREFIX)"

# The Windows x64 build: target/x86_64-pc-windows-gnu/release/ocrcloud.dll, libocrcloud.dll.a
# and ocrcloud.exe (scripts/build-windows.sh; docs/windows.md).
windows:
	scripts/build-windows.sh

# Release builds for Linux that need no glibc newer than 2.17 (scripts/portable.sh):
# target/x86_64-unknown-linux-gnu/release/ and target/aarch64-unknown-linux-gnu/release/
# libocrcloud.so and ocrcloud.
linux-x86-64:
	scripts/portable.sh x86-64

linux-arm64:
	scripts/portable.sh arm64

# The Python wheels, the Java jar, the NuGet package and the C archives of all three platforms
# in target/packages/ (scripts/packages.sh).
packages: linux-x86-64 linux-arm64 windows
	scripts/packages.sh
