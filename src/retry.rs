//! The retry policy over [`crate::http`]: which failures are sent again, and when.
//!
//! A failure is retried only if it is transient (a connection error, 429, 502, 503, 504) and
//! either the request is idempotent or the server certainly did not act on it
//! ([`crate::error::Error`]'s `unsent`). So a submission whose bytes may have reached the
//! server is never sent again, whatever step failed after that: the exchange, the answer's body,
//! or the reading of the task id.

use crate::call::Call;
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::logging::{Level, log};
use crate::transport;
use std::time::{Duration, Instant};

/// The first wait between retries; it doubles with each retry.
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between retries without a `Retry-After`.
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(8);

/// Runs `attempt` until it succeeds, fails for good, or `attempts` are used, waiting with
/// exponential backoff (and at least `Retry-After`) in between. `idempotent`: whether the
/// request may be sent again although it may have reached the server. Each retry is paid from
/// `flow`'s retry budget; when it is spent, the failure is answered instead.
pub fn retrying<T>(
    call: &Call,
    attempts: u32,
    idempotent: bool,
    flow: &Flow,
    mut attempt: impl FnMut() -> Result<T>,
) -> Result<T> {
    let attempts = attempts.max(1);
    let mut sent = 1;
    loop {
        let outcome = {
            let _watch = transport::watch(call.cancel);
            attempt()
        };
        match outcome {
            Err(error) if may_retry(&error, idempotent) && sent < attempts => {
                if !flow.spend_retry(&error) {
                    return Err(error.map_message(|m| {
                        format!(
                            "{m} (not tried again: the client's retry budget is spent, the \
                             service failed too often)"
                        )
                    }));
                }
                let wait = retry_wait(sent, &error);
                log(Level::Info, || {
                    format!(
                        "{}; trying again in {:.2} s (attempt {} of {attempts})",
                        error.message(),
                        wait.as_secs_f64(),
                        sent + 1
                    )
                });
                call.sleep(wait, || {
                    error.clone().map_message(|m| {
                        format!("{m} (no time was left before the deadline to try again)")
                    })
                })?;
                sent += 1;
            }
            Err(error) if error.delivered && !idempotent => {
                return Err(error.map_message(|m| {
                    format!(
                        "{m}; the request may have reached the server, so it was not sent again \
                         (a task may exist for it)"
                    )
                }));
            }
            result => return result,
        }
    }
}

/// Whether `error` may be cured by sending the request again.
fn may_retry(error: &Error, idempotent: bool) -> bool {
    error.transient && (idempotent || error.unsent)
}

/// The wait before retry number `retry` (1-based) of `error`: 250 ms doubling up to 8 s, ±10%
/// jitter, and never less than the server's `Retry-After`. A `429` waits only its
/// `Retry-After`, which the client's request budget has set to when the next request may go:
/// the budget paces the whole client, so a backoff of its own would only leave slots unused.
fn retry_wait(retry: u32, error: &Error) -> Duration {
    let retry_after = error.retry_after;
    if error.status == Some(429) {
        return retry_after.unwrap_or(Duration::ZERO);
    }
    let backoff = FIRST_RETRY_WAIT
        .saturating_mul(1 << (retry - 1).min(16))
        .min(LONGEST_RETRY_WAIT);
    let jittered = backoff.mul_f64(0.9 + 0.2 * random_fraction());
    jittered.max(retry_after.unwrap_or(Duration::ZERO))
}

/// A number in [0, 1) that differs from call to call (for jitter, not for secrets).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use std::cell::Cell;

    #[test]
    fn backs_off_exponentially_with_bounded_jitter() {
        for retry in 1..=10u32 {
            let expected = FIRST_RETRY_WAIT
                .saturating_mul(1 << (retry - 1))
                .min(LONGEST_RETRY_WAIT);
            let wait = retry_wait(retry, &Error::transient(Code::Network, "down"));
            assert!(
                wait >= expected.mul_f64(0.9) && wait <= expected.mul_f64(1.1),
                "{retry}: {wait:?}"
            );
        }
        let mut busy = Error::transient(Code::Network, "busy");
        busy.retry_after = Some(Duration::from_secs(3));
        assert_eq!(retry_wait(1, &busy), Duration::from_secs(3));
        busy.status = Some(429);
        busy.retry_after = Some(Duration::from_millis(30));
        assert_eq!(
            retry_wait(4, &busy),
            Duration::from_millis(30),
            "no backoff"
        );
    }

    fn tries(idempotent: bool, error: Error) -> (u32, Error) {
        let count = Cell::new(0);
        let result: Result<()> =
            retrying(&Call::default(), 3, idempotent, &Flow::default(), || {
                count.set(count.get() + 1);
                let mut error = error.clone();
                error.retry_after = Some(Duration::from_millis(1));
                Err(error)
            });
        (count.get(), result.unwrap_err())
    }

    #[test]
    fn a_request_that_may_have_reached_the_server_is_sent_once_unless_idempotent() {
        let broken = Error::transient(Code::Network, "the connection broke").delivered();
        let (count, error) = tries(false, broken.clone());
        assert_eq!(count, 1);
        assert!(error.message().contains("a task may exist"), "{error}");
        assert_eq!(tries(true, broken.clone()).0, 3);
        assert_eq!(tries(false, broken.unsent()).0, 3);
        let (count, error) = tries(false, Error::new(Code::Protocol, "bad"));
        assert_eq!(count, 1);
        assert_eq!(error.message(), "bad");
    }
}
