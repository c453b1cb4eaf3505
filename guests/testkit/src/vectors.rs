//! The EL1 exception vector table (VBAR_EL1) and the recovery trampolines used
//! by `guard`. Every vector saves x0..x30, ELR and SPSR into a `TrapFrame` on
//! SP_EL1, calls `testkit_exception` with the vector's index, restores the frame
//! (which the handler may have rewritten) and ERETs. IRQs taken at EL1h go to
//! `irq::dispatch`; their vector reads CNTVCT_EL0 before anything else.

use crate::exception::{self, ExceptionInfo, VectorKind};
use crate::guard;

/// Registers saved on exception entry; layout shared with the assembly below.
#[repr(C)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    _pad: u64,
}

core::arch::global_asm!(
    r#"
    .section .text.vectors, "ax"
    .balign 0x800
    .global testkit_vectors
testkit_vectors:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 0x80
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #0]
    .if \vector == 5
    // IRQ, current EL with SPx: timestamp the entry first (exception entry
    // is context synchronizing, so no ISB is needed before the read).
    mrs     x0, cntvct_el0
    adrp    x1, {entry_ticks}
    str     x0, [x1, :lo12:{entry_ticks}]
    .endif
    mov     x1, #\vector
    b       testkit_exception_common
    .endr

testkit_exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #240]
    str     x3, [sp, #256]
    mov     x0, sp
    bl      testkit_exception
    ldp     x30, x2, [sp, #240]
    ldr     x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #{frame_size}
    eret

    // u64 testkit_guard_call(JmpBuf *buf, void (*f)(void *), void *arg)
    // Saves the callee-saved registers, LR and SP in buf, then calls f(arg).
    // Returns 0 when f returns, or the code passed to testkit_guard_resume.
    .section .text.guard, "ax"
    .global testkit_guard_call
testkit_guard_call:
    stp     x19, x20, [x0, #0]
    stp     x21, x22, [x0, #16]
    stp     x23, x24, [x0, #32]
    stp     x25, x26, [x0, #48]
    stp     x27, x28, [x0, #64]
    stp     x29, x30, [x0, #80]
    mov     x9, sp
    str     x9, [x0, #96]
    mov     x19, x0                 // callee-saved: still buf after f returns
    mov     x0, x2
    blr     x1
    mov     x0, x19
    mov     x1, #0
    // fall through

    // ! testkit_guard_resume(JmpBuf *buf, u64 code)
    // Returns `code` from the testkit_guard_call that filled buf, discarding
    // every frame below it (the guarded function's and any exception frame).
    .global testkit_guard_resume
testkit_guard_resume:
    ldp     x19, x20, [x0, #0]
    ldp     x21, x22, [x0, #16]
    ldp     x23, x24, [x0, #32]
    ldp     x25, x26, [x0, #48]
    ldp     x27, x28, [x0, #64]
    ldp     x29, x30, [x0, #80]
    ldr     x9, [x0, #96]
    mov     sp, x9
    mov     x0, x1
    ret
"#,
    frame_size = const core::mem::size_of::<TrapFrame>(),
    entry_ticks = sym crate::irq::ENTRY_TICKS,
);

/// Called by the vectors with the saved registers; may rewrite `frame` to
/// change where and how the ERET returns.
#[no_mangle]
extern "C" fn testkit_exception(frame: &mut TrapFrame, vector: u64) {
    // IRQs are expected on every CPU; the frame keeps ELR/SPSR, so a handler
    // may unmask IRQs and be preempted.
    if VectorKind(vector) == VectorKind::CURRENT_SPX_IRQ {
        crate::irq::dispatch();
        return;
    }
    let info = ExceptionInfo {
        vector: VectorKind(vector),
        esr: crate::sysreg::read_sysreg!("esr_el1"),
        elr: frame.elr,
        far: crate::sysreg::read_sysreg!("far_el1"),
        spsr: frame.spsr,
        x: core::array::from_fn(|i| frame.x[i]),
        entry_pstate: exception::current_pstate(),
    };
    if !crate::is_boot_cpu() {
        // A secondary runs only a small job outside any guard: report and stop this CPU.
        crate::console::println!("testkit: exception on secondary CPU: {info}");
        crate::psci::cpu_off();
        loop {
            crate::sysreg::wfe();
        }
    }
    match exception::classify(&info) {
        exception::Action::SkipInstruction => {
            exception::record_caught(&info);
            frame.elr += 4;
        }
        exception::Action::Recover(code) => {
            exception::record_caught(&info);
            if !guard::redirect(frame, code) {
                crate::console::println!("testkit: unexpected exception outside a test: {info}");
                crate::psci::system_off();
            }
        }
    }
}
