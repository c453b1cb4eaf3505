//! Guest memory by guest virtual address: the high-bandwidth backdoor's
//! buffers, and the instruction at a guest PC (vm/debug.rs).
//!
//! Each 4 KiB piece of the range is translated by the hardware through the
//! guest's own stage 1 (`arch::aarch64::at`, which yields an IPA), the IPA
//! range is checked against the VM's RAM (`GuestMemory::host_va`, Aerie's
//! own stage-2 knowledge), and the bytes are copied through Aerie's direct
//! map. Stepping by 4 KiB is right whatever the guest's granule (4K, 16K or
//! 64K): a larger page is just translated more than once.
//!
//! A bad address (stage-1 fault, an IPA outside RAM, a write to a page the
//! requesting EL may not write) is `Err(())`; nothing here can fault Aerie.
//! As with a guest's own faulting copy, pieces before the bad one may have
//! been copied already (a write leaves them written; a read leaves `buf`
//! partly filled).
//!
//! Use only while the vCPU that made the request is loaded on this pCPU
//! (in its exit handler): the translation uses the live EL1 state.

use super::GuestMemory;
use crate::arch::aarch64::at::{self, Access};
use aerie_backdoor::GuestVa;

/// The translation step: the smallest granule, so a piece never spans two
/// pages of any guest granule.
const PAGE: u64 = 4096;

/// The loaded guest's memory as seen by its EL1 (`el0 == false`) or its EL0.
pub struct GuestVirtual<'a> {
    mem: &'a GuestMemory,
    el0: bool,
}

impl<'a> GuestVirtual<'a> {
    /// Access `mem` by virtual address with the permissions of guest EL0
    /// (`el0`, the request came from user space) or guest EL1.
    pub fn new(mem: &'a GuestMemory, el0: bool) -> Self {
        GuestVirtual { mem, el0 }
    }

    /// Walk `[va, va + len)` in pieces that stay within one 4 KiB page,
    /// calling `copy(host_va, offset_in_range, piece_len)` for each once it is
    /// translated and checked.
    fn each_piece(
        &self,
        va: u64,
        len: usize,
        write: bool,
        mut copy: impl FnMut(u64, usize, usize),
    ) -> Result<(), ()> {
        let access = Access::new(self.el0, write);
        let mut done = 0usize;
        while done < len {
            let cur = va.checked_add(done as u64).ok_or(())?;
            let room = (PAGE - (cur & (PAGE - 1))) as usize;
            let n = room.min(len - done);
            let ipa = at::translate(cur, access).map_err(|_| ())?;
            let host = self.mem.host_va(ipa, n as u64).ok_or(())?;
            copy(host, done, n);
            done += n;
        }
        Ok(())
    }
}

impl GuestVa for GuestVirtual<'_> {
    fn read(&mut self, va: u64, buf: &mut [u8]) -> Result<(), ()> {
        let dst = buf.as_mut_ptr();
        let len = buf.len();
        self.each_piece(va, len, false, |host, off, n| {
            // SAFETY: host_va checked that the n bytes at `host` are this
            // VM's RAM in the direct map (never Aerie's own memory, so they
            // cannot overlap `buf`); off + n <= buf.len(). Another vCPU may
            // change them concurrently, which only affects the values read.
            unsafe { core::ptr::copy_nonoverlapping(host as *const u8, dst.add(off), n) };
        })
    }

    fn write(&mut self, va: u64, buf: &[u8]) -> Result<(), ()> {
        let src = buf.as_ptr();
        self.each_piece(va, buf.len(), true, |host, off, n| {
            // SAFETY: as for read: `host` is n bytes of this VM's RAM, the
            // guest's stage 1 lets the requesting EL write them, and
            // off + n <= buf.len().
            unsafe { core::ptr::copy_nonoverlapping(src.add(off), host as *mut u8, n) };
        })
    }
}
