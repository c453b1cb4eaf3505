//! Aerie's console: its own log lines and the guests' output, on the host
//! UART. With one VM its output passes straight through (an interactive shell
//! needs that); with several, each VM's lines are prefixed `[name] `.

mod input;

pub use input::{read_input, receive};

use crate::drivers::uart::HostUart;
use aerie_dt::UartKind;
use core::fmt::{self, Write};
use spin::Mutex;

static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);

/// The host UART and what keeps Aerie's lines and a guest's apart.
///
/// A single VM's output passes through byte by byte, so Aerie's own lines
/// (the log, user worlds' output) would land in the middle of a line the
/// guest is still writing. While the guest is mid-line and wrote its last
/// byte less than [`HOLD_MS`] ago, Aerie's lines are held and go out after
/// the guest's newline, or once held that long (`flush_held`, from the
/// scheduler's tick and before a pCPU idles). A guest that has been
/// mid-line for longer (a shell prompt) gets a line break first instead.
struct Console {
    uart: HostUart,
    /// The guest's last byte was not a newline.
    guest_mid_line: bool,
    /// When the guest wrote its last byte (counter).
    guest_wrote_at: u64,
    /// Aerie's lines waiting for the guest's newline.
    held: alloc::string::String,
    /// When the oldest held line was printed (counter).
    held_at: u64,
}

/// How long a guest's unfinished line holds Aerie's lines back.
const HOLD_MS: u64 = 20;
/// The most Aerie holds back; more goes out at once.
const HELD_MAX: usize = 16 * 1024;

fn hold_ticks() -> u64 {
    crate::arch::aarch64::cpu::ms_to_ticks(HOLD_MS)
}

impl Console {
    /// Aerie's own text, now or after the guest's line.
    fn print(&mut self, args: fmt::Arguments) {
        let now = crate::arch::aarch64::cpu::counter();
        if self.guest_mid_line {
            let recent = now.saturating_sub(self.guest_wrote_at) < hold_ticks();
            if recent && self.held.len() < HELD_MAX {
                if self.held.is_empty() {
                    self.held_at = now;
                    HOLDING.store(true, core::sync::atomic::Ordering::Relaxed);
                }
                let _ = self.held.write_fmt(args);
                return;
            }
            self.break_guest_line();
        }
        let _ = Writer(&mut self.uart).write_fmt(args);
    }

    /// End the guest's unfinished line and write what was held.
    fn break_guest_line(&mut self) {
        if self.guest_mid_line {
            put_lines(&mut self.uart, b"\n");
            self.guest_mid_line = false;
        }
        self.write_held();
    }

    fn write_held(&mut self) {
        if !self.held.is_empty() {
            let held = core::mem::take(&mut self.held);
            put_lines(&mut self.uart, held.as_bytes());
            HOLDING.store(false, core::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Start the console on the UART of `kind` mapped at `va`.
///
/// # Safety
/// `va` must map the host UART, of that kind, used by nothing else.
pub unsafe fn init(va: u64, kind: UartKind) {
    // SAFETY: per the contract.
    let uart = unsafe { HostUart::new(va, kind) };
    *CONSOLE.lock() = Some(Console {
        uart,
        guest_mid_line: false,
        guest_wrote_at: 0,
        held: alloc::string::String::new(),
        held_at: 0,
    });
    UART_KIND.call_once(|| kind);
    UART_VA.store(va, core::sync::atomic::Ordering::Release);
}

/// Whether the console holds lines of Aerie's: lets [`flush_held`], which
/// runs on every tick and before every idle wait, skip the lock when not.
static HOLDING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Write Aerie's held lines if they have waited [`HOLD_MS`] (`all`: now),
/// breaking the guest's line if it is still unfinished. Inline: the
/// scheduler asks on every pass, and there is rarely anything.
#[inline(always)]
pub fn flush_held(all: bool) {
    if HOLDING.load(core::sync::atomic::Ordering::Relaxed) {
        flush_held_lines(all);
    }
}

#[cold]
#[inline(never)]
fn flush_held_lines(all: bool) {
    if let Some(console) = CONSOLE.lock().as_mut() {
        let now = crate::arch::aarch64::cpu::counter();
        let due = now.saturating_sub(console.held_at) >= hold_ticks();
        if !console.held.is_empty() && (all || due) {
            console.break_guest_line();
        }
    }
}

/// Text for the terminal: each newline as CR LF.
fn put_lines(uart: &mut HostUart, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            uart.put(b'\r');
        }
        uart.put(b);
    }
}

struct Writer<'a>(&'a mut HostUart);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        put_lines(self.0, s.as_bytes());
        Ok(())
    }
}

/// Print Aerie's formatted text (no-op before the console exists); it may
/// wait for a guest's unfinished line ([`Console`]).
pub fn print(args: fmt::Arguments) {
    if let Some(console) = CONSOLE.lock().as_mut() {
        console.print(args);
    }
}

/// Start taking console input (by interrupt).
pub fn enable_input() {
    if let Some(console) = CONSOLE.lock().as_mut() {
        console.uart.enable_rx_interrupt();
    }
}

/// Raw bytes from a guest; Aerie's held lines follow its newline.
pub fn put_bytes(bytes: &[u8]) {
    let Some(&last) = bytes.last() else { return };
    if let Some(console) = CONSOLE.lock().as_mut() {
        for &b in bytes {
            console.uart.put(b);
        }
        console.guest_mid_line = last != b'\n';
        console.guest_wrote_at = crate::arch::aarch64::cpu::counter();
        if !console.guest_mid_line {
            console.write_held();
        }
    }
}

/// The UART's address, for writers that may not take the console lock.
static UART_VA: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Its kind, set before `UART_VA`.
static UART_KIND: spin::Once<UartKind> = spin::Once::new();

/// How long an emergency writer waits for the console lock before it
/// writes without it.
const EMERGENCY_WAIT_US: u64 = 1000;

/// For pseudo-NMI handlers, which may have interrupted a holder of the
/// console lock. The lock is tried for up to [`EMERGENCY_WAIT_US`]: a line
/// another pCPU is writing is finished first, and the emergency line goes
/// out whole between Aerie's lines (straight to the UART: nothing that
/// allocates, so no line is held back for the guest's). If the lock stays
/// taken (this pCPU's own interrupted code holds it, or its holder is
/// stopped), the line is written without it; a concurrent regular writer's
/// characters may then interleave, but nothing deadlocks.
pub fn print_emergency(args: fmt::Arguments) {
    use core::sync::atomic::Ordering;
    let va = UART_VA.load(Ordering::Acquire);
    if va == 0 {
        return;
    }
    // Emergency writers (several pCPUs reporting at once) take turns, each
    // for a whole line, but never wait for long: if the turn is not given
    // back (its holder stopped mid-line), write anyway.
    let me = crate::sched::this_cpu() + 1;
    let mut tries = 0u32;
    while EMERGENCY_TURN
        .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        tries += 1;
        if tries > 2_000_000 {
            break;
        }
        core::hint::spin_loop();
    }
    if !write_locked_within(args, EMERGENCY_WAIT_US) {
        let kind = UART_KIND.get().copied().unwrap_or_default();
        // SAFETY: the host UART is mapped at `va` (set by `init`, with its
        // kind); this view only transmits, polling for room, as the locked
        // one does.
        let mut uart = unsafe { HostUart::attach(va, kind) };
        let _ = Writer(&mut uart).write_fmt(args);
    }
    let _ = EMERGENCY_TURN.compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed);
}

/// Writes `args` through the console under its lock if the lock can be had
/// within `us` microseconds (only trying: never blocking); false if not.
fn write_locked_within(args: fmt::Arguments, us: u64) -> bool {
    use crate::arch::aarch64::cpu;
    let deadline = cpu::counter() + cpu::us_to_ticks(us);
    loop {
        if let Some(mut guard) = CONSOLE.try_lock() {
            return match guard.as_mut() {
                Some(console) => {
                    let _ = Writer(&mut console.uart).write_fmt(args);
                    true
                }
                None => false,
            };
        }
        if cpu::counter() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Which pCPU (index + 1) is writing an emergency line; 0 = none.
static EMERGENCY_TURN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// For the panic path: take the console even if the panicking code held it.
pub fn print_panic(args: fmt::Arguments) {
    // SAFETY: we are stopping; whoever held the lock will never run again
    // on this CPU, and other CPUs are not started.
    unsafe { CONSOLE.force_unlock() };
    if let Some(console) = CONSOLE.lock().as_mut() {
        // Now, and after anything held.
        console.break_guest_line();
        let _ = Writer(&mut console.uart).write_fmt(args);
    }
}

/// Print Aerie's text with no newline (a prompt, an echo).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `log` output: `aerie: ` then the level for anything but info.
struct Logger;

/// The level a record is shown at: its own, but another crate's info lines
/// (virtio-drivers' "found a block device of size ...", its negotiated
/// features) are that crate's chatter, shown only with `aerie.log=debug`.
fn shown_level(metadata: &log::Metadata) -> log::Level {
    match metadata.level() {
        log::Level::Info if !metadata.target().starts_with("aerie") => log::Level::Debug,
        level => level,
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        shown_level(metadata) <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match shown_level(record.metadata()) {
            log::Level::Info => "",
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            log::Level::Debug => "debug: ",
            log::Level::Trace => "trace: ",
        };
        print(format_args!("aerie: {level}{}\n", record.args()));
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

pub fn init_log(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Where a guest's console bytes go.
pub struct GuestOutput {
    prefix: Option<alloc::string::String>,
    line: alloc::vec::Vec<u8>,
}

impl GuestOutput {
    /// `prefixed`: several VMs share the console, so lines carry `[name] `.
    pub fn new(name: &str, prefixed: bool) -> Self {
        GuestOutput {
            prefix: prefixed.then(|| alloc::format!("[{name}] ")),
            line: alloc::vec::Vec::new(),
        }
    }

    /// Whether lines carry a `[name] ` prefix.
    pub fn prefixed(&self) -> bool {
        self.prefix.is_some()
    }

    /// Emit what is buffered (used when the VM stops mid-line).
    pub fn flush(&mut self) {
        if let Some(prefix) = &self.prefix {
            if !self.line.is_empty() {
                self.line.push(b'\n');
                emit_line(prefix, &self.line);
                self.line.clear();
            }
        }
    }
}

fn emit_line(prefix: &str, line: &[u8]) {
    if let Some(console) = CONSOLE.lock().as_mut() {
        put_lines(&mut console.uart, prefix.as_bytes());
        put_lines(&mut console.uart, line);
    }
}

impl aerie_vdev::ByteSink for GuestOutput {
    fn write_byte(&mut self, b: u8) {
        match &self.prefix {
            None => put_bytes(&[b]),
            Some(prefix) => {
                if b == b'\r' {
                    return;
                }
                self.line.push(b);
                if b == b'\n' || self.line.len() >= 512 {
                    emit_line(prefix, &self.line);
                    self.line.clear();
                }
            }
        }
    }
}
