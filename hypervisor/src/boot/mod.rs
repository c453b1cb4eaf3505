//! Early boot: the page pool and stack the entry code uses, and the Rust half
//! of the re-map (C4), which runs with the MMU off at the load address.
//!
//! Code reachable from [`early_build_spaces`] must be position-independent:
//! no statics holding pointers, no trait objects, no formatting, no panics
//! (nothing could print yet). It calls only `aerie_pagetable::boot`, which is
//! plain arithmetic over the pool and is unit-tested on the host.

use crate::arch::aarch64::fast_path;
use crate::mm::layout::{DTB_WINDOW_SIZE, DTB_WINDOW_VA};
use aerie_pagetable::boot::{BootSpaces, ImageLayout, Part, Window};
use aerie_pagetable::{Attributes, MapError, TableMemory, ENTRIES, PAGE_SIZE};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

pub mod smp;

/// Pages for the boot-time kernel tables (transitional and final spaces, and
/// the kernel's device and direct-map tables added right after).
pub const BOOT_TABLE_PAGES: usize = 32;
pub const BOOT_TABLES_SIZE: usize = BOOT_TABLE_PAGES * PAGE_SIZE as usize;
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(4096))]
pub struct Pages<const N: usize>(UnsafeCell<[[u64; ENTRIES]; N]>);

// SAFETY: the pool is used by the boot CPU only (entry code, then kernel_main
// before any other CPU or guest runs).
unsafe impl<const N: usize> Sync for Pages<N> {}

/// The boot pCPU's stack, which it keeps for its guests' exits, and above
/// its top the pCPU's backdoor fast-path table (`arch::aarch64::fast_path`).
#[repr(C, align(16))]
pub struct Stack(
    pub UnsafeCell<[u8; BOOT_STACK_SIZE]>,
    pub UnsafeCell<[u8; fast_path::TABLE_BYTES]>,
);

// SAFETY: only the boot CPU runs on this stack.
unsafe impl Sync for Stack {}

#[no_mangle]
pub static BOOT_TABLES: Pages<BOOT_TABLE_PAGES> =
    Pages(UnsafeCell::new([[0; ENTRIES]; BOOT_TABLE_PAGES]));
#[no_mangle]
pub static BOOT_STACK: Stack = Stack(
    UnsafeCell::new([0; BOOT_STACK_SIZE]),
    UnsafeCell::new([0; fast_path::TABLE_BYTES]),
);

/// Pages of BOOT_TABLES handed out so far.
static POOL_USED: PoolCount = PoolCount(UnsafeCell::new(0));
struct PoolCount(UnsafeCell<usize>);
// SAFETY: boot CPU only, as for BOOT_TABLES.
unsafe impl Sync for PoolCount {}

/// The boot table pool as [`TableMemory`]. `va_offset` turns a table's
/// physical address into an address the running code can use: 0 with the
/// MMU off, the relocation delta once running at the link address.
pub struct BootPool {
    pub va_offset: u64,
}

impl TableMemory for BootPool {
    fn alloc_table(&mut self) -> Result<u64, MapError> {
        let base = BOOT_TABLES.0.get() as u64;
        // SAFETY: boot CPU only; no other reference to the counter exists.
        let used = unsafe { &mut *POOL_USED.0.get() };
        if *used >= BOOT_TABLE_PAGES {
            return Err(MapError::OutOfTables);
        }
        let va = base + (*used as u64) * PAGE_SIZE;
        *used += 1;
        // Pages come from zeroed bss and are handed out once.
        Ok(va - self.va_offset)
    }

    fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
        // SAFETY: `pa` came from alloc_table, so it is a page of BOOT_TABLES
        // reachable at pa + va_offset, used by the boot CPU only.
        unsafe { &mut *((pa + self.va_offset) as *mut [u64; ENTRIES]) }
    }
}

extern "C" {
    static __text_end: u8;
    static __rodata_end: u8;
    static __image_end: u8;
    static __trampoline_start: u8;
    static __trampoline_end: u8;
}

/// The image's parts, from linker symbols. Their addresses are taken
/// PC-relative, so with the MMU off they are load addresses and with it on
/// link addresses; only differences from `image_start` are used.
pub fn image_layout(image_start: u64, load_pa: u64, link_va: u64) -> ImageLayout {
    let off = |sym: *const u8| sym as u64 - image_start;
    let (text_end, rodata_end, end, t0, t1) = (
        off(&raw const __text_end),
        off(&raw const __rodata_end),
        off(&raw const __image_end),
        off(&raw const __trampoline_start),
        off(&raw const __trampoline_end),
    );
    ImageLayout {
        load_pa,
        link_va,
        text: Part {
            start: 0,
            end: text_end,
        },
        rodata: Part {
            start: text_end,
            end: rodata_end,
        },
        data: Part {
            start: rodata_end,
            end,
        },
        trampoline: Part { start: t0, end: t1 },
    }
}

/// The roots built at boot; secondary CPUs take the same road later.
pub struct SpacesCell(UnsafeCell<BootSpaces>);
// SAFETY: written once by the boot CPU with the MMU off, before anything
// else runs; read-only afterwards.
unsafe impl Sync for SpacesCell {}
static SPACES: SpacesCell = SpacesCell(UnsafeCell::new(BootSpaces {
    transitional: 0,
    final_root: 0,
}));

/// What the unused part of the boot stack is filled with, so that how deep
/// it was ever used can be read back ([`boot_stack_used`]).
const STACK_PAINT: u8 = 0xa5;
/// Left unpainted below the stack pointer: the painting code's own frame.
const PAINT_MARGIN: u64 = 512;

/// Fills the boot stack below the current stack pointer with
/// [`STACK_PAINT`]. Called once, early, from the boot pCPU on that stack.
pub fn paint_boot_stack() {
    let base = BOOT_STACK.0.get() as u64;
    let sp = crate::arch::aarch64::cpu::stack_pointer();
    let end = sp.saturating_sub(PAINT_MARGIN).max(base);
    for at in base..end {
        // SAFETY: [base, sp - margin) is the unused part of the boot stack,
        // which this pCPU runs on: nothing lives there yet.
        unsafe { (at as *mut u8).write_volatile(STACK_PAINT) };
    }
}

/// The most of the boot stack ever used since [`paint_boot_stack`], in
/// bytes: everything above the lowest byte that is no longer paint.
pub fn boot_stack_used() -> usize {
    let base = BOOT_STACK.0.get() as u64;
    let untouched = (0..BOOT_STACK_SIZE as u64)
        // SAFETY: reads within the boot stack; a byte below the stack
        // pointer may be stale but is never being written concurrently by
        // anything but this pCPU.
        .take_while(|&i| unsafe { ((base + i) as *const u8).read_volatile() } == STACK_PAINT)
        .count();
    BOOT_STACK_SIZE - untouched
}

/// SCTLR_EL2 as the boot loader left it, stored by entry.S (after zeroing
/// bss) before it turns the MMU off: M set means Aerie was entered inside the
/// loader's 1:1 map (the UEFI loader), clear means with the MMU off (QEMU's
/// `-kernel`).
pub static ENTRY_SCTLR: AtomicU64 = AtomicU64::new(0);

/// Whether the boot loader entered Aerie with its MMU on.
pub fn entered_with_mmu_on() -> bool {
    ENTRY_SCTLR.load(Ordering::Relaxed) & 1 != 0
}

/// The transitional and final roots the boot CPU switched through.
pub fn spaces() -> BootSpaces {
    // SAFETY: see SpacesCell.
    unsafe { *SPACES.0.get() }
}

/// Called by entry.S with the MMU off. Returns the two roots, or zeros if the
/// tables could not be built (entry.S then stops: nothing can print yet).
#[no_mangle]
pub extern "C" fn early_build_spaces(load_pa: u64, link_va: u64, dtb_pa: u64) -> BootSpaces {
    let spaces = build_spaces(load_pa, link_va, dtb_pa);
    // SAFETY: see SpacesCell; the store goes PC-relative to the load address.
    unsafe { *SPACES.0.get() = spaces };
    spaces
}

fn build_spaces(load_pa: u64, link_va: u64, dtb_pa: u64) -> BootSpaces {
    let layout = image_layout(load_pa, load_pa, link_va);
    let mut pool = BootPool { va_offset: 0 };
    let mut windows = [Window {
        va: 0,
        pa: 0,
        len: 0,
        attributes: Attributes::RODATA,
    }];
    let n = match dtb_window(dtb_pa) {
        Some(w) => {
            windows[0] = w;
            1
        }
        None => 0,
    };
    aerie_pagetable::boot::build(&mut pool, &layout, &windows[..n]).unwrap_or(BootSpaces {
        transitional: 0,
        final_root: 0,
    })
}

/// The device tree's pages, mapped read-only at DTB_WINDOW_VA.
fn dtb_window(dtb_pa: u64) -> Option<Window> {
    if dtb_pa == 0 || !dtb_pa.is_multiple_of(8) {
        return None;
    }
    // SAFETY: the boot protocol puts a device tree at dtb_pa; with the MMU
    // off these aligned reads go straight to memory.
    let (magic, size) = unsafe {
        let p = dtb_pa as *const u32;
        (
            u32::from_be(p.read_volatile()),
            u32::from_be(p.add(1).read_volatile()) as u64,
        )
    };
    if magic != 0xd00d_feed {
        return None;
    }
    let start = dtb_pa & !(PAGE_SIZE - 1);
    let end = (dtb_pa + size + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    if end - start > DTB_WINDOW_SIZE {
        return None;
    }
    Some(Window {
        va: DTB_WINDOW_VA,
        pa: start,
        len: end - start,
        attributes: Attributes::RODATA,
    })
}

/// What the boot path did, for the debug log once the console exists.
#[derive(Debug, Clone, Copy)]
pub struct BootRecord {
    pub dtb_pa: u64,
    pub load_pa: u64,
    pub link_va: u64,
}

impl BootRecord {
    pub fn delta(&self) -> u64 {
        self.link_va.wrapping_sub(self.load_pa)
    }

    /// The device tree as mapped in the final space.
    pub fn dtb_va(&self) -> u64 {
        DTB_WINDOW_VA + (self.dtb_pa & (PAGE_SIZE - 1))
    }
}
