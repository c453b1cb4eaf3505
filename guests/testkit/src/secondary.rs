//! What a secondary vCPU does when PSCI CPU_ON starts it (entry.rs sets up its
//! stack): by default publish its context_id for the primary, or run the job a
//! test gave it with `start`; then power itself off.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::counter::Deadline;
use crate::detail::{fail, Detail};
use crate::entry::secondary_entry_address;
use crate::psci::{self, AFFINITY_OFF, SUCCESS};
use crate::sysreg;

/// The last context_id a secondary received (0 = none yet). Plain store/load
/// only: exclusives are not usable on Device memory (MMU off).
pub static CONTEXT_SEEN: AtomicU64 = AtomicU64::new(0);

/// Work for the next secondary to start: a `Job` as usize (0 = the default).
static JOB: AtomicUsize = AtomicUsize::new(0);

/// Runs on the secondary, which powers off when it returns.
pub type Job = fn();

fn job() -> Option<Job> {
    let raw = JOB.load(Ordering::SeqCst);
    // SAFETY: `start` is the only writer of a non-zero value and stores a
    // `Job` converted to usize; fn pointers and usize have the same size.
    (raw != 0).then(|| unsafe { core::mem::transmute::<usize, Job>(raw) })
}

/// Starts the CPU with MPIDR `target` running `job`.
pub fn start(target: u64, job: Job) -> Result<(), Detail> {
    JOB.store(job as usize, Ordering::SeqCst);
    // The secondary reads JOB with its own (uncached, MMU-off) load.
    sysreg::dsb_sy();
    let started = psci::cpu_on(target, secondary_entry_address(), 0);
    if started != SUCCESS {
        JOB.store(0, Ordering::SeqCst);
        fail!("CPU_ON({target:#x}): expected 0, got {started}");
    }
    Ok(())
}

/// Waits up to `timeout_ms` for `target` to be OFF (AFFINITY_INFO), then
/// drops the job so the next plain CPU_ON gets the default behaviour.
pub fn wait_off(target: u64, timeout_ms: u64) -> Result<(), Detail> {
    let deadline = Deadline::after_ms(timeout_ms);
    let mut state = psci::affinity_info(target, 0);
    while state != AFFINITY_OFF && !deadline.expired() {
        state = psci::affinity_info(target, 0);
    }
    JOB.store(0, Ordering::SeqCst);
    if state != AFFINITY_OFF {
        fail!("CPU {target:#x} not OFF within {timeout_ms} ms (AFFINITY_INFO = {state})");
    }
    Ok(())
}

/// A secondary's progress through its job, published for the primary.
pub struct Progress(AtomicU32);

impl Progress {
    pub const STARTING: u32 = 0;
    pub const READY: u32 = 1;
    pub const DONE: u32 = 2;
    /// The job could not start (e.g. no redistributor for the CPU).
    pub const FAILED: u32 = 3;

    pub const fn new() -> Self {
        Self(AtomicU32::new(Self::STARTING))
    }

    pub fn reset(&self) {
        self.0.store(Self::STARTING, Ordering::SeqCst);
        sysreg::dsb_sy();
    }

    /// Called by the secondary: stores `state` and wakes a primary in WFE.
    pub fn publish(&self, state: u32) {
        self.0.store(state, Ordering::SeqCst);
        sysreg::dsb_sy();
        sysreg::sev();
    }

    /// Waits up to `ms` for `want` (or FAILED); returns the state reached.
    pub fn wait_for(&self, want: u32, ms: u64) -> u32 {
        let deadline = Deadline::after_ms(ms);
        let mut state = self.0.load(Ordering::SeqCst);
        while state != want && state != Self::FAILED && !deadline.expired() {
            sysreg::wfe();
            state = self.0.load(Ordering::SeqCst);
        }
        state
    }
}

#[no_mangle]
extern "C" fn testkit_secondary_main(context_id: u64) -> ! {
    match job() {
        Some(job) => job(),
        None => {
            CONTEXT_SEEN.store(context_id, Ordering::SeqCst);
            // Make the store visible before waking the primary out of WFE.
            sysreg::dsb_sy();
            sysreg::sev();
        }
    }
    psci::cpu_off();
    // CPU_OFF only returns on failure; stay quiet rather than race the console.
    loop {
        sysreg::wfe();
    }
}

/// A secondary's last job: wait for an interrupt that never comes (WFI with
/// nothing enabled). Under a hypervisor the vCPU blocks and, its pCPU having
/// nothing else to run, stays loaded there, parked.
fn wait_forever() {
    loop {
        sysreg::wfi();
    }
}

/// Before the VM powers off: every other vCPU is started idling for good,
/// so the power-off finds them parked on their pCPUs (which Aerie must
/// discard there, each on its own pCPU). Returns how many were started (a
/// vCPU a test left on is not).
pub fn park_all(mpidrs: &[u64]) -> usize {
    let me = sysreg::mpidr_affinity();
    let mut started = 0;
    for &mpidr in mpidrs.iter().filter(|&&mpidr| mpidr != me) {
        if start(mpidr, wait_forever).is_ok() {
            started += 1;
        }
        // Long enough for it to reach its WFI and its pCPU to go idle
        // before the next one starts (which an idle pCPU of its own then
        // takes, rather than this one's).
        let settle = Deadline::after_ms(20);
        while !settle.expired() {}
    }
    started
}
