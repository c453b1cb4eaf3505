//! One GuestRPC message channel: the host side of open-vm-tools'
//! `lib/message/message.c` state machine.
//!
//! Idle --SENDSIZE n--> Sending --payload until n bytes--> (RPCI: reply
//! pending | TCLO: Idle) --RECVSIZE--> Receiving --payload..., RECVSTATUS-->
//! Idle. A SENDSIZE while a message is half sent restarts it, and a RECVSIZE
//! while a reply is being received restarts the reply (that is how the guest
//! retries after MESSAGE_STATUS_CPT).

use crate::tclo::Tclo;
use alloc::vec::Vec;

/// Largest message either way (request or reply).
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Guest asks, host answers.
    Rpci,
    /// Host asks, guest answers: Aerie asks only what a VMX asks a new
    /// channel (`crate::tclo`).
    Tclo,
}

#[derive(Debug)]
pub enum State {
    Idle,
    Sending { buf: Vec<u8>, expected: usize },
    ReplyPending(Vec<u8>),
    Receiving { reply: Vec<u8>, pos: usize },
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Sending { .. } => "sending",
            State::ReplyPending(_) => "reply pending",
            State::Receiving { .. } => "receiving",
        }
    }
}

#[derive(Debug)]
pub struct Channel {
    pub proto: Proto,
    /// (cookieHigh, cookieLow) when opened with GUESTMSG_FLAG_COOKIE.
    pub cookie: Option<(u32, u32)>,
    pub state: State,
    /// Host time (µs) of the last request that named this channel with the
    /// right cookie: an open channel nobody uses any more can be reclaimed.
    pub last_used_us: u64,
    /// A high-bandwidth transfer of the message or reply in flight failed on
    /// a guest address the hypervisor could not translate (a page the guest
    /// has not populated, or has write-protected for copy-on-write). The
    /// guest was told to retry (MESSAGE_STATUS_CPT), and until that transfer
    /// completes it is offered low bandwidth only: there its own loads and
    /// stores move the bytes, and its kernel faults the pages in.
    pub low_bandwidth_retry: bool,
    /// The host's side of the conversation on a TCLO channel.
    pub tclo: Tclo,
}

impl Channel {
    pub fn new(proto: Proto, cookie: Option<(u32, u32)>, now_us: u64) -> Self {
        Channel {
            proto,
            cookie,
            state: State::Idle,
            last_used_us: now_us,
            low_bandwidth_retry: false,
            tclo: Tclo::default(),
        }
    }

    /// A channel opened without cookies accepts any; one with cookies only
    /// its own (so one guest process cannot drive another's channel).
    pub fn cookie_matches(&self, high: u32, low: u32) -> bool {
        self.cookie.is_none_or(|c| c == (high, low))
    }

    /// Appends `data` to the message being sent; returns the whole message
    /// once `expected` bytes have arrived. `Err` names the violated rule.
    pub fn append(&mut self, data: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
        let State::Sending { buf, expected } = &mut self.state else {
            return Err("no message being sent");
        };
        if data.len() > *expected - buf.len() {
            return Err("more data than announced");
        }
        buf.extend_from_slice(data);
        if buf.len() == *expected {
            let State::Sending { buf, .. } = core::mem::replace(&mut self.state, State::Idle)
            else {
                unreachable!("state checked above")
            };
            return Ok(Some(buf));
        }
        Ok(None)
    }

    /// Bytes still to be announced by SENDPAYLOAD / HB OUT.
    pub fn send_remaining(&self) -> Option<usize> {
        match &self.state {
            State::Sending { buf, expected } => Some(*expected - buf.len()),
            _ => None,
        }
    }

    /// Takes up to `n` bytes of the reply being received.
    pub fn take_reply(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let State::Receiving { reply, pos } = &mut self.state else {
            return Err("no reply being received");
        };
        if n > reply.len() - *pos {
            return Err("more data than the reply holds");
        }
        let start = *pos;
        *pos += n;
        Ok(&reply[start..start + n])
    }
}
