//! The PL031's alarm (INTID 34, level): RTCMR two seconds ahead of the
//! counter, RTCIMSC set, and the vCPU waits in WFI with nothing else to
//! wake it before a 5 s backstop (the watchdog's virtual timer). The alarm
//! must end the wait at its second, not at the backstop: the hypervisor
//! has to wake an idle guest for it. The handler clears the alarm at the
//! device (RTCICR) before EOI, so it runs exactly once.

use core::sync::atomic::{AtomicU32, Ordering};

use super::gic_fixture::with_gic;
use super::TestResult;
use crate::counter::Deadline;
use crate::detail::{detail, fail};
use crate::gic::distributor;
use crate::gic::PRIORITY_REGULAR;
use crate::irq;
use crate::machine::Machine;
use crate::sysreg::mpidr_affinity;
use crate::watchdog;

/// QEMU virt's PL031 and its interrupt (SPI 2).
const RTC_BASE: usize = 0x0901_0000;
const RTC_INTID: u32 = 34;
const RTCDR: usize = 0x00;
const RTCMR: usize = 0x04;
const RTCIMSC: usize = 0x10;
const RTCRIS: usize = 0x14;
const RTCMIS: usize = 0x18;
const RTCICR: usize = 0x1c;
/// The alarm's distance, in RTC seconds: at least one whole second passes.
const AHEAD_S: u32 = 2;
const BACKSTOP_MS: u64 = 5000;
const NONE: u32 = u32::MAX;

static SEEN: AtomicU32 = AtomicU32::new(NONE);
/// RTCMIS and RTCDR as the handler found them.
static MIS_SEEN: AtomicU32 = AtomicU32::new(0);
static DR_SEEN: AtomicU32 = AtomicU32::new(0);

fn read(reg: usize) -> u32 {
    // SAFETY: a PL031 register in the guest's device window (QEMU virt's
    // layout); reads have no side effects.
    unsafe { core::ptr::read_volatile((RTC_BASE + reg) as *const u32) }
}

fn write(reg: usize, value: u32) {
    // SAFETY: as for `read`; the test owns the RTC's alarm registers.
    unsafe { core::ptr::write_volatile((RTC_BASE + reg) as *mut u32, value) }
}

fn rtc_handler(intid: u32) {
    SEEN.store(intid, Ordering::SeqCst);
    if intid == RTC_INTID {
        MIS_SEEN.store(read(RTCMIS), Ordering::SeqCst);
        DR_SEEN.store(read(RTCDR), Ordering::SeqCst);
        write(RTCICR, 1);
    }
}

pub fn rtc_alarm(machine: &Machine) -> TestResult {
    with_gic(machine, &[RTC_INTID], |rd| {
        distributor::configure_level_spi(RTC_INTID, PRIORITY_REGULAR, mpidr_affinity());
        distributor::enable_spi(RTC_INTID);
        SEEN.store(NONE, Ordering::SeqCst);
        irq::set_handler(Some(rtc_handler));
        let before = irq::taken();

        write(RTCICR, 1);
        let match_at = read(RTCDR).wrapping_add(AHEAD_S);
        write(RTCMR, match_at);
        write(RTCIMSC, 1);
        let backstop = Deadline::after_ms(BACKSTOP_MS);
        watchdog::arm(rd, &backstop);
        let arrived = irq::wfi_until(&backstop, || SEEN.load(Ordering::SeqCst) != NONE);
        watchdog::disarm(rd);
        write(RTCIMSC, 0);
        let ris_after = read(RTCRIS);
        write(RTCICR, 1);

        let taken = irq::taken() - before;
        let seen = SEEN.load(Ordering::SeqCst);
        let mis = MIS_SEEN.load(Ordering::SeqCst);
        let dr = DR_SEEN.load(Ordering::SeqCst);
        if !arrived {
            fail!(
                "RTCMR {match_at} (RTCDR now {}): no alarm within {BACKSTOP_MS} ms (RTCRIS={:#x}, GICD_ISPENDR has INTID {RTC_INTID}: {})",
                read(RTCDR),
                read(RTCRIS),
                distributor::is_spi_pending(RTC_INTID)
            );
        }
        if seen != RTC_INTID || taken != 1 {
            fail!("expected one IRQ with ICC_IAR1_EL1 = {RTC_INTID}, got {taken} IRQ(s), last INTID {seen}");
        }
        if mis & 1 == 0 {
            fail!("in the handler: expected RTCMIS bit 0 set, got {mis:#x}");
        }
        if dr.wrapping_sub(match_at) > 1 {
            fail!("the alarm came at RTCDR {dr}, RTCMR was {match_at}");
        }
        if ris_after & 1 != 0 {
            fail!("RTCRIS still set after the handler wrote RTCICR");
        }
        Ok(detail!(
            "INTID {seen} at RTCDR {dr} = RTCMR, before the {BACKSTOP_MS} ms backstop"
        ))
    })
}
