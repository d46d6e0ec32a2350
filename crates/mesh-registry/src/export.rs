//! Apicurio Registry 2's export, read as a bulk listing of subjects.
//!
//! Apicurio 2's Confluent-compatible API has no bulk listing (`GET /schemas` answers 404), so
//! reading N subjects the Confluent way takes 2N requests (the latest version and the level of
//! each): for 12,000 subjects 4.5–6.7 s on the sandbox, which is the registry's own floor for
//! those requests. Its native API has one bulk read, `GET /apis/registry/v2/admin/export`: a
//! zip of every artifact version, content and rule (1.6–3.2 s for the same registry). A read
//! uses it when
//! - the client was given a ccompat URL (`…/apis/ccompat/v7` or `v6`; the native API is then at
//!   `…/apis/registry/v2` on the same server, with the same credentials and TLS);
//! - it asks for at least [`DEFAULT_EXPORT_FROM`] subjects (`with_export_from`): below that the
//!   per-subject reads take well under a second;
//! - the registry holds at most [`LARGER_AT_MOST`] times as many artifacts as the read asks
//!   for (`GET …/search/artifacts?limit=1` counts them), so the read is not work proportional to
//!   a much larger registry;
//! - the zip's manifest names Apicurio Registry 2;
//! - and a sample of subjects read the Confluent way agrees with the export. The sample settles
//!   what the export does not say: which id the ccompat API shows (the content id by default,
//!   the global id in Apicurio's legacy-id mode), what a subject without a rule of its own reads
//!   as (the registry's global level), and that subjects are the default group's artifacts
//!   (no group concatenation).
//!
//! Otherwise — a failure, a refusal (the export needs the admin role where roles are enforced),
//! another format, a disagreement — the subjects are read the Confluent way and the client does
//! not try again. The export is a consistent snapshot, as the per-subject reads are not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Read};

use futures_util::future::join_all;
use mesh_plan::registry::{LiveSubject, RegisteredSchema};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::Listed;
use crate::client::Sink;
use crate::{RegistryClient, RegistryError};

/// Reads of at least this many subjects try the export.
pub const DEFAULT_EXPORT_FROM: usize = 1000;

/// The export is read only when the registry holds at most this many times as many artifacts
/// as the read asks for.
pub const LARGER_AT_MOST: usize = 2;

/// One version of a subject, as the export holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    version: i32,
    global_id: i32,
    content_id: i32,
    /// Not soft-deleted: Apicurio's ccompat API hides `DISABLED` versions.
    live: bool,
    schema_type: String,
    schema: String,
}

/// One subject (an artifact of the default group), as the export holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Subject {
    /// Oldest first.
    versions: Vec<Version>,
    /// Its own `COMPATIBILITY` rule.
    rule: Option<String>,
}

impl Subject {
    fn live(&self) -> impl Iterator<Item = &Version> {
        self.versions.iter().filter(|v| v.live)
    }
}

/// The asked-for subjects an export holds; a subject it does not hold has no version and no
/// level.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    subjects: HashMap<String, Subject>,
}

/// Which id the ccompat API shows for a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Id {
    Content,
    Global,
}

/// How the export's entries read as the Confluent API's answers on this registry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reading {
    id: Id,
    /// What a subject without a rule of its own reads as (Apicurio answers the global level).
    unruled: Option<String>,
    /// Whether `LiveSubject::history` is filled (`RegistryClient::with_history`).
    history: bool,
}

impl Snapshot {
    /// `subject` as the Confluent API reads it (`soft_deleted` included, which the per-subject
    /// path learns from another listing).
    fn read(&self, subject: &str, how: &Reading) -> LiveSubject {
        Self::as_read(self.subjects.get(subject).cloned(), how)
    }

    /// [`Self::read`], moving the subject's texts out of the snapshot rather than copying
    /// them (12,000 schemas are megabytes): a second take of it reads as not held.
    fn take(&mut self, subject: &str, how: &Reading) -> LiveSubject {
        Self::as_read(self.subjects.remove(subject), how)
    }

    fn as_read(held: Option<Subject>, how: &Reading) -> LiveSubject {
        let Some(s) = held else {
            return LiveSubject::default();
        };
        let soft_deleted = !s.versions.is_empty() && s.live().next().is_none();
        let schema = |v: Version| RegisteredSchema {
            version: v.version,
            id: match how.id {
                Id::Content => v.content_id,
                Id::Global => v.global_id,
            },
            schema_type: v.schema_type,
            schema: v.schema,
        };
        let mut live = s.versions.into_iter().filter(|v| v.live);
        let (latest, history) = if how.history {
            let history: Vec<RegisteredSchema> = live.map(schema).collect();
            (history.last().cloned(), history)
        } else {
            (live.next_back().map(schema), Vec::new())
        };
        LiveSubject {
            history,
            soft_deleted,
            latest,
            compatibility: s.rule.or_else(|| how.unruled.clone()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestEntity {
    system_name: Option<String>,
    system_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionEntity {
    group_id: Option<String>,
    artifact_id: String,
    version: String,
    global_id: i64,
    content_id: i64,
    artifact_type: Option<String>,
    state: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleEntity {
    group_id: Option<String>,
    artifact_id: String,
    #[serde(rename = "type")]
    kind: String,
    configuration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentEntity {
    content_id: i64,
}

/// The ccompat API's subjects are the artifacts of the default group (`null` in the export).
fn default_group(group: Option<&str>) -> bool {
    group.is_none_or(|g| g == "default")
}

fn id(value: i64, what: &str) -> Result<i32, String> {
    i32::try_from(value).map_err(|_| format!("{what} {value} does not fit the Confluent API's ids"))
}

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL: u32 = 0x0606_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;

/// A zip archive's entries, front to back, from their local headers, as Java's
/// `ZipOutputStream` writes them (Apicurio's export): deflated with a data descriptor after
/// the data, or stored (or deflated) with their sizes up front. Nothing is kept but the entry
/// at hand, so the archive needs no index and is read once; the central directory at the end
/// repeats the local headers and is not read.
struct Entries<R> {
    r: R,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<R: BufRead> Entries<R> {
    fn exact<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|e| format!("the archive ends early: {e}"))?;
        Ok(b)
    }

    /// The next entry's name, its data in `data`; `None` at the central directory.
    fn next(&mut self, data: &mut Vec<u8>) -> Result<Option<String>, String> {
        match u32::from_le_bytes(self.exact::<4>()?) {
            LOCAL_HEADER => {}
            CENTRAL_HEADER | END_OF_CENTRAL | ZIP64_END_OF_CENTRAL => return Ok(None),
            _ => return Err("not a zip archive, or a damaged one".into()),
        }
        let h = self.exact::<26>()?;
        let (flags, method) = (u16_at(&h, 2), u16_at(&h, 4));
        let (crc, mut size) = (u32_at(&h, 10), u64::from(u32_at(&h, 14)));
        let mut name = vec![0u8; usize::from(u16_at(&h, 22))];
        let mut extra = vec![0u8; usize::from(u16_at(&h, 24))];
        for part in [&mut name, &mut extra] {
            self.r
                .read_exact(part)
                .map_err(|e| format!("the archive ends early: {e}"))?;
        }
        let name = String::from_utf8(name).map_err(|_| "an entry's name is not UTF-8")?;
        if flags & 1 != 0 {
            return Err(format!("{name} is encrypted"));
        }
        if size == 0xFFFF_FFFF {
            // Zip64: the sizes are in the extra field 0x0001 (uncompressed, then compressed).
            size = zip64_compressed(&extra).ok_or_else(|| format!("{name}: no Zip64 sizes"))?;
        }
        let descriptor = flags & 8 != 0;
        data.clear();
        let read = match method {
            0 if descriptor => return Err(format!("{name} is stored without its size")),
            0 => (&mut self.r).take(size).read_to_end(data).map(|n| n as u64),
            8 => {
                let mut inflate = flate2::bufread::DeflateDecoder::new(&mut self.r);
                inflate.read_to_end(data).map(|_| inflate.total_in())
            }
            other => return Err(format!("{name} is compressed with method {other}")),
        }
        .map_err(|e| format!("{name}: {e}"))?;
        let crc = if descriptor {
            self.descriptor(&name, read, data.len())?
        } else if read != size {
            return Err(format!("{name} ends early"));
        } else {
            crc
        };
        if crc32fast::hash(data) != crc {
            return Err(format!("{name} is damaged (its checksum differs)"));
        }
        Ok(Some(name))
    }

    /// Reads the data descriptor after an entry of `read` compressed and `len` bytes; its CRC.
    fn descriptor(&mut self, name: &str, read: u64, len: usize) -> Result<u32, String> {
        let first = u32::from_le_bytes(self.exact::<4>()?);
        let crc = if first == DATA_DESCRIPTOR {
            u32::from_le_bytes(self.exact::<4>()?)
        } else {
            first
        };
        // Java writes 8-byte sizes only for entries of 4 GiB or more.
        let sizes = if read >= 0xFFFF_FFFF || len as u64 >= 0xFFFF_FFFF {
            let b = self.exact::<16>()?;
            (
                u64::from(u32_at(&b, 0)) | u64::from(u32_at(&b, 4)) << 32,
                u64::from(u32_at(&b, 8)) | u64::from(u32_at(&b, 12)) << 32,
            )
        } else {
            let b = self.exact::<8>()?;
            (u64::from(u32_at(&b, 0)), u64::from(u32_at(&b, 4)))
        };
        if sizes != (read, len as u64) {
            return Err(format!("{name}: its sizes disagree with its data"));
        }
        Ok(crc)
    }
}

/// The compressed size in a Zip64 extra field.
fn zip64_compressed(mut extra: &[u8]) -> Option<u64> {
    while extra.len() >= 4 {
        let (id, len) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
        let body = extra.get(4..4 + len)?;
        if id == 1 && len >= 16 {
            return Some(u64::from(u32_at(body, 8)) | u64::from(u32_at(body, 12)) << 32);
        }
        extra = &extra[4 + len..];
    }
    None
}

/// Reads an export (a zip in Apicurio 2's format) for the `wanted` subjects, in one pass; an
/// error says why it cannot stand for them.
pub(crate) fn parse<R: BufRead>(zip: R, wanted: &BTreeSet<String>) -> Result<Snapshot, String> {
    let mut entries = Entries { r: zip };
    let mut manifest: Option<ManifestEntity> = None;
    let mut versions: Vec<VersionEntity> = Vec::new();
    let mut rules: Vec<RuleEntity> = Vec::new();
    // Each content's two entries share a name stem: `content/<hash>.Content.{json,data}`.
    let mut content_ids: HashMap<String, i64> = HashMap::new();
    let mut texts_at: HashMap<String, String> = HashMap::new();
    let mut data = Vec::new();
    while let Some(name) = entries.next(&mut data)? {
        fn json<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, String> {
            serde_json::from_slice(bytes).map_err(|e| format!("{name}: {e}"))
        }
        if let Some(stem) = name.strip_suffix(".Content.data") {
            // A copy of its exact size: the buffer grew by doubling and is used again.
            let text = std::str::from_utf8(&data)
                .map_err(|_| format!("{name} is not UTF-8 text"))?
                .to_owned();
            texts_at.insert(stem.to_owned(), text);
        } else if let Some(stem) = name.strip_suffix(".Content.json") {
            let c: ContentEntity = json(&name, &data)?;
            content_ids.insert(stem.to_owned(), c.content_id);
        } else if name.ends_with(".ArtifactVersion.json") {
            let v: VersionEntity = json(&name, &data)?;
            if default_group(v.group_id.as_deref()) && wanted.contains(&v.artifact_id) {
                versions.push(v);
            }
        } else if name.ends_with(".ArtifactRule.json") {
            let r: RuleEntity = json(&name, &data)?;
            if r.kind == "COMPATIBILITY"
                && default_group(r.group_id.as_deref())
                && wanted.contains(&r.artifact_id)
            {
                rules.push(r);
            }
        } else if name.ends_with(".Manifest.json") {
            manifest = Some(json(&name, &data)?);
        }
    }
    let system = manifest.ok_or("no manifest: not an Apicurio Registry export")?;
    let (name, version) = (
        system.system_name.unwrap_or_default(),
        system.system_version.unwrap_or_default(),
    );
    if name != "apicurio-registry" || !version.starts_with("2.") {
        return Err(format!(
            "an export of {name} {version}, not of Apicurio Registry 2"
        ));
    }

    // The texts of the asked-for subjects' versions only, and how many versions hold each
    // (the last one takes the text, the others a copy).
    let mut needed: HashMap<i64, usize> = HashMap::new();
    for v in &versions {
        *needed.entry(v.content_id).or_default() += 1;
    }
    let mut texts: HashMap<i64, String> = HashMap::with_capacity(needed.len());
    for (stem, content_id) in content_ids {
        if needed.contains_key(&content_id) {
            let text = texts_at
                .remove(&stem)
                .ok_or_else(|| format!("{stem}.Content.data is missing"))?;
            texts.insert(content_id, text);
        }
    }
    drop(texts_at);

    let mut snapshot = Snapshot::default();
    for v in versions {
        let schema_type = match v.artifact_type.as_deref() {
            Some(t @ ("AVRO" | "PROTOBUF" | "JSON")) => t.to_owned(),
            other => {
                return Err(format!(
                    "subject {} holds an artifact of type {other:?}, which the Confluent API does not show",
                    v.artifact_id
                ));
            }
        };
        let live = match v.state.as_str() {
            "ENABLED" | "DEPRECATED" => true,
            "DISABLED" => false,
            other => return Err(format!("subject {}: version state {other}", v.artifact_id)),
        };
        let version = v.version.parse::<i32>().map_err(|_| {
            format!(
                "subject {} has version {:?}, not a number",
                v.artifact_id, v.version
            )
        })?;
        let missing = || format!("content {} is missing", v.content_id);
        let holders = needed.get_mut(&v.content_id).ok_or_else(missing)?;
        *holders -= 1;
        let schema = if *holders == 0 {
            texts.remove(&v.content_id)
        } else {
            texts.get(&v.content_id).cloned()
        }
        .ok_or_else(missing)?;
        snapshot
            .subjects
            .entry(v.artifact_id)
            .or_default()
            .versions
            .push(Version {
                version,
                global_id: id(v.global_id, "global id")?,
                content_id: id(v.content_id, "content id")?,
                live,
                schema_type,
                schema,
            });
    }
    for r in rules {
        snapshot.subjects.entry(r.artifact_id).or_default().rule = Some(r.configuration);
    }
    for s in snapshot.subjects.values_mut() {
        s.versions.sort_by_key(|v| v.version);
    }
    Ok(snapshot)
}

/// The native API's base next to a ccompat base URL: `…/apis/ccompat/v7` → `…/apis/registry/v2`.
pub(crate) fn native_base(ccompat: &Url) -> Option<Url> {
    let path = ccompat.path().trim_end_matches('/');
    let root = ["/apis/ccompat/v7", "/apis/ccompat/v6"]
        .into_iter()
        .find_map(|suffix| path.strip_suffix(suffix))?;
    let mut native = ccompat.clone();
    native.set_path(&format!("{root}/apis/registry/v2"));
    Some(native)
}

/// How many chunks of the export may wait for its parser (hyper's chunks are a few to some
/// tens of kilobytes).
const EXPORT_CHUNKS_AHEAD: usize = 128;

/// The chunks of a body arriving through a channel, read as one stream on a thread outside the
/// async runtime; it ends when the sending side is dropped.
struct Chunks {
    from: tokio::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    read: usize,
}

impl Chunks {
    fn new(from: tokio::sync::mpsc::Receiver<Vec<u8>>) -> Chunks {
        Chunks {
            from,
            chunk: Vec::new(),
            read: 0,
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let from = self.fill_buf()?;
        let n = from.len().min(out.len());
        out[..n].copy_from_slice(&from[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.read >= self.chunk.len() {
            match self.from.blocking_recv() {
                Some(next) => {
                    self.chunk = next;
                    self.read = 0;
                }
                None => return Ok(&[]),
            }
        }
        Ok(&self.chunk[self.read..])
    }

    fn consume(&mut self, n: usize) {
        self.read += n;
    }
}

/// What an attempt came to.
enum Attempt {
    Read(BTreeMap<String, LiveSubject>),
    /// Not this time (the registry holds many more artifacts than the read asks for).
    NotNow,
    /// Not on this registry.
    Never,
}

#[derive(Deserialize)]
struct SearchReply {
    count: usize,
}

impl RegistryClient {
    /// The subjects read from the export where that is worth it and agrees with the Confluent
    /// API (module docs); `None`: read them the Confluent way.
    pub(crate) async fn read_by_export(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Option<BTreeMap<String, LiveSubject>> {
        let from = self.export_from?;
        if subjects.len() < from.max(1) || self.export.known_not() {
            return None;
        }
        let native = native_base(&self.base)?;
        match self.try_export(&native, subjects).await {
            Attempt::Read(read) => {
                self.export.set(true);
                Some(read)
            }
            Attempt::NotNow => None,
            Attempt::Never => {
                self.export.set(false);
                None
            }
        }
    }

    async fn try_export(&self, native: &Url, subjects: &BTreeSet<String>) -> Attempt {
        let url = crate::client::join(native, &["search", "artifacts"], &[("limit", "1")]);
        let Ok(count) = self
            .fetch(self.request(Method::GET, url), "GET /search/artifacts")
            .await
        else {
            return Attempt::Never;
        };
        let Ok(SearchReply { count }) = serde_json::from_slice(&count) else {
            return Attempt::Never;
        };
        if count > subjects.len().saturating_mul(LARGER_AT_MOST) {
            return Attempt::NotNow;
        }
        // Parsed on a thread of its own while it downloads, so the archive is never held whole:
        // the chunks wait in the channel only while the parser is behind.
        let url = crate::client::join(native, &["admin", "export"], &[]);
        let request = self.request_accepting(Method::GET, url, "application/zip");
        let (chunks, received) = tokio::sync::mpsc::channel::<Vec<u8>>(EXPORT_CHUNKS_AHEAD);
        let wanted = subjects.clone();
        let parser = std::thread::spawn(move || parse(Chunks::new(received), &wanted));
        let fetched = self
            .fetch_into(request, "GET /admin/export", Sink::Channel(&chunks))
            .await;
        drop(chunks);
        // A panic in the parser is a bug; re-raise it here.
        let parsed = parser
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let (Ok(()), Ok(mut snapshot)) = (fetched, parsed) else {
            return Attempt::Never;
        };
        match self.calibrate(&snapshot, subjects).await {
            Some(how) => Attempt::Read(
                subjects
                    .iter()
                    .map(|s| (s.clone(), snapshot.take(s, &how)))
                    .collect(),
            ),
            None => Attempt::Never,
        }
    }

    /// Reads a sample of subjects the Confluent way and finds the [`Reading`] of the export
    /// that agrees with them, if one does. The sample: a subject with a live version whose
    /// content id and global id differ (else any with a live version), one without a rule of
    /// its own, one with a rule, and one the export does not hold.
    async fn calibrate(&self, snap: &Snapshot, subjects: &BTreeSet<String>) -> Option<Reading> {
        let held = |s: &&String| snap.subjects.get(s.as_str());
        let live = |s: &&String| held(s).is_some_and(|x| x.live().next().is_some());
        let ids_differ = |s: &&String| {
            held(s)
                .and_then(|x| x.live().last())
                .is_some_and(|v| v.content_id != v.global_id)
        };
        let unruled = |s: &&String| held(s).is_some_and(|x| x.rule.is_none());
        let ruled = |s: &&String| held(s).is_some_and(|x| x.rule.is_some());
        let mut sample: Vec<&String> = [
            subjects
                .iter()
                .find(|s| live(s) && ids_differ(s))
                .or_else(|| subjects.iter().find(live)),
            subjects
                .iter()
                .find(|s| live(s) && unruled(s))
                .or_else(|| subjects.iter().find(unruled)),
            subjects.iter().find(ruled),
            subjects.iter().find(|s| held(s).is_none()),
        ]
        .into_iter()
        .flatten()
        .collect();
        sample.sort();
        sample.dedup();
        let actual = join_all(sample.iter().map(|s| self.read_subject(s, Listed::Unknown)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, RegistryError>>()
            .ok()?;
        // What a subject without a rule reads as: the registry's answer for one of them.
        let unruled_level = sample
            .iter()
            .zip(&actual)
            .find(|(s, _)| unruled(s))
            .and_then(|(_, a)| a.compatibility.clone());
        [Id::Content, Id::Global].into_iter().find_map(|id| {
            let how = Reading {
                id,
                unruled: unruled_level.clone(),
                history: self.history,
            };
            let agrees = sample.iter().zip(&actual).all(|(s, a)| {
                // The per-subject read learns `soft_deleted` from another listing.
                let mut mine = snap.read(s, &how);
                mine.soft_deleted = false;
                mine == *a
            });
            agrees.then_some(how)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// How a test archive stores its entries.
    #[derive(Clone, Copy, PartialEq)]
    enum Store {
        /// Uncompressed, sizes up front.
        Stored,
        /// Deflated, sizes up front.
        Deflated,
        /// Deflated, sizes and CRC in a data descriptor after the data (Java's way).
        Descriptor,
    }

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A zip archive of `entries` (name, text), written the way `Entries` documents, with an
    /// end-of-central-directory record after them.
    fn zip_of(entries: &[(&str, String)], store: Store) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, text) in entries {
            let crc = crc32fast::hash(text.as_bytes());
            let (method, flags, data) = match store {
                Store::Stored => (0u16, 0u16, text.as_bytes().to_vec()),
                Store::Deflated => (8, 0, deflate(text.as_bytes())),
                Store::Descriptor => (8, 8, deflate(text.as_bytes())),
            };
            let up_front = |v: u32| if store == Store::Descriptor { 0 } else { v };
            out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 4]); // time, date
            out.extend_from_slice(&up_front(crc).to_le_bytes());
            out.extend_from_slice(&up_front(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&up_front(text.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&data);
            if store == Store::Descriptor {
                out.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
                out.extend_from_slice(&crc.to_le_bytes());
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            }
        }
        out.extend_from_slice(&END_OF_CENTRAL.to_le_bytes());
        out.extend_from_slice(&[0; 18]);
        out
    }

    fn manifest(version: &str) -> (&'static str, String) {
        (
            "manifest-2026-12-04T15:08:49.125Z.Manifest.json",
            format!(
                r#"{{"systemVersion":"{version}","systemName":"apicurio-registry","exportVersion":"1.0"}}"#
            ),
        )
    }

    fn version(artifact: &str, v: i32, global: i64, content: i64, state: &str) -> (String, String) {
        (
            format!("groups/default/artifacts/{artifact}/versions/{v}.ArtifactVersion.json"),
            format!(
                r#"{{"globalId":{global},"groupId":null,"artifactId":"{artifact}","version":"{v}","versionId":{v},"artifactType":"AVRO","state":"{state}","isLatest":false,"contentId":{content}}}"#
            ),
        )
    }

    fn content(id: i64, text: &str) -> [(String, String); 2] {
        [
            (
                format!("content/hash{id}.Content.json"),
                format!(r#"{{"contentId":{id},"contentHash":"h","artifactType":null}}"#),
            ),
            (format!("content/hash{id}.Content.data"), text.to_owned()),
        ]
    }

    fn rule(artifact: &str, level: &str) -> (String, String) {
        (
            format!("groups/default/artifacts/{artifact}/rules/COMPATIBILITY.ArtifactRule.json"),
            format!(
                r#"{{"groupId":null,"artifactId":"{artifact}","type":"COMPATIBILITY","configuration":"{level}"}}"#
            ),
        )
    }

    fn export(store: Store) -> Vec<u8> {
        let mut entries: Vec<(String, String)> = Vec::new();
        let m = manifest("2.6.13.Final");
        entries.push((m.0.to_owned(), m.1));
        entries.extend(content(7, r#"{"type":"string"}"#));
        entries.extend(content(9, r#"{"type":"long"}"#));
        entries.extend(content(11, r#"{"type":"int"}"#));
        // a/b-value: versions 1 (soft-deleted), 2 and 10 (numbers sort as numbers); FULL.
        entries.push(version("a/b-value", 10, 30, 11, "ENABLED"));
        entries.push(version("a/b-value", 1, 12, 7, "DISABLED"));
        entries.push(version("a/b-value", 2, 13, 9, "DEPRECATED"));
        entries.push(rule("a/b-value", "FULL"));
        // gone-value: every version soft-deleted, no rule.
        entries.push(version("gone-value", 1, 14, 7, "DISABLED"));
        // rule-only: a level set before any version.
        entries.push(rule("rule-only", "BACKWARD"));
        // not asked for: ignored, its content not read.
        entries.push(version("other-value", 1, 15, 11, "ENABLED"));
        // another group's artifact of the same name: not a ccompat subject.
        entries.push((
            "groups/g1/artifacts/gone-value/versions/1.ArtifactVersion.json".into(),
            r#"{"globalId":16,"groupId":"g1","artifactId":"gone-value","version":"1","versionId":1,"artifactType":"AVRO","state":"ENABLED","contentId":9}"#.into(),
        ));
        let entries: Vec<(&str, String)> = entries
            .iter()
            .map(|(n, t)| (n.as_str(), t.clone()))
            .collect();
        zip_of(&entries, store)
    }

    fn wanted() -> BTreeSet<String> {
        ["a/b-value", "gone-value", "rule-only", "new-value"]
            .into_iter()
            .map(String::from)
            .collect()
    }

    fn schema(version: i32, id: i32, text: &str) -> RegisteredSchema {
        RegisteredSchema {
            version,
            id,
            schema_type: "AVRO".into(),
            schema: text.into(),
        }
    }

    #[test]
    fn an_export_reads_as_the_confluent_api_would() {
        for store in [Store::Stored, Store::Deflated, Store::Descriptor] {
            let snap = parse(export(store).as_slice(), &wanted()).unwrap();
            assert_eq!(
                snap.subjects.len(),
                3,
                "only asked-for default-group subjects"
            );
            let how = Reading {
                id: Id::Content,
                unruled: Some("NONE".into()),
                history: true,
            };
            let ab = snap.read("a/b-value", &how);
            assert_eq!(
                ab,
                LiveSubject {
                    latest: Some(schema(10, 11, r#"{"type":"int"}"#)),
                    history: vec![
                        schema(2, 9, r#"{"type":"long"}"#),
                        schema(10, 11, r#"{"type":"int"}"#)
                    ],
                    compatibility: Some("FULL".into()),
                    soft_deleted: false,
                }
            );
            let global = Reading {
                id: Id::Global,
                history: false,
                ..how.clone()
            };
            let ab = snap.read("a/b-value", &global);
            assert_eq!(ab.latest.unwrap().id, 30);
            assert!(ab.history.is_empty());

            let gone = snap.read("gone-value", &how);
            assert_eq!(
                (
                    gone.latest,
                    gone.soft_deleted,
                    gone.compatibility.as_deref()
                ),
                (None, true, Some("NONE"))
            );
            let rule_only = snap.read("rule-only", &how);
            assert_eq!(
                (
                    rule_only.latest,
                    rule_only.soft_deleted,
                    rule_only.compatibility.as_deref()
                ),
                (None, false, Some("BACKWARD"))
            );
            assert_eq!(snap.read("new-value", &how), LiveSubject::default());

            // Taking a subject reads it the same way, and leaves it no longer held.
            for reading in [&how, &global] {
                let mut snap = parse(export(store).as_slice(), &wanted()).unwrap();
                for s in wanted() {
                    let read = snap.read(&s, reading);
                    assert_eq!(snap.take(&s, reading), read, "{s}");
                    assert_eq!(snap.take(&s, reading), LiveSubject::default(), "{s}");
                }
            }
        }
    }

    #[test]
    fn what_cannot_stand_for_the_confluent_api_is_refused_with_its_reason() {
        let wanted = wanted();
        let err = |entries: Vec<(String, String)>| {
            let entries: Vec<(&str, String)> = entries
                .iter()
                .map(|(n, t)| (n.as_str(), t.clone()))
                .collect();
            parse(zip_of(&entries, Store::Stored).as_slice(), &wanted).unwrap_err()
        };
        assert!(
            parse(&b"not a zip"[..], &wanted)
                .unwrap_err()
                .starts_with("not a zip archive")
        );
        let no_manifest = vec![version("a/b-value", 1, 1, 1, "ENABLED")];
        assert!(err(no_manifest).contains("no manifest"));
        let m3 = manifest("3.0.4");
        let v3 = vec![(m3.0.to_owned(), m3.1)];
        assert!(err(v3).contains("not of Apicurio Registry 2"));

        let m = manifest("2.6.13.Final");
        let base = || {
            let mut e = vec![(m.0.to_owned(), m.1.clone())];
            e.extend(content(1, "{}"));
            e
        };
        let mut missing = base();
        missing.push(version("a/b-value", 1, 1, 2, "ENABLED"));
        assert!(err(missing).contains("content 2 is missing"));
        let mut named = base();
        named.push((
            "groups/default/artifacts/a/versions/x.ArtifactVersion.json".into(),
            r#"{"globalId":1,"groupId":null,"artifactId":"a/b-value","version":"1.0.0","artifactType":"AVRO","state":"ENABLED","contentId":1}"#.into(),
        ));
        assert!(err(named).contains("not a number"));
        let mut openapi = base();
        openapi.push((
            "groups/default/artifacts/a/versions/1.ArtifactVersion.json".into(),
            r#"{"globalId":1,"groupId":null,"artifactId":"a/b-value","version":"1","artifactType":"OPENAPI","state":"ENABLED","contentId":1}"#.into(),
        ));
        assert!(err(openapi).contains("OPENAPI"));
        let mut state = base();
        state.push(version("a/b-value", 1, 1, 1, "ARCHIVED"));
        assert!(err(state).contains("state ARCHIVED"));
        let mut huge = base();
        huge.push(version("a/b-value", 1, 1 << 40, 1, "ENABLED"));
        assert!(err(huge).contains("does not fit"));
        let mut broken = base();
        broken.push((
            "groups/default/artifacts/a/rules/X.ArtifactRule.json".into(),
            "{".into(),
        ));
        assert!(err(broken).contains("X.ArtifactRule.json"));
    }

    #[test]
    fn a_damaged_or_foreign_archive_is_refused() {
        let wanted = wanted();
        let good = export(Store::Descriptor);
        let reason = |zip: &[u8]| parse(zip, &wanted).unwrap_err();
        // Cut short: inside an entry, or before the central directory.
        let half = reason(&good[..good.len() / 2]);
        assert!(
            half.contains("ends early") || half.contains("damaged"),
            "{half}"
        );
        assert!(reason(&good[..good.len() - 22]).contains("the archive ends early"));
        // A flipped byte in a deflated entry's data: its checksum or its deflate stream fails.
        let mut flipped = good.clone();
        let at = 30 + "manifest-2026-12-04T15:08:49.125Z.Manifest.json".len() + 3;
        flipped[at] ^= 0x55;
        let r = reason(&flipped);
        assert!(
            r.starts_with("manifest-2026-12-04T15:08:49.125Z.Manifest.json"),
            "{r}"
        );
        // A stored entry whose checksum is wrong.
        let mut stored = zip_of(&[("a.Manifest.json", "{}".into())], Store::Stored);
        stored[14] ^= 1;
        assert!(reason(&stored).contains("checksum differs"));
        // Encrypted, another method, stored without a size.
        for (offset, value, says) in [
            (6usize, 1u8, "is encrypted"),
            (8, 12, "method 12"),
            (6, 8, "stored without its size"),
        ] {
            let mut z = zip_of(&[("a.Manifest.json", "{}".into())], Store::Stored);
            z[offset] = value;
            assert!(reason(&z).contains(says), "{says}: {}", reason(&z));
        }
    }

    #[test]
    fn an_export_arriving_in_chunks_reads_as_a_whole_one() {
        let zip = export(Store::Descriptor);
        // Two chunks ahead at most: the sender waits for the parser most of the time.
        let (send, receive) = tokio::sync::mpsc::channel(2);
        let sender = {
            let zip = zip.clone();
            std::thread::spawn(move || {
                // Chunks of odd sizes, some empty, cut through headers and data alike.
                for (i, chunk) in zip.chunks(97).enumerate() {
                    if i % 5 == 0 {
                        send.blocking_send(Vec::new()).unwrap();
                    }
                    send.blocking_send(chunk.to_vec()).unwrap();
                }
            })
        };
        let snap = parse(Chunks::new(receive), &wanted()).unwrap();
        sender.join().unwrap();
        let whole = parse(zip.as_slice(), &wanted()).unwrap();
        let how = Reading {
            id: Id::Content,
            unruled: None,
            history: true,
        };
        for s in wanted() {
            assert_eq!(snap.read(&s, &how), whole.read(&s, &how), "{s}");
        }
        // A stream cut short is an error, not a shorter export.
        let (send, receive) = tokio::sync::mpsc::channel(2);
        send.blocking_send(zip[..zip.len() / 3].to_vec()).unwrap();
        drop(send);
        assert!(parse(Chunks::new(receive), &wanted()).is_err());
    }

    #[test]
    fn zip64_sizes_are_read_from_the_extra_field() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&0x5455u16.to_le_bytes()); // another field first
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.push(0);
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&7u64.to_le_bytes());
        extra.extend_from_slice(&((5u64 << 32) | 3).to_le_bytes());
        assert_eq!(zip64_compressed(&extra), Some((5 << 32) | 3));
        assert_eq!(zip64_compressed(&extra[..9]), None);
        assert_eq!(zip64_compressed(&[]), None);
    }

    #[test]
    fn the_native_api_is_found_next_to_a_ccompat_url_only() {
        let native = |u: &str| native_base(&Url::parse(u).unwrap()).map(|u| u.to_string());
        assert_eq!(
            native("http://h:8080/apis/ccompat/v7").as_deref(),
            Some("http://h:8080/apis/registry/v2")
        );
        assert_eq!(
            native("https://h/prefix/apis/ccompat/v6/").as_deref(),
            Some("https://h/prefix/apis/registry/v2")
        );
        assert_eq!(native("https://psrc-123.confluent.cloud"), None);
        assert_eq!(native("http://h:8081/"), None);
    }
}
