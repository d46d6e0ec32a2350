//! Schema files of data products: checking that an Avro, JSON Schema or Protobuf file parses and
//! is a schema of its kind, with the error at the right line.
//!
//! Architecture invariant: pure; text in, diagnostics out. Registry compatibility and schema
//! normalisation build on this crate later; it never talks to a registry.

pub mod avro_fast;
pub mod avro_names;
pub mod avro_resolve;
pub mod compat;
pub mod diff;
pub mod fields;

pub use fields::{Field, fields};

use mesh_diagnostics::{Diagnostic, offset_of};

/// The kinds of schema files a product can reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Avro,
    Json,
    Protobuf,
}

/// Checks one schema file; returns every problem found (empty when it is a valid schema).
pub fn check(file: &str, text: &str, format: Format) -> Vec<Diagnostic> {
    match format {
        Format::Avro => check_avro(file, text),
        Format::Json => check_json_schema(file, text),
        Format::Protobuf => check_protobuf(file, text),
    }
}

fn json_error(file: &str, text: &str, e: &serde_json::Error, what: &str) -> Diagnostic {
    let at = offset_of(text, e.line(), e.column());
    let message = e.to_string();
    // serde_json appends " at line X column Y"; the diagnostic already carries the position.
    let message = message.split(" at line ").next().unwrap_or(&message);
    Diagnostic::error(
        "schema-syntax",
        file,
        at..at,
        format!("{what} is not valid JSON: {message}"),
    )
    .with_help(
        "fix the JSON at the marked place (quotes around keys and strings, commas between members)",
    )
}

fn check_avro(file: &str, text: &str) -> Vec<Diagnostic> {
    // Most schemas are settled by the quick check; the thorough one finds and words any error.
    if avro_fast::surely_valid(text) {
        return Vec::new();
    }
    check_avro_thoroughly(file, text)
}

/// [`check`] of an Avro schema without the quick path of [`avro_fast`]: the name rules, then
/// apache-avro's parser. Public for the differential tests (the quick path must never accept
/// what this rejects).
#[doc(hidden)]
pub fn check_avro_thoroughly(file: &str, text: &str) -> Vec<Diagnostic> {
    let value = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v,
        Err(e) => return vec![json_error(file, text, &e, "the Avro schema")],
    };
    // apache-avro panics on an illegal name: those are reported here, at the name, and the
    // parser never sees them.
    let bad = avro_names::bad_names(&value);
    if !bad.is_empty() {
        return bad
            .into_iter()
            .map(|b| {
                let at = text.find(&format!("\"{}\"", b.name)).unwrap_or(0);
                Diagnostic::error(
                    "schema-invalid",
                    file,
                    at..at + b.name.len() + 2,
                    format!("{} {:?} is not a legal Avro name", b.what, b.name),
                )
                .with_help(
                    "Avro names start with a letter or '_' and go on with letters, digits and '_' (a namespace is such names joined by dots): e.g. InvoiceStatus or invoice_status",
                )
            })
            .collect();
    }
    match parse_avro(&value) {
        Ok(_) => Vec::new(),
        Err(e) => vec![Diagnostic::error("schema-invalid", file, 0..0, format!("not a valid Avro schema: {e}"))
            .with_help("see the Avro specification: a record needs \"type\": \"record\", a \"name\" and \"fields\" with a \"name\" and \"type\" each")],
    }
}

/// apache-avro's parser, with a panic inside it (it has some on inputs it does not expect)
/// turned into an error.
pub(crate) fn parse_avro(value: &serde_json::Value) -> Result<apache_avro::Schema, String> {
    avro_names::install_fast_validators();
    match std::panic::catch_unwind(|| apache_avro::Schema::parse(value)) {
        Ok(Ok(schema)) => Ok(schema),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the Avro parser gave up on it (an input it does not expect)".to_owned()),
    }
}

const JSON_TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "string", "integer",
];

fn check_json_schema(file: &str, text: &str) -> Vec<Diagnostic> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![json_error(file, text, &e, "the JSON Schema")],
    };
    let mut out = Vec::new();
    check_json_node(file, &value, "#", &mut out);
    out
}

/// Structural checks of the keywords whose misuse is common; a full meta-schema validation is the
/// registry's job.
fn check_json_node(file: &str, v: &serde_json::Value, at: &str, out: &mut Vec<Diagnostic>) {
    use serde_json::Value;
    let obj = match v {
        Value::Bool(_) => return,
        Value::Object(o) => o,
        _ => {
            out.push(Diagnostic::error("schema-invalid", file, 0..0, format!("JSON Schema at {at} must be an object or a boolean"))
                .with_help("a JSON Schema is an object such as {\"type\": \"object\", \"properties\": {...}}"));
            return;
        }
    };
    let bad = |what: String, out: &mut Vec<Diagnostic>| {
        out.push(
            Diagnostic::error(
                "schema-invalid",
                file,
                0..0,
                format!("JSON Schema at {at}: {what}"),
            )
            .with_help("see json-schema.org for the keyword's form"),
        );
    };
    if let Some(t) = obj.get("type") {
        let ok = match t {
            Value::String(s) => JSON_TYPES.contains(&s.as_str()),
            Value::Array(items) => items
                .iter()
                .all(|i| i.as_str().is_some_and(|s| JSON_TYPES.contains(&s))),
            _ => false,
        };
        if !ok {
            bad(
                format!(
                    "\"type\" must be one of {} (or an array of them), found {t}",
                    JSON_TYPES.join(", ")
                ),
                out,
            );
        }
    }
    if let Some(r) = obj.get("required")
        && !r.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        bad(
            "\"required\" must be an array of property names".into(),
            out,
        );
    }
    for key in ["properties", "$defs", "definitions", "patternProperties"] {
        match obj.get(key) {
            Some(Value::Object(children)) => {
                for (name, child) in children {
                    check_json_node(file, child, &format!("{at}/{key}/{name}"), out);
                }
            }
            Some(_) => bad(format!("\"{key}\" must be an object"), out),
            None => {}
        }
    }
    for key in ["items", "additionalProperties", "not", "if", "then", "else"] {
        if let Some(child) = obj.get(key) {
            check_json_node(file, child, &format!("{at}/{key}"), out);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        match obj.get(key) {
            Some(Value::Array(items)) => {
                for (i, child) in items.iter().enumerate() {
                    check_json_node(file, child, &format!("{at}/{key}/{i}"), out);
                }
            }
            Some(_) => bad(format!("\"{key}\" must be an array of schemas"), out),
            None => {}
        }
    }
}

fn check_protobuf(file: &str, text: &str) -> Vec<Diagnostic> {
    let text = &*blank_line_comment_unicode(text);
    // A panic inside protox-parse (none is known) is a diagnostic at the file, not a crash.
    let Ok(parsed) = std::panic::catch_unwind(|| protox_parse::parse(file, text)) else {
        return vec![
            Diagnostic::error(
                "schema-syntax",
                file,
                0..0,
                "not a valid Protobuf file: the Protobuf parser gave up on it",
            )
            .with_help("check the proto3 syntax: syntax = \"proto3\"; message X { string a = 1; }"),
        ];
    };
    match parsed {
        Ok(_) => Vec::new(),
        Err(e) => {
            let span = e.span().unwrap_or(text.len()..text.len());
            vec![Diagnostic::error("schema-syntax", file, span, format!("not a valid Protobuf file: {e}"))
                .with_help("check the proto3 syntax at the marked place: syntax = \"proto3\"; message X { string a = 1; }")]
        }
    }
}

/// The text with every non-ASCII character inside a line comment (`// …`, `# …`) replaced by
/// spaces of the same byte length, for protox-parse.
///
/// Its lexer (generated by logos) recurses once per multi-byte character of a line comment, so
/// a comment line of some 15,000 CJK characters, emoji or U+FFFD (what invalid UTF-8 reads as)
/// overflows a 2 MiB thread stack: an abort, not a panic, that `catch_unwind` cannot turn into a
/// diagnostic (found by mesh-fuzz). Comments do not change whether a file is valid, and byte
/// offsets are kept, so every error is still reported at its place.
fn blank_line_comment_unicode(text: &str) -> std::borrow::Cow<'_, str> {
    #[derive(PartialEq)]
    enum In {
        Code,
        Str(char),
        Block,
        Line,
    }
    let mut state = In::Code;
    let mut out: Option<Vec<u8>> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        match state {
            In::Code => match c {
                '/' if next == Some('/') => state = In::Line,
                '/' if next == Some('*') => {
                    chars.next();
                    state = In::Block;
                }
                '#' => state = In::Line,
                '"' | '\'' => state = In::Str(c),
                _ => {}
            },
            In::Str(q) => match c {
                '\\' => {
                    chars.next();
                }
                '\n' => state = In::Code,
                _ if c == q => state = In::Code,
                _ => {}
            },
            In::Block => {
                if c == '*' && next == Some('/') {
                    chars.next();
                    state = In::Code;
                }
            }
            In::Line => {
                if c == '\n' {
                    state = In::Code;
                } else if !c.is_ascii() {
                    let out = out.get_or_insert_with(|| text.as_bytes().to_vec());
                    out[i..i + c.len_utf8()].fill(b' ');
                }
            }
        }
    }
    // Whole characters were replaced by ASCII spaces, so the bytes are still UTF-8.
    match out.map(String::from_utf8) {
        Some(Ok(blanked)) => std::borrow::Cow::Owned(blanked),
        _ => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_schemas_pass() {
        let avro = r#"{"type":"record","name":"Order","namespace":"acme","fields":[{"name":"id","type":"string"}]}"#;
        assert!(check("a.avsc", avro, Format::Avro).is_empty());
        let json = r#"{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}"#;
        assert!(check("a.json", json, Format::Json).is_empty());
        let proto = "syntax = \"proto3\";\npackage acme;\nmessage Order { string id = 1; }\n";
        assert!(check("a.proto", proto, Format::Protobuf).is_empty());
    }

    #[test]
    fn json_syntax_errors_point_at_the_line() {
        let text = "{\n  \"type\": \"record\",\n  \"name\": \"X\"\n  \"fields\": []\n}";
        let d = check("a.avsc", text, Format::Avro);
        assert_eq!(d.len(), 1);
        let line = text[..d[0].span.start].matches('\n').count() + 1;
        assert_eq!(line, 4, "{:?}", d[0]);
        assert!(!d[0].message.contains(" at line "), "{}", d[0].message);
    }

    #[test]
    fn semantic_errors() {
        let avro = r#"{"type":"record","name":"X","fields":[{"name":"a","type":"strin"}]}"#;
        assert_eq!(
            check("a.avsc", avro, Format::Avro)[0].code,
            "schema-invalid"
        );
        let json = r#"{"type":"object","properties":{"a":{"type":"text"}},"required":"a"}"#;
        assert_eq!(check("a.json", json, Format::Json).len(), 2);
        let proto = "syntax = \"proto3\";\nmessage X { string id = ; }\n";
        let d = check("a.proto", proto, Format::Protobuf);
        assert_eq!(d[0].code, "schema-syntax");
        assert!(d[0].span.start > 20, "{:?}", d[0].span);
    }

    /// Found by mesh-fuzz (protobuf target): a line comment of many multi-byte characters
    /// overflowed the stack inside protox-parse's lexer. Run on a 2 MiB stack, as the scoped
    /// threads of `mesh validate` check schemas.
    #[test]
    fn a_long_line_comment_of_multibyte_characters_does_not_overflow_the_stack() {
        let text = format!(
            "syntax = \"proto3\";\n// {}\nmessage X {{ string id = ; }}\n",
            "\u{fffd}".repeat(100_000)
        );
        let d = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let d = check("a.proto", &text, Format::Protobuf);
                let at = text[..d[0].span.start].matches('\n').count() + 1;
                (d, at)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(d.0[0].code, "schema-syntax");
        assert_eq!(d.1, 3, "the error stays at its line: {:?}", d.0[0]);
    }

    #[test]
    fn only_line_comments_are_blanked() {
        let text = "option x = \"// é\"; // é中\n/* é */ # 𝄞\nmessage É {}";
        let blanked = blank_line_comment_unicode(text);
        assert_eq!(blanked.len(), text.len());
        assert_eq!(
            blanked,
            "option x = \"// é\"; //      \n/* é */ #     \nmessage É {}"
        );
        assert!(matches!(
            blank_line_comment_unicode("// ascii only\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
