//! The host's Cadence GEM (Gigabit Ethernet MAC: Xilinx ZynqMP and Versal),
//! the uplink port of Aerie's switch on boards with no virtio. Register
//! names and bits are those of the ZynqMP register reference (UG1087, the
//! GEM module).
//!
//! The card uses 8-byte descriptors (word 0 the buffer's address, word 1
//! its length and status) with 32-bit addresses (dma_config's 64-bit
//! addressing and extended descriptors off), one ring for receive and one
//! for transmit on queue 0, each frame in one 2 KiB buffer. The GEM has
//! more priority queues (the ZynqMP's and Versal's two; designcfg_debug6
//! says which): each other queue is pointed at a descriptor that is
//! Aerie's (used bit set), so the controller never takes one from
//! wherever its pointer happened to be (0 after reset, which is RAM on a
//! ZynqMP). As on the i.MX ENET (`imx_fec`), the GEM does not snoop the
//! CPUs' caches: the rings are reached through an uncached mapping, and
//! each buffer is cleaned or invalidated around the card's use of it.
//!
//! Nothing waits for the device: a frame goes out by filling the next
//! transmit descriptor and starting transmission (frames the card has sent
//! are taken back first; with the ring full the frame is dropped and
//! counted), and frames come in by the receive interrupt, which the handler
//! only acknowledges; the exit and idle paths then take them ([`receive`]).
//!
//! The GEM has no reset of its own (the SoC's reset controller has it), and
//! Aerie leaves it alone: receive and transmit are stopped while the rings
//! are given, and the address the boot loader set (spec_add1) is kept. The
//! boot loader must have switched on the GEM's clocks (the ZynqMP's
//! GEMn_REF_CTRL at the PHY's speed) and pins, as U-Boot does when it uses
//! the network; the SMMU must let the GEM's DMA through (its reset state).
//! The PHY is only read (its link and the speed it negotiated, through
//! MDIO), never reset or reconfigured.

use super::ethernet::{
    read_phy, uncached_dma, FrameBuffers, Mac, PhyState, Slot, TxCursor, BUFFER,
};
use super::registers::Registers;
use crate::arch::aarch64::cpu::poll_for;
use crate::arch::aarch64::sysreg::dsb_sy;
use crate::mm::kernel_map::KernelSpace;
use aerie_dt::{HostEthernet, PhyMode};

const NETWORK_CONTROL: usize = 0x000;
const NETWORK_CONFIG: usize = 0x004;
const NETWORK_STATUS: usize = 0x008;
const DMA_CONFIG: usize = 0x010;
/// Transmit and receive status (write 1 to clear).
const TRANSMIT_STATUS: usize = 0x014;
/// Queue 0's rings (bits 31:2; 1:0 read as 0).
const RECEIVE_Q_PTR: usize = 0x018;
const TRANSMIT_Q_PTR: usize = 0x01c;
const RECEIVE_STATUS: usize = 0x020;
/// Queue 0's interrupt events, and their enable and disable.
const INT_STATUS: usize = 0x024;
const INT_ENABLE: usize = 0x028;
const INT_DISABLE: usize = 0x02c;
/// One MDIO frame: written to start it, read for the answer.
const PHY_MANAGEMENT: usize = 0x034;
/// The multicast and unicast hash filter.
const HASH_BOTTOM: usize = 0x080;
const HASH_TOP: usize = 0x084;
/// The card's own address: bytes 0..4 (byte 0 in bits 7:0) and 4..6.
const SPEC_ADD1_BOTTOM: usize = 0x088;
const SPEC_ADD1_TOP: usize = 0x08c;
const MODULE_ID: usize = 0x0fc;
/// What the design was built with: its data bus width (1), its priority
/// queues (6).
const DESIGNCFG_DEBUG1: usize = 0x280;
const DESIGNCFG_DEBUG6: usize = 0x294;
/// Queue 1's interrupt events and rings; queue q's at 4 * (q - 1) further.
const INT_Q1_STATUS: usize = 0x400;
const TRANSMIT_Q1_PTR: usize = 0x440;
const RECEIVE_Q1_PTR: usize = 0x480;
/// The rings' upper 32 address bits, used with 64-bit addressing only.
const UPPER_TX_Q_BASE_ADDR: usize = 0x4c8;
const UPPER_RX_Q_BASE_ADDR: usize = 0x4d4;
const INT_Q1_DISABLE: usize = 0x620;

/// network_control: receive and transmit enables, MDIO (the management
/// port) on, and the start of transmission.
const NCR_RX_EN: u32 = 1 << 2;
const NCR_TX_EN: u32 = 1 << 3;
const NCR_MAN_PORT_EN: u32 = 1 << 4;
const NCR_TX_START: u32 = 1 << 9;
/// network_config: 100 Mb/s, full duplex, copy all frames (promiscuous: the
/// switch behind the uplink answers for its VMs' addresses, not the
/// card's), frames up to 1536 bytes (a VLAN tag's four more), 1000 Mb/s,
/// the PCS (SGMII) picked, FCS removed from received frames, MDC's
/// divider (bits 20:18; 7: pclk / 224, under MDIO's 2.5 MHz for any pclk
/// up to 560 MHz), the data bus width (bits 22:21), SGMII mode.
const NCFG_SPEED_100: u32 = 1 << 0;
const NCFG_FULL_DUPLEX: u32 = 1 << 1;
const NCFG_COPY_ALL: u32 = 1 << 4;
const NCFG_RX_1536: u32 = 1 << 8;
const NCFG_GIGABIT: u32 = 1 << 10;
const NCFG_PCS_SELECT: u32 = 1 << 11;
const NCFG_FCS_REMOVE: u32 = 1 << 17;
const NCFG_MDC_224: u32 = 7 << 18;
const NCFG_DBW_SHIFT: u32 = 21;
const NCFG_SGMII: u32 = 1 << 27;
/// network_status: the PHY management logic is idle.
const NSR_MAN_DONE: u32 = 1 << 2;
/// dma_config: the AHB burst (bits 4:0; 0x10 INCR16), little-endian
/// descriptors and packet data (bits 6, 7 clear), the whole receive and
/// transmit packet buffers (bits 9:8 and 10), checksum offload (off), the
/// receive buffers' size in 64-byte units (bits 23:16), extended
/// descriptors and 64-bit addresses (off).
const DMA_BURST_MASK: u32 = 0x1f;
const DMA_BURST_INCR16: u32 = 0x10;
const DMA_ENDIAN_DESC: u32 = 1 << 6;
const DMA_ENDIAN_PACKET: u32 = 1 << 7;
const DMA_RX_PBUF_FULL: u32 = 3 << 8;
const DMA_TX_PBUF_FULL: u32 = 1 << 10;
const DMA_TX_CSUM_OFFLOAD: u32 = 1 << 11;
const DMA_RX_BUF_SIZE_MASK: u32 = 0xff << 16;
const DMA_RX_BUF_SIZE_SHIFT: u32 = 16;
const DMA_RX_BD_EXTENDED: u32 = 1 << 28;
const DMA_TX_BD_EXTENDED: u32 = 1 << 29;
const DMA_ADDR_64: u32 = 1 << 30;
/// Interrupt events: a frame received.
const INT_RX_COMPLETE: u32 = 1 << 1;

/// Receive descriptor word 0: the buffer's address, USED (the frame is in:
/// the descriptor is Aerie's) and WRAP (the ring's last); word 1: the
/// frame's length (bits 12:0), its first and last buffer.
const RX_USED: u32 = 1 << 0;
const RX_WRAP: u32 = 1 << 1;
const RX_LENGTH: u32 = 0x1fff;
const RX_START_OF_FRAME: u32 = 1 << 14;
const RX_END_OF_FRAME: u32 = 1 << 15;
/// Transmit descriptor word 1: the length (bits 13:0), the frame's last
/// buffer, WRAP, and USED (the descriptor is Aerie's: sent, or never
/// given). The CRC is appended (bit 16, no_crc, clear).
const TX_LAST: u32 = 1 << 15;
const TX_WRAP: u32 = 1 << 30;
const TX_USED: u32 = 1 << 31;

/// Descriptors per ring (each frame in one `ethernet::BUFFER`: 2 KiB, a
/// multiple of 64 for dma_config).
const RING: usize = 64;
/// Bytes of one descriptor: two words.
const BD_BYTES: usize = 8;
/// The longest frame sent, without its CRC: 1514 bytes and a VLAN tag
/// (QEMU's model refuses longer ones without jumbo frames).
const MAX_FRAME: usize = 1518;
/// The priority queues besides queue 0 a GEM may have (designcfg_debug6
/// bits 7:1, as Linux's macb driver reads them).
const MAX_QUEUES: usize = 8;
/// MDIO's addresses.
const PHY_ADDRESSES: u32 = 32;
/// How long an MDIO frame may take (64 bits at 2.5 MHz or slower).
const MDIO_MS: u64 = 10;

/// One ring of descriptors, reached through its uncached mapping; one
/// more descriptor after the ring's is the other queues' dummy.
struct Ring {
    va: u64,
    pa: u64,
}

impl Ring {
    fn word(&self, i: usize, word: usize) -> u32 {
        // SAFETY: descriptor i (of RING + 1) lies in the ring's uncached
        // mapping; its words are 4-byte aligned.
        unsafe {
            core::ptr::read_volatile((self.va + (i * BD_BYTES + 4 * word) as u64) as *const u32)
        }
    }

    fn set_word(&self, i: usize, word: usize, value: u32) {
        // SAFETY: as for `word`; the caller owns the descriptor (or hands
        // it over with this write).
        unsafe {
            core::ptr::write_volatile(
                (self.va + (i * BD_BYTES + 4 * word) as u64) as *mut u32,
                value,
            )
        }
    }

    /// Fill descriptor i's `other` word, then hand the descriptor over by
    /// writing its `owner` word: the card never sees the hand-over with
    /// the other word stale.
    fn give(&self, i: usize, owner: usize, owner_value: u32, other_value: u32) {
        self.set_word(i, 1 - owner, other_value);
        dsb_sy();
        self.set_word(i, owner, owner_value);
    }

    /// The dummy descriptor's physical address.
    fn dummy_pa(&self) -> u32 {
        (self.pa + (RING * BD_BYTES) as u64) as u32
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

/// The GEM Aerie drives, if any (`uplink`).
pub static GEM: Slot<Card> = Slot::new();

/// network_control while the card runs.
const RUNNING: u32 = NCR_MAN_PORT_EN | NCR_RX_EN | NCR_TX_EN;

impl Card {
    /// Give receive descriptor i (and its buffer) back to the card.
    fn post(&self, i: usize) {
        let wrap = if i == RING - 1 { RX_WRAP } else { 0 };
        self.rx.give(i, 0, self.buffers.rx_for_card(i) | wrap, 0);
    }

    /// A clause-22 MDIO read of the PHY at `phy`, or None without an
    /// answer (a missing PHY's data lines read as ones).
    fn mdio_read(&self, phy: u32, reg: u32) -> Option<u16> {
        let idle = || self.regs.read(NETWORK_STATUS) & NSR_MAN_DONE != 0;
        if !poll_for(MDIO_MS, idle) {
            return None;
        }
        // Clause 22's start of frame (01), read (10), PHY and register,
        // turnaround (10).
        let frame = (0b01 << 30)
            | (0b10 << 28)
            | ((phy & 0x1f) << 23)
            | ((reg & 0x1f) << 18)
            | (0b10 << 16);
        self.regs.write(PHY_MANAGEMENT, frame);
        if !poll_for(MDIO_MS, idle) {
            return None;
        }
        let value = (self.regs.read(PHY_MANAGEMENT) & 0xffff) as u16;
        (value != 0xffff).then_some(value)
    }

    /// The PHY: the one the tree names, else the first that answers on the
    /// bus, as U-Boot's macb driver looks for it (QEMU's model answers at
    /// its own address, 23 on the ZynqMP, whatever the tree says).
    fn find_phy(&self, named: Option<u32>) -> Option<(u32, PhyState)> {
        let at = |a: u32| read_phy(|reg| self.mdio_read(a, reg)).map(|s| (a, s));
        named.and_then(at).or_else(|| {
            (0..PHY_ADDRESSES)
                .filter(|&a| Some(a) != named)
                .find_map(at)
        })
    }
}

/// Bring up the GEM at `va` as the uplink: promiscuous, full duplex, the
/// rings given, receive interrupts on.
pub fn bring_up(
    va: u64,
    eth: &HostEthernet,
    space: &mut KernelSpace,
) -> Result<Card, &'static str> {
    // SAFETY: the caller mapped the GEM's registers at `va` as device
    // memory, for good; Aerie alone drives it.
    let regs = unsafe { Registers::new(va) };
    // A GEM (module 2 and up), not the older MACB, as Linux's macb driver
    // tells them apart.
    if (regs.read(MODULE_ID) >> 16) & 0xfff < 2 {
        return Err("its module ID is a 10/100 MACB's, not a GEM's");
    }
    // The address the boot loader (or QEMU, from its NIC's) set.
    let (bottom, top) = (regs.read(SPEC_ADD1_BOTTOM), regs.read(SPEC_ADD1_TOP));
    let mac = [
        bottom as u8,
        (bottom >> 8) as u8,
        (bottom >> 16) as u8,
        (bottom >> 24) as u8,
        top as u8,
        (top >> 8) as u8,
    ];
    if mac == [0; 6] || mac[0] & 1 != 0 {
        return Err("no usable address in spec_add1 (the boot loader sets it)");
    }
    // Receive and transmit off: the ring pointers may be written only so,
    // and the transmitter goes back to its ring's start.
    regs.write(NETWORK_CONTROL, NCR_MAN_PORT_EN);
    regs.write(INT_DISABLE, u32::MAX);
    regs.write(INT_STATUS, regs.read(INT_STATUS));
    regs.write(TRANSMIT_STATUS, u32::MAX);
    regs.write(RECEIVE_STATUS, u32::MAX);
    regs.write(HASH_BOTTOM, 0);
    regs.write(HASH_TOP, 0);

    let ring_bytes = ((RING + 1) * BD_BYTES) as u64;
    let (rx_va, rx_pa) = uncached_dma(space, ring_bytes)?;
    let (tx_va, tx_pa) = uncached_dma(space, ring_bytes)?;
    let card = Card {
        regs,
        rx: Ring {
            va: rx_va,
            pa: rx_pa,
        },
        tx: Ring {
            va: tx_va,
            pa: tx_pa,
        },
        buffers: FrameBuffers::new(RING)?,
        rx_next: 0,
        tx_cursor: TxCursor::new(RING),
        mac,
        bad: 0,
    };
    for i in 0..RING {
        card.post(i);
        let wrap = if i == RING - 1 { TX_WRAP } else { 0 };
        card.tx.give(i, 1, TX_USED | wrap, card.buffers.tx_pa(i));
    }
    // The other queues' dummies: Aerie's for good, each its own ring.
    card.rx.set_word(RING, 1, 0);
    card.rx.set_word(RING, 0, RX_USED | RX_WRAP);
    card.tx.set_word(RING, 0, 0);
    card.tx.set_word(RING, 1, TX_USED | TX_WRAP);
    dsb_sy();
    regs.write(UPPER_RX_Q_BASE_ADDR, 0);
    regs.write(UPPER_TX_Q_BASE_ADDR, 0);
    regs.write(RECEIVE_Q_PTR, card.rx.pa as u32);
    regs.write(TRANSMIT_Q_PTR, card.tx.pa as u32);
    let queues = regs.read(DESIGNCFG_DEBUG6);
    for q in (1..MAX_QUEUES).filter(|q| queues & (1 << q) != 0) {
        let at = 4 * (q - 1);
        regs.write(RECEIVE_Q1_PTR + at, card.rx.dummy_pa());
        regs.write(TRANSMIT_Q1_PTR + at, card.tx.dummy_pa());
        regs.write(INT_Q1_DISABLE + at, u32::MAX);
        regs.write(INT_Q1_STATUS + at, regs.read(INT_Q1_STATUS + at));
    }

    let dma = regs.read(DMA_CONFIG)
        & !(DMA_BURST_MASK
            | DMA_ENDIAN_DESC
            | DMA_ENDIAN_PACKET
            | DMA_TX_CSUM_OFFLOAD
            | DMA_RX_BUF_SIZE_MASK
            | DMA_RX_BD_EXTENDED
            | DMA_TX_BD_EXTENDED
            | DMA_ADDR_64);
    regs.write(
        DMA_CONFIG,
        dma | DMA_BURST_INCR16
            | DMA_RX_PBUF_FULL
            | DMA_TX_PBUF_FULL
            | ((BUFFER / 64) as u32) << DMA_RX_BUF_SIZE_SHIFT,
    );
    // The data bus the design has (designcfg_debug1 bits 27:25: 1, 2 or 4
    // for 32, 64 or 128 bits), as network_config's encoding (0, 1, 2).
    let dbw = match (regs.read(DESIGNCFG_DEBUG1) >> 25) & 7 {
        4 => 2,
        2 => 1,
        _ => 0,
    };
    // The PHY interface the boot loader picked (SGMII through the PCS, or
    // not) stays; MDC slow enough for any pclk before MDIO is used.
    let config = (regs.read(NETWORK_CONFIG) & (NCFG_PCS_SELECT | NCFG_SGMII))
        | NCFG_MDC_224
        | dbw << NCFG_DBW_SHIFT
        | NCFG_FCS_REMOVE
        | NCFG_RX_1536
        | NCFG_COPY_ALL
        | NCFG_FULL_DUPLEX;
    regs.write(NETWORK_CONFIG, config);

    let phy = card.find_phy(eth.phy_address);
    let speed = match &phy {
        Some((_, s)) => s.speed,
        // RGMII is for gigabit PHYs; a fixed link (QEMU's Versal tree)
        // says 1000 Mb/s too.
        None if eth.phy_mode == PhyMode::Rgmii => 1000,
        None => 100,
    };
    let speed_bits = match speed {
        1000 => NCFG_GIGABIT,
        100 => NCFG_SPEED_100,
        _ => 0,
    };
    regs.write(NETWORK_CONFIG, config | speed_bits);
    dsb_sy();
    // Receive on makes the card (and QEMU's model) read the rings' first
    // descriptors.
    regs.write(NETWORK_CONTROL, RUNNING);
    regs.write(INT_ENABLE, INT_RX_COMPLETE);
    match (phy, eth.phy_address) {
        (Some((a, s)), named) => {
            let link = if s.link { "up" } else { "down" };
            match named {
                Some(n) if n != a => log::info!(
                    "uplink: PHY at MDIO address {a} (the tree's, {n}, did not answer): link {link}, {} Mb/s",
                    s.speed
                ),
                _ => log::info!("uplink: PHY at MDIO address {a}: link {link}, {} Mb/s", s.speed),
            }
        }
        (None, _) => {
            log::info!("uplink: no PHY answered on MDIO; the MAC is set for {speed} Mb/s")
        }
    }
    Ok(card)
}

impl Mac for Card {
    fn address(&self) -> [u8; 6] {
        self.mac
    }

    fn acknowledge(&mut self) {
        // int_status clears on read in some GEMs (QEMU's model) and by
        // writing 1s in others: both done.
        let events = self.regs.read(INT_STATUS);
        if events != 0 {
            self.regs.write(INT_STATUS, events);
        }
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), &'static str> {
        if frame.len() > MAX_FRAME {
            return Err("frame longer than the card takes");
        }
        // The card sets USED in the descriptors it has sent.
        let tx = &self.tx;
        self.tx_cursor.reclaim(|i| tx.word(i, 1) & TX_USED != 0);
        let i = self
            .tx_cursor
            .claim()
            .ok_or("transmit ring full: frame dropped")?;
        let (pa, len) = self.buffers.fill_tx(i, frame);
        let wrap = if i == RING - 1 { TX_WRAP } else { 0 };
        self.tx.give(i, 1, len as u32 | TX_LAST | wrap, pa);
        dsb_sy();
        // The transmitter stops at a USED descriptor: start it again
        // (nothing happens if it is still going).
        self.regs.write(NETWORK_CONTROL, RUNNING | NCR_TX_START);
        Ok(())
    }

    fn receive(&mut self, f: &mut dyn FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < RING {
            let i = self.rx_next;
            if self.rx.word(i, 0) & RX_USED == 0 {
                break;
            }
            let status = self.rx.word(i, 1);
            let len = (status & RX_LENGTH) as usize;
            let whole = RX_START_OF_FRAME | RX_END_OF_FRAME;
            if status & whole != whole || !(1..=BUFFER).contains(&len) {
                self.bad += 1;
            } else {
                // Its FCS removed by the card.
                f(self.buffers.rx_frame(i, len));
            }
            self.post(i);
            self.rx_next = (i + 1) % RING;
            n += 1;
        }
        if n > 0 {
            // The GEM looks at the next descriptor again for each frame;
            // QEMU's model only when network_control is written with
            // receive on (it keeps the one it last read, which was USED if
            // the ring was full). The same value again changes nothing on
            // the GEM itself.
            dsb_sy();
            self.regs.write(NETWORK_CONTROL, RUNNING);
        }
        n
    }

    fn receive_errors(&self) -> u64 {
        self.bad
    }
}
