//! Subjects made to deceive (issue 15, defect 5), through the content check with the demo
//! procedures: invisible and reordering characters, private-use and unassigned code points,
//! blank values, stacked combining marks and look-alike letters of another script are refused,
//! naming the attribute; real names in any one script pass.

use super::*;
use crate::plan::plan_token;
use crate::procedure::ProcedureSet;
use crate::KeySpec;

const PROCEDURES: &str = include_str!("../../../keyward-admin/src/procedures.toml");

fn check(set: &ProcedureSet, token: &str, subject: &str) -> Result<Checked, ContentError> {
    let resolved = set.resolve(token).unwrap();
    let plan = plan_token(&resolved, KeySpec::Ec(crate::keyspec::Curve::Secp256r1)).unwrap();
    let alt_names = AltNames {
        dns: if token == "soft-tls-server" {
            vec!["host.example.com".into()]
        } else {
            vec![]
        },
        ip: vec![],
    };
    check_content(
        &resolved,
        &plan,
        &ContentFields {
            subject,
            email: None,
            alt_names: &alt_names,
            qc_statements: &QcStatements::default(),
            recover: &[],
        },
    )
}

fn procedures() -> ProcedureSet {
    let set: ProcedureSet = toml::from_str(PROCEDURES).unwrap();
    set.validate().unwrap();
    set
}

#[test]
fn deceptive_subjects_are_refused_naming_the_attribute() {
    // (subject, field, words the reason holds)
    let cases = [
        ("CN=Eve\u{202E}gnp.exe", "CN", "U+202E"),
        ("CN=Eve\u{202D}x", "CN", "U+202D"),
        ("CN=Eve\u{2066}x\u{2069}", "CN", "U+2066"),
        ("CN=Eve\u{2067}x", "CN", "U+2067"),
        ("CN=Eve\u{2068}x", "CN", "U+2068"),
        ("CN=Eve\u{200E}", "CN", "U+200E"),
        ("CN=Eve\u{200F}", "CN", "U+200F"),
        ("CN=ad\u{200B}min", "CN", "U+200B"),
        ("CN=ad\u{200C}min", "CN", "U+200C"),
        ("CN=ad\u{200D}min", "CN", "U+200D"),
        ("CN=ad\u{2060}min", "CN", "U+2060"),
        ("CN=\u{FEFF}admin", "CN", "U+FEFF"),
        ("CN=a\u{2028}b", "CN", "line separator"),
        ("CN=a\u{2029}b", "CN", "paragraph separator"),
        ("CN=a\u{E000}b", "CN", "private-use"),
        ("CN=a\u{FDD0}b", "CN", "noncharacter"),
        ("CN=a\u{FFFF}b", "CN", "noncharacter"),
        ("CN=admin\u{E0061}\u{E0062}", "CN", "U+E0061"),
        (
            "CN=Z\u{0301}\u{0302}\u{0303}\u{0304}\u{0305}",
            "CN",
            "combining marks",
        ),
        ("CN=Alice,O=Ex\u{202E}ample", "O", "U+202E"),
        (r"CN=\20\20\20", "CN", "is blank"),
        (r"CN=\ \ \ ", "CN", "is blank"),
        (r"CN=Alice,O=\20", "O", "is blank"),
        (r"CN=Eve\E2\80\AEgnp.exe", "CN", "U+202E"),
        ("CN=\u{0430}dm\u{0456}n", "CN", "mixes"),
        ("CN=Alice,O=Ex\u{0430}mple", "O", "mixes"),
        ("CN=P\u{0430}ypal,O=Example", "CN", "Cyrillic"),
    ];
    let set = procedures();
    for (subject, field, words) in cases {
        let e = check(&set, "soft-signing", subject).unwrap_err();
        assert_eq!(e.field, field, "{subject:?}: {e}");
        assert!(e.reason.contains(words), "{subject:?}: {e}");
    }
}

#[test]
fn the_procedure_names_the_scripts_it_allows() {
    let set = procedures();
    // Any one script by default (signing); Latin only for servers (tls-server).
    let cyrillic = "CN=\u{0418}\u{0432}\u{0430}\u{043D}";
    assert!(check(&set, "soft-signing", cyrillic).is_ok());
    let e = check(&set, "soft-tls-server", cyrillic).unwrap_err();
    assert_eq!(e.field, "CN", "{e}");
    assert!(e.reason.contains("allows Latin"), "{e}");
    assert!(check(&set, "soft-tls-server", "CN=host.example.com").is_ok());

    // A procedure may allow two scripts mixed.
    let mixed = "CN=Pa\u{03C5}los";
    assert!(check(&set, "soft-signing", mixed).is_err());
    let text = PROCEDURES.replacen(
        "name = \"signing\"\n",
        "name = \"signing\"\nsubject_scripts = [\"Latin\", \"Grek\"]\n",
        1,
    );
    let greek: ProcedureSet = toml::from_str(&text).unwrap();
    greek.validate().unwrap();
    assert!(check(&greek, "soft-signing", mixed).is_ok());
    assert!(check(&greek, "soft-signing", cyrillic).is_err());

    let wrong = PROCEDURES.replacen(
        "name = \"signing\"\n",
        "name = \"signing\"\nsubject_scripts = [\"Klingon\"]\n",
        1,
    );
    let wrong: ProcedureSet = toml::from_str(&wrong).unwrap();
    let e = wrong.validate().unwrap_err().to_string();
    assert!(
        e.contains("subject_scripts") && e.contains("Klingon"),
        "{e}"
    );
    let long = PROCEDURES.replacen("validity_days = 730", "validity_days = 4000000000", 1);
    let long: ProcedureSet = toml::from_str(&long).unwrap();
    let e = long.validate().unwrap_err().to_string();
    assert!(e.contains("validity_days"), "{e}");
}

#[test]
fn real_names_pass() {
    let set = procedures();
    for subject in [
        "CN=Alice Example,O=Example,C=SE",
        "CN=J\u{00F6}rg M\u{00FC}ller,O=Beispiel GmbH",
        r"CN=J\C3\B6rg",
        "CN=Nguy\u{1EC5}n V\u{0103}n A",
        "CN=\u{5C71}\u{7530} \u{305F}\u{308D}\u{3046}",
        "CN=\u{0418}\u{0432}\u{0430}\u{043D} \u{041F}\u{0435}\u{0442}\u{0440}\u{043E}\u{0432}",
        "CN=\u{039D}\u{03AF}\u{03BA}\u{03BF}\u{03C2} 2,O=Example",
        r"CN=Smith\, John,O=R&D (Lab 1)",
        r"CN=Alice\ ",
    ] {
        let checked = check(&set, "soft-signing", subject);
        assert!(checked.is_ok(), "{subject:?}: {checked:?}");
    }
}
