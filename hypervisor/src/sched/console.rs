//! The machine's console commands (`Ctrl-A` and a key, decoded by
//! `aerie_vdev::mux`): console input for the focused VM, the dump with the
//! scheduler's view, the backdoor view, the tools' power operations, the
//! VMs' power buttons, the machine's shutdown, the profile, lines for Aerie (a world to start) and
//! for the user worlds.

use super::worlds::WorldState;
use super::{cpu, Machine, VcpuState};
use aerie_vdev::MuxEvent;
use core::sync::atomic::Ordering;

impl Machine {
    /// Hand what was typed on the console to the VM with the focus
    /// (Ctrl-A then a digit moves it; see `aerie_vdev::mux`).
    pub fn console_input(&mut self, cpu: usize) {
        let mut buf = [0u8; 64];
        loop {
            let n = crate::console::read_input(&mut buf);
            if n == 0 {
                return;
            }
            for &b in &buf[..n] {
                match self.input.feed(b) {
                    MuxEvent::Deliver { vm, bytes, len } => {
                        if self.vms[vm].running() {
                            self.vms[vm].input.extend(&bytes[..len]);
                            crate::vm::exit::update_uart_irq(self, cpu, vm);
                            crate::vm::exit::console_input(self, cpu, vm, &bytes[..len]);
                        }
                    }
                    MuxEvent::Switch { vm } => {
                        crate::println!(
                            "\naerie: console input goes to vm {} (Ctrl-A 1..{} switches)",
                            self.vms[vm].name,
                            self.vms.len()
                        );
                    }
                    MuxEvent::Command(b'd') => {
                        self.print_view();
                        crate::irq::stop::dump_all();
                    }
                    MuxEvent::Command(b'i') => {
                        for vm in &self.vms {
                            crate::vm::backdoor::print_info(vm);
                        }
                    }
                    MuxEvent::Command(c @ (b'h' | b'r')) => {
                        let op = if c == b'h' {
                            aerie_backdoor::PowerOp::Halt
                        } else {
                            aerie_backdoor::PowerOp::Reboot
                        };
                        let focus = self.input.focus();
                        // The console says what came of it.
                        let _ = crate::vm::backdoor::request_power_op(&mut self.vms[focus], op, "");
                    }
                    MuxEvent::Command(b'b') => {
                        let focus = self.input.focus();
                        self.press_power_button(cpu, focus, "Ctrl-A b");
                    }
                    MuxEvent::Command(b'q') => self.shut_down(cpu, "Ctrl-A q"),
                    MuxEvent::LineStart => crate::print!(
                        "\naerie: start a user world (program[:argument], Ctrl-C to cancel)> "
                    ),
                    MuxEvent::Echo { bytes, len } => {
                        crate::print!("{}", core::str::from_utf8(&bytes[..len]).unwrap_or(""));
                    }
                    MuxEvent::LineAbandoned => crate::print!("\n"),
                    MuxEvent::WorldLinesStart => crate::print!(
                        "\naerie: lines go to the user worlds (Ctrl-A gives the keyboard back)\n"
                    ),
                    MuxEvent::WorldLine => {
                        crate::print!("\n");
                        let line = alloc::string::String::from(self.input.line());
                        if self.world_line(&line) {
                            self.wake_idle_pcpu(cpu);
                        } else {
                            crate::println!(
                                "aerie: no user world is reading the console; the line is dropped"
                            );
                        }
                    }
                    MuxEvent::Line => {
                        crate::print!("\n");
                        let line = self.input.line();
                        if !line.is_empty() {
                            if let Some(world) = crate::userworld::load_from_console(line) {
                                self.worlds.push(super::worlds::WorldSlot::new(world));
                                self.wake_idle_pcpu(cpu);
                            }
                        }
                    }
                    MuxEvent::Command(_) => {
                        if crate::irq::profiler::ENABLED.load(Ordering::Relaxed) {
                            crate::irq::profiler::report(|v| self.vms[v].name.clone());
                        } else {
                            crate::println!("aerie: profile: off (boot with aerie.profile=1)");
                        }
                    }
                    MuxEvent::None => {}
                }
            }
        }
    }

    /// The scheduler's view, for Ctrl-A d: each pCPU (idle or what it runs),
    /// each vCPU's state (deadlines relative to now in microseconds) and
    /// idle record, and each user world's state.
    fn print_view(&self) {
        let now = cpu::counter();
        // Microseconds from now to counter value `t` (negative: past); exact
        // for any counter frequency (62.5 MHz is not a whole number of
        // ticks per microsecond).
        let freq = i128::from(cpu::counter_frequency().max(1));
        let from_now = |t: u64| (i128::from(t) - i128::from(now)) * 1_000_000 / freq;
        for (p, pcpu) in self.pcpus.iter().enumerate() {
            // The world it runs, if any: its slot says so.
            let world = self
                .worlds
                .iter()
                .find(|w| w.state == WorldState::Running(p))
                .map_or(alloc::string::String::new(), |w| {
                    alloc::format!(" world={}", w.label)
                });
            crate::println!(
                "aerie: dump: sched: pcpu {p}: {} current={:?} loaded={:?}{}{world} exits={}",
                if pcpu.idle { "idle" } else { "busy" },
                pcpu.current,
                pcpu.loaded,
                if pcpu.parked { " (parked)" } else { "" },
                pcpu.exits
            );
        }
        if let Some(line) = crate::drivers::uplink::summary() {
            crate::println!("aerie: dump: uplink: {line}");
        }
        for vm in &self.vms {
            if let Some(line) = crate::vm::net::summary(vm) {
                crate::println!("aerie: dump: vm {}: {line}", vm.name);
            }
            for line in crate::vm::block::summaries(vm) {
                crate::println!("aerie: dump: vm {}: {line}", vm.name);
            }
            for (c, vcpu) in vm.vcpus.iter().enumerate() {
                let mut state = alloc::format!("{:?}", vcpu.state);
                if let Some(kind) = vcpu.idle.blocked_in() {
                    state = alloc::format!("{state} in {}", kind.name());
                }
                if let VcpuState::Blocked { until: Some(t) } = vcpu.state {
                    state = alloc::format!("{state} (deadline {} us from now)", from_now(t));
                }
                if let Some(until) = vcpu.cap.throttled(now) {
                    state = alloc::format!("{state} throttled for {} us", from_now(until));
                }
                crate::println!(
                    "aerie: dump: sched: vm {} ({:?}) vcpu {c}: {state}; {}",
                    vm.name,
                    vm.state,
                    vm.power_summary(c)
                );
            }
        }
        for world in &self.worlds {
            let state = match world.state {
                WorldState::Sleeping(t) => {
                    alloc::format!("Sleeping (deadline {} us from now)", from_now(t))
                }
                WorldState::WaitingVm { until, .. } => alloc::format!(
                    "waiting for a VM's state to change (vm_wait; deadline {} us from now)",
                    from_now(until)
                ),
                WorldState::WaitingInput { until, .. } => alloc::format!(
                    "waiting for a console line (read_line; Ctrl-A w; deadline {} us from now)",
                    from_now(until)
                ),
                other => alloc::format!("{other:?}"),
            };
            crate::println!("aerie: dump: sched: user world {}: {state}", world.label);
        }
    }
}
