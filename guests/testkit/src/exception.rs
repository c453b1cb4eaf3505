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
    pub const CURRENT_SPX_SYNC: Self = Self(4);
    pub const CURRENT_SPX_IRQ: Self = Self(5);
    pub const LOWER_A64_SYNC: Self = Self(8);
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
    /// x0 at the time of the exception (the EL0 test's result register).
    pub x0: u64,
}

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

/// What the vector handler does with an exception.
pub enum Action {
    /// An armed `catch`: record it and resume after the faulting instruction.
    SkipInstruction,
    /// Abandon the guarded code and return this code from `guard::run`.
    Recover(u64),
}

static ARMED: AtomicBool = AtomicBool::new(false);
static CAUGHT: AtomicBool = AtomicBool::new(false);
static LAST: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

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
        info.x0,
    ];
    for (slot, value) in LAST.iter().zip(fields) {
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
        x0: field(5),
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
