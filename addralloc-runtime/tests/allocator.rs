//! Unit tests of the typed allocator's public API: `Allocator`, `Request`, `Pattern`,
//! `Block`, `BlockRange`, `Count`, `Field` and every `Error` variant.
//!
//! Every failing call is checked with `common::fails`: exact message, and a full
//! snapshot of the allocator (runs, owners, free runs, counts, pools, cursor and the
//! next automatic choice on a clone) equal before and after.

// Empty ranges such as `5..3` are deliberate: they must be refused.
#![allow(clippy::reversed_empty_ranges)]

mod common;

use std::collections::HashSet;
use std::fmt;

use addralloc_runtime::{
    Address, Allocator, Block, BlockRange, Count, Error, Field, Pattern, Policy, MAX_FIELDS,
};

use common::{address_type, fails, pat, snapshot};

// ----- address types ---------------------------------------------------------------

/// `bus:slot.function`, printed in hex like `lspci`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Pci {
    bus: u8,
    slot: u8,
    function: u8,
}

impl Address for Pci {
    const FIELDS: &'static [Field] = &[
        Field::new("bus", 0, 255),
        Field::new("slot", 0, 31),
        Field::new("function", 0, 7),
    ];
    fn field(&self, i: usize) -> u128 {
        [self.bus, self.slot, self.function][i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Pci {
            bus: v[0] as u8,
            slot: v[1] as u8,
            function: v[2] as u8,
        }
    }
}

impl fmt::Display for Pci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.slot, self.function)
    }
}

fn pci(bus: u8, slot: u8, function: u8) -> Pci {
    Pci {
        bus,
        slot,
        function,
    }
}

fn pci_bus0() -> Allocator<Pci> {
    let mut a = Allocator::new();
    a.add_pool(pat::<Pci>("bus=0")).unwrap();
    a
}

address_type!(
    Ipv4,
    4,
    ".",
    [("a", 0, 255), ("b", 0, 255), ("c", 0, 255), ("d", 0, 255)]
);
// A field whose minimum is not 0.
address_type!(Port, 2, ":", [("bus", 0, 3), ("port", 1, 31)]);
// One 128-bit field.
address_type!(V6, 1, ":", [("x", 0, u128::MAX)]);
// A non-power-of-two range: 255 and up are holes of the index space.
address_type!(Odd, 1, ".", [("x", 0, 254)]);
// Holes on the last field of a two-field space.
address_type!(OddTwo, 2, ".", [("a", 0, 4), ("b", 0, 2)]);
// Two 64-bit fields: 128 bits together.
address_type!(
    U64x2,
    2,
    ":",
    [("hi", 0, u64::MAX as u128), ("lo", 0, u64::MAX as u128)]
);
// A field with a single value.
address_type!(Single, 2, ".", [("a", 7, 7), ("b", 0, 3)]);
address_type!(Tiny, 1, ".", [("x", 0, 7)]);
address_type!(Empty, 1, ".", [("x", 5, 4)]);
address_type!(TooWide, 2, ".", [("x", 0, u128::MAX), ("y", 0, 1)]);
address_type!(
    Seventeen,
    17,
    ".",
    [
        ("f0", 0, 1),
        ("f1", 0, 1),
        ("f2", 0, 1),
        ("f3", 0, 1),
        ("f4", 0, 1),
        ("f5", 0, 1),
        ("f6", 0, 1),
        ("f7", 0, 1),
        ("f8", 0, 1),
        ("f9", 0, 1),
        ("f10", 0, 1),
        ("f11", 0, 1),
        ("f12", 0, 1),
        ("f13", 0, 1),
        ("f14", 0, 1),
        ("f15", 0, 1),
        ("f16", 0, 1)
    ]
);

#[derive(Clone, Copy, Debug)]
struct NoFields;

impl Address for NoFields {
    const FIELDS: &'static [Field] = &[];
    fn field(&self, _: usize) -> u128 {
        0
    }
    fn from_fields(_: &[u128]) -> Self {
        NoFields
    }
}

impl fmt::Display for NoFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("-")
    }
}

fn runs<A: Address>(a: &Allocator<A>) -> Vec<String> {
    a.reserved().map(|(s, e)| format!("{s}..={e}")).collect()
}

fn free<A: Address>(a: &Allocator<A>) -> Vec<String> {
    a.free_ranges().map(|(s, e)| format!("{s}..={e}")).collect()
}

fn owners<A: Address>(a: &Allocator<A>) -> Vec<String> {
    a.owners()
        .map(|(s, e, o)| format!("{s}..={e} {o}"))
        .collect()
}

fn br<A: Address>(first: A, last: A) -> BlockRange<A> {
    BlockRange::new(first, last).expect("first <= last")
}

// ----- construction ----------------------------------------------------------------

#[test]
fn new_default_and_policies() {
    let a = Allocator::<Pci>::new();
    assert_eq!(a.policy(), Policy::LowestFirst);
    assert_eq!(Allocator::<Pci>::default().policy(), Policy::LowestFirst);
    assert_eq!(
        Allocator::<Pci>::with_policy(Policy::NextFit).policy(),
        Policy::NextFit
    );
    assert_eq!(
        Allocator::<Pci>::try_new().unwrap().policy(),
        Policy::LowestFirst
    );
    assert_eq!(
        Allocator::<Pci>::try_with_policy(Policy::HighestFirst)
            .unwrap()
            .policy(),
        Policy::HighestFirst
    );
    assert_eq!(Policy::default(), Policy::LowestFirst);
    assert_eq!(a.pools().count(), 0);
    assert_eq!(a.capacity(), 0u128);
    assert_eq!(a.free_count(), Count::ZERO);
    assert_eq!(a.reserved_count(), 0u128);
    assert_eq!(a.reserved().count(), 0);
    assert_eq!(a.free_ranges().count(), 0);
    assert_eq!(a.owners().count(), 0);
}

#[test]
fn debug_shows_policy_and_counts() {
    let mut a = pci_bus0();
    a.reserve(pci(0, 1, 0)).unwrap();
    assert_eq!(
        format!("{a:?}"),
        "Allocator { policy: LowestFirst, pools: 1, reserved: 1, free: 255 }"
    );
}

#[test]
fn layout_errors() {
    fn msg<A: Address>(r: Result<Allocator<A>, Error>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }
    assert_eq!(
        msg(Allocator::<NoFields>::try_new()),
        "unusable address layout: an address type needs at least one field"
    );
    assert_eq!(
        msg(Allocator::<Seventeen>::try_new()),
        "unusable address layout: 17 fields; at most 16 are supported"
    );
    assert_eq!(
        msg(Allocator::<Empty>::try_new()),
        "unusable address layout: field `x` has an empty range"
    );
    assert_eq!(
        msg(Allocator::<TooWide>::try_with_policy(Policy::NextFit)),
        "unusable address layout: the fields' ranges need 129 bits together; at most 128 are supported"
    );
    assert_eq!(MAX_FIELDS, 16);
}

#[test]
#[should_panic(expected = "unusable address layout: field `x` has an empty range")]
fn new_panics_on_a_bad_layout() {
    let _ = Allocator::<Empty>::new();
}

#[test]
#[should_panic(expected = "the fields' ranges need 129 bits together")]
fn with_policy_panics_on_a_bad_layout() {
    let _ = Allocator::<TooWide>::with_policy(Policy::HighestFirst);
}

// ----- fields and addresses ----------------------------------------------------------

#[test]
fn field_and_try_from_fields() {
    let f = Field::new("slot", 0, 31);
    assert!(f.contains(0) && f.contains(31) && !f.contains(32));
    assert_eq!(f.check(31), Ok(31));
    assert_eq!(
        f.check(32).unwrap_err().to_string(),
        "field `slot` value 32 is out of range 0..=31"
    );
    assert_eq!(Pci::try_from_fields(&[0, 2, 7]), Ok(pci(0, 2, 7)));
    assert_eq!(
        Pci::try_from_fields(&[0, 2]).unwrap_err().to_string(),
        "unusable address layout: 2 values given for 3 fields"
    );
    assert_eq!(
        Pci::try_from_fields(&[0, 2, 8]).unwrap_err().to_string(),
        "field `function` value 8 is out of range 0..=7"
    );
}

// ----- pools and tags ----------------------------------------------------------------

#[test]
fn pools_are_listed_in_address_order_with_their_tags() {
    let mut a = Allocator::<Pci>::new();
    a.add_pool_tagged(pat::<Pci>("bus=1"), &["pcie", "hotplug", "pcie"])
        .unwrap();
    a.add_pool(pat::<Pci>("bus=0, slot=1..=31")).unwrap();
    a.add_pool_tagged(pat::<Pci>("bus=2..=3, slot=0..=31, function=0"), &["pci"])
        .unwrap();
    let pools: Vec<(String, Vec<&str>)> = a.pools().map(|(p, t)| (p.to_string(), t)).collect();
    assert_eq!(
        pools,
        vec![
            ("bus=0, slot=1..=31".to_string(), vec![]),
            ("bus=1".to_string(), vec!["pcie", "hotplug"]),
            // A full field range is shown unconstrained.
            ("bus=2..=3, function=0".to_string(), vec!["pci"]),
        ]
    );
    assert_eq!(a.capacity(), 31 * 8 + 256 + 64u128);
    let (p, _) = a.pools().next().unwrap();
    assert_eq!(p.range(0), Some(0..=0));
    assert_eq!(p.range(1), Some(1..=31));
    assert_eq!(p.range(2), None);
}

#[test]
fn overlapping_pools_are_refused() {
    let mut a = Allocator::<Pci>::new();
    a.add_pool(pat::<Pci>("bus=0, slot=1..=31")).unwrap();
    a.add_pool_tagged(pat::<Pci>("bus=1"), &["pcie"]).unwrap();
    let e = fails(
        &mut a,
        "pool `bus=0, slot=3..=5` overlaps pool `bus=0, slot=1..=31`",
        |a| a.add_pool(pat::<Pci>("bus=0, slot=3..=5")),
    );
    assert_eq!(
        e,
        Error::PoolOverlap {
            pool: "bus=0, slot=3..=5".into(),
            existing: "bus=0, slot=1..=31".into()
        }
    );
    // The first overlapping pool in address order is named; a refused pool adds no tag.
    fails(&mut a, "pool `*` overlaps pool `bus=0, slot=1..=31`", |a| {
        a.add_pool_tagged(Pattern::any(), &["new-tag"])
    });
    fails(&mut a, "no pool carries tag `new-tag`", |a| {
        a.requiring(&["new-tag"]).reserve_any()
    });
    // Touching but disjoint is fine.
    a.add_pool(pat::<Pci>("bus=0, slot=0")).unwrap();
    assert_eq!(a.pools().count(), 3);
}

#[test]
fn bad_pool_patterns() {
    let mut a = pci_bus0();
    fails(
        &mut a,
        "field `slot` value 32 is out of range 0..=31",
        |a| a.add_pool(Pattern::any().field(0, 1u8).field(1, 30u8..=32)),
    );
    fails(
        &mut a,
        "invalid pattern `bus=1, slot=5..=4`: the range of field `slot` is empty: it starts after it ends",
        |a| a.add_pool(Pattern::any().field(0, 1u8).field(1, 5u8..5)),
    );
}

#[test]
fn tags_select_pools() {
    let mut a = Allocator::<Pci>::new();
    a.add_pool_tagged(pat::<Pci>("bus=0"), &["pci"]).unwrap();
    a.add_pool_tagged(pat::<Pci>("bus=1"), &["pcie", "hotplug"])
        .unwrap();
    a.add_pool_tagged(pat::<Pci>("bus=2"), &["pcie"]).unwrap();
    assert_eq!(a.requiring(&["pcie"]).reserve_any().unwrap(), pci(1, 0, 0));
    assert_eq!(
        a.requiring(&["hotplug", "pcie"]).reserve_any().unwrap(),
        pci(1, 0, 1)
    );
    assert_eq!(a.reserve_any().unwrap(), pci(0, 0, 0));
    assert_eq!(
        a.requiring(&["pcie"])
            .reserve_first(pat::<Pci>("bus=2..=3"))
            .unwrap(),
        pci(2, 0, 0)
    );
    fails(&mut a, "no pool carries tag `nope`", |a| {
        a.requiring(&["pci", "nope"]).reserve_any()
    });
    fails(
        &mut a,
        "no free address in `*` in pools tagged `pci`, `pcie`",
        |a| a.requiring(&["pci", "pcie"]).reserve_any(),
    );
    fails(
        &mut a,
        "address 00:05.0 is outside every pool tagged `pcie`",
        |a| a.requiring(&["pcie"]).reserve(pci(0, 5, 0)),
    );
    fails(
        &mut a,
        "address 00:05.0 is outside every pool tagged `pcie`, `hotplug`",
        |a| a.requiring(&["pcie", "hotplug"]).reserve(pci(0, 5, 0)),
    );
    fails(&mut a, "no pool carries tag `nope`", |a| {
        a.requiring(&["nope"]).reserve(pci(0, 5, 0))
    });
    // A tagged pool also serves untagged requests.
    assert_eq!(a.reserve(pci(1, 3, 0)).unwrap(), pci(1, 3, 0));
    assert_eq!(
        a.requiring(&["pcie"])
            .reserve_range(pci(2, 4, 0), pci(2, 4, 7))
            .unwrap(),
        br(pci(2, 4, 0), pci(2, 4, 7))
    );
    fails(
        &mut a,
        "address 00:04.0 is outside every pool tagged `pcie`",
        |a| {
            a.requiring(&["pcie"])
                .reserve_range(pci(0, 4, 0), pci(0, 4, 7))
        },
    );
}

#[test]
fn at_most_64_tags() {
    let names: Vec<String> = (0..65).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut a = Allocator::<Ipv4>::new();
    fails(
        &mut a,
        "too many pool tags: at most 64 are supported",
        |a| a.add_pool_tagged(Pattern::any(), &refs),
    );
    for (i, t) in refs.iter().take(64).enumerate() {
        a.add_pool_tagged(Pattern::any().field(0, i as u8), &[*t])
            .unwrap();
    }
    fails(
        &mut a,
        "too many pool tags: at most 64 are supported",
        |a| a.add_pool_tagged(Pattern::any().field(0, 200u8), &["t64"]),
    );
    // Known tags are still fine.
    a.add_pool_tagged(Pattern::any().field(0, 201u8), &["t0", "t63"])
        .unwrap();
    assert_eq!(
        a.requiring(&["t63"]).reserve_any().unwrap(),
        Ipv4([63, 0, 0, 0])
    );
    assert_eq!(
        a.requiring(&["t0", "t63"]).reserve_any().unwrap(),
        Ipv4([201, 0, 0, 0])
    );
    assert_eq!(
        Error::TooManyTags.to_string(),
        "too many pool tags: at most 64 are supported"
    );
}

// ----- reserve -----------------------------------------------------------------------

#[test]
fn reserve_exact() {
    let mut a = Allocator::<Pci>::new();
    fails(&mut a, "address 00:01.0 is outside every pool", |a| {
        a.reserve(pci(0, 1, 0))
    });
    a.add_pool(pat::<Pci>("bus=0, slot=1..=31")).unwrap();
    assert_eq!(a.reserve(pci(0, 1, 0)).unwrap(), pci(0, 1, 0));
    assert!(a.is_reserved(pci(0, 1, 0)));
    let e = fails(&mut a, "address 00:01.0 is already reserved", |a| {
        a.reserve(pci(0, 1, 0))
    });
    assert_eq!(
        e,
        Error::AlreadyReserved {
            address: "00:01.0".into(),
            owner: None
        }
    );
    a.owned_by("isa-bridge").reserve(pci(0, 1, 1)).unwrap();
    fails(
        &mut a,
        "address 00:01.1 is already reserved by `isa-bridge`",
        |a| a.reserve(pci(0, 1, 1)),
    );
    fails(
        &mut a,
        "address 00:01.1 is already reserved by `isa-bridge`",
        |a| a.owned_by("other").reserve(pci(0, 1, 1)),
    );
    fails(&mut a, "address 00:00.0 is outside every pool", |a| {
        a.reserve(pci(0, 0, 0))
    });
    fails(&mut a, "address 01:02.0 is outside every pool", |a| {
        a.reserve(pci(1, 2, 0))
    });
    fails(
        &mut a,
        "field `slot` value 32 is out of range 0..=31",
        |a| a.reserve(pci(0, 32, 0)),
    );
    fails(
        &mut a,
        "field `function` value 8 is out of range 0..=7",
        |a| a.reserve(pci(0, 2, 8)),
    );
    assert_eq!(a.reserved_count(), 2u128);
}

#[test]
fn field_not_starting_at_zero() {
    let mut a = Allocator::<Port>::new();
    a.add_pool(Pattern::any()).unwrap();
    assert_eq!(a.capacity(), 4 * 31u128);
    assert_eq!(a.reserve_any().unwrap(), Port([0, 1]));
    fails(&mut a, "field `port` value 0 is out of range 1..=31", |a| {
        a.reserve(Port([0, 0]))
    });
    assert_eq!(a.reserve(Port([0, 31])).unwrap(), Port([0, 31]));
    assert_eq!(a.reserve(Port([1, 1])).unwrap(), Port([1, 1]));
    // Runs are runs of the index space: `port` takes 5 bits and 32 is a hole, so 0:31
    // and 1:1 are separate runs although no address lies between them.
    assert_eq!(runs(&a), ["0:1..=0:1", "0:31..=0:31", "1:1..=1:1"]);
    assert!(!a.is_reserved(Port([0, 0])));
    assert_eq!(a.owner_of(Port([0, 0])), None);
}

// ----- reserve_first / reserve_any / reserve_preferred --------------------------------

#[test]
fn reserve_first_takes_the_lowest_free_match() {
    let mut a = pci_bus0();
    a.reserve(pci(0, 3, 0)).unwrap();
    assert_eq!(
        a.reserve_first(pat::<Pci>("slot=3..=5")).unwrap(),
        pci(0, 3, 1)
    );
    assert_eq!(
        a.reserve_first(Pattern::any().field(1, 4u8..).field(2, 0u8))
            .unwrap(),
        pci(0, 4, 0)
    );
    assert_eq!(
        a.reserve_first(Pattern::exact(pci(0, 9, 9 - 2))).unwrap(),
        pci(0, 9, 7)
    );
    fails(
        &mut a,
        "no free address in `bus=0..=255, slot=9, function=7`",
        |a| a.reserve_first(Pattern::exact(pci(0, 9, 7)).field::<u8>(0, ..)),
    );
    fails(&mut a, "no free address in `bus=1`", |a| {
        a.reserve_first(pat::<Pci>("bus=1"))
    });
    fails(
        &mut a,
        "invalid pattern `slot=5..=2`: the range of field `slot` is empty: it starts after it ends",
        |a| a.reserve_first(Pattern::any().field(1, 5u8..3)),
    );
    fails(
        &mut a,
        "invalid pattern `slot=1..=0`: the range of field `slot` is empty: it starts after it ends",
        |a| a.reserve_first(Pattern::any().field(1, 1u8..1)),
    );
    fails(
        &mut a,
        "field `slot` value 40 is out of range 0..=31",
        |a| a.reserve_first(Pattern::any().field(1, 40u8)),
    );
    fails(
        &mut a,
        "field `bus` value 256 is out of range 0..=255",
        |a| a.reserve_first(Pattern::any().field(0, 255u16..=256)),
    );
    // Fill slot 3 and ask again.
    for f in 2..8 {
        assert_eq!(a.reserve_first(pat::<Pci>("slot=3")).unwrap(), pci(0, 3, f));
    }
    fails(&mut a, "no free address in `slot=3`", |a| {
        a.reserve_first(pat::<Pci>("slot=3"))
    });
    a.add_pool_tagged(pat::<Pci>("bus=7, slot=4..=31"), &["x"])
        .unwrap();
    fails(
        &mut a,
        "no free address in `slot=3` in pools tagged `x`",
        |a| a.requiring(&["x"]).reserve_first(pat::<Pci>("slot=3")),
    );
}

#[test]
fn reserve_any_and_exhaustion() {
    let mut a = Allocator::<Tiny>::new();
    fails(&mut a, "no free address in `*`", |a| a.reserve_any());
    a.add_pool(pat::<Tiny>("x=2..=4")).unwrap();
    let got: Vec<Tiny> = (0..3).map(|_| a.reserve_any().unwrap()).collect();
    assert_eq!(got, [Tiny([2]), Tiny([3]), Tiny([4])]);
    let e = fails(&mut a, "no free address in `*`", |a| a.reserve_any());
    assert_eq!(
        e,
        Error::Exhausted {
            request: "address in `*`".into()
        }
    );
    assert_eq!(a.free_count(), Count::ZERO);
    assert!(a.free_count().is_zero());
}

#[test]
fn reserve_preferred_takes_the_first_pattern_with_room() {
    let mut a = pci_bus0();
    for f in 0..8 {
        a.reserve(pci(0, 1, f)).unwrap();
    }
    let prefs = [
        pat::<Pci>("slot=1"),
        pat::<Pci>("slot=2, function=3"),
        Pattern::any(),
    ];
    assert_eq!(a.reserve_preferred(prefs).unwrap(), (pci(0, 2, 3), 1));
    assert_eq!(a.reserve_preferred(prefs).unwrap(), (pci(0, 0, 0), 2));
    fails(
        &mut a,
        "no free address in any of `slot=1`, `slot=2, function=3`",
        |a| a.reserve_preferred(&prefs[..2]),
    );
    // A bad pattern anywhere in the list fails the call, even after a good one.
    fails(
        &mut a,
        "field `slot` value 99 is out of range 0..=31",
        |a| a.reserve_preferred([Pattern::any(), Pattern::any().field(1, 99u8)]),
    );
    a.add_pool_tagged(pat::<Pci>("bus=1"), &["pcie"]).unwrap();
    assert_eq!(
        a.requiring(&["pcie"])
            .owned_by("nic")
            .reserve_preferred([pat::<Pci>("slot=1"), pat::<Pci>("slot=2")])
            .unwrap(),
        (pci(1, 1, 0), 0)
    );
    assert_eq!(a.owner_of(pci(1, 1, 0)), Some("nic"));
    fails(
        &mut a,
        "no free address in any of `bus=0` in pools tagged `pcie`",
        |a| {
            a.requiring(&["pcie"])
                .reserve_preferred([pat::<Pci>("bus=0")])
        },
    );
    // An empty list has nothing to offer.
    let e = a
        .clone()
        .reserve_preferred(&[] as &[Pattern<Pci>])
        .unwrap_err();
    assert!(matches!(e, Error::Exhausted { .. }), "{e:?}");
}

// ----- reserve_block -----------------------------------------------------------------

#[test]
fn a_pci_slot_starts_at_function_0() {
    let mut a = pci_bus0();
    a.reserve(pci(0, 0, 3)).unwrap();
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    assert_eq!((b.first(), b.last()), (pci(0, 1, 0), pci(0, 1, 7)));
    assert_eq!(b.to_string(), "00:01.0..=00:01.7");
    let b = a
        .reserve_block(
            pat::<Pci>("slot=1..=31"),
            "function=8".parse::<Block<Pci>>().unwrap(),
        )
        .unwrap();
    assert_eq!(b.first(), pci(0, 2, 0));
    assert_eq!(runs(&a), ["00:00.3..=00:00.3", "00:01.0..=00:02.7"]);
    assert_eq!(a.reserved_count(), 17u128);
    // Single functions still fill the lowest free place.
    assert_eq!(a.reserve_any().unwrap(), pci(0, 0, 0));
}

#[test]
fn an_ipv4_slash_29() {
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool(pat::<Ipv4>("a=10, b=0, c=0")).unwrap();
    a.reserve(Ipv4([10, 0, 0, 1])).unwrap();
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(3, 8))
        .unwrap();
    assert_eq!(b.to_string(), "10.0.0.8..=10.0.0.15");
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(3, 8))
        .unwrap();
    assert_eq!(b.to_string(), "10.0.0.16..=10.0.0.23");
    // A /24 does not fit beside them; a /25 in the upper half does.
    fails(&mut a, "no free block of `d=256` in `*`", |a| {
        a.reserve_block(Pattern::any(), Block::single().extent(3, 256))
    });
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(3, 128))
        .unwrap();
    assert_eq!(b.to_string(), "10.0.0.128..=10.0.0.255");
    // Two octets: a /22 is four whole /24s.
    a.add_pool(pat::<Ipv4>("a=10, b=1")).unwrap();
    a.reserve(Ipv4([10, 1, 2, 9])).unwrap();
    let b = a
        .reserve_block(
            pat::<Ipv4>("b=1"),
            "c=4, d=256".parse::<Block<Ipv4>>().unwrap(),
        )
        .unwrap();
    assert_eq!(b.to_string(), "10.1.4.0..=10.1.7.255");
    assert!(b.contains(&Ipv4([10, 1, 5, 77])));
}

#[test]
fn block_alignment_counts_from_zero_not_from_min() {
    let mut a = Allocator::<Port>::new();
    a.add_pool(pat::<Port>("bus=0")).unwrap();
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(1, 4))
        .unwrap();
    assert_eq!(b.to_string(), "0:4..=0:7");
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(1, 4))
        .unwrap();
    assert_eq!(b.to_string(), "0:8..=0:11");
    // 28..=31 is the last aligned block; 1..=3 are never part of one.
    let mut h = Allocator::<Port>::with_policy(Policy::HighestFirst);
    h.add_pool(pat::<Port>("bus=0")).unwrap();
    let b = h
        .reserve_block(Pattern::any(), Block::single().extent(1, 4))
        .unwrap();
    assert_eq!(b.to_string(), "0:28..=0:31");
    for _ in 0..6 {
        h.reserve_block(Pattern::any(), Block::single().extent(1, 4))
            .unwrap();
    }
    fails(&mut h, "no free block of `port=4` in `*`", |a| {
        a.reserve_block(Pattern::any(), Block::single().extent(1, 4))
    });
    assert_eq!(free(&h), ["0:1..=0:3"]);
}

#[test]
fn blocks_on_non_last_fields_are_several_runs() {
    let mut a = pci_bus0();
    a.reserve(pci(0, 1, 0)).unwrap();
    // Four slots, one function each: four separate runs.
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(1, 4))
        .unwrap();
    assert_eq!(b.to_string(), "00:00.1..=00:03.1");
    assert_eq!(
        runs(&a),
        [
            "00:00.1..=00:00.1",
            "00:01.0..=00:01.1",
            "00:02.1..=00:02.1",
            "00:03.1..=00:03.1"
        ]
    );
    assert!(a.is_reserved(pci(0, 2, 1)));
    assert!(!a.is_reserved(pci(0, 2, 0)));
    assert!(!a.is_reserved(pci(0, 2, 2)));
    assert_eq!(a.reserved_count(), 5u128);
    // Two slots by two functions, aligned on both fields.
    let b = a
        .reserve_block(
            pat::<Pci>("slot=0..=3"),
            "slot=2, function=2".parse::<Block<Pci>>().unwrap(),
        )
        .unwrap();
    assert_eq!(b.to_string(), "00:00.2..=00:01.3");
    let b = a
        .reserve_block(
            pat::<Pci>("slot=1..=3"),
            "slot=2, function=2".parse::<Block<Pci>>().unwrap(),
        )
        .unwrap();
    assert_eq!(b.to_string(), "00:02.2..=00:03.3");
    a.release_block(&b).unwrap();
    assert!(!a.is_reserved(pci(0, 3, 3)));
    assert!(a.is_reserved(pci(0, 3, 1)));
}

#[test]
fn block_pattern_limits_the_aligned_starts() {
    let mut a = pci_bus0();
    // Slots 3..=5 hold one aligned pair of slots: 4..=5.
    let two_slots = Block::<Pci>::single().extent(1, 2).extent(2, 8);
    let b = a
        .reserve_block(pat::<Pci>("slot=3..=5"), two_slots)
        .unwrap();
    assert_eq!(b.to_string(), "00:04.0..=00:05.7");
    fails(
        &mut a,
        "no free block of `slot=2, function=8` in `slot=3..=5`",
        |a| a.reserve_block(pat::<Pci>("slot=3..=5"), two_slots),
    );
    fails(&mut a, "no free block of `function=8` in `bus=1`", |a| {
        a.reserve_block(pat::<Pci>("bus=1"), Block::single().extent(2, 8))
    });
    fails(&mut a, "no free block of `1` in `bus=1`", |a| {
        a.reserve_block(pat::<Pci>("bus=1"), Block::single())
    });
    a.add_pool_tagged(pat::<Pci>("bus=1, slot=0, function=0..=3"), &["pcie"])
        .unwrap();
    fails(
        &mut a,
        "no free block of `function=8` in `*` in pools tagged `pcie`",
        |a| {
            a.requiring(&["pcie"])
                .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        },
    );
}

#[test]
fn bad_block_extents() {
    let mut a = pci_bus0();
    let e = fails(
        &mut a,
        "invalid block extent 0 for field `function`: an extent is at least 1",
        |a| a.reserve_block(Pattern::any(), Block::single().extent(2, 0)),
    );
    assert_eq!(
        e,
        Error::BadBlock {
            field: "function".into(),
            extent: 0,
            reason: "an extent is at least 1".into()
        }
    );
    fails(
        &mut a,
        "invalid block extent 9 for field `function`: the field has only 8 values (0..=7)",
        |a| a.reserve_block(Pattern::any(), Block::single().extent(2, 9)),
    );
    fails(
        &mut a,
        "invalid block extent 33 for field `slot`: the field has only 32 values (0..=31)",
        |a| {
            a.owned_by("x")
                .reserve_block(Pattern::any(), Block::single().extent(1, 33))
        },
    );
    // The pattern is checked before the block, the block before the tags.
    fails(
        &mut a,
        "field `slot` value 32 is out of range 0..=31",
        |a| a.reserve_block(Pattern::any().field(1, 32u8), Block::single().extent(2, 0)),
    );
    fails(
        &mut a,
        "invalid block extent 0 for field `function`: an extent is at least 1",
        |a| {
            a.requiring(&["nope"])
                .reserve_block(Pattern::any(), Block::single().extent(2, 0))
        },
    );
    let mut s = Allocator::<Single>::new();
    s.add_pool(Pattern::any()).unwrap();
    fails(
        &mut s,
        "invalid block extent 2 for field `a`: the field has only 1 values (7..=7)",
        |a| a.reserve_block(Pattern::any(), Block::single().extent(0, 2)),
    );
}

#[test]
fn holes_of_a_non_power_of_two_range_are_never_handed_out() {
    for policy in [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst] {
        let mut a = Allocator::<Odd>::with_policy(policy);
        a.add_pool(Pattern::any()).unwrap();
        assert_eq!(a.capacity(), 255u128);
        let mut seen = HashSet::new();
        for _ in 0..255 {
            let x = a.reserve_any().unwrap();
            assert!(x.0[0] <= 254, "{policy:?} handed out {x}");
            assert!(seen.insert(x));
        }
        fails(&mut a, "no free address in `*`", |a| a.reserve_any());
        assert_eq!(runs(&a), ["0..=254"]);

        let mut b = Allocator::<Odd>::with_policy(policy);
        b.add_pool(Pattern::any()).unwrap();
        // 248..=255 would be the last /29; 255 is a hole.
        let last = (0..31)
            .map(|_| {
                b.reserve_block(Pattern::any(), Block::single().extent(0, 8))
                    .unwrap()
            })
            .map(|r| r.last().0[0])
            .max()
            .unwrap();
        assert_eq!(last, 247, "{policy:?}");
        fails(&mut b, "no free block of `x=8` in `*`", |a| {
            a.reserve_block(Pattern::any(), Block::single().extent(0, 8))
        });
        assert_eq!(free(&b), ["248..=254"]);
        let mut c = Allocator::<Odd>::with_policy(policy);
        c.add_pool(Pattern::any()).unwrap();
        let r = c
            .reserve_block(Pattern::any(), Block::single().extent(0, 255))
            .unwrap();
        assert_eq!(r.to_string(), "0..=254");
    }
    // Holes on the last field of two: every address of 0..=4 × 0..=2 exactly once.
    for policy in [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst] {
        let mut a = Allocator::<OddTwo>::with_policy(policy);
        a.add_pool(Pattern::any()).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..15 {
            let x = a.reserve_any().unwrap();
            assert!(x.0[1] <= 2, "{policy:?} handed out {x}");
            assert!(seen.insert(x));
        }
        fails(&mut a, "no free address in `*`", |a| a.reserve_any());
        // Runs break at the holes.
        assert_eq!(a.reserved().count(), 5);
    }
}

#[test]
fn a_field_with_a_single_value() {
    let mut a = Allocator::<Single>::new();
    a.add_pool(Pattern::any()).unwrap();
    assert_eq!(a.capacity(), 4u128);
    assert_eq!(a.reserve_any().unwrap(), Single([7, 0]));
    fails(&mut a, "field `a` value 6 is out of range 7..=7", |a| {
        a.reserve(Single([6, 1]))
    });
    let b = a
        .reserve_block(pat::<Single>("a=7"), Block::single().extent(1, 2))
        .unwrap();
    assert_eq!(b.to_string(), "7.2..=7.3");
    assert_eq!(a.reserve_any().unwrap(), Single([7, 1]));
    assert_eq!(runs(&a), ["7.0..=7.3"]);
    assert_eq!(a.pools().next().unwrap().0.to_string(), "*");
}

// ----- reserve_range -----------------------------------------------------------------

#[test]
fn reserve_range_reserves_a_box() {
    let mut a = pci_bus0();
    let r = a.reserve_range(pci(0, 2, 3), pci(0, 3, 4)).unwrap();
    assert_eq!(r.to_string(), "00:02.3..=00:03.4");
    assert_eq!(runs(&a), ["00:02.3..=00:02.4", "00:03.3..=00:03.4"]);
    assert_eq!(a.reserved_count(), 4u128);
    a.owned_by("disk").reserve(pci(0, 5, 5)).unwrap();
    fails(
        &mut a,
        "address 00:05.5 is already reserved by `disk`",
        |a| a.reserve_range(pci(0, 4, 0), pci(0, 6, 7)),
    );
    // The first taken address in address order is named.
    fails(&mut a, "address 00:02.4 is already reserved", |a| {
        a.reserve_range(pci(0, 2, 4), pci(0, 5, 7))
    });
    fails(&mut a, "address 00:1f.0 is outside every pool", |a| {
        a.reserve_range(pci(0, 31, 0), pci(1, 31, 7))
    });
    fails(
        &mut a,
        "field `function` value 9 is out of range 0..=7",
        |a| a.reserve_range(pci(0, 6, 0), pci(0, 6, 9)),
    );
    // Inside one pool: two neighbouring pools together do not do.
    a.add_pool(pat::<Pci>("bus=1")).unwrap();
    fails(&mut a, "address 00:1f.0 is outside every pool", |a| {
        a.reserve_range(pci(0, 31, 0), pci(1, 31, 7))
    });
    let r = a
        .owned_by("vm")
        .reserve_range(pci(1, 0, 0), pci(1, 0, 0))
        .unwrap();
    assert_eq!(a.owner_of(r.first()), Some("vm"));
}

// ----- release -------------------------------------------------------------------------

#[test]
fn release_and_coalescing_of_single_addresses() {
    let mut a = Allocator::<Tiny>::new();
    a.add_pool(Pattern::any()).unwrap();
    for x in [1, 0, 2] {
        a.reserve(Tiny([x])).unwrap();
    }
    assert_eq!(runs(&a), ["0..=2"]);
    a.release(Tiny([1])).unwrap();
    assert_eq!(runs(&a), ["0..=0", "2..=2"]);
    assert_eq!(free(&a), ["1..=1", "3..=7"]);
    fails(&mut a, "address 1 is not reserved", |a| {
        a.release(Tiny([1]))
    });
    fails(&mut a, "field `x` value 8 is out of range 0..=7", |a| {
        a.release(Tiny([8]))
    });
    a.reserve(Tiny([1])).unwrap();
    assert_eq!(runs(&a), ["0..=2"]);
    a.release(Tiny([0])).unwrap();
    a.release(Tiny([2])).unwrap();
    a.release(Tiny([1])).unwrap();
    assert_eq!(runs(&a), Vec::<String>::new());
    assert_eq!(free(&a), ["0..=7"]);
    // Addresses 0 and 1.
    a.reserve(Tiny([0])).unwrap();
    a.reserve(Tiny([1])).unwrap();
    a.release(Tiny([0])).unwrap();
    assert_eq!(a.reserve_any().unwrap(), Tiny([0]));
    assert_eq!(runs(&a), ["0..=1"]);
    fails(&mut a, "address 5 is not reserved", |a| {
        a.release(Tiny([5]))
    });
    let e = Error::NotReserved {
        address: "5".into(),
    };
    assert_eq!(e.to_string(), "address 5 is not reserved");
}

#[test]
fn release_outside_pools_says_so() {
    let mut a = pci_bus0();
    fails(&mut a, "address 05:00.0 is outside every pool", |a| {
        a.release(pci(5, 0, 0))
    });
    fails(&mut a, "address 00:05.0 is not reserved", |a| {
        a.release(pci(0, 5, 0))
    });
}

#[test]
fn release_frees_one_whole_reservation_or_nothing() {
    let mut a = pci_bus0();
    let slot = a
        .owned_by("nic")
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    // Part of the block: refused, naming the block and its owner.
    let e = fails(
        &mut a,
        "address 00:00.5 is inside the reservation 00:00.0..=00:00.7 of `nic`; release that, or use release_range",
        |a| a.release(pci(0, 0, 5)),
    );
    assert_eq!(
        e,
        Error::NotWhole {
            request: None,
            address: "00:00.5".into(),
            reservation: "00:00.0..=00:00.7".into(),
            owner: Some("nic".into()),
        }
    );
    // A block that is not exactly one reservation.
    fails(
        &mut a,
        "00:00.4..=00:00.7 is not one whole reservation: address 00:00.4 is in the reservation 00:00.0..=00:00.7 of `nic`; release that, or use release_range",
        |a| a.release_block(&br(pci(0, 0, 4), pci(0, 0, 7))),
    );
    // Two adjacent reservations are not one, even though their runs coalesce.
    let next = a
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    assert_eq!(next.to_string(), "00:01.0..=00:01.7");
    assert_eq!(runs(&a), ["00:00.0..=00:01.7"]);
    fails(
        &mut a,
        "00:00.0..=00:01.7 is not one whole reservation: address 00:00.0 is in the reservation 00:00.0..=00:00.7 of `nic`; release that, or use release_range",
        |a| a.release_block(&br(pci(0, 0, 0), pci(0, 1, 7))),
    );
    // The second half of one and the first half of the next: refused, nothing cut.
    fails(
        &mut a,
        "00:00.4..=00:01.7 is not one whole reservation: address 00:00.4 is in the reservation 00:00.0..=00:00.7 of `nic`; release that, or use release_range",
        |a| a.release_block(&br(pci(0, 0, 4), pci(0, 1, 7))),
    );
    fails(&mut a, "address 00:02.0 is not reserved", |a| {
        a.release_block(&br(pci(0, 2, 0), pci(0, 2, 7)))
    });
    fails(
        &mut a,
        "field `slot` value 32 is out of range 0..=31",
        |a| a.release_block(&br(pci(0, 0, 0), pci(0, 32, 0))),
    );
    a.release_block(&slot).unwrap();
    assert_eq!(a.reservation(pci(0, 0, 3)), None);
    assert_eq!(
        a.reservation(pci(0, 1, 3)),
        Some((pci(0, 1, 0), pci(0, 1, 7), None))
    );
    a.release_block(&next).unwrap();
    assert_eq!(a.reserved_count(), 0u128);
    assert_eq!(a.owners().count(), 0);
    // A range is one reservation too; release_range cuts explicitly.
    let r = a.reserve_range(pci(0, 4, 0), pci(0, 6, 7)).unwrap();
    assert_eq!(a.release_range(pci(0, 5, 2), pci(0, 6, 3)).unwrap(), 4u128);
    assert_eq!(
        runs(&a),
        [
            "00:04.0..=00:05.1",
            "00:05.4..=00:06.1",
            "00:06.4..=00:06.7"
        ]
    );
    // The rest are reservations of their own, one per run.
    fails(
        &mut a,
        "00:04.0..=00:06.7 is not one whole reservation: address 00:04.0 is in the reservation 00:04.0..=00:05.1; release that, or use release_range",
        |a| a.release_block(&r),
    );
    a.release_block(&br(pci(0, 6, 4), pci(0, 6, 7))).unwrap();
    fails(&mut a, "address 00:05.2 is not reserved", |a| {
        a.release_range(pci(0, 5, 0), pci(0, 5, 7))
    });
}

#[test]
fn release_owner_frees_everything_one_owner_holds() {
    let mut a = pci_bus0();
    a.owned_by("vm1").reserve(pci(0, 1, 0)).unwrap();
    a.owned_by("vm2").reserve(pci(0, 1, 1)).unwrap();
    a.owned_by("vm1")
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    a.reserve(pci(0, 3, 0)).unwrap();
    assert_eq!(a.release_owner("vm1"), 9u128);
    assert_eq!(a.release_owner("vm1"), 0u128);
    assert_eq!(a.release_owner("nobody"), 0u128);
    assert_eq!(owners(&a), ["00:01.1..=00:01.1 vm2"]);
    assert_eq!(runs(&a), ["00:01.1..=00:01.1", "00:03.0..=00:03.0"]);
}

#[test]
fn adjacent_reservations_of_one_owner_stay_separate() {
    let mut a = pci_bus0();
    let x = a
        .owned_by("gpu")
        .reserve_range(pci(0, 1, 0), pci(0, 1, 3))
        .unwrap();
    let y = a
        .owned_by("gpu")
        .reserve_range(pci(0, 1, 4), pci(0, 1, 7))
        .unwrap();
    assert_eq!(
        owners(&a),
        ["00:01.0..=00:01.3 gpu", "00:01.4..=00:01.7 gpu"]
    );
    a.release_block(&x).unwrap();
    assert_eq!(a.owner_of(pci(0, 1, 5)), Some("gpu"));
    a.release_block(&y).unwrap();
    assert_eq!(a.reserved_count(), 0u128);
}

// ----- owners ------------------------------------------------------------------------

#[test]
fn owners_survive_partial_release_of_a_block() {
    let mut a = pci_bus0();
    a.reserve(pci(0, 0, 0)).unwrap();
    let b = a
        .owned_by("gpu")
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    a.owned_by("nic").reserve(pci(0, 2, 0)).unwrap();
    assert_eq!(
        owners(&a),
        ["00:01.0..=00:01.7 gpu", "00:02.0..=00:02.0 nic"]
    );
    a.release_range(pci(0, 1, 3), pci(0, 1, 3)).unwrap();
    assert_eq!(a.owner_of(pci(0, 1, 2)), Some("gpu"));
    assert_eq!(a.owner_of(pci(0, 1, 3)), None);
    assert_eq!(a.owner_of(pci(0, 1, 4)), Some("gpu"));
    assert_eq!(a.owner_of(pci(0, 0, 0)), None);
    assert_eq!(a.owner_of(pci(0, 2, 0)), Some("nic"));
    assert_eq!(a.owner_of(pci(0, 99, 0)), None);
    assert_eq!(
        owners(&a),
        [
            "00:01.0..=00:01.2 gpu",
            "00:01.4..=00:01.7 gpu",
            "00:02.0..=00:02.0 nic"
        ]
    );
    // Reserved runs do not care about owners.
    assert_eq!(
        runs(&a),
        [
            "00:00.0..=00:00.0",
            "00:01.0..=00:01.2",
            "00:01.4..=00:02.0"
        ]
    );
    a.release_range(pci(0, 1, 4), pci(0, 1, 5)).unwrap();
    assert_eq!(
        owners(&a),
        [
            "00:01.0..=00:01.2 gpu",
            "00:01.6..=00:01.7 gpu",
            "00:02.0..=00:02.0 nic"
        ]
    );
    fails(
        &mut a,
        "00:01.0..=00:01.7 is not one whole reservation: address 00:01.0 is in the reservation 00:01.0..=00:01.2 of `gpu`; release that, or use release_range",
        |a| a.release_block(&b),
    );
    // A re-reservation without a label carries none.
    a.reserve(pci(0, 1, 3)).unwrap();
    assert_eq!(a.owner_of(pci(0, 1, 3)), None);
    fails(
        &mut a,
        "address 00:01.7 is already reserved by `gpu`",
        |a| a.reserve(pci(0, 1, 7)),
    );
}

#[test]
fn requests_combine_owner_and_tags() {
    let mut a = Allocator::<Pci>::new();
    a.add_pool_tagged(pat::<Pci>("bus=0"), &["pci"]).unwrap();
    a.add_pool_tagged(pat::<Pci>("bus=1"), &["pcie"]).unwrap();
    let x = a
        .owned_by("a")
        .requiring(&["pcie"])
        .reserve_first(pat::<Pci>("slot=4"))
        .unwrap();
    assert_eq!((x, a.owner_of(x)), (pci(1, 4, 0), Some("a")));
    let x = a.requiring(&["pcie"]).owned_by("b").reserve_any().unwrap();
    assert_eq!((x, a.owner_of(x)), (pci(1, 0, 0), Some("b")));
    let x = a
        .owned_by("c")
        .owned_by("d")
        .reserve(pci(0, 9, 9 - 8))
        .unwrap();
    assert_eq!(a.owner_of(x), Some("d"));
    let b = a
        .requiring(&["pci"])
        .owned_by("e")
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    assert_eq!(b.first(), pci(0, 0, 0));
    assert_eq!(a.owner_of(pci(0, 0, 7)), Some("e"));
    let r = a
        .requiring(&["pci"])
        .reserve_range(pci(0, 3, 0), pci(0, 3, 1))
        .unwrap();
    assert_eq!(a.owner_of(r.last()), None);
    let (x, i) = a
        .owned_by("f")
        .reserve_preferred([pat::<Pci>("bus=1, slot=0, function=0")])
        .unwrap_or((pci(0, 0, 0), 99));
    assert_eq!((x, i), (pci(0, 0, 0), 99), "bus 1 slot 0 fn 0 is taken");
    fails(
        &mut a,
        "no free address in any of `bus=1, slot=0, function=0`",
        |a| {
            a.owned_by("f")
                .reserve_preferred([pat::<Pci>("bus=1, slot=0, function=0")])
        },
    );
    // The later `requiring` replaces the earlier one.
    let x = a
        .requiring(&["nope"])
        .requiring(&["pcie"])
        .reserve_any()
        .unwrap();
    assert_eq!(x, pci(1, 0, 1));
}

// ----- iteration and counts ----------------------------------------------------------

#[test]
fn runs_cross_field_boundaries_and_free_ranges_go_pool_by_pool() {
    let mut a = Allocator::<Pci>::new();
    a.add_pool(pat::<Pci>("bus=0, slot=1..=2")).unwrap();
    a.add_pool(pat::<Pci>("bus=0, slot=3")).unwrap();
    a.add_pool(pat::<Pci>("bus=0, slot=5, function=2..=3"))
        .unwrap();
    a.reserve(pci(0, 1, 7)).unwrap();
    a.reserve(pci(0, 2, 0)).unwrap();
    a.reserve(pci(0, 3, 0)).unwrap();
    a.reserve(pci(0, 2, 7)).unwrap();
    assert_eq!(runs(&a), ["00:01.7..=00:02.0", "00:02.7..=00:03.0"]);
    assert_eq!(
        free(&a),
        [
            "00:01.0..=00:01.6",
            "00:02.1..=00:02.6",
            "00:03.1..=00:03.7",
            "00:05.2..=00:05.3"
        ]
    );
    assert_eq!(a.capacity(), 26u128);
    assert_eq!(a.free_count(), 22u128);
    assert_eq!(a.reserved_count(), 4u128);
    assert_eq!(
        a.free_count_in(pat::<Pci>("function=0..=2")),
        Ok(Count::from(8u128))
    );
    assert_eq!(
        a.free_count_in(pat::<Pci>("slot=3..=31")),
        Ok(Count::from(9u128))
    );
    assert_eq!(a.free_count_in(pat::<Pci>("bus=1")), Ok(Count::ZERO));
    assert_eq!(a.free_count_in(Pattern::any()), Ok(a.free_count()));
    assert_eq!(
        a.free_count_in(Pattern::any().field(2, 8u8))
            .unwrap_err()
            .to_string(),
        "field `function` value 8 is out of range 0..=7"
    );
    assert_eq!(
        a.free_count_in(Pattern::any().field(2, 3u8..3))
            .unwrap_err()
            .to_string(),
        "invalid pattern `function=3..=2`: the range of field `function` is empty: it starts after it ends"
    );
}

#[test]
fn a_full_128_bit_field() {
    let mut a = Allocator::<V6>::new();
    a.add_pool(Pattern::any()).unwrap();
    assert_eq!(a.capacity(), Count::FULL_128);
    assert_eq!(
        a.capacity().to_string(),
        "340282366920938463463374607431768211456"
    );
    assert_eq!(a.free_count(), Count::FULL_128);
    assert_eq!(a.reserve_any().unwrap(), V6([0]));
    assert_eq!(a.reserve_any().unwrap(), V6([1]));
    assert_eq!(a.free_count(), u128::MAX - 1);
    assert_eq!(a.reserve(V6([u128::MAX])).unwrap(), V6([u128::MAX]));
    fails(
        &mut a,
        "address 340282366920938463463374607431768211455 is already reserved",
        |a| a.reserve(V6([u128::MAX])),
    );
    assert_eq!(
        runs(&a),
        [
            "0..=1",
            "340282366920938463463374607431768211455..=340282366920938463463374607431768211455"
        ]
    );
    a.reserve(V6([u128::MAX - 1])).unwrap();
    assert_eq!(a.reserved().count(), 2);
    assert_eq!(a.reserved_count(), 4u128);
    assert_eq!(
        a.free_count_in(Pattern::any().field(0, u128::MAX - 9..)),
        Ok(Count::from(8u128))
    );
    a.release(V6([u128::MAX])).unwrap();
    a.release(V6([0])).unwrap();
    assert_eq!(a.reserve_any().unwrap(), V6([0]));
    assert_eq!(free(&a).len(), 2);
    // Top down, singles and blocks, at the very top.
    let mut h = Allocator::<V6>::with_policy(Policy::HighestFirst);
    h.add_pool(Pattern::any()).unwrap();
    assert_eq!(h.reserve_any().unwrap(), V6([u128::MAX]));
    let b = h
        .reserve_block(Pattern::any(), Block::single().extent(0, 16))
        .unwrap();
    assert_eq!(b.first(), V6([u128::MAX - 31]));
    assert_eq!(b.last(), V6([u128::MAX - 16]));
    // Half the space: the lower half is the only aligned free one left.
    let b = h
        .reserve_block(Pattern::any(), Block::single().extent(0, 1 << 127))
        .unwrap();
    assert_eq!((b.first(), b.last()), (V6([0]), V6([(1 << 127) - 1])));
    assert_eq!(h.free_count(), Count::from((1u128 << 127) - 17));
    // Extents are not limited on a 2^128-value field; nothing that size fits now.
    fails(
        &mut h,
        "no free block of `x=340282366920938463463374607431768211455` in `*`",
        |a| a.reserve_block(Pattern::any(), Block::single().extent(0, u128::MAX)),
    );
    // Next fit wraps around at the maximum.
    let mut n = Allocator::<V6>::with_policy(Policy::NextFit);
    n.add_pool(Pattern::any()).unwrap();
    n.reserve_first(Pattern::any().field(0, u128::MAX)).unwrap();
    assert_eq!(n.reserve_any().unwrap(), V6([0]));
    assert_eq!(n.reserve_any().unwrap(), V6([1]));
}

#[test]
fn two_64_bit_fields_count_across_2_pow_128() {
    const M: u128 = u64::MAX as u128;
    let mut a = Allocator::<U64x2>::new();
    a.add_pool(Pattern::any()).unwrap();
    assert_eq!(a.capacity(), Count::FULL_128);
    a.reserve(U64x2([5, M])).unwrap();
    a.reserve(U64x2([6, 0])).unwrap();
    assert_eq!(runs(&a), [format!("5:{M}..=6:0")]);
    assert_eq!(a.free_count(), u128::MAX - 1);
    assert_eq!(
        a.free_count_in(Pattern::any().field(0, 5u64)),
        Ok(Count::from(M))
    );
    assert_eq!(
        a.free_count_in(Pattern::any().field(1, 0u64..=9)),
        Ok(Count::from((10u128 << 64) - 1))
    );
    assert_eq!(
        a.free_count_in(Pattern::any().field(0, ..=u64::MAX)),
        Ok(Count::from(u128::MAX - 1))
    );
    assert_eq!(
        a.reserve_first(pat::<U64x2>("hi=5")).unwrap(),
        U64x2([5, 0])
    );
    let mut h = Allocator::<U64x2>::with_policy(Policy::HighestFirst);
    h.add_pool(Pattern::any()).unwrap();
    assert_eq!(h.reserve_any().unwrap(), U64x2([M, M]));
    // The whole space as one block, top down and bottom up.
    let whole = Block::single().extent(0, M + 1).extent(1, M + 1);
    fails(
        &mut h,
        "no free block of `hi=18446744073709551616, lo=18446744073709551616` in `*`",
        |a| a.reserve_block(Pattern::any(), whole),
    );
    h.release(U64x2([M, M])).unwrap();
    let b = h.reserve_block(Pattern::any(), whole).unwrap();
    assert_eq!((b.first(), b.last()), (U64x2([0, 0]), U64x2([M, M])));
    let mut w = Allocator::<U64x2>::with_policy(Policy::NextFit);
    w.add_pool(Pattern::any()).unwrap();
    w.reserve(U64x2([0, 0])).unwrap();
    fails(
        &mut w,
        "no free block of `hi=18446744073709551616, lo=18446744073709551616` in `*`",
        |a| a.reserve_block(Pattern::any(), whole),
    );
    let mut w = Allocator::<U64x2>::new();
    w.add_pool(Pattern::any()).unwrap();
    let b = w.reserve_block(Pattern::any(), whole).unwrap();
    assert_eq!((b.first(), b.last()), (U64x2([0, 0]), U64x2([M, M])));
    assert_eq!(w.reserved_count(), Count::FULL_128);
    assert_eq!(w.free_count(), Count::ZERO);
    fails(&mut w, "no free address in `*`", |a| a.reserve_any());
    w.release_range(U64x2([M, M]), U64x2([M, M])).unwrap();
    assert_eq!(w.reserved_count(), u128::MAX);
    assert_eq!(w.reserve_any().unwrap(), U64x2([M, M]));
    assert_eq!(
        w.release_range(b.first(), b.last()).unwrap(),
        Count::FULL_128
    );
    assert_eq!(w.reserved_count(), 0u128);
    assert_eq!(w.free_ranges().count(), 1);
}

/// DESIGN.md: "sequential reservation is O(1) amortized". A pool that is one run per
/// /24 (`d=1..=254`, the usual IPAM shape): a search that hops over every /24 filled so
/// far makes the fill quadratic (101 600 calls took 2.3 s in release before the pool
/// hints in `engine/state.rs`; 0.3 s in debug with them).
#[test]
fn sequential_fill_of_a_striped_pool_is_linear() {
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool(pat::<Ipv4>("a=10, d=1..=254")).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..254 * 400 {
        a.reserve_any().unwrap();
    }
    assert_eq!(a.reserved().count(), 400);
    assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
}

/// Repeating one constrained request resumes where the previous one ended (the engine
/// keeps lowest-first hints for recent patterns) instead of hopping over every earlier
/// reservation inside the pattern: 8,000 fills of `d=1` are linear, not quadratic (the
/// quadratic version took seconds in release; this runs in milliseconds in debug).
/// A release below the hint lowers it again.
#[test]
fn sequential_fill_of_a_striped_pattern_is_linear() {
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool(pat::<Ipv4>("a=10")).unwrap();
    let p = pat::<Ipv4>("d=1");
    for _ in 0..8000 {
        a.reserve_first(p).unwrap();
    }
    assert_eq!(a.reserved().count(), 8000);
    // The 8,000th is 10.31.63.1: `c` counts 0..=255 under each `b`.
    assert_eq!(a.reserved().last().unwrap().0, Ipv4([10, 31, 63, 1]));
    a.release(Ipv4([10, 0, 5, 1])).unwrap();
    assert_eq!(a.reserve_first(p).unwrap(), Ipv4([10, 0, 5, 1]));
    assert_eq!(a.reserve_first(p).unwrap(), Ipv4([10, 31, 64, 1]));
}

#[test]
fn memory_grows_with_fragmentation_not_with_addresses() {
    let mut a = Allocator::<V6>::new();
    a.add_pool(Pattern::any()).unwrap();
    let small = a.heap_bytes();
    a.reserve_range(V6([0]), V6([1 << 100])).unwrap();
    let one_range = a.heap_bytes();
    // One run in the set and one record of the reservation's extent.
    assert!(one_range <= small + 640, "{small} then {one_range} bytes");
    assert_eq!(a.reserved_count(), (1u128 << 100) + 1);
    for i in 0..200u128 {
        a.reserve(V6([(1 << 101) + 2 * i])).unwrap();
    }
    assert!(a.heap_bytes() > one_range);
    assert_eq!(a.reserved().count(), 201);
    assert!(
        a.heap_bytes() < 64 * 201 + one_range,
        "{} bytes",
        a.heap_bytes()
    );
}

// ----- policies ----------------------------------------------------------------------

#[test]
fn next_fit_does_not_hand_back_a_just_released_address() {
    let mut a = Allocator::<Tiny>::with_policy(Policy::NextFit);
    a.add_pool(Pattern::any()).unwrap();
    for x in 0..3 {
        assert_eq!(a.reserve_any().unwrap(), Tiny([x]));
    }
    a.release(Tiny([1])).unwrap();
    assert_eq!(a.reserve_any().unwrap(), Tiny([3]));
    a.release(Tiny([3])).unwrap();
    assert_eq!(a.reserve_any().unwrap(), Tiny([4]));
    // An exact reservation does not move the position.
    a.reserve(Tiny([6])).unwrap();
    assert_eq!(a.reserve_any().unwrap(), Tiny([5]));
    assert_eq!(a.reserve_any().unwrap(), Tiny([7]));
    // Wraps around to the lowest free address.
    assert_eq!(a.reserve_any().unwrap(), Tiny([1]));
    assert_eq!(a.reserve_any().unwrap(), Tiny([3]));
    fails(&mut a, "no free address in `*`", |a| a.reserve_any());
    // Each search keeps its own position: a pattern never used starts at the
    // beginning, then moves on.
    a.release(Tiny([0])).unwrap();
    a.release(Tiny([6])).unwrap();
    assert_eq!(a.reserve_first(pat::<Tiny>("x=0..=6")).unwrap(), Tiny([0]));
    assert_eq!(a.reserve_first(pat::<Tiny>("x=0..=6")).unwrap(), Tiny([6]));
    fails(&mut a, "no free address in `*`", |a| a.reserve_any());
}

/// The promise holds across patterns: choosing in another pattern does not move the
/// position of the first.
#[test]
fn next_fit_keeps_one_position_per_pattern() {
    let mut a = Allocator::<Ipv4>::with_policy(Policy::NextFit);
    a.add_pool(pat::<Ipv4>("a=10, b=0, c=1..=2, d=10..=20"))
        .unwrap();
    let c1 = pat::<Ipv4>("c=1");
    let c2 = pat::<Ipv4>("c=2");
    assert_eq!(a.reserve_first(c1).unwrap(), Ipv4([10, 0, 1, 10]));
    assert_eq!(a.reserve_first(c1).unwrap(), Ipv4([10, 0, 1, 11]));
    assert_eq!(a.reserve_first(c2).unwrap(), Ipv4([10, 0, 2, 10]));
    a.release(Ipv4([10, 0, 1, 11])).unwrap();
    assert_eq!(a.reserve_first(c1).unwrap(), Ipv4([10, 0, 1, 12]));
    assert_eq!(a.reserve_first(c2).unwrap(), Ipv4([10, 0, 2, 11]));
    a.release(Ipv4([10, 0, 1, 12])).unwrap();
    assert_eq!(a.reserve_first(c1).unwrap(), Ipv4([10, 0, 1, 13]));
}

#[test]
fn next_fit_blocks_move_on_and_wrap() {
    let mut a = Allocator::<Ipv4>::with_policy(Policy::NextFit);
    a.add_pool(pat::<Ipv4>("a=10, b=0, c=0")).unwrap();
    let b29 = Block::<Ipv4>::single().extent(3, 8);
    let first = a.reserve_block(Pattern::any(), b29).unwrap();
    assert_eq!(first.to_string(), "10.0.0.0..=10.0.0.7");
    a.release_block(&first).unwrap();
    assert_eq!(
        a.reserve_block(Pattern::any(), b29).unwrap().to_string(),
        "10.0.0.8..=10.0.0.15"
    );
    assert_eq!(a.reserve_any().unwrap(), Ipv4([10, 0, 0, 16]));
    assert_eq!(
        a.reserve_block(Pattern::any(), b29).unwrap().to_string(),
        "10.0.0.24..=10.0.0.31"
    );
    a.reserve_range(Ipv4([10, 0, 0, 32]), Ipv4([10, 0, 0, 255]))
        .unwrap();
    assert_eq!(
        a.reserve_block(Pattern::any(), b29).unwrap().to_string(),
        "10.0.0.0..=10.0.0.7"
    );
}

#[test]
fn highest_first_allocates_top_down() {
    let mut a = Allocator::<Pci>::with_policy(Policy::HighestFirst);
    a.add_pool(pat::<Pci>("bus=0, slot=1..=31")).unwrap();
    a.add_pool(pat::<Pci>("bus=2, slot=0..=1")).unwrap();
    assert_eq!(a.reserve_any().unwrap(), pci(2, 1, 7));
    assert_eq!(a.reserve_first(pat::<Pci>("bus=0")).unwrap(), pci(0, 31, 7));
    let b = a
        .reserve_block(pat::<Pci>("bus=0"), Block::single().extent(2, 8))
        .unwrap();
    assert_eq!(b.to_string(), "00:1e.0..=00:1e.7");
    let b = a
        .reserve_block(Pattern::any(), Block::single().extent(1, 2))
        .unwrap();
    assert_eq!(b.to_string(), "02:00.6..=02:01.6");
    assert_eq!(
        a.reserve_preferred([pat::<Pci>("bus=1"), pat::<Pci>("bus=0, slot=1")])
            .unwrap(),
        (pci(0, 1, 7), 1)
    );
}

// ----- Pattern -----------------------------------------------------------------------

#[test]
fn pattern_builder_and_ranges() {
    let p = Pattern::<Pci>::any();
    assert!(p.is_any());
    assert_eq!(p.to_string(), "*");
    assert_eq!(format!("{p:?}"), "Pattern(*)");
    assert_eq!(Pattern::<Pci>::default(), p);
    let cases: [(Pattern<Pci>, &str); 8] = [
        (Pattern::any().field(1, 3u8), "slot=3"),
        (Pattern::any().field(1, 1u8..=31), "slot=1..=31"),
        (Pattern::any().field(1, 1u8..32), "slot=1..=31"),
        (Pattern::any().field(1, 8u8..), "slot=8..=31"),
        (Pattern::any().field(1, ..=7u8), "slot=0..=7"),
        (Pattern::any().field(1, ..8u8), "slot=0..=7"),
        (Pattern::any().field::<u8>(1, ..), "slot=0..=31"),
        (
            Pattern::any().field(0, 1u64).field(2, 2u128..=3),
            "bus=1, function=2..=3",
        ),
    ];
    for (p, text) in cases {
        assert_eq!(p.to_string(), text);
        assert!(!p.is_any());
        assert!(p.check().is_ok());
        assert_eq!(text.parse::<Pattern<Pci>>().unwrap().to_string(), text);
    }
    // A field index past the last is ignored.
    assert!(Pattern::<Pci>::any().field(3, 1u8).is_any());
    assert_eq!(Pattern::<Pci>::any().range(1), None);
    assert_eq!(Pattern::<Pci>::any().field(1, 2u8..5).range(1), Some(2..=4));
    assert_eq!(Pattern::<Pci>::any().range(99), None);
    assert_eq!(
        Pattern::exact(pci(0, 3, 1)).to_string(),
        "bus=0, slot=3, function=1"
    );
    assert_eq!(
        Pattern::exact(pci(0, 3, 1)),
        pat("bus=0, function=1, slot=3")
    );
    assert_ne!(Pattern::<Pci>::any().field(1, 1u8..=31), pat("slot=1..=30"));
    // `x..0` is empty.
    assert_eq!(
        Pattern::<Pci>::any()
            .field(1, 1u8..0)
            .check()
            .unwrap_err()
            .to_string(),
        "invalid pattern `slot=1..=0`: the range of field `slot` is empty: it starts after it ends"
    );
}

#[test]
fn pattern_field_named_check_and_matches() {
    let p = Pattern::<Pci>::any().field_named("slot", 4u8..=5).unwrap();
    assert_eq!(p.to_string(), "slot=4..=5");
    assert_eq!(
        Pattern::<Pci>::any()
            .field_named("slt", 1u8)
            .unwrap_err()
            .to_string(),
        "invalid pattern `*`: unknown field `slt`; did you mean `slot`?"
    );
    assert_eq!(
        p.field_named("domain", 1u8).unwrap_err().to_string(),
        "invalid pattern `slot=4..=5`: unknown field `domain`; the fields are `bus`, `slot`, `function`"
    );
    assert!(p.matches(&pci(9, 4, 7)));
    assert!(!p.matches(&pci(9, 6, 7)));
    assert!(Pattern::any().matches(&pci(0, 0, 0)));
    // An out-of-range address matches no unconstrained field.
    assert!(!Pattern::any().matches(&pci(0, 32, 0)));
    let bad = Pattern::<Pci>::any().field(2, 9u8);
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "field `function` value 9 is out of range 0..=7"
    );
    assert!(!bad.matches(&pci(0, 0, 0)));
}

#[test]
fn pattern_text_syntax() {
    let p: Pattern<Pci> = " bus = 0 ,slot=0x1..=0X1f ".parse().unwrap();
    assert_eq!(p.to_string(), "bus=0, slot=1..=31");
    assert!("*".parse::<Pattern<Pci>>().unwrap().is_any());
    assert!("".parse::<Pattern<Pci>>().unwrap().is_any());
    assert_eq!(pat::<Pci>("slot=*").to_string(), "slot=0..=31");
    assert_eq!(pat::<Pci>("slot=..").to_string(), "slot=0..=31");
    assert_eq!(pat::<Pci>("slot=..4").to_string(), "slot=0..=3");
    assert_eq!(pat::<Pci>("slot=30..").to_string(), "slot=30..=31");
    let err = |s: &str| s.parse::<Pattern<Pci>>().unwrap_err().to_string();
    assert_eq!(
        err("bus"),
        "invalid pattern `bus`: expected `field=value` or `field=lo..=hi`, found `bus`"
    );
    assert_eq!(
        err("bus=0, slott=1"),
        "invalid pattern `bus=0, slott=1`: unknown field `slott`; did you mean `slot`?"
    );
    assert_eq!(
        err("domain=0"),
        "invalid pattern `domain=0`: unknown field `domain`; the fields are `bus`, `slot`, `function`"
    );
    assert_eq!(
        err("bus=0, bus=1"),
        "invalid pattern `bus=0, bus=1`: field `bus` is given twice"
    );
    assert_eq!(
        err("slot=x"),
        "invalid pattern `slot=x`: field `slot`: `x` is not a number (decimal, or hexadecimal after `0x`)"
    );
    assert_eq!(
        err("slot="),
        "invalid pattern `slot=`: field `slot`: expected a number, found ``"
    );
    assert_eq!(
        err("slot=0x"),
        "invalid pattern `slot=0x`: field `slot`: expected a number, found `0x`"
    );
    assert_eq!(
        err("slot=999999999999999999999999999999999999999"),
        "invalid pattern `slot=999999999999999999999999999999999999999`: field `slot`: `999999999999999999999999999999999999999` is too large"
    );
    assert_eq!(
        err("slot=32"),
        "field `slot` value 32 is out of range 0..=31"
    );
    assert_eq!(
        err("slot=5..3"),
        "invalid pattern `slot=5..3`: the range of field `slot` is empty: it starts after it ends"
    );
    assert_eq!(
        err("slot=5..=4"),
        "invalid pattern `slot=5..=4`: the range of field `slot` is empty: it starts after it ends"
    );
}

// ----- Block and BlockRange ----------------------------------------------------------

#[test]
fn block_shapes() {
    let b = Block::<Pci>::single();
    assert_eq!(b, Block::default());
    assert_eq!(b.to_string(), "1");
    assert_eq!(format!("{b:?}"), "Block(1)");
    assert_eq!((b.get(0), b.get(2), b.get(99)), (1, 1, 1));
    let b = b.extent(2, 8).extent(7, 4);
    assert_eq!((b.get(2), b.get(7)), (8, 1));
    assert_eq!(b.to_string(), "function=8");
    assert!(b.check().is_ok());
    assert_eq!("function=8".parse::<Block<Pci>>().unwrap(), b);
    assert_eq!("1".parse::<Block<Pci>>().unwrap(), Block::single());
    assert_eq!(" ".parse::<Block<Pci>>().unwrap(), Block::single());
    let two: Block<Pci> = "slot = 4, function=0x8".parse().unwrap();
    assert_eq!(two.to_string(), "slot=4, function=8");
    assert_eq!(
        Block::<Pci>::single()
            .extent(0, 0)
            .check()
            .unwrap_err()
            .to_string(),
        "invalid block extent 0 for field `bus`: an extent is at least 1"
    );
    let err = |s: &str| s.parse::<Block<Pci>>().unwrap_err().to_string();
    assert_eq!(
        err("function"),
        "invalid block `function`: expected `field=extent`, found `function`"
    );
    assert_eq!(
        err("functon=8"),
        "invalid block `functon=8`: unknown field `functon`; did you mean `function`?"
    );
    assert_eq!(
        err("slot=2, slot=2"),
        "invalid block `slot=2, slot=2`: field `slot` is given twice"
    );
    assert_eq!(
        err("slot=two"),
        "invalid block `slot=two`: field `slot`: `two` is not a number (decimal, or hexadecimal after `0x`); an extent is one number, the count of values the block spans"
    );
    assert_eq!(
        err("function=16"),
        "invalid block extent 16 for field `function`: the field has only 8 values (0..=7)"
    );
}

#[test]
fn block_ranges() {
    assert!(BlockRange::new(pci(0, 2, 7), pci(0, 3, 0)).is_none());
    assert!(BlockRange::new(pci(1, 0, 0), pci(0, 31, 7)).is_none());
    let r = br(pci(0, 2, 3), pci(0, 3, 4));
    assert_eq!((r.first(), r.last()), (pci(0, 2, 3), pci(0, 3, 4)));
    assert!(r.contains(&pci(0, 3, 3)));
    assert!(!r.contains(&pci(0, 2, 5)));
    assert!(!r.contains(&pci(1, 2, 3)));
    assert_eq!(r.pattern().to_string(), "bus=0, slot=2..=3, function=3..=4");
    assert_eq!(r.to_string(), "00:02.3..=00:03.4");
    assert_eq!(r, r.clone());
    let one = br(pci(0, 0, 0), pci(0, 0, 0));
    assert!(one.contains(&pci(0, 0, 0)));
    assert_eq!(one.pattern(), Pattern::exact(pci(0, 0, 0)));
    let mut set = HashSet::new();
    set.insert(r);
    assert!(set.contains(&br(pci(0, 2, 3), pci(0, 3, 4))));
}

// ----- Count -------------------------------------------------------------------------

#[test]
fn counts() {
    assert_eq!(Count::ZERO, Count::default());
    assert!(Count::ZERO.is_zero());
    assert!(!Count::FULL_128.is_zero());
    assert_eq!(Count::from(7u128), 7u128);
    assert_eq!(Count::from(7u64), Count::from(7usize));
    assert_eq!(Count::from(7u128).to_u128(), Some(7));
    assert_eq!(Count::FULL_128.to_u128(), None);
    assert_eq!(Count::FULL_128.saturating_u128(), u128::MAX);
    assert_eq!(Count::from(9u128).saturating_u128(), 9);
    assert!(Count::FULL_128 > Count::from(u128::MAX));
    assert!(Count::from(1u128) < Count::from(2u128));
    assert_ne!(Count::FULL_128, 0u128);
    assert_eq!(Count::from(u128::MAX).to_string(), u128::MAX.to_string());
    assert_eq!(
        format!("{:?}", Count::FULL_128),
        "340282366920938463463374607431768211456"
    );
    assert_eq!(format!("{:>5}", Count::from(42u128)), "   42");
    let mut set = HashSet::new();
    set.insert(Count::FULL_128);
    assert!(set.contains(&Count::FULL_128));
}

// ----- Error -------------------------------------------------------------------------

#[test]
fn every_error_variant_displays() {
    let cases: Vec<(Error, &str)> = vec![
        (
            Error::AlreadyReserved {
                address: "00:01.0".into(),
                owner: Some("isa".into()),
            },
            "address 00:01.0 is already reserved by `isa`",
        ),
        (
            Error::AlreadyReserved {
                address: "00:01.0".into(),
                owner: None,
            },
            "address 00:01.0 is already reserved",
        ),
        (
            Error::OutsidePools {
                address: "x".into(),
                tags: vec![],
            },
            "address x is outside every pool",
        ),
        (
            Error::OutsidePools {
                address: "x".into(),
                tags: vec!["a".into(), "b".into()],
            },
            "address x is outside every pool tagged `a`, `b`",
        ),
        (
            Error::OutOfRange {
                field: "slot".into(),
                value: 32,
                min: 0,
                max: 31,
            },
            "field `slot` value 32 is out of range 0..=31",
        ),
        (
            Error::Exhausted {
                request: "address in `*`".into(),
            },
            "no free address in `*`",
        ),
        (
            Error::NotReserved {
                address: "x".into(),
            },
            "address x is not reserved",
        ),
        (
            Error::BadPattern {
                pattern: "p".into(),
                reason: "r".into(),
            },
            "invalid pattern `p`: r",
        ),
        (
            Error::BadBlock {
                field: "f".into(),
                extent: 3,
                reason: "r".into(),
            },
            "invalid block extent 3 for field `f`: r",
        ),
        (
            Error::PoolOverlap {
                pool: "a".into(),
                existing: "b".into(),
            },
            "pool `a` overlaps pool `b`",
        ),
        (
            Error::UnknownTag { tag: "t".into() },
            "no pool carries tag `t`",
        ),
        (
            Error::TooManyTags,
            "too many pool tags: at most 64 are supported",
        ),
        (
            Error::Parse {
                input: "00:zz.0".into(),
                field: Some("slot".into()),
                column: 4,
                reason: "expected a hex digit".into(),
            },
            "invalid address `00:zz.0` at column 4 (field `slot`): expected a hex digit",
        ),
        (
            Error::Parse {
                input: "00:00.0x".into(),
                field: None,
                column: 8,
                reason: "unexpected trailing text".into(),
            },
            "invalid address `00:00.0x` at column 8: unexpected trailing text",
        ),
        (
            Error::Layout { reason: "r".into() },
            "unusable address layout: r",
        ),
        (
            Error::Snapshot { reason: "r".into() },
            "invalid snapshot: r",
        ),
    ];
    for (e, msg) in cases {
        assert_eq!(e.to_string(), msg);
        assert_eq!(e.clone(), e);
        let dynerr: &dyn std::error::Error = &e;
        assert_eq!(dynerr.to_string(), msg);
    }
}

#[test]
fn failures_leave_a_busy_allocator_unchanged() {
    // One allocator with pools, tags, owners, blocks and a next-fit position; every
    // kind of failing call, one after another.
    let mut a = Allocator::<Pci>::with_policy(Policy::NextFit);
    a.add_pool_tagged(pat::<Pci>("bus=0, slot=1..=31"), &["pci"])
        .unwrap();
    a.add_pool_tagged(pat::<Pci>("bus=1"), &["pcie"]).unwrap();
    a.owned_by("isa").reserve(pci(0, 1, 0)).unwrap();
    a.owned_by("gpu")
        .reserve_block(Pattern::any(), Block::single().extent(2, 8))
        .unwrap();
    a.reserve_any().unwrap();
    let before = snapshot(&a);
    fails(
        &mut a,
        "address 00:01.0 is already reserved by `isa`",
        |a| a.reserve(pci(0, 1, 0)),
    );
    fails(&mut a, "no pool carries tag `x`", |a| {
        a.requiring(&["x"]).reserve_any()
    });
    fails(&mut a, "pool `bus=1, slot=3` overlaps pool `bus=1`", |a| {
        a.add_pool(pat::<Pci>("bus=1, slot=3"))
    });
    fails(
        &mut a,
        "address 00:02.0 is already reserved by `gpu`",
        |a| a.reserve_range(pci(0, 2, 0), pci(0, 2, 1)),
    );
    fails(
        &mut a,
        "00:03.0..=00:03.1 is not one whole reservation: address 00:03.0 is in the reservation 00:03.0; release that, or use release_range",
        |a| a.release_block(&br(pci(0, 3, 0), pci(0, 3, 1))),
    );
    fails(&mut a, "no free block of `slot=32` in `bus=0`", |a| {
        a.reserve_block(pat::<Pci>("bus=0"), Block::single().extent(1, 32))
    });
    assert_eq!(snapshot(&a), before);
}

/// A block whose rows do not touch is a run per row: 2^21 rows are refused with the
/// limit named, in no time and no memory, and nothing changes.
#[test]
fn a_block_of_too_many_runs_is_refused() {
    let mut a = Allocator::<U64x2>::new();
    a.add_pool(Pattern::any()).unwrap();
    let tall = Block::single().extent(0, 1 << 21);
    fails(
        &mut a,
        "block `hi=2097152` is 2097152 separate runs (its extents leave gaps between them); at most 1048576 are supported",
        |a| a.reserve_block(Pattern::any(), tall),
    );
    fails(
        &mut a,
        "range `0:0..=2097151:0` is 2097152 separate runs (its extents leave gaps between them); at most 1048576 are supported",
        |a| a.reserve_range(U64x2([0, 0]), U64x2([(1 << 21) - 1, 0])),
    );
    // Rows that touch are one run, however tall.
    let whole_rows = Block::single().extent(0, 1 << 21).extent(1, 1 << 64);
    let b = a.reserve_block(Pattern::any(), whole_rows).unwrap();
    assert_eq!(a.reserved().count(), 1);
    a.release_block(&b).unwrap();
}

/// Patterns and blocks are small values: builder calls copy a few words, not a
/// 16-field table.
#[test]
fn patterns_and_blocks_are_small() {
    assert!(std::mem::size_of::<Pattern<Pci>>() <= 64);
    assert!(std::mem::size_of::<Block<Pci>>() <= 64);
    assert!(std::mem::size_of::<Pattern<V6>>() <= 64);
    // Out-of-range values are still reported as given, when the pattern is used.
    let p = Pattern::<Pci>::any().field(1, 40u8).field(2, 3u8);
    assert_eq!(p.to_string(), "slot=40, function=3");
    assert_eq!(
        p.check().unwrap_err().to_string(),
        "field `slot` value 40 is out of range 0..=31"
    );
    let p = p.field(1, 4u8);
    assert_eq!(p.to_string(), "slot=4, function=3");
    assert!(p.check().is_ok());
    let b = Block::<Pci>::single().extent(2, 9).extent(1, 2);
    assert_eq!(b.to_string(), "slot=2, function=9");
    assert_eq!(
        b.check().unwrap_err().to_string(),
        "invalid block extent 9 for field `function`: the field has only 8 values (0..=7)"
    );
}
