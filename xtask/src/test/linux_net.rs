//! `linux-net`: two Linux VMs talk over Aerie's switch
//! (tests/configs/linux-net.toml, tests/linux/net.sh). "b" pings "a", sends
//! it 1 MiB of random bytes over TCP and waits for its answer; the bytes
//! must arrive whole (same size, same MD5). Then "b" changes its MAC address
//! and pings again: the switch must drop every frame (100% loss) and count
//! them as spoofed.

use super::{clean_exit, qemu_test, test_config, LINUX_TIMEOUT};
use crate::output;
use crate::run::Guest;

pub fn linux_net() -> Result<(), String> {
    qemu_test(
        "linux-net",
        Guest::Config(test_config("linux-net.toml")),
        "cortex-a72",
        "",
        LINUX_TIMEOUT,
        |status, out| {
            output::require_line(out, "[b] net: 3 packets transmitted, 3 packets received")?;
            let sent = md5_after(out, "[b] net: sending 1048576 bytes md5 ")?;
            let got = md5_after(out, "[a] net: received 1048576 bytes md5 ")?;
            if sent != got {
                return Err(format!("b sent md5 {sent}, a received md5 {got}"));
            }
            output::require_line(out, "[b] net: bye")?;
            output::require_line(
                out,
                "[b] net: spoofed 2 packets transmitted, 0 packets received",
            )?;
            spoofed_counted(out)?;
            clean_exit(status, out)
        },
    )
}

/// The word after `key` on the first line that has it.
fn md5_after(out: &str, key: &str) -> Result<String, String> {
    let line = output::lines_with(out, key)
        .into_iter()
        .next()
        .ok_or_else(|| format!("no `{key}` line"))?;
    let rest = &line[line.find(key).unwrap_or(0) + key.len()..];
    Ok(rest.split_whitespace().next().unwrap_or("").to_string())
}

/// Aerie's record of b's card (printed when b stops) counts the spoofed
/// frames, and a's shows none dropped by the switch.
fn spoofed_counted(out: &str) -> Result<(), String> {
    let b = output::lines_with(out, "aerie: vm b: net 52:54:00:12:34:56:");
    let spoofed = output::numbers_after(b.first().copied().unwrap_or(""), "(spoofed ");
    if spoofed.first().is_none_or(|&n| n < 2) {
        return Err(format!("b's card record shows no spoofed frames: {b:?}"));
    }
    let a = output::lines_with(out, "aerie: vm a: net 52:54:00:ae:00:01:");
    if a.len() != 1 || !a[0].contains("switch 0 ") {
        return Err(format!("a's card record: {a:?}, expected `switch 0`"));
    }
    Ok(())
}
