#![cfg(all(feature = "plan", feature = "derive"))]
//! Snapshots of generated address types round-trip through JSON (the CLI's state files)
//! as well as TOML, and restore validates what comes back.

use addralloc::schemas::PciAddress;
use addralloc::{Allocator, Snapshot};

fn populated() -> Allocator<PciAddress> {
    let mut a = Allocator::<PciAddress>::with_policy(addralloc::Policy::NextFit);
    a.add_pool_tagged(
        PciAddress::pattern().domain(0).bus(0).slot(1..=31),
        &["pci"],
    )
    .unwrap();
    a.owned_by("isa-bridge")
        .reserve("0000:00:01.0".parse().unwrap())
        .unwrap();
    a.owned_by("net0")
        .reserve_block(PciAddress::pattern(), PciAddress::block().function(8))
        .unwrap();
    a.reserve_any().unwrap();
    a
}

#[test]
fn json_and_toml_round_trips() {
    let a = populated();
    let snap = a.snapshot();
    let json = serde_json::to_string_pretty(&snap).unwrap();
    let from_json: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(from_json, snap);
    let text = toml::to_string(&snap).unwrap();
    let from_toml: Snapshot = toml::from_str(&text).unwrap();
    assert_eq!(from_toml, snap);
    let mut b = Allocator::<PciAddress>::restore(&from_json).unwrap();
    assert_eq!(b.snapshot(), snap);
    assert_eq!(b.owner_of("0000:00:02.5".parse().unwrap()), Some("net0"));
    // Next-fit resumes after the last automatic choice.
    let mut a = a;
    assert_eq!(b.reserve_any().unwrap(), a.reserve_any().unwrap());
}

#[test]
fn restore_refuses_a_snapshot_of_another_type() {
    let snap = populated().snapshot();
    let json = serde_json::to_string(&snap).unwrap();
    let other: Snapshot = serde_json::from_str(&json).unwrap();
    let err = Allocator::<addralloc::schemas::MacAddress>::restore(&other)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid snapshot: the snapshot is of address space \
         `domain=0..=65535, bus=0..=255, slot=0..=31, function=0..=7`, not \
         `a=0..=255, b=0..=255, c=0..=255, d=0..=255, e=0..=255, f=0..=255`"
    );
}

#[test]
fn nested_blocks_round_trip_through_json_and_toml() {
    let mut a = populated();
    let bus = a
        .owned_by("hub")
        .reserve_block(
            PciAddress::pattern().slot(8..=15),
            PciAddress::block().slot(2).function(8),
        )
        .unwrap();
    a.subdivide(&bus).unwrap();
    let inner = a
        .child(&bus, |c| {
            let f = c
                .owned_by("nic")
                .reserve_block(PciAddress::pattern(), PciAddress::block().function(8))
                .unwrap();
            c.subdivide(&f).unwrap();
            c.child(&f, |g| g.owned_by("vf0").reserve_any().unwrap())
                .unwrap();
            f
        })
        .unwrap();
    let snap = a.snapshot();
    assert_eq!(snap.version, addralloc::SNAPSHOT_VERSION);
    let json = serde_json::to_string_pretty(&snap).unwrap();
    assert!(json.contains("\"children\""), "{json}");
    let from_json: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(from_json, snap);
    let text = toml::to_string(&snap).unwrap();
    let from_toml: Snapshot = toml::from_str(&text).unwrap();
    assert_eq!(from_toml, snap);
    let mut b = Allocator::<PciAddress>::restore(&from_toml).unwrap();
    assert_eq!(b.snapshot(), snap);
    let owner = b
        .child(&bus, |c| {
            c.child(&inner, |g| {
                g.owners()
                    .map(|(_, _, o)| o.to_string())
                    .collect::<Vec<_>>()
            })
        })
        .unwrap()
        .unwrap();
    assert_eq!(owner, ["vf0"]);
    // A version 2 snapshot (no children) still restores.
    let plain = populated().snapshot();
    assert_eq!(plain.version, 2);
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("children"), "{json}");
    Allocator::<PciAddress>::restore(&serde_json::from_str(&json).unwrap()).unwrap();
}
