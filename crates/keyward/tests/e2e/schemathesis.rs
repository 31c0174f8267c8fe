//! The API contract checked against the live server (issue 15): Schemathesis (PyPI) generates
//! requests from the description (docs/openapi.json, the one the server serves) for every
//! operation, with the TLS client
//! certificate of an officer who holds every role and a hook (`schemathesis/hooks.py`) that
//! signs each POST as the RA does. No response may be a server error (5xx), and every response
//! must be one the description lists, with its content type and a body matching its schema.

use std::path::Path;

use crate::common;

use common::{keyward, on_both_engines, run, text, Engine, Installation};

on_both_engines!(generated_requests_get_no_server_error_and_only_described_answers);

/// The checks that must all pass, as Schemathesis names them.
const CHECKS: &str = "not_a_server_error,response_schema_conformance,status_code_conformance,\
    content_type_conformance";
/// Cases per operation and phase; with the 17 operations and Schemathesis' coverage, fuzzing
/// and stateful phases, about 2,400 cases in all.
const MAX_EXAMPLES: &str = "60";
/// Fewest cases a run must have generated.
const MIN_CASES: usize = 1_000;
/// Hypothesis' seed: a failure is found again by the same run.
const SEED: &str = "20260315";

fn generated_requests_get_no_server_error_and_only_described_answers(engine: Engine) {
    let inst = Installation::on(engine);
    // An officer with every role, so that no handler stops at the role check before its own.
    let mut create = keyward();
    create
        .args([
            "officer",
            "create",
            "contract",
            "--roles",
            "issue-certificate,recover-key,admin,auditor,manage-pin-letters,revoke-certificate",
            "--dir",
        ])
        .arg(&inst.dir);
    let out = run(create, None);
    assert!(out.status.success(), "{}", text(&out));

    // The officer's certificate chain and key as PEM, for Python's `requests`, in a directory
    // only we can read.
    let work = tempfile::tempdir().unwrap();
    let pem = work.path().join("officer");
    std::fs::create_dir(&pem).unwrap();
    set_mode(&pem, 0o700);
    let p12 = inst.dir.join("officer/contract.p12");
    let pin = inst.dir.join("officer/contract.pin");
    let chain = pem.join("chain.pem");
    let key = pem.join("key.pem");
    export_from_p12(&p12, &pin, &["-nokeys"], &chain);
    export_from_p12(&p12, &pin, &["-nocerts", "-nodes"], &key);
    set_mode(&key, 0o600);

    // The installation's procedure names, for the hook to put in some generated bodies.
    let procedures: keyward_policy::ProcedureSet =
        toml::from_str(&std::fs::read_to_string(inst.dir.join("procedures.toml")).unwrap())
            .unwrap();
    let names = |list: Vec<&str>| list.join(",");
    let tokens = names(procedures.token.iter().map(|t| t.name.as_str()).collect());
    let pins = names(procedures.pin.iter().map(|p| p.name.as_str()).collect());

    let calls = work.path().join("calls.log");
    let hooks = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/schemathesis/hooks.py"
    );
    let started = std::time::Instant::now();
    let output = keyward_testkit::tool("schemathesis")
        .arg("run")
        .arg(committed_description())
        .args(["--url", &inst.url])
        .arg("--tls-verify")
        .arg(inst.dir.join("ca/root.pem"))
        .arg("--request-cert")
        .arg(&chain)
        .arg("--request-cert-key")
        .arg(&key)
        .args([
            "--checks",
            CHECKS,
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
        ])
        .args([
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--no-color",
        ])
        .args(["--report", "junit", "--report-dir"])
        .arg(work.path().join("report"))
        .current_dir(work.path())
        .env("SCHEMATHESIS_HOOKS", hooks)
        .env("KEYWARD_OFFICER_KEY", &key)
        .env("KEYWARD_SCHEMATHESIS_CALLS", &calls)
        .env("KEYWARD_TOKEN_PROCEDURES", tokens)
        .env("KEYWARD_PIN_PROCEDURES", pins)
        .output()
        .expect("schemathesis runs");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!(
        "{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        inst.log()
    );
    assert!(
        output.status.success(),
        "schemathesis reports failures:\n{report}"
    );

    let (generated, passed) = summary(&stdout).unwrap_or_else(|| panic!("no summary:\n{report}"));
    assert_eq!(generated, passed, "{report}");
    assert!(
        generated >= MIN_CASES,
        "only {generated} cases generated:\n{report}"
    );
    // The hook saw every call: the cases Schemathesis counts are the requests the server got.
    let log = std::fs::read_to_string(&calls).unwrap_or_default();
    let calls: Vec<(&str, &str, u16)> = log.lines().filter_map(call).collect();
    assert_eq!(calls.len(), generated, "{report}");
    assert!(calls.iter().all(|(_, _, status)| *status < 500), "{log}");

    // Every operation of the description was exercised, and every POST got past the
    // signature check at least once: the hook signs as the server verifies.
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed_description()).unwrap()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let answered: Vec<u16> = calls
                .iter()
                .filter(|(m, p, _)| *m == method && *p == path.as_str())
                .map(|c| c.2)
                .collect();
            assert!(!answered.is_empty(), "{method} {path} was never called");
            if method == "POST" {
                assert!(
                    answered.iter().any(|s| *s != 401),
                    "{method} {path}: every signed request was refused: {answered:?}"
                );
            }
        }
    }
    eprintln!(
        "schemathesis on {engine:?}: {generated} cases, {passed} passed, in {:.1} s",
        elapsed.as_secs_f64()
    );
}

/// docs/openapi.json, the description Schemathesis reads: the server serves the same (see
/// `api_contract`), but Schemathesis leaves out the operation it loaded the description from.
fn committed_description() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")
}

/// `openssl pkcs12 -in P12 -passin file:PIN ARGS -out OUT`.
fn export_from_p12(p12: &Path, pin: &Path, args: &[&str], out: &Path) {
    let mut openssl = keyward_testkit::tool("openssl");
    openssl
        .arg("pkcs12")
        .arg("-in")
        .arg(p12)
        .arg("-passin")
        .arg(format!("file:{}", pin.display()))
        .args(args)
        .arg("-out")
        .arg(out);
    let result = run(openssl, None);
    assert!(result.status.success(), "{}", text(&result));
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The counts of Schemathesis' summary line `N generated, M passed` (under "Test cases:").
fn summary(stdout: &str) -> Option<(usize, usize)> {
    let line = stdout
        .lines()
        .skip_while(|l| l.trim() != "Test cases:")
        .nth(1)?;
    let mut words = line.split_whitespace();
    let generated = words.next()?.parse().ok()?;
    let passed = words.nth(1)?.parse().ok()?;
    (words.next() == Some("passed")).then_some((generated, passed))
}

/// One line of the hook's call log: `METHOD PATH STATUS`.
fn call(line: &str) -> Option<(&str, &str, u16)> {
    let mut words = line.split(' ');
    let call = (words.next()?, words.next()?, words.next()?.parse().ok()?);
    words.next().is_none().then_some(call)
}
