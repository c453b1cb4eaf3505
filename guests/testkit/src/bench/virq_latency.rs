//! `virq_latency`: counter ticks from the MMIO write that makes a device raise
//! its SPI (UARTIMSC.TXIM = 1 on the PL011, INTID 33) to the first instruction
//! of the IRQ vector, which reads CNTVCT_EL0 before anything else
//! (vectors.rs). Under a hypervisor that is the trap of the write, the virtual
//! UART's level change, injection through a list register and the guest's
//! exception entry. The handler clears TXIM and EOIs before the next round.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::console::PL011_BASE;
use crate::counter::spin_until;
use crate::detail::{fail, Detail};
use crate::gic::distributor;
use crate::gic::{self, ALL_PRIVATE, PMR_ALL, PRIORITY_REGULAR};
use crate::irq;
use crate::machine::Machine;
use crate::pl011_irq::{self, UARTIMSC, UART_INTID};
use crate::sysreg::mpidr_affinity;

/// Each round is a full device round trip: fewer than the trap benchmarks.
pub const MAX_ITERS: u64 = 1000;
const WAIT_MS: u64 = 100;

/// UARTIMSC without TXIM: what the handler writes back.
static IMSC_BASE: AtomicU32 = AtomicU32::new(0);

fn lower_uart_line(intid: u32) {
    if intid == UART_INTID {
        pl011_irq::set_tx_interrupt(IMSC_BASE.load(Ordering::SeqCst), false);
    }
}

/// Writes `imsc` to UARTIMSC; returns CNTVCT_EL0 read just before the write.
fn raise_timed(imsc: u32) -> u64 {
    let start: u64;
    // SAFETY: one store to the PL011's UARTIMSC (aligned MMIO, always
    // mapped). Not `nomem`: the IRQ it raises is taken right after the
    // store, and its handler writes memory.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {start}, cntvct_el0",
            "str {imsc:w}, [{reg}]",
            start = out(reg) start,
            imsc = in(reg) imsc,
            reg = in(reg) PL011_BASE + UARTIMSC,
            options(nostack),
        );
    }
    start
}

fn measure(iters: u64) -> Result<u64, Detail> {
    let base = IMSC_BASE.load(Ordering::SeqCst);
    let mut ticks = 0;
    irq::unmask();
    for i in 0..iters {
        let before = irq::taken();
        let start = raise_timed(base | pl011_irq::TX);
        if !spin_until(WAIT_MS, || irq::taken() != before) {
            fail!("round {i}: no IRQ within {WAIT_MS} ms of UARTIMSC.TXIM = 1");
        }
        ticks += irq::ENTRY_TICKS.load(Ordering::SeqCst).wrapping_sub(start);
    }
    Ok(ticks)
}

/// Returns (iterations, total ticks).
pub fn virq_latency(machine: &Machine, iters: u64) -> Result<(u64, u64), Detail> {
    if !machine.has_gic() {
        fail!("no GICv3 or GICv2 in the device tree");
    }
    let iters = iters.min(MAX_ITERS);
    let rd = gic::init_this_cpu(PMR_ALL)?;
    let base = pl011_irq::interrupt_mask() & !pl011_irq::TX;
    IMSC_BASE.store(base, Ordering::SeqCst);
    distributor::configure_level_spi(UART_INTID, PRIORITY_REGULAR, mpidr_affinity());
    distributor::enable_spi(UART_INTID);
    irq::set_handler(Some(lower_uart_line));

    let ticks = measure(iters);

    irq::mask();
    pl011_irq::set_tx_interrupt(base, false);
    irq::set_handler(None);
    let off = distributor::disable_spi(UART_INTID);
    rd.quiesce(ALL_PRIVATE);
    let ticks = ticks?;
    off?;
    Ok((iters, ticks))
}
