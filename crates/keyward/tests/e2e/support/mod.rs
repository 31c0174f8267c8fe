//! Shared test support: checks of Keyward's output with tools Keyward did not write.

pub(crate) mod consumers;
pub(crate) mod der;
pub(crate) mod interop;
pub(crate) mod nss;
pub(crate) mod pkilint;
pub(crate) mod python;
