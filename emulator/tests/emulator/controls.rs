//! Fixtures, task inspection, statistics and reset.

use std::thread::sleep;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::{Emulator, agent, body_for, document_body, is_guid, query_encode};

/// The raw `results` of a task's GET answer (no shape check: fixtures may serve anything).
fn raw_answer(emulator: &Emulator, id: &str) -> Value {
    let reply = emulator.get(
        &format!("/v5.0/ocr/RecognizePdf?id={}", query_encode(id)),
        None,
    );
    assert_eq!(reply.status, 200);
    reply.json()
}

#[test]
fn fixture_results_from_data_text_file_and_generate() {
    let emulator = Emulator::start(&["--no-auth"]);
    let file =
        std::env::temp_dir().join(format!("ocrcloud-emulator-fixture-{}", std::process::id()));
    std::fs::write(&file, b"file bytes\x00\xff").unwrap();
    let id = emulator.fixture(json!({"results": [
        {"type": "Pdf", "data": "not base64 at all!"},
        {"type": "Text", "text": "Grüße"},
        {"type": "Other", "file": file},
        {"type": "ImagePNG", "generate": {"bytes": 1000}},
    ]}));
    std::fs::remove_file(&file).unwrap();
    assert!(is_guid(&id), "{id}");
    let answer = emulator.fetch("RecognizePdf", &id, None);
    assert_eq!(answer["taskStatus"], "Completed");
    assert_eq!(answer["responseStatusCode"], "Ok");
    assert_eq!(answer["error"], Value::Null);
    let results = answer["results"].as_array().unwrap();
    let decoded = |index: usize| {
        STANDARD
            .decode(results[index]["data"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(
        results[0],
        json!({"type": "Pdf", "data": "not base64 at all!"})
    );
    assert_eq!(decoded(1), "Grüße".as_bytes());
    assert_eq!(decoded(2), b"file bytes\x00\xff");
    assert_eq!(
        decoded(3),
        (0..1000)
            .map(|index| (index % 251) as u8)
            .collect::<Vec<u8>>()
    );
    assert_eq!(results[3]["type"], "ImagePNG");
}

#[test]
fn a_64_mib_generated_fixture_is_quick() {
    let emulator = Emulator::start(&["--no-auth"]);
    let started = Instant::now();
    let id =
        emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": 64 << 20}}]}));
    let reply = emulator.get(&format!("/v5.0/ocr/RecognizePdf?id={id}"), None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let prefix = format!(
        r#"{{"id":"{id}","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Pdf","data":""#
    );
    let suffix = r#""}],"error":null}"#;
    assert!(reply.body.starts_with(prefix.as_bytes()) && reply.body.ends_with(suffix.as_bytes()));
    let data = &reply.body[prefix.len()..reply.body.len() - suffix.len()];
    assert_eq!(data.len(), (64 << 20) / 3 * 4 + 4);
    // Check the first and last 3000 bytes.
    let first = STANDARD.decode(&data[..4000]).unwrap();
    let last = STANDARD.decode(&data[data.len() - 4000..]).unwrap();
    let expected = |offset: usize, len: usize| {
        (offset..offset + len)
            .map(|index| (index % 251) as u8)
            .collect::<Vec<u8>>()
    };
    assert_eq!(first, expected(0, 3000));
    assert_eq!(last, expected((64 << 20) - last.len(), last.len()));
}

#[test]
fn fixture_statuses_and_errors_are_served_as_given() {
    let emulator = Emulator::start(&["--no-auth"]);
    let queued = emulator.fixture(json!({"id": "queued", "taskStatus": "Queued"}));
    assert_eq!(queued, "queued");
    assert_eq!(
        raw_answer(&emulator, "queued"),
        json!({"id": "queued", "taskStatus": "Queued", "responseStatusCode": "NotReady", "results": null, "error": null})
    );
    emulator.fixture(json!({
        "id": "odd", "taskStatus": "Completed", "responseStatusCode": "PartiallyNotFound",
        "results": [], "error": {"messages": null, "warnings": ["page 2 is empty"]},
    }));
    assert_eq!(
        raw_answer(&emulator, "odd"),
        json!({"id": "odd", "taskStatus": "Completed", "responseStatusCode": "PartiallyNotFound",
               "results": [], "error": {"messages": null, "warnings": ["page 2 is empty"]}})
    );
    emulator.fixture(json!({
        "id": "failed", "taskStatus": "Error",
        "error": {"messages": ["Recognition failed", "Page 3 is broken"], "warnings": []},
    }));
    let answer = emulator.fetch("RecognizePdf", "failed", None);
    assert_eq!(answer["responseStatusCode"], "Error");
    assert_eq!(
        answer["error"]["messages"],
        json!(["Recognition failed", "Page 3 is broken"])
    );
    assert_eq!(emulator.status("failed", None)["error"], answer["error"]);
}

#[test]
fn fixtures_can_walk_pending_and_processing() {
    let emulator = Emulator::start(&["--no-auth"]);
    let started = Instant::now();
    let id = emulator.fixture(json!({"id": "a b/ç", "pendingMs": 500, "processingMs": 500, "results": [{"type": "Text", "text": "done"}]}));
    assert_eq!(id, "a b/ç");
    let at = |milliseconds| {
        sleep(Duration::from_millis(milliseconds).saturating_sub(started.elapsed()));
        emulator.fetch("RecognizePdf", &id, None)["taskStatus"].clone()
    };
    assert_eq!(at(0), "Pending");
    assert_eq!(at(750), "Processing");
    assert_eq!(at(1250), "Completed");
}

#[test]
fn an_array_of_fixtures_is_made_whole_and_counts_from_one_moment() {
    let emulator = Emulator::start(&["--no-auth"]);
    let specs: Vec<Value> = (0..200)
        .map(|i| json!({"pendingMs": 400 + 8 * i, "results": [{"type": "Text", "text": format!("task {i}")}]}))
        .chain([json!({"id": "last", "pendingMs": 2000})])
        .collect();
    let reply = emulator.control("tasks", &Value::Array(specs));
    let started = Instant::now();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let ids: Vec<String> = reply.text().lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 201);
    assert!(ids[..200].iter().all(|id| is_guid(id)), "{ids:?}");
    assert_eq!(ids[200], "last");
    // Task i completes 400 + 8i ms after the answer at the latest: at 800 ms the first 50 are
    // done (400 + 8 x 49 = 792), and the last 50 (from 400 + 8 x 150 = 1600 ms) are not.
    sleep(Duration::from_millis(800).saturating_sub(started.elapsed()));
    let status = |id: &str| emulator.fetch("RecognizePdf", id, None)["taskStatus"].clone();
    let checked = Instant::now();
    for (i, id) in ids.iter().enumerate().take(50) {
        assert_eq!(status(id), "Completed", "task {i}");
    }
    for (i, id) in ids.iter().enumerate().skip(150).take(50) {
        assert_eq!(status(id), "Pending", "task {i}");
    }
    assert!(
        checked.elapsed() < Duration::from_millis(800),
        "a slow machine"
    );
    assert_eq!(
        raw_answer(&emulator, &ids[0])["results"][0]["data"],
        STANDARD.encode("task 0")
    );

    // One bad fixture refuses them all.
    emulator.control("reset", &json!({}));
    let mixed = json!([{"id": "good"}, {"id": "bad", "status": "Completed"}]);
    emulator.control("tasks", &mixed).problem(400);
    emulator.get("/_emulator/tasks/good", None).problem(404);
}

#[test]
fn invalid_fixtures_are_rejected() {
    let emulator = Emulator::start(&[]);
    for spec in [
        json!({"status": "Completed"}),
        json!({"results": [{"type": "Pdf"}]}),
        json!({"results": [{"type": "Pdf", "data": "", "text": ""}]}),
        json!({"results": [{"data": ""}]}),
        json!({"results": [{"type": "Pdf", "file": "/nonexistent/ocrcloud-emulator"}]}),
        json!([]),
    ] {
        emulator.control("tasks", &spec).problem(400);
    }
}

/// Sizes beyond the fixture limit (`--max-body-bytes`, for all results together) and sources
/// that are not regular files are `400`, and the emulator goes on serving.
#[test]
fn oversized_fixtures_and_endless_files_are_refused() {
    let emulator = Emulator::start(&["--no-auth", "--max-body-bytes", "1000"]);
    let dir =
        std::env::temp_dir().join(format!("ocrcloud-emulator-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let big_file = dir.join("big");
    std::fs::write(&big_file, vec![7u8; 1001]).unwrap();
    let generate = |bytes: u64| json!({"type": "Pdf", "generate": {"bytes": bytes}});
    for (spec, reason) in [
        (
            json!({"results": [generate(100_000_000_000)]}),
            "more than 1000 bytes",
        ),
        (
            json!({"results": [generate(u64::MAX)]}),
            "more than 1000 bytes",
        ),
        (
            json!({"results": [generate(600), generate(600)]}),
            "more than 1000 bytes",
        ),
        (
            json!({"results": [{"type": "Pdf", "file": big_file}]}),
            "more than 1000 bytes",
        ),
        (
            json!({"results": [{"type": "Pdf", "file": "/dev/zero"}]}),
            "not a regular file",
        ),
        (
            json!({"results": [{"type": "Pdf", "file": fifo}]}),
            "not a regular file",
        ),
    ] {
        let problem = emulator.control("tasks", &spec).problem(400);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{spec}: {detail}");
    }
    let id = emulator.fixture(json!({"results": [generate(600), generate(400)]}));
    assert_eq!(
        emulator.fetch("RecognizePdf", &id, None)["taskStatus"],
        "Completed"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn inspection_shows_request_polls_and_status() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "60000"]);
    let token = emulator.token();
    let body = document_body(b"%PDF-1.4", "TextAndPdf");
    let id = emulator.submit("RecognizePdf", Some(&token), &body);
    emulator.fetch("RecognizePdf", &id, Some(&token));
    emulator.fetch("RecognizePdf", &id, Some(&token));
    emulator.status(&id, Some(&token));
    let reply = emulator.get(&format!("/_emulator/tasks/{id}"), None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let mut shown = reply.json();
    // The shortest time between two GETs of the task: two were sent, so it is a number.
    let gap = shown
        .as_object_mut()
        .unwrap()
        .remove("shortestPollGapMs")
        .expect("the shortest gap between two polls");
    assert!(gap.as_f64().is_some_and(|ms| ms >= 0.0), "{gap}");
    assert_eq!(
        shown,
        json!({"id": id, "operation": "RecognizePdf", "taskStatus": "Processing", "request": body, "polls": 3,
               "pendingMs": 0.0, "processingMs": 60000.0})
    );
    let fixture = emulator.fixture(json!({"operation": "RecognizeImage", "taskStatus": "Error"}));
    assert_eq!(
        emulator
            .get(&format!("/_emulator/tasks/{fixture}"), None)
            .json(),
        json!({"id": fixture, "operation": "RecognizeImage", "taskStatus": "Error", "request": null, "polls": 0,
               "pendingMs": 0.0, "processingMs": 0.0, "shortestPollGapMs": null})
    );
    emulator.get("/_emulator/tasks/unknown", None).problem(404);
}

#[test]
fn processing_times_are_log_normal_and_the_same_for_the_same_seed() {
    let times = |seed: &str| -> Vec<f64> {
        let emulator = Emulator::start(&[
            "--pending-ms",
            "0",
            "--processing-ms",
            "1000",
            "--processing-sigma",
            "0.5",
            "--seed",
            seed,
        ]);
        let token = emulator.token();
        let body = document_body(b"%PDF-1.4", "Text");
        (0..200)
            .map(|_| {
                let id = emulator.submit("RecognizePdf", Some(&token), &body);
                let task = emulator.get(&format!("/_emulator/tasks/{id}"), None).json();
                task["processingMs"].as_f64().unwrap()
            })
            .collect()
    };
    let first = times("7");
    assert_eq!(first, times("7"));
    assert_ne!(first, times("8"));
    let logs: Vec<f64> = first.iter().map(|ms| (ms / 1000.0).ln()).collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
    assert!(
        mean.abs() < 0.12 && (sd - 0.5).abs() < 0.08,
        "mean {mean}, sd {sd}"
    );
}

#[test]
fn stats_count_requests_routes_and_connections() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    let id = emulator.submit("RecognizeImage", Some(&token), &body_for("RecognizeImage"));
    emulator.fetch("RecognizeImage", &id, Some(&token));
    emulator.get(&format!("/v5.0/RECOGNIZEIMAGE?id={id}"), Some(&token));
    emulator.get("/nothing", None);
    emulator.get(&format!("/_emulator/tasks/{id}"), None);
    let stats = emulator.stats();
    assert_eq!(stats["requests"], 5);
    assert_eq!(stats["token_requests"], 1);
    assert_eq!(
        stats["by_route"],
        json!({
            "POST /connect/token": 1,
            "POST /v5.0/ocr/RecognizeImage": 1,
            "GET /v5.0/ocr/RecognizeImage": 1,
            "GET /v5.0/RECOGNIZEIMAGE": 1,
            "GET /nothing": 1,
        })
    );
    assert_eq!(stats["connections_open"], 1);
    assert_eq!(stats["connections_max"], 1);
    assert_eq!(stats["connections_total"], 1);

    // Four more clients, each keeping its connection alive.
    let clients: Vec<ureq::Agent> = (0..4).map(|_| agent()).collect();
    for client in &clients {
        let mut response = client
            .get(emulator.url("/v5.0/ocr/RecognizeImage?id=x"))
            .call()
            .unwrap();
        response.body_mut().read_to_vec().unwrap();
    }
    let stats = emulator.stats();
    assert_eq!(stats["connections_open"], 5);
    assert_eq!(stats["connections_max"], 5);
    assert_eq!(stats["connections_total"], 5);
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(5);
    while emulator.stats()["connections_open"] != 1 {
        assert!(
            Instant::now() < deadline,
            "closed connections are still counted as open"
        );
        sleep(Duration::from_millis(20));
    }
    assert_eq!(emulator.stats()["connections_max"], 5);
}

#[test]
fn reset_forgets_everything() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    let id = emulator.submit("RecognizeImage", Some(&token), &body_for("RecognizeImage"));
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizeImage", "kind": "status", "status": 500}));
    let reply = emulator.control("reset", &json!({}));
    assert_eq!(reply.status, 204);
    assert_eq!(
        emulator.stats(),
        json!({"requests": 0, "by_route": {}, "token_requests": 0,
               "rate_limited": 0, "open_task_limited": 0, "discarded_bytes": 0,
               "tasks_submitted": 0,
               "connections_open": 1, "connections_max": 1, "connections_total": 0,
               "tls_handshakes": 0, "tls_handshake_failures": 0})
    );
    assert_eq!(
        emulator
            .get(&format!("/v5.0/ocr/RecognizeImage?id={id}"), Some(&token))
            .status,
        401
    );
    let token = emulator.token();
    assert_eq!(
        emulator.fetch("RecognizeImage", &id, Some(&token))["taskStatus"],
        "NotExist"
    );
}

#[test]
fn discard_bodies_counts_a_submission_and_throws_it_away_unread() {
    let emulator = Emulator::instant(&["--discard-bodies", "--max-body-bytes", "200"]);
    let token = emulator.token();
    let mut body = b"{\"image\":\"not even base64".to_vec();
    body.resize(300, b'x');
    let reply = emulator.post_raw("/v5.0/ocr/RecognizePdf", Some(&token), body.clone());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.text();
    assert_eq!(emulator.stats()["discarded_bytes"], body.len() as u64);
    assert_eq!(
        emulator.fetch("RecognizePdf", &id, Some(&token))["taskStatus"],
        "Error"
    );
    let refused = emulator.post_raw("/v5.0/ocr/RecognizePdf", None, body);
    assert_eq!(refused.status, 401);
    assert_eq!(
        emulator.stats()["discarded_bytes"],
        300,
        "a refused body is not counted"
    );
    assert_eq!(
        emulator.stats()["tasks_submitted"],
        1,
        "a refused submission made no task"
    );
}
