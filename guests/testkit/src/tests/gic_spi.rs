//! An SPI from a (virtual) device: the PL011's transmit interrupt, INTID 33,
//! level-sensitive, routed to this CPU with GICD_IROUTER. The handler lowers
//! the level at the UART (clears TXIM) before EOI, so it runs exactly once.

use core::sync::atomic::{AtomicU32, Ordering};

use super::gic_fixture::with_gic;
use super::TestResult;
use crate::console::read_reg;
use crate::counter::spin_until;
use crate::detail::{detail, fail};
use crate::gic::distributor;
use crate::gic::PRIORITY_REGULAR;
use crate::irq;
use crate::machine::Machine;
use crate::pl011_irq::{self, UARTMIS, UARTRIS, UART_INTID};
use crate::sysreg::mpidr_affinity;

const WAIT_MS: u64 = 100;
/// After the first IRQ, how long to watch for a wrong second one.
const SETTLE_MS: u64 = 5;
const NONE: u32 = u32::MAX;

static SEEN: AtomicU32 = AtomicU32::new(NONE);
/// UARTMIS as the handler found it.
static MIS_SEEN: AtomicU32 = AtomicU32::new(0);
/// UARTIMSC before the test, without TXIM: what the handler restores.
static IMSC_BASE: AtomicU32 = AtomicU32::new(0);

fn uart_handler(intid: u32) {
    SEEN.store(intid, Ordering::SeqCst);
    if intid == UART_INTID {
        MIS_SEEN.store(read_reg(UARTMIS), Ordering::SeqCst);
        pl011_irq::set_tx_interrupt(IMSC_BASE.load(Ordering::SeqCst), false);
    }
}

pub fn gic_spi_device(machine: &Machine) -> TestResult {
    with_gic(machine, &[UART_INTID], |_| {
        distributor::configure_level_spi(UART_INTID, PRIORITY_REGULAR, mpidr_affinity());
        distributor::enable_spi(UART_INTID);
        let imsc = pl011_irq::interrupt_mask() & !pl011_irq::TX;
        IMSC_BASE.store(imsc, Ordering::SeqCst);
        SEEN.store(NONE, Ordering::SeqCst);
        MIS_SEEN.store(0, Ordering::SeqCst);
        irq::set_handler(Some(uart_handler));
        let before = irq::taken();

        irq::unmask();
        pl011_irq::set_tx_interrupt(imsc, true);
        let arrived = spin_until(WAIT_MS, || SEEN.load(Ordering::SeqCst) != NONE);
        spin_until(SETTLE_MS, || false);
        irq::mask();
        // Whatever happened, the UART must not keep its line up.
        pl011_irq::set_tx_interrupt(imsc, false);

        let taken = irq::taken() - before;
        let seen = SEEN.load(Ordering::SeqCst);
        let mis = MIS_SEEN.load(Ordering::SeqCst);
        if !arrived {
            fail!(
                "UARTIMSC.TXIM set: no IRQ within {WAIT_MS} ms (UARTRIS={:#x}, GICD_ISPENDR has INTID {UART_INTID}: {})",
                read_reg(UARTRIS),
                distributor::is_spi_pending(UART_INTID)
            );
        }
        if seen != UART_INTID {
            fail!("expected ICC_IAR1_EL1 = {UART_INTID}, got {seen}");
        }
        if mis & pl011_irq::TX == 0 {
            fail!("in the handler: expected UARTMIS.TXMIS set, got UARTMIS={mis:#x}");
        }
        if taken != 1 {
            fail!("expected 1 IRQ (TXIM cleared before EOI lowers the level), got {taken}");
        }
        if distributor::is_spi_pending(UART_INTID) {
            fail!("INTID {UART_INTID} still pending after the UART lowered its line");
        }
        Ok(detail!("INTID {seen} from the PL011, UARTMIS={mis:#x}"))
    })
}
