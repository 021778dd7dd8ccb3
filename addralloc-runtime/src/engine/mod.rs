//! The untyped range engine: indices, ranges and boxes.
//!
//! [`Allocator`](crate::Allocator) and the dynamic allocator are thin typed layers over
//! [`state::Engine`], which works on packed indices (see [`grid::Layout`]).

pub(crate) mod grid;
pub(crate) mod idx;
pub(crate) mod journal;
pub(crate) mod rangeset;
pub(crate) mod records;
pub(crate) mod sized;
pub(crate) mod state;

pub use self::grid::MAX_FIELDS;
