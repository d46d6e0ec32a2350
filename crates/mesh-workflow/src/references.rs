//! References to products the repo no longer declares: validation errors offline, but possibly
//! retirements in progress, which only the catalog can tell once the cluster is read.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use mesh_diagnostics::Diagnostic;
use mesh_plan::CatalogRecord;

/// A `[[consumes]]` or `inputs` entry naming a product the repo does not declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dangling {
    pub product: String,
    pub file: String,
    pub span: Range<usize>,
}

/// Every reference to an undeclared product, from consumers and from inputs.
pub fn dangling(mesh: &mesh_model::Mesh) -> Vec<Dangling> {
    let declared: BTreeSet<&str> = mesh.products.iter().map(|p| p.id.as_str()).collect();
    let mut out = Vec::new();
    for (domain, c) in mesh.consumers() {
        if !declared.contains(c.product.value.as_str())
            && !mesh.unreadable_products.contains(&c.product.value)
        {
            out.push(Dangling {
                product: c.product.value.clone(),
                file: domain.file.clone(),
                span: c.product.span.clone(),
            });
        }
    }
    for p in &mesh.products {
        for i in &p.inputs {
            if !declared.contains(i.value.as_str())
                && i.value != p.id
                && !mesh.unreadable_products.contains(&i.value)
            {
                out.push(Dangling {
                    product: i.value.clone(),
                    file: p.file.clone(),
                    span: i.span.clone(),
                });
            }
        }
    }
    out
}

/// The dangling references of a mesh, and which diagnostics they defer.
#[derive(Clone, Debug, Default)]
pub struct References {
    dangling: Vec<Dangling>,
}

impl References {
    pub fn of(mesh: &mesh_model::Mesh) -> Self {
        References {
            dangling: dangling(mesh),
        }
    }

    /// Whether a diagnostic is the "unknown-product" error of one of these references: decided
    /// once the catalog is read, not before.
    pub fn is_deferred(&self, d: &Diagnostic) -> bool {
        d.code == "unknown-product"
            && self
                .dangling
                .iter()
                .any(|r| r.file == d.file && r.span == d.span)
    }

    /// Whether a deferred diagnostic names a product the catalog does not know either: a plain
    /// error after all.
    pub fn is_unknown(&self, d: &Diagnostic, catalog: &BTreeMap<String, CatalogRecord>) -> bool {
        self.is_deferred(d)
            && self
                .dangling
                .iter()
                .any(|r| r.file == d.file && r.span == d.span && !catalog.contains_key(&r.product))
    }
}
