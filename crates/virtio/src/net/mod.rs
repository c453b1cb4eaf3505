//! virtio network device (device ID 1, virtio 1.2 section 5.1), one queue
//! pair: receiveq1 (queue 0) carries frames from the hypervisor to the
//! guest, transmitq1 (queue 1) carries the guest's frames to an outbox the
//! hypervisor empties with [`NetDevice::take_outbound`].
//!
//! Offered: VIRTIO_NET_F_MAC and VIRTIO_NET_F_MTU (the card's address, and
//! a largest MTU of 1500 that the driver keeps to), the checksum and
//! TCP/IPv4 segmentation offloads both ways (CSUM, HOST_TSO4, GUEST_CSUM,
//! GUEST_TSO4; see [`offload`]): a guest may send a TCP packet of up to
//! 64 KiB with its checksum left undone, and a guest that takes them gets
//! such packets as they were sent; any other receiver gets them finished in
//! software. And MRG_RXBUF: a received packet may span several receive
//! buffers, so a driver posts many small ones (Linux: page fragments sized
//! to the traffic) instead of one chain big enough for the largest packet
//! (without it, Linux posts 64 KiB chains of 19 descriptors once it takes
//! GUEST_TSO4, 13 to a 256-entry ring). No STATUS (the link is always up),
//! no CTRL_VQ and no MQ (nothing to steer).
//!
//! Frames for the guest that arrive while the driver has no receive buffer
//! posted wait in a bounded [`Backlog`] and are delivered when the driver
//! adds buffers (its QueueNotify on queue 0). Both directions are bounded
//! and drop on overflow, counted in [`NetStats`]: a network may lose frames,
//! and a guest that stops reading (or a hypervisor that stops taking its
//! frames) must not make the hypervisor's heap grow.

mod backlog;
pub mod offload;
#[cfg(test)]
mod tests;

pub use backlog::{Backlog, BACKLOG_BYTES, BACKLOG_FRAMES};
pub use offload::{
    finish, Offload, Packet, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE,
    VIRTIO_NET_HDR_GSO_TCPV4,
};

use crate::device::{copy_config, VirtioDevice};
use crate::mem::GuestMemory;
use crate::mmio::{MmioTransport, Notify};
use crate::queue::{DescriptorChain, QueueError, Virtqueue};
use alloc::vec;
use alloc::vec::Vec;

/// Device ID of a network card.
pub const VIRTIO_ID_NET: u32 = 1;
/// Index of receiveq1 (device to driver).
pub const RECEIVEQ: usize = 0;
/// Index of transmitq1 (driver to device).
pub const TRANSMITQ: usize = 1;
/// QueueNumMax of both queues.
pub const QUEUE_SIZE_MAX: u16 = 256;

/// Feature bit 5: the device has a MAC address, in `mac`. Without it Linux
/// makes up a random one on every boot.
pub const VIRTIO_NET_F_MAC: u64 = 1 << 5;

/// Feature bit 3: the configuration's `mtu` is the largest the driver may
/// use.
pub const VIRTIO_NET_F_MTU: u64 = 1 << 3;

/// Feature bit 15: a received packet may span several receive buffers
/// (chains), the first header's `num_buffers` saying how many.
pub const VIRTIO_NET_F_MRG_RXBUF: u64 = 1 << 15;

/// An Ethernet (MAC-48) address.
pub type Mac = [u8; 6];

/// Length of `struct virtio_net_hdr_v1` (flags u8, gso_type u8, hdr_len
/// u16, gso_size u16, csum_start u16, csum_offset u16, num_buffers u16),
/// which starts every buffer on both queues once VERSION_1 is negotiated.
pub const HEADER_LEN: usize = 12;
/// Offset of `num_buffers` in the header.
const NUM_BUFFERS_OFFSET: usize = 10;

/// MTU in the configuration space: standard Ethernet.
pub const MTU: u16 = 1500;
/// Shortest frame accepted: a bare Ethernet header (destination, source,
/// EtherType), without FCS.
pub const FRAME_MIN: usize = 14;
/// Longest frame accepted: an MTU of payload behind an Ethernet header with
/// one 802.1Q tag, without FCS. Linux's receive buffers without MRG_RXBUF
/// hold exactly this much (its GOOD_PACKET_LEN).
pub const FRAME_MAX: usize = FRAME_MIN + 4 + MTU as usize;

/// Frames the outbox holds at most, for a hypervisor that falls behind.
pub const OUTBOX_FRAMES: usize = 256;
/// Frame bytes the outbox holds at most.
pub const OUTBOX_BYTES: usize = 2 << 20;

/// The offloads offered, both directions.
const OFFLOADS: u64 =
    VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4;

/// `struct virtio_net_config`: mac[6] at 0, status u16 at 6,
/// max_virtqueue_pairs u16 at 8, mtu u16 at 10. `mac` and `mtu` are valid
/// with the features offered; the others hold what they would say anyway.
const CONFIG_SIZE: usize = 12;
const MAX_PAIRS_OFFSET: usize = 8;
const MTU_OFFSET: usize = 10;

/// Per-VM traffic counters, for the operator's console. Bytes are frame
/// bytes, headers not included.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct NetStats {
    /// Frames the guest sent that went to the outbox.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Of those, TCP packets of more than one segment handed over for
    /// segmentation (TSO), and their bytes.
    pub tx_tso_packets: u64,
    pub tx_tso_bytes: u64,
    /// Frames the guest sent that were malformed or found the outbox full.
    pub tx_dropped: u64,
    /// Frames delivered to the guest.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Of the frames delivered, packets spread over several receive
    /// buffers (MRG_RXBUF).
    pub rx_merged: u64,
    /// Frames for the guest that were malformed, found the backlog full or
    /// the driver not ready, or did not fit the receive buffer.
    pub rx_dropped: u64,
}

/// A virtio-net device with one queue pair.
#[derive(Debug)]
pub struct NetDevice {
    mac: Mac,
    backlog: Backlog,
    outbox: Vec<Packet>,
    outbox_bytes: usize,
    /// What the driver accepted (0 until FEATURES_OK).
    features: u64,
    /// With MRG_RXBUF: `avail.idx` of the receive queue when the posted
    /// buffers last proved too few for the next packet (nothing to look at
    /// again until the driver posts more).
    rx_waiting_at: Option<u16>,
    stats: NetStats,
}

impl NetDevice {
    /// A network card with address `mac`.
    pub fn new(mac: Mac) -> Self {
        NetDevice {
            mac,
            backlog: Backlog::new(),
            outbox: Vec::new(),
            outbox_bytes: 0,
            features: 0,
            rx_waiting_at: None,
            stats: NetStats::default(),
        }
    }

    /// The card's MAC address.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// Traffic counters since the device was created (a driver reset keeps
    /// them: they describe the VM, not one driver instance).
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The packets the guest sent since the last call, oldest first.
    pub fn take_outbound(&mut self) -> Vec<Packet> {
        self.outbox_bytes = 0;
        core::mem::take(&mut self.outbox)
    }

    /// Queues a packet for the guest without delivering it: as it is when
    /// the driver takes its offload, else [`finish`]ed into whole frames.
    /// What does not fit the backlog, or is not a frame this card passes
    /// on, is dropped and counted; false if anything was. Prefer
    /// [`MmioTransport::deliver`], which also delivers.
    pub fn queue_inbound(&mut self, packet: &Packet) -> bool {
        let needs = packet.offload.needs();
        let mut queued = true;
        if needs & !self.features == 0 {
            let len_ok = needs != 0 || frame_len_ok(packet.frame.len());
            queued = len_ok && self.backlog.push(packet.clone());
        } else {
            finish(packet, |frame| {
                queued &=
                    frame_len_ok(frame.len()) && self.backlog.push(Packet::whole(frame.to_vec()));
            });
        }
        if !queued {
            self.stats.rx_dropped += 1;
        }
        queued
    }

    /// Frames waiting for receive buffers.
    pub fn pending_inbound(&self) -> usize {
        self.backlog.len()
    }

    /// Moves waiting frames into posted receive buffers, one frame per
    /// chain. Buffers are only taken while frames wait, so the driver's
    /// posted buffers stay available for later frames. Each iteration
    /// consumes a frame, so the loop ends within [`BACKLOG_FRAMES`] chains.
    fn fill_receive(
        &mut self,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        if self.features & VIRTIO_NET_F_MRG_RXBUF != 0 {
            return self.fill_receive_merged(vq, mem);
        }
        let mut used = false;
        while let Some(packet) = self.backlog.front() {
            let Some(chain) = vq.pop(mem)? else {
                break;
            };
            let frame = &packet.frame;
            let len = if chain.writable_len() as usize >= HEADER_LEN + frame.len() {
                chain.write_at(mem, 0, &packet.offload.rx_header(1))?;
                chain.write_at(mem, HEADER_LEN as u32, frame)?;
                self.stats.rx_frames += 1;
                self.stats.rx_bytes += frame.len() as u64;
                HEADER_LEN + frame.len()
            } else {
                // The frame is lost, not the buffer: returning it unused
                // makes Linux count a length error and post it again.
                self.stats.rx_dropped += 1;
                0
            };
            self.backlog.pop();
            // len <= HEADER_LEN + GSO_FRAME_MAX, far below u32::MAX.
            vq.push_used(mem, chain.head(), len as u32)?;
            used = true;
        }
        Ok(used)
    }

    /// [`fill_receive`](Self::fill_receive) with mergeable receive buffers:
    /// a packet takes as many chains, in ring order, as its header and
    /// frame need, and the header's `num_buffers` says how many. Chains are
    /// only kept once they hold the whole packet; fewer are given back
    /// ([`Virtqueue::unpop`]) to wait for the driver's next buffers, and
    /// are not looked at again until `avail.idx` moves. A packet that even
    /// a table's worth of descriptors cannot hold (the most a driver can
    /// have posted) is dropped, and so is every packet after it that needs
    /// more than those buffers hold, without walking them again; the
    /// buffers stay the driver's. Chains holding more descriptors than the
    /// table has mean a descriptor was made available twice: an error. So
    /// one call reads at most a table's worth of descriptors per packet
    /// delivered, one for all the packets it drops, and one for the packet
    /// it leaves waiting (a guest that shrinks its buffers under a walk
    /// makes the packet wait, not another walk).
    fn fill_receive_merged(
        &mut self,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        if self.backlog.front().is_none() {
            return Ok(false);
        }
        let avail_idx = vq.avail_idx(mem)?;
        if self.rx_waiting_at == Some(avail_idx) {
            return Ok(false);
        }
        self.rx_waiting_at = None;
        let mut used = false;
        // What all the posted buffers hold, once a packet was too big for
        // them.
        let mut ring_room = None;
        while let Some(packet) = self.backlog.front() {
            let needed = HEADER_LEN + packet.frame.len();
            if ring_room.is_some_and(|room| needed > room) {
                self.stats.rx_dropped += 1;
                self.backlog.pop();
                continue;
            }
            let mut chains = Vec::new();
            let (mut room, mut descriptors) = (0usize, 0u32);
            while room < needed && descriptors < u32::from(vq.size) {
                let Some(chain) = vq.pop(mem)? else {
                    break;
                };
                room += chain.writable_len() as usize;
                descriptors += u32::from(chain.descriptors());
                chains.push(chain);
            }
            if descriptors > u32::from(vq.size) {
                return Err(QueueError::DescriptorsReused { size: vq.size });
            }
            if room < needed {
                // At most the table's descriptors, a u16.
                vq.unpop(chains.len() as u16);
                if descriptors < u32::from(vq.size) || ring_room.is_some() {
                    self.rx_waiting_at = Some(avail_idx);
                    break;
                }
                ring_room = Some(room);
                self.stats.rx_dropped += 1;
                self.backlog.pop();
                continue;
            }
            // At most the table's descriptors: fits num_buffers.
            let header = packet.offload.rx_header(chains.len() as u16);
            let lens = write_spread(&chains, mem, &[&header, &packet.frame])?;
            self.stats.rx_frames += 1;
            self.stats.rx_bytes += packet.frame.len() as u64;
            if chains.len() > 1 {
                self.stats.rx_merged += 1;
            }
            self.backlog.pop();
            vq.push_used_all(mem, &lens)?;
            used = true;
        }
        Ok(used)
    }

    /// Takes every posted transmit chain into the outbox (or drops it).
    fn drain_transmit(
        &mut self,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        let mut used = false;
        // A guest on another vCPU can keep adding chains while this loop
        // runs; stopping after one queue's worth bounds the time spent in a
        // single notify. What is left is seen at the driver's next kick.
        for _ in 0..vq.size {
            let Some(chain) = vq.pop(mem)? else {
                break;
            };
            match self.read_frame(&chain, mem)? {
                Some(packet) => {
                    self.stats.tx_frames += 1;
                    self.stats.tx_bytes += packet.frame.len() as u64;
                    if packet.segments() > 1 {
                        self.stats.tx_tso_packets += 1;
                        self.stats.tx_tso_bytes += packet.frame.len() as u64;
                    }
                    self.outbox_bytes += packet.frame.len();
                    self.outbox.push(packet);
                }
                None => self.stats.tx_dropped += 1,
            }
            // The device wrote nothing into the chain.
            vq.push_used(mem, chain.head(), 0)?;
            used = true;
        }
        Ok(used)
    }

    /// The packet in a transmit chain, or `None` when it must be dropped: no
    /// whole header, a length no packet may have or one the outbox has no
    /// room for (both checked before anything is allocated), or a header
    /// [`Offload::parse`] refuses.
    fn read_frame(
        &self,
        chain: &DescriptorChain,
        mem: &dyn GuestMemory,
    ) -> Result<Option<Packet>, QueueError> {
        let mut header = [0u8; HEADER_LEN];
        if chain.read_at(mem, 0, &mut header)? < HEADER_LEN {
            return Ok(None);
        }
        let len = chain.readable_len() as usize - HEADER_LEN;
        let full = self.outbox.len() >= OUTBOX_FRAMES || self.outbox_bytes + len > OUTBOX_BYTES;
        if !(FRAME_MIN..=offload::GSO_FRAME_MAX).contains(&len) || full {
            return Ok(None);
        }
        let mut frame = vec![0u8; len];
        if chain.read_at(mem, HEADER_LEN as u32, &mut frame)? < len {
            return Ok(None);
        }
        Ok(Offload::parse(&header, self.features, &frame).map(|offload| Packet { frame, offload }))
    }

    fn config_bytes(&self) -> [u8; CONFIG_SIZE] {
        let mut c = [0u8; CONFIG_SIZE];
        c[..self.mac.len()].copy_from_slice(&self.mac);
        // status (at 6) stays 0: without STATUS the driver takes the link
        // as always up and never reads it.
        c[MAX_PAIRS_OFFSET..MAX_PAIRS_OFFSET + 2].copy_from_slice(&1u16.to_le_bytes());
        c[MTU_OFFSET..MTU_OFFSET + 2].copy_from_slice(&MTU.to_le_bytes());
        c
    }
}

/// Writes `parts` one after another as one stream into the writable bytes
/// of `chains`, in order, filling each before the next; returns each
/// chain's head and the bytes it got, for the used ring.
fn write_spread(
    chains: &[DescriptorChain],
    mem: &mut dyn GuestMemory,
    parts: &[&[u8]],
) -> Result<Vec<(u16, u32)>, QueueError> {
    let mut lens = Vec::with_capacity(chains.len());
    let (mut part, mut at) = (0, 0);
    for chain in chains {
        let mut written = 0u32;
        while written < chain.writable_len() && part < parts.len() {
            let rest = &parts[part][at..];
            let n = rest.len().min((chain.writable_len() - written) as usize);
            chain.write_at(mem, written, &rest[..n])?;
            // n <= the chain's writable length, a u32.
            written += n as u32;
            at += n;
            if at == parts[part].len() {
                part += 1;
                at = 0;
            }
        }
        lens.push((chain.head(), written));
    }
    Ok(lens)
}

/// Whether a frame of `len` bytes is one this device passes on.
fn frame_len_ok(len: usize) -> bool {
    (FRAME_MIN..=FRAME_MAX).contains(&len)
}

impl VirtioDevice for NetDevice {
    fn device_id(&self) -> u32 {
        VIRTIO_ID_NET
    }

    fn features(&self) -> u64 {
        VIRTIO_NET_F_MAC | VIRTIO_NET_F_MTU | VIRTIO_NET_F_MRG_RXBUF | OFFLOADS
    }

    fn negotiated(&mut self, features: u64) {
        self.features = features;
    }

    fn num_queues(&self) -> usize {
        2
    }

    fn queue_max_size(&self, _queue: usize) -> u16 {
        QUEUE_SIZE_MAX
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        copy_config(&self.config_bytes(), offset, data);
    }

    fn process_queue(
        &mut self,
        queue: usize,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        match queue {
            RECEIVEQ => self.fill_receive(vq, mem),
            TRANSMITQ => self.drain_transmit(vq, mem),
            _ => Ok(false),
        }
    }

    fn reset(&mut self) {
        // Frames in either direction belong to the previous driver
        // instance and are stale; the counters describe the VM and stay.
        self.backlog.clear();
        self.outbox.clear();
        self.outbox_bytes = 0;
        self.features = 0;
        self.rx_waiting_at = None;
    }
}

impl MmioTransport<NetDevice> {
    /// A packet for the guest: queued, then delivered into whatever receive
    /// buffers the driver has posted. Dropped (and counted) unless the
    /// driver is live, i.e. has set FEATURES_OK and DRIVER_OK and the device
    /// does not need a reset: a driver that is not running would only find
    /// stale frames later, and a device that needs a reset never gets one
    /// delivered. The returned [`Notify`] says whether to pulse the
    /// device's interrupt.
    pub fn deliver(&mut self, packet: &Packet, mem: &mut dyn GuestMemory) -> Notify {
        if !self.driver_live() {
            self.device_mut().stats.rx_dropped += 1;
            return Notify::NONE;
        }
        self.device_mut().queue_inbound(packet);
        self.process_queue(RECEIVEQ, mem)
    }
}
