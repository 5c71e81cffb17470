//! Base64 decoding of result data that arrives in pieces.
//!
//! The service sends every result as standard base64 (`A-Z a-z 0-9 + /`, `=` padding). The
//! decoder takes the characters in pieces of any size, decodes whole quartets straight into the
//! caller's buffer with a SIMD decoder, and keeps at most three characters between pieces. Padding
//! is accepted only at the very end; anything after it, a character outside the alphabet, or a
//! length that is not a multiple of four is an error.

use base64_simd::STANDARD;

/// Why base64 data was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// How many base64 characters were accepted before the offending piece.
    pub offset: u64,
    /// What is wrong.
    pub reason: &'static str,
}

/// A streaming decoder for one base64 string.
#[derive(Debug, Default)]
pub struct Base64Decoder {
    carry: [u8; 4],
    carry_len: usize,
    padded: bool,
    consumed: u64,
}

impl Base64Decoder {
    /// A decoder at the start of a string.
    pub fn new() -> Base64Decoder {
        Base64Decoder::default()
    }

    /// The largest number of bytes that `feed(input)` can append.
    pub fn max_output(&self, input_len: usize) -> usize {
        (self.carry_len + input_len) / 4 * 3
    }

    /// Decodes `input` (the next characters of the string) and appends the bytes to `out`.
    ///
    /// `out` must have room for [`Base64Decoder::max_output`] more bytes without reallocating;
    /// the caller reserves it so that allocation failures stay under its control.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if input.is_empty() {
            return Ok(());
        }
        if self.padded {
            return Err(self.error("characters after the padding"));
        }
        if self.carry_len > 0 {
            let take = (4 - self.carry_len).min(input.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&input[..take]);
            self.carry_len += take;
            input = &input[take..];
            if self.carry_len < 4 {
                return Ok(());
            }
            let quartet = self.carry;
            self.carry_len = 0;
            self.decode_whole(&quartet, out)?;
            if self.padded && !input.is_empty() {
                return Err(self.error("characters after the padding"));
            }
        }
        let whole = input.len() / 4 * 4;
        self.decode_whole(&input[..whole], out)?;
        let rest = &input[whole..];
        if self.padded && !rest.is_empty() {
            return Err(self.error("characters after the padding"));
        }
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
        Ok(())
    }

    /// Ends the string: fails if characters are left over that do not make a whole quartet.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.carry_len == 0 {
            Ok(())
        } else {
            Err(DecodeError {
                offset: self.consumed,
                reason: "a length that is not a multiple of four",
            })
        }
    }

    fn decode_whole(&mut self, quartets: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        if quartets.is_empty() {
            return Ok(());
        }
        debug_assert!(out.capacity() - out.len() >= quartets.len() / 4 * 3);
        if STANDARD.decode_append(quartets, out).is_err() {
            return Err(self.error("a character outside the base64 alphabet or misplaced padding"));
        }
        self.padded = quartets.ends_with(b"=");
        self.consumed += quartets.len() as u64;
        Ok(())
    }

    fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.consumed,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(text: &[u8], piece: usize) -> Result<Vec<u8>, DecodeError> {
        let mut decoder = Base64Decoder::new();
        let mut out = Vec::new();
        for chunk in text.chunks(piece.max(1)) {
            out.reserve(decoder.max_output(chunk.len()));
            decoder.feed(chunk, &mut out)?;
        }
        decoder.finish()?;
        Ok(out)
    }

    #[test]
    fn decodes_in_pieces_of_every_size() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        for len in [0, 1, 2, 3, 4, 5, 998, 999, 1000] {
            let text = STANDARD.encode_to_string(&data[..len]);
            for piece in [1, 2, 3, 4, 5, 7, 64, 4096] {
                assert_eq!(
                    decode_in_pieces(text.as_bytes(), piece).unwrap(),
                    &data[..len],
                    "len {len} piece {piece}"
                );
            }
        }
    }

    #[test]
    fn refuses_bad_characters_padding_and_length() {
        for (text, reason) in [
            (&b"QUJD*EVG"[..], "alphabet"),
            (b"QUJ=REVG", "padding"),
            (b"QQ==QUJD", "padding"),
            (b"QUJDREV", "multiple of four"),
            (b"QUJDRA=", "multiple of four"),
            (b"QUJD REVG", "alphabet"),
            (b"QUJD-_-_", "alphabet"),
        ] {
            for piece in [1, 3, 4, 64] {
                let err = decode_in_pieces(text, piece).unwrap_err();
                assert!(
                    err.reason.contains(reason),
                    "{:?} piece {piece}: {err:?}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn reports_the_offset_of_the_failure() {
        let err = decode_in_pieces(b"QUJDQUJDQUJD*UJD", 4).unwrap_err();
        assert_eq!(err.offset, 12);
    }
}
