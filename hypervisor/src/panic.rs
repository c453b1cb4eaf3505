//! Stopping on a bug: a panic, or an exception taken in Aerie itself.

use crate::arch::aarch64::sysreg::read_sysreg;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if PANICKING.swap(true, Ordering::SeqCst) {
        // Another pCPU is already panicking (it reports and ends the
        // machine with its status), or this one panicked again while doing
        // so: stop here without touching the exit status.
        loop {
            crate::arch::aarch64::daif::mask_irq();
            crate::arch::aarch64::cpu::wait_for_interrupt();
        }
    }
    // Stop the other pCPUs first (a pseudo-NMI gets through even where they
    // have interrupts off); each prints its state as it stops.
    crate::irq::stop::stop_others();
    match info.location() {
        Some(l) => crate::console::print_panic(format_args!(
            "aerie: panic at {}:{}: {}\n",
            l.file(),
            l.line(),
            info.message()
        )),
        None => crate::console::print_panic(format_args!("aerie: panic: {}\n", info.message())),
    }
    crate::power::exit(1)
}

/// Registers saved by vectors.S for an exception taken from EL2.
#[repr(C)]
pub struct ExceptionFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
}

const KINDS: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];

/// Called by vectors.S for any exception taken at EL2: these are Aerie bugs
/// (or, in the boot test, a deliberate touch of an unmapped address).
#[no_mangle]
pub extern "C" fn el2_exception(frame: &ExceptionFrame, kind: u64) -> ! {
    let far = read_sysreg!(far_el2);
    let ec = frame.esr >> 26;
    let what = match ec {
        0x25 => "data abort",
        0x21 => "instruction abort",
        0x00 => "unknown instruction",
        0x22 => "PC alignment fault",
        0x26 => "SP alignment fault",
        _ => "exception",
    };
    crate::console::print_panic(format_args!(
        "aerie: EL2 {} exception: {what} (EC {ec:#x}) FAR={far:#x} ELR={:#x} ESR={:#x} SPSR={:#x}\n",
        KINDS[(kind & 3) as usize],
        frame.elr,
        frame.esr,
        frame.spsr
    ));
    panic!("unhandled EL2 exception");
}
