//! HTTPS: the server configuration from `--tls-cert`/`--tls-key` or `--tls-self-signed`, and a
//! listener that runs the TLS handshakes on the counted TCP streams.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::listener::{CountedStream, CountingListener};
use crate::stats::Connections;

/// A client that has not finished its handshake by then is dropped (and counted as failed).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The names the `--tls-self-signed` server certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The server configuration for a PEM certificate chain (leaf first) and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1).
pub fn from_files(cert: &Path, key: &Path) -> io::Result<Arc<ServerConfig>> {
    let cert_pem = read(cert, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("{}: bad PEM: {error}", cert.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!(
            "{}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the --tls-cert file",
            cert.display()
        )));
    }
    let key_pem = read(key, "key")?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
        invalid(match error {
            rustls::pki_types::pem::Error::NoItemsFound => format!(
                "{}: no PEM private key (-----BEGIN PRIVATE KEY-----) in the --tls-key file",
                key.display()
            ),
            error => format!("{}: bad PEM: {error}", key.display()),
        })
    })?;
    server_config(chain, private_key).map_err(|error| {
        invalid(format!(
            "the certificate {} and the key {} cannot be used together: {error}",
            cert.display(),
            key.display()
        ))
    })
}

/// A fresh CA and a server certificate signed by it for [`SELF_SIGNED_NAMES`].
pub struct SelfSigned {
    /// The CA certificate, PEM, for clients to trust.
    pub ca_pem: String,
    pub config: Arc<ServerConfig>,
}

/// Makes a CA (ECDSA P-256) and a server certificate signed by it.
pub fn self_signed() -> io::Result<SelfSigned> {
    let generate =
        |error: rcgen::Error| io::Error::other(format!("cannot make a certificate: {error}"));
    let ca_key = KeyPair::generate().map_err(generate)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ocrcloud-emulator test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // From a day ago (clocks differ), for ten years; the server's for one year, well within the
    // 825 days that some platforms allow a server certificate.
    let now = time::OffsetDateTime::now_utc();
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(3650);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(generate)?;
    let ca = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(generate)?;
    let names = SELF_SIGNED_NAMES.map(String::from).to_vec();
    let mut server_params = CertificateParams::new(names).map_err(generate)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server_params.is_ca = IsCa::ExplicitNoCa;
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    server_params.not_before = now - time::Duration::days(1);
    server_params.not_after = now + time::Duration::days(365);
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .map_err(generate)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = server_config(vec![server_cert.der().clone()], key)
        .map_err(|error| io::Error::other(format!("cannot use the made certificate: {error}")))?;
    Ok(SelfSigned {
        ca_pem: ca_cert.pem(),
        config,
    })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // The emulator speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, so
/// that a reader never sees a partial file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = Path::new(&temporary);
    let written = (|| {
        let mut file = fs::File::create(temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(temporary);
    }
    written.map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot write the CA certificate to {}: {error}",
                path.display()
            ),
        )
    })
}

fn read(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    fs::read(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot read the TLS {what} file {}: {error}",
                path.display()
            ),
        )
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Wraps a [`CountingListener`]: every accepted connection does its TLS handshake in a task of
/// its own, so that a slow or silent client never holds up the others, and is handed to axum
/// once the handshake is done. A failed or timed-out handshake drops its connection and is
/// counted; the tasks end with their handshakes, or with the listener at shutdown.
pub struct TlsListener {
    inner: CountingListener,
    acceptor: TlsAcceptor,
    connections: Arc<Connections>,
    handshakes: JoinSet<Option<(TlsStream<CountedStream>, SocketAddr)>>,
    verbose: bool,
}

impl TlsListener {
    pub fn new(
        inner: CountingListener,
        config: Arc<ServerConfig>,
        connections: Arc<Connections>,
        verbose: bool,
    ) -> Self {
        TlsListener {
            inner,
            acceptor: TlsAcceptor::from(config),
            connections,
            handshakes: JoinSet::new(),
            verbose,
        }
    }

    fn start_handshake(&mut self, stream: CountedStream, address: SocketAddr) {
        let handshake = self.acceptor.accept(stream);
        let connections = Arc::clone(&self.connections);
        let verbose = self.verbose;
        self.handshakes.spawn(async move {
            let failure = match timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(stream)) => {
                    connections.handshake_completed();
                    return Some((stream, address));
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no handshake within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            };
            connections.handshake_failed();
            if verbose {
                eprintln!("TLS handshake from {address} failed: {failure}");
            }
            None
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<CountedStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            // Both futures are cancel safe: axum drops this one at shutdown.
            tokio::select! {
                (stream, address) = self.inner.accept() => self.start_handshake(stream, address),
                Some(joined) = self.handshakes.join_next() => {
                    if let Ok(Some(done)) = joined {
                        return done;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
