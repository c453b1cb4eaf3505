//! Boot entry: the arm64 Image header (Documentation/arm64/booting.rst), the
//! primary CPU's entry, and the entry PSCI CPU_ON starts secondaries at.

use core::cell::UnsafeCell;

use crate::machine::MAX_CPUS;

const BOOT_STACK_SIZE: usize = 64 * 1024;
const SECONDARY_STACK_SIZE: usize = 16 * 1024;

/// Memory used only as a stack, through SP set by the entry code.
#[repr(C, align(16))]
pub struct Stack<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: each stack is used by exactly one CPU (indexed by MPIDR.Aff0); Rust
// code never reads or writes it as data.
unsafe impl<const N: usize> Sync for Stack<N> {}

impl<const N: usize> Stack<N> {
    pub const fn new() -> Self {
        Self(UnsafeCell::new([0; N]))
    }

    /// The initial stack pointer (stacks grow down).
    pub fn top(&self) -> u64 {
        self.0.get() as u64 + N as u64
    }
}

static BOOT_STACK: Stack<BOOT_STACK_SIZE> = Stack::new();
static SECONDARY_STACKS: [Stack<SECONDARY_STACK_SIZE>; MAX_CPUS] =
    [const { Stack::new() }; MAX_CPUS];

core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .global _head
_head:
    b       _start                  // code0: branch to the entry
    .word   0                       // code1
    .quad   0x200000                // text_offset: loaded at RAM base + 2 MiB
    .quad   __image_size            // image_size, bss and stacks included (linker.ld)
    .quad   0xa                     // flags: LE, 4K pages, placement anywhere
    .quad   0                       // res2
    .quad   0                       // res3
    .quad   0                       // res4
    .word   0x644d5241              // magic "ARM\x64"
    .word   0                       // res5

    .section .text.boot, "ax"
    // x0 = DTB address (or 0). MMU and caches off, DAIF masked, EL1h.
    .global _start
_start:
    mov     x19, x0
    adrp    x1, {boot_stack}
    add     x1, x1, :lo12:{boot_stack}
    mov     x2, #{boot_stack_size}
    add     sp, x1, x2
    // The loader does not clear .bss (the Image does not contain it).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  adrp    x1, testkit_vectors
    add     x1, x1, :lo12:testkit_vectors
    msr     vbar_el1, x1
    isb
    mov     x0, x19
    bl      testkit_main
3:  wfi
    b       3b

    // PSCI CPU_ON entry: x0 = context_id, same state as the primary's entry.
    .global testkit_secondary_entry
testkit_secondary_entry:
    mov     x19, x0
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    cmp     x1, #{max_cpus}
    b.hs    9f                      // no stack for this CPU: park it
    adrp    x2, {secondary_stacks}
    add     x2, x2, :lo12:{secondary_stacks}
    mov     x3, #{secondary_stack_size}
    madd    x2, x1, x3, x2          // this CPU's stack base
    add     sp, x2, x3              // ... and its top
    adrp    x1, testkit_vectors
    add     x1, x1, :lo12:testkit_vectors
    msr     vbar_el1, x1
    isb
    mov     x0, x19
    bl      testkit_secondary_main
9:  wfe
    b       9b
"#,
    boot_stack = sym BOOT_STACK,
    boot_stack_size = const BOOT_STACK_SIZE,
    secondary_stacks = sym SECONDARY_STACKS,
    secondary_stack_size = const SECONDARY_STACK_SIZE,
    max_cpus = const MAX_CPUS,
);

unsafe extern "C" {
    fn testkit_secondary_entry();
}

/// Physical address of the secondary entry point, for PSCI CPU_ON.
pub fn secondary_entry_address() -> u64 {
    testkit_secondary_entry as *const () as u64
}
