//! The streaming base64 decoder fed in pieces equals one-shot decoding, or fails exactly when it
//! does. The first bytes choose where the text is cut.

#![no_main]

#[path = "../checks/base64.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    if let Some((&count, rest)) = input.split_first() {
        let count = usize::from(count % 8).min(rest.len());
        let (cuts, text) = rest.split_at(count);
        let cuts: Vec<usize> = cuts.iter().map(|&cut| usize::from(cut)).collect();
        checks::decoding_in_pieces_equals_decoding_at_once(text, &cuts);
    }
});
