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
use super::PRIORITY_REGULAR;
use crate::arch::aarch64::gic_v2;
use core::ptr::{read_volatile, write_volatile};

const GICD_CTLR: usize = 0x000;
const GICD_TYPER: usize = 0x004;
const GICD_IGROUPR: usize = 0x080;
const GICD_ISENABLER: usize = 0x100;
const GICD_ICENABLER: usize = 0x180;
const GICD_ISACTIVER: usize = 0x300;
const GICD_ICACTIVER: usize = 0x380;
const GICD_IPRIORITYR: usize = 0x400;
const GICD_ITARGETSR: usize = 0x800;
const GICD_ICFGR: usize = 0xc00;
/// GICD_CTLR: EnableGrp0, or the Non-secure view's EnableGrp1.
const CTLR_ENABLE: u32 = 1;
/// GICD_TYPER.SecurityExtn.
const TYPER_SECURITY_EXTN: u32 = 1 << 10;

fn read32(addr: usize) -> u32 {
    // SAFETY: `addr` lies in the distributor, mapped as device memory in
    // the direct map (see `Gic::new`).
    unsafe { read_volatile(addr as *const u32) }
}

fn write32(addr: usize, value: u32) {
    // SAFETY: as for read32.
    unsafe { write_volatile(addr as *mut u32, value) }
}

fn write8(addr: usize, value: u8) {
    // SAFETY: as for read32; GICD_ITARGETSR is byte-accessible.
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
        let lines = ((read32(self.dist + GICD_TYPER) & 0x1f) as usize + 1) * 32;
        for i in (32..lines).step_by(32) {
            write32(self.dist + GICD_ICENABLER + i / 8, u32::MAX);
            write32(self.dist + GICD_IGROUPR + i / 8, 0);
        }
        let prio = u32::from_ne_bytes([PRIORITY_REGULAR; 4]);
        for i in (32..lines).step_by(4) {
            write32(self.dist + GICD_IPRIORITYR + i, prio);
        }
        write32(self.dist + GICD_CTLR, CTLR_ENABLE);
    }

    /// Make SPI `intid` edge-triggered (GICD_ICFGR<n>, bit 1 of its pair).
    /// Before the SPI is enabled.
    pub fn set_edge_triggered(&self, intid: u32) {
        let reg = self.dist + GICD_ICFGR + (intid as usize / 16) * 4;
        write32(reg, read32(reg) | 2 << (2 * (intid % 16)));
    }

    /// Send SPI `intid` to the CPU with `mpidr` (its CPU interface, as it
    /// recorded it in `init_cpu`) and enable it.
    pub fn enable_spi(&self, intid: u32, mpidr: u64) {
        write8(
            self.dist + GICD_ITARGETSR + intid as usize,
            self.interface(mpidr),
        );
        write32(
            self.dist + GICD_ISENABLER + (intid as usize / 32) * 4,
            1 << (intid % 32),
        );
    }

    /// The CPU interface mask of the CPU with `mpidr`: as it recorded it,
    /// or, for the CPU running this before it did, read now.
    fn interface(&self, mpidr: u64) -> u8 {
        match gic_v2::interface(mpidr) {
            0 if mpidr == crate::arch::aarch64::cpu::mpidr() => self.record_own_interface(mpidr),
            mask => mask,
        }
    }

    /// Read and record this CPU's interface mask: its own GICD_ITARGETSR0
    /// (banked) names it in every byte.
    fn record_own_interface(&self, mpidr: u64) -> u8 {
        let own = read32(self.dist + GICD_ITARGETSR) as u8;
        gic_v2::set_interface(mpidr, own);
        own
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
