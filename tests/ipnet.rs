//! `ipnet` interop (feature `ipnet`): `cargo test -p addralloc --features ipnet --test ipnet`.
#![cfg(feature = "ipnet")]

use addralloc::schemas::{Ipv4Address, Ipv6Address};
use addralloc::{Allocator, Pattern};
use ipnet::{Ipv4Net, Ipv6Net};

fn v4(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Net {
    s.parse().unwrap()
}

#[test]
fn ipv4_nets_to_and_from_patterns_and_blocks() {
    assert_eq!(
        Ipv4Address::net_pattern(v4("10.0.16.0/20")).to_string(),
        "a=10, b=0, c=16..=31"
    );
    // Host bits are dropped, as ipnet's `trunc`.
    assert_eq!(
        Ipv4Address::net_pattern(v4("10.0.17.5/20")),
        Ipv4Address::net_pattern(v4("10.0.16.0/20"))
    );
    assert!(Ipv4Address::net_pattern(v4("0.0.0.0/0")).is_any());
    for n in [
        "10.20.0.0/16",
        "10.0.16.0/20",
        "192.168.1.7/32",
        "0.0.0.0/0",
    ] {
        let p = Ipv4Address::net_pattern(v4(n));
        assert_eq!(Ipv4Address::net_of_pattern(&p).unwrap(), v4(n), "{n}");
        let b = Ipv4Address::net_block(v4(n));
        assert_eq!(Ipv4Address::net_of_block(&b).unwrap(), v4(n), "{n}");
    }
    let mut ipam = Allocator::<Ipv4Address>::new();
    ipam.add_pool(Ipv4Address::net_pattern(v4("10.20.0.0/16")))
        .unwrap();
    let rack = ipam
        .reserve_block(Pattern::any(), Ipv4Address::prefix_block(24).unwrap())
        .unwrap();
    assert_eq!(
        Ipv4Address::net_of_block(&rack).unwrap(),
        v4("10.20.0.0/24")
    );
    ipam.release_block(&Ipv4Address::net_block(v4("10.20.0.0/24")))
        .unwrap();

    // Not a prefix: said so.
    let three = "a=10, b=20, c=0..=2"
        .parse::<Pattern<Ipv4Address>>()
        .unwrap();
    let e = Ipv4Address::net_of_pattern(&three).unwrap_err().to_string();
    assert!(e.contains("not a power of two"), "{e}");
    let odd = "a=10, b=20, c=1..=2"
        .parse::<Pattern<Ipv4Address>>()
        .unwrap();
    let e = Ipv4Address::net_of_pattern(&odd).unwrap_err().to_string();
    assert!(e.contains("not aligned"), "{e}");
    let gaps = "a=10, b=0..=1, c=0"
        .parse::<Pattern<Ipv4Address>>()
        .unwrap();
    let e = Ipv4Address::net_of_pattern(&gaps).unwrap_err().to_string();
    assert!(e.contains("not one run"), "{e}");
}

#[test]
fn ipv6_nets_to_and_from_patterns_and_blocks() {
    let site = v6("2001:db8:abcd::/48");
    let p = Ipv6Address::net_pattern(site);
    assert_eq!(p.to_string(), "a=0x2001, b=0xdb8, c=0xabcd");
    assert_eq!(Ipv6Address::net_of_pattern(&p).unwrap(), site);
    let mut a = Allocator::<Ipv6Address>::new();
    a.add_pool(p).unwrap();
    let rack = a
        .reserve_block(p, Ipv6Address::prefix_block(64).unwrap())
        .unwrap();
    assert_eq!(
        Ipv6Address::net_of_block(&rack).unwrap(),
        v6("2001:db8:abcd::/64")
    );
    assert_eq!(Ipv6Address::net_block(v6("2001:db8:abcd::/64")), rack);
}
