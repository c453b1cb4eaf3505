//! `profile-counts`, `profile-net`, `profile-disk`, `profile-linux-boot`:
//! `cargo xtask profile`'s counts and names are right, for a testkit
//! benchmark, the Linux VMs' network transfer, a Linux VM's disk reads and
//! a Linux boot.

/// `cargo xtask profile`'s counts are exact: for `hvc_null`, the plugin's
/// instructions per iteration add up to what the benchmark measured with
/// the counter (which counts in ticks of 16 instructions: within 1), and
/// they sit where the path runs: the guest's loop in the testkit, the
/// answer in Aerie's exception vectors, nothing anywhere else.
pub fn counts() -> Result<(), String> {
    let report = crate::profile::measure("hvc_null", "cortex-a72").map_err(|e| format!("{e:#}"))?;
    let (total, measured) = (report.total(), report.measured);
    if (total - measured).abs() > 1.0 {
        return Err(format!(
            "counted {total:.1} instructions per iteration, the benchmark measured {measured:.1}"
        ));
    }
    let vectors = report
        .row("aerie el2_vectors")
        .map_or(0.0, |r| r.instructions);
    let others: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.instructions >= 0.5)
        .filter(|r| r.name != "aerie el2_vectors" && !r.name.starts_with("testkit "))
        .map(|r| format!("{} ({:.1})", r.name, r.instructions))
        .collect();
    if vectors < 10.0 || !others.is_empty() {
        return Err(format!(
            "el2_vectors {vectors:.1} per iteration (want >= 10), elsewhere in Aerie: {others:?}"
        ));
    }
    Ok(())
}

/// `cargo xtask profile net` names where the machine's instructions go:
/// the counted extra MiB holds at least the transfer the guest measured;
/// the sender's `tcp_sendmsg` (under the kernel's name, read from
/// `/proc/kallsyms`) runs 1,024 more times, as busybox `nc` writes 1 KiB at
/// a time; the network driver's functions show up under their module's
/// name and Aerie's card under its own; and next to nothing of the
/// kernel's half of the address space is left unnamed (which it would be,
/// were the names taken at other addresses than the counted runs ran at).
/// Per-frame counts are compared by size only: how Linux cuts a transfer
/// into TSO packets differs from run to run, so the longer run may well
/// send fewer frames.
pub fn net() -> Result<(), String> {
    let report = crate::profile::measure("net", "cortex-a72").map_err(|e| format!("{e:#}"))?;
    let (total, measured) = (report.total(), report.measured);
    if total < measured {
        return Err(format!(
            "counted {total:.0} instructions per MiB, fewer than the transfer's {measured:.0}"
        ));
    }
    let calls = |name: &str| report.row(name).map_or(0.0, |r| r.calls);
    let writes = calls("linux tcp_sendmsg");
    if (writes - 1024.0).abs() > 8.0 {
        return Err(format!(
            "linux tcp_sendmsg: {writes:.1} calls per MiB (want 1,024: nc's 1 KiB writes)"
        ));
    }
    let module_calls: f64 = report
        .rows
        .iter()
        .filter(|r| r.name.ends_with(" [virtio_net]"))
        .map(|r| r.calls.abs())
        .sum();
    let card =
        "aerie <aerie_virtio::net::NetDevice as aerie_virtio::device::VirtioDevice>::process_queue";
    if module_calls < 10.0 || calls(card).abs() < 10.0 {
        return Err(format!(
            "calls per MiB: {module_calls:.1} in virtio_net's functions, {:.1} in {card} \
             (want >= 10 each)",
            calls(card)
        ));
    }
    let kernel: f64 = report
        .rows
        .iter()
        .filter(|r| r.name.starts_with("linux "))
        .map(|r| r.instructions.abs())
        .sum();
    let unnamed = report.row("linux ?").map_or(0.0, |r| r.instructions.abs());
    if unnamed > kernel / 100.0 {
        return Err(format!(
            "{unnamed:.0} of the kernels' {kernel:.0} instructions per MiB at no kernel symbol"
        ));
    }
    Ok(())
}

/// `cargo xtask profile disk_power_down` (the guest idling only in the
/// power-down state, so that every wake-up runs Linux's resume path)
/// counts one more 4 KiB read: one request
/// queued by the guest's virtio-blk driver, one batch handed to Aerie's
/// disk path and one request of the host disk (one host request for each
/// of the guest's, its data buffers handed over as they are), and at least
/// the 10,000 instructions the guest's and Aerie's paths of a request
/// take. Not the guest's own measure, as for the loops: the host disk
/// answers by its interrupt, so while it works every vCPU may be idle, and
/// under `-icount` that time passes on the guest's counter with no
/// instruction run, as much as the host's timing gives (the counts came to
/// 0.82 to 1.6 of the measure). And at most 3 heap allocations a request
/// in Aerie (2 now: the guest chain's buffer list and the transfer's; 12
/// while a chain had two lists, the host driver made its requests, their
/// buffer lists and its answers anew each time, and the transport listed
/// the used elements it published). And at most 20 full exits a request
/// (9.8 here): the guest's suspend and resume paths touch the debug
/// registers and its GIC's GICR_WAKER dozens of times a request, and the
/// fast paths serve those (42 full exits a request when they went the full
/// way).
pub fn disk() -> Result<(), String> {
    let report =
        crate::profile::measure("disk_power_down", "cortex-a72").map_err(|e| format!("{e:#}"))?;
    let total = report.total();
    if total < 10_000.0 {
        return Err(format!(
            "counted {total:.0} instructions per request: too few for a read"
        ));
    }
    for name in [
        "linux virtqueue_add_split",
        "aerie aerie::vm::block::serve",
        "aerie aerie::drivers::virtio_blk::HostBlk::submit",
    ] {
        let calls = report.row(name).map_or(0.0, |r| r.calls);
        if (calls - 1.0).abs() > 0.05 {
            return Err(format!("{name}: {calls:.2} calls per request (want 1)"));
        }
    }
    let allocs = report
        .rows
        .iter()
        .filter(|r| r.name.starts_with("aerie ") && r.name.ends_with("GlobalAlloc>::alloc"))
        .map(|r| r.calls)
        .sum::<f64>();
    if allocs > 3.0 {
        return Err(format!(
            "{allocs:.1} heap allocations per request in Aerie (want at most 3)"
        ));
    }
    let full_exits = report.row("aerie aerie_exit").map_or(0.0, |r| r.calls);
    if full_exits > 20.0 {
        return Err(format!(
            "{full_exits:.1} full exits per request (want at most 20)"
        ));
    }
    Ok(())
}

/// `cargo xtask profile linux_boot` counts one whole boot: the kernel's
/// `start_kernel` and Aerie's `kernel_main` each run exactly once under
/// their names, and the count holds at least the boot the guest measured.
pub fn linux_boot() -> Result<(), String> {
    let report =
        crate::profile::measure("linux_boot", "cortex-a72").map_err(|e| format!("{e:#}"))?;
    let (total, measured) = (report.total(), report.measured);
    if total < measured {
        return Err(format!(
            "counted {total:.0} instructions, fewer than the boot's {measured:.0}"
        ));
    }
    for name in ["linux start_kernel", "aerie kernel_main"] {
        let calls = report.row(name).map_or(0.0, |r| r.calls);
        if calls != 1.0 {
            return Err(format!("{name}: {calls} calls (want 1)"));
        }
    }
    Ok(())
}
