//! The field tree of a schema file: every field of an Avro record, a JSON Schema object or a
//! Protobuf message, nested, with a readable type, its documentation, default and whether it may
//! be absent. For the catalog site and the exports (ODCS properties, OpenLineage schema facets).
//!
//! Reading is lenient — it describes what it understands and never fails on a part it does not
//! (an unknown keyword, an unresolvable reference becomes a type named as written) — and never
//! panics. Recursive types are expanded once: the second time a named type appears inside itself
//! it is referred to by name, without children. A schema whose types reference each other
//! many times over (a DAG, not a cycle) could still describe exponentially many fields; the
//! tree stops expanding references after [`MAX_FIELDS`] fields and [`MAX_DEPTH`] levels.

use crate::Format;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One field of a schema, with the fields nested inside its type.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Field {
    /// The field's own name.
    pub name: String,
    /// Dotted from the root record, e.g. `customer.address.zip` (arrays, maps and unions add no
    /// segment: the fields of an array's records are `lines.sku`).
    pub path: String,
    /// Readable: `string`, `long (timestamp-millis)`, `enum Status`, `array<string>`,
    /// `map<long>`, `record Address`, `null | string`.
    pub type_name: String,
    pub doc: Option<String>,
    pub default: Option<Value>,
    /// May be absent or null: a nullable union (Avro, JSON Schema `null` types and branches), a
    /// property not in JSON Schema `required`, a Protobuf `optional` field or `oneof` member.
    pub optional: bool,
    /// Enum symbols (also of an array's or union's enum).
    pub symbols: Vec<String>,
    /// Nested record fields, also through array items, map values and union branches.
    pub children: Vec<Field>,
}

/// Fields described at most per schema; past that, references are no longer expanded.
pub const MAX_FIELDS: usize = 10_000;
/// Nesting levels expanded at most.
pub const MAX_DEPTH: usize = 64;

/// The fields of a schema's root record (Avro record, JSON Schema object, the first message of a
/// `.proto` file). A root that is not a record (an Avro `"string"` key) has no fields: `Ok(vec![])`.
/// An error only when the text cannot be read at all (not JSON, not Protobuf).
pub fn fields(format: Format, text: &str) -> Result<Vec<Field>, String> {
    match format {
        Format::Avro => avro::fields(text),
        Format::Json => json::fields(text),
        Format::Protobuf => proto::fields(text),
    }
}

/// The walk's budget and the names being expanded (recursion guard).
struct Walk {
    described: usize,
    stack: Vec<String>,
}

impl Walk {
    fn new() -> Self {
        Walk {
            described: 0,
            stack: Vec::new(),
        }
    }

    /// Whether the named type `name` may be expanded here.
    fn may_expand(&self, name: &str) -> bool {
        self.described < MAX_FIELDS
            && self.stack.len() < MAX_DEPTH
            && !self.stack.iter().any(|n| n == name)
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// What a type contributes to the field that has it.
#[derive(Default)]
struct Shape {
    type_name: String,
    doc: Option<String>,
    optional: bool,
    symbols: Vec<String>,
    children: Vec<Field>,
}

fn text_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

mod avro {
    use super::*;

    const PRIMITIVES: &[&str] = &[
        "null", "boolean", "int", "long", "float", "double", "bytes", "string",
    ];

    pub(super) fn fields(text: &str) -> Result<Vec<Field>, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let mut names = HashMap::new();
        collect(&root, "", &mut names, 0);
        let reader = Reader { names };
        let mut walk = Walk::new();
        Ok(reader.shape(&root, "", "", &mut walk).children)
    }

    fn namespace_of(name: &str) -> Option<&str> {
        name.rsplit_once('.').map(|(ns, _)| ns)
    }

    fn full_name(o: &Map<String, Value>, enclosing: &str) -> Option<String> {
        let name = o.get("name")?.as_str()?;
        if name.contains('.') {
            return Some(name.to_owned());
        }
        let ns = o
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(enclosing);
        Some(join(ns, name))
    }

    /// Every named type (record, error, enum, fixed) by full name, first definition wins.
    fn collect<'a>(
        v: &'a Value,
        ns: &str,
        names: &mut HashMap<String, &'a Map<String, Value>>,
        depth: usize,
    ) {
        if depth > 256 {
            return;
        }
        match v {
            Value::Array(branches) => {
                for b in branches {
                    collect(b, ns, names, depth + 1);
                }
            }
            Value::Object(o) => {
                let kind = o.get("type");
                let mut inner_ns = ns.to_owned();
                if let Some(kind_name) = kind.and_then(Value::as_str)
                    && matches!(kind_name, "record" | "error" | "enum" | "fixed")
                    && let Some(full) = full_name(o, ns)
                {
                    inner_ns = namespace_of(&full).unwrap_or("").to_owned();
                    names.entry(full).or_insert(o);
                }
                match kind {
                    Some(Value::String(_)) => {}
                    // {"type": {...}} or {"type": [...]}: a type wrapped in an object.
                    Some(other) => collect(other, &inner_ns, names, depth + 1),
                    None => {}
                }
                for key in ["items", "values"] {
                    if let Some(x) = o.get(key) {
                        collect(x, &inner_ns, names, depth + 1);
                    }
                }
                if let Some(Value::Array(fields)) = o.get("fields") {
                    for f in fields {
                        if let Some(t) = f.get("type") {
                            collect(t, &inner_ns, names, depth + 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    struct Reader<'a> {
        names: HashMap<String, &'a Map<String, Value>>,
    }

    impl Reader<'_> {
        /// A named type referenced by `name` from namespace `ns`.
        fn lookup(&self, name: &str, ns: &str) -> Option<(String, &Map<String, Value>)> {
            if let Some(o) = self.names.get(&join(ns, name)) {
                return Some((join(ns, name), o));
            }
            if let Some(o) = self.names.get(name) {
                return Some((name.to_owned(), o));
            }
            // Lenient: a simple name defined in another namespace, if only one has it.
            let mut found = self
                .names
                .iter()
                .filter(|(full, _)| full.rsplit('.').next() == Some(name));
            match (found.next(), found.next()) {
                (Some((full, o)), None) => Some((full.clone(), o)),
                _ => None,
            }
        }

        /// The shape of an Avro type `v` found at `path`, in namespace `ns`.
        fn shape(&self, v: &Value, path: &str, ns: &str, walk: &mut Walk) -> Shape {
            match v {
                Value::String(name) => self.named(name, path, ns, walk),
                Value::Array(branches) => self.union(branches, path, ns, walk),
                Value::Object(o) => self.complex(o, path, ns, walk),
                other => Shape {
                    type_name: format!("invalid type {other}"),
                    ..Shape::default()
                },
            }
        }

        fn named(&self, name: &str, path: &str, ns: &str, walk: &mut Walk) -> Shape {
            if PRIMITIVES.contains(&name) {
                return Shape {
                    type_name: name.to_owned(),
                    optional: name == "null",
                    ..Shape::default()
                };
            }
            match self.lookup(name, ns) {
                Some((full, def)) => self.definition(&full, def, path, walk),
                None => Shape {
                    type_name: name.to_owned(),
                    ..Shape::default()
                },
            }
        }

        /// A named type's shape; its fields only when it is not already being expanded.
        fn definition(
            &self,
            full: &str,
            def: &Map<String, Value>,
            path: &str,
            walk: &mut Walk,
        ) -> Shape {
            let simple = full.rsplit('.').next().unwrap_or(full);
            let kind = def.get("type").and_then(Value::as_str).unwrap_or("");
            let doc = text_of(def.get("doc"));
            match kind {
                "enum" => Shape {
                    type_name: format!("enum {simple}"),
                    doc,
                    symbols: def
                        .get("symbols")
                        .and_then(Value::as_array)
                        .map(|s| {
                            s.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    ..Shape::default()
                },
                "fixed" => {
                    let size = def.get("size").map(|s| s.to_string()).unwrap_or_default();
                    let logical = def.get("logicalType").and_then(Value::as_str);
                    Shape {
                        type_name: match logical {
                            Some(l) => format!("fixed {simple}({size}) ({l})"),
                            None => format!("fixed {simple}({size})"),
                        },
                        doc,
                        ..Shape::default()
                    }
                }
                _ => {
                    let mut children = Vec::new();
                    if walk.may_expand(full) {
                        walk.stack.push(full.to_owned());
                        let ns = namespace_of(full).unwrap_or("");
                        if let Some(Value::Array(fields)) = def.get("fields") {
                            for f in fields {
                                if let Some(field) = self.field(f, path, ns, walk) {
                                    children.push(field);
                                }
                            }
                        }
                        walk.stack.pop();
                    }
                    Shape {
                        type_name: format!("record {simple}"),
                        doc,
                        children,
                        ..Shape::default()
                    }
                }
            }
        }

        fn union(&self, branches: &[Value], path: &str, ns: &str, walk: &mut Walk) -> Shape {
            let mut out = Shape::default();
            let mut names = Vec::new();
            for b in branches {
                let s = self.shape(b, path, ns, walk);
                out.optional |= s.type_name == "null";
                names.push(s.type_name);
                if out.doc.is_none() {
                    out.doc = s.doc;
                }
                out.symbols.extend(s.symbols);
                out.children.extend(s.children);
            }
            out.type_name = names.join(" | ");
            out
        }

        fn complex(&self, o: &Map<String, Value>, path: &str, ns: &str, walk: &mut Walk) -> Shape {
            let Some(kind) = o.get("type") else {
                return Shape {
                    type_name: "invalid type (no \"type\")".to_owned(),
                    ..Shape::default()
                };
            };
            let kind = match kind {
                Value::String(k) => k.as_str(),
                // {"type": {"type": ...}}: the inner type.
                other => return self.shape(other, path, ns, walk),
            };
            match kind {
                "record" | "error" | "enum" | "fixed" => match full_name(o, ns) {
                    Some(full) => {
                        // The definition collected under that name (the first one), so that a
                        // repeated definition reads like its first.
                        let def = self.names.get(&full).copied().unwrap_or(o);
                        self.definition(&full, def, path, walk)
                    }
                    None => Shape {
                        type_name: format!("{kind} (no name)"),
                        ..Shape::default()
                    },
                },
                "array" => {
                    let items = o
                        .get("items")
                        .map(|i| self.shape(i, path, ns, walk))
                        .unwrap_or_default();
                    Shape {
                        type_name: format!("array<{}>", items.type_name),
                        doc: None,
                        optional: false,
                        symbols: items.symbols,
                        children: items.children,
                    }
                }
                "map" => {
                    let values = o
                        .get("values")
                        .map(|i| self.shape(i, path, ns, walk))
                        .unwrap_or_default();
                    Shape {
                        type_name: format!("map<{}>", values.type_name),
                        doc: None,
                        optional: false,
                        symbols: values.symbols,
                        children: values.children,
                    }
                }
                primitive => {
                    let mut shape = self.named(primitive, path, ns, walk);
                    if let Some(logical) = o.get("logicalType").and_then(Value::as_str) {
                        let detail = match (o.get("precision"), o.get("scale")) {
                            (Some(p), Some(s)) => format!("{logical}({p},{s})"),
                            (Some(p), None) => format!("{logical}({p})"),
                            _ => logical.to_owned(),
                        };
                        shape.type_name = format!("{} ({detail})", shape.type_name);
                    }
                    shape
                }
            }
        }

        fn field(&self, f: &Value, parent: &str, ns: &str, walk: &mut Walk) -> Option<Field> {
            let name = f.get("name")?.as_str()?.to_owned();
            walk.described += 1;
            let path = join(parent, &name);
            let shape = match f.get("type") {
                Some(t) => self.shape(t, &path, ns, walk),
                None => Shape {
                    type_name: "invalid type (no \"type\")".to_owned(),
                    ..Shape::default()
                },
            };
            Some(Field {
                name,
                doc: text_of(f.get("doc")).or(shape.doc),
                default: f.get("default").cloned(),
                optional: shape.optional,
                type_name: shape.type_name,
                symbols: shape.symbols,
                children: shape.children,
                path,
            })
        }
    }
}

mod json {
    use super::*;

    pub(super) fn fields(text: &str) -> Result<Vec<Field>, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let reader = Reader { root: &root };
        let mut walk = Walk::new();
        Ok(reader.shape(&root, "", &mut walk).children)
    }

    struct Reader<'a> {
        root: &'a Value,
    }

    /// `#/$defs/a~1b` → the node, for local references only.
    fn pointer<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
        let fragment = reference.strip_prefix('#')?;
        if fragment.is_empty() {
            return Some(root);
        }
        root.pointer(fragment)
    }

    fn last_segment(reference: &str) -> &str {
        reference
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty() && *s != "#")
            .unwrap_or("root")
    }

    impl<'a> Reader<'a> {
        fn shape(&self, v: &'a Value, path: &str, walk: &mut Walk) -> Shape {
            let o = match v {
                Value::Bool(true) => {
                    return Shape {
                        type_name: "any".to_owned(),
                        ..Shape::default()
                    };
                }
                Value::Object(o) => o,
                Value::Bool(false) => {
                    return Shape {
                        type_name: "never".to_owned(),
                        ..Shape::default()
                    };
                }
                // Not a schema (a draft-4 tuple `items: [...]`, a stray value): nothing known.
                _ => {
                    return Shape {
                        type_name: "any".to_owned(),
                        ..Shape::default()
                    };
                }
            };
            if let Some(reference) = o.get("$ref").and_then(Value::as_str) {
                return self.reference(reference, o, path, walk);
            }
            let doc = text_of(o.get("description")).or_else(|| text_of(o.get("title")));
            let symbols: Vec<String> = o
                .get("enum")
                .and_then(Value::as_array)
                .map(|s| {
                    s.iter()
                        .filter(|v| !v.is_null())
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let enum_has_null = o
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(Value::is_null));

            // Union keywords: the branches' types joined, children merged.
            for key in ["oneOf", "anyOf"] {
                if let Some(Value::Array(branches)) = o.get(key)
                    && !o.contains_key("type")
                    && !o.contains_key("properties")
                {
                    let mut out = Shape {
                        doc,
                        ..Shape::default()
                    };
                    let mut names = Vec::new();
                    for b in branches {
                        let s = self.shape(b, path, walk);
                        out.optional |= s.optional || s.type_name == "null";
                        names.push(s.type_name);
                        out.symbols.extend(s.symbols);
                        out.children.extend(s.children);
                    }
                    out.type_name = names.join(" | ");
                    return out;
                }
            }

            let types: Vec<&str> = match o.get("type") {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                _ if o.contains_key("properties") => vec!["object"],
                _ if o.contains_key("items") => vec!["array"],
                _ => vec![],
            };
            let optional = types.contains(&"null") || enum_has_null;
            let mut children = Vec::new();
            let mut child_symbols = Vec::new();
            let names: Vec<String> = types
                .iter()
                .map(|t| match *t {
                    "object" => {
                        let (fields, map_values) = self.object(o, path, walk);
                        children.extend(fields);
                        match map_values {
                            Some(values) => {
                                child_symbols.extend(values.symbols);
                                children.extend(values.children);
                                format!("map<{}>", values.type_name)
                            }
                            None => "object".to_owned(),
                        }
                    }
                    "array" => {
                        let items = match o.get("items") {
                            Some(items) => self.shape(items, path, walk),
                            None => Shape {
                                type_name: "any".to_owned(),
                                ..Shape::default()
                            },
                        };
                        child_symbols.extend(items.symbols);
                        children.extend(items.children);
                        format!("array<{}>", items.type_name)
                    }
                    other => match o.get("format").and_then(Value::as_str) {
                        Some(format) if other != "null" => format!("{other} ({format})"),
                        _ => other.to_owned(),
                    },
                })
                .collect();
            let type_name = if names.is_empty() {
                if symbols.is_empty() {
                    "any".to_owned()
                } else {
                    "enum".to_owned()
                }
            } else {
                names.join(" | ")
            };
            let symbols = if symbols.is_empty() {
                child_symbols
            } else {
                symbols
            };
            Shape {
                type_name,
                doc,
                optional,
                symbols,
                children,
            }
        }

        /// An object's properties (and those of its `allOf` members), and the shape of its
        /// values when it is a map (`additionalProperties` as a schema and no properties).
        fn object(
            &self,
            o: &'a Map<String, Value>,
            path: &str,
            walk: &mut Walk,
        ) -> (Vec<Field>, Option<Shape>) {
            let mut members = vec![o];
            if let Some(Value::Array(all)) = o.get("allOf") {
                for m in all {
                    let mut m = m;
                    // One level of reference inside allOf (the common `allOf: [{$ref}, {...}]`).
                    if let Some(r) = m.get("$ref").and_then(Value::as_str)
                        && let Some(target) = pointer(self.root, r)
                        && walk.may_expand(r)
                    {
                        m = target;
                    }
                    if let Value::Object(mo) = m {
                        members.push(mo);
                    }
                }
            }
            let mut out = Vec::new();
            for m in &members {
                let required: Vec<&str> = m
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let Some(Value::Object(props)) = m.get("properties") else {
                    continue;
                };
                for (name, schema) in props {
                    if walk.described >= MAX_FIELDS {
                        break;
                    }
                    walk.described += 1;
                    let field_path = join(path, name);
                    let shape = self.shape(schema, &field_path, walk);
                    let is_required = members.iter().any(|mm| {
                        mm.get("required")
                            .and_then(Value::as_array)
                            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some(name)))
                    }) || required.contains(&name.as_str());
                    out.push(Field {
                        name: name.clone(),
                        path: field_path,
                        type_name: shape.type_name,
                        doc: shape.doc,
                        default: schema.get("default").cloned(),
                        optional: shape.optional || !is_required,
                        symbols: shape.symbols,
                        children: shape.children,
                    });
                }
            }
            let map_values = match o.get("additionalProperties") {
                Some(values @ Value::Object(_)) if out.is_empty() => {
                    Some(self.shape(values, path, walk))
                }
                _ => None,
            };
            (out, map_values)
        }

        fn reference(
            &self,
            reference: &str,
            o: &'a Map<String, Value>,
            path: &str,
            walk: &mut Walk,
        ) -> Shape {
            let own_doc = text_of(o.get("description"));
            let Some(target) = pointer(self.root, reference) else {
                return Shape {
                    type_name: format!("ref {reference}"),
                    doc: own_doc,
                    ..Shape::default()
                };
            };
            let name = last_segment(reference);
            let is_object = |t: &Value| {
                t.get("properties").is_some()
                    || t.get("type").and_then(Value::as_str) == Some("object")
            };
            if !walk.may_expand(reference) {
                let type_name = if is_object(target) {
                    format!("object {name}")
                } else {
                    format!("ref {name}")
                };
                return Shape {
                    type_name,
                    doc: own_doc,
                    ..Shape::default()
                };
            }
            walk.stack.push(reference.to_owned());
            let mut shape = self.shape(target, path, walk);
            walk.stack.pop();
            if shape.type_name == "object" {
                shape.type_name = format!("object {name}");
            }
            if own_doc.is_some() {
                shape.doc = own_doc;
            }
            shape
        }
    }
}

mod proto {
    use super::*;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto};

    // Field numbers of descriptor.proto, for source locations (comments).
    const FILE_MESSAGE: i32 = 4;
    const FILE_ENUM: i32 = 5;
    const MESSAGE_FIELD: i32 = 2;
    const MESSAGE_NESTED: i32 = 3;
    const MESSAGE_ENUM: i32 = 4;

    pub(super) fn fields(text: &str) -> Result<Vec<Field>, String> {
        // Same guard as `check`: protox-parse's lexer recurses once per multi-byte character of
        // a line comment. A file this small cannot hold a comment long enough to overflow a
        // 2 MiB stack (that takes some 15,000 characters), and its comments stay intact as docs.
        let text = if text.len() <= 16 * 1024 {
            std::borrow::Cow::Borrowed(text)
        } else {
            crate::blank_line_comment_unicode(text)
        };
        let text = &*text;
        let file = match std::panic::catch_unwind(|| protox_parse::parse("schema.proto", text)) {
            Ok(Ok(file)) => file,
            Ok(Err(e)) => return Err(format!("not a valid Protobuf file: {e}")),
            Err(_) => return Err("the Protobuf parser gave up on it".to_owned()),
        };
        let mut comments = HashMap::new();
        for loc in file.source_code_info.iter().flat_map(|s| &s.location) {
            let text = loc
                .leading_comments
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .or_else(|| {
                    loc.trailing_comments
                        .as_deref()
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                });
            if let Some(text) = text {
                comments
                    .entry(loc.path.clone())
                    .or_insert_with(|| text.to_owned());
            }
        }
        let package = file.package.clone().unwrap_or_default();
        let mut types = HashMap::new();
        for (i, m) in file.message_type.iter().enumerate() {
            collect_message(m, &package, vec![FILE_MESSAGE, i as i32], &mut types, 0);
        }
        for (i, e) in file.enum_type.iter().enumerate() {
            if let Some(name) = &e.name {
                types.insert(
                    join(&package, name),
                    Def::Enum(e, vec![FILE_ENUM, i as i32]),
                );
            }
        }
        let proto2 = !matches!(file.syntax.as_deref(), Some("proto3") | Some("editions"));
        let reader = Reader {
            types,
            comments,
            proto2,
        };
        let Some(root) = file.message_type.first() else {
            return Ok(Vec::new());
        };
        let full = join(&package, root.name());
        let mut walk = Walk::new();
        walk.stack.push(full.clone());
        Ok(reader.message_fields(root, &full, &[FILE_MESSAGE, 0], "", &mut walk))
    }

    enum Def<'a> {
        Message(&'a DescriptorProto, Vec<i32>),
        Enum(&'a EnumDescriptorProto, Vec<i32>),
    }

    fn collect_message<'a>(
        m: &'a DescriptorProto,
        scope: &str,
        loc: Vec<i32>,
        types: &mut HashMap<String, Def<'a>>,
        depth: usize,
    ) {
        let Some(name) = &m.name else { return };
        if depth > MAX_DEPTH {
            return;
        }
        let full = join(scope, name);
        for (i, n) in m.nested_type.iter().enumerate() {
            let mut l = loc.clone();
            l.extend([MESSAGE_NESTED, i as i32]);
            collect_message(n, &full, l, types, depth + 1);
        }
        for (i, e) in m.enum_type.iter().enumerate() {
            if let Some(en) = &e.name {
                let mut l = loc.clone();
                l.extend([MESSAGE_ENUM, i as i32]);
                types.insert(join(&full, en), Def::Enum(e, l));
            }
        }
        types.insert(full, Def::Message(m, loc));
    }

    struct Reader<'a> {
        types: HashMap<String, Def<'a>>,
        comments: HashMap<Vec<i32>, String>,
        proto2: bool,
    }

    fn scalar(t: Type) -> &'static str {
        match t {
            Type::Double => "double",
            Type::Float => "float",
            Type::Int64 => "int64",
            Type::Uint64 => "uint64",
            Type::Int32 => "int32",
            Type::Fixed64 => "fixed64",
            Type::Fixed32 => "fixed32",
            Type::Bool => "bool",
            Type::String => "string",
            Type::Group => "group",
            Type::Message => "message",
            Type::Bytes => "bytes",
            Type::Uint32 => "uint32",
            Type::Enum => "enum",
            Type::Sfixed32 => "sfixed32",
            Type::Sfixed64 => "sfixed64",
            Type::Sint32 => "sint32",
            Type::Sint64 => "sint64",
        }
    }

    impl<'a> Reader<'a> {
        /// Protobuf scoping: `name` as seen from inside `scope` (innermost scope first).
        fn resolve(&self, name: &str, scope: &str) -> Option<(String, &Def<'a>)> {
            if let Some(abs) = name.strip_prefix('.') {
                return self.types.get(abs).map(|d| (abs.to_owned(), d));
            }
            let mut scope = scope;
            loop {
                let candidate = join(scope, name);
                if let Some(d) = self.types.get(&candidate) {
                    return Some((candidate, d));
                }
                if scope.is_empty() {
                    return None;
                }
                scope = scope.rsplit_once('.').map(|(s, _)| s).unwrap_or("");
            }
        }

        fn message_fields(
            &self,
            m: &DescriptorProto,
            full: &str,
            loc: &[i32],
            path: &str,
            walk: &mut Walk,
        ) -> Vec<Field> {
            let mut out = Vec::new();
            for (i, f) in m.field.iter().enumerate() {
                if walk.described >= MAX_FIELDS {
                    break;
                }
                walk.described += 1;
                let mut floc = loc.to_vec();
                floc.extend([MESSAGE_FIELD, i as i32]);
                out.push(self.field(f, full, &floc, path, walk));
            }
            out
        }

        fn field(
            &self,
            f: &FieldDescriptorProto,
            scope: &str,
            loc: &[i32],
            parent: &str,
            walk: &mut Walk,
        ) -> Field {
            let name = f.name().to_owned();
            let path = join(parent, &name);
            let mut shape = self.type_of(f, scope, &path, walk);
            let repeated = f.label == Some(Label::Repeated as i32);
            if repeated && !shape.type_name.starts_with("map<") {
                shape.type_name = format!("array<{}>", shape.type_name);
            }
            // protox-parse labels proto3's singular fields `optional` too; only proto2's label
            // says a field may be absent.
            let optional = f.proto3_optional == Some(true)
                || f.oneof_index.is_some()
                || self.proto2 && f.label == Some(Label::Optional as i32);
            let default = f.default_value.as_ref().map(|d| {
                if let Ok(n) = d.parse::<i64>() {
                    Value::from(n)
                } else if let Ok(x) = d.parse::<f64>()
                    && let Some(n) = serde_json::Number::from_f64(x)
                {
                    Value::Number(n)
                } else if d == "true" || d == "false" {
                    Value::Bool(d == "true")
                } else {
                    Value::String(d.clone())
                }
            });
            Field {
                name,
                path,
                type_name: shape.type_name,
                doc: self.comments.get(loc).cloned().or(shape.doc),
                default,
                optional,
                symbols: shape.symbols,
                children: shape.children,
            }
        }

        fn type_of(
            &self,
            f: &FieldDescriptorProto,
            scope: &str,
            path: &str,
            walk: &mut Walk,
        ) -> Shape {
            let kind = f.r#type.and_then(|t| Type::try_from(t).ok());
            match (kind, f.type_name.as_deref()) {
                (Some(t), None) => Shape {
                    type_name: scalar(t).to_owned(),
                    ..Shape::default()
                },
                (_, Some(name)) => match self.resolve(name, scope) {
                    Some((_, Def::Enum(e, loc))) => Shape {
                        type_name: format!("enum {}", e.name()),
                        doc: self.comments.get(loc).cloned(),
                        symbols: e.value.iter().map(|v| v.name().to_owned()).collect(),
                        ..Shape::default()
                    },
                    Some((full, Def::Message(m, loc))) => {
                        if m.options.as_ref().and_then(|o| o.map_entry) == Some(true) {
                            return self.map_entry(m, &full, path, walk);
                        }
                        let mut children = Vec::new();
                        if walk.may_expand(&full) {
                            walk.stack.push(full.clone());
                            children = self.message_fields(m, &full, loc, path, walk);
                            walk.stack.pop();
                        }
                        Shape {
                            type_name: format!("message {}", m.name()),
                            doc: self.comments.get(loc).cloned(),
                            children,
                            ..Shape::default()
                        }
                    }
                    None => Shape {
                        type_name: name.trim_start_matches('.').to_owned(),
                        ..Shape::default()
                    },
                },
                (None, None) => Shape {
                    type_name: "unknown".to_owned(),
                    ..Shape::default()
                },
            }
        }

        /// `map<K, V>`: the generated `…Entry` message's key and value.
        fn map_entry(&self, m: &DescriptorProto, full: &str, path: &str, walk: &mut Walk) -> Shape {
            let part = |n: &str, walk: &mut Walk| {
                m.field
                    .iter()
                    .find(|f| f.name() == n)
                    .map(|f| self.type_of(f, full, path, walk))
                    .unwrap_or_default()
            };
            let key = part("key", walk);
            let value = part("value", walk);
            Shape {
                type_name: format!("map<{}, {}>", key.type_name, value.type_name),
                doc: None,
                optional: false,
                symbols: value.symbols,
                children: value.children,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find<'a>(fields: &'a [Field], path: &str) -> &'a Field {
        fn go<'a>(fields: &'a [Field], path: &str) -> Option<&'a Field> {
            fields.iter().find_map(|f| {
                if f.path == path {
                    Some(f)
                } else {
                    go(&f.children, path)
                }
            })
        }
        go(fields, path).unwrap_or_else(|| panic!("no field {path} in {fields:#?}"))
    }

    fn count(fields: &[Field]) -> usize {
        fields.iter().map(|f| 1 + count(&f.children)).sum()
    }

    #[test]
    fn avro_records_enums_arrays_maps_unions_and_logical_types() {
        let text = r#"{"type":"record","name":"Order","namespace":"acme","doc":"An order.",
          "fields":[
            {"name":"id","type":{"type":"string","logicalType":"uuid"},"doc":"Order id."},
            {"name":"placed_at","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},
            {"name":"status","type":{"type":"enum","name":"Status","doc":"Lifecycle.","symbols":["NEW","DONE"]}},
            {"name":"customer","type":["null",{"type":"record","name":"Customer","fields":[
               {"name":"address","type":{"type":"record","name":"Address","namespace":"acme.geo","fields":[
                  {"name":"zip","type":"string"}]}}]}],"default":null},
            {"name":"billing","type":"acme.geo.Address","doc":"Where the bill goes."},
            {"name":"tags","type":{"type":"array","items":"string"},"default":[]},
            {"name":"counts","type":{"type":"map","values":"long"}},
            {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
               {"name":"sku","type":"string"},{"name":"state","type":"Status"}]}}},
            {"name":"hash","type":{"type":"fixed","name":"Md5","size":16}},
            {"name":"note","type":["null","string"],"default":null}
          ]}"#;
        let f = fields(Format::Avro, text).unwrap();
        let names: Vec<_> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "placed_at",
                "amount",
                "status",
                "customer",
                "billing",
                "tags",
                "counts",
                "lines",
                "hash",
                "note"
            ]
        );
        assert_eq!(find(&f, "id").type_name, "string (uuid)");
        assert_eq!(find(&f, "id").doc.as_deref(), Some("Order id."));
        assert!(!find(&f, "id").optional);
        assert_eq!(find(&f, "placed_at").type_name, "long (timestamp-millis)");
        assert_eq!(find(&f, "amount").type_name, "bytes (decimal(12,2))");
        let status = find(&f, "status");
        assert_eq!(status.type_name, "enum Status");
        assert_eq!(status.symbols, ["NEW", "DONE"]);
        assert_eq!(status.doc.as_deref(), Some("Lifecycle."), "the type's doc");
        let customer = find(&f, "customer");
        assert_eq!(customer.type_name, "null | record Customer");
        assert!(customer.optional);
        assert_eq!(customer.default, Some(Value::Null));
        assert_eq!(find(&f, "customer.address").type_name, "record Address");
        assert_eq!(find(&f, "customer.address.zip").type_name, "string");
        // A named type used again (not recursively) is expanded again.
        assert_eq!(find(&f, "billing").type_name, "record Address");
        assert_eq!(find(&f, "billing.zip").type_name, "string");
        assert_eq!(
            find(&f, "billing").doc.as_deref(),
            Some("Where the bill goes.")
        );
        assert_eq!(find(&f, "tags").type_name, "array<string>");
        assert_eq!(find(&f, "tags").default, Some(json!([])));
        assert_eq!(find(&f, "counts").type_name, "map<long>");
        assert_eq!(find(&f, "lines").type_name, "array<record Line>");
        assert_eq!(find(&f, "lines.state").type_name, "enum Status");
        assert_eq!(find(&f, "lines.state").symbols, ["NEW", "DONE"]);
        assert_eq!(find(&f, "hash").type_name, "fixed Md5(16)");
        assert_eq!(find(&f, "note").type_name, "null | string");
        assert!(find(&f, "note").optional);
    }

    #[test]
    fn avro_recursion_refers_by_name_the_second_time() {
        let text = r#"{"type":"record","name":"Node","fields":[
            {"name":"value","type":"long"},
            {"name":"next","type":["null","Node"]},
            {"name":"children","type":{"type":"array","items":"Node"}}]}"#;
        let f = fields(Format::Avro, text).unwrap();
        assert_eq!(find(&f, "next").type_name, "null | record Node");
        assert!(find(&f, "next").children.is_empty());
        assert_eq!(find(&f, "children").type_name, "array<record Node>");
        // Mutual recursion.
        let text = r#"{"type":"record","name":"A","fields":[
            {"name":"b","type":{"type":"record","name":"B","fields":[{"name":"a","type":["null","A"]}]}}]}"#;
        let f = fields(Format::Avro, text).unwrap();
        assert_eq!(find(&f, "b.a").type_name, "null | record A");
        assert!(find(&f, "b.a").children.is_empty());
    }

    #[test]
    fn avro_roots_that_are_not_records() {
        assert_eq!(fields(Format::Avro, r#""string""#).unwrap(), []);
        assert_eq!(
            fields(Format::Avro, r#"{"type":"string","logicalType":"uuid"}"#).unwrap(),
            []
        );
        // A union of records at the root: the fields of each.
        let text = r#"[{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]},
                       {"type":"record","name":"B","fields":[{"name":"y","type":"A"}]}]"#;
        let f = fields(Format::Avro, text).unwrap();
        assert_eq!(find(&f, "y").type_name, "record A");
        assert_eq!(find(&f, "y.x").type_name, "int");
    }

    #[test]
    fn json_schema_properties_required_refs_enums_and_arrays() {
        let text = r##"{
          "type": "object",
          "properties": {
            "id": {"type": "string", "format": "uuid", "description": "The id."},
            "count": {"type": ["integer", "null"], "default": 0},
            "status": {"type": "string", "enum": ["new", "done"]},
            "address": {"type": "object", "description": "Postal.", "properties": {
                "zip": {"type": "string"}}, "required": ["zip"]},
            "segments": {"type": "array", "items": {"$ref": "#/$defs/segment"}},
            "legacy": {"$ref": "#/definitions/legacy"},
            "labels": {"type": "object", "additionalProperties": {"type": "integer"}},
            "either": {"oneOf": [{"type": "null"}, {"type": "string"}]},
            "remote": {"$ref": "https://example.invalid/x.json"}
          },
          "required": ["id", "segments"],
          "$defs": {"segment": {"type": "object", "properties": {
              "code": {"type": "string", "enum": ["a", "b"]}}, "required": ["code"]}},
          "definitions": {"legacy": {"type": "string", "description": "Old."}}
        }"##;
        let f = fields(Format::Json, text).unwrap();
        let id = find(&f, "id");
        assert_eq!(id.type_name, "string (uuid)");
        assert_eq!(id.doc.as_deref(), Some("The id."));
        assert!(!id.optional);
        let count = find(&f, "count");
        assert_eq!(count.type_name, "integer | null");
        assert!(count.optional);
        assert_eq!(count.default, Some(json!(0)));
        assert_eq!(find(&f, "status").symbols, ["new", "done"]);
        assert!(find(&f, "status").optional, "not required");
        assert_eq!(find(&f, "address").type_name, "object");
        assert_eq!(find(&f, "address.zip").type_name, "string");
        assert!(!find(&f, "address.zip").optional);
        assert_eq!(find(&f, "segments").type_name, "array<object segment>");
        assert_eq!(find(&f, "segments.code").symbols, ["a", "b"]);
        assert_eq!(find(&f, "legacy").type_name, "string");
        assert_eq!(find(&f, "legacy").doc.as_deref(), Some("Old."));
        assert_eq!(find(&f, "labels").type_name, "map<integer>");
        assert_eq!(find(&f, "either").type_name, "null | string");
        assert!(find(&f, "either").optional);
        assert_eq!(
            find(&f, "remote").type_name,
            "ref https://example.invalid/x.json"
        );
    }

    #[test]
    fn json_schema_recursion_and_a_root_reference() {
        let text = r##"{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
            "properties": {"value": {"type": "integer"},
                           "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                           "self": {"$ref": "#"}}}}}"##;
        let f = fields(Format::Json, text).unwrap();
        assert_eq!(find(&f, "value").type_name, "integer");
        assert_eq!(find(&f, "children").type_name, "array<object node>");
        assert!(find(&f, "children").children.is_empty());
        // "#" is the root, itself a reference being expanded: expanded once more, then by name.
        assert!(count(&f) < 20, "{f:#?}");
    }

    #[test]
    fn json_schema_all_of_merges_properties() {
        let text = r##"{"allOf": [{"$ref": "#/$defs/base"}, {"properties": {"b": {"type": "string"}}}],
            "type": "object", "$defs": {"base": {"properties": {"a": {"type": "string"}}, "required": ["a"]}}}"##;
        let f = fields(Format::Json, text).unwrap();
        assert!(!find(&f, "a").optional);
        assert!(find(&f, "b").optional);
        let text = r#"{"properties": {"t": {"type": "array", "items": [{"type": "string"}]}, "n": false}}"#;
        let f = fields(Format::Json, text).unwrap();
        assert_eq!(find(&f, "t").type_name, "array<any>");
        assert_eq!(find(&f, "n").type_name, "never");
    }

    #[test]
    fn protobuf_messages_enums_repeated_maps_oneofs_and_comments() {
        let text = r#"syntax = "proto3";
package acme.sales.v1;

// An order.
message Order {
  // The order's id.
  string id = 1;
  Status status = 2;              // lifecycle state
  repeated Line lines = 3;
  map<string, int64> counts = 4;
  optional string note = 5;
  oneof payment {
    Card card = 6;
    string voucher = 7;
  }
  Order parent = 8;
  google.protobuf.Timestamp placed_at = 9;
  repeated string tags = 10;

  message Line {
    string sku = 1;
    Status state = 2;
  }
}

message Card { string number = 1; }

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_DONE = 1;
}
"#;
        let f = fields(Format::Protobuf, text).unwrap();
        let id = find(&f, "id");
        assert_eq!(id.type_name, "string");
        assert_eq!(id.doc.as_deref(), Some("The order's id."));
        assert!(!id.optional);
        let status = find(&f, "status");
        assert_eq!(status.type_name, "enum Status");
        assert_eq!(status.symbols, ["STATUS_UNSPECIFIED", "STATUS_DONE"]);
        assert_eq!(status.doc.as_deref(), Some("lifecycle state"));
        assert_eq!(find(&f, "lines").type_name, "array<message Line>");
        assert_eq!(find(&f, "lines.sku").type_name, "string");
        assert_eq!(find(&f, "lines.state").type_name, "enum Status");
        assert_eq!(find(&f, "counts").type_name, "map<string, int64>");
        assert!(find(&f, "note").optional);
        assert!(find(&f, "card").optional);
        assert_eq!(find(&f, "card.number").type_name, "string");
        assert!(find(&f, "voucher").optional);
        assert_eq!(find(&f, "parent").type_name, "message Order");
        assert!(find(&f, "parent").children.is_empty(), "recursion");
        assert_eq!(find(&f, "placed_at").type_name, "google.protobuf.Timestamp");
        assert_eq!(find(&f, "tags").type_name, "array<string>");
    }

    #[test]
    fn protobuf_proto2_labels() {
        let text = "syntax = \"proto2\";\nmessage A { optional int32 x = 1 [default = 7]; required string y = 2; }\n";
        let f = fields(Format::Protobuf, text).unwrap();
        assert!(find(&f, "x").optional);
        assert_eq!(find(&f, "x").default, Some(json!(7)));
        assert!(!find(&f, "y").optional);
    }

    #[test]
    fn the_example_schemas_have_fields() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../mesh-repo-example/domains"
        );
        let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).unwrap();
        let f = fields(Format::Avro, &read("sales/schemas/order.avsc")).unwrap();
        assert_eq!(
            find(&f, "lines.unit_price").type_name,
            "bytes (decimal(12,2))"
        );
        let f = fields(
            Format::Json,
            &read("customers/schemas/segment-membership.json"),
        )
        .unwrap();
        assert_eq!(find(&f, "segments.code").symbols.len(), 5);
        let f = fields(
            Format::Protobuf,
            &read("finance/schemas/ledger_entry.proto"),
        )
        .unwrap();
        assert_eq!(find(&f, "source.type").type_name, "enum SourceType");
        assert!(find(&f, "campaign_id").optional);
    }

    #[test]
    fn bad_input_is_an_error_or_an_empty_tree_never_a_panic() {
        for format in [Format::Avro, Format::Json, Format::Protobuf] {
            assert!(fields(format, "{").is_err());
        }
        assert!(fields(Format::Protobuf, "message {").is_err());
        for text in [
            "null",
            "42",
            "[]",
            r#"{"type":"record"}"#,
            r#"{"type":"record","name":"X","fields":[{"type":"string"},{"name":"a"},{"name":"b","type":7}]}"#,
            r#"{"type":{"type":{"type":"string"}}}"#,
            r#"{"type":"array"}"#,
            r##"{"properties":{"a":{"$ref":"#/nowhere"},"b":{"type":7},"c":false,"d":{"items":[]}}}"##,
            r##"{"$ref":"#"}"##,
            r#"{"type":"object","properties":[]}"#,
        ] {
            let _ = fields(Format::Avro, text);
            let _ = fields(Format::Json, text);
        }
        let _ = fields(
            Format::Protobuf,
            "syntax = \"proto3\";\nmessage A { B b = 1; map<string, B> m = 2; }\n",
        );
    }

    #[test]
    fn references_that_multiply_stop_at_the_budget() {
        // 30 levels, each type holding two fields of the next: 2^30 fields if fully expanded.
        let mut types =
            String::from(r#"{"name":"T30","type":"record","fields":[{"name":"x","type":"int"}]}"#);
        for i in (0..30).rev() {
            types = format!(
                r#"{{"name":"T{i}","type":"record","fields":[{{"name":"a","type":{types}}},{{"name":"b","type":"T{}"}}]}}"#,
                i + 1
            );
        }
        let f = fields(Format::Avro, &types).unwrap();
        assert!(count(&f) <= MAX_FIELDS + 64, "{}", count(&f));
    }
}
