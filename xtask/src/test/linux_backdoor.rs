//! `linux-backdoor-cortex-a72`, `linux-backdoor-max`: Debian's open-vm-tools
//! in a Linux guest talk to Aerie's backdoor (the `--guest linux-tools` VM
//! config: DCC and BRK transports, EL0 allowed, guestinfo.configured preset;
//! the guest runs tests/linux/tools.sh). The test types three console keys
//! as the script asks for them: `Ctrl-A i` (Aerie's view of the tools),
//! `Ctrl-A r` (restart the guest through its tools) and, in the second boot,
//! `Ctrl-A h` (shut it down through its tools; on `max`, `Ctrl-A u
//! vmctl:halt:linux` has a user world ask instead). Each check below says what
//! it asserts.

use super::{clean_exit, qemu_test_scripted, LINUX_TIMEOUT};
use crate::output;
use crate::qemu::{Keys, Status};
use crate::run::Guest;

pub fn linux_backdoor(cpu: &str, name: &str) -> Result<(), String> {
    crate::build::build_with(true).map_err(|e| format!("{e:#}"))?;
    let guest = Guest::LinuxTools {
        cmdline: format!("{} aerie.tools=1", crate::run::LINUX_CMDLINE),
    };
    let keys = [
        Keys {
            after: "tools: waiting for the console view",
            bytes: b"\x01i\n",
        },
        Keys {
            after: "tools: waiting for a power operation",
            bytes: b"\x01r",
        },
        // On `max` a user world asks for the halt instead: `vmctl`, started
        // from the console, through vm_control.
        Keys {
            after: "tools: waiting for the halt",
            bytes: if cpu == "max" {
                b"\x01uvmctl:halt:linux\r"
            } else {
                b"\x01h"
            },
        },
    ];
    let world = cpu == "max";
    qemu_test_scripted(name, guest, cpu, "", LINUX_TIMEOUT, &keys, |status, out| {
        judge(status, out)?;
        if world {
            for needle in [
                "aerie: vm linux: asked the guest tools for OS_Halt (for user world vmctl[1])",
                "aerie: uw vmctl[1]: vmctl: halt vm 0 (linux): done",
            ] {
                if !out.contains(needle) {
                    return Err(format!("no `{needle}` line"));
                }
            }
        }
        Ok(())
    })
}

fn judge(status: Status, out: &str) -> Result<(), String> {
    tools_in_the_guest(out)?;
    debugging_in_the_guest(out)?;
    host_facts(out)?;
    console_view(out)?;
    power_operations(out)?;
    clean_exit(status, out)
}

/// What the tools print in the guest: vmware-checkvm succeeds, guestinfo set
/// with vmware-rpctool reads back (also a 4000-byte value over high
/// bandwidth), the configured key reads, an unknown command fails, replies
/// reach buffers Linux has not made writable yet (aerie-hbpages:
/// reply/retries), vmtoolsd keeps running, and the tools' network report
/// is taken.
fn tools_in_the_guest(out: &str) -> Result<(), String> {
    for needle in [
        "tools: checkvm rc=0",
        "VMware software version",
        "tools: info-set rc=0",
        "tools: info-get=hello",
        "tools: configured=from-config",
        "tools: big rc=0 len=4000",
        "tools: set-version rc=0",
        "tools: log rc=0",
        "tools: hbpages: fresh=1 from-config/1 again=1 from-config/0 zero=1 from-config/1 cow=1 from-config/1",
        "tools: vmtoolsd running",
        "tools: network report rc=0",
        "tools: done",
    ] {
        output::require_line(out, needle)?;
    }
    if !output::has_line(out, "tools: unknown=") || output::has_line(out, "tools: unknown= rc=0") {
        return Err("an unknown GuestRPC command did not fail".into());
    }
    Ok(())
}

/// Debugging still works as on hardware with the BRK transport on (every
/// debug exception goes through Aerie's re-injection): a plain user-space DCC
/// read gets SIGILL (132), `brk #0` SIGTRAP (133), a ptrace debugger steps,
/// breaks and watches, and a kprobe on vfs_write fires for the script's
/// three writes at least.
fn debugging_in_the_guest(out: &str) -> Result<(), String> {
    for needle in [
        "tools: plain dcc rc=132",
        "tools: brk rc=133",
        "tools: ptrace: ok steps=3",
    ] {
        output::require_line(out, needle)?;
    }
    match output::numbers_after(out, "tools: kprobe hits=").last() {
        Some(&n) if n >= 3 => Ok(()),
        Some(n) => Err(format!(
            "a kprobe on vfs_write hit {n} times, expected >= 3"
        )),
        None => Err("no `tools: kprobe hits=` line".into()),
    }
}

/// vmware-toolbox-cmd's view of the host: GETMHZ is the counter frequency
/// the guest sees (whole MHz); GETTIMEFULL the host's time, within an hour
/// of this machine's clock; the Guest API's statistics give a nonzero
/// session, the VM's memory (the built-in config's) as its limit and
/// reservation, no CPU limit (all ones, as VMware shows none) or
/// reservation, nothing ballooned or swapped.
fn host_facts(out: &str) -> Result<(), String> {
    let memory_mb = crate::builtin_vms::linux_tools_config("").vms[0].memory >> 20;
    for needle in [
        format!("tools: stat memlimit {memory_mb} MB rc=0"),
        format!("tools: stat memres {memory_mb} MB rc=0"),
        "tools: stat cpulimit 4294967295 MHz rc=0".into(),
        "tools: stat cpures 0 MHz rc=0".into(),
        "tools: stat balloon 0 MB rc=0".into(),
        "tools: stat swap 0 MB rc=0".into(),
    ] {
        output::require_line(out, &needle)?;
    }
    let session = output::lines_with(out, "tools: stat sessionid 0x")
        .first()
        .and_then(|l| l.split("tools: stat sessionid 0x").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|hex| u64::from_str_radix(hex, 16).ok());
    if !matches!(session, Some(s) if s != 0) {
        return Err(format!(
            "vmware-toolbox-cmd stat sessionid: {session:?}, expected a nonzero id"
        ));
    }
    let cntfrq = output::initramfs_counter(out).map(|(_, f)| f / 1_000_000);
    let speed = output::numbers_after(out, "tools: speed ").first().copied();
    if speed.is_none() || speed != cntfrq {
        return Err(format!(
            "vmware-toolbox-cmd stat speed: {speed:?} MHz, expected the counter's {cntfrq:?}"
        ));
    }
    let now = super::unix_now();
    match output::date_after(out, "tools: hosttime ") {
        Some(t) if t.abs_diff(now) < 3600 => Ok(()),
        other => Err(format!(
            "vmware-toolbox-cmd stat hosttime: {other:?} s since the epoch, expected about {now}"
        )),
    }
}

/// Aerie's view (`Ctrl-A i`): the policy, the daemon's TCLO handshake and
/// capability reports, the tools' network report, the tools' log lines
/// (guest text escaped), guestinfo
/// (long values cut), the version the daemon reported (replacing the
/// script's own `tools.set.version 12451`: the number vmtoolsd also put in
/// guestinfo.vmtools.versionNumber), and the three transfers aerie-hbpages
/// made fail on pages Linux had not made writable yet.
fn console_view(out: &str) -> Result<(), String> {
    for needle in [
        "aerie: vm linux: backdoor dcc, brk #0x5658; el0 allowed",
        "aerie: vm linux: tools daemon toolbox answered the TCLO reset; capabilities registered",
        "aerie: vm linux: tools report: tools.capability.",
        "aerie: vm linux: tools log: from the guest \\u{1b}[31mred",
        "aerie: vm linux:   guestinfo.greeting = hello",
        "aerie: vm linux:   guestinfo.configured = from-config",
        "aerie: vm linux:   guestinfo.big = 0000000000",
        // The tools' answer to TCLO `Set_Option broadcastIP 1`.
        "aerie: vm linux:   guestinfo.ip = 10.0.2.15",
        // Their network report (`vmware-toolbox-cmd info update network`):
        // the VM's card with the address DHCP gave it, and the gateway.
        "aerie: vm linux: tools network: nic 52:54:00:ae:00:01: 10.0.2.15/24",
        "aerie: vm linux: tools network: default route via 10.0.2.2 (nic 0)",
        "0000... (4000 bytes)",
    ] {
        output::require_line(out, needle)?;
    }
    let shown = output::numbers_after(out, "aerie: vm linux: tools version ");
    let own = output::numbers_after(out, "guestinfo.vmtools.versionNumber = ");
    match (shown.last(), own.last()) {
        (Some(a), Some(b)) if a == b && output::has_line(out, "(open-vm-tools)") => {}
        _ => {
            return Err(format!(
                "Ctrl-A i: tools version {shown:?}, expected vmtoolsd's own {own:?} (open-vm-tools)"
            ))
        }
    }
    match output::numbers_after(out, "high-bandwidth transfers retried over low bandwidth: ")
        .last()
    {
        Some(&n) if n >= 3 => Ok(()),
        other => Err(format!(
            "Ctrl-A i: expected >= 3 high-bandwidth transfers retried over low bandwidth, got {other:?}"
        )),
    }
}

/// `Ctrl-A r` restarts the guest through its tools (the second boot knows it
/// from a guestinfo key that outlived the restart), then `Ctrl-A h` shuts it
/// down through its tools: in that order, and neither by the script's own
/// fallback.
fn power_operations(out: &str) -> Result<(), String> {
    for fallback in ["tools: no power operation came", "tools: no halt came"] {
        if output::has_line(out, fallback) {
            return Err(format!(
                "`{fallback}`: the tools did not act on Ctrl-A r / h"
            ));
        }
    }
    let mut at = 0;
    for step in [
        "asked the guest tools for OS_Reboot",
        "tools: restarted through the tools",
        "asked the guest tools for OS_Halt",
        "powered off (PSCI SYSTEM_OFF)",
    ] {
        match output::line_index(out, at, &[step]) {
            Some(i) => at = i,
            None => return Err(format!("no `{step}` line after line {at}")),
        }
    }
    Ok(())
}
