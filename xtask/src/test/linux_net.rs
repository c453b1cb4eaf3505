//! `linux-net` and `linux-uplink`.
//!
//! `linux-net`: Linux VMs talk over Aerie's switch
//! (tests/configs/linux-net.toml, tests/linux/net.sh). "b" pings "a", sends
//! it 1 MiB of random bytes over TCP and waits for its answer; the bytes
//! must arrive whole (same size, same MD5). Then "b" changes its MAC address
//! and pings again: the switch must drop every frame (100% loss) and count
//! them as spoofed. "c", on another network, pings "a" and gets nothing.
//! Part of the 1 MiB must have gone as TCP segmentation offload packets of
//! several segments (at least 10, with 128 KiB): Aerie counts them per
//! card. How big Linux makes its
//! TSO packets depends on the round trips it measures; in real time on a
//! loaded host a run now and then had retransmission timeouts that shrank
//! them to one segment each (the test once required fewer than 400 frames
//! from b, and 3 of 8 runs sent 560 to 880). So `linux-net` runs under
//! `-icount shift=0,sleep=off` with a fixed seed, as `cargo xtask bench
//! net` does: guest time is instructions, and the round trips are what the
//! guests and Aerie execute, not what the host's load makes them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::{
    clean_exit, fresh_disk, run_aerie_icount, run_test, test_config, AerieRun, LINUX_TIMEOUT,
};
use crate::output;
use crate::paths;
use crate::qemu::{icount, Firmware, QemuOptions, Uplink};
use crate::run::{self, Guest};
use sha2::{Digest, Sha256};

pub fn linux_net() -> Result<(), String> {
    let name = "linux-net";
    let disk = fresh_disk(name)?;
    let run = AerieRun::new(
        name,
        Guest::Config(test_config("linux-net.toml")),
        &disk,
        LINUX_TIMEOUT,
    );
    run_aerie_icount(&run, Some(icount::EXACT_NO_SLEEP), |status, out| {
        output::require_line(out, "[b] net: 3 packets transmitted, 3 packets received")?;
        // IPv6: neighbour discovery by multicast, then unicast, through the switch.
        output::require_line(out, "[b] net: v6 2 packets transmitted, 2 packets received")?;
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
        // c, on another network, never hears from a.
        output::require_line(out, "[c] net: 6 packets transmitted, 0 packets received")?;
        spoofed_counted(out)?;
        offloaded(out)?;
        merging(out)?;
        clean_exit(status, out)
    })
}

/// a's driver took mergeable receive buffers (VIRTIO_NET_F_MRG_RXBUF, bit
/// 15 of the features `net.sh` prints), and Aerie's record of a's card
/// shows at least 10 packets (b's TSO packets, up to 64 KiB) spread over
/// several of its buffers (which Linux sizes from recent packet lengths,
/// a page at most).
fn merging(out: &str) -> Result<(), String> {
    let a = output::lines_with(out, "[a] net: eth0 ");
    let bits = a
        .first()
        .and_then(|l| l.split(" features ").nth(1))
        .map(str::trim)
        .unwrap_or("");
    if bits.as_bytes().get(15) != Some(&b'1') {
        return Err(format!("a's driver did not take MRG_RXBUF (bit 15): {a:?}"));
    }
    let card = output::lines_with(out, "aerie: vm a: net 52:54:00:ae:00:01");
    let line = card.first().copied().unwrap_or("");
    let merged = line
        .split_once(" over several buffers")
        .and_then(|(before, _)| before.rsplit(' ').next()?.parse::<u64>().ok());
    match merged {
        Some(merged) if merged >= 10 => Ok(()),
        _ => Err(format!(
            "a's card took fewer than 10 packets over several buffers: {line:?}"
        )),
    }
}

/// b's card sent part of the 1 MiB as TSO packets of several segments, as
/// Aerie counts them (`TSO <n> packets, <bytes> bytes`): under `-icount`,
/// 20 or so carrying 360 to 430 KiB; without the offload, none.
fn offloaded(out: &str) -> Result<(), String> {
    let b = output::lines_with(out, "aerie: vm b: net 02:00:00:00:00:0b");
    let line = b.first().copied().unwrap_or("");
    let packets = output::numbers_after(line, "; TSO ").first().copied();
    let bytes = output::numbers_after(line, " packets, ").first().copied();
    match (packets, bytes) {
        (Some(p), Some(b)) if p >= TSO_PACKETS_MIN && b >= TSO_BYTES_MIN => Ok(()),
        _ => Err(format!(
            "b's card sent fewer than {TSO_PACKETS_MIN} TSO packets or {TSO_BYTES_MIN} bytes \
             in them: {line:?}"
        )),
    }
}

const TSO_PACKETS_MIN: u64 = 10;
const TSO_BYTES_MIN: u64 = 128 * 1024;

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
    let b = output::lines_with(
        out,
        "aerie: vm b: net 02:00:00:00:00:0b (network 0, uplink):",
    );
    let spoofed = output::numbers_after(b.first().copied().unwrap_or(""), "(spoofed ");
    if spoofed.first().is_none_or(|&n| n < 2) {
        return Err(format!("b's card record shows no spoofed frames: {b:?}"));
    }
    let a = output::lines_with(
        out,
        "aerie: vm a: net 52:54:00:ae:00:01 (network 0, uplink):",
    );
    if a.len() != 1 || !a[0].contains("switch 0 ") {
        return Err(format!("a's card record: {a:?}, expected `switch 0`"));
    }
    Ok(())
}

/// `linux-uplink`: a Linux VM (tests/configs/linux-uplink.toml) and the host
/// talk through Aerie's uplink, QEMU's user-mode network. The VM takes its
/// address from QEMU's DHCP server (`aerie.ip=dhcp`), then connects
/// out to a port this test listens on (10.0.2.2 is the host) and says hello;
/// then the test connects in through a forwarded host port and the VM prints
/// what it sent. The machine boots as a server does: UEFI firmware with
/// ACPI tables and no device tree, so the uplink card, its registers and
/// its interrupt, are the ones the loader read from the DSDT.
pub fn linux_uplink() -> Result<(), String> {
    let name = "linux-uplink";
    let peer = HostPeer::start(name, "linux-uplink.toml", b"hello from the host\n".to_vec())?;
    let prepared =
        run::prepare(&Guest::Config(peer.config.clone()), true, None).map_err(String::from)?;
    if !prepared.uplink {
        return Err("the config gives no VM a network card".into());
    }
    let opts = QemuOptions {
        disk: prepared.disk,
        uplink: Some(Uplink {
            forwards: vec![peer.forward()],
            ..Uplink::default()
        }),
        ..QemuOptions::aerie("cortex-a72", prepared.bootmodule, Firmware::UefiAcpi)
    };
    run_test(name, &opts, LINUX_TIMEOUT, |status, out| {
        peer.finish(out)?;
        output::require_line(
            out,
            "initramfs: eth0: 10.0.2.15/24 by DHCP, gateway 10.0.2.2",
        )?;
        output::require_line(out, "net: uplink got hello from the host")?;
        // The card's registers and interrupt came from the DSDT: the last
        // transport, SPI 47, as QEMU's device tree would say.
        output::require_line(out, "aerie-loader: the machine from ACPI (BOCHS BXPC)")?;
        output::require_line(out, "uplink: virtio-net at 0xa003e00 (INTID 79)")?;
        clean_exit(status, out)
    })
}

/// The host's end of an uplink test (`aerie.net=uplink:PORT` in the VM,
/// tests/linux/net.sh): it listens on PORT for the VM's hello, then sends
/// `payload` to the VM's TCP port 5003 through a forwarded host port.
pub(super) struct HostPeer {
    /// The test's config with PORT filled in.
    pub config: PathBuf,
    inward: u16,
    payload_sha256: String,
    payload_len: usize,
    done: Arc<AtomicBool>,
    host: thread::JoinHandle<Result<String, String>>,
}

impl HostPeer {
    /// Listen, and write test `name`'s config (`tests/configs/<file>`, PORT
    /// replaced) beside its log: two levels below the root, as
    /// tests/configs is, so its relative paths still hold.
    pub fn start(name: &str, file: &str, payload: Vec<u8>) -> Result<HostPeer, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| io("listening", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| io("listening", e))?
            .port();
        let inward = free_port()?;
        let text = std::fs::read_to_string(test_config(file)).map_err(|e| io(file, e))?;
        let config = paths::test_logs_dir().join(format!("{name}.toml"));
        std::fs::create_dir_all(paths::test_logs_dir()).map_err(|e| io("test-logs", e))?;
        std::fs::write(&config, text.replace("PORT", &port.to_string()))
            .map_err(|e| io("writing the config", e))?;
        let payload_sha256 = hex(&Sha256::digest(&payload));
        let payload_len = payload.len();
        let done = Arc::new(AtomicBool::new(false));
        let host = {
            let done = done.clone();
            thread::spawn(move || host_side(listener, inward, &done, &payload))
        };
        Ok(HostPeer {
            config,
            inward,
            payload_sha256,
            payload_len,
            done,
            host,
        })
    }

    /// The `--forward` rule to the VM's port 5003 (its first lease).
    pub fn forward(&self) -> String {
        format!("{}:10.0.2.15:5003", self.inward)
    }

    /// QEMU has exited: the VM said hello to the host, and received the
    /// payload whole (its size and SHA-256 in the VM's output).
    pub fn finish(self, out: &str) -> Result<(), String> {
        self.done.store(true, Ordering::Relaxed);
        let heard = self
            .host
            .join()
            .map_err(|_| "the host side panicked".to_string())??;
        if heard.trim_end() != "hello from web" {
            return Err(format!(
                "the host heard {heard:?}, expected \"hello from web\""
            ));
        }
        output::require_line(
            out,
            &format!(
                "net: uplink received {} bytes sha256 {}",
                self.payload_len, self.payload_sha256
            ),
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A port nobody listens on now (bound and let go: QEMU takes it next).
fn free_port() -> Result<u16, String> {
    let probe = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    probe
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

/// The host's half: take the VM's connection and read its line, then send
/// `payload` through the forwarded port `inward`. Gives up once `done`
/// (QEMU has exited). Returns what the VM said.
fn host_side(
    listener: TcpListener,
    inward: u16,
    done: &AtomicBool,
    payload: &[u8],
) -> Result<String, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if done.load(Ordering::Relaxed) {
                    return Err("the VM never connected to the host".into());
                }
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(30))))
        .map_err(|e| format!("the VM's connection: {e}"))?;
    let mut heard = String::new();
    stream
        .read_to_string(&mut heard)
        .map_err(|e| format!("reading the VM's hello: {e}"))?;
    // The VM listened before it said hello.
    let mut to_vm = TcpStream::connect(("127.0.0.1", inward))
        .map_err(|e| format!("connecting to forwarded port {inward}: {e}"))?;
    to_vm
        .write_all(payload)
        .map_err(|e| format!("writing to the VM: {e}"))?;
    Ok(heard)
}
