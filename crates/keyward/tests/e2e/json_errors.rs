//! `--json` failures (issue 17, item 3): one JSON object on stderr with `code`, `exit`, `field`
//! and `message`, the exit code unchanged; without `--json` the same failure is one `error:`
//! line. A `--key-spec` that no key of the token would use is refused (item 4). And the JSON
//! field types agree between commands (`roles` is an array in `whoami` and
//! in `officer list`).

use crate::common;

use common::{keyward, run, text, Installation};

fn stderr_json(out: &std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON object on stderr: {}", text(out)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn json_failures_are_objects_with_code_exit_field_and_message() {
    let inst = Installation::new();

    // Bad input caught by the RA (exit 2), naming the option.
    let out = run(
        inst.ra(&["certificates", "--serial", "5g:zz", "--json"]),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr_json(&out);
    assert_eq!(err["code"], "input", "{err}");
    assert_eq!(err["exit"], 2, "{err}");
    assert_eq!(err["field"], "serial", "{err}");
    assert!(
        err["message"].as_str().unwrap().starts_with("--serial: "),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", text(&out));

    // Refused by the server (exit 6): the server's code and field.
    let p12 = inst.out.join("x.p12");
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-signing",
            "--subject",
            "O=No Common Name",
            "--key-spec",
            "EC:P-256",
            "--p12",
            p12.to_str().unwrap(),
            "--pin-stdin",
            "--json",
        ]),
        Some("Correct-Horse-7\n"),
    );
    let err = stderr_json(&out);
    assert_eq!(
        Some(err["exit"].as_i64().unwrap() as i32),
        out.status.code()
    );
    assert_ne!(err["exit"], 0, "{err}");
    assert!(err["field"].is_string(), "a field is named: {err}");
    assert!(
        err["code"].is_string() && err["message"].is_string(),
        "{err}"
    );

    // A key spec for a token whose keys are all made in the server (item 4): refused before
    // anything is sent, naming the option and why.
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "soft-encryption-archived",
            "--subject",
            "CN=Archie Example,O=Example,C=SE",
            "--key-spec",
            "EC:secp256r1",
            "--p12",
            inst.out.join("archie.p12").to_str().unwrap(),
            "--pin-stdin",
            "--json",
        ]),
        Some("Correct-Horse-7\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr_json(&out);
    assert_eq!(
        (&err["code"], &err["field"]),
        (&"input".into(), &"key-spec".into()),
        "{err}"
    );
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("soft-encryption-archived")
            && message.contains("no key of this token is generated here")
            && message.contains("archived"),
        "{message}"
    );
    assert!(!inst.out.join("archie.p12").exists());

    // Without --json: the same failure is a line of text.
    let out = run(inst.ra(&["certificates", "--serial", "5g:zz"]), None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.starts_with("error: --serial: ")),
        "{stderr}"
    );
    assert!(!stderr.lines().any(|l| l.starts_with('{')), "{stderr}");

    // `roles` is an array in both commands.
    let me = run(inst.ra(&["whoami", "--json"]), None);
    assert!(me.status.success(), "{}", text(&me));
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert!(me["roles"].is_array(), "{me}");
    let mut list = keyward();
    list.args(["officer", "list", "--json", "--dir"])
        .arg(&inst.dir)
        .args(["--database", &inst.database_url]);
    let list = run(list, None);
    assert!(list.status.success(), "{}", text(&list));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let first = &list.as_array().unwrap()[0];
    assert!(first["roles"].is_array(), "{first}");
    assert_eq!(
        first["roles"], me["roles"],
        "the same officer, the same roles"
    );
}
