//! [`Engine`]: pools, reservations, owners and policy over packed indices.
//!
//! Every operation validates completely before it changes anything, so a failing call
//! leaves the engine exactly as it was.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::grid::{Grid, Layout};
use super::rangeset::RangeSet;
use crate::count::Count;
use crate::policy::Policy;

/// Reserved ranges, stored as `u64` when the space has at most 64 bits.
#[derive(Clone, Debug)]
pub(crate) enum Set {
    Narrow(RangeSet<u64>),
    Wide(RangeSet<u128>),
}

macro_rules! with_set {
    ($set:expr, $s:ident => $body:expr) => {
        match $set {
            $crate::engine::state::Set::Narrow($s) => $body,
            $crate::engine::state::Set::Wide($s) => $body,
        }
    };
}
pub(crate) use with_set;

/// A pool: a box of addresses that automatic choice may use, with tags.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    pub(crate) grid: Grid,
    /// Bit `i` set: carries tag `tags[i]`.
    pub(crate) tags: u64,
    /// Every pool index below `hint` is reserved: forward searches start here, so
    /// sequential lowest-first reservation is O(1) amortized instead of a walk from
    /// the pool's start.
    pub(crate) hint: u128,
}

/// Why an engine operation failed; the typed layers turn it into [`crate::Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    AlreadyReserved { index: u128, owner: Option<String> },
    OutsidePools { index: u128 },
    Exhausted,
    NotReserved { index: u128 },
    PoolOverlap { existing: usize },
    UnknownTag(String),
    TooManyTags,
}

/// The untyped allocator state.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    pub(crate) layout: Layout,
    pub(crate) set: Set,
    /// Sorted by first index; pairwise disjoint.
    pub(crate) pools: Vec<Pool>,
    pub(crate) tags: Vec<Box<str>>,
    /// Labelled runs: start -> (end, owner). Empty when nobody labels.
    pub(crate) owners: BTreeMap<u128, (u128, Box<str>)>,
    pub(crate) policy: Policy,
    /// Next-fit position: the search for the next automatic choice starts here.
    pub(crate) cursor: u128,
    pub(crate) reserved: Count,
    /// Block geometry of the last `reserve_block` without a pattern.
    pub(crate) block_cache: Option<Box<BlockCache>>,
    /// Lowest-first hints for recent patterns: inside `pattern`, in the pools carrying
    /// `mask`, every index below `hint` is reserved. Repeating a constrained request
    /// (`reserve_first("d=1")` in a loop) then starts where the last one ended instead
    /// of hopping over every earlier reservation.
    pattern_hints: Vec<PatternHint>,
}

/// See [`Engine::pattern_hints`].
#[derive(Clone, Debug)]
struct PatternHint {
    pattern: Grid,
    mask: TagMask,
    hint: u128,
}

/// How many pattern hints are kept (oldest dropped first).
const PATTERN_HINTS: usize = 8;

/// Aligned-start lattices (with their pool) and block runs for one block shape.
#[derive(Clone, Debug)]
pub(crate) struct BlockCache {
    mask: TagMask,
    extents: Vec<u128>,
    lattices: Vec<(Grid, usize)>,
    offs: Vec<(u128, u128)>,
    reusable: bool,
}

/// A required-tags mask.
pub(crate) type TagMask = u64;

impl Engine {
    pub(crate) fn new(layout: Layout, policy: Policy) -> Engine {
        let set = if layout.total_bits <= 64 {
            Set::Narrow(RangeSet::new())
        } else {
            Set::Wide(RangeSet::new())
        };
        Engine {
            layout,
            set,
            pools: Vec::new(),
            tags: Vec::new(),
            owners: BTreeMap::new(),
            policy,
            cursor: 0,
            reserved: Count::ZERO,
            block_cache: None,
            pattern_hints: Vec::new(),
        }
    }

    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    pub(crate) fn cursor(&self) -> u128 {
        self.cursor
    }

    pub(crate) fn pools(&self) -> impl Iterator<Item = (&Grid, impl Iterator<Item = &str>)> {
        self.pools.iter().map(move |p| {
            let tags = self
                .tags
                .iter()
                .enumerate()
                .filter(move |(i, _)| p.tags & (1 << i) != 0)
                .map(|(_, t)| &**t);
            (&p.grid, tags)
        })
    }

    /// Heap bytes held by the reservation set, pools and owner labels (approximate
    /// for the owner map, whose node layout is private to `alloc`).
    pub(crate) fn heap_bytes(&self) -> usize {
        let set = with_set!(&self.set, s => s.heap_bytes());
        let pools = self.pools.capacity() * core::mem::size_of::<Pool>();
        let tags: usize = self.tags.iter().map(|t| t.len()).sum::<usize>()
            + self.tags.capacity() * core::mem::size_of::<Box<str>>();
        let owners: usize = self.owners.values().map(|(_, o)| o.len() + 48).sum();
        set + pools + tags + owners
    }

    /// The mask of the named tags.
    pub(crate) fn tag_mask(&self, tags: &[&str]) -> Result<TagMask, Fail> {
        let mut mask = 0;
        for t in tags {
            match self.tags.iter().position(|x| &**x == *t) {
                Some(i) => mask |= 1 << i,
                None => return Err(Fail::UnknownTag((*t).to_string())),
            }
        }
        Ok(mask)
    }

    /// Adds a pool (a step-1 box) carrying `tags`.
    pub(crate) fn add_pool(&mut self, grid: Grid, tags: &[&str]) -> Result<(), Fail> {
        if let Some(existing) = self.pools.iter().position(|p| p.grid.meets(&grid)) {
            return Err(Fail::PoolOverlap { existing });
        }
        let new: Vec<&str> = tags
            .iter()
            .copied()
            .filter(|t| !self.tags.iter().any(|x| &**x == *t))
            .fold(Vec::new(), |mut v, t| {
                if !v.contains(&t) {
                    v.push(t);
                }
                v
            });
        if self.tags.len() + new.len() > 64 {
            return Err(Fail::TooManyTags);
        }
        self.tags.extend(new.into_iter().map(Box::from));
        let mask = self.tag_mask(tags)?;
        let first = grid.first(&self.layout);
        let at = self
            .pools
            .partition_point(|p| p.grid.first(&self.layout) < first);
        self.block_cache = None;
        // A new pool may hold free space below any pattern hint.
        self.pattern_hints.clear();
        self.pools.reserve_exact(1);
        self.pools.insert(
            at,
            Pool {
                grid,
                tags: mask,
                hint: 0,
            },
        );
        Ok(())
    }

    fn pool_of(&self, idx: u128, mask: TagMask) -> Option<usize> {
        self.pools
            .iter()
            .position(|p| p.tags & mask == mask && p.grid.contains(&self.layout, idx))
    }

    // ----- queries -----------------------------------------------------------

    pub(crate) fn is_reserved(&self, idx: u128) -> bool {
        with_set!(&self.set, s => s.containing(idx).is_some())
    }

    pub(crate) fn owner_of(&self, idx: u128) -> Option<&str> {
        if self.owners.is_empty() {
            return None;
        }
        let (_, (end, name)) = self.owners.range(..=idx).next_back()?;
        (*end >= idx).then_some(&**name)
    }

    pub(crate) fn reserved_count(&self) -> Count {
        self.reserved
    }

    /// Number of addresses in all pools.
    pub(crate) fn capacity(&self) -> Count {
        self.pools
            .iter()
            .fold(Count::ZERO, |c, p| c.add(p.grid.size()))
    }

    /// Free addresses in all pools (every reservation lies in a pool).
    pub(crate) fn free_count(&self) -> Count {
        self.capacity().sub(self.reserved)
    }

    /// Free addresses in all pools that carry `mask`, within `pattern`.
    pub(crate) fn free_count_in(&self, pattern: Option<&Grid>, mask: TagMask) -> Count {
        let mut total = Count::ZERO;
        for p in self.pools.iter().filter(|p| p.tags & mask == mask) {
            let Some(b) = Self::clip(&p.grid, pattern, &self.layout) else {
                continue;
            };
            let (first, last) = (b.first(&self.layout), b.last(&self.layout));
            let mut used = Count::ZERO;
            with_set!(&self.set, s => {
                for (rs, re) in s.iter_from(first) {
                    if rs > last {
                        break;
                    }
                    used = used.add(b.count_in(&self.layout, rs, re));
                }
            });
            total = total.add(b.size().sub(used));
        }
        total
    }

    pub(crate) fn reserved_ranges(&self) -> Box<dyn Iterator<Item = (u128, u128)> + '_> {
        with_set!(&self.set, s => Box::new(s.iter()))
    }

    pub(crate) fn owned_ranges(&self) -> impl Iterator<Item = (u128, u128, &str)> + '_ {
        self.owners.iter().map(|(s, (e, o))| (*s, *e, &**o))
    }

    /// Free runs inside the pools, in index order.
    pub(crate) fn free_ranges(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        self.pools.iter().flat_map(move |p| {
            p.grid.runs(&self.layout).flat_map(move |(rs, re)| {
                let mut x = Some(rs);
                core::iter::from_fn(move || loop {
                    let cur = x?;
                    if cur > re {
                        return None;
                    }
                    let next = with_set!(&self.set, s => s.first_ending_at_or_after(cur));
                    match next {
                        Some((s, e)) if s <= cur => {
                            x = e.checked_add(1);
                        }
                        Some((s, e)) if s <= re => {
                            x = e.checked_add(1);
                            return Some((cur, s - 1));
                        }
                        _ => {
                            x = None;
                            return Some((cur, re));
                        }
                    }
                })
            })
        })
    }

    // ----- reservations ------------------------------------------------------

    fn clip<'g>(pool: &'g Grid, pattern: Option<&Grid>, layout: &Layout) -> Option<Cow<'g, Grid>> {
        match pattern {
            None => Some(Cow::Borrowed(pool)),
            Some(p) => pool.intersect(p, layout).map(Cow::Owned),
        }
    }

    fn label(&mut self, s: u128, e: u128, owner: Option<&str>) {
        if let Some(o) = owner {
            self.owners.insert(s, (e, Box::from(o)));
        }
    }

    fn unlabel(&mut self, s: u128, e: u128) {
        if self.owners.is_empty() {
            return;
        }
        let hits: Vec<u128> = self
            .owners
            .range(..=e)
            .rev()
            .take_while(|(_, (ke, _))| *ke >= s)
            .map(|(k, _)| *k)
            .collect();
        for k in hits {
            if let Some((ke, name)) = self.owners.remove(&k) {
                if k < s {
                    self.owners.insert(k, (s - 1, name.clone()));
                }
                if ke > e {
                    self.owners.insert(e + 1, (ke, name));
                }
            }
        }
    }

    fn conflict(&self, idx: u128) -> Fail {
        Fail::AlreadyReserved {
            index: idx,
            owner: self.owner_of(idx).map(String::from),
        }
    }

    /// Reserves one exact index.
    pub(crate) fn reserve_exact(
        &mut self,
        idx: u128,
        mask: TagMask,
        owner: Option<&str>,
    ) -> Result<(), Fail> {
        if self.pool_of(idx, mask).is_none() {
            return Err(Fail::OutsidePools { index: idx });
        }
        if !with_set!(&mut self.set, s => s.try_insert(idx, idx)) {
            return Err(self.conflict(idx));
        }
        self.raise_hints(idx, idx);
        self.label(idx, idx, owner);
        self.reserved = self.reserved.add(Count::from(1u128));
        Ok(())
    }

    fn first_free_fwd(&self, g: &Grid, from: u128) -> Option<u128> {
        let mut x = g.ceil(&self.layout, from)?;
        loop {
            match with_set!(&self.set, s => s.containing(x)) {
                None => return Some(x),
                Some((_, e)) => x = g.ceil(&self.layout, e.checked_add(1)?)?,
            }
        }
    }

    fn first_free_back(&self, g: &Grid, from: u128) -> Option<u128> {
        let mut x = g.floor(&self.layout, from)?;
        loop {
            match with_set!(&self.set, s => s.containing(x)) {
                None => return Some(x),
                Some((s, _)) => x = g.floor(&self.layout, s.checked_sub(1)?)?,
            }
        }
    }

    /// Finds (without reserving) the address automatic choice would take in `pattern`.
    fn choose(&self, pattern: Option<&Grid>, mask: TagMask) -> Option<u128> {
        let Some(pattern) = pattern else {
            return self.choose_any(mask);
        };
        let phint = self.pattern_hint(pattern, mask);
        let pattern = Some(pattern);
        let boxes = self
            .pools
            .iter()
            .filter(|p| p.tags & mask == mask)
            .filter_map(|p| {
                let b = Self::clip(&p.grid, pattern, &self.layout)?;
                Some((b, p.hint.max(phint)))
            });
        match self.policy {
            Policy::LowestFirst => {
                let mut best: Option<u128> = None;
                for (b, hint) in boxes {
                    // Pools are sorted by first index, but their parts inside a
                    // pattern are not: skip a part that cannot win, never stop early.
                    if best.is_some_and(|x| x < b.first(&self.layout)) {
                        continue;
                    }
                    if let Some(x) = self.first_free_fwd(&b, hint) {
                        best = Some(best.map_or(x, |y| y.min(x)));
                    }
                }
                best
            }
            Policy::HighestFirst => boxes
                .filter_map(|(b, _)| self.first_free_back(&b, u128::MAX))
                .max(),
            Policy::NextFit => {
                let boxes: Vec<_> = boxes.collect();
                let from = self.cursor;
                boxes
                    .iter()
                    .filter_map(|(b, hint)| self.first_free_fwd(b, from.max(*hint)))
                    .min()
                    .or_else(|| {
                        boxes
                            .iter()
                            .filter_map(|(b, hint)| self.first_free_fwd(b, *hint))
                            .min()
                    })
            }
        }
    }

    fn pattern_hint(&self, pattern: &Grid, mask: TagMask) -> u128 {
        self.pattern_hints
            .iter()
            .find(|h| h.mask == mask && h.pattern == *pattern)
            .map_or(0, |h| h.hint)
    }

    fn set_pattern_hint(&mut self, pattern: &Grid, mask: TagMask, hint: u128) {
        if let Some(h) = self
            .pattern_hints
            .iter_mut()
            .find(|h| h.mask == mask && h.pattern == *pattern)
        {
            h.hint = hint;
            return;
        }
        if self.pattern_hints.len() == PATTERN_HINTS {
            self.pattern_hints.remove(0);
        }
        self.pattern_hints.push(PatternHint {
            pattern: pattern.clone(),
            mask,
            hint,
        });
    }

    /// `choose` without a pattern: the pools themselves, no clipping, no copies.
    fn choose_any(&self, mask: TagMask) -> Option<u128> {
        let layout = &self.layout;
        let mut pools = self.pools.iter().filter(|p| p.tags & mask == mask);
        match self.policy {
            Policy::LowestFirst => {
                let mut best: Option<u128> = None;
                for p in pools {
                    // Whole pools are sorted by first index and disjoint.
                    if best.is_some_and(|x| x < p.grid.first(layout)) {
                        break;
                    }
                    if let Some(x) = self.first_free_fwd(&p.grid, p.hint) {
                        best = Some(best.map_or(x, |y| y.min(x)));
                    }
                }
                best
            }
            Policy::HighestFirst => pools
                .filter_map(|p| self.first_free_back(&p.grid, u128::MAX))
                .max(),
            Policy::NextFit => {
                let from = self.cursor;
                pools
                    .clone()
                    .filter_map(|p| self.first_free_fwd(&p.grid, from.max(p.hint)))
                    .min()
                    .or_else(|| {
                        pools
                            .by_ref()
                            .filter_map(|p| self.first_free_fwd(&p.grid, p.hint))
                            .min()
                    })
            }
        }
    }

    /// After `s..=e` was reserved inside pools: hints that it reaches move past it.
    fn raise_hints(&mut self, s: u128, e: u128) {
        for p in &mut self.pools {
            if s <= p.hint && p.hint <= e {
                p.hint = e.saturating_add(1);
            }
        }
    }

    /// After indices from `s` on were released: no hint may stay above them.
    pub(crate) fn lower_hints(&mut self, s: u128) {
        for p in &mut self.pools {
            p.hint = p.hint.min(s);
        }
        for h in &mut self.pattern_hints {
            h.hint = h.hint.min(s);
        }
    }

    fn advance(&mut self, last: u128) {
        self.cursor = if last >= self.layout.max_index() {
            0
        } else {
            last + 1
        };
    }

    /// The lowest free index without a search when the lowest eligible pool's hint is
    /// free: O(1) for sequential filling (extend the last range), one look-up after a
    /// release.
    fn append_any(&mut self, mask: TagMask, owner: Option<&str>) -> Option<u128> {
        let i = self.pools.iter().position(|p| p.tags & mask == mask)?;
        let p = &self.pools[i];
        let (a, b) = p.grid.interval()?;
        let x = p.hint.max(a);
        // Everything in the pool below the hint is taken: if `x` itself is free it is
        // the lowest free index of the lowest eligible pool. Appending to the last range
        // needs no look-up; otherwise one look-up checks and inserts (churn: the address
        // just released).
        if x > b || !with_set!(&mut self.set, s => s.try_extend_last(x) || s.try_insert(x, x)) {
            return None;
        }
        self.pools[i].hint = x.saturating_add(1);
        self.label(x, x, owner);
        self.reserved = self.reserved.add(Count::from(1u128));
        self.advance(x);
        Some(x)
    }

    /// Reserves the first free index in `pattern` (None: anywhere) by policy.
    pub(crate) fn reserve_first(
        &mut self,
        pattern: Option<&Grid>,
        mask: TagMask,
        owner: Option<&str>,
    ) -> Result<u128, Fail> {
        if pattern.is_none() && self.policy == Policy::LowestFirst {
            if let Some(idx) = self.append_any(mask, owner) {
                return Ok(idx);
            }
        }
        let idx = self.choose(pattern, mask).ok_or(Fail::Exhausted)?;
        with_set!(&mut self.set, s => s.insert(idx, idx));
        if pattern.is_none() && self.policy == Policy::LowestFirst {
            // The lowest free index of its pool: everything below it there is taken.
            for p in &mut self.pools {
                if p.hint <= idx && p.grid.contains(&self.layout, idx) {
                    p.hint = idx.saturating_add(1);
                }
            }
        } else {
            self.raise_hints(idx, idx);
            if let (Some(p), Policy::LowestFirst) = (pattern, self.policy) {
                // The lowest free index of the pattern in the eligible pools.
                self.set_pattern_hint(p, mask, idx.saturating_add(1));
            }
        }
        self.label(idx, idx, owner);
        self.reserved = self.reserved.add(Count::from(1u128));
        self.advance(idx);
        Ok(idx)
    }

    /// Offsets `(start, end)` of the runs of a block, relative to its start.
    fn block_offsets(&self, lat: &Grid, extents: &[u128]) -> Vec<(u128, u128)> {
        let p = lat.first(&self.layout);
        let blk = Grid::block_at(&self.layout, p, extents);
        blk.runs(&self.layout)
            .map(|(s, e)| (s - p, e - p))
            .collect()
    }

    fn block_fwd(&mut self, lat: &Grid, offs: &[(u128, u128)], from: u128) -> Option<u128> {
        let layout = &self.layout;
        let p = lat.ceil(layout, from)?;
        if let [(0, o1)] = *offs {
            // One contiguous run: jump from gap to long-enough gap. A block of the whole
            // 128-bit space has 2^128 points: saturate, the check below is exact.
            let len = o1.saturating_add(1);
            let limit = lat.last(layout) + o1;
            let mut x = p;
            loop {
                let (gs, ge) = with_set!(&mut self.set, s => s.next_gap(x, len, limit))?;
                let q = lat.ceil(&self.layout, gs)?;
                if q <= ge && ge - q >= o1 {
                    return Some(q);
                }
                x = if q > ge { q } else { ge.checked_add(1)? };
            }
        }
        let mut p = p;
        'candidates: loop {
            for &(o0, o1) in offs {
                let (s, e) = (p + o0, p + o1);
                if let Some((rs, re)) = with_set!(&self.set, st => st.first_ending_at_or_after(s)) {
                    if rs <= e {
                        p = lat.ceil(&self.layout, (re - o0).checked_add(1)?)?;
                        continue 'candidates;
                    }
                }
            }
            return Some(p);
        }
    }

    fn block_back(&self, lat: &Grid, offs: &[(u128, u128)], from: u128) -> Option<u128> {
        let mut p = lat.floor(&self.layout, from)?;
        'candidates: loop {
            for &(o0, o1) in offs {
                let (s, e) = (p + o0, p + o1);
                if let Some((rs, re)) = with_set!(&self.set, st => st.last_starting_at_or_before(e))
                {
                    if re >= s {
                        p = lat.floor(&self.layout, rs.checked_sub(o1)?.checked_sub(1)?)?;
                        continue 'candidates;
                    }
                }
            }
            return Some(p);
        }
    }

    /// Reserves the first free aligned block with `extents` inside `pattern`.
    /// Returns its first and last index.
    pub(crate) fn reserve_block(
        &mut self,
        pattern: Option<&Grid>,
        extents: &[u128],
        mask: TagMask,
        owner: Option<&str>,
    ) -> Result<(u128, u128), Fail> {
        // Lattices of aligned starts per pool, and the block's runs; for the common
        // request (no pattern) they are kept from the previous call.
        let cached = pattern.is_none()
            && self
                .block_cache
                .as_ref()
                .is_some_and(|c| c.mask == mask && c.extents[..] == *extents);
        if !cached {
            let lattices: Vec<(Grid, usize)> = self
                .pools
                .iter()
                .enumerate()
                .filter(|(_, p)| p.tags & mask == mask)
                .filter_map(|(i, p)| Some((Self::clip(&p.grid, pattern, &self.layout)?, i)))
                .filter_map(|(b, i)| Some((b.lattice(&self.layout, extents)?, i)))
                .collect();
            let offs = match lattices.first() {
                Some((l, _)) => self.block_offsets(l, extents),
                None => Vec::new(),
            };
            self.block_cache = Some(Box::new(BlockCache {
                mask,
                extents: extents.to_vec(),
                lattices,
                offs,
                reusable: pattern.is_none(),
            }));
        }
        // Taken out for the search (which needs `&mut self`), put back after.
        let cache = match self.block_cache.take() {
            Some(c) => c,
            None => return Err(Fail::Exhausted),
        };
        if cache.lattices.is_empty() {
            self.block_cache = cache.reusable.then_some(cache);
            return Err(Fail::Exhausted);
        }
        let (lattices, offs) = (&cache.lattices, &cache.offs[..]);
        let found = match self.policy {
            Policy::LowestFirst => {
                let mut best: Option<u128> = None;
                for (l, pool) in lattices {
                    // As in `choose`: clipped lattices are not in pool order.
                    if best.is_some_and(|x| x < l.first(&self.layout)) {
                        continue;
                    }
                    let hint = self.pools[*pool].hint;
                    if let Some(x) = self.block_fwd(l, offs, hint) {
                        best = Some(best.map_or(x, |y| y.min(x)));
                    }
                }
                best
            }
            Policy::HighestFirst => lattices
                .iter()
                .filter_map(|(l, _)| self.block_back(l, offs, u128::MAX))
                .max(),
            Policy::NextFit => {
                let from = self.cursor;
                let mut best = None;
                for (l, pool) in lattices {
                    let hint = self.pools[*pool].hint;
                    if let Some(x) = self.block_fwd(l, offs, from.max(hint)) {
                        best = Some(best.map_or(x, |y: u128| y.min(x)));
                    }
                }
                if best.is_none() {
                    for (l, pool) in lattices {
                        let hint = self.pools[*pool].hint;
                        if let Some(x) = self.block_fwd(l, offs, hint) {
                            best = Some(best.map_or(x, |y: u128| y.min(x)));
                        }
                    }
                }
                best
            }
        };
        let Some(p) = found else {
            self.block_cache = cache.reusable.then_some(cache);
            return Err(Fail::Exhausted);
        };
        let mut size = Count::ZERO;
        for &(o0, o1) in &cache.offs {
            with_set!(&mut self.set, s => s.insert(p + o0, p + o1));
            self.raise_hints(p + o0, p + o1);
            self.label(p + o0, p + o1, owner);
            size = size.add(Count::span(p + o0, p + o1));
        }
        self.reserved = self.reserved.add(size);
        let last = p + cache.offs.last().map_or(0, |o| o.1);
        self.block_cache = cache.reusable.then_some(cache);
        self.advance(last);
        Ok((p, last))
    }

    /// Releases one index.
    pub(crate) fn release(&mut self, idx: u128) -> Result<(), Fail> {
        if !with_set!(&mut self.set, s => s.try_remove(idx, idx)) {
            return Err(Fail::NotReserved { index: idx });
        }
        self.lower_hints(idx);
        self.unlabel(idx, idx);
        self.reserved = self.reserved.sub(Count::from(1u128));
        Ok(())
    }

    /// Releases every index of a step-1 box; all of them must be reserved.
    pub(crate) fn release_box(&mut self, b: &Grid) -> Result<(), Fail> {
        // Check first, then change: a failure leaves everything as it was.
        for (s, e) in b.runs(&self.layout) {
            match with_set!(&self.set, st => st.containing(s)) {
                Some((_, re)) if re >= e => {}
                Some((_, re)) => return Err(Fail::NotReserved { index: re + 1 }),
                None => return Err(Fail::NotReserved { index: s }),
            }
        }
        if let Some((s, e)) = b.interval() {
            // One run (a whole PCI slot, an IPv4 block): no list of runs to build.
            with_set!(&mut self.set, st => st.remove(s, e));
            self.lower_hints(s);
            self.unlabel(s, e);
            self.reserved = self.reserved.sub(Count::span(s, e));
            return Ok(());
        }
        let mut size = Count::ZERO;
        let runs: Vec<(u128, u128)> = b.runs(&self.layout).collect();
        if let Some(&(s, _)) = runs.first() {
            self.lower_hints(s);
        }
        for (s, e) in runs {
            with_set!(&mut self.set, st => st.remove(s, e));
            self.unlabel(s, e);
            size = size.add(Count::span(s, e));
        }
        self.reserved = self.reserved.sub(size);
        Ok(())
    }

    /// Reserves every index of a step-1 box that lies inside one pool carrying `mask`.
    pub(crate) fn reserve_box(
        &mut self,
        b: &Grid,
        mask: TagMask,
        owner: Option<&str>,
    ) -> Result<(), Fail> {
        if !self
            .pools
            .iter()
            .any(|p| p.tags & mask == mask && p.grid.contains_box(b))
        {
            return Err(Fail::OutsidePools {
                index: b.first(&self.layout),
            });
        }
        for (s, e) in b.runs(&self.layout) {
            if let Some((rs, _)) = with_set!(&self.set, st => st.first_ending_at_or_after(s)) {
                if rs <= e {
                    return Err(self.conflict(rs.max(s)));
                }
            }
        }
        let runs: Vec<(u128, u128)> = b.runs(&self.layout).collect();
        let mut size = Count::ZERO;
        for (s, e) in runs {
            with_set!(&mut self.set, st => st.insert(s, e));
            self.raise_hints(s, e);
            self.label(s, e, owner);
            size = size.add(Count::span(s, e));
        }
        self.reserved = self.reserved.add(size);
        Ok(())
    }
}
