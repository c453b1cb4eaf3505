//! Everything that touches AArch64 system registers or holds assembly.
//! The rest of Aerie reaches the hardware only through this module.

pub mod at;
pub mod context;
pub mod cpu;
pub mod daif;
pub mod debug_regs;
pub mod el0;
pub mod el2;
pub mod fast_path;
pub mod firmware;
pub mod gic;
pub mod gic_v2;
pub mod id_regs;
pub mod sysreg;

use crate::boot::{BOOT_STACK, BOOT_STACK_SIZE, BOOT_TABLES, BOOT_TABLES_SIZE};

core::arch::global_asm!(
    include_str!("entry.S"),
    stack = sym BOOT_STACK,
    stack_size = const BOOT_STACK_SIZE,
    tables = sym BOOT_TABLES,
    tables_size = const BOOT_TABLES_SIZE,
    mair = const aerie_pagetable::MAIR_EL2_VALUE,
    early = sym crate::boot::early_build_spaces,
    entry_sctlr = sym crate::boot::ENTRY_SCTLR,
    main = sym crate::kernel_main,
    blocks = sym crate::boot::smp::BLOCKS,
    max_cpus = const crate::boot::smp::MAX_CPUS,
    block_key = const crate::boot::smp::BLOCK_KEY_OFFSET,
    block_size = const crate::boot::smp::BLOCK_SIZE,
);

core::arch::global_asm!(
    concat!(include_str!("vectors.S"), include_str!("el0.S")),
    served = sym el2::SERVED_OWNERS,
    exit = sym crate::vm::exit::aerie_exit,
    exit_fast = sym crate::vm::exit::aerie_exit_fast,
    fault = sym crate::panic::el2_exception,
    irq = sym crate::irq::el2_irq,
    x7_slot = const fast_path::X7_SLOT,
    reply_slot = const fast_path::REPLY_X0_SLOT,
    command = const fast_path::COMMAND,
);

// The vector loads x7 and the port as one pair, the reply's x0 and x2 as
// another, and the magic together with the guest's x0 from just below the
// table.
const _: () = assert!(fast_path::PORT_SLOT == fast_path::X7_SLOT + 1);
const _: () = assert!(fast_path::REPLY_X2_SLOT == fast_path::REPLY_X0_SLOT + 1);
const _: () = assert!(fast_path::MAGIC_SLOT == 0);

core::arch::global_asm!(include_str!("fpsimd.S"));

core::arch::global_asm!(include_str!("mem.S"));
