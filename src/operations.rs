//! The service's operations and the body each one takes.

use crate::error::{Result, invalid};
use base64_simd::STANDARD;

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

    /// The shape of the POST body.
    pub fn shape(&self) -> BodyShape {
        self.shape
    }

    /// Trial operations are called without a token.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// The settings sent when the caller gives none (empty for operations without settings).
    pub fn default_settings(&self) -> &'static str {
        self.default_settings
    }

    /// The POST body for `document` with `settings` (a JSON object; `None` for the defaults).
    ///
    /// The document is base64-encoded for image operations; for text to speech it is the text
    /// itself and must be UTF-8.
    pub fn body(&self, document: &[u8], settings: Option<&str>) -> Result<Vec<u8>> {
        let settings = match settings {
            Some(_) if self.shape == BodyShape::ImageOnly => {
                return Err(invalid(format!("{} takes no settings", self.name)));
            }
            Some(text) => {
                check_settings(text)?;
                text
            }
            None => self.default_settings,
        };
        let mut body = Vec::new();
        match self.shape {
            BodyShape::ImageAndSettings | BodyShape::ImageOnly => {
                let encoded = STANDARD.encoded_length(document.len());
                body.try_reserve_exact(encoded + settings.len() + 32)
                    .map_err(|_| invalid("the document is too large to encode in memory"))?;
                body.extend_from_slice(b"{\"image\":\"");
                STANDARD.encode_append(document, &mut body);
                body.push(b'"');
            }
            BodyShape::TextAndSettings => {
                let text = std::str::from_utf8(document).map_err(|_| {
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
    use crate::error::Code;
    use serde_json::{Value, json};

    fn body_json(op: &str, document: &[u8], settings: Option<&str>) -> Value {
        let body = Operation::named(op)
            .unwrap()
            .body(document, settings)
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
    fn refuses_settings_that_are_not_an_object_and_text_that_is_not_utf8() {
        let pdf = Operation::RECOGNIZE_PDF;
        for bad in ["[]", "\"x\"", "{", "{\"a\":}", ""] {
            let err = pdf.body(b"x", Some(bad)).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
            assert!(err.message().contains("settings_json"), "{err}");
        }
        let tts = Operation::named("ConvertTextToSpeech").unwrap();
        assert_eq!(
            tts.body(b"\xff", None).unwrap_err().code(),
            Code::InvalidArgument
        );
        let binarize = Operation::named("BinarizeImage").unwrap();
        let err = binarize.body(b"png", Some("{}")).unwrap_err();
        assert!(err.message().contains("takes no settings"), "{err}");
    }
}
