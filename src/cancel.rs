//! Cancellation that any thread can trigger while another waits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A one-way switch: once triggered it stays triggered. Waits through [`Cancel::sleep`] end as
/// soon as it is triggered.
#[derive(Debug, Default)]
pub struct Cancel {
    triggered: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Cancel {
    /// A switch that is not triggered.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Triggers the switch and wakes every waiting thread. Safe from any thread, any number of times.
    pub fn trigger(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.triggered.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    /// Whether the switch was triggered.
    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::SeqCst)
    }

    /// Waits for `duration` or until the switch is triggered; true if it was triggered.
    pub fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_triggered() {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            guard = self
                .wake
                .wait_timeout(guard, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_trigger_from_another_thread_ends_a_sleep_at_once() {
        let cancel = Arc::new(Cancel::new());
        let other = Arc::clone(&cancel);
        let started = Instant::now();
        let trigger = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.trigger();
        });
        assert!(cancel.sleep(Duration::from_secs(10)));
        assert!(started.elapsed() < Duration::from_secs(5));
        trigger.join().unwrap();
        assert!(cancel.is_triggered());
        assert!(cancel.sleep(Duration::from_secs(10)));
    }

    #[test]
    fn an_untriggered_sleep_lasts_its_duration() {
        let cancel = Cancel::new();
        let started = Instant::now();
        assert!(!cancel.sleep(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
