//! A VM's SCMI agent (C1): the channel in the last page of its RAM and one
//! clock per vCPU (`aerie_scmi`). The guest's cpufreq sets a vCPU's clock;
//! the scheduler reads it back as the share of a pCPU that vCPU asked for.

use super::GuestMemory;
use crate::arch::aarch64::sysreg::clean_invalidate_dcache_range;
use aerie_scmi::{Served, VcpuClocks, SHMEM_SIZE, WINDOW};

/// The SMCCC function the guest calls after writing a command.
pub const SMC_ID: u32 = aerie_firmware::fid::SCMI_CHANNEL;
/// Operating-point transition latency published to the guest: a rate
/// change is one exit.
pub const CLOCK_LATENCY_NS: u32 = 50_000;
/// The channel's offset from the end of RAM: the last page.
pub const SHMEM_FROM_END: u64 = SHMEM_SIZE;

pub struct Scmi {
    /// The VM has the channel and its clocks (its config's `cpufreq`, on by
    /// default). Without them its vCPUs stay at full rate, never capped,
    /// and its last page of RAM is the guest's like any other.
    pub enabled: bool,
    /// The channel's guest-physical address.
    pub shmem: u64,
    pub clocks: VcpuClocks,
}

impl Scmi {
    /// A fresh agent for a VM of `vcpus` vCPUs whose RAM ends at `ram_end`:
    /// every clock at full rate. The channel itself is marked free by
    /// [`Scmi::open`] once RAM is cleared.
    pub fn new(vcpus: usize, ram_end: u64, enabled: bool) -> Scmi {
        Scmi {
            enabled,
            shmem: ram_end - SHMEM_FROM_END,
            clocks: VcpuClocks::new(vcpus),
        }
    }

    /// Hand the (zeroed) channel to the agent: Linux waits for the free bit
    /// before its first command.
    pub fn open(&self, memory: &GuestMemory) -> Result<(), &'static str> {
        if !self.enabled {
            return Ok(());
        }
        let va = memory
            .host_va(self.shmem, WINDOW as u64)
            .ok_or("SCMI channel outside guest memory")?;
        let channel = aerie_scmi::opened();
        // SAFETY: `va` is WINDOW bytes of this VM's RAM in the direct map
        // (checked by host_va); no vCPU of the VM runs while it is loaded.
        unsafe { core::ptr::copy_nonoverlapping(channel.as_ptr(), va as *mut u8, WINDOW) };
        clean_invalidate_dcache_range(va, WINDOW as u64);
        Ok(())
    }

    /// The guest rang the doorbell: answer the command in its channel
    /// (the caller checked that the VM has one).
    pub fn serve(&mut self, memory: &GuestMemory) -> Served {
        let Some(va) = memory.host_va(self.shmem, WINDOW as u64) else {
            // The channel is in the VM's own RAM by construction.
            return Served::Idle;
        };
        let mut window = [0u8; WINDOW];
        // The guest wrote through a non-cacheable mapping: read memory.
        clean_invalidate_dcache_range(va, WINDOW as u64);
        // SAFETY: `va` is WINDOW bytes of this VM's RAM (checked above);
        // the calling vCPU is in this exit, and another vCPU writing the
        // channel meanwhile only garbles its own command (the copy is
        // checked as a whole by `serve`, never trusted twice).
        unsafe { core::ptr::copy_nonoverlapping(va as *const u8, window.as_mut_ptr(), WINDOW) };
        let served = aerie_scmi::serve(&mut window, &mut self.clocks);
        if served == Served::Idle {
            return served; // nothing was written
        }
        // SAFETY: as for the copy in; the reply goes back where it came from.
        unsafe { core::ptr::copy_nonoverlapping(window.as_ptr(), va as *mut u8, WINDOW) };
        clean_invalidate_dcache_range(va, WINDOW as u64);
        served
    }
}
