//! Memory: Aerie's own mappings, physical frames, the heap, guest stage 2,
//! the table pages both stage 2 and user worlds are built from, and the
//! user range each pCPU's space lends the world it runs.

pub mod frames;
pub mod heap;
pub mod kernel_map;
pub mod layout;
pub mod stage2;
pub mod tables;
pub mod user_range;
