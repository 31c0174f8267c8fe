use std::time::Duration;

use super::*;

/// The value of the sample `series` (name and labels as written) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// One event of every family (a family with labels is listed from its first series on).
fn one_of_each() -> Metrics {
    let m = Metrics::new();
    m.request(Some("/v1/whoami"), 200);
    m.token_issued("soft-signing", Duration::from_millis(30));
    m.token_refused(None, "forbidden");
    m.set_key_pool(&keyward_crypto::KeyPoolStats {
        specs: vec![keyward_crypto::key_pool::SpecStats {
            spec: keyward_policy::KeySpec::Rsa(2048),
            target: 8,
            ready: 5,
            generating: 1,
        }],
        threads: 1,
        peak_busy_threads: 1,
        taken: 0,
        generated_on_demand: 0,
        generated_in_background: 0,
        failures: 0,
    });
    m
}

#[test]
fn every_family_is_registered_with_help_and_type() {
    let text = one_of_each().encode();
    for (name, kind) in [
        ("keyward_http_requests_total", "counter"),
        ("keyward_token_issuance_seconds", "histogram"),
        ("keyward_tokens_issued_total", "counter"),
        ("keyward_tokens_refused_total", "counter"),
        ("keyward_tls_handshake_failures_total", "counter"),
        ("keyward_open_connections", "gauge"),
        ("keyward_key_pool_ready_keys", "gauge"),
        ("keyward_key_pool_target_keys", "gauge"),
        ("keyward_db_transaction_seconds", "histogram"),
        ("keyward_audit_seals_total", "counter"),
        ("keyward_audit_seal_failures_total", "counter"),
        ("keyward_pin_mail_queued", "gauge"),
        ("keyward_crls_published_total", "counter"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}: {text}"
        );
    }
    // The fixed label sets are listed at zero before any event.
    let text = Metrics::new().encode();
    for cause in HandshakeFailure::ALL {
        let series = format!(
            "keyward_tls_handshake_failures_total{{cause=\"{}\"}}",
            cause.label()
        );
        assert_eq!(sample(&text, &series), Some(0.0), "{series}: {text}");
    }
    let series = "keyward_db_transaction_seconds_count{operation=\"record-issuance\"}";
    assert_eq!(sample(&text, series), Some(0.0), "{text}");
    let series = "keyward_crls_published_total{kind=\"delta\"}";
    assert_eq!(sample(&text, series), Some(0.0), "{text}");
}

#[test]
fn events_move_their_series() {
    let m = Metrics::new();
    m.request(Some("/v1/tokens"), 200);
    m.request(Some("/v1/tokens"), 200);
    m.request(None, 404);
    m.token_issued("soft-signing", Duration::from_millis(30));
    m.token_refused(Some("soft-signing"), "forbidden");
    m.token_refused(None, "not-found");
    m.handshake_failed(HandshakeFailure::NotAnOfficer);
    m.db_time(DbOperation::CheckNonce, Duration::from_micros(700));
    m.audit_seal(Some(true));
    m.audit_seal(None);
    m.audit_seal(Some(false));
    m.set_open_connections(3);
    m.set_pin_mail_queued(2);
    let text = m.encode();
    for (series, value) in [
        (
            "keyward_http_requests_total{route=\"/v1/tokens\",status=\"200\"}",
            2.0,
        ),
        (
            "keyward_http_requests_total{route=\"unmatched\",status=\"404\"}",
            1.0,
        ),
        (
            "keyward_tokens_issued_total{procedure=\"soft-signing\"}",
            1.0,
        ),
        (
            "keyward_tokens_refused_total{procedure=\"soft-signing\",reason=\"forbidden\"}",
            1.0,
        ),
        (
            "keyward_tokens_refused_total{procedure=\"unknown\",reason=\"not-found\"}",
            1.0,
        ),
        (
            "keyward_tls_handshake_failures_total{cause=\"not-an-officer\"}",
            1.0,
        ),
        ("keyward_token_issuance_seconds_count", 1.0),
        ("keyward_token_issuance_seconds_bucket{le=\"0.025\"}", 0.0),
        ("keyward_token_issuance_seconds_bucket{le=\"0.05\"}", 1.0),
        (
            "keyward_db_transaction_seconds_bucket{operation=\"check-nonce\",le=\"0.001\"}",
            1.0,
        ),
        ("keyward_audit_seals_total", 1.0),
        ("keyward_audit_seal_failures_total", 1.0),
        ("keyward_open_connections", 3.0),
        ("keyward_pin_mail_queued", 2.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series}: {text}");
    }
}

/// A code outside the API's fixed set never becomes a label of its own.
#[test]
fn refusal_reasons_are_the_fixed_codes() {
    let m = Metrics::new();
    for code in REFUSAL_REASONS {
        m.token_refused(None, code);
    }
    m.token_refused(None, "made-up-code-1");
    m.token_refused(None, "made-up-code-2");
    let text = m.encode();
    for code in REFUSAL_REASONS {
        let series =
            format!("keyward_tokens_refused_total{{procedure=\"unknown\",reason=\"{code}\"}}");
        assert_eq!(sample(&text, &series), Some(1.0), "{series}");
    }
    let other = "keyward_tokens_refused_total{procedure=\"unknown\",reason=\"other\"}";
    assert_eq!(sample(&text, other), Some(2.0), "{text}");
    assert!(!text.contains("made-up"), "{text}");
}

/// The refusal kinds' codes are among the reasons (the API answers with them).
#[test]
fn refusal_kinds_are_reasons() {
    use crate::service::RefusalKind::*;
    for kind in [
        Invalid,
        Forbidden,
        NotFound,
        Unsupported,
        Conflict,
        Internal,
        ApprovalRequired,
    ] {
        assert!(REFUSAL_REASONS.contains(&kind.code()), "{kind:?}");
    }
}

#[test]
fn key_pool_gauges_per_spec() {
    let text = one_of_each().encode();
    assert_eq!(
        sample(&text, "keyward_key_pool_ready_keys{spec=\"RSA:2048\"}"),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "keyward_key_pool_target_keys{spec=\"RSA:2048\"}"),
        Some(8.0),
        "{text}"
    );
}
