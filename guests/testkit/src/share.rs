//! `share` on the command line: instead of the tests, measure how two
//! vCPUs share one pCPU when their guests ask for different speeds (C1's
//! weight). vCPU 1's clock is set to half the fastest rate over SCMI; then
//! both vCPUs count iterations of the same loop until the same counter
//! deadline, and the ratio of their counts is the ratio of their shares.
//! Meant for one pCPU (`-smp 1`, both vCPUs taking turns on it) under
//! `-icount shift=0`, where it is exact: `cargo xtask test sched-share`.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::console::println;
use crate::counter;
use crate::machine::Machine;
use crate::secondary::{self, Progress};
use crate::sysreg;
use crate::tests::scmi::set_clock_rate;

const FULL_HZ: u32 = 1_000_000_000;
/// How long both count, in ms of the virtual counter.
const WINDOW_MS: u64 = 60;

/// When both stop counting (counter value; 0 = not yet set).
static DEADLINE: AtomicU64 = AtomicU64::new(0);
/// vCPU 1's count.
static SLOW_COUNT: AtomicU64 = AtomicU64::new(0);
static SLOW: Progress = Progress::new();

/// Loop iterations until the counter reaches `deadline`.
fn count_until(deadline: u64) -> u64 {
    let mut n = 0u64;
    while counter::now() < deadline {
        n = core::hint::black_box(n + 1);
    }
    n
}

/// vCPU 1's job.
fn slow() {
    let deadline = DEADLINE.load(Ordering::SeqCst);
    SLOW_COUNT.store(count_until(deadline), Ordering::SeqCst);
    SLOW.publish(Progress::DONE);
}

pub fn run(machine: &Machine) {
    let Some(&other) = machine.mpidrs[..machine.cpus].get(1) else {
        println!("share: FAIL: needs 2 vCPUs");
        return;
    };
    if let Err(e) = set_clock_rate(machine, 1, FULL_HZ / 2) {
        println!("share: FAIL: setting vCPU 1's clock: {e}");
        return;
    }
    let deadline = counter::now() + counter::ticks_from_ms(WINDOW_MS);
    DEADLINE.store(deadline, Ordering::SeqCst);
    SLOW.reset();
    sysreg::dsb_sy();
    if let Err(e) = secondary::start(other, slow) {
        println!("share: FAIL: starting vCPU 1: {e}");
        return;
    }
    let fast = count_until(deadline);
    if SLOW.wait_for(Progress::DONE, 1000) != Progress::DONE {
        println!("share: FAIL: vCPU 1 did not finish");
        return;
    }
    let slow = SLOW_COUNT.load(Ordering::SeqCst).max(1);
    let _ = secondary::wait_off(other, 1000);
    let _ = set_clock_rate(machine, 1, FULL_HZ);
    let permille = fast * 1000 / slow;
    println!(
        "share: fast={fast} slow={slow} ratio={}.{:03} (vCPU 0 at 1000 MHz, vCPU 1 at 500 MHz)",
        permille / 1000,
        permille % 1000
    );
}
