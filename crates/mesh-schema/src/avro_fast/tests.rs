use serde_json::{Value, json};

use super::*;
use crate::check_avro_thoroughly;

fn thorough_ok(text: &str) -> bool {
    check_avro_thoroughly("t.avsc", text).is_empty()
}

/// The contract on one schema: a `true` of the quick check is a pass of the thorough one.
fn holds(text: &str) -> bool {
    let quick = surely_valid(text);
    assert!(
        !quick || thorough_ok(text),
        "the quick check accepted a schema the thorough check rejects: {text}\n{:?}",
        check_avro_thoroughly("t.avsc", text)
    );
    quick
}

/// Schemas with an expected verdict of the quick check; each also holds to the contract.
#[test]
fn quirks_of_apache_avro_are_followed() {
    let cases: &[(&str, bool)] = &[
        (r#""string""#, true),
        (r#"["null","string"]"#, true),
        (r#""Nothing""#, false),
        (r#"42"#, false),
        (r#"{"type":"record","name":"R","fields":[]}"#, true),
        // A field's own logicalType applies to its type.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"at","type":"long","logicalType":"timestamp-millis"}]}"#,
            true,
        ),
        // A union's default may suit any branch (apache-avro), not just the first.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"],"default":"x"}]}"#,
            true,
        ),
        // An integer suits float and double; a float does not suit int.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"double","default":3}]}"#,
            true,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1.5}]}"#,
            false,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":null}]}"#,
            false,
        ),
        // Enum defaults, of the enum and of a field of it.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B"],"default":"A"},"default":"B"}]}"#,
            true,
        ),
        (
            r#"{"type":"enum","name":"S","symbols":["A","B"],"default":"C"}"#,
            false,
        ),
        (r#"{"type":"enum","name":"S","symbols":["A","A"]}"#, false),
        (r#"{"type":"enum","name":"S","symbols":["A","b-c"]}"#, false),
        // Collections and their defaults.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"l","type":{"type":"array","items":"long"},"default":[1,2]},{"name":"m","type":{"type":"map","values":"string"},"default":{"k":"v"}}]}"#,
            true,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"l","type":{"type":"array","items":"long"},"default":["x"]}]}"#,
            false,
        ),
        // A union below the field's own type picks its branch by another rule (the value's kind
        // first): not followed, though apache-avro accepts this one.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"l","type":{"type":"array","items":["null","int"]},"default":[9000000000]}]}"#,
            false,
        ),
        // Fixed sizes and defaults.
        (
            r#"{"type":"fixed","name":"F","size":4,"default":"abcd"}"#,
            true,
        ),
        (
            r#"{"type":"fixed","name":"F","size":4,"default":"abc"}"#,
            false,
        ),
        (r#"{"type":"fixed","name":"F","size":-1}"#, false),
        // Logical types: supported bases, ignored elsewhere, decimals checked.
        (
            r#"{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}"#,
            true,
        ),
        (
            r#"{"type":"bytes","logicalType":"decimal","precision":2,"scale":3}"#,
            false,
        ),
        (r#"{"type":"string","logicalType":"date"}"#, true),
        (r#"{"type":"string","logicalType":"my-own"}"#, true),
        (r#"{"type":"string","logicalType":7}"#, false),
        (r#"["string",{"type":"string","logicalType":"uuid"}]"#, true),
        // An ignored logical type leaves the base kind: a duplicate in the union.
        (
            r#"["string",{"type":"string","logicalType":"date"}]"#,
            false,
        ),
        // Unions: duplicates, nesting, emptiness.
        (r#"["null","null"]"#, false),
        (r#"["null",["string"]]"#, false),
        (r#"["null",{"type":["string"]}]"#, false),
        (r#"[]"#, false),
        (
            r#"[{"type":"record","name":"A","fields":[]},{"type":"record","name":"B","fields":[]}]"#,
            true,
        ),
        // Names: references, namespaces, recursion, redefinition, duplicates.
        (
            r#"{"type":"record","name":"Node","namespace":"a.b","fields":[{"name":"next","type":["null","Node"]},{"name":"same","type":["null","a.b.Node"]}]}"#,
            true,
        ),
        (
            r#"{"type":"record","name":"R","namespace":"a","fields":[{"name":"x","type":{"type":"fixed","name":"F","size":1}},{"name":"y","type":"b.F"}]}"#,
            false,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"x","type":{"type":"fixed","name":"R","size":1}}]}"#,
            false,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}"#,
            false,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","aliases":["b"]},{"name":"b","type":"int"}]}"#,
            false,
        ),
        (r#"{"type":"record","name":"In voice","fields":[]}"#, false),
        (r#"{"type":"record","name":".R","fields":[]}"#, false),
        (
            r#"{"type":"record","name":"R","namespace":"a..b","fields":[]}"#,
            false,
        ),
        // A field object that is itself a type, and "record" named in a field.
        (
            r#"{"type":"record","name":"R","fields":[{"name":"e","type":"enum","symbols":["A"]}]}"#,
            false,
        ),
        (
            r#"{"type":"record","name":"R","fields":[{"name":"r","type":"record"}]}"#,
            false,
        ),
        // Members the name rules walk on any object.
        (
            r#"{"type":"record","name":"R","fields":[],"items":{"type":"enum","name":"x y","symbols":[]}}"#,
            false,
        ),
        (r#"{"type":"array","items":"int","values":"int"}"#, false),
        // Fields that are not objects are skipped by apache-avro; not followed here.
        (r#"{"type":"record","name":"R","fields":[1]}"#, false),
        // Escaped strings and duplicate keys (the last counts, as in serde_json).
        (
            r#"{"type":"record","name":"R\u0031","fields":[{"name":"a","type":"string","type":"int","default":1}]}"#,
            true,
        ),
        (r#"{"type":"record","name":"R","fields":[] } x"#, false),
    ];
    for (text, expected) in cases {
        assert_eq!(holds(text), *expected, "{text}");
    }
}

/// Every Avro schema of the example repo is settled by the quick check.
#[test]
fn the_example_repos_schemas_take_the_quick_path() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example");
    let mut seen = 0;
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "avsc") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(thorough_ok(&text), "{} is valid", path.display());
                assert!(holds(&text), "{} takes the quick path", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "found {seen} .avsc files");
}

/// A small deterministic generator of Avro-like schemas, valid and not, drawn from the
/// constructs above and their near misses.
struct Gen {
    state: u64,
}

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn one<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.pick(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn name(&mut self) -> String {
        self.one(&[
            "A", "B", "Node", "x.A", "a.b.C", "_R1", "Bad name", ".D", "record",
        ])
        .to_owned()
    }

    fn default(&mut self) -> Value {
        match self.pick(14) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(7),
            3 => json!(-3),
            4 => json!(9_000_000_000i64),
            5 => json!(18_446_744_073_709_551_615u64),
            6 => json!(1.5),
            7 => json!("A"),
            8 => json!("abcd"),
            9 => json!([]),
            10 => json!([1, "A"]),
            11 => json!({}),
            12 => json!({"k": "A"}),
            _ => json!(["A", "B"]),
        }
    }

    fn schema(&mut self, depth: usize) -> Value {
        let kinds = if depth > 3 { 7 } else { 15 };
        let kind = self.pick(kinds);
        self.schema_of(kind, depth)
    }

    /// A schema of the kind numbered `kind` (records are 7 and 8).
    fn schema_of(&mut self, kind: usize, depth: usize) -> Value {
        match kind {
            0..=4 => json!(self.one(&[
                "null", "boolean", "int", "long", "float", "double", "bytes", "string", "error"
            ])),
            5 | 6 => json!(self.name()),
            7 | 8 => {
                let mut fields = Vec::new();
                for _ in 0..self.pick(4) {
                    let mut f = serde_json::Map::new();
                    f.insert(
                        "name".into(),
                        json!(self.one(&["a", "b", "c", "a", "bad-field"])),
                    );
                    f.insert("type".into(), self.schema(depth + 1));
                    if self.chance(40) {
                        f.insert("default".into(), self.default());
                    }
                    if self.chance(10) {
                        f.insert("aliases".into(), json!([self.one(&["b", "z", "q-q"])]));
                    }
                    if self.chance(10) {
                        f.insert(
                            "logicalType".into(),
                            json!(self.one(&["date", "timestamp-millis", "uuid", "mine"])),
                        );
                    }
                    if self.chance(5) {
                        f.insert("symbols".into(), json!(["A"]));
                    }
                    fields.push(Value::Object(f));
                }
                let mut r = json!({"type": "record", "name": self.name(), "fields": fields});
                if self.chance(30) {
                    r["namespace"] = json!(self.one(&["a", "a.b", "", "x", "bad ns"]));
                }
                if self.chance(10) {
                    r["aliases"] = json!([self.one(&["Old", "a.Old", "A", "bad alias"])]);
                }
                if self.chance(5) {
                    r[self.one(&["items", "values"])] = self.schema(depth + 1);
                }
                if self.chance(5) {
                    r["logicalType"] = json!("date");
                }
                r
            }
            9 => {
                let symbols: Vec<&str> = (0..1 + self.pick(3))
                    .map(|_| self.one(&["A", "B", "C", "_d", "e-f"]))
                    .collect();
                let mut e = json!({"type": "enum", "name": self.name(), "symbols": symbols});
                if self.chance(40) {
                    e["default"] = self.default();
                }
                e
            }
            10 => {
                let mut f = json!({"type": "fixed", "name": self.name(), "size": self.one(&["0", "4", "16", "12"]).parse::<u64>().unwrap()});
                if self.chance(30) {
                    f["default"] = json!(self.one(&["abcd", "0123456789abcdef", "x"]));
                }
                if self.chance(40) {
                    f["logicalType"] = json!(self.one(&["uuid", "duration", "decimal"]));
                    f["precision"] = json!(4);
                }
                f
            }
            11 => json!({"type": "array", "items": self.schema(depth + 1)}),
            12 => json!({"type": "map", "values": self.schema(depth + 1)}),
            13 => {
                let branches: Vec<Value> =
                    (0..self.pick(4)).map(|_| self.schema(depth + 1)).collect();
                Value::Array(branches)
            }
            _ => {
                let base = self.one(&["int", "long", "string", "bytes", "double"]);
                // Every logical type apache-avro models, and one it does not.
                let logical = if self.chance(10) {
                    "other"
                } else {
                    self.one(LOGICAL)
                };
                let mut l = json!({"type": base, "logicalType": logical});
                if logical == "decimal" {
                    l["precision"] = self.default();
                    if self.chance(50) {
                        l["scale"] = self.default();
                    }
                }
                l
            }
        }
    }
}

/// The contract on thousands of generated schemas, valid and not: whatever the quick check
/// accepts, the thorough check accepts. It must also settle most of the valid ones, or it
/// would be no quicker.
#[test]
fn the_quick_check_never_accepts_what_the_thorough_one_rejects() {
    let mut g = Gen {
        state: 0x9e37_79b9_7f4a_7c15,
    };
    let (mut quick, mut valid, mut total) = (0, 0, 0);
    for _ in 0..6000 {
        // Mostly records, as schema files are.
        let text = if g.chance(80) {
            g.schema_of(7, 0)
        } else {
            g.schema(0)
        }
        .to_string();
        total += 1;
        let q = holds(&text);
        quick += usize::from(q);
        valid += usize::from(thorough_ok(&text));
    }
    assert!(
        valid * 10 > total,
        "the generator makes valid schemas too: {valid} of {total}"
    );
    assert!(
        quick * 2 > valid,
        "the quick check settles most valid schemas: {quick} of {valid}"
    );
}
