//! What the programs that look at and control VMs share (`vmstat`, `vmctl`,
//! `shell`): finding a VM by index or name, naming `vm_control`'s
//! operations and results, and one line about a VM.

use crate::abi::{err, nr, vm_op, VmInfo};
use crate::{syscall, vm_info};

/// The index and record of the VM `vm` names: its index, or its name.
pub fn find(vm: &str) -> Option<(u64, VmInfo)> {
    if let Ok(index) = vm.parse::<u64>() {
        return vm_info(index).ok().map(|info| (index, info));
    }
    (0..)
        .map_while(|i| vm_info(i).ok().map(|info| (i, info)))
        .find(|(_, info)| info.name() == vm)
}

/// `vm_control`'s operation called `name` (`stop`, `reset`, `start`,
/// `halt`, `reboot`).
pub fn op(name: &str) -> Option<u64> {
    Some(match name {
        "stop" => vm_op::STOP,
        "reset" => vm_op::RESET,
        "start" => vm_op::START,
        "halt" => vm_op::HALT,
        "reboot" => vm_op::REBOOT,
        "button" => vm_op::POWER_BUTTON,
        _ => return None,
    })
}

/// Do `op` (called `op_name`) to VM `index`: what came of it, as a line
/// (`stop vm 0 (testkit): done`), and whether it was done.
pub fn control(index: u64, info: &VmInfo, op_name: &str, op: u64) -> (bool, alloc_free::Line) {
    // SAFETY: vm_control takes no memory.
    let result = unsafe { syscall(nr::VM_CONTROL, index, op) };
    let name = info.name();
    let why = match result {
        0 => {
            return (
                true,
                alloc_free::line(format_args!("{op_name} vm {index} ({name}): done")),
            )
        }
        err::EBUSY if op == vm_op::START => "it is not stopped",
        err::EBUSY if matches!(op, vm_op::HALT | vm_op::REBOOT) => {
            "it is not running, or its tools are busy"
        }
        err::EBUSY if op == vm_op::POWER_BUTTON => {
            "it is not running, or its button is still held (the guest has not read it)"
        }
        err::EBUSY => "it is not running",
        err::ENOMEM => "no memory for it",
        err::EPERM => "this world may not control this VM",
        err::ENOTCONN => "no guest tools to ask",
        e => {
            return (
                false,
                alloc_free::line(format_args!("{op_name} vm {index}: error {e}")),
            )
        }
    };
    (
        false,
        alloc_free::line(format_args!("{op_name} vm {index}: {why}")),
    )
}

/// One line about VM `index`: `vm 0 testkit: running, 2 vCPUs (1 on a
/// pCPU, 1 idle), 64 MiB, 120 ms of CPU`, and where its guest reads stolen
/// time, `, 8 ms stolen`.
pub fn describe(index: u64, vm: &VmInfo) -> alloc_free::Line {
    let (stolen, sep) = match vm.stolen_ms {
        VmInfo::NOT_COUNTED => (None, ""),
        ms => (Some(ms), ", "),
    };
    alloc_free::line(format_args!(
        "vm {index} {}: {}, {} vCPUs ({} on a pCPU, {} idle), {} MiB, {} ms of CPU{sep}{}",
        vm.name(),
        vm.state.name(),
        vm.vcpus,
        vm.vcpus_running,
        vm.vcpus_idle,
        vm.ram_mib,
        vm.cpu_ms,
        Stolen(stolen),
    ))
}

/// `N ms stolen`, or nothing.
struct Stolen(Option<u32>);

impl core::fmt::Display for Stolen {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(ms) => write!(f, "{ms} ms stolen"),
            None => Ok(()),
        }
    }
}

/// Formatted text without a heap: user worlds have none.
pub mod alloc_free {
    use core::fmt::{self, Write};

    /// A line of at most 200 bytes (the rest is cut).
    pub struct Line {
        buf: [u8; 200],
        len: usize,
    }

    impl Line {
        pub fn as_str(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
        }
    }

    impl fmt::Display for Line {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.as_str())
        }
    }

    impl Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                let mut b = [0u8; 4];
                let bytes = c.encode_utf8(&mut b).as_bytes();
                if self.len + bytes.len() > self.buf.len() {
                    break;
                }
                self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
                self.len += bytes.len();
            }
            Ok(())
        }
    }

    /// `args` formatted into a [`Line`].
    pub fn line(args: fmt::Arguments) -> Line {
        let mut l = Line {
            buf: [0; 200],
            len: 0,
        };
        let _ = l.write_fmt(args);
        l
    }
}
