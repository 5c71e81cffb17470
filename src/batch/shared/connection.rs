//! One blocking connection to the shared journal's database, each of its requests bounded by a
//! deadline on this side. A server that stops answering (stopped with SIGSTOP, frozen, or behind a
//! relay that stopped forwarding while the kernel still acknowledges every byte) is seen by
//! neither TCP keepalives nor `tcp_user_timeout`, and `statement_timeout` runs on the server: only
//! a clock here ends the wait. After [`Failure::NoAnswer`] the connection is dropped and every
//! later request fails at once: the caller connects again.
//!
//! The `postgres` crate's blocking client cannot bound a request (its socket is hidden, and a
//! connection without TLS never passes through a connector that could wrap it), so this drives
//! `tokio-postgres` on a runtime of its own, as that crate does, and races each request against a
//! timer. The methods are the subset of `postgres::Client` and `postgres::Transaction` that the
//! journal uses, with the same signatures apart from the error.

use postgres::types::ToSql;
use postgres::{Row, Statement};
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Socket, ToStatement};

/// Why a request to the database failed.
#[derive(Debug)]
pub enum Failure {
    /// What the driver or the database said.
    Database(postgres::Error),
    /// Nothing came back within this time (the connect, or one request): the connection is gone.
    NoAnswer(Duration),
    /// The runtime that drives the connection could not start (no file descriptors left, say).
    Runtime(std::io::Error),
    /// The caller's stop check said stop while it waited (a cancel): the connection is gone.
    Stopped,
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Database(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Database(e) => write!(f, "{e}"),
            Failure::NoAnswer(limit) => write!(
                f,
                "no answer within {} s (the server stopped, or the network to it)",
                limit.as_secs_f64()
            ),
            Failure::Runtime(e) => write!(f, "cannot start a connection: {e}"),
            Failure::Stopped => write!(f, "stopped while waiting for the database"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The sentence above already holds the driver's error and the runtime's.
            Failure::Database(e) => std::error::Error::source(e),
            Failure::Runtime(_) | Failure::NoAnswer(_) | Failure::Stopped => None,
        }
    }
}

impl Failure {
    /// The driver's error, if this is one.
    pub fn database(&self) -> Option<&postgres::Error> {
        match self {
            Failure::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// The connection's task, run whenever a request of this connection is waited for.
type Driver = Pin<Box<dyn Future<Output = Result<(), postgres::Error>> + Send>>;

/// The runtime and the connection's task: what waits for an answer.
struct Io {
    runtime: tokio::runtime::Runtime,
    /// `None` once the connection ended (an error, the server closed it, no answer in time).
    connection: Option<Driver>,
    /// How long one request may wait for its answer.
    deadline: Duration,
}

impl Io {
    /// Waits for `request`, driving the connection meanwhile, for at most the deadline, and
    /// until `stop` says stop (asked every [`STOP_CHECK`]).
    fn run<T>(
        &mut self,
        stop: &dyn Fn() -> bool,
        request: impl Future<Output = Result<T, postgres::Error>>,
    ) -> Result<T, Failure> {
        let Io {
            runtime,
            connection,
            deadline,
        } = self;
        let limit = *deadline;
        let outcome = runtime.block_on(async {
            let mut request = pin!(request);
            let mut timer = pin!(tokio::time::sleep(limit));
            let mut check = tokio::time::interval(STOP_CHECK);
            std::future::poll_fn(|cx| {
                if let Some(driver) = connection.as_mut() {
                    match driver.as_mut().poll(cx) {
                        Poll::Pending => {}
                        // The request, whose answer can no longer come, fails as closed below.
                        Poll::Ready(Ok(())) => *connection = None,
                        Poll::Ready(Err(e)) => {
                            *connection = None;
                            return Poll::Ready(Err(Failure::Database(e)));
                        }
                    }
                }
                if let Poll::Ready(outcome) = request.as_mut().poll(cx) {
                    return Poll::Ready(outcome.map_err(Failure::Database));
                }
                if let Poll::Ready(()) = timer.as_mut().poll(cx) {
                    return Poll::Ready(Err(Failure::NoAnswer(limit)));
                }
                while check.poll_tick(cx).is_ready() {
                    if stop() {
                        return Poll::Ready(Err(Failure::Stopped));
                    }
                }
                Poll::Pending
            })
            .await
        });
        if let Err(Failure::NoAnswer(_) | Failure::Stopped) = outcome {
            // Closes the socket: a late answer must not be read as the next request's.
            *connection = None;
        }
        outcome
    }
}

impl Drop for Io {
    /// Says goodbye (the client, dropped first, let the connection send `Terminate`) to a server
    /// that still answers, within the deadline; a connection already gone is simply closed.
    fn drop(&mut self) {
        if let Some(driver) = self.connection.take() {
            let limit = self.deadline;
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(limit, driver).await });
        }
    }
}

/// A connection, used by one thread at a time.
pub struct Client {
    /// Declared before `io`, so dropped first: the connection then ends with a goodbye.
    inner: tokio_postgres::Client,
    io: Io,
    /// Its requests end only by the deadline (a [`Session`]'s also by its stop check).
    stop: &'static (dyn Fn() -> bool + Sync),
}

/// A [`Client`] whose requests also end when a stop check says stop.
pub struct Session<'a> {
    inner: &'a mut tokio_postgres::Client,
    io: &'a mut Io,
    stop: &'a dyn Fn() -> bool,
}

/// A transaction of a [`Session`]: rolled back when dropped without [`Transaction::commit`].
pub struct Transaction<'a> {
    inner: tokio_postgres::Transaction<'a>,
    io: &'a mut Io,
    stop: &'a dyn Fn() -> bool,
}

/// How often a waiting request asks its stop check.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// The stop check of requests that only their deadline ends.
fn never() -> bool {
    false
}

/// Connects with `config` within `limit` (the whole connect: TCP, TLS, the startup and the
/// password), then bounds each request by `deadline`.
pub fn connect<T>(
    config: &tokio_postgres::Config,
    tls: T,
    limit: Duration,
    deadline: Duration,
) -> Result<Client, Failure>
where
    T: MakeTlsConnect<Socket> + Send + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Runtime)?;
    let connected =
        runtime.block_on(async { tokio::time::timeout(limit, config.connect(tls)).await });
    let (inner, connection) = match connected {
        Ok(pair) => pair?,
        Err(_) => return Err(Failure::NoAnswer(limit)),
    };
    Ok(Client {
        inner,
        io: Io {
            runtime,
            connection: Some(Box::pin(connection)),
            deadline,
        },
        stop: &never,
    })
}

/// The statements of both a client and a transaction, as `postgres` names them.
macro_rules! statements {
    () => {
        pub fn execute<T>(
            &mut self,
            statement: &T,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<u64, Failure>
        where
            T: ?Sized + ToStatement,
        {
            self.io
                .run(self.stop, self.inner.execute(statement, params))
        }

        pub fn query<T>(
            &mut self,
            statement: &T,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<Vec<Row>, Failure>
        where
            T: ?Sized + ToStatement,
        {
            self.io.run(self.stop, self.inner.query(statement, params))
        }

        pub fn query_one<T>(
            &mut self,
            statement: &T,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<Row, Failure>
        where
            T: ?Sized + ToStatement,
        {
            self.io
                .run(self.stop, self.inner.query_one(statement, params))
        }

        pub fn query_opt<T>(
            &mut self,
            statement: &T,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<Option<Row>, Failure>
        where
            T: ?Sized + ToStatement,
        {
            self.io
                .run(self.stop, self.inner.query_opt(statement, params))
        }

        pub fn prepare(&mut self, query: &str) -> Result<Statement, Failure> {
            self.io.run(self.stop, self.inner.prepare(query))
        }

        /// Runs `query`, one or more statements separated by `;`, without parameters.
        pub fn batch_execute(&mut self, query: &str) -> Result<(), Failure> {
            self.io.run(self.stop, self.inner.batch_execute(query))
        }
    };
}

impl Client {
    /// This connection, its requests ended also by `stop`.
    pub fn session<'a>(&'a mut self, stop: &'a dyn Fn() -> bool) -> Session<'a> {
        Session {
            inner: &mut self.inner,
            io: &mut self.io,
            stop,
        }
    }

    statements!();
}

impl Session<'_> {
    statements!();

    /// Begins a transaction.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, Failure> {
        let stop = self.stop;
        let inner = self.io.run(stop, self.inner.transaction())?;
        Ok(Transaction {
            inner,
            io: self.io,
            stop,
        })
    }
}

impl Transaction<'_> {
    statements!();

    pub fn commit(self) -> Result<(), Failure> {
        let Transaction { inner, io, stop } = self;
        io.run(stop, inner.commit())
    }

    pub fn rollback(self) -> Result<(), Failure> {
        let Transaction { inner, io, stop } = self;
        io.run(stop, inner.rollback())
    }
}
