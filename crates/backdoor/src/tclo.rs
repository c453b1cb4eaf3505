//! The host side of a TCLO channel: the VMX asks, the tools answer.
//!
//! vmtoolsd's RpcIn loop (open-vm-tools `lib/rpcIn/rpcin.c`) sends its answer
//! to the previous command as a message on the channel (empty at first), then
//! receives the next command; with none, it polls again later. A VMX starts
//! every new TCLO channel with `reset`, which the tools answer `OK ATR <app>`
//! (`toolbox` for the system service) and which makes them check their RPCI
//! channel; then `Capabilities_Register`, on which they send their
//! capabilities and `tools.set.version` over RPCI. Aerie does the same, so a
//! real vmtoolsd reports what the issue asks Aerie to record; it sends no
//! other command.

use crate::rpci::ToolsState;
use alloc::string::String;
use alloc::vec::Vec;

/// What comes first on every TCLO channel.
pub const RESET: &str = "reset";
/// Asked once the tools have answered [`RESET`].
pub const CAPABILITIES_REGISTER: &str = "Capabilities_Register";

/// The longest application name kept from a reset answer.
const MAX_APP_LEN: usize = 64;

/// The host's side of one TCLO channel's conversation.
#[derive(Debug)]
pub struct Tclo {
    /// The next command to hand out, if any.
    next: Option<&'static str>,
    /// The command handed out whose answer has not arrived yet.
    asked: Option<&'static str>,
}

impl Default for Tclo {
    fn default() -> Self {
        Tclo {
            next: Some(RESET),
            asked: None,
        }
    }
}

impl Tclo {
    /// The command for the guest's next receive, if the host has one.
    pub fn command(&mut self) -> Option<&'static str> {
        let c = self.next.take()?;
        self.asked = Some(c);
        Some(c)
    }

    /// The guest tools' answer (`OK ...` or `ERROR ...`) to the last command;
    /// an answer with no command outstanding (the loop's first, empty send,
    /// or a poll) is nothing.
    pub fn answer(&mut self, msg: &[u8], tools: &mut ToolsState) {
        let Some(asked) = self.asked.take() else {
            return;
        };
        let Some(result) = msg.strip_prefix(b"OK ") else {
            return;
        };
        if asked == RESET {
            if let Some(app) = result.strip_prefix(b"ATR ") {
                let app = &app[..app.len().min(MAX_APP_LEN)];
                tools.daemon = Some(String::from_utf8_lossy(app).into_owned());
                self.next = Some(CAPABILITIES_REGISTER);
            }
        } else if asked == CAPABILITIES_REGISTER {
            tools.capabilities_registered = true;
        }
    }
}

/// The bytes of a command as the guest receives it.
pub fn command_bytes(c: &str) -> Vec<u8> {
    Vec::from(c.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_then_capabilities_then_nothing() {
        let (mut t, mut tools) = (Tclo::default(), ToolsState::default());
        // The loop's first send carries no answer.
        t.answer(b"", &mut tools);
        assert_eq!(t.command(), Some(RESET));
        assert_eq!(t.command(), None, "one command at a time");
        t.answer(b"OK ATR toolbox", &mut tools);
        assert_eq!(tools.daemon.as_deref(), Some("toolbox"));
        assert_eq!(t.command(), Some(CAPABILITIES_REGISTER));
        t.answer(b"OK ", &mut tools);
        assert!(tools.capabilities_registered);
        assert_eq!(t.command(), None);
        // Polls after that change nothing.
        t.answer(b"", &mut tools);
        assert_eq!(t.command(), None);
    }

    #[test]
    fn a_failed_reset_goes_no_further() {
        let (mut t, mut tools) = (Tclo::default(), ToolsState::default());
        assert_eq!(t.command(), Some(RESET));
        t.answer(b"ERROR Unknown Command", &mut tools);
        assert_eq!(tools.daemon, None);
        assert_eq!(t.command(), None);
    }

    #[test]
    fn the_application_name_is_bounded() {
        let (mut t, mut tools) = (Tclo::default(), ToolsState::default());
        t.command();
        let long = [b'a'; 500];
        let mut msg = Vec::from(&b"OK ATR "[..]);
        msg.extend_from_slice(&long);
        t.answer(&msg, &mut tools);
        assert_eq!(tools.daemon.as_ref().map(String::len), Some(MAX_APP_LEN));
    }
}
