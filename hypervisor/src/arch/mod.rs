//! Architecture support. Only this module touches system registers or holds
//! assembly.

pub mod aarch64;
