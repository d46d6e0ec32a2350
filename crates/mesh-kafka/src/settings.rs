//! Client properties: turning the `[environments.<env>.kafka]` table into an rdkafka
//! configuration, and the [`Redactor`] that keeps the secrets in it out of every message.

use std::collections::BTreeMap;

use mesh_model::secrets::is_secret_key;
use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;

use crate::KafkaError;

/// Masks secret values wherever they appear in a text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// Longest first, so a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    /// Masks the secrets without mangling the rest of the text (see
    /// [`mesh_diagnostics::mask_secrets`]: a short secret only where it is a whole word).
    pub(crate) fn apply(&self, text: &str) -> String {
        mesh_diagnostics::mask_secrets(text, &self.secrets, "[redacted]")
    }
}

/// The parsed client properties.
pub(crate) struct Settings {
    /// Never printed: it holds the secrets (rdkafka's own `Debug` hides only some).
    pub config: ClientConfig,
    pub bootstrap: String,
    /// `sasl.username`, for "authentication failed for user X".
    pub user: Option<String>,
    pub redactor: Redactor,
}

impl Settings {
    /// Builds the configuration. A Java-style `sasl.jaas.config` line (PlainLoginModule /
    /// ScramLoginModule with `username="…" password="…"`) is translated into librdkafka's
    /// `sasl.username` / `sasl.password`, so a Java client's properties work unchanged.
    pub(crate) fn new(props: &BTreeMap<String, String>) -> Result<Settings, KafkaError> {
        let mut secrets: Vec<String> = props
            .iter()
            .filter(|(k, _)| is_secret_key(k))
            .map(|(_, v)| v.clone())
            .collect();
        let mut props = props.clone();
        if let Some(jaas) = props.remove("sasl.jaas.config") {
            let (user, password) = parse_jaas(&jaas).ok_or_else(|| KafkaError::Config {
                detail: "sasl.jaas.config is not a PlainLoginModule or ScramLoginModule line with \
                         username=\"…\" and password=\"…\"; use sasl.username and sasl.password instead"
                    .into(),
            })?;
            for (key, value) in [("sasl.username", user), ("sasl.password", password)] {
                if props.contains_key(key) {
                    return Err(KafkaError::Config {
                        detail: format!("both sasl.jaas.config and {key} are set; keep one"),
                    });
                }
                props.insert(key.to_owned(), value);
            }
            if let Some(p) = props.get("sasl.password") {
                secrets.push(p.clone());
            }
        }
        let redactor = Redactor::new(secrets);
        let bootstrap = props
            .get("bootstrap.servers")
            .cloned()
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| KafkaError::Config {
                detail: "bootstrap.servers is missing".into(),
            })?;
        check_files(&props)?;
        let mut config = ClientConfig::new();
        for (key, value) in &props {
            config.set(key, value);
        }
        // librdkafka's log lines go to our context (see `context.rs`), never to stderr.
        config.set_log_level(RDKafkaLogLevel::Warning);
        Ok(Settings {
            config,
            bootstrap,
            user: props.get("sasl.username").cloned(),
            redactor,
        })
    }
}

/// Every setting that names a file must name one that exists: librdkafka's own complaint is a
/// dump of OpenSSL's error queue.
fn check_files(props: &BTreeMap<String, String>) -> Result<(), KafkaError> {
    for (key, value) in props {
        if !mesh_model::client::is_path_key(key) || (key == "ssl.ca.location" && value == "probe") {
            continue;
        }
        let path = std::path::Path::new(value);
        let problem = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_owned(),
            Err(e) => format!("cannot be read ({e})"),
            Ok(m) if key == "ssl.ca.directory" && !m.is_dir() => "is not a folder".to_owned(),
            Ok(m) if key != "ssl.ca.directory" && !m.is_file() => "is not a file".to_owned(),
            Ok(_) => continue,
        };
        return Err(KafkaError::Config {
            detail: format!(
                "{key} names {value}, which {problem} (relative paths are relative to the mesh repo)"
            ),
        });
    }
    Ok(())
}

/// `username` and `password` of a JAAS line such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";`.
fn parse_jaas(line: &str) -> Option<(String, String)> {
    if !(line.contains("PlainLoginModule") || line.contains("ScramLoginModule")) {
        return None;
    }
    let value = |name: &str| -> Option<String> {
        let mut rest = line;
        loop {
            let at = rest.find(name)?;
            let before = rest[..at].chars().next_back();
            rest = &rest[at + name.len()..];
            if before.is_some_and(|c| !c.is_whitespace()) {
                continue; // e.g. "xusername"
            }
            let after = rest
                .trim_start()
                .strip_prefix('=')?
                .trim_start()
                .strip_prefix('"')?;
            let end = after.find('"')?;
            return Some(after[..end].to_owned());
        }
    };
    Some((value("username")?, value("password")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_masks_every_occurrence_longest_first() {
        let r = Redactor::new(["pw".to_owned(), "pw-long".to_owned(), String::new()]);
        assert_eq!(r.apply("a pw-long b pw c"), "a [redacted] b [redacted] c");
        assert_eq!(Redactor::default().apply("x"), "x");
    }

    #[test]
    fn a_short_password_does_not_mangle_the_message() {
        let r = Redactor::new(["a".to_owned()]);
        assert_eq!(
            r.apply("SASL authentication error: Authentication failed (password a)"),
            "SASL authentication error: Authentication failed (password [redacted])"
        );
    }

    #[test]
    fn jaas_lines_become_username_and_password() {
        let line = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"admin\" password=\"s3cret\";";
        assert_eq!(parse_jaas(line), Some(("admin".into(), "s3cret".into())));
        assert_eq!(parse_jaas("Krb5LoginModule required;"), None);
        let props: BTreeMap<String, String> = [
            ("bootstrap.servers", "127.0.0.1:1"),
            ("sasl.jaas.config", line),
            ("security.protocol", "SASL_PLAINTEXT"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = Settings::new(&props).unwrap();
        assert_eq!(s.user.as_deref(), Some("admin"));
        assert_eq!(s.config.get("sasl.password"), Some("s3cret"));
        assert_eq!(s.config.get("sasl.jaas.config"), None);
        assert!(!s.redactor.apply(line).contains("s3cret"));
    }

    #[test]
    fn missing_files_are_named_before_librdkafka_sees_them() {
        let props: BTreeMap<String, String> = [
            ("bootstrap.servers", "127.0.0.1:1"),
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "probe"),
            ("ssl.key.location", "/nonexistent/client.key"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let err = Settings::new(&props).err().unwrap().to_string();
        assert!(
            err.contains("ssl.key.location names /nonexistent/client.key, which does not exist"),
            "{err}"
        );
    }

    #[test]
    fn missing_bootstrap_is_a_config_error() {
        let err = Settings::new(&BTreeMap::new()).err().unwrap();
        assert!(
            err.to_string().contains("bootstrap.servers is missing"),
            "{err}"
        );
    }
}
