//! Console input multiplexing: one keyboard, several VMs.
//!
//! Keystrokes go to the VM that has the focus. `Ctrl-A` followed by a digit
//! `1`..`9` moves the focus to that VM (in config order); `Ctrl-A Ctrl-A`
//! sends one `Ctrl-A` to the focused VM; `Ctrl-A d`, `Ctrl-A p` and
//! `Ctrl-A i` are commands for Aerie itself (dump every pCPU's state, print
//! the profile, show each VM's backdoor view: guestinfo and tools version),
//! `Ctrl-A h` / `Ctrl-A r` ask the focused VM's guest tools to shut the
//! guest down / restart it cleanly, `Ctrl-A b` presses its power button
//! (the guest's own power key handling, no tools) and `Ctrl-A q` shuts the
//! machine down (every VM's button; again: stop them); `Ctrl-A u` reads a line for Aerie (a
//! user world to start, `program[:argument]`) with the [`LineEditor`];
//! `Ctrl-A w` gives the keyboard to the user worlds: every line typed goes
//! to them (their `read_line`) until `Ctrl-A` or `Ctrl-C` ends it; `Ctrl-A`
//! followed by anything else sends both bytes on, so nothing typed is lost.

use crate::line::{LineEditor, LineEvent};

/// The escape byte (Ctrl-A).
pub const ESCAPE: u8 = 0x01;

/// What one input byte means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxEvent {
    /// Give these bytes (one or two) to VM `vm`.
    Deliver {
        vm: usize,
        bytes: [u8; 2],
        len: usize,
    },
    /// The focus moved to VM `vm`.
    Switch { vm: usize },
    /// A console command for Aerie (`d` dump, `p` profile, `i` VM info).
    Command(u8),
    /// `Ctrl-A u`: a line for Aerie begins (show a prompt); what is typed
    /// next goes to the line, not to a VM.
    LineStart,
    /// Show these bytes: the line being typed changed.
    Echo { bytes: [u8; 3], len: usize },
    /// The line is complete: read it with [`InputMux::line`].
    Line,
    /// The line was abandoned (Ctrl-C or Ctrl-A); for the worlds' lines,
    /// the keyboard goes back to the focused VM.
    LineAbandoned,
    /// `Ctrl-A w`: lines typed from now on go to the user worlds (show a
    /// prompt).
    WorldLinesStart,
    /// A line for the user worlds is complete (read it with
    /// [`InputMux::line`]); the next one starts at once.
    WorldLine,
    /// Nothing yet (an escape is pending).
    None,
}

/// The input side of the console multiplexer.
#[derive(Debug, Clone)]
pub struct InputMux {
    vms: usize,
    focus: usize,
    escaped: bool,
    /// A line for Aerie is being typed.
    editing: bool,
    /// ... and it is for the user worlds (`Ctrl-A w`), one after another.
    for_worlds: bool,
    /// A worlds' line was just completed: the next byte starts a new one
    /// (the completed one stays readable until then).
    line_done: bool,
    line: LineEditor,
}

impl InputMux {
    /// A multiplexer over `vms` VMs, focus on the first.
    pub const fn new(vms: usize) -> Self {
        InputMux {
            vms,
            focus: 0,
            escaped: false,
            editing: false,
            for_worlds: false,
            line_done: false,
            line: LineEditor::new(),
        }
    }

    /// Whether a line for Aerie is being typed.
    pub fn editing(&self) -> bool {
        self.editing
    }

    /// The last line completed ([`MuxEvent::Line`]).
    pub fn line(&self) -> &str {
        self.line.line()
    }

    pub fn focus(&self) -> usize {
        self.focus
    }

    /// Move the focus (e.g. because the focused VM stopped).
    pub fn set_focus(&mut self, vm: usize) {
        if vm < self.vms {
            self.focus = vm;
        }
    }

    /// Interpret one byte typed on the console.
    pub fn feed(&mut self, byte: u8) -> MuxEvent {
        let vm = self.focus;
        if self.editing {
            if core::mem::take(&mut self.line_done) {
                self.line.clear();
            }
            return match self.line.feed(byte) {
                LineEvent::Echo { bytes, len } => MuxEvent::Echo { bytes, len },
                // The worlds' lines go on until abandoned; an empty one
                // (the LF of a CR LF) is nothing.
                LineEvent::Done if self.for_worlds && self.line.line().is_empty() => MuxEvent::None,
                LineEvent::Done if self.for_worlds => {
                    self.line_done = true;
                    MuxEvent::WorldLine
                }
                LineEvent::Done => {
                    self.editing = false;
                    MuxEvent::Line
                }
                LineEvent::Abandoned => {
                    self.editing = false;
                    self.for_worlds = false;
                    self.line_done = false;
                    MuxEvent::LineAbandoned
                }
                LineEvent::Ignored => MuxEvent::None,
            };
        }
        if !self.escaped {
            if byte == ESCAPE {
                self.escaped = true;
                return MuxEvent::None;
            }
            return MuxEvent::Deliver {
                vm,
                bytes: [byte, 0],
                len: 1,
            };
        }
        self.escaped = false;
        match byte {
            ESCAPE => MuxEvent::Deliver {
                vm,
                bytes: [ESCAPE, 0],
                len: 1,
            },
            b'd' | b'p' | b'i' | b'h' | b'r' | b'b' | b'q' => MuxEvent::Command(byte),
            b'u' => {
                self.editing = true;
                self.line.clear();
                MuxEvent::LineStart
            }
            b'w' => {
                self.editing = true;
                self.for_worlds = true;
                self.line.clear();
                MuxEvent::WorldLinesStart
            }
            b'1'..=b'9' if ((byte - b'1') as usize) < self.vms => {
                self.focus = (byte - b'1') as usize;
                MuxEvent::Switch { vm: self.focus }
            }
            other => MuxEvent::Deliver {
                vm,
                bytes: [ESCAPE, other],
                len: 2,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_a_u_reads_a_line_for_aerie_and_gives_nothing_to_the_vm() {
        let mut m = InputMux::new(2);
        assert_eq!(m.feed(ESCAPE), MuxEvent::None);
        assert_eq!(m.feed(b'u'), MuxEvent::LineStart);
        for &b in b"vmstat:once" {
            assert_eq!(
                m.feed(b),
                MuxEvent::Echo {
                    bytes: [b, 0, 0],
                    len: 1
                }
            );
        }
        assert_eq!(m.feed(b'\r'), MuxEvent::Line);
        assert_eq!(m.line(), "vmstat:once");
        // Back to the VM with the focus.
        assert!(matches!(m.feed(b'x'), MuxEvent::Deliver { vm: 0, .. }));
        // Ctrl-A inside the line abandons it; the next Ctrl-A is an escape again.
        m.feed(ESCAPE);
        m.feed(b'u');
        m.feed(b'z');
        assert_eq!(m.feed(ESCAPE), MuxEvent::LineAbandoned);
        assert_eq!(m.feed(ESCAPE), MuxEvent::None);
        assert_eq!(m.feed(b'd'), MuxEvent::Command(b'd'));
    }

    #[test]
    fn ctrl_a_w_sends_line_after_line_to_the_worlds_until_ctrl_a() {
        let mut m = InputMux::new(2);
        m.feed(ESCAPE);
        assert_eq!(m.feed(b'w'), MuxEvent::WorldLinesStart);
        for line in ["list", "stop testkit"] {
            for &b in line.as_bytes() {
                assert!(matches!(m.feed(b), MuxEvent::Echo { .. }));
            }
            assert_eq!(m.feed(b'\r'), MuxEvent::WorldLine);
            assert_eq!(m.line(), line);
            // CR LF: the LF is no second (empty) line.
            assert_eq!(m.feed(b'\n'), MuxEvent::None);
        }
        // Still the worlds' keyboard: no byte reaches a VM.
        assert!(matches!(m.feed(b'x'), MuxEvent::Echo { .. }));
        assert_eq!(m.feed(ESCAPE), MuxEvent::LineAbandoned);
        assert!(matches!(m.feed(b'y'), MuxEvent::Deliver { vm: 0, .. }));
        // Ctrl-A u afterwards is Aerie's one line again.
        m.feed(ESCAPE);
        assert_eq!(m.feed(b'u'), MuxEvent::LineStart);
        m.feed(b'z');
        assert_eq!(m.feed(b'\r'), MuxEvent::Line);
        assert!(matches!(m.feed(b'y'), MuxEvent::Deliver { vm: 0, .. }));
    }

    #[test]
    fn plain_bytes_go_to_the_focused_vm() {
        let mut m = InputMux::new(2);
        assert_eq!(
            m.feed(b'x'),
            MuxEvent::Deliver {
                vm: 0,
                bytes: [b'x', 0],
                len: 1
            }
        );
    }

    #[test]
    fn ctrl_a_digit_switches_focus() {
        let mut m = InputMux::new(3);
        assert_eq!(m.feed(ESCAPE), MuxEvent::None);
        assert_eq!(m.feed(b'3'), MuxEvent::Switch { vm: 2 });
        assert_eq!(
            m.feed(b'y'),
            MuxEvent::Deliver {
                vm: 2,
                bytes: [b'y', 0],
                len: 1
            }
        );
        assert_eq!(m.focus(), 2);
    }

    #[test]
    fn ctrl_a_d_p_i_h_r_b_and_q_are_commands() {
        let mut m = InputMux::new(1);
        for c in [b'd', b'p', b'i', b'h', b'r', b'b', b'q'] {
            m.feed(ESCAPE);
            assert_eq!(m.feed(c), MuxEvent::Command(c));
        }
        assert_eq!(
            m.feed(b'd'),
            MuxEvent::Deliver {
                vm: 0,
                bytes: [b'd', 0],
                len: 1
            }
        );
    }

    #[test]
    fn escapes_that_mean_nothing_are_passed_on() {
        let mut m = InputMux::new(2);
        m.feed(ESCAPE);
        assert_eq!(
            m.feed(ESCAPE),
            MuxEvent::Deliver {
                vm: 0,
                bytes: [ESCAPE, 0],
                len: 1
            }
        );
        m.feed(ESCAPE);
        // No VM 5: both bytes go on.
        assert_eq!(
            m.feed(b'5'),
            MuxEvent::Deliver {
                vm: 0,
                bytes: [ESCAPE, b'5'],
                len: 2
            }
        );
        m.feed(ESCAPE);
        assert_eq!(
            m.feed(b'z'),
            MuxEvent::Deliver {
                vm: 0,
                bytes: [ESCAPE, b'z'],
                len: 2
            }
        );
    }
}
