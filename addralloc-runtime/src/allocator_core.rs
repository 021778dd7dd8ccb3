//! The allocator core: every allocator operation, written once over the engine.
//!
//! [`Allocator<A>`](crate::Allocator) and [`DynAllocator`](crate::DynAllocator) hold a
//! [`Core`] and only convert arguments (addresses to indices, patterns to
//! [`RawPattern`]s) and results (indices back to addresses). A [`Space`] tells the core
//! the fields and how an index prints, so errors name addresses in the type's format.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::count::Count;
use crate::engine::grid::{Grid, Layout, MAX_FIELDS};
use crate::engine::sized::Place;
use crate::engine::state::{Engine, Fail, TagMask};
use crate::error::Error;
use crate::front;
use crate::linear;
use crate::pattern::{check_extent, display_extents, FieldInfo, RawPattern};
use crate::policy::Policy;
use crate::window::Fit;

/// The most separate runs one block, range or release may cover: a box whose extents
/// leave gaps between its rows (`e=65536, f=65536` on IPv6 is 2^32 runs) is refused
/// instead of being spelled out run by run.
pub const MAX_RUNS: u128 = 1 << 20;

/// What the core needs to know of an address type.
pub(crate) trait Space {
    type Field: FieldInfo;
    /// The fields, most significant first.
    fn fields(&self) -> &[Self::Field];
    /// Prints the address at `idx` in the type's format.
    fn text(&self, layout: &Layout, idx: u128) -> String;
    /// The radix field `i` prints in within patterns and block shapes
    /// (`pattern::DEC`, `HEX` or `UPPER_HEX`).
    fn radix(&self, _i: usize) -> u8 {
        crate::pattern::DEC
    }
}

/// One request's options: owner label and required pool tags.
#[derive(Clone, Copy, Default)]
pub(crate) struct Opts<'a> {
    pub(crate) owner: Option<&'a str>,
    pub(crate) tags: &'a [&'a str],
}

/// The engine with its address type.
#[derive(Clone)]
pub(crate) struct Core<S> {
    pub(crate) engine: Engine,
    pub(crate) space: S,
    /// Pools added as linear ranges: the engine holds their boxes; this keeps each one
    /// pool for [`Core::pools`] and [`Core::remove_pool`]. An entry whose boxes are not
    /// all in the engine (a rolled-back transaction) is stale and ignored.
    pub(crate) linear: Vec<LinearPool>,
    /// Reserved blocks made pools of their own ([`Core::subdivide`]): each holds its
    /// children in an allocator whose one pool is the block.
    pub(crate) children: Vec<Child<S>>,
    /// One entry per open transaction, innermost last: the children and linear pools
    /// as they were when it began (the engine journals only itself). Cloning them
    /// allocates nothing while there are none.
    saved: Vec<(Vec<Child<S>>, Vec<LinearPool>)>,
    /// The search boxes of the last few box patterns searched ([`GridCache`]); on the
    /// heap, made by the first patterned search, so a core that never searches a
    /// pattern (a subdivided block's) stays small.
    grid_cache: Option<alloc::boxed::Box<GridCache>>,
}

/// Box patterns kept by [`GridCache`].
const GRID_CACHE: usize = 4;

/// The search boxes of the last [`GRID_CACHE`] box patterns [`Core::reserve_first`]
/// searched. A pattern's box depends only on the pattern and the layout, which never
/// changes, so an entry never goes stale (pools and reservations are not in it); a
/// repeated search skips the field checks and the conversion. Only patterns that
/// passed the checks are kept; the oldest entry is replaced first.
#[derive(Clone, Default)]
struct GridCache {
    entries: [Option<(RawPattern, Grid)>; GRID_CACHE],
    /// The entry the next new pattern replaces.
    next: usize,
}

impl GridCache {
    /// The slot holding the box of `raw`, a box pattern (not linear) of a type of `n`
    /// fields: only the first `n` ranges make the box (the checks and the conversion
    /// look at no other), so only they are compared.
    #[inline]
    fn find(&self, raw: &RawPattern, n: usize) -> Option<usize> {
        debug_assert!(!raw.linear);
        self.entries.iter().position(|e| {
            e.as_ref()
                .is_some_and(|(r, _)| r.ranges[..n] == raw.ranges[..n])
        })
    }

    /// Keeps `raw`'s box; returns its slot.
    fn put(&mut self, raw: RawPattern, grid: Grid) -> usize {
        let k = self.next;
        self.entries[k] = Some((raw, grid));
        self.next = (k + 1) % GRID_CACHE;
        k
    }

    fn grid(&self, k: usize) -> Option<&Grid> {
        self.entries[k].as_ref().map(|(_, g)| g)
    }
}

/// The boxes one search goes through ([`Core::search_grids`]): one for a box
/// pattern, kept inline so that the common search allocates nothing.
// Inline on purpose: boxing the one grid would be the allocation this type avoids; it
// lives on the stack for one call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum SearchGrids {
    /// A box pattern (`None` for `*`).
    One([Option<Grid>; 1]),
    /// A linear range's boxes, in search order.
    Many(Vec<Option<Grid>>),
}

impl core::ops::Deref for SearchGrids {
    type Target = [Option<Grid>];

    fn deref(&self) -> &[Option<Grid>] {
        match self {
            SearchGrids::One(one) => one,
            SearchGrids::Many(many) => many,
        }
    }
}

/// A subdivided block and the allocator of its children.
#[derive(Clone)]
pub(crate) struct Child<S> {
    pub(crate) first: u128,
    pub(crate) last: u128,
    pub(crate) core: Core<S>,
}

/// A pool added as a linear range, and the boxes it was cut into.
#[derive(Clone)]
pub(crate) struct LinearPool {
    pub(crate) raw: RawPattern,
    pub(crate) boxes: Vec<Grid>,
}

impl<S: Space> Core<S> {
    /// A core with no pools, or [`Error::Layout`] when the fields cannot be packed.
    pub(crate) fn new(space: S, policy: Policy) -> Result<Self, Error> {
        let fields = space.fields();
        let layout = Layout::new(fields.iter().map(|f| (f.min(), f.max())))
            .map_err(|e| front::layout_error(e, fields))?;
        Ok(Core::from_engine(Engine::new(layout, policy), space))
    }

    /// A core over an engine (a new or restored one).
    pub(crate) fn from_engine(engine: Engine, space: S) -> Self {
        Core {
            engine,
            space,
            linear: Vec::new(),
            children: Vec::new(),
            saved: Vec::new(),
            grid_cache: None,
        }
    }

    // ----- conversions -------------------------------------------------------

    pub(crate) fn text(&self, idx: u128) -> String {
        self.space.text(&self.engine.layout, idx)
    }

    pub(crate) fn error(&self, fail: Fail, tags: &[&str]) -> Error {
        front::fail_error(&self.engine, self.space.fields(), fail, tags, |i| {
            self.text(i)
        })
    }

    fn mask(&self, tags: &[&str]) -> Result<TagMask, Error> {
        self.engine.tag_mask(tags).map_err(|f| self.error(f, tags))
    }

    /// The search box of a pattern; `None` for `*`.
    pub(crate) fn grid(&self, raw: &RawPattern) -> Result<Option<Grid>, Error> {
        if raw.is_any() {
            return Ok(None);
        }
        let r = raw.resolve(self.space.fields())?;
        Ok(Some(Grid::new(&self.engine.layout, |i| r[i])))
    }

    /// The step-1 box with corners `first` and `last`.
    pub(crate) fn spanned(&self, first: u128, last: u128) -> Result<Grid, Error> {
        Grid::spanned(&self.engine.layout, first, last).ok_or_else(|| self.unordered(first, last))
    }

    fn unordered(&self, first: u128, last: u128) -> Error {
        Error::BadPattern {
            pattern: format!("{}..={}", self.text(first), self.text(last)),
            reason: "the first address must not exceed the last on any field".to_string(),
        }
    }

    /// Refuses a box of more than [`MAX_RUNS`] runs; `what` names it.
    fn check_runs(&self, g: &Grid, what: impl FnOnce() -> String) -> Result<(), Error> {
        let n = g.run_count(&self.engine.layout);
        if n > MAX_RUNS {
            return Err(Error::TooManyRuns {
                what: what(),
                runs: n,
                limit: MAX_RUNS,
            });
        }
        Ok(())
    }

    pub(crate) fn show(&self, raw: &RawPattern) -> String {
        raw.display_with(
            self.space.fields(),
            |v| self.text(self.engine.layout.index_of(|i| v[i])),
            &|i| self.space.radix(i),
        )
    }

    /// The boxes of a linear range in address order (checked: in range, not reversed).
    pub(crate) fn linear_boxes(&self, raw: &RawPattern) -> Result<Vec<Grid>, Error> {
        let fields = self.space.fields();
        raw.resolve(fields).map_err(|e| match e {
            Error::BadPattern { reason, .. } => Error::BadPattern {
                pattern: self.show(raw),
                reason,
            },
            e => e,
        })?;
        let (first, last) = raw.ends();
        Ok(linear::boxes(&first, &last, fields)
            .into_iter()
            .map(|b| {
                Grid::new(&self.engine.layout, |i| {
                    (b[i].0 - fields[i].min(), b[i].1 - fields[i].min())
                })
            })
            .collect())
    }

    /// The boxes a search in `raw` goes through, in the policy's order: one (`None` for
    /// `*`) for a box pattern, a linear range's boxes lowest first (highest first under
    /// the highest-first policy).
    /// A box pattern (every search but a linear range's) allocates nothing.
    pub(crate) fn search_grids(&self, raw: &RawPattern) -> Result<SearchGrids, Error> {
        if !raw.linear {
            return Ok(SearchGrids::One([self.grid(raw)?]));
        }
        let mut boxes: Vec<Option<Grid>> = self.linear_boxes(raw)?.into_iter().map(Some).collect();
        if self.engine.policy() == Policy::HighestFirst {
            boxes.reverse();
        }
        Ok(SearchGrids::Many(boxes))
    }

    /// The index of the live linear pool `raw`, if any.
    fn linear_pool(&self, raw: &RawPattern) -> Option<usize> {
        self.linear
            .iter()
            .position(|p| p.raw == *raw && self.is_live(p))
    }

    pub(crate) fn is_live(&self, p: &LinearPool) -> bool {
        p.boxes
            .iter()
            .all(|b| self.engine.pools().any(|(g, _)| g == b))
    }

    // ----- pools -------------------------------------------------------------

    pub(crate) fn add_pool(&mut self, raw: &RawPattern, tags: &[&str]) -> Result<(), Error> {
        if !raw.linear {
            return front::add_pool_raw(&mut self.engine, self.space.fields(), raw, tags).map_err(
                |e| match e {
                    Error::PoolOverlap { pool, existing } => Error::PoolOverlap {
                        pool,
                        existing: self.pool_text_of(&existing),
                    },
                    e => e,
                },
            );
        }
        let boxes = self.linear_boxes(raw)?;
        for (k, g) in boxes.iter().enumerate() {
            if let Err(f) = self.engine.add_pool(g.clone(), tags) {
                // Leave the allocator as it was: take back the boxes already added.
                for done in &boxes[..k] {
                    let _ = self.engine.remove_pool(done);
                }
                return Err(match self.error(f, tags) {
                    Error::PoolOverlap { existing, .. } => Error::PoolOverlap {
                        pool: self.show(raw),
                        existing: self.pool_text_of(&existing),
                    },
                    e => e,
                });
            }
        }
        let live: Vec<LinearPool> = self
            .linear
            .iter()
            .filter(|p| self.is_live(p))
            .cloned()
            .collect();
        self.linear = live;
        self.linear.push(LinearPool { raw: *raw, boxes });
        Ok(())
    }

    /// The text of the pool an overlap names: a linear pool when the box printed as
    /// `existing` is one of its boxes.
    fn pool_text_of(&self, existing: &str) -> String {
        let fields = self.space.fields();
        for p in self.linear.iter().filter(|p| self.is_live(p)) {
            if p.boxes
                .iter()
                .any(|b| front::raw_of_grid(b, fields).display(fields) == existing)
            {
                return self.show(&p.raw);
            }
        }
        existing.to_string()
    }

    pub(crate) fn remove_pool(&mut self, raw: &RawPattern) -> Result<(), Error> {
        if raw.linear {
            // A restored allocator (snapshots record boxes) has no record of the range:
            // its boxes, when all are pools, are removed the same way.
            let k = self.linear_pool(raw);
            let boxes = match k {
                Some(k) => self.linear[k].boxes.clone(),
                None => self.linear_boxes(raw)?,
            };
            if k.is_none()
                && !boxes
                    .iter()
                    .all(|b| self.engine.pools().any(|(g, _)| g == b))
            {
                return Err(Error::NoSuchPool {
                    pool: self.show(raw),
                });
            }
            let tags: Vec<String> = self
                .engine
                .pools()
                .find(|(g, _)| **g == boxes[0])
                .map(|(_, t)| t.map(String::from).collect())
                .unwrap_or_default();
            let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
            for (j, g) in boxes.iter().enumerate() {
                if let Err(f) = self.engine.remove_pool(g) {
                    for done in &boxes[..j] {
                        let _ = self.engine.add_pool(done.clone(), &tag_refs);
                    }
                    return Err(match f {
                        Fail::PoolInUse { index } => Error::PoolInUse {
                            pool: self.show(raw),
                            address: self.text(index),
                            owner: self.engine.owner_of(index).map(String::from),
                        },
                        f => self.error(f, &[]),
                    });
                }
            }
            if let Some(k) = k {
                self.linear.remove(k);
            }
            return Ok(());
        }
        let r = raw.resolve(self.space.fields())?;
        let g = Grid::new(&self.engine.layout, |i| r[i]);
        self.engine.remove_pool(&g).map_err(|f| match f {
            Fail::NoSuchPool => Error::NoSuchPool {
                pool: self.show(raw),
            },
            Fail::PoolInUse { index } => Error::PoolInUse {
                pool: self.show(raw),
                address: self.text(index),
                owner: self.engine.owner_of(index).map(String::from),
            },
            f => self.error(f, &[]),
        })
    }

    /// The pools in the engine's order; a linear pool once, where its first box is.
    pub(crate) fn pools(&self) -> impl Iterator<Item = (RawPattern, Vec<&str>)> + '_ {
        let live: Vec<&LinearPool> = self.linear.iter().filter(|p| self.is_live(p)).collect();
        self.engine.pools().filter_map(move |(g, tags)| {
            for p in &live {
                if p.boxes[0] == *g {
                    return Some((p.raw, tags.collect()));
                }
                if p.boxes[1..].iter().any(|b| b == g) {
                    return None;
                }
            }
            Some((front::raw_of_grid(g, self.space.fields()), tags.collect()))
        })
    }

    // ----- reservations ------------------------------------------------------

    #[inline]
    pub(crate) fn reserve(&mut self, idx: u128, o: Opts<'_>) -> Result<(), Error> {
        let mask = self.mask(o.tags)?;
        self.engine
            .reserve_exact(idx, mask, o.owner)
            .map_err(|f| self.error(f, o.tags))
    }

    pub(crate) fn reserve_first(&mut self, raw: &RawPattern, o: Opts<'_>) -> Result<u128, Error> {
        if raw.linear {
            let grids = self.search_grids(raw)?;
            let mask = self.mask(o.tags)?;
            for g in grids.iter() {
                match self.engine.reserve_first(g.as_ref(), mask, o.owner) {
                    Err(Fail::Exhausted) => continue,
                    r => return r.map_err(|f| self.error(f, o.tags)),
                }
            }
            return Err(self.first_error(Fail::Exhausted, || self.show(raw), o.tags));
        }
        let slot = self.cached_grid(raw)?;
        let mask = self.mask(o.tags)?;
        let g = match (slot, &self.grid_cache) {
            (Some(k), Some(c)) => c.grid(k),
            _ => None,
        };
        let r = self.engine.reserve_first(g, mask, o.owner);
        r.map_err(|f| self.first_error(f, || self.show(raw), o.tags))
    }

    /// The [`GridCache`] slot of a box pattern's search box (checked and converted on
    /// its first search); `None` for `*`, which has no box.
    #[inline]
    fn cached_grid(&mut self, raw: &RawPattern) -> Result<Option<usize>, Error> {
        if raw.is_any() {
            return Ok(None);
        }
        let n = self.engine.layout.len().min(MAX_FIELDS);
        if let Some(k) = self.grid_cache.as_ref().and_then(|c| c.find(raw, n)) {
            return Ok(Some(k));
        }
        let Some(g) = self.grid(raw)? else {
            return Ok(None);
        };
        let cache = self.grid_cache.get_or_insert_with(Default::default);
        Ok(Some(cache.put(*raw, g)))
    }

    /// `reserve_first(*)` without a pattern to look at: the hot path.
    #[inline]
    pub(crate) fn reserve_any(&mut self, o: Opts<'_>) -> Result<u128, Error> {
        let mask = self.mask(o.tags)?;
        self.engine
            .reserve_first(None, mask, o.owner)
            .map_err(|f| self.first_error(f, || "*".to_string(), o.tags))
    }

    /// The error of an automatic choice in `pattern`.
    #[cold]
    fn first_error(&self, f: Fail, pattern: impl FnOnce() -> String, tags: &[&str]) -> Error {
        match f {
            Fail::Exhausted => Error::Exhausted {
                request: front::describe(format!("address in `{}`", pattern()), tags),
            },
            f => self.error(f, tags),
        }
    }

    pub(crate) fn reserve_preferred(
        &mut self,
        prefs: &[RawPattern],
        o: Opts<'_>,
    ) -> Result<(u128, usize), Error> {
        let grids = prefs
            .iter()
            .map(|p| self.search_grids(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mask = self.mask(o.tags)?;
        for (i, gs) in grids.iter().enumerate() {
            for g in gs.iter() {
                match self.engine.reserve_first(g.as_ref(), mask, o.owner) {
                    Ok(idx) => return Ok((idx, i)),
                    Err(Fail::Exhausted) => continue,
                    Err(f) => return Err(self.error(f, o.tags)),
                }
            }
        }
        let list: Vec<String> = prefs
            .iter()
            .map(|p| format!("`{}`", self.show(p)))
            .collect();
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

    pub(crate) fn reserve_block(
        &mut self,
        raw: &RawPattern,
        extents: &[u128],
        o: Opts<'_>,
    ) -> Result<(u128, u128), Error> {
        let grids = self.search_grids(raw)?;
        let fields = self.space.fields();
        for (f, &e) in fields.iter().zip(extents) {
            check_extent(f, e)?;
        }
        let ext = &extents[..fields.len().min(extents.len())];
        let runs = Grid::block_run_count(&self.engine.layout, ext);
        if runs > MAX_RUNS {
            return Err(Error::TooManyRuns {
                what: format!("block `{}`", display_extents(ext, self.space.fields())),
                runs,
                limit: MAX_RUNS,
            });
        }
        let mask = self.mask(o.tags)?;
        let mut res = Err(Fail::Exhausted);
        for g in grids.iter() {
            res = self.engine.reserve_block(g.as_ref(), ext, mask, o.owner);
            if !matches!(res, Err(Fail::Exhausted)) {
                break;
            }
        }
        match res {
            Ok(r) => Ok(r),
            Err(Fail::Exhausted) => Err(Error::Exhausted {
                request: front::describe(
                    format!(
                        "block of `{}` in `{}`",
                        display_extents(ext, self.space.fields()),
                        self.show(raw)
                    ),
                    o.tags,
                ),
            }),
            Err(f) => Err(self.error(f, o.tags)),
        }
    }

    /// Reserves the box with corners `first` and `last`.
    pub(crate) fn reserve_range(
        &mut self,
        first: u128,
        last: u128,
        o: Opts<'_>,
    ) -> Result<(), Error> {
        let g = self.spanned(first, last)?;
        self.check_runs(&g, || {
            format!("range `{}..={}`", self.text(first), self.text(last))
        })?;
        let mask = self.mask(o.tags)?;
        self.engine
            .reserve_box(&g, mask, o.owner)
            .map_err(|f| self.error(f, o.tags))
    }

    // ----- releases ----------------------------------------------------------

    #[inline]
    pub(crate) fn release(&mut self, idx: u128) -> Result<(), Error> {
        if !self.children.is_empty() {
            if let Some(k) = self.child_index(idx, idx) {
                self.check_childless(k)?;
                self.engine.release(idx).map_err(|f| self.error(f, &[]))?;
                self.children.remove(k);
                return Ok(());
            }
        }
        self.engine.release(idx).map_err(|f| self.error(f, &[]))
    }

    pub(crate) fn release_block(&mut self, first: u128, last: u128) -> Result<(), Error> {
        if !self.engine.layout.ordered(first, last) {
            return Err(self.unordered(first, last));
        }
        let child = self.child_index(first, last);
        if let Some(k) = child {
            self.check_childless(k)?;
        }
        self.engine
            .release_whole(first, last)
            .map_err(|f| match f {
                Fail::PartOf { .. } if first != last => self.not_whole(f, first, last),
                f => self.error(f, &[]),
            })?;
        if let Some(k) = child {
            self.children.remove(k);
        }
        Ok(())
    }

    pub(crate) fn release_range(&mut self, first: u128, last: u128) -> Result<Count, Error> {
        let g = self.spanned(first, last)?;
        self.check_runs(&g, || {
            format!("range `{}..={}`", self.text(first), self.text(last))
        })?;
        // A subdivided block the range meets, released whole or cut, must be empty
        // (as for `release_block`); an empty one loses its child allocator.
        for k in 0..self.children.len() {
            let c = &self.children[k];
            if let Some(b) = Grid::spanned(&self.engine.layout, c.first, c.last) {
                if b.meets(&g) {
                    self.check_childless(k)?;
                }
            }
        }
        let n = self
            .engine
            .release_range(&g)
            .map_err(|f| self.error(f, &[]))?;
        self.prune_children();
        Ok(n)
    }

    /// Releases every reservation of `owner`; a subdivided block among them is released
    /// with its children (its child allocator, whatever it holds, is dropped).
    pub(crate) fn release_owner(&mut self, owner: &str) -> Count {
        let n = self.engine.release_owner(owner);
        self.prune_children();
        n
    }

    /// Drops the child allocators of blocks that are no longer one whole reservation
    /// (released by `release_owner` or cut by `release_range`), so a later reservation
    /// of the same addresses starts without them.
    fn prune_children(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let engine = &self.engine;
        self.children.retain(|c| {
            engine
                .reservation_at(c.first)
                .is_some_and(|(f, l, _, _)| f == c.first && l == c.last)
        });
    }

    // ----- queries -----------------------------------------------------------

    pub(crate) fn free_count_in(&self, raw: &RawPattern) -> Result<Count, Error> {
        let mut total = Count::from(0u128);
        for g in self.search_grids(raw)?.iter() {
            total = total.add(self.engine.free_count_in(g.as_ref(), 0));
        }
        Ok(total)
    }

    /// The whole reservation holding `idx`: first, last and owner.
    pub(crate) fn reservation_at(&self, idx: u128) -> Option<(u128, u128, Option<&str>)> {
        self.engine
            .reservation_at(idx)
            .map(|(f, l, _, o)| (f, l, o))
    }

    // ----- nested blocks -----------------------------------------------------

    /// The child allocator of the subdivided block `first..=last`.
    pub(crate) fn child_index(&self, first: u128, last: u128) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.first == first && c.last == last)
    }

    /// Runs `f` on the allocator of subdivided block `k`, as a front `F` (`wrap` and
    /// `unwrap` convert). The child is put back in its place even when `f` panics, so
    /// an unwinding closure does not lose it.
    pub(crate) fn with_child<F, T>(
        &mut self,
        k: usize,
        wrap: fn(Core<S>) -> F,
        unwrap: fn(F) -> Core<S>,
        f: impl FnOnce(&mut F) -> T,
    ) -> T {
        /// Puts the child back on drop (return or unwind).
        struct PutBack<'a, S, F> {
            children: &'a mut Vec<Child<S>>,
            k: usize,
            first: u128,
            last: u128,
            front: Option<F>,
            unwrap: fn(F) -> Core<S>,
        }
        impl<S, F> Drop for PutBack<'_, S, F> {
            fn drop(&mut self) {
                if let Some(front) = self.front.take() {
                    self.children.insert(
                        self.k,
                        Child {
                            first: self.first,
                            last: self.last,
                            core: (self.unwrap)(front),
                        },
                    );
                }
            }
        }
        let c = self.children.remove(k);
        let mut guard = PutBack {
            children: &mut self.children,
            k,
            first: c.first,
            last: c.last,
            front: Some(wrap(c.core)),
            unwrap,
        };
        match guard.front.as_mut() {
            Some(front) => f(front),
            // Set just above; only the guard's drop takes it.
            None => unreachable!("the child is in the guard until it drops"),
        }
    }

    /// Refuses to release subdivided block `k` while its allocator holds reservations,
    /// naming the first of them and its owner.
    fn check_childless(&self, k: usize) -> Result<(), Error> {
        let c = &self.children[k];
        let Some((s, _)) = c.core.engine.reserved_ranges().next() else {
            return Ok(());
        };
        // The first whole reservation (adjacent ones are coalesced in the set).
        let (s, e) = c
            .core
            .engine
            .reservation_at(s)
            .map_or((s, s), |(f, l, _, _)| (f, l));
        let n = c.core.engine.reserved_count();
        let what = if s == e {
            self.text(s)
        } else {
            format!("{}..={}", self.text(s), self.text(e))
        };
        Err(Error::PoolInUse {
            pool: format!(
                "{}..={} (subdivided; {n} address{} reserved in it)",
                self.text(c.first),
                self.text(c.last),
                if n == Count::from(1u128) { "" } else { "es" }
            ),
            address: what,
            owner: c.core.engine.owner_of(s).map(String::from),
        })
    }

    /// Makes the reserved block `first..=last` (one whole reservation) a pool for its own
    /// children: it stays reserved here, and a child allocator whose one pool is the
    /// block places inside it.
    pub(crate) fn subdivide(&mut self, first: u128, last: u128) -> Result<(), Error>
    where
        S: Clone,
    {
        if !self.engine.layout.ordered(first, last) {
            return Err(self.unordered(first, last));
        }
        match self.engine.reservation_at(first) {
            Some((f, l, _, _)) if f == first && l == last => {}
            Some((f, l, _, owner)) => {
                return Err(Error::NotWhole {
                    request: Some(format!("{}..={}", self.text(first), self.text(last))),
                    address: self.text(first),
                    reservation: format!("{}..={}", self.text(f), self.text(l)),
                    owner: owner.map(String::from),
                })
            }
            None => {
                return Err(Error::NotReserved {
                    address: self.text(first),
                })
            }
        }
        if self.child_index(first, last).is_some() {
            return Ok(());
        }
        let mut engine = Engine::new(self.engine.layout.clone(), self.engine.policy());
        let g = self.spanned(first, last)?;
        engine.add_pool(g, &[]).map_err(|f| self.error(f, &[]))?;
        self.children.push(Child {
            first,
            last,
            core: Core::from_engine(engine, self.space.clone()),
        });
        Ok(())
    }

    /// How many disjoint aligned blocks of `extents` are free in the pools (in `raw`),
    /// for blocks that are one run of addresses (a prefix size on a type whose fields
    /// form one bit string: how many /24s are left).
    pub(crate) fn free_block_count(
        &self,
        raw: &RawPattern,
        extents: &[u128],
    ) -> Result<Count, Error> {
        let fields = self.space.fields();
        for (f, &e) in fields.iter().zip(extents) {
            check_extent(f, e)?;
        }
        let shape = || display_extents(&extents[..fields.len().min(extents.len())], fields);
        let not_run = || Error::BadBlock {
            field: fields
                .first()
                .map_or(String::new(), |f| f.name().to_string()),
            extent: extents.first().copied().unwrap_or(1),
            reason: format!(
                "counting free blocks needs a block that is one run of addresses on a type \
                 whose fields form one bit string (a prefix size such as `/24`); `{}` is not",
                shape()
            ),
        };
        if !linear::is_bit_string(fields) {
            return Err(not_run());
        }
        // A run: fields whole below the first one with an extent over 1, which is a
        // power of two.
        let n = fields.len();
        let top = (0..n).find(|&i| extents[i] > 1).unwrap_or(n);
        let mut bits = 0u32;
        for i in (0..n).rev() {
            let w = 128 - fields[i].max().leading_zeros();
            if i > top {
                if extents[i] != fields[i].max() + 1 {
                    return Err(not_run());
                }
                bits += w;
            } else if i == top {
                if !extents[i].is_power_of_two() {
                    return Err(not_run());
                }
                bits += extents[i].trailing_zeros();
            }
        }
        if bits >= 128 {
            return Err(not_run());
        }
        let size = 1u128 << bits;
        let grids = self.search_grids(raw)?;
        let mut total = Count::from(0u128);
        for (s, e) in self.engine.free_ranges() {
            for g in grids.iter() {
                // The part of the free run inside the search box, as runs.
                let parts: Vec<(u128, u128)> = match g {
                    None => alloc::vec![(s, e)],
                    Some(g) => g
                        .runs(&self.engine.layout)
                        .filter_map(|(a, b)| {
                            let (a, b) = (a.max(s), b.min(e));
                            (a <= b).then_some((a, b))
                        })
                        .collect(),
                };
                for (a, b) in parts {
                    let start = a.div_ceil(size);
                    let end = (b - (size - 1).min(b)) / size;
                    if b >= size - 1
                        && end >= start
                        && start.checked_mul(size).is_some_and(|x| x <= b)
                    {
                        total = total.add(Count::from(end - start + 1));
                    }
                }
            }
        }
        Ok(total)
    }

    // ----- transactions ------------------------------------------------------

    /// Opens a (possibly nested) transaction: the engine journals its changes, and the
    /// children and linear pools are kept as they are (a clone, which allocates
    /// nothing while there are none) for a rollback.
    pub(crate) fn begin(&mut self)
    where
        S: Clone,
    {
        self.engine.begin();
        self.saved
            .push((self.children.clone(), self.linear.clone()));
    }

    pub(crate) fn commit(&mut self) {
        self.engine.commit();
        self.saved.pop();
    }

    /// Undoes the innermost transaction: the engine's journal, and the children and
    /// linear pools as they were when it began.
    pub(crate) fn rollback(&mut self) {
        self.engine.rollback();
        if let Some((children, linear)) = self.saved.pop() {
            self.children = children;
            self.linear = linear;
        }
    }
}

/// Sized requests (memory windows): any size, a separate power-of-two alignment of the
/// packed index, first fit, last fit or an exact start.
impl<S: Space> Core<S> {
    /// Reserves `size` consecutive indices (one run in address order) at a multiple of
    /// `align`, inside one pool carrying the required tags. Refuses a zero size, an
    /// alignment that is not a power of two and an unaligned exact start by name.
    pub(crate) fn reserve_sized(
        &mut self,
        size: u128,
        align: u128,
        fit: Fit<u128>,
        o: Opts<'_>,
    ) -> Result<(u128, u128), Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() {
            return Err(Error::BadAlignment { alignment: align });
        }
        let place = match fit {
            Fit::First => Place::First,
            Fit::Last => Place::Last,
            Fit::Exact(idx) if idx & (align - 1) != 0 => {
                return Err(Error::Unaligned {
                    address: self.text(idx),
                    alignment: align,
                })
            }
            Fit::Exact(idx) => Place::Exact(idx),
        };
        let mask = self.mask(o.tags)?;
        self.engine
            .reserve_sized(size - 1, align, place, mask, o.owner)
            .map_err(|f| match f {
                Fail::Exhausted => {
                    let what =
                        format!("window of {size} ({size:#x}) addresses aligned to {align:#x}");
                    Error::Exhausted {
                        request: front::describe(
                            match place {
                                Place::Exact(idx) => format!(
                                    "{what} at {}: it would run past the end of its pool",
                                    self.text(idx)
                                ),
                                _ => what,
                            },
                            o.tags,
                        ),
                    }
                }
                f => self.error(f, o.tags),
            })
    }

    /// Releases the one-run reservation that is exactly `first..=last` (a window
    /// returned by [`Core::reserve_sized`]).
    pub(crate) fn release_run(&mut self, first: u128, last: u128) -> Result<(), Error> {
        if first > last {
            return Err(Error::BadPattern {
                pattern: format!("{}..={}", self.text(first), self.text(last)),
                reason: "the first address must not come after the last".to_string(),
            });
        }
        self.engine.release_run(first, last).map_err(|f| match f {
            Fail::PartOf { .. } => self.not_whole(f, first, last),
            f => self.error(f, &[]),
        })
    }

    /// The error of a release of `first..=last` that is part of a larger reservation
    /// (`f` is [`Fail::PartOf`]): the reservation's [`Error::NotWhole`], naming the
    /// request.
    #[cold]
    fn not_whole(&self, f: Fail, first: u128, last: u128) -> Error {
        match self.error(f, &[]) {
            Error::NotWhole {
                address,
                reservation,
                owner,
                ..
            } => Error::NotWhole {
                request: Some(format!("{}..={}", self.text(first), self.text(last))),
                address,
                reservation,
                owner,
            },
            e => e,
        }
    }
}
