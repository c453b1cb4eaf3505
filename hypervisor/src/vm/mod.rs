//! Virtual machines and their vCPUs.

pub mod backdoor;
pub mod block;
pub mod debug;
pub mod exit;
pub mod guest_va;
pub mod irq;
pub mod loader;
pub mod mmio;
pub mod net;
pub mod power;
pub mod power_button;
pub mod psci;
pub mod rtc;
pub mod scmi;
pub mod stolen;
mod sysreg_fast;
pub mod virtio;

use crate::arch::aarch64::context::{self, El1State, FpState, GuestRegs, PSTATE_EL1H_MASKED};
use crate::arch::aarch64::debug_regs;
use crate::arch::aarch64::fast_path;
use crate::arch::aarch64::gic::VirtualInterface;
use crate::console::GuestOutput;
use crate::irq::private::PrivateBank;
use crate::irq::PPI_VIRTUAL_TIMER;
use crate::mm::{frames, stage2::Stage2};
use aerie_bootmodule::VmImage;
use aerie_trap::VirtualDebug;
use aerie_vdev::Pl011;
use aerie_vgic::Vgic;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// The guest machine: QEMU `virt`'s map, so guests built for it boot unchanged.
pub const RAM_BASE: u64 = 0x4000_0000;
pub const UART_BASE: u64 = 0x0900_0000;
pub const UART_SIZE: u64 = 0x1000;
/// The guest's PL031 real-time clock, where QEMU's virt board has it.
pub const RTC_BASE: u64 = 0x0901_0000;
pub const RTC_SIZE: u64 = aerie_vdev::pl031::SIZE;
/// The PL031's alarm interrupt: SPI 2.
pub const RTC_INTID: u32 = 32 + aerie_dt::RTC_SPI;
/// The guest's PL061 GPIO controller with its power button on pin 3, where
/// QEMU's virt board has them (see `power_button`).
pub const GPIO_BASE: u64 = 0x0903_0000;
pub const GPIO_SIZE: u64 = aerie_vdev::pl061::SIZE;
/// The PL061's interrupt: SPI 7.
pub const GPIO_INTID: u32 = 32 + aerie_dt::GPIO_SPI;
/// The PL011's interrupt: SPI 1.
pub const UART_INTID: u32 = 33;
pub const GICD_BASE: u64 = 0x0800_0000;
pub const GICD_SIZE: u64 = 0x1_0000;
/// A guest's GICv2 (on a host with one): its distributor is 4 KiB at
/// GICD_BASE, its CPU interface the host's GICV, mapped here (QEMU virt's
/// GICC address).
pub const GICD_V2_SIZE: u64 = aerie_vgic::GICD_V2_SIZE;
pub const GICC_BASE: u64 = 0x0801_0000;
pub const GICC_SIZE: u64 = 0x2000;
pub const GICR_BASE: u64 = 0x080a_0000;
/// One redistributor (RD_base + SGI_base frames) per vCPU.
pub const GICR_STRIDE: u64 = 0x2_0000;
/// SPIs the virtual distributor implements (INTIDs 32..95).
pub const SPIS: u32 = 64;

/// Where a vCPU stands with the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuState {
    /// Powered off (never started, PSCI CPU_OFF, or its VM stopped).
    Off,
    /// Ready, waiting for a pCPU.
    Runnable,
    /// On pCPU n.
    Running(usize),
    /// In WFI with nothing pending: until the counter reaches `until` (its
    /// virtual timer's deadline), or a kick when there is no deadline.
    Blocked { until: Option<u64> },
}

/// A VM's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Running,
    /// Powering off: its vCPUs are leaving their pCPUs; then memory is freed.
    Stopping,
    /// PSCI SYSTEM_RESET: once no vCPU runs, the images are reloaded.
    Resetting,
    Stopped,
}

/// One virtual CPU. `regs` comes first: the exit path's TPIDR_EL2 pointer to
/// the register block is also a pointer to the vCPU.
#[repr(C)]
pub struct Vcpu {
    pub regs: GuestRegs,
    /// What the backdoor fast path answers for this vCPU; put in its pCPU's
    /// fast-path table while it runs there.
    pub backdoor_keys: BackdoorKeys,
    pub el1: El1State,
    pub fp: FpState,
    /// The GIC virtual interface state (ICH_VMCR_EL2, active priorities).
    pub gic: VirtualInterface,
    /// The forwarded virtual-timer interrupt was active on the physical
    /// side when this vCPU left its pCPU.
    pub vtimer_active: bool,
    /// A physical virtual-timer interrupt was forwarded and left active for
    /// the guest to complete.
    pub vtimer_forwarded: bool,
    /// List registers filled for this vCPU's current entry.
    pub lrs_used: usize,
    /// List-register images on their way between the vGIC and the hardware
    /// (kept here so the exit path need not clear a buffer every time).
    pub lr_scratch: [u64; irq::MAX_LRS],
    /// The vGIC may have something new for this vCPU (a kick named it, its
    /// list registers were in use, it was just loaded): the next entry must
    /// ask the vGIC. Clear means the list registers can stay empty.
    pub vgic_dirty: bool,
    /// The maintenance interrupts last asked for this vCPU.
    pub maintenance: crate::arch::aarch64::gic::Maintenance,
    /// The debug registers as the guest sees them (every access traps;
    /// the hardware holds a sanitised image while the vCPU is loaded), but
    /// for those TDA covers while the guest owns them (`debug_owned`).
    pub debug: VirtualDebug,
    /// The guest owns the debug registers TDA covers: the hardware holds
    /// its own values and `debug` is stale for them until the vCPU leaves
    /// its pCPU (`vm::debug::give`).
    pub debug_owned: bool,
    /// Index of the VM in the machine, and of this vCPU in the VM.
    pub vm: usize,
    pub index: usize,
    pub state: VcpuState,
    /// Its idle entries and blocked time, per kind.
    pub idle: power::IdleRecord,
    /// Its use of the share of a pCPU its clock rate allows.
    pub cap: aerie_perfcap::CpuCap,
    /// The time it waited, ready, for a pCPU, as its guest reads it.
    pub steal: stolen::Steal,
}

/// Which syndromes the exit path's backdoor fast path (vectors.S) answers
/// for a vCPU: the exact syndromes of the two transports. A zero syndrome
/// disables that transport's fast path (no backdoor, or EL0 not allowed:
/// the full path checks the EL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackdoorKeys {
    /// ESR_EL2 of `mrs xzr, mdccsr_el0` (EC 0x18, IL).
    pub dcc_esr: u64,
    /// ESR_EL2 of `brk #imm` with the VM's immediate (EC 0x3C, IL).
    pub brk_esr: u64,
}

impl BackdoorKeys {
    /// The keys for a VM with `policy` (None: no backdoor).
    pub fn new(policy: Option<&aerie_bootmodule::BackdoorPolicy>) -> Self {
        let Some(p) = policy.filter(|p| p.el0) else {
            return BackdoorKeys::default();
        };
        use aerie_trap::{ec, Esr};
        /// `mrs xzr, mdccsr_el0`: EC 0x18, IL, op0 2, op1 3, CRn 0, CRm 1,
        /// op2 0, Rt 31, read.
        const DCC_ESR: Esr = Esr::new(ec::SYSREG, true, 0x20_C3E3);
        BackdoorKeys {
            dcc_esr: DCC_ESR.0,
            brk_esr: p
                .brk_imm
                .map_or(0, |imm| Esr::new(ec::BRK64, true, u32::from(imm)).0),
        }
    }

    /// The exchange the fast path serves, GETVERSION, exactly as the full
    /// path's `aerie_backdoor` answers it: the same for every VM.
    pub const fn exchange() -> fast_path::Exchange {
        use aerie_backdoor::abi;
        fast_path::Exchange {
            x7: (abi::X86_IO_MAGIC << 32) | (abi::X86_IO_W7_WITH | abi::X86_IO_W7_DIR | 2) as u64,
            port: abi::BDOOR_PORT as u64,
            magic: abi::BDOOR_MAGIC as u64,
            reply_x0: abi::BDOOR_VERSION as u64,
            reply_x2: abi::VMX_TYPE_SCALABLE_SERVER as u64,
        }
    }
}

// The vector's immediate is GETVERSION, and the table can hold this
// exchange (no fixed register can pass for a syndrome of its slot's class).
const _: () = assert!(fast_path::COMMAND == aerie_backdoor::abi::BDOOR_CMD_GETVERSION as u64);
const _: () = assert!(BackdoorKeys::exchange().fits());

// The exit path's TPIDR_EL2 names the register block, which is the vCPU.
const _: () = assert!(core::mem::offset_of!(Vcpu, regs) == 0);

impl Vcpu {
    fn new(vm: usize, index: usize) -> Self {
        Vcpu {
            regs: GuestRegs::default(),
            backdoor_keys: BackdoorKeys::default(),
            el1: El1State::reset(mpidr_of(index)),
            fp: FpState::default(),
            gic: VirtualInterface::default(),
            vtimer_active: false,
            vtimer_forwarded: false,
            lrs_used: 0,
            lr_scratch: [0; irq::MAX_LRS],
            vgic_dirty: true,
            maintenance: crate::arch::aarch64::gic::Maintenance::NONE,
            debug: VirtualDebug::reset(),
            debug_owned: false,
            idle: power::IdleRecord::default(),
            cap: Default::default(),
            steal: Default::default(),
            vm,
            index,
            state: VcpuState::Off,
        }
    }

    /// Store this vCPU's CPU state (it is leaving the pCPU whose
    /// private-interrupt registers are `banked`).
    pub fn save(&mut self, banked: Option<PrivateBank>) {
        self.el1.save();
        if core::mem::take(&mut self.debug_owned) {
            debug_regs::take_from_guest(&mut self.debug);
            // Reloaded trapped: the sanitised image.
            self.el1.mdscr = self.debug.hw_mdscr();
        } else if self.debug.points_used {
            debug_regs::clear_points();
        }
        self.fp.save();
        self.gic.save();
        if let Some(rd) = banked {
            self.vtimer_active = rd.is_active(PPI_VIRTUAL_TIMER);
            if self.vtimer_active {
                rd.set_active(PPI_VIRTUAL_TIMER, false);
            }
        }
    }

    /// Leave this vCPU's state in its pCPU while it idles there (the
    /// scheduler's idle-in-place): everything stays except what could
    /// interrupt the idle pCPU, its virtual timer (its CNTV_CTL kept in
    /// `el1`; the scheduler's deadline stands in for it) and its
    /// maintenance interrupts. [`Vcpu::unpark`] undoes exactly this.
    pub fn park(&mut self) {
        self.el1.cntv_ctl = context::live_vtimer().0;
        context::discard_vtimer();
        crate::arch::aarch64::gic::set_maintenance(crate::arch::aarch64::gic::Maintenance::NONE);
    }

    /// The parked vCPU runs again here, or its state is about to be saved.
    pub fn unpark(&self) {
        context::unpark_vtimer(self.el1.cntv_ctl);
        crate::arch::aarch64::gic::set_maintenance(self.maintenance);
    }

    /// Put this vCPU's state into the CPU; its debug registers trapped
    /// (the guest owns none yet).
    pub fn load(&mut self, banked: Option<PrivateBank>) {
        self.debug_owned = false;
        self.el1.load();
        if self.debug.points_used {
            debug_regs::load_points(&self.debug);
        }
        debug_regs::load_os_lock(&self.debug);
        self.fp.load();
        self.gic.load();
        crate::arch::aarch64::gic::set_maintenance(self.maintenance);
        if let Some(rd) = banked {
            rd.set_active(PPI_VIRTUAL_TIMER, self.vtimer_active);
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
        self.gic = VirtualInterface::default();
        self.vtimer_active = false;
        self.vtimer_forwarded = false;
        self.vgic_dirty = true;
        self.debug = VirtualDebug::reset();
        // A vCPU is reset only where no pCPU holds it (CPU_ON of one that
        // is off, a VM's reload): a pCPU that held it emptied its debug
        // registers then (`save`, or `discard_loaded`).
        self.debug_owned = false;
        self.steal.stop();
        self.state = VcpuState::Runnable;
    }

    /// A blocked vCPU's wait is over at `now` (a kick, or its deadline):
    /// it is Runnable again.
    pub fn wake(&mut self, now: u64) {
        self.idle.wake(now);
        self.steal.ready(now);
        self.state = VcpuState::Runnable;
    }

    /// The MPIDR the guest sees for this vCPU.
    pub fn mpidr(&self) -> u64 {
        self.el1.vmpidr & 0xff_00ff_ffff
    }
}

/// Ticks `vcpus` have spent on a pCPU up to `now`, summed.
pub fn ran_ticks(vcpus: &[Box<Vcpu>], now: u64) -> u64 {
    vcpus.iter().map(|v| v.cap.ran_until(now)).sum()
}

/// Ticks `vcpus` have waited, ready, for a pCPU, summed; None where none
/// is counted (their guest does not read stolen time).
pub fn stolen_ticks(vcpus: &[Box<Vcpu>]) -> Option<u64> {
    vcpus
        .iter()
        .filter_map(|v| v.steal.total())
        .reduce(|a, b| a + b)
}

/// VMPIDR_EL2 for vCPU `index`: Aff0 = index, bit 31 RES1.
fn mpidr_of(index: usize) -> u64 {
    (1 << 31) | index as u64
}

/// Guest RAM: one contiguous host block mapped at RAM_BASE.
#[derive(Clone, Copy)]
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
    /// Its record's index in the boot module: what a world's control list
    /// names (a refused VM before it leaves a gap in Aerie's own list).
    pub record: usize,
    pub vmid: u16,
    pub image: VmImage<'static>,
    /// Boxed: TPIDR_EL2 holds a pointer to the running vCPU's registers,
    /// which must not move whatever happens to the vectors around it.
    #[allow(clippy::vec_box)]
    pub vcpus: Vec<Box<Vcpu>>,
    pub uart: Pl011,
    /// The guest's real-time clock: its offset from Aerie's wall clock
    /// survives the VM's resets, as a battery-backed clock's time would
    /// (`Pl031::reset` clears only its alarm).
    pub rtc: aerie_vdev::Pl031,
    /// Its alarm line as last given to the vGIC (see `rtc`).
    pub rtc_irq: bool,
    /// The PL011's interrupt line as last given to the vGIC.
    pub uart_irq: bool,
    /// The GPIO controller whose pin 3 is the VM's power button, and its
    /// interrupt line as last given to the vGIC.
    pub gpio: aerie_vdev::Pl061,
    pub gpio_irq: bool,
    /// Console input not yet taken by the PL011's receive FIFO.
    pub input: VecDeque<u8>,
    pub vgic: Vgic,
    /// virtio-mmio transports: 0 = console, then one block device per disk,
    /// then its network card (if it has one).
    pub virtio: Vec<virtio::VirtioSlot>,
    /// The VMware-compatible backdoor, if the config (`[vm.backdoor]`)
    /// gives the VM one.
    pub backdoor: Option<backdoor::VmBackdoor>,
    /// Its SCMI agent: the channel and the vCPU clocks (C1).
    pub scmi: scmi::Scmi,
    /// The VM's regions of the host disk, one per disk, in the guest's order.
    pub disks: Vec<block::DiskRegion>,
    /// Frames its network card sent that Aerie's switch dropped, by reason.
    pub net_drops: aerie_vdev::PortDrops,
    pub output: GuestOutput,
    pub state: VmState,
    /// CNTVOFF_EL2: the guest's virtual counter reads 0 when the VM starts.
    pub cntvoff: u64,
    /// Unhandled-access reports logged so far (rate limit).
    pub abort_reports: u32,
    /// A disk has requests no pCPU serves: the pCPU that served them ran
    /// out of its turn (`block::serve`); the VM's next tick takes them on.
    pub disk_waiting: bool,
    /// None once the VM has stopped.
    pub memory: Option<GuestMemory>,
    pub stage2: Option<Stage2>,
    /// Its vCPUs' stolen-time records (mapped in `stage2`; None once the
    /// VM has stopped).
    pub stolen: Option<stolen::StolenTime>,
    /// The VMID's TLB entries may be stale (after a reset reloaded memory).
    pub flush_tlb: bool,
}

/// How many times any VM's state has changed since boot (from 1): what a
/// user world's `vm_wait` compares against.
static STATE_CHANGES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// The current count of VM state changes.
pub fn state_changes() -> u64 {
    STATE_CHANGES.load(core::sync::atomic::Ordering::Acquire)
}

impl Vm {
    pub fn running(&self) -> bool {
        self.state == VmState::Running
    }

    /// How many requests its disks have with the host disk, which moves
    /// data in and out of its memory until they are back.
    pub fn disk_requests_with_host(&self) -> usize {
        self.virtio
            .iter()
            .map(|slot| match slot {
                virtio::VirtioSlot::Block(disk) => disk.requests_with_host(),
                _ => 0,
            })
            .sum()
    }

    /// A stop or reset begins: say if it must wait for the host disk.
    fn note_requests_with_host(&self) {
        let n = self.disk_requests_with_host();
        if n > 0 {
            log::info!(
                "vm {}: {n} disk request{} with the host disk: its memory stays until {} back",
                self.name,
                if n == 1 { "" } else { "s" },
                if n == 1 { "it is" } else { "they are" }
            );
        }
    }

    /// Every change of a VM's state goes through here: it counts them for
    /// user worlds waiting on one ([`state_changes`]).
    pub fn set_state(&mut self, state: VmState) {
        if self.state != state {
            self.state = state;
            STATE_CHANGES.fetch_add(1, core::sync::atomic::Ordering::Release);
        }
    }

    /// Begin powering the VM off: its vCPUs stop at their next exit, and
    /// [`Vm::settle`] frees its memory once none is on a pCPU.
    pub fn stop(&mut self, why: &str) {
        self.output.flush();
        self.vcpus_off();
        if self.state != VmState::Stopped {
            self.set_state(VmState::Stopping);
        }
        log::info!("vm {}: {why}", self.name);
        self.note_requests_with_host();
        for c in 0..self.vcpus.len() {
            log::info!("vm {}: vcpu {c} {}", self.name, self.power_summary(c));
        }
        if let Some(line) = net::summary(self) {
            log::info!("vm {}: {line}", self.name);
        }
        for line in block::summaries(self) {
            log::info!("vm {}: {line}", self.name);
        }
    }

    /// Every vCPU not on a pCPU is off now (a running one leaves at its
    /// next exit); a blocked one's wait ends here for its idle record.
    fn vcpus_off(&mut self) {
        let now = crate::arch::aarch64::cpu::counter();
        for v in &mut self.vcpus {
            if !matches!(v.state, VcpuState::Running(_)) {
                v.idle.wake(now);
                v.state = VcpuState::Off;
            }
        }
    }

    /// vCPU `c`'s power record: its clock (rate, changes, throttles), its
    /// idle record, the time it ran on a pCPU and, where its guest reads
    /// stolen time, the time it waited for one, as `Ctrl-A d` and a VM's
    /// stop print it.
    pub fn power_summary(&self, c: usize) -> String {
        let now = crate::arch::aarch64::cpu::counter();
        let per_ms = crate::arch::aarch64::cpu::counter_frequency() / 1000;
        let (hz, changes) = self.scmi.clocks.rate(c).unwrap_or((0, 0));
        let vcpu = &self.vcpus[c];
        let clock = if self.scmi.enabled {
            alloc::format!(
                "clock {} MHz ({changes} changes, {} throttles)",
                hz / 1_000_000,
                vcpu.cap.throttles
            )
        } else {
            String::from("clock fixed (cpufreq = false)")
        };
        let stolen = match vcpu.steal.total() {
            Some(ticks) => alloc::format!(", stolen {} ms", ticks / per_ms.max(1)),
            None => String::new(),
        };
        alloc::format!(
            "{clock} idle: {}; ran {} ms{stolen}",
            vcpu.idle.summary(per_ms),
            vcpu.cap.ran_until(now) / per_ms.max(1)
        )
    }

    /// Begin a reset (PSCI SYSTEM_RESET, or a user world's vm_control):
    /// like a stop, then reload.
    pub fn reset(&mut self, why: &str) {
        self.output.flush();
        self.vcpus_off();
        self.set_state(VmState::Resetting);
        log::info!("vm {}: {why}", self.name);
        self.note_requests_with_host();
    }

    /// Called by the scheduler when none of this VM's vCPUs is on a pCPU:
    /// complete a stop or a reset.
    pub fn settle(&mut self) {
        match self.state {
            VmState::Stopping => {
                for v in &mut self.vcpus {
                    v.state = VcpuState::Off;
                }
                if let Some(m) = self.memory.take() {
                    frames::free(m.pa, m.size);
                }
                if let Some(page) = self.stolen.take() {
                    page.free();
                }
                self.stage2 = None;
                self.set_state(VmState::Stopped);
            }
            VmState::Resetting => {
                if let Err(e) = loader::boot_again(self) {
                    log::error!("vm {}: reload failed: {e}", self.name);
                }
            }
            VmState::Running | VmState::Stopped => {}
        }
    }
}
