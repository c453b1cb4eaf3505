// memcpy and memset for Aerie, replacing compiler_builtins' weak ones.
//
// The bare-metal target is built with strict alignment (code may run with
// the MMU off, when every access is to Device memory and a misaligned one
// faults), so the generic memcpy copies misaligned buffers a byte at a time
// and aligned ones a word at a time: about 2 instructions a byte. Most of
// what Aerie copies is guest data (network frames, disk blocks, RPCI
// messages) whose alignment the guest chose. With the MMU on, all of it is
// Normal memory, where SCTLR_EL2.A = 0 lets loads and stores of any size sit
// at any address; these move 64 bytes with 12 (memcpy) or 7 (memset)
// instructions then, and memset zeroes a 64-byte block with 4 (DC ZVA).
// With the MMU off (early boot of each pCPU) all memory
// is Device memory, where an access must be aligned to its size: they move
// bytes then, a safety net only (the early code calls neither today: the
// instruction-count plugin of `cargo xtask profile` counts no execution of
// them at their physical addresses). Never use them on a Device mapping
// with the MMU on (MMIO registers): those take volatile accesses of the
// register's width anyway.
// (memmove, memcmp and bcmp are the generic ones: not hot.)

// memcpy: x0 = destination, x1 = source, x2 = length; returns x0. The
// buffers do not overlap.

.section .text.memcpy, "ax"
.global memcpy
.type memcpy, %function
.balign 16
memcpy:
    mov     x3, x0
    mrs     x4, sctlr_el2
    tbz     x4, #0, 8f              // M = 0: Device memory, bytes only
    subs    x2, x2, #64
    b.lo    2f
1:  ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    ldp     x8, x9, [x1, #32]
    ldp     x10, x11, [x1, #48]
    add     x1, x1, #64
    stp     x4, x5, [x3]
    stp     x6, x7, [x3, #16]
    stp     x8, x9, [x3, #32]
    stp     x10, x11, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hs    1b
    // Fewer than 64 bytes are left: x2 is their number minus 64, whose
    // low 6 bits are the number's own.
2:  tbz     x2, #5, 3f
    ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    add     x1, x1, #32
    stp     x4, x5, [x3]
    stp     x6, x7, [x3, #16]
    add     x3, x3, #32
3:  tbz     x2, #4, 4f
    ldp     x4, x5, [x1], #16
    stp     x4, x5, [x3], #16
4:  tbz     x2, #3, 5f
    ldr     x4, [x1], #8
    str     x4, [x3], #8
5:  tbz     x2, #2, 6f
    ldr     w4, [x1], #4
    str     w4, [x3], #4
6:  tbz     x2, #1, 7f
    ldrh    w4, [x1], #2
    strh    w4, [x3], #2
7:  tbz     x2, #0, 10f
    ldrb    w4, [x1]
    strb    w4, [x3]
    ret
8:  cbz     x2, 10f
9:  ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    subs    x2, x2, #1
    b.ne    9b
10: ret
.size memcpy, . - memcpy

// memset: x0 = destination, w1 = the byte, x2 = length; returns x0.

// Zeroing this many bytes or more may use DC ZVA (below).
.equ ZVA_MIN, 256

.section .text.memset, "ax"
.global memset
.type memset, %function
.balign 16
memset:
    mov     x3, x0
    and     x1, x1, #0xff
    mrs     x4, sctlr_el2
    tbz     x4, #0, 8f              // M = 0: Device memory, bytes only
    cmp     x2, #ZVA_MIN
    ccmp    x1, #0, #0, hs          // long enough: is the byte zero?
    b.eq    20f
11: orr     x1, x1, x1, lsl #8
    orr     x1, x1, x1, lsl #16
    orr     x1, x1, x1, lsl #32
    subs    x2, x2, #64
    b.lo    2f
1:  stp     x1, x1, [x3]
    stp     x1, x1, [x3, #16]
    stp     x1, x1, [x3, #32]
    stp     x1, x1, [x3, #48]
    add     x3, x3, #64
    subs    x2, x2, #64
    b.hs    1b
    // As in memcpy: the low 6 bits of x2 count what is left.
2:  tbz     x2, #5, 3f
    stp     x1, x1, [x3]
    stp     x1, x1, [x3, #16]
    add     x3, x3, #32
3:  tbz     x2, #4, 4f
    stp     x1, x1, [x3], #16
4:  tbz     x2, #3, 5f
    str     x1, [x3], #8
5:  tbz     x2, #2, 6f
    str     w1, [x3], #4
6:  tbz     x2, #1, 7f
    strh    w1, [x3], #2
7:  tbz     x2, #0, 10f
    strb    w1, [x3]
    ret
8:  cbz     x2, 10f
9:  strb    w1, [x3], #1
    subs    x2, x2, #1
    b.ne    9b
10: ret
    // Zeroing at least ZVA_MIN bytes: whole blocks with DC ZVA, which
    // zeroes one aligned block (DCZID_EL0.BS: 4 << BS bytes, 64 on the
    // cores Aerie runs on) per instruction, and the unaligned first and
    // last block with pairs (they overlap the DC ZVA blocks; with at least
    // four blocks there is always one whole block between). This is how a
    // VM's RAM is cleared before it starts. Where DCZID_EL0.DZP forbids
    // DC ZVA, or blocks are small, or there are fewer than four, the pair
    // loop above does it (x1 = 0 needs no spreading).
20: mrs     x5, dczid_el0
    tbnz    x5, #4, 11b             // DZP: DC ZVA prohibited
    and     x5, x5, #0xf
    mov     x6, #4
    lsl     x6, x6, x5              // the block size
    cmp     x6, #16
    b.lo    11b
    cmp     x2, x6, lsl #2
    b.lo    11b
    add     x10, x3, x2             // the end
    mov     x12, x3
    mov     x13, x6
21: stp     xzr, xzr, [x12], #16    // the first block's bytes
    subs    x13, x13, #16
    b.hi    21b
    sub     x7, x6, #1
    add     x8, x3, x7
    bic     x8, x8, x7              // the first aligned block
    bic     x11, x10, x7            // the end of the last whole block
22: dc      zva, x8
    add     x8, x8, x6
    cmp     x8, x11
    b.lo    22b
    sub     x12, x10, x6
    mov     x13, x6
23: stp     xzr, xzr, [x12], #16    // the last block's bytes
    subs    x13, x13, #16
    b.hi    23b
    ret
.size memset, . - memset
