//! [`SharedAllocator`]: one allocator used by many threads.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::address::Address;
use crate::allocator::Allocator;
use crate::count::Count;
use crate::error::Error;
use crate::pattern::{Block, BlockRange, Pattern};
use crate::transaction::Transaction;

/// An [`Allocator`] that many threads reserve from and release to: a cheap-to-clone
/// handle to one allocator behind a mutex.
///
/// Every call holds the lock for one operation (or one whole
/// [`transaction`](SharedAllocator::transaction)), so no address is ever handed out
/// twice. A thread that panics while holding the lock cannot leave a half-done
/// operation behind (operations check before they change anything, and transactions
/// roll back on unwind), so a poisoned lock is taken over rather than propagated.
///
/// ```
/// # use addralloc_runtime::{Address, Allocator, Field, Pattern, SharedAllocator};
/// # use core::fmt;
/// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// # struct Port(u16);
/// # impl Address for Port {
/// #     const FIELDS: &'static [Field] = &[Field::new("port", 0, 999)];
/// #     fn field(&self, _: usize) -> u128 { self.0 as u128 }
/// #     fn from_fields(v: &[u128]) -> Self { Port(v[0] as u16) }
/// # }
/// # impl fmt::Display for Port {
/// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
/// # }
/// let mut a = Allocator::<Port>::new();
/// a.add_pool(Pattern::any())?;
/// let shared = SharedAllocator::new(a);
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let s = shared.clone();
///         std::thread::spawn(move || (0..10).map(|_| s.reserve_any().unwrap()).collect::<Vec<_>>())
///     })
///     .collect();
/// let mut all: Vec<u16> = handles.into_iter().flat_map(|h| h.join().unwrap()).map(|p| p.0).collect();
/// all.sort();
/// all.dedup();
/// assert_eq!(all.len(), 40);
/// # Ok::<(), addralloc_runtime::Error>(())
/// ```
pub struct SharedAllocator<A> {
    inner: Arc<Mutex<Allocator<A>>>,
}

impl<A> Clone for SharedAllocator<A> {
    fn clone(&self) -> Self {
        SharedAllocator {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A: Address> SharedAllocator<A> {
    /// Shares `alloc`.
    pub fn new(alloc: Allocator<A>) -> Self {
        SharedAllocator {
            inner: Arc::new(Mutex::new(alloc)),
        }
    }

    /// Locks the allocator for several calls in a row.
    pub fn lock(&self) -> MutexGuard<'_, Allocator<A>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with the allocator locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut Allocator<A>) -> T) -> T {
        f(&mut self.lock())
    }

    /// As [`Allocator::transaction`], holding the lock throughout.
    pub fn transaction<T, E>(
        &self,
        f: impl FnOnce(&mut Transaction<'_, A>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.lock().transaction(f)
    }

    /// As [`Allocator::reserve`].
    pub fn reserve(&self, addr: A) -> Result<A, Error> {
        self.lock().reserve(addr)
    }

    /// As [`Allocator::reserve_first`].
    pub fn reserve_first(&self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        self.lock().reserve_first(pattern)
    }

    /// As [`Allocator::reserve_any`].
    pub fn reserve_any(&self) -> Result<A, Error> {
        self.lock().reserve_any()
    }

    /// As [`Allocator::reserve_block`].
    pub fn reserve_block(
        &self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<BlockRange<A>, Error> {
        self.lock().reserve_block(pattern, block)
    }

    /// As [`Allocator::release`].
    pub fn release(&self, addr: A) -> Result<(), Error> {
        self.lock().release(addr)
    }

    /// As [`Allocator::release_block`].
    pub fn release_block(&self, block: BlockRange<A>) -> Result<(), Error> {
        self.lock().release_block(block)
    }

    /// As [`Allocator::is_reserved`].
    pub fn is_reserved(&self, addr: A) -> bool {
        self.lock().is_reserved(addr)
    }

    /// As [`Allocator::free_count`].
    pub fn free_count(&self) -> Count {
        self.lock().free_count()
    }

    /// As [`Allocator::reserved_count`].
    pub fn reserved_count(&self) -> Count {
        self.lock().reserved_count()
    }

    /// The allocator back, if this is the last handle.
    pub fn try_unwrap(self) -> Result<Allocator<A>, Self> {
        match Arc::try_unwrap(self.inner) {
            Ok(m) => Ok(m.into_inner().unwrap_or_else(|p| p.into_inner())),
            Err(inner) => Err(SharedAllocator { inner }),
        }
    }
}
