//! IP address management with the library directly (no plan file): first one /24 —
//! pools from CIDR text, the router reserved with an owner, hosts handed out from
//! `.2` to `.240`, a /29 block for a container network, a release and its re-use, and
//! the lease table; then a whole site — a /16 per site, a /24 per rack and hosts in
//! the rack as nested blocks, hosts across a /22 as one linear pool, a DHCP range
//! across an octet, IPv6 /48 → /64 per rack, and MAC addresses from a /24 prefix.
//! (`examples/plans/ipam-site.toml` does the site as a plan file.)
//!
//! ```sh
//! cargo run --example ipam
//! ```

use std::net::Ipv4Addr;

use addralloc::schemas::{Ipv4Address, Ipv6Address, MacAddress};
use addralloc::{Allocator, Block, Error, Pattern};

fn main() -> Result<(), Error> {
    // The subnet, from CIDR text: a pattern `a=192, b=168, c=1`.
    let lan = Ipv4Address::cidr("192.168.1.0/24")?;

    // Automatic choice takes hosts from .2 to .240; .254 is the router's alone.
    let mut ipam = Allocator::<Ipv4Address>::new();
    ipam.add_pool_tagged(lan.field_named("d", 2u8..=240)?, &["hosts"])?;
    ipam.add_pool_tagged(lan.field_named("d", 254u8)?, &["router"])?;

    let router: Ipv4Address = "192.168.1.254".parse()?;
    ipam.owned_by("router").reserve(router)?;

    // Hosts: the lowest free address of the `hosts` pool, each with its owner.
    for host in ["web", "db", "cache"] {
        let addr = ipam.owned_by(host).requiring(&["hosts"]).reserve_any()?;
        println!("{host:>10} -> {addr}");
    }

    // A /29 for a container network: the first free aligned block of eight.
    let containers = ipam
        .owned_by("containers")
        .reserve_block(lan, Ipv4Address::prefix_block(29)?)?;
    println!("containers -> {containers}");

    // A duplicate says who holds the address.
    let err = ipam.owned_by("rogue").reserve(router).unwrap_err();
    println!("     rogue -> error: {err}");
    assert_eq!(
        err.to_string(),
        "address 192.168.1.254 is already reserved by `router`"
    );

    // `db` leaves; its address is the lowest free one and goes to the next host.
    let db = "192.168.1.3".parse()?;
    assert_eq!(ipam.owner_of(db), Some("db"));
    ipam.release(db)?;
    let backup = ipam
        .owned_by("backup")
        .requiring(&["hosts"])
        .reserve_any()?;
    println!("    backup -> {backup} (released by db)");
    assert_eq!(backup, db);

    // Conversions with the standard library, and a MAC for the new host.
    let std_addr: Ipv4Addr = backup.into();
    assert_eq!(std_addr, Ipv4Addr::new(192, 168, 1, 3));
    let mac = MacAddress::from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    println!();
    println!("{:<15} {:<15} owner", "first", "last");
    for (first, last, owner) in ipam.owners() {
        println!("{:<15} {:<15} {owner}", first.to_string(), last.to_string());
    }
    println!();
    println!(
        "reserved {}, free {} of {}; backup's NIC is {mac}",
        ipam.reserved_count(),
        ipam.free_count(),
        ipam.capacity()
    );
    println!();
    site()
}

fn ip(text: &str) -> Result<Ipv4Address, Error> {
    text.parse()
}

/// A site: nested prefixes, linear ranges, IPv6 and MACs.
fn site() -> Result<(), Error> {
    // The operator's space, and a /16 per site: the site's block is reserved here and
    // becomes a pool for its own racks.
    let mut net = Allocator::<Ipv4Address>::new();
    net.add_pool(Pattern::from_text("10.16.0.0/12")?)?;
    let site = net
        .owned_by("site-a")
        .reserve_block(Pattern::any(), Block::prefix(16)?)?;
    net.subdivide(&site)?;
    println!("site-a      {site}");

    let racks = net.child(&site, |s| -> Result<Vec<_>, Error> {
        let mut racks = Vec::new();
        for name in ["rack1", "rack2", "rack3"] {
            let r = s
                .owned_by(name)
                .reserve_block(Pattern::any(), Block::prefix(24)?)?;
            s.subdivide(&r)?;
            racks.push(r);
        }
        Ok(racks)
    })??;
    // Hosts inside rack 3, from .10 up.
    let hosts = net.child(&site, |s| {
        s.child(&racks[2], |r| -> Result<Vec<Ipv4Address>, Error> {
            let first = Pattern::linear(ip("10.16.2.10")?, ip("10.16.2.250")?);
            ["web", "db"]
                .into_iter()
                .map(|h| r.owned_by(h).reserve_first(first))
                .collect()
        })
    })???;
    println!("rack3 hosts {} {}", hosts[0], hosts[1]);
    assert_eq!(hosts[0], ip("10.16.2.10")?);

    // Utilisation per level: /16s left in the space, /24s left in the site.
    let sites_left = net.free_block_count(Pattern::any(), Block::prefix(16)?)?;
    let racks_left = net.child(&site, |s| {
        s.free_block_count(Pattern::any(), Block::prefix(24)?)
    })??;
    println!("left: {sites_left} /16 sites, {racks_left} /24 racks in site-a");
    assert_eq!(racks_left.to_string(), "253");

    // A parent with children cannot go.
    let err = net.release_block(&site).unwrap_err();
    println!("release site-a -> error: {err}");

    // Hosts across a /22 as one pool: 10.20.4.10 to 10.20.7.250 is 1,009 addresses.
    let mut lan = Allocator::<Ipv4Address>::new();
    lan.add_pool_tagged(ip("10.20.4.10")?..=ip("10.20.7.250")?, &["hosts"])?;
    // A DHCP range across the .0/.1 boundary.
    lan.add_pool_tagged(ip("10.20.0.250")?..=ip("10.20.1.5")?, &["dhcp"])?;
    assert_eq!(
        lan.free_count_in(ip("10.20.4.10")?..=ip("10.20.7.250")?)?
            .to_string(),
        "1009"
    );
    let leases: Vec<String> = (0..8)
        .map(|_| {
            lan.requiring(&["dhcp"])
                .reserve_any()
                .map(|a| a.to_string())
        })
        .collect::<Result<_, _>>()?;
    println!("dhcp leases {}", leases.join(" "));
    assert_eq!(leases[6], "10.20.1.0");
    for (p, tags) in lan.pools() {
        println!("pool {p} {tags:?}");
    }

    // IPv6: the site's /48, a /64 per rack.
    let mut v6 = Allocator::<Ipv6Address>::new();
    v6.add_pool(Ipv6Address::cidr("2001:db8:abcd::/48")?)?;
    for rack in ["rack1", "rack2", "rack3"] {
        let b = v6
            .owned_by(rack)
            .reserve_block(Pattern::any(), Block::prefix(64)?)?;
        println!("{rack} v6   {}/64", b.first());
    }
    let left = v6.free_block_count(Pattern::any(), Block::prefix(64)?)?;
    println!("left: {left} /64s in the /48");

    // MACs from the locally administered 52:54:00 prefix.
    let mut macs = Allocator::<MacAddress>::new();
    macs.add_pool(Pattern::from_text("52:54:00:00:00:00/24")?)?;
    let nic = macs.owned_by("web").reserve_any()?;
    println!("web's NIC   {nic}");
    assert_eq!(nic.to_string(), "52:54:00:00:00:00");
    Ok(())
}
