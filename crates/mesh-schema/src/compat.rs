//! Offline schema knowledge: the normal form two schema texts are compared in, and Avro
//! compatibility checked locally (BACKWARD, FORWARD, FULL and their transitive forms), so a pull
//! request can flag a breaking change even where no registry is reachable.
//!
//! What is checked here and what only the registry checks: Avro compatibility is checked both
//! here and by the registry; JSON Schema and Protobuf compatibility are checked only by the
//! registry (their rules are the registry's own and differ between implementations).

use crate::avro_resolve;

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

/// One earlier version of a schema, with the words that name it in messages ("version 3",
/// "the base revision", "the version of commit 1a2b3c4").
#[derive(Clone, Copy, Debug)]
pub struct Earlier<'a> {
    pub label: &'a str,
    pub text: &'a str,
}

/// Checks an Avro schema against earlier versions (oldest first) under a compatibility level
/// (`BACKWARD`, `FORWARD`, `FULL`, their `_TRANSITIVE` forms, or `NONE`) by the Avro
/// specification's resolution rules (`avro_resolve`). Non-transitive levels compare with the
/// last version only. Returns every incompatibility, each naming the version, the direction,
/// the field path, the rule broken and what would make it compatible.
///
/// Logical types are compared by their physical types, as Apache Avro's own check (which the
/// registries use) does.
pub fn check_avro(new: &str, previous: &[Earlier<'_>], level: &str) -> Result<(), Vec<String>> {
    check_avro_at(new, previous, level)
        .map_err(|found| found.into_iter().map(|b| b.message).collect())
}

/// One reason a schema is incompatible: the message, and the field path it is at (empty when it
/// is about a whole version, e.g. one that does not parse).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub message: String,
    pub path: String,
}

/// `check_avro` with each reason's field path, for pointing at the field in the file.
pub fn check_avro_at(new: &str, previous: &[Earlier<'_>], level: &str) -> Result<(), Vec<Breach>> {
    let plain = |message: String| Breach {
        message,
        path: String::new(),
    };
    let (transitive, backward, forward) = match level {
        "NONE" => return Ok(()),
        "BACKWARD" => (false, true, false),
        "BACKWARD_TRANSITIVE" => (true, true, false),
        "FORWARD" => (false, false, true),
        "FORWARD_TRANSITIVE" => (true, false, true),
        "FULL" => (false, true, true),
        "FULL_TRANSITIVE" => (true, true, true),
        other => return Err(vec![plain(format!("unknown compatibility level {other}"))]),
    };
    let new_schema =
        parse_resolvable(new).map_err(|e| vec![plain(format!("the new schema is {e}"))])?;
    let against = if transitive {
        previous
    } else {
        &previous[previous.len().saturating_sub(1)..]
    };
    let mut reasons = Vec::new();
    for old in against {
        let old_schema = match parse_resolvable(old.text) {
            Ok(s) => s,
            Err(e) => {
                reasons.push(plain(format!("{} is {e}", old.label)));
                continue;
            }
        };
        // BACKWARD: consumers using the new schema read data written with the old one.
        if backward {
            for at in avro_resolve::can_read(&new_schema, &old_schema) {
                reasons.push(Breach {
                    message: format!(
                        "readers of the new schema cannot read data written with {}: {at}",
                        old.label
                    ),
                    path: at.path,
                });
            }
        }
        // FORWARD: consumers still on the old schema read data written with the new one.
        if forward {
            for at in avro_resolve::can_read(&old_schema, &new_schema) {
                reasons.push(Breach {
                    message: format!(
                        "readers of {} cannot read data written with the new schema: {at}",
                        old.label
                    ),
                    path: at.path,
                });
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

/// Where in a schema's text the field a breach's path ends at is declared (`"name": "field"`);
/// the start of the text when the path names no field or the field is not found.
pub fn field_span(text: &str, path: &str) -> std::ops::Range<usize> {
    // The last plain name of the path: `Order.items[].sku` → `sku`; a path of one segment is
    // the root type, not a field.
    let field = path
        .rsplit('.')
        .next()
        .filter(|_| path.contains('.'))
        .map(|last| last.split(['[', '{', '<']).next().unwrap_or(""))
        .unwrap_or("");
    if field.is_empty() {
        return 0..0;
    }
    let quoted = format!("\"{field}\"");
    for (at, _) in text.match_indices(&quoted) {
        let before = text[..at].trim_end();
        if let Some(key) = before.strip_suffix(':')
            && key.trim_end().ends_with("\"name\"")
        {
            return at..at + quoted.len();
        }
    }
    0..0
}

/// Schema text as the resolution check reads it; the error completes "… is …".
fn parse_resolvable(text: &str) -> Result<avro_resolve::Schema, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if let Some(b) = crate::avro_names::bad_names(&v).first() {
        return Err(format!(
            "not a valid Avro schema: {} {:?} is not a legal Avro name",
            b.what, b.name
        ));
    }
    avro_resolve::Schema::parse(&v).map_err(|e| format!("not a valid Avro schema: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Earlier versions labelled "version 1", "version 2", ….
    fn versions<'a>(texts: &[&'a str], labels: &'a [String]) -> Vec<Earlier<'a>> {
        texts
            .iter()
            .zip(labels)
            .map(|(text, label)| Earlier { label, text })
            .collect()
    }

    fn check(new: &str, previous: &[&str], level: &str) -> Result<(), Vec<String>> {
        let labels: Vec<String> = (1..=previous.len())
            .map(|i| format!("version {i}"))
            .collect();
        check_avro(new, &versions(previous, &labels), level)
    }

    #[test]
    fn an_illegal_name_in_a_registered_version_is_an_error_not_a_panic() {
        // Someone else registered it: the registry's history is not ours to trust.
        let theirs = r#"{"type":"enum","name":"Invoice-Status","symbols":["OPEN"]}"#;
        let ours = r#"{"type":"enum","name":"InvoiceStatus","symbols":["OPEN"]}"#;
        let err = check(ours, &[theirs], "BACKWARD").unwrap_err();
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
            let got = check(new, &prev, level);
            assert_eq!(got.is_ok(), ok, "case {i}: {level}: {got:?}");
        }
    }

    #[test]
    fn logical_types_compare_by_their_physical_type() {
        let dec = r#"{"type":"record","name":"O","fields":[{"name":"t","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}]}"#;
        assert!(check(dec, &[dec], "FULL_TRANSITIVE").is_ok());
        let ts = r#"{"type":"record","name":"O","fields":[{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#;
        let as_string = r#"{"type":"record","name":"O","fields":[{"name":"t","type":"string"}]}"#;
        assert!(check(as_string, &[ts], "BACKWARD").is_err());
    }

    #[test]
    fn transitive_levels_name_the_version_that_breaks() {
        let required = with(r#",{"name":"note","type":"string"}"#);
        let defaulted = with(r#",{"name":"note","type":"string","default":""}"#);
        // Compatible with version 2 (which has the field), not with version 1 (which lacks it).
        assert!(check(&required, &[V1, &defaulted], "BACKWARD").is_ok());
        let e = check(&required, &[V1, &defaulted], "BACKWARD_TRANSITIVE").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "readers of the new schema cannot read data written with version 1: Order.note:"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn an_unparsable_earlier_version_is_named() {
        let e = check(V1, &["{\"type\":\"record\"}"], "FULL").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("version 1 is not a valid Avro schema: a record needs a \"name\""),
            "{e:?}"
        );
        let e = check("[", &[V1], "FULL").unwrap_err();
        assert!(
            e[0].starts_with("the new schema is not valid JSON"),
            "{e:?}"
        );
        let e = check(V1, &[V1], "SIDEWAYS").unwrap_err();
        assert_eq!(e, vec!["unknown compatibility level SIDEWAYS"]);
    }

    #[test]
    fn a_breach_points_at_the_field_it_is_about() {
        let text = "{\"type\": \"record\", \"name\": \"Order\", \"doc\": \"the \\\"note\\\"\",\n \"fields\": [{\"name\" : \"note\", \"type\": \"string\"}]}";
        let span = field_span(text, "Order.note");
        assert_eq!(&text[span], "\"note\"");
        assert!(text[..field_span(text, "Order.note").start].ends_with(": "));
        assert_eq!(field_span(text, "Order"), 0..0);
        assert_eq!(field_span(text, "Order.missing"), 0..0);
        assert_eq!(&text[field_span(text, "Order.x[].note")], "\"note\"");
    }

    #[test]
    fn reasons_say_which_direction_broke() {
        let required = with(r#",{"name":"note","type":"string"}"#);
        let e = check(&required, &[V1], "BACKWARD").unwrap_err();
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
