//! Exception classification (ESR_EL1, Arm ARM D17.2.37) and the "expected
//! exception" mechanism tests use to provoke and inspect a fault.
//!
//! Shared state is plain atomics with loads and stores only: with the MMU off
//! memory is Device, where exclusives (read-modify-write atomics) must not be used.

use core::fmt;
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, Ordering};

use crate::guard;

/// ESR_EL1.EC values used by the tests.
pub const EC_UNKNOWN: u64 = 0x00;
pub const EC_SVC64: u64 = 0x15;
pub const EC_DATA_ABORT_SAME_EL: u64 = 0x25;
/// Data/instruction fault status code: synchronous external abort, not on a walk.
pub const FSC_SYNC_EXTERNAL_ABORT: u64 = 0x10;

/// Index of the vector taken: 4 * {current EL SP0, current EL SPx, lower EL
/// AArch64, lower EL AArch32} + {sync, IRQ, FIQ, SError}.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VectorKind(pub u64);

impl VectorKind {
    pub const CURRENT_SP0_SYNC: Self = Self(0);
    pub const CURRENT_SPX_SYNC: Self = Self(4);
    pub const CURRENT_SPX_IRQ: Self = Self(5);
    pub const LOWER_A64_SYNC: Self = Self(8);

    /// The vector's offset from VBAR_EL1.
    pub fn offset(self) -> u64 {
        self.0 * 0x80
    }
}

impl fmt::Display for VectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ORIGIN: [&str; 4] = ["EL1t", "EL1h", "EL0/A64", "EL0/A32"];
        const TYPE: [&str; 4] = ["sync", "IRQ", "FIQ", "SError"];
        let i = self.0 as usize & 15;
        write!(f, "{} {}", TYPE[i % 4], ORIGIN[i / 4])
    }
}

/// One exception as the handler saw it.
#[derive(Clone, Copy)]
pub struct ExceptionInfo {
    pub vector: VectorKind,
    pub esr: u64,
    pub elr: u64,
    pub far: u64,
    pub spsr: u64,
    /// x0..x8 at the time of the exception (results of EL0 code).
    pub x: [u64; SAVED_REGS],
    /// PSTATE as the handler found it: DAIF, CurrentEL, SPSel and (with
    /// FEAT_PAN) PAN; the vector code before the handler changes none of them.
    pub entry_pstate: u64,
}

/// How many of x0.. `ExceptionInfo` keeps.
pub const SAVED_REGS: usize = 9;

impl ExceptionInfo {
    /// Exception class, ESR[31:26].
    pub fn ec(&self) -> u64 {
        (self.esr >> 26) & 0x3f
    }

    /// Instruction-specific syndrome, ESR[24:0].
    pub fn iss(&self) -> u64 {
        self.esr & 0x1ff_ffff
    }

    /// Fault status code of an abort, ESR[5:0].
    pub fn fsc(&self) -> u64 {
        self.esr & 0x3f
    }
}

impl fmt::Display for ExceptionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} exception EC={:#04x} ESR={:#x} ELR={:#x} FAR={:#x} SPSR={:#x}",
            self.vector,
            self.ec(),
            self.esr,
            self.elr,
            self.far,
            self.spsr
        )
    }
}

/// PSTATE.PAN, bit 22 in the PSTATE/SPSR layout.
pub const PSTATE_PAN: u64 = 1 << 22;

/// Whether FEAT_PAN is implemented: 0 = not read yet, 1 = no, 2 = yes.
static HAS_PAN: AtomicU64 = AtomicU64::new(0);

fn has_pan() -> bool {
    let mut known = HAS_PAN.load(Ordering::SeqCst);
    if known == 0 {
        // ID_AA64MMFR1_EL1.PAN, bits [23:20].
        let pan = (crate::sysreg::read_sysreg!("id_aa64mmfr1_el1") >> 20) & 0xf;
        known = if pan != 0 { 2 } else { 1 };
        HAS_PAN.store(known, Ordering::SeqCst);
    }
    known == 2
}

/// The PSTATE fields `ExceptionInfo::entry_pstate` keeps, read now.
pub fn current_pstate() -> u64 {
    let mut pstate = crate::sysreg::read_sysreg!("daif")
        | crate::sysreg::read_sysreg!("currentel")
        | crate::sysreg::read_sysreg!("spsel");
    if has_pan() {
        // PAN (S3_0_C4_C2_3) exists only with FEAT_PAN, checked above.
        pstate |= crate::sysreg::read_sysreg!("s3_0_c4_c2_3");
    }
    pstate
}

/// The PSTATE a synchronous exception taken to EL1 enters with: EL1h, D, A,
/// I and F masked, and PAN set if FEAT_PAN is implemented and
/// SCTLR_EL1.SPAN is 0 (otherwise PAN is unchanged; the testkit always runs
/// with PAN clear).
pub fn expected_entry_pstate() -> u64 {
    const EL1H_DAIF_MASKED: u64 = 0x3c5;
    let span = crate::sysreg::read_sysreg!("sctlr_el1") & (1 << 23) != 0;
    if has_pan() && !span {
        EL1H_DAIF_MASKED | PSTATE_PAN
    } else {
        EL1H_DAIF_MASKED
    }
}

/// What the vector handler does with an exception.
pub enum Action {
    /// An armed `catch`: record it and resume after the faulting instruction.
    SkipInstruction,
    /// Abandon the guarded code and return this code from `guard::run`.
    Recover(u64),
}

static ARMED: AtomicBool = AtomicBool::new(false);
static CAUGHT: AtomicBool = AtomicBool::new(false);
/// vector, ESR, ELR, FAR, SPSR, entry PSTATE, then x0..x8.
const LAST_FIELDS: usize = 6 + SAVED_REGS;
static LAST: [AtomicU64; LAST_FIELDS] = [const { AtomicU64::new(0) }; LAST_FIELDS];

pub fn classify(info: &ExceptionInfo) -> Action {
    if info.vector == VectorKind::CURRENT_SPX_SYNC && ARMED.load(Ordering::SeqCst) {
        ARMED.store(false, Ordering::SeqCst);
        return Action::SkipInstruction;
    }
    ARMED.store(false, Ordering::SeqCst);
    if info.vector == VectorKind::LOWER_A64_SYNC && info.ec() == EC_SVC64 {
        return Action::Recover(guard::CODE_EL0_SVC);
    }
    Action::Recover(guard::CODE_UNEXPECTED)
}

pub fn record_caught(info: &ExceptionInfo) {
    let fields = [
        info.vector.0,
        info.esr,
        info.elr,
        info.far,
        info.spsr,
        info.entry_pstate,
    ];
    for (slot, value) in LAST.iter().zip(fields.into_iter().chain(info.x)) {
        slot.store(value, Ordering::SeqCst);
    }
    CAUGHT.store(true, Ordering::SeqCst);
}

/// The exception recorded last by the vector handler.
pub fn last() -> ExceptionInfo {
    let field = |i: usize| LAST[i].load(Ordering::SeqCst);
    ExceptionInfo {
        vector: VectorKind(field(0)),
        esr: field(1),
        elr: field(2),
        far: field(3),
        spsr: field(4),
        entry_pstate: field(5),
        x: core::array::from_fn(|i| field(6 + i)),
    }
}

/// Runs `f` with one synchronous EL1 exception expected: if one is taken, the
/// handler records it and skips the faulting instruction (ELR += 4).
pub fn catch<R>(f: impl FnOnce() -> R) -> (R, Option<ExceptionInfo>) {
    CAUGHT.store(false, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    compiler_fence(Ordering::SeqCst);
    let result = f();
    compiler_fence(Ordering::SeqCst);
    ARMED.store(false, Ordering::SeqCst);
    let caught = CAUGHT.load(Ordering::SeqCst).then(last);
    (result, caught)
}

/// Forgets a pending `catch` (after a test was abandoned).
pub fn disarm() {
    ARMED.store(false, Ordering::SeqCst);
}
