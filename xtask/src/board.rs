//! The machines QEMU emulates for Aerie: its `virt` board, and a real
//! board's model booted with that board's own device tree.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cmd::step;
use crate::linux::write_if_changed;
use crate::paths;

/// A machine for `-M`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Board {
    /// QEMU's `virt` with EL2 (`virtualization=on`), a GICv3 or v4, PL011s,
    /// virtio-mmio transports, and the CPU model of `-cpu`.
    #[default]
    Virt,
    /// NXP's i.MX 8M Plus EVK (`imx8mp-evk`): four Cortex-A53 entered at
    /// EL2, a GICv3 (GIC-500 layout), the SoC's i.MX UARTs, PSCI by SMC.
    /// QEMU writes no device tree for it: it boots with the board's own,
    /// from Debian's kernel package. Its console is UART2, QEMU's second
    /// serial port. QEMU wires the GIC's physical IRQ and FIQ outputs to
    /// the CPUs but not its virtual ones, so Aerie signals guests' virtual
    /// interrupts itself (`aerie.virq=hcr`). No virtio: the host disk is an
    /// SD card in its slot (a uSDHC, Aerie's `sd_card`), the uplink its
    /// own Ethernet (an i.MX ENET, Aerie's `imx_fec`).
    Imx8mpEvk,
    /// QEMU's Xilinx Versal virtual board (`xlnx-versal-virt`): two
    /// Cortex-A72 entered at EL2 on a machine with EL3, so its GICv3 has two
    /// security states (the only such GIC among these machines), PL011s,
    /// virtio-mmio transports, Xilinx's RTC. QEMU writes its device tree;
    /// the console is UART0.
    VersalVirt,
    /// The Raspberry Pi 4 Model B (`raspi4b`): four Cortex-A72 entered at
    /// EL2, a GIC-400 (a GICv2, so Aerie's GICv2 build), the console the
    /// tree names, the mini UART (QEMU's second serial port), CPUs started
    /// through a spin table (no PSCI), no RTC.
    /// It boots with the board's own device tree from Debian's kernel
    /// package, to which the run adds what the Pi's firmware and a boot
    /// loader would: an rng-seed and the time of day. No virtio: the host
    /// disk is an SD card behind an SDHCI (the board's slot is on its
    /// EMMC2; QEMU's model wires its card to the first, the EMMC), and there is no
    /// network card (QEMU's model has no Ethernet): VMs without uplinks.
    /// Without PSCI, Aerie powers it off as Linux does a Pi, through the
    /// power manager's watchdog (partition 63, halt), which ends QEMU's run.
    Raspi4b,
    /// Xilinx's ZCU102 (`xlnx-zcu102`, with `virtualization=on`): four
    /// Cortex-A53 entered at EL2, PSCI by SMC, a GIC-400 integrated on
    /// 64 KiB pages (so Aerie's GICv2 build, with its CPU interfaces 0xF000
    /// into their frames), Cadence UARTs (the console is UART0), the
    /// ZynqMP's RTC. It boots with the board's own device tree from
    /// Debian's kernel package. No virtio: the host disk is an SD card in
    /// its slot (the second Arasan SDHCI), the uplink its own Ethernet
    /// (GEM3, a Cadence GEM, Aerie's `cadence_gem`).
    Zcu102,
}

impl Board {
    pub const ALL: [Board; 5] = [
        Board::Virt,
        Board::Imx8mpEvk,
        Board::VersalVirt,
        Board::Raspi4b,
        Board::Zcu102,
    ];

    /// The board named `name` (as `-M` names it).
    pub fn parse(name: &str) -> Option<Board> {
        Board::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Every board's name, for messages.
    pub fn names() -> String {
        Board::ALL.map(Board::name).join(", ")
    }

    pub fn name(self) -> &'static str {
        match self {
            Board::Virt => "virt",
            Board::Imx8mpEvk => "imx8mp-evk",
            Board::VersalVirt => "xlnx-versal-virt",
            Board::Raspi4b => "raspi4b",
            Board::Zcu102 => "xlnx-zcu102",
        }
    }

    /// Its `-M` value: the name, with the options that give it EL2.
    pub fn machine(self) -> String {
        match self {
            Board::Zcu102 => format!("{},virtualization=on", self.name()),
            _ => self.name().to_string(),
        }
    }

    /// The most CPUs the board has.
    pub fn max_cpus(self) -> u32 {
        match self {
            Board::Virt => 8,
            Board::Imx8mpEvk | Board::Raspi4b | Board::Zcu102 => 4,
            Board::VersalVirt => 2,
        }
    }

    /// Whether `-smp` can choose how many CPUs it has (the Versal model's
    /// are fixed: two Cortex-A72 for software, and its two Cortex-R5F
    /// count towards QEMU's number).
    pub fn cpus_chosen(self) -> bool {
        !matches!(self, Board::VersalVirt | Board::Raspi4b)
    }

    /// Its GIC's version, which picks the Aerie build it boots (None:
    /// `virt`, whose GIC the run chooses).
    pub fn gic_version(self) -> Option<u32> {
        match self {
            Board::Virt => None,
            Board::Imx8mpEvk | Board::VersalVirt => Some(3),
            Board::Raspi4b | Board::Zcu102 => Some(2),
        }
    }

    /// Its console's serial port, as QEMU numbers them (`-serial`).
    pub fn console_serial(self) -> usize {
        match self {
            Board::Virt | Board::VersalVirt | Board::Zcu102 => 0,
            Board::Imx8mpEvk | Board::Raspi4b => 1,
        }
    }

    /// Whether it has virtio-mmio transports, so a virtio host disk and
    /// uplink card (without, the host disk is an SD card in the board's
    /// slot and the uplink the board's own Ethernet).
    pub fn has_virtio(self) -> bool {
        matches!(self, Board::Virt | Board::VersalVirt)
    }

    /// Where QEMU puts the SD card that holds the host disk, on a board
    /// without virtio, as `-drive` options: the EVK's slot is usdhc2,
    /// QEMU's SD bus 1; the ZCU102 numbers its slots as units of bus 0.
    pub fn sd_card_slot(self) -> Option<&'static str> {
        match self {
            Board::Virt | Board::VersalVirt => None,
            Board::Imx8mpEvk => Some("bus=1"),
            // QEMU's first SD card, behind the Pi's EMMC (the board's slot
            // is on its EMMC2; Aerie takes whichever has a card).
            Board::Raspi4b => Some("bus=0"),
            // Its slot is on the second SDHCI (the first is off in its tree).
            Board::Zcu102 => Some("index=1"),
        }
    }

    /// Whether it has a network card for Aerie's uplink: virtio, or the
    /// board's own Ethernet where Aerie drives it (QEMU's Raspberry Pi 4
    /// has no Ethernet at all).
    pub fn takes_uplink(self) -> bool {
        self != Board::Raspi4b
    }

    /// Which of QEMU's NICs (`-nic`, counted from 0) reaches the Ethernet
    /// controller the board's tree enables, on a board whose uplink is its
    /// own Ethernet. QEMU hands its NICs to the SoC's controllers in order,
    /// and a `-nic none` is no NIC at all, so does not hold a place: the
    /// EVK's ENET1 takes the first; the ZCU102's tree enables GEM3 alone,
    /// which takes the fourth.
    pub fn uplink_nic(self) -> usize {
        match self {
            Board::Zcu102 => 3,
            _ => 0,
        }
    }

    /// Whether a host disk can be attached (virtio, or an SD card slot
    /// Aerie drives).
    pub fn takes_disk(self) -> bool {
        self.has_virtio() || self.sd_card_slot().is_some()
    }

    /// Whether its GIC's virtual IRQ output is left unconnected, so that
    /// Aerie must signal guests' virtual interrupts itself
    /// (`aerie.virq=hcr`).
    pub fn virq_unwired(self) -> bool {
        self == Board::Imx8mpEvk
    }

    /// The board's device tree for `-dtb` (None: QEMU writes one).
    pub fn dtb(self) -> Option<PathBuf> {
        match self {
            Board::Virt | Board::VersalVirt => None,
            Board::Imx8mpEvk => Some(paths::aerie_dir().join("imx8mp-evk.dtb")),
            Board::Raspi4b => Some(paths::aerie_dir().join("raspi4b.dtb")),
            Board::Zcu102 => Some(paths::aerie_dir().join("zcu102.dtb")),
        }
    }

    /// Where the board's tree is in the kernel package.
    fn dtb_in_package(self) -> Option<&'static str> {
        match self {
            Board::Virt | Board::VersalVirt => None,
            Board::Imx8mpEvk => Some("freescale/imx8mp-evk.dtb"),
            Board::Raspi4b => Some("broadcom/bcm2711-rpi-4-b.dtb"),
            Board::Zcu102 => Some("xilinx/zynqmp-zcu102-rev1.0.dtb"),
        }
    }

    /// The tree a run boots with: the board's own, with what its firmware
    /// and boot loader would add. The Pi's firmware passes an rng-seed;
    /// with no RTC on the board, the time of day is the boot loader's to
    /// hand over (`/chosen/aerie,wall-clock`, read at counter 0: QEMU's
    /// counter starts with the machine, a moment after this is written).
    pub fn boot_dtb(self) -> Result<Option<PathBuf>> {
        let Some(dtb) = self.dtb() else {
            return Ok(None);
        };
        if self != Board::Raspi4b {
            return Ok(Some(dtb));
        }
        let blob = std::fs::read(&dtb)?;
        let mut seed = [0u8; 32];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut seed)?;
        let unix_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let handoff = aerie_dt::Handoff {
            bootargs: "",
            boot_module: None,
            reserve: &[],
            memory: None,
            rng_seed: Some(&seed),
            wall_clock: Some(aerie_dt::WallClock {
                unix_seconds,
                counter: 0,
            }),
        };
        let tree = aerie_dt::with_handoff(&blob, &handoff)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dtb.display()))?;
        let out = paths::aerie_dir().join(format!("{}-boot.dtb", self.name()));
        std::fs::write(&out, tree)?;
        Ok(Some(out))
    }
}

/// Copies every board's device tree from kernel package `package`,
/// unpacked at `kdir` (the Linux guest's), to `target/aerie/`.
pub fn prepare_dtbs(kdir: &Path, package: &str) -> Result<()> {
    let dtbs = kdir.join("usr/lib").join(package);
    for board in Board::ALL {
        let (Some(rel), Some(out)) = (board.dtb_in_package(), board.dtb()) else {
            continue;
        };
        let from = dtbs.join(rel);
        let Ok(bytes) = std::fs::read(&from) else {
            bail!(
                "{}: the {} device tree is not in {package}",
                from.display(),
                board.name()
            );
        };
        write_if_changed(&out, &bytes)?;
        step(format!(
            "board {}: {} (from {package})",
            board.name(),
            paths::show(&out)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for board in Board::ALL {
            assert_eq!(Board::parse(board.name()), Some(board));
        }
        assert_eq!(
            Board::names(),
            "virt, imx8mp-evk, xlnx-versal-virt, raspi4b, xlnx-zcu102"
        );
        assert_eq!(Board::parse("raspi3b"), None);
    }
}
