//! Reserving and releasing outside a transaction allocates nothing per reservation:
//! no undo log, owner labels interned. Counted with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use addralloc_runtime::{Address, Allocator, Block, Field, Pattern};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` with a const initializer, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: as the caller promised for `layout`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: as the caller promised.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ipv4([u8; 4]);

impl Address for Ipv4 {
    const FIELDS: &'static [Field] = &[
        Field::new("a", 0, 255),
        Field::new("b", 0, 255),
        Field::new("c", 0, 255),
        Field::new("d", 0, 255),
    ];
    fn field(&self, i: usize) -> u128 {
        self.0[i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Ipv4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8])
    }
}

impl std::fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

const OPS: usize = 10_000;

fn warm() -> Allocator<Ipv4> {
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool("a=10, b=0".parse::<Pattern<Ipv4>>().unwrap())
        .unwrap();
    // Some labelled and unlabelled state to work among.
    for i in 0..1_000 {
        if i % 3 == 0 {
            a.owned_by("vm1").reserve_any().unwrap();
        } else {
            a.reserve_any().unwrap();
        }
    }
    a
}

#[test]
fn unlabelled_churn_allocates_nothing() {
    let mut a = warm();
    let pattern: Pattern<Ipv4> = "c=0..=3".parse().unwrap();
    // The first constrained search keeps a hint for its pattern: once.
    let x = a.reserve_first(pattern).unwrap();
    a.release(x).unwrap();
    let n = allocations_in(|| {
        for i in 0..OPS {
            let x = if i % 2 == 0 {
                a.reserve_any().unwrap()
            } else {
                a.reserve_first(pattern).unwrap()
            };
            a.release(x).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in {OPS} reserve/release pairs");
}

#[test]
fn labelled_churn_allocates_nothing_per_reservation() {
    let mut a = warm();
    let n = allocations_in(|| {
        for i in 0..OPS {
            let owner = if i % 2 == 0 { "vm1" } else { "vm2" };
            let x = a.owned_by(owner).reserve_any().unwrap();
            assert_eq!(a.owner_of(x), Some(owner));
            a.release(x).unwrap();
        }
    });
    // A new owner name is stored once and kept while few names are unused.
    assert!(n <= 2, "{n} allocations in {OPS} labelled pairs");
}

#[test]
fn a_transaction_allocates_its_journal_once_not_per_reservation() {
    let mut a = warm();
    // The first transaction grows the journal; later ones reuse it.
    a.transaction(|tx| tx.reserve_any().map(|_| ())).unwrap();
    let n = allocations_in(|| {
        for _ in 0..100 {
            a.transaction(|tx| {
                for _ in 0..8 {
                    tx.owned_by("vm1").reserve_any()?;
                }
                Err::<(), _>(addralloc_runtime::Error::TooManyTags)
            })
            .unwrap_err();
        }
    });
    // The owner map's nodes may split and merge once per transaction; the journal
    // itself keeps its capacity.
    assert!(
        n <= 200,
        "{n} allocations in 100 transactions of 8 reservations"
    );
}

#[test]
fn whole_block_churn_allocates_nothing() {
    let mut a = warm();
    let block = Block::<Ipv4>::single().extent(3, 8);
    // Next to other blocks: a sealed range each, no record.
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(a.reserve_block(Pattern::any(), block).unwrap());
    }
    // The first search keeps the block geometry: once.
    let b = a.reserve_block(Pattern::any(), block).unwrap();
    a.release_block(&b).unwrap();
    let n = allocations_in(|| {
        for i in 0..OPS {
            // Release one of the held blocks and take the lowest free block again
            // (the same hole), as hot-unplug and re-plug do. (Not the last one: it
            // sits alone in the range set's last block, which goes and comes back.)
            let k = (i * 7) % 32;
            a.release_block(&held[k]).unwrap();
            held[k] = a.reserve_block(Pattern::any(), block).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in {OPS} block release/reserve pairs");
    // A release inside a block is refused, naming the block.
    let e = a.release(held[0].first()).unwrap_err();
    assert!(e.to_string().contains(&held[0].first().to_string()), "{e}");
}

#[test]
fn pattern_searches_allocate_nothing() {
    let mut a = warm();
    let pattern = "a=10, b=0, c=7".parse::<Pattern<Ipv4>>().unwrap();
    // The first search of a pattern keeps its hint: once.
    let x = a.reserve_first(pattern).unwrap();
    a.release(x).unwrap();
    let n = allocations_in(|| {
        for _ in 0..OPS {
            let x = a.reserve_first(pattern).unwrap();
            a.release(x).unwrap();
        }
    });
    assert_eq!(n, 0, "{n} allocations in {OPS} reserve_first/release pairs");
}

#[test]
fn rotating_pattern_searches_allocate_nothing() {
    let mut a = warm();
    let patterns: Vec<Pattern<Ipv4>> = [
        "a=10, b=0, c=7",
        "a=10, b=0, c=8..=9",
        "a=10, b=0, c=200..=255",
        "a=10, b=0, d=4",
    ]
    .iter()
    .map(|p| p.parse().unwrap())
    .collect();
    // The first search of each pattern keeps its hint and its search box: once each.
    for p in &patterns {
        let x = a.reserve_first(*p).unwrap();
        a.release(x).unwrap();
    }
    let n = allocations_in(|| {
        for k in 0..OPS {
            let p = patterns[k % patterns.len()];
            let x = a.reserve_first(p).unwrap();
            assert!(p.matches(&x), "{x:?} outside {p}");
            a.release(x).unwrap();
        }
    });
    assert_eq!(
        n, 0,
        "{n} allocations in {OPS} reserve_first/release pairs over 4 patterns"
    );
}
