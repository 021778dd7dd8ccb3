//! addralloc against peer crates on the same workloads.
//!
//! Run: `cargo bench --bench peers` (full, a few minutes) or
//! `ADDRALLOC_BENCH_QUICK=1 cargo bench --bench peers` (every workload small, for CI).
//!
//! Prints one line per measurement,
//! `bench <workload> <implementation> ns_per_op=<number> bytes=<heap bytes held>`,
//! then a table with ratios and PASS/MISS per target. See `docs/benchmarks.md`.
//!
//! Peers get what a careful user of each crate would write for the same job; every peer
//! result is checked against addralloc's (same addresses handed out, same counts): the
//! asserts compare work done, never timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::fmt;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use addralloc::plan::{DeviceSpec, Plan, RunOptions, SpaceSpec};
use addralloc::schema::Schema;
use addralloc::{Address, Allocator, Block, Field, Fit, Pattern, Policy};
use fixedbitset::FixedBitSet;
use range_set_blaze::RangeSetBlaze;
use rangemap::RangeInclusiveSet;
use roaring::RoaringBitmap;
use vm_allocator::{AddressAllocator, AllocPolicy, RangeInclusive as VmRange};

// ===== heap accounting ===========================================================

/// Counts the bytes currently held on the heap.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            HELD.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            HELD.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            HELD.fetch_sub(l.size(), Ordering::Relaxed);
            HELD.fetch_add(new, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

// ===== small helpers ==============================================================

/// splitmix64: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    x.checked_add(a - 1).map(|y| y & !(a - 1))
}

/// FNV-style fold of a sequence, to compare what implementations handed out.
fn fold(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x100_0000_01b3)
}

/// One repetition: time per operation, heap held, and a value every implementation of
/// the workload must agree on.
#[derive(Clone, Copy)]
struct Rep {
    ns_per_op: f64,
    bytes: usize,
    check: u64,
    /// Bytes per free fragment (addralloc only; 0 when not measured).
    per_frag: f64,
}

fn time_ops(ops: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

// ===== address types ==============================================================

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ipv4(u32);

impl Address for Ipv4 {
    const FIELDS: &'static [Field] = &[
        Field::new("a", 0, 255),
        Field::new("b", 0, 255),
        Field::new("c", 0, 255),
        Field::new("d", 0, 255),
    ];
    fn field(&self, i: usize) -> u128 {
        ((self.0 >> (24 - 8 * i)) & 0xff) as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Ipv4(((v[0] as u32) << 24) | ((v[1] as u32) << 16) | ((v[2] as u32) << 8) | v[3] as u32)
    }
}

impl std::str::FromStr for Ipv4 {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<std::net::Ipv4Addr>().map(|a| Ipv4(a.into()))
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_be_bytes();
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pci {
    domain: u16,
    bus: u8,
    slot: u8,
    function: u8,
}

impl Pci {
    fn index(&self) -> u64 {
        ((self.bus as u64) << 8) | ((self.slot as u64) << 3) | self.function as u64
    }
    fn from_index(i: u64) -> Pci {
        Pci {
            domain: 0,
            bus: (i >> 8) as u8,
            slot: ((i >> 3) & 31) as u8,
            function: (i & 7) as u8,
        }
    }
}

impl Address for Pci {
    const FIELDS: &'static [Field] = &[
        Field::new("domain", 0, 0xffff),
        Field::new("bus", 0, 0xff),
        Field::new("slot", 0, 31),
        Field::new("function", 0, 7),
    ];
    fn field(&self, i: usize) -> u128 {
        match i {
            0 => self.domain as u128,
            1 => self.bus as u128,
            2 => self.slot as u128,
            _ => self.function as u128,
        }
    }
    fn from_fields(v: &[u128]) -> Self {
        Pci {
            domain: v[0] as u16,
            bus: v[1] as u8,
            slot: v[2] as u8,
            function: v[3] as u8,
        }
    }
}

impl fmt::Display for Pci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// A whole IPv6 address: one 128-bit field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ipv6(u128);

impl Address for Ipv6 {
    const FIELDS: &'static [Field] = &[Field::new("addr", 0, u128::MAX)];
    fn field(&self, _: usize) -> u128 {
        self.0
    }
    fn from_fields(v: &[u128]) -> Self {
        Ipv6(v[0])
    }
}

impl fmt::Display for Ipv6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::net::Ipv6Addr::from(self.0))
    }
}

/// A drive address `controller:bus:unit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Drive {
    controller: u8,
    bus: u8,
    unit: u8,
}

impl Drive {
    fn index(&self) -> u64 {
        ((self.controller as u64) << 16) | ((self.bus as u64) << 8) | self.unit as u64
    }
    fn from_index(i: u64) -> Drive {
        Drive {
            controller: (i >> 16) as u8,
            bus: (i >> 8) as u8,
            unit: i as u8,
        }
    }
}

impl Address for Drive {
    const FIELDS: &'static [Field] = &[
        Field::new("controller", 0, 3),
        Field::new("bus", 0, 255),
        Field::new("unit", 0, 255),
    ];
    fn field(&self, i: usize) -> u128 {
        [self.controller, self.bus, self.unit][i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Drive {
            controller: v[0] as u8,
            bus: v[1] as u8,
            unit: v[2] as u8,
        }
    }
}

impl fmt::Display for Drive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.controller, self.bus, self.unit)
    }
}

// ===== peers behind one small trait ===============================================

/// What each peer is asked to do, on `u64` addresses, in one pool `lo..=hi`.
trait Peer {
    const NAME: &'static str;
    fn new(lo: u64, hi: u64) -> Self;
    /// Reserves exactly `x`; false when taken.
    fn reserve(&mut self, x: u64) -> bool;
    /// Finds and reserves the lowest free `size`-long run aligned to `align` inside
    /// `lo..=hi`.
    fn alloc(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64>;
    /// Releases `s..=e` (reserved before, as one `alloc` or one `reserve` when `s == e`).
    fn release(&mut self, s: u64, e: u64);
}

// ---- range-set-blaze: a BTreeMap of start -> end, coalescing -----------------------

struct Rsb(RangeSetBlaze<u64>);

impl Peer for Rsb {
    const NAME: &'static str = "range-set-blaze";
    fn new(_: u64, _: u64) -> Self {
        Rsb(RangeSetBlaze::new())
    }
    fn reserve(&mut self, x: u64) -> bool {
        self.0.insert(x)
    }
    fn alloc(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        // Hop from gap to gap with `range_or_gap_at` (O(log r) each); after a few hops,
        // walk `ranges()` instead (one pass, no look-ups) — what a user would do when
        // many short holes are in the way.
        let fits = |gs: u64, ge: u64| {
            let q = align_up(gs, align)?;
            (q <= ge && ge - q >= size - 1).then_some(q)
        };
        let mut x = lo;
        let mut found = None;
        for _ in 0..4 {
            if x > hi {
                return None;
            }
            let (r, present) = self.0.range_or_gap_at(x);
            let (s, e) = (*r.start(), (*r.end()).min(hi));
            if present {
                x = e.checked_add(1)?;
                continue;
            }
            if let Some(q) = fits(x.max(s), e) {
                found = Some(q);
                break;
            }
            x = e.checked_add(1)?;
        }
        if found.is_none() && x <= hi {
            let mut free_from = x;
            for r in self.0.ranges() {
                let (s, e) = (*r.start(), *r.end());
                if e < free_from {
                    continue;
                }
                if s > free_from {
                    if let Some(q) = fits(free_from, (s - 1).min(hi)) {
                        found = Some(q);
                        break;
                    }
                }
                if s > hi {
                    break;
                }
                free_from = e + 1;
            }
            if found.is_none() && free_from <= hi {
                found = fits(free_from, hi);
            }
        }
        let q = found?;
        if size == 1 {
            self.0.insert(q);
        } else {
            self.0.ranges_insert(q..=q + size - 1);
        }
        Some(q)
    }
    fn release(&mut self, s: u64, e: u64) {
        if s == e {
            assert!(self.0.remove(s));
        } else {
            // No range removal in 0.8: one value at a time (cheaper than `-` with a
            // one-range set, which rebuilds the whole set).
            for x in s..=e {
                assert!(self.0.remove(x));
            }
        }
    }
}

// ---- rangemap: RangeInclusiveSet, `gaps()` over the pool ---------------------------

struct Rmap(RangeInclusiveSet<u64>);

impl Peer for Rmap {
    const NAME: &'static str = "rangemap";
    fn new(_: u64, _: u64) -> Self {
        Rmap(RangeInclusiveSet::new())
    }
    fn reserve(&mut self, x: u64) -> bool {
        if self.0.contains(&x) {
            return false;
        }
        self.0.insert(x..=x);
        true
    }
    fn alloc(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        let outer = lo..=hi;
        let q = self.0.gaps(&outer).find_map(|g| {
            let q = align_up(*g.start(), align)?;
            (q <= *g.end() && *g.end() - q >= size - 1).then_some(q)
        })?;
        self.0.insert(q..=q + size - 1);
        Some(q)
    }
    fn release(&mut self, s: u64, e: u64) {
        self.0.remove(s..=e);
    }
}

// ---- roaring: a compressed bitmap of reserved addresses -----------------------------

struct Roar(RoaringBitmap);

impl Roar {
    /// The first absent value in `x..=hi`: galloping, then binary search, with
    /// `contains_range` (roaring has no "first absent" query).
    fn first_absent(&self, x: u64, hi: u64) -> Option<u64> {
        if !self.0.contains(x as u32) {
            return Some(x);
        }
        let (mut good, mut step) = (x, 1u64);
        let bad = loop {
            let probe = (good + step).min(hi);
            if probe == good {
                return None; // `x..=hi` all present
            }
            if self.0.contains_range(good as u32 + 1..=probe as u32) {
                good = probe;
                step *= 2;
            } else {
                break probe;
            }
        };
        let mut bad = bad;
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if self.0.contains_range(good as u32 + 1..=mid as u32) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        Some(bad)
    }
    fn next_present(&self, a: u64) -> Option<u64> {
        let mut it = self.0.iter();
        it.advance_to(a as u32);
        it.next().map(u64::from)
    }
}

impl Peer for Roar {
    const NAME: &'static str = "roaring";
    fn new(_: u64, _: u64) -> Self {
        Roar(RoaringBitmap::new())
    }
    fn reserve(&mut self, x: u64) -> bool {
        self.0.insert(x as u32)
    }
    fn alloc(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        let fits = |gs: u64, ge: u64| {
            let q = align_up(gs, align)?;
            (q <= ge && ge - q >= size - 1).then_some(q)
        };
        // A few gap-to-gap hops (first_absent + next_present), then one linear pass
        // over the present values when many holes are in the way.
        let mut x = lo;
        let mut found = None;
        for _ in 0..4 {
            if x > hi {
                return None;
            }
            let a = self.first_absent(x, hi)?;
            let ge = self.next_present(a).map_or(hi, |n| (n - 1).min(hi));
            if let Some(q) = fits(a, ge) {
                found = Some(q);
                break;
            }
            x = ge.checked_add(1)?;
        }
        if found.is_none() && x <= hi {
            let mut it = self.0.iter();
            it.advance_to(x as u32);
            let mut free_from = x;
            for v in it {
                let v = v as u64;
                if v > free_from {
                    if let Some(q) = fits(free_from, (v - 1).min(hi)) {
                        found = Some(q);
                        break;
                    }
                }
                if v > hi {
                    break;
                }
                free_from = v + 1;
            }
            if found.is_none() && free_from <= hi {
                found = fits(free_from, hi);
            }
        }
        let q = found?;
        if size == 1 {
            self.0.insert(q as u32);
        } else {
            self.0.insert_range(q as u32..=(q + size - 1) as u32);
        }
        Some(q)
    }
    fn release(&mut self, s: u64, e: u64) {
        if s == e {
            assert!(self.0.remove(s as u32));
        } else {
            assert_eq!(self.0.remove_range(s as u32..=e as u32), e - s + 1);
        }
    }
}

// ---- fixedbitset: one bit per pool address, with a lowest-possibly-free hint ------

struct Fbs {
    base: u64,
    bits: FixedBitSet,
    /// Every address below `base + hint` is reserved.
    hint: u64,
}

impl Fbs {
    /// Lowest `size`-aligned, `size`-long all-zero run (size a power of two <= 64) with
    /// offsets in `lo..=hi`, scanning whole words.
    fn scan(&self, lo: u64, hi: u64, size: u64) -> Option<u64> {
        let words = self.bits.as_slice();
        // Bit positions that start an aligned group of `size` zeros.
        assert!(size.is_power_of_two() && size <= 64, "block size {size}");
        let starts: u64 = (0..64).step_by(size as usize).fold(0, |m, i| m | 1 << i);
        let mut w = (lo / 64) as usize;
        let last = (hi / 64) as usize;
        while w <= last {
            let mut z = !(words[w] as u64);
            let mut k = 1;
            while k < size {
                z &= z >> k;
                k *= 2;
            }
            z &= starts;
            if w == (lo / 64) as usize {
                z &= !0u64 << (lo % 64);
            }
            if z != 0 {
                let q = w as u64 * 64 + z.trailing_zeros() as u64;
                return (q + size - 1 <= hi).then_some(q);
            }
            w += 1;
        }
        None
    }
}

impl Peer for Fbs {
    const NAME: &'static str = "fixedbitset";
    fn new(lo: u64, hi: u64) -> Self {
        Fbs {
            base: lo,
            bits: FixedBitSet::with_capacity((hi - lo + 1) as usize),
            hint: 0,
        }
    }
    fn reserve(&mut self, x: u64) -> bool {
        !self.bits.put((x - self.base) as usize)
    }
    fn alloc(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        assert_eq!(size, align, "aligned power-of-two runs only");
        let (lo, hi) = (lo - self.base, hi - self.base);
        let from = lo.max(self.hint & !(size - 1));
        let q = self.scan(from, hi, size)?;
        if size == 1 && lo <= self.hint {
            self.hint = q + 1;
        }
        self.bits.insert_range(q as usize..(q + size) as usize);
        Some(q + self.base)
    }
    fn release(&mut self, s: u64, e: u64) {
        let (s, e) = (s - self.base, e - self.base);
        self.bits.remove_range(s as usize..e as usize + 1);
        self.hint = self.hint.min(s);
    }
}

// ---- vm-allocator: an interval tree of free/allocated nodes ------------------------

struct Vm(AddressAllocator);

impl Peer for Vm {
    const NAME: &'static str = "vm-allocator";
    fn new(lo: u64, hi: u64) -> Self {
        Vm(AddressAllocator::new(lo, hi - lo + 1).expect("pool"))
    }
    fn reserve(&mut self, x: u64) -> bool {
        self.0.allocate(1, 1, AllocPolicy::ExactMatch(x)).is_ok()
    }
    fn alloc(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        // FirstMatch has no sub-range: only whole-pool searches are asked of it.
        assert!(lo == self.0.base() && hi == self.0.end());
        self.0
            .allocate(size, align, AllocPolicy::FirstMatch)
            .ok()
            .map(|r| r.start())
    }
    fn release(&mut self, s: u64, e: u64) {
        self.0
            .free(&VmRange::new(s, e).expect("range"))
            .expect("vm-allocator free");
    }
}

// ===== configuration ==============================================================

struct Cfg {
    quick: bool,
    reps: usize,
    /// Time budget per (workload, implementation), all repetitions.
    budget: Duration,
    w1_n: u64,
    w1_vm_n: u64,
    w2_ops: u64,
    w2_vm_ops: u64,
    w3_holes: u64,
    w3_ops: u64,
    w3_peer_ops: u64,
    w5_n: u64,
    w6_ops: u64,
    /// Operations of each W8 (no-cliff) workload.
    w8_ops: u64,
    /// Reservations restored by W8f.
    w8f_n: u64,
    /// Device counts of W7.
    w7_devices: [u64; 2],
    /// Windows placed, then churned, by W9.
    w9_n: u64,
}

impl Cfg {
    fn from_env() -> Cfg {
        let quick = std::env::var_os("ADDRALLOC_BENCH_QUICK").is_some_and(|v| v != "0");
        if quick {
            Cfg {
                quick,
                reps: 1,
                budget: Duration::from_secs(1),
                w1_n: 20_000,
                w1_vm_n: 2_000,
                w2_ops: 20_000,
                w2_vm_ops: 2_000,
                w3_holes: 16_384,
                w3_ops: 100,
                w3_peer_ops: 5,
                w5_n: 20_000,
                w6_ops: 5_000,
                w8_ops: 2_000,
                w8f_n: 20_000,
                w7_devices: [200, 2_000],
                w9_n: 2_000,
            }
        } else {
            Cfg {
                quick,
                reps: 5,
                budget: Duration::from_secs(6),
                w1_n: 1_000_000,
                w1_vm_n: 20_000,
                w2_ops: 1_000_000,
                w2_vm_ops: 20_000,
                w3_holes: 262_144,
                w3_ops: 10_000,
                w3_peer_ops: 20,
                w5_n: 1_000_000,
                w6_ops: 200_000,
                w8_ops: 20_000,
                w8f_n: 1_000_000,
                w7_devices: [2_000, 20_000],
                w9_n: 20_000,
            }
        }
    }
}

// ===== results ====================================================================

struct Row {
    workload: &'static str,
    imp: &'static str,
    /// None: the implementation cannot do the workload (`note` says why).
    rep: Option<Rep>,
    reps: usize,
    note: String,
}

struct Bench {
    cfg: Cfg,
    rows: Vec<Row>,
    /// `ADDRALLOC_BENCH_ONLY=w3`: run only the workloads whose name starts so (profiling).
    only: Option<String>,
    /// `ADDRALLOC_BENCH_IMPL=addralloc`: run only that implementation (profiling).
    only_impl: Option<String>,
}

impl Bench {
    fn want(&self, prefix: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|o| prefix.starts_with(o) || o.starts_with(prefix))
    }

    /// Runs every job of one workload round-robin, up to `cfg.reps` rounds (a job stops
    /// early once its repetitions together pass `cfg.budget`; each runs at least once),
    /// so a change in machine load hits all implementations alike. Keeps the median
    /// ns/op per job, checks that repetitions agree and that each job's check value
    /// matches what it must (usually addralloc's), records the rows and returns the
    /// median reps (`None` for jobs skipped by `ADDRALLOC_BENCH_IMPL`).
    fn measure_all(&mut self, workload: &'static str, mut jobs: Vec<Job<'_>>) -> Vec<Option<Rep>> {
        let wanted: Vec<bool> = jobs
            .iter()
            .map(|j| self.only_impl.as_deref().is_none_or(|o| o == j.imp))
            .collect();
        let mut reps: Vec<Vec<Rep>> = vec![Vec::new(); jobs.len()];
        let mut spent = vec![Duration::ZERO; jobs.len()];
        for _round in 0..self.cfg.reps {
            for (i, job) in jobs.iter_mut().enumerate() {
                if !wanted[i] || (!reps[i].is_empty() && spent[i] >= self.cfg.budget) {
                    continue;
                }
                let t = Instant::now();
                let r = (job.run)();
                spent[i] += t.elapsed();
                if let Some(first) = reps[i].first() {
                    assert_eq!(
                        first.check, r.check,
                        "{workload} {}: repetitions differ",
                        job.imp
                    );
                }
                reps[i].push(r);
            }
        }
        let mut out = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            if reps[i].is_empty() {
                out.push(None);
                continue;
            }
            let rep = median(&reps[i]);
            self.record(workload, job.imp, rep, reps[i].len(), job.note.clone());
            out.push(Some(rep));
        }
        // Same work: compare check values (never timings).
        let reference = out.first().copied().flatten().map(|r| r.check);
        for (job, r) in jobs.iter().zip(&out) {
            let Some(r) = r else { continue };
            let want = match job.expect {
                Expect::Reference => reference,
                Expect::Value(v) => Some(v),
            };
            if let Some(want) = want {
                assert_eq!(
                    r.check, want,
                    "{workload}: {} did other work than addralloc",
                    job.imp
                );
            }
        }
        out
    }

    fn record(
        &mut self,
        workload: &'static str,
        imp: &'static str,
        rep: Rep,
        reps: usize,
        note: String,
    ) {
        println!(
            "bench {workload} {imp} ns_per_op={:.1} bytes={}",
            rep.ns_per_op, rep.bytes
        );
        self.rows.push(Row {
            workload,
            imp,
            rep: Some(rep),
            reps,
            note,
        });
    }

    fn na(&mut self, workload: &'static str, imp: &'static str, why: &str) {
        self.rows.push(Row {
            workload,
            imp,
            rep: None,
            reps: 0,
            note: why.to_string(),
        });
    }

    fn ns(&self, workload: &str, imp: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.workload == workload && r.imp == imp)
            .and_then(|r| r.rep.map(|x| x.ns_per_op))
    }

    fn rep(&self, workload: &str, imp: &str) -> Option<Rep> {
        self.rows
            .iter()
            .find(|r| r.workload == workload && r.imp == imp)
            .and_then(|r| r.rep)
    }
}

const ADDRALLOC: &str = "addralloc";

/// What a job's check value must equal.
#[derive(Clone, Copy)]
enum Expect {
    /// The first job's (addralloc, same sizes).
    Reference,
    /// A value computed for this job's own sizes.
    Value(u64),
}

/// One implementation's run of a workload.
struct Job<'a> {
    imp: &'static str,
    note: String,
    expect: Expect,
    run: Box<dyn FnMut() -> Rep + 'a>,
}

fn job<'a>(imp: &'static str, run: impl FnMut() -> Rep + 'a) -> Job<'a> {
    Job {
        imp,
        note: String::new(),
        expect: Expect::Reference,
        run: Box::new(run),
    }
}

impl Job<'_> {
    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
    fn expect(mut self, v: u64) -> Self {
        self.expect = Expect::Value(v);
        self
    }
}

/// The repetition with the median ns/op.
fn median(reps: &[Rep]) -> Rep {
    let mut v = reps.to_vec();
    v.sort_by(|x, y| x.ns_per_op.total_cmp(&y.ns_per_op));
    v[v.len() / 2]
}

// ===== W1: sequential fill of 10.0.0.0/8 ==========================================

const NET10: u64 = 10 << 24;
const NET10_END: u64 = NET10 + (1 << 24) - 1;

fn w1_addralloc(n: u64) -> Rep {
    let before = held();
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool("a=10".parse::<Pattern<Ipv4>>().unwrap())
        .unwrap();
    let mut last = 0u64;
    let ns = time_ops(n, || {
        for _ in 0..n {
            last = black_box(a.reserve_any().unwrap()).0 as u64;
        }
    });
    let bytes = held() - before;
    assert_eq!(a.reserved_count(), n as u128);
    black_box(&a);
    Rep {
        ns_per_op: ns,
        bytes,
        check: fold(n, last),
        per_frag: 0.0,
    }
}

fn w1_peer<P: Peer>(n: u64) -> Rep {
    let before = held();
    let mut p = P::new(NET10, NET10_END);
    let mut last = 0u64;
    let ns = time_ops(n, || {
        for _ in 0..n {
            last = black_box(p.alloc(NET10, NET10_END, 1, 1).unwrap());
        }
    });
    let bytes = held() - before;
    black_box(&p);
    drop(p);
    Rep {
        ns_per_op: ns,
        bytes,
        check: fold(n, last),
        per_frag: 0.0,
    }
}

// ===== W2: churn in a half-full, fragmented 10.0.0.0/16 ============================

const NET16_END: u64 = NET10 + (1 << 16) - 1;

/// The pre-reserved half (ascending) and the churn's victim positions.
fn w2_input(ops: u64) -> (Vec<u64>, Vec<u32>) {
    let mut rng = Rng(2);
    // The pool's last address is never pre-reserved: vm-allocator 0.1.4 cannot reserve
    // an exact address that is the last of a free node (see notes); harmless for all.
    let reserved: Vec<u64> = (NET10..NET16_END).filter(|_| rng.next() & 1 == 0).collect();
    let victims = (0..ops)
        .map(|_| rng.below(reserved.len() as u64) as u32)
        .collect();
    (reserved, victims)
}

fn w2_check(reserved: &[u64]) -> u64 {
    let mut v = reserved.to_vec();
    v.sort_unstable();
    v.iter().fold(v.len() as u64, |h, &x| fold(h, x))
}

fn w2_addralloc(ops: u64) -> Rep {
    let (mut reserved, victims) = w2_input(ops);
    let before = held();
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool("a=10, b=0".parse::<Pattern<Ipv4>>().unwrap())
        .unwrap();
    for &x in &reserved {
        a.reserve(Ipv4(x as u32)).unwrap();
    }
    // Bytes per free fragment while the /16 is half full and fragmented: lowest-first
    // churn compacts it (after ~10^6 ops nearly every reservation sits at the bottom).
    let per_frag = (held() - before) as f64 / a.free_ranges().count().max(1) as f64;
    let ns = time_ops(ops, || {
        for &v in &victims {
            let slot = &mut reserved[v as usize];
            a.release(Ipv4(*slot as u32)).unwrap();
            *slot = black_box(a.reserve_any().unwrap()).0 as u64;
        }
    });
    let bytes = held() - before;
    assert_eq!(a.reserved_count(), reserved.len() as u128);
    Rep {
        ns_per_op: ns,
        bytes,
        check: w2_check(&reserved),
        per_frag,
    }
}

fn w2_peer<P: Peer>(ops: u64) -> Rep {
    let (mut reserved, victims) = w2_input(ops);
    let before = held();
    let mut p = P::new(NET10, NET16_END);
    for &x in &reserved {
        assert!(p.reserve(x), "{}: exact reserve of {x}", P::NAME);
    }
    let ns = time_ops(ops, || {
        for &v in &victims {
            let slot = &mut reserved[v as usize];
            p.release(*slot, *slot);
            *slot = black_box(p.alloc(NET10, NET16_END, 1, 1).unwrap());
        }
    });
    let bytes = held() - before;
    black_box(&p);
    drop(p);
    Rep {
        ns_per_op: ns,
        bytes,
        check: w2_check(&reserved),
        per_frag: 0.0,
    }
}

// ===== W3: aligned 4-blocks behind 262,144 three-address holes ======================

/// Reserves `4k + 1` for `k < holes`: every aligned 4-block below `4 * holes` is
/// blocked, and the free space there is `holes` three-address holes (plus address 0).
/// Then `ops` consecutive `reserve_block`s of 4 aligned addresses, none released: each
/// one still has to get past all the holes (the blocks it finds are above them).
fn w3_addralloc(holes: u64, ops: u64) -> Rep {
    let before = held();
    let mut a = Allocator::<Ipv4>::new();
    a.add_pool("a=10".parse::<Pattern<Ipv4>>().unwrap())
        .unwrap();
    for k in 0..holes {
        a.reserve(Ipv4((NET10 + 4 * k + 1) as u32)).unwrap();
    }
    let block = Block::<Ipv4>::single().extent(3, 4);
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            let b = black_box(a.reserve_block(Pattern::any(), block).unwrap());
            h = fold(h, b.first().0 as u64);
        }
    });
    let bytes = held() - before;
    black_box(&a);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

fn w3_peer<P: Peer>(holes: u64, ops: u64) -> Rep {
    let before = held();
    let mut p = P::new(NET10, NET10_END);
    for k in 0..holes {
        assert!(p.reserve(NET10 + 4 * k + 1));
    }
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            h = fold(h, black_box(p.alloc(NET10, NET10_END, 4, 4).unwrap()));
        }
    });
    let bytes = held() - before;
    black_box(&p);
    drop(p);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

// ===== W4: PCI whole slots ========================================================

const PCI_END: u64 = (1 << 16) - 1;
const PCI_SLOTS: u64 = 256 * 32;
const W4_OPS: u64 = PCI_SLOTS + PCI_SLOTS / 2 + PCI_SLOTS / 2;

/// Reserve all 8,192 slots (function extent 8), release every other one (by fill
/// order), refill them. All three phases are timed; ns/op = total / 16,384.
fn w4_addralloc() -> Rep {
    let mut got: Vec<u64> = Vec::with_capacity(PCI_SLOTS as usize);
    let before = held();
    let mut a = Allocator::<Pci>::new();
    a.add_pool("domain=0".parse::<Pattern<Pci>>().unwrap())
        .unwrap();
    let slot = Block::<Pci>::single().extent(3, 8);
    let mut h = 0;
    let ns = time_ops(W4_OPS, || {
        for _ in 0..PCI_SLOTS {
            got.push(
                black_box(a.reserve_block(Pattern::any(), slot).unwrap())
                    .first()
                    .index(),
            );
        }
        for &s in got.iter().step_by(2) {
            let b = addralloc::BlockRange::new(Pci::from_index(s), Pci::from_index(s + 7)).unwrap();
            a.release_block(&b).unwrap();
        }
        for _ in 0..PCI_SLOTS / 2 {
            h = fold(
                h,
                black_box(a.reserve_block(Pattern::any(), slot).unwrap())
                    .first()
                    .index(),
            );
        }
    });
    let bytes = held() - before;
    assert_eq!(a.free_count(), 0u128);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

fn w4_peer<P: Peer>() -> Rep {
    let mut got: Vec<u64> = Vec::with_capacity(PCI_SLOTS as usize);
    let before = held();
    let mut p = P::new(0, PCI_END);
    let mut h = 0;
    let ns = time_ops(W4_OPS, || {
        for _ in 0..PCI_SLOTS {
            got.push(black_box(p.alloc(0, PCI_END, 8, 8).unwrap()));
        }
        for &s in got.iter().step_by(2) {
            p.release(s, s + 7);
        }
        for _ in 0..PCI_SLOTS / 2 {
            h = fold(h, black_box(p.alloc(0, PCI_END, 8, 8).unwrap()));
        }
    });
    let bytes = held() - before;
    assert!(
        p.alloc(0, PCI_END, 1, 1).is_none(),
        "{}: bus not full",
        P::NAME
    );
    black_box(&p);
    drop(p);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

// ===== W5: an IPv6 /64 in a 128-bit space =========================================

const V6_NET: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0000;
const V6_END: u128 = V6_NET + u64::MAX as u128;

/// Random host offsets above the sequential part (distinct with overwhelming odds;
/// a repeat would fail the exact reservation loudly).
fn w5_input(n: u64) -> Vec<u128> {
    let mut rng = Rng(5);
    (0..n)
        .map(|_| V6_NET + (rng.next() | (1 << 40)) as u128)
        .collect()
}

/// Returns (sequential rep, random rep).
fn w5_addralloc(n: u64) -> (Rep, Rep) {
    let input = w5_input(n);
    let before = held();
    let mut a = Allocator::<Ipv6>::new();
    a.add_pool(Pattern::<Ipv6>::any().field(0, V6_NET..=V6_END))
        .unwrap();
    let mut last = 0;
    let ns_seq = time_ops(n, || {
        for _ in 0..n {
            last = black_box(a.reserve_any().unwrap()).0;
        }
    });
    let bytes_seq = held() - before;
    let ns_rand = time_ops(n, || {
        for &x in &input {
            black_box(a.reserve(Ipv6(x)).unwrap());
        }
    });
    let bytes = held() - before;
    let frags = a.free_ranges().count();
    assert_eq!(a.reserved_count(), 2 * n as u128);
    let check = fold(n, last as u64);
    (
        Rep {
            ns_per_op: ns_seq,
            bytes: bytes_seq,
            check,
            per_frag: 0.0,
        },
        Rep {
            ns_per_op: ns_rand,
            bytes,
            check,
            per_frag: bytes as f64 / frags.max(1) as f64,
        },
    )
}

fn w5_rsb(n: u64) -> (Rep, Rep) {
    let input = w5_input(n);
    let before = held();
    let mut s = RangeSetBlaze::<u128>::new();
    let mut last = 0;
    let ns_seq = time_ops(n, || {
        for _ in 0..n {
            // Lowest free in the /64: the gap at the pool start, or after the range there.
            let (r, present) = s.range_or_gap_at(V6_NET);
            let x = if present { *r.end() + 1 } else { V6_NET };
            assert!(x <= V6_END);
            s.insert(x);
            last = black_box(x);
        }
    });
    let bytes_seq = held() - before;
    let ns_rand = time_ops(n, || {
        for &x in &input {
            assert!((V6_NET..=V6_END).contains(&x) && s.insert(x));
        }
    });
    let bytes = held() - before;
    let count: u128 = s.ranges().map(|r| r.end() - r.start() + 1).sum();
    assert_eq!(count, 2 * n as u128);
    black_box(&s);
    drop(s);
    let check = fold(n, last as u64);
    (
        Rep {
            ns_per_op: ns_seq,
            bytes: bytes_seq,
            check,
            per_frag: 0.0,
        },
        Rep {
            ns_per_op: ns_rand,
            bytes,
            check,
            per_frag: 0.0,
        },
    )
}

fn w5_rangemap(n: u64) -> (Rep, Rep) {
    let input = w5_input(n);
    let before = held();
    let mut s = RangeInclusiveSet::<u128>::new();
    let pool = V6_NET..=V6_END;
    let mut last = 0;
    let ns_seq = time_ops(n, || {
        for _ in 0..n {
            let x = *s.gaps(&pool).next().unwrap().start();
            s.insert(x..=x);
            last = black_box(x);
        }
    });
    let bytes_seq = held() - before;
    let ns_rand = time_ops(n, || {
        for &x in &input {
            assert!(pool.contains(&x) && !s.contains(&x));
            s.insert(x..=x);
        }
    });
    let bytes = held() - before;
    black_box(&s);
    drop(s);
    let check = fold(n, last as u64);
    (
        Rep {
            ns_per_op: ns_seq,
            bytes: bytes_seq,
            check,
            per_frag: 0.0,
        },
        Rep {
            ns_per_op: ns_rand,
            bytes,
            check,
            per_frag: 0.0,
        },
    )
}

// ===== W6: first free unit on one controller, bus in a range ======================

const DRIVE_END: u64 = (4 << 16) - 1;
const W6_CTRL: u8 = 2;
const W6_BUS: (u8, u8) = (64, 127);

/// The fill (random addresses of the whole space, `fill` of it).
fn w6_input(fill: f64) -> Vec<u64> {
    let mut all: Vec<u64> = (0..=DRIVE_END).collect();
    Rng(6).shuffle(&mut all);
    all.truncate(((DRIVE_END + 1) as f64 * fill) as usize);
    all
}

/// Each op: first free `controller=2, bus=64..=127` (units `units`), then release it
/// again so every op faces the same fill. ns/op covers the reserve and the release.
fn w6_addralloc(fill: f64, units: (u8, u8), ops: u64) -> Rep {
    let input = w6_input(fill);
    let before = held();
    let mut a = Allocator::<Drive>::new();
    a.add_pool(Pattern::<Drive>::any()).unwrap();
    for &x in &input {
        a.reserve(Drive::from_index(x)).unwrap();
    }
    let mut pat = Pattern::<Drive>::any()
        .field(0, W6_CTRL)
        .field(1, W6_BUS.0..=W6_BUS.1);
    if units != (0, 255) {
        pat = pat.field(2, units.0..=units.1);
    }
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            let d = black_box(a.reserve_first(pat).unwrap());
            a.release(d).unwrap();
            h = fold(h, d.index());
        }
    });
    let bytes = held() - before;
    assert_eq!(a.reserved_count(), input.len() as u128);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

fn w6_peer<P: Peer>(fill: f64, units: (u8, u8), ops: u64) -> Rep {
    let input = w6_input(fill);
    let before = held();
    let mut p = P::new(0, DRIVE_END);
    for &x in &input {
        assert!(p.reserve(x));
    }
    let base = (W6_CTRL as u64) << 16;
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            // The pattern is one run of units per bus: search them in order.
            let mut found = None;
            for bus in W6_BUS.0..=W6_BUS.1 {
                let run = base | (bus as u64) << 8;
                if let Some(x) = p.alloc(run | units.0 as u64, run | units.1 as u64, 1, 1) {
                    found = Some(x);
                    break;
                }
            }
            let x = black_box(found.unwrap());
            p.release(x, x);
            h = fold(h, x);
        }
    });
    let bytes = held() - before;
    black_box(&p);
    drop(p);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

// ===== W7: placing a generated plan ==============================================

const PCI_SCHEMA: &str = include_str!("../schemas/pci.toml");
const MAC_SCHEMA: &str = include_str!("../schemas/mac.toml");

/// PCI devices behind many buses (24 per bus, each a whole slot, one pool per bus
/// across domains) and a MAC for each, built in code and placed with `Plan::run`.
/// ns/op = run time per device.
fn w7_addralloc(devices: u64) -> Rep {
    let pci = Schema::from_toml(PCI_SCHEMA).unwrap().types[0].clone();
    let mac = Schema::from_toml(MAC_SCHEMA).unwrap().types[0].clone();
    let per_bus = 24;
    let buses = devices.div_ceil(per_bus);
    let mut space = SpaceSpec::new("pci", pci);
    for b in 0..buses {
        space = space.pool(
            format!("domain={}, bus={}, slot=0..=31", b / 256, b % 256),
            &[],
        );
    }
    let mut plan = Plan::new();
    plan.add_space(space).unwrap();
    plan.add_space(SpaceSpec::new("mac", mac).pool("a=82, b=84", &[]))
        .unwrap();
    for i in 0..devices {
        let b = i / per_bus;
        plan.add_device(
            DeviceSpec::new(format!("nic{i}"), "pci")
                .block("function=8")
                .within(format!("domain={}, bus={}", b / 256, b % 256)),
        )
        .unwrap();
        plan.add_device(DeviceSpec::new(format!("mac{i}"), "mac"))
            .unwrap();
    }
    let before = held();
    let t = Instant::now();
    let placed = black_box(plan.run(&RunOptions::default()).unwrap());
    let ns = t.elapsed().as_nanos() as f64 / devices as f64;
    let bytes = held() - before;
    let mut h = 0;
    for p in placed.placements() {
        h = fold(h, p.address_text().len() as u64);
    }
    assert_eq!(placed.placements().count() as u64, 2 * devices);
    Rep {
        ns_per_op: ns,
        bytes,
        check: h,
        per_frag: 0.0,
    }
}

// ===== W8: no cliffs (each adversarial workload beside its benign twin) ===========

fn ipv4_pool(policy: Policy) -> Allocator<Ipv4> {
    let mut a = Allocator::<Ipv4>::with_policy(policy);
    a.add_pool("a=10".parse::<Pattern<Ipv4>>().unwrap())
        .unwrap();
    a
}

fn rep_of(a: &Allocator<Ipv4>, ns: f64, before: usize, check: u64) -> Rep {
    let bytes = held() - before;
    black_box(a);
    Rep {
        ns_per_op: ns,
        bytes,
        check,
        per_frag: 0.0,
    }
}

/// W8a: lowest-first `reserve_first("d=k")`, `k` rotating over `patterns` values.
fn w8a(patterns: u8, ops: u64) -> Rep {
    let before = held();
    let mut a = ipv4_pool(Policy::LowestFirst);
    let pats: Vec<Pattern<Ipv4>> = (0..patterns)
        .map(|k| Pattern::<Ipv4>::any().field(3, k))
        .collect();
    let mut h = 0;
    let ns = time_ops(ops, || {
        for i in 0..ops {
            let x = black_box(
                a.reserve_first(pats[(i % patterns as u64) as usize])
                    .unwrap(),
            );
            h = fold(h, x.0 as u64 & 0xff);
        }
    });
    rep_of(&a, ns, before, h)
}

/// W8b: `reserve_first("d=0")` under `policy` (highest-first vs lowest-first).
fn w8b(policy: Policy, ops: u64) -> Rep {
    let before = held();
    let mut a = ipv4_pool(policy);
    let pat = Pattern::<Ipv4>::any().field(3, 0u8);
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            let x = black_box(a.reserve_first(pat).unwrap());
            h = fold(h, x.0 as u64 & 0xff);
        }
    });
    rep_of(&a, ns, before, h)
}

/// W8c: `reserve_block(d=0..=7, d extent 8)` under `policy` (lowest-first vs next-fit):
/// the first eight addresses of each /24, one block each.
fn w8c(policy: Policy, ops: u64) -> Rep {
    let before = held();
    let mut a = ipv4_pool(policy);
    let pat = Pattern::<Ipv4>::any().field(3, 0u8..=7);
    let block = Block::<Ipv4>::single().extent(3, 8);
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            let b = black_box(a.reserve_block(pat, block).unwrap());
            h = fold(h, b.first().0 as u64 & 0xff);
        }
    });
    rep_of(&a, ns, before, h)
}

/// W8d: every `d=0` address of 10.0.0.0/8 reserved exactly (65,536, not timed), then
/// `reserve_first("d=0")` fails `ops` times; the twin leaves the last one free and
/// reserves and releases it `ops` times.
fn w8d(fail: bool, ops: u64) -> Rep {
    let before = held();
    let mut a = ipv4_pool(Policy::LowestFirst);
    let n = if fail { 1 << 16 } else { (1 << 16) - 1 };
    for k in 0..n {
        a.reserve(Ipv4((NET10 + 256 * k) as u32)).unwrap();
    }
    let pat = Pattern::<Ipv4>::any().field(3, 0u8);
    let mut h = 0;
    let ns = time_ops(ops, || {
        for _ in 0..ops {
            match black_box(a.reserve_first(pat)) {
                Ok(x) => {
                    a.release(x).unwrap();
                    h = fold(h, 1);
                }
                Err(_) => h = fold(h, 1),
            }
        }
    });
    rep_of(&a, ns, before, h)
}

/// W8e: `pools` pools covering 10.0.0.0..=10.62.127.255 (16,000 /24s, or 16 /16-ish
/// boxes of them: `b` ranges), `ops` exact reservations in distinct /24s, `ops`
/// `reserve_any`, then the exact ones released. ns/op = everything per call (pools
/// added, reservations and releases).
fn w8e(many: bool, ops: u64) -> Rep {
    const SLASH24: u64 = 16_000;
    let before = held();
    let mut a = Allocator::<Ipv4>::new();
    let mut r = Rng(8);
    let mut nets: Vec<u64> = (0..SLASH24).collect();
    r.shuffle(&mut nets);
    let exact: Vec<Ipv4> = nets
        .iter()
        .take(ops as usize)
        .map(|&n| Ipv4((NET10 + (n << 8) + r.below(256)) as u32))
        .collect();
    let mut h = 0;
    let calls = 3 * ops + if many { SLASH24 } else { 17 };
    let ns = time_ops(calls, || {
        if many {
            for n in 0..SLASH24 {
                let p = Pattern::<Ipv4>::any()
                    .field(0, 10u8)
                    .field(1, (n / 256) as u8)
                    .field(2, (n % 256) as u8);
                a.add_pool(p).unwrap();
            }
        } else {
            // 16 pools of 4 /16s each (the last one clipped to the same 16,000 /24s).
            for k in 0..16u64 {
                let hi = (4 * k + 3).min(62);
                let mut p = Pattern::<Ipv4>::any()
                    .field(0, 10u8)
                    .field(1, (4 * k) as u8..=hi as u8);
                if k == 15 {
                    a.add_pool(p.field(1, 60u8..=61)).unwrap();
                    p = Pattern::<Ipv4>::any()
                        .field(0, 10u8)
                        .field(1, 62u8)
                        .field(2, 0u8..=127);
                }
                a.add_pool(p).unwrap();
            }
        }
        for &x in &exact {
            a.reserve(x).unwrap();
        }
        for _ in 0..ops {
            h = fold(h, black_box(a.reserve_any().unwrap()).0 as u64);
        }
        for &x in &exact {
            a.release(x).unwrap();
        }
    });
    assert_eq!(a.reserved_count(), ops as u128);
    rep_of(&a, ns, before, h)
}

/// W8f: `Allocator::restore` of a snapshot of `n` single reservations (every other
/// address of 10.0.0.0/8), listed in descending or ascending order. ns per reservation.
fn w8f(descending: bool, n: u64) -> Rep {
    let mut a = ipv4_pool(Policy::LowestFirst);
    for k in 0..n {
        a.reserve(Ipv4((NET10 + 2 * k) as u32)).unwrap();
    }
    let mut snap = a.snapshot();
    drop(a);
    if descending {
        snap.reservations.reverse();
    }
    let before = held();
    let mut out = None;
    let ns = time_ops(n, || {
        out = Some(black_box(Allocator::<Ipv4>::restore(&snap).unwrap()));
    });
    let b = out.unwrap();
    assert_eq!(b.reserved_count(), n as u128);
    let check = fold(n, b.reserved().count() as u64);
    rep_of(&b, ns, before, check)
}

// ===== W9: sized memory windows, first and last fit ==============================

/// A 64-bit guest address (one field: the packed index is the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Guest(u64);

impl Address for Guest {
    const FIELDS: &'static [Field] = &[Field::new("addr", 0, u64::MAX as u128)];
    fn field(&self, _i: usize) -> u128 {
        self.0 as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Guest(v[0] as u64)
    }
}

impl fmt::Display for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// W9's space: 1 TiB, windows of 0.5 to 4 pages at 4 KiB alignment.
const W9_END: u64 = (1 << 40) - 1;
const W9_ALIGN: u64 = 0x1000;

/// The window sizes: `n` placed, then `n` more, one after each random free.
fn w9_input(n: u64) -> (Vec<u64>, Vec<u64>) {
    let mut r = Rng(9);
    let sizes = (0..2 * n).map(|_| 0x800 * (1 + r.below(8))).collect();
    let frees = (0..n).map(|_| r.next()).collect();
    (sizes, frees)
}

/// `n` windows placed by `fit`, then `n` times a random one freed and a new one
/// placed; ns/op covers the churn (one free and one placement).
fn w9_addralloc(last: bool, n: u64) -> Rep {
    let (sizes, frees) = w9_input(n);
    let before = held();
    let mut a = Allocator::<Guest>::new();
    a.add_pool(Pattern::<Guest>::any().field(0, 0..=W9_END as u128))
        .unwrap();
    let fit = if last { Fit::Last } else { Fit::First };
    let mut live = Vec::with_capacity(n as usize);
    let mut h = 0;
    for &sz in &sizes[..n as usize] {
        let w = a.reserve_sized(sz as u128, W9_ALIGN as u128, fit).unwrap();
        h = fold(h, w.first().0);
        live.push(w);
    }
    let ns = time_ops(n, || {
        for (i, &sz) in sizes[n as usize..].iter().enumerate() {
            let k = (frees[i] % live.len() as u64) as usize;
            a.release_block(&live[k]).unwrap();
            let w = a.reserve_sized(sz as u128, W9_ALIGN as u128, fit).unwrap();
            h = fold(h, black_box(w.first().0));
            live[k] = w;
        }
    });
    Rep {
        ns_per_op: ns,
        bytes: held() - before,
        check: h,
        per_frag: 0.0,
    }
}

fn w9_vm(last: bool, n: u64) -> Rep {
    let (sizes, frees) = w9_input(n);
    let before = held();
    let mut a = AddressAllocator::new(0, W9_END + 1).expect("pool");
    let policy = if last {
        AllocPolicy::LastMatch
    } else {
        AllocPolicy::FirstMatch
    };
    let mut live = Vec::with_capacity(n as usize);
    let mut h = 0;
    for &sz in &sizes[..n as usize] {
        let w = a
            .allocate(sz, W9_ALIGN, policy)
            .expect("vm-allocator allocate");
        h = fold(h, w.start());
        live.push(w);
    }
    let ns = time_ops(n, || {
        for (i, &sz) in sizes[n as usize..].iter().enumerate() {
            let k = (frees[i] % live.len() as u64) as usize;
            a.free(&live[k]).expect("vm-allocator free");
            let w = a
                .allocate(sz, W9_ALIGN, policy)
                .expect("vm-allocator allocate");
            h = fold(h, black_box(w.start()));
            live[k] = w;
        }
    });
    Rep {
        ns_per_op: ns,
        bytes: held() - before,
        check: h,
        per_frag: 0.0,
    }
}

// ===== vm-allocator probes: the two known 0.1.4 defects ===========================

fn vm_probes() -> Vec<String> {
    let mut notes = Vec::new();
    let singles = || {
        let mut vm = AddressAllocator::new(0x1000, 0x100).unwrap();
        for x in 0x1000..0x1004 {
            vm.allocate(1, 1, AllocPolicy::ExactMatch(x)).unwrap();
        }
        vm
    };
    // Coalescing: free two adjacent single addresses, then ask for both as one range.
    let mut vm = singles();
    vm.free(&VmRange::new(0x1001, 0x1001).unwrap()).unwrap();
    vm.free(&VmRange::new(0x1002, 0x1002).unwrap()).unwrap();
    if vm.allocate(2, 1, AllocPolicy::ExactMatch(0x1001)).is_err() {
        notes.push(
            "vm-allocator 0.1.4: two freed adjacent single addresses do not coalesce \
             (ExactMatch of both as one 2-address range fails)"
                .to_string(),
        );
    }
    // A free node of one address cannot be reserved exactly.
    let mut vm = singles();
    vm.free(&VmRange::new(0x1001, 0x1001).unwrap()).unwrap();
    if vm.allocate(1, 1, AllocPolicy::ExactMatch(0x1001)).is_err() {
        notes.push(
            "vm-allocator 0.1.4: ExactMatch of a free single address between two \
             reserved ones fails"
                .to_string(),
        );
    }
    // Address 1: freeing it underflows.
    let mut vm = AddressAllocator::new(0, 0x100).unwrap();
    vm.allocate(1, 1, AllocPolicy::ExactMatch(1)).unwrap();
    if let Err(e) = vm.free(&VmRange::new(1, 1).unwrap()) {
        notes.push(format!(
            "vm-allocator 0.1.4: free of address 1 fails ({e:?})"
        ));
    }
    notes
}

// ===== main =======================================================================

fn main() {
    let cfg = Cfg::from_env();
    let t0 = Instant::now();
    println!(
        "addralloc peers benchmark ({} mode, median of up to {} repetitions)",
        if cfg.quick { "quick" } else { "full" },
        cfg.reps
    );
    let only = std::env::var("ADDRALLOC_BENCH_ONLY").ok();
    let only_impl = std::env::var("ADDRALLOC_BENCH_IMPL").ok();
    let mut b = Bench {
        cfg,
        rows: Vec::new(),
        only,
        only_impl,
    };

    if b.want("w1") {
        let (n, vn) = (b.cfg.w1_n, b.cfg.w1_vm_n);
        b.measure_all(
            "w1_seq_fill",
            vec![
                job(ADDRALLOC, || w1_addralloc(n)),
                job(Rsb::NAME, || w1_peer::<Rsb>(n)),
                job(Rmap::NAME, || w1_peer::<Rmap>(n)),
                job(Roar::NAME, || w1_peer::<Roar>(n)),
                job(Fbs::NAME, || w1_peer::<Fbs>(n)),
                job(Vm::NAME, || w1_peer::<Vm>(vn))
                    .note(format!("n={vn}: FirstMatch walks every node, O(n) per op"))
                    .expect(fold(vn, NET10 + vn - 1)),
            ],
        );
    }
    if b.want("w2") {
        let (ops, vops) = (b.cfg.w2_ops, b.cfg.w2_vm_ops);
        let vm_check = w2_addralloc(vops).check;
        b.measure_all(
            "w2_churn",
            vec![
                job(ADDRALLOC, || w2_addralloc(ops)),
                job(Rsb::NAME, || w2_peer::<Rsb>(ops)),
                job(Rmap::NAME, || w2_peer::<Rmap>(ops)),
                job(Roar::NAME, || w2_peer::<Roar>(ops)),
                job(Fbs::NAME, || w2_peer::<Fbs>(ops)),
                job(Vm::NAME, || w2_peer::<Vm>(vops))
                    .note(format!("ops={vops}: FirstMatch walks every node"))
                    .expect(vm_check),
            ],
        );
    }
    if b.want("w3") {
        let (holes, ops, pops) = (b.cfg.w3_holes, b.cfg.w3_ops, b.cfg.w3_peer_ops);
        let peers = w3_addralloc(holes, pops).check; // addralloc at the peers' op count
        let note = format!("ops={pops}");
        b.measure_all(
            "w3_block_past_holes",
            vec![
                job(ADDRALLOC, || w3_addralloc(holes, ops))
                    .note(format!("holes={holes} ops={ops}")),
                job(Rsb::NAME, || w3_peer::<Rsb>(holes, pops))
                    .note(&note)
                    .expect(peers),
                job(Rmap::NAME, || w3_peer::<Rmap>(holes, pops))
                    .note(&note)
                    .expect(peers),
                job(Roar::NAME, || w3_peer::<Roar>(holes, pops))
                    .note(&note)
                    .expect(peers),
                job(Fbs::NAME, || w3_peer::<Fbs>(holes, pops))
                    .note(&note)
                    .expect(peers),
                job(Vm::NAME, || w3_peer::<Vm>(holes, pops))
                    .note(&note)
                    .expect(peers),
            ],
        );
    }
    if b.want("w4") {
        b.measure_all(
            "w4_pci_slots",
            vec![
                job(ADDRALLOC, w4_addralloc),
                job(Rsb::NAME, w4_peer::<Rsb>),
                job(Rmap::NAME, w4_peer::<Rmap>),
                job(Roar::NAME, w4_peer::<Roar>),
                job(Fbs::NAME, w4_peer::<Fbs>),
                job(Vm::NAME, w4_peer::<Vm>),
            ],
        );
    }
    if b.want("w5") {
        // One run does both phases; the random phase's reps are kept aside.
        let n = b.cfg.w5_n;
        let (ws, wr) = ("w5_v6_seq", "w5_v6_random");
        let imps = [ADDRALLOC, "range-set-blaze<u128>", "rangemap<u128>"];
        let fns: [fn(u64) -> (Rep, Rep); 3] = [w5_addralloc, w5_rsb, w5_rangemap];
        let rand: [RefCell<Vec<Rep>>; 3] = Default::default();
        let jobs = (0..3)
            .map(|i| {
                let (f, r) = (fns[i], &rand[i]);
                job(imps[i], move || {
                    let (seq, random) = f(n);
                    r.borrow_mut().push(random);
                    seq
                })
            })
            .collect();
        b.measure_all(ws, jobs);
        for (imp, r) in imps.iter().zip(&rand) {
            let r = r.borrow();
            if !r.is_empty() {
                b.record(wr, imp, median(&r), r.len(), String::new());
            }
        }
        for w in [ws, wr] {
            b.na(
                w,
                Roar::NAME,
                "u32/u64 values only: cannot hold 128-bit addresses",
            );
            b.na(w, Fbs::NAME, "one bit per address: 2^64 bits for a /64");
            b.na(
                w,
                Vm::NAME,
                "u64 addresses only: cannot hold 128-bit addresses",
            );
        }
    }
    if b.want("w6") {
        let ops = b.cfg.w6_ops;
        for (w, fill, units) in [
            ("w6_first_free_10pct", 0.10, (0u8, 255u8)),
            ("w6_first_free_99pct", 0.99, (0, 255)),
            ("w6b_units0-15_10pct", 0.10, (0, 15)),
            ("w6b_units0-15_99pct", 0.99, (0, 15)),
        ] {
            b.measure_all(
                w,
                vec![
                    job(ADDRALLOC, || w6_addralloc(fill, units, ops)),
                    job(Rsb::NAME, || w6_peer::<Rsb>(fill, units, ops)),
                    job(Rmap::NAME, || w6_peer::<Rmap>(fill, units, ops)),
                    job(Roar::NAME, || w6_peer::<Roar>(fill, units, ops)),
                    job(Fbs::NAME, || w6_peer::<Fbs>(fill, units, ops)),
                ],
            );
            b.na(
                w,
                Vm::NAME,
                "no search inside a sub-range (FirstMatch is pool-wide); ExactMatch probing \
                 fails on single-address free nodes",
            );
        }
    }

    if b.want("w7") {
        for (i, w) in ["w7_plan_2000", "w7_plan_20000"].into_iter().enumerate() {
            let n = b.cfg.w7_devices[i];
            b.measure_all(
                w,
                vec![job(ADDRALLOC, || w7_addralloc(n)).note(format!("devices={n}"))],
            );
        }
    }
    if b.want("w8") {
        let ops = b.cfg.w8_ops;
        let fnum = b.cfg.w8f_n;
        type W8 = (&'static str, &'static str, Box<dyn Fn() -> Rep>);
        let pairs: Vec<W8> = vec![
            (
                "w8a_nine_patterns",
                "w8a_nine_patterns_twin",
                Box::new(move || w8a(9, ops)),
            ),
            (
                "w8b_highest_first",
                "w8b_highest_first_twin",
                Box::new(move || w8b(Policy::HighestFirst, ops)),
            ),
            (
                "w8c_block_in_pattern",
                "w8c_block_in_pattern_twin",
                Box::new(move || w8c(Policy::LowestFirst, ops)),
            ),
            (
                "w8d_failing_search",
                "w8d_failing_search_twin",
                Box::new(move || w8d(true, ops / 10)),
            ),
            (
                "w8e_many_pools",
                "w8e_many_pools_twin",
                Box::new(move || w8e(true, ops.min(16_000))),
            ),
            (
                "w8f_restore_descending",
                "w8f_restore_descending_twin",
                Box::new(move || w8f(true, fnum)),
            ),
        ];
        let twins: Vec<Box<dyn Fn() -> Rep>> = vec![
            Box::new(move || w8a(1, ops)),
            Box::new(move || w8b(Policy::LowestFirst, ops)),
            Box::new(move || w8c(Policy::NextFit, ops)),
            Box::new(move || w8d(false, ops / 10)),
            Box::new(move || w8e(false, ops.min(16_000))),
            Box::new(move || w8f(false, fnum)),
        ];
        for ((w, t, adv), twin) in pairs.into_iter().zip(twins) {
            if !b.want(w) {
                continue;
            }
            // Different work by design: each is checked only against its own repetitions.
            b.measure_all(w, vec![job(ADDRALLOC, adv)]);
            b.measure_all(t, vec![job(ADDRALLOC, twin)]);
        }
    }

    if b.want("w9") {
        let n = b.cfg.w9_n;
        for (w, last) in [
            ("w9_windows_first_fit", false),
            ("w9_windows_last_fit", true),
        ] {
            if !b.want(w) {
                continue;
            }
            b.measure_all(
                w,
                vec![
                    job(ADDRALLOC, move || w9_addralloc(last, n)).note(format!("windows={n}")),
                    job(Vm::NAME, move || w9_vm(last, n)),
                ],
            );
        }
    }

    report(&b, &vm_probes());
    println!("total {:.1} s", t0.elapsed().as_secs_f64());
}

// ===== the table ==================================================================

fn report(b: &Bench, notes: &[String]) {
    println!();
    println!("| workload | implementation | ns/op | x addralloc | heap bytes | reps | notes |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for r in &b.rows {
        let base = b.ns(r.workload, ADDRALLOC);
        match r.rep {
            Some(rep) => {
                let ratio = base.map_or(String::new(), |a| format!("{:.2}", rep.ns_per_op / a));
                println!(
                    "| {} | {} | {:.1} | {} | {} | {} | {} |",
                    r.workload, r.imp, rep.ns_per_op, ratio, rep.bytes, r.reps, r.note
                );
            }
            None => println!("| {} | {} | n/a | | | | {} |", r.workload, r.imp, r.note),
        }
    }

    println!();
    println!("| target | measured | limit | result |");
    println!("|---|---|---|---|");
    let (met, all) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let target = |name: &str, measured: Option<f64>, limit: f64, unit: &str| {
        if let Some(m) = measured {
            let ok = m <= limit;
            all.set(all.get() + 1);
            met.set(met.get() + ok as usize);
            println!(
                "| {name} | {m:.3}{unit} | {limit:.3}{unit} | {} |",
                if ok { "PASS" } else { "MISS" }
            );
        }
    };
    let a = |w: &str| b.ns(w, ADDRALLOC);
    let ratio = |w: &str, imp: &str| Some(a(w)? / b.ns(w, imp)?);
    target(
        "W1 ns/op vs range-set-blaze",
        ratio("w1_seq_fill", Rsb::NAME),
        0.5,
        "x",
    );
    target(
        "W1 addralloc heap after fill",
        b.rep("w1_seq_fill", ADDRALLOC).map(|r| r.bytes as f64),
        1023.0,
        " B",
    );
    target(
        "W2 ns/op vs range-set-blaze",
        ratio("w2_churn", Rsb::NAME),
        0.8,
        "x",
    );
    let w3 = "w3_block_past_holes";
    let fastest = [Rsb::NAME, Rmap::NAME, Roar::NAME, Fbs::NAME, Vm::NAME]
        .iter()
        .filter_map(|i| Some((b.ns(w3, i)?, *i)))
        .min_by(|x, y| x.0.total_cmp(&y.0));
    if let Some((f, name)) = fastest {
        target(
            &format!("W3 ns/op vs fastest peer ({name})"),
            a(w3).map(|x| x / f),
            0.01,
            "x",
        );
    }
    target(
        "W4 ns/op vs rangemap",
        ratio("w4_pci_slots", Rmap::NAME),
        0.6,
        "x",
    );
    for w in ["w5_v6_seq", "w5_v6_random"] {
        target(
            &format!("W5 {w} vs range-set-blaze<u128>"),
            ratio(w, "range-set-blaze<u128>"),
            1.0,
            "x",
        );
    }
    target(
        "W6 99% fill vs 10% fill",
        a("w6_first_free_99pct")
            .zip(a("w6_first_free_10pct"))
            .map(|(x, y)| x / y),
        3.0,
        "x",
    );
    if let Some((x, y)) = a("w6b_units0-15_99pct").zip(a("w6b_units0-15_10pct")) {
        println!(
            "| W6b 99% vs 10% fill (no target) | {:.3}x | - | - |",
            x / y
        );
    }
    target(
        "W2 bytes per free fragment, fragmented /16 before the churn",
        b.rep("w2_churn", ADDRALLOC).map(|r| r.per_frag),
        24.0,
        " B",
    );
    target(
        "W5 bytes per free fragment after random (128-bit)",
        b.rep("w5_v6_random", ADDRALLOC).map(|r| r.per_frag),
        40.0,
        " B",
    );
    // W6 against fixedbitset (the bitmap limit), and ahead of the range peers.
    for w in [
        "w6_first_free_10pct",
        "w6_first_free_99pct",
        "w6b_units0-15_10pct",
        "w6b_units0-15_99pct",
    ] {
        target(
            &format!("{w} vs fixedbitset"),
            ratio(w, Fbs::NAME),
            2.0,
            "x",
        );
    }
    target(
        "W7 per-device time, 20,000 devices vs 2,000",
        a("w7_plan_20000")
            .zip(a("w7_plan_2000"))
            .map(|(x, y)| x / y),
        1.1,
        "x",
    );
    for w in [
        "w8a_nine_patterns",
        "w8b_highest_first",
        "w8c_block_in_pattern",
        "w8d_failing_search",
        "w8e_many_pools",
        "w8f_restore_descending",
    ] {
        let twin = format!("{w}_twin");
        target(
            &format!("{w} vs its twin"),
            a(w).zip(a(&twin)).map(|(x, y)| x / y),
            2.0,
            "x",
        );
    }
    println!();
    println!("peers: {}/{} targets met", met.get(), all.get());

    // Heap: addralloc against the smallest peer per workload.
    println!();
    println!("| workload | addralloc bytes | smallest peer | its bytes | ratio |");
    println!("|---|---:|---|---:|---:|");
    let mut seen: Vec<&str> = Vec::new();
    for r in &b.rows {
        if seen.contains(&r.workload) {
            continue;
        }
        seen.push(r.workload);
        let Some(mine) = b.rep(r.workload, ADDRALLOC) else {
            continue;
        };
        let smallest = b
            .rows
            .iter()
            .filter(|x| x.workload == r.workload && x.imp != ADDRALLOC)
            .filter_map(|x| Some((x.rep?.bytes, x.imp)))
            .min();
        if let Some((bytes, imp)) = smallest {
            println!(
                "| {} | {} | {} | {} | {:.2} |",
                r.workload,
                mine.bytes,
                imp,
                bytes,
                mine.bytes as f64 / bytes.max(1) as f64
            );
        }
    }
    println!();
    for n in notes {
        println!("note: {n}");
    }
    println!(
        "note: W6 peers search the pattern as one unit run per bus; vm-allocator is n/a there"
    );
}
