//! Mutations: byte-level edits (flips, inserts, deletes, copies, splices between inputs) and
//! structure-aware ones that keep an input parseable enough to reach the checks behind the parser
//! (a TOML value or a JSON node swapped for an extreme one: huge and negative numbers, empty and
//! odd unicode strings, deep nesting, duplicate keys).

use crate::rng::Rng;

/// What an input is, which decides the structure-aware mutations and the dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Toml,
    Json,
    /// Text with its own grammar (Protobuf, CEL, lock records as lines).
    Text,
    /// Kafka's binary records.
    Binary,
}

/// Inputs never grow beyond this: mesh refuses bigger files long before, and long inputs only
/// slow the run down.
pub const MAX_LEN: usize = 64 * 1024;

/// Values a TOML key or a JSON node is swapped for.
const EXTREME_SCALARS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999999",
    "1e308",
    "-1e308",
    "1e400",
    "0.5",
    "true",
    "false",
    "null",
    "\"\"",
    "\" \"",
    "\"0\"",
    "\"-1\"",
    "\"9223372036854775808\"",
    "\"a.b\"",
    "\".\"",
    "\"..\"",
    "\"../../etc/passwd\"",
    "\"/abs\"",
    "\"é\u{301}𝄞\u{202e}中\"",
    "\"\\u0000\"",
    "\"\\n\\t\"",
    "\"${X}\"",
    "\"${}\"",
    "\"${A_B\"",
    "\"$${X}\"",
    "\"TODO(mesh import)\"",
    "\"-1d\"",
    "\"0ms\"",
    "\"99999999999999999999d\"",
    "\"9223372036854775807ms\"",
    "\"1PiB\"",
    "\"18446744073709551615GiB\"",
    "\"7d\"",
    "\"1GiB\"",
    "\"1.5h\"",
    "\"NONE\"",
    "\"FULL_TRANSITIVE\"",
    "\"User:\"",
    "\"@\"",
    "\"2026-02-30\"",
    "\"0000-01-01\"",
    "\"9999-12-31\"",
    "\"-001-01-01\"",
    "\"sales.orders\"",
    "\"sales.\"",
    "\"a.b.c\"",
    "[]",
    "{}",
    "[\"\"]",
    "[1, \"a\"]",
];

/// Numbers at the limits of the integer types readers use (i16, i32, u32, i64, u64, usize).
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "-32768",
    "32767",
    "65536",
    "2147483647",
    "-2147483648",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e15",
    "1.5",
    "-0.0",
];

/// A string value: empty, huge, odd unicode, paths, references, or a number in quotes.
fn extreme_string(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("\"{}\"", "é".repeat(rng.small_len(40_000))),
        1 => format!("\"{}\"", rng.pick(EXTREME_NUMBERS)),
        _ => rng
            .pick(EXTREME_SCALARS)
            .strip_prefix('"')
            .map_or_else(|| "\"\"".to_string(), |s| format!("\"{s}")),
    }
}

/// TOML-only values (dates, special floats, inline tables).
const EXTREME_TOML: &[&str] = &[
    "inf",
    "-inf",
    "nan",
    "1979-05-27",
    "1979-05-27T07:32:00Z",
    "0000-01-01",
    "9999-12-31",
    "2026-02-29",
    "07:32:00",
    "0x7fffffff",
    "0o777",
    "0b1",
    "1_000",
    "''",
    "'''\n'''",
    "\"\"\"\n\"\"\"",
    "{ a = 1 }",
    "{ name = \"\" }",
    "[{}]",
];

/// Tokens inserted anywhere, by kind.
fn dictionary(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Toml => &[
            "=",
            "[",
            "]",
            "[[",
            "]]",
            "{",
            "}",
            ",",
            ".",
            "\"",
            "'",
            "'''",
            "\"\"\"",
            "#",
            "\n",
            "\r\n",
            "\\",
            "\\u",
            "\\U0010FFFF",
            "= ",
            "[topic]",
            "[access]",
            "[[consumes]]",
            "[schema]",
            "[[rule]]",
            "[[exemption]]",
            "[environments.x]",
            "[mesh]",
            "[defaults.topic.config]",
            "partitions",
            "name",
            "domain",
            "owners",
            "check",
            "when",
            "applies_to",
            "value",
            "key",
            "inputs",
            "product",
            "principal",
        ],
        Kind::Json => &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\\",
            "\\u",
            "\\ud800",
            "null",
            "true",
            "-",
            "e",
            ".",
            "0",
            "\"type\"",
            "\"name\"",
            "\"fields\"",
            "\"items\"",
            "\"values\"",
            "\"symbols\"",
            "\"namespace\"",
            "\"default\"",
            "\"aliases\"",
            "\"logicalType\"",
            "\"record\"",
            "\"enum\"",
            "\"fixed\"",
            "\"array\"",
            "\"map\"",
            "\"size\"",
            "\"decimal\"",
            "\"precision\"",
            "\"scale\"",
            "\"$ref\"",
            "\"properties\"",
            "\"required\"",
            "\"format\"",
            "\"version\"",
            "\"actions\"",
        ],
        Kind::Text => &[
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            ";",
            "=",
            ".",
            ",",
            "\"",
            "'",
            "\\",
            "//",
            "/*",
            "*/",
            "\n",
            "message",
            "enum",
            "oneof",
            "map<",
            ">",
            "repeated",
            "optional",
            "syntax",
            "\"proto3\"",
            "\"proto2\"",
            "import",
            "package",
            "option",
            "reserved",
            "extend",
            "service",
            "rpc",
            "returns",
            "stream",
            "max",
            "to",
            "0x",
            "-",
            "1e",
            "&&",
            "||",
            "!",
            "?",
            ":",
            "in",
            "has(",
            "size(",
            "int(",
            "uint(",
            "double(",
            "string(",
            "bytes(",
            "timestamp(",
            "duration(",
            "matches(",
            "startsWith(",
            "exists(",
            "all(",
            "exists_one(",
            "map(",
            "filter(",
            ".all(x, ",
            "product",
            "domain",
            "consumer",
            "change",
            "env",
            "environment",
            "today",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615u",
            "1e308",
            "b\"",
            "r\"",
            "\"\"\"",
            "'''",
            "/",
            "%",
            "{\"type\": \"claim\"}",
        ],
        Kind::Binary => &[
            "\u{0}",
            "\u{0}\u{0}",
            "\u{0}\u{1}",
            "\u{0}\u{2}",
            "\u{0}\u{3}",
            "\u{0}\u{4}",
            "\u{7f}\u{7f}",
            "\u{7f}",
            "\u{0}\u{0}\u{0}\u{0}",
        ],
    }
}

/// Special byte strings for binary inputs (lengths and versions at their limits).
const INTERESTING_BYTES: &[&[u8]] = &[
    &[0xff],
    &[0xff, 0xff],
    &[0x80, 0x00],
    &[0x7f, 0xff],
    &[0xff, 0xff, 0xff, 0xff],
    &[0x80, 0x00, 0x00, 0x00],
    &[0x7f, 0xff, 0xff, 0xff],
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x80, 0, 0, 0, 0, 0, 0, 0],
    &[0xc3, 0x28],
    &[0xed, 0xa0, 0x80],
    &[0xf4, 0x90, 0x80, 0x80],
];

/// Applies 1 to 8 stacked mutations to `input`; `others` are inputs to splice from.
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>], kind: Kind) -> Vec<u8> {
    let mut data = input.to_vec();
    let rounds = 1 << rng.below(4);
    for _ in 0..rounds {
        let structured = match kind {
            Kind::Toml => rng.one_in(2),
            Kind::Json => rng.one_in(2),
            _ => false,
        };
        let done = structured
            && match kind {
                Kind::Toml => toml_mutation(rng, &mut data, others),
                Kind::Json => json_mutation(rng, &mut data),
                _ => false,
            };
        if !done {
            byte_mutation(rng, &mut data, others, kind);
        }
        data.truncate(MAX_LEN);
    }
    data
}

fn byte_mutation(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>], kind: Kind) {
    let len = data.len();
    let at = rng.below(len + 1);
    match rng.below(11) {
        // Flip a bit.
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // A random byte.
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.next_u64() as u8;
        }
        // Insert random bytes.
        2 => {
            let n = rng.small_len(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(at..at, bytes);
        }
        // Delete a range.
        3 if len > 0 => {
            let n = rng.small_len(len - at.min(len - 1));
            let start = at.min(len - 1);
            data.drain(start..(start + n).min(len));
        }
        // Copy a range of the input somewhere else.
        4 if len > 0 => {
            let start = rng.below(len);
            let n = rng.small_len(len - start);
            let chunk = data[start..start + n].to_vec();
            data.splice(at..at, chunk);
        }
        // Splice: a range of another input, inserted or overwriting.
        5 | 6 if !others.is_empty() => {
            let other = rng.pick(others);
            if other.is_empty() {
                return;
            }
            let start = rng.below(other.len());
            let n = rng.small_len(other.len() - start);
            let chunk = other[start..start + n].to_vec();
            if rng.one_in(2) {
                data.splice(at..at, chunk);
            } else {
                let end = (at + n).min(len);
                data.splice(at..end, chunk);
            }
        }
        // Truncate.
        7 if len > 0 && rng.one_in(2) => data.truncate(rng.below(len)),
        // Repeat a short range many times: deep nesting and long chains of whatever it holds.
        7 if len > 0 => {
            let start = rng.below(len);
            let n = rng.small_len((len - start).min(16));
            let times = *rng.pick(&[2usize, 10, 100, 500, 1000, 5000, 20_000]);
            let chunk = data[start..start + n].repeat(times.min(MAX_LEN / n));
            data.splice(start..start, chunk);
        }
        // A dictionary token.
        8 | 9 => {
            let token: Vec<u8> = if kind == Kind::Binary && rng.one_in(2) {
                rng.pick(INTERESTING_BYTES).to_vec()
            } else {
                rng.pick(dictionary(kind)).as_bytes().to_vec()
            };
            if kind == Kind::Binary && at + token.len() <= len && rng.one_in(2) {
                data[at..at + token.len()].copy_from_slice(&token);
            } else {
                data.splice(at..at, token);
            }
        }
        // Odd characters: multi-byte UTF-8, controls, invalid UTF-8.
        _ => {
            let odd: &[&[u8]] = &[
                "é".as_bytes(),
                "𝄞".as_bytes(),
                "\u{202e}".as_bytes(),
                "\u{feff}".as_bytes(),
                b"\0",
                b"\r",
                b"\x7f",
                &[0xff],
                &[0xc3],
                &[0xe2, 0x82],
            ];
            data.splice(at..at, rng.pick(odd).to_vec());
        }
    }
}

/// Deep nesting of `open`/`close` around `inner`, up to 20,000 levels.
fn nested(rng: &mut Rng, open: &str, close: &str, inner: &str) -> String {
    let depth = *rng.pick(&[2usize, 16, 64, 128, 129, 200, 1000, 5000, 20_000]);
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// The byte ranges of the values of `key = value` lines.
fn toml_value_spans(text: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#')
            && !trimmed.starts_with('[')
            && let Some(eq) = line.find('=')
        {
            let end = offset + line.trim_end_matches(['\n', '\r']).len();
            out.push((offset, offset + eq + 1, end));
        }
        offset += line.len();
    }
    out
}

fn toml_mutation(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let spans = toml_value_spans(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let new = match rng.below(7) {
        // Swap a value for an extreme one.
        0..=2 if !spans.is_empty() => {
            let (_, value_start, end) = *rng.pick(&spans);
            let old = text[value_start..end].trim();
            let numeric = old.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
            let value = match rng.below(10) {
                _ if numeric && rng.one_in(2) => rng.pick(EXTREME_NUMBERS).to_string(),
                _ if old.starts_with(['"', '\'']) && rng.one_in(2) => extreme_string(rng),
                0 => nested(rng, "[", "]", "1"),
                1 => nested(rng, "{ a = ", " }", "1"),
                2 => format!("\"{}\"", "x".repeat(rng.small_len(70_000))),
                3 | 4 => rng.pick(EXTREME_TOML).to_string(),
                _ => rng.pick(EXTREME_SCALARS).to_string(),
            };
            format!("{} {value}{}", &text[..value_start], &text[end..])
        }
        // Swap a value for one of another input (a value of the right kind elsewhere).
        3 if !spans.is_empty() && !others.is_empty() => {
            let other = String::from_utf8_lossy(rng.pick(others).as_slice()).into_owned();
            let theirs = toml_value_spans(&other);
            if theirs.is_empty() {
                return false;
            }
            let (_, vs, ve) = *rng.pick(&theirs);
            let (_, value_start, end) = *rng.pick(&spans);
            format!("{}{}{}", &text[..value_start], &other[vs..ve], &text[end..])
        }
        // Duplicate a line (a duplicate key, or a repeated table header).
        4 if !lines.is_empty() => {
            let i = rng.below(lines.len());
            let j = rng.below(lines.len() + 1);
            let mut l = lines.clone();
            let dup = if lines[i].ends_with('\n') {
                lines[i].to_string()
            } else {
                format!("{}\n", lines[i])
            };
            l.insert(j, &dup);
            l.concat()
        }
        // Drop or move a line.
        5 if lines.len() > 1 => {
            let mut l = lines.clone();
            let line = l.remove(rng.below(l.len()));
            if rng.one_in(2) {
                let j = rng.below(l.len() + 1);
                l.insert(j, line);
            }
            l.concat()
        }
        // A key of a new or odd name, with an extreme value, at a random line.
        6 => {
            let keys = [
                "x",
                "\"\"",
                "a.b.c",
                "\"é\"",
                "partitions",
                "name",
                "_",
                "topic.config.\"retention.ms\"",
            ];
            let line = format!("{} = {}\n", rng.pick(&keys), rng.pick(EXTREME_SCALARS));
            let mut l = lines.clone();
            l.insert(rng.below(l.len() + 1), &line);
            l.concat()
        }
        _ => return false,
    };
    *data = new.into_bytes();
    true
}

/// A placeholder string that marks where raw JSON text goes after serialising.
const MARK: &str = "\u{1}mesh-fuzz\u{1}";

fn json_mutation(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    let count = count_nodes(&value);
    let target = rng.below(count);
    let typed = rng.one_in(2);
    let raw: String = match rng.below(8) {
        // A value of the node's own type, so typed readers get past the shape to the value.
        _ if typed => {
            let mut seen = 0;
            let mut kind = 0;
            edit_node(&mut value, target, &mut seen, &mut |node| {
                kind = match node {
                    serde_json::Value::Number(_) => 1,
                    serde_json::Value::String(_) => 2,
                    serde_json::Value::Bool(_) => 3,
                    _ => 0,
                }
            });
            match kind {
                1 => rng.pick(EXTREME_NUMBERS).to_string(),
                2 => extreme_string(rng),
                3 => rng.pick(&["true", "false"]).to_string(),
                _ => rng.pick(EXTREME_SCALARS).to_string(),
            }
        }
        0 => nested(rng, "[", "]", "1"),
        1 => nested(rng, "{\"a\":", "}", "1"),
        2 => format!("\"{}\"", "x".repeat(rng.small_len(70_000))),
        // Duplicate keys.
        3 => {
            "{\"type\": \"string\", \"type\": \"record\", \"name\": \"A\", \"name\": \"B\"}".into()
        }
        _ => rng.pick(EXTREME_SCALARS).to_string(),
    };
    let how = if typed { 3 } else { rng.below(4) };
    let mut seen = 0;
    edit_node(&mut value, target, &mut seen, &mut |node| match how {
        // Remove a member or an element.
        0 => match node {
            serde_json::Value::Object(o) if !o.is_empty() => {
                let k = o.keys().nth(target % o.len()).cloned();
                if let Some(k) = k {
                    o.remove(&k);
                }
            }
            serde_json::Value::Array(a) if !a.is_empty() => {
                let i = target % a.len();
                a.remove(i);
            }
            _ => *node = serde_json::Value::String(MARK.into()),
        },
        // Duplicate an element or add a member.
        1 => match node {
            serde_json::Value::Object(o) => {
                o.insert(format!("k{target}"), serde_json::Value::String(MARK.into()));
            }
            serde_json::Value::Array(a) if !a.is_empty() => {
                let e = a[target % a.len()].clone();
                a.push(e);
            }
            _ => *node = serde_json::Value::String(MARK.into()),
        },
        _ => *node = serde_json::Value::String(MARK.into()),
    });
    let Ok(text) = serde_json::to_string_pretty(&value) else {
        return false;
    };
    let marked = serde_json::to_string(MARK).unwrap_or_default();
    *data = text.replacen(&marked, &raw, 1).into_bytes();
    true
}

fn count_nodes(v: &serde_json::Value) -> usize {
    1 + match v {
        serde_json::Value::Array(a) => a.iter().map(count_nodes).sum(),
        serde_json::Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Calls `f` on the node numbered `target` in pre-order.
fn edit_node(
    v: &mut serde_json::Value,
    target: usize,
    seen: &mut usize,
    f: &mut dyn FnMut(&mut serde_json::Value),
) -> bool {
    if *seen == target {
        f(v);
        return true;
    }
    *seen += 1;
    match v {
        serde_json::Value::Array(a) => a.iter_mut().any(|c| edit_node(c, target, seen, f)),
        serde_json::Value::Object(o) => o.values_mut().any(|c| edit_node(c, target, seen, f)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_bounded_and_change_things() {
        let mut rng = Rng::new(3);
        let toml = b"[mesh]\nname = \"acme\"\nretire_idle_days = 7\n".to_vec();
        let json = br#"{"type": "record", "name": "A", "fields": [{"name": "a", "type": "int"}]}"#;
        let mut changed = 0;
        for kind in [Kind::Toml, Kind::Json, Kind::Text, Kind::Binary] {
            let seed: &[u8] = if kind == Kind::Json { json } else { &toml };
            for _ in 0..500 {
                let m = mutate(&mut rng, seed, std::slice::from_ref(&toml), kind);
                assert!(m.len() <= MAX_LEN);
                changed += usize::from(m != seed);
            }
        }
        assert!(changed > 1500, "only {changed} of 2000 mutants differ");
    }

    #[test]
    fn a_json_node_can_be_swapped_for_raw_text() {
        let mut rng = Rng::new(11);
        let mut found_raw = false;
        for _ in 0..200 {
            let mut data = br#"{"a": [1, 2], "b": {"c": "d"}}"#.to_vec();
            if json_mutation(&mut rng, &mut data) {
                let text = String::from_utf8(data).unwrap();
                assert!(!text.contains('\u{1}'), "{text}");
                found_raw |= text.contains("9223372036854775807") || text.contains("[[");
            }
        }
        assert!(found_raw);
    }
}
