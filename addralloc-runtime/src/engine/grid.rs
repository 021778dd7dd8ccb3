//! Geometry of the index space: [`Layout`] packs field values into one index, and
//! [`Grid`] is a box of field ranges (optionally strided, for aligned block starts)
//! with O(fields) successor, predecessor and rank functions.
//!
//! Each field takes `bits = bit_length(max - min)` bits of the index and the first field
//! is the most significant, so index order is the lexicographic order of addresses and
//! conversion is shifts and masks. Values between `max` and the next power of two are
//! holes in the index space: no grid ever contains them.

use alloc::vec::Vec;

use crate::count::Count;

/// Most fields an address type may have.
pub const MAX_FIELDS: usize = 16;

/// One field of a [`Layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Dim {
    pub(crate) min: u128,
    pub(crate) max: u128,
    pub(crate) shift: u32,
    /// `2^bits - 1`.
    pub(crate) mask: u128,
}

/// How field values map to one index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) dims: Vec<Dim>,
    pub(crate) total_bits: u32,
}

/// Why a list of fields cannot form a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LayoutError {
    NoFields,
    TooManyFields(usize),
    EmptyRange(usize),
    TooWide(u32),
}

impl Layout {
    /// Packs fields given as `(min, max)` pairs.
    pub(crate) fn new(
        fields: impl IntoIterator<Item = (u128, u128)>,
    ) -> Result<Layout, LayoutError> {
        let mut dims = Vec::new();
        for (i, (min, max)) in fields.into_iter().enumerate() {
            if min > max {
                return Err(LayoutError::EmptyRange(i));
            }
            let bits = 128 - (max - min).leading_zeros();
            let mask = if bits == 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            dims.push((
                Dim {
                    min,
                    max,
                    shift: 0,
                    mask,
                },
                bits,
            ));
        }
        if dims.is_empty() {
            return Err(LayoutError::NoFields);
        }
        if dims.len() > MAX_FIELDS {
            return Err(LayoutError::TooManyFields(dims.len()));
        }
        let total: u32 = dims.iter().map(|(_, b)| *b).sum();
        if total > 128 {
            return Err(LayoutError::TooWide(total));
        }
        let mut shift = 0;
        for (d, bits) in dims.iter_mut().rev() {
            d.shift = if *bits == 0 { 0 } else { shift };
            shift += *bits;
        }
        Ok(Layout {
            dims: dims.into_iter().map(|(d, _)| d).collect(),
            total_bits: total,
        })
    }

    /// Number of fields.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.dims.len()
    }

    /// Largest index of the space.
    #[inline]
    pub(crate) fn max_index(&self) -> u128 {
        if self.total_bits == 128 {
            u128::MAX
        } else {
            (1u128 << self.total_bits) - 1
        }
    }

    /// The index of in-range field values.
    #[inline]
    pub(crate) fn index_of(&self, values: impl Fn(usize) -> u128) -> u128 {
        let mut idx = 0;
        for (i, d) in self.dims.iter().enumerate() {
            idx |= (values(i) - d.min) << d.shift;
        }
        idx
    }

    /// Field value `i` of an index.
    #[inline]
    pub(crate) fn value(&self, idx: u128, i: usize) -> u128 {
        let d = &self.dims[i];
        ((idx >> d.shift) & d.mask) + d.min
    }

    /// The digit (value minus min) of field `i` of an index.
    #[inline]
    /// Whether `first` is at most `last` on every field (they span a box).
    pub(crate) fn ordered(&self, first: u128, last: u128) -> bool {
        (0..self.len()).all(|i| self.digit(first, i) <= self.digit(last, i))
    }

    /// Whether the box spanned by `first` and `last` (ordered) is one run of indices:
    /// below the first field where they differ, every field is covered whole.
    pub(crate) fn is_run(&self, first: u128, last: u128) -> bool {
        let n = self.len();
        let Some(top) = (0..n).find(|&i| self.digit(first, i) != self.digit(last, i)) else {
            return true;
        };
        (top + 1..n).all(|j| self.digit(first, j) == 0 && self.digit(last, j) == self.dims[j].mask)
    }

    fn digit(&self, idx: u128, i: usize) -> u128 {
        let d = &self.dims[i];
        (idx >> d.shift) & d.mask
    }
}

/// One dimension of a grid, in digits (value minus the field's min).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Axis {
    pub(crate) lo: u128,
    /// Largest digit of the grid (a multiple of `step` above `lo`).
    pub(crate) hi: u128,
    pub(crate) step: u128,
}

/// The axes of a grid: inline for up to four fields (PCI, drive, IPv4), on the heap
/// beyond, so that a pool or a search box costs a few hundred bytes, not 768.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Axes {
    Inline { n: u8, a: [Axis; 4] },
    Heap(alloc::boxed::Box<[Axis]>),
}

impl Axes {
    fn from_slice(axes: &[Axis]) -> Axes {
        if axes.len() <= 4 {
            let mut a = [Axis::default(); 4];
            a[..axes.len()].copy_from_slice(axes);
            Axes::Inline {
                n: axes.len() as u8,
                a,
            }
        } else {
            Axes::Heap(axes.into())
        }
    }
}

impl core::ops::Deref for Axes {
    type Target = [Axis];
    #[inline]
    fn deref(&self) -> &[Axis] {
        match self {
            Axes::Inline { n, a } => &a[..*n as usize],
            Axes::Heap(b) => b,
        }
    }
}

impl Axis {
    /// How far `d` (`>= lo`) is past the previous grid value: `(d - lo) % step`,
    /// without a 128-bit division for the usual steps (1 and powers of two).
    #[inline]
    fn offset(&self, d: u128) -> u128 {
        let x = d - self.lo;
        if self.step == 1 {
            0
        } else if self.step.is_power_of_two() {
            x & (self.step - 1)
        } else {
            x % self.step
        }
    }
}

/// A box of digits per field, each axis `lo, lo + step, …, hi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) axes: Axes,
    pub(crate) n: usize,
    /// `Some((first, last))` when the grid is exactly one contiguous run of indices.
    interval: Option<(u128, u128)>,
    /// `Some((first, last, shift))` when the points are exactly the multiples of
    /// `2^shift` in `first..=last`: an interval-shaped box whose trailing fields are
    /// fixed at their first value, like the aligned starts of whole PCI slots.
    strided: Option<(u128, u128, u32)>,
}

impl Grid {
    /// A box from inclusive digit ranges, step 1. Every range is non-empty and within its
    /// field (the caller checked).
    pub(crate) fn new(layout: &Layout, ranges: impl Fn(usize) -> (u128, u128)) -> Grid {
        Grid::build(layout, |i| {
            let (lo, hi) = ranges(i);
            Some(Axis { lo, hi, step: 1 })
        })
        .unwrap_or_else(|| Grid::from_axes(layout, [Axis::default(); MAX_FIELDS]))
    }

    /// A grid of the axes `axis(i)` (`None` for any: no grid), without a
    /// `MAX_FIELDS` array for the usual four fields or fewer.
    #[inline]
    fn build(layout: &Layout, axis: impl Fn(usize) -> Option<Axis>) -> Option<Grid> {
        let n = layout.len();
        if n > 4 {
            let mut axes = [Axis::default(); MAX_FIELDS];
            for (i, a) in axes.iter_mut().enumerate().take(n) {
                *a = axis(i)?;
            }
            return Some(Grid::from_axes(layout, axes));
        }
        let mut a = [Axis::default(); 4];
        for (i, x) in a.iter_mut().enumerate().take(n) {
            *x = axis(i)?;
        }
        let mut g = Grid {
            axes: Axes::Inline { n: n as u8, a },
            n,
            interval: None,
            strided: None,
        };
        g.interval = g.compute_interval(layout);
        if g.interval.is_none() {
            g.strided = g.compute_strided(layout);
        }
        Some(g)
    }

    fn from_axes(layout: &Layout, axes: [Axis; MAX_FIELDS]) -> Grid {
        let n = layout.len();
        let mut g = Grid {
            axes: Axes::from_slice(&axes[..n]),
            n,
            interval: None,
            strided: None,
        };
        g.interval = g.compute_interval(layout);
        if g.interval.is_none() {
            g.strided = g.compute_strided(layout);
        }
        g
    }

    fn compute_interval(&self, layout: &Layout) -> Option<(u128, u128)> {
        let axes = &self.axes[..self.n];
        if axes.iter().any(|a| a.step != 1 && a.lo != a.hi) {
            return None;
        }
        // Singletons, then one free axis, then axes that fill their bits.
        let k = axes.iter().position(|a| a.lo != a.hi).unwrap_or(self.n);
        for (j, a) in axes.iter().enumerate().skip(k + 1) {
            if !(a.lo == 0 && a.hi == layout.dims[j].mask) {
                return None;
            }
        }
        Some((self.first(layout), self.last(layout)))
    }

    fn compute_strided(&self, layout: &Layout) -> Option<(u128, u128, u32)> {
        let axes = &self.axes[..self.n];
        let mut j = axes.len();
        while j > 0 && axes[j - 1].lo == 0 && axes[j - 1].hi == 0 {
            j -= 1;
        }
        if j == 0 || j == axes.len() {
            return None;
        }
        let prefix = &axes[..j];
        if prefix.iter().any(|a| a.step != 1 && a.lo != a.hi) {
            return None;
        }
        let k = prefix.iter().position(|a| a.lo != a.hi).unwrap_or(j);
        for (i, a) in prefix.iter().enumerate().skip(k + 1) {
            if !(a.lo == 0 && a.hi == layout.dims[i].mask) {
                return None;
            }
        }
        Some((
            self.first(layout),
            self.last(layout),
            layout.dims[j - 1].shift,
        ))
    }

    /// Whether the grid is one contiguous run of indices.
    #[inline]
    pub(crate) fn interval(&self) -> Option<(u128, u128)> {
        self.interval
    }

    /// The intersection of two step-1 boxes, or `None` when empty.
    pub(crate) fn intersect(&self, other: &Grid, layout: &Layout) -> Option<Grid> {
        Grid::build(layout, |i| {
            let (x, y) = (self.axes[i], other.axes[i]);
            debug_assert!(x.step == 1 && y.step == 1);
            let lo = x.lo.max(y.lo);
            let hi = x.hi.min(y.hi);
            (lo <= hi).then_some(Axis { lo, hi, step: 1 })
        })
    }

    /// Whether two step-1 boxes share a point.
    pub(crate) fn meets(&self, other: &Grid) -> bool {
        (0..self.n).all(|i| {
            let (x, y) = (self.axes[i], other.axes[i]);
            x.lo.max(y.lo) <= x.hi.min(y.hi)
        })
    }

    /// Whether `other` (step 1) lies inside this step-1 box.
    pub(crate) fn contains_box(&self, other: &Grid) -> bool {
        (0..self.n)
            .all(|i| self.axes[i].lo <= other.axes[i].lo && other.axes[i].hi <= self.axes[i].hi)
    }

    /// The lattice of aligned starts of blocks with the given extents inside this step-1
    /// box; a block's start value is a multiple of its extent on every field.
    pub(crate) fn lattice(&self, layout: &Layout, extents: &[u128]) -> Option<Grid> {
        let mut axes = [Axis::default(); MAX_FIELDS];
        for (i, a) in axes.iter_mut().enumerate().take(self.n) {
            let ext = extents[i];
            let min = layout.dims[i].min;
            let (lo, hi) = (self.axes[i].lo, self.axes[i].hi);
            if ext == 1 {
                *a = Axis { lo, hi, step: 1 };
                continue;
            }
            // First absolute value >= min + lo that is a multiple of ext.
            let abs_lo = min + lo;
            let rem = abs_lo % ext;
            let first = if rem == 0 {
                abs_lo
            } else {
                abs_lo.checked_add(ext - rem)?
            };
            // Last start whose block ends within hi.
            let abs_hi = min + hi;
            let last_start = abs_hi.checked_sub(ext - 1)?;
            if first > last_start {
                return None;
            }
            let top = first + (last_start - first) / ext * ext;
            *a = Axis {
                lo: first - min,
                hi: top - min,
                step: ext,
            };
        }
        Some(Grid::from_axes(layout, axes))
    }

    /// How many separate runs of indices a block with these extents covers
    /// (saturating): [`Grid::run_count`] of the block, without building it.
    pub(crate) fn block_run_count(layout: &Layout, extents: &[u128]) -> u128 {
        let n = layout.len().min(extents.len());
        count_runs(layout, n, |i| (0, extents[i].wrapping_sub(1)))
    }

    /// For a step-1 box: how many separate runs of indices it covers (saturating).
    /// Trailing fields covered whole, with no index holes, join the runs of the field
    /// before them.
    pub(crate) fn run_count(&self, layout: &Layout) -> u128 {
        count_runs(layout, self.n, |i| (self.axes[i].lo, self.axes[i].hi))
    }

    /// The block with the given extents that starts at grid point `p`, as a step-1 box.
    pub(crate) fn block_at(layout: &Layout, p: u128, extents: &[u128]) -> Grid {
        Grid::new(layout, |i| {
            let d = layout.digit(p, i);
            // `d + ext` may be 2^128 at the top of a 128-bit field; `d + (ext - 1)` is not.
            (d, d + (extents[i] - 1))
        })
    }

    /// The step-1 box spanned by two indices, field by field.
    pub(crate) fn spanned(layout: &Layout, first: u128, last: u128) -> Option<Grid> {
        for i in 0..layout.len() {
            if layout.digit(first, i) > layout.digit(last, i) {
                return None;
            }
        }
        Some(Grid::new(layout, |i| {
            (layout.digit(first, i), layout.digit(last, i))
        }))
    }

    #[inline]
    fn compose(&self, layout: &Layout, digits: impl Fn(usize) -> u128) -> u128 {
        let mut idx = 0;
        for i in 0..self.n {
            idx |= digits(i) << layout.dims[i].shift;
        }
        idx
    }

    /// Smallest point.
    #[inline]
    pub(crate) fn first(&self, layout: &Layout) -> u128 {
        if let Some((a, _)) = self.interval {
            return a;
        }
        if let Some((a, _, _)) = self.strided {
            return a;
        }
        self.compose(layout, |i| self.axes[i].lo)
    }

    /// Largest point.
    #[inline]
    pub(crate) fn last(&self, layout: &Layout) -> u128 {
        if let Some((_, b)) = self.interval {
            return b;
        }
        if let Some((_, b, _)) = self.strided {
            return b;
        }
        self.compose(layout, |i| self.axes[i].hi)
    }

    /// Whether `x` is a point of the grid.
    pub(crate) fn contains(&self, layout: &Layout, x: u128) -> bool {
        if let Some((a, b)) = self.interval {
            return a <= x && x <= b;
        }
        if x > layout.max_index() {
            return false;
        }
        (0..self.n).all(|i| {
            let a = self.axes[i];
            let d = layout.digit(x, i);
            d >= a.lo && d <= a.hi && a.offset(d) == 0
        })
    }

    /// Number of points.
    pub(crate) fn size(&self) -> Count {
        let mut c = Count::from(1u128);
        for a in &self.axes[..self.n] {
            let k = (a.hi - a.lo) / a.step;
            c = match k.checked_add(1) {
                Some(k1) => c.mul(k1).unwrap_or(Count::FULL_128),
                None => Count::FULL_128, // one axis of 2^128 values: the whole space
            };
        }
        c
    }

    /// The smallest point `>= x`.
    pub(crate) fn ceil(&self, layout: &Layout, x: u128) -> Option<u128> {
        if let Some((a, b)) = self.interval {
            return if x <= a {
                Some(a)
            } else if x <= b {
                Some(x)
            } else {
                None
            };
        }
        if let Some((a, b, shift)) = self.strided {
            if x <= a {
                return Some(a);
            }
            let r = x.checked_add((1u128 << shift) - 1)? >> shift << shift;
            return (r <= b).then_some(r);
        }
        if x > layout.max_index() {
            return None;
        }
        let d = |j: usize| layout.digit(x, j);
        for i in 0..self.n {
            let a = self.axes[i];
            if d(i) < a.lo {
                return Some(self.compose(layout, |j| if j < i { d(j) } else { self.axes[j].lo }));
            }
            if d(i) > a.hi {
                return self.bump(layout, x, i);
            }
            let r = a.offset(d(i));
            if r != 0 {
                let up = d(i) + (a.step - r);
                if up <= a.hi {
                    return Some(self.compose(layout, |j| match j.cmp(&i) {
                        core::cmp::Ordering::Less => d(j),
                        core::cmp::Ordering::Equal => up,
                        core::cmp::Ordering::Greater => self.axes[j].lo,
                    }));
                }
                return self.bump(layout, x, i);
            }
        }
        Some(x)
    }

    /// The next point after every point whose first `i` digits are `d[..i]`.
    fn bump(&self, layout: &Layout, x: u128, i: usize) -> Option<u128> {
        let d = |j: usize| layout.digit(x, j);
        for j in (0..i).rev() {
            let a = self.axes[j];
            if a.hi - d(j) >= a.step {
                let v = d(j) + a.step;
                return Some(self.compose(layout, |k| match k.cmp(&j) {
                    core::cmp::Ordering::Less => d(k),
                    core::cmp::Ordering::Equal => v,
                    core::cmp::Ordering::Greater => self.axes[k].lo,
                }));
            }
        }
        None
    }

    /// The largest point `<= x`.
    pub(crate) fn floor(&self, layout: &Layout, x: u128) -> Option<u128> {
        if let Some((a, b)) = self.interval {
            return if x >= b {
                Some(b)
            } else if x >= a {
                Some(x)
            } else {
                None
            };
        }
        if let Some((a, b, shift)) = self.strided {
            if x >= b {
                return Some(b);
            }
            let r = x >> shift << shift;
            return (r >= a).then_some(r);
        }
        let x = x.min(layout.max_index());
        let d = |j: usize| layout.digit(x, j);
        for i in 0..self.n {
            let a = self.axes[i];
            if d(i) > a.hi {
                return Some(self.compose(layout, |j| if j < i { d(j) } else { self.axes[j].hi }));
            }
            if d(i) < a.lo {
                return self.dip(layout, x, i);
            }
            let r = a.offset(d(i));
            if r != 0 {
                let down = d(i) - r;
                return Some(self.compose(layout, |j| match j.cmp(&i) {
                    core::cmp::Ordering::Less => d(j),
                    core::cmp::Ordering::Equal => down,
                    core::cmp::Ordering::Greater => self.axes[j].hi,
                }));
            }
        }
        Some(x)
    }

    /// The previous point before every point whose first `i` digits are `d[..i]`.
    fn dip(&self, layout: &Layout, x: u128, i: usize) -> Option<u128> {
        let d = |j: usize| layout.digit(x, j);
        for j in (0..i).rev() {
            let a = self.axes[j];
            if d(j) - a.lo >= a.step {
                let v = d(j) - a.step;
                return Some(self.compose(layout, |k| match k.cmp(&j) {
                    core::cmp::Ordering::Less => d(k),
                    core::cmp::Ordering::Equal => v,
                    core::cmp::Ordering::Greater => self.axes[k].hi,
                }));
            }
        }
        None
    }

    /// For a step-1 box and a point `x` of it: the last index of the contiguous run of
    /// box points that starts at `x`.
    pub(crate) fn run_end(&self, layout: &Layout, x: u128) -> u128 {
        if let Some((_, b)) = self.interval {
            return b;
        }
        // The last axis that does not fill its bits ends the run.
        let k = (0..self.n)
            .rev()
            .find(|&j| !(self.axes[j].lo == 0 && self.axes[j].hi == layout.dims[j].mask));
        match k {
            None => layout.max_index(),
            Some(k) => self.compose(layout, |j| match j.cmp(&k) {
                core::cmp::Ordering::Less => layout.digit(x, j),
                core::cmp::Ordering::Equal => self.axes[k].hi,
                core::cmp::Ordering::Greater => layout.dims[j].mask,
            }),
        }
    }

    /// For a step-1 box: the maximal runs of indices it covers, in order, as long as the
    /// caller keeps pulling.
    pub(crate) fn runs<'a>(
        &'a self,
        layout: &'a Layout,
    ) -> impl Iterator<Item = (u128, u128)> + 'a {
        let mut next = Some(self.first(layout));
        core::iter::from_fn(move || {
            let x = next?;
            let e = self.run_end(layout, x);
            next = if e == u128::MAX {
                None
            } else {
                self.ceil(layout, e + 1)
            };
            Some((x, e))
        })
    }

    /// For a step-1 box: the number of its points `< x`, for `x <= max_index`.
    pub(crate) fn rank(&self, layout: &Layout, x: u128) -> Count {
        let mut total = Count::ZERO;
        // Product of the sizes of the axes after i.
        let mut sizes = [1u128; MAX_FIELDS];
        let mut acc: u128 = 1;
        for i in (0..self.n).rev() {
            sizes[i] = acc;
            let a = self.axes[i];
            acc = acc.wrapping_mul((a.hi - a.lo).wrapping_add(1));
        }
        for (i, (a, size)) in self.axes[..self.n].iter().zip(sizes).enumerate() {
            let d = layout.digit(x, i);
            let below = if d < a.lo {
                return total;
            } else if d > a.hi {
                // Every box point with this prefix is below x.
                return total.add(
                    Count::span(a.lo, a.hi)
                        .mul(sizes[i])
                        .unwrap_or(Count::FULL_128),
                );
            } else {
                d - a.lo
            };
            total = total.add(Count::from(below).mul(size).unwrap_or(Count::FULL_128));
        }
        total
    }

    /// For a step-1 box: the number of its points in `s..=e`.
    pub(crate) fn count_in(&self, layout: &Layout, s: u128, e: u128) -> Count {
        if let Some((a, b)) = self.interval {
            let (s, e) = (s.max(a), e.min(b));
            return if s > e {
                Count::ZERO
            } else {
                Count::span(s, e)
            };
        }
        let hi = if e >= layout.max_index() {
            self.size()
        } else {
            self.rank(layout, e + 1)
        };
        hi.sub(self.rank(layout, s))
    }
}

/// The runs of a box of `n` fields whose digit range on field `i` is `digits(i)`
/// (saturating): fields covered whole from the last one up join the field before.
fn count_runs(layout: &Layout, n: usize, digits: impl Fn(usize) -> (u128, u128)) -> u128 {
    let mut k = n;
    while k > 0 && digits(k - 1) == (0, layout.dims[k - 1].mask) {
        k -= 1;
    }
    (0..k.saturating_sub(1)).fold(1u128, |r, i| {
        let (lo, hi) = digits(i);
        r.saturating_mul((hi - lo).saturating_add(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn pci() -> Layout {
        Layout::new(vec![(0, 0xffff), (0, 0xff), (0, 31), (0, 7)]).unwrap()
    }

    #[test]
    fn layout_packs_fields_in_order() {
        let l = pci();
        assert_eq!(l.total_bits, 32);
        let idx = l.index_of(|i| [1, 2, 3, 4][i]);
        assert_eq!(idx, (1 << 16) | (2 << 8) | (3 << 3) | 4);
        assert_eq!(
            (0..4).map(|i| l.value(idx, i)).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(
            Layout::new(vec![(0, u128::MAX)]).unwrap().max_index(),
            u128::MAX
        );
        assert_eq!(
            Layout::new(vec![(0, u128::MAX), (0, 1)]),
            Err(LayoutError::TooWide(129))
        );
        assert_eq!(Layout::new(vec![(5, 4)]), Err(LayoutError::EmptyRange(0)));
    }

    #[test]
    fn strided_grids_match_brute_force() {
        let l = Layout::new(vec![(0, 3), (0, 7), (0, 3)]).unwrap();
        let boxes = [
            [(0, 3), (0, 7), (0, 0)],
            [(1, 1), (2, 7), (0, 0)],
            [(2, 2), (5, 5), (0, 0)],
        ];
        let mut grids: Vec<Grid> = boxes.iter().map(|b| Grid::new(&l, |i| b[i])).collect();
        let full = Grid::new(&l, |i| [(0, 3), (0, 7), (0, 3)][i]);
        grids.push(full.lattice(&l, &[1, 1, 4]).unwrap());
        grids.push(full.lattice(&l, &[1, 2, 4]).unwrap());
        for g in &grids {
            let pts: Vec<u128> = (0..=l.max_index()).filter(|&x| g.contains(&l, x)).collect();
            for x in 0..=l.max_index() + 1 {
                assert_eq!(
                    g.ceil(&l, x),
                    pts.iter().copied().find(|&p| p >= x),
                    "ceil {x} {g:?}"
                );
                assert_eq!(
                    g.floor(&l, x),
                    pts.iter().copied().rev().find(|&p| p <= x),
                    "floor {x} {g:?}"
                );
            }
        }
        assert!(grids[0].strided.is_some() && grids[3].strided.is_some());
    }

    #[test]
    fn ceil_floor_and_rank_match_brute_force() {
        // A small 3-field space with holes (field 1 is 0..=5 in 3 bits).
        let l = Layout::new(vec![(0, 3), (0, 5), (0, 3)]).unwrap();
        let g = Grid::new(&l, |i| [(1, 2), (1, 4), (0, 2)][i]);
        let pts: Vec<u128> = (0..=l.max_index()).filter(|&x| g.contains(&l, x)).collect();
        assert_eq!(g.size(), pts.len() as u128);
        for x in 0..=l.max_index() {
            assert_eq!(
                g.ceil(&l, x),
                pts.iter().copied().find(|&p| p >= x),
                "ceil {x}"
            );
            assert_eq!(
                g.floor(&l, x),
                pts.iter().copied().rev().find(|&p| p <= x),
                "floor {x}"
            );
            assert_eq!(
                g.rank(&l, x),
                pts.iter().filter(|&&p| p < x).count() as u128
            );
        }
        let runs: Vec<_> = g.runs(&l).collect();
        let covered: Vec<u128> = runs.iter().flat_map(|&(s, e)| s..=e).collect();
        assert_eq!(covered, pts);
    }

    #[test]
    fn lattice_aligns_to_multiples_of_the_extent() {
        let l = Layout::new(vec![(0, 255), (1, 31)]).unwrap();
        let b = Grid::new(&l, |i| [(0, 255), (0, 30)][i]);
        let lat = b.lattice(&l, &[1, 4]).unwrap();
        // Field 1 holds 1..=31: aligned starts 4, 8, …, 28 (28..=31 fits).
        let starts: Vec<u128> = (0..32u128)
            .filter(|&x| lat.contains(&l, x))
            .map(|x| l.value(x, 1))
            .collect();
        assert_eq!(starts, vec![4, 8, 12, 16, 20, 24, 28]);
        assert!(b.lattice(&l, &[1, 32]).is_none());
    }

    #[test]
    fn interval_detection() {
        let l = pci();
        let slot = Grid::new(&l, |i| [(0, 0), (0, 0), (1, 31), (0, 7)][i]);
        assert!(slot.interval().is_some());
        let fn0 = Grid::new(&l, |i| [(0, 0), (0, 0), (1, 31), (0, 0)][i]);
        assert!(fn0.interval().is_none());
        assert_eq!(fn0.size(), 31u128);
        assert_eq!(fn0.runs(&l).count(), 31);
    }
}
