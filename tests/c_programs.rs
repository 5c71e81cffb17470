//! The C programs (tests/c and examples) compiled with -Wall -Wextra -Werror against the
//! committed header and the built library, run against the emulator, and once under valgrind.

mod common;

use common::{Emulator, compile_c, scratch_dir, show, valgrind};
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs the C test program `source` (`tests/c/*.c`: arguments BASE_URL SAMPLE_PDF SCRATCH_DIR,
/// ending with "N passed, M failed") against a fresh emulator started with `emulator_args`;
/// `command` wraps the compiled program and may add environment variables.
fn run_c_test(
    source: &str,
    tag: &str,
    emulator_args: &[&str],
    command: impl FnOnce(&Path) -> Command,
) {
    let binary = compile_c(source, tag);
    let emulator = Emulator::start(emulator_args);
    let name = Path::new(source).file_stem().unwrap().to_string_lossy();
    let scratch = scratch_dir(&format!("c-{name}-{tag}"));
    let output = command(&binary)
        .arg(&emulator.url)
        .arg(Path::new(ROOT).join("examples/sample.pdf"))
        .arg(&scratch)
        .output()
        .expect("the test program runs");
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.trim_end().ends_with(" passed, 0 failed"),
        "{}",
        show(&output)
    );
    std::fs::remove_dir_all(scratch).unwrap();
}

/// tests/c/test_core.c, with tasks that stay Pending and then Processing for `stage_ms` each
/// (long enough for the program to see them, also under valgrind on a loaded machine), and a
/// cancel that must end a poll within `cancel_bound_ms`.
fn run_test_core(
    tag: &str,
    command: impl FnOnce(&Path) -> Command,
    cancel_bound_ms: &str,
    stage_ms: &str,
) {
    let args = ["--pending-ms", stage_ms, "--processing-ms", stage_ms];
    run_c_test("tests/c/test_core.c", tag, &args, |program| {
        let mut command = command(program);
        command.env("OCR_TEST_CANCEL_MS", cancel_bound_ms);
        command
    });
}

#[test]
fn the_c_test_program_passes() {
    run_test_core("native", |program| Command::new(program), "50", "100");
}

#[test]
fn the_c_test_program_is_clean_under_valgrind() {
    run_test_core("valgrind", valgrind, "3000", "1500");
}

#[test]
fn children_of_a_fork_get_the_answers_to_their_own_requests() {
    let binary = compile_c("tests/c/fork.c", "native");
    let emulator = Emulator::start(&[]);
    for i in 0..200 {
        let id = format!("t-{i}");
        emulator.fixture(serde_json::json!({"id": id, "results": [{"type": "Text", "text": id}]}));
    }
    let output = Command::new(&binary)
        .arg(&emulator.url)
        .output()
        .expect("the fork program runs");
    assert!(output.status.success(), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("5 passed, 0 failed"),
        "{}",
        show(&output)
    );
}

/// tests/c/fault_driver.c: every call under every emulator fault.
#[test]
fn every_call_under_every_emulator_fault_is_clean_under_valgrind() {
    run_c_test("tests/c/fault_driver.c", "valgrind", &[], valgrind);
}

#[test]
fn the_demo_saves_and_prints_the_results() {
    // Over HTTPS, trusting the emulator's CA as `make demo` does (the CA file as its argument).
    let binary = compile_c("examples/demo.c", "demo");
    // No default path relative to the checkout: without PDF and OUTPUT_DIR it prints its usage.
    for args in [&[][..], &["https://127.0.0.1:1"][..]] {
        let usage = Command::new(&binary).args(args).output().unwrap();
        assert_eq!(usage.status.code(), Some(2), "{}", show(&usage));
        assert!(
            String::from_utf8_lossy(&usage.stderr).contains(" BASE_URL PDF OUTPUT_DIR [CA_FILE]\n"),
            "{}",
            show(&usage)
        );
    }
    let emulator = Emulator::start_tls(&["--pending-ms", "100", "--processing-ms", "100"]);
    assert!(emulator.url.starts_with("https://"), "{}", emulator.url);
    let ca_file = emulator.ca_file.clone().unwrap();
    let out = scratch_dir("demo");
    let demo = |ca: Option<&Path>| {
        let mut command = Command::new(&binary);
        command
            .arg(&emulator.url)
            .arg(Path::new(ROOT).join("examples/sample.pdf"))
            .arg(&out)
            .env_remove("OCR_CLIENT_ID")
            .env_remove("OCR_CLIENT_SECRET")
            .env_remove("OCR_CA_FILE")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env("OCRCLOUD_LOG", "debug");
        if let Some(ca) = ca {
            command.arg(ca);
        }
        command.output().unwrap()
    };

    // Without the CA the certificate is not trusted: one clear OCR_ERR_TLS, nothing saved.
    let refused = demo(None);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("OCR_ERR_TLS") && stderr.contains("ocr_client_set_ca_file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);

    let output = demo(Some(&ca_file));
    assert!(output.status.success(), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ocrcloud info: obtained a token"),
        "OCRCLOUD_LOG logs to stderr: {stderr}"
    );
    assert!(stderr.contains("ocrcloud debug: GET https://"), "{stderr}");
    assert!(!stderr.contains("demo-secret"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("poll  1: task "), "{stdout}");
    assert!(stdout.contains("is Completed"), "{stdout}");
    assert!(stdout.contains("Hello from ocrcloud!"), "{stdout}");
    let mut saved: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    saved.sort();
    assert_eq!(saved.len(), 2, "{saved:?}");
    assert!(
        saved[0].ends_with(".pdf") && saved[1].ends_with(".txt"),
        "{saved:?}"
    );
    let pdf = std::fs::read(out.join(&saved[0])).unwrap();
    assert_eq!(
        pdf,
        std::fs::read(Path::new(ROOT).join("examples/sample.pdf")).unwrap()
    );
    std::fs::remove_dir_all(out).unwrap();
}
