//! Aerie's compact symbol table, so the hypervisor can print
//! `symbol+0xoff` for its own addresses (watchdog reports, profiles).
//!
//! xtask extracts the symbols of the Aerie ELF and writes them with
//! [`write`] (feature `std`) into the boot module; at run time
//! [`Symbols::parse`] borrows the blob without allocating and
//! [`Symbols::lookup`] resolves an address by binary search. See [`format`]
//! for the byte layout.
#![cfg_attr(not(any(test, feature = "std")), no_std)]

mod error;
pub mod format;
mod parse;
#[cfg(any(test, feature = "std"))]
mod write;

pub use error::SymbolsError;
pub use parse::{Symbol, Symbols};
#[cfg(any(test, feature = "std"))]
pub use write::write;

#[cfg(test)]
mod tests;
