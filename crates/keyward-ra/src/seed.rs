//! The seed product's "Initialize Key Generation" step, for a command-line RA.
//!
//! Keys come from OpenSSL's DRBG, which seeds itself from the OS CSPRNG. At every RA start we run
//! a health check of the generator; `keyward ra init-keygen` lets an officer mix extra entropy
//! in, and keeps a seed file (mode 0600, beside client.conf) that later runs mix in and replace,
//! so the officer's contribution carries over between runs, as the seed's dialog does.

use std::path::{Path, PathBuf};

use crate::error::RaError;

/// Size of the seed file.
pub const SEED_BYTES: usize = 64;

/// The seed file beside client.conf.
pub fn seed_path(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("ra-seed")
}

/// Runs the generator health check and mixes in (then replaces) the seed file if there is one.
/// Returns whether a seed file was used.
pub fn start(config_path: &Path) -> Result<bool, RaError> {
    keyward_crypto::entropy::health_check()?;
    let path = seed_path(config_path);
    match std::fs::read(&path) {
        Ok(seed) => {
            keyward_crypto::entropy::mix(&seed);
            refresh(&path)?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

/// Mixes the officer's extra entropy in, checks the generator, and writes a fresh seed file.
pub fn init_keygen(config_path: &Path, extra: &[u8]) -> Result<PathBuf, RaError> {
    if extra.len() < 32 {
        return Err(RaError::input(
            "entropy",
            "give at least 32 bytes of extra entropy (type more, or use --from-file)",
        ));
    }
    keyward_crypto::entropy::mix(extra);
    keyward_crypto::entropy::health_check()?;
    let path = seed_path(config_path);
    refresh(&path)?;
    Ok(path)
}

fn refresh(path: &Path) -> Result<(), RaError> {
    let mut fresh = zeroize::Zeroizing::new([0u8; SEED_BYTES]);
    openssl::rand::rand_bytes(fresh.as_mut_slice())
        .map_err(|_| RaError::internal("the random generator failed"))?;
    keyward_crypto::files::write_secret(path, fresh.as_slice()).map_err(|error| RaError::Io {
        path: path.to_path_buf(),
        error,
    })
}
