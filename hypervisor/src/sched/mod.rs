//! The vCPU scheduler and the machine it schedules.
//!
//! All vCPUs of all VMs share the pCPUs. A vCPU is Off, Runnable, Running on
//! one pCPU, or Blocked (idle with nothing pending: WFI or a PSCI
//! CPU_SUSPEND, until its virtual timer's deadline or a kick). Each pCPU
//! runs one vCPU for a time slice of
//! [`SLICE_MS`], measured by the EL2 physical timer (CNTHP); at the end of a
//! slice it switches to the next Runnable vCPU, if any is waiting. A pCPU
//! with nothing to run waits in WFI, its CNTHP armed for the earliest
//! blocked vCPU's deadline. Work for another pCPU (an interrupt for the vCPU
//! it runs, a vCPU it could run while idle) is signalled with an SGI.
//!
//! The idle depth a vCPU announces decides what its pCPU does with it (C1):
//! a vCPU blocked in a shallow state (WFI, PSCI retention) on a pCPU that
//! then has nothing else to do stays loaded there, parked, so its wake-up
//! skips saving and reloading its state; only that pCPU runs it while it is
//! parked, and it is saved as soon as that pCPU has other work. A vCPU in
//! PSCI power-down is saved at once.
//!
//! One lock guards the whole machine. Exits take it briefly; a guest runs
//! and a pCPU idles without it. For a handful of pCPUs this is simple and
//! cheap; per-VM locks can come when the numbers say so.

mod console;
pub mod pcpu;
mod shutdown;
pub mod worlds;

pub use crate::irq::drain::{drain_host_interrupts, HostEvents};
pub use pcpu::{this_cpu, MAX_PCPUS};

use crate::arch::aarch64::context::GuestRegs;
use crate::arch::aarch64::fast_path::FastPathTable;
use crate::arch::aarch64::{cpu, daif, el2, gic};
use crate::irq::host_gic::HostGic;
use crate::irq::SGI_KICK;
use crate::vm::{VcpuState, Vm, VmState};
use aerie_firmware::IdleKind;
use aerie_perfcap::{weighted_slice, Pacing};
use aerie_vdev::{InputMux, Switch};
use aerie_vgic::Kick;
use alloc::vec::Vec;
use core::sync::atomic::AtomicU32;
use pcpu::Pcpu;
use spin::mutex::{SpinMutex, SpinMutexGuard};
use worlds::WorldSlot;

/// The host console UART's INTID (0 = no input interrupt).
pub static CONSOLE_INTID: AtomicU32 = AtomicU32::new(0);

/// Length of a time slice.
pub const SLICE_MS: u64 = 4;

pub struct Machine {
    pub vms: Vec<Vm>,
    /// The user worlds that have not ended (C6).
    pub worlds: Vec<WorldSlot>,
    pub pcpus: Vec<Pcpu>,
    pub gic: HostGic,
    /// List registers per pCPU (the same on every CPU of a system).
    pub list_registers: usize,
    slice_ticks: u64,
    /// The performance caps' lengths (aerie_perfcap).
    pacing: Pacing,
    /// Round-robin position over all vCPUs.
    cursor: usize,
    /// Which VM the console's keystrokes go to.
    input: InputMux,
    /// The Ethernet switch between the VMs' network cards: port n is VM n.
    pub switch: Switch,
    /// The machine is shutting down: the VMs were asked to power off (see
    /// `shutdown.rs`).
    shutting_down: bool,
    /// How long a shutdown waits for them (counter ticks; 0: for ever), and
    /// until when this one does.
    shutdown_timeout: u64,
    shutdown_deadline: Option<u64>,
    /// The earliest moment (counter) a VM's RTC alarm rises (`vm::rtc`;
    /// u64::MAX: none, so the scheduler's check is one comparison).
    rtc_alarm: u64,
    /// The earlier of the shutdown's timeout and the RTC alarm: the one
    /// machine-wide deadline the idle path looks at ([`Machine::set_timers`]).
    machine_deadline: Option<u64>,
}

/// How a pCPU waits for the machine lock: in WFE, not spinning. A waiter
/// wakes on the holder's release (which clears its exclusive monitor) or,
/// at the latest, on the counter's event stream (CNTHCTL_EL2.EVNTEN, a few
/// microseconds). Under emulation this matters even more: QEMU runs its
/// CPUs in turn, and a spinning waiter would burn the holder's turn.
pub struct WaitForEvent;

impl spin::RelaxStrategy for WaitForEvent {
    #[inline(always)]
    fn relax() {
        crate::arch::aarch64::sysreg::wfe();
        // A pCPU waiting for the lock is not the one stuck: the holder is,
        // and the watchdog reports it on its own pCPU.
        crate::irq::watchdog::progress(this_cpu());
    }
}

/// The machine. Empty until [`Machine::install`] (nothing locks it before).
static MACHINE: SpinMutex<Machine, WaitForEvent> = SpinMutex::new(Machine {
    vms: Vec::new(),
    worlds: Vec::new(),
    pcpus: Vec::new(),
    // SAFETY: placeholder addresses, never used: install() replaces the
    // whole machine before any exit or scheduling happens.
    gic: HostGic::V3(unsafe { crate::irq::gicv3::Gic::new(0, &[]) }),
    list_registers: 0,
    slice_ticks: 0,
    pacing: Pacing::new(0),
    cursor: 0,
    input: InputMux::new(0),
    switch: Switch::empty(),
    shutting_down: false,
    shutdown_timeout: 0,
    shutdown_deadline: None,
    rtc_alarm: u64::MAX,
    machine_deadline: None,
});

/// The machine, locked. Never from a pseudo-NMI handler: it may have
/// interrupted the holder (checked in debug builds).
#[inline(always)]
pub fn lock() -> MachineGuard {
    debug_assert!(
        !crate::irq::pnmi::in_nmi(),
        "machine lock taken in a pseudo-NMI handler"
    );
    MACHINE.lock()
}

/// The machine while its lock is held.
pub type MachineGuard = SpinMutexGuard<'static, Machine>;

/// A vCPU by (VM index, vCPU index).
pub type VcpuId = (usize, usize);

/// What a pCPU runs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Vcpu(VcpuId),
    /// A user world, by its index in `Machine::worlds`.
    World(usize),
}

impl Machine {
    pub fn new(vms: Vec<Vm>, gic: HostGic, list_registers: usize) -> Self {
        Machine {
            worlds: Vec::new(),
            pcpus: Vec::new(),
            gic,
            list_registers,
            slice_ticks: cpu::ms_to_ticks(SLICE_MS),
            pacing: Pacing::new(cpu::ms_to_ticks(1)),
            cursor: 0,
            input: InputMux::new(vms.len()),
            switch: Switch::new(
                vms.iter().map(|vm| {
                    vm.image.net.map(|n| aerie_vdev::Card {
                        mac: n.mac,
                        network: n.network,
                        uplink: n.uplink,
                    })
                }),
                crate::drivers::uplink::intid() != 0,
            ),
            vms,
            shutting_down: false,
            shutdown_timeout: 0,
            shutdown_deadline: None,
            rtc_alarm: u64::MAX,
            machine_deadline: None,
        }
    }

    /// Publish the machine; from now on reach it through [`lock`].
    pub fn install(self) {
        *MACHINE.lock() = self;
    }

    /// A pCPU whose guests' exits start at `stack_top`, with its backdoor
    /// fast-path table right above (see `arch::aarch64::fast_path`).
    pub fn add_pcpu(
        &mut self,
        mpidr: u64,
        stack_top: u64,
        fast_path: &'static FastPathTable,
    ) -> usize {
        self.pcpus.push(Pcpu::new(mpidr, stack_top, fast_path));
        self.pcpus.len() - 1
    }

    /// The vCPU this pCPU is running.
    pub fn current(&self, cpu: usize) -> VcpuId {
        self.pcpus[cpu]
            .current
            .expect("an exit on a pCPU with no vCPU")
    }

    /// Make the vCPUs of VM `v` in `vcpus` look at their interrupts again:
    /// wake them if blocked, interrupt their pCPU if running elsewhere.
    pub fn kick(&mut self, cpu: usize, v: usize, vcpus: Kick) {
        // The named vCPUs only (usually one), not every vCPU of the VM.
        let count = self.vms[v].vcpus.len();
        for c in vcpus.iter().take_while(|&c| c < count) {
            self.vms[v].vcpus[c].vgic_dirty = true;
            match self.vms[v].vcpus[c].state {
                VcpuState::Blocked { .. } => {
                    self.vms[v].vcpus[c].wake(cpu::counter());
                    self.wake_host_of(cpu, (v, c));
                }
                VcpuState::Running(p) if p != cpu => self.signal(p),
                _ => {}
            }
        }
    }

    /// Make every vCPU of VM `v` look again ([`Machine::kick`]): those
    /// running on other pCPUs exit now.
    pub fn kick_all(&mut self, cpu: usize, v: usize) {
        let all = Kick::first(self.vms[v].vcpus.len());
        self.kick(cpu, v, all);
    }

    /// `vcpu` became runnable. Parked on an idle pCPU, only that pCPU can
    /// run it: wake that one. Otherwise any idle pCPU may take it.
    fn wake_host_of(&mut self, cpu: usize, vcpu: VcpuId) {
        match self.parked_on(vcpu) {
            Some(p) if p == cpu => {} // this pCPU is already in its scheduler
            Some(p) if self.pcpus[p].idle => {
                self.pcpus[p].idle = false;
                self.signal(p);
            }
            // Its host is already awake and will run it; whatever else is
            // waiting may need another pCPU.
            _ => self.wake_idle_pcpu(cpu),
        }
    }

    /// The pCPU where `vcpu` is parked, if it is.
    fn parked_on(&self, vcpu: VcpuId) -> Option<usize> {
        self.pcpus
            .iter()
            .position(|p| p.parked && p.loaded == Some(vcpu))
    }

    /// A vCPU became runnable: an idle pCPU (other than `cpu`) may take it.
    /// One with no parked vCPU first, whose state would otherwise have to
    /// be saved to make room.
    pub fn wake_idle_pcpu(&mut self, cpu: usize) {
        let idle = |p: &usize| *p != cpu && self.pcpus[*p].idle;
        let found = (0..self.pcpus.len())
            .filter(idle)
            .find(|&p| !self.pcpus[p].parked)
            .or_else(|| (0..self.pcpus.len()).find(idle));
        if let Some(p) = found {
            self.pcpus[p].idle = false;
            self.signal(p);
        }
    }

    fn signal(&self, p: usize) {
        let mpidr = self.pcpus[p].mpidr;
        gic::send_sgi(SGI_KICK, (mpidr >> 8) & 0xff, 1 << (mpidr & 0xf));
    }

    /// Blocked vCPUs and sleeping worlds whose deadline has passed become
    /// runnable.
    fn wake_expired(&mut self, now: u64) -> bool {
        let mut woke = self.wake_expired_worlds(now);
        for vm in &mut self.vms {
            for vcpu in &mut vm.vcpus {
                if let VcpuState::Blocked { until: Some(t) } = vcpu.state {
                    if t <= now {
                        vcpu.wake(now);
                        woke = true;
                    }
                }
            }
        }
        woke
    }

    /// Raise the RTC lines whose alarm is due at `now` (a kick wakes the
    /// vCPU that takes the interrupt). Looked at when a pCPU's timer fires,
    /// idle or at a slice's end, not on every pass of the scheduler.
    #[inline(always)]
    fn rtc_alarms(&mut self, cpu: usize, now: u64) {
        if self.rtc_alarm <= now {
            crate::vm::rtc::fire_due(self, cpu);
        }
    }

    /// Set the shutdown's timeout and the RTC alarm (None: none), and the
    /// machine-wide deadline from them.
    fn set_timers(&mut self, shutdown: Option<u64>, rtc: Option<u64>) {
        self.shutdown_deadline = shutdown;
        self.rtc_alarm = rtc.unwrap_or(u64::MAX);
        self.machine_deadline = match (shutdown, rtc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Set the RTC alarm, keeping the shutdown's timeout.
    pub(crate) fn set_rtc_alarm(&mut self, rtc: Option<u64>) {
        self.set_timers(self.shutdown_deadline, rtc);
    }

    /// Set the shutdown's timeout, keeping the RTC alarm.
    fn set_shutdown_deadline(&mut self, shutdown: Option<u64>) {
        let rtc = (self.rtc_alarm != u64::MAX).then_some(self.rtc_alarm);
        self.set_timers(shutdown, rtc);
    }

    /// The next moment a vCPU or a world becomes ready by itself: a blocked
    /// vCPU's deadline, the end of a throttled one's pause, a sleeping
    /// world's deadline, a VM's RTC alarm; or a shutdown's timeout.
    fn earliest_deadline(&self, now: u64) -> Option<u64> {
        let earliest = self
            .vms
            .iter()
            .flat_map(|vm| vm.vcpus.iter())
            .filter_map(|v| match v.state {
                VcpuState::Blocked { until } => until,
                VcpuState::Runnable => v.cap.throttled(now),
                _ => None,
            })
            .chain(self.earliest_world_deadline())
            .min();
        // The shutdown's timeout and the RTC alarm as one, so the idle path
        // that IPIs and wake-ups take pays a test, not more links in the
        // chain.
        match self.machine_deadline {
            None => earliest,
            Some(t) => Some(earliest.map_or(t, |e| e.min(t))),
        }
    }

    /// Runnable and not throttled by its performance cap.
    fn ready(&self, (v, c): VcpuId, now: u64) -> bool {
        let vcpu = &self.vms[v].vcpus[c];
        vcpu.state == VcpuState::Runnable && vcpu.cap.throttled(now).is_none()
    }

    /// Is a vCPU or a world ready and waiting for a pCPU at `now`?
    fn anyone_waiting(&self, now: u64) -> bool {
        self.anyone_but_waiting(None, now)
    }

    /// Is a world, or a vCPU other than `this`, ready and waiting for a
    /// pCPU at `now`?
    fn anyone_but_waiting(&self, this: Option<VcpuId>, now: u64) -> bool {
        (0..self.worlds.len()).any(|w| self.world_ready(w))
            || self.vms.iter().enumerate().any(|(v, vm)| {
                (0..vm.vcpus.len()).any(|c| Some((v, c)) != this && self.ready((v, c), now))
            })
    }

    /// What `cpu` runs next: the vCPU parked here if it is runnable (its
    /// state is already in place), else round-robin over the ready worlds
    /// and the runnable vCPUs not parked on another pCPU (only their host
    /// can run them).
    fn pick(&mut self, cpu: usize, now: u64) -> Option<Next> {
        if let Some((v, c)) = self.pcpus[cpu].loaded.filter(|_| self.pcpus[cpu].parked) {
            if self.ready((v, c), now) {
                return Some(Next::Vcpu((v, c)));
            }
        }
        let candidate = |m: &Self, next: Next| match next {
            Next::Vcpu(id) => m.ready(id, now) && m.parked_on(id).is_none_or(|p| p == cpu),
            Next::World(w) => m.world_ready(w),
        };
        let (position, next) = self.round_robin(candidate)?;
        self.cursor = position + 1;
        Some(next)
    }

    /// Round robin over everything that can run, in a fixed order (every
    /// VM's vCPUs, then the worlds): the first candidate (and its position)
    /// at or after the cursor, else the first before it. Plain loops, no
    /// list and no iterator chain: this runs on every switch, and the
    /// chained iterators it replaced cost a wake-up some 130 instructions.
    fn round_robin(&self, candidate: impl Fn(&Self, Next) -> bool) -> Option<(usize, Next)> {
        let cursor = self.cursor;
        for wrapped in [false, true] {
            // The first pass takes positions from the cursor on, the second
            // the ones before it.
            let in_pass = |position: usize| (position < cursor) == wrapped;
            let mut position = 0;
            for (v, vm) in self.vms.iter().enumerate() {
                for c in 0..vm.vcpus.len() {
                    if in_pass(position) && candidate(self, Next::Vcpu((v, c))) {
                        return Some((position, Next::Vcpu((v, c))));
                    }
                    position += 1;
                }
            }
            for w in 0..self.worlds.len() {
                if in_pass(position) && candidate(self, Next::World(w)) {
                    return Some((position, Next::World(w)));
                }
                position += 1;
            }
        }
        None
    }

    /// Take the current vCPU off this pCPU at `now` (it stays in whatever
    /// state its exit handler gave it; Running becomes Runnable).
    fn put_back(&mut self, cpu: usize, now: u64) {
        let Some((v, c)) = self.pcpus[cpu].current.take() else {
            return;
        };
        let permille = self.vms[v].scmi.clocks.permille(c);
        let vcpu = &mut self.vms[v].vcpus[c];
        let runnable = vcpu.state == VcpuState::Running(cpu);
        vcpu.cap.stop(now, permille, self.pacing, runnable);
        if runnable {
            vcpu.steal.ready(now);
            vcpu.state = VcpuState::Runnable;
        }
    }

    /// This pCPU has nothing to run and is about to idle. A vCPU loaded here
    /// that idles in a shallow state (WFI, retention: it said it will be back
    /// soon) stays, parked, so that its wake-up skips the state save and
    /// load; one in power-down (a long sleep, by its own account) or off is
    /// saved now, so that whatever comes next here need not wait for it.
    fn park_or_unload(&mut self, cpu: usize) {
        if self.pcpus[cpu].parked {
            return;
        }
        if let Some((v, c)) = self.pcpus[cpu].loaded {
            let vcpu = &self.vms[v].vcpus[c];
            let shallow = matches!(
                vcpu.idle.blocked_in(),
                Some(IdleKind::Wfi | IdleKind::Standby)
            );
            if shallow
                && matches!(vcpu.state, VcpuState::Blocked { .. })
                && self.vms[v].state == VmState::Running
            {
                self.vms[v].vcpus[c].park();
                self.pcpus[cpu].parked = true;
                return;
            }
        }
        self.unload(cpu);
    }

    /// Store the state of the vCPU loaded in this pCPU (parked or not), so
    /// that any pCPU can run it next: a state left here could be reached by
    /// no other pCPU.
    fn unload(&mut self, cpu: usize) {
        let banked = self.pcpus[cpu].banked;
        let parked = core::mem::take(&mut self.pcpus[cpu].parked);
        if let Some((v, c)) = self.pcpus[cpu].loaded.take() {
            if parked {
                self.vms[v].vcpus[c].unpark();
            }
            if self.vms[v].state == VmState::Running {
                self.vms[v].vcpus[c].save(banked);
            } else {
                Self::discard_loaded(banked);
            }
        }
    }

    /// The vCPU state in this pCPU belongs to a VM that stopped or was reset:
    /// it is not saved, but what it could still raise here is silenced (its
    /// virtual timer, its maintenance interrupts and virtual IRQ, and the timer
    /// PPI's active state, as `save` does).
    fn discard_loaded(banked: Option<crate::irq::private::PrivateBank>) {
        crate::arch::aarch64::context::discard_vtimer();
        // Debug registers it may have owned.
        crate::arch::aarch64::debug_regs::empty();
        gic::set_maintenance(gic::Maintenance::NONE);
        crate::vm::irq::stop_signal();
        if let Some(rd) = banked {
            rd.set_active(crate::irq::PPI_VIRTUAL_TIMER, false);
        }
    }

    /// Finish stopping or resetting VMs none of whose vCPUs is still on a pCPU.
    /// A busy pCPU holds only the vCPU it runs; an idle one may hold a parked
    /// vCPU, whose state only that pCPU can discard.
    fn settle_vms(&mut self, cpu: usize) {
        for v in 0..self.vms.len() {
            let busy = self.vms[v]
                .vcpus
                .iter()
                .any(|c| matches!(c.state, VcpuState::Running(_)));
            // Nor while the host disk may still write its memory.
            if busy
                || self.vms[v].state == VmState::Running
                || self.vms[v].disk_requests_with_host() > 0
            {
                continue;
            }
            // Its vCPU state in this pCPU (a parked one) is discarded here.
            let pcpu = &mut self.pcpus[cpu];
            if pcpu.loaded.is_some_and(|(lv, _)| lv == v) {
                pcpu.loaded = None;
                pcpu.parked = false;
                Self::discard_loaded(pcpu.banked);
            }
            // One parked on another (idle) pCPU: only that pCPU can silence
            // what its state could still raise there. Wake it; the VM
            // settles once it has (its own pass through here).
            let mut parked_elsewhere = false;
            for p in 0..self.pcpus.len() {
                if self.pcpus[p].loaded.is_some_and(|(lv, _)| lv == v) {
                    parked_elsewhere = true;
                    if self.pcpus[p].idle {
                        self.pcpus[p].idle = false;
                        self.signal(p);
                    }
                }
            }
            if parked_elsewhere {
                continue;
            }
            self.vms[v].settle();
        }
    }

    /// Choose what this pCPU runs next and load it; idle until something is
    /// runnable; power the machine off when every VM has stopped. Called
    /// with the lock held, returns with it held.
    pub fn schedule(mut guard: MachineGuard, cpu: usize) -> (MachineGuard, *mut GuestRegs) {
        loop {
            let m = &mut *guard;
            let now = cpu::counter();
            m.put_back(cpu, now);
            m.settle_vms(cpu);
            if m.shutting_down {
                m.shutdown_progress(cpu, now);
            }
            m.wake_expired(now);
            let next = match m.pick(cpu, now) {
                Some(Next::World(w)) => {
                    guard = Self::world_turn(guard, cpu, w, now);
                    continue;
                }
                Some(Next::Vcpu(next)) => Some(next),
                None => None,
            };
            if let Some(next) = next {
                if m.pcpus[cpu].loaded != Some(next) {
                    m.unload(cpu);
                } else if m.pcpus[cpu].parked && m.anyone_but_waiting(Some(next), now) {
                    // It was preferred over whatever else waits, which may
                    // have been promised this pCPU: hand that to another.
                    m.wake_idle_pcpu(cpu);
                }
                m.switch_to(cpu, next);
                let (v, c) = next;
                crate::vm::irq::forward_fired_vtimer(&mut m.vms[v], c, m.pcpus[cpu].banked);
                let vm = &mut m.vms[v];
                let permille = vm.scmi.clocks.permille(c);
                let vcpu = &mut vm.vcpus[c];
                vcpu.state = VcpuState::Running(cpu);
                // Read again: it runs from here, after its state is loaded.
                let start = cpu::counter();
                vcpu.cap.start(start, permille, m.pacing);
                let regs: *mut GuestRegs = &mut vcpu.regs;
                if let Some(stolen) = vcpu.steal.running(start) {
                    crate::vm::stolen::publish(vm, c, stolen);
                }
                cpu::arm_hyp_timer(m.slice_end(next, start));
                return (guard, regs);
            }
            m.park_or_unload(cpu);
            // The machine's work is done when every VM has stopped and every
            // world has ended.
            if m.vms.iter().all(|vm| vm.state == VmState::Stopped) && m.worlds.is_empty() {
                crate::irq::profiler::report(|v| m.vms[v].name.clone());
                log::info!("all VMs have stopped; powering off");
                crate::console::flush_held(true);
                crate::power::exit(0);
            }
            // Idle: wait, without the lock, for a kick, a deadline or a tick.
            match m.earliest_deadline(cpu::counter()) {
                Some(t) => cpu::arm_hyp_timer(t),
                None => cpu::disarm_hyp_timer(),
            }
            m.pcpus[cpu].idle = true;
            drop(guard);
            // Regular interrupts are taken here, at EL2 (irq::el2_irq), once
            // the wait is over: WFI runs with PSTATE.I set and the priority
            // mask open, so an interrupt already pending (a kick sent as
            // soon as the lock was dropped, the timer of a deadline that
            // has just passed) wakes it instead of being taken before it,
            // which would leave this pCPU asleep with that wake-up spent
            // (the timer's handler disarms it). Then PSTATE.I clears and
            // whatever woke the WFI is taken.
            // Nothing runs here: what Aerie printed goes out now.
            crate::console::flush_held(true);
            crate::irq::watchdog::set_idle(cpu, true);
            daif::mask_irq();
            gic::set_priority_mask(crate::irq::PMR_ALL);
            cpu::wait_for_interrupt();
            daif::unmask_irq();
            crate::arch::aarch64::sysreg::isb();
            gic::set_priority_mask(crate::irq::PMR_REGULAR_MASKED);
            crate::irq::watchdog::set_idle(cpu, false);
            let events = crate::irq::take_events(cpu);
            guard = lock();
            guard.pcpus[cpu].idle = false;
            guard.take_events(cpu, events);
        }
    }

    /// Give `cpu` to world `w` for a slice from `now`: the vCPU state in this
    /// pCPU is saved (the EL1 regime is the world's meanwhile), the world
    /// runs without the lock, then goes back to its slot. Console input that
    /// ended its turn is handled here, as an idle pCPU would.
    /// Not inlined: the scheduler's wake-up path stays as tight as without
    /// worlds (inlined, it cost `wfi_wake` some 15 instructions).
    #[inline(never)]
    fn world_turn(mut guard: MachineGuard, cpu: usize, w: usize, now: u64) -> MachineGuard {
        let m = &mut *guard;
        m.unload(cpu);
        let mut world = m.take_world(cpu, w);
        let slice_end = now + m.slice_ticks;
        drop(guard);
        let turn = world.run_turn(cpu, slice_end);
        crate::console::flush_held(false);
        let mut guard = lock();
        guard.end_turn(cpu, world, turn);
        guard.take_events(cpu, crate::irq::take_events(cpu));
        guard
    }

    /// Act on the events interrupts left for this pCPU while it idled or ran
    /// a world: its timer (an RTC alarm's moment), and the devices' events.
    /// Inlined in the idle path: a timer's wake-up pays two tests.
    #[inline(always)]
    fn take_events(&mut self, cpu: usize, events: u32) {
        use crate::irq::event;
        // The pCPU's timer: it may have been an RTC alarm's moment (an idle
        // pCPU sleeps until the earliest). A busy pCPU's tick looks too.
        // Without an alarm (the usual case) one comparison.
        if self.rtc_alarm != u64::MAX && events & event::TICK != 0 {
            self.rtc_alarms(cpu, cpu::counter());
        }
        if events & (event::INPUT | event::UPLINK | event::DISK | event::POWER_BUTTON) != 0 {
            self.device_events(cpu, events);
        }
    }

    /// Console input, frames at the uplink, requests back from the host
    /// disk, the power button.
    #[cold]
    #[inline(never)]
    fn device_events(&mut self, cpu: usize, events: u32) {
        use crate::irq::event;
        if events & event::INPUT != 0 {
            self.console_input(cpu);
        }
        if events & event::UPLINK != 0 {
            crate::vm::net::receive_uplink(self, cpu);
        }
        if events & event::DISK != 0 {
            crate::vm::block::host_completions(self, cpu);
        }
        if events & event::POWER_BUTTON != 0 {
            self.shut_down(cpu, "the machine's power button");
        }
    }

    /// Make pCPU `cpu`'s backdoor fast path answer as vCPU `id`'s keys say:
    /// its table holds the keys of the vCPU loaded there.
    pub fn publish_fast_path(&self, cpu: usize, (v, c): VcpuId) {
        let keys = self.vms[v].vcpus[c].backdoor_keys;
        self.pcpus[cpu]
            .fast_path
            .set_syndromes(keys.dcc_esr, keys.brk_esr);
    }

    /// Put `next`'s state into this pCPU (unless it is there already).
    fn switch_to(&mut self, cpu: usize, next: VcpuId) {
        self.pcpus[cpu].current = Some(next);
        if self.pcpus[cpu].loaded == Some(next) {
            if core::mem::take(&mut self.pcpus[cpu].parked) {
                let (v, c) = next;
                self.vms[v].vcpus[c].unpark();
            }
            return;
        }
        let banked = self.pcpus[cpu].banked;
        let (v, c) = next;
        let vm = &mut self.vms[v];
        let stage2 = vm.stage2.as_ref().map(|s2| (vm.vmid, s2.root()));
        if self.pcpus[cpu].loaded_stage2 != stage2 || vm.flush_tlb {
            if let Some((vmid, root)) = stage2 {
                el2::load_stage2(root, vmid);
            }
            if vm.flush_tlb {
                el2::flush_guest_tlb();
                vm.flush_tlb = false;
            }
            self.pcpus[cpu].loaded_stage2 = stage2;
        }
        // Per VM, but it may have changed (a reset restarts the counter).
        el2::set_cntvoff(vm.cntvoff);
        el2::set_debug_routing(
            vm.backdoor
                .as_ref()
                .is_some_and(|b| b.policy.brk_imm.is_some()),
        );
        vm.vcpus[c].load(banked);
        vm.vcpus[c].vgic_dirty = true;
        self.pcpus[cpu].loaded = Some(next);
        // A vCPU's keys change only while it is loaded and running
        // (`refresh_running_fast_path`), or while no pCPU holds it.
        self.publish_fast_path(cpu, next);
    }

    /// The end of a time slice on `cpu`: expired deadlines wake; if another
    /// vCPU is waiting, the current one yields. Returns whether to reschedule.
    pub fn tick(&mut self, cpu: usize) -> bool {
        crate::console::flush_held(false);
        let now = cpu::counter();
        self.wake_expired(now);
        self.rtc_alarms(cpu, now);
        let current = self.pcpus[cpu].current;
        if current.is_some_and(|id| self.cap_left(id, now) == Some(0)) {
            return true; // its credit is spent (aerie_perfcap)
        }
        let waiting = self.anyone_waiting(now);
        if waiting && !self.pcpus.iter().any(|p| p.idle) {
            return true; // every pCPU is busy: the current vCPU yields
        }
        // An idle pCPU (if any) takes whatever waits; this vCPU runs on.
        if waiting {
            self.wake_idle_pcpu(cpu);
        }
        let end = current.map_or(now + self.slice_ticks, |id| self.slice_end(id, now));
        cpu::arm_hyp_timer(end);
        false
    }

    /// How long `vcpu` may still run on its credit (None: uncapped).
    fn cap_left(&self, (v, c): VcpuId, now: u64) -> Option<u64> {
        let permille = self.vms[v].scmi.clocks.permille(c);
        self.vms[v].vcpus[c]
            .cap
            .remaining(now, permille, self.pacing)
    }

    /// When `vcpu`, going on now, must next be looked at: the end of its
    /// slice, weighted by its clock (see [`weighted_slice`]), or
    /// sooner the moment its credit is spent.
    fn slice_end(&self, (v, c): VcpuId, now: u64) -> u64 {
        let permille = self.vms[v].scmi.clocks.permille(c);
        if permille >= 1000 {
            return now + self.slice_ticks; // full speed: a whole slice, no cap
        }
        let slice = weighted_slice(self.slice_ticks, permille);
        let cap = &self.vms[v].vcpus[c].cap;
        now + cap
            .remaining(now, permille, self.pacing)
            .map_or(slice, |left| left.min(slice))
    }
}

/// Run guests on pCPU `cpu` for ever.
pub fn run(cpu: usize) -> ! {
    let (mut guard, regs) = Machine::schedule(lock(), cpu);
    let m = &mut *guard;
    let (v, c) = m.current(cpu);
    let lrs = m.list_registers;
    crate::vm::irq::flush(&mut m.vms[v], c, lrs);
    let stack_top = m.pcpus[cpu].stack_top;
    drop(guard);
    // Close the window for the guest: PSTATE.I set until the ERET, priority
    // mask open while the guest runs.
    crate::arch::aarch64::daif::mask_irq();
    gic::set_priority_mask(crate::irq::PMR_ALL);
    // SAFETY: `regs` belongs to the vCPU `schedule` just loaded on this
    // pCPU (EL1, GIC and stage-2 state in place); vCPUs are boxed and live
    // as long as the machine, i.e. forever.
    unsafe { el2::enter_guest(regs, stack_top) }
}
