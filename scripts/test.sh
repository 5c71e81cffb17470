#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust and C tests, the official SDK against the
# emulator. Installs what it needs. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing missing packages"
scripts/install-deps.sh

step "formatting and lints"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "building"
cargo build --workspace --quiet

step "the release builds of Windows and portable Linux, started in the background at the lowest priority"
# The Rust and binding tests below leave the CPU mostly idle (they wait on emulators, databases
# and timers), so the cross builds that the Windows and portable steps need run meanwhile, in a
# process group of their own (ended with this script). Their output: target/cross-builds.log.
cross_log=target/cross-builds.log
setsid bash -c 'nice -n 19 scripts/build-windows.sh && nice -n 19 scripts/portable.sh x86-64 &&
  nice -n 19 scripts/portable.sh arm64' > "$cross_log" 2>&1 &
cross_builds=$!
trap 'kill -- -"$cross_builds" 2>/dev/null || true' EXIT

step "Rust and C tests"
# Several test binaries at once (scripts/rust-tests.sh; OCRCLOUD_TEST_JOBS), with the
# documentation tests (the C functions are unsafe to call from safe Rust), which nextest skips.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc --quiet
else
  scripts/rust-tests.sh
fi

step "the API reference (Doxygen with no warnings, rustdoc with warnings denied)"
scripts/docs.sh

step "the Python binding against the emulator"
bindings/python/test.sh target/debug target/debug/ocrcloud-emulator

step "the C++ header against the emulator (natively and under valgrind)"
bindings/cpp/test.sh target/debug target/debug/ocrcloud-emulator

step "the Java binding against the emulator"
bindings/java/test.sh target/debug target/debug/ocrcloud-emulator

step "the C# binding against the emulator (mono)"
bindings/csharp/test.sh target/debug target/debug/ocrcloud-emulator

step "the official Python SDK against the emulator"
emulator/tests/official-sdk/run.sh target/debug/ocrcloud-emulator

step "waiting for the release builds of Windows and portable Linux"
wait "$cross_builds" || { cat "$cross_log"; echo "the release builds failed (above)" >&2; exit 1; }

step "the Windows x64 build under Wine, against the emulator"
scripts/test-windows.sh target/debug/ocrcloud-emulator

step "the portable Linux builds (arm64 under qemu-user), their glibc floor, the packages of every platform"
scripts/test-portable.sh target/debug/ocrcloud-emulator

step "a smoke run of the benchmark (tiny inputs; asserts nothing about speed)"
benches/run.sh --smoke

step "all tests passed"
