//! `sigil serve` over TLS: a handshake against a CA made in the test (rcgen), mutual TLS
//! refusing a client without a certificate from the client CA and serving one with, and a
//! non-loopback address refused in plain text unless `--insecure-plaintext` says so.

mod serve_support;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serve_support::*;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, all issued by it,
/// as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "sigil test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let issue = |names: Vec<String>, name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        (params.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(vec!["127.0.0.1".into(), "localhost".into()], "sigil serve");
    let (client_cert, client_key) = issue(vec!["client.sigil.test".into()], "a client");
    let write = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", &ca_cert.pem()),
        server_cert: write("server.pem", &server_cert),
        server_key: write("server.key", &server_key),
        client_cert: write("client.pem", &client_cert),
        client_key: write("client.key", &client_key),
    }
}

/// `GET /healthz` over TLS, trusting `ca`, with a client certificate when given; the answer, or
/// the TLS or I/O error.
fn healthz_over_tls(address: &str, ca: &Path, client: Option<(&Path, &Path)>) -> Result<Reply, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap()).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: sigil\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(tls);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_reply(&mut reader)))
        .map_err(|_| "no answer over TLS".to_string())
}

#[test]
fn https_with_a_certificate_from_a_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let server = Server::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            pki.server_cert.to_str().unwrap(),
            "--tls-key",
            pki.server_key.to_str().unwrap(),
        ],
        None,
    );
    let reply = healthz_over_tls(&server.address, &pki.ca, None).expect("a TLS exchange");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["status"], "ok");
    // Plain HTTP to the TLS port is not answered in plain HTTP.
    let mut plain = TcpStream::connect(&server.address).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: sigil\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!text(&answer).contains("HTTP/1.1 200"), "{}", text(&answer));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let (code, _, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("TLS handshake refused"), "the plain client was logged: {stderr}");
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let other = tempfile::tempdir().unwrap();
    let stranger = make_pki(other.path());
    let server = Server::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            pki.server_cert.to_str().unwrap(),
            "--tls-key",
            pki.server_key.to_str().unwrap(),
            "--tls-client-ca",
            pki.ca.to_str().unwrap(),
        ],
        None,
    );
    let without = healthz_over_tls(&server.address, &pki.ca, None);
    assert!(without.is_err(), "a client without a certificate was served: {}", without.unwrap().text());
    let foreign = healthz_over_tls(&server.address, &pki.ca, Some((&stranger.client_cert, &stranger.client_key)));
    assert!(foreign.is_err(), "a client with a certificate from another CA was served");
    let with = healthz_over_tls(&server.address, &pki.ca, Some((&pki.client_cert, &pki.client_key)))
        .expect("a client with a certificate from the client CA is served");
    assert_eq!(with.status, 200, "{}", with.text());
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let (code, _, stderr) = server.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.matches("TLS handshake refused").count() >= 2, "refusals are logged: {stderr}");
}

#[test]
fn a_public_address_needs_tls_or_an_explicit_plaintext_flag() {
    let serve = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sigil"))
            .arg("serve")
            .args(args)
            .env("SIGIL_TOKEN", INGEST)
            .env_remove("SIGIL_INGEST_TOKEN")
            .env_remove("SIGIL_READ_TOKEN")
            .output()
            .unwrap()
    };
    let refused = serve(&["--listen", "0.0.0.0:0"]);
    assert_eq!(refused.status.code(), Some(2));
    let message = text(&refused.stderr);
    assert!(message.contains("--tls-cert") && message.contains("--insecure-plaintext"), "{message}");
    // Told so, it starts (and stops at once: --max-requests needs one request).
    let server = Server::start_with(&["--listen", "0.0.0.0:0", "--insecure-plaintext"], &[("SIGIL_TOKEN", INGEST)]);
    let port = server.address.rsplit(':').next().unwrap().to_string();
    let reply = get(&format!("127.0.0.1:{port}"), "/healthz", None);
    assert_eq!(reply.status, 200);
    server.shutdown(Some(INGEST));
}
