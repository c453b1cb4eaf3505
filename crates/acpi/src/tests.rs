//! Tables built here byte by byte, in the layouts of ACPI 6.5 and QEMU's
//! `virt` board (two CPUs, a GICv3, a PL011, virtio-mmio transports).

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use aerie_dt::{host_tree, parse_host, Cpu, GedButton, GicV3, Region, Timer};

use crate::sdt::checksum;
use crate::*;

/// The firmware's memory: one buffer at `BASE`.
struct Fake(Vec<u8>);

const BASE: u64 = 0x7000_0000;

impl Memory for Fake {
    fn read(&self, address: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(address.checked_sub(BASE)?).ok()?;
        self.0.get(start..start.checked_add(len)?)
    }
}

/// A table with its header, length and checksum.
fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = Vec::from(&signature[..]);
    t.extend(((36 + body.len()) as u32).to_le_bytes());
    t.push(revision);
    t.push(0);
    t.extend(b"BOCHS BXPC    ");
    t.extend([1, 0, 0, 0]);
    t.extend(b"BXPC");
    t.extend([1, 0, 0, 0]);
    t.extend(body);
    t[9] = 0u8.wrapping_sub(checksum(&t));
    t
}

fn gicc(mpidr: u64, enabled: bool, redist: u64) -> Vec<u8> {
    let mut s = vec![0u8; 80];
    s[0] = 0x0B;
    s[1] = 80;
    s[12..16].copy_from_slice(&u32::from(enabled).to_le_bytes());
    s[60..68].copy_from_slice(&redist.to_le_bytes());
    s[68..76].copy_from_slice(&mpidr.to_le_bytes());
    s
}

/// A GICv2 machine's GICC structure: QEMU `virt`'s frames with
/// `gic-version=2` (GICC, GICV, GICH) and maintenance interrupt 25.
fn gicc_v2(mpidr: u64) -> Vec<u8> {
    let mut s = gicc(mpidr, true, 0);
    s[32..40].copy_from_slice(&0x0801_0000u64.to_le_bytes());
    s[40..48].copy_from_slice(&0x0804_0000u64.to_le_bytes());
    s[48..56].copy_from_slice(&0x0803_0000u64.to_le_bytes());
    s[56..60].copy_from_slice(&25u32.to_le_bytes());
    s
}

fn gicd(base: u64, version: u8) -> Vec<u8> {
    let mut s = vec![0u8; 24];
    s[0] = 0x0C;
    s[1] = 24;
    s[8..16].copy_from_slice(&base.to_le_bytes());
    s[20] = version;
    s
}

fn gicr(base: u64, len: u32) -> Vec<u8> {
    let mut s = vec![0u8; 16];
    s[0] = 0x0E;
    s[1] = 16;
    s[4..12].copy_from_slice(&base.to_le_bytes());
    s[12..16].copy_from_slice(&len.to_le_bytes());
    s
}

fn madt(structures: &[Vec<u8>]) -> Vec<u8> {
    let mut body = vec![0u8; 8];
    for s in structures {
        body.extend(s);
    }
    table(b"APIC", 4, &body)
}

fn gtdt(intids: [u32; 4], hyp_virt: u32) -> Vec<u8> {
    let mut body = vec![0u8; 104 - 36];
    for (i, intid) in intids.iter().enumerate() {
        let at = 48 + 8 * i - 36;
        body[at..at + 4].copy_from_slice(&intid.to_le_bytes());
    }
    body[96 - 36..100 - 36].copy_from_slice(&hyp_virt.to_le_bytes());
    table(b"GTDT", 3, &body)
}

fn spcr(interface: u8, address: u64, gsiv: u32) -> Vec<u8> {
    let mut body = vec![0u8; 80 - 36];
    body[0] = interface;
    body[44 - 36..52 - 36].copy_from_slice(&address.to_le_bytes());
    body[52 - 36] = 1 << 3;
    body[54 - 36..58 - 36].copy_from_slice(&gsiv.to_le_bytes());
    table(b"SPCR", 2, &body)
}

fn fadt(boot_flags: u16, dsdt: u64) -> Vec<u8> {
    let mut body = vec![0u8; 276 - 36];
    body[129 - 36..131 - 36].copy_from_slice(&boot_flags.to_le_bytes());
    body[140 - 36..148 - 36].copy_from_slice(&dsdt.to_le_bytes());
    table(b"FACP", 6, &body)
}

// AML, as iasl would encode it.

/// A PkgLength for `len` bytes of contents (the encoding's own bytes added).
fn pkg(contents: &[u8]) -> Vec<u8> {
    let n = contents.len();
    let mut out = if n + 1 < 0x40 {
        vec![(n + 1) as u8]
    } else if n + 2 < 0x1000 {
        let total = n + 2;
        vec![0x40 | (total & 0xF) as u8, (total >> 4) as u8]
    } else {
        let total = n + 3;
        vec![
            0x80 | (total & 0xF) as u8,
            (total >> 4) as u8,
            (total >> 12) as u8,
        ]
    };
    out.extend(contents);
    out
}

fn scope(path: &[u8], body: &[u8]) -> Vec<u8> {
    let mut c = Vec::from(path);
    c.extend(body);
    let mut out = vec![0x10];
    out.extend(pkg(&c));
    out
}

fn device(name: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = Vec::from(&name[..]);
    c.extend(body);
    let mut out = vec![0x5B, 0x82];
    out.extend(pkg(&c));
    out
}

fn name(seg: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x08];
    out.extend(seg);
    out.extend(data);
    out
}

fn string(s: &str) -> Vec<u8> {
    let mut out = vec![0x0D];
    out.extend(s.as_bytes());
    out.push(0);
    out
}

fn resource_template(descriptors: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes: Vec<u8> = descriptors.concat();
    bytes.extend([0x79, 0]);
    let mut c = vec![0x0A, bytes.len() as u8];
    c.extend(bytes);
    let mut out = vec![0x11];
    out.extend(pkg(&c));
    out
}

fn memory32_fixed(base: u32, len: u32) -> Vec<u8> {
    let mut d = vec![0x86, 9, 0, 1];
    d.extend(base.to_le_bytes());
    d.extend(len.to_le_bytes());
    d
}

fn interrupt(intid: u32) -> Vec<u8> {
    let mut d = vec![0x89, 6, 0, 0x01, 1];
    d.extend(intid.to_le_bytes());
    d
}

/// A device as QEMU declares its fixed devices.
fn fixed_device(n: &[u8; 4], hid: &str, base: u32, len: u32, intid: u32) -> Vec<u8> {
    let mut body = name(b"_HID", &string(hid));
    body.extend(name(b"_UID", &[0x00]));
    body.extend(name(b"_CCA", &[0x01]));
    body.extend(name(
        b"_CRS",
        &resource_template(&[memory32_fixed(base, len), interrupt(intid)]),
    ));
    device(n, &body)
}

/// A method with a body the reader must skip.
fn method(n: &[u8; 4]) -> Vec<u8> {
    let mut c = Vec::from(&n[..]);
    c.push(0);
    c.extend([0xA4, 0x0A, 0x0F]); // Return (0x0F)
    let mut out = vec![0x14];
    out.extend(pkg(&c));
    out
}

/// An OperationRegion `n` in `space` (0 SystemMemory, 1 SystemIO) with
/// a DWord offset and a Byte length, as QEMU's builder encodes them.
fn op_region(n: &[u8; 4], space: u8, offset: u32, len: u8) -> Vec<u8> {
    let mut out = vec![0x5B, 0x80];
    out.extend(n);
    out.push(space);
    out.push(0x0C);
    out.extend(offset.to_le_bytes());
    out.extend([0x0A, len]);
    out
}

/// QEMU's Generic Event Device and the power button its `_EVT` notifies
/// (hw/acpi/generic_event_device.c, hw/arm/virt-acpi-build.c): the GED's
/// selector at 0x0908_0000, its interrupt SPI 9 (INTID 41), edge-triggered.
/// `button` leaves out PWRB when false.
fn qemu_ged(button: bool) -> Vec<u8> {
    let mut ged = name(b"_HID", &string(HID_GED));
    ged.extend(name(b"_UID", &[0x00]));
    // Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 41 }
    let mut edge = vec![0x89, 6, 0, 0x03, 1];
    edge.extend(41u32.to_le_bytes());
    ged.extend(name(b"_CRS", &resource_template(&[edge])));
    ged.extend(op_region(b"EREG", 0x00, 0x0908_0000, 4));
    // Field (EREG, DWordAcc, NoLock, WriteAsZeros) { ESEL, 32 }
    ged.extend([0x5B, 0x81]);
    ged.extend(pkg(b"EREG\x43ESEL\x20"));
    // Method (_EVT, 1, Serialized) { Local0 = ESEL
    //   If (((Local0 & 2) == 2)) { Notify (PWRB, 0x80) } }
    let mut then = vec![0x93, 0x7B, 0x60, 0x0A, 0x02, 0x00, 0x0A, 0x02];
    then.extend(b"\x86PWRB\x0A\x80");
    let mut evt = Vec::from(&b"_EVT\x09\x70ESEL\x60"[..]);
    evt.push(0xA0);
    evt.extend(pkg(&then));
    ged.extend([0x14]);
    ged.extend(pkg(&evt));
    // Declared by its path, as QEMU does: Device (\_SB.GED).
    let mut c = Vec::from(&b"\\\x2E_SB_GED_"[..]);
    c.extend(ged);
    let mut out = vec![0x5B, 0x82];
    out.extend(pkg(&c));
    if button {
        let mut pwrb = name(b"_HID", &string(HID_POWER_BUTTON));
        pwrb.extend(name(b"_UID", &[0x00]));
        out.extend(device(b"PWRB", &pwrb));
    }
    out
}

/// QEMU's DSDT with `ged` in place of its GED and power button.
fn dsdt_with_ged(ged: &[u8]) -> Vec<u8> {
    let mut aml = qemu_dsdt_without_ged();
    aml.extend(scope(b"\\_SB_", ged));
    table(b"DSDT", 2, &aml)
}

fn qemu_dsdt() -> Vec<u8> {
    let mut aml = qemu_dsdt_without_ged();
    aml.extend(scope(b"\\_SB_", &qemu_ged(true)));
    aml
}

fn qemu_dsdt_without_ged() -> Vec<u8> {
    let mut sb = Vec::new();
    for i in 0..2u8 {
        let mut cpu = name(b"_HID", &string("ACPI0007"));
        cpu.extend(name(b"_UID", &[0x0A, i]));
        sb.extend(device(&[b'C', b'0', b'0', b'0' + i], &cpu));
    }
    sb.extend(fixed_device(b"COM0", HID_PL011, 0x0900_0000, 0x1000, 33));
    // An OperationRegion and its Field, as QEMU's fw_cfg and GED have.
    let mut region = vec![0x5B, 0x80];
    region.extend(b"REGA");
    region.extend([0x00, 0x0C, 0, 0, 2, 9, 0x0A, 0x10]);
    let mut field = vec![0x5B, 0x81];
    field.extend(pkg(b"REGA\x01DATA\x20"));
    let mut fw = name(b"_HID", &string("QEMU0002"));
    fw.extend(region);
    fw.extend(field);
    fw.extend(method(b"_STA"));
    sb.extend(device(b"FWCF", &fw));
    for i in 0..3u32 {
        let n = [b'V', b'R', b'0', b'0' + i as u8];
        sb.extend(fixed_device(
            &n,
            HID_VIRTIO_MMIO,
            0x0A00_0000 + 0x200 * i,
            0x200,
            48 + i,
        ));
    }
    let mut pci = name(b"_HID", &string("PNP0A08"));
    pci.extend(method(b"_OSC"));
    pci.extend(name(b"_PRT", &[0x12, 0x02, 0x00]));
    sb.extend(device(b"PCI0", &pci));
    scope(b"\\_SB_", &sb)
}

/// The machine's tables laid out in one buffer; returns it and the RSDP's
/// address. `edit` may replace any table before it is placed.
fn firmware(edit: impl FnOnce(&mut Vec<(&'static str, Vec<u8>)>)) -> (Fake, u64) {
    let mut tables: Vec<(&'static str, Vec<u8>)> = vec![
        ("DSDT", table(b"DSDT", 2, &qemu_dsdt())),
        ("FACP", Vec::new()),
        (
            "APIC",
            madt(&[
                gicd(0x0800_0000, 3),
                gicc(0, true, 0),
                gicc(1, true, 0),
                gicr(0x080A_0000, 0xF6_0000),
            ]),
        ),
        ("GTDT", gtdt([29, 30, 27, 26], 28)),
        ("SPCR", spcr(3, 0x0900_0000, 33)),
    ];
    // The FADT points to wherever the DSDT lands: first, at BASE.
    tables[1].1 = fadt(1, BASE);
    edit(&mut tables);
    let mut bytes = Vec::new();
    let mut addresses = Vec::new();
    for (_, t) in &tables {
        addresses.push(BASE + bytes.len() as u64);
        bytes.extend(t);
        bytes.resize(bytes.len().next_multiple_of(8), 0);
    }
    let xsdt_at = BASE + bytes.len() as u64;
    let body: Vec<u8> = addresses[1..]
        .iter()
        .flat_map(|a| a.to_le_bytes())
        .collect();
    bytes.extend(table(b"XSDT", 1, &body));
    bytes.resize(bytes.len().next_multiple_of(16), 0);
    let rsdp_at = BASE + bytes.len() as u64;
    bytes.extend(rsdp(2, 0, xsdt_at));
    (Fake(bytes), rsdp_at)
}

fn rsdp(revision: u8, rsdt: u32, xsdt: u64) -> Vec<u8> {
    let mut r = Vec::from(&b"RSD PTR "[..]);
    r.push(0);
    r.extend(b"BOCHS ");
    r.push(revision);
    r.extend(rsdt.to_le_bytes());
    r.extend(36u32.to_le_bytes());
    r.extend(xsdt.to_le_bytes());
    r.extend([0; 4]);
    r[8] = 0u8.wrapping_sub(checksum(&r[..20]));
    r[32] = 0u8.wrapping_sub(checksum(&r));
    r
}

fn replace(tables: &mut [(&'static str, Vec<u8>)], sig: &str, with: Vec<u8>) {
    tables.iter_mut().find(|(s, _)| *s == sig).unwrap().1 = with;
}

#[test]
fn qemu_virt_is_read_whole() {
    let (fw, rsdp) = firmware(|_| {});
    let m = machine(&fw, rsdp).unwrap();
    let psci = || Some("psci".to_string());
    assert_eq!(
        m.info.cpus,
        vec![
            Cpu {
                mpidr: 0,
                enable_method: psci(),
                release_addr: None,
            },
            Cpu {
                mpidr: 1,
                enable_method: psci(),
                release_addr: None,
            },
        ]
    );
    assert_eq!(
        m.info.gic,
        Some(GicV3 {
            dist: Region::new(0x0800_0000, 0x1_0000),
            redist: vec![Region::new(0x080A_0000, 0xF6_0000)],
        })
    );
    assert_eq!(
        m.info.timer,
        Some(Timer {
            secure_phys: 29,
            nonsecure_phys: 30,
            virt: 27,
            hyp: 26,
            hyp_virt: Some(28),
        })
    );
    assert_eq!(m.info.uart, Some(Region::new(0x0900_0000, 0x1000)));
    assert_eq!(m.info.uart_intid, Some(33));
    assert_eq!(m.info.psci_method.as_deref(), Some("smc"));
    let virtio: Vec<_> = m
        .info
        .virtio_mmio
        .iter()
        .map(|v| (v.region.base, v.intid))
        .collect();
    assert_eq!(
        virtio,
        [
            (0x0A00_0000, Some(48)),
            (0x0A00_0200, Some(49)),
            (0x0A00_0400, Some(50))
        ]
    );
    assert_eq!(
        m.info.ged_button,
        Some(GedButton {
            region: Region::new(0x0908_0000, 4),
            intid: 41,
            power_down: 0x2,
        })
    );
    assert_eq!(m.oem, "BOCHS BXPC");
    assert_eq!(m.notes, Vec::<alloc::string::String>::new());
}

#[test]
fn the_tree_written_from_acpi_reads_back_the_same_machine() {
    let (fw, rsdp) = firmware(|_| {});
    let mut info = machine(&fw, rsdp).unwrap().info;
    info.memory = vec![Region::new(0x4000_0000, 0x4000_0000)];
    assert_eq!(parse_host(&host_tree(&info).unwrap()).unwrap(), info);
}

#[test]
fn the_aml_reader_finds_devices_past_what_it_skips() {
    let hids: Vec<_> = devices(&qemu_dsdt()).into_iter().map(|d| d.hid).collect();
    assert_eq!(
        hids,
        [
            "ACPI0007", "ACPI0007", "ARMH0011", "QEMU0002", "LNRO0005", "LNRO0005", "LNRO0005",
            "PNP0A08", "ACPI0013", "PNP0C0C"
        ]
    );
}

#[test]
fn the_aml_reader_takes_a_devices_system_memory_regions() {
    // QEMU's fw_cfg and GED.
    let regions = |hid: &str| {
        let found = devices(&qemu_dsdt());
        found.into_iter().find(|d| d.hid == hid).unwrap().regions
    };
    assert_eq!(regions("QEMU0002"), [Region::new(0x0902_0000, 0x10)]);
    assert_eq!(regions(HID_GED), [Region::new(0x0908_0000, 4)]);
    // SystemIO is left out; a QWord offset and a Word length are read; one
    // in a method, or a child device's, is not the device's own.
    let mut body = name(b"_HID", &string("TEST0001"));
    body.extend(op_region(b"PIO0", 0x01, 0x510, 0x0C));
    body.extend(op_region(b"MEM0", 0x00, 0x1000, 0x20));
    let mut wide = vec![0x5B, 0x80];
    wide.extend(b"MEM1\x00\x0E");
    wide.extend(0x1_2345_6000u64.to_le_bytes());
    wide.extend([0x0B, 0x00, 0x10]);
    body.extend(wide);
    let mut in_method = Vec::from(&b"_INI\x00"[..]);
    in_method.extend(op_region(b"MEM2", 0x00, 0x2000, 4));
    body.push(0x14);
    body.extend(pkg(&in_method));
    let mut child = name(b"_HID", &string("TEST0002"));
    child.extend(op_region(b"MEM3", 0x00, 0x3000, 8));
    body.extend(device(b"KID0", &child));
    let found = devices(&device(b"DEV0", &body));
    assert_eq!(
        found
            .iter()
            .map(|d| (d.hid.as_str(), &d.regions[..]))
            .collect::<Vec<_>>(),
        [
            ("TEST0002", &[Region::new(0x3000, 8)][..]),
            (
                "TEST0001",
                &[
                    Region::new(0x1000, 0x20),
                    Region::new(0x1_2345_6000, 0x1000)
                ][..]
            ),
        ]
    );
}

/// QEMU's tables, but for the FADT's OEM ID: another firmware's ("AMPERE"),
/// whose AML Aerie does not know the way it knows QEMU's.
fn ampere_firmware() -> (Fake, u64) {
    firmware(|t| {
        let mut f = fadt(1, BASE);
        f[10..16].copy_from_slice(b"AMPERE");
        f[9] = 0;
        f[9] = 0u8.wrapping_sub(checksum(&f));
        replace(t, "FACP", f);
    })
}

#[test]
fn a_ged_on_other_firmware_is_not_read_and_is_noted() {
    let (fw, rsdp) = ampere_firmware();
    let m = machine(&fw, rsdp).unwrap();
    assert_eq!(m.info.ged_button, None);
    assert_eq!(
        m.notes,
        ["a Generic Event Device (ACPI0013): its events are AML (_EVT), which Aerie does not run: the power button is not read"]
    );
    // Without a GED, nothing to say.
    let (fw, rsdp) = firmware(|t| {
        let mut f = fadt(1, BASE);
        f[10..16].copy_from_slice(b"AMPERE");
        f[9] = 0;
        f[9] = 0u8.wrapping_sub(checksum(&f));
        replace(t, "FACP", f);
        replace(t, "DSDT", dsdt_with_ged(&[]));
    });
    let m = machine(&fw, rsdp).unwrap();
    assert_eq!((m.info.ged_button, m.notes.len()), (None, 0));
}

#[test]
fn a_qemu_ged_not_as_aerie_knows_it_is_not_taken() {
    let ged_of = |ged: Vec<u8>| {
        let (fw, rsdp) = firmware(|t| replace(t, "DSDT", dsdt_with_ged(&ged)));
        let m = machine(&fw, rsdp).unwrap();
        (m.info.ged_button, m.notes)
    };
    let unknown = "QEMU's Generic Event Device (ACPI0013) is not as Aerie knows it (an SPI, a 4-byte SystemMemory selector, a PNP0C0C power button): the power button is not read";
    // No PNP0C0C device.
    assert_eq!(ged_of(qemu_ged(false)), (None, vec![unknown.to_string()]));
    // Its selector in I/O space, or shorter than 4 bytes.
    for (space, len) in [(0x01, 4), (0x00, 2)] {
        let mut ged = qemu_ged(true);
        let at = ged.windows(4).position(|w| w == b"EREG").unwrap();
        ged[at + 4] = space;
        ged[at + 11] = len;
        assert_eq!(ged_of(ged), (None, vec![unknown.to_string()]));
    }
    // An interrupt that is not an SPI.
    let mut ged = qemu_ged(true);
    let at = ged
        .windows(5)
        .position(|w| w == [0x89, 6, 0, 0x03, 1])
        .unwrap();
    ged[at + 5..at + 9].copy_from_slice(&4096u32.to_le_bytes());
    assert_eq!(
        ged_of(ged),
        (
            None,
            vec![
                "interrupt 4096 is not an SPI: left out".to_string(),
                unknown.to_string()
            ]
        )
    );
}

#[test]
fn an_object_the_reader_does_not_know_ends_only_its_scope() {
    // A device whose _HID comes after an opcode the reader cannot size
    // (a Store at scope level) is missed; its neighbours are not.
    let mut odd = vec![0x70, 0x0A, 0x01, 0x60]; // Store (1, Local0)
    odd.extend(name(b"_HID", &string("LOST0001")));
    let mut sb = fixed_device(b"VR00", HID_VIRTIO_MMIO, 0x0A00_0000, 0x200, 48);
    sb.extend(device(b"ODD0", &odd));
    sb.extend(fixed_device(
        b"VR01",
        HID_VIRTIO_MMIO,
        0x0A00_0200,
        0x200,
        49,
    ));
    let found = devices(&scope(b"\\_SB_", &sb));
    let bases: Vec<_> = found.iter().map(|d| d.memory[0].base).collect();
    assert_eq!(bases, [0x0A00_0000, 0x0A00_0200]);
}

#[test]
fn a_device_whose_sta_is_zero_is_absent() {
    let mut body = name(b"_HID", &string(HID_VIRTIO_MMIO));
    body.extend(name(b"_STA", &[0x00]));
    assert_eq!(devices(&device(b"VR00", &body)), []);
}

#[test]
fn long_packages_and_nested_devices_are_read() {
    // 200 devices make \_SB's PkgLength three bytes long; one of them
    // holds a child device.
    let mut sb = Vec::new();
    for i in 0..200u32 {
        let n = [
            b'D',
            b'0' + (i / 100) as u8,
            b'0' + (i / 10 % 10) as u8,
            b'0' + (i % 10) as u8,
        ];
        sb.extend(fixed_device(&n, HID_VIRTIO_MMIO, 0x1000 * i, 0x200, 32 + i));
    }
    let child = fixed_device(b"KID0", HID_PL011, 0x0900_0000, 0x1000, 33);
    let mut parent = name(b"_HID", &string("PNP0A05"));
    parent.extend(child);
    sb.extend(device(b"PAR0", &parent));
    let aml = scope(b"\\_SB_", &sb);
    assert!(aml[1] & 0xC0 == 0x80, "the test wants a 3-byte PkgLength");
    let found = devices(&aml);
    assert_eq!(found.len(), 202);
    assert_eq!(found[199].interrupts, [32 + 199]);
    assert_eq!(found[200].hid, HID_PL011);
    assert_eq!(found[201].hid, "PNP0A05");
}

#[test]
fn redistributors_come_from_the_gicc_structures_without_a_gicr() {
    let (fw, rsdp) = firmware(|t| {
        let cpus = (0..4).map(|i| gicc(i, i != 2, 0x080A_0000 + 0x2_0000 * i));
        let mut s = vec![gicd(0x0800_0000, 3)];
        s.extend(cpus);
        s.push(gicc(9, true, 0x0900_0000));
        replace(t, "APIC", madt(&s));
    });
    let info = machine(&fw, rsdp).unwrap().info;
    let mpidrs: Vec<_> = info.cpus.iter().map(|c| c.mpidr).collect();
    assert_eq!(mpidrs, [0, 1, 3, 9], "the disabled CPU 2 is left out");
    assert_eq!(
        info.gic.unwrap().redist,
        [
            Region::new(0x080A_0000, 0x4_0000),
            Region::new(0x080A_0000 + 0x6_0000, 0x2_0000),
            Region::new(0x0900_0000, 0x2_0000),
        ]
    );
}

#[test]
fn a_console_that_is_not_a_pl011_falls_back_to_the_dsdt_and_is_noted() {
    let (fw, rsdp) = firmware(|t| replace(t, "SPCR", spcr(0x00, 0x3F8, 36)));
    let m = machine(&fw, rsdp).unwrap();
    assert_eq!(m.info.uart, Some(Region::new(0x0900_0000, 0x1000)));
    assert_eq!(m.info.uart_intid, Some(33));
    assert_eq!(
        m.notes,
        ["the console (SPCR) is not a PL011 or an SBSA UART, which Aerie drives"]
    );
}

#[test]
fn an_sbsa_uart_console_is_read_as_one() {
    for interface in [0x0D, 0x0E] {
        let (fw, rsdp) = firmware(|t| replace(t, "SPCR", spcr(interface, 0x0C00_0000, 40)));
        let m = machine(&fw, rsdp).unwrap();
        assert_eq!(m.info.uart, Some(Region::new(0x0C00_0000, 0x1000)));
        assert_eq!(
            (m.info.uart_intid, m.info.uart_kind),
            (Some(40), aerie_dt::UartKind::Sbsa)
        );
    }
}

#[test]
fn other_firmware_is_not_taken_for_qemu() {
    let (fw, rsdp) = ampere_firmware();
    let m = machine(&fw, rsdp).unwrap();
    assert_eq!((m.oem.as_str(), m.info.model), ("AMPERE BXPC", None));
}

#[test]
fn psci_over_hvc_and_a_missing_gtdt_are_read_as_such() {
    let (fw, rsdp) = firmware(|t| {
        replace(t, "FACP", fadt(3, BASE));
        replace(t, "GTDT", table(b"OEM1", 1, &[]));
    });
    let m = machine(&fw, rsdp).unwrap();
    assert_eq!(m.info.psci_method.as_deref(), Some("hvc"));
    assert_eq!(m.info.timer, None);
    assert_eq!(
        m.notes,
        ["no timer node: the GTDT gives no PPI for every timer"]
    );
}

#[test]
fn an_acpi_1_root_table_is_read() {
    let (mut fw, rsdp_at) = firmware(|_| {});
    // Rewrite the RSDP as revision 0 pointing to an RSDT of 32-bit entries.
    let xsdt_at = u64::from_le_bytes(fw.read(rsdp_at + 24, 8).unwrap().try_into().unwrap());
    let xsdt = fw.read(xsdt_at, 36 + 4 * 8).unwrap().to_vec();
    let body: Vec<u8> = xsdt[36..]
        .chunks(8)
        .flat_map(|c| (u64::from_le_bytes(c.try_into().unwrap()) as u32).to_le_bytes())
        .collect();
    let rsdt_at = BASE + fw.0.len() as u64;
    fw.0.extend(table(b"RSDT", 1, &body));
    let v1_at = BASE + fw.0.len() as u64;
    fw.0.extend(&rsdp(0, rsdt_at as u32, 0)[..20]);
    assert_eq!(machine(&fw, v1_at).unwrap().info.cpus.len(), 2);
}

#[test]
fn a_gic_v2_comes_from_its_gicc_structures() {
    for version in [2, 0] {
        let (fw, rsdp) = firmware(|t| {
            replace(
                t,
                "APIC",
                madt(&[gicd(0x0800_0000, version), gicc_v2(0), gicc_v2(1)]),
            )
        });
        let m = machine(&fw, rsdp).unwrap();
        assert_eq!(m.info.gic, None, "version {version}");
        assert_eq!(
            m.info.gic_v2,
            Some(aerie_dt::GicV2 {
                dist: Region::new(0x0800_0000, 0x1000),
                cpu: Region::new(0x0801_0000, 0x2000),
                hyp: Some(Region::new(0x0803_0000, 0x1000)),
                vcpu: Some(Region::new(0x0804_0000, 0x2000)),
                maintenance: Some(25),
            }),
            "version {version}"
        );
        assert_eq!(m.info.cpus.len(), 2);
        // The tree the loader writes from it (with the RAM the UEFI memory
        // map gives) says the same.
        let mut info = m.info.clone();
        info.memory = vec![Region::new(0x4000_0000, 0x4000_0000)];
        let tree = host_tree(&info).unwrap();
        assert_eq!(parse_host(&tree).unwrap(), info);
        assert_eq!(aerie_dt::host_gic_version(&tree).unwrap(), Some(2));
    }
}

#[test]
fn broken_tables_are_refused_by_name() {
    let err = |edit: fn(&mut Vec<(&'static str, Vec<u8>)>)| {
        let (fw, rsdp) = firmware(edit);
        machine(&fw, rsdp).unwrap_err().to_string()
    };
    assert_eq!(
        err(|t| t.iter_mut().find(|(s, _)| *s == "APIC").unwrap().1[40] ^= 1),
        "APIC: bad checksum"
    );
    assert_eq!(
        err(|t| replace(t, "APIC", madt(&[gicd(0x0800_0000, 2), gicc(0, true, 0)]))),
        "APIC: a GICv2 without a CPU interface address (GICC Physical Base Address)"
    );
    assert_eq!(
        err(|t| replace(t, "APIC", madt(&[gicd(0x0800_0000, 1), gicc(0, true, 0)]))),
        "APIC: the GIC is not a GICv2, GICv3 or GICv4, which Aerie drives"
    );
    assert_eq!(
        err(|t| replace(
            t,
            "APIC",
            madt(&[gicd(0x0800_0000, 3), gicc(0, true, 0)[..60].to_vec()])
        )),
        "APIC: 128 bytes long, its layout needs 148"
    );
    assert_eq!(
        err(|t| replace(
            t,
            "APIC",
            madt(&[
                gicd(0x0800_0000, 3),
                gicc(0, false, 0),
                gicr(0x080A_0000, 0x2_0000)
            ])
        )),
        "APIC: no enabled CPU (GICC structure)"
    );
    assert_eq!(
        err(|t| replace(t, "APIC", table(b"OEM2", 1, &[]))),
        "the firmware has no MADT (APIC), which lists the CPUs and the GIC"
    );
    assert_eq!(
        err(|t| replace(t, "FACP", fadt(1, 0x1000))),
        "DSDT: 36 bytes at 0x1000 cannot be read"
    );
}

#[test]
fn a_bad_rsdp_is_refused() {
    let (mut fw, rsdp) = firmware(|_| {});
    let at = (rsdp - BASE) as usize;
    fw.0[at + 9] ^= 1;
    assert_eq!(
        machine(&fw, rsdp).unwrap_err(),
        AcpiError::BadRsdp("has a bad checksum")
    );
    fw.0[at] = b'X';
    assert_eq!(
        machine(&fw, rsdp).unwrap_err(),
        AcpiError::BadRsdp("has no \"RSD PTR \" signature")
    );
}

#[test]
fn corrupt_bytes_anywhere_never_panic() {
    // Every table's checksum is fixed up after the corruption, so that the
    // readers behind the checksum see the damage too.
    let mut rng = aerie_testrng::Rng::new(5);
    for round in 0..3000 {
        let (fw, rsdp) = firmware(|t| {
            let i = rng.below(t.len() as u64) as usize;
            let bytes = &mut t[i].1;
            for _ in 0..=rng.below(4) {
                let at = 36 + rng.below((bytes.len() - 36) as u64) as usize;
                bytes[at] = rng.next_u64() as u8;
            }
            if rng.chance(20) {
                let len = 36 + rng.below((bytes.len() - 36) as u64) as usize;
                bytes.truncate(len);
                bytes[4..8].copy_from_slice(&(len as u32).to_le_bytes());
            }
            bytes[9] = 0;
            bytes[9] = 0u8.wrapping_sub(checksum(bytes));
        });
        let _ = machine(&fw, rsdp);
        assert!(round < 3000);
    }
    let aml = qemu_dsdt();
    for len in 0..aml.len() {
        let _ = devices(&aml[..len]);
    }
}

#[test]
fn gicv4_spaced_redistributors_merge_whatever_version_the_madt_says() {
    // Four CPUs whose redistributors are 256 KiB apart (virtual LPI
    // frames), under a GICD saying version 3: one region, not four.
    let (fw, rsdp) = firmware(|t| {
        let mut s = vec![gicd(0x0800_0000, 3)];
        s.extend((0..4).map(|i| gicc(i, true, 0x080A_0000 + 0x4_0000 * i)));
        replace(t, "APIC", madt(&s));
    });
    let info = machine(&fw, rsdp).unwrap().info;
    assert_eq!(
        info.gic.unwrap().redist,
        [Region::new(0x080A_0000, 4 * 0x4_0000)]
    );
}

#[test]
fn a_gic_structure_too_short_for_its_fields_is_refused() {
    // ACPI 5.0's GICC: 40 bytes, no MPIDR.
    let mut short = gicc(0, true, 0)[..40].to_vec();
    short[1] = 40;
    let (fw, rsdp) = firmware(|t| {
        replace(t, "APIC", madt(&[gicd(0x0800_0000, 3), short.clone()]));
    });
    assert_eq!(
        machine(&fw, rsdp).unwrap_err().to_string(),
        "APIC: a GIC structure too short for its fields"
    );
}

#[test]
fn a_broken_optional_table_is_left_out_with_a_note() {
    let (fw, rsdp) = firmware(|t| {
        t.iter_mut().find(|(s, _)| *s == "SPCR").unwrap().1[40] ^= 1;
    });
    let m = machine(&fw, rsdp).unwrap();
    assert_eq!(m.notes, ["SPCR: bad checksum: left out"]);
    // The console then comes from the DSDT.
    assert_eq!(m.info.uart, Some(Region::new(0x0900_0000, 0x1000)));
}

#[test]
fn an_interrupt_a_tree_cannot_name_is_left_out_with_a_note() {
    let mut sb = fixed_device(b"VR00", HID_VIRTIO_MMIO, 0x0A00_0000, 0x200, 4096);
    sb.extend(fixed_device(
        b"VR01",
        HID_VIRTIO_MMIO,
        0x0A00_0200,
        0x200,
        49,
    ));
    let (fw, rsdp) = firmware(|t| replace(t, "DSDT", table(b"DSDT", 2, &scope(b"\\_SB_", &sb))));
    let m = machine(&fw, rsdp).unwrap();
    let virtio: Vec<_> = m.info.virtio_mmio.iter().map(|v| v.intid).collect();
    assert_eq!(virtio, [None, Some(49)]);
    assert_eq!(m.notes, ["interrupt 4096 is not an SPI: left out"]);
}

#[test]
fn devices_in_an_ssdt_are_found_too() {
    let extra = fixed_device(b"VR09", HID_VIRTIO_MMIO, 0x0B00_0000, 0x200, 60);
    let (fw, rsdp) = firmware(|t| t.push(("SSDT", table(b"SSDT", 2, &scope(b"\\_SB_", &extra)))));
    let m = machine(&fw, rsdp).unwrap();
    let last = m.info.virtio_mmio.last().unwrap();
    assert_eq!((last.region.base, last.intid), (0x0B00_0000, Some(60)));
    assert_eq!(m.info.virtio_mmio.len(), 4);
}
