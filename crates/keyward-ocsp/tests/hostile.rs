//! Hostile input: every case gets the right OCSP error status (or `unknown`), never a panic,
//! never `internalError`; the error responses parse with `openssl ocsp`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;

use std::time::SystemTime;

use base64::Engine;
use common::{MapSource, Pki};
use der::asn1::{Int, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use keyward_ca::SoftwareSigner;
use keyward_ocsp::asn1::{
    BasicOcspResponse, CertStatus, OcspRequest, OcspResponse, Request, TbsRequest,
    ID_PKIX_OCSP_NONCE,
};
use keyward_ocsp::{
    decode_get_path, parse_request, Context, HashAlg, IssuerSet, Limits, OcspError, Responder,
    ResponseSettings, ResponseStatus, MAX_GET_SEGMENT_CHARS,
};
use x509_cert::ext::Extension;
use x509_cert::AlgorithmIdentifier;

/// A request for the good certificate of `pki`, as our types build it.
fn request(issuers: &IssuerSet, entries: usize, nonce: Option<&[u8]>) -> OcspRequest {
    let cert_id = issuers.cert_id(1, HashAlg::Sha1, &[0x10, 0x01]).unwrap();
    OcspRequest {
        tbs_request: TbsRequest {
            version: 0,
            requestor_name: None,
            request_list: vec![
                Request {
                    req_cert: cert_id,
                    single_request_extensions: None
                };
                entries
            ],
            request_extensions: nonce.map(|n| vec![nonce_extension(n)]),
        },
        optional_signature: None,
    }
}

fn nonce_extension(value: &[u8]) -> Extension {
    Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(OctetString::new(value).unwrap().to_der().unwrap()).unwrap(),
    }
}

fn malformed_field(result: Result<keyward_ocsp::ParsedRequest, OcspError>) -> &'static str {
    match result {
        Err(OcspError::Malformed { field, .. }) => field,
        other => panic!("expected malformedRequest, got {other:?}"),
    }
}

#[tokio::test]
async fn hostile_requests_get_the_right_error_status() {
    let pki = Pki::new();
    let issuers = IssuerSet::new(&pki.issuers()).unwrap();
    let limits = Limits::default();
    let valid = request(&issuers, 1, Some(&[7; 16])).to_der().unwrap();
    assert!(parse_request(&valid, &limits).is_ok());

    let mut wrong_version = request(&issuers, 1, None);
    wrong_version.tbs_request.version = 1;
    let mut trailing = valid.clone();
    trailing.push(0);
    let ten_thousand = request(&issuers, 10_000, None).to_der().unwrap();
    let seventeen = request(&issuers, limits.max_requests + 1, None)
        .to_der()
        .unwrap();
    let mut long_serial = request(&issuers, 1, None);
    long_serial.tbs_request.request_list[0]
        .req_cert
        .serial_number = Int::new(&[0x11; 21]).unwrap();
    let mut critical = request(&issuers, 1, None);
    critical.tbs_request.request_extensions = Some(vec![Extension {
        extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.99"),
        critical: true,
        extn_value: OctetString::new(vec![5, 0]).unwrap(),
    }]);
    let mut two_nonces = request(&issuers, 1, Some(&[1; 8]));
    two_nonces
        .tbs_request
        .request_extensions
        .as_mut()
        .unwrap()
        .push(nonce_extension(&[2; 8]));
    let mut raw_nonce = request(&issuers, 1, None);
    raw_nonce.tbs_request.request_extensions = Some(vec![Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(vec![0xff; 16]).unwrap(),
    }]);
    let mut indefinite = valid.clone();
    indefinite[1] = 0x80; // BER indefinite length: not DER

    let cases: Vec<(&str, Vec<u8>, Limits, &str)> = vec![
        ("empty", vec![], limits, "request"),
        (
            "truncated",
            valid[..valid.len() - 1].to_vec(),
            limits,
            "request",
        ),
        ("one byte", vec![0x30], limits, "request"),
        ("not a sequence", vec![0x04, 0x00], limits, "request"),
        ("indefinite length", indefinite, limits, "request"),
        (
            "wrong version",
            wrong_version.to_der().unwrap(),
            limits,
            "tbsRequest.version",
        ),
        ("trailing bytes", trailing, limits, "request"),
        ("10,000 requests", ten_thousand.clone(), limits, "request"),
        (
            "10,000 requests within the body limit",
            ten_thousand,
            Limits {
                max_body_bytes: 4 << 20,
                ..limits
            },
            "tbsRequest.requestList",
        ),
        (
            "one request too many",
            seventeen,
            limits,
            "tbsRequest.requestList",
        ),
        (
            "no requests",
            request(&issuers, 0, None).to_der().unwrap(),
            limits,
            "tbsRequest.requestList",
        ),
        (
            "33-byte nonce",
            request(&issuers, 1, Some(&[9; 33])).to_der().unwrap(),
            limits,
            "nonce",
        ),
        (
            "empty nonce",
            request(&issuers, 1, Some(&[])).to_der().unwrap(),
            limits,
            "nonce",
        ),
        ("two nonces", two_nonces.to_der().unwrap(), limits, "nonce"),
        (
            "nonce not an OCTET STRING",
            raw_nonce.to_der().unwrap(),
            limits,
            "nonce",
        ),
        (
            "21-byte serial",
            long_serial.to_der().unwrap(),
            limits,
            "reqCert.serialNumber",
        ),
        (
            "critical unknown extension",
            critical.to_der().unwrap(),
            limits,
            "requestExtensions",
        ),
        (
            "over the body limit",
            vec![0x30; limits.max_body_bytes + 1],
            limits,
            "request",
        ),
    ];
    let source = MapSource::for_pki();
    let responder = Responder::new(
        &pki.responder.to_der().unwrap(),
        Box::new(SoftwareSigner::new(pki.responder_key.clone())),
        ResponseSettings::default(),
    )
    .unwrap();
    for (name, der, limits, field) in cases {
        assert_eq!(
            malformed_field(parse_request(&der, &limits)),
            field,
            "{name}"
        );
        let ctx = Context {
            responder: &responder,
            issuers: &issuers,
            source: &source,
            cache: None,
            limits,
        };
        let reply = ctx.respond(&der, SystemTime::now()).await;
        assert_eq!(reply.status, ResponseStatus::MalformedRequest, "{name}");
        let resp = OcspResponse::from_der(&reply.der).unwrap();
        assert_eq!(resp.response_status, ResponseStatus::MalformedRequest);
        assert!(
            resp.response_bytes.is_none(),
            "{name}: error responses are unsigned"
        );
    }
    // 32 bytes is the largest nonce allowed.
    assert!(parse_request(
        &request(&issuers, 1, Some(&[9; 32])).to_der().unwrap(),
        &limits
    )
    .is_ok());

    // OpenSSL reads our error responses.
    for status in [
        ResponseStatus::MalformedRequest,
        ResponseStatus::TryLater,
        ResponseStatus::Unauthorized,
        ResponseStatus::InternalError,
    ] {
        std::fs::write(pki.path("err.resp"), keyward_ocsp::error_response(status)).unwrap();
        let out = keyward_testkit::tool("openssl")
            .args(["ocsp", "-resp_text", "-noverify", "-respin"])
            .arg(pki.path("err.resp"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        let name = format!("{status:?}").to_lowercase();
        assert!(
            text.contains(&format!("responder error: {name} ({})", status as u8)),
            "{text}"
        );
    }

    // An unknown CertID hash (MD5) parses; the entry is `unknown`, the source is not asked.
    let mut md5 = request(&issuers, 2, None);
    md5.tbs_request.request_list[0].req_cert.hash_algorithm = AlgorithmIdentifier {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.2.5"),
        parameters: None,
    };
    let der = md5.to_der().unwrap();
    let parsed = parse_request(&der, &limits).unwrap();
    assert_eq!(parsed.entries[0].hash, None);
    assert_eq!(parsed.entries[1].hash, Some(HashAlg::Sha1));
    let ctx = Context {
        responder: &responder,
        issuers: &issuers,
        source: &source,
        cache: None,
        limits,
    };
    let reply = ctx.respond(&der, SystemTime::now()).await;
    assert_eq!(reply.status, ResponseStatus::Successful);
    let statuses = single_statuses(&reply.der);
    assert!(
        matches!(statuses[..], [CertStatus::Unknown(_), CertStatus::Good(_)]),
        "{statuses:?}"
    );
    assert_eq!(source.asked.load(std::sync::atomic::Ordering::SeqCst), 1);

    // The status source is down: tryLater, not internalError.
    let down = MapSource {
        fail: true,
        ..MapSource::default()
    };
    let ctx = Context {
        responder: &responder,
        issuers: &issuers,
        source: &down,
        cache: None,
        limits,
    };
    assert_eq!(
        ctx.respond(&valid, SystemTime::now()).await.status,
        ResponseStatus::TryLater
    );
}

fn single_statuses(der: &[u8]) -> Vec<CertStatus> {
    let resp = OcspResponse::from_der(der).unwrap();
    let bytes = resp.response_bytes.unwrap();
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    basic
        .tbs_response_data
        .responses
        .into_iter()
        .map(|r| r.cert_status)
        .collect()
}

#[test]
fn hostile_get_paths_are_refused() {
    let pki = Pki::new();
    let req = pki.openssl_request("r.req", "ca", &["good"], &[]);
    let std = base64::engine::general_purpose::STANDARD.encode(&req);
    assert_eq!(decode_get_path(&std).unwrap(), req);
    // OpenSSL's own GET spelling: percent-encoded standard base64.
    let encoded = std
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(decode_get_path(&encoded).unwrap(), req);
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&req);
    assert_eq!(decode_get_path(&url).unwrap(), req);
    let huge = "A".repeat(MAX_GET_SEGMENT_CHARS + 4);
    for bad in ["", "%%%%", "!!!!", "MEUw\u{0}", "MEUw%0a", huge.as_str()] {
        assert!(
            matches!(
                decode_get_path(bad),
                Err(OcspError::Malformed { field: "path", .. })
            ),
            "{bad:.20}"
        );
    }
    // A segment that decodes but is not a request is refused by the parser.
    let junk = decode_get_path("AAAA").unwrap();
    assert!(parse_request(&junk, &Limits::default()).is_err());
}

/// Every single-byte change of a real request, and every prefix: parsed or refused, never a
/// panic, and whatever parses re-encodes to the same bytes.
#[test]
fn mutated_requests_never_panic() {
    let pki = Pki::new();
    let req = pki.openssl_request("m.req", "ca", &["good", "revoked"], &["-sha256"]);
    let limits = Limits::default();
    let mut parsed = 0;
    for i in 0..req.len() {
        for b in [0x00, 0x01, 0x7f, 0x80, 0x81, 0xff, req[i] ^ 0x20] {
            let mut m = req.clone();
            m[i] = b;
            if let Ok(p) = parse_request(&m, &limits) {
                assert_eq!(p.to_der().unwrap(), m);
                parsed += 1;
            }
        }
        let _ = parse_request(&req[..i], &limits);
    }
    assert!(
        parsed > 0,
        "some changes (serial, hash bytes, nonce) still parse"
    );
}

/// The fuzz target's seeds (made by `openssl ocsp -reqout`, two as GET paths) are requests that
/// parse, so that fuzzing starts from inside the parser, not at its first refusal.
#[test]
fn the_fuzz_seeds_are_accepted_requests() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ocsp_request");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let der = match path.extension().and_then(|e| e.to_str()) {
            Some("txt") => decode_get_path(std::str::from_utf8(&bytes).unwrap()).unwrap(),
            _ => bytes,
        };
        let parsed = parse_request(&der, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(parsed.to_der().unwrap(), der);
        seen += 1;
    }
    assert!(seen >= 5, "{seen} seeds in {}", dir.display());
}
