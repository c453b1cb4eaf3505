//! Builds guest DTBs and reads them back with the host parser: what Aerie
//! writes must be what a virt-targeted guest (and our own reader) expects.

use aerie_dt::{
    build_guest, parse_host, total_size, DtError, GicV3, GuestGic, GuestSpec, PowerButton, Region,
    Timer,
};

const RAM: Region = Region::new(0x4000_0000, 512 << 20);

fn spec() -> GuestSpec<'static> {
    GuestSpec {
        memory: RAM,
        cpus: 4,
        bootargs: "console=ttyAMA0 earlycon",
        initrd: Some(Region::new(0x4800_0000, 0x12_3456)),
        uart: Region::new(0x0900_0000, 0x1000),
        rtc: Some(Region::new(0x0901_0000, 0x1000)),
        gpio: Some(Region::new(0x0903_0000, 0x1000)),
        gic: Some(GuestGic::V3 {
            dist: Region::new(0x0800_0000, 0x1_0000),
            redist: Region::new(0x080A_0000, 0xF6_0000),
        }),
        timer: true,
        virtio: &[],
        idle_states: &[],
        scmi: None,
        rng_seed: &[],
        kaslr_seed: None,
    }
}

#[test]
fn full_guest_round_trips() {
    let dtb = build_guest(&spec()).unwrap();
    assert_eq!(total_size(&dtb), Some(dtb.len()));
    let info = parse_host(&dtb).unwrap();
    assert_eq!(info.memory, vec![RAM]);
    assert_eq!(info.reserved, vec![]);
    // The guest's power button reads back as QEMU virt's does.
    assert_eq!(
        info.power_button,
        Some(PowerButton {
            gpio: Region::new(0x0903_0000, 0x1000),
            intid: 39,
            pin: 3,
            active_low: false,
        })
    );
    let mpidrs: Vec<u64> = info.cpus.iter().map(|c| c.mpidr).collect();
    assert_eq!(mpidrs, vec![0, 1, 2, 3]);
    assert!(info
        .cpus
        .iter()
        .all(|c| c.enable_method.as_deref() == Some("psci")));
    assert_eq!(info.uart, Some(Region::new(0x0900_0000, 0x1000)));
    // The guest's PL031, as the host parser finds a host's.
    assert_eq!(
        info.rtc.map(|r| r.region),
        Some(Region::new(0x0901_0000, 0x1000))
    );
    assert_eq!(info.bootargs.as_deref(), Some("console=ttyAMA0 earlycon"));
    assert_eq!(info.initrd, Some(Region::new(0x4800_0000, 0x12_3456)));
    assert_eq!(info.psci_method.as_deref(), Some("hvc"));
    assert_eq!(info.model.as_deref(), Some("aerie-virt"));
    assert_eq!(
        info.gic,
        Some(GicV3 {
            dist: Region::new(0x0800_0000, 0x1_0000),
            redist: vec![Region::new(0x080A_0000, 0xF6_0000)],
        })
    );
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
fn minimal_guest_has_no_gic_timer_or_initrd() {
    let s = GuestSpec {
        cpus: 1,
        bootargs: "",
        initrd: None,
        gic: None,
        gpio: None,
        timer: false,
        virtio: &[],
        ..spec()
    };
    let info = parse_host(&build_guest(&s).unwrap()).unwrap();
    assert_eq!(info.cpus.len(), 1);
    assert_eq!(info.gic, None);
    assert_eq!(info.timer, None);
    assert_eq!(info.initrd, None);
    assert_eq!(info.bootargs.as_deref(), Some(""));
    assert_eq!(info.uart, Some(Region::new(0x0900_0000, 0x1000)));
}

#[test]
fn memory_above_4gib_round_trips() {
    let high = Region::new(0x1_0000_0000, 3 << 30);
    let s = GuestSpec {
        memory: high,
        initrd: Some(Region::new(0x1_8000_0000, 4096)),
        ..spec()
    };
    let info = parse_host(&build_guest(&s).unwrap()).unwrap();
    assert_eq!(info.memory, vec![high]);
    assert_eq!(info.initrd, Some(Region::new(0x1_8000_0000, 4096)));
}

#[test]
fn rejects_inconsistent_specs() {
    let zero_cpus = GuestSpec { cpus: 0, ..spec() };
    assert!(matches!(
        build_guest(&zero_cpus),
        Err(DtError::InvalidSpec(_))
    ));
    let too_many = GuestSpec {
        cpus: 257,
        ..spec()
    };
    assert!(matches!(
        build_guest(&too_many),
        Err(DtError::InvalidSpec(_))
    ));
    let stray_initrd = GuestSpec {
        initrd: Some(Region::new(RAM.base + RAM.size - 0x800, 0x1000)),
        ..spec()
    };
    assert_eq!(
        build_guest(&stray_initrd),
        Err(DtError::InvalidSpec("initrd lies outside guest memory"))
    );
    // 8 vCPUs need 8 * 128 KiB of redistributor space.
    let small_redist = GuestSpec {
        cpus: 8,
        gic: Some(GuestGic::V3 {
            dist: Region::new(0x0800_0000, 0x1_0000),
            redist: Region::new(0x080A_0000, 7 * 0x2_0000),
        }),
        ..spec()
    };
    assert!(matches!(
        build_guest(&small_redist),
        Err(DtError::InvalidSpec(_))
    ));
    let bad_bootargs = GuestSpec {
        bootargs: "a\0b",
        ..spec()
    };
    let err = build_guest(&bad_bootargs).unwrap_err();
    assert!(matches!(
        err,
        DtError::Build {
            what: "chosen bootargs",
            ..
        }
    ));
}

#[test]
fn virtio_transports_are_described() {
    use aerie_dt::VirtioMmio;
    let transports = [
        VirtioMmio {
            region: Region::new(0x0a00_0000, 0x200),
            intid: 48,
        },
        VirtioMmio {
            region: Region::new(0x0a00_0200, 0x200),
            intid: 49,
        },
    ];
    let s = GuestSpec {
        virtio: &transports,
        ..spec()
    };
    let info = parse_host(&build_guest(&s).unwrap()).unwrap();
    let found: Vec<_> = info
        .virtio_mmio
        .iter()
        .map(|v| (v.region, v.intid))
        .collect();
    assert_eq!(
        found,
        vec![
            (transports[0].region, Some(48)),
            (transports[1].region, Some(49))
        ]
    );
    // Without a GIC there is nothing to deliver their interrupts.
    let no_gic = GuestSpec {
        virtio: &transports,
        gic: None,
        ..spec()
    };
    assert!(matches!(build_guest(&no_gic), Err(DtError::InvalidSpec(_))));
}
