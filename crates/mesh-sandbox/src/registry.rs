//! The Schema Registry in the sandbox (Apicurio Registry, Confluent-compatible API): its command
//! line and its readiness probe.

use std::process::Command;
use std::time::Duration;

use crate::config::{CCOMPAT_PATH, Layout, SandboxConfig};
use crate::fetch::registry_jar;
use crate::kafka::marker_arg;
use crate::net::http_get;
use crate::process::{MARKER_COMPONENT, MARKER_DIR};
use crate::Component;

/// The registry's command line, marked like the broker's so `down` can recognise it.
pub(crate) fn server_command(cfg: &SandboxConfig, layout: &Layout) -> Command {
    let mut cmd = Command::new(&cfg.java);
    cmd.arg("-Xms64m")
        .arg("-Xmx512m")
        .arg("-Djava.awt.headless=true")
        .arg(marker_arg(MARKER_DIR, &layout.dir))
        .arg(format!("{MARKER_COMPONENT}{}", Component::Registry.key()))
        .args(cfg.registry.system_properties(cfg))
        .arg("-jar")
        .arg(registry_jar(layout, cfg.registry))
        // Quarkus may write scratch files into its working folder; keep them in the sandbox.
        .current_dir(&layout.registry_work);
    cmd
}

/// Whether the Confluent-compatible API answers: `GET …/subjects` returns 200 and a JSON array
/// (`[]` on a fresh, in-memory registry).
pub(crate) fn answers(cfg: &SandboxConfig) -> bool {
    let path = format!("{CCOMPAT_PATH}/subjects");
    matches!(
        http_get(cfg.registry_port, &path, Duration::from_secs(2)),
        Ok((200, body)) if body.trim_start().starts_with('[')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegistryDist;
    use std::path::Path;

    fn args(cfg: &SandboxConfig) -> Vec<String> {
        let layout = Layout::new(Path::new("/sb"), Path::new("/c"), cfg.registry);
        server_command(cfg, &layout)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn apicurio_2_binds_loopback_and_defaults_to_backward() {
        let cfg = SandboxConfig::new("/sb", "/c");
        let args = args(&cfg);
        for want in [
            "-Dquarkus.http.host=127.0.0.1",
            "-Dquarkus.http.port=18081",
            "-Dregistry.rules.global.compatibility=BACKWARD",
            "-Dmesh.sandbox.dir=/sb",
            "-Dmesh.sandbox.component=registry",
            "/c/apicurio-registry-2.6.13.Final/apicurio-registry-app-2.6.13.Final-runner.jar",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} missing from {args:?}");
        }
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
        ] {
            assert!(args.iter().any(|a| a == want), "{want} missing from {args:?}");
        }
    }
}
