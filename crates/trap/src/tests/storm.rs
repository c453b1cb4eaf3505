//! A guest gone wrong, seen from the trap path: seeded pseudo-random debug
//! register accesses and exit syndromes thrown at this crate. Aerie runs all
//! of it in EL2 on the guest's behalf, so whatever arrives it must not
//! panic, and must keep what its doc comments and the Arm ARM promise:
//!
//! - `VirtualDebug`: every debug register it models (DBGB/WVR, DBGB/WCR
//!   in and out of the implemented count, MDSCR_EL1, OSLAR/OSLSR, the
//!   storage registers OSDLR, OSECCR, OSDTRRX/TX, MDCCINT, DBGPRCR, the
//!   claim tags, MDRAR, DBGAUTHSTATUS) reads back what a reference model of
//!   the doc comments says, and each write asks for the documented hardware
//!   update. The hardware image never lets a breakpoint or watchpoint match
//!   above EL1 (checked against the Arm ARM's `AArch64.StateMatch` and
//!   `CheckValidStateMatch`, reserved combinations included), never has
//!   MDSCR_EL1.TDCC set, and the OS double lock is never handed to the
//!   hardware;
//! - `decode`: every exit is the variant its exception class names, with
//!   the fields where the Arm ARM puts them; fault status codes, PAR_EL1
//!   and sanitised ID registers stay consistent;
//! - the injections: the guest resumes at VBAR_EL1 plus the architectural
//!   vector for where it was (0x000/0x200/0x400/0x600, synchronous), in EL1h
//!   with D, A, I and F masked, with SPSR_EL1 the old PSTATE (SS cleared
//!   only for a software step), ELR_EL1 the faulting PC and the exception
//!   class matching the kind of exception.
//!
//! The architectural constants below are written out from the Arm ARM, not
//! taken from the crate.

use crate::debug_regs::{MAX_POINTS, MDSCR_KDE, MDSCR_SS, MDSCR_TDCC};
use crate::exit::WfxKind;
use crate::{
    decode, fsc, inject_data_abort, inject_debug, inject_instr_abort, inject_sync,
    inject_undefined, par, pstate, sanitize_id_register, DebugReg, Esr, Exit, HwUpdate, Injection,
    SysReg, VirtualDebug,
};
use aerie_testrng::Rng;

// DBGBCR<n>_EL1 / DBGWCR<n>_EL1 fields (Arm ARM D24.3).
/// E: the point is enabled.
const CR_E: u64 = 1 << 0;
/// PMC (breakpoints) / PAC (watchpoints), bits \[2:1\]: EL1 (bit 1), EL0 (bit 2).
const CR_PXC: u64 = 0b11 << 1;
/// HMC, bit 13: higher mode control.
const CR_HMC: u64 = 1 << 13;
/// SSC, bits \[15:14\]: security state control.
const CR_SSC: u64 = 0b11 << 14;
/// SSCE, bit 29: security state control extended (FEAT_RME, else RES0).
const CR_SSCE: u64 = 1 << 29;

/// OSLSR_EL1: OSLM = 0b10 (bits 3 and 0), OSLK (bit 1).
const OSLSR_OSLM: u64 = 0b1000;
const OSLSR_OSLK: u64 = 0b10;

/// The named debug registers the crate virtualises (its `DebugReg` doc
/// comments), with what a guest sees.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Named {
    Mdscr,
    Oslar,
    Oslsr,
    /// Reads back what was written; the index is into [`STORAGE`].
    Storage(usize),
    ClaimSet,
    ClaimClr,
    ReadOnly(u64),
    Dcc,
}

/// MDCCINT, OSDLR, OSECCR, OSDTRRX, OSDTRTX, DBGPRCR: pure storage.
const STORAGE: [SysReg; 6] = [
    SysReg::MDCCINT_EL1,
    SysReg::OSDLR_EL1,
    SysReg::OSECCR_EL1,
    SysReg::OSDTRRX_EL1,
    SysReg::OSDTRTX_EL1,
    SysReg::DBGPRCR_EL1,
];

fn named() -> [(SysReg, Named); 16] {
    [
        (SysReg::MDSCR_EL1, Named::Mdscr),
        (SysReg::OSLAR_EL1, Named::Oslar),
        (SysReg::OSLSR_EL1, Named::Oslsr),
        (SysReg::MDCCINT_EL1, Named::Storage(0)),
        (SysReg::OSDLR_EL1, Named::Storage(1)),
        (SysReg::OSECCR_EL1, Named::Storage(2)),
        (SysReg::OSDTRRX_EL1, Named::Storage(3)),
        (SysReg::OSDTRTX_EL1, Named::Storage(4)),
        (SysReg::DBGPRCR_EL1, Named::Storage(5)),
        (SysReg::DBGCLAIMSET_EL1, Named::ClaimSet),
        (SysReg::DBGCLAIMCLR_EL1, Named::ClaimClr),
        (SysReg::MDRAR_EL1, Named::ReadOnly(0)),
        // NSID = NSNID = 0b11, Secure not implemented.
        (SysReg::DBGAUTHSTATUS_EL1, Named::ReadOnly(0b1111)),
        (SysReg::MDCCSR_EL0, Named::Dcc),
        (SysReg::DBGDTR_EL0, Named::Dcc),
        (SysReg::DBGDTRRX_EL0, Named::Dcc),
    ]
}

/// What the guest should see, from the doc comments: reads return what was
/// written (point registers and MDSCR_EL1 in full), the OS lock is set from
/// reset and follows OSLAR_EL1 bit 0, the claim tags are bits \[7:0\].
#[derive(Clone)]
struct Model {
    bvr: [u64; MAX_POINTS],
    bcr: [u64; MAX_POINTS],
    wvr: [u64; MAX_POINTS],
    wcr: [u64; MAX_POINTS],
    mdscr: u64,
    os_lock: bool,
    storage: [u64; STORAGE.len()],
    claim: u64,
    points_used: bool,
}

impl Model {
    fn reset() -> Model {
        Model {
            bvr: [0; MAX_POINTS],
            bcr: [0; MAX_POINTS],
            wvr: [0; MAX_POINTS],
            wcr: [0; MAX_POINTS],
            mdscr: 0,
            os_lock: true,
            storage: [0; STORAGE.len()],
            claim: 0,
            points_used: false,
        }
    }
}

/// Whether an enabled breakpoint or watchpoint whose control register holds
/// `cr` can only ever generate debug events at EL1 and EL0, on any
/// implementation with EL2 (with or without EL3, AArch32 at EL1, Secure EL2
/// or RME). From the Arm ARM pseudocode:
///
/// - `AArch64.StateMatch`: EL2_match = (HMC = 1 && SSC:PxC != 0b1000) ||
///   SSC = 0b11; EL3_match = HMC = 1 && SSC\[0\] = 0. So HMC = 0 and
///   SSC != 0b11.
/// - `CheckValidStateMatch`: a reserved combination is CONSTRAINED
///   UNPREDICTABLE, the point disabled or behaving as *any* combination
///   that is not reserved, an EL2 one included. Reserved: HMC:PxC = 0b000
///   (with SSC != 0b11) for a watchpoint, and for a breakpoint when EL1 is
///   AArch64-only; SSC = 0b01 or 0b10 without EL3; SSCE = 1 unless SSC =
///   0b01 (and SSCE is RES0 without RME). So SSC = 0b00, SSCE = 0 and
///   PxC != 0b00.
fn matches_only_el1_el0(cr: u64) -> bool {
    cr & (CR_HMC | CR_SSC | CR_SSCE) == 0 && cr & CR_PXC != 0
}

/// The guest's PSTATE: an AArch64 EL0t/EL1t/EL1h or AArch32 User origin
/// (all a guest can be in), the other bits anything.
fn guest_pstate(rng: &mut Rng) -> u64 {
    let m = rng.pick(&[
        pstate::M_EL0T,
        pstate::M_EL1T,
        pstate::M_EL1H,
        pstate::M_AARCH32, // User mode
    ]);
    let rest = if rng.chance(50) {
        rng.next_u64()
    } else {
        rng.next_u64()
            & rng.pick(&[
                pstate::D | pstate::SS,
                pstate::DAIF | pstate::NZCV,
                pstate::SS | pstate::PAN | pstate::DIT | pstate::ALLINT | pstate::SSBS,
                0,
            ])
    };
    (rest & !pstate::M_MASK) | m
}

/// A control register value: now and then anything, mostly a plausible
/// point with random HMC/SSC/SSCE/PxC so that every combination shows up.
fn control(rng: &mut Rng) -> u64 {
    if rng.chance(40) {
        return rng.next_u64();
    }
    let mut cr = rng.next_u64() & rng.pick(&[0, 0xff << 5, 0x00ff_01e0, u64::MAX]);
    cr &= !(CR_E | CR_PXC | CR_HMC | CR_SSC | CR_SSCE);
    cr | rng.below(2)
        | (rng.below(4) << 1)
        | (rng.below(2) << 13)
        | (rng.below(4) << 14)
        | (rng.below(2) << 29)
}

/// A debug register encoding: a point register (mostly implemented, else
/// any CRm 0..15), a named one, or anything at all.
fn encoding(rng: &mut Rng, table: &[(SysReg, Named)], points: usize) -> SysReg {
    match rng.below(10) {
        0..=4 => {
            let n = if rng.chance(80) {
                rng.below(points as u64 + 1)
            } else {
                rng.below(16)
            };
            SysReg::new(2, 0, 0, n as u8, 4 + rng.below(4) as u8)
        }
        5..=8 => rng.pick(table).0,
        _ => {
            let op0 = if rng.chance(70) {
                2
            } else {
                rng.below(4) as u8
            };
            let r = rng.next_u64();
            SysReg::new(
                op0,
                r as u8,
                (r >> 8) as u8,
                (r >> 16) as u8,
                (r >> 24) as u8,
            )
        }
    }
}

/// What `DebugReg::decode` must say for `reg` with `brps`/`wrps` points.
fn expected_decode(
    reg: SysReg,
    brps: usize,
    wrps: usize,
    table: &[(SysReg, Named)],
) -> Option<DebugReg> {
    if reg.op0 == 2 && reg.op1 == 0 && reg.crn == 0 && (4..=7).contains(&reg.op2) {
        let n = usize::from(reg.crm);
        return match reg.op2 {
            4 if n < brps => Some(DebugReg::Bvr(n)),
            5 if n < brps => Some(DebugReg::Bcr(n)),
            6 if n < wrps => Some(DebugReg::Wvr(n)),
            7 if n < wrps => Some(DebugReg::Wcr(n)),
            _ => None,
        };
    }
    let (_, kind) = table.iter().find(|(r, _)| *r == reg)?;
    Some(match *kind {
        Named::Mdscr => DebugReg::Mdscr,
        Named::Oslar => DebugReg::Oslar,
        Named::Oslsr => DebugReg::Oslsr,
        Named::Storage(_) => DebugReg::Storage(usize::MAX), // any slot; checked by value
        Named::ClaimSet => DebugReg::DbgClaimSet,
        Named::ClaimClr => DebugReg::DbgClaimClr,
        Named::ReadOnly(v) => DebugReg::ReadOnly(v),
        Named::Dcc => DebugReg::Dcc,
    })
}

/// The guest's view of `reg` in the model; `None` for DCC (the caller's).
fn model_read(m: &Model, reg: SysReg, d: DebugReg, table: &[(SysReg, Named)]) -> Option<u64> {
    Some(match d {
        DebugReg::Bvr(n) => m.bvr[n],
        DebugReg::Bcr(n) => m.bcr[n],
        DebugReg::Wvr(n) => m.wvr[n],
        DebugReg::Wcr(n) => m.wcr[n],
        DebugReg::Mdscr => m.mdscr,
        DebugReg::Oslar => 0,
        DebugReg::Oslsr => OSLSR_OSLM | if m.os_lock { OSLSR_OSLK } else { 0 },
        DebugReg::Storage(_) => {
            let i = STORAGE.iter().position(|r| *r == reg).unwrap();
            m.storage[i]
        }
        // All eight claim tags implemented.
        DebugReg::DbgClaimSet => 0xff,
        DebugReg::DbgClaimClr => m.claim,
        DebugReg::ReadOnly(v) => {
            assert!(table
                .iter()
                .any(|(r, k)| *r == reg && *k == Named::ReadOnly(v)));
            v
        }
        DebugReg::Dcc => return None,
    })
}

/// The hardware image after any step: sanitised as documented, and safe.
fn check_hardware_image(d: &VirtualDebug, m: &Model, step: usize) {
    for (kind, guest, hw) in (0..MAX_POINTS)
        .map(|n| ("DBGBCR", m.bcr[n], d.hw_bcr(n)))
        .chain((0..MAX_POINTS).map(|n| ("DBGWCR", m.wcr[n], d.hw_wcr(n))))
    {
        let ctx = || format!("step {step}: {kind} guest {guest:#x} hw {hw:#x}");
        // The safety property: EL2 (or EL3) never matches a guest's point.
        assert!(
            hw & CR_E == 0 || matches_only_el1_el0(hw),
            "{} could match above EL1",
            ctx()
        );
        // Only the enable and the EL/security-state fields are touched...
        let touched = CR_E | CR_HMC | CR_SSC | CR_SSCE;
        assert_eq!(hw & !touched, guest & !touched, "{}", ctx());
        // ...never enabling what the guest disabled, everything disabled
        // while stepping over, and a point for the guest's own EL1/EL0
        // stays armed otherwise.
        assert!(hw & CR_E == 0 || guest & CR_E != 0, "{}", ctx());
        if d.stepping_over {
            assert_eq!(hw & CR_E, 0, "{}: stepping over", ctx());
        } else if guest & CR_E != 0 && guest & CR_PXC != 0 {
            assert_eq!(hw & CR_E, CR_E, "{}: the guest's point lost", ctx());
        }
    }
    // MDSCR_EL1: the guest's without TDCC, plus SS while stepping over.
    let hw = d.hw_mdscr();
    assert_eq!(hw & MDSCR_TDCC, 0, "step {step}: TDCC in hardware");
    let ss = if d.stepping_over { MDSCR_SS } else { 0 };
    assert_eq!(hw, (m.mdscr & !MDSCR_TDCC) | ss, "step {step}: MDSCR_EL1");
    // The guest's view is never the sanitised one.
    assert_eq!(d.read(DebugReg::Mdscr), m.mdscr);
}

/// Every register the guest can read, against the model.
fn check_guest_view(
    d: &VirtualDebug,
    m: &Model,
    brps: usize,
    wrps: usize,
    table: &[(SysReg, Named)],
) {
    for n in 0..brps {
        assert_eq!(d.read(DebugReg::Bvr(n)), m.bvr[n], "DBGBVR{n}");
        assert_eq!(d.read(DebugReg::Bcr(n)), m.bcr[n], "DBGBCR{n}");
    }
    for n in 0..wrps {
        assert_eq!(d.read(DebugReg::Wvr(n)), m.wvr[n], "DBGWVR{n}");
        assert_eq!(d.read(DebugReg::Wcr(n)), m.wcr[n], "DBGWCR{n}");
    }
    for &(reg, _) in table {
        let dr = DebugReg::decode(reg, brps, wrps).unwrap();
        if VirtualDebug::read_undefined(dr) {
            continue;
        }
        if let Some(want) = model_read(m, reg, dr, table) {
            assert_eq!(d.read(dr), want, "{reg}");
        }
    }
    assert_eq!(d.points_used, m.points_used);
}

/// Random guest reads and writes of every debug register, with the
/// hypervisor now and then stepping over or resetting the vCPU.
fn debug_register_storm(seed: u64, brps: usize, wrps: usize) {
    let mut rng = Rng::new(seed);
    let table = named();
    let mut d = VirtualDebug::reset();
    let mut m = Model::reset();
    let (mut writes, mut reads, mut undef) = (0u32, 0u32, 0u32);
    // Enabled points the guest aimed above EL1, and with PMC/PAC = 0b00.
    let (mut aimed_high, mut no_el) = (0u32, 0u32);
    for step in 0..20_000 {
        let reg = encoding(&mut rng, &table, brps.max(wrps));
        let decoded = DebugReg::decode(reg, brps, wrps);
        let want = expected_decode(reg, brps, wrps, &table);
        match (decoded, want) {
            (Some(DebugReg::Storage(i)), Some(DebugReg::Storage(_))) => {
                assert!(i < STORAGE.len(), "{reg}: slot {i}")
            }
            (got, want) => assert_eq!(got, want, "step {step}: decode {reg}"),
        }
        let Some(dr) = decoded else {
            undef += 1;
            continue;
        };
        if rng.chance(55) {
            if VirtualDebug::write_undefined(dr) {
                // Only the read-only registers refuse a write.
                assert!(matches!(dr, DebugReg::Oslsr | DebugReg::ReadOnly(_)));
                undef += 1;
            } else if dr != DebugReg::Dcc {
                let value = match dr {
                    DebugReg::Bcr(_) | DebugReg::Wcr(_) => control(&mut rng),
                    DebugReg::Mdscr if rng.chance(50) => {
                        rng.next_u64() | rng.pick(&[MDSCR_TDCC, MDSCR_SS, MDSCR_KDE])
                    }
                    DebugReg::Oslar => rng.next_u64() & rng.pick(&[0, 1, u64::MAX]),
                    _ => rng.next_u64(),
                };
                let update = d.write(dr, value);
                writes += 1;
                if matches!(dr, DebugReg::Bcr(_) | DebugReg::Wcr(_)) && value & CR_E != 0 {
                    aimed_high += u32::from(value & (CR_HMC | CR_SSC | CR_SSCE) != 0);
                    no_el += u32::from(value & CR_PXC == 0);
                }
                let expected = match dr {
                    DebugReg::Bvr(n) => {
                        m.bvr[n] = value;
                        m.points_used = true;
                        HwUpdate::Bvr(n)
                    }
                    DebugReg::Bcr(n) => {
                        m.bcr[n] = value;
                        m.points_used = true;
                        HwUpdate::Bcr(n)
                    }
                    DebugReg::Wvr(n) => {
                        m.wvr[n] = value;
                        m.points_used = true;
                        HwUpdate::Wvr(n)
                    }
                    DebugReg::Wcr(n) => {
                        m.wcr[n] = value;
                        m.points_used = true;
                        HwUpdate::Wcr(n)
                    }
                    DebugReg::Mdscr => {
                        m.mdscr = value;
                        HwUpdate::Mdscr
                    }
                    DebugReg::Oslar => {
                        m.os_lock = value & 1 != 0;
                        HwUpdate::OsLock
                    }
                    // Pure storage, OSDLR_EL1 (the double lock) included:
                    // nothing ever reaches the hardware.
                    DebugReg::Storage(_) => {
                        let i = STORAGE.iter().position(|r| *r == reg).unwrap();
                        m.storage[i] = value;
                        HwUpdate::None
                    }
                    DebugReg::DbgClaimSet => {
                        m.claim |= value & 0xff;
                        HwUpdate::None
                    }
                    DebugReg::DbgClaimClr => {
                        m.claim &= !(value & 0xff);
                        HwUpdate::None
                    }
                    DebugReg::Oslsr | DebugReg::ReadOnly(_) | DebugReg::Dcc => unreachable!(),
                };
                assert_eq!(update, expected, "step {step}: write {value:#x} to {reg}");
            }
        } else if VirtualDebug::read_undefined(dr) {
            // Only OSLAR_EL1 is write-only.
            assert_eq!(dr, DebugReg::Oslar);
            undef += 1;
        } else if let Some(want) = model_read(&m, reg, dr, &table) {
            assert_eq!(d.read(dr), want, "step {step}: read {reg}");
            reads += 1;
        }

        // What the hypervisor does around the guest's accesses.
        match rng.below(100) {
            0..=4 => d.stepping_over = !d.stepping_over,
            5 => {
                d = VirtualDebug::reset();
                m = Model::reset();
            }
            6..=11 => {
                // Whether a debug exception from `spsr` exists with TDE = 0
                // (the doc comment of `generated_natively`).
                let spsr = guest_pstate(&mut rng);
                let from_el1 = spsr & pstate::M_MASK & !1 == pstate::M_EL1T;
                let want = !m.os_lock
                    && (!from_el1 || (m.mdscr & MDSCR_KDE != 0 && spsr & pstate::D == 0));
                assert_eq!(d.generated_natively(spsr), want, "spsr {spsr:#x}");
            }
            _ => {}
        }
        check_hardware_image(&d, &m, step);
        if step % 16 == 0 {
            check_guest_view(&d, &m, brps, wrps, &table);
        }
    }
    assert!(
        writes > 5000 && reads > 3000 && undef > 300,
        "seed {seed:#x}: {writes} writes, {reads} reads, {undef} undefined"
    );
    assert!(
        aimed_high > 200 && no_el > 100,
        "seed {seed:#x}: too few hostile points"
    );
}

/// The exception classes worth aiming at, and anything.
fn class(rng: &mut Rng) -> u8 {
    use crate::ec::*;
    let (any, other) = (rng.below(64) as u8, rng.below(64) as u8);
    rng.pick(&[
        HVC64,
        SMC64,
        WFX,
        SYSREG,
        SYSREG,
        DABT_LOW,
        DABT_LOW,
        DABT_CUR,
        IABT_LOW,
        IABT_CUR,
        FP,
        BRK64,
        BREAKPT_LOW,
        SOFTSTP_LOW,
        WATCHPT_LOW,
        BKPT32,
        VECTOR32,
        UNKNOWN,
        any,
        other,
    ])
}

fn syndrome(rng: &mut Rng) -> u64 {
    let ec = class(rng);
    let upper = if rng.chance(30) {
        rng.next_u64() & !0xFFFF_FFFF
    } else {
        0
    };
    upper | (u64::from(ec) << 26) | (rng.below(2) << 25) | (rng.next_u64() & 0x1FF_FFFF)
}

/// `decode`: the variant is the one the exception class names, its fields
/// where the Arm ARM ISS encodings put them.
fn check_decode(esr: u64) {
    use crate::ec;
    let e = Esr(esr);
    let (class, iss) = (e.ec(), e.iss());
    assert_eq!(u64::from(class), (esr >> 26) & 0x3F);
    assert_eq!(u64::from(iss), esr & 0x1FF_FFFF);
    let ctx = format!("ESR {esr:#x}");
    match decode(esr) {
        Exit::Hvc { imm } => assert!(class == ec::HVC64 && imm == iss as u16, "{ctx}"),
        Exit::Smc { imm } => assert!(class == ec::SMC64 && imm == iss as u16, "{ctx}"),
        Exit::Brk { imm } => assert!(class == ec::BRK64 && imm == iss as u16, "{ctx}"),
        Exit::FpAccess => assert_eq!(class, ec::FP, "{ctx}"),
        Exit::Wfx(kind) => {
            assert_eq!(class, ec::WFX, "{ctx}");
            // TI [1:0]: WFI, WFE, WFIT, WFET; RN [9:5].
            let rn = ((iss >> 5) & 0x1F) as u8;
            let want = [
                WfxKind::Wfi,
                WfxKind::Wfe,
                WfxKind::Wfit(rn),
                WfxKind::Wfet(rn),
            ];
            assert_eq!(kind, want[(iss & 3) as usize], "{ctx}");
            assert_eq!(kind.is_wfe(), iss & 1 == 1, "{ctx}");
        }
        Exit::SysReg(a) => {
            assert_eq!(class, ec::SYSREG, "{ctx}");
            // Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5],
            // CRm [4:1], Direction [0].
            assert_eq!(u64::from(a.rt), u64::from(iss >> 5) & 0x1F, "{ctx}");
            assert_eq!(a.is_read, iss & 1 == 1, "{ctx}");
            let r = a.reg;
            let want = SysReg::new(
                (iss >> 20) as u8,
                (iss >> 14) as u8,
                (iss >> 10) as u8,
                (iss >> 1) as u8,
                (iss >> 17) as u8,
            );
            assert_eq!(r, want, "{ctx}");
            assert_eq!(r.to_iss(), iss & SysReg::ISS_MASK, "{ctx}");
            // A name or the generic spelling, never a panic.
            assert!(!format!("{r}").is_empty());
        }
        Exit::DataAbort(d) => {
            assert_eq!(class, ec::DABT_LOW, "{ctx}");
            assert_eq!(d.0, iss, "{ctx}");
            assert_eq!(d.dfsc(), (iss & 0x3F) as u8);
            assert_eq!(d.write(), iss & (1 << 6) != 0);
            assert_eq!(d.s1ptw(), iss & (1 << 7) != 0);
            check_fsc(d.dfsc());
            match d.access() {
                None => assert!(iss & (1 << 24) == 0, "{ctx}: ISV set, no access"),
                Some(a) => {
                    assert!(iss & (1 << 24) != 0, "{ctx}: ISV clear, an access");
                    assert_eq!(u32::from(a.size), 1 << ((iss >> 22) & 3), "{ctx}");
                    assert_eq!(u32::from(a.srt), (iss >> 16) & 0x1F, "{ctx}");
                    assert_eq!(a.sign_extend, iss & (1 << 21) != 0);
                    assert_eq!(a.sf, iss & (1 << 15) != 0);
                    assert_eq!(a.acquire_release, iss & (1 << 14) != 0);
                    assert_eq!(a.write, iss & (1 << 6) != 0);
                }
            }
        }
        Exit::InstrAbort { fsc, s1ptw } => {
            assert_eq!(class, ec::IABT_LOW, "{ctx}");
            assert_eq!(u32::from(fsc), iss & 0x3F, "{ctx}");
            assert_eq!(s1ptw, iss & (1 << 7) != 0, "{ctx}");
            check_fsc(fsc);
        }
        Exit::Debug { ec: c, iss: i } => {
            assert_eq!(c, class, "{ctx}");
            assert!(
                [ec::BREAKPT_LOW, ec::SOFTSTP_LOW, ec::WATCHPT_LOW].contains(&c),
                "{ctx}"
            );
            assert_eq!(i, iss, "{ctx}");
        }
        Exit::Other { ec: c, iss: i } => {
            assert_eq!((c, i), (class, iss), "{ctx}");
            let decoded = [
                ec::HVC64,
                ec::SMC64,
                ec::WFX,
                ec::SYSREG,
                ec::DABT_LOW,
                ec::IABT_LOW,
                ec::FP,
                ec::BRK64,
                ec::BREAKPT_LOW,
                ec::SOFTSTP_LOW,
                ec::WATCHPT_LOW,
            ];
            assert!(!decoded.contains(&c), "{ctx}: a decoded class as Other");
        }
    }
    // Building a syndrome from the fields gives them back.
    let rebuilt = Esr::new(class, e.il(), iss);
    assert_eq!(rebuilt.0, esr & 0xFFFF_FFFF);
    assert_eq!(e.instr_len(), if e.il() { 4 } else { 2 });
}

/// DFSC/IFSC: the level-encoded kinds (address size 0b0000LL, translation
/// 0b0001LL, access flag 0b0010LL, permission 0b0011LL, and the level -1
/// codes 0x29/0x2B) are distinct, and exactly they have a level.
fn check_fsc(code: u8) {
    let kinds = [
        fsc::is_address_size(code),
        fsc::is_translation(code),
        fsc::is_access_flag(code),
        fsc::is_permission(code),
    ];
    let n = kinds.iter().filter(|k| **k).count();
    assert!(n <= 1, "fsc {code:#x}");
    let want = match code {
        0x00..=0x0F => Some((code & 3) as i8),
        0x29 | 0x2B => Some(-1),
        _ => None,
    };
    assert_eq!(fsc::level(code), want, "fsc {code:#x}");
    assert_eq!(want.is_some(), n == 1, "fsc {code:#x}");
}

/// SCTLR_EL1.SPAN (bit 23) and DSSBS (bit 44).
const SCTLR_SPAN: u64 = 1 << 23;
const SCTLR_DSSBS: u64 = 1 << 44;

/// What every injection must look like (Arm ARM D1.3, exception entry to
/// AArch64 EL1; the crate's `inject` doc comments).
fn check_entry(inj: &Injection, pc: u64, old: u64, vbar: u64, sctlr: u64, ctx: &str) {
    assert_eq!(inj.elr_el1, pc, "{ctx}: ELR_EL1");
    // Synchronous vectors: current EL with SP_EL0 +0x000, with SP_ELx
    // +0x200, lower EL AArch64 +0x400, lower EL AArch32 +0x600.
    let offset = if old & pstate::M_AARCH32 != 0 {
        0x600
    } else if old & 0b1100 == 0 {
        0x400
    } else if old & 1 == 0 {
        0x000
    } else {
        0x200
    };
    assert_eq!(inj.pc, (vbar & !0x7FF) + offset, "{ctx}: vector");
    // EL1h, D, A, I and F masked; NZCV and DIT kept; SS, IL, BTYPE, UAO
    // cleared; PAN set when SPAN is clear, else kept; SSBS from DSSBS;
    // TCO clear (MTE hidden); ALLINT kept from AArch64 (FEAT_NMI hidden).
    let p = inj.pstate;
    let ctx = format!("{ctx}: PSTATE {p:#x} from {old:#x}");
    assert_eq!(p & pstate::M_MASK, pstate::M_EL1H, "{ctx}");
    assert_eq!(p & pstate::DAIF, pstate::DAIF, "{ctx}");
    assert_eq!(p & pstate::NZCV, old & pstate::NZCV, "{ctx}");
    assert_eq!(p & pstate::DIT, old & pstate::DIT, "{ctx}");
    let cleared = pstate::SS | pstate::IL | pstate::BTYPE | pstate::UAO | pstate::TCO;
    assert_eq!(p & cleared, 0, "{ctx}");
    let pan = if sctlr & SCTLR_SPAN == 0 {
        pstate::PAN
    } else {
        old & pstate::PAN
    };
    assert_eq!(p & pstate::PAN, pan, "{ctx}");
    let ssbs = if sctlr & SCTLR_DSSBS != 0 {
        pstate::SSBS
    } else {
        0
    };
    assert_eq!(p & pstate::SSBS, ssbs, "{ctx}");
    let allint = if old & pstate::M_AARCH32 != 0 {
        0
    } else {
        old & pstate::ALLINT
    };
    assert_eq!(p & pstate::ALLINT, allint, "{ctx}");
    let known = pstate::M_MASK
        | pstate::DAIF
        | pstate::NZCV
        | pstate::DIT
        | pstate::PAN
        | pstate::SSBS
        | pstate::ALLINT;
    assert_eq!(
        p & !known,
        0,
        "{ctx}: nothing else leaks from the old PSTATE"
    );
}

/// Random exits decoded, and random exceptions injected, re-injected and
/// built.
fn exit_storm(seed: u64) {
    use crate::ec;
    let mut rng = Rng::new(seed);
    let mut classes = [0u32; 64];
    for _ in 0..12_000 {
        let esr = syndrome(&mut rng);
        classes[Esr(esr).ec() as usize] += 1;
        check_decode(esr);
        check_fsc(rng.below(64) as u8);

        let (pc, old) = (rng.next_u64(), guest_pstate(&mut rng));
        let vbar = rng.next_u64();
        let sctlr = rng.next_u64() & rng.pick(&[u64::MAX, SCTLR_SPAN, SCTLR_DSSBS, 0]);
        let far = rng.next_u64();
        let lower = old & pstate::M_AARCH32 != 0 || old & 0b1100 == 0;
        let ctx = format!("pc {pc:#x} pstate {old:#x} vbar {vbar:#x} sctlr {sctlr:#x}");

        // A debug exception routed to EL2 by TDE, re-injected.
        let inj = inject_debug(esr, far, pc, old, vbar, sctlr);
        let ctx_d = format!("{ctx} esr {esr:#x}");
        check_entry(&inj, pc, old, vbar, sctlr, &ctx_d);
        let class = Esr(esr).ec();
        let want_class = match class {
            ec::BREAKPT_LOW | ec::SOFTSTP_LOW | ec::WATCHPT_LOW if !lower => class + 1,
            c => c,
        };
        assert_eq!(Esr(inj.esr_el1).ec(), want_class, "{ctx_d}");
        let il = if class == ec::BKPT32 {
            esr & Esr::IL
        } else {
            Esr::IL
        };
        assert_eq!(inj.esr_el1 & Esr::IL, il, "{ctx_d}: IL");
        let kept = !((0x3F << 26) | Esr::IL);
        assert_eq!(inj.esr_el1 & kept, esr & kept, "{ctx_d}: ISS/ISS2 kept");
        let want_far = (class == ec::WATCHPT_LOW).then_some(far);
        assert_eq!(inj.far_el1, want_far, "{ctx_d}: FAR_EL1");
        let want_spsr = if class == ec::SOFTSTP_LOW {
            old & !pstate::SS
        } else {
            old
        };
        assert_eq!(inj.spsr_el1, want_spsr, "{ctx_d}: SPSR_EL1");

        // The synchronous injections Aerie builds itself.
        let und = inject_undefined(pc, old, vbar, sctlr);
        check_entry(&und, pc, old, vbar, sctlr, &ctx);
        assert_eq!(
            (und.esr_el1, und.far_el1),
            (Esr::new(ec::UNKNOWN, true, 0).0, None)
        );
        let write = rng.chance(50);
        let dabt = inject_data_abort(pc, old, vbar, sctlr, far, write);
        check_entry(&dabt, pc, old, vbar, sctlr, &ctx);
        let wnr = if write { 1 << 6 } else { 0 };
        let class = if lower { ec::DABT_LOW } else { ec::DABT_CUR };
        assert_eq!(dabt.esr_el1, Esr::new(class, true, wnr | 0x10).0, "{ctx}");
        assert_eq!(dabt.far_el1, Some(far));
        let iabt = inject_instr_abort(pc, old, vbar, sctlr, far);
        check_entry(&iabt, pc, old, vbar, sctlr, &ctx);
        let class = if lower { ec::IABT_LOW } else { ec::IABT_CUR };
        assert_eq!(iabt.esr_el1, Esr::new(class, true, 0x10).0, "{ctx}");
        assert_eq!(iabt.far_el1, Some(far));
        let far_in = rng.chance(50).then_some(far);
        let sync = inject_sync(pc, old, vbar, sctlr, esr, far_in);
        check_entry(&sync, pc, old, vbar, sctlr, &ctx);
        assert_eq!((sync.esr_el1, sync.far_el1), (esr, far_in));
        for inj in [und, dabt, iabt, sync] {
            assert_eq!(inj.spsr_el1, old, "{ctx}: SPSR_EL1");
        }

        // PAR_EL1 after an AT: the fault, or PA[51:12] plus the page offset.
        let (p, va) = (rng.next_u64(), rng.next_u64());
        match par::decode(p, va) {
            Err(f) => {
                assert!(p & 1 != 0);
                assert_eq!(u64::from(f.fst), (p >> 1) & 0x3F);
                assert_eq!((f.ptw, f.stage2), (p & (1 << 8) != 0, p & (1 << 9) != 0));
            }
            Ok(pa) => {
                assert!(p & 1 == 0);
                assert_eq!(pa & 0xFFF, va & 0xFFF);
                assert_eq!(pa & !0xFFF, p & 0x000F_FFFF_FFFF_F000);
            }
        }
        // A guest's ID register only ever hides hardware features.
        let id = SysReg::new(3, 0, 0, 1 + rng.below(7) as u8, rng.below(8) as u8);
        let hw = rng.next_u64();
        assert_eq!(sanitize_id_register(id, hw) & !hw, 0, "{id}");
    }
    for c in [ec::SYSREG, ec::DABT_LOW, ec::BREAKPT_LOW, ec::WATCHPT_LOW] {
        assert!(classes[c as usize] > 100, "seed {seed:#x}: class {c:#x}");
    }
}

#[test]
fn a_storm_of_debug_registers_and_exits_keeps_el2_out_of_the_guests_reach() {
    // (seed, DBGBCRs, DBGWCRs): Cortex-A72's 6/4, the most, the fewest.
    for (seed, brps, wrps) in [
        (0xdeb9_0001, 6, 4),
        (0xdeb9_0002, 16, 16),
        (0xdeb9_0003, 2, 2),
    ] {
        debug_register_storm(seed, brps, wrps);
        exit_storm(seed);
    }
}
