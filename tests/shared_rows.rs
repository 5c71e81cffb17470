//! The shared journal's statements do work bounded by what they are about, never by the size
//! of their batch or of the other batches in the database (issue 24: "the database must not be
//! what limits the batch"). A statement that reads its whole batch each time makes a batch's
//! total work quadratic; no timing shows that on a small batch, but the rows each plan visits
//! do. So a real PostgreSQL (tests/common/postgres.rs) runs `auto_explain` with ANALYZE on
//! every statement, a database holding an earlier, ANALYZEd batch drives a second batch through
//! the journal's own API as two workers would (first with the statistics of the earlier batch
//! only, the planner's worst case at the start of a batch, then with fresh ones and a third
//! worker), and each statement's plan from the server's log must visit at most
//! `VISITED_PER_ROW` rows per row it is about plus `VISITED_ANYWAY`. No timing anywhere.
//!
//! Rows visited by a plan: over every plan node, (actual rows + rows removed by a filter, a
//! join filter or an index recheck) x loops. A row read and thrown away counts as much as one
//! kept: that is where a per-batch scan shows.

mod common;

use common::postgres::{Postgres, new_inputs};
use ocrcloud::auth::Auth;
use ocrcloud::batch::shared::db::{Link, Pool, Target};
use ocrcloud::batch::shared::heartbeat::Heart;
use ocrcloud::batch::shared::journal::{Claim, Journal};
use ocrcloud::batch::shared::status;
use ocrcloud::client::Client;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Inputs of the earlier batch already in the database (two thirds completed).
const EARLIER: usize = 3_000;
/// Inputs of the batch under test: a statement that reads the whole batch visits at least
/// this many rows (and `EARLIER` more when it reads the other batch too).
const INPUTS: usize = 3_000;
/// Inputs registered per statement by the first worker, as the library's `REGISTER_CHUNK`.
const CHUNK: usize = 500;
/// Inputs registered per statement by the second worker: a read of the whole batch is 120
/// times as many rows.
const SMALL_CHUNK: usize = 25;
/// Leases each of the two workers takes, one claim at a time, as a worker's threads do: the
/// later claims find up to `2 * CLAIMS - 1` = 299 inputs leased before them.
const CLAIMS: usize = 150;
/// Leases each of three workers takes once the statistics are fresh.
const FRESH_CLAIMS: usize = 50;
/// Claimed inputs each worker then takes through submission and publication.
const WORKED: usize = 30;
/// Leases each worker still holds when its heartbeat renews them and it says goodbye.
const HELD: usize = 10;
/// Long enough that no lease runs out during the test, however loaded the machine.
const LEASE: Duration = Duration::from_secs(3_600);

/// Rows a plan may visit per row it is about. A plan visits a row at each node it passes:
/// registering, done right, passes each input through unnest, a sort and two CTE scans for
/// the INSERT and the UPDATE, and one index probe, 6 rows per input (measured: with fresh
/// statistics its statement visits 150 rows for 25 inputs, 3,010 for 500); reading the
/// records visits 1 to 3 per row, the `--status` counts 2 (scan, aggregate).
const VISITED_PER_ROW: f64 = 16.0;
/// Rows any plan may visit besides: the batch's row, the workers' rows (two here), a row of
/// an aggregate. A fenced write visits 1 row, `claim_outputs` 7, a claim done right under 10.
const VISITED_ANYWAY: f64 = 40.0;
// So a statement about one input may visit 56 rows, the heartbeat of a worker holding `HELD`
// leases (about 12 rows) 232, a chunk of `SMALL_CHUNK` inputs 440, one of `CHUNK` 8,040:
// the right plans stay at least 2.5 times below their bound. A statement that reads the
// whole batch visits at least `INPUTS` = 3,000 rows: over 50 times the bound of a statement
// about one input, 13 times the heartbeat's, almost 7 times a small chunk's. A claim that
// walks past the leased inputs (299 at most) visits over 5 times its bound; the UPDATE of
// `register` that compares each given input with every row of the batch visits 25 or 500 x
// its rows, 60 times its bound once the batch holds 1,000. (A chunk of 500 may be read by a
// scan of the whole batch while the batch is under 8,000 rows: the small chunks catch that.)

/// What a call is about: per statement, the rows (the first entry whose prefix starts the
/// statement's query text counts; the prefix "" fits every statement).
type About = Vec<(&'static str, usize)>;

/// Every statement of a call is about `rows` rows.
fn all(rows: usize) -> About {
    vec![("", rows)]
}

/// Runs the journal's calls one at a time, each after a marker statement that the server's
/// log shows before the call's own plans, and remembers what each call is about.
struct Calls {
    marks: Pool,
    /// Per call, in order: what it was and what it is about.
    calls: Vec<(String, About)>,
    /// Added to what each call was: the phase of the test.
    phase: &'static str,
}

/// The query text of the marker before call `n`.
fn marker(n: usize) -> String {
    format!("{MARKER}{n}'")
}

const MARKER: &str = "SELECT 'shared_rows call ";

/// The call whose marker `query` is, if it is one.
fn marked(query: &str) -> Option<usize> {
    query.strip_prefix(MARKER)?.strip_suffix('\'')?.parse().ok()
}

impl Calls {
    /// Runs `call` (named `what`), whose every statement is about `rows` rows.
    fn run<T>(&mut self, what: &str, rows: usize, call: impl FnOnce() -> T) -> T {
        self.run_then(what, call, |_| all(rows))
    }

    /// Runs `call`, about what `about` tells from its answer.
    fn run_then<T>(
        &mut self,
        what: &str,
        call: impl FnOnce() -> T,
        about: impl FnOnce(&T) -> About,
    ) -> T {
        let text = marker(self.calls.len());
        self.marks
            .with("cannot mark the log in", None, |c| c.batch_execute(&text))
            .unwrap();
        let answer = call();
        self.calls
            .push((format!("{what}{}", self.phase), about(&answer)));
        answer
    }
}

/// One plan from the server's log, with the call it belongs to.
struct Explained {
    call: usize,
    query: String,
    visited: f64,
}

/// Rows visited by `node` and the nodes under it.
fn visited(node: &Value) -> f64 {
    let loops = node["Actual Loops"].as_f64().unwrap_or(0.0);
    let per_loop: f64 = [
        "Actual Rows",
        "Rows Removed by Filter",
        "Rows Removed by Join Filter",
        "Rows Removed by Index Recheck",
    ]
    .iter()
    .filter_map(|key| node[key].as_f64())
    .sum();
    let below: f64 = node["Plans"]
        .as_array()
        .map_or(0.0, |plans| plans.iter().map(visited).sum());
    per_loop * loops + below
}

/// What `auto_explain` writes before each plan (after the statement's duration).
const PLAN: &str = " ms  plan:";

/// The plans that `auto_explain` wrote into `log`, each given to the call whose marker came
/// last before it (plans before the first marker are the test's setup and left out).
fn explained(log: &str, calls: usize) -> Vec<Explained> {
    let mut plans = Vec::new();
    let mut call = None;
    let mut rest = log;
    while let Some(at) = rest.find(PLAN) {
        let mut stream =
            serde_json::Deserializer::from_str(&rest[at + PLAN.len()..]).into_iter::<Value>();
        let plan = stream
            .next()
            .expect("a JSON plan after each \"plan:\"")
            .expect("auto_explain writes JSON");
        rest = &rest[at + PLAN.len() + stream.byte_offset()..];
        let query = plan["Query Text"].as_str().unwrap_or_default();
        let query = query.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(n) = marked(&query) {
            assert!(n < calls, "a marker of no call: {query}");
            call = Some(n);
            continue;
        }
        if let Some(call) = call {
            plans.push(Explained {
                call,
                visited: visited(&plan["Plan"]),
                query,
            });
        }
    }
    plans
}

/// One statement of one kind of call, at its worst (the most rows visited for its bound).
struct Figure {
    what: String,
    query: String,
    visited: f64,
    about: usize,
    runs: usize,
}

impl Figure {
    fn bound(&self) -> f64 {
        bound(self.about)
    }
}

fn bound(about: usize) -> f64 {
    VISITED_PER_ROW * about as f64 + VISITED_ANYWAY
}

/// Per kind of call and statement, its worst plan.
fn figures(plans: &[Explained], calls: &[(String, About)]) -> Vec<Figure> {
    let mut worst: BTreeMap<(String, String), Figure> = BTreeMap::new();
    for plan in plans {
        let (what, about) = &calls[plan.call];
        let about = about
            .iter()
            .find(|(prefix, _)| plan.query.starts_with(prefix))
            .map_or(0, |&(_, rows)| rows);
        let figure = worst
            .entry((what.clone(), plan.query.clone()))
            .or_insert(Figure {
                what: what.clone(),
                query: plan.query.clone(),
                visited: 0.0,
                about,
                runs: 0,
            });
        figure.runs += 1;
        if plan.visited / bound(about) > figure.visited / figure.bound() {
            (figure.visited, figure.about) = (plan.visited, about);
        }
    }
    worst.into_values().collect()
}

/// Turns on `auto_explain` with ANALYZE for every new session, and autovacuum off: the
/// statistics stay those of the earlier batch, as at the start of a new batch, the case in
/// which the planner guesses one row for the new batch. Every statement must stay bounded
/// whatever the statistics.
fn explain_everything(pg: &Postgres) {
    let mut session = pg.session();
    {
        use std::io::Write;
        let mut stdin = session.stdin.take().unwrap();
        stdin
            .write_all(
                b"LOAD 'auto_explain';
ALTER SYSTEM SET session_preload_libraries = 'auto_explain';
ALTER SYSTEM SET auto_explain.log_min_duration = 0;
ALTER SYSTEM SET auto_explain.log_analyze = on;
ALTER SYSTEM SET auto_explain.log_timing = off;
ALTER SYSTEM SET auto_explain.log_format = 'json';
ALTER SYSTEM SET auto_explain.log_nested_statements = off;
ALTER SYSTEM SET autovacuum = off;
SELECT pg_reload_conf();
",
            )
            .unwrap();
    }
    assert!(session.wait().unwrap().success(), "{}", pg.log());
}

fn input_names(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("scans/{n:05}.pdf")).collect()
}

/// The database as earlier batches leave it: `EARLIER` inputs of batch `earlier`, two thirds
/// completed with a task id and an output, a sixth submitted and leased to a live worker, the
/// rest queued; statistics up to date.
fn earlier_batch(pg: &Postgres) {
    let mut earlier = pg.journal("earlier", "earlier-worker");
    let names = input_names(EARLIER);
    for chunk in names.chunks(CHUNK) {
        earlier
            .register(&new_inputs(chunk, "earlier-content"), None)
            .unwrap();
    }
    pg.sql(
        "UPDATE ocrcloud_inputs SET state = 'completed', task_id = 'earlier-task-' || id, \
                submitted_at = now(), submissions = 1, outputs = ARRAY[input || '.txt'], \
                started_at = now(), finished_at = now() \
          WHERE batch = 'earlier' AND id % 3 <> 0",
    );
    pg.sql(
        "UPDATE ocrcloud_inputs SET state = 'submitted', task_id = 'earlier-task-' || id, \
                submitted_at = now(), submissions = 1, lease_owner = 'earlier-worker', \
                lease_token = 1, lease_until = now() + interval '1 hour' \
          WHERE batch = 'earlier' AND id % 6 = 0",
    );
    pg.sql(
        "INSERT INTO ocrcloud_outputs (batch, path, input) \
         SELECT batch, input || '.txt', id FROM ocrcloud_inputs \
          WHERE batch = 'earlier' AND state = 'completed'",
    );
    pg.sql("ANALYZE");
}

/// One worker of the batch under test, as the library's threads use the journal.
struct Worker {
    journal: Journal,
    claims: Vec<Claim>,
}

impl Worker {
    /// Takes one claimed input from its intent to submit to its completion, as
    /// src/batch/shared/worker.rs does: or fails it, when `fail`.
    fn work_through(&mut self, calls: &mut Calls, claim: &Claim, fail: bool) {
        let journal = &mut self.journal;
        calls.run("fenced: submitting", 1, || {
            assert!(
                journal
                    .fenced(
                        claim,
                        "state = 'submitting', submissions = $5, possible_duplicates = $6, \
                         task_id = NULL, submitted_at = NULL, code = NULL, message = NULL",
                        &[&1i32, &0i32],
                        None,
                    )
                    .unwrap()
            )
        });
        let task_id = format!("task-of-{}", claim.id);
        let holder = calls.run("task_holder", 1, || {
            journal.task_holder(&task_id, claim.id).unwrap()
        });
        assert_eq!(holder, None);
        calls.run("fenced: submitted", 1, || {
            assert!(
                journal
                    .fenced(
                        claim,
                        "state = 'submitted', task_id = $5, submitted_at = now()",
                        &[&task_id],
                        None,
                    )
                    .unwrap()
            )
        });
        if fail {
            calls.run("fenced: failed", 1, || {
                assert!(
                    journal
                        .fenced(
                            claim,
                            "state = 'failed', code = $5, message = $6, finished_at = now(), \
                             possible_duplicates = $7, lease_owner = NULL, lease_until = NULL",
                            &[&7i32, &"the service failed the task", &0i32],
                            None,
                        )
                        .unwrap()
                )
            });
            return;
        }
        let names = vec![format!("{}.txt", claim.input)];
        let owner = calls.run("output_owner", 1, || {
            journal.output_owner(&names[0]).unwrap()
        });
        assert_eq!(owner, None);
        calls.run("claim_outputs", names.len() + 1, || {
            assert!(journal.claim_outputs(claim, &names, LEASE, None).unwrap())
        });
        calls.run("fenced: completed", 1, || {
            assert!(
                journal
                    .fenced(
                        claim,
                        "state = 'completed', outputs = $5, finished_at = now(), \
                         code = NULL, message = NULL, lease_owner = NULL, lease_until = NULL",
                        &[&names],
                        None,
                    )
                    .unwrap()
            )
        });
    }

    /// Gives a claim back, as a worker that cannot take it on does.
    fn release(&mut self, calls: &mut Calls, claim: &Claim) {
        let journal = &mut self.journal;
        calls.run("fenced: release", 1, || {
            assert!(
                journal
                    .fenced(claim, "lease_owner = NULL, lease_until = NULL", &[], None)
                    .unwrap()
            )
        });
    }
}

/// One round of work by `workers` on the registered batch, in which `failed` inputs had failed
/// before: each worker's threads claim one input at a time, taking turns, until
/// `claims` per worker are leased; each worker takes `WORKED` through to the end (one in ten
/// failed), gives back all but `HELD` of the others and counts what remains; one reads the
/// records; each worker's heartbeat beats; `--status`; each worker says goodbye. Answers how
/// many inputs have failed.
fn round(
    pg: &Postgres,
    calls: &mut Calls,
    workers: &mut [Worker],
    claims: usize,
    failed: usize,
) -> usize {
    for _ in 0..claims {
        for worker in workers.iter_mut() {
            let journal = &mut worker.journal;
            let claimed = calls.run("claim", 1, || journal.claim(1, LEASE, None).unwrap());
            assert_eq!(claimed.len(), 1);
            worker.claims.extend(claimed);
        }
    }
    for worker in workers.iter_mut() {
        let claims = std::mem::take(&mut worker.claims);
        for (n, claim) in claims[..WORKED].iter().enumerate() {
            worker.work_through(calls, claim, n % 10 == 9);
        }
        for claim in &claims[WORKED..claims.len() - HELD] {
            worker.release(calls, claim);
        }
        worker.claims = claims[claims.len() - HELD..].to_vec();
        let journal = &mut worker.journal;
        calls.run_then(
            "remaining",
            || journal.remaining(&[], None).unwrap(),
            |&count| all(count as usize),
        );
    }
    let failed = failed + workers.len() * WORKED / 10;
    let journal = &mut workers[0].journal;
    calls.run_then(
        "records",
        || journal.records(None).unwrap(),
        |records| all(records.len()),
    );

    // The heartbeat of each worker: a beat renews its `HELD` leases, the goodbye gives them
    // back (about them, the worker's row and the others').
    let client = Client::new(Some("http://127.0.0.1:9"), Auth::None).unwrap();
    let helds: Vec<Mutex<Vec<i64>>> = workers
        .iter()
        .map(|w| Mutex::new(w.claims.iter().map(|c| c.id).collect()))
        .collect();
    let target = Target::parse(&pg.url).unwrap();
    let mut hearts: Vec<Heart> = workers
        .iter()
        .zip(&helds)
        .map(|(worker, held)| Heart {
            link: Link::new(target.clone()),
            batch: "current",
            owner: &worker.journal.owner,
            jobs: 4,
            lease: LEASE,
            client: &client,
            held,
        })
        .collect();
    let about_beat = HELD + workers.len();
    // The goodbye gives back the worker's leases found among the batch's inputs not yet
    // due, which are at most every lease taken in the batch: bounded by the inputs in
    // flight, not by the batch.
    let about_goodbye = claims * workers.len() + workers.len();
    for heart in &mut hearts {
        calls.run("heartbeat: beat", about_beat, || {
            heart.beat(false, None).unwrap()
        });
    }

    // `--status`: the counts are about the whole batch; the workers' line about the workers
    // and the leases it counts; the list of failures about the failed inputs.
    let shown = calls.run_then(
        "status",
        || status::status(&pg.url, "current").unwrap(),
        |status| {
            let leases: i64 = status.workers.iter().map(|w| w.leases).sum();
            vec![
                ("SELECT state, count(*)", INPUTS),
                ("SELECT w.worker", leases as usize + status.workers.len()),
                // The list of failures reads the batch once, as the counts do: `--status` is
                // run by a person now and then, not per input.
                ("SELECT input, code", INPUTS),
                ("", 1),
            ]
        },
    );
    assert_eq!(
        shown.counts.iter().map(|(_, n)| n).sum::<i64>(),
        INPUTS as i64
    );
    assert_eq!(shown.workers.len(), workers.len());
    assert_eq!(shown.failed.len(), failed);

    let stop = AtomicBool::new(true);
    for heart in &mut hearts {
        calls.run("heartbeat: goodbye", about_goodbye, || {
            heart.beat_until(&stop, None)
        });
    }
    drop(hearts);
    for worker in workers {
        worker.claims.clear();
    }
    failed
}

/// The figures of every statement of the shared journal, driven through a batch of `INPUTS`
/// inputs in a database that holds an earlier batch of `EARLIER`: registering in chunks (new,
/// unchanged and changed inputs), claiming one input at a time while hundreds are leased, the
/// fenced writes of a submission and of a failure, the task-id check, the output names,
/// counting what remains, reading the batch, the heartbeat (a beat and the goodbye), and
/// `--status`; first with the statistics of the earlier batch only, then with fresh ones.
fn run_a_batch() -> Vec<Figure> {
    let pg = Postgres::start();
    explain_everything(&pg);
    earlier_batch(&pg);
    let target = Target::parse(&pg.url).unwrap();
    let mut calls = Calls {
        marks: Pool::new(target.clone(), 1),
        calls: Vec::new(),
        phase: "",
    };
    let [first, second, mut third] = ["worker-a", "worker-b", "worker-c"].map(|owner| Worker {
        journal: pg.journal("current", owner),
        claims: Vec::new(),
    });
    let mut workers = [first, second];

    // Both workers register every input, as each worker process does at its start: the
    // first in the library's chunks, the second in small ones (a statement that reads the
    // whole batch shows against a small chunk); then the second finds a few inputs changed.
    // Until the statistics know the new batch (a worker runs ANALYZE once it has registered),
    // the planner takes it for a row or two, and a chunk's statement may read the batch once:
    // about the chunk and the batch, not the chunk times the batch, as a join of each input
    // against the whole batch did.
    let names = input_names(INPUTS);
    for (worker, chunk_size) in workers.iter_mut().zip([CHUNK, SMALL_CHUNK]) {
        for chunk in names.chunks(chunk_size) {
            let inputs = new_inputs(chunk, "content");
            let records = calls.run("register", chunk.len() + INPUTS, || {
                worker.journal.register(&inputs, None).unwrap()
            });
            assert_eq!(records.len(), chunk.len());
        }
    }

    let failed = round(&pg, &mut calls, &mut workers, CLAIMS, 0);

    // Then the statistics catch up (autovacuum, or the library's own ANALYZE), the plans
    // change, and they must stay as bounded: a third worker joins and registers every input,
    // and the three work a shorter round.
    calls.phase = ", statistics fresh";
    workers[0].journal.refresh_statistics(None).unwrap();
    let mut changed = new_inputs(&names[..CHUNK], "content");
    for input in changed.iter_mut().step_by(50) {
        input.sha256 = "changed content";
    }
    calls.run("register (some changed)", CHUNK, || {
        workers[1].journal.register(&changed, None).unwrap()
    });
    for chunk in names.chunks(CHUNK) {
        let inputs = new_inputs(chunk, "content");
        calls.run("register", chunk.len(), || {
            third.journal.register(&inputs, None).unwrap()
        });
    }
    let [first, second] = workers;
    round(
        &pg,
        &mut calls,
        &mut [first, second, third],
        FRESH_CLAIMS,
        failed,
    );

    let plans = explained(&pg.log(), calls.calls.len());
    let explained_calls: HashSet<usize> = plans.iter().map(|p| p.call).collect();
    assert_eq!(
        explained_calls.len(),
        calls.calls.len(),
        "the server's log holds statements of every call"
    );
    figures(&plans, &calls.calls)
}

/// Every statement of the shared journal, of a worker and of `ocrcloud batch --status`,
/// visits at most `VISITED_PER_ROW` rows per row it is about plus `VISITED_ANYWAY`: none reads
/// its batch, or another batch, to find the few rows it is about. Fails naming each statement
/// over its bound, with the figures of every statement (also printed).
#[test]
fn no_statement_visits_rows_in_proportion_to_its_batch() {
    let figures = run_a_batch();
    let mut table = String::new();
    let mut over = 0;
    for figure in &figures {
        let beyond = figure.visited > figure.bound();
        over += usize::from(beyond);
        table += &format!(
            "{} {}: visited {} rows about {} (bound {}, {:.1}x), worst of {} runs of: {}\n",
            if beyond { "OVER" } else { "ok  " },
            figure.what,
            figure.visited,
            figure.about,
            figure.bound(),
            figure.visited / figure.bound(),
            figure.runs,
            figure.query.chars().take(160).collect::<String>()
        );
    }
    eprint!("{table}");
    assert!(
        over == 0,
        "{over} statements visit more rows than they are about ({INPUTS} inputs in this batch, \
         {EARLIER} in another):\n{table}"
    );
}
