//! Cross-file checks: every reference resolves, access rules hold, names are unique.

use std::collections::BTreeMap;

use mesh_diagnostics::{Diagnostic, Diagnostics};

use crate::doc::{Spanned, did_you_mean};
use crate::model::*;

pub(crate) fn cross_check(mesh: &Mesh, ds: &mut Diagnostics) {
    unique_ids_and_topics(mesh, ds);
    streams_applications(mesh, ds);
    connectors(mesh, ds);
    let ids: Vec<&str> = mesh.products.iter().map(|p| p.id.as_str()).collect();
    // `None` when the product's file exists but could not be read: that error is already reported.
    // `referrer` is never suggested (a product is not its own input or replacement).
    let unknown_product = |file: &str,
                           span: std::ops::Range<usize>,
                           what: &str,
                           id: &str,
                           referrer: &str| {
        if mesh.unreadable_products.contains(id) {
            return None;
        }
        let d = Diagnostic::error(
            "unknown-product",
            file,
            span,
            format!("{what} `{id}` does not exist"),
        );
        let help = match did_you_mean(id, ids.iter().copied().filter(|i| *i != referrer)) {
            Some(s) => format!("did you mean `{s}`? Product ids are <domain>.<name>"),
            None => "name an existing product as <domain>.<name>".to_string(),
        };
        // A consumer or a derived product of a product whose file was removed to retire
        // it: `mesh plan` turns this into a retirement blocker when the cluster still has it.
        let help = if matches!(what, "consumed product" | "input") {
            format!(
                "{help}. If `{id}` is being retired (its file removed), this reference must go first: a product is retired only once nothing consumes it"
            )
        } else {
            help
        };
        Some(d.with_help(help))
    };

    for p in &mesh.products {
        let domain = mesh.domain(&p.domain);
        for input in &p.inputs {
            if input.value == p.id {
                ds.push(
                    Diagnostic::error(
                        "lineage-cycle",
                        &p.file,
                        input.span.clone(),
                        format!("{} lists itself as an input", p.id),
                    )
                    .with_help(
                        "inputs name the products this one is derived from; remove its own id",
                    ),
                );
            } else if let Some(src) = mesh.product(&input.value) {
                if let Some(reason) = access_denied(src, &p.domain) {
                    ds.push(denied(
                        src,
                        &p.domain,
                        (&p.file, input.span.clone()),
                        format!("{} is derived from {}, which {reason}", p.id, src.id),
                        "remove this input",
                    ));
                }
            } else {
                ds.extend(unknown_product(
                    &p.file,
                    input.span.clone(),
                    "input",
                    &input.value,
                    &p.id,
                ));
            }
        }
        if let Some(domain) = domain {
            for producer in &p.producers {
                if !domain.principals.contains_key(&producer.value) {
                    ds.push(unknown_principal(
                        domain,
                        &p.file,
                        producer.span.clone(),
                        &producer.value,
                    ));
                }
            }
        }
        for allowed in &p.access.allow_domains {
            if mesh.domain(&allowed.value).is_none() {
                let d = Diagnostic::error(
                    "unknown-domain",
                    &p.file,
                    allowed.span.clone(),
                    format!(
                        "allow_domains names `{}`, which is not a domain",
                        allowed.value
                    ),
                );
                ds.push(
                    match did_you_mean(&allowed.value, mesh.domains.iter().map(|d| d.name.as_str()))
                    {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help("name a domain that has a folder under domains/"),
                    },
                );
            }
        }
        if let Some(dep) = &p.deprecation
            && let Some(r) = &dep.replacement
        {
            if r.value == p.id {
                ds.push(
                    Diagnostic::error(
                        "bad-deprecation",
                        &p.file,
                        r.span.clone(),
                        "a product cannot be its own replacement",
                    )
                    .with_help("name the product consumers should move to"),
                );
            } else if mesh.product(&r.value).is_none() {
                ds.extend(unknown_product(
                    &p.file,
                    r.span.clone(),
                    "replacement",
                    &r.value,
                    &p.id,
                ));
            }
        }
    }

    for (domain, c) in mesh.consumers() {
        if !domain.principals.contains_key(&c.principal.value) {
            ds.push(unknown_principal(
                domain,
                &domain.file,
                c.principal.span.clone(),
                &c.principal.value,
            ));
        }
        let Some(product) = mesh.product(&c.product.value) else {
            ds.extend(unknown_product(
                &domain.file,
                c.product.span.clone(),
                "consumed product",
                &c.product.value,
                "",
            ));
            continue;
        };
        if let Some(reason) = access_denied(product, &domain.name) {
            ds.push(denied(
                product,
                &domain.name,
                (&domain.file, c.product.span.clone()),
                format!(
                    "domain `{}` consumes {}, which {reason}",
                    domain.name, product.id
                ),
                "remove this [[consumes]]",
            ));
        }
        if product.status == Status::Deprecated {
            let dep = product.deprecation.as_ref();
            let sunset = dep
                .and_then(|d| d.sunset)
                .map_or_else(|| "not set".to_string(), |s| s.to_string());
            let replacement = dep
                .and_then(|d| d.replacement.as_ref())
                .filter(|r| mesh.product(&r.value).is_some())
                .map(|r| r.value.clone());
            ds.push(
                Diagnostic::warning(
                    "consumes-deprecated",
                    &domain.file,
                    c.product.span.clone(),
                    format!("{} is deprecated; its sunset is {sunset}", product.id),
                )
                .with_help(match replacement {
                    Some(r) => format!("move to {r} before the sunset"),
                    None => "plan to stop consuming it before the sunset".into(),
                }),
            );
        }
    }
}

/// An access-rule refusal at the referring place, pointing also at the product's access rules.
fn denied(
    product: &Product,
    domain: &str,
    (file, span): (&str, std::ops::Range<usize>),
    message: String,
    or_else: &str,
) -> Diagnostic {
    Diagnostic::error("access-denied", file, span, message)
        .with_related(
            &product.file,
            product.access.span.clone(),
            format!("{}'s access rules", product.id),
        )
        .with_help(access_help(product, domain, or_else))
}

/// What a consumer refused by access rules can do about it.
fn access_help(product: &Product, domain: &str, or_else: &str) -> String {
    let owners = product.owners.join(", ");
    match product.access.visibility {
        Visibility::Private => format!(
            "{} is private; ask its owners ({owners}) to make it public, or restricted with `{domain}` in allow_domains — or {or_else}",
            product.id
        ),
        _ => format!(
            "ask the owners of {} ({owners}) to add `{domain}` to allow_domains, or {or_else}",
            product.id
        ),
    }
}

fn unknown_principal(
    domain: &Domain,
    file: &str,
    span: std::ops::Range<usize>,
    name: &str,
) -> Diagnostic {
    let d = Diagnostic::error(
        "unknown-principal",
        file,
        span,
        format!(
            "principal `{name}` is not declared in domain `{}`",
            domain.name
        ),
    );
    match did_you_mean(name, domain.principals.keys().map(String::as_str)) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!(
            "declare it under [principals] in {}: {name} = \"User:...\"",
            domain.file
        )),
    }
}

/// Why `consumer_domain` may not read `product`, if it may not.
pub fn access_denied(product: &Product, consumer_domain: &str) -> Option<String> {
    if product.domain == consumer_domain {
        return None;
    }
    match product.access.visibility {
        Visibility::Public => None,
        Visibility::Private => Some(format!("is private to domain `{}`", product.domain)),
        Visibility::Restricted
            if product
                .access
                .allow_domains
                .iter()
                .any(|d| d.value == consumer_domain) =>
        {
            None
        }
        Visibility::Restricted => Some(format!(
            "is restricted to domains [{}]",
            product
                .access
                .allow_domains
                .iter()
                .map(|d| d.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn unique_ids_and_topics(mesh: &Mesh, ds: &mut Diagnostics) {
    let mut ids: BTreeMap<&str, &Product> = BTreeMap::new();
    let mut topics: BTreeMap<String, &Product> = BTreeMap::new();
    for p in &mesh.products {
        if let Some(first) = ids.insert(&p.id, p) {
            ds.push(
                Diagnostic::error(
                    "duplicate-product",
                    &p.file,
                    0..0,
                    format!("product id {} is declared twice", p.id),
                )
                .with_related(&first.file, 0..0, "first declared here")
                .with_help(
                    "give one of the products another name (its `name` field or its file name)",
                ),
            );
            continue;
        }
        // Kafka treats '.' and '_' alike in metric names and refuses to create a topic that
        // collides with an existing one that way.
        let key = p.topic.name.replace('.', "_");
        if p.topic.name == mesh.settings.catalog_topic {
            ds.push(
                Diagnostic::error(
                    "duplicate-topic",
                    &p.file,
                    p.topic.name_span.clone(),
                    format!("topic `{}` is the mesh's catalog topic", p.topic.name),
                )
                .with_help("choose another topic name; the catalog topic is reserved for mesh"),
            );
        }
        if let Some(first) = topics.insert(key, p) {
            let message = if first.topic.name == p.topic.name {
                format!(
                    "topic `{}` is used by both {} and {}",
                    p.topic.name, first.id, p.id
                )
            } else {
                format!(
                    "topics `{}` ({}) and `{}` ({}) collide: Kafka treats '.' and '_' alike",
                    first.topic.name, first.id, p.topic.name, p.id
                )
            };
            ds.push(
                Diagnostic::error(
                    "duplicate-topic",
                    &p.file,
                    p.topic.name_span.clone(),
                    message,
                )
                .with_related(
                    &first.file,
                    first.topic.name_span.clone(),
                    "the other product",
                )
                .with_help("each product owns its own topic; set a different [topic] name"),
            );
        }
    }
}

/// Kafka Streams applications own `<application_id>-*`: no two share an application id, and no
/// product's topic lies under one's prefix (the application would hold ALL on it, and mesh
/// would treat it as the application's internal topic).
fn streams_applications(mesh: &Mesh, ds: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, (&Domain, &Spanned<String>)> = BTreeMap::new();
    for d in &mesh.domains {
        for (name, spec) in &d.principal_specs {
            let produces = mesh
                .products
                .iter()
                .any(|p| p.domain == d.name && p.producers.iter().any(|x| &x.value == name));
            let consumes = d.consumes.iter().any(|c| &c.principal.value == name);
            if let Some(t) = &spec.transactional_id
                && !produces
            {
                ds.push(
                    Diagnostic::warning(
                        "unused-principal",
                        &d.file,
                        t.span.clone(),
                        format!("principal `{name}` declares a transactional id but produces no product"),
                    )
                    .with_help("list it in the `producers` of the products it writes, or remove transactional_id"),
                );
            }
            let Some(app) = &spec.application_id else {
                continue;
            };
            if !produces && !consumes {
                ds.push(
                    Diagnostic::warning(
                        "unused-principal",
                        &d.file,
                        app.span.clone(),
                        format!("streams application `{name}` neither consumes nor produces a product"),
                    )
                    .with_help("add the [[consumes]] it reads and list it in the `producers` of what it writes"),
                );
            }
            if let Some((first_domain, first)) = seen.insert(&app.value, (d, app)) {
                ds.push(
                    Diagnostic::error(
                        "duplicate-application-id",
                        &d.file,
                        app.span.clone(),
                        format!(
                            "application_id `{}` of principal `{name}` is also declared in domain {}",
                            app.value, first_domain.name
                        ),
                    )
                    .with_related(&first_domain.file, first.span.clone(), "declared here first")
                    .with_help("each Kafka Streams application has its own application_id"),
                );
                continue;
            }
            let prefix = format!("{}-", app.value);
            for p in mesh
                .products
                .iter()
                .filter(|p| p.topic.name.starts_with(&prefix))
            {
                ds.push(
                    Diagnostic::error(
                        "topic-under-application",
                        &p.file,
                        p.topic.name_span.clone(),
                        format!(
                            "topic `{}` lies under `{prefix}`, the internal-topic prefix of streams application `{}` ({}/{name})",
                            p.topic.name, app.value, d.name
                        ),
                    )
                    .with_related(&d.file, app.span.clone(), "the application id")
                    .with_help("give the product a topic name outside the application's prefix, or change the application_id"),
                );
            }
        }
    }
}

/// Each connector: a unique name, a principal of its domain, an existing product it may read
/// (a sink, under the same access rules as a `[[consumes]]`) or that its domain owns (a
/// source), and for a sink, `topics` (when set) naming that product's topic.
fn connectors(mesh: &Mesh, ds: &mut Diagnostics) {
    let mut names: BTreeMap<&str, &Connector> = BTreeMap::new();
    for c in &mesh.connectors {
        if let Some(first) = names.insert(&c.name, c) {
            ds.push(
                Diagnostic::error(
                    "duplicate-connector",
                    &c.file,
                    0..0,
                    format!("connector `{}` is declared twice", c.name),
                )
                .with_related(&first.file, 0..0, "first declared here")
                .with_help("connector names are one namespace on the Connect cluster; rename one"),
            );
        }
        let Some(domain) = mesh.domain(&c.domain) else {
            continue;
        };
        if !domain.principals.contains_key(&c.principal.value) {
            ds.push(unknown_principal(
                domain,
                &c.file,
                c.principal.span.clone(),
                &c.principal.value,
            ));
        }
        let wanted = c.product();
        let Some(product) = mesh.product(&wanted.value) else {
            if !mesh.unreadable_products.contains(&wanted.value) {
                let d = Diagnostic::error(
                    "unknown-product",
                    &c.file,
                    wanted.span.clone(),
                    format!(
                        "connector `{}` names `{}`, which does not exist",
                        c.name, wanted.value
                    ),
                );
                let ids = mesh.products.iter().map(|p| p.id.as_str());
                ds.push(match did_you_mean(&wanted.value, ids) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("name an existing product as <domain>.<name>"),
                });
            }
            continue;
        };
        match &c.flow {
            ConnectorFlow::Sink(_) => {
                if let Some(reason) = access_denied(product, &domain.name) {
                    ds.push(denied(
                        product,
                        &domain.name,
                        (&c.file, wanted.span.clone()),
                        format!(
                            "sink connector `{}` consumes {}, which {reason}",
                            c.name, product.id
                        ),
                        "remove this connector",
                    ));
                }
                for key in ["topics", "topics.regex"] {
                    let Some(v) = c.config.get(key) else { continue };
                    if key == "topics.regex" || v.value.trim() != product.topic.name {
                        ds.push(
                            Diagnostic::error(
                                "bad-connector",
                                &c.file,
                                v.span.clone(),
                                format!(
                                    "a sink connector reads exactly its product's topic `{}`; `{key}` says otherwise",
                                    product.topic.name
                                ),
                            )
                            .with_help("remove it: mesh sets `topics` from `consumes`"),
                        );
                    }
                }
            }
            ConnectorFlow::Source(_) => {
                if product.domain != domain.name {
                    ds.push(
                        Diagnostic::error(
                            "bad-connector",
                            &c.file,
                            wanted.span.clone(),
                            format!(
                                "source connector `{}` produces {}, a product of domain {}",
                                c.name, product.id, product.domain
                            ),
                        )
                        .with_help("a domain's connectors produce its own products; move the connector to that domain"),
                    );
                }
            }
        }
    }
}
