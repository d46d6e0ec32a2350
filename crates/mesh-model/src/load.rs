//! Loading: repo files → the typed [`Mesh`] for one environment, with every problem found in the
//! files themselves (syntax, unknown keys, types, enums, ranges, names, missing files).
//! Cross-file checks (references, access, uniqueness) live in `crate::validate`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use mesh_diagnostics::{Diagnostic, Diagnostics, SourceFile};

use crate::config::{self, KNOWN_TOPIC_CONFIGS, Raw};
use crate::doc::{self, Kind, Reader, Spanned, did_you_mean};
use crate::model::*;
use crate::secrets;

/// Legal domain and product names: `[a-z][a-z0-9-]*`, at most 64 characters.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && name.len() <= 64
}

const NAME_HELP: &str =
    "names start with a lowercase letter and use only a-z, 0-9 and '-', at most 64 characters";

/// Loads a mesh from its files (repo-relative path → bytes) for the environment `env`.
pub fn load(files: &BTreeMap<String, Vec<u8>>, env: Option<&str>) -> (Mesh, Diagnostics) {
    let mut ds = Diagnostics::new();
    let mut mesh = Mesh {
        env: env.map(str::to_string),
        ..Mesh::default()
    };

    let mut sources = Vec::with_capacity(files.len());
    for (path, (src, not_utf8)) in files.keys().zip(source_files(files)) {
        if let Some(d) = not_utf8 {
            mesh.unreadable.insert(path.clone());
            ds.push(d);
        }
        sources.push((path.clone(), src));
    }
    // In path order already: the map is built in one pass instead of one insert at a time.
    mesh.sources = sources.into_iter().collect();

    let settings = load_settings(&mut mesh, files.contains_key("mesh.toml"), &mut ds);
    if let Some(env) = env
        && !settings.environments.contains_key(env)
    {
        let names: Vec<&str> = settings.environments.keys().map(String::as_str).collect();
        let mut d = Diagnostic::error(
            "unknown-environment",
            "mesh.toml",
            0..0,
            format!("environment `{env}` is not declared in mesh.toml"),
        );
        d = match did_you_mean(env, names.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None if names.is_empty() => {
                d.with_help("add an [environments.<name>] section to mesh.toml")
            }
            None => d.with_help(format!("declared environments: {}", names.join(", "))),
        };
        ds.push(d);
    }
    mesh.settings = settings;

    // Group files under domains/ by domain folder.
    // Every file has a source (an empty one when it is not UTF-8).
    let mut by_domain: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in mesh.sources.keys() {
        let Some(rest) = path.strip_prefix("domains/") else {
            continue;
        };
        match rest.split_once('/') {
            None => ds.push(
                Diagnostic::warning("ignored-file", path, 0..0, format!("{path} is not inside a domain folder and is ignored"))
                    .with_help("put domain files in domains/<domain>/domain.toml and products in domains/<domain>/products/"),
            ),
            Some((d, _)) => match by_domain.get_mut(d) {
                Some(paths) => paths.push(path.clone()),
                None => {
                    by_domain.insert(d.to_string(), vec![path.clone()]);
                }
            },
        }
    }
    let parts = load_domains(&mesh, &by_domain);
    mesh.products
        .reserve(parts.iter().map(|(l, _)| l.products.len()).sum());
    for (loaded, part_ds) in parts {
        ds.extend(part_ds);
        mesh.unreadable.extend(loaded.unreadable);
        mesh.unreadable_products.extend(loaded.unreadable_products);
        mesh.products.extend(loaded.products);
        mesh.connectors.extend(loaded.connectors);
        mesh.domains.extend(loaded.domain);
    }
    mesh.domains.sort_by(|a, b| a.name.cmp(&b.name));
    mesh.products.sort_by(|a, b| a.id.cmp(&b.id));
    mesh.connectors.sort_by(|a, b| a.name.cmp(&b.name));
    (mesh, ds)
}

/// Each file's `SourceFile` (secrets of TOML files marked), and the error of a file that is not
/// UTF-8, in the order of `files`; built on all cores, as every file's text is copied and indexed.
fn source_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<(SourceFile, Option<Diagnostic>)> {
    let files: Vec<(&String, &Vec<u8>)> = files.iter().collect();
    in_parallel(&files, |(path, bytes)| source_file(path, bytes))
}

/// `f` of each item, spread over the cores in runs of consecutive items; the results come back
/// in the items' order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let size = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                // A panic in `f` is a bug: re-raise it here as it was.
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn source_file(path: &str, bytes: &[u8]) -> (SourceFile, Option<Diagnostic>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut src = SourceFile::new(path.to_string(), text);
            if path.ends_with(".toml") {
                // Before any parsing: a file that does not parse must not show its secrets.
                secrets::redact_lexically(&mut src);
            }
            (src, None)
        }
        Err(e) => {
            let at = e.valid_up_to();
            // Binary content is never shown or parsed: an empty text keeps renderers safe.
            let d = Diagnostic::error("not-utf8", path, 0..0, format!("{path} is not UTF-8 text (invalid byte at offset {at})"))
                .with_help("mesh files are UTF-8 text; replace this file, or remove it if it was added by mistake");
            (SourceFile::new(path.to_string(), ""), Some(d))
        }
    }
}

/// What loading one domain folder adds to the mesh. Folders are loaded in parallel, each
/// into its own `Loaded` and diagnostics, and merged in folder order, so the mesh and the
/// order of the diagnostics are those of loading them one after the other.
#[derive(Default)]
struct Loaded {
    domain: Option<Domain>,
    products: Vec<Product>,
    connectors: Vec<Connector>,
    unreadable: BTreeSet<String>,
    unreadable_products: Vec<String>,
}

/// Loads every domain folder, spread over the cores in runs of consecutive folders; the
/// results come back in folder order.
fn load_domains(
    mesh: &Mesh,
    by_domain: &BTreeMap<String, Vec<String>>,
) -> Vec<(Loaded, Diagnostics)> {
    let dirs: Vec<(&String, &Vec<String>)> = by_domain.iter().collect();
    in_parallel(&dirs, |(dir_name, paths)| {
        let mut loaded = Loaded::default();
        let mut ds = Diagnostics::new();
        load_domain(mesh, dir_name, paths, &mut loaded, &mut ds);
        (loaded, ds)
    })
}

/// Parses one TOML file; a file that is binary or does not parse is recorded as unreadable (in
/// `unreadable`, which the caller merges into the mesh's), so that later checks do not pile
/// errors on top of the real one.
fn parse_file(
    mesh: &Mesh,
    unreadable: &mut BTreeSet<String>,
    path: &str,
    ds: &mut Diagnostics,
) -> Option<doc::Table> {
    if mesh.unreadable.contains(path) || unreadable.contains(path) {
        return None;
    }
    let src = mesh.sources.get(path)?;
    match doc::parse(path, src.text()) {
        Ok(t) => {
            crate::placeholder::check(path, &t, ds);
            Some(t)
        }
        Err(d) => {
            ds.push(*d);
            unreadable.insert(path.to_string());
            None
        }
    }
}

fn load_settings(mesh: &mut Mesh, present: bool, ds: &mut Diagnostics) -> Settings {
    let mut settings = Settings {
        catalog_topic: DEFAULT_CATALOG_TOPIC.to_string(),
        retire_idle_days: DEFAULT_RETIRE_IDLE_DAYS,
        ..Settings::default()
    };
    settings.defaults.file = "mesh.toml".into();
    if !present {
        ds.push(
            Diagnostic::error("missing-file", "mesh.toml", 0..0, "mesh.toml is missing").with_help(
                "every mesh repo has a mesh.toml at its root with at least [mesh] name = \"...\"",
            ),
        );
        return settings;
    }
    let mut unreadable = BTreeSet::new();
    let parsed = parse_file(mesh, &mut unreadable, "mesh.toml", ds);
    mesh.unreadable.extend(unreadable);
    let Some(table) = parsed else {
        return settings;
    };
    let sources = &mut mesh.sources;
    let file = "mesh.toml";
    let text_len = sources.get(file).map_or(0, |s| s.text().len());
    let mut root = Reader::new(file, &table, 0..text_len.min(1), "");

    match root.table("mesh", ds) {
        Some(mut m) => {
            if let Some(n) = m.required_string("name", ds, "\"acme\"") {
                settings.name = n.value;
            }
            if let Some(packs) = m.strings("policy_packs", ds, "[\"baseline\"]") {
                settings.policy_packs = packs;
            }
            if let Some(t) = m.string("catalog_topic", ds, "\"_mesh-catalog\"") {
                if let Some(problem) = topic_name_problem(&t.value) {
                    ds.push(
                        Diagnostic::error(
                            "bad-topic-name",
                            file,
                            t.span.clone(),
                            format!("catalog_topic: {problem}"),
                        )
                        .with_help("use letters, digits, '.', '_' and '-', at most 249 characters"),
                    );
                }
                settings.catalog_topic = t.value;
            }
            if let Some(d) = m.int("retire_idle_days", ds, "7") {
                match u32::try_from(d.value) {
                    Ok(v) => settings.retire_idle_days = v,
                    Err(_) => ds.push(
                        Diagnostic::error(
                            "out-of-range",
                            file,
                            d.span,
                            "`mesh.retire_idle_days` must be zero or more",
                        )
                        .with_help("write a number of days, e.g. retire_idle_days = 7"),
                    ),
                }
            }
            m.finish(ds);
        }
        None if table.get("mesh").is_none() => ds.push(
            Diagnostic::error(
                "missing-field",
                file,
                0..0,
                "mesh.toml has no [mesh] section",
            )
            .with_help("add a [mesh] section with name = \"<your mesh>\""),
        ),
        None => {}
    }

    if let Some(mut defaults) = root.table("defaults", ds) {
        if let Some(topic) = defaults.table("topic", ds) {
            settings.defaults = read_topic_spec(topic, ds);
        }
        defaults.finish(ds);
    }

    if let Some(envs) = root.table("environments", ds) {
        for (key, node) in &envs.table.entries {
            let Kind::Table(t) = &node.kind else {
                ds.push(
                    Diagnostic::error(
                        "wrong-type",
                        file,
                        node.span.clone(),
                        format!("`environments.{}` must be a table", key.name),
                    )
                    .with_help(format!(
                        "write it as an [environments.{}] section",
                        key.name
                    )),
                );
                continue;
            };
            let mut r = Reader::new(
                file,
                t,
                key.span.clone(),
                &format!("environments.{}", key.name),
            );
            let mut env = Environment {
                name: key.name.clone(),
                span: key.span.clone(),
                ..Environment::default()
            };
            env.local = r.bool("local", ds).is_some_and(|b| b.value);
            env.bootstrap_servers =
                r.string("bootstrap_servers", ds, "\"broker-1:9092,broker-2:9092\"");
            env.schema_registry_url =
                r.string("schema_registry_url", ds, "\"https://registry:8081\"");
            if let Some(topic) = r.table("topic", ds) {
                env.topic = read_topic_spec(topic, ds);
            }
            if let Some(reg) = r.table("schema_registry", ds) {
                env.registry_auth = read_http_auth(file, reg, "REGISTRY", ds);
            }
            if let Some(mut connect) = r.table("connect", ds) {
                let url = connect.required_string("url", ds, "\"https://connect:8083\"");
                if let Some(u) = &url
                    && !(u.value.starts_with("http://") || u.value.starts_with("https://"))
                    && !u.value.starts_with("${")
                {
                    ds.push(
                        Diagnostic::error(
                            "bad-value",
                            file,
                            u.span.clone(),
                            format!("the Connect url `{}` is not an http:// or https:// URL", u.value),
                        )
                        .with_help("write the Connect REST API's address, e.g. url = \"https://connect:8083\""),
                    );
                }
                let path = connect.path.clone();
                let auth = read_http_auth(file, connect, "CONNECT", ds);
                if let Some(url) = url {
                    env.connect = Some(ConnectSettings { url, auth, path });
                }
            }
            if let Some(kafka) = r.table("kafka", ds) {
                for (k, v) in &kafka.table.entries {
                    let value = match &v.kind {
                        Kind::Str(s) => s.clone(),
                        Kind::Int(n) => n.to_string(),
                        Kind::Bool(b) => b.to_string(),
                        other => {
                            ds.push(Diagnostic::error("wrong-type", file, v.span.clone(), format!("`{}.{}` must be a string, integer or boolean, not {}", kafka.path, k.name, other.type_name()))
                                .with_help("Kafka client settings are plain values, e.g. \"security.protocol\" = \"SASL_SSL\""));
                            continue;
                        }
                    };
                    env.kafka
                        .insert(k.name.clone(), Spanned::new(value, v.span.clone()));
                }
            }
            r.finish(ds);
            crate::client::check_environment(file, &env, ds);
            settings.environments.insert(env.name.clone(), env);
        }
    }
    root.finish(ds);

    // Secrets: literal values of secret-looking keys are errors outside local environments, and
    // are masked in every rendering of this file.
    if let Some(src) = sources.get_mut(file) {
        secrets::check_mesh_toml(file, &table, &settings, src, ds);
    }
    settings
}

fn read_topic_spec(mut r: Reader<'_>, ds: &mut Diagnostics) -> TopicSpec {
    let mut spec = TopicSpec {
        file: r.file.to_string(),
        ..TopicSpec::default()
    };
    spec.partitions = r.int("partitions", ds, "6");
    if let Some(p) = &spec.partitions
        && !(1..=10_000).contains(&p.value)
    {
        ds.push(
            Diagnostic::error(
                "out-of-range",
                r.file,
                p.span.clone(),
                format!("`{}.partitions` = {} is out of range", r.path, p.value),
            )
            .with_help("partitions must be between 1 and 10000"),
        );
    }
    spec.replication_factor = r.int("replication_factor", ds, "3");
    if let Some(p) = &spec.replication_factor
        && !(1..=32_767).contains(&p.value)
    {
        ds.push(Diagnostic::error("out-of-range", r.file, p.span.clone(), format!("`{}.replication_factor` = {} is out of range", r.path, p.value))
            .with_help("replication_factor must be between 1 and 32767 (and at most the number of brokers)"));
    }
    if let Some(config) = r.table("config", ds) {
        for (k, v) in &config.table.entries {
            let raw = match &v.kind {
                Kind::Str(s) => Raw::Str(s),
                Kind::Int(n) => Raw::Int(*n),
                Kind::Float(f) => Raw::Float(*f),
                Kind::Bool(b) => Raw::Bool(*b),
                other => {
                    ds.push(
                        Diagnostic::error(
                            "wrong-type",
                            r.file,
                            v.span.clone(),
                            format!(
                                "topic config `{}` must be a string, integer or boolean, not {}",
                                k.name,
                                other.type_name()
                            ),
                        )
                        .with_help(format!("write it like: \"{}\" = \"value\"", k.name)),
                    );
                    continue;
                }
            };
            match config::normalise(&k.name, raw) {
                Ok(value) => {
                    check_config_value(r.file, &k.name, &value, v.span.clone(), ds);
                    spec.config.insert(
                        k.name.clone(),
                        ConfigEntry {
                            value,
                            span: v.span.clone(),
                        },
                    );
                }
                Err(e) => ds.push(
                    Diagnostic::error("bad-config-value", r.file, v.span.clone(), e.message)
                        .with_help(e.help),
                ),
            }
            if !KNOWN_TOPIC_CONFIGS.contains(&k.name.as_str()) {
                let mut d = Diagnostic::warning(
                    "unknown-topic-config",
                    r.file,
                    k.span.clone(),
                    format!("`{}` is not a topic config Kafka knows", k.name),
                );
                d = match did_you_mean(&k.name, KNOWN_TOPIC_CONFIGS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`? The broker rejects unknown topic configs")),
                    None => d.with_help("check the name against Kafka's topic configuration reference; the broker rejects unknown topic configs"),
                };
                ds.push(d);
            }
        }
    }
    r.finish(ds);
    spec
}

/// Value checks for the configs whose legal values are few and whose mistakes are common.
fn check_config_value(
    file: &str,
    key: &str,
    value: &str,
    span: Range<usize>,
    ds: &mut Diagnostics,
) {
    let problem = match key {
        "cleanup.policy" => {
            let ok = value
                .split(',')
                .map(str::trim)
                .all(|p| p == "delete" || p == "compact");
            (!ok).then_some((
                "`cleanup.policy` must be \"delete\", \"compact\" or \"compact,delete\"",
                "choose one of: delete, compact, compact,delete",
            ))
        }
        "min.insync.replicas" => {
            let ok = value.parse::<i64>().is_ok_and(|n| n >= 1);
            (!ok).then_some((
                "`min.insync.replicas` must be a whole number of at least 1",
                "e.g. \"min.insync.replicas\" = 2",
            ))
        }
        "unclean.leader.election.enable" | "preallocate" | "remote.storage.enable" => {
            let ok = value == "true" || value == "false";
            (!ok).then_some(("this config is a boolean", "write true or false"))
        }
        _ => None,
    };
    if let Some((message, help)) = problem {
        ds.push(Diagnostic::error("bad-config-value", file, span, message).with_help(help));
    }
}

/// Why a topic name is illegal in Kafka, if it is.
pub fn topic_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a legal topic name"));
    }
    if name.len() > 249 {
        return Some(format!(
            "the topic name is {} characters long; Kafka allows at most 249",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "the topic name `{name}` contains `{c}`; Kafka allows only ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    None
}

fn load_domain(
    mesh: &Mesh,
    dir_name: &str,
    paths: &[String],
    out: &mut Loaded,
    ds: &mut Diagnostics,
) {
    let dir = format!("domains/{dir_name}");
    let domain_file = format!("{dir}/domain.toml");
    let mut product_files = Vec::new();
    let mut connector_files = Vec::new();
    for path in paths {
        let rest = &path[dir.len() + 1..];
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["domain.toml"] => {}
            ["products", f] if f.ends_with(".toml") => product_files.push(path.clone()),
            ["connectors", f] if f.ends_with(".toml") => connector_files.push(path.clone()),
            ["schemas", ..] => {}
            ["policies", f] if f.ends_with(".toml") => {}
            _ => ds.push(
                Diagnostic::warning("ignored-file", path, 0..0, format!("{path} is not a file mesh reads and is ignored"))
                    .with_help(format!("products go in {dir}/products/<name>.toml, connectors in {dir}/connectors/<name>.toml, schemas under {dir}/schemas/, rules in {dir}/policies/*.toml")),
            ),
        }
    }
    if !mesh.sources.contains_key(&domain_file) {
        out.unreadable_products
            .extend(product_stems(dir_name, &product_files));
        let anchor = paths.first().cloned().unwrap_or_else(|| dir.clone());
        ds.push(
            Diagnostic::error(
                "missing-file",
                &anchor,
                0..0,
                format!("domain folder {dir} has no domain.toml"),
            )
            .with_help(format!(
                "create {domain_file} with name = \"{dir_name}\" and owners = [\"@org/team\"]"
            )),
        );
        return;
    }
    let Some(table) = parse_file(mesh, &mut out.unreadable, &domain_file, ds) else {
        out.unreadable_products
            .extend(product_stems(dir_name, &product_files));
        return;
    };
    let mut domain = Domain {
        name: dir_name.to_string(),
        file: domain_file.clone(),
        dir: dir.clone(),
        ..Domain::default()
    };
    let mut r = Reader::new(&domain_file, &table, 0..0, "");
    if let Some(n) = r.required_string("name", ds, &format!("\"{dir_name}\"")) {
        if !is_valid_name(&n.value) {
            ds.push(
                Diagnostic::error(
                    "bad-name",
                    &domain_file,
                    n.span.clone(),
                    format!("`{}` is not a legal domain name", n.value),
                )
                .with_help(NAME_HELP),
            );
        } else if n.value != dir_name {
            ds.push(
                Diagnostic::error(
                    "name-mismatch",
                    &domain_file,
                    n.span.clone(),
                    format!(
                        "domain name `{}` does not match its folder `{dir}`",
                        n.value
                    ),
                )
                .with_help(format!(
                    "rename the folder to domains/{} or set name = \"{dir_name}\"",
                    n.value
                )),
            );
        }
    }
    if !is_valid_name(dir_name) {
        ds.push(
            Diagnostic::error(
                "bad-name",
                &domain_file,
                0..0,
                format!("domain folder `{dir_name}` is not a legal domain name"),
            )
            .with_help(NAME_HELP),
        );
    }
    domain.description = r
        .string("description", ds, "\"what the domain does\"")
        .map(|s| s.value)
        .unwrap_or_default();
    domain.owners = read_owners(&mut r, true, ds).unwrap_or_default();
    domain.contacts = read_contacts(&mut r, ds).unwrap_or_default();
    if let Some(principals) = r.table("principals", ds) {
        for (k, v) in &principals.table.entries {
            let (p, p_span) = match &v.kind {
                Kind::Str(p) => (p.clone(), v.span.clone()),
                Kind::Table(t) => {
                    let path = format!("principals.{}", k.name);
                    let mut pr = Reader::new(&domain_file, t, v.span.clone(), &path);
                    let spec = read_principal_spec(&mut pr, ds);
                    let principal = pr.required_string("principal", ds, "\"User:sales-enricher\"");
                    pr.finish(ds);
                    let Some(principal) = principal else { continue };
                    if let Some(spec) = spec {
                        domain.principal_specs.insert(k.name.clone(), spec);
                    }
                    (principal.value, principal.span)
                }
                _ => {
                    ds.push(
                        Diagnostic::error(
                            "wrong-type",
                            &domain_file,
                            v.span.clone(),
                            format!(
                                "principal `{}` must be a string like \"User:{}\", or a table",
                                k.name, k.name
                            ),
                        )
                        .with_help(format!(
                            "principals are Kafka principals: \"User:<name>\"; an application \
                             with more to declare is a table: {{ principal = \"User:{}\", kind = \
                             \"streams\", application_id = \"…\" }}",
                            k.name
                        )),
                    );
                    continue;
                }
            };
            let p = &p;
            if !is_valid_name(&k.name) {
                ds.push(
                    Diagnostic::error(
                        "bad-name",
                        &domain_file,
                        k.span.clone(),
                        format!("`{}` is not a legal principal short name", k.name),
                    )
                    .with_help(NAME_HELP),
                );
            }
            if !is_kafka_principal(p) {
                ds.push(
                    Diagnostic::error(
                        "bad-principal",
                        &domain_file,
                        p_span.clone(),
                        format!("`{p}` is not a Kafka principal"),
                    )
                    .with_help("write it as <type>:<name>, e.g. \"User:sales-order-service\""),
                );
            }
            domain
                .principals
                .insert(k.name.clone(), Spanned::new(p.clone(), p_span));
        }
    }
    for mut c in r.tables("consumes", ds) {
        let product = c.required_string("product", ds, "\"marketing.campaigns\"");
        let principal = c.required_string("principal", ds, "\"revenue-job\"");
        // A Streams application's group is its application id: `group` may be left out.
        let streams_group = principal
            .as_ref()
            .and_then(|p| domain.principal_specs.get(&p.value))
            .and_then(|spec| spec.application_id.clone());
        let group = match &streams_group {
            Some(app) => match c.string("group", ds, "\"sales.revenue-job\"") {
                Some(g) if g.value != app.value => {
                    ds.push(
                        Diagnostic::error(
                            "bad-group",
                            &domain_file,
                            g.span.clone(),
                            format!(
                                "the consumer group of a streams principal is its application_id `{}`, not `{}`",
                                app.value, g.value
                            ),
                        )
                        .with_help(format!(
                            "remove `group` (it defaults to \"{}\"), or change the principal's application_id",
                            app.value
                        )),
                    );
                    None
                }
                Some(g) => Some(g),
                None => Some(Spanned::new(app.value.clone(), c.span.clone())),
            },
            None => c.required_string("group", ds, "\"sales.revenue-job\""),
        };
        let purpose = c
            .string("purpose", ds, "\"why this domain reads it\"")
            .map(|s| s.value);
        if let Some(g) = &group {
            let body = g.value.strip_suffix('*').unwrap_or(&g.value);
            if body.is_empty() || body.contains('*') {
                ds.push(Diagnostic::error("bad-group", &domain_file, g.span.clone(), format!("consumer group `{}` is not valid", g.value))
                    .with_help("name a group, or a prefix ending in a single trailing '*' (e.g. \"sales.revenue-*\")"));
            }
        }
        let span = c.span.clone();
        c.finish(ds);
        if let (Some(product), Some(principal), Some(group)) = (product, principal, group) {
            domain.consumes.push(Consume {
                product,
                principal,
                group,
                purpose,
                span,
            });
        }
    }
    r.finish(ds);

    product_files.sort();
    for path in product_files {
        if let Some(p) = load_product(mesh, out, &domain, &path, ds) {
            out.products.push(p);
        }
    }
    connector_files.sort();
    for path in connector_files {
        if let Some(table) = parse_file(mesh, &mut out.unreadable, &path, ds)
            && let Some(c) = crate::connector::read(&domain, &path, &table, ds)
        {
            out.connectors.push(c);
        }
    }
    out.domain = Some(domain);
}

/// The ids products in these files would most likely have (the file stem; a `name` field may
/// differ), for files that could not be read.
fn product_stems(domain: &str, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            format!(
                "{domain}.{}",
                p.rsplit('/').next().unwrap_or(p).trim_end_matches(".toml")
            )
        })
        .collect()
}

fn is_kafka_principal(p: &str) -> bool {
    match p.split_once(':') {
        Some((kind, name)) => {
            !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric()) && !name.is_empty()
        }
        None => false,
    }
}

fn read_owners(r: &mut Reader<'_>, required: bool, ds: &mut Diagnostics) -> Option<Vec<String>> {
    if required && r.table.get("owners").is_none() {
        ds.push(r.missing("owners", "[\"@org/team\"]"));
    }
    let node_span = r.table.get("owners").map(|n| n.span.clone());
    let owners = r.strings("owners", ds, "[\"@org/team\"]")?;
    if owners.is_empty() {
        ds.push(
            Diagnostic::error(
                "missing-field",
                r.file,
                node_span.unwrap_or(0..0),
                "`owners` is empty",
            )
            .with_help("name at least one owning team, e.g. owners = [\"@org/team\"]"),
        );
    }
    for o in &owners {
        if o.value.trim().is_empty() {
            ds.push(
                Diagnostic::error(
                    "bad-owner",
                    r.file,
                    o.span.clone(),
                    "an owner is an empty string",
                )
                .with_help("write a team handle like \"@org/team\""),
            );
        }
    }
    Some(owners.into_iter().map(|o| o.value).collect())
}

/// An HTTP service's credentials and TLS files (`[environments.<env>.schema_registry]`,
/// `[environments.<env>.connect]`): basic auth or a bearer token, a CA, a client certificate.
/// `var` names the service in the examples of the hints (`${REGISTRY_USER}`).
fn read_http_auth(file: &str, mut t: Reader<'_>, var: &str, ds: &mut Diagnostics) -> RegistryAuth {
    let auth = RegistryAuth {
        username: t.string("username", ds, &format!("\"${{{var}_USER}}\"")),
        password: t.string("password", ds, &format!("\"${{{var}_PASSWORD}}\"")),
        token: t.string("token", ds, &format!("\"${{{var}_TOKEN}}\"")),
        ca_file: t.string("ca_file", ds, "\"certs/ca.pem\""),
        cert_file: t.string("cert_file", ds, &format!("\"${{{var}_CERT_FILE}}\"")),
        key_file: t.string("key_file", ds, &format!("\"${{{var}_KEY_FILE}}\"")),
    };
    if auth.token.is_some() && (auth.username.is_some() || auth.password.is_some()) {
        ds.push(
            Diagnostic::error(
                "conflicting-auth",
                file,
                t.span.clone(),
                format!("[{}] sets both a token and a username/password", t.path),
            )
            .with_help("use basic auth (username and password) or a bearer token, not both"),
        );
    } else if auth.username.is_some() != auth.password.is_some() {
        ds.push(
            Diagnostic::error(
                "missing-field",
                file,
                t.span.clone(),
                format!(
                    "[{}] needs both username and password for basic auth",
                    t.path
                ),
            )
            .with_help("add the missing one (as a ${VAR} reference), or use token = \"${VAR}\""),
        );
    }
    if auth.cert_file.is_some() != auth.key_file.is_some() {
        let span = auth
            .cert_file
            .as_ref()
            .or(auth.key_file.as_ref())
            .map(|s| s.span.clone())
            .unwrap_or_default();
        ds.push(
            Diagnostic::error(
                "missing-field",
                file,
                span,
                format!(
                    "[{}] needs both cert_file and key_file for a client certificate",
                    t.path
                ),
            )
            .with_help(format!(
                "add the missing one, e.g. key_file = \"${{{var}_KEY_FILE}}\""
            )),
        );
    }
    t.finish(ds);
    auth
}

/// The kind-specific keys of a principal written as a table (`kind`, `application_id`,
/// `transactional_id`), checked against each other. `None` when they contradict each other.
fn read_principal_spec(r: &mut Reader<'_>, ds: &mut Diagnostics) -> Option<PrincipalSpec> {
    let kind_node = r.node("kind").map(|n| n.span.clone());
    let kind = choice(
        r,
        "kind",
        PrincipalKind::ALL,
        PrincipalKind::parse,
        false,
        ds,
    );
    let application_id = r.string("application_id", ds, "\"sales.enricher\"");
    let transactional_id = r.string("transactional_id", ds, "\"sales.payments-*\"");
    let kind = match (kind, kind_node) {
        (Some(k), _) => k,
        // A bad `kind` was reported; don't pile up more about the rest.
        (None, Some(_)) => return None,
        (None, None) => PrincipalKind::Client,
    };
    let mut ok = true;
    match (kind, &application_id) {
        (PrincipalKind::Streams, None) => {
            ds.push(r.missing("application_id", "\"sales.enricher\""));
            ok = false;
        }
        (PrincipalKind::Streams, Some(app)) => {
            if !is_application_id(&app.value) {
                ds.push(
                    Diagnostic::error(
                        "bad-application-id",
                        r.file,
                        app.span.clone(),
                        format!("application_id `{}` is not a valid Kafka Streams application id", app.value),
                    )
                    .with_help("use letters, digits, '.', '_' and '-' only (it prefixes topic names), e.g. \"sales.enricher\""),
                );
                ok = false;
            }
            if let Some(t) = &transactional_id {
                ds.push(
                    Diagnostic::error(
                        "bad-transactional-id",
                        r.file,
                        t.span.clone(),
                        "a streams principal's transactional ids are its application_id followed by '-'; it declares none of its own",
                    )
                    .with_help(format!("remove transactional_id: `{}-*` is derived", app.value)),
                );
                ok = false;
            }
        }
        (PrincipalKind::Client, Some(app)) => {
            ds.push(
                Diagnostic::error(
                    "bad-application-id",
                    r.file,
                    app.span.clone(),
                    "application_id is for Kafka Streams applications",
                )
                .with_help("add kind = \"streams\", or remove application_id"),
            );
            ok = false;
        }
        (PrincipalKind::Client, None) => {}
    }
    if let Some(t) = &transactional_id {
        let body = t.value.strip_suffix('*').unwrap_or(&t.value);
        if body.is_empty() || body.contains('*') || body.chars().any(char::is_whitespace) {
            ds.push(
                Diagnostic::error(
                    "bad-transactional-id",
                    r.file,
                    t.span.clone(),
                    format!("transactional id `{}` is not valid", t.value),
                )
                .with_help("name a transactional id, or a prefix ending in a single trailing '*' (e.g. \"sales.payments-*\")"),
            );
            ok = false;
        }
    }
    ok.then_some(PrincipalSpec {
        kind,
        application_id,
        transactional_id,
    })
}

/// Kafka Streams' rule for `application.id` (it becomes part of topic names): letters,
/// digits, '.', '_' and '-', at most 200 characters here (topic names stop at 249).
fn is_application_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `contacts`: links a reader can follow to reach the owners. Only `mailto:`, `https://` and
/// `http://` are accepted, so a catalog can render each as a link without guessing.
fn read_contacts(r: &mut Reader<'_>, ds: &mut Diagnostics) -> Option<Vec<String>> {
    let contacts = r.strings("contacts", ds, CONTACTS_EXAMPLE)?;
    let mut ok = Vec::with_capacity(contacts.len());
    for c in contacts {
        if is_contact_link(&c.value) {
            ok.push(c.value);
        } else {
            ds.push(
                Diagnostic::error(
                    "bad-contact",
                    r.file,
                    c.span.clone(),
                    format!("contact `{}` is not a link", c.value),
                )
                .with_help(if c.value.contains('@') && !c.value.contains(':') {
                    format!("did you mean \"mailto:{}\"?", c.value.trim())
                } else {
                    format!(
                        "write a mailto:, https:// or http:// link, e.g. contacts = {CONTACTS_EXAMPLE}"
                    )
                }),
            );
        }
    }
    Some(ok)
}

const CONTACTS_EXAMPLE: &str =
    "[\"mailto:team@example.com\", \"https://chat.example.com/channels/team\"]";

fn is_contact_link(s: &str) -> bool {
    let rest = ["mailto:", "https://", "http://"]
        .iter()
        .find_map(|scheme| s.strip_prefix(scheme));
    rest.is_some_and(|r| !r.is_empty() && !r.chars().any(|c| c.is_whitespace() || c.is_control()))
}

fn choice<T>(
    r: &mut Reader<'_>,
    key: &'static str,
    all: &[&str],
    parse: fn(&str) -> Option<T>,
    required: bool,
    ds: &mut Diagnostics,
) -> Option<T> {
    let example = format!("\"{}\"", all[0]);
    let s = if required {
        r.required_string(key, ds, &example)?
    } else {
        r.string(key, ds, &example)?
    };
    match parse(&s.value) {
        Some(v) => Some(v),
        // Reported once, as a placeholder, not again as a bad value.
        None if crate::placeholder::is_placeholder(&s.value) => None,
        None => {
            let mut d = Diagnostic::error(
                "bad-value",
                r.file,
                s.span.clone(),
                format!(
                    "`{key}` = \"{}\" is not one of: {}",
                    s.value,
                    all.join(", ")
                ),
            );
            d = match did_you_mean(&s.value, all.iter().copied()) {
                Some(m) => d.with_help(format!("did you mean \"{m}\"?")),
                None => d.with_help(format!("choose one of: {}", all.join(", "))),
            };
            ds.push(d);
            None
        }
    }
}

fn load_product(
    mesh: &Mesh,
    out: &mut Loaded,
    domain: &Domain,
    path: &str,
    ds: &mut Diagnostics,
) -> Option<Product> {
    let Some(table) = parse_file(mesh, &mut out.unreadable, path, ds) else {
        out.unreadable_products
            .extend(product_stems(&domain.name, &[path.to_string()]));
        return None;
    };
    let errors_before = ds.error_count();
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".toml")
        .to_string();
    let mut r = Reader::new(path, &table, 0..0, "");
    let name = match r.string("name", ds, &format!("\"{stem}\"")) {
        Some(n) => {
            if !is_valid_name(&n.value) {
                ds.push(
                    Diagnostic::error(
                        "bad-name",
                        path,
                        n.span.clone(),
                        format!("`{}` is not a legal product name", n.value),
                    )
                    .with_help(NAME_HELP),
                );
            }
            n.value
        }
        None => {
            if !is_valid_name(&stem) {
                ds.push(Diagnostic::error("bad-name", path, 0..0, format!("the file name `{stem}` is not a legal product name, and no `name` is set"))
                    .with_help(format!("rename the file or set name = \"...\"; {NAME_HELP}")));
            }
            stem
        }
    };
    let id = format!("{}.{}", domain.name, name);
    let mut p = Product {
        id: id.clone(),
        domain: domain.name.clone(),
        name,
        file: path.to_string(),
        ..Product::default()
    };
    p.description = r
        .required_string(
            "description",
            ds,
            "\"what this product holds, in one sentence\"",
        )
        .map(|s| s.value)
        .unwrap_or_default();
    p.owners = read_owners(&mut r, false, ds).unwrap_or_else(|| domain.owners.clone());
    p.contacts = read_contacts(&mut r, ds).unwrap_or_else(|| domain.contacts.clone());
    p.quality =
        choice(&mut r, "quality", Quality::ALL, Quality::parse, true, ds).unwrap_or_default();
    p.sla = choice(&mut r, "sla", Sla::ALL, Sla::parse, true, ds).unwrap_or_default();
    p.tags = r
        .strings("tags", ds, "[\"pii\"]")
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.value)
        .collect();
    p.status = choice(&mut r, "status", Status::ALL, Status::parse, false, ds).unwrap_or_default();
    p.inputs = r
        .strings("inputs", ds, "[\"marketing.campaigns\"]")
        .unwrap_or_default();
    p.producers = r
        .strings("producers", ds, "[\"order-service\"]")
        .unwrap_or_default();

    let own_topic = r.table("topic", ds);
    let topic_name = own_topic
        .as_ref()
        .and_then(|t| t.table.get("name"))
        .and_then(|n| match &n.kind {
            Kind::Str(s) => Some(Spanned::new(s.clone(), n.span.clone())),
            _ => None,
        });
    let own_spec = own_topic
        .map(|mut t| {
            t.string("name", ds, "\"sales.orders\"");
            read_topic_spec(t, ds)
        })
        .unwrap_or_else(|| TopicSpec {
            file: path.to_string(),
            ..TopicSpec::default()
        });

    let mut env_specs: BTreeMap<String, (Range<usize>, TopicSpec)> = BTreeMap::new();
    if let Some(envs) = r.table("environments", ds) {
        for (k, v) in &envs.table.entries {
            let Kind::Table(t) = &v.kind else {
                ds.push(
                    Diagnostic::error(
                        "wrong-type",
                        path,
                        v.span.clone(),
                        format!("`environments.{}` must be a table", k.name),
                    )
                    .with_help(format!(
                        "write it as an [environments.{}.topic] section",
                        k.name
                    )),
                );
                continue;
            };
            let mut er = Reader::new(path, t, k.span.clone(), &format!("environments.{}", k.name));
            if let Some(topic) = er.table("topic", ds) {
                env_specs.insert(k.name.clone(), (k.span.clone(), read_topic_spec(topic, ds)));
            }
            er.finish(ds);
            if !mesh.settings.environments.contains_key(&k.name) {
                let mut d = Diagnostic::error(
                    "unknown-environment",
                    path,
                    k.span.clone(),
                    format!("environment `{}` is not declared in mesh.toml", k.name),
                );
                d = match did_you_mean(&k.name, mesh.settings.environments.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("declare it under [environments.<name>] in mesh.toml, or remove this override"),
                };
                ds.push(d);
            }
        }
    }

    p.topic = resolve_topic(
        mesh,
        &id,
        path,
        topic_name,
        &own_spec,
        env_specs
            .get(mesh.env.as_deref().unwrap_or(""))
            .map(|(_, s)| s),
        ds,
    );

    if let Some(mut s) = r.table("schema", ds) {
        let span = s.span.clone();
        let value = read_schema_ref(&mut s, "value", domain, ds);
        let key = read_schema_ref(&mut s, "key", domain, ds);
        let compatibility = choice(
            &mut s,
            "compatibility",
            Compatibility::ALL,
            Compatibility::parse,
            false,
            ds,
        )
        .unwrap_or_default();
        if s.table.get("value").is_none() && s.table.get("key").is_none() {
            ds.push(Diagnostic::error("missing-field", path, span.clone(), "[schema] names no schema file")
                .with_help("add value = \"schemas/<name>-value.avsc\" (and key = ... if the key has a schema), or remove [schema]"));
        }
        s.finish(ds);
        p.schema = Some(SchemaSpec {
            value,
            key,
            compatibility,
            span,
        });
    }

    if let Some(mut a) = r.table("access", ds) {
        p.access.span = a.span.clone();
        p.access.visibility = choice(
            &mut a,
            "visibility",
            Visibility::ALL,
            Visibility::parse,
            false,
            ds,
        )
        .unwrap_or_default();
        p.access.allow_domains = a
            .strings("allow_domains", ds, "[\"finance\"]")
            .unwrap_or_default();
        if p.access.visibility != Visibility::Restricted && !p.access.allow_domains.is_empty() {
            ds.push(Diagnostic::warning("unused-field", path, p.access.allow_domains[0].span.clone(), format!("`allow_domains` has no effect on a {} product", p.access.visibility))
                .with_help("set visibility = \"restricted\" to limit consumers to these domains, or remove allow_domains"));
        }
        a.finish(ds);
    }

    if let Some(mut d) = r.table("deprecation", ds) {
        let span = d.span.clone();
        let since = d.required_date("since", ds);
        let sunset = d.required_date("sunset", ds);
        let replacement = d.string("replacement", ds, "\"sales.orders-v2\"");
        let reason = d
            .string("reason", ds, "\"why consumers should move\"")
            .map(|s| s.value);
        if let (Some(a), Some(b)) = (&since, &sunset)
            && b.value <= a.value
        {
            ds.push(Diagnostic::error("bad-deprecation", path, b.span.clone(), format!("sunset {} is not after since {}", b.value, a.value))
                .with_help("the sunset date is when the product may be retired; it must come after the deprecation date"));
        }
        d.finish(ds);
        p.deprecation = Some(Deprecation {
            since: since.map(|s| s.value),
            sunset: sunset.map(|s| s.value),
            replacement,
            reason,
            span,
        });
    }
    match (p.status, &p.deprecation) {
        (Status::Deprecated, None) => ds.push(
            Diagnostic::error("missing-field", path, table.key("status").map_or(0..0, |k| k.span.clone()), "a deprecated product needs a [deprecation] section")
                .with_help("add [deprecation] with since = <date>, sunset = <date>, replacement = \"<product id>\" and reason = \"...\""),
        ),
        (Status::Active, Some(d)) => ds.push(
            Diagnostic::warning("unused-field", path, d.span.clone(), "[deprecation] is set but status is \"active\"")
                .with_help("set status = \"deprecated\" to deprecate the product, or remove [deprecation]"),
        ),
        _ => {}
    }
    r.finish(ds);
    p.complete = ds.error_count() == errors_before;
    Some(p)
}

impl Reader<'_> {
    fn required_date(
        &mut self,
        key: &'static str,
        ds: &mut Diagnostics,
    ) -> Option<Spanned<doc::Date>> {
        if self.table.get(key).is_none() {
            self.node(key);
            ds.push(self.missing(key, "2027-01-31"));
            return None;
        }
        self.date(key, ds)
    }
}

fn read_schema_ref(
    s: &mut Reader<'_>,
    which: &'static str,
    domain: &Domain,
    ds: &mut Diagnostics,
) -> Option<SchemaRef> {
    let path = s.string(which, ds, "\"schemas/orders-value.avsc\"")?;
    let Some(format) = SchemaFormat::from_path(&path.value) else {
        ds.push(
            Diagnostic::error(
                "bad-schema-type",
                s.file,
                path.span.clone(),
                format!(
                    "`schema.{which}` = \"{}\": the schema type is not known from its extension",
                    path.value
                ),
            )
            .with_help("use .avsc (Avro), .json (JSON Schema) or .proto (Protobuf)"),
        );
        return None;
    };
    let rel = path.value.trim_start_matches("./");
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        ds.push(
            Diagnostic::error(
                "bad-schema-path",
                s.file,
                path.span.clone(),
                format!(
                    "`schema.{which}` = \"{}\" leaves the domain folder",
                    path.value
                ),
            )
            .with_help(format!(
                "schema paths are relative to {} and stay inside it, e.g. \"schemas/x.avsc\"",
                domain.dir
            )),
        );
        return None;
    }
    let file = format!("{}/{rel}", domain.dir);
    Some(SchemaRef { path, file, format })
}

/// Applies the resolution chain: mesh defaults, the product's `[topic]`, the environment's topic
/// overrides, the product's own overrides for that environment.
fn resolve_topic(
    mesh: &Mesh,
    id: &str,
    path: &str,
    name: Option<Spanned<String>>,
    own: &TopicSpec,
    own_env: Option<&TopicSpec>,
    ds: &mut Diagnostics,
) -> ResolvedTopic {
    let env = mesh.environment().map(|e| &e.topic);
    let chain: Vec<&TopicSpec> = [Some(&mesh.settings.defaults), Some(own), env, own_env]
        .into_iter()
        .flatten()
        .collect();
    let last = |f: fn(&TopicSpec) -> Option<&Spanned<i64>>| {
        chain.iter().rev().find_map(|s| f(s).map(|v| (v.value, s)))
    };
    let partitions = last(|s| s.partitions.as_ref());
    let rf = last(|s| s.replication_factor.as_ref());
    // Without a readable mesh.toml the defaults are unknown; its own error says so.
    let settings_known = !mesh.unreadable.contains("mesh.toml");
    if partitions.is_none() && settings_known {
        ds.push(Diagnostic::error("missing-field", path, 0..0, format!("{id}: no partition count is set"))
            .with_help("set [topic] partitions = N in the product, or [defaults.topic] partitions = N in mesh.toml"));
    }
    if rf.is_none() && settings_known {
        ds.push(Diagnostic::error("missing-field", path, 0..0, format!("{id}: no replication factor is set"))
            .with_help("set [topic] replication_factor = N in the product, or [defaults.topic] replication_factor = N in mesh.toml"));
    }
    // Later levels win (FromIterator keeps the last of equal keys).
    let config: crate::SmallMap<String> = chain
        .iter()
        .flat_map(|spec| spec.config.iter())
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let (name, name_span) = match name {
        Some(n) => (n.value, n.span),
        None => (id.to_string(), 0..0),
    };
    if let Some(problem) = topic_name_problem(&name) {
        ds.push(
            Diagnostic::error("bad-topic-name", path, name_span.clone(), problem).with_help(
                "topic names use ASCII letters, digits, '.', '_' and '-', at most 249 characters",
            ),
        );
    } else if name.contains('.') && name.contains('_') {
        ds.push(Diagnostic::warning("topic-name-collision", path, name_span.clone(), format!("topic `{name}` mixes '.' and '_'"))
            .with_help("Kafka maps '.' to '_' in metric names, so such names can collide; use one or the other"));
    }
    let rf_value = rf.map_or(1, |(v, _)| v);
    if let Some(isr) = config
        .get("min.insync.replicas")
        .and_then(|v| v.parse::<i64>().ok())
        && let Some((_, spec)) = rf
        && isr > rf_value
    {
        let span = spec
            .replication_factor
            .as_ref()
            .map_or(0..0, |v| v.span.clone());
        ds.push(Diagnostic::warning("min-isr-above-replication", &spec.file, span, format!("{id}: min.insync.replicas {isr} is above replication_factor {rf_value}{}", mesh.env.as_ref().map(|e| format!(" in environment `{e}`")).unwrap_or_default()))
            .with_help("producers with acks=all would always fail; lower min.insync.replicas or raise replication_factor"));
    }
    ResolvedTopic {
        name,
        partitions: partitions.map_or(1, |(v, _)| v),
        replication_factor: rf_value,
        config,
        name_span,
    }
}
