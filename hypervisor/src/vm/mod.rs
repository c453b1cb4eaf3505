//! Virtual machines and their vCPUs.

pub mod exit;
pub mod loader;
pub mod mmio;
pub mod psci;

use crate::arch::aarch64::context::{El1State, FpState, GuestRegs, PSTATE_EL1H_MASKED};
use crate::console::GuestOutput;
use crate::mm::{frames, stage2::Stage2};
use aerie_bootmodule::VmImage;
use aerie_vdev::Pl011;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// The guest machine: QEMU `virt`'s map, so guests built for it boot unchanged.
pub const RAM_BASE: u64 = 0x4000_0000;
pub const UART_BASE: u64 = 0x0900_0000;
pub const UART_SIZE: u64 = 0x1000;

/// Where a vCPU stands with the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuState {
    /// Powered off (never started, PSCI CPU_OFF, or its VM stopped).
    Off,
    Runnable,
    /// In WFI until the counter reaches `until` (its virtual timer's deadline).
    Blocked {
        until: u64,
    },
}

/// One virtual CPU. `regs` comes first: the exit path's TPIDR_EL2 pointer to
/// the register block is also a pointer to the vCPU.
#[repr(C)]
pub struct Vcpu {
    pub regs: GuestRegs,
    pub el1: El1State,
    pub fp: FpState,
    pub index: usize,
    pub state: VcpuState,
}

impl Vcpu {
    fn new(index: usize) -> Self {
        Vcpu {
            regs: GuestRegs::default(),
            el1: El1State::reset(mpidr_of(index)),
            fp: FpState::default(),
            index,
            state: VcpuState::Off,
        }
    }

    /// Architectural reset, then start at `entry` with `x0 = arg` (boot and
    /// PSCI CPU_ON use the same state).
    pub fn reset(&mut self, entry: u64, arg: u64) {
        self.regs = GuestRegs::default();
        self.regs.x[0] = arg;
        self.regs.pc = entry;
        self.regs.pstate = PSTATE_EL1H_MASKED;
        self.el1 = El1State::reset(mpidr_of(self.index));
        self.fp = FpState::default();
        self.state = VcpuState::Runnable;
    }

    /// The MPIDR the guest sees for this vCPU.
    pub fn mpidr(&self) -> u64 {
        self.el1.vmpidr & 0xff_00ff_ffff
    }
}

/// VMPIDR_EL2 for vCPU `index`: Aff0 = index, bit 31 RES1.
fn mpidr_of(index: usize) -> u64 {
    (1 << 31) | index as u64
}

/// Guest RAM: one contiguous host block mapped at RAM_BASE.
pub struct GuestMemory {
    pub pa: u64,
    pub size: u64,
}

impl GuestMemory {
    /// The host virtual address of guest physical `ipa`, if it is RAM.
    pub fn host_va(&self, ipa: u64, len: u64) -> Option<u64> {
        let off = ipa.checked_sub(RAM_BASE)?;
        (off.checked_add(len)? <= self.size).then(|| crate::mm::layout::phys_to_virt(self.pa + off))
    }
}

pub struct Vm {
    pub name: String,
    pub vmid: u16,
    pub image: VmImage<'static>,
    /// Boxed: TPIDR_EL2 holds a pointer to the running vCPU's registers,
    /// which must not move whatever happens to the vectors around it.
    #[allow(clippy::vec_box)]
    pub vcpus: Vec<Box<Vcpu>>,
    pub uart: Pl011,
    pub output: GuestOutput,
    /// None once the VM has stopped.
    pub memory: Option<GuestMemory>,
    pub stage2: Option<Stage2>,
    /// The VMID's TLB entries may be stale (after a reset reloaded memory).
    pub flush_tlb: bool,
}

impl Vm {
    pub fn running(&self) -> bool {
        self.memory.is_some()
    }

    /// Stop the VM and give its memory back.
    pub fn stop(&mut self, why: &str) {
        self.output.flush();
        for v in &mut self.vcpus {
            v.state = VcpuState::Off;
        }
        if let Some(m) = self.memory.take() {
            frames::free(m.pa, m.size);
        }
        self.stage2 = None;
        log::info!("vm {}: {why}", self.name);
    }
}
