//! The system-call round trip: `N` `null()` calls between two counter reads.
#![no_std]
#![no_main]

use aerie_userworlds::abi::nr;
use aerie_userworlds::println;
use core::arch::asm;

aerie_userworlds::entry!(main);

const N: u64 = 10_000;

fn main(_arg: &str) -> i32 {
    let start: u64;
    let end: u64;
    // SAFETY: null takes no memory and preserves every register but x0,
    // declared clobbered; the counter reads are allowed at EL0. One asm block
    // so the loop measured is exactly svc, subs, b.ne; the isbs keep the
    // counter reads from moving into or out of it.
    unsafe {
        asm!(
            "isb",
            "mrs {start}, cntvct_el0",
            "2:",
            "svc #0",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            "isb",
            "mrs {end}, cntvct_el0",
            start = out(reg) start,
            end = out(reg) end,
            n = inout(reg) N => _,
            in("x8") nr::NULL,
            out("x0") _,
            options(nostack),
        );
    }
    let freq: u64;
    // SAFETY: reads the counter frequency, allowed at EL0; no memory.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) freq, options(nomem, nostack)) };
    // The format of the testkit's bench lines, which `cargo xtask bench` reads.
    println!(
        "bench: name=syscall_null iters={N} ticks={} freq={freq}",
        end - start
    );
    0
}
