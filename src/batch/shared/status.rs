//! What a shared batch looks like from anywhere: counts per state, live workers, failed inputs.
//! Reads only: it creates nothing in the database.

use super::db::Target;
use super::heartbeat::dead_after_seconds;
use super::journal::LIVE;
use crate::batch::State;
use crate::error::{Code, Error, Result};

/// A live worker of the batch.
#[derive(Debug, Clone)]
pub struct Worker {
    pub worker: String,
    pub host: String,
    pub pid: i64,
    pub jobs: i32,
    /// Seconds since its last heartbeat.
    pub seen_ago: f64,
    /// Inputs it holds a lease on.
    pub leases: i64,
}

/// A failed input.
#[derive(Debug, Clone)]
pub struct Failed {
    pub input: String,
    pub code: Option<i32>,
    pub message: String,
}

/// The state of one shared batch.
#[derive(Debug, Clone)]
pub struct Status {
    /// Every state with its count, in numeric order.
    pub counts: Vec<(State, i64)>,
    pub possible_duplicates: i64,
    pub workers: Vec<Worker>,
    pub failed: Vec<Failed>,
}

/// Reads batch `name` of the shared journal at `url`. A database without the schema, or
/// without that batch, is an error that says so; a newer schema is refused.
pub fn status(url: &str, name: &str) -> Result<Status> {
    let target = Target::parse(url)?;
    let mut client = target.connect()?;
    let read = |e: super::connection::Failure| target.error("cannot read", &e);
    let has_schema: bool = client
        .query_one("SELECT to_regclass('ocrcloud_schema') IS NOT NULL", &[])
        .map_err(read)?
        .get(0);
    let schema: Option<i32> = match has_schema {
        true => client
            .query_opt("SELECT version FROM ocrcloud_schema", &[])
            .map_err(read)?
            .map(|r| r.get(0)),
        false => None,
    };
    let missing = || {
        Error::new(
            Code::InvalidArgument,
            format!("shared journal {}: no batch named {name}", target.shown()),
        )
    };
    let version = schema.ok_or_else(missing)?;
    if version > super::db::SCHEMA_VERSION {
        return Err(Error::new(
            Code::InvalidArgument,
            format!(
                "shared journal {} has schema version {version}, newer than this library's {}: \
                 use a newer ocrcloud",
                target.shown(),
                super::db::SCHEMA_VERSION
            ),
        ));
    }
    let exists = client
        .query_opt("SELECT 1 FROM ocrcloud_batches WHERE name = $1", &[&name])
        .map_err(read)?;
    exists.ok_or_else(missing)?;
    let rows = client
        .query(
            "SELECT state, count(*), sum(possible_duplicates)::bigint FROM ocrcloud_inputs \
              WHERE batch = $1 GROUP BY state",
            &[&name],
        )
        .map_err(read)?;
    let counts = State::ALL
        .iter()
        .map(|state| {
            let n = rows
                .iter()
                .find(|r| r.get::<_, &str>(0) == state.name())
                .map_or(0, |r| r.get(1));
            (*state, n)
        })
        .collect();
    let possible_duplicates = rows.iter().map(|r| r.get::<_, i64>(2)).sum();
    let workers = client
        .query(
            &format!(
                // The leases are counted in one pass over the inputs not yet due (through
                // the claims' index), not once per worker over the whole batch.
                "SELECT w.worker, w.host, w.pid, w.jobs, \
                        extract(epoch FROM now() - w.seen_at)::float8, \
                        coalesce(l.leases, 0) \
                   FROM ocrcloud_workers w \
                   LEFT JOIN (SELECT lease_owner, count(*) AS leases FROM ocrcloud_inputs \
                               WHERE batch = $1 AND state IN {LIVE} \
                                 AND greatest(not_before, lease_until) > now() \
                                 AND lease_until > now() \
                               GROUP BY lease_owner) l ON l.lease_owner = w.worker \
                  WHERE w.batch = $1 AND w.seen_at > now() - make_interval(secs => $2) \
                  ORDER BY w.host, w.pid"
            ),
            &[&name, &dead_after_seconds()],
        )
        .map_err(read)?
        .iter()
        .map(|r| Worker {
            worker: r.get(0),
            host: r.get(1),
            pid: r.get(2),
            jobs: r.get(3),
            seen_ago: r.get(4),
            leases: r.get(5),
        })
        .collect();
    let failed = client
        .query(
            "SELECT input, code, coalesce(message, '') FROM ocrcloud_inputs \
              WHERE batch = $1 AND state = 'failed' ORDER BY input",
            &[&name],
        )
        .map_err(read)?
        .iter()
        .map(|r| Failed {
            input: r.get(0),
            code: r.get(1),
            message: crate::secrets::redact(r.get(2)),
        })
        .collect();
    Ok(Status {
        counts,
        possible_duplicates,
        workers,
        failed,
    })
}
