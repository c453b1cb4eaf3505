//! The table the exit vector's backdoor fast path reads (vectors.S).
//!
//! Each pCPU has one, right above the top of its EL2 stack. While a guest
//! runs, SP_EL2 stands exactly at that top (every exit starts the stack
//! afresh there), so the vector reaches the table at `[sp, #offset]` with
//! no base register to load, and the guest's registers stay untouched until
//! the request is known to be one the path answers.
//!
//! There is one 8-byte slot per exception class (ESR_EL2.EC, 6 bits). The
//! slot of a class holds the one syndrome of that class the path answers for
//! the vCPU running here: the DCC read's at EC 0x18, the BRK's at EC 0x3C,
//! zero elsewhere (no trap from AArch64 has syndrome zero: IL is 1). So the
//! vector finds the syndrome to compare with in one load, indexed by the EC
//! (only classes with bit 3 set reach the path), and no indirect branch is
//! involved. Slots whose class can never match hold the fixed registers of
//! the exchange instead, placed so that load pairs fetch them:
//! - slot 0 (EC 0, unknown reason): the magic, whose bits 31:26 are 0x15,
//!   never 0; at the lowest address, so that one load pair fetches it with
//!   the guest's x0, which the vector spills just below the stack top;
//! - slots 2 and 3 (unallocated classes): the reply's x0 and x2, small
//!   numbers whose class bits are 0;
//! - slots 0x3E and 0x3F (unallocated classes): x7 and the port, whose
//!   bits 31:26 are 0.

use aerie_trap::{ec, Esr};
use core::sync::atomic::{AtomicU64, Ordering};

/// One slot per exception class.
pub const SLOTS: usize = 64;
/// The table's size: what each pCPU reserves above its EL2 stack's top.
pub const TABLE_BYTES: usize = SLOTS * 8;
/// Where the fixed registers are (slot numbers; vectors.S).
pub const MAGIC_SLOT: usize = 0;
pub const REPLY_X0_SLOT: usize = 2;
pub const REPLY_X2_SLOT: usize = 3;
pub const X7_SLOT: usize = 0x3E;
pub const PORT_SLOT: usize = 0x3F;
/// The command (x2) the path answers: an immediate in the vector.
pub const COMMAND: u64 = 10;
// The vector compares it with CCMP, whose immediate has five bits.
const _: () = assert!(COMMAND < 32);

/// The one exchange the fast path serves: the request's registers other
/// than the command ([`COMMAND`]), and the reply's x0 and x2 (its x1 is the
/// magic).
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    pub x7: u64,
    pub port: u64,
    pub magic: u64,
    pub reply_x0: u64,
    pub reply_x2: u64,
}

impl Exchange {
    /// Each fixed register with its slot.
    const fn slots(&self) -> [(usize, u64); 5] {
        [
            (MAGIC_SLOT, self.magic),
            (REPLY_X0_SLOT, self.reply_x0),
            (REPLY_X2_SLOT, self.reply_x2),
            (X7_SLOT, self.x7),
            (PORT_SLOT, self.port),
        ]
    }

    /// Whether no fixed register could pass for a syndrome of its slot's
    /// class (bits 31:26 of a syndrome are its class): checked at compile
    /// time for the exchange Aerie serves.
    pub const fn fits(&self) -> bool {
        let slots = self.slots();
        let mut i = 0;
        while i < slots.len() {
            let (slot, value) = slots[i];
            if Esr(value).ec() as usize == slot {
                return false;
            }
            i += 1;
        }
        true
    }
}

#[repr(C, align(16))]
pub struct FastPathTable([AtomicU64; SLOTS]);

const _: () = assert!(core::mem::size_of::<FastPathTable>() == TABLE_BYTES);

impl FastPathTable {
    /// The table above the EL2 stack whose top is `top`, set up for
    /// `exchange` with no syndrome answered yet.
    ///
    /// # Safety
    /// `top` must be the top of a pCPU's EL2 stack with [`TABLE_BYTES`]
    /// reserved above it for this table, for as long as Aerie runs, and
    /// nothing but the table may use those bytes.
    pub unsafe fn install(top: u64, exchange: Exchange) -> &'static FastPathTable {
        // SAFETY: the caller reserves these bytes for the table forever;
        // every field is an AtomicU64, for which any bit pattern is valid,
        // and all accesses from Rust go through atomics (the vector's loads
        // are single-copy atomic 64-bit loads of aligned slots).
        let table = unsafe { &*(top as *const FastPathTable) };
        for slot in &table.0 {
            slot.store(0, Ordering::Relaxed);
        }
        for (slot, value) in exchange.slots() {
            table.0[slot].store(value, Ordering::Relaxed);
        }
        table
    }

    /// Answer exactly these syndromes of the two transports from now on
    /// (zero: none of that class). The vCPU about to run here decides.
    pub fn set_syndromes(&self, dcc: u64, brk: u64) {
        self.0[usize::from(ec::SYSREG)].store(dcc, Ordering::Relaxed);
        self.0[usize::from(ec::BRK64)].store(brk, Ordering::Relaxed);
    }
}
