use super::*;
use crate::SmallMap;
use crate::drift::{Applied, AppliedConnector, Configs};
use crate::state::CatalogRecord;

fn desired_sink(name: &str, extra: &[(&str, &str)]) -> DesiredConnector {
    let mut config: BTreeMap<String, String> = [
        ("name", name),
        ("connector.class", "FileStreamSink"),
        ("tasks.max", "1"),
        ("topics", "sales.orders"),
        ("file", "/tmp/out.txt"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    config.insert("name".into(), name.into());
    DesiredConnector {
        name: name.into(),
        domain: "sales".into(),
        product: "sales.orders".into(),
        sink: true,
        file: format!("domains/sales/connectors/{name}.toml"),
        class: "FileStreamSink".into(),
        state: ConnectorState::Running,
        config,
        resolved: None,
    }
}

fn live_of(c: &DesiredConnector, state: &str) -> LiveConnector {
    LiveConnector {
        config: c.effective().clone(),
        state: state.into(),
        kind: "sink".into(),
        failed_tasks: 0,
    }
}

fn record_with(connectors: &[&DesiredConnector]) -> CatalogRecord {
    CatalogRecord {
        product: "sales.orders".into(),
        domain: "sales".into(),
        topic: "sales.orders".into(),
        description: String::new(),
        owners: vec![],
        quality: String::new(),
        sla: String::new(),
        status: "active".into(),
        tags: vec![],
        inputs: vec![],
        declared_configs: vec![],
        deprecation: None,
        revision: None,
        applied_at: String::new(),
        applied: Some(Applied {
            partitions: 1,
            replication_factor: 1,
            configs: Configs::default(),
            acls: Default::default(),
            subjects: SmallMap::default(),
            connectors: connectors
                .iter()
                .map(|c| (c.name.clone(), AppliedConnector::of(c)))
                .collect(),
        }),
    }
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| vars.get(k).cloned()
}

fn planned(d: &DesiredState, live: &LiveState) -> Vec<Action> {
    let mut p = Plan::default();
    plan_connectors(d, live, &mut p);
    p.actions
}

#[test]
fn nothing_is_planned_without_a_connect_cluster() {
    let mut d = DesiredState::default();
    d.connectors
        .insert("orders-sink".into(), desired_sink("orders-sink", &[]));
    assert!(planned(&d, &LiveState::default()).is_empty());
}

#[test]
fn a_missing_connector_is_created_with_its_config_as_written() {
    let mut d = DesiredState::default();
    let mut c = desired_sink(
        "orders-sink",
        &[("consumer.override.sasl.jaas.config", "${SINK_JAAS}")],
    );
    c.state = ConnectorState::Paused;
    d.connectors.insert(c.name.clone(), c);
    assert!(resolve(&mut d, &env(&[("SINK_JAAS", "secret-jaas-line")])).is_empty());
    let live = LiveState {
        connectors: Some(BTreeMap::new()),
        ..LiveState::default()
    };
    let actions = planned(&d, &live);
    let [Action::CreateConnector { config, state, .. }] = &actions[..] else {
        panic!("{actions:?}");
    };
    assert_eq!(*state, ConnectorState::Paused);
    assert_eq!(config["consumer.override.sasl.jaas.config"], "${SINK_JAAS}");
    assert!(!format!("{actions:?}").contains("secret-jaas-line"));
}

#[test]
fn config_changes_show_what_differs_and_hide_secrets() {
    let mut d = DesiredState::default();
    let c = desired_sink(
        "orders-sink",
        &[("consumer.override.sasl.jaas.config", "${SINK_JAAS}")],
    );
    d.connectors.insert(c.name.clone(), c);
    assert!(resolve(&mut d, &env(&[("SINK_JAAS", "new-jaas-line")])).is_empty());
    let mut have = live_of(&d.connectors["orders-sink"], "RUNNING");
    have.config.insert("file".into(), "/tmp/old.txt".into());
    have.config.insert(
        "consumer.override.sasl.jaas.config".into(),
        "old-jaas-line".into(),
    );
    have.config.insert("errors.tolerance".into(), "all".into());
    let live = LiveState {
        connectors: Some([("orders-sink".to_string(), have)].into()),
        ..LiveState::default()
    };
    let actions = planned(&d, &live);
    let [Action::UpdateConnector { changes, .. }] = &actions[..] else {
        panic!("{actions:?}");
    };
    let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "consumer.override.sasl.jaas.config",
            "errors.tolerance",
            "file"
        ]
    );
    assert_eq!(changes[0].before.as_deref(), Some(SENSITIVE));
    assert_eq!(changes[0].after.as_deref(), Some("${SINK_JAAS}"));
    assert_eq!(changes[1].after, None, "a key nobody declared is removed");
    assert_eq!(changes[2].before.as_deref(), Some("/tmp/old.txt"));
    let text = format!("{actions:?}");
    assert!(!text.contains("old-jaas-line") && !text.contains("new-jaas-line"));
}

#[test]
fn same_config_plans_nothing_and_states_are_reconciled() {
    let mut d = DesiredState::default();
    let c = desired_sink("orders-sink", &[("connection.password", "${file:/s:pw}")]);
    d.connectors.insert(c.name.clone(), c);
    assert!(
        resolve(&mut d, &env(&[])).is_empty(),
        "Connect's references stay"
    );
    let have = live_of(&d.connectors["orders-sink"], "RUNNING");
    assert_eq!(have.config["connection.password"], "${file:/s:pw}");
    let mut live = LiveState {
        connectors: Some([("orders-sink".to_string(), have.clone())].into()),
        ..LiveState::default()
    };
    assert!(planned(&d, &live).is_empty());
    // A FAILED connector is not paused or resumed by a plan that wants it running.
    live.connectors
        .as_mut()
        .unwrap()
        .get_mut("orders-sink")
        .unwrap()
        .state = "FAILED".into();
    assert!(planned(&d, &live).is_empty());
    for (want, have, expect) in [
        (ConnectorState::Paused, "RUNNING", true),
        (ConnectorState::Running, "PAUSED", true),
        (ConnectorState::Stopped, "PAUSED", true),
        (ConnectorState::Paused, "PAUSED", false),
        (ConnectorState::Stopped, "FAILED", true),
    ] {
        d.connectors.get_mut("orders-sink").unwrap().state = want;
        live.connectors
            .as_mut()
            .unwrap()
            .get_mut("orders-sink")
            .unwrap()
            .state = have.into();
        let actions = planned(&d, &live);
        assert_eq!(
            matches!(&actions[..], [Action::SetConnectorState { to, .. }] if *to == want),
            expect,
            "{want:?} over {have}: {actions:?}"
        );
    }
}

#[test]
fn only_recorded_connectors_are_deleted() {
    let d = DesiredState::default();
    let gone = desired_sink("orders-sink", &[]);
    let hand_made = desired_sink("by-hand", &[]);
    let live = LiveState {
        catalog: [("sales.orders".to_string(), record_with(&[&gone]))].into(),
        connectors: Some(
            [
                ("orders-sink".to_string(), live_of(&gone, "RUNNING")),
                ("by-hand".to_string(), live_of(&hand_made, "RUNNING")),
            ]
            .into(),
        ),
        ..LiveState::default()
    };
    let actions = planned(&d, &live);
    assert_eq!(
        actions,
        [Action::DeleteConnector {
            connector: "orders-sink".into(),
            product: "sales.orders".into()
        }]
    );
    // Recorded but already gone: nothing to delete.
    let mut without = live.clone();
    without.connectors = Some(BTreeMap::new());
    assert!(planned(&d, &without).is_empty());
}

#[test]
fn an_unset_variable_is_an_error_naming_file_key_and_variable() {
    let mut d = DesiredState::default();
    let c = desired_sink("orders-sink", &[("db.password", "${DB_PASSWORD}")]);
    d.connectors.insert(c.name.clone(), c);
    let errors = resolve(&mut d, &env(&[]));
    assert_eq!(errors.len(), 1);
    let m = &errors[0].message;
    assert!(
        m.contains("domains/sales/connectors/orders-sink.toml"),
        "{m}"
    );
    assert!(
        m.contains("db.password") && m.contains("DB_PASSWORD"),
        "{m}"
    );
    assert!(errors[0].help.contains("DB_PASSWORD"));
}

#[test]
fn expansion_leaves_connect_references_alone() {
    let config: BTreeMap<String, String> = [
        ("a", "${file:/etc/x.properties:pw}"),
        ("b", "${env:TOKEN}"),
        ("c", "jdbc:${HOST:-db}/x"),
        ("d", "plain"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = expand_config(&config, &env(&[("TOKEN", "nope")])).unwrap();
    assert_eq!(out["a"], "${file:/etc/x.properties:pw}");
    assert_eq!(out["b"], "${env:TOKEN}");
    assert_eq!(out["c"], "jdbc:db/x");
    assert_eq!(out["d"], "plain");
    assert!(is_sensitive("c", Some("jdbc:${HOST:-db}/x")));
    assert!(!is_sensitive("a", Some("${file:/etc/x.properties:pw}")));
    assert!(is_sensitive("connection.password", Some("${file:/x:pw}")));
}

struct Validator(Result<Vec<ConfigProblem>, AdapterError>);

impl ConnectReader for Validator {
    fn connectors(&self) -> Result<BTreeMap<String, LiveConnector>, AdapterError> {
        Ok(BTreeMap::new())
    }
    fn validate(
        &self,
        _class: &str,
        _config: &BTreeMap<String, String>,
    ) -> Result<Vec<ConfigProblem>, AdapterError> {
        self.0.clone()
    }
}

#[test]
fn the_gate_turns_connect_refusals_into_plan_errors() {
    let mut d = DesiredState::default();
    let c = desired_sink("orders-sink", &[]);
    d.connectors.insert(c.name.clone(), c);
    let live = LiveState {
        connectors: Some(BTreeMap::new()),
        ..LiveState::default()
    };
    let mut plan = Plan::default();
    plan_connectors(&d, &live, &mut plan);
    let refused = Validator(Ok(vec![ConfigProblem {
        key: "file".into(),
        message: "Invalid value".into(),
    }]));
    assert!(
        connect_gate(&plan, &d, &refused).unwrap().is_empty(),
        "an unresolved config is not sent"
    );
    assert!(resolve(&mut d, &env(&[])).is_empty());

    let refused = Validator(Ok(vec![ConfigProblem {
        key: "file".into(),
        message: "Invalid value".into(),
    }]));
    let errors = connect_gate(&plan, &d, &refused).unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("orders-sink.toml"));
    assert!(errors[0].message.contains("`file`: Invalid value"));

    let unknown = Validator(Err(AdapterError::new(
        crate::ErrorKind::NotFound,
        "no such plugin",
    )));
    let errors = connect_gate(&plan, &d, &unknown).unwrap();
    assert!(
        errors[0]
            .message
            .contains("no connector plugin FileStreamSink")
    );

    let down = Validator(Err(AdapterError::new(
        crate::ErrorKind::Unreachable,
        "connect is down",
    )));
    assert!(connect_gate(&plan, &d, &down).is_err());
    assert!(
        connect_gate(&plan, &d, &Validator(Ok(vec![])))
            .unwrap()
            .is_empty()
    );
}
