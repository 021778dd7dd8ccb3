//! Sized requests (memory windows) on both fronts against a plain model: a list of the
//! space's addresses in index order, each free or taken, with its pool.
//!
//! The first (last) fit is the lowest (highest) aligned start whose window is free,
//! inside one pool and made of consecutive indices (no hole); an exact start succeeds
//! exactly when it is aligned and its window is such a one; releases free exactly the
//! window. The typed and the dynamic front give the same answers.

mod common;

use std::sync::Arc;

use addralloc_runtime::dynamic::DynBlockRange;
use addralloc_runtime::{
    Address, Allocator, BlockRange, DynAllocator, DynType, Error, Fit, Policy,
};
use common::{address_type, pat, twin, Twin};
use proptest::prelude::*;

address_type!(One, 1, ".", [("x", 0, 63)]);
// Windows cross rows: `b` fills its bits.
address_type!(Rows, 2, ".", [("a", 0, 4), ("b", 0, 7)]);
// Holes in the index space (`b` takes 3 bits for 6 values) and a field not from 0.
address_type!(Holes, 2, ".", [("a", 0, 3), ("b", 1, 6)]);

/// Pool sets per type: one is chosen per case.
fn pool_sets<A: Twin>() -> Vec<Vec<&'static str>> {
    match A::FIELDS.len() {
        1 => vec![
            vec!["*"],
            vec!["x=3..=20", "x=24..=60"],
            // Adjacent pools: a window never spans two.
            vec!["x=3..=20", "x=21..=60"],
        ],
        _ if A::FIELDS[1].min == 0 => vec![
            vec!["*"],
            vec!["a=0..=1", "a=3..=4"],
            vec!["a=1..=3, b=2..=7"],
        ],
        _ => vec![vec!["*"], vec!["a=1..=2"], vec!["a=0..=2, b=2..=5"]],
    }
}

/// The model of one allocator.
struct Model {
    /// Index to (address text, pool position, taken).
    slots: std::collections::BTreeMap<u128, (String, usize, bool)>,
    max_index: u128,
}

/// Index of field values, packed as the engine does (first field most significant).
fn index_of<A: Address>(v: &[u128]) -> u128 {
    let mut idx = 0u128;
    for (i, f) in A::FIELDS.iter().enumerate() {
        let bits = 128 - (f.max - f.min).leading_zeros();
        idx = (idx << bits) | (v[i] - f.min);
    }
    idx
}

fn all_addresses<A: Address>() -> Vec<Vec<u128>> {
    let mut out = vec![vec![]];
    for f in A::FIELDS {
        out = out
            .into_iter()
            .flat_map(|p| {
                (f.min..=f.max).map(move |x| {
                    let mut q = p.clone();
                    q.push(x);
                    q
                })
            })
            .collect();
    }
    out
}

impl Model {
    fn new<A: Twin>(pools: &[&str]) -> Model {
        let patterns: Vec<addralloc_runtime::Pattern<A>> =
            pools.iter().map(|p| pat::<A>(p)).collect();
        let mut slots = std::collections::BTreeMap::new();
        let mut max_index = 0;
        for v in all_addresses::<A>() {
            let a = A::from_fields(&v);
            let idx = index_of::<A>(&v);
            max_index = max_index.max(idx);
            let pool = patterns.iter().position(|p| p.matches(&a));
            if let Some(p) = pool {
                slots.insert(idx, (a.to_string(), p, false));
            }
        }
        Model { slots, max_index }
    }

    fn fits(&self, s: u128, size: u128, align: u128) -> bool {
        if s % align != 0 {
            return false;
        }
        let Some((_, pool, _)) = self.slots.get(&s) else {
            return false;
        };
        (s..s + size).all(|i| matches!(self.slots.get(&i), Some((_, p, false)) if p == pool))
    }

    fn take(&mut self, s: u128, e: u128, taken: bool) {
        for i in s..=e {
            if let Some(slot) = self.slots.get_mut(&i) {
                slot.2 = taken;
            }
        }
    }

    fn text(&self, i: u128) -> &str {
        &self.slots[&i].0
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Reserve one exact address (the position among all indices).
    Single(usize),
    /// A sized request: size, log2 of the alignment, fit (0 first, 1 last, 2 exact at
    /// the position).
    Sized(u128, u32, u8, usize),
    /// Release the k-th live window (modulo their number).
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0usize..64).prop_map(Op::Single),
        4 => (1u128..=12, 0u32..=4, 0u8..=2, 0usize..64)
            .prop_map(|(s, a, f, p)| Op::Sized(s, a, f, p)),
        2 => (0usize..16).prop_map(Op::Release),
    ]
}

fn run<A: Twin + std::str::FromStr>(set: usize, ops: &[Op]) -> Result<(), TestCaseError>
where
    <A as std::str::FromStr>::Err: std::fmt::Debug,
{
    let sets = pool_sets::<A>();
    let pools = &sets[set % sets.len()];
    let ty: Arc<DynType> = twin::<A>();
    let mut typed = Allocator::<A>::new();
    let mut dynamic = DynAllocator::new(ty.clone(), Policy::LowestFirst);
    for p in pools {
        typed.add_pool(pat::<A>(p)).unwrap();
        dynamic.add_pool(*p).unwrap();
    }
    let mut model = Model::new::<A>(pools);
    let all: Vec<u128> = (0..=model.max_index).collect();
    let mut live: Vec<(BlockRange<A>, DynBlockRange, u128, u128)> = Vec::new();
    for op in ops {
        match *op {
            Op::Single(pos) => {
                let idx = all[pos % all.len()];
                let Some((text, _, taken)) = model.slots.get(&idx).cloned() else {
                    continue;
                };
                let a: A = text.parse().unwrap();
                let t = typed.reserve(a).map(|x| x.to_string());
                let d = dynamic.reserve(text.as_str()).map(|x| x.to_string());
                prop_assert_eq!(t.is_ok(), !taken);
                prop_assert_eq!(&t, &d);
                if !taken {
                    model.take(idx, idx, true);
                }
            }
            Op::Sized(size, align_log, fit, pos) => {
                let align = 1u128 << align_log;
                let exact = all[pos % all.len()];
                let want: Option<u128> = match fit {
                    0 => (0..=model.max_index).find(|&s| model.fits(s, size, align)),
                    1 => (0..=model.max_index)
                        .rev()
                        .find(|&s| model.fits(s, size, align)),
                    _ => model.fits(exact, size, align).then_some(exact),
                };
                let (tf, df) = match fit {
                    0 => (Fit::First, Fit::First),
                    1 => (Fit::Last, Fit::Last),
                    _ => {
                        // An exact start outside the pools still has an address, unless
                        // it is a hole of the index space.
                        let Some(v) = all_addresses::<A>()
                            .into_iter()
                            .find(|v| index_of::<A>(v) == exact)
                        else {
                            continue;
                        };
                        let a = A::from_fields(&v);
                        let da = ty.parse_address(&a.to_string()).unwrap();
                        (Fit::Exact(a), Fit::Exact(da))
                    }
                };
                let before = typed.reserved().count();
                let t = typed.reserve_sized(size, align, tf);
                let d = dynamic.reserve_sized(size, align, df);
                prop_assert_eq!(
                    t.as_ref().map(|r| r.to_string()).map_err(|e| e.to_string()),
                    d.as_ref().map(|r| r.to_string()).map_err(|e| e.to_string())
                );
                match (want, t, d) {
                    (Some(s), Ok(t), Ok(d)) => {
                        let e = s + size - 1;
                        prop_assert_eq!(
                            t.to_string(),
                            format!("{}..={}", model.text(s), model.text(e))
                        );
                        prop_assert_eq!(t.len(), size);
                        prop_assert_eq!(d.len(), size);
                        // No overlap with what was reserved before.
                        for x in &live {
                            prop_assert!(!x.0.overlaps(&t));
                            prop_assert!(!x.1.overlaps(&d));
                        }
                        model.take(s, e, true);
                        live.push((t, d, s, e));
                    }
                    (None, Err(e), Err(_)) => {
                        // A misaligned exact start is a bad request, named so.
                        if fit == 2 && exact % align != 0 {
                            prop_assert!(matches!(e, Error::Unaligned { .. }), "{}", e);
                        } else {
                            prop_assert!(!matches!(e, Error::Unaligned { .. }), "{}", e);
                        }
                        prop_assert_eq!(typed.reserved().count(), before);
                    }
                    (w, t, _) => {
                        prop_assert!(
                            false,
                            "model {:?}, allocator {:?}",
                            w,
                            t.map(|r| r.to_string())
                        );
                    }
                }
            }
            Op::Release(k) => {
                if live.is_empty() {
                    continue;
                }
                let (t, d, s, e) = live.remove(k % live.len());
                // Part of it, when it has more than one address, is refused.
                if s != e {
                    let before_last = all_addresses::<A>()
                        .into_iter()
                        .find(|v| index_of::<A>(v) == e - 1)
                        .map(|v| A::from_fields(&v));
                    let half = before_last.and_then(|b| BlockRange::linear(t.first(), b));
                    prop_assert!(half.is_some());
                    if let Some(h) = half {
                        let r = typed.release_block(&h);
                        prop_assert!(matches!(r, Err(Error::NotWhole { .. })), "{:?}", r);
                    }
                }
                typed.release_block(&t).unwrap();
                dynamic.release_block(&d).unwrap();
                model.take(s, e, false);
            }
        }
        let taken = model.slots.values().filter(|s| s.2).count() as u128;
        prop_assert_eq!(typed.reserved_count(), taken);
        prop_assert_eq!(dynamic.reserved_count(), taken);
        let t: Vec<String> = typed.reserved().map(|(a, b)| format!("{a}-{b}")).collect();
        let d: Vec<String> = dynamic
            .reserved()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect();
        prop_assert_eq!(t, d);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn one_field(set in 0usize..3, ops in prop::collection::vec(op(), 1..40)) {
        run::<One>(set, &ops)?;
    }

    #[test]
    fn windows_across_rows(set in 0usize..3, ops in prop::collection::vec(op(), 1..40)) {
        run::<Rows>(set, &ops)?;
    }

    #[test]
    fn holes_and_fields_not_from_zero(set in 0usize..3, ops in prop::collection::vec(op(), 1..40)) {
        run::<Holes>(set, &ops)?;
    }
}

/// A window across rows is one linear run: `len`, containment and exact release.
#[test]
fn a_window_across_rows_is_a_linear_run() {
    let mut a = Allocator::<Rows>::new();
    a.add_pool(pat::<Rows>("*")).unwrap();
    a.reserve(Rows([0, 0])).unwrap();
    let w = a.owned_by("w").reserve_sized(10, 1, Fit::First).unwrap();
    assert_eq!(w.to_string(), "0.1..=1.2");
    assert!(w.is_linear());
    assert_eq!(w.len(), 10u128);
    assert!(w.contains(&Rows([0, 7])) && w.contains(&Rows([1, 2])));
    assert!(!w.contains(&Rows([1, 3])) && !w.contains(&Rows([0, 0])));
    let row1 = BlockRange::new(Rows([1, 0]), Rows([1, 7])).unwrap();
    assert!(w.overlaps(&row1) && !w.contains_range(&row1));
    let whole = BlockRange::new(Rows([0, 0]), Rows([1, 7])).unwrap();
    assert!(whole.contains_range(&w) && !w.contains_range(&whole));
    // Its pattern is the smallest box holding it: rows 0 and 1, whole.
    let p = w.pattern();
    assert!(p.matches(&Rows([0, 0])) && p.matches(&Rows([1, 7])) && !p.matches(&Rows([2, 0])));
    assert_eq!(
        a.reservation(Rows([1, 0])),
        Some((Rows([0, 1]), Rows([1, 2]), Some("w")))
    );
    // The box with the same corners is not the reservation.
    let corners = BlockRange::new(Rows([0, 1]), Rows([1, 2])).unwrap();
    assert_ne!(corners, w);
    assert!(corners < w);
    assert!(matches!(
        a.release_block(&corners),
        Err(Error::NotWhole { .. })
    ));
    a.release_block(&w).unwrap();
    assert_eq!(a.reserved_count(), 1u128);
}

/// Bad requests are told from a full space, on both fronts, and change nothing.
#[test]
fn bad_requests_are_named() {
    let mut a = Allocator::<One>::new();
    a.add_pool(pat::<One>("x=8..=15")).unwrap();
    let ty = twin::<One>();
    let mut d = DynAllocator::new(ty.clone(), Policy::LowestFirst);
    d.add_pool("x=8..=15").unwrap();
    let cases: [(u128, u128, Option<u128>, &str); 6] = [
        (0, 1, None, "a request for 0 addresses: the size must be at least 1"),
        (4, 3, None, "alignment 0x3 (3) is not a power of two: use 1, 2, 4, 8, …"),
        (
            4,
            4,
            Some(10),
            "start 10 is not aligned to 0x4 (4): an exact start must be a multiple of the alignment",
        ),
        (4, 4, Some(4), "address 4 is outside every pool"),
        (8, 4, Some(12), "address 16 is outside every pool"),
        (9, 1, None, "no free window of 9 (0x9) addresses aligned to 0x1"),
    ];
    for (size, align, at, msg) in cases {
        let tf = at.map_or(Fit::First, |x| Fit::Exact(One([x])));
        let df = at.map_or(Fit::First, |x| {
            Fit::Exact(ty.parse_address(&x.to_string()).unwrap())
        });
        let e = common::fails(&mut a, msg, |a| a.reserve_sized(size, align, tf));
        assert_eq!(
            d.reserve_sized(size, align, df).unwrap_err().to_string(),
            msg,
            "{e:?}"
        );
    }
    // Required tags that no pool carries, through the request builder.
    let e = a
        .requiring(&["hotplug"])
        .reserve_sized(1, 1, Fit::First)
        .unwrap_err();
    assert_eq!(e.to_string(), "no pool carries tag `hotplug`");
    // Releasing outside every pool says so.
    let w = BlockRange::new(One([20]), One([23])).unwrap();
    assert_eq!(
        a.release_block(&w).unwrap_err().to_string(),
        "address 20 is outside every pool"
    );
    assert_eq!(
        a.release(One([2])).unwrap_err().to_string(),
        "address 2 is outside every pool"
    );
    assert_eq!(
        d.release("2").unwrap_err().to_string(),
        "address 2 is outside every pool"
    );
}

/// Tags and owners through the request builders; a rolled-back window is gone;
/// windows survive a snapshot and are released exactly after a restore.
#[test]
fn tags_owners_transactions_and_snapshots() {
    let mut a = Allocator::<One>::new();
    a.add_pool_tagged(pat::<One>("x=0..=31"), &["low"]).unwrap();
    a.add_pool_tagged(pat::<One>("x=32..=63"), &["high"])
        .unwrap();
    let w = a
        .requiring(&["high"])
        .owned_by("bar")
        .reserve_sized(8, 8, Fit::First)
        .unwrap();
    assert_eq!(w.to_string(), "32..=39");
    assert_eq!(a.owner_of(One([35])), Some("bar"));
    let r: Result<(), Error> = a.transaction(|tx| {
        tx.reserve_sized(4, 4, Fit::Last)?;
        tx.reserve_sized(64, 1, Fit::First)?;
        Ok(())
    });
    assert!(r.is_err());
    assert_eq!(a.reserved_count(), 8u128);
    let snap = a.snapshot();
    let mut b = Allocator::<One>::restore(&snap).unwrap();
    assert!(matches!(
        b.release_block(&BlockRange::new(One([32]), One([35])).unwrap()),
        Err(Error::NotWhole { .. })
    ));
    b.release_block(&w).unwrap();
    assert_eq!(b.reserved_count(), 0u128);

    let ty = twin::<Rows>();
    let mut d = DynAllocator::new(ty.clone(), Policy::HighestFirst);
    d.add_pool("*").unwrap();
    let w = d.owned_by("w").reserve_sized(11, 2, Fit::Last).unwrap();
    assert_eq!(w.to_string(), "3.4..=4.6");
    assert!(w.is_linear());
    let snap = d.snapshot();
    let mut e = DynAllocator::restore(ty, &snap).unwrap();
    e.release_block(&w).unwrap();
    assert_eq!(e.reserved_count(), 0u128);
}

address_type!(Addr64, 1, ".", [("addr", 0, u64::MAX as u128)]);

/// Searches walk free runs: thousands of windows in a 64-bit space, a fragmented space
/// where only the last gap fits, first and last fit, each in well under a second.
#[test]
fn searches_walk_runs_not_addresses() {
    let mut a = Allocator::<Addr64>::new();
    a.add_pool(pat::<Addr64>("*")).unwrap();
    let page = 0x1000u128;
    // Every other page taken, for 4,000 pages: 1,999 one-page gaps between them.
    let mut singles = Vec::new();
    for i in 0..2_000u128 {
        let w = a
            .reserve_sized(page, page, Fit::Exact(Addr64([2 * i * page])))
            .unwrap();
        singles.push(w);
    }
    let t = std::time::Instant::now();
    for i in 0..1_999u128 {
        // Two pages fit only after the fragmented part.
        let w = a.reserve_sized(2 * page, page, Fit::First).unwrap();
        assert_eq!(w.first(), Addr64([(3_999 + 2 * i) * page]));
        // One page fits in the first gap.
        let w = a.reserve_sized(page, page, Fit::First).unwrap();
        assert_eq!(w.first(), Addr64([(2 * i + 1) * page]));
    }
    assert_eq!(
        a.reserve_sized(page, page, Fit::First).unwrap().first(),
        Addr64([(3_999 + 2 * 1_999) * page])
    );
    for i in 0..2_000u128 {
        // Three pages at a two-page alignment from the top: one page left above each.
        let w = a.reserve_sized(3 * page, 2 * page, Fit::Last).unwrap();
        assert_eq!(w.last(), Addr64([u64::MAX as u128 - page - 4 * page * i]));
    }
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    // A space of 2^64 addresses: a window of 2^63 at 2^63 alignment, last fit.
    let mut b = Allocator::<Addr64>::new();
    b.add_pool(pat::<Addr64>("*")).unwrap();
    let w = b.reserve_sized(1 << 63, 1 << 63, Fit::Last).unwrap();
    assert_eq!(w.to_string(), format!("{}..={}", 1u128 << 63, u64::MAX));
    let w = b.reserve_sized(1 << 63, 1 << 63, Fit::First).unwrap();
    assert_eq!(w.to_string(), format!("0..={}", (1u128 << 63) - 1));
    assert!(b.reserve_sized(1, 1, Fit::First).is_err());
}

address_type!(Three, 3, ".", [("a", 0, 2), ("b", 1, 5), ("c", 0, 3)]);

/// The addresses of a box or run, by enumeration.
fn members<A: Address>(r: &BlockRange<A>) -> Vec<Vec<u128>> {
    let n = A::FIELDS.len();
    let f: Vec<u128> = (0..n).map(|i| r.first().field(i)).collect();
    let l: Vec<u128> = (0..n).map(|i| r.last().field(i)).collect();
    all_addresses::<A>()
        .into_iter()
        .filter(|v| {
            if r.is_linear() {
                f <= *v && *v <= l
            } else {
                (0..n).all(|i| f[i] <= v[i] && v[i] <= l[i])
            }
        })
        .collect()
}

fn block_range<A: Address>(x: usize, y: usize, linear: bool) -> Option<BlockRange<A>> {
    let all = all_addresses::<A>();
    let (a, b) = (
        A::from_fields(&all[x % all.len()]),
        A::from_fields(&all[y % all.len()]),
    );
    if linear {
        BlockRange::linear(a, b)
    } else {
        BlockRange::new(a, b)
    }
}

fn check_value_type<A: Address + Eq>(
    r: (usize, usize, bool),
    s: (usize, usize, bool),
) -> Result<(), TestCaseError> {
    let (Some(x), Some(y)) = (
        block_range::<A>(r.0, r.1, r.2),
        block_range::<A>(s.0, s.1, s.2),
    ) else {
        return Ok(());
    };
    let (mx, my) = (members(&x), members(&y));
    if r.2 {
        // A run that is also a box is stored as the box: the same addresses.
        let n = A::FIELDS.len();
        let f: Vec<u128> = (0..n).map(|i| x.first().field(i)).collect();
        let l: Vec<u128> = (0..n).map(|i| x.last().field(i)).collect();
        let run: Vec<Vec<u128>> = all_addresses::<A>()
            .into_iter()
            .filter(|v| f <= *v && *v <= l)
            .collect();
        prop_assert_eq!(&run, &mx);
    }
    prop_assert_eq!(x.len(), mx.len() as u128);
    for v in &my {
        prop_assert_eq!(x.contains(&A::from_fields(v)), mx.contains(v));
    }
    prop_assert_eq!(x.overlaps(&y), my.iter().any(|v| mx.contains(v)));
    prop_assert_eq!(y.overlaps(&x), x.overlaps(&y));
    prop_assert_eq!(x.contains_range(&y), my.iter().all(|v| mx.contains(v)));
    // Equal values are equal sets; the order is by first, then last address.
    if x == y {
        prop_assert_eq!(&mx, &my);
    }
    let key = |r: &BlockRange<A>| {
        let n = A::FIELDS.len();
        (
            (0..n).map(|i| r.first().field(i)).collect::<Vec<_>>(),
            (0..n).map(|i| r.last().field(i)).collect::<Vec<_>>(),
        )
    };
    if key(&x) != key(&y) {
        prop_assert_eq!(x.cmp(&y), key(&x).cmp(&key(&y)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `len`, `contains`, `overlaps`, `contains_range` and the order of boxes and linear
    /// runs against the sets of addresses they hold.
    #[test]
    fn block_ranges_compute_like_sets(
        r in (0usize..200, 0usize..200, any::<bool>()),
        s in (0usize..200, 0usize..200, any::<bool>()),
    ) {
        check_value_type::<Three>(r, s)?;
        check_value_type::<Holes>(r, s)?;
        check_value_type::<Rows>(r, s)?;
    }
}
