//! `station-core`: what the station and its virtual bench share and nothing else. The chip
//! vocabulary (`chip`), the hardware seams (`hw`: small traits, the bundle a unit run talks
//! to, what only a bench can do), and images (`image`: loading, hashing, DfuSe, the image
//! header and the bootloader descriptor's design). It names neither side: the compiler keeps
//! the simulator (`station-sim`) and the engine (`station`) apart over it.

pub mod chip;
pub mod hw;
pub mod image;
