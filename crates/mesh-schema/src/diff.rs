//! Unified diffs of two schema texts, for people reviewing a change. JSON texts (Avro, JSON
//! Schema) are compared pretty-printed with sorted keys, so the diff shows what changed rather
//! than how a registry or an editor happened to format it.

use serde_json::Value;

/// A unified diff (3 lines of context) from `before` (labelled `from`) to `after` (`to`); empty
/// when the texts are the same after formatting.
pub fn unified(before: &str, after: &str, from: &str, to: &str) -> String {
    let pretty = |t: &str| match serde_json::from_str::<Value>(t) {
        Ok(v) => serde_json::to_string_pretty(&sorted(v)).unwrap_or_else(|_| t.to_string()) + "\n",
        Err(_) => t.to_string(),
    };
    let (a, b) = (pretty(before), pretty(after));
    if a == b {
        return String::new();
    }
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_compared_formatted_and_key_sorted() {
        let before = r#"{"type":"record","name":"A","fields":[{"name":"id","type":"string"}]}"#;
        let reordered =
            r#"{"name": "A", "fields": [{"type": "string", "name": "id"}], "type": "record"}"#;
        assert_eq!(unified(before, reordered, "base", "head"), "");
        let after = r#"{"type":"record","name":"A","fields":[{"name":"id","type":"long"}]}"#;
        let d = unified(before, after, "base", "head");
        assert!(d.starts_with("--- base\n+++ head\n"), "{d}");
        assert!(
            d.contains("-      \"type\": \"string\"") && d.contains("+      \"type\": \"long\""),
            "{d}"
        );
    }

    #[test]
    fn other_text_is_compared_as_it_is() {
        let d = unified(
            "syntax = \"proto3\";\n",
            "syntax = \"proto3\";\nmessage A {}\n",
            "a",
            "b",
        );
        assert!(d.contains("+message A {}"), "{d}");
    }
}
