//! Federated governance: CEL rules from policy packs, the repo's `policies/` and each domain's
//! `policies/`, exemptions with expiry, and their evaluation over a loaded mesh (SPEC §2).
//!
//! Architecture invariant: pure. "Today" is an argument; packs are compiled into the binary and
//! passed in as text. A rule is checked when it is loaded — CEL syntax, and every field it names
//! against the subject's shape — so a typo fails every run, not just the runs that reach it.

mod memo;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use cel::common::ast::{EntryExpr, Expr};
use cel::{Context, IdedExpr, Program};
use memo::{Memo, Part};
use mesh_diagnostics::{Diagnostic, Diagnostics, Severity, SourceFile, offset_of};
use mesh_model::Mesh;
use mesh_model::doc::{self, Date, Reader, did_you_mean};
use serde_json::Value;

/// Policy packs shipped with the tool: name → TOML text (the project's top-level `policies/`).
pub const PACKS: &[(&str, &str)] = &[("baseline", include_str!("../../../policies/baseline.toml"))];

/// The path under which a pack's diagnostics are reported.
pub fn pack_path(name: &str) -> String {
    format!("<pack {name}>/{name}.toml")
}

/// The kinds of subject a rule can be about.
pub const SUBJECTS: &[&str] = &["product", "domain", "consumer", "connector", "change"];

/// Where a rule binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every domain (packs and the repo's `policies/`).
    Global,
    /// Only this domain (its own `policies/`).
    Domain(String),
}

pub struct Rule {
    pub id: String,
    pub description: String,
    pub applies_to: String,
    pub when: Option<Program>,
    pub check: Program,
    pub severity: Severity,
    pub exemptible: bool,
    pub message: String,
    pub scope: Scope,
    pub file: String,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct Exemption {
    pub rule: String,
    pub product: String,
    pub reason: String,
    pub expires: Date,
    pub domain: String,
    pub file: String,
    pub span: Range<usize>,
}

/// All rules and exemptions in force for a mesh.
#[derive(Default)]
pub struct Policies {
    pub rules: Vec<Rule>,
    pub exemptions: Vec<Exemption>,
    /// Texts of the packs in use, for rendering diagnostics that point into them.
    pub pack_sources: Vec<SourceFile>,
}

/// Loads the packs named in mesh.toml, the repo's `policies/*.toml` and every domain's
/// `policies/*.toml`. Problems (unknown pack, bad CEL, unknown field, bad exemption) are reported
/// and the offending rule is left out.
pub fn load(mesh: &Mesh, ds: &mut Diagnostics) -> Policies {
    let mut out = Policies::default();
    for pack in &mesh.settings.policy_packs {
        match PACKS.iter().find(|(name, _)| *name == pack.value) {
            Some((name, text)) => {
                let path = pack_path(name);
                out.pack_sources.push(SourceFile::new(path.clone(), *text));
                load_file(&path, text, Scope::Global, &mut out, ds);
            }
            None => {
                let names: Vec<&str> = PACKS.iter().map(|(n, _)| *n).collect();
                let d = Diagnostic::error(
                    "unknown-pack",
                    "mesh.toml",
                    pack.span.clone(),
                    format!("policy pack `{}` is not shipped with mesh", pack.value),
                );
                ds.push(match did_you_mean(&pack.value, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("available packs: {}", names.join(", "))),
                });
            }
        }
    }
    // Global files first, so that a domain rule reusing a global id is the one reported.
    let mut files: Vec<(Scope, &str)> = mesh
        .policy_files()
        .map(
            |path| match path.split('/').collect::<Vec<_>>().as_slice() {
                ["domains", d, ..] => (Scope::Domain((*d).to_string()), path),
                _ => (Scope::Global, path),
            },
        )
        .collect();
    files.sort_by_key(|(scope, path)| (*scope != Scope::Global, *path));
    for (scope, path) in files {
        if let Some(src) = mesh.sources.get(path) {
            load_file(path, src.text(), scope, &mut out, ds);
        }
    }
    // Rule ids are unique across all sources: a domain can never redefine (weaken) a global rule.
    let mut seen: BTreeMap<&str, &Rule> = BTreeMap::new();
    let mut dup = Vec::new();
    for (i, r) in out.rules.iter().enumerate() {
        if let Some(first) = seen.insert(&r.id, r) {
            ds.push(
                Diagnostic::error("duplicate-rule", &r.file, r.span.clone(), format!("rule `{}` is already defined in {}", r.id, first.file))
                    .with_help("rule ids are unique across packs, the repo and domains; a domain may add rules but never redefine one — pick another id"),
            );
            dup.push(i);
        }
    }
    for i in dup.into_iter().rev() {
        out.rules.remove(i);
    }
    out
}

fn load_file(path: &str, text: &str, scope: Scope, out: &mut Policies, ds: &mut Diagnostics) {
    let table = match doc::parse(path, text) {
        Ok(t) => t,
        Err(d) => {
            ds.push(*d);
            return;
        }
    };
    let mut r = Reader::new(path, &table, 0..0, "");
    for mut rr in r.tables("rule", ds) {
        if let Some(rule) = load_rule(&mut rr, text, scope.clone(), ds) {
            out.rules.push(rule);
        }
        rr.finish(ds);
    }
    let exemptions = r.tables("exemption", ds);
    if !exemptions.is_empty() && scope == Scope::Global {
        ds.push(
            Diagnostic::error(
                "misplaced-exemption",
                path,
                exemptions[0].span.clone(),
                "exemptions belong in a domain's policies/ folder",
            )
            .with_help("move this [[exemption]] to domains/<owning domain>/policies/*.toml"),
        );
    }
    for mut e in exemptions {
        let rule = e.required_string("rule", ds, "\"durability.authoritative\"");
        let product = e.required_string("product", ds, "\"sales.legacy-orders\"");
        let reason = e.required_string("reason", ds, "\"why the rule cannot hold yet\"");
        let expires = if e.table.get("expires").is_none() {
            ds.push(e.missing("expires", "2027-03-31"));
            e.node("expires");
            None
        } else {
            e.date("expires", ds)
        };
        if let Some(r) = &reason
            && r.value.trim().is_empty()
        {
            ds.push(
                Diagnostic::error(
                    "bad-exemption",
                    path,
                    r.span.clone(),
                    "an exemption needs a reason",
                )
                .with_help("say why the rule cannot hold for this product yet"),
            );
        }
        let span = e.span.clone();
        e.finish(ds);
        if let (Scope::Domain(domain), Some(rule), Some(product), Some(reason), Some(expires)) =
            (&scope, rule, product, reason, expires)
        {
            out.exemptions.push(Exemption {
                rule: rule.value,
                product: product.value,
                reason: reason.value,
                expires: expires.value,
                domain: domain.clone(),
                file: path.to_string(),
                span,
            });
        }
    }
    r.finish(ds);
}

fn load_rule(r: &mut Reader<'_>, text: &str, scope: Scope, ds: &mut Diagnostics) -> Option<Rule> {
    let file = r.file.to_string();
    let span = r.span.clone();
    let id = r.required_string("id", ds, "\"durability.authoritative\"");
    let description = r
        .string("description", ds, "\"what the rule protects\"")
        .map(|s| s.value)
        .unwrap_or_default();
    let applies_to = r.required_string("applies_to", ds, "\"product\"");
    let when = r.string("when", ds, "'product.quality == \"authoritative\"'");
    let check = r.required_string("check", ds, "'product.topic.replication_factor >= 3'");
    let severity = r.string("severity", ds, "\"error\"");
    let exemptible = r.bool("exemptible", ds).is_some_and(|b| b.value);
    let message = r.string(
        "message",
        ds,
        "\"{product.id}: what is wrong and how to fix it\"",
    );

    let applies_to = applies_to?;
    if !SUBJECTS.contains(&applies_to.value.as_str()) {
        let d = Diagnostic::error(
            "bad-value",
            &file,
            applies_to.span.clone(),
            format!(
                "`applies_to` = \"{}\" is not one of: {}",
                applies_to.value,
                SUBJECTS.join(", ")
            ),
        );
        ds.push(
            match did_you_mean(&applies_to.value, SUBJECTS.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                None => d.with_help(format!("choose one of: {}", SUBJECTS.join(", "))),
            },
        );
        return None;
    }
    let severity = match &severity {
        None => Severity::Error,
        Some(s) if s.value == "error" => Severity::Error,
        Some(s) if s.value == "warning" => Severity::Warning,
        Some(s) => {
            let other = &s.value;
            ds.push(
                Diagnostic::error(
                    "bad-value",
                    &file,
                    s.span.clone(),
                    format!("`severity` = \"{other}\" is not error or warning"),
                )
                .with_help("choose \"error\" or \"warning\""),
            );
            return None;
        }
    };
    let vars = view::variables(&applies_to.value);
    let mut ok = true;
    let mut compile = |src: &doc::Spanned<String>, what: &str| -> Option<Program> {
        let operations = cel_operations(&src.value);
        if operations > MAX_CEL_OPERATIONS {
            ok = false;
            ds.push(
                Diagnostic::error(
                    "bad-rule",
                    &file,
                    src.span.clone(),
                    format!(
                        "`{what}` is too complex: {operations} operators and brackets, at most {MAX_CEL_OPERATIONS}"
                    ),
                )
                .with_help("split it into several rules, or test a list with `in [...]` or a pattern with matches() instead of chaining conditions"),
            );
            return None;
        }
        let compiled = std::panic::catch_unwind(|| Program::compile(&src.value));
        let Ok(compiled) = compiled else {
            ok = false;
            ds.push(
                Diagnostic::error(
                    "bad-rule",
                    &file,
                    src.span.clone(),
                    format!("`{what}` is not valid CEL: the CEL parser gave up on it"),
                )
                .with_help(
                    "fix the expression; CEL uses &&, ||, !, ==, in, size(), startsWith(), int()",
                ),
            );
            return None;
        };
        match compiled {
            Ok(p) => {
                let mut problems = Vec::new();
                check_fields(p.expression(), &vars, &mut Vec::new(), &mut problems);
                for (field, hint) in problems {
                    ok = false;
                    ds.push(
                        Diagnostic::error(
                            "bad-rule",
                            &file,
                            src.span.clone(),
                            format!(
                                "`{what}` uses `{field}`, which a {} rule cannot see",
                                applies_to.value
                            ),
                        )
                        .with_help(hint),
                    );
                }
                Some(p)
            }
            Err(errors) => {
                ok = false;
                // The first error only: after it the parser's recovery can report one error per
                // token, and a long garbled expression gave tens of thousands of diagnostics,
                // each showing the whole line (gigabytes of output; found by mesh-fuzz).
                if let Some(e) = errors.errors.first() {
                    let more = match errors.errors.len() - 1 {
                        0 => String::new(),
                        n => format!(" (and {n} more error(s) after it)"),
                    };
                    let at = cel_offset(text, &src.span, &src.value, e.pos);
                    ds.push(Diagnostic::error("bad-rule", &file, at..at + 1, format!("`{what}` is not valid CEL: {}{more}", e.msg))
                        .with_help("fix the expression; CEL uses &&, ||, !, ==, in, size(), startsWith(), int()"));
                }
                None
            }
        }
    };
    let when = when.and_then(|w| compile(&w, "when"));
    let check = check.and_then(|c| compile(&c, "check"));
    let message = message.map(|m| {
        for field in placeholders(&m.value) {
            if let Err(hint) = check_path(&field, &vars) {
                ok = false;
                ds.push(
                    Diagnostic::error(
                        "bad-rule",
                        &file,
                        m.span.clone(),
                        format!(
                            "`message` uses `{{{field}}}`, which a {} rule cannot see",
                            applies_to.value
                        ),
                    )
                    .with_help(hint),
                );
            }
        }
        m.value
    });
    if !ok {
        return None;
    }
    let id = id?;
    Some(Rule {
        message: message.unwrap_or_else(|| format!("violates {}", id.value)),
        id: id.value,
        description,
        applies_to: applies_to.value,
        when,
        check: check?,
        severity,
        exemptible,
        scope,
        file,
        span,
    })
}

/// Byte offset in the policy file of a CEL error at 1-based (line, column) of the expression.
/// The most operators and brackets a rule expression may hold. The CEL crate parses (and
/// evaluates) by recursion, one level per nested or chained operation, so an expression with
/// thousands of them overflows the stack: an abort that no `catch_unwind` turns into a
/// diagnostic. Real rules hold a few dozen; cel-go bounds its parser the same way.
const MAX_CEL_OPERATIONS: usize = 1000;

/// Counts the operator and opening-bracket characters of a CEL expression outside string
/// literals: an upper bound of its nesting depth, for [`MAX_CEL_OPERATIONS`].
fn cel_operations(expr: &str) -> usize {
    let mut count = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if "+-*/%!<>=&|?:.([{".contains(c) => count += 1,
            None => {}
        }
    }
    count
}

fn cel_offset(text: &str, span: &Range<usize>, expr: &str, pos: (isize, isize)) -> usize {
    let inner = offset_of(expr, pos.0.max(1) as usize, pos.1.max(0) as usize + 1);
    let raw = &text[span.clone()];
    // Skip the opening quote(s) of the TOML string; exact for literal strings without escapes.
    let quote = ["'''", "\"\"\"", "'", "\""]
        .iter()
        .find(|q| raw.starts_with(**q))
        .map_or(0, |q| q.len());
    (span.start + quote + inner).min(span.end.saturating_sub(1))
}

/// `{a.b.c}` placeholders in a message.
fn placeholders(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        if !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            out.push(inner.to_string());
        }
        rest = &rest[start + len + 1..];
    }
    out
}

fn check_path(path: &str, vars: &[(&'static str, &'static view::Shape)]) -> Result<(), String> {
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or("");
    let Some(&(_, mut shape)) = vars.iter().find(|(n, _)| *n == root) else {
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        return Err(format!("this rule can use: {}", names.join(", ")));
    };
    let mut seen = root.to_string();
    for part in parts {
        match shape.field(part) {
            Some(s) => shape = s,
            None => {
                let names = shape.field_names();
                return Err(match did_you_mean(part, names.iter().copied()) {
                    Some(s) => format!("did you mean `{seen}.{s}`?"),
                    None if names.is_empty() => format!("`{seen}` has no fields"),
                    None => format!("`{seen}` has: {}", names.join(", ")),
                });
            }
        }
        seen = format!("{seen}.{part}");
    }
    Ok(())
}

/// Every `a.b.c` path rooted at a variable, checked against the subject's shape; names bound by
/// a comprehension (`all(o, …)`) are skipped, any other unknown name is reported.
fn check_fields(
    e: &IdedExpr,
    vars: &[(&'static str, &'static view::Shape)],
    bound: &mut Vec<String>,
    out: &mut Vec<(String, String)>,
) {
    if let Some(path) = select_path(&e.expr) {
        let root = path[0].as_str();
        if !bound.iter().any(|b| b == root) {
            if let Err(hint) = check_path(&path.join("."), vars) {
                out.push((path.join("."), hint));
            }
        }
        return;
    }
    match &e.expr {
        Expr::Comprehension(c) => {
            check_fields(&c.iter_range, vars, bound, out);
            check_fields(&c.accu_init, vars, bound, out);
            let before = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            for inner in [&c.loop_cond, &c.loop_step, &c.result] {
                check_fields(inner, vars, bound, out);
            }
            bound.truncate(before);
        }
        other => {
            let children: Vec<&IdedExpr> = match other {
                Expr::Call(c) => c
                    .target
                    .iter()
                    .map(|t| t.as_ref())
                    .chain(c.args.iter())
                    .collect(),
                Expr::List(l) => l.elements.iter().collect(),
                Expr::Map(m) => m.entries.iter().flat_map(entry_children).collect(),
                Expr::Struct(s) => s.entries.iter().flat_map(entry_children).collect(),
                Expr::Select(s) => vec![&s.operand],
                _ => vec![],
            };
            for c in children {
                check_fields(c, vars, bound, out);
            }
        }
    }
}

fn entry_children(e: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        EntryExpr::StructField(f) => vec![&f.value],
        EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
    }
}

/// `a.b.c` as ["a", "b", "c"] when the expression is a plain chain of field selections.
pub(crate) fn select_path(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Ident(name) => Some(vec![name.clone()]),
        Expr::Select(s) => {
            let mut p = select_path(&s.operand.expr)?;
            p.push(s.field.clone());
            Some(p)
        }
        _ => None,
    }
}

/// One subject a rule is evaluated on, with where to report a violation.
struct Subject<'a> {
    kind: &'static str,
    domain: &'a str,
    product_id: Option<&'a str>,
    /// What the rule sees; converted to a CEL value just before evaluation.
    json: Value,
    file: &'a str,
    span: Range<usize>,
}

/// Evaluates every rule on every subject it applies to, honouring exemptions (which must name an
/// exemptible global rule and a product of the exempting domain, and must not have expired).
pub fn evaluate(mesh: &Mesh, policies: &Policies, today: Date, ds: &mut Diagnostics) {
    let env = view::to_cel(&Value::String(mesh.env.clone().unwrap_or_default()));
    let environment = view::to_cel(&view::environment(mesh));
    check_exemptions(mesh, policies, today, ds);

    let root_context = || root_context(&env, &environment);
    let mut used_exemptions = vec![false; policies.exemptions.len()];

    // Products are most of the work: they are spread over the cores, each thread with its own
    // CEL context; every subject is built, evaluated and dropped in turn to keep memory flat.
    let products: Vec<&mesh_model::Product> = mesh.products.iter().filter(|p| p.complete).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let size = products.len().div_ceil(threads).max(1);
    let make_root = &root_context;
    let partial: Vec<(Diagnostics, Vec<bool>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = products
            .chunks(size)
            .map(|part| {
                scope.spawn(move || {
                    let root = make_root();
                    let mut memo = Memo::new(&policies.rules, "product");
                    let mut ds = Diagnostics::new();
                    let mut used = vec![false; policies.exemptions.len()];
                    for p in part {
                        let json = view::product(p);
                        let subject = Subject {
                            kind: "product",
                            domain: &p.domain,
                            product_id: Some(&p.id),
                            json,
                            file: &p.file,
                            span: 0..0,
                        };
                        evaluate_subject(
                            mesh,
                            policies,
                            &root,
                            &subject,
                            Some(&mut memo),
                            &mut used,
                            &mut ds,
                        );
                    }
                    (ds, used)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for (part_ds, used) in partial {
        ds.extend(part_ds);
        for (all, this) in used_exemptions.iter_mut().zip(used) {
            *all |= this;
        }
    }

    let root = root_context();
    let mut eval =
        |s: Subject| evaluate_subject(mesh, policies, &root, &s, None, &mut used_exemptions, ds);
    let mut products_of: HashMap<&str, Vec<&String>> = HashMap::new();
    for p in &mesh.products {
        products_of.entry(&p.domain).or_default().push(&p.id);
    }
    for d in &mesh.domains {
        let products = products_of
            .get(d.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        let json = view::domain(d, products);
        eval(Subject {
            kind: "domain",
            domain: &d.name,
            product_id: None,
            json,
            file: &d.file,
            span: 0..0,
        });
        for c in &d.consumes {
            let json = view::consumer(d, c);
            eval(Subject {
                kind: "consumer",
                domain: &d.name,
                product_id: None,
                json,
                file: &d.file,
                span: c.span.clone(),
            });
        }
    }
    for c in &mesh.connectors {
        let json = view::connector(mesh, c);
        eval(Subject {
            kind: "connector",
            domain: &c.domain,
            product_id: Some(&c.product().value),
            json,
            file: &c.file,
            span: 0..0,
        });
    }
    for (i, e) in policies.exemptions.iter().enumerate() {
        // An exemption from a `change` rule is used at plan time, not here.
        let valid = policies.rules.iter().any(|r| {
            r.id == e.rule && r.exemptible && r.scope == Scope::Global && r.applies_to != "change"
        }) && mesh
            .product(&e.product)
            .is_some_and(|p| p.domain == e.domain && p.complete)
            && e.expires >= today;
        if valid && !used_exemptions[i] {
            ds.push(
                Diagnostic::warning(
                    "unused-exemption",
                    &e.file,
                    e.span.clone(),
                    format!(
                        "exemption from `{}` for {} is not needed: the product passes the rule",
                        e.rule, e.product
                    ),
                )
                .with_help("remove the exemption so the rule protects this product again"),
            );
        }
    }
}

/// The CEL context every subject's scope is made in: the standard library, `matches` with a
/// per-thread regex cache, and the `env` and `environment` variables.
fn root_context(env: &cel::Value, environment: &cel::Value) -> Context<'static, 'static> {
    let mut cel_env = cel::Env::stdlib();
    cel::add_overload!(cel_env, fn cached_matches: (CelString, CelString) -> Result<CelBool>, name = "matches", id = "matches")
        .expect("the standard library without cel's regex feature has no `matches` to clash with");
    cel::add_member_overload!(cel_env, fn cached_matches: (CelString, CelString) -> Result<CelBool>, name = "matches")
        .expect("the standard library without cel's regex feature has no `matches` to clash with");
    let mut root = Context::with_env(std::sync::Arc::new(cel_env));
    root.add_variable_from_value("env", env.clone());
    root.add_variable_from_value("environment", environment.clone());
    root
}

/// One planned action, as a `change` rule sees it (SPEC §2).
#[derive(Clone, Debug)]
pub struct ChangeSubject {
    /// `create`, `update` or `delete`.
    pub kind: String,
    /// `topic`, `config`, `partitions`, `schema`, `acl` or `catalog`.
    pub resource: String,
    /// The product the action belongs to.
    pub product: String,
    /// What the rule sees as `change.product` when the product is no longer in the repo (a
    /// retirement: built from its last applied catalog record); `None` uses the repo's product.
    pub product_view: Option<Value>,
    pub before: Value,
    pub after: Value,
}

/// Evaluates the `change` rules on each planned action. A change whose product is neither in
/// the repo nor given a view is skipped (such as the catalog topic's creation). Violations are
/// reported at the product's file; exemptions work as for product rules.
/// Returns each finding with the index of the change it is about.
pub fn evaluate_changes(
    mesh: &Mesh,
    policies: &Policies,
    changes: &[ChangeSubject],
) -> Vec<(usize, Diagnostic)> {
    let mut found = Vec::new();
    if !policies.rules.iter().any(|r| r.applies_to == "change") {
        return Vec::new();
    }
    let root = root_context(
        &view::to_cel(&Value::String(mesh.env.clone().unwrap_or_default())),
        &view::to_cel(&view::environment(mesh)),
    );
    let mut used = vec![false; policies.exemptions.len()];
    for (i, c) in changes.iter().enumerate() {
        let repo_product = mesh.product(&c.product);
        let Some(product) = c
            .product_view
            .clone()
            .or_else(|| repo_product.map(view::product))
        else {
            continue;
        };
        let domain = product["domain"].as_str().unwrap_or_default().to_string();
        let file = repo_product.map_or_else(
            || {
                let name = c.product.split_once('.').map_or("", |(_, n)| n);
                format!("domains/{domain}/products/{name}.toml")
            },
            |p| p.file.clone(),
        );
        let subject = Subject {
            kind: "change",
            domain: &domain,
            product_id: Some(&c.product),
            json: serde_json::json!({
                "kind": c.kind,
                "resource": c.resource,
                "product": product,
                "before": c.before,
                "after": c.after,
            }),
            file: &file,
            span: 0..0,
        };
        let mut ds = Diagnostics::new();
        evaluate_subject(mesh, policies, &root, &subject, None, &mut used, &mut ds);
        found.extend(ds.into_sorted().into_iter().map(|d| (i, d)));
    }
    found
}

/// Evaluates the rules about one subject in a scope of `root` that holds it; with a memo (for
/// subjects of its kind), verdicts already known for what a rule reads are not evaluated again.
fn evaluate_subject(
    mesh: &Mesh,
    policies: &Policies,
    root: &Context,
    s: &Subject,
    memo: Option<&mut Memo>,
    used_exemptions: &mut [bool],
    ds: &mut Diagnostics,
) {
    let mut scope = root.new_inner_scope();
    scope.add_variable_as_val(s.kind, view::to_val(&s.json));
    let ctx = &scope;
    let mut memo = memo.map(|m| m.subject(&s.json));
    let mut verdict = |i: usize, rule: &Rule, part: Part, p: &Program, ds: &mut Diagnostics| {
        let what = match part {
            Part::When => "when",
            Part::Check => "check",
        };
        let Some(memo) = memo.as_mut() else {
            return run(p, ctx, rule, s, what, ds);
        };
        match memo.lookup(i, part) {
            Ok(known) => Some(known),
            Err(key) => {
                let found = run(p, ctx, rule, s, what, ds);
                if let (Some(key), Some(b)) = (key, found) {
                    memo.remember(i, part, key, b);
                }
                found
            }
        }
    };
    for (i, rule) in policies.rules.iter().enumerate() {
        if rule.applies_to != s.kind {
            continue;
        }
        if let Scope::Domain(d) = &rule.scope
            && d != s.domain
        {
            continue;
        }
        let applies = match &rule.when {
            Some(w) => verdict(i, rule, Part::When, w, ds),
            None => Some(true),
        };
        if applies != Some(true) {
            continue;
        }
        if verdict(i, rule, Part::Check, &rule.check, ds) != Some(false) {
            continue;
        }
        let exemption = s.product_id.and_then(|pid| {
            policies.exemptions.iter().position(|e| {
                e.rule == rule.id
                    && e.product == pid
                    && e.domain == s.domain
                    && rule.exemptible
                    && rule.scope == Scope::Global
            })
        });
        if let Some(i) = exemption {
            used_exemptions[i] = true;
            continue;
        }
        let origin = if rule.file.starts_with('<') {
            format!(
                "the {} pack",
                rule.file
                    .trim_start_matches("<pack ")
                    .split('>')
                    .next()
                    .unwrap_or("")
            )
        } else {
            rule.file.clone()
        };
        let mut help = format!("{} (rule `{}` from {origin})", rule.description, rule.id);
        if rule.exemptible && s.product_id.is_some() {
            help.push_str("; the domain may add an [[exemption]] with a reason and an expiry date");
        }
        ds.push(
            Diagnostic::new(
                rule.severity,
                &rule.id,
                s.file,
                s.span.clone(),
                interpolate(&rule.message, s, mesh),
            )
            .with_help(help),
        );
    }
}

use cel::common::types::{CelBool, CelString};

/// `matches` with each pattern compiled once per thread (cel compiles it on every call).
fn cached_matches(
    this: &CelString<'_>,
    re: &CelString<'_>,
) -> Result<CelBool, cel::ExecutionError> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> = Default::default();
    }
    CACHE.with_borrow_mut(|cache| {
        if !cache.contains_key(re.inner()) {
            let compiled = regex::Regex::new(re.inner()).map_err(|err| {
                cel::ExecutionError::FunctionError {
                    function: "matches".to_string(),
                    message: format!("'{}' not a valid regex:\n{err}", re.inner()),
                }
            })?;
            cache.insert(re.inner().to_string(), compiled);
        }
        Ok(CelBool::from(cache[re.inner()].is_match(this.inner())))
    })
}

fn check_exemptions(mesh: &Mesh, policies: &Policies, today: Date, ds: &mut Diagnostics) {
    for e in &policies.exemptions {
        match policies.rules.iter().find(|r| r.id == e.rule) {
            None => {
                let d = Diagnostic::error("bad-exemption", &e.file, e.span.clone(), format!("exemption names rule `{}`, which is not in force", e.rule));
                ds.push(match did_you_mean(&e.rule, policies.rules.iter().map(|r| r.id.as_str())) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("name a rule from the packs in mesh.toml or the repo's policies/"),
                });
            }
            Some(r) if r.scope != Scope::Global => ds.push(
                Diagnostic::error("bad-exemption", &e.file, e.span.clone(), format!("rule `{}` is a domain rule; only global rules take exemptions", e.rule))
                    .with_help("change the domain's own rule instead"),
            ),
            Some(r) if !r.exemptible => ds.push(
                Diagnostic::error("bad-exemption", &e.file, e.span.clone(), format!("rule `{}` is not exemptible", e.rule))
                    .with_help("fix the product; the governance team marked this rule as one that always holds"),
            ),
            Some(_) => {}
        }
        match mesh.product(&e.product) {
            None => ds.push(
                Diagnostic::error(
                    "bad-exemption",
                    &e.file,
                    e.span.clone(),
                    format!(
                        "exemption names product `{}`, which does not exist",
                        e.product
                    ),
                )
                .with_help("name a product of this domain as <domain>.<name>"),
            ),
            Some(p) if p.domain != e.domain => ds.push(
                Diagnostic::error(
                    "bad-exemption",
                    &e.file,
                    e.span.clone(),
                    format!(
                        "domain `{}` cannot exempt {}, a product of domain `{}`",
                        e.domain, e.product, p.domain
                    ),
                )
                .with_help("a domain exempts only its own products"),
            ),
            Some(_) => {}
        }
        if e.expires < today {
            ds.push(Diagnostic::error("expired-exemption", &e.file, e.span.clone(), format!("exemption from `{}` for {} expired on {}", e.rule, e.product, e.expires))
                .with_help("fix the product so it passes the rule, or renew the exemption with a new expiry date and reason"));
        }
    }
}

/// Runs one expression; a non-boolean result or a runtime error is reported against the rule.
fn run(
    p: &Program,
    ctx: &Context,
    rule: &Rule,
    s: &Subject,
    what: &str,
    ds: &mut Diagnostics,
) -> Option<bool> {
    // A panic inside the CEL interpreter is reported against the rule like an error.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.execute(ctx)))
        .unwrap_or_else(|_| {
            Err(cel::ExecutionError::function_error(
                what,
                "the CEL interpreter gave up on it",
            ))
        });
    match result {
        Ok(cel::Value::Bool(b)) => Some(b),
        Ok(other) => {
            ds.push(
                Diagnostic::error(
                    "rule-error",
                    &rule.file,
                    rule.span.clone(),
                    format!(
                        "rule `{}`: `{what}` gave {} for {}, not a boolean",
                        rule.id,
                        cel_type(&other),
                        s.product_id.unwrap_or(s.domain)
                    ),
                )
                .with_help("make the expression a comparison or a test that is true or false"),
            );
            None
        }
        Err(e) => {
            ds.push(Diagnostic::error("rule-error", &rule.file, rule.span.clone(), format!("rule `{}`: `{what}` failed for {}: {e}", rule.id, s.product_id.unwrap_or(s.domain)))
                .with_help("guard optional values, e.g. `\"retention.ms\" in product.topic.config && ...` or `product.schema != null && ...`"));
            None
        }
    }
}

/// A CEL value's type, as named in messages.
fn cel_type(v: &cel::Value) -> &'static str {
    match v {
        cel::Value::Int(_) | cel::Value::UInt(_) => "an integer",
        cel::Value::Float(_) => "a number",
        cel::Value::String(_) => "a string",
        cel::Value::List(_) => "a list",
        cel::Value::Map(_) => "a map",
        cel::Value::Null => "null",
        _ => "a non-boolean value",
    }
}

/// Fills `{a.b}` placeholders from the subject's view.
fn interpolate(message: &str, s: &Subject, mesh: &Mesh) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let path = &rest[start + 1..start + len];
        out.push_str(&lookup(path, s, mesh).unwrap_or_else(|| format!("{{{path}}}")));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

fn lookup(path: &str, s: &Subject, mesh: &Mesh) -> Option<String> {
    let mut parts = path.split('.');
    let root = parts.next()?;
    let mut v = if root == s.kind {
        s.json.clone()
    } else if root == "env" {
        Value::String(mesh.env.clone().unwrap_or_default())
    } else if root == "environment" {
        view::environment(mesh)
    } else {
        return None;
    };
    for p in parts {
        v = v.get(p)?.clone();
    }
    Some(match v {
        Value::String(s) => s,
        Value::Null => "none".into(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the memo, every product gets the diagnostics it gets without it: 600 products
    /// (past the memo's trial) that pass and break the baseline pack and a rule that errors.
    #[test]
    fn the_memo_changes_no_verdict() {
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        files.insert(
            "mesh.toml".into(),
            "[mesh]\nname = \"t\"\npolicy_packs = [\"baseline\"]\n[defaults.topic]\npartitions = 3\nreplication_factor = 3\n".into(),
        );
        files.insert(
            "policies/extra.toml".into(),
            r#"[[rule]]
id = "extra.int-of-retention"
description = "an expression that fails on some products"
applies_to = "product"
when = 'has(product.topic.config) && product.schema == null || size(product.tags) > 2'
check = 'int(product.topic.config["segment.ms"]) > 0 && product.owners.all(o, o != "@x")'
message = "{product.id}"
"#
            .into(),
        );
        files.insert(
            "domains/sales/domain.toml".into(),
            "name = \"sales\"\ndescription = \"Sales of things\"\nowners = [\"@a/sales\"]\n[principals]\nw = \"User:sales-w\"\n".into(),
        );
        for i in 0..600 {
            let quality = ["raw", "curated", "authoritative"][i % 3];
            let sla = ["tier-1", "tier-2", "tier-3"][i % 7 % 3];
            let vis = ["public", "restricted", "private"][i % 5 % 3];
            let tags = ["[]", "[\"pii\"]", "[\"a\", \"b\", \"c\"]"][i % 11 % 3];
            let owners = ["", "owners = [\"@x\"]\n", "owners = [\"not an owner\"]\n"][i % 13 % 3];
            let config = [
                "\"retention.ms\" = \"7d\"\n\"segment.ms\" = \"1h\"",
                "\"cleanup.policy\" = \"compact\"",
                "\"retention.ms\" = \"1m\"\n\"max.message.bytes\" = \"16MiB\"",
            ][i % 17 % 3];
            let schema = if i % 4 == 0 {
                "[schema]\nvalue = \"schemas/a.avsc\"\ncompatibility = \"NONE\"\n"
            } else {
                ""
            };
            files.insert(
                format!("domains/sales/products/p{i}.toml"),
                format!(
                    "description = \"Product number {i} of sales\"\nquality = \"{quality}\"\nsla = \"{sla}\"\ntags = {tags}\n{owners}producers = [\"w\"]\n[topic]\npartitions = {}\n[topic.config]\n{config}\n{schema}[access]\nvisibility = \"{vis}\"\n",
                    [3, 30, 12][i % 19 % 3]
                )
                .into(),
            );
        }
        files.insert("domains/sales/schemas/a.avsc".into(), "\"string\"".into());
        let (mesh, mut ds) = mesh_model::load(&files, None);
        let policies = load(&mesh, &mut ds);
        assert!(!ds.has_errors(), "{:?}", ds.iter().collect::<Vec<_>>());
        let root = root_context(
            &view::to_cel(&Value::String(String::new())),
            &view::to_cel(&view::environment(&mesh)),
        );
        let mut memo = Memo::new(&policies.rules, "product");
        let (mut with, mut without) = (0, 0);
        let mut codes = std::collections::BTreeSet::new();
        for p in &mesh.products {
            let subject = Subject {
                kind: "product",
                domain: &p.domain,
                product_id: Some(&p.id),
                json: view::product(p),
                file: &p.file,
                span: 0..0,
            };
            let mut used = vec![false; policies.exemptions.len()];
            let (mut a, mut b) = (Diagnostics::new(), Diagnostics::new());
            evaluate_subject(
                &mesh,
                &policies,
                &root,
                &subject,
                Some(&mut memo),
                &mut used,
                &mut a,
            );
            evaluate_subject(&mesh, &policies, &root, &subject, None, &mut used, &mut b);
            let (a, b) = (a.into_sorted(), b.into_sorted());
            with += a.len();
            without += b.len();
            codes.extend(a.iter().map(|d| d.code.clone()));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{}", p.id);
        }
        assert_eq!(with, without);
        // The mesh does break rules, and the extra rule does fail on some products.
        assert!(with > 600, "{with}");
        for code in [
            "rule-error",
            "extra.int-of-retention",
            "topic.partition-budget",
            "privacy.pii-not-public",
        ] {
            assert!(codes.contains(code), "{code} not in {codes:?}");
        }
    }
}
