//! Builds the device tree a guest receives in x0, shaped like QEMU `virt`'s so
//! kernels and firmware that target `virt` boot unchanged.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use vm_fdt::FdtWriter;

use crate::binding::{reg2, GIC_PPI, GIC_SPI, IRQ_TYPE_EDGE_RISING, IRQ_TYPE_LEVEL_HIGH};
use crate::error::{DtError, Step};
use crate::region::Region;

/// The GIC to describe to the guest: the version the host's allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestGic {
    /// A GICv3: the distributor and one redistributor region, which must
    /// hold 128 KiB (RD + SGI frames) per vCPU.
    V3 { dist: Region, redist: Region },
    /// A GICv2: the distributor and the CPU interface (8 KiB, with
    /// GICC_DIR at 0x1000). At most 8 vCPUs.
    V2 { dist: Region, cpu: Region },
}

impl GuestGic {
    /// The distributor, whose address names the node.
    fn dist(&self) -> Region {
        match self {
            GuestGic::V3 { dist, .. } | GuestGic::V2 { dist, .. } => *dist,
        }
    }
}

/// What the guest machine looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestSpec<'a> {
    pub memory: Region,
    /// vCPU count; vCPU i has MPIDR Aff0 = i.
    pub cpus: u32,
    pub bootargs: &'a str,
    /// Must lie inside `memory`.
    pub initrd: Option<Region>,
    /// PL011 frame, QEMU virt puts it at 0x0900_0000 size 0x1000.
    pub uart: Region,
    /// PL031 real-time clock frame (QEMU virt: 0x0901_0000), if any. It is
    /// given no interrupt: Linux then leaves its alarm off.
    pub rtc: Option<Region>,
    /// PL061 GPIO controller frame (QEMU virt: 0x0903_0000, SPI 7), if
    /// any, whose pin [`POWER_BUTTON_PIN`] is the power button: a
    /// `gpio-keys` key with KEY_POWER, as on QEMU virt. Needs a GIC.
    pub gpio: Option<Region>,
    pub gic: Option<GuestGic>,
    pub timer: bool,
    /// virtio-mmio transports (need a GIC for their interrupts).
    pub virtio: &'a [VirtioMmio],
    /// PSCI idle states every vCPU may enter, shallowest first (none: the
    /// guest idles in WFI only).
    pub idle_states: &'a [IdleStateNode<'a>],
    /// An SCMI channel with a clock per vCPU (cpufreq), if any.
    pub scmi: Option<GuestScmi<'a>>,
    /// `/chosen/rng-seed`: entropy Linux credits to its random number
    /// generator at boot. Empty: no property.
    pub rng_seed: &'a [u8],
    /// `/chosen/kaslr-seed`: where Linux places itself (KASLR). None: no
    /// property, and Linux stays where it was linked.
    pub kaslr_seed: Option<u64>,
}

/// An `arm,scmi-smc` channel offering the Clock protocol with clock i
/// driving vCPU i, whose operating points are `rates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestScmi<'a> {
    /// `arm,smc-id`: the SMCCC function the guest calls after each command.
    pub smc_id: u32,
    /// The shared-memory channel: guest RAM, reserved (`no-map`).
    pub shmem: Region,
    /// The clocks' rates in Hz, slowest first: each vCPU's operating points.
    pub rates: &'a [u64],
    /// `clock-latency-ns` of every operating point.
    pub clock_latency_ns: u32,
}

/// One `arm,idle-state` node (Documentation/devicetree/bindings/cpu/
/// idle-states.yaml): entered by PSCI CPU_SUSPEND with `psci_param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleStateNode<'a> {
    pub name: &'a str,
    /// `arm,psci-suspend-param`.
    pub psci_param: u32,
    pub entry_latency_us: u32,
    pub exit_latency_us: u32,
    pub min_residency_us: u32,
}

/// One virtio-mmio transport: its register window and its SPI's INTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioMmio {
    pub region: Region,
    /// INTID (32 + SPI number).
    pub intid: u32,
}

/// A GICv3 redistributor is two 64 KiB frames (RD_base, SGI_base).
const GICV3_REDIST_STRIDE: u64 = 0x2_0000;
/// Aff0 is 8 bits; vCPU i gets Aff0 = i.
const MAX_VCPUS: u32 = 256;
/// PL011 reference clock QEMU virt advertises.
const APB_PCLK_HZ: u32 = 24_000_000;
/// Phandles start where QEMU's do; any unique non-zero values would work.
const PHANDLE_APB_PCLK: u32 = 0x8000;
const PHANDLE_GIC: u32 = 0x8001;
/// Idle state i gets this + i.
const PHANDLE_IDLE_STATES: u32 = 0x8100;
const PHANDLE_SCMI_SHMEM: u32 = 0x8200;
const PHANDLE_SCMI_CLOCK: u32 = 0x8201;
const PHANDLE_OPP_TABLE: u32 = 0x8202;
/// Linux's SCMI clock driver takes at most 16 discrete rates.
const MAX_SCMI_RATES: usize = 16;
/// At most this many idle states (their phandles must stay unique).
const MAX_IDLE_STATES: usize = 8;

/// QEMU virt's PL011 is SPI 1 (INTID 33).
const UART_SPI: u32 = 1;
/// QEMU virt's PL031 is SPI 2 (INTID 34): its alarm.
pub const RTC_SPI: u32 = 2;
/// QEMU virt's PL061 is SPI 7 (INTID 39).
pub const GPIO_SPI: u32 = 7;
/// The PL061 pin QEMU virt wires its power button to.
pub const POWER_BUTTON_PIN: u32 = 3;
/// Linux's input event code for the power key (`KEY_POWER`).
pub const KEY_POWER: u32 = 116;
const PHANDLE_GPIO: u32 = 0x8002;
/// Timer PPIs in binding order: secure phys, non-secure phys, virt, hyp
/// (INTIDs 29, 30, 27, 26 as in the Arm BSA recommendation).
const TIMER_PPIS: [u32; 4] = [13, 14, 11, 10];

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn contains(outer: &Region, inner: &Region) -> bool {
    match (outer.end(), inner.end()) {
        (Some(oe), Some(ie)) => inner.base >= outer.base && ie <= oe,
        _ => false,
    }
}

fn validate(spec: &GuestSpec<'_>) -> Result<(), DtError> {
    if spec.gpio.is_some() && spec.gic.is_none() {
        return Err(DtError::InvalidSpec(
            "the PL061 GPIO needs a GIC for its interrupt",
        ));
    }
    if !spec.virtio.is_empty() && spec.gic.is_none() {
        return Err(DtError::InvalidSpec(
            "virtio-mmio transports need a GIC for their interrupts",
        ));
    }
    if spec.virtio.iter().any(|v| v.intid < 32) {
        return Err(DtError::InvalidSpec(
            "virtio-mmio interrupt must be an SPI (INTID >= 32)",
        ));
    }
    if spec.cpus == 0 || spec.cpus > MAX_VCPUS {
        return Err(DtError::InvalidSpec("vCPU count must be 1..=256"));
    }
    if spec.memory.size == 0 || spec.memory.end().is_none() {
        return Err(DtError::InvalidSpec("guest memory is empty or wraps"));
    }
    if let Some(initrd) = &spec.initrd {
        if !contains(&spec.memory, initrd) {
            return Err(DtError::InvalidSpec("initrd lies outside guest memory"));
        }
    }
    if let Some(scmi) = &spec.scmi {
        if !contains(&spec.memory, &scmi.shmem) {
            return Err(DtError::InvalidSpec(
                "SCMI shared memory outside guest memory",
            ));
        }
        if scmi.rates.is_empty() || scmi.rates.len() > MAX_SCMI_RATES {
            return Err(DtError::InvalidSpec("SCMI clocks need 1..=16 rates"));
        }
    }
    if spec.idle_states.len() > MAX_IDLE_STATES {
        return Err(DtError::InvalidSpec("more than 8 idle states"));
    }
    match &spec.gic {
        Some(GuestGic::V3 { redist, .. })
            if redist.size < u64::from(spec.cpus) * GICV3_REDIST_STRIDE =>
        {
            return Err(DtError::InvalidSpec(
                "GICv3 redistributor region smaller than 128 KiB per vCPU",
            ));
        }
        Some(GuestGic::V2 { .. }) if spec.cpus > 8 => {
            return Err(DtError::InvalidSpec("a GICv2 serves at most 8 CPUs"));
        }
        _ => {}
    }
    Ok(())
}

/// Emits the guest DTB for `spec`.
pub fn build_guest(spec: &GuestSpec<'_>) -> Result<Vec<u8>, DtError> {
    validate(spec)?;
    let mut w = FdtWriter::new().step("create writer")?;
    let root = w.begin_node("").step("root")?;
    w.property_string("compatible", "linux,dummy-virt")
        .step("root")?;
    w.property_string("model", "aerie-virt").step("root")?;
    w.property_u32("#address-cells", 2).step("root")?;
    w.property_u32("#size-cells", 2).step("root")?;
    if spec.gic.is_some() {
        w.property_u32("interrupt-parent", PHANDLE_GIC)
            .step("root")?;
    }

    let uart_path = format!("/pl011@{:x}", spec.uart.base);
    chosen(&mut w, spec, &uart_path)?;

    let mem = w
        .begin_node(&format!("memory@{:x}", spec.memory.base))
        .step("memory")?;
    w.property_string("device_type", "memory").step("memory")?;
    w.property_array_u64("reg", &reg2(&[spec.memory]))
        .step("memory")?;
    w.end_node(mem).step("memory")?;

    cpus(&mut w, spec)?;
    psci(&mut w)?;
    if let Some(scmi) = &spec.scmi {
        scmi_nodes(&mut w, scmi)?;
    }
    if let Some(gic) = &spec.gic {
        intc(&mut w, gic)?;
    }
    if spec.timer {
        timer(&mut w)?;
    }
    uart(&mut w, spec, &uart_path[1..])?;
    if let Some(rtc) = spec.rtc {
        pl031(&mut w, rtc, spec.gic.is_some())?;
    }
    if let Some(gpio) = spec.gpio {
        power_button(&mut w, gpio)?;
    }
    for v in spec.virtio {
        virtio_mmio(&mut w, v)?;
    }

    w.end_node(root).step("root")?;
    w.finish().step("finish")
}

fn chosen(w: &mut FdtWriter, spec: &GuestSpec<'_>, uart_path: &str) -> Result<(), DtError> {
    let chosen = w.begin_node("chosen").step("chosen")?;
    w.property_string("bootargs", spec.bootargs)
        .step("chosen bootargs")?;
    w.property_string("stdout-path", uart_path).step("chosen")?;
    if let Some(initrd) = &spec.initrd {
        // 64-bit cells: Linux reads either width; guest RAM may sit above 4 GiB.
        w.property_u64("linux,initrd-start", initrd.base)
            .step("chosen initrd")?;
        w.property_u64("linux,initrd-end", initrd.base + initrd.size)
            .step("chosen initrd")?;
    }
    if !spec.rng_seed.is_empty() {
        w.property("rng-seed", spec.rng_seed)
            .step("chosen rng-seed")?;
    }
    if let Some(seed) = spec.kaslr_seed {
        w.property_u64("kaslr-seed", seed)
            .step("chosen kaslr-seed")?;
    }
    w.end_node(chosen).step("chosen")
}

fn cpus(w: &mut FdtWriter, spec: &GuestSpec<'_>) -> Result<(), DtError> {
    let (count, idle) = (spec.cpus, spec.idle_states);
    let cpus = w.begin_node("cpus").step("cpus")?;
    w.property_u32("#address-cells", 1).step("cpus")?;
    w.property_u32("#size-cells", 0).step("cpus")?;
    let idle_phandles: Vec<u32> = (0..idle.len() as u32)
        .map(|i| PHANDLE_IDLE_STATES + i)
        .collect();
    if !idle.is_empty() {
        idle_states(w, idle, &idle_phandles)?;
    }
    for i in 0..count {
        let cpu = w.begin_node(&format!("cpu@{i:x}")).step("cpu")?;
        w.property_string("device_type", "cpu").step("cpu")?;
        w.property_string("compatible", "arm,armv8").step("cpu")?;
        w.property_u32("reg", i).step("cpu")?;
        // Every vCPU, the boot one too: Linux uses PSCI for hotplug and reboot.
        w.property_string("enable-method", "psci").step("cpu")?;
        if !idle.is_empty() {
            w.property_array_u32("cpu-idle-states", &idle_phandles)
                .step("cpu")?;
        }
        if spec.scmi.is_some() {
            // Its own clock, no `opp-shared`: one cpufreq policy per vCPU.
            w.property_array_u32("clocks", &[PHANDLE_SCMI_CLOCK, i])
                .step("cpu")?;
            w.property_u32("operating-points-v2", PHANDLE_OPP_TABLE)
                .step("cpu")?;
        }
        w.end_node(cpu).step("cpu")?;
    }
    w.end_node(cpus).step("cpus")
}

fn idle_states(
    w: &mut FdtWriter,
    idle: &[IdleStateNode<'_>],
    phandles: &[u32],
) -> Result<(), DtError> {
    let node = w.begin_node("idle-states").step("idle-states")?;
    w.property_string("entry-method", "psci")
        .step("idle-states")?;
    for (state, &phandle) in idle.iter().zip(phandles) {
        let s = w.begin_node(state.name).step("idle state")?;
        w.property_string("compatible", "arm,idle-state")
            .step("idle state")?;
        w.property_u32("arm,psci-suspend-param", state.psci_param)
            .step("idle state")?;
        w.property_u32("entry-latency-us", state.entry_latency_us)
            .step("idle state")?;
        w.property_u32("exit-latency-us", state.exit_latency_us)
            .step("idle state")?;
        w.property_u32("min-residency-us", state.min_residency_us)
            .step("idle state")?;
        // No `local-timer-stop`: the virtual timer runs on in every state.
        w.property_phandle(phandle).step("idle state")?;
        w.end_node(s).step("idle state")?;
    }
    w.end_node(node).step("idle-states")
}

/// The channel's memory (reserved, unmapped by the guest's linear map, as
/// Linux's ioremap of it requires), the `arm,scmi-smc` node with its clock
/// protocol, and the vCPUs' operating points.
fn scmi_nodes(w: &mut FdtWriter, scmi: &GuestScmi<'_>) -> Result<(), DtError> {
    let rsv = w.begin_node("reserved-memory").step("reserved-memory")?;
    w.property_u32("#address-cells", 2)
        .step("reserved-memory")?;
    w.property_u32("#size-cells", 2).step("reserved-memory")?;
    w.property_null("ranges").step("reserved-memory")?;
    let shm = w
        .begin_node(&format!("scmi-shmem@{:x}", scmi.shmem.base))
        .step("scmi-shmem")?;
    w.property_string("compatible", "arm,scmi-shmem")
        .step("scmi-shmem")?;
    w.property_array_u64("reg", &reg2(&[scmi.shmem]))
        .step("scmi-shmem")?;
    w.property_null("no-map").step("scmi-shmem")?;
    w.property_phandle(PHANDLE_SCMI_SHMEM).step("scmi-shmem")?;
    w.end_node(shm).step("scmi-shmem")?;
    w.end_node(rsv).step("reserved-memory")?;

    let fw = w.begin_node("firmware").step("firmware")?;
    let node = w.begin_node("scmi").step("scmi")?;
    w.property_string("compatible", "arm,scmi-smc")
        .step("scmi")?;
    w.property_u32("arm,smc-id", scmi.smc_id).step("scmi")?;
    w.property_u32("shmem", PHANDLE_SCMI_SHMEM).step("scmi")?;
    w.property_u32("#address-cells", 1).step("scmi")?;
    w.property_u32("#size-cells", 0).step("scmi")?;
    let clk = w.begin_node("protocol@14").step("scmi clock")?;
    w.property_u32("reg", 0x14).step("scmi clock")?;
    w.property_u32("#clock-cells", 1).step("scmi clock")?;
    w.property_phandle(PHANDLE_SCMI_CLOCK).step("scmi clock")?;
    w.end_node(clk).step("scmi clock")?;
    w.end_node(node).step("scmi")?;
    w.end_node(fw).step("firmware")?;

    let opp = w.begin_node("opp-table").step("opp-table")?;
    w.property_string("compatible", "operating-points-v2")
        .step("opp-table")?;
    w.property_phandle(PHANDLE_OPP_TABLE).step("opp-table")?;
    for &hz in scmi.rates {
        let p = w.begin_node(&format!("opp-{hz}")).step("opp")?;
        w.property_u64("opp-hz", hz).step("opp")?;
        w.property_u32("clock-latency-ns", scmi.clock_latency_ns)
            .step("opp")?;
        w.end_node(p).step("opp")?;
    }
    w.end_node(opp).step("opp-table")
}

fn psci(w: &mut FdtWriter) -> Result<(), DtError> {
    let psci = w.begin_node("psci").step("psci")?;
    w.property_string_list("compatible", strings(&["arm,psci-1.0", "arm,psci-0.2"]))
        .step("psci")?;
    // The guest's conduit is HVC: its SMCs would go to EL3, not to Aerie.
    w.property_string("method", "hvc").step("psci")?;
    w.end_node(psci).step("psci")
}

fn intc(w: &mut FdtWriter, gic: &GuestGic) -> Result<(), DtError> {
    let intc = w
        .begin_node(&format!("intc@{:x}", gic.dist().base))
        .step("intc")?;
    match gic {
        GuestGic::V3 { dist, redist } => {
            w.property_string("compatible", "arm,gic-v3").step("intc")?;
            w.property_u32("#redistributor-regions", 1).step("intc")?;
            w.property_array_u64("reg", &reg2(&[*dist, *redist]))
                .step("intc")?;
        }
        GuestGic::V2 { dist, cpu } => {
            // QEMU's virt names its GICv2 so; Linux's gic driver takes it.
            w.property_string("compatible", "arm,cortex-a15-gic")
                .step("intc")?;
            w.property_array_u64("reg", &reg2(&[*dist, *cpu]))
                .step("intc")?;
        }
    }
    w.property_u32("#interrupt-cells", 3).step("intc")?;
    w.property_null("interrupt-controller").step("intc")?;
    w.property_phandle(PHANDLE_GIC).step("intc")?;
    w.end_node(intc).step("intc")
}

fn timer(w: &mut FdtWriter) -> Result<(), DtError> {
    let timer = w.begin_node("timer").step("timer")?;
    w.property_string("compatible", "arm,armv8-timer")
        .step("timer")?;
    let irqs: Vec<u32> = TIMER_PPIS
        .iter()
        .flat_map(|&ppi| [GIC_PPI, ppi, IRQ_TYPE_LEVEL_HIGH])
        .collect();
    w.property_array_u32("interrupts", &irqs).step("timer")?;
    // The counter keeps running in every power state Aerie offers.
    w.property_null("always-on").step("timer")?;
    w.end_node(timer).step("timer")
}

fn uart(w: &mut FdtWriter, spec: &GuestSpec<'_>, node_name: &str) -> Result<(), DtError> {
    let clk = w.begin_node("apb-pclk").step("apb-pclk")?;
    w.property_string("compatible", "fixed-clock")
        .step("apb-pclk")?;
    w.property_u32("#clock-cells", 0).step("apb-pclk")?;
    w.property_u32("clock-frequency", APB_PCLK_HZ)
        .step("apb-pclk")?;
    w.property_string("clock-output-names", "clk24mhz")
        .step("apb-pclk")?;
    w.property_phandle(PHANDLE_APB_PCLK).step("apb-pclk")?;
    w.end_node(clk).step("apb-pclk")?;

    let uart = w.begin_node(node_name).step("pl011")?;
    w.property_string_list("compatible", strings(&["arm,pl011", "arm,primecell"]))
        .step("pl011")?;
    w.property_array_u64("reg", &reg2(&[spec.uart]))
        .step("pl011")?;
    // The PL011 binding names both clocks; QEMU feeds both from apb-pclk.
    w.property_array_u32("clocks", &[PHANDLE_APB_PCLK, PHANDLE_APB_PCLK])
        .step("pl011")?;
    w.property_string_list("clock-names", strings(&["uartclk", "apb_pclk"]))
        .step("pl011")?;
    if spec.gic.is_some() {
        w.property_array_u32("interrupts", &[GIC_SPI, UART_SPI, IRQ_TYPE_LEVEL_HIGH])
            .step("pl011")?;
    }
    w.end_node(uart).step("pl011")
}

/// As QEMU virt describes its PL031: its alarm a level SPI where there is
/// a GIC (after the PL011, whose node writes the apb-pclk clock both use).
/// Linux then offers the alarm (`/sys/class/rtc/rtc0/wakealarm`).
fn pl031(w: &mut FdtWriter, rtc: Region, gic: bool) -> Result<(), DtError> {
    let node = w
        .begin_node(&format!("pl031@{:x}", rtc.base))
        .step("pl031")?;
    w.property_string_list("compatible", strings(&["arm,pl031", "arm,primecell"]))
        .step("pl031")?;
    w.property_array_u64("reg", &reg2(&[rtc])).step("pl031")?;
    if gic {
        w.property_array_u32("interrupts", &[GIC_SPI, RTC_SPI, IRQ_TYPE_LEVEL_HIGH])
            .step("pl031")?;
    }
    w.property_u32("clocks", PHANDLE_APB_PCLK).step("pl031")?;
    w.property_string("clock-names", "apb_pclk").step("pl031")?;
    w.end_node(node).step("pl031")
}

/// As QEMU virt describes its PL061 and the power button on it: a level
/// SPI, and a `gpio-keys` key, active high, that Linux reports as KEY_POWER.
fn power_button(w: &mut FdtWriter, gpio: Region) -> Result<(), DtError> {
    let node = w
        .begin_node(&format!("pl061@{:x}", gpio.base))
        .step("pl061")?;
    w.property_string_list("compatible", strings(&["arm,pl061", "arm,primecell"]))
        .step("pl061")?;
    w.property_array_u64("reg", &reg2(&[gpio])).step("pl061")?;
    w.property_array_u32("interrupts", &[GIC_SPI, GPIO_SPI, IRQ_TYPE_LEVEL_HIGH])
        .step("pl061")?;
    w.property_null("gpio-controller").step("pl061")?;
    w.property_u32("#gpio-cells", 2).step("pl061")?;
    w.property_u32("clocks", PHANDLE_APB_PCLK).step("pl061")?;
    w.property_string("clock-names", "apb_pclk").step("pl061")?;
    w.property_phandle(PHANDLE_GPIO).step("pl061")?;
    w.end_node(node).step("pl061")?;

    let keys = w.begin_node("gpio-keys").step("gpio-keys")?;
    w.property_string("compatible", "gpio-keys")
        .step("gpio-keys")?;
    let key = w.begin_node("poweroff").step("gpio-keys")?;
    w.property_string("label", "GPIO Key Poweroff")
        .step("gpio-keys")?;
    w.property_u32("linux,code", KEY_POWER).step("gpio-keys")?;
    // <controller pin flags>: flags 0 is GPIO_ACTIVE_HIGH.
    w.property_array_u32("gpios", &[PHANDLE_GPIO, POWER_BUTTON_PIN, 0])
        .step("gpio-keys")?;
    w.end_node(key).step("gpio-keys")?;
    w.end_node(keys).step("gpio-keys")
}

/// As QEMU virt describes its transports: edge-rising SPI, DMA-coherent.
fn virtio_mmio(w: &mut FdtWriter, v: &VirtioMmio) -> Result<(), DtError> {
    let node = w
        .begin_node(&format!("virtio_mmio@{:x}", v.region.base))
        .step("virtio_mmio")?;
    w.property_string("compatible", "virtio,mmio")
        .step("virtio_mmio")?;
    w.property_array_u64("reg", &reg2(&[v.region]))
        .step("virtio_mmio")?;
    w.property_null("dma-coherent").step("virtio_mmio")?;
    w.property_array_u32("interrupts", &[GIC_SPI, v.intid - 32, IRQ_TYPE_EDGE_RISING])
        .step("virtio_mmio")?;
    w.end_node(node).step("virtio_mmio")
}

#[cfg(test)]
mod tests;
