//! Power buttons: a VM's (`Ctrl-A b`, a user world) and the machine's
//! shutdown (its power button, or `Ctrl-A q`). The first shutdown request
//! asks every running VM to shut down the way a person would, by pressing
//! its power button; once the last has stopped the user worlds still there
//! end too (a shell waiting for a line would otherwise keep the machine
//! on), and Aerie powers off as always. A second request does not wait for
//! the guests: the VMs still running are stopped at once.

use super::worlds::WorldState;
use super::{cpu, Machine};
use crate::vm::VmState;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

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

    /// How long a shutdown waits for the VMs to power themselves off
    /// (`aerie.shutdown_timeout`; 0: for ever).
    pub fn set_shutdown_timeout(&mut self, secs: u64) {
        self.shutdown_timeout = cpu::ms_to_ticks(secs.saturating_mul(1000));
    }

    /// Shut the machine down, as `by` (the machine's power button,
    /// `Ctrl-A q`) asks.
    pub fn shut_down(&mut self, cpu: usize, by: &str) {
        let running = self.running_vms();
        if !self.shutting_down {
            self.shutting_down = true;
            let wait = if self.shutdown_timeout == 0 {
                String::from("again: stop them at once")
            } else {
                self.set_shutdown_deadline(Some(cpu::counter() + self.shutdown_timeout));
                format!(
                    "again, or in {} s: stop them",
                    cpu::ticks_to_ms(self.shutdown_timeout) / 1000
                )
            };
            log::info!(
                "shutdown ({by}): asking {} VM(s) to shut down ({wait})",
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
            self.stop_all(cpu, running, by);
        }
    }

    /// The VMs that are running.
    fn running_vms(&self) -> Vec<usize> {
        (0..self.vms.len())
            .filter(|&v| self.vms[v].state == VmState::Running)
            .collect()
    }

    /// Stops each of `vms` at once, for `why`; the shutdown waits no more.
    fn stop_all(&mut self, cpu: usize, vms: Vec<usize>, why: &str) {
        self.set_shutdown_deadline(None);
        for v in vms {
            self.vms[v].stop(&format!("stopped at shutdown ({why})"));
            self.kick_all(cpu, v);
        }
    }

    /// On the scheduler's path while the machine shuts down (the caller
    /// checks): past the timeout, stop the VMs still running; once every
    /// VM has stopped, end the user worlds not on a pCPU (one on a pCPU
    /// comes back at its turn's end, at most a slice later, and ends on the
    /// next pass).
    #[cold]
    pub(super) fn shutdown_progress(&mut self, cpu: usize, now: u64) {
        if self.shutdown_deadline.is_some_and(|t| now >= t) {
            let running = self.running_vms();
            let secs = cpu::ticks_to_ms(self.shutdown_timeout) / 1000;
            log::info!(
                "shutdown: {} VM(s) still running after {secs} s: stopping them",
                running.len()
            );
            self.stop_all(cpu, running, &format!("{secs} s timeout"));
        }
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
