//! The service's operations and the body each one takes.

use crate::call::Call;
use crate::error::{Code, Error, Result, invalid};
use base64_simd::STANDARD;
use std::io::Read;
use std::path::Path;

/// What an operation's POST body looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyShape {
    /// `{"image": base64, "settings": {...}}`: recognition.
    ImageAndSettings,
    /// `{"image": base64}`: image processing.
    ImageOnly,
    /// `{"text": "...", "settings": {...}}`: text to speech.
    TextAndSettings,
}

/// One operation of the task API, e.g. `RecognizePdf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    name: &'static str,
    shape: BodyShape,
    trial: bool,
    default_settings: &'static str,
}

const RECOGNIZE_PDF_SETTINGS: &str = r#"{"language":"English","makeSkewCorrect":true,"Rotate":0,"makeBinarization":false,"makeContrastCorrection":false,"makeUpsampling":false,"makeSpellCheck":false,"dsrMode":"Regions","dsrConfidence":"Default","resultType":"Pdf"}"#;
const RECOGNIZE_TEXT_SETTINGS: &str = r#"{"language":"English","makeSkewCorrect":true,"Rotate":0,"makeBinarization":false,"makeContrastCorrection":false,"makeUpsampling":false,"makeSpellCheck":false,"dsrMode":"Regions","dsrConfidence":"Default","resultType":"Text"}"#;
const RECOGNIZE_TABLE_SETTINGS: &str = r#"{"language":"English","makeSkewCorrect":true,"Rotate":0,"makeBinarization":false,"makeContrastCorrection":false,"makeUpsampling":false,"makeSpellCheck":false,"dsrMode":"Regions","dsrConfidence":"Default","resultTypeTable":"Text"}"#;
const TEXT_TO_SPEECH_SETTINGS: &str = r#"{"language":"English","resultType":"Wav"}"#;

const fn op(name: &'static str, shape: BodyShape, default_settings: &'static str) -> Operation {
    Operation {
        name,
        shape,
        trial: false,
        default_settings,
    }
}

const fn trial(operation: Operation) -> Operation {
    Operation {
        trial: true,
        ..operation
    }
}

use BodyShape::{ImageAndSettings as Recognition, ImageOnly, TextAndSettings};

/// Every operation of the v5.0 task API.
pub const OPERATIONS: [Operation; 17] = [
    op("RecognizePdf", Recognition, RECOGNIZE_PDF_SETTINGS),
    op("RecognizeImage", Recognition, RECOGNIZE_TEXT_SETTINGS),
    op("RecognizeReceipt", Recognition, RECOGNIZE_TEXT_SETTINGS),
    op("RecognizeTable", Recognition, RECOGNIZE_TABLE_SETTINGS),
    op("RecognizeRegions", Recognition, RECOGNIZE_TEXT_SETTINGS),
    op("RecognizeLabel", Recognition, RECOGNIZE_TEXT_SETTINGS),
    op(
        "RecognizeAndParseInvoice",
        Recognition,
        RECOGNIZE_TEXT_SETTINGS,
    ),
    op("DetectRegions", Recognition, RECOGNIZE_TEXT_SETTINGS),
    op("IdentifyFont", Recognition, RECOGNIZE_TEXT_SETTINGS),
    op("DjVu2PDF", Recognition, RECOGNIZE_PDF_SETTINGS),
    op("BinarizeImage", ImageOnly, ""),
    op("DeskewImage", ImageOnly, ""),
    op("DewarpImage", ImageOnly, ""),
    op("UpscaleImage", ImageOnly, ""),
    trial(op(
        "RecognizeImageTrial",
        Recognition,
        RECOGNIZE_TEXT_SETTINGS,
    )),
    op(
        "ConvertTextToSpeech",
        TextAndSettings,
        TEXT_TO_SPEECH_SETTINGS,
    ),
    trial(op(
        "ConvertTextToSpeechTrial",
        TextAndSettings,
        TEXT_TO_SPEECH_SETTINGS,
    )),
];

impl Operation {
    /// The default operation, `RecognizePdf`.
    pub const RECOGNIZE_PDF: Operation = OPERATIONS[0];

    /// The operation with this name, compared without regard to case.
    pub fn named(name: &str) -> Result<Operation> {
        OPERATIONS
            .into_iter()
            .find(|op| op.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                invalid(format!(
                    "unknown operation \"{}\"; known operations: {}",
                    name.escape_default(),
                    OPERATIONS.map(|op| op.name).join(", ")
                ))
            })
    }

    /// The name as the service spells it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Trial operations are called without a token.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// The settings a submission sends: `settings` checked (a JSON object, and none for the
    /// image-processing operations), or the operation's defaults for `None`.
    pub fn settings<'s>(&self, settings: Option<&'s str>) -> Result<&'s str> {
        match settings {
            Some(_) if self.shape == BodyShape::ImageOnly => {
                Err(invalid(format!("{} takes no settings", self.name)))
            }
            Some(text) => check_settings(text).map(|()| text),
            None => Ok(self.default_settings),
        }
    }

    /// The POST body for `document` with `settings` (a JSON object; `None` for the defaults).
    ///
    /// The document is base64-encoded for image operations, in pieces between which `call`'s
    /// deadline and cancel are checked (a large document takes a while); for text to speech it
    /// is the text itself and must be UTF-8. A file document must be a regular file.
    pub fn body(&self, document: Document, settings: Option<&str>, call: &Call) -> Result<Vec<u8>> {
        let settings = self.settings(settings)?;
        let mut body = Vec::new();
        match self.shape {
            BodyShape::ImageAndSettings | BodyShape::ImageOnly => {
                body.extend_from_slice(b"{\"image\":\"");
                match document {
                    Document::Bytes(bytes) => {
                        reserve_encoded(&mut body, bytes.len() as u64, settings)?;
                        for piece in bytes.chunks(ENCODE_PIECE) {
                            call.check()?;
                            STANDARD.encode_append(piece, &mut body);
                        }
                    }
                    Document::File(path) => encode_file(path, &mut body, settings, call)?,
                }
                body.push(b'"');
            }
            BodyShape::TextAndSettings => {
                let owned;
                let bytes = match document {
                    Document::Bytes(bytes) => bytes,
                    Document::File(path) => {
                        let (mut file, size) = open_document(path)?;
                        let mut text = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                        file.read_to_end(&mut text)
                            .map_err(|e| unreadable(path, e))?;
                        owned = text;
                        &owned
                    }
                };
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    invalid(format!("{} takes UTF-8 text as its document", self.name))
                })?;
                body.extend_from_slice(b"{\"text\":");
                body.extend_from_slice(
                    serde_json::to_string(text)
                        .expect("a string always serializes")
                        .as_bytes(),
                );
            }
        }
        if !settings.is_empty() {
            body.extend_from_slice(b",\"settings\":");
            body.extend_from_slice(settings.as_bytes());
        }
        body.push(b'}');
        Ok(body)
    }
}

/// The document to submit: bytes in memory, or a file that is read while it is encoded (so only
/// its encoding is held in memory).
#[derive(Clone, Copy, Debug)]
pub enum Document<'a> {
    /// The document's bytes.
    Bytes(&'a [u8]),
    /// The path of the document's file.
    File(&'a Path),
}

/// Reserves room for the base64 of `len` bytes and the rest of the body.
fn reserve_encoded(body: &mut Vec<u8>, len: u64, settings: &str) -> Result<()> {
    let encoded = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(2))
        .map(|len| len / 3 * 4);
    encoded
        .and_then(|n| body.try_reserve_exact(n + settings.len() + 32).ok())
        .ok_or_else(|| {
            Error::new(
                Code::TooLarge,
                format!("the document ({len} bytes) is too large to encode in memory"),
            )
        })
}

/// Bytes of a document encoded between two checks of the call's limits: whole base64 groups.
const ENCODE_PIECE: usize = 3 << 20;

/// Opens a document and answers its size. Only a regular file is read: a FIFO would wait for a
/// writer for ever and a device may never end.
fn open_document(path: &Path) -> Result<(std::fs::File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = crate::faults::file_step(crate::faults::Step::FileRead)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
        })
        .map_err(|e| unreadable(path, e))?;
    let metadata = file.metadata().map_err(|e| unreadable(path, e))?;
    if !metadata.is_file() {
        return Err(Error::new(
            Code::Io,
            format!("cannot read {}: not a regular file", path.display()),
        ));
    }
    Ok((file, metadata.len()))
}

/// Appends the base64 of a file's content, read in pieces of whole base64 groups.
fn encode_file(path: &Path, body: &mut Vec<u8>, settings: &str, call: &Call) -> Result<()> {
    let (mut file, size) = open_document(path)?;
    reserve_encoded(body, size, settings)?;
    let mut piece = vec![0u8; ENCODE_PIECE];
    loop {
        call.check()?;
        let mut filled = 0;
        while filled < piece.len() {
            match file.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(unreadable(path, e)),
            }
        }
        STANDARD.encode_append(&piece[..filled], body);
        if filled < piece.len() {
            return Ok(());
        }
    }
}

fn unreadable(path: &Path, error: std::io::Error) -> Error {
    Error::new(Code::Io, format!("cannot read {}: {error}", path.display()))
}

/// Refuses settings that are not a JSON object, naming the problem.
fn check_settings(text: &str) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(invalid("settings_json must be a JSON object")),
        Err(e) => Err(invalid(format!("settings_json is not valid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body_json(op: &str, document: &[u8], settings: Option<&str>) -> Value {
        let body = Operation::named(op)
            .unwrap()
            .body(Document::Bytes(document), settings, &Call::default())
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn finds_operations_without_regard_to_case() {
        assert_eq!(
            Operation::named("recognizepdf").unwrap().name(),
            "RecognizePdf"
        );
        assert_eq!(Operation::named("DJVU2PDF").unwrap().name(), "DjVu2PDF");
        let err = Operation::named("RecognizeEverything").unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("RecognizeEverything"));
        assert!(err.message().contains("RecognizeImageTrial"));
    }

    #[test]
    fn builds_each_family_of_bodies() {
        let body = body_json("RecognizePdf", b"%PDF-1.4", None);
        assert_eq!(body["image"], "JVBERi0xLjQ=");
        assert_eq!(body["settings"]["resultType"], "Pdf");
        assert_eq!(body["settings"]["dsrMode"], "Regions");
        let body = body_json("RecognizeTable", b"png", None);
        assert_eq!(body["settings"]["resultTypeTable"], "Text");
        let body = body_json("BinarizeImage", b"png", None);
        assert_eq!(body, json!({"image": "cG5n"}));
        let body = body_json("ConvertTextToSpeech", "Grüße \"x\"".as_bytes(), None);
        assert_eq!(
            body,
            json!({"text": "Grüße \"x\"", "settings": {"language": "English", "resultType": "Wav"}})
        );
        let body = body_json("RecognizeImage", b"", Some(r#"{"resultType":"Hocr"}"#));
        assert_eq!(
            body,
            json!({"image": "", "settings": {"resultType": "Hocr"}})
        );
    }

    #[test]
    fn encodes_files_in_pieces_like_bytes() {
        let dir = std::env::temp_dir().join(format!("ocrcloud-ops-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("doc.bin");
        let pdf = Operation::RECOGNIZE_PDF;
        for len in [
            0usize,
            1,
            2,
            3,
            (3 << 20) - 1,
            3 << 20,
            (3 << 20) + 1,
            7_000_001,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            assert_eq!(
                pdf.body(Document::File(&path), None, &Call::default())
                    .unwrap(),
                pdf.body(Document::Bytes(&data), None, &Call::default())
                    .unwrap(),
                "{len}"
            );
        }
        std::fs::write(&path, "Grüße").unwrap();
        let tts = Operation::named("ConvertTextToSpeech").unwrap();
        assert_eq!(
            tts.body(Document::File(&path), None, &Call::default())
                .unwrap(),
            tts.body(Document::Bytes("Grüße".as_bytes()), None, &Call::default())
                .unwrap()
        );
        for missing in [dir.join("missing.pdf"), dir.clone()] {
            let err = pdf
                .body(Document::File(&missing), None, &Call::default())
                .unwrap_err();
            assert_eq!(err.code(), Code::Io, "{err}");
            assert!(err.message().contains("cannot read"), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_settings_that_are_not_an_object_and_text_that_is_not_utf8() {
        let pdf = Operation::RECOGNIZE_PDF;
        for bad in ["[]", "\"x\"", "{", "{\"a\":}", ""] {
            let err = pdf
                .body(Document::Bytes(b"x"), Some(bad), &Call::default())
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
            assert!(err.message().contains("settings_json"), "{err}");
        }
        let tts = Operation::named("ConvertTextToSpeech").unwrap();
        assert_eq!(
            tts.body(Document::Bytes(b"\xff"), None, &Call::default())
                .unwrap_err()
                .code(),
            Code::InvalidArgument
        );
        let binarize = Operation::named("BinarizeImage").unwrap();
        let err = binarize
            .body(Document::Bytes(b"png"), Some("{}"), &Call::default())
            .unwrap_err();
        assert!(err.message().contains("takes no settings"), "{err}");
    }
}
