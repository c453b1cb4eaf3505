//! A guest that throws any HVC at the dispatcher: seeded pseudo-random
//! SMCCC calls from random running vCPUs, mostly the PSCI and Arm
//! architecture functions Aerie implements (CPU_ON with random MPIDRs,
//! entry points and context ids, CPU_OFF, AFFINITY_INFO, CPU_SUSPEND,
//! PSCI_FEATURES and SMCCC_ARCH_FEATURES queries, the versions, now and then
//! SYSTEM_OFF or SYSTEM_RESET), some in the wrong calling convention or as
//! yielding calls, some with random function numbers under a served owner,
//! and some anything at all; garbage in the upper halves of x0 and of
//! SMC32 arguments. Aerie answers these in EL2, so the dispatcher must
//! never panic, and the platform behind it (a small VM modelled the way
//! the hypervisor's `VmPsci` works) must only ever see well-formed
//! requests and stay in a state PSCI allows.

use super::*;
use aerie_testrng::Rng;
use core::cell::RefCell;
use std::format;
use std::string::String;

/// MPIDR-format fields that must be zero in a target (PSCI 1.1 section
/// 5.1.4): bits \[63:40\] and \[31:24\]. Written out here from the spec, not
/// taken from the dispatcher.
const MPIDR_RES0: u64 = 0xFFFF_FF00_FF00_0000;
/// Original-format power_state reserved bits (PSCI 1.1, CPU_SUSPEND):
/// \[31:26\] and \[23:17\].
const POWER_STATE_RES0: u32 = 0xFC00_0000 | 0x00FE_0000;
/// power_state StateType: 1 = power down (the caller restarts at `entry`).
const POWER_DOWN: u32 = 1 << 16;

/// Every PSCI return code (PSCI 1.1 section 5.2.2), as x0 holds it.
const PSCI_CODES: [i32; 10] = [0, -1, -2, -3, -4, -5, -6, -7, -8, -9];

/// The guest's RAM: entry points must lie inside it.
const RAM_BASE: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 512 << 20;

/// The vCPUs: Aff0 = index as Aerie assigns them, plus a second cluster
/// and one with Aff3 set, which only SMC64 calls can name.
const MPIDRS: [u64; 7] = [0x0, 0x1, 0x2, 0x3, 0x100, 0x101, 0x1_0000_0000];

/// Functions the dispatcher documents as implemented (PSCI_FEATURES
/// answers them, SMCCC 1.1 section 7.2.1 for SMCCC_VERSION).
const IMPLEMENTED: [u32; 13] = [
    fid::PSCI_VERSION,
    fid::CPU_SUSPEND_32,
    fid::CPU_SUSPEND_64,
    fid::CPU_OFF,
    fid::CPU_ON_32,
    fid::CPU_ON_64,
    fid::AFFINITY_INFO_32,
    fid::AFFINITY_INFO_64,
    fid::MIGRATE_INFO_TYPE,
    fid::SYSTEM_OFF,
    fid::SYSTEM_RESET,
    fid::PSCI_FEATURES,
    fid::SMCCC_VERSION,
];

/// Defined functions Aerie leaves out: each must get NOT_SUPPORTED.
const LEFT_OUT: [u32; 11] = [
    fid::SMCCC_ARCH_SOC_ID,
    fid::SMCCC_ARCH_WORKAROUND_1,
    fid::SMCCC_ARCH_WORKAROUND_2,
    fid::SMCCC_ARCH_WORKAROUND_3,
    fid::MIGRATE_32,
    fid::MIGRATE_64,
    fid::MIGRATE_INFO_UP_CPU_32,
    fid::MIGRATE_INFO_UP_CPU_64,
    fid::SYSTEM_SUSPEND_32,
    fid::SYSTEM_SUSPEND_64,
    fid::SYSTEM_RESET2_64,
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Power {
    Off,
    On,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Vcpu {
    mpidr: u64,
    power: Power,
    /// Where it (re)started and its x0 then.
    entry: u64,
    context: u64,
}

/// What reached the platform during one call, and what it answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Seen {
    On(u64, u64, u64, Result<(), PsciError>),
    Off,
    Affinity(u64, u64, Result<AffinityState, PsciError>),
    Suspend(u32, u64, u64, Result<Suspended, PsciError>),
    SystemOff,
    SystemReset,
}

/// A VM as the hypervisor's `VmPsci` manages it: the platform checks that
/// every request it gets is one the dispatcher should have let through.
struct Vm {
    vcpus: Vec<Vcpu>,
    caller: usize,
    /// The current call uses SMC32/HVC32: no argument may exceed 32 bits.
    smc32: bool,
    seen: RefCell<Vec<Seen>>,
    /// SYSTEM_OFF was called: nothing runs until the next boot.
    stopped: bool,
}

fn in_ram(entry: u64) -> bool {
    entry >= RAM_BASE && entry - RAM_BASE <= RAM_SIZE - 4
}

impl Vm {
    fn new() -> Vm {
        let mut vm = Vm {
            vcpus: MPIDRS
                .iter()
                .map(|&mpidr| Vcpu {
                    mpidr,
                    power: Power::Off,
                    entry: 0,
                    context: 0,
                })
                .collect(),
            caller: 0,
            smc32: false,
            seen: RefCell::new(Vec::new()),
            stopped: false,
        };
        vm.boot();
        vm
    }

    /// The boot vCPU on, the rest off.
    fn boot(&mut self) {
        for v in &mut self.vcpus {
            v.power = Power::Off;
        }
        self.vcpus[0] = Vcpu {
            power: Power::On,
            entry: RAM_BASE,
            ..self.vcpus[0]
        };
        self.stopped = false;
    }

    fn well_formed(&self, args: &[u64]) {
        if self.smc32 {
            for &a in args {
                assert!(
                    a <= u32::MAX as u64,
                    "SMC32 argument {a:#x} kept its upper half"
                );
            }
        }
    }

    fn target(&self, mpidr: u64) {
        assert_eq!(
            mpidr & MPIDR_RES0,
            0,
            "malformed MPIDR {mpidr:#x} reached the platform"
        );
    }
}

impl PsciPlatform for Vm {
    fn cpu_on(&mut self, mpidr: u64, entry: u64, context_id: u64) -> Result<(), PsciError> {
        self.well_formed(&[mpidr, entry, context_id]);
        self.target(mpidr);
        let answer = match self.vcpus.iter_mut().find(|v| v.mpidr == mpidr) {
            None => Err(PsciError::InvalidParameters),
            Some(v) if v.power == Power::On => Err(PsciError::AlreadyOn),
            Some(_) if !in_ram(entry) => Err(PsciError::InvalidAddress),
            Some(v) => {
                *v = Vcpu {
                    power: Power::On,
                    entry,
                    context: context_id,
                    ..*v
                };
                Ok(())
            }
        };
        self.seen
            .borrow_mut()
            .push(Seen::On(mpidr, entry, context_id, answer));
        answer
    }

    fn cpu_off(&mut self) {
        let caller = &mut self.vcpus[self.caller];
        assert_eq!(caller.power, Power::On, "CPU_OFF from a vCPU that is off");
        caller.power = Power::Off;
        self.seen.borrow_mut().push(Seen::Off);
    }

    fn affinity_info(&self, mpidr: u64, level: u64) -> Result<AffinityState, PsciError> {
        self.well_formed(&[mpidr, level]);
        self.target(mpidr);
        assert!(
            level <= 3,
            "lowest_affinity_level {level} reached the platform"
        );
        // Affinity fields below `level` are ignored (PSCI 1.1 section 5.7).
        let ignored = (1u64 << (8 * level)) - 1;
        let mut members = self
            .vcpus
            .iter()
            .filter(|v| (v.mpidr ^ mpidr) & !ignored == 0)
            .peekable();
        let answer = if members.peek().is_none() {
            Err(PsciError::InvalidParameters)
        } else if members.any(|v| v.power == Power::On) {
            Ok(AffinityState::On)
        } else {
            Ok(AffinityState::Off)
        };
        self.seen
            .borrow_mut()
            .push(Seen::Affinity(mpidr, level, answer));
        answer
    }

    fn cpu_suspend(
        &mut self,
        power_state: u32,
        entry: u64,
        context_id: u64,
    ) -> Result<Suspended, PsciError> {
        self.well_formed(&[power_state as u64, entry, context_id]);
        assert_eq!(
            power_state & POWER_STATE_RES0,
            0,
            "reserved power_state bits reached the platform"
        );
        let caller = &mut self.vcpus[self.caller];
        let answer = if power_state & POWER_DOWN == 0 {
            Ok(Suspended::Returned)
        } else if !in_ram(entry) {
            Err(PsciError::InvalidAddress)
        } else {
            // Powered down and woken at once: it restarts at `entry`.
            caller.entry = entry;
            caller.context = context_id;
            Ok(Suspended::AtEntryPoint)
        };
        self.seen
            .borrow_mut()
            .push(Seen::Suspend(power_state, entry, context_id, answer));
        answer
    }

    fn system_off(&mut self) {
        for v in &mut self.vcpus {
            v.power = Power::Off;
        }
        self.stopped = true;
        self.seen.borrow_mut().push(Seen::SystemOff);
    }

    fn system_reset(&mut self) {
        self.boot();
        self.seen.borrow_mut().push(Seen::SystemReset);
    }
}

/// A function ID: mostly one Aerie implements (CPU_ON and AFFINITY_INFO
/// most of all), sometimes a defined one it leaves out, one in the other
/// calling convention or as a yielding call, a random function number
/// under the two served owners, or anything.
fn function_id(rng: &mut Rng) -> u32 {
    let known = if rng.chance(85) {
        rng.pick(&[
            fid::CPU_ON_32,
            fid::CPU_ON_64,
            fid::CPU_ON_64,
            fid::CPU_ON_64,
            fid::AFFINITY_INFO_32,
            fid::AFFINITY_INFO_64,
            fid::AFFINITY_INFO_64,
            fid::CPU_OFF,
            fid::CPU_SUSPEND_32,
            fid::CPU_SUSPEND_64,
            fid::PSCI_FEATURES,
            fid::PSCI_FEATURES,
            fid::SMCCC_ARCH_FEATURES,
            fid::SMCCC_ARCH_FEATURES,
            fid::PSCI_VERSION,
            fid::SMCCC_VERSION,
            fid::MIGRATE_INFO_TYPE,
        ])
    } else {
        rng.pick(&LEFT_OUT)
    };
    match rng.below(100) {
        0 => fid::SYSTEM_OFF,
        1 => fid::SYSTEM_RESET,
        2..=71 => known,
        72..=77 => known ^ fid::SMC64,
        78..=80 => known & !fid::FAST_CALL,
        81..=90 => {
            let owner = rng.pick(&[owner::ARM_ARCH, owner::STANDARD_SECURE]) as u32;
            let func = if rng.chance(70) {
                rng.below(0x20) as u32
            } else {
                rng.next_u64() as u16 as u32
            };
            let high = rng.pick(&[fid::FAST_CALL, fid::FAST_CALL | fid::SMC64, 0, fid::SMC64]);
            high | owner << 24 | func
        }
        _ => rng.next_u64() as u32,
    }
}

/// A target: mostly a vCPU of this VM, sometimes with reserved bits set,
/// with garbage above bit 31, a well-formed MPIDR nobody has, or anything.
fn mpidr(rng: &mut Rng) -> u64 {
    let real = rng.pick(&MPIDRS);
    match rng.below(20) {
        0..=9 => real,
        10 | 11 => {
            let bit = rng.pick(&[24, 25, 31, 40, 47, 63]);
            real | 1 << bit
        }
        12 | 13 => real | rng.next_u64() << 32,
        14 | 15 => rng.next_u64() & 0xFF_00FF_FFFF,
        16 => real | 1 << 32,
        _ => rng.next_u64(),
    }
}

/// An entry point: in RAM, at its edges, in RAM with a garbage upper half
/// (valid again once an SMC32 call drops it), or anything.
fn entry(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0..=4 => RAM_BASE + (rng.below(RAM_SIZE) & !3),
        5 => RAM_BASE + RAM_SIZE - rng.below(8),
        6 => RAM_BASE - 4 + rng.below(8),
        7 => (RAM_BASE + rng.below(RAM_SIZE)) | rng.next_u64() << 32,
        _ => rng.next_u64(),
    }
}

/// x0..x3 for one call: arguments shaped for what the function takes.
fn arguments(rng: &mut Rng, id: u32) -> [u64; 4] {
    let mut x0 = id as u64;
    if rng.chance(25) {
        // Not part of the function ID (SMCCC: it is in w0).
        x0 |= rng.next_u64() << 32;
    }
    let ctx = if rng.chance(50) {
        rng.below(16)
    } else {
        rng.next_u64()
    };
    match id & !fid::SMC64 {
        fid::CPU_ON_32 => [x0, mpidr(rng), entry(rng), ctx],
        fid::AFFINITY_INFO_32 => {
            let level = if rng.chance(80) {
                rng.below(5)
            } else {
                rng.next_u64()
            };
            [x0, mpidr(rng), level, ctx]
        }
        fid::CPU_SUSPEND_32 => {
            let ps = if rng.chance(70) {
                rng.next_u64() as u32 & !POWER_STATE_RES0
            } else {
                rng.next_u64() as u32
            };
            let hi = if rng.chance(20) {
                rng.next_u64() << 32
            } else {
                0
            };
            [x0, ps as u64 | hi, entry(rng), ctx]
        }
        fid::PSCI_FEATURES | fid::SMCCC_ARCH_FEATURES => {
            let queried = if rng.chance(50) {
                rng.pick(&IMPLEMENTED)
            } else {
                function_id(rng)
            };
            let hi = if rng.chance(20) {
                rng.next_u64() << 32
            } else {
                0
            };
            [x0, queried as u64 | hi, rng.next_u64(), rng.next_u64()]
        }
        _ => [x0, rng.next_u64(), rng.next_u64(), rng.next_u64()],
    }
}

/// What the dispatcher must do with `regs`, from SMCCC 1.1 / PSCI 1.1 and
/// the crate's docs: answer at once, or hand exactly this to the platform.
enum Expect {
    Answer(CallResult),
    Platform(Seen),
}

fn code(c: i32) -> CallResult {
    ret(c as i64 as u64)
}

fn expect(regs: [u64; 4]) -> Expect {
    use Expect::{Answer, Platform};
    let id = regs[0] as u32;
    // SMC32/HVC32 arguments are w1..w3.
    let arg = |i: usize| {
        if id & fid::SMC64 != 0 {
            regs[i]
        } else {
            regs[i] & 0xFFFF_FFFF
        }
    };
    // SMCCC_ARCH_FEATURES is answered too, though PSCI_FEATURES (a PSCI
    // query) does not list it.
    let answered = IMPLEMENTED.contains(&id) || id == fid::SMCCC_ARCH_FEATURES;
    let served = served_owners() & 1 << fid::owner(id) != 0;
    if !fid::is_fast(id) || !served || !answered {
        return Answer(ret(NOT_SUPPORTED));
    }
    // The answers inside `Seen` below are placeholders: `same_request`
    // ignores them, and the platform's real answer is checked on its own.
    match id {
        fid::SMCCC_VERSION => Answer(ret(0x0001_0001)),
        fid::PSCI_VERSION => Answer(ret(0x0001_0001)),
        fid::MIGRATE_INFO_TYPE => Answer(ret(2)),
        fid::SMCCC_ARCH_FEATURES => {
            let q = arg(1) as u32;
            let known = q == fid::SMCCC_VERSION || q == fid::SMCCC_ARCH_FEATURES;
            Answer(code(if known { 0 } else { -1 }))
        }
        fid::PSCI_FEATURES => {
            let q = arg(1) as u32;
            Answer(if q == fid::CPU_SUSPEND_32 || q == fid::CPU_SUSPEND_64 {
                ret(CPU_SUSPEND_FEATURES)
            } else if IMPLEMENTED.contains(&q) {
                ret(0)
            } else {
                ret(NOT_SUPPORTED)
            })
        }
        fid::CPU_ON_32 | fid::CPU_ON_64 if arg(1) & MPIDR_RES0 != 0 => Answer(code(-2)),
        fid::CPU_ON_32 | fid::CPU_ON_64 => Platform(Seen::On(arg(1), arg(2), arg(3), Ok(()))),
        fid::AFFINITY_INFO_32 | fid::AFFINITY_INFO_64 if arg(1) & MPIDR_RES0 != 0 || arg(2) > 3 => {
            Answer(code(-2))
        }
        fid::AFFINITY_INFO_32 | fid::AFFINITY_INFO_64 => {
            Platform(Seen::Affinity(arg(1), arg(2), Ok(AffinityState::On)))
        }
        fid::CPU_SUSPEND_32 | fid::CPU_SUSPEND_64 if arg(1) as u32 & POWER_STATE_RES0 != 0 => {
            Answer(code(-2))
        }
        fid::CPU_SUSPEND_32 | fid::CPU_SUSPEND_64 => Platform(Seen::Suspend(
            arg(1) as u32,
            arg(2),
            arg(3),
            Ok(Suspended::Returned),
        )),
        fid::CPU_OFF => Platform(Seen::Off),
        fid::SYSTEM_OFF => Platform(Seen::SystemOff),
        fid::SYSTEM_RESET => Platform(Seen::SystemReset),
        _ => unreachable!("{id:#x} is listed as implemented"),
    }
}

/// The same request, ignoring the answer.
fn same_request(a: &Seen, b: &Seen) -> bool {
    match (*a, *b) {
        (Seen::On(t, e, c, _), Seen::On(u, f, d, _)) => (t, e, c) == (u, f, d),
        (Seen::Affinity(t, l, _), Seen::Affinity(u, m, _)) => (t, l) == (u, m),
        (Seen::Suspend(p, e, c, _), Seen::Suspend(q, f, d, _)) => (p, e, c) == (q, f, d),
        _ => a == b,
    }
}

/// What the dispatcher must make of the platform's answer.
fn relayed(seen: &Seen) -> CallResult {
    match *seen {
        Seen::On(.., Ok(())) => ret(0),
        Seen::On(.., Err(e)) | Seen::Affinity(.., Err(e)) | Seen::Suspend(.., Err(e)) => {
            code(e.code())
        }
        Seen::Affinity(.., Ok(state)) => ret(state as u64),
        Seen::Suspend(.., Ok(Suspended::Returned)) => ret(0),
        Seen::Suspend(.., Ok(Suspended::AtEntryPoint)) => CallResult::NoReturn,
        Seen::Off | Seen::SystemOff | Seen::SystemReset => CallResult::NoReturn,
    }
}

fn ctx(seed: u64, step: usize, regs: &[u64; 4], caller: usize) -> String {
    format!("seed {seed:#x} step {step}: vCPU {caller} calls {regs:#x?}")
}

/// AFFINITY_INFO of every vCPU agrees with its power state: a vCPU is
/// either on or off, and the guest sees which.
fn check_affinity(vm: &mut Vm, at: &str) {
    vm.smc32 = false;
    for i in 0..vm.vcpus.len() {
        let v = vm.vcpus[i];
        let r = handle_call([fid::AFFINITY_INFO_64 as u64, v.mpidr, 0, 0], vm);
        let want = match v.power {
            Power::On => AffinityState::On,
            Power::Off => AffinityState::Off,
        };
        assert_eq!(r, ret(want as u64), "{at}: AFFINITY_INFO of vCPU {i}");
    }
    vm.seen.borrow_mut().clear();
}

fn storm(seed: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let mut vm = Vm::new();
    for step in 0..steps {
        if vm.stopped || vm.vcpus.iter().all(|v| v.power == Power::Off) {
            vm.boot(); // the VM is started again
        }
        // A random running vCPU makes the call.
        let on: Vec<usize> = (0..vm.vcpus.len())
            .filter(|&i| vm.vcpus[i].power == Power::On)
            .collect();
        let caller = rng.pick(&on);
        let id = function_id(&mut rng);
        let regs = arguments(&mut rng, id);
        let at = ctx(seed, step, &regs, caller);
        vm.caller = caller;
        vm.smc32 = !fid::is_smc64(id);
        let before = vm.vcpus.clone();

        let result = handle_call(regs, &mut vm);

        let seen = core::mem::take(&mut *vm.seen.borrow_mut());
        assert!(seen.len() <= 1, "{at}: {} platform calls", seen.len());
        match expect(regs) {
            Expect::Answer(answer) => {
                assert_eq!(result, answer, "{at}");
                assert!(seen.is_empty(), "{at}: reached the platform: {seen:?}");
                assert_eq!(vm.vcpus, before, "{at}: a query changed vCPU state");
            }
            Expect::Platform(request) => {
                assert_eq!(seen.len(), 1, "{at}: platform not called");
                assert!(
                    same_request(&request, &seen[0]),
                    "{at}: platform got {:?}, not {request:?}",
                    seen[0]
                );
                assert_eq!(result, relayed(&seen[0]), "{at}: answer {:?}", seen[0]);
            }
        }

        // Results: x0 only, a PSCI code unless the function returns a value.
        if let CallResult::Return(x) = result {
            assert_eq!(x[1..], [0, 0, 0], "{at}: x1..x3 must be zeroed");
            let value = matches!(
                regs[0] as u32,
                fid::SMCCC_VERSION
                    | fid::PSCI_VERSION
                    | fid::MIGRATE_INFO_TYPE
                    | fid::AFFINITY_INFO_32
                    | fid::AFFINITY_INFO_64
            );
            if !value {
                assert!(
                    PSCI_CODES.iter().any(|&c| c as i64 as u64 == x[0]),
                    "{at}: {:#x} is no PSCI return code",
                    x[0]
                );
            }
        }

        // The state PSCI requires after each kind of call.
        let id = regs[0] as u32;
        match id {
            fid::CPU_OFF => {
                // The caller, and only the caller, is off.
                assert_eq!(result, CallResult::NoReturn, "{at}");
                let mut expect = before.clone();
                expect[caller].power = Power::Off;
                assert_eq!(vm.vcpus, expect, "{at}");
            }
            fid::CPU_ON_32 | fid::CPU_ON_64 => {
                let (target, start, context) = if fid::is_smc64(id) {
                    (regs[1], regs[2], regs[3])
                } else {
                    (
                        regs[1] as u32 as u64,
                        regs[2] as u32 as u64,
                        regs[3] as u32 as u64,
                    )
                };
                let i = before.iter().position(|v| v.mpidr == target);
                match i.map(|i| before[i].power) {
                    _ if target & MPIDR_RES0 != 0 => assert_eq!(result, code(-2), "{at}"),
                    None => assert_eq!(result, code(-2), "{at}: no such vCPU"),
                    Some(Power::On) => {
                        assert_eq!(result, code(-4), "{at}: CPU_ON of a vCPU that is on");
                        assert_eq!(vm.vcpus, before, "{at}");
                    }
                    Some(Power::Off) if !in_ram(start) => {
                        assert_eq!(result, code(-9), "{at}");
                        assert_eq!(vm.vcpus, before, "{at}");
                    }
                    Some(Power::Off) => {
                        assert_eq!(result, ret(0), "{at}");
                        let v = vm.vcpus[i.unwrap()];
                        let started = (v.power, v.entry, v.context);
                        assert_eq!(started, (Power::On, start, context), "{at}");
                    }
                }
            }
            fid::SYSTEM_OFF | fid::SYSTEM_RESET => {
                assert_eq!(result, CallResult::NoReturn, "{at}");
            }
            _ => {
                // Only CPU_ON, CPU_OFF and the SYSTEM_* calls change who is on.
                let power = |vs: &[Vcpu]| vs.iter().map(|v| v.power).collect::<Vec<_>>();
                assert_eq!(power(&vm.vcpus), power(&before), "{at}");
            }
        }
        // A call that does not return is one PSCI says does not.
        if result == CallResult::NoReturn {
            assert!(
                matches!(
                    id,
                    fid::CPU_OFF
                        | fid::SYSTEM_OFF
                        | fid::SYSTEM_RESET
                        | fid::CPU_SUSPEND_32
                        | fid::CPU_SUSPEND_64
                ),
                "{at}: no return from {id:#x}"
            );
        }
        if !vm.stopped {
            check_affinity(&mut vm, &at);
        }
    }
}

#[test]
fn storm_of_smccc_calls_from_random_vcpus() {
    for seed in [
        0x9E37_79B9_7F4A_7C15,
        0x0123_4567_89AB_CDEF,
        0xD1B5_4A32_D192_ED03,
    ] {
        storm(seed, 20_000);
    }
}
