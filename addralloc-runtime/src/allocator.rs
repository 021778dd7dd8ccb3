//! [`Allocator<A>`]: the typed allocator over the range engine.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use crate::address::Address;
use crate::count::Count;
use crate::engine::grid::{Grid, Layout};
use crate::engine::state::{Engine, Fail};
use crate::error::Error;
use crate::front;
use crate::pattern::{check_extent, display_extents, Block, BlockRange, Pattern};
use crate::policy::Policy;
use crate::transaction::Undo;

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
    pub(crate) engine: Engine,
    _a: PhantomData<fn() -> A>,
}

impl<A> Clone for Allocator<A> {
    fn clone(&self) -> Self {
        Allocator {
            engine: self.engine.clone(),
            _a: PhantomData,
        }
    }
}

impl<A: Address> fmt::Debug for Allocator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Allocator")
            .field("policy", &self.engine.policy())
            .field("pools", &self.engine.pools().count())
            .field("reserved", &self.engine.reserved_count())
            .field("free", &self.engine.free_count())
            .finish()
    }
}

impl<A: Address> Default for Allocator<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// One request's options: owner label and required pool tags.
#[derive(Clone, Copy, Default)]
pub(crate) struct Opts<'a> {
    pub(crate) owner: Option<&'a str>,
    pub(crate) tags: &'a [&'a str],
}

impl<A: Address> Allocator<A> {
    /// An allocator with no pools, using [`Policy::LowestFirst`].
    ///
    /// # Panics
    ///
    /// If `A`'s fields cannot be packed (see [`Address`]); derived and schema types are
    /// checked at compile time. [`Allocator::try_new`] reports it as an error instead.
    pub fn new() -> Self {
        Self::with_policy(Policy::default())
    }

    /// An allocator with no pools, using `policy`.
    ///
    /// # Panics
    ///
    /// As [`Allocator::new`].
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
        let layout = Layout::new(A::FIELDS.iter().map(|f| (f.min, f.max)))
            .map_err(|e| front::layout_error(e, A::FIELDS))?;
        Ok(Allocator {
            engine: Engine::new(layout, policy),
            _a: PhantomData,
        })
    }

    /// The allocation policy.
    pub fn policy(&self) -> Policy {
        self.engine.policy()
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
        Ok(self.engine.layout.index_of(|i| addr.field(i)))
    }

    pub(crate) fn addr(&self, idx: u128) -> A {
        let n = A::FIELDS.len();
        let layout = &self.engine.layout;
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

    fn grid(&self, p: &Pattern<A>) -> Result<Option<Grid>, Error> {
        if p.raw.is_any() {
            return Ok(None);
        }
        let r = p.raw.resolve(A::FIELDS)?;
        Ok(Some(Grid::new(&self.engine.layout, |i| r[i])))
    }

    pub(crate) fn pattern_of(&self, g: &Grid) -> Pattern<A> {
        Pattern::from_raw(front::raw_of_grid(g, A::FIELDS))
    }

    fn error(&self, fail: Fail, tags: &[&str]) -> Error {
        front::fail_error(&self.engine, A::FIELDS, fail, tags, |i| {
            self.addr(i).to_string()
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
        front::add_pool_raw(&mut self.engine, A::FIELDS, &pattern.into().raw, tags)
    }

    /// The pools, as patterns with their tags, in address order.
    pub fn pools(&self) -> impl Iterator<Item = (Pattern<A>, Vec<&str>)> + '_ {
        self.engine
            .pools()
            .map(|(g, tags)| (self.pattern_of(g), tags.collect()))
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
            log: None,
        }
    }

    /// Starts a request that may only use pools carrying every tag in `tags`.
    pub fn requiring<'a>(&'a mut self, tags: &'a [&'a str]) -> Request<'a, A> {
        Request {
            alloc: self,
            opts: Opts { owner: None, tags },
            log: None,
        }
    }

    /// Reserves exactly `addr`. Errors: a field out of range, outside every pool,
    /// already reserved (naming the holder).
    pub fn reserve(&mut self, addr: A) -> Result<A, Error> {
        self.reserve_with(addr, Opts::default())
    }

    /// Reserves the first free address matching `pattern`, by policy.
    pub fn reserve_first(&mut self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        self.reserve_first_with(&pattern.into(), Opts::default())
    }

    /// Reserves any free address in the pools, by policy.
    pub fn reserve_any(&mut self) -> Result<A, Error> {
        self.reserve_any_with(Opts::default())
    }

    /// Reserves the first free address of the first pattern in `preferences` that has
    /// one; returns the address and the position of the pattern that gave it.
    pub fn reserve_preferred(&mut self, preferences: &[Pattern<A>]) -> Result<(A, usize), Error> {
        self.reserve_preferred_with(preferences, Opts::default())
    }

    /// Reserves a whole free block with the extents of `block`, naturally aligned,
    /// inside `pattern` and inside one pool: a whole PCI slot (`function` extent 8), an
    /// IPv4 /29 (last octet extent 8).
    pub fn reserve_block(
        &mut self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<BlockRange<A>, Error> {
        self.reserve_block_with(&pattern.into(), &block.into(), Opts::default())
    }

    /// Reserves every address of `block` (which need not be aligned); all must be free
    /// and inside one pool.
    pub fn reserve_range(&mut self, block: BlockRange<A>) -> Result<BlockRange<A>, Error> {
        self.reserve_range_with(block, Opts::default())
    }

    /// The index runs of one (valid) address.
    pub(crate) fn runs_of_addr(&self, a: &A) -> Vec<(u128, u128)> {
        self.index(a)
            .map(|i| alloc::vec![(i, i)])
            .unwrap_or_default()
    }

    /// The index runs of a (valid) block.
    pub(crate) fn runs_of_block(&self, b: &BlockRange<A>) -> Vec<(u128, u128)> {
        match self.box_of(b) {
            Ok(g) => g.runs(&self.engine.layout).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn tag_mask(&self, tags: &[&str]) -> Result<u64, Error> {
        self.engine.tag_mask(tags).map_err(|f| self.error(f, tags))
    }

    pub(crate) fn reserve_with(&mut self, addr: A, o: Opts<'_>) -> Result<A, Error> {
        let idx = self.index(&addr)?;
        let mask = self.tag_mask(o.tags)?;
        self.engine
            .reserve_exact(idx, mask, o.owner)
            .map_err(|f| self.error(f, o.tags))?;
        Ok(addr)
    }

    pub(crate) fn reserve_first_with(
        &mut self,
        pattern: &Pattern<A>,
        o: Opts<'_>,
    ) -> Result<A, Error> {
        let g = self.grid(pattern)?;
        let mask = self.tag_mask(o.tags)?;
        match self.engine.reserve_first(g.as_ref(), mask, o.owner) {
            Ok(idx) => Ok(self.addr(idx)),
            Err(Fail::Exhausted) => Err(Error::Exhausted {
                request: front::describe(format!("address in `{pattern}`"), o.tags),
            }),
            Err(f) => Err(self.error(f, o.tags)),
        }
    }

    /// `reserve_first(Pattern::any())` without building a pattern: the hot path.
    pub(crate) fn reserve_any_with(&mut self, o: Opts<'_>) -> Result<A, Error> {
        let mask = self.tag_mask(o.tags)?;
        match self.engine.reserve_first(None, mask, o.owner) {
            Ok(idx) => Ok(self.addr(idx)),
            Err(Fail::Exhausted) => Err(Error::Exhausted {
                request: front::describe("address in `*`".to_string(), o.tags),
            }),
            Err(f) => Err(self.error(f, o.tags)),
        }
    }

    pub(crate) fn reserve_preferred_with(
        &mut self,
        prefs: &[Pattern<A>],
        o: Opts<'_>,
    ) -> Result<(A, usize), Error> {
        let grids = prefs
            .iter()
            .map(|p| self.grid(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mask = self.tag_mask(o.tags)?;
        for (i, g) in grids.iter().enumerate() {
            match self.engine.reserve_first(g.as_ref(), mask, o.owner) {
                Ok(idx) => return Ok((self.addr(idx), i)),
                Err(Fail::Exhausted) => continue,
                Err(f) => return Err(self.error(f, o.tags)),
            }
        }
        let list: Vec<String> = prefs.iter().map(|p| format!("`{p}`")).collect();
        Err(Error::Exhausted {
            request: front::describe(
                if list.is_empty() {
                    "address: the preference list is empty".to_string()
                } else {
                    format!("address in any of {}", list.join(", "))
                },
                o.tags,
            ),
        })
    }

    pub(crate) fn reserve_block_with(
        &mut self,
        pattern: &Pattern<A>,
        block: &Block<A>,
        o: Opts<'_>,
    ) -> Result<BlockRange<A>, Error> {
        let g = self.grid(pattern)?;
        for (i, f) in A::FIELDS.iter().enumerate() {
            check_extent(f, block.extents[i])?;
        }
        let mask = self.tag_mask(o.tags)?;
        let ext = &block.extents[..A::FIELDS.len()];
        match self.engine.reserve_block(g.as_ref(), ext, mask, o.owner) {
            Ok((first, last)) => {
                BlockRange::new(self.addr(first), self.addr(last)).ok_or_else(|| {
                    Error::BadPattern {
                        pattern: pattern.to_string(),
                        reason: "internal error: block corners out of order".to_string(),
                    }
                })
            }
            Err(Fail::Exhausted) => Err(Error::Exhausted {
                request: front::describe(
                    format!(
                        "block of `{}` in `{pattern}`",
                        display_extents(ext, A::FIELDS)
                    ),
                    o.tags,
                ),
            }),
            Err(f) => Err(self.error(f, o.tags)),
        }
    }

    pub(crate) fn box_of(&self, block: &BlockRange<A>) -> Result<Grid, Error> {
        let (a, b) = (self.index(&block.first())?, self.index(&block.last())?);
        Grid::spanned(&self.engine.layout, a, b).ok_or_else(|| Error::BadPattern {
            pattern: block.to_string(),
            reason: "the first address must not exceed the last on any field".to_string(),
        })
    }

    pub(crate) fn reserve_range_with(
        &mut self,
        block: BlockRange<A>,
        o: Opts<'_>,
    ) -> Result<BlockRange<A>, Error> {
        let g = self.box_of(&block)?;
        let mask = self.tag_mask(o.tags)?;
        self.engine
            .reserve_box(&g, mask, o.owner)
            .map_err(|f| self.error(f, o.tags))?;
        Ok(block)
    }

    // ----- releases ----------------------------------------------------------

    /// Gives back one reserved address (hot-unplug).
    pub fn release(&mut self, addr: A) -> Result<(), Error> {
        let idx = self.index(&addr)?;
        self.engine.release(idx).map_err(|f| self.error(f, &[]))
    }

    /// Gives back every address of a block; all of them must be reserved.
    pub fn release_block(&mut self, block: BlockRange<A>) -> Result<(), Error> {
        let g = self.box_of(&block)?;
        self.engine.release_box(&g).map_err(|f| self.error(f, &[]))
    }

    // ----- queries -----------------------------------------------------------

    /// Whether `addr` is reserved (an out-of-range address is not).
    pub fn is_reserved(&self, addr: A) -> bool {
        self.index(&addr).is_ok_and(|i| self.engine.is_reserved(i))
    }

    /// The owner label of `addr`'s reservation, if it has one.
    pub fn owner_of(&self, addr: A) -> Option<&str> {
        self.index(&addr).ok().and_then(|i| self.engine.owner_of(i))
    }

    /// Reserved addresses as maximal runs `(first, last)` in address order.
    pub fn reserved(&self) -> impl Iterator<Item = (A, A)> + '_ {
        self.engine
            .reserved_ranges()
            .map(|(s, e)| (self.addr(s), self.addr(e)))
    }

    /// Labelled reservations as runs `(first, last, owner)` in address order.
    pub fn owners(&self) -> impl Iterator<Item = (A, A, &str)> + '_ {
        self.engine
            .owned_ranges()
            .map(|(s, e, o)| (self.addr(s), self.addr(e), o))
    }

    /// Free addresses in the pools as maximal runs `(first, last)`, pool by pool.
    pub fn free_ranges(&self) -> impl Iterator<Item = (A, A)> + '_ {
        self.engine
            .free_ranges()
            .map(|(s, e)| (self.addr(s), self.addr(e)))
    }

    /// Number of reserved addresses.
    pub fn reserved_count(&self) -> Count {
        self.engine.reserved_count()
    }

    /// Number of addresses in all pools.
    pub fn capacity(&self) -> Count {
        self.engine.capacity()
    }

    /// Number of free addresses in all pools.
    pub fn free_count(&self) -> Count {
        self.engine.free_count()
    }

    /// Number of free addresses matching `pattern` in the pools.
    pub fn free_count_in(&self, pattern: impl Into<Pattern<A>>) -> Result<Count, Error> {
        let g = self.grid(&pattern.into())?;
        Ok(self.engine.free_count_in(g.as_ref(), 0))
    }

    /// Heap bytes held by the allocator's ranges, pools and labels (the owner map is
    /// estimated). For capacity planning and the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.engine.heap_bytes()
    }

    /// The next-fit position, as the index the next search starts from (internal
    /// coordinates; meaningful for snapshots).
    #[doc(hidden)]
    pub fn cursor(&self) -> u128 {
        self.engine.cursor()
    }
}

/// A request with options: an owner label ([`Allocator::owned_by`]) and required pool
/// tags ([`Allocator::requiring`]). Its methods are the allocator's reserving methods.
pub struct Request<'a, A> {
    pub(crate) alloc: &'a mut Allocator<A>,
    pub(crate) opts: Opts<'a>,
    /// Inside a transaction: where successful reservations are recorded for rollback.
    pub(crate) log: Option<&'a mut Vec<Undo>>,
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

    fn record(self, runs: Vec<(u128, u128)>) {
        if let Some(log) = self.log {
            log.push(Undo::Reserved(runs));
        }
    }

    /// As [`Allocator::reserve`].
    pub fn reserve(self, addr: A) -> Result<A, Error> {
        let a = self.alloc.reserve_with(addr, self.opts)?;
        let runs = self.alloc.runs_of_addr(&a);
        self.record(runs);
        Ok(a)
    }

    /// As [`Allocator::reserve_first`].
    pub fn reserve_first(self, pattern: impl Into<Pattern<A>>) -> Result<A, Error> {
        let a = self.alloc.reserve_first_with(&pattern.into(), self.opts)?;
        let runs = self.alloc.runs_of_addr(&a);
        self.record(runs);
        Ok(a)
    }

    /// As [`Allocator::reserve_any`].
    pub fn reserve_any(self) -> Result<A, Error> {
        let a = self.alloc.reserve_any_with(self.opts)?;
        let runs = self.alloc.runs_of_addr(&a);
        self.record(runs);
        Ok(a)
    }

    /// As [`Allocator::reserve_preferred`].
    pub fn reserve_preferred(self, preferences: &[Pattern<A>]) -> Result<(A, usize), Error> {
        let (a, i) = self.alloc.reserve_preferred_with(preferences, self.opts)?;
        let runs = self.alloc.runs_of_addr(&a);
        self.record(runs);
        Ok((a, i))
    }

    /// As [`Allocator::reserve_block`].
    pub fn reserve_block(
        self,
        pattern: impl Into<Pattern<A>>,
        block: impl Into<Block<A>>,
    ) -> Result<BlockRange<A>, Error> {
        let b = self
            .alloc
            .reserve_block_with(&pattern.into(), &block.into(), self.opts)?;
        let runs = self.alloc.runs_of_block(&b);
        self.record(runs);
        Ok(b)
    }

    /// As [`Allocator::reserve_range`].
    pub fn reserve_range(self, block: BlockRange<A>) -> Result<BlockRange<A>, Error> {
        let b = self.alloc.reserve_range_with(block, self.opts)?;
        let runs = self.alloc.runs_of_block(&b);
        self.record(runs);
        Ok(b)
    }
}
