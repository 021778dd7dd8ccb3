//! addralloc: declarative address schemas compiled into strongly-typed allocators.
//!
//! An address type — PCI `domain:bus:slot.function`, a drive address, an IPv4 address —
//! is described once; addralloc gives it a typed [`Allocator`] over one shared range
//! engine that stores ranges, not addresses.
//!
//! See the crate README for a tour.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use addralloc_runtime::*;
