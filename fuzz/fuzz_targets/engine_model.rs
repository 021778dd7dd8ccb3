//! Random engine operation sequences, checked against a plain model (a set of points)
//! after every step: reserve, reserve_first, reserve_any, reserve_block, release,
//! release_block, under each policy, on a 3-field space with holes (`b` is 0..=5).
#![no_main]

use std::collections::BTreeSet;
use std::fmt;

use addralloc::{Address, Allocator, Block, BlockRange, Field, Pattern, Policy};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct A3(u8, u8, u8);

impl Address for A3 {
    const FIELDS: &'static [Field] = &[
        Field::new("a", 0, 3),
        Field::new("b", 0, 5),
        Field::new("c", 1, 4),
    ];
    fn field(&self, i: usize) -> u128 {
        [self.0, self.1, self.2][i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        A3(v[0] as u8, v[1] as u8, v[2] as u8)
    }
}

impl fmt::Display for A3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

fn all() -> impl Iterator<Item = A3> {
    (0..=3).flat_map(|a| (0..=5).flat_map(move |b| (1..=4).map(move |c| A3(a, b, c))))
}

fn pattern(bytes: &[u8]) -> (Pattern<A3>, [(u8, u8); 3]) {
    let mut p = Pattern::any();
    let mut r = [(0, 3), (0, 5), (1, 4)];
    for i in 0..3 {
        let (x, y) = (bytes[2 * i] % 7, bytes[2 * i + 1] % 7);
        if bytes[6] & (1 << i) != 0 {
            p = p.field(i, x..=y);
            r[i] = (x, y);
        }
    }
    (p, r)
}

fn in_box(a: &A3, r: &[(u8, u8); 3]) -> bool {
    let v = [a.0, a.1, a.2];
    (0..3).all(|i| r[i].0 <= v[i] && v[i] <= r[i].1)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let policy = [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst][data[0] as usize % 3];
    let mut alloc = Allocator::<A3>::with_policy(policy);
    // Pool: a=0..=2, everything else; exact reservations elsewhere must fail.
    alloc.add_pool(Pattern::any().field(0, 0u8..=2)).unwrap();
    let pool = |x: &A3| x.0 <= 2;
    let mut model: BTreeSet<A3> = BTreeSet::new();
    for chunk in data[1..].chunks_exact(8) {
        let before = alloc.clone();
        let op = chunk[0] % 6;
        let ok = match op {
            0 => {
                let x = A3(chunk[1] % 5, chunk[2] % 7, chunk[3] % 6);
                let r = alloc.reserve(x);
                let valid = x.0 <= 3 && x.1 <= 5 && (1..=4).contains(&x.2);
                let expect = valid && pool(&x) && !model.contains(&x);
                assert_eq!(r.is_ok(), expect, "reserve {x}: {r:?}");
                if expect {
                    model.insert(x);
                }
                r.is_ok()
            }
            1 | 2 => {
                let (p, r) = pattern(&chunk[1..]);
                let res = if op == 1 { alloc.reserve_first(p) } else { alloc.reserve_any() };
                let free: Vec<A3> = all()
                    .filter(|x| pool(x) && !model.contains(x) && (op == 2 || in_box(x, &r)))
                    .collect();
                match res {
                    Ok(x) => {
                        assert!(free.contains(&x), "{x} was not free");
                        match policy {
                            Policy::LowestFirst => assert_eq!(Some(&x), free.first()),
                            Policy::HighestFirst => assert_eq!(Some(&x), free.last()),
                            Policy::NextFit => {}
                        }
                        model.insert(x);
                        true
                    }
                    Err(_) => {
                        let valid = r.iter().zip([(0, 3), (0, 5), (1, 4)]).all(|(a, b)| {
                            a.0 <= a.1 && a.0 >= b.0 && a.1 <= b.1
                        });
                        if op == 2 || valid {
                            assert!(free.is_empty(), "exhausted but {} free", free.len());
                        }
                        false
                    }
                }
            }
            3 => {
                let x = A3(chunk[1] % 4, chunk[2] % 6, 1 + chunk[3] % 4);
                let r = alloc.release(x);
                assert_eq!(r.is_ok(), model.remove(&x));
                r.is_ok()
            }
            4 => {
                let ext = [1 + chunk[1] as u128 % 2, 1 + chunk[2] as u128 % 3, 1 + chunk[3] as u128 % 4];
                let b = Block::single().extent(0, ext[0]).extent(1, ext[1]).extent(2, ext[2]);
                match alloc.reserve_block(Pattern::any(), b) {
                    Ok(br) => {
                        let pts: Vec<A3> = all().filter(|x| br.contains(x)).collect();
                        assert_eq!(pts.len() as u128, ext[0] * ext[1] * ext[2]);
                        for x in &pts {
                            assert!(pool(x) && model.insert(*x), "block point {x} not free");
                        }
                        let f = br.first();
                        assert!(f.0 as u128 % ext[0] == 0 && f.1 as u128 % ext[1] == 0 && f.2 as u128 % ext[2] == 0);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => {
                let f = A3(chunk[1] % 4, chunk[2] % 6, 1 + chunk[3] % 4);
                let l = A3(f.0, (f.1 + chunk[4] % 2).min(5), (f.2 + chunk[5] % 2).min(4));
                let br = BlockRange::new(f, l).unwrap();
                let pts: Vec<A3> = all().filter(|x| br.contains(x)).collect();
                let expect = pts.iter().all(|x| model.contains(x));
                let r = alloc.release_block(br);
                assert_eq!(r.is_ok(), expect);
                if expect {
                    for x in pts {
                        model.remove(&x);
                    }
                }
                r.is_ok()
            }
        };
        if !ok {
            assert_eq!(
                alloc.snapshot(),
                before.snapshot(),
                "a failed operation changed the allocator"
            );
        }
        let got: BTreeSet<A3> = all().filter(|x| alloc.is_reserved(*x)).collect();
        assert_eq!(got, model);
        assert_eq!(alloc.reserved_count(), model.len() as u128);
    }
});
