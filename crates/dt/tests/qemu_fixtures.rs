//! Parses real DTBs produced by QEMU 10.0.2 for `-M virt,virtualization=on,gic-version=3`.
//!
//! How the fixtures were made (from crates/dt/tests/):
//!
//! ```text
//! qemu-system-aarch64 -M virt,virtualization=on,gic-version=3,dumpdtb=qemu-virt-gicv3.dtb \
//!     -cpu cortex-a72 -smp 2 -m 1G -nographic -nic none
//! printf 'aerie-initrd\n' > /tmp/aerie-initrd.bin          # 13 bytes
//! head -c 4096 /dev/zero > /tmp/aerie-kernel.bin            # -initrd needs a -kernel
//! qemu-system-aarch64 -M virt,virtualization=on,gic-version=3,dumpdtb=qemu-virt-gicv3-initrd.dtb \
//!     -cpu cortex-a72 -smp 2 -m 1G -nographic -nic none \
//!     -kernel /tmp/aerie-kernel.bin -initrd /tmp/aerie-initrd.bin -append "aerie.log=debug"
//! ```
//!
//! QEMU dumps its 1 MiB working buffer; the all-zero free space after the
//! strings block was cut off and the header's totalsize set to
//! off_dt_strings + size_dt_strings (what `dtc`/`fdt_pack` would do), leaving
//! ~8 KiB files.

use aerie_dt::{parse_host, total_size, DtError, GicV3, PowerButton, Region, Timer};

const PLAIN: &[u8] = include_bytes!("qemu-virt-gicv3.dtb");
const WITH_INITRD: &[u8] = include_bytes!("qemu-virt-gicv3-initrd.dtb");

const GIB: u64 = 1 << 30;

#[test]
fn total_size_matches_fixture_length() {
    assert_eq!(total_size(&PLAIN[..8]), Some(PLAIN.len()));
    assert_eq!(total_size(&WITH_INITRD[..40]), Some(WITH_INITRD.len()));
}

#[test]
fn finds_memory_cpus_and_devices() {
    let info = parse_host(PLAIN).unwrap();
    assert_eq!(info.memory, vec![Region::new(0x4000_0000, GIB)]);
    assert!(info.reserved.is_empty());
    let mpidrs: Vec<u64> = info.cpus.iter().map(|c| c.mpidr).collect();
    assert_eq!(mpidrs, vec![0, 1]);
    assert!(info
        .cpus
        .iter()
        .all(|c| c.enable_method.as_deref() == Some("psci")));
    assert_eq!(info.uart, Some(Region::new(0x0900_0000, 0x1000)));
    // virt's redistributor region holds 123 redistributors of 128 KiB.
    assert_eq!(
        info.gic,
        Some(GicV3 {
            dist: Region::new(0x0800_0000, 0x1_0000),
            redist: vec![Region::new(0x080A_0000, 0xF6_0000)],
        })
    );
    assert_eq!(info.model.as_deref(), Some("linux,dummy-virt"));
    assert_eq!(info.bootargs, None);
    assert_eq!(info.initrd, None);
    // QEMU seeds every boot's random number generator.
    assert_eq!(info.rng_seed.as_ref().map(Vec::len), Some(32));
    // Its network is virtio's: no Ethernet controller of its own.
    assert_eq!(info.ethernet, None);
    // Nor SD host controller: its disks are virtio's too.
    assert!(info.sd_hosts.is_empty());
}

#[test]
fn timer_ppis_are_the_bsa_intids() {
    // PPIs 13, 14, 11, 10 -> INTIDs 29, 30, 27, 26; Cortex-A72 has no EL2 virtual timer.
    let info = parse_host(PLAIN).unwrap();
    assert_eq!(
        info.timer,
        Some(Timer {
            secure_phys: 29,
            nonsecure_phys: 30,
            virt: 27,
            hyp: 26,
            hyp_virt: None,
        })
    );
}

#[test]
fn psci_conduit_is_smc_when_el2_is_emulated() {
    // With virtualization=on, QEMU's PSCI lives at EL3 and is reached by SMC.
    assert_eq!(
        parse_host(PLAIN).unwrap().psci_method.as_deref(),
        Some("smc")
    );
}

#[test]
fn reads_bootargs_and_initrd() {
    let info = parse_host(WITH_INITRD).unwrap();
    assert_eq!(info.bootargs.as_deref(), Some("aerie.log=debug"));
    // QEMU loads the initrd at RAM base + 128 MiB; the file is 13 bytes.
    assert_eq!(info.initrd, Some(Region::new(0x4800_0000, 13)));
}

#[test]
fn accepts_blob_with_trailing_bytes() {
    // The hypervisor maps whole pages; bytes after totalsize must be ignored.
    let mut padded = PLAIN.to_vec();
    padded.resize(PLAIN.len() + 4096, 0xAA);
    assert_eq!(parse_host(&padded).unwrap(), parse_host(PLAIN).unwrap());
}

#[test]
fn rejects_truncated_and_corrupt_blobs() {
    let short = &PLAIN[..PLAIN.len() - 1];
    assert!(matches!(
        parse_host(short),
        Err(DtError::Truncated { needed, .. }) if needed == PLAIN.len()
    ));
    let mut bad = PLAIN.to_vec();
    bad[0] = 0xFF;
    let err = parse_host(&bad).unwrap_err();
    assert_eq!(err, DtError::BadMagic(0xff0d_feed));
    assert_eq!(
        err.to_string(),
        "bad FDT magic 0xff0dfeed (expected 0xd00dfeed)"
    );
}

#[test]
fn finds_the_virtio_mmio_transports() {
    // QEMU virt always creates 32 transports, 0x200 apart from 0x0a00_0000
    // (the device tree lists them from the highest address down).
    let info = parse_host(PLAIN).unwrap();
    assert_eq!(info.virtio_mmio.len(), 32);
    let mut bases: Vec<u64> = info.virtio_mmio.iter().map(|v| v.region.base).collect();
    bases.sort();
    assert_eq!(bases[0], 0x0a00_0000);
    assert_eq!(bases[31], 0x0a00_0000 + 31 * 0x200);
    assert!(info.virtio_mmio.iter().all(|v| v.region.size == 0x200));
    // Transport n raises SPI 16 + n (INTID 48 + n).
    assert!(info
        .virtio_mmio
        .iter()
        .all(|v| { v.intid == Some(48 + ((v.region.base - 0x0a00_0000) / 0x200) as u32) }));
}

#[test]
fn finds_the_uart_interrupt() {
    // QEMU virt wires its PL011 to SPI 1.
    assert_eq!(parse_host(PLAIN).unwrap().uart_intid, Some(33));
}

#[test]
fn finds_the_power_button() {
    // QEMU virt: gpio-keys' KEY_POWER on pin 3 of the PL061 at 0x0903_0000
    // (SPI 7), active high; `system_powerdown` presses it.
    assert_eq!(
        parse_host(PLAIN).unwrap().power_button,
        Some(PowerButton {
            gpio: Region::new(0x0903_0000, 0x1000),
            intid: 39,
            pin: 3,
            active_low: false,
        })
    );
}
