//! Running code so that a crash returns control to the caller instead of hanging
//! the run: `run` records a resume point (callee-saved registers, LR, SP) before
//! calling the code; the exception handler (or the panic handler) can return to
//! it with a code, discarding everything the guarded code had on the stack.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::exception::{self, ExceptionInfo};
use crate::vectors::TrapFrame;

pub const CODE_RETURNED: u64 = 0;
pub const CODE_UNEXPECTED: u64 = 1;
pub const CODE_EL0_SVC: u64 = 2;
pub const CODE_PANICKED: u64 = 3;

/// SPSR for resuming at EL1h (M = 0b0101) with D, A, I, F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;

/// x19..x30 and SP, as saved by `testkit_guard_call` (offsets fixed in vectors.rs).
#[repr(C, align(16))]
pub struct JmpBuf([u64; 14]);

unsafe extern "C" {
    fn testkit_guard_call(buf: *mut JmpBuf, f: extern "C" fn(*mut u8), arg: *mut u8) -> u64;
    fn testkit_guard_resume(buf: *mut JmpBuf, code: u64) -> !;
}

/// The innermost active resume point (0 = none). Only the boot CPU uses it.
static CURRENT: AtomicUsize = AtomicUsize::new(0);

/// How guarded code ended.
pub enum Outcome {
    Returned,
    /// An exception nobody expected; details from the handler.
    Unexpected(ExceptionInfo),
    /// EL0 code executed an SVC; details (ESR, x0) from the handler.
    El0Svc(ExceptionInfo),
    /// The code panicked (the panic handler already printed the message).
    Panicked,
}

extern "C" fn trampoline<F: FnMut()>(arg: *mut u8) {
    // SAFETY: `run` passes a pointer to its `&mut F`, live for the whole call.
    let f = unsafe { &mut *(arg as *mut F) };
    f();
}

/// Runs `f`, returning how it ended. Nested calls are allowed.
pub fn run<F: FnMut()>(f: &mut F) -> Outcome {
    let mut buf = JmpBuf([0; 14]);
    let previous = CURRENT.load(Ordering::SeqCst);
    CURRENT.store(&mut buf as *mut JmpBuf as usize, Ordering::SeqCst);
    // SAFETY: testkit_guard_call follows the AAPCS64: it returns exactly once,
    // with x19..x29, SP and LR as they were at the call (restored from `buf`,
    // which outlives the call), whether `f` returned or was abandoned.
    let code = unsafe { testkit_guard_call(&mut buf, trampoline::<F>, f as *mut F as *mut u8) };
    CURRENT.store(previous, Ordering::SeqCst);
    exception::disarm();
    match code {
        CODE_RETURNED => Outcome::Returned,
        CODE_EL0_SVC => Outcome::El0Svc(exception::last()),
        CODE_PANICKED => Outcome::Panicked,
        _ => Outcome::Unexpected(exception::last()),
    }
}

/// Runs `f(point)` with a resume point of its own: code that jumps to
/// `testkit_guard_resume` with `point` and a non-zero code (a firmware
/// entry point given `point` as its context id, say) comes back here with
/// that code, discarding whatever was on the stack below. Returns 0 when
/// `f` returns. Exceptions inside `f` still go to the enclosing [`run`].
pub fn with_resume_point<F: FnMut(u64)>(f: &mut F) -> u64 {
    struct Call<'a, F> {
        f: &'a mut F,
        point: u64,
    }
    extern "C" fn go<F: FnMut(u64)>(arg: *mut u8) {
        // SAFETY: `with_resume_point` passes its `Call`, live for the call.
        let call = unsafe { &mut *(arg as *mut Call<'_, F>) };
        (call.f)(call.point);
    }
    let mut buf = JmpBuf([0; 14]);
    let buf_ptr = &raw mut buf;
    let mut call = Call {
        f,
        point: buf_ptr as u64,
    };
    // SAFETY: as in `run`: testkit_guard_call returns exactly once, with the
    // callee-saved registers, SP and LR restored from `buf`, which outlives
    // the call. `f`'s frames may be abandoned; they own nothing to drop.
    unsafe { testkit_guard_call(buf_ptr, go::<F>, &raw mut call as *mut u8) }
}

/// Makes the exception return land in the innermost resume point with `code`.
/// Returns false if there is none.
pub fn redirect(frame: &mut TrapFrame, code: u64) -> bool {
    let buf = CURRENT.load(Ordering::SeqCst);
    if buf == 0 {
        return false;
    }
    frame.elr = testkit_guard_resume as *const () as u64;
    frame.spsr = SPSR_EL1H_MASKED;
    frame.x[0] = buf as u64;
    frame.x[1] = code;
    true
}

/// Returns to the innermost resume point with `code`; returns only if there is none.
pub fn abandon(code: u64) {
    let buf = CURRENT.load(Ordering::SeqCst);
    if buf != 0 {
        // SAFETY: `buf` is the JmpBuf of a `run` call still on the stack below us
        // (CURRENT is reset when `run` returns); resuming it discards our frames.
        unsafe { testkit_guard_resume(buf as *mut JmpBuf, code) };
    }
}
