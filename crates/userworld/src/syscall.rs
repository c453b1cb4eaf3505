//! Serving a user world's system calls ([`crate::abi`]): pure logic over a
//! [`Kernel`] that the hypervisor implements on real memory and the tests
//! fake. Nothing a world passes can make this fail other than by an error
//! result: every buffer goes through the kernel's own access check.

use crate::abi::{err, nr, vm_op, VmInfo, SLEEP_MAX_NS};
use alloc::sync::Arc;

/// The most bytes one `write` may carry: a console line, not a bulk channel.
pub const WRITE_MAX: u64 = 4096;

/// What a system call needs from the kernel.
pub trait Kernel {
    /// The world's bytes at `[va, va + len)` if it may read all of them.
    fn user_read(&self, va: u64, len: u64) -> Option<&[u8]>;
    /// The world's bytes at `[va, va + len)` if it may write all of them.
    fn user_write(&mut self, va: u64, len: u64) -> Option<&mut [u8]>;
    /// Print `bytes` for the world on Aerie's console.
    fn console(&self, bytes: &[u8]);
    /// The world's argument string, shared rather than borrowed so that
    /// the call can write it into the world's memory without a copy.
    fn arg(&self) -> Arc<str>;
    /// Nanoseconds since Aerie started.
    fn now_ns(&self) -> u64;
    /// VM `index`'s record, if there is such a VM.
    fn vm_info(&self, index: u64) -> Option<VmInfo>;
    /// Do `op` to VM `index`; the errors are `vm_control`'s
    /// ([`crate::abi::nr::VM_CONTROL`]).
    fn vm_control(&mut self, index: u64, op: VmOp) -> Result<(), i64>;
    /// How many times any VM's state has changed (from 1).
    fn vm_state_changes(&self) -> u64;
    /// The console line waiting for this world, taken.
    fn input_line(&mut self) -> Option<alloc::string::String>;
}

/// What `vm_control` asks of a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmOp {
    Stop,
    Reset,
    Start,
    /// Through the guest's tools: a clean shutdown.
    Halt,
    /// Through the guest's tools: a clean restart.
    Reboot,
    /// The VM's power button: the guest's own power key handling.
    PowerButton,
}

impl VmOp {
    const ALL: [VmOp; 6] = [
        VmOp::Stop,
        VmOp::Reset,
        VmOp::Start,
        VmOp::Halt,
        VmOp::Reboot,
        VmOp::PowerButton,
    ];

    /// Its number in the ABI ([`vm_op`]), which is also its bit in a
    /// world's operations (`aerie_bootmodule::Operations`).
    pub fn number(self) -> u64 {
        match self {
            VmOp::Stop => vm_op::STOP,
            VmOp::Reset => vm_op::RESET,
            VmOp::Start => vm_op::START,
            VmOp::Halt => vm_op::HALT,
            VmOp::Reboot => vm_op::REBOOT,
            VmOp::PowerButton => vm_op::POWER_BUTTON,
        }
    }
}

/// What the world asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Resume the world with this value in x0.
    Return(i64),
    /// The world ended itself with this status.
    Exit(i64),
    /// Resume the world with 0 in x0 once this many nanoseconds have passed.
    Sleep(u64),
    /// Resume the world once the count of VM state changes is no longer
    /// `seen` (x0 = the new count), or after `timeout_ns` (x0 = ETIMEDOUT).
    WaitVm { seen: u64, timeout_ns: u64 },
    /// Wait for a console line, or `timeout_ns` (x0 = ETIMEDOUT). When the
    /// line comes the call is made again, and [`Kernel::input_line`] has it.
    WaitInput { timeout_ns: u64 },
}

/// Serve system call `number` with arguments `args` (x0..x5).
pub fn dispatch(kernel: &mut impl Kernel, number: u64, args: [u64; 6]) -> Outcome {
    let [a0, a1, a2, ..] = args;
    Outcome::Return(match number {
        nr::EXIT => return Outcome::Exit(a0 as i64),
        nr::SLEEP if a0 <= SLEEP_MAX_NS => return Outcome::Sleep(a0),
        nr::SLEEP => err::EINVAL,
        nr::VM_INFO => vm_info(kernel, a0, a1, a2),
        nr::VM_CONTROL => vm_control(kernel, a0, a1),
        nr::VM_WAIT if a1 > SLEEP_MAX_NS => err::EINVAL,
        nr::VM_WAIT => match kernel.vm_state_changes() {
            now if now != a0 => now as i64,
            _ => {
                return Outcome::WaitVm {
                    seen: a0,
                    timeout_ns: a1,
                }
            }
        },
        nr::READ_LINE if a2 > SLEEP_MAX_NS => err::EINVAL,
        nr::READ_LINE => match kernel.input_line() {
            Some(line) => read_line(kernel, &line, a0, a1),
            None => return Outcome::WaitInput { timeout_ns: a2 },
        },
        nr::WRITE => write(kernel, a0, a1),
        nr::ARG => arg(kernel, a0, a1),
        nr::CLOCK => kernel.now_ns() as i64,
        nr::NULL => 0,
        _ => err::ENOSYS,
    })
}

fn write(kernel: &impl Kernel, buf: u64, len: u64) -> i64 {
    if len > WRITE_MAX {
        return err::EINVAL;
    }
    let Some(bytes) = kernel.user_read(buf, len) else {
        return err::EFAULT;
    };
    kernel.console(bytes);
    len as i64
}

fn read_line(kernel: &mut impl Kernel, line: &str, buf: u64, len: u64) -> i64 {
    let n = (line.len() as u64).min(len);
    let Some(dst) = kernel.user_write(buf, n) else {
        return err::EFAULT;
    };
    dst.copy_from_slice(&line.as_bytes()[..n as usize]);
    n as i64
}

fn arg(kernel: &mut impl Kernel, buf: u64, len: u64) -> i64 {
    let arg = kernel.arg();
    let arg = arg.as_bytes();
    let n = (arg.len() as u64).min(len);
    let Some(dst) = kernel.user_write(buf, n) else {
        return err::EFAULT;
    };
    dst.copy_from_slice(&arg[..n as usize]);
    arg.len() as i64
}

fn vm_control(kernel: &mut impl Kernel, index: u64, op: u64) -> i64 {
    let Some(&op) = VmOp::ALL.iter().find(|o| o.number() == op) else {
        return err::EINVAL;
    };
    match kernel.vm_control(index, op) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

fn vm_info(kernel: &mut impl Kernel, index: u64, buf: u64, len: u64) -> i64 {
    if len < VmInfo::SIZE as u64 {
        return err::EINVAL;
    }
    let Some(info) = kernel.vm_info(index) else {
        return err::ENOENT;
    };
    let Some(dst) = kernel.user_write(buf, VmInfo::SIZE as u64) else {
        return err::EFAULT;
    };
    dst.copy_from_slice(&info.encode());
    VmInfo::SIZE as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum FakeVm {
        Running,
        Changing,
        Stopped,
    }

    /// One readable page at 0x1000, one writable at 0x2000.
    struct Fake {
        ro: Vec<u8>,
        rw: Vec<u8>,
        out: std::cell::RefCell<Vec<u8>>,
        arg: &'static str,
        /// VM 0's life, as the ops see it.
        vm: FakeVm,
        controls: Vec<VmOp>,
        /// Console lines waiting for the world.
        lines: std::collections::VecDeque<alloc::string::String>,
    }

    impl Fake {
        fn new(arg: &'static str) -> Self {
            Fake {
                ro: (0..4096).map(|i| i as u8).collect(),
                rw: vec![0; 4096],
                out: Default::default(),
                arg,
                vm: FakeVm::Running,
                controls: Vec::new(),
                lines: Default::default(),
            }
        }
    }

    fn slice(base: u64, mem_len: usize, va: u64, len: u64) -> Option<(usize, usize)> {
        let start = va.checked_sub(base)?;
        let end = start.checked_add(len)?;
        (end <= mem_len as u64).then_some((start as usize, end as usize))
    }

    impl Kernel for Fake {
        fn user_read(&self, va: u64, len: u64) -> Option<&[u8]> {
            if let Some((s, e)) = slice(0x1000, self.ro.len(), va, len) {
                return Some(&self.ro[s..e]);
            }
            slice(0x2000, self.rw.len(), va, len).map(|(s, e)| &self.rw[s..e])
        }
        fn user_write(&mut self, va: u64, len: u64) -> Option<&mut [u8]> {
            slice(0x2000, self.rw.len(), va, len).map(|(s, e)| &mut self.rw[s..e])
        }
        fn console(&self, bytes: &[u8]) {
            self.out.borrow_mut().extend_from_slice(bytes)
        }
        fn arg(&self) -> Arc<str> {
            Arc::from(self.arg)
        }
        fn now_ns(&self) -> u64 {
            123
        }
        fn vm_control(&mut self, index: u64, op: VmOp) -> Result<(), i64> {
            if index != 0 {
                return Err(err::ENOENT);
            }
            self.vm = match (self.vm, op) {
                (FakeVm::Running, VmOp::Stop) => FakeVm::Stopped,
                // Resetting, then running again (not yet).
                (FakeVm::Running, VmOp::Reset) => FakeVm::Changing,
                (FakeVm::Stopped, VmOp::Start) => FakeVm::Running,
                // No tools in the fake VM.
                (FakeVm::Running, VmOp::Halt | VmOp::Reboot) => return Err(err::ENOTCONN),
                (FakeVm::Running, VmOp::PowerButton) => FakeVm::Running,
                _ => return Err(err::EBUSY),
            };
            self.controls.push(op);
            Ok(())
        }
        fn vm_state_changes(&self) -> u64 {
            7
        }
        fn input_line(&mut self) -> Option<alloc::string::String> {
            self.lines.pop_front()
        }
        fn vm_info(&self, index: u64) -> Option<VmInfo> {
            (index == 0).then(|| VmInfo {
                name: VmInfo::name_field("testkit"),
                state: crate::abi::VmState::Running,
                vcpus: 2,
                vcpus_running: 1,
                vcpus_idle: 1,
                ram_mib: 128,
                cpu_ms: 5,
                stolen_ms: VmInfo::NOT_COUNTED,
            })
        }
    }

    fn call(k: &mut Fake, number: u64, a0: u64, a1: u64) -> Outcome {
        dispatch(k, number, [a0, a1, 0, 0, 0, 0])
    }

    #[test]
    fn read_line_takes_a_waiting_line_or_waits_for_one() {
        let mut k = Fake::new("");
        let read = |k: &mut Fake, buf, len, timeout| {
            dispatch(k, nr::READ_LINE, [buf, len, timeout, 0, 0, 0])
        };
        // Nothing typed yet: the world waits, up to a minute.
        assert_eq!(
            read(&mut k, 0x2000, 64, 5),
            Outcome::WaitInput { timeout_ns: 5 }
        );
        assert_eq!(
            read(&mut k, 0x2000, 64, SLEEP_MAX_NS + 1),
            Outcome::Return(err::EINVAL)
        );
        // A line: copied, its length returned; a short buffer cuts it.
        k.lines.push_back("list".into());
        k.lines.push_back("stop testkit".into());
        assert_eq!(read(&mut k, 0x2000, 64, 0), Outcome::Return(4));
        assert_eq!(&k.rw[..4], b"list");
        assert_eq!(read(&mut k, 0x2100, 4, 0), Outcome::Return(4));
        assert_eq!(&k.rw[0x100..0x105], b"stop\0");
        // A buffer the world may not write: EFAULT (the line is gone).
        k.lines.push_back("x".into());
        assert_eq!(read(&mut k, 0x1000, 64, 0), Outcome::Return(err::EFAULT));
        assert_eq!(k.lines.len(), 0);
    }

    #[test]
    fn sleep_asks_the_kernel_to_wait_up_to_a_minute() {
        let mut k = Fake::new("");
        assert_eq!(call(&mut k, nr::SLEEP, 0, 0), Outcome::Sleep(0));
        assert_eq!(
            call(&mut k, nr::SLEEP, SLEEP_MAX_NS, 0),
            Outcome::Sleep(SLEEP_MAX_NS)
        );
        for ns in [SLEEP_MAX_NS + 1, u64::MAX] {
            assert_eq!(call(&mut k, nr::SLEEP, ns, 0), Outcome::Return(err::EINVAL));
        }
    }

    #[test]
    fn vm_control_stops_resets_or_starts_a_vm_in_the_right_state() {
        let mut k = Fake::new("");
        assert_eq!(
            call(&mut k, nr::VM_CONTROL, 0, 6),
            Outcome::Return(err::EINVAL)
        );
        assert_eq!(
            call(&mut k, nr::VM_CONTROL, 0, u64::MAX),
            Outcome::Return(err::EINVAL)
        );
        assert_eq!(
            call(&mut k, nr::VM_CONTROL, 1, vm_op::STOP),
            Outcome::Return(err::ENOENT)
        );
        assert!(k.controls.is_empty(), "nothing asked of a VM yet");
        assert_eq!(
            call(&mut k, nr::VM_CONTROL, 0, vm_op::RESET),
            Outcome::Return(0)
        );
        assert_eq!(
            call(&mut k, nr::VM_CONTROL, 0, vm_op::STOP),
            Outcome::Return(err::EBUSY)
        );
        assert_eq!(k.controls, [VmOp::Reset]);
        let mut k = Fake::new("");
        for (op, want) in [
            (vm_op::START, err::EBUSY),
            (vm_op::HALT, err::ENOTCONN),
            (vm_op::REBOOT, err::ENOTCONN),
            (vm_op::POWER_BUTTON, 0),
            (vm_op::STOP, 0),
            (vm_op::HALT, err::EBUSY),
            (vm_op::POWER_BUTTON, err::EBUSY),
            (vm_op::STOP, err::EBUSY),
            (vm_op::RESET, err::EBUSY),
            (vm_op::START, 0),
        ] {
            assert_eq!(call(&mut k, nr::VM_CONTROL, 0, op), Outcome::Return(want));
        }
        assert_eq!(k.controls, [VmOp::PowerButton, VmOp::Stop, VmOp::Start]);
    }

    #[test]
    fn vm_wait_returns_at_once_unless_nothing_changed() {
        let mut k = Fake::new("");
        let wait = |k: &mut Fake, seen, ns| dispatch(k, nr::VM_WAIT, [seen, ns, 0, 0, 0, 0]);
        assert_eq!(
            wait(&mut k, 0, 0),
            Outcome::Return(7),
            "0 asks for the count"
        );
        assert_eq!(wait(&mut k, 3, 1000), Outcome::Return(7));
        assert_eq!(
            wait(&mut k, 7, SLEEP_MAX_NS),
            Outcome::WaitVm {
                seen: 7,
                timeout_ns: SLEEP_MAX_NS
            }
        );
        assert_eq!(
            wait(&mut k, 7, SLEEP_MAX_NS + 1),
            Outcome::Return(err::EINVAL)
        );
    }

    #[test]
    fn vm_info_writes_a_record_or_says_why_not() {
        let mut k = Fake::new("");
        let info =
            |k: &mut Fake, index, buf, len| dispatch(k, nr::VM_INFO, [index, buf, len, 0, 0, 0]);
        assert_eq!(info(&mut k, 0, 0x2010, 64), Outcome::Return(64));
        let record = VmInfo::decode(&k.rw[0x10..0x50]).unwrap();
        assert_eq!(
            (record.name(), record.vcpus, record.ram_mib),
            ("testkit", 2, 128)
        );
        assert_eq!(k.rw[0x50], 0, "nothing past the record");
        // Past the last VM, a short buffer, a read-only or foreign one.
        assert_eq!(info(&mut k, 1, 0x2000, 64), Outcome::Return(err::ENOENT));
        assert_eq!(
            info(&mut k, u64::MAX, 0x2000, 64),
            Outcome::Return(err::ENOENT)
        );
        assert_eq!(info(&mut k, 0, 0x2000, 63), Outcome::Return(err::EINVAL));
        assert_eq!(info(&mut k, 0, 0x1000, 64), Outcome::Return(err::EFAULT));
        assert_eq!(info(&mut k, 0, 0x2fc1, 64), Outcome::Return(err::EFAULT));
        assert_eq!(
            info(&mut k, 0, 0x8000_0000_0000, 64),
            Outcome::Return(err::EFAULT)
        );
        assert_eq!(k.ro[0], 0);
    }

    #[test]
    fn write_prints_readable_bytes_and_returns_the_length() {
        let mut k = Fake::new("");
        assert_eq!(call(&mut k, nr::WRITE, 0x1010, 4), Outcome::Return(4));
        assert_eq!(*k.out.borrow(), [0x10, 0x11, 0x12, 0x13]);
        assert_eq!(call(&mut k, nr::WRITE, 0x2000, 0), Outcome::Return(0));
    }

    #[test]
    fn write_refuses_what_the_world_may_not_read() {
        let mut k = Fake::new("");
        for (va, len) in [
            (0x8000_0000_0000, 16),
            (0x3000, 1),
            (0x1ff0, 0x20),
            (u64::MAX, 2),
        ] {
            assert_eq!(
                call(&mut k, nr::WRITE, va, len),
                Outcome::Return(err::EFAULT)
            );
        }
        assert_eq!(
            call(&mut k, nr::WRITE, 0x1000, 1 << 40),
            Outcome::Return(err::EINVAL)
        );
        assert!(k.out.borrow().is_empty());
    }

    #[test]
    fn arg_copies_what_fits_and_returns_the_full_length() {
        let mut k = Fake::new("kernel-read");
        assert_eq!(call(&mut k, nr::ARG, 0x2000, 6), Outcome::Return(11));
        assert_eq!(&k.rw[..7], b"kernel\0");
        assert_eq!(call(&mut k, nr::ARG, 0x2100, 64), Outcome::Return(11));
        assert_eq!(&k.rw[0x100..0x10b], b"kernel-read");
    }

    #[test]
    fn a_long_argument_is_copied_whole() {
        let long: &'static str = Box::leak("a".repeat(300).into_boxed_str());
        let mut k = Fake::new(long);
        assert_eq!(call(&mut k, nr::ARG, 0x2000, 4096), Outcome::Return(300));
        assert_eq!(&k.rw[..301], [&[b'a'; 300][..], &[0]].concat());
    }

    #[test]
    fn arg_refuses_a_read_only_or_foreign_buffer() {
        let mut k = Fake::new("x");
        assert_eq!(
            call(&mut k, nr::ARG, 0x1000, 8),
            Outcome::Return(err::EFAULT)
        );
        assert_eq!(
            call(&mut k, nr::ARG, 0x8000_0000_0000, 8),
            Outcome::Return(err::EFAULT)
        );
        assert_eq!(k.ro[0], 0);
    }

    #[test]
    fn exit_clock_null_and_unknown_calls() {
        let mut k = Fake::new("");
        assert_eq!(call(&mut k, nr::EXIT, (-3i64) as u64, 0), Outcome::Exit(-3));
        assert_eq!(call(&mut k, nr::CLOCK, 0, 0), Outcome::Return(123));
        assert_eq!(call(&mut k, nr::NULL, 7, 7), Outcome::Return(0));
        assert_eq!(call(&mut k, 999, 0, 0), Outcome::Return(err::ENOSYS));
        assert_eq!(call(&mut k, u64::MAX, 0, 0), Outcome::Return(err::ENOSYS));
    }
}
