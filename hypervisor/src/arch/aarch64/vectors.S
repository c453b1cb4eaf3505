// EL2 exception vectors and the guest entry/exit paths.
//
// While a guest runs, SP_EL2 stands at the top of the pCPU's EL2 stack
// (every exit starts afresh there), with the pCPU's fast-path table right
// above it (arch::aarch64::fast_path). Every lower-EL entry first spills the
// guest's x1 and x0 just below the stack pointer, to [sp, #-16] and
// [sp, #-8], without moving it: the fast paths then return with no stack
// adjustment, and the full paths copy the two into the register block before
// they call anything. Nothing else can use those bytes meanwhile: exceptions
// are masked from entry until the ERET or the copy.
//
// Exit paths, cheapest first:
//  * HVC fast path: an SMCCC call whose owner Aerie serves nowhere (bit clear
//    in SERVED_OWNERS) is answered NOT_SUPPORTED right here. It touches only
//    x0 and x1, which it restores (x0 becomes the result), and it changes no
//    system register, so the guest sees exactly what the full path would
//    have produced: x0 = -1, x1..x30 preserved, PC after the HVC (ELR_EL2
//    already points past an HVC).
//  * Backdoor fast path: the VMware GETVERSION request (below), for the
//    exception classes whose bit 3 is set.
//  * Full exit: the guest's x0..x30, PC and PSTATE are stored in the current
//    vCPU's register block (TPIDR_EL2 points at it) and Rust decides. Rust
//    returns the block to enter next, which may belong to another vCPU.
// The guest's EL1 system registers and FP/SIMD state stay live in the CPU on
// every exit; they move only when the scheduler switches vCPUs (Rust, via
// arch::aarch64::context), since EL2 code never touches them.

.equ REGS_PC, 248
.equ REGS_PSTATE, 256

.macro lower_exit kind
    stp     x1, x0, [sp, #-16]
    mov     x1, #\kind
    b       lower_exit_common
.endm

.macro current_exception kind
    sub     sp, sp, #(34 * 8)
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       current_exception_common
.endm

// The guest's registers in its GuestRegs block at x0 (x[n] at n * 8):
// the ones a call may clobber (x2..x18, x29, x30; x0/x1 are handled by each
// path), and the callee-saved x19..x28 that Rust preserves for us.
.macro save_guest_caller_saved
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    str     x18, [x0, #144]
    stp     x29, x30, [x0, #232]
.endm

.macro load_guest_caller_saved
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldr     x18, [x0, #144]
    ldp     x29, x30, [x0, #232]
.endm

.macro save_guest_callee_saved
    stp     x19, x20, [x0, #152]
    stp     x21, x22, [x0, #168]
    stp     x23, x24, [x0, #184]
    stp     x25, x26, [x0, #200]
    stp     x27, x28, [x0, #216]
.endm

.macro load_guest_callee_saved
    ldp     x19, x20, [x0, #152]
    ldp     x21, x22, [x0, #168]
    ldp     x23, x24, [x0, #184]
    ldp     x25, x26, [x0, #200]
    ldp     x27, x28, [x0, #216]
.endm

// Store x2..x29 and x30, ELR_EL2 into the 34-word frame at sp (x0/x1 are
// already at [sp]); leaves ELR_EL2 in x2.
.macro save_el2_frame
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
    mrs     x2, elr_el2
    stp     x30, x2, [sp, #240]
.endm

.section .text.vectors, "ax"
.balign 2048
.global el2_vectors
el2_vectors:
    // Current EL with SP_EL0: never used (EL2 runs on SP_EL2).
    .balign 0x80
    current_exception 0
    .balign 0x80
    current_exception 1
    .balign 0x80
    current_exception 2
    .balign 0x80
    current_exception 3
    // Current EL with SP_ELx: faults in Aerie itself, and Aerie's own
    // interrupts (pseudo-NMIs at any time, regular ones while idle).
    .balign 0x80
    current_exception 0
    .balign 0x80
    sub     sp, sp, #(34 * 8)
    stp     x0, x1, [sp, #0]
    b       current_irq
    .balign 0x80
    current_exception 2
    .balign 0x80
    current_exception 3
    // Lower EL, AArch64: the guest.
    .balign 0x80
    stp     x1, x0, [sp, #-16]      // the guest's x1, x0 (see the top)
    mrs     x1, esr_el2
    tbnz    x1, #29, backdoor_fast  // EC bit 3: system register or BRK
    lsr     x1, x1, #26
    cmp     x1, #0x16               // EC = HVC from AArch64
    b.ne    lower_sync_exit
    ubfx    x0, x0, #24, #6         // owner of the SMCCC function id
    adrp    x1, {served}
    ldr     x1, [x1, :lo12:{served}]
    lsr     x1, x1, x0
    tbnz    x1, #0, 1f              // served: take the full path
    mov     x0, #-1                 // SMCCC NOT_SUPPORTED
    ldr     x1, [sp, #-16]
    eret
1:  b       lower_sync_exit
    .balign 0x80
    lower_exit 1
    .balign 0x80
    lower_exit 2
    .balign 0x80
    lower_exit 3
    // Lower EL, AArch32: Aerie's guests are AArch64 only.
    .balign 0x80
    lower_exit 4
    .balign 0x80
    lower_exit 4
    .balign 0x80
    lower_exit 4
    .balign 0x80
    lower_exit 4

// Backdoor fast path: GETVERSION through the DCC status register or the
// VM's BRK, exactly as open-vm-tools issues it (`mrs xzr, mdccsr_el0` or
// `brk #imm`; x7 = 0x86 << 32 | IN, 4 bytes, port in DX; x3 = 0x5658;
// x0 = magic; x2 = 10), answered here: x0 = 6, x1 = magic, x2 = 2, past the
// instruction. The entry sends here every trap whose class has bit 3 set
// (ESR bit 29): the two transports' classes (0x18, 0x3C) and others that
// are rare (other system registers, other BRKs, vector catch); HVC, data
// and instruction aborts and WFx keep their paths one instruction shorter
// than a test of x2 first made them. x1 = ESR_EL2, x0 = guest x0 (also
// below the stack pointer). The table above the stack (fast_path.rs) holds,
// in the class's slot, the one syndrome of that class answered for the
// vCPU running here (zero where its VM's policy does not allow this path),
// and the fixed registers of request and reply. Every other request, and
// every other trap, takes the full exit path, which serves the same request
// identically. Only x0 and x1 change before the branch, and the guest's are
// still below the stack pointer for that path.
backdoor_fast:
    lsr     x0, x1, #26
    ldr     x0, [sp, x0, lsl #3]    // the syndrome this class answers
    cmp     x1, x0
    ccmp    x2, #{command}, #0, eq  // GETVERSION, nothing in ecx[31:16]
    ldp     x0, x1, [sp, #{x7_slot} * 8]
    ccmp    x7, x0, #0, eq          // signature and I/O flags
    ccmp    x3, x1, #0, eq          // port 0x5658
    ldp     x0, x1, [sp, #-8]       // guest x0, and the magic (slot 0)
    ccmp    x0, x1, #0, eq
    b.ne    lower_sync_exit
    mrs     x0, elr_el2
    add     x0, x0, #4
    msr     elr_el2, x0
    ldp     x0, x2, [sp, #{reply_slot} * 8] // version, VMX type; x1 = magic
    eret

// A synchronous exit, guest x1/x0 below the stack pointer. First the Rust
// fast path (aerie_exit_fast: emulated PL011 accesses; GIC identification
// and GICR_WAKER accesses; ID, debug and SGI register traps) with only the
// registers a call may clobber saved: x0..x18, x29, x30. x19..x28 are
// callee-saved, so they still hold the guest's values when the fast path
// returns, and it never needs them (it declines accesses that name one). If
// it declines (returns 0), they are saved too and the full exit path runs.
lower_sync_exit:
    mrs     x0, tpidr_el2
    save_guest_caller_saved
    ldp     x3, x2, [sp, #-16]
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #REGS_PC]
    bl      {exit_fast}
    cbz     x0, 2f
    ldp     x2, x3, [x0, #REGS_PC]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    load_guest_caller_saved
    ldp     x0, x1, [x0, #0]
    eret
2:  mrs     x0, tpidr_el2
    save_guest_callee_saved
    mov     x1, #0
    bl      {exit}
    b       guest_enter

// Guest x1/x0 are below the stack pointer, x1 = exit kind.
lower_exit_common:
    mrs     x0, tpidr_el2
    save_guest_caller_saved
    save_guest_callee_saved
    ldp     x3, x2, [sp, #-16]
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #REGS_PC]
    bl      {exit}
    // x0: the register block of the vCPU to run next.
guest_enter:
    msr     tpidr_el2, x0
    ldp     x2, x3, [x0, #REGS_PC]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    load_guest_callee_saved
    load_guest_caller_saved
    ldp     x0, x1, [x0, #0]
    eret

// First entry into a guest: x0 = register block, x1 = top of the EL2 stack
// (the Rust frames below are abandoned; every later exit starts afresh there).
.global aerie_enter_guest
aerie_enter_guest:
    mov     sp, x1
    b       guest_enter

// An interrupt taken at EL2: save the interrupted context as a frame (the
// same layout as for faults: x0..x30, ELR, SPSR, ESR slot), let Rust
// dispatch it, and return to where it hit.
current_irq:
    save_el2_frame
    mrs     x2, spsr_el2
    stp     x2, xzr, [sp, #256]
    mov     x0, sp
    bl      {irq}
    ldp     x30, x2, [sp, #240]
    msr     elr_el2, x2
    ldr     x2, [sp, #256]
    msr     spsr_el2, x2
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
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #(34 * 8)
    eret

// An exception taken from EL2 itself: save a frame and let Rust report it.
// Frame: x0..x30, ELR_EL2, SPSR_EL2, ESR_EL2 (34 words); x1 = kind.
current_exception_common:
    save_el2_frame
    mrs     x2, spsr_el2
    mrs     x3, esr_el2
    stp     x2, x3, [sp, #256]
    mov     x0, sp
    bl      {fault}
1:  wfe
    b       1b
