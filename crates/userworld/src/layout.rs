//! A user world's virtual address space: `[0, 2^39)`, the range the EL1&0
//! regime covers with `TCR_EL1.T0SZ = 25`. Aerie's own mappings all lie
//! above it, so no user address can reach them.

/// Width of a user world's address space.
pub const VA_BITS: u8 = 39;
/// One past the highest user address.
pub const VA_END: u64 = 1 << VA_BITS;
/// The page size of user mappings.
pub const PAGE_SIZE: u64 = 4096;

/// Nothing is mapped below this: a null pointer (plus a small offset) faults.
pub const LOW_GUARD: u64 = 0x1_0000;

/// The top page: the EL1 vector shim that forwards a world's exceptions to
/// Aerie (readable by the world, not writable, not executable by it).
pub const SHIM_VA: u64 = VA_END - PAGE_SIZE;
/// The top of the stack, one unmapped guard page below the shim.
pub const STACK_TOP: u64 = SHIM_VA - PAGE_SIZE;
/// Stack size; an overflow runs into an unmapped guard page and faults.
pub const STACK_SIZE: u64 = 64 * 1024;
/// The lowest stack address.
pub const STACK_BOTTOM: u64 = STACK_TOP - STACK_SIZE;

/// Program segments must lie in `[LOW_GUARD, PROGRAM_END)`, below a guard
/// gap under the stack.
pub const PROGRAM_END: u64 = STACK_BOTTOM - 0x10_0000;
/// The most memory a program's segments may take, in bytes.
pub const PROGRAM_MAX_BYTES: u64 = 16 << 20;
