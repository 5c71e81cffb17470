//! What the command-line tests share: a private emulator and `ocrcloud` runs against it.
#![allow(dead_code)]

#[path = "../../../tests/common/postgres.rs"]
pub mod postgres;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The emulator binary next to the test executables (`target/<profile>/ocrcloud-emulator`), or
/// `$OCRCLOUD_EMULATOR`.
pub fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OCRCLOUD_EMULATOR") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("ocrcloud-emulator");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build -p ocrcloud-emulator`",
        binary.display()
    );
    binary
}

/// An emulator on a free loopback port with short task phases, killed when dropped.
pub struct Emulator {
    pub child: Child,
    pub url: String,
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::start_with(&["--pending-ms", "100", "--processing-ms", "100"])
    }

    /// An emulator started with these extra arguments.
    pub fn start_with(args: &[&str]) -> Emulator {
        let mut child = Command::new(emulator_binary())
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        Emulator { child, url }
    }

    /// Creates a task directly (see the emulator's README) and answers its id.
    pub fn fixture(&self, spec: &str) -> String {
        ureq::post(format!("{}/_emulator/tasks", self.url))
            .header("Content-Type", "application/json")
            .send(spec)
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    /// How many API requests the emulator has seen (control requests do not count).
    pub fn requests(&self) -> u64 {
        let stats = ureq::get(format!("{}/_emulator/stats", self.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&stats).unwrap()["requests"]
            .as_u64()
            .unwrap()
    }

    /// How many requests with `method` the emulator has seen on API paths ending in `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> u64 {
        let stats = ureq::get(format!("{}/_emulator/stats", self.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
        stats["by_route"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(route, _)| {
                route.starts_with(&format!("{method} "))
                    && route
                        .to_ascii_lowercase()
                        .ends_with(&suffix.to_ascii_lowercase())
            })
            .map(|(_, n)| n.as_u64().unwrap())
            .sum()
    }

    /// A valid token for the default credentials.
    pub fn token(&self) -> String {
        let answer = ureq::post(format!("{}/connect/token", self.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("grant_type=client_credentials&client_id=demo&client_secret=demo-secret")
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        answer["access_token"].as_str().unwrap().to_string()
    }

    /// `ocrcloud ARGS` for this emulator with its default credentials and nothing else from the
    /// environment, with SIGINT at its default (see [`default_sigint`]).
    pub fn ocrcloud(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ocrcloud"));
        default_sigint(&mut command)
            .args(args)
            .env_remove("OCR_ACCESS_TOKEN")
            .env("OCR_BASE_URL", &self.url)
            .env("OCR_CLIENT_ID", "demo")
            .env("OCR_CLIENT_SECRET", "demo-secret");
        command
    }

    /// `SHELL -c SCRIPT ocrcloud ARGS`: a script that runs `ocrcloud` as `"$0"`, with the
    /// environment of [`Emulator::ocrcloud`] and SIGINT at its default.
    pub fn script(&self, shell: &str, script: &str, args: &[&str]) -> Command {
        let mut shell = Command::new(shell);
        default_sigint(&mut shell)
            .args(["-c", script])
            .arg(env!("CARGO_BIN_EXE_ocrcloud"))
            .args(args)
            .env_remove("OCR_ACCESS_TOKEN")
            .envs(
                self.ocrcloud(&[])
                    .get_envs()
                    .filter_map(|(k, v)| Some((k, v?))),
            );
        shell
    }

    /// Runs `ocrcloud ARGS` to its end.
    pub fn run(&self, args: &[&str]) -> Outcome {
        Outcome::of(&mut self.ocrcloud(args))
    }
}

/// Starts `command`'s process with SIGINT at its default, as a terminal starts a program, so
/// that the Ctrl-C tests pass however the test run was started. A test run started with SIGINT
/// ignored (`&` in a non-interactive shell) passes the ignored signal on through fork and exec,
/// and a shell started so does not stop its loop when its child dies by Ctrl-C.
fn default_sigint(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and calls only signal(),
    // which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::signal(libc::SIGINT, libc::SIG_DFL) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a finished `ocrcloud` went (stdout as bytes: paths need not be UTF-8).
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    /// Runs `command` to its end; stdout and stderr are captured unless the command sets them.
    pub fn of(command: &mut Command) -> Outcome {
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("ocrcloud runs");
        Outcome {
            code: status.code(),
            signal: status.signal(),
            stdout,
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }

    /// Asserts death by `signal` without a panic.
    #[track_caller]
    pub fn killed_by(self, signal: i32) -> Outcome {
        assert_eq!(
            (self.code, self.signal),
            (None, Some(signal)),
            "stderr:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// Asserts the exit status, showing the output otherwise.
    #[track_caller]
    pub fn expect(self, code: i32) -> Outcome {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// Asserts that stderr holds `text`, showing it otherwise.
    #[track_caller]
    pub fn says(self, text: &str) -> Outcome {
        assert!(self.stderr.contains(text), "{}", self.stderr);
        self
    }

    /// Asserts success and answers the one line printed.
    #[track_caller]
    pub fn line(self) -> String {
        let stdout = self.expect(0).stdout();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        stdout.trim_end().to_string()
    }
}

/// A folder of its own for a test (not created).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocrcloud-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A read-only bind mount of a folder, unmounted when dropped (also when a test fails).
pub struct ReadOnlyMount {
    pub path: PathBuf,
}

impl ReadOnlyMount {
    /// Shows `source` read-only at `target` (a folder created under the test's temporary
    /// folder), or answers why it cannot (mounting needs root, or CAP_SYS_ADMIN in a container).
    pub fn new(source: &Path, target: &Path) -> Result<ReadOnlyMount, String> {
        use std::os::unix::ffi::OsStrExt;
        std::fs::create_dir_all(target).unwrap();
        let c = |path: &Path| std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        let (from, to) = (c(source), c(target));
        let failed = |what: &str| {
            format!(
                "cannot {what} {} at {}: {}",
                source.display(),
                target.display(),
                std::io::Error::last_os_error()
            )
        };
        let null = std::ptr::null();
        // SAFETY: NUL-terminated paths; a bind mount changes no memory of this process.
        if unsafe { libc::mount(from.as_ptr(), to.as_ptr(), null, libc::MS_BIND, null.cast()) } != 0
        {
            return Err(failed("bind-mount"));
        }
        let mount = ReadOnlyMount {
            path: target.to_path_buf(),
        };
        let read_only = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        // SAFETY: as above; only the flags of the mount just made change.
        if unsafe { libc::mount(null, to.as_ptr(), null, read_only, null.cast()) } != 0 {
            return Err(failed("make read-only the mount of"));
        }
        Ok(mount)
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; a lazy unmount also succeeds while a file is open.
        unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
    }
}
