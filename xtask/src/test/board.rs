//! Aerie on machines other than QEMU's `virt`; the guests see the same
//! virtual machine as there.
//! - `board-imx8mp-testkit`, `board-imx8mp-linux`, `board-imx8mp-console`
//!   and `board-imx8mp-uplink`: QEMU's model of NXP's
//!   i.MX 8M Plus EVK (`--board imx8mp-evk`), booted with the board's own
//!   device tree from Debian's kernel package rather than one QEMU writes:
//!   four Cortex-A53, a GIC-500-style GICv3, the SoC's i.MX UART as the
//!   console, the SNVS's real-time counter as the wall clock, PSCI by SMC,
//!   the SoC's ENET as the uplink, an SD card in its slot as the host disk.
//! - `board-versal-testkit`, `board-versal-pnmi`, `board-versal-linux`,
//!   `board-versal-uplink` and `board-versal-gem-uplink`: QEMU's Xilinx
//!   Versal virtual board (`--board xlnx-versal-virt`), whose GIC has two
//!   security states and shows Aerie raw priorities while storing its
//!   Non-secure ones shifted: interrupts and pseudo-NMIs must work there
//!   too; its wall clock is Xilinx's RTC, its disk and uplink virtio (or
//!   the uplink its own GEM).
//! - `board-raspi4b-linux` and `board-raspi4b-console`: QEMU's Raspberry
//!   Pi 4 Model B (`--board raspi4b`), booted with the board's own tree: a
//!   GIC-400 (Aerie's GICv2 build), the mini UART as the console, CPUs
//!   started through a spin table, no PSCI, no RTC (the time comes from the
//!   run, as from a boot loader), the host disk an SD card behind an SDHCI.
//! - `board-zcu102-testkit`, `board-zcu102-linux`, `board-zcu102-console`
//!   and `board-zcu102-uplink`: QEMU's Xilinx ZCU102 (`--board
//!   xlnx-zcu102`), booted with the board's own tree: four Cortex-A53, a
//!   GIC-400 whose 4 KiB pages repeat over 64 KiB (Aerie's GICv2 build, its
//!   CPU interfaces 0xF000 into their frames), a Cadence UART as the
//!   console, Xilinx's RTC, PSCI by SMC, the host disk an SD card behind
//!   the ZynqMP's Arasan SDHCI, the uplink its GEM3 (a Cadence GEM).

use super::linux_net::HostPeer;
use super::{
    clean_exit, config_vcpus, disk_summary, fresh_disk, linux_check_passed, linux_drove_a_gic_v2,
    run_aerie, summary_passed, test_config, virtio_blk_ran, AerieRun, LINUX_TIMEOUT,
    TESTKIT_MIN_PASSED,
};
use std::path::Path;

use crate::board::Board;
use crate::output;
use crate::qemu::Keys;
use crate::run::Guest;

/// Test `name`'s run of `guest` on `board`, with all its CPUs.
fn on_board<'a>(
    name: &'a str,
    board: Board,
    guest: Guest,
    disk: &'a Path,
    timeout: u64,
) -> AerieRun<'a> {
    AerieRun {
        board,
        smp: board.max_cpus(),
        gic_version: board.gic_version().unwrap_or(3),
        ..AerieRun::new(name, guest, disk, timeout)
    }
}

/// A board's config VM (`tests/configs/<file>`), no disk.
fn config_on_board<'a>(name: &'a str, board: Board, file: &str) -> AerieRun<'a> {
    on_board(
        name,
        board,
        Guest::Config(test_config(file)),
        Path::new(""),
        LINUX_TIMEOUT,
    )
}

/// The lines every run on `board` starts with: Aerie found the CPUs,
/// console and GIC in its tree; on the EVK it also signals guests' virtual
/// interrupts itself (QEMU's model leaves the GIC's virtual IRQ line
/// unconnected).
fn booted_on(board: Board, out: &str) -> Result<(), String> {
    let (cpus, machine) = match board {
        Board::Imx8mpEvk => (
            "on Cortex-A53 (MIDR 0x410fd034), 4 CPUs",
            "machine: NXP i.MX8MPlus EVK board; console i.MX UART at 0x30890000; GICv3 with one security state; guests' virtual IRQs signalled through HCR_EL2.VI",
        ),
        Board::VersalVirt => (
            "on Cortex-A72 (MIDR 0x410fd083), 2 CPUs",
            "machine: Xilinx Versal Virtual development board; console PL011 at 0xff000000; GICv3 with two security states",
        ),
        Board::Raspi4b => (
            "on Cortex-A72 (MIDR 0x410fd083), 4 CPUs",
            "machine: Raspberry Pi 4 Model B; console Raspberry Pi mini UART at 0xfe215040; GICv2 with one security state",
        ),
        Board::Zcu102 => (
            "on Cortex-A53 (MIDR 0x410fd034), 4 CPUs",
            "machine: ZynqMP ZCU102 Rev1.0; console Cadence UART at 0xff000000; GICv2 with one security state",
        ),
        Board::Virt => return Err("`virt` is no board of these tests".into()),
    };
    output::require_line(out, cpus)?;
    output::require_line(out, machine)?;
    seeded(board, out)
}

/// Aerie's entropy pool is strong on `board`: no warning, and on the
/// models whose device tree QEMU gives no `/chosen/rng-seed` (all but the
/// Pi's) the CPU timing jitter passed its tests.
fn seeded(board: Board, out: &str) -> Result<(), String> {
    if let Some(line) = output::lines_with(out, "no entropy source").first() {
        return Err(format!("`{line}`"));
    }
    if board == Board::Raspi4b {
        return Ok(());
    }
    output::require_line(out, "aerie: entropy: 256 bits from CPU timing jitter (")
}

/// The testkit, every check passing on `board`: PSCI, interrupts (SGIs,
/// priorities, preemption, the PL011's SPI, the virtual timer), the
/// backdoors, the debug exceptions and the guest storm.
fn testkit_on(name: &str, board: Board) -> Result<(), String> {
    testkit_run(name, board, Guest::testkit(), Path::new(""), |_| Ok(()))
}

/// A testkit VM (`guest`, with host disk `disk`) on `board`: every check
/// passes, and `more` holds of the output.
fn testkit_run(
    name: &str,
    board: Board,
    guest: Guest,
    disk: &Path,
    more: impl Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    let run = on_board(name, board, guest, disk, 180);
    run_aerie(&run, |status, out| {
        booted_on(board, out)?;
        summary_passed(output::testkit_result(out), TESTKIT_MIN_PASSED)?;
        more(out)?;
        clean_exit(status, out)
    })
}

/// The Linux check VM (tests/configs/linux-check.toml) on the Raspberry
/// Pi 4: Aerie started the three other CPUs through the spin table and
/// drives the GIC-400; the VM passes every check, its disk on the SD card
/// behind an SDHCI (QEMU's model wires its card to the first, the EMMC;
/// the board's slot is on the EMMC2) across a reboot, runs Linux's
/// GICv2 driver with reschedule IPIs between its vCPUs, and reads the date
/// the run handed over; Aerie powers the board off through its power
/// manager's watchdog (no PSCI).
pub fn raspi4b_linux() -> Result<(), String> {
    linux_check_on(
        "board-raspi4b-linux",
        Board::Raspi4b,
        &[
            "host disk: SD card behind the SDHCI at 0xfe300000, 256 MiB, 4 data lines at 26 MHz",
            "power: no PSCI; the machine powers off through the Broadcom power manager's watchdog at 0xfe100000",
        ],
    )
}

/// The Linux check VM (tests/configs/linux-check.toml) on `board`, with a
/// fresh host disk: Aerie says the `lines`, the VM passes every check (on
/// a GICv2 board, with Linux's GICv2 driver and reschedule IPIs between
/// its vCPUs), its disk across a reboot.
fn linux_check_on(name: &str, board: Board, lines: &[&str]) -> Result<(), String> {
    let config = test_config("linux-check.toml");
    let vcpus = config_vcpus(&config, 0)?;
    let disk = fresh_disk(name)?;
    let run = on_board(name, board, Guest::Config(config), &disk, LINUX_TIMEOUT);
    run_aerie(&run, |status, out| {
        booted_on(board, out)?;
        for line in lines {
            output::require_line(out, line)?;
        }
        if board.gic_version() == Some(2) {
            linux_drove_a_gic_v2(out)?;
        }
        linux_check_passed(out, vcpus)?;
        clean_exit(status, out)
    })
}

/// The testkit on a GIC with two security states.
pub fn versal_testkit() -> Result<(), String> {
    testkit_on("board-versal-testkit", Board::VersalVirt)
}

/// The Linux check VM (tests/configs/linux-check.toml) there: every check,
/// the date from the ZynqMP RTC, and the virtio disk across a reboot.
pub fn versal_linux() -> Result<(), String> {
    linux_check_on("board-versal-linux", Board::VersalVirt, &[])
}

/// A Linux VM on the uplink there (tests/configs/board-versal-uplink.toml):
/// QEMU's DHCP server gives it its first lease, and QEMU's DNS server
/// answers all six pings.
pub fn versal_uplink() -> Result<(), String> {
    let board = Board::VersalVirt;
    let run = config_on_board("board-versal-uplink", board, "board-versal-uplink.toml");
    run_aerie(&run, |status, out| {
        booted_on(board, out)?;
        output::require_line(out, "aerie: uplink: virtio-net at 0xa0000e00")?;
        output::require_line(out, " 10.0.2.15/24 features ")?;
        output::require_line(out, "net: 6 packets transmitted, 6 packets received")?;
        clean_exit(status, out)
    })
}

/// A Linux VM on the i.MX board's uplink, the board's own Ethernet: Aerie's
/// ENET driver brings the card up with the address QEMU gave it and reads
/// its PHY; the rest as [`own_ethernet_uplink`].
pub fn imx8mp_uplink() -> Result<(), String> {
    own_ethernet_uplink(
        "board-imx8mp-uplink",
        Board::Imx8mpEvk,
        &[
            "aerie: uplink: i.MX ENET at 0x30be0000 (INTID 150), address 52:54:00:12:34:56",
            "aerie: uplink: PHY at MDIO address 1: link up",
        ],
    )
}

/// The same on the ZCU102's uplink, its GEM3: Aerie's GEM driver brings
/// the card up with the address QEMU gave it (QEMU's fourth NIC's: the
/// first three went to GEM0 to GEM2, off in the tree) and reads its PHY,
/// which QEMU's model puts at MDIO address 23 rather than the tree's 12.
pub fn zcu102_uplink() -> Result<(), String> {
    own_ethernet_uplink(
        "board-zcu102-uplink",
        Board::Zcu102,
        &[
            "aerie: uplink: Cadence GEM at 0xff0e0000 (INTID 95), address 52:54:00:12:34:59",
            "aerie: uplink: PHY at MDIO address 23 (the tree's, 12, did not answer): link up, 1000 Mb/s",
        ],
    )
}

/// The same on the Versal board's own Ethernet, its first GEM, rather
/// than the virtio-net card its runs otherwise have: as on a Versal board,
/// which has no virtio. QEMU's tree gives the GEM a fixed link, no PHY
/// address, so Aerie looks for the PHY on MDIO and finds the model's at
/// 23.
pub fn versal_gem_uplink() -> Result<(), String> {
    own_ethernet_uplink(
        "board-versal-gem-uplink",
        Board::VersalVirt,
        &[
            "aerie: uplink: Cadence GEM at 0xff0c0000 (INTID 88), address 52:54:00:12:34:56",
            "aerie: uplink: PHY at MDIO address 23: link up, 1000 Mb/s",
        ],
    )
}

/// A Linux VM on `board`'s uplink, the board's own Ethernet
/// (tests/configs/board-uplink.toml), whose card Aerie announces with the
/// `card` lines: QEMU's DHCP server leases the VM its first address; the
/// VM says hello to the host, and the host sends it 1 MiB through a
/// forwarded port, which must arrive whole: some 700 frames in and 350
/// out, so both descriptor rings go round many times.
fn own_ethernet_uplink(name: &str, board: Board, card: &[&str]) -> Result<(), String> {
    let peer = HostPeer::start(name, "board-uplink.toml", pseudo_random(1 << 20))?;
    let forwards = [peer.forward()];
    let run = AerieRun {
        forwards: &forwards,
        own_ethernet: true,
        ..on_board(
            name,
            board,
            Guest::Config(peer.config.clone()),
            Path::new(""),
            LINUX_TIMEOUT,
        )
    };
    run_aerie(&run, |status, out| {
        peer.finish(out)?;
        booted_on(board, out)?;
        for line in card {
            output::require_line(out, line)?;
        }
        output::require_line(
            out,
            "initramfs: eth0: 10.0.2.15/24 by DHCP, gateway 10.0.2.2",
        )?;
        clean_exit(status, out)
    })
}

/// `len` bytes that do not compress or repeat (xorshift64).
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Pseudo-NMIs there: one during another's handler, and one to a pCPU
/// that is stopping (`aerie.test=pnmi-nested`, as `pnmi-nested` on
/// `virt`). With the old mask they were held back with the regular
/// interrupts.
pub fn versal_pnmi() -> Result<(), String> {
    let board = Board::VersalVirt;
    let run = AerieRun {
        append: "aerie.test=pnmi-nested",
        ..on_board(
            "board-versal-pnmi",
            board,
            Guest::testkit(),
            Path::new(""),
            180,
        )
    };
    run_aerie(&run, |status, out| {
        booted_on(board, out)?;
        output::require_line(out, "boot-test: nested pseudo-NMI handled")?;
        output::require_line(out, "boot-test: pseudo-NMI on a stopping CPU handled")?;
        clean_exit(status, out)
    })
}

/// The testkit on the EVK, with a disk on the SD card
/// (tests/configs/testkit-disk.toml): its `virtio_blk` check runs there
/// too, through Aerie's uSDHC driver, whose PIO transfers are slow enough
/// under QEMU that vCPU 1's reset lands inside vCPU 0's read, and that the
/// read outlasts a pCPU's turn: the request vCPU 1 adds meanwhile is handed
/// over to the VM's next tick, which the disk's summary must show. The SD
/// card's transfers run in the notify: none returns before its request is
/// done.
pub fn imx8mp_testkit() -> Result<(), String> {
    let name = "board-imx8mp-testkit";
    let disk = fresh_disk(name)?;
    let guest = Guest::Config(test_config("testkit-disk.toml"));
    testkit_run(name, Board::Imx8mpEvk, guest, &disk, |out| {
        super::virtio_blk_ring_ran(out)?;
        let (early, notifies) = virtio_blk_ran(out)?;
        if early != 0 {
            return Err(format!(
                "{early} of {notifies} notifies returned before their request was done on the SD card"
            ));
        }
        let (_, _, handed) = super::disk_summary(out, "testkit")?;
        if handed == 0 {
            return Err("the disk summary shows no hand-over at a turn's end".into());
        }
        Ok(())
    })
}

/// A Linux VM reading its disk with four readers on the EVK
/// (tests/configs/linux-readdisk.toml), its disk on the SD card, whose
/// uSDHC PIO makes each large read last tens of milliseconds: the VM keeps
/// printing and powers off, and its disk summary shows the reads and other
/// pCPUs' exits during the transfers (the 4 pCPUs run on while one moves
/// data). Hand-overs at a turn's end are not required: Linux's one
/// hardware queue dispatches one batch at a time, and the next only after
/// the notify that serves the last returns, so none arrive mid-batch.
pub fn imx8mp_disk() -> Result<(), String> {
    let name = "board-imx8mp-disk";
    let board = Board::Imx8mpEvk;
    let disk = fresh_disk(name)?;
    let guest = Guest::Config(test_config("linux-readdisk.toml"));
    let run = on_board(name, board, guest, &disk, LINUX_TIMEOUT);
    run_aerie(&run, |status, out| {
        booted_on(board, out)?;
        output::require_line(out, "readdisk-alive 3")?;
        let (reads, beside, handed) = disk_summary(out, "readdisk")?;
        if reads < 4 || beside == 0 {
            return Err(format!(
                "expected reads with exits beside them: {reads} reads, {beside} exits ({handed} hand-overs)"
            ));
        }
        clean_exit(status, out)
    })
}

/// The Linux check VM (tests/configs/linux-check.toml) on the board: every
/// check passes, including the date from the SNVS, both vCPUs running
/// pinned tasks, and its disk across a reboot, a region of the host disk,
/// which is an SD card in the board's slot there (Aerie's uSDHC driver).
pub fn imx8mp_linux() -> Result<(), String> {
    linux_check_on(
        "board-imx8mp-linux",
        Board::Imx8mpEvk,
        &["aerie: host disk: SD card behind the i.MX uSDHC at 0x30b50000, 256 MiB, 4 data lines at 50 MHz"],
    )
}

/// The board's console both ways: a command typed on the i.MX UART reaches
/// the Linux VM's shell (the UART's receive interrupt, Aerie's console
/// input, the VM's PL011 and its interrupt, signalled through HCR_EL2.VI)
/// and its answer comes back; then `Ctrl-A b` presses the VM's power
/// button, and the guest powers itself off, which ends the run.
pub fn imx8mp_console() -> Result<(), String> {
    console_on("board-imx8mp-console", Board::Imx8mpEvk)
}

/// The same on the Raspberry Pi 4, whose console is the mini UART its tree
/// names (a 16550 subset): Aerie takes the typed bytes on its receive
/// interrupt.
pub fn raspi4b_console() -> Result<(), String> {
    console_on("board-raspi4b-console", Board::Raspi4b)
}

/// A command typed on `board`'s console UART reaches a Linux shell
/// (tests/configs/linux-shell.toml), then `Ctrl-A b` presses the VM's
/// power button and it powers off.
fn console_on(name: &str, board: Board) -> Result<(), String> {
    let keys = [
        Keys {
            after: "powerkey: watching",
            bytes: b"echo typed-$((6*7))\r",
        },
        Keys {
            after: "typed-42",
            bytes: b"\x01b",
        },
    ];
    let run = AerieRun {
        keys: &keys,
        ..config_on_board(name, board, "linux-shell.toml")
    };
    run_aerie(&run, |status, out| {
        booted_on(board, out)?;
        output::require_line(out, "typed-42")?;
        output::require_line(out, "aerie: vm linux: power button pressed")?;
        output::require_line(out, "aerie: vm linux: powered off (PSCI SYSTEM_OFF)")?;
        clean_exit(status, out)
    })
}

/// The testkit on the ZCU102: every check, on a GIC-400 whose CPU
/// interfaces are found 0xF000 into their 64 KiB-aliased frames (GICC_DIR
/// and the guests' GICV_DIR at 0x1000 from there).
pub fn zcu102_testkit() -> Result<(), String> {
    testkit_on("board-zcu102-testkit", Board::Zcu102)
}

/// The Linux check VM there: every check, Linux's GICv2 driver with
/// reschedule IPIs, the date from the ZynqMP's RTC, and its disk across a
/// reboot on the SD card behind the board's Arasan SDHCI.
pub fn zcu102_linux() -> Result<(), String> {
    linux_check_on(
        "board-zcu102-linux",
        Board::Zcu102,
        &["host disk: SD card behind the SDHCI at 0xff170000, 256 MiB, 1 data line at 50 MHz"],
    )
}

/// The ZCU102 under `-icount shift=0`: an exact machine, where every walk
/// of the jitter's takes the same time by the cycle counter. Aerie must
/// refuse it (the repetition count test stops it at the 21st timing) and
/// say that guests' seeds can be guessed; the testkit still boots and
/// runs a benchmark.
pub fn zcu102_exact() -> Result<(), String> {
    let name = "board-zcu102-exact";
    let run = on_board(
        name,
        Board::Zcu102,
        Guest::Testkit {
            cmdline: "bench=nop bench_iters=1000".into(),
        },
        Path::new(""),
        180,
    );
    super::run_aerie_icount(&run, Some(crate::qemu::icount::EXACT), |status, out| {
        output::require_line(
            out,
            "aerie: warning: no entropy source (no /chosen/rng-seed from the boot loader, no RNDR, \
             and CPU timing jitter by the cycle counter failed: one timing came 21 times in a row \
             (repetition count test)): guests' rng-seed can be guessed",
        )?;
        if let Some(line) = output::lines_with(out, "from CPU timing jitter").first() {
            return Err(format!("`{line}` on an exact machine"));
        }
        output::require_line(out, "bench: name=nop iters=1000")?;
        clean_exit(status, out)
    })
}

/// The console both ways on the ZCU102's Cadence UART, whose receive
/// events Aerie clears once it has read the FIFO empty.
pub fn zcu102_console() -> Result<(), String> {
    console_on("board-zcu102-console", Board::Zcu102)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_the_board_lines_fails() {
        let virt = "aerie: Aerie 0.1.0 on Cortex-A72 (MIDR 0x410fd083), 2 CPUs, VHE: no\n";
        assert!(booted_on(Board::Imx8mpEvk, virt).is_err());
        assert!(booted_on(Board::VersalVirt, virt).is_err());
    }

    #[test]
    fn a_board_run_must_have_its_pool_seeded() {
        let jitter = "aerie: entropy: 256 bits from CPU timing jitter (1096 walks timed by the cycle counter, 72 stuck; the most common timing 77 times in 1024)\n";
        let warned = "aerie: warning: no entropy source (no /chosen/rng-seed from the boot loader, no RNDR, and CPU timing jitter by the cycle counter failed: one timing came 21 times in a row (repetition count test)): guests' rng-seed can be guessed\n";
        assert!(seeded(Board::Zcu102, jitter).is_ok());
        assert!(seeded(Board::Zcu102, "").is_err(), "no line");
        assert!(seeded(Board::Zcu102, &format!("{jitter}{warned}")).is_err());
        assert!(seeded(Board::Raspi4b, "").is_ok(), "QEMU seeds the Pi");
        assert!(seeded(Board::Raspi4b, warned).is_err());
    }
}
