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
//! - **Kafka** ([`FaultProxy::kafka`]): one proxy for a whole cluster, a port per broker, each
//!   bound where the sandbox's relay listener advertises that broker (see
//!   [`crate::Options::relay`]), so every connection a client makes — bootstrap and after —
//!   goes through it. It reads the Kafka protocol's framing (a size, then the request header:
//!   API key, version, correlation id), so a [`Rule`] names an API (`"CreateTopics"`,
//!   `"CreateAcls"`, `"Produce"`; see [`api_name`]) and its fault hits exactly one request:
//!   swallow it (the client's request times out, the connection lives on), close the
//!   connection before forwarding it, forward it and close the connection when its answer
//!   comes back (carried out, answer lost), delay it, or gate it. The whole-proxy faults of TCP
//!   mode apply too.
//! - All: refuse new connections ([`FaultProxy::refuse`]: the listening socket is closed, so a
//!   client gets "connection refused"; the same port is bound again afterwards).
//!
//! Plain std threads and blocking sockets; everything stops when the handle is dropped.

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
    /// (HTTP only: a Kafka request meeting it is forwarded as it is.)
    Status(u16),
    /// Forwarded; the answer is held back this long (a slow server, or, beyond the client's
    /// timeout, a request carried out whose answer never arrives in time).
    Slow(Duration),
    /// Not forwarded and never answered: held until the client gives up and closes. (Kafka:
    /// the request is swallowed; the connection goes on carrying the client's other requests.)
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
    /// `GET`, `POST`, …, or a Kafka API's name (`CreateTopics`; see [`api_name`]), in any
    /// case (`None`: any).
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
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| path.contains(p))
    }
}

/// A request the proxy saw, and the fault it got (`None`: forwarded as it was). Kafka mode:
/// `method` is the API's name ([`api_name`]), `path` the broker's address it went to.
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
    Kafka,
}

struct Shared {
    mode: Mode,
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

/// A running proxy; stops (and closes its ports) when dropped.
pub struct FaultProxy {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
}

impl FaultProxy {
    /// An HTTP proxy to `upstream` on a free loopback port.
    pub fn http(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::start(Mode::Http, &[(free(), upstream)])
    }

    /// A TCP proxy to `upstream` on a free loopback port.
    pub fn tcp(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::start(Mode::Tcp, &[(free(), upstream)])
    }

    /// A Kafka proxy for a cluster: for each `(listen, upstream)` pair, a port `listen` that
    /// forwards to the broker at `upstream`. Rules, faults and what was seen are shared by all.
    pub fn kafka(brokers: &[(SocketAddr, SocketAddr)]) -> io::Result<FaultProxy> {
        Self::start(Mode::Kafka, brokers)
    }

    fn start(mode: Mode, pairs: &[(SocketAddr, SocketAddr)]) -> io::Result<FaultProxy> {
        if pairs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fault proxy needs at least one upstream (a Kafka one: a sandbox with relays)",
            ));
        }
        let shared = Arc::new(Shared {
            mode,
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            releases: std::sync::atomic::AtomicU64::new(0),
            open: Mutex::new(Vec::new()),
        });
        let mut proxy = FaultProxy {
            addrs: Vec::new(),
            shared,
            acceptors: Vec::new(),
        };
        // On an error here, dropping `proxy` stops the acceptors already started.
        for &(listen, upstream) in pairs {
            let listener = TcpListener::bind(listen)?;
            let addr = listener.local_addr()?;
            let s = Arc::clone(&proxy.shared);
            let acceptor = std::thread::Builder::new()
                .name("fault-proxy".into())
                .spawn(move || accept_loop(listener, addr, upstream, &s))?;
            proxy.addrs.push(addr);
            proxy.acceptors.push(acceptor);
        }
        Ok(proxy)
    }

    /// Where clients connect (the first port of a Kafka proxy).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every port, in the order given (one per broker for a Kafka proxy).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
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

    /// TCP and Kafka modes: stops (or resumes) moving bytes on every connection.
    pub fn pause(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::SeqCst);
    }

    /// TCP and Kafka modes: closes every open connection at once, both ways.
    pub fn reset_connections(&self) {
        for s in lock(&self.shared.open).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Every request the HTTP or Kafka proxy saw so far, in order of arrival.
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
        for a in self.acceptors.drain(..) {
            let _ = a.join();
        }
    }
}

const POLL: Duration = Duration::from_millis(10);

/// A free loopback port's address (port 0: the system picks one at bind).
fn free() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    shared: &Arc<Shared>,
) {
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
                            let _ = serve_http(client, upstream, &s);
                        }
                        Mode::Tcp | Mode::Kafka => pipe(client, upstream, &s),
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// One HTTP request: read it, apply the first matching rule, answer.
fn serve_http(client: TcpStream, upstream: SocketAddr, shared: &Shared) -> io::Result<()> {
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
    let fault = shared.fault_for(method, path);
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
            let answer = forward(&head, &body, upstream)?;
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

impl Shared {
    /// The fault of the first rule matching a request (counting it against the rule's
    /// `times`), recorded with the request in `seen`.
    fn fault_for(&self, method: String, path: String) -> Option<Fault> {
        let fault = {
            let mut rules = lock(&self.rules);
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
        lock(&self.seen).push(Seen {
            method,
            path,
            fault: fault.clone(),
        });
        fault
    }

    /// Waits while the proxy is paused; false once it is stopping.
    fn wait_unpaused(&self) -> bool {
        while self.paused.load(Ordering::SeqCst) {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(POLL);
        }
        !self.stop.load(Ordering::SeqCst)
    }
}

/// TCP and Kafka modes: copies bytes both ways until either side closes (Kafka mode: frame by
/// frame, with the rules applied to each request).
fn pipe(client: TcpStream, upstream_addr: SocketAddr, shared: &Arc<Shared>) {
    let Ok(upstream) = TcpStream::connect(upstream_addr) else {
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
    if shared.mode == Mode::Kafka {
        let lose = Arc::new(Mutex::new(Vec::new()));
        let l = Arc::clone(&lose);
        let back = std::thread::spawn(move || kafka_answers(u2, c2, &l, &s));
        kafka_requests(client, upstream, upstream_addr, &lose, shared);
        let _ = back.join();
        return;
    }
    let back = std::thread::spawn(move || copy(u2, c2, &s));
    copy(client, upstream, shared);
    let _ = back.join();
}

/// One Kafka frame: its 4-byte size and the bytes it counts. `None` at the end of the stream.
fn read_frame(from: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut size = [0u8; 4];
    match from.read_exact(&mut size) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = usize::try_from(i32::from_be_bytes(size))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative frame size"))?;
    // Kafka's own default limit on a request (socket.request.max.bytes) is 100 MiB.
    if n > 100 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut frame = Vec::with_capacity(4 + n);
    frame.extend_from_slice(&size);
    frame.resize(4 + n, 0);
    from.read_exact(&mut frame[4..])?;
    Ok(Some(frame))
}

/// Client to broker: each request frame meets the rules (by API name) and is forwarded,
/// swallowed, delayed, gated, or ends the connection.
fn kafka_requests(
    mut from: TcpStream,
    mut to: TcpStream,
    broker: SocketAddr,
    lose: &Mutex<Vec<i32>>,
    shared: &Shared,
) {
    let end = |from: &TcpStream, to: &TcpStream| {
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    };
    while let Ok(Some(frame)) = read_frame(&mut from) {
        if !shared.wait_unpaused() {
            break;
        }
        // Request header: api_key i16, api_version i16, correlation_id i32 (after the size).
        let (api_key, correlation) = match frame.get(4..12) {
            Some(h) => (
                i16::from_be_bytes([h[0], h[1]]),
                i32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ),
            None => (-1, -1),
        };
        let generation = shared.releases.load(Ordering::SeqCst);
        match shared.fault_for(api_name(api_key), broker.to_string()) {
            Some(Fault::Hold) => continue,
            Some(Fault::Drop) => {
                end(&from, &to);
                return;
            }
            Some(Fault::DropAfterForward) => lock(lose).push(correlation),
            Some(Fault::Slow(d)) => std::thread::sleep(d),
            Some(Fault::Gate) => {
                while shared.releases.load(Ordering::SeqCst) == generation
                    && !shared.stop.load(Ordering::SeqCst)
                {
                    std::thread::sleep(POLL);
                }
            }
            Some(Fault::Status(_)) | None => {}
        }
        if to.write_all(&frame).is_err() {
            break;
        }
    }
    end(&from, &to);
}

/// Broker to client: each answer frame is passed on, unless it answers a request whose answer
/// is to be lost — then the connection ends instead.
fn kafka_answers(mut from: TcpStream, mut to: TcpStream, lose: &Mutex<Vec<i32>>, shared: &Shared) {
    while let Ok(Some(frame)) = read_frame(&mut from) {
        if !shared.wait_unpaused() {
            break;
        }
        let correlation = frame
            .get(4..8)
            .map_or(-1, |c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        let lost = {
            let mut lose = lock(lose);
            let at = lose.iter().position(|&c| c == correlation);
            at.map(|i| lose.remove(i)).is_some()
        };
        if lost || to.write_all(&frame).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// The name of a Kafka API by its key, as rules name it (`"ApiKey<n>"` for one not listed).
pub fn api_name(key: i16) -> String {
    let name = match key {
        0 => "Produce",
        1 => "Fetch",
        2 => "ListOffsets",
        3 => "Metadata",
        8 => "OffsetCommit",
        9 => "OffsetFetch",
        10 => "FindCoordinator",
        11 => "JoinGroup",
        12 => "Heartbeat",
        13 => "LeaveGroup",
        14 => "SyncGroup",
        15 => "DescribeGroups",
        16 => "ListGroups",
        17 => "SaslHandshake",
        18 => "ApiVersions",
        19 => "CreateTopics",
        20 => "DeleteTopics",
        22 => "InitProducerId",
        29 => "DescribeAcls",
        30 => "CreateAcls",
        31 => "DeleteAcls",
        32 => "DescribeConfigs",
        33 => "AlterConfigs",
        36 => "SaslAuthenticate",
        37 => "CreatePartitions",
        44 => "IncrementalAlterConfigs",
        60 => "DescribeCluster",
        69 => "ConsumerGroupDescribe",
        _ => return format!("ApiKey{key}"),
    };
    name.to_owned()
}

fn copy(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !shared.wait_unpaused() || to.write_all(&buf[..n]).is_err() {
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

    /// A Kafka-framed upstream: answers every request frame with its correlation id and the
    /// API key it saw; returns the address and the API keys received.
    fn kafka_upstream() -> (SocketAddr, Arc<Mutex<Vec<i16>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&got);
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let g = Arc::clone(&g);
                std::thread::spawn(move || {
                    while let Ok(Some(f)) = read_frame(&mut s) {
                        let key = i16::from_be_bytes([f[4], f[5]]);
                        g.lock().unwrap().push(key);
                        let mut answer = 6i32.to_be_bytes().to_vec();
                        answer.extend_from_slice(&f[8..12]);
                        answer.extend_from_slice(&key.to_be_bytes());
                        if s.write_all(&answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, got)
    }

    fn kafka_request(s: &mut TcpStream, key: i16, correlation: i32) {
        let mut f = 8i32.to_be_bytes().to_vec();
        f.extend_from_slice(&key.to_be_bytes());
        f.extend_from_slice(&0i16.to_be_bytes());
        f.extend_from_slice(&correlation.to_be_bytes());
        s.write_all(&f).unwrap();
    }

    /// The correlation id of the next answer, or the error (end of stream: `UnexpectedEof`).
    fn kafka_answer(s: &mut TcpStream) -> io::Result<i32> {
        let f = read_frame(s)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(i32::from_be_bytes([f[4], f[5], f[6], f[7]]))
    }

    #[test]
    fn kafka_mode_faults_hit_one_request_by_api() {
        let (up, got) = kafka_upstream();
        let p = FaultProxy::kafka(&[(free(), up)]).unwrap();
        let connect = || {
            let s = TcpStream::connect(p.addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        };
        // Swallowed: the create gets no answer; the connection carries the next request.
        p.inject(Rule::always(Fault::Hold).method("createtopics").times(1));
        let mut s = connect();
        kafka_request(&mut s, 3, 1);
        kafka_request(&mut s, 19, 2);
        kafka_request(&mut s, 19, 3);
        assert_eq!(kafka_answer(&mut s).unwrap(), 1);
        assert_eq!(kafka_answer(&mut s).unwrap(), 3, "request 2 was swallowed");
        assert_eq!(*got.lock().unwrap(), [3, 19]);

        // Carried out, answer lost: forwarded, then the connection ends instead of the answer.
        p.inject(
            Rule::always(Fault::DropAfterForward)
                .method("CreateAcls")
                .times(1),
        );
        kafka_request(&mut s, 30, 4);
        assert_eq!(
            kafka_answer(&mut s).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(*got.lock().unwrap(), [3, 19, 30]);

        // Dropped before forwarding: the connection ends; the broker never saw it.
        p.inject(Rule::always(Fault::Drop).method("Produce").times(1));
        let mut s = connect();
        kafka_request(&mut s, 0, 5);
        assert!(kafka_answer(&mut s).is_err());
        assert_eq!(got.lock().unwrap().len(), 3);

        // Rules used up: everything passes, and the proxy saw each request by name.
        let mut s = connect();
        kafka_request(&mut s, 0, 6);
        assert_eq!(kafka_answer(&mut s).unwrap(), 6);
        let seen: Vec<(String, Option<Fault>)> =
            p.seen().into_iter().map(|x| (x.method, x.fault)).collect();
        assert_eq!(
            seen,
            [
                ("Metadata".to_owned(), None),
                ("CreateTopics".to_owned(), Some(Fault::Hold)),
                ("CreateTopics".to_owned(), None),
                ("CreateAcls".to_owned(), Some(Fault::DropAfterForward)),
                ("Produce".to_owned(), Some(Fault::Drop)),
                ("Produce".to_owned(), None),
            ]
        );
        assert_eq!(api_name(-3), "ApiKey-3");
        assert!(
            FaultProxy::kafka(&[]).is_err(),
            "no brokers: refused, not a panic later"
        );
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
