//! The table of Avro resolution cases (`avro_resolution_cases.toml`, taken rule by rule from the
//! Avro specification) against mesh's own check: the verdict, the field path named and the fix
//! suggested. The registry's verdict on the same table is checked in mesh-registry's tests.

use mesh_schema::avro_resolve::{Schema, can_read};
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    rule: String,
    writer: String,
    reader: String,
    compatible: bool,
    path: Option<String>,
    fix: Option<String>,
}

fn parse(text: &str, which: &str, case: &str) -> Schema {
    let v: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{case}: the {which} schema is not JSON: {e}"));
    Schema::parse(&v).unwrap_or_else(|e| panic!("{case}: the {which} schema: {e}"))
}

#[test]
fn every_case_of_the_table_gets_the_specifications_verdict() {
    let table: Table = toml::from_str(include_str!("avro_resolution_cases.toml")).unwrap();
    assert!(table.case.len() >= 50, "the table lost cases");
    let mut wrong = Vec::new();
    for c in &table.case {
        let found = can_read(
            &parse(&c.reader, "reader", &c.name),
            &parse(&c.writer, "writer", &c.name),
        );
        if found.is_empty() != c.compatible {
            wrong.push(format!("{} ({}): got {found:?}", c.name, c.rule));
            continue;
        }
        if let Some(path) = &c.path
            && !found.iter().any(|i| &i.path == path)
        {
            wrong.push(format!(
                "{}: expected the path {path}, got {found:?}",
                c.name
            ));
        }
        if let Some(fix) = &c.fix
            && !found.iter().any(|i| i.fix.contains(fix.as_str()))
        {
            wrong.push(format!(
                "{}: expected a fix with {fix:?}, got {found:?}",
                c.name
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} case(s) wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_schema_reads_itself_in_every_case_of_the_table() {
    let table: Table = toml::from_str(include_str!("avro_resolution_cases.toml")).unwrap();
    for c in &table.case {
        for text in [&c.reader, &c.writer] {
            let s = parse(text, "same", &c.name);
            assert_eq!(can_read(&s, &s), vec![], "{}: {text}", c.name);
        }
    }
}
