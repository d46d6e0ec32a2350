//! Connectors through the workflow the binary runs, on a cluster and a Connect cluster in
//! memory: created after their ACLs, converged, validated,
//! deleted when their file goes, and a connector nobody declared never named.

mod common;

use std::collections::BTreeMap;

use common::{CATALOG, Memory, Rank, World};
use mesh_plan::apply::Target;
use mesh_plan::connect::LiveConnector;
use mesh_plan::*;
use mesh_workflow::{ApplyRun, Readers};

const MESH_TOML: &str = "[mesh]\nname = \"t\"\ncatalog_topic = \"_mesh-catalog\"\n\n[environments.mem]\nbootstrap_servers = \"mem:9092\"\n[environments.mem.connect]\nurl = \"http://connect:8083\"\n";
const DOMAIN: &str = "name = \"sales\"\nowners = [\"@acme/sales\"]\n[principals]\nsvc = \"User:sales-svc\"\nsink = \"User:sales-sink\"\n";
const PRODUCT: &str = "description = \"Orders\"\nquality = \"curated\"\nsla = \"tier-2\"\nproducers = [\"svc\"]\n[topic]\npartitions = 1\nreplication_factor = 1\n";
const SINK: &str = "class = \"org.apache.kafka.connect.file.FileStreamSinkConnector\"\nprincipal = \"sink\"\nconsumes = \"sales.orders\"\n[config]\n\"file\" = \"/tmp/orders.txt\"\n";

fn report(sink: Option<&str>) -> mesh_check::Report {
    let mut files: BTreeMap<String, Vec<u8>> = [
        ("mesh.toml", MESH_TOML),
        ("domains/sales/domain.toml", DOMAIN),
        ("domains/sales/products/orders.toml", PRODUCT),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
    .collect();
    if let Some(sink) = sink {
        files.insert(
            "domains/sales/connectors/orders-sink.toml".into(),
            sink.as_bytes().to_vec(),
        );
    }
    let today = mesh_model::doc::Date::from_unix_days(20_000);
    let report = mesh_check::validate(&files, Some("mem"), today);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report
}

fn desired(report: &mesh_check::Report) -> DesiredState {
    let mut d = mesh_plan::desired(&report.mesh, None);
    assert!(mesh_plan::connect::resolve(&mut d, &|_| None).is_empty());
    d
}

fn plan(report: &mesh_check::Report, m: &Memory) -> mesh_workflow::Planned {
    let readers = Readers {
        cluster: m,
        registry: None,
        connect: Some(m),
    };
    mesh_workflow::plan(report, &desired(report), readers, 0, &mut |_| {}).unwrap()
}

fn apply(planned: &mesh_workflow::Planned, m: &Memory) {
    let run = ApplyRun {
        stop: &|| false,
        target: Target {
            cluster: m,
            registry: None,
            connect: Some(m),
            before_connectors: None,
        },
        reader: m,
        live: &planned.live,
        principals: &planned.request.principals,
        catalog_topic: CATALOG,
        now: "2026-01-01T00:00:00Z",
    };
    let applied = mesh_workflow::apply(&planned.plan, &run, &mut |_, _, _| {}, &mut || true);
    assert_eq!(applied.report.failed(), 0, "{:?}", applied.report);
}

fn hand_made() -> LiveConnector {
    LiveConnector {
        config: [("connector.class".to_string(), "X".to_string())].into(),
        state: "RUNNING".into(),
        ..Default::default()
    }
}

#[test]
fn a_declared_connector_is_created_after_its_acls_converges_and_is_deleted_with_its_file() {
    let m = Memory::new(World {
        brokers: 1,
        connectors: [("by-hand".to_string(), hand_made())].into(),
        ..Default::default()
    });
    let with = report(Some(SINK));
    let first = plan(&with, &m);
    assert!(first.plan.errors.is_empty(), "{:?}", first.plan.errors);
    assert!(
        first.plan.actions.iter().any(|a| matches!(a,
            Action::CreateConnector { connector, config, .. }
                if connector == "orders-sink" && config["topics"] == "sales.orders"
                && config["connector.class"] == "org.apache.kafka.connect.file.FileStreamSinkConnector")),
        "{:#?}",
        first.plan.actions
    );
    assert!(!format!("{:?}", first.plan).contains("by-hand"));
    apply(&first, &m);

    // Written after every ACL create, before the catalog.
    let log = m.log.lock().unwrap().clone();
    let at = |call: &str| log.iter().position(|(_, c, _)| *c == call).unwrap();
    let last_acl = log
        .iter()
        .rposition(|(_, c, _)| *c == "create_acls")
        .unwrap();
    assert!(at("put_config") > last_acl, "{log:?}");
    assert!(at("put_config") < at("write_catalog"), "{log:?}");
    assert_eq!(log[at("put_config")].0, Rank::Connectors);

    let world = m.world();
    assert_eq!(
        world.connectors["orders-sink"].config["file"],
        "/tmp/orders.txt"
    );
    assert_eq!(world.connectors["by-hand"], hand_made());
    let record = &world.catalog["sales.orders"];
    assert!(
        record
            .applied
            .as_ref()
            .unwrap()
            .connectors
            .contains_key("orders-sink")
    );

    let again = plan(&with, &m);
    assert!(again.plan.is_empty(), "{:#?}", again.plan.actions);

    // A failed task is a note, not a change.
    m.world
        .lock()
        .unwrap()
        .connectors
        .get_mut("orders-sink")
        .unwrap()
        .failed_tasks = 1;
    let mut notes = Vec::new();
    let readers = Readers {
        cluster: &m,
        registry: None,
        connect: Some(&m),
    };
    let noted =
        mesh_workflow::plan(&with, &desired(&with), readers, 0, &mut |n| notes.push(n)).unwrap();
    assert!(noted.plan.is_empty());
    assert!(
        matches!(&notes[..], [mesh_workflow::Note::Health(n)] if n.contains("orders-sink is RUNNING with 1 failed task(s)")),
        "{notes:?}"
    );
    m.world
        .lock()
        .unwrap()
        .connectors
        .get_mut("orders-sink")
        .unwrap()
        .failed_tasks = 0;

    // Connect's validation refuses a value: a plan error naming the file and the key.
    let bad = report(Some(&SINK.replace("/tmp/orders.txt", "invalid")));
    let refused = plan(&bad, &m);
    assert!(
        refused
            .plan
            .errors
            .iter()
            .any(|e| e.message.contains("orders-sink.toml")
                && e.message.contains("`file`: Invalid value")),
        "{:?}",
        refused.plan.errors
    );

    // The file is gone: the recorded connector is deleted, first of the deletions.
    let without = report(None);
    let last = plan(&without, &m);
    assert!(
        last.plan.actions.iter().any(|a| matches!(a,
            Action::DeleteConnector { connector, .. } if connector == "orders-sink")),
        "{:#?}",
        last.plan.actions
    );
    m.log.lock().unwrap().clear();
    apply(&last, &m);
    let log = m.log.lock().unwrap().clone();
    let first_delete = log
        .iter()
        .position(|(_, c, _)| *c == "delete_connector")
        .unwrap();
    assert!(
        log[..first_delete]
            .iter()
            .all(|(_, c, _)| *c != "delete_acls"),
        "{log:?}"
    );
    let world = m.world();
    assert!(!world.connectors.contains_key("orders-sink"));
    assert_eq!(world.connectors["by-hand"], hand_made());
    assert!(plan(&without, &m).plan.is_empty());
}
