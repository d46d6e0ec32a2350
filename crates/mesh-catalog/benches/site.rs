//! Benchmark of the catalog site on a synthetic mesh of 2,000 products (40 domains × 50), each
//! with an Avro value schema of 14 fields (a nested record, an enum), two inputs from the
//! previous domain, and five `[[consumes]]` per domain.
//!
//! Prints figures, asserts nothing about time (targets: generation under 2 s, the index
//! interactive under 1 s). Measured: `validate` (what `mesh catalog` does first), `build` (the
//! site in memory), `write_site` (to a temp dir), the site's size; then, when Chromium is on the
//! PATH, the index page's time to interactive (performance.now() when the search is ready,
//! read through --dump-dom), one search keystroke over all 2,000 products, and the whole-mesh
//! lineage page's time to interactive.
//!
//! `cargo bench -p mesh-catalog --bench site` (MESH_BENCH_KEEP=DIR keeps the site there).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const DOMAINS: usize = 40;
const PER_DOMAIN: usize = 50;
const RUNS: usize = 5;

fn domain(d: usize) -> String {
    format!("domain-{d:02}")
}

fn product(p: usize) -> String {
    format!("product-{p:03}")
}

fn synthetic() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut put = |path: String, text: String| {
        files.insert(path, text.into_bytes());
    };
    put(
        "mesh.toml".into(),
        "[mesh]\nname = \"synthetic\"\npolicy_packs = [\"baseline\"]\n\n[defaults.topic]\npartitions = 6\nreplication_factor = 3\n[defaults.topic.config]\n\"min.insync.replicas\" = 2\n\n[environments.local]\nlocal = true\nbootstrap_servers = \"127.0.0.1:19092\"\nschema_registry_url = \"http://127.0.0.1:18081\"\n[environments.local.topic]\nreplication_factor = 1\n[environments.local.topic.config]\n\"min.insync.replicas\" = 1\n".into(),
    );
    for d in 0..DOMAINS {
        let name = domain(d);
        let mut t = format!(
            "name = \"{name}\"\ndescription = \"Synthetic domain number {d} of the benchmark\"\nowners = [\"@acme/{name}\"]\ncontacts = [\"mailto:{name}@acme.example\", \"https://chat.acme.example/channels/{name}\"]\n\n[principals]\nwriter = \"User:{name}-writer\"\nreader = \"User:{name}-reader\"\n"
        );
        if d > 0 {
            for k in 0..5 {
                let _ = write!(
                    t,
                    "\n[[consumes]]\nproduct = \"{}.{}\"\nprincipal = \"reader\"\ngroup = \"{name}.reader\"\npurpose = \"Read product {k} of the previous domain for the benchmark\"\n",
                    domain(d - 1),
                    product(k * 7)
                );
            }
        }
        put(format!("domains/{name}/domain.toml"), t);
        for p in 0..PER_DOMAIN {
            let pname = product(p);
            let mut t = format!(
                "name = \"{pname}\"\ndescription = \"Synthetic product {p} of {name}: orders, customers and shipments of region {p}\"\nquality = \"curated\"\nsla = \"tier-2\"\ntags = [\"synthetic\", \"region-{}\"]\nproducers = [\"writer\"]\n",
                p % 7
            );
            if d > 0 {
                let _ = writeln!(
                    t,
                    "inputs = [\"{}.{}\", \"{}.{}\"]",
                    domain(d - 1),
                    product(p),
                    domain(d - 1),
                    product((p + 1) % PER_DOMAIN)
                );
            }
            let deprecated = p == PER_DOMAIN - 1 && d % 4 == 0;
            if deprecated {
                t.push_str("status = \"deprecated\"\n");
            }
            t.push_str("\n[topic.config]\n\"retention.ms\" = \"7d\"\n\n[schema]\n");
            let _ = write!(
                t,
                "value = \"schemas/{pname}.avsc\"\ncompatibility = \"BACKWARD\"\n"
            );
            if deprecated {
                let _ = write!(
                    t,
                    "\n[deprecation]\nsince = 2026-10-01\nsunset = 2027-06-01\nreplacement = \"{name}.{}\"\nreason = \"superseded\"\n",
                    product(0)
                );
            }
            put(format!("domains/{name}/products/{pname}.toml"), t);
            put(format!("domains/{name}/schemas/{pname}.avsc"), schema(d, p));
        }
    }
    files
}

fn schema(d: usize, p: usize) -> String {
    format!(
        r#"{{"type": "record", "name": "Event{d}x{p}", "namespace": "com.acme.synthetic",
  "doc": "A synthetic event.",
  "fields": [
    {{"name": "id", "type": "string", "doc": "Event id."}},
    {{"name": "customer_id_{p}", "type": ["null", "string"], "default": null, "doc": "Customer."}},
    {{"name": "amount", "type": {{"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}}}},
    {{"name": "currency", "type": "string", "doc": "ISO 4217."}},
    {{"name": "placed_at", "type": {{"type": "long", "logicalType": "timestamp-millis"}}}},
    {{"name": "status", "type": {{"type": "enum", "name": "Status{p}", "symbols": ["NEW", "DONE", "FAILED"]}}}},
    {{"name": "address", "type": {{"type": "record", "name": "Address{p}", "fields": [
      {{"name": "street", "type": "string"}}, {{"name": "city", "type": "string"}},
      {{"name": "zip", "type": "string"}}, {{"name": "country", "type": "string", "doc": "ISO 3166-1."}}]}}}},
    {{"name": "lines", "type": {{"type": "array", "items": "string"}}, "default": []}},
    {{"name": "note_d{d}", "type": ["null", "string"], "default": null}}
  ]}}"#
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Opens `page` with `probe` appended, and returns the numbers the probe wrote.
fn probe(chrome: &Path, site: &Path, page: &str, probe: &str, profile: &Path) -> Vec<f64> {
    let html = std::fs::read_to_string(site.join(page)).expect("page");
    let copy = site.join(format!("probe-{page}"));
    std::fs::write(
        &copy,
        html.replacen("</body>", &format!("<script>{probe}</script>\n</body>"), 1),
    )
    .expect("write probe");
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", copy.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let Some(start) = dom.find("<pre id=\"probe\">") else {
        return Vec::new();
    };
    let rest = &dom[start + "<pre id=\"probe\">".len()..];
    rest[..rest.find("</pre>").unwrap_or(0)]
        .split(' ')
        .filter_map(|s| s.parse().ok())
        .collect()
}

const INDEX_PROBE: &str = r#"
document.addEventListener('DOMContentLoaded', function () {
  setTimeout(function () {
    var q = document.getElementById('q');
    var t0 = performance.now();
    q.value = 'country';
    q.dispatchEvent(new Event('input'));
    var t1 = performance.now();
    var shown = document.querySelectorAll('#results .result').length;
    var pre = document.createElement('pre');
    pre.id = 'probe';
    pre.textContent = [window.MESH_READY_MS, t1 - t0, shown, window.MESH_INDEX.length].join(' ');
    document.body.appendChild(pre);
  }, 0);
});
"#;

const LINEAGE_PROBE: &str = r#"
document.addEventListener('DOMContentLoaded', function () {
  setTimeout(function () {
    var pre = document.createElement('pre');
    pre.id = 'probe';
    pre.textContent = [window.MESH_READY_MS, document.querySelectorAll('.lineage .node').length].join(' ');
    document.body.appendChild(pre);
  }, 0);
});
"#;

fn main() {
    let today = mesh_model::doc::Date::parse("2026-12-01").expect("a date");
    let files = synthetic();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "synthetic mesh: {DOMAINS} domains × {PER_DOMAIN} products = {} products, {} files",
        DOMAINS * PER_DOMAIN,
        files.len()
    );
    let report = mesh_check::validate(&files, Some("local"), today);
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(
        errors.is_empty(),
        "the synthetic mesh is not valid: {:#?}",
        &errors[..errors.len().min(5)]
    );
    assert_eq!(report.mesh.products.len(), DOMAINS * PER_DOMAIN);

    let (mut validate, mut build, mut write) = (Vec::new(), Vec::new(), Vec::new());
    let tmp = tempfile::tempdir().expect("temp dir");
    let site_dir = tmp.path().join("site");
    for run in 0..=RUNS {
        let t = Instant::now();
        let report = mesh_check::validate(&files, Some("local"), today);
        let v = t.elapsed();
        let t = Instant::now();
        let site = mesh_catalog::build(&mesh_catalog::Input {
            report: &report,
            live: None,
        });
        let b = t.elapsed();
        let t = Instant::now();
        mesh_catalog::write_site(&site, &site_dir).expect("writes the site");
        let w = t.elapsed();
        if run > 0 {
            validate.push(v);
            build.push(b);
            write.push(w);
        }
    }
    let total: Vec<Duration> = (0..RUNS)
        .map(|i| validate[i] + build[i] + write[i])
        .collect();
    // Two parts of `build`, through the public APIs it calls: the derived state (ACLs) and the
    // field trees of every schema.
    let (mut desired, mut fields) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        std::hint::black_box(mesh_plan::desired(&report.mesh, None));
        desired.push(t.elapsed());
        let t = Instant::now();
        for p in &report.mesh.products {
            for r in p.schema.iter().flat_map(|s| [&s.key, &s.value]).flatten() {
                if let Some(src) = report.mesh.sources.get(&r.file) {
                    let _ = std::hint::black_box(mesh_schema::fields::fields(
                        mesh_schema::Format::Avro,
                        src.text(),
                    ));
                }
            }
        }
        fields.push(t.elapsed());
    }
    let site = mesh_catalog::build(&mesh_catalog::Input {
        report: &report,
        live: None,
    });
    let size = |prefix: &str| -> usize {
        site.files
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, b)| b.len())
            .sum()
    };
    let _ = writeln!(out, "median of {RUNS} runs after a warm-up:");
    let _ = writeln!(
        out,
        "  validate                      {}",
        ms(median(validate))
    );
    let _ = writeln!(out, "  build the site (in memory)    {}", ms(median(build)));
    let _ = writeln!(
        out,
        "    of which mesh_plan::desired    {}",
        ms(median(desired))
    );
    let _ = writeln!(
        out,
        "    of which schema field trees    {}",
        ms(median(fields))
    );
    let _ = writeln!(
        out,
        "  write_site ({} files)      {}",
        site.files.len(),
        ms(median(write))
    );
    let _ = writeln!(out, "  generation: all three         {}", ms(median(total)));
    let _ = writeln!(
        out,
        "site: {:.1} MiB in all; index.html {:.1} KiB, data/index.js {:.0} KiB, data/graph.js {:.0} KiB, catalog.json {:.1} MiB, a product page {:.0} KiB",
        size("") as f64 / 1048576.0,
        size("index.html") as f64 / 1024.0,
        size("data/index.js") as f64 / 1024.0,
        size("data/graph.js") as f64 / 1024.0,
        size("catalog.json") as f64 / 1048576.0,
        size("products/domain-20.product-020.html") as f64 / 1024.0,
    );

    match chromium() {
        None => {
            let _ = writeln!(
                out,
                "chromium not found: no browser figures (scripts/setup.sh installs it)"
            );
        }
        Some(chrome) => {
            let profile = tmp.path().join("profile");
            let (mut ready, mut keystroke, mut lineage) = (Vec::new(), Vec::new(), Vec::new());
            let mut shown = 0.0;
            for _ in 0..=RUNS {
                let v = probe(&chrome, &site_dir, "index.html", INDEX_PROBE, &profile);
                if v.len() == 4 {
                    ready.push(Duration::from_secs_f64(v[0] / 1000.0));
                    keystroke.push(Duration::from_secs_f64(v[1] / 1000.0));
                    shown = v[2];
                }
                let v = probe(&chrome, &site_dir, "lineage.html", LINEAGE_PROBE, &profile);
                if v.len() == 2 {
                    lineage.push(Duration::from_secs_f64(v[0] / 1000.0));
                }
            }
            if ready.len() > 1 && lineage.len() > 1 {
                // The first (cold) run is the warm-up.
                ready.remove(0);
                keystroke.remove(0);
                lineage.remove(0);
                let _ = writeln!(
                    out,
                    "headless chromium, file://, median of {} runs after a warm-up:",
                    ready.len()
                );
                let _ = writeln!(
                    out,
                    "  index.html interactive (performance.now() when search is ready)  {}",
                    ms(median(ready))
                );
                let _ = writeln!(
                    out,
                    "  one search keystroke over every product ({shown} rows drawn)       {}",
                    ms(median(keystroke))
                );
                let _ = writeln!(
                    out,
                    "  lineage.html interactive                                         {}",
                    ms(median(lineage))
                );
            } else {
                let _ = writeln!(out, "chromium gave no figures");
            }
        }
    }
    if let Some(keep) = std::env::var_os("MESH_BENCH_KEEP") {
        let keep = PathBuf::from(keep);
        mesh_catalog::write_site(&site, &keep).expect("keeps the site");
        let _ = writeln!(out, "site kept in {}", keep.display());
    }
    print!("{out}");
}
