//! The channel: a shared-memory area in guest RAM (the `arm,scmi-shmem`
//! layout, DEN0056 section 5.1 and Linux's shmem.c) through which the
//! guest, as agent, sends one command at a time and Aerie, as platform,
//! replies in place before its SMCCC call returns.
//!
//! | offset | field |
//! |---|---|
//! | 0 | reserved |
//! | 4 | channel_status: \[0\] free (the platform owns the channel while clear), \[1\] error |
//! | 8 | reserved (8 bytes) |
//! | 16 | flags: \[0\] completion interrupt wanted (never offered here) |
//! | 20 | length: of the header and the payload, in bytes |
//! | 24 | message header |
//! | 28 | payload: the command's parameters; in a reply, the status, then the return values |

use crate::message::{Args, Header, Reply, Status, MAX_REPLY};
use crate::{base, clock, VcpuClocks};

/// The channel's size as published in the guest's device tree: one page.
pub const SHMEM_SIZE: u64 = 0x1000;
/// The bytes of the channel [`serve`] reads and writes (the rest of the
/// page is never used): the fields, and the longest payload either way.
pub const WINDOW: usize = PAYLOAD + 128;

const CHANNEL_STATUS: usize = 4;
const LENGTH: usize = 20;
const HEADER: usize = 24;
const PAYLOAD: usize = 28;
const CHANNEL_FREE: u32 = 1 << 0;

/// What [`serve`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// A command was answered with `status`.
    Replied {
        protocol: u8,
        message: u8,
        status: i32,
    },
    /// The channel was free: no command waited (a stray call).
    Idle,
}

fn read(channel: &[u8; WINDOW], at: usize) -> u32 {
    u32::from_le_bytes([
        channel[at],
        channel[at + 1],
        channel[at + 2],
        channel[at + 3],
    ])
}

fn write(channel: &mut [u8; WINDOW], at: usize, value: u32) {
    channel[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// A channel handed to the agent for its first command: empty and free
/// (Linux waits for the free bit before it writes anything).
pub fn opened() -> [u8; WINDOW] {
    let mut channel = [0u8; WINDOW];
    write(&mut channel, CHANNEL_STATUS, CHANNEL_FREE);
    channel
}

/// Answers the command waiting in `channel` (a copy of the channel's first
/// [`WINDOW`] bytes, written back by the caller) for a VM whose vCPU clocks
/// are `clocks`, and hands the channel back to the agent (free). A length
/// that cannot be a command (shorter than a header, longer than the window)
/// gets PROTOCOL_ERROR; a protocol Aerie does not offer, NOT_SUPPORTED.
pub fn serve(channel: &mut [u8; WINDOW], clocks: &mut VcpuClocks) -> Served {
    if read(channel, CHANNEL_STATUS) & CHANNEL_FREE != 0 {
        return Served::Idle;
    }
    let header = Header(read(channel, HEADER));
    let length = read(channel, LENGTH) as usize;
    let reply = if !(4..=WINDOW - HEADER).contains(&length) || header.message_type() != 0 {
        Reply::status(Status::ProtocolError)
    } else {
        let args = Args(&channel[PAYLOAD..HEADER + length]);
        match header.protocol_id() {
            base::PROTOCOL_ID => base::handle(header.message_id(), &args),
            clock::PROTOCOL_ID => clocks.handle(header.message_id(), &args),
            _ => Reply::status(Status::NotSupported),
        }
    };
    let bytes = reply.bytes();
    debug_assert!(bytes.len() <= MAX_REPLY && PAYLOAD + MAX_REPLY <= WINDOW);
    channel[PAYLOAD..PAYLOAD + bytes.len()].copy_from_slice(bytes);
    write(channel, LENGTH, 4 + bytes.len() as u32);
    write(channel, CHANNEL_STATUS, CHANNEL_FREE);
    Served::Replied {
        protocol: header.protocol_id(),
        message: header.message_id(),
        status: reply.status_word(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aerie_testrng::Rng;
    use alloc::vec::Vec;

    /// A channel holding `header` and `args`, as Linux's shmem_tx_prepare
    /// leaves it (busy, length = header + payload).
    fn command(header: Header, args: &[u32]) -> [u8; WINDOW] {
        let mut c = [0u8; WINDOW];
        write(&mut c, LENGTH, 4 + 4 * args.len() as u32);
        write(&mut c, HEADER, header.0);
        for (i, w) in args.iter().enumerate() {
            write(&mut c, PAYLOAD + 4 * i, *w);
        }
        c
    }

    /// The reply's status and values, as Linux's shmem_fetch_response reads
    /// them (status at the payload, length - 8 bytes of values after it).
    fn reply(c: &[u8; WINDOW]) -> (i32, Vec<u32>) {
        let len = read(c, LENGTH) as usize;
        let values = (0..(len - 8) / 4)
            .map(|i| read(c, PAYLOAD + 4 + 4 * i))
            .collect();
        (read(c, PAYLOAD) as i32, values)
    }

    #[test]
    fn a_command_is_answered_in_place_and_the_channel_freed() {
        let mut clocks = VcpuClocks::new(2);
        let h = Header::new(clock::PROTOCOL_ID, clock::CLOCK_RATE_SET, 7);
        let mut c = command(h, &[0, 1, 500_000_000, 0]);
        assert_eq!(
            serve(&mut c, &mut clocks),
            Served::Replied {
                protocol: 0x14,
                message: clock::CLOCK_RATE_SET,
                status: 0
            }
        );
        assert_eq!(read(&c, CHANNEL_STATUS), CHANNEL_FREE);
        assert_eq!(read(&c, HEADER), h.0, "the header stays for the agent");
        assert_eq!(reply(&c), (0, alloc::vec![]));
        assert_eq!(clocks.permille(1), 500);

        let mut c = command(
            Header::new(clock::PROTOCOL_ID, clock::CLOCK_RATE_GET, 8),
            &[1],
        );
        serve(&mut c, &mut clocks);
        assert_eq!(reply(&c), (0, alloc::vec![500_000_000, 0]));
    }

    #[test]
    fn base_discovery_through_the_channel() {
        let mut clocks = VcpuClocks::new(1);
        let mut c = command(
            Header::new(base::PROTOCOL_ID, base::DISCOVER_LIST_PROTOCOLS, 1),
            &[0],
        );
        serve(&mut c, &mut clocks);
        assert_eq!(reply(&c), (0, alloc::vec![1, 0x14]));
    }

    #[test]
    fn an_opened_channel_is_free_and_empty() {
        let c = opened();
        assert_eq!(read(&c, CHANNEL_STATUS), CHANNEL_FREE);
        assert_eq!(serve(&mut c.clone(), &mut VcpuClocks::new(1)), Served::Idle);
        assert!(c[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_free_channel_has_nothing_to_answer() {
        let mut clocks = VcpuClocks::new(1);
        let mut c = command(Header::new(base::PROTOCOL_ID, 0, 0), &[]);
        write(&mut c, CHANNEL_STATUS, CHANNEL_FREE);
        let before = c;
        assert_eq!(serve(&mut c, &mut clocks), Served::Idle);
        assert_eq!(c, before);
    }

    #[test]
    fn malformed_commands_get_errors() {
        let mut clocks = VcpuClocks::new(1);
        let unknown = Header::new(0x19, 0, 0); // no such protocol offered
        let mut c = command(unknown, &[]);
        serve(&mut c, &mut clocks);
        assert_eq!(reply(&c).0, Status::NotSupported as i32);

        for length in [0u32, 3, (WINDOW - HEADER + 1) as u32, u32::MAX] {
            let mut c = command(Header::new(base::PROTOCOL_ID, 0, 0), &[]);
            write(&mut c, LENGTH, length);
            serve(&mut c, &mut clocks);
            assert_eq!(reply(&c).0, Status::ProtocolError as i32, "length {length}");
            assert_eq!(read(&c, CHANNEL_STATUS), CHANNEL_FREE);
        }
        // A delayed response or a notification is not the agent's to send.
        let mut c = command(Header(Header::new(base::PROTOCOL_ID, 0, 0).0 | 3 << 8), &[]);
        serve(&mut c, &mut clocks);
        assert_eq!(reply(&c).0, Status::ProtocolError as i32);
    }

    /// Seeded random channels: nothing panics, a busy channel always comes
    /// back free with a reply that fits, and clocks stay at offered rates.
    #[test]
    fn storm() {
        let mut rng = Rng::new(0x5c41);
        let mut clocks = VcpuClocks::new(4);
        let protocols = [base::PROTOCOL_ID, clock::PROTOCOL_ID, 0x13, 0x15, 0];
        for _ in 0..20_000 {
            let mut c = [0u8; WINDOW];
            for b in c.iter_mut() {
                *b = rng.next_u64() as u8;
            }
            let busy = rng.chance(80);
            write(&mut c, CHANNEL_STATUS, u32::from(!busy));
            let h = Header::new(
                rng.pick(&protocols),
                rng.below(10) as u8,
                rng.below(1024) as u16,
            );
            write(&mut c, HEADER, h.0);
            if rng.chance(80) {
                write(&mut c, LENGTH, 4 + 4 * rng.below(6) as u32);
            }
            if rng.chance(50) {
                // A plausible rate or clock id now and then.
                write(&mut c, PAYLOAD + 8, rng.pick(&clock::RATES) as u32);
                write(&mut c, PAYLOAD, rng.below(3) as u32);
                write(&mut c, PAYLOAD + 4, rng.below(5) as u32);
                write(&mut c, PAYLOAD + 12, 0);
            }
            match serve(&mut c, &mut clocks) {
                Served::Idle => assert!(!busy),
                Served::Replied { .. } => {
                    assert!(busy);
                    assert_eq!(read(&c, CHANNEL_STATUS), CHANNEL_FREE);
                    let len = read(&c, LENGTH) as usize;
                    assert!((8..=4 + MAX_REPLY).contains(&len), "{len}");
                }
            }
            for i in 0..4 {
                let (rate, _) = clocks.rate(i).unwrap();
                assert!(clock::RATES.contains(&rate));
            }
        }
    }
}
