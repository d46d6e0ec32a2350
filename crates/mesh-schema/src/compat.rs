//! Offline schema knowledge: the normal form two schema texts are compared in, and Avro
//! compatibility checked locally (BACKWARD, FORWARD, FULL and their transitive forms), so a pull
//! request can flag a breaking change even where no registry is reachable.
//!
//! What is checked here and what only the registry checks: Avro compatibility is checked both
//! here and by the registry; JSON Schema and Protobuf compatibility are checked only by the
//! registry (their rules are the registry's own and differ between implementations).

use apache_avro::schema_compatibility::SchemaCompatibility;

use crate::Format;

/// The text two schemas are compared in: JSON (Avro, JSON Schema) with keys sorted and no
/// insignificant whitespace; Protobuf with comments dropped and whitespace collapsed. Text that
/// does not parse is compared as written, trimmed.
pub fn normalise(text: &str, format: Format) -> String {
    match format {
        Format::Avro | Format::Json => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => {
                let mut out = String::with_capacity(text.len());
                write_sorted(&v, &mut out);
                out
            }
            Err(_) => text.trim().to_string(),
        },
        Format::Protobuf => normalise_proto(text),
    }
}

fn write_sorted(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_sorted(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Drops `//` and `/* */` comments (outside strings) and collapses whitespace to single spaces,
/// removing it around punctuation.
fn normalise_proto(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string: Option<char> = None;
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        if let Some(q) = in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == q {
                in_string = None;
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                pending_space = true;
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                pending_space = true;
            }
            c if c.is_whitespace() => pending_space = true,
            c => {
                let punct = |ch: char| "{}[]();=,<>".contains(ch);
                if pending_space && !out.is_empty() && !punct(c) && !out.ends_with(punct) {
                    out.push(' ');
                }
                pending_space = false;
                if c == '"' || c == '\'' {
                    in_string = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Checks an Avro schema against earlier versions (oldest first) under a compatibility level
/// (`BACKWARD`, `FORWARD`, `FULL`, their `_TRANSITIVE` forms, or `NONE`). Returns the reasons
/// it is incompatible, if it is.
///
/// Logical types are compared by their physical types: apache-avro 0.21's checker refuses a
/// `decimal` field even against the identical schema, so annotations are stripped first. A change
/// of logical type alone (a decimal's precision, say) is therefore left to the registry's check.
pub fn check_avro(new: &str, previous: &[&str], level: &str) -> Result<(), Vec<String>> {
    let parse = |text: &str| {
        let mut v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| vec![format!("not valid JSON: {e}")])?;
        strip_logical_types(&mut v);
        if let Some(b) = crate::avro_names::bad_names(&v).first() {
            return Err(vec![format!(
                "not a valid Avro schema: {} {:?} is not a legal Avro name",
                b.what, b.name
            )]);
        }
        crate::parse_avro(&v).map_err(|e| vec![format!("not a valid Avro schema: {e}")])
    };
    let new_schema = parse(new)?;
    let (transitive, backward, forward) = match level {
        "NONE" => return Ok(()),
        "BACKWARD" => (false, true, false),
        "BACKWARD_TRANSITIVE" => (true, true, false),
        "FORWARD" => (false, false, true),
        "FORWARD_TRANSITIVE" => (true, false, true),
        "FULL" => (false, true, true),
        "FULL_TRANSITIVE" => (true, true, true),
        other => return Err(vec![format!("unknown compatibility level {other}")]),
    };
    let against: Vec<&str> = if transitive {
        previous.to_vec()
    } else {
        previous.last().copied().into_iter().collect()
    };
    let mut reasons = Vec::new();
    for (i, old_text) in against.iter().enumerate() {
        let old = parse(old_text)?;
        let which = if transitive {
            format!("version {} of {}", i + 1, against.len())
        } else {
            "the latest version".to_string()
        };
        // BACKWARD: consumers using the new schema read data written with the old one.
        if backward && let Err(e) = SchemaCompatibility::can_read(&old, &new_schema) {
            reasons.push(format!(
                "readers of the new schema cannot read data written with {which}: {e}"
            ));
        }
        // FORWARD: consumers still on the old schema read data written with the new one.
        if forward && let Err(e) = SchemaCompatibility::can_read(&new_schema, &old) {
            reasons.push(format!(
                "readers of {which} cannot read data written with the new schema: {e}"
            ));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Removes `logicalType` (and a decimal's `precision` and `scale`) wherever a type declares one.
fn strip_logical_types(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            if map.remove("logicalType").is_some() {
                map.remove("precision");
                map.remove("scale");
            }
            for child in map.values_mut() {
                strip_logical_types(child);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_logical_types),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_illegal_name_in_a_registered_version_is_an_error_not_a_panic() {
        // Someone else registered it: the registry's history is not ours to trust.
        let theirs = r#"{"type":"enum","name":"Invoice-Status","symbols":["OPEN"]}"#;
        let ours = r#"{"type":"enum","name":"InvoiceStatus","symbols":["OPEN"]}"#;
        let err = check_avro(ours, &[theirs], "BACKWARD").unwrap_err();
        assert!(
            err[0].contains("\"Invoice-Status\" is not a legal Avro name"),
            "{err:?}"
        );
    }

    const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;

    fn with(fields: &str) -> String {
        format!(
            r#"{{"type":"record","name":"Order","fields":[{{"name":"id","type":"string"}}{fields}]}}"#
        )
    }

    #[test]
    fn a_table_of_evolutions() {
        let optional = with(r#",{"name":"note","type":["null","string"],"default":null}"#);
        let required = with(r#",{"name":"note","type":"string"}"#);
        let widened = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"n","type":"long","default":0}]}"#;
        let narrow = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"n","type":"int","default":0}]}"#;
        let dropped = r#"{"type":"record","name":"Order","fields":[]}"#;
        // (new, previous, level, compatible?)
        let cases: Vec<(&str, Vec<&str>, &str, bool)> = vec![
            (&optional, vec![V1], "BACKWARD", true),
            (&optional, vec![V1], "FORWARD", true),
            (&optional, vec![V1], "FULL", true),
            (&required, vec![V1], "BACKWARD", false),
            (&required, vec![V1], "FORWARD", true),
            (&required, vec![V1], "FULL", false),
            (&required, vec![V1], "NONE", true),
            (dropped, vec![V1], "BACKWARD", true),
            (dropped, vec![V1], "FORWARD", false),
            (widened, vec![narrow], "BACKWARD", true),
            (narrow, vec![widened], "BACKWARD", false),
            // Transitive: compatible with the latest, not with the first.
            (V1, vec![&required, &optional], "BACKWARD", true),
            (V1, vec![&required, &optional], "BACKWARD_TRANSITIVE", true),
            (&required, vec![V1, &optional], "BACKWARD", false),
            (&optional, vec![&required, V1], "FORWARD_TRANSITIVE", false),
            (&optional, vec![&required, V1], "FORWARD", true),
        ];
        for (i, (new, prev, level, ok)) in cases.into_iter().enumerate() {
            let got = check_avro(new, &prev, level);
            assert_eq!(got.is_ok(), ok, "case {i}: {level}: {got:?}");
        }
    }

    #[test]
    fn logical_types_compare_by_their_physical_type() {
        let dec = r#"{"type":"record","name":"O","fields":[{"name":"t","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}]}"#;
        assert!(check_avro(dec, &[dec], "FULL_TRANSITIVE").is_ok());
        let ts = r#"{"type":"record","name":"O","fields":[{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#;
        let as_string = r#"{"type":"record","name":"O","fields":[{"name":"t","type":"string"}]}"#;
        assert!(check_avro(as_string, &[ts], "BACKWARD").is_err());
    }

    #[test]
    fn reasons_say_which_direction_broke() {
        let required = with(r#",{"name":"note","type":"string"}"#);
        let e = check_avro(&required, &[V1], "BACKWARD").unwrap_err();
        assert!(
            e[0].contains("readers of the new schema cannot read"),
            "{e:?}"
        );
    }

    #[test]
    fn normal_forms_ignore_whitespace_key_order_and_comments() {
        let a = "{\n  \"type\": \"record\", \"name\": \"X\",\n  \"fields\": []\n}";
        let b = r#"{"fields":[],"name":"X","type":"record"}"#;
        assert_eq!(normalise(a, Format::Avro), normalise(b, Format::Avro));
        assert_ne!(
            normalise(a, Format::Avro),
            normalise(&b.replace("\"X\"", "\"Y\""), Format::Avro)
        );
        let p1 = "syntax = \"proto3\";\n// a comment\nmessage A {\n  string id = 1; /* why */\n}\n";
        let p2 = "syntax=\"proto3\"; message A { string id=1; }";
        assert_eq!(
            normalise(p1, Format::Protobuf),
            normalise(p2, Format::Protobuf)
        );
        assert_ne!(
            normalise(p1, Format::Protobuf),
            normalise(&p2.replace("id=1", "id=2"), Format::Protobuf)
        );
        assert_eq!(
            normalise("{\"a\": \"// not a comment\"}", Format::Json),
            "{\"a\":\"// not a comment\"}"
        );
    }
}
