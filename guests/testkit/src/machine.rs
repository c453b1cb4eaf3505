//! What the testkit learns about its VM from the device tree.

use crate::fdt::{cells_value, Event, Fdt, FdtError};

/// CPUs the testkit tracks (and has secondary stacks for).
pub const MAX_CPUS: usize = 8;

/// virtio-mmio transports the testkit records (QEMU's `virt` has 32).
pub const MAX_VIRTIO: usize = 32;

/// PSCI idle states the testkit records.
pub const MAX_IDLE_STATES: usize = 4;

/// The root `model` Aerie gives its VMs' device trees (crates/dt).
const AERIE_MODEL: &[u8] = b"aerie-virt";

pub struct Machine {
    /// Number of /cpus/cpu@* nodes (1 when there is no DTB).
    pub cpus: usize,
    /// The `reg` (MPIDR affinity) of the first MAX_CPUS cpu nodes.
    pub mpidrs: [u64; MAX_CPUS],
    /// /chosen/bootargs without its NUL terminator ("" when absent).
    pub bootargs: &'static str,
    /// A depth-1 node is compatible with "arm,gic-v3" (the testkit then
    /// routes the virtual timer PPI through it; without one, WFI must still
    /// end when the timer fires, which a hypervisor guarantees).
    pub gic_v3: bool,
    /// A depth-1 node is a GICv2 (`arm,cortex-a15-gic` or `arm,gic-400`,
    /// what Aerie describes on a host whose GIC is a GIC-400): the testkit
    /// drives it through its memory-mapped CPU interface instead.
    pub gic_v2: bool,
    /// The `reg` windows (base, size) of the first MAX_VIRTIO depth-1 nodes
    /// compatible with "virtio,mmio"; `virtio_count` of them are valid.
    pub virtio: [(u64, u64); MAX_VIRTIO],
    pub virtio_count: usize,
    /// The root node's `model` is Aerie's: the VM runs under Aerie, so a test
    /// may also expect what Aerie documents beyond the architecture
    /// (docs/ARCHITECTURE.md), e.g. the external abort for an ISV = 0 access
    /// to an emulated device.
    pub aerie: bool,
    /// `arm,psci-suspend-param` of the first MAX_IDLE_STATES nodes under
    /// /cpus/idle-states, in DT order; `idle_count` of them are valid.
    pub idle_params: [u32; MAX_IDLE_STATES],
    pub idle_count: usize,
    /// The SCMI channel: `arm,smc-id` of /firmware/scmi and the base of
    /// /reserved-memory/scmi-shmem@*.
    pub scmi_smc_id: Option<u32>,
    pub scmi_shmem: Option<u64>,
}

impl Machine {
    /// Whether the device tree describes a GIC the testkit drives.
    pub fn has_gic(&self) -> bool {
        self.gic_v3 || self.gic_v2
    }

    /// The machine assumed without a DTB: one vCPU (MPIDR 0), empty bootargs.
    pub fn fallback() -> Self {
        Self {
            cpus: 1,
            mpidrs: [0; MAX_CPUS],
            bootargs: "",
            gic_v3: true,
            gic_v2: false,
            virtio: [(0, 0); MAX_VIRTIO],
            virtio_count: 0,
            aerie: false,
            idle_params: [0; MAX_IDLE_STATES],
            idle_count: 0,
            scmi_smc_id: None,
            scmi_shmem: None,
        }
    }

    /// The published PSCI idle states' power_state parameters.
    pub fn idle_states(&self) -> &[u32] {
        &self.idle_params[..self.idle_count]
    }

    /// The first published idle state of the kind asked for: power-down
    /// (power_state StateType, bit 16, set) or standby (clear).
    pub fn idle_state(&self, power_down: bool) -> Option<u32> {
        const POWER_DOWN: u32 = 1 << 16;
        self.idle_states()
            .iter()
            .copied()
            .find(|p| (p & POWER_DOWN != 0) == power_down)
    }

    /// The virtio-mmio windows the device tree describes.
    pub fn virtio_windows(&self) -> &[(u64, u64)] {
        &self.virtio[..self.virtio_count]
    }

    pub fn from_fdt(fdt: &Fdt<'static>) -> Result<Self, FdtError> {
        let mut machine = Self {
            cpus: 0,
            mpidrs: [0; MAX_CPUS],
            bootargs: "",
            gic_v3: false,
            gic_v2: false,
            virtio: [(0, 0); MAX_VIRTIO],
            virtio_count: 0,
            aerie: false,
            idle_params: [0; MAX_IDLE_STATES],
            idle_count: 0,
            scmi_smc_id: None,
            scmi_shmem: None,
        };
        // Name of the current depth-1 node, and whether the current depth-2 node is a cpu.
        let mut top: &[u8] = b"";
        let mut in_cpu: Option<usize> = None;
        // Inside /cpus/idle-states.
        let mut in_idle_states = false;
        // Inside /reserved-memory/scmi-shmem@*.
        let mut in_scmi_shmem = false;
        // The current depth-1 node's `reg` (one base/size pair, two cells
        // each: the root's #address-cells and #size-cells on `virt` and in
        // Aerie's trees) and whether it is a virtio-mmio transport; the
        // properties may come in either order, so it is recorded at its end.
        let mut reg: Option<(u64, u64)> = None;
        let mut is_virtio = false;
        fdt.walk(|event| match event {
            Event::BeginNode { name, depth: 1 } => {
                top = name;
                reg = None;
                is_virtio = false;
            }
            Event::EndNode { depth: 1 } => {
                if let (true, Some(window)) = (is_virtio, reg) {
                    if machine.virtio_count < MAX_VIRTIO {
                        machine.virtio[machine.virtio_count] = window;
                        machine.virtio_count += 1;
                    }
                }
            }
            Event::Property {
                name: b"reg",
                value,
                depth: 1,
            } if value.len() == 16 => {
                reg = cells_value(&value[..8]).zip(cells_value(&value[8..]));
            }
            Event::Property {
                name: b"model",
                value,
                depth: 0,
            } => machine.aerie = value.split(|&b| b == 0).next() == Some(AERIE_MODEL),
            Event::BeginNode { name, depth: 2 } if top == b"cpus" && name.starts_with(b"cpu@") => {
                in_cpu = Some(machine.cpus);
                machine.cpus += 1;
            }
            Event::BeginNode { name, depth: 2 } if top == b"cpus" && name == b"idle-states" => {
                in_idle_states = true;
            }
            Event::BeginNode { name, depth: 2 }
                if top == b"reserved-memory" && name.starts_with(b"scmi-shmem@") =>
            {
                in_scmi_shmem = true;
            }
            Event::EndNode { depth: 2 } => {
                in_cpu = None;
                in_idle_states = false;
                in_scmi_shmem = false;
            }
            Event::Property {
                name: b"reg",
                value,
                depth: 2,
            } if in_scmi_shmem && value.len() == 16 => {
                machine.scmi_shmem = cells_value(&value[..8]);
            }
            Event::Property {
                name: b"arm,smc-id",
                value,
                depth: 2,
            } if top == b"firmware" => machine.scmi_smc_id = cells_value(value).map(|v| v as u32),
            Event::Property {
                name: b"arm,psci-suspend-param",
                value,
                depth: 3,
            } if in_idle_states && machine.idle_count < MAX_IDLE_STATES => {
                if let Some(param) = cells_value(value) {
                    machine.idle_params[machine.idle_count] = param as u32;
                    machine.idle_count += 1;
                }
            }
            Event::Property {
                name: b"reg",
                value,
                depth: 2,
            } => {
                if let Some(index) = in_cpu.filter(|&i| i < MAX_CPUS) {
                    machine.mpidrs[index] = cells_value(value).unwrap_or(index as u64);
                }
            }
            Event::Property {
                name: b"bootargs",
                value,
                depth: 1,
            } if top == b"chosen" => {
                let text = value.split(|&b| b == 0).next().unwrap_or(b"");
                machine.bootargs = core::str::from_utf8(text).unwrap_or("");
            }
            Event::Property {
                name: b"compatible",
                value,
                depth: 1,
            } => {
                let mut compatible = value.split(|&b| b == 0);
                if compatible.clone().any(|c| c == b"arm,gic-v3") {
                    machine.gic_v3 = true;
                }
                if compatible
                    .clone()
                    .any(|c| c == b"arm,cortex-a15-gic" || c == b"arm,gic-400")
                {
                    machine.gic_v2 = true;
                }
                if compatible.any(|c| c == b"virtio,mmio") {
                    is_virtio = true;
                }
            }
            _ => {}
        })?;
        if machine.cpus == 0 {
            machine.cpus = 1;
        }
        Ok(machine)
    }
}
