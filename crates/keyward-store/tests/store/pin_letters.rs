//! PIN/PUK letters: created in batches (all or nothing, fast), listed, used by an issuance in
//! its transaction, and never shown in `Debug` output.

use keyward_store::{
    AuditCategory, CertificateQuery, ConflictOn, NewAudit, NewPinLetter, PinLetter, PinLetterQuery,
    PinRecord, StoreError, StoredCertificate, UsedItem, VoidRefused,
};
use serde_json::json;

use crate::common::{audit, by_serial, cert, count, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    create_and_read_back,
    listing_filters,
    conflict_names_lowest_existing_id,
    invalid_batches_write_nothing,
    ten_thousand_letters,
    record_token_uses_letter,
    used_letter_rolls_back_issuance,
    debug_never_shows_sealed_letters,
    void_a_letter,
    void_refusals_change_nothing,
    a_voided_letter_never_seals_a_token,
    next_free_skips_used_and_voided_letters
);

const LETTER: &str = "letter";

fn created() -> NewAudit {
    audit(AuditCategory::PinDistribution, "create-pin-letters")
}

/// Letters `ids`, each sealed as `sealed <id>`.
fn letters(ids: impl IntoIterator<Item = i64>) -> Vec<NewPinLetter> {
    ids.into_iter()
        .map(|letter_id| NewPinLetter {
            letter_id,
            kek_id: "kek-pin-1".into(),
            sealed: format!("sealed {letter_id}").into_bytes(),
        })
        .collect()
}

fn use_letter(letter_id: i64, pin_procedure: &str, request_id: &str) -> PinRecord {
    PinRecord::UseLetter {
        letter_id,
        pin_procedure: pin_procedure.into(),
        officer: "olga".into(),
        request_id: request_id.into(),
    }
}

fn letter_ids(found: &[PinLetter]) -> Vec<i64> {
    found.iter().map(|l| l.letter_id).collect()
}

async fn create_and_read_back(db: TestDb) {
    let s = &db.store;
    let every_byte: Vec<u8> = (0..=255).collect();
    let mut batch = letters([7, 3, 42]);
    batch[0].sealed = every_byte.clone();
    batch[2].kek_id = "kek-pin-2".into();
    s.create_pin_letters(LETTER, "batch-1", "olga", &batch, &created())
        .await
        .unwrap();

    let seven = s.pin_letter(7).await.unwrap().unwrap();
    assert_eq!(seven.letter_id, 7);
    assert_eq!(seven.pin_procedure, LETTER);
    assert_eq!(seven.batch, "batch-1");
    assert_eq!(seven.kek_id, "kek-pin-1");
    assert_eq!(seven.sealed, every_byte, "sealed bytes round-trip");
    assert_eq!(seven.created_by, "olga");
    assert!(seven.created_at >= 1_700_000_000);
    assert_eq!(seven.used, None);
    let forty_two = s.pin_letter(42).await.unwrap().unwrap();
    assert_eq!(forty_two.kek_id, "kek-pin-2");
    assert_eq!(forty_two.sealed, b"sealed 42");
    assert_eq!(
        forty_two.created_at, seven.created_at,
        "one batch, one time"
    );
    assert!(s.pin_letter(8).await.unwrap().is_none());
    assert_eq!(
        letter_ids(&s.pin_letters(&PinLetterQuery::default()).await.unwrap()),
        [3, 7, 42]
    );

    let log = s.audit_records(10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].category, AuditCategory::PinDistribution);
    assert_eq!(log[0].action, "create-pin-letters");
    assert_eq!(log[0].detail, created().detail, "as given");
    let json = serde_json::to_value(&seven).unwrap();
    assert!(json.get("sealed").is_none(), "{json}");
    assert_eq!(json["letter_id"], 7);
}

async fn listing_filters(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=5), &created())
        .await
        .unwrap();
    s.create_pin_letters("other", "b", "olga", &letters(10..=12), &created())
        .await
        .unwrap();
    for (serial, letter_id, pin_procedure) in [("01", 2, LETTER), ("02", 11, "other")] {
        let pin = use_letter(letter_id, pin_procedure, &format!("req-{letter_id}"));
        s.record_token(&[cert(serial, "CN=A")], &issued("issue"), &[], Some(&pin))
            .await
            .unwrap();
    }

    let find = |q: PinLetterQuery| async move { letter_ids(&s.pin_letters(&q).await.unwrap()) };
    assert_eq!(
        find(PinLetterQuery::default()).await,
        [1, 2, 3, 4, 5, 10, 11, 12]
    );
    let from = |first_id| PinLetterQuery {
        first_id: Some(first_id),
        ..Default::default()
    };
    assert_eq!(find(from(4)).await, [4, 5, 10, 11, 12]);
    assert_eq!(find(from(6)).await, [10, 11, 12]);
    assert!(find(from(13)).await.is_empty());
    let used = |used| PinLetterQuery {
        used: Some(used),
        ..Default::default()
    };
    assert_eq!(find(used(true)).await, [2, 11]);
    assert_eq!(find(used(false)).await, [1, 3, 4, 5, 10, 12]);
    let of = |pin_procedure: &str| PinLetterQuery {
        pin_procedure: Some(pin_procedure.into()),
        ..Default::default()
    };
    assert_eq!(find(of("other")).await, [10, 11, 12]);
    assert!(find(of("LETTER")).await.is_empty(), "exact text");
    let unused_letters_from_2 = PinLetterQuery {
        first_id: Some(2),
        used: Some(false),
        pin_procedure: Some(LETTER.into()),
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(find(unused_letters_from_2).await, [3, 4], "ANDed, limited");
    let limited = |limit| PinLetterQuery {
        limit: Some(limit),
        ..Default::default()
    };
    assert_eq!(find(limited(3)).await, [1, 2, 3]);
    assert_eq!(find(limited(0)).await, [1], "limit clamped to 1");

    let found = s.pin_letters(&used(true)).await.unwrap();
    let second = found[1].used.as_ref().unwrap();
    assert_eq!(second.request_id, "req-11");
    assert_eq!(second.officer, "olga");
}

async fn conflict_names_lowest_existing_id(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(100..=110), &created())
        .await
        .unwrap();
    let (rows, records) = (count(&db, "pin_letters").await, count(&db, "audit").await);
    assert_eq!((rows, records), (11, 1));

    for (batch, lowest) in [
        (letters([120, 108, 105, 200]), 105),
        (letters([99, 110]), 110),
        (letters((1..=1200).rev()), 100),
        (letters([100]), 100),
    ] {
        let err = s
            .create_pin_letters(LETTER, "b", "olga", &batch, &created())
            .await
            .unwrap_err();
        let expected = format!("PIN letter ID {lowest}");
        assert!(
            matches!(&err, StoreError::Conflict(ConflictOn::PinLetterId(Some(l))) if *l == lowest),
            "{err}"
        );
        assert_eq!(err.to_string(), format!("{expected} exists already"));
        assert_eq!(count(&db, "pin_letters").await, rows, "nothing written");
        assert_eq!(count(&db, "audit").await, records, "no audit record");
    }
    assert!(s.pin_letter(120).await.unwrap().is_none());
    assert!(s.pin_letter(99).await.unwrap().is_none());

    // Around the existing range, and in its gaps, is fine.
    s.create_pin_letters(LETTER, "c", "olga", &letters([99, 111, 5000]), &created())
        .await
        .unwrap();
    assert_eq!(count(&db, "pin_letters").await, rows + 3);
}

async fn invalid_batches_write_nothing(db: TestDb) {
    let s = &db.store;
    let invalid = |batch: Vec<NewPinLetter>, procedure: &str, name: &str, officer: &str| {
        let (procedure, name, officer) =
            (procedure.to_string(), name.to_string(), officer.to_string());
        async move {
            s.create_pin_letters(&procedure, &name, &officer, &batch, &created())
                .await
                .unwrap_err()
        }
    };
    let mut no_kek = letters([1, 2]);
    no_kek[1].kek_id.clear();
    let mut no_envelope = letters([1, 2]);
    no_envelope[0].sealed.clear();
    let cases = [
        (invalid(Vec::new(), LETTER, "a", "olga").await, "none"),
        (
            invalid(letters([1, 0]), LETTER, "a", "olga").await,
            "PIN letter ID 0",
        ),
        (
            invalid(letters([-4]), LETTER, "a", "olga").await,
            "PIN letter ID -4",
        ),
        (
            invalid(letters([3, 1, 3]), LETTER, "a", "olga").await,
            "PIN letter ID 3",
        ),
        (invalid(no_kek, LETTER, "a", "olga").await, "KEK"),
        (invalid(no_envelope, LETTER, "a", "olga").await, "sealed"),
        (
            invalid(letters([1]), "", "a", "olga").await,
            "PIN procedure",
        ),
        (invalid(letters([1]), LETTER, " ", "olga").await, "batch"),
        (invalid(letters([1]), LETTER, "a", "").await, "officer"),
    ];
    for (err, naming) in cases {
        assert!(matches!(&err, StoreError::Invalid(_)), "{err}");
        assert!(err.to_string().contains(naming), "{naming:?} in {err}");
    }
    assert_eq!(count(&db, "pin_letters").await, 0);
    assert_eq!(count(&db, "audit").await, 0);
}

async fn ten_thousand_letters(db: TestDb) {
    let s = &db.store;
    let batch: Vec<NewPinLetter> = (1_000_001..=1_010_000)
        .map(|letter_id| NewPinLetter {
            letter_id,
            kek_id: "kek-pin-1".into(),
            // About the size of a real envelope of a PIN and PUK.
            sealed: format!("{letter_id:0>120}").into_bytes(),
        })
        .collect();
    s.create_pin_letters(LETTER, "big", "olga", &batch, &created())
        .await
        .unwrap();
    assert_eq!(count(&db, "pin_letters").await, 10_000);
    assert_eq!(count(&db, "audit").await, 1);
    for i in [0, 499, 500, 5_000, 9_999] {
        let found = s.pin_letter(batch[i].letter_id).await.unwrap().unwrap();
        assert_eq!(found.sealed, batch[i].sealed);
        assert_eq!(found.batch, "big");
    }
    let last = PinLetterQuery {
        first_id: Some(1_009_999),
        ..Default::default()
    };
    assert_eq!(
        letter_ids(&s.pin_letters(&last).await.unwrap()),
        [1_009_999, 1_010_000]
    );

    // A batch that does not fill its last statement.
    s.create_pin_letters(LETTER, "tail", "olga", &letters(1..=1234), &created())
        .await
        .unwrap();
    assert_eq!(count(&db, "pin_letters").await, 11_234);
    let tail = s.pin_letter(1234).await.unwrap().unwrap();
    assert_eq!(
        (tail.batch.as_str(), tail.sealed.as_slice()),
        ("tail", &b"sealed 1234"[..])
    );
}

async fn record_token_uses_letter(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=3), &created())
        .await
        .unwrap();
    let pin = use_letter(2, LETTER, "req-77");
    let stored = s
        .record_token(
            &[cert("0a", "CN=Alice"), cert("0b", "CN=Alice")],
            &issued("issue-token"),
            &[],
            Some(&pin),
        )
        .await
        .unwrap();
    let ids = format!("{},{}", stored[0].id, stored[1].id);

    let letter = s.pin_letter(2).await.unwrap().unwrap();
    let used = letter.used.expect("used");
    assert_eq!(used.officer, "olga");
    assert_eq!(used.request_id, "req-77");
    assert_eq!(used.certificate_ids, ids);
    assert_eq!(used.at, stored[0].issued_at);
    assert_eq!(
        letter.sealed, b"sealed 2",
        "the envelope stays (reprints need it)"
    );
    assert!(s.pin_letter(1).await.unwrap().unwrap().used.is_none());

    let log = s.audit_records(10).await.unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(log[1].action, "issue-token");
    assert_eq!(log[1].object.as_deref(), Some(ids.as_str()));
    let record = &log[2];
    assert_eq!(record.category, AuditCategory::PinDistribution);
    assert_eq!(record.action, "use-pin-letter");
    assert_eq!(record.object.as_deref(), Some("2"));
    assert_eq!(record.officer.as_deref(), Some("olga"));
    assert_eq!(
        record.detail,
        json!({ "request_id": "req-77", "certificate_ids": ids })
    );

    // A recovery that issues no certificate may use a letter too.
    s.record_token(
        &[],
        &issued("recover-token"),
        &[],
        Some(&use_letter(3, LETTER, "r")),
    )
    .await
    .unwrap();
    let three = s.pin_letter(3).await.unwrap().unwrap();
    assert_eq!(three.used.unwrap().certificate_ids, "");
}

async fn used_letter_rolls_back_issuance(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=3), &created())
        .await
        .unwrap();
    s.create_pin_letters("other", "b", "olga", &letters([9]), &created())
        .await
        .unwrap();
    let first = s
        .record_token(
            &[cert("01", "CN=First")],
            &issued("issue"),
            &[],
            Some(&use_letter(1, LETTER, "req-1")),
        )
        .await
        .unwrap();
    let all = CertificateQuery::default();
    let certs_before: Vec<StoredCertificate> = s.find_certificates(&all).await.unwrap();
    let log_before = s.audit_records(100).await.unwrap();
    let letters_before = s.pin_letters(&PinLetterQuery::default()).await.unwrap();
    assert_eq!(certs_before, first);

    for (letter_id, pin_procedure) in [(1, LETTER), (9, LETTER), (2, "other"), (404, LETTER)] {
        let err = s
            .record_token(
                &[cert("02", "CN=Second"), cert("03", "CN=Second")],
                &issued("issue"),
                &[audit(AuditCategory::KeysRecovered, "recover-key")],
                Some(&use_letter(letter_id, pin_procedure, "req-2")),
            )
            .await
            .unwrap_err();
        let expected = format!("PIN letter {letter_id}");
        assert!(
            matches!(&err, StoreError::Used(UsedItem::PinLetter(l)) if *l == letter_id),
            "{err}"
        );
        assert_eq!(err.to_string(), format!("{expected} has been used already"));
        assert_eq!(
            s.find_certificates(&all).await.unwrap(),
            certs_before,
            "no certificate"
        );
        assert!(s
            .find_certificates(&by_serial("02"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            s.audit_records(100).await.unwrap(),
            log_before,
            "no audit record"
        );
        assert_eq!(
            s.pin_letters(&PinLetterQuery::default()).await.unwrap(),
            letters_before,
            "no letter marked"
        );
    }

    let err = s
        .record_token(
            &[cert("02", "CN=Second")],
            &issued("issue"),
            &[],
            Some(&use_letter(0, LETTER, "r")),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Invalid(_)), "{err}");
    assert_eq!(s.find_certificates(&all).await.unwrap(), certs_before);

    // A serial conflict leaves the letter unused.
    let err = s
        .record_token(
            &[cert("01", "CN=Again")],
            &issued("issue"),
            &[],
            Some(&use_letter(2, LETTER, "r")),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(_)), "{err}");
    assert!(s.pin_letter(2).await.unwrap().unwrap().used.is_none());
}

async fn debug_never_shows_sealed_letters(db: TestDb) {
    let sealed = b"SECRET-MARKER\x00\x01\xfe\xff".to_vec();
    let new = NewPinLetter {
        letter_id: 5,
        kek_id: "kek-pin-1".into(),
        sealed: sealed.clone(),
    };
    db.store
        .create_pin_letters(LETTER, "a", "olga", std::slice::from_ref(&new), &created())
        .await
        .unwrap();
    db.store
        .record_token(
            &[cert("01", "CN=A")],
            &issued("issue"),
            &[],
            Some(&use_letter(5, LETTER, "r")),
        )
        .await
        .unwrap();
    let found = db.store.pin_letter(5).await.unwrap().unwrap();
    assert_eq!(found.sealed, sealed);

    let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
    let forbidden = [
        "SECRET-MARKER".to_string(),
        format!("{sealed:?}"),
        format!("{:?}", &sealed[..4])
            .trim_end_matches(']')
            .to_string(),
        "83, 69, 67, 82".to_string(),
        hex[..20].to_string(),
        hex[..20].to_ascii_uppercase(),
        "U0VDUkVULU1BUktFU".to_string(), // base64
    ];
    let texts = [
        format!("{new:?}"),
        format!("{new:#?}"),
        format!("{found:?}"),
        format!("{found:#?}"),
        format!("{:?}", Some(&found)),
        serde_json::to_string(&found).unwrap(),
    ];
    for text in &texts {
        for bad in &forbidden {
            assert!(!text.contains(bad.as_str()), "{bad:?} in {text}");
        }
    }
    for text in &texts[..5] {
        assert!(text.contains("<17 bytes>"), "{text}");
    }
    assert!(
        texts[3].contains("request_id"),
        "the rest is shown: {}",
        texts[3]
    );
    assert!(!texts[5].contains("sealed"), "{}", texts[5]);
}

fn voided() -> NewAudit {
    audit(AuditCategory::PinDistribution, "void-pin-letter")
}

async fn void_a_letter(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=3), &created())
        .await
        .unwrap();
    let fresh = s.pin_letter(2).await.unwrap().unwrap();
    assert!(
        fresh.check_printed,
        "letters created now carry check digits"
    );
    assert!(fresh.voided.is_none());

    let letter = s
        .void_pin_letter(2, "olga", "torn in the printer", &voided())
        .await
        .unwrap();
    let void = letter.voided.clone().expect("voided");
    assert_eq!(void.officer, "olga");
    assert_eq!(void.reason, "torn in the printer");
    assert!(letter.used.is_none());
    assert_eq!(s.pin_letter(2).await.unwrap().unwrap(), letter);
    assert!(s.pin_letter(1).await.unwrap().unwrap().voided.is_none());

    let log = s.audit_records(10).await.unwrap();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[1].action, "void-pin-letter");
    assert_eq!(log[1].category, AuditCategory::PinDistribution);

    let of_voided = |voided| PinLetterQuery {
        voided: Some(voided),
        ..Default::default()
    };
    assert_eq!(
        letter_ids(&s.pin_letters(&of_voided(true)).await.unwrap()),
        [2]
    );
    assert_eq!(
        letter_ids(&s.pin_letters(&of_voided(false)).await.unwrap()),
        [1, 3]
    );
}

async fn void_refusals_change_nothing(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=3), &created())
        .await
        .unwrap();
    s.record_token(
        &[cert("0a", "CN=Alice")],
        &issued("issue-token"),
        &[],
        Some(&use_letter(1, LETTER, "req-1")),
    )
    .await
    .unwrap();
    s.void_pin_letter(2, "olga", "lost", &voided())
        .await
        .unwrap();
    let letters_before = s.pin_letters(&PinLetterQuery::default()).await.unwrap();
    let log_before = s.audit_records(100).await.unwrap();

    let err = s
        .void_pin_letter(1, "olga", "damaged", &voided())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotVoided(1, VoidRefused::Used(u)) if u.request_id == "req-1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("used by request req-1"), "{err}");
    let err = s
        .void_pin_letter(2, "olga", "again", &voided())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotVoided(2, VoidRefused::Voided(v)) if v.reason == "lost"),
        "{err:?}"
    );
    assert!(err.to_string().contains("voided already by olga"), "{err}");
    let err = s
        .void_pin_letter(404, "olga", "x", &voided())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotVoided(404, VoidRefused::Unknown)),
        "{err:?}"
    );
    for (id, officer, reason) in [(0, "olga", "x"), (3, " ", "x"), (3, "olga", "  ")] {
        let err = s
            .void_pin_letter(id, officer, reason, &voided())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        s.pin_letters(&PinLetterQuery::default()).await.unwrap(),
        letters_before
    );
    assert_eq!(s.audit_records(100).await.unwrap(), log_before);
}

async fn a_voided_letter_never_seals_a_token(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=2), &created())
        .await
        .unwrap();
    s.void_pin_letter(1, "olga", "damaged", &voided())
        .await
        .unwrap();
    let certs_before = s
        .find_certificates(&CertificateQuery::default())
        .await
        .unwrap();
    let err = s
        .record_token(
            &[cert("0c", "CN=Carol")],
            &issued("issue-token"),
            &[],
            Some(&use_letter(1, LETTER, "req-9")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Used(UsedItem::PinLetter(1))),
        "{err:?}"
    );
    assert_eq!(
        s.find_certificates(&CertificateQuery::default())
            .await
            .unwrap(),
        certs_before,
        "the issuance rolled back"
    );
    assert!(s.pin_letter(1).await.unwrap().unwrap().used.is_none());
}

async fn next_free_skips_used_and_voided_letters(db: TestDb) {
    let s = &db.store;
    s.create_pin_letters(LETTER, "a", "olga", &letters(1..=5), &created())
        .await
        .unwrap();
    s.create_pin_letters("other", "b", "olga", &letters([6]), &created())
        .await
        .unwrap();
    let next_free = |procedure: &str, first_id: Option<i64>| PinLetterQuery {
        first_id,
        used: Some(false),
        voided: Some(false),
        pin_procedure: Some(procedure.into()),
        limit: Some(1),
    };
    let next = |q: PinLetterQuery| async move { letter_ids(&s.pin_letters(&q).await.unwrap()) };
    assert_eq!(next(next_free(LETTER, None)).await, [1]);
    s.record_token(
        &[cert("0d", "CN=Dan")],
        &issued("issue-token"),
        &[],
        Some(&use_letter(1, LETTER, "req-1")),
    )
    .await
    .unwrap();
    s.void_pin_letter(2, "olga", "damaged", &voided())
        .await
        .unwrap();
    s.void_pin_letter(3, "olga", "damaged", &voided())
        .await
        .unwrap();
    assert_eq!(next(next_free(LETTER, None)).await, [4]);
    assert_eq!(next(next_free(LETTER, Some(5))).await, [5]);
    assert_eq!(next(next_free("other", None)).await, [6]);
    s.void_pin_letter(6, "olga", "damaged", &voided())
        .await
        .unwrap();
    assert!(next(next_free("other", None)).await.is_empty());
}
