//! `cargo bench -p mesh-check --bench validate`
//!
//! End-to-end cost of `mesh validate` (load, schema checks, policies, lineage graph) on a
//! synthetic mesh of 10,000 products in 100 domains, against a floor of just reading the files
//! and parsing every one of them, one after the other: each TOML file with toml's
//! span-preserving parser, each Avro (`.avsc`) and JSON Schema (`.json`) file into a
//! `serde_json::Value`, each `.proto` file with protox-parse (the parsers mesh uses). Until
//! session 7 the floor parsed only the TOML files; the schema files are files of the mesh too
//! (issue 14: "the floor that only reads and parses the files"). Prints a table; asserts
//! nothing about time (figures go in docs/benchmarks.md). The target is validate + graph under
//! 1 s on a 2-core machine.
//!
//! The synthetic mesh is generated deterministically into a temp dir and must validate with zero
//! errors: a benchmark of an invalid mesh would measure the error paths, not the real work.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use mesh_diagnostics::{Diagnostics, Severity};
use mesh_graph::Lineage;
use mesh_model::doc::Date;
use mesh_model::{Mesh, SchemaFormat};

// ---------------------------------------------------------------------------------------------
// Heap accounting: a counting wrapper around the allocator the binary uses (mimalloc).
// ---------------------------------------------------------------------------------------------

struct Counting;

/// Allocations are counted only while this is set: for the one run whose peak heap is
/// reported, never during the timed runs. Counting costs two atomic updates per allocation on
/// one shared cache line, which both cores fight over; the full run allocates far more often
/// than the floor, so a counter left on made the ratio worse than what the binary pays (2.0 x
/// with it, measured in session 10, against 1.8 x without).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting began (frees of older blocks can take it
/// below zero).
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

impl Counting {
    fn add(n: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            let n = n as isize;
            let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }
    fn sub(n: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            CURRENT.fetch_sub(n as isize, Ordering::Relaxed);
        }
    }
}

/// The allocator the `mesh` binary uses (mimalloc), so the figures are the binary's.
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

// SAFETY: every call is forwarded unchanged to `INNER`; only byte counts are recorded.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            Counting::add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            Counting::add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { INNER.dealloc(ptr, layout) };
        Counting::sub(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            Counting::sub(layout.size());
            Counting::add(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Starts counting allocations, from zero.
fn start_counting() {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
}

/// Stops counting; the most the heap grew above where it was when counting started.
fn stop_counting() -> usize {
    COUNTING.store(false, Ordering::Relaxed);
    PEAK.load(Ordering::Relaxed).max(0) as usize
}

/// `VmHWM` (peak resident set size) from /proc/self/status, in bytes.
fn max_rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

// ---------------------------------------------------------------------------------------------
// The synthetic mesh.
// ---------------------------------------------------------------------------------------------

const DOMAINS: usize = 100;
const PRODUCTS_PER_DOMAIN: usize = 100;
const RUNS: usize = 9;

const AREAS: &[&str] = &[
    "sales",
    "finance",
    "logistics",
    "marketing",
    "customers",
    "inventory",
    "support",
    "pricing",
    "risk",
    "catalog",
];
const NOUNS: &[&str] = &[
    "orders",
    "payments",
    "shipments",
    "profiles",
    "clicks",
    "invoices",
    "tickets",
    "prices",
    "alerts",
    "items",
];

fn domain_name(d: usize) -> String {
    format!("{}-{d:02}", AREAS[d % AREAS.len()])
}

fn product_name(i: usize) -> String {
    format!("{}-{i:02}", NOUNS[i % NOUNS.len()])
}

fn product_id(d: usize, i: usize) -> String {
    format!("{}.{}", domain_name(d), product_name(i))
}

#[derive(Clone, Copy, PartialEq)]
enum Vis {
    Public,
    /// Readable by the next two domains (mod 100).
    Restricted,
    Private,
}

fn visibility(i: usize) -> Vis {
    match i % 10 {
        9 => Vis::Private,
        4 => Vis::Restricted,
        _ => Vis::Public,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Schema {
    Avro,
    Json,
    Proto,
    None,
}

fn schema_kind(i: usize) -> Schema {
    match (i % 10, i % 20) {
        (0..=6, _) => Schema::Avro,
        (7 | 8, _) => Schema::Json,
        (_, 9) => Schema::Proto,
        _ => Schema::None,
    }
}

/// May domain `reader` consume product `i` of domain `owner`?
fn readable(owner: usize, i: usize, reader: usize) -> bool {
    owner == reader
        || match visibility(i) {
            Vis::Public => true,
            Vis::Restricted => reader == (owner + 1) % DOMAINS || reader == (owner + 2) % DOMAINS,
            Vis::Private => false,
        }
}

fn is_deprecated(d: usize, i: usize) -> bool {
    d % 10 == 3 && i == PRODUCTS_PER_DOMAIN - 1
}

fn has_exemption(d: usize, i: usize) -> bool {
    d % 10 == 5 && i == 50
}

const MESH_TOML: &str = r#"# Synthetic mesh for the validate benchmark.
[mesh]
name = "bench"
policy_packs = ["baseline"]
catalog_topic = "_mesh-catalog"
retire_idle_days = 7

[defaults.topic]
partitions = 6
replication_factor = 3

[defaults.topic.config]
"min.insync.replicas" = 2

[environments.local]
local = true
bootstrap_servers = "127.0.0.1:19092"
schema_registry_url = "http://127.0.0.1:18081/apis/ccompat/v7"

[environments.local.topic]
replication_factor = 1

[environments.local.topic.config]
"min.insync.replicas" = 1

[environments.local.kafka]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "PLAIN"
"sasl.username" = "admin"
"sasl.password" = "${MESH_LOCAL_PASSWORD:-admin-secret}"

[environments.prod]
local = false
bootstrap_servers = "kafka-1.prod.acme.internal:9093,kafka-2.prod.acme.internal:9093"
schema_registry_url = "https://schema-registry.prod.acme.internal"

[environments.prod.kafka]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "${MESH_PROD_KAFKA_USERNAME}"
"sasl.password" = "${MESH_PROD_KAFKA_PASSWORD}"
"#;

fn domain_toml(d: usize) -> String {
    let name = domain_name(d);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"# Synthetic domain {d}.
name = "{name}"
description = "Synthetic {area} domain number {d}, owning {PRODUCTS_PER_DOMAIN} data products"
owners = ["@acme/{name}-data", "{name}-oncall@acme.example"]

[principals]
ingest    = "User:{name}-ingest"      # writes the raw products
transform = "User:{name}-transform"   # derives curated products from upstream domains
publisher = "User:{name}-publisher"   # publishes authoritative products
reader    = "User:{name}-reader"      # dashboards and reports
"#,
        area = AREAS[d % AREAS.len()],
    );
    // (owning domain, product, principal, group suffix): across domains, within access rules.
    let consumes = [
        ((d + 1) % DOMAINS, 0, "reader", "reader"),
        ((d + 37) % DOMAINS, 1, "reader", "reader"),
        ((d + DOMAINS - 1) % DOMAINS, 4, "transform", "transform"),
        ((d + DOMAINS - 2) % DOMAINS, 14, "transform", "transform"),
        ((d + 50) % DOMAINS, 2, "reader", "analytics-*"),
        (d, 9, "reader", "reader"),
    ];
    for (owner, i, principal, group) in consumes {
        assert!(readable(owner, i, d) && !is_deprecated(owner, i));
        let _ = write!(
            s,
            r#"
[[consumes]]
product = "{id}"
principal = "{principal}"
group = "{name}.{group}"
purpose = "Join {noun} from {owner_name} into this domain's reports and derived products"
"#,
            id = product_id(owner, i),
            noun = NOUNS[i % NOUNS.len()],
            owner_name = domain_name(owner),
        );
    }
    s
}

fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn product_toml(d: usize, i: usize) -> String {
    let dname = domain_name(d);
    let name = product_name(i);
    let noun = NOUNS[i % NOUNS.len()];
    let schema = schema_kind(i);
    let (quality, sla) = match (i % 10, schema) {
        (_, Schema::None) => ("raw", "tier-3"),
        (0, _) => ("authoritative", "tier-1"),
        (5, _) => ("authoritative", "tier-2"),
        _ => ("curated", "tier-2"),
    };
    let vis = visibility(i);
    let mut tags = vec![AREAS[d % AREAS.len()].to_string(), noun.to_string()];
    if vis != Vis::Public && i % 3 == 0 {
        tags.push("pii".into());
    }
    if i % 7 == 0 {
        tags.push("finance-relevant".into());
    }
    // Lineage: from the previous domain (so chains run 100 domains deep), sometimes also from a
    // lower-numbered product of the same domain; never a cycle.
    let mut inputs = Vec::new();
    if d > 0 {
        let first = if readable(d - 1, i, d) { i } else { i - 1 };
        inputs.push(product_id(d - 1, first));
        let second = (i + 1) % PRODUCTS_PER_DOMAIN;
        if readable(d - 1, second, d) && second != first {
            inputs.push(product_id(d - 1, second));
        }
    }
    if i % 4 == 1 {
        inputs.push(product_id(d, i - 1));
    }
    let producers: &[&str] = match quality {
        "raw" => &["ingest"],
        "authoritative" => &["publisher", "transform"],
        _ => &["transform"],
    };

    let mut s = String::new();
    let _ = writeln!(s, "# Synthetic product {i} of domain {dname}.");
    if i % 2 == 0 {
        let _ = writeln!(s, "name = \"{name}\"");
    }
    let _ = writeln!(
        s,
        "description = \"Every {noun} event of {dname}, one record per change, keyed by {noun} id (product {i})\""
    );
    if i % 10 == 0 {
        let _ = writeln!(s, "owners = [\"@acme/{dname}-{noun}\"]");
    }
    let _ = writeln!(
        s,
        "quality = \"{quality}\"\nsla = \"{sla}\"\ntags = {}",
        quote_list(&tags)
    );
    let _ = writeln!(
        s,
        "status = \"{}\"",
        if is_deprecated(d, i) {
            "deprecated"
        } else {
            "active"
        }
    );
    if !inputs.is_empty() {
        let _ = writeln!(s, "inputs = {}", quote_list(&inputs));
    }
    let producers: Vec<String> = producers.iter().map(|p| p.to_string()).collect();
    let _ = writeln!(s, "producers = {}", quote_list(&producers));

    let partitions = if has_exemption(d, i) {
        32
    } else {
        [3, 6, 12][i % 3]
    };
    let _ = writeln!(s, "\n[topic]\npartitions = {partitions}");
    if quality == "authoritative" {
        let _ = writeln!(s, "replication_factor = 3");
    }
    let _ = writeln!(s, "\n[topic.config]");
    if i % 10 == 3 {
        let _ = writeln!(
            s,
            "\"cleanup.policy\" = \"compact\"\n\"min.compaction.lag.ms\" = \"1h\"\n\"delete.retention.ms\" = \"1d\""
        );
    } else {
        let retention = ["7d", "3d", "30d", "12h", "90d"][i % 5];
        let _ = writeln!(
            s,
            "\"cleanup.policy\" = \"delete\"\n\"retention.ms\" = \"{retention}\"\n\"segment.ms\" = \"12h\""
        );
    }
    if i % 3 == 0 {
        let _ = writeln!(s, "\"max.message.bytes\" = \"2MiB\"");
    }
    if quality == "authoritative" {
        let _ = writeln!(s, "\"min.insync.replicas\" = 2");
    }

    let compatibility = if sla == "tier-1" {
        "BACKWARD_TRANSITIVE"
    } else {
        "BACKWARD"
    };
    match schema {
        Schema::Avro => {
            let _ = writeln!(s, "\n[schema]\nvalue = \"schemas/{name}-value.avsc\"");
            if i % 5 == 0 {
                let _ = writeln!(s, "key = \"schemas/{name}-key.avsc\"");
            }
            let _ = writeln!(s, "compatibility = \"{compatibility}\"");
        }
        Schema::Json => {
            let _ = writeln!(
                s,
                "\n[schema]\nvalue = \"schemas/{name}-value.json\"\ncompatibility = \"{compatibility}\""
            );
        }
        Schema::Proto => {
            let file = name.replace('-', "_");
            let _ = writeln!(
                s,
                "\n[schema]\nvalue = \"schemas/{file}.proto\"\ncompatibility = \"{compatibility}\""
            );
        }
        Schema::None => {}
    }

    let _ = writeln!(s, "\n[access]");
    match vis {
        Vis::Public => {
            let _ = writeln!(s, "visibility = \"public\"");
        }
        Vis::Private => {
            let _ = writeln!(s, "visibility = \"private\"");
        }
        Vis::Restricted => {
            let allow = [
                domain_name((d + 1) % DOMAINS),
                domain_name((d + 2) % DOMAINS),
            ];
            let _ = writeln!(
                s,
                "visibility = \"restricted\"\nallow_domains = {}",
                quote_list(&allow)
            );
        }
    }
    if is_deprecated(d, i) {
        let _ = writeln!(
            s,
            "\n[deprecation]\nsince = 2026-01-01\nsunset = 2027-12-31\nreplacement = \"{}\"\nreason = \"Superseded by a product with a cleaner key\"",
            product_id(d, i - 1)
        );
    }
    if i % 2 == 1 {
        let _ = writeln!(s, "\n[environments.local.topic]\npartitions = 1");
    }
    s
}

fn avro_value(d: usize, i: usize) -> String {
    let ns = format!(
        "com.acme.{}.{}",
        domain_name(d).replace('-', "_"),
        product_name(i).replace('-', "_")
    );
    format!(
        r#"{{
  "type": "record",
  "name": "Record{i}",
  "namespace": "{ns}",
  "doc": "One change to a {noun} of {dname}.",
  "fields": [
    {{"name": "id", "type": {{"type": "string", "logicalType": "uuid"}}, "doc": "Identifier."}},
    {{"name": "customer_id", "type": ["null", "string"], "default": null}},
    {{"name": "status", "type": {{"type": "enum", "name": "Status{i}", "symbols": ["NEW", "CHANGED", "DELETED", "UNKNOWN"], "default": "UNKNOWN"}}}},
    {{"name": "occurred_at", "type": {{"type": "long", "logicalType": "timestamp-millis"}}}},
    {{"name": "amount", "type": {{"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}}}},
    {{"name": "currency", "type": "string"}},
    {{"name": "lines", "type": {{"type": "array", "items": {{"type": "record", "name": "Line{i}", "fields": [
      {{"name": "sku", "type": "string"}},
      {{"name": "quantity", "type": "int"}}
    ]}}}}, "default": []}},
    {{"name": "attributes", "type": {{"type": "map", "values": "string"}}, "default": {{}}}}
  ]
}}
"#,
        noun = NOUNS[i % NOUNS.len()],
        dname = domain_name(d),
    )
}

fn avro_key(d: usize, i: usize) -> String {
    let ns = format!(
        "com.acme.{}.{}",
        domain_name(d).replace('-', "_"),
        product_name(i).replace('-', "_")
    );
    format!(
        r#"{{"type": "record", "name": "Key{i}", "namespace": "{ns}", "fields": [{{"name": "id", "type": "string"}}]}}
"#
    )
}

fn json_schema(d: usize, i: usize) -> String {
    format!(
        r#"{{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://schemas.acme.example/{dname}/{name}.json",
  "title": "Record{i}",
  "description": "One {noun} record of {dname}.",
  "type": "object",
  "properties": {{
    "id": {{"type": "string"}},
    "day": {{"type": "string", "format": "date"}},
    "currency": {{"type": "string", "pattern": "^[A-Z]{{3}}$"}},
    "amount_minor_units": {{"type": "integer", "minimum": 0}},
    "tags": {{"type": "array", "items": {{"type": "string"}}}},
    "restated": {{"type": "boolean", "default": false}}
  }},
  "required": ["id", "day", "currency"],
  "additionalProperties": false
}}
"#,
        dname = domain_name(d),
        name = product_name(i),
        noun = NOUNS[i % NOUNS.len()],
    )
}

fn proto_schema(d: usize, i: usize) -> String {
    format!(
        r#"// {noun} records of {dname}.
syntax = "proto3";

package acme.{pkg}.v1;

message Record{i} {{
  string id = 1;
  optional string customer_id = 2;
  Kind kind = 3;
  repeated Line lines = 4;
  int64 occurred_at_ms = 5;
  map<string, string> attributes = 6;
}}

message Line {{
  string sku = 1;
  uint32 quantity = 2;
}}

enum Kind {{
  KIND_UNSPECIFIED = 0;
  KIND_NEW = 1;
  KIND_CHANGED = 2;
}}
"#,
        noun = NOUNS[i % NOUNS.len()],
        dname = domain_name(d),
        pkg = format!("{}.{}", domain_name(d), product_name(i)).replace('-', "_"),
    )
}

fn domain_policy(d: usize) -> String {
    let name = domain_name(d);
    format!(
        r#"# {name}'s own rules and exemptions.
[[rule]]
id = "{name}.tagged"
description = "Every product of {name} carries at least one tag"
applies_to = "product"
check = 'size(product.tags) > 0'
severity = "warning"
message = "{{product.id}}: tag every product so the catalog can be searched"

[[exemption]]
rule = "topic.partition-budget"
product = "{id}"
reason = "Measured peak throughput needs 32 partitions (load test LT-{d})"
expires = 2099-12-31
"#,
        id = product_id(d, 50),
    )
}

/// Writes the synthetic mesh; returns the number of files written.
fn generate(root: &Path) -> usize {
    let mut n = 0;
    let mut put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("create dir");
        std::fs::write(p, text).expect("write file");
        n += 1;
    };
    put("mesh.toml", MESH_TOML);
    for d in 0..DOMAINS {
        let dir = format!("domains/{}", domain_name(d));
        put(&format!("{dir}/domain.toml"), &domain_toml(d));
        if d % 10 == 5 {
            put(
                &format!("{dir}/policies/governance.toml"),
                &domain_policy(d),
            );
        }
        for i in 0..PRODUCTS_PER_DOMAIN {
            let name = product_name(i);
            put(&format!("{dir}/products/{name}.toml"), &product_toml(d, i));
            match schema_kind(i) {
                Schema::Avro => {
                    put(
                        &format!("{dir}/schemas/{name}-value.avsc"),
                        &avro_value(d, i),
                    );
                    if i % 5 == 0 {
                        put(&format!("{dir}/schemas/{name}-key.avsc"), &avro_key(d, i));
                    }
                }
                Schema::Json => put(
                    &format!("{dir}/schemas/{name}-value.json"),
                    &json_schema(d, i),
                ),
                Schema::Proto => put(
                    &format!("{dir}/schemas/{}.proto", name.replace('-', "_")),
                    &proto_schema(d, i),
                ),
                Schema::None => {}
            }
        }
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Measuring.
// ---------------------------------------------------------------------------------------------

const TODAY: Date = Date {
    year: 2026,
    month: 6,
    day: 1,
};

/// The median and the fastest of the timed runs of one measurement.
#[derive(Clone, Copy)]
struct Stat {
    median: Duration,
    min: Duration,
}

/// One warm-up, then `RUNS` timed runs; the median and minimum of each named part.
fn measure<const N: usize>(mut run: impl FnMut() -> [Duration; N]) -> [Stat; N] {
    run();
    let mut samples: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..RUNS {
        for (k, t) in run().into_iter().enumerate() {
            samples[k].push(t);
        }
    }
    samples.map(stat)
}

fn stat(mut xs: Vec<Duration>) -> Stat {
    xs.sort();
    Stat {
        median: xs[xs.len() / 2],
        min: xs[0],
    }
}

/// [`measure`] of two runs taken in turn (a b a b …), and the median of the ratios b / a of
/// each pair's first part: the machine's speed drifts (other virtual machines on the host),
/// and a pair's two runs see the same drift, where runs of a in a block and then of b in
/// another did not.
fn measure_paired<const N: usize, const M: usize>(
    mut a: impl FnMut() -> [Duration; N],
    mut b: impl FnMut() -> [Duration; M],
) -> ([Stat; N], [Stat; M], f64) {
    a();
    b();
    let mut sa: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::new());
    let mut sb: [Vec<Duration>; M] = std::array::from_fn(|_| Vec::new());
    let mut ratios = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let ta = a();
        let tb = b();
        ratios.push(tb[0].as_secs_f64() / ta[0].as_secs_f64());
        for (k, t) in ta.into_iter().enumerate() {
            sa[k].push(t);
        }
        for (k, t) in tb.into_iter().enumerate() {
            sb[k].push(t);
        }
    }
    ratios.sort_by(f64::total_cmp);
    (sa.map(stat), sb.map(stat), ratios[ratios.len() / 2])
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// (a) Read the files, and parse each: .toml with toml's span-preserving parser, .avsc and
/// .json into a `serde_json::Value`, .proto with protox-parse.
fn floor(dir: &Path) -> [Duration; 4] {
    let (files, read) = timed(|| mesh_repo::from_dir(dir).expect("reads"));
    let (parsed, parse) = timed(|| {
        let mut n = 0usize;
        for (path, bytes) in &files.files {
            if path.ends_with(".toml") {
                let text = std::str::from_utf8(bytes).expect("utf-8");
                let table = toml::de::DeTable::parse(text).expect("parses");
                n += table.get_ref().len();
                black_box(&table);
            }
        }
        n
    });
    let (schemas, parse_schemas) = timed(|| {
        let mut n = 0usize;
        for (path, bytes) in &files.files {
            if path.ends_with(".avsc") || path.ends_with(".json") {
                let value: serde_json::Value = serde_json::from_slice(bytes).expect(
                    "the generated mesh validated with no errors, so its JSON schemas parse",
                );
                n += value.as_object().map_or(0, |o| o.len());
                black_box(&value);
            } else if path.ends_with(".proto") {
                let text = std::str::from_utf8(bytes)
                    .expect("the generated mesh validated with no errors, so its files are UTF-8");
                let file = protox_parse::parse(path, text).expect(
                    "the generated mesh validated with no errors, so its .proto files parse",
                );
                n += file.message_type.len();
                black_box(&file);
            }
        }
        n
    });
    black_box((parsed, schemas));
    [read + parse + parse_schemas, read, parse, parse_schemas]
}

/// (b) Read the files and validate them (load, schemas, lineage graph, policies).
fn full(dir: &Path) -> [Duration; 3] {
    let (files, read) = timed(|| mesh_repo::from_dir(dir).expect("reads"));
    let (report, validate) = timed(|| mesh_check::validate(&files.files, None, TODAY));
    black_box(&report);
    let (_, drop_report) = timed(|| drop(report));
    [read + validate, read, validate + drop_report]
}

/// The stages of `validate`, called one by one through the crates' public APIs.
fn stages(files: &BTreeMap<String, Vec<u8>>) -> [Duration; 6] {
    let ((mesh, mut ds), model) = timed(|| mesh_model::load(files, None));
    let (_, schemas) = timed(|| check_schemas(&mesh, &mut ds));
    let (lineage, graph) = timed(|| {
        let lineage = Lineage::build(&mesh);
        lineage.check_cycles(&mesh, &mut ds);
        lineage
    });
    let (policies, policy_load) = timed(|| mesh_policy::load(&mesh, &mut ds));
    let (_, evaluate) = timed(|| mesh_policy::evaluate(&mesh, &policies, TODAY, &mut ds));
    let (_, sort) = timed(|| ds.into_sorted());
    black_box(&lineage);
    [model, schemas, graph, policy_load, evaluate, sort]
}

/// What `mesh_check::validate` does for schemas (its helper is private): check each file once.
fn check_schemas(mesh: &Mesh, ds: &mut Diagnostics) {
    let mut checked = std::collections::BTreeSet::new();
    for p in &mesh.products {
        let Some(schema) = &p.schema else { continue };
        for r in [&schema.value, &schema.key].into_iter().flatten() {
            let Some(src) = mesh.sources.get(&r.file) else {
                continue;
            };
            if !checked.insert(r.file.clone()) {
                continue;
            }
            let format = match r.format {
                SchemaFormat::Avro => mesh_schema::Format::Avro,
                SchemaFormat::Json => mesh_schema::Format::Json,
                SchemaFormat::Protobuf => mesh_schema::Format::Protobuf,
            };
            ds.extend(mesh_schema::check(&r.file, src.text(), format));
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:>9.1} ms", d.as_secs_f64() * 1e3)
}

/// One table row: label, median, min.
fn row(label: &str, s: Stat) {
    println!("{label:<56}{}{}", ms(s.median), ms(s.min));
}

/// The 1-, 5- and 15-minute load averages: other work on the machine skews wall-clock times.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn mib(bytes: usize) -> String {
    format!("{:>9.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("validate benchmark: run it with `cargo bench -p mesh-check --bench validate`");
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let (written, generation) = timed(|| generate(tmp.path()));
    let files = mesh_repo::from_dir(tmp.path()).expect("reads the synthetic mesh");
    // MESH_BENCH_KEEP=DIR keeps a copy of the synthetic mesh there, e.g. to run the CLI on it.
    if let Some(keep) = std::env::var_os("MESH_BENCH_KEEP") {
        let keep = Path::new(&keep);
        for (rel, bytes) in &files.files {
            let p = keep.join(rel);
            std::fs::create_dir_all(p.parent().expect("has a parent")).expect("create dir");
            std::fs::write(p, bytes).expect("write file");
        }
        println!("synthetic mesh kept in {}", keep.display());
    }
    let bytes: usize = files.files.values().map(Vec::len).sum();
    let tomls = files.files.keys().filter(|p| p.ends_with(".toml")).count();

    // The mesh must be valid: otherwise this measures error paths.
    let report = mesh_check::validate(&files.files, None, TODAY);
    let errors: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let warnings = report.diagnostics.len() - errors.len();
    if !errors.is_empty() || report.mesh.products.len() != DOMAINS * PRODUCTS_PER_DOMAIN {
        for d in report.diagnostics.iter().take(10) {
            eprintln!("{:?} {} {}: {}", d.severity, d.code, d.file, d.message);
        }
        panic!(
            "the synthetic mesh is not valid: {} errors, {} products loaded (expected {})",
            errors.len(),
            report.mesh.products.len(),
            DOMAINS * PRODUCTS_PER_DOMAIN
        );
    }
    let edges = report.lineage.graph.edge_count();
    let nodes = report.lineage.graph.node_count();
    drop(report);

    println!(
        "mesh validate benchmark (median of {RUNS} runs after 1 warm-up, floor and full in turn; release build)"
    );
    println!(
        "synthetic mesh: {DOMAINS} domains, {} products, {written} files ({tomls} .toml), {:.1} MiB; \
         lineage graph {nodes} nodes / {edges} edges; {warnings} warnings, 0 errors; generated in {:.0} ms",
        DOMAINS * PRODUCTS_PER_DOMAIN,
        bytes as f64 / (1024.0 * 1024.0),
        generation.as_secs_f64() * 1e3,
    );

    let load_before = loadavg();
    let (
        [floor_total, floor_read, floor_parse, floor_schemas],
        [full_total, full_read, full_validate],
        paired_ratio,
    ) = measure_paired(|| floor(tmp.path()), || full(tmp.path()));
    let [model, schemas, graph, policy_load, evaluate, sort] = measure(|| stages(&files.files));

    // Peak heap of one (b) run, above what was live before it.
    start_counting();
    {
        let files = mesh_repo::from_dir(tmp.path()).expect("reads");
        let report = mesh_check::validate(&files.files, None, TODAY);
        black_box(&report);
    }
    let heap = stop_counting();

    println!();
    println!("{:<56}{:>12}{:>12}", "measurement", "median", "min");
    println!("{}", "-".repeat(80));
    row(
        "(a) floor: from_dir + parse every file (TOML, schemas)",
        floor_total,
    );
    row("      read (mesh_repo::from_dir)", floor_read);
    row("      parse .toml files (toml DeTable::parse)", floor_parse);
    row(
        "      parse schema files (serde_json, protox-parse)",
        floor_schemas,
    );
    row("(b) full: from_dir + mesh_check::validate", full_total);
    row("      read (mesh_repo::from_dir)", full_read);
    row("      validate (incl. dropping the report)", full_validate);
    println!(
        "{:<56}{:>10.2} x{:>10.2} x",
        "(c) ratio full / floor: median of paired runs; of minimums",
        paired_ratio,
        full_total.min.as_secs_f64() / floor_total.min.as_secs_f64(),
    );
    println!(
        "{:<56}{}",
        "(d) peak heap during (b), above the heap before it",
        mib(heap)
    );
    println!(
        "{:<56}{}",
        "    process max RSS (VmHWM, whole bench)",
        max_rss().map_or("       n/a".into(), mib)
    );
    println!();
    println!(
        "{:<56}{:>12}{:>12}",
        "validate, stage by stage (public APIs)", "median", "min"
    );
    println!("{}", "-".repeat(80));
    row("mesh_model::load (parse, model, cross-file checks)", model);
    row("schema checks (mesh_schema::check per file)", schemas);
    row("Lineage::build + check_cycles", graph);
    row("mesh_policy::load (parse + compile CEL)", policy_load);
    row(
        "mesh_policy::evaluate (views + CEL over all subjects)",
        evaluate,
    );
    row("sort diagnostics", sort);
    println!();
    println!("load average before / after: {load_before} / {}", loadavg());
    let target = Duration::from_secs(1);
    println!(
        "target: validate + graph under 1 s on a 2-core machine -> {} (median; {} including the read)",
        if full_validate.median < target {
            "MET"
        } else {
            "NOT MET"
        },
        if full_total.median < target {
            "met"
        } else {
            "not met"
        },
    );
}
