//! A quick, conservative "certainly valid" check of an Avro schema, tried before the thorough
//! check (the name rules of [`crate::avro_names`], then apache-avro's parser).
//!
//! apache-avro's parser builds a whole `Schema`, cloning every name, attribute and sub-schema
//! several times over, from a `serde_json::Value` whose objects hash every key: on a mesh of
//! 10,000 products it was half the time of the schema checks and the largest single part of
//! `mesh validate` beyond reading and parsing the files. This module reads the text into a
//! borrowed JSON tree (objects as lists, strings borrowed where unescaped) and walks it the way
//! apache-avro 0.21's parser does, deciding only what it is sure of.
//!
//! The contract is one-sided: [`surely_valid`] returns `true` only for a schema the thorough
//! check accepts; anything it does not fully follow (a construct it does not model, a default
//! it cannot settle without named types, a redefined name, an error of any kind) gives `false`,
//! and the caller runs the thorough check, which also words the error. A `false` is never a
//! verdict. What it follows, it follows exactly, including apache-avro's quirks:
//! - a record field object is itself parsed as a schema (so a field's own `logicalType`
//!   applies to its type, and `"type": "record"` in a field is a reference to a type named
//!   `record`);
//! - a known logical type on a base it does not support is ignored, and then the base counts
//!   (for a union's duplicate check too);
//! - a field's default is resolved against the field's type, and for a union against any of
//!   its branches, with apache-avro's conversions (an integer suits int, long, float and
//!   double; a string suits string, bytes and an enum of that symbol; a JSON array an array, a
//!   JSON object a map);
//! - names are checked by the rules of [`crate::avro_names`] (stricter than apache-avro's in
//!   one place: a name with a leading dot, which that module reports), including the
//!   `items`/`values` members that module walks on any object.
//!
//! The differential test below and the `avro` fuzz target (`crates/mesh-fuzz`) hold it to the
//! contract: whenever it says `true`, the thorough check finds nothing.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::avro_names::{is_full_name, is_namespace, is_simple, split_full_name};

/// Whether `text` is certainly a valid Avro schema: `true` only when the thorough check
/// (`check_avro_thoroughly`) would find nothing; `false` when invalid or not sure.
pub fn surely_valid(text: &str) -> bool {
    let Ok(json) = serde_json::from_str::<J<'_>>(text) else {
        return false;
    };
    Checker::default().schema(&json, None).is_some()
}

/// A JSON value borrowing its strings from the text where it can. Objects keep their members in
/// order, duplicates included; a lookup takes the last, as `serde_json::Map` keeps the last.
#[derive(Debug)]
enum J<'a> {
    Null,
    Bool,
    /// A non-negative integer.
    U(u64),
    /// A negative integer (its value never matters here).
    I,
    /// A number with a fraction or exponent (its value never matters here).
    F,
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

impl<'a> J<'a> {
    fn get(&self, key: &str) -> Option<&J<'a>> {
        match self {
            J::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    fn str_of(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(J::as_str)
    }
}

impl<'de> Deserialize<'de> for J<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<J<'de>, E> {
        Ok(J::Bool)
    }
    fn visit_i64<E>(self, n: i64) -> Result<J<'de>, E> {
        Ok(u64::try_from(n).map_or(J::I, J::U))
    }
    fn visit_u64<E>(self, n: u64) -> Result<J<'de>, E> {
        Ok(J::U(n))
    }
    fn visit_f64<E>(self, _: f64) -> Result<J<'de>, E> {
        Ok(J::F)
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(J::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(k)) = map.next_key()? {
            members.push((k, map.next_value()?));
        }
        Ok(J::Obj(members))
    }
}

/// An object's key, borrowed from the text where it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// What a parsed schema is, as far as defaults and union branches need to know.
#[derive(Debug)]
enum Ty<'j> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(Box<Ty<'j>>),
    Map(Box<Ty<'j>>),
    Union(Vec<Ty<'j>>),
    /// An enum defined in place, with its symbols.
    Enum(Vec<&'j str>),
    /// A fixed type defined in place, with its size.
    Fixed(u64),
    Record,
    /// A reference to a named type defined earlier.
    Ref,
    /// A logical type apache-avro models (its kind's name, e.g. "timestamp-millis").
    Logical(&'static str),
}

impl Ty<'_> {
    /// The kind a union may hold once, for the unnamed kinds; `None` for named types (a union
    /// may hold several, told apart by name).
    fn unnamed_kind(&self) -> Option<&'static str> {
        Some(match self {
            Ty::Null => "null",
            Ty::Boolean => "boolean",
            Ty::Int => "int",
            Ty::Long => "long",
            Ty::Float => "float",
            Ty::Double => "double",
            Ty::Bytes => "bytes",
            Ty::String => "string",
            Ty::Array(_) => "array",
            Ty::Map(_) => "map",
            Ty::Union(_) => "union",
            Ty::Logical(kind) => kind,
            Ty::Enum(_) | Ty::Fixed(_) | Ty::Record | Ty::Ref => return None,
        })
    }
}

/// The logical types apache-avro 0.21 turns into their own kinds; others are ignored.
const LOGICAL: &[&str] = &[
    "decimal",
    "big-decimal",
    "uuid",
    "date",
    "time-millis",
    "time-micros",
    "timestamp-millis",
    "timestamp-micros",
    "timestamp-nanos",
    "local-timestamp-millis",
    "local-timestamp-micros",
    "local-timestamp-nanos",
    "duration",
];

/// Where an object is parsed: as a schema, or as a record's field (whose object apache-avro
/// parses as the field's schema).
#[derive(Clone, Copy, PartialEq)]
enum At {
    Root,
    Field,
}

#[derive(Default)]
struct Checker {
    /// Full names (and aliases) of the named types defined so far, as `namespace.name`.
    names: HashSet<String>,
}

fn full_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}.{name}"),
        None => name.to_owned(),
    }
}

impl Checker {
    /// A schema at any place a type may be written. `ns` is the enclosing namespace (never
    /// empty). `None`: invalid or not sure.
    fn schema<'j>(&mut self, v: &'j J<'j>, ns: Option<&'j str>) -> Option<Ty<'j>> {
        match v {
            J::Str(name) => self.known(name, ns),
            J::Obj(_) => self.complex(v, ns, At::Root),
            J::Arr(branches) => self.union(branches, ns),
            _ => None,
        }
    }

    /// A type by name: a primitive, or a named type already defined.
    fn known<'j>(&self, name: &str, ns: Option<&str>) -> Option<Ty<'j>> {
        Some(match name {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "int" => Ty::Int,
            "long" => Ty::Long,
            "float" => Ty::Float,
            "double" => Ty::Double,
            "bytes" => Ty::Bytes,
            "string" => Ty::String,
            _ => {
                let (space, simple) = split_full_name(name);
                if !is_simple(simple) || !space.is_none_or(is_namespace) {
                    return None;
                }
                let space = space.filter(|s| !s.is_empty()).or(ns);
                if !self.names.contains(&full_name(space, simple)) {
                    return None;
                }
                Ty::Ref
            }
        })
    }

    fn complex<'j>(&mut self, obj: &'j J<'j>, ns: Option<&'j str>, at: At) -> Option<Ty<'j>> {
        let kind = obj.get("type");
        let kind_str = kind.and_then(J::as_str);
        // The name check walks `items` and `values` of every object it reaches (a field's
        // object is not one): only where they are the array's and the map's is that this
        // walk's too.
        if at == At::Root
            && ((obj.get("items").is_some() && kind_str != Some("array"))
                || (obj.get("values").is_some() && kind_str != Some("map")))
        {
            return None;
        }
        match obj.get("logicalType") {
            None => {}
            Some(J::Str(logical)) => {
                if let Some(&logical) = LOGICAL.iter().find(|l| **l == logical) {
                    return self.logical(obj, logical, ns);
                }
            }
            Some(_) => return None,
        }
        match kind? {
            J::Str(t) => match (t.as_ref(), at) {
                ("record", At::Root) => self.record(obj, ns),
                ("enum", At::Root) => self.enumeration(obj, ns),
                ("array", At::Root) => {
                    Some(Ty::Array(Box::new(self.schema(obj.get("items")?, ns)?)))
                }
                ("map", At::Root) => Some(Ty::Map(Box::new(self.schema(obj.get("values")?, ns)?))),
                ("fixed", At::Root) => self.fixed(obj, ns),
                // A field object that is itself an enum, array, map or fixed type: not followed.
                ("enum" | "array" | "map" | "fixed", At::Field) => None,
                (other, _) => self.known(other, ns),
            },
            inner @ J::Obj(_) => self.complex(inner, ns, At::Root),
            J::Arr(branches) => self.union(branches, ns),
            _ => None,
        }
    }

    /// An object with one of apache-avro's logical types: its base type, then the logical kind
    /// where the base supports it (the base otherwise).
    fn logical<'j>(
        &mut self,
        obj: &'j J<'j>,
        logical: &'static str,
        ns: Option<&'j str>,
    ) -> Option<Ty<'j>> {
        let base = match obj.get("type")? {
            J::Str(t) if t == "fixed" => self.fixed(obj, ns)?,
            other => self.schema(other, ns)?,
        };
        let supported = match (logical, &base) {
            // An invalid precision or scale makes apache-avro keep the base (a different kind
            // for a union's duplicate check): not followed.
            ("decimal", Ty::Bytes | Ty::Fixed(_)) => {
                decimal_is_valid(obj)?;
                true
            }
            ("big-decimal", Ty::Bytes)
            | ("uuid", Ty::String | Ty::Fixed(16))
            | ("date" | "time-millis", Ty::Int)
            | ("duration", Ty::Fixed(_)) => true,
            (
                "time-micros"
                | "timestamp-millis"
                | "timestamp-micros"
                | "timestamp-nanos"
                | "local-timestamp-millis"
                | "local-timestamp-micros"
                | "local-timestamp-nanos",
                Ty::Long,
            ) => true,
            _ => false,
        };
        Some(if supported {
            Ty::Logical(logical)
        } else {
            base
        })
    }

    /// A named type's namespace and full name, checked by the name rules; also the full names
    /// of its aliases.
    fn named<'j>(
        &self,
        obj: &'j J<'j>,
        ns: Option<&'j str>,
    ) -> Option<(Option<&'j str>, String, Vec<String>)> {
        let name = obj.str_of("name")?;
        if !is_full_name(name) {
            return None;
        }
        let key = obj.str_of("namespace");
        if key.is_some_and(|k| !is_namespace(k)) {
            return None;
        }
        let (from_name, simple) = split_full_name(name);
        let space = from_name.or(key).or(ns).filter(|s| !s.is_empty());
        let mut aliases = Vec::new();
        if let Some(list) = obj.get("aliases") {
            let J::Arr(list) = list else { return None };
            for alias in list {
                let alias = alias.as_str().filter(|a| is_full_name(a))?;
                aliases.push(if alias.contains('.') {
                    alias.to_owned()
                } else {
                    full_name(space, alias)
                });
            }
        }
        Some((space, full_name(space, simple), aliases))
    }

    /// Registers a named type's full name and aliases; a name defined twice is not followed
    /// (apache-avro lets the later definition win).
    fn define(&mut self, full: String, aliases: Vec<String>) -> Option<()> {
        for name in std::iter::once(full).chain(aliases) {
            if !self.names.insert(name) {
                return None;
            }
        }
        Some(())
    }

    fn record<'j>(&mut self, obj: &'j J<'j>, ns: Option<&'j str>) -> Option<Ty<'j>> {
        let J::Arr(fields) = obj.get("fields")? else {
            return None;
        };
        let (space, full, aliases) = self.named(obj, ns)?;
        // Registered before the fields, so that they can refer to the record.
        self.define(full, aliases)?;
        let mut taken: HashSet<&str> = HashSet::with_capacity(fields.len());
        for field in fields {
            if !matches!(field, J::Obj(_)) {
                return None;
            }
            let name = field.str_of("name").filter(|n| is_simple(n))?;
            let mut aliases = Vec::new();
            if let Some(list) = field.get("aliases") {
                let J::Arr(list) = list else { return None };
                for alias in list {
                    aliases.push(alias.as_str().filter(|a| is_simple(a))?);
                }
            }
            let ty = self.complex(field, space, At::Field)?;
            if let Some(default) = field.get("default")
                && !suits(default, &ty, true)
            {
                return None;
            }
            // apache-avro checks each field's name against the names and aliases before it.
            if !taken.insert(name) {
                return None;
            }
            taken.extend(aliases);
        }
        Some(Ty::Record)
    }

    fn enumeration<'j>(&mut self, obj: &'j J<'j>, ns: Option<&'j str>) -> Option<Ty<'j>> {
        let J::Arr(list) = obj.get("symbols")? else {
            return None;
        };
        let (_, full, aliases) = self.named(obj, ns)?;
        let mut symbols = Vec::with_capacity(list.len());
        for symbol in list {
            let symbol = symbol.as_str().filter(|s| is_simple(s))?;
            if symbols.contains(&symbol) {
                return None;
            }
            symbols.push(symbol);
        }
        if let Some(default) = obj.get("default") {
            let default = default.as_str()?;
            if !symbols.contains(&default) {
                return None;
            }
        }
        self.define(full, aliases)?;
        Some(Ty::Enum(symbols))
    }

    fn fixed<'j>(&mut self, obj: &'j J<'j>, ns: Option<&'j str>) -> Option<Ty<'j>> {
        let J::U(size) = *obj.get("size")? else {
            return None;
        };
        if let Some(default) = obj.str_of("default")
            && default.len() as u64 != size
        {
            return None;
        }
        let (_, full, aliases) = self.named(obj, ns)?;
        self.define(full, aliases)?;
        Some(Ty::Fixed(size))
    }

    fn union<'j>(&mut self, branches: &'j [J<'j>], ns: Option<&'j str>) -> Option<Ty<'j>> {
        if branches.is_empty() {
            return None;
        }
        let mut kinds: Vec<&'static str> = Vec::with_capacity(branches.len());
        let mut out = Vec::with_capacity(branches.len());
        for branch in branches {
            let ty = self.schema(branch, ns)?;
            if let Some(kind) = ty.unnamed_kind() {
                // A union directly in a union, or a kind twice.
                if kind == "union" || kinds.contains(&kind) {
                    return None;
                }
                kinds.push(kind);
            }
            out.push(ty);
        }
        Some(Ty::Union(out))
    }
}

/// A decimal's precision (at least 1) and scale (0 to the precision; 0 when absent).
fn decimal_is_valid(obj: &J<'_>) -> Option<()> {
    let J::U(precision) = *obj.get("precision")? else {
        return None;
    };
    let scale = match obj.get("scale") {
        None => 0,
        Some(&J::U(scale)) => scale,
        Some(_) => return None,
    };
    (precision >= 1 && scale <= precision).then_some(())
}

/// Whether a field's default certainly resolves to its type the way apache-avro resolves it.
/// `top`: the field's own type (a union there takes a default that suits any branch; a union
/// deeper down is not followed).
fn suits(default: &J<'_>, ty: &Ty<'_>, top: bool) -> bool {
    match (ty, default) {
        (Ty::Union(branches), _) => top && branches.iter().any(|b| suits(default, b, false)),
        (Ty::Null, J::Null)
        | (Ty::Boolean, J::Bool)
        | (Ty::Int | Ty::Long | Ty::Float | Ty::Double, J::U(_) | J::I)
        | (Ty::Float | Ty::Double, J::F)
        | (Ty::Bytes | Ty::String, J::Str(_)) => true,
        (Ty::Enum(symbols), J::Str(s)) => symbols.contains(&s.as_ref()),
        (Ty::Array(item), J::Arr(items)) => items.iter().all(|i| suits(i, item, false)),
        (Ty::Map(value), J::Obj(members)) => members.iter().all(|(_, v)| suits(v, value, false)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
