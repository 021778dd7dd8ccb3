//! Snapshots, transactions and the shared allocator: restore validates everything,
//! a failed transaction changes nothing, and threads never get one address twice.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use addralloc_runtime::{
    Address, Allocator, Block, Error, Field, Pattern, Policy, ReservationSnapshot, SharedAllocator,
    Snapshot,
};
use proptest::prelude::*;

/// `bus.slot.fn` in decimal: 2 × 8 × 4 = 64 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Small {
    bus: u8,
    slot: u8,
    func: u8,
}

impl Address for Small {
    const FIELDS: &'static [Field] = &[
        Field::new("bus", 0, 1),
        Field::new("slot", 0, 7),
        Field::new("func", 0, 3),
    ];
    fn field(&self, i: usize) -> u128 {
        [self.bus, self.slot, self.func][i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Small {
            bus: v[0] as u8,
            slot: v[1] as u8,
            func: v[2] as u8,
        }
    }
}

impl fmt::Display for Small {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.bus, self.slot, self.func)
    }
}

impl FromStr for Small {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 {
            return Err(format!("expected `bus.slot.func`, found `{s}`"));
        }
        let mut v = [0u128; 3];
        for (i, p) in parts.iter().enumerate() {
            v[i] = p.parse().map_err(|_| format!("`{p}` is not a number"))?;
        }
        Small::try_from_fields(&v).map_err(|e| e.to_string())
    }
}

fn small(bus: u8, slot: u8, func: u8) -> Small {
    Small { bus, slot, func }
}

fn populated(policy: Policy) -> Allocator<Small> {
    let mut a = Allocator::with_policy(policy);
    a.add_pool_tagged("bus=0".parse::<Pattern<Small>>().unwrap(), &["pci"])
        .unwrap();
    a.add_pool_tagged(
        "bus=1, slot=1..=7".parse::<Pattern<Small>>().unwrap(),
        &["pcie", "hotplug"],
    )
    .unwrap();
    a.owned_by("isa").reserve(small(0, 1, 0)).unwrap();
    a.owned_by("ide").reserve(small(0, 1, 1)).unwrap();
    a.reserve(small(0, 1, 2)).unwrap();
    a.owned_by("net0")
        .reserve_block(Pattern::any(), Block::single().extent(2, 4))
        .unwrap();
    a.requiring(&["hotplug"]).reserve_any().unwrap();
    a
}

#[test]
fn snapshot_round_trips_through_toml() {
    for policy in [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst] {
        let a = populated(policy);
        let snap = a.snapshot();
        let text = toml::to_string(&snap).unwrap();
        let back: Snapshot = toml::from_str(&text).unwrap();
        assert_eq!(back, snap);
        let b = Allocator::<Small>::restore(&back).unwrap();
        assert_eq!(b.snapshot(), snap);
        assert_eq!(b.owner_of(small(0, 1, 1)), Some("ide"));
        assert_eq!(b.owner_of(small(0, 1, 2)), None);
        assert_eq!(b.free_count(), a.free_count());
        // The restored allocator makes the same next choice.
        let (mut a2, mut b2) = (a.clone(), b);
        assert_eq!(a2.reserve_any().unwrap(), b2.reserve_any().unwrap());
    }
}

#[test]
fn snapshot_lists_owner_runs() {
    let a = populated(Policy::LowestFirst);
    let snap = a.snapshot();
    let r = &snap.reservations;
    // The whole-slot block went to the lowest free slot, 0.0.
    assert_eq!(r[0].first, "0.0.0");
    assert_eq!(r[0].last.as_deref(), Some("0.0.3"));
    assert_eq!(r[0].owner.as_deref(), Some("net0"));
    assert_eq!(
        r[1],
        ReservationSnapshot {
            first: "0.1.0".into(),
            last: None,
            owner: Some("isa".into()),
            shape: None,
        }
    );
    assert_eq!(r[2].owner.as_deref(), Some("ide"));
    assert_eq!(
        (r[3].first.as_str(), r[3].owner.as_deref()),
        ("0.1.2", None)
    );
    assert_eq!(r[4].first, "1.1.0");
    assert_eq!(r.len(), 5);
}

fn restore_err(f: impl FnOnce(&mut Snapshot)) -> String {
    let mut snap = populated(Policy::NextFit).snapshot();
    f(&mut snap);
    Allocator::<Small>::restore(&snap).unwrap_err().to_string()
}

#[test]
fn restore_rejects_bad_snapshots_with_clear_errors() {
    assert_eq!(
        restore_err(|s| s.version = 4),
        "invalid snapshot: unsupported snapshot version 4; this build reads versions 1 to 3"
    );
    assert_eq!(
        restore_err(|s| s.space = "port=0..=31".into()),
        "invalid snapshot: the snapshot is of address space `port=0..=31`, not `bus=0..=1, slot=0..=7, func=0..=3`"
    );
    assert_eq!(
        restore_err(|s| s.reservations[1].first = "0.1".into()),
        "invalid snapshot: reservation 2: address `0.1`: expected `bus.slot.func`, found `0.1`"
    );
    assert_eq!(
        restore_err(|s| s.reservations[1].first = "0.9.0".into()),
        "invalid snapshot: reservation 2: address `0.9.0`: field `slot` value 9 is out of range 0..=7"
    );
    assert_eq!(
        restore_err(|s| s.reservations[2].first = "0.0.1".into()),
        "invalid snapshot: reservation 3 `0.0.1` overlaps an earlier reservation"
    );
    assert_eq!(
        restore_err(|s| s.reservations.push(ReservationSnapshot {
            first: "1.0.0".into(),
            last: None,
            owner: None,
            shape: None,
        })),
        "invalid snapshot: reservation 6 `1.0.0` is not inside the pools"
    );
    assert_eq!(
        restore_err(|s| s.reservations[3].last = Some("0.1.1".into())),
        "invalid snapshot: reservation 4 `0.1.2..=0.1.1`: the last address comes before the first"
    );
    assert_eq!(
        restore_err(|s| s.pools[1].pattern = "bus=0, slot=3".into()),
        "invalid snapshot: pool 2 `bus=0, slot=3`: pool `bus=0, slot=3` overlaps pool `bus=0`"
    );
    assert_eq!(
        restore_err(|s| s.pools[0].pattern = "bus=7".into()),
        "invalid snapshot: pool 1 `bus=7`: field `bus` value 7 is out of range 0..=1"
    );
    assert_eq!(
        restore_err(|s| s.last_choice = Some("x".into())),
        "invalid snapshot: last choice `x`: expected `bus.slot.func`, found `x`"
    );
}

#[test]
fn restore_never_panics_on_arbitrary_toml() {
    // Structurally valid snapshots with junk strings, and junk TOML.
    for text in [
        "",
        "version = 1",
        "version = 1\nspace = \"\"\npolicy = \"LowestFirst\"",
        "version = 1\nspace = 3",
        "[[reservations]]\nfirst = \"0.0.0\"",
        "version = 1\nspace = \"bus=0..=1, slot=0..=7, func=0..=3\"\npolicy = \"Sideways\"",
    ] {
        if let Ok(snap) = toml::from_str::<Snapshot>(text) {
            let _ = Allocator::<Small>::restore(&snap);
        }
    }
}

/// One step of a random transaction.
#[derive(Clone, Debug)]
enum Op {
    Reserve(u8, u8, u8),
    ReserveAny(bool),
    ReserveBlock(u8),
    Release(u8, u8, u8),
    ReleaseBlock(u8, u8),
    Fail,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2u8, 0..8u8, 0..4u8).prop_map(|(a, b, c)| Op::Reserve(a, b, c)),
        any::<bool>().prop_map(Op::ReserveAny),
        (1..=4u8).prop_map(Op::ReserveBlock),
        (0..2u8, 0..8u8, 0..4u8).prop_map(|(a, b, c)| Op::Release(a, b, c)),
        (0..2u8, 0..8u8).prop_map(|(a, b)| Op::ReleaseBlock(a, b)),
        Just(Op::Fail),
    ]
}

fn run(
    tx: &mut addralloc_runtime::Transaction<'_, Allocator<Small>>,
    ops: &[Op],
) -> Result<(), Error> {
    for op in ops {
        // Individual failures are tolerated: only `Fail` aborts the transaction.
        match *op {
            Op::Reserve(a, b, c) => {
                let _ = tx.owned_by("tx").reserve(small(a, b, c));
            }
            Op::ReserveAny(tagged) => {
                let _ = if tagged {
                    tx.requiring(&["hotplug"]).reserve_any()
                } else {
                    tx.reserve_any()
                };
            }
            Op::ReserveBlock(n) => {
                let _ = tx.reserve_block(Pattern::any(), Block::single().extent(2, n as u128));
            }
            Op::Release(a, b, c) => {
                let _ = tx.release(small(a, b, c));
            }
            Op::ReleaseBlock(a, b) => {
                if let Some(r) = addralloc_runtime::BlockRange::new(small(a, b, 0), small(a, b, 3))
                {
                    let _ = tx.release_block(&r);
                }
            }
            Op::Fail => return Err(Error::TooManyTags),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A failing transaction leaves the allocator exactly as it was: same snapshot,
    /// same next choices.
    #[test]
    fn failed_transactions_change_nothing(policy in 0..3u8, pre in prop::collection::vec(op(), 0..12), ops in prop::collection::vec(op(), 0..24)) {
        let policy = [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst][policy as usize];
        let mut a = populated(policy);
        let _ = a.transaction(|tx| run(tx, &pre));
        let before = a.snapshot();
        let mut probe = a.clone();
        let r = a.transaction(|tx| {
            run(tx, &ops)?;
            Err::<(), Error>(Error::TooManyTags)
        });
        prop_assert!(r.is_err());
        prop_assert_eq!(a.snapshot(), before);
        prop_assert_eq!(a.reserve_any().ok(), probe.reserve_any().ok());
    }

    /// A committed transaction equals the same operations done one by one.
    #[test]
    fn committed_transactions_equal_plain_operations(ops in prop::collection::vec(op(), 0..24)) {
        let ops: Vec<Op> = ops.into_iter().filter(|o| !matches!(o, Op::Fail)).collect();
        let mut a = populated(Policy::NextFit);
        let mut b = a.clone();
        a.transaction(|tx| run(tx, &ops)).unwrap();
        b.transaction(|tx| {
            for o in &ops {
                run(tx, std::slice::from_ref(o))?;
            }
            Ok::<(), Error>(())
        }).unwrap();
        prop_assert_eq!(a.snapshot(), b.snapshot());
    }
}

#[test]
fn a_panicking_transaction_is_rolled_back() {
    let mut a = populated(Policy::LowestFirst);
    let before = a.snapshot();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = a.transaction(|tx| {
            tx.reserve_any().unwrap();
            tx.release(small(0, 1, 0)).unwrap();
            panic!("device model crashed");
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        });
    }));
    assert!(r.is_err());
    assert_eq!(a.snapshot(), before);
}

/// A 32-bit space: 65,536 ports on each of 65,536 hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Port(u32);

impl Address for Port {
    const FIELDS: &'static [Field] = &[Field::new("port", 0, 49_999)];
    fn field(&self, _: usize) -> u128 {
        self.0 as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Port(v[0] as u32)
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[test]
fn eight_threads_never_share_an_address() {
    const THREADS: usize = 8;
    const OPS: usize = 100_000;
    let mut a = Allocator::<Port>::with_policy(Policy::NextFit);
    a.add_pool(Pattern::any()).unwrap();
    let shared = SharedAllocator::new(a);
    let held: Arc<Vec<AtomicBool>> =
        Arc::new((0..50_000).map(|_| AtomicBool::new(false)).collect());
    let reserved_total = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let shared = shared.clone();
            let held = Arc::clone(&held);
            let total = Arc::clone(&reserved_total);
            std::thread::spawn(move || {
                let mut mine: Vec<Port> = Vec::new();
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1);
                for _ in 0..OPS {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if rng % 2 == 0 && !mine.is_empty() {
                        let p = mine.swap_remove((rng >> 8) as usize % mine.len());
                        // Clear the flag first: the address may be handed out again as
                        // soon as it is released.
                        held[p.0 as usize].store(false, Ordering::SeqCst);
                        shared.release(p).unwrap();
                        total.fetch_sub(1, Ordering::SeqCst);
                    } else {
                        let p = if rng % 3 == 0 {
                            shared.reserve_any()
                        } else {
                            shared.transaction(|tx| tx.reserve_any())
                        };
                        let p = p.unwrap();
                        let was = held[p.0 as usize].swap(true, Ordering::SeqCst);
                        assert!(!was, "port {p} handed out twice");
                        total.fetch_add(1, Ordering::SeqCst);
                        mine.push(p);
                    }
                }
                mine.len()
            })
        })
        .collect();
    let still_held: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let a = shared.try_unwrap().ok().unwrap();
    assert_eq!(a.reserved_count(), still_held as u128);
    assert_eq!(reserved_total.load(Ordering::SeqCst), still_held as u64);
    assert_eq!(
        held.iter().filter(|h| h.load(Ordering::SeqCst)).count(),
        still_held
    );
    assert_eq!(a.free_count(), (50_000 - still_held) as u128);
}

#[test]
fn allocator_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Allocator<Small>>();
    check::<SharedAllocator<Small>>();
}

#[test]
fn dyn_allocator_snapshot_round_trips_and_validates() {
    use addralloc_runtime::dynamic::{DynAllocator, DynSchema};
    let schema = DynSchema::from_toml(
        r#"
[[address]]
name = "Ccw"
format = "{cssid:x}.{ssid}.{devno:04x}"
[[address.field]]
name = "cssid"
type = "u8"
range = "0..=0xfe"
[[address.field]]
name = "ssid"
type = "u8"
range = "0..=3"
[[address.field]]
name = "devno"
type = "u16"
[[address.pool]]
pattern = "cssid=0xfe"
"#,
    )
    .unwrap();
    let ty = schema.get("Ccw").unwrap().clone();
    let mut a = DynAllocator::with_default_pools(ty.clone(), Policy::NextFit).unwrap();
    a.owned_by("console").reserve("fe.0.0000").unwrap();
    a.reserve_any().unwrap();
    a.reserve_any().unwrap();
    a.release("fe.0.0001").unwrap();
    let snap = a.snapshot();
    assert_eq!(snap.last_choice.as_deref(), Some("fe.0.0002"));
    let text = toml::to_string(&snap).unwrap();
    let b = DynAllocator::restore(ty.clone(), &toml::from_str(&text).unwrap()).unwrap();
    assert_eq!(b.snapshot(), snap);
    // Next-fit continues after the last choice, not at the released address.
    let mut b = b;
    assert_eq!(b.reserve_any().unwrap().to_string(), "fe.0.0003");

    let mut bad = snap.clone();
    bad.reservations[0].first = "ff.0.0000".into();
    let err = DynAllocator::restore(ty, &bad).unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid snapshot: reservation 1: address `ff.0.0000`: invalid address `ff.0.0000` \
         at column 1 (field `cssid`): `ff` is out of range 0x0..=0xfe"
    );
}

/// Found by `failed_transactions_change_nothing`: rolling back the release of the first
/// address of a labelled block must restore the block's one label, not add a second.
#[test]
fn rollback_of_a_release_restores_split_labels() {
    let mut a = populated(Policy::LowestFirst);
    let before = a.snapshot();
    let r = a.transaction(|tx| {
        tx.release(small(0, 0, 0))?;
        Err::<(), Error>(Error::TooManyTags)
    });
    assert!(r.is_err());
    assert_eq!(a.snapshot(), before);
    assert_eq!(a.owners().count(), 3);
}
