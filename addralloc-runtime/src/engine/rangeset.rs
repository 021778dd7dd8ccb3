//! [`RangeSet`]: a set of disjoint, coalesced, inclusive ranges of indices.
//!
//! Layout: a sorted list of blocks, each a sorted `Vec` of at most [`B`] ranges whose
//! capacity is kept within [`SLACK`] entries of its length. A `firsts` array (the first
//! start of every block) is binary-searched to find a block, so a look-up touches two
//! small sorted arrays. Memory is about `2 * size_of::<I>()` per range plus a few
//! percent; there is no per-range node or pointer.
//!
//! A range may be *sealed*: it is one whole reservation of more than one address, and
//! it never coalesces with its neighbours, so the set itself keeps where that
//! reservation begins and ends (a release of the whole reservation finds it with the
//! look-up it does anyway, and no second structure is needed). Unsealed ranges are
//! coalesced with each other; a sealed range may touch any neighbour. One bit per
//! range, a `u64` per block of at most [`B`] = 64 ranges, marks the sealed ones.
//!
//! For block searches, every block caches the longest free gap that starts inside it
//! (between two of its ranges, or between its last range and the next block's first),
//! and every group of [`GROUP`] blocks caches the maximum of those. The caches are
//! recomputed lazily: an edit only marks them stale.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::idx::Idx;

/// Most ranges in one block.
const B: usize = 64;
/// Spare capacity a block may keep before it is shrunk; also the growth step.
const SLACK: usize = 4;
/// Blocks per summary group.
const GROUP: usize = 32;
/// Blocks per summary super-group (`GROUP` groups).
const SUPER: usize = GROUP * GROUP;

#[derive(Debug)]
pub(crate) struct RangeSet<I: Idx> {
    blocks: Vec<Vec<(I, I)>>,
    /// Bit `o` of `seals[b]`: the range `blocks[b][o]` is sealed (see module docs).
    seals: Vec<u64>,
    /// `firsts[b] == blocks[b][0].0`.
    firsts: Vec<I>,
    /// Longest gap starting in block `b` (see module docs), [`STALE`](Idx::MAX) when
    /// stale (a gap is always shorter than `I::MAX`).
    gaps: Vec<I>,
    /// Longest gap in each group of blocks, `I::MAX` when stale.
    group_gaps: Vec<I>,
    /// Longest gap in each super-group of `SUPER` blocks, `I::MAX` when stale.
    super_gaps: Vec<I>,
    /// Number of ranges.
    len: usize,
    /// The block of the previous look-up: churn and check-then-change sequences look
    /// up the same place again, and skip the binary search over `firsts` then. An
    /// atomic (relaxed: a plain load and store) keeps the set `Sync`.
    last_block: AtomicUsize,
}

impl<I: Idx> Clone for RangeSet<I> {
    fn clone(&self) -> Self {
        RangeSet {
            blocks: self.blocks.clone(),
            seals: self.seals.clone(),
            firsts: self.firsts.clone(),
            gaps: self.gaps.clone(),
            group_gaps: self.group_gaps.clone(),
            super_gaps: self.super_gaps.clone(),
            len: self.len,
            last_block: AtomicUsize::new(self.last_block.load(Relaxed)),
        }
    }
}

/// What walking one block's gaps found.
enum Walk {
    Found(u128, u128),
    Stop,
    Next,
}

/// A position: block and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pos {
    b: usize,
    o: usize,
}

impl<I: Idx> Default for RangeSet<I> {
    fn default() -> Self {
        Self::new()
    }
}

/// The lowest `n` bits set (`n <= 64`).
#[inline]
fn low_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// `a - b - 1`: the number of free points strictly between `b` and `a` (`b < a`).
#[inline]
fn gap_between(prev_end: u128, next_start: u128) -> u128 {
    next_start - prev_end - 1
}

impl<I: Idx> RangeSet<I> {
    pub(crate) fn new() -> Self {
        RangeSet {
            blocks: Vec::new(),
            seals: Vec::new(),
            firsts: Vec::new(),
            gaps: Vec::new(),
            group_gaps: Vec::new(),
            super_gaps: Vec::new(),
            len: 0,
            last_block: AtomicUsize::new(0),
        }
    }

    /// Number of ranges.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let entry = core::mem::size_of::<(I, I)>();
        self.blocks.capacity() * core::mem::size_of::<Vec<(I, I)>>()
            + self
                .blocks
                .iter()
                .map(|b| b.capacity() * entry)
                .sum::<usize>()
            + self.firsts.capacity() * core::mem::size_of::<I>()
            + self.seals.capacity() * core::mem::size_of::<u64>()
            + self.gaps.capacity() * core::mem::size_of::<I>()
            + self.group_gaps.capacity() * core::mem::size_of::<I>()
            + self.super_gaps.capacity() * core::mem::size_of::<I>()
    }

    #[inline]
    fn at(&self, p: Pos) -> (u128, u128) {
        let (s, e) = self.blocks[p.b][p.o];
        (s.to_u128(), e.to_u128())
    }

    /// Whether the range at `p` is sealed.
    #[inline]
    fn sealed(&self, p: Pos) -> bool {
        self.seals[p.b] >> p.o & 1 != 0
    }

    #[inline]
    fn next_pos(&self, p: Pos) -> Option<Pos> {
        if p.o + 1 < self.blocks[p.b].len() {
            Some(Pos { b: p.b, o: p.o + 1 })
        } else if p.b + 1 < self.blocks.len() {
            Some(Pos { b: p.b + 1, o: 0 })
        } else {
            None
        }
    }

    #[inline]
    fn first_pos(&self) -> Option<Pos> {
        if self.blocks.is_empty() {
            None
        } else {
            Some(Pos { b: 0, o: 0 })
        }
    }

    /// Position of the last range whose start is `<= x`.
    #[inline]
    fn locate(&self, x: u128) -> Option<Pos> {
        let xi = I::from_u128(x.min(I::MAX.to_u128()));
        let n = self.firsts.len();
        let c = self.last_block.load(Relaxed);
        let b = if c < n && self.firsts[c] <= xi && (c + 1 == n || xi < self.firsts[c + 1]) {
            c
        } else {
            let b = self.firsts.partition_point(|f| *f <= xi);
            if b == 0 {
                return None;
            }
            self.last_block.store(b - 1, Relaxed);
            b - 1
        };
        let blk = &self.blocks[b];
        let o = blk.partition_point(|(s, _)| *s <= xi);
        debug_assert!(o > 0);
        Some(Pos { b, o: o - 1 })
    }

    /// The range containing `x`, if any.
    #[inline]
    pub(crate) fn containing(&self, x: u128) -> Option<(u128, u128)> {
        let p = self.locate(x)?;
        let (s, e) = self.at(p);
        (e >= x).then_some((s, e))
    }

    /// The range containing `x` and whether it is sealed.
    #[inline]
    pub(crate) fn containing_entry(&self, x: u128) -> Option<(u128, u128, bool)> {
        let p = self.locate(x)?;
        let (s, e) = self.at(p);
        (e >= x).then(|| (s, e, self.sealed(p)))
    }

    /// The maximal reserved run around `x` (adjacent ranges, sealed or not, taken
    /// together), if `x` is reserved. Walks adjacent sealed ranges one by one.
    pub(crate) fn run_containing(&self, x: u128) -> Option<(u128, u128)> {
        let p = self.locate(x)?;
        let (mut s, mut e) = self.at(p);
        if e < x {
            return None;
        }
        let mut q = p;
        while let Some(n) = self.next_pos(q) {
            let (ns, ne) = self.at(n);
            if e.checked_add(1) != Some(ns) {
                break;
            }
            e = ne;
            q = n;
        }
        let mut q = p;
        while let Some(n) = self.prev_pos(q) {
            let (ps, pe) = self.at(n);
            if pe.checked_add(1) != Some(s) {
                break;
            }
            s = ps;
            q = n;
        }
        Some((s, e))
    }

    #[inline]
    fn prev_pos(&self, p: Pos) -> Option<Pos> {
        if p.o > 0 {
            Some(Pos { b: p.b, o: p.o - 1 })
        } else if p.b > 0 {
            Some(Pos {
                b: p.b - 1,
                o: self.blocks[p.b - 1].len() - 1,
            })
        } else {
            None
        }
    }

    /// The first range that ends at or after `x`.
    #[inline]
    pub(crate) fn first_ending_at_or_after(&self, x: u128) -> Option<(u128, u128)> {
        match self.locate(x) {
            Some(p) => {
                let r = self.at(p);
                if r.1 >= x {
                    Some(r)
                } else {
                    self.next_pos(p).map(|q| self.at(q))
                }
            }
            None => self.first_pos().map(|q| self.at(q)),
        }
    }

    /// The last range that starts at or before `x`.
    #[inline]
    pub(crate) fn last_starting_at_or_before(&self, x: u128) -> Option<(u128, u128)> {
        self.locate(x).map(|p| self.at(p))
    }

    /// Iterates over the ranges in order, each with whether it is sealed.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u128, u128, bool)> + '_ {
        self.blocks.iter().zip(&self.seals).flat_map(|(b, &m)| {
            b.iter()
                .enumerate()
                .map(move |(o, (s, e))| (s.to_u128(), e.to_u128(), m >> o & 1 != 0))
        })
    }

    /// Iterates over the maximal reserved runs in order (adjacent ranges joined).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        let mut it = self.entries().peekable();
        core::iter::from_fn(move || {
            let (s, mut e, _) = it.next()?;
            while let Some(&(ns, ne, _)) = it.peek() {
                if e.checked_add(1) != Some(ns) {
                    break;
                }
                e = ne;
                it.next();
            }
            Some((s, e))
        })
    }

    /// Iterates over the ranges that meet `a..=b`, unclipped.
    pub(crate) fn iter_from(&self, a: u128) -> impl Iterator<Item = (u128, u128)> + '_ {
        let start = match self.locate(a) {
            Some(p) => {
                if self.at(p).1 >= a {
                    Some(p)
                } else {
                    self.next_pos(p)
                }
            }
            None => self.first_pos(),
        };
        let (b0, o0) = match start {
            Some(p) => (p.b, p.o),
            None => (self.blocks.len(), 0),
        };
        self.blocks[b0.min(self.blocks.len())..]
            .iter()
            .enumerate()
            .flat_map(move |(i, blk)| {
                let skip = if i == 0 { o0 } else { 0 };
                blk[skip..].iter().map(|(s, e)| (s.to_u128(), e.to_u128()))
            })
    }

    // ----- cache maintenance -------------------------------------------------

    #[inline]
    fn touch(&mut self, b: usize) {
        self.gaps[b] = I::MAX;
        self.group_gaps[b / GROUP] = I::MAX;
        self.super_gaps[b / SUPER] = I::MAX;
        if b > 0 {
            self.super_gaps[(b - 1) / SUPER] = I::MAX;
            // Block b-1's trailing gap ends at our first start.
            self.gaps[b - 1] = I::MAX;
            self.group_gaps[(b - 1) / GROUP] = I::MAX;
        }
    }

    /// After block `b` gained a range or a range in it grew: gaps only shrank, so the
    /// group and super-group maxima stay true upper bounds (skipping by them is still
    /// right); only the block's own figures are recomputed. `next_gap` tightens loose
    /// group maxima when it walks through a group and finds nothing.
    #[inline]
    fn touch_shrink(&mut self, b: usize) {
        self.gaps[b] = I::MAX;
        if b > 0 {
            self.gaps[b - 1] = I::MAX;
        }
    }

    /// After blocks were inserted or removed at `b`: every cache from there on is stale.
    fn restructure(&mut self, b: usize) {
        let n = self.blocks.len();
        self.gaps.resize(n, I::MAX);
        for g in &mut self.gaps[b.saturating_sub(1).min(n)..] {
            *g = I::MAX;
        }
        let groups = n.div_ceil(GROUP);
        self.group_gaps.resize(groups, I::MAX);
        for g in &mut self.group_gaps[(b.saturating_sub(1) / GROUP).min(groups)..] {
            *g = I::MAX;
        }
        let supers = n.div_ceil(SUPER);
        self.super_gaps.resize(supers, I::MAX);
        for g in &mut self.super_gaps[(b.saturating_sub(1) / SUPER).min(supers)..] {
            *g = I::MAX;
        }
        if self.blocks.capacity() > 2 * n + 8 {
            self.blocks.shrink_to(n + n / 8);
            self.seals.shrink_to(n + n / 8);
            self.firsts.shrink_to(n + n / 8);
            self.gaps.shrink_to(n + n / 8);
            self.group_gaps.shrink_to(groups + 1);
        }
    }

    fn block_gap(&mut self, b: usize) -> u128 {
        if self.gaps[b] != I::MAX {
            return self.gaps[b].to_u128();
        }
        let blk = &self.blocks[b];
        let mut best = 0u128;
        for w in blk.windows(2) {
            best = best.max(gap_between(w[0].1.to_u128(), w[1].0.to_u128()));
        }
        if let Some(next_first) = self.firsts.get(b + 1) {
            let last = blk[blk.len() - 1].1.to_u128();
            best = best.max(gap_between(last, next_first.to_u128()));
        }
        // Gaps are below I::MAX, so they fit.
        self.gaps[b] = I::from_u128(best);
        best
    }

    /// The walk reached block `b` by stepping through blocks without a fit: if that
    /// finished a group (or super-group), its maximum may be a loose upper bound; make
    /// it exact on its next use.
    #[inline]
    fn tighten_after(&mut self, b: usize) {
        if b % GROUP == 0 {
            self.group_gaps[(b - 1) / GROUP] = I::MAX;
            if b % SUPER == 0 {
                self.super_gaps[(b - 1) / SUPER] = I::MAX;
            }
        }
    }

    fn super_gap(&mut self, g: usize) -> u128 {
        if self.super_gaps[g] != I::MAX {
            return self.super_gaps[g].to_u128();
        }
        let groups = self.blocks.len().div_ceil(GROUP);
        let end = ((g + 1) * GROUP).min(groups);
        let mut best = 0;
        for h in g * GROUP..end {
            best = best.max(self.group_gap(h));
        }
        self.super_gaps[g] = I::from_u128(best);
        best
    }

    fn group_gap(&mut self, g: usize) -> u128 {
        if self.group_gaps[g] != I::MAX {
            return self.group_gaps[g].to_u128();
        }
        let end = ((g + 1) * GROUP).min(self.blocks.len());
        let mut best = 0;
        for b in g * GROUP..end {
            best = best.max(self.block_gap(b));
        }
        self.group_gaps[g] = I::from_u128(best);
        best
    }

    // ----- edits -------------------------------------------------------------

    /// Adds `s..=e`, which must be disjoint from every range.
    pub(crate) fn insert(&mut self, s: u128, e: u128) {
        let added = self.try_insert(s, e);
        debug_assert!(added, "insert: {s}..={e} is not free");
    }

    /// Adds `s..=e` if no range meets it (one look-up for the check and the insertion);
    /// returns whether it did.
    pub(crate) fn try_insert(&mut self, s: u128, e: u128) -> bool {
        debug_assert!(s <= e);
        let p = self.locate(s);
        if p.is_some_and(|p| self.at(p).1 >= s) {
            return false;
        }
        let next = match p {
            Some(p) => self.next_pos(p),
            None => self.first_pos(),
        };
        if next.is_some_and(|q| self.at(q).0 <= e) {
            return false;
        }
        self.join(p, next, s, e);
        true
    }

    /// Adds the free `s..=e`, which lies between the ranges at `prev` and `next` (either
    /// may be absent), joined to the unsealed ones it touches. The one edit of
    /// [`RangeSet::try_insert`] and [`RangeSet::claim_from`].
    #[inline]
    fn join(&mut self, prev: Option<Pos>, next: Option<Pos>, s: u128, e: u128) {
        let merge_prev = prev.filter(|&p| self.at(p).1 + 1 == s && !self.sealed(p));
        let merge_next = next.filter(|&q| e + 1 == self.at(q).0 && !self.sealed(q));
        match (merge_prev, merge_next) {
            (Some(p), Some(q)) => {
                let end = self.blocks[q.b][q.o].1;
                self.blocks[p.b][p.o].1 = end;
                self.touch(p.b);
                self.remove_at(q);
            }
            (Some(p), None) => {
                self.blocks[p.b][p.o].1 = I::from_u128(e);
                self.touch_shrink(p.b);
            }
            (None, Some(q)) => {
                self.blocks[q.b][q.o].0 = I::from_u128(s);
                if q.o == 0 {
                    self.firsts[q.b] = I::from_u128(s);
                }
                self.touch_shrink(q.b);
            }
            (None, None) => {
                let at = match prev {
                    Some(p) => Pos { b: p.b, o: p.o + 1 },
                    None => Pos { b: 0, o: 0 },
                };
                self.insert_at(at, (I::from_u128(s), I::from_u128(e)), false);
            }
        }
    }

    /// Lowest-first filling in one look-up: adds and returns the lowest free point in
    /// `x..=limit` when it is `x` itself or the point just after the range holding `x`
    /// (joined to the ranges it touches, as [`RangeSet::try_insert`] would); `None`
    /// when it lies further on (nothing changed then).
    pub(crate) fn claim_from(&mut self, x: u128, limit: u128) -> Option<u128> {
        let p = self.locate(x);
        let (c, prev) = match p {
            Some(p) => {
                let (_, e) = self.at(p);
                if e >= x {
                    (e.checked_add(1)?, Some(p))
                } else {
                    (x, Some(p))
                }
            }
            None => (x, None),
        };
        if c > limit {
            return None;
        }
        let next = match prev {
            Some(p) => self.next_pos(p),
            None => self.first_pos(),
        };
        let next_start = next.map(|q| self.at(q).0);
        if next_start.is_some_and(|ns| ns <= c) {
            return None;
        }
        self.join(prev, next, c, c);
        Some(c)
    }

    /// Adds `s..=e` as a sealed range (never coalesced with a neighbour) if no range
    /// meets it; returns whether it did.
    pub(crate) fn try_insert_sealed(&mut self, s: u128, e: u128) -> bool {
        debug_assert!(s <= e);
        let p = self.locate(s);
        if p.is_some_and(|p| self.at(p).1 >= s) {
            return false;
        }
        let next = match p {
            Some(p) => self.next_pos(p),
            None => self.first_pos(),
        };
        if next.is_some_and(|q| self.at(q).0 <= e) {
            return false;
        }
        let at = match p {
            Some(p) => Pos { b: p.b, o: p.o + 1 },
            None => Pos { b: 0, o: 0 },
        };
        self.insert_at(at, (I::from_u128(s), I::from_u128(e)), true);
        true
    }

    /// Adds the sealed range `s..=e`, which must be free.
    pub(crate) fn insert_sealed(&mut self, s: u128, e: u128) {
        let added = self.try_insert_sealed(s, e);
        debug_assert!(added, "insert_sealed: {s}..={e} is not free");
    }

    /// Removes the sealed range that is exactly `s..=e`; returns whether there was one.
    pub(crate) fn try_remove_sealed(&mut self, s: u128, e: u128) -> bool {
        let Some(p) = self.locate(s) else {
            return false;
        };
        if self.at(p) != (s, e) || !self.sealed(p) {
            return false;
        }
        self.remove_at(p);
        true
    }

    /// Removes the sealed range `s..=e`, which must be one.
    pub(crate) fn remove_sealed(&mut self, s: u128, e: u128) {
        let removed = self.try_remove_sealed(s, e);
        debug_assert!(removed, "remove_sealed: {s}..={e} is not a sealed range");
    }

    /// If the last range ends just before `x`, extends it to `x` (an O(1) append for
    /// sequential filling) and returns true.
    #[inline]
    pub(crate) fn try_extend_last(&mut self, x: u128) -> bool {
        let b = self.blocks.len().wrapping_sub(1);
        let (Some(blk), Some(&seals)) = (self.blocks.last_mut(), self.seals.last()) else {
            return false;
        };
        let n = blk.len();
        let Some(last) = blk.last_mut() else {
            return false;
        };
        // A sealed last range is a whole reservation: never extended.
        if last.1.to_u128().checked_add(1) != Some(x) || seals >> (n - 1) & 1 != 0 {
            return false;
        }
        last.1 = I::from_u128(x);
        self.touch_shrink(b);
        true
    }

    /// Removes `s..=e`, which must lie inside one range.
    pub(crate) fn remove(&mut self, s: u128, e: u128) {
        let removed = self.try_remove(s, e);
        debug_assert!(removed, "remove: {s}..={e} is not reserved");
    }

    /// Removes `s..=e` if it lies inside one unsealed range (one look-up for the check
    /// and the removal); returns whether it did.
    pub(crate) fn try_remove(&mut self, s: u128, e: u128) -> bool {
        let Some(p) = self.locate(s) else {
            return false;
        };
        let (rs, re) = self.at(p);
        if !(rs <= s && e <= re) || self.sealed(p) {
            return false;
        }
        match (rs == s, re == e) {
            (true, true) => self.remove_at(p),
            (true, false) => {
                self.blocks[p.b][p.o].0 = I::from_u128(e + 1);
                if p.o == 0 {
                    self.firsts[p.b] = I::from_u128(e + 1);
                }
                self.touch(p.b);
            }
            (false, true) => {
                self.blocks[p.b][p.o].1 = I::from_u128(s - 1);
                self.touch(p.b);
            }
            (false, false) => {
                self.blocks[p.b][p.o].1 = I::from_u128(s - 1);
                self.touch(p.b);
                self.insert_at(
                    Pos { b: p.b, o: p.o + 1 },
                    (I::from_u128(e + 1), I::from_u128(re)),
                    false,
                );
            }
        }
        true
    }

    /// Inserts an entry at `at` (an offset may equal the block's length).
    fn insert_at(&mut self, at: Pos, entry: (I, I), sealed: bool) {
        self.len += 1;
        if self.blocks.is_empty() {
            let mut v = Vec::with_capacity(SLACK);
            v.push(entry);
            self.blocks.push(v);
            // Exactly one word for a set of one block (sequential filling keeps its
            // whole heap under 1 KiB).
            self.seals.reserve_exact(1);
            self.seals.push(sealed as u64);
            self.firsts.push(entry.0);
            self.restructure(0);
            return;
        }
        let Pos { b, o } = at;
        let blen = self.blocks[b].len();
        if blen == B {
            if b + 1 == self.blocks.len() && o == blen {
                // Appending past the end: start a new block, keep this one full.
                let mut v = Vec::with_capacity(SLACK);
                v.push(entry);
                self.blocks.push(v);
                self.seals.push(sealed as u64);
                self.firsts.push(entry.0);
                self.restructure(b + 1);
                return;
            }
            // Split in halves, then insert into the right half.
            let right: Vec<(I, I)> = {
                let blk = &mut self.blocks[b];
                let mut r = Vec::with_capacity(B / 2 + SLACK);
                r.extend_from_slice(&blk[B / 2..]);
                blk.truncate(B / 2);
                blk.shrink_to(B / 2 + SLACK);
                r
            };
            let m = self.seals[b];
            self.seals[b] = m & low_bits(B / 2);
            self.seals.insert(b + 1, m >> (B / 2));
            self.firsts.insert(b + 1, right[0].0);
            self.blocks.insert(b + 1, right);
            self.restructure(b + 1);
            if o <= B / 2 {
                self.insert_in_block(b, o, entry, sealed);
            } else {
                self.insert_in_block(b + 1, o - B / 2, entry, sealed);
            }
            return;
        }
        self.insert_in_block(b, o, entry, sealed);
    }

    #[inline]
    fn insert_in_block(&mut self, b: usize, o: usize, entry: (I, I), sealed: bool) {
        let blk = &mut self.blocks[b];
        if blk.len() == blk.capacity() {
            blk.reserve_exact(SLACK);
        }
        blk.insert(o, entry);
        let m = self.seals[b];
        if m != 0 || sealed {
            self.seals[b] = (m & low_bits(o)) | ((m & !low_bits(o)) << 1) | ((sealed as u64) << o);
        }
        if o == 0 {
            self.firsts[b] = entry.0;
        }
        self.touch_shrink(b);
    }

    fn remove_at(&mut self, p: Pos) {
        self.len -= 1;
        let blk = &mut self.blocks[p.b];
        blk.remove(p.o);
        let m = self.seals[p.b];
        if m != 0 {
            self.seals[p.b] = (m & low_bits(p.o)) | ((m >> 1) & !low_bits(p.o));
        }
        if blk.is_empty() {
            self.blocks.remove(p.b);
            self.seals.remove(p.b);
            self.firsts.remove(p.b);
            self.restructure(p.b);
            return;
        }
        if blk.capacity() - blk.len() > 2 * SLACK {
            blk.shrink_to(blk.len() + SLACK);
        }
        if p.o == 0 {
            self.firsts[p.b] = blk[0].0;
        }
        self.touch(p.b);
        // Merge a small block into its right neighbour's... keep blocks reasonably full.
        let len = self.blocks[p.b].len();
        if len < B / 4 {
            if p.b + 1 < self.blocks.len() && len + self.blocks[p.b + 1].len() <= B * 3 / 4 {
                self.merge_with_next(p.b);
            } else if p.b > 0 && len + self.blocks[p.b - 1].len() <= B * 3 / 4 {
                self.merge_with_next(p.b - 1);
            }
        }
    }

    fn merge_with_next(&mut self, b: usize) {
        let right = self.blocks.remove(b + 1);
        let right_seals = self.seals.remove(b + 1);
        self.firsts.remove(b + 1);
        self.seals[b] |= right_seals << self.blocks[b].len();
        let blk = &mut self.blocks[b];
        blk.reserve_exact(right.len());
        blk.extend_from_slice(&right);
        self.restructure(b);
    }

    // ----- block search ------------------------------------------------------

    /// The first maximal free gap `(gs, ge)` (clipped below to `x`) with `ge >= x` and at
    /// least `len` points at or after `x`, within `..= limit`. Uses the gap caches to skip
    /// blocks whose every gap is shorter than `len`.
    pub(crate) fn next_gap(&mut self, x: u128, len: u128, limit: u128) -> Option<(u128, u128)> {
        let fits = |gs: u128, ge: u128| ge >= gs && ge - gs >= len - 1;
        let clip = |gs: u128, ge: u128| (gs.max(x), ge.min(limit));
        // Gap containing or following x, before we reach summarised territory.
        let p = match self.locate(x) {
            Some(p) => p,
            None => {
                // x is before every range.
                let ge = match self.first_pos() {
                    Some(q) => self.at(q).0 - 1,
                    None => limit,
                };
                let (gs, ge) = clip(x, ge);
                if fits(gs, ge) {
                    return Some((gs, ge));
                }
                self.first_pos()?
            }
        };
        // Walk the rest of block p.b entry by entry, from p, unless no gap in it is long
        // enough (its cache covers the gap after its last range too).
        // A stale cache is not recomputed here: the walk from `p` costs no more.
        let cached = self.gaps[p.b];
        if p.b + 1 == self.blocks.len() || cached == I::MAX || cached.to_u128() >= len {
            match self.walk_gaps(p.b, p.o, x, len, limit) {
                Walk::Found(gs, ge) => return Some((gs, ge)),
                Walk::Stop => return None,
                Walk::Next => {}
            }
        }
        // Later blocks: skip blocks and groups by their caches.
        let mut b = p.b + 1;
        let nblocks = self.blocks.len();
        while b < nblocks {
            if self.firsts[b].to_u128() > limit {
                return None;
            }
            // A group is skipped whole only if the tail gap (after the very last range) is
            // not in it: that gap is in no cache.
            // The rest of a (super-)group is skipped when even its longest gap is too
            // short, wherever in it the walk stands.
            let next_super = (b / SUPER + 1) * SUPER;
            if next_super < nblocks && self.super_gap(b / SUPER) < len {
                b = next_super;
                continue;
            }
            let next_group = (b / GROUP + 1) * GROUP;
            if next_group < nblocks && self.group_gap(b / GROUP) < len {
                b = next_group;
                continue;
            }
            if self.block_gap(b) < len && b + 1 < nblocks {
                b += 1;
                self.tighten_after(b);
                continue;
            }
            match self.walk_gaps(b, 0, x, len, limit) {
                Walk::Found(gs, ge) => return Some((gs, ge)),
                Walk::Stop => return None,
                Walk::Next => {}
            }
            b += 1;
            self.tighten_after(b);
        }
        None
    }

    /// Walks the gaps after entries `o..` of block `b` (each clipped below to `x`): the
    /// first with at least `len` points, or `Stop` once past `limit`.
    #[inline]
    fn walk_gaps(&self, b: usize, o: usize, x: u128, len: u128, limit: u128) -> Walk {
        for o in o..self.blocks[b].len() {
            let q = Pos { b, o };
            let (_, e) = self.at(q);
            if e >= limit {
                return Walk::Stop;
            }
            let ge = match self.next_pos(q) {
                Some(n) => self.at(n).0 - 1,
                None => I::MAX.to_u128(),
            };
            let (gs, ge) = ((e + 1).max(x), ge.min(limit));
            if gs > limit {
                return Walk::Stop;
            }
            if ge >= gs && ge - gs >= len - 1 {
                return Walk::Found(gs, ge);
            }
        }
        Walk::Next
    }

    /// The last maximal free gap `(gs, ge)` (clipped to `low..=x`) with `gs <= x` and
    /// at least `len` points inside `low..=x`: the mirror of [`next_gap`](Self::next_gap)
    /// for highest-first searches. Uses the same gap caches to skip blocks, groups and
    /// super-groups whose every gap is shorter than `len`.
    pub(crate) fn prev_gap(&mut self, x: u128, len: u128, low: u128) -> Option<(u128, u128)> {
        if x < low {
            return None;
        }
        let fits = |gs: u128, ge: u128| ge >= gs && ge - gs >= len - 1;
        let Some(p) = self.locate(x) else {
            // x is before every range: everything from `low` to it is free.
            return fits(low, x).then_some((low, x));
        };
        // The gap containing x (if x is free), clipped above to x.
        let (s, e) = self.at(p);
        if e < x {
            let gs = (e + 1).max(low);
            if fits(gs, x) {
                return Some((gs, x));
            }
        }
        if s <= low {
            return None;
        }
        // The gaps after the entries before p in its block, unless the block's cache
        // says none is long enough (a stale cache is not recomputed: the walk costs no
        // more).
        let cached = self.gaps[p.b];
        if cached == I::MAX || cached.to_u128() >= len {
            match self.walk_gaps_back(p.b, p.o, len, low) {
                Walk::Found(gs, ge) => return Some((gs, ge)),
                Walk::Stop => return None,
                Walk::Next => {}
            }
        }
        // Earlier blocks, skipped by their caches. A (super-)group's maximum also covers
        // its blocks above the walk: it is an upper bound for the part below, so a
        // maximum below `len` still skips that part. The gap before the very first range
        // is in no cache and is looked at last.
        let mut b = p.b;
        while b > 0 {
            if self.firsts[b].to_u128() <= low {
                // Every gap of the blocks below ends before `low`.
                return None;
            }
            let c = b - 1;
            if self.super_gap(c / SUPER) < len {
                b = c / SUPER * SUPER;
                continue;
            }
            if self.group_gap(c / GROUP) < len {
                b = c / GROUP * GROUP;
                continue;
            }
            if self.block_gap(c) >= len {
                match self.walk_gaps_back(c, self.blocks[c].len(), len, low) {
                    Walk::Found(gs, ge) => return Some((gs, ge)),
                    Walk::Stop => return None,
                    Walk::Next => {}
                }
            }
            b = c;
            // Walking down out of a (super-)group without a fit: its maximum may be a
            // loose upper bound; make it exact on its next use.
            if c % GROUP == 0 {
                self.group_gaps[c / GROUP] = I::MAX;
                if c % SUPER == 0 {
                    self.super_gaps[c / SUPER] = I::MAX;
                }
            }
        }
        let first = self.firsts[0].to_u128();
        if first > low && fits(low, first - 1) {
            return Some((low, first - 1));
        }
        None
    }

    /// Walks the gaps after entries `..o_end` of block `b`, last first (each clipped
    /// below to `low`): the first with at least `len` points, or `Stop` once below
    /// `low`. The gap after the block's last entry ends before the next block's first.
    #[inline]
    fn walk_gaps_back(&self, b: usize, o_end: usize, len: u128, low: u128) -> Walk {
        let blk = &self.blocks[b];
        for o in (0..o_end).rev() {
            let e = blk[o].1.to_u128();
            let next_start = match blk.get(o + 1) {
                Some(r) => r.0.to_u128(),
                None => self.firsts[b + 1].to_u128(),
            };
            let ge = next_start - 1;
            if ge < low {
                return Walk::Stop;
            }
            let gs = (e + 1).max(low);
            if ge >= gs && ge - gs >= len - 1 {
                return Walk::Found(gs, ge);
            }
            if gs == low {
                return Walk::Stop;
            }
        }
        Walk::Next
    }

    /// Checks the internal invariants (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let mut prev: Option<u128> = None;
        let mut n = 0;
        let mut prev_sealed = false;
        assert_eq!(self.seals.len(), self.blocks.len());
        for (b, blk) in self.blocks.iter().enumerate() {
            assert!(!blk.is_empty() && blk.len() <= B);
            assert_eq!(self.firsts[b], blk[0].0);
            assert_eq!(
                self.seals[b] & !low_bits(blk.len()),
                0,
                "seal bits past the end"
            );
            for (o, &(s, e)) in blk.iter().enumerate() {
                let (s, e) = (s.to_u128(), e.to_u128());
                let sealed = self.seals[b] >> o & 1 != 0;
                assert!(s <= e);
                assert!(!sealed || s < e, "a sealed range has more than one point");
                if let Some(p) = prev {
                    assert!(p < s, "ranges must be disjoint");
                    if !sealed && !prev_sealed {
                        assert!(p + 1 < s, "unsealed ranges must be coalesced");
                    }
                }
                prev = Some(e);
                prev_sealed = sealed;
                n += 1;
            }
        }
        assert_eq!(n, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::vec;

    fn points(set: &RangeSet<u64>) -> BTreeSet<u128> {
        set.iter().flat_map(|(s, e)| s..=e).collect()
    }

    #[test]
    fn coalesces_single_addresses_including_zero_and_one() {
        let mut s = RangeSet::<u64>::new();
        s.insert(1, 1);
        s.insert(0, 0);
        s.insert(2, 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 2)]);
        s.remove(1, 1);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 0), (2, 2)]);
        s.insert(1, 1);
        assert_eq!(s.len(), 1);
        s.check();
    }

    #[test]
    fn max_of_128_bit_space() {
        let mut s = RangeSet::<u128>::new();
        s.insert(u128::MAX, u128::MAX);
        s.insert(u128::MAX - 1, u128::MAX - 1);
        assert_eq!(s.containing(u128::MAX), Some((u128::MAX - 1, u128::MAX)));
        s.insert(0, u128::MAX - 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, u128::MAX)]);
        s.remove(0, u128::MAX);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn many_blocks_split_and_merge() {
        let mut s = RangeSet::<u64>::new();
        let mut model = BTreeSet::new();
        // Every third point, in a scrambled order, forces splits in the middle.
        let mut xs: Vec<u128> = (0..3000u128).map(|i| i * 3).collect();
        let mut k = 7usize;
        for i in (1..xs.len()).rev() {
            k = (k * 1103515245 + 12345) % 2147483648;
            xs.swap(i, k % (i + 1));
        }
        for &x in &xs {
            s.insert(x, x);
            model.insert(x);
        }
        s.check();
        assert_eq!(points(&s), model);
        for &x in xs.iter().take(2500) {
            s.remove(x, x);
            model.remove(&x);
        }
        s.check();
        assert_eq!(points(&s), model);
        assert!(
            s.heap_bytes() < 24 * 600,
            "{} bytes for {} ranges in {} blocks",
            s.heap_bytes(),
            s.len(),
            s.blocks.len()
        );
    }

    /// Sealed ranges against a model of (point -> sealed range id): inserts, removals,
    /// splits and merges of blocks keep the seal bits with their ranges.
    #[test]
    fn sealed_ranges_keep_their_bounds_through_splits_and_merges() {
        let mut s = RangeSet::<u64>::new();
        let mut model: BTreeSet<(u128, u128, bool)> = BTreeSet::new();
        let mut k = 11u64;
        let mut next = || {
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (k >> 33) as u128
        };
        for step in 0..6000 {
            let a = next() % 2000;
            let len = next() % 4;
            let (lo, hi) = (a, a + len);
            if step % 3 == 2 {
                // Remove whatever sealed range or unsealed point is at `a`.
                match s.containing_entry(a) {
                    Some((rs, re, true)) => {
                        assert!(s.try_remove_sealed(rs, re));
                        assert!(model.remove(&(rs, re, true)));
                    }
                    Some((_, _, false)) => {
                        assert!(!s.try_remove_sealed(a, a));
                        assert!(s.try_remove(a, a));
                        assert!(model.remove(&(a, a, false)));
                    }
                    None => assert!(!s.try_remove(a, a)),
                }
            } else {
                let free = !model.iter().any(|&(x, y, _)| x <= hi && lo <= y);
                let ok = if len > 0 {
                    s.try_insert_sealed(lo, hi)
                } else {
                    s.try_insert(lo, hi)
                };
                assert_eq!(ok, free, "insert {lo}..={hi}");
                if ok {
                    if len > 0 {
                        model.insert((lo, hi, true));
                    } else {
                        model.insert((lo, lo, false));
                    }
                }
            }
            if step % 500 == 0 {
                s.check();
            }
        }
        s.check();
        // Unsealed points coalesce; sealed ranges stay whole.
        let sealed: Vec<(u128, u128)> = s
            .entries()
            .filter(|e| e.2)
            .map(|(a, b, _)| (a, b))
            .collect();
        let want: Vec<(u128, u128)> = model
            .iter()
            .filter(|e| e.2)
            .map(|&(a, b, _)| (a, b))
            .collect();
        assert_eq!(sealed, want);
        let pts: BTreeSet<u128> = model.iter().flat_map(|&(a, b, _)| a..=b).collect();
        assert_eq!(points(&s), pts);
        // `iter` joins adjacent ranges into maximal runs.
        let runs: Vec<(u128, u128)> = s.iter().collect();
        for w in runs.windows(2) {
            assert!(w[0].1 + 1 < w[1].0);
        }
        // A sealed range is not extended, cut or merged.
        let mut t = RangeSet::<u64>::new();
        t.insert_sealed(10, 13);
        assert!(!t.try_extend_last(14));
        t.insert(14, 14);
        t.insert(9, 9);
        assert_eq!(t.len(), 3);
        assert!(!t.try_remove(11, 11));
        assert_eq!(t.run_containing(12), Some((9, 14)));
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(9, 14)]);
        t.remove_sealed(10, 13);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(9, 9), (14, 14)]);
        t.check();
    }

    /// `claim_from` against a point model: the lowest free point at or after `x`
    /// when it is `x` or just past the range holding `x`, else nothing changes.
    #[test]
    fn claim_from_matches_a_scan() {
        let mut s = RangeSet::<u64>::new();
        let mut model: BTreeSet<u128> = BTreeSet::new();
        let mut k = 5u64;
        let mut next = || {
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (k >> 33) as u128
        };
        for step in 0..20_000 {
            let x = next() % 600;
            match step % 4 {
                0 => {
                    if s.try_insert(x, x) {
                        model.insert(x);
                    }
                }
                1 => {
                    if s.try_remove(x, x) {
                        model.remove(&x);
                    }
                }
                2 if x % 7 == 0 && x + 3 < 600 => {
                    if s.try_insert_sealed(x, x + 3) {
                        model.extend(x..=x + 3);
                    }
                }
                _ => {
                    let limit = 580;
                    let want = (x..=limit).find(|p| !model.contains(p));
                    let before: Vec<(u128, u128, bool)> = s.entries().collect();
                    match s.claim_from(x, limit) {
                        Some(c) => {
                            assert_eq!(Some(c), want, "claim_from({x})");
                            model.insert(c);
                        }
                        None => {
                            // Only when `x` is held and the point after its range is
                            // held too or past the limit.
                            assert_eq!(s.entries().collect::<Vec<_>>(), before);
                            if x <= limit {
                                let (_, e, _) = s.containing_entry(x).expect("x is held");
                                assert!(e + 1 > limit || model.contains(&(e + 1)), "{x}");
                            }
                        }
                    }
                }
            }
            if step % 1000 == 0 {
                s.check();
                assert_eq!(points(&s), model);
            }
        }
        s.check();
        assert_eq!(points(&s), model);
    }

    #[test]
    fn next_gap_skips_super_groups() {
        // 80,000 single ranges: more than one super-group of blocks.
        let mut s = RangeSet::<u64>::new();
        for k in 0..80_000u128 {
            s.insert(4 * k + 1, 4 * k + 1);
        }
        let max = u64::MAX as u128;
        assert_eq!(s.next_gap(0, 4, max), Some((320_000 - 2, max)));
        // A long gap in the middle of the second super-group is found, and an edit in
        // the first one invalidates only what it must.
        s.remove(4 * 70_000 + 1, 4 * 70_000 + 1);
        s.remove(4 * 70_001 + 1, 4 * 70_001 + 1);
        s.remove(4 * 10 + 1, 4 * 10 + 1);
        assert_eq!(s.next_gap(0, 8, max), Some((279_998, 280_008)));
        assert_eq!(s.next_gap(0, 4, max), Some((38, 44)));
        s.insert(4 * 10 + 1, 4 * 10 + 1);
        assert_eq!(s.next_gap(0, 4, max), Some((279_998, 280_008)));
        assert_eq!(s.next_gap(280_006, 4, max), Some((320_000 - 2, max)));
        s.check();
    }

    #[test]
    fn next_gap_skips_short_holes() {
        let mut s = RangeSet::<u64>::new();
        // Reserved: every 4k+1 for k < 10_000: holes of 3 between them.
        for k in 0..10_000u128 {
            s.insert(4 * k + 1, 4 * k + 1);
        }
        assert_eq!(s.next_gap(0, 1, u64::MAX as u128), Some((0, 0)));
        assert_eq!(s.next_gap(0, 3, u64::MAX as u128), Some((2, 4)));
        assert_eq!(s.next_gap(3, 3, u64::MAX as u128), Some((6, 8)));
        assert_eq!(
            s.next_gap(0, 4, u64::MAX as u128),
            Some((40_000 - 2, u64::MAX as u128))
        );
        assert_eq!(s.next_gap(0, 4, 1000), None);
        // After an edit the caches are rebuilt.
        s.remove(4001, 4001);
        assert_eq!(s.next_gap(0, 4, u64::MAX as u128), Some((3998, 4004)));
    }

    /// The model of `prev_gap`: the highest run of free points inside `low..=x` with at
    /// least `len` points.
    fn prev_gap_scan(
        model: &BTreeSet<u128>,
        x: u128,
        len: u128,
        low: u128,
    ) -> Option<(u128, u128)> {
        let mut hi: Option<u128> = None;
        let mut p = x;
        loop {
            if model.contains(&p) {
                if let Some(h) = hi.take() {
                    if h - p >= len {
                        return Some((p + 1, h));
                    }
                }
            } else if hi.is_none() {
                hi = Some(p);
            }
            if p == low {
                break;
            }
            p -= 1;
        }
        hi.filter(|h| h - low + 1 >= len).map(|h| (low, h))
    }

    #[test]
    fn prev_gap_matches_a_scan() {
        let mut s = RangeSet::<u64>::new();
        let mut model: BTreeSet<u128> = BTreeSet::new();
        let mut k = 11u64;
        let mut next = || {
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (k >> 33) as u128
        };
        const N: u128 = 12_000;
        for step in 0..40_000 {
            let x = next() % N;
            match step % 5 {
                0 | 1 => {
                    if s.try_insert(x, x) {
                        model.insert(x);
                    }
                }
                2 => {
                    if s.try_remove(x, x) {
                        model.remove(&x);
                    }
                }
                3 if x % 5 == 0 && x + 3 < N => {
                    if s.try_insert_sealed(x, x + 3) {
                        model.extend(x..=x + 3);
                    }
                }
                _ => {
                    let len = 1 + next() % 6;
                    let low = x.saturating_sub(next() % 3000);
                    assert_eq!(
                        s.prev_gap(x, len, low),
                        prev_gap_scan(&model, x, len, low),
                        "prev_gap({x}, {len}, {low})"
                    );
                }
            }
        }
        s.check();
        // Whole-range searches, every length, once the set is dense.
        for len in 1..12 {
            for x in [0, 1, N / 2, N - 1, N + 5] {
                assert_eq!(
                    s.prev_gap(x, len, 0),
                    prev_gap_scan(&model, x, len, 0),
                    "prev_gap({x}, {len}, 0)"
                );
            }
        }
    }

    #[test]
    fn prev_gap_skips_super_groups() {
        // 80,000 single ranges: more than one super-group of blocks.
        let mut s = RangeSet::<u64>::new();
        for k in 0..80_000u128 {
            s.insert(4 * k + 1, 4 * k + 1);
        }
        let top = 4 * 80_000;
        assert_eq!(s.prev_gap(top, 3, 0), Some((top - 2, top)));
        assert_eq!(s.prev_gap(top - 3, 3, 0), Some((top - 6, top - 4)));
        assert_eq!(s.prev_gap(top - 3, 4, 0), None);
        assert_eq!(s.prev_gap(top - 3, 1, 0), Some((top - 6, top - 4)));
        s.remove(4 * 10 + 1, 4 * 10 + 1);
        s.remove(4 * 11 + 1, 4 * 11 + 1);
        assert_eq!(s.prev_gap(top - 3, 4, 0), Some((38, 48)));
        assert_eq!(s.prev_gap(top - 3, 4, 39), Some((39, 48)));
        assert_eq!(s.prev_gap(top - 3, 4, 46), None);
        s.remove(4 * 70_000 + 1, 4 * 70_000 + 1);
        assert_eq!(s.prev_gap(top - 3, 4, 0), Some((279_998, 280_004)));
        s.insert(4 * 70_000 + 1, 4 * 70_000 + 1);
        assert_eq!(s.prev_gap(top - 3, 4, 0), Some((38, 48)));
        // The gap below the first range.
        s.remove(1, 1);
        assert_eq!(s.prev_gap(30, 5, 0), Some((0, 4)));
        s.check();
    }
}
