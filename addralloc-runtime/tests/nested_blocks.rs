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
