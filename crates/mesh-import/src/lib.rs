//! Adopting an existing cluster (`mesh import`): from an [`Inventory`] of what a cluster holds
//! (topics, ACLs, registry subjects) to the files of a mesh repo that declares exactly that, so
//! that a plan of the imported repo against the same cluster changes no topic, config, partition,
//! ACL or subject.
//!
//! The rules, in the order they apply:
//! - Topics whose name starts with `_`, and the catalog topic, are internal: not imported.
//!   Neither are Kafka Streams applications' internal topics, recognised by Streams' naming
//!   (`…-changelog`, `…-repartition`, foreign-key join `…-SUBSCRIPTION-…-topic`; see
//!   [`streams_internal`]); each is named in the notes.
//! - A topic `<domain>.<rest>` becomes product `<rest>` of domain `<domain>`; a topic without a
//!   prefix goes to domain [`NO_PREFIX_DOMAIN`]. Names that are not legal mesh names are made
//!   legal (lower case; anything but `a-z0-9` becomes `-`; a leading non-letter gets `t-`; at
//!   most 64 characters; a clash gets `-2`, `-3`, …); the product keeps the real topic name in
//!   `[topic] name` whenever it differs from `<domain>.<product>`.
//! - A product records partitions, replication factor and the topic-level (dynamic) configs.
//! - A principal is declared only if mesh can derive all of its ACLs: WRITE+DESCRIBE on a topic
//!   (a producer), READ+DESCRIBE on a topic together with READ on a group (a consumer). A
//!   principal with any other binding (DENY, a host, a prefixed topic, cluster rights, …) is
//!   left unmanaged, and said so in the notes: declaring it would make the plan delete bindings.
//! - A producer belongs to the domain(s) it writes to; a principal that only reads belongs to
//!   the domain named by its name's first word (`User:bi-dashboard` → `bi`), created if needed.
//! - Subjects `<topic>-value` / `<topic>-key` become schema files (`.avsc`, `.json`, `.proto`)
//!   with the latest version's text and the subject's compatibility.
//! - What only a person knows (owners, descriptions, quality, sla) is a placeholder starting
//!   with [`mesh_model::placeholder::PLACEHOLDER`], which validation rejects.
//!
//! Architecture invariant: pure. The CLI reads the cluster and writes the files.

use std::collections::{BTreeMap, BTreeSet};

use mesh_model::placeholder::PLACEHOLDER;
use mesh_plan::connect::LiveConnector;
use mesh_plan::registry::LiveSubject;
use mesh_plan::{AclBinding, ConfigSource, LiveTopic, Operation, PatternType, ResourceType};

/// The domain of topics whose name has no `<domain>.` prefix.
pub const NO_PREFIX_DOMAIN: &str = "imported";

/// What the cluster holds, as `mesh import` reads it.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Every topic (internal ones are skipped here, so the reader need not know the rule).
    pub topics: BTreeMap<String, LiveTopic>,
    /// Every ACL binding, of every principal.
    pub acls: BTreeSet<AclBinding>,
    /// Registry subjects by name (only `<topic>-value` / `<topic>-key` are used).
    pub subjects: BTreeMap<String, LiveSubject>,
    /// Every connector of the environment's Kafka Connect cluster (empty without one).
    pub connectors: BTreeMap<String, LiveConnector>,
}

/// What the imported mesh.toml carries over from the source repo.
#[derive(Clone, Debug)]
pub struct Settings {
    pub mesh_name: String,
    pub catalog_topic: String,
    /// The environment's name and its table as written (`${VAR}` references stay references),
    /// without its `topic` overrides.
    pub env: String,
    pub env_table: toml::Table,
    /// Whether the source environment had `topic` overrides (dropped: the imported products
    /// record the live values, an override would change them).
    pub dropped_topic_overrides: bool,
}

/// Reads [`Settings`] from the source repo's mesh.toml text.
pub fn settings_from_mesh_toml(text: &str, env: &str) -> Result<Settings, String> {
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| format!("mesh.toml does not parse: {e}"))?;
    let mesh = doc.get("mesh").and_then(toml::Value::as_table);
    let mesh_name = mesh
        .and_then(|m| m.get("name"))
        .and_then(toml::Value::as_str)
        .unwrap_or("imported")
        .to_string();
    let catalog_topic = mesh
        .and_then(|m| m.get("catalog_topic"))
        .and_then(toml::Value::as_str)
        .unwrap_or(mesh_model::DEFAULT_CATALOG_TOPIC)
        .to_string();
    let envs = doc.get("environments").and_then(toml::Value::as_table);
    let Some(mut env_table) = envs
        .and_then(|e| e.get(env))
        .and_then(toml::Value::as_table)
        .cloned()
    else {
        let names: Vec<&str> = envs
            .map(|e| e.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Err(format!(
            "mesh.toml has no environment `{env}` (help: declared environments: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    };
    let dropped_topic_overrides = env_table.remove("topic").is_some();
    Ok(Settings {
        mesh_name,
        catalog_topic,
        env: env.to_string(),
        env_table,
        dropped_topic_overrides,
    })
}

/// Whether `mesh import` leaves a topic alone: `_`-prefixed (Kafka's and tools' own) or the
/// catalog topic.
pub fn is_internal(topic: &str, catalog_topic: &str) -> bool {
    topic.starts_with('_') || topic == catalog_topic
}

/// Whether `topic` is named like a Kafka Connect worker's internal topic (`connect-configs`,
/// `connect-offsets`, `connect-status`, or those names after a prefix, as `mm2-`/cluster-named
/// workers use them).
pub fn connect_internal(topic: &str) -> bool {
    ["connect-configs", "connect-offsets", "connect-status"]
        .iter()
        .any(|n| {
            topic == *n || topic.ends_with(&format!("-{n}")) || topic.ends_with(&format!(".{n}"))
        })
}

/// One connector's file: its domain and text, or `None` (with a note) when it does not read or
/// write exactly one imported topic.
fn connector_toml(
    name: &str,
    c: &LiveConnector,
    by_topic: &BTreeMap<String, String>,
    products: &BTreeMap<String, Product>,
    notes: &mut Vec<String>,
) -> Option<(String, String)> {
    let get = |k: &str| c.config.get(k).map(|v| v.trim().to_string());
    let sink = c.kind == "sink" || (c.kind.is_empty() && get("topics").is_some());
    let topic = if sink {
        get("topics").filter(|t| !t.contains(',') && !t.is_empty())
    } else {
        get("topic").or_else(|| get("kafka.topic"))
    };
    let (Some(class), Some(product)) = (
        get("connector.class"),
        topic.as_ref().and_then(|t| by_topic.get(t)),
    ) else {
        notes.push(format!(
            "connector {name} not imported: it does not {} exactly one imported topic ({}); declare it by hand",
            if sink { "read" } else { "write" },
            if sink {
                "a sink's `topics`"
            } else {
                "a source's `topic` or `kafka.topic`"
            }
        ));
        return None;
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
    {
        notes.push(format!(
            "connector {name} not imported: its name is not one a connector file can hold (letters, digits, '.', '_', '-')"
        ));
        return None;
    }
    let domain = products.get(product).map(|p| p.domain.clone())?;
    let mut s =
        String::from("# Written by `mesh import`. Replace every TODO(mesh import) value.\n");
    s.push_str(&format!("class = {}\n", q(&class)));
    s.push_str(&format!(
        "principal = {}\n",
        q(&todo(
            "the principal of this domain the connector logs in as"
        ))
    ));
    s.push_str(&format!(
        "{} = {}\n",
        if sink { "consumes" } else { "produces" },
        q(product)
    ));
    if let Some(t) = get("tasks.max").and_then(|t| t.parse::<i64>().ok()) {
        s.push_str(&format!("tasks_max = {t}\n"));
    }
    match c.state.as_str() {
        "PAUSED" => s.push_str("state = \"paused\"\n"),
        "STOPPED" => s.push_str("state = \"stopped\"\n"),
        _ => {}
    }
    let mut config = String::new();
    for (k, v) in &c.config {
        if matches!(k.as_str(), "name" | "connector.class" | "tasks.max") || (sink && k == "topics")
        {
            continue;
        }
        let value = if mesh_model::secrets::is_secret_key(k)
            && !mesh_model::connector::is_connect_reference(v)
        {
            let var = format!("CONNECT_{}_{}", legal(name), legal(k))
                .to_ascii_uppercase()
                .replace(['-', '.'], "_");
            notes.push(format!(
                "connector {name}: `{k}` holds a secret; the file reads it from ${{{var}}} (set it where mesh runs, or use one of Connect's config providers)"
            ));
            format!("${{{var}}}")
        } else {
            v.clone()
        };
        config.push_str(&format!("{} = {}\n", q(k), q(&value)));
    }
    if !config.is_empty() {
        s.push_str("\n[config]\n");
        s.push_str(&config);
    }
    Some((domain, s))
}

/// What kind of Kafka Streams internal topic `topic` is named like (`"changelog"`,
/// `"repartition"`, `"foreign-key join subscription"`), if any. Streams names them
/// `<application.id>-<store or operator name>-changelog` / `-repartition`, and a foreign-key
/// join's `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-{REGISTRATION,RESPONSE}-<n>-topic`.
pub fn streams_internal(topic: &str) -> Option<&'static str> {
    let has_prefix = |suffix: &str| {
        topic
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.contains('-'))
    };
    if has_prefix("-changelog") {
        Some("changelog")
    } else if has_prefix("-repartition") {
        Some("repartition")
    } else if topic.contains("-KTABLE-FK-JOIN-SUBSCRIPTION-") && topic.ends_with("-topic") {
        Some("foreign-key join subscription")
    } else {
        None
    }
}

/// The generated repo.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Repo-relative path → file text.
    pub files: BTreeMap<String, String>,
    pub products: usize,
    pub domains: usize,
    /// What was not imported, or will still change at the first apply, and why.
    pub notes: Vec<String>,
}

struct Product {
    domain: String,
    name: String,
    topic: LiveTopic,
    producers: BTreeSet<String>,
}

#[derive(Default)]
struct DomainOut {
    /// short name → principal
    principals: BTreeMap<String, String>,
    /// (product id, principal short name, group as written)
    consumes: BTreeSet<(String, String, String)>,
}

/// Generates the repo for `inv`. Deterministic: the same inventory gives the same files.
pub fn import(inv: &Inventory, settings: &Settings) -> Imported {
    let mut out = Imported::default();
    // Topic → product.
    let mut products: BTreeMap<String, Product> = BTreeMap::new();
    let mut by_topic: BTreeMap<String, String> = BTreeMap::new();
    for (name, topic) in &inv.topics {
        if is_internal(name, &settings.catalog_topic) {
            continue;
        }
        if connect_internal(name) {
            out.notes.push(format!(
                "topic {name} not imported: named like a Kafka Connect worker's own config, offsets or status topic"
            ));
            continue;
        }
        if let Some(kind) = streams_internal(name) {
            out.notes.push(format!(
                "topic {name} not imported: named like a Kafka Streams application's {kind} \
                 topic, which belongs to the application (declare its principal with kind = \
                 \"streams\"); if it is a data product, declare it by hand"
            ));
            continue;
        }
        if let Some(problem) = mesh_model::topic_name_problem(name) {
            out.notes
                .push(format!("topic {name} not imported: {problem}"));
            continue;
        }
        let (domain, product) = match name.split_once('.') {
            Some((d, rest)) if !d.is_empty() && !rest.is_empty() => (legal(d), legal(rest)),
            _ => (NO_PREFIX_DOMAIN.to_string(), legal(name)),
        };
        let mut unique = product.clone();
        let mut n = 2;
        while products.contains_key(&format!("{domain}.{unique}")) {
            unique = suffixed(&product, n);
            n += 1;
        }
        let id = format!("{domain}.{unique}");
        by_topic.insert(name.clone(), id.clone());
        products.insert(
            id,
            Product {
                domain,
                name: unique,
                topic: topic.clone(),
                producers: BTreeSet::new(),
            },
        );
    }

    let mut domains: BTreeMap<String, DomainOut> = products
        .values()
        .map(|p| (p.domain.clone(), DomainOut::default()))
        .collect();
    assign_principals(inv, &by_topic, &mut products, &mut domains, &mut out.notes);

    // Files.
    for (name, d) in &domains {
        out.files
            .insert(format!("domains/{name}/domain.toml"), domain_toml(name, d));
    }
    for (id, p) in &products {
        let (text, schemas) = product_toml(id, p, inv, &mut out.notes);
        out.files.insert(
            format!("domains/{}/products/{}.toml", p.domain, p.name),
            text,
        );
        for (path, schema) in schemas {
            out.files
                .insert(format!("domains/{}/{path}", p.domain), schema);
        }
    }
    for (name, c) in &inv.connectors {
        match connector_toml(name, c, &by_topic, &products, &mut out.notes) {
            Some((domain, text)) => {
                out.files
                    .insert(format!("domains/{domain}/connectors/{name}.toml"), text);
            }
            None => continue,
        }
    }
    for subject in inv.subjects.keys() {
        let topic = subject
            .strip_suffix("-value")
            .or_else(|| subject.strip_suffix("-key"));
        if !topic.is_some_and(|t| by_topic.contains_key(t)) {
            out.notes.push(format!(
                "subject {subject} not imported: it is not <topic>-value or <topic>-key of an imported topic"
            ));
        }
    }
    if settings.dropped_topic_overrides {
        out.notes.push(format!(
            "[environments.{}.topic] was not carried over: the imported products record the live values, and an override would change them",
            settings.env
        ));
    }
    out.files.insert("mesh.toml".into(), mesh_toml(settings));
    out.products = products.len();
    out.domains = domains.len();
    out
}

/// Which principals can be declared, where, as what.
fn assign_principals(
    inv: &Inventory,
    by_topic: &BTreeMap<String, String>,
    products: &mut BTreeMap<String, Product>,
    domains: &mut BTreeMap<String, DomainOut>,
    notes: &mut Vec<String>,
) {
    let mut of: BTreeMap<&str, Vec<&AclBinding>> = BTreeMap::new();
    for b in &inv.acls {
        of.entry(&*b.principal).or_default().push(b);
    }
    for (principal, bindings) in of {
        let mut writes = BTreeSet::new();
        let mut reads = BTreeSet::new();
        let mut groups = BTreeSet::new();
        let mut odd = None;
        for b in &bindings {
            let plain = b.permission == mesh_plan::Permission::Allow && &*b.host == "*";
            match (b.resource_type, b.pattern, b.operation) {
                (ResourceType::Topic, PatternType::Literal, Operation::Write)
                    if plain && by_topic.contains_key(&*b.resource_name) =>
                {
                    writes.insert(&*b.resource_name);
                }
                (ResourceType::Topic, PatternType::Literal, Operation::Read)
                    if plain && by_topic.contains_key(&*b.resource_name) =>
                {
                    reads.insert(&*b.resource_name);
                }
                (ResourceType::Topic, PatternType::Literal, Operation::Describe)
                    if plain && by_topic.contains_key(&*b.resource_name) => {}
                (ResourceType::Group, pattern, Operation::Read) if plain => {
                    groups.insert(match pattern {
                        PatternType::Literal => b.resource_name.to_string(),
                        PatternType::Prefixed => format!("{}*", b.resource_name),
                    });
                }
                _ => odd = odd.or(Some(*b)),
            }
        }
        // What mesh would derive from that reading; anything else means "leave it alone".
        let mut derived = BTreeSet::new();
        for t in &writes {
            for op in [Operation::Write, Operation::Describe] {
                derived.insert(allow(
                    principal,
                    ResourceType::Topic,
                    t,
                    PatternType::Literal,
                    op,
                ));
            }
        }
        for t in &reads {
            for op in [Operation::Read, Operation::Describe] {
                derived.insert(allow(
                    principal,
                    ResourceType::Topic,
                    t,
                    PatternType::Literal,
                    op,
                ));
            }
        }
        for g in &groups {
            let (name, pattern) = match g.strip_suffix('*') {
                Some(p) => (p, PatternType::Prefixed),
                None => (g.as_str(), PatternType::Literal),
            };
            derived.insert(allow(
                principal,
                ResourceType::Group,
                name,
                pattern,
                Operation::Read,
            ));
        }
        let actual: BTreeSet<AclBinding> = bindings.iter().map(|b| (*b).clone()).collect();
        let why_not = if let Some(b) = odd {
            Some(format!(
                "{:?} {:?} on {:?} {} ({:?}, host {}) is not an ACL mesh derives",
                b.permission, b.operation, b.resource_type, b.resource_name, b.pattern, b.host
            ))
        } else if reads.is_empty() != groups.is_empty() {
            Some(if reads.is_empty() {
                "it may read a consumer group but no topic".to_string()
            } else {
                "it reads topics but may read no consumer group".to_string()
            })
        } else if derived != actual {
            Some("its ACLs are not exactly what mesh derives (WRITE and DESCRIBE on a topic for a producer; READ and DESCRIBE on a topic and READ on a group for a consumer)".to_string())
        } else {
            None
        };
        if let Some(why) = why_not {
            notes.push(format!(
                "principal {principal} not declared (its ACLs stay unmanaged): {why}"
            ));
            continue;
        }
        let name = principal.split_once(':').map_or(principal, |(_, n)| n);
        let short = legal(name);
        let producer_domains: BTreeSet<String> = writes
            .iter()
            .map(|t| products[&by_topic[*t]].domain.clone())
            .collect();
        let home = match producer_domains.first() {
            Some(d) => d.clone(),
            None => legal(
                name.split(['-', '.', '_'])
                    .find(|w| !w.is_empty())
                    .unwrap_or(name),
            ),
        };
        let mut declare = |domain: &str| -> String {
            let d = domains.entry(domain.to_string()).or_default();
            if let Some((k, _)) = d.principals.iter().find(|(_, v)| *v == principal) {
                return k.clone();
            }
            let mut key = short.clone();
            let mut n = 2;
            while d.principals.contains_key(&key) {
                key = suffixed(&short, n);
                n += 1;
            }
            d.principals.insert(key.clone(), principal.to_string());
            key
        };
        for t in &writes {
            let id = &by_topic[*t];
            let domain = products[id].domain.clone();
            let key = declare(&domain);
            if let Some(p) = products.get_mut(id) {
                p.producers.insert(key);
            }
        }
        if !reads.is_empty() {
            let key = declare(&home);
            let groups: Vec<&String> = groups.iter().collect();
            let topics: Vec<&&str> = reads.iter().collect();
            let d = domains.entry(home.clone()).or_default();
            // Every topic with the first group, every further group with the first topic: the
            // derived bindings are the same union as the cluster's.
            for t in &topics {
                d.consumes
                    .insert((by_topic[**t].clone(), key.clone(), groups[0].clone()));
            }
            for g in &groups[1..] {
                d.consumes
                    .insert((by_topic[*topics[0]].clone(), key.clone(), (*g).clone()));
            }
        }
    }
}

fn allow(
    principal: &str,
    rt: ResourceType,
    name: &str,
    pattern: PatternType,
    op: Operation,
) -> AclBinding {
    AclBinding::allow(principal, rt, name, pattern, op)
}

fn todo(what: &str) -> String {
    format!("{PLACEHOLDER}: {what}")
}

fn domain_toml(name: &str, d: &DomainOut) -> String {
    let mut s =
        String::from("# Written by `mesh import`. Replace every TODO(mesh import) value.\n");
    s.push_str(&format!("name = {}\n", q(name)));
    s.push_str(&format!(
        "description = {}\n",
        q(&todo("what this domain does"))
    ));
    s.push_str(&format!(
        "owners = [{}]\n",
        q(&todo("the owning teams, e.g. \"@org/team\""))
    ));
    if !d.principals.is_empty() {
        s.push_str("\n[principals]\n");
        for (k, v) in &d.principals {
            s.push_str(&format!("{k} = {}\n", q(v)));
        }
    }
    for (product, principal, group) in &d.consumes {
        s.push_str(&format!(
            "\n[[consumes]]\nproduct = {}\nprincipal = {}\ngroup = {}\n",
            q(product),
            q(principal),
            q(group)
        ));
    }
    s
}

/// The product file and its schema files (paths relative to the domain folder).
fn product_toml(
    id: &str,
    p: &Product,
    inv: &Inventory,
    notes: &mut Vec<String>,
) -> (String, Vec<(String, String)>) {
    let topic = &p.topic.name;
    let mut s = format!(
        "# Written by `mesh import` from topic {topic}. Replace every TODO(mesh import) value.\n"
    );
    s.push_str(&format!(
        "description = {}\n",
        q(&todo("what this product holds, for its consumers"))
    ));
    s.push_str(&format!(
        "quality = {}\n",
        q(&todo("raw, curated or authoritative"))
    ));
    s.push_str(&format!("sla = {}\n", q(&todo("tier-1, tier-2 or tier-3"))));
    if !p.producers.is_empty() {
        let list: Vec<String> = p.producers.iter().map(|x| q(x)).collect();
        s.push_str(&format!("producers = [{}]\n", list.join(", ")));
    }
    s.push_str("\n[topic]\n");
    if *topic != format!("{}.{}", p.domain, p.name) {
        s.push_str(&format!("name = {}\n", q(topic)));
    }
    s.push_str(&format!(
        "partitions = {}\nreplication_factor = {}\n",
        p.topic.partitions, p.topic.replication_factor
    ));
    let configs: Vec<(&String, &String)> = p
        .topic
        .configs
        .iter()
        .filter(|(_, c)| c.source == ConfigSource::DynamicTopic)
        .filter_map(|(k, c)| match &c.value {
            Some(v) => Some((k, v)),
            None => {
                notes.push(format!(
                    "{id}: config {k} is sensitive (Kafka does not return it); not imported"
                ));
                None
            }
        })
        .collect();
    if !configs.is_empty() {
        s.push_str("\n[topic.config]\n");
        for (k, v) in configs {
            s.push_str(&format!("{} = {}\n", q(k), q(v)));
        }
    }
    let mut files = Vec::new();
    let mut refs = Vec::new();
    let mut levels = BTreeSet::new();
    for suffix in ["value", "key"] {
        let subject = format!("{topic}-{suffix}");
        let Some(live) = inv.subjects.get(&subject) else {
            continue;
        };
        let Some(latest) = &live.latest else { continue };
        let (ext, text) = match latest.schema_type.as_str() {
            "AVRO" => ("avsc", pretty_json(&latest.schema)),
            "JSON" => ("json", pretty_json(&latest.schema)),
            "PROTOBUF" => ("proto", latest.schema.clone()),
            other => {
                notes.push(format!(
                    "subject {subject} not imported: schema type {other} is not one mesh knows"
                ));
                continue;
            }
        };
        let path = format!("schemas/{}-{suffix}.{ext}", p.name);
        refs.push((suffix, path.clone()));
        files.push((path, text));
        match &live.compatibility {
            Some(level) => {
                levels.insert(level.clone());
            }
            None => notes.push(format!(
                "{id}: subject {subject} has no subject-level compatibility; the first apply sets the product's"
            )),
        }
    }
    if !refs.is_empty() {
        s.push_str("\n[schema]\n");
        for (suffix, path) in &refs {
            s.push_str(&format!("{suffix} = {}\n", q(path)));
        }
        if let Some(level) = levels.first() {
            s.push_str(&format!("compatibility = {}\n", q(level)));
            if levels.len() > 1 {
                notes.push(format!(
                    "{id}: its subjects have different compatibility levels; the first apply sets {level} on both"
                ));
            }
        }
    }
    (s, files)
}

fn mesh_toml(settings: &Settings) -> String {
    let mut s = format!(
        "# Written by `mesh import --env {}`. The environment's connection settings are carried\n\
         # over as they were written (`${{VAR}}` references stay references).\n",
        settings.env
    );
    s.push_str(&format!(
        "[mesh]\nname = {}\ncatalog_topic = {}\n",
        q(&settings.mesh_name),
        q(&settings.catalog_topic)
    ));
    s.push_str(
        "# No policy pack yet: turn them on (e.g. [\"baseline\"]) once the imported products are reviewed.\npolicy_packs = []\n\n",
    );
    let mut envs = toml::Table::new();
    envs.insert(
        settings.env.clone(),
        toml::Value::Table(settings.env_table.clone()),
    );
    let mut root = toml::Table::new();
    root.insert("environments".into(), toml::Value::Table(envs));
    s.push_str(&toml::to_string(&root).unwrap_or_default());
    s
}

/// A TOML basic string (a JSON string is one).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn pretty_json(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => format!("{v:#}\n"),
        Err(_) => text.to_string(),
    }
}

/// A legal mesh name (`[a-z][a-z0-9-]*`, at most 64) for `raw`.
pub fn legal(raw: &str) -> String {
    let mut s = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let mut s = s.trim_matches('-').to_string();
    if s.is_empty() {
        s = "unnamed".into();
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s = format!("t-{s}");
    }
    s.truncate(64);
    s.trim_end_matches('-').to_string()
}

/// `name-n`, still at most 64 characters.
fn suffixed(name: &str, n: usize) -> String {
    let tail = format!("-{n}");
    let mut base = name.to_string();
    base.truncate(64 - tail.len());
    format!("{}{tail}", base.trim_end_matches('-'))
}

#[cfg(test)]
mod tests;
