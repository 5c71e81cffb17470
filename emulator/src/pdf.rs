//! Just enough PDF: reading the text layer of uncompressed content streams, writing a one-page PDF.

use std::fmt::Write;

use memchr::memmem;

/// The text shown by `Tj`, `TJ`, `'` and `"` in the document's unfiltered streams, one string
/// per line and ending with a newline; `None` when there is none.
pub fn extract_text(document: &[u8]) -> Option<String> {
    let lines: Vec<String> = unfiltered_streams(document)
        .flat_map(shown_strings)
        .map(|string| decode_text(&string))
        .collect();
    if lines.is_empty() {
        None
    } else {
        Some(lines.join("\n") + "\n")
    }
}

/// A one-page PDF (Helvetica, US Letter) showing each line of `text`.
pub fn one_page_pdf(text: &str) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 14 TL 72 720 Td");
    for line in text.lines() {
        write!(content, " ({}) Tj T*", escape_string(line)).expect("writing to a String");
    }
    content.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        write!(pdf, "{} 0 obj\n{object}\nendobj\n", index + 1).expect("writing to a String");
    }
    let xref = pdf.len();
    write!(pdf, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1)
        .expect("writing to a String");
    for offset in offsets {
        writeln!(pdf, "{offset:010} 00000 n ").expect("writing to a String");
    }
    write!(
        pdf,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    )
    .expect("writing to a String");
    pdf.into_bytes()
}

/// Escapes a line of text for a PDF literal string; characters outside printable ASCII become `?`.
fn escape_string(line: &str) -> String {
    line.chars()
        .map(|character| match character {
            '(' | ')' | '\\' => format!("\\{character}"),
            ' '..='~' => character.to_string(),
            _ => "?".to_owned(),
        })
        .collect()
}

/// The bodies of all streams whose dictionary has no `/Filter`. One pass: each search starts
/// where the last one ended, so the work is linear in the document's size whatever it holds.
fn unfiltered_streams(document: &[u8]) -> impl Iterator<Item = &[u8]> {
    // Where the current stream's dictionary may start: after the previous stream's end.
    let mut floor = 0;
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let keyword = at + memmem::find(&document[at..], b"stream")?;
            at = keyword + b"stream".len();
            if document[..keyword].ends_with(b"end") {
                continue;
            }
            let after = &document[at..];
            let Some(body) = after
                .strip_prefix(b"\r\n")
                .or_else(|| after.strip_prefix(b"\n"))
            else {
                continue;
            };
            let before = &document[floor..keyword];
            let dictionary = memmem::rfind(before, b"obj").map_or(before, |obj| &before[obj..]);
            // Streams do not nest: without an end there is no later stream either.
            let end = memmem::find(body, b"endstream")?;
            let body_start = document.len() - body.len();
            at = body_start + end + b"endstream".len();
            floor = at;
            if memmem::find(dictionary, b"/Filter").is_none() {
                return Some(&body[..end]);
            }
        }
    })
}

/// An operand seen in a content stream.
enum Operand {
    String(Vec<u8>),
    /// The strings of an array, concatenated (the numbers between them only adjust spacing).
    Array(Vec<u8>),
    Other,
}

/// The strings shown by text-showing operators in one content stream.
fn shown_strings(content: &[u8]) -> Vec<Vec<u8>> {
    let mut shown = Vec::new();
    let mut operands = Vec::new();
    let mut position = 0;
    while position < content.len() {
        let byte = content[position];
        let starts_string =
            byte == b'(' || (byte == b'<' && content.get(position + 1) != Some(&b'<'));
        if starts_string {
            let (string, next) = read_string(content, position);
            operands.push(Operand::String(string));
            position = next;
            continue;
        }
        match byte {
            b'%' => position = skip_line(content, position),
            // A dictionary start `<<`: a single `<` would have started a hex string.
            b'<' => position += 2,
            b'[' => {
                let (strings, next) = read_array(content, position + 1);
                operands.push(Operand::Array(strings));
                position = next;
            }
            b'/' => {
                position = token_end(content, position);
                operands.push(Operand::Other);
            }
            _ if is_space(byte) || is_delimiter(byte) => position += 1,
            _ => {
                let end = token_end(content, position);
                let token = &content[position..end];
                position = end;
                if byte.is_ascii_digit() || matches!(byte, b'+' | b'-' | b'.') {
                    operands.push(Operand::Other);
                    continue;
                }
                match (token, operands.pop()) {
                    (b"Tj" | b"'" | b"\"", Some(Operand::String(string))) => shown.push(string),
                    (b"TJ", Some(Operand::Array(strings))) => shown.push(strings),
                    _ => {}
                }
                operands.clear();
            }
        }
    }
    shown
}

/// Reads the strings of an array starting after its `[`; returns them concatenated and the
/// position after the closing `]`.
fn read_array(content: &[u8], mut position: usize) -> (Vec<u8>, usize) {
    let mut strings = Vec::new();
    while position < content.len() {
        match content[position] {
            b']' => return (strings, position + 1),
            b'(' | b'<' => {
                let (string, next) = read_string(content, position);
                strings.extend_from_slice(&string);
                position = next;
            }
            _ => position += 1,
        }
    }
    (strings, position)
}

/// Reads a literal `(...)` or hex `<...>` string at `position`; returns its bytes and the position
/// after it.
fn read_string(content: &[u8], position: usize) -> (Vec<u8>, usize) {
    if content[position] == b'<' {
        read_hex_string(content, position + 1)
    } else {
        read_literal_string(content, position + 1)
    }
}

fn read_hex_string(content: &[u8], mut position: usize) -> (Vec<u8>, usize) {
    let mut digits = Vec::new();
    while position < content.len() && content[position] != b'>' {
        if let Some(digit) = char::from(content[position]).to_digit(16) {
            digits.push(digit as u8);
        }
        position += 1;
    }
    if digits.len() % 2 == 1 {
        digits.push(0);
    }
    let bytes = digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect();
    (bytes, position + 1)
}

fn read_literal_string(content: &[u8], mut position: usize) -> (Vec<u8>, usize) {
    let mut bytes = Vec::new();
    let mut depth = 0;
    while let Some(&byte) = content.get(position) {
        position += 1;
        match byte {
            b'(' => {
                depth += 1;
                bytes.push(byte);
            }
            b')' if depth == 0 => break,
            b')' => {
                depth -= 1;
                bytes.push(byte);
            }
            b'\\' => position = read_escape(content, position, &mut bytes),
            _ => bytes.push(byte),
        }
    }
    (bytes, position)
}

/// Decodes the escape after a backslash at `position`; returns the position after it.
fn read_escape(content: &[u8], position: usize, bytes: &mut Vec<u8>) -> usize {
    let Some(&escaped) = content.get(position) else {
        return position;
    };
    let simple = match escaped {
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'0'..=b'7' => None,
        b'\r' if content.get(position + 1) == Some(&b'\n') => return position + 2,
        b'\r' | b'\n' => return position + 1,
        other => Some(other),
    };
    if let Some(byte) = simple {
        bytes.push(byte);
        return position + 1;
    }
    let digits = content[position..]
        .iter()
        .take(3)
        .take_while(|digit| (b'0'..=b'7').contains(digit))
        .count();
    let value = content[position..position + digits]
        .iter()
        .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
    bytes.push(value as u8);
    position + digits
}

/// UTF-16BE with a byte order mark, else UTF-8 when valid, else Latin-1.
fn decode_text(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&byte| char::from(byte)).collect(),
    }
}

fn skip_line(content: &[u8], position: usize) -> usize {
    content[position..]
        .iter()
        .position(|&byte| byte == b'\n' || byte == b'\r')
        .map_or(content.len(), |offset| position + offset)
}

fn token_end(content: &[u8], position: usize) -> usize {
    content[position + 1..]
        .iter()
        .position(|&byte| is_space(byte) || is_delimiter(byte))
        .map_or(content.len(), |offset| position + 1 + offset)
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_text_of_its_own_pdf() {
        let pdf = one_page_pdf("First (line)\nSecond \\ line");
        assert_eq!(
            extract_text(&pdf).as_deref(),
            Some("First (line)\nSecond \\ line\n")
        );
    }

    #[test]
    fn decodes_escapes_arrays_hex_strings_and_skips_filtered_streams() {
        let document = b"%PDF-1.4\n1 0 obj\n<< /Length 99 >>\nstream\n\
            BT /F1 12 Tf (a\\(b\\)\\101\\n) Tj [(Hel) -20 (lo)] TJ <48 69> Tj % (comment) Tj\n\
            << /MCID 0 >> BDC (x) 7 Tf ET\nendstream\nendobj\n\
            2 0 obj\n<< /Filter /FlateDecode /Length 9 >>\nstream\n(no) Tj\nendstream\nendobj\n";
        assert_eq!(
            extract_text(document).as_deref(),
            Some("a(b)A\n\nHello\nHi\n")
        );
    }

    /// Hostile inputs of 1 and 4 MiB: many stream keywords, with and without ends, objects and
    /// filters. Quadratic work would take minutes (and 16 times longer for the larger size).
    #[test]
    fn extraction_is_linear_in_the_size() {
        let patterns: [&[u8]; 4] = [
            b"stream\n",
            b"stream\n(a) Tj\nendstream\n",
            b"obj /Filter stream\r\n",
            b"<< (x) Tj [(",
        ];
        for pattern in patterns {
            let time = |mebibytes: usize| {
                let mut document = pattern.repeat((mebibytes << 20) / pattern.len());
                document.extend_from_slice(b"\nendstream\n");
                let started = std::time::Instant::now();
                extract_text(&document);
                started.elapsed()
            };
            let (small, large) = (time(1), time(4));
            let pattern = String::from_utf8_lossy(pattern);
            assert!(
                large < std::time::Duration::from_secs(10),
                "{pattern:?}: 4 MiB took {large:?} (1 MiB: {small:?})"
            );
        }
    }

    #[test]
    fn no_text_operators_means_no_text() {
        assert_eq!(extract_text(b"%PDF-1.4\nno streams here"), None);
    }
}
