//! The system-call ABI. A user world calls `svc #0` with the call number in
//! x8 and its arguments in x0..x5; the result comes back in x0, a negative
//! value being an error from [`err`]. Every other register is preserved.

/// System-call numbers (x8).
pub mod nr {
    /// `exit(status)`: the world ends; Aerie logs its status. Never returns.
    pub const EXIT: u64 = 0;
    /// `write(buf, len)`: write bytes to Aerie's console (a line prefixed
    /// with the world's name). Returns `len`, or `EFAULT` for a buffer the
    /// world may not read.
    pub const WRITE: u64 = 1;
    /// `arg(buf, len)`: copy the world's argument string (from the boot
    /// command line) to `buf`, at most `len` bytes. Returns the argument's
    /// full length, or `EFAULT` for a buffer the world may not write.
    pub const ARG: u64 = 2;
    /// `clock()`: nanoseconds since Aerie started.
    pub const CLOCK: u64 = 3;
    /// `null()`: returns 0 at once (the round-trip benchmark).
    pub const NULL: u64 = 4;
    /// `sleep(ns)`: the world gives up its pCPU for at least `ns`
    /// nanoseconds (at most [`super::SLEEP_MAX_NS`], else `EINVAL`); VMs
    /// and other worlds run meanwhile. Returns 0.
    pub const SLEEP: u64 = 5;
    /// `vm_info(index, buf, len)`: write the [`super::VmInfo`] record of VM
    /// `index` (0, 1, ... in the order Aerie created them) to `buf`.
    /// Returns the record's size, `ENOENT` past the last VM, `EINVAL` if
    /// `len` is smaller than a record, `EFAULT` for a buffer the world may
    /// not write.
    pub const VM_INFO: u64 = 6;
    /// `vm_control(index, op)`: power VM `index` off ([`super::vm_op::STOP`])
    /// or reset it ([`super::vm_op::RESET`]), as if its guest had called
    /// PSCI SYSTEM_OFF or SYSTEM_RESET, boot a stopped one again
    /// ([`super::vm_op::START`]), ask its guest tools for a clean
    /// shutdown or restart ([`super::vm_op::HALT`], [`super::vm_op::REBOOT`]),
    /// or press its power button ([`super::vm_op::POWER_BUTTON`]).
    /// Returns 0 once it is under way (asked, for the tools; pressed, for
    /// the button), `ENOENT` past the last VM, `EINVAL` for another op,
    /// `EBUSY` if the VM is not running (stop, reset, halt, reboot, power
    /// button) or not stopped (start), its tools have not answered their
    /// last command, or its button is still held from a press the guest has
    /// not read, `ENOMEM` if a start
    /// finds no memory for it, `ENOTCONN` if the VM has no tools to ask,
    /// `EPERM` if this world may not control this VM (a config world
    /// without `control = true`, or whose `control` list does not name it).
    pub const VM_CONTROL: u64 = 7;
    /// `vm_wait(seen, timeout_ns)`: wait until some VM's state has changed.
    /// Aerie counts the changes of every VM's state; if its count is not
    /// `seen`, this returns the count at once, else the world sleeps until
    /// it changes (and returns the new count) or `timeout_ns` passes
    /// (`ETIMEDOUT`; at most [`super::SLEEP_MAX_NS`], else `EINVAL`). Call it
    /// with `seen = 0` for the current count.
    pub const VM_WAIT: u64 = 8;
    /// `read_line(buf, len, timeout_ns)`: take the next line typed on
    /// Aerie's console for the user worlds (`Ctrl-A w` gives them the
    /// keyboard), without its end of line, into `buf` (at most `len` bytes;
    /// the rest of a longer line is dropped). Returns the bytes copied; with
    /// no line yet, the world waits for one, or until `timeout_ns` passes
    /// (`ETIMEDOUT`; at most [`super::SLEEP_MAX_NS`], else `EINVAL`). The
    /// worlds waiting take the lines in turn, the longest waiting first.
    /// `EFAULT` for a buffer the world may not write (the line is lost).
    pub const READ_LINE: u64 = 9;
}

/// `vm_control` operations.
pub mod vm_op {
    /// Power the VM off: its vCPUs stop and its memory is freed.
    pub const STOP: u64 = 0;
    /// Reset the VM: its vCPUs stop and it boots again from its images.
    pub const RESET: u64 = 1;
    /// Boot a stopped VM again from its images, with fresh memory.
    pub const START: u64 = 2;
    /// Ask the guest's tools (open-vm-tools' vmtoolsd, over the backdoor)
    /// for a clean shutdown, as `Ctrl-A h` does.
    pub const HALT: u64 = 3;
    /// Ask the guest's tools for a clean restart, as `Ctrl-A r` does.
    pub const REBOOT: u64 = 4;
    /// Press the VM's power button (gpio-keys' KEY_POWER on its PL061), as
    /// `Ctrl-A b` does: a guest that handles the key shuts down cleanly,
    /// no tools needed.
    pub const POWER_BUTTON: u64 = 5;
}

/// The longest `sleep`: one minute.
pub const SLEEP_MAX_NS: u64 = 60_000_000_000;

/// Error results, as negative numbers in x0 (the Linux values, so they read
/// familiarly in a register dump).
pub mod err {
    /// Not allowed (a world without the right to control VMs).
    pub const EPERM: i64 = -1;
    /// No such object (a VM index past the last VM).
    pub const ENOENT: i64 = -2;
    /// Out of memory (a VM that cannot get its RAM back).
    pub const ENOMEM: i64 = -12;
    /// Nobody to talk to (a VM whose guest tools have not answered).
    pub const ENOTCONN: i64 = -107;
    /// A wait ran out of time.
    pub const ETIMEDOUT: i64 = -110;
    /// The object is not in a state that allows it (a VM not running).
    pub const EBUSY: i64 = -16;
    /// A buffer the world may not access.
    pub const EFAULT: i64 = -14;
    /// An argument out of range.
    pub const EINVAL: i64 = -22;
    /// No such system call.
    pub const ENOSYS: i64 = -38;
}

/// What a world learns about a VM from `vm_info`: a fixed 64-byte record,
/// little-endian, so that programs and kernel agree without sharing a Rust
/// type layout.
///
/// | bytes | field |
/// |---|---|
/// | 0..32 | name, UTF-8, NUL-padded (cut at 32 bytes) |
/// | 32..36 | [`VmState`] |
/// | 36..40 | vCPUs |
/// | 40..44 | vCPUs on a pCPU now |
/// | 44..48 | vCPUs idle (blocked in WFI or a PSCI suspend) |
/// | 48..52 | RAM in MiB |
/// | 52..56 | CPU time its vCPUs have used, in ms (since Aerie started) |
/// | 56..60 | time its vCPUs waited, ready, for a pCPU, in ms (since the VM started; [`VmInfo::NOT_COUNTED`] where its guest does not read stolen time, when Aerie does not count it) |
/// | 60..64 | zero (reserved) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmInfo {
    pub name: [u8; VmInfo::NAME_MAX],
    pub state: VmState,
    pub vcpus: u32,
    pub vcpus_running: u32,
    pub vcpus_idle: u32,
    pub ram_mib: u32,
    pub cpu_ms: u32,
    pub stolen_ms: u32,
}

/// A VM's life, as `vm_info` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmState {
    Running = 0,
    /// Powering off: its vCPUs are leaving their pCPUs.
    Stopping = 1,
    /// Resetting (PSCI SYSTEM_RESET): its images are being reloaded.
    Resetting = 2,
    Stopped = 3,
}

impl VmState {
    pub fn name(self) -> &'static str {
        match self {
            VmState::Running => "running",
            VmState::Stopping => "stopping",
            VmState::Resetting => "resetting",
            VmState::Stopped => "stopped",
        }
    }

    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => VmState::Running,
            1 => VmState::Stopping,
            2 => VmState::Resetting,
            3 => VmState::Stopped,
            _ => return None,
        })
    }
}

impl VmInfo {
    /// The record's size in bytes.
    pub const SIZE: usize = 64;
    /// The longest name a record carries.
    pub const NAME_MAX: usize = 32;
    /// `stolen_ms` where it is not counted.
    pub const NOT_COUNTED: u32 = u32::MAX;

    /// `name` as a record's name field: its first 32 bytes (a cut never
    /// splits a character), the rest NUL.
    pub fn name_field(name: &str) -> [u8; Self::NAME_MAX] {
        let mut end = name.len().min(Self::NAME_MAX);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut field = [0; Self::NAME_MAX];
        field[..end].copy_from_slice(&name.as_bytes()[..end]);
        field
    }

    /// The name, up to its first NUL.
    pub fn name(&self) -> &str {
        let len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(Self::NAME_MAX);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0; Self::SIZE];
        out[..32].copy_from_slice(&self.name);
        let words = [
            self.state as u32,
            self.vcpus,
            self.vcpus_running,
            self.vcpus_idle,
            self.ram_mib,
            self.cpu_ms,
            self.stolen_ms,
        ];
        for (i, w) in words.iter().enumerate() {
            out[32 + 4 * i..36 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// A record as `encode` wrote it; None for a short buffer or an
    /// unknown state.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes = bytes.get(..Self::SIZE)?;
        let word = |i: usize| {
            let at = 32 + 4 * i;
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut name = [0; Self::NAME_MAX];
        name.copy_from_slice(&bytes[..32]);
        Some(VmInfo {
            name,
            state: VmState::from_u32(word(0))?,
            vcpus: word(1),
            vcpus_running: word(2),
            vcpus_idle: word(3),
            ram_mib: word(4),
            cpu_ms: word(5),
            stolen_ms: word(6),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> VmInfo {
        VmInfo {
            name: VmInfo::name_field(name),
            state: VmState::Stopping,
            vcpus: 4,
            vcpus_running: 1,
            vcpus_idle: 2,
            ram_mib: 512,
            cpu_ms: 1234,
            stolen_ms: 56,
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let info = sample("linux");
        let bytes = info.encode();
        assert_eq!(&bytes[..6], b"linux\0");
        assert_eq!(&bytes[32..36], &1u32.to_le_bytes());
        assert_eq!(&bytes[48..52], &512u32.to_le_bytes());
        assert_eq!(&bytes[52..56], &1234u32.to_le_bytes());
        assert_eq!(&bytes[56..60], &56u32.to_le_bytes());
        assert!(bytes[60..].iter().all(|&b| b == 0));
        let back = VmInfo::decode(&bytes).unwrap();
        assert_eq!(back, info);
        assert_eq!(back.name(), "linux");
        assert_eq!(back.state.name(), "stopping");
    }

    #[test]
    fn a_long_name_is_cut_on_a_character_boundary() {
        let name = "a".repeat(31) + "é";
        let info = sample(&name);
        assert_eq!(info.name(), "a".repeat(31));
        assert_eq!(sample(&"b".repeat(40)).name(), "b".repeat(32));
    }

    #[test]
    fn short_or_unknown_records_are_refused() {
        let mut bytes = sample("x").encode();
        assert_eq!(VmInfo::decode(&bytes[..63]), None);
        bytes[32] = 4;
        assert_eq!(VmInfo::decode(&bytes), None);
    }
}
