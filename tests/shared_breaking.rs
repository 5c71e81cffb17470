//! Defects found by attacking the shared journal (issue 24) against a real PostgreSQL
//! (tests/common/postgres.rs). Each test failed before its fix.

mod common;

use common::postgres::Postgres;
use ocrcloud::batch::shared::db::Target;

/// The URL's own `application_name` (a libpq parameter the documentation
/// says the URL takes) is kept: the library's default replaced it.
#[test]
fn the_urls_application_name_is_kept() {
    let pg = Postgres::start();
    let url = format!(
        "{}?application_name=probe-worker-7&connect_timeout=3",
        pg.url
    );
    let target = Target::parse(&url).unwrap();
    let mut client = target.connect().unwrap();
    let name: String = client
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "probe-worker-7");
    // Without one, the library names itself.
    let mut client = Target::parse(&pg.url).unwrap().connect().unwrap();
    let name: String = client
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "ocrcloud");
}

/// A connection that fails says why, not only that it failed: "error connecting to server"
/// and "invalid configuration" were the whole message for a closed port and a URL without the
/// password the server asks for.
#[test]
fn a_connection_that_fails_says_why() {
    let pg = Postgres::start();
    let no_password = pg.url.replacen(&format!(":{}@", pg.password()), "@", 1);
    let message = Target::parse(&no_password)
        .unwrap()
        .connect()
        .err()
        .unwrap()
        .message()
        .to_string();
    assert!(message.contains("password"), "{message}");
    pg.stop();
    let message = Target::parse(&pg.url)
        .unwrap()
        .connect()
        .err()
        .unwrap()
        .message()
        .to_string();
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(!message.contains(pg.password()), "{message}");
}

/// A password with `@` or `:` written as it is (not percent-encoded) is read the same by the
/// check that hides it and by the driver: the driver cut the URL at the first `@`, so the rest
/// of the password became the host name and the connection failed for a reason the message
/// could not show.
#[test]
fn a_password_with_an_at_sign_connects_written_plain_or_percent_encoded() {
    let pg = Postgres::start();
    pg.sql("ALTER ROLE ocrcloud PASSWORD 'p@ss:w0rd-7c1e'");
    for password in ["p@ss:w0rd-7c1e", "p%40ss%3Aw0rd-7c1e"] {
        let url = pg.url_with_password(password);
        let target = Target::parse(&url).unwrap();
        assert!(!target.shown().contains("w0rd"), "{}", target.shown());
        if let Err(e) = target.connect() {
            panic!("{password}: {}", e.message());
        }
    }
}
