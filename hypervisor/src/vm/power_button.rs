//! A VM's power button: pin 3 of its PL061 GPIO controller, described to
//! the guest as a `gpio-keys` key with KEY_POWER (QEMU virt's wiring), so
//! a guest that handles the power key shuts itself down cleanly, as on a
//! real machine, without guest tools. `Ctrl-A b` presses the focused VM's,
//! a user world with control of the VM may press it, and the machine's own
//! power button presses every VM's (`sched::shutdown`).

use super::{Vm, GPIO_INTID};
use crate::sched::Machine;

/// The PL061 pin the button is on.
const PIN: u8 = aerie_dt::POWER_BUTTON_PIN as u8;

/// Presses VM `v`'s power button. Returns false when it is still held from
/// an earlier press the guest has not read (nothing happens then: a guest
/// that does not watch the key never lets it go).
pub fn press(m: &mut Machine, cpu: usize, v: usize) -> bool {
    if !m.vms[v].gpio.press(PIN) {
        return false;
    }
    update_irq(m, cpu, v);
    true
}

/// Gives the PL061's interrupt line to the vGIC if it moved (after a guest
/// access or a press).
pub fn update_irq(m: &mut Machine, cpu: usize, v: usize) {
    let vm: &mut Vm = &mut m.vms[v];
    let level = vm.gpio.irq_level();
    if level != vm.gpio_irq {
        vm.gpio_irq = level;
        let kick = vm.vgic.set_spi_level(GPIO_INTID, level);
        m.kick(cpu, v, kick);
    }
}
