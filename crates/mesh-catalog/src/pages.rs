//! The pages of the site and the data files their script reads: the index (search and filters
//! over `data/index.js`), a page per product and per domain, the domain list, the whole-mesh
//! lineage view (over `data/graph.js`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::fields::{FieldView, flatten};
use crate::html::{
    Depth, attr, badge, contact, domain_file, domain_link, esc, page, product_file, product_link,
};
use crate::model::{Catalog, ProductView, SchemaPart};

/// Every page and data file: relative path → text.
pub fn all(c: &Catalog) -> Vec<(String, String)> {
    let mut out = vec![
        ("index.html".to_string(), index(c)),
        ("domains.html".to_string(), domains(c)),
        ("lineage.html".to_string(), lineage(c)),
        ("policies.html".to_string(), policies(c)),
        ("data/index.js".to_string(), index_data(c)),
        ("data/graph.js".to_string(), graph_data(c)),
    ];
    for p in &c.products {
        out.push((product_file(&p.id), product(c, p)));
    }
    for d in &c.domains {
        out.push((domain_file(&d.name), domain(c, d)));
    }
    out
}

/// A JSON value as the right-hand side of a JavaScript assignment: `<` escaped so the text can
/// never close a script element, U+2028/2029 escaped for older engines.
fn js_value(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn live_note(c: &Catalog) -> String {
    match (&c.env, &c.live) {
        (None, _) | (_, None) => "<p class=\"note\" id=\"live-note\">Generated without <code>--env</code>: \
             topic settings are the repo's defaults, and there are no live facts (partition counts, \
             registered schema versions, consumer groups).</p>\n"
            .to_string(),
        (Some(env), Some(l)) if l.available => {
            let mut s = format!(
                "<p class=\"note\" id=\"live-note\">Topic settings and live facts of environment <code>{}</code>.",
                esc(env)
            );
            for n in &l.notes {
                let _ = write!(s, " {}", esc(n));
            }
            s.push_str("</p>\n");
            s
        }
        (Some(env), Some(l)) => format!(
            "<p class=\"note warn\" id=\"live-note\">Topic settings of environment <code>{}</code>; \
             live facts unavailable: {}</p>\n",
            esc(env),
            esc(l.reason.as_deref().unwrap_or("unknown reason"))
        ),
    }
}

fn options(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("<option value=\"{}\">{}</option>", attr(v), esc(v)))
        .collect()
}

fn index(c: &Catalog) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Data products</h1>\n<p class=\"summary\">{} products in {} domains. Search by id, \
         description, tag, owner or schema field; every result links to its page.</p>\n",
        c.products.len(),
        c.domains.len()
    );
    b.push_str(&live_note(c));
    let domains: Vec<&str> = c.domains.iter().map(|d| d.name.as_str()).collect();
    let _ = write!(
        b,
        "<form class=\"search\" role=\"search\" onsubmit=\"return false\">\n\
         <input id=\"q\" type=\"search\" autocomplete=\"off\" placeholder=\"Search products, owners, tags, schema fields…\" aria-label=\"Search\">\n\
         <select id=\"f-domain\" data-filter=\"domain\" aria-label=\"Domain\"><option value=\"\">every domain</option>{}</select>\n\
         <select id=\"f-quality\" data-filter=\"quality\" aria-label=\"Quality\"><option value=\"\">any quality</option>{}</select>\n\
         <select id=\"f-sla\" data-filter=\"sla\" aria-label=\"SLA\"><option value=\"\">any SLA</option>{}</select>\n\
         <select id=\"f-status\" data-filter=\"status\" aria-label=\"Status\"><option value=\"\">any status</option>{}</select>\n\
         <select id=\"f-visibility\" data-filter=\"visibility\" aria-label=\"Visibility\"><option value=\"\">any visibility</option>{}</select>\n\
         </form>\n<p id=\"count\" class=\"muted\">Loading…</p>\n<ol id=\"results\" class=\"results\"></ol>\n\
         <p><button id=\"more\" type=\"button\" hidden>Show more</button></p>\n\
         <noscript><p>The search needs JavaScript; the <a href=\"domains.html\">domain list</a> links every product.</p></noscript>\n",
        options(&domains),
        options(mesh_model::Quality::ALL),
        options(mesh_model::Sla::ALL),
        options(mesh_model::Status::ALL),
        options(mesh_model::Visibility::ALL),
    );
    page(
        Depth::Root,
        "Data products",
        &c.mesh,
        &b,
        &["data/index.js", "assets/catalog.js"],
    )
}

/// The search data: one compact row per product.
fn index_data(c: &Catalog) -> String {
    let rows: Vec<Value> = c
        .products
        .iter()
        .map(|p| {
            let mut fields = Vec::new();
            let mut docs = Vec::new();
            if let Some(s) = &p.schema {
                for part in [&s.key, &s.value].into_iter().flatten() {
                    for f in flatten(&part.fields) {
                        fields.push(f.path.clone());
                        if let Some(d) = &f.doc {
                            docs.push(d.clone());
                        }
                    }
                }
            }
            fields.dedup();
            json!([
                p.id,
                p.domain,
                p.description,
                p.quality,
                p.sla,
                p.status,
                p.visibility,
                p.owners.join(" "),
                p.tags.join(" "),
                fields.join(" "),
                docs.join(" \u{1f} ")
            ])
        })
        .collect();
    format!(
        "// Generated by mesh catalog: the search index (id, domain, description, quality, sla, status, visibility, owners, tags, schema fields, field docs).\nwindow.MESH_INDEX = {};\n",
        js_value(&Value::Array(rows))
    )
}

/// The lineage graph: nodes `[id, domain, deprecated]`, edges `[from, to]` (input → product)
/// as node indexes.
fn graph_data(c: &Catalog) -> String {
    let index: BTreeMap<&str, usize> = c
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let nodes: Vec<Value> = c
        .products
        .iter()
        .map(|p| json!([p.id, p.domain, u8::from(p.status == "deprecated")]))
        .collect();
    let mut edges: Vec<Value> = Vec::new();
    for (to, p) in c.products.iter().enumerate() {
        for i in &p.inputs {
            if let Some(from) = index.get(i.as_str()) {
                edges.push(json!([from, to]));
            }
        }
    }
    format!(
        "// Generated by mesh catalog: the lineage graph (nodes: id, domain, deprecated; edges: input -> product).\nwindow.MESH_GRAPH = {};\n",
        js_value(&json!({ "nodes": nodes, "edges": edges }))
    )
}

fn lineage(c: &Catalog) -> String {
    let first = c
        .products
        .iter()
        .max_by_key(|p| {
            (
                p.downstream.len() + p.inputs.len(),
                std::cmp::Reverse(&p.id),
            )
        })
        .map(|p| p.id.as_str())
        .unwrap_or("");
    let mut b = String::new();
    b.push_str(
        "<h1>Lineage</h1>\n<p class=\"summary\">The whole mesh, one neighbourhood at a time: pick a \
         product (or click a node) to centre the graph on it; upstream to the left, downstream to the right.</p>\n",
    );
    let _ = write!(
        b,
        "<form class=\"search\" onsubmit=\"return false\"><input id=\"lineage-pick\" type=\"search\" list=\"lineage-ids\" \
         placeholder=\"Centre on a product id…\" aria-label=\"Product\"><datalist id=\"lineage-ids\"></datalist></form>\n\
         {}",
        graph_block(Depth::Root, first, true)
    );
    page(
        Depth::Root,
        "Lineage",
        &c.mesh,
        &b,
        &["data/graph.js", "assets/catalog.js"],
    )
}

fn graph_block(depth: Depth, focus: &str, follow_hash: bool) -> String {
    format!(
        "<div class=\"lineage-controls\">hops <select class=\"lineage-depth\" aria-label=\"Hops\">\
         <option>1</option><option selected>2</option><option>3</option><option>4</option></select> \
         <span class=\"lineage-status\"></span></div>\n\
         <div class=\"lineage\" data-focus=\"{}\" data-depth=\"2\" data-root=\"{}\"{}></div>\n",
        attr(focus),
        depth.root(),
        if follow_hash { " data-hash=\"1\"" } else { "" }
    )
}

fn policies(c: &Catalog) -> String {
    let mut b = String::from(
        "<h1>Policies</h1>\n<p class=\"summary\">The rules about products in force in this mesh: global ones bind every domain, a domain's own bind only its products.</p>\n\
         <table class=\"grid\"><thead><tr><th>Rule</th><th>Description</th><th>Severity</th><th>Binds</th><th>Exemptible</th></tr></thead><tbody>\n",
    );
    for r in &c.rules {
        let _ = writeln!(
            b,
            "<tr id=\"rule-{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            attr(&r.rule),
            esc(&r.rule),
            esc(&r.description),
            esc(&r.severity),
            match &r.domain {
                Some(d) => format!("domain {}", domain_link(Depth::Root, d)),
                None => "every domain".into(),
            },
            if r.exemptible { "yes" } else { "no" }
        );
    }
    b.push_str("</tbody></table>\n<h2>Exemptions</h2>\n");
    let exemptions: Vec<(&str, &crate::model::ExemptionView)> = c
        .products
        .iter()
        .flat_map(|p| p.exemptions.iter().map(move |e| (p.id.as_str(), e)))
        .collect();
    if exemptions.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>\n");
    } else {
        b.push_str("<table class=\"grid\"><thead><tr><th>Product</th><th>Rule</th><th>Until</th><th>Reason</th></tr></thead><tbody>\n");
        for (id, e) in exemptions {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                product_link(Depth::Root, id),
                esc(&e.rule),
                esc(&e.expires),
                esc(&e.reason)
            );
        }
        b.push_str("</tbody></table>\n");
    }
    page(Depth::Root, "Policies", &c.mesh, &b, &[])
}

fn domains(c: &Catalog) -> String {
    let mut b = String::from(
        "<h1>Domains</h1>\n<table class=\"grid\"><thead><tr><th>Domain</th><th>Description</th><th>Owners</th><th>Products</th></tr></thead><tbody>\n",
    );
    for d in &c.domains {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            domain_link(Depth::Root, &d.name),
            esc(&d.description),
            esc(&d.owners.join(", ")),
            d.products
                .iter()
                .map(|p| product_link(Depth::Root, p))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    b.push_str("</tbody></table>\n");
    page(Depth::Root, "Domains", &c.mesh, &b, &[])
}

fn contacts_list(contacts: &[String]) -> String {
    if contacts.is_empty() {
        return "<p class=\"muted\">No contact channels declared.</p>\n".into();
    }
    let mut s = String::from("<ul class=\"contacts\">");
    for c in contacts {
        let _ = write!(s, "<li>{}</li>", contact(c));
    }
    s.push_str("</ul>\n");
    s
}

fn domain(c: &Catalog, d: &crate::model::DomainView) -> String {
    let dd = Depth::Sub;
    let mut b = format!(
        "<h1>Domain {}</h1>\n<p class=\"description\">{}</p>\n<h2>Owners</h2>\n<p>{}</p>\n{}",
        esc(&d.name),
        esc(&d.description),
        esc(&d.owners.join(", ")),
        contacts_list(&d.contacts)
    );
    let _ = write!(
        b,
        "<h2>Products ({})</h2>\n<table class=\"grid\"><thead><tr><th>Product</th><th>Description</th><th>Quality</th><th>SLA</th><th>Status</th></tr></thead><tbody>\n",
        d.products.len()
    );
    for id in &d.products {
        if let Some(p) = c.products.iter().find(|p| &p.id == id) {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                product_link(dd, id),
                esc(&p.description),
                badge("quality", &p.quality),
                badge("sla", &p.sla),
                badge("status", &p.status)
            );
        }
    }
    b.push_str("</tbody></table>\n");
    let _ = writeln!(b, "<h2>Consumes ({})</h2>", d.consumes.len());
    if d.consumes.is_empty() {
        b.push_str("<p class=\"muted\">This domain declares no <code>[[consumes]]</code>.</p>\n");
    } else {
        b.push_str("<table class=\"grid\"><thead><tr><th>Product</th><th>Principal</th><th>Group</th><th>Purpose</th></tr></thead><tbody>\n");
        for cv in &d.consumes {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                product_link(dd, &cv.product),
                principal_text(&cv.principal, cv.kafka_principal.as_deref()),
                esc(&cv.group),
                esc(cv.purpose.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>\n");
    }
    page(dd, &format!("Domain {}", d.name), &c.mesh, &b, &[])
}

fn principal_text(name: &str, kafka: Option<&str>) -> String {
    match kafka {
        Some(k) => format!("{} <code class=\"muted\">{}</code>", esc(name), esc(k)),
        None => esc(name),
    }
}

fn product(c: &Catalog, p: &ProductView) -> String {
    let dd = Depth::Sub;
    let mut b = String::new();
    let _ = write!(
        b,
        "<p class=\"crumbs\">{} / {}</p>\n<h1 id=\"product-id\">{}</h1>\n<p class=\"badges\">{} {} {} {}{}</p>\n",
        domain_link(dd, &p.domain),
        esc(&p.name),
        esc(&p.id),
        badge("quality", &p.quality),
        badge("sla", &p.sla),
        badge("status", &p.status),
        badge("visibility", &p.visibility),
        p.tags
            .iter()
            .map(|t| format!(" <span class=\"tag\">{}</span>", esc(t)))
            .collect::<String>()
    );
    if let Some(dep) = &p.deprecation {
        let _ = writeln!(
            b,
            "<div class=\"banner deprecated\" id=\"deprecation\" role=\"alert\"><strong>Deprecated</strong>{}{}.{}{}</div>",
            dep.since
                .as_ref()
                .map(|s| format!(" since {}", esc(s)))
                .unwrap_or_default(),
            dep.sunset
                .as_ref()
                .map(|s| format!(
                    "; sunset on <time datetime=\"{}\">{}</time>",
                    attr(s),
                    esc(s)
                ))
                .unwrap_or_default(),
            dep.replacement
                .as_ref()
                .map(|r| format!(" Use {} instead.", product_link(dd, r)))
                .unwrap_or_default(),
            dep.reason
                .as_ref()
                .map(|r| format!(" {}", esc(r)))
                .unwrap_or_default(),
        );
    }
    let _ = write!(
        b,
        "<p class=\"description\">{}</p>\n{}",
        esc(&p.description),
        live_note(c)
    );
    b.push_str("<nav class=\"toc\"><a href=\"#owners\">Owners</a> <a href=\"#topic\">Topic</a> <a href=\"#schema\">Schema</a> <a href=\"#consumers\">Consumers</a> <a href=\"#consume\">How to consume</a> <a href=\"#lineage\">Lineage</a> <a href=\"#acls\">ACLs</a> <a href=\"#policies\">Policies</a></nav>\n");

    // Owners.
    let _ = write!(
        b,
        "<section id=\"owners\"><h2>Owners</h2>\n<p>{}</p>\n{}</section>\n",
        esc(&p.owners.join(", ")),
        contacts_list(&p.contacts)
    );

    // Topic.
    let env = c
        .env
        .as_ref()
        .map(|e| format!(" in environment <code>{}</code>", esc(e)))
        .unwrap_or_else(|| " (repo defaults; no environment chosen)".into());
    let _ = write!(
        b,
        "<section id=\"topic\"><h2>Topic</h2>\n<p>Settings{env}, from <code>{}</code>.</p>\n<table class=\"kv\"><tbody>\
         <tr><th>name</th><td><code>{}</code></td></tr><tr><th>partitions</th><td>{}{}</td></tr><tr><th>replication factor</th><td>{}</td></tr>",
        esc(&p.file),
        esc(&p.topic.name),
        p.topic.partitions,
        p.live
            .as_ref()
            .and_then(|l| l.partitions)
            .map(|n| format!(" <span class=\"live\" id=\"live-partitions\">live: {n}</span>"))
            .unwrap_or_default(),
        p.topic.replication_factor
    );
    for (k, v) in &p.topic.config {
        let _ = write!(
            b,
            "<tr><th><code>{}</code></th><td><code>{}</code></td></tr>",
            esc(k),
            esc(v)
        );
    }
    b.push_str("</tbody></table></section>\n");

    // Schema.
    b.push_str("<section id=\"schema\"><h2>Schema</h2>\n");
    match &p.schema {
        None => b.push_str("<p class=\"muted\">No schema declared.</p>\n"),
        Some(s) => {
            let _ = writeln!(
                b,
                "<p>Compatibility <code>{}</code>.</p>",
                esc(&s.compatibility)
            );
            for (label, part) in [("Key", &s.key), ("Value", &s.value)] {
                if let Some(part) = part {
                    b.push_str(&schema_part(label, part, p));
                }
            }
        }
    }
    b.push_str("</section>\n");

    // Consumers.
    let _ = write!(
        b,
        "<section id=\"consumers\"><h2>Consumers</h2>\n<p>Who may consume it: {}.</p>\n",
        may_consume(p, dd)
    );
    if p.consumers.is_empty() {
        b.push_str("<p class=\"muted\">No domain declares a <code>[[consumes]]</code> of this product.</p>\n");
    } else {
        b.push_str("<table class=\"grid\" id=\"consumer-table\"><thead><tr><th>Domain</th><th>Principal</th><th>Group</th><th>Purpose</th></tr></thead><tbody>\n");
        for cv in &p.consumers {
            let _ = writeln!(
                b,
                "<tr class=\"consumer\"><td>{}</td><td>{}{}</td><td><code>{}</code></td><td>{}</td></tr>",
                domain_link(dd, &cv.domain),
                principal_text(&cv.principal, cv.kafka_principal.as_deref()),
                cv.connector
                    .as_deref()
                    .map(|n| format!(" (sink connector <code>{}</code>)", esc(n)))
                    .unwrap_or_default(),
                esc(&cv.group),
                esc(cv.purpose.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>\n");
    }
    if !p.connectors.is_empty() {
        b.push_str("<h3>Connectors</h3>\n<table class=\"grid\" id=\"connector-table\"><thead><tr><th>Connector</th><th>Kind</th><th>Domain</th><th>Class</th><th>State</th><th>Purpose</th></tr></thead><tbody>\n");
        for c in &p.connectors {
            let _ = writeln!(
                b,
                "<tr class=\"connector\"><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(&c.kind),
                domain_link(dd, &c.domain),
                esc(&c.class),
                esc(&c.state),
                esc(c.purpose.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>\n");
    }
    if let Some(l) = &p.live {
        b.push_str("<h3>Consumer groups seen on the topic</h3>\n");
        if l.groups.is_empty() {
            b.push_str("<p class=\"muted\">None has committed offsets on it.</p>\n");
        } else {
            b.push_str("<table class=\"grid\" id=\"live-groups\"><thead><tr><th>Group</th><th>State</th><th>Members</th><th>Last commit</th></tr></thead><tbody>\n");
            for g in &l.groups {
                let _ = writeln!(
                    b,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&g.group),
                    esc(&g.state),
                    g.members,
                    if g.never_committed {
                        "never (assigned, reading)".to_string()
                    } else {
                        esc(g.last_commit.as_deref().unwrap_or("unknown"))
                    }
                );
            }
            b.push_str("</tbody></table>\n");
        }
    }
    b.push_str("</section>\n");

    // How to consume.
    b.push_str(&how_to_consume(c, p));

    // Lineage.
    let _ = write!(
        b,
        "<section id=\"lineage\"><h2>Lineage</h2>\n<p>Upstream: {}. Downstream: {}. <a href=\"../lineage.html#{}\">Whole-mesh view</a>.</p>\n{}</section>\n",
        id_list(dd, &p.inputs),
        id_list(dd, &p.downstream),
        attr(&p.id),
        graph_block(dd, &p.id, false)
    );

    // ACLs.
    b.push_str("<section id=\"acls\"><h2>ACLs</h2>\n<p>The bindings mesh derives for this product (producers, consumers and their groups).</p>\n");
    if p.acls.is_empty() {
        b.push_str("<p class=\"muted\">None.</p>\n");
    } else {
        b.push_str("<table class=\"grid\"><thead><tr><th>Principal</th><th>Operation</th><th>Resource</th><th>Pattern</th></tr></thead><tbody>\n");
        for a in &p.acls {
            let _ = writeln!(
                b,
                "<tr><td><code>{}</code></td><td>{}</td><td>{} <code>{}</code></td><td>{}</td></tr>",
                esc(&a.principal),
                esc(&a.operation),
                esc(&a.resource_type),
                esc(&a.resource_name),
                esc(&a.pattern)
            );
        }
        b.push_str("</tbody></table>\n");
    }
    b.push_str("</section>\n");

    // Policies: the exemptions in full, the rules as links into policies.html (their
    // descriptions once there, rather than on every one of 2,000 pages).
    b.push_str("<section id=\"policies\"><h2>Policies</h2>\n");
    for e in &p.exemptions {
        let _ = writeln!(
            b,
            "<p class=\"exemption\">Exempt from <a href=\"../policies.html#rule-{}\"><code>{}</code></a> until {}: {}</p>",
            attr(&e.rule),
            esc(&e.rule),
            esc(&e.expires),
            esc(&e.reason)
        );
    }
    if p.policies.is_empty() {
        b.push_str("<p class=\"muted\">No product rule is in force.</p>\n");
    } else {
        let _ = write!(
            b,
            "<p>{} product rules are in force (global ones and its domain's own; each rule's <code>when</code> decides whether it checks this product): ",
            p.policies.len()
        );
        let links: Vec<String> = p
            .policies
            .iter()
            .filter_map(|id| c.rules.iter().find(|r| &r.rule == id))
            .map(|r| {
                format!(
                    "<a class=\"rule severity-{}\" href=\"../policies.html#rule-{}\"><code>{}</code></a>{}",
                    attr(&r.severity),
                    attr(&r.rule),
                    esc(&r.rule),
                    match &r.domain {
                        Some(d) => format!(" <span class=\"muted\">({}'s own)</span>", esc(d)),
                        None => String::new(),
                    }
                )
            })
            .collect();
        b.push_str(&links.join(", "));
        b.push_str(".</p>\n");
    }
    if !p.findings.is_empty() {
        b.push_str("<h3>Warnings</h3><ul>");
        for f in &p.findings {
            let _ = write!(b, "<li>{}</li>", esc(f));
        }
        b.push_str("</ul>\n");
    }
    b.push_str("</section>\n");

    page(
        dd,
        &p.id,
        &c.mesh,
        &b,
        &["data/graph.js", "assets/catalog.js"],
    )
}

fn may_consume(p: &ProductView, dd: Depth) -> String {
    match p.visibility.as_str() {
        "public" => "every domain (public)".into(),
        "private" => format!(
            "only its own domain, {} (private)",
            domain_link(dd, &p.domain)
        ),
        _ => format!(
            "{} (restricted)",
            p.may_consume
                .iter()
                .map(|d| domain_link(dd, d))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn id_list(dd: Depth, ids: &[String]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter()
        .map(|i| product_link(dd, i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn schema_part(label: &str, part: &SchemaPart, p: &ProductView) -> String {
    let mut b = format!(
        "<h3>{label} <code>{}</code> <span class=\"muted\">({}, {})</span></h3>\n",
        esc(&part.subject),
        esc(&part.format),
        esc(&part.file)
    );
    if let Some(l) = p.live.as_ref().and_then(|l| l.subjects.get(&part.subject)) {
        let _ = writeln!(
            b,
            "<p class=\"live\">Registered: version {} (id {}){}.</p>",
            l.version,
            l.id,
            l.registered_at
                .as_ref()
                .map(|t| format!(", applied by mesh at {}", esc(t)))
                .unwrap_or_default()
        );
    }
    if let Some(e) = &part.fields_error {
        let _ = writeln!(
            b,
            "<p class=\"muted\">Fields cannot be listed: {}</p>",
            esc(e)
        );
    } else {
        b.push_str("<table class=\"grid fields\"><thead><tr><th>Field</th><th>Type</th><th>Default</th><th>Description</th></tr></thead><tbody>\n");
        fn rows(b: &mut String, fields: &[FieldView], level: usize) {
            for f in fields {
                let _ = writeln!(
                    b,
                    "<tr class=\"field\" data-path=\"{}\"><td style=\"padding-left:{}em\"><code>{}</code>{}</td><td><code>{}</code></td><td>{}</td><td>{}{}</td></tr>",
                    attr(&f.path),
                    0.4 + level as f32 * 1.2,
                    esc(&f.name),
                    if f.optional {
                        " <span class=\"muted\">optional</span>"
                    } else {
                        ""
                    },
                    esc(&f.type_name),
                    f.default
                        .as_ref()
                        .map(|d| format!("<code>{}</code>", esc(&d.to_string())))
                        .unwrap_or_default(),
                    esc(f.doc.as_deref().unwrap_or("")),
                    if f.symbols.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " <span class=\"symbols\">one of {}</span>",
                            f.symbols
                                .iter()
                                .map(|s| format!("<code>{}</code>", esc(s)))
                                .collect::<Vec<_>>()
                                .join(" ")
                        )
                    }
                );
                rows(b, &f.children, level + 1);
            }
        }
        rows(&mut b, &part.fields, 0);
        b.push_str("</tbody></table>\n");
    }
    let _ = writeln!(
        b,
        "<details><summary>Raw {} schema</summary><pre class=\"raw\"><code>{}</code></pre></details>",
        label.to_lowercase(),
        esc(&part.raw)
    );
    b
}

fn how_to_consume(c: &Catalog, p: &ProductView) -> String {
    let mut props = String::new();
    let _ = writeln!(
        props,
        "# consumer settings for {} ({})",
        p.id,
        c.env
            .as_ref()
            .map(|e| format!("environment {e}"))
            .unwrap_or_else(|| "fill in your environment".into())
    );
    match &c.connection {
        Some(conn) => {
            let _ = writeln!(props, "bootstrap.servers={}", conn.bootstrap_servers);
            if let Some(s) = &conn.security_protocol {
                let _ = writeln!(props, "security.protocol={s}");
            }
            if let Some(m) = &conn.sasl_mechanism {
                let _ = writeln!(props, "sasl.mechanism={m}");
                props.push_str("# sasl credentials: your principal's, from your secret store\n");
            }
        }
        None => props.push_str("bootstrap.servers=<bootstrap servers of your environment>\n"),
    }
    let group = "<the group your domain declares in [[consumes]]>";
    let _ = writeln!(props, "group.id={group}");
    props.push_str("enable.auto.commit=true\nauto.offset.reset=earliest\n");
    if let Some(s) = &p.schema {
        let deser = |part: &Option<SchemaPart>| {
            part.as_ref().map(|part| match part.format.as_str() {
                "avro" => "io.confluent.kafka.serializers.KafkaAvroDeserializer",
                "json" => "io.confluent.kafka.serializers.json.KafkaJsonSchemaDeserializer",
                _ => "io.confluent.kafka.serializers.protobuf.KafkaProtobufDeserializer",
            })
        };
        let key =
            deser(&s.key).unwrap_or("org.apache.kafka.common.serialization.StringDeserializer");
        let _ = writeln!(props, "key.deserializer={key}");
        if let Some(v) = deser(&s.value) {
            let _ = writeln!(props, "value.deserializer={v}");
        }
        let url = c
            .connection
            .as_ref()
            .and_then(|c| c.schema_registry_url.clone())
            .unwrap_or_else(|| "<schema registry url of your environment>".into());
        let _ = writeln!(props, "schema.registry.url={url}");
    }
    let _ = writeln!(props, "# topic: {}", p.topic.name);
    let declare = format!(
        "# in domains/<your domain>/domain.toml\n[[consumes]]\nproduct = \"{}\"\nprincipal = \"<one of your domain's principals>\"\ngroup = \"<your domain>.<your application>\"   # a trailing * grants a prefix\npurpose = \"<what you use it for>\"\n",
        p.id
    );
    let mut groups: Vec<&str> = p.consumers.iter().map(|c| c.group.as_str()).collect();
    groups.sort();
    groups.dedup();
    format!(
        "<section id=\"consume\"><h2>How to consume</h2>\n\
         <p>Declare the use in your domain's <code>domain.toml</code>; once applied, mesh grants your principal READ on \
         <code>{}</code> and on your consumer group.</p>\n<pre class=\"snippet\" id=\"consumes-snippet\"><code>{}</code></pre>\n\
         <p><strong>Consumer group rule:</strong> consume only with the group your <code>[[consumes]]</code> entry names \
         (<code>&lt;domain&gt;.&lt;application&gt;</code> by convention; a trailing <code>*</code> grants every group with \
         that prefix) — mesh grants READ on no other group. Groups declared on this product: {}.</p>\n\
         <p>Client settings:</p>\n<pre class=\"snippet\" id=\"client-config\"><code>{}</code></pre>\n</section>\n",
        esc(&p.topic.name),
        esc(&declare),
        if groups.is_empty() {
            "none yet".to_string()
        } else {
            groups
                .iter()
                .map(|g| format!("<code>{}</code>", esc(g)))
                .collect::<Vec<_>>()
                .join(", ")
        },
        esc(&props)
    )
}
