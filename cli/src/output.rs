//! What the command prints: records on stdout, where every failure counts, and notes on stderr,
//! which are best effort and never stop the work.

use std::io::{self, Write};

/// stdout, one record per line, or each record ended by a NUL byte (`--print0`).
pub struct Stdout {
    terminator: u8,
}

impl Stdout {
    pub fn new(print0: bool) -> Stdout {
        Stdout {
            terminator: if print0 { b'\0' } else { b'\n' },
        }
    }

    /// Writes one record as the bytes it is (a path need not be UTF-8), then flushes.
    pub fn record(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.write_all(&[self.terminator])?;
        out.flush()
    }
}

/// Writes `line` and a newline on stderr; a closed or full stderr is ignored.
pub fn note(line: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(line).and_then(|()| err.write_all(b"\n"));
}
