//! A loopback HTTPS server for the TLS tests, with certificates the tests make: it answers every
//! GET with a Completed task whose id is the one asked for, over keep-alive connections, and
//! counts connections and finished handshakes.

#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A certificate authority made for one test.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate as PEM, to trust it.
    pub pem: String,
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

/// A server certificate and its key, as DER.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Vec<u8>,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let key_der = key.serialize_der();
        Authority {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            key_der,
        }
    }

    /// A server certificate for `names`, valid from `not_before` to `not_after`.
    pub fn leaf(
        &self,
        names: &[&str],
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    ) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone(), self.der.clone()],
            key: key.serialize_der(),
        }
    }

    /// A currently valid server certificate for the loopback names and `ocr.test`.
    pub fn loopback_leaf(&self) -> Leaf {
        self.leaf(
            &["localhost", "127.0.0.1", "::1", "ocr.test"],
            (2020, 1, 1),
            (2099, 1, 1),
        )
    }

    /// The authority's own certificate served as if it were a server's.
    pub fn as_leaf(&self) -> Leaf {
        Leaf {
            chain: vec![self.der.clone()],
            key: self.key_der.clone(),
        }
    }
}

/// The running server.
pub struct TlsServer {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    handshakes: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl TlsServer {
    pub fn start(leaf: Leaf) -> TlsServer {
        TlsServer::start_with_limit(leaf, None)
    }

    /// A server that refuses a body longer than `limit` as a server with a size limit does:
    /// `100 Continue` (if asked for), `limit` bytes of the body, then `413` and a close with
    /// the rest unread.
    pub fn start_with_limit(leaf: Leaf, limit: Option<usize>) -> TlsServer {
        TlsServer::start_refusing(leaf, limit, false)
    }

    /// As [`TlsServer::start_with_limit`], but after the `413` the connection is held open and
    /// unread (a server that stops reading instead of closing).
    pub fn start_with_limit_then_hold(leaf: Leaf, limit: usize) -> TlsServer {
        TlsServer::start_refusing(leaf, Some(limit), true)
    }

    fn start_refusing(leaf: Leaf, limit: Option<usize>, hold: bool) -> TlsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                leaf.chain,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key)),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (h, c) = (Arc::clone(&handshakes), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let (config, h) = (Arc::clone(&config), Arc::clone(&h));
                std::thread::spawn(move || serve(stream, config, &h, limit, hold));
            }
        });
        TlsServer {
            url: format!("https://127.0.0.1:{port}"),
            port,
            handshakes,
            connections,
        }
    }

    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve(
    stream: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    handshakes: &AtomicUsize,
    limit: Option<usize>,
    hold: bool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    if tls.conn.complete_io(&mut tls.sock).is_err() {
        return;
    }
    handshakes.fetch_add(1, Ordering::SeqCst);
    let mut reader = BufReader::new(tls);
    loop {
        let mut target = String::new();
        let mut length = 0usize;
        let mut expects = false;
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        if let Some(rest) = line.split_whitespace().nth(1) {
            target = rest.to_string();
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
            expects |= header.eq_ignore_ascii_case("expect: 100-continue\r\n");
        }
        if let Some(limit) = limit.filter(|&limit| length > limit) {
            let tls = reader.get_mut();
            if expects {
                let _ = tls.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
                let _ = tls.flush();
            }
            let mut read = vec![0; limit];
            if reader.read_exact(&mut read).is_err() {
                return;
            }
            let tls = reader.get_mut();
            let _ = tls.write_all(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let _ = tls.flush();
            if hold {
                std::thread::sleep(Duration::from_secs(60));
            }
            return;
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let id = target.rsplit("id=").next().unwrap_or("t").to_string();
        let answer = if target.contains("id=") {
            format!(
                r#"{{"id":"{id}","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Text","data":"aGVsbG8="}}],"error":null}}"#
            )
        } else {
            "task-1".to_string()
        };
        let kind = if target.contains("id=") {
            "application/json"
        } else {
            "text/plain"
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        let tls = reader.get_mut();
        if tls
            .write_all(reply.as_bytes())
            .and_then(|()| tls.flush())
            .is_err()
        {
            return;
        }
    }
}
