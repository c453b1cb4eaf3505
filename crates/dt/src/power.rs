//! The machine's own power controller: how Aerie powers a board off whose
//! firmware has no PSCI (the Raspberry Pi's).

use crate::error::DtError;
use crate::fdt::cells::reg;
use crate::fdt::tree::Tree;
use crate::host::enabled_compatible;
use crate::region::Region;

/// A power controller Aerie can power the machine off with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPowerController {
    pub kind: PowerControllerKind,
    /// Its registers.
    pub region: Region,
}

/// The power controllers Aerie drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerControllerKind {
    /// The power manager of Broadcom's BCM283x and BCM2711 (every
    /// Raspberry Pi), whose watchdog resets the SoC: its firmware reads
    /// the partition the reset names, and partition 63 means halt.
    Bcm2835Pm,
}

impl PowerControllerKind {
    /// Its name for people.
    pub const fn name(&self) -> &'static str {
        match self {
            PowerControllerKind::Bcm2835Pm => "the Broadcom power manager's watchdog",
        }
    }
}

/// Every Pi's power manager names this one as a fallback (the Pi 4's
/// `brcm,bcm2711-pm`, the Pi 3's `brcm,bcm2835-pm`).
const BCM2835_PM_WDT: &str = "brcm,bcm2835-pm-wdt";

/// The first enabled power controller Aerie drives; its first `reg` range
/// is the power manager's own (the Pi 4's node also lists its ASB and RPi
/// VEC blocks). A node without `reg` is none.
pub(crate) fn host_power_controller(
    tree: &Tree<'_>,
) -> Result<Option<HostPowerController>, DtError> {
    let Some(node) = enabled_compatible(tree, &[BCM2835_PM_WDT]).next() else {
        return Ok(None);
    };
    Ok(reg(&node)?.first().map(|&region| HostPowerController {
        kind: PowerControllerKind::Bcm2835Pm,
        region,
    }))
}
