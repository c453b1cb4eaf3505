//! `ipi_roundtrip`: vCPU 0 sends SGI 3 to vCPU 1, whose handler sends SGI 3
//! back; vCPU 0's handler counts the replies. Ticks for N round trips, both
//! sides sleeping in WFI between IPIs (so a hypervisor or a single-threaded
//! icount QEMU switches to the other vCPU instead of spinning out a slice).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::counter::{self, Deadline};
use crate::detail::{fail, Detail};
use crate::gic::{self, Redistributor, ALL_PRIVATE, PMR_ALL, PRIORITY_REGULAR};
use crate::irq;
use crate::machine::Machine;
use crate::secondary::{self, Progress};
use crate::sysreg::{self, mpidr_affinity};
use crate::watchdog;

pub const MAX_ITERS: u64 = 1000;
const IPI_SGI: u32 = 3;
/// Bounds the whole benchmark on both vCPUs.
const TIMEOUT_MS: u64 = 10_000;
const START_MS: u64 = 2000;

static PEER: Progress = Progress::new();
static STOP: AtomicBool = AtomicBool::new(false);
static REPLIES: AtomicU64 = AtomicU64::new(0);
/// Where the echo goes: vCPU 0's MPIDR affinity.
static PRIMARY_AFFINITY: AtomicU64 = AtomicU64::new(0);

fn count_reply(intid: u32) {
    if intid == IPI_SGI {
        REPLIES.store(REPLIES.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    }
}

fn echo(intid: u32) {
    if intid == IPI_SGI {
        gic::send_sgi(IPI_SGI, PRIMARY_AFFINITY.load(Ordering::SeqCst));
    }
}

/// vCPU 1's job: echo every SGI 3 until told to stop (or the timeout).
fn echo_server() {
    let Ok(rd) = gic::init_this_cpu(PMR_ALL) else {
        PEER.publish(Progress::FAILED);
        return;
    };
    rd.configure(IPI_SGI, PRIORITY_REGULAR);
    rd.enable(IPI_SGI);
    irq::set_handler(Some(echo));
    let deadline = Deadline::after_ms(TIMEOUT_MS);
    watchdog::arm(&rd, &deadline);
    PEER.publish(Progress::READY);

    irq::wfi_until(&deadline, || STOP.load(Ordering::SeqCst));

    watchdog::disarm(&rd);
    irq::set_handler(None);
    rd.quiesce(ALL_PRIVATE);
    PEER.publish(Progress::DONE);
}

/// Ping-pongs `iters` times with the echo server on `target`.
fn measure(rd: &Redistributor, target: u64, iters: u64) -> Result<u64, Detail> {
    let ready = PEER.wait_for(Progress::READY, START_MS);
    if ready != Progress::READY {
        fail!("CPU {target:#x} not ready within {START_MS} ms (state {ready})");
    }
    let deadline = Deadline::after_ms(TIMEOUT_MS);
    watchdog::arm(rd, &deadline);
    let start = counter::now();
    let mut result = Ok(());
    for i in 1..=iters {
        gic::send_sgi(IPI_SGI, target);
        if !irq::wfi_until(&deadline, || REPLIES.load(Ordering::SeqCst) >= i) {
            result = Err(i);
            break;
        }
    }
    let ticks = counter::now() - start;
    watchdog::disarm(rd);
    if let Err(i) = result {
        fail!("round trip {i}: no reply from CPU {target:#x} within {TIMEOUT_MS} ms");
    }
    Ok(ticks)
}

/// Returns (iterations, total ticks).
pub fn ipi_roundtrip(machine: &Machine, iters: u64) -> Result<(u64, u64), Detail> {
    if machine.cpus < 2 {
        fail!("needs 2 vCPUs");
    }
    if !machine.has_gic() {
        fail!("no GICv3 or GICv2 in the device tree");
    }
    let iters = iters.min(MAX_ITERS);
    let target = machine.mpidrs[1];
    let rd = gic::init_this_cpu(PMR_ALL)?;
    rd.configure(IPI_SGI, PRIORITY_REGULAR);
    rd.enable(IPI_SGI);
    irq::set_handler(Some(count_reply));
    REPLIES.store(0, Ordering::SeqCst);
    STOP.store(false, Ordering::SeqCst);
    PRIMARY_AFFINITY.store(mpidr_affinity(), Ordering::SeqCst);
    PEER.reset();

    let ticks = secondary::start(target, echo_server).and_then(|()| {
        let ticks = measure(&rd, target, iters);
        let stopped = stop_echo_server(target);
        let ticks = ticks?;
        stopped.map(|()| ticks)
    });

    irq::mask();
    irq::set_handler(None);
    // Also drops the echo of the stopping SGI.
    rd.quiesce(ALL_PRIVATE);
    Ok((iters, ticks?))
}

/// Ends the echo server's wait (the flag, then an SGI to end its WFI) and
/// waits for its CPU to power off.
fn stop_echo_server(target: u64) -> Result<(), Detail> {
    STOP.store(true, Ordering::SeqCst);
    sysreg::dsb_sy();
    gic::send_sgi(IPI_SGI, target);
    let done = PEER.wait_for(Progress::DONE, TIMEOUT_MS);
    let off = secondary::wait_off(target, START_MS);
    if done != Progress::DONE {
        fail!("CPU {target:#x} did not stop (state {done})");
    }
    off
}
