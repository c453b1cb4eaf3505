//! A PL061 GPIO controller for a guest (Arm PrimeCell GPIO, TRM DDI 0190):
//! eight pins, each an input or an output, with edge- or level-triggered
//! interrupts combined onto one line. QEMU's `virt` board wires its power
//! button to pin 3 of one, described to Linux as a `gpio-keys` key with
//! KEY_POWER; Aerie's VMs get the same, so a guest that handles the power
//! key (systemd-logind, acpid, a listener of its own) shuts down cleanly
//! when its button is pressed, with no guest tools.
//!
//! The button is momentary: [`Pl061::press`] drives the pin high until the
//! guest has read it high once, then lets it fall. Linux's gpio-keys reads
//! the pin after each edge (past its debounce delay), so it sees the press
//! and then the release, as it would from a person's finger; a guest that
//! never reads the pin leaves the button held, and a press then changes
//! nothing.

use crate::mmio::MmioError;
use crate::primecell::{self, Widths};

/// Register offsets (TRM section 3.2).
pub mod regs {
    /// GPIODATA spans 0x000..0x3FC: address bits 9:2 mask the pins an
    /// access reads or writes.
    pub const DATA_END: u64 = 0x400;
    pub const DIR: u64 = 0x400;
    pub const IS: u64 = 0x404;
    pub const IBE: u64 = 0x408;
    pub const IEV: u64 = 0x40C;
    pub const IE: u64 = 0x410;
    pub const RIS: u64 = 0x414;
    pub const MIS: u64 = 0x418;
    pub const IC: u64 = 0x41C;
    pub const AFSEL: u64 = 0x420;
    pub const PERIPH_ID0: u64 = crate::primecell::PERIPH_ID0;
    /// GPIOPeriphID0..3, GPIOPCellID0..3 (TRM section 3.3.11 and 3.3.12):
    /// part 0x061, designer 0x41 ('A'), revision 1 (as QEMU's); the
    /// PrimeCell ID.
    pub const ID: [u8; 8] = [0x61, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];
}

/// The register window.
pub const SIZE: u64 = primecell::WINDOW;

/// One VM's GPIO controller. Every register is 8 bits, one bit a pin.
#[derive(Clone, Debug, Default)]
pub struct Pl061 {
    /// Output latch (GPIODATA as written); drives the pins set in `dir`.
    data: u8,
    /// GPIODIR: 1 = output.
    dir: u8,
    /// GPIOIS: 1 = level-sensitive, 0 = edge.
    sense: u8,
    /// GPIOIBE: 1 = both edges (edge-sensitive pins only).
    both_edges: u8,
    /// GPIOIEV: 1 = rising edge or high level.
    event: u8,
    /// GPIOIE: 1 = the pin's interrupt reaches the line.
    enable: u8,
    /// Edges detected and not yet cleared through GPIOIC.
    edges: u8,
    /// GPIOAFSEL: held as written (no alternate functions here).
    afsel: u8,
    /// Levels driven from outside on the pins (the power button).
    inputs: u8,
    /// Input pins that fall once the guest has read them high.
    momentary: u8,
}

impl Pl061 {
    pub fn new() -> Self {
        Self::default()
    }

    /// What a reset of the VM does: every register returns to its reset
    /// value and a held button is let go.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The level on each pin: outputs from the latch, inputs from outside.
    pub fn pins(&self) -> u8 {
        (self.data & self.dir) | (self.inputs & !self.dir)
    }

    /// GPIORIS: latched edges of edge-sensitive pins, and level-sensitive
    /// pins whose level is the one GPIOIEV names.
    fn raw_status(&self) -> u8 {
        let at_level = !(self.pins() ^ self.event);
        (self.edges & !self.sense) | (at_level & self.sense)
    }

    /// The combined interrupt line (GPIOINTR): any enabled pin pending.
    pub fn irq_level(&self) -> bool {
        self.raw_status() & self.enable != 0
    }

    /// Presses the momentary button on `pin` (0..8): the pin goes high
    /// until the guest reads it. Returns false if it was still held from
    /// an earlier press the guest never read (nothing changes then).
    pub fn press(&mut self, pin: u8) -> bool {
        let bit = 1u8 << (pin & 7);
        if self.inputs & bit != 0 {
            return false;
        }
        self.momentary |= bit;
        self.drive(self.inputs | bit);
        true
    }

    /// Sets the outside levels of the pins to `inputs`, latching the edges
    /// that causes.
    fn drive(&mut self, inputs: u8) {
        let before = self.pins();
        self.inputs = inputs;
        self.latch_edges(before);
    }

    /// Latches the edges between `before` and the pins now, for the
    /// edge-sensitive pins whose configuration asks for them.
    fn latch_edges(&mut self, before: u8) {
        let after = self.pins();
        let rising = !before & after;
        let falling = before & !after;
        let wanted =
            (rising & (self.event | self.both_edges)) | (falling & (!self.event | self.both_edges));
        self.edges |= wanted & !self.sense;
    }

    /// Guest read of `size` bytes at `offset`. Reading a held momentary
    /// pin high lets it go.
    pub fn read(&mut self, offset: u64, size: u8) -> Result<u32, MmioError> {
        check(offset, size)?;
        let value = match offset {
            o if o < regs::DATA_END => {
                let mask = (o >> 2) as u8;
                let value = self.pins() & mask;
                let seen = value & self.momentary;
                if seen != 0 {
                    self.momentary &= !seen;
                    self.drive(self.inputs & !seen);
                }
                value
            }
            regs::DIR => self.dir,
            regs::IS => self.sense,
            regs::IBE => self.both_edges,
            regs::IEV => self.event,
            regs::IE => self.enable,
            regs::RIS => self.raw_status(),
            regs::MIS => self.raw_status() & self.enable,
            regs::AFSEL => self.afsel,
            regs::PERIPH_ID0.. => primecell::id_register(&regs::ID, offset) as u8,
            // GPIOIC is write-only; reserved offsets read as zero.
            _ => 0,
        };
        Ok(u32::from(value))
    }

    /// Guest write of `size` bytes at `offset` (only the low 8 bits count:
    /// the registers are 8 bits wide).
    pub fn write(&mut self, offset: u64, size: u8, value: u32) -> Result<(), MmioError> {
        check(offset, size)?;
        let value = value as u8;
        let before = self.pins();
        match offset {
            o if o < regs::DATA_END => {
                let mask = (o >> 2) as u8;
                self.data = (self.data & !mask) | (value & mask);
            }
            regs::DIR => self.dir = value,
            regs::IS => self.sense = value,
            regs::IBE => self.both_edges = value,
            regs::IEV => self.event = value,
            regs::IE => self.enable = value,
            regs::IC => self.edges &= !value,
            regs::AFSEL => self.afsel = value,
            // RIS, MIS and the IDs are read-only; reserved offsets ignore
            // writes.
            _ => {}
        }
        // A pin turned output, or an output written, moves like any other.
        self.latch_edges(before);
        Ok(())
    }
}

/// Registers sit at word offsets; Linux's driver reads and writes them a
/// byte at a time, others a word at a time: both are accepted.
fn check(offset: u64, size: u8) -> Result<(), MmioError> {
    primecell::check(offset, size, Widths::BYTE_OR_WORD)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GPIODATA's address with only `pin` in its mask.
    fn data_of(pin: u8) -> u64 {
        u64::from(1u8 << pin) << 2
    }

    /// What Linux's gpio-pl061 and gpio-keys do for the power key on pin 3:
    /// an input, interrupts on both edges, unmasked.
    fn as_linux_sets_it_up() -> Pl061 {
        let mut g = Pl061::new();
        g.write(regs::DIR, 1, 0).unwrap();
        g.write(regs::IS, 1, 0).unwrap();
        g.write(regs::IBE, 1, 1 << 3).unwrap();
        g.write(regs::IC, 1, 0xFF).unwrap();
        g.write(regs::IE, 1, 1 << 3).unwrap();
        g
    }

    #[test]
    fn a_press_is_seen_then_released_on_the_guests_read() {
        let mut g = as_linux_sets_it_up();
        assert!(!g.irq_level());
        assert_eq!(g.read(data_of(3), 1), Ok(0), "released at probe");
        assert!(g.press(3));
        // The rising edge: the line goes up, MIS names the pin.
        assert!(g.irq_level());
        assert_eq!(g.read(regs::MIS, 1), Ok(1 << 3));
        // The handler acknowledges the edge; the line drops.
        g.write(regs::IC, 1, 1 << 3).unwrap();
        assert!(!g.irq_level());
        // gpio-keys reads the key after its debounce: pressed. That read
        // lets the button go, which is the falling edge.
        assert_eq!(g.read(data_of(3), 1), Ok(1 << 3));
        assert!(g.irq_level());
        g.write(regs::IC, 1, 1 << 3).unwrap();
        assert_eq!(g.read(data_of(3), 1), Ok(0), "released");
        assert!(!g.irq_level());
        // And it can be pressed again.
        assert!(g.press(3));
        assert!(g.irq_level());
    }

    #[test]
    fn an_unread_press_holds_the_button_and_a_second_one_changes_nothing() {
        let mut g = as_linux_sets_it_up();
        assert!(g.press(3));
        g.write(regs::IC, 1, 0xFF).unwrap();
        assert!(!g.press(3), "still held");
        assert!(!g.irq_level(), "no new edge");
        // Reads of other pins do not release it.
        assert_eq!(g.read(data_of(2), 1), Ok(0));
        assert_eq!(g.read(data_of(3), 4), Ok(1 << 3));
    }

    #[test]
    fn edge_sense_follows_iev_and_ibe() {
        // Rising only (IBE 0, IEV 1): the press raises, the release does not.
        let mut g = Pl061::new();
        g.write(regs::IEV, 1, 1 << 3).unwrap();
        g.write(regs::IE, 1, 0xFF).unwrap();
        g.press(3);
        assert_eq!(g.read(regs::RIS, 1), Ok(1 << 3));
        g.write(regs::IC, 1, 0xFF).unwrap();
        g.read(data_of(3), 1).unwrap();
        assert_eq!(g.read(regs::RIS, 1), Ok(0), "no falling edge wanted");
        // Falling only (IEV 0): the release raises.
        let mut g = Pl061::new();
        g.write(regs::IE, 1, 0xFF).unwrap();
        g.press(3);
        assert_eq!(g.read(regs::RIS, 1), Ok(0));
        g.read(data_of(3), 1).unwrap();
        assert_eq!(g.read(regs::RIS, 1), Ok(1 << 3));
    }

    #[test]
    fn masked_pins_latch_but_do_not_interrupt() {
        let mut g = Pl061::new();
        g.write(regs::IBE, 1, 0xFF).unwrap();
        g.press(3);
        assert_eq!(g.read(regs::RIS, 1), Ok(1 << 3));
        assert_eq!(g.read(regs::MIS, 1), Ok(0));
        assert!(!g.irq_level());
        // Unmasking a latched edge raises the line.
        g.write(regs::IE, 1, 1 << 3).unwrap();
        assert!(g.irq_level());
    }

    #[test]
    fn level_sense_follows_the_pin_and_ignores_clears() {
        let mut g = Pl061::new();
        g.write(regs::IS, 1, 1 << 3).unwrap();
        g.write(regs::IEV, 1, 1 << 3).unwrap();
        g.write(regs::IE, 1, 1 << 3).unwrap();
        assert!(!g.irq_level());
        g.press(3);
        g.write(regs::IC, 1, 0xFF).unwrap();
        assert!(g.irq_level(), "a level stays while the pin is high");
        g.read(data_of(3), 1).unwrap();
        assert!(!g.irq_level(), "and goes with it");
        // Low-level sense on a low pin is pending at once.
        g.write(regs::IEV, 1, 0).unwrap();
        assert!(g.irq_level());
    }

    #[test]
    fn outputs_drive_their_pins_through_the_data_mask() {
        let mut g = Pl061::new();
        g.write(regs::DIR, 1, 0x0F).unwrap();
        // Address bits 9:2 select the pins: write pins 0 and 2 only.
        g.write(u64::from(0b0101u8) << 2, 4, 0xFF).unwrap();
        assert_eq!(g.pins(), 0b0101);
        assert_eq!(g.read(0x3FC, 1), Ok(0b0101));
        assert_eq!(g.read(u64::from(0b0001u8) << 2, 1), Ok(0b0001));
        // An output moving latches its edge too.
        g.write(regs::IBE, 1, 0xFF).unwrap();
        g.write(0x3FC, 1, 0).unwrap();
        assert_eq!(g.read(regs::RIS, 1), Ok(0b0101));
        // A pin that is an output ignores the button.
        g.write(regs::DIR, 1, 1 << 3).unwrap();
        g.press(3);
        assert_eq!(g.read(data_of(3), 1), Ok(0));
    }

    #[test]
    fn registers_read_back_and_reset_clears_them() {
        let mut g = Pl061::new();
        for (reg, v) in [
            (regs::DIR, 0x81),
            (regs::IS, 0x42),
            (regs::IBE, 0x24),
            (regs::IEV, 0x18),
            (regs::IE, 0x99),
            (regs::AFSEL, 0x03),
        ] {
            g.write(reg, 4, 0xFF00 | v).unwrap();
            assert_eq!(g.read(reg, 4), Ok(v), "{reg:#x}: 8 bits wide");
        }
        g.press(3);
        g.reset();
        assert_eq!(g.pins(), 0, "the button let go");
        for reg in [
            regs::DIR,
            regs::IS,
            regs::IBE,
            regs::IEV,
            regs::IE,
            regs::AFSEL,
        ] {
            assert_eq!(g.read(reg, 1), Ok(0), "{reg:#x}");
        }
        assert!(g.press(3));
    }

    #[test]
    fn id_registers_name_a_pl061() {
        let mut g = Pl061::new();
        let ids: Vec<u32> = (0..8)
            .map(|i| g.read(regs::PERIPH_ID0 + 4 * i, 4).unwrap())
            .collect();
        // What Linux's AMBA bus matches gpio-pl061 by: 0x00041061 under the
        // mask 0x000fffff.
        let periph = ids[0] | ids[1] << 8 | ids[2] << 16 | ids[3] << 24;
        assert_eq!(periph & 0x000F_FFFF, 0x0004_1061);
        let cell = ids[4] | ids[5] << 8 | ids[6] << 16 | ids[7] << 24;
        assert_eq!(cell, 0xB105_F00D);
    }

    #[test]
    fn bad_accesses_are_refused() {
        let mut g = Pl061::new();
        assert_eq!(g.read(SIZE, 4), Err(MmioError::OutOfRange { offset: SIZE }));
        assert_eq!(
            g.write(regs::DIR, 2, 0),
            Err(MmioError::UnsupportedSize {
                offset: regs::DIR,
                size: 2
            })
        );
        assert_eq!(
            g.read(regs::DIR + 1, 1),
            Err(MmioError::Misaligned {
                offset: regs::DIR + 1,
                size: 1
            })
        );
    }
}
