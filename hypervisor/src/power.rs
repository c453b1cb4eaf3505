//! Ending the machine's run: under an emulator with semihosting, with an
//! exit status; otherwise by powering it off, through PSCI where the
//! firmware has it, else through the board's own power controller (the
//! Raspberry Pi's firmware has no PSCI).

use core::sync::atomic::{AtomicBool, Ordering};

use aerie_dt::{HostInfo, PowerControllerKind};
use spin::Once;

use crate::arch::aarch64::firmware;
use crate::drivers::bcm2835_pm::PowerManager;
use crate::mm::kernel_map::KernelSpace;

/// Whether the machine offers semihosting (QEMU), set from the device tree
/// and the boot arguments.
static SEMIHOSTING: AtomicBool = AtomicBool::new(false);

/// The board's power controller, where the machine powers off through it.
static POWER_MANAGER: Once<PowerManager> = Once::new();
/// The tree names no way Aerie can power the machine off. Until [`init`]
/// has read it (a panic that early), PSCI is tried.
static NO_WAY: AtomicBool = AtomicBool::new(false);

/// Whether the machine offers semihosting: known from the boot arguments,
/// before anything can go wrong.
pub fn set_semihosting(semihosting: bool) {
    SEMIHOSTING.store(semihosting, Ordering::Relaxed);
}

/// Learns from the host's tree how to power the machine off, mapping the
/// power controller if that is the way.
pub fn init(host: &HostInfo, space: &mut KernelSpace) {
    if host.psci_method.is_some() {
        return;
    }
    let Some(controller) = host.power_controller else {
        log::warn!(
            "no PSCI and no power controller Aerie drives: Aerie cannot power this machine off"
        );
        NO_WAY.store(true, Ordering::Relaxed);
        return;
    };
    let region = controller.region;
    match space.map_device(region.base, region.size) {
        Ok(va) => {
            match controller.kind {
                // SAFETY: the power manager's registers were just mapped as
                // device memory at va, for good; only Aerie drives them.
                PowerControllerKind::Bcm2835Pm => {
                    POWER_MANAGER.call_once(|| unsafe { PowerManager::new(va) });
                }
            }
            log::info!(
                "power: no PSCI; the machine powers off through {} at {:#x}",
                controller.kind.name(),
                region.base
            );
        }
        Err(e) => {
            log::warn!(
                "cannot map {} at {:#x}: {e:?}; Aerie cannot power this machine off",
                controller.kind.name(),
                region.base
            );
            NO_WAY.store(true, Ordering::Relaxed);
        }
    }
}

/// Ends the run: `status` goes to the emulator where semihosting is there;
/// otherwise the machine powers off (what led here is in the log: a panic,
/// or every VM stopped).
pub fn exit(status: u32) -> ! {
    if SEMIHOSTING.load(Ordering::Relaxed) {
        firmware::semihosting_exit(status);
    }
    if let Some(pm) = POWER_MANAGER.get() {
        pm.power_off();
    }
    if !NO_WAY.load(Ordering::Relaxed) {
        firmware::system_off();
    }
    crate::console::print_emergency(format_args!(
        "aerie: stopped; this machine cannot be powered off by Aerie\n"
    ));
    loop {
        crate::arch::aarch64::daif::mask_irq();
        crate::arch::aarch64::cpu::wait_for_interrupt();
    }
}
