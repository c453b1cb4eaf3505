//! The machine's power button: a key on a pin of the host's PL061 GPIO
//! controller, as the device tree's `gpio-keys` names it (QEMU virt: pin 3,
//! which QEMU's `system_powerdown` pulses); or, on QEMU's machine described
//! by ACPI, the power-down event of its Generic Event Device, whose
//! selector register says which events its pulsed interrupt stood for and
//! clears when read. Its interrupt, routed to the boot pCPU, is
//! acknowledged here and becomes an event; the scheduler acts on it under
//! the machine lock (`sched::shutdown`).

use aerie_dt::{GedButton, PowerButton};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// PL061 registers (TRM DDI 0190, section 3.2).
const GPIODIR: u64 = 0x400;
const GPIOIS: u64 = 0x404;
const GPIOIBE: u64 = 0x408;
const GPIOIEV: u64 = 0x40C;
const GPIOIE: u64 = 0x410;
const GPIOMIS: u64 = 0x418;
const GPIOIC: u64 = 0x41C;

/// The Generic Event Device's event selector (QEMU's ACPI_GED_EVT_SEL).
const GED_SELECTOR: u64 = 0x0;

/// No INTID a GIC delivers: what [`intid`] says while there is no button.
const NONE: u32 = 1023;

/// Which button there is.
const PL061: u8 = 1;
const GED: u8 = 2;

static KIND: AtomicU8 = AtomicU8::new(0);
static BASE: AtomicU64 = AtomicU64::new(0);
/// The PL061 pin's bit, or the GED selector's power-down bits.
static MASK: AtomicU32 = AtomicU32::new(0);
static INTID: AtomicU32 = AtomicU32::new(NONE);

fn read(reg: u64) -> u32 {
    // SAFETY: BASE is the PL061's register frame or the GED's selector,
    // mapped as device memory for good by `init` or `init_ged` before
    // INTID names it; reg is a register offset inside it.
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
    KIND.store(PL061, Ordering::Relaxed);
    let bit = 1u32 << button.pin;
    MASK.store(bit, Ordering::Relaxed);
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

/// Takes QEMU's Generic Event Device as the button: its power-down event.
/// Events pending from before are read away. The caller makes its SPI
/// edge-triggered ([`edge_triggered`]) and routes it.
///
/// # Safety
/// `va` must map `button.region` (the selector) as device memory for as
/// long as Aerie runs, and nothing else may read the selector.
pub unsafe fn init_ged(va: u64, button: &GedButton) {
    BASE.store(va, Ordering::Relaxed);
    KIND.store(GED, Ordering::Relaxed);
    MASK.store(button.power_down, Ordering::Relaxed);
    read(GED_SELECTOR);
    INTID.store(button.intid, Ordering::Release);
    log::info!(
        "power button: the Generic Event Device at {:#x} (INTID {}, power-down event {:#x})",
        button.region.base,
        button.intid,
        button.power_down
    );
}

/// The button's INTID, if there is a button.
pub fn intid() -> Option<u32> {
    Some(INTID.load(Ordering::Acquire)).filter(|&i| i != NONE)
}

/// Whether the button's interrupt is a pulse (the GED's), which only an
/// edge-triggered SPI keeps; the PL061's is a level.
pub fn edge_triggered() -> bool {
    KIND.load(Ordering::Relaxed) == GED
}

/// Clears what the device holds pending (the PL061's edges, whose
/// interrupt is a level; the GED's selector, by reading it); returns
/// whether the button was pressed.
pub fn acknowledge() -> bool {
    let mask = MASK.load(Ordering::Relaxed);
    match KIND.load(Ordering::Relaxed) {
        PL061 => {
            let pending = read(GPIOMIS);
            write(GPIOIC, pending);
            pending & mask != 0
        }
        GED => read(GED_SELECTOR) & mask != 0,
        _ => false,
    }
}
