//! A property that both the cargo-fuzz target `parse_answer` and the property tests
//! (`tests/properties.rs`) check, written once.

use ocrcloud::error::{Code, Result};
use ocrcloud::wire::{self, MemorySink, Source};

/// A source that gives the parser at most `step` bytes per read, so that every token of the
/// answer can end up split across reads.
pub struct Trickle<'a> {
    rest: &'a [u8],
    step: usize,
}

impl<'a> Trickle<'a> {
    pub fn new(body: &'a [u8], step: usize) -> Trickle<'a> {
        Trickle {
            rest: body,
            step: step.max(1),
        }
    }
}

impl Source for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.step.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// Reading an answer whole or `step` bytes at a time gives the same answer, or fails the same
/// way; a failure is always a protocol or decode error with a message.
pub fn reading_in_pieces_changes_nothing(body: &[u8], step: usize) {
    let whole = wire::parse_answer(body);
    let in_pieces = wire::read_answer(Trickle::new(body, step), &mut MemorySink::default());
    match (&whole, &in_pieces) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "step {step}"),
        (Err(a), Err(b)) => {
            assert_eq!(a.code(), b.code(), "step {step}: {a} / {b}");
            assert!(matches!(a.code(), Code::Protocol | Code::Decode), "{a}");
            assert!(!a.message().is_empty() && !b.message().is_empty());
        }
        _ => panic!("whole: {whole:?}\nin pieces of {step}: {in_pieces:?}"),
    }
}
