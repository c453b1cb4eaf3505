//! What an access (or device-side event) asks of the hypervisor.

use crate::queue::QueueError;
use core::fmt;

/// A guest error that made the device set DEVICE_NEEDS_RESET. Reported once
/// per occurrence so the hypervisor can log it (rate-limited) and carry on:
/// the damage is confined to this device of this VM.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VirtioFault {
    /// Queue index the error was found on.
    pub queue: u16,
    /// What was wrong.
    pub error: QueueError,
}

impl fmt::Display for VirtioFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "virtqueue {}: {}", self.queue, self.error)
    }
}

/// Result of an MMIO write or a device-side event.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[must_use]
pub struct Notify {
    /// The device set an InterruptStatus bit: pulse its SPI (edge-rising).
    pub raise_irq: bool,
    /// The device just entered DEVICE_NEEDS_RESET because of this error.
    pub fault: Option<VirtioFault>,
}

impl Notify {
    /// Nothing to do.
    pub const NONE: Notify = Notify {
        raise_irq: false,
        fault: None,
    };

    pub(crate) fn merge(self, other: Notify) -> Notify {
        Notify {
            raise_irq: self.raise_irq || other.raise_irq,
            fault: self.fault.or(other.fault),
        }
    }
}
