//! What a sandbox folder holds, persisted by `up` in `DIR/sandbox.properties`: the Kafka
//! release and node count its data belongs to, the ports it was started on, and which users
//! already have SCRAM credentials. `status` and `down` read it so they need no flags, and a
//! second `up` with other flags is told what differs.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::config::{KAFKA_3_VERSION, Layout, NodePorts, RegistryDist, SandboxConfig};
use crate::{ADMIN_PASSWORD, ADMIN_USER, SandboxError};

/// A sandbox's shape as recorded in its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    pub kafka_version: String,
    pub brokers: u8,
    pub registry: RegistryDist,
    /// Ports of nodes 1..=brokers.
    pub nodes: Vec<NodePorts>,
    pub registry_port: u16,
    pub registry_https_port: u16,
    pub registry_management_port: u16,
    /// Whether the sandbox runs a Connect worker, and its REST port. Once on, later `up`s keep
    /// it (like the node count), so `up` without `--connect` does not lose the worker.
    pub connect: bool,
    pub connect_port: u16,
    /// Users whose SCRAM credentials exist in the cluster, with the password they were made
    /// with (the sandbox keeps its passwords in plain text anyway: server.properties has them).
    pub scram: BTreeMap<String, String>,
}

impl Shape {
    /// The shape `cfg` asks for, with no SCRAM credentials yet.
    pub fn of(cfg: &SandboxConfig) -> Shape {
        Shape {
            kafka_version: cfg.kafka_version.clone(),
            brokers: cfg.brokers,
            registry: cfg.registry,
            nodes: cfg.node_ids().map(|n| cfg.node(n)).collect(),
            registry_port: cfg.registry_port,
            registry_https_port: cfg.registry_https_port,
            registry_management_port: cfg.registry_management_port,
            connect: cfg.connect,
            connect_port: cfg.connect_port,
            scram: BTreeMap::new(),
        }
    }

    /// Every user `cfg` names (admin included) with its password.
    pub fn wanted_scram(cfg: &SandboxConfig) -> BTreeMap<String, String> {
        std::iter::once((ADMIN_USER.to_owned(), ADMIN_PASSWORD.to_owned()))
            .chain(cfg.users.iter().cloned())
            .collect()
    }

    /// "a 3-node Kafka 4.4.0 cluster"
    pub fn describe(&self) -> String {
        let nodes = if self.brokers == 1 {
            "a one-node".to_owned()
        } else {
            format!("a {}-node", self.brokers)
        };
        format!("{nodes} Kafka {} cluster", self.kafka_version)
    }

    /// What cannot change in a folder that has data: the Kafka release (its storage format and
    /// metadata version) and the node count (the static controller quorum).
    pub fn fatal_differences(&self, wanted: &Shape) -> Vec<String> {
        let mut out = Vec::new();
        if self.kafka_version != wanted.kafka_version {
            out.push(format!(
                "Kafka {} here, {} asked for (--kafka-version)",
                self.kafka_version, wanted.kafka_version
            ));
        }
        if self.brokers != wanted.brokers {
            out.push(format!(
                "{} node(s) here, {} asked for (--brokers)",
                self.brokers, wanted.brokers
            ));
        }
        out
    }

    /// What a running sandbox keeps until it is restarted: ports and the registry build.
    pub fn soft_differences(&self, wanted: &Shape) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (have, want)) in self.nodes.iter().zip(&wanted.nodes).enumerate() {
            if have != want {
                out.push(format!(
                    "node {} ports {} (asked: {})",
                    i + 1,
                    ports_text(have),
                    ports_text(want)
                ));
            }
        }
        let reg = |s: &Shape| format!("http {}, https {}", s.registry_port, s.registry_https_port);
        if reg(self) != reg(wanted) {
            out.push(format!(
                "registry ports {} (asked: {})",
                reg(self),
                reg(wanted)
            ));
        }
        if self.connect && wanted.connect && self.connect_port != wanted.connect_port {
            out.push(format!(
                "Connect port {} (asked: {})",
                self.connect_port, wanted.connect_port
            ));
        }
        if self.registry != wanted.registry {
            out.push(format!(
                "registry {} (asked: {})",
                self.registry.key(),
                wanted.registry.key()
            ));
        }
        out
    }

    /// Copies the recorded shape into `cfg` (users are left alone). A sandbox that has a Connect
    /// worker keeps it and its port; one that has none gets one if `cfg` asks for it.
    pub fn apply_to(&self, cfg: &mut SandboxConfig) {
        cfg.kafka_version = self.kafka_version.clone();
        cfg.brokers = self.brokers;
        cfg.registry = self.registry;
        for (i, ports) in self.nodes.iter().enumerate() {
            if let Some(slot) = cfg.nodes.get_mut(i) {
                *slot = *ports;
            } else {
                cfg.nodes.push(*ports);
            }
        }
        cfg.registry_port = self.registry_port;
        cfg.registry_https_port = self.registry_https_port;
        cfg.registry_management_port = self.registry_management_port;
        if self.connect {
            cfg.connect = true;
            cfg.connect_port = self.connect_port;
        }
    }

    pub fn render(&self) -> String {
        let mut text = String::from(
            "# Written by `mesh dev up`: what this sandbox is. `status` and `down` read it.\n",
        );
        text.push_str(&format!("kafka.version={}\n", self.kafka_version));
        text.push_str(&format!("brokers={}\n", self.brokers));
        text.push_str(&format!("registry={}\n", self.registry.key()));
        for (i, ports) in self.nodes.iter().enumerate() {
            text.push_str(&format!("node.{}.ports={}\n", i + 1, ports_text(ports)));
        }
        text.push_str(&format!(
            "registry.ports=http:{},https:{},management:{}\n",
            self.registry_port, self.registry_https_port, self.registry_management_port
        ));
        text.push_str(&format!("connect={}\n", self.connect));
        text.push_str(&format!("connect.port={}\n", self.connect_port));
        for (user, password) in &self.scram {
            text.push_str(&format!("scram.{user}={password}\n"));
        }
        text
    }

    pub fn parse(text: &str) -> Option<Shape> {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_start();
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (k, v) = line.split_once('=')?;
            map.insert(k.trim().to_owned(), v.to_owned());
        }
        let brokers: u8 = map.get("brokers")?.trim().parse().ok()?;
        let nodes = (1..=brokers)
            .map(|n| parse_node_ports(map.get(&format!("node.{n}.ports"))?))
            .collect::<Option<Vec<_>>>()?;
        let reg = named_ports(map.get("registry.ports")?)?;
        Some(Shape {
            kafka_version: map.get("kafka.version")?.trim().to_owned(),
            brokers,
            registry: RegistryDist::parse(map.get("registry")?).ok()?,
            nodes,
            registry_port: *reg.get("http")?,
            registry_https_port: *reg.get("https")?,
            registry_management_port: *reg.get("management")?,
            // Absent in folders from before Connect: no worker, the default port.
            connect: match map.get("connect").map(|v| v.trim()) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return None,
            },
            connect_port: match map.get("connect.port") {
                Some(port) => port.trim().parse().ok()?,
                None => SandboxConfig::new("", "").connect_port,
            },
            scram: map
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("scram.")?.to_owned(), v.clone())))
                .collect(),
        })
    }
}

fn ports_text(p: &NodePorts) -> String {
    format!(
        "client:{},sasl_ssl:{},ssl:{},controller:{},internal:{}",
        p.client, p.sasl_ssl, p.ssl, p.controller, p.internal
    )
}

fn named_ports(text: &str) -> Option<BTreeMap<String, u16>> {
    text.split(',')
        .map(|part| {
            let (name, port) = part.split_once(':')?;
            Some((name.trim().to_owned(), port.trim().parse().ok()?))
        })
        .collect()
}

fn parse_node_ports(text: &str) -> Option<NodePorts> {
    let p = named_ports(text)?;
    Some(NodePorts {
        client: *p.get("client")?,
        sasl_ssl: *p.get("sasl_ssl")?,
        ssl: *p.get("ssl")?,
        controller: *p.get("controller")?,
        internal: *p.get("internal")?,
    })
}

/// The recorded shape of the sandbox in `layout.dir`: the file if there is one; for a folder
/// formatted before shapes were recorded, a one-node Kafka 3.9.2 (all that existed then) on the
/// ports asked for now, with no SCRAM credentials; `None` for a new folder.
pub(crate) fn load(layout: &Layout, cfg: &SandboxConfig) -> Result<Option<Shape>, SandboxError> {
    match fs::read_to_string(&layout.shape) {
        Ok(text) => Shape::parse(&text)
            .map(Some)
            .ok_or_else(|| SandboxError::Io {
                action: "understand",
                path: layout.shape.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a sandbox shape file (delete it: the next `up` writes it again)",
                ),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if crate::kafka::is_formatted(layout, 1) {
                let mut legacy = Shape::of(cfg);
                legacy.kafka_version = KAFKA_3_VERSION.to_owned();
                legacy.brokers = 1;
                legacy.nodes.truncate(1);
                Ok(Some(legacy))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(SandboxError::io("read", &layout.shape, e)),
    }
}

pub(crate) fn save(path: &Path, shape: &Shape) -> Result<(), SandboxError> {
    let tmp = path.with_extension("properties.tmp");
    fs::write(&tmp, shape.render()).map_err(|e| SandboxError::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| SandboxError::io("write", path, e))
}

impl SandboxConfig {
    /// Takes the shape recorded in the sandbox folder (Kafka version, node count, registry
    /// build, ports), if `up` ever ran there, so later commands need no flags: `mesh dev status`
    /// and `down` use it, and `up` without `--brokers`/`--kafka-version` keeps what the folder
    /// has. Returns whether a shape was found.
    pub fn adopt_saved_shape(&mut self) -> Result<bool, SandboxError> {
        let layout = self.layout();
        match load(&layout, self)? {
            Some(shape) => {
                shape.apply_to(self);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_round_trip() {
        let mut cfg = SandboxConfig::new("/sb", "/c");
        cfg.brokers = 3;
        cfg.use_free_ports().unwrap();
        let mut shape = Shape::of(&cfg);
        shape.scram = Shape::wanted_scram(&cfg);
        shape.scram.insert("bob".into(), "p=w,x".into());
        let text = shape.render();
        assert!(text.contains("kafka.version=4.4.0\nbrokers=3\nregistry=apicurio-2\n"));
        assert!(text.contains("scram.admin=admin-secret\n"));
        assert_eq!(Shape::parse(&text), Some(shape.clone()));
        assert!(text.contains("connect=false\n"));
        // A folder from before Connect has no worker.
        let old: String = text
            .lines()
            .filter(|l| !l.starts_with("connect"))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed = Shape::parse(&old).unwrap();
        assert!(!parsed.connect);
        assert_eq!(parsed.connect_port, 18083);
        assert_eq!(shape.describe(), "a 3-node Kafka 4.4.0 cluster");
        let mut other = SandboxConfig::new("/sb", "/c");
        shape.apply_to(&mut other);
        assert_eq!(other.brokers, 3);
        assert_eq!(other.bootstrap_servers(), cfg.bootstrap_servers());
        assert_eq!(other.registry_https_port, cfg.registry_https_port);
        assert_eq!(Shape::parse("brokers=x"), None);
        assert_eq!(Shape::parse("garbage"), None);
    }

    #[test]
    fn a_connect_worker_is_kept_once_a_folder_has_one() {
        let mut cfg = SandboxConfig::new("/sb", "/c");
        cfg.connect = true;
        cfg.connect_port = 28083;
        let shape = Shape::of(&cfg);
        let text = shape.render();
        assert!(
            text.contains("connect=true\nconnect.port=28083\n"),
            "{text}"
        );
        assert_eq!(Shape::parse(&text), Some(shape.clone()));
        let mut plain = SandboxConfig::new("/sb", "/c");
        shape.apply_to(&mut plain);
        assert!(plain.connect);
        assert_eq!(plain.connect_port, 28083);
        let mut asked = SandboxConfig::new("/sb", "/c");
        asked.connect = true;
        Shape::of(&SandboxConfig::new("/sb", "/c")).apply_to(&mut asked);
        assert!(asked.connect, "asking for a worker adds one");
        let soft = shape.soft_differences(&Shape::of(&asked));
        assert_eq!(soft, vec!["Connect port 28083 (asked: 18083)".to_owned()]);
        assert_eq!(
            Shape::parse(&text.replace("connect=true", "connect=yes")),
            None
        );
    }

    #[test]
    fn differences_are_spelled_out() {
        let one = Shape::of(&SandboxConfig::new("/sb", "/c"));
        let mut cfg = SandboxConfig::new("/sb", "/c");
        cfg.brokers = 3;
        cfg.kafka_version = "3.9.2".into();
        let three = Shape::of(&cfg);
        let fatal = one.fatal_differences(&three);
        assert_eq!(
            fatal,
            vec![
                "Kafka 4.4.0 here, 3.9.2 asked for (--kafka-version)".to_owned(),
                "1 node(s) here, 3 asked for (--brokers)".to_owned()
            ]
        );
        assert!(one.fatal_differences(&one).is_empty());
        let mut moved = SandboxConfig::new("/sb", "/c");
        moved.nodes[0].client = 29092;
        moved.registry_https_port = 28443;
        let soft = one.soft_differences(&Shape::of(&moved));
        assert_eq!(soft.len(), 2, "{soft:?}");
        assert!(soft[0].starts_with("node 1 ports client:19092"), "{soft:?}");
        assert!(soft[0].contains("(asked: client:29092"), "{soft:?}");
        assert!(
            soft[1].contains("https 18443 (asked: http 18081, https 28443)"),
            "{soft:?}"
        );
    }

    #[test]
    fn a_folder_from_before_shapes_is_a_one_node_3_9() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = SandboxConfig::new(tmp.path(), "/c");
        assert!(!cfg.adopt_saved_shape().unwrap());
        let layout = cfg.layout();
        fs::create_dir_all(&layout.node(1).data).unwrap();
        fs::write(
            layout.node(1).data.join("meta.properties"),
            "cluster.id=x\n",
        )
        .unwrap();
        assert!(cfg.adopt_saved_shape().unwrap());
        assert_eq!((cfg.kafka_version.as_str(), cfg.brokers), ("3.9.2", 1));
        let mut saved = Shape::of(&cfg);
        saved.brokers = 1;
        save(&layout.shape, &saved).unwrap();
        let mut again = SandboxConfig::new(tmp.path(), "/c");
        assert!(again.adopt_saved_shape().unwrap());
        assert_eq!(again.kafka_version, "3.9.2");
        fs::write(&layout.shape, "nonsense").unwrap();
        assert!(again.adopt_saved_shape().is_err());
    }
}
