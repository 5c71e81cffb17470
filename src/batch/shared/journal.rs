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

/// The states in which an input still has work (and may be claimed).
const LIVE: &str = "('queued', 'submitting', 'submitted')";

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

    /// Registers inputs in one transaction: new ones queued (or failed, if unusable), changed
    /// ones (content, operation or settings) queued again from the start with their lease
    /// taken away, the others left as they are (a file this host cannot read may be readable
    /// on another, and a failed input stays failed: workers that join late change nothing).
    /// Answers each input's record.
    pub fn register(
        &mut self,
        inputs: &[NewInput],
        cancel: Option<&Cancel>,
    ) -> Result<Vec<Record>> {
        let batch = self.batch.clone();
        self.pool.with("cannot register inputs in", cancel, |c| {
            let mut tx = c.transaction()?;
            let upsert = tx.prepare(&format!(
                "INSERT INTO ocrcloud_inputs AS i (batch, input, sha256, size, operation, \
                     settings_sha256, stem, state, code, message, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, \
                     CASE WHEN $8::int IS NULL THEN 'queued' ELSE 'failed' END, $8, $9, \
                     CASE WHEN $8::int IS NULL THEN NULL ELSE now() END) \
                 ON CONFLICT (batch, input) DO UPDATE SET sha256 = $3, size = $4, \
                     operation = $5, settings_sha256 = $6, stem = $7, \
                     state = EXCLUDED.state, code = $8, message = $9, \
                     finished_at = EXCLUDED.finished_at, task_id = NULL, submitted_at = NULL, \
                     submissions = 0, not_before = now(), lease_owner = NULL, \
                     lease_token = i.lease_token + 1, lease_until = NULL, started_at = NULL \
                   WHERE $8::int IS NULL AND (i.sha256, i.operation, i.settings_sha256) \
                         IS DISTINCT FROM ($3, $5, $6) \
                 RETURNING {RECORD}"
            ))?;
            let select = tx.prepare(&format!(
                "SELECT {RECORD} FROM ocrcloud_inputs WHERE batch = $1 AND input = $2"
            ))?;
            let mut records = Vec::with_capacity(inputs.len());
            for new in inputs {
                let (code, message) = match new.unusable {
                    Some((code, message)) => (Some(code), Some(message)),
                    None => (None, None),
                };
                let changed = tx.query_opt(
                    &upsert,
                    &[
                        &batch,
                        &new.input,
                        &new.sha256,
                        &new.size,
                        &new.operation,
                        &new.settings_sha256,
                        &new.stem,
                        &code,
                        &message,
                    ],
                )?;
                let row = match changed {
                    Some(row) => row,
                    None => tx.query_one(&select, &[&batch, &new.input])?,
                };
                records.push(record(&row));
            }
            tx.commit()?;
            Ok(std::mem::take(&mut records))
        })
    }

    /// Leases up to `limit` due inputs to this worker for `lease` (by the database's clock).
    /// Rows another transaction is claiming are skipped, not waited for; an input whose lease
    /// has not expired is never claimed, whatever its state.
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
                    "WITH due AS MATERIALIZED ( \
                       SELECT batch, input FROM ocrcloud_inputs \
                        WHERE batch = $1 AND state IN {LIVE} AND not_before <= now() \
                          AND (lease_until IS NULL OR lease_until < now()) \
                        ORDER BY not_before, input LIMIT $4 FOR UPDATE SKIP LOCKED) \
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
            let mut tx = c.transaction()?;
            let held = tx.execute(
                "UPDATE ocrcloud_inputs SET lease_until = now() + make_interval(secs => $5) \
                  WHERE batch = $1 AND input = $2 AND lease_owner = $3 AND lease_token = $4",
                &[&batch, &claim.input, &owner, &claim.token, &seconds],
            )?;
            if held != 1 {
                return Ok(false);
            }
            for name in names {
                tx.execute(
                    "INSERT INTO ocrcloud_outputs (batch, path, input) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                    &[&batch, name, &claim.id],
                )?;
            }
            tx.commit()?;
            Ok(true)
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
            Ok(c.query_opt(
                "SELECT input FROM ocrcloud_inputs \
                  WHERE batch = $1 AND task_id = $2 AND id <> $3 LIMIT 1",
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
        let read = |c: &mut super::connection::Client| {
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
