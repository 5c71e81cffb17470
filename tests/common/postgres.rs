//! A real PostgreSQL server of a test's own (scripts/postgres.sh): a private folder, 127.0.0.1
//! only, a free port, a role with a password and a database. Each [`Postgres`] is a server of
//! its own, so tests that run at once (nextest runs test binaries in parallel) never share one.
//! Also used by the command's tests (cli/tests/common/mod.rs includes this file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What splits the columns of a row that [`Postgres::sql`] answers.
pub const FIELD: &str = "\u{1f}";

/// A running server, stopped at once and its folder removed when dropped; a watcher started with
/// it does the same if the test process is killed.
pub struct Postgres {
    dir: PathBuf,
    /// `postgresql://ocrcloud:PASSWORD@127.0.0.1:PORT/ocrcloud`: the password is a secret.
    pub url: String,
}

/// scripts/postgres.sh, found from the crate that includes this file (the root or cli/).
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("scripts/postgres.sh"))
        .find(|path| path.exists())
        .expect("scripts/postgres.sh above the crate")
}

#[track_caller]
fn run(command: &mut Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("scripts/postgres.sh runs");
    assert!(
        status.success(),
        "{command:?}: {status}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    String::from_utf8(stdout).unwrap()
}

impl Postgres {
    /// Makes and starts a fresh server (about a second on an idle machine).
    pub fn start() -> Postgres {
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        // Short: the socket's path must fit in 107 bytes.
        let dir = std::env::temp_dir().join(format!(
            "ocrcloud-pg-{}-{}-{nanos:x}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        let url = run(Command::new(script())
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string()))
        .trim()
        .to_string();
        assert!(url.starts_with("postgresql://"), "{url:?}");
        Postgres { dir, url }
    }

    /// The role's password (a secret: tests check that no output holds it).
    pub fn password(&self) -> &str {
        let credentials = &self.url["postgresql://".len()..self.url.find('@').unwrap()];
        credentials.split_once(':').unwrap().1
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        let after_host = self.url.rsplit_once(':').unwrap().1;
        after_host.split('/').next().unwrap().parse().unwrap()
    }

    /// The URL with `password` instead of the right one.
    pub fn url_with_password(&self, password: &str) -> String {
        self.url.replacen(self.password(), password, 1)
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`): every client's
    /// connection breaks and new ones are refused until [`Postgres::restart`].
    pub fn stop(&self) {
        run(Command::new(script()).arg("stop").arg(&self.dir));
    }

    /// Starts a stopped server again, on the same port with the same data.
    pub fn restart(&self) {
        run(Command::new(script()).arg("restart").arg(&self.dir));
    }

    /// Runs SQL as the superuser on the `ocrcloud` database and answers psql's unaligned
    /// output: one line per row, its columns split by [`FIELD`]. Panics on an error.
    #[track_caller]
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// [`Postgres::sql`], or psql's message (while the server is stopped, say).
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(script())
            .arg("psql")
            .arg(&self.dir)
            .args(["-At", "-F", FIELD, "-c", sql])
            .output()
            .expect("scripts/postgres.sh runs");
        match output.status.success() {
            true => Ok(String::from_utf8(output.stdout).unwrap()),
            false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }

    /// A psql session as the superuser that reads SQL from its standard input (write to it,
    /// then drop it and wait): for a transaction the test holds open.
    pub fn session(&self) -> std::process::Child {
        Command::new(script())
            .arg("psql")
            .arg(&self.dir)
            .args(["-At", "-q"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("scripts/postgres.sh runs")
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        // As root the folder belongs to `postgres`, but root reads it all the same.
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("remove").arg(&self.dir).output();
    }
}
