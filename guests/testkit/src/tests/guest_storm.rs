//! A misbehaving guest: seeded pseudo-random reads that trap to the
//! hypervisor (MMIO loads of every form and alignment from every device
//! window and from holes with nothing behind them; system register reads
//! of every class the hypervisor decodes). Each access must end in a value
//! or in exactly the architectural fault, and the machine must work the
//! same afterwards. Under Aerie this is the end-to-end check of its EL2
//! exit decoding and device dispatch under random input, which host tests
//! cannot reach.
//!
//! Only reads: random writes would wreck the GIC and UART state the testkit
//! itself needs. It runs last, so a device left in a strange state cannot
//! affect another test.
//!
//! What is expected of an access:
//! - a misaligned one (the testkit runs with the MMU off, so every data
//!   access is to Device memory, where an unaligned access is an Alignment
//!   fault, and LDAR needs alignment anyway): the CPU's own Alignment fault,
//!   EC 0x25, DFSC 0x21. The Arm ARM puts this stage-1 fault before any
//!   stage-2 fault (AArch64.S1DisabledOutput), so no hypervisor should see
//!   the access; but QEMU's TCG checks Device alignment only once the whole
//!   translation has succeeded, so under a hypervisor, an access to an IPA
//!   that traps to it arrives there (as a stage-2 abort) instead. Under
//!   Aerie such an access may therefore end in the external abort Aerie
//!   gives anything it does not emulate: never in a value;
//! - an aligned one to a hole (nothing in the machine's map, neither on
//!   QEMU `virt` nor in Aerie's VMs, ARCHITECTURE.md "VMs"): a synchronous
//!   external abort, EC 0x25, DFSC 0x10;
//! - an aligned one to a device window: the value of the register (in the
//!   shape the load gives it: zero- or sign-extended from the access size),
//!   or the external abort for a register or size the device refuses. Under
//!   Aerie an access without a valid syndrome (ISV = 0: LDP, writeback) must
//!   get the external abort ("ISV = 0 → synchronous external abort
//!   injected").
//!
//! Every fault must be taken at the load (ELR), and its FAR must be the
//! address the load used (for an LDP: one inside the pair). A system
//! register read must give a value or be UNDEFINED (ESR EC 0x00, IL 1, ISS
//! 0, ELR at the MRS), per class: see [`Class`].

use aerie_testrng::Rng;

use super::TestResult;
use crate::detail::{detail, fail, Detail};
use crate::exception::{
    self, ExceptionInfo, EC_DATA_ABORT_SAME_EL, EC_UNKNOWN, FSC_SYNC_EXTERNAL_ABORT,
};
use crate::gic::{self, Redistributor};
use crate::guard::{self, Outcome};
use crate::machine::Machine;
use crate::psci;
use crate::sysreg::read_sysreg;

/// The generator's seed: a failure names the access number, and the same
/// seed replays the same accesses.
const SEED: u64 = 0x6775_6573_7453_746d;
const MMIO_READS: usize = 3000;
const SYSREG_READS: usize = 500;

/// DFSC of an Alignment fault.
const FSC_ALIGNMENT: u64 = 0x21;
/// ESR ISS.FnV: FAR is not valid (external aborts only).
const ISS_FNV: u64 = 1 << 10;
/// ESR_EL1 of an UNDEFINED instruction: EC 0x00, IL = 1, ISS = 0 (RES0).
const ESR_UNDEFINED: u64 = (EC_UNKNOWN << 26) | (1 << 25);

// The machine map (ARCHITECTURE.md "VMs"; QEMU `virt` has the same).
const GICD_BASE: u64 = 0x0800_0000;
const GICD_SIZE: u64 = 0x1_0000;
const GICR_BASE: u64 = 0x080a_0000;
/// RD_base + SGI_base frames of one vCPU's redistributor.
const GICR_FRAMES: u64 = 0x2_0000;
/// A GICv2's distributor is one 4 KiB page; its CPU interface (under Aerie
/// the hardware's virtual one) follows 64 KiB on. The storm stays off the
/// CPU interface: a read of GICC_IAR acknowledges an interrupt.
const GICD_V2_SIZE: u64 = 0x1000;
const GICC_BASE: u64 = 0x0801_0000;
const GICC_SIZE: u64 = 0x2000;
const UART_BASE: u64 = 0x0900_0000;
const UART_SIZE: u64 = 0x1000;
/// The real-time clock and the GPIO controller with the power button.
const RTC_BASE: u64 = 0x0901_0000;
const GPIO_BASE: u64 = 0x0903_0000;
const PRIMECELL_SIZE: u64 = 0x1000;
/// Where virtio-mmio transports may be (32 x 0x200 on `virt`); which are
/// there comes from the device tree.
const VIRTIO_BASE: u64 = 0x0a00_0000;
const VIRTIO_SPAN: u64 = 0x4000;

/// Where the storm reads: device windows and holes. The holes are empty on
/// QEMU `virt` too (checked there): after the distributor up to the ITS
/// `virt` has at 0x0808_0000; after the last vCPU's redistributor; after
/// the PL011 up to `virt`'s RTC at 0x0901_0000; after the virtio-mmio
/// transports up to the platform bus at 0x0c00_0000; above RAM; and beyond
/// Aerie's 39-bit IPA space, just beyond (still inside any PA range of 40
/// bits or more, the Cortex-A53's included, so the stage-1 Address size
/// check for MMU-off accesses does not apply).
#[derive(Clone, Copy)]
struct Region {
    name: &'static str,
    base: u64,
    size: u64,
    /// Relative frequency.
    weight: u64,
}

/// One of `regions`, as often as its weight says.
fn pick_region(regions: &[Region], rng: &mut Rng) -> Region {
    let mut roll = rng.below(regions.iter().map(|r| r.weight).sum());
    for region in regions {
        if roll < region.weight {
            return *region;
        }
        roll -= region.weight;
    }
    regions[0]
}

fn regions(machine: &Machine) -> [Region; 12] {
    let cpus = machine.cpus as u64;
    let gicr_end = GICR_BASE + cpus * GICR_FRAMES;
    let region = |name, base, size, weight| Region {
        name,
        base,
        size,
        weight,
    };
    // On a GICv2 the distributor is smaller, the CPU interface is left
    // alone, and where a GICv3's redistributors would be is a hole.
    let (gicd, after_gicd, gicr) = if machine.gic_v2 {
        (
            region("GICD", GICD_BASE, GICD_V2_SIZE, 24),
            region(
                "hole after GICD",
                GICD_BASE + GICD_V2_SIZE,
                GICC_BASE - (GICD_BASE + GICD_V2_SIZE),
                4,
            ),
            region(
                "hole after GICC",
                GICC_BASE + GICC_SIZE,
                gicr_end - (GICC_BASE + GICC_SIZE),
                24,
            ),
        )
    } else {
        (
            region("GICD", GICD_BASE, GICD_SIZE, 24),
            region("hole after GICD", GICD_BASE + GICD_SIZE, 0x7_0000, 4),
            region("GICR", GICR_BASE, cpus * GICR_FRAMES, 24),
        )
    };
    [
        gicd,
        gicr,
        region("PL011", UART_BASE, UART_SIZE, 16),
        region("PL031", RTC_BASE, PRIMECELL_SIZE, 8),
        region("PL061", GPIO_BASE, PRIMECELL_SIZE, 8),
        region("virtio", VIRTIO_BASE, VIRTIO_SPAN, 16),
        after_gicd,
        region("hole after GICR", gicr_end, 2 * GICR_FRAMES, 4),
        region("hole after PL011", UART_BASE + UART_SIZE, 0xf000, 4),
        region(
            "hole after virtio",
            VIRTIO_BASE + VIRTIO_SPAN,
            0x0c00_0000 - (VIRTIO_BASE + VIRTIO_SPAN),
            4,
        ),
        region("hole above RAM", 0x10_0000_0000, 1 << 30, 2),
        region("hole beyond 39-bit IPA", 1 << 39, 1 << 30, 2),
    ]
}

/// An offset into a region: anywhere half the time, else where device
/// registers cluster (most of a GIC frame is reserved, RAZ): the first
/// 4 KiB of a 64 KiB frame, or the ID registers in the last 64 bytes of a
/// 4 KiB page.
fn pick_offset(region: &Region, rng: &mut Rng) -> u64 {
    let anywhere = rng.below(region.size);
    let offset = match rng.below(4) {
        0 => (anywhere & !0xffff) | (anywhere & 0xfff),
        1 => anywhere | 0xfc0,
        _ => anywhere,
    };
    offset.min(region.size - 1)
}

/// Whether an emulated (or, natively, a real) device answers at `addr`.
fn is_device(machine: &Machine, addr: u64) -> bool {
    let within = |base: u64, size: u64| addr.wrapping_sub(base) < size;
    if machine.gic_v2 {
        if within(GICD_BASE, GICD_V2_SIZE) {
            return true;
        }
    } else if within(GICD_BASE, GICD_SIZE) || within(GICR_BASE, machine.cpus as u64 * GICR_FRAMES) {
        return true;
    }
    within(UART_BASE, UART_SIZE)
        || within(UART_BASE, UART_SIZE)
        || within(RTC_BASE, PRIMECELL_SIZE)
        || within(GPIO_BASE, PRIMECELL_SIZE)
        || machine
            .virtio_windows()
            .iter()
            .any(|&(base, size)| within(base, size))
}

/// What a load leaves in its destination register (checked on a value).
#[derive(Clone, Copy)]
enum Shape {
    /// Zero-extended from this many bits.
    Zero(u32),
    /// Sign-extended from this many bits to 64.
    Sign64(u32),
    /// Sign-extended from this many bits to 32, then zero-extended (a W
    /// register).
    Sign32(u32),
    /// All 64 bits loaded.
    Full,
    /// The load writes XZR: nothing to see.
    Discarded,
}

impl Shape {
    fn holds(self, value: u64) -> bool {
        match self {
            Shape::Zero(bits) => value >> bits == 0,
            Shape::Sign64(bits) => {
                let shift = 64 - bits;
                ((value << shift) as i64) >> shift == value as i64
            }
            Shape::Sign32(bits) => {
                let (low, shift) = (value as u32 as i32, 32 - bits);
                value >> 32 == 0 && (low << shift) >> shift == low
            }
            Shape::Full | Shape::Discarded => true,
        }
    }
}

/// Where a load was and what it left: the address of the load instruction
/// and its destination register(s).
struct Loaded {
    pc: u64,
    values: [u64; 2],
}

/// One way of reading MMIO.
#[derive(Clone, Copy)]
struct Form {
    name: &'static str,
    /// Bytes per element: the alignment Device memory needs.
    elem: u64,
    /// Two elements (LDP): FAR may be either's.
    pair: bool,
    /// A stage-2 abort on it has a valid instruction syndrome (ISV = 1).
    isv: bool,
    shape: Shape,
    load: fn(u64) -> Loaded,
}

/// A load from the address in `{a}` into `{v}` (and `{v2}`), at the label
/// whose address is returned as the PC.
macro_rules! load {
    (one $insn:literal) => {
        |addr: u64| -> Loaded {
            let (pc, v): (u64, u64);
            // SAFETY: one load from `addr`, in an MMIO window or a hole: no
            // Rust memory is touched, and a fault is skipped by the armed
            // `catch` the storm runs it under.
            unsafe {
                core::arch::asm!(
                    "adr {pc}, 1f",
                    concat!("1: ", $insn),
                    pc = out(reg) pc,
                    v = out(reg) v,
                    a = in(reg) addr,
                    options(nostack, readonly, preserves_flags),
                );
            }
            Loaded { pc, values: [v, 0] }
        }
    };
    (pair $insn:literal) => {
        |addr: u64| -> Loaded {
            let (pc, v, v2): (u64, u64, u64);
            // SAFETY: as for `one`; the two destinations are distinct.
            unsafe {
                core::arch::asm!(
                    "adr {pc}, 1f",
                    concat!("1: ", $insn),
                    pc = out(reg) pc,
                    v = out(reg) v,
                    v2 = out(reg) v2,
                    a = in(reg) addr,
                    options(nostack, readonly, preserves_flags),
                );
            }
            Loaded { pc, values: [v, v2] }
        }
    };
    // Writeback: the base register changes (and differs from `{v}`).
    (writeback $insn:literal) => {
        |addr: u64| -> Loaded {
            let (pc, v): (u64, u64);
            // SAFETY: as for `one`.
            unsafe {
                core::arch::asm!(
                    "adr {pc}, 1f",
                    concat!("1: ", $insn),
                    pc = out(reg) pc,
                    v = out(reg) v,
                    a = inout(reg) addr => _,
                    options(nostack, readonly, preserves_flags),
                );
            }
            Loaded { pc, values: [v, 0] }
        }
    };
    // A named destination register (the hypervisor decodes the number).
    (fixed $insn:literal, $reg:tt) => {
        |addr: u64| -> Loaded {
            let (pc, v): (u64, u64);
            // SAFETY: as for `one`; `$reg` is declared as the output.
            unsafe {
                core::arch::asm!(
                    "adr {pc}, 1f",
                    concat!("1: ", $insn),
                    pc = out(reg) pc,
                    a = in(reg) addr,
                    out($reg) v,
                    options(nostack, readonly, preserves_flags),
                );
            }
            Loaded { pc, values: [v, 0] }
        }
    };
    // Into XZR/WZR: nothing is loaded anywhere.
    (discard $insn:literal) => {
        |addr: u64| -> Loaded {
            let pc: u64;
            // SAFETY: as for `one`.
            unsafe {
                core::arch::asm!(
                    "adr {pc}, 1f",
                    concat!("1: ", $insn),
                    pc = out(reg) pc,
                    a = in(reg) addr,
                    options(nostack, readonly, preserves_flags),
                );
            }
            Loaded { pc, values: [0, 0] }
        }
    };
}

/// A [`Form`]: its name, bytes per element, [`Shape`], then the [`load!`]
/// arguments. The kind of load says whether it is a pair and whether its
/// syndrome is valid (LDP and writeback forms: ISV = 0).
macro_rules! form {
    ($name:literal, $elem:literal, $shape:expr, $kind:ident $($load:tt)+) => {
        Form {
            name: $name,
            elem: $elem,
            pair: form!(@pair $kind),
            isv: form!(@isv $kind),
            shape: $shape,
            load: load!($kind $($load)+),
        }
    };
    (@pair pair) => { true };
    (@pair $kind:ident) => { false };
    (@isv pair) => { false };
    (@isv writeback) => { false };
    (@isv $kind:ident) => { true };
}

/// The load forms. x19 and x29 cannot be named in Rust asm; x20, x28 and
/// x30 stand for the registers Aerie's fast path leaves in the CPU
/// (x19..x28) and the highest one.
const FORMS: &[Form] = &[
    form!("ldrb w", 1, Shape::Zero(8), one "ldrb {v:w}, [{a}]"),
    form!("ldrh w", 2, Shape::Zero(16), one "ldrh {v:w}, [{a}]"),
    form!("ldr w", 4, Shape::Zero(32), one "ldr {v:w}, [{a}]"),
    form!("ldr x", 8, Shape::Full, one "ldr {v}, [{a}]"),
    form!("ldrsb x", 1, Shape::Sign64(8), one "ldrsb {v}, [{a}]"),
    form!("ldrsb w", 1, Shape::Sign32(8), one "ldrsb {v:w}, [{a}]"),
    form!("ldrsh x", 2, Shape::Sign64(16), one "ldrsh {v}, [{a}]"),
    form!("ldrsh w", 2, Shape::Sign32(16), one "ldrsh {v:w}, [{a}]"),
    form!("ldrsw x", 4, Shape::Sign64(32), one "ldrsw {v}, [{a}]"),
    form!("ldar w", 4, Shape::Zero(32), one "ldar {v:w}, [{a}]"),
    form!("ldar x", 8, Shape::Full, one "ldar {v}, [{a}]"),
    form!("ldr wzr", 4, Shape::Discarded, discard "ldr wzr, [{a}]"),
    form!("ldr x20", 8, Shape::Full, fixed "ldr x20, [{a}]", "x20"),
    form!("ldrh w28", 2, Shape::Zero(16), fixed "ldrh w28, [{a}]", "x28"),
    form!("ldrsb w30", 1, Shape::Sign32(8), fixed "ldrsb w30, [{a}]", "x30"),
    form!("ldp w", 4, Shape::Zero(32), pair "ldp {v:w}, {v2:w}, [{a}]"),
    form!("ldp x", 8, Shape::Full, pair "ldp {v}, {v2}, [{a}]"),
    form!("ldr x post-index", 8, Shape::Full, writeback "ldr {v}, [{a}], #8"),
    form!("ldr w pre-index", 4, Shape::Zero(32), writeback "ldr {v:w}, [{a}, #0]!"),
];

/// What an access must end in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Value,
    Undefined,
    ExternalAbort,
    Alignment,
    AlignmentOrExternalAbort,
    ValueOrExternalAbort,
    ValueOrUndefined,
}

impl Want {
    fn describe(self) -> &'static str {
        match self {
            Want::Value => "a value",
            Want::Undefined => "UNDEFINED",
            Want::ExternalAbort => "an external abort",
            Want::Alignment => "an alignment fault",
            Want::AlignmentOrExternalAbort => "an alignment fault or an external abort",
            Want::ValueOrExternalAbort => "a value or an external abort",
            Want::ValueOrUndefined => "a value or UNDEFINED",
        }
    }
}

/// Runs `access` with one synchronous exception expected, under a guard of
/// its own so that anything else (an SError, a panic) is reported with the
/// access that caused it.
fn attempt<R>(access: impl FnOnce() -> R) -> Result<(R, Option<ExceptionInfo>), Detail> {
    let mut access = Some(access);
    let mut result = None;
    let outcome = guard::run(&mut || {
        if let Some(access) = access.take() {
            result = Some(exception::catch(access));
        }
    });
    match outcome {
        Outcome::Returned => result.ok_or_else(|| detail!("the access did not run")),
        Outcome::Unexpected(info) | Outcome::El0Svc(info) => Err(detail!("unexpected {info}")),
        Outcome::Panicked => Err(detail!("panicked")),
    }
}

#[derive(Default)]
struct MmioCounts {
    values: usize,
    external: usize,
    /// External aborts for misaligned accesses (QEMU let them reach Aerie).
    external_misaligned: usize,
    alignment: usize,
}

fn mmio_storm(machine: &Machine, rng: &mut Rng) -> Result<MmioCounts, Detail> {
    let regions = regions(machine);
    let mut counts = MmioCounts::default();
    for i in 0..MMIO_READS {
        let region = pick_region(&regions, rng);
        let form = rng.pick(FORMS);
        let mut offset = pick_offset(&region, rng);
        if rng.chance(75) {
            offset &= !(form.elem - 1);
        }
        let addr = region.base + offset;
        let misaligned = !addr.is_multiple_of(form.elem);
        let want = if misaligned && machine.aerie {
            Want::AlignmentOrExternalAbort
        } else if misaligned {
            Want::Alignment
        } else if !is_device(machine, addr) || (machine.aerie && !form.isv) {
            // A hole; or under Aerie, no syndrome to emulate from.
            Want::ExternalAbort
        } else {
            Want::ValueOrExternalAbort
        };
        let what = |got: &dyn core::fmt::Display| {
            detail!(
                "MMIO read {i}: {} at {addr:#x} ({}): expected {}, got {got}",
                form.name,
                region.name,
                want.describe()
            )
        };
        let (loaded, fault) = attempt(|| (form.load)(addr)).map_err(|e| what(&e))?;
        let Some(info) = fault else {
            if want != Want::ValueOrExternalAbort {
                return Err(what(&format_args!("value {:#x}", loaded.values[0])));
            }
            let count = if form.pair { 2 } else { 1 };
            if let Some(v) = loaded.values[..count]
                .iter()
                .find(|&&v| !form.shape.holds(v))
            {
                return Err(what(&format_args!(
                    "value {v:#x}, not what a {} can load",
                    form.name
                )));
            }
            counts.values += 1;
            continue;
        };
        let fsc = match want {
            Want::Alignment => FSC_ALIGNMENT,
            Want::AlignmentOrExternalAbort if info.fsc() == FSC_ALIGNMENT => FSC_ALIGNMENT,
            _ => FSC_SYNC_EXTERNAL_ABORT,
        };
        // FAR is the address, or for an LDP one inside the pair; it is
        // UNKNOWN when an external abort says FnV, which Aerie never does.
        let span = if form.pair { 2 * form.elem } else { 1 };
        let far_ok = if fsc == FSC_SYNC_EXTERNAL_ABORT && info.esr & ISS_FNV != 0 {
            !machine.aerie
        } else {
            info.far.wrapping_sub(addr) < span
        };
        if info.ec() != EC_DATA_ABORT_SAME_EL
            || info.fsc() != fsc
            || info.elr != loaded.pc
            || !far_ok
        {
            return Err(what(&format_args!("{info} (load at {:#x})", loaded.pc)));
        }
        if fsc == FSC_ALIGNMENT {
            counts.alignment += 1;
        } else {
            counts.external += 1;
            counts.external_misaligned += usize::from(misaligned);
        }
    }
    Ok(counts)
}

/// What a system register read must give.
#[derive(Clone, Copy)]
enum Class {
    /// Architecturally readable at EL1: the ID registers (the unallocated
    /// ones in CRm 1..7 are RAZ; Aerie emulates the group), the debug
    /// registers Aerie virtualises (reads back the guest's values, the
    /// DCC an empty channel), the counters and the virtual timer.
    Value,
    /// UNDEFINED at EL1: IMPLEMENTATION DEFINED encodings (Aerie traps them
    /// with HCR_EL2.TIDCP and injects UNDEFINED; QEMU implements none with
    /// op1 = 0), EL2 and EL3 registers, SP_EL1, write-only OSLAR_EL1.
    Undefined,
    /// DBGBVR<n>/DBGBCR<n>: readable for n < ID_AA64DFR0_EL1.BRPs + 1.
    Breakpoint(usize),
    /// DBGWVR<n>/DBGWCR<n>: readable for n < ID_AA64DFR0_EL1.WRPs + 1.
    Watchpoint(usize),
    /// PMU registers: UNDEFINED when ID_AA64DFR0_EL1.PMUVer says there is no
    /// PMU (Aerie hides it and traps it with MDCR_EL2.TPM/TPMCR).
    Pmu,
    /// Architecturally readable at EL1, and Aerie serves them when they
    /// trap (DBGAUTHSTATUS_EL1 a constant, DBGPRCR_EL1 storage, DBGDTR_EL0
    /// the empty DCC channel); but QEMU does not implement them, and an
    /// unimplemented register is UNDEFINED at EL1 before any trap to EL2,
    /// so on QEMU they are UNDEFINED with or without Aerie.
    ValueOrUndefined,
    /// The EL1 physical timer: Aerie traps it (CNTHCTL_EL2) and injects
    /// UNDEFINED (ARCHITECTURE.md "Traps and exits"); elsewhere readable.
    AerieUndefined,
}

/// One MRS, and where it is.
#[derive(Clone, Copy)]
struct SysRegRead {
    name: &'static str,
    class: Class,
    /// Returns the MRS's address and the value read.
    read: fn() -> (u64, u64),
}

/// One `mrs` of the register whose name is the concatenation of `$part`s.
/// x7 is zero: an MDCCSR_EL0 read is then never a backdoor request.
macro_rules! mrs {
    ($class:expr, $($part:tt),+) => {
        SysRegRead {
            name: concat!($($part),+),
            class: $class,
            read: || {
                let (pc, value): (u64, u64);
                // SAFETY: reading a system register has no memory effects
                // (the list has none with read side effects); when it is
                // UNDEFINED the armed `catch` skips the MRS.
                unsafe {
                    core::arch::asm!(
                        "adr {pc}, 1f",
                        concat!("1: mrs {v}, ", $($part),+),
                        pc = out(reg) pc,
                        v = out(reg) value,
                        in("x7") 0u64,
                        options(nomem, nostack, preserves_flags),
                    );
                }
                (pc, value)
            },
        }
    };
}

/// The eight registers S3_0_C0_C<crm>_<0..7> (ID group 3).
macro_rules! id_row {
    ($crm:literal) => {
        [
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_0"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_1"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_2"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_3"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_4"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_5"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_6"),
            mrs!(Class::Value, "s3_0_c0_c", $crm, "_7"),
        ]
    };
}

/// The eight IMPLEMENTATION DEFINED registers S3_0_C15_C<crm>_<0..7>.
macro_rules! impdef_row {
    ($crm:literal) => {
        [
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_0"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_1"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_2"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_3"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_4"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_5"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_6"),
            mrs!(Class::Undefined, "s3_0_c15_c", $crm, "_7"),
        ]
    };
}

/// Breakpoint and watchpoint `$n`'s value and control registers.
macro_rules! points {
    ($n:literal) => {
        [
            mrs!(Class::Breakpoint($n), "dbgbvr", $n, "_el1"),
            mrs!(Class::Breakpoint($n), "dbgbcr", $n, "_el1"),
            mrs!(Class::Watchpoint($n), "dbgwvr", $n, "_el1"),
            mrs!(Class::Watchpoint($n), "dbgwcr", $n, "_el1"),
        ]
    };
}

const ID_GROUP3: [[SysRegRead; 8]; 7] = [
    id_row!(1),
    id_row!(2),
    id_row!(3),
    id_row!(4),
    id_row!(5),
    id_row!(6),
    id_row!(7),
];

/// Registers outside ID group 3 that Aerie does not trap (identification,
/// caches, counters, the virtual timer), and the physical timer it does.
const VALUES: &[SysRegRead] = &[
    mrs!(Class::Value, "midr_el1"),
    mrs!(Class::Value, "mpidr_el1"),
    mrs!(Class::Value, "revidr_el1"),
    mrs!(Class::Value, "ctr_el0"),
    mrs!(Class::Value, "dczid_el0"),
    mrs!(Class::Value, "clidr_el1"),
    mrs!(Class::Value, "aidr_el1"),
    mrs!(Class::Value, "csselr_el1"),
    mrs!(Class::Value, "ccsidr_el1"),
    mrs!(Class::Value, "cntfrq_el0"),
    mrs!(Class::Value, "cntvct_el0"),
    mrs!(Class::Value, "cntpct_el0"),
    mrs!(Class::Value, "cntkctl_el1"),
    mrs!(Class::Value, "cntv_ctl_el0"),
    mrs!(Class::AerieUndefined, "cntp_ctl_el0"),
    mrs!(Class::AerieUndefined, "cntp_cval_el0"),
    mrs!(Class::AerieUndefined, "cntp_tval_el0"),
];

/// The debug registers other than breakpoints and watchpoints.
const DEBUG: &[SysRegRead] = &[
    mrs!(Class::Value, "mdscr_el1"),
    mrs!(Class::Value, "oslsr_el1"),
    mrs!(Class::Value, "mdccint_el1"),
    mrs!(Class::Value, "osdtrrx_el1"),
    mrs!(Class::Value, "osdtrtx_el1"),
    mrs!(Class::Value, "oseccr_el1"),
    mrs!(Class::Value, "osdlr_el1"),
    mrs!(Class::ValueOrUndefined, "dbgprcr_el1"),
    mrs!(Class::Value, "dbgclaimset_el1"),
    mrs!(Class::Value, "dbgclaimclr_el1"),
    mrs!(Class::ValueOrUndefined, "dbgauthstatus_el1"),
    mrs!(Class::Value, "mdrar_el1"),
    mrs!(Class::Value, "mdccsr_el0"),
    mrs!(Class::ValueOrUndefined, "dbgdtr_el0"),
    mrs!(Class::Value, "dbgdtrrx_el0"),
    mrs!(Class::Undefined, "s2_0_c1_c0_4"), // OSLAR_EL1, write-only
    mrs!(Class::Undefined, "dbgvcr32_el2"),
];

const POINTS: [[SysRegRead; 4]; 16] = [
    points!(0),
    points!(1),
    points!(2),
    points!(3),
    points!(4),
    points!(5),
    points!(6),
    points!(7),
    points!(8),
    points!(9),
    points!(10),
    points!(11),
    points!(12),
    points!(13),
    points!(14),
    points!(15),
];

const PMU: &[SysRegRead] = &[
    mrs!(Class::Pmu, "pmcr_el0"),
    mrs!(Class::Pmu, "pmcntenset_el0"),
    mrs!(Class::Pmu, "pmcntenclr_el0"),
    mrs!(Class::Pmu, "pmovsclr_el0"),
    mrs!(Class::Pmu, "pmovsset_el0"),
    mrs!(Class::Pmu, "pmselr_el0"),
    mrs!(Class::Pmu, "pmceid0_el0"),
    mrs!(Class::Pmu, "pmceid1_el0"),
    mrs!(Class::Pmu, "pmccntr_el0"),
    mrs!(Class::Pmu, "pmxevtyper_el0"),
    mrs!(Class::Pmu, "pmxevcntr_el0"),
    mrs!(Class::Pmu, "pmuserenr_el0"),
    mrs!(Class::Pmu, "pmintenset_el1"),
    mrs!(Class::Pmu, "pmintenclr_el1"),
    mrs!(Class::Pmu, "pmccfiltr_el0"),
    mrs!(Class::Pmu, "pmevcntr0_el0"),
    mrs!(Class::Pmu, "pmevtyper0_el0"),
];

const IMPDEF: [[SysRegRead; 8]; 16] = [
    impdef_row!(0),
    impdef_row!(1),
    impdef_row!(2),
    impdef_row!(3),
    impdef_row!(4),
    impdef_row!(5),
    impdef_row!(6),
    impdef_row!(7),
    impdef_row!(8),
    impdef_row!(9),
    impdef_row!(10),
    impdef_row!(11),
    impdef_row!(12),
    impdef_row!(13),
    impdef_row!(14),
    impdef_row!(15),
];

/// Registers of higher ELs (no FEAT_NV use: HCR_EL2.NV is clear, so EL1
/// access is UNDEFINED without a trap), SP_EL1, and the EL2&0 aliases.
const HIGHER_EL: &[SysRegRead] = &[
    mrs!(Class::Undefined, "hcr_el2"),
    mrs!(Class::Undefined, "vttbr_el2"),
    mrs!(Class::Undefined, "vtcr_el2"),
    mrs!(Class::Undefined, "esr_el2"),
    mrs!(Class::Undefined, "far_el2"),
    mrs!(Class::Undefined, "hpfar_el2"),
    mrs!(Class::Undefined, "elr_el2"),
    mrs!(Class::Undefined, "spsr_el2"),
    mrs!(Class::Undefined, "sctlr_el2"),
    mrs!(Class::Undefined, "vbar_el2"),
    mrs!(Class::Undefined, "tpidr_el2"),
    mrs!(Class::Undefined, "mdcr_el2"),
    mrs!(Class::Undefined, "cptr_el2"),
    mrs!(Class::Undefined, "cnthctl_el2"),
    mrs!(Class::Undefined, "cntvoff_el2"),
    mrs!(Class::Undefined, "ich_hcr_el2"),
    mrs!(Class::Undefined, "ich_vtr_el2"),
    mrs!(Class::Undefined, "s3_5_c1_c0_0"), // SCTLR_EL12
    mrs!(Class::Undefined, "sp_el1"),
    mrs!(Class::Undefined, "scr_el3"),
];

/// The groups a register is picked from (a group first, so that every
/// class gets its share).
fn groups() -> [&'static [SysRegRead]; 7] {
    [
        ID_GROUP3.as_flattened(),
        VALUES,
        DEBUG,
        POINTS.as_flattened(),
        PMU,
        IMPDEF.as_flattened(),
        HIGHER_EL,
    ]
}

#[derive(Default)]
struct SysRegCounts {
    values: usize,
    undefined: usize,
}

fn sysreg_storm(machine: &Machine, rng: &mut Rng) -> Result<SysRegCounts, Detail> {
    // What the guest is told (Aerie sanitises it): BRPs [15:12], PMUVer
    // [11:8], WRPs [23:20].
    let dfr0 = read_sysreg!("id_aa64dfr0_el1");
    let brps = ((dfr0 >> 12) & 0xf) as usize + 1;
    let wrps = ((dfr0 >> 20) & 0xf) as usize + 1;
    let no_pmu = (dfr0 >> 8) & 0xf == 0;
    let groups = groups();
    let mut counts = SysRegCounts::default();
    for i in 0..SYSREG_READS {
        let group = rng.pick(&groups);
        let reg = rng.pick(group);
        let readable = |yes: bool| if yes { Want::Value } else { Want::Undefined };
        let want = match reg.class {
            Class::Value => Want::Value,
            Class::Undefined => Want::Undefined,
            Class::Breakpoint(n) => readable(n < brps),
            Class::Watchpoint(n) => readable(n < wrps),
            Class::Pmu if no_pmu => Want::Undefined,
            Class::Pmu => Want::ValueOrUndefined,
            Class::ValueOrUndefined => Want::ValueOrUndefined,
            Class::AerieUndefined if machine.aerie => Want::Undefined,
            Class::AerieUndefined => Want::ValueOrUndefined,
        };
        let what = |got: &dyn core::fmt::Display| {
            detail!(
                "sysreg read {i}: mrs {}: expected {}, got {got}",
                reg.name,
                want.describe()
            )
        };
        let ((pc, value), fault) = attempt(reg.read).map_err(|e| what(&e))?;
        match fault {
            None if want != Want::Undefined => counts.values += 1,
            None => return Err(what(&format_args!("value {value:#x}"))),
            Some(info) if want == Want::Value => return Err(what(&info)),
            Some(info) if info.esr != ESR_UNDEFINED || info.elr != pc => {
                return Err(what(&format_args!("{info} (MRS at {pc:#x})")))
            }
            Some(_) => counts.undefined += 1,
        }
    }
    Ok(counts)
}

/// What must read the same before and after: PSCI_VERSION over HVC,
/// Loads whose result is known exactly: the PL011's cell ID bytes
/// UARTPCellID1 (0xFF4) = 0xF0 and UARTPCellID3 (0xFFC) = 0xB1 have their
/// top bit set, so each form's zero or sign extension shows (random offsets
/// mostly read zeros, which every extension leaves alone).
fn extension_checks() -> Result<usize, Detail> {
    const CASES: &[(&str, u64, u64)] = &[
        ("ldrb w", 0xff4, 0xf0),
        ("ldr w", 0xff4, 0xf0),
        ("ldrsb w", 0xff4, 0xffff_fff0),
        ("ldrsb x", 0xff4, 0xffff_ffff_ffff_fff0),
        ("ldrsb w30", 0xffc, 0xffff_ffb1),
        ("ldrsh x", 0xffc, 0xb1),
        ("ldrsw x", 0xffc, 0xb1),
    ];
    for &(name, offset, want) in CASES {
        let form = FORMS
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| detail!("no load form {name}"))?;
        let addr = UART_BASE + offset;
        match attempt(|| (form.load)(addr))? {
            (loaded, None) if loaded.values[0] == want => {}
            (loaded, None) => fail!(
                "{name} from {addr:#x}: expected {want:#x}, got {:#x}",
                loaded.values[0]
            ),
            (_, Some(info)) => fail!("{name} from {addr:#x}: expected {want:#x}, got {info}"),
        }
    }
    Ok(CASES.len())
}

/// GICD_TYPER and GICD_IIDR.
fn machine_state() -> (u64, (u32, u32)) {
    (
        psci::hvc(psci::PSCI_VERSION, 0, 0, 0),
        gic::distributor::identity(),
    )
}

pub fn guest_storm(machine: &Machine) -> TestResult {
    let before = machine_state();
    let exact = extension_checks()?;
    let mut rng = Rng::new(SEED);
    let mmio = mmio_storm(machine, &mut rng)?;
    let sysregs = sysreg_storm(machine, &mut rng)?;
    let after = machine_state();
    if after.0 != before.0 {
        fail!(
            "after the storm: PSCI_VERSION {:#x}, before {:#x}",
            after.0,
            before.0
        );
    }
    if after.1 != before.1 {
        fail!(
            "after the storm: GICD TYPER/IIDR {:#x}/{:#x}, before {:#x}/{:#x}",
            after.1 .0,
            after.1 .1,
            before.1 .0,
            before.1 .1
        );
    }
    if machine.gic_v3 {
        // This vCPU's redistributor is still found by its affinity.
        Redistributor::this_cpu()?;
    }
    Ok(detail!(
        "{exact} exact loads, {MMIO_READS} MMIO reads ({} values, {} external aborts ({} misaligned), \
         {} alignment faults), {SYSREG_READS} sysreg reads ({} values, {} UNDEFINED)",
        mmio.values,
        mmio.external,
        mmio.external_misaligned,
        mmio.alignment,
        sysregs.values,
        sysregs.undefined
    ))
}
