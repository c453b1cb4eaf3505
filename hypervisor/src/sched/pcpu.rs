//! Per-pCPU scheduling state, and finding which pCPU we are.

use super::VcpuId;
use crate::arch::aarch64::cpu;
use crate::arch::aarch64::fast_path::FastPathTable;
use crate::irq::private::PrivateBank;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const MAX_PCPUS: usize = 8;

/// MPIDRs of the pCPUs by index, for [`this_cpu`]. Unused slots are MAX.
static MPIDRS: [AtomicU64; MAX_PCPUS] = [const { AtomicU64::new(u64::MAX) }; MAX_PCPUS];

/// Top of each pCPU's EL2 stack (0 = not started).
static STACK_TOPS: [AtomicU64; MAX_PCPUS] = [const { AtomicU64::new(0) }; MAX_PCPUS];
/// Every pCPU's EL2 stack is this big (boot and secondary alike).
pub const STACK_SIZE: u64 = 64 * 1024;

/// Whether each pCPU's GIC redistributor and CPU interface are set up. An
/// SGI sent before that is lost, not delayed: the redistributor resets every
/// SGI to Group 0, and a Group 1 SGI (ICC_SGI1R_EL1) for an INTID configured
/// as Group 0 is discarded (GICv3 spec, "Forwarding an SGI to a target PE").
static ONLINE: [AtomicBool; MAX_PCPUS] = [const { AtomicBool::new(false) }; MAX_PCPUS];

/// Record that this pCPU (`index`) can take SGIs from now on.
pub fn set_online(index: usize) {
    // The redistributor writes (device memory) complete before anyone can
    // see the flag.
    crate::arch::aarch64::sysreg::dsb_sy();
    ONLINE[index].store(true, Ordering::SeqCst);
}

/// Whether pCPU `index` can take SGIs ([`set_online`]).
pub fn online(index: usize) -> bool {
    ONLINE.get(index).is_some_and(|o| o.load(Ordering::SeqCst))
}

/// Record that pCPU `index` has MPIDR `mpidr` and its stack ends at `stack_top`.
pub fn register(index: usize, mpidr: u64, stack_top: u64) {
    MPIDRS[index].store(mpidr, Ordering::Release);
    STACK_TOPS[index].store(stack_top, Ordering::Release);
}

/// The MPIDR of pCPU `index`, if it exists.
pub fn mpidr_of(index: usize) -> Option<u64> {
    let m = MPIDRS.get(index)?.load(Ordering::Acquire);
    (m != u64::MAX).then_some(m)
}

/// `[low, high)` of pCPU `cpu`'s EL2 stack (empty if unknown). Lock-free.
pub fn stack_bounds(cpu: usize) -> (u64, u64) {
    let top = STACK_TOPS.get(cpu).map_or(0, |t| t.load(Ordering::Acquire));
    (top.saturating_sub(STACK_SIZE), top)
}

/// The index of the pCPU running this code.
#[inline]
pub fn this_cpu() -> usize {
    let me = cpu::mpidr();
    MPIDRS
        .iter()
        .position(|m| m.load(Ordering::Relaxed) == me)
        .unwrap_or(0)
}

pub struct Pcpu {
    pub mpidr: u64,
    pub stack_top: u64,
    /// The exit vector's backdoor fast-path table, right above `stack_top`:
    /// it answers for the vCPU [`current`](Self::current) here.
    pub fast_path: &'static FastPathTable,
    /// Its GIC registers for the active state of its private interrupts.
    pub banked: Option<PrivateBank>,
    /// The vCPU running on (or being handled by) this pCPU.
    pub current: Option<VcpuId>,
    /// The vCPU whose EL1, FP and GIC interface state is in this pCPU.
    pub loaded: Option<VcpuId>,
    /// The VMID and stage-2 root in VTTBR_EL2 here: both, since a VM started
    /// again after a stop has a new root, and a freed root may come back as
    /// another VM's.
    pub loaded_stage2: Option<(u16, u64)>,
    /// Waiting in WFI for something to run.
    pub idle: bool,
    /// The loaded vCPU is parked: blocked in a shallow idle state, its state
    /// left here (timer and underflow interrupt off) while this pCPU idles.
    pub parked: bool,
    /// A VM's disk (VM, transport) this pCPU must serve before it leaves
    /// the exit it is handling (`vm::block::serve`).
    pub disk_work: Option<(u16, u16)>,
    /// Guest exits it has handled on the full path (`vm::exit`).
    pub exits: u64,
}

// Every exit indexes `Machine::pcpus`: at 128 bytes that is a shift, not a
// multiply. Check the size before adding a field.
const _: () = assert!(core::mem::size_of::<Pcpu>() == 128);

impl Pcpu {
    pub fn new(mpidr: u64, stack_top: u64, fast_path: &'static FastPathTable) -> Self {
        Pcpu {
            mpidr,
            stack_top,
            fast_path,
            banked: None,
            current: None,
            loaded: None,
            loaded_stage2: None,
            idle: false,
            parked: false,
            disk_work: None,
            exits: 0,
        }
    }
}
