//! Health of the random generator, and mixing in extra entropy (the seed's "Initialize Key
//! Generation").

// OpenSSL calls the `openssl` crate does not wrap; every block says why it is sound.
#![allow(unsafe_code)]

use std::io::Read;

use crate::CryptoError;

extern "C" {
    // libcrypto: adds `num` bytes with an entropy estimate of `randomness` bytes to the DRBG.
    fn RAND_add(buf: *const std::ffi::c_void, num: std::ffi::c_int, randomness: f64);
}

/// Checks that OpenSSL's DRBG is seeded and that it and the OS CSPRNG produce output that is
/// neither constant nor repeated.
pub fn health_check() -> Result<(), CryptoError> {
    // SAFETY: RAND_status takes no arguments and only reads the DRBG's state.
    if unsafe { openssl_sys::RAND_status() } != 1 {
        return Err(CryptoError::Entropy(
            "OpenSSL's generator is not seeded".into(),
        ));
    }
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    openssl::rand::rand_bytes(&mut a)
        .map_err(|_| CryptoError::Entropy("OpenSSL draw failed".into()))?;
    openssl::rand::rand_bytes(&mut b)
        .map_err(|_| CryptoError::Entropy("OpenSSL draw failed".into()))?;
    let mut os = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut os))
        .map_err(|e| CryptoError::Entropy(format!("OS CSPRNG: {e}")))?;
    for (name, draw) in [("OpenSSL", &a), ("OpenSSL", &b), ("OS", &os)] {
        if draw.iter().all(|x| *x == draw[0]) {
            return Err(CryptoError::Entropy(format!(
                "{name} generator returned a constant block"
            )));
        }
    }
    if a == b || a == os {
        return Err(CryptoError::Entropy("two draws repeated".into()));
    }
    Ok(())
}

/// Mixes extra bytes into OpenSSL's DRBG (credited with no entropy: it can only help).
pub fn mix(extra: &[u8]) {
    for chunk in extra.chunks(i32::MAX as usize) {
        // SAFETY: the pointer and length describe a live slice; OpenSSL copies the bytes.
        unsafe { RAND_add(chunk.as_ptr().cast(), chunk.len() as std::ffi::c_int, 0.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_and_mixing_keeps_it_healthy() {
        health_check().unwrap();
        mix(b"officer typed this at random: qpwoeirutyalskdjfhg");
        health_check().unwrap();
    }
}
