//! Request nonces: a second sight is a replay; old nonces are forgotten.

use crate::common::TestDb;

keyward_testkit::on_both_engines!(async crate::common::fresh =>a_nonce_is_accepted_once, old_nonces_are_forgotten);

async fn a_nonce_is_accepted_once(db: TestDb) {
    let s = &db.store;
    assert!(s.remember_nonce("n-0001", "alice", 600).await.unwrap());
    assert!(!s.remember_nonce("n-0001", "alice", 600).await.unwrap());
    assert!(
        !s.remember_nonce("n-0001", "bob", 600).await.unwrap(),
        "whoever sends it"
    );
    assert!(s.remember_nonce("n-0002", "alice", 600).await.unwrap());
}

async fn old_nonces_are_forgotten(db: TestDb) {
    let s = &db.store;
    assert!(s.remember_nonce("n-old", "alice", 600).await.unwrap());
    // With a window of -1 s every earlier nonce is older than the window.
    assert!(s.remember_nonce("n-new", "alice", -1).await.unwrap());
    assert!(s.remember_nonce("n-old", "alice", 600).await.unwrap());
}
