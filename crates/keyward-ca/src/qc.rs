//! The qcStatements extension (RFC 3739 3.2.6; ETSI EN 319 412-5, EN 319 412-1, TS 119 495),
//! encoded from [`QcStatements`] with typed `der` structures.
//!
//! ```text
//! QCStatements ::= SEQUENCE OF QCStatement
//! QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY OPTIONAL }
//! ```
//!
//! Statements are written in [`QcKind::ALL`] order, so the same set always gives the same bytes.

use der::asn1::{Any, Ia5String, ObjectIdentifier, PrintableString};
use der::{Choice, Encode, Sequence};
use openssl::x509::X509Builder;
use x509_cert::ext::pkix::name::GeneralNames;

use keyward_policy::qc::{LimitValue, PdsLocation, Psd2, QcKind, QcStatements, QcType, Semantics};

use crate::der_extension::append_der;
use crate::{der_err, CaError};

const ID_PE_QC_STATEMENTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.3");
const ID_ETSI_QCS_QC_COMPLIANCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.1");
const ID_ETSI_QCS_QC_LIMIT_VALUE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.2");
const ID_ETSI_QCS_QC_RETENTION_PERIOD: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.1862.1.3");
const ID_ETSI_QCS_QC_SSCD: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.4");
const ID_ETSI_QCS_QC_PDS: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.5");
const ID_ETSI_QCS_QC_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6");
const ID_ETSI_QCT_ESIGN: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6.1");
const ID_ETSI_QCT_ESEAL: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6.2");
const ID_ETSI_QCT_WEB: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.1862.1.6.3");
const ID_QCS_PKIX_QC_SYNTAX_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.11.2");
const ID_ETSI_QCS_SEMANTICS_ID_NATURAL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.194121.1.1");
const ID_ETSI_QCS_SEMANTICS_ID_LEGAL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.194121.1.2");
const ID_ETSI_QCS_SEMANTICS_ID_EIDAS_NATURAL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.194121.1.3");
const ID_ETSI_QCS_SEMANTICS_ID_EIDAS_LEGAL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("0.4.0.194121.1.4");
const ID_ETSI_PSD2_QC_STATEMENT: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.19495.2");

/// `QCStatement ::= SEQUENCE { statementId, statementInfo ANY DEFINED BY statementId OPTIONAL }`.
#[derive(Sequence)]
struct QcStatement {
    statement_id: ObjectIdentifier,
    statement_info: Option<Any>,
}

/// `PdsLocation ::= SEQUENCE { url IA5String, language PrintableString (SIZE(2)) }`.
#[derive(Sequence)]
struct PdsLocationDer {
    url: Ia5String,
    language: PrintableString,
}

/// `Iso4217CurrencyCode ::= CHOICE { alphabetic PrintableString (SIZE 3), numeric INTEGER (1..999) }`.
#[derive(Choice)]
enum Iso4217CurrencyCode {
    Alphabetic(PrintableString),
    Numeric(u16),
}

/// `MonetaryValue ::= SEQUENCE { currency Iso4217CurrencyCode, amount INTEGER, exponent INTEGER }`.
#[derive(Sequence)]
struct MonetaryValue {
    currency: Iso4217CurrencyCode,
    amount: u64,
    exponent: i32,
}

/// `SemanticsInformation ::= SEQUENCE { semanticsIdentifier OBJECT IDENTIFIER OPTIONAL,
/// nameRegistrationAuthorities NameRegistrationAuthorities OPTIONAL }` (RFC 3739 3.2.6.1).
#[derive(Sequence)]
struct SemanticsInformation {
    semantics_identifier: Option<ObjectIdentifier>,
    name_registration_authorities: Option<GeneralNames>,
}

/// `RoleOfPSP ::= SEQUENCE { roleOfPspOid OBJECT IDENTIFIER, roleOfPspName UTF8String }`.
#[derive(Sequence)]
struct RoleOfPsp {
    role_of_psp_oid: ObjectIdentifier,
    role_of_psp_name: String,
}

/// `PSD2QcType ::= SEQUENCE { rolesOfPSP SEQUENCE OF RoleOfPSP, nCAName UTF8String,
/// nCAId UTF8String }` (TS 119 495 5.1).
#[derive(Sequence)]
struct Psd2QcType {
    roles_of_psp: Vec<RoleOfPsp>,
    n_ca_name: String,
    n_ca_id: String,
}

/// A statement with its info encoded as `Any`, the error naming `field`.
fn statement<T: der::EncodeValue + der::Tagged>(
    id: ObjectIdentifier,
    info: &T,
    field: &str,
) -> Result<QcStatement, CaError> {
    Ok(QcStatement {
        statement_id: id,
        statement_info: Some(Any::encode_from(info).map_err(der_err(field))?),
    })
}

fn qc_type_oid(t: QcType) -> ObjectIdentifier {
    match t {
        QcType::Esign => ID_ETSI_QCT_ESIGN,
        QcType::Eseal => ID_ETSI_QCT_ESEAL,
        QcType::Web => ID_ETSI_QCT_WEB,
    }
}

fn semantics_oid(s: Semantics) -> ObjectIdentifier {
    match s {
        Semantics::Natural => ID_ETSI_QCS_SEMANTICS_ID_NATURAL,
        Semantics::Legal => ID_ETSI_QCS_SEMANTICS_ID_LEGAL,
        Semantics::EidasNatural => ID_ETSI_QCS_SEMANTICS_ID_EIDAS_NATURAL,
        Semantics::EidasLegal => ID_ETSI_QCS_SEMANTICS_ID_EIDAS_LEGAL,
    }
}

fn pds(locations: &[PdsLocation]) -> Result<QcStatement, CaError> {
    let locations = locations
        .iter()
        .map(|l| {
            Ok(PdsLocationDer {
                url: Ia5String::new(&l.url).map_err(der_err("qc_statements.pds.url"))?,
                language: PrintableString::new(&l.language)
                    .map_err(der_err("qc_statements.pds.language"))?,
            })
        })
        .collect::<Result<Vec<_>, CaError>>()?;
    statement(ID_ETSI_QCS_QC_PDS, &locations, "qc_statements.pds")
}

fn limit_value(limit: &LimitValue) -> Result<QcStatement, CaError> {
    let c = &limit.currency;
    let currency = if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Iso4217CurrencyCode::Alphabetic(
            PrintableString::new(c).map_err(der_err("qc_statements.limit_value.currency"))?,
        )
    } else {
        match c.parse::<u16>() {
            Ok(n) if (1..=999).contains(&n) => Iso4217CurrencyCode::Numeric(n),
            _ => {
                return Err(CaError::Encoding {
                    field: "qc_statements.limit_value.currency".into(),
                    reason: format!(
                        "{c:?} is neither three capital letters nor a number from 1 to 999"
                    ),
                })
            }
        }
    };
    let value = MonetaryValue {
        currency,
        amount: limit.amount,
        exponent: limit.exponent,
    };
    statement(
        ID_ETSI_QCS_QC_LIMIT_VALUE,
        &value,
        "qc_statements.limit_value",
    )
}

fn psd2(psd2: &Psd2) -> Result<QcStatement, CaError> {
    let roles =
        psd2.roles
            .iter()
            .map(|role| {
                // id-psd2-role (0.4.0.19495.1) . arc
                let oid = ObjectIdentifier::new(&format!("0.4.0.19495.1.{}", role.arc())).map_err(
                    |e| CaError::Encoding {
                        field: "qc_statements.psd2.roles".into(),
                        reason: e.to_string(),
                    },
                )?;
                Ok(RoleOfPsp {
                    role_of_psp_oid: oid,
                    role_of_psp_name: role.name().to_string(),
                })
            })
            .collect::<Result<Vec<_>, CaError>>()?;
    let value = Psd2QcType {
        roles_of_psp: roles,
        n_ca_name: psd2.nca_name.clone(),
        n_ca_id: psd2.nca_id.clone(),
    };
    statement(ID_ETSI_PSD2_QC_STATEMENT, &value, "qc_statements.psd2")
}

/// The statements as a list, in [`QcKind::ALL`] order; empty when none is made.
fn statements(qc: &QcStatements) -> Result<Vec<QcStatement>, CaError> {
    let mut out = Vec::new();
    for kind in QcKind::ALL {
        let s = match kind {
            QcKind::Compliance if qc.compliance => QcStatement {
                statement_id: ID_ETSI_QCS_QC_COMPLIANCE,
                statement_info: None,
            },
            QcKind::Sscd if qc.sscd => QcStatement {
                statement_id: ID_ETSI_QCS_QC_SSCD,
                statement_info: None,
            },
            QcKind::Type if !qc.qc_type.is_empty() => {
                let types: Vec<ObjectIdentifier> =
                    qc.qc_type.iter().copied().map(qc_type_oid).collect();
                statement(ID_ETSI_QCS_QC_TYPE, &types, "qc_statements.type")?
            }
            QcKind::Pds if !qc.pds.is_empty() => pds(&qc.pds)?,
            QcKind::RetentionPeriod => match qc.retention_period {
                Some(years) => statement(
                    ID_ETSI_QCS_QC_RETENTION_PERIOD,
                    &years,
                    "qc_statements.retention_period",
                )?,
                None => continue,
            },
            QcKind::LimitValue => match &qc.limit_value {
                Some(limit) => limit_value(limit)?,
                None => continue,
            },
            QcKind::Semantics => match qc.semantics {
                Some(s) => statement(
                    ID_QCS_PKIX_QC_SYNTAX_V2,
                    &SemanticsInformation {
                        semantics_identifier: Some(semantics_oid(s)),
                        name_registration_authorities: None,
                    },
                    "qc_statements.semantics",
                )?,
                None => continue,
            },
            QcKind::Psd2 => match &qc.psd2 {
                Some(p) => psd2(p)?,
                None => continue,
            },
            _ => continue,
        };
        out.push(s);
    }
    Ok(out)
}

/// The DER value of the qcStatements extension (`QCStatements`, the extnValue contents) for
/// `qc`, statements in [`QcKind::ALL`] order. An empty set gives an empty `SEQUENCE`; a
/// certificate carries no extension for it.
pub fn qc_statements_der(qc: &QcStatements) -> Result<Vec<u8>, CaError> {
    statements(qc)?.to_der().map_err(der_err("qc_statements"))
}

/// Appends the non-critical qcStatements extension (EN 319 412-5 4.1: not critical), unless
/// `qc` makes no statement.
pub(crate) fn append(b: &mut X509Builder, qc: &QcStatements) -> Result<(), CaError> {
    if qc.is_empty() {
        return Ok(());
    }
    let der = qc_statements_der(qc)?;
    append_der(b, ID_PE_QC_STATEMENTS, false, &der, "qcStatements")
}
