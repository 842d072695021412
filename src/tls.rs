//! HTTPS with rustls: TLS 1.3 and 1.2 only, the aws-lc-rs provider's suites (all ECDHE with
//! AEAD ciphers), HTTP/2 or HTTP/1.1 by ALPN. `--dev-tls` makes a self-signed certificate
//! for localhost so HTTPS (and `wss://`) can be tried without a CA.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsArgs;

/// The TLS configuration `args` ask for, or `None` for plain HTTP.
pub fn server_config(args: &TlsArgs) -> anyhow::Result<Option<rustls::ServerConfig>> {
    let (certs, key) = if args.dev_tls {
        dev_certificate(&args.dev_tls_dir)?
    } else {
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => load(cert, key)?,
            _ => return Ok(None),
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not fit together")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(config))
}

fn load(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("{} is not a PEM private key", key.display()))?;
    Ok((certs, key))
}

/// A new self-signed certificate for localhost, written to `dir` (the key readable by the
/// owner only) so clients can be told to trust it.
fn dev_certificate(
    dir: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated =
        rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, generated.cert.pem())
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
    tracing::warn!(
        cert = %cert_path.display(),
        key = %key_path.display(),
        "--dev-tls: serving a self-signed certificate for localhost; trust cert.pem in your client \
         (curl --cacert) or accept the browser warning. Not for production."
    );
    let cert = generated.cert.der().clone();
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|e| anyhow::anyhow!("the generated key is unusable: {e}"))?;
    Ok((vec![cert], key))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
