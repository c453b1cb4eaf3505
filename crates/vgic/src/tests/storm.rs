//! A guest gone wrong: seeded pseudo-random distributor and redistributor
//! accesses, device lines, SGIs and list-register round trips thrown at the
//! vGIC. It runs in EL2 with guest-controlled offsets, sizes and values, so
//! whatever it is given it must not panic, must refuse bad shapes with an
//! `Err`, and must keep what the GICv3 spec and this crate promise:
//!
//! - configuration registers (CTLR, IGROUPR, I[SC]ENABLER, IPRIORITYR with
//!   5 implemented bits, ICFGR, IROUTER, WAKER) read back what a reference
//!   model of the spec says; ID registers never change; unimplemented
//!   INTIDs and reserved offsets read as zero;
//! - a list register only ever carries an implemented INTID routed to that
//!   vCPU, at its programmed priority and group; a pending one is enabled
//!   and group-enabled; no interrupt sits in two list registers; the order
//!   is active first, then priority, then INTID;
//! - the WFI check (`pending_irq`) agrees with what flush delivers, and a
//!   call that makes something deliverable to a vCPU kicks it;
//! - vCPU indices out of range are refused or ignored, never a panic.
//!
//! The same storm drives the GICv2 personality through its 4 KiB
//! distributor (`dist_v2_*`, banked per vCPU, SPIs routed by ITARGETSR,
//! SGIs sent through GICD_SGIR), with list registers passed through the
//! GICH_LR format and back, and checks the GICv3 calls are refused.

/// What the storm puts in list-register slots before a flush: flush must
/// leave the ones it does not fill alone.
const UNTOUCHED: u64 = 0xDEAD_BEEF;

use crate::{FlushResult, Kick, ListRegister, LrState, Vgic, VgicError, IIDR};
use aerie_testrng::Rng;

const GICD_SIZE: u64 = 0x1_0000;
const GICD_V2_SIZE: u64 = 0x1000;
const GICR_STRIDE: u64 = 0x2_0000;
const SGI_BASE: u64 = 0x1_0000;
const PRIORITY_MASK: u8 = 0xF8;
/// GICD_IROUTER: IRM, Aff2, Aff1, Aff0 (Aff3 RES0 as GICD_TYPER.A3V = 0).
const IROUTER_WRITABLE: u64 = (1 << 31) | 0xFF_FFFF;

/// The per-INTID registers at the same offsets in GICD and GICR SGI_base.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reg {
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
    Priority,
    Config,
    GroupModifier,
}

/// The register at `offset` and the first INTID it covers (spec register
/// maps, chapter 12).
fn decode(offset: u64) -> Option<(Reg, u32)> {
    let bitwise = |base: u64| ((offset - base) / 4 * 32) as u32;
    Some(match offset {
        0x0080..=0x00FF => (Reg::Group, bitwise(0x0080)),
        0x0100..=0x017F => (Reg::SetEnable, bitwise(0x0100)),
        0x0180..=0x01FF => (Reg::ClearEnable, bitwise(0x0180)),
        0x0200..=0x027F => (Reg::SetPending, bitwise(0x0200)),
        0x0280..=0x02FF => (Reg::ClearPending, bitwise(0x0280)),
        0x0300..=0x037F => (Reg::SetActive, bitwise(0x0300)),
        0x0380..=0x03FF => (Reg::ClearActive, bitwise(0x0380)),
        0x0400..=0x07FF => (Reg::Priority, (offset - 0x0400) as u32),
        0x0C00..=0x0CFF => (Reg::Config, ((offset - 0x0C00) / 4 * 16) as u32),
        0x0D00..=0x0D7F => (Reg::GroupModifier, bitwise(0x0D00)),
        _ => return None,
    })
}

/// Which access widths a register takes (crate docs: 32-bit registers
/// words only, the byte-accessible ones (IPRIORITYR; on a GICv2 ITARGETSR
/// and [SC]PENDSGIR too) also bytes, 64-bit ones doublewords or either word
/// half, reserved offsets anything aligned).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Word,
    Bytes,
    Dword,
    Reserved,
}

impl Class {
    fn takes(self, size: u8) -> bool {
        match self {
            Class::Word => size == 4,
            Class::Bytes => size == 1 || size == 4,
            Class::Dword => size == 4 || size == 8,
            Class::Reserved => true,
        }
    }
}

fn banked_class(word: u64) -> Class {
    match decode(word) {
        Some((Reg::Priority, _)) => Class::Bytes,
        Some(_) => Class::Word,
        None => Class::Reserved,
    }
}

fn dist_class(word: u64) -> Class {
    match word {
        0x0000 | 0x0004 | 0x0008 | 0x000C | 0xFFE8 => Class::Word,
        0x6000..=0x7FDF => Class::Dword,
        _ => banked_class(word),
    }
}

/// The GICv2 distributor: no IGRPMODR (0xD00.. is reserved).
fn dist_v2_class(word: u64) -> Class {
    match word {
        0x0000 | 0x0004 | 0x0008 | 0x0F00 | 0x0FE8 | 0x0FF0..=0x0FFC => Class::Word,
        0x0800..=0x0BFF | 0x0F10..=0x0F2F => Class::Bytes,
        0x0D00..=0x0D7F => Class::Reserved,
        _ => banked_class(word),
    }
}

fn rd_class(word: u64) -> Class {
    match word {
        0x0000 | 0x0004 | 0x0014 | 0xFFE8 => Class::Word,
        0x0008 | 0x000C => Class::Dword,
        _ => Class::Reserved,
    }
}

/// Width, alignment and range checks every access goes through; `report`
/// is the offset the error must name.
fn frame_check(offset: u64, size: u8, limit: u64, report: u64) -> Result<(), VgicError> {
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(VgicError::BadSize {
            offset: report,
            size,
        });
    }
    if !offset.is_multiple_of(u64::from(size)) {
        return Err(VgicError::Misaligned {
            offset: report,
            size,
        });
    }
    if offset > limit - u64::from(size) {
        return Err(VgicError::OutOfRange { offset: report });
    }
    Ok(())
}

/// Reference state of one bank of 32 INTIDs: only what the spec makes
/// plain read/write configuration (pending and active are the model's
/// business and are checked through their effects).
#[derive(Clone)]
struct Bank {
    group1: u32,
    enabled: u32,
    edge: u32,
    priority: [u8; 32],
    hw: u32,
    pintid: [u16; 32],
    line: u32,
}

impl Bank {
    fn new(edge: u32) -> Bank {
        Bank {
            group1: 0,
            enabled: 0,
            edge,
            priority: [0; 32],
            hw: 0,
            pintid: [0; 32],
            line: 0,
        }
    }

    /// What a read of `reg` returns, `None` for pending/active.
    fn read(&self, reg: Reg, intid: u32, size: u8) -> Option<u64> {
        let lo = intid % 32;
        Some(u64::from(match reg {
            Reg::Group => self.group1,
            Reg::SetEnable | Reg::ClearEnable => self.enabled,
            Reg::Priority => {
                return Some((0..u32::from(size)).fold(0, |v, i| {
                    v | u64::from(self.priority[(lo + i) as usize]) << (8 * i)
                }))
            }
            Reg::Config => (0..16)
                .filter(|i| self.edge & (1 << (lo + i)) != 0)
                .fold(0, |v, i| v | 2 << (2 * i)),
            Reg::GroupModifier => 0,
            _ => return None,
        }))
    }

    fn write(&mut self, reg: Reg, intid: u32, size: u8, value: u64, sgis_fixed: bool) {
        let lo = intid % 32;
        let bits = value as u32;
        match reg {
            Reg::Group => self.group1 = bits,
            Reg::SetEnable => self.enabled |= bits,
            Reg::ClearEnable => self.enabled &= !bits,
            Reg::Priority => {
                for i in 0..u32::from(size) {
                    self.priority[(lo + i) as usize] = (value >> (8 * i)) as u8 & PRIORITY_MASK;
                }
            }
            // GICR_ICFGR0: SGIs are always edge-triggered (read-only).
            Reg::Config if sgis_fixed && lo == 0 => {}
            Reg::Config => {
                for i in 0..16 {
                    let edge = bits & (2 << (2 * i)) != 0;
                    let bit = 1 << (lo + i);
                    self.edge = if edge {
                        self.edge | bit
                    } else {
                        self.edge & !bit
                    };
                }
            }
            _ => {}
        }
    }
}

/// The reference model next to the vGIC under test.
struct Shadow {
    /// The GICv2 personality: `router` holds ITARGETSR bytes.
    v2: bool,
    vcpus: usize,
    spis: u32,
    grp0: bool,
    grp1: bool,
    private: Vec<Bank>,
    shared: Vec<Bank>,
    router: Vec<u64>,
    sleep: Vec<bool>,
}

impl Shadow {
    fn new(vcpus: usize, spis: u32, v2: bool) -> Shadow {
        // ITARGETSR resets to no CPU; a uniprocessor's to its one CPU.
        let route = u64::from(v2 && vcpus == 1);
        Shadow {
            v2,
            vcpus,
            spis,
            grp0: false,
            grp1: false,
            private: vec![Bank::new(0xFFFF); vcpus],
            shared: vec![Bank::new(0); (spis / 32) as usize],
            router: vec![route; spis as usize],
            sleep: vec![true; vcpus],
        }
    }

    /// `Vgic::reset`: everything back to reset except hardware mappings.
    fn reset(&mut self) {
        let mut fresh = Shadow::new(self.vcpus, self.spis, self.v2);
        for (new, old) in fresh
            .private
            .iter_mut()
            .chain(fresh.shared.iter_mut())
            .zip(self.private.iter().chain(self.shared.iter()))
        {
            new.hw = old.hw;
            new.pintid = old.pintid;
        }
        *self = fresh;
    }

    fn limit(&self) -> u32 {
        32 + self.spis
    }

    /// The bank holding `intid` as `vcpu` sees it.
    fn bank(&self, vcpu: usize, intid: u32) -> &Bank {
        if intid < 32 {
            &self.private[vcpu]
        } else {
            &self.shared[(intid / 32 - 1) as usize]
        }
    }

    /// Mutable [`Shadow::bank`].
    fn bank_mut(&mut self, vcpu: usize, intid: u32) -> &mut Bank {
        if intid < 32 {
            &mut self.private[vcpu]
        } else {
            &mut self.shared[(intid / 32 - 1) as usize]
        }
    }

    /// GICD_IROUTER semantics for Aerie's flat topology: 1 of N, or
    /// Aff2.Aff1 = 0 and Aff0 a vCPU that exists. On a GICv2, the
    /// ITARGETSR byte names the vCPU.
    fn routed(&self, intid: u32, vcpu: usize) -> bool {
        let r = self.router[(intid - 32) as usize];
        if self.v2 {
            return r & (1 << vcpu) != 0;
        }
        r & (1 << 31) != 0 || (r & 0xFF_FF00 == 0 && (r & 0xFF) as usize == vcpu)
    }

    /// What a GICv2 SPI's ITARGETSR byte keeps of `byte`: the CPUs that
    /// exist; a uniprocessor's always targets its CPU.
    fn stored_targets(&self, byte: u8) -> u64 {
        if self.vcpus == 1 {
            return 1;
        }
        u64::from(byte) & ((1 << self.vcpus) - 1)
    }

    /// GICD_ITARGETSR byte `intid` as `vcpu` reads it.
    fn target_byte(&self, vcpu: usize, intid: u32) -> u64 {
        if intid < 32 {
            1 << vcpu
        } else if intid < self.limit() {
            self.router[(intid - 32) as usize]
        } else {
            0
        }
    }

    /// Like [`Shadow::dist_expect`] for the GICv2 distributor, accessed by
    /// `vcpu`.
    fn dist_v2_expect(&self, vcpu: usize, offset: u64, size: u8) -> Result<Option<u64>, VgicError> {
        if vcpu >= self.vcpus {
            return Err(VgicError::NoSuchVcpu { vcpu });
        }
        frame_check(offset, size, GICD_V2_SIZE, offset)?;
        let word = offset & !3;
        if !dist_v2_class(word).takes(size) {
            return Err(VgicError::BadSize { offset, size });
        }
        let grp = u64::from(self.grp0) | u64::from(self.grp1) << 1;
        Ok(match word {
            0x0000 => Some(grp),
            0x0004 => Some(((self.vcpus as u64 - 1) << 5) | u64::from(self.spis / 32)),
            0x0008 => Some(u64::from(IIDR)),
            0x0FE8 => Some(0x20),
            0x0FF0..=0x0FFC => Some([0x0D, 0xF0, 0x05, 0xB1][((word - 0x0FF0) / 4) as usize]),
            0x0800..=0x0BFF => {
                let first = (offset - 0x0800) as u32;
                Some(
                    (0..u32::from(size))
                        .fold(0, |v, i| v | self.target_byte(vcpu, first + i) << (8 * i)),
                )
            }
            // SGI pending state: checked through its effects.
            0x0F10..=0x0F2F => None,
            0x0D00..=0x0D7F => Some(0),
            _ => match decode(offset) {
                Some((reg, intid)) if intid < self.limit() => {
                    self.bank(vcpu, intid).read(reg, intid, size)
                }
                _ => Some(0),
            },
        })
    }

    fn dist_v2_apply(&mut self, vcpu: usize, offset: u64, size: u8, value: u64) {
        match offset & !3 {
            0x0000 => {
                self.grp0 = value & 1 != 0;
                self.grp1 = value & 2 != 0;
            }
            0x0800..=0x0BFF => {
                for i in 0..u32::from(size) {
                    let intid = (offset - 0x0800) as u32 + i;
                    if (32..self.limit()).contains(&intid) {
                        let stored = self.stored_targets((value >> (8 * i)) as u8);
                        self.router[(intid - 32) as usize] = stored;
                    }
                }
            }
            0x0D00..=0x0D7F => {}
            _ => {
                if let Some((reg, intid)) = decode(offset) {
                    if intid < self.limit() {
                        self.bank_mut(vcpu, intid)
                            .write(reg, intid, size, value, intid < 32);
                    }
                }
            }
        }
    }

    /// The result a distributor access must have; `Ok(Some(v))` is the
    /// value a read must return, `Ok(None)` a value not modelled here.
    fn dist_expect(&self, offset: u64, size: u8) -> Result<Option<u64>, VgicError> {
        frame_check(offset, size, GICD_SIZE, offset)?;
        let word = offset & !3;
        if !dist_class(word).takes(size) {
            return Err(VgicError::BadSize { offset, size });
        }
        let grp = u64::from(self.grp0) | u64::from(self.grp1) << 1;
        Ok(match word {
            0x0000 => Some(0x50 | grp),
            0x0004 => Some((9 << 19) | ((self.vcpus as u64 - 1) << 5) | u64::from(self.spis / 32)),
            0x0008 => Some(u64::from(IIDR)),
            0x000C => Some(0),
            0xFFE8 => Some(0x30),
            0x6000..=0x7FDF => {
                let n = ((offset - 0x6000) / 8) as u32;
                let reg = if (32..self.limit()).contains(&n) {
                    self.router[(n - 32) as usize]
                } else {
                    0
                };
                Some(part(reg, offset, size))
            }
            _ => match decode(offset) {
                Some((reg, intid)) if (32..self.limit()).contains(&intid) => {
                    self.bank(0, intid).read(reg, intid, size)
                }
                _ => Some(0),
            },
        })
    }

    fn dist_apply(&mut self, offset: u64, size: u8, value: u64) {
        match offset & !3 {
            0x0000 => {
                self.grp0 = value & 1 != 0;
                self.grp1 = value & 2 != 0;
            }
            0x6000..=0x7FDF => {
                let n = ((offset - 0x6000) / 8) as u32;
                if (32..self.limit()).contains(&n) {
                    let r = &mut self.router[(n - 32) as usize];
                    *r = write_part(*r, offset, size, value) & IROUTER_WRITABLE;
                }
            }
            _ => {
                if let Some((reg, intid)) = decode(offset) {
                    if (32..self.limit()).contains(&intid) {
                        self.shared[(intid / 32 - 1) as usize]
                            .write(reg, intid, size, value, false);
                    }
                }
            }
        }
    }

    /// Like [`Shadow::dist_expect`] for the redistributor region.
    fn redist_expect(&self, offset: u64, size: u8) -> Result<Option<u64>, VgicError> {
        let vcpu = offset / GICR_STRIDE;
        if vcpu >= self.vcpus as u64 {
            return Err(VgicError::OutOfRange { offset });
        }
        let vcpu = vcpu as usize;
        let within = offset % GICR_STRIDE;
        frame_check(within, size, GICR_STRIDE, offset)?;
        if within >= SGI_BASE {
            let o = within - SGI_BASE;
            if !banked_class(o & !3).takes(size) {
                return Err(VgicError::BadSize { offset, size });
            }
            return Ok(match decode(o) {
                Some((reg, intid)) if intid < 32 => self.private[vcpu].read(reg, intid, size),
                _ => Some(0),
            });
        }
        if !rd_class(within & !3).takes(size) {
            return Err(VgicError::BadSize { offset, size });
        }
        let v = vcpu as u64;
        let last = if vcpu + 1 == self.vcpus { 1 << 4 } else { 0 };
        Ok(Some(match within & !3 {
            0x0004 => u64::from(IIDR),
            0x0008 | 0x000C => part((v << 32) | (v << 8) | last, within, size),
            0x0014 if self.sleep[vcpu] => 0b110,
            0xFFE8 => 0x30,
            _ => 0,
        }))
    }

    fn redist_apply(&mut self, offset: u64, size: u8, value: u64) {
        let vcpu = (offset / GICR_STRIDE) as usize;
        let within = offset % GICR_STRIDE;
        if within >= SGI_BASE {
            if let Some((reg, intid)) = decode(within - SGI_BASE) {
                if intid < 32 {
                    self.private[vcpu].write(reg, intid, size, value, true);
                }
            }
        } else if within & !3 == 0x0014 {
            self.sleep[vcpu] = value & 2 != 0;
        }
    }
}

/// `size` bytes at byte `offset & 7` of a 64-bit register.
fn part(reg: u64, offset: u64, size: u8) -> u64 {
    let v = reg >> ((offset & 7) * 8);
    if size == 8 {
        v
    } else {
        v & ((1 << (u64::from(size) * 8)) - 1)
    }
}

fn write_part(reg: u64, offset: u64, size: u8, value: u64) -> u64 {
    if size == 8 {
        return value;
    }
    let shift = (offset & 7) * 8;
    let mask = ((1u64 << (u64::from(size) * 8)) - 1) << shift;
    (reg & !mask) | ((value << shift) & mask)
}

/// A register offset inside a GICD / SGI_base per-INTID block: mostly an
/// INTID that exists, sometimes any of the 1024.
fn banked_offset(rng: &mut Rng, intid_range: u32) -> (u64, u8) {
    let intid = if rng.chance(85) {
        rng.below(u64::from(intid_range))
    } else {
        rng.below(1024)
    };
    let bitwise = rng.pick(&[
        0x0080, 0x0100, 0x0180, 0x0200, 0x0280, 0x0300, 0x0380, 0x0D00,
    ]);
    match rng.below(10) {
        0..=4 => (bitwise + intid / 32 * 4, 4),
        5 | 6 => (0x0400 + intid, 1),
        7 => (0x0400 + (intid & !3), 4),
        _ => (0x0C00 + intid / 16 * 4, 4),
    }
}

/// A plausible distributor access, or (sometimes) anything at all.
fn dist_access(rng: &mut Rng, limit: u32) -> (u64, u8) {
    let (offset, size) = match rng.below(20) {
        0 => (rng.pick(&[0x0000, 0x0004, 0x0008, 0x000C, 0xFFE8]), 4),
        1 | 2 => (0x0000, 4), // GICD_CTLR
        3 | 4 => {
            let n = if rng.chance(85) {
                32 + rng.below(u64::from(limit - 32) + 8)
            } else {
                rng.below(1024)
            };
            match rng.below(3) {
                0 => (0x6000 + 8 * n, 4),
                1 => (0x6004 + 8 * n, 4),
                _ => (0x6000 + 8 * n, 8),
            }
        }
        // Reserved and legacy: STATUSR, SETSPI, ITARGETSR, NSACR, SGIR,
        // [SC]PENDSGIR, ID space.
        5 => (
            rng.pick(&[
                0x0010, 0x0040, 0x0820, 0x0E00, 0x0F00, 0x0F10, 0x0F20, 0x2000, 0xFFD0,
            ]),
            4,
        ),
        6 | 7 => return wild(rng, GICD_SIZE),
        _ => banked_offset(rng, limit),
    };
    skew(rng, offset, size)
}

/// A plausible redistributor access for a vCPU that may not exist.
fn redist_access(rng: &mut Rng, vcpus: usize) -> (u64, u8) {
    let vcpu = rng.below(vcpus as u64 + 2);
    let (offset, size) = match rng.below(10) {
        0 | 1 => (
            rng.pick(&[0x0000, 0x0004, 0x0014, 0x0014, 0xFFE8, 0x0010, 0x0070]),
            4,
        ),
        2 => rng.pick(&[(0x0008, 8), (0x0008, 4), (0x000C, 4)]),
        3 => return wild(rng, vcpus as u64 * GICR_STRIDE),
        _ => {
            let (o, s) = banked_offset(rng, 32);
            (SGI_BASE + o, s)
        }
    };
    skew(rng, vcpu * GICR_STRIDE + offset, size)
}

/// A plausible GICv2 distributor access, or (sometimes) anything at all.
fn dist_v2_access(rng: &mut Rng, limit: u32) -> (u64, u8) {
    let (offset, size) = match rng.below(20) {
        0 => (
            rng.pick(&[
                0x0000, 0x0004, 0x0008, 0x0FE8, 0x0FF0, 0x0FF4, 0x0FF8, 0x0FFC,
            ]),
            4,
        ),
        1 | 2 => (0x0000, 4), // GICD_CTLR
        3 | 4 => {
            // GICD_ITARGETSR: mostly INTIDs that exist, bytes or words.
            let n = if rng.chance(85) {
                rng.below(u64::from(limit) + 8)
            } else {
                rng.below(1024)
            };
            if rng.chance(50) {
                (0x0800 + n, 1)
            } else {
                (0x0800 + (n & !3), 4)
            }
        }
        5 => (0x0F00, 4), // GICD_SGIR
        6 => {
            // GICD_CPENDSGIR / GICD_SPENDSGIR.
            let (base, sgi) = (rng.pick(&[0x0F10, 0x0F20]), rng.below(16));
            if rng.chance(50) {
                (base + sgi, 1)
            } else {
                (base + (sgi & !3), 4)
            }
        }
        // Reserved: 0x00C, IGRPMODR's place, NSACR, around the SGI block,
        // the ID registers that are not there.
        7 => (
            rng.pick(&[
                0x000C, 0x0040, 0x0D00, 0x0D04, 0x0E00, 0x0F04, 0x0F30, 0x0FD0,
            ]),
            4,
        ),
        8 | 9 => return wild(rng, GICD_V2_SIZE),
        _ => banked_offset(rng, limit),
    };
    skew(rng, offset, size)
}

/// Now and then a wrong width or a misaligned offset.
fn skew(rng: &mut Rng, offset: u64, size: u8) -> (u64, u8) {
    match rng.below(20) {
        0 => (offset, rng.pick(&[1, 2, 4, 8])),
        1 => (offset + rng.below(8), size),
        _ => (offset, size),
    }
}

/// Any offset and size: in the frame, around its edges, or anywhere.
fn wild(rng: &mut Rng, limit: u64) -> (u64, u8) {
    let offset = match rng.below(6) {
        0 | 1 => rng.below(limit + 0x100),
        2 => limit.wrapping_sub(rng.below(16)),
        3 => u64::MAX - rng.below(16),
        4 => rng.next_u64() & !7,
        _ => rng.next_u64(),
    };
    let size = match rng.below(3) {
        0 => rng.next_u64() as u8,
        _ => rng.pick(&[0, 1, 2, 3, 4, 5, 8, 16]),
    };
    (offset, size)
}

/// A register value as the trapped store carries it: the whole source
/// register, not just its low `size` bytes (so high bits may be set).
fn value(rng: &mut Rng, offset: u64, vcpus: usize) -> u64 {
    match (offset % GICR_STRIDE, rng.below(4)) {
        (0x0000, 0..=2) => 0b11,
        (o, 0..=1) if (0x6000..0x8000).contains(&o) => match rng.below(3) {
            0 => 1 << 31,
            _ => rng.below(vcpus as u64 + 1),
        },
        (_, 0) => rng.next_u64() as u32 as u64,
        _ => rng.next_u64(),
    }
}

/// Like [`value`] for the GICv2 distributor.
fn value_v2(rng: &mut Rng, offset: u64, vcpus: usize) -> u64 {
    match (offset & !3, rng.below(4)) {
        (0x0000, 0..=2) => rng.pick(&[0b01, 0b11]),
        // Every SPI of the word to one CPU (that may not exist).
        (0x0800..=0x0BFF, 0..=1) => 0x0101_0101 << rng.below(8.min(vcpus as u64 + 1)),
        (0x0F00, 0..=2) => rng.below(4) << 24 | rng.below(256) << 16 | rng.below(16),
        (_, 0) => rng.next_u64() as u32 as u64,
        _ => rng.next_u64(),
    }
}

/// Which register file an access goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Frame {
    /// The GICv3 distributor.
    Dist,
    /// The GICv3 redistributor region.
    Redist,
    /// The GICv2 distributor, accessed by this vCPU (which may not exist).
    DistV2(usize),
}

/// Everything that must hold after every step.
struct Harness {
    g: Vgic,
    s: Shadow,
    /// Per vCPU: the list registers its last flush filled, until synced.
    lrs: Vec<Option<Vec<u64>>>,
    /// ICH_VTR_EL2.ListRegs + 1 for this machine.
    list_registers: usize,
    steps: u64,
}

impl Harness {
    fn new(vcpus: usize, spis: u32, list_registers: usize, v2: bool) -> Harness {
        Harness {
            g: if v2 {
                Vgic::new_v2(vcpus, spis)
            } else {
                Vgic::new(vcpus, spis)
            },
            s: Shadow::new(vcpus, spis, v2),
            lrs: vec![None; vcpus],
            list_registers,
            steps: 0,
        }
    }

    fn vcpus(&self) -> usize {
        self.s.vcpus
    }

    fn wfi(&self) -> Vec<bool> {
        (0..self.vcpus())
            .map(|v| self.g.pending_irq(v, 0xFF))
            .collect()
    }

    /// A call that returns a [`Kick`] names only vCPUs that exist, and
    /// every vCPU to which something new became deliverable (except
    /// `exempt`, the one calling sync, which re-flushes anyway).
    fn check_kick(&self, kick: Kick, before: &[bool], exempt: Option<usize>, what: &str) {
        let all = Kick::first(self.vcpus()).bits();
        assert_eq!(
            kick.bits() & !all,
            0,
            "step {}: {what}: kick {kick:?}",
            self.steps
        );
        for (v, &was) in before.iter().enumerate() {
            if !was && self.g.pending_irq(v, 0xFF) && exempt != Some(v) {
                assert!(
                    kick.contains(v),
                    "step {}: {what}: vCPU {v} gained a deliverable interrupt but kick is {kick:?}",
                    self.steps
                );
            }
        }
    }

    fn read(&mut self, frame: Frame, offset: u64, size: u8) -> Result<u64, VgicError> {
        match frame {
            Frame::Dist => self.g.dist_read(offset, size),
            Frame::Redist => self.g.redist_read(offset, size),
            Frame::DistV2(v) => self.g.dist_v2_read(v, offset, size),
        }
    }

    fn write(&mut self, frame: Frame, offset: u64, size: u8, v: u64) -> Result<Kick, VgicError> {
        match frame {
            Frame::Dist => self.g.dist_write(offset, size, v),
            Frame::Redist => self.g.redist_write(offset, size, v),
            Frame::DistV2(vcpu) => self.g.dist_v2_write(vcpu, offset, size, v),
        }
    }

    fn expect(&self, frame: Frame, offset: u64, size: u8) -> Result<Option<u64>, VgicError> {
        match frame {
            Frame::Dist => self.s.dist_expect(offset, size),
            Frame::Redist => self.s.redist_expect(offset, size),
            Frame::DistV2(v) => self.s.dist_v2_expect(v, offset, size),
        }
    }

    fn apply(&mut self, frame: Frame, offset: u64, size: u8, v: u64) {
        match frame {
            Frame::Dist => self.s.dist_apply(offset, size, v),
            Frame::Redist => self.s.redist_apply(offset, size, v),
            Frame::DistV2(vcpu) => self.s.dist_v2_apply(vcpu, offset, size, v),
        }
    }

    /// For a pending/active set or clear register of INTIDs that exist:
    /// the register, the offset of its ISPENDR/ISACTIVER twin, the bank's
    /// level-sensitive lines held high, and the bits that ignore writes
    /// (a GICv2's SGI bits of I[SC]PENDR0).
    fn set_clear(&self, frame: Frame, offset: u64) -> Option<(Reg, u64, u32, u32)> {
        let (base, o, vcpu) = match frame {
            Frame::Redist => {
                let within = offset % GICR_STRIDE;
                let vcpu = (offset / GICR_STRIDE) as usize;
                if within < SGI_BASE || vcpu >= self.vcpus() {
                    return None;
                }
                (offset - within + SGI_BASE, within - SGI_BASE, vcpu)
            }
            Frame::Dist => (0, offset, 0),
            Frame::DistV2(vcpu) if vcpu < self.vcpus() => (0, offset, vcpu),
            Frame::DistV2(_) => return None,
        };
        let (reg, intid) = decode(o)?;
        let exists = match frame {
            Frame::Redist => intid < 32,
            Frame::Dist => (32..self.s.limit()).contains(&intid),
            Frame::DistV2(_) => intid < self.s.limit(),
        };
        let twin = match reg {
            Reg::SetPending | Reg::SetActive => o & !3,
            Reg::ClearPending | Reg::ClearActive => (o & !3) - 0x80,
            _ => return None,
        };
        if !exists {
            return None;
        }
        let read_only = match (frame, reg) {
            (Frame::DistV2(_), Reg::SetPending | Reg::ClearPending) if intid == 0 => 0xFFFF,
            _ => 0,
        };
        let bank = self.s.bank(vcpu, intid);
        Some((reg, base + twin, bank.line & !bank.edge, read_only))
    }

    /// A guest access to the distributor or a redistributor (to the GICv2
    /// distributor on a GICv2, where `redist` now and then tries a GICv3
    /// call instead, which must be refused).
    fn mmio(&mut self, rng: &mut Rng, redist: bool) {
        let (frame, offset, size) = if self.s.v2 {
            if redist && rng.chance(10) {
                return self.wrong_version(rng);
            }
            let vcpu = rng.below(self.vcpus() as u64 + 1) as usize;
            let (offset, size) = dist_v2_access(rng, self.s.limit());
            (Frame::DistV2(vcpu), offset, size)
        } else if redist {
            let (offset, size) = redist_access(rng, self.vcpus());
            (Frame::Redist, offset, size)
        } else {
            let (offset, size) = dist_access(rng, self.s.limit());
            (Frame::Dist, offset, size)
        };
        let expect = self.expect(frame, offset, size);
        let set_clear = self.set_clear(frame, offset);
        if rng.chance(50) {
            let got = self.read(frame, offset, size);
            self.check_read(got, expect, offset, size, "read");
            // The set and clear twins of pending and active read the same.
            if let (Ok(v), Some((Reg::SetPending | Reg::SetActive, ..))) = (got, set_clear) {
                assert_eq!(self.read(frame, offset + 0x80, size), Ok(v));
            }
            if let Ok(v) = got {
                self.check_sgi_pending_bytes(frame, offset, size, v);
            }
            return;
        }
        let v = if self.s.v2 {
            value_v2(rng, offset, self.vcpus())
        } else {
            value(rng, offset, self.vcpus())
        };
        let before = self.wfi();
        // The twin as it was, for the bits that ignore writes.
        let fixed = match set_clear {
            Some((_, twin, _, read_only)) if read_only != 0 => {
                Some(self.read(frame, twin, 4).unwrap() as u32 & read_only)
            }
            _ => None,
        };
        let got = self.write(frame, offset, size, v);
        let what = format!("{frame:?}: write({offset:#x}, {size}, {v:#x})");
        let Ok(kick) = got else {
            assert_eq!(got.map(|_| ()), expect.map(|_| ()), "{what}");
            return;
        };
        assert!(expect.is_ok(), "{what}: accepted, expected {expect:?}");
        self.check_kick(kick, &before, None, &what);
        self.apply(frame, offset, size, v);
        // What was written reads back (masked as the spec says).
        let again = self.expect(frame, offset, size);
        let got = self.read(frame, offset, size);
        self.check_read(got, again, offset, size, &what);
        // Set-pending/active sets, clear clears; but a level-sensitive
        // interrupt stays pending while its line is high.
        if let Some((reg, twin, level_high, read_only)) = set_clear {
            let bits = v as u32 & !read_only;
            let seen = self.read(frame, twin, 4).unwrap() as u32;
            if let Some(fixed) = fixed {
                assert_eq!(seen & read_only, fixed, "{what}: SGI bits changed");
            }
            match reg {
                Reg::SetPending | Reg::SetActive => assert_eq!(seen & bits, bits, "{what}"),
                Reg::ClearPending => assert_eq!(seen & bits & !level_high, 0, "{what}"),
                _ => assert_eq!(seen & bits, 0, "{what}"),
            }
        }
        // GICD_SPENDSGIR sets the SGI of each nonzero byte, CPENDSGIR
        // clears it (SGIs are edge-triggered: no line keeps them pending).
        if let (Frame::DistV2(vcpu), 0x0F10..=0x0F2F) = (frame, offset & !3) {
            let seen = self.read(frame, 0x0200, 4).unwrap();
            for i in 0..u64::from(size) {
                if (v >> (8 * i)) as u8 != 0 {
                    let sgi = offset % 16 + i;
                    let set = offset >= 0x0F20;
                    assert_eq!(
                        seen >> sgi & 1 != 0,
                        set,
                        "{what}: SGI {sgi} of vCPU {vcpu}"
                    );
                }
            }
            self.check_sgi_pending_bytes(frame, offset, size, got.unwrap());
        }
    }

    /// A GICv2's [SC]PENDSGIR bytes read 0x01 exactly for the pending SGIs.
    fn check_sgi_pending_bytes(&mut self, frame: Frame, offset: u64, size: u8, v: u64) {
        let (Frame::DistV2(_), 0x0F10..=0x0F2F) = (frame, offset & !3) else {
            return;
        };
        let pending = self.read(frame, 0x0200, 4).unwrap();
        for i in 0..u64::from(size) {
            let sgi = offset % 16 + i;
            assert_eq!(
                (v >> (8 * i)) & 0xFF,
                pending >> sgi & 1,
                "step {}: {frame:?}: [SC]PENDSGIR byte of SGI {sgi}",
                self.steps
            );
        }
    }

    /// A GICv3 register-file call on a GICv2: refused, nothing changes.
    fn wrong_version(&mut self, rng: &mut Rng) {
        let refused = Err(VgicError::WrongVersion { version: 2 });
        let offset = rng.next_u64() % (GICR_STRIDE * 2);
        let size = rng.pick(&[1, 2, 4, 8]);
        let value = rng.next_u64();
        assert_eq!(self.g.dist_read(offset, size), refused);
        assert_eq!(self.g.redist_read(offset, size), refused);
        let refused = refused.map(|_: u64| Kick::NONE);
        assert_eq!(self.g.dist_write(offset, size, value), refused);
        assert_eq!(self.g.redist_write(offset, size, value), refused);
        assert_eq!(self.g.redist_size(), 0);
    }

    /// Whether `intid` reads pending through `vcpu`'s view of ISPENDR.
    fn pending(&mut self, vcpu: usize, intid: u32) -> bool {
        let word = 0x0200 + u64::from(intid / 32) * 4;
        let w = if self.s.v2 {
            self.g.dist_v2_read(vcpu, word, 4)
        } else if intid < 32 {
            self.g
                .redist_read(vcpu as u64 * GICR_STRIDE + SGI_BASE + word, 4)
        } else {
            self.g.dist_read(word, 4)
        };
        w.unwrap() & (1 << (intid % 32)) != 0
    }

    fn check_read(
        &self,
        got: Result<u64, VgicError>,
        expect: Result<Option<u64>, VgicError>,
        offset: u64,
        size: u8,
        what: &str,
    ) {
        let ctx = format!("step {}: {what}: {size} bytes at {offset:#x}", self.steps);
        match (got, expect) {
            (Ok(v), Ok(Some(e))) => assert_eq!(v, e, "{ctx}"),
            (Ok(v), Ok(None)) => {
                if size < 8 {
                    assert_eq!(v >> (8 * size), 0, "{ctx}: bits beyond the access");
                }
            }
            (got, expect) => assert_eq!(got, expect.map(|_| 0), "{ctx}"),
        }
    }

    /// Device lines, hypervisor PPIs and guest SGIs: each leaves its
    /// INTID pending on every target (a falling line latches nothing).
    fn inputs(&mut self, rng: &mut Rng) {
        let (n, limit) = (self.vcpus(), self.s.limit());
        let before = self.wfi();
        let intid = rng.below(u64::from(limit) + 40) as u32;
        let spi = (32..limit).contains(&intid);
        let (kick, what) = match rng.below(4) {
            0 => {
                let level = rng.chance(50);
                if !spi {
                    (self.g.set_spi_level(intid, level), "set_spi_level")
                } else {
                    let was = self.pending(0, intid);
                    let b = &mut self.s.shared[(intid / 32 - 1) as usize];
                    let bit = 1 << (intid % 32);
                    let (edge, rising) = (b.edge & bit != 0, level && b.line & bit == 0);
                    b.line = if level { b.line | bit } else { b.line & !bit };
                    let kick = self.g.set_spi_level(intid, level);
                    let now = self.pending(0, intid);
                    if level && (rising || !edge) {
                        assert!(now, "step {}: line {intid} up, not pending", self.steps);
                    } else if edge {
                        assert_eq!(now, was, "step {}: edge {intid} without a rise", self.steps);
                    }
                    (kick, "set_spi_level")
                }
            }
            1 => {
                let kick = self.g.pulse_spi(intid);
                assert!(
                    !spi || self.pending(0, intid),
                    "step {}: pulse {intid}",
                    self.steps
                );
                (kick, "pulse_spi")
            }
            2 => {
                let v = rng.below(n as u64 + 2) as usize;
                let intid = rng.pick(&[27, 30, 26, 16, 31, 3, 32, 40]);
                let kick = self.g.set_ppi_pending(v, intid);
                if v < n && (16..32).contains(&intid) {
                    assert!(self.pending(v, intid), "step {}: PPI {intid}", self.steps);
                }
                (kick, "set_ppi_pending")
            }
            _ if self.s.v2 => (self.sgir(rng), "GICD_SGIR"),
            _ => {
                let sender = rng.below(n as u64 + 1) as usize;
                let sgi = rng.below(16) as u32;
                let everyone = Kick::first(n).bits();
                // ICC_SGI1R_EL1: IRM (all but the sender), a TargetList
                // of Aff0 0..15 (some beyond the last vCPU), or garbage
                // whose targets are not worked out here.
                let (icc_sgi1r, targets) = match rng.below(10) {
                    0 => (rng.next_u64(), None),
                    1 | 2 => (1 << 40, Some(everyone & !Kick::vcpu(sender).bits())),
                    _ => {
                        let list = rng.below(1 << (n + 1));
                        (list, Some(list as u32 & everyone))
                    }
                };
                let was: Vec<bool> = (0..n).map(|v| self.pending(v, sgi)).collect();
                let kick = self.g.send_sgi(sender, icc_sgi1r | u64::from(sgi) << 24);
                for (t, was) in was.into_iter().enumerate() {
                    let now = self.pending(t, sgi);
                    match targets {
                        Some(m) if m & (1 << t) != 0 => {
                            assert!(now, "step {}: SGI {sgi} missed {t}", self.steps)
                        }
                        Some(_) => assert_eq!(now, was, "step {}: SGI {sgi} hit {t}", self.steps),
                        None => {}
                    }
                }
                (kick, "send_sgi")
            }
        };
        self.check_kick(kick, &before, None, what);
    }

    /// A GICv2 guest's GICD_SGIR write: each filter, CPU target lists
    /// naming CPUs that do not exist, junk in the other bits, and now and
    /// then a sender that does not exist (refused).
    fn sgir(&mut self, rng: &mut Rng) -> Kick {
        let n = self.vcpus();
        let sender = rng.below(n as u64 + 1) as usize;
        let sgi = rng.below(16) as u32;
        let (filter, list) = (rng.below(4), rng.below(256));
        let junk = rng.next_u64() & 0xFC00_FFF0;
        let value = junk | filter << 24 | list << 16 | u64::from(sgi);
        if sender >= n {
            let refused = Err(VgicError::NoSuchVcpu { vcpu: sender });
            assert_eq!(self.g.dist_v2_write(sender, 0x0F00, 4, value), refused);
            return Kick::NONE;
        }
        let everyone = Kick::first(n).bits();
        let targets = match filter {
            0 => list as u32 & everyone,
            1 => everyone & !Kick::vcpu(sender).bits(),
            2 => Kick::vcpu(sender).bits(),
            _ => 0,
        };
        let was: Vec<bool> = (0..n).map(|v| self.pending(v, sgi)).collect();
        let kick = self.g.dist_v2_write(sender, 0x0F00, 4, value).unwrap();
        for (t, was) in was.into_iter().enumerate() {
            let now = self.pending(t, sgi);
            let ctx = format!("step {}: SGIR {value:#x} from {sender} to {t}", self.steps);
            if targets & (1 << t) != 0 {
                assert!(now, "{ctx}: missed");
            } else {
                assert_eq!(now, was, "{ctx}: hit");
            }
        }
        kick
    }

    /// The hypervisor ties a virtual interrupt to a physical one: bad
    /// arguments are refused with the documented error.
    fn hw_mapping(&mut self, rng: &mut Rng) {
        let vcpu = rng.below(self.vcpus() as u64 + 2) as usize;
        let intid = match rng.below(3) {
            0 => 27,
            1 => rng.below(u64::from(self.s.limit()) + 8) as u32,
            _ => rng.next_u64() as u32,
        };
        let pintid = if rng.chance(80) {
            intid
        } else {
            rng.below(9000) as u32
        };
        let bad_vcpu = vcpu >= self.vcpus();
        let bad_intid = !(16..self.s.limit()).contains(&intid);
        // GICH_LR.PhysicalID has 10 bits, ICH_LR<n>_EL2.pINTID 13.
        let pintid_limit = if self.s.v2 { 1020 } else { 8192 };
        if rng.chance(70) {
            let expect = if !(16..pintid_limit).contains(&pintid) {
                Err(VgicError::BadIntid { intid: pintid })
            } else if bad_vcpu {
                Err(VgicError::NoSuchVcpu { vcpu })
            } else if bad_intid {
                Err(VgicError::BadIntid { intid })
            } else {
                Ok(())
            };
            assert_eq!(self.g.set_hw_mapping(vcpu, intid, pintid), expect);
            if expect.is_ok() {
                let b = self.bank_mut(vcpu, intid);
                b.hw |= 1 << (intid % 32);
                b.pintid[(intid % 32) as usize] = pintid as u16;
            }
        } else {
            let expect = if bad_vcpu {
                Err(VgicError::NoSuchVcpu { vcpu })
            } else if bad_intid {
                Err(VgicError::BadIntid { intid })
            } else {
                Ok(())
            };
            assert_eq!(self.g.clear_hw_mapping(vcpu, intid), expect);
            if expect.is_ok() {
                self.bank_mut(vcpu, intid).hw &= !(1 << (intid % 32));
            }
        }
    }

    fn bank_mut(&mut self, vcpu: usize, intid: u32) -> &mut Bank {
        self.s.bank_mut(vcpu, intid)
    }

    /// The vCPU exits: its guest has done something to each list register
    /// (taken it, completed it, or nothing), and sync takes them back. On
    /// a GICv2 the hardware holds GICH_LR values: the images go there and
    /// come back through the conversion.
    fn exit(&mut self, rng: &mut Rng, v: usize) {
        let Some(mut lrs) = self.lrs[v].take() else {
            // Nothing outstanding (or a VM reset dropped it): a no-op.
            let junk: Vec<u64> = (0..rng.below(4)).map(|_| rng.next_u64()).collect();
            assert_eq!(self.g.sync(v, &junk), Kick::NONE);
            return;
        };
        for lr in lrs.iter_mut() {
            let state = ListRegister(*lr).state();
            let new = match rng.below(20) {
                // Acknowledged: pending becomes active.
                0..=5 if state == LrState::Pending => LrState::Active,
                // Deactivated (after EOI), or taken and completed.
                6..=11 => match state {
                    LrState::PendingActive => LrState::Pending,
                    _ => LrState::Invalid,
                },
                // Hardware that misbehaves, or a read-back gone wrong.
                12 => LrState::from_flags(rng.chance(50), rng.chance(50)),
                13 => {
                    let junk = rng.next_u64();
                    *lr = if self.s.v2 {
                        ListRegister::from_gich_lr(junk as u32).0
                    } else {
                        junk
                    };
                    continue;
                }
                _ => state,
            };
            let bits = u64::from(new.pending()) | u64::from(new.active()) << 1;
            *lr = if self.s.v2 {
                let gich = ListRegister(*lr).to_gich_lr();
                let gich = (gich & !(3 << 28)) | (bits as u32) << 28;
                ListRegister::from_gich_lr(gich).0
            } else {
                (*lr & !(3 << 62)) | (bits << 62)
            };
        }
        // Sometimes fewer read back (the rest count as unchanged), or extra.
        match rng.below(10) {
            0 => lrs.truncate(rng.below(lrs.len() as u64 + 1) as usize),
            1 => lrs.push(rng.next_u64()),
            _ => {}
        }
        let before = self.wfi();
        let kick = self.g.sync(v, &lrs);
        self.check_kick(kick, &before, Some(v), "sync");
    }

    /// Guest entry on vCPU `v`: flush, then check the list registers.
    fn enter(&mut self, rng: &mut Rng, v: usize) {
        let n = if rng.chance(90) {
            self.list_registers
        } else {
            rng.pick(&[0, 1, 2, 16, 20])
        };
        // The protocol: sync on every exit. Now and then the hypervisor
        // flushes twice and flush must sync the old images itself.
        let synced = self.lrs[v].is_none() || rng.chance(90);
        if synced {
            self.exit(rng, v);
        }
        let synced = self.lrs[v].is_none();
        let needs = self.g.needs_flush(v);
        let pmr = rng.next_u64() as u8;
        let wfi = [self.g.pending_irq(v, 0xFF), self.g.pending_irq(v, pmr)];

        let mut lrs = vec![UNTOUCHED; n];
        let r = self.g.flush(v, &mut lrs);
        self.check_flush(v, &lrs, r, synced.then_some((needs, pmr, wfi)));
        self.lrs[v] = (r.used > 0).then(|| lrs[..r.used].to_vec());
    }

    fn check_flush(
        &self,
        v: usize,
        lrs: &[u64],
        r: FlushResult,
        before: Option<(bool, u8, [bool; 2])>,
    ) {
        let ctx = format!(
            "step {}: flush(vCPU {v}, {} LRs) = {r:?}: {lrs:x?}",
            self.steps,
            lrs.len()
        );
        let room = lrs.len().min(16);
        assert!(r.used <= room, "{ctx}");
        assert!(
            lrs[r.used..].iter().all(|&l| l == UNTOUCHED),
            "{ctx}: an unused LR was written"
        );
        if r.used < room {
            assert!(!r.underflow, "{ctx}: underflow with free LRs");
        }
        let mut last_key = None;
        for (i, &raw) in lrs[..r.used].iter().enumerate() {
            let lr = ListRegister(raw);
            let (intid, state) = (lr.vintid(), lr.state());
            let ctx = format!("{ctx}: LR{i} (INTID {intid})");
            assert_ne!(state, LrState::Invalid, "{ctx}");
            assert!(intid < self.s.limit(), "{ctx}: no such INTID");
            let bank = self.s.bank(v, intid);
            let bit = 1 << (intid % 32);
            assert_eq!(lr.priority(), bank.priority[(intid % 32) as usize], "{ctx}");
            assert_eq!(lr.group1(), bank.group1 & bit != 0, "{ctx}: group");
            if state.pending() {
                assert!(bank.enabled & bit != 0, "{ctx}: pending but disabled");
                let group_on = if lr.group1() {
                    self.s.grp1
                } else {
                    self.s.grp0
                };
                assert!(group_on, "{ctx}: pending but its group is disabled");
            }
            if intid >= 32 {
                assert!(self.s.routed(intid, v), "{ctx}: not routed here");
            }
            assert_eq!(lr.hw(), bank.hw & bit != 0, "{ctx}: HW");
            if self.s.v2 {
                let gich = lr.to_gich_lr();
                assert_eq!(
                    ListRegister::from_gich_lr(gich),
                    lr,
                    "{ctx}: GICH_LR {gich:#x}"
                );
            }
            if lr.hw() {
                assert_eq!(
                    lr.pintid(),
                    u32::from(bank.pintid[(intid % 32) as usize]),
                    "{ctx}"
                );
                // The physical side holds the second pending state.
                assert_ne!(state, LrState::PendingActive, "{ctx}: HW pending+active");
            } else {
                // EOI maintenance exactly for a level line to resample.
                let level_high = intid >= 32 && bank.edge & bit == 0 && bank.line & bit != 0;
                assert_eq!(lr.eoi(), level_high, "{ctx}: EOI");
            }
            // Active first, then priority, then INTID; strictly, so no
            // INTID appears twice.
            let key = (!state.active(), lr.priority(), intid);
            assert!(last_key < Some(key), "{ctx}: out of order");
            last_key = Some(key);
            // In no other vCPU's list registers (SPIs are shared).
            if intid >= 32 {
                for (w, other) in self.lrs.iter().enumerate() {
                    if let (true, Some(other)) = (w != v, other) {
                        assert!(
                            other.iter().all(|&o| ListRegister(o).vintid() != intid),
                            "{ctx}: also in vCPU {w}'s LRs"
                        );
                    }
                }
            }
        }
        let Some((needs, pmr, [any, masked])) = before else {
            return;
        };
        // `needs_flush` is exactly "flush would fill an LR".
        if !lrs.is_empty() {
            assert_eq!(needs, r.used > 0, "{ctx}: needs_flush said {needs}");
        }
        // The WFI check agrees with what went out: a pending LR above the
        // mask was signalled; and with no underflow everything signalled
        // went out (a HW one that is also active goes out active only).
        for (mask, said) in [(0xFF, any), (pmr, masked)] {
            let mask = mask & PRIORITY_MASK;
            let above = |&l: &u64| ListRegister(l).priority() < mask;
            let pending = lrs[..r.used]
                .iter()
                .filter(|&&l| ListRegister(l).state().pending())
                .any(above);
            assert!(
                !pending || said,
                "{ctx}: pending_irq(pmr {mask:#x}) said no"
            );
            if said && !r.underflow {
                let out = lrs[..r.used]
                    .iter()
                    .filter(|&&l| ListRegister(l).state().pending() || ListRegister(l).hw())
                    .any(above);
                assert!(out, "{ctx}: pending_irq(pmr {mask:#x}) but nothing listed");
            }
        }
    }

    /// After flush, register reads still see the listed state.
    fn check_listed_state_visible(&mut self, v: usize) {
        let Some(lrs) = self.lrs[v].clone() else {
            return;
        };
        for raw in lrs {
            let lr = ListRegister(raw);
            let intid = lr.vintid();
            let bit = 1u64 << (intid % 32);
            let v2 = self.s.v2;
            let read = |g: &mut Vgic, base: u64| {
                let word = base + u64::from(intid / 32) * 4;
                if v2 {
                    g.dist_v2_read(v, word, 4)
                } else if intid < 32 {
                    g.redist_read(v as u64 * GICR_STRIDE + SGI_BASE + word, 4)
                } else {
                    g.dist_read(word, 4)
                }
            };
            if lr.state().pending() {
                assert_eq!(
                    read(&mut self.g, 0x0200).map(|w| w & bit),
                    Ok(bit),
                    "INTID {intid}"
                );
            }
            if lr.state().active() {
                assert_eq!(
                    read(&mut self.g, 0x0300).map(|w| w & bit),
                    Ok(bit),
                    "INTID {intid}"
                );
            }
            if intid < 32 {
                assert!(self.g.private_in_flight(v, intid), "INTID {intid}");
            }
        }
    }

    /// Cheap invariants after every step.
    fn check_always(&mut self, rng: &mut Rng) {
        let n = self.vcpus();
        for v in 0..n {
            assert!(
                !self.g.pending_irq(v, 0),
                "step {}: priority above 0",
                self.steps
            );
            let any = self.g.pending_irq(v, 0xFF);
            let pmr = rng.next_u64() as u8;
            assert!(
                !self.g.pending_irq(v, pmr) || any,
                "step {}: PMR not monotonic",
                self.steps
            );
            if self.lrs[v].is_some() {
                assert!(
                    self.g.needs_flush(v),
                    "step {}: outstanding LRs",
                    self.steps
                );
            } else if any {
                assert!(
                    self.g.needs_flush(v),
                    "step {}: vCPU {v} signalled, no flush",
                    self.steps
                );
            }
            assert!(!self.g.private_in_flight(v, 32 + rng.below(2000) as u32));
        }
        // vCPUs that do not exist: nothing pending, nothing to flush.
        let ghost = n + rng.below(40) as usize;
        assert!(!self.g.pending_irq(ghost, 0xFF));
        assert!(!self.g.needs_flush(ghost));
        assert!(!self.g.private_in_flight(ghost, 27));
        if rng.chance(5) {
            let mut lrs = [0xAAAA_u64; 4];
            assert_eq!(self.g.flush(ghost, &mut lrs), FlushResult::default());
            assert_eq!(lrs, [0xAAAA; 4]);
            assert_eq!(self.g.sync(ghost, &[rng.next_u64()]), Kick::NONE);
        }
    }

    /// Every register word of every frame against the reference model.
    fn sweep(&mut self) {
        if self.s.v2 {
            return self.sweep_v2();
        }
        // The GICv2 calls are refused on a GICv3.
        let refused = Err(VgicError::WrongVersion { version: 3 });
        assert_eq!(self.g.dist_v2_read(0, 0x0000, 4), refused);
        assert_eq!(
            self.g.dist_v2_write(0, 0x0F00, 4, 0xFF_0001),
            refused.map(|_: u64| Kick::NONE)
        );
        let dist = (0..0x0D80).step_by(4).chain((0x6000..0x7FE0).step_by(4));
        for offset in dist.chain([0xFFE8]) {
            let expect = self.s.dist_expect(offset, 4);
            let got = self.g.dist_read(offset, 4);
            self.check_read(got, expect, offset, 4, "sweep");
        }
        for v in 0..self.vcpus() as u64 {
            let rd = v * GICR_STRIDE;
            let frame = (0..0x20).step_by(4).chain([0xFFE8]);
            let sgi = (0..0x0D80).step_by(4).map(|o| SGI_BASE + o);
            for offset in frame.chain(sgi).map(|o| rd + o) {
                let expect = self.s.redist_expect(offset, 4);
                let got = self.g.redist_read(offset, 4);
                self.check_read(got, expect, offset, 4, "sweep");
            }
        }
    }

    /// Every word of the GICv2 distributor as each vCPU sees it.
    fn sweep_v2(&mut self) {
        for v in 0..self.vcpus() {
            for offset in (0..GICD_V2_SIZE).step_by(4) {
                let expect = self.s.dist_v2_expect(v, offset, 4);
                let got = self.g.dist_v2_read(v, offset, 4);
                self.check_read(got, expect, offset, 4, "sweep");
                if let Ok(w) = got {
                    self.check_sgi_pending_bytes(Frame::DistV2(v), offset, 4, w);
                }
            }
        }
        assert!(self.g.is_v2());
        assert_eq!(self.g.redist_size(), 0);
    }

    fn step(&mut self, rng: &mut Rng) {
        self.steps += 1;
        let v = rng.below(self.vcpus() as u64) as usize;
        match rng.below(100) {
            0..=34 => self.mmio(rng, false),
            35..=54 => self.mmio(rng, true),
            55..=69 => self.inputs(rng),
            70..=81 => {
                self.enter(rng, v);
                self.check_listed_state_visible(v);
            }
            82..=93 => self.exit(rng, v),
            94..=97 => self.hw_mapping(rng),
            98 if rng.chance(10) => {
                // VM reboot: the LR records are gone with everything else.
                self.g.reset();
                self.s.reset();
                assert_eq!(self.g.is_v2(), self.s.v2);
                self.lrs.iter_mut().for_each(|l| *l = None);
            }
            _ => {
                // Enable everything now and then so interrupts flow.
                let all = if self.s.v2 {
                    self.g.dist_v2_write(0, 0x0000, 4, 0b11).unwrap()
                } else {
                    self.g.dist_write(0x0000, 4, 0b11).unwrap()
                };
                assert_eq!(all.bits() & !Kick::first(self.vcpus()).bits(), 0);
                self.s.dist_apply(0x0000, 4, 0b11);
            }
        }
        self.check_always(rng);
        if self.steps.is_multiple_of(2500) {
            self.sweep();
        }
    }
}

#[test]
fn seeded_storm_never_panics_and_keeps_invariants() {
    // (seed, vCPUs, SPIs, list registers, GICv2): the QEMU-like default,
    // a single vCPU without SPIs, and the largest shape; then GICv2 ones:
    // a GIC-400-like 4 LRs, a uniprocessor with SPIs (they always target
    // its CPU), and the largest shape.
    let runs = [
        (0x9E37_79B9_7F4A_7C15_u64, 2, 64, 4, false),
        (0xD1B5_4A32_D192_ED03, 1, 0, 2, false),
        (0x0123_4567_89AB_CDEF, 8, 960, 16, false),
        (0x2545_F491_4F6C_DD1D, 2, 64, 4, true),
        (0x6A09_E667_F3BC_C908, 1, 32, 4, true),
        (0xBB67_AE85_84CA_A73B, 8, 960, 16, true),
    ];
    for (seed, vcpus, spis, list_registers, v2) in runs {
        let mut rng = Rng::new(seed);
        // Shapes the model refuses are errors, not panics.
        for _ in 0..32 {
            let (n, s) = (rng.below(12) as usize, rng.below(1100) as u32 & !1);
            let ok = (1..=8).contains(&n) && s % 32 == 0 && s <= 960;
            let got = if v2 {
                Vgic::try_new_v2(n, s)
            } else {
                Vgic::try_new(n, s)
            };
            assert_eq!(got.is_ok(), ok, "try_new(v2: {v2}, {n}, {s})");
        }
        let mut h = Harness::new(vcpus, spis, list_registers, v2);
        for _ in 0..25_000 {
            h.step(&mut rng);
        }
        h.sweep();
    }
}
