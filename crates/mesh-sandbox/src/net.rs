//! Loopback probes: whether a port is taken, whether a server answers, and a minimal HTTP GET
//! for the registry's readiness (std only; the registry adapter proper lives elsewhere).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub(crate) fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&addr(port), Duration::from_millis(300)).is_ok()
}

/// Whether `port` is unavailable to a new server: something answers on it, or it cannot be
/// bound (e.g. a wildcard listener or a socket in TIME_WAIT without SO_REUSEADDR).
pub(crate) fn port_taken(port: u16) -> bool {
    answers(port) || TcpListener::bind(addr(port)).is_err()
}

/// `GET path` on 127.0.0.1:`port`; returns the status code and body. HTTP/1.0 so the server
/// sends neither chunked encoding nor keep-alive, and the body simply runs to EOF.
pub(crate) fn http_get(port: u16, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr(port), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))
}

pub(crate) fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// `n` distinct ports that were free a moment ago (all held at once while choosing, then
/// released: a race with another process is possible but unlikely).
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, crate::SandboxError> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| crate::SandboxError::io("bind a free port on", "127.0.0.1", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| crate::SandboxError::io("read the address of", "127.0.0.1", e))?
            .port();
        held.push((listener, port));
    }
    Ok(held.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[]";
        assert_eq!(parse_response(raw), Some((200, "[]".to_owned())));
        let raw = b"HTTP/1.1 404 Not Found\r\n\r\n{\"error_code\":40401}";
        assert_eq!(
            parse_response(raw),
            Some((404, "{\"error_code\":40401}".to_owned()))
        );
        assert_eq!(parse_response(b"garbage"), None);
        assert_eq!(parse_response(b"SSH-2.0\r\n\r\n"), None);
    }

    #[test]
    fn a_listening_port_is_taken_and_answers() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(answers(port));
        assert!(port_taken(port));
        // Not checked after dropping the listener: a test running in parallel may bind the same
        // port number at once.
    }

    #[test]
    fn http_get_against_a_tiny_server() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            // Tests run in parallel: another test's probe may connect to this listener (its
            // port number can be reused for ours), close at once or send something else. Serve
            // the first connection that sends this test's request. A probe that connects and
            // sends nothing is given up on after a moment, so it cannot block ours.
            loop {
                let (mut s, _) = listener.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !request.contains("/apis/ccompat/v7/subjects") {
                    continue;
                }
                s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]")
                    .unwrap();
                return request;
            }
        });
        let got = http_get(port, "/apis/ccompat/v7/subjects", Duration::from_secs(5)).unwrap();
        assert_eq!(got, (200, "[]".to_owned()));
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /apis/ccompat/v7/subjects HTTP/1.0\r\n"));
    }
}
