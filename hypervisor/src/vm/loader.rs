//! Building a VM from its boot-module record: memory, stage 2, and the
//! guest's images laid out as the Linux arm64 boot protocol asks.
//!
//! Layout in guest RAM (base `RAM_BASE`):
//! * kernel at `RAM_BASE + text_offset` (a 2 MiB-aligned base plus the
//!   Image header's text_offset, as QEMU's loader does);
//! * device tree in the last 2 MiB of RAM;
//! * initrd right below the device tree, page aligned.

use super::block::{Disk, DiskRegion};
use super::scmi::{self, Scmi};
use super::stolen::StolenTime;
use super::virtio::{VirtioSlot, VIRTIO_BASE, VIRTIO_FIRST_INTID, VIRTIO_STRIDE};
use super::{
    GuestMemory, Vcpu, VcpuState, Vm, VmState, GICC_BASE, GICC_SIZE, GICD_BASE, GICD_SIZE,
    GICD_V2_SIZE, GICR_BASE, GICR_STRIDE, GPIO_BASE, GPIO_SIZE, RAM_BASE, RTC_BASE, RTC_SIZE, SPIS,
    UART_BASE, UART_SIZE,
};
use crate::arch::aarch64::cpu;
use crate::arch::aarch64::gic_v2;
use crate::console::GuestOutput;
use crate::drivers::disk;
use crate::irq::PPI_VIRTUAL_TIMER;
use crate::mm::{frames, stage2::Stage2};
use aerie_bootmodule::arm64_image::parse_image_header;
use aerie_bootmodule::VmImage;
use aerie_dt::{GuestGic, GuestScmi, GuestSpec, IdleStateNode, Region, VirtioMmio};
use aerie_vdev::Pl011;
use aerie_vgic::Vgic;
use aerie_virtio::{ConsoleDevice, MmioTransport, NetDevice};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const MIB: u64 = 1 << 20;
/// Guests get at most this many vCPUs (Aff0 only, and the GIC's 16-CPU SGI
/// target lists later).
pub const MAX_VCPUS: u32 = 8;

/// Create VM number `index` from its record. Errors are reasons the VM is
/// refused; the caller logs them and carries on with the other VMs.
pub fn create(
    index: usize,
    record: usize,
    image: VmImage<'static>,
    prefixed: bool,
) -> Result<Vm, String> {
    if image.vcpus == 0 || image.vcpus > MAX_VCPUS {
        return Err(format!("vcpus = {} (must be 1..={MAX_VCPUS})", image.vcpus));
    }
    if image.memory < 4 * MIB || !image.memory.is_multiple_of(2 * MIB) {
        return Err(format!(
            "memory = {} bytes (must be a multiple of 2 MiB, at least 4 MiB)",
            image.memory
        ));
    }
    let (memory, stage2, stolen) = guest_memory(&image)?;
    let mut vm = Vm {
        name: String::from(image.name),
        record,
        vmid: (index + 1) as u16,
        image,
        vcpus: (0..image.vcpus as usize)
            .map(|i| Box::new(Vcpu::new(index, i)))
            .collect(),
        uart: Pl011::new(),
        rtc: aerie_vdev::Pl031::new(),
        rtc_irq: false,
        uart_irq: false,
        gpio: aerie_vdev::Pl061::new(),
        gpio_irq: false,
        input: VecDeque::new(),
        vgic: new_vgic(image.vcpus as usize),
        virtio: Vec::new(),
        disks: disk_regions(&image)?,
        net_drops: Default::default(),
        backdoor: super::backdoor::new(&image)?,
        scmi: Scmi::new(
            image.vcpus as usize,
            RAM_BASE + image.memory,
            !image.fixed_clock,
        ),
        output: GuestOutput::new(image.name, prefixed),
        state: VmState::Running,
        cntvoff: 0,
        abort_reports: 0,
        disk_waiting: false,
        memory: Some(memory),
        stage2: Some(stage2),
        stolen: Some(stolen),
        flush_tlb: true,
    };
    if let Err(e) = load(&mut vm) {
        vm.stop("refused");
        return Err(e);
    }
    Ok(vm)
}

/// Allocate the VM's RAM and its stage 2 mapping it at [`RAM_BASE`], and
/// its stolen-time records.
fn guest_memory(image: &VmImage) -> Result<(GuestMemory, Stage2, StolenTime), String> {
    let pa = frames::alloc(image.memory).ok_or_else(|| {
        format!(
            "cannot allocate {} MiB of guest memory ({} MiB free at boot)",
            image.memory / MIB,
            frames::total() / MIB
        )
    })?;
    let memory = GuestMemory {
        pa,
        size: image.memory,
    };
    let mut stage2 = match Stage2::new() {
        Ok(s) => s,
        Err(e) => {
            frames::free(pa, image.memory);
            return Err(format!("stage-2 tables: {e}"));
        }
    };
    if let Err(e) = stage2.map_ram(RAM_BASE, pa, image.memory) {
        frames::free(pa, image.memory);
        return Err(format!("stage-2 tables: {e}"));
    }
    // On a GICv2 host the guest's CPU interface is the hardware's GICV.
    if let Some(gicv) = gic_v2::virtual_cpu_interface() {
        if let Err(e) = stage2.map_device(GICC_BASE, gicv, GICC_SIZE) {
            frames::free(pa, image.memory);
            return Err(format!("stage-2 tables (GICV): {e}"));
        }
    }
    let stolen = StolenTime::new(&mut stage2).inspect_err(|_| frames::free(pa, image.memory))?;
    Ok((memory, stage2, stolen))
}

/// Boot a stopped VM again (a user world's vm_control): new RAM and stage 2,
/// then everything as at creation. A VM that cannot get its memory back
/// stays stopped.
pub fn start(vm: &mut Vm) -> Result<(), String> {
    let (memory, stage2, stolen) = guest_memory(&vm.image)?;
    vm.memory = Some(memory);
    vm.stage2 = Some(stage2);
    vm.stolen = Some(stolen);
    // Its VMID's TLB entries belong to the old memory.
    vm.flush_tlb = true;
    boot_again(vm)
}

/// Run a VM that has its memory from its images again, as at creation (a
/// reset, or a start after a stop): its backdoor forgets the old guest.
/// A VM whose images no longer fit is stopped.
pub fn boot_again(vm: &mut Vm) -> Result<(), String> {
    vm.set_state(VmState::Running);
    if let Some(bd) = vm.backdoor.as_mut() {
        bd.service.guest_reset();
    }
    load(vm).inspect_err(|_| {
        vm.stop("stopped");
        vm.settle();
    })
}

/// Copy the images into guest RAM and put vCPU 0 at the kernel entry point
/// (also used by PSCI SYSTEM_RESET).
pub fn load(vm: &mut Vm) -> Result<(), String> {
    let image = vm.image;
    let memory = vm.memory.as_ref().ok_or("the VM has no memory")?;
    let header = parse_image_header(image.kernel).map_err(|e| format!("kernel: {e}"))?;
    let kernel_ipa = RAM_BASE + header.text_offset;
    let kernel_end = kernel_ipa + header.image_size.max(image.kernel.len() as u64);
    let ram_end = RAM_BASE + memory.size;
    let dtb_ipa = ram_end - 2 * MIB;
    // A fresh SCMI agent (clocks at full rate); its channel is the last
    // page, above the device tree.
    vm.scmi = Scmi::new(vm.vcpus.len(), ram_end, !image.fixed_clock);
    let scmi_shmem = vm.scmi.shmem;
    let initrd = match image.initrd {
        Some(bytes) => {
            let start = (dtb_ipa - bytes.len() as u64) & !0xfff;
            Some(Region::new(start, bytes.len() as u64))
        }
        None => None,
    };
    let lowest_above_kernel = initrd.map_or(dtb_ipa, |r| r.base);
    if kernel_end > lowest_above_kernel {
        return Err(format!(
            "kernel ({} KiB) and initrd ({} KiB) do not fit in {} MiB of memory",
            (kernel_end - kernel_ipa) / 1024,
            image.initrd.map_or(0, |i| i.len()) / 1024,
            memory.size / MIB
        ));
    }
    let slots = 1 + vm.disks.len() as u64 + vm.image.net.is_some() as u64;
    let transports: Vec<VirtioMmio> = (0..slots)
        .map(|n| VirtioMmio {
            region: Region::new(VIRTIO_BASE + n * VIRTIO_STRIDE, VIRTIO_STRIDE),
            intid: VIRTIO_FIRST_INTID + n as u32,
        })
        .collect();
    let idle_states = aerie_firmware::IDLE_STATES.map(|s| IdleStateNode {
        name: s.name,
        psci_param: s.power_state,
        entry_latency_us: s.entry_latency_us,
        exit_latency_us: s.exit_latency_us,
        min_residency_us: s.min_residency_us,
    });
    let seeds = crate::seed::for_vm(u32::from(vm.vmid));
    let spec = GuestSpec {
        memory: Region::new(RAM_BASE, memory.size),
        cpus: image.vcpus,
        bootargs: image.cmdline,
        initrd,
        uart: Region::new(UART_BASE, UART_SIZE),
        rtc: Some(Region::new(RTC_BASE, RTC_SIZE)),
        gpio: Some(Region::new(GPIO_BASE, GPIO_SIZE)),
        gic: Some(if gic_v2::active() {
            GuestGic::V2 {
                dist: Region::new(GICD_BASE, GICD_V2_SIZE),
                cpu: Region::new(GICC_BASE, GICC_SIZE),
            }
        } else {
            GuestGic::V3 {
                dist: Region::new(GICD_BASE, GICD_SIZE),
                redist: Region::new(GICR_BASE, GICR_STRIDE * image.vcpus as u64),
            }
        }),
        timer: true,
        virtio: &transports,
        idle_states: &idle_states,
        scmi: vm.scmi.enabled.then_some(GuestScmi {
            smc_id: scmi::SMC_ID,
            shmem: Region::new(scmi_shmem, aerie_scmi::SHMEM_SIZE),
            rates: &aerie_scmi::clock::RATES,
            clock_latency_ns: scmi::CLOCK_LATENCY_NS,
        }),
        rng_seed: &seeds.rng,
        kaslr_seed: Some(seeds.kaslr),
    };
    let dtb = aerie_dt::build_guest(&spec).map_err(|e| format!("device tree: {e}"))?;
    if dtb.len() as u64 > scmi_shmem - dtb_ipa {
        return Err(String::from(
            "device tree larger than 2 MiB less the SCMI channel's page",
        ));
    }

    // Fresh RAM: nothing of a previous run (or another VM) shows through.
    let ram = memory
        .host_va(RAM_BASE, memory.size)
        .ok_or("guest memory")?;
    // In chunks, telling the watchdog this pCPU is busy, not stuck: a VM's
    // memory can take a while to clear, with regular interrupts masked.
    for off in (0..memory.size).step_by(CHUNK as usize) {
        let len = CHUNK.min(memory.size - off) as usize;
        // SAFETY: `ram` is this VM's memory in the direct map, `memory.size`
        // bytes, owned by the VM; no vCPU of the VM is running now.
        unsafe { core::ptr::write_bytes((ram + off) as *mut u8, 0, len) };
        crate::irq::watchdog::progress(crate::sched::this_cpu());
    }
    copy_in(memory, kernel_ipa, image.kernel)?;
    if let (Some(r), Some(bytes)) = (initrd, image.initrd) {
        copy_in(memory, r.base, bytes)?;
    }
    copy_in(memory, dtb_ipa, &dtb)?;
    vm.scmi.open(memory)?;

    for v in &mut vm.vcpus {
        v.state = VcpuState::Off;
        v.lrs_used = 0;
        v.steal = Default::default();
        // Its pCPU discarded what it owned (`discard_loaded`).
        v.debug_owned = false;
    }
    if let Some(page) = &vm.stolen {
        page.clear();
    }
    vm.vcpus[0].reset(kernel_ipa, dtb_ipa);
    for c in 0..vm.vcpus.len() {
        super::backdoor::refresh_fast_path(vm, c);
    }
    vm.vgic = new_vgic(vm.vcpus.len());
    vm.rtc.reset();
    vm.rtc_irq = false;
    vm.gpio.reset();
    vm.gpio_irq = false;
    vm.virtio = virtio_devices(vm);
    vm.uart = Pl011::new();
    vm.uart_irq = false;
    // The guest's virtual counter starts at 0 with the VM.
    vm.cntvoff = cpu::counter();
    vm.flush_tlb = true;
    log::debug!(
        "vm {}: kernel at {kernel_ipa:#x}, device tree at {dtb_ipa:#x}{}",
        vm.name,
        initrd.map_or(String::new(), |r| format!(", initrd at {:#x}", r.base))
    );
    Ok(())
}

fn copy_in(memory: &GuestMemory, ipa: u64, bytes: &[u8]) -> Result<(), String> {
    let dst = memory.host_va(ipa, bytes.len() as u64).ok_or_else(|| {
        format!(
            "{} bytes at {ipa:#x} fall outside guest memory",
            bytes.len()
        )
    })?;
    for (i, chunk) in bytes.chunks(CHUNK as usize).enumerate() {
        // SAFETY: `dst` covers bytes.len() bytes of this VM's RAM (checked
        // by host_va), which does not overlap the boot module the bytes come
        // from; each chunk lands at its own offset inside that range.
        unsafe {
            core::ptr::copy_nonoverlapping(
                chunk.as_ptr(),
                (dst + i as u64 * CHUNK) as *mut u8,
                chunk.len(),
            )
        };
        crate::irq::watchdog::progress(crate::sched::this_cpu());
    }
    Ok(())
}

/// Large copies and clears go in pieces this big, with a watchdog touch
/// after each.
const CHUNK: u64 = 2 * MIB;

/// A fresh vGIC of the host GIC's version whose virtual-timer PPIs are
/// forwarded hardware interrupts: the guest's completion of INTID 27
/// deactivates the physical one.
fn new_vgic(vcpus: usize) -> Vgic {
    let mut vgic = if gic_v2::active() {
        Vgic::new_v2(vcpus, SPIS)
    } else {
        Vgic::new(vcpus, SPIS)
    };
    for c in 0..vcpus {
        vgic.set_hw_mapping(c, PPI_VIRTUAL_TIMER, PPI_VIRTUAL_TIMER)
            .expect("PPI 27 can be mapped");
    }
    vgic
}

/// The VM's disk regions in host sectors, each checked against the host disk.
fn disk_regions(image: &VmImage<'_>) -> Result<Vec<DiskRegion>, String> {
    image.disks().map(disk_region).collect()
}

/// One disk region in host sectors, checked against the host disk.
fn disk_region(d: aerie_bootmodule::DiskRegion) -> Result<DiskRegion, String> {
    if !d.offset.is_multiple_of(512) || !d.size.is_multiple_of(512) || d.size == 0 {
        return Err(format!(
            "disk region offset {:#x} size {:#x} is not in whole 512-byte sectors",
            d.offset, d.size
        ));
    }
    let host = disk::capacity().ok_or(
        "it has a disk but the machine has no host disk (a virtio-blk device or an SD card)",
    )?;
    if d.offset.checked_add(d.size).is_none_or(|end| end > host) {
        return Err(format!(
            "disk region {} MiB at offset {} MiB runs past the host disk ({} MiB)",
            d.size >> 20,
            d.offset >> 20,
            host >> 20
        ));
    }
    let region = DiskRegion {
        first_sector: d.offset / 512,
        sectors: d.size / 512,
    };
    if let Some(why) = disk::refuse_region(region.host_sectors()) {
        return Err(format!(
            "disk region {} MiB at offset {} MiB would overwrite what the host disk holds: {why}",
            d.size >> 20,
            d.offset >> 20
        ));
    }
    Ok(region)
}

/// Fresh virtio devices: a console, a block device over each disk region,
/// a network card; the last two if the VM has them, in that order (the
/// device tree lists the same transports). A disk's serial (virtio-blk's
/// GET_ID) is the VM's name, then `<name>-2`, `<name>-3`, ...
fn virtio_devices(vm: &Vm) -> Vec<VirtioSlot> {
    let name = vm.name.as_str();
    let mut slots = Vec::from([VirtioSlot::Console(MmioTransport::new(ConsoleDevice::new(
        GuestOutput::new(name, vm.output.prefixed()),
    )))]);
    for (i, d) in vm.disks.iter().enumerate() {
        let region = DiskRegion {
            first_sector: d.first_sector,
            sectors: d.sectors,
        };
        let serial = match i {
            0 => String::from(name),
            _ => format!("{name}-{}", i + 1),
        };
        slots.push(VirtioSlot::Block(Disk::new(region, serial.as_bytes())));
    }
    if let Some(card) = vm.image.net {
        slots.push(VirtioSlot::Net(MmioTransport::new(NetDevice::new(
            card.mac,
        ))));
    }
    slots
}
