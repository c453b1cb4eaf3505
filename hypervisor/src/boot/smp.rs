//! Starting the secondary pCPUs. Each starts like the boot CPU did, MMU off
//! at its physical entry, and crosses to the high addresses through the same
//! transitional space (C4), then continues in `secondary_main`.

use super::spaces;
use crate::arch::aarch64::{firmware, sysreg};
use core::cell::UnsafeCell;

/// What entry.S's `secondary_entry` reads, with the MMU off (layout fixed by
/// entry.S).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SecondaryBoot {
    transitional: u64,
    final_root: u64,
    delta: u64,
    continuation: u64,
    stack_top: u64,
    cpu_index: u64,
}

const MAX_CPUS: usize = crate::sched::MAX_PCPUS;

#[repr(C, align(64))]
struct Blocks(UnsafeCell<[SecondaryBoot; MAX_CPUS]>);
// SAFETY: the boot CPU writes block i before starting CPU i, which only reads it.
unsafe impl Sync for Blocks {}
static BLOCKS: Blocks = Blocks(UnsafeCell::new(
    [SecondaryBoot {
        transitional: 0,
        final_root: 0,
        delta: 0,
        continuation: 0,
        stack_top: 0,
        cpu_index: 0,
    }; MAX_CPUS],
));

extern "C" {
    fn secondary_entry();
}

/// Start pCPU `index` (MPIDR `mpidr`) on a stack ending at `stack_top`; it
/// runs `continuation(index)`. Returns the PSCI status on failure.
pub fn start(
    index: usize,
    mpidr: u64,
    stack_top: u64,
    delta: u64,
    continuation: extern "C" fn(u64) -> !,
) -> Result<(), i64> {
    let s = spaces();
    let block = SecondaryBoot {
        transitional: s.transitional,
        final_root: s.final_root,
        delta,
        continuation: continuation as *const () as u64,
        stack_top,
        cpu_index: index as u64,
    };
    // SAFETY: boot CPU only; CPU `index` has not started, so nobody reads it.
    let slot = unsafe { &mut (*BLOCKS.0.get())[index] };
    *slot = block;
    let va = slot as *mut SecondaryBoot as u64;
    sysreg::clean_dcache_range(va, core::mem::size_of::<SecondaryBoot>() as u64);
    let entry = secondary_entry as *const () as u64;
    match firmware::cpu_on(mpidr, entry - delta, va - delta) {
        0 => Ok(()),
        status => Err(status),
    }
}
