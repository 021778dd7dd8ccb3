//! IP address management for one /24 with the library directly (no plan file):
//! pools from CIDR text, the router reserved with an owner, hosts handed out from
//! `.2` to `.240`, a /29 block for a container network, a release and its re-use, and
//! the lease table.
//!
//! ```sh
//! cargo run --example ipam
//! ```

use std::net::Ipv4Addr;

use addralloc::schemas::{Ipv4Address, MacAddress};
use addralloc::{Allocator, Error};

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
    Ok(())
}
