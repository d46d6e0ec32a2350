//! Secrets in mesh.toml: which keys hold them, `${VAR}` / `${VAR:-default}` references, and the
//! rule that a literal secret is allowed only in an environment marked `local = true`.
//!
//! Literal secret values are marked for redaction in the file's [`SourceFile`], so no rendering of a
//! diagnostic can show them; messages name keys, never values.

use mesh_diagnostics::{Diagnostic, Diagnostics, SourceFile};

use crate::doc::{Kind, Node, Table};
use crate::model::Settings;

/// Whether a setting's key names a secret: `*password*`, `*passphrase*`, `*secret*`, `*token*`,
/// `*.key`, a private key inline (`ssl.key.pem`, `*.private.key.pem`), and the JAAS and OAUTHBEARER
/// config lines (which can carry a password or a token inline). A key naming a *file*
/// (`ssl.key.location`, `key_file`) is not a secret: the file is.
pub fn is_secret_key(key: &str) -> bool {
    // Compared ignoring ASCII case without lowercasing into a new string: this runs for every
    // `key = value` line of every file before it is parsed (a third of loading a large mesh
    // when it allocated).
    let k = key.as_bytes();
    let has = |part: &str| {
        let part = part.as_bytes();
        k.len() >= part.len() && k.windows(part.len()).any(|w| w.eq_ignore_ascii_case(part))
    };
    let ends = |suffix: &str| {
        let suffix = suffix.as_bytes();
        k.len() >= suffix.len() && k[k.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    (has("password")
        || has("passphrase")
        || has("secret")
        || (has("token") && !ends(".url"))
        || ends(".key")
        || ends("key.pem")
        || key.eq_ignore_ascii_case("sasl.jaas.config")
        || ends(".sasl.jaas.config")
        || key.eq_ignore_ascii_case("sasl.oauthbearer.config"))
        && !ends(".location")
        && !ends(".file")
}

/// Masks, line by line and without parsing, the value of every `key = value` line whose key looks
/// secret, unless the value is exactly one `${VAR}` reference. Runs before parsing so that a file
/// with a syntax error, or a secret under an unknown key, can never show the secret.
pub fn redact_lexically(src: &mut SourceFile) {
    let mut ranges = Vec::new();
    let mut offset = 0;
    for line in src.text().split_inclusive('\n') {
        if let Some(eq) = line.find('=') {
            let key = line[..eq].trim().trim_matches(|c| c == '"' || c == '\'');
            let raw = line[eq + 1..].trim_end_matches(['\n', '\r']);
            let value = raw.trim();
            let lead = raw.len() - raw.trim_start().len();
            if is_secret_key(key) && !value.is_empty() && !is_plain_reference(value) {
                let start = offset + eq + 1 + lead;
                ranges.push(start..start + value.len());
            }
        }
        offset += line.len();
    }
    for r in ranges {
        src.redact(r);
    }
}

/// `"${VAR}"` (quoted, as written in a TOML line) and nothing else.
fn is_plain_reference(value: &str) -> bool {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .is_some_and(is_variable_reference)
}

/// `${VAR}` and nothing else: a whole value read from the environment, with no default (a
/// default after `:-` may itself be a secret).
pub fn is_variable_reference(value: &str) -> bool {
    value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .is_some_and(|inner| {
            !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

pub(crate) fn check_mesh_toml(
    file: &str,
    table: &Table,
    settings: &Settings,
    src: &mut SourceFile,
    ds: &mut Diagnostics,
) {
    walk(file, table, "", settings, src, ds);
}

fn walk(
    file: &str,
    table: &Table,
    path: &str,
    settings: &Settings,
    src: &mut SourceFile,
    ds: &mut Diagnostics,
) {
    for (key, node) in &table.entries {
        let here = if path.is_empty() {
            key.name.clone()
        } else {
            format!("{path}.{}", key.name)
        };
        visit(file, &key.name, &key.span, node, &here, settings, src, ds);
    }
}

#[allow(clippy::too_many_arguments)]
fn visit(
    file: &str,
    key: &str,
    key_span: &std::ops::Range<usize>,
    node: &Node,
    path: &str,
    settings: &Settings,
    src: &mut SourceFile,
    ds: &mut Diagnostics,
) {
    match &node.kind {
        Kind::Table(t) => walk(file, t, path, settings, src, ds),
        Kind::Array(items) => {
            for item in items {
                visit(file, key, key_span, item, path, settings, src, ds);
            }
        }
        Kind::Str(value) => {
            if let Err(problem) = check_references(value) {
                ds.push(
                    Diagnostic::error(
                        "bad-reference",
                        file,
                        node.span.clone(),
                        format!("`{path}`: {problem}"),
                    )
                    .with_help("write ${VAR} or ${VAR:-default}; VAR is letters, digits and '_'"),
                );
            }
            if is_secret_key(key) && !value.is_empty() && check_references(value).is_err() {
                src.redact(node.span.clone());
            }
            if is_secret_key(key) && !value.contains("${") && !value.is_empty() {
                src.redact(node.span.clone());
                if !in_local_environment(path, settings) {
                    ds.push(
                        Diagnostic::error("literal-secret", file, key_span.clone(), format!("`{path}` holds a literal secret"))
                            .with_help(format!(
                                "read it from the environment instead: \"{key}\" = \"${{MESH_SECRET_VAR}}\"; literal secrets are allowed only in an environment with local = true"
                            )),
                    );
                }
            }
        }
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) | Kind::Datetime(_) => {}
    }
}

fn in_local_environment(path: &str, settings: &Settings) -> bool {
    let mut parts = path.splitn(3, '.');
    match (parts.next(), parts.next()) {
        (Some("environments"), Some(env)) => {
            settings.environments.get(env).is_some_and(|e| e.local)
        }
        _ => false,
    }
}

/// A reference found in a value: the variable and its default, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub var: &'a str,
    pub default: Option<&'a str>,
}

/// Splits a value into its literal text and `${…}` references, or says what is malformed.
fn scan(value: &str) -> Result<Vec<Result<&str, Reference<'_>>>, String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push(Ok(&rest[..start]));
        let body_start = start + 2;
        let Some(len) = rest[body_start..].find('}') else {
            return Err("a `${` reference is not closed with `}`".into());
        };
        let body = &rest[body_start..body_start + len];
        let (var, default) = match body.split_once(":-") {
            Some((v, d)) => (v, Some(d)),
            None => (body, None),
        };
        let legal = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !legal {
            return Err(
                "a `${…}` reference names no legal variable (letters, digits and _)".into(),
            );
        }
        out.push(Err(Reference { var, default }));
        rest = &rest[body_start + len + 1..];
    }
    out.push(Ok(rest));
    Ok(out)
}

/// Checks the `${…}` references in a value.
pub fn check_references(value: &str) -> Result<(), String> {
    scan(value).map(|_| ())
}

/// Why a value could not be expanded: the variable that is not set (its name only).
#[derive(Debug, PartialEq, Eq)]
pub struct Unset(pub String);

/// Replaces `${VAR}` and `${VAR:-default}` with values from `lookup` (the process environment at
/// the edge; a map in tests).
pub fn expand(value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Unset> {
    let parts = scan(value).map_err(Unset)?;
    let mut out = String::new();
    for part in parts {
        match part {
            Ok(text) => out.push_str(text),
            Err(r) => match (lookup(r.var), r.default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(Unset(r.var.to_string())),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "client.secret",
            "oauth.token",
            "ssl.keystore.key",
            "sasl.jaas.config",
            "consumer.override.sasl.jaas.config",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "sasl.oauthbearer.assertion.private.key.passphrase",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "sasl.username",
            "security.protocol",
            "key",
            "keystore.location",
            "ssl.key.location",
            "sasl.oauthbearer.token.endpoint.url",
            "key_file",
            "ssl.certificate.pem",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn secret_keys_ignore_ascii_case_as_lowercasing_them_would() {
        // The definition, written with a lowercased copy, against the allocation-free one.
        let by_lowercasing = |key: &str| {
            let k = key.to_ascii_lowercase();
            (k.contains("password")
                || k.contains("passphrase")
                || k.contains("secret")
                || (k.contains("token") && !k.ends_with(".url"))
                || k.ends_with(".key")
                || k.ends_with("key.pem")
                || k == "sasl.jaas.config"
                || k.ends_with(".sasl.jaas.config")
                || k == "sasl.oauthbearer.config")
                && !k.ends_with(".location")
                && !k.ends_with(".file")
        };
        let parts = [
            "",
            "SASL.",
            "Ssl.Key.",
            "PassWord",
            "passphrase",
            "SECRET",
            "Token",
            ".URL",
            ".Key",
            "KEY.PEM",
            "Sasl.Jaas.Config",
            "sasl.oauthbearer.config",
            ".Location",
            ".FILE",
            "é",
            "x",
            "key",
            "pem",
            "tok",
            "en",
        ];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    let key = format!("{a}{b}{c}");
                    assert_eq!(is_secret_key(&key), by_lowercasing(&key), "{key}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, parts.len().pow(3));
        assert!(is_secret_key("SASL.PASSWORD") && !is_secret_key("SSL.KEY.LOCATION"));
    }

    #[test]
    fn expansion() {
        let env = |v: &str| (v == "SET").then(|| "value".to_string());
        assert_eq!(expand("${SET}", env).unwrap(), "value");
        assert_eq!(expand("a-${UNSET:-dflt}-b", env).unwrap(), "a-dflt-b");
        assert_eq!(expand("${UNSET}", env), Err(Unset("UNSET".into())));
        assert_eq!(expand("plain", env).unwrap(), "plain");
    }

    #[test]
    fn lexical_redaction_needs_no_parse() {
        let text = "[environments.prod.kafka]\n\"sasl.password\" = hunter2-unquoted\nssl.key.password = \"${OK}\"\nx = \"${A:-dflt-secret}\"\nclient.secret = \"a${\"\n";
        let mut src = SourceFile::new("m.toml", text);
        redact_lexically(&mut src);
        let shown = src.redacted_text();
        assert!(!shown.contains("hunter2-unquoted"), "{shown}");
        assert!(shown.contains("\"${OK}\""), "{shown}");
        assert!(!shown.contains("a${"), "{shown}");
        assert!(
            shown.contains("dflt-secret"),
            "only secret-looking keys are masked: {shown}"
        );
    }

    #[test]
    fn malformed_references() {
        for v in ["${", "${}", "${A-B}", "${1A}", "${A:=x}"] {
            assert!(check_references(v).is_err(), "{v}");
        }
        assert!(check_references("${A_1:-}").is_ok());
    }
}
