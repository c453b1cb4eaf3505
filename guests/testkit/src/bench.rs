//! Micro-benchmarks: the cost of one trapping instruction, in CNTVCT_EL0 ticks
//! over N iterations. Every loop body is `mov x0, x21; <op>; subs x20, x20, #1;
//! b.ne 1b`, so the bodies differ only in the measured instruction and `nop`
//! gives the loop overhead. x20..x22 are callee-saved: no SMCCC callee changes them.
//! Benchmarks that check their result follow them (their own files): the
//! interrupt ones, `virq_latency` and `ipi_roundtrip`, the idle wake-ups
//! `wfi_wake` and `retention_wake`, and the backdoor's
//! `dcc_backdoor_getversion` and `brk_backdoor_getversion`.

mod backdoor;
mod idle_wake;
mod ipi_roundtrip;
mod virq_latency;

use crate::console::{println, PL011_BASE, UARTFR};
use crate::counter;
use crate::detail::Detail;
use crate::guard::{self, Outcome};
use crate::machine::Machine;
use crate::psci;

/// Defines `fn $name(iters) -> ticks` timing `iters` runs of the loop with `$op`
/// as the measured instruction and x0 = `$x0` before each.
macro_rules! bench_loop {
    ($name:ident, $op:literal, $x0:expr) => {
        fn $name(iters: u64) -> u64 {
            let (start, end): (u64, u64);
            // SAFETY: each iteration executes `$op`: a NOP, an SMCCC call (writes
            // at most x0..x17), a load of the UART's FR register (x22) into x1,
            // or an ID register read into x1. Every register any of them can
            // change is an output; no Rust memory is touched.
            unsafe {
                core::arch::asm!(
                    "isb",
                    "mrs {start}, cntvct_el0",
                    "1:",
                    "mov x0, x21",
                    $op,
                    "subs x20, x20, #1",
                    "b.ne 1b",
                    "isb",
                    "mrs {end}, cntvct_el0",
                    start = out(reg) start,
                    end = out(reg) end,
                    inout("x20") iters => _,
                    in("x21") u64::from($x0),
                    in("x22") (PL011_BASE + UARTFR) as u64,
                    out("x0") _, out("x1") _, out("x2") _, out("x3") _,
                    out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                    out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                    out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                    options(nostack),
                );
            }
            end.wrapping_sub(start)
        }
    };
}

/// The unknown Trusted-OS fast call: the cheapest possible HVC round trip.
const NULL_FID: u32 = 0xbf00_ff00;

bench_loop!(nop, "nop", 0u32);
bench_loop!(hvc_null, "hvc #0", NULL_FID);
bench_loop!(smc_psci_version, "smc #0", psci::PSCI_VERSION);
bench_loop!(mmio_uart_read, "ldr w1, [x22]", 0u32);
bench_loop!(sysreg_trap, "mrs x1, id_aa64pfr0_el1", 0u32);
bench_loop!(debug_reg_trap, "mrs x1, mdscr_el1", 0u32);

/// A benchmark: iterations in, counter ticks out.
type Bench = fn(u64) -> u64;

const BENCHES: [(&str, Bench); 6] = [
    ("nop", nop),
    ("hvc_null", hvc_null),
    ("smc_psci_version", smc_psci_version),
    ("mmio_uart_read", mmio_uart_read),
    ("sysreg_trap", sysreg_trap),
    ("debug_reg_trap", debug_reg_trap),
];

/// An interrupt benchmark: the machine and the requested iterations in,
/// (iterations run, counter ticks) out, or why it could not run.
type IrqBench = fn(&Machine, u64) -> Result<(u64, u64), Detail>;

const IRQ_BENCHES: [(&str, IrqBench); 6] = [
    ("virq_latency", virq_latency::virq_latency),
    ("ipi_roundtrip", ipi_roundtrip::ipi_roundtrip),
    ("wfi_wake", idle_wake::wfi_wake),
    ("retention_wake", idle_wake::retention_wake),
    ("dcc_backdoor_getversion", backdoor::dcc_backdoor_getversion),
    ("brk_backdoor_getversion", backdoor::brk_backdoor_getversion),
];

/// Runs every benchmark (or only the one named `only`) and prints its line,
/// then `bench: done`. A benchmark whose instruction faults (SMC where it is
/// UNDEFINED) or that cannot run on this machine prints a FAIL line.
pub fn run_all(machine: &Machine, iters: u64, only: Option<&str>) {
    let freq = counter::frequency();
    let chosen = |name: &str| only.is_none_or(|o| o == name);
    if let Some(o) = only.filter(|o| {
        !BENCHES.iter().any(|(n, _)| n == o) && !IRQ_BENCHES.iter().any(|(n, _)| n == o)
    }) {
        println!("bench: FAIL {o}: no such benchmark");
    }
    for (name, bench) in BENCHES.into_iter().filter(|(n, _)| chosen(n)) {
        let mut ticks = 0;
        match guard::run(&mut || ticks = bench(iters)) {
            Outcome::Returned => {
                println!("bench: name={name} iters={iters} ticks={ticks} freq={freq}")
            }
            Outcome::Unexpected(info) | Outcome::El0Svc(info) => {
                println!("bench: FAIL {name}: {info}")
            }
            Outcome::Panicked => {}
        }
    }
    for (name, bench) in IRQ_BENCHES.into_iter().filter(|(n, _)| chosen(n)) {
        let mut result = None;
        match guard::run(&mut || result = Some(bench(machine, iters))) {
            Outcome::Returned => match result {
                Some(Ok((iters, ticks))) => {
                    println!("bench: name={name} iters={iters} ticks={ticks} freq={freq}")
                }
                Some(Err(why)) => println!("bench: FAIL {name}: {why}"),
                None => println!("bench: FAIL {name}: no result"),
            },
            Outcome::Unexpected(info) | Outcome::El0Svc(info) => {
                println!("bench: FAIL {name}: {info}")
            }
            Outcome::Panicked => {}
        }
    }
    println!("bench: done");
}
