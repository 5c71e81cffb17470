//! `ocrcloud batch --journal postgresql://...` (issue 24): worker processes that share one batch
//! in a real PostgreSQL (tests/common/postgres.rs) against the emulator, killed with SIGKILL,
//! frozen past their leases and cut off from their database, and the issue's invariants checked
//! after: nothing lost, every POST counted, one live lease per input, stale workers change
//! nothing, taken-over inputs finish with GETs only, a rerun asks nothing.
//!
//! The kills fall at moments drawn from a seed that a failure prints; `OCRCLOUD_SHARED_SEED`
//! replays one and `OCRCLOUD_SHARED_KILLS` asks for more kills (scripts/shared-batch-loop.sh runs
//! many seeds).

mod common;

use common::postgres::{FIELD, Postgres, Relay};
use common::*;
use ocrcloud::batch::inputs::sha256_hex;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const TEXT: &str = r#"{"resultType":"Text"}"#;
/// Longer than any run of these tests takes, so that a hang fails rather than blocks.
const HANG: Duration = Duration::from_secs(300);

/// A small PDF of its own for input `n` (the emulator's text result names its SHA-256).
fn pdf(n: usize) -> Vec<u8> {
    format!("%PDF-1.4\n% shared input {n}\n1 0 obj<<>>endobj\n%%EOF\n").into_bytes()
}

/// A pseudo-random stream (xorshift) from a seed, for moments that a failure can replay.
struct Moments(u64);

impl Moments {
    fn new() -> Moments {
        let seed = std::env::var("OCRCLOUD_SHARED_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("OCRCLOUD_SHARED_SEED={seed}");
        Moments(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A worker process, killed when dropped, so that a failing test leaves none behind (a worker
/// whose database is gone waits for it).
struct Worker(Child);

impl std::ops::Deref for Worker {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Worker {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Worker {
    /// Starts `command`, which the kernel kills if the test's thread ends first (the test
    /// process killed, say), so that it does not wait forever for a removed database.
    fn start(command: &mut std::process::Command) -> Worker {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and changes only the child.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        Worker(command.spawn().expect("ocrcloud starts"))
    }
}

/// [`Worker::start`] as a method of the command.
trait SpawnWorker {
    fn spawn_worker(&mut self) -> Worker;
}

impl SpawnWorker for std::process::Command {
    fn spawn_worker(&mut self) -> Worker {
        Worker::start(self)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A child already waited for is not signalled again.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One input's row in the shared journal.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    input: String,
    state: String,
    task_id: String,
    submissions: u64,
    possible_duplicates: u64,
    lease_owner: String,
    lease_token: i64,
    outputs: String,
    message: String,
}

/// A batch of numbered inputs, its emulator, its database and its worker processes' logs.
struct Shared {
    emulator: Emulator,
    db: Postgres,
    root: PathBuf,
    inputs: PathBuf,
    out: PathBuf,
    name: String,
    relative: Vec<PathBuf>,
    /// Workers started so far (each writes its own log files).
    started: usize,
}

impl Shared {
    /// `count` inputs under a new folder, an emulator started with `emulator_args` and a
    /// database of their own.
    fn new(test: &str, count: usize, emulator_args: &[&str]) -> Shared {
        let root = scratch(&format!("shared-{test}"));
        let (inputs, out) = (root.join("in"), root.join("out"));
        std::fs::create_dir_all(root.join("logs")).unwrap();
        let mut shared = Shared {
            emulator: Emulator::start_with(emulator_args),
            db: Postgres::start(),
            root,
            inputs,
            out,
            name: format!("batch-{test}"),
            relative: Vec::new(),
            started: 0,
        };
        shared.add_inputs(count);
        shared
    }

    /// Writes `count` more numbered inputs (each of its own content) under the input folder.
    fn add_inputs(&mut self, count: usize) {
        let first = self.relative.len();
        for n in first..first + count {
            let relative = PathBuf::from(format!("part-{}/doc-{n:03}.pdf", n % 4));
            let path = self.inputs.join(&relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, pdf(n)).unwrap();
            self.relative.push(relative);
        }
    }

    /// The arguments of one worker of this batch.
    fn args(&self, jobs: u32, lease: u32) -> Vec<String> {
        let mut args: Vec<String> = [
            "batch",
            "--journal",
            &self.db.url,
            "--batch",
            &self.name,
            "--output",
            text(&self.out),
            "--settings",
            TEXT,
            "--interval-ms",
            "100",
        ]
        .map(String::from)
        .to_vec();
        args.extend(["--jobs".into(), jobs.to_string()]);
        args.extend(["--lease".into(), lease.to_string()]);
        args.push(text(&self.inputs).to_string());
        args
    }

    /// Starts a worker; its stdout and stderr go to files under `logs/`.
    fn spawn(&mut self, jobs: u32, lease: u32) -> Worker {
        self.spawn_with(jobs, lease, &[])
    }

    /// [`Shared::spawn`] with more environment variables.
    fn spawn_with(&mut self, jobs: u32, lease: u32, env: &[(&str, &str)]) -> Worker {
        let args = self.args(jobs, lease);
        self.spawn_args(&args, env)
    }

    /// Starts a worker with `args` (see [`Shared::args`]) and more environment variables.
    fn spawn_args(&mut self, args: &[String], env: &[(&str, &str)]) -> Worker {
        self.started += 1;
        let log = |kind: &str| {
            std::fs::File::create(
                self.root
                    .join(format!("logs/worker-{}.{kind}", self.started)),
            )
            .unwrap()
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.emulator
            .ocrcloud(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log("out"))
            .stderr(log("err"))
            .spawn_worker()
    }

    /// Runs one worker to its end.
    fn run(&self, jobs: u32, lease: u32) -> Outcome {
        let args = self.args(jobs, lease);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.emulator.run(&args)
    }

    /// `ocrcloud batch --status` of this batch.
    fn status(&self) -> Outcome {
        self.emulator.run(&[
            "batch",
            "--status",
            "--journal",
            &self.db.url,
            "--batch",
            &self.name,
        ])
    }

    /// Every worker log written so far.
    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.root.join("logs")).unwrap() {
            all += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
        }
        all
    }

    /// The journal's rows of this batch, by input.
    fn rows(&self) -> BTreeMap<String, Row> {
        self.db
            .sql(&format!(
                "SELECT input, state, coalesce(task_id, ''), submissions, possible_duplicates, \
                        coalesce(lease_owner, ''), lease_token, outputs::text, \
                        coalesce(message, '') \
                   FROM ocrcloud_inputs WHERE batch = '{}' ORDER BY input",
                self.name
            ))
            .lines()
            .map(|line| {
                let f: Vec<&str> = line.splitn(9, FIELD).collect();
                let row = Row {
                    input: f[0].into(),
                    state: f[1].into(),
                    task_id: f[2].into(),
                    submissions: f[3].parse().unwrap(),
                    possible_duplicates: f[4].parse().unwrap(),
                    lease_owner: f[5].into(),
                    lease_token: f[6].parse().unwrap(),
                    outputs: f[7].into(),
                    message: f[8].into(),
                };
                (row.input.clone(), row)
            })
            .collect()
    }

    /// The rows of the worker with process id `pid` that it holds a lease on, with the
    /// database's clock: (rows, now).
    fn leases_of(&self, pid: u32) -> (Vec<Row>, String) {
        let now = self.db.sql("SELECT now()").trim().to_string();
        // Before the first worker made the tables, nobody holds anything.
        let Ok(owner) = self.db.try_sql(&format!(
            "SELECT worker FROM ocrcloud_workers WHERE batch = '{}' AND pid = {pid}",
            self.name
        )) else {
            return (Vec::new(), now);
        };
        let owner = owner.trim();
        let rows = self.rows();
        let held = rows
            .into_values()
            .filter(|row| !owner.is_empty() && row.lease_owner == owner)
            .collect();
        (held, now)
    }

    /// Kills `worker` with SIGKILL and waits until the database ended its connections too: a
    /// statement the worker sent before it died (a COMMIT already in the server's socket) runs
    /// after its death, so the worker's leases are read only once its backends are gone.
    fn kill(&self, worker: &mut Worker) {
        signal(worker, libc::SIGSTOP);
        let ports = local_tcp_ports(worker.id());
        // Backends started before now (a port used again later is another worker's).
        let before = self.db.try_sql("SELECT now()");
        signal(worker, libc::SIGKILL);
        worker.wait().unwrap();
        // A database that does not answer has no backend left of the worker either.
        let (false, Ok(before)) = (ports.is_empty(), before) else {
            return;
        };
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let started = Instant::now();
        // A connection the database lost (restarted) leaves no backend: an error counts as none.
        while self
            .db
            .try_sql(&format!(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE client_port IN ({}) AND backend_start < '{}'",
                ports.join(","),
                before.trim()
            ))
            .is_ok_and(|count| count.trim() != "0")
        {
            assert!(
                started.elapsed() < HANG,
                "a dead worker's backend still runs"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Inputs of this batch finished (completed or failed), read from the journal.
    fn finished(&self) -> u64 {
        self.db
            .sql(&format!(
                "SELECT count(*) FROM ocrcloud_inputs \
                  WHERE batch = '{}' AND state IN ('completed', 'failed')",
                self.name
            ))
            .trim()
            .parse()
            .unwrap()
    }

    /// POSTs of documents the emulator has seen.
    fn posts(&self) -> u64 {
        self.emulator.count("POST", "/RecognizePdf")
    }

    /// Creates the journal's tables (a worker run on a batch of its own with one input), and
    /// then a trigger that records every change of a row of this batch in `test_lease_audit`,
    /// with the time of the change and of its transaction.
    fn audit(&self) {
        let probe = self.root.join("probe");
        std::fs::create_dir_all(&probe).unwrap();
        std::fs::write(probe.join("probe.pdf"), pdf(999_999)).unwrap();
        self.emulator
            .run(&[
                "batch",
                "--journal",
                &self.db.url,
                "--batch",
                "probe",
                "--output",
                text(&self.root.join("probe-out")),
                "--settings",
                TEXT,
                "--interval-ms",
                "100",
                text(&probe),
            ])
            .expect(0);
        self.db.sql(&format!(
            "CREATE TABLE test_lease_audit (
                 at timestamptz, txn_now timestamptz, input text,
                 old_owner text, new_owner text, old_token bigint, new_token bigint,
                 old_until timestamptz, new_until timestamptz,
                 old_state text, new_state text, old_task text, new_task text);
             CREATE FUNCTION test_lease_audit() RETURNS trigger LANGUAGE plpgsql
                 SECURITY DEFINER AS $$
             BEGIN
                 INSERT INTO test_lease_audit VALUES (clock_timestamp(), now(), NEW.input,
                     OLD.lease_owner, NEW.lease_owner, OLD.lease_token, NEW.lease_token,
                     OLD.lease_until, NEW.lease_until, OLD.state, NEW.state,
                     OLD.task_id, NEW.task_id);
                 RETURN NEW;
             END $$;
             CREATE TRIGGER test_lease_audit AFTER UPDATE ON ocrcloud_inputs FOR EACH ROW
                 WHEN (NEW.batch = '{}') EXECUTE FUNCTION test_lease_audit();",
            self.name
        ));
    }

    /// Asserts that no claim took an input whose lease was still live (by the claiming
    /// transaction's clock) and that no lease token ever went back.
    #[track_caller]
    fn assert_one_live_lease_at_a_time(&self) {
        let stolen = self.db.sql(
            "SELECT input, old_owner, new_owner, old_until, txn_now FROM test_lease_audit
              WHERE new_token <> old_token AND new_owner IS NOT NULL
                AND old_owner IS NOT NULL AND old_until > txn_now",
        );
        assert_eq!(stolen, "", "claims of inputs whose lease was live");
        let back = self.db.sql(
            "SELECT input, old_token, new_token FROM test_lease_audit WHERE new_token < old_token",
        );
        assert_eq!(back, "", "lease tokens that went back");
        let claims = self
            .db
            .sql("SELECT count(*) FROM test_lease_audit WHERE new_token > old_token");
        assert!(
            claims.trim().parse::<u64>().unwrap() >= self.relative.len() as u64,
            "the audit saw the claims: {claims}"
        );
    }

    /// The first claim of `input` by another owner than `owner` after `since` (the database's
    /// clock), as seconds after `since`.
    fn taken_over_after(&self, input: &str, owner: &str, since: &str) -> Option<f64> {
        let seconds = self.db.sql(&format!(
            "SELECT extract(epoch FROM min(txn_now) - '{since}'::timestamptz)
               FROM test_lease_audit
              WHERE input = '{input}' AND new_token > old_token AND new_owner IS NOT NULL
                AND new_owner <> '{owner}' AND txn_now >= '{since}'::timestamptz"
        ));
        seconds.trim().parse().ok()
    }

    /// Asserts that every input is done, with its own result in place, or failed with a
    /// reason, and that the output folder holds nothing else (no second copy); answers how many
    /// failed.
    #[track_caller]
    fn assert_nothing_lost(&self) -> usize {
        let rows = self.rows();
        assert_eq!(
            rows.len(),
            self.relative.len(),
            "every input is in the journal"
        );
        let mut expected = BTreeSet::new();
        let mut failed = 0;
        for relative in &self.relative {
            let row = &rows[relative.to_str().unwrap()];
            match row.state.as_str() {
                "completed" => {
                    let result = relative.with_extension("txt");
                    let text = std::fs::read_to_string(self.out.join(&result))
                        .unwrap_or_else(|e| panic!("{}: {e}", result.display()));
                    let hash = sha256_hex(&std::fs::read(self.inputs.join(relative)).unwrap());
                    assert!(text.contains(&hash), "{}: {text}", result.display());
                    expected.insert(result);
                }
                "failed" => {
                    assert!(!row.message.is_empty(), "{row:?} failed without a reason");
                    failed += 1;
                }
                _ => panic!("{row:?} is neither done nor failed"),
            }
        }
        // Partial files are the business of [`Shared::assert_no_partial_file`].
        let found: BTreeSet<PathBuf> = files_under(&self.out)
            .into_iter()
            .filter(|file| !is_partial(file))
            .collect();
        assert!(
            found == expected,
            "files in the output folder that no completed input owns: {:?}; results missing: {:?}",
            found.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&found).collect::<Vec<_>>()
        );
        failed
    }

    /// Asserts that no temporary file of the library is left in the output folder.
    #[track_caller]
    fn assert_no_partial_file(&self) {
        let left: Vec<PathBuf> = files_under(&self.out)
            .into_iter()
            .filter(|file| is_partial(file))
            .collect();
        assert_eq!(
            left,
            Vec::<PathBuf>::new(),
            "partial files left in the output folder"
        );
    }

    /// Asserts that no worker's output and no status shows the database's password.
    #[track_caller]
    fn assert_password_never_shown(&self) {
        let status = self.status();
        let shown = format!("{}{}{}", self.logs(), status.stdout(), status.stderr);
        assert!(
            !shown.contains(self.db.password()),
            "the password is shown:\n{shown}"
        );
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Every file under `dir`, relative to it (hidden ones too).
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found
}

/// Whether `file` is named as the library's temporary files are.
fn is_partial(file: &Path) -> bool {
    file.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(".ocrcloud-"))
}

/// Every file under `dir` with its content.
fn contents_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|file| {
            let content = std::fs::read(dir.join(&file)).unwrap();
            (file, content)
        })
        .collect()
}

/// Waits for `child` to end (failing past [`HANG`]) and answers its exit code.
#[track_caller]
fn finish(child: &mut Child) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("a worker still runs after {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sessions of the workers' role inside a transaction that is waiting for its client.
fn transactions_waiting(shared: &Shared) -> u64 {
    shared
        .db
        .sql(
            "SELECT count(*) FROM pg_stat_activity
              WHERE usename = 'ocrcloud' AND state LIKE 'idle in transaction%'",
        )
        .trim()
        .parse()
        .unwrap()
}

/// Whether a worker's heartbeat renewal of its leases waits for a lock.
fn heartbeat_waiting_on_a_lock(shared: &Shared) -> bool {
    shared
        .db
        .sql(
            "SELECT count(*) FROM pg_stat_activity
              WHERE usename = 'ocrcloud' AND wait_event_type = 'Lock'
                AND query LIKE 'UPDATE ocrcloud_inputs SET lease_until%'",
        )
        .trim()
        != "0"
}

/// Freezes `worker` (SIGSTOP), the only worker running, at a moment when it has no
/// transaction open (thawed and frozen again until it is so).
fn freeze_outside_a_transaction(shared: &Shared, worker: &Child) {
    loop {
        signal(worker, libc::SIGSTOP);
        if transactions_waiting(shared) == 0 {
            return;
        }
        signal(worker, libc::SIGCONT);
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// The local ports of the TCP sockets that process `pid` holds open (Linux's /proc).
fn local_tcp_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_str()?;
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.iter().any(|inode| inode == fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill with the pid of our own child, which has not been waited for.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// Three workers of four jobs on 300 inputs; a random worker killed with SIGKILL at many
/// moments and started again; the database stopped as a crash would stop it and started again
/// once in the middle. Then every invariant of the issue.
#[test]
fn workers_killed_at_many_moments_and_a_database_restart_lose_nothing_and_count_every_duplicate() {
    const INPUTS: usize = 300;
    const WORKERS: usize = 3;
    const JOBS: u32 = 4;
    const LEASE: u32 = 5;
    let kills_wanted: usize = std::env::var("OCRCLOUD_SHARED_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let mut shared = Shared::new(
        "kills",
        INPUTS,
        &["--pending-ms", "0", "--processing-ms", "1000"],
    );
    shared.audit();
    let posts_before = shared.posts();
    let mut moments = Moments::new();
    let mut workers: Vec<Worker> = (0..WORKERS).map(|_| shared.spawn(JOBS, LEASE)).collect();

    // Inputs held by a killed worker with a task id: (input, its owner, the kill's time by
    // the database's clock, the task id, the submissions then).
    let mut orphans: Vec<(String, String, String, String, u64)> = Vec::new();
    let mut kills = 0u64;
    let mut restarted_database = false;
    // The kills (and the database's restart, halfway) happen at points of the batch's progress,
    // not of the clock, so that a batch of any speed gets all of them: the k-th event waits
    // until about k/(events + 2) of the inputs are finished (read from the database), plus a
    // random part of one step, which leaves the last step's inputs and more for the end.
    // On a loaded machine the batch may finish before this loop gets its kills: then more
    // inputs are added and the ended workers started again, so that every kill happens whatever
    // the speed (the first kill after an extension may come during the workers' registration).
    let events = kills_wanted as u64 + 1;
    let mut total = INPUTS as u64;
    let mut step = total / (events + 2);
    let (mut base, mut first_event) = (0u64, 0u64);
    let mut event = 0u64;
    let started = Instant::now();
    while kills < kills_wanted as u64 {
        event += 1;
        let target = base + step * (event - first_event - 1) + moments.below(step);
        let finished = loop {
            let finished = shared.finished();
            if finished >= target || finished == total {
                break finished;
            }
            // Workers that ended before inputs were added know nothing of them.
            if workers.iter_mut().all(|w| w.try_wait().unwrap().is_some()) {
                for worker in &mut workers {
                    assert!(matches!(finish(worker), Some(0 | 3)), "{}", shared.logs());
                    *worker = shared.spawn(JOBS, LEASE);
                }
            }
            assert!(
                started.elapsed() < HANG,
                "the batch stalled:\n{}",
                shared.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if finished == total {
            const MORE: usize = 40;
            eprintln!("the batch was done after {kills} kills: {MORE} more inputs");
            shared.add_inputs(MORE);
            for worker in &mut workers {
                if worker.try_wait().unwrap().is_some() {
                    assert!(
                        matches!(finish(worker), Some(0 | 3)),
                        "a worker failed:\n{}",
                        shared.logs()
                    );
                    *worker = shared.spawn(JOBS, LEASE);
                }
            }
            base = total;
            total += MORE as u64;
            first_event = event;
            step = (MORE as u64 / (events - event + 3)).max(1);
            continue;
        }
        if !restarted_database && kills == kills_wanted as u64 / 2 {
            shared.db.stop();
            std::thread::sleep(Duration::from_millis(1000));
            shared.db.restart();
            restarted_database = true;
            continue;
        }
        // A random worker still running (one may have ended, finding nothing left to claim).
        let live: Vec<usize> = (0..WORKERS)
            .filter(|&k| workers[k].try_wait().unwrap().is_none())
            .collect();
        if live.is_empty() {
            continue; // the batch is about to finish: the next round adds inputs
        }
        let k = live[moments.below(live.len() as u64) as usize];
        shared.kill(&mut workers[k]);
        kills += 1;
        let (held, now) = shared.leases_of(workers[k].id());
        for row in held {
            if row.state == "submitted" && !row.task_id.is_empty() {
                orphans.push((
                    row.input,
                    row.lease_owner,
                    now.clone(),
                    row.task_id,
                    row.submissions,
                ));
            }
        }
        workers[k] = shared.spawn(JOBS, LEASE);
    }
    assert_eq!(
        kills, kills_wanted as u64,
        "only {kills} kills before the batch was done"
    );
    assert!(restarted_database, "the database was restarted mid-run");
    for worker in &mut workers {
        assert!(
            matches!(finish(worker), Some(0 | 3)),
            "a worker failed:\n{}",
            shared.logs()
        );
    }

    // 1. Nothing lost; each result is its input's own; no partial file, no second copy.
    let failed = shared.assert_nothing_lost();
    assert!(failed <= 2, "{failed} inputs failed:\n{:#?}", shared.rows());
    // 2. POSTs <= inputs + counted duplicates <= inputs + kills x jobs.
    let rows = shared.rows();
    let inputs = shared.relative.len() as u64;
    let posts = shared.posts() - posts_before;
    let duplicates: u64 = rows.values().map(|row| row.possible_duplicates).sum();
    assert!(
        posts <= inputs + duplicates,
        "{posts} POSTs for {inputs} inputs and {duplicates} possible duplicates counted"
    );
    assert!(
        duplicates <= kills * u64::from(JOBS),
        "{duplicates} possible duplicates after {kills} kills of {JOBS} jobs"
    );
    // 3. Never two live leases on one input.
    shared.assert_one_live_lease_at_a_time();
    // 4. A dead worker's inputs are taken over within the lease time (after the lease ended,
    // with a margin for a loaded machine) and finish with GETs only: the same task, no other
    // submission.
    for (input, owner, killed_at, task_id, submissions) in &orphans {
        let row = &rows[input];
        assert_eq!(
            (&row.state, &row.task_id, row.submissions),
            (&"completed".to_string(), task_id, *submissions),
            "{input}, held by the killed {owner} with task {task_id}"
        );
        let after = shared.taken_over_after(input, owner, killed_at);
        let after = after.unwrap_or_else(|| panic!("{input} was never claimed again"));
        assert!(
            after <= f64::from(LEASE) + 60.0,
            "{input} taken over {after} s after its worker died"
        );
    }
    shared.assert_password_never_shown();

    // 5. A rerun sends no request; one changed input sends exactly one POST.
    let requests = shared.emulator.requests();
    shared
        .run(JOBS, LEASE)
        .expect(if failed > 0 { 3 } else { 0 });
    assert_eq!(
        shared.emulator.requests(),
        requests,
        "a finished batch asks nothing"
    );
    let changed = shared.relative[7].clone();
    let completed = rows[changed.to_str().unwrap()].state == "completed";
    std::fs::write(shared.inputs.join(&changed), pdf(1_000_007)).unwrap();
    let posts = shared.posts();
    shared
        .run(JOBS, LEASE)
        .expect(if failed > 0 { 3 } else { 0 });
    assert_eq!(shared.posts(), posts + 1, "one changed input, one POST");
    if completed {
        assert_eq!(shared.assert_nothing_lost(), failed);
    }
    // 3. No partial file (last: the other invariants are checked also when this one breaks).
    shared.assert_no_partial_file();
}

/// A worker frozen (SIGSTOP) while it holds leases looks dead: another worker takes its inputs
/// over after the lease and finishes the batch. Woken up, the stale worker changes nothing: not
/// a row of the journal, not a file of the output folder.
#[test]
fn a_worker_frozen_past_its_lease_changes_nothing_when_it_wakes() {
    const INPUTS: usize = 40;
    let mut shared = Shared::new(
        "frozen",
        INPUTS,
        &["--pending-ms", "0", "--processing-ms", "1500"],
    );
    let mut stale = shared.spawn(4, 2);
    let started = Instant::now();
    loop {
        let (held, _) = shared.leases_of(stale.id());
        if held.iter().any(|row| !row.task_id.is_empty()) {
            break;
        }
        assert!(started.elapsed() < HANG, "the worker never leased an input");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&stale, libc::SIGSTOP);
    let (frozen_with, _) = shared.leases_of(stale.id());
    assert!(!frozen_with.is_empty());

    shared.run(4, 2).expect(0);
    assert_eq!(shared.assert_nothing_lost(), 0);
    let rows = shared.rows();
    let outputs_table = shared
        .db
        .sql("SELECT * FROM ocrcloud_outputs ORDER BY batch, path");
    let files = contents_under(&shared.out);
    for row in &frozen_with {
        assert_ne!(
            rows[&row.input].lease_token, row.lease_token,
            "{} was taken over",
            row.input
        );
    }

    signal(&stale, libc::SIGCONT);
    let code = finish(&mut stale);
    assert!(code.is_some(), "the stale worker ends by itself");
    assert_eq!(shared.rows(), rows, "the stale worker changed the journal");
    assert_eq!(
        shared
            .db
            .sql("SELECT * FROM ocrcloud_outputs ORDER BY batch, path"),
        outputs_table
    );
    assert_eq!(
        contents_under(&shared.out),
        files,
        "the stale worker changed the output folder"
    );
    let duplicates: u64 = rows.values().map(|row| row.possible_duplicates).sum();
    assert!(shared.posts() <= INPUTS as u64 + duplicates);
    assert!(!shared.logs().contains("panicked"), "{}", shared.logs());
    shared.assert_no_partial_file();
}

/// The database stopped for longer than a lease under a lone worker: the worker waits, comes
/// back, and finishes with nothing lost; `--status` shows the counts, the live workers and the
/// failed inputs, never the password.
#[test]
fn a_database_away_for_longer_than_a_lease_pauses_the_batch_and_loses_nothing() {
    const INPUTS: usize = 60;
    let mut shared = Shared::new(
        "outage",
        INPUTS,
        &["--pending-ms", "0", "--processing-ms", "300"],
    );
    std::fs::write(shared.inputs.join("empty.pdf"), b"").unwrap();
    let mut worker = shared.spawn(4, 2);
    let started = Instant::now();
    while shared.leases_of(worker.id()).0.is_empty() {
        assert!(started.elapsed() < HANG, "the worker never leased an input");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = shared.status().expect(0).stdout();
    assert!(status.contains("worker"), "{status}");
    shared.db.stop();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker waits for its database"
    );
    shared.db.restart();
    assert_eq!(finish(&mut worker), Some(3), "{}", shared.logs());

    shared.relative.push("empty.pdf".into());
    assert_eq!(shared.assert_nothing_lost(), 1);
    let rows = shared.rows();
    assert!(
        rows["empty.pdf"].message.contains("empty"),
        "{:?}",
        rows["empty.pdf"]
    );
    let duplicates: u64 = rows.values().map(|row| row.possible_duplicates).sum();
    assert!(shared.posts() <= INPUTS as u64 + duplicates);
    assert!(
        duplicates <= 4,
        "{duplicates} possible duplicates from one outage of 4 jobs"
    );

    let status = shared.status().expect(0).stdout();
    for line in [format!("completed\t{INPUTS}"), "failed\t1".to_string()] {
        assert!(status.contains(&line), "{line}: {status}");
    }
    assert!(status.contains("empty.pdf"), "{status}");
    shared.assert_password_never_shown();
    shared.assert_no_partial_file();
}

/// A database that never comes back does not keep a worker waiting forever: after its patience
/// (`OCRCLOUD_JOURNAL_PATIENCE`, 10 minutes by default, 3 s here) the worker ends with the
/// journal's failure status (13 + 10, `OCR_ERR_IO`) and a message that says so, having published
/// nothing it had no lease for; once the database is back, a rerun finishes the batch.
#[test]
fn a_database_that_never_comes_back_ends_the_worker_after_its_patience() {
    const INPUTS: usize = 40;
    let mut shared = Shared::new(
        "patience",
        INPUTS,
        // Slow tasks, so that the worker surely still holds its leases when the test sees them.
        &["--pending-ms", "0", "--processing-ms", "8000"],
    );
    let mut worker = shared.spawn_with(4, 2, &[("OCRCLOUD_JOURNAL_PATIENCE", "3")]);
    wait_for_a_lease(&shared, &mut worker);
    shared.db.stop();
    let code = finish(&mut worker);
    let logs = shared.logs();
    assert_eq!(
        code,
        Some(10 + ocrcloud::error::Code::Io as i32),
        "the worker gives up on its database:\n{logs}"
    );
    assert!(logs.contains("gave up waiting for the database"), "{logs}");
    shared.assert_no_partial_file();
    shared.db.restart();
    // Every file published is one whose name the journal gave its input under a live lease.
    let claimed: BTreeSet<PathBuf> = shared
        .db
        .sql(&format!(
            "SELECT path FROM ocrcloud_outputs WHERE batch = '{}'",
            shared.name
        ))
        .lines()
        .map(PathBuf::from)
        .collect();
    let published = files_under(&shared.out);
    assert!(
        published.is_subset(&claimed),
        "published {published:?}, claimed {claimed:?}"
    );
    shared.run(4, 2).expect(0);
    assert_eq!(shared.assert_nothing_lost(), 0);
    let duplicates: u64 = shared
        .rows()
        .values()
        .map(|row| row.possible_duplicates)
        .sum();
    assert!(shared.posts() <= INPUTS as u64 + duplicates);
    shared.assert_password_never_shown();
    shared.assert_no_partial_file();
}

/// Waits until `worker` holds a lease (failing when it ends first or past [`HANG`]).
#[track_caller]
fn wait_for_a_lease(shared: &Shared, worker: &mut Worker) {
    let started = Instant::now();
    while shared.leases_of(worker.id()).0.is_empty() {
        assert!(
            worker.try_wait().unwrap().is_none() && started.elapsed() < HANG,
            "the worker never leased an input:\n{}",
            shared.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A database server stopped without a word (SIGSTOP: its connections stay open, the kernel
/// still accepts and acknowledges, nothing answers) ends the worker after its patience with
/// exit status 23, as a database that is gone does: a statement waited for ever. The next run,
/// once the server goes on, finishes the batch.
#[test]
fn a_stopped_database_server_ends_the_worker_after_its_patience_and_a_rerun_finishes() {
    const INPUTS: usize = 20;
    let mut shared = Shared::new(
        "frozen-db",
        INPUTS,
        // Slow tasks, so that the worker surely still has statements to make.
        &["--pending-ms", "0", "--processing-ms", "8000"],
    );
    // A short lease: the rerun takes over what the worker held once its leases run out.
    let mut args = shared.args(4, 3);
    args[2] = format!("{}?connect_timeout=2", shared.db.url);
    let env = [
        ("OCRCLOUD_JOURNAL_PATIENCE", "4"),
        ("OCRCLOUD_JOURNAL_DEADLINE", "2"),
    ];
    let mut worker = shared.spawn_args(&args, &env);
    wait_for_a_lease(&shared, &mut worker);
    let code = {
        let _frozen = shared.db.freeze();
        finish(&mut worker)
    };
    let logs = shared.logs();
    assert_eq!(
        code,
        Some(10 + ocrcloud::error::Code::Io as i32),
        "the worker gives up on its database:\n{logs}"
    );
    assert!(logs.contains("gave up waiting for the database"), "{logs}");
    assert!(logs.contains("no answer within 2 s"), "{logs}");
    shared.assert_no_partial_file();
    shared.run(4, 3).expect(0);
    assert_eq!(shared.assert_nothing_lost(), 0);
    let duplicates: u64 = shared
        .rows()
        .values()
        .map(|row| row.possible_duplicates)
        .sum();
    assert!(shared.posts() <= INPUTS as u64 + duplicates);
    shared.assert_password_never_shown();
}

/// A relay on the way to the database (a proxy, a NAT) that loses its connections without a
/// word (it stops forwarding on them, the kernel still acknowledges) and later takes new ones:
/// the worker's statements on the lost connections end at their deadline, it connects again
/// and finishes the batch. They waited for ever.
#[test]
fn a_relay_that_loses_its_connections_pauses_the_worker_until_it_connects_again() {
    const INPUTS: usize = 20;
    let mut shared = Shared::new(
        "relay",
        INPUTS,
        &["--pending-ms", "0", "--processing-ms", "3000"],
    );
    let relay = Relay::start(shared.db.port());
    let direct = format!("127.0.0.1:{}", shared.db.port());
    let mut args = shared.args(4, 30);
    args[2] = format!(
        "{}?connect_timeout=2",
        shared.db.url.replacen(&direct, &relay.address, 1)
    );
    let mut worker = shared.spawn_args(&args, &[("OCRCLOUD_JOURNAL_DEADLINE", "2")]);
    wait_for_a_lease(&shared, &mut worker);
    relay.black_hole();
    // Not a bound: the connections open now stay lost however soon the relay takes new ones.
    std::thread::sleep(Duration::from_secs(3));
    relay.resume();
    let code = finish(&mut worker);
    assert_eq!(code, Some(0), "{}", shared.logs());
    assert_eq!(shared.assert_nothing_lost(), 0);
    let duplicates: u64 = shared
        .rows()
        .values()
        .map(|row| row.possible_duplicates)
        .sum();
    assert!(shared.posts() <= INPUTS as u64 + duplicates);
    shared.assert_password_never_shown();
    shared.assert_no_partial_file();
}

/// A URL without a password takes it from `PGPASSWORD` (as libpq does), so that it need not be
/// in the command line that `ps` shows; a wrong one is refused with a message that shows
/// neither it nor the right one, and none at all fails with a message too.
#[test]
fn the_password_comes_from_pgpassword_when_the_url_has_none() {
    let shared = Shared::new(
        "pgpassword",
        3,
        &["--pending-ms", "0", "--processing-ms", "0"],
    );
    let password = shared.db.password().to_string();
    let url = shared.db.url.replacen(&format!(":{password}@"), "@", 1);
    assert!(!url.contains(&password), "{url}");
    let mut args = shared.args(2, 30);
    args[2] = url.clone();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = |pgpassword: Option<&str>| {
        let mut command = shared.emulator.ocrcloud(&args);
        match pgpassword {
            Some(p) => command.env("PGPASSWORD", p),
            None => command.env_remove("PGPASSWORD"),
        };
        Outcome::of(&mut command)
    };

    let wrong = "pgpassword-wrong-7Qx";
    for refused in [run(Some(wrong)), run(None)] {
        let refused = refused.expect(10 + ocrcloud::error::Code::Io as i32);
        let shown = format!(
            "{}{}",
            refused.stderr,
            String::from_utf8_lossy(&refused.stdout)
        );
        assert!(shown.contains("password"), "{shown}");
        assert!(
            !shown.contains(wrong) && !shown.contains(&password),
            "{shown}"
        );
    }
    run(Some(&password)).expect(0);
    assert_eq!(shared.assert_nothing_lost(), 0);
    shared.assert_password_never_shown();
}

/// Two batches in one database are told apart by their names; a database whose schema is
/// newer than the library's is refused with a message, before anything is sent; a wrong
/// password is refused with a message that shows neither password.
#[test]
fn batches_share_a_database_by_name_and_a_newer_schema_or_a_wrong_password_is_refused() {
    let shared = Shared::new("names", 5, &["--pending-ms", "0", "--processing-ms", "0"]);
    shared.run(2, 30).expect(0);
    // A second batch of three inputs in the same database, to another folder.
    let other_inputs = shared.root.join("in-other");
    for n in 0..3 {
        std::fs::create_dir_all(&other_inputs).unwrap();
        std::fs::write(other_inputs.join(format!("other-{n}.pdf")), pdf(1000 + n)).unwrap();
    }
    let with = |args: Vec<String>, from: &str, to: &str| -> Vec<String> {
        args.into_iter().map(|arg| arg.replace(from, to)).collect()
    };
    let args = with(shared.args(2, 30), &shared.name, "batch-other");
    let args = with(args, text(&shared.inputs), text(&other_inputs));
    let args = with(
        args,
        text(&shared.out),
        text(&shared.root.join("out-other")),
    );
    shared
        .emulator
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .expect(0);
    let counts = shared.db.sql(
        "SELECT batch, count(*), count(*) FILTER (WHERE state = 'completed')
           FROM ocrcloud_inputs WHERE batch <> 'probe' GROUP BY batch ORDER BY batch",
    );
    assert_eq!(
        counts,
        format!("batch-names{FIELD}5{FIELD}5\nbatch-other{FIELD}3{FIELD}3\n")
    );
    assert_eq!(shared.assert_nothing_lost(), 0);
    assert_eq!(files_under(&shared.root.join("out-other")).len(), 3);

    let requests = shared.emulator.requests();
    let wrong = shared.db.url_with_password("ocrWrongPw31337");
    let args = with(shared.args(2, 30), &shared.db.url, &wrong);
    let refused = shared
        .emulator
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!matches!(refused.code, Some(0 | 3)), "{}", refused.stderr);
    assert!(refused.stderr.contains("password"), "{}", refused.stderr);
    for secret in ["ocrWrongPw31337", shared.db.password()] {
        assert!(!refused.stderr.contains(secret), "{}", refused.stderr);
        assert!(!refused.stdout().contains(secret));
    }

    let version = shared.db.sql("SELECT version FROM ocrcloud_schema");
    let newer = version.trim().parse::<i64>().unwrap() + 1;
    shared
        .db
        .sql(&format!("UPDATE ocrcloud_schema SET version = {newer}"));
    let refused = shared.run(2, 30);
    assert!(!matches!(refused.code, Some(0 | 3)), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("schema") && refused.stderr.contains(&newer.to_string()),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(shared.db.password()));
    assert_eq!(shared.emulator.requests(), requests, "nothing was sent");
}

/// A worker killed while it writes a result leaves its temporary file; the worker that takes
/// the input over removes it, although it had already written into that folder before (and
/// cleaned it then).
#[test]
fn a_killed_workers_partial_file_is_removed_when_its_input_is_taken_over() {
    let mut shared = Shared::new("partial", 6, &["--pending-ms", "0", "--processing-ms", "0"]);
    // A large PDF, whose result is itself (`resultType: Pdf`): its writing takes a while.
    let big = shared.inputs.join("part-9/z-big.pdf");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    let mut content = b"%PDF-1.4\n%".to_vec();
    content.resize(64 << 20, b'x');
    content.extend_from_slice(b"\n%%EOF\n");
    std::fs::write(&big, &content).unwrap();
    for n in 0..6 {
        std::fs::write(
            shared.inputs.join(format!("part-9/a-{n}.pdf")),
            pdf(500 + n),
        )
        .unwrap();
    }
    let results = shared.out.join("part-9");
    let settings = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .map(|arg| arg.replace(TEXT, r#"{"resultType":"Pdf"}"#))
            .collect()
    };
    let spawn = |shared: &mut Shared, jobs: u32| {
        shared.started += 1;
        let args = settings(shared.args(jobs, 2));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = std::fs::File::create(shared.root.join(format!("logs/w{}", shared.started)));
        shared
            .emulator
            .ocrcloud(&args)
            .stdout(Stdio::null())
            .stderr(log.unwrap())
            .spawn_worker()
    };

    // B writes a first result into part-9/ (and so cleans it), then freezes.
    let mut b = spawn(&mut shared, 1);
    let started = Instant::now();
    while !files_under(&results)
        .iter()
        .any(|f| f.to_str().unwrap().starts_with("a-"))
    {
        assert!(started.elapsed() < HANG, "B wrote nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    freeze_outside_a_transaction(&shared, &b);
    // A takes the rest and is killed while it writes a result (most likely the large one).
    let mut a = spawn(&mut shared, 2);
    let partial = format!(".ocrcloud-{}-", a.id());
    loop {
        let writing = files_under(&results)
            .iter()
            .any(|f| f.to_str().unwrap().starts_with(&partial));
        if writing {
            signal(&a, libc::SIGKILL);
            break;
        }
        assert!(
            a.try_wait().unwrap().is_none(),
            "the worker ended before it was caught writing a result"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    a.wait().unwrap();
    assert!(
        files_under(&results)
            .iter()
            .any(|f| f.to_str().unwrap().starts_with(&partial)),
        "the killed worker left its partial file"
    );
    // B wakes, takes the large input over once A's lease ends, and finishes the batch.
    signal(&b, libc::SIGCONT);
    assert_eq!(finish(&mut b), Some(0), "{}", shared.logs());
    assert_eq!(std::fs::read(results.join("z-big.pdf")).unwrap(), content);
    shared.assert_no_partial_file();
}

/// While a worker waits for the service (its first submissions and polls held 5 s by the
/// emulator), none of its database sessions sits in an open transaction.
#[test]
fn no_transaction_stays_open_across_an_http_call() {
    let mut shared = Shared::new(
        "transactions",
        8,
        &["--pending-ms", "0", "--processing-ms", "100"],
    );
    for method in ["POST", "GET"] {
        ureq::post(format!("{}/_emulator/faults", shared.emulator.url))
            .header("Content-Type", "application/json")
            .send(
                serde_json::json!({"path": "/v5.0/ocr/RecognizePdf", "method": method,
                    "kind": "delay", "ms": 5000, "count": 4})
                .to_string(),
            )
            .unwrap();
    }
    let mut worker = shared.spawn(4, 30);
    let mut held_open = String::new();
    let mut samples = 0;
    while worker.try_wait().unwrap().is_none() {
        // A session idle inside a transaction for 4 s of the 5 s that an answer takes.
        if let Ok(open) = shared.db.try_sql(
            "SELECT pid, query FROM pg_stat_activity
              WHERE usename = 'ocrcloud' AND state LIKE 'idle in transaction%'
                AND clock_timestamp() - state_change > interval '4 seconds'",
        ) {
            held_open += &open;
            samples += 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(finish(&mut worker), Some(0), "{}", shared.logs());
    assert!(samples > 10, "{samples} samples");
    assert_eq!(held_open, "", "transactions open across an HTTP call");
    assert_eq!(shared.assert_nothing_lost(), 0);
}

/// `postgres://` and a user and password that need percent-encoding work; with a database that
/// does not exist, or TLS asked of a server without it, the message names the problem and shows
/// the password neither as written nor decoded.
#[test]
fn odd_urls_work_or_fail_with_a_message_that_never_shows_the_password() {
    let shared = Shared::new("urls", 2, &["--pending-ms", "0", "--processing-ms", "0"]);
    let password = "ocr@Pw:/%?x#1 secret";
    let encoded = "ocr%40Pw%3A%2F%25%3Fx%231%20secret";
    shared.db.sql(&format!(
        "CREATE ROLE \"odd user\" LOGIN PASSWORD '{password}'"
    ));
    shared.db.sql("CREATE DATABASE odd OWNER \"odd user\"");
    let url = |database: &str, parameters: &str| {
        format!(
            "postgres://odd%20user:{encoded}@127.0.0.1:{}/{database}{parameters}",
            shared.db.port()
        )
    };
    let with_journal = |journal: &str| -> Vec<String> {
        shared
            .args(2, 30)
            .into_iter()
            .map(|arg| arg.replace(&shared.db.url, journal))
            .collect()
    };
    let run = |journal: &str| {
        let args = with_journal(journal);
        shared
            .emulator
            .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(&url("odd", "?sslmode=disable")).expect(0);
    assert_eq!(files_under(&shared.out).len(), 2, "both results");
    for (journal, names) in [
        (url("nosuchdb", ""), "nosuchdb"),
        (url("odd", "?sslmode=require"), "TLS"),
    ] {
        let refused = run(&journal);
        assert!(!matches!(refused.code, Some(0 | 3)), "{}", refused.stderr);
        let shown = format!("{}{}", refused.stdout(), refused.stderr);
        assert!(
            shown.contains(names) || shown.to_lowercase().contains(&names.to_lowercase()),
            "{names}: {shown}"
        );
        for secret in [password, encoded, "ocr@Pw", "ocr%40Pw"] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
    }
}

/// A taken-over input whose task the service no longer knows (`NotExist`: removed here, as
/// after its 24 hours) is submitted again, and each such submission is counted.
#[test]
fn a_taken_over_input_whose_task_is_gone_is_submitted_again_and_counted() {
    const INPUTS: usize = 6;
    let mut shared = Shared::new(
        "gone",
        INPUTS,
        &["--pending-ms", "0", "--processing-ms", "3000"],
    );
    let mut dead = shared.spawn(INPUTS as u32, 2);
    let started = Instant::now();
    let tasks = loop {
        let rows = shared.db.try_sql(
            "SELECT task_id FROM ocrcloud_inputs WHERE state = 'submitted' AND task_id IS NOT NULL",
        );
        let tasks: Vec<String> = rows.unwrap_or_default().lines().map(String::from).collect();
        if tasks.len() == INPUTS {
            break tasks;
        }
        assert!(
            started.elapsed() < HANG,
            "the tasks were never all submitted"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    signal(&dead, libc::SIGKILL);
    dead.wait().unwrap();
    let token = shared.emulator.token();
    for task in &tasks {
        ureq::delete(format!(
            "{}/v5.0/ocr/RecognizePdf?id={task}",
            shared.emulator.url
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    }
    assert_eq!(shared.posts(), INPUTS as u64);
    shared.run(INPUTS as u32, 2).expect(0);
    assert_eq!(shared.assert_nothing_lost(), 0);
    let rows = shared.rows();
    let duplicates: u64 = rows.values().map(|row| row.possible_duplicates).sum();
    assert_eq!(
        (shared.posts(), duplicates),
        (2 * INPUTS as u64, INPUTS as u64),
        "{rows:#?}"
    );
    for row in rows.values() {
        assert!(!tasks.contains(&row.task_id), "{row:?} kept its old task");
    }
    shared.assert_no_partial_file();
}

/// Three workers with `--max-rate 10` (the total) on one token against a service that allows
/// 10 requests a second: each takes its share, so that the service refuses few requests
/// (without sharing, each would send 10 a second and two in three would be refused).
#[test]
fn workers_share_the_accounts_rate_limit() {
    let shared = Shared::new(
        "rate",
        60,
        &[
            "--pending-ms",
            "0",
            "--processing-ms",
            "0",
            "--rate-limit",
            "10",
        ],
    );
    let token = shared.emulator.token();
    let mut args = shared.args(4, 30);
    args.extend(["--max-rate".to_string(), "10".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut workers: Vec<Worker> = (0..3)
        .map(|_| {
            shared
                .emulator
                .ocrcloud(&args)
                .env_remove("OCR_CLIENT_ID")
                .env_remove("OCR_CLIENT_SECRET")
                .env("OCR_ACCESS_TOKEN", &token)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn_worker()
        })
        .collect();
    for worker in &mut workers {
        assert_eq!(finish(worker), Some(0));
    }
    assert_eq!(shared.assert_nothing_lost(), 0);
    let stats: serde_json::Value = serde_json::from_str(
        &ureq::get(format!("{}/_emulator/stats", shared.emulator.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let (requests, refused) = (
        stats["requests"].as_u64().unwrap(),
        stats["rate_limited"].as_u64().unwrap(),
    );
    assert!(
        refused * 10 <= requests,
        "{refused} of {requests} requests refused for the rate"
    );
}

/// `--jobs` counts requests at once, not tasks open: like the SQLite batch (which keeps up to
/// 16 tasks per job open), a shared worker with 2 jobs submits more than 2 inputs while its
/// first tasks are still being processed (30 s each here). Otherwise a worker's throughput is
/// jobs / the processing time, far below the service's limit (benches/bench_shared.py).
#[test]
fn a_worker_keeps_more_tasks_open_than_its_jobs_as_the_sqlite_batch_does() {
    let mut shared = Shared::new(
        "open-tasks",
        20,
        &["--pending-ms", "0", "--processing-ms", "30000"],
    );
    // The same inputs first through the SQLite batch, into another folder.
    let sqlite_out = shared.root.join("out-sqlite");
    let args = [
        "batch",
        "--settings",
        TEXT,
        "--jobs",
        "2",
        "--output",
        text(&sqlite_out),
        text(&shared.inputs),
    ];
    let mut sqlite = shared
        .emulator
        .ocrcloud(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_worker();
    let open_within = |shared: &Shared, before: u64| {
        let started = Instant::now();
        while shared.posts() - before < 8 && started.elapsed() < Duration::from_secs(25) {
            std::thread::sleep(Duration::from_millis(100));
        }
        shared.posts() - before
    };
    let sqlite_open = open_within(&shared, 0);
    signal(&sqlite, libc::SIGKILL);
    sqlite.wait().unwrap();
    assert!(
        sqlite_open >= 8,
        "the SQLite batch opened {sqlite_open} tasks"
    );

    let before = shared.posts();
    let mut worker = shared.spawn(2, 60);
    let shared_open = open_within(&shared, before);
    signal(&worker, libc::SIGKILL);
    worker.wait().unwrap();
    assert!(
        shared_open >= 8,
        "a shared worker with 2 jobs opened {shared_open} tasks in 25 s, the SQLite batch \
         {sqlite_open}"
    );
}

/// A worker frozen (SIGSTOP: a paused VM, a stalled network) while one of its transactions is
/// open holds that transaction's locks: the other workers must still take its inputs over and
/// finish the batch (the server ends such a transaction, or they do not wait for its locks).
#[test]
fn a_worker_frozen_inside_a_transaction_does_not_stop_the_others() {
    let mut shared = Shared::new(
        "frozen-in-transaction",
        300,
        &["--pending-ms", "0", "--processing-ms", "1000"],
    );
    let mut frozen = shared.spawn(4, 2);
    let started = Instant::now();
    // During a run the worker's only transaction is its heartbeat's (every 2 s: its row, then
    // the leases it holds). A lock the test holds on every input keeps that transaction open
    // (its lease renewal waits for the lock) until the worker is frozen inside it.
    loop {
        assert!(
            started.elapsed() < HANG,
            "never caught inside a transaction"
        );
        assert!(
            frozen.try_wait().unwrap().is_none(),
            "the worker ended first"
        );
        if shared
            .db
            .try_sql("SELECT 1 FROM ocrcloud_inputs LIMIT 0")
            .is_err()
        {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let mut locker = shared.db.session();
        let mut sql = locker.stdin.take().unwrap();
        // A psql that failed (and quit) only makes this attempt fail.
        let _ = writeln!(sql, "BEGIN; SELECT 1 FROM ocrcloud_inputs FOR UPDATE;");
        let _ = sql.flush();
        // The worker's lock timeout (5 s) ends each wait; then this tries again.
        let asked = Instant::now();
        let mut caught = false;
        while !caught && asked.elapsed() < Duration::from_secs(4) {
            caught = heartbeat_waiting_on_a_lock(&shared);
            if !caught {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if caught {
            signal(&frozen, libc::SIGSTOP);
        }
        let _ = writeln!(sql, "ROLLBACK;");
        drop(sql);
        locker.wait().unwrap();
        if !caught {
            continue;
        }
        // The renewal now runs, and the frozen worker cannot commit.
        let thawed = Instant::now();
        while transactions_waiting(&shared) == 0 && thawed.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if transactions_waiting(&shared) > 0 {
            break;
        }
        signal(&frozen, libc::SIGCONT);
    }
    // Another worker: 300 small inputs, the frozen one's taken over after its 2 s lease.
    let mut other = shared.spawn(4, 2);
    let started = Instant::now();
    while other.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let stuck = other.try_wait().unwrap().is_none();
    let sessions = shared.db.sql(
        "SELECT state, wait_event_type, left(query, 60) FROM pg_stat_activity WHERE usename = 'ocrcloud'",
    );
    assert!(
        !stuck,
        "a worker still waits 180 s after another froze inside a transaction:\n{sessions}"
    );
    assert_eq!(finish(&mut other), Some(0), "{}", shared.logs());
    assert_eq!(shared.assert_nothing_lost(), 0);
    signal(&frozen, libc::SIGCONT);
}
