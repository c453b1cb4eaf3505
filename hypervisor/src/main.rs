//! Aerie: a type-1 hypervisor for 64-bit Arm, running at EL2.
//!
//! Boot order: `arch/aarch64/entry.S` (MMU off) → `boot::early_build_spaces`
//! → the C4 trampoline → [`kernel_main`] at the link address.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot;
mod bootargs;
mod boottest;
mod console;
mod drivers;
mod irq;
mod mm;
mod panic;
mod power;
mod sched;
mod seed;
mod symbols;
mod userworld;
mod vm;
mod wall_clock;

use alloc::vec::Vec;
use arch::aarch64::fast_path::{self, FastPathTable};
use arch::aarch64::{cpu, cpu::CpuInfo, el2, gic};
use boot::BootRecord;
use bootargs::{BootArgs, BootTest};
use core::sync::atomic::Ordering;
use mm::frames::Range;
use mm::kernel_map::KernelSpace;
use mm::layout::phys_to_virt;

const MIB: u64 = 1 << 20;
/// Heap added from the frame allocator once RAM is known.
const HEAP_SIZE: u64 = 16 * MIB;

extern "C" {
    static __image_start: u8;
    static __image_end: u8;
}

/// Rust entry, at the link address in the final space, on the boot stack.
#[no_mangle]
pub extern "C" fn kernel_main(dtb_pa: u64, load_pa: u64, link_va: u64) -> ! {
    let record = BootRecord {
        dtb_pa,
        load_pa,
        link_va,
    };
    let aerie_pagetable::boot::BootSpaces {
        transitional,
        final_root,
    } = boot::spaces();
    boot::paint_boot_stack();
    mm::heap::init_seed();
    mm::layout::set_image_delta(record.delta());

    // The device tree, through the window the boot tables mapped.
    let Some(dtb) = boot_dtb(&record) else { halt() };
    let Ok(host) = aerie_dt::parse_host(dtb) else {
        halt()
    };
    let Some(uart) = host.uart else { halt() };
    let mut space = KernelSpace::new(final_root, record.delta());
    let Ok(uart_va) = space.map_device(uart.base, uart.size) else {
        halt()
    };
    // SAFETY: the host UART, of the kind its node names, is mapped at
    // uart_va and Aerie alone drives it.
    unsafe { console::init(uart_va, host.uart_kind) };
    // Kept for good: the user-world list borrows from it.
    let bootargs: &'static str = host.bootargs.clone().map_or("", |s| s.leak());
    let args = BootArgs::parse(bootargs);
    power::set_semihosting(args.semihosting || host.model.as_deref() == Some("linux,dummy-virt"));
    console::init_log(args.log);
    let args = *BOOT_ARGS.call_once(|| args);
    irq::watchdog::PANIC.store(args.watchdog_panics, Ordering::Relaxed);
    irq::profiler::ENABLED.store(args.profile, Ordering::Relaxed);
    vm::irq::SIGNAL_BY_HCR.store(args.virq_by_hcr, Ordering::Relaxed);

    log::debug!("boot: device tree at {dtb_pa:#x}; Aerie loaded at {load_pa:#x}, linked at {link_va:#x} (delta {:#x})", record.delta());
    log::debug!(
        "boot: entered with the MMU {}",
        if boot::entered_with_mmu_on() {
            "on (the boot loader's 1:1 map), turned off before the switch"
        } else {
            "off"
        }
    );
    log::debug!("boot: TTBR0_EL2 <- transitional tables {transitional:#x} (image high, trampoline also at its load address); MMU on");
    log::debug!("boot: branched by the delta into the high alias");
    log::debug!(
        "boot: TTBR0_EL2 <- final tables {final_root:#x}; identity alias gone; running at {:#x}",
        kernel_main as *const () as usize
    );

    if args.test == BootTest::IdentityFault {
        log::info!("boot-test: touching identity alias {load_pa:#x}");
        // SAFETY: deliberately not safe: the read must fault (the final
        // tables do not map the load address) and the EL2 fault handler
        // reports it. If it did not fault, the value is merely read.
        let value = unsafe { core::ptr::read_volatile(load_pa as *const u64) };
        panic!("identity alias {load_pa:#x} is still mapped (read {value:#x})");
    }

    // RAM: the direct map, then frames for everything Aerie does not occupy.
    let image_size = (&raw const __image_end) as u64 - (&raw const __image_start) as u64;
    let ram: Vec<Range> = host
        .memory
        .iter()
        .map(|r| Range {
            start: r.base,
            end: r.base + r.size,
        })
        .collect();
    for r in &ram {
        if let Err(e) = space.map_ram(r.start, r.end - r.start) {
            panic!("direct map of RAM {:#x}..{:#x}: {e}", r.start, r.end);
        }
    }
    let mut busy = Vec::from([
        Range {
            start: load_pa,
            end: load_pa + image_size,
        },
        Range {
            start: dtb_pa,
            end: dtb_pa + dtb.len() as u64,
        },
    ]);
    busy.extend(host.initrd.iter().chain(&host.reserved).map(|r| Range {
        start: r.base,
        end: r.base + r.size,
    }));
    mm::frames::init(&ram, &busy);
    let heap = mm::frames::alloc(HEAP_SIZE).expect("memory for the kernel heap");
    // SAFETY: fresh frames, mapped by the direct map, owned by the heap from now on.
    unsafe { mm::heap::grow(phys_to_virt(heap), HEAP_SIZE) };

    let cpu = CpuInfo::read();
    let ram_total: u64 = ram.iter().map(|r| r.end - r.start).sum();
    log::info!(
        "Aerie {} on {} (MIDR {:#x}), {} CPUs, VHE: {}, FGT: {}, RAM {} MiB ({} MiB free)",
        env!("CARGO_PKG_VERSION"),
        cpu.model(),
        cpu.midr,
        host.cpus.len(),
        if cpu.vhe { "yes" } else { "no" },
        if cpu.fgt { "yes" } else { "no" },
        ram_total / MIB,
        mm::frames::total() / MIB
    );

    // The host GIC.
    let gic = host_gic(&host, &mut space);
    gic.init_distributor();
    log::info!(
        "machine: {}; console {} at {:#x}; GICv{} with {}{}",
        host.model.as_deref().unwrap_or("(no model)"),
        host.uart_kind.name(),
        uart.base,
        gic.version(),
        if gic.two_security_states() {
            "two security states"
        } else {
            "one security state"
        },
        if args.virq_by_hcr {
            "; guests' virtual IRQs signalled through HCR_EL2.VI (aerie.virq=hcr)"
        } else {
            ""
        }
    );
    el2::set_served_owners(aerie_firmware::served_owners());

    let virtio = drivers::virtio_mmio::map(&host.virtio_mmio, &mut space);
    drivers::disk::probe(&host, &mut space, virtio);
    drivers::uplink::probe(&host, &mut space, virtio);
    // The wall clock: the host's RTC, else the time the boot loader read.
    let rtc = host.rtc.and_then(|rtc| {
        space
            .map_device(rtc.region.base, rtc.region.size)
            .map_err(|e| log::warn!("cannot map the RTC at {:#x}: {e:?}", rtc.region.base))
            .ok()
            .map(|va| (va, rtc.kind))
    });
    match (rtc, host.wall_clock) {
        // SAFETY: the RTC's registers were just mapped as device memory at va.
        (Some((va, kind)), _) => unsafe { drivers::rtc::init(va, kind) },
        (None, Some(clock)) => {
            wall_clock::set(clock.unix_seconds, clock.counter, "the boot loader")
        }
        (None, None) => {}
    }

    if let Some(button) = &host.power_button {
        match space.map_device(button.gpio.base, button.gpio.size) {
            // SAFETY: the PL061 was just mapped as device memory at va, for
            // good; Aerie drives it alone (its guests get their own).
            Ok(va) => unsafe { drivers::power_button::init(va, button) },
            Err(e) => log::warn!("cannot map the PL061 at {:#x}: {e:?}", button.gpio.base),
        }
    } else if let Some(ged) = &host.ged_button {
        match space.map_device(ged.region.base, ged.region.size) {
            // SAFETY: the GED's selector was just mapped as device memory
            // at va, for good; Aerie alone reads it.
            Ok(va) => unsafe { drivers::power_button::init_ged(va, ged) },
            Err(e) => log::warn!("cannot map the GED at {:#x}: {e:?}", ged.region.base),
        }
    }

    power::init(&host, &mut space);
    seed::init(host.rng_seed.as_deref());

    let module = boot_module(host.initrd);
    let vms = module.as_ref().map_or_else(Vec::new, create_vms);
    if vms.is_empty() {
        log::error!("no VM could be started");
        power::exit(2);
    }
    let mut machine = sched::Machine::new(vms, gic, gic::list_register_count());
    machine.set_shutdown_timeout(args.shutdown_timeout_s);
    // The config's worlds first (ids 1, 2, ...), then the command line's.
    let mut worlds = module
        .as_ref()
        .map_or_else(Vec::new, userworld::load_from_module);
    if let Some(spec) = args.user {
        worlds.extend(userworld::load_from_command_line(spec));
    }
    machine.worlds = worlds
        .into_iter()
        .map(sched::worlds::WorldSlot::new)
        .collect();

    let used = boot::boot_stack_used();
    log::debug!(
        "boot: {} of the boot stack's {} KiB used so far",
        used / 1024,
        boot::BOOT_STACK_SIZE / 1024
    );
    if used > boot::BOOT_STACK_SIZE * 3 / 4 {
        log::warn!(
            "the boot stack is {} KiB deep of {} KiB",
            used / 1024,
            boot::BOOT_STACK_SIZE / 1024
        );
    }

    // The boot pCPU, then every other CPU of the device tree.
    let boot_mpidr = cpu::mpidr();
    let stack_top = boot::BOOT_STACK.0.get() as u64 + boot::BOOT_STACK_SIZE as u64;
    debug_assert_eq!(boot::BOOT_STACK.1.get() as u64, stack_top);
    // SAFETY: BOOT_STACK reserves the table's bytes right above the stack's
    // top for it alone, in a static.
    let table = unsafe { FastPathTable::install(stack_top, vm::BackdoorKeys::exchange()) };
    sched::pcpu::register(0, boot_mpidr, stack_top);
    machine.add_pcpu(boot_mpidr, stack_top, table);
    let mut secondaries = Vec::new();
    for c in host.cpus.iter().filter(|c| c.mpidr != boot_mpidr) {
        if machine.pcpus.len() == sched::MAX_PCPUS {
            log::warn!("using {} of {} CPUs", sched::MAX_PCPUS, host.cpus.len());
            break;
        }
        let stack = mm::frames::alloc(SECONDARY_STACK + fast_path::TABLE_BYTES as u64)
            .expect("memory for a CPU stack");
        let top = phys_to_virt(stack) + SECONDARY_STACK;
        // SAFETY: the frames just allocated hold the stack and, above its
        // top, the table's bytes; they are never freed.
        let table = unsafe { FastPathTable::install(top, vm::BackdoorKeys::exchange()) };
        let index = machine.add_pcpu(c.mpidr, top, table);
        sched::pcpu::register(index, c.mpidr, top);
        let method = match (c.enable_method.as_deref(), c.release_addr) {
            (Some("spin-table"), Some(release_addr)) => {
                boot::smp::Method::SpinTable { release_addr }
            }
            _ => boot::smp::Method::Psci,
        };
        secondaries.push((index, c.mpidr, method, top));
    }
    if drivers::uplink::intid() != 0 {
        gic.enable_spi(drivers::uplink::intid(), boot_mpidr);
    }
    if drivers::disk::intid() != 0 {
        gic.enable_spi(drivers::disk::intid(), boot_mpidr);
    }
    if let Some(intid) = drivers::power_button::intid() {
        if drivers::power_button::edge_triggered() {
            gic.set_edge_triggered(intid);
        }
        gic.enable_spi(intid, boot_mpidr);
    }
    if let Some(intid) = host.uart_intid {
        gic.enable_spi(intid, boot_mpidr);
        sched::CONSOLE_INTID.store(intid, Ordering::Relaxed);
        console::enable_input();
    }
    machine.install();
    init_this_cpu(0, &cpu);
    boottest::before_secondaries(args.test);
    for (index, mpidr, method, top) in secondaries {
        if let Err(status) =
            boot::smp::start(index, mpidr, method, top, record.delta(), secondary_main)
        {
            log::warn!("CPU {mpidr:#x} did not start (PSCI status {status})");
        }
    }
    if args.bench_irq {
        irq::bench::run();
    }
    boottest::run(args.test);
    sched::run(0)
}

/// The boot arguments, for code far from `kernel_main`.
pub static BOOT_ARGS: spin::Once<BootArgs> = spin::Once::new();

/// The boot arguments (defaults before they are parsed).
pub fn boot_args() -> BootArgs {
    BOOT_ARGS
        .get()
        .copied()
        .unwrap_or_else(|| BootArgs::parse(""))
}

/// The host's GIC, mapped: its GICv3, or in Aerie's GICv2 build its GICv2
/// (which must have the Virtualization Extensions' frames, for the guests'
/// CPU interfaces). A build meeting the other kind says which to boot.
fn host_gic(
    host: &aerie_dt::HostInfo,
    space: &mut mm::kernel_map::KernelSpace,
) -> irq::host_gic::HostGic {
    let mut map = |r: &aerie_dt::Region, what: &str| match space.map_device(r.base, r.size) {
        Ok(va) => va,
        Err(e) => panic!("cannot map the GIC's {what} at {:#x}: {e:?}", r.base),
    };
    let v3 = host.gic.as_ref().filter(|g| !g.redist.is_empty());
    if arch::aarch64::gic_v2::active() {
        let Some(v2) = host.gic_v2.as_ref() else {
            panic!(
                "this is Aerie's GICv2 build (aerie-gicv2.Image), but the device tree describes {}: boot aerie.Image",
                if v3.is_some() { "a GICv3" } else { "no GICv2" }
            );
        };
        let (Some(hyp), Some(vcpu)) = (v2.hyp, v2.vcpu) else {
            panic!(
                "the GICv2 at {:#x} has no virtual interface frames (GICH, GICV) in the device tree: guests need them",
                v2.dist.base
            );
        };
        let dist = map(&v2.dist, "distributor");
        let cpu = map(&v2.cpu, "CPU interface");
        let hyp = map(&hyp, "virtual interface control");
        // SAFETY: the frames were just mapped as device memory, for good;
        // Aerie alone drives the GIC.
        return unsafe {
            arch::aarch64::gic_v2::install(cpu as usize, dist as usize, hyp as usize, vcpu.base);
            irq::host_gic::HostGic::V2(irq::gicv2::Gic::new(dist))
        };
    }
    let Some(v3) = v3 else {
        panic!(
            "the device tree describes {}",
            if host.gic_v2.is_some() {
                "a GICv2 (such as a GIC-400), which Aerie's GICv2 build drives: boot aerie-gicv2.Image (`cargo xtask run --gic 2`)"
            } else {
                "no GIC Aerie drives (a GICv3, or a GICv2 for aerie-gicv2.Image)"
            }
        );
    };
    let dist = map(&v3.dist, "distributor");
    let redist: Vec<(usize, usize)> = v3
        .redist
        .iter()
        .map(|r| (map(r, "redistributors") as usize, r.size as usize))
        .collect();
    // SAFETY: all regions were just mapped as device memory, for good (the
    // list is kept for the machine's life); Aerie alone drives the GIC.
    irq::host_gic::HostGic::V3(unsafe { irq::gicv3::Gic::new(dist, redist.leak()) })
}

/// Stack of each secondary pCPU.
const SECONDARY_STACK: u64 = sched::pcpu::STACK_SIZE;

/// Per-pCPU set-up: its private interrupts, CPU interface and EL2 guest
/// controls.
fn init_this_cpu(index: usize, cpu: &CpuInfo) {
    {
        let mut m = sched::lock();
        let mpidr = m.pcpus[index].mpidr;
        let banked = m.gic.init_cpu(mpidr);
        m.pcpus[index].banked = Some(banked);
    }
    gic::init_cpu_interface();
    el2::init_guest_controls(cpu);
    irq::watchdog::start();
    irq::profiler::start_this_cpu();
    // From here on Aerie's code runs with regular interrupts masked by the
    // priority mask, PSTATE.I clear: pseudo-NMIs get in (see irq::NmiWindow).
    gic::set_priority_mask(irq::PMR_REGULAR_MASKED);
    arch::aarch64::daif::unmask_irq();
    // Now an SGI reaches this pCPU; a stop requested before that is taken
    // here (irq::stop).
    sched::pcpu::set_online(index);
    irq::stop::came_online(index);
}

/// Where a secondary pCPU continues once it runs at the link address.
extern "C" fn secondary_main(index: u64) -> ! {
    // A level-0 table of its own, for the user worlds it runs.
    mm::user_range::own_root();
    init_this_cpu(index as usize, &CpuInfo::read());
    log::debug!("cpu {index} ({:#x}) online", cpu::mpidr());
    boottest::secondary(index as usize, boot_args().test);
    sched::run(index as usize)
}

/// The VMs of the boot module (QEMU's -initrd). A VM that cannot be built is
/// reported and left out; the others run.
/// The boot module QEMU loaded as the initrd, checked; its symbol table
/// installed.
fn boot_module(module: Option<aerie_dt::Region>) -> Option<aerie_bootmodule::BootModule<'static>> {
    let Some(module) = module else {
        log::error!("no boot module (pass the VM images with -initrd; see `cargo xtask run`)");
        return None;
    };
    // SAFETY: the boot module lies in RAM that the frame allocator was told
    // is busy, so it is mapped (direct map), never reused, and lives forever.
    let bytes: &'static [u8] = unsafe {
        core::slice::from_raw_parts(phys_to_virt(module.base) as *const u8, module.size as usize)
    };
    let module = match aerie_bootmodule::BootModule::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            log::error!("boot module: {e}");
            return None;
        }
    };
    match module.symbols() {
        Some(blob) => symbols::init(blob),
        None => log::warn!("boot module carries no symbol table: reports show raw addresses"),
    }
    Some(module)
}

/// The VMs the boot module describes; one it describes badly, or that
/// cannot be created, is reported and left out.
fn create_vms(module: &aerie_bootmodule::BootModule<'static>) -> Vec<vm::Vm> {
    let prefixed = module.vm_count() > 1;
    let mut vms = Vec::new();
    for i in 0..module.vm_count() {
        match module.vm(i) {
            Ok(image) => match vm::loader::create(vms.len(), i, image, prefixed) {
                Ok(vm) => {
                    log::info!(
                        "vm {}: {} vCPUs, {} MiB",
                        vm.name,
                        vm.vcpus.len(),
                        image.memory / MIB
                    );
                    vms.push(vm);
                }
                Err(e) => log::error!("vm {}: refused: {e}", image.name),
            },
            Err(e) => log::error!("boot module: vm {i}: refused: {e}"),
        }
    }
    vms
}

fn boot_dtb(record: &BootRecord) -> Option<&'static [u8]> {
    if record.dtb_pa == 0 {
        return None;
    }
    let va = record.dtb_va();
    // SAFETY: the boot tables map the device tree read-only at the window
    // (header first); it stays mapped and unchanged forever.
    let header = unsafe { core::slice::from_raw_parts(va as *const u8, 8) };
    let size = aerie_dt::total_size(header)?;
    // SAFETY: as above, for the whole blob (the window covers totalsize).
    Some(unsafe { core::slice::from_raw_parts(va as *const u8, size) })
}

/// Stop without a console: nothing can be reported.
fn halt() -> ! {
    loop {
        arch::aarch64::sysreg::wfe();
    }
}
