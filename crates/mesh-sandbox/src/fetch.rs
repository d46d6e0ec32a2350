//! Downloads, cached and shared by every sandbox: Kafka's runtime jars and the registry's
//! distribution, both from Maven Central through `mvn` (so a user's Maven mirror and proxy
//! settings apply), each into its own versioned folder under the cache.
//!
//! A folder counts as present only once it holds a `.complete` marker, written last, and it is
//! built in a staging folder and renamed into place, so an interrupted download is never
//! mistaken for a good one. A lock on the cache keeps parallel `up`s from fetching twice.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{
    DEPENDENCY_PLUGIN_VERSION, KAFKA_VERSION, KafkaSeries, LOG4J2_VERSION, Layout, RegistryDist,
    SLF4J_BINDING, SandboxConfig,
};
use crate::kafka::render_tools_log4j;
use crate::process::FileLock;
use crate::{SandboxError, log_tail};

const COMPLETE: &str = ".complete";

/// The pom whose runtime dependencies are the broker and Kafka's admin tools (TopicCommand and
/// friends moved to `kafka-tools` in 3.x) for `version`, plus a logging backend, which Kafka's
/// pom lacks: reload4j for 3.9 (what its distribution ships), log4j2's core for 4.x (its SLF4J
/// binding is added after resolving, to match the slf4j-api major version Maven picked).
pub(crate) fn render_pom(version: &str, series: KafkaSeries) -> String {
    let logging = match series {
        KafkaSeries::V3 => {
            let (group, rest) = SLF4J_BINDING.split_once(':').unwrap_or(("", ""));
            let (artifact, v) = rest.split_once(':').unwrap_or(("", ""));
            dependency(group, artifact, v)
        }
        KafkaSeries::V4 => dependency("org.apache.logging.log4j", "log4j-core", LOG4J2_VERSION),
    };
    let kafka = dependency("org.apache.kafka", "kafka_2.13", version);
    let tools = dependency("org.apache.kafka", "kafka-tools", version);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by `mesh dev up`: resolves the jars of the local sandbox's Kafka. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.sandbox</groupId>
  <artifactId>sandbox-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    {kafka}
    {tools}
    {logging}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"#
    )
}

fn dependency(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>"
    )
}

/// The log4j2 SLF4J binding for the slf4j-api jar among `jars` (file names): SLF4J 1.x finds
/// `log4j-slf4j-impl`, 2.x `log4j-slf4j2-impl`; each ignores the other's. Kafka 4.4.0's pom
/// resolves slf4j-api 1.7.36.
pub(crate) fn log4j2_binding<'a>(jars: impl IntoIterator<Item = &'a str>) -> &'static str {
    let api_major = jars
        .into_iter()
        .find_map(|name| name.strip_prefix("slf4j-api-"))
        .and_then(|rest| rest.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    match api_major {
        Some(major) if major >= 2 => "log4j-slf4j2-impl",
        _ => "log4j-slf4j-impl",
    }
}

/// Makes sure the jars of `cfg.kafka_version` are in the cache, fetching them on first use.
pub(crate) fn ensure_kafka(
    cfg: &SandboxConfig,
    layout: &Layout,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let version = cfg.kafka_version.clone();
    let series = cfg.kafka_series()?;
    let what = format!("Apache Kafka {version}");
    ensure(cfg, &layout.kafka_home, &what, progress, |staging, log| {
        let pom = staging.join("pom.xml");
        fs::write(&pom, render_pom(&version, series))
            .map_err(|e| SandboxError::io("write", &pom, e))?;
        let libs = staging.join("libs");
        copy_runtime_dependencies(cfg, &what, staging, log, &libs)?;
        let tools_log4j = match series {
            KafkaSeries::V3 => "tools-log4j.properties",
            KafkaSeries::V4 => {
                let names: Vec<String> = fs::read_dir(&libs)
                    .map_err(|e| SandboxError::io("list", &libs, e))?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                let binding = log4j2_binding(names.iter().map(String::as_str));
                // Its own log: run_maven truncates, and the first run's output is worth keeping.
                let second = sibling(log, "", ".binding");
                run_maven(
                    cfg,
                    &what,
                    staging,
                    &second,
                    &[
                        format!(
                            "org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy"
                        ),
                        format!("-Dartifact=org.apache.logging.log4j:{binding}:{LOG4J2_VERSION}"),
                        format!("-DoutputDirectory={}", libs.display()),
                    ],
                )?;
                "tools-log4j2.properties"
            }
        };
        let log4j = staging.join(tools_log4j);
        fs::write(&log4j, render_tools_log4j(series))
            .map_err(|e| SandboxError::io("write", &log4j, e))
    })
}

/// Makes sure the registry distribution is unpacked in the cache, fetching it on first use.
pub(crate) fn ensure_registry(
    cfg: &SandboxConfig,
    layout: &Layout,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let dist = cfg.registry;
    let what = format!("Apicurio Registry {}", dist.version());
    ensure(
        cfg,
        &layout.registry_home,
        &what,
        progress,
        |staging, log| {
            // Any pom will do for `dependency:copy`; it only pins the plugin's version.
            let pom = staging.join("pom.xml");
            fs::write(&pom, render_pom(KAFKA_VERSION, KafkaSeries::V4))
                .map_err(|e| SandboxError::io("write", &pom, e))?;
            let download = staging.join("download");
            run_maven(
                cfg,
                &what,
                staging,
                log,
                &[
                    format!(
                        "org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy"
                    ),
                    format!("-Dartifact={}", dist.artifact()),
                    format!("-DoutputDirectory={}", download.display()),
                ],
            )?;
            let tarball = download.join(format!(
                "apicurio-registry-app-{}-all.tar.gz",
                dist.version()
            ));
            unpack(&tarball, staging)?;
            // The unpacked tree is all that is needed; the tarball would double the disk use.
            fs::remove_dir_all(&download).map_err(|e| SandboxError::io("remove", &download, e))?;
            let jar = staging.join(dist.launch_jar());
            if !jar.is_file() {
                return Err(SandboxError::io(
                    "find",
                    jar,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ));
            }
            Ok(())
        },
    )
}

/// Whether everything `up` would fetch is already in the cache.
/// Makes sure the runtime jars of `artifacts` (`group:artifact:version` each, with their
/// dependencies) are in the cache folder `name`, fetching them with Maven on first use, and
/// returns the folder holding the jars. For the applications tests run against a sandbox (a
/// Kafka Streams application, a Connect worker) with the same caching rules as Kafka's jars.
pub fn fetch_jars(
    cfg: &SandboxConfig,
    name: &str,
    artifacts: &[&str],
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, SandboxError> {
    let home = cfg.cache_dir.join(name);
    let mut deps = String::new();
    for a in artifacts {
        let mut parts = a.split(':');
        let (Some(group), Some(artifact), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SandboxError::FetchFailed {
                what: (*a).to_owned(),
                status: "not a group:artifact:version coordinate".to_owned(),
                tail: String::new(),
                log: home.clone(),
            });
        };
        deps.push_str(&dependency(group, artifact, version));
        deps.push('\n');
    }
    let what = artifacts.join(", ");
    ensure(cfg, &home, &what, progress, |staging, log| {
        let pom = staging.join("pom.xml");
        let text = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by mesh-sandbox: resolves {what}. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mesh.sandbox</groupId>
  <artifactId>jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId>
    <version>{DEPENDENCY_PLUGIN_VERSION}</version>
  </plugin></plugins></build>
</project>
"#
        );
        fs::write(&pom, text).map_err(|e| SandboxError::io("write", &pom, e))?;
        copy_runtime_dependencies(cfg, &what, staging, log, &staging.join("libs"))
    })?;
    Ok(home.join("libs"))
}

pub(crate) fn is_cached(layout: &Layout) -> bool {
    layout.kafka_home.join(COMPLETE).is_file() && layout.registry_home.join(COMPLETE).is_file()
}

fn ensure(
    cfg: &SandboxConfig,
    home: &Path,
    what: &str,
    progress: &mut dyn FnMut(&str),
    fill: impl FnOnce(&Path, &Path) -> Result<(), SandboxError>,
) -> Result<(), SandboxError> {
    if home.join(COMPLETE).is_file() {
        return Ok(());
    }
    fs::create_dir_all(&cfg.cache_dir)
        .map_err(|e| SandboxError::io("create", &cfg.cache_dir, e))?;
    let _lock = FileLock::acquire(&cfg.cache_dir.join(".lock"))?;
    // Someone else may have fetched it while we waited for the lock.
    if home.join(COMPLETE).is_file() {
        return Ok(());
    }
    progress(&format!(
        "fetching {what} with Maven into {} (first use only)",
        cfg.cache_dir.display()
    ));
    let staging = staging_dir(home);
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| SandboxError::io("create", &staging, e))?;
    // The Maven log lives beside the folder, not in it, so it survives a failed fetch.
    let log = sibling(home, "", ".fetch.log");
    let result = fill(&staging, &log).and_then(|()| {
        let marker = staging.join(COMPLETE);
        fs::write(&marker, format!("{what}\n")).map_err(|e| SandboxError::io("write", &marker, e))
    });
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    // A leftover incomplete folder (from before the .complete marker existed, or tampered
    // with) would block the rename.
    if home.exists() {
        fs::remove_dir_all(home).map_err(|e| SandboxError::io("remove", home, e))?;
    }
    fs::rename(&staging, home).map_err(|e| SandboxError::io("move into place", home, e))?;
    Ok(())
}

fn staging_dir(home: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    sibling(
        home,
        ".",
        &format!(".partial-{}-{nanos}", std::process::id()),
    )
}

/// `home`'s name with a prefix and suffix, in the same folder (`with_extension` would eat the
/// `.2` of `kafka-3.9.2`).
fn sibling(home: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = home
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    home.with_file_name(format!("{prefix}{name}{suffix}"))
}

/// Copies the runtime dependencies of the pom in `workdir` (with their own) into `libs`.
fn copy_runtime_dependencies(
    cfg: &SandboxConfig,
    what: &str,
    workdir: &Path,
    log: &Path,
    libs: &Path,
) -> Result<(), SandboxError> {
    run_maven(
        cfg,
        what,
        workdir,
        log,
        &[
            "dependency:copy-dependencies".to_owned(),
            "-DincludeScope=runtime".to_owned(),
            format!("-DoutputDirectory={}", libs.display()),
        ],
    )
}

fn run_maven(
    cfg: &SandboxConfig,
    what: &str,
    workdir: &Path,
    log: &Path,
    goal: &[String],
) -> Result<(), SandboxError> {
    let out = fs::File::create(log).map_err(|e| SandboxError::io("create", log, e))?;
    let err = out
        .try_clone()
        .map_err(|e| SandboxError::io("open", log, e))?;
    let status = Command::new(&cfg.mvn)
        // Batch mode and no transfer progress: a readable log, no ANSI codes.
        .args(["-B", "-ntp", "-f"])
        .arg(workdir.join("pom.xml"))
        .args(goal)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .status()
        .map_err(|source| SandboxError::MavenMissing {
            command: cfg.mvn.display().to_string(),
            what: what.to_owned(),
            cache: cfg.cache_dir.clone(),
            source,
        })?;
    if !status.success() {
        return Err(SandboxError::FetchFailed {
            what: what.to_owned(),
            status: status.to_string(),
            tail: log_tail(log, 20),
            log: log.to_path_buf(),
        });
    }
    Ok(())
}

/// Unpacks a `.tar.gz` with the system's `tar` (present wherever Java and Maven are).
fn unpack(tarball: &Path, into: &Path) -> Result<(), SandboxError> {
    let output = Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| SandboxError::Spawn {
            command: "tar".to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(SandboxError::CommandFailed {
            what: format!("unpacking {}", tarball.display()),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// The jar that starts the registry.
pub(crate) fn registry_jar(layout: &Layout, dist: RegistryDist) -> PathBuf {
    layout.registry_home.join(dist.launch_jar())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coordinate_that_is_not_group_artifact_version_is_named_and_nothing_is_fetched() {
        let cache = std::env::temp_dir().join(format!("mesh-fetch-test-{}", std::process::id()));
        let cfg = SandboxConfig::new(cache.join("sb"), &cache);
        for bad in ["org.apache.kafka:kafka-streams", "a:b:c:d"] {
            let e = fetch_jars(&cfg, "jars", &[bad], &mut |_| {}).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains(bad) && text.contains("not a group:artifact:version coordinate"),
                "{text}"
            );
        }
        assert!(!cache.exists(), "nothing was written");
    }

    #[test]
    fn the_pom_pins_versions_and_has_a_logging_backend() {
        let pom = render_pom("3.9.2", KafkaSeries::V3);
        assert!(pom.contains("<packaging>pom</packaging>"));
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId><version>3.9.2</version>"));
        assert!(pom.contains("<artifactId>kafka-tools</artifactId><version>3.9.2</version>"));
        assert!(pom.contains(
            "<groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version>"
        ));
        assert!(pom.contains(
            "<artifactId>maven-dependency-plugin</artifactId>\n        <version>3.8.1</version>"
        ));
        let pom = render_pom("4.4.0", KafkaSeries::V4);
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId><version>4.4.0</version>"));
        assert!(pom.contains(
            "<groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.25.5</version>"
        ));
        assert!(!pom.contains("reload4j"));
    }

    #[test]
    fn the_log4j2_binding_follows_the_slf4j_major() {
        assert_eq!(
            log4j2_binding(["kafka-clients-4.4.0.jar", "slf4j-api-1.7.36.jar"]),
            "log4j-slf4j-impl"
        );
        assert_eq!(
            log4j2_binding(["slf4j-api-2.0.17.jar"]),
            "log4j-slf4j2-impl"
        );
        assert_eq!(log4j2_binding(["other.jar"]), "log4j-slf4j-impl");
    }

    #[test]
    fn a_failed_fill_leaves_nothing_that_looks_complete() {
        let cache = tempfile::tempdir().unwrap();
        let cfg = SandboxConfig::new(cache.path().join("sb"), cache.path());
        let home = cache.path().join("thing-1");
        let err = ensure(&cfg, &home, "thing", &mut |_| {}, |staging, _| {
            fs::write(staging.join("half"), "x").unwrap();
            Err(SandboxError::NoHome)
        })
        .unwrap_err();
        assert!(matches!(err, SandboxError::NoHome));
        assert!(!home.exists());
        let mut calls = 0;
        ensure(&cfg, &home, "thing", &mut |_| calls += 1, |staging, _| {
            fs::write(staging.join("whole"), "x").map_err(|e| SandboxError::io("w", staging, e))
        })
        .unwrap();
        assert_eq!(calls, 1);
        assert!(home.join("whole").is_file() && home.join(COMPLETE).is_file());
        // Second time: cached, no progress, fill not called.
        ensure(
            &cfg,
            &home,
            "thing",
            &mut |_| calls += 1,
            |_, _| unreachable!(),
        )
        .unwrap();
        assert_eq!(calls, 1);
        let leftovers: Vec<_> = fs::read_dir(cache.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_missing_mvn_says_what_to_install() {
        let cache = tempfile::tempdir().unwrap();
        let mut cfg = SandboxConfig::new(cache.path().join("sb"), cache.path());
        cfg.mvn = PathBuf::from("/nonexistent/mvn");
        let layout = cfg.layout();
        let err = ensure_kafka(&cfg, &layout, &mut |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Maven"), "{text}");
        assert!(text.contains("install maven"), "{text}");
    }
}
