//! Crash points: a test hook that kills the process with SIGKILL at a named point of an
//! issuance, to prove that a crash anywhere leaves the database consistent.
//!
//! Only debug builds (`cfg(debug_assertions)`, which is what `cargo test` builds) read the
//! environment variable [`CRASH_ENV`]; in a release build [`crash_point`] does nothing. The
//! value is a comma-separated list of points; reaching one of them prints
//! `keyward: crash point POINT reached` on stderr and sends SIGKILL to the process itself (no
//! destructor, no flush, no rollback: exactly what `kill -9` does).
//!
//! Points of an issuance, in order:
//!
//! | point | where |
//! |---|---|
//! | `after-sign` | the certificates are signed (and archived keys generated), nothing is recorded |
//! | `mid-transaction` | the request ID is claimed, the certificates and archived keys are inserted and the old certificates of recovered keys revoked; the audit records are not |
//! | `before-commit` | everything is written, the transaction is not committed |
//! | `after-commit` | committed, the answer has not been sent |
//!
//! The RA has one more, `mid-write` (`keyward_crypto::files`): half of a file (the PKCS#12 first)
//! is written under its temporary name.

/// The environment variable naming the crash points (debug builds only).
pub const CRASH_ENV: &str = "KEYWARD_TEST_CRASH_AT";

/// Kills the process with SIGKILL if [`CRASH_ENV`] names `point` (debug builds only).
pub fn crash_point(point: &str) {
    #[cfg(debug_assertions)]
    {
        let wanted = std::env::var(CRASH_ENV).unwrap_or_default();
        if wanted.split(',').any(|p| p.trim() == point) {
            eprintln!("keyward: crash point {point} reached");
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            // `kill` missing or refused: die without unwinding all the same.
            std::process::abort();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
