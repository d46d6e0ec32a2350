//! A YAML writer for JSON values: block mappings and sequences, and every string a
//! double-quoted scalar in JSON's escaping (a subset of YAML's double-quoted escapes).
//!
//! Why not serde_yaml's forks (serde_norway, serde_yaml_ng): they leave a string plain whenever
//! YAML 1.2 reads it back as a string, but YAML 1.1 readers — PyYAML, which the datacontract CLI
//! uses — read a plain `2027-03-01` as a date and `yes`, `on` or `10:30` as a boolean or a number;
//! the ODCS validation test caught a sunset date turning into a date. Quoting every string reads
//! the same under YAML 1.1 and 1.2. Keys stay plain where that is safe under both.

use serde_json::Value;

/// The document `v` as YAML (block style), ending with a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => mapping(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => sequence(a, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// A scalar, or an empty container, on one line.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let text = n.to_string();
            // YAML 1.1 floats need a dot before the exponent and a sign in it: 1e300 → 1.0e+300.
            match text.find(['e', 'E']) {
                Some(i) => {
                    let (mantissa, exponent) = (&text[..i], &text[i + 1..]);
                    let dot = if mantissa.contains('.') { "" } else { ".0" };
                    let sign = if exponent.starts_with(['-', '+']) {
                        ""
                    } else {
                        "+"
                    };
                    format!("{mantissa}{dot}e{sign}{exponent}")
                }
                None => text,
            }
        }
        Value::String(s) => quoted(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn quoted(s: &str) -> String {
    // serde_json's escaping of a string is valid YAML double-quoted text (it cannot fail)...
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    // ...except for the characters JSON leaves as they are and YAML may not: those outside
    // YAML's printable set (DEL, C1 controls, U+FFFE/U+FFFF), and those YAML 1.1 takes for line
    // breaks (U+0085, U+2028, U+2029) or a byte order mark (U+FEFF).
    let needs = |c: char| {
        matches!(
            c,
            '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
    };
    if !json.contains(needs) {
        return json;
    }
    json.chars()
        .map(|c| {
            if needs(c) {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain { k.to_owned() } else { quoted(k) }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn mapping(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        out.push_str(&pad);
        out.push_str(&key(k));
        out.push(':');
        match v {
            Value::Object(child) if !child.is_empty() => {
                out.push('\n');
                mapping(child, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(items, indent, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        if is_block(item) {
            // The item's block one level in, its first line's indentation replaced by "- ".
            let mut block = String::new();
            match item {
                Value::Object(m) => mapping(m, indent + 2, &mut block),
                Value::Array(a) => sequence(a, indent + 2, &mut block),
                _ => {}
            }
            out.push_str(&pad);
            out.push_str("- ");
            out.push_str(&block[indent + 2..]);
        } else {
            out.push_str(&pad);
            out.push_str("- ");
            out.push_str(&inline(item));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_with_quoted_strings() {
        let v = json!({
            "a": "2027-03-01",
            "b": [1, "yes", {"c": "10:30", "d": [true, null]}, [], {}],
            "on": {"x.y": "multi\nline \"q\""},
            "e": [[1, 2], {"f": 1.5e300}],
            "empty": {},
        });
        assert_eq!(
            to_string(&v),
            r#"a: "2027-03-01"
b:
- 1
- "yes"
- c: "10:30"
  d:
  - true
  - null
- []
- {}
"on":
  x.y: "multi\nline \"q\""
e:
- - 1
  - 2
- f: 1.5e+300
empty: {}
"#
        );
        assert_eq!(inline(&json!(1e300)), "1.0e+300");
        assert_eq!(
            quoted("a\u{2028}b\u{85}c\u{7f}\u{feff}é\t"),
            r#""a\u2028b\u0085c\u007f\ufeffé\t""#
        );
        assert_eq!(inline(&json!(-2.5e-7)), "-2.5e-7");
    }
}
