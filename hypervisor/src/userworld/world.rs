//! One user world and its turns on a pCPU: enter EL0, serve what comes
//! back (system calls, interrupts for Aerie, faults) until the turn ends:
//! its time slice is over, Aerie has something else to do here, it sleeps,
//! or it exits, faults or uses up its time.

use super::space::{LoadError, UserSpace};
use crate::arch::aarch64::el0::{self, Exit, ForwardedException, UserRegs, SHIM_LOWER_SYNC};
use crate::arch::aarch64::el2::Syndrome;
use crate::arch::aarch64::sysreg::isb;
use crate::arch::aarch64::{cpu, cpu::CpuInfo, daif, gic};
use crate::irq::{event, watchdog, PMR_ALL, PMR_REGULAR_MASKED};
use crate::mm::user_range;
use aerie_bootmodule::{Control, Operations};
use aerie_trap::esr::{ec, Esr};
use aerie_userworld::abi::{self, VmInfo};
use aerie_userworld::fault::Fault;
use aerie_userworld::layout;
use aerie_userworld::syscall::{self, Kernel, Outcome, VmOp};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

/// A world that uses this much CPU time within one [`BUDGET_WINDOW_MS`]
/// window is ended: a runaway loop goes within a second or two, while a
/// world that mostly sleeps (a monitor) may run for ever.
const BUDGET_MS: u64 = 500;
const BUDGET_WINDOW_MS: u64 = 2000;

pub struct World {
    pub id: usize,
    pub name: &'static str,
    arg: Arc<str>,
    space: UserSpace,
    regs: UserRegs,
    pub syscalls: u64,
    /// CPU time used in the current budget window, and when that window
    /// began (counter ticks).
    used: u64,
    window_start: u64,
    /// The VMs it may stop, reset, start, halt, reboot and press the power
    /// buttons of (vm_control), and which of those operations it may do.
    control: Control,
    operations: Operations,
    /// A console line for its `read_line`, until that call takes it.
    line: Option<String>,
}

/// How a world ended.
pub enum End {
    Exited(i64),
    Killed(String),
}

/// How a turn ended.
pub enum Turn {
    /// The world is ready to go on: its slice is over, or Aerie has other
    /// work for this pCPU (console input, a kick).
    Preempted,
    /// The world sleeps this many nanoseconds.
    Sleep(u64),
    /// The world waits until the count of VM state changes is no longer
    /// `seen`, or `timeout_ns` has passed (`vm_wait`).
    WaitVm {
        seen: u64,
        timeout_ns: u64,
    },
    /// The world waits for a console line, or until `timeout_ns` has
    /// passed (`read_line`).
    WaitInput {
        timeout_ns: u64,
    },
    Ended(End),
}

impl World {
    pub fn load(
        id: usize,
        name: &'static str,
        arg: Arc<str>,
        elf: &[u8],
        (control, operations): (Control, Operations),
    ) -> Result<Self, LoadError> {
        let program = aerie_userworld::elf::parse(elf).map_err(LoadError::Elf)?;
        let space = UserSpace::load(&program, elf, el0::shim_page())?;
        let regs = UserRegs {
            sp: layout::STACK_TOP,
            pc: program.entry,
            ..UserRegs::default()
        };
        Ok(World {
            id,
            name,
            arg,
            space,
            regs,
            syscalls: 0,
            used: 0,
            window_start: 0,
            control,
            operations,
            line: None,
        })
    }

    /// Run the world on pCPU `cpu` until `slice_end` (a counter value) at
    /// the latest. No vCPU's EL1 state may be live here: the EL1 regime is
    /// the world's meanwhile. Called without the machine lock.
    pub fn run_turn(&mut self, cpu: usize, slice_end: u64) -> Turn {
        user_range::set(Some(self.space.root()));
        let saved = el0::enter_regime(&CpuInfo::read(), self.space.root(), layout::SHIM_VA);
        let start = cpu::counter();
        if start >= self.window_start + cpu::ms_to_ticks(BUDGET_WINDOW_MS) {
            (self.window_start, self.used) = (start, 0);
        }
        let budget_end = start + cpu::ms_to_ticks(BUDGET_MS).saturating_sub(self.used);
        // The timer stays armed across system calls; after an interrupt it
        // is armed again (its handler disarms it when it fires).
        let timer = slice_end.min(budget_end);
        cpu::arm_hyp_timer(timer);
        // The turn is over, but the world is in the shim (below).
        let mut ending = false;
        let turn = loop {
            self.regs.pstate = resume_pstate(self.regs.pc, self.regs.pstate);
            // As for a guest: PSTATE.I set, the priority mask open, so every
            // interrupt ends the world's run at EL2.
            daif::mask_irq();
            gic::set_priority_mask(PMR_ALL);
            // SAFETY: the world's regime is in place (enter_regime, its
            // tables in entry 0 of this pCPU's root), pc and sp are its own
            // (its entry point, its stack, or where it trapped) and pstate
            // is EL0t, or EL1h in the shim.
            let exit = unsafe { el0::run(&mut self.regs) };
            gic::set_priority_mask(PMR_REGULAR_MASKED);
            daif::unmask_irq();
            watchdog::progress(cpu);
            match exit {
                Exit::Irq => {
                    take_pending_interrupts();
                    let now = cpu::counter();
                    if now >= budget_end {
                        break Turn::Ended(End::Killed(format!(
                            "used its CPU budget ({BUDGET_MS} ms within {BUDGET_WINDOW_MS} ms) at pc {:#x}",
                            self.regs.pc
                        )));
                    }
                    let other_work = crate::irq::peek_events(cpu)
                        & (event::INPUT | event::KICK | event::UPLINK | event::DISK);
                    if now >= slice_end || other_work != 0 {
                        // Interrupted in the shim, the world's exception is
                        // still in the EL1 syndrome registers, which
                        // whatever runs here next would overwrite: the turn
                        // ends once the shim has forwarded it (its next
                        // instruction). The timer stays off meanwhile: one
                        // already due would fire again before that HVC.
                        if !in_shim_at_el1(self.regs.pc, self.regs.pstate) {
                            break Turn::Preempted;
                        }
                        ending = true;
                    } else {
                        cpu::arm_hyp_timer(timer);
                    }
                }
                Exit::Sync => {
                    if let Some(turn) = self.exception() {
                        break turn;
                    }
                    if ending {
                        break Turn::Preempted;
                    }
                }
                Exit::Error(kind) => {
                    break Turn::Ended(End::Killed(format!(
                        "SError or AArch32 exception (kind {kind})"
                    )))
                }
            }
        };
        self.used += cpu::counter() - start;
        cpu::disarm_hyp_timer();
        el0::leave_regime(saved);
        user_range::set(None);
        turn
    }

    /// The result of the system call the world is blocked in.
    pub fn set_result(&mut self, value: i64) {
        self.regs.x[0] = value as u64;
    }

    /// A console line for the world blocked in `read_line`: the call is
    /// made again when it resumes (its `svc`, one instruction back; its
    /// arguments are still in place), and finds the line there.
    pub fn give_line(&mut self, line: String) {
        self.line = Some(line);
        self.regs.pc -= 4;
    }

    /// A synchronous exception: a system call, or the end of the world.
    /// None: the world goes on.
    fn exception(&mut self) -> Option<Turn> {
        let syndrome = Syndrome::read();
        let (esr, far) = if Esr(syndrome.esr).ec() == ec::HVC64 {
            // Forwarded by the shim: EL1 has the EL0 exception.
            let vector = syndrome.esr & 0xffff;
            if vector != SHIM_LOWER_SYNC {
                return Some(Turn::Ended(End::Killed(format!(
                    "unexpected exception at EL1 (shim vector {vector})"
                ))));
            }
            let e = ForwardedException::read();
            self.regs.pc = e.elr;
            self.regs.pstate = e.spsr;
            (e.esr, e.far)
        } else {
            // Taken to EL2 directly (a debug exception with MDCR_EL2.TDE).
            (syndrome.esr, syndrome.far)
        };
        if Esr(esr).ec() != ec::SVC64 {
            return Some(Turn::Ended(End::Killed(format!(
                "{} at pc {:#x}",
                Fault::from_syndrome(esr, far),
                self.regs.pc
            ))));
        }
        self.syscalls += 1;
        let number = self.regs.x[8];
        let args = [0, 1, 2, 3, 4, 5].map(|i| self.regs.x[i]);
        match syscall::dispatch(self, number, args) {
            Outcome::Return(value) => {
                self.regs.x[0] = value as u64;
                None
            }
            Outcome::Sleep(ns) => {
                self.regs.x[0] = 0;
                Some(Turn::Sleep(ns))
            }
            // x0 is set when the wait ends (`set_result`), or the call is
            // made again (`give_line`).
            Outcome::WaitVm { seen, timeout_ns } => Some(Turn::WaitVm { seen, timeout_ns }),
            Outcome::WaitInput { timeout_ns } => Some(Turn::WaitInput { timeout_ns }),
            Outcome::Exit(status) => Some(Turn::Ended(End::Exited(status))),
        }
    }
}

/// PSTATE to resume the world with. An interrupt (routed to EL2, so not
/// masked at EL1) can arrive while the shim runs at EL1, between an EL0
/// exception and the shim's HVC: that context goes back to the shim as it
/// was, whose HVC then forwards the exception still held in the EL1
/// registers. Everything else runs at EL0: NZCV kept, EL0t, nothing masked.
fn resume_pstate(pc: u64, pstate: u64) -> u64 {
    if in_shim_at_el1(pc, pstate) {
        pstate
    } else {
        pstate & 0xf000_0000
    }
}

/// Whether the world was stopped in the EL1 shim, before its HVC.
fn in_shim_at_el1(pc: u64, pstate: u64) -> bool {
    const MODE: u64 = 0xf;
    const EL1H: u64 = 0b0101;
    (layout::SHIM_VA..layout::VA_END).contains(&pc) && pstate & MODE == EL1H
}

/// Let the interrupt that ended the world's turn be taken at EL2, the way
/// an idle pCPU takes its own (irq::el2_irq); it leaves its event for the
/// scheduler.
fn take_pending_interrupts() {
    daif::mask_irq();
    gic::set_priority_mask(PMR_ALL);
    daif::unmask_irq();
    isb();
    daif::mask_irq();
    gic::set_priority_mask(PMR_REGULAR_MASKED);
    daif::unmask_irq();
}

impl Kernel for World {
    fn user_read(&self, va: u64, len: u64) -> Option<&[u8]> {
        if len == 0 {
            return Some(&[]);
        }
        // SAFETY: the world's pages are mapped at its own addresses in
        // Aerie's space too while it runs (entry 0 of this pCPU's root), and
        // `allows` checked that the whole range is one of its regions; only
        // this pCPU runs the world, and it is stopped.
        self.space
            .allows(va, len, false)
            .then(|| unsafe { core::slice::from_raw_parts(va as *const u8, len as usize) })
    }

    fn user_write(&mut self, va: u64, len: u64) -> Option<&mut [u8]> {
        if len == 0 {
            return Some(&mut []);
        }
        // SAFETY: as in user_read, for a writable region.
        self.space
            .allows(va, len, true)
            .then(|| unsafe { core::slice::from_raw_parts_mut(va as *mut u8, len as usize) })
    }

    fn console(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for line in text.trim_end_matches('\n').split('\n') {
            log::info!("uw {}[{}]: {line}", self.name, self.id);
        }
    }

    fn arg(&self) -> Arc<str> {
        self.arg.clone()
    }

    fn now_ns(&self) -> u64 {
        let ns = u128::from(cpu::counter()) * 1_000_000_000 / u128::from(cpu::counter_frequency());
        ns as u64
    }

    fn vm_state_changes(&self) -> u64 {
        crate::vm::state_changes()
    }

    fn input_line(&mut self) -> Option<String> {
        self.line.take()
    }

    fn vm_control(&mut self, index: u64, op: VmOp) -> Result<(), i64> {
        if self.control == Control::None {
            return Err(abi::err::EPERM);
        }
        let cpu = crate::sched::this_cpu();
        let mut m = crate::sched::lock();
        let v = usize::try_from(index)
            .ok()
            .filter(|&v| v < m.vms.len())
            .ok_or(abi::err::ENOENT)?;
        if !self.control.allows(m.vms[v].record) || !self.operations.allows(op.number()) {
            return Err(abi::err::EPERM);
        }
        let by = format!("user world {}[{}]", self.name, self.id);
        if op == VmOp::Start {
            if m.vms[v].state != crate::vm::VmState::Stopped {
                return Err(abi::err::EBUSY);
            }
            if let Err(e) = crate::vm::loader::start(&mut m.vms[v]) {
                log::error!("vm {}: start by {by} failed: {e}", m.vms[v].name);
                return Err(abi::err::ENOMEM);
            }
            log::info!("vm {}: started by {by}", m.vms[v].name);
            m.wake_idle_pcpu(cpu);
            return Ok(());
        }
        if !m.vms[v].running() {
            return Err(abi::err::EBUSY);
        }
        if op == VmOp::PowerButton {
            return if m.press_power_button(cpu, v, &by) {
                Ok(())
            } else {
                Err(abi::err::EBUSY)
            };
        }
        let tools_op = match op {
            VmOp::Halt => Some(aerie_backdoor::PowerOp::Halt),
            VmOp::Reboot => Some(aerie_backdoor::PowerOp::Reboot),
            _ => None,
        };
        if let Some(tools_op) = tools_op {
            use crate::vm::backdoor::{request_power_op, AskError};
            return request_power_op(&mut m.vms[v], tools_op, &format!(" (for {by})")).map_err(
                |e| match e {
                    AskError::Tools(aerie_backdoor::PowerOpError::Busy) => abi::err::EBUSY,
                    _ => abi::err::ENOTCONN,
                },
            );
        }
        match op {
            VmOp::Stop => m.vms[v].stop(&format!("powered off by {by}")),
            _ => m.vms[v].reset(&format!("reset by {by}")),
        }
        // Its vCPUs on other pCPUs leave them now; the scheduler settles it.
        m.kick_all(cpu, v);
        Ok(())
    }

    fn vm_info(&self, index: u64) -> Option<VmInfo> {
        let m = crate::sched::lock();
        let vm = m.vms.get(usize::try_from(index).ok()?)?;
        let count = |f: fn(&crate::vm::VcpuState) -> bool| {
            vm.vcpus.iter().filter(|c| f(&c.state)).count() as u32
        };
        use crate::vm::{VcpuState, VmState};
        Some(VmInfo {
            name: VmInfo::name_field(&vm.name),
            state: match vm.state {
                VmState::Running => abi::VmState::Running,
                VmState::Stopping => abi::VmState::Stopping,
                VmState::Resetting => abi::VmState::Resetting,
                VmState::Stopped => abi::VmState::Stopped,
            },
            vcpus: vm.vcpus.len() as u32,
            vcpus_running: count(|s| matches!(s, VcpuState::Running(_))),
            vcpus_idle: count(|s| matches!(s, VcpuState::Blocked { .. })),
            ram_mib: (vm.image.memory >> 20) as u32,
            cpu_ms: cpu::ticks_to_ms(crate::vm::ran_ticks(&vm.vcpus, cpu::counter())) as u32,
            stolen_ms: crate::vm::stolen_ticks(&vm.vcpus).map_or(abi::VmInfo::NOT_COUNTED, |t| {
                (cpu::ticks_to_ms(t) as u32).min(abi::VmInfo::NOT_COUNTED - 1)
            }),
        })
    }
}
