//! The vGIC of one VM: the distributor's SPI state and group enables, one
//! redistributor (SGIs and PPIs) per vCPU, and each vCPU's record of what
//! its last flush put in the list registers. The same state serves both
//! personalities: on a GICv2 the SGIs and PPIs are the distributor's banked
//! INTIDs 0..31 instead of a redistributor's, and SPIs are routed by
//! `GICD_ITARGETSR<n>` instead of `GICD_IROUTER<n>`.

use alloc::vec::Vec;

use crate::bank::{Bank, GroupEnables};
use crate::{itargets, router, Kick, VgicError, MAX_LIST_REGISTERS, MAX_SPIS, MAX_VCPUS};

/// Most CPU interfaces a GICv2 has: GICD_TYPER.CPUNumber is 3 bits and a
/// `GICD_ITARGETSR<n>` byte has one bit per interface.
const GICV2_MAX_CPUS: usize = 8;

/// What a vCPU's last flush put in its list registers, so sync can match
/// the read-back values to INTIDs without trusting them.
#[derive(Clone, Debug)]
pub(crate) struct LrRecord {
    /// LRs filled by the last flush and not yet synced.
    pub used: usize,
    /// INTID in each used LR.
    pub intid: [u32; MAX_LIST_REGISTERS],
    /// The image written, replayed if flush is called twice without sync.
    pub image: [u64; MAX_LIST_REGISTERS],
}

/// Per-vCPU state: its redistributor and its LR record.
#[derive(Clone, Debug)]
pub(crate) struct VcpuState {
    /// SGIs and PPIs (INTIDs 0..31).
    pub private: Bank,
    /// GICR_WAKER.ProcessorSleep. Only reported back to the guest: nothing
    /// gates delivery on it.
    pub processor_sleep: bool,
    pub lr: LrRecord,
}

impl VcpuState {
    fn new(v2: bool) -> VcpuState {
        VcpuState {
            private: Bank::new_private(),
            // GICR_WAKER resets with ProcessorSleep = 1: the OS must wake
            // its redistributor before use. A GICv2 has no redistributor to
            // wake: its CPU interfaces are awake from reset.
            processor_sleep: !v2,
            lr: LrRecord {
                used: 0,
                intid: [0; MAX_LIST_REGISTERS],
                image: [0; MAX_LIST_REGISTERS],
            },
        }
    }
}

/// A virtual GICv3, or GICv2, for one VM. See the crate documentation for
/// how the hypervisor drives it.
#[derive(Clone, Debug)]
pub struct Vgic {
    /// The GICv2 personality ([`Vgic::new_v2`]): `dist_v2_*` instead of
    /// `dist_*` and `redist_*`, and `router` holds ITARGETSR bytes.
    pub(crate) v2: bool,
    pub(crate) groups: GroupEnables,
    pub(crate) cpus: Vec<VcpuState>,
    /// SPI banks: `spis[k]` holds INTIDs `32 * (k + 1)..`.
    pub(crate) spis: Vec<Bank>,
    /// Routing register per SPI: the GICD_IROUTER value on a GICv3, the
    /// GICD_ITARGETSR byte (a CPU mask, see `itargets`) on a GICv2.
    pub(crate) router: Vec<u64>,
    /// Which vCPU holds each SPI in an LR (meaningful while `owned`).
    pub(crate) owner: Vec<u8>,
    /// Per vCPU, per SPI bank: the SPIs routed to it
    /// (`spi_targets[vcpu * spis.len() + bank]`), kept in step with `router`
    /// so flush only ANDs words.
    pub(crate) spi_targets: Vec<u32>,
}

impl Vgic {
    /// A vGIC for `vcpus` vCPUs and `spis` SPIs (INTIDs 32..32+spis), in
    /// its reset state.
    ///
    /// # Panics
    /// If the shape is unsupported (see [`Vgic::try_new`]); the hypervisor
    /// builds it from a validated config.
    pub fn new(vcpus: usize, spis: u32) -> Vgic {
        match Vgic::try_new(vcpus, spis) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Vgic::new`], but refuses `vcpus` outside 1..=[`MAX_VCPUS`] or
    /// `spis` not a multiple of 32 or above [`MAX_SPIS`].
    pub fn try_new(vcpus: usize, spis: u32) -> Result<Vgic, VgicError> {
        Vgic::build(vcpus, spis, false)
    }

    /// A GICv2 vGIC (IHI 0048B, no Security Extensions) for `vcpus` vCPUs
    /// and `spis` SPIs, in its reset state: the guest sees only a 4 KiB
    /// distributor ([`Vgic::dist_v2_read`]) and the hardware GICV frame.
    ///
    /// # Panics
    /// If the shape is unsupported (see [`Vgic::try_new_v2`]).
    pub fn new_v2(vcpus: usize, spis: u32) -> Vgic {
        match Vgic::try_new_v2(vcpus, spis) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Vgic::new_v2`], but refuses what [`Vgic::try_new`] refuses
    /// and more than the 8 CPU interfaces a GICv2 can have.
    pub fn try_new_v2(vcpus: usize, spis: u32) -> Result<Vgic, VgicError> {
        if vcpus > GICV2_MAX_CPUS {
            return Err(VgicError::BadConfig { vcpus, spis });
        }
        Vgic::build(vcpus, spis, true)
    }

    fn build(vcpus: usize, spis: u32, v2: bool) -> Result<Vgic, VgicError> {
        if vcpus == 0 || vcpus > MAX_VCPUS || !spis.is_multiple_of(32) || spis > MAX_SPIS {
            return Err(VgicError::BadConfig { vcpus, spis });
        }
        let banks = (spis / 32) as usize;
        // GICD_IROUTER resets to 0 (vCPU 0); GICD_ITARGETSR to no CPU, or
        // to the only one.
        let route = if v2 {
            u64::from(itargets::stored(0, vcpus))
        } else {
            0
        };
        let mut vgic = Vgic {
            v2,
            groups: GroupEnables::default(),
            cpus: (0..vcpus).map(|_| VcpuState::new(v2)).collect(),
            spis: (0..banks).map(|_| Bank::new_shared()).collect(),
            router: alloc::vec![route; spis as usize],
            owner: alloc::vec![0; spis as usize],
            spi_targets: alloc::vec![0; vcpus * banks],
        };
        for spi in 0..spis as usize {
            vgic.update_targets(spi);
        }
        Ok(vgic)
    }

    /// Whether this is the GICv2 personality ([`Vgic::new_v2`]).
    pub fn is_v2(&self) -> bool {
        self.v2
    }

    /// Refuses a register-file call meant for the other version: `v2` says
    /// which one the call belongs to.
    pub(crate) fn check_version(&self, v2: bool) -> Result<(), VgicError> {
        if self.v2 == v2 {
            Ok(())
        } else {
            Err(VgicError::WrongVersion {
                version: if self.v2 { 2 } else { 3 },
            })
        }
    }

    /// Back to the reset state (VM reboot), keeping the version and the
    /// hardware mappings the hypervisor installed.
    pub fn reset(&mut self) {
        let (vcpus, spis) = (self.vcpus(), self.spi_count());
        let mut fresh = if self.v2 {
            Vgic::new_v2(vcpus, spis)
        } else {
            Vgic::new(vcpus, spis)
        };
        for (new, old) in fresh.cpus.iter_mut().zip(&self.cpus) {
            new.private.hw = old.private.hw;
            new.private.pintid = old.private.pintid;
        }
        for (new, old) in fresh.spis.iter_mut().zip(&self.spis) {
            new.hw = old.hw;
            new.pintid = old.pintid;
        }
        *self = fresh;
    }

    /// Number of vCPUs.
    pub fn vcpus(&self) -> usize {
        self.cpus.len()
    }

    /// Number of SPIs.
    pub fn spi_count(&self) -> u32 {
        self.router.len() as u32
    }

    /// One past the highest implemented INTID.
    pub(crate) fn intid_limit(&self) -> u32 {
        32 + self.spi_count()
    }

    /// The bank holding `intid` as seen from `vcpu` (SGIs/PPIs are banked
    /// per vCPU). `None` for INTIDs that do not exist.
    pub(crate) fn bank(&self, vcpu: usize, intid: u32) -> Option<&Bank> {
        if intid < 32 {
            self.cpus.get(vcpu).map(|c| &c.private)
        } else {
            self.spis.get((intid / 32 - 1) as usize)
        }
    }

    /// Mutable [`Vgic::bank`].
    pub(crate) fn bank_mut(&mut self, vcpu: usize, intid: u32) -> Option<&mut Bank> {
        if intid < 32 {
            self.cpus.get_mut(vcpu).map(|c| &mut c.private)
        } else {
            self.spis.get_mut((intid / 32 - 1) as usize)
        }
    }

    /// The vCPUs SPI `intid` may be delivered to, as the guest routed it
    /// (GICD_IROUTER or GICD_ITARGETSR); none for an INTID that is not one
    /// of this VM's SPIs.
    pub fn spi_route(&self, intid: u32) -> Kick {
        let Some(spi) = self.spi_index(intid) else {
            return Kick::NONE;
        };
        if self.v2 {
            itargets::targets(self.router[spi] as u8)
        } else {
            router::targets(self.router[spi], self.vcpus())
        }
    }

    /// The SPI index (INTID - 32) of `intid` if it is one of this VM's
    /// SPIs.
    pub(crate) fn spi_index(&self, intid: u32) -> Option<usize> {
        intid
            .checked_sub(32)
            .map(|spi| spi as usize)
            .filter(|&spi| spi < self.router.len())
    }

    /// Recomputes `spi_targets` for SPI index `spi` (INTID 32 + spi).
    pub(crate) fn update_targets(&mut self, spi: usize) {
        let banks = self.spis.len();
        let targets = self.spi_route(32 + spi as u32);
        let (bank, bit) = (spi / 32, 1u32 << (spi % 32));
        for v in 0..self.vcpus() {
            let word = &mut self.spi_targets[v * banks + bank];
            if targets.contains(v) {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }

    /// Sets SPI index `spi`'s routing register to `reg` (already masked to
    /// what the register keeps) and returns whom to kick: whoever could
    /// take it or holds it before, and whoever can take it now.
    pub(crate) fn reroute(&mut self, spi: usize, reg: u64) -> Kick {
        let intid = spi as u32 + 32;
        let before = self.kick_for(0, intid & !31, 1 << (intid % 32));
        self.router[spi] = reg;
        self.update_targets(spi);
        before | self.kick_for(0, intid & !31, 1 << (intid % 32))
    }

    /// The vCPUs to kick after the bits `touched` of the bank holding
    /// `first_intid` changed (`vcpu` names the redistributor for INTIDs
    /// below 32): whoever may now take one of them, and whoever holds one
    /// in an LR (its copy may be stale).
    pub(crate) fn kick_for(&self, vcpu: usize, first_intid: u32, touched: u32) -> Kick {
        let Some(bank) = self.bank(vcpu, first_intid) else {
            return Kick::NONE;
        };
        let deliverable = touched & bank.deliverable(self.groups);
        let owned = touched & bank.owned;
        if first_intid < 32 {
            return if deliverable | owned != 0 {
                Kick::vcpu(vcpu)
            } else {
                Kick::NONE
            };
        }
        let index = (first_intid / 32 - 1) as usize;
        let mut kick = Kick::NONE;
        if deliverable != 0 {
            for v in 0..self.vcpus() {
                if self.spi_targets[v * self.spis.len() + index] & deliverable != 0 {
                    kick |= Kick::vcpu(v);
                }
            }
        }
        for bit in crate::bank::bits(owned) {
            kick |= Kick::vcpu(usize::from(self.owner[index * 32 + bit as usize]));
        }
        kick
    }

    /// Every vCPU (after a change that may affect all of them).
    pub(crate) fn everyone(&self) -> Kick {
        Kick::first(self.vcpus())
    }
}
