//! The service's operations and the body each one takes.

use crate::error::{Code, Error, Result, invalid};
use crate::upload::{Upload, unreadable};
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
    /// For image operations the document is sent as base64 encoded while the body is sent
    /// (an `Upload`); a file document must be a regular file, opened here. For text to speech
    /// it is the text itself, which must be UTF-8, and the body is built in memory.
    pub fn body<'a>(&self, document: Document<'a>, settings: Option<&str>) -> Result<Body<'a>> {
        let settings = self.settings(settings)?;
        let rest = if settings.is_empty() {
            "}".to_string()
        } else {
            format!(",\"settings\":{settings}}}")
        };
        if self.shape != BodyShape::TextAndSettings {
            let suffix = format!("\"{rest}");
            return Ok(Body::Upload(match document {
                Document::Bytes(bytes) => Upload::of_bytes(bytes, suffix),
                Document::File(path) => Upload::of_file(open_document(path)?, path, suffix),
            }));
        }
        let owned;
        let bytes = match document {
            Document::Bytes(bytes) => bytes,
            Document::File(path) => {
                let mut text = Vec::new();
                open_document(path)?
                    .read_to_end(&mut text)
                    .map_err(|e| unreadable(path, e))?;
                owned = text;
                &owned
            }
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| invalid(format!("{} takes UTF-8 text as its document", self.name)))?;
        let text = serde_json::to_string(text).expect("a string always serializes");
        Ok(Body::Bytes(format!("{{\"text\":{text}{rest}").into_bytes()))
    }
}

/// The document to submit: bytes in memory, or a file that is read while the body is sent (so
/// memory use does not grow with its size).
#[derive(Clone, Copy, Debug)]
pub enum Document<'a> {
    /// The document's bytes.
    Bytes(&'a [u8]),
    /// The path of the document's file.
    File(&'a Path),
}

/// A POST body.
#[derive(Debug)]
pub enum Body<'a> {
    /// Built in memory.
    Bytes(Vec<u8>),
    /// Streamed from a document while it is sent.
    Upload(Upload<'a>),
}

/// Opens a document. Only a regular file is read: a FIFO would wait for a writer for ever and
/// a device may never end.
fn open_document(path: &Path) -> Result<std::fs::File> {
    let file = crate::faults::file_step(crate::faults::Step::FileRead)
        .and_then(|()| crate::platform::files::open_for_reading(path))
        .map_err(|e| unreadable(path, e))?;
    let metadata = file.metadata().map_err(|e| unreadable(path, e))?;
    if !metadata.is_file() {
        return Err(Error::new(
            Code::Io,
            format!("cannot read {}: not a regular file", path.display()),
        ));
    }
    Ok(file)
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
    use crate::call::Call;
    use serde_json::{Value, json};

    /// The whole body, as sent.
    fn bytes_of(body: Result<Body>) -> Result<Vec<u8>> {
        match body? {
            Body::Bytes(bytes) => Ok(bytes),
            Body::Upload(upload) => {
                let call = Call::default();
                let mut reader = upload.reader(&call)?;
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).unwrap();
                assert_eq!(bytes.len() as u64, reader.length());
                Ok(bytes)
            }
        }
    }

    fn body_json(op: &str, document: &[u8], settings: Option<&str>) -> Value {
        let body = Operation::named(op)
            .unwrap()
            .body(Document::Bytes(document), settings);
        serde_json::from_slice(&bytes_of(body).unwrap()).unwrap()
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
            (3 << 16) - 1,
            3 << 16,
            (3 << 16) + 1,
            (3 << 20) + 1,
            7_000_001,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            let expected = format!(
                "{{\"image\":\"{}\",\"settings\":{RECOGNIZE_PDF_SETTINGS}}}",
                base64_simd::STANDARD.encode_to_string(&data)
            );
            let from_file = bytes_of(pdf.body(Document::File(&path), None)).unwrap();
            assert!(from_file == expected.as_bytes(), "{len}");
            let from_bytes = bytes_of(pdf.body(Document::Bytes(&data), None)).unwrap();
            assert!(from_bytes == expected.as_bytes(), "{len}");
        }
        std::fs::write(&path, "Grüße").unwrap();
        let tts = Operation::named("ConvertTextToSpeech").unwrap();
        assert_eq!(
            bytes_of(tts.body(Document::File(&path), None)).unwrap(),
            bytes_of(tts.body(Document::Bytes("Grüße".as_bytes()), None)).unwrap()
        );
        for missing in [dir.join("missing.pdf"), dir.clone()] {
            let err = bytes_of(pdf.body(Document::File(&missing), None)).unwrap_err();
            assert_eq!(err.code(), Code::Io, "{err}");
            assert!(err.message().contains("cannot read"), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_settings_that_are_not_an_object_and_text_that_is_not_utf8() {
        let pdf = Operation::RECOGNIZE_PDF;
        for bad in ["[]", "\"x\"", "{", "{\"a\":}", ""] {
            let err = bytes_of(pdf.body(Document::Bytes(b"x"), Some(bad))).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
            assert!(err.message().contains("settings_json"), "{err}");
        }
        let tts = Operation::named("ConvertTextToSpeech").unwrap();
        assert_eq!(
            bytes_of(tts.body(Document::Bytes(b"\xff"), None))
                .unwrap_err()
                .code(),
            Code::InvalidArgument
        );
        let binarize = Operation::named("BinarizeImage").unwrap();
        let err = bytes_of(binarize.body(Document::Bytes(b"png"), Some("{}"))).unwrap_err();
        assert!(err.message().contains("takes no settings"), "{err}");
    }
}
