//! The Clock protocol (0x14, version 1.0, DEN0056 section 4.6) over one
//! clock per vCPU. A clock's rate is the performance its vCPU asks for:
//! the fastest rate is a whole pCPU, a slower one that fraction of it.

use alloc::vec::Vec;

use crate::message::{
    Args, Reply, Status, PROTOCOL_ATTRIBUTES, PROTOCOL_MESSAGE_ATTRIBUTES, PROTOCOL_VERSION,
};

pub const PROTOCOL_ID: u8 = 0x14;
/// Version 1.0: no extended names, no notifications, no v2/v3 messages.
pub const VERSION: u32 = 0x0001_0000;

pub const CLOCK_ATTRIBUTES: u8 = 0x3;
pub const CLOCK_DESCRIBE_RATES: u8 = 0x4;
pub const CLOCK_RATE_SET: u8 = 0x5;
pub const CLOCK_RATE_GET: u8 = 0x6;
pub const CLOCK_CONFIG_SET: u8 = 0x7;

/// The rates every vCPU clock offers, in Hz, slowest first: a quarter, a
/// half, three quarters and all of a pCPU.
pub const RATES: [u64; 4] = [250_000_000, 500_000_000, 750_000_000, 1_000_000_000];

/// CLOCK_RATE_SET flags: \[0\] asynchronous, \[3:2\] rounding (0 down, 1 up,
/// 2 the platform's choice).
const RATE_SET_ASYNC: u32 = 1 << 0;
const ROUND_UP: u32 = 1;

/// One vCPU's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Clock {
    rate: u64,
    enabled: bool,
    /// Rate changes the guest made.
    changes: u64,
}

/// A VM's vCPU clocks: clock i is vCPU i's.
#[derive(Debug)]
pub struct VcpuClocks {
    clocks: Vec<Clock>,
}

impl VcpuClocks {
    /// `vcpus` clocks, each at full rate and enabled (a guest without a
    /// cpufreq driver runs at full speed).
    pub fn new(vcpus: usize) -> VcpuClocks {
        VcpuClocks {
            clocks: alloc::vec![
                Clock {
                    rate: RATES[RATES.len() - 1],
                    enabled: true,
                    changes: 0,
                };
                vcpus
            ],
        }
    }

    /// vCPU `i`'s share of a pCPU in thousandths (1000 = all of it): its
    /// clock's rate over the fastest rate. A disabled clock still runs its
    /// vCPU at the rate it has (Linux never gates a CPU's clock it runs on;
    /// a vCPU is not to be stopped behind its OS's back).
    pub fn permille(&self, i: usize) -> u64 {
        self.clocks
            .get(i)
            .map_or(1000, |c| c.rate * 1000 / RATES[RATES.len() - 1])
    }

    /// vCPU `i`'s clock rate in Hz and how often the guest changed it.
    pub fn rate(&self, i: usize) -> Option<(u64, u64)> {
        self.clocks.get(i).map(|c| (c.rate, c.changes))
    }

    fn get(&self, id: Option<u32>) -> Result<&Clock, Status> {
        let id = id.ok_or(Status::ProtocolError)? as usize;
        self.clocks.get(id).ok_or(Status::NotFound)
    }

    fn get_mut(&mut self, id: Option<u32>) -> Result<&mut Clock, Status> {
        let id = id.ok_or(Status::ProtocolError)? as usize;
        self.clocks.get_mut(id).ok_or(Status::NotFound)
    }

    /// Serves one Clock protocol command.
    pub fn handle(&mut self, message: u8, args: &Args<'_>) -> Reply {
        self.handle_inner(message, args)
            .unwrap_or_else(Reply::status)
    }

    fn handle_inner(&mut self, message: u8, args: &Args<'_>) -> Result<Reply, Status> {
        let mut r = Reply::success();
        match message {
            PROTOCOL_VERSION => {
                r.word(VERSION);
            }
            PROTOCOL_ATTRIBUTES => {
                // [15:0] clocks, [23:16] max pending asynchronous rate
                // changes: 0, so every change is synchronous.
                r.word(self.clocks.len() as u32 & 0xffff);
            }
            PROTOCOL_MESSAGE_ATTRIBUTES => {
                let m = args.word(0).ok_or(Status::ProtocolError)?;
                if !(PROTOCOL_VERSION as u32..=CLOCK_CONFIG_SET as u32).contains(&m) {
                    return Err(Status::NotFound);
                }
                r.word(0);
            }
            CLOCK_ATTRIBUTES => {
                let id = args.word(0);
                let clock = self.get(id)?;
                r.word(u32::from(clock.enabled));
                r.name(&alloc::format!("vcpu{}", id.unwrap_or(0)));
            }
            CLOCK_DESCRIBE_RATES => {
                self.get(args.word(0))?;
                let index = args.word(1).ok_or(Status::ProtocolError)? as usize;
                if index > RATES.len() {
                    return Err(Status::OutOfRange);
                }
                let rest = &RATES[index..];
                // [11:0] rates returned, [12] 0 = a list of discrete
                // rates, [31:16] rates remaining after these.
                r.word(rest.len() as u32);
                for &hz in rest {
                    r.word(hz as u32).word((hz >> 32) as u32);
                }
            }
            CLOCK_RATE_SET => {
                let flags = args.word(0).ok_or(Status::ProtocolError)?;
                let id = args.word(1);
                let lo = args.word(2).ok_or(Status::ProtocolError)?;
                let hi = args.word(3).ok_or(Status::ProtocolError)?;
                if flags & RATE_SET_ASYNC != 0 {
                    // PROTOCOL_ATTRIBUTES offered no asynchronous changes.
                    return Err(Status::NotSupported);
                }
                let clock = self.get_mut(id)?;
                let rate = round(
                    (hi as u64) << 32 | lo as u64,
                    (flags >> 2) & 0b11 == ROUND_UP,
                )?;
                if rate != clock.rate {
                    clock.rate = rate;
                    clock.changes += 1;
                }
            }
            CLOCK_RATE_GET => {
                let clock = self.get(args.word(0))?;
                r.word(clock.rate as u32).word((clock.rate >> 32) as u32);
            }
            CLOCK_CONFIG_SET => {
                let id = args.word(0);
                let attributes = args.word(1).ok_or(Status::ProtocolError)?;
                self.get_mut(id)?.enabled = attributes & 1 != 0;
            }
            _ => return Err(Status::NotFound),
        }
        Ok(r)
    }
}

/// `hz` as one of [`RATES`]: an exact rate as it is, another rounded down
/// (or up, when asked); outside the slowest..fastest range is an error.
fn round(hz: u64, up: bool) -> Result<u64, Status> {
    if hz < RATES[0] || hz > RATES[RATES.len() - 1] {
        return Err(Status::OutOfRange);
    }
    let rate = if up {
        RATES.iter().copied().find(|&r| r >= hz)
    } else {
        RATES.iter().rev().copied().find(|&r| r <= hz)
    };
    rate.ok_or(Status::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(r: &Reply) -> Vec<u32> {
        r.bytes()
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    fn call(clocks: &mut VcpuClocks, message: u8, args: &[u32]) -> Vec<u32> {
        let bytes: Vec<u8> = args.iter().flat_map(|w| w.to_le_bytes()).collect();
        words(&clocks.handle(message, &Args(&bytes)))
    }

    const NOT_FOUND: u32 = Status::NotFound as i32 as u32;
    const OUT_OF_RANGE: u32 = Status::OutOfRange as i32 as u32;
    const PROTOCOL_ERROR: u32 = Status::ProtocolError as i32 as u32;

    #[test]
    fn version_and_attributes() {
        let mut c = VcpuClocks::new(3);
        assert_eq!(call(&mut c, PROTOCOL_VERSION, &[]), [0, VERSION]);
        // Three clocks, no asynchronous changes.
        assert_eq!(call(&mut c, PROTOCOL_ATTRIBUTES, &[]), [0, 3]);
        assert_eq!(
            call(
                &mut c,
                PROTOCOL_MESSAGE_ATTRIBUTES,
                &[CLOCK_RATE_SET as u32]
            ),
            [0, 0]
        );
        assert_eq!(
            call(&mut c, PROTOCOL_MESSAGE_ATTRIBUTES, &[0x8]),
            [NOT_FOUND]
        );
    }

    #[test]
    fn attributes_name_each_vcpus_clock() {
        let mut c = VcpuClocks::new(2);
        let w = call(&mut c, CLOCK_ATTRIBUTES, &[1]);
        assert_eq!(w[..2], [0, 1]); // success, enabled
        let name: Vec<u8> = w[2..].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(&name, b"vcpu1\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(call(&mut c, CLOCK_ATTRIBUTES, &[2]), [NOT_FOUND]);
        assert_eq!(call(&mut c, CLOCK_ATTRIBUTES, &[]), [PROTOCOL_ERROR]);
    }

    #[test]
    fn describe_rates_pages_from_an_index() {
        let mut c = VcpuClocks::new(1);
        let all = call(&mut c, CLOCK_DESCRIBE_RATES, &[0, 0]);
        assert_eq!(all[..2], [0, 4]); // 4 discrete rates, none remaining
        assert_eq!(
            all[2..],
            [
                250_000_000,
                0,
                500_000_000,
                0,
                750_000_000,
                0,
                1_000_000_000,
                0
            ]
        );
        assert_eq!(
            call(&mut c, CLOCK_DESCRIBE_RATES, &[0, 3]),
            [0, 1, 1_000_000_000, 0]
        );
        assert_eq!(call(&mut c, CLOCK_DESCRIBE_RATES, &[0, 4]), [0, 0]);
        assert_eq!(call(&mut c, CLOCK_DESCRIBE_RATES, &[0, 5]), [OUT_OF_RANGE]);
        assert_eq!(call(&mut c, CLOCK_DESCRIBE_RATES, &[9, 0]), [NOT_FOUND]);
    }

    #[test]
    fn rate_set_is_the_vcpus_share() {
        let mut c = VcpuClocks::new(2);
        assert_eq!(c.permille(0), 1000);
        assert_eq!(call(&mut c, CLOCK_RATE_SET, &[0, 0, 250_000_000, 0]), [0]);
        assert_eq!(call(&mut c, CLOCK_RATE_GET, &[0]), [0, 250_000_000, 0]);
        assert_eq!(c.permille(0), 250);
        assert_eq!(c.permille(1), 1000);
        assert_eq!(c.rate(0), Some((250_000_000, 1)));
        // Setting the same rate again is no change.
        call(&mut c, CLOCK_RATE_SET, &[0, 0, 250_000_000, 0]);
        assert_eq!(c.rate(0), Some((250_000_000, 1)));
    }

    #[test]
    fn rates_between_steps_round_as_asked() {
        let mut c = VcpuClocks::new(1);
        call(&mut c, CLOCK_RATE_SET, &[0, 0, 600_000_000, 0]);
        assert_eq!(c.rate(0).unwrap().0, 500_000_000);
        call(&mut c, CLOCK_RATE_SET, &[ROUND_UP << 2, 0, 600_000_000, 0]);
        assert_eq!(c.rate(0).unwrap().0, 750_000_000);
    }

    #[test]
    fn bad_rate_sets_change_nothing() {
        let mut c = VcpuClocks::new(1);
        let before = c.rate(0);
        assert_eq!(call(&mut c, CLOCK_RATE_SET, &[0, 0, 1, 0]), [OUT_OF_RANGE]);
        assert_eq!(call(&mut c, CLOCK_RATE_SET, &[0, 0, 0, 1]), [OUT_OF_RANGE]); // 4.3 GHz
        assert_eq!(
            call(&mut c, CLOCK_RATE_SET, &[RATE_SET_ASYNC, 0, 250_000_000, 0]),
            [Status::NotSupported as i32 as u32]
        );
        assert_eq!(
            call(&mut c, CLOCK_RATE_SET, &[0, 7, 250_000_000, 0]),
            [NOT_FOUND]
        );
        assert_eq!(
            call(&mut c, CLOCK_RATE_SET, &[0, 0, 250_000_000]),
            [PROTOCOL_ERROR]
        );
        assert_eq!(c.rate(0), before);
    }

    #[test]
    fn config_set_enables_and_disables() {
        let mut c = VcpuClocks::new(1);
        assert_eq!(call(&mut c, CLOCK_CONFIG_SET, &[0, 0]), [0]);
        assert_eq!(call(&mut c, CLOCK_ATTRIBUTES, &[0])[1], 0);
        assert_eq!(call(&mut c, CLOCK_CONFIG_SET, &[0, 1]), [0]);
        assert_eq!(call(&mut c, CLOCK_ATTRIBUTES, &[0])[1], 1);
        // Still the vCPU's share: a gated clock does not stop a vCPU.
        call(&mut c, CLOCK_CONFIG_SET, &[0, 0]);
        assert_eq!(c.permille(0), 1000);
    }

    #[test]
    fn unknown_messages_are_not_found() {
        let mut c = VcpuClocks::new(1);
        for m in [0x8u8, 0x9, 0xff] {
            assert_eq!(call(&mut c, m, &[0, 0, 0, 0]), [NOT_FOUND]);
        }
    }
}
