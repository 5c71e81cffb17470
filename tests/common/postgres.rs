//! A real PostgreSQL server of a test's own (scripts/postgres.sh): a private folder, 127.0.0.1
//! only, a free port, a role with a password and a database. Each [`Postgres`] is a server of
//! its own, so tests that run at once (nextest runs test binaries in parallel) never share one.
//! Also used by the command's tests (cli/tests/common/mod.rs includes this file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What splits the columns of a row that [`Postgres::sql`] answers.
pub const FIELD: &str = "\u{1f}";

/// `names` as new inputs of a shared journal with content hash `sha256` (each its own stem).
pub fn new_inputs<'a>(
    names: &'a [String],
    sha256: &'a str,
) -> Vec<ocrcloud::batch::shared::journal::NewInput<'a>> {
    names
        .iter()
        .map(|name| ocrcloud::batch::shared::journal::NewInput {
            input: name,
            sha256,
            size: 1,
            operation: "RecognizePdf",
            settings_sha256: "settings",
            stem: name,
            unusable: None,
        })
        .collect()
}

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

    /// A journal of batch `name` for worker `owner` on this server, with the schema prepared
    /// and the batch's row made (one connection).
    pub fn journal(&self, name: &str, owner: &str) -> ocrcloud::batch::shared::journal::Journal {
        use ocrcloud::batch::shared::db::{self, Pool, Target};
        let pool = std::sync::Arc::new(Pool::new(Target::parse(&self.url).unwrap(), 1));
        db::prepare(&pool).unwrap();
        let mut journal = ocrcloud::batch::shared::journal::Journal {
            pool,
            batch: name.to_string(),
            owner: owner.to_string(),
        };
        journal.create_batch().unwrap();
        journal
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

    /// Stops every process of the server (SIGSTOP) until the guard is dropped, also when the test
    /// fails (the script's `stop` and `remove` let it go on too): its connections stay open and
    /// the kernel still accepts and acknowledges, but nothing answers.
    pub fn freeze(&self) -> Frozen<'_> {
        run(Command::new(script()).arg("freeze").arg(&self.dir));
        Frozen(self)
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

/// A server stopped by [`Postgres::freeze`]; dropping this lets it go on.
pub struct Frozen<'a>(&'a Postgres);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("thaw").arg(&self.0.dir).output();
    }
}

/// A TCP relay on 127.0.0.1 in front of a server, as a proxy or a NAT on the way to a database
/// would be, that can lose its connections without a word: [`Relay::black_hole`] stops
/// forwarding on every connection it has (they stay open, and the kernel still acknowledges
/// what the client sends) and takes no new ones until [`Relay::resume`]. Stopped when dropped.
pub struct Relay {
    /// `127.0.0.1:PORT`, where clients connect.
    pub address: String,
    state: std::sync::Arc<RelayState>,
}

#[derive(Default)]
struct RelayState {
    /// Connections accepted so far; those numbered below `dead_below` forward nothing.
    accepted: AtomicUsize,
    dead_below: AtomicUsize,
    accepting: std::sync::atomic::AtomicBool,
    stopped: std::sync::atomic::AtomicBool,
}

impl Relay {
    /// A relay to `127.0.0.1:port`.
    pub fn start(port: u16) -> Relay {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::AtomicBool;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = std::sync::Arc::new(RelayState {
            accepting: AtomicBool::new(true),
            ..RelayState::default()
        });
        let shared = std::sync::Arc::clone(&state);
        std::thread::spawn(move || {
            while !shared.stopped.load(Ordering::Relaxed) {
                if !shared.accepting.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                };
                let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                    continue;
                };
                let number = shared.accepted.fetch_add(1, Ordering::SeqCst);
                client.set_nonblocking(false).unwrap();
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let shared = std::sync::Arc::clone(&shared);
                    std::thread::spawn(move || relay_one_way(from, to, number, &shared));
                }
            }
        });
        Relay { address, state }
    }

    /// Forwards nothing more on any connection open now, for ever, without closing it; and
    /// takes no new connection until [`Relay::resume`].
    pub fn black_hole(&self) {
        self.state.accepting.store(false, Ordering::SeqCst);
        let accepted = self.state.accepted.load(Ordering::SeqCst);
        self.state.dead_below.store(accepted, Ordering::SeqCst);
    }

    /// Takes new connections again (the lost ones stay lost).
    pub fn resume(&self) {
        self.state.accepting.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes, or forever nothing once connection `number` is
/// lost (its sockets kept open, unread: the kernel buffers and acknowledges).
fn relay_one_way(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    number: usize,
    state: &RelayState,
) {
    use std::io::{Read, Write};
    let lost = || number < state.dead_below.load(Ordering::SeqCst);
    from.set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    let mut buffer = [0u8; 16 * 1024];
    while !state.stopped.load(Ordering::Relaxed) {
        if lost() {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if lost() || to.write_all(&buffer[..n]).is_err() {
                    // Bytes read from a lost connection are dropped, as a dead path drops them.
                    if lost() {
                        continue;
                    }
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("remove").arg(&self.dir).output();
    }
}
