//! Fifty tokens in a row never share a Certificate ID or a serial, and certificate search finds
//! each by ID, serial and subject. PINs shown to the officer appear in no log and not in the
//! database.

use crate::common;

use std::collections::BTreeSet;

use common::{on_both_engines, run, text, Engine, Installation};

on_both_engines!(fifty_tokens_have_distinct_ids_and_serials);

fn fifty_tokens_have_distinct_ids_and_serials(engine: Engine) {
    let inst = Installation::on(engine);
    let mut ids = BTreeSet::new();
    let mut serials = BTreeSet::new();
    let mut pins = Vec::new();
    let mut last = serde_json::Value::Null;
    for i in 0..50 {
        let p12 = inst.out.join(format!("u{i}.p12"));
        let out = run(
            inst.ra(&[
                "issue",
                "--procedure",
                "soft-signing-show",
                "--subject",
                &format!("CN=Unique Person {i:02},O=Example"),
                "--key-spec",
                "EC:secp256r1",
                "--p12",
                p12.to_str().unwrap(),
                "--json",
            ]),
            None,
        );
        assert!(out.status.success(), "token {i}: {}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let c = &json["certificates"][0];
        assert!(
            ids.insert(
                c["certificate_id"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            ),
            "{c}"
        );
        let serial = c["serial"].as_str().unwrap().to_string();
        assert!(serial.len() >= 16, "at least 64 bits: {serial}");
        assert!(serials.insert(serial), "{c}");
        pins.push(
            json["pin"]
                .as_str()
                .expect("show PIN printed once")
                .to_string(),
        );
        last = c.clone();
    }
    assert_eq!(ids.len(), 50);
    assert_eq!(serials.len(), 50);

    let serial = last["serial"].as_str().unwrap();
    let by_serial = run(
        inst.ra(&["certificates", "--serial", &serial.to_uppercase(), "--json"]),
        None,
    );
    assert!(by_serial.status.success(), "{}", text(&by_serial));
    let found: serde_json::Value = serde_json::from_slice(&by_serial.stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["certificate_id"], last["certificate_id"]);
    // As officers copy it: `openssl x509 -text`'s pairs with colons, spaces, a 0x prefix.
    let even = if serial.len() % 2 == 1 {
        format!("0{serial}")
    } else {
        serial.to_string()
    };
    let pairs: Vec<&str> = (0..even.len())
        .step_by(2)
        .map(|i| &even[i..i + 2])
        .collect();
    for spelled in [
        pairs.join(":"),
        pairs.join(" ").to_uppercase(),
        format!("0x00{serial}"),
    ] {
        let out = run(
            inst.ra(&["certificates", "--serial", &spelled, "--json"]),
            None,
        );
        assert!(out.status.success(), "{spelled}: {}", text(&out));
        let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(found.as_array().unwrap().len(), 1, "{spelled}");
        assert_eq!(found[0]["certificate_id"], last["certificate_id"]);
    }
    let bad = run(inst.ra(&["certificates", "--serial", "5d:g9"]), None);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("'g' is not a hex digit"),
        "{}",
        text(&bad)
    );
    let by_id = run(
        inst.ra(&[
            "certificates",
            "--id",
            last["certificate_id"].as_str().unwrap(),
            "--json",
        ]),
        None,
    );
    let found: serde_json::Value = serde_json::from_slice(&by_id.stdout).unwrap();
    assert_eq!(found[0]["serial"], last["serial"]);
    let by_subject = run(
        inst.ra(&["certificates", "--subject", "unique person 1", "--json"]),
        None,
    );
    let found: serde_json::Value = serde_json::from_slice(&by_subject.stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 10, "Unique Person 10..19");

    let database = inst.database_image();
    assert!(
        database
            .iter()
            .any(|(_, b)| b.windows(serial.len()).any(|w| w == serial.as_bytes())),
        "the database image holds what the database holds (the last serial)"
    );
    let log = inst.log();
    for pin in &pins {
        assert!(!log.contains(pin.as_str()), "a PIN is in the server log");
        for (name, bytes) in &database {
            assert!(
                !bytes.windows(pin.len()).any(|w| w == pin.as_bytes()),
                "a PIN is in the database ({name})"
            );
        }
    }
}
