//! [`Transaction`]: several reservations and releases that all happen or none does.
//!
//! A transaction works on the allocator itself and keeps an undo log of what it did;
//! when the closure fails (or panics) the log is played backwards, which restores the
//! exact earlier state at the cost of the transaction's own work, not of the
//! allocator's size.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Deref;

use crate::address::Address;
use crate::allocator::{Allocator, Opts, Request};
use crate::count::Count;
use crate::engine::state::{with_set, Engine};
use crate::error::Error;
use crate::pattern::{Block, BlockRange, Pattern};

/// One step to undo.
pub(crate) enum Undo {
    /// These runs were reserved (with whatever labels): release them.
    Reserved(Vec<(u128, u128)>),
    /// These runs were released; `labels` are the owner entries that overlapped
    /// `hull` before.
    Released {
        runs: Vec<(u128, u128)>,
        hull: (u128, u128),
        labels: Vec<(u128, u128, Box<str>)>,
    },
}

impl Engine {
    fn labels_overlapping(&self, s: u128, e: u128) -> Vec<(u128, u128, Box<str>)> {
        let before = self.owners.range(..s).next_back();
        let inside = self.owners.range(s..=e);
        before
            .into_iter()
            .chain(inside)
            .filter(|(_, (oe, _))| *oe >= s)
            .map(|(os, (oe, o))| (*os, *oe, o.clone()))
            .collect()
    }

    fn drop_labels_overlapping(&mut self, s: u128, e: u128) {
        for (k, _, _) in self.labels_overlapping(s, e) {
            self.owners.remove(&k);
        }
    }

    fn set_insert(&mut self, s: u128, e: u128) {
        with_set!(&mut self.set, st => st.insert(s, e));
    }

    fn set_remove(&mut self, s: u128, e: u128) {
        self.lower_hints(s);
        with_set!(&mut self.set, st => st.remove(s, e));
    }

    /// Plays an undo log backwards.
    pub(crate) fn rollback(&mut self, log: Vec<Undo>, cursor: u128) {
        for step in log.into_iter().rev() {
            match step {
                Undo::Reserved(runs) => {
                    for (s, e) in runs {
                        self.set_remove(s, e);
                        // Labels of these runs were added by the reservation itself.
                        self.drop_labels_overlapping(s, e);
                        self.reserved = self.reserved.sub(Count::span(s, e));
                    }
                }
                Undo::Released { runs, hull, labels } => {
                    for (s, e) in runs {
                        self.set_insert(s, e);
                        self.reserved = self.reserved.add(Count::span(s, e));
                    }
                    // The release split the captured labels; their pieces lie within the
                    // captured extents, which may reach beyond the hull.
                    let lo = labels.iter().map(|l| l.0).fold(hull.0, u128::min);
                    let hi = labels.iter().map(|l| l.1).fold(hull.1, u128::max);
                    self.drop_labels_overlapping(lo, hi);
                    for (s, e, o) in labels {
                        self.owners.insert(s, (e, o));
                    }
                }
            }
        }
        self.cursor = cursor;
    }
}

/// Reservations and releases that all happen or none does; see
/// [`Allocator::transaction`]. Dereferences to the allocator for queries.
pub struct Transaction<'a, A: Address> {
    alloc: &'a mut Allocator<A>,
    log: Vec<Undo>,
    cursor: u128,
    committed: bool,
}

impl<A: Address> Allocator<A> {
    /// Runs `f` as one transaction: when it returns `Err` (or panics), every
    /// reservation and release it made is undone and the allocator is exactly as it was
    /// before; when it returns `Ok`, all of them stay.
    ///
    /// A hot-plugged device that needs a PCI slot, a drive address and a MAC gets all
    /// three or none.
    ///
    /// ```
    /// # use addralloc_runtime::{Address, Allocator, Field, Pattern, Error};
    /// # use core::fmt;
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # struct Port(u8);
    /// # impl Address for Port {
    /// #     const FIELDS: &'static [Field] = &[Field::new("port", 0, 3)];
    /// #     fn field(&self, _: usize) -> u128 { self.0 as u128 }
    /// #     fn from_fields(v: &[u128]) -> Self { Port(v[0] as u8) }
    /// # }
    /// # impl fmt::Display for Port {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
    /// # }
    /// let mut a = Allocator::<Port>::new();
    /// a.add_pool(Pattern::any())?;
    /// a.reserve(Port(2))?;
    /// let r: Result<(), Error> = a.transaction(|tx| {
    ///     tx.reserve(Port(0))?;
    ///     tx.release(Port(2))?;
    ///     tx.reserve(Port(0))?; // fails: already reserved in this transaction
    ///     Ok(())
    /// });
    /// assert!(r.is_err());
    /// assert!(!a.is_reserved(Port(0)));
    /// assert!(a.is_reserved(Port(2)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn transaction<T, E>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_, A>) -> Result<T, E>,
    ) -> Result<T, E> {
        let cursor = self.engine.cursor;
        let mut tx = Transaction {
            alloc: self,
            log: Vec::new(),
            cursor,
            committed: false,
        };
        let out = f(&mut tx);
        if out.is_ok() {
            tx.committed = true;
        }
        out
    }
}

impl<A: Address> Drop for Transaction<'_, A> {
    fn drop(&mut self) {
        if !self.committed {
            let log = core::mem::take(&mut self.log);
            self.alloc.engine.rollback(log, self.cursor);
        }
    }
}

impl<A: Address> Deref for Transaction<'_, A> {
    type Target = Allocator<A>;
    fn deref(&self) -> &Allocator<A> {
        self.alloc
    }
}

impl<'a, A: Address> Transaction<'a, A> {
    fn request(&mut self, opts: Opts<'a>) -> Request<'_, A> {
        Request {
            alloc: self.alloc,
            opts,
            log: Some(&mut self.log),
        }
    }

    /// A reservation labelled with `owner`, inside this transaction.
    pub fn owned_by<'b>(&'b mut self, owner: &'b str) -> Request<'b, A> {
        Request {
            alloc: self.alloc,
            opts: Opts {
                owner: Some(owner),
                tags: &[],
            },
            log: Some(&mut self.log),
        }
    }

    /// A reservation restricted to pools carrying `tags`, inside this transaction.
    pub fn requiring<'b>(&'b mut self, tags: &'b [&'b str]) -> Request<'b, A> {
        Request {
            alloc: self.alloc,
            opts: Opts { owner: None, tags },
            log: Some(&mut self.log),
        }
    }

    /// As [`Allocator::reserve`].
    pub fn reserve(&mut self, addr: A) -> Result<A, Error> {
        self.request(Opts::default()).reserve(addr)
    }

    /// As [`Allocator::reserve_first`].
    pub fn reserve_first(&mut self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        self.request(Opts::default()).reserve_first(pattern)
    }

    /// As [`Allocator::reserve_any`].
    pub fn reserve_any(&mut self) -> Result<A, Error> {
        self.request(Opts::default()).reserve_any()
    }

    /// As [`Allocator::reserve_preferred`].
    pub fn reserve_preferred(&mut self, preferences: &[Pattern<A>]) -> Result<(A, usize), Error> {
        self.request(Opts::default()).reserve_preferred(preferences)
    }

    /// As [`Allocator::reserve_block`].
    pub fn reserve_block(
        &mut self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<BlockRange<A>, Error> {
        self.request(Opts::default()).reserve_block(pattern, block)
    }

    /// As [`Allocator::reserve_range`].
    pub fn reserve_range(&mut self, block: BlockRange<A>) -> Result<BlockRange<A>, Error> {
        self.request(Opts::default()).reserve_range(block)
    }

    /// As [`Allocator::release`].
    pub fn release(&mut self, addr: A) -> Result<(), Error> {
        let i = self.alloc.index(&addr)?;
        let labels = self.alloc.engine.labels_overlapping(i, i);
        self.alloc.release(addr)?;
        self.log.push(Undo::Released {
            runs: alloc::vec![(i, i)],
            hull: (i, i),
            labels,
        });
        Ok(())
    }

    /// As [`Allocator::release_block`].
    pub fn release_block(&mut self, block: BlockRange<A>) -> Result<(), Error> {
        let runs = self.alloc.runs_of_block(&block);
        let hull = (
            self.alloc.index(&block.first())?,
            self.alloc.index(&block.last())?,
        );
        let labels = self.alloc.engine.labels_overlapping(hull.0, hull.1);
        self.alloc.release_block(block)?;
        self.log.push(Undo::Released { runs, hull, labels });
        Ok(())
    }
}
