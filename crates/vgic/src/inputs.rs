//! Interrupts arriving from outside the guest's register interface:
//! device lines, hypervisor-generated PPIs, trapped ICC_SGI1R_EL1 writes,
//! and the WFI question "would anything be signalled?".

use crate::sgi::SgiRequest;
use crate::{Kick, Vgic, VgicError};

impl Vgic {
    /// Drives a level-sensitive SPI line (e.g. the PL011, INTID 33). On an
    /// SPI the guest configured as edge-triggered a rising level latches it
    /// pending. Unknown INTIDs are ignored.
    pub fn set_spi_level(&mut self, intid: u32, level: bool) -> Kick {
        if !(32..self.intid_limit()).contains(&intid) {
            return Kick::NONE;
        }
        let Some(bank) = self.bank_mut(0, intid) else {
            return Kick::NONE;
        };
        let bit = 1 << (intid % 32);
        let rising = level && bank.line & bit == 0;
        if level {
            bank.line |= bit;
        } else {
            bank.line &= !bit;
        }
        if rising && bank.edge & bit != 0 {
            bank.latch |= bit;
        }
        self.kick_for(0, intid & !31, bit)
    }

    /// Signals an edge on an SPI (e.g. a virtio-mmio transport): latches it
    /// pending. Unknown INTIDs are ignored.
    pub fn pulse_spi(&mut self, intid: u32) -> Kick {
        if !(32..self.intid_limit()).contains(&intid) {
            return Kick::NONE;
        }
        self.latch(0, intid)
    }

    /// Makes PPI `intid` (16..=31) pending on `vcpu` (e.g. the virtual timer,
    /// 27, when its physical interrupt reached EL2). Others are ignored.
    pub fn set_ppi_pending(&mut self, vcpu: usize, intid: u32) -> Kick {
        if !(16..32).contains(&intid) || vcpu >= self.vcpus() {
            return Kick::NONE;
        }
        self.latch(vcpu, intid)
    }

    /// The vCPUs a trapped ICC_SGI1R_EL1 write by `sender` names (what
    /// [`Vgic::send_sgi`] would make the SGI pending on).
    pub fn sgi_targets(&self, sender: usize, icc_sgi1r: u64) -> Kick {
        SgiRequest::decode(icc_sgi1r).targets(sender, self.vcpus())
    }

    /// Delivers a trapped ICC_SGI1R_EL1 write by `sender` to its targets.
    /// Non-existent targets are ignored (spec: no effect).
    pub fn send_sgi(&mut self, sender: usize, icc_sgi1r: u64) -> Kick {
        let req = SgiRequest::decode(icc_sgi1r);
        self.raise_sgi(req.intid, req.targets(sender, self.vcpus()))
    }

    /// Makes SGI `intid` pending on each vCPU of `targets` (however the
    /// guest named them: ICC_SGI1R_EL1 or GICD_SGIR) and kicks whoever
    /// cares.
    pub(crate) fn raise_sgi(&mut self, intid: u32, targets: Kick) -> Kick {
        let mut kick = Kick::NONE;
        for v in targets.iter() {
            kick |= self.latch(v, intid);
        }
        kick
    }

    /// Ties `vcpu`'s virtual `intid` to physical `pintid`: its LRs are
    /// written with HW = 1 so the guest's deactivation deactivates the
    /// physical interrupt (the hypervisor must leave that one active).
    /// PPIs are per vCPU; an SPI mapping applies to the VM and `vcpu` is
    /// only checked. `pintid` must be 16..8192, or 16..1020 on a GICv2.
    pub fn set_hw_mapping(
        &mut self,
        vcpu: usize,
        intid: u32,
        pintid: u32,
    ) -> Result<(), VgicError> {
        // pINTID is a 13-bit field (GICH_LR.PhysicalID a 10-bit one, whose
        // 1020..1023 are special) and SGIs cannot be hardware interrupts.
        let limit = if self.v2 { 1020 } else { 8192 };
        if !(16..limit).contains(&pintid) {
            return Err(VgicError::BadIntid { intid: pintid });
        }
        let bank = self.mapping_bank(vcpu, intid)?;
        let i = (intid % 32) as usize;
        bank.hw |= 1 << i;
        bank.pintid[i] = pintid as u16;
        Ok(())
    }

    /// Undoes [`Vgic::set_hw_mapping`].
    pub fn clear_hw_mapping(&mut self, vcpu: usize, intid: u32) -> Result<(), VgicError> {
        let bank = self.mapping_bank(vcpu, intid)?;
        bank.hw &= !(1 << (intid % 32));
        Ok(())
    }

    fn mapping_bank(
        &mut self,
        vcpu: usize,
        intid: u32,
    ) -> Result<&mut crate::bank::Bank, VgicError> {
        if vcpu >= self.vcpus() {
            return Err(VgicError::NoSuchVcpu { vcpu });
        }
        if !(16..self.intid_limit()).contains(&intid) {
            return Err(VgicError::BadIntid { intid });
        }
        self.bank_mut(vcpu, intid)
            .ok_or(VgicError::BadIntid { intid })
    }

    /// Whether an interrupt would be signalled to `vcpu`: pending, enabled,
    /// group-enabled, routed to it, and of higher priority (numerically
    /// lower) than `pmr` — the guest's ICH_VMCR_EL2.VPMR, or lower still if
    /// the hypervisor accounts for the running priority too. This is the
    /// spec's WFI wake-up condition. Call it after [`Vgic::sync`]: what sits
    /// in list registers is not counted.
    pub fn pending_irq(&self, vcpu: usize, pmr: u8) -> bool {
        let Some(cpu) = self.cpus.get(vcpu) else {
            return false;
        };
        let private = &cpu.private;
        if private.any_above(private.deliverable(self.groups), pmr) {
            return true;
        }
        let banks = self.spis.len();
        self.spis.iter().enumerate().any(|(b, bank)| {
            let word = bank.deliverable(self.groups) & self.spi_targets[vcpu * banks + b];
            word != 0 && bank.any_above(word, pmr)
        })
    }

    /// Whether private interrupt `intid` (0..=31) of `vcpu` is still in
    /// flight: pending or active in the model, or held by a list register.
    /// For a hardware-mapped interrupt whose physical twin is active, false
    /// means the guest dropped it without completing it (an ICPENDR or
    /// ICACTIVER write, a reset): the hypervisor must then deactivate the
    /// physical interrupt itself, or it never fires again.
    pub fn private_in_flight(&self, vcpu: usize, intid: u32) -> bool {
        let Some(cpu) = self.cpus.get(vcpu) else {
            return false;
        };
        if intid >= 32 {
            return false;
        }
        let b = &cpu.private;
        (b.pending() | b.active | b.owned) & (1 << intid) != 0
    }

    /// Latches `intid` pending in `vcpu`'s view and kicks whoever cares.
    fn latch(&mut self, vcpu: usize, intid: u32) -> Kick {
        let Some(bank) = self.bank_mut(vcpu, intid) else {
            return Kick::NONE;
        };
        let bit = 1 << (intid % 32);
        bank.latch |= bit;
        self.kick_for(vcpu, intid & !31, bit)
    }
}
