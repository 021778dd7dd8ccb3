//! The engine's journal: while a transaction is open, every primitive change the
//! engine makes to itself is recorded so that it can be undone. Outside a
//! transaction nothing is recorded and nothing is allocated.

use alloc::vec::Vec;

use super::records::Rec;
use super::state::Pool;

/// One primitive change; undone by its inverse.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// `s..=e` was added to the reserved set.
    SetInsert(u128, u128),
    /// `s..=e` was taken out of the reserved set.
    SetRemove(u128, u128),
    /// `s..=e` was added to the reserved set as one sealed range.
    SealInsert(u128, u128),
    /// The sealed range `s..=e` was taken out of the reserved set.
    SealRemove(u128, u128),
    /// A record run was added at this key.
    RecInsert(u128),
    /// This record run was removed.
    RecRemove(u128, Rec),
    /// A box corner was added for this head.
    BoxInsert(u128),
    /// This box corner was removed.
    BoxRemove(u128, u128),
    /// A pool was inserted at this position; the tag list had this length before.
    PoolInsert(usize, usize),
    /// This pool was removed from this position.
    PoolRemove(usize, alloc::boxed::Box<Pool>),
    /// A next-fit cursor changed; its earlier value (`None`: it did not exist).
    Cursor(super::state::CursorKey, Option<u128>),
}

/// Open transactions: the journal and where each nesting level began.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal {
    pub(crate) ops: Vec<Op>,
    /// Journal length at the start of each open transaction, outermost first.
    pub(crate) marks: Vec<usize>,
}

impl Journal {
    #[inline]
    pub(crate) fn active(&self) -> bool {
        !self.marks.is_empty()
    }

    #[inline]
    pub(crate) fn push(&mut self, op: Op) {
        if self.active() {
            self.ops.push(op);
        }
    }
}
