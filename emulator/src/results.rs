//! Deterministic results for each operation, derived from the submitted input only.

use std::borrow::Cow;
use std::cell::OnceCell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::operations::{Document, DocumentKind, Submission};
use crate::pdf;
use crate::tasks::{Data, Outcome, ResultFile};

/// A kind of result file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Pdf,
    Hocr,
    Png,
    Json,
    Csv,
    Excel,
}

impl Format {
    /// The `type` of the result entry.
    fn type_name(self) -> &'static str {
        match self {
            Format::Text => "Text",
            Format::Pdf => "Pdf",
            Format::Hocr => "Hocr",
            Format::Png => "ImagePNG",
            Format::Json => "JSON",
            Format::Csv => "Csv",
            Format::Excel => "Excel",
        }
    }
}

/// `settings.resultType` values and the results they produce, in order.
pub const RESULT_TYPES: [(&str, &[Format]); 9] = [
    ("Text", &[Format::Text]),
    ("Pdf", &[Format::Pdf]),
    ("TextAndPdf", &[Format::Text, Format::Pdf]),
    ("Hocr", &[Format::Hocr]),
    ("TextAndHocr", &[Format::Text, Format::Hocr]),
    ("PdfAndHocr", &[Format::Pdf, Format::Hocr]),
    (
        "TextAndPdfAndHocr",
        &[Format::Text, Format::Pdf, Format::Hocr],
    ),
    ("ImagePNG", &[Format::Png]),
    ("JSON", &[Format::Json]),
];

/// `settings.resultTypeTable` values (`RecognizeTable`) and the results they produce, in order.
pub const TABLE_RESULT_TYPES: [(&str, &[Format]); 4] = [
    ("Text", &[Format::Text]),
    ("Excel", &[Format::Excel]),
    ("Csv", &[Format::Csv]),
    ("CsvAndExcel", &[Format::Csv, Format::Excel]),
];

/// The message of a `RecognizePdf` task whose document does not start with `%PDF-`.
const NOT_A_PDF: &str = "The document is not a PDF file.";

/// A 1x1 white grayscale PNG.
const TINY_PNG: [u8; 67] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b,
    0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0x0f, 0x00, 0x01,
    0x01, 0x01, 0x00, 0x1c, 0xb0, 0x8c, 0x99, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// Fonts that `IdentifyFont` picks from, by the first byte of the image's SHA-256.
const FONTS: [&str; 6] = [
    "Arial",
    "Times New Roman",
    "Courier New",
    "Verdana",
    "Georgia",
    "Calibri",
];

/// WAV parameters of text to speech: 8 kHz, mono, 16-bit PCM silence.
const WAV_SAMPLE_RATE: u32 = 8_000;
const WAV_BYTES_PER_CHARACTER: usize = 1_600;
const WAV_MAX_CHARACTERS: usize = 600;

/// The final state of a submitted task.
pub fn produce(submission: &Submission) -> Outcome<'_> {
    match submission {
        Submission::Speech { text } => Outcome::completed(vec![encoded("WavFile", &wav(text))]),
        Submission::Document(document) => produce_document(document),
    }
}

fn produce_document(document: &Document) -> Outcome<'_> {
    let Document {
        kind,
        base64,
        bytes,
        formats,
    } = document;
    if *kind == DocumentKind::Pdf && !bytes.starts_with(b"%PDF-") {
        return Outcome::failed(NOT_A_PDF);
    }
    // Only computed when a format needs it: hashing a large document takes a while.
    let text = OnceCell::new();
    let text = || text.get_or_init(|| recognized_text(*kind, bytes)).as_str();
    let files = formats
        .iter()
        .map(|&format| {
            let name = format.type_name();
            match (format, kind) {
                (Format::Pdf, DocumentKind::Pdf) | (Format::Png, DocumentKind::ImageProcessing) => {
                    ResultFile {
                        kind: Cow::Borrowed(name),
                        data: Data::Base64(Cow::Borrowed(base64.as_str())),
                    }
                }
                (Format::Text, _) => encoded(name, text().as_bytes()),
                (Format::Pdf, _) => encoded(name, &pdf::one_page_pdf(text())),
                (Format::Hocr, _) => encoded(name, hocr(text()).as_bytes()),
                (Format::Png, _) => encoded(name, &TINY_PNG),
                (Format::Json, _) => {
                    encoded(name, json!({ "text": text() }).to_string().as_bytes())
                }
                (Format::Csv | Format::Excel, _) => encoded(name, csv_line(text()).as_bytes()),
            }
        })
        .collect();
    Outcome::completed(files)
}

/// The "recognized" text of a document.
fn recognized_text(kind: DocumentKind, bytes: &[u8]) -> String {
    match kind {
        DocumentKind::Pdf => pdf::extract_text(bytes).unwrap_or_else(|| fixed_sentence(bytes)),
        DocumentKind::Font => {
            let digest = Sha256::digest(bytes);
            let font = FONTS[usize::from(digest[0]) % FONTS.len()];
            format!(
                "Identified font {font} in a {}-byte document with SHA-256 {digest:x}.",
                bytes.len()
            )
        }
        DocumentKind::Image
        | DocumentKind::Table
        | DocumentKind::DjVu
        | DocumentKind::ImageProcessing => fixed_sentence(bytes),
    }
}

/// `Recognized text of a {N}-byte document with SHA-256 {hex}.`
fn fixed_sentence(bytes: &[u8]) -> String {
    format!(
        "Recognized text of a {}-byte document with SHA-256 {:x}.",
        bytes.len(),
        Sha256::digest(bytes)
    )
}

fn encoded(kind: &'static str, bytes: &[u8]) -> ResultFile<'static> {
    ResultFile {
        kind: Cow::Borrowed(kind),
        data: Data::Base64(Cow::Owned(STANDARD.encode(bytes))),
    }
}

/// A minimal hOCR (XHTML) page with one `ocr_line` per line of text.
fn hocr(text: &str) -> String {
    let lines: String = text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            format!(
                "   <span class=\"ocr_line\" id=\"line_1_{}\">{}</span>\n",
                index + 1,
                escape_xml(line)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \
         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n\
         <head>\n  <title></title>\n  \
         <meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n  \
         <meta name=\"ocr-system\" content=\"ocrcloud-emulator\"/>\n  \
         <meta name=\"ocr-capabilities\" content=\"ocr_page ocr_line\"/>\n\
         </head>\n<body>\n  <div class=\"ocr_page\" id=\"page_1\">\n{lines}  </div>\n</body>\n</html>\n"
    )
}

fn escape_xml(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            _ => character.to_string(),
        })
        .collect()
}

/// The text as one quoted CSV field on one line.
fn csv_line(text: &str) -> String {
    format!("\"{}\"\r\n", text.trim_end().replace('"', "\"\""))
}

/// A WAV file of silence: 100 ms per character of `text`, at most 60 seconds.
fn wav(text: &str) -> Vec<u8> {
    let data_len = text.chars().count().min(WAV_MAX_CHARACTERS) * WAV_BYTES_PER_CHARACTER;
    let data_len = u32::try_from(data_len).expect("at most 60 seconds of audio");
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&WAV_SAMPLE_RATE.to_le_bytes());
    wav.extend_from_slice(&(WAV_SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // bytes per sample
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_is_header_plus_100_ms_per_character() {
        let wav = wav("hello");
        assert_eq!(wav.len(), 44 + 5 * 1_600);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 8_000);
        assert_eq!(super::wav(&"x".repeat(10_000)).len(), 44 + 60 * 16_000);
    }

    #[test]
    fn csv_and_hocr_escape_their_text() {
        assert_eq!(csv_line("a \"b\""), "\"a \"\"b\"\"\"\r\n");
        assert!(hocr("x < y & z").contains(">x &lt; y &amp; z</span>"));
    }
}
