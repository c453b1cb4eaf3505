//! The redistributors (GICR_*): per vCPU two 64 KiB frames, RD_base then
//! SGI_base, vCPU i's at 0x080A_0000 + i * 0x20000; no LPIs, no VLPI frames.
//! Same access policy as the distributor: wrong width or misalignment is an
//! `Err`, reserved offsets are RAZ/WI.

use crate::banked_regs;
use crate::distributor::{GICD_PIDR2, PIDR2_GICV3};
use crate::{access, Kick, Vgic, VgicError, IIDR};

/// Bytes of redistributor space per vCPU.
pub const GICR_STRIDE: u64 = 0x2_0000;
/// Offset of SGI_base within a vCPU's redistributor.
const SGI_BASE: u64 = 0x1_0000;

const GICR_CTLR: u64 = 0x0000;
const GICR_IIDR: u64 = 0x0004;
const GICR_TYPER: u64 = 0x0008;
const GICR_TYPER_HI: u64 = 0x000C;
const GICR_WAKER: u64 = 0x0014;
/// Same ID register location as in the distributor.
const GICR_PIDR2: u64 = GICD_PIDR2;

/// GICR_TYPER.Last: the highest redistributor of the contiguous region.
const TYPER_LAST: u64 = 1 << 4;
/// GICR_WAKER.ProcessorSleep.
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
/// GICR_WAKER.ChildrenAsleep (RO).
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

/// Which frame of which vCPU an offset lands in.
struct Target {
    vcpu: usize,
    sgi_frame: bool,
    offset: u64,
}

/// Whether a guest access at `offset_in_region` of the redistributor
/// region (inside it) neither reads nor changes any interrupt's state: the
/// RD_base frame's registers (GICR_WAKER among them, which a Linux vCPU
/// writes and polls at every power-down idle entry and exit). Such an
/// access needs no list-register sync before it and no flush after it.
pub fn redist_access_is_quiet(offset_in_region: u64) -> bool {
    let offset = offset_in_region % GICR_STRIDE;
    offset < SGI_BASE
        && matches!(
            offset & !3,
            GICR_CTLR | GICR_IIDR | GICR_TYPER | GICR_TYPER_HI | GICR_WAKER | GICR_PIDR2
        )
}

impl Vgic {
    /// Total size of the redistributor region for this VM: none on a
    /// GICv2.
    pub fn redist_size(&self) -> u64 {
        if self.v2 {
            return 0;
        }
        self.vcpus() as u64 * GICR_STRIDE
    }

    /// A guest read in the redistributor region at `offset_in_region`
    /// (relative to vCPU 0's RD_base).
    pub fn redist_read(&mut self, offset_in_region: u64, size: u8) -> Result<u64, VgicError> {
        self.check_version(false)?;
        let t = self.locate(offset_in_region, size)?;
        self.read_frame(&t, size)
            .map_err(|e| e.at(offset_in_region))
    }

    fn read_frame(&self, t: &Target, size: u8) -> Result<u64, VgicError> {
        let offset = t.offset;
        if t.sgi_frame {
            return match banked_regs::decode(offset) {
                Some(acc) => {
                    acc.check_size(offset, size)?;
                    Ok(if acc.intid < 32 {
                        banked_regs::read(&self.cpus[t.vcpu].private, acc, size)
                    } else {
                        0
                    })
                }
                None => Ok(0),
            };
        }
        // Dispatch on the containing word so a narrow access inside a
        // 32-bit register is refused by that register, not taken as RAZ.
        match offset & !3 {
            GICR_CTLR => access::word_only(offset, size).map(|_| 0),
            GICR_IIDR => access::word_only(offset, size).map(|_| u64::from(IIDR)),
            GICR_TYPER | GICR_TYPER_HI => {
                access::dword_or_word(offset, size)?;
                Ok(access::read_part(self.gicr_typer(t.vcpu), offset, size))
            }
            GICR_WAKER => {
                access::word_only(offset, size).map(|_| u64::from(self.gicr_waker(t.vcpu)))
            }
            GICR_PIDR2 => access::word_only(offset, size).map(|_| PIDR2_GICV3),
            _ => Ok(0),
        }
    }

    /// A guest write in the redistributor region.
    pub fn redist_write(
        &mut self,
        offset_in_region: u64,
        size: u8,
        value: u64,
    ) -> Result<Kick, VgicError> {
        self.check_version(false)?;
        let t = self.locate(offset_in_region, size)?;
        self.write_frame(&t, size, value)
            .map_err(|e| e.at(offset_in_region))
    }

    fn write_frame(&mut self, t: &Target, size: u8, value: u64) -> Result<Kick, VgicError> {
        let offset = t.offset;
        if t.sgi_frame {
            return match banked_regs::decode(offset) {
                Some(acc) => {
                    acc.check_size(offset, size)?;
                    if acc.intid >= 32 {
                        return Ok(Kick::NONE);
                    }
                    let bank = &mut self.cpus[t.vcpu].private;
                    let touched = banked_regs::write(bank, acc, size, value, true);
                    Ok(self.kick_for(t.vcpu, 0, touched))
                }
                None => Ok(Kick::NONE),
            };
        }
        // Dispatch on the containing word so a narrow access inside a
        // 32-bit register is refused by that register, not taken as RAZ.
        match offset & !3 {
            // GICR_CTLR: EnableLPIs is RES0 without LPIs; RWP/UWP read 0.
            GICR_CTLR | GICR_IIDR | GICR_PIDR2 => {
                access::word_only(offset, size).map(|_| Kick::NONE)
            }
            GICR_TYPER | GICR_TYPER_HI => access::dword_or_word(offset, size).map(|_| Kick::NONE),
            GICR_WAKER => {
                access::word_only(offset, size)?;
                self.cpus[t.vcpu].processor_sleep = value as u32 & WAKER_PROCESSOR_SLEEP != 0;
                Ok(Kick::NONE)
            }
            _ => Ok(Kick::NONE),
        }
    }

    fn locate(&self, offset_in_region: u64, size: u8) -> Result<Target, VgicError> {
        let vcpu = (offset_in_region / GICR_STRIDE) as usize;
        if vcpu >= self.vcpus() {
            return Err(VgicError::OutOfRange {
                offset: offset_in_region,
            });
        }
        let within = offset_in_region % GICR_STRIDE;
        access::check(within, size, GICR_STRIDE).map_err(|e| e.at(offset_in_region))?;
        let sgi_frame = within >= SGI_BASE;
        let offset = if sgi_frame { within - SGI_BASE } else { within };
        Ok(Target {
            vcpu,
            sgi_frame,
            offset,
        })
    }

    /// GICR_TYPER: Affinity_Value `[63:32]` = 0.0.0.vcpu, Processor_Number
    /// `[23:8]` = vcpu, Last `[4]` on the last vCPU; PLPIS, VLPIS, DirectLPI,
    /// PPInum (no extended PPIs) all zero.
    fn gicr_typer(&self, vcpu: usize) -> u64 {
        let v = vcpu as u64;
        let mut typer = (v << 32) | (v << 8);
        if vcpu + 1 == self.vcpus() {
            typer |= TYPER_LAST;
        }
        typer
    }

    /// GICR_WAKER: ChildrenAsleep mirrors ProcessorSleep at once (there is
    /// no real interface to quiesce).
    fn gicr_waker(&self, vcpu: usize) -> u32 {
        if self.cpus[vcpu].processor_sleep {
            WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP
        } else {
            0
        }
    }
}
