//! The PostgreSQL servers the shared journal's tests start (tests/common/postgres.rs): private,
//! on 127.0.0.1 only, with a password, stoppable and restartable, and gone after the test.

mod common;

use common::postgres::Postgres;
use std::process::{Command, Output};

/// psql as a client over TCP with `url` (its password, if any, passed in PGPASSWORD, never on the
/// command line) running `sql`.
fn psql(url: &str, password: &str, sql: &str) -> Output {
    Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(url)
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "30")
        .output()
        .expect("psql runs (scripts/install-deps.sh installs it)")
}

/// The URL without its password.
fn bare(server: &Postgres) -> String {
    server
        .url
        .replacen(&format!(":{}@", server.password()), "@", 1)
}

#[track_caller]
fn answer(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn a_private_server_takes_its_password_keeps_its_data_over_a_restart_and_is_gone_after() {
    let server = Postgres::start();
    let other = Postgres::start();
    assert_ne!(
        server.port(),
        other.port(),
        "each test has a server of its own"
    );
    assert!(server.url.contains("@127.0.0.1:"), "{}", server.url);
    let (url, password) = (bare(&server), server.password().to_string());

    assert_eq!(
        answer(psql(
            &url,
            &password,
            "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42); \
             SELECT current_user || ' ' || current_database()"
        )),
        "ocrcloud ocrcloud"
    );
    // Only 127.0.0.1, and only with the password.
    assert_eq!(
        server.sql("SHOW listen_addresses") + &server.sql("SHOW password_encryption"),
        "127.0.0.1\nscram-sha-256\n"
    );
    let refused = psql(&url, "not-the-password", "SELECT 1");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Stopped as a crash would stop it: refused until restarted, then the data is there.
    server.stop();
    assert!(!psql(&url, &password, "SELECT 1").status.success());
    assert_eq!(
        answer(psql(&bare(&other), other.password(), "SELECT 1")),
        "1"
    );
    server.restart();
    assert_eq!(answer(psql(&url, &password, "SELECT n FROM kept")), "42");
    // The benchmark counts statements.
    assert_ne!(
        server.sql("SELECT count(*) FROM pg_stat_statements"),
        "",
        "pg_stat_statements is loaded"
    );

    let folder = server.sql("SHOW unix_socket_directories");
    let folder = std::path::PathBuf::from(folder.trim());
    assert!(folder.join("data").is_dir(), "{}", folder.display());
    drop(server);
    assert!(!folder.exists(), "{} is removed", folder.display());
    assert!(!psql(&url, &password, "SELECT 1").status.success());
}
