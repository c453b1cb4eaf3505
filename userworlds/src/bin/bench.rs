//! The system-call round trip: the fastest of `ROUNDS` rounds of `N`
//! `null()` calls, each between two counter reads.
#![no_std]
#![no_main]

use aerie_userworlds::abi::nr;
use aerie_userworlds::println;
use core::arch::asm;

aerie_userworlds::entry!(main);

/// Calls per round.
const N: u64 = 1_000;
/// Rounds; the fastest is reported. The world shares its pCPU with vCPUs
/// and other worlds, and a round that lost its pCPU for a slice measures
/// that slice, not the call.
const ROUNDS: u32 = 6;

fn main(_arg: &str) -> i32 {
    let best = (0..ROUNDS).map(|_| round()).min().unwrap_or(0);
    let freq: u64;
    // SAFETY: reads the counter frequency, allowed at EL0; no memory.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) freq, options(nomem, nostack)) };
    // The format of the testkit's bench lines, which `cargo xtask bench` reads.
    println!("bench: name=syscall_null iters={N} ticks={best} freq={freq}");
    0
}

/// The counter ticks of `N` null system calls.
fn round() -> u64 {
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
    end.wrapping_sub(start)
}
