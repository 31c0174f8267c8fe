//! Officer requests besides issuance that are idempotent, through the real server on both
//! engines: the very same signed request sent again (its answer was lost, or the server died
//! after the commit) gets the first attempt's recorded answer instead of a replay refusal, and
//! the change is made once; the same request ID with another body is refused.
//!
//! - PIN letter creation: the letters of the first attempt, whose secrets still open with the
//!   RA's transport key (a refusal would leave the letters created but never printable).
//! - Approval votes: the request as it stood after the vote, and one vote.

use crate::common;

use common::pins::printer;
use common::signed::{officer_client, unix_now};
use common::tokens::{archive, create_officer, ALICE, PIN};
use common::{block_on, on_both_engines, run, Engine, Installation};
use keyward_crypto::transport::TransportKeyPair;
use keyward_proto::{
    signed_message, ApprovalVote, CreatePinLetters, PinLetterBatch, PinLetterSecret,
    APPROVAL_VOTE_PATH, PIN_LETTERS_CONTEXT, PIN_LETTERS_PATH,
};
use keyward_ra::RaError;
use keyward_store::{Outcome, PinLetterQuery};
use serde_json::Value;

on_both_engines!(
    a_resent_letter_request_gets_the_same_letters,
    a_resent_vote_is_counted_once
);

/// Asserts a 409 refusal naming `request_id`.
fn assert_request_id_conflict(result: Result<Value, RaError>) {
    match result {
        Err(RaError::Refused { status, error }) => assert_eq!(
            (status, error.field.as_deref()),
            (409, Some("request_id")),
            "{}",
            error.message
        ),
        other => panic!("expected a refusal: {other:?}"),
    }
}

fn a_resent_letter_request_gets_the_same_letters(engine: Engine) {
    let inst = Installation::on(engine);
    let (conf, pin_file) = printer(&inst);
    block_on(async {
        let (officer, client) = officer_client(&conf, &pin_file);
        let transport = TransportKeyPair::generate().unwrap();
        let now = unix_now();
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
        assert_request_id_conflict(post(other, other_signature).await);

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

fn a_resent_vote_is_counted_once(engine: Engine) {
    let inst = Installation::on(engine);
    archive(&inst, ALICE, "archived.p12");
    let bob = create_officer(&inst, "bob", "recover-key");
    // The first recovery attempt opens a 2-of-N approval request.
    let p12 = inst.out.join("recovered.p12");
    let out = run(
        inst.ra(&[
            "issue",
            "--procedure",
            "recover-encryption-approved",
            "--subject",
            ALICE,
            "--p12",
            p12.to_str().unwrap(),
            "--pin-stdin",
        ]),
        Some(&format!("{PIN}\n")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let approval_id: String = stderr
        .split("approval request ")
        .nth(1)
        .unwrap_or_else(|| panic!("no approval request in: {stderr}"))
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    block_on(async {
        let (officer, client) = officer_client(&bob.0, &bob.1);
        let now = unix_now();
        let signed = |approve: bool, nonce: &str| {
            let vote = ApprovalVote {
                request_id: "vote-retry-1".into(),
                timestamp: now,
                nonce: nonce.into(),
                approval_id: approval_id.clone(),
                approve,
            };
            let body = serde_json::to_vec(&vote).unwrap();
            let signature = officer
                .sign(&signed_message(APPROVAL_VOTE_PATH, &body))
                .unwrap();
            (body, signature)
        };
        let post = |(body, signature): (Vec<u8>, Vec<u8>)| {
            let client = &client;
            async move {
                client
                    .post_with_signature::<Value>(APPROVAL_VOTE_PATH, body, &signature)
                    .await
            }
        };
        let vote = signed(true, "0123456789abcdef0123456789abcdef");
        let first = post(vote.clone()).await.unwrap();
        let again = post(vote).await.unwrap();
        assert_eq!(first, again, "a retry gets the recorded answer");
        assert_eq!(first["state"], "pending");
        assert_eq!(first["approved_by"], serde_json::json!(["bob"]));
        // The same request ID for a rejection: refused, and the request stays pending.
        assert_request_id_conflict(post(signed(false, "fedcba9876543210fedcba9876543210")).await);

        let store = inst.store().await;
        let approvals = store.approvals(true, None).await.unwrap();
        assert_eq!(approvals.len(), 1, "still open");
        assert_eq!(approvals[0].votes.len(), 1, "one vote");
        let records = store.audit_records(200).await.unwrap();
        let count = |action: &str, outcome: Outcome| {
            records
                .iter()
                .filter(|r| r.action == action && r.outcome == outcome)
                .count()
        };
        assert_eq!(count("approve-recovery", Outcome::Success), 1);
        assert_eq!(count("answer-retry", Outcome::Success), 1);
        assert_eq!(count("reject-recovery", Outcome::Failure), 1);
    });
}
