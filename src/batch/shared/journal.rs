//! The shared journal's statements: registering inputs, claiming them under a lease, and the
//! writes fenced by that lease (owner and token), each one short transaction that never spans
//! an HTTP request.

use super::db::Pool;
use crate::batch::State;
use crate::cancel::Cancel;
use crate::error::Result;
use postgres::Row as PgRow;
use std::sync::Arc;
use std::time::Duration;

/// How long `Journal::refresh_statistics` waits for another session's hold on the table.
const ANALYZE_WAIT: Duration = Duration::from_secs(1);
/// The states in which an input still has work (and may be claimed).
pub(crate) const LIVE: &str = "('queued', 'submitting', 'submitted')";

/// An input as a worker registers it.
pub struct NewInput<'a> {
    /// Its path relative to the INPUT root.
    pub input: &'a str,
    pub sha256: &'a str,
    pub size: i64,
    pub operation: &'a str,
    pub settings_sha256: &'a str,
    pub stem: &'a str,
    /// Why it cannot be submitted (then it is registered failed): code and message.
    pub unusable: Option<(i32, &'a str)>,
}

/// What a claim gives a worker: the input, where it is, and the lease.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    pub input: String,
    pub state: State,
    pub task_id: Option<String>,
    /// Seconds since the task id was recorded, by the database's clock.
    pub task_age: Option<f64>,
    pub submissions: i32,
    pub possible_duplicates: i32,
    /// The lease token: every later write of this worker carries it.
    pub token: i64,
}

/// What the journal holds about one input, for the accessors and `--status`.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: i64,
    pub input: String,
    pub state: State,
    pub task_id: Option<String>,
    pub outputs: Vec<String>,
    pub code: Option<i32>,
    pub message: Option<String>,
    pub submissions: i32,
    pub possible_duplicates: i32,
    pub seconds: Option<f64>,
}

/// One batch of the shared journal, seen by one worker (`owner`).
pub struct Journal {
    pub pool: Arc<Pool>,
    pub batch: String,
    pub owner: String,
}

fn state(text: &str) -> State {
    State::from_name(text).unwrap_or(State::Queued)
}

fn record(r: &PgRow) -> Record {
    Record {
        id: r.get(0),
        input: r.get(1),
        state: state(r.get(2)),
        task_id: r.get(3),
        outputs: r.get(4),
        code: r.get(5),
        message: r.get(6),
        submissions: r.get(7),
        possible_duplicates: r.get(8),
        seconds: r.get(9),
    }
}

const RECORD: &str = "id, input, state, task_id, outputs, code, message, submissions, \
    possible_duplicates, extract(epoch FROM finished_at - started_at)::float8";

impl Journal {
    /// Creates the batch's row if it is new.
    pub fn create_batch(&mut self) -> Result<()> {
        let batch = self.batch.clone();
        let patience = super::db::OPEN_PATIENCE;
        self.pool
            .with_patience("cannot create the batch in", patience, |c| {
                c.execute(
                    "INSERT INTO ocrcloud_batches (name) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&batch],
                )
                .map(drop)
            })
    }

    /// Registers inputs: new ones queued (or failed, if unusable), changed ones (content,
    /// operation or settings) queued again from the start with their lease taken away, the
    /// others left as they are (a file this host cannot read may be readable on another, and a
    /// failed input stays failed: workers that join late change nothing). A changed input
    /// caught during a submission (`submitting`), or with a task still to poll, counts one
    /// possible duplicate: that task was billed, and the input is submitted again.
    /// Answers each input's record, in the order of `inputs`.
    ///
    /// Two statements, each its own transaction, that lock no row but the new and the changed
    /// ones: workers that start together with the same inputs do not take turns.
    pub fn register(
        &mut self,
        inputs: &[NewInput],
        cancel: Option<&Cancel>,
    ) -> Result<Vec<Record>> {
        let batch = self.batch.clone();
        let names: Vec<&str> = inputs.iter().map(|n| n.input).collect();
        let hashes: Vec<&str> = inputs.iter().map(|n| n.sha256).collect();
        let operations: Vec<&str> = inputs.iter().map(|n| n.operation).collect();
        let settings: Vec<&str> = inputs.iter().map(|n| n.settings_sha256).collect();
        let stems: Vec<&str> = inputs.iter().map(|n| n.stem).collect();
        let messages: Vec<Option<&str>> = inputs.iter().map(|n| n.unusable.map(|u| u.1)).collect();
        let sizes: Vec<i64> = inputs.iter().map(|n| n.size).collect();
        let codes: Vec<Option<i32>> = inputs.iter().map(|n| n.unusable.map(|(c, _)| c)).collect();
        self.pool
            .with("cannot register inputs in", cancel, |c| {
                // New rows inserted, changed rows updated: one statement, so one transaction. The
                // UPDATE sees the table as it was before the INSERT, so it never touches a row
                // this statement inserted; an unchanged row is neither written nor locked. Its
                // rows are found by their key (`input = ANY($2)`): joined on `given` alone, a
                // batch the planner's statistics did not know yet was read whole per chunk.
                c.execute(
                    "WITH given AS ( \
                   SELECT * FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[], \
                          $6::text[], $7::text[], $8::int4[], $9::text[]) \
                     AS g(input, sha256, size, operation, settings_sha256, stem, code, message)), \
                 added AS ( \
                   INSERT INTO ocrcloud_inputs (batch, input, sha256, size, operation, \
                          settings_sha256, stem, state, code, message, finished_at) \
                   SELECT $1, input, sha256, size, operation, settings_sha256, stem, \
                          CASE WHEN code IS NULL THEN 'queued' ELSE 'failed' END, code, message, \
                          CASE WHEN code IS NULL THEN NULL ELSE now() END \
                     FROM given ORDER BY input \
                   ON CONFLICT DO NOTHING) \
                 UPDATE ocrcloud_inputs i SET sha256 = g.sha256, size = g.size, \
                        operation = g.operation, settings_sha256 = g.settings_sha256, \
                        stem = g.stem, state = 'queued', code = NULL, message = NULL, \
                        finished_at = NULL, task_id = NULL, submitted_at = NULL, \
                        submissions = 0, not_before = now(), lease_owner = NULL, \
                        lease_token = i.lease_token + 1, lease_until = NULL, started_at = NULL, \
                        possible_duplicates = i.possible_duplicates + CASE \
                          WHEN i.state = 'submitting' \
                            OR (i.state = 'submitted' AND i.task_id IS NOT NULL) THEN 1 \
                          ELSE 0 END \
                   FROM given g \
                  WHERE i.batch = $1 AND i.input = ANY($2) AND i.input = g.input \
                    AND g.code IS NULL \
                    AND (i.sha256, i.operation, i.settings_sha256) \
                        IS DISTINCT FROM (g.sha256, g.operation, g.settings_sha256)",
                    &[
                        &batch,
                        &names,
                        &hashes,
                        &sizes,
                        &operations,
                        &settings,
                        &stems,
                        &codes,
                        &messages,
                    ],
                )?;
                c.query(
                    &format!(
                        "SELECT {RECORD} FROM ocrcloud_inputs WHERE batch = $1 AND input = ANY($2)"
                    ),
                    &[&batch, &names],
                )
            })
            .and_then(|rows| {
                let mut by_input: std::collections::HashMap<String, Record> = rows
                    .iter()
                    .map(record)
                    .map(|r| (r.input.clone(), r))
                    .collect();
                inputs
                    .iter()
                    .map(|n| {
                        by_input.remove(n.input).ok_or_else(|| {
                            crate::error::Error::new(
                                crate::error::Code::Io,
                                format!("the shared journal lost the input {}", n.input),
                            )
                        })
                    })
                    .collect()
            })
    }

    /// Brings the planner's statistics of the inputs up to date, after a registration: until
    /// they count a new batch's rows, the planner takes the batch for a few rows and may read
    /// all of it where its key or its due index would find one. Best effort: a role that does
    /// not own the table is only warned, and when another session holds the table (a vacuum
    /// that does not yield, another worker's ANALYZE) for `ANALYZE_WAIT`, the statistics are
    /// left to the server's autovacuum rather than waited for.
    pub fn refresh_statistics(&mut self, cancel: Option<&Cancel>) -> Result<()> {
        self.pool
            .with("cannot update the statistics of", cancel, |c| {
                let mut tx = c.transaction()?;
                tx.batch_execute(&format!(
                    "SET LOCAL lock_timeout = {}",
                    ANALYZE_WAIT.as_millis()
                ))?;
                match tx.batch_execute("ANALYZE ocrcloud_inputs") {
                    Err(e) if super::db::waited_on_a_lock(&e) => Ok(()),
                    analyzed => analyzed.and_then(|()| tx.commit()),
                }
            })
    }

    /// Leases up to `limit` due inputs to this worker for `lease` (by the database's clock):
    /// first those whose lease ran out (a dead worker's, maybe with a task to poll), then the
    /// others in the order they fall due. Ordered by the end of their lease among the others,
    /// a dead worker's inputs would wait behind every input queued before it. (Each part is
    /// limited to `limit` by a number the planner knows, so it reaches the rows by their key;
    /// the few rows of the second part it does not lease are only locked until it ends.) Rows
    /// another transaction is claiming are skipped, not waited for; an input whose lease has
    /// not expired is never claimed, whatever its state.
    pub fn claim(
        &mut self,
        limit: i64,
        lease: Duration,
        cancel: Option<&Cancel>,
    ) -> Result<Vec<Claim>> {
        let (batch, owner) = (self.batch.clone(), self.owner.clone());
        let seconds = lease.as_secs_f64();
        self.pool.with("cannot claim inputs in", cancel, |c| {
            let rows = c.query(
                &format!(
                    "WITH taken AS MATERIALIZED ( \
                       SELECT batch, input FROM ocrcloud_inputs \
                        WHERE batch = $1 AND state IN {LIVE} AND lease_until < now() \
                          AND not_before <= now() \
                        ORDER BY lease_until, input LIMIT $4 FOR UPDATE SKIP LOCKED), \
                     queued AS MATERIALIZED ( \
                       SELECT batch, input FROM ocrcloud_inputs \
                        WHERE batch = $1 AND state IN {LIVE} AND lease_until IS NULL \
                          AND greatest(not_before, lease_until) <= now() \
                        ORDER BY greatest(not_before, lease_until), input \
                        LIMIT $4 FOR UPDATE SKIP LOCKED), \
                     due AS MATERIALIZED ( \
                       SELECT batch, input, 0 AS rank FROM taken \
                       UNION ALL SELECT batch, input, 1 FROM queued ORDER BY rank LIMIT $4) \
                     UPDATE ocrcloud_inputs i SET lease_owner = $2, \
                            lease_token = i.lease_token + 1, \
                            lease_until = now() + make_interval(secs => $3), \
                            started_at = coalesce(i.started_at, now()) \
                       FROM due WHERE (i.batch, i.input) = (due.batch, due.input) \
                     RETURNING i.id, i.input, i.state, i.task_id, \
                            extract(epoch FROM now() - i.submitted_at)::float8, \
                            i.submissions, i.lease_token, i.possible_duplicates"
                ),
                &[&batch, &owner, &seconds, &limit],
            )?;
            Ok(rows
                .iter()
                .map(|r| Claim {
                    id: r.get(0),
                    input: r.get(1),
                    state: state(r.get(2)),
                    task_id: r.get(3),
                    task_age: r.get(4),
                    submissions: r.get(5),
                    token: r.get(6),
                    possible_duplicates: r.get(7),
                })
                .collect())
        })
    }

    /// Runs one fenced `UPDATE ... SET <set>` on the claimed input: `false` when this worker's
    /// lease was taken (the token moved on), and nothing was written. `set` must write the
    /// same however often it runs (values, not increments): a statement whose answer was lost
    /// with the connection runs again.
    pub fn fenced(
        &mut self,
        claim: &Claim,
        set: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        cancel: Option<&Cancel>,
    ) -> Result<bool> {
        let statement = format!(
            "UPDATE ocrcloud_inputs SET {set} \
              WHERE batch = $1 AND input = $2 AND lease_owner = $3 AND lease_token = $4"
        );
        let (batch, owner) = (self.batch.clone(), self.owner.clone());
        let mut all: Vec<&(dyn postgres::types::ToSql + Sync)> =
            vec![&batch, &claim.input, &owner, &claim.token];
        all.extend_from_slice(params);
        self.pool.with("cannot write to", cancel, |c| {
            Ok(c.execute(&statement, &all)? == 1)
        })
    }

    /// Under the lease, records that `names` belong to the claimed input (a name another
    /// input holds stays its) and renews the lease: `false` when the lease was taken, and then
    /// nothing was recorded and nothing may be published.
    pub fn claim_outputs(
        &mut self,
        claim: &Claim,
        names: &[String],
        lease: Duration,
        cancel: Option<&Cancel>,
    ) -> Result<bool> {
        let (batch, owner) = (self.batch.clone(), self.owner.clone());
        let seconds = lease.as_secs_f64();
        self.pool.with("cannot write to", cancel, |c| {
            // One statement: the names are recorded only if the lease is still held.
            let held: i64 = c
                .query_one(
                    "WITH held AS ( \
                       UPDATE ocrcloud_inputs SET lease_until = now() + make_interval(secs => $5) \
                        WHERE batch = $1 AND input = $2 AND lease_owner = $3 AND lease_token = $4 \
                       RETURNING id), \
                     named AS ( \
                       INSERT INTO ocrcloud_outputs (batch, path, input) \
                       SELECT $1, name, held.id FROM held, unnest($6::text[]) AS name \
                       ON CONFLICT DO NOTHING) \
                     SELECT count(*) FROM held",
                    &[&batch, &claim.input, &owner, &claim.token, &seconds, &names],
                )?
                .get(0);
            Ok(held == 1)
        })
    }

    /// The input (its id) that holds output path `relative`, if one does.
    pub fn output_owner(&mut self, relative: &str) -> Result<Option<i64>> {
        let batch = self.batch.clone();
        self.pool.with("cannot read", None, |c| {
            Ok(c.query_opt(
                "SELECT input FROM ocrcloud_outputs WHERE batch = $1 AND path = $2",
                &[&batch, &relative],
            )?
            .map(|r| r.get(0)))
        })
    }

    /// The input other than `id` of this batch that holds task `task_id`, if one does.
    pub fn task_holder(&mut self, task_id: &str, id: i64) -> Result<Option<String>> {
        let batch = self.batch.clone();
        self.pool.with("cannot read", None, |c| {
            // The rows of that task id first (`OFFSET 0` keeps the subquery apart), then the
            // batch: given `batch = $1` with it, a planner that takes a new batch for a row
            // or two reads the whole batch by its key instead.
            Ok(c.query_opt(
                "SELECT input FROM (SELECT input, batch, id FROM ocrcloud_inputs \
                                     WHERE task_id = $2 OFFSET 0) t \
                  WHERE batch = $1 AND id <> $3 LIMIT 1",
                &[&batch, &task_id, &id],
            )?
            .map(|r| r.get(0)))
        })
    }

    /// How many inputs still have work, leaving out `unknown` (inputs this worker cannot read).
    pub fn remaining(&mut self, unknown: &[String], cancel: Option<&Cancel>) -> Result<i64> {
        let batch = self.batch.clone();
        self.pool.with("cannot read", cancel, |c| {
            Ok(c.query_one(
                &format!(
                    "SELECT count(*) FROM ocrcloud_inputs \
                      WHERE batch = $1 AND state IN {LIVE} AND NOT (input = ANY($2))"
                ),
                &[&batch, &unknown],
            )?
            .get(0))
        })
    }

    /// Every input of the batch, in name order; waiting for the database at most `patience`
    /// (`None`: until it answers).
    pub fn records(&mut self, patience: Option<Duration>) -> Result<Vec<Record>> {
        let batch = self.batch.clone();
        let read = |c: &mut super::connection::Session<'_>| {
            Ok(c.query(
                &format!("SELECT {RECORD} FROM ocrcloud_inputs WHERE batch = $1 ORDER BY input"),
                &[&batch],
            )?
            .iter()
            .map(record)
            .collect())
        };
        match patience {
            Some(patience) => self.pool.with_patience("cannot read", patience, read),
            None => self.pool.with("cannot read", None, read),
        }
    }
}
