//! The VMware-compatible guest backdoor (C2): a VM's `aerie_backdoor`
//! service and its policy, reached through the DCC status register or a
//! BRK with the VM's immediate (both trapped in `vm/debug.rs`).
//!
//! A request is a trapped `mrs xN, MDCCSR_EL0` or `brk #imm` whose x7 carries
//! the backdoor signature, from guest EL1, or from EL0 when the policy lets
//! user space in. Anything else gets the instruction's architectural
//! behaviour. High-bandwidth transfers reach guest memory by virtual address
//! with the requesting EL's permissions (`vm/guest_va.rs`).

use super::guest_va::GuestVirtual;
use crate::arch::aarch64::cpu;
use crate::sched::Machine;
use aerie_backdoor::{Backdoor, BackdoorConfig, GuestInfo, HostTime, Outcome as Served, Regs};
use aerie_bootmodule::{BackdoorPolicy, VmImage};
use aerie_trap::pstate;

/// A VM's backdoor: the protocol service and what the config allows.
pub struct VmBackdoor {
    pub service: Backdoor,
    pub policy: BackdoorPolicy,
}

/// The backdoor of the VM built from `image`, if its config asks for one
/// (`[vm.backdoor]`); guestinfo pre-loaded.
pub fn new(image: &VmImage) -> Result<Option<VmBackdoor>, alloc::string::String> {
    let Some(policy) = image.backdoor else {
        return Ok(None);
    };
    // A stable per-VM UUID: the name's bytes folded into 16.
    let mut uuid = [0u8; 16];
    for (i, b) in image.name.bytes().enumerate() {
        uuid[i % 16] ^= b.wrapping_add(i as u8);
    }
    let config = BackdoorConfig {
        cpu_hz: cpu::counter_frequency(),
        uuid,
        high_bandwidth: policy.high_bandwidth,
        cookie_seed: cpu::counter() ^ 0x5EED_AE21_E000_0001,
        memory_mb: u32::try_from(image.memory >> 20).unwrap_or(u32::MAX),
        ..Default::default()
    };
    let mut guestinfo = GuestInfo::new();
    for entry in image.guestinfo_entries() {
        let (key, value) = entry.map_err(|e| alloc::format!("guestinfo: {e}"))?;
        guestinfo
            .set(key, value)
            .map_err(|e| alloc::format!("guestinfo key {key:?}: {e}"))?;
    }
    Ok(Some(VmBackdoor {
        service: Backdoor::new(config, guestinfo),
        policy,
    }))
}

/// Arms or disarms vCPU `c`'s backdoor fast path (vectors.S). It is off
/// while the guest's MDSCR_EL1.SS is set or Aerie steps the vCPU over an
/// instruction: the fast path does not touch PSTATE.SS, and a stepped
/// request must complete the step like any emulated instruction
/// (`GuestRegs::skip_instruction`), which the full path does.
pub fn refresh_fast_path(vm: &mut super::Vm, c: usize) {
    let vcpu = &mut vm.vcpus[c];
    let stepping =
        vcpu.debug.mdscr & aerie_trap::debug_regs::MDSCR_SS != 0 || vcpu.debug.stepping_over;
    let policy = vm.backdoor.as_ref().map(|b| &b.policy);
    vcpu.backdoor_keys = if stepping {
        super::BackdoorKeys::default()
    } else {
        super::BackdoorKeys::new(policy)
    };
}

/// [`refresh_fast_path`] for a running vCPU, from its own trap: its pCPU's
/// fast-path table follows at once. (A vCPU that is not running gets its
/// keys into a table when it is next scheduled.)
pub fn refresh_running_fast_path(m: &mut Machine, v: usize, c: usize) {
    refresh_fast_path(&mut m.vms[v], c);
    if let super::VcpuState::Running(cpu) = m.vms[v].vcpus[c].state {
        m.publish_fast_path(cpu, (v, c));
    }
}

/// Serves the request in vCPU `c`'s x0..x7 if it is one this VM takes from
/// the vCPU's current EL: true when served (registers updated; the caller
/// steps past the instruction), false when the instruction should behave
/// architecturally.
pub fn serve(m: &mut Machine, v: usize, c: usize) -> bool {
    let vm = &mut m.vms[v];
    let (Some(bd), Some(mem)) = (vm.backdoor.as_mut(), vm.memory.as_ref()) else {
        return false;
    };
    let asked = &vm.vcpus[c].regs;
    if !aerie_backdoor::is_backdoor_request(asked.x[7]) {
        return false;
    }
    let from_el0 = asked.pstate & pstate::M_MASK == pstate::M_EL0T;
    if from_el0 && !bd.policy.el0 {
        return false;
    }
    let mut regs = Regs { x: [0; 8] };
    regs.x.copy_from_slice(&vm.vcpus[c].regs.x[..8]);
    let mut guest_mem = GuestVirtual::new(mem, from_el0);
    let host = VmHost {
        vcpus: &vm.vcpus,
        cntvoff: vm.cntvoff,
    };
    if bd.service.handle(&mut regs, &mut guest_mem, host) != Served::Handled {
        return false;
    }
    vm.vcpus[c].regs.x[..8].copy_from_slice(&regs.x);
    true
}

/// What the backdoor asks of Aerie about a VM while serving its request.
struct VmHost<'a> {
    vcpus: &'a [alloc::boxed::Box<super::Vcpu>],
    /// The VM's virtual counter starts at 0 when it does.
    cntvoff: u64,
}

impl aerie_backdoor::Host for VmHost<'_> {
    /// GETTIME's: Aerie's wall clock.
    fn time(&self) -> HostTime {
        let (secs, usecs) = crate::wall_clock::now();
        HostTime { secs, usecs }
    }

    /// The Guest API's running statistics (`aerie_backdoor::guestlib`):
    /// the vCPUs' CPU time, the time since the VM started, and the time
    /// they waited for a pCPU where their guest reads stolen time.
    fn usage(&self) -> aerie_backdoor::guestlib::Usage {
        let now = cpu::counter();
        aerie_backdoor::guestlib::Usage {
            cpu_used_ms: cpu::ticks_to_ms(super::ran_ticks(self.vcpus, now)),
            elapsed_ms: cpu::ticks_to_ms(now.saturating_sub(self.cntvoff)),
            cpu_stolen_ms: super::stolen_ticks(self.vcpus).map(cpu::ticks_to_ms),
        }
    }
}

/// Guest-supplied text for Aerie's console: control characters (an escape
/// sequence, a newline that would fake another `aerie:` line) are shown
/// escaped (`\u{1b}`, `\n`), never sent to the operator's terminal, and
/// text longer than [`SHOWN_MAX`] characters is cut there (a 4 KiB guestinfo
/// value would otherwise fill the screen), saying how long it was.
struct Shown<'a>(&'a str);

/// The most characters of one guest string the console shows.
const SHOWN_MAX: usize = 160;

impl core::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        for c in self.0.chars().take(SHOWN_MAX) {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        if self.0.chars().nth(SHOWN_MAX).is_some() {
            write!(f, "... ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// Why a VM's guest tools could not be asked for a power operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskError {
    /// The VM has no backdoor, so no tools can talk to Aerie.
    NoBackdoor,
    Tools(aerie_backdoor::PowerOpError),
}

/// Asks `vm`'s guest tools for a clean shutdown or restart (Ctrl-A h / r,
/// or a user world's vm_control: `by` then names it, e.g. ` (for user
/// world vmctl[1])`) and says on the console what happened to the request.
pub fn request_power_op(
    vm: &mut super::Vm,
    op: aerie_backdoor::PowerOp,
    by: &str,
) -> Result<(), AskError> {
    use aerie_backdoor::PowerOpError;
    let name = &vm.name;
    let what = op.command();
    let Some(bd) = vm.backdoor.as_mut() else {
        crate::println!("aerie: vm {name}: no backdoor, so no guest tools to ask for {what}{by}");
        return Err(AskError::NoBackdoor);
    };
    let result = bd.service.request_power_op(op);
    match result {
        Ok(()) => crate::println!("aerie: vm {name}: asked the guest tools for {what}{by}"),
        Err(PowerOpError::NoDaemon) => crate::println!(
            "aerie: vm {name}: cannot ask for {what}{by}: no tools daemon has answered the TCLO handshake"
        ),
        Err(PowerOpError::Busy) => crate::println!(
            "aerie: vm {name}: cannot ask for {what}{by}: the tools have not answered the last command"
        ),
    }
    result.map_err(AskError::Tools)
}

/// The console's view of a VM's backdoor (Ctrl-A i): policy, the tools
/// version the guest reported, what it reported at start, its `log` lines,
/// and guestinfo.
pub fn print_info(vm: &super::Vm) {
    let name = &vm.name;
    let Some(bd) = &vm.backdoor else {
        crate::println!("aerie: vm {name}: no backdoor");
        return;
    };
    let p = bd.policy;
    let mut transports = alloc::string::String::from("dcc");
    if let Some(imm) = p.brk_imm {
        transports.push_str(&alloc::format!(", brk #{imm:#x}"));
    }
    let reclaimed = match bd.service.channels_reclaimed {
        0 => alloc::string::String::new(),
        n => alloc::format!(" ({n} idle one(s) reclaimed)"),
    };
    crate::println!(
        "aerie: vm {name}: backdoor {transports}; el0 {}; high bandwidth {}; {} channel(s) open{reclaimed}",
        if p.el0 { "allowed" } else { "refused" },
        if p.high_bandwidth { "on" } else { "off" },
        bd.service.open_channels()
    );
    if bd.service.hb_retries != 0 {
        crate::println!(
            "aerie: vm {name}: high-bandwidth transfers retried over low bandwidth: {} (guest buffer not yet writable)",
            bd.service.hb_retries
        );
    }
    let tools = &bd.service.tools;
    match tools.version {
        Some(v) => match tools.version_type {
            Some(t) => crate::println!(
                "aerie: vm {name}: tools version {v} ({})",
                aerie_backdoor::rpci::tools_type_name(t)
            ),
            None => crate::println!("aerie: vm {name}: tools version {v}"),
        },
        None => crate::println!("aerie: vm {name}: tools version not reported"),
    }
    if let Some(app) = &tools.daemon {
        crate::println!(
            "aerie: vm {name}: tools daemon {} answered the TCLO reset{}",
            Shown(app),
            if tools.capabilities_registered {
                "; capabilities registered"
            } else {
                ""
            }
        );
    }
    if let Some(p) = &tools.power_op {
        crate::println!("aerie: vm {name}: tools power operation: {}", Shown(p));
    }
    for r in &tools.reports {
        crate::println!("aerie: vm {name}: tools report: {}", Shown(r));
    }
    print_network(name, tools);
    for l in &tools.log {
        crate::println!("aerie: vm {name}: tools log: {}", Shown(l));
    }
    let info = &bd.service.guestinfo;
    crate::println!("aerie: vm {name}: {} guestinfo key(s)", info.len());
    for (k, v) in info.iter() {
        crate::println!("aerie: vm {name}:   {} = {}", Shown(k), Shown(v));
    }
}

/// The tools' network report (`aerie_backdoor::nicinfo`): a line a NIC,
/// the default routes, the resolver, and the reports refused.
fn print_network(name: &str, tools: &aerie_backdoor::ToolsState) {
    use core::fmt::Write;
    if let Some(r) = &tools.network {
        for nic in &r.nics {
            let mut line = alloc::string::String::new();
            for (i, (addr, prefix)) in nic.addrs.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(line, "{sep}{addr}/{prefix}");
            }
            if nic.more != 0 {
                let _ = write!(line, " and {} more", nic.more);
            }
            if nic.addrs.is_empty() {
                line.push_str("no address");
            }
            crate::println!(
                "aerie: vm {name}: tools network: nic {}: {line}",
                Shown(&nic.mac)
            );
        }
        for route in &r.default_routes {
            match &route.via {
                Some(via) => crate::println!(
                    "aerie: vm {name}: tools network: default route via {via} (nic {})",
                    route.nic
                ),
                None => crate::println!(
                    "aerie: vm {name}: tools network: default route on nic {}",
                    route.nic
                ),
            }
        }
        if r.host_name.is_some() || r.domain_name.is_some() || !r.dns_servers.is_empty() {
            let mut servers = alloc::string::String::new();
            for (i, s) in r.dns_servers.iter().enumerate() {
                let _ = write!(servers, "{}{s}", if i == 0 { "" } else { ", " });
            }
            crate::println!(
                "aerie: vm {name}: tools network: host {}, domain {}, dns {}",
                Shown(or_dash(r.host_name.as_deref())),
                Shown(or_dash(r.domain_name.as_deref())),
                or_dash(Some(&servers))
            );
        }
    }
    if let Some(e) = &tools.network_error {
        crate::println!(
            "aerie: vm {name}: tools network: {} report(s) refused, the last: {e}",
            tools.network_refused
        );
    }
}

/// `s`, or "-" when it is missing or empty.
fn or_dash(s: Option<&str>) -> &str {
    s.filter(|s| !s.is_empty()).unwrap_or("-")
}
