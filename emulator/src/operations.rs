//! The API operations and the validation of their POST bodies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::problem::{Problem, parse_json};
use crate::results::{Format, RESULT_TYPES, TABLE_RESULT_TYPES};

/// Every operation under `/v5.0/ocr/{Operation}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    RecognizePdf,
    RecognizeImage,
    RecognizeReceipt,
    RecognizeTable,
    RecognizeRegions,
    RecognizeLabel,
    RecognizeAndParseInvoice,
    DetectRegions,
    IdentifyFont,
    DjVu2Pdf,
    BinarizeImage,
    DeskewImage,
    DewarpImage,
    UpscaleImage,
    RecognizeImageTrial,
    ConvertTextToSpeech,
    ConvertTextToSpeechTrial,
}

/// What kind of document an operation takes, which decides its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// `RecognizePdf`.
    Pdf,
    /// The image recognition operations.
    Image,
    /// `RecognizeTable`: results chosen by `resultTypeTable`.
    Table,
    /// `IdentifyFont`.
    Font,
    /// `DjVu2PDF`.
    DjVu,
    /// Binarize, deskew, dewarp and upscale.
    ImageProcessing,
}

impl Operation {
    pub const ALL: [Operation; 17] = [
        Operation::RecognizePdf,
        Operation::RecognizeImage,
        Operation::RecognizeReceipt,
        Operation::RecognizeTable,
        Operation::RecognizeRegions,
        Operation::RecognizeLabel,
        Operation::RecognizeAndParseInvoice,
        Operation::DetectRegions,
        Operation::IdentifyFont,
        Operation::DjVu2Pdf,
        Operation::BinarizeImage,
        Operation::DeskewImage,
        Operation::DewarpImage,
        Operation::UpscaleImage,
        Operation::RecognizeImageTrial,
        Operation::ConvertTextToSpeech,
        Operation::ConvertTextToSpeechTrial,
    ];

    /// The name as it appears in the path.
    pub fn name(self) -> &'static str {
        match self {
            Operation::RecognizePdf => "RecognizePdf",
            Operation::RecognizeImage => "RecognizeImage",
            Operation::RecognizeReceipt => "RecognizeReceipt",
            Operation::RecognizeTable => "RecognizeTable",
            Operation::RecognizeRegions => "RecognizeRegions",
            Operation::RecognizeLabel => "RecognizeLabel",
            Operation::RecognizeAndParseInvoice => "RecognizeAndParseInvoice",
            Operation::DetectRegions => "DetectRegions",
            Operation::IdentifyFont => "IdentifyFont",
            Operation::DjVu2Pdf => "DjVu2PDF",
            Operation::BinarizeImage => "BinarizeImage",
            Operation::DeskewImage => "DeskewImage",
            Operation::DewarpImage => "DewarpImage",
            Operation::UpscaleImage => "UpscaleImage",
            Operation::RecognizeImageTrial => "RecognizeImageTrial",
            Operation::ConvertTextToSpeech => "ConvertTextToSpeech",
            Operation::ConvertTextToSpeechTrial => "ConvertTextToSpeechTrial",
        }
    }

    /// The document kind, or `None` for text to speech.
    fn document_kind(self) -> Option<DocumentKind> {
        match self {
            Operation::RecognizePdf => Some(DocumentKind::Pdf),
            Operation::RecognizeTable => Some(DocumentKind::Table),
            Operation::IdentifyFont => Some(DocumentKind::Font),
            Operation::DjVu2Pdf => Some(DocumentKind::DjVu),
            Operation::BinarizeImage
            | Operation::DeskewImage
            | Operation::DewarpImage
            | Operation::UpscaleImage => Some(DocumentKind::ImageProcessing),
            Operation::ConvertTextToSpeech | Operation::ConvertTextToSpeechTrial => None,
            _ => Some(DocumentKind::Image),
        }
    }

    /// Trial operations need no token.
    pub fn is_trial(self) -> bool {
        matches!(
            self,
            Operation::RecognizeImageTrial | Operation::ConvertTextToSpeechTrial
        )
    }

    /// A fresh task id: a GUID, prefixed with `TTS` for text to speech.
    pub fn new_task_id(self) -> String {
        let guid = Uuid::new_v4();
        match self.document_kind() {
            Some(_) => guid.to_string(),
            None => format!("TTS{guid}"),
        }
    }
}

/// A validated POST body.
pub enum Submission {
    Document(Document),
    Speech { text: String },
}

/// A submitted document and the results asked for.
pub struct Document {
    pub kind: DocumentKind,
    /// The `image` property as submitted (canonical base64).
    pub base64: String,
    pub bytes: Vec<u8>,
    pub formats: &'static [Format],
}

const DSR_MODES: [&str; 8] = [
    "Regions",
    "DsrNoFilter",
    "DsrAndFilter",
    "NoDsrNoFilter",
    "TextDetector",
    "DsrPlusDetector",
    "PolygonalTextDetector",
    "LineDetector",
];

const DSR_CONFIDENCES: [&str; 8] = [
    "Default", "Low", "LowMid", "Mid", "MidHigh", "High", "Ultra", "All",
];

/// Validates the POST body of `operation`; property names and enum values ignore case.
pub fn parse_submission(operation: Operation, body: &[u8]) -> Result<Submission, Problem> {
    let Value::Object(body) = parse_json::<Value>(body)? else {
        return Err(Problem::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    match operation.document_kind() {
        Some(kind) => parse_document(operation, kind, body),
        None => parse_speech(operation, body),
    }
}

fn parse_document(
    operation: Operation,
    kind: DocumentKind,
    body: Map<String, Value>,
) -> Result<Submission, Problem> {
    let [image, settings] = properties(operation, body, ["image", "settings"])?;
    let Some(Value::String(base64)) = image else {
        return Err(Problem::bad_request(
            "The property \"image\" (a base64 string) is required.",
        ));
    };
    let bytes = STANDARD.decode(&base64).map_err(|error| {
        Problem::bad_request(format!(
            "The property \"image\" is not valid base64 (standard alphabet, padded): {error}"
        ))
    })?;
    let settings = match settings {
        Some(Value::Object(settings)) => settings,
        None if kind == DocumentKind::ImageProcessing => Map::new(),
        _ => {
            return Err(Problem::bad_request(
                "The property \"settings\" (an object) is required.",
            ));
        }
    };
    let result_type = enum_setting(&settings, "resultType", &RESULT_TYPES.map(|(name, _)| name))?;
    let table_result_type = enum_setting(
        &settings,
        "resultTypeTable",
        &TABLE_RESULT_TYPES.map(|(name, _)| name),
    )?;
    enum_setting(&settings, "dsrMode", &DSR_MODES)?;
    enum_setting(&settings, "dsrConfidence", &DSR_CONFIDENCES)?;
    let formats = match kind {
        DocumentKind::Table => formats_of(&TABLE_RESULT_TYPES, table_result_type),
        DocumentKind::DjVu => &[Format::Pdf],
        DocumentKind::ImageProcessing => &[Format::Png],
        DocumentKind::Pdf | DocumentKind::Image | DocumentKind::Font => {
            formats_of(&RESULT_TYPES, result_type)
        }
    };
    Ok(Submission::Document(Document {
        kind,
        base64,
        bytes,
        formats,
    }))
}

/// Text to speech: `{text, settings: {language, resultType}}`; the SDKs' flat
/// `{text, language, resultType}` is accepted too.
fn parse_speech(operation: Operation, body: Map<String, Value>) -> Result<Submission, Problem> {
    let [text, settings, _language, result_type] = properties(
        operation,
        body,
        ["text", "settings", "language", "resultType"],
    )?;
    let Some(Value::String(text)) = text else {
        return Err(Problem::bad_request(
            "The property \"text\" (a string) is required.",
        ));
    };
    let settings = match settings {
        Some(Value::Object(settings)) => settings,
        None => Map::new(),
        Some(_) => {
            return Err(Problem::bad_request(
                "The property \"settings\" must be an object.",
            ));
        }
    };
    enum_value("resultType", result_type.as_ref(), &["Wav"])?;
    enum_setting(&settings, "resultType", &["Wav"])?;
    Ok(Submission::Speech { text })
}

/// Picks the `names` out of `body` ignoring case; `null` counts as absent, anything else is
/// rejected.
fn properties<const N: usize>(
    operation: Operation,
    body: Map<String, Value>,
    names: [&str; N],
) -> Result<[Option<Value>; N], Problem> {
    let mut values = [const { None }; N];
    for (key, value) in body {
        let Some(index) = names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(&key))
        else {
            return Err(Problem::bad_request(format!(
                "Unknown property \"{key}\" in the body of {}; expected {}.",
                operation.name(),
                names.join(", ")
            )));
        };
        if !value.is_null() {
            values[index] = Some(value);
        }
    }
    Ok(values)
}

/// Checks the setting `key` (any case) against `names`; returns the canonical name.
fn enum_setting(
    settings: &Map<String, Value>,
    key: &str,
    names: &[&'static str],
) -> Result<Option<&'static str>, Problem> {
    let value = settings
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value);
    enum_value(key, value, names)
}

/// Checks an enum-like `value` (any case) against `names`; returns the canonical name.
fn enum_value(
    key: &str,
    value: Option<&Value>,
    names: &[&'static str],
) -> Result<Option<&'static str>, Problem> {
    let given = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(given)) => given,
        Some(_) => {
            return Err(Problem::bad_request(format!(
                "The setting \"{key}\" must be a string."
            )));
        }
    };
    match names.iter().find(|name| name.eq_ignore_ascii_case(given)) {
        Some(name) => Ok(Some(name)),
        None => Err(Problem::bad_request(format!(
            "Unknown value \"{given}\" for the setting \"{key}\"; expected one of {}.",
            names.join(", ")
        ))),
    }
}

/// The formats of a result type name; `Text` when none was given.
fn formats_of(
    table: &[(&'static str, &'static [Format])],
    name: Option<&str>,
) -> &'static [Format] {
    let name = name.unwrap_or("Text");
    table
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map_or(&[Format::Text], |(_, formats)| formats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_distinct_name() {
        for operation in Operation::ALL {
            let same_name = Operation::ALL
                .iter()
                .filter(|other| other.name().eq_ignore_ascii_case(operation.name()))
                .count();
            assert_eq!(same_name, 1, "{}", operation.name());
        }
    }

    #[test]
    fn settings_ignore_case_and_reject_unknown_values() {
        let body = br#"{"Image":"JVBERi0=","SETTINGS":{"ResultType":"textandpdf","rotate":90}}"#;
        let Ok(Submission::Document(document)) = parse_submission(Operation::RecognizePdf, body)
        else {
            panic!("valid body rejected");
        };
        assert_eq!(document.formats, &[Format::Text, Format::Pdf]);
        assert_eq!(document.bytes, b"%PDF-");

        let body = br#"{"image":"","settings":{"dsrMode":"Sideways"}}"#;
        let problem = parse_submission(Operation::RecognizeImage, body)
            .err()
            .unwrap();
        assert!(problem.body().contains("Sideways"), "{}", problem.body());
    }
}
