//! Remembers a rule expression's verdict for subjects that look the same to it.
//!
//! A rule is a pure function of what it reads: the subject's fields its expression names, and
//! `env` / `environment`, which are the same for every subject of one evaluation. Ten thousand
//! products mostly share the few values a rule reads (a quality, a topic config), so evaluating
//! the expression again for each would repeat the same work. The key of a verdict is what the
//! expression reads of the subject, written out exactly; a subject that reads differently is a
//! miss, never a wrong hit. Only a true or false is remembered: an error or a non-boolean result
//! is evaluated again, so its diagnostic is made exactly as without the memo. An expression whose
//! reads are mostly unique (a product id) stops being remembered after a trial.

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};
use serde_json::Value;

use crate::{Rule, select_path};

/// Lookups after which an expression that rarely hits stops being remembered.
const TRIAL: u32 = 256;

/// The verdicts of every `when` and `check` of the rules about one kind of subject.
pub(crate) struct Memo {
    /// Two slots per rule (its `when`, its `check`), in the order of the rules.
    slots: Vec<Slot>,
    /// Every field path some slot reads, once: rules read the same fields (a topic's config is
    /// read by seven rules of the baseline), and each is followed and written once per subject.
    paths: Vec<Vec<String>>,
    /// The buffers of [`SubjectMemo`], kept from one subject to the next so that a subject whose
    /// lookups all hit allocates nothing.
    found: String,
    found_at: Vec<Option<std::ops::Range<usize>>>,
    key: String,
}

struct Slot {
    /// The field paths the expression reads under the subject's variable (indices into
    /// `Memo::paths`).
    reads: Vec<usize>,
    /// foldhash, not SipHash: hashing the keys was a fifth of a lookup, and a lookup half of
    /// evaluating 10,000 products; the keys are the repo's own values.
    verdicts: foldhash::HashMap<String, bool>,
    lookups: u32,
    hits: u32,
    off: bool,
}

/// Which expression of a rule.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    When = 0,
    Check = 1,
}

impl Memo {
    /// A memo for the subjects bound to the variable `kind`.
    pub(crate) fn new(rules: &[Rule], kind: &str) -> Memo {
        let mut slots = Vec::with_capacity(rules.len() * 2);
        let mut paths: Vec<Vec<String>> = Vec::new();
        for rule in rules {
            for program in [rule.when.as_ref(), Some(&rule.check)] {
                let mut found = Vec::new();
                if let Some(p) = program {
                    collect_reads(p.expression(), kind, &mut found);
                }
                let reads = found
                    .into_iter()
                    .map(|path| match paths.iter().position(|p| *p == path) {
                        Some(i) => i,
                        None => {
                            paths.push(path);
                            paths.len() - 1
                        }
                    })
                    .collect();
                slots.push(Slot {
                    reads,
                    verdicts: foldhash::HashMap::default(),
                    lookups: 0,
                    hits: 0,
                    // A rule about another kind never runs with this memo.
                    off: rule.applies_to != kind,
                });
            }
        }
        Memo {
            found_at: vec![None; paths.len()],
            slots,
            paths,
            found: String::new(),
            key: String::new(),
        }
    }

    /// The memo's lookups for one subject, whose view is `view`.
    pub(crate) fn subject<'m>(&'m mut self, view: &'m Value) -> SubjectMemo<'m> {
        self.found.clear();
        self.found_at.fill(None);
        SubjectMemo { memo: self, view }
    }
}

/// A [`Memo`] bound to one subject: what the subject's view holds at each path is written once,
/// on the first lookup that reads it.
pub(crate) struct SubjectMemo<'m> {
    memo: &'m mut Memo,
    view: &'m Value,
}

impl SubjectMemo<'_> {
    /// The remembered verdict of part `part` of rule `rule`, or the key to remember its verdict
    /// under (`None`: not remembered).
    pub(crate) fn lookup(&mut self, rule: usize, part: Part) -> Result<bool, Option<String>> {
        // `found`: the findings written for this subject so far, one after the other;
        // `found_at`: where each path's is (`None`: not written yet); `key`: the key being written.
        let Memo {
            slots,
            paths,
            found,
            found_at,
            key,
        } = &mut *self.memo;
        let slot = &mut slots[rule * 2 + part as usize];
        if slot.off {
            return Err(None);
        }
        key.clear();
        for &path in &slot.reads {
            let at = match &found_at[path] {
                Some(at) => at.clone(),
                None => {
                    let start = found.len();
                    write_read(self.view, &paths[path], found);
                    let at = start..found.len();
                    found_at[path] = Some(at.clone());
                    at
                }
            };
            key.push_str(&found[at]);
        }
        slot.lookups += 1;
        if let Some(&verdict) = slot.verdicts.get(key.as_str()) {
            slot.hits += 1;
            return Ok(verdict);
        }
        if slot.lookups >= TRIAL && slot.hits * 4 < slot.lookups {
            slot.off = true;
            slot.verdicts = foldhash::HashMap::default();
            return Err(None);
        }
        Err(Some(key.clone()))
    }

    pub(crate) fn remember(&mut self, rule: usize, part: Part, key: String, verdict: bool) {
        self.memo.slots[rule * 2 + part as usize]
            .verdicts
            .insert(key, verdict);
    }
}

/// Every field path under the variable `var` that `e` reads: each chain `var.a.b` (a `has()`
/// test included) as `[a, b]`, and `var` alone as `[]`. A comprehension variable of the same
/// name is counted as well, which only makes keys longer.
pub(crate) fn collect_reads(e: &IdedExpr, var: &str, out: &mut Vec<Vec<String>>) {
    if let Some(path) = select_path(&e.expr) {
        if path[0] == var {
            out.push(path[1..].to_vec());
        }
        return;
    }
    match &e.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => {}
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                collect_reads(t, var, out);
            }
            for a in &c.args {
                collect_reads(a, var, out);
            }
        }
        Expr::Comprehension(c) => {
            for inner in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                collect_reads(inner, var, out);
            }
        }
        Expr::List(l) => {
            for item in &l.elements {
                collect_reads(item, var, out);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                entry_reads(&entry.expr, var, out);
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                entry_reads(&entry.expr, var, out);
            }
        }
        Expr::Select(s) => collect_reads(&s.operand, var, out),
    }
}

fn entry_reads(e: &EntryExpr, var: &str, out: &mut Vec<Vec<String>>) {
    match e {
        EntryExpr::StructField(f) => collect_reads(&f.value, var, out),
        EntryExpr::MapEntry(m) => {
            collect_reads(&m.key, var, out);
            collect_reads(&m.value, var, out);
        }
    }
}

/// What following `path` from `view` finds, written so that two different findings never read
/// the same: how many fields were followed, then `!` for a missing field, or `=` and the value
/// (see [`write_value`]) where the path ended or met something that is not an object.
fn write_read(view: &Value, path: &[String], out: &mut String) {
    let mut at = view;
    let mut followed = 0;
    for field in path {
        match at {
            Value::Object(o) => match o.get(field) {
                Some(v) => {
                    at = v;
                    followed += 1;
                }
                None => {
                    write_len(followed, out);
                    out.push('!');
                    return;
                }
            },
            _ => break,
        }
    }
    write_len(followed, out);
    out.push('=');
    write_value(at, out);
}

/// A JSON value, self-delimiting: a tag, and for strings, lists and objects their length
/// before their contents (so no escaping is needed); numbers as serde_json writes them (an
/// integer as `1`, a float as `1.0`), ended by `;`.
fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('n'),
        Value::Bool(true) => out.push('t'),
        Value::Bool(false) => out.push('f'),
        Value::Number(n) => {
            out.push('#');
            out.push_str(&n.to_string());
            out.push(';');
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            write_len(items.len(), out);
            for item in items {
                write_value(item, out);
            }
        }
        Value::Object(o) => {
            out.push('{');
            write_len(o.len(), out);
            for (k, v) in o {
                write_str(k, out);
                write_value(v, out);
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    write_len(s.len(), out);
    out.push_str(s);
}

/// A count in decimal, ended by `:`.
fn write_len(n: usize, out: &mut String) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
    out.push(':');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reads(expr: &str) -> Vec<String> {
        let p = cel::Program::compile(expr).expect("compiles");
        let mut out = Vec::new();
        collect_reads(p.expression(), "product", &mut out);
        out.into_iter().map(|p| p.join(".")).collect()
    }

    #[test]
    fn every_read_of_the_subject_is_found() {
        assert_eq!(
            reads(
                r#"product.topic.config["x"] == "1" && size(product.tags) > 0 && has(product.schema.value) && env == "prod""#
            ),
            ["topic.config", "tags", "schema.value"]
        );
        assert_eq!(
            reads(r#"product.owners.all(o, o.matches("^@"))"#),
            ["owners"]
        );
        assert_eq!(reads("f(product) && {'a': product.id}.a != ''"), ["", "id"]);
        assert_eq!(reads("[product.name][0].size() > 0"), ["name"]);
        assert_eq!(reads("environment.local"), Vec::<String>::new());
    }

    #[test]
    fn different_findings_write_differently() {
        let path: Vec<String> = vec!["schema".into(), "value".into()];
        let write = |v: &Value| {
            let mut s = String::new();
            write_read(v, &path, &mut s);
            s
        };
        let findings = [
            json!({}),
            json!({"schema": null}),
            json!({"schema": {}}),
            json!({"schema": {"value": null}}),
            json!({"schema": {"value": "a.avsc"}}),
            json!({"schema": {"value": 1}}),
            json!({"schema": {"value": 1.0}}),
            json!({"schema": "value"}),
            json!({"schema": ["value"]}),
            json!({"schema": {"value": "1"}}),
            json!({"schema": {"value": true}}),
            json!({"schema": {"value": [1, 2]}}),
            json!({"schema": {"value": [12]}}),
            json!({"schema": {"value": ["a", "b"]}}),
            json!({"schema": {"value": ["a\"", "b"]}}),
            json!({"schema": {"value": {"a": "b"}}}),
            json!({"schema": {"value": {"a": "b", "c": "d"}}}),
            json!({"schema": {"value": {"ab": ""}}}),
            json!({"schema": {"value": {"a": "b:"}}}),
            json!({"schema": {"value": 10}}),
            json!({"schema": {"value": 100_000_000_000u64}}),
        ];
        let written: Vec<String> = findings.iter().map(write).collect();
        for (i, a) in written.iter().enumerate() {
            for b in &written[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
