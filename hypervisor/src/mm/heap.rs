//! The kernel heap: a static seed region (so the device tree can be parsed
//! before anything else is known), grown from the frame allocator.

use buddy_system_allocator::LockedHeap;
use core::cell::UnsafeCell;

const SEED_SIZE: usize = 1 << 20;

#[repr(C, align(4096))]
struct Seed(UnsafeCell<[u8; SEED_SIZE]>);
// SAFETY: handed to the allocator once, by the boot CPU.
unsafe impl Sync for Seed {}
static SEED: Seed = Seed(UnsafeCell::new([0; SEED_SIZE]));

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Start the heap on its static seed.
pub fn init_seed() {
    // SAFETY: SEED is static, unused by anything else, and added once.
    unsafe { HEAP.lock().init(SEED.0.get() as usize, SEED_SIZE) }
}

/// Give the heap more memory: `[va, va + len)` must be mapped, writable and
/// used by nothing else from now on.
///
/// # Safety
/// As above; the range is owned by the heap forever.
pub unsafe fn grow(va: u64, len: u64) {
    // SAFETY: per the contract.
    unsafe { HEAP.lock().add_to_heap(va as usize, (va + len) as usize) }
}
