//! The host GICv2 distributor (IHI 0048B), reached through the direct map:
//! the GIC-400 of boards such as the Raspberry Pi 4, and QEMU's `virt` with
//! `gic-version=2`. Unlike a GICv3 it also holds each CPU's private
//! interrupts, banked per CPU at the same addresses, and routes SPIs by CPU
//! interface masks (GICD_ITARGETSR) rather than affinities.
//!
//! With one security state Aerie's interrupts are Group 0 (GICC_CTLR's
//! AckCtl stays clear, so a Group 1 interrupt would not be acknowledged
//! through GICC_IAR). With two, Aerie is the Non-secure side: its group
//! writes are ignored and the firmware made everything Non-secure Group 1,
//! which its view of the CPU interface acknowledges.

use super::private::{self, PrivateBank};
use super::spi_regs::{
    self, read32, write32, GICD_ICENABLER, GICD_IGROUPR, GICD_IPRIORITYR, GICD_ISENABLER,
    GICD_TYPER,
};
use crate::arch::aarch64::gic_v2;
use core::ptr::write_volatile;

const GICD_CTLR: usize = 0x000;
const GICD_ISACTIVER: usize = 0x300;
const GICD_ICACTIVER: usize = 0x380;
const GICD_ITARGETSR: usize = 0x800;
/// GICD_CTLR: EnableGrp0, or the Non-secure view's EnableGrp1.
const CTLR_ENABLE: u32 = 1;
/// GICD_TYPER.SecurityExtn.
const TYPER_SECURITY_EXTN: u32 = 1 << 10;

fn write8(addr: usize, value: u8) {
    // SAFETY: a byte of the distributor, mapped as device memory in the
    // direct map (see `Gic::new`); GICD_ITARGETSR is byte-accessible.
    unsafe { write_volatile(addr as *mut u8, value) }
}

/// The host GICv2 distributor, as Aerie mapped it.
#[derive(Clone, Copy)]
pub struct Gic {
    dist: usize,
}

impl Gic {
    /// # Safety
    /// `dist` must be the direct-map address of the host's GICv2
    /// distributor, mapped as device memory for good.
    pub const unsafe fn new(dist: u64) -> Self {
        Gic {
            dist: dist as usize,
        }
    }

    /// Whether the GIC implements the Security Extensions (secure firmware
    /// owns part of it; Aerie is its Non-secure side).
    pub fn two_security_states(&self) -> bool {
        read32(self.dist + GICD_TYPER) & TYPER_SECURITY_EXTN != 0
    }

    /// Once, on the boot CPU: every SPI disabled, Group 0, regular
    /// priority; forwarding on.
    pub fn init_distributor(&self) {
        write32(self.dist + GICD_CTLR, 0);
        spi_regs::reset(self.dist, false);
        // The boot CPU, running this, is the first to record its CPU
        // interface, before any SPI is routed to it.
        self.record_own_interface(crate::arch::aarch64::cpu::mpidr());
        write32(self.dist + GICD_CTLR, CTLR_ENABLE);
    }

    /// The distributor's direct-map address.
    pub fn dist(&self) -> usize {
        self.dist
    }

    /// Send SPI `intid` to the CPU with `mpidr` (its CPU interface, as it
    /// recorded it in `init_distributor` or `init_cpu`) from now on.
    pub fn route_spi(&self, intid: u32, mpidr: u64) {
        write8(
            self.dist + GICD_ITARGETSR + intid as usize,
            gic_v2::interface(mpidr),
        );
    }

    /// Record this CPU's interface mask: its own GICD_ITARGETSR0 (banked)
    /// names it in every byte.
    fn record_own_interface(&self, mpidr: u64) {
        gic_v2::set_interface(mpidr, read32(self.dist + GICD_ITARGETSR) as u8);
    }

    /// On each CPU: its banked private interrupts as Aerie uses them, and
    /// its CPU interface number (what its own GICD_ITARGETSR0 reads) for
    /// SGIs and SPI routing. Returns its active-state registers.
    pub fn init_cpu(&self, mpidr: u64) -> PrivateBank {
        self.record_own_interface(mpidr);
        write32(self.dist + GICD_ICENABLER, u32::MAX);
        write32(self.dist + GICD_IGROUPR, 0);
        // SAFETY: the distributor's banked IPRIORITYR0 and ISENABLER0,
        // this CPU's wherever it writes them.
        unsafe { private::configure(self.dist + GICD_IPRIORITYR, self.dist + GICD_ISENABLER) };
        // SAFETY: the distributor's banked ISACTIVER0/ICACTIVER0, which
        // address this CPU's private interrupts wherever it reads them.
        unsafe { PrivateBank::new(self.dist + GICD_ISACTIVER, self.dist + GICD_ICACTIVER) }
    }
}
