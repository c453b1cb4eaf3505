//! A QEMU TCG plugin that counts how often each instruction address runs,
//! for `cargo xtask profile`: with `-icount shift=0` every executed
//! instruction is also one nanosecond of the machine's time, so these counts
//! say exactly where a benchmark's instructions go.
//!
//! Loaded as `-plugin <path>/libaerie_insn_count.so,out=<file>`. When QEMU
//! exits it writes one line per instruction address that ran, `<hex
//! address> <count>`; addresses are virtual, of whatever exception level
//! ran them.
//!
//! QEMU calls back on every translation of a block: each of its
//! instructions gets an execution callback whose argument is that
//! address's counter. The plugin API is QEMU's C ABI (`qemu-plugin.h`,
//! API version 2 and later), declared here for the few functions used.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

type PluginId = u64;

/// `struct qemu_plugin_tb`, opaque.
#[repr(C)]
pub struct TranslationBlock {
    _opaque: [u8; 0],
}

/// `struct qemu_plugin_insn`, opaque.
#[repr(C)]
pub struct Instruction {
    _opaque: [u8; 0],
}

/// `QEMU_PLUGIN_CB_NO_REGS`: the callback reads no guest register.
const CB_NO_REGS: c_int = 0;

extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(
        id: PluginId,
        cb: extern "C" fn(PluginId, *mut TranslationBlock),
    );
    fn qemu_plugin_tb_n_insns(tb: *const TranslationBlock) -> usize;
    fn qemu_plugin_tb_get_insn(tb: *const TranslationBlock, index: usize) -> *mut Instruction;
    fn qemu_plugin_insn_vaddr(insn: *const Instruction) -> u64;
    fn qemu_plugin_register_vcpu_insn_exec_cb(
        insn: *mut Instruction,
        cb: extern "C" fn(c_uint, *mut c_void),
        flags: c_int,
        userdata: *mut c_void,
    );
    fn qemu_plugin_register_atexit_cb(
        id: PluginId,
        cb: extern "C" fn(PluginId, *mut c_void),
        userdata: *mut c_void,
    );
}

/// The plugin API version this plugin is written against (QEMU refuses a
/// plugin whose version it does not support).
#[no_mangle]
pub static qemu_plugin_version: c_int = 2;

/// One counter per instruction address, alive until QEMU exits (a block
/// translated again reuses its addresses' counters).
static COUNTERS: Mutex<Option<HashMap<u64, &'static AtomicU64>>> = Mutex::new(None);
/// Where the counts go (`out=`).
static OUT: Mutex<Option<String>> = Mutex::new(None);

extern "C" fn executed(_vcpu: c_uint, counter: *mut c_void) {
    // SAFETY: `counter` is the userdata registered in `translated`: a leaked
    // `&'static AtomicU64`, never freed.
    let counter = unsafe { &*(counter as *const AtomicU64) };
    counter.fetch_add(1, Ordering::Relaxed);
}

extern "C" fn translated(_id: PluginId, tb: *mut TranslationBlock) {
    let mut counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
    let counters = counters.get_or_insert_with(HashMap::new);
    // SAFETY: QEMU passes a block that is valid for this callback.
    let count = unsafe { qemu_plugin_tb_n_insns(tb) };
    for index in 0..count {
        // SAFETY: `index` is below the block's instruction count, and the
        // instruction handle is valid for this callback.
        let (insn, address) = unsafe {
            let insn = qemu_plugin_tb_get_insn(tb, index);
            (insn, qemu_plugin_insn_vaddr(insn))
        };
        let counter: &'static AtomicU64 = counters
            .entry(address)
            .or_insert_with(|| Box::leak(Box::new(AtomicU64::new(0))));
        // SAFETY: `insn` belongs to the block being translated; the counter
        // outlives every execution of it (it is never freed).
        unsafe {
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn,
                executed,
                CB_NO_REGS,
                counter as *const AtomicU64 as *mut c_void,
            )
        };
    }
}

extern "C" fn at_exit(_id: PluginId, _userdata: *mut c_void) {
    let Some(path) = OUT.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        return;
    };
    let counters = COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = String::new();
    for (address, counter) in counters.iter().flat_map(|m| m.iter()) {
        let n = counter.load(Ordering::Relaxed);
        if n > 0 {
            text.push_str(&format!("{address:x} {n}\n"));
        }
    }
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!("aerie-insn-count: writing {path}: {e}");
    }
}

/// QEMU's entry point: takes `out=<file>`, and registers the callbacks.
/// A missing or unknown argument is refused, so QEMU does not start.
///
/// # Safety
/// Called by QEMU only: `argv` holds `argc` valid NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn qemu_plugin_install(
    id: PluginId,
    _info: *const c_void,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    for i in 0..usize::try_from(argc).unwrap_or(0) {
        // SAFETY: QEMU passes `argc` valid NUL-terminated strings in `argv`.
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) }.to_string_lossy();
        match arg.strip_prefix("out=") {
            Some(path) => *OUT.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.into()),
            None => {
                eprintln!("aerie-insn-count: unknown argument {arg:?} (known: out=<file>)");
                return -1;
            }
        }
    }
    if OUT.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
        eprintln!("aerie-insn-count: missing out=<file>");
        return -1;
    }
    // SAFETY: `id` is this plugin's, and the callbacks are 'static functions
    // with the signatures QEMU expects.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
        qemu_plugin_register_atexit_cb(id, at_exit, std::ptr::null_mut());
    }
    0
}
