//! The TLS options of the command line (`-t`, `-k`, `-c`, `--tls-client-auth`,
//! `--tls-client-cert-optional`, `--tls-client-ca`, legacy `--ca-certificate`): their
//! combinations are checked as pywebsocket's `standalone.py` checks them, then the PEM
//! files are read into the server's TLS setting.
//!
//! Relative paths resolve against the current directory, which is the document root by
//! then. This module does no TLS itself; `wshd_server::tls` does.

use wshd_server::tls::{ClientAuth, TlsConfig, read_certificates};

use crate::args::Args;

/// The TLS setting the options ask for: `None` without `-t`. An invalid combination or
/// an unreadable or invalid PEM file is an error that says which option or file.
pub fn config(args: &Args) -> Result<Option<TlsConfig>, String> {
    let client_ca = match (&args.tls_client_ca, &args.ca_certificate) {
        (Some(ca), Some(_)) => {
            tracing::warn!(
                "--ca-certificate is obsolete and ignored here: --tls-client-ca is given"
            );
            Some(ca)
        }
        (Some(ca), None) => Some(ca),
        (None, Some(ca)) => {
            tracing::warn!("--ca-certificate is obsolete: use --tls-client-ca");
            Some(ca)
        }
        (None, None) => None,
    };
    if !args.tls {
        if args.tls_client_auth {
            return Err(
                "--tls-client-auth needs --tls (-t): client certificates are a TLS feature".into(),
            );
        }
        if args.tls_client_cert_optional {
            return Err("--tls-client-cert-optional needs --tls-client-auth (and --tls)".into());
        }
        if args.private_key.is_some() || args.certificate.is_some() || client_ca.is_some() {
            tracing::warn!(
                "TLS files given without --tls (-t): serving plain ws:// and ignoring them"
            );
        }
        return Ok(None);
    }
    let (Some(key), Some(cert)) = (&args.private_key, &args.certificate) else {
        return Err(
            "--tls (-t) needs --private-key (-k) and --certificate (-c), both PEM files".into()
        );
    };
    if args.tls_client_cert_optional && !args.tls_client_auth {
        return Err("--tls-client-cert-optional needs --tls-client-auth".into());
    }
    let client_auth = if args.tls_client_auth {
        let Some(ca) = client_ca else {
            return Err("--tls-client-auth needs --tls-client-ca: the PEM bundle of the CAs \
                        that client certificates must chain to"
                .into());
        };
        let cas = read_certificates(ca).map_err(|e| format!("--tls-client-ca {e}"))?;
        if args.tls_client_cert_optional {
            ClientAuth::Optional(cas)
        } else {
            ClientAuth::Required(cas)
        }
    } else {
        if client_ca.is_some() {
            tracing::warn!(
                "--tls-client-ca without --tls-client-auth: client certificates are not asked for"
            );
        }
        ClientAuth::Off
    };
    TlsConfig::from_pem_files(cert, key, client_auth).map(Some).map_err(|e| e.to_string())
}
