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
use super::journal::{Journal, Op};
use super::rangeset::RangeSet;
use super::records::{Rec, Records, NO_OWNER};
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

/// A pool: a box of addresses that automatic choice may use, with tags.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    /// Boxed: the pools' hot fields (in the pool index, see `Engine::spans`) stay
    /// contiguous, and the box is read only where a search needs it.
    pub(crate) grid: Box<Grid>,
    /// Bit `i` set: carries tag `tags[i]`.
    pub(crate) tags: u64,
}

/// Why an engine operation failed; the typed layers turn it into [`crate::Error`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    AlreadyReserved {
        index: u128,
        owner: Option<String>,
    },
    OutsidePools {
        index: u128,
    },
    Exhausted,
    NotReserved {
        index: u128,
    },
    PoolOverlap {
        existing: usize,
    },
    UnknownTag(String),
    TooManyTags,
    /// `index` lies in the reservation `first..=last` (a box when `boxed`), which is
    /// more than what a whole-reservation release asked for.
    PartOf {
        index: u128,
        first: u128,
        last: u128,
        boxed: bool,
        owner: Option<String>,
    },
    /// No pool is exactly this box.
    NoSuchPool,
    /// The pool still holds the reservation at `index`.
    PoolInUse {
        index: u128,
    },
}

/// A next-fit cursor's key: whether the search has a pattern, the pattern box's
/// corners (`(0, 0)` without one) and the required tags.
pub(crate) type CursorKey = (bool, u128, u128, u64);

/// The untyped allocator state.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    pub(crate) layout: Layout,
    pub(crate) set: Set,
    /// Sorted by first index; pairwise disjoint.
    pub(crate) pools: Vec<Pool>,
    /// Per pool (same order): its first and last index, the largest last index of it
    /// and every pool before it, its tags, whether it is one run, and its search
    /// hints: the hot fields, contiguous. The pools whose index interval meets `s..=e`
    /// are found from a binary search without visiting the others (see
    /// `pools_meeting`). Empty while there is at most one pool (its span is `solo`
    /// then); kept in step with `pools` by `span_inserted` / `span_removed`.
    spans: Vec<PoolSpan>,
    /// `spans[i].first` for every `i`: the binary search of `pools_meeting` reads this
    /// compact array (8 bytes a pool in spaces of at most 64 bits, else 16) rather than
    /// the spans, so that with thousands of pools its probes stay in cache.
    span_firsts: Firsts,
    /// The span of the only pool.
    solo: PoolSpan,
    /// Every pool before this position is full (its hint is past its last index):
    /// lowest-first searches without a pattern start here.
    full_below: usize,
    /// The pools at positions `full_run.0..full_run.1` are full too (what was
    /// `full_below` before a release lowered it, less the pool released in).
    full_run: (usize, usize),
    pub(crate) tags: Vec<Box<str>>,
    /// Owners and the extents of reservations of more than one address.
    pub(crate) records: Records,
    pub(crate) policy: Policy,
    /// Next-fit positions, one per search (pattern and required tags): the next
    /// automatic choice of that search starts here. Empty under other policies.
    pub(crate) cursors: BTreeMap<CursorKey, u128>,
    /// Open transactions.
    journal: Journal,
    pub(crate) reserved: Count,
    /// Block geometry of the last `reserve_block` without a pattern.
    pub(crate) block_cache: Option<Box<BlockCache>>,
    /// Lowest-first hints for recent patterns: inside `pattern`, in the pools carrying
    /// `mask`, every index below `hint` is reserved. Repeating a constrained request
    /// (`reserve_first("d=1")` in a loop) then starts where the last one ended instead
    /// of hopping over every earlier reservation.
    pattern_hints: Vec<PatternHint>,
    /// Use counter of `pattern_hints` and `block_hints`.
    hint_clock: u64,
    /// Lowest- and highest-first hints for recent block searches inside a pattern.
    block_hints: Vec<BlockHint>,
}

/// See [`Engine::block_hints`]: for blocks of `extents` inside `pattern`, in the pools
/// carrying `mask`, no aligned start below `hint` or above `top` is free.
#[derive(Clone, Debug)]
struct BlockHint {
    first: u128,
    last: u128,
    pattern: Grid,
    mask: TagMask,
    extents: Box<[u128]>,
    /// The block's last offset from its start: a release of `s..=e` may free the
    /// starts `s - span..=e`.
    span: u128,
    hint: u128,
    top: u128,
    used: u64,
}

/// How many block hints are kept (the least recently used dropped first).
const BLOCK_HINTS: usize = 16;

/// The first index of every pool (see [`Engine::span_firsts`]), as `u64` when the
/// space has at most 64 bits.
#[derive(Clone, Debug)]
enum Firsts {
    Narrow(Vec<u64>),
    Wide(Vec<u128>),
}

impl Firsts {
    fn len(&self) -> usize {
        match self {
            Firsts::Narrow(v) => v.len(),
            Firsts::Wide(v) => v.len(),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Firsts::Narrow(v) => v.truncate(n),
            Firsts::Wide(v) => v.truncate(n),
        }
    }

    fn reserve_exact(&mut self, n: usize) {
        match self {
            Firsts::Narrow(v) => v.reserve_exact(n),
            Firsts::Wide(v) => v.reserve_exact(n),
        }
    }

    /// Frees the storage (at most one pool).
    fn clear(&mut self) {
        match self {
            Firsts::Narrow(v) => *v = Vec::new(),
            Firsts::Wide(v) => *v = Vec::new(),
        }
    }

    /// Appends `x`, which fits the variant (a narrow space's indices fit `u64`).
    fn push(&mut self, x: u128) {
        match self {
            Firsts::Narrow(v) => v.push(x as u64),
            Firsts::Wide(v) => v.push(x),
        }
    }

    /// How many first indices are at most `x` (below `x` when `strict`); they are
    /// sorted.
    #[inline]
    fn count_below(&self, x: u128, strict: bool) -> usize {
        match self {
            Firsts::Narrow(v) => {
                // Every stored index fits u64: an `x` past them counts them all.
                let Ok(x) = u64::try_from(x) else {
                    return v.len();
                };
                if strict {
                    v.partition_point(|&f| f < x)
                } else {
                    v.partition_point(|&f| f <= x)
                }
            }
            Firsts::Wide(v) => {
                if strict {
                    v.partition_point(|&f| f < x)
                } else {
                    v.partition_point(|&f| f <= x)
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Firsts::Narrow(v) => v.capacity() * core::mem::size_of::<u64>(),
            Firsts::Wide(v) => v.capacity() * core::mem::size_of::<u128>(),
        }
    }
}

/// See [`Engine::spans`].
#[derive(Clone, Copy, Debug)]
struct PoolSpan {
    first: u128,
    last: u128,
    /// The largest `last` of this pool and every pool before it.
    reach: u128,
    /// The pool's tags (as in [`Pool::tags`]).
    tags: TagMask,
    /// The pool is exactly `first..=last` (one run): containment needs no grid.
    whole: bool,
    /// Every pool index below `hint` is reserved: forward searches start here, so
    /// sequential lowest-first reservation is O(1) amortized instead of a walk from
    /// the pool's start.
    hint: u128,
    /// Every pool index above `top` is reserved: highest-first searches start here.
    top: u128,
}

impl PoolSpan {
    /// A new pool's span before `reindex_pools` fills in its interval.
    const FRESH: PoolSpan = PoolSpan {
        first: 0,
        last: 0,
        reach: 0,
        tags: 0,
        whole: false,
        hint: 0,
        top: u128::MAX,
    };
}

/// See [`Engine::pattern_hints`].
#[derive(Clone, Debug)]
struct PatternHint {
    /// The pattern's first and last index: a cheap first comparison.
    first: u128,
    last: u128,
    pattern: Grid,
    mask: TagMask,
    /// Every index of the pattern in the eligible pools below `hint` is reserved.
    hint: u128,
    /// Every index of the pattern in the eligible pools above `top` is reserved.
    top: u128,
    /// When it was last used (for dropping the least recently used one).
    used: u64,
}

/// How many pattern hints are kept (the least recently used dropped first). Every
/// release lowers each of them, so they stay few.
const PATTERN_HINTS: usize = 64;

/// A remembered search bound ([`PatternHint`], [`BlockHint`]): everything below `hint`
/// and above `top` is reserved; `used` orders them for dropping.
trait Remembered {
    fn bounds(&mut self) -> (&mut u128, &mut u128, &mut u64);
    fn used(&self) -> u64;
}

impl Remembered for PatternHint {
    fn bounds(&mut self) -> (&mut u128, &mut u128, &mut u64) {
        (&mut self.hint, &mut self.top, &mut self.used)
    }
    fn used(&self) -> u64 {
        self.used
    }
}

impl Remembered for BlockHint {
    fn bounds(&mut self) -> (&mut u128, &mut u128, &mut u64) {
        (&mut self.hint, &mut self.top, &mut self.used)
    }
    fn used(&self) -> u64 {
        self.used
    }
}

/// Updates the bound at `slot`, or stores `new` (at most `cap` are kept: the least
/// recently used one gives way), marked used at `now`; a `None` bound stays as it is.
fn remember<T: Remembered>(
    v: &mut Vec<T>,
    cap: usize,
    slot: Option<usize>,
    new: Option<T>,
    now: u64,
    hint: Option<u128>,
    top: Option<u128>,
) {
    let i = match (slot, new) {
        (Some(i), _) => i,
        (None, None) => return,
        (None, Some(h)) if v.len() == cap => {
            let oldest = (0..v.len()).min_by_key(|&i| v[i].used()).unwrap_or(0);
            v[oldest] = h;
            oldest
        }
        (None, Some(h)) => {
            v.push(h);
            v.len() - 1
        }
    };
    let Some(h) = v.get_mut(i) else { return };
    let (lo, hi, used) = h.bounds();
    *used = now;
    if let Some(x) = hint {
        *lo = x;
    }
    if let Some(x) = top {
        *hi = x;
    }
}

/// Aligned-start lattices (with their pool) and block runs for one block shape.
#[derive(Clone, Debug)]
pub(crate) struct BlockCache {
    mask: TagMask,
    extents: Vec<u128>,
    lattices: Vec<(Grid, usize)>,
    offs: Vec<(u128, u128)>,
    reusable: bool,
    /// Lowest-first without a pattern: no aligned start below `hint` is free (lowered
    /// by every release like the pattern hints). Adjacent blocks are separate sealed
    /// ranges, so without it a refill would step over every block below.
    hint: u128,
}

/// A required-tags mask.
pub(crate) type TagMask = u64;

impl Engine {
    pub(crate) fn new(layout: Layout, policy: Policy) -> Engine {
        let span_firsts = if layout.total_bits <= 64 {
            Firsts::Narrow(Vec::new())
        } else {
            Firsts::Wide(Vec::new())
        };
        let set = if layout.total_bits <= 64 {
            Set::Narrow(RangeSet::new())
        } else {
            Set::Wide(RangeSet::new())
        };
        Engine {
            layout,
            set,
            pools: Vec::new(),
            spans: Vec::new(),
            solo: PoolSpan::FRESH,
            span_firsts,
            full_below: 0,
            full_run: (0, 0),
            tags: Vec::new(),
            records: Records::default(),
            policy,
            cursors: BTreeMap::new(),
            journal: Journal::default(),
            reserved: Count::ZERO,
            block_cache: None,
            pattern_hints: Vec::new(),
            hint_clock: 0,
            block_hints: Vec::new(),
        }
    }

    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// The cursor key of a search.
    pub(crate) fn cursor_key(&self, pattern: Option<&Grid>, mask: TagMask) -> CursorKey {
        match pattern {
            None => (false, 0, 0, mask),
            Some(g) => (true, g.first(&self.layout), g.last(&self.layout), mask),
        }
    }

    fn cursor_of(&self, key: &CursorKey) -> u128 {
        self.cursors.get(key).copied().unwrap_or(0)
    }

    pub(crate) fn pools(&self) -> impl Iterator<Item = (&Grid, impl Iterator<Item = &str>)> {
        self.pools.iter().map(move |p| {
            let tags = self
                .tags
                .iter()
                .enumerate()
                .filter(move |(i, _)| p.tags & (1 << i) != 0)
                .map(|(_, t)| &**t);
            (&*p.grid, tags)
        })
    }

    /// Heap bytes held by the reservation set, pools and owner labels (approximate
    /// for the owner map, whose node layout is private to `alloc`).
    pub(crate) fn heap_bytes(&self) -> usize {
        let set = with_set!(&self.set, s => s.heap_bytes());
        let pools = self.pools.capacity() * core::mem::size_of::<Pool>()
            + self.spans.capacity() * core::mem::size_of::<PoolSpan>()
            + self.span_firsts.heap_bytes();
        let tags: usize = self.tags.iter().map(|t| t.len()).sum::<usize>()
            + self.tags.capacity() * core::mem::size_of::<Box<str>>();
        set + pools + tags + self.records.heap_bytes()
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
        let (first, last) = (grid.first(&self.layout), grid.last(&self.layout));
        if let Some(existing) = self
            .pools_meeting(first, last)
            .filter(|&i| self.pools[i].grid.meets(&grid))
            .min()
        {
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
        let tags_before = self.tags.len();
        self.tags.extend(new.into_iter().map(Box::from));
        let mask = self.tag_mask(tags)?;
        let at = self.spans_upto(first, true);
        self.block_cache = None;
        // A new pool may hold free space below any pattern hint.
        self.pattern_hints.clear();
        self.block_hints.clear();
        // Exact growth keeps a few pools tight; many grow geometrically (no copy of
        // every pool per pool added).
        if self.pools.len() < 16 {
            self.pools.reserve_exact(1);
        } else {
            self.pools.reserve(1);
        }
        self.pools.insert(
            at,
            Pool {
                grid: Box::new(grid),
                tags: mask,
            },
        );
        self.span_inserted(at);
        self.reindex_pools(at);
        self.pool_inserted(at);
        self.journal.push(Op::PoolInsert(at, tags_before));
        Ok(())
    }

    pub(crate) fn pool_of(&self, idx: u128, mask: TagMask) -> Option<usize> {
        self.pool_of_upto(self.spans_upto(idx, false), idx, mask)
    }

    /// [`Engine::pool_of`] given `end = spans_upto(idx, false)`. Reads the pool itself
    /// only when it is not one run.
    #[inline]
    fn pool_of_upto(&self, end: usize, idx: u128, mask: TagMask) -> Option<usize> {
        let has = |i: usize, sp: &PoolSpan| {
            sp.first <= idx
                && idx <= sp.last
                && sp.tags & mask == mask
                && (sp.whole || self.pools[i].grid.contains(&self.layout, idx))
        };
        if self.spans.is_empty() {
            return (end == 1 && has(0, &self.solo)).then_some(0);
        }
        (0..end)
            .rev()
            .take_while(|&i| self.spans[i].reach >= idx)
            .find(|&i| has(i, &self.spans[i]))
    }

    /// The span of pool `i`.
    #[inline]
    fn span_at(&self, i: usize) -> PoolSpan {
        *self.hot(i)
    }

    /// The span (with the hints) of pool `i`.
    #[inline]
    fn hot(&self, i: usize) -> &PoolSpan {
        match self.spans.get(i) {
            Some(sp) => sp,
            None => &self.solo,
        }
    }

    /// Pool `i`'s search hints: every pool index below the first and above the second
    /// is reserved.
    #[inline]
    pub(crate) fn pool_hints(&self, i: usize) -> (u128, u128) {
        let sp = self.hot(i);
        (sp.hint, sp.top)
    }

    /// The span (with the hints) of pool `i`, to change its hints.
    #[inline]
    fn hot_mut(&mut self, i: usize) -> &mut PoolSpan {
        match self.spans.get_mut(i) {
            Some(sp) => sp,
            None => &mut self.solo,
        }
    }

    /// A pool went in at `at` (already in `pools`): its span, with fresh hints, goes
    /// in at the same place (`reindex_pools` fills in the interval).
    fn span_inserted(&mut self, at: usize) {
        match self.pools.len() {
            1 => self.solo = PoolSpan::FRESH,
            2 if self.spans.is_empty() => {
                let old = self.solo;
                self.spans = if at == 0 {
                    alloc::vec![PoolSpan::FRESH, old]
                } else {
                    alloc::vec![old, PoolSpan::FRESH]
                };
            }
            _ => self.spans.insert(at, PoolSpan::FRESH),
        }
    }

    /// The pool at `at` went (already out of `pools`): so does its span.
    fn span_removed(&mut self, at: usize) {
        match self.pools.len() {
            0 => self.solo = PoolSpan::FRESH,
            1 if self.spans.len() == 2 => {
                self.solo = self.spans[1 - at.min(1)];
                self.spans = Vec::new();
            }
            _ => {
                if at < self.spans.len() {
                    self.spans.remove(at);
                }
            }
        }
    }

    /// The number of pools (from the start) whose first index is at most `x` (below
    /// `x` when `strict`).
    #[inline]
    fn spans_upto(&self, x: u128, strict: bool) -> usize {
        if self.spans.is_empty() {
            let f = self.solo.first;
            usize::from(!self.pools.is_empty() && (f < x || (!strict && f == x)))
        } else if strict {
            self.span_firsts.count_below(x, true)
        } else {
            self.span_firsts.count_below(x, false)
        }
    }

    /// Rebuilds `spans` from pool `from` on (after pools changed there).
    fn reindex_pools(&mut self, from: usize) {
        // The hints stay; `span_inserted` / `span_removed` kept the spans in step
        // with the pools.
        let layout = &self.layout;
        let fill = |sp: &mut PoolSpan, p: &Pool, reach: u128| {
            let (first, last) = (p.grid.first(layout), p.grid.last(layout));
            sp.first = first;
            sp.last = last;
            sp.reach = reach.max(last);
            sp.tags = p.tags;
            sp.whole = p.grid.interval() == Some((first, last));
        };
        if self.pools.len() <= 1 {
            self.spans = Vec::new();
            self.span_firsts.clear();
            if let Some(p) = self.pools.first() {
                fill(&mut self.solo, p, 0);
            }
            return;
        }
        debug_assert_eq!(self.spans.len(), self.pools.len());
        // From the first pool whose first index is not listed yet (all of them when
        // the second pool just came).
        let from = from.min(self.spans.len()).min(self.span_firsts.len());
        self.span_firsts.truncate(from);
        if self.pools.len() < 16 {
            self.span_firsts.reserve_exact(self.pools.len() - from);
        }
        let mut reach = from
            .checked_sub(1)
            .and_then(|i| self.spans.get(i))
            .map_or(0, |p| p.reach);
        for (sp, p) in self.spans[from..].iter_mut().zip(&self.pools[from..]) {
            fill(sp, p, reach);
            reach = sp.reach;
            self.span_firsts.push(sp.first);
        }
    }

    /// A pool (perhaps not full) went in at position `at`.
    fn pool_inserted(&mut self, at: usize) {
        self.full_below = self.full_below.min(at);
        let (a, b) = self.full_run;
        self.full_run = if at <= a {
            (a + 1, b + 1)
        } else if at < b {
            (a, at)
        } else {
            (a, b)
        };
    }

    /// The pool at position `at` went.
    fn pool_removed(&mut self, at: usize) {
        self.full_below = self.full_below.min(at);
        let (a, b) = self.full_run;
        self.full_run = if at < a {
            (a - 1, b - 1)
        } else if at < b {
            (a, b - 1)
        } else {
            (a, b)
        };
    }

    /// Pool `i` may have free space again.
    fn pool_freed(&mut self, i: usize) {
        let (a, b) = self.full_run;
        if a <= i && i < b {
            self.full_run = if i - a >= b - i - 1 {
                (a, i)
            } else {
                (i + 1, b)
            };
        }
        let f = self.full_below;
        if i < f {
            self.full_below = i;
            let (a, b) = self.full_run;
            if f - (i + 1) > b.saturating_sub(a) {
                self.full_run = (i + 1, f);
            }
        }
    }

    fn pool_full(&self, i: usize) -> bool {
        let sp = self.span_at(i);
        sp.hint.max(sp.first) > sp.last
    }

    /// Moves `full_below` past the pools that are full now.
    fn advance_full(&mut self) {
        let mut k = self.full_below;
        loop {
            let (a, b) = self.full_run;
            if k == a && a < b {
                k = b;
            } else if k < self.pools.len() && self.pool_full(k) {
                k += 1;
            } else {
                break;
            }
        }
        self.full_below = k;
        if self.full_run.1 <= k {
            self.full_run = (0, 0);
        }
    }

    /// The positions of the pools that may have free space, in order: from
    /// `full_below`, skipping `full_run`.
    fn open_pools(&self) -> impl Iterator<Item = usize> + '_ {
        let (a, b) = self.full_run;
        (self.full_below..self.pools.len()).filter(move |&i| i < a || i >= b)
    }

    /// The positions of the pools whose index interval meets `s..=e`, last first:
    /// those starting at or before `e`, walked down while some pool at or below
    /// reaches `s`. Pools whose intervals interleave are all visited; disjoint ones
    /// cost a binary search.
    fn pools_meeting(&self, s: u128, e: u128) -> impl Iterator<Item = usize> + '_ {
        let end = self.spans_upto(e, false);
        (0..end)
            .rev()
            .map(|i| (i, self.span_at(i)))
            .take_while(move |(_, p)| p.reach >= s)
            .filter(move |(_, p)| p.last >= s)
            .map(|(i, _)| i)
    }

    // ----- queries -----------------------------------------------------------

    pub(crate) fn is_reserved(&self, idx: u128) -> bool {
        with_set!(&self.set, s => s.containing(idx).is_some())
    }

    pub(crate) fn owner_of(&self, idx: u128) -> Option<&str> {
        let (_, r) = self.records.containing(idx)?;
        self.records.owner(&r)
    }

    /// The whole reservation holding `idx`: first and last index, whether it is a box
    /// of several runs, and its owner.
    pub(crate) fn reservation_at(&self, idx: u128) -> Option<(u128, u128, bool, Option<&str>)> {
        if let Some((_, r)) = self.records.containing(idx) {
            let (f, l, boxed) = self.records.extent(r.head)?;
            return Some((f, l, boxed, self.records.owner(&r)));
        }
        match with_set!(&self.set, s => s.containing_entry(idx))? {
            (s, e, true) => Some((s, e, false, None)),
            _ => Some((idx, idx, false, None)),
        }
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

    /// The set's ranges in order, each with whether it is sealed (one whole unlabelled
    /// reservation of more than one address; see `rangeset`). Unsealed ranges are
    /// maximal among themselves but may touch a sealed one.
    pub(crate) fn reserved_entries(&self) -> Box<dyn Iterator<Item = (u128, u128, bool)> + '_> {
        with_set!(&self.set, s => Box::new(s.entries()))
    }

    pub(crate) fn owned_ranges(&self) -> impl Iterator<Item = (u128, u128, &str)> + '_ {
        self.records
            .runs
            .iter()
            .filter_map(|(s, r)| Some((*s, r.end, self.records.owner(r)?)))
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

    fn clip<'g>(
        pool: &'g Grid,
        pattern: Option<&'g Grid>,
        layout: &Layout,
    ) -> Option<Cow<'g, Grid>> {
        match pattern {
            None => Some(Cow::Borrowed(pool)),
            // A pattern inside the pool (the usual case) is its own clip: no new box.
            Some(p) if pool.contains_box(p) => Some(Cow::Borrowed(p)),
            Some(p) => pool.intersect(p, layout).map(Cow::Owned),
        }
    }

    // ----- primitive changes (the only places that journal) -------------------

    /// Bookkeeping after `s..=e` went into the set.
    #[inline]
    pub(crate) fn inserted(&mut self, s: u128, e: u128) {
        self.reserved = self.reserved.add(Count::span(s, e));
        self.journal.push(Op::SetInsert(s, e));
    }

    /// Takes `s..=e` (all reserved) out of the set.
    fn set_remove(&mut self, s: u128, e: u128) {
        with_set!(&mut self.set, st => st.remove(s, e));
        self.reserved = self.reserved.sub(Count::span(s, e));
        self.lower_hints(s, e);
        self.journal.push(Op::SetRemove(s, e));
    }

    /// Adds the free run `s..=e` (more than one index) as one sealed range: a whole
    /// unlabelled reservation whose bounds the set keeps, with no record.
    fn seal_insert(&mut self, s: u128, e: u128) {
        with_set!(&mut self.set, st => st.insert_sealed(s, e));
        self.reserved = self.reserved.add(Count::span(s, e));
        self.journal.push(Op::SealInsert(s, e));
    }

    /// Bookkeeping after the sealed range `s..=e` left the set.
    fn sealed_removed(&mut self, s: u128, e: u128) {
        self.reserved = self.reserved.sub(Count::span(s, e));
        self.lower_hints(s, e);
        self.journal.push(Op::SealRemove(s, e));
    }

    /// Whether a fresh reservation of `runs` is kept as a sealed range (unlabelled,
    /// one run of more than one index) rather than with a record.
    #[inline]
    fn sealable(runs: &[(u128, u128)], owner: Option<&str>) -> bool {
        owner.is_none() && matches!(runs, [(s, e)] if s < e)
    }

    /// Adds the free runs of a fresh reservation `first..=last` to the set: one
    /// sealed range, or the runs and a record (see [`Engine::sealable`]).
    fn place(&mut self, runs: &[(u128, u128)], first: u128, last: u128, owner: Option<&str>) {
        if Self::sealable(runs, owner) {
            self.seal_insert(first, last);
            self.raise_hints(first, last);
            return;
        }
        for &(s, e) in runs {
            with_set!(&mut self.set, st => st.insert(s, e));
            self.inserted(s, e);
            self.raise_hints(s, e);
        }
        self.record(runs, first, last, owner);
    }

    fn rec_insert(&mut self, key: u128, rec: Rec) {
        if rec.owner != NO_OWNER {
            self.records.names.inc(rec.owner);
        }
        self.records.runs.insert(key, rec);
        self.journal.push(Op::RecInsert(key));
    }

    fn rec_remove(&mut self, key: u128) -> Option<Rec> {
        let rec = self.records.runs.remove(&key)?;
        self.name_dropped(rec.owner);
        self.journal.push(Op::RecRemove(key, rec));
        Some(rec)
    }

    /// One record fewer uses `owner`; unused names are swept now and then, never
    /// inside a transaction.
    fn name_dropped(&mut self, owner: u32) {
        if owner != NO_OWNER {
            self.records.names.dec(owner);
            if !self.journal.active() {
                self.records.names.sweep();
            }
        }
    }

    fn box_insert(&mut self, head: u128, last: u128) {
        self.records.boxes.insert(head, last);
        self.journal.push(Op::BoxInsert(head));
    }

    fn box_remove(&mut self, head: u128) {
        if let Some(last) = self.records.boxes.remove(&head) {
            self.journal.push(Op::BoxRemove(head, last));
        }
    }

    fn set_cursor(&mut self, key: CursorKey, next: u128) {
        let old = self.cursors.insert(key, next);
        if self.journal.active() && old != Some(next) {
            self.journal.ops.push(Op::Cursor(key, old));
        }
    }

    /// Records a fresh reservation `first..=last` made of `runs` (several runs: a box
    /// with those corners). An unlabelled single address needs no record.
    pub(crate) fn record(
        &mut self,
        runs: &[(u128, u128)],
        first: u128,
        last: u128,
        owner: Option<&str>,
    ) {
        if owner.is_none() && first == last {
            return;
        }
        let id = match owner {
            Some(o) => self.records.names.intern(o),
            None => NO_OWNER,
        };
        for &(s, e) in runs {
            self.rec_insert(
                s,
                Rec {
                    end: e,
                    head: first,
                    owner: id,
                },
            );
        }
        if runs.len() > 1 {
            self.box_insert(first, last);
        }
    }

    /// The runs of the reservation `first..=last` (a box when `boxed`).
    fn runs_of(&self, first: u128, last: u128, boxed: bool) -> Vec<(u128, u128)> {
        if !boxed {
            return alloc::vec![(first, last)];
        }
        match Grid::spanned(&self.layout, first, last) {
            Some(g) => g.runs(&self.layout).collect(),
            None => alloc::vec![(first, last)],
        }
    }

    /// Whether the record run at `k` is a whole reservation of one run.
    #[inline]
    pub(crate) fn linear(&self, k: u128, r: &Rec) -> bool {
        r.head == k && (self.records.boxes.is_empty() || !self.records.boxes.contains_key(&k))
    }

    /// Frees the recorded one-run reservation `k..=end`.
    #[inline]
    pub(crate) fn drop_linear(&mut self, k: u128, end: u128) {
        self.rec_remove(k);
        self.set_remove(k, end);
    }

    /// Frees the whole recorded reservation starting at `head`; its size.
    fn drop_reservation(&mut self, head: u128) -> Count {
        let Some((first, last, boxed)) = self.records.extent(head) else {
            return Count::ZERO;
        };
        if !boxed {
            // One run: no list to build.
            self.rec_remove(first);
            self.set_remove(first, last);
            return Count::span(first, last);
        }
        let mut size = Count::ZERO;
        for (s, e) in self.runs_of(first, last, boxed) {
            self.rec_remove(s);
            self.set_remove(s, e);
            size = size.add(Count::span(s, e));
        }
        self.box_remove(head);
        size
    }

    pub(crate) fn conflict(&self, idx: u128) -> Fail {
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
        // One binary search for the pool look-up and the hints.
        let end = self.spans_upto(idx, false);
        if self.pool_of_upto(end, idx, mask).is_none() {
            return Err(Fail::OutsidePools { index: idx });
        }
        if !with_set!(&mut self.set, s => s.try_insert(idx, idx)) {
            return Err(self.conflict(idx));
        }
        self.inserted(idx, idx);
        self.raise_hints_upto(end, idx, idx);
        self.record(&[(idx, idx)], idx, idx, owner);
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
    fn choose(&self, pattern: Option<&Grid>, mask: TagMask, slot: Option<usize>) -> Option<u128> {
        let from = match self.policy {
            Policy::NextFit => self.cursor_of(&self.cursor_key(pattern, mask)),
            _ => 0,
        };
        let Some(pattern) = pattern else {
            return self.choose_any(mask);
        };
        let (pf, pl) = (pattern.first(&self.layout), pattern.last(&self.layout));
        let (phint, ptop) = match slot {
            Some(i) => (self.pattern_hints[i].hint, self.pattern_hints[i].top),
            None => (0, u128::MAX),
        };
        if phint > pl || ptop < pf {
            // Known to be full (a previous search failed, nothing was released since).
            return None;
        }
        let pattern = Some(pattern);
        let boxes = self
            .pools_meeting(pf, pl)
            .map(|i| (&self.pools[i], self.hot(i)))
            .filter(|(p, _)| p.tags & mask == mask)
            .filter_map(|(p, h)| {
                let b = Self::clip(&p.grid, pattern, &self.layout)?;
                Some((b, h.hint.max(phint), h.top.min(ptop)))
            });
        match self.policy {
            // Lowest and highest first walk the pools in a plain loop: each part stays
            // where it is (a borrowed pattern, usually) instead of moving through the
            // iterator adapters, a copy of the box per pool per search.
            Policy::LowestFirst => {
                let mut best: Option<u128> = None;
                for i in self.pools_meeting(pf, pl) {
                    let (p, h) = (&self.pools[i], self.hot(i));
                    if p.tags & mask != mask {
                        continue;
                    }
                    let Some(b) = Self::clip(&p.grid, pattern, &self.layout) else {
                        continue;
                    };
                    // Pools are visited last first, and their parts inside a pattern
                    // are not sorted: skip a part that cannot win, never stop early.
                    if best.is_some_and(|x| x < b.first(&self.layout)) {
                        continue;
                    }
                    if let Some(x) = self.first_free_fwd(&b, h.hint.max(phint)) {
                        best = Some(best.map_or(x, |y| y.min(x)));
                    }
                }
                best
            }
            Policy::HighestFirst => {
                let mut best: Option<u128> = None;
                for i in self.pools_meeting(pf, pl) {
                    let (p, h) = (&self.pools[i], self.hot(i));
                    if p.tags & mask != mask {
                        continue;
                    }
                    let Some(b) = Self::clip(&p.grid, pattern, &self.layout) else {
                        continue;
                    };
                    if best.is_some_and(|x| x > b.last(&self.layout)) {
                        continue;
                    }
                    if let Some(x) = self.first_free_back(&b, h.top.min(ptop)) {
                        best = Some(best.map_or(x, |y| y.max(x)));
                    }
                }
                best
            }
            Policy::NextFit => {
                let boxes: Vec<_> = boxes.collect();
                boxes
                    .iter()
                    .filter_map(|(b, hint, _)| self.first_free_fwd(b, from.max(*hint)))
                    .min()
                    .or_else(|| {
                        boxes
                            .iter()
                            .filter_map(|(b, hint, _)| self.first_free_fwd(b, *hint))
                            .min()
                    })
            }
        }
    }

    fn find_hint(&self, pattern: &Grid, mask: TagMask) -> Option<usize> {
        let (first, last) = (pattern.first(&self.layout), pattern.last(&self.layout));
        self.pattern_hints.iter().position(|h| {
            h.first == first && h.last == last && h.mask == mask && h.pattern == *pattern
        })
    }

    /// Sets the pattern's lower hint and/or upper hint (`None`: unchanged).
    fn set_pattern_hint(
        &mut self,
        pattern: &Grid,
        mask: TagMask,
        slot: Option<usize>,
        hint: Option<u128>,
        top: Option<u128>,
    ) {
        self.hint_clock += 1;
        let new = match slot {
            Some(_) => None,
            None => Some(PatternHint {
                first: pattern.first(&self.layout),
                last: pattern.last(&self.layout),
                pattern: pattern.clone(),
                mask,
                hint: 0,
                top: u128::MAX,
                used: 0,
            }),
        };
        let now = self.hint_clock;
        remember(
            &mut self.pattern_hints,
            PATTERN_HINTS,
            slot,
            new,
            now,
            hint,
            top,
        );
    }

    /// `choose` without a pattern: the pools themselves, no clipping, no copies.
    fn choose_any(&self, mask: TagMask) -> Option<u128> {
        let layout = &self.layout;
        let mut pools = self
            .pools
            .iter()
            .enumerate()
            .filter(|(_, p)| p.tags & mask == mask)
            .map(|(i, p)| (p, self.hot(i)));
        match self.policy {
            Policy::LowestFirst => {
                let mut best: Option<u128> = None;
                let open = self
                    .open_pools()
                    .map(|i| (&self.pools[i], self.hot(i)))
                    .filter(|(p, _)| p.tags & mask == mask);
                for (p, h) in open {
                    // Whole pools are sorted by first index and disjoint.
                    if best.is_some_and(|x| x < p.grid.first(layout)) {
                        break;
                    }
                    if let Some(x) = self.first_free_fwd(&p.grid, h.hint) {
                        best = Some(best.map_or(x, |y| y.min(x)));
                    }
                }
                best
            }
            Policy::HighestFirst => {
                let mut best: Option<u128> = None;
                for (p, h) in pools {
                    if best.is_some_and(|x| x > p.grid.last(layout)) {
                        continue;
                    }
                    if let Some(x) = self.first_free_back(&p.grid, h.top) {
                        best = Some(best.map_or(x, |y| y.max(x)));
                    }
                }
                best
            }
            Policy::NextFit => {
                let from = self.cursor_of(&(false, 0, 0, mask));
                pools
                    .clone()
                    .filter_map(|(p, h)| self.first_free_fwd(&p.grid, from.max(h.hint)))
                    .min()
                    .or_else(|| {
                        pools
                            .by_ref()
                            .filter_map(|(p, h)| self.first_free_fwd(&p.grid, h.hint))
                            .min()
                    })
            }
        }
    }

    /// After `s..=e` was reserved inside pools: hints that it reaches move past it.
    /// Only pools whose interval meets `s..=e` can be reached (a hint outside its
    /// pool's interval means the same as the pool's first or last index).
    pub(crate) fn raise_hints(&mut self, s: u128, e: u128) {
        self.raise_hints_upto(self.spans_upto(e, false), s, e);
    }

    /// [`Engine::raise_hints`] given `end = spans_upto(e, false)`.
    #[inline]
    fn raise_hints_upto(&mut self, end: usize, s: u128, e: u128) {
        if self.spans.is_empty() {
            if !self.pools.is_empty() {
                Self::raise_pool(&mut self.solo, s, e);
            }
            return;
        }
        for sp in self.spans[..end].iter_mut().rev() {
            if sp.reach < s {
                break;
            }
            if sp.last < s {
                continue;
            }
            Self::raise_pool(sp, s, e);
        }
    }

    #[inline]
    fn raise_pool(sp: &mut PoolSpan, s: u128, e: u128) {
        if sp.last < s || sp.first > e {
            return;
        }
        let low = sp.hint.max(sp.first);
        if s <= low && low <= e {
            sp.hint = e.saturating_add(1);
        }
        let high = sp.top.min(sp.last);
        if s <= high && high <= e {
            sp.top = s.saturating_sub(1);
        }
    }

    /// After `s..=e` was released: no lower hint may stay above `s`, no upper hint
    /// below `e`. Pools whose interval misses `s..=e` lost nothing.
    pub(crate) fn lower_hints(&mut self, s: u128, e: u128) {
        if self.spans.is_empty() {
            // One pool (or none): no search.
            let sp = &mut self.solo;
            if !self.pools.is_empty() && sp.last >= s && sp.first <= e {
                sp.hint = sp.hint.min(s);
                sp.top = sp.top.max(e);
                self.full_below = 0;
                self.full_run = (0, 0);
            }
        } else {
            self.lower_pool_hints(s, e);
        }
        if !self.pattern_hints.is_empty() {
            for h in &mut self.pattern_hints {
                h.hint = h.hint.min(s);
                h.top = h.top.max(e);
            }
        }
        if !self.block_hints.is_empty() {
            for h in &mut self.block_hints {
                h.hint = h.hint.min(s.saturating_sub(h.span));
                h.top = h.top.max(e);
            }
        }
        if let Some(c) = self.block_cache.as_mut() {
            let span = c.offs.last().map_or(0, |o| o.1);
            c.hint = c.hint.min(s.saturating_sub(span));
        }
    }

    fn lower_pool_hints(&mut self, s: u128, e: u128) {
        let end = self.spans_upto(e, false);
        for i in (0..end).rev() {
            let sp = self.span_at(i);
            if sp.reach < s {
                break;
            }
            if sp.last < s {
                continue;
            }
            let sp = &mut self.spans[i];
            sp.hint = sp.hint.min(s);
            sp.top = sp.top.max(e);
            self.pool_freed(i);
        }
    }

    fn find_block_hint(&self, pattern: &Grid, mask: TagMask, extents: &[u128]) -> Option<usize> {
        let (first, last) = (pattern.first(&self.layout), pattern.last(&self.layout));
        self.block_hints.iter().position(|h| {
            h.first == first
                && h.last == last
                && h.mask == mask
                && *h.extents == *extents
                && h.pattern == *pattern
        })
    }

    /// Sets a block search's lower and/or upper hint (`None`: unchanged).
    fn set_block_hint(
        &mut self,
        pattern: &Grid,
        mask: TagMask,
        extents: &[u128],
        span: u128,
        hint: Option<u128>,
        top: Option<u128>,
    ) {
        self.hint_clock += 1;
        let slot = self.find_block_hint(pattern, mask, extents);
        let new = match slot {
            Some(_) => None,
            None => Some(BlockHint {
                first: pattern.first(&self.layout),
                last: pattern.last(&self.layout),
                pattern: pattern.clone(),
                mask,
                extents: extents.into(),
                span,
                hint: 0,
                top: u128::MAX,
                used: 0,
            }),
        };
        let now = self.hint_clock;
        remember(
            &mut self.block_hints,
            BLOCK_HINTS,
            slot,
            new,
            now,
            hint,
            top,
        );
    }

    /// Next-fit: the search `key` continues after `last`.
    fn advance(&mut self, key: CursorKey, last: u128) {
        if self.policy != Policy::NextFit {
            return;
        }
        let next = if last >= self.layout.max_index() {
            0
        } else {
            last + 1
        };
        self.set_cursor(key, next);
    }

    /// The lowest free index without a search when the lowest eligible pool's hint is
    /// free: O(1) for sequential filling (extend the last range), one look-up after a
    /// release.
    fn append_any(&mut self, mask: TagMask, owner: Option<&str>) -> Option<u128> {
        let (a, b) = self.full_run;
        let mut i = self.full_below;
        loop {
            if i >= self.pools.len() {
                return None;
            }
            if a <= i && i < b {
                i = b;
            } else if mask == 0 || self.hot(i).tags & mask == mask {
                break;
            } else {
                i += 1;
            }
        }
        // The span says whether the pool is one run (no read of its box). Borrowed
        // field by field, so the set can change while it is held.
        let sp = match self.spans.get_mut(i) {
            Some(sp) => sp,
            None => &mut self.solo,
        };
        if !sp.whole {
            return None;
        }
        let (b, x) = (sp.last, sp.hint.max(sp.first));
        // Everything in the pool below the hint is taken: if `x` itself is free it is
        // the lowest free index of the lowest eligible pool. Appending to the last range
        // needs no look-up; otherwise one look-up checks and inserts (churn: the address
        // just released, or the point just past the range holding the hint).
        if x > b {
            return None;
        }
        let x = if with_set!(&mut self.set, s => s.try_extend_last(x)) {
            x
        } else {
            with_set!(&mut self.set, s => s.claim_from(x, b))?
        };
        sp.hint = x.saturating_add(1);
        self.inserted(x, x);
        self.record(&[(x, x)], x, x, owner);
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
        // The pattern's hints, looked up once for the search and the update.
        let slot = pattern.and_then(|p| self.find_hint(p, mask));
        let Some(idx) = self.choose(pattern, mask, slot) else {
            if let Some(p) = pattern {
                // Nothing free in the pattern in the eligible pools: the next search
                // knows it at once, until something is released (a rollback undoes
                // reservations through `lower_hints` too).
                let (first, last) = (p.first(&self.layout), p.last(&self.layout));
                self.set_pattern_hint(
                    p,
                    mask,
                    slot,
                    Some(last.saturating_add(1)),
                    Some(first.saturating_sub(1)),
                );
            }
            return Err(Fail::Exhausted);
        };
        with_set!(&mut self.set, s => s.insert(idx, idx));
        self.inserted(idx, idx);
        self.raise_hints(idx, idx);
        if pattern.is_none() && self.policy != Policy::NextFit {
            // The lowest (highest) free index of its pool: everything below (above)
            // it there is taken.
            if let Some(i) = self.pool_of(idx, 0) {
                let lowest = self.policy == Policy::LowestFirst;
                let p = self.hot_mut(i);
                if lowest {
                    p.hint = p.hint.max(idx.saturating_add(1));
                } else {
                    p.top = p.top.min(idx.saturating_sub(1));
                }
            }
            self.advance_full();
        } else if let Some(p) = pattern {
            // The lowest (highest) free index of the pattern in the eligible pools.
            match self.policy {
                Policy::LowestFirst => {
                    self.set_pattern_hint(p, mask, slot, Some(idx.saturating_add(1)), None)
                }
                Policy::HighestFirst => {
                    self.set_pattern_hint(p, mask, slot, None, Some(idx.saturating_sub(1)))
                }
                Policy::NextFit => {}
            }
        }
        self.record(&[(idx, idx)], idx, idx, owner);
        if self.policy == Policy::NextFit {
            let key = self.cursor_key(pattern, mask);
            self.advance(key, idx);
        }
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
            let (pf, pl) = match pattern {
                Some(g) => (g.first(&self.layout), g.last(&self.layout)),
                None => (0, u128::MAX),
            };
            let mut near: Vec<usize> = self.pools_meeting(pf, pl).collect();
            near.reverse();
            let lattices: Vec<(Grid, usize)> = near
                .into_iter()
                .map(|i| (i, &self.pools[i]))
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
                hint: 0,
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
        let span = offs.last().map_or(0, |o| o.1);
        let (bhint, btop) = match pattern {
            Some(g) if self.policy != Policy::NextFit => {
                match self.find_block_hint(g, mask, extents) {
                    Some(i) => (self.block_hints[i].hint, self.block_hints[i].top),
                    None => (0, u128::MAX),
                }
            }
            None => (cache.hint, u128::MAX),
            _ => (0, u128::MAX),
        };
        let found = match self.policy {
            Policy::LowestFirst => {
                let mut best: Option<u128> = None;
                for (l, pool) in lattices {
                    // As in `choose`: clipped lattices are not in pool order.
                    if best.is_some_and(|x| x < l.first(&self.layout)) {
                        continue;
                    }
                    let hint = self.hot(*pool).hint.max(bhint);
                    if let Some(x) = self.block_fwd(l, offs, hint) {
                        best = Some(best.map_or(x, |y| y.min(x)));
                    }
                }
                best
            }
            Policy::HighestFirst => {
                let mut best: Option<u128> = None;
                for (l, pool) in lattices {
                    if best.is_some_and(|x| x > l.last(&self.layout)) {
                        continue;
                    }
                    let top = self.hot(*pool).top.min(btop);
                    if let Some(x) = self.block_back(l, offs, top) {
                        best = Some(best.map_or(x, |y| y.max(x)));
                    }
                }
                best
            }
            Policy::NextFit => {
                let from = self.cursor_of(&self.cursor_key(pattern, mask));
                let mut best = None;
                for (l, pool) in lattices {
                    let hint = self.hot(*pool).hint;
                    if let Some(x) = self.block_fwd(l, offs, from.max(hint)) {
                        best = Some(best.map_or(x, |y: u128| y.min(x)));
                    }
                }
                if best.is_none() {
                    for (l, pool) in lattices {
                        let hint = self.hot(*pool).hint;
                        if let Some(x) = self.block_fwd(l, offs, hint) {
                            best = Some(best.map_or(x, |y: u128| y.min(x)));
                        }
                    }
                }
                best
            }
        };
        if let Some(g) = pattern.filter(|_| self.policy != Policy::NextFit) {
            // The lowest (highest) free start, or none: no start below (above) it is
            // free any more.
            let (hint, top) = match (found, self.policy) {
                (Some(p), Policy::LowestFirst) => (Some(p.saturating_add(1)), None),
                (Some(p), _) => (None, Some(p.saturating_sub(1))),
                (None, _) => (Some(u128::MAX), Some(0)),
            };
            self.set_block_hint(g, mask, extents, span, hint, top);
        }
        let mut cache = cache;
        if pattern.is_none() && self.policy == Policy::LowestFirst {
            cache.hint = found.map_or(u128::MAX, |p| p.saturating_add(1));
        }
        let Some(p) = found else {
            self.block_cache = cache.reusable.then_some(cache);
            return Err(Fail::Exhausted);
        };
        let last = p + cache.offs.last().map_or(0, |o| o.1);
        if let [(0, o1)] = cache.offs[..] {
            // One run (the usual block): sealed when unlabelled, no list built.
            self.place(&[(p, p + o1)], p, last, owner);
        } else {
            let runs: Vec<(u128, u128)> = cache
                .offs
                .iter()
                .map(|&(o0, o1)| (p + o0, p + o1))
                .collect();
            self.place(&runs, p, last, owner);
        }
        self.block_cache = cache.reusable.then_some(cache);
        if self.policy == Policy::NextFit {
            let key = self.cursor_key(pattern, mask);
            self.advance(key, last);
        }
        Ok((p, last))
    }

    /// The failure for `idx`, which lies in a reservation other than the one asked for.
    pub(crate) fn part_of(&self, idx: u128) -> Fail {
        match self.reservation_at(idx) {
            Some((first, last, boxed, owner)) => Fail::PartOf {
                index: idx,
                first,
                last,
                boxed,
                owner: owner.map(String::from),
            },
            None => self.not_reserved(idx),
        }
    }

    fn not_reserved(&self, idx: u128) -> Fail {
        if self.pool_of(idx, 0).is_none() {
            Fail::OutsidePools { index: idx }
        } else {
            Fail::NotReserved { index: idx }
        }
    }

    /// Releases the reservation of exactly one index; a reservation of more than one
    /// address is refused (naming it), and nothing changes.
    pub(crate) fn release(&mut self, idx: u128) -> Result<(), Fail> {
        if let Some((k, r)) = self.records.containing(idx) {
            if !self.linear(k, &r) || k != r.end {
                return Err(self.part_of(idx));
            }
            self.drop_linear(k, r.end);
            return Ok(());
        }
        if !with_set!(&mut self.set, s => s.try_remove(idx, idx)) {
            // Not reserved, or inside a sealed range of several addresses.
            return Err(self.part_of(idx));
        }
        self.reserved = self.reserved.sub(Count::from(1u128));
        self.lower_hints(idx, idx);
        self.journal.push(Op::SetRemove(idx, idx));
        Ok(())
    }

    /// Releases the one whole reservation that is exactly the step-1 box `b` (a
    /// reserved block or range, or a single address); anything else is refused naming
    /// what is there, and nothing changes.
    pub(crate) fn release_whole(&mut self, first: u128, last: u128) -> Result<(), Fail> {
        if first == last {
            return self.release(first);
        }
        let Some((k, r)) = self.records.containing(first) else {
            // An unlabelled run: a sealed range of the set, removed by the same look-up
            // that finds it.
            if self.layout.is_run(first, last)
                && with_set!(&mut self.set, s => s.try_remove_sealed(first, last))
            {
                self.sealed_removed(first, last);
                return Ok(());
            }
            return Err(self.part_of(first));
        };
        if self.linear(k, &r) {
            // The common case (a block or range of one run): one look-up, one removal.
            if k != first || r.end != last || !self.layout.is_run(first, last) {
                return Err(self.part_of(first));
            }
            self.drop_linear(k, r.end);
            return Ok(());
        }
        let Some((f, l, boxed)) = self.records.extent(r.head) else {
            return Err(self.part_of(first));
        };
        // The same addresses: one run either way, or the same box.
        let same = f == first && l == last && (boxed || self.layout.is_run(first, last));
        if !same {
            return Err(self.part_of(first));
        }
        self.drop_reservation(r.head);
        Ok(())
    }

    /// Releases every index of a step-1 box, all of which must be reserved, cutting
    /// the reservations it meets: their parts outside the box stay reserved, each run
    /// of them its own reservation with the same owner.
    pub(crate) fn release_range(&mut self, b: &Grid) -> Result<Count, Fail> {
        // Check first, then change: a failure leaves everything as it was.
        for (s, e) in b.runs(&self.layout) {
            match with_set!(&self.set, st => st.run_containing(s)) {
                Some((_, re)) if re >= e => {}
                Some((_, re)) => return Err(self.not_reserved(re + 1)),
                None => return Err(self.not_reserved(s)),
            }
        }
        let runs: Vec<(u128, u128)> = b.runs(&self.layout).collect();
        let mut size = Count::ZERO;
        for (s, e) in runs {
            // Boxes met become one record per run, then the runs are cut.
            let heads: Vec<u128> = self
                .records
                .overlapping(s, e)
                .map(|(_, r)| r.head)
                .filter(|h| self.records.boxes.contains_key(h))
                .collect();
            for h in heads {
                self.linearize(h);
            }
            let met: Vec<(u128, Rec)> = self.records.overlapping(s, e).collect();
            for (k, r) in met {
                // Hold the name while its record is replaced by the pieces.
                self.records.names.inc(r.owner);
                self.rec_remove(k);
                if k < s {
                    self.record_piece(k, s - 1, r.owner);
                }
                if r.end > e {
                    self.record_piece(e + 1, r.end, r.owner);
                }
                self.name_dropped(r.owner);
            }
            // Sealed ranges met are unsealed (so `s..=e` lies in one range), cut, and
            // their pieces of more than one address sealed again: each its own
            // reservation, as for recorded ones.
            let mut sealed: Vec<(u128, u128)> = Vec::new();
            let mut x = Some(s);
            while let Some(at) = x.filter(|&at| at <= e) {
                let Some((cs, ce, seal)) = with_set!(&self.set, st => st.containing_entry(at))
                else {
                    break;
                };
                if seal {
                    sealed.push((cs, ce));
                }
                x = ce.checked_add(1);
            }
            for &(cs, ce) in &sealed {
                with_set!(&mut self.set, st => st.remove_sealed(cs, ce));
                self.sealed_removed(cs, ce);
                with_set!(&mut self.set, st => st.insert(cs, ce));
                self.inserted(cs, ce);
            }
            self.set_remove(s, e);
            for &(cs, ce) in &sealed {
                for (ps, pe) in [(cs, s.saturating_sub(1)), (e.saturating_add(1), ce)] {
                    if ps < pe && ps >= cs && pe <= ce && (pe < s || ps > e) {
                        self.set_remove(ps, pe);
                        self.seal_insert(ps, pe);
                    }
                }
            }
            size = size.add(Count::span(s, e));
        }
        Ok(size)
    }

    /// Turns the box reservation at `head` into one reservation per run.
    fn linearize(&mut self, head: u128) {
        let Some((first, last, true)) = self.records.extent(head) else {
            return;
        };
        for (s, e) in self.runs_of(first, last, true) {
            if let Some(r) = self.records.runs.get(&s).copied() {
                self.records.names.inc(r.owner);
                self.rec_remove(s);
                self.record_piece(s, e, r.owner);
                self.name_dropped(r.owner);
            }
        }
        self.box_remove(head);
    }

    /// A record for the remaining piece `s..=e` of a cut reservation.
    fn record_piece(&mut self, s: u128, e: u128, owner: u32) {
        if owner == NO_OWNER && s == e {
            return;
        }
        self.rec_insert(
            s,
            Rec {
                end: e,
                head: s,
                owner,
            },
        );
    }

    /// Releases every reservation labelled `owner`; the number of addresses freed.
    pub(crate) fn release_owner(&mut self, owner: &str) -> Count {
        let Some(id) = self.records.names.id_of(owner) else {
            return Count::ZERO;
        };
        let mut heads: Vec<u128> = self
            .records
            .runs
            .values()
            .filter(|r| r.owner == id)
            .map(|r| r.head)
            .collect();
        heads.dedup();
        let mut size = Count::ZERO;
        for h in heads {
            size = size.add(self.drop_reservation(h));
        }
        size
    }

    /// Reserves every index of a step-1 box that lies inside one pool carrying `mask`.
    pub(crate) fn reserve_box(
        &mut self,
        b: &Grid,
        mask: TagMask,
        owner: Option<&str>,
    ) -> Result<(), Fail> {
        let (bf, bl) = (b.first(&self.layout), b.last(&self.layout));
        if !self.pools_meeting(bf, bl).any(|i| {
            let p = &self.pools[i];
            p.tags & mask == mask && p.grid.contains_box(b)
        }) {
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
        let (first, last) = (b.first(&self.layout), b.last(&self.layout));
        self.place(&runs, first, last, owner);
        Ok(())
    }

    // ----- pools going away ----------------------------------------------------

    /// Removes the pool that is exactly `grid`; refused while it holds a reservation.
    pub(crate) fn remove_pool(&mut self, grid: &Grid) -> Result<(), Fail> {
        let (first, last) = (grid.first(&self.layout), grid.last(&self.layout));
        let Some(at) = self
            .pools_meeting(first, last)
            .find(|&i| *self.pools[i].grid == *grid)
        else {
            return Err(Fail::NoSuchPool);
        };
        let held = with_set!(&self.set, s => {
            let mut found = None;
            for (rs, re) in s.iter_from(first) {
                if rs > last {
                    break;
                }
                if !grid.count_in(&self.layout, rs, re).is_zero() {
                    found = Some(grid.ceil(&self.layout, rs).unwrap_or(rs));
                    break;
                }
            }
            found
        });
        if let Some(index) = held {
            return Err(Fail::PoolInUse { index });
        }
        let pool = self.pools.remove(at);
        self.span_removed(at);
        self.reindex_pools(at);
        self.pool_removed(at);
        self.block_cache = None;
        self.pattern_hints.clear();
        self.block_hints.clear();
        self.journal.push(Op::PoolRemove(at, Box::new(pool)));
        Ok(())
    }

    // ----- transactions ----------------------------------------------------------

    /// Opens a (possibly nested) transaction: from here on every change is journaled.
    pub(crate) fn begin(&mut self) {
        let at = self.journal.ops.len();
        self.journal.marks.push(at);
    }

    /// Keeps the changes of the innermost open transaction (they become part of the
    /// enclosing one, if any).
    pub(crate) fn commit(&mut self) {
        self.journal.marks.pop();
        if !self.journal.active() {
            self.journal.ops.clear();
            self.records.names.sweep();
        }
    }

    /// Undoes every change of the innermost open transaction, newest first.
    pub(crate) fn rollback(&mut self) {
        let Some(mark) = self.journal.marks.pop() else {
            return;
        };
        while self.journal.ops.len() > mark {
            let Some(op) = self.journal.ops.pop() else {
                break;
            };
            self.undo(op);
        }
        if !self.journal.active() {
            self.journal.ops.clear();
            self.records.names.sweep();
        }
    }

    fn undo(&mut self, op: Op) {
        match op {
            Op::SetInsert(s, e) => {
                with_set!(&mut self.set, st => st.remove(s, e));
                self.reserved = self.reserved.sub(Count::span(s, e));
                self.lower_hints(s, e);
            }
            Op::SetRemove(s, e) => {
                with_set!(&mut self.set, st => st.insert(s, e));
                self.reserved = self.reserved.add(Count::span(s, e));
            }
            Op::SealInsert(s, e) => {
                with_set!(&mut self.set, st => st.remove_sealed(s, e));
                self.reserved = self.reserved.sub(Count::span(s, e));
                self.lower_hints(s, e);
            }
            Op::SealRemove(s, e) => {
                with_set!(&mut self.set, st => st.insert_sealed(s, e));
                self.reserved = self.reserved.add(Count::span(s, e));
            }
            Op::RecInsert(k) => {
                if let Some(r) = self.records.runs.remove(&k) {
                    if r.owner != NO_OWNER {
                        self.records.names.dec(r.owner);
                    }
                }
            }
            Op::RecRemove(k, r) => {
                if r.owner != NO_OWNER {
                    self.records.names.inc(r.owner);
                }
                self.records.runs.insert(k, r);
            }
            Op::BoxInsert(h) => {
                self.records.boxes.remove(&h);
            }
            Op::BoxRemove(h, l) => {
                self.records.boxes.insert(h, l);
            }
            Op::PoolInsert(at, tags) => {
                if at < self.pools.len() {
                    self.pools.remove(at);
                    self.span_removed(at);
                    self.reindex_pools(at);
                    self.pool_removed(at);
                }
                self.tags.truncate(tags);
                self.block_cache = None;
                self.pattern_hints.clear();
                self.block_hints.clear();
            }
            Op::PoolRemove(at, pool) => {
                // Fresh hints: what they said may no longer hold.
                let at = at.min(self.pools.len());
                self.pools.insert(at, *pool);
                self.span_inserted(at);
                self.reindex_pools(at);
                self.pool_inserted(at);
                self.block_cache = None;
                self.pattern_hints.clear();
                self.block_hints.clear();
            }
            Op::Cursor(key, old) => match old {
                Some(v) => {
                    self.cursors.insert(key, v);
                }
                None => {
                    self.cursors.remove(&key);
                }
            },
        }
    }

    // ----- the checked constructor --------------------------------------------

    /// Builds an engine from parts, checking everything: pools (disjoint, at most 64
    /// tags), reservations (inside the pools, no overlaps, a box's corners in order)
    /// and cursors. A failure names the part by position.
    pub(crate) fn from_parts(
        layout: Layout,
        policy: Policy,
        tags: &[&str],
        pools: &[(Grid, Vec<&str>)],
        reservations: &[Restored<'_>],
        cursors: &[(CursorKey, u128)],
    ) -> Result<Engine, (Part, Fail)> {
        let mut engine = Engine::new(layout, policy);
        // The tag registry in its own order (tags are numbered by first use).
        for t in tags {
            if !engine.tags.iter().any(|x| &**x == *t) {
                if engine.tags.len() == 64 {
                    return Err((Part::Pool(0), Fail::TooManyTags));
                }
                engine.tags.push(Box::from(*t));
            }
        }
        for (i, (g, tags)) in pools.iter().enumerate() {
            engine
                .add_pool(g.clone(), tags)
                .map_err(|f| (Part::Pool(i), f))?;
        }
        // In index order, each insertion appends to the set (descending input would
        // shift the set's blocks at every step). A failure is looked for again in the
        // given order, so that it names the same entry as an in-order restore would.
        let sorted = reservations.windows(2).all(|w| w[0].first <= w[1].first);
        if sorted {
            for (i, r) in reservations.iter().enumerate() {
                engine
                    .restore_one(r)
                    .map_err(|f| (Part::Reservation(i), f))?;
            }
        } else {
            let mut order: Vec<&Restored<'_>> = reservations.iter().collect();
            order.sort_by_key(|r| r.first);
            let before = engine.clone();
            if order.iter().any(|r| engine.restore_one(r).is_err()) {
                engine = before;
                for (i, r) in reservations.iter().enumerate() {
                    engine
                        .restore_one(r)
                        .map_err(|f| (Part::Reservation(i), f))?;
                }
            }
        }
        for &(key, next) in cursors {
            engine.cursors.insert(key, next);
        }
        Ok(engine)
    }

    fn restore_one(&mut self, r: &Restored<'_>) -> Result<(), Fail> {
        let runs: Vec<(u128, u128)> = match r.shape {
            Shape::Box => match Grid::spanned(&self.layout, r.first, r.last) {
                Some(g) => g.runs(&self.layout).collect(),
                None => return Err(Fail::Exhausted),
            },
            Shape::Run | Shape::Singles => alloc::vec![(r.first, r.last)],
        };
        for &(s, e) in &runs {
            let span = Count::span(s, e);
            let inside = self.pools_meeting(s, e).fold(Count::ZERO, |c, i| {
                c.add(self.pools[i].grid.count_in(&self.layout, s, e))
            });
            if inside != span {
                return Err(Fail::OutsidePools { index: s });
            }
            if with_set!(&self.set, st => st.first_ending_at_or_after(s))
                .is_some_and(|(rs, _)| rs <= e)
            {
                return Err(self.conflict(s));
            }
        }
        if r.shape != Shape::Singles && Self::sealable(&runs, r.owner) {
            with_set!(&mut self.set, st => st.insert_sealed(r.first, r.last));
            self.reserved = self.reserved.add(Count::span(r.first, r.last));
            return Ok(());
        }
        for &(s, e) in &runs {
            with_set!(&mut self.set, st => st.insert(s, e));
            self.reserved = self.reserved.add(Count::span(s, e));
        }
        if r.shape != Shape::Singles {
            self.record(&runs, r.first, r.last, r.owner);
        }
        Ok(())
    }
}

/// Which part of [`Engine::from_parts`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Pool(usize),
    Reservation(usize),
}

/// How a restored reservation covers `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Every address its own (unlabelled) reservation.
    Singles,
    /// One reservation of the run `first..=last`.
    Run,
    /// One reservation of the box with corners `first` and `last`.
    Box,
}

/// One reservation for [`Engine::from_parts`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Restored<'a> {
    pub(crate) first: u128,
    pub(crate) last: u128,
    pub(crate) shape: Shape,
    pub(crate) owner: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::vec;

    fn rng(x: &mut u64) -> u64 {
        *x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *x >> 33
    }

    /// Many small pools (some added out of order, some removed), reservations
    /// everywhere, releases in random pools: every `reserve_first` without a pattern
    /// takes what a plain scan of the free points would (lowest or highest), so the
    /// full-pool skipping, the pool index and the hints stay exact.
    /// The search of first indices agrees with a scan, on even and skewed spreads, at
    /// and between the stored values and past both ends.
    #[test]
    fn first_indices_match_a_scan() {
        let mut seed = 3u64;
        let spreads: Vec<Vec<u64>> = vec![
            (0..1000).map(|k| 256 * k).collect(),
            (0..1000).map(|k| k * k * k).collect(),
            (0..200)
                .map(|k| if k < 190 { k } else { 1 << (k - 150) })
                .collect(),
            {
                let mut v: Vec<u64> = (0..500).map(|_| rng(&mut seed) % 100_000).collect();
                v.sort_unstable();
                v.dedup();
                v
            },
        ];
        for v in spreads {
            let f = Firsts::Narrow(v.clone());
            let last = *v.last().unwrap();
            let mut probes: Vec<u128> = v
                .iter()
                .flat_map(|&x| [x.saturating_sub(1), x, x + 1])
                .map(u128::from)
                .collect();
            probes.extend([0, u128::from(last) + 5, u128::from(u64::MAX), u128::MAX]);
            for _ in 0..2000 {
                probes.push(u128::from(rng(&mut seed) % (last + 10)));
            }
            for x in probes {
                for strict in [false, true] {
                    let want = v
                        .iter()
                        .filter(|&&g| {
                            if strict {
                                u128::from(g) < x
                            } else {
                                u128::from(g) <= x
                            }
                        })
                        .count();
                    assert_eq!(f.count_below(x, strict), want, "x={x} strict={strict}");
                }
            }
        }
    }

    #[test]
    fn many_pools_match_a_scan() {
        for policy in [Policy::LowestFirst, Policy::HighestFirst] {
            let layout = Layout::new(vec![(0, 63), (0, 7)]).unwrap();
            let mut e = Engine::new(layout.clone(), policy);
            let mut pools: Vec<(u128, u128)> = Vec::new();
            for k in [5u128, 1, 0, 9, 3, 2, 4, 8, 7, 6, 12, 10, 11] {
                let g = Grid::new(&layout, |i| if i == 0 { (k, k) } else { (0, 7) });
                e.add_pool(g, &[]).unwrap();
                pools.push((k * 8, k * 8 + 7));
            }
            let g = Grid::new(&layout, |i| if i == 0 { (9, 9) } else { (0, 7) });
            e.remove_pool(&g).unwrap();
            pools.retain(|p| p.0 != 72);
            let mut taken = BTreeSet::new();
            let mut seed = 7u64;
            for step in 0..2_000 {
                let free: Vec<u128> = pools
                    .iter()
                    .flat_map(|&(a, b)| a..=b)
                    .filter(|x| !taken.contains(x))
                    .collect();
                let r = rng(&mut seed) % 10;
                if r < 6 {
                    let want = match policy {
                        Policy::LowestFirst => free.iter().min().copied(),
                        _ => free.iter().max().copied(),
                    };
                    let got = e.reserve_first(None, 0, None).ok();
                    assert_eq!(got, want, "step {step}");
                    if let Some(x) = got {
                        taken.insert(x);
                    }
                } else if r < 8 && !taken.is_empty() {
                    let v: Vec<u128> = taken.iter().copied().collect();
                    let x = v[rng(&mut seed) as usize % v.len()];
                    e.release(x).unwrap();
                    taken.remove(&x);
                } else if !free.is_empty() {
                    let x = free[rng(&mut seed) as usize % free.len()];
                    e.reserve_exact(x, 0, None).unwrap();
                    taken.insert(x);
                }
            }
        }
    }
}
