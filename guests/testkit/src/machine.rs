//! What the testkit learns about its VM from the device tree.

use crate::fdt::{cells_value, Event, Fdt, FdtError};

/// CPUs the testkit tracks (and has secondary stacks for).
pub const MAX_CPUS: usize = 8;

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
}

impl Machine {
    /// The machine assumed without a DTB: one vCPU (MPIDR 0), empty bootargs.
    pub fn fallback() -> Self {
        Self {
            cpus: 1,
            mpidrs: [0; MAX_CPUS],
            bootargs: "",
            gic_v3: true,
        }
    }

    pub fn from_fdt(fdt: &Fdt<'static>) -> Result<Self, FdtError> {
        let mut machine = Self {
            cpus: 0,
            mpidrs: [0; MAX_CPUS],
            bootargs: "",
            gic_v3: false,
        };
        // Name of the current depth-1 node, and whether the current depth-2 node is a cpu.
        let mut top: &[u8] = b"";
        let mut in_cpu: Option<usize> = None;
        fdt.walk(|event| match event {
            Event::BeginNode { name, depth: 1 } => top = name,
            Event::BeginNode { name, depth: 2 } if top == b"cpus" && name.starts_with(b"cpu@") => {
                in_cpu = Some(machine.cpus);
                machine.cpus += 1;
            }
            Event::EndNode { depth: 2 } => in_cpu = None,
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
            } if value.split(|&b| b == 0).any(|c| c == b"arm,gic-v3") => machine.gic_v3 = true,
            _ => {}
        })?;
        if machine.cpus == 0 {
            machine.cpus = 1;
        }
        Ok(machine)
    }
}
