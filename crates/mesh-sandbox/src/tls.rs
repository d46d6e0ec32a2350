//! The sandbox's own certificate authority: made once per sandbox folder at the first `up`,
//! then reused. It signs the brokers' certificate, the registry's, and client certificates for
//! `admin`, every extra user and any subject a test asks for. Everything is PEM in `DIR/tls/`.
//!
//! Keys are ECDSA P-256 in unencrypted PKCS#8 (`BEGIN PRIVATE KEY`): Kafka 3.9 and 4.x read
//! them from a PEM keystore file without `ssl.key.password` (checked against both), Quarkus
//! and curl as well. The private keys are written readable by the owner only.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::SandboxError;
use crate::config::{ADMIN_USER, Layout, SandboxConfig};

/// The CA's subject.
const CA_NAME: &str = "mesh sandbox CA";
/// How long the generated certificates are valid: long enough for any sandbox's life.
const VALIDITY_DAYS: i64 = 3650;

/// A client certificate signed by the sandbox CA, in the three shapes clients want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject as given, e.g. `CN=order-service,OU=data` (Kafka's `ssl.principal.mapping.rules`
    /// in the sandbox make its principal `User:order-service`).
    pub subject: String,
    /// The certificate (PEM), e.g. librdkafka's `ssl.certificate.location`.
    pub cert: PathBuf,
    /// Its private key (unencrypted PKCS#8 PEM), e.g. librdkafka's `ssl.key.location`.
    pub key: PathBuf,
    /// Key then certificate in one PEM file: a Java client's `ssl.keystore.location` with
    /// `ssl.keystore.type=PEM`.
    pub keystore: PathBuf,
}

/// The sandbox CA's certificate (PEM): what clients trust (`ssl.ca.location`,
/// `ssl.truststore.location` with type PEM, `curl --cacert`). Exists after the first `up`.
pub fn ca_file(cfg: &SandboxConfig) -> PathBuf {
    cfg.layout().ca_cert
}

/// The client certificate `up` issued for `name` (`admin` or one of `cfg.users`), CN = name.
/// Its files exist after `up`.
pub fn client_certificate(cfg: &SandboxConfig, name: &str) -> ClientCertificate {
    client_files(&cfg.layout(), &format!("CN={name}"))
}

/// Issues a client certificate for `subject` (e.g. `CN=order-service,OU=data`; attributes CN,
/// OU, O, L, ST, C, each at most once) signed by the sandbox CA, or returns the one issued
/// before for the same subject. The sandbox must have been started once (the CA is made by
/// `up`). With the sandbox's principal mapping, the SSL listener sees it as `User:<CN>`.
pub fn issue_client_certificate(
    cfg: &SandboxConfig,
    subject: &str,
) -> Result<ClientCertificate, SandboxError> {
    let layout = cfg.layout();
    let files = client_files(&layout, subject);
    if [&files.cert, &files.key, &files.keystore]
        .iter()
        .all(|p| p.is_file())
    {
        return Ok(files);
    }
    let name = parse_subject(subject)?;
    let ca = load_ca(&layout)?;
    let (cert, key) = issue(&ca, name, Usage::Client)?;
    write_pair(&files, &cert, &key)?;
    Ok(files)
}

/// Makes what `up` needs: the CA (only if the folder has none), the brokers' and the
/// registry's certificates, and a client certificate for `admin` and each of `users`
/// (only those missing).
pub(crate) fn ensure_pki(layout: &Layout, users: &[(String, String)]) -> Result<(), SandboxError> {
    fs::create_dir_all(&layout.tls_dir)
        .map_err(|e| SandboxError::io("create", &layout.tls_dir, e))?;
    if !(layout.ca_cert.is_file() && layout.ca_key.is_file()) {
        let (cert, key) = new_ca()?;
        write_private(&layout.ca_key, &key)?;
        write_file(&layout.ca_cert, &cert)?;
    }
    let ca = load_ca(layout)?;
    let ca_pem = read(&layout.ca_cert)?;
    if !layout.broker_keystore.is_file() {
        let (cert, key) = issue(&ca, common_name("localhost"), Usage::Server)?;
        // Kafka's PEM keystore: the key, then the chain (leaf first).
        write_private(&layout.broker_keystore, &format!("{key}{cert}{ca_pem}"))?;
    }
    if !(layout.registry_cert.is_file() && layout.registry_key.is_file()) {
        let (cert, key) = issue(&ca, common_name("localhost"), Usage::Server)?;
        write_private(&layout.registry_key, &key)?;
        write_file(&layout.registry_cert, &format!("{cert}{ca_pem}"))?;
    }
    let names = std::iter::once(ADMIN_USER).chain(users.iter().map(|(n, _)| n.as_str()));
    for name in names {
        let subject = format!("CN={name}");
        let files = client_files(layout, &subject);
        if !(files.cert.is_file() && files.key.is_file() && files.keystore.is_file()) {
            let (cert, key) = issue(&ca, common_name(name), Usage::Client)?;
            write_pair(&files, &cert, &key)?;
        }
    }
    Ok(())
}

/// Where the files for `subject` go: `tls/client-<name>.{crt,key,pem}`, the name derived from
/// the subject (`CN=admin` → `admin`, `CN=order-service,OU=data` → `order-service_ou-data`).
fn client_files(layout: &Layout, subject: &str) -> ClientCertificate {
    let stem = file_stem(subject);
    let dir = &layout.tls_dir;
    ClientCertificate {
        subject: subject.to_owned(),
        cert: dir.join(format!("client-{stem}.crt")),
        key: dir.join(format!("client-{stem}.key")),
        keystore: dir.join(format!("client-{stem}.pem")),
    }
}

pub(crate) fn file_stem(subject: &str) -> String {
    let parts: Vec<String> = subject
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("CN") => v.trim().to_owned(),
            Some((k, v)) => format!("{}-{}", k.trim().to_ascii_lowercase(), v.trim()),
            None => part.to_owned(),
        })
        .collect();
    parts
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Parses `CN=order-service,OU=data` into a distinguished name whose RFC 2253 form (what Java,
/// and so Kafka's principal builder, prints) is the same string: RFC 2253 lists the attributes
/// in reverse order of the encoding, so they are pushed last to first.
pub(crate) fn parse_subject(subject: &str) -> Result<DistinguishedName, SandboxError> {
    let bad = |reason: &str| SandboxError::InvalidSubject {
        subject: subject.to_owned(),
        reason: reason.to_owned(),
    };
    let mut attrs = Vec::new();
    for part in subject.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad("write it as CN=name[,OU=unit,…]"))?;
        let (key, value) = (key.trim(), value.trim());
        let ty = match key.to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "OU" => DnType::OrganizationalUnitName,
            "O" => DnType::OrganizationName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            _ => {
                return Err(bad(&format!(
                    "unknown attribute {key:?} (use CN, OU, O, L, ST, C)"
                )));
            }
        };
        if value.is_empty()
            || value
                .chars()
                .any(|c| c.is_control() || matches!(c, '"' | '\\' | '+' | ';' | '<' | '>' | '='))
        {
            return Err(bad(&format!(
                "the value of {key} is empty or has special characters"
            )));
        }
        if attrs.iter().any(|(t, _)| *t == ty) {
            return Err(bad(&format!("{key} appears twice")));
        }
        attrs.push((ty, value.to_owned()));
    }
    if !attrs.iter().any(|(t, _)| *t == DnType::CommonName) {
        return Err(bad("a CN is needed (it becomes the principal)"));
    }
    let mut name = DistinguishedName::new();
    for (ty, value) in attrs.into_iter().rev() {
        name.push(ty, value);
    }
    Ok(name)
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    name
}

#[derive(Clone, Copy)]
enum Usage {
    Server,
    Client,
}

fn validity(params: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    // A day of slack for clocks that disagree a little.
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(VALIDITY_DAYS);
}

/// A new self-signed CA: (certificate PEM, key PEM).
fn new_ca() -> Result<(String, String), SandboxError> {
    let key = KeyPair::generate().map_err(|e| cert_error("generate the CA key", e))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params);
    let cert = params
        .self_signed(&key)
        .map_err(|e| cert_error("sign the CA certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn load_ca(layout: &Layout) -> Result<Issuer<'static, KeyPair>, SandboxError> {
    let key_pem = read(&layout.ca_key)?;
    let cert_pem = read(&layout.ca_cert)?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| cert_error(&format!("read the CA key {}", layout.ca_key.display()), e))?;
    Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|e| {
        cert_error(
            &format!("read the CA certificate {}", layout.ca_cert.display()),
            e,
        )
    })
}

/// A new key and a certificate for it signed by `ca`: (certificate PEM, key PEM).
fn issue(
    ca: &Issuer<'_, KeyPair>,
    name: DistinguishedName,
    usage: Usage,
) -> Result<(String, String), SandboxError> {
    let key = KeyPair::generate().map_err(|e| cert_error("generate a key", e))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    match usage {
        Usage::Server => {
            params.subject_alt_names = vec![
                SanType::DnsName(
                    "localhost"
                        .try_into()
                        .map_err(|e| cert_error("name localhost", e))?,
                ),
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        Usage::Client => {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
    }
    validity(&mut params);
    let cert = params
        .signed_by(&key, ca)
        .map_err(|e| cert_error("sign a certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write_pair(files: &ClientCertificate, cert: &str, key: &str) -> Result<(), SandboxError> {
    write_private(&files.key, key)?;
    write_file(&files.cert, cert)?;
    write_private(&files.keystore, &format!("{key}{cert}"))
}

fn cert_error(action: &str, e: rcgen::Error) -> SandboxError {
    SandboxError::Certificate {
        action: action.to_owned(),
        reason: e.to_string(),
    }
}

fn read(path: &Path) -> Result<String, SandboxError> {
    fs::read_to_string(path).map_err(|e| SandboxError::io("read", path, e))
}

fn write_file(path: &Path, text: &str) -> Result<(), SandboxError> {
    fs::write(path, text).map_err(|e| SandboxError::io("write", path, e))
}

/// Writes a file holding a private key, readable by the owner only (created so, never widened
/// afterwards).
fn write_private(path: &Path, text: &str) -> Result<(), SandboxError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| SandboxError::io("create", &tmp, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| SandboxError::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| SandboxError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use x509_parser::prelude::*;

    fn layout(dir: &Path) -> Layout {
        Layout::new(
            dir,
            Path::new("/cache"),
            crate::RegistryDist::Apicurio2,
            "4.4.0",
        )
    }

    fn parse_pem(text: &str) -> Vec<Vec<u8>> {
        Pem::iter_from_buffer(text.as_bytes())
            .map(|p| p.expect("valid PEM"))
            .filter(|p| p.label == "CERTIFICATE")
            .map(|p| p.contents)
            .collect()
    }

    fn check_signed_by_ca(leaf: &X509Certificate<'_>, ca: &X509Certificate<'_>) {
        assert_eq!(leaf.issuer(), ca.subject());
        leaf.verify_signature(Some(ca.public_key()))
            .expect("signed by the sandbox CA");
    }

    #[test]
    fn the_ca_signs_broker_registry_and_client_certificates() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = layout(tmp.path());
        let users = vec![("alice".to_owned(), "pw".to_owned())];
        ensure_pki(&layout, &users).unwrap();

        let ca_pem = fs::read_to_string(&layout.ca_cert).unwrap();
        let ca_der = parse_pem(&ca_pem).remove(0);
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(ca.subject().to_string(), "CN=mesh sandbox CA");
        assert!(ca.is_ca());
        ca.verify_signature(None).expect("self-signed");
        assert!(ca.validity().is_valid());

        // The broker's keystore: key first, then its certificate and the CA.
        let keystore = fs::read_to_string(&layout.broker_keystore).unwrap();
        assert!(keystore.starts_with("-----BEGIN PRIVATE KEY-----"));
        let chain = parse_pem(&keystore);
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1], ca_der);
        let (_, broker) = X509Certificate::from_der(&chain[0]).unwrap();
        check_signed_by_ca(&broker, &ca);
        let sans = broker.subject_alternative_name().unwrap().unwrap();
        let names: Vec<String> = sans
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec!["localhost".to_owned(), "[127, 0, 0, 1]".to_owned()]
        );
        assert!(
            broker
                .extended_key_usage()
                .unwrap()
                .unwrap()
                .value
                .server_auth
        );

        let registry = parse_pem(&fs::read_to_string(&layout.registry_cert).unwrap());
        let (_, reg) = X509Certificate::from_der(&registry[0]).unwrap();
        check_signed_by_ca(&reg, &ca);

        for name in ["admin", "alice"] {
            let files = client_files(&layout, &format!("CN={name}"));
            let der = parse_pem(&fs::read_to_string(&files.cert).unwrap());
            let (_, cert) = X509Certificate::from_der(&der[0]).unwrap();
            check_signed_by_ca(&cert, &ca);
            assert_eq!(cert.subject().to_string(), format!("CN={name}"));
            assert!(
                cert.extended_key_usage()
                    .unwrap()
                    .unwrap()
                    .value
                    .client_auth
            );
            let key = fs::read_to_string(&files.key).unwrap();
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
            let mode = fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{:o}", mode);
            let bundle = fs::read_to_string(&files.keystore).unwrap();
            assert_eq!(
                bundle,
                format!("{key}{}", fs::read_to_string(&files.cert).unwrap())
            );
        }
        assert_eq!(
            fs::metadata(&layout.ca_key).unwrap().permissions().mode() & 0o077,
            0
        );

        // A second run reuses everything (same CA, same broker key).
        ensure_pki(&layout, &users).unwrap();
        assert_eq!(fs::read_to_string(&layout.ca_cert).unwrap(), ca_pem);
        assert_eq!(
            fs::read_to_string(&layout.broker_keystore).unwrap(),
            keystore
        );
    }

    #[test]
    fn extra_client_certificates_carry_the_subject_in_java_order() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = SandboxConfig::new(tmp.path(), "/cache");
        cfg.users.clear();
        ensure_pki(&cfg.layout(), &[]).unwrap();
        let issued = issue_client_certificate(&cfg, "CN=order-service,OU=data").unwrap();
        assert!(
            issued
                .cert
                .ends_with("tls/client-order-service_ou-data.crt")
        );
        let pem = fs::read_to_string(&issued.cert).unwrap();
        let der = parse_pem(&pem);
        let (_, cert) = X509Certificate::from_der(&der[0]).unwrap();
        // x509-parser prints the attributes in encoded order; RFC 2253 (Java's getName(), so
        // Kafka's principal) prints them reversed: `CN=order-service,OU=data`, as asked.
        assert_eq!(cert.subject().to_string(), "OU=data, CN=order-service");
        let ca_pem = fs::read_to_string(ca_file(&cfg)).unwrap();
        let ca_der = parse_pem(&ca_pem);
        let (_, ca) = X509Certificate::from_der(&ca_der[0]).unwrap();
        check_signed_by_ca(&cert, &ca);
        // Asking again returns the same files, unchanged.
        let again = issue_client_certificate(&cfg, "CN=order-service,OU=data").unwrap();
        assert_eq!(again, issued);
        assert_eq!(fs::read_to_string(&again.cert).unwrap(), pem);
        assert_eq!(client_certificate(&cfg, "admin").subject, "CN=admin");
    }

    #[test]
    fn subjects_are_checked() {
        for bad in [
            "",
            "order-service",
            "OU=data",
            "CN=",
            "CN=a,CN=b",
            "XX=1,CN=a",
            "CN=a\"b",
        ] {
            assert!(
                matches!(parse_subject(bad), Err(SandboxError::InvalidSubject { .. })),
                "{bad:?}"
            );
        }
        let name = parse_subject("CN=svc, OU=data ,O=acme").unwrap();
        let order: Vec<_> = name.iter().map(|(t, _)| t.clone()).collect();
        assert_eq!(
            order,
            vec![
                DnType::OrganizationName,
                DnType::OrganizationalUnitName,
                DnType::CommonName
            ]
        );
        assert_eq!(file_stem("CN=admin"), "admin");
        assert_eq!(file_stem("CN=a b/c,OU=x"), "a_b_c_ou-x");
    }

    #[test]
    fn issuing_without_a_ca_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = SandboxConfig::new(tmp.path(), "/cache");
        let err = issue_client_certificate(&cfg, "CN=x").unwrap_err();
        assert!(err.to_string().contains("ca.key"), "{err}");
    }
}
