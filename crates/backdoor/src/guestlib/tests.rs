//! The statistics reply read back as vmGuestLib reads it: the packed
//! little-endian header, then XDR statistics in id order.

use super::*;
use crate::guestinfo::GuestInfo;
use crate::rpci::{dispatch, ToolsState};
use crate::{Backdoor, BackdoorConfig};

const FACTS: Facts = Facts {
    session_id: 0x1234_5678_9abc_def1,
    host_mhz: 62,
    memory_mb: 256,
    cpu_used_ms: 4_000_000_000_123,
    elapsed_ms: 77,
    cpu_stolen_ms: None,
};

#[derive(Debug, PartialEq)]
enum Value {
    Invalid,
    U32(u32),
    U64(u64),
    Text(String),
}

/// Reads a reply the way the guest library does: the header, the count,
/// then each statistic's id (which must run 1, 2, ...), valid flag and a
/// value of that id's type.
fn read(reply: &[u8]) -> (u64, Vec<Value>) {
    assert_eq!(&reply[..2], b"1 ");
    let le32 = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
    assert_eq!(le32(&reply[2..6]), 3, "data version");
    let session = u64::from_le_bytes(reply[6..14].try_into().unwrap());
    let size = le32(&reply[14..18]) as usize;
    let mut x = &reply[18..];
    assert_eq!(x.len(), size, "dataSize is what follows");
    let mut word = || {
        let (w, rest) = x.split_at(4);
        x = rest;
        u32::from_be_bytes(w.try_into().unwrap())
    };
    let count = word();
    let mut values = Vec::new();
    for id in 1..=count {
        assert_eq!(word(), id, "statistics in id order");
        let valid = word();
        assert!(valid <= 1);
        let value = match id {
            4 | 17 | 19 | 20 => Value::U64(u64::from(word()) << 32 | u64::from(word())),
            18 => {
                let len = word() as usize;
                let text: Vec<u8> = (0..len.div_ceil(4))
                    .flat_map(|_| word().to_be_bytes())
                    .collect();
                Value::Text(String::from_utf8(text[..len].to_vec()).unwrap())
            }
            _ => Value::U32(word()),
        };
        values.push(if valid == 1 { value } else { Value::Invalid });
    }
    assert!(x.is_empty(), "nothing after the last statistic");
    (session, values)
}

#[test]
fn version_3_carries_every_statistic_in_order() {
    let (session, v) = read(&reply("3", &FACTS));
    assert_eq!(session, FACTS.session_id);
    use Value::*;
    assert_eq!(
        v,
        [
            U32(0),
            U32(u32::MAX),
            Invalid,
            U64(4_000_000_000_123),
            U32(62),
            U32(256),
            U32(256),
            Invalid,
            U32(256),
            Invalid,
            Invalid,
            U32(0),
            U32(0),
            U32(0),
            U32(0),
            U32(256),
            U64(77),
            Text("/".into()),
            Invalid,
            U64(256),
        ]
    );
}

#[test]
fn another_version_is_told_version_3() {
    for args in ["2", "4", "", "x", "3 3"] {
        assert_eq!(reply(args, &FACTS), b"0 3", "{args:?}");
    }
    let (mut info, mut tools) = (GuestInfo::new(), ToolsState::default());
    let r = dispatch(b"guestlib.info.get 3", &mut info, &mut tools, || FACTS);
    assert_eq!(read(&r).0, FACTS.session_id);
    let r = dispatch(b"guestlib.info.get 2\0", &mut info, &mut tools, || FACTS);
    assert_eq!(r, b"0 3");
}

#[test]
fn a_backdoor_keeps_one_nonzero_session_and_its_usage() {
    let config = BackdoorConfig {
        cpu_hz: 62_500_000,
        memory_mb: 256,
        ..Default::default()
    };
    let mut bd = Backdoor::new(config, GuestInfo::new());
    let session = bd.session_id();
    assert_ne!(session, 0);
    let usage = Usage {
        cpu_used_ms: 10,
        elapsed_ms: 20,
        cpu_stolen_ms: Some(5),
    };
    let (s, v) = read(&reply("3", &bd.facts.with_usage(usage)));
    assert_eq!(s, session);
    assert_eq!(v[3], Value::U64(10));
    assert_eq!(v[4], Value::U32(62));
    assert_eq!(v[6], Value::U32(256));
    assert_eq!(v[16], Value::U64(20));
    assert_eq!(v[18], Value::U64(5));
    bd.guest_reset();
    assert_eq!(
        bd.session_id(),
        session,
        "a guest restart keeps the session"
    );
    let other = Backdoor::new(
        BackdoorConfig {
            cookie_seed: 7,
            ..config
        },
        GuestInfo::new(),
    );
    assert_ne!(other.session_id(), session);
}
