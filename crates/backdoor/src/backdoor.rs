//! The per-VM backdoor: decodes a trapped request and serves it.
//!
//! Failure conventions (chosen to match what the tools test for):
//! - Signature in x7 but wrong magic, a port other than 0x5658 (register
//!   I/O) / 0x5659 (string I/O): treated like an x86 I/O access to a port
//!   with no device. A register IN reads all ones in the low `size` bytes of
//!   w0 (x0\[63:32\] cleared); an OUT or string access does nothing. Other
//!   registers are unchanged.
//! - Unknown low-bandwidth command: eax = 0xFFFFFFFF, the rest unchanged.
//! - GuestRPC failure: ecx\[31:16\] (HB port: ebx\[31:16\]) = 0, i.e. no
//!   MESSAGE_STATUS_SUCCESS; the reason is kept in `last_error()`.
//! - A high-bandwidth transfer whose guest buffer does not translate fails
//!   with MESSAGE_STATUS_CPT, which open-vm-tools' message.c answers by
//!   retrying the message or reply from its size step; the retry is offered
//!   low bandwidth only (see `Channel::low_bandwidth_retry`), so a buffer the
//!   guest kernel has not populated yet, or has write-protected for
//!   copy-on-write, still gets its bytes. A guest that does not retry sees an
//!   ordinary failure.
//!
//! All state lives in the `Backdoor` the VM owns: a channel id names a slot
//! in this VM's table only.

use crate::abi::*;
use crate::channel::{Channel, Proto};
use crate::guestinfo::GuestInfo;
use crate::guestlib;
use crate::rpci::ToolsState;
use crate::tclo::{PowerOp, PowerOpError};

/// Open channels per VM (vmtoolsd uses 2: RPCI and TCLO; each
/// vmware-rpctool run one more while it lives).
pub const MAX_CHANNELS: usize = 8;

/// A channel no request has named for this long (60 s) may be taken back
/// when an OPEN finds all [`MAX_CHANNELS`] in use. vmtoolsd polls its TCLO
/// channel every second and an RPCI conversation lasts milliseconds, so only
/// channels whose owner is gone get this old.
pub const CHANNEL_IDLE_US: u64 = 60_000_000;

/// Guest memory by guest virtual address, translated by the hypervisor
/// through the guest's stage 1 and Aerie's stage 2. A bad address is an
/// `Err`, never a fault.
///
/// The unit error is the agreed interface (issue 5): the backdoor only needs
/// "it failed", and records the address and length itself
/// (`BackdoorError::BadAddress`).
#[allow(clippy::result_unit_err)]
pub trait GuestVa {
    fn read(&mut self, va: u64, buf: &mut [u8]) -> Result<(), ()>;
    fn write(&mut self, va: u64, buf: &[u8]) -> Result<(), ()>;
}

/// Host wall-clock time (Unix epoch) at the moment of the trap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostTime {
    pub secs: u64,
    /// 0..1_000_000.
    pub usecs: u32,
}

/// What the backdoor asks of its host while it serves a trapped request.
pub trait Host {
    /// Host wall-clock time at the moment of the trap.
    fn time(&self) -> HostTime;
    /// The VM's running statistics, asked only by a Guest API request
    /// (`guestlib`), so that no other request pays for them.
    fn usage(&self) -> guestlib::Usage {
        guestlib::Usage::default()
    }
}

/// A host that knows only the time (its VM's statistics are zero).
impl Host for HostTime {
    fn time(&self) -> HostTime {
        *self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A backdoor request (served or failed per protocol); registers updated.
    /// The caller steps past the trapping instruction.
    Handled,
    /// x7 lacks the signature: give the instruction its architectural
    /// behaviour.
    NotBackdoor,
}

/// Per-VM facts the backdoor reports.
#[derive(Clone, Copy, Debug)]
pub struct BackdoorConfig {
    /// CPU (counter) frequency for GETMHZ / GETHZ.
    pub cpu_hz: u64,
    /// The VM's UUID, in the byte order GETUUID returns it (eax = bytes 0..4
    /// little endian, ...).
    pub uuid: [u8; 16],
    /// GETTIME(FULL)'s maxTimeLag in microseconds.
    pub max_time_lag_us: u32,
    /// Offer the high-bandwidth port (MESSAGE_STATUS_HB). Off forces the
    /// guest onto 4-byte low-bandwidth transfers.
    pub high_bandwidth: bool,
    /// Seed for channel cookies (e.g. from the hypervisor's entropy source).
    pub cookie_seed: u64,
    /// The VM's memory, in MiB (the Guest API's statistics, `guestlib`).
    pub memory_mb: u32,
}

impl Default for BackdoorConfig {
    fn default() -> Self {
        BackdoorConfig {
            cpu_hz: 0,
            uuid: [0; 16],
            max_time_lag_us: 0,
            high_bandwidth: true,
            cookie_seed: 0x5EED_AE21_E000_0001,
            memory_mb: 0,
        }
    }
}

/// Why the last GuestRPC request failed (for the console and debugging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackdoorError {
    UnknownProtocol {
        proto: u32,
    },
    TooManyChannels,
    BadChannel {
        id: u16,
    },
    BadCookie {
        id: u16,
    },
    TooLarge {
        id: u16,
        len: u32,
    },
    Protocol {
        id: u16,
        op: u16,
        state: &'static str,
        why: &'static str,
    },
    BadAddress {
        id: u16,
        va: u64,
        len: u32,
    },
    UnknownHbCommand {
        cmd: u16,
    },
    UnknownMessageType {
        op: u16,
    },
}

pub struct Backdoor {
    pub(crate) config: BackdoorConfig,
    pub(crate) channels: [Option<Channel>; MAX_CHANNELS],
    pub(crate) cookie_state: u64,
    pub(crate) last_error: Option<BackdoorError>,
    /// Host time (µs) of the request being served.
    pub(crate) now_us: u64,
    /// Idle channels taken back for a new OPEN (see [`CHANNEL_IDLE_US`]).
    pub channels_reclaimed: u64,
    /// High-bandwidth transfers failed with MESSAGE_STATUS_CPT because their
    /// guest buffer did not translate (the guest retries over low bandwidth).
    pub hb_retries: u64,
    /// The VM's guestinfo store (pre-load from config before the guest runs).
    pub guestinfo: GuestInfo,
    /// What the guest tools reported.
    pub tools: ToolsState,
    /// The Guest API's statistics that hold for the VM's whole run (the
    /// running ones come from the [`Host`] when a request asks).
    pub(crate) facts: guestlib::Facts,
}

/// splitmix64: cheap, well-mixed; cookies only stop one guest process from
/// stumbling onto another's channel, they are not a security boundary
/// against the guest kernel (which can read any process's memory anyway).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn hi16(v: u32) -> u16 {
    (v >> 16) as u16
}

impl Backdoor {
    pub fn new(config: BackdoorConfig, guestinfo: GuestInfo) -> Self {
        // A session id for the VM's whole run: nonzero (zero means "no
        // statistics yet" to the guest library).
        let mut seed = config.cookie_seed ^ 0x6775_6573_746c_6962;
        let facts = guestlib::Facts {
            session_id: splitmix64(&mut seed) | 1,
            host_mhz: u32::try_from(config.cpu_hz / 1_000_000).unwrap_or(u32::MAX),
            memory_mb: config.memory_mb,
            ..Default::default()
        };
        Backdoor {
            config,
            facts,
            channels: Default::default(),
            cookie_state: config.cookie_seed,
            last_error: None,
            now_us: 0,
            channels_reclaimed: 0,
            hb_retries: 0,
            guestinfo,
            tools: ToolsState::default(),
        }
    }

    /// The session id the Guest API reports.
    pub fn session_id(&self) -> u64 {
        self.facts.session_id
    }

    pub fn last_error(&self) -> Option<BackdoorError> {
        self.last_error
    }

    pub fn open_channels(&self) -> usize {
        self.channels.iter().filter(|c| c.is_some()).count()
    }

    /// The guest restarted (the VM was reset): its processes and their
    /// channels are gone, and so is its tools daemon. What the VM keeps for
    /// its whole run stays: guestinfo, the reported tools version, reports
    /// and log lines, the counters.
    pub fn guest_reset(&mut self) {
        self.channels = Default::default();
        self.tools.daemon = None;
        self.tools.capabilities_registered = false;
    }

    /// Asks the guest's tools daemon to carry out `op` (a clean shutdown or
    /// restart) through its TCLO channel, at its next poll.
    pub fn request_power_op(&mut self, op: PowerOp) -> Result<(), PowerOpError> {
        let chan = self
            .channels
            .iter_mut()
            .flatten()
            .filter(|c| c.proto == Proto::Tclo && c.tclo.ready())
            .max_by_key(|c| c.last_used_us)
            .ok_or(PowerOpError::NoDaemon)?;
        chan.tclo.request(op)
    }

    /// Serves one trapped request. `regs` holds x0..x7 on entry and the
    /// values to write back on return.
    pub fn handle(&mut self, regs: &mut Regs, mem: &mut impl GuestVa, host: impl Host) -> Outcome {
        if !is_backdoor_request(regs.x[7]) {
            return Outcome::NotBackdoor;
        }
        let now = host.time();
        self.now_us = now
            .secs
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(now.usecs));
        let flags = IoFlags::decode(regs.x[7]);
        let port = flags.port(regs);
        let magic_ok = regs.eax() == BDOOR_MAGIC;
        match (port, flags.string) {
            (BDOOR_PORT, false) if magic_ok => self.low_bandwidth(regs, now, &host),
            (BDOORHB_PORT, true) if magic_ok => self.high_bandwidth(regs, flags, mem, &host),
            _ => no_device(regs, flags),
        }
        Outcome::Handled
    }

    fn low_bandwidth(&mut self, regs: &mut Regs, now: HostTime, host: &impl Host) {
        match regs.ecx() as u16 {
            BDOOR_CMD_GETVERSION => {
                regs.set32(0, BDOOR_VERSION);
                regs.set32(1, BDOOR_MAGIC);
                regs.set32(2, VMX_TYPE_SCALABLE_SERVER);
            }
            BDOOR_CMD_GETMHZ => {
                let mhz = self.config.cpu_hz / 1_000_000;
                regs.set32(0, u32::try_from(mhz).unwrap_or(BDOOR_FAIL));
            }
            BDOOR_CMD_GETHZ => {
                regs.set32(0, self.config.cpu_hz as u32);
                regs.set32(1, (self.config.cpu_hz >> 32) as u32);
                // No x86 APIC timer: report "unknown" as Linux expects.
                regs.set32(2, BDOOR_FAIL);
            }
            BDOOR_CMD_GETUUID => {
                for (n, chunk) in self.config.uuid.chunks_exact(4).enumerate() {
                    let w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    regs.set32(n, w);
                }
            }
            BDOOR_CMD_GETTIMEFULL => {
                regs.set32(0, BDOOR_MAGIC);
                regs.set32(1, now.usecs);
                regs.set32(2, self.config.max_time_lag_us);
                regs.set32(3, now.secs as u32);
                regs.set32(4, (now.secs >> 32) as u32);
            }
            BDOOR_CMD_GETTIME => {
                // The legacy form overflows in 2106; fail then as VMware does.
                match u32::try_from(now.secs) {
                    Ok(s) => {
                        regs.set32(0, s);
                        regs.set32(1, now.usecs);
                        regs.set32(2, self.config.max_time_lag_us);
                        // edx: host time zone offset in minutes; Aerie is UTC.
                        regs.set32(3, 0);
                    }
                    Err(_) => regs.set32(0, BDOOR_FAIL),
                }
            }
            BDOOR_CMD_MESSAGE => self.message(regs, host),
            _ => regs.set32(0, BDOOR_FAIL),
        }
    }
}

/// An access to an I/O port nobody decodes: IN reads all ones.
fn no_device(regs: &mut Regs, flags: IoFlags) {
    if flags.is_in && !flags.string {
        let ones: u32 = match flags.size {
            1 => 0xff,
            2 => 0xffff,
            _ => 0xffff_ffff,
        };
        regs.set32(0, regs.eax() | ones);
    }
}
