//! [`Allocator<A>`]: the typed allocator over the range engine.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;
use core::marker::PhantomData;

use crate::address::{Address, Field};
use crate::allocator_core::{Core, Opts, Space};
use crate::count::Count;
use crate::engine::grid::Layout;
use crate::error::Error;
use crate::pattern::{Block, BlockRange, Pattern, RawPattern};
use crate::policy::Policy;
use crate::transaction::{self, Journaled, Transaction};
use crate::window::Fit;

/// Hands out addresses of type `A`: pools, exact and automatic reservations, aligned
/// blocks, owners, tags and policies.
///
/// Free and reserved space are kept as ranges, never one entry per address, so memory
/// grows with fragmentation and not with the number of addresses. Every method that
/// fails leaves the allocator exactly as it was.
///
/// ```
/// use addralloc_runtime::{Address, Allocator, Field, Pattern, Block};
/// # use core::fmt;
/// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// # struct Pci { bus: u8, slot: u8, function: u8 }
/// # impl Address for Pci {
/// #     const FIELDS: &'static [Field] =
/// #         &[Field::new("bus", 0, 255), Field::new("slot", 0, 31), Field::new("function", 0, 7)];
/// #     fn field(&self, i: usize) -> u128 { [self.bus, self.slot, self.function][i] as u128 }
/// #     fn from_fields(v: &[u128]) -> Self { Pci { bus: v[0] as u8, slot: v[1] as u8, function: v[2] as u8 } }
/// # }
/// # impl fmt::Display for Pci {
/// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
/// #         write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.slot, self.function)
/// #     }
/// # }
/// let mut alloc = Allocator::<Pci>::new();
/// alloc.add_pool("bus=0, slot=1..=31".parse::<Pattern<Pci>>()?)?;
///
/// // Chipset functions at fixed places, with owners.
/// alloc.owned_by("isa-bridge").reserve(Pci { bus: 0, slot: 1, function: 0 })?;
/// let err = alloc.reserve(Pci { bus: 0, slot: 1, function: 0 }).unwrap_err();
/// assert_eq!(err.to_string(), "address 00:01.0 is already reserved by `isa-bridge`");
///
/// // A whole free slot for a multifunction device.
/// let slot = alloc.reserve_block(Pattern::any(), Block::single().extent(2, 8))?;
/// assert_eq!(slot.first().to_string(), "00:02.0");
/// assert_eq!(slot.last().to_string(), "00:02.7");
///
/// // Single functions fill the lowest free place.
/// assert_eq!(alloc.reserve_any()?.to_string(), "00:01.1");
/// # Ok::<(), addralloc_runtime::Error>(())
/// ```
pub struct Allocator<A> {
    pub(crate) core: Core<Typed<A>>,
}

/// The [`Space`] of a compiled address type.
pub(crate) struct Typed<A>(PhantomData<fn() -> A>);

impl<A> Clone for Typed<A> {
    fn clone(&self) -> Self {
        Typed(PhantomData)
    }
}

impl<A: Address> Space for Typed<A> {
    type Field = Field;

    fn fields(&self) -> &[Field] {
        A::FIELDS
    }

    fn text(&self, layout: &Layout, idx: u128) -> String {
        addr_at::<A>(layout, idx).to_string()
    }

    fn radix(&self, i: usize) -> u8 {
        if A::hex_field(i) {
            crate::pattern::HEX
        } else {
            crate::pattern::DEC
        }
    }
}

/// The address at index `idx`.
#[inline]
pub(crate) fn addr_at<A: Address>(layout: &Layout, idx: u128) -> A {
    let n = A::FIELDS.len();
    if n <= 4 {
        // The common case (PCI, drive, IPv4) without zeroing 16 values.
        let mut v = [0u128; 4];
        for (i, slot) in v.iter_mut().enumerate().take(n) {
            *slot = layout.value(idx, i);
        }
        return A::from_fields(&v[..n]);
    }
    let mut v = [0u128; crate::engine::MAX_FIELDS];
    for (i, slot) in v.iter_mut().enumerate().take(n) {
        *slot = layout.value(idx, i);
    }
    A::from_fields(&v[..n])
}

impl<A> Clone for Allocator<A> {
    fn clone(&self) -> Self {
        Allocator {
            core: self.core.clone(),
        }
    }
}

impl<A: Address> fmt::Debug for Allocator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.core.engine;
        f.debug_struct("Allocator")
            .field("policy", &e.policy())
            .field("pools", &e.pools().count())
            .field("reserved", &e.reserved_count())
            .field("free", &e.free_count())
            .finish()
    }
}

impl<A: Address> Default for Allocator<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Address> Allocator<A> {
    /// An allocator with no pools, using [`Policy::LowestFirst`].
    ///
    /// # Panics
    ///
    /// If `A`'s fields cannot be packed (see [`Address`]); derived and schema types are
    /// checked at compile time. [`Allocator::try_new`] reports it as an error instead.
    #[must_use]
    pub fn new() -> Self {
        Self::with_policy(Policy::default())
    }

    /// An allocator with no pools, using `policy`.
    ///
    /// # Panics
    ///
    /// As [`Allocator::new`].
    #[must_use]
    pub fn with_policy(policy: Policy) -> Self {
        match Self::try_with_policy(policy) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    /// An allocator with no pools, or [`Error::Layout`] when `A`'s fields cannot be packed.
    pub fn try_new() -> Result<Self, Error> {
        Self::try_with_policy(Policy::default())
    }

    /// As [`Allocator::try_new`], with `policy`.
    pub fn try_with_policy(policy: Policy) -> Result<Self, Error> {
        Ok(Allocator {
            core: Core::new(Typed(PhantomData), policy)?,
        })
    }

    /// The allocation policy.
    pub fn policy(&self) -> Policy {
        self.core.engine.policy()
    }

    // ----- conversions -------------------------------------------------------

    #[inline]
    pub(crate) fn index(&self, addr: &A) -> Result<u128, Error> {
        for (i, f) in A::FIELDS.iter().enumerate() {
            let v = addr.field(i);
            if !f.contains(v) {
                return Err(Error::OutOfRange {
                    field: f.name.to_string(),
                    value: v,
                    min: f.min,
                    max: f.max,
                });
            }
        }
        Ok(self.core.engine.layout.index_of(|i| addr.field(i)))
    }

    #[inline]
    pub(crate) fn addr(&self, idx: u128) -> A {
        addr_at(&self.core.engine.layout, idx)
    }

    fn range(&self, first: u128, last: u128) -> Result<BlockRange<A>, Error> {
        let (a, b) = (self.addr(first), self.addr(last));
        BlockRange::new(a, b).ok_or_else(|| Error::BadPattern {
            pattern: alloc::format!("{a}..={b}"),
            reason: "the first address must not exceed the last on any field".to_string(),
        })
    }

    // ----- pools -------------------------------------------------------------

    /// Adds a pool: addresses that automatic choice may use, and that exact
    /// reservations must lie in. Pools may not overlap.
    pub fn add_pool(&mut self, pattern: impl Into<Pattern<A>>) -> Result<(), Error> {
        self.add_pool_tagged(pattern, &[])
    }

    /// Adds a pool carrying `tags` (at most 64 distinct tags per allocator); a request
    /// made through [`Allocator::requiring`] only uses pools carrying all its tags.
    pub fn add_pool_tagged(
        &mut self,
        pattern: impl Into<Pattern<A>>,
        tags: &[&str],
    ) -> Result<(), Error> {
        self.core.add_pool(&pattern.into().raw(), tags)
    }

    /// Removes the pool that is exactly `pattern` (as [`Allocator::pools`] lists it).
    /// Refused, changing nothing, while any address in it is reserved.
    pub fn remove_pool(&mut self, pattern: impl Into<Pattern<A>>) -> Result<(), Error> {
        self.core.remove_pool(&pattern.into().raw())
    }

    /// The pools, as patterns with their tags, in address order.
    pub fn pools(&self) -> impl Iterator<Item = (Pattern<A>, Vec<&str>)> + '_ {
        self.core
            .pools()
            .map(|(raw, tags)| (Pattern::from_raw(raw), tags))
    }

    // ----- requests ----------------------------------------------------------

    /// Starts a request whose reservations carry the owner label `owner`: a later
    /// conflict names it, and [`Allocator::owner_of`] returns it.
    pub fn owned_by<'a>(&'a mut self, owner: &'a str) -> Request<'a, A> {
        Request {
            alloc: self,
            opts: Opts {
                owner: Some(owner),
                tags: &[],
            },
        }
    }

    /// Starts a request that may only use pools carrying every tag in `tags`.
    pub fn requiring<'a>(&'a mut self, tags: &'a [&'a str]) -> Request<'a, A> {
        Request {
            alloc: self,
            opts: Opts { owner: None, tags },
        }
    }

    /// Reserves exactly `addr`. Errors: a field out of range, outside every pool,
    /// already reserved (naming the holder).
    pub fn reserve(&mut self, addr: A) -> Result<A, Error> {
        self.reserve_with(addr, Opts::default())
    }

    /// Reserves the first free address matching `pattern`, by policy.
    pub fn reserve_first(&mut self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        self.reserve_first_with(&pattern.into().raw(), Opts::default())
    }

    /// Reserves any free address in the pools, by policy.
    pub fn reserve_any(&mut self) -> Result<A, Error> {
        self.reserve_any_with(Opts::default())
    }

    /// Reserves the first free address of the first pattern in `preferences` that has
    /// one; returns the address and the position of the pattern that gave it.
    pub fn reserve_preferred<P: Borrow<Pattern<A>>>(
        &mut self,
        preferences: impl IntoIterator<Item = P>,
    ) -> Result<(A, usize), Error> {
        self.reserve_preferred_with(preferences, Opts::default())
    }

    /// Reserves a whole free block with the extents of `block`, naturally aligned,
    /// inside `pattern` and inside one pool: a whole PCI slot (`function` extent 8), an
    /// IPv4 /29 (last octet extent 8). The block is one reservation: it is released
    /// whole with [`Allocator::release_block`].
    pub fn reserve_block(
        &mut self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<BlockRange<A>, Error> {
        self.reserve_block_with(&pattern.into().raw(), &block.into(), Opts::default())
    }

    /// Reserves every address of the box from `first` to `last`, field by field (it
    /// need not be aligned); all must be free and inside one pool. One reservation.
    pub fn reserve_range(&mut self, first: A, last: A) -> Result<BlockRange<A>, Error> {
        self.reserve_range_with(first, last, Opts::default())
    }

    pub(crate) fn reserve_with(&mut self, addr: A, o: Opts<'_>) -> Result<A, Error> {
        let idx = self.index(&addr)?;
        self.core.reserve(idx, o)?;
        Ok(addr)
    }

    pub(crate) fn reserve_first_with(&mut self, raw: &RawPattern, o: Opts<'_>) -> Result<A, Error> {
        let idx = self.core.reserve_first(raw, o)?;
        Ok(self.addr(idx))
    }

    pub(crate) fn reserve_any_with(&mut self, o: Opts<'_>) -> Result<A, Error> {
        let idx = self.core.reserve_any(o)?;
        Ok(self.addr(idx))
    }

    pub(crate) fn reserve_preferred_with<P: Borrow<Pattern<A>>>(
        &mut self,
        prefs: impl IntoIterator<Item = P>,
        o: Opts<'_>,
    ) -> Result<(A, usize), Error> {
        let raws: Vec<RawPattern> = prefs.into_iter().map(|p| p.borrow().raw()).collect();
        let (idx, i) = self.core.reserve_preferred(&raws, o)?;
        Ok((self.addr(idx), i))
    }

    pub(crate) fn reserve_block_with(
        &mut self,
        raw: &RawPattern,
        block: &Block<A>,
        o: Opts<'_>,
    ) -> Result<BlockRange<A>, Error> {
        let (first, last) = self
            .core
            .reserve_block(raw, &block.extents()[..A::FIELDS.len()], o)?;
        self.range(first, last)
    }

    pub(crate) fn reserve_range_with(
        &mut self,
        first: A,
        last: A,
        o: Opts<'_>,
    ) -> Result<BlockRange<A>, Error> {
        let (a, b) = (self.index(&first)?, self.index(&last)?);
        self.core.reserve_range(a, b, o)?;
        self.range(a, b)
    }

    // ----- releases ----------------------------------------------------------

    /// Gives back the reservation of exactly `addr` (hot-unplug). An address that is
    /// part of a larger reservation (a block or range) is refused, naming that
    /// reservation and its owner, and nothing changes: release the block, or cut it
    /// explicitly with [`Allocator::release_range`].
    pub fn release(&mut self, addr: A) -> Result<(), Error> {
        let idx = self.index(&addr)?;
        self.core.release(idx)
    }

    /// Gives back one whole reservation: exactly the block or range a reserve call
    /// returned (or a single reserved address). Anything else — part of a reservation,
    /// or parts of several — is refused naming what is there, and nothing changes.
    pub fn release_block(&mut self, block: &BlockRange<A>) -> Result<(), Error> {
        let (a, b) = (self.index(&block.first())?, self.index(&block.last())?);
        if block.is_linear() {
            return self.core.release_run(a, b);
        }
        self.core.release_block(a, b)
    }

    /// Gives back every address of the box from `first` to `last`, all of which must be
    /// reserved, whatever reservations they belong to: the explicit partial release.
    /// The parts of reservations outside the box stay reserved with their owners (each
    /// remaining run becomes a reservation of its own). Returns how many addresses
    /// were freed.
    ///
    /// A subdivided block (see [`Allocator::subdivide`]) the box meets must hold no
    /// children: otherwise [`Error::PoolInUse`] names one of them and nothing changes.
    /// An empty subdivided block released or cut loses its child allocator.
    pub fn release_range(&mut self, first: A, last: A) -> Result<Count, Error> {
        let (a, b) = (self.index(&first)?, self.index(&last)?);
        self.core.release_range(a, b)
    }

    /// Gives back every reservation labelled `owner`; returns how many addresses were
    /// freed (zero when `owner` holds nothing).
    ///
    /// This cascades: a subdivided block of `owner` (see [`Allocator::subdivide`]) is
    /// released with its children, whoever owns them (the block's child allocator is
    /// dropped, and the addresses freed in it are not counted). Releasing everything
    /// a tenant holds is what this call is for; to refuse a block that still has
    /// children, release it with [`Allocator::release_block`].
    pub fn release_owner(&mut self, owner: &str) -> Count {
        self.core.release_owner(owner)
    }

    // ----- queries -----------------------------------------------------------

    /// Whether `addr` is reserved (an out-of-range address is not).
    pub fn is_reserved(&self, addr: A) -> bool {
        self.index(&addr)
            .is_ok_and(|i| self.core.engine.is_reserved(i))
    }

    /// The owner label of `addr`'s reservation, if it has one.
    pub fn owner_of(&self, addr: A) -> Option<&str> {
        self.index(&addr)
            .ok()
            .and_then(|i| self.core.engine.owner_of(i))
    }

    /// The whole reservation holding `addr`: its first and last address (in address
    /// order; a block's corners) and its owner label.
    pub fn reservation(&self, addr: A) -> Option<(A, A, Option<&str>)> {
        let i = self.index(&addr).ok()?;
        let (f, l, o) = self.core.reservation_at(i)?;
        Some((self.addr(f), self.addr(l), o))
    }

    /// Reserved addresses as maximal runs `(first, last)` in address order (adjacent
    /// reservations are one run here; [`Allocator::reservation`] tells them apart).
    pub fn reserved(&self) -> impl Iterator<Item = (A, A)> + '_ {
        self.core
            .engine
            .reserved_ranges()
            .map(|(s, e)| (self.addr(s), self.addr(e)))
    }

    /// Labelled reservations as runs `(first, last, owner)` in address order.
    pub fn owners(&self) -> impl Iterator<Item = (A, A, &str)> + '_ {
        self.core
            .engine
            .owned_ranges()
            .map(|(s, e, o)| (self.addr(s), self.addr(e), o))
    }

    /// Free addresses in the pools as maximal runs `(first, last)`, pool by pool.
    pub fn free_ranges(&self) -> impl Iterator<Item = (A, A)> + '_ {
        self.core
            .engine
            .free_ranges()
            .map(|(s, e)| (self.addr(s), self.addr(e)))
    }

    /// Number of reserved addresses.
    pub fn reserved_count(&self) -> Count {
        self.core.engine.reserved_count()
    }

    /// Number of addresses in all pools.
    pub fn capacity(&self) -> Count {
        self.core.engine.capacity()
    }

    /// Number of free addresses in all pools.
    pub fn free_count(&self) -> Count {
        self.core.engine.free_count()
    }

    /// Number of free addresses matching `pattern` in the pools.
    pub fn free_count_in(&self, pattern: impl Into<Pattern<A>>) -> Result<Count, Error> {
        self.core.free_count_in(&pattern.into().raw())
    }

    /// Heap bytes held by the allocator's ranges, pools and labels (the B-tree maps
    /// are estimated). For capacity planning and the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.core.engine.heap_bytes()
    }

    // ----- transactions ------------------------------------------------------

    /// Runs `f` as one transaction: when it returns `Err` (or panics), every
    /// reservation, release and pool change it made is undone and the allocator is
    /// exactly as it was before; when it returns `Ok`, all of them stay. Transactions
    /// nest. The transaction dereferences to the allocator, so every method works
    /// inside it.
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
        f: impl FnOnce(&mut Transaction<'_, Self>) -> Result<T, E>,
    ) -> Result<T, E> {
        transaction::run(self, f)
    }
}

/// Sized requests: memory windows, as vm-allocator's `AddressAllocator::allocate`.
impl<A: Address> Allocator<A> {
    /// Reserves a window of `size` consecutive addresses (any size, not only powers of
    /// two) whose start is a multiple of `alignment` (a power of two), placed by `fit`:
    /// the first or last aligned start that fits, or an exact start. The window is one
    /// run in address order inside one pool (for a type of one field starting at 0,
    /// such as a `u64` memory address, exactly vm-allocator's semantics; for several
    /// fields, the alignment is of the packed index, and the window may cross rows:
    /// see [`BlockRange::linear`]). The search walks free runs, not addresses.
    ///
    /// It is one reservation, released exactly with [`Allocator::release_block`].
    /// Errors tell a bad request from a full space: [`Error::ZeroSize`],
    /// [`Error::BadAlignment`], [`Error::Unaligned`] (an exact start off the
    /// alignment), then [`Error::OutsidePools`] or [`Error::AlreadyReserved`] (naming
    /// the holder) for an exact start, [`Error::Exhausted`] for the fits.
    ///
    /// ```
    /// use addralloc_runtime::{Address, Allocator, Field, Fit, Pattern};
    /// # use core::fmt;
    /// #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    /// struct Mmio(u64);
    /// impl Address for Mmio {
    ///     const FIELDS: &'static [Field] = &[Field::new("addr", 0, u64::MAX as u128)];
    ///     fn field(&self, _: usize) -> u128 { self.0 as u128 }
    ///     fn from_fields(v: &[u128]) -> Self { Mmio(v[0] as u64) }
    /// }
    /// # impl fmt::Display for Mmio {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{:#x}", self.0) }
    /// # }
    /// let mut mmio = Allocator::<Mmio>::new();
    /// mmio.add_pool("addr=0x1000..=0x10fff".parse::<Pattern<Mmio>>()?)?;
    /// // 0x110 bytes at 0x100 alignment, first fit, then 12 KiB at 4 KiB.
    /// let a = mmio.reserve_sized(0x110, 0x100, Fit::First)?;
    /// assert_eq!(a.to_string(), "0x1000..=0x110f");
    /// let b = mmio.reserve_sized(0x3000, 0x1000, Fit::First)?;
    /// assert_eq!(b.to_string(), "0x2000..=0x4fff");
    /// // Last fit, and an exact start.
    /// assert_eq!(mmio.reserve_sized(0x10, 0x100, Fit::Last)?.to_string(), "0x10f00..=0x10f0f");
    /// let bar = mmio.owned_by("bar0").reserve_sized(0x1000, 0x1000, Fit::Exact(Mmio(0x8000)))?;
    /// // A bad request is not a full space.
    /// let e = mmio.reserve_sized(0x1000, 0x1000, Fit::Exact(Mmio(0x9001))).unwrap_err();
    /// assert!(e.to_string().contains("not aligned to 0x1000"));
    /// // Freed exactly by what it returned.
    /// mmio.release_block(&bar)?;
    /// # Ok::<(), addralloc_runtime::Error>(())
    /// ```
    pub fn reserve_sized(
        &mut self,
        size: u128,
        alignment: u128,
        fit: Fit<A>,
    ) -> Result<BlockRange<A>, Error> {
        self.reserve_sized_with(size, alignment, fit, Opts::default())
    }

    pub(crate) fn reserve_sized_with(
        &mut self,
        size: u128,
        alignment: u128,
        fit: Fit<A>,
        o: Opts<'_>,
    ) -> Result<BlockRange<A>, Error> {
        let fit = fit.try_map(|a| self.index(&a))?;
        let (first, last) = self.core.reserve_sized(size, alignment, fit, o)?;
        let (a, b) = (self.addr(first), self.addr(last));
        BlockRange::linear(a, b).ok_or_else(|| Error::BadPattern {
            pattern: alloc::format!("{a}..={b}"),
            reason: "the first address must not come after the last".to_string(),
        })
    }
}

/// Sized requests with an owner label or required tags.
impl<'a, A: Address> Request<'a, A> {
    /// As [`Allocator::reserve_sized`].
    pub fn reserve_sized(
        self,
        size: u128,
        alignment: u128,
        fit: Fit<A>,
    ) -> Result<BlockRange<A>, Error> {
        self.alloc
            .reserve_sized_with(size, alignment, fit, self.opts)
    }
}

/// A request with options: an owner label ([`Allocator::owned_by`]) and required pool
/// tags ([`Allocator::requiring`]). Its methods are the allocator's reserving methods.
#[must_use = "a request does nothing until one of its reserve methods is called"]
pub struct Request<'a, A> {
    alloc: &'a mut Allocator<A>,
    opts: Opts<'a>,
}

impl<'a, A: Address> Request<'a, A> {
    /// Also label the reservation with `owner`.
    pub fn owned_by(mut self, owner: &'a str) -> Self {
        self.opts.owner = Some(owner);
        self
    }

    /// Also require pools carrying every tag in `tags`.
    pub fn requiring(mut self, tags: &'a [&'a str]) -> Self {
        self.opts.tags = tags;
        self
    }

    /// As [`Allocator::reserve`].
    pub fn reserve(self, addr: A) -> Result<A, Error> {
        self.alloc.reserve_with(addr, self.opts)
    }

    /// As [`Allocator::reserve_first`].
    pub fn reserve_first(self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        self.alloc
            .reserve_first_with(&pattern.into().raw(), self.opts)
    }

    /// As [`Allocator::reserve_any`].
    pub fn reserve_any(self) -> Result<A, Error> {
        self.alloc.reserve_any_with(self.opts)
    }

    /// As [`Allocator::reserve_preferred`].
    pub fn reserve_preferred<P: Borrow<Pattern<A>>>(
        self,
        preferences: impl IntoIterator<Item = P>,
    ) -> Result<(A, usize), Error> {
        self.alloc.reserve_preferred_with(preferences, self.opts)
    }

    /// As [`Allocator::reserve_block`].
    pub fn reserve_block(
        self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<BlockRange<A>, Error> {
        self.alloc
            .reserve_block_with(&pattern.into().raw(), &block.into(), self.opts)
    }

    /// As [`Allocator::reserve_range`].
    pub fn reserve_range(self, first: A, last: A) -> Result<BlockRange<A>, Error> {
        self.alloc.reserve_range_with(first, last, self.opts)
    }
}

/// Nested blocks: a reserved block made a pool for its own children, to any depth (a
/// /16 per site, a /24 per rack, hosts in the rack).
impl<A: Address> Allocator<A> {
    /// Makes `block` — one whole reservation, as a reserve call returned it — a pool for
    /// its own children. It stays reserved here for everyone else; [`Allocator::child`]
    /// places inside it. Releasing it while it has children is refused naming one of
    /// them ([`Error::PoolInUse`]); releasing it empty drops its child allocator. A
    /// block already subdivided is left as it is.
    ///
    /// Children are part of this allocator's snapshots (recursively) and transactions:
    /// a rolled-back transaction restores them as they were. [`Allocator::release_range`]
    /// refuses to cut or release a subdivided block that has children, as
    /// [`Allocator::release_block`] does; [`Allocator::release_owner`] releases a
    /// subdivided block of that owner with its children.
    ///
    /// # Errors
    ///
    /// [`Error::NotReserved`] or [`Error::NotWhole`] when `block` is not exactly one
    /// reservation.
    ///
    /// ```
    /// # use addralloc_runtime::{Address, Allocator, Block, Field, Pattern};
    /// # use core::fmt;
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # struct V4([u8; 4]);
    /// # impl Address for V4 {
    /// #     const FIELDS: &'static [Field] = &[
    /// #         Field::new("a", 0, 255), Field::new("b", 0, 255),
    /// #         Field::new("c", 0, 255), Field::new("d", 0, 255),
    /// #     ];
    /// #     fn field(&self, i: usize) -> u128 { self.0[i].into() }
    /// #     fn from_fields(v: &[u128]) -> Self { V4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8]) }
    /// # }
    /// # impl fmt::Display for V4 {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// #         let [a, b, c, d] = self.0;
    /// #         write!(f, "{a}.{b}.{c}.{d}")
    /// #     }
    /// # }
    /// let mut net = Allocator::<V4>::new();
    /// net.add_pool(Pattern::prefix(V4([10, 0, 0, 0]), 8)?)?;
    /// let site = net.reserve_block(Pattern::any(), Block::prefix(16)?)?;
    /// net.subdivide(&site)?;
    /// let rack = net.child(&site, |s| s.reserve_block(Pattern::any(), Block::prefix(24)?))??;
    /// assert_eq!(rack.to_string(), "10.0.0.0..=10.0.0.255");
    /// // How many /24s are left in the site.
    /// let left = net.child(&site, |s| s.free_block_count(Pattern::any(), Block::prefix(24)?))??;
    /// assert_eq!(left.to_string(), "255");
    /// assert!(net.release_block(&site).is_err());
    /// # Ok::<(), addralloc_runtime::Error>(())
    /// ```
    pub fn subdivide(&mut self, block: &BlockRange<A>) -> Result<(), Error> {
        let (a, b) = (self.index(&block.first())?, self.index(&block.last())?);
        self.core.subdivide(a, b)
    }

    /// Runs `f` on the allocator of the subdivided `block`'s children (see
    /// [`Allocator::subdivide`]), which may subdivide its own blocks in turn. Should
    /// `f` panic, the child allocator stays in place with whatever `f` changed before
    /// (inside a transaction, the rollback undoes that too).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchPool`] when `block` was not subdivided.
    pub fn child<T>(
        &mut self,
        block: &BlockRange<A>,
        f: impl FnOnce(&mut Allocator<A>) -> T,
    ) -> Result<T, Error> {
        let (a, b) = (self.index(&block.first())?, self.index(&block.last())?);
        let Some(k) = self.core.child_index(a, b) else {
            return Err(Error::NoSuchPool {
                pool: alloc::format!("{block} (a subdivided block)"),
            });
        };
        Ok(self
            .core
            .with_child(k, |core| Allocator { core }, |a| a.core, f))
    }

    /// The subdivided blocks, in the order they were subdivided.
    pub fn children(&self) -> impl Iterator<Item = BlockRange<A>> + '_ {
        self.core
            .children
            .iter()
            .filter_map(|c| self.range(c.first, c.last).ok())
    }

    /// How many disjoint aligned blocks of `block`'s shape are free in the pools within
    /// `pattern`: how many /24s are left. The shape must be one run of addresses on a
    /// type whose fields form one bit string (a prefix size).
    ///
    /// # Errors
    ///
    /// [`Error::BadBlock`] for another shape; pattern errors as elsewhere.
    pub fn free_block_count(
        &self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<Count, Error> {
        let block = block.into();
        self.core
            .free_block_count(&pattern.into().raw(), &block.extents()[..A::FIELDS.len()])
    }
}

impl<A: Address> Journaled for Allocator<A> {
    fn begin(&mut self) {
        self.core.begin();
    }
    fn commit(&mut self) {
        self.core.commit();
    }
    fn rollback(&mut self) {
        self.core.rollback();
    }
}
