//! One user world and its run loop: enter EL0, serve what comes back
//! (system calls, interrupts for Aerie, faults), end it when it exits,
//! faults or uses up its time.

use super::space::{LoadError, UserSpace};
use crate::arch::aarch64::el0::{self, Exit, ForwardedException, UserRegs, SHIM_LOWER_SYNC};
use crate::arch::aarch64::el2::Syndrome;
use crate::arch::aarch64::sysreg::isb;
use crate::arch::aarch64::{cpu, cpu::CpuInfo, daif, gic};
use crate::irq::{watchdog, PMR_ALL, PMR_REGULAR_MASKED};
use crate::mm::kernel_map::KernelSpace;
use aerie_trap::esr::{ec, Esr};
use aerie_userworld::fault::Fault;
use aerie_userworld::layout;
use aerie_userworld::syscall::{self, Kernel, Outcome};
use alloc::format;
use alloc::string::String;

/// The CPU time a world may use before it is ended.
const BUDGET_MS: u64 = 500;
/// How often Aerie looks in on a running world (its interrupts, the
/// watchdog's heartbeat, the budget).
const TICK_MS: u64 = 4;

pub struct World {
    id: usize,
    name: &'static str,
    arg: &'static str,
    space: UserSpace,
    regs: UserRegs,
    pub syscalls: u64,
}

/// How a world ended.
pub enum End {
    Exited(i64),
    Killed(String),
}

impl World {
    pub fn load(
        id: usize,
        name: &'static str,
        arg: &'static str,
        elf: &[u8],
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
        })
    }

    /// Run the world on this pCPU until it ends. No vCPU's EL1 state may be
    /// live here: the EL1 regime is the world's meanwhile.
    pub fn run(&mut self, kernel: &mut KernelSpace, cpu_info: &CpuInfo) -> End {
        kernel.set_user_range(Some(self.space.root()));
        let saved = el0::enter_regime(cpu_info, self.space.root(), layout::SHIM_VA);
        let ticks_per_ms = cpu::counter_frequency() / 1000;
        let deadline = cpu::counter() + BUDGET_MS * ticks_per_ms;
        let this_cpu = crate::sched::this_cpu();
        // The tick stays armed across system calls; it is re-armed once it
        // has fired (its handler disarms it).
        let arm_tick = || cpu::arm_hyp_timer(deadline.min(cpu::counter() + TICK_MS * ticks_per_ms));
        arm_tick();
        let end = loop {
            self.regs.pstate = resume_pstate(self.regs.pc, self.regs.pstate);
            // As for a guest: PSTATE.I set, the priority mask open, so every
            // interrupt ends the world's turn at EL2.
            daif::mask_irq();
            gic::set_priority_mask(PMR_ALL);
            // SAFETY: the world's regime is in place (enter_regime, its
            // tables in entry 0 of Aerie's root), pc and sp are its own
            // (its entry point, its stack, or where it trapped) and pstate
            // is EL0t.
            let exit = unsafe { el0::run(&mut self.regs) };
            gic::set_priority_mask(PMR_REGULAR_MASKED);
            daif::unmask_irq();
            watchdog::progress(this_cpu);
            match exit {
                Exit::Irq => {
                    take_pending_interrupts();
                    arm_tick();
                    if cpu::counter() >= deadline {
                        break End::Killed(format!(
                            "ran for its whole time budget ({BUDGET_MS} ms) at pc {:#x}",
                            self.regs.pc
                        ));
                    }
                }
                Exit::Sync => {
                    if let Some(end) = self.exception() {
                        break end;
                    }
                }
                Exit::Error(kind) => {
                    break End::Killed(format!("SError or AArch32 exception (kind {kind})"))
                }
            }
        };
        cpu::disarm_hyp_timer();
        el0::leave_regime(saved);
        kernel.set_user_range(None);
        end
    }

    /// A synchronous exception: a system call, or the end of the world.
    fn exception(&mut self) -> Option<End> {
        let syndrome = Syndrome::read();
        let (esr, far) = if Esr(syndrome.esr).ec() == ec::HVC64 {
            // Forwarded by the shim: EL1 has the EL0 exception.
            let vector = syndrome.esr & 0xffff;
            if vector != SHIM_LOWER_SYNC {
                return Some(End::Killed(format!(
                    "unexpected exception at EL1 (shim vector {vector})"
                )));
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
            return Some(End::Killed(format!(
                "{} at pc {:#x}",
                Fault::from_syndrome(esr, far),
                self.regs.pc
            )));
        }
        self.syscalls += 1;
        let number = self.regs.x[8];
        let args = [0, 1, 2, 3, 4, 5].map(|i| self.regs.x[i]);
        match syscall::dispatch(self, number, args) {
            Outcome::Return(value) => {
                self.regs.x[0] = value as u64;
                None
            }
            Outcome::Exit(status) => Some(End::Exited(status)),
        }
    }
}

/// PSTATE to resume the world with. An interrupt (routed to EL2, so not
/// masked at EL1) can arrive while the shim runs at EL1, between an EL0
/// exception and the shim's HVC: that context goes back to the shim as it
/// was, whose HVC then forwards the exception still held in the EL1
/// registers. Everything else runs at EL0: NZCV kept, EL0t, nothing masked.
fn resume_pstate(pc: u64, pstate: u64) -> u64 {
    const MODE: u64 = 0xf;
    const EL1H: u64 = 0b0101;
    let in_shim = (layout::SHIM_VA..layout::VA_END).contains(&pc);
    if in_shim && pstate & MODE == EL1H {
        pstate
    } else {
        pstate & 0xf000_0000
    }
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
        // Aerie's space too while it runs (entry 0 of the root), and
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

    fn arg(&self) -> &'static [u8] {
        self.arg.as_bytes()
    }

    fn now_ns(&self) -> u64 {
        let ns = u128::from(cpu::counter()) * 1_000_000_000 / u128::from(cpu::counter_frequency());
        ns as u64
    }
}
