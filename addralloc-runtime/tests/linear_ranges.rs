//! Linear ranges (`first..=last` in address order) and prefixes (`10.20.0.0/16`, `/24`
//! as a block) on both fronts, with bad input.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use addralloc_runtime::{
    Address, Allocator, Block, DynAllocator, DynSchema, DynType, Error, Field, Pattern, Policy,
};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

impl fmt::Display for V4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl FromStr for V4 {
    type Err = String;
    fn from_str(s: &str) -> Result<V4, String> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 4 {
            return Err(format!("`{s}` is not a dotted quad"));
        }
        let mut out = [0u8; 4];
        for (o, p) in out.iter_mut().zip(parts) {
            *o = p.parse().map_err(|_| format!("`{p}` is not an octet"))?;
        }
        Ok(V4(out))
    }
}

fn ip(s: &str) -> V4 {
    s.parse().unwrap()
}

const V4_SCHEMA: &str = r#"
[[address]]
name = "V4"
format = "{a}.{b}.{c}.{d}"
[[address.field]]
name = "a"
type = "u8"
[[address.field]]
name = "b"
type = "u8"
[[address.field]]
name = "c"
type = "u8"
[[address.field]]
name = "d"
type = "u8"

[[address.pool]]
pattern = "10.99.0.250..=10.99.1.5"
tags = ["dhcp"]

[[address.pool]]
pattern = "10.98.0.0/16"
"#;

fn dyn_v4() -> Arc<DynType> {
    let schema = DynSchema::from_toml(V4_SCHEMA).unwrap();
    Arc::clone(schema.get("V4").unwrap())
}

#[test]
fn hosts_across_a_22_are_one_pool_of_1009() {
    let mut a = Allocator::<V4>::new();
    a.add_pool(ip("10.20.4.10")..=ip("10.20.7.250")).unwrap();
    assert_eq!(a.free_count().to_string(), "1009");
    assert_eq!(a.pools().count(), 1);
    let (p, _) = a.pools().next().unwrap();
    assert!(p.is_linear());
    assert_eq!(p.to_string(), "10.20.4.10..=10.20.7.250");
    assert_eq!(a.reserve_any().unwrap(), ip("10.20.4.10"));
    // The addresses between the octets' .250 and .10 are in the pool.
    a.reserve(ip("10.20.5.255")).unwrap();
    a.reserve(ip("10.20.6.0")).unwrap();
    assert!(matches!(
        a.reserve(ip("10.20.7.251")),
        Err(Error::OutsidePools { .. })
    ));

    let mut d = DynAllocator::new(dyn_v4(), Policy::LowestFirst);
    d.add_pool("10.20.4.10..=10.20.7.250").unwrap();
    assert_eq!(d.free_count().to_string(), "1009");
    let pools: Vec<String> = d.pools().map(|(p, _)| p.to_string()).collect();
    assert_eq!(pools, ["10.20.4.10..=10.20.7.250"]);
}

#[test]
fn a_dhcp_range_across_an_octet() {
    let mut a = Allocator::<V4>::new();
    a.add_pool_tagged(ip("10.20.0.250")..=ip("10.20.1.5"), &["dhcp"])
        .unwrap();
    let got: Vec<String> = (0..12)
        .map(|_| a.reserve_any().unwrap().to_string())
        .collect();
    assert_eq!(got[0], "10.20.0.250");
    assert_eq!(got[5], "10.20.0.255");
    assert_eq!(got[6], "10.20.1.0");
    assert_eq!(got[11], "10.20.1.5");
    assert!(matches!(a.reserve_any(), Err(Error::Exhausted { .. })));
    // Removing the pool is refused while it holds leases, and names the range.
    let err = a
        .remove_pool(ip("10.20.0.250")..=ip("10.20.1.5"))
        .unwrap_err();
    assert!(err.to_string().contains("10.20.0.250..=10.20.1.5"), "{err}");
    assert_eq!(a.pools().count(), 1);
    a.release_owner("");
    for x in got {
        let _ = a.release(ip(&x));
    }
    a.remove_pool(ip("10.20.0.250")..=ip("10.20.1.5")).unwrap();
    assert_eq!(a.pools().count(), 0);
}

#[test]
fn searches_in_a_linear_pattern_follow_the_policy() {
    for (policy, want) in [
        (Policy::LowestFirst, "10.0.0.254"),
        (Policy::HighestFirst, "10.0.2.1"),
    ] {
        let mut a = Allocator::<V4>::with_policy(policy);
        a.add_pool(Pattern::prefix(ip("10.0.0.0"), 16).unwrap())
            .unwrap();
        let within = Pattern::linear(ip("10.0.0.254"), ip("10.0.2.1"));
        assert_eq!(a.reserve_first(within).unwrap(), ip(want));
        assert_eq!(a.free_count_in(within).unwrap().to_string(), "259");

        let mut d = DynAllocator::new(dyn_v4(), policy);
        d.add_pool("10.0.0.0/16").unwrap();
        assert_eq!(
            d.reserve_first("10.0.0.254..=10.0.2.1")
                .unwrap()
                .to_string(),
            want
        );
    }
}

#[test]
fn pools_mix_boxes_and_ranges_and_overlaps_name_the_range() {
    let mut a = Allocator::<V4>::new();
    a.add_pool(Pattern::prefix(ip("10.1.0.0"), 24).unwrap())
        .unwrap();
    a.add_pool(ip("10.1.1.0")..=ip("10.1.2.9")).unwrap();
    assert_eq!(a.free_count().to_string(), "522");
    let err = a
        .add_pool(Pattern::prefix(ip("10.1.2.0"), 24).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::PoolOverlap { .. }), "{err}");
    assert!(err.to_string().contains("10.1.1.0..=10.1.2.9"), "{err}");
    // A failed add leaves the pools as they were.
    let err = a.add_pool(ip("10.1.2.5")..=ip("10.1.3.0")).unwrap_err();
    assert!(matches!(err, Error::PoolOverlap { .. }), "{err}");
    assert_eq!(a.free_count().to_string(), "522");
    assert_eq!(a.pools().count(), 2);
}

#[test]
fn prefixes_as_patterns_and_blocks() {
    let mut a = Allocator::<V4>::new();
    a.add_pool(Pattern::<V4>::from_text("10.20.0.0/16").unwrap())
        .unwrap();
    let p = Pattern::<V4>::from_text("10.20.0.0/16").unwrap();
    let b = a.reserve_block(p, Block::prefix(24).unwrap()).unwrap();
    assert_eq!(b.to_string(), "10.20.0.0..=10.20.0.255");
    let b = a
        .reserve_block(p, "/23".parse::<Block<V4>>().unwrap())
        .unwrap();
    assert_eq!(b.to_string(), "10.20.2.0..=10.20.3.255");
    assert_eq!(Block::<V4>::prefix(20).unwrap().to_string(), "c=16, d=256");

    let ty = dyn_v4();
    let mut d = DynAllocator::new(Arc::clone(&ty), Policy::LowestFirst);
    d.add_pool("10.20.0.0/16").unwrap();
    let b = d.reserve_block("10.20.0.0/16", "/24").unwrap();
    assert_eq!(b.to_string(), "10.20.0.0..=10.20.0.255");
    assert_eq!(
        ty.parse_pattern("10.20.0.0/20").unwrap().to_string(),
        "a=10, b=20, c=0..=15"
    );
    assert_eq!(ty.parse_pattern("0.0.0.0/0").unwrap().to_string(), "*");
    assert_eq!(
        ty.parse_pattern("10.20.0.7").unwrap().to_string(),
        "a=10, b=20, c=0, d=7"
    );
}

#[test]
fn schema_default_pools_take_ranges_and_prefixes() {
    let ty = dyn_v4();
    let mut d = DynAllocator::with_default_pools(ty, Policy::LowestFirst).unwrap();
    let pools: Vec<String> = d.pools().map(|(p, _)| p.to_string()).collect();
    assert_eq!(pools, ["a=10, b=98", "10.99.0.250..=10.99.1.5"]);
    let got = d.requiring(&["dhcp"]).reserve_any().unwrap();
    assert_eq!(got.to_string(), "10.99.0.250");
    // Overlapping ranges in a schema are refused like overlapping boxes.
    let bad = V4_SCHEMA.to_string() + "\n[[address.pool]]\npattern = \"10.99.1.5..=10.99.1.9\"\n";
    let errs = DynSchema::from_toml(&bad).unwrap_err();
    assert!(
        errs[0]
            .message
            .contains("overlaps pool `10.99.0.250..=10.99.1.5`"),
        "{}",
        errs[0].message
    );
}

#[test]
fn bad_ranges_and_prefixes_say_what_is_wrong() {
    let ty = dyn_v4();
    let err = |s: &str| ty.parse_pattern(s).unwrap_err().to_string();
    assert!(
        err("10.20.0.0/33").contains("/33 is longer than the 32 bits"),
        "{}",
        err("10.20.0.0/33")
    );
    assert!(err("10.20.0.0/x").contains("not a number from 0 to 32"));
    assert!(err("10.20.1.0/16").contains("host bits are set"));
    assert!(err("10.20.1.0/16").contains("10.20.0.0/16"));
    assert!(err("10.20.1.5..=10.20.0.250").contains("reversed"));
    assert!(err("10.20.1.5..=10.20.300.1").contains("last address"));
    assert!(err("10.20.1.5..10.20.2.0").contains("first..=last"));
    assert!(
        err("bogus").contains("expected `field=value`"),
        "{}",
        err("bogus")
    );
    assert!(ty
        .parse_block("/33")
        .unwrap_err()
        .to_string()
        .contains("/33"));
    assert!(ty.parse_block("/-1").is_err());

    // A typed reversed range is refused when used, and leaves the allocator unchanged.
    let mut a = Allocator::<V4>::new();
    let err = a.add_pool(ip("10.0.1.0")..=ip("10.0.0.0")).unwrap_err();
    assert!(err.to_string().contains("reversed"), "{err}");
    assert_eq!(a.pools().count(), 0);
    assert!(Pattern::<V4>::from_text("10.0.0.0/8x").is_err());
    assert!(Block::<V4>::prefix(40).is_err());

    // A type whose fields are not one bit string has no prefixes.
    let pci = DynSchema::from_toml(
        "[[address]]\nname = \"P\"\nformat = \"{bus}:{slot}\"\n\
         [[address.field]]\nname = \"bus\"\ntype = \"u8\"\n\
         [[address.field]]\nname = \"slot\"\ntype = \"u8\"\nrange = \"1..=31\"\n",
    )
    .unwrap();
    let p = pci.get("P").unwrap();
    let e = p.parse_pattern("1:1/8").unwrap_err().to_string();
    assert!(e.contains("one bit string"), "{e}");
    // ... but linear ranges.
    let mut d = DynAllocator::new(Arc::clone(p), Policy::LowestFirst);
    d.add_pool("0:30..=1:2").unwrap();
    assert_eq!(d.free_count().to_string(), "4");
}

/// A small type with holes in its packed layout (ranges not starting at 0, not powers
/// of two): every linear range's pool holds exactly the addresses between its ends.
const ODD: &str = r#"
[[address]]
name = "Odd"
format = "{x}-{y}-{z}"
[[address.field]]
name = "x"
type = "u8"
range = "1..=3"
[[address.field]]
name = "y"
type = "u8"
range = "0..=4"
[[address.field]]
name = "z"
type = "u8"
range = "2..=6"
"#;

fn odd_all() -> Vec<[u128; 3]> {
    let mut v = Vec::new();
    for x in 1..=3 {
        for y in 0..=4 {
            for z in 2..=6 {
                v.push([x, y, z]);
            }
        }
    }
    v
}

proptest! {
    #[test]
    fn a_linear_range_covers_exactly_first_to_last(i in 0usize..75, j in 0usize..75) {
        let (i, j) = (i.min(j), i.max(j));
        let all = odd_all();
        let schema = DynSchema::from_toml(ODD).unwrap();
        let ty = schema.get("Odd").unwrap();
        let show = |v: &[u128; 3]| format!("{}-{}-{}", v[0], v[1], v[2]);
        let text = format!("{}..={}", show(&all[i]), show(&all[j]));
        let mut d = DynAllocator::new(Arc::clone(ty), Policy::LowestFirst);
        d.add_pool(text.as_str()).unwrap();
        prop_assert_eq!(d.free_count().to_string(), (j - i + 1).to_string());
        let p = ty.parse_pattern(&text).unwrap();
        for (k, v) in all.iter().enumerate() {
            let a = ty.address(v).unwrap();
            prop_assert_eq!(p.matches(&a), (i..=j).contains(&k));
        }
        // Lowest first walks the range in address order.
        for v in &all[i..=j] {
            prop_assert_eq!(d.reserve_any().unwrap().to_string(), show(v));
        }
        prop_assert!(d.reserve_any().is_err());
    }
}

#[test]
fn ipv6_text_prefixes_and_blocks_in_a_dyn_type() {
    let schema = DynSchema::from_toml(include_str!("../../schemas/ipv6.toml")).unwrap();
    let ty = schema.get("Ipv6Address").unwrap();
    let a = ty.parse_address("2001:db8:abcd:1::1").unwrap();
    assert_eq!(a.to_string(), "2001:db8:abcd:1::1");
    assert_eq!(
        ty.parse_address("2001:db8:0:0:0:0:0:1")
            .unwrap()
            .to_string(),
        "2001:db8::1"
    );
    let mut d = DynAllocator::new(Arc::clone(ty), Policy::LowestFirst);
    d.add_pool("2001:db8::/48").unwrap();
    let rack = d.reserve_block("2001:db8::/48", "/64").unwrap();
    assert_eq!(
        rack.to_string(),
        "2001:db8::..=2001:db8::ffff:ffff:ffff:ffff"
    );
    let rack2 = d.reserve_block("2001:db8::/48", "/64").unwrap();
    assert_eq!(rack2.first().to_string(), "2001:db8:0:1::");
    d.reserve("2001:db8:0:2::1").unwrap();
    assert!(d
        .reserve_first("2001:db8:0:2::1..=2001:db8:0:2::ff")
        .unwrap()
        .to_string()
        .ends_with("::2"));
    // Snapshots carry the same text and restore.
    let snap = d.snapshot();
    let back = DynAllocator::restore(Arc::clone(ty), &snap).unwrap();
    assert_eq!(back.snapshot(), snap);
    let e = ty.parse_pattern("2001:db8::1/48").unwrap_err().to_string();
    assert!(e.contains("the /48 network is 2001:db8::/48"), "{e}");
    assert!(ty.parse_pattern("2001:db8::/129").is_err());

    // A bad `text` is a schema error.
    let bad = include_str!("../../schemas/ipv6.toml").replace("text = \"ipv6\"", "text = \"ipv7\"");
    let errs = DynSchema::from_toml(&bad).unwrap_err();
    assert!(
        errs[0].message.contains("unknown text `ipv7`"),
        "{}",
        errs[0].message
    );
}

#[test]
fn a_restored_allocator_removes_a_range_pool_by_its_text() {
    let ty = dyn_v4();
    let mut d = DynAllocator::new(Arc::clone(&ty), Policy::LowestFirst);
    d.add_pool("10.20.0.250..=10.20.1.5").unwrap();
    let mut back = DynAllocator::restore(Arc::clone(&ty), &d.snapshot()).unwrap();
    // Snapshots record the range (version 3): listed as one pool after a restore.
    assert_eq!(back.pools().count(), 1);
    assert_eq!(back.free_count().to_string(), "12");
    back.remove_pool("10.20.0.250..=10.20.1.5").unwrap();
    assert_eq!(back.pools().count(), 0);
    assert!(matches!(
        back.remove_pool("10.20.0.250..=10.20.1.5"),
        Err(Error::NoSuchPool { .. })
    ));
}

#[test]
fn a_format_with_a_slash_still_reads_single_addresses() {
    let schema = DynSchema::from_toml(
        "[[address]]\nname = \"Slot\"\nformat = \"{rack}/{unit}\"\n\
         [[address.field]]\nname = \"rack\"\ntype = \"u8\"\n\
         [[address.field]]\nname = \"unit\"\ntype = \"u8\"\n",
    )
    .unwrap();
    let ty = schema.get("Slot").unwrap();
    assert_eq!(
        ty.parse_pattern("3/7").unwrap().to_string(),
        "rack=3, unit=7"
    );
    assert_eq!(
        ty.parse_pattern("3/250..=4/5").unwrap().to_string(),
        "3/250..=4/5"
    );
    // A prefix of such a type: the address, then the length after the last `/`.
    assert_eq!(ty.parse_pattern("3/0/8").unwrap().to_string(), "rack=3");
}
