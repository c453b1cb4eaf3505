//! A small reader for flattened device trees (devicetree spec v0.4, ch. 5).
//! Written here rather than borrowed so errors can say exactly what is wrong
//! and `reg` decoding honours every parent's #address-cells/#size-cells.

pub mod cells;
pub mod header;
pub mod tree;
