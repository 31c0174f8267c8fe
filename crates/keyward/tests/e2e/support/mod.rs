//! Shared test support: checks of Keyward's output with tools Keyward did not write.

pub mod consumers;
pub mod der;
pub mod interop;
pub mod nss;
pub mod pkilint;
pub mod python;
