//! `ra procedures` fits 100 columns (issue 17, item 14): the widest cells wrap onto continuation
//! lines; `--wide` keeps one line per procedure.

use crate::common;

use common::{run, text, Installation};

#[test]
fn ra_procedures_fits_100_columns_unless_wide() {
    let inst = Installation::new();
    let json = run(inst.ra(&["procedures", "--json"]), None);
    assert!(json.status.success(), "{}", text(&json));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<String> = json["token_procedures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.len() > 10, "{names:?}");

    let fitted = run(inst.ra(&["procedures"]), None);
    assert!(fitted.status.success(), "{}", text(&fitted));
    let fitted = String::from_utf8(fitted.stdout).unwrap();
    for line in fitted.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    // Every procedure starts a row of its own, its name in the first column.
    for name in &names {
        assert!(
            fitted
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} in\n{fitted}"
        );
    }

    let wide = run(inst.ra(&["procedures", "--wide"]), None);
    assert!(wide.status.success(), "{}", text(&wide));
    let wide = String::from_utf8(wide.stdout).unwrap();
    assert_eq!(wide.lines().count(), names.len() + 1, "{wide}");
    assert!(wide.lines().any(|l| l.chars().count() > 100), "{wide}");
}
