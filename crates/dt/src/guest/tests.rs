use super::*;
use crate::fdt::cells::{cells, is_compatible, prop_str, prop_u32, str_list};
use crate::fdt::tree::Tree;

fn spec() -> GuestSpec<'static> {
    GuestSpec {
        memory: Region::new(0x4000_0000, 0x2000_0000),
        cpus: 2,
        bootargs: "console=ttyAMA0",
        initrd: None,
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
fn node_names_follow_qemu_virt() {
    let dtb = build_guest(&spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    for path in [
        "/chosen",
        "/memory@40000000",
        "/cpus/cpu@0",
        "/cpus/cpu@1",
        "/psci",
        "/intc@8000000",
        "/timer",
        "/apb-pclk",
        "/pl011@9000000",
    ] {
        assert!(tree.find_path(path).is_some(), "missing {path}");
    }
    assert!(tree.find_path("/cpus/cpu@2").is_none());
    let root = tree.root();
    assert_eq!(
        prop_str(&root, "compatible").unwrap(),
        Some("linux,dummy-virt")
    );
    assert_eq!(prop_u32(&root, "#address-cells").unwrap(), Some(2));
    assert_eq!(prop_u32(&root, "#size-cells").unwrap(), Some(2));
}

#[test]
fn the_power_button_is_a_gpio_key_on_pin_3_of_the_pl061() {
    let dtb = build_guest(&spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    let key = tree.find_path("/gpio-keys/poweroff").unwrap();
    assert!(is_compatible(
        &tree.find_path("/gpio-keys").unwrap(),
        "gpio-keys"
    ));
    assert_eq!(prop_u32(&key, "linux,code").unwrap(), Some(KEY_POWER));
    let gpios = cells(&key, "gpios").unwrap().unwrap();
    assert_eq!(gpios[1..], [POWER_BUTTON_PIN, 0], "pin 3, active high");
    let gpio = tree.by_phandle(gpios[0]).unwrap();
    assert_eq!(gpio.name(), "pl061@9030000");
    assert!(is_compatible(&gpio, "arm,pl061"));
    assert!(gpio.prop("gpio-controller").is_some());
    assert_eq!(prop_u32(&gpio, "#gpio-cells").unwrap(), Some(2));
    // SPI 7, level-high: INTID 39 as on QEMU virt.
    assert_eq!(
        cells(&gpio, "interrupts").unwrap().unwrap(),
        [GIC_SPI, GPIO_SPI, IRQ_TYPE_LEVEL_HIGH]
    );
    let clock = prop_u32(&gpio, "clocks").unwrap().unwrap();
    assert_eq!(tree.by_phandle(clock).unwrap().name(), "apb-pclk");

    // None without a frame; refused without a GIC to interrupt.
    let dtb = build_guest(&GuestSpec {
        gpio: None,
        ..spec()
    })
    .unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert!(tree.find_path("/gpio-keys").is_none());
    assert!(tree.find_path("/pl061@9030000").is_none());
    assert!(build_guest(&GuestSpec {
        gic: None,
        ..spec()
    })
    .is_err());
}

#[test]
fn a_gic_v2_is_a_cortex_a15_gic_with_its_cpu_interface() {
    let v2 = GuestGic::V2 {
        dist: Region::new(0x0800_0000, 0x1000),
        cpu: Region::new(0x0801_0000, 0x2000),
    };
    let dtb = build_guest(&GuestSpec {
        gic: Some(v2),
        ..spec()
    })
    .unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    let gic_ph = prop_u32(&tree.root(), "interrupt-parent").unwrap().unwrap();
    let gic = tree.by_phandle(gic_ph).unwrap();
    assert_eq!(gic.name(), "intc@8000000");
    assert!(is_compatible(&gic, "arm,cortex-a15-gic"));
    assert!(gic.prop("#redistributor-regions").is_none());
    assert_eq!(
        cells(&gic, "reg").unwrap().unwrap(),
        [0, 0x0800_0000, 0, 0x1000, 0, 0x0801_0000, 0, 0x2000]
    );
    assert_eq!(prop_u32(&gic, "#interrupt-cells").unwrap(), Some(3));
    // A GICv2 has 8 CPU interfaces at most.
    assert!(build_guest(&GuestSpec {
        gic: Some(v2),
        cpus: 9,
        ..spec()
    })
    .is_err());
}

#[test]
fn phandles_link_uart_clock_and_interrupt_parent() {
    let dtb = build_guest(&spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    let gic_ph = prop_u32(&tree.root(), "interrupt-parent").unwrap().unwrap();
    let gic = tree.by_phandle(gic_ph).unwrap();
    assert_eq!(gic.name(), "intc@8000000");
    assert_eq!(prop_u32(&gic, "#interrupt-cells").unwrap(), Some(3));
    assert!(gic
        .prop("interrupt-controller")
        .is_some_and(|v| v.is_empty()));

    let uart = tree.find_path("/pl011@9000000").unwrap();
    let clocks = cells(&uart, "clocks").unwrap().unwrap();
    assert_eq!(clocks.len(), 2);
    let clk = tree.by_phandle(clocks[0]).unwrap();
    assert_eq!(clk.name(), "apb-pclk");
    assert_eq!(clocks[1], clocks[0]);
    assert_eq!(prop_u32(&clk, "clock-frequency").unwrap(), Some(24_000_000));
    assert_eq!(prop_u32(&clk, "#clock-cells").unwrap(), Some(0));
    assert_eq!(
        str_list(&uart, "clock-names").collect::<Vec<_>>(),
        ["uartclk", "apb_pclk"]
    );
    assert_eq!(
        str_list(&uart, "compatible").collect::<Vec<_>>(),
        ["arm,pl011", "arm,primecell"]
    );
    // SPI 1, level-high: INTID 33 as on QEMU virt.
    assert_eq!(cells(&uart, "interrupts").unwrap(), Some(vec![0, 1, 4]));

    // The RTC's alarm: SPI 2, level-high, INTID 34 as on QEMU virt.
    let rtc = tree.find_path("/pl031@9010000").unwrap();
    assert!(is_compatible(&rtc, "arm,pl031"));
    assert_eq!(
        cells(&rtc, "interrupts").unwrap(),
        Some(vec![GIC_SPI, RTC_SPI, IRQ_TYPE_LEVEL_HIGH])
    );
    assert_eq!(
        tree.by_phandle(prop_u32(&rtc, "clocks").unwrap().unwrap())
            .unwrap()
            .name(),
        "apb-pclk"
    );
}

const IDLE: [IdleStateNode<'static>; 2] = [
    IdleStateNode {
        name: "cpu-retention",
        psci_param: 1,
        entry_latency_us: 20,
        exit_latency_us: 40,
        min_residency_us: 100,
    },
    IdleStateNode {
        name: "cpu-power-down",
        psci_param: 0x1_0000,
        entry_latency_us: 100,
        exit_latency_us: 250,
        min_residency_us: 2000,
    },
];

#[test]
fn every_cpu_names_the_idle_states_shallowest_first() {
    let s = GuestSpec {
        idle_states: &IDLE,
        ..spec()
    };
    let dtb = build_guest(&s).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    let states = tree.find_path("/cpus/idle-states").unwrap();
    assert_eq!(prop_str(&states, "entry-method").unwrap(), Some("psci"));
    for c in ["/cpus/cpu@0", "/cpus/cpu@1"] {
        let cpu = tree.find_path(c).unwrap();
        let phandles = cells(&cpu, "cpu-idle-states").unwrap().unwrap();
        assert_eq!(phandles.len(), 2, "{c}");
        for (ph, want) in phandles.iter().zip(IDLE) {
            let node = tree.by_phandle(*ph).unwrap();
            assert_eq!(node.path(), format!("/cpus/idle-states/{}", want.name));
            assert!(is_compatible(&node, "arm,idle-state"));
            assert_eq!(
                prop_u32(&node, "arm,psci-suspend-param").unwrap(),
                Some(want.psci_param)
            );
            assert_eq!(
                prop_u32(&node, "entry-latency-us").unwrap(),
                Some(want.entry_latency_us)
            );
            assert_eq!(
                prop_u32(&node, "exit-latency-us").unwrap(),
                Some(want.exit_latency_us)
            );
            assert_eq!(
                prop_u32(&node, "min-residency-us").unwrap(),
                Some(want.min_residency_us)
            );
            // The virtual timer keeps running: no broadcast timer needed.
            assert!(node.prop("local-timer-stop").is_none());
        }
    }
}

#[test]
fn an_rng_seed_goes_to_chosen_and_none_without_one() {
    let seed = [0x5a; 64];
    let dtb = build_guest(&GuestSpec {
        rng_seed: &seed,
        ..spec()
    })
    .unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert_eq!(
        tree.find_path("/chosen").unwrap().prop("rng-seed"),
        Some(&seed[..])
    );
    let dtb = build_guest(&spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert_eq!(tree.find_path("/chosen").unwrap().prop("rng-seed"), None);
}

#[test]
fn a_kaslr_seed_goes_to_chosen_as_64_bits_and_none_without_one() {
    let dtb = build_guest(&GuestSpec {
        kaslr_seed: Some(0x0123_4567_89ab_cdef),
        ..spec()
    })
    .unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert_eq!(
        tree.find_path("/chosen").unwrap().prop("kaslr-seed"),
        Some(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef][..])
    );
    let dtb = build_guest(&spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert_eq!(tree.find_path("/chosen").unwrap().prop("kaslr-seed"), None);
}

const RATES: [u64; 2] = [500_000_000, 1_000_000_000];

fn scmi_spec() -> GuestSpec<'static> {
    GuestSpec {
        scmi: Some(GuestScmi {
            smc_id: 0x8600_0001,
            shmem: Region::new(0x5fff_f000, 0x1000),
            rates: &RATES,
            clock_latency_ns: 50_000,
        }),
        ..spec()
    }
}

#[test]
fn scmi_channel_clocks_and_operating_points() {
    let dtb = build_guest(&scmi_spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    let scmi = tree.find_path("/firmware/scmi").unwrap();
    assert!(is_compatible(&scmi, "arm,scmi-smc"));
    assert_eq!(prop_u32(&scmi, "arm,smc-id").unwrap(), Some(0x8600_0001));
    // The channel: reserved, unmapped guest RAM of the Linux binding.
    let shm = tree
        .by_phandle(prop_u32(&scmi, "shmem").unwrap().unwrap())
        .unwrap();
    assert_eq!(shm.path(), "/reserved-memory/scmi-shmem@5ffff000");
    assert!(is_compatible(&shm, "arm,scmi-shmem"));
    assert!(shm.prop("no-map").is_some());
    assert_eq!(
        crate::fdt::cells::reg(&shm).unwrap(),
        vec![Region::new(0x5fff_f000, 0x1000)]
    );
    let clk = tree.find_path("/firmware/scmi/protocol@14").unwrap();
    assert_eq!(prop_u32(&clk, "reg").unwrap(), Some(0x14));
    assert_eq!(prop_u32(&clk, "#clock-cells").unwrap(), Some(1));
    let clk_ph = prop_u32(&clk, "phandle").unwrap().unwrap();
    for (i, c) in ["/cpus/cpu@0", "/cpus/cpu@1"].iter().enumerate() {
        let cpu = tree.find_path(c).unwrap();
        // vCPU i's own clock: i.
        assert_eq!(cells(&cpu, "clocks").unwrap(), Some(vec![clk_ph, i as u32]));
        let opp = tree
            .by_phandle(prop_u32(&cpu, "operating-points-v2").unwrap().unwrap())
            .unwrap();
        assert!(is_compatible(&opp, "operating-points-v2"));
        assert!(opp.prop("opp-shared").is_none(), "one policy per vCPU");
        let hz: Vec<u64> = opp
            .children()
            .map(|p| {
                assert_eq!(prop_u32(&p, "clock-latency-ns").unwrap(), Some(50_000));
                u64::from_be_bytes(p.prop("opp-hz").unwrap().try_into().unwrap())
            })
            .collect();
        assert_eq!(hz, RATES);
    }
}

#[test]
fn scmi_spec_is_checked() {
    let mut s = scmi_spec();
    let mut bad = s.scmi.unwrap();
    bad.shmem = Region::new(0x1000, 0x1000);
    s.scmi = Some(bad);
    assert!(matches!(build_guest(&s), Err(DtError::InvalidSpec(_))));
    let mut s = scmi_spec();
    let mut bad = s.scmi.unwrap();
    bad.rates = &[];
    s.scmi = Some(bad);
    assert!(matches!(build_guest(&s), Err(DtError::InvalidSpec(_))));
}

#[test]
fn no_idle_states_means_no_idle_nodes() {
    let dtb = build_guest(&spec()).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert!(tree.find_path("/cpus/idle-states").is_none());
    let cpu = tree.find_path("/cpus/cpu@0").unwrap();
    assert!(cpu.prop("cpu-idle-states").is_none());
    let too_many = [IDLE[0]; MAX_IDLE_STATES + 1];
    let s = GuestSpec {
        idle_states: &too_many,
        ..spec()
    };
    assert!(matches!(build_guest(&s), Err(DtError::InvalidSpec(_))));
}

#[test]
fn psci_timer_and_chosen_properties() {
    let s = GuestSpec {
        initrd: Some(Region::new(0x4400_0000, 0x1000)),
        ..spec()
    };
    let dtb = build_guest(&s).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    let psci = tree.find_path("/psci").unwrap();
    assert_eq!(
        str_list(&psci, "compatible").collect::<Vec<_>>(),
        ["arm,psci-1.0", "arm,psci-0.2"]
    );
    assert_eq!(prop_str(&psci, "method").unwrap(), Some("hvc"));

    let timer = tree.find_path("/timer").unwrap();
    assert_eq!(
        cells(&timer, "interrupts").unwrap(),
        Some(vec![1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4])
    );
    assert!(timer.prop("always-on").is_some());

    let chosen = tree.find_path("/chosen").unwrap();
    assert_eq!(
        prop_str(&chosen, "stdout-path").unwrap(),
        Some("/pl011@9000000")
    );
    assert_eq!(
        chosen.prop("linux,initrd-end"),
        Some(&0x4400_1000u64.to_be_bytes()[..])
    );

    let cpu = tree.find_path("/cpus/cpu@1").unwrap();
    assert_eq!(prop_str(&cpu, "compatible").unwrap(), Some("arm,armv8"));
    assert_eq!(cpu.prop("reg"), Some(&1u32.to_be_bytes()[..]));
}

#[test]
fn uart_has_no_interrupts_without_gic() {
    let s = GuestSpec {
        gic: None,
        gpio: None,
        ..spec()
    };
    let dtb = build_guest(&s).unwrap();
    let tree = Tree::parse(&dtb).unwrap();
    assert!(tree.root().prop("interrupt-parent").is_none());
    let uart = tree.find_path("/pl011@9000000").unwrap();
    assert!(uart.prop("interrupts").is_none());
}
