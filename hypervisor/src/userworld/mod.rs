//! EL0 user worlds (C6): small static programs that Aerie runs at EL0 in
//! the 39-bit EL1&0 regime, on the same page-table hierarchy as its own
//! 48-bit EL2 space. A world's level-1 table is entry 0 of the root of the
//! pCPU it runs on (`mm::user_range`), so Aerie reads and writes the world's buffers at the
//! world's own addresses; everything of Aerie's lies above 2^39, outside
//! anything the world can name. A world that faults, or runs out of its
//! time, is ended with a line saying why; Aerie carries on.
//!
//! Worlds come from the boot module (the config's `[[world]]` tables: any
//! static AArch64 program) and from Aerie's built-in programs
//! (`userworlds/`) named on the command line
//! (`aerie.user=hello,probe:kernel-read`); all are loaded at boot.
//! The scheduler runs them beside the vCPUs (`sched::worlds`): each takes
//! turns of a time slice on any pCPU, several at once on several pCPUs.

mod space;
mod world;

use aerie_bootmodule::BootModule;
use alloc::vec::Vec;
pub use world::{End, Turn, World};

/// The built-in programs, as the `userworlds/` workspace builds them.
const PROGRAMS: [(&str, &[u8]); 5] = [
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
    (
        "vmstat",
        include_bytes!(concat!(env!("AERIE_USERWORLDS"), "/vmstat")),
    ),
    (
        "vmctl",
        include_bytes!(concat!(env!("AERIE_USERWORLDS"), "/vmctl")),
    ),
];

/// The names of the built-in programs, for messages.
fn program_names() -> alloc::string::String {
    PROGRAMS.map(|(n, _)| n).join(", ")
}

/// Load the worlds the boot module carries, world `i` of the module with
/// id `i + 1`. One the module describes badly, or whose program cannot be
/// loaded, is reported and skipped.
pub fn load_from_module(module: &BootModule<'static>) -> Vec<World> {
    let mut worlds = Vec::new();
    for i in 0..module.world_count() {
        let id = i + 1;
        match module.world(i) {
            Ok(image) => match World::load(id, image.name, image.arg, image.program) {
                Ok(w) => worlds.push(w),
                Err(e) => log::error!("user world {}[{id}]: refused: {e}", image.name),
            },
            Err(e) => log::error!("boot module: world {i}: refused: {e}"),
        }
    }
    worlds
}

/// Load each built-in world of `spec` (`name[:arg],...`); the `n`th item
/// (from 0) gets id `first_id + n`. An item that names no program, or whose
/// program cannot be loaded, is reported and skipped.
pub fn load_built_in(spec: &'static str, first_id: usize) -> Vec<World> {
    let mut worlds = Vec::new();
    for (n, item) in spec.split(',').filter(|s| !s.is_empty()).enumerate() {
        let id = first_id + n;
        let (name, arg) = item.split_once(':').unwrap_or((item, ""));
        let Some((name, elf)) = PROGRAMS.iter().find(|(n, _)| *n == name) else {
            log::error!(
                "user world {name}[{id}]: no such program (built in: {})",
                program_names()
            );
            continue;
        };
        match World::load(id, name, arg, elf) {
            Ok(w) => worlds.push(w),
            Err(e) => log::error!("user world {name}[{id}]: refused: {e}"),
        }
    }
    worlds
}

/// Say how `world` ended.
pub fn report_end(world: &World, end: &End) {
    let (name, id) = (world.name, world.id);
    match end {
        End::Exited(status) => log::info!(
            "user world {name}[{id}]: exited with status {status} ({} system calls)",
            world.syscalls
        ),
        End::Killed(why) => log::info!("user world {name}[{id}]: killed: {why}"),
    }
}
