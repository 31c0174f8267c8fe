//! Tests of the procedure types' own checks.

use super::*;

#[test]
fn the_officer_marker_is_found_however_written() {
    let mut p = CertificateProcedure {
        name: "p".into(),
        validity_days: 1,
        extended_key_usage: vec!["clientAuth".into()],
        ..Default::default()
    };
    assert!(!p.marks_officers());
    assert!(p.validate().is_ok());
    for written in [
        OFFICER_TLS_EKU.to_string(),
        OFFICER_TLS_EKU.replace("2.25.", "02.0025."),
        format!(" {OFFICER_TLS_EKU}"),
    ] {
        p.extended_key_usage = vec!["clientAuth".into(), written.clone()];
        assert!(p.marks_officers(), "{written}");
        assert!(p.validate().unwrap_err().contains("extended_key_usage"));
    }
    p.extended_key_usage = vec![format!("{OFFICER_TLS_EKU}1")];
    assert!(!p.marks_officers());
}

#[test]
fn ocsp_no_check_needs_the_ocsp_signing_usage_and_the_error_names_the_field() {
    let mut p = CertificateProcedure {
        name: "ocsp-signing".into(),
        validity_days: 7,
        extended_key_usage: vec!["clientAuth".into()],
        ocsp_no_check: true,
        ..Default::default()
    };
    let err = p.validate().unwrap_err();
    assert!(err.starts_with("ocsp_no_check:"), "{err}");
    for eku in ["OCSPSigning", "1.3.6.1.5.5.7.3.9"] {
        p.extended_key_usage = vec![eku.into()];
        assert!(p.validate().is_ok(), "{eku}");
    }
    let text = "name = \"o\"\nvalidity_days = 7\nsubject = []\nextended_key_usage = [\"OCSPSigning\"]\nocsp_no_check = true\n";
    let parsed: CertificateProcedure = toml::from_str(text).unwrap();
    assert!(parsed.ocsp_no_check);
}
