//! The engine's benchmarks (`station bench torture`, `station bench fixtures`): the exhaustive
//! sweep by points and by size, `station::run` on one fixture and on N, and their arithmetic.

pub mod fixtures;
pub mod stats;
pub mod torture;
