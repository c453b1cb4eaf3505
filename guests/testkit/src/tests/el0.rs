//! A round trip to EL0 and back through SVC (ESR EC 0x15, ISS = imm16).

use super::TestResult;
use crate::detail::{detail, fail};
use crate::exception::{EC_SVC64, SAVED_REGS};
use crate::guard::Outcome;
use crate::machine::Machine;
use crate::user;

const SVC_IMM: u64 = 0x42;
const SEED: u64 = 7;

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
    let pc = user_main as *const () as u64;
    let info = match user::run(pc, user::SPSR_EL0T_MASKED, [0; SAVED_REGS]) {
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
