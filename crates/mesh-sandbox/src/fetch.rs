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
    DEPENDENCY_PLUGIN_VERSION, KAFKA_VERSION, Layout, RegistryDist, SLF4J_BINDING, SandboxConfig,
};
use crate::kafka::render_tools_log4j;
use crate::process::FileLock;
use crate::{SandboxError, log_tail};

const COMPLETE: &str = ".complete";

/// The pom whose runtime dependencies are the broker and Kafka's admin tools (TopicCommand and
/// friends moved to `kafka-tools` in 3.x), plus a logging backend, which Kafka's pom lacks.
pub(crate) fn render_pom() -> String {
    let (slf4j_group, rest) = SLF4J_BINDING.split_once(':').unwrap_or(("", ""));
    let (slf4j_artifact, slf4j_version) = rest.split_once(':').unwrap_or(("", ""));
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
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>{slf4j_group}</groupId><artifactId>{slf4j_artifact}</artifactId><version>{slf4j_version}</version></dependency>
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

/// Makes sure Kafka's jars are in the cache, fetching them on first use.
pub(crate) fn ensure_kafka(
    cfg: &SandboxConfig,
    layout: &Layout,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let what = format!("Apache Kafka {KAFKA_VERSION}");
    ensure(cfg, &layout.kafka_home, &what, progress, |staging, log| {
        let pom = staging.join("pom.xml");
        fs::write(&pom, render_pom()).map_err(|e| SandboxError::io("write", &pom, e))?;
        let libs = staging.join("libs");
        run_maven(
            cfg,
            &what,
            staging,
            log,
            &[
                "dependency:copy-dependencies".to_owned(),
                "-DincludeScope=runtime".to_owned(),
                format!("-DoutputDirectory={}", libs.display()),
            ],
        )?;
        let log4j = staging.join("tools-log4j.properties");
        fs::write(&log4j, render_tools_log4j()).map_err(|e| SandboxError::io("write", &log4j, e))
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
            let pom = staging.join("pom.xml");
            fs::write(&pom, render_pom()).map_err(|e| SandboxError::io("write", &pom, e))?;
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
    fn the_pom_pins_versions_and_has_a_logging_backend() {
        let pom = render_pom();
        assert!(pom.contains("<packaging>pom</packaging>"));
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId><version>3.9.2</version>"));
        assert!(pom.contains("<artifactId>kafka-tools</artifactId><version>3.9.2</version>"));
        assert!(pom.contains(
            "<groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version>"
        ));
        assert!(pom.contains(
            "<artifactId>maven-dependency-plugin</artifactId>\n        <version>3.8.1</version>"
        ));
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
