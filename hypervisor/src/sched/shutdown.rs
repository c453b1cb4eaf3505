//! Power buttons: a VM's (`Ctrl-A b`, a user world) and the machine's
//! shutdown (its power button, or `Ctrl-A q`). The first shutdown request
//! asks every running VM to shut down the way a person would, by pressing
//! its power button; once the last has stopped the user worlds still there
//! end too (a shell waiting for a line would otherwise keep the machine
//! on), and Aerie powers off as always. A second request does not wait for
//! the guests: the VMs still running are stopped at once.

use super::worlds::WorldState;
use super::Machine;
use crate::vm::VmState;

impl Machine {
    /// Presses VM `v`'s power button for `by`, saying so on the console.
    pub fn press_power_button(&mut self, cpu: usize, v: usize, by: &str) -> bool {
        let name = self.vms[v].name.clone();
        if !self.vms[v].running() {
            log::info!("vm {name}: not running: its power button does nothing");
            return false;
        }
        let pressed = crate::vm::power_button::press(self, cpu, v);
        if pressed {
            log::info!("vm {name}: power button pressed ({by})");
        } else {
            log::info!("vm {name}: power button still held: the guest has not read the last press");
        }
        pressed
    }

    /// Shut the machine down, as `by` (the machine's power button,
    /// `Ctrl-A q`) asks.
    pub fn shut_down(&mut self, cpu: usize, by: &str) {
        let running: alloc::vec::Vec<usize> = (0..self.vms.len())
            .filter(|&v| self.vms[v].state == VmState::Running)
            .collect();
        if !self.shutting_down {
            self.shutting_down = true;
            log::info!(
                "shutdown ({by}): asking {} VM(s) to shut down (again: stop them at once)",
                running.len()
            );
            for v in running {
                self.press_power_button(cpu, v, by);
            }
        } else {
            log::info!(
                "shutdown ({by}) again: stopping {} VM(s) now",
                running.len()
            );
            for v in running {
                self.vms[v].stop(&alloc::format!("stopped at shutdown ({by})"));
                self.kick_all(cpu, v);
            }
        }
    }

    /// After the machine's power button (the caller checks, on the
    /// scheduler's path), once every VM has stopped: end the
    /// user worlds not on a pCPU (one on a pCPU comes back at its turn's
    /// end, at most a slice later, and ends on the next pass).
    #[cold]
    pub(super) fn end_worlds_at_shutdown(&mut self) {
        if !self.vms.iter().all(|vm| vm.state == VmState::Stopped) {
            return;
        }
        self.worlds.retain(|slot| {
            if matches!(slot.state, WorldState::Running(_)) {
                return true;
            }
            log::info!(
                "user world {}: ended: the machine is powering off",
                slot.label
            );
            false
        });
    }
}
