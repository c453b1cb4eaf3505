//! The per-VM backdoor: decodes a trapped request and serves it.
//!
//! Failure conventions (chosen to match what the tools test for):
//! - Signature in x7 but wrong magic, a port other than 0x5658 (register
//!   I/O) / 0x5659 (string I/O): treated like an x86 I/O access to a port
//!   with no device. A register IN reads all ones in the low `size` bytes of
//!   w0 (x0[63:32] cleared); an OUT or string access does nothing. Other
//!   registers are unchanged.
//! - Unknown low-bandwidth command: eax = 0xFFFFFFFF, the rest unchanged.
//! - GuestRPC failure: ecx[31:16] (HB port: ebx[31:16]) = 0, i.e. no
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
use crate::channel::{Channel, Proto, State, MAX_MESSAGE_LEN};
use crate::guestinfo::GuestInfo;
use crate::rpci::{self, ToolsState};
use alloc::vec;
use alloc::vec::Vec;

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
}

impl Default for BackdoorConfig {
    fn default() -> Self {
        BackdoorConfig {
            cpu_hz: 0,
            uuid: [0; 16],
            max_time_lag_us: 0,
            high_bandwidth: true,
            cookie_seed: 0x5EED_AE21_E000_0001,
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
    config: BackdoorConfig,
    channels: [Option<Channel>; MAX_CHANNELS],
    cookie_state: u64,
    last_error: Option<BackdoorError>,
    /// Host time (µs) of the request being served.
    now_us: u64,
    /// Idle channels taken back for a new OPEN (see [`CHANNEL_IDLE_US`]).
    pub channels_reclaimed: u64,
    /// The VM's guestinfo store (pre-load from config before the guest runs).
    pub guestinfo: GuestInfo,
    /// What the guest tools reported.
    pub tools: ToolsState,
}

/// splitmix64: cheap, well-mixed; cookies only stop one guest process from
/// stumbling onto another's channel, they are not a security boundary
/// against the guest kernel (which can read any process's memory anyway).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hi16(v: u32) -> u16 {
    (v >> 16) as u16
}

impl Backdoor {
    pub fn new(config: BackdoorConfig, guestinfo: GuestInfo) -> Self {
        Backdoor {
            config,
            channels: Default::default(),
            cookie_state: config.cookie_seed,
            last_error: None,
            now_us: 0,
            channels_reclaimed: 0,
            guestinfo,
            tools: ToolsState::default(),
        }
    }

    pub fn last_error(&self) -> Option<BackdoorError> {
        self.last_error
    }

    pub fn open_channels(&self) -> usize {
        self.channels.iter().filter(|c| c.is_some()).count()
    }

    /// Serves one trapped request. `regs` holds x0..x7 on entry and the
    /// values to write back on return.
    pub fn handle(&mut self, regs: &mut Regs, mem: &mut impl GuestVa, now: HostTime) -> Outcome {
        if !is_backdoor_request(regs.x[7]) {
            return Outcome::NotBackdoor;
        }
        self.now_us = now
            .secs
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(now.usecs));
        let flags = IoFlags::decode(regs.x[7]);
        let port = flags.port(regs);
        let magic_ok = regs.eax() == BDOOR_MAGIC;
        match (port, flags.string) {
            (BDOOR_PORT, false) if magic_ok => self.low_bandwidth(regs, now),
            (BDOORHB_PORT, true) if magic_ok => self.high_bandwidth(regs, flags, mem),
            _ => no_device(regs, flags),
        }
        Outcome::Handled
    }

    fn low_bandwidth(&mut self, regs: &mut Regs, now: HostTime) {
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
            BDOOR_CMD_MESSAGE => self.message(regs),
            _ => regs.set32(0, BDOOR_FAIL),
        }
    }

    fn fail(&mut self, e: BackdoorError) -> u16 {
        self.last_error = Some(e);
        MESSAGE_STATUS_FAIL
    }

    fn hb_bit(&self) -> u16 {
        if self.config.high_bandwidth {
            MESSAGE_STATUS_HB
        } else {
            0
        }
    }

    /// BDOOR_CMD_MESSAGE: one GuestRPC step; status into ecx[31:16].
    fn message(&mut self, regs: &mut Regs) {
        let op = hi16(regs.ecx());
        let status = if op == MESSAGE_TYPE_OPEN {
            self.open(regs)
        } else {
            self.channel_op(op, regs)
        };
        regs.set32(2, (u32::from(status) << 16) | (regs.ecx() & 0xffff));
    }

    fn open(&mut self, regs: &mut Regs) -> u16 {
        let want = regs.ebx();
        let proto = match want & !GUESTMSG_FLAG_COOKIE {
            RPCI_PROTOCOL_NUM => Proto::Rpci,
            TCLO_PROTOCOL_NUM => Proto::Tclo,
            other => return self.fail(BackdoorError::UnknownProtocol { proto: other }),
        };
        let Some(id) = self.free_channel() else {
            return self.fail(BackdoorError::TooManyChannels);
        };
        let cookie = (want & GUESTMSG_FLAG_COOKIE != 0).then(|| {
            let r = splitmix64(&mut self.cookie_state);
            ((r >> 32) as u32, r as u32)
        });
        self.channels[id] = Some(Channel::new(proto, cookie, self.now_us));
        regs.set32(3, ((id as u32) << 16) | (regs.edx() & 0xffff));
        if let Some((high, low)) = cookie {
            regs.set32(4, high);
            regs.set32(5, low);
        }
        MESSAGE_STATUS_SUCCESS
    }

    /// A free channel slot; when all are open, the one idle longest if it has
    /// been idle for [`CHANNEL_IDLE_US`] (its owner is gone: a tools process
    /// killed between OPEN and CLOSE would otherwise hold it until reset).
    fn free_channel(&mut self) -> Option<usize> {
        if let Some(id) = self.channels.iter().position(Option::is_none) {
            return Some(id);
        }
        let (id, last) = self
            .channels
            .iter()
            .enumerate()
            .filter_map(|(id, c)| Some((id, c.as_ref()?.last_used_us)))
            .min_by_key(|&(_, last)| last)?;
        if self.now_us.saturating_sub(last) < CHANNEL_IDLE_US {
            return None;
        }
        self.channels[id] = None;
        self.channels_reclaimed += 1;
        Some(id)
    }

    /// Looks up channel `id` for this VM and checks the caller's cookie.
    fn channel(&mut self, id: u16, high: u32, low: u32) -> Result<&mut Channel, BackdoorError> {
        let now = self.now_us;
        let chan = self
            .channels
            .get_mut(usize::from(id))
            .and_then(Option::as_mut)
            .ok_or(BackdoorError::BadChannel { id })?;
        if !chan.cookie_matches(high, low) {
            return Err(BackdoorError::BadCookie { id });
        }
        chan.last_used_us = now;
        Ok(chan)
    }

    fn channel_op(&mut self, op: u16, regs: &mut Regs) -> u16 {
        let id = hi16(regs.edx());
        let hb_offer = self.hb_bit();
        let chan = match self.channel(id, regs.esi(), regs.edi()) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        let hb = if chan.low_bandwidth_retry {
            0
        } else {
            hb_offer
        };
        let proto_err = |chan: &Channel, why| BackdoorError::Protocol {
            id,
            op,
            state: chan.state.name(),
            why,
        };
        match op {
            MESSAGE_TYPE_SENDSIZE => {
                let len = regs.ebx();
                if len as usize > MAX_MESSAGE_LEN {
                    return self.fail(BackdoorError::TooLarge { id, len });
                }
                if !matches!(chan.state, State::Idle | State::Sending { .. }) {
                    let e = proto_err(chan, "reply not collected");
                    return self.fail(e);
                }
                chan.state = State::Sending {
                    buf: Vec::new(),
                    expected: len as usize,
                };
                if len == 0 {
                    self.deliver(id, Vec::new());
                }
                MESSAGE_STATUS_SUCCESS | hb
            }
            MESSAGE_TYPE_SENDPAYLOAD => {
                let Some(remaining) = chan.send_remaining() else {
                    let e = proto_err(chan, "no message being sent");
                    return self.fail(e);
                };
                let bytes = regs.ebx().to_le_bytes();
                match chan.append(&bytes[..remaining.min(4)]) {
                    Ok(Some(msg)) => self.deliver(id, msg),
                    Ok(None) => {}
                    Err(why) => {
                        let e = proto_err(chan, why);
                        return self.fail(e);
                    }
                }
                MESSAGE_STATUS_SUCCESS
            }
            MESSAGE_TYPE_RECVSIZE => {
                // A repeated RECVSIZE (checkpoint retry) restarts the reply.
                let reply = match core::mem::replace(&mut chan.state, State::Idle) {
                    State::ReplyPending(r) | State::Receiving { reply: r, .. } => Some(r),
                    other => {
                        chan.state = other;
                        None
                    }
                };
                // vmbackdoor.c checks edx[31:16] == SENDSIZE even with no reply.
                regs.set32(
                    3,
                    (u32::from(MESSAGE_TYPE_SENDSIZE) << 16) | (regs.edx() & 0xffff),
                );
                match reply {
                    Some(r) => {
                        regs.set32(1, r.len() as u32);
                        chan.state = State::Receiving { reply: r, pos: 0 };
                        MESSAGE_STATUS_SUCCESS | MESSAGE_STATUS_DORECV | hb
                    }
                    None => {
                        regs.set32(1, 0);
                        MESSAGE_STATUS_SUCCESS | hb
                    }
                }
            }
            MESSAGE_TYPE_RECVPAYLOAD => {
                if !matches!(chan.state, State::Receiving { .. }) {
                    let e = proto_err(chan, "no reply being received");
                    return self.fail(e);
                }
                if regs.ebx() as u16 & MESSAGE_STATUS_SUCCESS == 0 {
                    // The guest gave up on this reply (message.c error_quit).
                    chan.state = State::Idle;
                    chan.low_bandwidth_retry = false;
                    return MESSAGE_STATUS_SUCCESS;
                }
                let State::Receiving { reply, pos } = &chan.state else {
                    unreachable!("state checked above")
                };
                let n = (reply.len() - pos).min(4);
                let mut word = [0u8; 4];
                match chan.take_reply(n) {
                    Ok(bytes) => word[..n].copy_from_slice(bytes),
                    Err(why) => {
                        let e = proto_err(chan, why);
                        return self.fail(e);
                    }
                }
                regs.set32(1, u32::from_le_bytes(word));
                regs.set32(
                    3,
                    (u32::from(MESSAGE_TYPE_SENDPAYLOAD) << 16) | (regs.edx() & 0xffff),
                );
                MESSAGE_STATUS_SUCCESS
            }
            MESSAGE_TYPE_RECVSTATUS => {
                if !matches!(chan.state, State::Receiving { .. }) {
                    let e = proto_err(chan, "no reply being received");
                    return self.fail(e);
                }
                chan.state = State::Idle;
                chan.low_bandwidth_retry = false;
                MESSAGE_STATUS_SUCCESS
            }
            MESSAGE_TYPE_CLOSE => {
                self.channels[usize::from(id)] = None;
                MESSAGE_STATUS_SUCCESS
            }
            _ => self.fail(BackdoorError::UnknownMessageType { op }),
        }
    }

    /// A complete guest message on channel `id`: serve it and queue the reply.
    fn deliver(&mut self, id: u16, msg: Vec<u8>) {
        let Some(chan) = self
            .channels
            .get_mut(usize::from(id))
            .and_then(Option::as_mut)
        else {
            return;
        };
        chan.low_bandwidth_retry = false;
        chan.state = match chan.proto {
            Proto::Rpci => {
                State::ReplyPending(rpci::dispatch(&msg, &mut self.guestinfo, &mut self.tools))
            }
            // Aerie sends no TCLO commands, so the guest's answer has no asker.
            Proto::Tclo => State::Idle,
        };
    }

    /// Port 0x5659 string I/O: a whole message (or reply) through guest
    /// memory. Status into ebx[31:16]; ebx[15:0] keeps the HB command.
    fn high_bandwidth(&mut self, regs: &mut Regs, flags: IoFlags, mem: &mut impl GuestVa) {
        let cmd = regs.ebx() as u16;
        let status = if !self.config.high_bandwidth || flags.df {
            MESSAGE_STATUS_FAIL
        } else if cmd != BDOORHB_CMD_MESSAGE {
            self.fail(BackdoorError::UnknownHbCommand { cmd })
        } else if flags.is_in {
            self.hb_in(regs, mem)
        } else {
            self.hb_out(regs, mem)
        };
        regs.set32(1, (u32::from(status) << 16) | u32::from(cmd));
    }

    /// rep outsb: guest buffer at x4 (esi), cookie in ebp:edi.
    fn hb_out(&mut self, regs: &mut Regs, mem: &mut impl GuestVa) -> u16 {
        let id = hi16(regs.edx());
        let len = regs.ecx();
        let chan = match self.channel(id, regs.ebp(), regs.edi()) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        let state = chan.state.name();
        let Some(remaining) = chan.send_remaining() else {
            return self.fail(BackdoorError::Protocol {
                id,
                op: MESSAGE_TYPE_SENDPAYLOAD,
                state,
                why: "no message being sent",
            });
        };
        if len as usize > remaining {
            return self.fail(BackdoorError::TooLarge { id, len });
        }
        let va = regs.x[4];
        let mut buf = vec![0u8; len as usize];
        if mem.read(va, &mut buf).is_err() {
            // The message is lost; the guest starts over with SENDSIZE.
            chan.state = State::Idle;
            chan.low_bandwidth_retry = true;
            return self.fail(BackdoorError::BadAddress { id, va, len }) | MESSAGE_STATUS_CPT;
        }
        match chan.append(&buf) {
            Ok(Some(msg)) => self.deliver(id, msg),
            Ok(None) => {}
            Err(why) => {
                return self.fail(BackdoorError::Protocol {
                    id,
                    op: MESSAGE_TYPE_SENDPAYLOAD,
                    state,
                    why,
                })
            }
        }
        MESSAGE_STATUS_SUCCESS
    }

    /// rep insb: guest buffer at x5 (edi), cookie in esi:ebp.
    fn hb_in(&mut self, regs: &mut Regs, mem: &mut impl GuestVa) -> u16 {
        let id = hi16(regs.edx());
        let len = regs.ecx();
        let chan = match self.channel(id, regs.esi(), regs.ebp()) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        let state = chan.state.name();
        let va = regs.x[5];
        let (result, retry) = match chan.take_reply(len as usize) {
            Ok(bytes) => match mem.write(va, bytes) {
                Ok(()) => (Ok(()), 0),
                Err(()) => (
                    Err(BackdoorError::BadAddress { id, va, len }),
                    MESSAGE_STATUS_CPT,
                ),
            },
            Err(why) => (
                Err(BackdoorError::Protocol {
                    id,
                    op: MESSAGE_TYPE_RECVPAYLOAD,
                    state,
                    why,
                }),
                0,
            ),
        };
        match result {
            Ok(()) => MESSAGE_STATUS_SUCCESS,
            Err(e) => {
                // Let the guest retry from RECVSIZE or abandon the reply.
                if let State::Receiving { pos, .. } = &mut chan.state {
                    *pos = 0;
                }
                chan.low_bandwidth_retry |= retry != 0;
                self.fail(e) | retry
            }
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
