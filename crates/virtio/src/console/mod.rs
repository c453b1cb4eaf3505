//! virtio console device (device ID 3, virtio 1.2 section 5.3), single
//! port: receiveq0 (queue 0) carries host input to the guest, transmitq0
//! (queue 1) carries guest output to a [`ByteSink`].
//!
//! No feature bits are offered (no F_SIZE, no F_MULTIPORT, no
//! F_EMERG_WRITE), so the configuration space is all zeros.
//!
//! Input that arrives while the driver has no receive buffer posted waits in
//! a bounded [`InputRing`] and is delivered when the driver adds buffers
//! (its QueueNotify on queue 0) or sets DRIVER_OK.

mod input;
#[cfg(test)]
mod tests;

pub use input::{InputRing, INPUT_CAPACITY};

use crate::device::{copy_config, VirtioDevice};
use crate::mem::GuestMemory;
use crate::mmio::{MmioTransport, Notify};
use crate::queue::{QueueError, Virtqueue};
use crate::ByteSink;

/// Device ID of a console.
pub const VIRTIO_ID_CONSOLE: u32 = 3;
/// Index of receiveq0 (device to driver).
pub const RECEIVEQ: usize = 0;
/// Index of transmitq0 (driver to device).
pub const TRANSMITQ: usize = 1;
/// QueueNumMax of both queues.
pub const QUEUE_SIZE_MAX: u16 = 64;
/// `struct virtio_console_config`: cols u16, rows u16, max_nr_ports u32,
/// emerg_wr u32; none valid without the matching features.
const CONFIG_SIZE: usize = 12;

/// A single-port virtio console.
#[derive(Debug)]
pub struct ConsoleDevice<S: ByteSink> {
    sink: S,
    input: InputRing,
}

impl<S: ByteSink> ConsoleDevice<S> {
    /// A console whose output goes to `sink`.
    pub fn new(sink: S) -> Self {
        ConsoleDevice {
            sink,
            input: InputRing::new(),
        }
    }

    /// The output sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The output sink, mutably.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Buffers host input without delivering it; returns how many bytes
    /// fitted. Prefer [`MmioTransport::push_input`], which also delivers.
    pub fn queue_input(&mut self, bytes: &[u8]) -> usize {
        self.input.push(bytes)
    }

    /// Input bytes not yet delivered to the guest.
    pub fn pending_input(&self) -> usize {
        self.input.len()
    }

    /// Moves pending input into posted receive buffers, one used entry per
    /// buffer. Buffers are only taken while input waits, so the driver's
    /// posted buffers stay available for later input.
    fn fill_receive(
        &mut self,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        let mut used = false;
        while !self.input.is_empty() {
            let Some(chain) = vq.pop(mem)? else {
                break;
            };
            let mut written = 0u32;
            while written < chain.writable_len() && !self.input.is_empty() {
                let room = (chain.writable_len() - written) as usize;
                let front = self.input.front();
                let piece = &front[..front.len().min(room)];
                let n = chain.write_at(mem, written, piece)?;
                self.input.consume(n);
                written += n as u32;
            }
            vq.push_used(mem, chain.head(), written)?;
            used = true;
        }
        Ok(used)
    }

    /// Sends every posted transmit buffer to the sink.
    fn drain_transmit(
        &mut self,
        vq: &mut Virtqueue,
        mem: &mut dyn GuestMemory,
    ) -> Result<bool, QueueError> {
        let mut used = false;
        while let Some(chain) = vq.pop(mem)? {
            let mut buf = [0u8; 64];
            let mut at = 0u32;
            while at < chain.readable_len() {
                let n = chain.read_at(mem, at, &mut buf)?;
                if n == 0 {
                    break;
                }
                buf[..n].iter().for_each(|&b| self.sink.write_byte(b));
                at += n as u32;
            }
            // The device wrote nothing into the chain.
            vq.push_used(mem, chain.head(), 0)?;
            used = true;
        }
        Ok(used)
    }
}

impl<S: ByteSink> VirtioDevice for ConsoleDevice<S> {
    fn device_id(&self) -> u32 {
        VIRTIO_ID_CONSOLE
    }

    fn features(&self) -> u64 {
        0
    }

    fn num_queues(&self) -> usize {
        2
    }

    fn queue_max_size(&self, _queue: usize) -> u16 {
        QUEUE_SIZE_MAX
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        copy_config(&[0u8; CONFIG_SIZE], offset, data);
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
        // Input typed for the previous driver instance is stale.
        self.input.clear();
    }
}

impl<S: ByteSink> MmioTransport<ConsoleDevice<S>> {
    /// Host input for the guest: buffered, then delivered into whatever
    /// receive buffers the driver has posted. The returned [`Notify`] says
    /// whether to pulse the device's interrupt.
    pub fn push_input(&mut self, bytes: &[u8], mem: &mut dyn GuestMemory) -> Notify {
        self.device_mut().queue_input(bytes);
        self.process_queue(RECEIVEQ, mem)
    }
}
