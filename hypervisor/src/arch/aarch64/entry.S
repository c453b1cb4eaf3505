// Aerie's entry point and the boot re-map trampoline (C4).
//
// The image starts with the Linux arm64 Image header, so QEMU's -kernel and
// any Linux boot loader can start it: at EL2, MMU off, x0 = device tree.
// Aerie's UEFI loader (loader/) enters with the MMU still on, inside the
// firmware's 1:1 map of RAM, having cleaned the image to the point of
// coherency: the first write to SCTLR_EL2 below leaves that map, and the code
// goes on at the same (physical) address.
// Until the trampoline has branched into the high alias, every address is
// formed PC-relative (adr/adrp), because the image runs where it was loaded,
// not where it was linked.

.section .text.head, "ax"
.global _start
_start:
    b       primary_entry           // code0
    .long   0                       // code1
    .quad   0x200000                // text_offset: 2 MiB above a 2 MiB boundary
    .quad   __image_size            // image_size, including bss
    .quad   0xa                     // flags: LE, 4K pages, place anywhere
    .quad   0, 0, 0                 // res2..res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5

primary_entry:
    mov     x19, x0                 // device tree (physical)
    mrs     x26, sctlr_el2          // as the boot loader left it
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    not_el2

    // A known EL2 state: MMU and caches off, little-endian, no alignment
    // checks on the stack. RES1 bits of SCTLR_EL2 (E2H = 0) set. Nothing
    // has been written yet, so no dirty cache line can be left behind.
    ldr     x1, =0x30c50830
    msr     sctlr_el2, x1
    isb
    msr     daifset, #0xf
    // E2H and TGE clear: the non-VHE EL2 regime every later register write
    // assumes, whatever a firmware left (RW set: lower ELs are AArch64).
    mov     x1, #(1 << 31)
    msr     hcr_el2, x1
    isb

    // Boot stack, at its load address.
    adrp    x1, {stack}
    add     x1, x1, :lo12:{stack}
    add     x1, x1, #{stack_size}
    mov     sp, x1

    // Zero bss (PC-relative: these are load addresses now).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:
    adrp    x1, {entry_sctlr}
    str     x26, [x1, :lo12:{entry_sctlr}]
    adr     x20, _start             // load address
    ldr     x21, =_start            // link address (absolute literal)

    // Build the transitional and final spaces (Rust, position-independent,
    // host-tested in aerie-pagetable::boot). Returns the roots in x0/x1.
    mov     x0, x20
    mov     x1, x21
    mov     x2, x19
    bl      {early}
    cbz     x0, early_failed
    mov     x22, x0                 // transitional root
    mov     x23, x1                 // final root

    // The tables were written with the data cache off: discard any stale
    // lines for them so the walker sees what is in memory.
    adrp    x0, {tables}
    add     x0, x0, :lo12:{tables}
    ldr     x1, ={tables_size}
    add     x1, x0, x1
3:  dc      ivac, x0
    add     x0, x0, #64
    cmp     x0, x1
    b.lo    3b
    dsb     sy

    sub     x24, x21, x20           // relocation delta
    ldr     x25, ={main}            // continue in kernel_main(dtb, load, link)
    bl      cpu_mmu_setup
    b       switch_to_high

not_el2:
early_failed:
    wfe
    b       early_failed

// A secondary pCPU, started by PSCI CPU_ON with the MMU off and x0 = the
// physical address of its SecondaryBoot block (see boot::smp): it takes the
// same road as the boot CPU, through the transitional space.
.global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    ldr     x1, =0x30c50830
    msr     sctlr_el2, x1
    isb
    ldp     x22, x23, [x0]          // transitional root, final root
    ldp     x24, x25, [x0, #16]     // delta, continuation
    ldp     x1, x19, [x0, #32]      // stack top (high VA), argument
    sub     x1, x1, x24             // the trampoline adds the delta back
    mov     sp, x1
    bl      cpu_mmu_setup
    b       switch_to_high

// A secondary pCPU started through a spin table (the Raspberry Pi 4's
// firmware): it arrives with the MMU off and x0 = 0, so it finds its
// SecondaryBoot block itself, the one whose key is its MPIDR's affinity
// fields with bit 63 set (boot::smp), and goes on as above.
.global secondary_spin_entry
secondary_spin_entry:
    msr     daifset, #0xf
    mrs     x1, mpidr_el1
    ldr     x2, =0xff00ffffff
    and     x1, x1, x2
    orr     x1, x1, #(1 << 63)
    adrp    x0, {blocks}
    add     x0, x0, :lo12:{blocks}
    mov     x3, #{max_cpus}
1:  ldr     x2, [x0, #{block_key}]
    cmp     x2, x1
    b.eq    secondary_entry
    add     x0, x0, #{block_size}
    subs    x3, x3, #1
    b.ne    1b
    b       early_failed            // no block for this CPU: it stays here

// Translation controls: 48-bit VA (T0SZ=16), 4K granule, inner-shareable
// write-back walks, PS from the CPU's PARange (capped at 48 bits).
cpu_mmu_setup:
    ldr     x0, ={mair}
    msr     mair_el2, x0
    mrs     x1, id_aa64mmfr0_el1
    and     x1, x1, #0xf
    cmp     x1, #5
    mov     x2, #5
    csel    x1, x1, x2, ls
    ldr     x0, =0x80803510         // RES1(31,23) | SH0=3 | ORGN0=1 | IRGN0=1 | T0SZ=16
    orr     x0, x0, x1, lsl #16     // PS
    msr     tcr_el2, x0
    isb
    ret

// The only code that runs at both addresses. It must fit in the pages
// between __trampoline_start and __trampoline_end.
// In: x22 transitional root, x23 final root, x24 delta, x25 continuation
// (link address), x19..x21 its arguments; SP = final SP - delta.
.section .text.trampoline, "ax"
switch_to_high:
    // (1) -> (3): MMU on with the transitional tables. The next instruction
    // is fetched at its identity address, which (3) maps.
    msr     ttbr0_el2, x22
    isb
    tlbi    alle2
    dsb     nsh
    isb
    mrs     x0, sctlr_el2
    mov     x1, #((1 << 0) | (1 << 2) | (1 << 12))  // M | C | I
    orr     x0, x0, x1
    msr     sctlr_el2, x0
    isb

    // Branch by the relocation delta into the high alias.
    adr     x0, high_alias
    add     x0, x0, x24
    br      x0
high_alias:
    // (3) -> (2): the final tables hold no identity alias.
    msr     ttbr0_el2, x23
    isb
    tlbi    alle2
    dsb     nsh
    isb
    add     sp, sp, x24             // the stack's high alias
    ldr     x0, =el2_vectors
    msr     vbar_el2, x0
    isb
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x29, xzr
    mov     x30, xzr
    br      x25
.ltorg
