//! `dcc_backdoor_getversion` and `brk_backdoor_getversion`: the VMware
//! backdoor's GETVERSION round trip through each transport, the request
//! exactly as open-vm-tools makes it. The loop body is `mov x0, x21;
//! mov x2, #10; <op>; subs; b.ne`: one instruction more than the other
//! loops, because the request overwrites its own command register.
//! A run whose last answer is not (6, magic) is a failure: the VM's policy
//! does not serve it (testkit command line without `backdoor=all brk=...`).

use crate::detail::{detail, Detail};
use crate::machine::Machine;

const MAGIC: u64 = 0x564D_5868;
const PORT: u64 = 0x5658;
/// x7: the signature, IN, 4 bytes, port in DX.
const X7: u64 = (0x86 << 32) | 0b1110;

macro_rules! backdoor_loop {
    ($name:ident, $op:literal) => {
        pub fn $name(_: &Machine, iters: u64) -> Result<(u64, u64), Detail> {
            let (start, end, x0, x1): (u64, u64, u64, u64);
            // SAFETY: each iteration executes a trapping DCC read or BRK that
            // Aerie answers by writing x0..x2 (or, without a backdoor, an
            // empty-channel read or a BRK the guard catches); all three are
            // outputs and no memory is touched.
            unsafe {
                core::arch::asm!(
                    "isb",
                    "mrs {start}, cntvct_el0",
                    "1:",
                    "mov x0, x21",
                    "mov x2, #10",
                    $op,
                    "subs x20, x20, #1",
                    "b.ne 1b",
                    "isb",
                    "mrs {end}, cntvct_el0",
                    start = out(reg) start,
                    end = out(reg) end,
                    inout("x20") iters => _,
                    in("x21") MAGIC,
                    in("x3") PORT,
                    in("x7") X7,
                    out("x0") x0, out("x1") x1, out("x2") _,
                    options(nostack),
                );
            }
            if (x0, x1) != (6, MAGIC) {
                return Err(detail!(
                    "no GETVERSION answer: x0={x0:#x} x1={x1:#x} (backdoor off for this VM?)"
                ));
            }
            Ok((iters, end.wrapping_sub(start)))
        }
    };
}

backdoor_loop!(dcc_backdoor_getversion, "mrs xzr, mdccsr_el0");
backdoor_loop!(brk_backdoor_getversion, "brk #0x5658");
