//! Throughput of `SharedAllocator` at 1, 2 and 8 threads, next to the plain
//! `Allocator` on one thread, on the same reserve/release churn.
//!
//! `cargo bench --bench shared`; `ADDRALLOC_BENCH_QUICK=1` runs it small. Prints one line
//! per measurement: `bench shared <implementation> threads=<n> ns_per_op=<n> ops_per_sec=<n>`.
//! No timing is asserted.

use std::fmt;
use std::hint::black_box;
use std::time::Instant;

use addralloc::{Address, Allocator, Field, Pattern, Policy, SharedAllocator};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Port(u32);

impl Address for Port {
    const FIELDS: &'static [Field] = &[Field::new("port", 0, (1 << 20) - 1)];
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

fn new_alloc() -> Allocator<Port> {
    let mut a = Allocator::with_policy(Policy::LowestFirst);
    a.add_pool(Pattern::any()).expect("pool");
    a
}

/// Each worker keeps a window of `keep` addresses: reserve one, release the oldest.
fn churn(
    mut reserve: impl FnMut() -> Port,
    mut release: impl FnMut(Port),
    ops: usize,
    keep: usize,
) {
    let mut window = std::collections::VecDeque::with_capacity(keep + 1);
    for _ in 0..ops / 2 {
        window.push_back(black_box(reserve()));
        if window.len() > keep {
            release(window.pop_front().expect("non-empty"));
        }
    }
    for p in window {
        release(p);
    }
}

fn main() {
    let quick = std::env::var_os("ADDRALLOC_BENCH_QUICK").is_some();
    let total_ops = if quick { 40_000 } else { 2_000_000 };
    let keep = 256;

    let mut plain = new_alloc();
    let t = Instant::now();
    {
        let a = std::cell::RefCell::new(&mut plain);
        churn(
            || a.borrow_mut().reserve_any().expect("free address"),
            |p| a.borrow_mut().release(p).expect("reserved"),
            total_ops,
            keep,
        );
    }
    report("plain", 1, total_ops, t.elapsed().as_nanos());
    assert_eq!(plain.reserved_count(), 0u128);

    for threads in [1usize, 2, 8] {
        let shared = SharedAllocator::new(new_alloc());
        let per_thread = total_ops / threads;
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let sh = shared.clone();
                s.spawn(move || {
                    churn(
                        || sh.reserve_any().expect("free address"),
                        |p| sh.release(p).expect("reserved"),
                        per_thread,
                        keep,
                    )
                });
            }
        });
        report(
            "shared",
            threads,
            per_thread * threads,
            t.elapsed().as_nanos(),
        );
        assert_eq!(shared.reserved_count(), 0u128);
    }
}

fn report(name: &str, threads: usize, ops: usize, nanos: u128) {
    let ns = nanos as f64 / ops as f64;
    println!(
        "bench shared {name} threads={threads} ns_per_op={ns:.1} ops_per_sec={:.0}",
        1e9 / ns
    );
}
