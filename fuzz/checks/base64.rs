//! A property that both the cargo-fuzz target `base64_pieces` and the property tests
//! (`tests/properties.rs`) check, written once.

use ocrcloud::decode::Base64Decoder;

/// Feeding base64 to the streaming decoder in the pieces that `cuts` make (offsets into
/// `text`) equals decoding it at once, or fails exactly when that fails; no feed appends more
/// than `max_output` promised.
pub fn decoding_in_pieces_equals_decoding_at_once(text: &[u8], cuts: &[usize]) {
    let at_once = base64_simd::STANDARD.decode_to_vec(text);
    let mut decoder = Base64Decoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|cut| cut % (text.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(text.len());
    let mut fed = Ok(());
    for end in ends {
        let piece = &text[start..end.max(start)];
        start = end.max(start);
        let promised = decoder.max_output(piece.len());
        out.reserve(promised);
        let before = out.len();
        fed = decoder.feed(piece, &mut out);
        assert!(
            out.len() - before <= promised,
            "appended more than max_output"
        );
        if fed.is_err() {
            break;
        }
    }
    let streamed = fed.and_then(|()| decoder.finish()).map(|()| out);
    match (&at_once, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "{:?} in pieces at {cuts:?}: at once {at_once:?}, streamed {streamed:?}",
            String::from_utf8_lossy(text)
        ),
    }
}
