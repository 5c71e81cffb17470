//! Faults around the client: the service going away and coming back during a poll, and local
//! files that cannot be written (a full disk, a missing folder, no permission).

mod common;
#[path = "hostile/secrets.rs"]
mod secrets;
#[path = "hostile/server.rs"]
mod server;

use common::{Client, Emulator, OcrResult, Options, assert_code, c, file_names, scratch_dir};
use ocrcloud::ffi::*;
use secrets::{CLIENT_ID, CLIENT_SECRET, error_message};
use serde_json::json;
use server::{Server, Then, http};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The emulator's flags: fast task progress and the suites' credentials.
const FLAGS: [&str; 8] = [
    "--pending-ms",
    "50",
    "--processing-ms",
    "50",
    "--client-id",
    CLIENT_ID,
    "--client-secret",
    CLIENT_SECRET,
];

fn client_for(emulator: &Emulator) -> Client {
    Client::with_credentials(&emulator.url, CLIENT_ID, CLIENT_SECRET)
}

/// Waits until `condition` holds, checking every 10 ms, for at most 10 s.
fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_poll_survives_the_emulator_being_killed_and_restarted_on_the_same_port() {
    let mut first = Emulator::start(&FLAGS);
    let address = format!("127.0.0.1:{}", first.port());
    first.fixture(json!({"id": "survivor", "taskStatus": "Pending"}));
    let client = client_for(&first);
    let deadline = Duration::from_secs(20);
    std::thread::scope(|scope| {
        let poll = scope.spawn(|| {
            let started = Instant::now();
            let outcome = client
                .poll(None, "survivor", Some(&Options::fast(50, 20_000)))
                .map(|result| result.data(0))
                .map_err(|code| format!("{}: {}", common::name(code), error_message()));
            (outcome, started.elapsed())
        });
        wait_for("a few polls", || {
            first.task("survivor")["polls"].as_u64() >= Some(3)
        });
        first.kill();
        // While the port is closed, polls are refused: transient failures that do not end it.
        std::thread::sleep(Duration::from_millis(500));
        // A stand-in answers 503 with Retry-After, so that the poll is waiting while the
        // emulator restarts and its task is created again (no poll can see the task missing).
        let stand_in = Server::start_on(&address, |_, _| {
            http(
                "503 Service Unavailable",
                &[("Retry-After", "2"), ("Connection", "close")],
                "",
            )
            .then(Then::Close)
        });
        wait_for("the poll to reach the stand-in", || {
            !stand_in.requests().is_empty()
        });
        drop(stand_in);
        let second = Emulator::start_on(&address, &FLAGS);
        second.fixture(json!({
            "id": "survivor", "results": [{"type": "Text", "text": "after the restart"}]
        }));
        let (outcome, elapsed) = poll.join().unwrap();
        assert_eq!(outcome, Ok(Some(b"after the restart".to_vec())));
        assert!(elapsed < deadline, "{elapsed:?}");
        // The first emulator's token is unknown to the second: one refresh, then success.
        assert_eq!(second.stats()["token_requests"], 1);
    });
}

#[test]
fn a_poll_of_a_service_that_stays_away_ends_at_its_deadline_naming_the_failure() {
    let emulator = Emulator::start(&FLAGS);
    let client = client_for(&emulator);
    let url = emulator.url.clone();
    drop(emulator);
    let started = Instant::now();
    assert_eq!(
        client
            .poll(None, "gone", Some(&Options::fast(100, 1500)))
            .err(),
        Some(OCR_ERR_TIMEOUT)
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    let message = error_message();
    assert!(
        message.contains("not answering") && message.contains("could not connect"),
        "{message}"
    );
    assert!(message.contains(&url), "{message}");
}

#[test]
fn a_submission_to_a_service_that_is_down_is_retried_then_a_network_error() {
    let emulator = Emulator::start(&FLAGS);
    let client = Client::with_token(&emulator.url, Some(secrets::TOKEN));
    drop(emulator);
    let started = Instant::now();
    assert_eq!(
        client.submit(None, b"%PDF-1.4", None).err(),
        Some(OCR_ERR_NETWORK)
    );
    // Refused connections certainly did not create a task: retried after 250 and 500 ms.
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(error_message().contains("could not connect"));
}

/// A Completed result with one file of `bytes` bytes, fetched from an emulator.
fn result_of(bytes: u32) -> OcrResult {
    let emulator = Emulator::start(&FLAGS);
    let id = emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": bytes}}]}));
    client_for(&emulator).fetch(None, &id).unwrap()
}

fn save(result: &OcrResult, path: &Path) -> ocr_code {
    unsafe { ocr_result_save(result.0, 0, c(path.to_str().unwrap()).as_ptr()) }
}

/// A tmpfs mounted for one test, unmounted when dropped; `None` where mounting is not allowed
/// (not root).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(name: &str, options: &str) -> Option<Mount> {
        let dir = scratch_dir(name);
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .output()
            .is_ok_and(|output| output.status.success());
        mounted.then_some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_disk_is_an_io_error_that_leaves_no_partial_file() {
    let Some(disk) = Mount::tmpfs("full-disk", "size=64k") else {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    };
    let result = result_of(200_000);
    let path = disk.0.join("out.pdf");
    std::fs::write(&path, b"the previous file").unwrap();
    assert_code(save(&result, &path), OCR_ERR_IO);
    let message = error_message();
    assert!(message.contains("No space left on device"), "{message}");
    assert_eq!(
        file_names(&disk.0),
        ["out.pdf"],
        "no temporary file is left"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"the previous file");
}

#[test]
fn a_missing_folder_or_a_folder_without_permission_is_an_io_error() {
    let result = result_of(5000);
    let dir = scratch_dir("save-faults");
    assert_code(save(&result, &dir.join("missing/out.pdf")), OCR_ERR_IO);
    assert!(error_message().contains("No such file or directory"));
    std::fs::create_dir(dir.join("taken")).unwrap();
    assert_code(save(&result, &dir.join("taken")), OCR_ERR_IO);
    assert!(error_message().contains("taken"));
    assert_eq!(file_names(&dir), ["taken"]);
    assert!(file_names(&dir.join("taken")).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();

    // Root may write anywhere except on a read-only file system; others not in a 0555 folder.
    let read_only = Mount::tmpfs("read-only", "ro");
    let locked = scratch_dir("locked");
    let (folder, reason) = match &read_only {
        Some(mount) => (mount.0.clone(), "Read-only file system"),
        None => {
            set_mode(&locked, 0o555);
            (locked.clone(), "Permission denied")
        }
    };
    assert_code(save(&result, &folder.join("out.pdf")), OCR_ERR_IO);
    let message = error_message();
    assert!(message.contains(reason), "{message}");
    assert!(file_names(&folder).is_empty());
    set_mode(&locked, 0o755);
    std::fs::remove_dir_all(&locked).unwrap();
}

#[test]
fn a_file_name_of_the_longest_allowed_length_is_saved() {
    let result = result_of(5000);
    let dir = scratch_dir("long-name");
    let path = dir.join(format!("{}.pdf", "n".repeat(251)));
    assert_code(save(&result, &path), OCR_OK);
    assert_eq!(std::fs::read(&path).unwrap(), result.data(0).unwrap());
    let too_long = dir.join(format!("{}.pdf", "n".repeat(252)));
    assert_code(save(&result, &too_long), OCR_ERR_IO);
    assert!(error_message().contains("File name too long"));
    assert_eq!(file_names(&dir).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
