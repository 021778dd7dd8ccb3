//! Random operation sequences run on BOTH fronts, a typed `Allocator<A3>` and a
//! `DynAllocator` of the equivalent run-time schema, checked after every step against
//! each other (results and error messages, snapshots) and against a small model:
//! reservations as entities (points and owner), one next-fit cursor per search key.
//! A 3-field space with holes in the index space (`b` is 0..=5 in 3 bits); the pool is
//! `a=0..=2`, so exact requests at `a=3` are outside every pool.
//!
//! Operations: reserve, reserve_first, reserve_any, reserve_block, reserve_range,
//! release, release_block, release_range, release_owner, and a cross restore (each
//! front rebuilt from the other's snapshot).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use addralloc::dynamic::{DynBlockRange, DynPattern, DynSchema, DynType};
use addralloc::{Address, Allocator, Block, BlockRange, Count, DynAllocator, Field, Pattern, Policy};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct A3(u8, u8, u8);

const RANGES: [(u8, u8); 3] = [(0, 3), (0, 5), (1, 4)];

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

impl std::str::FromStr for A3 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<u8> = s
            .split('.')
            .map(|t| t.parse::<u8>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        match v[..] {
            [a, b, c] => Ok(A3(a, b, c)),
            _ => Err(format!("`{s}`: three values")),
        }
    }
}

const SCHEMA: &str = r#"
[[address]]
name = "A3"
format = "{a}.{b}.{c}"

[[address.field]]
name = "a"
type = "u8"
range = "0..=3"

[[address.field]]
name = "b"
type = "u8"
range = "0..=5"

[[address.field]]
name = "c"
type = "u8"
range = "1..=4"
"#;

fn all() -> impl Iterator<Item = A3> {
    (0..=3).flat_map(|a| (0..=5).flat_map(move |b| (1..=4).map(move |c| A3(a, b, c))))
}

fn pooled(x: &A3) -> bool {
    x.0 <= 2
}

/// The engine's index: a in 2 bits, b in 3, c - 1 in 2 (address order).
fn index(x: &A3) -> u32 {
    (u32::from(x.0) << 5) | (u32::from(x.1) << 2) | u32::from(x.2 - 1)
}

const MAX_INDEX: u32 = 127;

type Bx = [(u8, u8); 3];

fn in_box(x: &A3, r: &Bx) -> bool {
    let v = [x.0, x.1, x.2];
    (0..3).all(|i| r[i].0 <= v[i] && v[i] <= r[i].1)
}

fn valid(x: &A3) -> bool {
    let v = [x.0, x.1, x.2];
    (0..3).all(|i| RANGES[i].0 <= v[i] && v[i] <= RANGES[i].1)
}

/// A pattern from 7 bytes: per field maybe a range (maybe empty or out of range).
/// `None` box: `*`; `Err`: the pattern is invalid.
fn pattern(bytes: &[u8], ty: &Arc<DynType>) -> (Pattern<A3>, DynPattern, Result<Option<Bx>, ()>) {
    let mut p = Pattern::any();
    let mut d = ty.any();
    let mut r = RANGES;
    let mut any = true;
    let mut ok = true;
    for i in 0..3 {
        let (x, y) = (bytes[2 * i] % 7, bytes[2 * i + 1] % 7);
        if bytes[6] & (1 << i) != 0 {
            p = p.field(i, x..=y);
            d = d.with_range(i, u128::from(x), u128::from(y));
            r[i] = (x, y);
            any = false;
            ok &= x <= y && RANGES[i].0 <= x && y <= RANGES[i].1;
        }
    }
    let bx = if !ok {
        Err(())
    } else if any {
        Ok(None)
    } else {
        Ok(Some(r))
    };
    (p, d, bx)
}

fn owner(b: u8) -> Option<&'static str> {
    [None, None, Some("vm1"), Some("vm2")][usize::from(b % 4)]
}

#[derive(Default)]
struct Model {
    res: BTreeMap<u32, (BTreeSet<A3>, Option<&'static str>)>,
    at: BTreeMap<A3, u32>,
    next: u32,
    cursors: BTreeMap<Option<Bx>, u32>,
}

impl Model {
    fn take(&mut self, pts: impl IntoIterator<Item = A3>, o: Option<&'static str>) {
        let id = self.next;
        self.next += 1;
        let pts: BTreeSet<A3> = pts.into_iter().collect();
        for p in &pts {
            assert!(self.at.insert(*p, id).is_none(), "model: {p} taken twice");
        }
        self.res.insert(id, (pts, o));
    }

    fn drop_res(&mut self, id: u32) -> usize {
        let (pts, _) = self.res.remove(&id).unwrap();
        for p in &pts {
            self.at.remove(p);
        }
        pts.len()
    }

    fn free(&self, x: &A3) -> bool {
        pooled(x) && !self.at.contains_key(x)
    }

    /// The choice of `policy` among sorted candidates for search key `key`.
    fn pick(&self, policy: Policy, key: &Option<Bx>, cands: &[A3]) -> Option<A3> {
        match policy {
            Policy::LowestFirst => cands.first().copied(),
            Policy::HighestFirst => cands.last().copied(),
            Policy::NextFit => {
                let c = self.cursors.get(key).copied().unwrap_or(0);
                cands.iter().find(|x| index(x) >= c).or(cands.first()).copied()
            }
        }
    }

    fn advance(&mut self, policy: Policy, key: Option<Bx>, last: &A3) {
        if policy == Policy::NextFit {
            let i = index(last);
            self.cursors.insert(key, if i >= MAX_INDEX { 0 } else { i + 1 });
        }
    }

    fn reservation(&self, x: &A3) -> Option<(A3, A3, Option<&'static str>)> {
        let (pts, o) = &self.res[self.at.get(x)?];
        Some((*pts.first()?, *pts.last()?, *o))
    }
}

/// Maximal runs of consecutive indices.
fn runs(pts: &BTreeSet<A3>) -> Vec<Vec<A3>> {
    let mut out: Vec<Vec<A3>> = Vec::new();
    for p in pts {
        match out.last_mut() {
            Some(r) if index(r.last().unwrap()) + 1 == index(p) => r.push(*p),
            _ => out.push(vec![*p]),
        }
    }
    out
}

fn text<T: fmt::Display, E: fmt::Display>(r: Result<T, E>) -> Result<String, String> {
    r.map(|x| x.to_string()).map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let policy = [Policy::LowestFirst, Policy::NextFit, Policy::HighestFirst][data[0] as usize % 3];
    let ty = DynSchema::from_toml(SCHEMA).unwrap().get("A3").unwrap().clone();
    let mut t = Allocator::<A3>::with_policy(policy);
    let mut d = DynAllocator::new(ty.clone(), policy);
    t.add_pool(Pattern::any().field(0, 0u8..=2)).unwrap();
    d.add_pool("a=0..=2").unwrap();
    let mut m = Model::default();
    let addr = |x: &A3| ty.address(&[x.0.into(), x.1.into(), x.2.into()]);
    for chunk in data[1..].chunks_exact(9) {
        let (tb, db) = (t.snapshot(), d.snapshot());
        let op = chunk[0] % 10;
        let o = owner(chunk[8]);
        let x = A3(chunk[1] % 5, chunk[2] % 7, chunk[3] % 6);
        // `y >= x` field by field: boxes are never unordered (but may leave the ranges).
        let y = A3(x.0 + chunk[4] % 2, x.1 + chunk[5] % 3, x.2 + chunk[6] % 3);
        // Results of the typed front, the dynamic front, and whether the model agrees.
        let (rt, rd): (Result<String, String>, Result<String, String>) = match op {
            0 => {
                let rt = text(match o {
                    Some(o) => t.owned_by(o).reserve(x),
                    None => t.reserve(x),
                });
                let rd = match addr(&x) {
                    Ok(dx) => text(match o {
                        Some(o) => d.owned_by(o).reserve(&dx),
                        None => d.reserve(&dx),
                    }),
                    Err(e) => Err(e.to_string()),
                };
                let ok = valid(&x) && m.free(&x);
                assert_eq!(rt.is_ok(), ok, "reserve {x}: {rt:?}");
                if ok {
                    m.take([x], o);
                }
                (rt, rd)
            }
            1 | 2 => {
                let (p, dp, bx) = pattern(&chunk[1..8], &ty);
                let (rt, rd, key) = if op == 1 {
                    let rt = text(match o {
                        Some(o) => t.owned_by(o).reserve_first(p),
                        None => t.reserve_first(p),
                    });
                    let rd = text(match o {
                        Some(o) => d.owned_by(o).reserve_first(&dp),
                        None => d.reserve_first(&dp),
                    });
                    (rt, rd, bx)
                } else {
                    let rt = text(match o {
                        Some(o) => t.owned_by(o).reserve_any(),
                        None => t.reserve_any(),
                    });
                    let rd = text(match o {
                        Some(o) => d.owned_by(o).reserve_any(),
                        None => d.reserve_any(),
                    });
                    (rt, rd, Ok(None))
                };
                match key {
                    Err(()) => assert!(rt.is_err(), "an invalid pattern found {rt:?}"),
                    Ok(key) => {
                        let cands: Vec<A3> = all()
                            .filter(|c| m.free(c) && key.is_none_or(|r| in_box(c, &r)))
                            .collect();
                        let want = m.pick(policy, &key, &cands);
                        assert_eq!(rt.as_ref().ok(), want.map(|w| w.to_string()).as_ref());
                        if let Some(w) = want {
                            m.take([w], o);
                            m.advance(policy, key, &w);
                        }
                    }
                }
                (rt, rd)
            }
            3 => {
                let rt = text(t.release(x).map(|()| ""));
                let rd = match addr(&x) {
                    Ok(dx) => text(d.release(&dx).map(|()| "")),
                    Err(e) => Err(e.to_string()),
                };
                let want = valid(&x)
                    && m.at.get(&x).is_some_and(|id| m.res[id].0.len() == 1);
                assert_eq!(rt.is_ok(), want, "release {x}: {rt:?}");
                if want {
                    let id = m.at[&x];
                    m.drop_res(id);
                } else if let Some((f, l, ow)) = m.reservation(&x) {
                    let mut msg = format!("address {x} is inside the reservation {f}..={l}");
                    if let Some(ow) = ow {
                        msg += &format!(" of `{ow}`");
                    }
                    msg += "; release that, or use release_range";
                    assert_eq!(rt.as_ref().unwrap_err(), &msg);
                }
                (rt, rd)
            }
            4 => {
                let ext = [
                    1 + u128::from(chunk[4] % 2),
                    1 + u128::from(chunk[5] % 3),
                    1 + u128::from(chunk[6] % 4),
                ];
                let (p, dp, bx) = pattern(&chunk[1..8], &ty);
                let (p, dp, bx) = if chunk[7] & 8 == 0 {
                    (Pattern::any(), ty.any(), Ok(None))
                } else {
                    (p, dp, bx)
                };
                let b = Block::single().extent(0, ext[0]).extent(1, ext[1]).extent(2, ext[2]);
                let bt = format!("a={}, b={}, c={}", ext[0], ext[1], ext[2]);
                let rt = text(match o {
                    Some(o) => t.owned_by(o).reserve_block(p, b),
                    None => t.reserve_block(p, b),
                });
                let rd = text(match o {
                    Some(o) => d.owned_by(o).reserve_block(&dp, bt.as_str()),
                    None => d.reserve_block(&dp, bt.as_str()),
                });
                if let Ok(key) = bx {
                    // Naturally aligned starts (field values multiple of the extent).
                    let clip = key.unwrap_or(RANGES);
                    let starts: Vec<A3> = all()
                        .filter(|s| {
                            let v = [s.0, s.1, s.2];
                            (0..3).all(|i| {
                                let e = ext[i] as u8;
                                v[i] % e == 0
                                    && clip[i].0 <= v[i]
                                    && v[i] + e - 1 <= clip[i].1
                                    && v[i] + e - 1 <= RANGES[i].1
                            })
                        })
                        .filter(|s| {
                            let r: Bx = [
                                (s.0, s.0 + ext[0] as u8 - 1),
                                (s.1, s.1 + ext[1] as u8 - 1),
                                (s.2, s.2 + ext[2] as u8 - 1),
                            ];
                            all().filter(|q| in_box(q, &r)).all(|q| m.free(&q))
                        })
                        .collect();
                    let want = m.pick(policy, &key, &starts);
                    match want {
                        Some(s) => {
                            let r: Bx = [
                                (s.0, s.0 + ext[0] as u8 - 1),
                                (s.1, s.1 + ext[1] as u8 - 1),
                                (s.2, s.2 + ext[2] as u8 - 1),
                            ];
                            let last = A3(r[0].1, r[1].1, r[2].1);
                            assert_eq!(rt.as_deref(), Ok(format!("{s}..={last}").as_str()));
                            m.take(all().filter(|q| in_box(q, &r)), o);
                            m.advance(policy, key, &last);
                        }
                        None => assert!(rt.is_err(), "block {rt:?} the model does not find"),
                    }
                } else {
                    assert!(rt.is_err());
                }
                (rt, rd)
            }
            5 | 6 | 8 => {
                let ok_box = valid(&x) && valid(&y);
                let r: Bx = [(x.0, y.0), (x.1, y.1), (x.2, y.2)];
                let pts: Vec<A3> = all().filter(|q| in_box(q, &r)).collect();
                let (rt, rd) = match op {
                    5 => {
                        let rt = match BlockRange::new(x, y) {
                            Some(b) => text(t.release_block(&b).map(|()| "")),
                            None => Err("unordered".to_string()),
                        };
                        let rd = match (addr(&x), addr(&y)) {
                            (Ok(a), Ok(b)) => match DynBlockRange::new(a, b) {
                                Some(b) => text(d.release_block(&b).map(|()| "")),
                                None => Err("unordered".to_string()),
                            },
                            (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
                        };
                        (rt, rd)
                    }
                    6 => {
                        let rt = text(t.release_range(x, y));
                        let rd = match (addr(&x), addr(&y)) {
                            (Ok(a), Ok(b)) => text(d.release_range(&a, &b)),
                            (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
                        };
                        (rt, rd)
                    }
                    _ => {
                        let rt = text(match o {
                            Some(o) => t.owned_by(o).reserve_range(x, y),
                            None => t.reserve_range(x, y),
                        });
                        let rd = match (addr(&x), addr(&y)) {
                            (Ok(a), Ok(b)) => text(match o {
                                Some(o) => d.owned_by(o).reserve_range(&a, &b),
                                None => d.reserve_range(&a, &b),
                            }),
                            (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
                        };
                        (rt, rd)
                    }
                };
                let whole = !pts.is_empty()
                    && m.at.get(&x).is_some_and(|id| {
                        m.res[id].0.iter().copied().eq(pts.iter().copied())
                    });
                match op {
                    5 => {
                        assert_eq!(rt.is_ok(), ok_box && whole, "release_block {x}..={y}: {rt:?}");
                        if rt.is_ok() {
                            let id = m.at[&x];
                            m.drop_res(id);
                        }
                    }
                    6 => {
                        let all_reserved = pts.iter().all(|p| m.at.contains_key(p));
                        assert_eq!(rt.is_ok(), ok_box && all_reserved, "release_range {x}..={y}: {rt:?}");
                        if rt.is_ok() {
                            assert_eq!(rt.as_deref(), Ok(pts.len().to_string().as_str()));
                            let cut: BTreeSet<u32> = pts.iter().map(|p| m.at[p]).collect();
                            for id in cut {
                                let (mut rest, ow) = m.res.remove(&id).unwrap();
                                for p in &rest {
                                    m.at.remove(p);
                                }
                                rest.retain(|p| !pts.contains(p));
                                for run in runs(&rest) {
                                    m.take(run, ow);
                                }
                            }
                        }
                    }
                    _ => {
                        let ok = ok_box && pts.iter().all(|p| m.free(p));
                        assert_eq!(rt.is_ok(), ok, "reserve_range {x}..={y}: {rt:?}");
                        if ok {
                            m.take(pts, o);
                        }
                    }
                }
                (rt, rd)
            }
            7 => {
                let who = o.unwrap_or("nobody");
                let rt = text(Ok::<Count, String>(t.release_owner(who)));
                let rd = text(Ok::<Count, String>(d.release_owner(who)));
                let ids: Vec<u32> = m
                    .res
                    .iter()
                    .filter(|(_, r)| r.1 == Some(who))
                    .map(|(id, _)| *id)
                    .collect();
                let n: usize = ids.into_iter().map(|id| m.drop_res(id)).sum();
                assert_eq!(rt, Ok(n.to_string()));
                (rt, rd)
            }
            _ if m.cursors.contains_key(&Some(RANGES)) => {
                // Known runtime bug (tests/fronts.rs,
                // `snapshot_keeps_the_cursor_of_an_explicit_full_pattern`): a snapshot
                // loses the cursor of an explicit full-range pattern. No restore then.
                (Ok(String::new()), Ok(String::new()))
            }
            _ => {
                let (ts, ds) = (t.snapshot(), d.snapshot());
                t = Allocator::<A3>::restore(&ds).expect("a snapshot of the dynamic front restores");
                d = DynAllocator::restore(ty.clone(), &ts).expect("a typed snapshot restores");
                (Ok(String::new()), Ok(String::new()))
            }
        };
        assert_eq!(rt, rd, "op {op}: typed and dynamic fronts disagree");
        if rt.is_err() {
            assert_eq!(t.snapshot(), tb, "a failed operation changed the typed allocator");
            assert_eq!(d.snapshot(), db, "a failed operation changed the dynamic allocator");
        }
        // Every address: reserved, owner and reservation as the model says, on both.
        for p in all() {
            let want = m.reservation(&p).map(|(f, l, o)| (f.to_string(), l.to_string(), o));
            let gt = t.reservation(p).map(|(f, l, o)| (f.to_string(), l.to_string(), o));
            let dp = p.to_string();
            let gd = d
                .reservation(dp.as_str())
                .map(|(f, l, o)| (f.to_string(), l.to_string(), o));
            assert_eq!(gt, want, "reservation({p})");
            assert_eq!(gd, want, "dyn reservation({p})");
            assert_eq!(t.is_reserved(p), m.at.contains_key(&p));
            assert_eq!(d.is_reserved(dp.as_str()), m.at.contains_key(&p));
        }
        assert_eq!(t.reserved_count(), Count::from(m.at.len() as u128));
        assert_eq!(d.reserved_count(), Count::from(m.at.len() as u128));
        assert_eq!(t.snapshot(), d.snapshot(), "the fronts' snapshots differ");
    }
});
