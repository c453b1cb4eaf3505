//! Volatile access to the GIC's memory-mapped register frames.

// Each access is one plain LDR/STR with a base register and no writeback,
// as Linux's readl/writel are: a hypervisor emulating the GIC decodes the
// access from the trap syndrome, which is only valid (ISV = 1) for such
// instructions. The compiler may otherwise pick a writeback form.

/// Reads a 32-bit GIC register.
pub fn read32(addr: usize) -> u32 {
    let value: u32;
    // SAFETY: callers pass 4-aligned register addresses inside the GICD/GICR
    // windows of the `virt`-shaped machine, which are MMIO; the load has no
    // effect on Rust memory.
    unsafe {
        core::arch::asm!("ldr {0:w}, [{1}]", out(reg) value, in(reg) addr, options(nostack, readonly))
    };
    value
}

/// Writes a 32-bit GIC register.
pub fn write32(addr: usize, value: u32) {
    // SAFETY: as for read32; these writes only configure the GIC.
    unsafe { core::arch::asm!("str {0:w}, [{1}]", in(reg) value, in(reg) addr, options(nostack)) };
}

/// Reads a 64-bit GIC register (GICR_TYPER, GICD_IROUTER<n>).
pub fn read64(addr: usize) -> u64 {
    let value: u64;
    // SAFETY: as for read32, for an 8-aligned 64-bit register.
    unsafe {
        core::arch::asm!("ldr {0}, [{1}]", out(reg) value, in(reg) addr, options(nostack, readonly))
    };
    value
}

/// Writes a 64-bit GIC register (GICD_IROUTER<n>).
pub fn write64(addr: usize, value: u64) {
    // SAFETY: as for write32, for an 8-aligned 64-bit register.
    unsafe { core::arch::asm!("str {0}, [{1}]", in(reg) value, in(reg) addr, options(nostack)) };
}

/// Polls `done` a bounded number of times: a GIC that never finishes a
/// register write must fail the test, not hang the run.
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    (0..1_000_000).any(|_| done())
}

/// Register offset and bit of `intid` in a bank of 1-bit-per-INTID registers
/// (GICD_ISENABLER<n>, GICR_ISPENDR0, ...).
pub fn bit_position(intid: u32) -> (usize, u32) {
    ((intid as usize / 32) * 4, 1 << (intid % 32))
}

/// Read-modify-writes the priority byte of `intid` in a GICD/GICR_IPRIORITYR
/// bank with 32-bit accesses (byte accesses are allowed by the GICv3
/// specification, but word accesses are what every emulation supports).
pub fn set_priority_byte(bank: usize, intid: u32, priority: u8) {
    let reg = bank + (intid as usize & !3);
    let shift = (intid % 4) * 8;
    let value = (read32(reg) & !(0xff << shift)) | (u32::from(priority) << shift);
    write32(reg, value);
}
