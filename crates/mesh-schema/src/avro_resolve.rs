//! Avro schema resolution as a compatibility check: can a reader using schema R read every datum
//! a writer wrote with schema W? The rules are the Avro specification's "Schema Resolution"
//! section, checked the way Apache Avro's own `SchemaCompatibility` (which Confluent Schema
//! Registry uses) checks them:
//!
//! - primitives match themselves, and the promotions int → long, float, double; long → float,
//!   double; float → double; string ↔ bytes;
//! - arrays by their items, maps by their values;
//! - records, enums and fixed types by their unqualified name, or a reader alias naming the
//!   writer's full name; records field by field (by name, or a reader field's alias), a reader
//!   field the writer lacks needs a default, a writer field the reader lacks is skipped;
//! - enums: a writer symbol the reader lacks needs the reader's `default` symbol;
//! - fixed types: the same size;
//! - unions: every branch the writer may write must be readable — by some branch of a reader
//!   union, or by a reader that is not a union;
//! - logical types by their physical type (a `decimal` is its `bytes` or `fixed`);
//! - recursive types: a pair of named types already being compared is taken as compatible.
//!
//! Every incompatibility names the field path it is at, the rule it breaks and what would make it
//! compatible. The module has its own small parser of schema JSON: it knows names, namespaces and
//! aliases, which the comparison needs, and never panics on any input.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

/// Why a reader cannot read what a writer wrote, at one place in the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    /// Where: the root type's name, then field names (`Order.customer.zip`); `[]` is an array's
    /// items, `{}` a map's values, `<T>` the union branch `T`.
    pub path: String,
    /// The rule broken, as a sentence.
    pub problem: String,
    /// What would make it compatible.
    pub fix: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (to fix: {})", self.path, self.problem, self.fix)
    }
}

/// A parsed Avro schema: the root and every named type by full name.
#[derive(Debug)]
pub struct Schema {
    root: Node,
    named: HashMap<String, Named>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Primitive(&'static str),
    /// A named type, by full name.
    Named(String),
    Array(Box<Node>),
    Map(Box<Node>),
    Union(Vec<Node>),
}

#[derive(Debug)]
struct Named {
    full: String,
    /// The unqualified name.
    name: String,
    /// Full names.
    aliases: Vec<String>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Record(Vec<Field>),
    Enum {
        symbols: Vec<String>,
        default: Option<String>,
    },
    Fixed(u64),
}

#[derive(Debug)]
struct Field {
    name: String,
    aliases: Vec<String>,
    ty: Node,
    has_default: bool,
}

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Nesting deeper than this is refused rather than followed (a schema nested this deep is
/// generated or hostile; the check must not run out of stack).
const MAX_DEPTH: usize = 100;

impl Schema {
    /// Parses schema JSON. Errors name what is wrong; nothing here panics.
    pub fn parse(value: &Value) -> Result<Schema, String> {
        let mut parser = Parser {
            named: HashMap::new(),
        };
        let root = parser.node(value, "", 0)?;
        Ok(Schema {
            root,
            named: parser.named,
        })
    }

    /// The name shown at the start of field paths: the root type's name, or its kind.
    fn root_label(&self) -> String {
        match &self.root {
            Node::Named(full) => self
                .named
                .get(full)
                .map_or_else(|| full.clone(), |n| n.name.clone()),
            other => self.describe(other),
        }
    }

    fn describe(&self, node: &Node) -> String {
        match node {
            Node::Primitive(p) => (*p).to_string(),
            Node::Named(full) => match self.named.get(full) {
                Some(n) => format!("{} {}", n.kind.word(), n.full),
                None => full.clone(),
            },
            Node::Array(items) => format!("array of {}", self.describe(items)),
            Node::Map(values) => format!("map of {}", self.describe(values)),
            Node::Union(branches) => {
                let names: Vec<String> = branches.iter().map(|b| self.short(b)).collect();
                format!("union [{}]", names.join(", "))
            }
        }
    }

    /// A branch label for paths: a primitive's name, a named type's unqualified name.
    fn short(&self, node: &Node) -> String {
        match node {
            Node::Named(full) => self
                .named
                .get(full)
                .map_or_else(|| full.clone(), |n| n.name.clone()),
            Node::Array(_) => "array".into(),
            Node::Map(_) => "map".into(),
            Node::Union(_) => "union".into(),
            Node::Primitive(p) => (*p).to_string(),
        }
    }
}

impl Kind {
    fn word(&self) -> &'static str {
        match self {
            Kind::Record(_) => "record",
            Kind::Enum { .. } => "enum",
            Kind::Fixed(_) => "fixed",
        }
    }
}

struct Parser {
    named: HashMap<String, Named>,
}

fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

fn string_list(map: &Map<String, Value>, key: &str, what: &str) -> Result<Vec<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: every entry of \"{key}\" must be a string"))
            })
            .collect(),
        Some(_) => Err(format!("{what}: \"{key}\" must be a list of strings")),
    }
}

impl Parser {
    fn node(&mut self, v: &Value, namespace: &str, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
        }
        match v {
            Value::String(s) => self.reference(s, namespace),
            Value::Array(branches) => {
                let mut out = Vec::with_capacity(branches.len());
                for b in branches {
                    let node = self.node(b, namespace, depth + 1)?;
                    if matches!(node, Node::Union(_)) {
                        return Err("a union cannot directly contain another union".into());
                    }
                    out.push(node);
                }
                Ok(Node::Union(out))
            }
            Value::Object(map) => self.object(map, namespace, depth),
            other => Err(format!("{other} is not a schema")),
        }
    }

    fn reference(&self, s: &str, namespace: &str) -> Result<Node, String> {
        if let Some(p) = PRIMITIVES.iter().find(|p| **p == s) {
            return Ok(Node::Primitive(p));
        }
        let qualified = full_name(s, namespace);
        if self.named.contains_key(&qualified) {
            return Ok(Node::Named(qualified));
        }
        if self.named.contains_key(s) {
            return Ok(Node::Named(s.to_string()));
        }
        Err(format!(
            "\"{s}\" is neither a primitive type nor a named type defined before it"
        ))
    }

    fn object(
        &mut self,
        map: &Map<String, Value>,
        namespace: &str,
        depth: usize,
    ) -> Result<Node, String> {
        let ty = match map.get("type") {
            Some(Value::String(t)) => t.as_str(),
            // `{"type": {...}}` and `{"type": [...]}`: the schema is the inner one.
            Some(inner @ (Value::Object(_) | Value::Array(_))) => {
                return self.node(inner, namespace, depth + 1);
            }
            _ => return Err("a schema object needs a \"type\"".into()),
        };
        match ty {
            "record" | "error" | "enum" | "fixed" => self.named_type(ty, map, namespace, depth),
            "array" => {
                let items = map.get("items").ok_or("an array schema needs \"items\"")?;
                Ok(Node::Array(Box::new(self.node(
                    items,
                    namespace,
                    depth + 1,
                )?)))
            }
            "map" => {
                let values = map.get("values").ok_or("a map schema needs \"values\"")?;
                Ok(Node::Map(Box::new(self.node(
                    values,
                    namespace,
                    depth + 1,
                )?)))
            }
            // A primitive with attributes (a logical type, say), or a reference by name.
            other => self.reference(other, namespace),
        }
    }

    fn named_type(
        &mut self,
        ty: &str,
        map: &Map<String, Value>,
        enclosing: &str,
        depth: usize,
    ) -> Result<Node, String> {
        let name = map
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a {ty} needs a \"name\""))?;
        let namespace = match name.rsplit_once('.') {
            Some((ns, _)) => ns.to_string(),
            None => match map.get("namespace") {
                Some(Value::String(ns)) => ns.clone(),
                Some(Value::Null) | None => enclosing.to_string(),
                Some(_) => return Err(format!("{ty} {name}: \"namespace\" must be a string")),
            },
        };
        let simple = name.rsplit('.').next().unwrap_or(name).to_string();
        let full = full_name(&simple, &namespace);
        let what = format!("{ty} {full}");
        if self.named.contains_key(&full) {
            return Err(format!("{what} is defined twice"));
        }
        let aliases = string_list(map, "aliases", &what)?
            .into_iter()
            .map(|a| full_name(&a, &namespace))
            .collect();
        let placeholder = |kind| Named {
            full: full.clone(),
            name: simple.clone(),
            aliases: Vec::new(),
            kind,
        };
        let kind = match ty {
            "enum" => {
                let symbols = string_list(map, "symbols", &what)?;
                let default = match map.get("default") {
                    Some(Value::String(d)) => Some(d.clone()),
                    None | Some(Value::Null) => None,
                    Some(_) => return Err(format!("{what}: \"default\" must be a symbol")),
                };
                Kind::Enum { symbols, default }
            }
            "fixed" => Kind::Fixed(
                map.get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("{what} needs a whole, non-negative \"size\""))?,
            ),
            _ => {
                // Registered before its fields, so a field may refer to the record itself.
                self.named
                    .insert(full.clone(), placeholder(Kind::Record(Vec::new())));
                let fields = map
                    .get("fields")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("{what} needs a list of \"fields\""))?;
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    out.push(self.field(f, &what, &namespace, depth)?);
                }
                Kind::Record(out)
            }
        };
        self.named.insert(
            full.clone(),
            Named {
                full: full.clone(),
                name: simple,
                aliases,
                kind,
            },
        );
        Ok(Node::Named(full))
    }

    fn field(
        &mut self,
        f: &Value,
        record: &str,
        namespace: &str,
        depth: usize,
    ) -> Result<Field, String> {
        let map = f
            .as_object()
            .ok_or_else(|| format!("{record}: every field must be an object"))?;
        let name = map
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{record}: every field needs a \"name\""))?;
        let what = format!("{record}, field {name}");
        let ty = map
            .get("type")
            .ok_or_else(|| format!("{what} needs a \"type\""))?;
        Ok(Field {
            name: name.to_string(),
            aliases: string_list(map, "aliases", &what)?,
            ty: self.node(ty, namespace, depth + 1)?,
            has_default: map.contains_key("default"),
        })
    }
}

/// Every reason a reader using `reader` cannot read data written with `writer`; empty when it
/// can.
pub fn can_read(reader: &Schema, writer: &Schema) -> Vec<Incompatibility> {
    let mut c = Checker {
        reader,
        writer,
        in_progress: HashSet::new(),
        out: Vec::new(),
    };
    let mut path = vec![reader.root_label()];
    c.check(&mut path, &reader.root, &writer.root, 0);
    c.out
}

struct Checker<'a> {
    reader: &'a Schema,
    writer: &'a Schema,
    /// Pairs of named types (reader, writer) being compared further up: recursion.
    in_progress: HashSet<(String, String)>,
    out: Vec<Incompatibility>,
}

/// A type seen through its name.
enum View<'a> {
    Primitive(&'static str),
    Named(&'a Named),
    Array(&'a Node),
    Map(&'a Node),
    Union(&'a [Node]),
}

fn view<'a>(schema: &'a Schema, node: &'a Node) -> Option<View<'a>> {
    Some(match node {
        Node::Primitive(p) => View::Primitive(p),
        Node::Named(full) => View::Named(schema.named.get(full)?),
        Node::Array(items) => View::Array(items),
        Node::Map(values) => View::Map(values),
        Node::Union(branches) => View::Union(branches),
    })
}

/// Whether a writer's primitive can be read as the reader's primitive (same, or promoted).
fn promotes(writer: &str, reader: &str) -> bool {
    writer == reader
        || matches!(
            (writer, reader),
            ("int", "long" | "float" | "double")
                | ("long", "float" | "double")
                | ("float", "double")
                | ("string", "bytes")
                | ("bytes", "string")
        )
}

fn names_match(reader: &Named, writer: &Named) -> bool {
    reader.name == writer.name || reader.aliases.contains(&writer.full)
}

impl Checker<'_> {
    fn push(&mut self, path: &[String], problem: String, fix: String) {
        self.out.push(Incompatibility {
            path: render_path(path),
            problem,
            fix,
        });
    }

    /// Whether the reader's type is the one the specification's resolution would pick for the
    /// writer's type: the same kind (and name, for named types) or a promotion. Decides which
    /// branch of a reader union reads a writer's type.
    fn selects(&self, reader: &Node, writer: &Node) -> bool {
        match (view(self.reader, reader), view(self.writer, writer)) {
            (Some(View::Primitive(r)), Some(View::Primitive(w))) => promotes(w, r),
            (Some(View::Named(r)), Some(View::Named(w))) => {
                r.kind.word() == w.kind.word() && names_match(r, w)
            }
            (Some(View::Array(_)), Some(View::Array(_))) => true,
            (Some(View::Map(_)), Some(View::Map(_))) => true,
            _ => false,
        }
    }

    /// Among a reader union's branches, the one that reads the writer's type: an exact match
    /// first, then the first that matches through a promotion.
    fn pick<'b>(&self, branches: &'b [Node], writer: &Node) -> Option<&'b Node> {
        let exact = branches.iter().find(|b| match (b, writer) {
            (Node::Primitive(r), Node::Primitive(w)) => r == w,
            _ => self.selects(b, writer),
        });
        exact.or_else(|| branches.iter().find(|b| self.selects(b, writer)))
    }

    fn check(&mut self, path: &mut Vec<String>, reader: &Node, writer: &Node, depth: usize) {
        if depth > MAX_DEPTH * 2 {
            return;
        }
        let (Some(r), Some(w)) = (view(self.reader, reader), view(self.writer, writer)) else {
            return;
        };
        match (r, w) {
            (View::Union(rb), View::Union(wb)) => {
                for branch in wb {
                    path.push(format!("<{}>", self.writer.short(branch)));
                    match self.pick(rb, branch) {
                        Some(target) => self.check(path, target, branch, depth + 1),
                        None => {
                            let problem = format!(
                                "the writer's union may hold {}, which no branch of the reader's {} reads",
                                self.writer.describe(branch),
                                self.reader.describe(reader)
                            );
                            let fix = format!(
                                "keep {} as a branch of the reader's union",
                                self.writer.short(branch)
                            );
                            self.push(path, problem, fix);
                        }
                    }
                    path.pop();
                }
            }
            (_, View::Union(wb)) => {
                // A reader that is not a union reads a writer union only if it reads every
                // branch the writer may have written.
                for branch in wb {
                    path.push(format!("<{}>", self.writer.short(branch)));
                    if self.selects(reader, branch) {
                        self.check(path, reader, branch, depth + 1);
                    } else {
                        let problem = format!(
                            "the writer's union may hold {}, which the reader's {} cannot read",
                            self.writer.describe(branch),
                            self.reader.describe(reader)
                        );
                        let fix = format!(
                            "make the reader's type a union with a {} branch, or drop that branch from the writer's union",
                            self.writer.short(branch)
                        );
                        self.push(path, problem, fix);
                    }
                    path.pop();
                }
            }
            (View::Union(rb), _) => match self.pick(rb, writer) {
                Some(target) => self.check(path, target, writer, depth + 1),
                None => {
                    let problem = format!(
                        "the writer wrote {}, which no branch of the reader's {} reads",
                        self.writer.describe(writer),
                        self.reader.describe(reader)
                    );
                    let fix = format!(
                        "add {} as a branch of the reader's union",
                        self.writer.short(writer)
                    );
                    self.push(path, problem, fix);
                }
            },
            (View::Primitive(rp), View::Primitive(wp)) => {
                if !promotes(wp, rp) {
                    self.mismatch(path, reader, writer);
                }
            }
            (View::Array(ri), View::Array(wi)) => {
                path.push("[]".into());
                self.check(path, ri, wi, depth + 1);
                path.pop();
            }
            (View::Map(rv), View::Map(wv)) => {
                path.push("{}".into());
                self.check(path, rv, wv, depth + 1);
                path.pop();
            }
            (View::Named(rn), View::Named(wn)) if rn.kind.word() == wn.kind.word() => {
                if !names_match(rn, wn) {
                    let problem = format!(
                        "the writer's {} {} cannot be read as {} {}: the names differ",
                        wn.kind.word(),
                        wn.full,
                        rn.kind.word(),
                        rn.full
                    );
                    let fix = format!(
                        "keep the name {}, or give the reader's {} the alias \"{}\"",
                        wn.name,
                        rn.kind.word(),
                        wn.full
                    );
                    self.push(path, problem, fix);
                    return;
                }
                if !self.in_progress.insert((rn.full.clone(), wn.full.clone())) {
                    return;
                }
                self.named(path, rn, wn, depth);
                self.in_progress.remove(&(rn.full.clone(), wn.full.clone()));
            }
            _ => self.mismatch(path, reader, writer),
        }
    }

    fn named(&mut self, path: &mut Vec<String>, r: &Named, w: &Named, depth: usize) {
        match (&r.kind, &w.kind) {
            (Kind::Record(rf), Kind::Record(wf)) => {
                for field in rf {
                    let written = wf
                        .iter()
                        .find(|x| x.name == field.name)
                        .or_else(|| wf.iter().find(|x| field.aliases.contains(&x.name)));
                    path.push(field.name.clone());
                    match written {
                        Some(x) => self.check(path, &field.ty, &x.ty, depth + 1),
                        None if field.has_default => {}
                        None => {
                            let problem = format!(
                                "the reader's field {} has no default, and data written with the writer's {} has no such field",
                                field.name, w.full
                            );
                            let fix = format!(
                                "give {} a \"default\" (for an optional field: a union starting with \"null\" and \"default\": null), or an alias naming the writer's field",
                                field.name
                            );
                            self.push(path, problem, fix);
                        }
                    }
                    path.pop();
                }
            }
            (
                Kind::Enum {
                    symbols: rs,
                    default,
                },
                Kind::Enum { symbols: ws, .. },
            ) => {
                let missing: BTreeSet<&String> = ws.iter().filter(|s| !rs.contains(s)).collect();
                let covered = default.as_ref().is_some_and(|d| rs.contains(d));
                if !missing.is_empty() && !covered {
                    let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                    let problem = format!(
                        "the writer's enum {} has the symbol(s) {}, which the reader's enum {} lacks and it has no default symbol",
                        w.full,
                        list.join(", "),
                        r.full
                    );
                    let fix = format!(
                        "keep the symbol(s) {}, or give the reader's enum a \"default\" symbol for the ones it does not know",
                        list.join(", ")
                    );
                    self.push(path, problem, fix);
                }
            }
            (Kind::Fixed(rs), Kind::Fixed(ws)) if rs != ws => {
                let problem = format!(
                    "the writer's fixed {} holds {ws} bytes, the reader's {} holds {rs}",
                    w.full, r.full
                );
                self.push(
                    path,
                    problem,
                    format!("keep the size at {ws} bytes, or declare a new fixed type"),
                );
            }
            _ => {}
        }
    }

    fn mismatch(&mut self, path: &[String], reader: &Node, writer: &Node) {
        let (r, w) = (self.reader.describe(reader), self.writer.describe(writer));
        let narrowing = matches!(
            (reader, writer),
            (Node::Primitive(rp), Node::Primitive(wp)) if promotes(rp, wp)
        );
        let problem = if narrowing {
            format!("the writer wrote {w}, which the reader's {r} cannot hold (a narrowing)")
        } else {
            format!("the writer wrote {w}, which the reader cannot read as {r}")
        };
        let both_primitive = matches!((reader, writer), (Node::Primitive(_), Node::Primitive(_)));
        let fix = if both_primitive {
            format!(
                "keep the type {w}, or change it only along a promotion (int → long → float → double, string ↔ bytes)"
            )
        } else {
            format!(
                "keep the type {w}, or make the reader's type a union that includes {}",
                self.writer.short(writer)
            )
        };
        self.push(path, problem, fix);
    }
}

fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for (i, part) in path.iter().enumerate() {
        if i > 0 && !part.starts_with(['[', '{', '<']) {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}
