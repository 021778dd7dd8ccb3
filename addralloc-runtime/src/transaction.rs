//! [`Transaction`]: several reservations, releases and pool changes that all happen or
//! none does.
//!
//! The engine journals its own changes while a transaction is open; when the
//! transaction's closure fails (or panics) the journal is played backwards, which
//! restores the exact earlier state at the cost of the transaction's own work, not of
//! the allocator's size. Outside a transaction nothing is journaled.

use core::ops::{Deref, DerefMut};

/// An open transaction on an allocator `F` ([`Allocator`](crate::Allocator) or
/// `DynAllocator`), given to the closure of their `transaction` method. It
/// dereferences to the allocator, so every method works inside it; nested
/// `transaction` calls open nested transactions.
///
/// When the closure returns `Err`, or panics, everything done through the
/// transaction is undone.
pub struct Transaction<'a, F> {
    front: Option<&'a mut F>,
    rollback: fn(&mut F),
}

impl<'a, F> Transaction<'a, F> {
    /// Opens the guard; the caller has begun the engine's transaction.
    pub(crate) fn new(front: &'a mut F, rollback: fn(&mut F)) -> Self {
        Transaction {
            front: Some(front),
            rollback,
        }
    }

    /// Disarms the guard (the caller commits).
    pub(crate) fn into_inner(mut self) -> &'a mut F {
        match self.front.take() {
            Some(f) => f,
            // `front` is only taken here, and this consumes the guard.
            None => unreachable!("a transaction guard is disarmed once"),
        }
    }
}

/// A front whose changes the engine can journal: what [`run`] needs.
pub(crate) trait Journaled {
    fn begin(&mut self);
    fn commit(&mut self);
    fn rollback(&mut self);
}

/// Runs `f` as one transaction on `front`: committed when it returns `Ok`, rolled back
/// when it returns `Err` or unwinds (the guard's `Drop`).
pub(crate) fn run<F: Journaled, T, E>(
    front: &mut F,
    f: impl FnOnce(&mut Transaction<'_, F>) -> Result<T, E>,
) -> Result<T, E> {
    front.begin();
    let mut tx = Transaction::new(front, F::rollback);
    let out = f(&mut tx);
    if out.is_ok() {
        tx.into_inner().commit();
    }
    out
}

impl<F> Drop for Transaction<'_, F> {
    fn drop(&mut self) {
        if let Some(f) = self.front.take() {
            (self.rollback)(f);
        }
    }
}

impl<F> Deref for Transaction<'_, F> {
    type Target = F;
    fn deref(&self) -> &F {
        match &self.front {
            Some(f) => f,
            None => unreachable!("a transaction guard is used only while armed"),
        }
    }
}

impl<F> DerefMut for Transaction<'_, F> {
    fn deref_mut(&mut self) -> &mut F {
        match &mut self.front {
            Some(f) => f,
            None => unreachable!("a transaction guard is used only while armed"),
        }
    }
}
