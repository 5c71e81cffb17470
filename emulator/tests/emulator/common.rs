//! Starts the emulator binary and talks to it over real HTTP (or HTTPS).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::Digest;
use ureq::http::{Method, Request};

/// A running emulator, killed when dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT` (`https://` with TLS)
    pub base: String,
    agent: ureq::Agent,
}

/// An answer: status, headers and the whole body.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts an RFC 7807 problem answer with this status and returns its body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["status"], status);
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{body}"
        );
        body
    }
}

/// A client with its own connection pool (and, for HTTPS, Mozilla's roots only).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A client with its own connection pool that trusts only the CA certificates in `ca_pem`.
pub fn agent_trusting(ca_pem: &[u8]) -> ureq::Agent {
    let roots = ureq::tls::parse_pem(ca_pem)
        .filter_map(|item| match item.unwrap() {
            ureq::tls::PemItem::Certificate(certificate) => Some(certificate),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert!(!roots.is_empty(), "no certificate in the CA file");
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .tls_config(tls)
        .build()
        .into()
}

/// A path for a file of this test under Cargo's temporary directory, unique in this run.
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("emulator-tests");
    std::fs::create_dir_all(&directory).unwrap();
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    directory.join(format!("{}-{unique}-{name}", std::process::id()))
}

impl Emulator {
    /// Starts the emulator on a free port with these extra arguments.
    pub fn start(args: &[&str]) -> Emulator {
        let mut child = spawn(&[&["--listen", "127.0.0.1:0"], args].concat());
        let line = first_line(&mut child);
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Emulator {
            child,
            base,
            agent: agent(),
        }
    }

    /// Starts the emulator over HTTPS with `--tls-self-signed`, and a client that trusts its CA.
    /// Returns the CA certificate (PEM) too.
    pub fn https(args: &[&str]) -> (Emulator, Vec<u8>) {
        let ca_out = temp_path("ca.pem");
        let mut emulator =
            Emulator::start(&[&["--tls-self-signed", ca_out.to_str().unwrap()], args].concat());
        assert!(emulator.base.starts_with("https://"), "{}", emulator.base);
        // The CA file is complete once the first line is out.
        let ca_pem = std::fs::read(&ca_out).expect("the CA is written before the first line");
        std::fs::remove_file(&ca_out).unwrap();
        emulator.agent = agent_trusting(&ca_pem);
        (emulator, ca_pem)
    }

    /// Replaces the client that the helpers use.
    pub fn with_agent(mut self, agent: ureq::Agent) -> Emulator {
        self.agent = agent;
        self
    }

    /// `HOST:PORT`, without the scheme.
    pub fn address(&self) -> &str {
        self.base.split_once("://").unwrap().1
    }

    /// Starts the emulator with tasks that are final at once.
    pub fn instant(args: &[&str]) -> Emulator {
        Emulator::start(&[&["--pending-ms", "0", "--processing-ms", "0"], args].concat())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional bearer token and body `(content type, bytes)`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(self.url(path));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let result = match body {
            Some((content_type, bytes)) => self.agent.run(
                request
                    .header("content-type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        };
        let mut response = result.unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .expect("the whole body");
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body,
        }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, &[], None)
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("DELETE", path, token, &[], None)
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.post_raw(path, token, body.to_string().into_bytes())
    }

    pub fn post_raw(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
        self.send("POST", path, token, &[], Some(("application/json", body)))
    }

    /// `POST /connect/token` with a form body.
    pub fn post_form(&self, form: &str, headers: &[(&str, &str)]) -> Reply {
        let body = (
            "application/x-www-form-urlencoded",
            form.as_bytes().to_vec(),
        );
        self.send("POST", "/connect/token", None, headers, Some(body))
    }

    /// A control request: `POST /_emulator/{path}` with a JSON body.
    pub fn control(&self, path: &str, body: &Value) -> Reply {
        self.post_json(&format!("/_emulator/{path}"), None, body)
    }

    /// Queues faults and checks that they were accepted.
    pub fn fault(&self, spec: Value) {
        let reply = self.control("faults", &spec);
        assert_eq!(reply.status, 204, "{}", reply.text());
    }

    /// Creates a fixture task and returns its id.
    pub fn fixture(&self, spec: Value) -> String {
        let reply = self.control("tasks", &spec);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        reply.text()
    }

    pub fn stats(&self) -> Value {
        self.get("/_emulator/stats", None).json()
    }

    /// A token for the default credentials.
    pub fn token(&self) -> String {
        let reply = self.post_form(
            "grant_type=client_credentials&client_id=demo&client_secret=demo-secret",
            &[],
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// Submits a task and returns its id.
    pub fn submit(&self, operation: &str, token: Option<&str>, body: &Value) -> String {
        let reply = self.post_json(&format!("/v5.0/ocr/{operation}"), token, body);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        reply.text()
    }

    /// The GET answer for a task, checked for its exact shape.
    pub fn fetch(&self, operation: &str, id: &str, token: Option<&str>) -> Value {
        let reply = self.get(
            &format!("/v5.0/ocr/{operation}?id={}", query_encode(id)),
            token,
        );
        checked_answer(&reply)
    }

    /// The `GetTaskStatus` answer for a task, checked for its exact shape.
    pub fn status(&self, id: &str, token: Option<&str>) -> Value {
        let path = format!("/v5.0/ocr/Utilities/GetTaskStatus?id={}", query_encode(id));
        checked_answer(&self.get(&path, token))
    }

    /// The decoded results of a completed task as `(type, bytes)`.
    pub fn results(
        &self,
        operation: &str,
        id: &str,
        token: Option<&str>,
    ) -> Vec<(String, Vec<u8>)> {
        let answer = self.fetch(operation, id, token);
        assert_eq!(answer["taskStatus"], "Completed", "{answer}");
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|result| {
                let data = STANDARD.decode(result["data"].as_str().unwrap()).unwrap();
                (result["type"].as_str().unwrap().to_owned(), data)
            })
            .collect()
    }

    /// Sends raw bytes on a new TCP connection (no TLS) and returns everything read until it
    /// closes.
    pub fn raw(&self, request: &str) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.address()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0; 65_536];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return received,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
            }
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with its stdout piped.
pub fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ocrcloud-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the emulator starts")
}

/// The first line the child prints on stdout.
pub fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim_end().to_owned()
}

/// Checks a `200 application/json` task answer and returns it.
pub fn checked_answer(reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let answer = reply.json();
    assert_answer_shape(&answer);
    answer
}

/// Exactly the five fields, with the service's enum spellings.
pub fn assert_answer_shape(answer: &Value) {
    let mut keys: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["error", "id", "responseStatusCode", "results", "taskStatus"],
        "{answer}"
    );
    let expected_code = match answer["taskStatus"].as_str().unwrap() {
        "Pending" | "Processing" => "NotReady",
        "Completed" => "Ok",
        "Error" => "Error",
        "NotExist" => "TaskNotFound",
        other => panic!("unexpected taskStatus {other}"),
    };
    assert_eq!(answer["responseStatusCode"], expected_code, "{answer}");
}

/// Percent-encodes a query value.
pub fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A small PDF with a text layer (one uncompressed content stream).
pub fn pdf_with_text() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
      4 0 obj\n<< /Length 80 >>\nstream\n\
      BT /F1 12 Tf 72 720 Td (Hello, \\(PDF\\) world\\041) Tj 0 -14 Td [(Sec) -250 (ond line)] TJ ET\n\
      endstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
        .to_vec()
}

/// A body for `RecognizePdf` and the image operations.
pub fn document_body(document: &[u8], result_type: &str) -> Value {
    json!({
        "image": STANDARD.encode(document),
        "settings": { "language": "English", "resultType": result_type },
    })
}

/// The text the emulator "recognizes" in a document without a text layer.
pub fn fixed_sentence(document: &[u8]) -> String {
    format!(
        "Recognized text of a {}-byte document with SHA-256 {:x}.",
        document.len(),
        sha2::Sha256::digest(document)
    )
}

/// Every operation, as the documentation spells it.
pub const OPERATIONS: [&str; 17] = [
    "RecognizePdf",
    "RecognizeImage",
    "RecognizeReceipt",
    "RecognizeTable",
    "RecognizeRegions",
    "RecognizeLabel",
    "RecognizeAndParseInvoice",
    "DetectRegions",
    "IdentifyFont",
    "DjVu2PDF",
    "BinarizeImage",
    "DeskewImage",
    "DewarpImage",
    "UpscaleImage",
    "RecognizeImageTrial",
    "ConvertTextToSpeech",
    "ConvertTextToSpeechTrial",
];

/// A valid POST body for any operation.
pub fn body_for(operation: &str) -> Value {
    match operation {
        "ConvertTextToSpeech" | "ConvertTextToSpeechTrial" => {
            json!({"text": "Hello", "settings": {"language": "English", "resultType": "Wav"}})
        }
        "BinarizeImage" | "DeskewImage" | "DewarpImage" | "UpscaleImage" => {
            json!({"image": STANDARD.encode(b"image bytes")})
        }
        "RecognizePdf" => document_body(&pdf_with_text(), "Text"),
        _ => document_body(b"image bytes", "Text"),
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|group| group.bytes().all(|byte| byte.is_ascii_hexdigit()))
}
