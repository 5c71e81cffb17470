//! Tokens: none, a fixed one, or obtained from client credentials, cached and refreshed.
//!
//! A token is fetched without holding any lock: one thread fetches while the others that need a
//! token wait for its outcome, each bounded by its own call's deadline and cancel switch.

use crate::call::Call;
use crate::error::{Code, Error, Result, invalid};
use crate::secrets;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The lifetime assumed when the token endpoint does not say (`expires_in` missing).
const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest lifetime believed; larger values are clipped to it.
const LONGEST_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often a thread waiting for another thread's token fetch looks at its own call's limits.
const WAIT_SLICE: Duration = Duration::from_millis(10);
/// Earlier tokens kept (and so still redacted) after they were replaced: a server may echo one.
const TOKENS_REMEMBERED: usize = 4;

/// A token ready to send, and which fetch it came from.
#[derive(Clone)]
pub struct Bearer {
    /// The token itself.
    pub value: Arc<str>,
    generation: u64,
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bearer([redacted], generation {})", self.generation)
    }
}

/// Client credentials and the token last obtained with them.
pub struct Credentials {
    client_id: String,
    client_secret: Arc<str>,
    cache: Mutex<Cache>,
    fetched: Condvar,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Cache {
    token: Option<Bearer>,
    refresh_at: Option<Instant>,
    generation: u64,
    /// The process and thread fetching a token now: after a `fork` the child has no such
    /// thread, so a fetch marked by another process does not count.
    fetching: Option<(u32, ThreadId)>,
    /// Counts finished fetches, so that a waiter knows when the one it waited for ended.
    fetches: u64,
    /// The failure of the last fetch, for the threads that waited for it.
    failure: Option<Error>,
    /// The latest tokens, kept alive so that [`secrets::redact`] still knows them.
    recent: VecDeque<Arc<str>>,
}

/// How the client authenticates.
pub enum Auth {
    /// No `Authorization` header at all (trial operations).
    None,
    /// A token the caller obtained.
    Token(Arc<str>),
    /// Client credentials exchanged for tokens at `{base_url}/connect/token`.
    Credentials(Credentials),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token([redacted])"),
            Auth::Credentials(credentials) => credentials.fmt(f),
        }
    }
}

/// Refuses text that cannot travel in an HTTP header or query: empty, or with control characters.
pub fn check_header_safe(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} contains a control character (CR, LF or similar), which cannot be sent"
        )));
    }
    Ok(())
}

/// Clears `fetching` and wakes the waiters even if the fetch panics.
struct FetchTurn<'a> {
    credentials: &'a Credentials,
}

impl Drop for FetchTurn<'_> {
    fn drop(&mut self) {
        let mut cache = self.credentials.lock();
        if cache.fetching.is_some() {
            cache.fetching = None;
            cache.fetches += 1;
        }
        drop(cache);
        self.credentials.fetched.notify_all();
    }
}

impl Auth {
    /// A fixed token (`None`: no `Authorization` header).
    pub fn token(token: Option<&str>) -> Result<Auth> {
        match token {
            None => Ok(Auth::None),
            Some(token) => {
                check_header_safe("the access token", token)?;
                let token: Arc<str> = token.into();
                secrets::register(&token);
                Ok(Auth::Token(token))
            }
        }
    }

    /// Client credentials, exchanged for a token on first use.
    pub fn credentials(client_id: &str, client_secret: &str) -> Result<Auth> {
        check_header_safe("the client id", client_id)?;
        check_header_safe("the client secret", client_secret)?;
        let client_secret: Arc<str> = client_secret.into();
        secrets::register(&client_secret);
        Ok(Auth::Credentials(Credentials {
            client_id: client_id.into(),
            client_secret,
            cache: Mutex::default(),
            fetched: Condvar::new(),
        }))
    }

    /// The token to send, fetching one with `fetch` (which answers a sendable token and its
    /// `expires_in` seconds) when the credentials have none fresh.
    ///
    /// Many threads may ask at once: one of them fetches, without holding a lock, while the
    /// others wait for its outcome; each waiter ends at its own `call`'s deadline or cancel. The
    /// threads that waited for a fetch that failed answer its failure.
    pub fn bearer(
        &self,
        call: &Call,
        fetch: impl FnOnce(&str, &str) -> Result<(String, Option<f64>)>,
    ) -> Result<Option<Bearer>> {
        let credentials = match self {
            Auth::None => return Ok(None),
            Auth::Token(token) => {
                return Ok(Some(Bearer {
                    value: Arc::clone(token),
                    generation: 0,
                }));
            }
            Auth::Credentials(credentials) => credentials,
        };
        let mut cache = credentials.lock();
        loop {
            if let (Some(token), Some(refresh_at)) = (&cache.token, cache.refresh_at)
                && Instant::now() < refresh_at
            {
                return Ok(Some(token.clone()));
            }
            if !cache.is_fetching() {
                break;
            }
            if cache.fetching == Some(fetcher()) {
                return Err(invalid(
                    "a token is being fetched on this very thread (a call made from inside a log \
                     callback cannot wait for it)",
                ));
            }
            let waited_for = cache.fetches;
            while cache.is_fetching() && cache.fetches == waited_for {
                drop(cache);
                call.check()?;
                cache = credentials.lock();
                if cache.is_fetching() && cache.fetches == waited_for {
                    cache = credentials
                        .fetched
                        .wait_timeout(cache, call.bounded(WAIT_SLICE))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            if let Some(failure) = &cache.failure {
                return Err(failure.clone());
            }
            // The fetch ended at its caller's own limit, or panicked: fetch for this call.
        }
        cache.fetching = Some(fetcher());
        drop(cache);
        let turn = FetchTurn { credentials };
        let outcome = fetch(&credentials.client_id, &credentials.client_secret);
        let mut cache = credentials.lock();
        let answer = match outcome {
            Ok((value, expires_in)) => {
                let value: Arc<str> = value.into();
                secrets::register(&value);
                cache.recent.push_front(Arc::clone(&value));
                cache.recent.truncate(TOKENS_REMEMBERED);
                cache.generation += 1;
                let bearer = Bearer {
                    value,
                    generation: cache.generation,
                };
                cache.token = Some(bearer.clone());
                cache.refresh_at =
                    lifetime(expires_in).map(|life| Instant::now() + life - refresh_margin(life));
                cache.failure = None;
                Ok(Some(bearer))
            }
            Err(error) => {
                // A fetch that ended at its own caller's deadline or cancel says nothing about
                // the endpoint: the waiters try for themselves.
                let own_limit = matches!(error.code(), Code::Timeout | Code::Cancelled)
                    && (call.cancelled() || call.deadline_passed());
                cache.failure = (!own_limit).then(|| error.clone());
                Err(error)
            }
        };
        cache.fetching = None;
        cache.fetches += 1;
        drop(cache);
        drop(turn);
        answer
    }

    /// Forgets `used` after the server refused it, unless a newer token replaced it already.
    /// Returns whether a fresh token can be fetched (only credentials can).
    pub fn refused(&self, used: &Bearer) -> bool {
        let Auth::Credentials(credentials) = self else {
            return false;
        };
        let mut cache = credentials.lock();
        if cache.generation == used.generation {
            cache.token = None;
            cache.refresh_at = None;
        }
        true
    }
}

impl Cache {
    /// Whether a thread of this process is fetching a token now.
    fn is_fetching(&self) -> bool {
        self.fetching
            .is_some_and(|(pid, _)| pid == std::process::id())
    }
}

impl Credentials {
    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// This thread, as a token fetch records it.
fn fetcher() -> (u32, ThreadId) {
    (std::process::id(), std::thread::current().id())
}

/// How long a token lives: `None` when it must not be reused (zero, negative or not a number).
fn lifetime(expires_in: Option<f64>) -> Option<Duration> {
    match expires_in {
        None => Some(ASSUMED_LIFETIME),
        Some(seconds) if seconds.is_finite() && seconds > 0.0 => Some(Duration::from_secs_f64(
            seconds.min(LONGEST_LIFETIME.as_secs_f64()),
        )),
        Some(_) => None,
    }
}

/// How long before expiry a token is replaced: a tenth of its life, at most a minute.
fn refresh_margin(life: Duration) -> Duration {
    (life / 10).min(Duration::from_secs(60))
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn issue(n: &AtomicUsize, expires_in: Option<f64>) -> Result<(String, Option<f64>)> {
        let count = n.fetch_add(1, Ordering::SeqCst) + 1;
        Ok((format!("token-{count}"), expires_in))
    }

    #[test]
    fn refuses_unsendable_text() {
        for bad in ["", "a\r\nb", "a\nb", "a\u{7f}b", "a\tb"] {
            assert_eq!(
                Auth::token(Some(bad)).unwrap_err().code(),
                Code::InvalidArgument
            );
            assert_eq!(
                Auth::credentials("id", bad).unwrap_err().code(),
                Code::InvalidArgument
            );
            assert_eq!(
                Auth::credentials(bad, "s").unwrap_err().code(),
                Code::InvalidArgument
            );
        }
    }

    #[test]
    fn caches_a_token_until_shortly_before_it_expires() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let n = AtomicUsize::new(0);
        let first = auth
            .bearer(&Call::default(), |_, _| issue(&n, Some(3600.0)))
            .unwrap()
            .unwrap();
        let second = auth
            .bearer(&Call::default(), |_, _| issue(&n, Some(3600.0)))
            .unwrap()
            .unwrap();
        assert_eq!(&*first.value, "token-1");
        assert_eq!(&*second.value, "token-1");
        assert_eq!(n.load(Ordering::SeqCst), 1);

        let short = Auth::credentials("id", "secret").unwrap();
        short
            .bearer(&Call::default(), |_, _| issue(&n, Some(0.2)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let renewed = short
            .bearer(&Call::default(), |_, _| issue(&n, Some(0.2)))
            .unwrap()
            .unwrap();
        assert_eq!(&*renewed.value, "token-3");
    }

    #[test]
    fn never_reuses_a_token_without_a_positive_lifetime() {
        for expires_in in [0.0, -5.0, f64::NAN] {
            let auth = Auth::credentials("id", "secret").unwrap();
            let n = AtomicUsize::new(0);
            auth.bearer(&Call::default(), |_, _| issue(&n, Some(expires_in)))
                .unwrap();
            auth.bearer(&Call::default(), |_, _| issue(&n, Some(expires_in)))
                .unwrap();
            assert_eq!(n.load(Ordering::SeqCst), 2);
        }
    }

    #[test]
    fn a_refused_token_is_replaced_once_even_when_many_threads_saw_it() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let n = AtomicUsize::new(0);
        let old = auth
            .bearer(&Call::default(), |_, _| issue(&n, None))
            .unwrap()
            .unwrap();
        assert!(auth.refused(&old));
        let new = auth
            .bearer(&Call::default(), |_, _| issue(&n, None))
            .unwrap()
            .unwrap();
        assert!(auth.refused(&old));
        let still_new = auth
            .bearer(&Call::default(), |_, _| issue(&n, None))
            .unwrap()
            .unwrap();
        assert_eq!(&*new.value, "token-2");
        assert_eq!(&*still_new.value, "token-2");
        assert!(!Auth::token(Some("t")).unwrap().refused(&new));
    }

    #[test]
    fn many_threads_needing_a_token_cause_one_fetch() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let n = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    auth.bearer(&Call::default(), |_, _| {
                        std::thread::sleep(Duration::from_millis(50));
                        issue(&n, None)
                    })
                    .unwrap()
                });
            }
        });
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_fetch_holds_no_lock_so_it_may_log_and_redact() {
        let auth = Auth::credentials("id", "a-client-secret").unwrap();
        let bearer = auth
            .bearer(&Call::default(), |_, secret| {
                assert_eq!(secrets::redact(secret), "[redacted]");
                assert!(auth.refused(&Bearer {
                    value: "x".into(),
                    generation: 99,
                }));
                Ok(("fresh-token".into(), None))
            })
            .unwrap()
            .unwrap();
        assert_eq!(secrets::redact(&bearer.value), "[redacted]");
    }

    #[test]
    fn a_waiter_ends_at_its_own_deadline_or_cancel_while_another_thread_fetches() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let cancel = Arc::new(crate::cancel::Cancel::new());
        std::thread::scope(|scope| {
            let fetcher = scope.spawn(|| {
                auth.bearer(&Call::default(), |_, _| {
                    std::thread::sleep(Duration::from_millis(600));
                    Ok(("slow".into(), None))
                })
            });
            std::thread::sleep(Duration::from_millis(50));
            let started = Instant::now();
            let short = Call::new(Some(Duration::from_millis(100)), None);
            let err = auth
                .bearer(&short, |_, _| panic!("one fetch at a time"))
                .unwrap_err();
            assert_eq!(err.code(), Code::Timeout);
            assert!(
                started.elapsed() < Duration::from_millis(400),
                "{:?}",
                started.elapsed()
            );
            let started = Instant::now();
            let trigger = {
                let cancel = Arc::clone(&cancel);
                scope.spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    cancel.trigger();
                })
            };
            let cancelled = Call::new(None, Some(&cancel));
            let err = auth
                .bearer(&cancelled, |_, _| panic!("one fetch at a time"))
                .unwrap_err();
            assert_eq!(err.code(), Code::Cancelled);
            assert!(
                started.elapsed() < Duration::from_millis(400),
                "{:?}",
                started.elapsed()
            );
            trigger.join().unwrap();
            assert_eq!(&*fetcher.join().unwrap().unwrap().unwrap().value, "slow");
        });
    }

    #[test]
    fn the_threads_that_waited_for_a_failed_fetch_answer_its_failure() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let n = AtomicUsize::new(0);
        let outcomes: Vec<Result<Option<Bearer>>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        auth.bearer(&Call::default(), |_, _| {
                            n.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(100));
                            Err(Error::new(Code::Network, "the token endpoint is down"))
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for outcome in outcomes {
            assert_eq!(outcome.unwrap_err().code(), Code::Network);
        }
        assert!(
            n.load(Ordering::SeqCst) < 8,
            "waiters share a fetch's failure"
        );
    }

    #[test]
    fn a_call_inside_a_fetch_on_the_same_thread_fails_at_once_instead_of_waiting_for_itself() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let inner = auth.bearer(&Call::default(), |_, _| {
            let nested = auth.bearer(&Call::default(), |_, _| panic!("one fetch at a time"));
            assert_eq!(nested.unwrap_err().code(), Code::InvalidArgument);
            Ok(("token".into(), None))
        });
        assert_eq!(&*inner.unwrap().unwrap().value, "token");
    }

    #[test]
    fn a_fetch_cut_short_by_its_callers_deadline_does_not_fail_the_waiters() {
        let auth = Auth::credentials("id", "secret").unwrap();
        std::thread::scope(|scope| {
            let short = scope.spawn(|| {
                let call = Call::new(Some(Duration::from_millis(100)), None);
                auth.bearer(&call, |_, _| {
                    while !call.deadline_passed() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(Error::new(Code::Timeout, "the deadline passed"))
                })
            });
            std::thread::sleep(Duration::from_millis(30));
            let patient = auth.bearer(&Call::default(), |_, _| Ok(("mine".into(), None)));
            assert_eq!(&*patient.unwrap().unwrap().value, "mine");
            assert_eq!(short.join().unwrap().unwrap_err().code(), Code::Timeout);
        });
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let auth = Auth::credentials("the-id", "the-secret-value").unwrap();
        let bearer = auth
            .bearer(&Call::default(), |_, _| {
                Ok(("the-token-value".into(), None))
            })
            .unwrap()
            .unwrap();
        let fixed = Auth::token(Some("the-fixed-token")).unwrap();
        let shown = format!("{auth:?} {bearer:?} {fixed:?}");
        for secret in ["the-secret-value", "the-token-value", "the-fixed-token"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("the-id"), "{shown}");
    }
}
