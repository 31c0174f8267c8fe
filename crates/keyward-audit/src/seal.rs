//! The audit key's files, written once by `keyward init`, and the server's sealing: every
//! interval while it runs, and once more when it stops.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyward_crypto::files::{write_public, write_secret};
use keyward_store::Store;

use crate::{AuditError, AuditKey};

/// Writes a new audit key under `dir`: `audit/audit-key.pem` (encrypted PKCS#8),
/// `audit/audit.pass` (its passphrase, mode 0600) and `audit/audit-key.pub.pem`.
pub fn create_key_files(dir: &Path) -> Result<(), AuditError> {
    let key = AuditKey::generate()?;
    let pass = keyward_crypto::generate_pin(32, keyward_policy::pin::PIN_ALPHABET)?;
    write_secret(&dir.join("audit/audit.pass"), pass.as_str().as_bytes())?;
    write_secret(
        &dir.join("audit/audit-key.pem"),
        &key.encrypted_pem(pass.as_str().as_bytes())?,
    )?;
    write_public(&dir.join("audit/audit-key.pub.pem"), &key.public_key_pem()?)?;
    Ok(())
}

/// What one round of sealing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealOutcome {
    /// A seal was written.
    Sealed,
    /// No record since the last seal: nothing to seal.
    NothingNew,
    /// Sealing failed (logged; the next round tries again).
    Failed,
}

/// Seals once; a failure is logged (the next round tries again), never fatal to the server.
async fn seal_once(store: &Store, key: &AuditKey) -> SealOutcome {
    match key.seal(store).await {
        Ok(Some(seal)) => {
            tracing::debug!("audit log sealed up to record {}", seal.upto_id);
            SealOutcome::Sealed
        }
        Ok(None) => SealOutcome::NothingNew,
        Err(e) => {
            tracing::error!("could not seal the audit log: {e}");
            SealOutcome::Failed
        }
    }
}

/// Seals the audit log every `every` (at once first) while there are new records: the
/// server's background task. `observe` is told each round's outcome (the server counts seals).
pub async fn seal_periodically(
    store: Store,
    key: Arc<AuditKey>,
    every: Duration,
    observe: impl Fn(SealOutcome) + Send,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        observe(seal_once(&store, &key).await);
    }
}

/// One last seal, when the server stops.
pub async fn seal_on_shutdown(store: &Store, key: &AuditKey) -> SealOutcome {
    seal_once(store, key).await
}
