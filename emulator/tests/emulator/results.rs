//! The deterministic results of every operation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::{Emulator, document_body, fixed_sentence, pdf_with_text};

const TEXT_LAYER: &str = "Hello, (PDF) world!\nSecond line\n";

/// Submits without a token (the emulator runs with `--no-auth`) and returns the results.
fn run(emulator: &Emulator, operation: &str, body: &Value) -> Vec<(String, Vec<u8>)> {
    let id = emulator.submit(operation, None, body);
    emulator.results(operation, &id, None)
}

fn types(results: &[(String, Vec<u8>)]) -> Vec<&str> {
    results.iter().map(|(kind, _)| kind.as_str()).collect()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn pdf_result_is_the_submitted_document() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let document = [b"%PDF-1.5\n".as_slice(), &(0..=255).collect::<Vec<u8>>()].concat();
    let results = run(&emulator, "RecognizePdf", &document_body(&document, "Pdf"));
    assert_eq!(results, [("Pdf".to_owned(), document)]);
}

#[test]
fn text_of_a_pdf_comes_from_its_text_layer() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let results = run(
        &emulator,
        "RecognizePdf",
        &document_body(&pdf_with_text(), "Text"),
    );
    assert_eq!(types(&results), ["Text"]);
    assert_eq!(text(&results[0].1), TEXT_LAYER);
}

#[test]
fn text_of_a_pdf_without_text_layer_is_the_fixed_sentence() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let document = b"%PDF-1.4\n1 0 obj\n<< /Filter /FlateDecode /Length 12 >>\nstream\n(x) Tj bytes\nendstream\nendobj\n";
    let results = run(&emulator, "RecognizePdf", &document_body(document, "Text"));
    assert_eq!(text(&results[0].1), fixed_sentence(document));
    assert!(text(&results[0].1).starts_with(&format!(
        "Recognized text of a {}-byte document with SHA-256 ",
        document.len()
    )));
}

#[test]
fn result_type_defaults_to_text_and_ignores_case() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let body = json!({"image": STANDARD.encode(pdf_with_text()), "settings": {}});
    assert_eq!(types(&run(&emulator, "RecognizePdf", &body)), ["Text"]);
    let body = json!({"IMAGE": STANDARD.encode(pdf_with_text()), "Settings": {"RESULTTYPE": "textandpdf"}});
    assert_eq!(
        types(&run(&emulator, "RecognizePdf", &body)),
        ["Text", "Pdf"]
    );
}

#[test]
fn combined_result_types_give_one_result_per_format_in_order() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let document = pdf_with_text();
    for (result_type, expected) in [
        ("TextAndPdf", vec!["Text", "Pdf"]),
        ("TextAndHocr", vec!["Text", "Hocr"]),
        ("PdfAndHocr", vec!["Pdf", "Hocr"]),
        ("TextAndPdfAndHocr", vec!["Text", "Pdf", "Hocr"]),
        ("Hocr", vec!["Hocr"]),
        ("ImagePNG", vec!["ImagePNG"]),
        ("JSON", vec!["JSON"]),
    ] {
        let results = run(
            &emulator,
            "RecognizePdf",
            &document_body(&document, result_type),
        );
        assert_eq!(types(&results), expected, "{result_type}");
        for (kind, data) in &results {
            match kind.as_str() {
                "Text" => assert_eq!(text(data), TEXT_LAYER),
                "Pdf" => assert_eq!(data, &document),
                "Hocr" => {
                    let hocr = text(data);
                    assert!(hocr.starts_with("<?xml"), "{hocr}");
                    assert!(hocr.contains("class=\"ocr_page\""), "{hocr}");
                    assert!(hocr.contains(">Hello, (PDF) world!</span>"), "{hocr}");
                    assert!(hocr.contains(">Second line</span>"), "{hocr}");
                }
                "ImagePNG" => assert!(data.starts_with(b"\x89PNG\r\n\x1a\n")),
                "JSON" => {
                    let json: Value = serde_json::from_slice(data).unwrap();
                    assert_eq!(json, json!({ "text": TEXT_LAYER }));
                }
                other => panic!("unexpected type {other}"),
            }
        }
    }
}

#[test]
fn a_document_that_is_not_a_pdf_ends_in_error() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let id = emulator.submit("RecognizePdf", None, &document_body(b"GIF89a...", "Pdf"));
    assert_eq!(
        emulator.fetch("RecognizePdf", &id, None),
        json!({
            "id": id, "taskStatus": "Error", "responseStatusCode": "Error", "results": null,
            "error": {"messages": ["The document is not a PDF file."], "warnings": []},
        })
    );
}

#[test]
fn image_recognition_results_describe_the_image() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let image = b"\x89PNG\r\n\x1a\nnot really an image";
    let sentence = fixed_sentence(image);
    for operation in [
        "RecognizeImage",
        "RecognizeReceipt",
        "RecognizeRegions",
        "RecognizeLabel",
        "RecognizeAndParseInvoice",
        "RecognizeImageTrial",
        "DetectRegions",
    ] {
        let results = run(
            &emulator,
            operation,
            &document_body(image, "TextAndPdfAndHocr"),
        );
        assert_eq!(types(&results), ["Text", "Pdf", "Hocr"], "{operation}");
        assert_eq!(text(&results[0].1), sentence, "{operation}");
        // The PDF is valid enough for RecognizePdf to read its text back.
        let pdf_text = run(
            &emulator,
            "RecognizePdf",
            &document_body(&results[1].1, "Text"),
        );
        assert_eq!(text(&pdf_text[0].1), format!("{sentence}\n"), "{operation}");
        assert!(text(&results[2].1).contains(&sentence));
        let results = run(&emulator, operation, &document_body(image, "JSON"));
        assert_eq!(
            serde_json::from_slice::<Value>(&results[0].1).unwrap(),
            json!({"text": sentence})
        );
    }
}

#[test]
fn identify_font_names_a_font() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let results = run(&emulator, "IdentifyFont", &document_body(b"glyphs", "Text"));
    let font = text(&results[0].1);
    assert!(font.starts_with("Identified font "), "{font}");
    assert!(
        font.contains(" in a 6-byte document with SHA-256 "),
        "{font}"
    );
    let again = run(&emulator, "IdentifyFont", &document_body(b"glyphs", "Text"));
    assert_eq!(results, again);
}

#[test]
fn tables_follow_result_type_table() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let image = b"table image";
    let sentence = fixed_sentence(image);
    let body = |table_type: &str| json!({"image": STANDARD.encode(image), "settings": {"resultTypeTable": table_type}});
    let results = run(&emulator, "RecognizeTable", &body("CsvAndExcel"));
    assert_eq!(types(&results), ["Csv", "Excel"]);
    assert_eq!(text(&results[0].1), format!("\"{sentence}\"\r\n"));
    assert_eq!(results[1].1, results[0].1);
    let results = run(&emulator, "RecognizeTable", &body("csv"));
    assert_eq!(types(&results), ["Csv"]);
    let results = run(&emulator, "RecognizeTable", &document_body(image, "Pdf"));
    assert_eq!(
        types(&results),
        ["Text"],
        "RecognizeTable ignores resultType"
    );
}

#[test]
fn djvu_to_pdf_gives_one_pdf() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let djvu = b"AT&TFORM djvu";
    let results = run(&emulator, "DjVu2PDF", &document_body(djvu, "Text"));
    assert_eq!(types(&results), ["Pdf"]);
    let pdf_text = run(
        &emulator,
        "RecognizePdf",
        &document_body(&results[0].1, "Text"),
    );
    assert_eq!(text(&pdf_text[0].1), format!("{}\n", fixed_sentence(djvu)));
}

#[test]
fn image_processing_returns_the_image() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let image: Vec<u8> = (0..=255).rev().collect();
    for operation in [
        "BinarizeImage",
        "DeskewImage",
        "DewarpImage",
        "UpscaleImage",
    ] {
        let body = json!({"image": STANDARD.encode(&image)});
        assert_eq!(
            run(&emulator, operation, &body),
            [("ImagePNG".to_owned(), image.clone())]
        );
    }
}

#[test]
fn text_to_speech_gives_a_wav_of_silence() {
    let emulator = Emulator::instant(&["--no-auth"]);
    for operation in ["ConvertTextToSpeech", "ConvertTextToSpeechTrial"] {
        let body =
            json!({"text": "Hello", "settings": {"language": "English", "resultType": "wav"}});
        let results = run(&emulator, operation, &body);
        assert_eq!(types(&results), ["WavFile"]);
        let wav = &results[0].1;
        assert_eq!(wav.len(), 44 + 5 * 1600);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(&wav[36..40], b"data");
        assert!(wav[44..].iter().all(|&sample| sample == 0));
    }
    let flat = json!({"text": "Hi", "language": "English", "resultType": "Wav"});
    assert_eq!(
        run(&emulator, "ConvertTextToSpeech", &flat)[0].1.len(),
        44 + 2 * 1600
    );
}
