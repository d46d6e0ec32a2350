//! The `mesh` binary: argument parsing, reading the repo (folder or git revision), and output.
//! Only this crate knows about terminals, colours and output formats.

mod catalog;
mod dev;
mod drift;
mod export;
mod import;
mod lifecycle;
mod live;
mod lock;
mod plan_render;
mod progress;
mod render;
#[cfg(test)]
mod render_snapshots;
mod saved;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};
use mesh_model::doc::Date;

/// mimalloc instead of the system allocator: see docs/benchmarks.md ("Session 7").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's option numbers (its `mi_option_t`; `libmimalloc-sys` names only the older
/// ones). The test `allocator_options_are_the_named_ones` checks them against the environment
/// variables mimalloc reads for them.
const MI_OPTION_ARENA_EAGER_COMMIT: i32 = 4;
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// Freed memory goes back to the system at once, and arena memory is committed when it is
/// used: a plan of 10,000 products peaks about 20 MiB lower, for about 6 % more CPU
/// (docs/benchmarks.md, "Session 9"). These are defaults: `MIMALLOC_*` variables still win.
/// mimalloc reserves its first arena at the first allocation, before `main`, so this runs from
/// the executable's initialisers ([`TUNE_ALLOCATOR`]), before anything allocates.
extern "C" fn tune_allocator() {
    // SAFETY: mi_option_set_default only stores a value (and only while the option has not
    // been read yet); it allocates nothing and may be called at any time.
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set_default(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

/// Runs [`tune_allocator`] with the executable's initialisers (ELF `.init_array`), before the
/// Rust runtime's first allocation.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[derive(Parser)]
#[command(
    name = "mesh",
    version,
    about = "GitOps control plane for a Kafka data mesh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct RepoArgs {
    /// The mesh repo (the folder holding mesh.toml)
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Read the repo at this git revision, straight from the object database
    #[arg(long)]
    rev: Option<String>,
    /// Apply this environment's overrides from mesh.toml
    #[arg(long)]
    env: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check the mesh: files, references, access rules, schemas, policies, lineage
    Validate {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
        format: ValidateFormat,
        /// Also check schema changes against this git revision (a pull request's base), offline
        #[arg(long)]
        base: Option<String>,
    },
    /// Show what apply would change on the environment's cluster
    Plan {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
        format: PlanFormat,
        /// Exit 2 when the plan has changes (0: none, 1: error)
        #[arg(long)]
        detailed_exitcode: bool,
        /// A pull request's base revision: also list the touched domains, products and owners
        #[arg(long)]
        base: Option<String>,
        /// Also save the plan to this file, for `mesh apply FILE`
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Plan, then apply the changes to the environment's cluster (or apply a saved plan)
    Apply {
        /// A plan saved by `mesh plan --out`: applied as it is, if the cluster did not change
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        repo: RepoArgs,
        /// Apply without asking for confirmation
        #[arg(long)]
        auto_approve: bool,
    },
    /// Force-release the apply lock of the environment's cluster, saying who held it
    Unlock {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Print the lineage graph
    Graph {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Everything downstream of a product, with owners
    Impact {
        /// Product id, <domain>.<name>
        product: String,
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long, value_enum, default_value_t = ImpactFormat::Human)]
        format: ImpactFormat,
    },
    /// Print a CODEOWNERS file routing each domain folder to its owners
    Codeowners {
        #[command(flatten)]
        repo: RepoArgs,
    },
    /// Adopt an existing cluster: write a mesh repo declaring its topics, ACLs and subjects
    Import {
        /// The environment (in --repo's mesh.toml) whose cluster is read; read-only
        #[arg(long)]
        env: String,
        /// Where to write the new repo (must not exist, or be empty)
        #[arg(long)]
        out: PathBuf,
        /// The repo whose mesh.toml holds the environment
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
    /// What changed on managed resources outside mesh since the last apply (exit 2 when any)
    Drift {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long, value_enum, default_value_t = drift::DriftFormat::Human)]
        format: drift::DriftFormat,
    },
    /// Write the static data-product catalog site (search, product and domain pages, lineage)
    Catalog {
        #[command(flatten)]
        repo: RepoArgs,
        /// The folder to write the site to (created, or replaced if it holds a catalog)
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the mesh for other tools: ODCS data contracts, Backstage entities, OpenLineage lineage
    Export {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long, value_enum)]
        format: export::ExportFormat,
        /// The folder to write: new, empty, or one an earlier export wrote (replaced whole)
        #[arg(long)]
        out: PathBuf,
    },
    /// A local sandbox: real Apache Kafka and a Confluent-compatible Schema Registry
    Dev {
        #[command(subcommand)]
        action: dev::DevAction,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ValidateFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Human,
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ImpactFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    tune_allocator();
    let cli = Cli::parse();
    let result = run(cli);
    live::remove_temporary();
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// Today's date (UTC), or `MESH_TODAY` (YYYY-MM-DD) to check a mesh as of another day.
fn today() -> Result<Date, String> {
    if let Ok(s) = std::env::var("MESH_TODAY") {
        return Date::parse(&s)
            .ok_or_else(|| format!("MESH_TODAY={s} is not a date (help: write YYYY-MM-DD)"));
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    Ok(Date::from_unix_days((secs / 86_400) as i64))
}

fn check(repo: &RepoArgs) -> Result<mesh_check::Report, String> {
    check_at(repo).map(|(report, _, _)| report)
}

/// Checks the repo and says which commit was read (with `--rev`).
fn check_at(repo: &RepoArgs) -> Result<(mesh_check::Report, Option<String>, String), String> {
    check_reading(repo, false).map(|c| (c.report, c.commit, c.content))
}

/// A checked repo: the report, the commit read (with `--rev`), the hash of the files read, and
/// the plan's reads when they were started ([`check_reading`]).
struct Checked {
    report: mesh_check::Report,
    commit: Option<String>,
    content: String,
    early: Option<live::Early>,
}

/// [`check_at`], and with `read` the reads of a plan ([`live::early`]), started once the model
/// has loaded without errors and done while its schemas and policies are checked.
fn check_reading(repo: &RepoArgs, read: bool) -> Result<Checked, String> {
    live::set_repo_source(&repo.repo, repo.rev.as_deref());
    let files = match &repo.rev {
        Some(rev) => mesh_repo::from_git(&repo.repo, rev),
        None => mesh_repo::from_dir(&repo.repo),
    }
    .map_err(|e| e.to_string())?;
    let commit = match &files.origin {
        mesh_repo::Origin::Git { commit, .. } => Some(commit.clone()),
        mesh_repo::Origin::WorkTree { .. } => None,
    };
    let content =
        mesh_plan::saved::content_hash(files.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let today = today()?;
    let (mesh, ds) = mesh_model::load(&files.files, repo.env.as_deref());
    // The model holds the texts it needs: the bytes read are not kept through the checks and
    // the reads.
    drop(files);
    let early = if read && !ds.has_errors() {
        live::early(&mesh, commit.as_deref())
    } else {
        None
    };
    Ok(Checked {
        report: mesh_check::check_loaded(mesh, ds, today),
        commit,
        content,
        early,
    })
}

/// `--base REV`: what the change touches against the base revision (read from the same repo).
fn with_base(
    report: &mut mesh_check::Report,
    repo: &RepoArgs,
    base: Option<&str>,
) -> Result<(), String> {
    let Some(base) = base else { return Ok(()) };
    let files = mesh_repo::from_git(&repo.repo, base).map_err(|e| format!("--base: {e}"))?;
    let (base_mesh, _) = mesh_model::load(&files.files, repo.env.as_deref());
    let history = |file: &str| schema_history(&repo.repo, base, file);
    mesh_check::against_base(report, &base_mesh, base, &history);
    Ok(())
}

/// The committed versions of a schema file reachable from `base`, for transitive levels.
fn schema_history(dir: &std::path::Path, base: &str, file: &str) -> mesh_check::SchemaHistory {
    match mesh_repo::file_history(dir, base, file) {
        Ok(h) => mesh_check::SchemaHistory {
            incomplete: h.shallow.then(|| {
                format!(
                    "this clone is shallow: only {} version(s) are here",
                    h.versions.len()
                )
            }),
            versions: h
                .versions
                .into_iter()
                .map(|v| {
                    let day = mesh_model::doc::Date::from_unix_days(v.time.div_euclid(86_400));
                    (
                        format!("the version of commit {} ({day})", v.commit),
                        String::from_utf8_lossy(&v.text).into_owned(),
                    )
                })
                .collect(),
        },
        Err(e) => mesh_check::SchemaHistory {
            versions: Vec::new(),
            incomplete: Some(format!("its history could not be read ({e})")),
        },
    }
}

fn stdout_colour() -> ColorChoice {
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    }
}

fn stderr_colour() -> ColorChoice {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    }
}

/// For commands that need a valid mesh: prints the diagnostics to stderr when there are errors
/// (warnings are `validate`'s business) and says whether there were.
fn report_problems(report: &mesh_check::Report) -> Result<bool, String> {
    report_problems_of(report, |_| true).map(|errors| errors > 0)
}

/// Prints these diagnostics of `report` to stderr.
fn report_diagnostics(
    report: &mesh_check::Report,
    diagnostics: &[mesh_diagnostics::Diagnostic],
) -> Result<(), String> {
    let shown: Vec<&mesh_diagnostics::Diagnostic> = diagnostics.iter().collect();
    let mut err = StandardStream::stderr(stderr_colour());
    render::human_of(report, &shown, &mut err).map_err(|e| e.to_string())
}

/// [`report_problems`] for the diagnostics `keep` accepts: when they include an error, prints
/// them to stderr. Returns how many errors they hold.
fn report_problems_of(
    report: &mesh_check::Report,
    keep: impl Fn(&mesh_diagnostics::Diagnostic) -> bool,
) -> Result<usize, String> {
    let kept: Vec<&mesh_diagnostics::Diagnostic> =
        report.diagnostics.iter().filter(|d| keep(d)).collect();
    let errors = kept.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let mut err = StandardStream::stderr(stderr_colour());
        render::human_of(report, &kept, &mut err).map_err(|e| e.to_string())?;
    }
    Ok(errors)
}

fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(e.to_string())
            }
        })
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Validate { repo, format, base } => {
            let mut report = check(&repo)?;
            with_base(&mut report, &repo, base.as_deref())?;
            match format {
                ValidateFormat::Human => {
                    let mut out = StandardStream::stdout(stdout_colour());
                    render::human(&report, &mut out).map_err(|e| e.to_string())?;
                    if let Some(set) = &report.changes {
                        print(&render::changes_human(set))?;
                    }
                    print(&format!("{}\n", render::summary(&report)))?;
                }
                ValidateFormat::Json => print(&format!("{:#}\n", render::json(&report)))?,
            }
            Ok(if report.has_errors() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Graph { repo, format } => {
            let report = check(&repo)?;
            if report_problems(&report)? {
                return Err("the mesh has errors; fix them to draw its lineage (see above)".into());
            }
            let text = match format {
                GraphFormat::Dot => report.lineage.to_dot(),
                GraphFormat::Mermaid => report.lineage.to_mermaid(),
                GraphFormat::Json => format!("{:#}\n", report.lineage.to_json()),
            };
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Impact {
            product,
            repo,
            format,
        } => {
            let report = check(&repo)?;
            if report_problems(&report)? {
                return Err("the mesh has errors; fix them to compute impact (see above)".into());
            }
            let Some(impact) = report.lineage.impact(&product) else {
                let ids = report.mesh.products.iter().map(|p| p.id.as_str());
                let hint = match mesh_model::doc::did_you_mean(&product, ids) {
                    Some(s) => format!("did you mean {s}?"),
                    None => "name a product as <domain>.<name>; `mesh graph` lists them".into(),
                };
                return Err(format!(
                    "no product `{product}` in this mesh (help: {hint})"
                ));
            };
            match format {
                ImpactFormat::Json => {
                    let mut doc = serde_json::to_value(&impact).map_err(|e| e.to_string())?;
                    doc["version"] = 1.into();
                    doc["deprecation"] = lifecycle::impact_deprecation(&report.mesh, &product);
                    print(&format!("{doc:#}\n"))?
                }
                ImpactFormat::Human => print(&render_impact(&report, &impact))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Codeowners { repo } => {
            let report = check(&repo)?;
            if report_problems(&report)? {
                return Err(
                    "the mesh has errors; fix them to generate CODEOWNERS (see above)".into(),
                );
            }
            print(&mesh_graph::codeowners(&report.mesh))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            repo,
            format,
            detailed_exitcode,
            base,
            out,
        } => {
            // The cluster is read while the mesh is checked (nothing is written before both
            // are done, and an invalid mesh is reported as without the reads).
            let Checked {
                mut report,
                commit,
                content,
                early,
            } = check_reading(&repo, true)?;
            with_base(&mut report, &repo, base.as_deref())?;
            let (plan, ctx) = live::plan_early(&report, commit.as_deref(), early)?;
            let changes = report.changes.as_ref();
            match format {
                PlanFormat::Human => {
                    if let Some(set) = changes {
                        print(&render::changes_human(set))?;
                    }
                    let mut out = StandardStream::stdout(stdout_colour());
                    plan_render::human(&plan, &ctx.target, &mut out).map_err(|e| e.to_string())?;
                }
                PlanFormat::Json => {
                    let mut doc = plan_render::json(&plan, &ctx.env);
                    doc["changes"] = serde_json::to_value(changes).map_err(|e| e.to_string())?;
                    print(&format!("{doc:#}\n"))?
                }
                PlanFormat::Markdown => print(&plan_render::markdown(
                    &plan,
                    &report.mesh,
                    &ctx.target,
                    changes,
                ))?,
            }
            if let Some(out) = out {
                if !plan.errors.is_empty() {
                    return Err(format!(
                        "the plan has errors, so it was not saved to {}",
                        out.display()
                    ));
                }
                saved::write(&out, &plan, &ctx, commit.as_deref(), content)?;
            }
            Ok(if !plan.errors.is_empty() {
                ExitCode::from(1)
            } else if detailed_exitcode && !plan.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply {
            plan_file: Some(file),
            repo,
            auto_approve,
        } => saved::apply(&file, &repo, auto_approve),
        Command::Apply {
            plan_file: None,
            repo,
            auto_approve,
        } => {
            let (report, commit, _) = check_at(&repo)?;
            let (plan, ctx) = live::plan(&report, commit.as_deref(), Some("mesh apply"))?;
            let mut out = StandardStream::stdout(stdout_colour());
            plan_render::human(&plan, &ctx.target, &mut out).map_err(|e| e.to_string())?;
            if !plan.errors.is_empty() {
                return Ok(ExitCode::from(1));
            }
            if plan.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            if !auto_approve && !live::confirm(&ctx.target, plan.actions.len())? {
                print("Apply cancelled; nothing was changed.\n")?;
                return Ok(ExitCode::from(1));
            }
            let result = live::apply(&plan, &ctx, &report.mesh.settings.catalog_topic);
            plan_render::report(&plan, &result, &mut out).map_err(|e| e.to_string())?;
            Ok(if result.failed() == 0 && !result.interrupted {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Unlock { repo } => {
            let (report, _, _) = check_at(&repo)?;
            let (env, catalog_topic) = live::settings_for_unlock(&report)?;
            print(&lock::unlock(&env, &catalog_topic)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { env, out, repo } => import::run(&repo, &env, &out),
        Command::Drift { repo, format } => drift::run(&check(&repo)?, format),
        Command::Export { repo, format, out } => export::run(&repo, format, &out),
        Command::Catalog { repo, out } => catalog::run(&repo, &out),
        Command::Dev { action } => dev::run(action),
    }
}

fn render_impact(report: &mesh_check::Report, impact: &mesh_graph::Impact) -> String {
    let mut out = String::new();
    let p = report.mesh.product(&impact.product);
    out.push_str(&format!("Impact of a change to {}", impact.product));
    if let Some(p) = p {
        out.push_str(&format!(" (owners: {})", p.owners.join(", ")));
    }
    out.push('\n');
    if let Some(dep) = p.and_then(|p| p.deprecation.as_ref()) {
        out.push_str(&format!(
            "  ! deprecated: sunset {}{}\n",
            dep.sunset.map_or("?".into(), |d| d.to_string()),
            dep.replacement
                .as_ref()
                .map(|r| format!(", replacement {}", r.value))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "Downstream products ({}):\n",
        impact.products.len()
    ));
    for d in &impact.products {
        out.push_str(&format!(
            "  {}{} (owners: {})\n",
            "  ".repeat(d.depth - 1),
            d.id,
            d.owners.join(", ")
        ));
    }
    out.push_str(&format!("Consumers ({}):\n", impact.consumers.len()));
    for c in &impact.consumers {
        out.push_str(&format!("  {} (owners: {})\n", c.id, c.owners.join(", ")));
    }
    out
}

#[cfg(test)]
mod allocator_tests {
    use std::process::Command;

    const NAME: &str = "allocator_tests::allocator_options_are_the_named_ones";

    /// The option numbers are mimalloc's: a child process started with the variables mimalloc
    /// reads for them sees their values under those numbers (so `tune_allocator`'s defaults
    /// leave a value the user set alone), and without them the tuned values are in force.
    #[test]
    fn allocator_options_are_the_named_ones() {
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        if std::env::var_os("MESH_TEST_ALLOCATOR_CHILD").is_some() {
            assert_eq!(get(super::MI_OPTION_PURGE_DELAY), 1234);
            assert_eq!(get(super::MI_OPTION_ARENA_EAGER_COMMIT), 1);
            return;
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let out = Command::new(exe)
            .args(["--exact", NAME, "--test-threads=1"])
            .env("MESH_TEST_ALLOCATOR_CHILD", "1")
            .env("MIMALLOC_PURGE_DELAY", "1234")
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "1")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Without the variables, the tuned defaults are in force from the start.
        for (option, variable) in [
            (super::MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY"),
            (
                super::MI_OPTION_ARENA_EAGER_COMMIT,
                "MIMALLOC_ARENA_EAGER_COMMIT",
            ),
        ] {
            if std::env::var_os(variable).is_none() {
                assert_eq!(get(option), 0, "{variable}");
            }
        }
    }
}
