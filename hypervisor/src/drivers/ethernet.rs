//! What the drivers of the machine's own Ethernet controllers share (the
//! i.MX ENET, `imx_fec`, and Cadence's GEM, `cadence_gem`): DMA memory
//! the controller can address, descriptor rings mapped uncached, and the
//! PHY's standard registers read over the controller's MDIO bus.

use crate::arch::aarch64::sysreg::clean_invalidate_dcache_range;
use crate::mm::frames;
use crate::mm::kernel_map::KernelSpace;
use crate::mm::layout::phys_to_virt;
use aerie_dt::HostEthernet;

/// Allocate `bytes` of DMA memory the card can address (below 4 GiB: both
/// controllers are used with 32-bit buffer addresses).
pub fn dma_alloc(bytes: u64) -> Result<u64, &'static str> {
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

/// Map the controller `eth` names and bring it up with `bring_up` (its
/// registers' address in), saying what came of it: the card and its
/// address (`mac`), or why it is not used. None if it cannot be used.
pub fn map_and_bring_up<C>(
    eth: &HostEthernet,
    space: &mut KernelSpace,
    bring_up: impl FnOnce(u64, &HostEthernet, &mut KernelSpace) -> Result<C, &'static str>,
    mac: impl FnOnce(&C) -> [u8; 6],
) -> Option<C> {
    let base = eth.region.base;
    let va = match space.map_device(base, eth.region.size) {
        Ok(va) => va,
        Err(e) => {
            log::warn!("host Ethernet at {base:#x}: cannot map it: {e:?}");
            return None;
        }
    };
    match bring_up(va, eth, space) {
        Ok(card) => {
            log::info!(
                "uplink: {} at {base:#x} (INTID {}), address {}",
                eth.kind.name(),
                eth.intid,
                aerie_bootmodule::mac_text(&mac(&card))
            );
            Some(card)
        }
        Err(why) => {
            log::warn!("host Ethernet at {base:#x}: not used: {why}");
            None
        }
    }
}
