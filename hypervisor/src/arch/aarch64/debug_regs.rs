//! Debug system registers (op0 = 2) by encoding, for the trapped accesses
//! of a guest when MDCR_EL2.TDA is set: Aerie performs the access on the
//! guest's behalf. Callers check that a breakpoint or watchpoint number is
//! implemented (ID_AA64DFR0_EL1) before calling: an access to a missing one
//! is UNDEFINED at EL2 too.

macro_rules! dbg_access {
    ($($e:tt),* $(,)?) => {
        /// Read `S2_<op1>_C<crn>_C<crm>_<op2>`; None if not one of Aerie's list.
        pub fn read(op1: u8, crn: u8, crm: u8, op2: u8) -> Option<u64> {
            dbg_access!(@read (op1, crn, crm, op2) $($e),*)
        }
        /// Write it; false if not one of Aerie's list.
        pub fn write(op1: u8, crn: u8, crm: u8, op2: u8, value: u64) -> bool {
            dbg_access!(@write (op1, crn, crm, op2, value) $($e),*)
        }
    };
    (@read ($a:ident, $b:ident, $c:ident, $d:ident) $(($o1:literal, $n:literal, $m:literal, $o2:literal)),*) => {
        match ($a, $b, $c, $d) {
            $( ($o1, $n, $m, $o2) => {
                let v: u64;
                // SAFETY: a debug register read at EL2; the caller checked the
                // register exists on this CPU.
                unsafe { core::arch::asm!(concat!("mrs {}, s2_", $o1, "_c", $n, "_c", $m, "_", $o2), out(reg) v, options(nomem, nostack, preserves_flags)) };
                Some(v)
            } )*
            _ => None,
        }
    };
    (@write ($a:ident, $b:ident, $c:ident, $d:ident, $v:ident) $(($o1:literal, $n:literal, $m:literal, $o2:literal)),*) => {
        match ($a, $b, $c, $d) {
            $( ($o1, $n, $m, $o2) => {
                // SAFETY: a debug register write at EL2 on the guest's behalf;
                // it only affects debug state the guest owns.
                unsafe { core::arch::asm!(concat!("msr s2_", $o1, "_c", $n, "_c", $m, "_", $o2, ", {}"), in(reg) $v, options(nostack, preserves_flags)) };
                true
            } )*
            _ => false,
        }
    };
}

dbg_access!(
    (0, 0, 0, 4),
    (0, 0, 0, 5),
    (0, 0, 0, 6),
    (0, 0, 0, 7),
    (0, 0, 1, 4),
    (0, 0, 1, 5),
    (0, 0, 1, 6),
    (0, 0, 1, 7),
    (0, 0, 2, 4),
    (0, 0, 2, 5),
    (0, 0, 2, 6),
    (0, 0, 2, 7),
    (0, 0, 3, 4),
    (0, 0, 3, 5),
    (0, 0, 3, 6),
    (0, 0, 3, 7),
    (0, 0, 4, 4),
    (0, 0, 4, 5),
    (0, 0, 4, 6),
    (0, 0, 4, 7),
    (0, 0, 5, 4),
    (0, 0, 5, 5),
    (0, 0, 5, 6),
    (0, 0, 5, 7),
    (0, 0, 6, 4),
    (0, 0, 6, 5),
    (0, 0, 6, 6),
    (0, 0, 6, 7),
    (0, 0, 7, 4),
    (0, 0, 7, 5),
    (0, 0, 7, 6),
    (0, 0, 7, 7),
    (0, 0, 8, 4),
    (0, 0, 8, 5),
    (0, 0, 8, 6),
    (0, 0, 8, 7),
    (0, 0, 9, 4),
    (0, 0, 9, 5),
    (0, 0, 9, 6),
    (0, 0, 9, 7),
    (0, 0, 10, 4),
    (0, 0, 10, 5),
    (0, 0, 10, 6),
    (0, 0, 10, 7),
    (0, 0, 11, 4),
    (0, 0, 11, 5),
    (0, 0, 11, 6),
    (0, 0, 11, 7),
    (0, 0, 12, 4),
    (0, 0, 12, 5),
    (0, 0, 12, 6),
    (0, 0, 12, 7),
    (0, 0, 13, 4),
    (0, 0, 13, 5),
    (0, 0, 13, 6),
    (0, 0, 13, 7),
    (0, 0, 14, 4),
    (0, 0, 14, 5),
    (0, 0, 14, 6),
    (0, 0, 14, 7),
    (0, 0, 15, 4),
    (0, 0, 15, 5),
    (0, 0, 15, 6),
    (0, 0, 15, 7),
    (0, 0, 2, 0),
    (0, 0, 0, 2),
    (0, 0, 3, 2),
    (0, 0, 6, 2),
    (0, 1, 0, 4),
    (0, 1, 1, 4),
    (0, 1, 3, 4),
    (0, 1, 4, 4),
    (0, 7, 8, 6),
    (0, 7, 9, 6),
    (0, 7, 14, 6),
    (0, 1, 0, 0)
);
