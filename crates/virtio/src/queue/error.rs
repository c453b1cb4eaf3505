//! Errors in what the driver put into a virtqueue. Each is a driver bug (or
//! a hostile guest); the transport answers all of them by setting
//! DEVICE_NEEDS_RESET, which is the spec's way to say "this queue is
//! unusable until you reset the device" (virtio 1.2 section 2.1.2).

use crate::mem::MemError;
use core::fmt;

/// A malformed virtqueue or request the device could not even answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QueueError {
    /// A ring, descriptor or buffer address is not guest RAM.
    Memory(MemError),
    /// The driver published more new available entries than the queue holds.
    AvailOverrun {
        /// Driver's avail.idx.
        avail_idx: u16,
        /// Device's next available index to consume.
        last_avail_idx: u16,
        /// Queue size.
        size: u16,
    },
    /// A head or `next` field names a descriptor past the table's end.
    DescriptorIndex {
        /// The offending index.
        index: u16,
        /// Queue size (number of descriptors in the table).
        size: u16,
    },
    /// A chain is longer than the queue: it must contain a loop.
    ChainTooLong {
        /// Head descriptor of the chain.
        head: u16,
    },
    /// A device-readable descriptor follows a device-writable one (spec
    /// 2.7.4.2 requires all readable ones first).
    ReadableAfterWritable {
        /// Head descriptor of the chain.
        head: u16,
    },
    /// A descriptor has VIRTQ_DESC_F_INDIRECT, which was never offered.
    IndirectNotNegotiated {
        /// Head descriptor of the chain.
        head: u16,
    },
    /// Buffer lengths of a chain overflow 32 bits, or a buffer wraps the
    /// 64-bit address space.
    BadLength {
        /// Head descriptor of the chain.
        head: u16,
    },
    /// The request has no device-writable byte to put its status in.
    NoStatusByte {
        /// Head descriptor of the chain.
        head: u16,
    },
    /// QueueReady was written with a size or ring addresses the split
    /// virtqueue format does not allow (spec 2.7: size a power of two no
    /// larger than QueueNumMax; rings aligned 16/2/4).
    BadQueueConfig {
        /// QueueNum the driver wrote.
        size: u16,
    },
    /// The available chains hold more descriptors than the table has: the
    /// driver made a descriptor available twice.
    DescriptorsReused {
        /// Queue size (number of descriptors in the table).
        size: u16,
    },
}

impl From<MemError> for QueueError {
    fn from(e: MemError) -> Self {
        QueueError::Memory(e)
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QueueError::Memory(e) => write!(f, "{e}"),
            QueueError::AvailOverrun {
                avail_idx,
                last_avail_idx,
                size,
            } => write!(
                f,
                "avail.idx {avail_idx} is more than {size} entries ahead of {last_avail_idx}"
            ),
            QueueError::DescriptorIndex { index, size } => {
                write!(f, "descriptor index {index} outside a {size}-entry table")
            }
            QueueError::ChainTooLong { head } => {
                write!(f, "chain at head {head} is longer than the queue (loop)")
            }
            QueueError::ReadableAfterWritable { head } => {
                write!(
                    f,
                    "chain at head {head}: readable descriptor after writable"
                )
            }
            QueueError::IndirectNotNegotiated { head } => {
                write!(f, "chain at head {head}: INDIRECT flag not negotiated")
            }
            QueueError::BadLength { head } => {
                write!(f, "chain at head {head}: buffer lengths overflow")
            }
            QueueError::NoStatusByte { head } => {
                write!(f, "chain at head {head}: no writable status byte")
            }
            QueueError::BadQueueConfig { size } => {
                write!(
                    f,
                    "queue enabled with invalid size {size} or misaligned rings"
                )
            }
            QueueError::DescriptorsReused { size } => {
                write!(
                    f,
                    "available chains hold more than the {size} descriptors of the table"
                )
            }
        }
    }
}
