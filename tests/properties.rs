//! Property tests of the response reader and the base64 decoder: the short, always-run part of
//! the fuzzing (`scripts/fuzz.sh` runs the cargo-fuzz targets for long). The properties live in
//! `fuzz/checks/`, shared with the fuzz targets; failures found there become the regression
//! tests at the end of this file.

#[path = "../fuzz/checks/answer.rs"]
mod answer_checks;
#[path = "../fuzz/checks/base64.rs"]
mod base64_checks;

use answer_checks::reading_in_pieces_changes_nothing;
use base64_checks::decoding_in_pieces_equals_decoding_at_once;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Cases per property and the random seed: fixed, so that every run tests the same inputs,
/// unless `PROPTEST_CASES` or `PROPTEST_RNG_SEED` ask for others (long runs: scripts/fuzz.sh).
fn config(cases: u32) -> Config {
    let given = |name| std::env::var_os(name).is_some();
    let defaults = Config::default();
    Config {
        cases: if given("PROPTEST_CASES") {
            defaults.cases
        } else {
            cases
        },
        rng_seed: if given("PROPTEST_RNG_SEED") {
            defaults.rng_seed
        } else {
            RngSeed::Fixed(20_240_601)
        },
        failure_persistence: None,
        ..defaults
    }
}

/// Well-formed answers of every documented shape, the starting points for mutations.
const ANSWERS: &[&str] = &[
    r#"{"id":"db03b9ea","taskStatus":"Completed","responseStatusCode":"Ok","results":[{"type":"Pdf","data":"JVBERi0xLjQK"},{"type":"Text","data":"aGk="}],"error":null}"#,
    r#"{"id":"t","taskStatus":"Pending","responseStatusCode":"NotReady","results":null,"error":null}"#,
    r#"{"taskStatus":"Error","error":{"messages":["bad page","\u00e9\ud83d\ude00"],"warnings":[null]}}"#,
    r#"{"TaskStatus":"Queued","x":{"y":[1,-2.5e-3,true,false,null,{"z":"\/\"\\"}]},"results":[]}"#,
    r#" { "results" : [ { "data" : "QU\nJD\r\nRA==" , "type" : null } ] , "taskStatus" : "completed" } "#,
];

/// Pieces that JSON answers are made of, right and wrong.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "null",
    "true",
    "1e5",
    "-0",
    "\"taskStatus\"",
    "\"Completed\"",
    "\"results\"",
    "\"data\"",
    "\"type\"",
    "\"error\"",
    "\"messages\"",
    "\"id\"",
    "\"QUJD\"",
    "\"QQ==\"",
    "\"QUJ=\"",
    "\\n",
    "\\u0041",
    "\\ud800",
    "\u{7}",
    "\n",
    " ",
    "\u{e9}",
    "\u{ff}",
    "=",
];

/// An answer changed by a few random byte edits: replace, insert or delete.
fn mutated_answer() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(ANSWERS),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 0..4),
    )
        .prop_map(|(answer, edits)| {
            let mut bytes = answer.as_bytes().to_vec();
            for (at, byte, kind) in edits {
                let at = at.index(bytes.len() + 1);
                match kind {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            bytes
        })
}

/// Text made of answer fragments in random order.
fn fragment_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40)
        .prop_map(|pieces| pieces.concat().into_bytes())
}

/// A Completed answer whose one result's data string is `data`.
fn answer_with_data(data: &str) -> Vec<u8> {
    format!(r#"{{"taskStatus":"Completed","results":[{{"type":"Pdf","data":"{data}"}}]}}"#)
        .into_bytes()
}

/// Text of base64 characters, padding and a few characters that do not belong.
fn base64ish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            "ABCDQRSTabcdwxyz0189+/=====-_ *\n\r"
                .chars()
                .collect::<Vec<_>>(),
        ),
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(config(20_000))]

    #[test]
    fn mutated_answers_read_the_same_in_pieces(body in mutated_answer(), step in 1..40usize) {
        reading_in_pieces_changes_nothing(&body, step);
    }

    #[test]
    fn fragment_soup_reads_the_same_in_pieces(body in fragment_soup(), step in 1..8usize) {
        reading_in_pieces_changes_nothing(&body, step);
    }

    #[test]
    fn arbitrary_bytes_read_the_same_in_pieces(
        body in prop::collection::vec(any::<u8>(), 0..200),
        step in 1..16usize,
    ) {
        reading_in_pieces_changes_nothing(&body, step);
    }

    #[test]
    fn result_data_reads_the_same_in_pieces(data in base64ish(), step in 1..6usize) {
        reading_in_pieces_changes_nothing(&answer_with_data(&data), step);
    }

    #[test]
    fn base64_in_pieces_equals_base64_at_once(
        text in base64ish(),
        cuts in prop::collection::vec(0..48usize, 0..6),
    ) {
        decoding_in_pieces_equals_decoding_at_once(text.as_bytes(), &cuts);
    }

    #[test]
    fn encoded_bytes_decode_to_themselves_in_any_pieces(
        bytes in prop::collection::vec(any::<u8>(), 0..100),
        cuts in prop::collection::vec(0..140usize, 0..8),
    ) {
        let text = base64_simd::STANDARD.encode_to_string(&bytes);
        decoding_in_pieces_equals_decoding_at_once(text.as_bytes(), &cuts);
        let answer = ocrcloud::wire::parse_answer(&answer_with_data(&text)).unwrap();
        prop_assert_eq!(&answer.results[0].data, &bytes);
    }
}

#[test]
fn regression_a_raw_line_break_in_data_read_a_byte_at_a_time() {
    reading_in_pieces_changes_nothing(&answer_with_data("\nAAAAAAAA"), 1);
}
