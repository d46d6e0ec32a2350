//! What the registry tests share: a plain HTTP/1.0 exchange with the sandbox registry's ccompat
//! API over a `TcpStream`, so that checks go through no client of ours.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `method path` with `body` (JSON, may be empty); the status and the answer's body.
pub fn http_with(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("registry accepts connections");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {}{path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
        mesh_sandbox::CCOMPAT_PATH,
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}
