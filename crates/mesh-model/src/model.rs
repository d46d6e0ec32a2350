//! The typed mesh: what the repo declares, after defaults and the selected environment's overrides.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use mesh_diagnostics::SourceFile;

use crate::doc::{Date, Spanned};

/// A whole mesh repo, loaded for one environment (or none).
#[derive(Clone, Debug, Default)]
pub struct Mesh {
    pub settings: Settings,
    /// Sorted by name.
    pub domains: Vec<Domain>,
    /// Sorted by id.
    pub products: Vec<Product>,
    /// Kafka Connect connectors of every domain, sorted by name (a Connect cluster's names are
    /// one namespace).
    pub connectors: Vec<Connector>,
    /// The environment whose overrides were applied, if any.
    pub env: Option<String>,
    /// The text of every file read, for rendering diagnostics; secrets are marked for redaction.
    pub sources: BTreeMap<String, SourceFile>,
    /// Files that are binary or do not parse (already reported).
    pub unreadable: BTreeSet<String>,
    /// Likely ids of products whose files could not be read: references to them are not
    /// reported again as unknown.
    pub unreadable_products: BTreeSet<String>,
}

impl Mesh {
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products
            .binary_search_by(|p| p.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.products[i])
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains
            .binary_search_by(|d| d.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.domains[i])
    }

    pub fn environment(&self) -> Option<&Environment> {
        self.env
            .as_ref()
            .and_then(|e| self.settings.environments.get(e))
    }

    /// Every `[[consumes]]` entry of every domain, with the consuming domain.
    pub fn consumers(&self) -> impl Iterator<Item = (&Domain, &Consume)> {
        self.domains
            .iter()
            .flat_map(|d| d.consumes.iter().map(move |c| (d, c)))
    }

    /// Paths of policy files: the repo's `policies/` and each domain's `policies/`.
    pub fn policy_files(&self) -> impl Iterator<Item = &str> {
        self.sources
            .keys()
            .map(String::as_str)
            .filter(|p| is_policy_file(p))
    }
}

/// `policies/*.toml` at the top, or `domains/<d>/policies/*.toml`.
pub fn is_policy_file(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    path.ends_with(".toml")
        && matches!(
            parts.as_slice(),
            ["policies", _] | ["domains", _, "policies", _]
        )
}

/// `mesh.toml`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub name: String,
    pub policy_packs: Vec<Spanned<String>>,
    pub catalog_topic: String,
    pub retire_idle_days: u32,
    pub defaults: TopicSpec,
    pub environments: BTreeMap<String, Environment>,
}

pub const DEFAULT_CATALOG_TOPIC: &str = "_mesh-catalog";
pub const DEFAULT_RETIRE_IDLE_DAYS: u32 = 7;

/// One `[environments.<name>]` entry: a cluster and its overrides.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub name: String,
    /// A developer cluster: literal secrets allowed.
    pub local: bool,
    pub bootstrap_servers: Option<Spanned<String>>,
    pub schema_registry_url: Option<Spanned<String>>,
    pub topic: TopicSpec,
    /// Passed through to the Kafka client; values may hold `${VAR}` references.
    pub kafka: BTreeMap<String, Spanned<String>>,
    /// `[environments.<env>.schema_registry]`: credentials and TLS files for the registry
    /// (`${VAR}` values).
    pub registry_auth: RegistryAuth,
    /// `[environments.<env>.connect]`: the environment's Kafka Connect cluster, if any.
    pub connect: Option<ConnectSettings>,
    /// Where the environment is declared in mesh.toml.
    pub span: Range<usize>,
}

/// Schema Registry credentials (basic auth or a bearer token, or neither) and TLS files: a CA
/// to trust besides the system's roots, and a client certificate with its key (mutual TLS).
/// Relative paths are relative to the mesh repo.
#[derive(Clone, Debug, Default)]
pub struct RegistryAuth {
    pub username: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
}

/// A Kafka Connect cluster's REST API: its URL and the same credentials and TLS files as a
/// Schema Registry's.
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    pub url: Spanned<String>,
    pub auth: RegistryAuth,
    /// `environments.<env>.connect`, for messages.
    pub path: String,
}

/// Topic fields at one level of the resolution chain; `None` means "not set here".
#[derive(Clone, Debug, Default)]
pub struct TopicSpec {
    pub partitions: Option<Spanned<i64>>,
    pub replication_factor: Option<Spanned<i64>>,
    /// Normalised values (durations in ms, sizes in bytes), keyed by config name.
    pub config: BTreeMap<String, ConfigEntry>,
    /// The file this level was written in.
    pub file: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub value: String,
    pub span: Range<usize>,
}

/// A product's topic after defaults and overrides.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResolvedTopic {
    pub name: String,
    pub partitions: i64,
    pub replication_factor: i64,
    /// Config name → normalised value, sorted by name.
    pub config: crate::SmallMap<String>,
    /// Where the name was written, or the product file's start when it was defaulted.
    pub name_span: Range<usize>,
}

/// `domains/<name>/domain.toml`.
#[derive(Clone, Debug, Default)]
pub struct Domain {
    pub name: String,
    pub file: String,
    /// `domains/<name>`.
    pub dir: String,
    pub description: String,
    pub owners: Vec<String>,
    /// How to reach the owners: `mailto:`, `https://` or `http://` links (chat channel, on-call page).
    pub contacts: Vec<String>,
    /// Short name → Kafka principal (`User:…`).
    pub principals: BTreeMap<String, Spanned<String>>,
    /// Short name → what a principal written as a table declares beyond its name (its kind, a
    /// Streams application id, a transactional id). Principals written as a plain string are
    /// `client`s with nothing more and are not listed.
    pub principal_specs: BTreeMap<String, PrincipalSpec>,
    pub consumes: Vec<Consume>,
}

impl Domain {
    /// What principal `name` declares (a plain `client` when it is written as a string).
    pub fn principal_spec(&self, name: &str) -> PrincipalSpec {
        self.principal_specs.get(name).cloned().unwrap_or_default()
    }
}

/// A principal's kind and what the kind needs (SPEC §1 "Principal kinds").
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrincipalSpec {
    pub kind: PrincipalKind,
    /// `streams`: the application's `application.id`: its consumer group, and the prefix
    /// (`<application_id>-`) of its internal topics and transactional ids.
    pub application_id: Option<Spanned<String>>,
    /// A transactional id the principal produces under; a trailing `*` makes it a prefix.
    pub transactional_id: Option<Spanned<String>>,
}

/// `domains/<d>/connectors/<name>.toml`: a Kafka Connect connector the domain runs (SPEC §1).
#[derive(Clone, Debug)]
pub struct Connector {
    /// The connector's name on Connect: `name`, else the file stem.
    pub name: String,
    pub domain: String,
    pub file: String,
    /// The connector class (`connector.class`).
    pub class: Spanned<String>,
    /// A principal of the domain, by short name: the worker runs the connector as it.
    pub principal: Spanned<String>,
    /// The product it reads (a sink) or writes (a source).
    pub flow: ConnectorFlow,
    pub purpose: Option<String>,
    /// `tasks.max` (1 when not given).
    pub tasks_max: i64,
    /// Whether it should run, be paused or be stopped (`state`; running when not given).
    pub state: ConnectorState,
    /// Everything else passed to Connect as written (numbers and booleans as text). Connect's
    /// own `${provider:path:key}` references pass through untouched; mesh's `${VAR}` ones are
    /// expanded when applying.
    pub config: BTreeMap<String, Spanned<String>>,
}

/// What a connector should be doing on its Connect cluster (`state` in its file).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    #[default]
    Running,
    /// Its tasks keep their resources but process nothing (`PUT /connectors/{name}/pause`).
    Paused,
    /// Its tasks are shut down (`PUT /connectors/{name}/stop`, Kafka 3.5 and later).
    Stopped,
}

impl ConnectorState {
    pub const ALL: [ConnectorState; 3] = [
        ConnectorState::Running,
        ConnectorState::Paused,
        ConnectorState::Stopped,
    ];

    /// As written in a connector file: `running`, `paused`, `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorState::Running => "running",
            ConnectorState::Paused => "paused",
            ConnectorState::Stopped => "stopped",
        }
    }

    /// As Connect's status API names it: `RUNNING`, `PAUSED`, `STOPPED`.
    pub fn connect_name(self) -> &'static str {
        match self {
            ConnectorState::Running => "RUNNING",
            ConnectorState::Paused => "PAUSED",
            ConnectorState::Stopped => "STOPPED",
        }
    }
}

/// Which way data flows through a connector, and the product at mesh's end of it.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectorFlow {
    /// A sink connector consumes this product (like a `[[consumes]]`).
    Sink(Spanned<String>),
    /// A source connector produces this product (of its own domain).
    Source(Spanned<String>),
}

impl Connector {
    /// The product at mesh's end of the connector.
    pub fn product(&self) -> &Spanned<String> {
        match &self.flow {
            ConnectorFlow::Sink(p) | ConnectorFlow::Source(p) => p,
        }
    }

    pub fn is_sink(&self) -> bool {
        matches!(self.flow, ConnectorFlow::Sink(_))
    }

    /// The consumer group Connect gives a sink connector: `connect-<name>`.
    pub fn group(&self) -> String {
        format!("connect-{}", self.name)
    }
}

/// One `[[consumes]]` entry of a domain.
#[derive(Clone, Debug)]
pub struct Consume {
    pub product: Spanned<String>,
    pub principal: Spanned<String>,
    pub group: Spanned<String>,
    pub purpose: Option<String>,
    pub span: Range<usize>,
}

macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub enum $name { #[default] $($variant),+ }
        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($text => Some($name::$variant),)+ _ => None } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

choice!(Quality { Raw = "raw", Curated = "curated", Authoritative = "authoritative" });
choice!(Sla { Tier1 = "tier-1", Tier2 = "tier-2", Tier3 = "tier-3" });
choice!(Status { Active = "active", Deprecated = "deprecated" });
choice!(
    /// What kind of application a principal is: a plain `client`, or a Kafka Streams
    /// application (`streams`) with its own group, internal topics and transactional ids.
    PrincipalKind { Client = "client", Streams = "streams" }
);
choice!(
    /// Who may consume a product. Public by default: products exist to be used; `restricted` and
    /// `private` narrow that on purpose.
    Visibility { Public = "public", Restricted = "restricted", Private = "private" }
);
choice!(Compatibility {
    Backward = "BACKWARD",
    None = "NONE",
    BackwardTransitive = "BACKWARD_TRANSITIVE",
    Forward = "FORWARD",
    ForwardTransitive = "FORWARD_TRANSITIVE",
    Full = "FULL",
    FullTransitive = "FULL_TRANSITIVE",
});
choice!(SchemaFormat { Avro = "avro", Json = "json", Protobuf = "protobuf" });

impl SchemaFormat {
    /// The format a schema file's extension names.
    pub fn from_path(path: &str) -> Option<Self> {
        match path.rsplit_once('.')?.1 {
            "avsc" => Some(SchemaFormat::Avro),
            "json" => Some(SchemaFormat::Json),
            "proto" => Some(SchemaFormat::Protobuf),
            _ => None,
        }
    }

    /// The Schema Registry's name for the format.
    pub fn registry_type(self) -> &'static str {
        match self {
            SchemaFormat::Avro => "AVRO",
            SchemaFormat::Json => "JSON",
            SchemaFormat::Protobuf => "PROTOBUF",
        }
    }
}

/// `domains/<d>/products/<name>.toml`.
#[derive(Clone, Debug, Default)]
pub struct Product {
    /// `<domain>.<name>`.
    pub id: String,
    pub domain: String,
    pub name: String,
    pub file: String,
    pub description: String,
    /// Resolved: the product's own owners, else its domain's.
    pub owners: Vec<String>,
    /// Resolved: the product's own contacts, else its domain's.
    pub contacts: Vec<String>,
    pub quality: Quality,
    pub sla: Sla,
    pub tags: Vec<String>,
    pub status: Status,
    pub inputs: Vec<Spanned<String>>,
    pub producers: Vec<Spanned<String>>,
    pub topic: ResolvedTopic,
    pub schema: Option<SchemaSpec>,
    pub access: Access,
    pub deprecation: Option<Deprecation>,
    /// False when the file had errors that left fields unknown; policies skip such products.
    pub complete: bool,
}

#[derive(Clone, Debug)]
pub struct SchemaRef {
    /// As written, relative to the domain folder.
    pub path: Spanned<String>,
    /// Repo-relative path of the file.
    pub file: String,
    pub format: SchemaFormat,
}

#[derive(Clone, Debug)]
pub struct SchemaSpec {
    pub value: Option<SchemaRef>,
    pub key: Option<SchemaRef>,
    pub compatibility: Compatibility,
    pub span: Range<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct Access {
    pub visibility: Visibility,
    pub allow_domains: Vec<Spanned<String>>,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct Deprecation {
    pub since: Option<Date>,
    pub sunset: Option<Date>,
    pub replacement: Option<Spanned<String>>,
    pub reason: Option<String>,
    pub span: Range<usize>,
}
