//! Aerie's own symbols (from the boot module, packed by the xtask), for
//! watchdog reports, dumps and the profiler. Lock-free after boot, so
//! pseudo-NMI handlers may use it.

use core::fmt;
use spin::Once;

static SYMBOLS: Once<aerie_symbols::Symbols<'static>> = Once::new();

/// Install the symbol table (once, at boot), if it is this build's: a
/// boot module packed for another build of Aerie (an older one, or the
/// other GIC's: a UEFI loader picks the Image at boot) would name the wrong
/// functions, so the table must place this very function where it is.
pub fn init(blob: &'static [u8]) {
    match aerie_symbols::Symbols::parse(blob) {
        Ok(s) => {
            let me = init as *const () as u64;
            match s.lookup(me) {
                Some((name, 0)) if name.ends_with("symbols::init") => {
                    SYMBOLS.call_once(|| s);
                }
                _ => log::warn!(
                    "symbol table ignored: it is another build's (it does not place symbols::init at {me:#x})"
                ),
            }
        }
        Err(e) => log::warn!("symbol table ignored: {e:?}"),
    }
}

/// `name+0xoff` for an address in Aerie, `?` otherwise.
pub struct Symbolised(pub u64);

impl fmt::Display for Symbolised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SYMBOLS.get().and_then(|s| s.lookup(self.0)) {
            Some((name, off)) => write!(f, "{name}+{off:#x}"),
            None => write!(f, "?"),
        }
    }
}

/// The start of the Aerie function holding `addr`, if the table has it.
pub fn function_start(addr: u64) -> Option<u64> {
    let (_, off) = SYMBOLS.get()?.lookup(addr)?;
    Some(addr - off)
}

/// Walk the frame-pointer chain from `fp` on pCPU `cpu`'s stack, calling
/// `each(depth, return address)`; stops at the stack's bounds or 16 frames.
pub fn backtrace(cpu: usize, mut fp: u64, mut each: impl FnMut(usize, u64)) {
    let (low, high) = crate::sched::pcpu::stack_bounds(cpu);
    for depth in 0..16 {
        if fp < low || fp + 16 > high || !fp.is_multiple_of(16) {
            return;
        }
        // SAFETY: [fp, fp + 16) lies inside this pCPU's mapped stack (checked
        // above); a frame record is two words: the caller's fp, then lr.
        let (next, lr) = unsafe { (*(fp as *const u64), *((fp + 8) as *const u64)) };
        if lr == 0 {
            return;
        }
        each(depth, lr);
        fp = next;
    }
}
