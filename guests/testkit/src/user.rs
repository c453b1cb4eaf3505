//! Running a piece of code at EL0: an ERET to EL0t with chosen registers
//! under a guard. The code comes back to EL1 only by an exception: `svc #0`
//! when it is done (`Outcome::El0Svc`, its registers in the info), or
//! whatever it raised (`Outcome::Unexpected`). With the MMU off EL0 runs on
//! the same flat memory as EL1.

use crate::entry::Stack;
use crate::exception::SAVED_REGS;
use crate::guard::{self, Outcome};

const USER_STACK_SIZE: usize = 4 * 1024;
static USER_STACK: Stack<USER_STACK_SIZE> = Stack::new();

/// SPSR for EL0t (M = 0) with D, A, I, F masked (D does not mask debug
/// exceptions taken from EL0 to EL1).
pub const SPSR_EL0T_MASKED: u64 = 0x3c0;

/// Runs the code at `pc` at EL0 with PSTATE from `spsr` (an EL0t value:
/// flags, masks, SS) and x0..x8 = `regs`.
pub fn run(pc: u64, spsr: u64, regs: [u64; SAVED_REGS]) -> Outcome {
    let mut enter_el0 = || {
        // SAFETY: ERET to EL0t at `pc` on its own stack. EL0 code can only
        // come back via an exception, which the handler turns into a resume
        // of this guard; nothing after the ERET runs here.
        unsafe {
            core::arch::asm!(
                "msr sp_el0, {sp}",
                "msr elr_el1, {pc}",
                "msr spsr_el1, {spsr}",
                "isb",
                "eret",
                sp = in(reg) USER_STACK.top(),
                pc = in(reg) pc,
                spsr = in(reg) spsr,
                in("x0") regs[0],
                in("x1") regs[1],
                in("x2") regs[2],
                in("x3") regs[3],
                in("x4") regs[4],
                in("x5") regs[5],
                in("x6") regs[6],
                in("x7") regs[7],
                in("x8") regs[8],
                options(noreturn),
            )
        }
    };
    guard::run(&mut enter_el0)
}
