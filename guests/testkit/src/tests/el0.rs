//! A round trip to EL0 and back through SVC (ESR EC 0x15, ISS = imm16).

use super::TestResult;
use crate::detail::{detail, fail};
use crate::entry::Stack;
use crate::exception::EC_SVC64;
use crate::guard::{self, Outcome};
use crate::machine::Machine;

const USER_STACK_SIZE: usize = 8 * 1024;
static USER_STACK: Stack<USER_STACK_SIZE> = Stack::new();

const SVC_IMM: u64 = 0x42;
const SEED: u64 = 7;
/// SPSR for EL0t (M = 0) with D, A, I, F masked.
const SPSR_EL0T_MASKED: u64 = 0x3c0;

/// What `user_main` computes from SEED: 1 + 2 + ... + SEED, times 3.
const fn expected(seed: u64) -> u64 {
    seed * (seed + 1) / 2 * 3
}

/// Runs at EL0: computes from a value the compiler cannot fold, then SVCs.
extern "C" fn user_main() -> ! {
    let seed = core::hint::black_box(SEED);
    let value = (1..=seed).sum::<u64>() * 3;
    // SAFETY: SVC raises an exception to EL1; the handler never returns here
    // (it resumes the guarded EL1 code), hence `noreturn`.
    unsafe {
        core::arch::asm!("svc #{imm}", imm = const SVC_IMM, in("x0") value, options(noreturn))
    }
}

pub fn el0_roundtrip(_: &Machine) -> TestResult {
    let mut enter_el0 = || {
        // SAFETY: ERET to EL0t at `user_main` on its own stack. With the MMU off
        // EL0 runs on the same flat memory; it can only come back via an
        // exception, which the handler turns into a resume of this guard.
        unsafe {
            core::arch::asm!(
                "msr sp_el0, {sp}",
                "msr elr_el1, {pc}",
                "msr spsr_el1, {spsr}",
                "isb",
                "eret",
                sp = in(reg) USER_STACK.top(),
                pc = in(reg) user_main as *const () as u64,
                spsr = in(reg) SPSR_EL0T_MASKED,
                options(noreturn),
            )
        }
    };
    let info = match guard::run(&mut enter_el0) {
        Outcome::El0Svc(info) => info,
        Outcome::Unexpected(info) => fail!("expected SVC #{SVC_IMM:#x} from EL0, got {info}"),
        Outcome::Returned | Outcome::Panicked => {
            fail!("expected SVC #{SVC_IMM:#x} from EL0, EL0 code did not trap")
        }
    };
    if info.ec() != EC_SVC64 || info.iss() & 0xffff != SVC_IMM {
        fail!("expected EC=0x15 imm16={SVC_IMM:#x}, got {info}");
    }
    if info.spsr & 0xf != 0 {
        fail!(
            "expected SPSR.M = EL0t for the SVC, got SPSR={:#x}",
            info.spsr
        );
    }
    let want = expected(SEED);
    if info.x[0] != want {
        fail!("expected x0 = {want} computed at EL0, got {}", info.x[0]);
    }
    Ok(detail!("x0={} from EL0", info.x[0]))
}
