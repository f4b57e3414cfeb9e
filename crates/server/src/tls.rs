//! TLS for `wss://`: the server's certificate and key, client certificate checks, and the
//! per-connection handshake.
//!
//! [`TlsConfig`] is built once (from PEM files, PEM bytes, or a ready
//! `rustls::ServerConfig`) and shared by every connection. Its defaults: TLS 1.2 and 1.3
//! only; the default cipher suites of rustls' `ring` provider (AES-GCM and
//! ChaCha20-Poly1305, ECDHE key exchange); no ALPN; the same certificate whatever name the
//! client asks for (SNI); rustls' default resumption (one in-memory cache of 256 sessions
//! shared by all connections, two TLS 1.3 tickets per connection, no stateless tickets,
//! no 0-RTT data); RSA keys of at least 2048 bits, or ECDSA / Ed25519 keys; no client
//! certificate asked for unless [`ClientAuth`] says so.
//!
//! The handshake itself runs in the connection's own task (see `accept`), never in the
//! accept loop, so a client that never finishes it delays nobody else. This module does
//! not read HTTP or WebSocket bytes, and does not reload certificates.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;

/// Whether and how clients must present a certificate, and the CAs it must chain to.
#[derive(Debug, Clone, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for (the default).
    #[default]
    Off,
    /// Every client must present a certificate that chains to one of these CAs;
    /// others fail the TLS handshake (pywebsocket's `--tls-client-auth`).
    Required(Vec<CertificateDer<'static>>),
    /// A certificate is asked for; a client may send none, but one it sends must chain
    /// to one of these CAs (`--tls-client-auth --tls-client-cert-optional`).
    Optional(Vec<CertificateDer<'static>>),
}

/// The TLS setting of a server: a shared `rustls::ServerConfig`.
///
/// Cloning is cheap (an `Arc`). See the module documentation for its defaults.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

/// Why a [`TlsConfig`] could not be built: the file (if any) and what was wrong with it.
#[derive(Debug)]
pub struct TlsError {
    file: Option<PathBuf>,
    message: String,
}

impl TlsError {
    fn new(file: Option<&Path>, message: impl Into<String>) -> Self {
        TlsError { file: file.map(Path::to_path_buf), message: message.into() }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Uses a ready rustls configuration as it is (protocol versions, ALPN, verifier and
    /// all). For settings the other constructors do not offer.
    pub fn from_rustls(config: Arc<ServerConfig>) -> Self {
        TlsConfig { config }
    }

    /// Builds the configuration from a PEM certificate chain (the server's certificate
    /// first, then any intermediates) and a PEM private key (PKCS#8, PKCS#1 RSA or SEC1
    /// EC; the first key in the file is used, so one file may hold both).
    pub fn from_pem_files(
        certificate: &Path,
        private_key: &Path,
        client_auth: ClientAuth,
    ) -> Result<Self, TlsError> {
        let chain = read_certificates(certificate)?;
        let key = PrivateKeyDer::from_pem_file(private_key).map_err(|e| {
            TlsError::new(
                Some(private_key),
                format!("no usable PEM private key: {}", pem_error(&e)),
            )
        })?;
        check_key(&key).map_err(|mut e| {
            e.file = Some(private_key.to_path_buf());
            e
        })?;
        Self::build(chain, key, client_auth).map_err(|mut e| {
            e.file = Some(certificate.to_path_buf());
            e
        })
    }

    /// The same from PEM text in memory.
    pub fn from_pem(
        certificate: &[u8],
        private_key: &[u8],
        client_auth: ClientAuth,
    ) -> Result<Self, TlsError> {
        let chain =
            CertificateDer::pem_slice_iter(certificate).collect::<Result<Vec<_>, _>>().map_err(
                |e| TlsError::new(None, format!("invalid PEM certificate: {}", pem_error(&e))),
            )?;
        if chain.is_empty() {
            return Err(TlsError::new(None, "no PEM certificate found"));
        }
        let key = PrivateKeyDer::from_pem_slice(private_key).map_err(|e| {
            TlsError::new(None, format!("no usable PEM private key: {}", pem_error(&e)))
        })?;
        check_key(&key)?;
        Self::build(chain, key, client_auth)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_auth: ClientAuth,
    ) -> Result<Self, TlsError> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::new(None, format!("TLS setup failed: {e}")))?;
        let builder = match client_auth {
            ClientAuth::Off => builder.with_no_client_auth(),
            ClientAuth::Required(cas) | ClientAuth::Optional(cas) if cas.is_empty() => {
                return Err(TlsError::new(
                    None,
                    "client authentication needs at least one CA certificate",
                ));
            }
            ClientAuth::Required(cas) => {
                let roots = roots(cas)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| TlsError::new(None, format!("invalid client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            ClientAuth::Optional(cas) => {
                let roots = roots(cas)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::new(None, format!("invalid client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            TlsError::new(
                None,
                format!("certificate and private key do not make a usable pair: {e}"),
            )
        })?;
        Ok(TlsConfig { config: Arc::new(config) })
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Runs the server side of the TLS handshake on `stream`.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        tokio_rustls::TlsAcceptor::from(self.config.clone()).accept(stream).await
    }
}

/// The crypto provider of every TLS configuration made here: ring, explicitly, so that
/// nothing depends on a process-wide default.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Refuses a key the provider cannot sign with, with a hint at the usual cause.
fn check_key(key: &PrivateKeyDer<'static>) -> Result<(), TlsError> {
    match provider().key_provider.load_private_key(key.clone_key()) {
        Ok(_) => Ok(()),
        Err(e) => Err(TlsError::new(
            None,
            format!(
                "unusable private key ({e}): RSA keys need at least 2048 bits; \
                 ECDSA P-256/P-384 and Ed25519 keys work too"
            ),
        )),
    }
}

/// Reads every certificate of a PEM file (a CA bundle or a certificate chain).
pub fn read_certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            TlsError::new(Some(file), format!("cannot read PEM certificates: {}", pem_error(&e)))
        })?;
    if certs.is_empty() {
        return Err(TlsError::new(
            Some(file),
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found",
        ));
    }
    Ok(certs)
}

fn roots(cas: Vec<CertificateDer<'static>>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(cas);
    if added == 0 {
        return Err(TlsError::new(
            None,
            format!("none of the {ignored} client CA certificates could be parsed"),
        ));
    }
    Ok(Arc::new(store))
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::NoItemsFound => "no matching PEM section found".to_owned(),
        other => other.to_string(),
    }
}

/// Runs the TLS handshake of one accepted connection, giving up at `deadline`. Returns
/// `None` (after a log line naming the peer) when the handshake failed or timed out:
/// the connection is then closed. Plain HTTP sent to a TLS port ends here too.
pub(crate) async fn handshake(
    config: &TlsConfig,
    stream: TcpStream,
    peer: std::net::SocketAddr,
    deadline: tokio::time::Instant,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout_at(deadline, config.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timeout: not finished within the handshake timeout");
            None
        }
        Ok(Err(e)) => {
            // A rustls error is the peer's certificate or protocol (worth an info line);
            // anything else is the TCP connection going away.
            match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(
                    tls @ rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                ) => {
                    tracing::info!(%peer, "TLS handshake failed, the client does not speak TLS (plain HTTP to a TLS port?): {tls}");
                }
                Some(tls) => tracing::info!(%peer, "TLS handshake failed: {tls}"),
                None => tracing::debug!(%peer, "connection ended during the TLS handshake: {e}"),
            }
            None
        }
    }
}
