//! The command line: first stdout line, help, shutdown.

use std::process::Command;

use crate::common::{Emulator, first_line, spawn};

#[test]
fn first_line_names_the_bound_address() {
    let emulator = Emulator::start(&[]);
    let port = emulator.base.strip_prefix("http://127.0.0.1:").unwrap();
    assert!(port.parse::<u16>().unwrap() > 0);
    assert_eq!(emulator.stats()["requests"], 0);
}

#[test]
fn ipv6_hosts_are_printed_in_brackets() {
    let mut child = spawn(&["--listen", "[::1]:0"]);
    let line = first_line(&mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let port = line.strip_prefix("listening on http://[::1]:").unwrap();
    assert!(port.parse::<u16>().unwrap() > 0, "{line}");
}

#[test]
fn help_documents_every_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_ocrcloud-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--client-id",
        "--client-secret",
        "--token-ttl-s",
        "--no-auth",
        "--pending-ms",
        "--processing-ms",
        "--retention-s",
        "--max-body-bytes",
        "--rate-limit",
        "--max-open-tasks",
        "--verbose",
        "--tls-cert",
        "--tls-key",
        "--tls-self-signed",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let emulator = Emulator::start(&[]);
    emulator.token();
    assert!(emulator.terminate().success());
}

#[test]
fn a_busy_port_is_an_error() {
    let emulator = Emulator::start(&[]);
    let address = emulator.base.strip_prefix("http://").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ocrcloud-emulator"))
        .args(["--listen", address])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(!output.stderr.is_empty());
}
