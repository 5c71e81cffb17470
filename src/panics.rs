//! Panics of the library stay off the host's stderr: each one is caught at the C boundary and
//! reported as `OCR_ERR_INTERNAL` with its message, so the default hook's printing would only
//! write into the host's output. Panics on the host's own threads still reach the hook that was
//! there before.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Whether this thread is running library code: inside a C call, or a thread the library
    /// started.
    static IN_LIBRARY: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running library code until the returned guard is dropped, and
/// installs the quiet hook once.
pub fn enter() -> Inside {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_LIBRARY.try_with(Cell::get).unwrap_or(true) {
                previous(info);
            }
        }));
    });
    Inside(
        IN_LIBRARY
            .try_with(|inside| inside.replace(true))
            .unwrap_or(true),
    )
}

/// Marks a thread that the library started as running library code for its whole life.
pub fn library_thread() {
    let _ = IN_LIBRARY.try_with(|inside| inside.set(true));
}

/// Restores the thread's previous mark when dropped.
pub struct Inside(bool);

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = IN_LIBRARY.try_with(|inside| inside.set(self.0));
    }
}
