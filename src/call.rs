//! The limits of one call: a deadline, a cancel switch, and how many requests it may send.

use crate::cancel::Cancel;
use crate::error::{Code, Error, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What bounds one call of the API. Every blocking step (connecting, sending, waiting for an
/// answer, waiting for a token, waiting before a retry) ends at the deadline and within
/// milliseconds of a cancel.
#[derive(Clone, Copy, Default)]
pub struct Call<'a> {
    /// When the whole call must end.
    pub deadline: Option<Instant>,
    /// Ends the call early when triggered.
    pub cancel: Option<&'a Arc<Cancel>>,
    /// Requests the call may send when failures are transient; `None`: the client's setting.
    pub attempts: Option<u32>,
}

impl<'a> Call<'a> {
    /// A call bounded by `timeout` from now (`None`: no deadline) and `cancel`.
    pub fn new(timeout: Option<Duration>, cancel: Option<&'a Arc<Cancel>>) -> Call<'a> {
        Call {
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            cancel,
            attempts: None,
        }
    }

    /// Whether the call's cancel switch was triggered.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|cancel| cancel.is_triggered())
    }

    /// Fails if the call was cancelled or its deadline passed.
    pub fn check(&self) -> Result<()> {
        if self.cancelled() {
            return Err(cancelled());
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::new(Code::Timeout, "the deadline passed"));
        }
        Ok(())
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed, or is so close that nothing more can be done before it.
    pub fn deadline_passed(&self) -> bool {
        self.remaining()
            .is_some_and(|left| left < Duration::from_millis(20))
    }

    /// `limit`, shortened to the time left before the deadline.
    pub fn bounded(&self, limit: Duration) -> Duration {
        self.remaining().map_or(limit, |left| limit.min(left))
    }

    /// Waits `wait`; ends early with `Cancelled`. Fails with `after` if the wait would pass the
    /// deadline (nothing could be sent after it).
    pub fn sleep(&self, wait: Duration, after: impl FnOnce() -> Error) -> Result<()> {
        if self.remaining().is_some_and(|left| left <= wait) {
            return Err(after());
        }
        let cancelled = match self.cancel {
            Some(cancel) => cancel.sleep(wait),
            None => {
                std::thread::sleep(wait);
                false
            }
        };
        if cancelled {
            return Err(self::cancelled());
        }
        Ok(())
    }
}

/// The failure of a call whose cancel switch was triggered.
pub fn cancelled() -> Error {
    Error::new(Code::Cancelled, "cancelled by the caller")
}
