//! A TOML document as a tree of spanned nodes, and the readers that turn it into typed values while
//! collecting every problem (unknown keys with a "did you mean", wrong types, bad enum values).
//!
//! The typed model is built by hand on top of this tree rather than with serde's derive: serde stops
//! at the first error of a file and forgets where values were, and `mesh` must report every problem
//! with its line and column.

use std::ops::Range;

use mesh_diagnostics::{Diagnostic, Diagnostics};

/// A value in a TOML document and the bytes it was written with.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A TOML date or date-time, in its TOML spelling (`2026-11-01`).
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

/// A TOML table with keys in source order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table {
    pub entries: Vec<(Key, Node)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Range<usize>,
}

/// A value together with where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Spanned { value, span }
    }
}

impl Kind {
    /// How a value's type is named in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Datetime(_) => "a date",
            Kind::Array(_) => "an array",
            Kind::Table(_) => "a table",
        }
    }
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    pub fn key(&self, key: &str) -> Option<&Key> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k)
    }
}

/// Parses TOML text. A syntax error is returned as a diagnostic at its position; the text of the
/// file is never quoted in the message (it may hold a secret).
pub fn parse(file: &str, text: &str) -> Result<Table, Box<Diagnostic>> {
    // A panic inside the TOML parser (none is known; it is someone else's code) is a
    // diagnostic at the file like a syntax error, not a crash of the whole check.
    let parsed = std::panic::catch_unwind(|| toml::de::DeTable::parse(text)).map_err(|_| {
        Box::new(
            Diagnostic::error(
                "toml-syntax",
                file,
                0..0,
                "invalid TOML: the TOML parser gave up on this file",
            )
            .with_help("check the file's TOML syntax (strings need quotes, tables [brackets])"),
        )
    })?;
    let doc = parsed.map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Box::new(
            Diagnostic::error(
                "toml-syntax",
                file,
                span,
                format!("invalid TOML: {}", e.message().trim()),
            )
            .with_help(
                "fix the TOML syntax at the marked place (strings need quotes, tables [brackets])",
            ),
        )
    })?;
    convert_table(file, doc.into_inner())
}

fn convert_table(file: &str, t: toml::de::DeTable<'_>) -> Result<Table, Box<Diagnostic>> {
    let mut entries = Vec::with_capacity(t.len());
    for (k, v) in t {
        let key = Key {
            name: k.get_ref().to_string(),
            span: k.span(),
        };
        let span = v.span();
        entries.push((key, convert(file, v.into_inner(), span)?));
    }
    // The parser keeps keys sorted; report and iterate in source order instead.
    entries.sort_by_key(|(k, _)| k.span.start);
    Ok(Table { entries })
}

fn convert(
    file: &str,
    v: toml::de::DeValue<'_>,
    span: Range<usize>,
) -> Result<Node, Box<Diagnostic>> {
    use toml::de::DeValue;
    let kind = match v {
        DeValue::String(s) => Kind::Str(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) => Kind::Int(n),
            Err(_) => {
                return Err(Box::new(
                    Diagnostic::error("toml-syntax", file, span, "integer out of range")
                        .with_help("use a value between -2^63 and 2^63-1"),
                ));
            }
        },
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(x) => Kind::Float(x),
            Err(_) => {
                return Err(Box::new(
                    Diagnostic::error("toml-syntax", file, span, "invalid float")
                        .with_help("write a decimal number such as 0.5"),
                ));
            }
        },
        DeValue::Boolean(b) => Kind::Bool(b),
        DeValue::Datetime(d) => Kind::Datetime(d.to_string()),
        DeValue::Array(a) => {
            let mut items = Vec::new();
            for item in a {
                let s = item.span();
                items.push(convert(file, item.into_inner(), s)?);
            }
            Kind::Array(items)
        }
        DeValue::Table(t) => Kind::Table(convert_table(file, t)?),
    };
    Ok(Node { span, kind })
}

/// Reads fields from one table, remembering which keys it was asked for so that
/// [`Reader::finish`] can report the rest as unknown.
pub struct Reader<'a> {
    pub file: &'a str,
    pub table: &'a Table,
    /// Where the table is, for "missing field" errors.
    pub span: Range<usize>,
    /// Dotted path of the table for messages, e.g. `topic.config` ("" for the document root).
    pub path: String,
    asked: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str, table: &'a Table, span: Range<usize>, path: &str) -> Self {
        Reader {
            file,
            table,
            span,
            path: path.to_string(),
            asked: Vec::new(),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw node of a key.
    pub fn node(&mut self, key: &'static str) -> Option<&'a Node> {
        self.asked.push(key);
        self.table.get(key)
    }

    fn type_error(&self, key: &str, node: &Node, want: &str, example: &str) -> Diagnostic {
        Diagnostic::error(
            "wrong-type",
            self.file,
            node.span.clone(),
            format!(
                "`{}` must be {want}, not {}",
                self.field(key),
                node.kind.type_name()
            ),
        )
        .with_help(format!("write it like: {key} = {example}"))
    }

    /// An array element of the wrong type.
    fn item_type_error(
        &self,
        key: &str,
        item: &Node,
        found: &Kind,
        want: &str,
        help: String,
    ) -> Diagnostic {
        Diagnostic::error(
            "wrong-type",
            self.file,
            item.span.clone(),
            format!(
                "`{}` must hold {want}, not {}",
                self.field(key),
                found.type_name()
            ),
        )
        .with_help(help)
    }

    pub fn missing(&self, key: &str, example: &str) -> Diagnostic {
        let where_ = if self.path.is_empty() {
            String::new()
        } else {
            format!(" in [{}]", self.path)
        };
        Diagnostic::error(
            "missing-field",
            self.file,
            self.span.clone(),
            format!("required field `{key}` is missing{where_}"),
        )
        .with_help(format!("add: {key} = {example}"))
    }

    pub fn string(
        &mut self,
        key: &'static str,
        ds: &mut Diagnostics,
        example: &str,
    ) -> Option<Spanned<String>> {
        let node = self.node(key)?;
        match &node.kind {
            Kind::Str(s) => Some(Spanned::new(s.clone(), node.span.clone())),
            _ => {
                ds.push(self.type_error(key, node, "a string", example));
                None
            }
        }
    }

    pub fn required_string(
        &mut self,
        key: &'static str,
        ds: &mut Diagnostics,
        example: &str,
    ) -> Option<Spanned<String>> {
        if self.table.get(key).is_none() {
            self.asked.push(key);
            ds.push(self.missing(key, example));
            return None;
        }
        self.string(key, ds, example)
    }

    pub fn int(
        &mut self,
        key: &'static str,
        ds: &mut Diagnostics,
        example: &str,
    ) -> Option<Spanned<i64>> {
        let node = self.node(key)?;
        match &node.kind {
            Kind::Int(n) => Some(Spanned::new(*n, node.span.clone())),
            _ => {
                ds.push(self.type_error(key, node, "an integer", example));
                None
            }
        }
    }

    pub fn bool(&mut self, key: &'static str, ds: &mut Diagnostics) -> Option<Spanned<bool>> {
        let node = self.node(key)?;
        match &node.kind {
            Kind::Bool(b) => Some(Spanned::new(*b, node.span.clone())),
            _ => {
                ds.push(self.type_error(key, node, "a boolean", "true"));
                None
            }
        }
    }

    /// A date, written either as a TOML date (`2026-11-01`) or a string in that form.
    pub fn date(&mut self, key: &'static str, ds: &mut Diagnostics) -> Option<Spanned<Date>> {
        let node = self.node(key)?;
        let text = match &node.kind {
            Kind::Datetime(s) | Kind::Str(s) => s,
            _ => {
                ds.push(self.type_error(key, node, "a date", "2027-01-31"));
                return None;
            }
        };
        match Date::parse(text) {
            Some(d) => Some(Spanned::new(d, node.span.clone())),
            None => {
                ds.push(
                    Diagnostic::error(
                        "bad-date",
                        self.file,
                        node.span.clone(),
                        format!("`{}` = {text} is not a calendar date", self.field(key)),
                    )
                    .with_help(format!(
                        "write a day that exists, as YYYY-MM-DD without quotes or time, like: {key} = 2027-01-31"
                    )),
                );
                None
            }
        }
    }

    /// An array of strings.
    pub fn strings(
        &mut self,
        key: &'static str,
        ds: &mut Diagnostics,
        example: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let node = self.node(key)?;
        let Kind::Array(items) = &node.kind else {
            ds.push(self.type_error(key, node, "an array of strings", example));
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Str(s) => out.push(Spanned::new(s.clone(), item.span.clone())),
                other => ds.push(self.item_type_error(
                    key,
                    item,
                    other,
                    "only strings",
                    format!("write it like: {key} = {example}"),
                )),
            }
        }
        Some(out)
    }

    /// A sub-table, as a reader of its own.
    pub fn table(&mut self, key: &'static str, ds: &mut Diagnostics) -> Option<Reader<'a>> {
        let node = self.node(key)?;
        match &node.kind {
            Kind::Table(t) => Some(Reader::new(
                self.file,
                t,
                self.key_span(key, node),
                &self.field(key),
            )),
            _ => {
                ds.push(self.type_error(
                    key,
                    node,
                    "a table",
                    &format!("{{ ... }} or a [{}] section", self.field(key)),
                ));
                None
            }
        }
    }

    /// An array of tables (`[[name]]`), each as a reader.
    pub fn tables(&mut self, key: &'static str, ds: &mut Diagnostics) -> Vec<Reader<'a>> {
        let Some(node) = self.node(key) else {
            return Vec::new();
        };
        let Kind::Array(items) = &node.kind else {
            ds.push(self.type_error(
                key,
                node,
                "an array of tables",
                &format!("[[{key}]] sections"),
            ));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match &item.kind {
                Kind::Table(t) => out.push(Reader::new(
                    self.file,
                    t,
                    item.span.clone(),
                    &format!("{}[{i}]", self.field(key)),
                )),
                other => ds.push(self.item_type_error(
                    key,
                    item,
                    other,
                    "tables",
                    format!("write each entry as a [[{key}]] section"),
                )),
            }
        }
        out
    }

    /// Where a sub-table is best pointed at: its header key when it has one.
    fn key_span(&self, key: &str, node: &Node) -> Range<usize> {
        match self.table.key(key) {
            Some(k) if !k.span.is_empty() => k.span.clone(),
            _ => node.span.clone(),
        }
    }

    /// Reports every key nobody asked for, with the closest known key as a hint.
    pub fn finish(self, ds: &mut Diagnostics) {
        for (key, _) in &self.table.entries {
            if self.asked.contains(&key.name.as_str()) {
                continue;
            }
            let field = self.field(&key.name);
            let mut d = Diagnostic::error(
                "unknown-key",
                self.file,
                key.span.clone(),
                format!("unknown key `{field}`"),
            );
            d = match did_you_mean(&key.name, self.asked.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("known keys here: {}", self.asked.join(", "))),
            };
            ds.push(d);
        }
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A calendar date (no time zone: dates in a mesh are whole days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD` (a trailing time part, as in `2026-11-01T00:00:00Z`, is not a date).
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.split('-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        let leap = date.year % 4 == 0 && (date.year % 100 != 0 || date.year % 400 == 0);
        let days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let ok = (1..=12).contains(&date.month)
            && date.day >= 1
            && date.day <= days[date.month as usize - 1];
        ok.then_some(date)
    }
}

impl Date {
    /// The date `days` days after 1970-01-01 (the proleptic Gregorian calendar).
    pub fn from_unix_days(days: i64) -> Date {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_back_in_source_order_with_spans() {
        let text = "zeta = 1\nalpha = 'x'\n[t]\nk = [1, 2]\n";
        let t = parse("f", text).unwrap();
        let names: Vec<_> = t.entries.iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "t"]);
        let alpha = t.key("alpha").unwrap();
        assert_eq!(&text[alpha.span.clone()], "alpha");
        assert_eq!(t.get("alpha").unwrap().kind, Kind::Str("x".into()));
    }

    #[test]
    fn syntax_errors_point_at_the_place_and_do_not_quote_the_text() {
        let text = "a = 1\npassword = hunter2\n";
        let d = parse("f", text).unwrap_err();
        assert_eq!(d.code, "toml-syntax");
        assert!(d.span.start >= 6, "{:?}", d.span);
        assert!(!d.message.contains("hunter2"), "{}", d.message);
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let t = parse("f", "descripton = 'x'\n").unwrap();
        let mut ds = Diagnostics::new();
        let mut r = Reader::new("f", &t, 0..0, "");
        r.string("description", &mut ds, "\"...\"");
        r.finish(&mut ds);
        let d: Vec<_> = ds.into_sorted();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].help.as_deref(), Some("did you mean `description`?"));
    }

    #[test]
    fn wrong_types_and_missing_fields_are_reported() {
        let t = parse("f", "n = 'six'\n[sub]\n").unwrap();
        let mut ds = Diagnostics::new();
        let mut r = Reader::new("f", &t, 0..0, "");
        assert!(r.int("n", &mut ds, "6").is_none());
        assert!(r.required_string("name", &mut ds, "\"x\"").is_none());
        assert!(r.table("sub", &mut ds).is_some());
        let codes: Vec<_> = ds.into_sorted().into_iter().map(|d| d.code).collect();
        assert_eq!(codes, ["missing-field", "wrong-type"]);
    }

    #[test]
    fn dates() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2023-13-01").is_none());
        assert!(Date::parse("2023-01-01T00:00:00Z").is_none());
        assert!(Date::parse("20230101").is_none());
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(20_414).to_string(), "2025-11-22");
        assert_eq!(Date::from_unix_days(19_782).to_string(), "2024-02-29");
    }
}
