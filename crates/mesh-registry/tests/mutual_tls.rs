//! The registry client's TLS files against a real TLS server that requires a client certificate:
//! OpenSSL's own `s_server` (`-Verify 1 -verify_return_error`), serving `GET /subjects` from a
//! file. The sandbox's Apicurio cannot ask for client certificates (its build fixes
//! `quarkus.http.ssl.client-auth` to NONE, see docs/local-cluster.md), so this is where mutual TLS
//! is proven: with the CA and a client certificate the answer arrives; without the certificate,
//! or without the CA, the error says what to set. Certificates are made with the `openssl` tool.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mesh_registry::{Auth, RegistryClient, Tls};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl tool runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for localhost and a client certificate, all signed by the CA.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=mesh test CA",
        ],
    );
    for (name, subject, ext) in [
        (
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ),
        ("client", "/CN=mesh-ci", "extendedKeyUsage=clientAuth"),
    ] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let extfile = format!("{name}.ext");
        std::fs::write(dir.join(&extfile), format!("{ext}\n")).unwrap();
        openssl(
            dir,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                subject,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
        );
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server` on a free port, requiring a client certificate signed by the CA and
/// serving files of `dir` (`-WWW`).
fn serve(dir: &Path) -> (Server, u16) {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "-cert",
            "server.pem",
            "-key",
            "server.key",
            "-CAfile",
            "ca.pem",
            "-Verify",
            "1",
            "-verify_return_error",
            "-WWW",
            "-quiet",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server runs");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s_server did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port)
}

#[test]
fn a_client_certificate_is_presented_and_its_absence_explained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    certificates(d);
    std::fs::write(d.join("subjects"), r#"["sales.orders-value"]"#).unwrap();
    let (_server, port) = serve(d);
    let url = format!("https://localhost:{port}");
    let t = Duration::from_secs(10);

    let mutual = Tls {
        ca_file: Some(d.join("ca.pem")),
        client: Some((d.join("client.pem"), d.join("client.key"))),
    };
    let reg = RegistryClient::with_tls(&url, Auth::None, &mutual, t).unwrap();
    let subjects = reg
        .list_subjects()
        .expect("the server accepts the client certificate");
    assert!(subjects.contains("sales.orders-value"), "{subjects:?}");

    // The CA but no certificate: the server ends the handshake.
    let no_cert = Tls {
        ca_file: Some(d.join("ca.pem")),
        client: None,
    };
    let reg = RegistryClient::with_tls(&url, Auth::None, &no_cert, t).unwrap();
    let err = reg.list_subjects().unwrap_err().to_string();
    assert!(err.contains("is unreachable"), "{err}");
    assert!(err.contains("requires a client certificate"), "{err}");

    // A certificate but not the CA: the server is not trusted.
    let no_ca = Tls {
        ca_file: None,
        client: mutual.client.clone(),
    };
    let reg = RegistryClient::with_tls(&url, Auth::None, &no_ca, t).unwrap();
    let err = reg.list_subjects().unwrap_err().to_string();
    assert!(err.contains("set ca_file"), "{err}");
}
