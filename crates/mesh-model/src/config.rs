//! Kafka topic config values: normalising what a person writes (`"7d"`, `"1GiB"`, `true`, `2`) into
//! the decimal strings Kafka reports, so that desired and live values compare exactly.

/// Why a config value could not be normalised; rendered into a diagnostic by the loader.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigValueError {
    pub message: String,
    pub help: String,
}

/// A value as written in TOML.
pub enum Raw<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Normalises one topic config value for `key`.
///
/// `*.ms` keys take durations (`ms`, `s`, `m`, `h`, `d`), `*.bytes` keys take sizes (`KiB`, `MiB`,
/// `GiB`, `TiB`); both take plain integers and `-1` (Kafka's "unlimited").
pub fn normalise(key: &str, raw: Raw<'_>) -> Result<String, ConfigValueError> {
    let text = match raw {
        Raw::Int(n) if n < -1 && (key.ends_with(".ms") || key.ends_with(".bytes")) => {
            return Err(ConfigValueError {
                message: format!("`{key}` = {n} is negative"),
                help: "write zero or more, or -1 for Kafka's \"no limit\"".into(),
            });
        }
        Raw::Int(n) => return Ok(n.to_string()),
        Raw::Bool(b) => return Ok(b.to_string()),
        Raw::Float(f) => {
            if key.ends_with(".ms") || key.ends_with(".bytes") {
                return Err(ConfigValueError {
                    message: format!("`{key}` must be a whole number, not {f}"),
                    help: "write an integer, or a string with a unit such as \"7d\" or \"1GiB\""
                        .into(),
                });
            }
            return Ok(f.to_string());
        }
        Raw::Str(s) => s.trim(),
    };
    if key.ends_with(".ms") {
        parse_with_units(text, DURATION_UNITS).ok_or_else(|| ConfigValueError {
            message: format!("`{key}` = \"{text}\" is not a duration"),
            help: "write milliseconds, or a number with a unit: ms, s, m, h, d (e.g. \"7d\", \"12h\"); -1 means forever".into(),
        })
    } else if key.ends_with(".bytes") {
        parse_with_units(text, SIZE_UNITS).ok_or_else(|| ConfigValueError {
            message: format!("`{key}` = \"{text}\" is not a size"),
            help: "write bytes, or a number with a unit: KiB, MiB, GiB, TiB (e.g. \"1GiB\"); -1 means unlimited".into(),
        })
    } else {
        Ok(text.to_string())
    }
}

const DURATION_UNITS: &[(&str, i64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];
const SIZE_UNITS: &[(&str, i64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

fn parse_with_units(text: &str, units: &[(&str, i64)]) -> Option<String> {
    if let Ok(n) = text.parse::<i64>() {
        return (n >= -1).then(|| n.to_string());
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok()?;
    // Longest unit names first is not needed: the match is on the whole suffix.
    let factor = units.iter().find(|(u, _)| *u == unit.trim())?.1;
    n.checked_mul(factor).map(|v| v.to_string())
}

/// Topic-level configs of Apache Kafka 3.9/4.x, for "did you mean" on misspelt keys.
pub const KNOWN_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.format.version",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        let cases = [
            ("retention.ms", "7d", "604800000"),
            ("retention.ms", "12h", "43200000"),
            ("segment.ms", "30m", "1800000"),
            ("retention.ms", "45s", "45000"),
            ("retention.ms", "500ms", "500"),
            ("retention.ms", "-1", "-1"),
            ("retention.ms", "86400000", "86400000"),
            ("retention.bytes", "1GiB", "1073741824"),
            ("max.message.bytes", "512KiB", "524288"),
            ("segment.bytes", "64MiB", "67108864"),
            ("cleanup.policy", " compact ", "compact"),
        ];
        for (k, v, want) in cases {
            assert_eq!(normalise(k, Raw::Str(v)).unwrap(), want, "{k} = {v}");
        }
        assert_eq!(normalise("min.insync.replicas", Raw::Int(2)).unwrap(), "2");
        assert_eq!(normalise("preallocate", Raw::Bool(true)).unwrap(), "true");
        assert_eq!(
            normalise("min.cleanable.dirty.ratio", Raw::Float(0.5)).unwrap(),
            "0.5"
        );
    }

    #[test]
    fn bad_values_explain_the_units() {
        for (k, v) in [
            ("retention.ms", "7days"),
            ("retention.ms", "1GiB"),
            ("retention.bytes", "7d"),
            ("retention.ms", "-5"),
        ] {
            let e = normalise(k, Raw::Str(v)).unwrap_err();
            assert!(e.message.contains(k), "{e:?}");
        }
        assert!(normalise("retention.ms", Raw::Float(1.5)).is_err());
        assert!(normalise("retention.bytes", Raw::Int(-7)).is_err());
        assert_eq!(normalise("retention.bytes", Raw::Int(-1)).unwrap(), "-1");
        assert!(normalise("retention.ms", Raw::Str("99999999999999999999d")).is_err());
    }
}
