//! SCMI (DEN0056) through the channel the device tree publishes: the
//! message written into the shared memory, the doorbell (`arm,smc-id`)
//! called, the reply read back, as Linux's SMC transport does.
//!
//! `scmi_clock`: Base discovery, the clock of this vCPU (attributes,
//! rates, a rate set and read back), and the malformed: an unknown
//! protocol, a rate outside the range, an impossible length, a doorbell
//! with nothing in the channel. The vCPU's clock is back at full rate
//! at the end (a slower clock caps this vCPU's share of a pCPU).

use super::TestResult;
use crate::detail::{detail, fail, Detail};
use crate::machine::Machine;
use crate::psci;

const BASE: u32 = 0x10;
const CLOCK: u32 = 0x14;
const PROTOCOL_VERSION: u32 = 0x0;
const PROTOCOL_ATTRIBUTES: u32 = 0x1;
const DISCOVER_VENDOR: u32 = 0x3;
const DISCOVER_LIST_PROTOCOLS: u32 = 0x6;
const CLOCK_ATTRIBUTES: u32 = 0x3;
const CLOCK_DESCRIBE_RATES: u32 = 0x4;
const CLOCK_RATE_SET: u32 = 0x5;
const CLOCK_RATE_GET: u32 = 0x6;

const NOT_SUPPORTED: i32 = -1;
const NOT_FOUND: i32 = -4;
const OUT_OF_RANGE: i32 = -5;
const PROTOCOL_ERROR: i32 = -10;

/// Channel fields (byte offsets, the `arm,scmi-shmem` layout).
const CHANNEL_STATUS: u64 = 4;
const LENGTH: u64 = 20;
const HEADER: u64 = 24;
const PAYLOAD: u64 = 28;
const FREE: u32 = 1;

const FULL_HZ: u32 = 1_000_000_000;

struct Channel {
    base: u64,
    smc_id: u32,
    token: u32,
}

impl Channel {
    fn read(&self, off: u64) -> u32 {
        // SAFETY: `base` is the channel the device tree reserved for us
        // (a page of guest RAM); the MMU is off, so this is a device access.
        unsafe { core::ptr::read_volatile((self.base + off) as *const u32) }
    }

    fn write(&self, off: u64, value: u32) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.base + off) as *mut u32, value) }
    }

    /// Rings the doorbell; its x0.
    fn ring(&self) -> i64 {
        psci::call(self.smc_id, 0, 0, 0)
    }

    /// Sends `args` as message `message` of `protocol` with `length` as the
    /// length field (normally 4 + 4 * args); returns the status and up to
    /// 8 return values.
    fn send_raw(
        &mut self,
        protocol: u32,
        message: u32,
        args: &[u32],
        length: u32,
    ) -> Result<(i32, [u32; 8]), Detail> {
        if self.read(CHANNEL_STATUS) & FREE == 0 {
            fail!("channel busy before message {protocol:#x}/{message:#x}");
        }
        self.token = (self.token + 1) & 0x3ff;
        self.write(CHANNEL_STATUS, 0);
        self.write(LENGTH, length);
        self.write(HEADER, message | protocol << 10 | self.token << 18);
        for (i, &a) in args.iter().enumerate() {
            self.write(PAYLOAD + 4 * i as u64, a);
        }
        let x0 = self.ring();
        if x0 != 0 {
            fail!("doorbell for {protocol:#x}/{message:#x}: x0 = {x0}, expected 0");
        }
        if self.read(CHANNEL_STATUS) & FREE == 0 {
            fail!("channel still busy after {protocol:#x}/{message:#x}");
        }
        let len = self.read(LENGTH);
        if len < 8 {
            fail!("reply to {protocol:#x}/{message:#x}: length {len}, below header + status");
        }
        let mut values = [0u32; 8];
        for (i, v) in values.iter_mut().enumerate().take(((len - 8) / 4) as usize) {
            *v = self.read(PAYLOAD + 4 + 4 * i as u64);
        }
        Ok((self.read(PAYLOAD) as i32, values))
    }

    fn send(
        &mut self,
        protocol: u32,
        message: u32,
        args: &[u32],
    ) -> Result<(i32, [u32; 8]), Detail> {
        self.send_raw(protocol, message, args, 4 + 4 * args.len() as u32)
    }

    /// A message that must succeed; its return values.
    fn ok(&mut self, protocol: u32, message: u32, args: &[u32]) -> Result<[u32; 8], Detail> {
        let (status, values) = self.send(protocol, message, args)?;
        if status != 0 {
            fail!("{protocol:#x}/{message:#x} {args:?}: status {status}, expected 0");
        }
        Ok(values)
    }

    /// A message that must fail with `want`.
    fn refused(
        &mut self,
        protocol: u32,
        message: u32,
        args: &[u32],
        want: i32,
    ) -> Result<(), Detail> {
        let (status, _) = self.send(protocol, message, args)?;
        if status != want {
            fail!("{protocol:#x}/{message:#x} {args:?}: status {status}, expected {want}");
        }
        Ok(())
    }
}

impl Channel {
    /// The channel the device tree publishes, if it has one.
    fn of(machine: &Machine) -> Option<Self> {
        Some(Channel {
            base: machine.scmi_shmem?,
            smc_id: machine.scmi_smc_id?,
            token: 0,
        })
    }
}

/// Sets clock `clock` (vCPU `clock`'s) to `hz` over the VM's SCMI channel.
pub fn set_clock_rate(machine: &Machine, clock: u32, hz: u32) -> Result<(), Detail> {
    let Some(mut ch) = Channel::of(machine) else {
        fail!("no SCMI channel in the device tree");
    };
    ch.ok(CLOCK, CLOCK_RATE_SET, &[0, clock, hz, 0])?;
    Ok(())
}

pub fn scmi_clock(machine: &Machine) -> TestResult {
    let Some(mut ch) = Channel::of(machine) else {
        return Ok(detail!("skipped: no SCMI channel in the device tree"));
    };
    let me = crate::sysreg::mpidr_affinity() as u32 & 0xff;

    let version = ch.ok(BASE, PROTOCOL_VERSION, &[])?[0];
    let attrs = ch.ok(BASE, PROTOCOL_ATTRIBUTES, &[])?[0];
    let list = ch.ok(BASE, DISCOVER_LIST_PROTOCOLS, &[0])?;
    if attrs & 0xff != 1 || list[0] != 1 || list[1] & 0xff != CLOCK {
        fail!(
            "Base: {attrs:#x} protocols, list {:?}: expected the clock protocol alone",
            &list[..2]
        );
    }
    let words = ch.ok(BASE, DISCOVER_VENDOR, &[])?;
    let mut vendor = [0u8; 16];
    for (i, w) in words[..4].iter().enumerate() {
        vendor[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    let vendor_len = vendor.iter().position(|&b| b == 0).unwrap_or(16);

    let clocks = ch.ok(CLOCK, PROTOCOL_ATTRIBUTES, &[])?[0] & 0xffff;
    if clocks as usize != machine.cpus {
        fail!("{clocks} clocks for {} vCPUs", machine.cpus);
    }
    let attributes = ch.ok(CLOCK, CLOCK_ATTRIBUTES, &[me])?[0];
    let rates = ch.ok(CLOCK, CLOCK_DESCRIBE_RATES, &[me, 0])?;
    let count = rates[0] & 0xfff;
    if count != 4 || rates[1] != FULL_HZ / 4 || rates[7] != FULL_HZ {
        fail!("rates of clock {me}: {rates:?}, expected 4 from 250 MHz to 1 GHz");
    }

    ch.ok(CLOCK, CLOCK_RATE_SET, &[0, me, FULL_HZ / 2, 0])?;
    let half = ch.ok(CLOCK, CLOCK_RATE_GET, &[me])?[0];
    ch.refused(CLOCK, CLOCK_RATE_SET, &[0, me, 1_000, 0], OUT_OF_RANGE)?;
    ch.refused(CLOCK, CLOCK_RATE_SET, &[0, clocks, FULL_HZ, 0], NOT_FOUND)?;
    ch.ok(CLOCK, CLOCK_RATE_SET, &[0, me, FULL_HZ, 0])?;
    let full = ch.ok(CLOCK, CLOCK_RATE_GET, &[me])?[0];
    if (half, full) != (FULL_HZ / 2, FULL_HZ) {
        fail!("clock {me} read back {half} Hz and {full} Hz, set 500 MHz and 1 GHz");
    }

    // The malformed: each answered, the channel handed back.
    ch.refused(0x19, PROTOCOL_VERSION, &[], NOT_SUPPORTED)?;
    ch.refused(CLOCK, 0x42, &[], NOT_FOUND)?;
    for length in [0, 3, 0x1000, u32::MAX] {
        let (status, _) = ch.send_raw(BASE, PROTOCOL_VERSION, &[], length)?;
        if status != PROTOCOL_ERROR {
            fail!("length {length:#x}: status {status}, expected {PROTOCOL_ERROR}");
        }
    }
    // A doorbell with the channel free changes nothing.
    ch.write(PAYLOAD, 0x5a5a_5a5a);
    let x0 = ch.ring();
    if x0 != 0 || ch.read(PAYLOAD) != 0x5a5a_5a5a || ch.read(CHANNEL_STATUS) != FREE {
        fail!("a doorbell on a free channel: x0 = {x0}, channel touched");
    }
    Ok(detail!(
        "Base {}.{} '{}', clock {me} (attributes {attributes:#x}): 500 MHz and 1 GHz set and read back",
        version >> 16,
        version & 0xffff,
        core::str::from_utf8(&vendor[..vendor_len]).unwrap_or("?")
    ))
}
