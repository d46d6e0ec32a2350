//! Connect's answers as values: pure functions of the bytes, which never panic (anything may
//! answer at a URL), so what is tested and fuzzed is what runs.

use std::collections::BTreeMap;

use mesh_plan::connect::{ConfigProblem, LiveConnector};
use serde_json::Value;

/// `GET /connectors?expand=info&expand=status`: name → config, state, type and failed tasks.
pub fn connectors(bytes: &[u8]) -> Result<BTreeMap<String, LiveConnector>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(all) = value else {
        return Err("not a JSON object of connectors (an older Connect without `expand`?)".into());
    };
    let mut out = BTreeMap::new();
    for (name, entry) in all {
        let info = entry
            .get("info")
            .ok_or_else(|| format!("connector {name} has no `info`"))?;
        let config = match info.get("config") {
            Some(Value::Object(c)) => c
                .iter()
                .map(|(k, v)| (k.clone(), text(v)))
                .collect::<BTreeMap<_, _>>(),
            _ => return Err(format!("connector {name} has no `info.config` object")),
        };
        let status = entry.get("status");
        let state = status
            .and_then(|s| s.pointer("/connector/state"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let failed_tasks = status
            .and_then(|s| s.get("tasks"))
            .and_then(Value::as_array)
            .map_or(0, |tasks| {
                tasks
                    .iter()
                    .filter(|t| t.get("state").and_then(Value::as_str) == Some("FAILED"))
                    .count()
            });
        let kind = info
            .get("type")
            .or_else(|| status.and_then(|s| s.get("type")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.insert(
            name,
            LiveConnector {
                config,
                state,
                kind,
                failed_tasks,
            },
        );
    }
    Ok(out)
}

/// A config value as text (Connect stores strings; anything else is shown as JSON).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `PUT /connector-plugins/{class}/config/validate`: every config value with errors.
pub fn validation(bytes: &[u8]) -> Result<Vec<ConfigProblem>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let configs = value
        .get("configs")
        .and_then(Value::as_array)
        .ok_or("no `configs` list")?;
    let mut out = Vec::new();
    for c in configs {
        let Some(v) = c.get("value") else { continue };
        let key = v
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| c.pointer("/definition/name").and_then(Value::as_str))
            .unwrap_or("?");
        for e in v
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(ConfigProblem {
                key: key.to_owned(),
                message: text(e),
            });
        }
    }
    Ok(out)
}

/// The `message` of Connect's error body, else the body's text (shortened).
pub fn failure_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(m) = v.get("message").and_then(Value::as_str)
    {
        return m.trim().to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Whether Connect's message says it has no such connector plugin.
pub fn is_unknown_plugin(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("failed to find any class that implements connector")
        || m.contains("no plugin")
        || m.contains("unknown connector class")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_with_info_and_status() {
        let body = br#"{
          "orders-sink": {
            "info": {"name": "orders-sink", "config": {"connector.class": "X", "tasks.max": "1", "topics": "sales.orders"}, "tasks": [], "type": "sink"},
            "status": {"name": "orders-sink", "connector": {"state": "PAUSED", "worker_id": "w"}, "tasks": [{"id": 0, "state": "FAILED"}, {"id": 1, "state": "RUNNING"}], "type": "sink"}
          },
          "fresh": {"info": {"name": "fresh", "config": {"a": "b"}, "tasks": []}}
        }"#;
        let all = connectors(body).unwrap();
        let sink = &all["orders-sink"];
        assert_eq!(sink.state, "PAUSED");
        assert_eq!(sink.kind, "sink");
        assert_eq!(sink.failed_tasks, 1);
        assert_eq!(sink.config["topics"], "sales.orders");
        assert_eq!(all["fresh"].state, "", "no status yet");
    }

    #[test]
    fn malformed_listings_are_errors_not_panics() {
        for body in [
            &b"not json"[..],
            b"[\"orders-sink\"]",
            b"{\"x\": {}}",
            b"{\"x\": {\"info\": {\"config\": 3}}}",
        ] {
            assert!(
                connectors(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn validation_lists_each_error_with_its_key() {
        let body = br#"{"name": "X", "error_count": 2, "groups": [], "configs": [
            {"definition": {"name": "file"}, "value": {"name": "file", "value": null, "errors": [], "visible": true}},
            {"definition": {"name": "topics"}, "value": {"name": "topics", "value": "", "errors": ["Must configure one of topics or topics.regex"], "visible": true}},
            {"definition": {"name": "batch.size"}, "value": {"errors": ["Invalid value -1"]}}
        ]}"#;
        let problems = validation(body).unwrap();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].key, "topics");
        assert!(problems[0].message.contains("topics.regex"));
        assert_eq!(problems[1].key, "batch.size");
        assert!(validation(b"{}").is_err());
    }

    #[test]
    fn failure_messages() {
        assert_eq!(
            failure_message(br#"{"error_code": 404, "message": "Connector x not found"}"#),
            "Connector x not found"
        );
        assert_eq!(failure_message(b"  Bad gateway "), "Bad gateway");
        assert!(failure_message(&[b'a'; 1000]).ends_with('…'));
        assert!(is_unknown_plugin(
            "Failed to find any class that implements Connector and which name matches com.x.Y"
        ));
        assert!(!is_unknown_plugin("Connector x not found"));
    }
}
