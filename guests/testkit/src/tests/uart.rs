//! The PL011 as the guest sees it (PL011 TRM DDI 0183: identification registers).

use super::TestResult;
use crate::console::{read_reg, UARTFR, UARTFR_TXFF};
use crate::detail::{fail, Detail};
use crate::machine::Machine;

/// UARTPeriphID0..3 then UARTPCellID0..3 at 0xFE0..0xFFC, with the mask of
/// the bits that identify a PL011: part 0x011, designer 0x41 (Arm). The
/// revision nibble (PeriphID2[7:4]) differs between PL011 revisions (QEMU
/// reports 1, an r1p5 reports 3), so it is not checked, as Linux's AMBA bus
/// does not check it either.
const ID_REGS: [(usize, u32, u32); 8] = [
    (0xfe0, 0x11, 0xff),
    (0xfe4, 0x10, 0xff),
    (0xfe8, 0x04, 0x0f),
    (0xfec, 0x00, 0xff),
    (0xff0, 0x0d, 0xff),
    (0xff4, 0xf0, 0xff),
    (0xff8, 0x05, 0xff),
    (0xffc, 0xb1, 0xff),
];

pub fn uart_output(_: &Machine) -> TestResult {
    let fr = read_reg(UARTFR);
    if fr & UARTFR_TXFF != 0 {
        fail!("expected UARTFR.TXFF = 0, got FR={fr:#x}");
    }
    for (offset, expected, mask) in ID_REGS {
        let got = read_reg(offset);
        if got & mask != expected {
            fail!("PL011 ID register {offset:#x}: expected {expected:#04x}, got {got:#x}");
        }
    }
    Ok(Detail::empty())
}
