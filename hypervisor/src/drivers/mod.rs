//! Drivers for the host devices Aerie itself uses.

pub mod bcm2835_pm;
pub mod cadence_gem;
pub mod cadence_uart;
pub mod disk;
pub mod ethernet;
pub mod imx_fec;
pub mod imx_uart;
pub mod ns16550;
pub mod pl011;
pub mod power_button;
pub mod registers;
pub mod rtc;
pub mod sd_card;
pub mod uart;
pub mod uplink;
pub mod virtio_blk;
pub mod virtio_mmio;
pub mod virtio_net;
