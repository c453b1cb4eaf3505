//! The host side of a TCLO channel: the VMX asks, the tools answer.
//!
//! vmtoolsd's RpcIn loop (open-vm-tools `lib/rpcIn/rpcin.c`) sends its answer
//! to the previous command as a message on the channel (empty at first), then
//! receives the next command; with none, it polls again later. A VMX starts
//! every new TCLO channel with `reset`, which the tools answer `OK ATR <app>`
//! (`toolbox` for the system service) and which makes them check their RPCI
//! channel; then `Capabilities_Register`, on which they send their
//! capabilities and `tools.set.version` over RPCI; then `Set_Option
//! broadcastIP 1`, on which their guestInfo plugin sends `info-set
//! guestinfo.ip <the guest's primary address>`. Aerie does the same, so a
//! real vmtoolsd reports what the issue asks Aerie to record, and the
//! guest's address shows among its guestinfo. After that the only commands
//! are the power operations the operator asks for ([`PowerOp`]: the tools
//! shut the guest down or restart it cleanly).

use crate::rpci::ToolsState;
use alloc::string::String;

/// What comes first on every TCLO channel.
pub const RESET: &str = "reset";
/// Asked once the tools have answered [`RESET`].
pub const CAPABILITIES_REGISTER: &str = "Capabilities_Register";
/// Asked once the tools have registered their capabilities: report the
/// guest's address (as guestinfo.ip).
pub const BROADCAST_IP: &str = "Set_Option broadcastIP 1";

/// The longest application name or answer kept.
const MAX_KEPT_LEN: usize = 64;

/// A power operation the tools carry out in the guest (open-vm-tools'
/// powerOps plugin: it runs the configured script, reports
/// `tools.os.statechange.status` over RPCI, then shuts the guest down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerOp {
    /// `OS_Halt`: a clean shutdown and power-off.
    Halt,
    /// `OS_Reboot`: a clean restart.
    Reboot,
}

impl PowerOp {
    /// The TCLO command.
    pub fn command(self) -> &'static str {
        match self {
            PowerOp::Halt => "OS_Halt",
            PowerOp::Reboot => "OS_Reboot",
        }
    }
}

/// Why a power operation could not be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerOpError {
    /// No tools daemon has finished the TCLO handshake.
    NoDaemon,
    /// The daemon has a command it has not answered yet.
    Busy,
}

/// The host's side of one TCLO channel's conversation.
#[derive(Debug)]
pub struct Tclo {
    /// The next command to hand out, if any.
    next: Option<&'static str>,
    /// The command handed out whose answer has not arrived yet.
    asked: Option<&'static str>,
    /// The daemon answered the handshake: it takes power operations.
    ready: bool,
}

impl Default for Tclo {
    fn default() -> Self {
        Tclo {
            next: Some(RESET),
            asked: None,
            ready: false,
        }
    }
}

impl Tclo {
    /// Whether the daemon has finished the handshake.
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Asks for `op` at the guest's next receive.
    pub fn request(&mut self, op: PowerOp) -> Result<(), PowerOpError> {
        if !self.ready {
            return Err(PowerOpError::NoDaemon);
        }
        if self.next.is_some() || self.asked.is_some() {
            return Err(PowerOpError::Busy);
        }
        self.next = Some(op.command());
        Ok(())
    }

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
        if asked == BROADCAST_IP {
            // The address itself comes over RPCI; the answer says nothing more.
            return;
        }
        if asked != RESET && asked != CAPABILITIES_REGISTER {
            // A power operation: the answer is all the host learns until the
            // guest powers off or resets.
            let shown = &msg[..msg.len().min(MAX_KEPT_LEN)];
            tools.power_op = Some(alloc::format!(
                "{asked}: {}",
                String::from_utf8_lossy(shown)
            ));
            return;
        }
        let Some(result) = msg.strip_prefix(b"OK ") else {
            return;
        };
        if asked == RESET {
            if let Some(app) = result.strip_prefix(b"ATR ") {
                let app = &app[..app.len().min(MAX_KEPT_LEN)];
                tools.daemon = Some(String::from_utf8_lossy(app).into_owned());
                self.next = Some(CAPABILITIES_REGISTER);
            }
        } else if asked == CAPABILITIES_REGISTER {
            tools.capabilities_registered = true;
            self.ready = true;
            self.next = Some(BROADCAST_IP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_then_capabilities_then_the_address_then_nothing() {
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
        assert_eq!(t.command(), Some(BROADCAST_IP));
        t.answer(b"OK ", &mut tools);
        assert_eq!(tools.power_op, None, "not a power operation");
        assert_eq!(t.command(), None);
        // Polls after that change nothing.
        t.answer(b"", &mut tools);
        assert_eq!(t.command(), None);
    }

    #[test]
    fn power_operations_once_the_daemon_is_ready() {
        let (mut t, mut tools) = (Tclo::default(), ToolsState::default());
        assert_eq!(t.request(PowerOp::Halt), Err(PowerOpError::NoDaemon));
        t.command();
        t.answer(b"OK ATR toolbox", &mut tools);
        assert_eq!(t.request(PowerOp::Halt), Err(PowerOpError::NoDaemon));
        t.command();
        t.answer(b"OK ", &mut tools);
        // Until the address request is answered, a power operation waits.
        assert_eq!(t.request(PowerOp::Reboot), Err(PowerOpError::Busy));
        assert_eq!(t.command(), Some(BROADCAST_IP));
        t.answer(b"ERROR Unknown option", &mut tools);
        assert_eq!(t.request(PowerOp::Reboot), Ok(()));
        assert_eq!(t.request(PowerOp::Halt), Err(PowerOpError::Busy));
        assert_eq!(t.command(), Some("OS_Reboot"));
        assert_eq!(t.request(PowerOp::Halt), Err(PowerOpError::Busy));
        t.answer(b"ERROR State change already in progress", &mut tools);
        assert_eq!(
            tools.power_op.as_deref(),
            Some("OS_Reboot: ERROR State change already in progress")
        );
        assert_eq!(t.request(PowerOp::Halt), Ok(()));
        assert_eq!(t.command(), Some("OS_Halt"));
        t.answer(b"OK ", &mut tools);
        assert_eq!(tools.power_op.as_deref(), Some("OS_Halt: OK "));
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
        assert_eq!(tools.daemon.as_ref().map(String::len), Some(MAX_KEPT_LEN));
    }
}
