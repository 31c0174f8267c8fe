use super::*;

fn dn(text: &str) -> DistinguishedName {
    DistinguishedName::parse(text).unwrap()
}

fn flags(list: &[&str]) -> Result<QcStatements, QcError> {
    let mut qc = QcStatements::default();
    for f in list {
        qc.add_flag(f)?;
    }
    Ok(qc)
}

fn procedure() -> QcStatements {
    QcStatements {
        compliance: true,
        qc_type: vec![QcType::Esign],
        pds: vec![PdsLocation {
            url: "https://pki.example.com/pds-en.pdf".into(),
            language: "en".into(),
        }],
        semantics: Some(Semantics::Natural),
        ..Default::default()
    }
}

#[test]
fn flags_parse_every_kind() {
    let qc = flags(&[
        "compliance",
        "sscd",
        "type=eseal",
        "pds=https://example.com/pds-sv.pdf@sv",
        "pds=https://example.com/pds-en.pdf@en",
        "retention-period=15",
        "limit_value=EUR:10000:2",
        "semantics=eidas-legal",
        "psd2=PSP_AI+psp_pi:SE-FI:Finansinspektionen",
    ])
    .unwrap();
    assert_eq!(qc.kinds(), QcKind::ALL.to_vec());
    assert_eq!(qc.pds[0].language, "sv");
    assert_eq!(
        qc.limit_value,
        Some(LimitValue {
            currency: "EUR".into(),
            amount: 10000,
            exponent: 2
        })
    );
    let psd2 = qc.psd2.as_ref().unwrap();
    assert_eq!(
        psd2.roles,
        [Psd2Role::AccountInformation, Psd2Role::PaymentInitiation]
    );
    assert_eq!(
        (psd2.nca_id.as_str(), psd2.nca_name.as_str()),
        ("SE-FI", "Finansinspektionen")
    );
    qc.validate().unwrap();
}

#[test]
fn bad_flags_name_the_statement() {
    let cases = [
        ("qualified", "qc-statement"),
        ("compliance=yes", "qc_statements.compliance"),
        ("type=money", "qc_statements.type"),
        ("type", "qc_statements.type"),
        ("pds=https://example.com/pds.pdf", "qc_statements.pds"),
        ("retention_period=ten", "qc_statements.retention_period"),
        ("limit_value=EUR", "qc_statements.limit_value"),
        ("limit_value=EUR:-5", "qc_statements.limit_value"),
        ("semantics=person", "qc_statements.semantics"),
        ("psd2=PSP_XX:SE-FI:FI", "qc_statements.psd2.roles"),
        ("psd2=PSP_AI", "qc_statements.psd2"),
    ];
    for (flag, field) in cases {
        let err = flags(&[flag]).unwrap_err();
        assert_eq!(err.field, field, "{flag}: {err}");
    }
}

#[test]
fn validation_refuses_bad_content() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["pds=ftp://example.com/pds.pdf@en"],
            "qc_statements.pds.url",
        ),
        (
            &["pds=https://example.com/pds.pdf@EN"],
            "qc_statements.pds.language",
        ),
        (&["pds=https://example.com/pds.pdf@sv"], "qc_statements.pds"),
        (&["retention_period=0"], "qc_statements.retention_period"),
        (
            &["limit_value=euro:5"],
            "qc_statements.limit_value.currency",
        ),
        (&["sscd"], "qc_statements.sscd"),
        (&["type=esign", "type=eseal"], "qc_statements.type"),
        (&["psd2=PSP_AI:SWEDEN:FI"], "qc_statements.psd2.nca_id"),
    ];
    for (list, field) in cases {
        let err = flags(list).unwrap().validate().unwrap_err();
        assert_eq!(err.field, field, "{list:?}: {err}");
    }
}

#[test]
fn merge_adds_but_never_overrides() {
    let may = [QcKind::LimitValue, QcKind::RetentionPeriod, QcKind::Psd2];
    let officer = flags(&["limit_value=EUR:5000", "retention_period=20"]).unwrap();
    let merged = procedure().merge(&officer, &may, &[]).unwrap();
    assert!(merged.compliance && merged.limit_value.is_some());
    assert_eq!(merged.retention_period, Some(20));
    assert_eq!(merged.qc_type, [QcType::Esign]);

    // A kind the procedure sets cannot be given again, even when it is the same value.
    let again = flags(&["type=esign"]).unwrap();
    let err = procedure().merge(&again, &[QcKind::Type], &[]).unwrap_err();
    assert_eq!(err.field, "qc_statements.type");
    assert!(err.reason.contains("cannot override"), "{err}");

    // A kind the procedure does not open to officers.
    let err = procedure()
        .merge(&flags(&["sscd"]).unwrap(), &may, &[])
        .unwrap_err();
    assert!(err.reason.contains("does not let"), "{err}");

    // A required kind missing.
    let err = procedure()
        .merge(&QcStatements::default(), &may, &[QcKind::Psd2])
        .unwrap_err();
    assert_eq!(err.field, "qc_statements.psd2");

    // Nothing from the officer: the procedure's statements unchanged.
    assert_eq!(
        procedure()
            .merge(&QcStatements::default(), &[], &[])
            .unwrap(),
        procedure()
    );
}

#[test]
fn subject_must_match_semantics_and_psd2() {
    let natural = procedure();
    natural
        .check_subject(&dn("CN=Anna,serialNumber=PNOSE-197001010007,C=SE"))
        .unwrap();
    let err = natural.check_subject(&dn("CN=Anna,C=SE")).unwrap_err();
    assert_eq!(err.field, "qc_statements.semantics");

    let psd2 = flags(&["semantics=legal", "psd2=PSP_AI:SE-FI:Finansinspektionen"]).unwrap();
    psd2.check_subject(&dn(
        "CN=Bank,organizationIdentifier=PSDSE-FI-123456,O=Bank AB,C=SE",
    ))
    .unwrap();
    for subject in [
        "CN=Bank,organizationIdentifier=PSDSE-FI-,O=Bank AB,C=SE",
        "CN=Bank,organizationIdentifier=PSDDE-BAFIN-1,O=Bank AB,C=SE",
    ] {
        let err = psd2.check_subject(&dn(subject)).unwrap_err();
        assert_eq!(err.field, "qc_statements.psd2.nca_id", "{subject}");
    }
    let err = psd2
        .check_subject(&dn("CN=Bank,O=Bank AB,C=SE"))
        .unwrap_err();
    assert_eq!(err.field, "qc_statements.semantics");
}

#[test]
fn toml_form_round_trips() {
    let text = r#"
compliance = true
type = ["eseal"]
pds = [{ url = "https://pki.example.com/pds-en.pdf", language = "en" }]
semantics = "legal"
retention_period = 15
limit_value = { currency = "EUR", amount = 1000, exponent = 3 }
psd2 = { roles = ["PSP_AS", "PSP_PI"], nca_name = "Finansinspektionen", nca_id = "SE-FI" }
"#;
    let qc: QcStatements = toml::from_str(text).unwrap();
    qc.validate().unwrap();
    assert_eq!(qc.kinds().len(), 7);
    let back: QcStatements = serde_json::from_str(&serde_json::to_string(&qc).unwrap()).unwrap();
    assert_eq!(back, qc);
    assert!(toml::from_str::<QcStatements>("qualified = true").is_err());
}

#[test]
fn numeric_currency_zero_is_refused() {
    // Found by the `qc_flags` fuzz target: `limit_value=00:2` passed validate, then the CA
    // refused to encode it (ISO 4217 numeric codes are 1 to 999).
    for currency in ["0", "00", "000"] {
        let mut qc = QcStatements::default();
        qc.add_flag(&format!("limit_value={currency}:2")).unwrap();
        let err = qc.validate().unwrap_err();
        assert_eq!(
            err.field, "qc_statements.limit_value.currency",
            "{currency}"
        );
    }
    let mut qc = QcStatements::default();
    qc.add_flag("limit_value=978:2").unwrap();
    assert!(qc.validate().is_ok());
}
