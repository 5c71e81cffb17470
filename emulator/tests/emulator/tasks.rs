//! Paths, the task lifecycle, GET, DELETE and GetTaskStatus.

use std::thread::sleep;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::{
    Emulator, OPERATIONS, body_for, checked_answer, document_body, is_guid, query_encode,
};

#[test]
fn every_operation_answers_on_both_paths_in_any_case() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    for operation in OPERATIONS {
        let lower = operation.to_lowercase();
        let spellings = [
            format!("/v5.0/ocr/{operation}"),
            format!("/v5.0/{operation}"),
            format!("/V5.0/OCR/{lower}"),
            format!("/v5.0/{}", operation.to_uppercase()),
        ];
        for (index, path) in spellings.iter().enumerate() {
            let reply = emulator.post_json(path, Some(&token), &body_for(operation));
            assert_eq!(reply.status, 200, "POST {path}: {}", reply.text());
            let id = reply.text();
            // Fetch through another spelling than the one used to submit.
            let other = &spellings[(index + 1) % spellings.len()];
            let answer = checked_answer(&emulator.get(&format!("{other}?id={id}"), Some(&token)));
            assert_eq!(answer["id"], id.as_str());
            assert_eq!(answer["taskStatus"], "Completed", "GET {other}: {answer}");
        }
    }
}

#[test]
fn post_answers_a_bare_guid_as_text() {
    let emulator = Emulator::instant(&["--no-auth"]);
    for operation in OPERATIONS {
        let id = emulator.submit(operation, None, &body_for(operation));
        if operation.starts_with("ConvertTextToSpeech") {
            let guid = id
                .strip_prefix("TTS")
                .unwrap_or_else(|| panic!("{operation}: {id}"));
            assert!(is_guid(guid), "{operation}: {id}");
        } else {
            assert!(is_guid(&id), "{operation}: {id}");
        }
    }
}

#[test]
fn tasks_go_pending_then_processing_then_completed() {
    let emulator = Emulator::start(&["--no-auth", "--pending-ms", "600", "--processing-ms", "600"]);
    let started = Instant::now();
    let id = emulator.submit("RecognizeImage", None, &body_for("RecognizeImage"));
    let at = |milliseconds| {
        sleep(Duration::from_millis(milliseconds).saturating_sub(started.elapsed()));
        emulator.fetch("RecognizeImage", &id, None)
    };
    for (milliseconds, status) in [(0, "Pending"), (900, "Processing")] {
        let answer = at(milliseconds);
        assert_eq!(
            answer,
            json!({"id": id, "taskStatus": status, "responseStatusCode": "NotReady", "results": null, "error": null})
        );
        assert_eq!(emulator.status(&id, None)["taskStatus"], status);
    }
    let answer = at(1500);
    assert_eq!(answer["taskStatus"], "Completed");
    assert_eq!(answer["responseStatusCode"], "Ok");
    assert_eq!(answer["error"], Value::Null);
    assert_eq!(answer["results"].as_array().unwrap().len(), 1);
}

#[test]
fn unknown_ids_do_not_exist() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    for id in [
        "nope",
        "db03b9ea-3eed-4954-a1d4-b2712773bbe",
        "a b/c?d&e=f%",
        "Grüße",
        "",
    ] {
        let expected = json!({
            "id": id, "taskStatus": "NotExist", "responseStatusCode": "TaskNotFound",
            "results": null, "error": null,
        });
        assert_eq!(emulator.fetch("RecognizePdf", id, Some(&token)), expected);
        assert_eq!(emulator.status(id, Some(&token)), expected);
    }
}

#[test]
fn ids_are_case_sensitive_and_looked_up_across_operations() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let id = emulator.submit("RecognizeImage", None, &body_for("RecognizeImage"));
    assert_eq!(
        emulator.fetch("RecognizeReceipt", &id, None)["taskStatus"],
        "Completed"
    );
    let upper = id.to_uppercase();
    assert_eq!(
        emulator.fetch("RecognizeImage", &upper, None)["taskStatus"],
        "NotExist"
    );
}

#[test]
fn missing_id_is_a_bad_request() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    for path in [
        "/v5.0/ocr/RecognizePdf",
        "/v5.0/ocr/RecognizePdf?task=1",
        "/v5.0/ocr/Utilities/GetTaskStatus",
    ] {
        emulator.get(path, Some(&token)).problem(400);
    }
    emulator
        .delete("/v5.0/ocr/RecognizePdf", Some(&token))
        .problem(400);
}

#[test]
fn delete_removes_the_task() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    let id = emulator.submit("RecognizeImage", Some(&token), &body_for("RecognizeImage"));
    assert_eq!(
        emulator.fetch("RecognizeImage", &id, Some(&token))["taskStatus"],
        "Completed"
    );
    let reply = emulator.delete(&format!("/v5.0/ocr/RecognizeImage?id={id}"), Some(&token));
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    assert_eq!(
        emulator.fetch("RecognizeImage", &id, Some(&token))["taskStatus"],
        "NotExist"
    );
    let reply = emulator.delete("/v5.0/ocr/RecognizeImage?id=never-existed", Some(&token));
    assert_eq!(reply.status, 200);
}

#[test]
fn get_task_status_has_no_result_data() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let id = emulator.submit("RecognizeImage", None, &body_for("RecognizeImage"));
    assert_eq!(
        emulator.status(&id, None),
        json!({"id": id, "taskStatus": "Completed", "responseStatusCode": "Ok", "results": null, "error": null})
    );
    for path in [
        "/v5.0/Utilities/GetTaskStatus",
        "/V5.0/OCR/utilities/gettaskstatus",
    ] {
        let answer = checked_answer(&emulator.get(&format!("{path}?id={id}"), None));
        assert_eq!(answer["results"], Value::Null);
        assert_eq!(answer["taskStatus"], "Completed");
    }
    let failed = emulator.submit("RecognizePdf", None, &document_body(b"not a pdf", "Text"));
    let answer = emulator.status(&failed, None);
    assert_eq!(answer["taskStatus"], "Error");
    assert_eq!(
        answer["error"]["messages"][0],
        "The document is not a PDF file."
    );
}

#[test]
fn tasks_expire_after_the_retention_time() {
    let emulator = Emulator::instant(&["--no-auth", "--retention-s", "1"]);
    let id = emulator.submit("RecognizeImage", None, &body_for("RecognizeImage"));
    assert_eq!(
        emulator.fetch("RecognizeImage", &id, None)["taskStatus"],
        "Completed"
    );
    sleep(Duration::from_millis(1100));
    assert_eq!(
        emulator.fetch("RecognizeImage", &id, None)["taskStatus"],
        "NotExist"
    );
    assert_eq!(
        emulator.get(&format!("/_emulator/tasks/{id}"), None).status,
        404
    );
}

#[test]
fn large_bodies_get_413() {
    let emulator = Emulator::instant(&["--no-auth", "--max-body-bytes", "1000"]);
    let small = document_body(&[7; 100], "Text");
    assert_eq!(
        emulator
            .post_json("/v5.0/ocr/RecognizeImage", None, &small)
            .status,
        200
    );
    let large = document_body(&[7; 2000], "Text");
    emulator
        .post_json("/v5.0/ocr/RecognizeImage", None, &large)
        .problem(413);
}

#[test]
fn a_64_mib_document_round_trips() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let pattern: Vec<u8> = (0..=240).collect();
    let mut document = [
        b"%PDF-1.7\n".as_slice(),
        &pattern.repeat((64 << 20) / 241 + 1),
    ]
    .concat();
    document.truncate(64 << 20);
    let image = STANDARD.encode(&document);
    let body = format!(r#"{{"image":"{image}","settings":{{"resultType":"Pdf"}}}}"#);
    let reply = emulator.post_raw("/v5.0/ocr/RecognizePdf", None, body.into_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.text();
    let reply = emulator.get(
        &format!("/v5.0/ocr/RecognizePdf?id={}", query_encode(&id)),
        None,
    );
    assert_eq!(reply.status, 200);
    // Compare the base64 text (canonical, so equal text means equal bytes) without parsing
    // 90 MB of JSON.
    let prefix = format!(
        r#"{{"id":"{id}","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Pdf","data":""#
    );
    let suffix = r#""}],"error":null}"#;
    assert!(reply.body.starts_with(prefix.as_bytes()));
    assert!(reply.body.ends_with(suffix.as_bytes()));
    assert!(reply.body[prefix.len()..reply.body.len() - suffix.len()] == *image.as_bytes());
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    for path in [
        "/",
        "/v5.0/ocr/RecognizeNothing",
        "/v5.0/ocr",
        "/v4.0/ocr/RecognizePdf",
        "/_emulator/nothing",
    ] {
        emulator.get(path, Some(&token)).problem(404);
    }
    for method in ["PUT", "PATCH"] {
        let reply = emulator.send(
            method,
            "/v5.0/ocr/RecognizePdf?id=x",
            Some(&token),
            &[],
            None,
        );
        reply.problem(405);
    }
    emulator.get("/connect/token", None).problem(405);
    emulator
        .post_json(
            "/v5.0/ocr/Utilities/GetTaskStatus",
            Some(&token),
            &json!({}),
        )
        .problem(405);
}
