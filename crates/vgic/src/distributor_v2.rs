//! The GICv2 distributor (GICD_*, 4 KiB) as a guest of the GICv2
//! personality sees it (IHI 0048B without the Security Extensions, so both
//! interrupt groups are the guest's: GICD_CTLR has EnableGrp0 and
//! EnableGrp1). There are no redistributors: INTIDs 0..31 live here,
//! banked per CPU interface, so every access names the vCPU making it and
//! reaches that vCPU's SGIs and PPIs (the state a GICv3 guest reaches
//! through its redistributor's SGI_base frame). SPIs are routed by
//! `GICD_ITARGETSR<n>` (see `itargets`), SGIs sent by `GICD_SGIR`.
//!
//! Access policy as in the GICv3 distributor: 32-bit registers take word
//! accesses only, IPRIORITYR, ITARGETSR, CPENDSGIR and SPENDSGIR also bytes
//! (the spec's "byte-accessible"). A wrong width or a misaligned access to
//! a register is an `Err`; any aligned access to a reserved offset is
//! RAZ/WI, including 0xD00.. (IGRPMODR on a GICv3, nothing on a GICv2).

use crate::banked_regs::{self, BankedAccess, BankedReg};
use crate::sgir::Sgir;
use crate::{access, itargets, Kick, Vgic, VgicError, IIDR};

/// Size of the GICv2 distributor frame.
pub const GICD_V2_SIZE: u64 = 0x1000;

const GICD_CTLR: u64 = 0x000;
const GICD_TYPER: u64 = 0x004;
const GICD_IIDR: u64 = 0x008;
const GICD_ITARGETSR: u64 = 0x800;
const GICD_ITARGETSR_END: u64 = 0xC00;
const GICD_SGIR: u64 = 0xF00;
const GICD_CPENDSGIR: u64 = 0xF10;
const GICD_SPENDSGIR: u64 = 0xF20;
const GICD_SPENDSGIR_END: u64 = 0xF30;
const GICD_PIDR2: u64 = 0xFE8;
/// ArchRev = 2 (GICv2) in bits `[7:4]`.
const PIDR2_GICV2: u64 = 0x20;
const GICD_CIDR0: u64 = 0xFF0;
const GICD_CIDR3: u64 = 0xFFC;
/// GICD_CIDR0..3: the CoreSight component preamble, 0xB105_F00D.
const CIDR: [u8; 4] = [0x0D, 0xF0, 0x05, 0xB1];

/// GICD_CTLR bits (GICv2 without the Security Extensions).
const CTLR_ENABLE_GRP0: u32 = 1 << 0;
const CTLR_ENABLE_GRP1: u32 = 1 << 1;

/// GICD_I[SC]PENDR0 bits of the SGIs: read-only, the SGIs' pending state is
/// set and cleared through GICD_[SC]PENDSGIR instead.
const SGI_BITS: u64 = 0xFFFF;

impl Vgic {
    /// A read by `vcpu` of the GICv2 distributor at `offset` of `size` bytes.
    pub fn dist_v2_read(&mut self, vcpu: usize, offset: u64, size: u8) -> Result<u64, VgicError> {
        self.check_v2_access(vcpu, offset, size)?;
        // Dispatch on the containing word so a narrow access inside a
        // 32-bit register is refused by that register, not taken as RAZ.
        match offset & !3 {
            GICD_CTLR => access::word_only(offset, size).map(|_| u64::from(self.gicd_v2_ctlr())),
            GICD_TYPER => access::word_only(offset, size).map(|_| u64::from(self.gicd_v2_typer())),
            GICD_IIDR => access::word_only(offset, size).map(|_| u64::from(IIDR)),
            // Write-only.
            GICD_SGIR => access::word_only(offset, size).map(|_| 0),
            GICD_PIDR2 => access::word_only(offset, size).map(|_| PIDR2_GICV2),
            GICD_CIDR0..=GICD_CIDR3 => access::word_only(offset, size)
                .map(|_| u64::from(CIDR[((offset - GICD_CIDR0) / 4) as usize])),
            GICD_ITARGETSR..GICD_ITARGETSR_END => {
                access::byte_or_word(offset, size)?;
                let first = (offset - GICD_ITARGETSR) as u32;
                Ok(bytes(size, |i| self.itargetsr_byte(vcpu, first + i)))
            }
            GICD_CPENDSGIR..GICD_SPENDSGIR_END => {
                access::byte_or_word(offset, size)?;
                // Both read the same: 0x01 in the byte of each pending SGI
                // (one pending bit per SGI, not per source; crate docs).
                let first = (offset % 16) as u32;
                let pending = self.cpus[vcpu].private.visible_pending();
                Ok(bytes(size, |i| (pending >> (first + i)) as u8 & 1))
            }
            _ => match v2_banked(offset) {
                Some(acc) => {
                    acc.check_size(offset, size)?;
                    Ok(match self.bank(vcpu, acc.intid) {
                        Some(bank) => banked_regs::read(bank, acc, size),
                        None => 0,
                    })
                }
                None => Ok(0),
            },
        }
    }

    /// A write by `vcpu` of `value` (`size` bytes) to the GICv2 distributor
    /// at `offset`; the [`Kick`] names vCPUs whose deliverable set changed.
    pub fn dist_v2_write(
        &mut self,
        vcpu: usize,
        offset: u64,
        size: u8,
        value: u64,
    ) -> Result<Kick, VgicError> {
        self.check_v2_access(vcpu, offset, size)?;
        // Dispatch on the containing word so a narrow access inside a
        // 32-bit register is refused by that register, not taken as RAZ.
        match offset & !3 {
            GICD_CTLR => {
                access::word_only(offset, size)?;
                Ok(self.write_gicd_ctlr(value as u32))
            }
            GICD_TYPER | GICD_IIDR | GICD_PIDR2 | GICD_CIDR0..=GICD_CIDR3 => {
                access::word_only(offset, size).map(|_| Kick::NONE)
            }
            GICD_SGIR => {
                access::word_only(offset, size)?;
                let sgir = Sgir::decode(value as u32);
                Ok(self.raise_sgi(sgir.intid, sgir.targets(vcpu, self.vcpus())))
            }
            GICD_ITARGETSR..GICD_ITARGETSR_END => {
                access::byte_or_word(offset, size)?;
                let first = (offset - GICD_ITARGETSR) as u32;
                let mut kick = Kick::NONE;
                for i in 0..u32::from(size) {
                    kick |= self.write_itargetsr_byte(first + i, (value >> (8 * i)) as u8);
                }
                Ok(kick)
            }
            GICD_CPENDSGIR..GICD_SPENDSGIR_END => {
                access::byte_or_word(offset, size)?;
                // Any source bit set in an SGI's byte sets (clears) its one
                // pending bit.
                let first = (offset % 16) as u32;
                let sgis = (0..u32::from(size))
                    .filter(|i| (value >> (8 * i)) as u8 != 0)
                    .fold(0u64, |m, i| m | 1 << (first + i));
                let reg = if offset < GICD_SPENDSGIR {
                    BankedReg::ICPendR
                } else {
                    BankedReg::ISPendR
                };
                Ok(self.write_v2_banked(vcpu, BankedAccess { reg, intid: 0 }, 4, sgis))
            }
            _ => match v2_banked(offset) {
                Some(acc) => {
                    acc.check_size(offset, size)?;
                    let value = match acc.reg {
                        BankedReg::ISPendR | BankedReg::ICPendR if acc.intid == 0 => {
                            value & !SGI_BITS
                        }
                        _ => value,
                    };
                    Ok(self.write_v2_banked(vcpu, acc, size, value))
                }
                None => Ok(Kick::NONE),
            },
        }
    }

    /// The checks every GICv2 distributor access goes through: the right
    /// version, an accessing vCPU that exists, and a legal shape.
    fn check_v2_access(&self, vcpu: usize, offset: u64, size: u8) -> Result<(), VgicError> {
        self.check_version(true)?;
        if vcpu >= self.vcpus() {
            return Err(VgicError::NoSuchVcpu { vcpu });
        }
        access::check(offset, size, GICD_V2_SIZE)
    }

    /// A per-INTID register write: `vcpu`'s own bank for INTIDs 0..31 (whose
    /// SGI configuration is read-only), the shared one for SPIs; INTIDs
    /// beyond the SPIs are WI.
    fn write_v2_banked(&mut self, vcpu: usize, acc: BankedAccess, size: u8, value: u64) -> Kick {
        let Some(bank) = self.bank_mut(vcpu, acc.intid) else {
            return Kick::NONE;
        };
        let touched = banked_regs::write(bank, acc, size, value, acc.intid < 32);
        self.kick_for(vcpu, acc.intid & !31, touched)
    }

    /// GICD_CTLR: the two group enables, nothing else.
    fn gicd_v2_ctlr(&self) -> u32 {
        let mut v = 0;
        if self.groups.grp0 {
            v |= CTLR_ENABLE_GRP0;
        }
        if self.groups.grp1 {
            v |= CTLR_ENABLE_GRP1;
        }
        v
    }

    /// GICD_TYPER: ITLinesNumber `[4:0]` = SPIs / 32 (INTIDs up to
    /// 32 * (N + 1) - 1), CPUNumber `[7:5]` = vCPUs - 1, SecurityExtn `[10]`
    /// = 0, LSPI `[15:11]` = 0.
    fn gicd_v2_typer(&self) -> u32 {
        let cpu_number = (self.vcpus() as u32 - 1) << 5;
        cpu_number | (self.spi_count() / 32)
    }

    /// The GICD_ITARGETSR byte of `intid` as `vcpu` reads it.
    fn itargetsr_byte(&self, vcpu: usize, intid: u32) -> u8 {
        if intid < 32 {
            return itargets::private_byte(vcpu);
        }
        self.router
            .get((intid - 32) as usize)
            .map_or(0, |&reg| reg as u8)
    }

    /// A write of GICD_ITARGETSR byte `intid`: SPIs are re-routed, the
    /// private bytes are read-only, INTIDs beyond the SPIs are WI.
    fn write_itargetsr_byte(&mut self, intid: u32, byte: u8) -> Kick {
        let Some(spi) = self.spi_index(intid) else {
            return Kick::NONE;
        };
        let reg = itargets::stored(byte, self.vcpus());
        self.reroute(spi, u64::from(reg))
    }
}

/// The per-INTID register at `offset`: those of the GICv3 block that a
/// GICv2 has at the same offsets (all but IGRPMODR).
fn v2_banked(offset: u64) -> Option<BankedAccess> {
    banked_regs::decode(offset).filter(|acc| acc.reg != BankedReg::IGrpModR)
}

/// `size` one-byte fields as a register value, byte `i` being `byte(i)`.
fn bytes(size: u8, byte: impl Fn(u32) -> u8) -> u64 {
    (0..u32::from(size)).fold(0, |v, i| v | u64::from(byte(i)) << (8 * i))
}
