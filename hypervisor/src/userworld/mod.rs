//! EL0 user worlds (C6): small static programs that Aerie runs at EL0 in
//! the 39-bit EL1&0 regime, on the same page-table hierarchy as its own
//! 48-bit EL2 space. A world's level-1 table is entry 0 of Aerie's root
//! while it runs, so Aerie reads and writes the world's buffers at the
//! world's own addresses; everything of Aerie's lies above 2^39, outside
//! anything the world can name. A world that faults, or runs out of its
//! time, is ended with a line saying why; Aerie carries on.
//!
//! Today's worlds are Aerie's built-in programs (`userworlds/`), run one
//! after another on the boot pCPU before it starts scheduling vCPUs, as
//! named on the command line: `aerie.user=hello,probe:kernel-read`.

mod space;
mod world;

use crate::arch::aarch64::cpu::CpuInfo;
use crate::mm::kernel_map::KernelSpace;
use world::{End, World};

/// The built-in programs, as the `userworlds/` workspace builds them.
const PROGRAMS: [(&str, &[u8]); 3] = [
    (
        "hello",
        include_bytes!(concat!(env!("AERIE_USERWORLDS"), "/hello")),
    ),
    (
        "probe",
        include_bytes!(concat!(env!("AERIE_USERWORLDS"), "/probe")),
    ),
    (
        "bench",
        include_bytes!(concat!(env!("AERIE_USERWORLDS"), "/bench")),
    ),
];

/// Run each world of `spec` (`name[:arg],...`) to its end, in order.
pub fn run_at_boot(spec: &'static str, kernel: &mut KernelSpace, cpu: &CpuInfo) {
    for (id, item) in spec.split(',').filter(|s| !s.is_empty()).enumerate() {
        let id = id + 1;
        let (name, arg) = item.split_once(':').unwrap_or((item, ""));
        let Some((name, elf)) = PROGRAMS.iter().find(|(n, _)| *n == name) else {
            log::error!("user world {name}[{id}]: no such program (built in: hello, probe, bench)");
            continue;
        };
        let mut world = match World::load(id, name, arg, elf) {
            Ok(w) => w,
            Err(e) => {
                log::error!("user world {name}[{id}]: refused: {e}");
                continue;
            }
        };
        match world.run(kernel, cpu) {
            End::Exited(status) => log::info!(
                "user world {name}[{id}]: exited with status {status} ({} system calls)",
                world.syscalls
            ),
            End::Killed(why) => log::info!("user world {name}[{id}]: killed: {why}"),
        }
    }
}
