//! The Kafka Connect adapter of `mesh`: [`ConnectClient`] implements
//! `mesh_plan::connect::{ConnectReader, ConnectWriter}` over Connect's REST API.
//!
//! | what | request |
//! | --- | --- |
//! | read every connector, its config and status | `GET /connectors?expand=info&expand=status` |
//! | validate a config | `PUT /connector-plugins/{class}/config/validate` |
//! | create or reconfigure | `PUT /connectors/{name}/config` |
//! | pause, stop, resume | `PUT /connectors/{name}/pause`, `…/stop`, `…/resume` |
//! | delete | `DELETE /connectors/{name}` (already gone counts as done) |
//!
//! Configs arrive as written in the repo; mesh's own `${VAR}` references are expanded here,
//! just before a request is sent, and Connect's config-provider references (`${file:…}`,
//! `${env:…}`) go to Connect untouched. Every text that comes back (Connect's error messages,
//! validation messages) has the expanded values of sensitive keys and the credentials removed
//! before it reaches an error or a plan.
//!
//! Architecture invariant: the only crate that knows Connect's REST API and its wire format.

pub mod reply;

use std::collections::BTreeMap;
use std::error::Error as _;
use std::time::Duration;

use mesh_plan::connect::{ConfigProblem, ConnectReader, ConnectWriter, ConnectorState};
use mesh_plan::{AdapterError, ErrorKind};
use mesh_registry::{Auth, Tls};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};

const REDACTED: &str = "<redacted>";

/// Looks a variable up in the environment mesh runs in.
pub type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A Kafka Connect cluster's REST API. Blocking: a small current-thread runtime runs each call.
pub struct ConnectClient {
    base: Url,
    shown: String,
    auth: Auth,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    timeout: Duration,
    lookup: Lookup,
}

impl std::fmt::Debug for ConnectClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectClient")
            .field("url", &self.shown)
            .field("auth", &self.auth)
            .finish()
    }
}

impl ConnectClient {
    /// A client for the Connect REST API at `url` (`http://connect:8083`). `lookup` expands
    /// mesh's `${VAR}` references in connector configs. Credentials in the URL are refused.
    pub fn new(
        url: &str,
        auth: Auth,
        tls: &Tls,
        timeout: Duration,
        lookup: Lookup,
    ) -> Result<Self, AdapterError> {
        let base = mesh_registry::base_url(url).map_err(|reason| {
            AdapterError::invalid(format!(
                "invalid Kafka Connect URL {}: {reason} (help: url = \"https://connect.example:8083\" under [environments.<env>.connect]; credentials go in username/password or token)",
                mesh_registry::mask_userinfo(url)
            ))
        })?;
        let shown = base.as_str().trim_end_matches('/').to_owned();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout);
        let builder = tls.configure(builder).map_err(|e| match e {
            mesh_registry::RegistryError::Tls {
                setting,
                path,
                reason,
            } => AdapterError::invalid(format!(
                "connect.{setting} {path}: {reason}; check the file named in [environments.<env>.connect] of mesh.toml"
            )),
            other => AdapterError::invalid(other.to_string()),
        })?;
        let setup = |e: &dyn std::fmt::Display| {
            AdapterError::other(format!("cannot use the Kafka Connect client: {e}"))
        };
        let http = builder.build().map_err(|e| setup(&e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(&e))?;
        Ok(ConnectClient {
            base,
            shown,
            auth,
            http,
            runtime,
            timeout,
            lookup,
        })
    }

    /// The base URL, as used in messages.
    pub fn url(&self) -> &str {
        &self.shown
    }

    fn url_for(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Expands a config as written and returns it with the texts that must never be shown:
    /// the expanded values of its sensitive keys.
    fn expand(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<(BTreeMap<String, String>, Vec<String>), AdapterError> {
        let expanded = mesh_plan::connect::expand_config(config, &|v| (self.lookup)(v))
            .map_err(|(key, var)| {
                AdapterError::invalid(format!(
                    "connector config `{key}` reads ${{{var}}}, which is not set (help: set {var} in the environment that runs mesh)"
                ))
            })?;
        let hidden = expanded
            .iter()
            .filter(|(k, _)| {
                mesh_plan::connect::is_sensitive(k, config.get(*k).map(String::as_str))
            })
            .map(|(_, v)| v.clone())
            .filter(|v| v.len() >= 4)
            .collect();
        Ok((expanded, hidden))
    }

    /// Every text that must not appear in a message: credentials and `hidden`.
    fn redact(&self, text: &str, hidden: &[String]) -> String {
        let mut secrets: Vec<String> = hidden.to_vec();
        match &self.auth {
            Auth::None => {}
            Auth::Basic { password, .. } => secrets.push(password.clone()),
            Auth::Bearer { token } => secrets.push(token.clone()),
        }
        mesh_diagnostics::mask_secrets(text, &secrets, REDACTED)
    }

    /// One request: the answer's status and body, or why there was none.
    fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        hidden: &[String],
    ) -> Result<(StatusCode, Vec<u8>), AdapterError> {
        let shown_request = format!("{method} /{}", segments.join("/"));
        let mut builder = self
            .http
            .request(method, self.url_for(segments, query))
            .header(ACCEPT, "application/json");
        builder = match &self.auth {
            Auth::None => builder,
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password)),
            Auth::Bearer { token } => builder.bearer_auth(token),
        };
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(AdapterError::other(
                "the Kafka Connect client was called from inside an async runtime",
            ));
        }
        let answer = self.runtime.block_on(async {
            let response = builder.send().await?;
            let status = response.status();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes.to_vec()))
        });
        answer.map_err(|e| self.unreachable(&shown_request, &e, hidden))
    }

    fn unreachable(&self, request: &str, e: &reqwest::Error, hidden: &[String]) -> AdapterError {
        let chain = || std::iter::successors(e.source(), |s| (*s).source());
        let timed_out = e.is_timeout()
            || chain().any(|s| {
                s.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            });
        let reason = if timed_out {
            format!("no answer within {:.1} s", self.timeout.as_secs_f64())
        } else {
            let cause = chain()
                .last()
                .map_or_else(|| e.to_string(), |s| s.to_string());
            format!("cannot connect: {cause}")
        };
        let kind = if timed_out {
            ErrorKind::TimedOut
        } else {
            ErrorKind::Unreachable
        };
        AdapterError::new(
            kind,
            self.redact(
                &format!(
                    "the Kafka Connect cluster at {} is unreachable ({request}): {reason} (help: is the url under [environments.<env>.connect] right, and the Connect workers up? GET {}/ should answer)",
                    self.shown, self.shown
                ),
                hidden,
            ),
        )
    }

    /// A refusal: its kind from the status, its message from Connect's `{"error_code",
    /// "message"}` body.
    fn refused(
        &self,
        request: &str,
        status: StatusCode,
        body: &[u8],
        hidden: &[String],
    ) -> AdapterError {
        let message = reply::failure_message(body);
        let kind = match status.as_u16() {
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::Unauthorized {
                operation: request.to_owned(),
            },
            404 => ErrorKind::NotFound,
            // A worker rebalance or a config change in flight: "Cannot complete request
            // momentarily due to stale configuration" — it passes by itself.
            409 | 429 | 502 | 503 => ErrorKind::Unreachable,
            408 | 504 => ErrorKind::TimedOut,
            400 | 405 | 415 | 422 => ErrorKind::Invalid,
            _ if reply::is_unknown_plugin(&message) => ErrorKind::NotFound,
            _ => ErrorKind::Other,
        };
        let help = match status.as_u16() {
            401 => " (help: check username/password or token under [environments.<env>.connect])",
            403 => {
                " (help: the credentials under [environments.<env>.connect] lack the right to do this)"
            }
            _ => "",
        };
        AdapterError::new(
            kind,
            self.redact(
                &format!(
                    "the Kafka Connect cluster at {} refused {request}: HTTP {}{}{help}",
                    self.shown,
                    status.as_u16(),
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
                hidden,
            ),
        )
    }

    /// A request whose success needs no body.
    fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
        hidden: &[String],
        gone_is_done: bool,
    ) -> Result<(), AdapterError> {
        let request = format!("{method} /{}", segments.join("/"));
        let (status, bytes) = self.send(method, segments, &[], body, hidden)?;
        if status.is_success() || (gone_is_done && status == StatusCode::NOT_FOUND) {
            return Ok(());
        }
        Err(self.refused(&request, status, &bytes, hidden))
    }
}

impl ConnectReader for ConnectClient {
    fn connectors(
        &self,
    ) -> Result<BTreeMap<String, mesh_plan::connect::LiveConnector>, AdapterError> {
        let query = [("expand", "info"), ("expand", "status")];
        let (status, bytes) = self.send(Method::GET, &["connectors"], &query, None, &[])?;
        if !status.is_success() {
            return Err(self.refused(
                "GET /connectors?expand=info&expand=status",
                status,
                &bytes,
                &[],
            ));
        }
        reply::connectors(&bytes).map_err(|reason| {
            AdapterError::other(format!(
                "unexpected answer from the Kafka Connect cluster at {} to GET /connectors: {reason}",
                self.shown
            ))
        })
    }

    fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Vec<ConfigProblem>, AdapterError> {
        let (expanded, hidden) = self.expand(config)?;
        let body = serde_json::json!(expanded);
        let segments = ["connector-plugins", class, "config", "validate"];
        let request = format!("PUT /connector-plugins/{class}/config/validate");
        let (status, bytes) = self.send(Method::PUT, &segments, &[], Some(&body), &hidden)?;
        if !status.is_success() {
            return Err(self.refused(&request, status, &bytes, &hidden));
        }
        let problems = reply::validation(&bytes).map_err(|reason| {
            AdapterError::other(format!(
                "unexpected answer from the Kafka Connect cluster at {} to {request}: {reason}",
                self.shown
            ))
        })?;
        Ok(problems
            .into_iter()
            .map(|p| ConfigProblem {
                message: self.redact(&p.message, &hidden),
                key: p.key,
            })
            .collect())
    }
}

impl ConnectWriter for ConnectClient {
    fn put_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), AdapterError> {
        let (expanded, hidden) = self.expand(config)?;
        let body = serde_json::json!(expanded);
        self.call(
            Method::PUT,
            &["connectors", name, "config"],
            Some(&body),
            &hidden,
            false,
        )
    }

    fn set_state(&self, name: &str, state: ConnectorState) -> Result<(), AdapterError> {
        let verb = match state {
            ConnectorState::Running => "resume",
            ConnectorState::Paused => "pause",
            ConnectorState::Stopped => "stop",
        };
        self.call(Method::PUT, &["connectors", name, verb], None, &[], false)
    }

    fn delete(&self, name: &str) -> Result<(), AdapterError> {
        self.call(Method::DELETE, &["connectors", name], None, &[], true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(auth: Auth) -> ConnectClient {
        ConnectClient::new(
            "http://connect:8083",
            auth,
            &Tls::default(),
            Duration::from_secs(1),
            Box::new(|v| (v == "JAAS").then(|| "secret-login-line".to_string())),
        )
        .unwrap()
    }

    #[test]
    fn bad_urls_and_tls_files_are_refused_with_what_to_fix() {
        let new = |url: &str, tls: &Tls| {
            ConnectClient::new(
                url,
                Auth::None,
                tls,
                Duration::from_secs(1),
                Box::new(|_| None),
            )
            .unwrap_err()
            .message
        };
        let m = new("ftp://connect:8083", &Tls::default());
        assert!(
            m.contains("scheme must be http or https")
                && m.contains("[environments.<env>.connect]"),
            "{m}"
        );
        let m = new("http://admin:hunter2@connect:8083", &Tls::default());
        assert!(m.contains("credentials must not be part of the URL"), "{m}");
        assert!(!m.contains("hunter2"), "{m}");
        let missing = Tls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            client: None,
        };
        let m = new("https://connect:8083", &missing);
        assert!(m.contains("connect.ca_file /nonexistent/ca.pem"), "{m}");
    }

    #[test]
    fn refusals_map_to_kinds_and_never_carry_secrets() {
        let c = client(Auth::Basic {
            user: "mesh".into(),
            password: "connect-pw".into(),
        });
        let hidden = vec!["secret-login-line".to_string()];
        let body = |m: &str| format!(r#"{{"error_code": 1, "message": "{m}"}}"#).into_bytes();
        for (status, message, kind) in [
            (401, "bad login connect-pw", ErrorKind::Unauthenticated),
            (404, "Connector x not found", ErrorKind::NotFound),
            (409, "rebalance in progress", ErrorKind::Unreachable),
            (400, "bad config secret-login-line", ErrorKind::Invalid),
            (
                500,
                "Failed to find any class that implements Connector and which name matches com.x.Y",
                ErrorKind::NotFound,
            ),
            (500, "boom", ErrorKind::Other),
        ] {
            let e = c.refused(
                "PUT /connectors/x/config",
                StatusCode::from_u16(status).unwrap(),
                &body(message),
                &hidden,
            );
            assert_eq!(e.kind, kind, "{status}: {e:?}");
            assert!(e.message.contains(&format!("HTTP {status}")), "{e:?}");
            assert!(
                !e.message.contains("connect-pw") && !e.message.contains("secret-login-line"),
                "{e:?}"
            );
        }
        let e = c.refused("GET /connectors", StatusCode::FORBIDDEN, b"", &[]);
        assert_eq!(
            e.kind,
            ErrorKind::Unauthorized {
                operation: "GET /connectors".into()
            }
        );
        assert!(e.message.contains("lack the right"), "{e:?}");
    }

    #[test]
    fn expansion_reports_sensitive_values_to_hide_and_unset_variables() {
        let c = client(Auth::None);
        let config: BTreeMap<String, String> = [
            ("consumer.override.sasl.jaas.config", "${JAAS}"),
            ("file", "/tmp/x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (expanded, hidden) = c.expand(&config).unwrap();
        assert_eq!(
            expanded["consumer.override.sasl.jaas.config"],
            "secret-login-line"
        );
        assert_eq!(hidden, ["secret-login-line"]);
        let unset: BTreeMap<String, String> =
            [("db.password".to_string(), "${NOT_SET}".to_string())].into();
        let e = c.expand(&unset).unwrap_err();
        assert!(
            e.message.contains("db.password") && e.message.contains("NOT_SET"),
            "{e:?}"
        );
    }
}
