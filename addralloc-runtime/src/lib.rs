//! The runtime behind [addralloc](https://docs.rs/addralloc): the range engine, the
//! typed [`Allocator`], patterns, blocks and errors.
//!
//! Most users depend on the `addralloc` facade crate, which re-exports everything here
//! together with `#[derive(AddressSpace)]` and `include_schema!`. This crate is
//! `#![no_std]` with `alloc` when its default `std` feature is off.
//!
//! ```
//! use addralloc_runtime::{Address, Allocator, Field, Pattern};
//! # use core::fmt;
//! #[derive(Clone, Copy, Debug, PartialEq, Eq)]
//! struct Ipv4([u8; 4]);
//!
//! impl Address for Ipv4 {
//!     const FIELDS: &'static [Field] = &[
//!         Field::new("a", 0, 255), Field::new("b", 0, 255),
//!         Field::new("c", 0, 255), Field::new("d", 0, 255),
//!     ];
//!     fn field(&self, i: usize) -> u128 { self.0[i] as u128 }
//!     fn from_fields(v: &[u128]) -> Self { Ipv4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8]) }
//! }
//! # impl fmt::Display for Ipv4 {
//! #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//! #         write!(f, "{}.{}.{}.{}", self.0[0], self.0[1], self.0[2], self.0[3])
//! #     }
//! # }
//!
//! let mut ipam = Allocator::<Ipv4>::new();
//! ipam.add_pool("a=192, b=168, c=1, d=2..=240".parse::<Pattern<Ipv4>>()?)?;
//! assert_eq!(ipam.reserve_any()?.to_string(), "192.168.1.2");
//! assert_eq!(ipam.free_count(), 238u128);
//! # Ok::<(), addralloc_runtime::Error>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod address;
mod allocator;
mod allocator_core;
mod count;
pub mod disk;
#[cfg(feature = "schema")]
pub mod dynamic;
mod engine;
mod error;
pub mod format;
mod front;
mod linear;
mod pattern;
mod policy;
#[cfg(feature = "schema")]
pub mod schema;
#[cfg(feature = "std")]
mod shared;
mod snapshot;
mod transaction;
mod window;

pub use crate::address::{Address, Field};
pub use crate::allocator::{Allocator, Request};
pub use crate::allocator_core::MAX_RUNS;
pub use crate::count::Count;
#[cfg(feature = "schema")]
pub use crate::dynamic::{DynAddress, DynAllocator, DynSchema, DynType};
pub use crate::engine::MAX_FIELDS;
pub use crate::error::Error;
pub use crate::format::Format;
pub use crate::pattern::{Block, BlockRange, FieldRange, Pattern, Unsigned};
pub use crate::policy::{ParsePolicyError, Policy};
#[cfg(all(feature = "std", feature = "schema"))]
pub use crate::shared::SharedDynAllocator;
#[cfg(feature = "std")]
pub use crate::shared::{Shared, SharedAllocator};
pub use crate::snapshot::{
    ChildSnapshot, LinearSnapshot, NextFitSnapshot, PoolSnapshot, ReservationSnapshot, Snapshot,
    SNAPSHOT_VERSION,
};
pub use crate::transaction::Transaction;
pub use crate::window::Fit;
