//! [`Fit`]: where a sized request (a memory window) goes.

/// Where a sized request ([`Allocator::reserve_sized`](crate::Allocator::reserve_sized))
/// places its window: the lowest or highest aligned start that fits, or an exact start.
/// As vm-allocator's `AllocPolicy::{FirstMatch, LastMatch, ExactMatch}`, chosen per
/// call; the allocator's [`Policy`](crate::Policy) does not apply to sized requests.
///
/// ```
/// use addralloc_runtime::Fit;
/// let exact: Fit<u64> = Fit::Exact(0x1000);
/// assert_ne!(exact, Fit::First);
/// assert_eq!(Fit::<u64>::default(), Fit::First);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fit<A> {
    /// The lowest aligned start whose window is free (first fit).
    First,
    /// The highest aligned start whose window is free (last fit).
    Last,
    /// Exactly this start: it must be aligned, and the whole window free and inside
    /// one pool.
    Exact(A),
}

impl<A> Default for Fit<A> {
    /// [`Fit::First`].
    fn default() -> Self {
        Fit::First
    }
}

impl<A> Fit<A> {
    /// The exact start, converted; the other fits as they are.
    pub(crate) fn try_map<B, E>(self, f: impl FnOnce(A) -> Result<B, E>) -> Result<Fit<B>, E> {
        Ok(match self {
            Fit::First => Fit::First,
            Fit::Last => Fit::Last,
            Fit::Exact(a) => Fit::Exact(f(a)?),
        })
    }
}
