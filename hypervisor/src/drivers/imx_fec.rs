//! The host's i.MX ENET ("FEC": NXP i.MX 6, 7 and 8M), the uplink port of
//! Aerie's switch on boards with no virtio. Register names and bits are
//! those of the i.MX 8M Plus reference manual's ENET chapter.
//!
//! The card uses the legacy 8-byte buffer descriptors (ECR.EN1588 clear),
//! one ring for receive and one for transmit, each frame in one 2 KiB
//! buffer. The ENET does not snoop the CPUs' caches, so the rings are
//! reached through an uncached mapping (`KernelSpace::map_uncached`: a
//! descriptor shares its cache line with seven others the card may be
//! writing), and each buffer is cleaned or invalidated around the card's
//! use of it (a buffer is wholly the card's or wholly Aerie's).
//!
//! As with the virtio card, nothing waits for the device: a frame goes out
//! by filling the next transmit descriptor (frames the card has sent are
//! taken back first; with the ring full the frame is dropped and counted),
//! and frames come in by the receive interrupt, which the handler only
//! acknowledges; the exit and idle paths then take them ([`receive`]).
//!
//! The boot loader must have switched on the ENET's clocks and pins, as
//! U-Boot does when it uses the network. The PHY is only read (its link and
//! the speed it negotiated, through MDIO), never reset or reconfigured.

use super::ethernet::{read_phy, uncached_dma, FrameBuffers, Mac, Slot, TxCursor, BUFFER};
use super::registers::Registers;
use crate::arch::aarch64::cpu::poll_for;
use crate::arch::aarch64::sysreg::dsb_sy;
use crate::mm::kernel_map::KernelSpace;
use aerie_dt::{HostEthernet, PhyMode};

/// Interrupt events (W1C) and their mask.
const EIR: usize = 0x004;
const EIMR: usize = 0x008;
/// Receive and transmit descriptors active: written after descriptors are
/// given to the card, so it looks at them again.
const RDAR: usize = 0x010;
const TDAR: usize = 0x014;
const ECR: usize = 0x024;
/// MII management frame and speed (MDC's divider).
const MMFR: usize = 0x040;
const MSCR: usize = 0x044;
const RCR: usize = 0x084;
const TCR: usize = 0x0c4;
/// The card's own address, bytes 0..4 and 4..6.
const PALR: usize = 0x0e4;
const PAUR: usize = 0x0e8;
/// Individual and group address hash tables.
const IAUR: usize = 0x118;
const IALR: usize = 0x11c;
const GAUR: usize = 0x120;
const GALR: usize = 0x124;
const TFWR: usize = 0x144;
/// The rings' start addresses and the receive buffers' size.
const RDSR: usize = 0x180;
const TDSR: usize = 0x184;
const MRBR: usize = 0x188;

const EIR_RXF: u32 = 1 << 25;
const EIR_MII: u32 = 1 << 23;
const DAR_ACTIVE: u32 = 1 << 24;
const ECR_RESET: u32 = 1 << 0;
const ECR_ETHEREN: u32 = 1 << 1;
/// 1000 Mb/s (RGMII only).
const ECR_SPEED: u32 = 1 << 5;
/// Descriptors in little-endian order.
const ECR_DBSWP: u32 = 1 << 8;
/// RCR: MII_MODE must be set; PROM takes every frame (the switch behind
/// the uplink answers for its VMs' addresses, not the card's); RGMII_EN
/// and RMII_MODE pick the PHY interface; RMII_10T is 10 Mb/s on RMII; the
/// longest frame in bits 29:16.
const RCR_MII_MODE: u32 = 1 << 2;
const RCR_PROM: u32 = 1 << 3;
const RCR_RGMII_EN: u32 = 1 << 6;
const RCR_RMII_MODE: u32 = 1 << 8;
const RCR_RMII_10T: u32 = 1 << 9;
const MAX_FRAME: u32 = 1522;
/// TCR: full duplex.
const TCR_FDEN: u32 = 1 << 2;
/// TFWR: send a frame once it is all in the FIFO.
const TFWR_STRFWD: u32 = 1 << 8;
/// MSCR with the slowest MDC the divider gives (bits 6:1 all set): safe
/// whatever the ENET's bus clock, when the boot loader left MDIO off.
const MSCR_SLOWEST: u32 = 0x3f << 1;

/// Descriptor flags. Receive: E, the card may fill it; transmit: R, the
/// card may send it. W: the ring's last. L: a frame's last buffer. TC:
/// append the CRC. Receive errors: LG (too long), NO (not whole bytes),
/// CR (CRC), OV (overrun), TR (truncated).
const BD_EMPTY_READY: u16 = 1 << 15;
const BD_WRAP: u16 = 1 << 13;
const BD_LAST: u16 = 1 << 11;
const BD_TC: u16 = 1 << 10;
const BD_RX_ERRORS: u16 = (1 << 5) | (1 << 4) | (1 << 2) | (1 << 1) | 1;

/// Descriptors per ring (each frame in one `ethernet::BUFFER`: 2 KiB, a
/// multiple of 16 for MRBR).
const RING: usize = 64;
/// Bytes of one descriptor: length (u16), flags (u16), buffer address (u32).
const BD_BYTES: usize = 8;
/// The CRC the card leaves at the end of each received frame.
const FCS: usize = 4;
/// How long a reset and an MDIO frame may take (an MDIO frame is 64 bits
/// at 2.5 MHz or slower: microseconds).
const RESET_MS: u64 = 100;
const MDIO_MS: u64 = 10;

/// One ring of descriptors, reached through its uncached mapping.
struct Ring {
    va: u64,
    pa: u64,
}

impl Ring {
    fn flags(&self, i: usize) -> u16 {
        // SAFETY: descriptor i lies in the ring's uncached mapping
        // (RING descriptors, 2-byte aligned field).
        unsafe { core::ptr::read_volatile((self.va + (i * BD_BYTES) as u64 + 2) as *const u16) }
    }

    fn length(&self, i: usize) -> u16 {
        // SAFETY: as for `flags`.
        unsafe { core::ptr::read_volatile((self.va + (i * BD_BYTES) as u64) as *const u16) }
    }

    /// Fill descriptor i, then hand it over with `flags`: the length and
    /// address reach memory before the flags do, so the card never sees
    /// the flags with stale fields.
    fn give(&self, i: usize, buffer_pa: u32, length: u16, flags: u16) {
        let at = self.va + (i * BD_BYTES) as u64;
        let wrap = if i == RING - 1 { BD_WRAP } else { 0 };
        // SAFETY: as for `flags`; the descriptor is Aerie's until the
        // flags are written.
        unsafe {
            core::ptr::write_volatile(at as *mut u16, length);
            core::ptr::write_volatile((at + 4) as *mut u32, buffer_pa);
        }
        dsb_sy();
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile((at + 2) as *mut u16, flags | wrap) };
    }
}

pub struct Card {
    regs: Registers,
    rx: Ring,
    tx: Ring,
    buffers: FrameBuffers,
    /// The next receive descriptor the card fills.
    rx_next: usize,
    tx_cursor: TxCursor,
    mac: [u8; 6],
    /// Frames received with errors (and dropped), for `Ctrl-A d`.
    bad: u64,
}

/// The ENET Aerie drives, if any (`uplink`).
pub static ENET: Slot<Card> = Slot::new();

impl Card {
    /// Give receive descriptor i (and its buffer) back to the card.
    fn post(&self, i: usize) {
        self.rx
            .give(i, self.buffers.rx_for_card(i), 0, BD_EMPTY_READY);
    }

    /// A clause-22 MDIO read of the PHY at `phy`, or None without an answer.
    fn mdio_read(&self, phy: u32, reg: u32) -> Option<u16> {
        self.regs.write(EIR, EIR_MII);
        // Start of frame 01, read 10, PHY and register, turnaround 10.
        let frame = (0b01 << 30)
            | (0b10 << 28)
            | ((phy & 0x1f) << 23)
            | ((reg & 0x1f) << 18)
            | (0b10 << 16);
        self.regs.write(MMFR, frame);
        if !poll_for(MDIO_MS, || self.regs.read(EIR) & EIR_MII != 0) {
            return None;
        }
        self.regs.write(EIR, EIR_MII);
        let value = (self.regs.read(MMFR) & 0xffff) as u16;
        (value != 0xffff).then_some(value)
    }
}

/// A ring: its descriptors in DMA memory reached through an uncached
/// mapping. `bring_up` writes every descriptor through that mapping.
fn new_ring(space: &mut KernelSpace) -> Result<Ring, &'static str> {
    let (va, pa) = uncached_dma(space, (RING * BD_BYTES) as u64)?;
    Ok(Ring { va, pa })
}

/// Reset the ENET at `va` and bring it up as the uplink: promiscuous,
/// full duplex, the rings given, receive interrupts on.
pub fn bring_up(
    va: u64,
    eth: &HostEthernet,
    space: &mut KernelSpace,
) -> Result<Card, &'static str> {
    // SAFETY: the caller mapped the ENET's registers at `va` as device
    // memory, for good; Aerie alone drives it.
    let regs = unsafe { Registers::new(va) };
    // The address the boot loader (or QEMU) set; a reset may clear it.
    let (palr, paur) = (regs.read(PALR), regs.read(PAUR));
    let mac = [
        (palr >> 24) as u8,
        (palr >> 16) as u8,
        (palr >> 8) as u8,
        palr as u8,
        (paur >> 24) as u8,
        (paur >> 16) as u8,
    ];
    if mac == [0; 6] || mac[0] & 1 != 0 {
        return Err("no usable address in PALR/PAUR (the boot loader sets it)");
    }
    let mscr = regs.read(MSCR);
    regs.write(ECR, ECR_RESET);
    if !poll_for(RESET_MS, || regs.read(ECR) & ECR_RESET == 0) {
        return Err("it did not come out of reset");
    }
    regs.write(EIMR, 0);
    regs.write(EIR, u32::MAX);
    regs.write(PALR, palr);
    regs.write(PAUR, (paur & 0xffff_0000) | 0x8808);
    for table in [IAUR, IALR, GAUR, GALR] {
        regs.write(table, 0);
    }
    regs.write(
        MSCR,
        if mscr & MSCR_SLOWEST != 0 {
            mscr
        } else {
            MSCR_SLOWEST
        },
    );

    let rx = new_ring(space)?;
    let tx = new_ring(space)?;
    let card = Card {
        regs,
        rx,
        tx,
        buffers: FrameBuffers::new(RING)?,
        rx_next: 0,
        tx_cursor: TxCursor::new(RING),
        mac,
        bad: 0,
    };
    for i in 0..RING {
        card.post(i);
        card.tx.give(i, card.buffers.tx_pa(i), 0, 0);
    }

    let phy = eth
        .phy_address
        .and_then(|a| read_phy(|reg| card.mdio_read(a, reg)).map(|s| (a, s)));
    let speed = phy.as_ref().map_or(100, |(_, s)| s.speed);
    let mode = match eth.phy_mode {
        PhyMode::Mii => 0,
        PhyMode::Rmii if speed == 10 => RCR_RMII_MODE | RCR_RMII_10T,
        PhyMode::Rmii => RCR_RMII_MODE,
        PhyMode::Rgmii => RCR_RGMII_EN,
    };
    regs.write(RCR, (MAX_FRAME << 16) | RCR_MII_MODE | RCR_PROM | mode);
    regs.write(TCR, TCR_FDEN);
    regs.write(TFWR, TFWR_STRFWD);
    regs.write(RDSR, card.rx.pa as u32);
    regs.write(TDSR, card.tx.pa as u32);
    regs.write(MRBR, BUFFER as u32);
    let gigabit = speed == 1000 && eth.phy_mode == PhyMode::Rgmii;
    regs.write(
        ECR,
        ECR_ETHEREN | ECR_DBSWP | if gigabit { ECR_SPEED } else { 0 },
    );
    dsb_sy();
    regs.write(RDAR, DAR_ACTIVE);
    regs.write(EIMR, EIR_RXF);
    match phy {
        Some((a, s)) => log::info!(
            "uplink: PHY at MDIO address {a}: link {}, {} Mb/s",
            if s.link { "up" } else { "down" },
            s.speed
        ),
        None => log::info!("uplink: no PHY answered on MDIO; the MAC is set for 100 Mb/s"),
    }
    Ok(card)
}

impl Mac for Card {
    fn address(&self) -> [u8; 6] {
        self.mac
    }

    fn acknowledge(&mut self) {
        self.regs.write(EIR, self.regs.read(EIR));
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), &'static str> {
        if frame.len() > MAX_FRAME as usize - FCS {
            return Err("frame longer than the card takes");
        }
        // The card clears READY in the descriptors it has sent.
        let tx = &self.tx;
        self.tx_cursor
            .reclaim(|i| tx.flags(i) & BD_EMPTY_READY == 0);
        let i = self
            .tx_cursor
            .claim()
            .ok_or("transmit ring full: frame dropped")?;
        let (pa, len) = self.buffers.fill_tx(i, frame);
        self.tx
            .give(i, pa, len as u16, BD_EMPTY_READY | BD_LAST | BD_TC);
        dsb_sy();
        self.regs.write(TDAR, DAR_ACTIVE);
        Ok(())
    }

    fn receive(&mut self, f: &mut dyn FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < RING {
            let i = self.rx_next;
            let flags = self.rx.flags(i);
            if flags & BD_EMPTY_READY != 0 {
                break;
            }
            let len = usize::from(self.rx.length(i));
            if flags & BD_LAST == 0 || flags & BD_RX_ERRORS != 0 || !(FCS..=BUFFER).contains(&len) {
                self.bad += 1;
            } else {
                f(&self.buffers.rx_frame(i, len)[..len - FCS]);
            }
            self.post(i);
            self.rx_next = (i + 1) % RING;
            n += 1;
        }
        if n > 0 {
            // The card stops when it meets a full descriptor: say there
            // are empty ones again.
            dsb_sy();
            self.regs.write(RDAR, DAR_ACTIVE);
        }
        n
    }

    fn receive_errors(&self) -> u64 {
        self.bad
    }
}
