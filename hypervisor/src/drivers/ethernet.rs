//! What the drivers of the machine's own Ethernet controllers share (the
//! i.MX ENET, `imx_fec`, and Cadence's GEM, `cadence_gem`): DMA memory
//! the controller can address, descriptor rings mapped uncached, a frame
//! buffer per descriptor and the transmit ring's positions, the PHY's
//! standard registers read over the controller's MDIO bus, and the card's
//! place ([`Slot`]: probe, interrupt, send and receive under its lock),
//! which asks each driver for a [`Mac`]. Each driver keeps only its
//! controller's registers and descriptor bits.

use crate::arch::aarch64::sysreg::clean_invalidate_dcache_range;
use crate::mm::frames;
use crate::mm::kernel_map::KernelSpace;
use crate::mm::layout::phys_to_virt;
use aerie_dt::HostEthernet;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;

/// Allocate `bytes` of DMA memory the card can address (below 4 GiB: both
/// controllers are used with 32-bit buffer addresses).
fn dma_alloc(bytes: u64) -> Result<u64, &'static str> {
    let pa = frames::alloc(bytes).ok_or("no memory for its buffers")?;
    if pa + bytes > 1 << 32 {
        frames::free(pa, bytes);
        return Err("its buffers would lie above 4 GiB, beyond the card's 32-bit addresses");
    }
    Ok(pa)
}

/// `bytes` of DMA memory for descriptors: cleaned out of the caches through
/// the direct map (no dirty line may later be written back over the card's
/// writes), then mapped a second time, uncached. Returns the uncached
/// mapping's address and the physical one; the caller writes every
/// descriptor through the first.
pub fn uncached_dma(space: &mut KernelSpace, bytes: u64) -> Result<(u64, u64), &'static str> {
    let pa = dma_alloc(bytes)?;
    clean_invalidate_dcache_range(phys_to_virt(pa), bytes);
    let va = space
        .map_uncached(pa, bytes)
        .map_err(|_| "cannot map its descriptor rings uncached")?;
    Ok((va, pa))
}

/// Each frame's buffer: 2 KiB (a 1522-byte frame rounded up to whole
/// cache lines, and a multiple of what either controller counts its
/// receive buffer size in).
pub const BUFFER: usize = 2048;
/// Ethernet's shortest frame without its CRC: shorter ones are padded.
pub const MIN_FRAME: usize = 60;

/// One buffer per descriptor of a receive and a transmit ring of `ring`
/// each: receive i at i * BUFFER, transmit i at (ring + i) * BUFFER, in
/// RAM the card can address, reached through the direct map (cached). A
/// buffer is wholly the card's or wholly Aerie's, and the caches are
/// cleaned or invalidated at each hand-over; the driver keeps which is
/// whose by its descriptors.
pub struct FrameBuffers {
    va: u64,
    pa: u64,
    ring: usize,
}

impl FrameBuffers {
    pub fn new(ring: usize) -> Result<Self, &'static str> {
        let pa = dma_alloc((2 * ring * BUFFER) as u64)?;
        Ok(FrameBuffers {
            va: phys_to_virt(pa),
            pa,
            ring,
        })
    }

    fn at(&self, index: usize) -> (u64, u32) {
        let off = (index * BUFFER) as u64;
        (self.va + off, (self.pa + off) as u32)
    }

    /// Receive buffer i, about to be the card's: whatever the caches hold
    /// of it goes, so no line is written back over what the card writes
    /// and the next read misses. Its physical address.
    pub fn rx_for_card(&self, i: usize) -> u32 {
        let (va, pa) = self.at(i);
        clean_invalidate_dcache_range(va, BUFFER as u64);
        pa
    }

    /// The first `len` bytes (at most [`BUFFER`]) the card received into
    /// receive buffer i, which it has handed back.
    pub fn rx_frame(&self, i: usize, len: usize) -> &[u8] {
        let (va, _) = self.at(i);
        clean_invalidate_dcache_range(va, len as u64);
        // SAFETY: receive buffer i is BUFFER bytes of RAM in the direct
        // map, allocated for these buffers for good; the card wrote it
        // before handing the descriptor back and leaves it alone until
        // `rx_for_card`.
        let buffer = unsafe { core::slice::from_raw_parts(va as *const u8, BUFFER) };
        &buffer[..len]
    }

    /// Transmit buffer i's physical address.
    pub fn tx_pa(&self, i: usize) -> u32 {
        self.at(self.ring + i).1
    }

    /// Fill transmit buffer i, which the card is done with, with `frame`
    /// (at most [`BUFFER`] bytes), padded with zeros to [`MIN_FRAME`], and
    /// clean it to memory for the card: its physical address and the
    /// length to send.
    pub fn fill_tx(&mut self, i: usize, frame: &[u8]) -> (u32, usize) {
        let (va, pa) = self.at(self.ring + i);
        let len = frame.len().max(MIN_FRAME);
        // SAFETY: transmit buffer i is BUFFER bytes of RAM in the direct
        // map, allocated for these buffers for good, and Aerie's while its
        // descriptor is (the caller's promise: the card sent it and the
        // driver took it back, or it was never given); `&mut self` keeps
        // any other view of it out.
        let buffer = unsafe { core::slice::from_raw_parts_mut(va as *mut u8, BUFFER) };
        buffer[..frame.len()].copy_from_slice(frame);
        buffer[frame.len()..len].fill(0);
        clean_invalidate_dcache_range(va, len as u64);
        (pa, len)
    }
}

/// A transmit ring's positions: the next descriptor to fill, and the
/// oldest the card may still be sending. One descriptor always stays
/// free, so that a full ring and an empty one differ.
pub struct TxCursor {
    next: usize,
    clean: usize,
    ring: usize,
}

impl TxCursor {
    pub const fn new(ring: usize) -> Self {
        TxCursor {
            next: 0,
            clean: 0,
            ring,
        }
    }

    /// Take back, oldest first, the descriptors `sent` says the card has
    /// sent.
    pub fn reclaim(&mut self, sent: impl Fn(usize) -> bool) {
        while self.clean != self.next && sent(self.clean) {
            self.clean = (self.clean + 1) % self.ring;
        }
    }

    /// The next descriptor to fill, now counted as given; None with the
    /// ring full.
    pub fn claim(&mut self) -> Option<usize> {
        let i = self.next;
        let after = (i + 1) % self.ring;
        (after != self.clean).then(|| {
            self.next = after;
            i
        })
    }
}

/// What the PHY says: its link, and the speed it settled on (Mb/s).
pub struct PhyState {
    pub link: bool,
    pub speed: u32,
}

/// Read a PHY's standard (clause 22) registers through `mdio_read`
/// (register -> value, None without an answer): BMSR's link bit; the best
/// speed both ends advertise (1000BASE-T control and status, then the
/// 10/100 abilities). None if the PHY does not answer.
pub fn read_phy(mdio_read: impl Fn(u32) -> Option<u16>) -> Option<PhyState> {
    let bmsr = mdio_read(1)?;
    let gbcr = mdio_read(9).unwrap_or(0);
    let gbsr = mdio_read(10).unwrap_or(0);
    let anar = mdio_read(4).unwrap_or(0);
    let anlpar = mdio_read(5).unwrap_or(0);
    let common = anar & anlpar;
    let speed = if gbcr & (1 << 9) != 0 && gbsr & (1 << 11) != 0 {
        1000
    } else if common & (0b11 << 7) != 0 {
        100
    } else {
        10
    };
    Some(PhyState {
        link: bmsr & (1 << 2) != 0,
        speed,
    })
}

/// A controller of the machine's own that Aerie drives as the uplink (the
/// i.MX ENET, the Cadence GEM): what its [`Slot`] asks of it.
pub trait Mac: Send {
    /// Its station address.
    fn address(&self) -> [u8; 6];
    /// Clear its events, so the level of its interrupt drops before the
    /// GIC's end of interrupt.
    fn acknowledge(&mut self);
    /// Send one Ethernet frame (without its CRC), without waiting: a frame
    /// the ring has no room for is refused (`uplink` counts it dropped).
    fn send(&mut self, frame: &[u8]) -> Result<(), &'static str>;
    /// Hand every frame it has received to `f` (without its CRC), at most
    /// a ring's worth, each descriptor given back after. Returns how many.
    fn receive(&mut self, f: &mut dyn FnMut(&[u8])) -> usize;
    /// Frames received with errors (and dropped) so far.
    fn receive_errors(&self) -> u64;
}

/// The one controller of a kind Aerie drives: none until [`Slot::probe`]
/// has brought one up.
pub struct Slot<C> {
    card: Mutex<Option<C>>,
    intid: AtomicU32,
}

impl<C: Mac> Slot<C> {
    pub const fn new() -> Slot<C> {
        Slot {
            card: Mutex::new(None),
            intid: AtomicU32::new(0),
        }
    }

    /// Map the controller `eth` names, bring it up with `bring_up` (its
    /// registers' address in) and keep it, saying what came of it. Returns
    /// its INTID: the caller routes it to a pCPU. None if it cannot be used
    /// (said why).
    pub fn probe(
        &self,
        eth: &HostEthernet,
        space: &mut KernelSpace,
        bring_up: impl FnOnce(u64, &HostEthernet, &mut KernelSpace) -> Result<C, &'static str>,
    ) -> Option<u32> {
        let base = eth.region.base;
        let va = match space.map_device(base, eth.region.size) {
            Ok(va) => va,
            Err(e) => {
                log::warn!("host Ethernet at {base:#x}: cannot map it: {e:?}");
                return None;
            }
        };
        let card = match bring_up(va, eth, space) {
            Ok(card) => card,
            Err(why) => {
                log::warn!("host Ethernet at {base:#x}: not used: {why}");
                return None;
            }
        };
        log::info!(
            "uplink: {} at {base:#x} (INTID {}), address {}",
            eth.kind.name(),
            eth.intid,
            aerie_bootmodule::mac_text(&card.address())
        );
        *self.card.lock() = Some(card);
        self.intid.store(eth.intid, Ordering::Relaxed);
        Some(eth.intid)
    }

    /// Its INTID, 0 without a card.
    pub fn intid(&self) -> u32 {
        self.intid.load(Ordering::Relaxed)
    }

    /// It raised its interrupt: [`Mac::acknowledge`].
    pub fn acknowledge(&self) {
        if let Some(card) = self.card.lock().as_mut() {
            card.acknowledge();
        }
    }

    /// [`Mac::send`].
    pub fn send(&self, frame: &[u8]) -> Result<(), &'static str> {
        self.card.lock().as_mut().ok_or("no uplink")?.send(frame)
    }

    /// [`Mac::receive`]; 0 without a card.
    pub fn receive(&self, mut f: impl FnMut(&[u8])) -> usize {
        self.card
            .lock()
            .as_mut()
            .map_or(0, |card| card.receive(&mut f))
    }

    /// [`Mac::receive_errors`].
    pub fn receive_errors(&self) -> u64 {
        self.card.lock().as_ref().map_or(0, C::receive_errors)
    }
}
