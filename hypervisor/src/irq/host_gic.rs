//! The host's GIC, whichever version the machine has: a GICv3 (QEMU's
//! `virt`, the i.MX 8M, Versal, servers) or a GICv2 (the GIC-400 of the
//! Raspberry Pi 4 and many Cortex-A72 boards). The CPU interface behind it
//! is `arch::aarch64::gic`, which follows the same choice.

use super::private::PrivateBank;
use super::{gicv2, gicv3, spi_regs};

#[derive(Clone, Copy)]
pub enum HostGic {
    V3(gicv3::Gic),
    V2(gicv2::Gic),
}

impl HostGic {
    /// The architecture version, 3 or 2.
    pub fn version(&self) -> u8 {
        match self {
            HostGic::V3(_) => 3,
            HostGic::V2(_) => 2,
        }
    }

    /// Whether the GIC has two security states (secure firmware owns part
    /// of it; Aerie is its Non-secure side).
    pub fn two_security_states(&self) -> bool {
        match self {
            HostGic::V3(g) => g.two_security_states(),
            HostGic::V2(g) => g.two_security_states(),
        }
    }

    /// Once, on the boot CPU: every SPI disabled at regular priority, the
    /// distributor on.
    pub fn init_distributor(&self) {
        match self {
            HostGic::V3(g) => g.init_distributor(),
            HostGic::V2(g) => g.init_distributor(),
        }
    }

    /// The distributor's direct-map address.
    fn dist(&self) -> usize {
        match self {
            HostGic::V3(g) => g.dist(),
            HostGic::V2(g) => g.dist(),
        }
    }

    /// Make SPI `intid` edge-triggered, before it is enabled (the same
    /// register in both versions).
    pub fn set_edge_triggered(&self, intid: u32) {
        spi_regs::set_edge_triggered(self.dist(), intid);
    }

    /// Route SPI `intid` to the CPU with `mpidr` and enable it (the enable
    /// is the same register in both versions).
    pub fn enable_spi(&self, intid: u32, mpidr: u64) {
        self.route_spi(intid, mpidr);
        spi_regs::enable(self.dist(), intid);
    }

    /// Route SPI `intid` (enabled already) to the CPU with `mpidr` from now
    /// on; one pending meanwhile goes to either CPU.
    pub fn route_spi(&self, intid: u32, mpidr: u64) {
        match self {
            HostGic::V3(g) => g.route_spi(intid, mpidr),
            HostGic::V2(g) => g.route_spi(intid, mpidr),
        }
    }

    /// On each CPU: its private interrupts as Aerie uses them. Returns its
    /// registers for their active state.
    pub fn init_cpu(&self, mpidr: u64) -> PrivateBank {
        match self {
            HostGic::V3(g) => g.init_redistributor(mpidr),
            HostGic::V2(g) => g.init_cpu(mpidr),
        }
    }
}
