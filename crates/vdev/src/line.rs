//! A one-line editor for commands typed to Aerie on the console (`Ctrl-A u`
//! starts one): printable ASCII goes into a fixed buffer and is echoed,
//! Backspace or DEL erases, Enter ends the line, and Ctrl-C or Ctrl-A
//! abandons it. Nothing else is taken: no escape sequences, no history.

use crate::mux::ESCAPE;

/// The longest line; further characters are dropped (not echoed).
pub const LINE_MAX: usize = 128;

/// What one byte did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent {
    /// Show these bytes on the console (the character, or erase one).
    Echo { bytes: [u8; 3], len: usize },
    /// Enter: the line is complete ([`LineEditor::line`]).
    Done,
    /// Ctrl-C or Ctrl-A: the line is dropped.
    Abandoned,
    /// Nothing changed (a control byte, a full line, erasing nothing).
    Ignored,
}

#[derive(Debug, Clone)]
pub struct LineEditor {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub const fn new() -> Self {
        LineEditor {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    pub fn feed(&mut self, byte: u8) -> LineEvent {
        match byte {
            b'\r' | b'\n' => LineEvent::Done,
            0x03 | ESCAPE => {
                self.len = 0;
                LineEvent::Abandoned
            }
            0x08 | 0x7f if self.len > 0 => {
                self.len -= 1;
                LineEvent::Echo {
                    bytes: [0x08, b' ', 0x08],
                    len: 3,
                }
            }
            0x20..=0x7e if self.len < LINE_MAX => {
                self.buf[self.len] = byte;
                self.len += 1;
                LineEvent::Echo {
                    bytes: [byte, 0, 0],
                    len: 1,
                }
            }
            _ => LineEvent::Ignored,
        }
    }

    /// The line so far (printable ASCII only, so always valid text).
    pub fn line(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(e: &mut LineEditor, bytes: &[u8]) -> Vec<LineEvent> {
        bytes.iter().map(|&b| e.feed(b)).collect()
    }

    #[test]
    fn typed_characters_are_kept_and_echoed() {
        let mut e = LineEditor::new();
        let events = feed_all(&mut e, b"vmstat:once");
        assert!(events
            .iter()
            .all(|ev| matches!(ev, LineEvent::Echo { len: 1, .. })));
        assert_eq!(e.line(), "vmstat:once");
        assert_eq!(e.feed(b'\r'), LineEvent::Done);
        assert_eq!(e.line(), "vmstat:once", "Enter leaves the line to be read");
        e.clear();
        assert_eq!(e.line(), "");
    }

    #[test]
    fn backspace_and_del_erase_one_character_each() {
        let mut e = LineEditor::new();
        feed_all(&mut e, b"helo");
        let erase = LineEvent::Echo {
            bytes: [0x08, b' ', 0x08],
            len: 3,
        };
        assert_eq!(e.feed(0x7f), erase);
        assert_eq!(e.feed(0x08), erase);
        feed_all(&mut e, b"llo");
        assert_eq!(e.line(), "hello");
        // Erasing past the start changes nothing.
        let mut empty = LineEditor::new();
        assert_eq!(empty.feed(0x7f), LineEvent::Ignored);
    }

    #[test]
    fn ctrl_c_or_ctrl_a_abandons_the_line() {
        for abandon in [0x03, ESCAPE] {
            let mut e = LineEditor::new();
            feed_all(&mut e, b"vmctl:stop:0");
            assert_eq!(e.feed(abandon), LineEvent::Abandoned);
            assert_eq!(e.line(), "");
        }
    }

    #[test]
    fn control_bytes_and_non_ascii_are_ignored_and_the_line_is_bounded() {
        let mut e = LineEditor::new();
        for b in [0x00, 0x1b, b'\t', 0x80, 0xff] {
            assert_eq!(e.feed(b), LineEvent::Ignored);
        }
        feed_all(&mut e, &[b'x'; LINE_MAX]);
        assert_eq!(e.feed(b'y'), LineEvent::Ignored);
        assert_eq!(e.line().len(), LINE_MAX);
        assert!(e.line().bytes().all(|b| b == b'x'));
    }
}
