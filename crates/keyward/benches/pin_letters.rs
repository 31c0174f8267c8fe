//! PIN/PUK letter batches: how long 10,000 letters take, phase by phase, through the server's
//! own service code (PIN generation, KRA envelopes, the SQLite store, sealing for the client)
//! and the client's own PDF rendering. HTTPS is left out: one request, one response.
//!
//! `cargo bench -p keyward --bench pin_letters [-- COUNT]` (default 10,000). Each phase is run
//! three times and the median reported, also as a ratio to the baseline measured in the same
//! run: generating the batch's PINs and PUKs alone (the CSPRNG work no design can avoid).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::time::{Duration, Instant};

use keyward_ca::{create_hierarchy, CertificateAuthority, SoftwareSigner};
use keyward_crypto::transport::{self, TransportKeyPair};
use keyward_kra::{Kra, SoftwareArchiveKey};
use keyward_mailer::pdf::{self, Letter};
use keyward_policy::{DistinguishedName, ProcedureSet, Role};
use keyward_proto::{CreatePinLetters, PinLetterSecret, PIN_LETTERS_CONTEXT};
use keyward_server::service::Services;
use keyward_store::{AuditCategory, NewAudit, Officer, Outcome, Store};
use zeroize::Zeroizing;

const PROCEDURES: &str = keyward_admin::init::DEFAULT_PROCEDURES;
const ROUNDS: usize = 3;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn letter(secret: &PinLetterSecret) -> Letter {
    Letter {
        title: "PIN/PUK letter".into(),
        reference: format!("Letter ID {}", secret.letter_id),
        recipient: Vec::new(),
        text: vec!["This letter holds the PIN and PUK of your soft token.".into()],
        secrets: vec![
            ("PIN".into(), Zeroizing::new(secret.pin.clone())),
            ("PUK".into(), Zeroizing::new(secret.puk.clone())),
        ],
    }
}

async fn service(dir: &std::path::Path) -> Services {
    let store = Store::open(&format!("sqlite://{}", dir.join("bench.db").display()))
        .await
        .expect("store");
    let set: ProcedureSet = toml::from_str(PROCEDURES).expect("procedures.toml");
    let audit = NewAudit {
        category: AuditCategory::Administration,
        action: "load-procedures".into(),
        officer: None,
        outcome: Outcome::Success,
        object: None,
        detail: serde_json::json!({}),
    };
    store
        .replace_procedures(&set, &audit)
        .await
        .expect("procedures");
    let dn = |s: &str| DistinguishedName::parse(s).expect("DN");
    let h = create_hierarchy(&dn("CN=Bench Root"), &dn("CN=Bench Issuing")).expect("CA");
    let ca = CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        Box::new(SoftwareSigner::new(h.issuing_key)),
    );
    let kra = Kra::new(Some(Box::new(SoftwareArchiveKey::generate().expect("KEK"))));
    Services::new(store, ca, kra, "EC:secp256r1*".into())
}

fn main() {
    let count: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let service = rt.block_on(service(dir.path()));
    let set: ProcedureSet = toml::from_str(PROCEDURES).expect("procedures.toml");
    let rules = set
        .pin_procedure("letter")
        .expect("PIN procedure letter")
        .clone();
    let officer = Officer {
        id: 1,
        name: "bench".into(),
        cert_fingerprint: String::new(),
        cert_der: Vec::new(),
        roles: [Role::ManagePinLetters].into(),
        created_at: 0,
        revoked_at: None,
    };

    let (mut baseline, mut server, mut open, mut render) = (vec![], vec![], vec![], vec![]);
    let mut pdf_bytes = 0;
    for round in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..count {
            let pin = keyward_crypto::generate_for(&rules).expect("PIN");
            let puk = keyward_crypto::generate_puk(&rules).expect("PUK");
            std::hint::black_box((pin, puk));
        }
        baseline.push(t.elapsed());

        let transport = TransportKeyPair::generate().expect("transport key");
        let request = CreatePinLetters {
            request_id: format!("bench-{round}"),
            timestamp: 0,
            nonce: String::new(),
            pin_procedure: "letter".into(),
            first_id: (1 + u64::from(count) * round as u64).to_string(),
            count,
            transport_key: transport.public_der().expect("SPKI"),
        };
        let t = Instant::now();
        let batch = rt
            .block_on(service.pins.create_pin_letters(&officer, request.clone()))
            .expect("create");
        server.push(t.elapsed());

        let t = Instant::now();
        let sealed = transport::SealedKey {
            ephemeral_key: batch.sealed.ephemeral_key,
            nonce: batch.sealed.nonce,
            ciphertext: batch.sealed.ciphertext,
        };
        let json = transport
            .open(
                &sealed,
                &transport::secret_context(&request.request_id, PIN_LETTERS_CONTEXT),
            )
            .expect("open");
        let secrets: Vec<PinLetterSecret> = serde_json::from_slice(&json).expect("letters");
        open.push(t.elapsed());

        let t = Instant::now();
        let letters: Vec<Letter> = secrets.iter().map(letter).collect();
        pdf_bytes = pdf::render(&letters).expect("PDF").len();
        render.push(t.elapsed());
    }
    let (baseline, server, open, render) = (
        median(baseline),
        median(server),
        median(open),
        median(render),
    );
    let total = server + open + render;
    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    println!("PIN/PUK letter batch of {count} (median of {ROUNDS} rounds)");
    println!("{:<44} {:>9} {:>10}", "phase", "seconds", "x baseline");
    for (name, d) in [
        ("baseline: generate the PINs and PUKs only", baseline),
        ("server: generate, KRA envelopes, store, seal", server),
        ("client: open the sealed batch", open),
        ("client: render the PDF", render),
        ("total (without HTTPS)", total),
    ] {
        println!("{name:<44} {:>9.3} {:>10.1}", d.as_secs_f64(), ratio(d));
    }
    println!("PDF: {} pages, {:.1} MB", count, pdf_bytes as f64 / 1e6);
}
