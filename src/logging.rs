//! What the library is doing, for whoever needs to find out why: request lines, retries, waits
//! and token refreshes. They go to stderr when `OCRCLOUD_LOG` is `warn`, `info` or `debug`, or
//! to a function the host program installs. Messages never contain tokens or secrets: every
//! line passes through [`crate::secrets::redact`].

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, RwLock};

/// How much to tell. The numeric values are the C contract (`OCR_LOG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    /// Something went wrong or is unsafe.
    Warn = 1,
    /// Retries, backoff waits, token refreshes.
    Info = 2,
    /// Every request and every poll.
    Debug = 3,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        })
    }
}

/// Where log lines go when the host installs a receiver.
pub type Receiver = Box<dyn Fn(Level, &str) + Send + Sync>;

/// Not decided yet: read `OCRCLOUD_LOG` on first use.
const UNSET: i32 = -1;
static MAX_LEVEL: AtomicI32 = AtomicI32::new(UNSET);
static RECEIVER: RwLock<Option<Arc<Receiver>>> = RwLock::new(None);

/// The level named by `OCRCLOUD_LOG` (`off`, `warn`, `info`, `debug`; anything else is off).
fn level_from_environment() -> i32 {
    match std::env::var("OCRCLOUD_LOG").as_deref() {
        Ok("warn") => Level::Warn as i32,
        Ok("info") => Level::Info as i32,
        Ok("debug") => Level::Debug as i32,
        _ => 0,
    }
}

/// Whether lines of `level` are wanted.
pub fn enabled(level: Level) -> bool {
    let mut max = MAX_LEVEL.load(Ordering::Relaxed);
    if max == UNSET {
        let wanted = level_from_environment();
        max = match MAX_LEVEL.compare_exchange(UNSET, wanted, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => wanted,
            Err(set_meanwhile) => set_meanwhile,
        };
    }
    level as i32 <= max
}

/// Sets the most detailed level to pass on (0: nothing), overriding `OCRCLOUD_LOG`.
pub fn set_max_level(level: i32) {
    MAX_LEVEL.store(level.clamp(0, Level::Debug as i32), Ordering::Relaxed);
}

/// Installs the function that receives log lines instead of stderr (`None`: stderr again).
/// Returns once the previous receiver is no longer running anywhere; the lock that guards it is
/// held only to swap it, so threads that log meanwhile use the new one and never wait for a
/// receiver that waits for them.
pub fn set_receiver(receiver: Option<Receiver>) {
    let previous = std::mem::replace(
        &mut *RECEIVER.write().unwrap_or_else(|e| e.into_inner()),
        receiver.map(Arc::new),
    );
    if let Some(previous) = previous {
        while Arc::strong_count(&previous) > 1 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

thread_local! {
    /// Whether this thread is inside the receiver: lines it causes are dropped, so a receiver
    /// that calls into the library neither recurses nor takes the lock twice.
    static RECEIVING: Cell<bool> = const { Cell::new(false) };
}

/// Passes on the line `message()` if `level` is wanted; the message is built only then. The
/// receiver runs outside any lock, holding a reference that `set_receiver` waits for, so that
/// once `set_receiver` returns the previous receiver is no longer running and will not be
/// called again.
pub fn log(level: Level, message: impl FnOnce() -> String) {
    if !enabled(level) || RECEIVING.get() {
        return;
    }
    let message = crate::secrets::redact(&message());
    let receiver = RECEIVER
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(Arc::clone);
    match receiver {
        Some(receiver) => {
            RECEIVING.set(true);
            receiver(level, &message);
            RECEIVING.set(false);
        }
        None => eprintln!("ocrcloud {level}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn passes_on_wanted_levels_to_the_receiver() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        set_receiver(Some(Box::new(move |level, message: &str| {
            sink.lock().unwrap().push(format!("{level} {message}"));
        })));
        set_max_level(Level::Info as i32);
        log(Level::Warn, || "w".to_string());
        log(Level::Info, || "i".to_string());
        log(Level::Debug, || {
            panic!("a debug line is not even built at info")
        });
        set_max_level(0);
        log(Level::Warn, || {
            panic!("nothing is built when logging is off")
        });
        set_receiver(None);
        assert_eq!(*seen.lock().unwrap(), ["warn w", "info i"]);
        set_max_level(99);
        assert!(enabled(Level::Debug));
        set_max_level(0);
    }
}
