//! Primitives Aerie's pseudo-NMI handlers may use.
//!
//! A pseudo-NMI (see `aerie-irqplan`) can interrupt regular code anywhere,
//! including while it holds a lock. A pNMI handler that tried to take that
//! lock would deadlock its own CPU, so pNMI handlers may only touch data
//! built for it: per-CPU slots of atomics ([`PerCpu`]) and per-CPU
//! single-producer rings ([`SampleRing`]) that the pNMI writes and regular
//! code drains. [`TopN`] is the regular-code side that aggregates what was
//! drained.
//!
//! [`NmiContext`] is a token only the hypervisor's pNMI dispatcher can mint;
//! functions meant to run in pNMI context take it, and the hypervisor's
//! machine lock asserts that no pNMI is in progress on the current CPU when
//! it is taken (that check lives with the lock, in the hypervisor).
#![cfg_attr(not(test), no_std)]

mod context;
mod percpu;
mod ring;
mod topn;

pub use context::NmiContext;
pub use percpu::PerCpu;
pub use ring::{RingReader, SampleRing};
pub use topn::{Top, TopN};

#[cfg(test)]
mod tests;
