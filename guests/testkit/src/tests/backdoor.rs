//! The VMware-compatible backdoor (issue 5): requests through a read of
//! MDCCSR_EL0 (DCC transport) or `brk #0x5658` (BRK transport) from EL1 and
//! EL0, under the policy the command line announces (`backdoor=off|el1|all`,
//! `brk=<imm>`); malformed requests; GuestRPC channel misuse; and a GuestRPC
//! round trip over low and high bandwidth.
//!
//! The register protocol (open-vm-tools `backdoor_def.h`, arm64): x7 =
//! (0x86 << 32) | I/O flags, x0..x6 = eax..ebp, x0 = magic, x3[15:0] = port,
//! x2[15:0] = command. The testkit runs with the MMU off, so the guest
//! virtual addresses of high-bandwidth buffers are their physical addresses.

use core::cell::UnsafeCell;

use super::TestResult;
use crate::bootargs::{BackdoorPolicy, Options};
use crate::detail::{detail, fail, Detail};
use crate::exception::{self, ExceptionInfo, VectorKind, SAVED_REGS};
use crate::guard::Outcome;
use crate::machine::Machine;
use crate::sysreg::{isb, read_sysreg, write_sysreg};
use crate::user;

const MAGIC: u64 = 0x564D_5868;
const PORT_LB: u64 = 0x5658;
const PORT_HB: u64 = 0x5659;
/// The BRK immediate of the BRK transport the testkit can use (the
/// instruction encodes it, so it is fixed at build time).
const BRK_IMM: u16 = 0x5658;
const CMD_GETVERSION: u64 = 10;
const CMD_MESSAGE: u64 = 30;
/// GETVERSION's answers: protocol version and product type (ESX).
const VERSION: u64 = 6;
const PRODUCT: u64 = 2;
/// eax after an unknown command.
const FAIL_ALL_ONES: u64 = 0xFFFF_FFFF;

/// x7[63:32]: the backdoor signature.
const X7_SIGNATURE: u64 = 0x86 << 32;
/// x7 flags: size [1:0] (0 = 1 byte, 2 = 4 bytes), IN [2], port in DX [3], string [4].
const IO_SIZE4: u64 = 2;
const IO_IN: u64 = 1 << 2;
const IO_DX: u64 = 1 << 3;
const IO_STR: u64 = 1 << 4;
/// A low-bandwidth request as open-vm-tools builds it: IN, port in DX, 4 bytes.
const X7_LB: u64 = X7_SIGNATURE | IO_DX | IO_IN | IO_SIZE4;
/// High-bandwidth string OUT (guest to host) and IN, 1-byte units.
const X7_HB_OUT: u64 = X7_SIGNATURE | IO_STR | IO_DX;
const X7_HB_IN: u64 = X7_SIGNATURE | IO_STR | IO_DX | IO_IN;

/// GuestRPC message types (ecx[31:16]) and status bits (ecx[31:16] on return).
const MSG_OPEN: u64 = 0;
const MSG_SENDSIZE: u64 = 1;
const MSG_SENDPAYLOAD: u64 = 2;
const MSG_RECVSIZE: u64 = 3;
const MSG_RECVPAYLOAD: u64 = 4;
const MSG_RECVSTATUS: u64 = 5;
const MSG_CLOSE: u64 = 6;
const STATUS_SUCCESS: u64 = 0x1;
const STATUS_DORECV: u64 = 0x2;
const STATUS_CPT: u64 = 0x10;
const STATUS_HB: u64 = 0x80;
/// 'RPCI' with GUESTMSG_FLAG_COOKIE.
const RPCI_COOKIE: u64 = 0x4943_5052 | 0x8000_0000;
/// Channels a VM may have open at once.
const MAX_CHANNELS: usize = 8;

/// Addresses with no guest RAM behind them: IPA 0 (below RAM), and a VA
/// beyond the physical address range (with the MMU off it cannot translate).
const BAD_BUFFERS: [u64; 2] = [0x0, 0xFFFF_0000_0000];

const EC_BRK: u64 = 0x3c;
const MDSCR_TDCC: u64 = 1 << 12;
/// An ESR's IL bit.
const ESR_IL: u64 = 1 << 25;

const SKIPPED: &str = "skipped: no backdoor= on the command line";

type Regs = [u64; 8];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Dcc,
    Brk,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Dcc => "DCC",
            Transport::Brk => "BRK",
        }
    }
}

/// What the command line says the hypervisor does for this VM.
struct Policy {
    backdoor: BackdoorPolicy,
    brk: Option<u16>,
}

impl Policy {
    /// None when the command line has no `backdoor=` (old configs).
    fn of(machine: &Machine) -> Option<Self> {
        let options = Options::parse(machine.bootargs);
        Some(Self {
            backdoor: options.backdoor?,
            brk: options.brk,
        })
    }

    /// Whether a request over `t` from EL0 (`el0`) or EL1 is served.
    fn served(&self, t: Transport, el0: bool) -> bool {
        let on = match self.backdoor {
            BackdoorPolicy::Off => false,
            BackdoorPolicy::El1 => !el0,
            BackdoorPolicy::All => true,
        };
        on && (t == Transport::Dcc || self.brk == Some(BRK_IMM))
    }

    /// The transports served from EL1.
    fn el1_transports(&self) -> impl Iterator<Item = Transport> + '_ {
        [Transport::Dcc, Transport::Brk]
            .into_iter()
            .filter(|&t| self.served(t, false))
    }
}

/// One request from EL1. The instruction runs under `exception::catch`: a
/// request that is not served and raises an exception is skipped and reported.
fn el1_request(t: Transport, regs: Regs) -> (Regs, u64, Option<ExceptionInfo>) {
    let mut r = regs;
    let (pc, fault) = exception::catch(|| {
        let pc: u64;
        // SAFETY: the request instruction reads and writes only x0..x7 (the
        // hypervisor serves it) or traps to EL1, where the armed `catch`
        // skips it. High-bandwidth buffers named in the registers are statics
        // the hypervisor may write; the asm is not `nomem`.
        unsafe {
            match t {
                Transport::Dcc => core::arch::asm!(
                    "adr {pc}, 1f",
                    "1: mrs xzr, mdccsr_el0",
                    pc = out(reg) pc,
                    inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                    inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                    options(nostack),
                ),
                Transport::Brk => core::arch::asm!(
                    "adr {pc}, 1f",
                    "1: brk #{imm}",
                    pc = out(reg) pc,
                    imm = const BRK_IMM,
                    inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                    inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                    options(nostack),
                ),
            }
        }
        pc
    });
    (r, pc, fault)
}

/// A request from EL1 that must be served: its registers, or why not.
fn request(t: Transport, regs: Regs) -> Result<Regs, Detail> {
    match el1_request(t, regs) {
        (r, _, None) => Ok(r),
        (_, _, Some(info)) => Err(detail!(
            "{} request x2={:#x}: expected it served, got {info}",
            t.name(),
            regs[2]
        )),
    }
}

// The EL0 side: the request instruction, then `svc #0` back to EL1.
core::arch::global_asm!(
    r#"
    .section .text.user, "ax"
    .global testkit_user_dcc
testkit_user_dcc:
    mrs     x8, mdccsr_el0
    svc     #0
    .global testkit_user_brk
testkit_user_brk:
    brk     #{imm}
    svc     #0
"#,
    imm = const BRK_IMM,
);

unsafe extern "C" {
    fn testkit_user_dcc();
    fn testkit_user_brk();
}

impl Transport {
    fn user_code(self) -> u64 {
        match self {
            Transport::Dcc => testkit_user_dcc as *const () as u64,
            Transport::Brk => testkit_user_brk as *const () as u64,
        }
    }
}

/// How an EL0 request ended: at its `svc` with x0..x8, or with an exception.
enum El0 {
    Svc([u64; SAVED_REGS]),
    Exception(ExceptionInfo),
}

/// Runs one request at EL0 (x8 = `x8` before it; the DCC code reads
/// MDCCSR_EL0 into x8).
fn el0_request(t: Transport, regs: Regs, x8: u64) -> Result<El0, Detail> {
    let mut all = [0; SAVED_REGS];
    all[..8].copy_from_slice(&regs);
    all[8] = x8;
    match user::run(t.user_code(), user::SPSR_EL0T_MASKED, all) {
        Outcome::El0Svc(info) => Ok(El0::Svc(info.x)),
        Outcome::Unexpected(info) => Ok(El0::Exception(info)),
        Outcome::Returned | Outcome::Panicked => {
            Err(detail!("{} request at EL0 did not come back", t.name()))
        }
    }
}

/// Sets or clears the guest's MDSCR_EL1.TDCC; returns the old MDSCR_EL1.
fn set_tdcc(on: bool) -> u64 {
    let old = read_sysreg!("mdscr_el1");
    let new = if on {
        old | MDSCR_TDCC
    } else {
        old & !MDSCR_TDCC
    };
    write_sysreg!("mdscr_el1", new);
    isb();
    old
}

fn restore_mdscr(value: u64) {
    write_sysreg!("mdscr_el1", value);
    isb();
}

/// GETVERSION as vmware-checkvm sends it (ebx not the magic, so a reply is visible).
const GETVERSION: Regs = [
    MAGIC,
    0x1111,
    CMD_GETVERSION,
    PORT_LB,
    0x4444,
    0x5555,
    0x6666,
    X7_LB,
];

fn check_getversion(what: &str, r: &[u64]) -> Result<(), Detail> {
    if r[0] != VERSION || r[1] != MAGIC || r[2] != PRODUCT {
        fail!(
            "{what} GETVERSION: expected x0={VERSION} x1={MAGIC:#x} x2={PRODUCT}, got x0={:#x} x1={:#x} x2={:#x}",
            r[0],
            r[1],
            r[2]
        );
    }
    if r[3..7] != GETVERSION[3..7] {
        fail!(
            "{what} GETVERSION: expected x3..x6 unchanged {:x?}, got {:x?}",
            &GETVERSION[3..7],
            &r[3..7]
        );
    }
    Ok(())
}

/// A BRK #0x5658 that is not a request: delivered to EL1 as a BRK.
fn check_plain_brk(what: &str, info: &ExceptionInfo, vector: VectorKind, pc: u64) -> TestResult {
    let esr = (EC_BRK << 26) | ESR_IL | u64::from(BRK_IMM);
    if info.vector != vector || info.esr != esr || info.elr != pc {
        fail!("{what}: expected a BRK exception at {vector} ESR={esr:#x} ELR={pc:#x}, got {info}");
    }
    Ok(detail!("ESR={:#x}", info.esr))
}

fn transport_el1(machine: &Machine, t: Transport) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    let what = detail!("{} from EL1", t.name());
    let what = what.as_str();
    let (r, pc, fault) = el1_request(t, GETVERSION);
    if policy.served(t, false) {
        if let Some(info) = fault {
            fail!("{what}: expected GETVERSION served, got {info}");
        }
        check_getversion(what, &r)?;
        return Ok(detail!("served: version {} product {}", r[0], r[2]));
    }
    match (t, fault) {
        (Transport::Dcc, None) => {
            if r != GETVERSION {
                fail!("{what} with the backdoor off: expected x0..x7 untouched {GETVERSION:x?}, got {r:x?}");
            }
            Ok(detail!("not served: registers untouched"))
        }
        (Transport::Dcc, Some(info)) => {
            fail!("{what} with the backdoor off: expected MRS MDCCSR_EL0 to read, got {info}")
        }
        (Transport::Brk, None) => {
            fail!("{what} without the BRK transport: expected a BRK exception, none taken (x0={:#x} x1={:#x})", r[0], r[1])
        }
        (Transport::Brk, Some(info)) => {
            check_plain_brk(what, &info, VectorKind::CURRENT_SPX_SYNC, pc)
                .map(|d| detail!("not served: {d}"))
        }
    }
}

pub fn backdoor_dcc_el1(machine: &Machine) -> TestResult {
    transport_el1(machine, Transport::Dcc)
}

pub fn backdoor_brk_el1(machine: &Machine) -> TestResult {
    transport_el1(machine, Transport::Brk)
}

/// x8 before an EL0 DCC read: a value MDCCSR_EL0 cannot have.
const X8_SENTINEL: u64 = 0xdead_0000_0000_beef;

pub fn backdoor_dcc_el0(machine: &Machine) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    let served = policy.served(Transport::Dcc, true);
    // Linux sets MDSCR_EL1.TDCC: requests must be served (or not) either way.
    for tdcc in [false, true] {
        let old = set_tdcc(tdcc);
        let result = el0_request(Transport::Dcc, GETVERSION, X8_SENTINEL);
        restore_mdscr(old);
        let what = detail!("DCC from EL0 with TDCC={}", u8::from(tdcc));
        let what = what.as_str();
        match (result?, served, tdcc) {
            (El0::Svc(x), true, _) => check_getversion(what, &x)?,
            (El0::Exception(info), true, _) => {
                fail!("{what}: expected GETVERSION served, got {info}")
            }
            (El0::Svc(x), false, false) => {
                if x[..8] != GETVERSION || x[8] != 0 {
                    fail!("{what}, not served: expected an empty channel (x8 = 0) and x0..x7 untouched, got x0={:#x} x1={:#x} x2={:#x} x8={:#x}", x[0], x[1], x[2], x[8]);
                }
            }
            (El0::Exception(info), false, false) => {
                fail!("{what}, not served: expected MRS MDCCSR_EL0 to read an empty channel, got {info}")
            }
            (El0::Svc(x), false, true) => {
                fail!("{what}, not served: expected the TDCC trap, the MRS read {:#x} (x0={:#x} x1={:#x})", x[8], x[0], x[1])
            }
            (El0::Exception(info), false, true) => {
                check_el0_dcc_trap(what, &info, Transport::Dcc.user_code())?
            }
        }
    }
    Ok(detail!(
        "{}",
        if served {
            "served with TDCC clear and set"
        } else {
            "not served: empty channel, trapped (EC 0x18) under TDCC"
        }
    ))
}

/// ESR of the trap MDSCR_EL1.TDCC raises for the EL0 code's `mrs x8,
/// mdccsr_el0` (Arm ARM, MDCCSR_EL0 accessibility:
/// `AArch64.SystemAccessTrap(EL1, 0x18)`): EC 0x18, IL, ISS = Op0 2, Op2 0,
/// Op1 3, CRn 0, Rt 8, CRm 1, direction read.
const ESR_EL0_DCC_TRAP: u64 =
    (0x18 << 26) | ESR_IL | (2 << 20) | (3 << 14) | (8 << 5) | (1 << 1) | 1;

/// A DCC access from EL0 under the guest's MDSCR_EL1.TDCC: trapped to EL1
/// as a system register access (EC 0x18), not UNDEFINED.
fn check_el0_dcc_trap(what: &str, info: &ExceptionInfo, pc: u64) -> Result<(), Detail> {
    if info.vector != VectorKind::LOWER_A64_SYNC || info.esr != ESR_EL0_DCC_TRAP || info.elr != pc {
        fail!("{what}: expected the TDCC trap (EC 0x18, ESR={ESR_EL0_DCC_TRAP:#x}) from EL0 at {pc:#x}, got {info}");
    }
    Ok(())
}

pub fn backdoor_brk_el0(machine: &Machine) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    let what = "BRK from EL0";
    match el0_request(Transport::Brk, GETVERSION, 0)? {
        El0::Svc(x) if policy.served(Transport::Brk, true) => {
            check_getversion(what, &x)?;
            Ok(detail!("served: version {} product {}", x[0], x[2]))
        }
        El0::Exception(info) if policy.served(Transport::Brk, true) => {
            fail!("{what}: expected GETVERSION served, got {info}")
        }
        El0::Svc(x) => fail!(
            "{what}, not served: expected a BRK exception, none taken (x0={:#x} x1={:#x})",
            x[0],
            x[1]
        ),
        El0::Exception(info) => check_plain_brk(
            what,
            &info,
            VectorKind::LOWER_A64_SYNC,
            Transport::Brk.user_code(),
        )
        .map(|d| detail!("not served: {d}")),
    }
}

/// A DCC read without the backdoor signature is architectural under every
/// policy: an empty channel from EL1 and EL0, trapped from EL0 under TDCC.
pub fn backdoor_dcc_plain(_: &Machine) -> TestResult {
    let mut regs = GETVERSION;
    regs[7] = 0;
    let (value, fault) = exception::catch(|| {
        let value: u64;
        // SAFETY: reading MDCCSR_EL0 has no memory effects; x0..x7 are
        // declared as possibly written in case a hypervisor got it wrong.
        unsafe {
            core::arch::asm!(
                "mrs {v}, mdccsr_el0",
                v = out(reg) value,
                inout("x0") regs[0], inout("x1") regs[1], inout("x2") regs[2], inout("x3") regs[3],
                inout("x4") regs[4], inout("x5") regs[5], inout("x6") regs[6], inout("x7") regs[7],
                options(nomem, nostack),
            )
        }
        value
    });
    if let Some(info) = fault {
        fail!("MRS MDCCSR_EL0 at EL1 (x7 = 0): expected a read, got {info}");
    }
    let mut plain = GETVERSION;
    plain[7] = 0;
    if value != 0 || regs != plain {
        fail!("MRS MDCCSR_EL0 at EL1 (x7 = 0): expected 0 (empty channel) and x0..x7 untouched, got {value:#x}, x0={:#x} x1={:#x}", regs[0], regs[1]);
    }
    for tdcc in [false, true] {
        let old = set_tdcc(tdcc);
        let result = el0_request(Transport::Dcc, plain, X8_SENTINEL);
        restore_mdscr(old);
        let what = detail!(
            "MRS MDCCSR_EL0 at EL0 (x7 = 0) with TDCC={}",
            u8::from(tdcc)
        );
        let what = what.as_str();
        match (result?, tdcc) {
            (El0::Svc(x), false) => {
                if x[8] != 0 || x[..8] != plain {
                    fail!("{what}: expected 0 (empty channel) and x0..x7 untouched, got {:#x}, x0={:#x} x1={:#x}", x[8], x[0], x[1]);
                }
            }
            (El0::Exception(info), false) => fail!("{what}: expected a read, got {info}"),
            (El0::Svc(x), true) => {
                fail!("{what}: expected the TDCC trap, the MRS read {:#x}", x[8])
            }
            (El0::Exception(info), true) => {
                check_el0_dcc_trap(what, &info, Transport::Dcc.user_code())?
            }
        }
    }
    Ok(detail!(
        "EL1 and EL0 read an empty channel, EL0 trapped (EC 0x18) under TDCC"
    ))
}

/// One malformed request and the registers it must leave.
struct Case {
    what: &'static str,
    regs: Regs,
    want: Regs,
}

fn with(mut regs: Regs, i: usize, value: u64) -> Regs {
    regs[i] = value;
    regs
}

pub fn backdoor_malformed(machine: &Machine) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    if policy.el1_transports().next().is_none() {
        return Ok(detail!("skipped: backdoor off"));
    }
    // x0 with bits above w0 set: a register IN clears them.
    let bad_magic = 0xAAAA_0000_1234_5678;
    let cases = [
        Case {
            what: "bad magic, 4-byte IN",
            regs: with(GETVERSION, 0, bad_magic),
            want: with(GETVERSION, 0, 0xFFFF_FFFF),
        },
        Case {
            what: "bad magic, 1-byte IN",
            regs: with(
                with(GETVERSION, 0, bad_magic),
                7,
                X7_SIGNATURE | IO_DX | IO_IN,
            ),
            want: with(
                with(GETVERSION, 0, 0x1234_56FF),
                7,
                X7_SIGNATURE | IO_DX | IO_IN,
            ),
        },
        Case {
            what: "port 0x1234, IN",
            regs: with(GETVERSION, 3, 0x1234),
            want: with(with(GETVERSION, 3, 0x1234), 0, 0xFFFF_FFFF),
        },
        Case {
            what: "port 0x1234, OUT",
            regs: with(
                with(GETVERSION, 3, 0x1234),
                7,
                X7_SIGNATURE | IO_DX | IO_SIZE4,
            ),
            want: with(
                with(GETVERSION, 3, 0x1234),
                7,
                X7_SIGNATURE | IO_DX | IO_SIZE4,
            ),
        },
        Case {
            what: "high-bandwidth port without string I/O",
            regs: with(GETVERSION, 3, PORT_HB),
            want: with(with(GETVERSION, 3, PORT_HB), 0, 0xFFFF_FFFF),
        },
        Case {
            what: "unknown command 0xfe",
            regs: with(GETVERSION, 2, 0xfe),
            want: with(with(GETVERSION, 2, 0xfe), 0, FAIL_ALL_ONES),
        },
    ];
    for t in policy.el1_transports() {
        for case in &cases {
            let r = request(t, case.regs)?;
            if r != case.want {
                fail!(
                    "{} {}: expected x0..x7 {:x?}, got {r:x?}",
                    t.name(),
                    case.what,
                    case.want
                );
            }
        }
    }
    Ok(detail!(
        "{} cases: no device / all ones, nothing faulted",
        cases.len()
    ))
}

// ---- GuestRPC ----

/// An open GuestRPC channel.
struct Chan {
    t: Transport,
    id: u64,
    high: u64,
    low: u64,
}

fn status(r: &Regs) -> u64 {
    (r[2] >> 16) & 0xffff
}

/// A BDOOR_CMD_MESSAGE request on the low-bandwidth port.
fn message(t: Transport, op: u64, ebx: u64, id: u64, high: u64, low: u64) -> Result<Regs, Detail> {
    request(
        t,
        [
            MAGIC,
            ebx,
            (op << 16) | CMD_MESSAGE,
            (id << 16) | PORT_LB,
            high,
            low,
            0,
            X7_LB,
        ],
    )
}

/// Opens an RPCI channel with cookies; None if the open failed.
fn open(t: Transport) -> Result<Option<Chan>, Detail> {
    let r = message(t, MSG_OPEN, RPCI_COOKIE, 0, 0, 0)?;
    Ok((status(&r) & STATUS_SUCCESS != 0).then(|| Chan {
        t,
        id: (r[3] >> 16) & 0xffff,
        high: r[4] & 0xffff_ffff,
        low: r[5] & 0xffff_ffff,
    }))
}

impl Chan {
    fn op(&self, op: u64, ebx: u64) -> Result<Regs, Detail> {
        message(self.t, op, ebx, self.id, self.high, self.low)
    }

    fn close(&self) -> Result<u64, Detail> {
        Ok(status(&self.op(MSG_CLOSE, 0)?))
    }

    /// A high-bandwidth transfer of `len` bytes at `buf`; the status (ebx[31:16]).
    fn hb(&self, is_in: bool, buf: u64, len: u64) -> Result<u64, Detail> {
        let (x4, x5, x6, x7) = if is_in {
            (self.high, buf, self.low, X7_HB_IN)
        } else {
            (buf, self.low, self.high, X7_HB_OUT)
        };
        let r = request(
            self.t,
            [
                MAGIC,
                STATUS_SUCCESS << 16,
                len,
                (self.id << 16) | PORT_HB,
                x4,
                x5,
                x6,
                x7,
            ],
        )?;
        Ok((r[1] >> 16) & 0xffff)
    }
}

/// Opens a channel, or fails the test.
fn must_open(t: Transport) -> Result<Chan, Detail> {
    open(t)?.ok_or_else(|| detail!("{}: GuestRPC open of an RPCI channel failed", t.name()))
}

/// A buffer the hypervisor reads or writes by guest address.
#[repr(C, align(16))]
struct HbBuffer(UnsafeCell<[u8; HB_BUFFER_SIZE]>);

const HB_BUFFER_SIZE: usize = 256;

// SAFETY: only the boot CPU's tests use it, one transfer at a time.
unsafe impl Sync for HbBuffer {}

static HB_BUFFER: HbBuffer = HbBuffer(UnsafeCell::new([0; HB_BUFFER_SIZE]));

impl HbBuffer {
    fn addr(&self) -> u64 {
        self.0.get() as u64
    }

    fn fill(&self, bytes: &[u8], pad: u8) {
        let base = self.0.get() as *mut u8;
        for i in 0..HB_BUFFER_SIZE {
            let b = bytes.get(i).copied().unwrap_or(pad);
            // SAFETY: i < HB_BUFFER_SIZE; volatile, as the hypervisor reads it
            // behind the compiler's back.
            unsafe { base.add(i).write_volatile(b) };
        }
    }

    fn read(&self, out: &mut [u8]) {
        let base = self.0.get() as *const u8;
        for (i, slot) in out.iter_mut().enumerate().take(HB_BUFFER_SIZE) {
            // SAFETY: i < HB_BUFFER_SIZE; volatile, as the hypervisor wrote it.
            *slot = unsafe { base.add(i).read_volatile() };
        }
    }
}

/// A GuestRPC reply.
struct Reply {
    buf: [u8; HB_BUFFER_SIZE],
    len: usize,
}

impl Reply {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("<not UTF-8>")
    }
}

/// RpcOut_send: send `req`, receive the reply, over low bandwidth (4 bytes
/// per request) or high bandwidth (whole buffers; only if `hb`).
fn rpc(c: &Chan, req: &[u8], hb: bool) -> Result<Reply, Detail> {
    let name = c.t.name();
    let r = c.op(MSG_SENDSIZE, req.len() as u64)?;
    if status(&r) & STATUS_SUCCESS == 0 {
        fail!("{name} SENDSIZE {}: failed, ecx={:#x}", req.len(), r[2]);
    }
    if hb {
        if status(&r) & STATUS_HB == 0 {
            fail!(
                "{name} SENDSIZE: high bandwidth not offered, ecx={:#x}",
                r[2]
            );
        }
        HB_BUFFER.fill(req, 0xEE);
        let st = c.hb(false, HB_BUFFER.addr(), req.len() as u64)?;
        if st & STATUS_SUCCESS == 0 {
            fail!("{name} HB OUT of {} bytes: status {st:#x}", req.len());
        }
    } else {
        for chunk in req.chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            let r = c.op(MSG_SENDPAYLOAD, u64::from(u32::from_le_bytes(w)))?;
            if status(&r) & STATUS_SUCCESS == 0 {
                fail!("{name} SENDPAYLOAD: failed, ecx={:#x}", r[2]);
            }
        }
    }
    let r = c.op(MSG_RECVSIZE, 0)?;
    let st = status(&r);
    if st & STATUS_SUCCESS == 0 || st & STATUS_DORECV == 0 {
        fail!("{name} RECVSIZE: expected SUCCESS|DORECV, ecx={:#x}", r[2]);
    }
    if (r[3] >> 16) & 0xffff != MSG_SENDSIZE {
        fail!("{name} RECVSIZE: expected edx[31:16] = 1, edx={:#x}", r[3]);
    }
    let len = (r[1] & 0xffff_ffff) as usize;
    if len > HB_BUFFER_SIZE {
        fail!("{name} RECVSIZE: reply of {len} bytes, more than expected");
    }
    let mut reply = Reply {
        buf: [0; HB_BUFFER_SIZE],
        len,
    };
    if hb {
        if st & STATUS_HB == 0 {
            fail!(
                "{name} RECVSIZE: high bandwidth not offered, ecx={:#x}",
                r[2]
            );
        }
        HB_BUFFER.fill(&[], 0xEE);
        let st = c.hb(true, HB_BUFFER.addr(), len as u64)?;
        if st & STATUS_SUCCESS == 0 {
            fail!("{name} HB IN of {len} bytes: status {st:#x}");
        }
        HB_BUFFER.read(&mut reply.buf[..len]);
    } else {
        for chunk in reply.buf[..len].chunks_mut(4) {
            let r = c.op(MSG_RECVPAYLOAD, STATUS_SUCCESS)?;
            if status(&r) & STATUS_SUCCESS == 0 || (r[3] >> 16) & 0xffff != MSG_SENDPAYLOAD {
                fail!(
                    "{name} RECVPAYLOAD: failed, ecx={:#x} edx={:#x}",
                    r[2],
                    r[3]
                );
            }
            let n = chunk.len();
            chunk.copy_from_slice(&(r[1] as u32).to_le_bytes()[..n]);
        }
    }
    let r = c.op(MSG_RECVSTATUS, STATUS_SUCCESS)?;
    if status(&r) & STATUS_SUCCESS == 0 {
        fail!("{name} RECVSTATUS: failed, ecx={:#x}", r[2]);
    }
    Ok(reply)
}

/// Whether the backdoor offers high bandwidth (RECVSIZE with nothing
/// pending reports it).
fn hb_offered(c: &Chan) -> Result<bool, Detail> {
    Ok(status(&c.op(MSG_RECVSIZE, 0)?) & STATUS_HB != 0)
}

fn expect_reply(c: &Chan, req: &str, hb: bool, want: &str) -> Result<(), Detail> {
    let reply = rpc(c, req.as_bytes(), hb)?;
    if reply.as_str() != want {
        fail!(
            "{} {} \"{req}\": expected reply \"{want}\", got \"{}\"",
            c.t.name(),
            if hb { "HB" } else { "LB" },
            reply.as_str()
        );
    }
    Ok(())
}

pub fn backdoor_rpc_roundtrip(machine: &Machine) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    if policy.el1_transports().next().is_none() {
        return Ok(detail!("skipped: backdoor off"));
    }
    let mut hb_any = false;
    for t in policy.el1_transports() {
        let c = must_open(t)?;
        let result = (|| {
            let hb = hb_offered(&c)?;
            hb_any |= hb;
            let modes: &[bool] = if hb { &[false, true] } else { &[false] };
            for &mode in modes {
                expect_reply(
                    &c,
                    "info-set guestinfo.testkit hello from the testkit",
                    mode,
                    "1 ",
                )?;
                expect_reply(
                    &c,
                    "info-get guestinfo.testkit",
                    mode,
                    "1 hello from the testkit",
                )?;
                expect_reply(&c, "info-get guestinfo.greeting", mode, "1 from-config")?;
                expect_reply(&c, "no-such-command", mode, "0 Unknown command")?;
            }
            Ok::<(), Detail>(())
        })();
        let closed = c.close();
        result?;
        if closed? & STATUS_SUCCESS == 0 {
            fail!("{}: CLOSE failed", t.name());
        }
    }
    Ok(detail!(
        "info-set/info-get/greeting over low{} bandwidth",
        if hb_any {
            " and high"
        } else {
            " (high not offered)"
        }
    ))
}

/// Checks a GuestRPC step failed: no SUCCESS in ecx[31:16].
fn expect_failed(what: impl core::fmt::Display, r: &Regs) -> Result<(), Detail> {
    if status(r) & STATUS_SUCCESS != 0 {
        fail!(
            "{what}: expected it refused (no SUCCESS), got ecx={:#x}",
            r[2]
        );
    }
    Ok(())
}

fn misuse(t: Transport) -> Result<(), Detail> {
    let name = t.name();
    expect_failed(
        detail!("{name} OPEN of protocol 0x1234"),
        &message(t, MSG_OPEN, 0x1234, 0, 0, 0)?,
    )?;
    let c = must_open(t)?;
    let result = (|| {
        expect_failed(
            detail!("{name} SENDPAYLOAD without SENDSIZE"),
            &c.op(MSG_SENDPAYLOAD, 0x4141_4141)?,
        )?;
        let r = c.op(MSG_RECVSIZE, 0)?;
        if status(&r) & STATUS_DORECV != 0 || r[1] & 0xffff_ffff != 0 {
            fail!("{name} RECVSIZE with nothing pending: expected no DORECV and size 0, got ecx={:#x} ebx={:#x}", r[2], r[1]);
        }
        expect_failed(
            detail!("{name} RECVPAYLOAD with nothing pending"),
            &c.op(MSG_RECVPAYLOAD, STATUS_SUCCESS)?,
        )?;
        expect_failed(
            detail!("{name} RECVSTATUS with nothing pending"),
            &c.op(MSG_RECVSTATUS, STATUS_SUCCESS)?,
        )?;
        for huge in [0x7fff_ffff, 0xffff_ffff] {
            expect_failed(
                detail!("{name} SENDSIZE {huge:#x}"),
                &c.op(MSG_SENDSIZE, huge)?,
            )?;
        }
        expect_failed(detail!("{name} message type 9"), &c.op(9, 0)?)?;
        expect_failed(
            detail!("{name} SENDSIZE with a wrong cookie"),
            &message(t, MSG_SENDSIZE, 4, c.id, c.high ^ 1, c.low)?,
        )?;
        for id in [MAX_CHANNELS as u64, 0xffff] {
            expect_failed(
                detail!("{name} SENDSIZE on channel {id:#x}"),
                &message(t, MSG_SENDSIZE, 4, id, c.high, c.low)?,
            )?;
        }
        // The channel still works after all that.
        expect_reply(
            &c,
            "info-get guestinfo.testkit-none",
            false,
            "0 No value found",
        )
    })();
    let first = c.close()?;
    result?;
    if first & STATUS_SUCCESS == 0 {
        fail!("{name} CLOSE: failed");
    }
    expect_failed(detail!("{name} second CLOSE"), &c.op(MSG_CLOSE, 0)?)?;

    // At most MAX_CHANNELS at once: open until refused, then close them all.
    let mut chans: [Option<Chan>; MAX_CHANNELS + 1] = Default::default();
    let mut opened = 0;
    for slot in chans.iter_mut() {
        *slot = open(t)?;
        if slot.is_none() {
            break;
        }
        opened += 1;
    }
    for c in chans.iter().flatten() {
        if c.close()? & STATUS_SUCCESS == 0 {
            fail!("{name} CLOSE of channel {}: failed", c.id);
        }
    }
    if opened != MAX_CHANNELS {
        fail!("{name}: expected exactly {MAX_CHANNELS} channels open at once, opened {opened}");
    }
    Ok(())
}

pub fn backdoor_rpc_misuse(machine: &Machine) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    if policy.el1_transports().next().is_none() {
        return Ok(detail!("skipped: backdoor off"));
    }
    for t in policy.el1_transports() {
        misuse(t)?;
    }
    Ok(detail!(
        "every misuse refused, {MAX_CHANNELS} channels at most"
    ))
}

pub fn backdoor_hb_bad_buffer(machine: &Machine) -> TestResult {
    let Some(policy) = Policy::of(machine) else {
        return Ok(detail!("{SKIPPED}"));
    };
    let Some(t) = policy.el1_transports().next() else {
        return Ok(detail!("skipped: backdoor off"));
    };
    let c = must_open(t)?;
    let result = (|| {
        if !hb_offered(&c)? {
            return Ok(false);
        }
        let req = b"info-get guestinfo.testkit-none";
        let len = req.len() as u64;
        for bad in BAD_BUFFERS {
            c.op(MSG_SENDSIZE, len)?;
            let st = c.hb(false, bad, len)?;
            if st != STATUS_CPT {
                fail!("HB OUT from {bad:#x}: expected failure with the retry hint (CPT), status {st:#x}");
            }
            // The retry (message.c starts over at SENDSIZE) is offered low
            // bandwidth only.
            let r = c.op(MSG_SENDSIZE, len)?;
            if status(&r) != STATUS_SUCCESS {
                fail!(
                    "SENDSIZE after a failed HB OUT: expected SUCCESS without HB, ecx={:#x}",
                    r[2]
                );
            }
        }
        // A good send, then bad receives; the reply survives them.
        c.op(MSG_SENDSIZE, len)?;
        HB_BUFFER.fill(req, 0);
        let st = c.hb(false, HB_BUFFER.addr(), len)?;
        if st & STATUS_SUCCESS == 0 {
            fail!(
                "HB OUT from the buffer at {:#x}: status {st:#x}",
                HB_BUFFER.addr()
            );
        }
        let r = c.op(MSG_RECVSIZE, 0)?;
        let size = r[1] & 0xffff_ffff;
        if status(&r) & STATUS_DORECV == 0 || size == 0 {
            fail!(
                "RECVSIZE after HB OUT: expected a reply, ecx={:#x} ebx={:#x}",
                r[2],
                r[1]
            );
        }
        for bad in BAD_BUFFERS {
            let st = c.hb(true, bad, size)?;
            if st != STATUS_CPT {
                fail!(
                    "HB IN to {bad:#x}: expected failure with the retry hint (CPT), status {st:#x}"
                );
            }
        }
        // message.c's retry: RECVSIZE again, which now offers the same reply
        // over low bandwidth only.
        let r = c.op(MSG_RECVSIZE, 0)?;
        if status(&r) != STATUS_SUCCESS | STATUS_DORECV || r[1] & 0xffff_ffff != size {
            fail!(
                "RECVSIZE after failed HB INs: expected SUCCESS|DORECV without HB and size {size}, ecx={:#x} ebx={:#x}",
                r[2],
                r[1]
            );
        }
        let mut got = [0u8; HB_BUFFER_SIZE];
        let n = (size as usize).min(HB_BUFFER_SIZE);
        for chunk in got[..n].chunks_mut(4) {
            let r = c.op(MSG_RECVPAYLOAD, STATUS_SUCCESS)?;
            let k = chunk.len();
            chunk.copy_from_slice(&(r[1] as u32).to_le_bytes()[..k]);
        }
        if &got[..n] != b"0 No value found" {
            fail!(
                "low-bandwidth retry after failed HB INs: expected \"0 No value found\", got {:?}",
                core::str::from_utf8(&got[..n])
            );
        }
        c.op(MSG_RECVSTATUS, STATUS_SUCCESS)?;
        // The next conversation is offered high bandwidth again.
        expect_reply(&c, "info-get guestinfo.greeting", true, "1 from-config")?;
        Ok(true)
    })();
    let closed = c.close();
    let offered = result?;
    closed?;
    if !offered {
        return Ok(detail!("skipped: high bandwidth not offered"));
    }
    Ok(detail!(
        "HB OUT/IN with {:#x} and {:#x} refused (retry hint), no fault; retried over LB",
        BAD_BUFFERS[0],
        BAD_BUFFERS[1]
    ))
}
