//! A fault-injecting proxy for tests: listens on a free loopback port, forwards to a real
//! upstream (the sandbox registry's HTTP port, or any TCP server), and produces faults on
//! demand while a test runs — through the [`FaultProxy`] handle the test keeps.
//!
//! - **HTTP** ([`FaultProxy::http`]): one request per connection (every answer says
//!   `Connection: close`, so a client opens a new connection per request and each request
//!   meets the rules in force when it arrives). A [`Rule`] matches requests by method and path
//!   and applies a [`Fault`] to the next N of them, or to all: answer a status without
//!   forwarding, forward and answer late, hold the request unanswered until the client gives
//!   up, drop the connection before forwarding, or forward and then drop it (the request was
//!   carried out, its answer lost).
//! - **TCP** ([`FaultProxy::tcp`]): bytes both ways; faults are whole-proxy: stop forwarding
//!   (connections stay open, nothing moves), reset every open connection.
//! - Both: refuse new connections ([`FaultProxy::refuse`]: the listening socket is closed, so a
//!   client gets "connection refused"; the same port is bound again afterwards).
//!
//! Plain std threads and blocking sockets; everything stops when the handle is dropped. Kafka
//! brokers advertise their own addresses, so a TCP proxy in front of a broker carries only the
//! bootstrap connection: stop a broker (`stop_node`) to take one away.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// What happens to a request a [`Rule`] matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answered with this HTTP status (500, 502, 503, …) and a short text body; not forwarded.
    Status(u16),
    /// Forwarded; the answer is held back this long (a slow server, or, beyond the client's
    /// timeout, a request carried out whose answer never arrives in time).
    Slow(Duration),
    /// Not forwarded and never answered: held until the client gives up and closes.
    Hold,
    /// The connection is closed without forwarding or answering.
    Drop,
    /// Forwarded, then the connection is closed without the answer: carried out, answer lost.
    DropAfterForward,
    /// Held, not forwarded, until the test calls [`FaultProxy::release`]; then forwarded and
    /// answered (lost if the client gave up meanwhile). For doing something else — stopping a
    /// broker — while a client waits in the middle of its work.
    Gate,
}

/// Which requests get a fault, and how many of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `GET`, `POST`, … (`None`: any).
    pub method: Option<String>,
    /// A text the request's path (with its query) must contain (`None`: any).
    pub path: Option<String>,
    pub fault: Fault,
    /// How many more requests it applies to (`None`: all, until cleared).
    pub times: Option<u32>,
}

impl Rule {
    /// `fault` for every request, until cleared; narrow it with the builder methods.
    pub fn always(fault: Fault) -> Rule {
        Rule {
            method: None,
            path: None,
            fault,
            times: None,
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path contains `text`.
    pub fn path(mut self, text: &str) -> Rule {
        self.path = Some(text.to_owned());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times != Some(0)
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| path.contains(p))
    }
}

/// A request the HTTP proxy saw, and the fault it got (`None`: forwarded as it was).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Http,
    Tcp,
}

struct Shared {
    mode: Mode,
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    refusing: AtomicBool,
    /// TCP mode: stop moving bytes.
    paused: AtomicBool,
    stop: AtomicBool,
    /// Incremented by [`FaultProxy::release`]: gated requests that arrived before go on.
    releases: std::sync::atomic::AtomicU64,
    /// TCP mode: the open connections (both sides), for resetting them.
    open: Mutex<Vec<TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running proxy; stops (and closes its port) when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// An HTTP proxy to `upstream` on a free loopback port.
    pub fn http(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::start(Mode::Http, upstream)
    }

    /// A TCP proxy to `upstream` on a free loopback port.
    pub fn tcp(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::start(Mode::Tcp, upstream)
    }

    fn start(mode: Mode, upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode,
            upstream,
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            releases: std::sync::atomic::AtomicU64::new(0),
            open: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || accept_loop(listener, addr, &s))?;
        Ok(FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule; the first matching rule (in the order added) applies to a request.
    pub fn inject(&self, rule: Rule) {
        lock(&self.shared.rules).push(rule);
    }

    /// Removes every rule, stops refusing and pausing: requests pass as they are.
    pub fn clear(&self) {
        lock(&self.shared.rules).clear();
        self.refuse(false);
        self.pause(false);
    }

    /// Refuses new connections (the port is closed) or accepts them again.
    pub fn refuse(&self, refuse: bool) {
        self.shared.refusing.store(refuse, Ordering::SeqCst);
        // The acceptor closes or reopens the port within a poll interval.
        std::thread::sleep(POLL * 3);
    }

    /// Lets every request held by [`Fault::Gate`] so far go on.
    pub fn release(&self) {
        self.shared.releases.fetch_add(1, Ordering::SeqCst);
    }

    /// TCP mode: stops (or resumes) moving bytes on every connection.
    pub fn pause(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }

    /// TCP mode: closes every open connection at once, both ways.
    pub fn reset_connections(&self) {
        for s in lock(&self.shared.open).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Every request the HTTP proxy saw so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// Forgets the requests seen so far.
    pub fn forget(&self) {
        lock(&self.shared.seen).clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.reset_connections();
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

const POLL: Duration = Duration::from_millis(10);

fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: &Arc<Shared>) {
    let mut listener = Some(listener);
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.refusing.load(Ordering::SeqCst) {
            // Closing the socket is what makes a client's connect fail with "refused".
            listener = None;
            std::thread::sleep(POLL);
            continue;
        }
        let Some(l) = listener.as_ref() else {
            // std sets SO_REUSEADDR on Unix: the port can be bound again at once.
            listener = TcpListener::bind(addr).ok();
            if listener.is_none() {
                std::thread::sleep(POLL);
            }
            continue;
        };
        if l.set_nonblocking(true).is_err() {
            return;
        }
        match l.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                let s = Arc::clone(shared);
                let _ = std::thread::Builder::new()
                    .name("fault-proxy-conn".into())
                    .spawn(move || match s.mode {
                        Mode::Http => {
                            let _ = serve_http(client, &s);
                        }
                        Mode::Tcp => pipe(client, &s),
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// One HTTP request: read it, apply the first matching rule, answer.
fn serve_http(client: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let Some((head, body)) = read_message(&mut reader, true)? else {
        return Ok(());
    };
    let mut client = client;
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_ascii_uppercase();
    let path = parts.next().unwrap_or_default().to_owned();
    let generation = shared.releases.load(Ordering::SeqCst);
    let fault = {
        let mut rules = lock(&shared.rules);
        rules
            .iter_mut()
            .find(|r| r.matches(&method, &path))
            .map(|r| {
                if let Some(n) = &mut r.times {
                    *n -= 1;
                }
                r.fault.clone()
            })
    };
    lock(&shared.seen).push(Seen {
        method,
        path,
        fault: fault.clone(),
    });
    match fault {
        Some(Fault::Status(status)) => {
            let text = format!("fault proxy: injected HTTP {status}");
            let answer = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                reason(status),
                text.len()
            );
            client.write_all(answer.as_bytes())?;
            client.flush()?;
            let _ = client.shutdown(Shutdown::Write);
            Ok(())
        }
        Some(Fault::Hold) => {
            // Until the client closes (read returns 0 or fails) or the proxy stops.
            client.set_read_timeout(Some(POLL * 10))?;
            let mut buf = [0u8; 1024];
            while !shared.stop.load(Ordering::SeqCst) {
                match client.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
            Ok(())
        }
        Some(Fault::Drop) => client.shutdown(Shutdown::Both),
        other => {
            if other == Some(Fault::Gate) {
                while shared.releases.load(Ordering::SeqCst) == generation
                    && !shared.stop.load(Ordering::SeqCst)
                {
                    std::thread::sleep(POLL);
                }
            }
            let answer = forward(&head, &body, shared.upstream)?;
            match other {
                Some(Fault::DropAfterForward) => return client.shutdown(Shutdown::Both),
                Some(Fault::Slow(d)) => std::thread::sleep(d),
                _ => {}
            }
            client.write_all(&answer)?;
            client.flush()?;
            let _ = client.shutdown(Shutdown::Write);
            Ok(())
        }
    }
}

/// Sends a request upstream on a connection of its own and returns the whole answer, marked
/// `Connection: close`.
fn forward(head: &str, body: &[u8], upstream: SocketAddr) -> io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(close_connection(head).as_bytes())?;
    up.write_all(body)?;
    up.flush()?;
    let mut reader = BufReader::new(up);
    let (head, body) = read_message(&mut reader, false)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no answer upstream"))?;
    let mut out = close_connection(&head).into_bytes();
    out.extend_from_slice(&body);
    Ok(out)
}

/// The head with any `Connection`/`Keep-Alive` header replaced by `Connection: close`.
fn close_connection(head: &str) -> String {
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// Reads one HTTP/1.1 message: its head (up to the blank line) and its body (by
/// `Content-Length`, chunked encoding kept as it is, or — for an answer without either — up to
/// the end of the stream). `None` when the stream ends before a head.
fn read_message(
    reader: &mut BufReader<TcpStream>,
    request: bool,
) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let mut body = Vec::new();
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size =
                usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0").trim(), 16)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if !request && !head.starts_with("HTTP/1.1 204") && !head.starts_with("HTTP/1.1 304") {
        reader.read_to_end(&mut body)?;
    }
    Ok(Some((head, body)))
}

fn reason(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        429 => "Too Many Requests",
        _ => "Injected Fault",
    }
}

/// TCP mode: copies bytes both ways until either side closes.
fn pipe(client: TcpStream, shared: &Arc<Shared>) {
    let Ok(upstream) = TcpStream::connect(shared.upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    {
        let mut open = lock(&shared.open);
        for s in [&client, &upstream] {
            if let Ok(s) = s.try_clone() {
                open.push(s);
            }
        }
    }
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let s = Arc::clone(shared);
    let back = std::thread::spawn(move || copy(u2, c2, &s));
    copy(client, upstream, shared);
    let _ = back.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                while shared.paused.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An upstream answering every request `200 ok:<path>`, with the request count.
    fn upstream() -> (SocketAddr, Arc<Mutex<u32>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let count = Arc::new(Mutex::new(0));
        let c = Arc::clone(&count);
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let Ok(Some((head, _))) = read_message(&mut r, true) else {
                        return;
                    };
                    *c.lock().unwrap() += 1;
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let body = format!("ok:{path}");
                    let mut s = s;
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        (addr, count)
    }

    /// One request through the proxy: the whole answer, or the I/O error.
    fn get(proxy: &FaultProxy, method: &str, path: &str) -> io::Result<String> {
        let mut s = TcpStream::connect(proxy.addr())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn statuses_for_the_next_n_matching_requests_then_the_upstream() {
        let (up, count) = upstream();
        let p = FaultProxy::http(up).unwrap();
        p.inject(
            Rule::always(Fault::Status(503))
                .method("post")
                .path("/subjects/")
                .times(2),
        );
        assert!(
            get(&p, "GET", "/subjects/a")
                .unwrap()
                .contains("ok:/subjects/a")
        );
        for _ in 0..2 {
            let a = get(&p, "POST", "/subjects/a/versions").unwrap();
            assert!(a.starts_with("HTTP/1.1 503"), "{a}");
        }
        let a = get(&p, "POST", "/subjects/a/versions").unwrap();
        assert!(
            a.contains("ok:/subjects/a/versions") && a.contains("Connection: close"),
            "{a}"
        );
        assert!(!a.contains("keep-alive"), "{a}");
        assert_eq!(
            *count.lock().unwrap(),
            2,
            "the faulted requests never went upstream"
        );
        let faults: Vec<_> = p.seen().into_iter().map(|s| s.fault).collect();
        assert_eq!(
            faults,
            [
                None,
                Some(Fault::Status(503)),
                Some(Fault::Status(503)),
                None
            ]
        );
    }

    #[test]
    fn slow_dropped_and_held_requests() {
        let (up, count) = upstream();
        let p = FaultProxy::http(up).unwrap();
        p.inject(Rule::always(Fault::Slow(Duration::from_millis(300))).times(1));
        let t = Instant::now();
        assert!(get(&p, "GET", "/x").unwrap().contains("ok:/x"));
        assert!(t.elapsed() >= Duration::from_millis(300));

        p.inject(Rule::always(Fault::Drop).times(1));
        assert_eq!(get(&p, "GET", "/x").unwrap_or_default(), "");
        p.inject(Rule::always(Fault::DropAfterForward).times(1));
        assert_eq!(get(&p, "GET", "/y").unwrap_or_default(), "");
        assert_eq!(
            *count.lock().unwrap(),
            2,
            "dropped after forwarding: carried out"
        );

        p.inject(Rule::always(Fault::Hold).times(1));
        let mut s = TcpStream::connect(p.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        write!(s, "GET /z HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 16];
        let e = s.read(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        assert_eq!(*count.lock().unwrap(), 2, "held, never forwarded");

        p.inject(Rule::always(Fault::Gate).times(1));
        let gated = {
            let p_addr = p.addr();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(p_addr).unwrap();
                write!(s, "GET /g HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(*count.lock().unwrap(), 2, "gated, not yet forwarded");
        p.release();
        assert!(gated.join().unwrap().contains("ok:/g"));
        assert_eq!(*count.lock().unwrap(), 3);
    }

    #[test]
    fn refused_then_accepted_again_on_the_same_port() {
        let (up, _) = upstream();
        let p = FaultProxy::http(up).unwrap();
        p.refuse(true);
        let e = TcpStream::connect(p.addr()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        p.clear();
        assert!(get(&p, "GET", "/back").unwrap().contains("ok:/back"));
    }

    #[test]
    fn tcp_mode_pipes_and_resets() {
        let (up, _) = upstream();
        let p = FaultProxy::tcp(up).unwrap();
        assert!(get(&p, "GET", "/t").unwrap().contains("ok:/t"));
        let mut s = TcpStream::connect(p.addr()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        p.reset_connections();
        let mut out = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert_eq!(
            s.read_to_end(&mut out).unwrap_or(0),
            0,
            "closed by the proxy"
        );
    }
}
