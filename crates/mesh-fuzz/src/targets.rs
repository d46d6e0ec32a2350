//! The fuzz targets: one `fn(&[u8]) -> u64` per kind of input mesh reads, each driving the real
//! code path from the bytes to everything that consumes them, and returning a fingerprint of
//! what it saw (diagnostic codes, plan shape) that the harness uses to keep interesting inputs.
//!
//! The repo targets put the bytes in place of one file of `mesh-repo-example/` and run the whole
//! check (`mesh_check::validate`), render every diagnostic the way the CLI does, and plan the
//! mesh when it is valid. The cluster targets put what they decode into the example's live state
//! (the example as if applied) and plan, compute impacts and drift against it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use mesh_check::Report;
use mesh_model::doc::Date;
use mesh_plan::registry::{Compatibility, LiveSubject, RegisteredSchema, RegistryReader};
use mesh_plan::{ConfigSource, DesiredState, GroupActivity, LiveConfig, LiveState, LiveTopic};

use crate::Target;
use crate::mutate::Kind;

/// Every target, in the order a run goes through them.
pub const ALL: &[Target] = &[
    Target {
        name: "mesh-toml",
        about: "mesh.toml of the example repo, whole check and plan",
        kind: Kind::Toml,
        seeds: seeds_mesh_toml,
        run: mesh_toml,
    },
    Target {
        name: "domain-toml",
        about: "a domain.toml of the example repo, whole check and plan",
        kind: Kind::Toml,
        seeds: seeds_domain_toml,
        run: domain_toml,
    },
    Target {
        name: "product-toml",
        about: "a product file of the example repo, whole check and plan",
        kind: Kind::Toml,
        seeds: seeds_product_toml,
        run: product_toml,
    },
    Target {
        name: "policy-toml",
        about: "a domain's policy file (rules with CEL, exemptions), whole check",
        kind: Kind::Toml,
        seeds: seeds_policy_toml,
        run: policy_toml,
    },
    Target {
        name: "cel",
        about: "a CEL expression as a product rule and a change rule, whole check and change rules on a plan",
        kind: Kind::Text,
        seeds: seeds_cel,
        run: cel,
    },
    Target {
        name: "avro",
        about: "an Avro schema file: check, normal form, diff, field tree, local compatibility both ways",
        kind: Kind::Json,
        seeds: seeds_avro,
        run: avro,
    },
    Target {
        name: "json-schema",
        about: "a JSON Schema file: check, normal form, diff, field tree",
        kind: Kind::Json,
        seeds: seeds_json_schema,
        run: json_schema,
    },
    Target {
        name: "protobuf",
        about: "a Protobuf schema file: check, normal form, diff, field tree",
        kind: Kind::Text,
        seeds: seeds_protobuf,
        run: protobuf,
    },
    Target {
        name: "saved-plan",
        about: "a saved plan file: load, staleness check, the changes policies see",
        kind: Kind::Json,
        seeds: seeds_saved_plan,
        run: saved_plan,
    },
    Target {
        name: "catalog-record",
        about: "a catalog record read back from Kafka, for a declared and a retired product: plan, impacts, drift",
        kind: Kind::Json,
        seeds: seeds_catalog_record,
        run: catalog_record,
    },
    Target {
        name: "lock-records",
        about: "records of the apply-lock topic (one `timestamp json` a line): decode and replay",
        kind: Kind::Text,
        seeds: seeds_lock_records,
        run: lock_records,
    },
    Target {
        name: "consumer-offsets",
        about: "__consumer_offsets records (framed key/value pairs): commit times, then a retirement's plan",
        kind: Kind::Binary,
        seeds: seeds_consumer_offsets,
        run: consumer_offsets,
    },
    Target {
        name: "registry-answer",
        about: "a Schema Registry answer body, through every parser; a schema answer planned against",
        kind: Kind::Json,
        seeds: seeds_registry_answer,
        run: registry_answer,
    },
    Target {
        name: "connect-answer",
        about: "a Kafka Connect answer body, through every parser; a connector listing planned against",
        kind: Kind::Json,
        seeds: seeds_connect_answer,
        run: connect_answer,
    },
    Target {
        name: "registry-schema",
        about: "a schema text as the registry holds it (latest and history of a subject): plan, gate, drift",
        kind: Kind::Json,
        seeds: seeds_registry_schema,
        run: registry_schema,
    },
    Target {
        name: "live-state",
        about: "a whole live state as JSON: plan, impacts, drift, fingerprint",
        kind: Kind::Json,
        seeds: seeds_live_state,
        run: live_state,
    },
];

/// Looks a target up by name.
pub fn by_name(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}

// ---------------------------------------------------------------------------------------------
// The fixture: the example repo, checked, desired and applied.
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// "Now" for every plan: fixed, so runs are reproducible.
pub const NOW_MS: i64 = 1_795_000_000_000;

fn today() -> Date {
    Date {
        year: 2026,
        month: 11,
        day: 22,
    }
}

/// The example repo's files, by repo-relative path.
pub fn example_files() -> BTreeMap<String, Vec<u8>> {
    let dir = root().join("mesh-repo-example");
    mesh_repo::from_dir(&dir)
        .unwrap_or_else(|e| panic!("the example repo must be readable: {e}"))
        .files
}

struct Fixture {
    files: BTreeMap<String, Vec<u8>>,
    report: Report,
    desired: DesiredState,
    live: LiveState,
    fingerprint: mesh_plan::saved::Fingerprint,
}

impl Fixture {
    fn new() -> Self {
        let files = example_files();
        let report = mesh_check::validate(&files, Some("local"), today());
        assert!(!report.has_errors(), "the example repo must be valid");
        let desired = mesh_plan::desired(&report.mesh, None);
        let live = applied(&desired);
        let fingerprint = mesh_plan::saved::fingerprint(&live);
        Fixture {
            files,
            report,
            desired,
            live,
            fingerprint,
        }
    }
}

thread_local! {
    // Per thread: the checked mesh holds compiled CEL programs, which are not `Sync`.
    static FIXTURE: RefCell<Option<std::rc::Rc<Fixture>>> = const { RefCell::new(None) };
}

fn fixture() -> std::rc::Rc<Fixture> {
    FIXTURE.with(|f| {
        f.borrow_mut()
            .get_or_insert_with(|| std::rc::Rc::new(Fixture::new()))
            .clone()
    })
}

/// The live state of a cluster the desired state was applied to, with one consumer group on
/// every topic that committed a day before [`NOW_MS`].
pub fn applied(desired: &DesiredState) -> LiveState {
    let mut d = desired.clone();
    mesh_plan::drift::record_applied(&mut d);
    LiveState {
        brokers: 3,
        topics: d
            .topics
            .values()
            .map(|t| {
                let configs = t
                    .config
                    .iter()
                    .map(|(k, v)| {
                        let c = LiveConfig {
                            value: Some(v.clone()),
                            source: ConfigSource::DynamicTopic,
                        };
                        (k.clone(), c)
                    })
                    .collect();
                let topic = LiveTopic {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs,
                };
                (t.name.clone(), topic)
            })
            .collect(),
        acls: d.acls.clone(),
        catalog_topic_exists: true,
        connectors: Some(
            d.connectors
                .values()
                .map(|c| {
                    let live = mesh_plan::connect::LiveConnector {
                        config: c.config.clone(),
                        state: "RUNNING".into(),
                        kind: if c.sink { "sink" } else { "source" }.into(),
                        failed_tasks: 0,
                    };
                    (c.name.clone(), live)
                })
                .collect(),
        ),
        catalog: d.catalog.clone(),
        subjects: d
            .subjects
            .values()
            .map(|s| {
                let v1 = RegisteredSchema {
                    version: 1,
                    id: 1,
                    schema_type: s.schema_type.clone(),
                    schema: s.schema.to_string(),
                };
                let live = LiveSubject {
                    latest: Some(v1.clone()),
                    history: vec![v1],
                    compatibility: Some(s.compatibility.clone()),
                    soft_deleted: false,
                };
                (s.subject.clone(), live)
            })
            .collect(),
        groups: d
            .topics
            .keys()
            .map(|t| {
                let g = GroupActivity {
                    group: format!("{t}.reader"),
                    state: "Empty".into(),
                    members: 0,
                    last_commit_ms: Some(NOW_MS - 86_400_000),
                    never_committed: false,
                };
                (t.clone(), vec![g])
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds: the example repo and the bad-input suite.
// ---------------------------------------------------------------------------------------------

/// Every file of the example and of each `tests/bad-input/*/repo` whose path passes `keep`.
fn repo_seeds(keep: fn(&str) -> bool) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = example_files()
        .into_iter()
        .filter(|(p, _)| keep(p))
        .map(|(_, b)| b)
        .collect();
    let cases = root().join("tests/bad-input");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .map(|it| {
            it.filter_map(|e| Some(e.ok()?.path().join("repo")))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs {
        if let Ok(files) = mesh_repo::from_dir(&dir) {
            out.extend(
                files
                    .files
                    .into_iter()
                    .filter(|(p, _)| keep(p))
                    .map(|(_, b)| b),
            );
        }
    }
    out.sort();
    out.dedup();
    out
}

fn seeds_mesh_toml() -> Vec<Vec<u8>> {
    repo_seeds(|p| p == "mesh.toml")
}
fn seeds_domain_toml() -> Vec<Vec<u8>> {
    repo_seeds(|p| p.ends_with("/domain.toml"))
}
fn seeds_product_toml() -> Vec<Vec<u8>> {
    repo_seeds(|p| p.contains("/products/"))
}
fn seeds_policy_toml() -> Vec<Vec<u8>> {
    let mut s = repo_seeds(|p| p.contains("policies/"));
    if let Ok(pack) = std::fs::read(root().join("policies/baseline.toml")) {
        s.push(pack);
    }
    s
}
fn seeds_avro() -> Vec<Vec<u8>> {
    repo_seeds(|p| p.ends_with(".avsc"))
}
fn seeds_json_schema() -> Vec<Vec<u8>> {
    repo_seeds(|p| p.contains("/schemas/") && p.ends_with(".json"))
}
fn seeds_protobuf() -> Vec<Vec<u8>> {
    repo_seeds(|p| p.ends_with(".proto"))
}

/// The `check` and `when` expressions of every rule in the seeds of the policy target.
fn seeds_cel() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for file in seeds_policy_toml() {
        let Ok(text) = String::from_utf8(file) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let rules = doc.get("rule").and_then(|r| r.as_array());
        for rule in rules.into_iter().flatten() {
            for key in ["check", "when"] {
                if let Some(e) = rule.get(key).and_then(|e| e.as_str()) {
                    out.push(e.as_bytes().to_vec());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------------------------------------
// Shared drivers.
// ---------------------------------------------------------------------------------------------

/// A deterministic hash (SipHash with fixed keys).
fn hash_of(f: impl FnOnce(&mut std::hash::DefaultHasher)) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    f(&mut h);
    h.finish()
}

/// The example repo with `path` replaced by `data`, checked for an environment chosen by the
/// input (none, local or prod); renders the diagnostics and plans a valid mesh.
fn repo_with(path: &str, data: &[u8]) -> u64 {
    let fx = fixture();
    let mut files = fx.files.clone();
    files.insert(path.to_string(), data.to_vec());
    check_and_plan(&files, crate::fnv(data))
}

fn check_and_plan(files: &BTreeMap<String, Vec<u8>>, choice: u64) -> u64 {
    let env = [None, Some("local"), Some("prod")][(choice % 3) as usize];
    let mut report = mesh_check::validate(files, env, today());
    // `--base`: the change against the example as the pull request's target.
    let fx = fixture();
    // Transitive levels compare with the history: the base's own text stands for it.
    let history = |file: &str| mesh_check::SchemaHistory {
        versions: fx
            .report
            .mesh
            .sources
            .get(file)
            .map(|s| {
                vec![(
                    "the version of commit 0000000".to_string(),
                    s.text().to_string(),
                )]
            })
            .unwrap_or_default(),
        incomplete: None,
    };
    mesh_check::against_base(&mut report, &fx.report.mesh, "main", &history);
    render(&report);
    let mut behaviour = hash_of(|h| {
        for d in &report.diagnostics {
            d.code.hash(h);
        }
    });
    if !report.has_errors() {
        // `graph`, `impact` and `codeowners`.
        let l = &report.lineage;
        let _ = (l.to_dot(), l.to_mermaid(), l.to_json());
        let _ = mesh_graph::codeowners(&report.mesh);
        for p in &report.mesh.products {
            let _ = l.impact(&p.id);
        }
        // `mesh export`: every format; OpenLineage's lines are JSON.
        let _ = mesh_export::odcs(&report.mesh);
        let _ = mesh_export::backstage(&report.mesh);
        if let Ok(files) = mesh_export::openlineage(&report.mesh, "1970-01-01T00:00:00Z") {
            for (_, text) in files {
                for line in text.lines() {
                    assert!(
                        serde_json::from_str::<serde_json::Value>(line).is_ok(),
                        "an OpenLineage line is not JSON: {line}"
                    );
                }
            }
        }
    }
    if !report.has_errors() && env.is_some() {
        let desired = mesh_plan::desired(&report.mesh, Some("fuzz"));
        // Against the example as applied: every changed value becomes an action.
        behaviour ^= plan_against(&desired, &fx.live, NOW_MS, false);
    }
    behaviour
}

/// Renders every diagnostic as `mesh validate` does (codespan-reporting over the redacted
/// texts, spans clamped to the text): a span that is not on a character boundary panics here
/// as it would in the CLI.
fn render(report: &Report) {
    use codespan_reporting::diagnostic::{Diagnostic as Shown, Label};
    use codespan_reporting::files::SimpleFiles;
    use codespan_reporting::term::{self, termcolor::NoColor};

    let mut files = SimpleFiles::new();
    let mut ids = BTreeMap::new();
    let mut id_of = |path: &str, files: &mut SimpleFiles<String, String>| -> usize {
        *ids.entry(path.to_string()).or_insert_with(|| {
            let text = report
                .source(path)
                .map(|s| s.redacted_text())
                .unwrap_or_default();
            files.add(path.to_string(), text)
        })
    };
    let clamp = |span: &std::ops::Range<usize>, len: usize| {
        let start = span.start.min(len);
        start..span.end.clamp(start, len)
    };
    let config = term::Config::default();
    let mut out = NoColor::new(Vec::new());
    for d in &report.diagnostics {
        // The JSON output's line and column.
        if let Some(src) = report.source(&d.file) {
            let _ = src.line_col(d.span.start);
        }
        let file = id_of(&d.file, &mut files);
        let len = files.get(file).map_or(0, |f| f.source().len());
        let mut labels = vec![Label::primary(file, clamp(&d.span, len))];
        for r in &d.related {
            let rf = id_of(&r.file, &mut files);
            let len = files.get(rf).map_or(0, |f| f.source().len());
            labels.push(Label::secondary(rf, clamp(&r.span, len)).with_message(r.message.clone()));
        }
        let shown = Shown::error()
            .with_code(d.code.clone())
            .with_message(d.message.clone())
            .with_labels(labels);
        term::emit_to_write_style(&mut out, &config, &files, &shown)
            .unwrap_or_else(|e| panic!("rendering {:?} failed: {e}", d.code));
    }
    // The JSON output serialises every diagnostic.
    serde_json::to_string(&report.diagnostics).expect("diagnostics serialise");
}

/// A registry that answers every compatibility question with `verdict`.
struct Verdict(Compatibility);

impl RegistryReader for Verdict {
    fn read_subjects(
        &self,
        _subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, mesh_plan::AdapterError> {
        Ok(BTreeMap::new())
    }
    fn check_compatibility(
        &self,
        _subject: &str,
        _schema_type: &str,
        _schema: &str,
        _level: Option<&str>,
    ) -> Result<Compatibility, mesh_plan::AdapterError> {
        Ok(self.0.clone())
    }
}

/// Everything `plan`, `apply FILE` and (when `full`) `drift` compute from a desired and a live
/// state.
fn plan_against(desired: &DesiredState, live: &LiveState, now_ms: i64, full: bool) -> u64 {
    let fx = fixture();
    let mut plan = mesh_plan::plan_at(desired, live, now_ms);
    let impacts = mesh_plan::impacts(&plan, desired, live, now_ms);
    let activity = mesh_plan::activity_topics(&plan, desired, live);
    let verdict = Verdict(Compatibility {
        compatible: false,
        messages: vec!["fuzz".into()],
    });
    if let Ok(errors) = mesh_plan::plan::registry_gate(&plan, desired, &verdict) {
        plan.errors.extend(errors);
    }
    let changes = change_subjects(&plan, desired, live);
    let found = mesh_policy::evaluate_changes(&fx.report.mesh, &fx.report.policies, &changes);
    // Drift and the saved-plan fingerprint read the catalog and every live resource: run for
    // the targets that change those (they are a third of the time).
    let (drift, principals, stale) = if full {
        let fp = mesh_plan::saved::fingerprint(live);
        (
            mesh_plan::drift::drift(&live.catalog, live),
            mesh_plan::drift::managed_principals(&live.catalog),
            mesh_plan::saved::changes(&fx.fingerprint, &fp),
        )
    } else {
        Default::default()
    };
    let (create, change, destroy) = plan.counts();
    for a in &plan.actions {
        let _ = (a.effect(), a.product());
    }
    for i in plan.impacts.iter().chain(&impacts) {
        i.groups.iter().for_each(|g| drop(g.describe()));
    }
    for e in &plan.errors {
        e.blockers.iter().for_each(|b| drop(b.describe()));
    }
    for d in &plan.deprecations {
        drop(d.describe());
    }
    serde_json::to_string(&plan).expect("a plan serialises");
    hash_of(|h| {
        (create, change, destroy, plan.errors.len(), impacts.len()).hash(h);
        (
            activity.len(),
            found.len(),
            drift.drift.len(),
            principals.len(),
        )
            .hash(h);
        (drift.unrecorded.len(), stale.len()).hash(h);
        for a in &plan.actions {
            std::mem::discriminant(a).hash(h);
        }
    })
}

/// The change subjects `mesh plan` evaluates `change` rules on (as the CLI builds them).
fn change_subjects(
    plan: &mesh_plan::Plan,
    desired: &DesiredState,
    live: &LiveState,
) -> Vec<mesh_policy::ChangeSubject> {
    let fx = fixture();
    mesh_plan::changes::planned_changes(plan, desired, live)
        .into_iter()
        .map(|c| mesh_policy::ChangeSubject {
            product_view: fx
                .report
                .mesh
                .product(&c.product)
                .is_none()
                .then(|| live.catalog.get(&c.product))
                .flatten()
                .map(|r| mesh_workflow::retired_view(r, live)),
            kind: c.kind.to_string(),
            resource: c.resource.to_string(),
            product: c.product,
            before: c.before,
            after: c.after,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Repo files.
// ---------------------------------------------------------------------------------------------

pub fn mesh_toml(data: &[u8]) -> u64 {
    repo_with("mesh.toml", data)
}

pub fn domain_toml(data: &[u8]) -> u64 {
    repo_with("domains/sales/domain.toml", data)
}

pub fn product_toml(data: &[u8]) -> u64 {
    repo_with("domains/sales/products/orders.toml", data)
}

pub fn policy_toml(data: &[u8]) -> u64 {
    repo_with("domains/customers/policies/privacy.toml", data)
}

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn cel(data: &[u8]) -> u64 {
    let expr = String::from_utf8_lossy(data);
    let e = toml_string(&expr);
    let rules = format!(
        "[[rule]]\nid = \"fuzz.product\"\napplies_to = \"product\"\nwhen = {e}\ncheck = {e}\nseverity = \"warning\"\nmessage = \"{{product.id}}\"\n\n\
         [[rule]]\nid = \"fuzz.domain\"\napplies_to = \"domain\"\ncheck = {e}\nseverity = \"warning\"\nmessage = \"{{domain.name}}\"\n\n\
         [[rule]]\nid = \"fuzz.change\"\napplies_to = \"change\"\ncheck = {e}\nseverity = \"error\"\nmessage = \"{{change.product.id}}\"\n"
    );
    let fx = fixture();
    let mut files = fx.files.clone();
    files.insert(
        "domains/customers/policies/fuzz.toml".into(),
        rules.into_bytes(),
    );
    let report = mesh_check::validate(&files, Some("local"), today());
    render(&report);
    let mut behaviour = hash_of(|h| {
        for d in &report.diagnostics {
            d.code.hash(h);
            d.message.len().hash(h);
        }
    });
    if !report.has_errors() {
        // The change rule over the plan of creating everything.
        let empty = LiveState::default();
        let plan = mesh_plan::plan_at(&fx.desired, &empty, NOW_MS);
        let changes = change_subjects(&plan, &fx.desired, &empty);
        let found = mesh_policy::evaluate_changes(&report.mesh, &report.policies, &changes);
        behaviour ^= found.len() as u64;
    }
    behaviour
}

// ---------------------------------------------------------------------------------------------
// Schema files.
// ---------------------------------------------------------------------------------------------

const LEVELS: &[&str] = &[
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
];

/// The example schema an input is compared with (chosen by the input, among the files of its
/// format).
fn original_of(data: &[u8], ext: &str) -> String {
    let fx = fixture();
    let same: Vec<&Vec<u8>> = fx
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(ext) && p.contains("/schemas/"))
        .map(|(_, b)| b)
        .collect();
    let pick = same[(crate::fnv(data) % same.len() as u64) as usize];
    String::from_utf8_lossy(pick).into_owned()
}

fn schema_common(data: &[u8], format: mesh_schema::Format, ext: &str) -> (String, String, u64) {
    let text = String::from_utf8_lossy(data).into_owned();
    let original = original_of(data, ext);
    let ds = mesh_schema::check(&format!("domains/x/schemas/fuzz{ext}"), &text, format);
    for d in &ds {
        // The CLI renders the span in this text.
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "span {:?} outside a text of {} bytes",
            d.span,
            text.len()
        );
    }
    let normal = mesh_schema::compat::normalise(&text, format);
    mesh_schema::compat::normalise(&normal, format);
    mesh_schema::diff::unified(&original, &text, "before", "after");
    // The field tree (catalog site, exports): every path extends its parent's.
    let tree = mesh_schema::fields(format, &text);
    if let Ok(fields) = &tree {
        fn walk(fields: &[mesh_schema::Field], parent: &str) -> usize {
            fields
                .iter()
                .map(|f| {
                    let expected = if parent.is_empty() {
                        f.name.clone()
                    } else {
                        format!("{parent}.{}", f.name)
                    };
                    assert_eq!(f.path, expected, "a field's path");
                    1 + walk(&f.children, &f.path)
                })
                .sum()
        }
        let n = walk(fields, "");
        assert!(
            n <= mesh_schema::fields::MAX_FIELDS + mesh_schema::fields::MAX_DEPTH,
            "{n} fields"
        );
    }
    let behaviour = hash_of(|h| {
        for d in &ds {
            d.code.hash(h);
            d.message.hash(h);
        }
        tree.as_ref().map(Vec::len).hash(h);
    });
    (text, original, behaviour)
}

pub fn avro(data: &[u8]) -> u64 {
    let (text, original, mut behaviour) = schema_common(data, mesh_schema::Format::Avro, ".avsc");
    // The quick path of the check (mesh_schema::avro_fast) accepts nothing the thorough check
    // (the name rules, apache-avro's parser) rejects.
    if mesh_schema::avro_fast::surely_valid(&text) {
        let thorough = mesh_schema::check_avro_thoroughly("domains/x/schemas/fuzz.avsc", &text);
        assert!(
            thorough.is_empty(),
            "the quick Avro check accepted a schema the thorough check rejects: {thorough:?}"
        );
    }
    let level = LEVELS[(crate::fnv(data) % LEVELS.len() as u64) as usize];
    use mesh_schema::compat::Earlier;
    let earlier = |label, text| Earlier { label, text };
    let forward = mesh_schema::compat::check_avro(&text, &[earlier("v1", &original)], level);
    let backward = mesh_schema::compat::check_avro(
        &original,
        &[earlier("v1", &text), earlier("v2", &original)],
        level,
    );
    behaviour ^= hash_of(|h| (forward.is_ok(), backward.is_ok()).hash(h));
    behaviour
}

pub fn json_schema(data: &[u8]) -> u64 {
    schema_common(data, mesh_schema::Format::Json, ".json").2
}

pub fn protobuf(data: &[u8]) -> u64 {
    schema_common(data, mesh_schema::Format::Protobuf, ".proto").2
}

// ---------------------------------------------------------------------------------------------
// Saved plans.
// ---------------------------------------------------------------------------------------------

fn seeds_saved_plan() -> Vec<Vec<u8>> {
    let fx = fixture();
    let mut out = Vec::new();
    for live in [LiveState::default(), retiring_live()] {
        let plan = mesh_plan::plan_at(&fx.desired, &live, NOW_MS);
        let saved = mesh_plan::saved::SavedPlan {
            format: mesh_plan::saved::FORMAT.into(),
            version: mesh_plan::saved::VERSION,
            mesh_version: "0.1.0".into(),
            environment: "local".into(),
            bootstrap_servers: "127.0.0.1:19092".into(),
            repo: mesh_plan::saved::RepoStamp {
                revision: Some("0123abcd".into()),
                content_sha256: mesh_plan::saved::content_hash(
                    fx.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())),
                ),
            },
            created_at: "2026-11-22T11:40:03Z".into(),
            read: mesh_plan::saved::SavedRead::default(),
            actions: plan.actions,
            fingerprint: mesh_plan::saved::fingerprint(&live),
        };
        out.push(saved.to_json().into_bytes());
    }
    out
}

pub fn saved_plan(data: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(data);
    let saved = match mesh_plan::saved::SavedPlan::from_json(&text) {
        Ok(s) => s,
        Err(e) => return hash_of(|h| std::mem::discriminant(&e).hash(h)),
    };
    let fx = fixture();
    let again = mesh_plan::saved::SavedPlan::from_json(&saved.to_json());
    assert_eq!(
        again.as_ref().ok(),
        Some(&saved),
        "a loaded plan round-trips"
    );
    let stale = mesh_plan::saved::changes(&saved.fingerprint, &fx.fingerprint);
    let plan = mesh_plan::Plan {
        actions: saved.actions,
        ..Default::default()
    };
    let changes = change_subjects(&plan, &fx.desired, &fx.live);
    let found = mesh_policy::evaluate_changes(&fx.report.mesh, &fx.report.policies, &changes);
    let (c, u, d) = plan.counts();
    for a in &plan.actions {
        let _ = (a.effect(), a.product());
    }
    hash_of(|h| {
        (stale.len(), found.len(), c, u, d).hash(h);
        for a in &plan.actions {
            std::mem::discriminant(a).hash(h);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// What mesh reads back from the cluster.
// ---------------------------------------------------------------------------------------------

/// The example applied, plus a product no longer in the repo (a retirement candidate) whose
/// topic a group committed on.
fn retiring_live() -> LiveState {
    let fx = fixture();
    let mut live = fx.live.clone();
    let mut record = fx.live.catalog["sales.orders"].clone();
    record.product = "sales.legacy-feed".into();
    record.topic = "sales.legacy-feed".into();
    live.topics.insert(
        record.topic.clone(),
        LiveTopic {
            name: record.topic.clone(),
            partitions: 3,
            replication_factor: 3,
            configs: Default::default(),
        },
    );
    live.groups.insert(
        record.topic.clone(),
        vec![GroupActivity {
            group: "finance.audit".into(),
            state: "Empty".into(),
            members: 0,
            last_commit_ms: Some(NOW_MS - 30 * 86_400_000),
            never_committed: false,
        }],
    );
    live.catalog.insert(record.product.clone(), record);
    live
}

fn seeds_catalog_record() -> Vec<Vec<u8>> {
    let live = retiring_live();
    live.catalog
        .values()
        .map(|r| serde_json::to_vec_pretty(r).expect("a record serialises"))
        .collect()
}

pub fn catalog_record(data: &[u8]) -> u64 {
    let fx = fixture();
    let record = match mesh_plan::CatalogRecord::decode(Some(b"sales.orders"), Some(data)) {
        Ok((_, Some(r))) => r,
        Ok((_, None)) => return 1,
        Err(e) => return crate::fnv(e.as_bytes()) & 0xff,
    };
    let mut behaviour = 0;
    // As the record of a declared product…
    let mut live = fx.live.clone();
    live.catalog.insert("sales.orders".into(), record.clone());
    behaviour ^= plan_against(&fx.desired, &live, NOW_MS, true);
    // …and of one the repo no longer declares (a retirement), under its own key.
    let mut live = retiring_live();
    live.catalog.insert(record.product.clone(), record.clone());
    live.catalog.insert("sales.legacy-feed".into(), record);
    behaviour ^= plan_against(&fx.desired, &live, NOW_MS, true).rotate_left(1);
    behaviour
}

fn seeds_lock_records() -> Vec<Vec<u8>> {
    use mesh_plan::lock::{Claim, LockEvent};
    let claim = |id: &str, lease_ms| {
        LockEvent::Claim(Claim {
            id: id.into(),
            who: "ci@runner".into(),
            pid: 4242,
            command: "mesh apply plan.json".into(),
            ci_run: Some("https://ci.example/run/1".into()),
            lease_ms,
        })
    };
    let line = |ts: i64, e: &LockEvent| format!("{ts} {}\n", serde_json::to_string(e).unwrap());
    let a = [
        line(1000, &claim("a", 60_000)),
        line(2000, &LockEvent::Heartbeat { id: "a".into() }),
        line(3000, &claim("b", 60_000)),
        line(
            4000,
            &LockEvent::Release {
                id: "a".into(),
                forced_by: None,
            },
        ),
        line(5000, &claim("b", 1)),
    ]
    .concat();
    let b = [
        line(NOW_MS, &claim("x", i64::MAX)),
        line(
            NOW_MS + 1,
            &LockEvent::Release {
                id: "x".into(),
                forced_by: Some("admin".into()),
            },
        ),
    ]
    .concat();
    vec![a.into_bytes(), b.into_bytes()]
}

/// Each line: the broker timestamp (ms), a space, the record's value.
pub fn lock_records(data: &[u8]) -> u64 {
    let mut records = Vec::new();
    for (offset, line) in data.split(|&b| b == b'\n').enumerate() {
        let (ts, value) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let timestamp_ms = std::str::from_utf8(ts)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if let Some(event) = mesh_plan::lock::LockEvent::decode(value) {
            records.push(mesh_plan::lock::LockRecord {
                offset: offset as i64,
                timestamp_ms,
                event,
            });
        }
    }
    let holder = mesh_plan::lock::replay(&records);
    let mut behaviour = records.len() as u64;
    if let Some(h) = holder {
        behaviour ^= hash_of(|hh| (h.offset, h.claim.lease_ms > 0).hash(hh));
        let _ = mesh_plan::lifecycle::rfc3339(h.since_ms);
        let _ = mesh_plan::lifecycle::rfc3339(h.expires_ms());
        let _ = mesh_plan::lifecycle::rfc3339(h.last_seen_ms);
    }
    behaviour
}

/// One record: u16 key length, key, i32 value length (-1: null), value.
fn frame(key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let mut out = (key.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(key);
    match value {
        Some(v) => {
            out.extend_from_slice(&(v.len() as i32).to_be_bytes());
            out.extend_from_slice(v);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    out
}

fn unframe(data: &[u8]) -> Vec<(&[u8], Option<&[u8]>)> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let klen = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let key = &rest[..klen.min(rest.len())];
        rest = &rest[key.len()..];
        if rest.len() < 4 {
            out.push((key, None));
            break;
        }
        let vlen = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        rest = &rest[4..];
        let value = usize::try_from(vlen).ok().map(|n| {
            let v = &rest[..n.min(rest.len())];
            rest = &rest[v.len()..];
            v
        });
        out.push((key, value));
    }
    out
}

fn offsets_key(version: i16, group: &str, topic: &str, partition: i32) -> Vec<u8> {
    let mut k = version.to_be_bytes().to_vec();
    for s in [group, topic] {
        k.extend_from_slice(&(s.len() as i16).to_be_bytes());
        k.extend_from_slice(s.as_bytes());
    }
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

fn offsets_value(version: i16, commit_ms: i64) -> Vec<u8> {
    let mut v = version.to_be_bytes().to_vec();
    v.extend_from_slice(&42i64.to_be_bytes());
    if version >= 3 {
        v.extend_from_slice(&7i32.to_be_bytes());
    }
    if version == 4 {
        v.push(1 + 4);
        v.extend_from_slice(b"meta");
    } else {
        v.extend_from_slice(&4i16.to_be_bytes());
        v.extend_from_slice(b"meta");
    }
    v.extend_from_slice(&commit_ms.to_be_bytes());
    if version == 1 {
        v.extend_from_slice(&(commit_ms + 1).to_be_bytes());
    }
    if version == 4 {
        v.push(0);
    }
    v
}

fn seeds_consumer_offsets() -> Vec<Vec<u8>> {
    let topic = "sales.legacy-feed";
    let mut out = Vec::new();
    for version in 0..=4i16 {
        let mut s = frame(
            &offsets_key(version.min(1), "finance.audit", topic, 0),
            Some(&offsets_value(version, NOW_MS - 10 * 86_400_000)),
        );
        s.extend(frame(
            &offsets_key(1, "finance.audit", topic, 1),
            Some(&offsets_value(version, NOW_MS - 86_400_000)),
        ));
        s.extend(frame(&offsets_key(0, "ops.replay", topic, 2), None));
        s.extend(frame(&[0, 2, 0, 3, b'g', b'r', b'p'], Some(&[0, 3])));
        out.push(s);
    }
    out
}

pub fn consumer_offsets(data: &[u8]) -> u64 {
    let records = unframe(data);
    let mut groups = BTreeSet::new();
    let mut topics = BTreeSet::new();
    let mut shapes = Vec::new();
    for (key, value) in &records {
        match mesh_kafka::decode_key(key) {
            Some(mesh_kafka::OffsetsKey::Commit { group, topic, .. }) => {
                let _ = mesh_kafka::partition_for(&group, 50);
                groups.insert(group);
                topics.insert(topic);
                shapes.push(0u8);
            }
            Some(mesh_kafka::OffsetsKey::Other) => shapes.push(1),
            None => shapes.push(2),
        }
        shapes.push(match value.map(mesh_kafka::decode_commit_time) {
            None => 3,
            Some(None) => 4,
            Some(Some(_)) => 5,
        });
    }
    let times = mesh_kafka::last_commits(records.iter().copied(), &groups, &topics);
    // The groups as `group_activity` reports them, on the retired topic.
    let mut live = retiring_live();
    let activity: Vec<GroupActivity> = times
        .iter()
        .map(|((group, _), last)| GroupActivity {
            group: group.clone(),
            state: "Empty".into(),
            members: 0,
            last_commit_ms: *last,
            never_committed: false,
        })
        .collect();
    let found = crate::fnv(&shapes);
    live.groups.insert("sales.legacy-feed".into(), activity);
    let fx = fixture();
    found ^ plan_against(&fx.desired, &live, NOW_MS, false)
}

fn seeds_registry_answer() -> Vec<Vec<u8>> {
    let fx = fixture();
    let mut out: Vec<Vec<u8>> = [
        r#"["sales.orders-value", "sales.orders-key"]"#,
        "[1, 2, 3]",
        r#"{"compatibilityLevel": "BACKWARD"}"#,
        r#"{"compatibility": "FULL_TRANSITIVE"}"#,
        r#"{"is_compatible": false, "messages": ["READER_FIELD_MISSING_DEFAULT_VALUE"]}"#,
        r#"{"is_compatible": false, "reason": "Causes: c at /fields/1"}"#,
        r#"{"is_compatible": true}"#,
        r#"{"id": 7}"#,
        r#"{"error_code": 40401, "message": "Subject 'x' not found."}"#,
        "<html><body>502 Bad Gateway</body></html>",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    for s in fx.desired.subjects.values() {
        let mut reply = serde_json::json!({
            "subject": s.subject, "id": 3, "version": 2, "schema": s.schema,
        });
        if s.schema_type != "AVRO" {
            reply["schemaType"] = s.schema_type.clone().into();
        }
        out.push(serde_json::to_vec(&reply).expect("JSON"));
    }
    out
}

pub fn registry_answer(data: &[u8]) -> u64 {
    use mesh_registry::reply;
    let mut behaviour = hash_of(|h| {
        reply::subjects(data).is_ok().hash(h);
        reply::versions(data).is_ok().hash(h);
        reply::level(data).is_ok().hash(h);
        reply::registered_id(data).is_ok().hash(h);
        reply::listed_schemas(data).map(|l| l.len()).ok().hash(h);
        reply::failure(data).0.hash(h);
    });
    let fx = fixture();
    if let Ok(verdict) = reply::compatibility(data) {
        let plan = mesh_plan::plan_at(&fx.desired, &LiveState::default(), NOW_MS);
        let gate = mesh_plan::plan::registry_gate(&plan, &fx.desired, &Verdict(verdict));
        behaviour ^= gate.map_or(0, |e| e.len() as u64 + 1);
    }
    if let Ok(schema) = reply::schema(data) {
        // The answer as the latest version of the subject of the same type.
        let mut live = fx.live.clone();
        let subject = fx
            .desired
            .subjects
            .values()
            .find(|s| s.schema_type == schema.schema_type)
            .map_or_else(|| "sales.orders-value".to_string(), |s| s.subject.clone());
        let level = reply::level(data).ok().flatten();
        live.subjects.insert(
            subject,
            LiveSubject {
                history: vec![schema.clone()],
                latest: Some(schema),
                compatibility: level,
                soft_deleted: false,
            },
        );
        behaviour ^= plan_against(&fx.desired, &live, NOW_MS, true);
    }
    behaviour
}

fn seeds_connect_answer() -> Vec<Vec<u8>> {
    [
        r#"{"orders-sink": {"info": {"name": "orders-sink", "config": {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "tasks.max": "1", "topics": "sales.orders", "file": "/tmp/o.txt"}, "tasks": [{"connector": "orders-sink", "task": 0}], "type": "sink"}, "status": {"name": "orders-sink", "connector": {"state": "RUNNING", "worker_id": "w:8083"}, "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:8083", "trace": "x"}], "type": "sink"}}}"#,
        r#"{"name": "org.apache.kafka.connect.file.FileStreamSinkConnector", "error_count": 1, "groups": ["Common"], "configs": [{"definition": {"name": "topics"}, "value": {"name": "topics", "value": "", "recommended_values": [], "errors": ["Must configure one of topics or topics.regex"], "visible": true}}]}"#,
        r#"{"error_code": 409, "message": "Cannot complete request momentarily due to stale configuration"}"#,
        "{}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// A Connect answer through every parser; a connector listing becomes the live connectors
/// (recorded in the catalog as the example's), then planned against.
pub fn connect_answer(data: &[u8]) -> u64 {
    use mesh_connect::reply;
    let mut behaviour = hash_of(|h| {
        reply::validation(data).map(|p| p.len()).ok().hash(h);
        reply::failure_message(data).len().hash(h);
    });
    if let Ok(connectors) = reply::connectors(data) {
        let fx = fixture();
        let mut live = fx.live.clone();
        behaviour ^= connectors.len() as u64;
        live.connectors = Some(connectors);
        behaviour ^= plan_against(&fx.desired, &live, NOW_MS, true);
    }
    behaviour
}

fn seeds_registry_schema() -> Vec<Vec<u8>> {
    let mut s = seeds_avro();
    s.extend(seeds_json_schema());
    s.extend(seeds_protobuf());
    s
}

/// The text as the latest version (and the history) of a subject the input picks.
pub fn registry_schema(data: &[u8]) -> u64 {
    let fx = fixture();
    let subjects: Vec<&mesh_plan::DesiredSubject> = fx.desired.subjects.values().collect();
    let subject = subjects[(crate::fnv(data) % subjects.len() as u64) as usize];
    let text = String::from_utf8_lossy(data).into_owned();
    let mut live = fx.live.clone();
    live.subjects.insert(subject.subject.clone(), {
        let version = |version, schema: &str| RegisteredSchema {
            version,
            id: version + 7,
            schema_type: subject.schema_type.clone(),
            schema: schema.to_string(),
        };
        LiveSubject {
            latest: Some(version(2, &text)),
            history: vec![version(1, &subject.schema), version(2, &text)],
            compatibility: Some(subject.compatibility.clone()),
            soft_deleted: (data.len() % 7) == 0,
        }
    });
    plan_against(&fx.desired, &live, NOW_MS, true)
}

fn seeds_live_state() -> Vec<Vec<u8>> {
    [
        fixture().live.clone(),
        retiring_live(),
        LiveState::default(),
    ]
    .iter()
    .map(|l| serde_json::to_vec_pretty(l).expect("a live state serialises"))
    .collect()
}

pub fn live_state(data: &[u8]) -> u64 {
    let live = match serde_json::from_slice::<LiveState>(data) {
        Ok(l) => l,
        // What kind of error (not where), so inputs that get further are kept.
        Err(e) => {
            return crate::fnv(
                e.to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or("")
                    .as_bytes(),
            );
        }
    };
    let fx = fixture();
    plan_against(&fx.desired, &live, NOW_MS, true)
}
