//! Offline checks of an environment's client settings (`[environments.<env>.kafka]` and
//! `[environments.<env>.schema_registry]`): what the Kafka client built into `mesh` cannot do
//! (Kerberos), values librdkafka would reject with a dump of its own, and settings that switch
//! off TLS verification outside a local environment. Values that are `${VAR}` references are
//! checked only once filled, by the adapter.

use mesh_diagnostics::{Diagnostic, Diagnostics};

use crate::doc::Spanned;
use crate::model::Environment;

/// The SASL mechanisms the built-in client speaks.
pub const SASL_MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];
/// The values of `security.protocol`.
pub const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Whether a client setting names a file (resolved relative to the mesh repo at the edge).
pub fn is_path_key(key: &str) -> bool {
    matches!(
        key,
        "ssl.ca.location"
            | "ssl.certificate.location"
            | "ssl.key.location"
            | "ssl.keystore.location"
            | "ssl.crl.location"
            | "ssl.ca.directory"
            | "sasl.oauthbearer.assertion.private.key.file"
            | "sasl.oauthbearer.assertion.file"
            | "sasl.oauthbearer.assertion.jwt.template.file"
    )
}

/// The value, unless it holds a `${VAR}` reference (checked only once filled).
fn literal(v: &Spanned<String>) -> Option<&str> {
    (!v.value.contains("${")).then_some(v.value.as_str())
}

/// Checks one environment's client settings.
pub(crate) fn check_environment(file: &str, env: &Environment, ds: &mut Diagnostics) {
    let kafka_path = format!("environments.{}.kafka", env.name);
    let get = |key: &str| env.kafka.get(key);

    for (key, value) in &env.kafka {
        if key.starts_with("sasl.kerberos.") {
            ds.push(gssapi(file, &kafka_path, key, value));
        }
    }
    for key in ["sasl.mechanism", "sasl.mechanisms"] {
        let Some(value) = get(key) else { continue };
        let Some(v) = literal(value) else { continue };
        let upper = v.trim().to_ascii_uppercase();
        if upper == "GSSAPI" {
            ds.push(gssapi(file, &kafka_path, key, value));
        } else if !SASL_MECHANISMS.contains(&upper.as_str()) {
            ds.push(
                Diagnostic::error(
                    "unsupported-setting",
                    file,
                    value.span.clone(),
                    format!("`{kafka_path}.\"{key}\"`: unknown SASL mechanism {v:?}"),
                )
                .with_help(format!("use one of {}", SASL_MECHANISMS.join(", "))),
            );
        }
    }
    if let Some(value) = get("security.protocol") {
        if let Some(v) = literal(value) {
            if !SECURITY_PROTOCOLS.contains(&v.trim().to_ascii_uppercase().as_str()) {
                ds.push(
                    Diagnostic::error(
                        "unsupported-setting",
                        file,
                        value.span.clone(),
                        format!("`{kafka_path}.\"security.protocol\"`: unknown protocol {v:?}"),
                    )
                    .with_help(format!("use one of {}", SECURITY_PROTOCOLS.join(", "))),
                );
            }
        }
    }
    let has = |key: &str| env.kafka.contains_key(key);
    if let Some(cert) = get("ssl.certificate.location") {
        if !has("ssl.key.location") && !has("ssl.key.pem") {
            ds.push(
                Diagnostic::error(
                    "missing-field",
                    file,
                    cert.span.clone(),
                    format!(
                        "`{kafka_path}` names a client certificate (ssl.certificate.location) but not its private key"
                    ),
                )
                .with_help("add \"ssl.key.location\" = \"${KAFKA_KEY_FILE}\" (and \"ssl.key.password\" if the key is encrypted)"),
            );
        }
    }
    let oidc = get("sasl.oauthbearer.method")
        .and_then(literal)
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("oidc"));
    if oidc {
        let method = &env.kafka["sasl.oauthbearer.method"];
        let missing: Vec<&str> = [
            "sasl.oauthbearer.client.id",
            "sasl.oauthbearer.token.endpoint.url",
        ]
        .into_iter()
        .filter(|k| !has(k))
        .collect();
        if !missing.is_empty() {
            ds.push(
                Diagnostic::error(
                    "missing-field",
                    file,
                    method.span.clone(),
                    format!(
                        "`{kafka_path}`: OAUTHBEARER with OIDC needs {}",
                        missing.join(" and ")
                    ),
                )
                .with_help("the client credentials grant needs a client id, its secret (\"sasl.oauthbearer.client.secret\" = \"${OIDC_CLIENT_SECRET}\") and the identity provider's token endpoint URL"),
            );
        }
    }
    if !env.local {
        let off = [
            ("enable.ssl.certificate.verification", "false"),
            ("ssl.endpoint.identification.algorithm", "none"),
        ];
        for (key, bad) in off {
            if let Some(value) = get(key) {
                if literal(value).is_some_and(|v| v.trim().eq_ignore_ascii_case(bad)) {
                    ds.push(
                        Diagnostic::warning(
                            "tls-verification-off",
                            file,
                            value.span.clone(),
                            format!(
                                "`{kafka_path}.\"{key}\" = \"{bad}\"` turns off a TLS check in environment `{}`: anyone on the path can pose as the brokers",
                                env.name
                            ),
                        )
                        .with_help("trust the brokers' CA instead (\"ssl.ca.location\" = \"certs/ca.pem\") and remove this setting"),
                    );
                }
            }
        }
    }
}

fn gssapi(file: &str, path: &str, key: &str, value: &Spanned<String>) -> Diagnostic {
    Diagnostic::error(
        "unsupported-setting",
        file,
        value.span.clone(),
        format!("`{path}.\"{key}\"`: GSSAPI (Kerberos) is not built into mesh's Kafka client"),
    )
    .with_help(
        "connect with SCRAM-SHA-512, SCRAM-SHA-256, PLAIN or OAUTHBEARER over SASL_SSL, or with a client certificate (security.protocol = \"SSL\")",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(local: bool, kafka: &[(&str, &str)]) -> Environment {
        let mut e = Environment {
            name: "prod".into(),
            local,
            ..Default::default()
        };
        for (i, (k, v)) in kafka.iter().enumerate() {
            e.kafka
                .insert((*k).into(), Spanned::new((*v).into(), i * 10..i * 10 + 5));
        }
        e
    }

    fn codes(e: &Environment) -> Vec<String> {
        let mut ds = Diagnostics::new();
        check_environment("mesh.toml", e, &mut ds);
        ds.iter()
            .map(|d| format!("{}:{}", d.code, d.message))
            .collect()
    }

    #[test]
    fn supported_settings_pass() {
        let e = env(
            false,
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("ssl.ca.location", "certs/ca.pem"),
            ],
        );
        assert!(codes(&e).is_empty());
        let e = env(
            false,
            &[
                ("security.protocol", "ssl"),
                ("ssl.certificate.location", "${C}"),
                ("ssl.key.location", "${K}"),
            ],
        );
        assert!(codes(&e).is_empty());
        // References are checked once filled.
        assert!(codes(&env(false, &[("sasl.mechanism", "${MECH}")])).is_empty());
    }

    #[test]
    fn kerberos_and_unknown_values_are_named() {
        let c = codes(&env(false, &[("sasl.mechanism", "GSSAPI")]));
        assert!(
            c[0].starts_with("unsupported-setting:") && c[0].contains("GSSAPI"),
            "{c:?}"
        );
        let c = codes(&env(false, &[("sasl.kerberos.keytab", "/k")]));
        assert!(c[0].contains("sasl.kerberos.keytab"), "{c:?}");
        let c = codes(&env(false, &[("sasl.mechanisms", "SCRAM-SHA-1")]));
        assert!(c[0].contains("unknown SASL mechanism"), "{c:?}");
        let c = codes(&env(false, &[("security.protocol", "TLS")]));
        assert!(c[0].contains("unknown protocol"), "{c:?}");
    }

    #[test]
    fn half_configured_certificates_and_oidc_are_errors() {
        let c = codes(&env(false, &[("ssl.certificate.location", "c.pem")]));
        assert!(
            c[0].starts_with("missing-field:") && c[0].contains("private key"),
            "{c:?}"
        );
        let c = codes(&env(false, &[("sasl.oauthbearer.method", "oidc")]));
        assert!(
            c[0].contains("sasl.oauthbearer.client.id")
                && c[0].contains("sasl.oauthbearer.token.endpoint.url"),
            "{c:?}"
        );
        // A registry's or Connect's half-configured certificate is refused while loading
        // (tests/bad-input: registry-client-cert-without-key, connect-environment-invalid).
    }

    #[test]
    fn verification_off_is_a_warning_outside_local() {
        let off = [("ssl.endpoint.identification.algorithm", "none")];
        let c = codes(&env(false, &off));
        assert!(c[0].starts_with("tls-verification-off:"), "{c:?}");
        assert!(codes(&env(true, &off)).is_empty());
        let c = codes(&env(
            false,
            &[("enable.ssl.certificate.verification", "false")],
        ));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn path_keys() {
        assert!(is_path_key("ssl.ca.location"));
        assert!(is_path_key("ssl.key.location"));
        assert!(!is_path_key("ssl.key.password"));
    }
}
