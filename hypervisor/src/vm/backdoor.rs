//! The DCC backdoor (C2, first slice; `aerie.backdoor=1`): MDCR_EL2.TDA traps
//! the guest's debug registers; a read of MDCCSR_EL0 whose x7 carries the
//! VMware backdoor signature is a request served by `aerie_backdoor`, and
//! every other debug register access gets the architectural behaviour:
//! - MDSCR_EL1 is virtual: the guest reads back what it wrote; the hardware
//!   gets it with TDCC clear, so EL0 DCC accesses reach Aerie, which raises
//!   the UNDEFINED exception the guest's TDCC asked for when they are not
//!   backdoor requests;
//! - the DCC data registers behave as an empty channel;
//! - the others (breakpoints, watchpoints, OS lock, claim tags) are
//!   performed on the hardware for the guest. They are not switched
//!   between vCPUs yet, and BRK is not routed here yet (MDCR_EL2.TDE).
//!
//! High-bandwidth transfers are not offered (they need guest-VA access).

use super::exit::{inject, Outcome};
use crate::arch::aarch64::{cpu, debug_regs, sysreg::read_sysreg};
use crate::sched::Machine;
use aerie_backdoor::{
    Backdoor, BackdoorConfig, GuestInfo, GuestVa, HostTime, Outcome as Served, Regs,
};
use aerie_trap::{SysReg, SysRegAccess};

/// MDSCR_EL1.TDCC: EL0 access to the DCC registers is trapped (to EL1).
const MDSCR_TDCC: u64 = 1 << 12;

pub fn enabled() -> bool {
    crate::boot_args().backdoor
}

/// A VM's backdoor service.
pub fn new(name: &str) -> Backdoor {
    // A stable per-VM UUID: the name's bytes folded into 16.
    let mut uuid = [0u8; 16];
    for (i, b) in name.bytes().enumerate() {
        uuid[i % 16] ^= b.wrapping_add(i as u8);
    }
    let config = BackdoorConfig {
        cpu_hz: cpu::counter_frequency(),
        uuid,
        high_bandwidth: false,
        ..Default::default()
    };
    Backdoor::new(config, GuestInfo::new())
}

/// No guest-VA access yet: high bandwidth is not offered, so nothing asks.
struct NoGuestVa;

impl GuestVa for NoGuestVa {
    fn read(&mut self, _va: u64, _buf: &mut [u8]) -> Result<(), ()> {
        Err(())
    }
    fn write(&mut self, _va: u64, _buf: &[u8]) -> Result<(), ()> {
        Err(())
    }
}

/// A trapped debug-register access (op0 = 2) of vCPU `c` of VM `v`.
pub fn debug_access(m: &mut Machine, v: usize, c: usize, access: &SysRegAccess) -> Outcome {
    let reg = access.reg;
    let vm = &mut m.vms[v];
    let vcpu = &mut vm.vcpus[c];
    let from_el0 = (vcpu.regs.pstate >> 2) & 3 == 0;
    let guest_tdcc = vcpu.vmdscr & MDSCR_TDCC != 0;
    let dcc = reg == SysReg::MDCCSR_EL0 || reg == SysReg::DBGDTR_EL0 || reg == SysReg::DBGDTRRX_EL0;
    if dcc {
        if reg == SysReg::MDCCSR_EL0
            && access.is_read
            && aerie_backdoor::is_backdoor_request(vcpu.regs.x[7])
        {
            if let Some(bd) = vm.backdoor.as_mut() {
                let mut regs = Regs { x: [0; 8] };
                regs.x.copy_from_slice(&vcpu.regs.x[..8]);
                let f = cpu::counter_frequency();
                let t = cpu::counter();
                let now = HostTime {
                    secs: t / f,
                    usecs: ((t % f) * 1_000_000 / f) as u32,
                };
                if bd.handle(&mut regs, &mut NoGuestVa, now) == Served::Handled {
                    vcpu.regs.x[..8].copy_from_slice(&regs.x);
                    vcpu.regs.pc += 4;
                    return Outcome::Resume;
                }
            }
        }
        if from_el0 && guest_tdcc {
            // What the hardware would have done with the guest's MDSCR_EL1.
            return inject(m, v, c, |pc, pstate, vbar, sctlr| {
                aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
            });
        }
        // An empty channel: nothing to read, room to write.
        if access.is_read {
            vcpu.regs.set(access.rt, 0);
        }
        vcpu.regs.pc += 4;
        return Outcome::Resume;
    }
    if reg == SysReg::MDSCR_EL1 {
        if access.is_read {
            vcpu.regs.set(access.rt, vcpu.vmdscr);
        } else {
            let value = vcpu.regs.get(access.rt);
            vcpu.vmdscr = value;
            crate::arch::aarch64::sysreg::write_sysreg!(mdscr_el1, value & !MDSCR_TDCC);
        }
        vcpu.regs.pc += 4;
        return Outcome::Resume;
    }
    if !implemented(reg) {
        return inject(m, v, c, |pc, pstate, vbar, sctlr| {
            aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
        });
    }
    let write_only = reg == SysReg::OSLAR_EL1;
    /// MDRAR_EL1 (read-only, like OSLSR and DBGAUTHSTATUS).
    const MDRAR_EL1: SysReg = SysReg {
        op0: 2,
        op1: 0,
        crn: 1,
        crm: 0,
        op2: 0,
    };
    let read_only = [SysReg::OSLSR_EL1, SysReg::DBGAUTHSTATUS_EL1, MDRAR_EL1].contains(&reg);
    let (op1, crn, crm, op2) = (reg.op1, reg.crn, reg.crm, reg.op2);
    if access.is_read {
        let value = if write_only {
            Some(0)
        } else {
            debug_regs::read(op1, crn, crm, op2)
        };
        match value {
            Some(value) => vcpu.regs.set(access.rt, value),
            None => {
                return inject(m, v, c, |pc, pstate, vbar, sctlr| {
                    aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
                })
            }
        }
    } else if !read_only && !debug_regs::write(op1, crn, crm, op2, vcpu.regs.get(access.rt)) {
        return inject(m, v, c, |pc, pstate, vbar, sctlr| {
            aerie_trap::inject_undefined(pc, pstate, vbar, sctlr)
        });
    }
    vcpu.regs.pc += 4;
    Outcome::Resume
}

/// Whether a breakpoint or watchpoint register's number exists on this CPU.
fn implemented(reg: SysReg) -> bool {
    if reg.op1 == 0 && reg.crn == 0 && (4..=7).contains(&reg.op2) {
        let dfr0 = read_sysreg!(id_aa64dfr0_el1);
        let brps = ((dfr0 >> 12) & 0xf) + 1;
        let wrps = ((dfr0 >> 20) & 0xf) + 1;
        let n = reg.crm as u64;
        return if reg.op2 <= 5 { n < brps } else { n < wrps };
    }
    true
}
