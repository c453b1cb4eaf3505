//! The vCPU scheduler: which vCPU the boot pCPU runs next.
//!
//! For now Aerie runs every vCPU on the boot pCPU, round-robin, switching at
//! the points where a guest gives the CPU up: WFI, WFE, PSCI CPU_OFF and
//! CPU_ON, and VM stop. A vCPU in WFI with its virtual timer armed is blocked
//! until the timer's deadline; with nothing runnable the pCPU waits in WFE
//! (woken by the counter's event stream) for the earliest deadline.
//! Preemption by time slice arrives with the interrupt controller.

use crate::arch::aarch64::context::GuestRegs;
use crate::arch::aarch64::{cpu, el2, firmware, sysreg};
use crate::vm::{VcpuState, Vm};
use alloc::vec::Vec;
use core::cell::UnsafeCell;

pub struct Machine {
    pub vms: Vec<Vm>,
    /// The vCPU whose exit is being handled (or that runs next).
    pub current: (usize, usize),
    /// The vCPU whose EL1/FP state is in the CPU now.
    loaded: Option<(usize, usize)>,
    /// The VM whose stage 2 is in VTTBR_EL2.
    loaded_vm: Option<usize>,
    /// Top of the boot pCPU's EL2 stack.
    pub stack_top: u64,
}

/// The machine, owned by the boot pCPU.
pub struct Global(UnsafeCell<Option<Machine>>);

// SAFETY: only the boot pCPU runs Aerie code today, always with exceptions
// masked at EL2, so accesses never overlap.
unsafe impl Sync for Global {}

pub static MACHINE: Global = Global(UnsafeCell::new(None));

/// The machine, for the exit path.
///
/// # Safety
/// Single pCPU, exceptions masked (see [`Global`]); the caller must not hold
/// another reference obtained from this function.
pub unsafe fn machine() -> &'static mut Machine {
    // SAFETY: per the contract; set up by `start` before any exit.
    unsafe { (*MACHINE.0.get()).as_mut().unwrap_unchecked() }
}

impl Machine {
    pub fn new(vms: Vec<Vm>, stack_top: u64) -> Self {
        Machine {
            vms,
            current: (0, 0),
            loaded: None,
            loaded_vm: None,
            stack_top,
        }
    }

    /// Pick the vCPU to run next, load it, and return its register block.
    /// Powers the machine off when no VM is left.
    pub fn schedule(&mut self) -> *mut GuestRegs {
        loop {
            let now = cpu::counter();
            if let Some(next) = self.pick(now) {
                self.switch_to(next);
                let (v, c) = next;
                return &mut self.vms[v].vcpus[c].regs;
            }
            match self.earliest_deadline() {
                Some(deadline) => {
                    while cpu::counter() < deadline {
                        sysreg::wfe();
                    }
                }
                None => {
                    log::info!("all VMs have stopped; powering off");
                    firmware::system_off();
                }
            }
        }
    }

    /// Round-robin from the vCPU after the current one; the current one last.
    fn pick(&mut self, now: u64) -> Option<(usize, usize)> {
        let all: Vec<(usize, usize)> = self
            .vms
            .iter()
            .enumerate()
            .flat_map(|(v, vm)| (0..vm.vcpus.len()).map(move |c| (v, c)))
            .collect();
        let start = all
            .iter()
            .position(|&p| p == self.current)
            .map_or(0, |i| i + 1);
        for i in 0..all.len() {
            let (v, c) = all[(start + i) % all.len()];
            let vcpu = &mut self.vms[v].vcpus[c];
            match vcpu.state {
                VcpuState::Runnable => return Some((v, c)),
                VcpuState::Blocked { until } if until <= now => {
                    vcpu.state = VcpuState::Runnable;
                    return Some((v, c));
                }
                _ => {}
            }
        }
        None
    }

    fn earliest_deadline(&self) -> Option<u64> {
        self.vms
            .iter()
            .flat_map(|vm| vm.vcpus.iter())
            .filter_map(|v| match v.state {
                VcpuState::Blocked { until } => Some(until),
                _ => None,
            })
            .min()
    }

    /// Move vCPU state so that `next` is in the CPU.
    fn switch_to(&mut self, next: (usize, usize)) {
        self.current = next;
        if self.loaded == Some(next) {
            return;
        }
        if let Some((v, c)) = self.loaded.take() {
            if self.vms[v].running() {
                let old = &mut self.vms[v].vcpus[c];
                old.el1.save();
                old.fp.save();
            }
        }
        let (v, c) = next;
        let vm = &mut self.vms[v];
        if self.loaded_vm != Some(v) || vm.flush_tlb {
            if let Some(s2) = &vm.stage2 {
                el2::load_stage2(s2.root(), vm.vmid);
            }
            if vm.flush_tlb {
                el2::flush_guest_tlb();
                vm.flush_tlb = false;
            }
            self.loaded_vm = Some(v);
        }
        let new = &vm.vcpus[c];
        new.el1.load();
        new.fp.load();
        self.loaded = Some(next);
    }

    /// Forget the loaded state of VM `v` (it stopped or was reset).
    pub fn unload_vm(&mut self, v: usize) {
        if self.loaded.is_some_and(|(lv, _)| lv == v) {
            self.loaded = None;
        }
    }

    /// Start running guests on this pCPU; never returns.
    pub fn start(self) -> ! {
        // SAFETY: boot pCPU, before any guest runs: nobody else holds the machine.
        let m = unsafe {
            *MACHINE.0.get() = Some(self);
            machine()
        };
        m.current = (m.vms.len().saturating_sub(1), usize::MAX);
        let regs = m.schedule();
        let stack_top = m.stack_top;
        // SAFETY: `regs` belongs to the vCPU just loaded by `schedule`
        // (EL1 state, stage 2 and HCR_EL2 in place); vCPUs are boxed and
        // live as long as the machine, i.e. forever.
        unsafe { el2::enter_guest(regs, stack_top) }
    }
}
