//! Shared test support: checks of Keyward's output with tools Keyward did not write.
#![allow(dead_code)]

pub mod interop;
