//! Trust and proxies: which certificates a client trusts, which proxy it goes through, the
//! agent built from both, and TLS failures told in words a person understands.
//!
//! Trust: the system's store as `rustls-native-certs` reads it (which honours `SSL_CERT_FILE`
//! and `SSL_CERT_DIR`), or Mozilla's roots bundled with the library where the system has none,
//! plus the CA certificates the caller adds. Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
//! and `NO_PROXY` (either case) unless the caller names one ([`crate::proxy`] reads them);
//! `http://` and `https://` proxies (CONNECT tunnels), with `user:password@` for Basic
//! authentication. A loopback base URL never goes through a proxy.

use crate::early_answer::EarlyAnswerConnector;
use crate::error::{Code, Error, Result, invalid};
use crate::proxy::{self, ChosenProxy};
use crate::settings::Settings;
use crate::transport::TcpConnector;
use std::path::Path;
use std::sync::{Arc, LazyLock};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};

/// Which proxy a client uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxyChoice {
    /// The one the environment names (`HTTPS_PROXY`, ... with `NO_PROXY`), if any.
    #[default]
    Environment,
    /// None.
    Direct,
    /// This one (checked by [`proxy::parse_proxy`]).
    Url(String),
}

impl ProxyChoice {
    /// The choice a caller names: `None` the environment's, `""` none, any other text that
    /// proxy (checked by [`proxy::parse_proxy`]).
    pub fn named(url: Option<&str>) -> Result<ProxyChoice> {
        Ok(match url {
            None => ProxyChoice::Environment,
            Some("") => ProxyChoice::Direct,
            Some(url) => {
                proxy::parse_proxy(url)?;
                ProxyChoice::Url(url.to_string())
            }
        })
    }
}

/// What decides how a client reaches the service: the CA certificates it trusts besides the
/// default roots, and its proxy.
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// Trusted besides the system's store.
    pub extra_cas: Vec<Certificate<'static>>,
    pub proxy: ProxyChoice,
}

/// The system's roots, read once per process; Mozilla's where the system has none.
static DEFAULT_ROOTS: LazyLock<Vec<Certificate<'static>>> = LazyLock::new(|| {
    let system: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    if !system.is_empty() {
        return system;
    }
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect()
});

/// The CA certificates in PEM text; none, or text that is not PEM, is `InvalidArgument`
/// naming `what`.
pub fn parse_cas(pem: &[u8], what: &str) -> Result<Vec<Certificate<'static>>> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {}
            Err(e) => return Err(invalid(format!("{what} is not valid PEM ({e})"))),
        }
    }
    if certificates.is_empty() {
        return Err(invalid(format!("{what} holds no certificate")));
    }
    Ok(certificates)
}

/// The CA certificates in the PEM file at `path`; a missing, unreadable or certificate-less
/// file is `InvalidArgument` naming it.
pub fn read_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let what = format!("the CA file {}", path.display());
    let pem = std::fs::read(path).map_err(|e| invalid(format!("cannot read {what}: {e}")))?;
    parse_cas(&pem, &what)
}

/// The rustls configuration for connections that are not HTTP (the shared batch journal's
/// PostgreSQL): the same trusted roots as the client's default ones.
pub(crate) fn rustls_config() -> rustls::ClientConfig {
    let mut store = rustls::RootCertStore::empty();
    for cert in DEFAULT_ROOTS.iter() {
        let _ = store.add(rustls::pki_types::CertificateDer::from(cert.der().to_vec()));
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth()
}

/// The keep-alive agent for `network` and the base URL `base_url`: trusted roots, proxy (none
/// for a loopback base URL, nor for one that `NO_PROXY` names), and the transports of
/// `crate::transport`; `resolver` looks hosts up. Also answers the proxy it goes through.
pub fn agent(
    network: &Network,
    base_url: &str,
    loopback: bool,
    resolver: impl Resolver,
) -> Result<(ureq::Agent, Option<ChosenProxy>)> {
    let mut roots = DEFAULT_ROOTS.clone();
    roots.extend(network.extra_cas.iter().cloned());
    let chosen = match (&network.proxy, loopback) {
        (_, true) | (ProxyChoice::Direct, _) => None,
        (ProxyChoice::Environment, false) => proxy::environment_proxy(base_url)?,
        (ProxyChoice::Url(url), false) => Some(proxy::parse_proxy(url)?),
    };
    let proxy = chosen.as_ref().map(|chosen| chosen.proxy.clone());
    // The default settings' timeouts: a request with them and no deadline needs no
    // configuration of its own (`crate::http`).
    let timeouts = Settings::default();
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(timeouts.connect_timeout))
        .timeout_resolve(Some(timeouts.connect_timeout))
        .timeout_per_read(Some(timeouts.read_timeout))
        .timeout_per_write(Some(timeouts.read_timeout))
        .timeout_global(Some(timeouts.request_timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_idle_connections(64)
        .max_idle_connections_per_host(32)
        .input_buffer_size(256 * 1024)
        .proxy(proxy)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&roots))
                .build(),
        )
        .build();
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector)
            .chain(RustlsConnector::default())
            .chain(EarlyAnswerConnector {
                proxied: chosen.is_some(),
            });
    Ok((ureq::Agent::with_parts(config, connector, resolver), chosen))
}

/// The failure for an I/O error that rustls reported while talking to `url`'s host, as one
/// sentence; `None` for other errors.
pub fn tls_failure(error: &std::io::Error, url: &str) -> Option<Error> {
    use rustls::CertificateError as C;
    let rustls_error = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .map(|authority| authority.rsplit_once(':').map_or(authority, |(h, _)| h))
        .unwrap_or(url);
    let why = match rustls_error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            C::UnknownIssuer => "it is signed by an unknown authority".to_string(),
            C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("it is not valid for the name {host}")
            }
            C::Revoked => "it was revoked".to_string(),
            C::BadSignature => "its signature is wrong".to_string(),
            C::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
                "it is a CA certificate, not a server's (self-signed)".to_string()
            }
            other => format!("it was refused ({other:?})"),
        },
        rustls::Error::AlertReceived(alert) => {
            return Some(Error::new(
                Code::Tls,
                format!(
                    "the TLS handshake with {host} failed: the server sent the alert {alert:?}"
                ),
            ));
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            return Some(Error::new(
                Code::Tls,
                format!("the TLS handshake with {host} failed: the server does not speak TLS"),
            ));
        }
        other => {
            return Some(Error::new(
                Code::Tls,
                format!("the TLS connection to {host} failed: {other}"),
            ));
        }
    };
    Some(Error::new(
        Code::Tls,
        format!("the certificate of {host} is not trusted: {why}; see ocr_client_set_ca_file"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_certificates_from_pem_and_refuses_text_without_one() {
        assert_eq!(
            parse_cas(b"no pem here", "the file x").unwrap_err().code(),
            Code::InvalidArgument
        );
        assert!(!DEFAULT_ROOTS.is_empty());
    }
}
