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
