//! Tokens: none, a fixed one, or obtained from client credentials, cached and refreshed.

use crate::error::{Result, invalid};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lifetime assumed when the token endpoint does not say (`expires_in` missing).
const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest lifetime believed; larger values are clipped to it.
const LONGEST_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// A token ready to send, and which fetch it came from.
#[derive(Clone, Debug)]
pub struct Bearer {
    /// The token itself.
    pub value: Arc<str>,
    generation: u64,
}

/// Client credentials and the token last obtained with them.
#[derive(Debug)]
pub struct Credentials {
    client_id: String,
    client_secret: String,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    token: Option<Bearer>,
    refresh_at: Option<Instant>,
    generation: u64,
}

/// How the client authenticates.
#[derive(Debug)]
pub enum Auth {
    /// No `Authorization` header at all (trial operations).
    None,
    /// A token the caller obtained.
    Token(Arc<str>),
    /// Client credentials exchanged for tokens at `{base_url}/connect/token`.
    Credentials(Credentials),
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

impl Auth {
    /// A fixed token (`None`: no `Authorization` header).
    pub fn token(token: Option<&str>) -> Result<Auth> {
        match token {
            None => Ok(Auth::None),
            Some(token) => {
                check_header_safe("the access token", token)?;
                Ok(Auth::Token(token.into()))
            }
        }
    }

    /// Client credentials, exchanged for a token on first use.
    pub fn credentials(client_id: &str, client_secret: &str) -> Result<Auth> {
        check_header_safe("the client id", client_id)?;
        check_header_safe("the client secret", client_secret)?;
        Ok(Auth::Credentials(Credentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            cache: Mutex::default(),
        }))
    }

    /// The token to send, fetching one with `fetch` (which answers a sendable token) when the
    /// credentials have none fresh.
    ///
    /// Many threads may ask at once: one of them fetches while the others wait for its token.
    /// `fetch` gets the id and secret and answers the token and its `expires_in` seconds.
    pub fn bearer(
        &self,
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
        if let (Some(token), Some(refresh_at)) = (&cache.token, cache.refresh_at)
            && Instant::now() < refresh_at
        {
            return Ok(Some(token.clone()));
        }
        let (value, expires_in) = fetch(&credentials.client_id, &credentials.client_secret)?;
        let fetched_at = Instant::now();
        cache.generation += 1;
        let bearer = Bearer {
            value: value.into(),
            generation: cache.generation,
        };
        cache.token = Some(bearer.clone());
        cache.refresh_at =
            lifetime(expires_in).map(|life| fetched_at + life - refresh_margin(life));
        Ok(Some(bearer))
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

    /// The texts that must never appear in a message: the tokens and the client secret.
    pub fn secrets(&self) -> Vec<Arc<str>> {
        match self {
            Auth::None => Vec::new(),
            Auth::Token(token) => vec![Arc::clone(token)],
            Auth::Credentials(credentials) => {
                let mut secrets = vec![Arc::from(credentials.client_secret.as_str())];
                if let Some(token) = &credentials.lock().token {
                    secrets.push(Arc::clone(&token.value));
                }
                secrets
            }
        }
    }
}

impl Credentials {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    use crate::error::Code;
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
            .bearer(|_, _| issue(&n, Some(3600.0)))
            .unwrap()
            .unwrap();
        let second = auth
            .bearer(|_, _| issue(&n, Some(3600.0)))
            .unwrap()
            .unwrap();
        assert_eq!(&*first.value, "token-1");
        assert_eq!(&*second.value, "token-1");
        assert_eq!(n.load(Ordering::SeqCst), 1);

        let short = Auth::credentials("id", "secret").unwrap();
        short.bearer(|_, _| issue(&n, Some(0.2))).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let renewed = short.bearer(|_, _| issue(&n, Some(0.2))).unwrap().unwrap();
        assert_eq!(&*renewed.value, "token-3");
    }

    #[test]
    fn never_reuses_a_token_without_a_positive_lifetime() {
        for expires_in in [0.0, -5.0, f64::NAN] {
            let auth = Auth::credentials("id", "secret").unwrap();
            let n = AtomicUsize::new(0);
            auth.bearer(|_, _| issue(&n, Some(expires_in))).unwrap();
            auth.bearer(|_, _| issue(&n, Some(expires_in))).unwrap();
            assert_eq!(n.load(Ordering::SeqCst), 2);
        }
    }

    #[test]
    fn a_refused_token_is_replaced_once_even_when_many_threads_saw_it() {
        let auth = Auth::credentials("id", "secret").unwrap();
        let n = AtomicUsize::new(0);
        let old = auth.bearer(|_, _| issue(&n, None)).unwrap().unwrap();
        assert!(auth.refused(&old));
        let new = auth.bearer(|_, _| issue(&n, None)).unwrap().unwrap();
        assert!(auth.refused(&old));
        let still_new = auth.bearer(|_, _| issue(&n, None)).unwrap().unwrap();
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
                    auth.bearer(|_, _| {
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
    fn lists_the_secrets_to_hide() {
        let auth = Auth::credentials("id", "s3cret").unwrap();
        auth.bearer(|_, _| Ok(("tok".into(), None))).unwrap();
        let secrets: Vec<String> = auth.secrets().iter().map(|s| s.to_string()).collect();
        assert_eq!(secrets, ["s3cret", "tok"]);
    }
}
