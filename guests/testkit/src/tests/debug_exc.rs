//! Debug exceptions as the hardware delivers them to EL1 (Arm ARM D2,
//! "AArch64 self-hosted debug"): BRK, hardware breakpoints, watchpoints and
//! software step from EL1h, EL1t and EL0, with every field of the exception
//! checked (ESR_EL1, ELR_EL1, SPSR_EL1, FAR_EL1 for watchpoints, the vector
//! and PSTATE on entry); the exceptions the guest's own settings disable
//! (MDSCR_EL1.KDE = 0, PSTATE.D = 1 at EL1) must not appear; the debug
//! registers read back what was written.
//!
//! A hypervisor that routes debug exceptions to itself (MDCR_EL2.TDE, the
//! BRK backdoor) must re-inject them exactly so: the expectations do not
//! depend on the backdoor policy, and the tests run under every policy.

use core::sync::atomic::{AtomicU64, Ordering};

use super::TestResult;
use crate::detail::{detail, fail, Detail};
use crate::exception::{self, ExceptionInfo, VectorKind, EC_UNKNOWN};
use crate::guard::{self, Outcome};
use crate::machine::Machine;
use crate::sysreg::{isb, read_sysreg, write_sysreg};
use crate::user;

/// ESR_EL1.EC of the debug exceptions: the lower-EL variant; | 1 = same EL.
const EC_BREAKPOINT_LOWER: u64 = 0x30;
const EC_STEP_LOWER: u64 = 0x32;
const EC_WATCHPOINT_LOWER: u64 = 0x34;
const EC_BRK: u64 = 0x3c;
const ESR_IL: u64 = 1 << 25;
/// IFSC/DFSC of a debug exception.
const FSC_DEBUG: u64 = 0x22;
/// Watchpoint ISS.WnR.
const ISS_WNR: u64 = 1 << 6;
/// Software step ISS.ISV: EX is valid (the stepped instruction completed).
const ISS_ISV: u64 = 1 << 24;

const MDSCR_SS: u64 = 1 << 0;
const MDSCR_KDE: u64 = 1 << 13;
const MDSCR_MDE: u64 = 1 << 15;
const MDSCR_TDCC: u64 = 1 << 12;

/// DBGBCR/DBGWCR.E, and the privilege fields (PMC / PAC, bits [2:1]).
const CTRL_E: u64 = 1;
const PRIV_EL1: u64 = 0b01 << 1;
const PRIV_EL0: u64 = 0b10 << 1;
const PRIV_BOTH: u64 = 0b11 << 1;
/// DBGBCR.BAS for an A64 instruction.
const BCR_BAS_A64: u64 = 0xf << 5;
/// DBGWCR.LSC (load, store) and BAS for all 8 bytes.
const WCR_LOAD: u64 = 0b01 << 3;
const WCR_STORE: u64 = 0b10 << 3;
const WCR_BAS_ALL: u64 = 0xff << 5;

/// PSTATE/SPSR fields.
const PSTATE_SS: u64 = 1 << 21;
const M_EL0T: u64 = 0b0000;
const M_EL1T: u64 = 0b0100;
const M_EL1H: u64 = 0b0101;
/// N and C: flags the interrupted code had, which SPSR must carry.
const FLAGS: u64 = 0xA000_0000;
/// DAIF with all four masked, and with only D unmasked.
const DAIF_ALL: u64 = 0x3c0;
const DAIF_NO_D: u64 = 0x1c0;

/// The BRK immediate re-injection is tested with (not the backdoor's).
const BRK_IMM: u64 = 0x77;
/// What the breakpoint target computes when it runs.
const TARGET_VALUE: u64 = 0x11;

// EL1 targets are called with BLR and start with a NOP: on FEAT_BTI CPUs a
// BLR sets PSTATE.BTYPE for the first instruction, and the trigger must see
// PSTATE as the caller set it. EL0 targets are entered by ERET and end in
// `svc #0`.
core::arch::global_asm!(
    r#"
    .section .text.debug_targets, "ax"
    .balign 4
    .global testkit_dbg_brk
testkit_dbg_brk:
    nop
    brk     #{brk}
    ret
    .global testkit_dbg_insn
testkit_dbg_insn:
    nop
    mov     x0, #{value}
    ret
    .global testkit_dbg_load
testkit_dbg_load:
    nop
    ldr     x0, [x0]
    ret
    .global testkit_dbg_store
testkit_dbg_store:
    nop
    str     x1, [x0]
    ret
    // Entered by ERET with PSTATE.SS = 1; returns to x30.
    .global testkit_dbg_step
testkit_dbg_step:
    mov     x0, #1
    mov     x0, #2
    ret
    .global testkit_user_dbg_brk
testkit_user_dbg_brk:
    brk     #{brk}
    svc     #0
    .global testkit_user_dbg_insn
testkit_user_dbg_insn:
    mov     x0, #{value}
    svc     #0
    .global testkit_user_dbg_load
testkit_user_dbg_load:
    ldr     x1, [x0]
    svc     #0
    .global testkit_user_dbg_store
testkit_user_dbg_store:
    str     x1, [x0]
    svc     #0
    .global testkit_user_dbg_step
testkit_user_dbg_step:
    mov     x0, #1
    mov     x0, #2
    svc     #0
    // Instructions Aerie emulates (an MMIO load, a DCC read), stepped.
    .global testkit_user_dbg_step_mmio
testkit_user_dbg_step_mmio:
    ldr     w1, [x0]
    mov     x0, #2
    svc     #0
    .global testkit_user_dbg_step_dcc
testkit_user_dbg_step_dcc:
    mrs     xzr, mdccsr_el0
    mov     x0, #2
    svc     #0
"#,
    brk = const BRK_IMM,
    value = const TARGET_VALUE,
);

unsafe extern "C" {
    fn testkit_dbg_brk();
    fn testkit_dbg_insn();
    fn testkit_dbg_load();
    fn testkit_dbg_store();
    fn testkit_dbg_step();
    fn testkit_user_dbg_brk();
    fn testkit_user_dbg_insn();
    fn testkit_user_dbg_load();
    fn testkit_user_dbg_store();
    fn testkit_user_dbg_step();
    fn testkit_user_dbg_step_mmio();
    fn testkit_user_dbg_step_dcc();
}

fn addr(f: unsafe extern "C" fn()) -> u64 {
    f as *const () as u64
}

/// The address of an EL1 target's trigger instruction (after its NOP).
fn trigger(f: unsafe extern "C" fn()) -> u64 {
    addr(f) + 4
}

/// The doubleword watchpoints watch.
static WATCHED: AtomicU64 = AtomicU64::new(0x5555);

fn watched() -> u64 {
    WATCHED.as_ptr() as u64
}

/// Reads or writes breakpoint/watchpoint register `<prefix><n>_el1`, n < 16.
macro_rules! debug_reg {
    (read $prefix:literal, $n:expr) => {
        debug_reg!(@read $prefix, $n, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (write $prefix:literal, $n:expr, $value:expr) => {
        debug_reg!(@write $prefix, $n, $value, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@read $prefix:literal, $n:expr, $($i:literal)*) => {{
        let value: u64;
        match $n {
            // SAFETY: reading a debug register has no memory effects; one
            // that is not implemented is UNDEFINED, which callers expect.
            $($i => unsafe {
                core::arch::asm!(concat!("mrs {}, ", $prefix, $i, "_el1"), out(reg) value,
                    options(nomem, nostack, preserves_flags))
            },)*
            n => panic!("debug register {n} out of range"),
        }
        value
    }};
    (@write $prefix:literal, $n:expr, $value:expr, $($i:literal)*) => {{
        let value: u64 = $value;
        match $n {
            // SAFETY: the tests own the debug registers; what they enable
            // only raises debug exceptions in code run under a guard.
            $($i => unsafe {
                core::arch::asm!(concat!("msr ", $prefix, $i, "_el1, {}"), in(reg) value,
                    options(nostack, preserves_flags))
            },)*
            n => panic!("debug register {n} out of range"),
        }
    }};
}

/// Breakpoints and watchpoints implemented (ID_AA64DFR0_EL1.BRPs, WRPs + 1).
fn counts() -> (usize, usize) {
    let dfr0 = read_sysreg!("id_aa64dfr0_el1");
    (
        ((dfr0 >> 12) & 0xf) as usize + 1,
        ((dfr0 >> 20) & 0xf) as usize + 1,
    )
}

/// Debug state a test sets up; dropping it disables breakpoint and
/// watchpoint 0 and restores MDSCR_EL1.
struct Debug {
    mdscr: u64,
}

impl Debug {
    /// Unlocks the OS lock (set at reset; it disables every debug exception)
    /// and sets MDSCR_EL1 to `mdscr`.
    fn new(mdscr: u64) -> Self {
        let old = read_sysreg!("mdscr_el1");
        write_sysreg!("oslar_el1", 0);
        write_sysreg!("mdscr_el1", mdscr);
        isb();
        Self { mdscr: old }
    }

    fn breakpoint(&self, pc: u64, priv_: u64) {
        debug_reg!(write "dbgbvr", 0, pc);
        debug_reg!(write "dbgbcr", 0, BCR_BAS_A64 | priv_ | CTRL_E);
        isb();
    }

    fn watchpoint(&self, va: u64, ctrl: u64) {
        debug_reg!(write "dbgwvr", 0, va);
        debug_reg!(write "dbgwcr", 0, WCR_BAS_ALL | ctrl | CTRL_E);
        isb();
    }
}

impl Drop for Debug {
    fn drop(&mut self) {
        debug_reg!(write "dbgbcr", 0, 0);
        debug_reg!(write "dbgwcr", 0, 0);
        write_sysreg!("mdscr_el1", self.mdscr);
        isb();
    }
}

/// How EL1 code runs: on SP_EL0 (EL1t) or SP_EL1 (EL1h), with PSTATE.D
/// clear (debug exceptions unmasked) or set.
#[derive(Clone, Copy)]
struct El1 {
    sp0: bool,
    daif: u64,
}

const EL1H: El1 = El1 {
    sp0: false,
    daif: DAIF_NO_D,
};
const EL1T: El1 = El1 {
    sp0: true,
    daif: DAIF_NO_D,
};
const EL1H_D_MASKED: El1 = El1 {
    sp0: false,
    daif: DAIF_ALL,
};

impl El1 {
    /// The SPSR an exception from this code saves.
    fn spsr(self) -> u64 {
        FLAGS | self.daif | if self.sp0 { M_EL1T } else { M_EL1H }
    }
}

/// Calls the EL1 target `f(x0, x1)` with NZCV = FLAGS under a guard;
/// returns how it ended and its x0 if it returned.
fn call_el1(f: unsafe extern "C" fn(), x0: u64, x1: u64, how: El1) -> (Outcome, u64) {
    let mut result = 0;
    let outcome = guard::run(&mut || {
        let mut r0 = x0;
        // SAFETY: the target reads or writes at most the watched static (x0)
        // and returns with the AAPCS64; it may raise a debug exception, which
        // the guard turns into a resume. SP_EL0 gets the current SP, so in
        // EL1t the same (unused) stack is in place; nothing is pushed while
        // SPSel is 0. PSTATE.D and SPSel are restored before the asm ends.
        unsafe {
            core::arch::asm!(
                "mov x9, sp",
                "msr sp_el0, x9",
                "msr daif, {daif}",
                "msr nzcv, {flags}",
                "msr spsel, {spsel}",
                "isb",
                "blr {f}",
                "msr spsel, #1",
                "msr daifset, #0xf",
                "isb",
                daif = in(reg) how.daif,
                flags = in(reg) FLAGS,
                spsel = in(reg) u64::from(!how.sp0),
                f = in(reg) addr(f),
                inout("x0") r0,
                in("x1") x1,
                out("x9") _,
                clobber_abi("C"),
            );
        }
        result = r0;
    });
    (outcome, result)
}

/// ERETs to the EL1 step target with PSTATE.SS = 1 and D as `daif` says;
/// returns how it ended and its x0.
fn step_el1(daif: u64) -> (Outcome, u64) {
    let mut result = 0;
    let outcome = guard::run(&mut || {
        let r0: u64;
        // SAFETY: the target changes x0 and returns to x30 (the label after
        // the ERET) at EL1h on the same stack; a step exception on the way is
        // turned into a resume of the guard.
        unsafe {
            core::arch::asm!(
                "adr x30, 1f",
                "msr elr_el1, {f}",
                "msr spsr_el1, {spsr}",
                "isb",
                "eret",
                "1: msr daifset, #0xf",
                "isb",
                f = in(reg) addr(testkit_dbg_step),
                spsr = in(reg) FLAGS | PSTATE_SS | daif | M_EL1H,
                out("x0") r0,
                out("x30") _,
                options(nostack),
            );
        }
        result = r0;
    });
    (outcome, result)
}

/// Runs an EL0 target with NZCV = FLAGS (and PSTATE.SS if `ss`), x0 and x1.
fn call_el0(f: unsafe extern "C" fn(), x0: u64, x1: u64, ss: bool) -> Outcome {
    let mut regs = [0; exception::SAVED_REGS];
    regs[0] = x0;
    regs[1] = x1;
    let ss = if ss { PSTATE_SS } else { 0 };
    user::run(addr(f), FLAGS | ss | user::SPSR_EL0T_MASKED, regs)
}

const SPSR_EL0: u64 = FLAGS | user::SPSR_EL0T_MASKED | M_EL0T;

/// The exception a test expects.
struct Expect<'a> {
    what: &'a str,
    vector: VectorKind,
    esr: u64,
    elr: u64,
    spsr: u64,
    /// FAR_EL1 (watchpoints only; UNKNOWN for the others).
    far: Option<u64>,
}

fn check(e: &Expect, outcome: Outcome) -> Result<ExceptionInfo, Detail> {
    let what = e.what;
    let info = match outcome {
        Outcome::Unexpected(info) => info,
        Outcome::El0Svc(info) => fail!(
            "{what}: expected ESR={:#x} at {}, got none: the EL0 code ran to its SVC (x0={:#x})",
            e.esr,
            e.vector,
            info.x[0]
        ),
        Outcome::Returned => fail!(
            "{what}: expected ESR={:#x} at {}, got none: the code ran to completion",
            e.esr,
            e.vector
        ),
        Outcome::Panicked => fail!("{what}: panicked"),
    };
    if info.vector != e.vector {
        fail!(
            "{what}: expected the {} vector (offset {:#x}), got {} ({:#x}): {info}",
            e.vector,
            e.vector.offset(),
            info.vector,
            info.vector.offset()
        );
    }
    if info.esr != e.esr {
        fail!("{what}: expected ESR={:#x}, got {:#x}", e.esr, info.esr);
    }
    if info.elr != e.elr {
        fail!("{what}: expected ELR={:#x}, got {:#x}", e.elr, info.elr);
    }
    if info.spsr != e.spsr {
        fail!("{what}: expected SPSR={:#x}, got {:#x}", e.spsr, info.spsr);
    }
    if let Some(far) = e.far {
        if info.far != far {
            fail!("{what}: expected FAR={far:#x}, got {:#x}", info.far);
        }
    }
    let entry = exception::expected_entry_pstate();
    if info.entry_pstate != entry {
        fail!(
            "{what}: expected PSTATE {entry:#x} (EL1h, DAIF masked) on entry, got {:#x}",
            info.entry_pstate
        );
    }
    Ok(info)
}

fn esr(ec: u64, iss: u64) -> u64 {
    (ec << 26) | ESR_IL | iss
}

/// The vector of a synchronous exception from EL1 code run as `how`.
fn el1_vector(how: El1) -> VectorKind {
    if how.sp0 {
        VectorKind::CURRENT_SP0_SYNC
    } else {
        VectorKind::CURRENT_SPX_SYNC
    }
}

fn brk_el1(how: El1, what: &str) -> TestResult {
    let (outcome, _) = call_el1(testkit_dbg_brk, 0, 0, how);
    let info = check(
        &Expect {
            what,
            vector: el1_vector(how),
            esr: esr(EC_BRK, BRK_IMM),
            elr: trigger(testkit_dbg_brk),
            spsr: how.spsr(),
            far: None,
        },
        outcome,
    )?;
    Ok(detail!("ESR={:#x} SPSR={:#x}", info.esr, info.spsr))
}

pub fn debug_brk_el1h(_: &Machine) -> TestResult {
    brk_el1(EL1H, "BRK #0x77 at EL1h")
}

pub fn debug_brk_el1t(_: &Machine) -> TestResult {
    brk_el1(EL1T, "BRK #0x77 at EL1t")
}

pub fn debug_brk_el0(_: &Machine) -> TestResult {
    let info = check(
        &Expect {
            what: "BRK #0x77 at EL0",
            vector: VectorKind::LOWER_A64_SYNC,
            esr: esr(EC_BRK, BRK_IMM),
            elr: addr(testkit_user_dbg_brk),
            spsr: SPSR_EL0,
            far: None,
        },
        call_el0(testkit_user_dbg_brk, 0, 0, false),
    )?;
    Ok(detail!("ESR={:#x} SPSR={:#x}", info.esr, info.spsr))
}

pub fn debug_breakpoint_el1(_: &Machine) -> TestResult {
    let debug = Debug::new(MDSCR_MDE | MDSCR_KDE);
    debug.breakpoint(trigger(testkit_dbg_insn), PRIV_EL1);
    for (how, what) in [(EL1H, "breakpoint at EL1h"), (EL1T, "breakpoint at EL1t")] {
        let (outcome, _) = call_el1(testkit_dbg_insn, 0, 0, how);
        check(
            &Expect {
                what,
                vector: el1_vector(how),
                esr: esr(EC_BREAKPOINT_LOWER | 1, FSC_DEBUG),
                elr: trigger(testkit_dbg_insn),
                spsr: how.spsr(),
                far: None,
            },
            outcome,
        )?;
    }
    // PMC = EL0 only: not at EL1.
    debug.breakpoint(trigger(testkit_dbg_insn), PRIV_EL0);
    let (outcome, x0) = call_el1(testkit_dbg_insn, 0, 0, EL1H);
    expect_ran(
        "breakpoint for EL0 only, run at EL1",
        outcome,
        x0,
        TARGET_VALUE,
    )?;
    drop(debug);
    Ok(detail!(
        "ESR={:#x} from EL1h and EL1t",
        esr(EC_BREAKPOINT_LOWER | 1, FSC_DEBUG)
    ))
}

pub fn debug_breakpoint_el0(_: &Machine) -> TestResult {
    // KDE only matters at EL1: leave it clear.
    let debug = Debug::new(MDSCR_MDE);
    debug.breakpoint(addr(testkit_user_dbg_insn), PRIV_EL0);
    check(
        &Expect {
            what: "breakpoint at EL0",
            vector: VectorKind::LOWER_A64_SYNC,
            esr: esr(EC_BREAKPOINT_LOWER, FSC_DEBUG),
            elr: addr(testkit_user_dbg_insn),
            spsr: SPSR_EL0,
            far: None,
        },
        call_el0(testkit_user_dbg_insn, 0, 0, false),
    )?;
    // PMC = EL1 only: not at EL0.
    debug.breakpoint(addr(testkit_user_dbg_insn), PRIV_EL1);
    match call_el0(testkit_user_dbg_insn, 0, 0, false) {
        Outcome::El0Svc(info) if info.x[0] == TARGET_VALUE => {}
        Outcome::Unexpected(info) => {
            fail!("breakpoint for EL1 only, run at EL0: expected no exception, got {info}")
        }
        _ => fail!("breakpoint for EL1 only, run at EL0: the code did not complete"),
    }
    drop(debug);
    Ok(detail!("ESR={:#x}", esr(EC_BREAKPOINT_LOWER, FSC_DEBUG)))
}

/// The code ran to completion and computed `want`.
fn expect_ran(
    what: impl core::fmt::Display,
    outcome: Outcome,
    x0: u64,
    want: u64,
) -> Result<(), Detail> {
    match outcome {
        Outcome::Returned if x0 == want => Ok(()),
        Outcome::Returned => fail!("{what}: expected x0={want:#x} after the code ran, got {x0:#x}"),
        Outcome::Unexpected(info) | Outcome::El0Svc(info) => {
            fail!("{what}: expected no exception, got {info}")
        }
        Outcome::Panicked => fail!("{what}: panicked"),
    }
}

pub fn debug_watchpoint_el1(_: &Machine) -> TestResult {
    let debug = Debug::new(MDSCR_MDE | MDSCR_KDE);
    let va = watched();
    let cases = [
        (
            "load watchpoint at EL1h",
            testkit_dbg_load as unsafe extern "C" fn(),
            WCR_LOAD,
            0,
        ),
        (
            "store watchpoint at EL1h",
            testkit_dbg_store,
            WCR_STORE,
            ISS_WNR,
        ),
    ];
    for (what, f, lsc, wnr) in cases {
        debug.watchpoint(va, lsc | PRIV_EL1);
        let (outcome, _) = call_el1(f, va, 0x77, EL1H);
        check(
            &Expect {
                what,
                vector: VectorKind::CURRENT_SPX_SYNC,
                esr: esr(EC_WATCHPOINT_LOWER | 1, wnr | FSC_DEBUG),
                elr: trigger(f),
                spsr: EL1H.spsr(),
                far: Some(va),
            },
            outcome,
        )?;
    }
    // A load does not hit a store watchpoint; one for EL0 does not fire at EL1.
    WATCHED.store(0x5555, Ordering::SeqCst);
    debug.watchpoint(va, WCR_STORE | PRIV_EL1);
    let (outcome, x0) = call_el1(testkit_dbg_load, va, 0, EL1H);
    expect_ran("load under a store watchpoint", outcome, x0, 0x5555)?;
    debug.watchpoint(va, WCR_LOAD | PRIV_EL0);
    let (outcome, x0) = call_el1(testkit_dbg_load, va, 0, EL1H);
    expect_ran("load under an EL0 watchpoint, at EL1", outcome, x0, 0x5555)?;
    drop(debug);
    Ok(detail!("load and store, FAR={va:#x}"))
}

pub fn debug_watchpoint_el0(_: &Machine) -> TestResult {
    let debug = Debug::new(MDSCR_MDE);
    let va = watched();
    let cases = [
        (
            "load watchpoint at EL0",
            testkit_user_dbg_load as unsafe extern "C" fn(),
            WCR_LOAD,
            0,
        ),
        (
            "store watchpoint at EL0",
            testkit_user_dbg_store,
            WCR_STORE,
            ISS_WNR,
        ),
    ];
    for (what, f, lsc, wnr) in cases {
        debug.watchpoint(va, lsc | PRIV_EL0);
        check(
            &Expect {
                what,
                vector: VectorKind::LOWER_A64_SYNC,
                esr: esr(EC_WATCHPOINT_LOWER, wnr | FSC_DEBUG),
                elr: addr(f),
                spsr: SPSR_EL0,
                far: Some(va),
            },
            call_el0(f, va, 0x77, false),
        )?;
    }
    drop(debug);
    Ok(detail!("load and store, FAR={va:#x}"))
}

pub fn debug_step_el1(_: &Machine) -> TestResult {
    let debug = Debug::new(MDSCR_SS | MDSCR_KDE);
    let (outcome, _) = step_el1(DAIF_NO_D);
    drop(debug);
    let info = check(
        &Expect {
            what: "software step at EL1h",
            vector: VectorKind::CURRENT_SPX_SYNC,
            esr: esr(EC_STEP_LOWER | 1, ISS_ISV | FSC_DEBUG),
            // One instruction stepped: the next one is to be stepped.
            elr: addr(testkit_dbg_step) + 4,
            // Taken active-pending: SPSR.SS = 0.
            spsr: FLAGS | DAIF_NO_D | M_EL1H,
            far: None,
        },
        outcome,
    )?;
    Ok(detail!("ESR={:#x} ELR=+4", info.esr))
}

pub fn debug_step_el0(_: &Machine) -> TestResult {
    // KDE only matters at EL1: leave it clear.
    let debug = Debug::new(MDSCR_SS);
    let outcome = call_el0(testkit_user_dbg_step, 0, 0, true);
    drop(debug);
    let info = check(
        &Expect {
            what: "software step at EL0",
            vector: VectorKind::LOWER_A64_SYNC,
            esr: esr(EC_STEP_LOWER, ISS_ISV | FSC_DEBUG),
            elr: addr(testkit_user_dbg_step) + 4,
            spsr: SPSR_EL0,
            far: None,
        },
        outcome,
    )?;
    Ok(detail!("ESR={:#x} ELR=+4", info.esr))
}

/// A stepped instruction that traps to the hypervisor and is emulated there
/// (an MMIO load of the UART, a DCC read: with this VM's policy a backdoor
/// request, an empty-channel read otherwise) completes like any other: the
/// step exception comes before the next instruction (ELR = +4), not after it.
pub fn debug_step_emulated(_: &Machine) -> TestResult {
    let debug = Debug::new(MDSCR_SS);
    let mut mmio = [0; exception::SAVED_REGS];
    mmio[0] = (crate::console::PL011_BASE + crate::console::UARTFR) as u64;
    let mut dcc = [0; exception::SAVED_REGS];
    dcc[0] = 0x564D_5868; // magic
    dcc[2] = 10; // GETVERSION
    dcc[3] = 0x5658; // port
    dcc[7] = (0x86 << 32) | 0b1110; // signature, IN, 4 bytes, port in DX
    let spsr = FLAGS | PSTATE_SS | user::SPSR_EL0T_MASKED;
    let cases = [
        (
            "stepped MMIO load at EL0",
            testkit_user_dbg_step_mmio as unsafe extern "C" fn(),
            mmio,
        ),
        ("stepped DCC read at EL0", testkit_user_dbg_step_dcc, dcc),
    ];
    for (what, f, regs) in cases {
        let outcome = user::run(addr(f), spsr, regs);
        check(
            &Expect {
                what,
                vector: VectorKind::LOWER_A64_SYNC,
                esr: esr(EC_STEP_LOWER, ISS_ISV | FSC_DEBUG),
                elr: addr(f) + 4,
                spsr: SPSR_EL0,
                far: None,
            },
            outcome,
        )?;
    }
    drop(debug);
    Ok(detail!("MMIO load and DCC read: ELR=+4"))
}

/// Debug exceptions the guest's settings disable at EL1 (KDE = 0, or
/// PSTATE.D = 1) are not taken: the code runs as if nothing were set.
pub fn debug_suppressed(_: &Machine) -> TestResult {
    let va = watched();
    WATCHED.store(0x5555, Ordering::SeqCst);
    for (mdscr, how, why) in [
        (MDSCR_MDE, EL1H, "KDE=0"),
        (MDSCR_MDE | MDSCR_KDE, EL1H_D_MASKED, "PSTATE.D=1"),
    ] {
        let debug = Debug::new(mdscr);
        debug.breakpoint(trigger(testkit_dbg_insn), PRIV_BOTH);
        let (outcome, x0) = call_el1(testkit_dbg_insn, 0, 0, how);
        expect_ran(
            detail!("breakpoint at EL1 with {why}"),
            outcome,
            x0,
            TARGET_VALUE,
        )?;
        debug.watchpoint(va, WCR_LOAD | PRIV_BOTH);
        let (outcome, x0) = call_el1(testkit_dbg_load, va, 0, how);
        expect_ran(detail!("watchpoint at EL1 with {why}"), outcome, x0, 0x5555)?;
        drop(debug);
    }
    for (mdscr, daif, why) in [
        (MDSCR_SS, DAIF_NO_D, "KDE=0"),
        (MDSCR_SS | MDSCR_KDE, DAIF_ALL, "PSTATE.D=1"),
    ] {
        let debug = Debug::new(mdscr);
        let (outcome, x0) = step_el1(daif);
        drop(debug);
        expect_ran(detail!("software step at EL1 with {why}"), outcome, x0, 2)?;
    }
    Ok(detail!(
        "breakpoint, watchpoint, step with KDE=0 and with D=1"
    ))
}

/// Breakpoint n's value: 4-aligned, distinct per register.
fn bvr(n: usize) -> u64 {
    0x4080_0000 + 0x100 * n as u64 + 4
}

/// Watchpoint n's value: 8-aligned, distinct per register.
fn wvr(n: usize) -> u64 {
    0x4090_0000 + 0x100 * n as u64 + 8
}

/// PMC = both, BAS = A64, disabled; and a watchpoint for loads and stores
/// at both ELs, all bytes, disabled.
const BCR_VALUE: u64 = BCR_BAS_A64 | PRIV_BOTH;
const WCR_VALUE: u64 = WCR_BAS_ALL | WCR_LOAD | WCR_STORE | PRIV_BOTH;

pub fn debug_regs_readback(_: &Machine) -> TestResult {
    let (brps, wrps) = counts();
    let old_mdscr = read_sysreg!("mdscr_el1");
    // With PSTATE.D set nothing fires while SS and KDE are set.
    let mdscr = MDSCR_MDE | MDSCR_KDE | MDSCR_TDCC | MDSCR_SS;
    write_sysreg!("mdscr_el1", mdscr);
    isb();
    let got_mdscr = read_sysreg!("mdscr_el1");
    write_sysreg!("mdscr_el1", old_mdscr);
    isb();
    if got_mdscr != mdscr {
        fail!("MDSCR_EL1: wrote {mdscr:#x}, read back {got_mdscr:#x}");
    }
    for n in 0..brps {
        debug_reg!(write "dbgbvr", n, bvr(n));
        debug_reg!(write "dbgbcr", n, BCR_VALUE);
    }
    for n in 0..wrps {
        debug_reg!(write "dbgwvr", n, wvr(n));
        debug_reg!(write "dbgwcr", n, WCR_VALUE);
    }
    isb();
    let mut mismatch = None;
    for n in 0..brps {
        let (v, c) = (debug_reg!(read "dbgbvr", n), debug_reg!(read "dbgbcr", n));
        if mismatch.is_none() && (v, c) != (bvr(n), BCR_VALUE) {
            mismatch = Some(detail!(
                "DBGBVR{n}/DBGBCR{n}: wrote {:#x}/{BCR_VALUE:#x}, read back {v:#x}/{c:#x}",
                bvr(n)
            ));
        }
        debug_reg!(write "dbgbvr", n, 0);
        debug_reg!(write "dbgbcr", n, 0);
    }
    for n in 0..wrps {
        let (v, c) = (debug_reg!(read "dbgwvr", n), debug_reg!(read "dbgwcr", n));
        if mismatch.is_none() && (v, c) != (wvr(n), WCR_VALUE) {
            mismatch = Some(detail!(
                "DBGWVR{n}/DBGWCR{n}: wrote {:#x}/{WCR_VALUE:#x}, read back {v:#x}/{c:#x}",
                wvr(n)
            ));
        }
        debug_reg!(write "dbgwvr", n, 0);
        debug_reg!(write "dbgwcr", n, 0);
    }
    if let Some(m) = mismatch {
        return Err(m);
    }
    // Through x5 (Aerie's fast path) and x21 (its full exit path), both
    // ways: the same register image.
    let (through_low, through_high): (u64, u64);
    // SAFETY: writes and reads of breakpoint 0's value register, which the
    // hypervisor emulates; breakpoint 0 stays disabled (DBGBCR0 is 0), and
    // it is cleared after.
    unsafe {
        core::arch::asm!(
            "msr dbgbvr0_el1, {a}",
            "mrs x21, dbgbvr0_el1",
            "msr dbgbvr0_el1, {b}",
            "mrs x5, dbgbvr0_el1",
            "msr dbgbvr0_el1, xzr",
            a = in(reg) bvr(0),
            b = in(reg) bvr(1),
            out("x21") through_high,
            out("x5") through_low,
            options(nomem, nostack, preserves_flags),
        );
    }
    if (through_high, through_low) != (bvr(0), bvr(1)) {
        fail!(
            "DBGBVR0_EL1 read back {through_high:#x} into x21 (wrote {:#x}) and {through_low:#x} into x5 (wrote {:#x})",
            bvr(0),
            bvr(1)
        );
    }
    // The first register past the implemented ones is UNDEFINED.
    if brps < 16 {
        let (_, fault) = exception::catch(|| debug_reg!(read "dbgbvr", brps));
        expect_undefined(detail!("MRS DBGBVR{brps}_EL1 ({brps} implemented)"), fault)?;
    }
    if wrps < 16 {
        let (_, fault) = exception::catch(|| debug_reg!(read "dbgwvr", wrps));
        expect_undefined(detail!("MRS DBGWVR{wrps}_EL1 ({wrps} implemented)"), fault)?;
    }
    Ok(detail!("{brps} breakpoints, {wrps} watchpoints, MDSCR_EL1"))
}

fn expect_undefined(
    what: impl core::fmt::Display,
    fault: Option<ExceptionInfo>,
) -> Result<(), Detail> {
    match fault {
        Some(info) if info.ec() == EC_UNKNOWN => Ok(()),
        Some(info) => fail!("{what}: expected UNDEFINED (EC 0x00), got {info}"),
        None => fail!("{what}: expected UNDEFINED, it read"),
    }
}
