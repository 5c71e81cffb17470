//! The portable Linux release builds (`make linux-x86-64`, `make linux-arm64`, linked against
//! glibc 2.17 by scripts/portable.sh): the C test programs of tests/c and the CLI against the
//! emulator on loopback, the x86-64 build natively, the arm64 build under qemu-user. They need
//! those builds, aarch64-linux-gnu-gcc and qemu-aarch64, so ordinary test runs skip them;
//! scripts/test-portable.sh builds everything and runs them with `--ignored`.

mod common;

use common::{Emulator, compile_c_with, library_dir, scratch_dir, show};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SONAME: &str = concat!("libocrcloud.so.", env!("CARGO_PKG_VERSION_MAJOR"));

/// One platform's release build, and how to compile for it and run its programs here.
struct Platform {
    triple: &'static str,
    compiler: &'static str,
    /// The program (and its arguments) that runs this platform's executables here, if any.
    runner: &'static [&'static str],
}

const X86_64: Platform = Platform {
    triple: "x86_64-unknown-linux-gnu",
    compiler: "gcc",
    runner: &[],
};

const ARM64: Platform = Platform {
    triple: "aarch64-unknown-linux-gnu",
    compiler: "aarch64-linux-gnu-gcc",
    // The arm64 dynamic loader and C library of Debian's libc6-arm64-cross.
    runner: &["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"],
};

impl Platform {
    /// target/<triple>/release, where the portable build leaves the library and the CLI.
    fn release_dir(&self) -> PathBuf {
        // library_dir() is target/<profile>/deps.
        let target = library_dir().join("../..");
        target.join(self.triple).join("release")
    }

    /// Compiles a C source of this repository for the platform against its release library,
    /// through a folder holding the links libocrcloud.so and (the library's soname)
    /// libocrcloud.so.MAJOR, as an installed library has them.
    fn compile(&self, source: &str, tag: &str) -> PathBuf {
        let library = self.release_dir().join("libocrcloud.so");
        assert!(library.is_file(), "{} is not built", library.display());
        let out_dir = self.release_dir().parent().unwrap().join("c-programs");
        let links = out_dir.join("lib");
        std::fs::create_dir_all(&links).unwrap();
        // Each call's links get names of their own: tests of one platform run at once.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for name in ["libocrcloud.so", SONAME] {
            // A link made beside and renamed into place: tests running at once may do the same.
            let fresh = links.join(format!("{name}.{tag}-{call}"));
            let _ = std::fs::remove_file(&fresh);
            std::os::unix::fs::symlink(&library, &fresh).unwrap();
            std::fs::rename(&fresh, links.join(name)).unwrap();
        }
        compile_c_with(self.compiler, &links, &out_dir, source, tag)
    }

    /// A command that runs `program`, built for this platform, here.
    fn command(&self, program: &Path) -> Command {
        match self.runner {
            [] => Command::new(program),
            [runner, args @ ..] => {
                let mut command = Command::new(runner);
                command.args(args).arg(program);
                command
            }
        }
    }
}

fn assert_all_passed(output: &Output, expected_summary: &str) {
    assert!(output.status.success(), "{}", show(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.trim_end().ends_with(expected_summary),
        "{}",
        show(output)
    );
}

/// tests/c/test_core.c, with the slow-machine bounds of its valgrind run (tasks Pending then
/// Processing for 1.5 s each, a cancel that ends a poll within 3 s): under qemu every
/// instruction is translated.
fn test_core(platform: &Platform, tag: &str) {
    let program = platform.compile("tests/c/test_core.c", tag);
    let emulator = Emulator::start(&["--pending-ms", "1500", "--processing-ms", "1500"]);
    let scratch = scratch_dir(&format!("portable-core-{tag}"));
    let output = platform
        .command(&program)
        .arg(&emulator.url)
        .arg(Path::new(ROOT).join("examples/sample.pdf"))
        .arg(&scratch)
        .env("OCR_TEST_CANCEL_MS", "3000")
        .output()
        .expect("the test program runs");
    assert_all_passed(&output, " passed, 0 failed");
    std::fs::remove_dir_all(scratch).unwrap();
}

/// tests/c/fault_driver.c: every call under every fault the emulator injects.
fn fault_driver(platform: &Platform, tag: &str) {
    let program = platform.compile("tests/c/fault_driver.c", tag);
    let emulator = Emulator::start(&[]);
    let scratch = scratch_dir(&format!("portable-faults-{tag}"));
    let output = platform
        .command(&program)
        .arg(&emulator.url)
        .arg(Path::new(ROOT).join("examples/sample.pdf"))
        .arg(&scratch)
        .output()
        .expect("the fault driver runs");
    assert_all_passed(&output, " passed, 0 failed");
    std::fs::remove_dir_all(scratch).unwrap();
}

/// tests/c/fork.c: a client used before fork(2), then in five children at once.
fn fork(platform: &Platform, tag: &str) {
    let program = platform.compile("tests/c/fork.c", tag);
    let emulator = Emulator::start(&[]);
    for i in 0..200 {
        let id = format!("t-{i}");
        emulator.fixture(serde_json::json!({"id": id, "results": [{"type": "Text", "text": id}]}));
    }
    let output = platform
        .command(&program)
        .arg(&emulator.url)
        .output()
        .expect("the fork program runs");
    assert_all_passed(&output, "5 passed, 0 failed");
}

/// The CLI's `run` over HTTPS, trusting the emulator's CA through SSL_CERT_FILE: the PDF comes
/// back whole and the text layer is recognized.
fn cli_run(platform: &Platform, tag: &str) {
    let emulator = Emulator::start_tls(&[]);
    let out = scratch_dir(&format!("portable-cli-{tag}"));
    let sample = Path::new(ROOT).join("examples/sample.pdf");
    let output = platform
        .command(&platform.release_dir().join("ocrcloud"))
        .arg("run")
        .arg(&sample)
        .arg("-o")
        .arg(&out)
        .args(["--settings", r#"{"resultType":"TextAndPdf"}"#])
        .env_remove("OCR_ACCESS_TOKEN")
        .env_remove("SSL_CERT_DIR")
        .env("OCR_BASE_URL", &emulator.url)
        .env("OCR_CLIENT_ID", "demo")
        .env("OCR_CLIENT_SECRET", "demo-secret")
        .env("SSL_CERT_FILE", emulator.ca_file.as_ref().unwrap())
        .output()
        .expect("the CLI runs");
    assert!(output.status.success(), "{}", show(&output));
    let mut saved: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    saved.sort();
    assert_eq!(saved.len(), 2, "{saved:?}");
    assert_eq!(
        std::fs::read(&saved[0]).unwrap(),
        std::fs::read(&sample).unwrap()
    );
    assert!(
        std::fs::read_to_string(&saved[1])
            .unwrap()
            .contains("Hello from ocrcloud!")
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn x86_64_the_c_test_program_passes() {
    test_core(&X86_64, "x86_64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn arm64_the_c_test_program_passes_under_qemu() {
    test_core(&ARM64, "arm64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn x86_64_every_call_under_every_fault_gives_a_documented_code() {
    fault_driver(&X86_64, "x86_64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn arm64_every_call_under_every_fault_gives_a_documented_code_under_qemu() {
    fault_driver(&ARM64, "arm64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn x86_64_children_of_a_fork_get_their_own_answers() {
    fork(&X86_64, "x86_64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn arm64_children_of_a_fork_get_their_own_answers_under_qemu() {
    fork(&ARM64, "arm64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn x86_64_the_cli_runs_a_document_over_https() {
    cli_run(&X86_64, "x86_64");
}

#[test]
#[ignore = "needs make linux-x86-64 linux-arm64; run by scripts/test-portable.sh"]
fn arm64_the_cli_runs_a_document_over_https_under_qemu() {
    cli_run(&ARM64, "arm64");
}
