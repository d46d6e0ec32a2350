//! `mesh dev up|down|status`: the local sandbox (crate mesh-sandbox) wired to the command line,
//! and the rendering of its status as text or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use mesh_sandbox::{SandboxConfig, State, Status};
use serde_json::{Value, json};

use crate::print;

#[derive(Subcommand)]
pub(crate) enum DevAction {
    /// Fetch (first time) and start the sandbox; does nothing for what already runs
    Up(DevArgs),
    /// Stop what `up` started
    Down(DevArgs),
    /// What runs where: nodes, listeners with client configs, the CA, logs
    Status(DevArgs),
}

#[derive(clap::Args)]
pub(crate) struct DevArgs {
    /// Where this sandbox keeps its data, logs and process ids
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Extra users for tests, as name:password (repeatable): a SASL/PLAIN and SCRAM login and a
    /// client certificate (CN=name) each
    #[arg(long = "user")]
    users: Vec<String>,
    /// Kafka nodes (1 to 3; combined broker+controller); default: what the folder has, else 1
    #[arg(long)]
    brokers: Option<u8>,
    /// Kafka release, 4.x or 3.9.x; default: what the folder has, else the newest supported 4.x
    #[arg(long = "kafka-version")]
    kafka_version: Option<String>,
    /// Also run a Kafka Connect worker (REST on 127.0.0.1:18083, principal `connect`); a
    /// sandbox that has one keeps it on later `up`s
    #[arg(long)]
    connect: bool,
    /// Output of `up` and `status`
    #[arg(long, value_enum, default_value_t = DevFormat::Human)]
    format: DevFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DevFormat {
    Human,
    Json,
}

pub(crate) fn run(action: DevAction) -> Result<ExitCode, String> {
    let (args, verb) = match action {
        DevAction::Up(a) => (a, "up"),
        DevAction::Down(a) => (a, "down"),
        DevAction::Status(a) => (a, "status"),
    };
    let mut config = SandboxConfig::from_env(args.dir).map_err(|e| e.to_string())?;
    // What the folder already is wins over the defaults; flags win over both, and `up` says
    // clearly when they contradict the folder's data.
    config.adopt_saved_shape().map_err(|e| e.to_string())?;
    if let Some(brokers) = args.brokers {
        config.brokers = brokers;
    }
    if let Some(version) = args.kafka_version {
        config.kafka_version = version;
    }
    if args.connect {
        config.connect = true;
    }
    for u in &args.users {
        let (name, password) = u.split_once(':').ok_or_else(|| {
            format!(
                "--user {}: write it as name:password",
                u.split(':').next().unwrap_or("")
            )
        })?;
        config.users.push((name.to_string(), password.to_string()));
    }
    match verb {
        "up" => {
            let status = mesh_sandbox::up(&config, &mut |line| eprintln!("{line}"))
                .map_err(|e| e.to_string())?;
            show(&status, args.format)?;
        }
        "down" => {
            let stopped = mesh_sandbox::down(&config).map_err(|e| e.to_string())?;
            if stopped.is_empty() {
                print("nothing to stop\n")?;
            }
            for s in stopped {
                print(&format!("stopped {} (pid {})\n", s.component, s.pid))?;
            }
        }
        _ => show(&mesh_sandbox::status(&config), args.format)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn show(status: &Status, format: DevFormat) -> Result<(), String> {
    match format {
        DevFormat::Human => print(&format!("{status}\n")),
        DevFormat::Json => {
            let text =
                serde_json::to_string_pretty(&status_json(status)).map_err(|e| e.to_string())?;
            print(&format!("{text}\n"))
        }
    }
}

/// `mesh dev status --format json`: version 1 of a stable document.
pub(crate) fn status_json(st: &Status) -> Value {
    let component = |c: &mesh_sandbox::ComponentStatus| {
        let (state, pid, ready) = match c.state {
            State::Running { pid, ready } => ("running", Some(pid), ready),
            State::Stopped => ("stopped", None, false),
            State::StalePidFile { .. } => ("stopped", None, false),
        };
        let ports: serde_json::Map<String, Value> = c
            .ports
            .iter()
            .map(|(name, port)| (name.clone(), json!(port)))
            .collect();
        json!({
            "name": c.component.key(),
            "state": state,
            "ready": ready,
            "pid": pid,
            "endpoint": c.endpoint,
            "ports": ports,
            "log": c.log,
        })
    };
    let listeners: Vec<Value> = st
        .listeners
        .iter()
        .map(|l| {
            let config: serde_json::Map<String, Value> = l
                .client_config
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            json!({
                "name": l.listener.key(),
                "protocol": l.protocol,
                "mechanism": l.mechanism,
                "bootstrap_servers": l.bootstrap,
                "addresses": l.bootstrap.split(',').collect::<Vec<_>>(),
                "client_config": config,
                "java_client_properties": l.java_properties,
            })
        })
        .collect();
    json!({
        "version": 1,
        "dir": st.dir,
        "up": st.is_up(),
        "kafka": {
            "version": st.kafka_version,
            "nodes": st.nodes.iter().map(component).collect::<Vec<_>>(),
        },
        "listeners": listeners,
        "ca_file": st.ca_file,
        "admin_certificate": {
            "cert": st.admin_certificate.cert,
            "key": st.admin_certificate.key,
            "keystore": st.admin_certificate.keystore,
        },
        "registry": {
            "url": st.registry_url(),
            "https_url": st.registry_https_url(),
            "server": component(&st.registry),
        },
        // null when the sandbox has no worker (no `--connect`).
        "connect": st.connect.as_ref().map(|c| json!({
            "url": c.endpoint,
            "principal": mesh_sandbox::CONNECT_USER,
            "group": mesh_sandbox::CONNECT_GROUP,
            "server": component(c),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_status_shows_the_connect_worker_only_when_there_is_one() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = SandboxConfig::new(tmp.path(), tmp.path().join("cache"));
        let plain = status_json(&mesh_sandbox::status(&cfg));
        assert_eq!(plain["connect"], Value::Null);
        cfg.connect = true;
        cfg.connect_port = 28083;
        let with = status_json(&mesh_sandbox::status(&cfg));
        let connect = &with["connect"];
        assert_eq!(connect["url"], "http://127.0.0.1:28083");
        assert_eq!(connect["principal"], "connect");
        assert_eq!(connect["group"], "mesh-connect");
        assert_eq!(connect["server"]["name"], "connect");
        assert_eq!(connect["server"]["state"], "stopped");
        assert_eq!(connect["server"]["ports"]["rest"], 28083);
        assert!(
            connect["server"]["log"]
                .as_str()
                .is_some_and(|l| l.ends_with("logs/connect.log"))
        );
        assert_eq!(with["up"], false);
    }
}
