//! Drives `Backdoor` the way open-vm-tools' guest side does
//! (lib/backdoor/backdoorGcc64_arm64.c, lib/message/message.c,
//! lib/rpcOut/rpcout.c, vmware-checkvm).

use crate::abi::*;
use crate::backdoor::MAX_CHANNELS;
use crate::channel::MAX_MESSAGE_LEN;
use crate::*;

/// Guest memory: one window of bytes at `base`; anything else is unmapped.
/// Pages in `unpopulated` are mapped in the guest's eyes but not yet present
/// (demand paging, copy-on-write): the hypervisor cannot translate them, and
/// the guest's own access ([`FakeMem::guest_store`], [`FakeMem::guest_load`])
/// faults them in, as its kernel would.
struct FakeMem {
    base: u64,
    bytes: Vec<u8>,
    unpopulated: Vec<u64>,
}

const PAGE: u64 = 4096;

impl FakeMem {
    fn new() -> Self {
        FakeMem {
            base: 0xffff_8000_1000_0000,
            bytes: vec![0; 256 * 1024],
            unpopulated: Vec::new(),
        }
    }
    fn range(&self, va: u64, len: usize) -> Result<core::ops::Range<usize>, ()> {
        let off = va.checked_sub(self.base).ok_or(())? as usize;
        let end = off.checked_add(len).ok_or(())?;
        if end > self.bytes.len() {
            return Err(());
        }
        Ok(off..end)
    }
    fn pages(va: u64, len: usize) -> core::ops::Range<u64> {
        va / PAGE..(va + len as u64).div_ceil(PAGE)
    }
    /// Takes the pages of `va..va + len` out of the hypervisor's reach.
    fn evict(&mut self, va: u64, len: usize) {
        self.unpopulated.extend(Self::pages(va, len));
    }
    fn present(&self, va: u64, len: usize) -> Result<(), ()> {
        let pages = Self::pages(va, len);
        match self.unpopulated.iter().any(|p| pages.contains(p)) {
            true => Err(()),
            false => Ok(()),
        }
    }
    /// The guest's own store: faults the pages in.
    fn guest_store(&mut self, va: u64, buf: &[u8]) {
        let pages = Self::pages(va, buf.len());
        self.unpopulated.retain(|p| !pages.contains(p));
        let r = self.range(va, buf.len()).expect("guest store outside RAM");
        self.bytes[r].copy_from_slice(buf);
    }
    /// The guest's own load: faults the pages in.
    fn guest_load(&mut self, va: u64, buf: &mut [u8]) {
        let pages = Self::pages(va, buf.len());
        self.unpopulated.retain(|p| !pages.contains(p));
        let r = self.range(va, buf.len()).expect("guest load outside RAM");
        buf.copy_from_slice(&self.bytes[r]);
    }
}

impl GuestVa for FakeMem {
    fn read(&mut self, va: u64, buf: &mut [u8]) -> Result<(), ()> {
        let r = self.range(va, buf.len())?;
        self.present(va, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
    fn write(&mut self, va: u64, buf: &[u8]) -> Result<(), ()> {
        let r = self.range(va, buf.len())?;
        self.present(va, buf.len())?;
        self.bytes[r].copy_from_slice(buf);
        Ok(())
    }
}

const NOW: HostTime = HostTime {
    secs: 0x1_2345_6789,
    usecs: 654_321,
};

// x7 as Backdoor_InOut builds it: WITH | DIR | size 4, signature 0x86.
const X7_LB: u64 = (0x86 << 32) | 0b1110;
// x7 as _BACKDOOR_HB builds it: STR | WITH (| DIR for IN), size 1.
const X7_HB_OUT: u64 = (0x86 << 32) | 0b1_1000;
const X7_HB_IN: u64 = (0x86 << 32) | 0b1_1100;

fn config() -> BackdoorConfig {
    BackdoorConfig {
        cpu_hz: 2_400_000_000,
        uuid: [
            0x56, 0x4d, 0x12, 0x34, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x02, 0x03, 0x04, 0xf0, 0xe0,
            0xd0, 0xc0,
        ],
        max_time_lag_us: 1000,
        ..Default::default()
    }
}

fn new_backdoor(high_bandwidth: bool) -> Backdoor {
    let mut gi = GuestInfo::new();
    gi.set("guestinfo.fromconfig", "preloaded").unwrap();
    Backdoor::new(
        BackdoorConfig {
            high_bandwidth,
            ..config()
        },
        gi,
    )
}

/// Backdoor(): eax = magic, dx low = BDOOR_PORT, the rest from the caller.
fn lb(
    bd: &mut Backdoor,
    mem: &mut FakeMem,
    ebx: u32,
    ecx: u32,
    edx_hi: u16,
    esi: u32,
    edi: u32,
) -> Regs {
    lb_at(bd, mem, NOW, ebx, ecx, edx_hi, esi, edi)
}

/// [`lb`] with `now` as the host (its time; a [`Host`] may add usage).
#[allow(clippy::too_many_arguments)]
fn lb_at(
    bd: &mut Backdoor,
    mem: &mut FakeMem,
    now: impl Host,
    ebx: u32,
    ecx: u32,
    edx_hi: u16,
    esi: u32,
    edi: u32,
) -> Regs {
    let mut r = Regs::default();
    r.x[0] = u64::from(BDOOR_MAGIC);
    r.x[1] = u64::from(ebx);
    r.x[2] = u64::from(ecx);
    r.x[3] = (u64::from(edx_hi) << 16) | u64::from(BDOOR_PORT);
    r.x[4] = u64::from(esi);
    r.x[5] = u64::from(edi);
    r.x[7] = X7_LB;
    assert_eq!(bd.handle(&mut r, mem, now), Outcome::Handled);
    r
}

fn status(r: &Regs) -> u16 {
    (r.ecx() >> 16) as u16
}

fn msg(op: u16) -> u32 {
    (u32::from(op) << 16) | u32::from(BDOOR_CMD_MESSAGE)
}

struct Chan {
    id: u16,
    high: u32,
    low: u32,
}

/// Message_Open with GUESTMSG_FLAG_COOKIE.
fn open(bd: &mut Backdoor, mem: &mut FakeMem, proto: u32) -> Option<Chan> {
    open_when(bd, mem, proto, NOW)
}

/// [`open`] at host time `now`.
fn open_when(bd: &mut Backdoor, mem: &mut FakeMem, proto: u32, now: HostTime) -> Option<Chan> {
    let r = lb_at(
        bd,
        mem,
        now,
        proto | GUESTMSG_FLAG_COOKIE,
        msg(MESSAGE_TYPE_OPEN),
        0,
        0,
        0,
    );
    (status(&r) & MESSAGE_STATUS_SUCCESS != 0).then(|| Chan {
        id: (r.edx() >> 16) as u16,
        high: r.esi(),
        low: r.edi(),
    })
}

fn op(bd: &mut Backdoor, mem: &mut FakeMem, c: &Chan, op: u16, ebx: u32) -> Regs {
    lb(bd, mem, ebx, msg(op), c.id, c.high, c.low)
}

const BUF_VA: u64 = 0xffff_8000_1000_0000;
const REPLY_VA: u64 = 0xffff_8000_1002_0000;

/// Message_Send + Message_Receive (RpcOut_send), taking the HB path when
/// the host offers it. Returns None where message.c would return FALSE.
fn rpc(bd: &mut Backdoor, mem: &mut FakeMem, c: &Chan, req: &[u8]) -> Option<Vec<u8>> {
    mem.guest_store(BUF_VA, req);
    let (reply, _) = rpc_at(bd, mem, c, req.len(), BUF_VA, REPLY_VA)?;
    Some(reply)
}

/// How a [`rpc_at`] went.
#[derive(Debug, Default, PartialEq, Eq)]
struct Retries {
    /// MESSAGE_STATUS_CPT answers to HB OUT / HB IN (message.c: goto retry).
    send: u32,
    receive: u32,
}

/// An HB transfer on channel `c` (OUT from `va` if `!is_in`, IN to `va`);
/// the status in ebx\[31:16\].
fn hb(bd: &mut Backdoor, mem: &mut FakeMem, c: &Chan, is_in: bool, va: u64, len: usize) -> u16 {
    let mut h = Regs::default();
    h.x[0] = u64::from(BDOOR_MAGIC);
    h.x[1] = u64::from(MESSAGE_STATUS_SUCCESS) << 16;
    h.x[2] = len as u64;
    h.x[3] = (u64::from(c.id) << 16) | u64::from(BDOORHB_PORT);
    if is_in {
        (h.x[4], h.x[5], h.x[6], h.x[7]) = (c.high.into(), va, c.low.into(), X7_HB_IN);
    } else {
        (h.x[4], h.x[5], h.x[6], h.x[7]) = (va, c.low.into(), c.high.into(), X7_HB_OUT);
    }
    bd.handle(&mut h, mem, NOW);
    (h.ebx() >> 16) as u16
}

/// [`rpc`] with the message already at `send_va` (`len` bytes) and the reply
/// buffer at `reply_va`, following message.c step by step, its checkpoint
/// retries included; the client's own loads and stores go through
/// [`FakeMem::guest_load`]/[`FakeMem::guest_store`].
fn rpc_at(
    bd: &mut Backdoor,
    mem: &mut FakeMem,
    c: &Chan,
    len: usize,
    send_va: u64,
    reply_va: u64,
) -> Option<(Vec<u8>, Retries)> {
    let mut retries = Retries::default();
    // Message_Send.
    'send: loop {
        let r = op(bd, mem, c, MESSAGE_TYPE_SENDSIZE, len as u32);
        if status(&r) & MESSAGE_STATUS_SUCCESS == 0 {
            return None;
        }
        if status(&r) & MESSAGE_STATUS_HB != 0 {
            if len > 0 {
                let st = hb(bd, mem, c, false, send_va, len);
                if st & MESSAGE_STATUS_SUCCESS == 0 {
                    if st & MESSAGE_STATUS_CPT != 0 && retries.send < 10 {
                        retries.send += 1;
                        continue 'send;
                    }
                    return None;
                }
            }
        } else {
            for at in (0..len).step_by(4) {
                let n = (len - at).min(4);
                let mut w = [0u8; 4];
                mem.guest_load(send_va + at as u64, &mut w[..n]);
                let r = op(bd, mem, c, MESSAGE_TYPE_SENDPAYLOAD, u32::from_le_bytes(w));
                if status(&r) & MESSAGE_STATUS_SUCCESS == 0 {
                    return None;
                }
            }
        }
        break;
    }
    // Message_Receive.
    'receive: loop {
        let r = op(bd, mem, c, MESSAGE_TYPE_RECVSIZE, 0);
        if status(&r) & MESSAGE_STATUS_SUCCESS == 0 {
            return None;
        }
        if status(&r) & MESSAGE_STATUS_DORECV == 0 {
            return Some((Vec::new(), retries));
        }
        assert_eq!((r.edx() >> 16) as u16, MESSAGE_TYPE_SENDSIZE);
        let size = r.ebx() as usize;
        let mut out = vec![0u8; size];
        if status(&r) & MESSAGE_STATUS_HB != 0 {
            if size > 0 {
                let st = hb(bd, mem, c, true, reply_va, size);
                if st & MESSAGE_STATUS_SUCCESS == 0 {
                    if st & MESSAGE_STATUS_CPT != 0 && retries.receive < 10 {
                        retries.receive += 1;
                        continue 'receive;
                    }
                    return None;
                }
                mem.guest_load(reply_va, &mut out);
            }
        } else {
            for (i, chunk) in out.chunks_mut(4).enumerate() {
                let r = op(
                    bd,
                    mem,
                    c,
                    MESSAGE_TYPE_RECVPAYLOAD,
                    u32::from(MESSAGE_STATUS_SUCCESS),
                );
                assert_eq!(status(&r) & MESSAGE_STATUS_SUCCESS, MESSAGE_STATUS_SUCCESS);
                assert_eq!((r.edx() >> 16) as u16, MESSAGE_TYPE_SENDPAYLOAD);
                let n = chunk.len();
                chunk.copy_from_slice(&r.ebx().to_le_bytes()[..n]);
                mem.guest_store(reply_va + 4 * i as u64, chunk);
            }
        }
        let r = op(
            bd,
            mem,
            c,
            MESSAGE_TYPE_RECVSTATUS,
            u32::from(MESSAGE_STATUS_SUCCESS),
        );
        return (status(&r) & MESSAGE_STATUS_SUCCESS != 0).then_some((out, retries));
    }
}

fn close(bd: &mut Backdoor, mem: &mut FakeMem, c: &Chan) -> u16 {
    status(&op(bd, mem, c, MESSAGE_TYPE_CLOSE, 0))
}

#[test]
fn checkvm_getversion() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let r = lb(
        &mut bd,
        &mut mem,
        !BDOOR_MAGIC,
        u32::from(BDOOR_CMD_GETVERSION),
        0,
        0,
        0,
    );
    assert_eq!(r.ebx(), BDOOR_MAGIC);
    assert_eq!(r.eax(), 6);
    assert_eq!(r.ecx(), VMX_TYPE_SCALABLE_SERVER);
    // Results are 32-bit, zero-extended.
    assert_eq!(r.x[1] >> 32, 0);
}

#[test]
fn mhz_hz_uuid_time() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    assert_eq!(lb(&mut bd, &mut mem, 0, 1, 0, 0, 0).eax(), 2400);
    let r = lb(&mut bd, &mut mem, 0, 45, 0, 0, 0);
    assert_eq!(
        (u64::from(r.ebx()) << 32) | u64::from(r.eax()),
        2_400_000_000
    );
    let r = lb(&mut bd, &mut mem, 0, 19, 0, 0, 0);
    assert_eq!(
        [r.eax(), r.ebx(), r.ecx(), r.edx()],
        [0x3412_4d56, 0xddcc_bbaa, 0x0403_0201, 0xc0d0_e0f0]
    );
    let r = lb(&mut bd, &mut mem, 0, 46, 0, 0, 0);
    assert_eq!(r.eax(), BDOOR_MAGIC);
    assert_eq!(r.ebx(), 654_321);
    assert_eq!(r.ecx(), 1000);
    assert_eq!(
        (u64::from(r.esi()) << 32) | u64::from(r.edx()),
        0x1_2345_6789
    );
    // The legacy GETTIME cannot express secs >= 2^32: fails with all ones.
    assert_eq!(lb(&mut bd, &mut mem, 0, 23, 0, 0, 0).eax(), BDOOR_FAIL);
}

#[test]
fn not_a_backdoor_request() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let mut r = Regs::default();
    r.x[0] = u64::from(BDOOR_MAGIC);
    r.x[2] = 10;
    r.x[3] = u64::from(BDOOR_PORT);
    r.x[7] = 0b1110; // flags but no signature
    let before = r;
    assert_eq!(bd.handle(&mut r, &mut mem, NOW), Outcome::NotBackdoor);
    assert_eq!(r, before);
}

#[test]
fn bad_magic_reads_like_an_empty_port() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let mut r = Regs::default();
    r.x[0] = 0xdead_0000_1234_0000;
    r.x[1] = 7;
    r.x[2] = 10;
    r.x[3] = u64::from(BDOOR_PORT);
    r.x[7] = X7_LB;
    assert_eq!(bd.handle(&mut r, &mut mem, NOW), Outcome::Handled);
    assert_eq!(r.x[0], 0xffff_ffff);
    assert_eq!(r.x[1], 7, "GETVERSION must not answer without the magic");
    // A 1-byte IN only fills al.
    let mut r = Regs::default();
    r.x[0] = 0x1234_5600;
    r.x[3] = u64::from(BDOOR_PORT);
    r.x[7] = (0x86 << 32) | 0b1100;
    bd.handle(&mut r, &mut mem, NOW);
    assert_eq!(r.x[0], 0x1234_56ff);
}

#[test]
fn unknown_port_and_command() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let mut r = Regs::default();
    r.x[0] = u64::from(BDOOR_MAGIC);
    r.x[2] = 10;
    r.x[3] = 0x5657;
    r.x[7] = X7_LB;
    bd.handle(&mut r, &mut mem, NOW);
    assert_eq!(r.eax(), 0xffff_ffff);
    assert_eq!(r.ebx(), 0);
    // Port from the immediate (WITH clear) can never be the backdoor.
    r.x[0] = u64::from(BDOOR_MAGIC);
    r.x[3] = u64::from(BDOOR_PORT);
    r.x[7] = (0x86 << 32) | 0b0110 | (0x58 << 5);
    bd.handle(&mut r, &mut mem, NOW);
    assert_eq!(r.ebx(), 0);
    // Unknown command: eax all ones, others untouched.
    let r = lb(&mut bd, &mut mem, 0x55, 0x7777, 0, 0x66, 0);
    assert_eq!(
        (r.eax(), r.ebx(), r.ecx(), r.esi()),
        (BDOOR_FAIL, 0x55, 0x7777, 0x66)
    );
}

/// The Guest API's running statistics are asked of the host only when a
/// `guestlib.info.get` arrives: the other requests do not pay for them.
#[test]
fn usage_is_asked_only_for_the_guest_api() {
    struct Counting(core::cell::Cell<u32>);
    impl Host for &Counting {
        fn time(&self) -> HostTime {
            NOW
        }
        fn usage(&self) -> guestlib::Usage {
            self.0.set(self.0.get() + 1);
            guestlib::Usage::default()
        }
    }
    let host = Counting(core::cell::Cell::new(0));
    let (mut bd, mut mem) = (new_backdoor(false), FakeMem::new());
    for (request, asked) in [
        (&b"log x"[..], 0),
        (b"info-get guestinfo.fromconfig", 0),
        (b"guestlib.info.get 3", 1),
    ] {
        // A channel each: the reply is left pending.
        let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
        let send = |bd: &mut Backdoor, mem: &mut FakeMem, op: u16, ebx: u32| {
            lb_at(bd, mem, &host, ebx, msg(op), c.id, c.high, c.low)
        };
        send(
            &mut bd,
            &mut mem,
            MESSAGE_TYPE_SENDSIZE,
            request.len() as u32,
        );
        for word in request.chunks(4) {
            let mut w = [0u8; 4];
            w[..word.len()].copy_from_slice(word);
            send(
                &mut bd,
                &mut mem,
                MESSAGE_TYPE_SENDPAYLOAD,
                u32::from_le_bytes(w),
            );
        }
        assert_eq!(host.0.get(), asked, "{}", String::from_utf8_lossy(request));
    }
}

fn rpc_str(bd: &mut Backdoor, mem: &mut FakeMem, c: &Chan, s: &str) -> String {
    String::from_utf8(rpc(bd, mem, c, s.as_bytes()).expect("rpc failed")).unwrap()
}

fn guestrpc_session(high_bandwidth: bool) {
    let (mut bd, mut mem) = (new_backdoor(high_bandwidth), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "info-set guestinfo.greeting hello"),
        "1 "
    );
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "info-get guestinfo.greeting"),
        "1 hello"
    );
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "info-get guestinfo.fromconfig"),
        "1 preloaded"
    );
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "info-get guestinfo.missing"),
        "0 No value found"
    );
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "tools.set.version 12389"),
        "1 "
    );
    assert_eq!(rpc_str(&mut bd, &mut mem, &c, "bogus"), "0 Unknown command");
    // Every length mod 4 exercises the partial last word.
    for n in 0..8 {
        let v = "x".repeat(n);
        let req = format!("info-set guestinfo.k{n} {v}");
        assert_eq!(rpc_str(&mut bd, &mut mem, &c, &req), "1 ");
        assert_eq!(
            rpc_str(&mut bd, &mut mem, &c, &format!("info-get guestinfo.k{n}")),
            format!("1 {v}")
        );
    }
    // A 4 KiB value round-trips.
    let big = "v".repeat(4096);
    assert_eq!(
        rpc_str(
            &mut bd,
            &mut mem,
            &c,
            &format!("info-set guestinfo.big {big}")
        ),
        "1 "
    );
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "info-get guestinfo.big"),
        format!("1 {big}")
    );
    assert_eq!(close(&mut bd, &mut mem, &c), MESSAGE_STATUS_SUCCESS);
    assert_eq!(bd.tools.version, Some(12389));
    assert_eq!(bd.guestinfo.get("guestinfo.greeting"), Some("hello"));
    assert_eq!(bd.open_channels(), 0);
}

#[test]
fn guestrpc_low_bandwidth() {
    guestrpc_session(false);
}

#[test]
fn guestrpc_high_bandwidth() {
    guestrpc_session(true);
}

#[test]
fn status_bits_advertise_hb_only_when_enabled() {
    for (hb, want) in [(true, MESSAGE_STATUS_HB), (false, 0)] {
        let (mut bd, mut mem) = (new_backdoor(hb), FakeMem::new());
        let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
        let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 3);
        assert_eq!(status(&r), MESSAGE_STATUS_SUCCESS | want);
    }
}

#[test]
fn tclo_channel_runs_the_vmx_handshake() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    assert_eq!(
        bd.request_power_op(PowerOp::Halt),
        Err(PowerOpError::NoDaemon)
    );
    let c = open(&mut bd, &mut mem, TCLO_PROTOCOL_NUM).unwrap();
    // vmtoolsd's RpcIn loop: send the answer to the last command (empty at
    // first), then receive the next command, answering each as
    // rpcChannel.c and toolsRpc.c do.
    let mut answer: Vec<u8> = Vec::new();
    let mut asked = Vec::new();
    for _ in 0..5 {
        let command = rpc(&mut bd, &mut mem, &c, &answer).expect("TCLO step");
        answer = match command.as_slice() {
            b"" => Vec::new(),
            b"reset" => b"OK ATR toolbox".to_vec(),
            b"Capabilities_Register" => {
                // The capabilities and version go over the RPCI channel.
                let r = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
                for report in [
                    "vmx.capability.unified_loop toolbox",
                    "tools.capability.statechange ",
                    "tools.set.version 12352",
                ] {
                    assert_eq!(rpc_str(&mut bd, &mut mem, &r, report), "1 ");
                }
                close(&mut bd, &mut mem, &r);
                b"OK ".to_vec()
            }
            b"Set_Option broadcastIP 1" => {
                // The guestInfo plugin reports the primary address over RPCI.
                let r = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
                let set = "info-set guestinfo.ip 10.0.2.15";
                assert_eq!(rpc_str(&mut bd, &mut mem, &r, set), "1 ");
                close(&mut bd, &mut mem, &r);
                b"OK ".to_vec()
            }
            other => panic!("unexpected TCLO command {other:?}"),
        };
        asked.push(String::from_utf8(command).unwrap());
    }
    assert_eq!(
        asked,
        [
            "reset",
            "Capabilities_Register",
            "Set_Option broadcastIP 1",
            "",
            ""
        ]
    );
    assert_eq!(bd.guestinfo.get("guestinfo.ip"), Some("10.0.2.15"));
    let tools = &bd.tools;
    assert_eq!(tools.daemon.as_deref(), Some("toolbox"));
    assert!(tools.capabilities_registered);
    assert_eq!(tools.version, Some(12352));
    assert!(tools
        .reports
        .iter()
        .any(|r| r == "tools.capability.statechange "));
    // The operator asks for a clean shutdown: the next poll carries it.
    assert_eq!(bd.request_power_op(PowerOp::Halt), Ok(()));
    assert_eq!(bd.request_power_op(PowerOp::Halt), Err(PowerOpError::Busy));
    assert_eq!(rpc(&mut bd, &mut mem, &c, &answer).unwrap(), b"OS_Halt");
    assert_eq!(rpc(&mut bd, &mut mem, &c, b"OK ").unwrap(), b"");
    assert_eq!(bd.tools.power_op.as_deref(), Some("OS_Halt: OK "));
    // The guest restarts: its channels and daemon are gone, guestinfo stays.
    bd.guest_reset();
    assert_eq!(bd.open_channels(), 0);
    assert_eq!(bd.tools.daemon, None);
    assert_eq!(bd.tools.version, Some(12352));
    assert_eq!(bd.guestinfo.get("guestinfo.fromconfig"), Some("preloaded"));
    assert_eq!(
        bd.request_power_op(PowerOp::Halt),
        Err(PowerOpError::NoDaemon)
    );
    assert_eq!(
        rpc(&mut bd, &mut mem, &c, b""),
        None,
        "the old channel is gone"
    );
    // A second daemon's channel gets its own handshake.
    let d = open(&mut bd, &mut mem, TCLO_PROTOCOL_NUM).unwrap();
    assert_eq!(rpc(&mut bd, &mut mem, &d, b"").unwrap(), b"reset");
}

#[test]
fn open_rejects_unknown_protocol_and_caps_channels() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    assert!(open(&mut bd, &mut mem, 0x1234_5678).is_none());
    let chans: Vec<Chan> = (0..MAX_CHANNELS)
        .map(|_| open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap())
        .collect();
    assert!(open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).is_none());
    assert_eq!(
        bd.last_error(),
        Some(crate::backdoor::BackdoorError::TooManyChannels)
    );
    close(&mut bd, &mut mem, &chans[3]);
    let again = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_eq!(again.id, chans[3].id);
    // Without the cookie flag, the channel opens and needs no cookie.
    close(&mut bd, &mut mem, &again);
    let r = lb(
        &mut bd,
        &mut mem,
        RPCI_PROTOCOL_NUM,
        msg(MESSAGE_TYPE_OPEN),
        0,
        0,
        0,
    );
    assert_eq!(status(&r), MESSAGE_STATUS_SUCCESS);
    let c = Chan {
        id: (r.edx() >> 16) as u16,
        high: 0x1111,
        low: 0x2222,
    };
    assert_eq!(rpc_str(&mut bd, &mut mem, &c, "log hi"), "1 ");
}

/// OPEN (with cookies) at host time `secs`.
fn open_at(bd: &mut Backdoor, secs: u64) -> Option<Chan> {
    let now = HostTime { secs, usecs: 0 };
    open_when(bd, &mut FakeMem::new(), RPCI_PROTOCOL_NUM, now)
}

/// RECVSTATUS on `c` at host time `secs` (nothing to receive: it fails, but
/// it names the channel with its cookie, so the channel is in use).
fn poll_at(bd: &mut Backdoor, c: &Chan, secs: u64) {
    let now = HostTime { secs, usecs: 0 };
    let recv_status = msg(MESSAGE_TYPE_RECVSTATUS);
    lb_at(
        bd,
        &mut FakeMem::new(),
        now,
        0,
        recv_status,
        c.id,
        c.high,
        c.low,
    );
}

#[test]
fn idle_channels_are_reclaimed_when_all_are_open() {
    let mut bd = new_backdoor(true);
    let idle_secs = CHANNEL_IDLE_US / 1_000_000;
    // Eight tools processes open a channel each and die without closing it.
    let chans: Vec<Chan> = (0..MAX_CHANNELS)
        .map(|i| open_at(&mut bd, 1000 + i as u64).unwrap())
        .collect();
    // Not idle long enough (the oldest for a second less): refused as before.
    assert!(open_at(&mut bd, 999 + idle_secs).is_none());
    // One owner is alive and polls; the others stay silent.
    poll_at(&mut bd, &chans[0], 999 + idle_secs);
    // The longest idle one (chans[1], opened at 1001) goes to the newcomer.
    let new = open_at(&mut bd, 1001 + idle_secs).unwrap();
    assert_eq!(new.id, chans[1].id);
    assert_eq!(bd.channels_reclaimed, 1);
    assert_eq!(bd.open_channels(), MAX_CHANNELS);
    let mut mem = FakeMem::new();
    assert!(
        rpc(&mut bd, &mut mem, &chans[1], b"log x").is_none(),
        "the old owner's cookie no longer opens it"
    );
    assert_eq!(rpc_str(&mut bd, &mut mem, &new, "log x"), "1 ");
    assert_eq!(rpc_str(&mut bd, &mut mem, &chans[0], "log y"), "1 ");
}

#[test]
fn cookies_guard_channels() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let a = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    let b = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_ne!((a.high, a.low), (b.high, b.low));
    let forged = Chan {
        id: a.id,
        high: b.high,
        low: b.low,
    };
    assert!(rpc(&mut bd, &mut mem, &forged, b"log x").is_none());
    assert_eq!(
        close(&mut bd, &mut mem, &forged),
        0,
        "cannot close another's channel"
    );
    assert_eq!(rpc_str(&mut bd, &mut mem, &a, "log x"), "1 ");
}

#[test]
fn closed_and_out_of_range_channels_fail() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_eq!(close(&mut bd, &mut mem, &c), MESSAGE_STATUS_SUCCESS);
    assert!(rpc(&mut bd, &mut mem, &c, b"log x").is_none());
    assert_eq!(close(&mut bd, &mut mem, &c), 0);
    let wild = Chan {
        id: 0xffff,
        high: 0,
        low: 0,
    };
    assert_eq!(
        status(&op(&mut bd, &mut mem, &wild, MESSAGE_TYPE_SENDSIZE, 1)),
        0
    );
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, 7, 0)),
        0,
        "unknown message type"
    );
}

#[test]
fn huge_lengths_fail() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    let r = op(
        &mut bd,
        &mut mem,
        &c,
        MESSAGE_TYPE_SENDSIZE,
        MAX_MESSAGE_LEN as u32 + 1,
    );
    assert_eq!(status(&r), 0);
    let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, u32::MAX);
    assert_eq!(status(&r), 0);
    // Announce 8 bytes, then an HB OUT claiming 4 GiB.
    op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 8);
    let mut h = Regs::default();
    h.x[0] = u64::from(BDOOR_MAGIC);
    h.x[1] = 0x1_0000;
    h.x[2] = 0xffff_ffff;
    h.x[3] = (u64::from(c.id) << 16) | u64::from(BDOORHB_PORT);
    h.x[4] = BUF_VA;
    h.x[5] = u64::from(c.low);
    h.x[6] = u64::from(c.high);
    h.x[7] = X7_HB_OUT;
    bd.handle(&mut h, &mut mem, NOW);
    assert_eq!(h.ebx(), 0, "status cleared, HB command kept");
    // The channel still works: resend from SENDSIZE (message.c's retry).
    assert_eq!(rpc_str(&mut bd, &mut mem, &c, "log ok"), "1 ");
    // A max-size message is accepted (and is an unknown command).
    let max = vec![b'z'; MAX_MESSAGE_LEN];
    assert_eq!(
        rpc(&mut bd, &mut mem, &c, &max).unwrap(),
        b"0 Unknown command"
    );
}

#[test]
fn bad_guest_address_fails_the_request() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 6);
    // Unmapped: the request fails, with the retry hint.
    let st = hb(&mut bd, &mut mem, &c, false, 0xdead_0000_0000, 6);
    assert_eq!(st, MESSAGE_STATUS_CPT);
    assert!(matches!(
        bd.last_error(),
        Some(crate::backdoor::BackdoorError::BadAddress {
            va: 0xdead_0000_0000,
            len: 6,
            ..
        })
    ));
    // The retry is offered low bandwidth only, but an HB transfer from a good
    // buffer is still served.
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 6)),
        MESSAGE_STATUS_SUCCESS
    );
    mem.guest_store(BUF_VA, b"log ab");
    assert_eq!(
        hb(&mut bd, &mut mem, &c, false, BUF_VA, 6),
        MESSAGE_STATUS_SUCCESS
    );
    // The message went through: HB is offered again.
    let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSIZE, 0);
    assert_eq!(
        status(&r),
        MESSAGE_STATUS_SUCCESS | MESSAGE_STATUS_DORECV | MESSAGE_STATUS_HB
    );
    assert_eq!(r.ebx(), 2);
    // Reply written to an address that wraps: fails; the reply survives.
    assert_eq!(
        hb(&mut bd, &mut mem, &c, true, u64::MAX - 1, 2),
        MESSAGE_STATUS_CPT
    );
    assert_eq!(
        hb(&mut bd, &mut mem, &c, true, REPLY_VA, 2),
        MESSAGE_STATUS_SUCCESS
    );
    let mut got = [0u8; 2];
    mem.read(REPLY_VA, &mut got).unwrap();
    assert_eq!(&got, b"1 ");
}

#[test]
fn pages_the_guest_has_not_populated_go_over_low_bandwidth() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    let value = "v".repeat(3000);
    let req = format!("info-set guestinfo.big {value}");
    // The message sits in a page that was paged out after it was written.
    mem.guest_store(BUF_VA, req.as_bytes());
    mem.evict(BUF_VA, req.len());
    let (reply, retries) = rpc_at(&mut bd, &mut mem, &c, req.len(), BUF_VA, REPLY_VA).unwrap();
    assert_eq!(reply, b"1 ");
    assert_eq!(
        retries,
        Retries {
            send: 1,
            receive: 0
        }
    );
    // The reply buffer spans pages never touched (a fresh allocation).
    let req = b"info-get guestinfo.big";
    mem.guest_store(BUF_VA, req);
    mem.evict(REPLY_VA, 3002);
    let (reply, retries) = rpc_at(&mut bd, &mut mem, &c, req.len(), BUF_VA, REPLY_VA).unwrap();
    assert_eq!(reply, format!("1 {value}").as_bytes());
    assert_eq!(
        retries,
        Retries {
            send: 0,
            receive: 1
        }
    );
    // Once a transfer is through, high bandwidth is offered again, and with
    // every page present nothing is retried.
    let r = op(
        &mut bd,
        &mut mem,
        &c,
        MESSAGE_TYPE_SENDSIZE,
        req.len() as u32,
    );
    assert_ne!(status(&r) & MESSAGE_STATUS_HB, 0);
    assert_eq!(
        hb(&mut bd, &mut mem, &c, false, BUF_VA, req.len()),
        MESSAGE_STATUS_SUCCESS
    );
    let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSIZE, 0);
    assert_ne!(status(&r) & MESSAGE_STATUS_HB, 0);
    assert_eq!(
        hb(&mut bd, &mut mem, &c, true, REPLY_VA, 3002),
        MESSAGE_STATUS_SUCCESS
    );
    op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSTATUS, 1);
    assert_eq!(close(&mut bd, &mut mem, &c), MESSAGE_STATUS_SUCCESS);
    // What the console reports.
    assert_eq!(bd.hb_retries, 2);
}

#[test]
fn a_guest_that_does_not_retry_sees_a_failure_and_can_carry_on() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    let req = b"info-get guestinfo.fromconfig";
    mem.guest_store(BUF_VA, req);
    op(
        &mut bd,
        &mut mem,
        &c,
        MESSAGE_TYPE_SENDSIZE,
        req.len() as u32,
    );
    assert_eq!(
        hb(&mut bd, &mut mem, &c, false, BUF_VA, req.len()),
        MESSAGE_STATUS_SUCCESS
    );
    let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSIZE, 0);
    let size = r.ebx() as usize;
    mem.evict(REPLY_VA, size);
    assert_eq!(
        hb(&mut bd, &mut mem, &c, true, REPLY_VA, size),
        MESSAGE_STATUS_CPT
    );
    // message.c's error_quit: RECVPAYLOAD with a failed status abandons the reply.
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVPAYLOAD, 0)),
        MESSAGE_STATUS_SUCCESS
    );
    // The next conversation is offered high bandwidth again and works.
    let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSIZE, 0);
    assert_eq!(status(&r), MESSAGE_STATUS_SUCCESS | MESSAGE_STATUS_HB);
    mem.guest_store(REPLY_VA, &vec![0; size]);
    assert_eq!(
        rpc_str(&mut bd, &mut mem, &c, "info-get guestinfo.fromconfig"),
        "1 preloaded"
    );
}

#[test]
fn channel_misuse() {
    let (mut bd, mut mem) = (new_backdoor(false), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    // Payload without a size, receive without a reply.
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDPAYLOAD, 0x41)),
        0
    );
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVPAYLOAD, 1)),
        0
    );
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSTATUS, 1)),
        0
    );
    // Too much payload.
    op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 4);
    op(
        &mut bd,
        &mut mem,
        &c,
        MESSAGE_TYPE_SENDPAYLOAD,
        u32::from_le_bytes(*b"log "),
    );
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDPAYLOAD, 0)),
        0
    );
    // A reply pending blocks a new send until collected or abandoned.
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 1)),
        0
    );
    let r = op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSIZE, 0);
    assert_eq!(r.ebx(), 2);
    // Abandon it (message.c error_quit: RECVPAYLOAD with status 0).
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVPAYLOAD, 0)),
        1
    );
    assert_eq!(
        status(&op(&mut bd, &mut mem, &c, MESSAGE_TYPE_RECVSTATUS, 1)),
        0
    );
    // HB is refused when the VM does not offer it.
    let mut h = Regs::default();
    h.x[0] = u64::from(BDOOR_MAGIC);
    h.x[1] = 0x1_0000;
    h.x[3] = (u64::from(c.id) << 16) | u64::from(BDOORHB_PORT);
    h.x[7] = X7_HB_OUT;
    bd.handle(&mut h, &mut mem, NOW);
    assert_eq!(h.ebx() >> 16, 0);
    assert_eq!(rpc_str(&mut bd, &mut mem, &c, "log fine"), "1 ");
}

#[test]
fn hb_rejects_df_and_unknown_hb_command() {
    let (mut bd, mut mem) = (new_backdoor(true), FakeMem::new());
    let c = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    op(&mut bd, &mut mem, &c, MESSAGE_TYPE_SENDSIZE, 1);
    mem.write(BUF_VA, b"x").unwrap();
    let mut h = Regs::default();
    h.x[0] = u64::from(BDOOR_MAGIC);
    h.x[1] = 0x1_0001; // BDOORHB_CMD_VASSERT: not served
    h.x[2] = 1;
    h.x[3] = (u64::from(c.id) << 16) | u64::from(BDOORHB_PORT);
    h.x[4] = BUF_VA;
    h.x[5] = u64::from(c.low);
    h.x[6] = u64::from(c.high);
    h.x[7] = X7_HB_OUT;
    let mut df = h;
    bd.handle(&mut h, &mut mem, NOW);
    assert_eq!(h.ebx(), 1);
    df.x[1] = 0x1_0000;
    df.x[7] |= u64::from(X86_IO_W7_DF);
    bd.handle(&mut df, &mut mem, NOW);
    assert_eq!(df.ebx(), 0);
    // HB port without string I/O is no device: IN reads ones.
    let mut r = Regs::default();
    r.x[0] = u64::from(BDOOR_MAGIC);
    r.x[3] = u64::from(BDOORHB_PORT);
    r.x[7] = X7_LB;
    bd.handle(&mut r, &mut mem, NOW);
    assert_eq!(r.x[0], 0xffff_ffff);
}

#[test]
fn vms_do_not_share_state() {
    let (mut a, mut b, mut mem) = (new_backdoor(true), new_backdoor(true), FakeMem::new());
    let ca = open(&mut a, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_eq!(
        rpc_str(&mut a, &mut mem, &ca, "info-set guestinfo.secret a-only"),
        "1 "
    );
    // Same id in VM b names nothing.
    let in_b = Chan {
        id: ca.id,
        high: ca.high,
        low: ca.low,
    };
    assert!(rpc(&mut b, &mut mem, &in_b, b"info-get guestinfo.secret").is_none());
    let cb = open(&mut b, &mut mem, RPCI_PROTOCOL_NUM).unwrap();
    assert_eq!(
        rpc_str(&mut b, &mut mem, &cb, "info-get guestinfo.secret"),
        "0 No value found"
    );
}

mod storm;
