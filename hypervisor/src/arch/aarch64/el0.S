// User worlds (C6): entering EL0 and coming back.
//
// A user world runs at EL0 in the EL1&0 regime (HCR_EL2.TGE = 0, E2H = 0).
// Its exceptions go to EL1 first, where the shim below forwards each one to
// EL2 with `hvc #<vector index>`; Aerie reads the EL1 syndrome registers and
// returns straight to EL0, so EL1 never runs anything but one HVC. Interrupts
// (HCR_EL2.IMO/FMO) and SErrors (AMO) reach EL2 directly.
//
// aerie_user_run is called like a function: it keeps Aerie's callee-saved
// registers and VBAR_EL2 on the EL2 stack, points VBAR_EL2 at
// user_el2_vectors and enters the world. Its exceptions come back through
// those vectors, which store the world's registers and return from
// aerie_user_run with the exit kind. Exceptions taken at EL2 itself in
// between (none are expected: interrupts are masked) go to the regular table.
//
// This file is assembled right after vectors.S (one global_asm!), whose
// register-block macros it uses: UserRegs and GuestRegs agree on x0..x30.

.equ UREGS_SP, 248
.equ UREGS_PSTATE, 264
// Stack frame: x19..x30 (96 bytes), VBAR_EL2, the UserRegs pointer.
.equ FRAME, 112
.equ FRAME_VBAR, 96
.equ FRAME_REGS, 104

// The EL1 vector table of every user world, alone in its page: it is mapped
// into each world at layout::SHIM_VA, executable at EL1 only. The HVC's
// immediate is the vector's index (8 = synchronous from EL0).
.section .text.el1_shim, "ax"
.balign 4096
.global aerie_el1_shim
aerie_el1_shim:
.irp index, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    hvc     #\index
.endr
    .balign 4096

.macro user_exit kind
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       user_exit_common
.endm

.section .text.user_vectors, "ax"
.balign 2048
user_el2_vectors:
    // Current EL: Aerie itself; the regular handlers.
.irp offset, 0x000, 0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380
    .balign 0x80
    b       el2_vectors + \offset
.endr
    // Lower EL, AArch64: the world (kind 0 sync, 1 IRQ, 2 FIQ, 3 SError).
    user_exit 0
    user_exit 1
    user_exit 2
    user_exit 3
    // Lower EL, AArch32: user worlds are AArch64 only.
    user_exit 4
    user_exit 4
    user_exit 4
    user_exit 4

// x0 = the world's UserRegs (x0..x30, SP_EL0, PC, PSTATE); returns the exit
// kind in x0 with the world's state stored back into the block.
.section .text
.global aerie_user_run
aerie_user_run:
    sub     sp, sp, #FRAME
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    mrs     x1, vbar_el2
    stp     x1, x0, [sp, #FRAME_VBAR]
    adrp    x1, user_el2_vectors
    add     x1, x1, :lo12:user_el2_vectors
    msr     vbar_el2, x1
    ldp     x1, x2, [x0, #UREGS_SP]         // SP_EL0, PC
    msr     sp_el0, x1
    msr     elr_el2, x2
    ldr     x1, [x0, #UREGS_PSTATE]
    msr     spsr_el2, x1
    load_guest_callee_saved
    load_guest_caller_saved
    ldp     x0, x1, [x0, #0]
    eret

// The world's x0/x1 are on the stack, x1 = exit kind; below them is the
// frame aerie_user_run left.
user_exit_common:
    ldr     x0, [sp, #16 + FRAME_REGS]
    save_guest_caller_saved
    save_guest_callee_saved
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, sp_el0
    mrs     x3, elr_el2
    stp     x2, x3, [x0, #UREGS_SP]
    mrs     x2, spsr_el2
    str     x2, [x0, #UREGS_PSTATE]
    ldr     x2, [sp, #FRAME_VBAR]
    msr     vbar_el2, x2
    isb
    mov     x0, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #FRAME
    ret
