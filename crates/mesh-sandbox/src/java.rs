//! Finding the `java` to run and checking that it is new enough.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::SandboxError;

/// The `java` to run the servers with: `$MESH_SANDBOX_JAVA` (a java executable, for running the
/// sandbox on another JDK than Maven's), else `$JAVA_HOME/bin/java` when JAVA_HOME is set (what
/// Maven and most JVM tools honour too), else `java` from PATH.
pub(crate) fn default_java(lookup: &dyn Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(java) = lookup("MESH_SANDBOX_JAVA").filter(|j| !j.is_empty()) {
        return PathBuf::from(java);
    }
    match lookup("JAVA_HOME") {
        Some(home) if !home.is_empty() => Path::new(&home).join("bin").join("java"),
        _ => PathBuf::from("java"),
    }
}

/// Runs `java -version` and returns the major version, or an error that names what to install.
pub(crate) fn check_java(java: &Path, required: u32, why: &str) -> Result<u32, SandboxError> {
    let command = java.display().to_string();
    let output = Command::new(java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| SandboxError::JavaMissing {
            command: command.clone(),
            required,
            source,
        })?;
    // `java -version` writes to stderr; some wrappers use stdout. Read both.
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let found = parse_java_major(&text).ok_or_else(|| SandboxError::JavaVersionUnknown {
        command: command.clone(),
        output: text.trim().to_owned(),
    })?;
    if found < required {
        return Err(SandboxError::JavaTooOld {
            command,
            found,
            required,
            why: why.to_owned(),
        });
    }
    Ok(found)
}

/// The major version from `java -version` output: `openjdk version "17.0.15"` → 17,
/// `java version "1.8.0_392"` → 8, `openjdk version "21" 2023-09-19` → 21, `"22-ea"` → 22.
/// Lines before the version line (e.g. "Picked up JAVA_TOOL_OPTIONS") are skipped.
pub fn parse_java_major(output: &str) -> Option<u32> {
    let line = output.lines().find(|l| l.contains("version \""))?;
    let start = line.find("version \"")? + "version \"".len();
    let rest = &line[start..];
    let quoted = &rest[..rest.find('"')?];
    let mut parts = quoted.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        // The pre-9 scheme: 1.<major>.0_<update>.
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_version_schemes_in_the_wild() {
        let cases = [
            (
                "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)",
                Some(17),
            ),
            (
                "java version \"1.8.0_392\"\nJava(TM) SE Runtime Environment",
                Some(8),
            ),
            ("openjdk version \"21\" 2023-09-19", Some(21)),
            ("openjdk version \"25.0.2\" 2026-01-20 LTS", Some(25)),
            ("openjdk version \"22-ea\" 2024-03-19", Some(22)),
            ("openjdk version \"11.0.2+9\"", Some(11)),
            (
                "Picked up JAVA_TOOL_OPTIONS: -Dfile.encoding=UTF8\nopenjdk version \"17.0.2\" 2022-01-18",
                Some(17),
            ),
            ("bash: java: command not found", None),
            ("openjdk version \"\"", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_java_major(text), want, "{text}");
        }
    }

    #[test]
    fn java_home_wins_over_path() {
        let with = |k: &str| (k == "JAVA_HOME").then(|| OsString::from("/opt/jdk"));
        assert_eq!(default_java(&with), PathBuf::from("/opt/jdk/bin/java"));
        assert_eq!(default_java(&|_| None), PathBuf::from("java"));
        let both = |k: &str| match k {
            "JAVA_HOME" => Some(OsString::from("/opt/jdk")),
            "MESH_SANDBOX_JAVA" => Some(OsString::from("/opt/jdk21/bin/java")),
            _ => None,
        };
        assert_eq!(default_java(&both), PathBuf::from("/opt/jdk21/bin/java"));
        assert_eq!(
            default_java(&|_| Some(OsString::new())),
            PathBuf::from("java")
        );
    }
}
