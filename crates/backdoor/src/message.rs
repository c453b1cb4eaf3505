//! The GuestRPC message protocol, the host side of open-vm-tools'
//! `lib/message/message.c`: channel open/close, the size/payload/status
//! steps over the low-bandwidth port (4 bytes per request), and whole
//! messages over the high-bandwidth port through guest memory. Replies come
//! from [`crate::rpci`]; the per-channel state machine is [`Channel`].

use crate::abi::*;
use crate::backdoor::{hi16, splitmix64, Backdoor, BackdoorError, GuestVa, Host, CHANNEL_IDLE_US};
use crate::channel::{Channel, Proto, State, MAX_MESSAGE_LEN};
use crate::rpci;
use alloc::vec;
use alloc::vec::Vec;

impl Backdoor {
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

    /// BDOOR_CMD_MESSAGE: one GuestRPC step; status into ecx\[31:16\].
    pub(crate) fn message(&mut self, regs: &mut Regs, host: &impl Host) {
        let op = hi16(regs.ecx());
        let status = if op == MESSAGE_TYPE_OPEN {
            self.open(regs)
        } else {
            self.channel_op(op, regs, host)
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

    fn channel_op(&mut self, op: u16, regs: &mut Regs, host: &impl Host) -> u16 {
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
                    self.deliver(id, Vec::new(), host);
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
                    Ok(Some(msg)) => self.deliver(id, msg, host),
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
                // On an idle TCLO channel the host's next command, if any, is
                // the message.
                let reply = match core::mem::replace(&mut chan.state, State::Idle) {
                    State::ReplyPending(r) | State::Receiving { reply: r, .. } => Some(r),
                    State::Idle if chan.proto == Proto::Tclo => {
                        chan.tclo.command().map(|c| c.as_bytes().to_vec())
                    }
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
    fn deliver(&mut self, id: u16, msg: Vec<u8>, host: &impl Host) {
        let Some(chan) = self
            .channels
            .get_mut(usize::from(id))
            .and_then(Option::as_mut)
        else {
            return;
        };
        chan.low_bandwidth_retry = false;
        chan.state = match chan.proto {
            Proto::Rpci => State::ReplyPending(rpci::dispatch(
                &msg,
                &mut self.guestinfo,
                &mut self.tools,
                || self.facts.with_usage(host.usage()),
            )),
            // The tools' answer to the host's last command.
            Proto::Tclo => {
                chan.tclo.answer(&msg, &mut self.tools);
                State::Idle
            }
        };
    }

    /// Port 0x5659 string I/O: a whole message (or reply) through guest
    /// memory. Status into ebx\[31:16\]; ebx\[15:0\] keeps the HB command.
    pub(crate) fn high_bandwidth(
        &mut self,
        regs: &mut Regs,
        flags: IoFlags,
        mem: &mut impl GuestVa,
        host: &impl Host,
    ) {
        let cmd = regs.ebx() as u16;
        let status = if !self.config.high_bandwidth || flags.df {
            MESSAGE_STATUS_FAIL
        } else if cmd != BDOORHB_CMD_MESSAGE {
            self.fail(BackdoorError::UnknownHbCommand { cmd })
        } else if flags.is_in {
            self.hb_in(regs, mem)
        } else {
            self.hb_out(regs, mem, host)
        };
        regs.set32(1, (u32::from(status) << 16) | u32::from(cmd));
    }

    /// rep outsb: guest buffer at x4 (esi), cookie in ebp:edi.
    fn hb_out(&mut self, regs: &mut Regs, mem: &mut impl GuestVa, host: &impl Host) -> u16 {
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
            self.hb_retries += 1;
            return self.fail(BackdoorError::BadAddress { id, va, len }) | MESSAGE_STATUS_CPT;
        }
        match chan.append(&buf) {
            Ok(Some(msg)) => self.deliver(id, msg, host),
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
                if retry != 0 {
                    chan.low_bandwidth_retry = true;
                    self.hb_retries += 1;
                }
                self.fail(e) | retry
            }
        }
    }
}
