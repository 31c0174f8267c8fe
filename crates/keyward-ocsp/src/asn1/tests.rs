//! Round trips of every structure through DER, and the encodings RFC 6960 fixes.

use der::asn1::{BitString, GeneralizedTime, Int, Null, OctetString};
use der::{Decode, Encode};
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::AlgorithmIdentifier;

use super::*;
use crate::HashAlg;

fn round_trip<T>(value: &T) -> Vec<u8>
where
    T: Encode + for<'a> Decode<'a> + PartialEq + std::fmt::Debug,
{
    let der = value.to_der().unwrap();
    let back = T::from_der(&der).unwrap();
    assert_eq!(&back, value);
    assert_eq!(back.to_der().unwrap(), der);
    der
}

fn cert_id(serial: &[u8]) -> CertId {
    CertId {
        hash_algorithm: HashAlg::Sha256.algorithm(),
        issuer_name_hash: OctetString::new(vec![1; 32]).unwrap(),
        issuer_key_hash: OctetString::new(vec![2; 32]).unwrap(),
        serial_number: Int::new(serial).unwrap(),
    }
}

fn time(secs: u64) -> GeneralizedTime {
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs)).unwrap()
}

#[test]
fn requests_round_trip_with_every_optional_part() {
    let nonce = Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(vec![4, 2, 0xaa, 0xbb]).unwrap(),
    };
    let full = OcspRequest {
        tbs_request: TbsRequest {
            version: V1,
            requestor_name: Some(GeneralName::DirectoryName(
                Name::from_der(&[0x30, 0x00]).unwrap(),
            )),
            request_list: vec![
                Request {
                    req_cert: cert_id(&[0x01, 0x02]),
                    single_request_extensions: Some(vec![nonce.clone()]),
                },
                Request {
                    req_cert: cert_id(&[0x00, 0x80]),
                    single_request_extensions: None,
                },
            ],
            request_extensions: Some(vec![nonce]),
        },
        optional_signature: Some(RequestSignature {
            signature_algorithm: AlgorithmIdentifier {
                oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
                parameters: None,
            },
            signature: BitString::from_bytes(&[1, 2, 3]).unwrap(),
            certs: Some(vec![der::asn1::Any::from(Null)]),
        }),
    };
    round_trip(&full);
    let bare = OcspRequest {
        tbs_request: TbsRequest {
            version: V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id(&[0x01]),
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    let der = round_trip(&bare);
    // version DEFAULT v1 is not encoded: TBSRequest starts with the request list.
    assert_eq!(&der[2..4], &[0x30, der[3]]);
    assert_eq!(der[4], 0x30);
}

#[test]
fn responses_round_trip_with_every_status() {
    let statuses = [
        CertStatus::Good(Null),
        CertStatus::Unknown(Null),
        CertStatus::Revoked(RevokedInfo {
            revocation_time: time(1_790_000_000),
            revocation_reason: Some(CrlReason::KeyCompromise),
        }),
        CertStatus::Revoked(RevokedInfo {
            revocation_time: time(1_790_000_001),
            revocation_reason: None,
        }),
    ];
    // RFC 6960: good [0] IMPLICIT NULL = 80 00, unknown [2] = 82 00, revoked [1] constructed.
    assert_eq!(statuses[0].to_der().unwrap(), [0x80, 0x00]);
    assert_eq!(statuses[1].to_der().unwrap(), [0x82, 0x00]);
    assert_eq!(statuses[2].to_der().unwrap()[0], 0xa1);
    let responses = statuses
        .iter()
        .map(|s| SingleResponse {
            cert_id: cert_id(&[0x10, 0x01]),
            cert_status: s.clone(),
            this_update: time(1_800_000_000),
            next_update: Some(time(1_800_003_600)),
            single_extensions: None,
        })
        .collect();
    for responder_id in [
        ResponderId::ByKey(OctetString::new(vec![9; 20]).unwrap()),
        ResponderId::ByName(Name::from_der(&[0x30, 0x00]).unwrap()),
    ] {
        let data = ResponseData {
            version: V1,
            responder_id,
            produced_at: time(1_800_000_000),
            responses: Vec::clone(&responses),
            response_extensions: None,
        };
        round_trip(&data);
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: HashAlg::Sha1.algorithm(),
            signature: BitString::from_bytes(&[0; 8]).unwrap(),
            certs: None,
        };
        let basic_der = round_trip(&basic);
        round_trip(&OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic_der).unwrap(),
            }),
        });
    }
    // byKey is [2] EXPLICIT KeyHash: a2 16 04 14 ...
    let by_key = ResponderId::ByKey(OctetString::new(vec![9; 20]).unwrap());
    assert_eq!(&by_key.to_der().unwrap()[..4], &[0xa2, 0x16, 0x04, 0x14]);
    for status in [
        ResponseStatus::MalformedRequest,
        ResponseStatus::InternalError,
        ResponseStatus::TryLater,
        ResponseStatus::SigRequired,
        ResponseStatus::Unauthorized,
    ] {
        let der = round_trip(&OcspResponse {
            response_status: status,
            response_bytes: None,
        });
        assert_eq!(der, crate::error_response(status));
    }
}
