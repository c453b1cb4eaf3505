//! The machine's power button: a key on a pin of the host's PL061 GPIO
//! controller, as the device tree's `gpio-keys` names it (QEMU virt: pin 3,
//! which QEMU's `system_powerdown` pulses). Its interrupt, routed to the
//! boot pCPU, is acknowledged here and becomes an event; the scheduler
//! acts on it under the machine lock (`sched::shutdown`).

use aerie_dt::PowerButton;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// PL061 registers (TRM DDI 0190, section 3.2).
const GPIODIR: u64 = 0x400;
const GPIOIS: u64 = 0x404;
const GPIOIBE: u64 = 0x408;
const GPIOIEV: u64 = 0x40C;
const GPIOIE: u64 = 0x410;
const GPIOMIS: u64 = 0x418;
const GPIOIC: u64 = 0x41C;

/// No INTID a GIC delivers: what [`intid`] says while there is no button.
const NONE: u32 = 1023;

static BASE: AtomicU64 = AtomicU64::new(0);
static PIN_MASK: AtomicU32 = AtomicU32::new(0);
static INTID: AtomicU32 = AtomicU32::new(NONE);

fn read(reg: u64) -> u32 {
    // SAFETY: BASE is the PL061's register frame, mapped as device memory
    // for good by `init` before INTID names it; reg is a register offset
    // inside the frame.
    unsafe { core::ptr::read_volatile((BASE.load(Ordering::Relaxed) + reg) as *const u32) }
}

fn write(reg: u64, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((BASE.load(Ordering::Relaxed) + reg) as *mut u32, value) }
}

/// Sets the button's pin up as an input interrupting on the press (the
/// rising edge, or the falling one for an active-low key), and remembers
/// its interrupt. The caller then routes that SPI to a pCPU.
///
/// # Safety
/// `va` must map `button.gpio` (the PL061's registers) as device memory
/// for as long as Aerie runs, and nothing else may drive that pin.
pub unsafe fn init(va: u64, button: &PowerButton) {
    BASE.store(va, Ordering::Relaxed);
    let bit = 1u32 << button.pin;
    PIN_MASK.store(bit, Ordering::Relaxed);
    write(GPIOIE, read(GPIOIE) & !bit);
    write(GPIODIR, read(GPIODIR) & !bit);
    write(GPIOIS, read(GPIOIS) & !bit);
    write(GPIOIBE, read(GPIOIBE) & !bit);
    let iev = read(GPIOIEV);
    write(
        GPIOIEV,
        if button.active_low {
            iev & !bit
        } else {
            iev | bit
        },
    );
    write(GPIOIC, bit);
    write(GPIOIE, read(GPIOIE) | bit);
    INTID.store(button.intid, Ordering::Release);
    log::info!(
        "power button: pin {} of the PL061 at {:#x} (INTID {})",
        button.pin,
        button.gpio.base,
        button.intid
    );
}

/// The button's INTID (an impossible one while there is none).
pub fn intid() -> u32 {
    INTID.load(Ordering::Acquire)
}

/// Clears the controller's pending edges (its interrupt is a level);
/// returns whether the button was pressed.
pub fn acknowledge() -> bool {
    let pending = read(GPIOMIS);
    write(GPIOIC, pending);
    pending & PIN_MASK.load(Ordering::Relaxed) != 0
}
