//! Nested blocks: a reserved block made a pool for its own children, to any depth, on
//! both fronts; utilisation per level.

use std::sync::Arc;

use addralloc_runtime::{
    Address, Allocator, Block, DynAllocator, DynSchema, Error, Field, Pattern, Policy,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct V4([u8; 4]);

impl Address for V4 {
    const FIELDS: &'static [Field] = &[
        Field::new("a", 0, 255),
        Field::new("b", 0, 255),
        Field::new("c", 0, 255),
        Field::new("d", 0, 255),
    ];
    fn field(&self, i: usize) -> u128 {
        self.0[i].into()
    }
    fn from_fields(v: &[u128]) -> Self {
        V4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8])
    }
}

impl std::fmt::Display for V4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> V4 {
    V4([a, b, c, d])
}

#[test]
fn sites_racks_hosts_typed() {
    let mut net = Allocator::<V4>::new();
    net.add_pool(Pattern::prefix(ip(10, 20, 0, 0), 14).unwrap())
        .unwrap();
    assert_eq!(
        net.free_block_count(Pattern::any(), Block::prefix(16).unwrap())
            .unwrap()
            .to_string(),
        "4"
    );
    let site = net
        .owned_by("site-a")
        .reserve_block(Pattern::any(), Block::prefix(16).unwrap())
        .unwrap();
    assert_eq!(site.to_string(), "10.20.0.0..=10.20.255.255");
    net.subdivide(&site).unwrap();
    assert_eq!(
        net.free_block_count(Pattern::any(), Block::prefix(16).unwrap())
            .unwrap()
            .to_string(),
        "3"
    );

    // Racks inside the site, hosts inside a rack: three levels.
    let rack3 = net
        .child(&site, |s| {
            s.reserve_block(Pattern::any(), Block::prefix(24).unwrap())
                .unwrap();
            s.reserve_block(Pattern::any(), Block::prefix(24).unwrap())
                .unwrap();
            let r = s
                .owned_by("rack3")
                .reserve_block(Pattern::any(), Block::prefix(24).unwrap())
                .unwrap();
            s.subdivide(&r).unwrap();
            r
        })
        .unwrap();
    assert_eq!(rack3.to_string(), "10.20.2.0..=10.20.2.255");
    let host = net
        .child(&site, |s| {
            s.child(&rack3, |r| r.owned_by("web").reserve_any().unwrap())
        })
        .unwrap()
        .unwrap();
    assert_eq!(host, ip(10, 20, 2, 0));

    // Per level: /24s left in the site, addresses left in the rack.
    let left = net
        .child(&site, |s| {
            s.free_block_count(Pattern::any(), Block::prefix(24).unwrap())
        })
        .unwrap()
        .unwrap();
    assert_eq!(left.to_string(), "253");
    let free = net
        .child(&site, |s| s.child(&rack3, |r| r.free_count()))
        .unwrap()
        .unwrap();
    assert_eq!(free.to_string(), "255");

    // The site stays reserved for everyone else.
    assert!(matches!(
        net.reserve(ip(10, 20, 9, 1)),
        Err(Error::AlreadyReserved { .. })
    ));
    assert_eq!(net.children().count(), 1);

    // Releasing a parent with children is refused, naming one, and changes nothing.
    let err = net.release_block(&site).unwrap_err();
    assert!(matches!(err, Error::PoolInUse { .. }), "{err}");
    assert!(err.to_string().contains("10.20.0.0..=10.20.0.255"), "{err}");
    let err = net
        .child(&site, |s| s.release_block(&rack3))
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("10.20.2.0") && err.to_string().contains("web"),
        "{err}"
    );
    assert!(net.is_reserved(ip(10, 20, 0, 0)));

    // Emptied from the bottom up, each level releases.
    net.child(&site, |s| {
        s.child(&rack3, |r| r.release(host)).unwrap().unwrap();
        s.release_block(&rack3).unwrap();
        let blocks: Vec<_> = s.reserved().collect();
        for (a, b) in blocks {
            s.release_range(a, b).unwrap();
        }
    })
    .unwrap();
    net.release_block(&site).unwrap();
    assert_eq!(net.children().count(), 0);
    assert!(matches!(
        net.child(&site, |_| ()),
        Err(Error::NoSuchPool { .. })
    ));
}

#[test]
fn subdividing_needs_one_whole_reservation() {
    let mut net = Allocator::<V4>::new();
    net.add_pool(Pattern::prefix(ip(10, 0, 0, 0), 16).unwrap())
        .unwrap();
    let b = net
        .reserve_block(Pattern::any(), Block::prefix(24).unwrap())
        .unwrap();
    let half = addralloc_runtime::BlockRange::new(ip(10, 0, 0, 0), ip(10, 0, 0, 127)).unwrap();
    assert!(matches!(net.subdivide(&half), Err(Error::NotWhole { .. })));
    let free = addralloc_runtime::BlockRange::new(ip(10, 0, 9, 0), ip(10, 0, 9, 255)).unwrap();
    assert!(matches!(
        net.subdivide(&free),
        Err(Error::NotReserved { .. })
    ));
    net.subdivide(&b).unwrap();
    net.subdivide(&b).unwrap();
    assert_eq!(net.children().count(), 1);
    // Counting blocks that are not one run is refused with a reason.
    let err = net
        .free_block_count(Pattern::any(), Block::single().extent(2, 2).extent(3, 2))
        .unwrap_err();
    assert!(err.to_string().contains("one run of addresses"), "{err}");
}

#[test]
fn ipv6_site_48_with_a_64_per_rack_dynamic() {
    let schema = DynSchema::from_toml(include_str!("../../schemas/ipv6.toml")).unwrap();
    let ty = Arc::clone(schema.get("Ipv6Address").unwrap());
    let mut net = DynAllocator::new(ty, Policy::LowestFirst);
    net.add_pool("2001:db8::/32").unwrap();
    let site = net.reserve_block("*", "/48").unwrap();
    assert_eq!(site.first().to_string(), "2001:db8::");
    net.subdivide(&site).unwrap();
    let racks: Vec<String> = net
        .child(&site, |s| {
            (0..3)
                .map(|_| s.reserve_block("*", "/64").unwrap().first().to_string())
                .collect()
        })
        .unwrap();
    assert_eq!(racks, ["2001:db8::", "2001:db8:0:1::", "2001:db8:0:2::"]);
    let left = net
        .child(&site, |s| s.free_block_count("*", "/64").unwrap())
        .unwrap();
    assert_eq!(left.to_string(), "65533");
    assert_eq!(
        net.free_block_count("*", "/48").unwrap().to_string(),
        "65535"
    );
    assert!(net.release_block(&site).is_err());
    assert_eq!(net.children().count(), 1);
}

#[test]
fn release_owner_drops_the_children_of_released_blocks() {
    let mut net = Allocator::<V4>::new();
    net.add_pool(Pattern::prefix(ip(10, 0, 0, 0), 16).unwrap())
        .unwrap();
    let b = net
        .owned_by("rack")
        .reserve_block(Pattern::any(), Block::prefix(24).unwrap())
        .unwrap();
    net.subdivide(&b).unwrap();
    net.child(&b, |r| r.reserve_any().unwrap()).unwrap();
    assert_eq!(net.release_owner("rack").to_string(), "256");
    assert_eq!(net.children().count(), 0);
    // The same block reserved again starts without children.
    let again = net
        .reserve_block(Pattern::any(), Block::prefix(24).unwrap())
        .unwrap();
    assert_eq!(again, b);
    assert!(net.child(&again, |_| ()).is_err());
}

impl std::str::FromStr for V4 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<u8> = s
            .split('.')
            .map(|p| p.parse::<u8>().map_err(|e| format!("`{p}`: {e}")))
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [a, b, c, d] => Ok(V4([a, b, c, d])),
            _ => Err(format!("`{s}` is not four numbers")),
        }
    }
}

fn prefix(len: u32) -> Block<V4> {
    Block::prefix(len).unwrap()
}

/// A site /16 with two racks /24, one of them subdivided with two hosts: three levels.
fn three_levels() -> (
    Allocator<V4>,
    addralloc_runtime::BlockRange<V4>,
    addralloc_runtime::BlockRange<V4>,
) {
    let mut net = Allocator::<V4>::new();
    net.add_pool(Pattern::prefix(ip(10, 20, 0, 0), 14).unwrap())
        .unwrap();
    let site = net
        .owned_by("site-a")
        .reserve_block(Pattern::any(), prefix(16))
        .unwrap();
    net.subdivide(&site).unwrap();
    let rack = net
        .child(&site, |s| {
            s.reserve_block(Pattern::any(), prefix(24)).unwrap();
            let r = s
                .owned_by("rack1")
                .reserve_block(Pattern::any(), prefix(24))
                .unwrap();
            s.subdivide(&r).unwrap();
            s.child(&r, |h| {
                h.owned_by("web").reserve_any().unwrap();
                h.owned_by("db").reserve(ip(10, 20, 1, 9)).unwrap();
            })
            .unwrap();
            r
        })
        .unwrap();
    (net, site, rack)
}

#[test]
fn snapshots_keep_children_to_depth_three_typed() {
    let (net, site, rack) = three_levels();
    let snap = net.snapshot();
    assert_eq!(snap.version, addralloc_runtime::SNAPSHOT_VERSION);
    assert_eq!(snap.children.len(), 1);
    assert_eq!(snap.children[0].first, "10.20.0.0");
    assert_eq!(snap.children[0].allocator.children[0].last, "10.20.1.255");
    let mut back = Allocator::<V4>::restore(&snap).unwrap();
    assert_eq!(back.snapshot(), snap);
    assert_eq!(back.children().collect::<Vec<_>>(), [site]);
    let owner = back
        .child(&site, |s| {
            s.child(&rack, |h| h.owner_of(ip(10, 20, 1, 9)).map(String::from))
        })
        .unwrap()
        .unwrap();
    assert_eq!(owner.as_deref(), Some("db"));
    // The restored children work: a next host, and the release rules.
    let next = back
        .child(&site, |s| s.child(&rack, |h| h.reserve_any().unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(next, ip(10, 20, 1, 1));
    assert!(matches!(
        back.release_block(&site),
        Err(Error::PoolInUse { .. })
    ));
    // A snapshot without children or linear pools stays version 2.
    let mut plain = Allocator::<V4>::new();
    plain
        .add_pool(Pattern::prefix(ip(10, 0, 0, 0), 24).unwrap())
        .unwrap();
    plain.reserve_any().unwrap();
    assert_eq!(plain.snapshot().version, 2);
    assert!(Allocator::<V4>::restore(&plain.snapshot()).is_ok());
}

#[test]
fn snapshots_keep_children_to_depth_three_dynamic() {
    let schema = DynSchema::from_toml(include_str!("../../schemas/ipv6.toml")).unwrap();
    let ty = Arc::clone(schema.get("Ipv6Address").unwrap());
    let mut net = DynAllocator::new(Arc::clone(&ty), Policy::LowestFirst);
    net.add_pool("2001:db8::/32").unwrap();
    let site = net.owned_by("site").reserve_block("*", "/48").unwrap();
    net.subdivide(&site).unwrap();
    let rack = net
        .child(&site, |s| {
            s.reserve_block("*", "/64").unwrap();
            let r = s.owned_by("rack").reserve_block("*", "/64").unwrap();
            s.subdivide(&r).unwrap();
            s.child(&r, |h| {
                h.owned_by("host").reserve_block("*", "/120").unwrap()
            })
            .unwrap();
            r
        })
        .unwrap();
    let snap = net.snapshot();
    assert_eq!(snap.children[0].allocator.children.len(), 1);
    let mut back = DynAllocator::restore(Arc::clone(&ty), &snap).unwrap();
    assert_eq!(back.snapshot(), snap);
    let owners: Vec<String> = back
        .child(&site, |s| {
            s.child(&rack, |h| {
                h.owners()
                    .map(|(a, b, o)| format!("{a}..={b} {o}"))
                    .collect()
            })
        })
        .unwrap()
        .unwrap();
    assert_eq!(owners, ["2001:db8:0:1::..=2001:db8:0:1::ff host"]);
    assert!(back.release_block(&site).is_err());
}

#[test]
fn restore_refuses_children_off_the_parents_reservations() {
    let (net, _, _) = three_levels();
    let good = net.snapshot();
    let refuse = |f: &dyn Fn(&mut addralloc_runtime::Snapshot)| {
        let mut s = good.clone();
        f(&mut s);
        Allocator::<V4>::restore(&s).unwrap_err().to_string()
    };
    assert_eq!(
        refuse(&|s| s.children[0].first = "10.21.0.0".into()),
        "invalid snapshot: child 1 `10.21.0.0..=10.20.255.255`: the block is not reserved"
    );
    assert_eq!(
        refuse(&|s| s.children[0].last = "10.20.0.255".into()),
        "invalid snapshot: child 1 `10.20.0.0..=10.20.0.255`: the block is not one whole \
         reservation (the reservation there is `10.20.0.0..=10.20.255.255`)"
    );
    assert_eq!(
        refuse(&|s| {
            s.children[0]
                .allocator
                .pools
                .push(addralloc_runtime::PoolSnapshot {
                    pattern: "a=10, b=21".into(),
                    tags: Vec::new(),
                })
        }),
        "invalid snapshot: child 1 `10.20.0.0..=10.20.255.255`: its pool \
         `a=10, b=21` lies outside the block"
    );
    // Errors deep down name the path to them.
    let err = refuse(&|s| {
        s.children[0].allocator.children[0].allocator.reservations[0].first = "10.20.1.999".into()
    });
    assert!(
        err.starts_with(
            "invalid snapshot: child 1 `10.20.0.0..=10.20.255.255`: child 1 \
             `10.20.1.0..=10.20.1.255`: reservation 1: address `10.20.1.999`"
        ),
        "{err}"
    );
    assert_eq!(
        refuse(&|s| {
            let c = s.children[0].clone();
            s.children.push(c);
        }),
        "invalid snapshot: child 2 `10.20.0.0..=10.20.255.255`: the block is listed twice"
    );
    assert_eq!(
        refuse(&|s| s.children[0].allocator.space = "port=0..=31".into()),
        "invalid snapshot: child 1 `10.20.0.0..=10.20.255.255`: the snapshot is of address \
         space `port=0..=31`, not `a=0..=255, b=0..=255, c=0..=255, d=0..=255`"
    );
}

#[test]
fn a_rolled_back_transaction_restores_the_children() {
    let (mut net, site, rack) = three_levels();
    let before = net.snapshot();
    // Err: a child reservation, a new subdivided block and a release inside.
    let r: Result<(), Error> = net.transaction(|tx| {
        tx.child(&site, |s| {
            s.child(&rack, |h| h.release(ip(10, 20, 1, 9)))??;
            let r = s.reserve_block(Pattern::any(), prefix(24))?;
            s.subdivide(&r)?;
            s.child(&r, |h| h.reserve_any())??;
            Ok::<(), Error>(())
        })??;
        let other = tx.reserve_block(Pattern::any(), prefix(16))?;
        tx.subdivide(&other)?;
        Err(Error::TooManyTags)
    });
    assert!(r.is_err());
    assert_eq!(net.snapshot(), before);
    assert_eq!(net.children().count(), 1);

    // A panic inside a child's closure, inside a transaction.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        net.transaction(|tx| {
            tx.child(&site, |s| {
                s.reserve_any().unwrap();
                panic!("boom");
            })
        })
    }));
    assert!(caught.is_err());
    assert_eq!(net.snapshot(), before);

    // Nested: the inner transaction rolls back, the outer one commits.
    net.transaction(|tx| {
        let kept = tx.reserve_block(Pattern::any(), prefix(16))?;
        tx.subdivide(&kept)?;
        let inner: Result<(), Error> = tx.transaction(|t2| {
            t2.child(&kept, |k| k.reserve_any())??;
            t2.release_block(&kept)
                .expect_err("a block with children is refused");
            Err(Error::TooManyTags)
        });
        assert!(inner.is_err());
        tx.child(&kept, |k| k.reserved_count().to_string())
            .map(|n| assert_eq!(n, "0"))
    })
    .unwrap();
    assert_eq!(net.children().count(), 2);
    assert_eq!(net.snapshot().children[0], before.children[0]);
}

#[test]
fn release_range_refuses_a_subdivided_block_with_children() {
    let (mut net, site, _) = three_levels();
    let before = net.snapshot();
    let err = net
        .release_range(ip(10, 20, 255, 0), ip(10, 20, 255, 255))
        .unwrap_err();
    assert!(matches!(err, Error::PoolInUse { .. }), "{err}");
    assert!(
        err.to_string().contains("10.20.0.0..=10.20.255.255"),
        "{err}"
    );
    assert_eq!(net.snapshot(), before);
    // Emptied, the block may be cut; it loses its child allocator.
    net.child(&site, |s| {
        let rack = s.children().next().unwrap();
        s.child(&rack, |h| {
            let all: Vec<_> = h.reserved().collect();
            for (a, b) in all {
                h.release_range(a, b).unwrap();
            }
        })
        .unwrap();
        let all: Vec<_> = s.reserved().collect();
        for (a, b) in all {
            s.release_range(a, b).unwrap();
        }
        assert_eq!(s.children().count(), 0);
    })
    .unwrap();
    assert_eq!(
        net.release_range(ip(10, 20, 255, 0), ip(10, 20, 255, 255))
            .unwrap()
            .to_string(),
        "256"
    );
    assert_eq!(net.children().count(), 0);
    assert!(net.is_reserved(ip(10, 20, 0, 0)));
}

#[test]
fn release_owner_cascades_only_into_the_owners_blocks() {
    let (mut net, site, _) = three_levels();
    let other = net
        .owned_by("site-b")
        .reserve_block(Pattern::any(), prefix(16))
        .unwrap();
    net.subdivide(&other).unwrap();
    net.child(&other, |s| s.owned_by("x").reserve_any().unwrap())
        .unwrap();
    assert_eq!(net.release_owner("site-a").to_string(), "65536");
    assert_eq!(net.children().collect::<Vec<_>>(), [other]);
    assert!(!net.is_reserved(site.first()));
    let back = Allocator::<V4>::restore(&net.snapshot()).unwrap();
    assert_eq!(back.children().collect::<Vec<_>>(), [other]);
}

#[test]
fn linear_pools_stay_one_pool_through_restore_and_rollback() {
    let mut a = Allocator::<V4>::new();
    a.add_pool(ip(10, 20, 4, 10)..=ip(10, 20, 7, 250)).unwrap();
    a.add_pool(Pattern::prefix(ip(10, 30, 0, 0), 24).unwrap())
        .unwrap();
    a.reserve_any().unwrap();
    let listed =
        |a: &Allocator<V4>| -> Vec<String> { a.pools().map(|(p, _)| p.to_string()).collect() };
    let pools = listed(&a);
    assert_eq!(pools.len(), 2);
    let snap = a.snapshot();
    assert_eq!(snap.linear.len(), 1);
    assert_eq!(snap.linear[0].first, "10.20.4.10");
    assert_eq!(snap.linear[0].last, "10.20.7.250");
    let mut b = Allocator::<V4>::restore(&snap).unwrap();
    assert_eq!(listed(&b), pools);
    assert_eq!(b.snapshot(), snap);
    // A removal rolled back leaves the range one pool.
    let r: Result<(), Error> = b.transaction(|tx| {
        tx.remove_pool(Pattern::prefix(ip(10, 30, 0, 0), 24).unwrap())?;
        Err(Error::TooManyTags)
    });
    assert!(r.is_err());
    let r: Result<(), Error> = b.transaction(|tx| {
        tx.release(ip(10, 20, 4, 10))?;
        tx.remove_pool(ip(10, 20, 4, 10)..=ip(10, 20, 7, 250))?;
        Err(Error::TooManyTags)
    });
    assert!(r.is_err());
    assert_eq!(listed(&b), pools);
    // A linear pool whose boxes are not pools is refused.
    let mut bad = snap.clone();
    bad.linear[0].last = "10.20.7.251".into();
    let err = Allocator::<V4>::restore(&bad).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid snapshot: linear pool 1 `10.20.4.10..=10.20.7.251`: its boxes are not all \
         among the pools"
    );
    let mut twice = snap.clone();
    twice.linear.push(twice.linear[0].clone());
    assert_eq!(
        Allocator::<V4>::restore(&twice).unwrap_err().to_string(),
        "invalid snapshot: linear pool 2 `10.20.4.10..=10.20.7.250`: it shares a pool with \
         linear pool 1"
    );
    // The dynamic front lists the range once too.
    let schema = DynSchema::from_toml(include_str!("../../schemas/ipv4.toml")).unwrap();
    let ty = schema.get("Ipv4Address").unwrap();
    let mut d = DynAllocator::new(Arc::clone(ty), Policy::LowestFirst);
    d.add_pool("10.20.4.10..=10.20.7.250").unwrap();
    let back = DynAllocator::restore(Arc::clone(ty), &d.snapshot()).unwrap();
    let pools: Vec<String> = back.pools().map(|(p, _)| p.to_string()).collect();
    assert_eq!(pools, ["10.20.4.10..=10.20.7.250"]);
}

/// A model of one level of nesting: sixteen /28 blocks of `10.0.0.0/24` (slots), each
/// free or reserved whole with an owner, and a subdivided one with its children's
/// reservations (single addresses, by offset in the block).
mod model {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use addralloc_runtime::{
        Allocator, Block, BlockRange, DynAllocator, DynSchema, Error, Pattern,
    };
    use proptest::prelude::*;

    use super::{ip, V4};

    const OWNERS: [Option<&str>; 3] = [None, Some("a"), Some("b")];

    #[derive(Clone, Debug)]
    pub enum Op {
        Reserve(u8, usize),
        Subdivide(u8),
        ChildReserve(u8, u8, usize),
        ChildRelease(u8, u8),
        Release(u8),
        ReleaseRange(u8),
        ReleaseOwner(usize),
        /// The operation inside a transaction that then fails.
        RolledBack(Box<Op>),
        /// Replace the allocator by a restore of its snapshot through the other front.
        CrossRestore,
    }

    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Slot {
        owner: Option<String>,
        /// Offset in the block -> owner, when subdivided.
        children: Option<BTreeMap<u8, Option<String>>>,
    }

    /// Reserved slots.
    pub type State = BTreeMap<u8, Slot>;

    fn first(slot: u8) -> V4 {
        ip(10, 0, 0, slot * 16)
    }

    fn block(slot: u8) -> BlockRange<V4> {
        BlockRange::new(first(slot), ip(10, 0, 0, slot * 16 + 15)).unwrap()
    }

    fn owner(o: usize) -> Option<String> {
        OWNERS[o].map(String::from)
    }

    /// The model's step: whether it succeeds.
    fn step(m: &mut State, op: &Op) -> bool {
        match op {
            Op::Reserve(s, o) => {
                if m.contains_key(s) {
                    return false;
                }
                m.insert(
                    *s,
                    Slot {
                        owner: owner(*o),
                        children: None,
                    },
                );
                true
            }
            Op::Subdivide(s) => match m.get_mut(s) {
                Some(slot) => {
                    slot.children.get_or_insert_with(BTreeMap::new);
                    true
                }
                None => false,
            },
            Op::ChildReserve(s, k, o) => match m.get_mut(s).and_then(|x| x.children.as_mut()) {
                Some(c) if !c.contains_key(k) => {
                    c.insert(*k, owner(*o));
                    true
                }
                _ => false,
            },
            Op::ChildRelease(s, k) => m
                .get_mut(s)
                .and_then(|x| x.children.as_mut())
                .is_some_and(|c| c.remove(k).is_some()),
            Op::Release(s) | Op::ReleaseRange(s) => match m.get(s) {
                Some(slot) if slot.children.as_ref().is_none_or(|c| c.is_empty()) => {
                    m.remove(s);
                    true
                }
                _ => false,
            },
            Op::ReleaseOwner(o) => {
                let o = owner(*o);
                if o.is_some() {
                    m.retain(|_, slot| slot.owner != o);
                }
                true
            }
            Op::RolledBack(inner) => {
                let mut scratch = m.clone();
                step(&mut scratch, inner)
            }
            Op::CrossRestore => true,
        }
    }

    /// The allocator's step: whether it succeeds.
    fn apply(net: &mut Allocator<V4>, op: &Op) -> bool {
        let in_child = |net: &mut Allocator<V4>,
                        s: u8,
                        f: &mut dyn FnMut(&mut Allocator<V4>) -> Result<(), Error>|
         -> bool { matches!(net.child(&block(s), |c| f(c)), Ok(Ok(()))) };
        match op {
            Op::Reserve(s, o) => {
                let p = Pattern::prefix(first(*s), 28).unwrap();
                let b = Block::prefix(28).unwrap();
                match OWNERS[*o] {
                    Some(o) => net.owned_by(o).reserve_block(p, b).is_ok(),
                    None => net.reserve_block(p, b).is_ok(),
                }
            }
            Op::Subdivide(s) => net.subdivide(&block(*s)).is_ok(),
            Op::ChildReserve(s, k, o) => {
                let a = ip(10, 0, 0, s * 16 + k);
                in_child(net, *s, &mut |c| match OWNERS[*o] {
                    Some(o) => c.owned_by(o).reserve(a).map(|_| ()),
                    None => c.reserve(a).map(|_| ()),
                })
            }
            Op::ChildRelease(s, k) => {
                let a = ip(10, 0, 0, s * 16 + k);
                in_child(net, *s, &mut |c| c.release(a))
            }
            Op::Release(s) => net.release_block(&block(*s)).is_ok(),
            Op::ReleaseRange(s) => {
                let b = block(*s);
                net.release_range(b.first(), b.last()).is_ok()
            }
            Op::ReleaseOwner(o) => {
                if let Some(o) = OWNERS[*o] {
                    net.release_owner(o);
                }
                true
            }
            Op::RolledBack(inner) => {
                let mut ok = false;
                let r: Result<(), ()> = net.transaction(|tx| {
                    ok = apply(tx, inner);
                    Err(())
                });
                assert!(r.is_err());
                ok
            }
            Op::CrossRestore => {
                let schema = DynSchema::from_toml(include_str!("../../schemas/ipv4.toml")).unwrap();
                let ty = schema.get("Ipv4Address").unwrap();
                let snap = net.snapshot();
                let d = DynAllocator::restore(Arc::clone(ty), &snap).unwrap();
                assert_eq!(d.snapshot(), snap);
                *net = Allocator::<V4>::restore(&d.snapshot()).unwrap();
                true
            }
        }
    }

    /// The allocator's state in the model's terms.
    fn view(net: &mut Allocator<V4>) -> State {
        let subdivided: Vec<BlockRange<V4>> = net.children().collect();
        let mut out = State::new();
        for s in 0..16u8 {
            if !net.is_reserved(first(s)) {
                continue;
            }
            let b = block(s);
            let children = subdivided.contains(&b).then(|| {
                net.child(&b, |c| {
                    (0..16u8)
                        .filter(|k| c.is_reserved(ip(10, 0, 0, s * 16 + k)))
                        .map(|k| (k, c.owner_of(ip(10, 0, 0, s * 16 + k)).map(String::from)))
                        .collect()
                })
                .unwrap()
            });
            out.insert(
                s,
                Slot {
                    owner: net.owner_of(first(s)).map(String::from),
                    children,
                },
            );
        }
        out
    }

    fn plain_op() -> impl Strategy<Value = Op> {
        // Few slots and offsets, so that operations meet.
        prop_oneof![
            (0..4u8, 0..3usize).prop_map(|(s, o)| Op::Reserve(s, o)),
            (0..4u8).prop_map(Op::Subdivide),
            (0..4u8, 0..3u8, 0..3usize).prop_map(|(s, k, o)| Op::ChildReserve(s, k, o)),
            (0..4u8, 0..3u8).prop_map(|(s, k)| Op::ChildRelease(s, k)),
            (0..4u8).prop_map(Op::Release),
            (0..4u8).prop_map(Op::ReleaseRange),
            (1..3usize).prop_map(Op::ReleaseOwner),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => plain_op(),
            2 => plain_op().prop_map(|o| Op::RolledBack(Box::new(o))),
            1 => Just(Op::CrossRestore),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn nested_blocks_follow_the_model(ops in proptest::collection::vec(op(), 1..40)) {
            let mut net = Allocator::<V4>::new();
            net.add_pool(Pattern::prefix(ip(10, 0, 0, 0), 24).unwrap()).unwrap();
            let mut m = State::new();
            for (i, o) in ops.iter().enumerate() {
                let want = step(&mut m, o);
                let got = apply(&mut net, o);
                prop_assert_eq!(got, want, "step {} {:?}", i, o);
                prop_assert_eq!(&view(&mut net), &m, "after step {} {:?}", i, o);
            }
        }
    }
}

#[test]
fn a_panic_in_a_child_closure_keeps_the_child() {
    let (mut net, site, _) = three_levels();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        net.child(&site, |s| {
            s.reserve_any().unwrap();
            panic!("boom");
        })
    }));
    assert!(caught.is_err());
    // No transaction: the reservation made before the panic stays, and so does the child.
    assert_eq!(net.children().collect::<Vec<_>>(), [site]);
    let n = net
        .child(&site, |s| s.reserved_count().to_string())
        .unwrap();
    assert_eq!(n, "513"); // two racks and the address reserved before the panic
}

#[test]
fn dynamic_transactions_and_releases_cover_the_children() {
    let schema = DynSchema::from_toml(include_str!("../../schemas/ipv4.toml")).unwrap();
    let ty = Arc::clone(schema.get("Ipv4Address").unwrap());
    let mut net = DynAllocator::new(ty, Policy::LowestFirst);
    net.add_pool("10.0.0.0/16").unwrap();
    let site = net.owned_by("site").reserve_block("*", "/20").unwrap();
    net.subdivide(&site).unwrap();
    net.child(&site, |s| s.owned_by("web").reserve_any().unwrap())
        .unwrap();
    let before = net.snapshot();
    let r: Result<(), Error> = net.transaction(|tx| {
        tx.child(&site, |s| {
            let r = s.reserve_block("*", "/24")?;
            s.subdivide(&r)
        })??;
        let b = tx.reserve_block("*", "/20")?;
        tx.subdivide(&b)?;
        Err(Error::TooManyTags)
    });
    assert!(r.is_err());
    assert_eq!(net.snapshot(), before);
    let err = net.release_range("10.0.15.0", "10.0.15.255").unwrap_err();
    assert!(matches!(err, Error::PoolInUse { .. }), "{err}");
    assert_eq!(net.snapshot(), before);
    assert_eq!(net.release_owner("site").to_string(), "4096");
    assert_eq!(net.children().count(), 0);
}
