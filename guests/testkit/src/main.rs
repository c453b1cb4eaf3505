//! testkit: a bare-metal AArch64 EL1 guest that runs a list of tests against the
//! hypervisor it runs on (or plain QEMU), prints one line per test and powers
//! the VM off. See README.md (next to Cargo.toml) for the output format.

#![no_std]
#![no_main]
// Test results carry their message in a fixed inline buffer (`Detail`) because
// the testkit has no allocator; the larger Err variant is deliberate.
#![allow(clippy::result_large_err)]

mod bench;
mod bootargs;
mod console;
mod counter;
mod detail;
mod disk_reset;
mod entry;
mod exception;
mod fdt;
mod gic;
mod guard;
mod irq;
mod machine;
mod pl011_irq;
mod psci;
mod runner;
mod secondary;
mod share;
mod sysreg;
mod tests;
mod timer_left;
mod user;
mod vectors;
mod vtimer;
mod watchdog;

use core::sync::atomic::{AtomicU64, Ordering};

use console::println;
use machine::Machine;

/// MPIDR affinity of the CPU that entered at `_start`.
static BOOT_MPIDR: AtomicU64 = AtomicU64::new(0);

pub fn is_boot_cpu() -> bool {
    sysreg::mpidr_affinity() == BOOT_MPIDR.load(Ordering::SeqCst)
}

fn discover(dtb: usize) -> Machine {
    if dtb == 0 {
        return Machine::fallback();
    }
    // SAFETY: the boot protocol passes in x0 the address of a DTB in RAM that
    // nobody writes while we run.
    let parsed = unsafe { fdt::Fdt::from_addr(dtb) }.and_then(|fdt| Machine::from_fdt(&fdt));
    parsed.unwrap_or_else(|e| {
        println!("testkit: warning: ignoring DTB at {dtb:#x}: {e}");
        Machine::fallback()
    })
}

#[no_mangle]
extern "C" fn testkit_main(dtb: usize) -> ! {
    BOOT_MPIDR.store(sysreg::mpidr_affinity(), Ordering::SeqCst);
    let machine = discover(dtb);
    gic::use_v2(machine.gic_v2 && !machine.gic_v3);
    println!(
        "testkit: start, {} vCPUs, bootargs \"{}\"{}",
        machine.cpus,
        machine.bootargs,
        if gic::is_v2() { ", GICv2" } else { "" }
    );
    let options = bootargs::Options::parse(machine.bootargs);
    if options.bench {
        bench::run_all(&machine, options.bench_iters, options.bench_only);
    } else if options.share {
        share::run(&machine);
    } else if options.disk_reset {
        disk_reset::run(&machine);
    } else if options.timer_left == Some(bootargs::TimerLeft::Leave) {
        timer_left::leave();
    } else if options.timer_left == Some(bootargs::TimerLeft::Stay) {
        timer_left::stay(&machine);
    } else {
        let (passed, failed) = runner::run_all(&machine);
        let parked = secondary::park_all(&machine.mpidrs[..machine.cpus.min(machine::MAX_CPUS)]);
        println!("testkit: {parked} other vCPU(s) left idle for the power-off");
        println!("testkit: {passed} passed, {failed} failed");
    }
    psci::system_off()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if !is_boot_cpu() {
        psci::cpu_off();
        loop {
            sysreg::wfe();
        }
    }
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    match runner::current_test() {
        Some(name) => {
            println!(
                "testkit: FAIL {name}: panic at {file}:{line}: {}",
                info.message()
            );
            guard::abandon(guard::CODE_PANICKED);
        }
        None => println!("testkit: panic at {file}:{line}: {}", info.message()),
    }
    psci::system_off()
}
