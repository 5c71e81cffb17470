//! The response reader on any bytes: read whole and read in pieces, the outcome is the same,
//! and it never panics. The first byte chooses the piece size.

#![no_main]

#[path = "../checks/answer.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    if let Some((&step, body)) = input.split_first() {
        checks::reading_in_pieces_changes_nothing(body, usize::from(step % 64) + 1);
    }
});
