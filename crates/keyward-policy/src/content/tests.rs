use super::*;
use crate::plan::plan_token;
use crate::procedure::ProcedureSet;
use crate::qc::QcKind;
use crate::KeySpec;

/// The demo procedures `keyward init` installs.
const PROCEDURES: &str = include_str!("../../../keyward-admin/src/procedures.toml");

const ALICE: &str = "CN=Alice Example,O=Example,C=SE";
const ANNA: &str = "CN=Anna Svensson,GN=Anna,SN=Svensson,serialNumber=PNOSE-197001010007,C=SE";
const BANK: &str =
    "CN=Example Bank AB,organizationIdentifier=PSDSE-FI-123456,O=Example Bank AB,L=Stockholm,C=SE";

/// One row: a token procedure of the demo set and what the officer typed.
struct Case {
    name: &'static str,
    token: &'static str,
    subject: &'static str,
    email: Option<&'static str>,
    dns: Vec<&'static str>,
    ip: Vec<&'static str>,
    qc: Vec<&'static str>,
    recover: Vec<KeySelection>,
}

fn case(name: &'static str, token: &'static str, subject: &'static str) -> Case {
    Case {
        name,
        token,
        subject,
        email: None,
        dns: vec![],
        ip: vec![],
        qc: vec![],
        recover: vec![],
    }
}

impl Case {
    fn email(mut self, email: &'static str) -> Case {
        self.email = Some(email);
        self
    }
    fn dns(mut self, names: &[&'static str]) -> Case {
        self.dns = names.to_vec();
        self
    }
    fn ip(mut self, addresses: &[&'static str]) -> Case {
        self.ip = addresses.to_vec();
        self
    }
    fn qc(mut self, flags: &[&'static str]) -> Case {
        self.qc = flags.to_vec();
        self
    }
    fn recover_id(mut self, id: &str) -> Case {
        self.recover.push(KeySelection::CertificateId(id.into()));
        self
    }
    fn recover_serial(mut self, serial: &str) -> Case {
        self.recover.push(KeySelection::Serial(serial.into()));
        self
    }

    fn run(&self, set: &ProcedureSet) -> Result<Checked, ContentError> {
        let resolved = set
            .resolve(self.token)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        let plan = plan_token(&resolved, KeySpec::Ec(crate::keyspec::Curve::Secp256r1))
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        let alt_names = AltNames {
            dns: self.dns.iter().map(|s| s.to_string()).collect(),
            ip: self.ip.iter().map(|s| s.to_string()).collect(),
        };
        let mut qc = QcStatements::default();
        for flag in &self.qc {
            qc.add_flag(flag)
                .unwrap_or_else(|e| panic!("{}: {flag}: {e}", self.name));
        }
        check_content(
            &resolved,
            &plan,
            &ContentFields {
                subject: self.subject,
                email: self.email,
                alt_names: &alt_names,
                qc_statements: &qc,
                recover: &self.recover,
            },
        )
    }
}

fn procedures() -> ProcedureSet {
    let set: ProcedureSet = toml::from_str(PROCEDURES).unwrap();
    set.validate().unwrap();
    set
}

/// An accepted case and what it yields: the certificate procedures checked, and the DNS names
/// and IP addresses for the certificate.
type Accepted<'a> = (Case, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

#[test]
fn accepted() {
    let cases: Vec<Accepted> = vec![
        (
            case("the seed's subject fields", "soft-signing", ALICE),
            &["signing"],
            &[],
            &[],
        ),
        (
            case("an optional e-mail", "soft-signing", ALICE).email("alice@example.com"),
            &["signing"],
            &[],
            &[],
        ),
        (
            case(
                "a local and an archived key: both procedures",
                "soft-dual",
                ALICE,
            ),
            &["signing", "encryption"],
            &[],
            &[],
        ),
        (
            case(
                "DNS names lower-cased, duplicates dropped",
                "soft-tls-server",
                "CN=host.example.com",
            )
            .dns(&["Host.Example.COM", "host.example.com", "www.example.com"])
            .ip(&["10.0.0.1", "10.0.0.1", "::1"]),
            &["tls-server"],
            &["host.example.com", "www.example.com"],
            &["10.0.0.1", "::1"],
        ),
        (
            case(
                "an officer adds what the procedure opens",
                "qualified-natural-person",
                ANNA,
            )
            .qc(&["limit_value=SEK:5:4", "retention_period=15"]),
            &["qualified-natural-person"],
            &[],
            &[],
        ),
        (
            case(
                "the PSD2 statement the procedure requires",
                "psd2-qseal",
                BANK,
            )
            .qc(&["psd2=PSP_AI+PSP_PI:SE-FI:Finansinspektionen"]),
            &["psd2-qseal"],
            &[],
            &[],
        ),
        (
            case(
                "a recovery with a new certificate: its procedure",
                "recover-encryption-new",
                ALICE,
            ),
            &["encryption"],
            &[],
            &[],
        ),
        (
            case(
                "keys picked by Certificate ID and serial",
                "recover-encryption-reuse",
                ALICE,
            )
            .recover_id("12")
            .recover_serial("0a:1B"),
            &[],
            &[],
            &[],
        ),
        (
            case(
                "keys picked for a recovery with a new certificate",
                "recover-encryption-new",
                ALICE,
            )
            .recover_serial("7fffffff"),
            &["encryption"],
            &[],
            &[],
        ),
        (
            case(
                "the officer certificate",
                "officer",
                "CN=Officer One,O=Example,C=SE",
            ),
            &["officer"],
            &[],
            &[],
        ),
    ];
    let set = procedures();
    for (case, names, dns, ips) in cases {
        let checked = case
            .run(&set)
            .unwrap_or_else(|e| panic!("{}: refused: {e}", case.name));
        let checked_names: Vec<&str> = checked.procedures.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(checked_names, names, "{}", case.name);
        assert_eq!(
            checked.subject,
            DistinguishedName::parse(case.subject).unwrap(),
            "{}",
            case.name
        );
        assert_eq!(checked.dns_names, dns, "{}", case.name);
        let ips: Vec<IpAddr> = ips.iter().map(|t| t.parse().unwrap()).collect();
        assert_eq!(checked.ip_addresses, ips, "{}", case.name);
        for name in names {
            assert!(checked.procedure(name).is_some(), "{}: {name}", case.name);
        }
    }
}

/// (case, field, reason): the first problem found, worded as the officer sees it.
#[test]
fn refused() {
    let cases: Vec<(Case, &str, &str)> = vec![
        (
            case("a multi-valued RDN", "soft-signing", "CN=Alice+O=Example"),
            "subject",
            "multi-valued RDNs ('+') are not supported",
        ),
        (
            case("an unknown attribute", "soft-signing", "XX=1"),
            "subject",
            "unknown attribute \"XX\"",
        ),
        (
            case("an attribute the procedure does not list", "soft-signing", "CN=Alice,DC=example"),
            "DC",
            "not allowed by certificate procedure signing",
        ),
        (
            case("a required attribute missing", "soft-signing", "O=Example,C=SE"),
            "CN",
            "required by certificate procedure signing",
        ),
        (
            case("a country code in lower case", "soft-signing", "CN=Alice,C=se"),
            "C",
            "must be a two-letter ISO 3166 code in capitals, such as SE (certificate procedure signing)",
        ),
        (
            case("an e-mail the procedure refuses", "officer", "CN=Officer One").email("o@example.com"),
            "email",
            "not allowed by certificate procedure officer",
        ),
        (
            case("an e-mail that is not one", "soft-signing", ALICE).email("alice"),
            "email",
            "\"alice\" is not an e-mail address (certificate procedure signing)",
        ),
        (
            case("the archived key's procedure refuses an attribute", "soft-dual", "CN=Alice,GN=Alice"),
            "GN",
            "not allowed by certificate procedure encryption",
        ),
        (
            case("the recovery certificate's procedure refuses an attribute", "recover-encryption-new", "CN=Alice,GN=Alice"),
            "GN",
            "not allowed by certificate procedure encryption",
        ),
        (
            case("a required DNS name missing", "soft-tls-server", "CN=host.example.com"),
            "dns-name",
            "required by certificate procedure tls-server",
        ),
        (
            case("a DNS name the procedure refuses", "soft-signing", ALICE).dns(&["host.example.com"]),
            "dns-name",
            "not allowed by certificate procedure signing",
        ),
        (
            case("a wildcard", "soft-tls-server", "CN=host.example.com").dns(&["*.example.com"]),
            "dns-name",
            "\"*.example.com\": label \"*\" is not 1 to 63 letters, digits or '-' (no wildcards) (certificate procedure tls-server)",
        ),
        (
            case("an IP address that names no host", "soft-tls-server", "CN=host.example.com")
                .dns(&["host.example.com"])
                .ip(&["0.0.0.0"]),
            "ip",
            "0.0.0.0 cannot name a host (certificate procedure tls-server)",
        ),
        (
            case("a malformed DNS name without a new certificate", "recover-encryption-reuse", ALICE)
                .dns(&["localhost"]),
            "dns-name",
            "\"localhost\": a domain name has at least two labels (host.example.com)",
        ),
        (
            case("a Certificate ID that is not decimal", "recover-encryption-reuse", ALICE).recover_id("12a"),
            "recover-id",
            "\"12a\" is not a Certificate ID (a decimal number)",
        ),
        (
            case("a serial number that is not hex", "recover-encryption-reuse", ALICE).recover_serial("xyz"),
            "recover-serial",
            "\"xyz\": 'x' is not a hex digit (a serial is hex, e.g. 5d:e9:36 or 5DE936)",
        ),
        (
            case("an empty serial number", "recover-encryption-new", ALICE).recover_serial(""),
            "recover-serial",
            "\"\": no hex digits (a serial is hex, e.g. 5d:e9:36 or 5DE936)",
        ),
        (
            case("keys picked for a token that recovers none", "soft-signing", ALICE).recover_serial("0a"),
            "recover",
            "token procedure soft-signing recovers no keys",
        ),
        (
            case("a statement the procedure sets", "qualified-natural-person", ANNA).qc(&["type=web"]),
            "qc_statements.type",
            "set by the certificate procedure; an officer cannot override it (certificate procedure qualified-natural-person)",
        ),
        (
            case("a statement the procedure does not open", "soft-signing", ALICE).qc(&["compliance"]),
            "qc_statements.compliance",
            "the certificate procedure does not let an officer add this statement (certificate procedure signing)",
        ),
        (
            case("a required statement missing", "psd2-qseal", BANK),
            "qc_statements.psd2",
            "the certificate procedure requires the officer to give this statement (certificate procedure psd2-qseal)",
        ),
        (
            case("a statement out of range", "qualified-natural-person", ANNA).qc(&["retention_period=500"]),
            "qc_statements.retention_period",
            "years from 1 to 100 (certificate procedure qualified-natural-person)",
        ),
        (
            case("a PSD2 NCA other than the subject's", "psd2-qseal", BANK).qc(&["psd2=PSP_AI:DE-BAFIN:BaFin"]),
            "qc_statements.psd2.nca_id",
            "the subject's organizationIdentifier must be PSDDE-BAFIN-<PSP identifier> (TS 119 495), not \"PSDSE-FI-123456\" (certificate procedure psd2-qseal)",
        ),
        (
            case("statements for a token without a new certificate", "recover-encryption-reuse", ALICE)
                .qc(&["retention_period=10"]),
            "qc-statement",
            "token procedure recover-encryption-reuse issues no certificate to add QC statements to",
        ),
        (
            case("the subject is checked before the picked keys", "soft-signing", "O=Example").recover_id("x"),
            "CN",
            "required by certificate procedure signing",
        ),
        (
            case("the picked keys are checked before the statements", "recover-encryption-new", ALICE)
                .recover_id("x")
                .qc(&["compliance"]),
            "recover-id",
            "\"x\" is not a Certificate ID (a decimal number)",
        ),
    ];
    let set = procedures();
    for (case, field, reason) in cases {
        let e = match case.run(&set) {
            Ok(checked) => panic!("{}: accepted: {checked:?}", case.name),
            Err(e) => e,
        };
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            (field, reason),
            "{}",
            case.name
        );
        assert_eq!(e.to_string(), format!("{field}: {reason}"), "{}", case.name);
    }
}

#[test]
fn the_officers_statements_are_merged_into_each_procedure() {
    let checked = case("merge", "qualified-natural-person", ANNA)
        .qc(&["limit_value=SEK:5:4"])
        .run(&procedures())
        .unwrap();
    let qc = &checked
        .procedure("qualified-natural-person")
        .unwrap()
        .qc_statements;
    // The procedure's own statements stay, the officer's is added.
    for kind in [
        QcKind::Compliance,
        QcKind::Type,
        QcKind::Pds,
        QcKind::Semantics,
        QcKind::LimitValue,
    ] {
        assert!(qc.has(kind), "{kind}");
    }
    assert!(!qc.has(QcKind::RetentionPeriod));
}

#[test]
fn no_token_carries_the_officers_tls_marker() {
    let mut set = procedures();
    let signing = set
        .certificate
        .iter_mut()
        .find(|c| c.name == "signing")
        .unwrap();
    signing
        .extended_key_usage
        .push(crate::OFFICER_TLS_EKU.replace("2.25.", "2.025."));
    let err = set.validate().unwrap_err().to_string();
    assert!(err.contains("extended_key_usage"), "{err}");
    // Even when a set that bypassed validation (a database edited by hand) reaches the check.
    let err = case("marker", "soft-signing", ALICE)
        .run(&set)
        .unwrap_err()
        .to_string();
    assert!(err.contains("reserved for officer certificates"), "{err}");
}
