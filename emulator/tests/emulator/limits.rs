//! `--rate-limit` and `--max-open-tasks`: 429s with `Retry-After`, separate budgets, recovery,
//! controls never limited, and the statistics.
//!
//! Timing: a burst of a few requests on loopback takes milliseconds. Where an assertion needs the
//! burst to fit in the one-second window, the test measures that it did and otherwise stops
//! early instead of failing.

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Emulator, Reply, body_for, spawn};

const STATUS: &str = "/v5.0/ocr/Utilities/GetTaskStatus?id=none";
const TRIAL_STATUS: &str = "/v5.0/ocr/RecognizeImageTrial?id=none";

/// Whether everything since `started` fits well inside the one-second window.
fn quick(started: Instant) -> bool {
    let quick = started.elapsed() < Duration::from_millis(800);
    if !quick {
        eprintln!(
            "the machine is too slow for this check: {:?}",
            started.elapsed()
        );
    }
    quick
}

/// Asserts a `429` problem with a whole-second `Retry-After` of at least 1 and returns it.
fn assert_limited(reply: &Reply, detail: &str) -> u64 {
    let body = reply.problem(429);
    assert!(body["detail"].as_str().unwrap().contains(detail), "{body}");
    let seconds: u64 = reply
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!((1..=1).contains(&seconds), "Retry-After: {seconds}");
    seconds
}

#[test]
fn a_burst_over_the_rate_limit_gets_429_then_passes_after_retry_after() {
    let emulator = Emulator::instant(&["--rate-limit", "5"]);
    let token = emulator.token();
    let started = Instant::now();
    let statuses: Vec<u16> = (0..5)
        .map(|_| emulator.get(STATUS, Some(&token)).status)
        .collect();
    assert_eq!(statuses, [200; 5], "the first N always pass");
    let refused: Vec<Reply> = (0..3).map(|_| emulator.get(STATUS, Some(&token))).collect();
    if !quick(started) {
        return;
    }
    let mut retry_after = 0;
    for reply in &refused {
        retry_after = assert_limited(reply, "--rate-limit 5");
    }
    let stats = emulator.stats();
    assert_eq!(stats["rate_limited"], 3, "{stats}");
    assert_eq!(stats["open_task_limited"], 0, "{stats}");
    assert_eq!(
        stats["requests"],
        1 + 5 + 3,
        "refused requests still count: {stats}"
    );
    assert_eq!(
        stats["by_route"]["GET /v5.0/ocr/Utilities/GetTaskStatus"],
        8
    );

    sleep(Duration::from_secs(retry_after) + Duration::from_millis(50));
    assert_eq!(emulator.get(STATUS, Some(&token)).status, 200);

    assert_eq!(emulator.control("reset", &json!({})).status, 204);
    let stats = emulator.stats();
    assert_eq!(stats["rate_limited"], 0, "{stats}");
    assert_eq!(stats["requests"], 0, "{stats}");
}

#[test]
fn tokens_and_the_tokenless_address_have_separate_budgets() {
    let emulator = Emulator::instant(&["--rate-limit", "3"]);
    let started = Instant::now();
    // Token requests carry no bearer token: they spend the client address's budget.
    let first = emulator.token();
    let second = emulator.token();
    for _ in 0..3 {
        assert_eq!(emulator.get(STATUS, Some(&first)).status, 200);
    }
    let first_refused = emulator.get(STATUS, Some(&first));
    let second_statuses: Vec<u16> = (0..3)
        .map(|_| emulator.get(STATUS, Some(&second)).status)
        .collect();
    // The address has one request left of three: a trial call, then a refusal.
    let trial = emulator.get(TRIAL_STATUS, None).status;
    let trial_refused = emulator.get(TRIAL_STATUS, None);
    let second_refused = emulator.get(STATUS, Some(&second));
    // Even a token that is not valid has a budget of its own, spent before it is checked.
    let unknown: Vec<u16> = (0..4)
        .map(|_| emulator.get(STATUS, Some("not-a-token")).status)
        .collect();
    if !quick(started) {
        return;
    }
    assert_limited(&first_refused, "per token");
    assert_eq!(second_statuses, [200; 3]);
    assert_eq!(trial, 200);
    assert_limited(&trial_refused, "--rate-limit 3");
    assert_limited(&second_refused, "--rate-limit 3");
    assert_eq!(unknown[..3], [401; 3]);
    assert_eq!(unknown[3], 429);
    assert_eq!(emulator.stats()["rate_limited"], 4);
}

#[test]
fn controls_are_never_limited_and_reset_forgets_the_windows() {
    let emulator = Emulator::instant(&["--rate-limit", "1", "--no-auth"]);
    let started = Instant::now();
    assert_eq!(emulator.get(TRIAL_STATUS, None).status, 200);
    let refused = emulator.get(TRIAL_STATUS, None);
    for _ in 0..10 {
        assert_eq!(emulator.get("/_emulator/stats", None).status, 200);
        emulator.fixture(json!({}));
        emulator.fault(json!({"path": "/nowhere", "kind": "drop"}));
    }
    assert_eq!(emulator.control("reset", &json!({})).status, 204);
    // A fresh window after the reset.
    let after_reset = emulator.get(TRIAL_STATUS, None).status;
    if !quick(started) {
        return;
    }
    assert_limited(&refused, "--rate-limit 1");
    assert_eq!(after_reset, 200);
    let stats = emulator.stats();
    assert_eq!(stats["requests"], 1, "{stats}");
    assert_eq!(stats["rate_limited"], 0, "{stats}");
}

#[test]
fn requests_answered_by_a_fault_spend_no_slot() {
    let emulator = Emulator::instant(&["--rate-limit", "2", "--no-auth"]);
    emulator.fault(json!({"path": "*", "kind": "status", "status": 503, "count": 3}));
    let started = Instant::now();
    let statuses: Vec<u16> = (0..6)
        .map(|_| emulator.get(TRIAL_STATUS, None).status)
        .collect();
    if !quick(started) {
        return;
    }
    assert_eq!(statuses, [503, 503, 503, 200, 200, 429]);
}

#[test]
fn the_open_task_limit_refuses_the_next_submission_until_a_task_finishes() {
    let emulator = Emulator::start(&[
        "--max-open-tasks",
        "2",
        "--pending-ms",
        "300",
        "--processing-ms",
        "900",
    ]);
    let first = emulator.token();
    let second = emulator.token();
    let body = body_for("RecognizeImage");
    let post = |token: &str| emulator.post_json("/v5.0/ocr/RecognizeImage", Some(token), &body);
    let started = Instant::now();
    let ids: Vec<String> = (0..2)
        .map(|_| emulator.submit("RecognizeImage", Some(&first), &body))
        .collect();
    let refused = post(&first);
    // Another token has its own budget; polls and an invalid body are not held back.
    let other = post(&second).status;
    let poll = emulator.get(STATUS, Some(&first)).status;
    let invalid = emulator.post_json("/v5.0/ocr/RecognizeImage", Some(&second), &json!({}));
    if !quick(started) {
        return;
    }
    assert_limited(&refused, "--max-open-tasks 2");
    assert_eq!(other, 200);
    assert_eq!(poll, 200);
    invalid.problem(400);
    assert_eq!(emulator.stats()["open_task_limited"], 1);

    // A deleted task no longer counts.
    assert_eq!(
        emulator
            .delete(
                &format!("/v5.0/ocr/RecognizeImage?id={}", ids[0]),
                Some(&first)
            )
            .status,
        200
    );
    let third = post(&first).status;
    let refused = post(&first);
    if !quick(started) {
        return;
    }
    assert_eq!(third, 200);
    assert_limited(&refused, "--max-open-tasks 2");

    // Once a task has finished, a submission passes again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while emulator.status(&ids[1], Some(&first))["taskStatus"] != "Completed" {
        assert!(Instant::now() < deadline, "the task never finished");
        sleep(Duration::from_millis(50));
    }
    assert_eq!(post(&first).status, 200);

    let stats = emulator.stats();
    assert_eq!(stats["open_task_limited"], 2, "{stats}");
    assert_eq!(stats["rate_limited"], 0, "{stats}");
    assert_eq!(emulator.control("reset", &json!({})).status, 204);
    assert_eq!(emulator.stats()["open_task_limited"], 0);
}

#[test]
fn trial_submissions_count_against_the_client_address() {
    let emulator = Emulator::start(&["--max-open-tasks", "1", "--pending-ms", "5000"]);
    let body = body_for("RecognizeImageTrial");
    emulator.submit("RecognizeImageTrial", None, &body);
    let reply = emulator.post_json("/v5.0/ocr/RecognizeImageTrial", None, &body);
    assert_limited(&reply, "--max-open-tasks 1");
    // Reset forgets the tasks, and with them the open ones.
    assert_eq!(emulator.control("reset", &json!({})).status, 204);
    emulator.submit("RecognizeImageTrial", None, &body);
}

#[test]
fn limits_below_one_are_rejected_at_start() {
    for flag in ["--rate-limit", "--max-open-tasks"] {
        let output = spawn(&["--listen", "127.0.0.1:0", flag, "0"])
            .wait_with_output()
            .unwrap();
        assert!(!output.status.success(), "{flag} 0");
        assert!(output.stdout.is_empty(), "{flag} 0");
    }
}
