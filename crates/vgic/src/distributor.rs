//! The distributor register file (GICD_*, 64 KiB at 0x0800_0000) as the
//! guest sees it: single security state (DS = 1), affinity routing always
//! on (ARE = 1, so INTIDs 0..31 live in the redistributors and their
//! distributor registers are RAZ/WI), no LPIs, no message-based SPIs.
//!
//! Access policy: 32-bit registers take word accesses only, IPRIORITYR also
//! bytes, IROUTER a doubleword or either word half. A wrong width or a
//! misaligned access to a register is an `Err` (the hypervisor injects an
//! external abort); any aligned access to a reserved or unimplemented
//! offset is RAZ/WI, as the spec requires of reserved locations.

use crate::banked_regs::{self, BankedAccess};
use crate::{access, router, Kick, Vgic, VgicError, IIDR};

/// Size of the distributor frame.
pub const GICD_SIZE: u64 = 0x1_0000;

const GICD_CTLR: u64 = 0x0000;
const GICD_TYPER: u64 = 0x0004;
const GICD_IIDR: u64 = 0x0008;
const GICD_TYPER2: u64 = 0x000C;
const GICD_IROUTER: u64 = 0x6000;
const GICD_IROUTER_END: u64 = 0x7FE0;
/// Peripheral ID2: ArchRev in bits `[7:4]`.
pub(crate) const GICD_PIDR2: u64 = 0xFFE8;
/// ArchRev = 3 (GICv3), what Linux checks before trusting the frame.
pub(crate) const PIDR2_GICV3: u64 = 0x30;

/// GICD_CTLR (DS = 1 layout) bits.
const CTLR_ENABLE_GRP0: u32 = 1 << 0;
const CTLR_ENABLE_GRP1: u32 = 1 << 1;
const CTLR_ARE: u32 = 1 << 4;
const CTLR_DS: u32 = 1 << 6;

/// GICD_TYPER.IDbits = 9: INTIDs have 10 bits (up to 1019, no LPIs).
const TYPER_IDBITS: u32 = 9 << 19;

/// Whether a guest access to the distributor at `offset` neither reads
/// nor changes any interrupt's state or the group enables: the
/// identification registers, and GICD_CTLR read. Such an access needs no
/// list-register sync before it and no flush after it.
pub fn dist_access_is_quiet(offset: u64, write: bool) -> bool {
    match offset & !3 {
        GICD_CTLR => !write,
        GICD_TYPER | GICD_IIDR | GICD_TYPER2 | GICD_PIDR2 => true,
        _ => false,
    }
}

impl Vgic {
    /// A guest read of the distributor at `offset` of `size` bytes.
    pub fn dist_read(&mut self, offset: u64, size: u8) -> Result<u64, VgicError> {
        self.check_version(false)?;
        access::check(offset, size, GICD_SIZE)?;
        // Dispatch on the containing word so a narrow access inside a
        // 32-bit register is refused by that register, not taken as RAZ.
        match offset & !3 {
            GICD_CTLR => access::word_only(offset, size).map(|_| u64::from(self.gicd_ctlr())),
            GICD_TYPER => access::word_only(offset, size).map(|_| u64::from(self.gicd_typer())),
            GICD_IIDR => access::word_only(offset, size).map(|_| u64::from(IIDR)),
            GICD_TYPER2 => access::word_only(offset, size).map(|_| 0),
            GICD_PIDR2 => access::word_only(offset, size).map(|_| PIDR2_GICV3),
            GICD_IROUTER..GICD_IROUTER_END => {
                access::dword_or_word(offset, size)?;
                let reg = self.irouter_index(offset).map_or(0, |spi| self.router[spi]);
                Ok(access::read_part(reg, offset, size))
            }
            _ => match banked_regs::decode(offset) {
                Some(acc) => {
                    acc.check_size(offset, size)?;
                    Ok(match self.spi_bank(acc) {
                        Some(bank) => banked_regs::read(&self.spis[bank], acc, size),
                        None => 0,
                    })
                }
                None => Ok(0),
            },
        }
    }

    /// A guest write of `value` (`size` bytes) to the distributor at
    /// `offset`; the [`Kick`] names vCPUs whose deliverable set changed.
    pub fn dist_write(&mut self, offset: u64, size: u8, value: u64) -> Result<Kick, VgicError> {
        self.check_version(false)?;
        access::check(offset, size, GICD_SIZE)?;
        // Dispatch on the containing word so a narrow access inside a
        // 32-bit register is refused by that register, not taken as RAZ.
        match offset & !3 {
            GICD_CTLR => {
                access::word_only(offset, size)?;
                Ok(self.write_gicd_ctlr(value as u32))
            }
            GICD_TYPER | GICD_IIDR | GICD_TYPER2 | GICD_PIDR2 => {
                access::word_only(offset, size).map(|_| Kick::NONE)
            }
            GICD_IROUTER..GICD_IROUTER_END => {
                access::dword_or_word(offset, size)?;
                Ok(match self.irouter_index(offset) {
                    Some(spi) => self.write_irouter(spi, offset, size, value),
                    None => Kick::NONE,
                })
            }
            _ => match banked_regs::decode(offset) {
                Some(acc) => {
                    acc.check_size(offset, size)?;
                    let Some(bank) = self.spi_bank(acc) else {
                        return Ok(Kick::NONE);
                    };
                    let touched = banked_regs::write(&mut self.spis[bank], acc, size, value, false);
                    Ok(self.kick_for(0, acc.intid & !31, touched))
                }
                None => Ok(Kick::NONE),
            },
        }
    }

    /// GICD_CTLR: ARE and DS read as one (RAO/WI), RWP as zero (writes take
    /// effect at once).
    fn gicd_ctlr(&self) -> u32 {
        let mut v = CTLR_ARE | CTLR_DS;
        if self.groups.grp0 {
            v |= CTLR_ENABLE_GRP0;
        }
        if self.groups.grp1 {
            v |= CTLR_ENABLE_GRP1;
        }
        v
    }

    /// The group enables of a GICD_CTLR write (bits 0 and 1 in both the
    /// GICv3 DS = 1 and the GICv2 layouts); every other bit is ignored.
    pub(crate) fn write_gicd_ctlr(&mut self, value: u32) -> Kick {
        let before = self.groups;
        self.groups.grp0 = value & CTLR_ENABLE_GRP0 != 0;
        self.groups.grp1 = value & CTLR_ENABLE_GRP1 != 0;
        if self.groups == before {
            Kick::NONE
        } else {
            self.everyone()
        }
    }

    /// GICD_TYPER: ITLinesNumber = SPIs / 32 (INTIDs up to 32 * (N + 1) - 1),
    /// CPUNumber = vCPUs - 1, SecurityExtn = 0, MBIS = LPIS = 0,
    /// IDbits = 9, A3V = 0, No1N = 0 (1-of-N routing supported), RSS = 0.
    fn gicd_typer(&self) -> u32 {
        let it_lines = self.spi_count() / 32;
        let cpu_number = (self.vcpus() as u32 - 1) << 5;
        TYPER_IDBITS | cpu_number | it_lines
    }

    /// The SPI bank index a per-INTID access addresses, or `None` for the
    /// RAZ/WI ones (INTIDs 0..31 under ARE, INTIDs beyond the SPIs).
    fn spi_bank(&self, acc: BankedAccess) -> Option<usize> {
        if acc.intid < 32 || acc.intid >= self.intid_limit() {
            return None;
        }
        Some((acc.intid / 32 - 1) as usize)
    }

    /// SPI index of `GICD_IROUTER<n>` at `offset` (n = 32.. are SPIs).
    fn irouter_index(&self, offset: u64) -> Option<usize> {
        let n = ((offset - GICD_IROUTER) / 8) as u32;
        (32..self.intid_limit())
            .contains(&n)
            .then(|| (n - 32) as usize)
    }

    fn write_irouter(&mut self, spi: usize, offset: u64, size: u8, value: u64) -> Kick {
        let reg = access::write_part(self.router[spi], offset, size, value) & router::WRITABLE;
        self.reroute(spi, reg)
    }
}
