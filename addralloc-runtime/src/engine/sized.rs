//! Sized requests (memory windows): a run of `size` consecutive indices whose start is
//! a multiple of a power-of-two alignment, placed first fit, last fit or at an exact
//! start, inside one run of one pool. The searches walk free gaps (the reserved set's
//! ranges), never single addresses.

use super::rangeset::RangeSet;
use super::state::{Engine, Fail, Set, TagMask};
use crate::engine::grid::{Grid, Layout};

/// Where a sized request goes, in packed indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// The lowest aligned start that fits.
    First,
    /// The highest aligned start that fits.
    Last,
    /// Exactly this start (the caller checked its alignment).
    Exact(u128),
}

/// The first maximal free gap after `x` holding `len` points, up to `limit`.
fn next_gap(set: &mut Set, x: u128, len: u128, limit: u128) -> Option<(u128, u128)> {
    match set {
        Set::Narrow(s) => s.next_gap(x, len, limit),
        Set::Wide(s) => s.next_gap(x, len, limit),
    }
}

/// The last maximal free gap at or before `x` holding `len` points, down to `low`.
fn prev_gap(set: &mut Set, x: u128, len: u128, low: u128) -> Option<(u128, u128)> {
    match set {
        Set::Narrow(s) => s.prev_gap(x, len, low),
        Set::Wide(s) => s.prev_gap(x, len, low),
    }
}

fn first_ending_after(set: &Set, x: u128) -> Option<(u128, u128)> {
    match set {
        Set::Narrow(s) => s.first_ending_at_or_after(x),
        Set::Wide(s) => s.first_ending_at_or_after(x),
    }
}

fn insert(set: &mut Set, s: u128, e: u128) {
    match set {
        Set::Narrow(r) => RangeSet::insert(r, s, e),
        Set::Wide(r) => RangeSet::insert(r, s, e),
    }
}

/// `x` rounded up to a multiple of `align` (a power of two), if that exists.
fn align_up(x: u128, align: u128) -> Option<u128> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// The first index at or after `x` that is an address of the space (not a hole).
fn next_valid(layout: &Layout, x: u128) -> Option<u128> {
    let whole = Grid::new(layout, |i| (0, layout.dims[i].max - layout.dims[i].min));
    whole.ceil(layout, x)
}

impl Engine {
    /// Reserves `size_m1 + 1` consecutive indices starting at a multiple of `align` (a
    /// power of two), inside one run of one pool carrying `mask`, placed by `place`.
    /// Returns the first and last index. Nothing changes on failure.
    pub(crate) fn reserve_sized(
        &mut self,
        size_m1: u128,
        align: u128,
        place: Place,
        mask: TagMask,
        owner: Option<&str>,
    ) -> Result<(u128, u128), Fail> {
        let start = match place {
            Place::First => self.sized_first(size_m1, align, mask),
            Place::Last => self.sized_last(size_m1, align, mask),
            Place::Exact(idx) => Some(self.sized_exact(idx, size_m1, mask)?),
        };
        let Some(s) = start else {
            return Err(Fail::Exhausted);
        };
        let e = s + size_m1;
        insert(&mut self.set, s, e);
        self.inserted(s, e);
        self.raise_hints(s, e);
        self.record(&[(s, e)], s, e, owner);
        Ok((s, e))
    }

    /// Checks that `idx..=idx + size_m1` is free and inside one run of a pool.
    fn sized_exact(&self, idx: u128, size_m1: u128, mask: TagMask) -> Result<u128, Fail> {
        let layout = &self.layout;
        let i = self
            .pool_of(idx, mask)
            .ok_or(Fail::OutsidePools { index: idx })?;
        let e = match idx.checked_add(size_m1) {
            Some(e) if e <= layout.max_index() => e,
            _ => return Err(Fail::Exhausted),
        };
        let re = self.pools[i].grid.run_end(layout, idx);
        if e > re {
            // The first address past the pool's run that the window would cover.
            return match re.checked_add(1).and_then(|x| next_valid(layout, x)) {
                Some(x) if x <= e => Err(Fail::OutsidePools { index: x }),
                _ => Err(Fail::Exhausted),
            };
        }
        if let Some((rs, _)) = first_ending_after(&self.set, idx) {
            if rs <= e {
                return Err(self.conflict(rs.max(idx)));
            }
        }
        Ok(idx)
    }

    /// The lowest aligned start of a free window, over every eligible pool.
    fn sized_first(&mut self, size_m1: u128, align: u128, mask: TagMask) -> Option<u128> {
        let mut best: Option<u128> = None;
        for i in 0..self.pools.len() {
            let (hint, _) = self.pool_hints(i);
            let (p, set, layout) = (&self.pools[i], &mut self.set, &self.layout);
            if p.tags & mask != mask {
                continue;
            }
            let g = &p.grid;
            let first = g.first(layout);
            if best.is_some_and(|b| b < first) {
                continue;
            }
            // Every run of a box has the same length: a pool whose runs are too short
            // is skipped whole.
            if g.run_end(layout, first) - first < size_m1 {
                continue;
            }
            // Everything in the pool below its hint is reserved.
            let Some(mut x) = g.ceil(layout, hint.max(first)) else {
                continue;
            };
            'runs: loop {
                if best.is_some_and(|b| b <= x) {
                    break;
                }
                let re = g.run_end(layout, x);
                let mut y = x;
                while let Some((gs, ge)) = next_gap(set, y, size_m1 + 1, re) {
                    let Some(q) = align_up(gs, align) else {
                        break 'runs;
                    };
                    if q <= ge && ge - q >= size_m1 {
                        best = Some(best.map_or(q, |b| b.min(q)));
                        break 'runs;
                    }
                    y = if q > ge {
                        q
                    } else {
                        match ge.checked_add(1) {
                            Some(n) => n,
                            None => break 'runs,
                        }
                    };
                    if y > re {
                        break;
                    }
                }
                match re.checked_add(1).and_then(|n| g.ceil(layout, n)) {
                    Some(n) => x = n,
                    None => break,
                }
            }
        }
        best
    }

    /// The highest aligned start of a free window, over every eligible pool. The mirror
    /// of [`sized_first`](Self::sized_first): the backward gap search skips every run of
    /// gaps too short for the window by the set's caches.
    fn sized_last(&mut self, size_m1: u128, align: u128, mask: TagMask) -> Option<u128> {
        let mut best: Option<u128> = None;
        for i in (0..self.pools.len()).rev() {
            let (_, top) = self.pool_hints(i);
            let (p, set, layout) = (&self.pools[i], &mut self.set, &self.layout);
            if p.tags & mask != mask {
                continue;
            }
            let g = &p.grid;
            let (first, last) = (g.first(layout), g.last(layout));
            if best.is_some_and(|b| b >= last) {
                continue;
            }
            let span = g.run_end(layout, first) - first;
            if span < size_m1 {
                continue;
            }
            // Everything in the pool above its top is reserved.
            let Some(mut x) = g.floor(layout, top.min(last)) else {
                continue;
            };
            'runs: loop {
                if best.is_some_and(|b| b >= x) {
                    break;
                }
                let rs = g.run_end(layout, x) - span;
                // Free gaps of `rs..=x`, last first.
                let mut y = x;
                while let Some((gs, ge)) = prev_gap(set, y, size_m1 + 1, rs) {
                    // The gap holds the window: `ge - size_m1 >= gs`.
                    let q = (ge - size_m1) & !(align - 1);
                    if q >= gs {
                        best = Some(best.map_or(q, |b| b.max(q)));
                        break 'runs;
                    }
                    // A window below starts at or below `q`, so it ends at or below
                    // `q + size_m1`, and below this gap.
                    if gs <= rs {
                        break;
                    }
                    y = (q + size_m1).min(gs - 1);
                }
                match rs.checked_sub(1).and_then(|n| g.floor(layout, n)) {
                    Some(n) if n >= first => x = n,
                    _ => break,
                }
            }
        }
        best
    }

    /// Releases the one-run reservation that is exactly `first..=last` (a sized
    /// window, or any reservation of one run); anything else is refused naming what
    /// is there, and nothing changes.
    pub(crate) fn release_run(&mut self, first: u128, last: u128) -> Result<(), Fail> {
        if first == last {
            return self.release(first);
        }
        match self.records.containing(first) {
            Some((k, r)) if self.linear(k, &r) && k == first && r.end == last => {
                self.drop_linear(k, r.end);
                Ok(())
            }
            _ => Err(self.part_of(first)),
        }
    }
}
