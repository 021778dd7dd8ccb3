//! Run-time loaded schemas: DynSchema, DynType, DynAddress and DynAllocator.

use std::sync::Arc;

use addralloc_runtime::dynamic::{DynAllocator, DynSchema, DynType};
use addralloc_runtime::{Count, Policy};
use proptest::prelude::*;

const SCHEMA: &str = r#"
[[address]]
name = "PciAddress"
doc = "A PCI address."
format = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"

[[address.field]]
name = "domain"
type = "u16"

[[address.field]]
name = "bus"
type = "u8"

[[address.field]]
name = "slot"
type = "u8"
range = "0..=31"

[[address.field]]
name = "function"
type = "u8"
range = "0..=7"

[[address.pool]]
pattern = "domain=0, bus=0, slot=1..=15"
tags = ["pci"]

[[address.pool]]
pattern = "domain=0, bus=0, slot=16..=31"
tags = ["pci", "hotplug"]

[[address]]
name = "Disk"
format = "vd{index:a}"

[[address.field]]
name = "index"
type = "u16"
range = "0..=701"

[[address]]
name = "Ipv6"
format = "{hi:x}/{lo:x}"

[[address.field]]
name = "hi"
type = "u64"

[[address.field]]
name = "lo"
type = "u64"
"#;

fn schema() -> DynSchema {
    DynSchema::from_toml(SCHEMA).unwrap()
}

fn pci() -> Arc<DynType> {
    schema().get("PciAddress").unwrap().clone()
}

fn pci_alloc() -> DynAllocator {
    DynAllocator::with_default_pools(pci(), Policy::LowestFirst).unwrap()
}

#[test]
fn schema_types() {
    let s = schema();
    let names: Vec<&str> = s.types().iter().map(|t| t.name()).collect();
    assert_eq!(names, ["PciAddress", "Disk", "Ipv6"]);
    assert!(s.get("Nope").is_none());
    let pci = pci();
    assert_eq!(pci.fields().len(), 4);
    assert_eq!(pci.def().doc.as_deref(), Some("A PCI address."));
    assert_eq!(pci.capacity(), 65536u128 * 256 * 32 * 8);
    assert_eq!(s.get("Ipv6").unwrap().capacity(), Count::FULL_128);
    assert_eq!(s.get("Disk").unwrap().capacity(), 702u128);
}

#[test]
fn schema_errors_are_diagnostics() {
    let errs = DynSchema::from_toml("[[address]]\nname = \"X\"\n").unwrap_err();
    assert_eq!(
        errs[0].message,
        "address type `X` has no fields; add at least one"
    );
}

#[test]
fn parse_and_format_addresses() {
    let pci = pci();
    let a = pci.parse_address("0000:00:1F.7").unwrap();
    assert_eq!(a.values(), [0, 0, 31, 7]);
    assert_eq!(a.to_string(), "0000:00:1f.7");
    assert_eq!(pci.format_address(&a), "0000:00:1f.7");
    assert_eq!(a.get("slot"), Some(31));
    assert_eq!(a.get("nope"), None);
    assert_eq!(a.type_name(), "PciAddress");
    assert_eq!(format!("{a:?}"), "PciAddress(0000:00:1f.7)");
    assert_eq!(
        pci.parse_address("0000:00:1g.0").unwrap_err().to_string(),
        "invalid address `0000:00:1g.0` at column 10 (field `slot`): expected a hexadecimal digit"
    );
    assert_eq!(
        pci.address(&[0, 0, 32, 0]).unwrap_err().to_string(),
        "field `slot` value 32 is out of range 0..=31"
    );
    assert!(pci.address(&[0, 0, 3]).is_err());
    assert_eq!(
        pci.address(&[0, 0, 3, 1]).unwrap(),
        a.ty().parse_address("0:0:3.1").unwrap()
    );

    let disk = schema().get("Disk").unwrap().clone();
    assert_eq!(disk.parse_address("vdaa").unwrap().values(), [26]);
    assert_eq!(disk.address(&[701]).unwrap().to_string(), "vdzz");
}

#[test]
fn patterns_and_blocks() {
    let pci = pci();
    let p = pci.parse_pattern("bus=0, slot=1..=31").unwrap();
    // Hex fields print in hex (values below 10 are the same digits).
    assert_eq!(p.to_string(), "bus=0, slot=1..=0x1f");
    assert_eq!(p.range(2), Some(1..=31));
    assert!(p.matches(&pci.parse_address("0000:00:01.0").unwrap()));
    assert!(!p.matches(&pci.parse_address("0000:01:01.0").unwrap()));
    assert!(pci.any().is_any());
    assert_eq!(
        pci.parse_pattern("slot=40").unwrap_err().to_string(),
        "field `slot` value 40 is out of range 0..=31"
    );
    assert_eq!(
        pci.parse_pattern("solt=1").unwrap_err().to_string(),
        "invalid pattern `solt=1`: unknown field `solt`; did you mean `slot`?"
    );
    let b = pci.parse_block("function=8").unwrap();
    assert_eq!(b.to_string(), "function=8");
    assert_eq!(b.extents(), [1, 1, 1, 8]);
    assert_eq!(
        pci.parse_block("function=9").unwrap_err().to_string(),
        "invalid block extent 9 for field `function`: the field has only 8 values (0..=7)"
    );
    assert_eq!(
        pci.parse_block("function").unwrap_err().to_string(),
        "invalid block `function`: expected `field=extent`, found `function`"
    );
}

#[test]
fn reserve_exact_owners_and_conflicts() {
    let mut a = pci_alloc();
    assert_eq!(a.capacity(), 31u128 * 8);
    let x = a.owned_by("isa-bridge").reserve("0000:00:01.0").unwrap();
    assert_eq!(x.to_string(), "0000:00:01.0");
    assert!(a.is_reserved("0000:00:01.0"));
    assert!(a.is_reserved(&x));
    assert!(!a.is_reserved("garbage"));
    assert_eq!(a.owner_of("0:0:1.0"), Some("isa-bridge"));
    assert_eq!(
        a.reserve("0000:00:01.0").unwrap_err().to_string(),
        "address 0000:00:01.0 is already reserved by `isa-bridge`"
    );
    assert_eq!(
        a.reserve("0000:01:01.0").unwrap_err().to_string(),
        "address 0000:01:01.0 is outside every pool"
    );
    assert_eq!(
        a.requiring(&["hotplug"])
            .reserve("0000:00:02.0")
            .unwrap_err()
            .to_string(),
        "address 0000:00:02.0 is outside every pool tagged `hotplug`"
    );
    assert_eq!(
        a.requiring(&["nvme"])
            .reserve_any()
            .unwrap_err()
            .to_string(),
        "no pool carries tag `nvme`"
    );
    assert_eq!(
        a.reserve("0000:00:00.8").unwrap_err().to_string(),
        "invalid address `0000:00:00.8` at column 12 (field `function`): `8` is out of range 0x0..=0x7"
    );
    assert_eq!(a.reserved_count(), 1u128);
    a.release("0000:00:01.0").unwrap();
    assert_eq!(
        a.release("0000:00:01.0").unwrap_err().to_string(),
        "address 0000:00:01.0 is not reserved"
    );
    assert_eq!(a.reserved_count(), 0u128);
}

#[test]
fn automatic_choice_blocks_and_tags() {
    let mut a = pci_alloc();
    assert_eq!(a.reserve_any().unwrap().to_string(), "0000:00:01.0");
    let slot = a.reserve_block("*", "function=8").unwrap();
    assert_eq!(slot.to_string(), "0000:00:02.0..=0000:00:02.7");
    assert!(slot.contains(&pci().parse_address("0:0:2.5").unwrap()));
    assert_eq!(
        a.reserve_first("slot=2..").unwrap().to_string(),
        "0000:00:03.0"
    );
    let hp = a
        .owned_by("nic")
        .requiring(&["hotplug"])
        .reserve_any()
        .unwrap();
    assert_eq!(hp.to_string(), "0000:00:10.0");
    assert_eq!(a.owner_of(&hp), Some("nic"));
    let (x, i) = a
        .reserve_preferred(["slot=2", "slot=3", "slot=30"])
        .unwrap();
    assert_eq!((x.to_string().as_str(), i), ("0000:00:03.1", 1));
    a.release_block(&slot).unwrap();
    assert_eq!(
        a.reserve_first("slot=2").unwrap().to_string(),
        "0000:00:02.0"
    );
    // Exhaustion names the request.
    a.reserve_range("0:0:1f.0", "0:0:1f.7").unwrap();
    assert_eq!(
        a.reserve_first("slot=31").unwrap_err().to_string(),
        "no free address in `slot=0x1f`"
    );
    assert_eq!(
        a.requiring(&["hotplug"])
            .reserve_block("slot=31", "function=8")
            .unwrap_err()
            .to_string(),
        "no free block of `function=8` in `slot=0x1f` in pools tagged `hotplug`"
    );
    let owners: Vec<String> = a
        .owners()
        .map(|(s, e, o)| format!("{s}..={e} {o}"))
        .collect();
    assert_eq!(owners, ["0000:00:10.0..=0000:00:10.0 nic"]);
    let pools: Vec<String> = a.pools().map(|(p, t)| format!("{p} {t:?}")).collect();
    assert_eq!(
        pools,
        [
            "domain=0, bus=0, slot=1..=0xf [\"pci\"]",
            "domain=0, bus=0, slot=0x10..=0x1f [\"pci\", \"hotplug\"]"
        ]
    );
    assert_eq!(a.free_count_in("slot=31").unwrap(), 0u128);
}

#[test]
fn pools_added_by_hand() {
    let mut a = DynAllocator::new(pci(), Policy::HighestFirst);
    a.add_pool("domain=0, bus=0").unwrap();
    assert_eq!(
        a.add_pool("bus=0, slot=3").unwrap_err().to_string(),
        "pool `bus=0, slot=3` overlaps pool `domain=0, bus=0`"
    );
    assert_eq!(a.reserve_any().unwrap().to_string(), "0000:00:1f.7");
    assert_eq!(a.free_count(), 255u128);
    let free: Vec<String> = a.free_ranges().map(|(s, e)| format!("{s}..={e}")).collect();
    assert_eq!(free, ["0000:00:00.0..=0000:00:1f.6"]);
    let reserved: Vec<String> = a.reserved().map(|(s, e)| format!("{s}..={e}")).collect();
    assert_eq!(reserved, ["0000:00:1f.7..=0000:00:1f.7"]);
}

#[test]
fn next_fit_does_not_hand_back_a_released_address() {
    let mut a = DynAllocator::with_default_pools(pci(), Policy::NextFit).unwrap();
    let x = a.reserve_any().unwrap();
    a.release(&x).unwrap();
    assert_ne!(a.reserve_any().unwrap(), x);
}

#[test]
fn wrong_type_arguments() {
    let s = schema();
    let disk = s.get("Disk").unwrap().clone();
    let mut a = pci_alloc();
    let d = disk.parse_address("vdb").unwrap();
    assert_eq!(
        a.reserve(&d).unwrap_err().to_string(),
        "invalid address `vdb` at column 1: the address is a `Disk`; expected a `PciAddress`"
    );
    let p = disk.parse_pattern("index=3").unwrap();
    assert_eq!(
        a.reserve_first(&p).unwrap_err().to_string(),
        "invalid pattern `index=3`: the pattern is for `Disk`; expected one for `PciAddress`"
    );
    assert_eq!(a.reserved_count(), 0u128);
}

#[test]
fn failing_calls_change_nothing() {
    let mut a = pci_alloc();
    a.reserve("0:0:1.0").unwrap();
    let before: Vec<String> = a.reserved().map(|(s, e)| format!("{s}{e}")).collect();
    assert!(a.reserve_range("0:0:1.0", "0:0:1.7").is_err());
    assert!(a.reserve_range("0:0:2.7", "0:0:2.0").is_err());
    assert!(a.reserve_block("slot=40", "function=8").is_err());
    assert!(a.add_pool("slot=9").is_err());
    let after: Vec<String> = a.reserved().map(|(s, e)| format!("{s}{e}")).collect();
    assert_eq!(before, after);
    assert_eq!(a.capacity(), 31u128 * 8);
}

#[test]
fn wide_addresses() {
    let v6 = schema().get("Ipv6").unwrap().clone();
    let mut a = DynAllocator::new(v6.clone(), Policy::LowestFirst);
    a.add_pool("*").unwrap();
    assert_eq!(a.capacity(), Count::FULL_128);
    let max = format!("{:x}/{:x}", u64::MAX, u64::MAX);
    assert_eq!(a.reserve(max.as_str()).unwrap().to_string(), max);
    assert_eq!(a.reserve_any().unwrap().to_string(), "0/0");
    assert!(a.is_reserved(&max));
}

proptest! {
    #[test]
    fn random_text_never_panics(s in ".{0,30}", p in "[a-z=0-9.,* ]{0,30}", b in "[a-z=0-9, ]{0,20}") {
        let mut a = pci_alloc();
        let _ = a.reserve(s.as_str());
        let _ = a.reserve_first(p.as_str());
        let _ = a.reserve_block(p.as_str(), b.as_str());
        let _ = a.release(s.as_str());
        let _ = a.is_reserved(s.as_str());
        let _ = a.add_pool(p.as_str());
        let _ = pci().parse_pattern(&p);
        let _ = pci().parse_block(&b);
    }

    #[test]
    fn reservations_round_trip(picks in proptest::collection::vec((1u128..=31, 0u128..=7), 0..40)) {
        let mut a = pci_alloc();
        let mut model = std::collections::BTreeSet::new();
        for (slot, f) in picks {
            let text = format!("0000:00:{slot:02x}.{f:x}");
            let r = a.reserve(text.as_str());
            prop_assert_eq!(r.is_ok(), model.insert((slot, f)));
        }
        prop_assert_eq!(a.reserved_count(), model.len() as u128);
        for (slot, f) in &model {
            let text = format!("0000:00:{slot:02x}.{f:x}");
            prop_assert!(a.is_reserved(text.as_str()));
        }
    }
}

#[test]
fn transactions_roll_back_on_err_and_on_panic() {
    let mut a = pci_alloc();
    a.owned_by("isa").reserve("0000:00:01.0").unwrap();
    let before = a.snapshot();
    let r: Result<(), addralloc_runtime::Error> = a.transaction(|tx| {
        tx.owned_by("nic").reserve_block("*", "function=8")?;
        tx.release("0000:00:01.0")?;
        tx.reserve("0000:00:01.0")?;
        tx.reserve("0000:00:01.0")?; // fails: everything above is undone
        Ok(())
    });
    assert_eq!(
        r.unwrap_err().to_string(),
        "address 0000:00:01.0 is already reserved"
    );
    assert_eq!(a.snapshot(), before);
    assert_eq!(a.owner_of("0000:00:01.0"), Some("isa"));

    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = a.transaction(|tx| -> Result<(), addralloc_runtime::Error> {
            tx.reserve_any()?;
            panic!("a device model crashed");
        });
    }));
    assert!(caught.is_err());
    assert_eq!(a.snapshot(), before);

    // Committed, and nested: the inner failure undoes the inner part only.
    a.transaction(|tx| {
        tx.reserve("0000:00:02.0")?;
        let inner: Result<(), addralloc_runtime::Error> = tx.transaction(|tx| {
            tx.reserve("0000:00:03.0")?;
            Err(addralloc_runtime::Error::TooManyTags)
        });
        assert!(inner.is_err());
        Ok::<(), addralloc_runtime::Error>(())
    })
    .unwrap();
    assert!(a.is_reserved("0000:00:02.0"));
    assert!(!a.is_reserved("0000:00:03.0"));
}

#[test]
fn release_is_whole_on_the_dynamic_front_too() {
    let mut a = pci_alloc();
    let slot = a.owned_by("nic").reserve_block("*", "function=8").unwrap();
    assert_eq!(
        a.release("0000:00:01.3").unwrap_err().to_string(),
        "address 0000:00:01.3 is inside the reservation 0000:00:01.0..=0000:00:01.7 of `nic`; release that, or use release_range"
    );
    assert_eq!(
        a.reservation("0000:00:01.3")
            .map(|(f, l, o)| (f.to_string(), l.to_string(), o)),
        Some(("0000:00:01.0".into(), "0000:00:01.7".into(), Some("nic")))
    );
    assert_eq!(
        a.release_range("0000:00:01.6", "0000:00:01.7").unwrap(),
        2u128
    );
    assert_eq!(a.release_owner("nic"), 6u128);
    assert!(a.release_block(&slot).is_err());
    assert_eq!(a.reserved_count(), 0u128);
}

#[test]
fn a_shared_dynamic_allocator_hands_out_distinct_addresses() {
    let shared = addralloc_runtime::SharedDynAllocator::new(pci_alloc());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = shared.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| s.reserve_any().map(|a| a.to_string()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("thread {t}: {e}"))
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().expect("no panic").expect("no error"));
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100);
    assert_eq!(shared.reserved_count(), 100u128);
}
