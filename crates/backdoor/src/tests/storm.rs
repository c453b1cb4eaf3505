//! A guest that throws anything at the backdoor: seeded pseudo-random
//! requests, mostly well-formed enough to get past the first checks (the
//! magic, a known port, a known command, a channel that is open, its cookie)
//! and then wrong somewhere. Aerie serves these requests in EL2, so the
//! protocol code must never panic and its state must stay within its
//! bounds whatever arrives.

use super::*;
use crate::guestinfo::{MAX_KEYS, MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::rpci::{MAX_LOG_LINES, MAX_RECORD_LEN, MAX_REPORTS};
use aerie_testrng::Rng;

/// Channels the storm has opened, with their cookies, so that many requests
/// name a real channel.
#[derive(Clone, Copy)]
struct Known {
    id: u16,
    high: u32,
    low: u32,
}

/// A size: small, near the message bound, or anything.
fn size(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.below(64),
        1 => MAX_MESSAGE_LEN as u64 - 2 + rng.below(4),
        2 => rng.pick(&[0x7fff_ffff, 0xffff_ffff, 0x1_0000_0000]),
        _ => rng.next_u64(),
    }
}

/// A guest virtual address: inside the guest's one mapped window, at its
/// edge, or anywhere.
fn address(rng: &mut Rng, mem: &FakeMem) -> u64 {
    let len = mem.bytes.len() as u64;
    match rng.below(3) {
        0 => mem.base + rng.below(len),
        1 => mem.base + len - rng.below(8),
        _ => rng.next_u64(),
    }
}

fn request(rng: &mut Rng, mem: &FakeMem, known: &[Known]) -> Regs {
    let mut r = Regs::default();
    for x in r.x.iter_mut() {
        *x = rng.next_u64();
    }
    r.x[0] = if rng.chance(90) {
        u64::from(BDOOR_MAGIC)
    } else {
        r.x[0]
    };
    let chan = match known {
        [] => None,
        k if rng.chance(80) => Some(rng.pick(k)),
        _ => None,
    };
    let (id, high, low) = match chan {
        Some(c) if rng.chance(90) => (c.id, c.high, c.low),
        Some(c) => (c.id, rng.next_u64() as u32, c.low),
        None => (rng.below(MAX_CHANNELS as u64 + 2) as u16, 0, 0),
    };
    if rng.chance(60) {
        // Low bandwidth: a command in cx, for messages the type in ecx[31:16].
        r.x[7] = X7_LB;
        r.x[3] = (u64::from(id) << 16) | u64::from(BDOOR_PORT);
        let any = rng.next_u64() as u16;
        let cmd = rng.pick(&[
            BDOOR_CMD_GETVERSION,
            BDOOR_CMD_GETMHZ,
            BDOOR_CMD_GETUUID,
            BDOOR_CMD_GETTIME,
            BDOOR_CMD_GETHZ,
            BDOOR_CMD_GETTIMEFULL,
            BDOOR_CMD_MESSAGE,
            BDOOR_CMD_MESSAGE,
            BDOOR_CMD_MESSAGE,
            any,
        ]);
        let kind = rng.below(9) as u16;
        r.x[2] = (u64::from(kind) << 16) | u64::from(cmd);
        let any = rng.next_u64();
        r.x[1] = match kind {
            MESSAGE_TYPE_OPEN => rng.pick(&[
                u64::from(RPCI_PROTOCOL_NUM | GUESTMSG_FLAG_COOKIE),
                u64::from(TCLO_PROTOCOL_NUM | GUESTMSG_FLAG_COOKIE),
                u64::from(RPCI_PROTOCOL_NUM),
                any,
            ]),
            MESSAGE_TYPE_SENDSIZE => size(rng),
            _ => rng.next_u64(),
        };
        r.x[4] = u64::from(high);
        r.x[5] = u64::from(low);
    } else {
        // High bandwidth: a buffer in x4 (out) or x5 (in), the length in x2.
        let any = (0x86 << 32) | (rng.next_u64() & 0xffff_ffff);
        r.x[7] = rng.pick(&[X7_HB_OUT, X7_HB_IN, any]);
        r.x[3] = (u64::from(id) << 16) | u64::from(BDOORHB_PORT);
        let hb_cmd = if rng.chance(90) {
            BDOORHB_CMD_MESSAGE
        } else {
            rng.next_u64() as u16
        };
        r.x[1] = (u64::from(MESSAGE_STATUS_SUCCESS) << 16) | u64::from(hb_cmd);
        r.x[2] = size(rng);
        if r.x[7] == X7_HB_OUT {
            (r.x[4], r.x[5], r.x[6]) = (address(rng, mem), u64::from(low), u64::from(high));
        } else {
            (r.x[4], r.x[5], r.x[6]) = (u64::from(high), address(rng, mem), u64::from(low));
        }
    }
    r
}

/// Now and then a whole, valid GuestRPC request, so the store and the tools
/// records fill up and the storm runs against full state too.
fn valid_rpc(rng: &mut Rng, bd: &mut Backdoor, mem: &mut FakeMem, c: &Chan) {
    let key = alloc::format!("guestinfo.k{}", rng.below(2 * MAX_KEYS as u64));
    let long = "v".repeat(rng.below(MAX_VALUE_LEN as u64 + 8) as usize);
    let req = match rng.below(4) {
        0 => alloc::format!("info-set {key} {long}"),
        1 => alloc::format!("info-get {key}"),
        2 => alloc::format!(
            "log {}",
            "l".repeat(rng.below(2 * MAX_RECORD_LEN as u64) as usize)
        ),
        _ => alloc::format!("tools.capability.x{} 1", rng.below(100)),
    };
    rpc(bd, mem, c, req.as_bytes());
}

fn check_bounds(bd: &Backdoor) {
    assert!(bd.open_channels() <= MAX_CHANNELS);
    assert!(bd.guestinfo.len() <= MAX_KEYS);
    for (k, v) in bd.guestinfo.iter() {
        assert!(k.len() <= MAX_KEY_LEN && v.len() <= MAX_VALUE_LEN, "{k}");
    }
    assert!(bd.tools.log.len() <= MAX_LOG_LINES);
    assert!(bd.tools.reports.len() <= MAX_REPORTS);
    for s in bd.tools.log.iter().chain(bd.tools.reports.iter()) {
        assert!(s.len() <= MAX_RECORD_LEN);
    }
}

#[test]
fn a_storm_of_requests_never_panics_and_stays_bounded() {
    for (seed, high_bandwidth) in [(0x5eed_0001, true), (0x5eed_0002, false)] {
        let mut rng = Rng::new(seed);
        let (mut bd, mut mem) = (new_backdoor(high_bandwidth), FakeMem::new());
        let mut known: Vec<Known> = Vec::new();
        for _ in 0..60_000 {
            if rng.chance(2) {
                if let Some(c) = open(&mut bd, &mut mem, RPCI_PROTOCOL_NUM) {
                    known.push(Known {
                        id: c.id,
                        high: c.high,
                        low: c.low,
                    });
                }
            }
            if rng.chance(1) {
                if let Some(k) = known.last().copied() {
                    let c = Chan {
                        id: k.id,
                        high: k.high,
                        low: k.low,
                    };
                    valid_rpc(&mut rng, &mut bd, &mut mem, &c);
                }
            }
            let mut r = request(&mut rng, &mem, &known);
            let x7 = r.x[7];
            bd.handle(&mut r, &mut mem, NOW);
            // The request's description is never rewritten.
            assert_eq!(r.x[7], x7);
            check_bounds(&bd);
            // Forget channels the storm closed (or that never were).
            if known.len() > 2 * MAX_CHANNELS {
                known.drain(..MAX_CHANNELS);
            }
        }
        // Whatever happened, a polite client still gets served: once the
        // channels the storm left open have been idle long enough.
        let later = NOW.secs + CHANNEL_IDLE_US / 1_000_000 + 1;
        let c = open_at(&mut bd, later)
            .unwrap_or_else(|| panic!("open after the storm: {:?}", bd.last_error()));
        let reply = rpc(&mut bd, &mut mem, &c, b"info-set guestinfo.after ok").unwrap();
        assert_eq!(reply, b"1 ");
        let reply = rpc(&mut bd, &mut mem, &c, b"info-get guestinfo.after").unwrap();
        assert_eq!(reply, b"1 ok");
    }
}
