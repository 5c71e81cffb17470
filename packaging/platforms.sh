# The platforms that are built and packaged (sourced by scripts/portable.sh, scripts/packages.sh
# and scripts/test-portable.sh; paths relative to the repository's root).
# The oldest glibc the Linux builds run on: they are linked against its symbol versions.
glibc_floor=2.17
# Where `make linux-x86-64`, `make linux-arm64` and `make windows` leave their release builds.
linux_x86_64_dir=target/x86_64-unknown-linux-gnu/release
linux_aarch64_dir=target/aarch64-unknown-linux-gnu/release
windows_x86_64_dir=target/x86_64-pc-windows-gnu/release
