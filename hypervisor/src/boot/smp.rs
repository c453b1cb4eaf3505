//! Starting the secondary pCPUs. Each starts like the boot CPU did, MMU off
//! at its physical entry, and crosses to the high addresses through the same
//! transitional space (C4), then continues in `secondary_main`.
//!
//! Two ways to start one, as its device-tree node says: PSCI CPU_ON, which
//! hands the CPU its block's address in x0; or a spin table (the Raspberry
//! Pi 4's firmware), where the CPU waits for an entry address at its
//! `cpu-release-addr` and starts with x0 = 0, so it finds its block by its
//! MPIDR (`secondary_spin_entry`).

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
    /// The CPU's MPIDR (affinity fields) with [`KEY_VALID`]: how a CPU
    /// started by a spin table finds this block. Zero in unused blocks.
    key: u64,
}

/// Set in a block's key: MPIDR_EL1 bit 63 is RES0, so no CPU's affinity
/// fields alone match an unused (zero) block.
const KEY_VALID: u64 = 1 << 63;
/// The affinity fields of MPIDR_EL1 (Aff3, Aff2..Aff0), what keys compare.
const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

/// Layout facts entry.S's spin-table entry needs.
pub const BLOCK_SIZE: usize = core::mem::size_of::<SecondaryBoot>();
pub const BLOCK_KEY_OFFSET: usize = core::mem::offset_of!(SecondaryBoot, key);

pub const MAX_CPUS: usize = crate::sched::MAX_PCPUS;

#[repr(C, align(64))]
pub struct Blocks(UnsafeCell<[SecondaryBoot; MAX_CPUS]>);
// SAFETY: the boot CPU writes block i before starting CPU i, which only reads it.
unsafe impl Sync for Blocks {}
pub static BLOCKS: Blocks = Blocks(UnsafeCell::new(
    [SecondaryBoot {
        transitional: 0,
        final_root: 0,
        delta: 0,
        continuation: 0,
        stack_top: 0,
        cpu_index: 0,
        key: 0,
    }; MAX_CPUS],
));

extern "C" {
    fn secondary_entry();
    fn secondary_spin_entry();
}

/// How a CPU is started (its device-tree node's `enable-method`).
#[derive(Clone, Copy, Debug)]
pub enum Method {
    Psci,
    /// A spin table: the CPU polls this physical address.
    SpinTable {
        release_addr: u64,
    },
}

/// Start pCPU `index` (MPIDR `mpidr`) by `method` on a stack ending at
/// `stack_top`; it runs `continuation(index)`. Returns the PSCI status on
/// failure (a spin table cannot say).
pub fn start(
    index: usize,
    mpidr: u64,
    method: Method,
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
        key: (mpidr & MPIDR_AFFINITY) | KEY_VALID,
    };
    // SAFETY: boot CPU only; CPU `index` has not started, so nobody reads it.
    let slot = unsafe { &mut (*BLOCKS.0.get())[index] };
    *slot = block;
    let va = slot as *mut SecondaryBoot as u64;
    sysreg::clean_dcache_range(va, core::mem::size_of::<SecondaryBoot>() as u64);
    match method {
        Method::Psci => {
            let entry = secondary_entry as *const () as u64;
            match firmware::cpu_on(mpidr, entry - delta, va - delta) {
                0 => Ok(()),
                status => Err(status),
            }
        }
        Method::SpinTable { release_addr } => {
            let entry = secondary_spin_entry as *const () as u64 - delta;
            let release = crate::mm::layout::phys_to_virt(release_addr);
            // SAFETY: the release address is RAM the firmware set aside
            // for this CPU's spin table (the direct map covers it), which
            // only the waiting CPU reads; an aligned 64-bit store.
            unsafe { core::ptr::write_volatile(release as *mut u64, entry) };
            // The waiting CPU reads with its MMU and caches off.
            sysreg::clean_dcache_range(release, 8);
            sysreg::dsb_sy();
            sysreg::sev();
            Ok(())
        }
    }
}
