//! A PL031 real-time clock for a guest (Arm PrimeCell RTC, TRM DDI 0224):
//! the time of day Linux reads at boot (`rtc-pl031`, with
//! `CONFIG_RTC_HCTOSYS` setting the system clock from it) and `hwclock`
//! reads and sets.
//!
//! The counter is Aerie's wall clock plus this VM's offset: a guest that
//! loads RTCLR moves its own clock only, and keeps the offset across its
//! resets, as a battery-backed clock would. The counter always runs
//! (RTCCR.RTCstart reads 1), as QEMU's does.
//!
//! The alarm: the raw interrupt (RTCRIS) rises when the counter steps onto
//! the match value (RTCMR), and stays up until the guest writes RTCICR; the
//! line is RTCRIS masked by RTCIMSC. The device holds no timer: it says
//! which host second the next match falls on ([`Pl031::alarm`]), the owner
//! arranges to look again then ([`Pl031::irq_level`]), and a match is
//! worked out from the time whenever a register is read, so one that
//! passed while nobody looked is still seen.

use crate::mmio::MmioError;
use crate::primecell::{self, Widths};

/// Register offsets (TRM section 3.2).
pub mod regs {
    pub const DR: u64 = 0x000;
    pub const MR: u64 = 0x004;
    pub const LR: u64 = 0x008;
    pub const CR: u64 = 0x00C;
    pub const IMSC: u64 = 0x010;
    pub const RIS: u64 = 0x014;
    pub const MIS: u64 = 0x018;
    pub const ICR: u64 = 0x01C;
    pub const PERIPH_ID0: u64 = crate::primecell::PERIPH_ID0;
    /// RTCPeriphID0..3, RTCPCellID0..3 (TRM section 3.3.10 and 3.3.11):
    /// part 0x031, designer 0x41 ('A'), revision 0; the PrimeCell ID.
    pub const ID: [u8; 8] = [0x31, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1];
}

/// The register window.
pub const SIZE: u64 = primecell::WINDOW;

/// One VM's RTC.
#[derive(Clone, Debug, Default)]
pub struct Pl031 {
    /// Seconds added to the host's time (wrapping, as the 32-bit counter).
    offset: u32,
    /// RTCMR, RTCLR (the last value loaded) and RTCIMSC, as written.
    match_value: u32,
    loaded: u32,
    imsc: u32,
    /// RTCRIS as of the last look: a match the guest has not cleared.
    raw: bool,
    /// The host second at which the counter next steps onto RTCMR, if that
    /// is still to come (the one after is 2^32 seconds later: none).
    next_match: Option<u64>,
}

impl Pl031 {
    pub fn new() -> Self {
        Self::default()
    }

    /// What a reset of the VM does: the alarm registers return to zero, the
    /// time (the offset) stays, as a battery-backed clock's does.
    pub fn reset(&mut self) {
        *self = Self {
            offset: self.offset,
            ..Self::default()
        };
    }

    /// The counter (RTCDR) when the host's wall clock reads `host_secs`.
    pub fn counter(&self, host_secs: u64) -> u32 {
        (host_secs as u32).wrapping_add(self.offset)
    }

    /// RTCRIS at `host_secs`: a match that has happened and not been
    /// cleared.
    fn raw_at(&self, host_secs: u64) -> bool {
        self.raw || self.next_match.is_some_and(|t| t <= host_secs)
    }

    /// Take a match that has happened by `host_secs` into RTCRIS.
    fn latch(&mut self, host_secs: u64) {
        if self.raw_at(host_secs) {
            self.raw = true;
            self.next_match = None;
        }
    }

    /// When the counter next steps onto RTCMR, from `host_secs` on: that
    /// many seconds ahead. A counter already on it matched when it got
    /// there, and the next time is a wrap away.
    fn schedule_match(&mut self, host_secs: u64) {
        let ahead = self.match_value.wrapping_sub(self.counter(host_secs));
        self.next_match = (ahead != 0).then(|| host_secs + u64::from(ahead));
    }

    /// The interrupt line (RTCMIS bit 0) at `host_secs`.
    pub fn irq_level(&self, host_secs: u64) -> bool {
        self.imsc & 1 != 0 && self.raw_at(host_secs)
    }

    /// The host second, after `host_secs`, at which the line rises by
    /// itself, if it is low then and will: the owner looks again then. A
    /// match that has passed is no alarm any more (the line is up until the
    /// guest clears it), so an owner never sleeps until a moment gone by.
    pub fn alarm(&self, host_secs: u64) -> Option<u64> {
        (self.imsc & 1 != 0 && !self.raw_at(host_secs))
            .then_some(self.next_match)
            .flatten()
    }

    /// Guest read of `size` bytes at `offset`, the host's wall clock reading
    /// `host_secs` (seconds since the Unix epoch).
    pub fn read(&self, offset: u64, size: u8, host_secs: u64) -> Result<u32, MmioError> {
        check(offset, size)?;
        Ok(match offset {
            regs::DR => self.counter(host_secs),
            regs::MR => self.match_value,
            regs::LR => self.loaded,
            regs::CR => 1,
            regs::IMSC => self.imsc,
            regs::RIS => u32::from(self.raw_at(host_secs)),
            regs::MIS => u32::from(self.irq_level(host_secs)),
            regs::PERIPH_ID0.. => primecell::id_register(&regs::ID, offset),
            // ICR is write-only; reserved offsets read as zero.
            _ => 0,
        })
    }

    /// Guest write of `size` bytes at `offset`. Loading RTCLR sets the
    /// counter to `value` from now on; the next match moves with it.
    pub fn write(
        &mut self,
        offset: u64,
        size: u8,
        value: u32,
        host_secs: u64,
    ) -> Result<(), MmioError> {
        check(offset, size)?;
        self.latch(host_secs);
        match offset {
            regs::MR => {
                self.match_value = value;
                self.schedule_match(host_secs);
            }
            regs::LR => {
                self.loaded = value;
                self.offset = value.wrapping_sub(host_secs as u32);
                self.schedule_match(host_secs);
            }
            regs::IMSC => self.imsc = value & 1,
            regs::ICR if value & 1 != 0 => self.raw = false,
            // RTCDR, RIS, MIS and the IDs are read-only; RTCCR cannot stop
            // the counter once started; reserved offsets ignore writes.
            _ => {}
        }
        Ok(())
    }
}

/// The PL031's registers are 32 bits wide, on a 32-bit bus: every access
/// is one whole aligned register.
fn check(offset: u64, size: u8) -> Result<(), MmioError> {
    primecell::check(offset, size, Widths::WORD)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_730_700; // 2026-11-26 22:05:00 UTC

    #[test]
    fn the_counter_is_the_hosts_time_and_runs_with_it() {
        let rtc = Pl031::new();
        assert_eq!(rtc.read(regs::DR, 4, NOW), Ok(NOW as u32));
        assert_eq!(rtc.read(regs::DR, 4, NOW + 61), Ok(NOW as u32 + 61));
        assert_eq!(rtc.read(regs::CR, 4, NOW), Ok(1), "always started");
    }

    #[test]
    fn loading_moves_this_clock_only_and_it_keeps_running() {
        let mut rtc = Pl031::new();
        let other = Pl031::new();
        // `hwclock --systohc` with the guest an hour behind.
        rtc.write(regs::LR, 4, NOW as u32 - 3600, NOW).unwrap();
        assert_eq!(rtc.read(regs::DR, 4, NOW), Ok(NOW as u32 - 3600));
        assert_eq!(rtc.read(regs::DR, 4, NOW + 10), Ok(NOW as u32 - 3590));
        assert_eq!(rtc.read(regs::LR, 4, NOW + 10), Ok(NOW as u32 - 3600));
        assert_eq!(other.read(regs::DR, 4, NOW), Ok(NOW as u32));
        // The 32-bit counter wraps in 2106, both ways.
        rtc.write(regs::LR, 4, u32::MAX, NOW).unwrap();
        assert_eq!(rtc.read(regs::DR, 4, NOW + 2), Ok(1));
    }

    #[test]
    fn the_alarm_rises_when_the_counter_reaches_the_match_and_stays_until_cleared() {
        let mut rtc = Pl031::new();
        // What rtc-pl031 does for `echo +5 > wakealarm`: RTCMR, then RTCIMSC.
        rtc.write(regs::MR, 4, NOW as u32 + 5, NOW).unwrap();
        assert_eq!(rtc.alarm(NOW), None, "masked: nothing to wake for");
        rtc.write(regs::IMSC, 4, 0xFFFF_FFFF, NOW).unwrap();
        assert_eq!(rtc.read(regs::IMSC, 4, NOW), Ok(1));
        assert_eq!(rtc.alarm(NOW), Some(NOW + 5));
        assert_eq!(rtc.alarm(NOW + 4), Some(NOW + 5));
        for at in [NOW, NOW + 4] {
            assert!(!rtc.irq_level(at));
            assert_eq!(rtc.read(regs::RIS, 4, at), Ok(0));
        }
        // From the matching second on, the line is up, however late one looks.
        for at in [NOW + 5, NOW + 100] {
            assert!(rtc.irq_level(at));
            assert_eq!(rtc.read(regs::RIS, 4, at), Ok(1));
            assert_eq!(rtc.read(regs::MIS, 4, at), Ok(1));
            // Up and not yet cleared: nothing more to wake for, even
            // before anything has latched the match.
            assert_eq!(rtc.alarm(at), None);
        }
        // The handler clears it; the next match is a counter wrap away.
        rtc.write(regs::ICR, 4, 1, NOW + 6).unwrap();
        assert!(!rtc.irq_level(NOW + 7));
        assert_eq!(rtc.read(regs::RIS, 4, NOW + 7), Ok(0));
        assert_eq!(rtc.alarm(NOW + 7), None);
    }

    #[test]
    fn the_mask_gates_the_line_not_the_raw_status() {
        let mut rtc = Pl031::new();
        rtc.write(regs::MR, 4, NOW as u32 + 2, NOW).unwrap();
        assert_eq!(rtc.read(regs::RIS, 4, NOW + 3), Ok(1));
        assert_eq!(rtc.read(regs::MIS, 4, NOW + 3), Ok(0));
        assert!(!rtc.irq_level(NOW + 3));
        // Unmasked after the match: the line rises at once.
        rtc.write(regs::IMSC, 4, 1, NOW + 3).unwrap();
        assert!(rtc.irq_level(NOW + 3));
        assert_eq!(rtc.alarm(NOW + 3), None, "already up");
        // Clearing with bit 0 clear does nothing.
        rtc.write(regs::ICR, 4, 0, NOW + 3).unwrap();
        assert!(rtc.irq_level(NOW + 3));
    }

    #[test]
    fn the_match_follows_the_counter_when_it_is_loaded() {
        let mut rtc = Pl031::new();
        rtc.write(regs::MR, 4, NOW as u32 + 60, NOW).unwrap();
        rtc.write(regs::IMSC, 4, 1, NOW).unwrap();
        // The guest's clock goes 50 s ahead: the match is 10 s away.
        rtc.write(regs::LR, 4, NOW as u32 + 50, NOW).unwrap();
        assert_eq!(rtc.alarm(NOW), Some(NOW + 10));
        // A match value the counter has passed comes round only on a wrap.
        rtc.write(regs::MR, 4, NOW as u32, NOW).unwrap();
        assert_eq!(rtc.alarm(NOW), Some(NOW + (1 << 32) - 50));
        // One it stands on now has matched already.
        rtc.write(regs::MR, 4, NOW as u32 + 50, NOW).unwrap();
        assert_eq!(rtc.alarm(NOW), None);
        assert!(!rtc.irq_level(NOW + 1));
        // Another VM's clock is not touched.
        assert_eq!(Pl031::new().alarm(NOW), None);
    }

    #[test]
    fn read_only_registers_ignore_writes() {
        let mut rtc = Pl031::new();
        rtc.write(regs::DR, 4, 7, NOW).unwrap();
        rtc.write(regs::CR, 4, 0, NOW).unwrap();
        rtc.write(regs::RIS, 4, 1, NOW).unwrap();
        assert_eq!(rtc.read(regs::DR, 4, NOW), Ok(NOW as u32));
        assert_eq!(rtc.read(regs::CR, 4, NOW), Ok(1));
        assert_eq!(rtc.read(regs::RIS, 4, NOW), Ok(0));
    }

    #[test]
    fn a_reset_keeps_the_time_and_clears_the_alarm() {
        let mut rtc = Pl031::new();
        rtc.write(regs::LR, 4, NOW as u32 + 86_400, NOW).unwrap();
        rtc.write(regs::MR, 4, 5, NOW).unwrap();
        rtc.write(regs::IMSC, 4, 1, NOW).unwrap();
        assert!(rtc.alarm(NOW).is_some(), "armed, for after the wrap");
        rtc.reset();
        assert!(!rtc.irq_level(NOW));
        assert_eq!(rtc.alarm(NOW), None);
        assert_eq!(rtc.read(regs::DR, 4, NOW), Ok(NOW as u32 + 86_400));
        assert_eq!(rtc.read(regs::MR, 4, NOW), Ok(0));
        assert_eq!(rtc.read(regs::IMSC, 4, NOW), Ok(0));
        assert_eq!(rtc.read(regs::LR, 4, NOW), Ok(0));
    }

    #[test]
    fn id_registers_name_a_pl031() {
        let rtc = Pl031::new();
        let ids: Vec<u32> = (0..8)
            .map(|i| rtc.read(regs::PERIPH_ID0 + 4 * i, 4, NOW).unwrap())
            .collect();
        // What Linux's AMBA bus matches rtc-pl031 by: 0x00041031 under the
        // mask 0x000fffff.
        let periph = ids[0] | ids[1] << 8 | ids[2] << 16 | ids[3] << 24;
        assert_eq!(periph & 0x000F_FFFF, 0x0004_1031);
        let cell = ids[4] | ids[5] << 8 | ids[6] << 16 | ids[7] << 24;
        assert_eq!(cell, 0xB105_F00D);
    }

    #[test]
    fn accesses_other_than_whole_registers_are_refused() {
        let mut rtc = Pl031::new();
        assert_eq!(
            rtc.read(regs::DR, 1, NOW),
            Err(MmioError::UnsupportedSize { offset: 0, size: 1 })
        );
        assert_eq!(
            rtc.write(0x6, 4, 0, NOW),
            Err(MmioError::Misaligned { offset: 6, size: 4 })
        );
        assert_eq!(
            rtc.read(SIZE, 4, NOW),
            Err(MmioError::OutOfRange { offset: SIZE })
        );
        assert_eq!(rtc.read(0x100, 4, NOW), Ok(0), "reserved: RAZ");
    }
}
