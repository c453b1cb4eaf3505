//! SMCCC and PSCI calls from a guest, served against its VM.

use super::exit::Outcome;
use super::{GuestMemory, VcpuState, Vm};
use crate::arch::aarch64::context::{self, PSTATE_EL1H_MASKED};
use crate::sched::Machine;
use aerie_firmware::idle::{self, IdleKind};
use aerie_firmware::{AffinityState, CallResult, PsciError, PsciPlatform, Suspended};
use aerie_scmi::Served;

/// What a PSCI call did beyond its return value.
#[derive(PartialEq, Eq)]
enum Effect {
    None,
    /// The calling vCPU powered off or gave way: reschedule.
    Yield,
    /// Another vCPU was powered on: an idle pCPU may take it.
    Started,
    /// The caller idles in a standby state; the call returns SUCCESS.
    Standby,
    /// The caller idles in a power-down state and wakes at `entry`.
    PowerDown {
        entry: u64,
        context_id: u64,
    },
    SystemOff,
    SystemReset,
}

struct VmPsci<'a> {
    vm: &'a mut Vm,
    caller: usize,
    effect: Effect,
}

/// An entry point (CPU_ON, power-down CPU_SUSPEND) must be guest RAM.
fn entry_in_ram(memory: Option<&GuestMemory>, entry: u64) -> bool {
    memory.and_then(|m| m.host_va(entry, 4)).is_some()
}

impl PsciPlatform for VmPsci<'_> {
    fn cpu_on(&mut self, target_mpidr: u64, entry: u64, context_id: u64) -> Result<(), PsciError> {
        let target = self
            .vm
            .vcpus
            .iter_mut()
            .find(|v| v.mpidr() == target_mpidr)
            .ok_or(PsciError::InvalidParameters)?;
        if target.state != VcpuState::Off {
            return Err(PsciError::AlreadyOn);
        }
        if !entry_in_ram(self.vm.memory.as_ref(), entry) {
            return Err(PsciError::InvalidAddress);
        }
        target.reset(entry, context_id);
        let index = target.index;
        super::backdoor::refresh_fast_path(self.vm, index);
        self.effect = Effect::Started;
        Ok(())
    }

    fn has_stolen_time(&self) -> bool {
        self.vm.stolen.is_some()
    }

    fn stolen_time(&mut self) -> Option<u64> {
        self.vm.stolen.as_ref()?;
        let ipa = super::stolen::StolenTime::record_ipa(self.caller)?;
        self.vm.vcpus[self.caller]
            .steal
            .start(crate::arch::aarch64::cpu::counter());
        Some(ipa)
    }

    fn cpu_off(&mut self) {
        self.vm.vcpus[self.caller].state = VcpuState::Off;
        self.effect = Effect::Yield;
    }

    fn affinity_info(
        &self,
        target_mpidr: u64,
        lowest_level: u64,
    ) -> Result<AffinityState, PsciError> {
        if lowest_level != 0 {
            return Err(PsciError::InvalidParameters);
        }
        let target = self
            .vm
            .vcpus
            .iter()
            .find(|v| v.mpidr() == target_mpidr)
            .ok_or(PsciError::InvalidParameters)?;
        Ok(match target.state {
            VcpuState::Off => AffinityState::Off,
            _ => AffinityState::On,
        })
    }

    fn cpu_suspend(
        &mut self,
        power_state: u32,
        entry: u64,
        context_id: u64,
    ) -> Result<Suspended, PsciError> {
        match idle::classify(power_state).ok_or(PsciError::InvalidParameters)? {
            IdleKind::PowerDown => {
                if !entry_in_ram(self.vm.memory.as_ref(), entry) {
                    return Err(PsciError::InvalidAddress);
                }
                self.effect = Effect::PowerDown { entry, context_id };
                Ok(Suspended::AtEntryPoint)
            }
            _ => {
                self.effect = Effect::Standby;
                Ok(Suspended::Returned)
            }
        }
    }

    fn scmi_channel(&mut self) -> bool {
        let Some(memory) = self.vm.memory.as_ref().filter(|_| self.vm.scmi.enabled) else {
            return false;
        };
        if let Served::Replied {
            protocol,
            message,
            status,
        } = self.vm.scmi.serve(memory)
        {
            log::debug!(
                "vm {} vcpu {}: SCMI protocol {protocol:#x} message {message:#x}: status {status}",
                self.vm.name,
                self.caller
            );
        }
        true
    }

    fn system_off(&mut self) {
        self.effect = Effect::SystemOff;
    }

    fn system_reset(&mut self) {
        self.effect = Effect::SystemReset;
    }
}

/// Serve the HVC/SMC vCPU `c` of VM `v` just made (PC already past it).
pub fn call(m: &mut Machine, cpu: usize, v: usize, c: usize) -> Outcome {
    let vm = &mut m.vms[v];
    let r = &vm.vcpus[c].regs.x;
    let args = [r[0], r[1], r[2], r[3]];
    let mut platform = VmPsci {
        vm,
        caller: c,
        effect: Effect::None,
    };
    let result = aerie_firmware::handle_call(args, &mut platform);
    let effect = platform.effect;
    if let CallResult::Return(values) = result {
        vm.vcpus[c].regs.x[..4].copy_from_slice(&values);
    }
    match effect {
        Effect::None => Outcome::Resume,
        Effect::Yield => Outcome::Reschedule,
        Effect::Started => {
            m.wake_idle_pcpu(cpu);
            Outcome::Resume
        }
        Effect::Standby => super::exit::idle(m, v, c, IdleKind::Standby),
        Effect::PowerDown { entry, context_id } => {
            let regs = &mut vm.vcpus[c].regs;
            regs.pc = entry;
            regs.x[0] = context_id;
            regs.pstate = PSTATE_EL1H_MASKED;
            context::power_down_el1();
            super::exit::idle(m, v, c, IdleKind::PowerDown)
        }
        Effect::SystemOff => {
            vm.stop("powered off (PSCI SYSTEM_OFF)");
            m.kick_all(cpu, v);
            Outcome::Reschedule
        }
        Effect::SystemReset => {
            vm.reset("reset (PSCI SYSTEM_RESET)");
            m.kick_all(cpu, v);
            Outcome::Reschedule
        }
    }
}
