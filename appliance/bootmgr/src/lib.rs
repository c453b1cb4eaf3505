//! Pure logic of the Aerie appliance boot manager, kept free of UEFI so that
//! it is unit-tested on the host (`cargo test --lib`). The UEFI program that
//! uses it is `main.rs`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod arch;
pub mod config;
pub mod options;
