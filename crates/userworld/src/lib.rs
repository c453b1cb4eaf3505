//! Aerie's EL0 user worlds (C6).
//!
//! A user world is a small static program that Aerie runs at EL0 in the
//! 39-bit EL1&0 regime, on the same page-table hierarchy as Aerie's own
//! 48-bit EL2 space (ARCHITECTURE.md "User worlds"). This crate holds what
//! both sides must agree on ([`abi`], [`layout`]) and, with the `kernel`
//! feature, the kernel's logic that needs no hardware: loading a program
//! ([`elf`]), naming what a faulting world did ([`fault`]) and serving its
//! system calls ([`syscall`]).
#![cfg_attr(not(test), no_std)]

#[cfg(feature = "kernel")]
extern crate alloc;

pub mod abi;
pub mod layout;

#[cfg(feature = "kernel")]
pub mod elf;
#[cfg(feature = "kernel")]
pub mod fault;
#[cfg(feature = "kernel")]
pub mod syscall;
