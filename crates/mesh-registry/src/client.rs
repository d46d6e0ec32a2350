//! The HTTP plumbing: the client, its credentials, one bounded request path, and how answers
//! and failures become values or [`RegistryError`]s.

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::RegistryError;

/// The media type of the Confluent Schema Registry API, for requests and answers.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPTED: &str = "application/vnd.schemaregistry.v1+json, application/json;q=0.9";
const REDACTED: &str = "<redacted>";

/// At most this many HTTP requests are in flight by default. Reads of 1,200 subjects on the
/// sandbox's Apicurio (docs/benchmarks.md, session 6): 1,302 requests/s at 1, 2,254 at 8,
/// 2,866 at 16, 2,737 at 32, 3,130 at 64 — little gained past 16 for twice the load; apply's
/// 16 writing threads share this bound.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How the client proves who it is. `Debug` never shows a password or token.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// HTTP Basic (Confluent Cloud: API key and secret; Karapace; Confluent Platform).
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>` (OAuth).
    Bearer { token: String },
}

impl Auth {
    /// Texts that must never appear in an error: the secret itself and its encodings.
    fn secrets(&self) -> Vec<String> {
        match self {
            Auth::None => Vec::new(),
            Auth::Basic { user, password } => {
                let mut s = vec![
                    password.clone(),
                    base64(format!("{user}:{password}").as_bytes()),
                ];
                s.retain(|s| !s.is_empty());
                s
            }
            Auth::Bearer { token } if token.is_empty() => Vec::new(),
            Auth::Bearer { token } => vec![token.clone()],
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &REDACTED)
                .finish(),
            Auth::Bearer { .. } => f.debug_struct("Bearer").field("token", &REDACTED).finish(),
        }
    }
}

/// TLS beyond the system's trust roots: a CA to trust as well (a private CA's PEM file), and a
/// client certificate with its private key for mutual TLS. Paths are read when the client is
/// built; an unreadable or malformed file is a [`RegistryError::Tls`] naming it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// PEM file of one or more CA certificates, trusted in addition to the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM files of the client certificate (chain) and its private key (PKCS#8, PKCS#1 or SEC1).
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Tls {
    /// Applies the files to a client builder.
    pub fn configure(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, RegistryError> {
        let read = |setting: &str, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| RegistryError::Tls {
                setting: setting.to_owned(),
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        if let Some(ca) = &self.ca_file {
            let pem = read("ca_file", ca)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| RegistryError::Tls {
                    setting: "ca_file".into(),
                    path: ca.display().to_string(),
                    reason: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &self.client {
            let mut pem = read("cert_file", cert)?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(RegistryError::Tls {
                    setting: "cert_file".into(),
                    path: cert.display().to_string(),
                    reason: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                });
            }
            let key_pem = read("key_file", key)?;
            if !String::from_utf8_lossy(&key_pem).contains("PRIVATE KEY-----") {
                return Err(RegistryError::Tls {
                    setting: "key_file".into(),
                    path: key.display().to_string(),
                    reason: "holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"
                        .into(),
                });
            }
            pem.push(b'\n');
            pem.extend_from_slice(&key_pem);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| RegistryError::Tls {
                setting: "cert_file/key_file".into(),
                path: format!("{} and {}", cert.display(), key.display()),
                reason: format!("not a usable certificate and key: {e}"),
            })?;
            builder = builder.identity(identity);
        }
        Ok(builder)
    }
}

/// Where [`RegistryClient::fetch_into`] puts a success's body.
pub(crate) enum Sink<'a> {
    /// All of it, in one buffer.
    Buffer(&'a mut Vec<u8>),
    /// Chunk by chunk, to a reader on another thread. The channel is bounded: a reader slower
    /// than the network holds the download back rather than letting it queue up (Apicurio's
    /// export of 12,000 subjects queued 10 MB at the peak of a plan).
    Channel(&'a tokio::sync::mpsc::Sender<Vec<u8>>),
}

/// A Schema Registry spoken to through the Confluent REST API only (Confluent Platform and
/// Cloud, Karapace, Apicurio's `/apis/ccompat/v7`).
///
/// The methods are blocking: the client owns a small current-thread Tokio runtime and runs
/// each call to completion on it, with up to [`RegistryClient::with_concurrency`] requests in
/// flight. Do not call them from inside an async runtime (they return a `Setup` error there);
/// use `spawn_blocking`.
///
/// The inherent methods return [`RegistryError`]; the `mesh_plan::registry` traits wrap the
/// same calls and turn the error into its message.
pub struct RegistryClient {
    pub(crate) base: Url,
    /// The base URL as shown in messages (never carries credentials: `new` refuses those).
    pub(crate) shown: String,
    auth: Auth,
    secrets: Vec<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    limit: Semaphore,
    pub(crate) concurrency: usize,
    pub(crate) history: bool,
    timeout: Duration,
    /// Whether this registry answers the bulk listing `GET /schemas` (see `api.rs`): learnt from
    /// its first answer and remembered for the client's life.
    pub(crate) bulk: crate::api::BulkSupport,
    /// From how many subjects a read tries Apicurio 2's export (see `export.rs`); `None`: never.
    pub(crate) export_from: Option<usize>,
    /// Whether the export is worth trying on this registry (see `export.rs`): learnt from its
    /// first attempt and remembered for the client's life.
    pub(crate) export: crate::api::BulkSupport,
    /// HTTP requests sent so far (answered or not).
    sent: std::sync::atomic::AtomicUsize,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.shown)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("history", &self.history)
            .finish()
    }
}

impl fmt::Display for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Schema Registry at {}", self.shown)
    }
}

impl RegistryClient {
    /// A client for the registry at `base_url` (e.g. `http://127.0.0.1:18081/apis/ccompat/v7`
    /// or `https://psrc-xxxx.confluent.cloud`). `timeout` bounds connecting and each request.
    /// Credentials go in `auth`; a URL carrying a user or password is refused.
    pub fn new(base_url: &str, auth: Auth, timeout: Duration) -> Result<Self, RegistryError> {
        Self::with_tls(base_url, auth, &Tls::default(), timeout)
    }

    /// [`RegistryClient::new`] with a CA to trust and/or a client certificate ([`Tls`]).
    pub fn with_tls(
        base_url: &str,
        auth: Auth,
        tls: &Tls,
        timeout: Duration,
    ) -> Result<Self, RegistryError> {
        let base = self::base_url(base_url).map_err(|reason| RegistryError::InvalidUrl {
            url: mask_userinfo(base_url),
            reason,
        })?;
        let shown = base.as_str().trim_end_matches('/').to_owned();
        let setup = |e: &dyn fmt::Display| RegistryError::Setup {
            reason: e.to_string(),
        };
        // TLS with rustls on the ring provider (see Cargo.toml): installed once per process; an
        // error only means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout);
        let http = tls.configure(builder)?.build().map_err(|e| setup(&e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(&e))?;
        let secrets = auth.secrets();
        Ok(RegistryClient {
            base,
            shown,
            auth,
            secrets,
            http,
            runtime,
            limit: Semaphore::new(DEFAULT_CONCURRENCY),
            concurrency: DEFAULT_CONCURRENCY,
            history: true,
            timeout,
            bulk: crate::api::BulkSupport::default(),
            export_from: Some(crate::export::DEFAULT_EXPORT_FROM),
            export: crate::api::BulkSupport::default(),
            sent: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// At most `n` (≥ 1) HTTP requests in flight at once; default [`DEFAULT_CONCURRENCY`].
    pub fn with_concurrency(mut self, n: usize) -> Self {
        let n = n.max(1);
        self.concurrency = n;
        self.limit = Semaphore::new(n);
        self
    }

    /// Whether `read_subjects` fetches every version's text (`LiveSubject::history`, one
    /// request per version) or only the latest. Default: every version.
    pub fn with_history(mut self, history: bool) -> Self {
        self.history = history;
        self
    }

    /// Reads of at least `n` subjects try Apicurio Registry 2's export first (one request for
    /// the whole registry instead of two per subject; see `export.rs`); `None`: never.
    /// Default [`crate::export::DEFAULT_EXPORT_FROM`].
    pub fn with_export_from(mut self, n: Option<usize>) -> Self {
        self.export_from = n;
        self
    }

    /// How many HTTP requests this client has sent so far.
    pub fn requests_sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The base URL, as used in messages.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Runs `f` to completion on the client's runtime.
    pub(crate) fn block_on<F: Future>(&self, f: F) -> Result<F::Output, RegistryError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(RegistryError::Setup {
                reason: "called from inside an async runtime; call it from a blocking thread \
                         (tokio::task::spawn_blocking)"
                    .to_owned(),
            });
        }
        Ok(self.runtime.block_on(f))
    }

    /// `base/segment/segment…` with each segment percent-encoded (a subject may hold `/`).
    pub(crate) fn url_for(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        join(&self.base, segments, query)
    }

    /// A request with the API's headers and the credentials (marked sensitive by reqwest).
    pub(crate) fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.request_accepting(method, url, ACCEPTED)
    }

    /// [`RegistryClient::request`] asking for the media type `accept`.
    pub(crate) fn request_accepting(
        &self,
        method: Method,
        url: Url,
        accept: &str,
    ) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url).header(ACCEPT, accept);
        match &self.auth {
            Auth::None => builder,
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password)),
            Auth::Bearer { token } => builder.bearer_auth(token),
        }
    }

    /// One API call: waits for a slot, sends, reads the whole answer, and decodes a success
    /// as `T` or a failure as a [`RegistryError`] carrying the registry's `error_code`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, RegistryError> {
        let request = describe_request(&method, segments, query);
        let mut builder = self.request(method, self.url_for(segments, query));
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, MEDIA_TYPE)
                .body(serde_json::to_vec(body).expect("a JSON value serialises"));
        }
        let bytes = self.fetch(builder, &request).await?;
        crate::reply::decode(&bytes).map_err(|reason| self.invalid(request, reason))
    }

    /// Sends a request built by [`RegistryClient::request`] once a slot is free and returns the
    /// body of a success; a failure becomes a [`RegistryError`] about `request`.
    pub(crate) async fn fetch(
        &self,
        builder: reqwest::RequestBuilder,
        request: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut body = Vec::new();
        self.fetch_into(builder, request, Sink::Buffer(&mut body))
            .await?;
        Ok(body)
    }

    /// [`RegistryClient::fetch`], handing a success's body to `sink` chunk by chunk as it
    /// arrives (a failure's body is kept for the error and never reaches `sink`). Each chunk is
    /// let go of once the sink has it: hyper's chunks share its read buffers, and kept until a
    /// 21 MB answer (Apicurio's export) was whole they pinned about six times its size.
    pub(crate) async fn fetch_into(
        &self,
        builder: reqwest::RequestBuilder,
        request: &str,
        mut sink: Sink<'_>,
    ) -> Result<(), RegistryError> {
        let _slot = self
            .limit
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut response = builder.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let mut failed = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(&e))? {
            if status.is_success() {
                match &mut sink {
                    Sink::Buffer(body) => body.extend_from_slice(&chunk),
                    // A reader that has given up has dropped its end: the rest is not needed.
                    Sink::Channel(to) => {
                        let _ = to.send(chunk.to_vec()).await;
                    }
                }
            } else {
                failed.extend_from_slice(&chunk);
            }
        }
        if status.is_success() {
            return Ok(());
        }
        Err(self.failure(request.to_owned(), status, &failed))
    }

    /// An answer that is not what `request` documents.
    fn invalid(&self, request: String, reason: String) -> RegistryError {
        RegistryError::InvalidResponse {
            url: self.shown.clone(),
            request,
            reason: self.redact(reason),
        }
    }

    fn failure(&self, request: String, status: StatusCode, body: &[u8]) -> RegistryError {
        let (error_code, message) = crate::reply::failure(body);
        let message = self.redact(message);
        let url = self.shown.clone();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
                url,
                request,
                status: status.as_u16(),
                message,
            },
            _ => RegistryError::Api {
                url,
                request,
                status: status.as_u16(),
                error_code,
                message,
            },
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> RegistryError {
        let timed_out = e.is_timeout()
            || chain(e).any(|s| {
                s.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            });
        let reason = if timed_out {
            format!("no answer within {:.1} s", self.timeout.as_secs_f64())
        } else {
            // The innermost cause says what happened ("Connection refused (os error 111)");
            // the outer layers repeat the URL.
            let cause = chain(e)
                .last()
                .map_or_else(|| e.to_string(), |s| s.to_string());
            let hint = tls_hint(&cause);
            if e.is_connect() {
                format!("cannot connect: {cause}{hint}")
            } else {
                format!("{cause}{hint}")
            }
        };
        RegistryError::Unreachable {
            url: self.shown.clone(),
            reason: self.redact(reason),
            timed_out,
        }
    }

    /// Removes every secret from a text that came from the network or a library.
    fn redact(&self, text: String) -> String {
        mesh_diagnostics::mask_secrets(&text, &self.secrets, REDACTED)
    }
}

/// What to do about a TLS failure, from the TLS library's words for it.
fn tls_hint(cause: &str) -> &'static str {
    let c = cause.to_ascii_lowercase();
    if c.contains("unknownissuer") || c.contains("unknown issuer") || c.contains("unknownca") {
        " (the registry's certificate is signed by a CA this machine does not trust: set ca_file = \"path/to/ca.pem\" under [environments.<env>.schema_registry])"
    } else if c.contains("notvalidforname") || c.contains("not valid for name") {
        " (the registry's certificate does not name this host: use the host name it was issued for in schema_registry_url)"
    } else if c.contains("expired") {
        " (a certificate has expired: the registry's, or the client certificate in cert_file; renew it)"
    } else if c.contains("certificaterequired") || c.contains("certificate required") {
        " (the registry requires a client certificate: set cert_file and key_file under [environments.<env>.schema_registry])"
    } else if c.contains("invalidcontenttype") || c.contains("corrupt message") {
        " (is this an HTTPS port spoken to over http://, or the other way round?)"
    } else {
        ""
    }
}

fn chain(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |s| (*s).source())
}

/// `base/segment/segment…?query` with each segment percent-encoded (a subject may hold `/`).
pub(crate) fn join(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    url.path_segments_mut()
        // Every base here comes from base_url() (http or https with a host) or native_base()
        // (the same URL with another path), and such URLs always have path segments.
        .expect("an http(s) URL with a host can be a base")
        .pop_if_empty()
        .extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

/// `GET /subjects/orders-value/versions` — the subject unencoded, for people.
fn describe_request(method: &Method, segments: &[&str], query: &[(&str, &str)]) -> String {
    let mut s = format!("{method} /{}", segments.join("/"));
    for (i, (k, v)) in query.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(&format!("{k}={v}"));
    }
    s
}

/// An HTTP service's base URL (the registry's, Connect's): http or https, a host, no
/// credentials, query or fragment; else why not.
pub fn base_url(url: &str) -> Result<Url, String> {
    let base = Url::parse(url.trim()).map_err(|e| e.to_string())?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".into());
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(
            "credentials must not be part of the URL; pass them as Basic or Bearer auth".into(),
        );
    }
    if base.cannot_be_a_base() || base.host().is_none() {
        return Err("not a base URL".into());
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err("a base URL has no query or fragment".into());
    }
    Ok(base)
}

/// Hides `user:password@` in a URL (one that could not be parsed too), for messages.
pub fn mask_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}{REDACTED}@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_owned(),
    }
}

/// Standard base64 with padding (only to recognise a Basic header's value when redacting).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(auth: Auth) -> RegistryClient {
        RegistryClient::new(
            "https://registry.example:8081/apis/ccompat/v7/",
            auth,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    fn authorization(c: &RegistryClient) -> Option<reqwest::header::HeaderValue> {
        let url = c.url_for(&["subjects"], &[]);
        let req = c.request(Method::GET, url).build().unwrap();
        req.headers().get(reqwest::header::AUTHORIZATION).cloned()
    }

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"alice:s3cret"), "YWxpY2U6czNjcmV0");
    }

    #[test]
    fn basic_and_bearer_headers_are_sent_and_sensitive() {
        let basic = client(Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        });
        let h = authorization(&basic).expect("a Basic header");
        assert_eq!(h.to_str().unwrap(), "Basic YWxpY2U6czNjcmV0");
        assert!(h.is_sensitive());

        let bearer = client(Auth::Bearer {
            token: "tok-123".into(),
        });
        let h = authorization(&bearer).expect("a Bearer header");
        assert_eq!(h.to_str().unwrap(), "Bearer tok-123");
        assert!(h.is_sensitive());

        assert!(authorization(&client(Auth::None)).is_none());
    }

    #[test]
    fn debug_and_display_never_show_secrets() {
        let basic = client(Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        });
        let bearer = client(Auth::Bearer {
            token: "tok-123".into(),
        });
        for text in [
            format!("{basic:?}"),
            format!("{basic:#?}"),
            format!("{basic}"),
            format!("{bearer:?}"),
            format!("{bearer}"),
            format!(
                "{:?}",
                Auth::Basic {
                    user: "alice".into(),
                    password: "s3cret".into()
                }
            ),
        ] {
            for secret in ["s3cret", "YWxpY2U6czNjcmV0", "tok-123"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        assert!(format!("{basic:?}").contains("alice"));
        assert!(format!("{basic:?}").contains(REDACTED));
    }

    #[test]
    fn errors_built_from_answers_are_redacted() {
        let c = client(Auth::Basic {
            user: "alice".into(),
            password: "s3cret".into(),
        });
        let e = c.failure(
            "GET /subjects".into(),
            StatusCode::UNAUTHORIZED,
            br#"{"error_code":40101,"message":"bad login alice:s3cret / Basic YWxpY2U6czNjcmV0"}"#,
        );
        assert!(matches!(e, RegistryError::Unauthorized { status: 401, .. }));
        assert!(e.to_string().contains("authentication failed"), "{e}");
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(
                !text.contains("s3cret") && !text.contains("YWxpY2U6czNjcmV0"),
                "{text}"
            );
        }
        let e = c.failure(
            "PUT /config/x".into(),
            StatusCode::BAD_REQUEST,
            b"Not able to deserialize data provided.",
        );
        assert_eq!(
            e.to_string(),
            "the Schema Registry at https://registry.example:8081/apis/ccompat/v7 refused \
             PUT /config/x: HTTP 400: Not able to deserialize data provided."
        );
        let e = c.failure(
            "GET /subjects/x/versions".into(),
            StatusCode::NOT_FOUND,
            br#"{"error_code":40401,"message":"Subject 'x' not found."}"#,
        );
        assert_eq!(e.error_code(), Some(40401));
        assert!(
            e.to_string()
                .ends_with("HTTP 404 (error 40401): Subject 'x' not found.")
        );
    }

    #[test]
    fn subjects_are_percent_encoded_as_one_segment() {
        let c = client(Auth::None);
        let url = c.url_for(
            &["subjects", "a b/cé?#", "versions"],
            &[("permanent", "true")],
        );
        assert_eq!(
            url.as_str(),
            "https://registry.example:8081/apis/ccompat/v7/subjects/a%20b%2Fc%C3%A9%3F%23/versions?permanent=true"
        );
        let root = RegistryClient::new("http://h:1", Auth::None, Duration::from_secs(1)).unwrap();
        assert_eq!(root.url_for(&["config"], &[]).as_str(), "http://h:1/config");
        assert_eq!(root.url(), "http://h:1");
    }

    #[test]
    fn urls_with_credentials_or_other_schemes_are_refused_without_echoing_secrets() {
        let t = Duration::from_secs(1);
        for url in [
            "http://alice:s3cret@registry:8081",
            "http://alice:s3cret@registry:notaport/x",
        ] {
            let e = RegistryClient::new(url, Auth::None, t).unwrap_err();
            assert!(matches!(e, RegistryError::InvalidUrl { .. }), "{e:?}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
            assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
        }
        for url in ["ftp://registry", "registry:8081", "http://h/x?a=b", ""] {
            assert!(
                RegistryClient::new(url, Auth::None, t).is_err(),
                "{url} accepted"
            );
        }
    }

    #[test]
    fn tls_failures_say_what_to_fix() {
        assert!(tls_hint("invalid peer certificate: UnknownIssuer").contains("ca_file"));
        assert!(tls_hint("invalid peer certificate: NotValidForName").contains("host name"));
        assert!(tls_hint("invalid peer certificate: Expired").contains("expired"));
        assert!(tls_hint("received fatal alert: CertificateRequired").contains("cert_file"));
        assert_eq!(tls_hint("Connection refused (os error 111)"), "");
    }

    #[test]
    fn unusable_tls_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let t = Duration::from_secs(1);
        let missing = Tls {
            ca_file: Some(dir.path().join("nope.pem")),
            client: None,
        };
        let e = RegistryClient::with_tls("https://r:1", Auth::None, &missing, t).unwrap_err();
        assert!(matches!(e, RegistryError::Tls { .. }), "{e:?}");
        assert!(
            e.to_string().contains("schema_registry.ca_file") && e.to_string().contains("nope.pem"),
            "{e}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let bad_ca = Tls {
            ca_file: Some(junk.clone()),
            client: None,
        };
        let e = RegistryClient::with_tls("https://r:1", Auth::None, &bad_ca, t).unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        let bad_client = Tls {
            ca_file: None,
            client: Some((junk.clone(), junk)),
        };
        let e = RegistryClient::with_tls("https://r:1", Auth::None, &bad_client, t).unwrap_err();
        assert!(e.to_string().contains("schema_registry.cert_file"), "{e}");
    }

    #[test]
    fn requests_are_described_for_people() {
        assert_eq!(
            describe_request(
                &Method::DELETE,
                &["subjects", "a b"],
                &[("permanent", "true")]
            ),
            "DELETE /subjects/a b?permanent=true"
        );
    }
}
