//! Bad POST bodies get 400 with a problem body that says what is wrong.

use serde_json::{Value, json};

use crate::common::{Emulator, document_body};

/// Posts `body` and returns the problem's detail.
fn rejected(emulator: &Emulator, operation: &str, body: &[u8]) -> String {
    let reply = emulator.post_raw(&format!("/v5.0/ocr/{operation}"), None, body.to_vec());
    reply.problem(400)["detail"].as_str().unwrap().to_owned()
}

fn rejected_json(emulator: &Emulator, operation: &str, body: Value) -> String {
    rejected(emulator, operation, body.to_string().as_bytes())
}

#[test]
fn invalid_json_is_rejected() {
    let emulator = Emulator::instant(&["--no-auth"]);
    for body in [
        &b"{\"image\": "[..],
        b"",
        b"not json",
        b"[1, 2]",
        b"\"text\"",
    ] {
        rejected(&emulator, "RecognizePdf", body);
    }
}

#[test]
fn invalid_base64_is_rejected() {
    let emulator = Emulator::instant(&["--no-auth"]);
    for image in ["JVBERi0", "JVBER!0=", "JVBE Ri0=", "JVBERi0-", "JVBERi0x=="] {
        let detail = rejected_json(
            &emulator,
            "RecognizePdf",
            json!({"image": image, "settings": {}}),
        );
        assert!(detail.contains("base64"), "{image}: {detail}");
    }
}

#[test]
fn unknown_properties_are_named() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let mut body = document_body(b"%PDF-", "Text");
    body["imageUrl"] = json!("http://example.com");
    let detail = rejected_json(&emulator, "RecognizePdf", body);
    assert!(detail.contains("imageUrl"), "{detail}");
    let detail = rejected_json(&emulator, "BinarizeImage", json!({"image": "", "mode": 1}));
    assert!(detail.contains("mode"), "{detail}");
    let detail = rejected_json(
        &emulator,
        "ConvertTextToSpeech",
        json!({"text": "", "voice": "x"}),
    );
    assert!(detail.contains("voice"), "{detail}");
}

#[test]
fn required_properties_must_be_there() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let settings = json!({"resultType": "Text"});
    for (operation, body, named) in [
        ("RecognizePdf", json!({"settings": settings}), "image"),
        (
            "RecognizeImage",
            json!({"image": null, "settings": settings}),
            "image",
        ),
        (
            "RecognizeImage",
            json!({"image": 5, "settings": settings}),
            "image",
        ),
        ("RecognizePdf", json!({"image": "JVBERi0="}), "settings"),
        (
            "RecognizePdf",
            json!({"image": "JVBERi0=", "settings": "Text"}),
            "settings",
        ),
        ("BinarizeImage", json!({}), "image"),
        (
            "ConvertTextToSpeech",
            json!({"settings": {"language": "English"}}),
            "text",
        ),
    ] {
        let detail = rejected_json(&emulator, operation, body);
        assert!(detail.contains(named), "{operation}: {detail}");
    }
}

#[test]
fn unknown_setting_values_are_named() {
    let emulator = Emulator::instant(&["--no-auth"]);
    for (operation, key, value) in [
        ("RecognizePdf", "resultType", "Docx"),
        ("RecognizeImage", "dsrMode", "Sideways"),
        ("RecognizeImage", "dsrConfidence", "Certain"),
        ("RecognizeTable", "resultTypeTable", "Pdf"),
        ("ConvertTextToSpeech", "resultType", "Mp3"),
    ] {
        let mut body = if operation == "ConvertTextToSpeech" {
            json!({"text": "x", "settings": {}})
        } else {
            document_body(b"%PDF-", "Text")
        };
        body["settings"][key] = json!(value);
        let detail = rejected_json(&emulator, operation, body);
        assert!(detail.contains(value) && detail.contains(key), "{detail}");
    }
    let mut body = document_body(b"%PDF-", "Text");
    body["settings"]["resultType"] = json!(3);
    rejected_json(&emulator, "RecognizePdf", body);
}

#[test]
fn full_settings_in_any_case_are_accepted() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let settings = json!({
        "language": "English", "makeSkewCorrect": true, "Rotate": 0,
        "makeBinarization": false, "makeContrastCorrection": false, "makeUpsampling": false,
        "makeSpellCheck": false, "dsrMode": "regions", "DSRCONFIDENCE": "midhigh",
        "resultType": "PDF", "resultTypeTable": null,
        "regions": [{"rect": {"topLeftX": 0, "topLeftY": 0, "bottomRightX": 9, "bottomRightY": 9}, "order": 0}],
    });
    for rotate in ["Rotate", "rotate"] {
        let mut settings = settings.clone();
        settings[rotate] = json!(90);
        let body = json!({"image": "JVBERi0=", "settings": settings});
        let reply = emulator.post_json("/v5.0/ocr/RecognizePdf", None, &body);
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}
