//! [`Shared`]: one allocator used by many threads, for both fronts.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::address::Address;
use crate::allocator::Allocator;
use crate::count::Count;
use crate::error::Error;
use crate::pattern::{Block, BlockRange, Pattern};
use crate::transaction::Transaction;

/// An allocator ([`Allocator`] or `DynAllocator`) that many threads reserve from and
/// release to: a cheap-to-clone handle to one allocator behind a mutex.
///
/// Every call holds the lock for one operation (or one whole
/// [`transaction`](Shared::transaction)), so no address is ever handed out twice. A
/// thread that panics while holding the lock cannot leave a half-done operation behind
/// (operations check before they change anything, and transactions roll back on
/// unwind), so a poisoned lock is taken over rather than propagated.
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
pub struct Shared<F> {
    inner: Arc<Mutex<F>>,
}

/// A typed [`Allocator`] shared between threads.
pub type SharedAllocator<A> = Shared<Allocator<A>>;

/// A `DynAllocator` shared between threads.
#[cfg(feature = "schema")]
pub type SharedDynAllocator = Shared<crate::dynamic::DynAllocator>;

impl<F> Clone for Shared<F> {
    fn clone(&self) -> Self {
        Shared {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F> Shared<F> {
    /// Shares `alloc`.
    pub fn new(alloc: F) -> Self {
        Shared {
            inner: Arc::new(Mutex::new(alloc)),
        }
    }

    /// Locks the allocator for several calls in a row.
    pub fn lock(&self) -> MutexGuard<'_, F> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with the allocator locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut F) -> T) -> T {
        f(&mut self.lock())
    }

    /// The allocator back, if this is the last handle.
    pub fn try_unwrap(self) -> Result<F, Self> {
        match Arc::try_unwrap(self.inner) {
            Ok(m) => Ok(m.into_inner().unwrap_or_else(|p| p.into_inner())),
            Err(inner) => Err(Shared { inner }),
        }
    }
}

/// Forwards the common operations of a front, holding the lock for each.
macro_rules! forward {
    ($front:ty, $($gen:tt)*) => {
        impl<$($gen)*> Shared<$front> {
            /// As the allocator's `transaction`, holding the lock throughout.
            pub fn transaction<T, E>(
                &self,
                f: impl FnOnce(&mut Transaction<'_, $front>) -> Result<T, E>,
            ) -> Result<T, E> {
                self.lock().transaction(f)
            }

            /// As the allocator's `release_owner`.
            pub fn release_owner(&self, owner: &str) -> Count {
                self.lock().release_owner(owner)
            }

            /// As the allocator's `free_count`.
            pub fn free_count(&self) -> Count {
                self.lock().free_count()
            }

            /// As the allocator's `reserved_count`.
            pub fn reserved_count(&self) -> Count {
                self.lock().reserved_count()
            }
        }
    };
}

forward!(Allocator<A>, A: Address);

#[cfg(feature = "schema")]
mod dynamic_forwards {
    use super::*;
    use crate::dynamic::{
        AddressArg, BlockArg, DynAddress, DynAllocator, DynBlockRange, PatternArg,
    };

    forward!(DynAllocator,);

    impl Shared<DynAllocator> {
        /// As [`DynAllocator::reserve_any`].
        pub fn reserve_any(&self) -> Result<DynAddress, Error> {
            self.lock().reserve_any()
        }

        /// As [`DynAllocator::reserve`].
        pub fn reserve(&self, addr: impl AddressArg) -> Result<DynAddress, Error> {
            self.lock().reserve(addr)
        }

        /// As [`DynAllocator::reserve_first`].
        pub fn reserve_first(&self, pattern: impl PatternArg) -> Result<DynAddress, Error> {
            self.lock().reserve_first(pattern)
        }

        /// As [`DynAllocator::reserve_block`].
        pub fn reserve_block(
            &self,
            pattern: impl PatternArg,
            block: impl BlockArg,
        ) -> Result<DynBlockRange, Error> {
            self.lock().reserve_block(pattern, block)
        }

        /// As [`DynAllocator::release`].
        pub fn release(&self, addr: impl AddressArg) -> Result<(), Error> {
            self.lock().release(addr)
        }

        /// As [`DynAllocator::release_block`].
        pub fn release_block(&self, block: &DynBlockRange) -> Result<(), Error> {
            self.lock().release_block(block)
        }

        /// As [`DynAllocator::is_reserved`].
        pub fn is_reserved(&self, addr: impl AddressArg) -> bool {
            self.lock().is_reserved(addr)
        }
    }
}

impl<A: Address> Shared<Allocator<A>> {
    /// As [`Allocator::reserve_any`].
    pub fn reserve_any(&self) -> Result<A, Error> {
        self.lock().reserve_any()
    }

    /// As [`Allocator::reserve`].
    pub fn reserve(&self, addr: A) -> Result<A, Error> {
        self.lock().reserve(addr)
    }

    /// As [`Allocator::reserve_first`].
    pub fn reserve_first(&self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        self.lock().reserve_first(pattern)
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
    pub fn release_block(&self, block: &BlockRange<A>) -> Result<(), Error> {
        self.lock().release_block(block)
    }

    /// As [`Allocator::is_reserved`].
    pub fn is_reserved(&self, addr: A) -> bool {
        self.lock().is_reserved(addr)
    }
}
