//! Shared parts of the fuzz targets.

pub mod reference;
