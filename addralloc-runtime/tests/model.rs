//! Model-based tests: random operation sequences on small address spaces, run on BOTH
//! fronts (a typed `Allocator<A>` and a `DynAllocator` of an equivalent run-time schema)
//! and checked after every step against each other and against a plain model:
//! reservations as entities (a set of points and an owner each), a pool list with tags,
//! one next-fit cursor per search key (the pattern's box, or `*`, and the required
//! tags), and each policy's choice computed by scanning every point in order.
//!
//! Wide (128-bit) spaces are modelled on "windows" near 0 and near the maximum: pools
//! and block ranges stay inside the windows, so the model only needs their points.
//!
//! The dynamic front is given addresses as `DynAddress`es (`DynType::address` checks
//! the field values, as the typed front does), patterns as text when they are valid
//! (else `DynPattern::with_range`), block shapes as text; queries use address text.
//! Every few steps each front is replaced by a restore of the other's snapshot.
//!
//! Also here: the next-fit promise per search key, and nested transactions (commit,
//! `Err`, panic) against the same operations run without a transaction.
//!
//! Runtime bugs found by these tests have regression tests in `tests/fronts.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use addralloc_runtime::dynamic::{DynBlockRange, DynPattern};
use addralloc_runtime::{
    Address, Allocator, Block, BlockRange, Count, DynAllocator, DynType, Error, Pattern, Policy,
    Snapshot,
};
use proptest::prelude::*;
use proptest::sample::select;

use common::{address_type, twin, Twin};

type Pt = Vec<u128>;
/// Per field: unconstrained, or `(lo, hi)` (`lo > hi` is an empty range).
type MPat = Vec<Option<(u128, u128)>>;
type BoxR = Vec<(u128, u128)>;

const TAGS: [&str; 3] = ["pci", "pcie", "hot"];
const OWNERS: [&str; 3] = ["vm1", "vm2", ""];

#[derive(Clone, Debug, Default)]
struct Req {
    owner: Option<&'static str>,
    tags: Vec<&'static str>,
}

#[derive(Clone, Debug)]
enum Op {
    AddPool {
        pat: MPat,
        tags: Vec<&'static str>,
    },
    Reserve {
        p: Pt,
        req: Req,
    },
    ReserveFirst {
        pat: MPat,
        req: Req,
    },
    ReserveAny {
        req: Req,
    },
    ReservePreferred {
        pats: Vec<MPat>,
        req: Req,
    },
    ReserveBlock {
        pat: MPat,
        ext: Vec<u128>,
        req: Req,
    },
    ReserveRange {
        first: Pt,
        last: Pt,
        req: Req,
    },
    Release {
        p: Pt,
    },
    /// `release_block` of the box `first..=last` (`first <= last` field by field).
    ReleaseBlock {
        first: Pt,
        last: Pt,
    },
    ReleaseRange {
        first: Pt,
        last: Pt,
    },
    ReleaseOwner {
        owner: &'static str,
    },
    /// Turned into a concrete release of the `n`-th reservation (modulo their number)
    /// before it runs, so that releases meet reservations often: `how` picks
    /// `release_block` of its corners, `release` of its first address, `release_range`
    /// of its first address, or `release_range` of its corners.
    ReleaseNth {
        n: usize,
        how: u8,
    },
    FreeCountIn {
        pat: MPat,
    },
    RemovePool {
        pat: MPat,
    },
    /// Turned into `RemovePool` of the `n`-th pool (modulo their number), as the
    /// allocator lists it.
    RemoveNthPool {
        n: usize,
    },
    /// Reserves (unlabelled) every free pooled point of a one-field space whose hash
    /// with `seed` falls under `percent`: many ranges at once.
    Scatter {
        seed: u64,
        percent: u8,
    },
}

/// The points `Op::Scatter` picks.
fn scattered(seed: u64, percent: u8, x: u128) -> bool {
    let mut z = seed ^ (x as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z % 100 < u64::from(percent)
}

#[derive(Clone, Debug, PartialEq)]
enum Out {
    Unit,
    Addr(Pt),
    Pref(Pt, usize),
    Block(Pt, Pt),
    Count(Count),
}

/// Results compared across fronts and with the model: errors by their message.
type Res = Result<Out, String>;

// ----- the two fronts ----------------------------------------------------------------

fn pt<A: Twin>(a: &A) -> Pt {
    (0..A::FIELDS.len()).map(|i| a.field(i)).collect()
}

fn pattern<A: Twin>(pat: &MPat) -> Pattern<A> {
    let mut p = Pattern::any();
    for (i, r) in pat.iter().enumerate() {
        if let Some((lo, hi)) = *r {
            p = if lo == hi {
                p.field(i, lo)
            } else {
                p.field(i, lo..=hi)
            };
        }
    }
    p
}

fn block<A: Twin>(ext: &[u128]) -> Block<A> {
    ext.iter()
        .enumerate()
        .fold(Block::single(), |b, (i, e)| b.extent(i, *e))
}

fn dyn_pattern(ty: &Arc<DynType>, pat: &MPat) -> DynPattern {
    pat.iter().enumerate().fold(ty.any(), |p, (i, r)| match *r {
        Some((lo, hi)) => p.with_range(i, lo, hi),
        None => p,
    })
}

/// A pattern as text (`a=1..=3, b=2`, `*`), when every range is valid for its field:
/// the dynamic front then parses it itself.
fn pattern_text(ty: &DynType, pat: &MPat) -> Option<String> {
    let mut parts = Vec::new();
    for (f, r) in ty.fields().iter().zip(pat) {
        match *r {
            None => {}
            Some((lo, hi)) if lo > hi || lo < f.min || hi > f.max => return None,
            Some((lo, hi)) if lo == hi => parts.push(format!("{}={lo}", f.name)),
            Some((lo, hi)) => parts.push(format!("{}={lo}..={hi}", f.name)),
        }
    }
    Some(if parts.is_empty() {
        "*".to_string()
    } else {
        parts.join(", ")
    })
}

/// A block shape as the dynamic front takes it: text.
fn block_text(ty: &DynType, ext: &[u128]) -> String {
    let parts: Vec<String> = ty
        .fields()
        .iter()
        .zip(ext)
        .map(|(f, e)| format!("{}={e}", f.name))
        .collect();
    parts.join(", ")
}

/// Runs `$body` with `$r` bound to the allocator itself (no options) or to a request
/// carrying the owner and the required tags (the same on both fronts).
macro_rules! with_req {
    ($a:expr, $req:expr, $r:ident => $body:expr) => {{
        let req: &Req = $req;
        match (req.owner, req.tags.is_empty()) {
            (None, true) => {
                let $r = $a;
                $body
            }
            (Some(o), true) => {
                let $r = $a.owned_by(o);
                $body
            }
            (None, false) => {
                let $r = $a.requiring(&req.tags);
                $body
            }
            (Some(o), false) => {
                let $r = $a.requiring(&req.tags).owned_by(o);
                $body
            }
        }
    }};
}

/// What the tests need of a front.
trait Front: Clone {
    fn apply(&mut self, op: &Op) -> Res;
    fn state(&self) -> Snapshot;
    /// `self.transaction(f)`.
    fn tx<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String>;
}

impl<A: Twin + FromStr> Front for Allocator<A>
where
    A::Err: std::fmt::Display,
{
    fn apply(&mut self, op: &Op) -> Res {
        run_typed(self, op).map_err(|e| e.to_string())
    }
    fn state(&self) -> Snapshot {
        self.snapshot()
    }
    fn tx<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.transaction(|t| f(t))
    }
}

impl Front for DynAllocator {
    fn apply(&mut self, op: &Op) -> Res {
        run_dyn(self, op).map_err(|e| e.to_string())
    }
    fn state(&self) -> Snapshot {
        self.snapshot()
    }
    fn tx<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.transaction(|t| f(t))
    }
}

fn run_typed<A: Twin>(a: &mut Allocator<A>, op: &Op) -> Result<Out, Error> {
    let x = |p: &Pt| A::from_fields(p);
    match op {
        Op::AddPool { pat, tags } => {
            if tags.is_empty() {
                a.add_pool(pattern::<A>(pat))
            } else {
                a.add_pool_tagged(pattern::<A>(pat), tags)
            }
        }
        .map(|()| Out::Unit),
        Op::Reserve { p, req } => {
            with_req!(a, req, r => r.reserve(x(p))).map(|x| Out::Addr(pt(&x)))
        }
        Op::ReserveFirst { pat, req } => {
            with_req!(a, req, r => r.reserve_first(pattern::<A>(pat))).map(|x| Out::Addr(pt(&x)))
        }
        Op::ReserveAny { req } => {
            with_req!(a, req, r => r.reserve_any()).map(|x| Out::Addr(pt(&x)))
        }
        Op::ReservePreferred { pats, req } => {
            let prefs: Vec<Pattern<A>> = pats.iter().map(pattern::<A>).collect();
            with_req!(a, req, r => r.reserve_preferred(&prefs)).map(|(x, i)| Out::Pref(pt(&x), i))
        }
        Op::ReserveBlock { pat, ext, req } => {
            with_req!(a, req, r => r.reserve_block(pattern::<A>(pat), block::<A>(ext)))
                .map(|b| Out::Block(pt(&b.first()), pt(&b.last())))
        }
        Op::ReserveRange { first, last, req } => {
            with_req!(a, req, r => r.reserve_range(x(first), x(last)))
                .map(|b| Out::Block(pt(&b.first()), pt(&b.last())))
        }
        Op::Release { p } => a.release(x(p)).map(|()| Out::Unit),
        Op::ReleaseBlock { first, last } => {
            let b = BlockRange::new(x(first), x(last)).expect("first <= last");
            a.release_block(&b).map(|()| Out::Unit)
        }
        Op::ReleaseRange { first, last } => a.release_range(x(first), x(last)).map(Out::Count),
        Op::ReleaseOwner { owner } => Ok(Out::Count(a.release_owner(owner))),
        Op::ReleaseNth { .. } | Op::RemoveNthPool { .. } => unreachable!("made concrete first"),
        Op::FreeCountIn { pat } => a.free_count_in(pattern::<A>(pat)).map(Out::Count),
        Op::RemovePool { pat } => a.remove_pool(pattern::<A>(pat)).map(|()| Out::Unit),
        Op::Scatter { seed, percent } => {
            let f = A::FIELDS[0];
            for v in f.min..=f.max {
                let addr = A::from_fields(&[v]);
                if scattered(*seed, *percent, v)
                    && !a.is_reserved(addr)
                    && a.pools().any(|(p, _)| p.matches(&addr))
                {
                    a.reserve(addr)?;
                }
            }
            Ok(Out::Unit)
        }
    }
}

fn run_dyn(a: &mut DynAllocator, op: &Op) -> Result<Out, Error> {
    let ty = a.ty().clone();
    // Field values are checked where the dynamic front turns them into an address.
    let x = |p: &Pt| ty.address(p);
    let v = |x: &addralloc_runtime::DynAddress| x.values().to_vec();
    match op {
        Op::AddPool { pat, tags } => {
            let p = dyn_pattern(&ty, pat);
            if tags.is_empty() {
                a.add_pool(p)
            } else {
                a.add_pool_tagged(p, tags)
            }
        }
        .map(|()| Out::Unit),
        Op::Reserve { p, req } => {
            let p = x(p)?;
            with_req!(a, req, r => r.reserve(&p)).map(|x| Out::Addr(v(&x)))
        }
        Op::ReserveFirst { pat, req } => match pattern_text(&ty, pat) {
            Some(text) => with_req!(a, req, r => r.reserve_first(&text)),
            None => with_req!(a, req, r => r.reserve_first(dyn_pattern(&ty, pat))),
        }
        .map(|x| Out::Addr(v(&x))),
        Op::ReserveAny { req } => with_req!(a, req, r => r.reserve_any()).map(|x| Out::Addr(v(&x))),
        Op::ReservePreferred { pats, req } => {
            let prefs: Vec<DynPattern> = pats.iter().map(|p| dyn_pattern(&ty, p)).collect();
            with_req!(a, req, r => r.reserve_preferred(&prefs)).map(|(x, i)| Out::Pref(v(&x), i))
        }
        Op::ReserveBlock { pat, ext, req } => {
            let text = block_text(&ty, ext);
            with_req!(a, req, r => r.reserve_block(dyn_pattern(&ty, pat), &text))
                .map(|b| Out::Block(v(b.first()), v(b.last())))
        }
        Op::ReserveRange { first, last, req } => {
            let (f, l) = (x(first)?, x(last)?);
            with_req!(a, req, r => r.reserve_range(&f, &l))
                .map(|b| Out::Block(v(b.first()), v(b.last())))
        }
        Op::Release { p } => a.release(&x(p)?).map(|()| Out::Unit),
        Op::ReleaseBlock { first, last } => {
            let b = DynBlockRange::new(x(first)?, x(last)?).expect("first <= last");
            a.release_block(&b).map(|()| Out::Unit)
        }
        Op::ReleaseRange { first, last } => {
            let (f, l) = (x(first)?, x(last)?);
            a.release_range(&f, &l).map(Out::Count)
        }
        Op::ReleaseOwner { owner } => Ok(Out::Count(a.release_owner(owner))),
        Op::ReleaseNth { .. } | Op::RemoveNthPool { .. } => unreachable!("made concrete first"),
        Op::RemovePool { pat } => match pattern_text(&ty, pat) {
            Some(text) => a.remove_pool(&text),
            None => a.remove_pool(dyn_pattern(&ty, pat)),
        }
        .map(|()| Out::Unit),
        Op::FreeCountIn { pat } => match pattern_text(&ty, pat) {
            Some(text) => a.free_count_in(&text),
            None => a.free_count_in(dyn_pattern(&ty, pat)),
        }
        .map(Out::Count),
        Op::Scatter { seed, percent } => {
            let f = &ty.fields()[0];
            for val in f.min..=f.max {
                let addr = ty.address(&[val])?;
                if scattered(*seed, *percent, val)
                    && !a.is_reserved(&addr)
                    && a.pools().any(|(p, _)| p.matches(&addr))
                {
                    a.reserve(&addr)?;
                }
            }
            Ok(Out::Unit)
        }
    }
}

// ----- the model -----------------------------------------------------------------------

struct MPool {
    bx: BoxR,
    tags: Vec<String>,
}

/// One reservation: what one reserve call took (or one remaining run of a cut one).
#[derive(Clone, Debug)]
struct Resv {
    pts: BTreeSet<Pt>,
    owner: Option<String>,
}

/// A next-fit search key: the pattern's box (`None` for `*`) and the required tags.
type Key = (Option<BoxR>, BTreeSet<String>);

struct Model<A> {
    policy: Policy,
    /// Every point the pools may hold, in address order.
    universe: Vec<Pt>,
    /// Sorted by first point; disjoint.
    pools: Vec<MPool>,
    /// Tag registry, in order of first use.
    tags: Vec<String>,
    res: BTreeMap<u64, Resv>,
    /// The reservation holding each reserved point.
    at: BTreeMap<Pt, u64>,
    next_id: u64,
    /// Next-fit: per key, the index the next search starts at (absent: 0).
    cursors: BTreeMap<Key, u128>,
    _a: PhantomData<fn() -> A>,
}

fn in_box(p: &[u128], bx: &[(u128, u128)]) -> bool {
    p.iter().zip(bx).all(|(v, (lo, hi))| lo <= v && v <= hi)
}

fn meets(a: &[(u128, u128)], b: &[(u128, u128)]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.0.max(y.0) <= x.1.min(y.1))
}

fn intersect(a: &[(u128, u128)], b: &[(u128, u128)]) -> Option<BoxR> {
    meets(a, b).then(|| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x.0.max(y.0), x.1.min(y.1)))
            .collect()
    })
}

fn describe(what: String, tags: &[&str]) -> String {
    if tags.is_empty() {
        what
    } else {
        let t: Vec<String> = tags.iter().map(|t| format!("`{t}`")).collect();
        format!("{what} in pools tagged {}", t.join(", "))
    }
}

fn corners(first: &Pt, last: &Pt) -> BoxR {
    first.iter().copied().zip(last.iter().copied()).collect()
}

impl<A: Twin> Model<A> {
    fn new(policy: Policy, windows: &[Vec<(u128, u128)>]) -> Self {
        let mut universe: Vec<Pt> = vec![vec![]];
        for ws in windows {
            let mut next = Vec::new();
            for p in &universe {
                for &(lo, hi) in ws {
                    for v in lo..=hi {
                        let mut q = p.clone();
                        q.push(v);
                        next.push(q);
                    }
                }
            }
            universe = next;
        }
        universe.sort();
        Model {
            policy,
            universe,
            pools: Vec::new(),
            tags: Vec::new(),
            res: BTreeMap::new(),
            at: BTreeMap::new(),
            next_id: 0,
            cursors: BTreeMap::new(),
            _a: PhantomData,
        }
    }

    fn bits(i: usize) -> u32 {
        let f = A::FIELDS[i];
        128 - (f.max - f.min).leading_zeros()
    }

    /// Each field takes `bit_length(max - min)` bits, the first most significant.
    fn index(p: &[u128]) -> u128 {
        let mut idx = 0u128;
        for (i, v) in p.iter().enumerate() {
            let b = Self::bits(i);
            if b > 0 {
                idx = idx.checked_shl(b).unwrap_or(0) | (v - A::FIELDS[i].min);
            }
        }
        idx
    }

    fn max_index() -> u128 {
        let total: u32 = (0..A::FIELDS.len()).map(Self::bits).sum();
        if total == 128 {
            u128::MAX
        } else {
            (1u128 << total) - 1
        }
    }

    fn name(p: &[u128]) -> String {
        A::from_fields(p).to_string()
    }

    fn display(pat: &MPat) -> String {
        let mut parts = Vec::new();
        for (f, r) in A::FIELDS.iter().zip(pat) {
            match *r {
                None => {}
                Some((lo, hi)) if lo == hi => parts.push(format!("{}={lo}", f.name)),
                Some((lo, hi)) => parts.push(format!("{}={lo}..={hi}", f.name)),
            }
        }
        if parts.is_empty() {
            "*".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// A pool's box as the allocator shows it: full fields unconstrained.
    fn canon(bx: &[(u128, u128)]) -> MPat {
        A::FIELDS
            .iter()
            .zip(bx)
            .map(|(f, &(lo, hi))| (!(lo == f.min && hi == f.max)).then_some((lo, hi)))
            .collect()
    }

    fn check_point(p: &[u128]) -> Result<(), Error> {
        for (f, &v) in A::FIELDS.iter().zip(p) {
            if v < f.min || v > f.max {
                return Err(Error::OutOfRange {
                    field: f.name.to_string(),
                    value: v,
                    min: f.min,
                    max: f.max,
                });
            }
        }
        Ok(())
    }

    /// The box with corners `first` and `last`, both checked.
    /// The runtime refuses a box of more than `MAX_RUNS` separate runs: trailing
    /// fields covered whole (and without index holes) join the runs of the field before.
    fn check_runs(bx: &[(u128, u128)], what: impl FnOnce() -> String) -> Result<(), Error> {
        let f = A::FIELDS;
        let mut k = f.len();
        while k > 0 {
            let (lo, hi) = bx[k - 1];
            let values = (f[k - 1].max - f[k - 1].min).checked_add(1);
            let no_holes = values.is_none_or(u128::is_power_of_two);
            if !(lo == f[k - 1].min && hi == f[k - 1].max && no_holes) {
                break;
            }
            k -= 1;
        }
        let runs = bx[..k.saturating_sub(1)]
            .iter()
            .fold(1u128, |n, (lo, hi)| n.saturating_mul(hi - lo + 1));
        if runs > addralloc_runtime::MAX_RUNS {
            return Err(Error::TooManyRuns {
                what: what(),
                runs,
                limit: addralloc_runtime::MAX_RUNS,
            });
        }
        Ok(())
    }

    fn spanned(first: &Pt, last: &Pt) -> Result<BoxR, Error> {
        Self::check_point(first)?;
        Self::check_point(last)?;
        if first.iter().zip(last).any(|(a, b)| a > b) {
            return Err(Error::BadPattern {
                pattern: format!("{}..={}", Self::name(first), Self::name(last)),
                reason: "the first address must not exceed the last on any field".to_string(),
            });
        }
        Ok(corners(first, last))
    }

    /// Out-of-range values first (the lowest field), then empty ranges: the order the
    /// runtime checks in.
    fn resolve(pat: &MPat) -> Result<BoxR, Error> {
        for (f, r) in A::FIELDS.iter().zip(pat) {
            if let Some((lo, hi)) = *r {
                for v in [lo, hi] {
                    if v < f.min || v > f.max {
                        return Err(Error::OutOfRange {
                            field: f.name.to_string(),
                            value: v,
                            min: f.min,
                            max: f.max,
                        });
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (f, r) in A::FIELDS.iter().zip(pat) {
            match *r {
                None => out.push((f.min, f.max)),
                Some((lo, hi)) => {
                    if lo > hi {
                        return Err(Error::BadPattern {
                            pattern: Self::display(pat),
                            reason: format!(
                                "the range of field `{}` is empty: it starts after it ends",
                                f.name
                            ),
                        });
                    }
                    out.push((lo, hi));
                }
            }
        }
        Ok(out)
    }

    /// Resolves a pattern, `None` for the unconstrained one (`*`).
    fn resolve_opt(pat: &MPat) -> Result<Option<BoxR>, Error> {
        if pat.iter().all(Option::is_none) {
            Ok(None)
        } else {
            Self::resolve(pat).map(Some)
        }
    }

    fn tag_check(&self, tags: &[&str]) -> Result<(), Error> {
        for t in tags {
            if !self.tags.iter().any(|x| x == t) {
                return Err(Error::UnknownTag { tag: t.to_string() });
            }
        }
        Ok(())
    }

    fn eligible<'a>(&'a self, tags: &'a [&'a str]) -> impl Iterator<Item = &'a MPool> + 'a {
        self.pools
            .iter()
            .filter(move |p| tags.iter().all(|t| p.tags.iter().any(|x| x == t)))
    }

    fn in_pool(&self, p: &[u128]) -> bool {
        self.pools.iter().any(|q| in_box(p, &q.bx))
    }

    fn is_free(&self, p: &[u128]) -> bool {
        !self.at.contains_key(p)
    }

    fn owner_at(&self, p: &[u128]) -> Option<String> {
        self.at.get(p).and_then(|id| self.res[id].owner.clone())
    }

    /// First and last address and owner of the reservation holding `p`.
    fn reservation(&self, p: &[u128]) -> Option<(Pt, Pt, Option<String>)> {
        let r = &self.res[self.at.get(p)?];
        let first = r.pts.first()?.clone();
        let last = r.pts.last()?.clone();
        Some((first, last, r.owner.clone()))
    }

    fn reservation_text(first: &Pt, last: &Pt) -> String {
        if first == last {
            Self::name(first)
        } else {
            format!("{}..={}", Self::name(first), Self::name(last))
        }
    }

    /// Why `p`, which is free, cannot be released.
    fn not_reserved(&self, p: &[u128]) -> Error {
        if self.in_pool(p) {
            Error::NotReserved {
                address: Self::name(p),
            }
        } else {
            Error::OutsidePools {
                address: Self::name(p),
                tags: vec![],
            }
        }
    }

    fn key(bx: Option<&BoxR>, tags: &[&str]) -> Key {
        (bx.cloned(), tags.iter().map(|t| t.to_string()).collect())
    }

    /// Picks from sorted candidates by policy, next-fit resuming at `key`'s cursor.
    fn pick(&self, key: &Key, cands: &[Pt]) -> Option<Pt> {
        match self.policy {
            Policy::LowestFirst => cands.first().cloned(),
            Policy::HighestFirst => cands.last().cloned(),
            Policy::NextFit => {
                let cursor = self.cursors.get(key).copied().unwrap_or(0);
                cands
                    .iter()
                    .find(|p| Self::index(p) >= cursor)
                    .or(cands.first())
                    .cloned()
            }
        }
    }

    fn choose(&self, bx: Option<&BoxR>, tags: &[&str]) -> Option<Pt> {
        let cands: Vec<Pt> = self
            .universe
            .iter()
            .filter(|p| self.is_free(p))
            .filter(|p| bx.is_none_or(|b| in_box(p, b)))
            .filter(|p| self.eligible(tags).any(|q| in_box(p, &q.bx)))
            .cloned()
            .collect();
        self.pick(&Self::key(bx, tags), &cands)
    }

    /// Next-fit: `key`'s next search starts after `last`.
    fn advance(&mut self, key: Key, last: &[u128]) {
        if self.policy != Policy::NextFit {
            return;
        }
        let i = Self::index(last);
        let next = if i >= Self::max_index() { 0 } else { i + 1 };
        self.cursors.insert(key, next);
    }

    /// Records a new reservation of `pts`, all free.
    fn take(&mut self, pts: impl IntoIterator<Item = Pt>, owner: Option<&str>) {
        let id = self.next_id;
        self.next_id += 1;
        let pts: BTreeSet<Pt> = pts.into_iter().collect();
        assert!(!pts.is_empty());
        for p in &pts {
            assert!(self.at.insert(p.clone(), id).is_none());
        }
        self.res.insert(
            id,
            Resv {
                pts,
                owner: owner.map(String::from),
            },
        );
    }

    /// Drops reservation `id` whole; its size.
    fn drop_res(&mut self, id: u64) -> usize {
        let r = self.res.remove(&id).expect("a reservation");
        for p in &r.pts {
            self.at.remove(p);
        }
        r.pts.len()
    }

    fn box_points(&self, bx: &[(u128, u128)]) -> Vec<Pt> {
        // Every point of the box lies between its corners in address order.
        let lo: Pt = bx.iter().map(|r| r.0).collect();
        let hi: Pt = bx.iter().map(|r| r.1).collect();
        let a = self.universe.partition_point(|p| *p < lo);
        let b = self.universe.partition_point(|p| *p <= hi);
        self.universe[a..b.max(a)]
            .iter()
            .filter(|p| in_box(p, bx))
            .cloned()
            .collect()
    }

    /// Makes `ReleaseNth` concrete; other operations stay as they are.
    fn concrete(&self, op: &Op) -> Op {
        if let Op::RemoveNthPool { n } = op {
            let pat = match self.pools.get(n % self.pools.len().max(1)) {
                Some(q) => Self::canon(&q.bx),
                None => vec![None; A::FIELDS.len()],
            };
            return Op::RemovePool { pat };
        }
        let Op::ReleaseNth { n, how } = op else {
            return op.clone();
        };
        let Some(r) = self.res.values().nth(n % self.res.len().max(1)) else {
            // Nothing reserved: release something anyway.
            return Op::Release {
                p: self.universe[n % self.universe.len()].clone(),
            };
        };
        let first = r.pts.first().cloned().unwrap_or_default();
        let last = r.pts.last().cloned().unwrap_or_default();
        let ordered = first.iter().zip(&last).all(|(a, b)| a <= b);
        match (how % 4, ordered) {
            (0, true) => Op::ReleaseBlock { first, last },
            (1, _) | (0, false) => Op::Release { p: first },
            (2, _) => Op::ReleaseRange {
                first: first.clone(),
                last: first,
            },
            _ => Op::ReleaseRange { first, last },
        }
    }

    fn apply(&mut self, op: &Op) -> Result<Out, Error> {
        match op {
            Op::AddPool { pat, tags } => {
                let bx = Self::resolve(pat)?;
                if let Some(e) = self.pools.iter().find(|q| meets(&q.bx, &bx)) {
                    return Err(Error::PoolOverlap {
                        pool: Self::display(pat),
                        existing: Self::display(&Self::canon(&e.bx)),
                    });
                }
                let mut own = Vec::new();
                for t in tags {
                    if !self.tags.iter().any(|x| x == t) {
                        self.tags.push(t.to_string());
                    }
                    if !own.contains(&t.to_string()) {
                        own.push(t.to_string());
                    }
                }
                let first: Pt = bx.iter().map(|r| r.0).collect();
                let at = self
                    .pools
                    .partition_point(|q| q.bx.iter().map(|r| r.0).collect::<Pt>() < first);
                self.pools.insert(at, MPool { bx, tags: own });
                Ok(Out::Unit)
            }
            Op::Reserve { p, req } => {
                Self::check_point(p)?;
                self.tag_check(&req.tags)?;
                if !self.eligible(&req.tags).any(|q| in_box(p, &q.bx)) {
                    return Err(Error::OutsidePools {
                        address: Self::name(p),
                        tags: req.tags.iter().map(|t| t.to_string()).collect(),
                    });
                }
                if !self.is_free(p) {
                    return Err(Error::AlreadyReserved {
                        address: Self::name(p),
                        owner: self.owner_at(p),
                    });
                }
                self.take([p.clone()], req.owner);
                Ok(Out::Addr(p.clone()))
            }
            Op::ReserveFirst { pat, req } => self.reserve_first(pat, req),
            Op::ReserveAny { req } => self.reserve_first(&vec![None; A::FIELDS.len()], req),
            Op::ReservePreferred { pats, req } => {
                let boxes = pats
                    .iter()
                    .map(Self::resolve_opt)
                    .collect::<Result<Vec<_>, _>>()?;
                self.tag_check(&req.tags)?;
                for (i, b) in boxes.iter().enumerate() {
                    if let Some(p) = self.choose(b.as_ref(), &req.tags) {
                        self.take([p.clone()], req.owner);
                        self.advance(Self::key(b.as_ref(), &req.tags), &p);
                        return Ok(Out::Pref(p, i));
                    }
                }
                let list: Vec<String> = pats
                    .iter()
                    .map(|p| format!("`{}`", Self::display(p)))
                    .collect();
                let what = if list.is_empty() {
                    "address: the preference list is empty".to_string()
                } else {
                    format!("address in any of {}", list.join(", "))
                };
                Err(Error::Exhausted {
                    request: describe(what, &req.tags),
                })
            }
            Op::ReserveBlock { pat, ext, req } => self.reserve_block(pat, ext, req),
            Op::ReserveRange { first, last, req } => {
                let bx = Self::spanned(first, last)?;
                Self::check_runs(&bx, || {
                    format!("range `{}..={}`", Self::name(first), Self::name(last))
                })?;
                self.tag_check(&req.tags)?;
                let inside = self
                    .eligible(&req.tags)
                    .any(|q| q.bx.iter().zip(&bx).all(|(p, b)| p.0 <= b.0 && b.1 <= p.1));
                if !inside {
                    return Err(Error::OutsidePools {
                        address: Self::name(first),
                        tags: req.tags.iter().map(|t| t.to_string()).collect(),
                    });
                }
                let pts = self.box_points(&bx);
                if let Some(p) = pts.iter().find(|p| !self.is_free(p)) {
                    return Err(Error::AlreadyReserved {
                        address: Self::name(p),
                        owner: self.owner_at(p),
                    });
                }
                self.take(pts, req.owner);
                Ok(Out::Block(first.clone(), last.clone()))
            }
            Op::Release { p } => {
                Self::check_point(p)?;
                let Some(&id) = self.at.get(p) else {
                    return Err(self.not_reserved(p));
                };
                if self.res[&id].pts.len() > 1 {
                    let (f, l, owner) = self.reservation(p).expect("reserved");
                    return Err(Error::NotWhole {
                        request: None,
                        address: Self::name(p),
                        reservation: Self::reservation_text(&f, &l),
                        owner,
                    });
                }
                self.drop_res(id);
                Ok(Out::Unit)
            }
            Op::ReleaseBlock { first, last } => {
                let bx = Self::spanned(first, last)?;
                if first == last {
                    return self.apply(&Op::Release { p: first.clone() });
                }
                let Some(&id) = self.at.get(first) else {
                    return Err(self.not_reserved(first));
                };
                let pts: BTreeSet<Pt> = self.box_points(&bx).into_iter().collect();
                if self.res[&id].pts != pts {
                    let (f, l, owner) = self.reservation(first).expect("reserved");
                    return Err(Error::NotWhole {
                        request: Some(format!("{}..={}", Self::name(first), Self::name(last))),
                        address: Self::name(first),
                        reservation: Self::reservation_text(&f, &l),
                        owner,
                    });
                }
                self.drop_res(id);
                Ok(Out::Unit)
            }
            Op::ReleaseRange { first, last } => {
                let bx = Self::spanned(first, last)?;
                Self::check_runs(&bx, || {
                    format!("range `{}..={}`", Self::name(first), Self::name(last))
                })?;
                let pts = self.box_points(&bx);
                if let Some(p) = pts.iter().find(|p| self.is_free(p)) {
                    return Err(self.not_reserved(p));
                }
                let mut cut: BTreeSet<u64> = BTreeSet::new();
                for p in &pts {
                    let id = self.at.remove(p).expect("reserved");
                    self.res.get_mut(&id).expect("a reservation").pts.remove(p);
                    cut.insert(id);
                }
                for id in cut {
                    let r = self.res.remove(&id).expect("a reservation");
                    for p in &r.pts {
                        self.at.remove(p);
                    }
                    // Each remaining run is a reservation of its own, same owner.
                    for (s, e) in Self::runs(r.pts.iter().cloned()) {
                        let run: Vec<Pt> = r.pts.range(s..=e).cloned().collect();
                        self.take(run, r.owner.as_deref());
                    }
                }
                Ok(Out::Count(Count::from(pts.len() as u128)))
            }
            Op::ReleaseOwner { owner } => {
                let ids: Vec<u64> = self
                    .res
                    .iter()
                    .filter(|(_, r)| r.owner.as_deref() == Some(*owner))
                    .map(|(id, _)| *id)
                    .collect();
                let n: usize = ids.into_iter().map(|id| self.drop_res(id)).sum();
                Ok(Out::Count(Count::from(n as u128)))
            }
            Op::ReleaseNth { .. } | Op::RemoveNthPool { .. } => {
                let op = self.concrete(op);
                self.apply(&op)
            }
            Op::RemovePool { pat } => {
                let bx = Self::resolve(pat)?;
                let Some(at) = self.pools.iter().position(|q| q.bx == bx) else {
                    return Err(Error::NoSuchPool {
                        pool: Self::display(pat),
                    });
                };
                if let Some(p) = self.box_points(&bx).into_iter().find(|p| !self.is_free(p)) {
                    return Err(Error::PoolInUse {
                        pool: Self::display(pat),
                        address: Self::name(&p),
                        owner: self.owner_at(&p),
                    });
                }
                // The tag registry keeps the pool's tags.
                self.pools.remove(at);
                Ok(Out::Unit)
            }
            Op::FreeCountIn { pat } => {
                let bx = Self::resolve_opt(pat)?;
                let n = self
                    .universe
                    .iter()
                    .filter(|p| self.is_free(p))
                    .filter(|p| bx.as_deref().is_none_or(|b| in_box(p, b)))
                    .filter(|p| self.in_pool(p))
                    .count();
                Ok(Out::Count(Count::from(n as u128)))
            }
            Op::Scatter { seed, percent } => {
                let pick: Vec<Pt> = self
                    .universe
                    .iter()
                    .filter(|p| scattered(*seed, *percent, p[0]) && self.is_free(p))
                    .filter(|p| self.in_pool(p))
                    .cloned()
                    .collect();
                for p in pick {
                    self.take([p], None);
                }
                Ok(Out::Unit)
            }
        }
    }

    fn reserve_first(&mut self, pat: &MPat, req: &Req) -> Result<Out, Error> {
        let bx = Self::resolve_opt(pat)?;
        self.tag_check(&req.tags)?;
        match self.choose(bx.as_ref(), &req.tags) {
            Some(p) => {
                self.take([p.clone()], req.owner);
                self.advance(Self::key(bx.as_ref(), &req.tags), &p);
                Ok(Out::Addr(p))
            }
            None => Err(Error::Exhausted {
                request: describe(format!("address in `{}`", Self::display(pat)), &req.tags),
            }),
        }
    }

    fn reserve_block(&mut self, pat: &MPat, ext: &[u128], req: &Req) -> Result<Out, Error> {
        let bx = Self::resolve_opt(pat)?;
        for (f, &e) in A::FIELDS.iter().zip(ext) {
            let values = (f.max - f.min).checked_add(1);
            let reason = if e == 0 {
                Some("an extent is at least 1".to_string())
            } else {
                values
                    .filter(|n| e > *n)
                    .map(|n| format!("the field has only {n} values ({}..={})", f.min, f.max))
            };
            if let Some(reason) = reason {
                return Err(Error::BadBlock {
                    field: f.name.to_string(),
                    extent: e,
                    reason,
                });
            }
        }
        let shape_box: BoxR = A::FIELDS
            .iter()
            .zip(ext)
            .map(|(f, e)| (f.min, f.min + (e - 1)))
            .collect();
        Self::check_runs(&shape_box, || {
            let parts: Vec<String> = A::FIELDS
                .iter()
                .zip(ext)
                .filter(|(_, e)| **e != 1)
                .map(|(f, e)| format!("{}={e}", f.name))
                .collect();
            let shape = if parts.is_empty() {
                "1".to_string()
            } else {
                parts.join(", ")
            };
            format!("block `{shape}`")
        })?;
        self.tag_check(&req.tags)?;
        let mut starts: Vec<Pt> = Vec::new();
        for pool in self.eligible(&req.tags) {
            let clip = match &bx {
                None => Some(pool.bx.clone()),
                Some(b) => intersect(&pool.bx, b),
            };
            let Some(clip) = clip else { continue };
            for s in &self.universe {
                let aligned = s.iter().zip(ext).zip(&clip).all(|((v, e), (lo, hi))| {
                    lo <= v && v % e == 0 && v.checked_add(e - 1).is_some_and(|end| end <= *hi)
                });
                if !aligned {
                    continue;
                }
                let bb: BoxR = s.iter().zip(ext).map(|(v, e)| (*v, v + (e - 1))).collect();
                if self.box_points(&bb).iter().all(|q| self.is_free(q)) {
                    starts.push(s.clone());
                }
            }
        }
        starts.sort();
        let key = Self::key(bx.as_ref(), &req.tags);
        match self.pick(&key, &starts) {
            Some(s) => {
                let last: Pt = s.iter().zip(ext).map(|(v, e)| v + (e - 1)).collect();
                let pts = self.box_points(&corners(&s, &last));
                self.take(pts, req.owner);
                self.advance(key, &last);
                Ok(Out::Block(s, last))
            }
            None => {
                let parts: Vec<String> = A::FIELDS
                    .iter()
                    .zip(ext)
                    .filter(|(_, e)| **e != 1)
                    .map(|(f, e)| format!("{}={e}", f.name))
                    .collect();
                let shape = if parts.is_empty() {
                    "1".to_string()
                } else {
                    parts.join(", ")
                };
                Err(Error::Exhausted {
                    request: describe(
                        format!("block of `{shape}` in `{}`", Self::display(pat)),
                        &req.tags,
                    ),
                })
            }
        }
    }

    /// Maximal runs of consecutive indices among sorted points.
    fn runs(pts: impl IntoIterator<Item = Pt>) -> Vec<(Pt, Pt)> {
        let mut out: Vec<(Pt, Pt)> = Vec::new();
        for p in pts {
            match out.last_mut() {
                Some((_, e)) if Self::index(e) + 1 == Self::index(&p) => *e = p,
                _ => out.push((p.clone(), p)),
            }
        }
        out
    }

    fn capacity(&self) -> usize {
        self.universe.iter().filter(|p| self.in_pool(p)).count()
    }
}

// ----- observing ---------------------------------------------------------------------

/// One address: is_reserved, owner_of and reservation (first, last, owner).
type PointView = (Pt, bool, Option<String>, Option<(Pt, Pt, Option<String>)>);

/// What a user can observe of an allocator (with addresses as field values), sampled
/// at `probe` points.
#[derive(Debug, PartialEq)]
struct View {
    policy: Policy,
    reserved: Vec<(Pt, Pt)>,
    owners: Vec<(Pt, Pt, String)>,
    /// Per probe point: is_reserved, owner_of, reservation.
    points: Vec<PointView>,
    free: Vec<(Pt, Pt)>,
    capacity: Count,
    reserved_count: Count,
    free_count: Count,
    free_in_any: Result<Count, String>,
    pools: Vec<(MPat, Vec<String>)>,
    /// The next automatic choice (`reserve_any`, on a clone).
    next: Result<Pt, String>,
}

/// Pool tags in a view are compared as sets.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn probe(universe: &[Pt]) -> Vec<Pt> {
    let stride = if universe.len() > 2000 { 13 } else { 1 };
    universe.iter().step_by(stride).cloned().collect()
}

fn view_typed<A: Twin>(a: &Allocator<A>, probe: &[Pt]) -> View {
    let n = A::FIELDS.len();
    View {
        policy: a.policy(),
        reserved: a.reserved().map(|(s, e)| (pt(&s), pt(&e))).collect(),
        owners: a
            .owners()
            .map(|(s, e, o)| (pt(&s), pt(&e), o.to_string()))
            .collect(),
        points: probe
            .iter()
            .map(|p| {
                let x = A::from_fields(p);
                (
                    p.clone(),
                    a.is_reserved(x),
                    a.owner_of(x).map(String::from),
                    a.reservation(x)
                        .map(|(f, l, o)| (pt(&f), pt(&l), o.map(String::from))),
                )
            })
            .collect(),
        free: a.free_ranges().map(|(s, e)| (pt(&s), pt(&e))).collect(),
        capacity: a.capacity(),
        reserved_count: a.reserved_count(),
        free_count: a.free_count(),
        free_in_any: a.free_count_in(Pattern::any()).map_err(|e| e.to_string()),
        pools: a
            .pools()
            .map(|(p, t)| {
                (
                    (0..n)
                        .map(|i| p.range(i).map(|r| (*r.start(), *r.end())))
                        .collect(),
                    sorted(t.iter().map(|t| t.to_string()).collect()),
                )
            })
            .collect(),
        next: a
            .clone()
            .reserve_any()
            .map(|x| pt(&x))
            .map_err(|e| e.to_string()),
    }
}

/// The dynamic front's view; addresses given to it as text in the type's format.
fn view_dyn(a: &DynAllocator, probe: &[Pt]) -> View {
    let ty = a.ty().clone();
    let n = ty.fields().len();
    let v = |x: &addralloc_runtime::DynAddress| x.values().to_vec();
    View {
        policy: a.policy(),
        reserved: a.reserved().map(|(s, e)| (v(&s), v(&e))).collect(),
        owners: a
            .owners()
            .map(|(s, e, o)| (v(&s), v(&e), o.to_string()))
            .collect(),
        points: probe
            .iter()
            .map(|p| {
                let text = ty.format_values(p);
                let x = text.as_str();
                (
                    p.clone(),
                    a.is_reserved(x),
                    a.owner_of(x).map(String::from),
                    a.reservation(x)
                        .map(|(f, l, o)| (v(&f), v(&l), o.map(String::from))),
                )
            })
            .collect(),
        free: a.free_ranges().map(|(s, e)| (v(&s), v(&e))).collect(),
        capacity: a.capacity(),
        reserved_count: a.reserved_count(),
        free_count: a.free_count(),
        free_in_any: a.free_count_in("*").map_err(|e| e.to_string()),
        pools: a
            .pools()
            .map(|(p, t)| {
                (
                    (0..n)
                        .map(|i| p.range(i).map(|r| (*r.start(), *r.end())))
                        .collect(),
                    sorted(t.iter().map(|t| t.to_string()).collect()),
                )
            })
            .collect(),
        next: a
            .clone()
            .reserve_any()
            .map(|x| v(&x))
            .map_err(|e| e.to_string()),
    }
}

fn view_model<A: Twin>(m: &Model<A>, probe: &[Pt]) -> View {
    let mut owners: Vec<(Pt, Pt, String)> = Vec::new();
    for r in m.res.values() {
        if let Some(o) = &r.owner {
            for (s, e) in Model::<A>::runs(r.pts.iter().cloned()) {
                owners.push((s, e, o.clone()));
            }
        }
    }
    owners.sort();
    let mut free = Vec::new();
    for q in &m.pools {
        free.extend(Model::<A>::runs(
            m.universe
                .iter()
                .filter(|p| in_box(p, &q.bx) && m.is_free(p))
                .cloned(),
        ));
    }
    let cap = m.capacity() as u128;
    let res = m.at.len() as u128;
    View {
        policy: m.policy,
        reserved: Model::<A>::runs(m.at.keys().cloned()),
        owners,
        points: probe
            .iter()
            .map(|p| (p.clone(), !m.is_free(p), m.owner_at(p), m.reservation(p)))
            .collect(),
        free,
        capacity: Count::from(cap),
        reserved_count: Count::from(res),
        free_count: Count::from(cap - res),
        free_in_any: Ok(Count::from(cap - res)),
        pools: m
            .pools
            .iter()
            .map(|q| (Model::<A>::canon(&q.bx), sorted(q.tags.clone())))
            .collect(),
        next: m
            .choose(None, &[])
            .ok_or_else(|| "no free address in `*`".to_string()),
    }
}

/// Runs `ops` on both fronts and the model, comparing after every step; every few
/// steps each front is replaced by a restore of the OTHER front's snapshot.
fn run<A: Twin + FromStr + Debug>(
    policy: Policy,
    windows: &[Vec<(u128, u128)>],
    ops: &[Op],
) -> Result<(), TestCaseError>
where
    A::Err: std::fmt::Display,
{
    let ty = twin::<A>();
    let mut t = Allocator::<A>::with_policy(policy);
    let mut d = DynAllocator::new(ty.clone(), policy);
    let mut m = Model::<A>::new(policy, windows);
    let probe = probe(&m.universe);
    for (step, op) in ops.iter().enumerate() {
        if step % 5 == 4 {
            let (ts, ds) = (t.snapshot(), d.snapshot());
            t = Allocator::<A>::restore(&ds)
                .map_err(|e| TestCaseError::fail(format!("step {step}: typed restore: {e}")))?;
            d = DynAllocator::restore(ty.clone(), &ts)
                .map_err(|e| TestCaseError::fail(format!("step {step}: dyn restore: {e}")))?;
            prop_assert_eq!(t.snapshot(), ds, "step {}: typed restore round trip", step);
            prop_assert_eq!(d.snapshot(), ts, "step {}: dyn restore round trip", step);
        }
        let op = &m.concrete(op);
        let (tb, db) = (t.snapshot(), d.snapshot());
        let got_t = t.apply(op);
        let got_d = d.apply(op);
        let want = m.apply(op).map_err(|e| e.to_string());
        prop_assert_eq!(&got_t, &want, "step {}: {:?} (typed vs model)", step, op);
        prop_assert_eq!(&got_d, &got_t, "step {}: {:?} (dyn vs typed)", step, op);
        if got_t.is_err() {
            prop_assert_eq!(t.snapshot(), tb, "step {}: failed call changed typed", step);
        }
        if got_d.is_err() {
            prop_assert_eq!(d.snapshot(), db, "step {}: failed call changed dyn", step);
        }
        let vt = view_typed(&t, &probe);
        let want = view_model(&m, &probe);
        prop_assert_eq!(&vt, &want, "after step {} {:?}: typed vs model", step, op);
        let vd = view_dyn(&d, &probe);
        prop_assert_eq!(&vd, &vt, "after step {} {:?}: dyn vs typed", step, op);
        prop_assert_eq!(d.snapshot(), t.snapshot(), "after step {}: snapshots", step);
    }
    Ok(())
}

// ----- strategies ----------------------------------------------------------------------

/// What the strategies draw from, per field.
#[derive(Clone)]
struct Spec {
    /// Values for points and patterns (in range, and out of range where representable).
    vals: Vec<Vec<u128>>,
    /// Windows of in-range values; pools and block ranges stay inside one per field.
    windows: Vec<Vec<(u128, u128)>>,
    /// Extents to try.
    exts: Vec<Vec<u128>>,
    /// Whether the windows cover whole fields (pools may be unconstrained).
    whole: bool,
}

impl Spec {
    /// A small space: every value, one past each end, extents 0 to one past the size.
    fn small<A: Address>() -> Spec {
        let mut s = Spec {
            vals: vec![],
            windows: vec![],
            exts: vec![],
            whole: true,
        };
        for f in A::FIELDS {
            s.vals.push((f.min.saturating_sub(1)..=f.max + 1).collect());
            s.windows.push(vec![(f.min, f.max)]);
            let n = f.max - f.min + 1;
            let mut e = vec![0, 1, 1, 1, 1, 2, 2, 3, 4, n, n + 1];
            e.retain(|x| *x <= n + 1);
            s.exts.push(e);
        }
        s
    }

    /// A wide space modelled on windows of `w` values at each end of every field.
    fn wide<A: Address>(w: u128, exts: Vec<u128>) -> Spec {
        let mut s = Spec {
            vals: vec![],
            windows: vec![],
            exts: vec![],
            whole: false,
        };
        for f in A::FIELDS {
            let lo = (f.min, f.min + w - 1);
            let hi = (f.max - (w - 1), f.max);
            s.windows.push(vec![lo, hi]);
            // Window values plus one in-range value past each window.
            let mut v: Vec<u128> = (lo.0..=lo.1 + 1).chain(hi.0 - 1..=hi.1).collect();
            if f.min > 0 {
                v.push(f.min - 1);
            }
            v.sort();
            v.dedup();
            s.vals.push(v);
            s.exts.push(exts.clone());
        }
        s
    }
}

fn field_pat(vals: Vec<u128>) -> BoxedStrategy<Option<(u128, u128)>> {
    let v = select(vals);
    prop_oneof![
        3 => Just(None),
        2 => v.clone().prop_map(|x| Some((x, x))),
        4 => (v.clone(), v.clone()).prop_map(|(a, b)| Some((a.min(b), a.max(b)))),
        1 => (v.clone(), v).prop_map(Some),
    ]
    .boxed()
}

fn any_pat(spec: &Spec) -> BoxedStrategy<MPat> {
    spec.vals
        .iter()
        .map(|v| field_pat(v.clone()))
        .collect::<Vec<_>>()
        .boxed()
}

/// `(lo, hi)` inside one window of field `i`.
fn window_range(spec: &Spec, i: usize) -> BoxedStrategy<(u128, u128)> {
    let vals = spec.vals[i].clone();
    select(spec.windows[i].clone())
        .prop_flat_map(move |(lo, hi)| {
            let vs: Vec<u128> = vals
                .iter()
                .copied()
                .filter(|v| lo <= *v && *v <= hi)
                .collect();
            (select(vs.clone()), select(vs)).prop_map(|(a, b)| (a.min(b), a.max(b)))
        })
        .boxed()
}

fn pool_pat(spec: &Spec) -> BoxedStrategy<MPat> {
    prop_oneof![3 => box_pat(spec), 2 => stripe_pat(spec)].boxed()
}

/// A pool that is one value of the last field and a range of each other field: pools
/// like these interleave, so their order and the order of their clipped parts differ.
fn stripe_pat(spec: &Spec) -> BoxedStrategy<MPat> {
    let n = spec.vals.len();
    let fields: Vec<BoxedStrategy<Option<(u128, u128)>>> = (0..n)
        .map(|i| {
            let w = window_range(spec, i);
            if i + 1 == n {
                w.prop_map(|(a, _)| Some((a, a))).boxed()
            } else {
                w.prop_map(Some).boxed()
            }
        })
        .collect();
    fields.boxed()
}

fn box_pat(spec: &Spec) -> BoxedStrategy<MPat> {
    let fields: Vec<BoxedStrategy<Option<(u128, u128)>>> = (0..spec.vals.len())
        .map(|i| {
            let w = window_range(spec, i);
            if spec.whole {
                prop_oneof![
                    3 => Just(None),
                    6 => w.prop_map(Some),
                    1 => field_pat(spec.vals[i].clone()),
                ]
                .boxed()
            } else {
                prop_oneof![
                    9 => w.clone().prop_map(Some),
                    1 => w.prop_map(|(a, b)| Some((b, a))),
                ]
                .boxed()
            }
        })
        .collect();
    fields.boxed()
}

fn point(spec: &Spec) -> BoxedStrategy<Pt> {
    spec.vals
        .iter()
        .map(|v| select(v.clone()))
        .collect::<Vec<_>>()
        .boxed()
}

/// `(first, last)` with `first <= last` on every field.
fn block_range(spec: &Spec) -> BoxedStrategy<(Pt, Pt)> {
    let fields: Vec<BoxedStrategy<(u128, u128)>> = (0..spec.vals.len())
        .map(|i| {
            if spec.whole {
                let v = select(spec.vals[i].clone());
                (v.clone(), v)
                    .prop_map(|(a, b)| (a.min(b), a.max(b)))
                    .boxed()
            } else {
                window_range(spec, i)
            }
        })
        .collect();
    fields.prop_map(|f| f.into_iter().unzip()).boxed()
}

fn req() -> BoxedStrategy<Req> {
    let owner = prop_oneof![2 => Just(None), 1 => select(OWNERS.to_vec()).prop_map(Some)];
    let tags = prop_oneof![
        6 => Just(vec![]),
        3 => prop::collection::vec(select(TAGS.to_vec()), 1..=2),
        1 => Just(vec!["nope"]),
    ];
    (owner, tags)
        .prop_map(|(owner, tags)| Req { owner, tags })
        .boxed()
}

fn add_pool(spec: &Spec) -> BoxedStrategy<Op> {
    let tags = prop_oneof![
        3 => Just(vec![]),
        2 => prop::collection::vec(select(TAGS.to_vec()), 1..=3),
    ];
    (pool_pat(spec), tags)
        .prop_map(|(pat, tags)| Op::AddPool { pat, tags })
        .boxed()
}

fn op(spec: &Spec) -> BoxedStrategy<Op> {
    let exts: Vec<BoxedStrategy<u128>> = spec
        .exts
        .iter()
        .map(|e| select(e.clone()).boxed())
        .collect();
    prop_oneof![
        2 => add_pool(spec),
        5 => (point(spec), req()).prop_map(|(p, req)| Op::Reserve { p, req }),
        4 => (any_pat(spec), req()).prop_map(|(pat, req)| Op::ReserveFirst { pat, req }),
        3 => req().prop_map(|req| Op::ReserveAny { req }),
        2 => (prop::collection::vec(any_pat(spec), 0..=3), req())
            .prop_map(|(pats, req)| Op::ReservePreferred { pats, req }),
        4 => (any_pat(spec), exts, req())
            .prop_map(|(pat, ext, req)| Op::ReserveBlock { pat, ext, req }),
        2 => (block_range(spec), req(), prop::bool::weighted(0.1)).prop_map(
            |((first, last), req, swap)| {
                if swap {
                    Op::ReserveRange { first: last, last: first, req }
                } else {
                    Op::ReserveRange { first, last, req }
                }
            }
        ),
        3 => point(spec).prop_map(|p| Op::Release { p }),
        2 => block_range(spec).prop_map(|(first, last)| Op::ReleaseBlock { first, last }),
        2 => (block_range(spec), prop::bool::weighted(0.1)).prop_map(|((first, last), swap)| {
            if swap {
                Op::ReleaseRange { first: last, last: first }
            } else {
                Op::ReleaseRange { first, last }
            }
        }),
        1 => select(vec!["vm1", "vm2", "nobody", ""]).prop_map(|owner| Op::ReleaseOwner { owner }),
        5 => (any::<usize>(), any::<u8>()).prop_map(|(n, how)| Op::ReleaseNth { n, how }),
        1 => any_pat(spec).prop_map(|pat| Op::FreeCountIn { pat }),
        1 => any::<usize>().prop_map(|n| Op::RemoveNthPool { n }),
        1 => pool_pat(spec).prop_map(|pat| Op::RemovePool { pat }),
    ]
    .boxed()
}

fn policy() -> impl Strategy<Value = Policy> {
    select(vec![
        Policy::LowestFirst,
        Policy::NextFit,
        Policy::HighestFirst,
    ])
}

/// A policy and a sequence: a few pools first, then anything.
fn script(spec: &Spec, max_ops: usize) -> BoxedStrategy<(Policy, Vec<Op>)> {
    (
        policy(),
        prop::collection::vec(add_pool(spec), 0..=5),
        prop::collection::vec(op(spec), 1..max_ops),
    )
        .prop_map(|(p, mut pools, ops)| {
            pools.extend(ops);
            (p, pools)
        })
        .boxed()
}

// ----- the spaces ----------------------------------------------------------------------

address_type!(One, 1, ".", [("x", 0, 5)]);
address_type!(OneFrom3, 1, ".", [("x", 3, 9)]);
address_type!(Two, 2, ".", [("a", 1, 6), ("b", 0, 3)]);
address_type!(Three, 3, ".", [("a", 0, 3), ("b", 1, 3), ("c", 0, 5)]);
address_type!(ThreeSingle, 3, ".", [("a", 0, 2), ("b", 5, 5), ("c", 1, 6)]);
address_type!(Wide, 1, ":", [("x", 0, u128::MAX)]);
address_type!(
    WideTwo,
    2,
    ":",
    [("hi", 0, u64::MAX as u128), ("lo", 0, u64::MAX as u128)]
);
address_type!(Medium, 1, ".", [("x", 0, 299)]);

const CASES: u32 = 256;

/// `cases` cases per test, or `ADDRALLOC_MODEL_CASES` times `cases / CASES` for a long
/// run (`ADDRALLOC_MODEL_CASES=5000 cargo test -p addralloc-runtime --test model`).
fn config(cases: u32) -> ProptestConfig {
    let cases = match std::env::var("ADDRALLOC_MODEL_CASES") {
        Ok(v) => v
            .parse::<u32>()
            .map_or(cases, |n| (n * cases / CASES).max(1)),
        Err(_) => cases,
    };
    ProptestConfig {
        cases,
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn one_field(s in script(&Spec::small::<One>(), 40)) {
        run::<One>(s.0, &Spec::small::<One>().windows, &s.1)?;
    }

    #[test]
    fn one_field_not_from_zero(s in script(&Spec::small::<OneFrom3>(), 40)) {
        run::<OneFrom3>(s.0, &Spec::small::<OneFrom3>().windows, &s.1)?;
    }

    #[test]
    fn two_fields(s in script(&Spec::small::<Two>(), 40)) {
        run::<Two>(s.0, &Spec::small::<Two>().windows, &s.1)?;
    }

    #[test]
    fn three_fields(s in script(&Spec::small::<Three>(), 40)) {
        run::<Three>(s.0, &Spec::small::<Three>().windows, &s.1)?;
    }

    #[test]
    fn three_fields_one_single_valued(s in script(&Spec::small::<ThreeSingle>(), 40)) {
        run::<ThreeSingle>(s.0, &Spec::small::<ThreeSingle>().windows, &s.1)?;
    }
}

fn wide_spec() -> Spec {
    Spec::wide::<Wide>(8, vec![0, 1, 1, 1, 2, 3, 4, 8, 1 << 64, u128::MAX])
}

fn wide_two_spec() -> Spec {
    let n = u64::MAX as u128 + 1;
    Spec::wide::<WideTwo>(4, vec![0, 1, 1, 1, 2, 3, 4, 1 << 63, n, n + 1])
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn u128_field_near_zero_and_max(s in script(&wide_spec(), 40)) {
        run::<Wide>(s.0, &wide_spec().windows, &s.1)?;
    }

    #[test]
    fn two_u64_fields_near_zero_and_max(s in script(&wide_two_spec(), 40)) {
        run::<WideTwo>(s.0, &wide_two_spec().windows, &s.1)?;
    }
}

fn medium_spec() -> Spec {
    let mut s = Spec::small::<Medium>();
    s.exts = vec![vec![1, 1, 2, 3, 4, 5, 8, 16, 32]];
    s
}

/// Many scattered reservations: the range set splits into several blocks and block
/// searches go through its gap caches.
fn medium_script() -> BoxedStrategy<(Policy, Vec<Op>)> {
    let spec = medium_spec();
    let scatter = point(&spec).prop_map(|p| Op::Reserve {
        p,
        req: Req::default(),
    });
    let exts = select(spec.exts[0].clone());
    let blocks = (exts, any_pat(&spec), req()).prop_map(|(e, pat, req)| Op::ReserveBlock {
        pat,
        ext: vec![e],
        req,
    });
    (
        policy(),
        prop::collection::vec(scatter, 100..200),
        prop::collection::vec(
            prop_oneof![3 => blocks, 2 => op(&spec), 1 => point(&spec).prop_map(|p| Op::Release { p })],
            1..80,
        ),
    )
        .prop_map(|(p, scatter, ops)| {
            let mut all = vec![Op::AddPool {
                pat: vec![None],
                tags: vec![],
            }];
            all.extend(scatter);
            all.extend(ops);
            (p, all)
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn many_ranges(s in medium_script()) {
        run::<Medium>(s.0, &medium_spec().windows, &s.1)?;
    }
}

address_type!(Large, 1, ".", [("x", 0, 11_999)]);

/// Thousands of ranges: the range set holds dozens of blocks in more than one summary
/// group, and block searches skip blocks and groups by their gap caches while edits
/// keep making them stale.
fn large_script() -> BoxedStrategy<(Policy, Vec<Op>)> {
    let mut spec = Spec::small::<Large>();
    spec.exts = vec![vec![1, 2, 3, 4, 5, 8, 16, 32, 64, 100]];
    let s2 = spec.clone();
    let near = (0u128..12_000, 0u128..70).prop_map(|(x, w)| (x, (x + w).min(11_999)));
    let blocks = (
        select(spec.exts[0].clone()),
        prop::option::of(near.clone()),
        req(),
    )
        .prop_map(|(e, r, req)| Op::ReserveBlock {
            pat: vec![r],
            ext: vec![e],
            req,
        });
    let releases = near.prop_map(|(x, y)| Op::ReleaseBlock {
        first: vec![x],
        last: vec![y],
    });
    let point = (0u128..12_000).prop_map(|x| vec![x]);
    (
        policy(),
        any::<u64>(),
        30u8..70,
        prop::collection::vec(
            prop_oneof![
                4 => blocks,
                2 => point.clone().prop_map(|p| Op::Release { p }),
                1 => point.prop_map(|p| Op::Reserve { p, req: Req::default() }),
                1 => releases,
                1 => op(&s2),
            ],
            1..30,
        ),
    )
        .prop_map(|(p, seed, percent, ops)| {
            let mut all = vec![
                Op::AddPool {
                    pat: vec![Some((0, 5_999))],
                    tags: vec![],
                },
                Op::AddPool {
                    pat: vec![Some((6_000, 11_999))],
                    tags: vec!["pci"],
                },
                Op::Scatter { seed, percent },
            ];
            all.extend(ops);
            (p, all)
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(4))]

    #[test]
    fn thousands_of_ranges(s in large_script()) {
        run::<Large>(s.0, &Spec::small::<Large>().windows, &s.1)?;
    }
}

address_type!(Big, 1, ".", [("x", 0, 999_999)]);

/// Tens of thousands of ranges (hundreds of range-set blocks, several summary groups):
/// block searches inside random patterns, with releases in between that make the gap
/// caches stale, checked against a brute-force scan of a bitmap.
#[test]
fn gap_caches_with_many_blocks() {
    const N: usize = 1_000_000;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for policy in [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst] {
        let mut a = Allocator::<Big>::with_policy(policy);
        a.add_pool(Pattern::any()).unwrap();
        let mut used = vec![false; N];
        // Reservations of one address (only those `release` frees).
        let mut single = vec![false; N];
        // Every third address: 25 000 single ranges with gaps of 2.
        for k in 0..25_000 {
            let x = 3 * k + 1;
            a.reserve(Big([x as u128])).unwrap();
            used[x] = true;
            single[x] = true;
        }
        // Next-fit: one cursor per search pattern.
        let mut cursors: std::collections::HashMap<(usize, usize), usize> = Default::default();
        let (mut inside, mut none) = (0, 0);
        for step in 0..1500 {
            let r = next();
            if r % 4 == 0 {
                let x = 3 * (next() % 25_000) as usize + 1;
                let got = a.release(Big([x as u128]));
                assert_eq!(
                    got.is_ok(),
                    single[x],
                    "{policy:?} step {step}: release {x}"
                );
                if single[x] {
                    used[x] = false;
                    single[x] = false;
                }
                continue;
            }
            let ext = [1usize, 2, 3, 4, 5, 6, 8, 16][(next() % 8) as usize];
            let lo = (next() % 80_000) as usize;
            let hi = (lo + (next() % 40_000) as usize).min(N - 1);
            let fits = |s: usize| s + ext - 1 <= hi && used[s..s + ext].iter().all(|u| !u);
            let first = lo.div_ceil(ext) * ext;
            let starts = (first..=hi).step_by(ext);
            let cursor = cursors.get(&(lo, hi)).copied().unwrap_or(0);
            let want = match policy {
                Policy::LowestFirst => starts.clone().find(|&s| fits(s)),
                Policy::HighestFirst => starts.clone().filter(|&s| fits(s)).last(),
                _ => starts
                    .clone()
                    .find(|&s| s >= cursor && fits(s))
                    .or_else(|| starts.clone().find(|&s| fits(s))),
            };
            let p = Pattern::any().field(0, lo as u128..=hi as u128);
            let got = a.reserve_block(p, Block::single().extent(0, ext as u128));
            match want {
                Some(s) => {
                    let b = got.unwrap_or_else(|e| panic!("{policy:?} step {step}: {e}"));
                    assert_eq!(b.first(), Big([s as u128]), "{policy:?} step {step}");
                    used[s..s + ext].iter_mut().for_each(|u| *u = true);
                    single[s] = ext == 1;
                    cursors.insert((lo, hi), (s + ext) % (1 << 20));
                    inside += usize::from(s < 75_000);
                }
                None => {
                    none += 1;
                    assert!(got.is_err(), "{policy:?} step {step}: {got:?}");
                }
            }
        }
        // Both outcomes, and blocks found among the scattered ranges, not only past them.
        assert!(
            inside > 100 && none > 10,
            "{policy:?}: {inside} inside, {none} none"
        );
        let want: usize = used.iter().filter(|u| **u).count();
        assert_eq!(a.reserved_count(), Count::from(want as u128));
        let from_runs: u128 = a.reserved().map(|(s, e)| e.0[0] - s.0[0] + 1).sum();
        assert_eq!(from_runs, want as u128);
    }
}

// ----- regressions found by the model ------------------------------------------------

/// Pools are kept in order of their first address, but their parts inside a pattern
/// are not in that order; lowest-first used to stop at the first part starting above
/// its best so far and missed a lower address in a later pool.
#[test]
fn lowest_first_looks_at_every_pool_inside_a_pattern() {
    let mut a = Allocator::<Two>::new();
    a.add_pool("b=1".parse::<Pattern<Two>>().unwrap()).unwrap();
    a.add_pool("a=2..=6, b=2".parse::<Pattern<Two>>().unwrap())
        .unwrap();
    a.add_pool("a=3..=6, b=0".parse::<Pattern<Two>>().unwrap())
        .unwrap();
    let p = "a=3..=6".parse::<Pattern<Two>>().unwrap();
    assert_eq!(a.clone().reserve_first(p).unwrap(), Two([3, 0]));
    let b = a.reserve_block(p, Block::single()).unwrap();
    assert_eq!(b.first(), Two([3, 0]));
}

/// The same for blocks (the shrunk case of `three_fields`).
#[test]
fn lowest_first_blocks_look_at_every_pool_inside_a_pattern() {
    let mut a = Allocator::<Three>::new();
    a.add_pool("a=1, c=1..=2".parse::<Pattern<Three>>().unwrap())
        .unwrap();
    a.add_pool("c=5".parse::<Pattern<Three>>().unwrap())
        .unwrap();
    a.add_pool("c=3".parse::<Pattern<Three>>().unwrap())
        .unwrap();
    let p = "a=1, c=1..=5".parse::<Pattern<Three>>().unwrap();
    let b = a.reserve_block(p, Block::single()).unwrap();
    assert_eq!(b.first(), Three([1, 1, 1]));
}

/// A block at the very top of a 128-bit field: its start plus its extent is 2^128.
#[test]
fn a_block_at_the_top_of_a_128_bit_field() {
    let mut a = Allocator::<Wide>::new();
    a.add_pool(Pattern::any().field(0, u128::MAX)).unwrap();
    let b = a.reserve_block(Pattern::any(), Block::single()).unwrap();
    assert_eq!(b.first(), Wide([u128::MAX]));
    let mut a = Allocator::<Wide>::with_policy(Policy::HighestFirst);
    a.add_pool(Pattern::any()).unwrap();
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(0, 1 << 64))
        .unwrap();
    assert_eq!(b.last(), Wide([u128::MAX]));
    assert_eq!(b.first(), Wide([u128::MAX - ((1 << 64) - 1)]));
}

// ----- next-fit: one cursor per search key ---------------------------------------------

/// What the next-fit and transaction properties need of a front besides `Front`.
trait Probe: Front {
    /// First and last address of the reservation holding `p`.
    fn res_at(&self, p: &Pt) -> Option<(Pt, Pt)>;
    fn reserved_pt(&self, p: &Pt) -> bool;
    fn pooled(&self, p: &Pt) -> bool;
    /// The pools' patterns, as listed.
    fn pool_pats(&self) -> Vec<MPat>;
}

impl<A: Twin + FromStr> Probe for Allocator<A>
where
    A::Err: std::fmt::Display,
{
    fn res_at(&self, p: &Pt) -> Option<(Pt, Pt)> {
        self.reservation(A::from_fields(p))
            .map(|(f, l, _)| (pt(&f), pt(&l)))
    }
    fn reserved_pt(&self, p: &Pt) -> bool {
        self.is_reserved(A::from_fields(p))
    }
    fn pooled(&self, p: &Pt) -> bool {
        let x = A::from_fields(p);
        self.pools().any(|(q, _)| q.matches(&x))
    }
    fn pool_pats(&self) -> Vec<MPat> {
        self.pools()
            .map(|(p, _)| {
                (0..A::FIELDS.len())
                    .map(|i| p.range(i).map(|r| (*r.start(), *r.end())))
                    .collect()
            })
            .collect()
    }
}

impl Probe for DynAllocator {
    fn res_at(&self, p: &Pt) -> Option<(Pt, Pt)> {
        let x = self.ty().address(p).ok()?;
        self.reservation(&x)
            .map(|(f, l, _)| (f.values().to_vec(), l.values().to_vec()))
    }
    fn reserved_pt(&self, p: &Pt) -> bool {
        self.ty().address(p).is_ok_and(|x| self.is_reserved(&x))
    }
    fn pooled(&self, p: &Pt) -> bool {
        self.ty()
            .address(p)
            .is_ok_and(|x| self.pools().any(|(q, _)| q.matches(&x)))
    }
    fn pool_pats(&self) -> Vec<MPat> {
        let n = self.ty().fields().len();
        self.pools()
            .map(|(p, _)| {
                (0..n)
                    .map(|i| p.range(i).map(|r| (*r.start(), *r.end())))
                    .collect()
            })
            .collect()
    }
}

/// `Model::concrete` from what a front shows: `ReleaseNth` picks among the
/// reservations found at the `universe` points.
fn concrete_on<F: Probe>(f: &F, universe: &[Pt], op: &Op) -> Op {
    if let Op::RemoveNthPool { n } = op {
        let pools = f.pool_pats();
        let pat = match pools.get(n % pools.len().max(1)) {
            Some(p) => p.clone(),
            None => vec![None; universe[0].len()],
        };
        return Op::RemovePool { pat };
    }
    let Op::ReleaseNth { n, how } = op else {
        return op.clone();
    };
    let mut all: Vec<(Pt, Pt)> = universe.iter().filter_map(|p| f.res_at(p)).collect();
    all.sort();
    all.dedup();
    let Some((first, last)) = all.get(n % all.len().max(1)).cloned() else {
        return Op::Release {
            p: universe[n % universe.len()].clone(),
        };
    };
    let ordered = first.iter().zip(&last).all(|(a, b)| a <= b);
    match (how % 4, ordered) {
        (0, true) => Op::ReleaseBlock { first, last },
        (1, _) | (0, false) => Op::Release { p: first },
        (2, _) => Op::ReleaseRange {
            first: first.clone(),
            last: first,
        },
        _ => Op::ReleaseRange { first, last },
    }
}

/// The boxes of the search keys an operation advances (untagged requests only; a
/// tagged one is another key anyway). `None` inside: `*`.
fn keys_of<A: Twin>(op: &Op) -> Vec<Option<BoxR>> {
    let untagged = |r: &Req| r.tags.is_empty();
    let pats: Vec<&MPat> = match op {
        Op::ReserveFirst { pat, req } | Op::ReserveBlock { pat, req, .. } if untagged(req) => {
            vec![pat]
        }
        Op::ReservePreferred { pats, req } if untagged(req) => pats.iter().collect(),
        Op::ReserveAny { req } if untagged(req) => return vec![None],
        _ => vec![],
    };
    pats.into_iter()
        .filter_map(|p| Model::<A>::resolve_opt(p).ok())
        .collect()
}

/// The next-fit promise for one search key (`pat`, no tags), on one front: after
/// `x = reserve_first(pat)`, any other operations that do not search with that key,
/// and `release(x)`, the key's next search resumes after `x`: it returns the first free
/// address of `pat` after `x` in address order, else (wrapping) the lowest free one.
/// So it hands `x` straight back only when `x` is the only free address of `pat`.
fn next_fit_promise<A: Twin, F: Probe>(
    mut f: F,
    universe: &[Pt],
    prefix: &[Op],
    pat: &MPat,
    between: &[Op],
) -> Result<bool, TestCaseError> {
    for op in prefix {
        let op = concrete_on(&f, universe, op);
        let _ = f.apply(&op);
    }
    let first = Op::ReserveFirst {
        pat: pat.clone(),
        req: Req::default(),
    };
    let Ok(Out::Addr(x)) = f.apply(&first) else {
        return Ok(false);
    };
    let key = Model::<A>::resolve_opt(pat).expect("a pattern that found an address");
    for op in between {
        let op = concrete_on(&f, universe, op);
        let frees_x = match &op {
            Op::Release { p } => *p == x,
            Op::ReleaseRange { first, last } | Op::ReleaseBlock { first, last } => {
                in_box(&x, &corners(first, last))
            }
            Op::ReleaseOwner { .. } => false,
            _ => false,
        };
        if frees_x || keys_of::<A>(&op).contains(&key) {
            continue;
        }
        let _ = f.apply(&op);
    }
    prop_assert_eq!(f.apply(&Op::Release { p: x.clone() }), Ok(Out::Unit));
    let free: Vec<&Pt> = universe
        .iter()
        .filter(|p| key.as_ref().is_none_or(|b| in_box(p, b)))
        .filter(|p| f.pooled(p) && !f.reserved_pt(p))
        .collect();
    let want = free
        .iter()
        .find(|p| Model::<A>::index(p) > Model::<A>::index(&x))
        .or(free.first())
        .map(|p| (*p).clone());
    let got = f.apply(&first);
    prop_assert_eq!(
        &got,
        &Ok(Out::Addr(want.clone().expect("x itself is free")))
    );
    if free.len() > 1 {
        prop_assert_ne!(
            got,
            Ok(Out::Addr(x)),
            "a just-released address came straight back"
        );
    }
    Ok(true)
}

fn next_fit_case<A: Twin + FromStr + Debug>(
    spec: &Spec,
    prefix: &[Op],
    pat: &MPat,
    between: &[Op],
) -> Result<(), TestCaseError>
where
    A::Err: std::fmt::Display,
{
    let universe = Model::<A>::new(Policy::NextFit, &spec.windows).universe;
    let t = Allocator::<A>::with_policy(Policy::NextFit);
    let d = DynAllocator::new(twin::<A>(), Policy::NextFit);
    let a = next_fit_promise::<A, _>(t, &universe, prefix, pat, between)?;
    let b = next_fit_promise::<A, _>(d, &universe, prefix, pat, between)?;
    prop_assert_eq!(a, b, "both fronts find an address, or neither");
    Ok(())
}

fn next_fit_script(spec: &Spec) -> BoxedStrategy<(Vec<Op>, MPat, Vec<Op>)> {
    (
        prop::collection::vec(add_pool(spec), 1..=4),
        prop::collection::vec(op(spec), 0..20),
        any_pat(spec),
        prop::collection::vec(op(spec), 0..12),
    )
        .prop_map(|(mut pools, ops, pat, between)| {
            pools.extend(ops);
            (pools, pat, between)
        })
        .boxed()
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn next_fit_resumes_after_the_previous_choice_of_its_key_two(
        s in next_fit_script(&Spec::small::<Two>())
    ) {
        next_fit_case::<Two>(&Spec::small::<Two>(), &s.0, &s.1, &s.2)?;
    }

    #[test]
    fn next_fit_resumes_after_the_previous_choice_of_its_key_three(
        s in next_fit_script(&Spec::small::<Three>())
    ) {
        next_fit_case::<Three>(&Spec::small::<Three>(), &s.0, &s.1, &s.2)?;
    }

    #[test]
    fn next_fit_resumes_after_the_previous_choice_of_its_key_wide(
        s in next_fit_script(&wide_spec())
    ) {
        next_fit_case::<Wide>(&wide_spec(), &s.0, &s.1, &s.2)?;
    }
}

// ----- transactions ----------------------------------------------------------------------

/// How the outer transaction ends.
#[derive(Clone, Copy, Debug)]
enum End {
    Commit,
    Fail,
    Panic,
    /// A panic inside the nested transaction: both unwind.
    InnerPanic,
}

#[derive(Clone, Debug)]
struct TxCase {
    prefix: Vec<Op>,
    /// Before the nested transaction, in it, after it.
    a: Vec<Op>,
    b: Vec<Op>,
    c: Vec<Op>,
    inner_commits: bool,
    end: End,
    /// Run afterwards on the result and on the expected state: the next choices.
    after: Vec<Op>,
}

/// A transaction with a nested one, on one front, against the same operations run
/// without transactions: inside, every result is what the plain run gives; a rolled
/// back (inner) transaction leaves no trace; at the end the state is the plain run's
/// (commit) or exactly the state before (`Err` or panic), snapshot and next choices.
fn tx_property<F: Probe>(mut f: F, universe: &[Pt], c: &TxCase) -> Result<(), TestCaseError> {
    for op in &c.prefix {
        let op = concrete_on(&f, universe, op);
        let _ = f.apply(&op);
    }
    let before = f.clone();
    // The plain run.
    let mut plain = f.clone();
    let mut want: Vec<Res> = Vec::new();
    let mut ops_done: Vec<Op> = Vec::new();
    {
        let mut run_plain = |ops: &[Op], keep: bool| {
            let mut scratch = plain.clone();
            for op in ops {
                let target = if keep { &mut plain } else { &mut scratch };
                let op = concrete_on(target, universe, op);
                want.push(target.apply(&op));
                ops_done.push(op);
            }
        };
        run_plain(&c.a, true);
        run_plain(&c.b, c.inner_commits);
        run_plain(&c.c, true);
    }
    // The same in a transaction (the concrete operations of the plain run).
    let (na, nb) = (c.a.len(), c.b.len());
    let inner_commits = c.inner_commits;
    let end = c.end;
    let mut got: Vec<Res> = Vec::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f.tx(|t| {
            for op in &ops_done[..na] {
                got.push(t.apply(op));
            }
            let inner = t.tx(|u| {
                for op in &ops_done[na..na + nb] {
                    got.push(u.apply(op));
                }
                if let End::InnerPanic = end {
                    panic!("a panic inside a nested transaction (expected by the test)");
                }
                if inner_commits {
                    Ok(())
                } else {
                    Err("inner".to_string())
                }
            });
            assert_eq!(inner.is_ok(), inner_commits);
            for op in &ops_done[na + nb..] {
                got.push(t.apply(op));
            }
            match end {
                End::Commit => Ok(()),
                End::Fail => Err("outer".to_string()),
                End::Panic | End::InnerPanic => {
                    panic!("a panic inside a transaction (expected by the test)")
                }
            }
        })
    }));
    if let End::InnerPanic = end {
        // The operations after the nested transaction never ran.
        want.truncate(na + nb);
    }
    prop_assert_eq!(&got, &want, "results inside the transaction");
    let expected = match (end, &outcome) {
        (End::Commit, Ok(Ok(()))) => plain,
        (End::Fail, Ok(Err(_))) | (End::Panic | End::InnerPanic, Err(_)) => before,
        _ => return Err(TestCaseError::fail(format!("{end:?} ended as {outcome:?}"))),
    };
    prop_assert_eq!(f.state(), expected.state(), "state after the transaction");
    let mut e = expected;
    for op in &c.after {
        let op = concrete_on(&e, universe, op);
        prop_assert_eq!(
            f.apply(&op),
            e.apply(&op),
            "after the transaction: {:?}",
            op
        );
    }
    prop_assert_eq!(f.state(), e.state());
    Ok(())
}

fn tx_script(spec: &Spec) -> BoxedStrategy<(Policy, TxCase)> {
    let ops = |n| prop::collection::vec(op(spec), 0..n);
    (
        policy(),
        prop::collection::vec(add_pool(spec), 1..=4),
        ops(15),
        (ops(8), ops(8), ops(8)),
        any::<bool>(),
        select(vec![End::Commit, End::Fail, End::Panic, End::InnerPanic]),
        ops(10),
    )
        .prop_map(
            |(p, mut prefix, more, (a, b, c), inner_commits, end, after)| {
                prefix.extend(more);
                (
                    p,
                    TxCase {
                        prefix,
                        a,
                        b,
                        c,
                        inner_commits,
                        end,
                        after,
                    },
                )
            },
        )
        .boxed()
}

fn tx_case<A: Twin + FromStr + Debug>(
    spec: &Spec,
    policy: Policy,
    c: &TxCase,
) -> Result<(), TestCaseError>
where
    A::Err: std::fmt::Display,
{
    let universe = Model::<A>::new(policy, &spec.windows).universe;
    tx_property(DynAllocator::new(twin::<A>(), policy), &universe, c)?;
    tx_property(Allocator::<A>::with_policy(policy), &universe, c)
}

proptest! {
    #![proptest_config(config(CASES / 2))]

    #[test]
    fn transactions_roll_back_exactly_two(s in tx_script(&Spec::small::<Two>())) {
        tx_case::<Two>(&Spec::small::<Two>(), s.0, &s.1)?;
    }

    #[test]
    fn transactions_roll_back_exactly_three(s in tx_script(&Spec::small::<Three>())) {
        tx_case::<Three>(&Spec::small::<Three>(), s.0, &s.1)?;
    }

    #[test]
    fn transactions_roll_back_exactly_wide(s in tx_script(&wide_spec())) {
        tx_case::<Wide>(&wide_spec(), s.0, &s.1)?;
    }
}

/// Whole unlabelled blocks are sealed ranges in the engine (they never coalesce with
/// their neighbours): adjacent blocks, single addresses beside them, cuts across two
/// of them, releases inside one, refills after releases and transactions, all against
/// the model (with the snapshot round trips of `run`).
#[test]
fn adjacent_sealed_blocks_against_the_model() {
    let windows = &Spec::small::<Large>().windows;
    for policy in [Policy::LowestFirst, Policy::HighestFirst, Policy::NextFit] {
        let mut ops = vec![Op::AddPool {
            pat: vec![Some((0, 199))],
            tags: vec![],
        }];
        for k in 0..12u128 {
            ops.push(Op::ReserveBlock {
                pat: vec![None],
                ext: vec![if k % 3 == 2 { 4 } else { 8 }],
                req: Req::default(),
            });
        }
        let (lo, hi) = match policy {
            Policy::HighestFirst => (100, 199),
            _ => (0, 99),
        };
        ops.extend([
            // Inside a sealed block: refused, naming the block.
            Op::Release { p: vec![lo + 3] },
            Op::ReleaseBlock {
                first: vec![lo + 2],
                last: vec![lo + 5],
            },
            // A cut across two adjacent blocks: pieces of 6 and 2 addresses stay,
            // each a whole reservation.
            Op::ReleaseRange {
                first: vec![lo + 6],
                last: vec![lo + 13],
            },
            Op::ReleaseBlock {
                first: vec![lo],
                last: vec![lo + 5],
            },
            Op::ReleaseBlock {
                first: vec![lo + 14],
                last: vec![lo + 15],
            },
            Op::Reserve {
                p: vec![lo + 6],
                req: Req::default(),
            },
            Op::Reserve {
                p: vec![hi],
                req: Req::default(),
            },
            Op::Release { p: vec![lo + 6] },
            Op::ReleaseBlock {
                first: vec![lo + 16],
                last: vec![lo + 23],
            },
            Op::ReserveBlock {
                pat: vec![None],
                ext: vec![8],
                req: Req::default(),
            },
            Op::ReserveBlock {
                pat: vec![None],
                ext: vec![2],
                req: Req::default(),
            },
            Op::ReleaseRange {
                first: vec![lo + 20],
                last: vec![lo + 40],
            },
        ]);
        for k in 0..6u128 {
            ops.push(Op::ReserveBlock {
                pat: vec![Some((0, 199))],
                ext: vec![1 + k],
                req: Req::default(),
            });
        }
        run::<Large>(policy, windows, &ops).unwrap();
    }
}
