//! Streamed submissions (issue 16): the body on the wire is the document's JSON byte for byte
//! with an exact `Content-Length`, whatever the size; a file that changes size while it is sent
//! fails clearly and the server never receives a whole body; a deadline or a cancel ends an
//! upload in the middle; a retry before the server took anything sends the whole body again.

mod common;

use common::{Client, Emulator, c, last_error, name};
use ocrcloud::ffi::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RECOGNIZE_PDF_SETTINGS: &str = r#"{"language":"English","makeSkewCorrect":true,"Rotate":0,"makeBinarization":false,"makeContrastCorrection":false,"makeUpsampling":false,"makeSpellCheck":false,"dsrMode":"Regions","dsrConfidence":"Default","resultType":"Pdf"}"#;

/// One request as the server received it.
struct Received {
    head: String,
    content_length: Option<u64>,
    body: Vec<u8>,
}

impl Received {
    fn complete(&self) -> bool {
        self.content_length == Some(self.body.len() as u64)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

/// How the recording server treats the requests of one test.
#[derive(Clone, Default)]
struct Behaviour {
    /// Body bytes read before `during` runs (while the server reads nothing).
    during_after: usize,
    during: Option<fn(&Path)>,
    /// The file `during` changes.
    file: Option<PathBuf>,
    /// A pause after each 64 KiB of body read: a slow server.
    pace: Option<Duration>,
    /// How many first requests are answered 503 (with `Retry-After: 0`).
    unavailable: usize,
}

/// A loopback HTTP server that records each request's head and body and answers a task id
/// (`Connection: close`), as the behaviour says.
struct Recorder {
    url: String,
    received: mpsc::Receiver<Received>,
}

impl Recorder {
    fn start(behaviour: Behaviour) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let refuse = n < behaviour.unavailable;
                let request = serve(stream, &behaviour, refuse);
                if sender.send(request).is_err() {
                    return;
                }
            }
        });
        Recorder { url, received }
    }

    /// The next request that arrived.
    fn next(&self) -> Received {
        self.received
            .recv_timeout(Duration::from_secs(30))
            .expect("a request arrived")
    }
}

fn serve(stream: TcpStream, behaviour: &Behaviour, refuse: bool) -> Received {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut request = Received {
        head,
        content_length: None,
        body: Vec::new(),
    };
    request.content_length = request
        .header("content-length")
        .and_then(|v| v.parse().ok());
    let expects = request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if refuse && expects {
        let _ = writer.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return request;
    }
    if expects {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
    }
    let length = request.content_length.unwrap_or(0) as usize;
    let mut during = behaviour.during;
    let mut piece = vec![0u8; 64 << 10];
    while request.body.len() < length {
        let want = piece.len().min(length - request.body.len());
        match reader.read(&mut piece[..want]) {
            Ok(0) | Err(_) => return request,
            Ok(n) => request.body.extend_from_slice(&piece[..n]),
        }
        if request.body.len() >= behaviour.during_after
            && let Some(change) = during.take()
        {
            change(behaviour.file.as_deref().expect("the file to change"));
        }
        if let Some(pace) = behaviour.pace {
            std::thread::sleep(pace);
        }
    }
    let answer: &[u8] = if refuse {
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nstreamed1"
    };
    let _ = writer.write_all(answer);
    request
}

/// The body the service expects for `document` with the default RecognizePdf settings.
fn expected_body(document: &[u8], settings: &str) -> Vec<u8> {
    format!(
        "{{\"image\":\"{}\",\"settings\":{settings}}}",
        base64_simd::STANDARD.encode_to_string(document)
    )
    .into_bytes()
}

/// `n` bytes that differ from size to size.
fn document(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocrcloud-streaming-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ocr_submit_file_ex` with a deadline (0: none) and a cancel token (NULL: none).
fn submit_file_ex(
    client: &Client,
    path: &Path,
    timeout_ms: u32,
    cancel: *mut ocr_cancel,
) -> ocr_code {
    let options = ocr_call_options_new();
    if timeout_ms > 0 {
        assert_eq!(
            unsafe { ocr_call_options_set_timeout_ms(options, timeout_ms) },
            OCR_OK
        );
    }
    if !cancel.is_null() {
        assert_eq!(
            unsafe { ocr_call_options_set_cancel(options, cancel) },
            OCR_OK
        );
    }
    let path = c(path.to_str().unwrap());
    let mut id = std::ptr::null_mut();
    let code = unsafe {
        ocr_submit_file_ex(
            client.0,
            std::ptr::null(),
            path.as_ptr(),
            std::ptr::null(),
            options,
            &mut id,
        )
    };
    unsafe { ocr_call_options_free(options) };
    if code == OCR_OK {
        unsafe { ocr_string_free(id) };
    } else {
        assert!(id.is_null(), "no task id on failure");
    }
    code
}

#[test]
fn the_body_on_the_wire_is_the_document_json_byte_for_byte_for_every_size() {
    let recorder = Recorder::start(Behaviour::default());
    let client = Client::with_token(&recorder.url, Some("token"));
    let dir = scratch("sizes");
    let path = dir.join("document.bin");
    let mut sizes = vec![
        0usize,
        1,
        2,
        3,
        4,
        5,
        (3 << 16) - 1,
        3 << 16,
        (3 << 16) + 1,
        (1 << 20) - 1,
        (3 << 20) - 1,
        3 << 20,
        (3 << 20) + 1,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..6 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        sizes.push((state >> 40) as usize % (5 << 20));
    }
    let custom = r#"{"resultType":"Text","language":"German"}"#;
    for (i, &size) in sizes.iter().enumerate() {
        let data = document(size, i as u64);
        std::fs::write(&path, &data).unwrap();
        let settings = if i.is_multiple_of(2) {
            None
        } else {
            Some(custom)
        };
        let expected = expected_body(&data, settings.unwrap_or(RECOGNIZE_PDF_SETTINGS));
        let from_file = client.submit_file(None, path.to_str().unwrap(), settings);
        assert_eq!(
            from_file.as_deref(),
            Ok("streamed1"),
            "{size}: {}",
            last_error()
        );
        let from_bytes = client.submit(None, &data, settings);
        assert_eq!(
            from_bytes.as_deref(),
            Ok("streamed1"),
            "{size}: {}",
            last_error()
        );
        for how in ["file", "bytes"] {
            let request = recorder.next();
            assert!(
                request.head.starts_with("POST /v5.0/ocr/RecognizePdf "),
                "{}",
                request.head
            );
            assert_eq!(request.header("transfer-encoding"), None, "{size} ({how})");
            assert_eq!(
                request.content_length,
                Some(expected.len() as u64),
                "{size} ({how}): Content-Length"
            );
            assert!(request.body == expected, "{size} ({how}): the body differs");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_streamed_document_reaches_the_emulator_whole() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch("emulator");
    let path = dir.join("document.pdf");
    let mut data = b"%PDF-1.4\n".to_vec();
    data.extend(document((3 << 20) + 1, 7));
    std::fs::write(&path, &data).unwrap();
    let id = client
        .submit_file(None, path.to_str().unwrap(), None)
        .unwrap_or_else(|code| panic!("{}: {}", name(code), last_error()));
    let result = client.poll(None, &id, None).expect("the task completes");
    assert_eq!(
        result.data(0).as_deref(),
        Some(&data[..]),
        "the PDF comes back as sent"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Submits a 32 MiB file that `change` alters once the server has 256 KiB of the body; the
/// call must fail with `OCR_ERR_IO` saying `says`, and the server must never get a whole body.
fn changed_while_sent(tag: &str, change: fn(&Path), says: &str) {
    let dir = scratch(tag);
    let path = dir.join("document.bin");
    std::fs::write(&path, document(32 << 20, 3)).unwrap();
    let recorder = Recorder::start(Behaviour {
        during_after: 256 << 10,
        during: Some(change),
        file: Some(path.clone()),
        ..Behaviour::default()
    });
    let client = Client::with_token(&recorder.url, Some("token"));
    let code = submit_file_ex(&client, &path, 0, std::ptr::null_mut());
    let message = last_error();
    assert_eq!(name(code), "OCR_ERR_IO", "{message}");
    assert!(
        message.contains(says) && message.contains("broken off"),
        "{message}"
    );
    assert!(message.contains("may exist"), "{message}");
    let request = recorder.next();
    assert!(!request.complete(), "the server received a whole body");
    assert!(
        request.content_length.unwrap() > request.body.len() as u64 + 1,
        "the body ends before its closing bytes"
    );
    assert!(
        recorder
            .received
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "the body was not sent again"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_that_shrinks_while_it_is_sent_fails_and_no_whole_body_arrives() {
    changed_while_sent(
        "shrinks",
        |path| {
            let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            file.set_len(16 << 20).unwrap();
        },
        "shrank",
    );
}

#[test]
fn a_file_that_grows_while_it_is_sent_fails_and_no_whole_body_arrives() {
    changed_while_sent(
        "grows",
        |path| {
            let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            file.write_all(b"more").unwrap();
        },
        "grew",
    );
}

/// A slow server and an 8 MiB file: the upload would take seconds.
fn slow_upload(tag: &str) -> (Recorder, Client, PathBuf) {
    let dir = scratch(tag);
    let path = dir.join("document.bin");
    std::fs::write(&path, document(8 << 20, 5)).unwrap();
    let recorder = Recorder::start(Behaviour {
        pace: Some(Duration::from_millis(20)),
        ..Behaviour::default()
    });
    let client = Client::with_token(&recorder.url, Some("token"));
    (recorder, client, path)
}

/// Runs a timed scenario up to 3 times: a late end counts only if it happens in 3 runs of 3,
/// so that a busy machine does not fail the test (every other check holds in each run).
fn on_time_once_in_three(mut scenario: impl FnMut() -> Option<String>) {
    let mut late = Vec::new();
    for _ in 0..3 {
        match scenario() {
            None => return,
            Some(why) => late.push(why),
        }
    }
    panic!("late in 3 runs of 3: {late:?}");
}

#[test]
fn a_deadline_ends_an_upload_in_the_middle() {
    on_time_once_in_three(|| {
        let (recorder, client, path) = slow_upload("deadline");
        let started = Instant::now();
        let code = submit_file_ex(&client, &path, 300, std::ptr::null_mut());
        let took = started.elapsed();
        let message = last_error();
        assert_eq!(name(code), "OCR_ERR_TIMEOUT", "{message}");
        assert!(message.contains("may exist"), "{message}");
        let request = recorder.next();
        assert!(
            !request.body.is_empty() && !request.complete(),
            "ended in the middle"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        (took >= Duration::from_millis(400)).then(|| format!("a 300 ms deadline took {took:?}"))
    });
}

#[test]
fn a_cancel_ends_an_upload_in_the_middle() {
    on_time_once_in_three(|| {
        let (recorder, client, path) = slow_upload("cancel");
        let cancel = ocr_cancel_new();
        let trigger = cancel as usize;
        let triggered = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
            Instant::now()
        });
        let code = submit_file_ex(&client, &path, 0, cancel);
        let ended = Instant::now();
        let message = last_error();
        let triggered = triggered.join().unwrap();
        unsafe { ocr_cancel_free(cancel) };
        assert_eq!(name(code), "OCR_ERR_CANCELLED", "{message}");
        let request = recorder.next();
        assert!(
            !request.body.is_empty() && !request.complete(),
            "ended in the middle"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        let after = ended.saturating_duration_since(triggered);
        (after >= Duration::from_millis(50)).then(|| format!("ended {after:?} after the cancel"))
    });
}

#[test]
fn a_retry_before_the_server_took_the_body_sends_it_whole_from_the_start() {
    let dir = scratch("retry");
    let path = dir.join("document.bin");
    // Small: the server reads the body, then answers 503. Large: it answers 503 to the
    // `Expect: 100-continue` before any of the body is sent.
    for size in [100_000usize, 2 << 20] {
        let data = document(size, 11);
        std::fs::write(&path, &data).unwrap();
        let recorder = Recorder::start(Behaviour {
            unavailable: 1,
            ..Behaviour::default()
        });
        let client = Client::with_token(&recorder.url, Some("token"));
        let id = client.submit_file(None, path.to_str().unwrap(), None);
        assert_eq!(id.as_deref(), Ok("streamed1"), "{size}: {}", last_error());
        let expected = expected_body(&data, RECOGNIZE_PDF_SETTINGS);
        let refused = recorder.next();
        assert_eq!(
            refused.content_length,
            Some(expected.len() as u64),
            "{size}"
        );
        let taken = recorder.next();
        assert!(taken.body == expected, "{size}: the retry's body differs");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
