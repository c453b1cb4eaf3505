//! The runtime of Aerie's user worlds: the entry point, safe wrappers for the
//! system calls (`aerie_userworld::abi`), `print!`/`println!` and a panic
//! handler. A program is a `src/bin/*.rs` file that names its `main` with
//! [`entry!`]:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! aerie_userworlds::entry!(main);
//!
//! fn main(arg: &str) -> i32 {
//!     aerie_userworlds::println!("hello, {arg}");
//!     0
//! }
//! ```
#![no_std]

use core::arch::{asm, global_asm};
use core::fmt::{self, Write};

pub use aerie_userworld::{abi, layout};

pub mod vms;

use abi::nr;

// Aerie enters here with sp = layout::STACK_TOP (16-byte aligned) and every
// other register zero, so x29 = x30 = 0 already ends the frame chain; there
// is nothing to set up before Rust. `uw_start` is defined by `entry!`.
global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    ".type _start, %function",
    "_start:",
    "    bl uw_start",
    // uw_start never returns; should it, fault rather than run on.
    "    udf #0",
    ".size _start, . - _start",
);

/// Names the program's `fn main(arg: &str) -> i32`: `_start` calls it with the
/// world's argument and exits with its result.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn uw_start() -> ! {
            $crate::run($main)
        }
    };
}

/// The longest argument passed to `main`; a longer one is cut short.
const ARG_MAX: usize = 256;

/// Runs `main` with the world's argument, then exits with its result.
/// Called by the `uw_start` that [`entry!`] defines.
pub fn run(main: fn(&str) -> i32) -> ! {
    let mut buf = [0u8; ARG_MAX];
    // An error (negative) reads as no argument.
    let len = usize::try_from(arg(&mut buf)).unwrap_or(0).min(ARG_MAX);
    let bytes = &buf[..len];
    // Keep the valid UTF-8 prefix (also where a cut fell mid-character).
    let arg = match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    };
    exit(main(arg))
}

/// `svc #0` with call number `nr` and arguments `a0`, `a1`; returns x0.
///
/// # Safety
///
/// The call may write memory the arguments point to (`arg` writes its
/// buffer): they must describe memory the caller may have written.
pub unsafe fn syscall(nr: u64, a0: u64, a1: u64) -> i64 {
    // SAFETY: the caller's contract, with a third argument of 0.
    unsafe { syscall3(nr, a0, a1, 0) }
}

/// `svc #0` with call number `nr` and arguments `a0`..`a2`; returns x0.
///
/// # Safety
///
/// As for [`syscall`].
pub unsafe fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    let ret: i64;
    // SAFETY: the ABI preserves every register but x0, which is the output;
    // the kernel touches only the memory the arguments name (the caller's
    // contract) and never the stack.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") a0 => ret,
            in("x1") a1,
            in("x2") a2,
            in("x8") nr,
            options(nostack),
        );
    }
    ret
}

/// Ends the world with `status`.
pub fn exit(status: i32) -> ! {
    // SAFETY: exit takes no memory and does not return; the udf after it
    // faults should the kernel ever resume the world.
    unsafe {
        asm!(
            "svc #0",
            "udf #0",
            in("x0") i64::from(status),
            in("x8") nr::EXIT,
            options(noreturn, nostack),
        );
    }
}

/// Writes `bytes` to Aerie's console; returns the count or a negative error.
pub fn write(bytes: &[u8]) -> i64 {
    // SAFETY: write only reads the buffer, which `bytes` owns.
    unsafe { syscall(nr::WRITE, bytes.as_ptr() as u64, bytes.len() as u64) }
}

/// Copies the world's argument into `buf` (cut to its length); returns the
/// argument's full length or a negative error.
pub fn arg(buf: &mut [u8]) -> i64 {
    // SAFETY: arg writes at most `buf.len()` bytes of `buf`, which we borrow
    // mutably.
    unsafe { syscall(nr::ARG, buf.as_mut_ptr() as u64, buf.len() as u64) }
}

/// Nanoseconds since Aerie started.
pub fn clock() -> u64 {
    // SAFETY: clock takes no memory.
    unsafe { syscall(nr::CLOCK, 0, 0) as u64 }
}

/// The empty system call (the round-trip benchmark); returns 0.
pub fn null() -> i64 {
    // SAFETY: null takes no memory.
    unsafe { syscall(nr::NULL, 0, 0) }
}

/// Gives up the pCPU for at least `ns` nanoseconds (at most
/// `abi::SLEEP_MAX_NS`); returns 0 or a negative error.
pub fn sleep(ns: u64) -> i64 {
    // SAFETY: sleep takes no memory.
    unsafe { syscall(nr::SLEEP, ns, 0) }
}

/// Waits until some VM's state has changed since the count `seen` (0: not
/// at all, just tell the count), for at most `timeout_ns`: the new count,
/// or the negative error (`ETIMEDOUT`).
pub fn vm_wait(seen: u64, timeout_ns: u64) -> Result<u64, i64> {
    // SAFETY: vm_wait takes no memory.
    let ret = unsafe { syscall(nr::VM_WAIT, seen, timeout_ns) };
    u64::try_from(ret).map_err(|_| ret)
}

/// The next console line typed for the user worlds (`Ctrl-A w`), without its
/// end of line, into `buf` (cut to its length): the bytes copied, or the
/// negative error (`ETIMEDOUT` when none came within `timeout_ns`, at most
/// `abi::SLEEP_MAX_NS`).
pub fn read_line(buf: &mut [u8], timeout_ns: u64) -> Result<usize, i64> {
    // SAFETY: read_line writes at most `buf.len()` bytes of `buf`, which we
    // borrow mutably.
    let ret = unsafe {
        syscall3(
            nr::READ_LINE,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            timeout_ns,
        )
    };
    usize::try_from(ret).map_err(|_| ret)
}

/// VM `index`'s record, or the negative error (`ENOENT` past the last VM).
pub fn vm_info(index: u64) -> Result<abi::VmInfo, i64> {
    let mut buf = [0u8; abi::VmInfo::SIZE];
    // SAFETY: vm_info writes at most `buf.len()` bytes of `buf`, which we
    // own.
    let ret = unsafe {
        syscall3(
            nr::VM_INFO,
            index,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        )
    };
    if ret < 0 {
        return Err(ret);
    }
    abi::VmInfo::decode(&buf).ok_or(abi::err::EINVAL)
}

/// One `print!`'s output, written to the console in one call (Aerie prefixes
/// each line with the world's name, so a line should not be split).
struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    fn flush(&mut self) {
        if self.len > 0 {
            write(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Longer output than the buffer goes out in pieces.
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// `print!`'s implementation.
#[doc(hidden)]
pub fn print_fmt(args: fmt::Arguments) {
    let mut line = LineBuf {
        buf: [0; 256],
        len: 0,
    };
    // LineBuf never fails; a failing Display impl just cuts the output.
    let _ = line.write_fmt(args);
    line.flush();
}

/// Prints to Aerie's console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::print_fmt(format_args!($($arg)*))
    };
}

/// Prints a line to Aerie's console.
#[macro_export]
macro_rules! println {
    () => {
        $crate::print!("\n")
    };
    ($($arg:tt)*) => {
        $crate::print!("{}\n", format_args!($($arg)*))
    };
}

/// Prints the message and exits with 101, Rust's status for a panic.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    match info.location() {
        Some(loc) => println!(
            "panicked at {}:{}: {}",
            loc.file(),
            loc.line(),
            info.message()
        ),
        None => println!("panicked: {}", info.message()),
    }
    exit(101)
}
