//! Fresh values every signed request carries: random request IDs and nonces, and the clock.

use crate::error::RaError;

/// `bytes` random bytes from OpenSSL's CSPRNG, hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, RaError> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)
        .map_err(|_| RaError::internal("the random generator failed"))?;
    Ok(hex::encode(buf))
}

/// Unix seconds now (0 for a clock before 1970: the server refuses the timestamp).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
