//! Defects found by attacking the shared journal (issue 24) against a real PostgreSQL
//! (tests/common/postgres.rs). Each test failed before its fix.

mod common;

use common::postgres::{Postgres, new_inputs};
use common::*;
use ocrcloud::batch::inputs::sha256_hex;
use ocrcloud::batch::shared::db::Target;
use ocrcloud::batch::shared::journal::Journal;
use ocrcloud::ffi::*;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);
/// Longer than any of these tests takes: a call still blocked after it fails the test.
const HANG: Duration = Duration::from_secs(300);

/// Runs `work` on a thread of its own and answers what it answers, or fails the test when it
/// is still blocked after [`HANG`].
#[track_caller]
fn within_hang<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(work()));
    receiver
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what} still blocks after {HANG:?}"))
}

/// Runs the test `name` of this binary in a child process with `env` added (the patience
/// and the statement deadline are read when a batch is opened, so they need a process of
/// their own) and asserts that it passed. The child runs in a process group of its own: one
/// still blocked after `HANG` is killed with its emulator, which would otherwise keep the
/// pipes open.
fn passes_in_a_child_process(name: &str, env: &[(&str, &str)]) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HANG {
            // SAFETY: kill with the process group of our own child, not yet waited for.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 passed"), "{}", show(&output));
}

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

/// The URL's `connect_timeout` bounds the whole connect, as libpq's does: the driver applied it
/// to the TCP connect only, so a server that accepts and never answers (a stopped one: the
/// kernel still completes the handshake) blocked the connect, `--status` and every reconnect
/// for ever. Without TLS (the startup message waits) and with `sslmode=prefer` (the TLS
/// request waits).
#[test]
fn the_urls_connect_timeout_bounds_a_connect_to_a_server_that_never_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts every connection and keeps it, without a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    for mode in ["disable", "prefer"] {
        let url = format!(
            "postgresql://ocrcloud:mute-pw-5d1a@127.0.0.1:{port}/ocrcloud\
             ?connect_timeout=1&sslmode={mode}"
        );
        let target = Target::parse(&url).unwrap();
        let message = within_hang("the connect", move || {
            target.connect().err().map(|e| e.message().to_string())
        })
        .expect("a server that never answers is not connected to");
        assert!(
            message.contains("no answer within 1 s"),
            "{mode}: {message}"
        );
        assert!(!message.contains("mute-pw-5d1a"), "{message}");
    }
}

/// `ocr_batch_run` on a shared batch whose database is gone, or stopped without a word (SIGSTOP:
/// connections stay open and nothing answers), fails with `OCR_ERR_IO` and a message once its
/// patience is spent, as the header says: it waited for ever on a stopped server. The patience
/// and the per-statement deadline are set by environment variables, read when the batch is
/// opened, so this runs in a process of its own.
#[test]
fn ocr_batch_run_gives_up_with_ocr_err_io_on_a_database_gone_or_stopped() {
    passes_in_a_child_process(
        "a_shared_run_against_a_database_gone_in_a_child_process",
        &[
            ("OCRCLOUD_TEST_DATABASE_GONE", "1"),
            ("OCRCLOUD_JOURNAL_PATIENCE", "2"),
            ("OCRCLOUD_JOURNAL_DEADLINE", "2"),
        ],
    );
}

/// Run by `ocr_batch_run_gives_up_with_ocr_err_io_on_a_database_gone_or_stopped` in a child
/// process; does nothing on its own.
#[test]
fn a_shared_run_against_a_database_gone_in_a_child_process() {
    if std::env::var_os("OCRCLOUD_TEST_DATABASE_GONE").is_none() {
        return;
    }
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-gone");
    let docs = write_pdfs(&dir, 3);
    let url = format!("{}?connect_timeout=2", pg.url);
    let batch = Batch::open_shared(&client, &url, "gone", &dir.join("out")).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    {
        let _frozen = pg.freeze();
        let (code, _) = batch.run(2, &Options::fast(100, 120_000));
        let message = last_error();
        assert_code(code, OCR_ERR_IO);
        assert!(
            message.contains("gave up waiting for the database"),
            "{message}"
        );
        assert!(message.contains("no answer within 2 s"), "{message}");
        assert!(!message.contains(pg.password()), "{message}");
    }
    pg.stop();
    let (code, _) = batch.run(2, &Options::fast(100, 120_000));
    let message = last_error();
    assert_code(code, OCR_ERR_IO);
    assert!(
        message.contains("gave up waiting for the database"),
        "{message}"
    );
    assert!(!message.contains(pg.password()), "{message}");
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A lease this worker took but no thread of it works on (what a claim whose answer was lost
/// with its connection leaves: the claim ran, and ran again) runs out, and the input is claimed
/// again and finished: the heartbeat renewed every lease the worker owned, so such an input
/// stayed leased for as long as the worker lived, and the run never ended.
#[test]
fn a_lease_no_thread_works_on_runs_out_and_its_input_is_claimed_again_and_finished() {
    use ocrcloud::auth::Auth;
    use ocrcloud::batch::any::AnyBatch;
    use ocrcloud::batch::shared::SharedBatch;
    use ocrcloud::batch::{RunOptions, State};
    use ocrcloud::cancel::Cancel;
    use ocrcloud::poll::PollOptions;
    use std::sync::Arc;
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let auth = Auth::credentials("demo", "demo-secret").unwrap();
    let client = ocrcloud::client::Client::new(Some(&emulator.url), auth).unwrap();
    let dir = scratch_dir("shared-unheld-lease");
    let docs = write_pdfs(&dir, 4);
    let out = dir.join("out");
    let options = |cancel: &Arc<Cancel>| RunOptions {
        jobs: 1,
        poll: PollOptions {
            first_interval: Duration::from_millis(100),
            cancel: Some(Arc::clone(cancel)),
            ..PollOptions::default()
        },
    };
    let open = || {
        let mut batch = SharedBatch::open(&client, &pg.url, "unheld", &out).unwrap();
        batch.add_folder(&docs, None, TEXT, &mut |_| {}).unwrap();
        batch
    };
    // A first run finishes every input; then one of them is queued again under a lease that
    // this worker's name holds but no thread of it works on.
    let first = Arc::new(Cancel::new());
    AnyBatch::Shared(Box::new(open()))
        .run(&options(&first), &mut |_, _| {})
        .unwrap();
    let shared = open();
    let worker = shared.worker().to_string();
    let mut batch = AnyBatch::Shared(Box::new(shared));
    let forged = pg.sql(&format!(
        "UPDATE ocrcloud_inputs SET state = 'queued', task_id = NULL, submitted_at = NULL, \
                finished_at = NULL, lease_owner = '{}', lease_token = lease_token + 1, \
                lease_until = now() + interval '3 seconds' \
          WHERE batch = 'unheld' AND input = (SELECT min(input) FROM ocrcloud_inputs) \
         RETURNING input || ' ' || lease_token",
        worker
    ));
    let (input, token) = forged.trim().split_once(' ').expect("one input leased");
    let token: i64 = token.parse().unwrap();
    let stop = Arc::new(Cancel::new());
    let watchdog = Arc::clone(&stop);
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if finished.recv_timeout(HANG).is_err() {
            watchdog.trigger();
        }
    });
    let outcome = batch.run(&options(&stop), &mut |_, _| {});
    drop(done);
    guard.join().unwrap();
    if let Err(e) = outcome {
        panic!("the run did not end by itself: {}", e.message());
    }
    assert!(
        batch
            .items()
            .iter()
            .all(|i| i.row.state == State::Completed),
        "{:?}",
        batch
            .items()
            .iter()
            .map(|i| i.row.state)
            .collect::<Vec<_>>()
    );
    let row = pg.sql(&format!(
        "SELECT state || ' ' || lease_token FROM ocrcloud_inputs \
          WHERE batch = 'unheld' AND input = '{input}'"
    ));
    let (state, last) = row.trim().split_once(' ').unwrap();
    assert_eq!(state, "completed");
    assert!(
        last.parse::<i64>().unwrap() > token,
        "{input} was claimed again: token {token} -> {last}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The cancel token stops `ocr_batch_run` while a statement waits on a server that stopped
/// answering (SIGSTOP), as the header promises ("its cancel token still stops it"): a request
/// waited for its whole deadline (30 s by default, 1 hour here) before the token was looked at.
/// The deadline is read from the environment when the batch is opened, so this runs in a
/// process of its own.
#[test]
fn the_cancel_token_stops_a_run_whose_statement_waits_on_a_stopped_server() {
    passes_in_a_child_process(
        "a_run_cancelled_on_a_stopped_server_in_a_child_process",
        &[
            ("OCRCLOUD_TEST_CANCEL_ON_STOPPED", "1"),
            ("OCRCLOUD_JOURNAL_PATIENCE", "3600"),
            ("OCRCLOUD_JOURNAL_DEADLINE", "3600"),
        ],
    );
}

/// Run by `the_cancel_token_stops_a_run_whose_statement_waits_on_a_stopped_server` in a child
/// process; does nothing on its own.
#[test]
fn a_run_cancelled_on_a_stopped_server_in_a_child_process() {
    if std::env::var_os("OCRCLOUD_TEST_CANCEL_ON_STOPPED").is_none() {
        return;
    }
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-cancel-stopped");
    let docs = write_pdfs(&dir, 3);
    let batch = Batch::open_shared(&client, &pg.url, "cancel", &dir.join("out")).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let options = Options::fast(100, 3_600_000);
    let cancel = ocr_cancel_new();
    assert_code(
        unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    {
        let _frozen = pg.freeze();
        // The token is triggered while the run waits on the stopped server (its first statement
        // cannot be answered); a trigger before it starts would only make this test pass.
        let trigger = cancel as usize;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            // SAFETY: the token is freed only after the run returned, below.
            unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
        });
        let (code, _) = batch.run(2, &options);
        assert_code(code, OCR_ERR_CANCELLED);
    }
    unsafe { ocr_cancel_free(cancel) };
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A role of its own on `pg`'s database that owns nothing and may create nothing: it may only
/// read and write the rows of the tables there now (as a DBA grants a worker's role). Answers
/// its URL.
fn a_role_with_row_grants_only(pg: &Postgres) -> String {
    let password = "rowsOnly7Kq2Vx";
    pg.sql(&format!(
        "CREATE ROLE ocrcloud_rows_only LOGIN PASSWORD '{password}'; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public \
           TO ocrcloud_rows_only"
    ));
    format!(
        "postgresql://ocrcloud_rows_only:{password}@127.0.0.1:{}/ocrcloud",
        pg.port()
    )
}

/// Runs a batch of `inputs` documents as the role of `url` into `out`: it must finish.
fn run_as(client: &Client, url: &str, docs: &Path, inputs: usize, out: &Path) {
    let batch = Batch::open_shared(client, url, "rows", out)
        .unwrap_or_else(|code| panic!("{} {}", name(code), last_error()));
    batch.add_folder(docs, TEXT).unwrap();
    let (code, _) = batch.run(2, &Options::fast(20, 120_000));
    assert_eq!(code, OCR_OK, "{}", last_error());
    assert_eq!(batch.count(OCR_BATCH_COMPLETED), inputs);
    for index in 0..inputs {
        let input = std::fs::read(batch.path(index).unwrap()).unwrap();
        let text = std::fs::read_to_string(&batch.outputs(index)[0]).unwrap();
        assert!(text.contains(&sha256_hex(&input)), "{text}");
    }
}

/// A worker's role that may only read and write the journal's rows (its tables made by
/// another role) runs a batch: opening it created `ocrcloud_schema` "if not exists", which
/// needs the right to create tables even when the table is there, and the ANALYZE after
/// registering is only refused with a warning.
#[test]
fn a_role_that_may_only_write_rows_runs_a_batch() {
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-rows-only");
    let docs = write_pdfs(&dir, 4);
    // The owner makes the schema.
    drop(Batch::open_shared(&client, &pg.url, "owner", &dir.join("first")).unwrap());
    let url = a_role_with_row_grants_only(&pg);
    run_as(&client, &url, &docs, 4, &dir.join("out"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A journal of schema version 1 with a batch under way (three inputs done, two new ones),
/// opened by a worker whose role may only write rows: it cannot upgrade the schema (only the
/// tables' owner may make indexes), and the batch goes on all the same on the older schema,
/// whose tables are the same; the owner's next worker upgrades it.
#[test]
fn a_version_1_journal_goes_on_under_a_role_that_cannot_upgrade_it() {
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-v1-rows-only");
    let docs = write_pdfs(&dir, 3);
    run_as(&client, &pg.url, &docs, 3, &dir.join("out"));
    write_pdfs(&dir, 5);
    let url = a_role_with_row_grants_only(&pg);
    // What version 1 made: its due index, no index of task ids.
    pg.sql(
        "DROP INDEX ocrcloud_inputs_due_at; DROP INDEX ocrcloud_inputs_task; \
         DROP INDEX IF EXISTS ocrcloud_inputs_leased; \
         CREATE INDEX ocrcloud_inputs_due ON ocrcloud_inputs (batch, not_before) \
           WHERE state IN ('queued', 'submitting', 'submitted'); \
         UPDATE ocrcloud_schema SET version = 1",
    );
    run_as(&client, &url, &docs, 5, &dir.join("out"));
    assert_eq!(pg.sql("SELECT version FROM ocrcloud_schema").trim(), "1");
    // The owner's next worker upgrades it.
    drop(Batch::open_shared(&client, &pg.url, "rows", &dir.join("out")).unwrap());
    assert_eq!(pg.sql("SELECT version FROM ocrcloud_schema").trim(), "2");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A journal of batch `name` for worker `owner`, with `count` inputs registered
/// (`in/0000.pdf`, ...).
fn journal_with_inputs(pg: &Postgres, name: &str, owner: &str, count: usize) -> Journal {
    let mut journal = pg.journal(name, owner);
    let names: Vec<String> = (0..count).map(|n| format!("in/{n:04}.pdf")).collect();
    journal.register(&new_inputs(&names, "0"), None).unwrap();
    journal
}

/// A worker that dies leaves its inputs to the others when its lease runs out: they are the
/// next ones claimed, before the inputs still queued behind them, and go back to polling
/// their tasks (issue 24: "a dead worker's inputs are taken over within the lease time and
/// finish with GETs only"). Claimed in the order of their lease's end, they waited behind
/// every input queued before it ran out: in a batch of many inputs that is hours, and a task
/// the service forgot meanwhile (24 hours) is billed again.
#[test]
fn a_dead_workers_inputs_are_claimed_before_the_queue_behind_them() {
    let pg = Postgres::start();
    let mut dead = journal_with_inputs(&pg, "backlog", "dead-worker", 20);
    let held = dead.claim(2, Duration::from_secs(1), None).unwrap();
    let mut held: Vec<String> = held.into_iter().map(|c| c.input).collect();
    held.sort();
    assert_eq!(held, ["in/0000.pdf", "in/0001.pdf"]);
    // Their tasks were recorded; then the worker died, and its leases ran out (by the
    // database's clock).
    pg.sql(
        "UPDATE ocrcloud_inputs SET state = 'submitted', task_id = 'task-' || input, \
                submitted_at = now() WHERE lease_owner = 'dead-worker'",
    );
    while pg
        .sql("SELECT count(*) FROM ocrcloud_inputs WHERE lease_until >= now()")
        .trim()
        != "0"
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut alive = journal_with_inputs(&pg, "backlog", "live-worker", 20);
    let taken = alive.claim(2, Duration::from_secs(60), None).unwrap();
    let mut inputs: Vec<String> = taken.iter().map(|c| c.input.clone()).collect();
    inputs.sort();
    assert_eq!(
        inputs, held,
        "the queue was served before the dead worker's inputs"
    );
    assert!(
        taken
            .iter()
            .all(|c| c.task_id.as_deref() == Some(&format!("task-{}", c.input))),
        "{taken:?}"
    );
}

/// A claim takes exactly the inputs version 1's plain test took (live, due, and under no
/// lease or one that ran out), whatever the mix: every state, due or paused, with no lease,
/// one that ran out and one that runs; and every such input at once, however many.
#[test]
fn a_claim_takes_exactly_the_due_inputs_under_no_running_lease() {
    let pg = Postgres::start();
    let mut journal = journal_with_inputs(&pg, "mix", "claimer", 0);
    pg.sql(
        "INSERT INTO ocrcloud_inputs (batch, input, sha256, size, operation, settings_sha256, \
                stem, state, not_before, lease_owner, lease_until) \
         SELECT 'mix', s || '/' || n || '/' || coalesce(l::text, 'none'), '0', 1, 'RecognizePdf', \
                's', 'x', s, now() + make_interval(hours => n), \
                CASE WHEN l IS NULL THEN NULL ELSE 'someone' END, \
                now() + make_interval(hours => l) \
           FROM unnest(ARRAY['queued', 'submitting', 'submitted', 'completed', 'failed']) s, \
                unnest(ARRAY[-2, 1]) n, unnest(ARRAY[NULL, -1, -3, 1]::int[]) l",
    );
    let expected = pg.sql(
        "SELECT input FROM ocrcloud_inputs \
          WHERE batch = 'mix' AND state IN ('queued', 'submitting', 'submitted') \
            AND not_before <= now() AND (lease_until IS NULL OR lease_until < now()) \
          ORDER BY input",
    );
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(expected.len(), 9, "{expected:?}");
    let mut claimed: Vec<String> = journal
        .claim(100, Duration::from_secs(60), None)
        .unwrap()
        .into_iter()
        .map(|c| c.input)
        .collect();
    claimed.sort();
    assert_eq!(claimed, expected);
    // Those leases now run: nothing more is claimed.
    assert!(
        journal
            .claim(100, Duration::from_secs(60), None)
            .unwrap()
            .is_empty()
    );
}
