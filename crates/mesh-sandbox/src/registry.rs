//! The Schema Registry in the sandbox (Apicurio Registry, Confluent-compatible API): its command
//! line and its readiness probe.

use std::process::Command;
use std::time::Duration;

use crate::Component;
use crate::config::{CCOMPAT_PATH, Layout, RegistryDist, SandboxConfig};
use crate::fetch::registry_jar;
use crate::kafka::marker_arg;
use crate::net::http_get;
use crate::process::{MARKER_COMPONENT, MARKER_DIR};

/// The registry's command line, marked like the broker's so `down` can recognise it.
///
/// Storage is an H2 database file in the sandbox folder rather than Apicurio's default in-memory
/// one, so subjects survive `down`/`up` like Kafka's topics and ACLs (and the catalog topic that
/// records what was applied) do.
pub(crate) fn server_command(cfg: &SandboxConfig, layout: &Layout) -> Command {
    let url = format!(
        "jdbc:h2:file:{}",
        layout.registry_data.join("registry").display()
    );
    let mut cmd = Command::new(&cfg.java);
    match cfg.registry {
        // 2.x reads its datasource URL from this variable in its bundled prod profile.
        RegistryDist::Apicurio2 => {
            cmd.env("REGISTRY_DATASOURCE_URL", &url);
        }
        RegistryDist::Apicurio3 => {
            cmd.arg(format!("-Dapicurio.datasource.url={url}"));
        }
    }
    cmd.arg("-Xms64m")
        .arg("-Xmx512m")
        .arg("-Djava.awt.headless=true")
        .arg(marker_arg(MARKER_DIR, &layout.dir))
        .arg(format!("{MARKER_COMPONENT}{}", Component::Registry.key()))
        .args(cfg.registry.system_properties(cfg, layout))
        .arg("-jar")
        .arg(registry_jar(layout, cfg.registry))
        // Quarkus may write scratch files into its working folder; keep them in the sandbox.
        .current_dir(&layout.registry_work);
    cmd
}

/// Whether the Confluent-compatible API answers: `GET …/subjects` returns 200 and a JSON array
/// (`[]` in a new sandbox), and the HTTPS port accepts connections (Quarkus opens both at once).
pub(crate) fn answers(cfg: &SandboxConfig) -> bool {
    let path = format!("{CCOMPAT_PATH}/subjects");
    matches!(
        http_get(cfg.registry_port, &path, Duration::from_secs(5)),
        Ok((200, body)) if body.trim_start().starts_with('[')
    ) && crate::net::answers(cfg.registry_https_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn args(cfg: &SandboxConfig) -> Vec<String> {
        let layout = Layout::new(Path::new("/sb"), Path::new("/c"), cfg.registry, "4.4.0");
        server_command(cfg, &layout)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn apicurio_2_binds_loopback_and_sets_no_global_rule() {
        let cfg = SandboxConfig::new("/sb", "/c");
        let args = args(&cfg);
        assert!(
            !args
                .iter()
                .any(|a| a.contains("rules.global.compatibility")),
            "a global rule would make every subject's NONE ineffective: {args:?}"
        );
        for want in [
            "-Dquarkus.http.host=127.0.0.1",
            "-Dquarkus.http.port=18081",
            "-Dquarkus.http.ssl-port=18443",
            "-Dquarkus.http.ssl.certificate.files=/sb/tls/registry.crt",
            "-Dquarkus.http.ssl.certificate.key-files=/sb/tls/registry.key",
            "-Dmesh.sandbox.dir=/sb",
            "-Dmesh.sandbox.component=registry",
            "/c/apicurio-registry-2.6.13.Final/apicurio-registry-app-2.6.13.Final-runner.jar",
        ] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
        let layout = Layout::new(Path::new("/sb"), Path::new("/c"), cfg.registry, "4.4.0");
        let cmd = server_command(&cfg, &layout);
        let env: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            env,
            vec![(
                std::ffi::OsStr::new("REGISTRY_DATASOURCE_URL"),
                Some(std::ffi::OsStr::new(
                    "jdbc:h2:file:/sb/data/registry/registry"
                ))
            )]
        );
    }

    #[test]
    fn apicurio_3_also_moves_the_management_port() {
        let mut cfg = SandboxConfig::new("/sb", "/c");
        cfg.registry = RegistryDist::Apicurio3;
        cfg.registry_management_port = 28082;
        let args = args(&cfg);
        for want in [
            "-Dquarkus.management.host=127.0.0.1",
            "-Dquarkus.management.port=28082",
            "-Dapicurio.rules.global.compatibility=BACKWARD",
            "/c/apicurio-registry-3.3.3/quarkus-run.jar",
            "-Dapicurio.datasource.url=jdbc:h2:file:/sb/data/registry/registry",
        ] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
    }
}
