//! PIN letter creation is idempotent: the very same signed request sent again (its answer was
//! lost, or the server died after the commit) gets the letters of the first attempt, whose
//! secrets still open with the RA's transport key — not a replay refusal that would leave the
//! letters created but never printable. The same request ID with another body is refused.

mod common;

use std::sync::Arc;

use common::pins::printer;
use common::{block_on, on_both_engines, Engine, Installation};
use keyward_crypto::transport::TransportKeyPair;
use keyward_proto::{
    signed_message, CreatePinLetters, PinLetterBatch, PinLetterSecret, PIN_LETTERS_CONTEXT,
    PIN_LETTERS_PATH,
};
use keyward_ra::{ClientConfig, OfficerCredential, RaClient, RaError};
use keyward_store::{Outcome, PinLetterQuery};
use serde_json::Value;

on_both_engines!(a_resent_letter_request_gets_the_same_letters);

fn a_resent_letter_request_gets_the_same_letters(engine: Engine) {
    let inst = Installation::on(engine);
    let (conf, pin_file) = printer(&inst);
    block_on(async {
        let config = ClientConfig::load(&conf).unwrap();
        let pin = std::fs::read_to_string(&pin_file).unwrap();
        let officer = Arc::new(OfficerCredential::open(&config, pin.trim()).unwrap());
        let client = RaClient::new(&config, officer.clone()).unwrap();
        let transport = TransportKeyPair::generate().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let signed = |first_id: &str, nonce: &str| {
            let request = CreatePinLetters {
                request_id: "letters-retry-1".into(),
                timestamp: now,
                nonce: nonce.into(),
                pin_procedure: "letter".into(),
                first_id: first_id.into(),
                count: 2,
                transport_key: transport.public_der().unwrap(),
            };
            let body = serde_json::to_vec(&request).unwrap();
            let signature = officer
                .sign(&signed_message(PIN_LETTERS_PATH, &body))
                .unwrap();
            (body, signature)
        };
        let (body, signature) = signed("200001", "0123456789abcdef0123456789abcdef");
        let post = |body: Vec<u8>, signature: Vec<u8>| {
            let client = &client;
            async move {
                client
                    .post_with_signature::<Value>(PIN_LETTERS_PATH, body, &signature)
                    .await
            }
        };
        let first = post(body.clone(), signature.clone()).await.unwrap();
        let again = post(body, signature).await.unwrap();
        assert_eq!(first, again, "a retry gets the recorded answer");

        let batch: PinLetterBatch = serde_json::from_value(again).unwrap();
        assert_eq!(
            (batch.first_id.as_str(), batch.last_id.as_str()),
            ("200001", "200002")
        );
        let opened = keyward_ra::pins::open_sealed(
            &transport,
            &batch.sealed,
            "letters-retry-1",
            PIN_LETTERS_CONTEXT,
        )
        .expect("the repeated answer opens with the same transport key");
        let letters: Vec<PinLetterSecret> = serde_json::from_slice(&opened).unwrap();
        assert_eq!(letters.len(), 2);

        // The same request ID with another body: refused, naming the request ID.
        let (other, other_signature) = signed("300001", "fedcba9876543210fedcba9876543210");
        match post(other, other_signature).await {
            Err(RaError::Refused { status, error }) => {
                assert_eq!(
                    (status, error.field.as_deref()),
                    (409, Some("request_id")),
                    "{}",
                    error.message
                );
            }
            other => panic!("expected a refusal: {other:?}"),
        }

        // Created once, recorded once, the retry audited as such.
        let store = inst.store().await;
        let stored = store.pin_letters(&PinLetterQuery::default()).await.unwrap();
        let ids: Vec<i64> = stored.iter().map(|l| l.letter_id).collect();
        assert_eq!(ids, vec![200001, 200002]);
        let records = store.audit_records(200).await.unwrap();
        let count = |action: &str, outcome: Outcome| {
            records
                .iter()
                .filter(|r| r.action == action && r.outcome == outcome)
                .count()
        };
        assert_eq!(count("create-pin-letters", Outcome::Success), 1);
        assert_eq!(count("answer-retry", Outcome::Success), 1);
        assert_eq!(count("create-pin-letters", Outcome::Failure), 1);
    });
}
