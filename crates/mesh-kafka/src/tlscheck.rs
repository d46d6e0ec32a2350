//! Why a broker's certificate failed verification. librdkafka reports every failed verification
//! as "certificate verify failed"; a handshake of our own, with the same trust settings and the
//! same system OpenSSL, asks OpenSSL for the reason (an unknown CA, a host name the certificate
//! does not name, an expired certificate) so the error can say what to fix.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use openssl::ssl::{HandshakeError, SslConnector, SslMethod};
use openssl::x509::X509;
use rdkafka::ClientConfig;

/// OpenSSL's reason for refusing the certificate of the first bootstrap server, e.g. "hostname
/// mismatch" or "certificate has expired"; `None` when it cannot be reached or is accepted.
pub(crate) fn verify_failure(config: &ClientConfig, timeout: Duration) -> Option<String> {
    let bootstrap = config.get("bootstrap.servers")?;
    let (host, port) = first_server(bootstrap)?;
    let mut builder = SslConnector::builder(SslMethod::tls_client()).ok()?;
    match config.get("ssl.ca.location") {
        Some(path) if path != "probe" && std::path::Path::new(path).is_dir() => {
            builder
                .load_verify_locations(None, Some(path.as_ref()))
                .ok()?;
        }
        Some(path) if path != "probe" => builder.set_ca_file(path).ok()?,
        _ => {}
    }
    if let Some(pem) = config.get("ssl.ca.pem") {
        for cert in X509::stack_from_pem(pem.as_bytes()).ok()? {
            builder.cert_store_mut().add_cert(cert).ok()?;
        }
    }
    let connector = builder.build();
    let mut tls = connector.configure().ok()?;
    let check_host = !config
        .get("ssl.endpoint.identification.algorithm")
        .is_some_and(|a| a.eq_ignore_ascii_case("none"));
    tls.set_verify_hostname(check_host);
    let addr = (host.as_str(), port).to_socket_addrs().ok()?.next()?;
    let stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    match tls.connect(&host, stream) {
        Ok(_) => None,
        Err(HandshakeError::Failure(mid)) => {
            let result = mid.ssl().verify_result();
            (result.as_raw() != 0).then(|| result.error_string().to_owned())
        }
        Err(_) => None,
    }
}

/// `host` and `port` of the first entry of `bootstrap.servers` (`SSL://` prefixes and IPv6
/// brackets allowed).
fn first_server(bootstrap: &str) -> Option<(String, u16)> {
    let first = bootstrap.split(',').next()?.trim();
    let first = first.rsplit_once("://").map_or(first, |(_, rest)| rest);
    let (host, port) = first.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_server_is_parsed() {
        assert_eq!(first_server("k1:9093,k2:9093"), Some(("k1".into(), 9093)));
        assert_eq!(first_server("SSL://k1:9093"), Some(("k1".into(), 9093)));
        assert_eq!(first_server("[::1]:9093"), Some(("::1".into(), 9093)));
        assert_eq!(first_server("k1"), None);
    }

    #[test]
    fn nothing_to_say_when_nobody_answers() {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", "127.0.0.1:1");
        assert_eq!(verify_failure(&c, Duration::from_secs(1)), None);
    }
}
