//! What the repo's lineage and policies add to a plan: who a breaking schema change reaches,
//! and the `change` rules over the planned actions.

use std::collections::BTreeMap;

use mesh_check::Report;
use mesh_plan::{DesiredState, LiveState, Plan};

use crate::plan::Note;

/// Who a breaking change to `product` reaches: downstream products and consumers, with owners.
pub(crate) fn affected(report: &Report, product: &str) -> Vec<String> {
    let Some(impact) = report.lineage.impact(product) else {
        return Vec::new();
    };
    let consumers = impact
        .consumers
        .iter()
        .filter(|c| c.depth == 1)
        .map(|c| format!("consumer {} (owners: {})", c.id, c.owners.join(", ")));
    let products = impact.products.iter().map(|p| {
        format!(
            "downstream product {} (owners: {})",
            p.id,
            p.owners.join(", ")
        )
    });
    consumers.chain(products).collect()
}

/// Actions described for `change` rules at a time: their descriptions (each with its product's
/// view) took 63 MiB at once for an apply of 2,000 new products with schemas.
const CHANGES_AT_ONCE: usize = 1_000;

/// Governance over the planned actions (`change` rules): an error blocks the plan like any other
/// plan error; a warning becomes a [`Note`].
pub(crate) fn change_policies(
    report: &Report,
    desired: &DesiredState,
    live: &LiveState,
    plan: &mut Plan,
    notes: &mut dyn FnMut(Note),
) {
    if !report
        .policies
        .rules
        .iter()
        .any(|r| r.applies_to == "change")
    {
        return;
    }
    for actions in plan.actions.chunks(CHANGES_AT_ONCE) {
        change_policies_of(report, desired, live, actions, &mut plan.errors, notes);
    }
}

fn change_policies_of(
    report: &Report,
    desired: &DesiredState,
    live: &LiveState,
    actions: &[mesh_plan::Action],
    errors: &mut Vec<mesh_plan::PlanError>,
    notes: &mut dyn FnMut(Note),
) {
    let changes: Vec<mesh_policy::ChangeSubject> =
        mesh_plan::changes::changes_of(actions, desired, live)
            .into_iter()
            .map(|c| mesh_policy::ChangeSubject {
                product_view: report
                    .mesh
                    .product(&c.product)
                    .is_none()
                    .then(|| live.catalog.get(&c.product))
                    .flatten()
                    .map(|r| retired_view(r, live)),
                kind: c.kind.to_string(),
                resource: c.resource.to_string(),
                product: c.product,
                before: c.before,
                after: c.after,
            })
            .collect();
    for (i, d) in mesh_policy::evaluate_changes(&report.mesh, &report.policies, &changes) {
        if d.is_error() {
            errors.push(mesh_plan::PlanError::new(
                Some(&changes[i].product),
                d.message.clone(),
                d.help.clone().unwrap_or_default(),
            ));
        } else {
            notes(Note::PolicyWarning {
                code: d.code.clone(),
                message: d.message.clone(),
            });
        }
    }
}

/// What a `change` rule sees as the product of a retirement: its last applied catalog record,
/// with the live topic.
pub fn retired_view(r: &mesh_plan::CatalogRecord, live: &LiveState) -> serde_json::Value {
    let topic = live.topics.get(&r.topic);
    let config: BTreeMap<&str, &str> = topic
        .map(|t| {
            t.configs
                .iter()
                .filter(|(_, c)| c.source == mesh_plan::ConfigSource::DynamicTopic)
                .filter_map(|(k, c)| Some((k.as_str(), c.value.as_deref()?)))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "id": r.product,
        "domain": r.domain,
        "name": r.product.split_once('.').map_or(r.product.as_str(), |(_, n)| n),
        "description": r.description,
        "owners": r.owners,
        "quality": r.quality,
        "sla": r.sla,
        "tags": r.tags,
        "status": r.status,
        "inputs": r.inputs,
        "producers": [],
        "topic": {
            "name": r.topic,
            "partitions": topic.map_or(0, |t| t.partitions),
            "replication_factor": topic.map_or(0, |t| t.replication_factor),
            "config": config,
        },
        "schema": null,
        "access": {"visibility": "public", "allow_domains": []},
        "deprecation": r.deprecation,
    })
}
