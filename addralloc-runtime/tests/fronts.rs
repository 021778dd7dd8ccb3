//! Named cases run on both fronts (typed `Allocator<A>` and `DynAllocator` of an
//! equivalent run-time schema): the next-fit case, release semantics, and
//! regressions for the runtime bugs the model tests found (each with its input and
//! the contract's answer).

mod common;

use addralloc_runtime::dynamic::DynBlockRange;
use addralloc_runtime::{Allocator, Block, BlockRange, Count, DynAllocator, Pattern, Policy};

use common::{address_type, pat, twin};

address_type!(
    Ip4,
    4,
    ".",
    [("a", 0, 255), ("b", 0, 255), ("c", 0, 255), ("d", 0, 255)]
);
address_type!(One, 1, ".", [("x", 0, 5)]);
address_type!(Grid2, 2, ".", [("a", 0, 3), ("b", 0, 3)]);
address_type!(Wide, 1, ":", [("x", 0, u128::MAX)]);

fn both<A: common::Twin>(policy: Policy) -> (Allocator<A>, DynAllocator) {
    (
        Allocator::<A>::with_policy(policy),
        DynAllocator::new(twin::<A>(), policy),
    )
}

/// The case: reserve .10 and .11 in `c=1`, one in `c=2`, release .11; the next
/// `reserve_first(c=1)` must not hand .11 straight back.
#[test]
fn next_fit_keeps_one_cursor_per_pattern() {
    let pool = "a=10, b=0, c=1..=2, d=10..=20";
    let (mut t, mut d) = both::<Ip4>(Policy::NextFit);
    t.add_pool(pat::<Ip4>(pool)).unwrap();
    d.add_pool(pool).unwrap();
    let c1 = pat::<Ip4>("c=1");
    let c2 = pat::<Ip4>("c=2");
    for want in ["10.0.1.10", "10.0.1.11"] {
        assert_eq!(t.reserve_first(c1).unwrap().to_string(), want);
        assert_eq!(d.reserve_first("c=1").unwrap().to_string(), want);
    }
    assert_eq!(t.reserve_first(c2).unwrap().to_string(), "10.0.2.10");
    assert_eq!(d.reserve_first("c=2").unwrap().to_string(), "10.0.2.10");
    t.release(Ip4([10, 0, 1, 11])).unwrap();
    d.release("10.0.1.11").unwrap();
    assert_eq!(t.reserve_first(c1).unwrap().to_string(), "10.0.1.12");
    assert_eq!(d.reserve_first("c=1").unwrap().to_string(), "10.0.1.12");
    // `*` is a key of its own: it starts at the beginning.
    assert_eq!(t.reserve_any().unwrap().to_string(), "10.0.1.11");
    assert_eq!(d.reserve_any().unwrap().to_string(), "10.0.1.11");
}

/// Release refuses part of a reservation naming it, on both fronts, and changes nothing.
#[test]
fn release_inside_a_block_names_the_block() {
    let (mut t, mut d) = both::<Grid2>(Policy::LowestFirst);
    t.add_pool(Pattern::any()).unwrap();
    d.add_pool("*").unwrap();
    let b = t
        .owned_by("nic")
        .reserve_block(Pattern::any(), Block::single().extent(0, 2).extent(1, 2))
        .unwrap();
    let db = d.owned_by("nic").reserve_block("*", "a=2, b=2").unwrap();
    assert_eq!(b.to_string(), db.to_string());
    let want = "address 1.1 is inside the reservation 0.0..=1.1 of `nic`; release that, or use release_range";
    let before = (t.snapshot(), d.snapshot());
    assert_eq!(t.release(Grid2([1, 1])).unwrap_err().to_string(), want);
    assert_eq!(d.release("1.1").unwrap_err().to_string(), want);
    let half = "0.0..=0.1 is not one whole reservation: address 0.0 is in the reservation 0.0..=1.1 of `nic`; release that, or use release_range";
    let hb = BlockRange::new(Grid2([0, 0]), Grid2([0, 1])).unwrap();
    assert_eq!(t.release_block(&hb).unwrap_err().to_string(), half);
    let dhb = DynBlockRange::new(
        d.ty().parse_address("0.0").unwrap(),
        d.ty().parse_address("0.1").unwrap(),
    )
    .unwrap();
    assert_eq!(d.release_block(&dhb).unwrap_err().to_string(), half);
    assert_eq!((t.snapshot(), d.snapshot()), before);
    // The explicit cut: the rest stays reserved, each run its own reservation of `nic`.
    assert_eq!(
        t.release_range(Grid2([0, 1]), Grid2([1, 1])),
        Ok(Count::from(2u128))
    );
    assert_eq!(d.release_range("0.1", "1.1"), Ok(Count::from(2u128)));
    for (p, want) in [("0.0", "0.0"), ("1.0", "1.0")] {
        let (f, l, o) = d.reservation(p).unwrap();
        assert_eq!(
            (f.to_string(), l.to_string(), o),
            (want.to_string(), want.to_string(), Some("nic"))
        );
    }
    t.release(Grid2([0, 0])).unwrap();
    d.release("0.0").unwrap();
    assert_eq!(t.release_owner("nic"), Count::from(1u128));
    assert_eq!(d.release_owner("nic"), Count::from(1u128));
    assert_eq!(t.reserved_count(), Count::ZERO);
    assert_eq!(d.reserved_count(), Count::ZERO);
}

// ----- regressions: runtime bugs the model tests found ---------------------------------

/// `release_range` over a run that leaves the pools: the first unreserved address is
/// outside every pool, and the contract says so (as `release` does); the runtime says
/// "not reserved" whenever the unreserved address is not the first of a run of the box.
#[test]

fn release_range_past_a_pool_says_outside() {
    let (mut t, mut d) = both::<One>(Policy::LowestFirst);
    t.add_pool(pat::<One>("x=0..=1")).unwrap();
    d.add_pool("x=0..=1").unwrap();
    t.reserve_range(One([0]), One([1])).unwrap();
    d.reserve_range("0", "1").unwrap();
    let want = "address 2 is outside every pool";
    assert_eq!(t.release(One([2])).unwrap_err().to_string(), want);
    assert_eq!(
        t.release_range(One([0]), One([2])).unwrap_err().to_string(),
        want
    );
    assert_eq!(d.release_range("0", "2").unwrap_err().to_string(), want);
}

/// `reserve_block` with an invalid pattern AND an invalid block shape: the typed front
/// reports the pattern, the dynamic front the block shape.
#[test]

fn dyn_checks_the_block_before_the_pattern() {
    let (mut t, mut d) = both::<One>(Policy::LowestFirst);
    t.add_pool(Pattern::any()).unwrap();
    d.add_pool("*").unwrap();
    let te = t
        .reserve_block(Pattern::any().field(0, 7u128), Block::single().extent(0, 0))
        .unwrap_err()
        .to_string();
    let de = d
        .reserve_block(d.ty().any().with_range(0, 7, 7), "x=0")
        .unwrap_err()
        .to_string();
    assert_eq!(te, "field `x` value 7 is out of range 0..=5");
    assert_eq!(de, te);
}

/// A restored allocator lists a pool's tags in another order: the tag registry is
/// rebuilt in pool order, not in the order tags were first used.
#[test]

fn restore_keeps_the_order_of_pool_tags() {
    let (mut t, mut d) = both::<One>(Policy::LowestFirst);
    t.add_pool_tagged(pat::<One>("x=5"), &["pci", "hot"])
        .unwrap();
    t.add_pool_tagged(pat::<One>("x=0"), &["hot"]).unwrap();
    d.add_pool_tagged("x=5", &["pci", "hot"]).unwrap();
    d.add_pool_tagged("x=0", &["hot"]).unwrap();
    let tags = |a: &Allocator<One>| -> Vec<Vec<String>> {
        a.pools()
            .map(|(_, t)| t.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    let r = Allocator::<One>::restore(&t.snapshot()).unwrap();
    assert_eq!(tags(&r), tags(&t));
    assert_eq!(r.snapshot(), t.snapshot());
    let rd = DynAllocator::restore(d.ty().clone(), &d.snapshot()).unwrap();
    assert_eq!(rd.snapshot(), d.snapshot());
}

/// The next-fit cursor of an explicit full-range pattern is a key of its own (not `*`),
/// but a snapshot writes it as `*`: after a restore the pattern's cursor is gone and
/// `*`'s is overwritten, so the restored allocator continues differently.
#[test]

fn snapshot_keeps_the_cursor_of_an_explicit_full_pattern() {
    let full = "x=0..=5";
    let (mut t, mut d) = both::<One>(Policy::NextFit);
    t.add_pool(Pattern::any()).unwrap();
    d.add_pool("*").unwrap();
    for _ in 0..3 {
        t.reserve_first(pat::<One>(full)).unwrap();
        d.reserve_first(full).unwrap();
    }
    t.release(One([0])).unwrap();
    d.release("0").unwrap();
    let mut rt = Allocator::<One>::restore(&t.snapshot()).unwrap();
    let mut rd = DynAllocator::restore(d.ty().clone(), &d.snapshot()).unwrap();
    // Continuing the original: the pattern resumes after 2; `*` starts at 0.
    assert_eq!(t.clone().reserve_first(pat::<One>(full)).unwrap(), One([3]));
    assert_eq!(t.clone().reserve_any().unwrap(), One([0]));
    assert_eq!(
        rt.clone().reserve_first(pat::<One>(full)).unwrap(),
        One([3])
    );
    assert_eq!(rt.reserve_any().unwrap(), One([0]));
    assert_eq!(rd.clone().reserve_first(full).unwrap().to_string(), "3");
    assert_eq!(rd.reserve_any().unwrap().to_string(), "0");
}

/// In a 128-bit space an explicit full-range pattern and `*` share one next-fit cursor
/// (the key of `*` is the corners `0..=u128::MAX`, the same as the full pattern's).
#[test]

fn next_fit_full_pattern_of_a_128_bit_space_is_not_any() {
    let (mut t, mut d) = both::<Wide>(Policy::NextFit);
    t.add_pool(pat::<Wide>("x=0..=7")).unwrap();
    d.add_pool("x=0..=7").unwrap();
    let full = Pattern::<Wide>::any().field(0, 0..=u128::MAX);
    let dfull = d.ty().any().with_range(0, 0, u128::MAX);
    for want in [0u128, 1] {
        assert_eq!(t.reserve_first(full).unwrap(), Wide([want]));
        assert_eq!(
            d.reserve_first(&dfull).unwrap().to_string(),
            want.to_string()
        );
    }
    t.release(Wide([0])).unwrap();
    d.release("0").unwrap();
    // `*` has made no choice yet: it starts at the beginning.
    assert_eq!(t.reserve_any().unwrap(), Wide([0]));
    assert_eq!(d.reserve_any().unwrap().to_string(), "0");
}

/// A snapshot taken after the only pool carrying a tag was removed, while a next-fit
/// search requiring that tag has a cursor, does not restore at all: the snapshot
/// names the tag, and restore refuses a tag that no pool carries.
#[test]
fn snapshot_after_removing_a_tagged_pool_restores() {
    let (mut t, mut d) = both::<One>(Policy::NextFit);
    t.add_pool(pat::<One>("x=0..=2")).unwrap();
    t.add_pool_tagged(pat::<One>("x=3..=5"), &["hot"]).unwrap();
    d.add_pool("x=0..=2").unwrap();
    d.add_pool_tagged("x=3..=5", &["hot"]).unwrap();
    let x = t.requiring(&["hot"]).reserve_any().unwrap();
    assert_eq!(
        d.requiring(&["hot"]).reserve_any().unwrap().to_string(),
        x.to_string()
    );
    t.release(x).unwrap();
    d.release("3").unwrap();
    t.remove_pool(pat::<One>("x=3..=5")).unwrap();
    d.remove_pool("x=3..=5").unwrap();
    let r = Allocator::<One>::restore(&t.snapshot());
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
    let rd = DynAllocator::restore(d.ty().clone(), &d.snapshot());
    assert!(rd.is_ok(), "{:?}", rd.err().map(|e| e.to_string()));
}

/// After the only pool carrying a tag was removed, a request requiring it fails with
/// "no free address" on the original but "no pool carries tag" on a restored copy.
#[test]
fn restore_keeps_tags_of_removed_pools() {
    let mut t = Allocator::<One>::new();
    t.add_pool(pat::<One>("x=0..=2")).unwrap();
    t.add_pool_tagged(pat::<One>("x=3..=5"), &["hot"]).unwrap();
    t.remove_pool(pat::<One>("x=3..=5")).unwrap();
    let mut r = Allocator::<One>::restore(&t.snapshot()).unwrap();
    let want = t.requiring(&["hot"]).reserve_any().unwrap_err().to_string();
    let got = r.requiring(&["hot"]).reserve_any().unwrap_err().to_string();
    assert_eq!(got, want);
}
